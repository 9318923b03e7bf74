//! The key and metadata rows of security.md §8 at the agent: tampering, unknown signers,
//! rollback, equivocation, expiry (stale), fast-forward recovery through key epochs, root
//! rotation, audience, mix-and-match, hostile mirrors and signature type confusion.
//!
//! Every refused run must exit 2 with one line naming the problem, and leave the Mac as it was:
//! every file under the root byte-identical, except `run.lock` (which names the last run) and
//! the log, which only grows.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use mmc_bundle::{
    ArchiveRef, FORMAT_VERSION, Root, SigningKey, Statement, add_signature, delegated_key, key_id,
    root_key, sign, unsigned_root,
};
use serde_json::Value;

use crate::fingerprint;
use crate::scenarios::{BundleBuilder, Mac, STATE_DIR, signer};

const MOTD: &str = "/etc/motd";
const FAR: &str = "2030-01-01T00:00:00Z";

fn motd(version: u64, text: &str) -> BundleBuilder {
    BundleBuilder::new(version)
        .file("Motd", MOTD, text, "0644")
        .manifest(&[("managed_installs", &["Motd"])])
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// Writes `bundle`'s archive and its envelope signed by `by` into `dir`.
fn publish(bundle: &BundleBuilder, by: &SigningKey, dir: &Path) -> PathBuf {
    let archive = bundle.archive();
    let file = format!("stable-{}.tar.gz", bundle.version);
    let statement = Statement {
        format: FORMAT_VERSION,
        name: "stable".to_owned(),
        audience: "com.example:stable".to_owned(),
        version: bundle.version,
        created: "2026-11-21T05:31:00Z".to_owned(),
        expires: bundle.expires.clone(),
        key_id: key_id(&by.verifying_key()),
        archive: ArchiveRef::of(file.as_str(), &archive),
    };
    fs::create_dir_all(dir).unwrap();
    let path = dir.join(&file);
    fs::write(&path, &archive).unwrap();
    fs::write(sig_of(&path), sign(&statement, by)).unwrap();
    path
}

fn sig_of(bundle: &Path) -> PathBuf {
    let mut s = bundle.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

/// `run --format json` trusting the plain key `signer()`.
fn run_plain(mac: &Mac, bundle: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    mac.agent("run", Some(bundle), Some(&mac.trusted()), &args, "")
}

/// `run --format json` pinned to the root of trust `pinned`.
fn run_rooted(mac: &Mac, bundle: Option<&Path>, pinned: &Path) -> Output {
    let pinned = pinned.to_str().unwrap();
    mac.agent(
        "run",
        bundle,
        None,
        &["--format", "json", "--trust-root", pinned],
        "",
    )
}

fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn ok(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    report(out)
}

/// Runs `f` (a run that must be refused) and asserts exit 2, one error line with `needle`,
/// and the root unchanged but for the lock and the log's new lines.
fn assert_refused(mac: &Mac, needle: &str, f: impl FnOnce() -> Output) {
    let before = fingerprint(&mac.root());
    let out = f();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    assert_unchanged(&before, &fingerprint(&mac.root()));
}

fn assert_unchanged(
    before: &BTreeMap<String, (u32, Vec<u8>)>,
    after: &BTreeMap<String, (u32, Vec<u8>)>,
) {
    let lock = format!("{STATE_DIR}/run.lock");
    let log = format!("{STATE_DIR}/logs/mmc-agent.log");
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .filter(|k| **k != lock && **k != log)
        // On a Mac that never ran, the lock, the log and their folders are created.
        .filter(|k| {
            !(before.is_empty() && (lock.starts_with(k.as_str()) || log.starts_with(k.as_str())))
        })
        .collect();
    assert!(changed.is_empty(), "a refused run changed {changed:?}");
    if let (Some(old), Some(new)) = (before.get(&log), after.get(&log)) {
        assert!(new.1.starts_with(&old.1), "the log was rewritten");
    }
}

/// A Mac converged (plain keys) to `motd(version, "managed\n")`.
fn converged(version: u64) -> Mac {
    let mac = Mac::new();
    let bundle = publish(&motd(version, "managed\n"), &signer(), &mac.out());
    ok(&run_plain(&mac, &bundle, &[]));
    assert_eq!(mac.read(MOTD), "managed\n");
    mac
}

fn state(mac: &Mac) -> Value {
    serde_json::from_slice(&fs::read(mac.state_json()).unwrap()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Plain keys.

#[test]
fn tampered_bundle_one_flipped_byte_is_refused() {
    let mac = converged(5);
    let bundle = publish(&motd(6, "evil\n"), &signer(), &mac.out());
    let mut bytes = fs::read(&bundle).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&bundle, &bytes).unwrap();
    assert_refused(&mac, "SHA-256 does not match", || {
        run_plain(&mac, &bundle, &[])
    });
}

#[test]
fn unknown_signer_is_refused() {
    let mac = converged(5);
    let bundle = publish(&motd(6, "evil\n"), &key(33), &mac.out());
    assert_refused(&mac, "signed by unknown key", || {
        run_plain(&mac, &bundle, &[])
    });
}

#[test]
fn rollback_to_an_older_signed_version_is_refused() {
    let mac = converged(5);
    let older = publish(&motd(4, "old\n"), &signer(), &mac.dir.path().join("old"));
    assert_refused(&mac, "refusing to roll back", || {
        run_plain(&mac, &older, &[])
    });
    assert_eq!(state(&mac)["floor"]["version"], 5);
}

#[test]
fn equivocation_same_version_other_archive_is_refused() {
    let mac = converged(5);
    // The same bundle again is a no-op.
    let same = publish(&motd(5, "managed\n"), &signer(), &mac.out());
    let again = ok(&run_plain(&mac, &same, &[]));
    assert_eq!(again["summary"]["changed"], 0);
    // Version 5 again, with other content.
    let other = publish(
        &motd(5, "other\n"),
        &signer(),
        &mac.dir.path().join("other"),
    );
    assert_refused(
        &mac,
        "EQUIVOCATION: version 5 was applied with archive",
        || run_plain(&mac, &other, &[]),
    );
}

#[test]
fn mix_and_match_newer_statement_with_an_older_archive_is_refused() {
    let mac = converged(5);
    let v6 = publish(&motd(6, "six\n"), &signer(), &mac.dir.path().join("six"));
    let v4 = publish(&motd(4, "four\n"), &signer(), &mac.dir.path().join("four"));
    fs::copy(&v4, &v6).unwrap();
    assert_refused(&mac, "does not match the signed statement", || {
        run_plain(&mac, &v6, &[])
    });
}

#[test]
fn wrong_audience_is_refused_even_with_a_good_signature() {
    let mac = converged(5);
    mac.write(
        &format!("{STATE_DIR}/agent.json"),
        r#"{"audience": "com.example:prod"}"#,
    );
    let bundle = publish(&motd(6, "staging\n"), &signer(), &mac.out());
    assert_refused(&mac, "this Mac takes only com.example:prod", || {
        run_plain(&mac, &bundle, &[])
    });
}

#[test]
fn expired_bundle_keeps_enforcing_the_last_good_one_and_reports_stale() {
    let mac = converged(5);
    let bundle = mac.out().join("stable-5.tar.gz");
    let state_before = fs::read(mac.state_json()).unwrap();
    // Drift: someone edits the managed file.
    mac.write(MOTD, "drifted\n");
    // One second after the bundle's expiry (2026-12-01T00:00:00Z).
    let out = run_plain(&mac, &bundle, &["--now", "2026-12-01T00:00:01Z"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = report(&out);
    assert!(
        report["stale"]
            .as_str()
            .unwrap()
            .contains("bundle expired at 2026-12-01T00:00:00Z"),
        "{report:#}"
    );
    assert_eq!(report["bundle"]["version"], 5);
    // The old config is enforced: the drift is undone.
    assert_eq!(mac.read(MOTD), "managed\n");
    assert_eq!(report["summary"]["changed"], 1);
    // Nothing is remembered: the floor, the last applied bundle, the items' states.
    assert_eq!(fs::read(mac.state_json()).unwrap(), state_before);
    assert!(mac.log().contains("STALE: "), "{}", mac.log());

    // No bundle was ever applied: nothing to enforce, exit 2.
    let fresh = Mac::new();
    let b = publish(&motd(5, "x\n"), &signer(), &fresh.out());
    assert_refused(&fresh, "bundle expired", || {
        run_plain(&fresh, &b, &["--now", "2026-12-01T00:00:01Z"])
    });
}

#[test]
fn malicious_mirror_a_garbage_candidate_is_skipped_with_a_warning() {
    let mac = converged(5);
    let incoming = mac.path(&format!("{STATE_DIR}/incoming"));
    let good = publish(&motd(6, "six\n"), &signer(), &incoming);
    // The newer candidate is garbage from a hostile mirror.
    let bad = incoming.join("stable-7.tar.gz");
    fs::write(&bad, b"not a bundle").unwrap();
    fs::copy(sig_of(&good), sig_of(&bad)).unwrap();
    let out = mac.agent("run", None, Some(&mac.trusted()), &["--format", "json"], "");
    let report = ok(&out);
    assert_eq!(report["bundle"]["version"], 6);
    assert_eq!(mac.read(MOTD), "six\n");
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("ignored") && notes.contains("stable-7.tar.gz"),
        "{notes}"
    );
}

#[test]
fn munki_served_bundle_with_a_modified_tarball_is_refused() {
    // Munki (or a MITM on its plain-http repo) delivers into incoming/; the catalog's hash of
    // the package is no protection, the bundle's own signature is.
    let mac = converged(5);
    let incoming = mac.path(&format!("{STATE_DIR}/incoming"));
    let bundle = publish(&motd(6, "six\n"), &signer(), &incoming);
    let evil = publish(&motd(6, "evil\n"), &signer(), &mac.dir.path().join("evil"));
    fs::copy(&evil, &bundle).unwrap();
    assert_refused(&mac, "does not match the signed statement", || {
        mac.agent("run", None, Some(&mac.trusted()), &["--format", "json"], "")
    });
}

// ---------------------------------------------------------------------------------------------
// A root of trust.

fn root_doc(version: u64, roots: &[&SigningKey], bundle: &[(&SigningKey, u64)]) -> Root {
    Root {
        format: 1,
        version,
        expires: FAR.to_owned(),
        root_keys: roots.iter().map(|k| root_key(&k.verifying_key())).collect(),
        root_threshold: 1,
        bundle_keys: bundle
            .iter()
            .map(|(k, epoch)| delegated_key(&k.verifying_key(), *epoch, FAR))
            .collect(),
        bundle_threshold: 1,
    }
}

fn signed_root(doc: &Root, by: &[&SigningKey]) -> Vec<u8> {
    let mut envelope = unsigned_root(doc);
    for k in by {
        envelope = add_signature(&envelope, k).unwrap();
    }
    envelope
}

/// A Mac pinned to root 1 (root key `r1`, bundle key `k1` at epoch 1); the pinned file's path.
fn pinned_mac(r1: &SigningKey, k1: &SigningKey) -> (Mac, PathBuf) {
    let mac = Mac::new();
    let pinned = mac.dir.path().join("root-1.json");
    fs::write(&pinned, signed_root(&root_doc(1, &[r1], &[(k1, 1)]), &[r1])).unwrap();
    (mac, pinned)
}

#[test]
fn fast_forward_a_compromised_key_huge_version_is_recovered_by_rotating_the_epoch() {
    let (r1, k1, k2) = (key(41), key(51), key(52));
    let (mac, pinned) = pinned_mac(&r1, &k1);
    let dir = mac.out();

    // The compromised K1 signs version 2^62: accepted (it is a valid key).
    let huge = 1u64 << 62;
    let b = publish(&motd(huge, "attacker\n"), &k1, &dir);
    ok(&run_rooted(&mac, Some(&b), &pinned));
    assert_eq!(state(&mac)["floor"]["version"], huge);

    // Root 2 removes K1 and delegates to K2 at epoch 2; it is published next to the bundles.
    let root2 = signed_root(&root_doc(2, &[&r1], &[(&k2, 2)]), &[&r1]);
    fs::write(dir.join("root-2.json"), &root2).unwrap();
    let b = publish(&motd(10, "recovered\n"), &k2, &dir);
    let report = ok(&run_rooted(&mac, Some(&b), &pinned));
    assert_eq!(report["bundle"]["version"], 10);
    assert_eq!(mac.read(MOTD), "recovered\n");
    assert_eq!(state(&mac)["floor"]["epoch"], 2);
    // The agent stored root 2 as received.
    assert_eq!(fs::read(stored_root(&mac, &pinned)).unwrap(), root2);

    // K1 again, with an even higher version: its key is gone.
    let b = publish(
        &motd(huge + 1, "attacker\n"),
        &k1,
        &mac.dir.path().join("k1"),
    );
    assert_refused(&mac, "signed by unknown key", || {
        run_rooted(&mac, Some(&b), &pinned)
    });
}

#[test]
fn an_older_epoch_is_refused_while_its_key_is_still_listed() {
    // During an overlap, root 2 lists K1 (epoch 1) and K2 (epoch 2). Once a K2 bundle is
    // applied, K1 can no longer sign anything this Mac takes.
    let (r1, k1, k2) = (key(41), key(51), key(52));
    let (mac, pinned) = pinned_mac(&r1, &k1);
    let dir = mac.out();
    fs::write(
        dir.join("root-2.json"),
        signed_root(&root_doc(2, &[&r1], &[(&k1, 1), (&k2, 2)]), &[&r1]),
    )
    .unwrap();
    let b = publish(&motd(10, "k2\n"), &k2, &dir);
    ok(&run_rooted(&mac, Some(&b), &pinned));
    let b = publish(&motd(99, "k1\n"), &k1, &mac.dir.path().join("k1"));
    assert_refused(&mac, "signed by a key of epoch 1", || {
        run_rooted(&mac, Some(&b), &pinned)
    });
}

#[test]
fn root_rotation_needs_the_old_and_the_new_root_keys() {
    let (r1, r2, k1, k2) = (key(41), key(42), key(51), key(52));
    let (mac, pinned) = pinned_mac(&r1, &k1);
    let b1 = publish(&motd(5, "one\n"), &k1, &mac.out());
    ok(&run_rooted(&mac, Some(&b1), &pinned));

    // Root 2 (new root key R2, bundle key K2), signed only by the new key: not taken.
    let dir = mac.dir.path().join("rotation");
    let doc2 = root_doc(2, &[&r2], &[(&k2, 2)]);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("root-2.json"), signed_root(&doc2, &[&r2])).unwrap();
    let b2 = publish(&motd(6, "two\n"), &k2, &dir);
    let before = fingerprint(&mac.root());
    let out = run_rooted(&mac, Some(&b2), &pinned);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("signed by unknown key"), "{stderr}");
    assert!(
        stderr.contains(
            "root-2.json: root version 2 lacks the signatures of the trusted root's keys"
        ),
        "{stderr}"
    );
    assert_unchanged(&before, &fingerprint(&mac.root()));

    // Signed by the old and the new: taken, and the K2 bundle applies.
    fs::write(dir.join("root-2.json"), signed_root(&doc2, &[&r1, &r2])).unwrap();
    ok(&run_rooted(&mac, Some(&b2), &pinned));
    assert_eq!(mac.read(MOTD), "two\n");
}

#[test]
fn a_gap_in_the_root_chain_stays_at_the_trusted_root() {
    let (r1, k1, k3) = (key(41), key(51), key(53));
    let (mac, pinned) = pinned_mac(&r1, &k1);
    let dir = mac.out();
    // root-3.json without root-2.json.
    fs::write(
        dir.join("root-3.json"),
        signed_root(&root_doc(3, &[&r1], &[(&k3, 3)]), &[&r1]),
    )
    .unwrap();
    let b3 = publish(&motd(7, "three\n"), &k3, &dir);
    assert_refused(&mac, "signed by unknown key", || {
        run_rooted(&mac, Some(&b3), &pinned)
    });
    let b1 = publish(&motd(8, "one\n"), &k1, &mac.dir.path().join("k1"));
    ok(&run_rooted(&mac, Some(&b1), &pinned));
    assert!(!stored_root(&mac, &pinned).exists());
}

#[test]
fn expired_root_keeps_enforcing_the_last_good_bundle() {
    let (r1, k1) = (key(41), key(51));
    let mac = Mac::new();
    let pinned = mac.dir.path().join("root-1.json");
    let mut doc = root_doc(1, &[&r1], &[(&k1, 1)]);
    doc.expires = "2026-11-26T00:00:00Z".into();
    fs::write(&pinned, signed_root(&doc, &[&r1])).unwrap();
    let b = publish(&motd(5, "one\n"), &k1, &mac.out());
    ok(&run_rooted(&mac, Some(&b), &pinned));
    let state_before = fs::read(mac.state_json()).unwrap();
    let pinned_text = pinned.to_str().unwrap();
    let out = mac.agent(
        "run",
        Some(&b),
        None,
        &[
            "--format",
            "json",
            "--trust-root",
            pinned_text,
            "--now",
            "2026-11-26T00:00:00Z",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(3));
    let report = report(&out);
    assert!(
        report["stale"]
            .as_str()
            .unwrap()
            .contains("root version 1 expired"),
        "{report:#}"
    );
    assert_eq!(fs::read(mac.state_json()).unwrap(), state_before);
}

#[test]
fn signature_type_confusion_a_root_envelope_as_a_bundle_signature_is_refused() {
    let (r1, k1) = (key(41), key(51));
    let (mac, pinned) = pinned_mac(&r1, &k1);
    let b = publish(&motd(5, "one\n"), &k1, &mac.out());
    ok(&run_rooted(&mac, Some(&b), &pinned));
    let b6 = publish(&motd(6, "six\n"), &k1, &mac.dir.path().join("six"));
    fs::copy(&pinned, sig_of(&b6)).unwrap();
    assert_refused(
        &mac,
        "payload type \"application/vnd.mmc.root+json\"",
        || run_rooted(&mac, Some(&b6), &pinned),
    );
}

#[test]
fn a_bundle_signed_by_a_root_key_is_refused() {
    // Root keys sign roots only: a bundle signed by one is from an unknown bundle key.
    let (r1, k1) = (key(41), key(51));
    let (mac, pinned) = pinned_mac(&r1, &k1);
    let b = publish(&motd(5, "one\n"), &r1, &mac.out());
    let fresh_before = fingerprint(&mac.root());
    let out = run_rooted(&mac, Some(&b), &pinned);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("signed by unknown key"));
    assert_unchanged(&fresh_before, &fingerprint(&mac.root()));
}

#[test]
fn verify_with_a_root_walks_the_roots_next_to_the_bundle() {
    let (r1, k1, k2) = (key(41), key(51), key(52));
    let (mac, pinned) = pinned_mac(&r1, &k1);
    let dir = mac.out();
    let b = publish(&motd(5, "two\n"), &k2, &dir);
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify".to_owned(),
            b.display().to_string(),
            "--trust-root".to_owned(),
            pinned.display().to_string(),
            "--now".to_owned(),
            "2026-11-25T12:00:00Z".to_owned(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        std::process::Command::new(env!("CARGO_BIN_EXE_mmc-agent"))
            .args(&args)
            .output()
            .unwrap()
    };
    // K2 is not in root 1.
    let out = verify(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("signed by unknown key"));
    // Root 2, next to the bundle, delegates to K2.
    fs::write(
        dir.join("root-2.json"),
        signed_root(&root_doc(2, &[&r1], &[(&k2, 2)]), &[&r1]),
    )
    .unwrap();
    let out = verify(&[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("verified stable version 5"));
    // Both ways of trusting at once is a usage error.
    let out = verify(&["--trust", "x.pem"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not both"));
}

/// Where the agent stores the newest root it reached from `pinned`.
fn stored_root(mac: &Mac, pinned: &Path) -> PathBuf {
    let sha = mmc_bundle::sha256_hex(&fs::read(pinned).unwrap());
    mac.path(&format!("{STATE_DIR}/trust/{sha}.json"))
}

#[test]
fn equivocation_two_candidates_with_one_version_are_both_refused() {
    let mac = converged(5);
    let incoming = mac.path(&format!("{STATE_DIR}/incoming"));
    publish(&motd(6, "six\n"), &signer(), &incoming);
    // Another archive under the same version, next to it (renamed so both are candidates).
    let other = publish(
        &motd(6, "other\n"),
        &signer(),
        &mac.dir.path().join("other"),
    );
    fs::copy(&other, incoming.join("stable-6b.tar.gz")).unwrap();
    fs::copy(sig_of(&other), incoming.join("stable-6b.tar.gz.sig")).unwrap();
    assert_refused(&mac, "EQUIVOCATION: ", || {
        mac.agent("run", None, Some(&mac.trusted()), &["--format", "json"], "")
    });
}

#[test]
fn an_expired_bundle_that_is_also_a_rollback_is_refused_not_stale() {
    let mac = converged(5);
    let older = publish(&motd(4, "old\n"), &signer(), &mac.dir.path().join("old"));
    // After every bundle's expiry: v4 fails on time, but it would be a rollback anyway.
    assert_refused(&mac, "refusing to roll back", || {
        run_plain(&mac, &older, &["--now", "2026-12-01T00:00:01Z"])
    });
}

#[test]
fn a_root_is_stored_only_by_a_run_that_applied_a_bundle_and_only_for_its_pinned_root() {
    let (r1, k1, k2) = (key(41), key(51), key(52));
    let (mac, pinned) = pinned_mac(&r1, &k1);
    let dir = mac.out();
    fs::write(
        dir.join("root-2.json"),
        signed_root(&root_doc(2, &[&r1], &[(&k2, 2)]), &[&r1]),
    )
    .unwrap();
    // Root 2 verifies, but the bundle next to it is tampered: nothing is stored.
    let b = publish(&motd(5, "two\n"), &k2, &dir);
    let mut bytes = fs::read(&b).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    fs::write(&b, &bytes).unwrap();
    assert_refused(&mac, "SHA-256 does not match", || {
        run_rooted(&mac, Some(&b), &pinned)
    });
    assert!(!stored_root(&mac, &pinned).exists());
    // A good bundle: root 2 is stored, under this pinned root's name.
    let b = publish(&motd(6, "two\n"), &k2, &mac.dir.path().join("good"));
    fs::copy(
        dir.join("root-2.json"),
        mac.dir.path().join("good/root-2.json"),
    )
    .unwrap();
    ok(&run_rooted(&mac, Some(&b), &pinned));
    assert!(stored_root(&mac, &pinned).exists());
    // Another pinned root (another fleet's) never sees it: K2 is unknown to it.
    let (r9, k9) = (key(49), key(59));
    let other = mac.dir.path().join("other-root-1.json");
    fs::write(
        &other,
        signed_root(&root_doc(1, &[&r9], &[(&k9, 1)]), &[&r9]),
    )
    .unwrap();
    let b = publish(&motd(7, "x\n"), &k2, &mac.dir.path().join("x"));
    assert_refused(&mac, "signed by unknown key", || {
        run_rooted(&mac, Some(&b), &other)
    });
}
