//! The mmc bundle: the one versioned wire format between the compiler and `mmc-agent`.
//!
//! A bundle is two files:
//! * a deterministic `.tar.gz` whose first entry, `index.json`, lists every other file with its
//!   size and SHA-256 ([`Index`]);
//! * a DSSE envelope (`.sig`) whose signed payload is a [`Statement`] binding the bundle's name,
//!   audience, version, validity window, signing key and the archive's exact length and SHA-256.
//!
//! The reading side ([`verify`], [`extract`], public-key parsing) is always compiled. The writing
//! side (`write_archive`, `sign`, private-key handling) sits behind the `sign` feature so the
//! agent never links it. `docs/bundle-format.md` in the repository specifies the format.

use serde::{Deserialize, Serialize};

mod dsse;
mod extract;
mod keys;
mod paths;
mod root;
#[cfg(feature = "sign")]
mod write;

#[cfg(feature = "sign")]
pub use dsse::sign;
pub use dsse::{
    BundleKey, BundleKeys, Verified, VerifyError, pae, verify, verify_bundle, verify_bundle_untimed,
};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
pub use extract::{ExtractError, Extracted, extract};
pub use keys::{KeyError, key_id, parse_public_key, public_key_to_pem};
#[cfg(feature = "sign")]
pub use keys::{parse_signing_key, signing_key_to_pem};
pub use paths::{Clash, PathProblem};
pub use root::{
    DelegatedKey, MAX_ROOT_BYTES, ROOT_FORMAT, ROOT_PAYLOAD_TYPE, Root, RootError, RootKey,
    TrustedRoot, delegated_key, read_unverified, root_key, signature_key_ids,
};
#[cfg(feature = "sign")]
pub use root::{add_signature, unsigned_root};
#[cfg(feature = "sign")]
pub use write::{WriteError, write_archive};

/// Version of the statement and index schemas. A verifier refuses any other value.
pub const FORMAT_VERSION: u32 = 1;
/// DSSE `payloadType` of a bundle statement. It is part of the signed bytes (PAE), so a
/// signature made for any other type can never pass as a bundle signature.
pub const BUNDLE_PAYLOAD_TYPE: &str = "application/vnd.mmc.bundle+json";
/// Path of the index inside the archive; always the first entry.
pub const INDEX_PATH: &str = "index.json";

/// Largest signature envelope accepted, in bytes.
pub const MAX_ENVELOPE_BYTES: u64 = 64 * 1024;
/// Largest compressed archive accepted, in bytes.
pub const MAX_ARCHIVE_BYTES: u64 = 64 * 1024 * 1024;
/// Largest single file (including `index.json`) inside the archive, in bytes.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Largest sum of all file sizes inside the archive, in bytes.
pub const MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;
/// Most entries (files and directories, `index.json` included) in one archive.
pub const MAX_ENTRIES: usize = 10_000;
/// Longest path inside the archive, in bytes.
pub const MAX_PATH_BYTES: usize = 512;
/// Longest single path component, in bytes (the macOS `NAME_MAX`).
pub const MAX_COMPONENT_BYTES: usize = 255;

/// The signed payload of the DSSE envelope.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Always [`FORMAT_VERSION`].
    pub format: u32,
    /// Bundle name, e.g. `stable`.
    pub name: String,
    /// Who the bundle is for, e.g. `com.example:stable`; the agent compares it with its config.
    pub audience: String,
    /// Strictly increasing per bundle name.
    pub version: u64,
    /// RFC 3339 UTC with seconds precision, e.g. `2026-11-21T05:31:00Z`.
    pub created: String,
    /// Same format as `created`; the bundle is valid while `created <= now < expires`.
    pub expires: String,
    /// Lowercase hex SHA-256 of the signer's 32-byte ed25519 public key ([`key_id`]).
    pub key_id: String,
    /// The archive this statement vouches for.
    pub archive: ArchiveRef,
}

/// The archive a [`Statement`] commits to.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ArchiveRef {
    /// File name the archive is published under, e.g. `stable-1763700000.tar.gz`.
    pub file: String,
    /// Exact length of the `.tar.gz` in bytes.
    pub length: u64,
    /// Lowercase hex SHA-256 of the `.tar.gz` bytes.
    pub sha256: String,
}

impl ArchiveRef {
    /// Describes `archive` (its exact bytes) published under the file name `file`.
    pub fn of(file: impl Into<String>, archive: &[u8]) -> ArchiveRef {
        ArchiveRef {
            file: file.into(),
            length: archive.len() as u64,
            sha256: sha256_hex(archive),
        }
    }
}

/// Contents of `index.json`: every file of the archive except `index.json` itself.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// Always [`FORMAT_VERSION`].
    pub format: u32,
    /// Sorted by `path` in byte order, no duplicates.
    pub files: Vec<FileEntry>,
}

/// One file listed in [`Index`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Relative path inside the archive, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of the contents.
    pub sha256: String,
}

/// Lowercase hex SHA-256 of `bytes`.
/// Lowercase hex SHA-256, as the statement and `index.json` write digests.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Untrusted text made fit for a one-line message: control characters escaped, and cut to 200
/// characters (marked with "…"), so a hostile envelope or archive cannot flood or forge log lines.
pub(crate) fn one_line(text: &str) -> String {
    const MAX_CHARS: usize = 200;
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// True for exactly 64 lowercase hex digits.
pub(crate) fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests;
