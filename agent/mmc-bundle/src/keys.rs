//! ed25519 keys: key ids and PEM encodings.

use ed25519_dalek::VerifyingKey;
use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::pkcs8::spki::DecodePublicKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;

use crate::sha256_hex;

/// Why a key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not an ed25519 public key in PEM form (expected \"-----BEGIN PUBLIC KEY-----\"): {0}")]
    PublicKey(String),
    #[error("public key {key_id} is a weak (small-order) ed25519 key and cannot be trusted")]
    WeakKey { key_id: String },
    #[error(
        "not an unencrypted ed25519 PKCS#8 private key in PEM form \
         (expected \"-----BEGIN PRIVATE KEY-----\"): {0}"
    )]
    PrivateKey(String),
}

/// Key id: lowercase hex SHA-256 of the 32-byte public key.
pub fn key_id(key: &VerifyingKey) -> String {
    sha256_hex(key.as_bytes())
}

/// Parses an SPKI PEM public key (`-----BEGIN PUBLIC KEY-----`). Weak (small-order) keys, which
/// would let anyone forge signatures against a non-strict verifier, are refused.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let key = VerifyingKey::from_public_key_pem(text.trim())
        .map_err(|e| KeyError::PublicKey(e.to_string()))?;
    if key.is_weak() {
        return Err(KeyError::WeakKey {
            key_id: key_id(&key),
        });
    }
    Ok(key)
}

/// SPKI PEM encoding of a public key, LF line endings, with a trailing newline.
pub fn public_key_to_pem(key: &VerifyingKey) -> String {
    key.to_public_key_pem(LineEnding::LF)
        .expect("encoding a 32-byte ed25519 public key cannot fail")
}

/// Parses an unencrypted PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`), either v1 (as
/// written by `openssl genpkey -algorithm ed25519`) or v2 (with the public key, as written by
/// [`signing_key_to_pem`]; the embedded public key must match). The decoded DER is held in a
/// buffer that is zeroed on drop; the caller owns `text` and should zero it too.
#[cfg(feature = "sign")]
pub fn parse_signing_key(text: &str) -> Result<ed25519_dalek::SigningKey, KeyError> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    ed25519_dalek::SigningKey::from_pkcs8_pem(text.trim())
        .map_err(|e| KeyError::PrivateKey(e.to_string()))
}

/// PKCS#8 v2 PEM encoding of a private key (includes the public key), LF line endings.
#[cfg(feature = "sign")]
pub fn signing_key_to_pem(key: &ed25519_dalek::SigningKey) -> String {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .expect("encoding a 32-byte ed25519 private key cannot fail");
    // `pem` is zeroed when dropped; the returned copy belongs to the caller.
    pem.as_str().to_owned()
}
