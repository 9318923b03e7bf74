//! security.md §8 at the command line: the signing-key rows (a key file inside the repository,
//! a key others can read, the wrong key) and template file exfiltration (a policy file that is a
//! link to a secret). Each refusal exits 2 before anything is signed or written.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::*;

/// `mmc keygen --out DIR/NAME`: the private key's path and the key id printed on stdout.
fn keygen_named(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let out = run(mmc(dir).args(["keygen", "--out"]).arg(dir.join(name)));
    assert_eq!(out.code, 0, "{}", out.stderr);
    (
        dir.join(format!("{name}.key")),
        out.stdout.trim().to_owned(),
    )
}

/// Every file below `dir`, relative; empty when `dir` does not exist.
fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[track_caller]
fn assert_refused(out: &Output, needle: &str) {
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(needle),
        "{needle:?} in:\n{}",
        out.stderr
    );
}

#[test]
fn signing_key_inside_the_policy_repository_is_refused() {
    // Not tracked, and even ignored by git: still refused, before the key is read.
    let repo = fixture(None);
    std::fs::write(repo.path().join(".gitignore"), "/keys/\n/build/\n").unwrap();
    commit_all(repo.path());
    std::fs::create_dir(repo.path().join("keys")).unwrap();
    let (key, _) = keygen_named(&repo.path().join("keys"), "signing");
    let out = run(mmc(repo.path()).args(["build", "--key"]).arg(&key));
    assert_refused(&out, "inside the policy repository");
    assert!(out.stderr.contains("Move the key out"), "{}", out.stderr);
    assert!(!repo.path().join("build").exists());

    // A link from outside to the key inside is judged by where the key is.
    let elsewhere = tempfile::tempdir().unwrap();
    let link = elsewhere.path().join("innocent.key");
    std::os::unix::fs::symlink(&key, &link).unwrap();
    let out = run(mmc(repo.path()).args(["build", "--key"]).arg(&link));
    assert_refused(&out, "inside the policy repository");

    // `mmc sign` too: the bundles an unsigned build wrote stay unsigned.
    let out = run(mmc(repo.path()).args(["build", "--unsigned"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let before = files_below(&repo.path().join("build"));
    let out = run(mmc(repo.path()).args(["sign", "--key"]).arg(&key));
    assert_refused(&out, "inside the policy repository");
    assert_eq!(files_below(&repo.path().join("build")), before);
    assert!(before.iter().all(|f| !f.ends_with(".sig")), "{before:?}");
}

#[test]
fn signing_key_inside_the_git_work_tree_of_the_repository_is_refused() {
    // The policy repository is a folder of a larger checkout; the key sits in another folder of
    // that checkout (ignored, so `git status` shows nothing).
    let checkout = tempfile::tempdir().unwrap();
    let repo = checkout.path().join("fleet/policy");
    std::fs::create_dir_all(&repo).unwrap();
    copy_tree(fixture(None).path(), &repo);
    std::fs::write(checkout.path().join(".gitignore"), "/secrets/\nbuild/\n").unwrap();
    commit_all(checkout.path());
    std::fs::create_dir(checkout.path().join("secrets")).unwrap();
    let (key, _) = keygen_named(&checkout.path().join("secrets"), "signing");
    let out = run(mmc(&repo).args(["build", "--key"]).arg(&key));
    assert_refused(&out, "inside its git work tree");
    assert!(!repo.join("build").exists());
}

#[test]
fn signing_key_others_can_read_is_refused_before_it_is_read() {
    let repo = fixture(None);
    commit_all(repo.path());
    let keys = tempfile::tempdir().unwrap();
    let (key, _) = keygen_named(keys.path(), "signing");
    // Not a key at all: had mmc read it, it would say so. The mode check comes first.
    std::fs::write(&key, "not a key").unwrap();
    for mode in [0o640, 0o604, 0o660, 0o666] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = run(mmc(repo.path()).args(["build", "--key"]).arg(&key));
        assert_refused(&out, &format!("readable by other users (mode {mode:04o})"));
        assert!(!out.stderr.contains("not an ed25519"), "{}", out.stderr);
        assert!(!repo.path().join("build").exists());
    }
    let out = run(mmc(repo.path()).args(["build", "--unsigned"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run(mmc(repo.path()).args(["sign", "--key"]).arg(&key));
    assert_refused(&out, "chmod 600");
}

#[test]
fn wrong_signing_key_is_refused_before_signing() {
    let repo = fixture(None);
    commit_all(repo.path());
    let keys = tempfile::tempdir().unwrap();
    let (key, key_id) = keygen_named(keys.path(), "signing");
    let (_, other_id) = keygen_named(keys.path(), "other");
    assert_ne!(key_id, other_id);

    // mmc build: nothing is written.
    let out = run(mmc(repo.path())
        .args(["build", "--expect-key-id", &other_id, "--key"])
        .arg(&key));
    assert_refused(
        &out,
        &format!(
            "key id mismatch: {} is key {key_id}, but --expect-key-id is {other_id}; nothing was signed",
            key.display()
        ),
    );
    assert!(!repo.path().join("build").exists());
    // The key from the environment, too.
    let pem = std::fs::read_to_string(&key).unwrap();
    let out = run(mmc(repo.path())
        .args(["build", "--expect-key-id", &other_id])
        .env("MMC_SIGNING_KEY", &pem));
    assert_refused(&out, "key id mismatch: $MMC_SIGNING_KEY is key");
    assert!(!repo.path().join("build").exists());
    // Not a key id at all.
    let out = run(mmc(repo.path())
        .args(["build", "--expect-key-id", "dev", "--key"])
        .arg(&key));
    assert_refused(&out, "--expect-key-id \"dev\" is not a key id");

    // mmc sign: the statements stay unsigned.
    let out = run(mmc(repo.path()).args(["build", "--unsigned"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let before = files_below(&repo.path().join("build"));
    let out = run(mmc(repo.path())
        .args(["sign", "--expect-key-id", &other_id, "--key"])
        .arg(&key));
    assert_refused(&out, "key id mismatch");
    assert_eq!(files_below(&repo.path().join("build")), before);

    // The right id signs.
    let out = run(mmc(repo.path())
        .args(["sign", "--expect-key-id", &key_id, "--key"])
        .arg(&key));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let after = files_below(&repo.path().join("build"));
    assert!(
        after.iter().any(|f| f.ends_with(".tar.gz.sig")),
        "{after:?}"
    );
    std::fs::remove_dir_all(repo.path().join("build")).unwrap();
    let out = run(mmc(repo.path())
        .args(["build", "--expect-key-id", &key_id, "--key"])
        .arg(&key));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn template_file_exfiltration_through_a_linked_policy_file_is_refused() {
    // Templates are strings inside policy files (there is no template loader: include, import
    // and extends do not exist), so the only way to pull a file into a bundle is to make a policy
    // file a link to it. `mmc build` refuses the link, whatever it points at, and never shows
    // the target's text.
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("id_ed25519");
    std::fs::write(
        &secret,
        "display_name: \"-----BEGIN OPENSSH PRIVATE KEY----- s3cr3t\"\npayloads: []\n",
    )
    .unwrap();
    let repo = fixture(None);
    std::os::unix::fs::symlink(&secret, repo.path().join("profiles/x.yaml")).unwrap();
    commit_all(repo.path());
    let keys = tempfile::tempdir().unwrap();
    let (key, _) = keygen_named(keys.path(), "signing");
    let out = run(mmc(repo.path()).args(["build", "--key"]).arg(&key));
    assert_refused(&out, "profiles/x.yaml is a symbolic link");
    assert!(
        !out.stderr.contains("s3cr3t") && !out.stdout.contains("s3cr3t"),
        "{}",
        out.stderr
    );
    assert!(!repo.path().join("build").exists());
}
