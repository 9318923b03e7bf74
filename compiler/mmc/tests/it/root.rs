//! `mmc root`: creating, signing and rotating the root of trust, and `mmc build`/`mmc sign`
//! honouring it.

use std::path::{Path, PathBuf};

use crate::support::{commit_all, fixture, mmc, run};

/// `mmc keygen --out DIR/NAME`: the private key's path.
fn key(dir: &Path, name: &str) -> PathBuf {
    let out = run(mmc(dir).args(["keygen", "--out"]).arg(dir.join(name)));
    assert_eq!(out.code, 0, "{}", out.stderr);
    dir.join(format!("{name}.key"))
}

fn public(key: &Path) -> PathBuf {
    key.with_extension("pub")
}

fn root(repo: &Path, args: &[&std::ffi::OsStr]) -> crate::support::Output {
    run(mmc(repo).arg("root").args(args))
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

struct Fleet {
    repo: tempfile::TempDir,
    keys: tempfile::TempDir,
    alice: PathBuf,
    bob: PathBuf,
    ci: PathBuf,
}

/// A repository whose trust/root-1.json has root keys alice and bob (2 of 2) and bundle key ci,
/// signed by both.
fn fleet() -> Fleet {
    let repo = fixture(None);
    commit_all(repo.path());
    let keys = tempfile::tempdir().unwrap();
    let (alice, bob, ci) = (
        key(keys.path(), "alice"),
        key(keys.path(), "bob"),
        key(keys.path(), "ci"),
    );
    let out = root(
        repo.path(),
        &[
            os("init"),
            os("--root-key"),
            public(&alice).as_os_str(),
            os("--root-key"),
            public(&bob).as_os_str(),
            os("--threshold"),
            os("2"),
            os("--bundle-key"),
            public(&ci).as_os_str(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let first = repo.path().join("trust/root-1.json");
    // Unsigned: status says so and fails.
    let out = root(repo.path(), &[os("status")]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("signed by 0 of its 2 root key(s), 2 needed"),
        "{}",
        out.stdout
    );
    for k in [&alice, &bob] {
        let out = root(
            repo.path(),
            &[os("sign"), first.as_os_str(), os("--key"), k.as_os_str()],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let out = root(repo.path(), &[os("status")]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("Verified the chain up to version 1"),
        "{}",
        out.stderr
    );
    Fleet {
        repo,
        keys,
        alice,
        bob,
        ci,
    }
}

fn build(repo: &Path, key: &Path) -> crate::support::Output {
    run(mmc(repo).args(["build", "--key"]).arg(key))
}

#[test]
fn root_init_sign_and_build_ship_the_root_next_to_the_bundles() {
    let f = fleet();
    // A key that is not a root key cannot sign the root.
    let first = f.repo.path().join("trust/root-1.json");
    let before = std::fs::read(&first).unwrap();
    let out = root(
        f.repo.path(),
        &[os("sign"), first.as_os_str(), os("--key"), f.ci.as_os_str()],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("is not a root key of version 1"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read(&first).unwrap(),
        before,
        "a refused signing changed the root"
    );

    // A root key cannot sign bundles; the delegated CI key can.
    let out = build(f.repo.path(), &f.alice);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("is not a bundle key of root version 1"),
        "{}",
        out.stderr
    );
    assert!(
        !f.repo.path().join("build/bundles").exists(),
        "a refused build wrote files"
    );
    let out = build(f.repo.path(), &f.ci);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read(f.repo.path().join("build/bundles/root-1.json")).unwrap(),
        before_signed(&f)
    );

    // A bundle built under the root verifies with its bundle keys.
    let trusted = mmc_bundle::TrustedRoot::pinned(&std::fs::read(&first).unwrap()).unwrap();
    let bundles = f.repo.path().join("build/bundles");
    let archive_path = std::fs::read_dir(&bundles)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .unwrap();
    let mut sig = archive_path.clone().into_os_string();
    sig.push(".sig");
    let now = jiff::Timestamp::from_second(1_793_620_800).unwrap();
    let verified = mmc_bundle::verify_bundle(
        &std::fs::read(&sig).unwrap(),
        &std::fs::read(&archive_path).unwrap(),
        trusted.bundle_keys(),
        now,
    )
    .unwrap();
    assert_eq!(verified.epoch, 1);
}

fn before_signed(f: &Fleet) -> Vec<u8> {
    std::fs::read(f.repo.path().join("trust/root-1.json")).unwrap()
}

#[test]
fn rotating_the_bundle_key_needs_old_and_new_root_signatures() {
    let f = fleet();
    let ci2 = key(f.keys.path(), "ci2");
    let carol = key(f.keys.path(), "carol");
    let out = root(
        f.repo.path(),
        &[
            os("rotate"),
            os("--bundle-key"),
            public(&ci2).as_os_str(),
            os("--add-root-key"),
            public(&carol).as_os_str(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("bundle keys replaced, epoch 2"),
        "{}",
        out.stderr
    );
    let second = f.repo.path().join("trust/root-2.json");
    // Rotating again would overwrite nothing: root-3 is the next one, root-2 is never rewritten.
    let doc = mmc_bundle::read_unverified(&std::fs::read(&second).unwrap()).unwrap();
    assert_eq!(doc.version, 2);
    assert_eq!(doc.bundle_keys[0].epoch, 2);
    assert_eq!(doc.root_keys.len(), 3);

    // Carol (new) alone, then alice: not yet the old threshold (2 of alice, bob).
    for k in [&carol, &f.alice] {
        let out = root(
            f.repo.path(),
            &[os("sign"), second.as_os_str(), os("--key"), k.as_os_str()],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let out = root(f.repo.path(), &[os("status")]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stdout.contains("by 1 of version 1's, 2 needed"),
        "{}",
        out.stdout
    );
    // Root 2 does not verify yet, so builds (like agents) still follow root 1, and say why.
    let out = build(f.repo.path(), &ci2);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("agents stay at version 1"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("is not a bundle key of root version 1"),
        "{}",
        out.stderr
    );

    let out = root(
        f.repo.path(),
        &[
            os("sign"),
            second.as_os_str(),
            os("--key"),
            f.bob.as_os_str(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = root(f.repo.path(), &[os("status")]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    // Now the old CI key is refused and the new one builds.
    let out = build(f.repo.path(), &f.ci);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("is not a bundle key of root version 2"),
        "{}",
        out.stderr
    );
    let out = build(f.repo.path(), &ci2);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(f.repo.path().join("build/bundles/root-2.json").exists());
}

#[test]
fn sign_in_a_separate_job_checks_the_key_against_the_shipped_roots() {
    let f = fleet();
    let out = run(mmc(f.repo.path()).args(["build", "--unsigned"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bundles = f.repo.path().join("build/bundles");
    assert!(bundles.join("root-1.json").exists());
    let out = run(mmc(f.repo.path())
        .arg("sign")
        .arg(&bundles)
        .arg("--key")
        .arg(&f.bob));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("is not a bundle key of root version 1"),
        "{}",
        out.stderr
    );
    let out = run(mmc(f.repo.path())
        .arg("sign")
        .arg(&bundles)
        .arg("--key")
        .arg(&f.ci));
    assert_eq!(out.code, 0, "{}", out.stderr);
}
