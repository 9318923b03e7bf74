use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use serde_json::{Value, json};

use super::{now, sample_archive, signing_key, statement_for, ts};
use crate::dsse::sign_envelope;
use crate::{
    BUNDLE_PAYLOAD_TYPE, MAX_ENVELOPE_BYTES, ROOT_PAYLOAD_TYPE, VerifyError, key_id, pae, sign,
    verify,
};

/// A valid (envelope, archive, trusted key) triple.
fn signed_bundle() -> (Vec<u8>, Vec<u8>, VerifyingKey) {
    let key = signing_key(1);
    let archive = sample_archive();
    let envelope = sign(&statement_for(&archive, &key), &key);
    (envelope, archive, key.verifying_key())
}

fn envelope_json(envelope: &[u8]) -> Value {
    serde_json::from_slice(envelope).unwrap()
}

#[test]
fn pae_matches_the_dsse_spec_vector() {
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    );
    assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
}

#[test]
fn sign_then_verify_round_trips() {
    let key = signing_key(1);
    let archive = sample_archive();
    let statement = statement_for(&archive, &key);
    let envelope = sign(&statement, &key);
    let verified = verify(&envelope, &archive, &[key.verifying_key()], now()).unwrap();
    assert_eq!(verified, statement);
}

#[test]
fn envelope_is_deterministic_dsse_json() {
    let key = signing_key(1);
    let archive = sample_archive();
    let statement = statement_for(&archive, &key);
    let envelope = sign(&statement, &key);
    assert_eq!(envelope, sign(&statement, &key));
    assert!(envelope.ends_with(b"}\n"));

    let text = String::from_utf8(envelope.clone()).unwrap();
    let payload_type = text.find("\"payloadType\"").unwrap();
    let payload = text.find("\"payload\"").unwrap();
    let signatures = text.find("\"signatures\"").unwrap();
    assert!(payload_type < payload && payload < signatures, "{text}");

    let json = envelope_json(&envelope);
    assert_eq!(json["payloadType"], BUNDLE_PAYLOAD_TYPE);
    let payload = BASE64.decode(json["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload, serde_json::to_vec(&statement).unwrap());
    let sigs = json["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 1);
    assert_eq!(sigs[0]["keyid"], key_id(&key.verifying_key()));
    // The signature is over the PAE, not over the bare payload.
    let sig =
        Signature::from_slice(&BASE64.decode(sigs[0]["sig"].as_str().unwrap()).unwrap()).unwrap();
    let public = key.verifying_key();
    public
        .verify_strict(&pae(BUNDLE_PAYLOAD_TYPE, &payload), &sig)
        .unwrap();
    assert!(public.verify_strict(&payload, &sig).is_err());
}

#[test]
fn flipped_archive_byte_is_a_hash_mismatch() {
    let (envelope, mut archive, trusted) = signed_bundle();
    let middle = archive.len() / 2;
    archive[middle] ^= 0x01;
    let err = verify(&envelope, &archive, &[trusted], now()).unwrap_err();
    assert!(matches!(err, VerifyError::HashMismatch { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("archive SHA-256 does not match the signed statement (signed "),
        "{err}"
    );
}

#[test]
fn truncated_archive_is_a_length_mismatch() {
    let (envelope, archive, trusted) = signed_bundle();
    let err = verify(&envelope, &archive[..archive.len() - 1], &[trusted], now()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::LengthMismatch {
            signed: archive.len() as u64,
            actual: archive.len() as u64 - 1
        }
    );
}

#[test]
fn other_key_is_an_unknown_key() {
    let (envelope, archive, signer) = signed_bundle();
    let other = signing_key(2).verifying_key();
    let err = verify(&envelope, &archive, &[other], now()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::UnknownKey {
            found: vec![key_id(&signer)],
            trusted: vec![key_id(&other)],
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "signed by unknown key {} (trusted: {})",
            key_id(&signer),
            key_id(&other)
        )
    );
    let err = verify(&envelope, &archive, &[], now()).unwrap_err();
    assert!(err.to_string().ends_with("(trusted: none)"), "{err}");
}

#[test]
fn any_trusted_key_may_sign() {
    let (envelope, archive, signer) = signed_bundle();
    let other = signing_key(2).verifying_key();
    assert!(verify(&envelope, &archive, &[other, signer], now()).is_ok());
}

#[test]
fn validity_window_is_created_inclusive_expires_exclusive() {
    let (envelope, archive, trusted) = signed_bundle();
    let check = |at: &str| verify(&envelope, &archive, &[trusted], ts(at));
    assert!(check("2026-11-21T05:31:00Z").is_ok());
    assert!(check("2026-11-30T23:59:59Z").is_ok());

    let err = check("2026-12-01T00:00:00Z").unwrap_err();
    assert_eq!(
        err,
        VerifyError::Expired {
            expires: "2026-12-01T00:00:00Z".to_owned(),
            now: "2026-12-01T00:00:00Z".to_owned()
        }
    );
    let err = check("2026-12-02T10:00:00.75Z").unwrap_err();
    assert_eq!(
        err.to_string(),
        "bundle expired at 2026-12-01T00:00:00Z (now 2026-12-02T10:00:00Z)"
    );
    let err = check("2026-11-21T05:30:59Z").unwrap_err();
    assert!(matches!(err, VerifyError::NotYetValid { .. }), "{err:?}");
}

#[test]
fn root_signature_is_not_a_bundle_signature() {
    let key = signing_key(1);
    let archive = sample_archive();
    let payload = serde_json::to_vec(&statement_for(&archive, &key)).unwrap();
    let root_envelope = sign_envelope(ROOT_PAYLOAD_TYPE, &payload, &key);
    let trusted = [key.verifying_key()];

    // Presented as is: refused on the type.
    let err = verify(&root_envelope, &archive, &trusted, now()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::WrongPayloadType {
            found: ROOT_PAYLOAD_TYPE.to_owned(),
            expected: BUNDLE_PAYLOAD_TYPE,
        }
    );

    // Relabelled as a bundle: the PAE differs, so the signature no longer verifies.
    let mut json = envelope_json(&root_envelope);
    json["payloadType"] = json!(BUNDLE_PAYLOAD_TYPE);
    let relabelled = serde_json::to_vec(&json).unwrap();
    let err = verify(&relabelled, &archive, &trusted, now()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::BadSignature {
            key_id: key_id(&key.verifying_key())
        }
    );
}

#[test]
fn altered_statement_fails_the_signature() {
    let (envelope, archive, trusted) = signed_bundle();
    let mut json = envelope_json(&envelope);
    let payload = BASE64.decode(json["payload"].as_str().unwrap()).unwrap();
    let mut statement: Value = serde_json::from_slice(&payload).unwrap();
    statement["expires"] = json!("2099-01-01T00:00:00Z");
    json["payload"] = json!(BASE64.encode(serde_json::to_vec(&statement).unwrap()));
    let err = verify(
        &serde_json::to_vec(&json).unwrap(),
        &archive,
        &[trusted],
        now(),
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::BadSignature { .. }), "{err:?}");
}

#[test]
fn weak_key_forgery_is_refused() {
    // Identity public key with R = identity and S = 0 passes a non-strict ed25519 check for any
    // message. The verifier must use verify_strict.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = VerifyingKey::from_bytes(&identity).unwrap();
    let mut forged = [0u8; 64];
    forged[0] = 1;
    let forged_sig = Signature::from_bytes(&forged);

    let archive = sample_archive();
    let mut statement = statement_for(&archive, &signing_key(1));
    statement.key_id = key_id(&weak);
    let payload = serde_json::to_vec(&statement).unwrap();
    assert!(
        weak.verify(&pae(BUNDLE_PAYLOAD_TYPE, &payload), &forged_sig)
            .is_ok(),
        "the non-strict check accepts the forgery; this test guards against using it"
    );
    let envelope = json!({
        "payloadType": BUNDLE_PAYLOAD_TYPE,
        "payload": BASE64.encode(&payload),
        "signatures": [{"keyid": key_id(&weak), "sig": BASE64.encode(forged)}],
    });
    let err = verify(
        &serde_json::to_vec(&envelope).unwrap(),
        &archive,
        &[weak],
        now(),
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::BadSignature { .. }), "{err:?}");
}

/// Signs an arbitrary JSON payload as a bundle statement.
fn sign_value(statement: &Value, key: &ed25519_dalek::SigningKey) -> Vec<u8> {
    sign_envelope(
        BUNDLE_PAYLOAD_TYPE,
        &serde_json::to_vec(statement).unwrap(),
        key,
    )
}

#[test]
fn statement_checks_run_after_the_signature() {
    let key = signing_key(1);
    let archive = sample_archive();
    let trusted = [key.verifying_key()];
    let good = serde_json::to_value(statement_for(&archive, &key)).unwrap();
    let run = |edit: &dyn Fn(&mut Value)| {
        let mut statement = good.clone();
        edit(&mut statement);
        verify(&sign_value(&statement, &key), &archive, &trusted, now()).unwrap_err()
    };

    let err = run(&|s| s["format"] = json!(2));
    assert_eq!(
        err,
        VerifyError::UnsupportedFormat {
            found: 2,
            supported: 1
        }
    );

    let other = key_id(&signing_key(2).verifying_key());
    let err = run(&|s| s["key_id"] = json!(other));
    assert!(matches!(err, VerifyError::KeyIdMismatch { .. }), "{err:?}");

    let err = run(&|s| s["git_commit"] = json!("abc"));
    assert!(
        matches!(err, VerifyError::MalformedStatement(ref m) if m.contains("git_commit")),
        "{err:?}"
    );

    let err = run(&|s| s["expires"] = json!("2026-12-01T00:00:00+00:00"));
    assert!(
        matches!(
            err,
            VerifyError::BadTime {
                field: "expires",
                ..
            }
        ),
        "{err:?}"
    );
    let err = run(&|s| s["created"] = json!("2026-11-21T05:31:00.5Z"));
    assert!(
        matches!(
            err,
            VerifyError::BadTime {
                field: "created",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn envelope_shape_is_strict() {
    let (envelope, archive, trusted) = signed_bundle();
    let mut json = envelope_json(&envelope);
    json["extra"] = json!(1);
    let err = verify(
        &serde_json::to_vec(&json).unwrap(),
        &archive,
        &[trusted],
        now(),
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::MalformedEnvelope(_)), "{err:?}");

    let mut json = envelope_json(&envelope);
    json["signatures"] = json!([]);
    let err = verify(
        &serde_json::to_vec(&json).unwrap(),
        &archive,
        &[trusted],
        now(),
    )
    .unwrap_err();
    assert_eq!(err, VerifyError::NoSignatures);

    let mut trailing = envelope.clone();
    trailing.extend_from_slice(b"{}");
    let err = verify(&trailing, &archive, &[trusted], now()).unwrap_err();
    assert!(matches!(err, VerifyError::MalformedEnvelope(_)), "{err:?}");
}

#[test]
fn size_caps_come_first() {
    let (_, archive, trusted) = signed_bundle();
    let huge = vec![b' '; MAX_ENVELOPE_BYTES as usize + 1];
    let err = verify(&huge, &archive, &[trusted], now()).unwrap_err();
    assert_eq!(
        err,
        VerifyError::TooLarge {
            what: "signature envelope",
            size: MAX_ENVELOPE_BYTES + 1,
            limit: MAX_ENVELOPE_BYTES
        }
    );
}

#[test]
fn hostile_key_ids_cannot_break_the_message_line() {
    let (envelope, archive, trusted) = signed_bundle();
    let mut json = envelope_json(&envelope);
    let forged_id = format!("evil\n\u{1b}[31mFAKE LOG LINE{}", "x".repeat(1000));
    json["signatures"][0]["keyid"] = json!(forged_id);
    let err = verify(
        &serde_json::to_vec(&json).unwrap(),
        &archive,
        &[trusted],
        now(),
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::UnknownKey { .. }), "{err:?}");
    let text = err.to_string();
    assert!(!text.contains('\n') && !text.contains('\u{1b}'), "{text}");
    assert!(text.len() < 500, "{text}");
}

#[test]
fn documented_envelope_is_reproduced_exactly() {
    // docs/bundle-format.md, appendix: same statement and key, byte-identical envelope.
    let key = signing_key(3);
    let statement = crate::Statement {
        format: 1,
        name: "stable".to_owned(),
        audience: "com.example:stable".to_owned(),
        version: 1_763_700_000,
        created: "2026-11-21T05:31:00Z".to_owned(),
        expires: "2026-12-01T00:00:00Z".to_owned(),
        key_id: key_id(&key.verifying_key()),
        archive: crate::ArchiveRef {
            file: "stable-1763700000.tar.gz".to_owned(),
            length: 1096,
            sha256: "f630f3611699efa9a8eaa97c90f159fd77cd364536079902a81d7018014f3ce0".to_owned(),
        },
    };
    let expected = r#"{
  "payloadType": "application/vnd.mmc.bundle+json",
  "payload": "eyJmb3JtYXQiOjEsIm5hbWUiOiJzdGFibGUiLCJhdWRpZW5jZSI6ImNvbS5leGFtcGxlOnN0YWJsZSIsInZlcnNpb24iOjE3NjM3MDAwMDAsImNyZWF0ZWQiOiIyMDI2LTExLTIxVDA1OjMxOjAwWiIsImV4cGlyZXMiOiIyMDI2LTEyLTAxVDAwOjAwOjAwWiIsImtleV9pZCI6ImI2MmU4NjdmYTJmMzNhZmU2MmQ1ZDZiMTY0MmUxNjIxZDU0MzMwNzg0NmIyYTU3Yjg5N2U3MTA5MTliNzY3MDkiLCJhcmNoaXZlIjp7ImZpbGUiOiJzdGFibGUtMTc2MzcwMDAwMC50YXIuZ3oiLCJsZW5ndGgiOjEwOTYsInNoYTI1NiI6ImY2MzBmMzYxMTY5OWVmYTlhOGVhYTk3YzkwZjE1OWZkNzdjZDM2NDUzNjA3OTkwMmE4MWQ3MDE4MDE0ZjNjZTAifX0=",
  "signatures": [
    {
      "keyid": "b62e867fa2f33afe62d5d6b1642e1621d543307846b2a57b897e710919b76709",
      "sig": "vkCypQ1pWzV5bv1xUaaWiOe+ZYfB3pqCd3Dh9BmnKfA2jWb8BXIaEHCKhPyOX2jnT9FElMUx4RwGhn09u/AzAg=="
    }
  ]
}
"#;
    assert_eq!(String::from_utf8(sign(&statement, &key)).unwrap(), expected);
}
