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
struct Envelope {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeSignature {
    keyid: String,
    sig: String,
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
    #[error("signature envelope has payload type {found:?}, expected {BUNDLE_PAYLOAD_TYPE:?}")]
    WrongPayloadType { found: String },
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
    #[error("statement names key {statement} but was signed by key {signer}")]
    KeyIdMismatch { statement: String, signer: String },
    #[error(
        "archive length does not match the signed statement (signed {signed} bytes, got {actual})"
    )]
    LengthMismatch { signed: u64, actual: u64 },
    #[error("archive SHA-256 does not match the signed statement (signed {signed}, got {actual})")]
    HashMismatch { signed: String, actual: String },
    #[error(
        "statement field {field} is {value:?}, expected RFC 3339 UTC with seconds, like 2026-11-21T05:31:00Z"
    )]
    BadTime { field: &'static str, value: String },
    #[error("bundle is not valid before {created} (now {now}); check the clock")]
    NotYetValid { created: String, now: String },
    #[error("bundle expired at {expires} (now {now})")]
    Expired { expires: String, now: String },
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
    let envelope = Envelope {
        payload_type: payload_type.to_owned(),
        payload: BASE64.encode(payload),
        signatures: vec![EnvelopeSignature {
            keyid: key_id(&key.verifying_key()),
            sig: BASE64.encode(signature.to_bytes()),
        }],
    };
    let mut out = serde_json::to_vec_pretty(&envelope).expect("an envelope always serializes");
    out.push(b'\n');
    out
}

/// Verifies a bundle's envelope and archive bytes against the trusted keys at time `now`, before
/// anything is decompressed. Returns the signed statement. The checks, in order:
/// size caps; strict envelope JSON; payload type; a signature by a trusted key that passes
/// `verify_strict` over the PAE; only then the statement is parsed; format version; the
/// statement's key id is the signer's; archive length and SHA-256; `created <= now < expires`.
pub fn verify(
    envelope: &[u8],
    archive: &[u8],
    trusted: &[VerifyingKey],
    now: Timestamp,
) -> Result<Statement, VerifyError> {
    check_size("signature envelope", envelope.len(), MAX_ENVELOPE_BYTES)?;
    check_size("archive", archive.len(), MAX_ARCHIVE_BYTES)?;

    let envelope: Envelope = serde_json::from_slice(envelope)
        .map_err(|e| VerifyError::MalformedEnvelope(one_line(&e.to_string())))?;
    if envelope.payload_type != BUNDLE_PAYLOAD_TYPE {
        return Err(VerifyError::WrongPayloadType {
            found: one_line(&envelope.payload_type),
        });
    }
    let payload = BASE64.decode(&envelope.payload).map_err(|e| {
        VerifyError::MalformedEnvelope(format!("payload is not standard base64: {e}"))
    })?;
    if envelope.signatures.is_empty() {
        return Err(VerifyError::NoSignatures);
    }

    let trusted: Vec<(String, &VerifyingKey)> = trusted.iter().map(|k| (key_id(k), k)).collect();
    let message = pae(&envelope.payload_type, &payload);
    let mut signer = None;
    let mut failed = None;
    for signature in &envelope.signatures {
        let Some((id, key)) = trusted.iter().find(|(id, _)| *id == signature.keyid) else {
            continue;
        };
        let valid = BASE64
            .decode(&signature.sig)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .is_some_and(|sig| key.verify_strict(&message, &sig).is_ok());
        if valid {
            signer = Some(id.clone());
            break;
        }
        failed.get_or_insert_with(|| id.clone());
    }
    let signer = match (signer, failed) {
        (Some(id), _) => id,
        (None, Some(key_id)) => return Err(VerifyError::BadSignature { key_id }),
        (None, None) => {
            return Err(VerifyError::UnknownKey {
                found: envelope
                    .signatures
                    .iter()
                    .map(|s| shown_key_id(&s.keyid))
                    .collect(),
                trusted: trusted.into_iter().map(|(id, _)| id).collect(),
            });
        }
    };

    // The payload is authentic; parse it now, once.
    let statement: Statement = serde_json::from_slice(&payload)
        .map_err(|e| VerifyError::MalformedStatement(one_line(&e.to_string())))?;
    if statement.format != FORMAT_VERSION {
        return Err(VerifyError::UnsupportedFormat {
            found: statement.format,
            supported: FORMAT_VERSION,
        });
    }
    if statement.key_id != signer {
        return Err(VerifyError::KeyIdMismatch {
            statement: statement.key_id,
            signer,
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
    Ok(statement)
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

fn check_size(what: &'static str, len: usize, limit: u64) -> Result<(), VerifyError> {
    let size = len as u64;
    if size > limit {
        return Err(VerifyError::TooLarge { what, size, limit });
    }
    Ok(())
}

/// Accepts only the canonical form `YYYY-MM-DDTHH:MM:SSZ`.
fn parse_time(field: &'static str, value: &str) -> Result<Timestamp, VerifyError> {
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
