use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::VerifyingKey;

use super::signing_key;
use crate::{
    KeyError, key_id, parse_public_key, parse_signing_key, public_key_to_pem, sha256_hex,
    signing_key_to_pem,
};

#[test]
fn key_id_is_lowercase_hex_sha256_of_the_raw_public_key() {
    let key = signing_key(7).verifying_key();
    let id = key_id(&key);
    assert_eq!(id, sha256_hex(key.as_bytes()));
    assert_eq!(id.len(), 64);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_ne!(id, key_id(&signing_key(8).verifying_key()));
}

#[test]
fn public_key_pem_round_trips_as_spki() {
    let key = signing_key(7).verifying_key();
    let pem = public_key_to_pem(&key);
    assert!(
        pem.starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"),
        "{pem}"
    );
    assert!(pem.ends_with("-----END PUBLIC KEY-----\n"), "{pem}");
    assert_eq!(parse_public_key(&pem).unwrap(), key);
    // Surrounding whitespace (e.g. from a file or an env var) is tolerated.
    assert_eq!(parse_public_key(&format!("\n  {pem}\n\n")).unwrap(), key);
}

#[test]
fn weak_public_key_is_rejected() {
    // The identity point: with it, R = identity and S = 0 "verifies" any message non-strictly.
    let mut bytes = [0u8; 32];
    bytes[0] = 1;
    let weak = VerifyingKey::from_bytes(&bytes).unwrap();
    assert!(weak.is_weak());
    let err = parse_public_key(&public_key_to_pem(&weak)).unwrap_err();
    assert!(matches!(err, KeyError::WeakKey { ref key_id } if *key_id == crate::key_id(&weak)));
    assert!(err.to_string().contains("weak"), "{err}");
}

#[test]
fn garbage_and_private_keys_are_not_public_keys() {
    assert!(matches!(
        parse_public_key("hello"),
        Err(KeyError::PublicKey(_))
    ));
    let private = signing_key_to_pem(&signing_key(7));
    assert!(matches!(
        parse_public_key(&private),
        Err(KeyError::PublicKey(_))
    ));
}

#[test]
fn signing_key_pem_round_trips_as_pkcs8_v2() {
    let key = signing_key(9);
    let pem = signing_key_to_pem(&key);
    assert!(
        pem.starts_with("-----BEGIN PRIVATE KEY-----\nMFECAQEwBQYDK2VwBCIEI"),
        "{pem}"
    );
    let parsed = parse_signing_key(&pem).unwrap();
    assert_eq!(parsed.to_bytes(), key.to_bytes());
}

#[test]
fn signing_key_accepts_openssl_pkcs8_v1() {
    // What `openssl genpkey -algorithm ed25519` writes: PKCS#8 v1, seed only, no public key.
    let seed = [0x5au8; 32];
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&seed);
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        BASE64.encode(&der)
    );
    assert!(pem.contains("MC4CAQAwBQYDK2VwBCIEI"), "{pem}");
    let parsed = parse_signing_key(&pem).unwrap();
    assert_eq!(parsed.to_bytes(), seed);
    assert_eq!(
        parsed.verifying_key(),
        ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key()
    );
}

#[test]
fn public_key_is_not_a_signing_key() {
    let public = public_key_to_pem(&signing_key(7).verifying_key());
    assert!(matches!(
        parse_signing_key(&public),
        Err(KeyError::PrivateKey(_))
    ));
}

#[test]
fn documented_test_vector() {
    // docs/bundle-format.md, section 1.
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]).verifying_key();
    assert_eq!(
        public_key_to_pem(&key),
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA7UkoxijRwsbq6QM4kFmVYSlZJzpcY/k2NsFGFKyHN9E=\n-----END PUBLIC KEY-----\n"
    );
    assert_eq!(
        key_id(&key),
        "b62e867fa2f33afe62d5d6b1642e1621d543307846b2a57b897e710919b76709"
    );
}
