//! The DSSE envelope around a [`Statement`]: signing and verification.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, VerifyingKey};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{
    BUNDLE_PAYLOAD_TYPE, FORMAT_VERSION, MAX_ARCHIVE_BYTES, MAX_ENVELOPE_BYTES, Statement,
    is_sha256_hex, key_id, one_line, sha256_hex,
};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Envelope {
    #[serde(rename = "payloadType")]
    pub(crate) payload_type: String,
    pub(crate) payload: String,
    pub(crate) signatures: Vec<EnvelopeSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnvelopeSignature {
    pub(crate) keyid: String,
    pub(crate) sig: String,
}

/// Why a bundle failed verification. Every variant reads as one line an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("{what} is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        what: &'static str,
        size: u64,
        limit: u64,
    },
    #[error("signature envelope is malformed: {0}")]
    MalformedEnvelope(String),
    #[error("signature envelope has payload type {found:?}, expected {expected:?}")]
    WrongPayloadType {
        found: String,
        expected: &'static str,
    },
    #[error("signature envelope carries no signatures")]
    NoSignatures,
    #[error("signed by unknown key {} (trusted: {})", list(.found), list(.trusted))]
    UnknownKey {
        found: Vec<String>,
        trusted: Vec<String>,
    },
    #[error(
        "signature by trusted key {key_id} is invalid (the statement was altered or not signed by this key)"
    )]
    BadSignature { key_id: String },
    #[error("signed statement is malformed: {0}")]
    MalformedStatement(String),
    #[error("bundle format {found} is not supported (this agent understands format {supported})")]
    UnsupportedFormat { found: u32, supported: u32 },
    #[error("statement names key {statement} but was signed by key(s) {signer}")]
    KeyIdMismatch { statement: String, signer: String },
    #[error(
        "archive length does not match the signed statement (signed {signed} bytes, got {actual})"
    )]
    LengthMismatch { signed: u64, actual: u64 },
    #[error("archive SHA-256 does not match the signed statement (signed {signed}, got {actual})")]
    HashMismatch { signed: String, actual: String },
    #[error(
        "signed field {field} is {value:?}, expected RFC 3339 UTC with seconds, like 2026-11-21T05:31:00Z"
    )]
    BadTime { field: &'static str, value: String },
    #[error("bundle is not valid before {created} (now {now}); check the clock")]
    NotYetValid { created: String, now: String },
    #[error("bundle expired at {expires} (now {now})")]
    Expired { expires: String, now: String },
    #[error(
        "signed by {} distinct trusted key(s) ({}), but {needed} are required",
        .valid.len(),
        .valid.join(", ")
    )]
    ThresholdNotMet { needed: usize, valid: Vec<String> },
    #[error(
        "signing key {key_id} expired at {expires} (now {now}); the root must delegate a new one"
    )]
    KeyExpired {
        key_id: String,
        expires: String,
        now: String,
    },
}

fn list(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".to_owned()
    } else {
        ids.join(", ")
    }
}

/// DSSE pre-authentication encoding: `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths
/// as ASCII decimal byte counts. This is the exact byte string that gets signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Signs `statement` and returns the DSSE envelope as JSON (pretty-printed, fixed field order,
/// trailing newline). The caller sets `statement.key_id` to [`key_id`] of `key`'s public half;
/// [`verify`] refuses a statement that names another key.
#[cfg(feature = "sign")]
pub fn sign(statement: &Statement, key: &ed25519_dalek::SigningKey) -> Vec<u8> {
    let payload = serde_json::to_vec(statement).expect("a Statement always serializes");
    sign_envelope(BUNDLE_PAYLOAD_TYPE, &payload, key)
}

#[cfg(feature = "sign")]
pub(crate) fn sign_envelope(
    payload_type: &str,
    payload: &[u8],
    key: &ed25519_dalek::SigningKey,
) -> Vec<u8> {
    use ed25519_dalek::Signer as _;
    let signature = key.sign(&pae(payload_type, payload));
    envelope_with(
        payload_type,
        payload,
        vec![EnvelopeSignature {
            keyid: key_id(&key.verifying_key()),
            sig: BASE64.encode(signature.to_bytes()),
        }],
    )
}

/// An envelope as mmc writes it: pretty-printed, fixed member order, trailing newline.
#[cfg(feature = "sign")]
pub(crate) fn envelope_with(
    payload_type: &str,
    payload: &[u8],
    signatures: Vec<EnvelopeSignature>,
) -> Vec<u8> {
    let envelope = Envelope {
        payload_type: payload_type.to_owned(),
        payload: BASE64.encode(payload),
        signatures,
    };
    let mut out = serde_json::to_vec_pretty(&envelope).expect("an envelope always serializes");
    out.push(b'\n');
    out
}

/// Verifies a bundle's envelope and archive bytes against plain trusted keys (any one of them
/// suffices; no key epochs or expiries) at time `now`. See [`verify_bundle`] for the checks.
pub fn verify(
    envelope: &[u8],
    archive: &[u8],
    trusted: &[VerifyingKey],
    now: Timestamp,
) -> Result<Statement, VerifyError> {
    verify_bundle(envelope, archive, &BundleKeys::any_of(trusted), now).map(|v| v.statement)
}

/// Keys trusted to sign bundles, and how many distinct ones must sign each bundle.
#[derive(Clone, Debug)]
pub struct BundleKeys {
    pub keys: Vec<BundleKey>,
    /// At least 1.
    pub threshold: usize,
}

/// One key trusted to sign bundles.
#[derive(Clone, Debug)]
pub struct BundleKey {
    pub key: VerifyingKey,
    /// The key epoch: rollback floors are kept per epoch (see `root.rs`).
    pub epoch: u64,
    /// The key signs nothing valid at or after this moment.
    pub expires: Option<Timestamp>,
}

impl BundleKeys {
    /// Each key alone suffices; epoch 0, no expiry (agent.json `trust` without a root).
    pub fn any_of(keys: &[VerifyingKey]) -> BundleKeys {
        BundleKeys {
            keys: keys
                .iter()
                .map(|k| BundleKey {
                    key: *k,
                    epoch: 0,
                    expires: None,
                })
                .collect(),
            threshold: 1,
        }
    }
}

/// A bundle statement that passed [`verify_bundle`], with the epoch of the key it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub statement: Statement,
    pub epoch: u64,
}

/// Verifies a bundle's envelope and archive bytes against the trusted bundle keys at time `now`,
/// before anything is decompressed. The checks, in order: size caps; strict envelope JSON; payload
/// type; signatures by at least `threshold` distinct trusted keys, each passing `verify_strict`
/// over the PAE (a key id listed twice counts once); only then the statement is parsed; format
/// version; the statement's key id is one of the signers; archive length and SHA-256;
/// `created <= now < expires`; the named key has not expired.
pub fn verify_bundle(
    envelope: &[u8],
    archive: &[u8],
    keys: &BundleKeys,
    now: Timestamp,
) -> Result<Verified, VerifyError> {
    verify_inner(envelope, archive, keys, Some(now))
}

/// [`verify_bundle`] without any check of time (the statement's window, key expiries): for
/// telling why a bundle that failed only on time would otherwise be refused (its audience, the
/// rollback floor). Never a reason to apply a bundle.
pub fn verify_bundle_untimed(
    envelope: &[u8],
    archive: &[u8],
    keys: &BundleKeys,
) -> Result<Verified, VerifyError> {
    verify_inner(envelope, archive, keys, None)
}

fn verify_inner(
    envelope: &[u8],
    archive: &[u8],
    keys: &BundleKeys,
    now: Option<Timestamp>,
) -> Result<Verified, VerifyError> {
    check_size("signature envelope", envelope.len(), MAX_ENVELOPE_BYTES)?;
    check_size("archive", archive.len(), MAX_ARCHIVE_BYTES)?;

    let (envelope, payload) = open(envelope, BUNDLE_PAYLOAD_TYPE)?;
    let trusted: Vec<(String, &VerifyingKey)> =
        keys.keys.iter().map(|k| (key_id(&k.key), &k.key)).collect();
    let signers = signers(&envelope, &payload, &trusted, keys.threshold)?;

    // The payload is authentic; parse it now, once.
    let statement: Statement = serde_json::from_slice(&payload)
        .map_err(|e| VerifyError::MalformedStatement(one_line(&e.to_string())))?;
    if statement.format != FORMAT_VERSION {
        return Err(VerifyError::UnsupportedFormat {
            found: statement.format,
            supported: FORMAT_VERSION,
        });
    }
    if !signers.contains(&statement.key_id) {
        return Err(VerifyError::KeyIdMismatch {
            statement: statement.key_id,
            signer: signers.join(", "),
        });
    }
    if statement.archive.length != archive.len() as u64 {
        return Err(VerifyError::LengthMismatch {
            signed: statement.archive.length,
            actual: archive.len() as u64,
        });
    }
    let actual = sha256_hex(archive);
    if statement.archive.sha256 != actual {
        return Err(VerifyError::HashMismatch {
            signed: statement.archive.sha256,
            actual,
        });
    }

    let created = parse_time("created", &statement.created)?;
    let expires = parse_time("expires", &statement.expires)?;
    let named = keys
        .keys
        .iter()
        .find(|k| key_id(&k.key) == statement.key_id)
        .expect("the named key is one of the signers, which are trusted keys");
    let Some(now) = now else {
        return Ok(Verified {
            epoch: named.epoch,
            statement,
        });
    };
    let now_text = Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string();
    if now < created {
        return Err(VerifyError::NotYetValid {
            created: statement.created,
            now: now_text,
        });
    }
    if now >= expires {
        return Err(VerifyError::Expired {
            expires: statement.expires,
            now: now_text,
        });
    }
    // Every key counted toward the threshold must still be valid, the named one above all: an
    // expired key's signature counts for nothing.
    let expired = |id: &String| {
        keys.keys
            .iter()
            .any(|k| key_id(&k.key) == *id && k.expires.is_some_and(|at| now >= at))
    };
    let valid_now = signers.iter().filter(|id| !expired(id)).count();
    if expired(&statement.key_id) || valid_now < keys.threshold.max(1) {
        let id = if expired(&statement.key_id) {
            statement.key_id.clone()
        } else {
            signers
                .iter()
                .find(|id| expired(id))
                .cloned()
                .unwrap_or_default()
        };
        let at = keys
            .keys
            .iter()
            .find(|k| key_id(&k.key) == id)
            .and_then(|k| k.expires)
            .map(|t| t.to_string())
            .unwrap_or_default();
        return Err(VerifyError::KeyExpired {
            key_id: id,
            expires: at,
            now: now_text,
        });
    }
    Ok(Verified {
        epoch: named.epoch,
        statement,
    })
}

/// Parses an envelope strictly, checks its payload type, decodes the payload and requires at
/// least one signature. Nothing in the payload is interpreted.
pub(crate) fn open(
    envelope: &[u8],
    payload_type: &'static str,
) -> Result<(Envelope, Vec<u8>), VerifyError> {
    let (envelope, payload) = open_unsigned(envelope, payload_type)?;
    if envelope.signatures.is_empty() {
        return Err(VerifyError::NoSignatures);
    }
    Ok((envelope, payload))
}

/// [`open`] without the signature count: for tools that add signatures.
pub(crate) fn open_unsigned(
    envelope: &[u8],
    payload_type: &'static str,
) -> Result<(Envelope, Vec<u8>), VerifyError> {
    let envelope: Envelope = serde_json::from_slice(envelope)
        .map_err(|e| VerifyError::MalformedEnvelope(one_line(&e.to_string())))?;
    if envelope.payload_type != payload_type {
        return Err(VerifyError::WrongPayloadType {
            found: one_line(&envelope.payload_type),
            expected: payload_type,
        });
    }
    let payload = BASE64.decode(&envelope.payload).map_err(|e| {
        VerifyError::MalformedEnvelope(format!("payload is not standard base64: {e}"))
    })?;
    Ok((envelope, payload))
}

/// The distinct trusted keys whose signatures verify strictly over the PAE, in envelope order;
/// an error unless there are at least `threshold` of them. A key id that appears several times
/// counts once, whatever its signatures.
pub(crate) fn signers(
    envelope: &Envelope,
    payload: &[u8],
    trusted: &[(String, &VerifyingKey)],
    threshold: usize,
) -> Result<Vec<String>, VerifyError> {
    let message = pae(&envelope.payload_type, payload);
    let mut valid: Vec<String> = Vec::new();
    let mut failed = None;
    for signature in &envelope.signatures {
        let Some((id, key)) = trusted.iter().find(|(id, _)| *id == signature.keyid) else {
            continue;
        };
        if valid.contains(id) {
            continue;
        }
        let ok = BASE64
            .decode(&signature.sig)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .is_some_and(|sig| key.verify_strict(&message, &sig).is_ok());
        if ok {
            valid.push(id.clone());
        } else {
            failed.get_or_insert_with(|| id.clone());
        }
    }
    if valid.len() >= threshold.max(1) {
        return Ok(valid);
    }
    Err(match (valid.is_empty(), failed) {
        (true, Some(key_id)) => VerifyError::BadSignature { key_id },
        (true, None) => VerifyError::UnknownKey {
            found: envelope
                .signatures
                .iter()
                .map(|s| shown_key_id(&s.keyid))
                .collect(),
            trusted: trusted.iter().map(|(id, _)| id.clone()).collect(),
        },
        (false, _) => VerifyError::ThresholdNotMet {
            needed: threshold,
            valid,
        },
    })
}

/// A key id from the envelope as shown in messages: well-formed ids as they are, anything else
/// quoted and shortened.
fn shown_key_id(id: &str) -> String {
    if is_sha256_hex(id) {
        id.to_owned()
    } else {
        format!("{:?}", one_line(id))
    }
}

pub(crate) fn check_size(what: &'static str, len: usize, limit: u64) -> Result<(), VerifyError> {
    let size = len as u64;
    if size > limit {
        return Err(VerifyError::TooLarge { what, size, limit });
    }
    Ok(())
}

/// Accepts only the canonical form `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn parse_time(field: &'static str, value: &str) -> Result<Timestamp, VerifyError> {
    let bad = || VerifyError::BadTime {
        field,
        value: one_line(value),
    };
    let ts: Timestamp = value.parse().map_err(|_| bad())?;
    if ts.subsec_nanosecond() != 0 || ts.to_string() != value {
        return Err(bad());
    }
    Ok(ts)
}
