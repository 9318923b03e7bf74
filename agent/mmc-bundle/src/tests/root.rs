//! The root of trust: thresholds, rotation, epochs, expiries, and the hazards of
//! reference/security.md §8 that concern keys.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, SigningKey, Verifier as _, VerifyingKey};
use serde_json::json;

use super::{now, sample_archive, signing_key, statement_for};
use crate::dsse::sign_envelope;
use crate::{
    BUNDLE_PAYLOAD_TYPE, ROOT_PAYLOAD_TYPE, Root, RootError, TrustedRoot, VerifyError,
    add_signature, delegated_key, key_id, root_key, sign, unsigned_root, verify_bundle,
};

const FAR: &str = "2030-01-01T00:00:00Z";

/// A root with the given root keys and threshold, delegating to `bundle` keys (epoch, expiry).
fn root(
    version: u64,
    roots: &[&SigningKey],
    threshold: usize,
    bundle: &[(&SigningKey, u64)],
) -> Root {
    Root {
        format: 1,
        version,
        expires: FAR.to_owned(),
        root_keys: roots.iter().map(|k| root_key(&k.verifying_key())).collect(),
        root_threshold: threshold,
        bundle_keys: bundle
            .iter()
            .map(|(k, epoch)| delegated_key(&k.verifying_key(), *epoch, FAR))
            .collect(),
        bundle_threshold: 1,
    }
}

fn signed(root: &Root, by: &[&SigningKey]) -> Vec<u8> {
    let mut envelope = unsigned_root(root);
    for key in by {
        envelope = add_signature(&envelope, key).unwrap();
    }
    envelope
}

fn k(seed: u8) -> SigningKey {
    signing_key(seed)
}

#[test]
fn a_root_signed_by_its_threshold_loads() {
    let (r1, r2, r3, b) = (k(11), k(12), k(13), k(20));
    let doc = root(1, &[&r1, &r2, &r3], 2, &[(&b, 1)]);
    let trusted = TrustedRoot::pinned(&signed(&doc, &[&r1, &r3])).unwrap();
    assert_eq!(trusted.root, doc);
    assert_eq!(trusted.bundle_keys().keys.len(), 1);

    // One signature of the two required.
    let err = TrustedRoot::pinned(&signed(&doc, &[&r2])).unwrap_err();
    assert!(
        matches!(
            &err,
            RootError::Threshold {
                source: VerifyError::ThresholdNotMet { needed: 2, .. },
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn threshold_bypass_via_duplicate_keyids_is_refused() {
    // Root: the same signature twice does not make two signers.
    let (r1, r2, b) = (k(11), k(12), k(20));
    let doc = root(1, &[&r1, &r2], 2, &[(&b, 1)]);
    let once = signed(&doc, &[&r1]);
    let mut json: serde_json::Value = serde_json::from_slice(&once).unwrap();
    let sig = json["signatures"][0].clone();
    json["signatures"] = json!([sig.clone(), sig]);
    let twice = serde_json::to_vec(&json).unwrap();
    let err = TrustedRoot::pinned(&twice).unwrap_err();
    assert!(
        matches!(&err, RootError::Threshold { source: VerifyError::ThresholdNotMet { needed: 2, valid }, .. } if valid.len() == 1),
        "{err}"
    );

    // Bundle: threshold 2, one key's signature listed twice.
    let (b1, b2) = (k(21), k(22));
    let mut doc = root(1, &[&r1], 1, &[(&b1, 1), (&b2, 1)]);
    doc.bundle_threshold = 2;
    let trusted = TrustedRoot::pinned(&signed(&doc, &[&r1])).unwrap();
    let archive = sample_archive();
    let envelope = sign(&statement_for(&archive, &b1), &b1);
    let mut json: serde_json::Value = serde_json::from_slice(&envelope).unwrap();
    let sig = json["signatures"][0].clone();
    json["signatures"] = json!([sig.clone(), sig]);
    let twice = serde_json::to_vec(&json).unwrap();
    let err = verify_bundle(&twice, &archive, trusted.bundle_keys(), now()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::ThresholdNotMet {
            needed: 2,
            valid: vec![key_id(&b1.verifying_key())]
        }
    );

    // Two distinct bundle keys meet it.
    let statement = statement_for(&archive, &b1);
    let payload = serde_json::to_vec(&statement).unwrap();
    let one: serde_json::Value =
        serde_json::from_slice(&sign_envelope(BUNDLE_PAYLOAD_TYPE, &payload, &b1)).unwrap();
    let two: serde_json::Value =
        serde_json::from_slice(&sign_envelope(BUNDLE_PAYLOAD_TYPE, &payload, &b2)).unwrap();
    let mut both = one.clone();
    both["signatures"] = json!([one["signatures"][0], two["signatures"][0]]);
    let verified = verify_bundle(
        &serde_json::to_vec(&both).unwrap(),
        &archive,
        trusted.bundle_keys(),
        now(),
    )
    .unwrap();
    assert_eq!(verified.statement, statement);
}

#[test]
fn weak_key_forgery_passes_plain_verify_but_not_mmc() {
    // The identity point as public key, and the signature R = identity, S = 0, over "x".
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = VerifyingKey::from_bytes(&identity).unwrap();
    let mut sig = [0u8; 64];
    sig[0] = 1;
    let sig = Signature::from_bytes(&sig);
    assert!(
        weak.verify(b"x", &sig).is_ok(),
        "plain verify accepts the forgery"
    );
    assert!(weak.verify_strict(b"x", &sig).is_err());

    // A root listing that key is refused when loaded.
    let r1 = k(11);
    let mut doc = root(1, &[&r1], 1, &[]);
    doc.bundle_keys = vec![crate::DelegatedKey {
        keyid: key_id(&weak),
        public_key: BASE64.encode(identity),
        epoch: 1,
        expires: FAR.into(),
    }];
    let err = TrustedRoot::pinned(&signed_raw(&doc, &[&r1])).unwrap_err();
    assert!(err.to_string().contains("weak (small-order)"), "{err}");
}

/// Signs a root without the checks `add_signature` makes (for roots that must fail to load).
fn signed_raw(root: &Root, by: &[&SigningKey]) -> Vec<u8> {
    let payload = serde_json::to_vec(root).unwrap();
    let mut sigs = Vec::new();
    for key in by {
        let one: serde_json::Value =
            serde_json::from_slice(&sign_envelope(ROOT_PAYLOAD_TYPE, &payload, key)).unwrap();
        sigs.push(one["signatures"][0].clone());
    }
    let mut json: serde_json::Value =
        serde_json::from_slice(&sign_envelope(ROOT_PAYLOAD_TYPE, &payload, by[0])).unwrap();
    json["signatures"] = json!(sigs);
    serde_json::to_vec(&json).unwrap()
}

#[test]
fn signature_type_confusion_is_refused_both_ways() {
    let (r1, b) = (k(11), k(20));
    // A key that is both a root key and a bundle key would make confusion possible: refused.
    let both = root(1, &[&r1], 1, &[(&r1, 1)]);
    let err = TrustedRoot::pinned(&signed_raw(&both, &[&r1])).unwrap_err();
    assert!(err.to_string().contains("listed twice"), "{err}");

    let doc = root(1, &[&r1], 1, &[(&b, 1)]);
    let root_envelope = signed(&doc, &[&r1]);
    let trusted = TrustedRoot::pinned(&root_envelope).unwrap();

    // A valid root envelope presented as a bundle's signature.
    let archive = sample_archive();
    let err = verify_bundle(&root_envelope, &archive, trusted.bundle_keys(), now()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::WrongPayloadType {
            found: ROOT_PAYLOAD_TYPE.into(),
            expected: BUNDLE_PAYLOAD_TYPE
        }
    );
    // A valid bundle envelope presented as the next root.
    let bundle_envelope = sign(&statement_for(&archive, &b), &b);
    let err = trusted.update(&bundle_envelope).unwrap_err();
    assert!(
        matches!(
            &err,
            RootError::Envelope(VerifyError::WrongPayloadType { .. })
        ),
        "{err}"
    );
}

#[test]
fn rotation_needs_the_old_and_the_new_thresholds_one_version_at_a_time() {
    let (old, new, b1, b2) = (k(11), k(12), k(21), k(22));
    let v1 = TrustedRoot::pinned(&signed(&root(1, &[&old], 1, &[(&b1, 1)]), &[&old])).unwrap();
    let v2_doc = root(2, &[&new], 1, &[(&b2, 2)]);

    // Signed only by the new key: the old root never agreed.
    let err = v1.update(&signed(&v2_doc, &[&new])).unwrap_err();
    assert!(
        matches!(
            &err,
            RootError::Threshold {
                which: "the trusted root's keys",
                ..
            }
        ),
        "{err}"
    );
    // Signed only by the old key: the new root's own keys never agreed.
    let err = v1.update(&signed(&v2_doc, &[&old])).unwrap_err();
    assert!(
        matches!(
            &err,
            RootError::Threshold {
                which: "its own keys",
                ..
            }
        ),
        "{err}"
    );
    // Old and new: accepted.
    let v2 = v1.update(&signed(&v2_doc, &[&old, &new])).unwrap();
    assert_eq!(v2.root.version, 2);

    // Skipping a version, or replaying one, is refused.
    let v3_doc = root(3, &[&new], 1, &[(&b2, 2)]);
    let err = v1.update(&signed(&v3_doc, &[&old, &new])).unwrap_err();
    assert_eq!(
        err,
        RootError::NotNextVersion {
            trusted: 1,
            found: 3
        }
    );
    let err = v2.update(&signed(&v2_doc, &[&old, &new])).unwrap_err();
    assert!(matches!(err, RootError::NotNextVersion { .. }), "{err}");

    // After the rotation the removed bundle key is unknown, the new one carries epoch 2.
    let archive = sample_archive();
    let by_b1 = sign(&statement_for(&archive, &b1), &b1);
    let err = verify_bundle(&by_b1, &archive, v2.bundle_keys(), now()).unwrap_err();
    assert!(matches!(err, VerifyError::UnknownKey { .. }), "{err}");
    let by_b2 = sign(&statement_for(&archive, &b2), &b2);
    let verified = verify_bundle(&by_b2, &archive, v2.bundle_keys(), now()).unwrap();
    assert_eq!(verified.epoch, 2);
}

#[test]
fn expiries_of_root_and_bundle_keys_are_enforced() {
    let (r1, b) = (k(11), k(20));
    let mut doc = root(1, &[&r1], 1, &[]);
    doc.bundle_keys = vec![delegated_key(&b.verifying_key(), 1, "2026-11-25T12:00:00Z")];
    doc.expires = "2026-11-25T12:00:01Z".into();
    let trusted = TrustedRoot::pinned(&signed(&doc, &[&r1])).unwrap();
    let archive = sample_archive();
    let envelope = sign(&statement_for(&archive, &b), &b);
    let before: jiff::Timestamp = "2026-11-25T11:59:59Z".parse().unwrap();
    assert!(verify_bundle(&envelope, &archive, trusted.bundle_keys(), before).is_ok());
    let err = verify_bundle(&envelope, &archive, trusted.bundle_keys(), now()).unwrap_err();
    assert!(matches!(err, VerifyError::KeyExpired { .. }), "{err}");
    assert!(trusted.check_expiry(now()).is_ok());
    let later: jiff::Timestamp = "2026-11-25T12:00:01Z".parse().unwrap();
    assert!(matches!(
        trusted.check_expiry(later),
        Err(RootError::Expired { version: 1, .. })
    ));
}

#[test]
fn malformed_roots_are_refused_with_a_reason() {
    let (r1, b) = (k(11), k(20));
    let good = root(1, &[&r1], 1, &[(&b, 1)]);
    let cases: Vec<(Root, &str)> = vec![
        (
            Root {
                version: 0,
                ..good.clone()
            },
            "version must be at least 1",
        ),
        (
            Root {
                root_threshold: 2,
                ..good.clone()
            },
            "root_threshold is 2",
        ),
        (
            Root {
                bundle_threshold: 0,
                ..good.clone()
            },
            "bundle_threshold is 0",
        ),
        (
            Root {
                expires: "2030-01-01".into(),
                ..good.clone()
            },
            "expires",
        ),
        (
            Root {
                root_keys: vec![crate::RootKey {
                    keyid: key_id(&b.verifying_key()),
                    public_key: root_key(&r1.verifying_key()).public_key,
                }],
                ..good.clone()
            },
            "does not match its key",
        ),
        (
            Root {
                format: 2,
                ..good.clone()
            },
            "format 2 is not supported",
        ),
    ];
    for (doc, reason) in cases {
        let err = TrustedRoot::pinned(&signed_raw(&doc, &[&r1])).unwrap_err();
        assert!(err.to_string().contains(reason), "{reason}: {err}");
    }
    // Unknown members are refused.
    let mut json = serde_json::to_value(&good).unwrap();
    json["extra"] = json!(1);
    let payload = serde_json::to_vec(&json).unwrap();
    let err = TrustedRoot::pinned(&sign_envelope(ROOT_PAYLOAD_TYPE, &payload, &r1)).unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
}

#[test]
fn signatures_are_added_one_holder_at_a_time_without_touching_the_payload() {
    let (r1, r2, b) = (k(11), k(12), k(20));
    let doc = root(1, &[&r1, &r2], 2, &[(&b, 1)]);
    let unsigned = unsigned_root(&doc);
    let one = add_signature(&unsigned, &r2).unwrap();
    let two = add_signature(&one, &r1).unwrap();
    let again = add_signature(&two, &r1).unwrap();
    assert_eq!(
        two, again,
        "signing twice with the same key changes nothing"
    );
    let payload =
        |e: &[u8]| serde_json::from_slice::<serde_json::Value>(e).unwrap()["payload"].clone();
    assert_eq!(payload(&unsigned), payload(&two));
    assert!(TrustedRoot::pinned(&two).is_ok());
    assert_eq!(crate::signature_key_ids(&two).len(), 2);
    assert_eq!(crate::read_unverified(&unsigned).unwrap(), doc);
}

#[test]
fn an_expired_key_does_not_count_toward_the_threshold() {
    let (r1, a, b) = (k(11), k(21), k(22));
    let mut doc = root(1, &[&r1], 1, &[(&a, 1)]);
    doc.bundle_keys
        .push(delegated_key(&b.verifying_key(), 1, "2026-11-25T00:00:00Z"));
    doc.bundle_threshold = 2;
    let trusted = TrustedRoot::pinned(&signed(&doc, &[&r1])).unwrap();
    let archive = sample_archive();
    let statement = statement_for(&archive, &a);
    let payload = serde_json::to_vec(&statement).unwrap();
    let one: serde_json::Value =
        serde_json::from_slice(&sign_envelope(BUNDLE_PAYLOAD_TYPE, &payload, &a)).unwrap();
    let two: serde_json::Value =
        serde_json::from_slice(&sign_envelope(BUNDLE_PAYLOAD_TYPE, &payload, &b)).unwrap();
    let mut both = one.clone();
    both["signatures"] = json!([one["signatures"][0], two["signatures"][0]]);
    let envelope = serde_json::to_vec(&both).unwrap();
    // Before B expired: two valid signers.
    let before: jiff::Timestamp = "2026-11-24T12:00:00Z".parse().unwrap();
    assert!(verify_bundle(&envelope, &archive, trusted.bundle_keys(), before).is_ok());
    // After: B's signature counts for nothing, so the threshold of 2 is not met.
    let err = verify_bundle(&envelope, &archive, trusted.bundle_keys(), now()).unwrap_err();
    assert!(
        matches!(&err, VerifyError::KeyExpired { key_id, .. } if *key_id == key_id_of(&b)),
        "{err}"
    );
}

fn key_id_of(k: &SigningKey) -> String {
    key_id(&k.verifying_key())
}
