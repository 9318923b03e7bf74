//! The root of trust: a versioned `root.json`, signed by a threshold of offline root keys, that
//! delegates bundle signing to online bundle keys, each with an epoch and an expiry.
//!
//! An agent pins root version 1 (installed with the agent) and moves to version N+1 only when
//! N+1 is signed by a threshold of version N's root keys **and** a threshold of its own, one
//! version at a time ([`Root::update`]). Bundles are then checked against the newest root's
//! bundle keys ([`Root::bundle_keys`], [`crate::verify_bundle`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::VerifyingKey;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::dsse::{BundleKey, BundleKeys, check_size, open, parse_time, signers};
use crate::{VerifyError, key_id, one_line};

/// DSSE `payloadType` of a root document. Distinct from the bundle's, so neither signature can
/// stand in for the other.
pub const ROOT_PAYLOAD_TYPE: &str = "application/vnd.mmc.root+json";
/// Version of the root document schema.
pub const ROOT_FORMAT: u32 = 1;
/// Largest root envelope accepted, in bytes.
pub const MAX_ROOT_BYTES: u64 = 64 * 1024;
/// Most keys of either kind in one root.
pub const MAX_ROOT_KEYS: usize = 64;

/// The signed payload of a root envelope.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Root {
    /// Always [`ROOT_FORMAT`].
    pub format: u32,
    /// 1 for the first root; each rotation adds exactly 1.
    pub version: u64,
    /// RFC 3339 UTC with seconds; after it the root (and every bundle under it) is refused.
    pub expires: String,
    /// The offline keys that sign roots.
    pub root_keys: Vec<RootKey>,
    /// How many distinct root keys must sign a root.
    pub root_threshold: usize,
    /// The online keys that sign bundles.
    pub bundle_keys: Vec<DelegatedKey>,
    /// How many distinct bundle keys must sign a bundle.
    pub bundle_threshold: usize,
}

/// A root key: its id and its raw 32-byte public key, base64.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RootKey {
    pub keyid: String,
    pub public_key: String,
}

/// A bundle key the root delegates to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DelegatedKey {
    pub keyid: String,
    pub public_key: String,
    /// Rollback floors are kept per epoch. A new key gets a higher epoch than every key before
    /// it, which lets the fleet recover from a compromised key that signed a huge version.
    pub epoch: u64,
    /// RFC 3339 UTC with seconds; bundles signed by this key are refused from then on.
    pub expires: String,
}

/// Why a root could not be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootError {
    #[error("{0}")]
    Envelope(VerifyError),
    #[error("root is malformed: {0}")]
    Malformed(String),
    #[error("root format {found} is not supported (this agent understands format {ROOT_FORMAT})")]
    UnsupportedFormat { found: u32 },
    #[error("root version {found} does not follow version {trusted} (expected {})", .trusted + 1)]
    NotNextVersion { trusted: u64, found: u64 },
    #[error("root version {version} lacks the signatures of {which}: {source}")]
    Threshold {
        version: u64,
        which: &'static str,
        source: VerifyError,
    },
    #[error("root version {version} expired at {expires} (now {now})")]
    Expired {
        version: u64,
        expires: String,
        now: String,
    },
}

impl From<VerifyError> for RootError {
    fn from(e: VerifyError) -> Self {
        RootError::Envelope(e)
    }
}

/// A root whose signatures were checked, with the exact bytes it was read from (kept as received,
/// never re-serialized).
#[derive(Clone, Debug)]
pub struct TrustedRoot {
    pub root: Root,
    pub bytes: Vec<u8>,
    root_keys: Vec<VerifyingKey>,
    bundle_keys: BundleKeys,
}

impl TrustedRoot {
    /// Loads a root the caller trusts by installation (the pinned version 1, or the newest root
    /// this agent stored after verifying it): well-formed, and signed by a threshold of its own
    /// root keys. Expiry is not checked here; see [`TrustedRoot::check_expiry`].
    pub fn pinned(bytes: &[u8]) -> Result<TrustedRoot, RootError> {
        let (root, root_keys, bundle_keys) = parse(bytes)?;
        check_signed(bytes, &root, &root_keys, "its own keys")?;
        Ok(TrustedRoot {
            root,
            bytes: bytes.to_vec(),
            root_keys,
            bundle_keys,
        })
    }

    /// Verifies the next root: version exactly one more, signed by a threshold of this root's
    /// keys and by a threshold of its own. Expiry is checked on the last root of a walk only.
    pub fn update(&self, bytes: &[u8]) -> Result<TrustedRoot, RootError> {
        check_size("root", bytes.len(), MAX_ROOT_BYTES)?;
        // The old keys vouch for the payload before anything in it is believed.
        let (envelope, payload) = open(bytes, ROOT_PAYLOAD_TYPE)?;
        let old: Vec<(String, &VerifyingKey)> =
            self.root_keys.iter().map(|k| (key_id(k), k)).collect();
        let claimed = peek_version(&payload);
        signers(&envelope, &payload, &old, self.root.root_threshold).map_err(|source| {
            RootError::Threshold {
                version: claimed,
                which: "the trusted root's keys",
                source,
            }
        })?;
        // Then it must stand on its own: well-formed and signed by its own threshold.
        let next = TrustedRoot::pinned(bytes)?;
        if next.root.version != self.root.version + 1 {
            return Err(RootError::NotNextVersion {
                trusted: self.root.version,
                found: next.root.version,
            });
        }
        Ok(next)
    }

    /// An error once `now` is at or after the root's expiry.
    pub fn check_expiry(&self, now: Timestamp) -> Result<(), RootError> {
        let expires = parse_time("expires", &self.root.expires)?;
        if now >= expires {
            return Err(RootError::Expired {
                version: self.root.version,
                expires: self.root.expires.clone(),
                now: Timestamp::from_second(now.as_second())
                    .unwrap_or(now)
                    .to_string(),
            });
        }
        Ok(())
    }

    /// The keys that may sign bundles under this root, with their epochs and expiries.
    pub fn bundle_keys(&self) -> &BundleKeys {
        &self.bundle_keys
    }

    /// The root keys' public halves.
    pub fn root_keys(&self) -> &[VerifyingKey] {
        &self.root_keys
    }
}

/// The version a payload claims, for messages only (0 if unreadable).
fn peek_version(payload: &[u8]) -> u64 {
    #[derive(Deserialize)]
    struct Head {
        version: u64,
    }
    serde_json::from_slice::<Head>(payload).map_or(0, |h| h.version)
}

fn check_signed(
    bytes: &[u8],
    root: &Root,
    root_keys: &[VerifyingKey],
    which: &'static str,
) -> Result<(), RootError> {
    let (envelope, payload) = open(bytes, ROOT_PAYLOAD_TYPE)?;
    let own: Vec<(String, &VerifyingKey)> = root_keys.iter().map(|k| (key_id(k), k)).collect();
    signers(&envelope, &payload, &own, root.root_threshold).map_err(|source| {
        RootError::Threshold {
            version: root.version,
            which,
            source,
        }
    })?;
    Ok(())
}

/// Parses and checks a root envelope's payload (not its signatures).
#[allow(clippy::type_complexity)]
fn parse(bytes: &[u8]) -> Result<(Root, Vec<VerifyingKey>, BundleKeys), RootError> {
    check_size("root", bytes.len(), MAX_ROOT_BYTES)?;
    let (_, payload) = open(bytes, ROOT_PAYLOAD_TYPE)?;
    let root: Root = serde_json::from_slice(&payload)
        .map_err(|e| RootError::Malformed(one_line(&e.to_string())))?;
    let (root_keys, bundle_keys) = root.check()?;
    Ok((root, root_keys, bundle_keys))
}

impl Root {
    /// Checks everything a root must satisfy on its own and returns its keys: format, version
    /// at least 1, canonical times, at most [`MAX_ROOT_KEYS`] keys of each kind, key ids that
    /// match their keys, no weak key, no key listed twice or in both roles, and thresholds
    /// between 1 and the number of keys.
    pub fn check(&self) -> Result<(Vec<VerifyingKey>, BundleKeys), RootError> {
        let bad = |m: String| RootError::Malformed(m);
        if self.format != ROOT_FORMAT {
            return Err(RootError::UnsupportedFormat { found: self.format });
        }
        if self.version == 0 {
            return Err(bad("version must be at least 1".into()));
        }
        parse_time("expires", &self.expires)?;
        if self.root_keys.len() > MAX_ROOT_KEYS || self.bundle_keys.len() > MAX_ROOT_KEYS {
            return Err(bad(format!("more than {MAX_ROOT_KEYS} keys of one kind")));
        }
        let mut seen: Vec<String> = Vec::new();
        let mut root_keys = Vec::new();
        for k in &self.root_keys {
            root_keys.push(decode_key(&k.keyid, &k.public_key, &mut seen)?);
        }
        let mut bundle_keys = Vec::new();
        for k in &self.bundle_keys {
            bundle_keys.push(BundleKey {
                key: decode_key(&k.keyid, &k.public_key, &mut seen)?,
                epoch: k.epoch,
                expires: Some(parse_time("expires", &k.expires)?),
            });
        }
        for (what, threshold, count) in [
            ("root_threshold", self.root_threshold, root_keys.len()),
            ("bundle_threshold", self.bundle_threshold, bundle_keys.len()),
        ] {
            if threshold == 0 || threshold > count {
                return Err(bad(format!(
                    "{what} is {threshold}, but must be between 1 and the number of keys ({count})"
                )));
            }
        }
        Ok((
            root_keys,
            BundleKeys {
                keys: bundle_keys,
                threshold: self.bundle_threshold,
            },
        ))
    }
}

fn decode_key(keyid: &str, text: &str, seen: &mut Vec<String>) -> Result<VerifyingKey, RootError> {
    let bad = |m: String| RootError::Malformed(m);
    let bytes = BASE64
        .decode(text)
        .map_err(|_| bad(format!("key {}: public_key is not base64", one_line(keyid))))?;
    let raw: [u8; 32] = bytes.try_into().map_err(|_| {
        bad(format!(
            "key {}: public_key is not 32 bytes",
            one_line(keyid)
        ))
    })?;
    let key = VerifyingKey::from_bytes(&raw).map_err(|_| {
        bad(format!(
            "key {}: not an ed25519 public key",
            one_line(keyid)
        ))
    })?;
    let id = key_id(&key);
    if key.is_weak() {
        return Err(bad(format!(
            "key {id} is a weak (small-order) ed25519 key and cannot be trusted"
        )));
    }
    if id != keyid {
        return Err(bad(format!(
            "keyid {} does not match its key (whose id is {id})",
            one_line(keyid)
        )));
    }
    if seen.contains(&id) {
        return Err(bad(format!(
            "key {id} is listed twice (a key is a root key or a bundle key, once)"
        )));
    }
    seen.push(id);
    Ok(key)
}

/// The entry for `key` in a root's key lists.
pub fn root_key(key: &VerifyingKey) -> RootKey {
    RootKey {
        keyid: key_id(key),
        public_key: BASE64.encode(key.as_bytes()),
    }
}

/// The entry delegating bundle signing to `key`.
pub fn delegated_key(key: &VerifyingKey, epoch: u64, expires: &str) -> DelegatedKey {
    DelegatedKey {
        keyid: key_id(key),
        public_key: BASE64.encode(key.as_bytes()),
        epoch,
        expires: expires.to_owned(),
    }
}

/// An envelope holding `root` with no signatures yet; [`add_signature`] adds them one holder
/// at a time.
#[cfg(feature = "sign")]
pub fn unsigned_root(root: &Root) -> Vec<u8> {
    let payload = serde_json::to_vec(root).expect("a Root always serializes");
    crate::dsse::envelope_with(ROOT_PAYLOAD_TYPE, &payload, Vec::new())
}

/// Adds `key`'s signature to a root envelope (replacing an earlier one by the same key). The
/// payload is not re-serialized. Refuses anything but a well-formed root envelope.
#[cfg(feature = "sign")]
pub fn add_signature(
    envelope: &[u8],
    key: &ed25519_dalek::SigningKey,
) -> Result<Vec<u8>, RootError> {
    use ed25519_dalek::Signer as _;
    let (envelope, payload) = crate::dsse::open_unsigned(envelope, ROOT_PAYLOAD_TYPE)?;
    let root: Root = serde_json::from_slice(&payload)
        .map_err(|e| RootError::Malformed(one_line(&e.to_string())))?;
    root.check()?;
    let id = key_id(&key.verifying_key());
    let mut signatures: Vec<crate::dsse::EnvelopeSignature> = envelope
        .signatures
        .into_iter()
        .filter(|s| s.keyid != id)
        .collect();
    let signature = key.sign(&crate::pae(ROOT_PAYLOAD_TYPE, &payload));
    signatures.push(crate::dsse::EnvelopeSignature {
        keyid: id,
        sig: BASE64.encode(signature.to_bytes()),
    });
    signatures.sort_by(|a, b| a.keyid.cmp(&b.keyid));
    Ok(crate::dsse::envelope_with(
        ROOT_PAYLOAD_TYPE,
        &payload,
        signatures,
    ))
}

/// Reads a root envelope's payload without checking any signature: for tools that show or
/// extend a root the operator holds (never for trust decisions).
pub fn read_unverified(envelope: &[u8]) -> Result<Root, RootError> {
    check_size("root", envelope.len(), MAX_ROOT_BYTES)?;
    let (_, payload) = crate::dsse::open_unsigned(envelope, ROOT_PAYLOAD_TYPE)?;
    let root: Root = serde_json::from_slice(&payload)
        .map_err(|e| RootError::Malformed(one_line(&e.to_string())))?;
    root.check()?;
    Ok(root)
}

/// Key ids that signed a root envelope (whether or not the signatures verify), for `mmc root`.
pub fn signature_key_ids(envelope: &[u8]) -> Vec<String> {
    serde_json::from_slice::<crate::dsse::Envelope>(envelope)
        .map(|e| e.signatures.into_iter().map(|s| s.keyid).collect())
        .unwrap_or_default()
}
