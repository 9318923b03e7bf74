//! The same commit builds byte-identical bundles (and MDM files) whatever the time zone, umask,
//! locale, checkout location or file modification times.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::*;

/// Every file below `dir` (the bundles, and the MDM files) by its path below `dir`.
fn bundle_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
                continue;
            }
            out.insert(
                entry
                    .path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                std::fs::read(entry.path()).unwrap(),
            );
        }
    }
    out
}

fn build_with(
    repo: &Path,
    key: &Path,
    tz: &str,
    umask: &str,
    lang: &str,
) -> BTreeMap<String, Vec<u8>> {
    let script = format!("umask {umask} && exec \"$0\" \"$@\"");
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_mmc"))
        .args(["build", "--key"])
        .arg(key);
    cmd.current_dir(repo)
        .env("TZ", tz)
        .env("LANG", lang)
        .env("LC_ALL", lang)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("MMC_SIGNING_KEY");
    let out = run(&mut cmd);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut files = bundle_bytes(&repo.join("build/bundles"));
    if repo.join("build/mdm").is_dir() {
        for (path, bytes) in bundle_bytes(&repo.join("build/mdm")) {
            files.insert(format!("mdm/{path}"), bytes);
        }
    }
    files
}

fn assert_reproducible(source: &Path) {
    let first = tempfile::tempdir().unwrap();
    copy_policy_tree(source, first.path());
    commit_all(first.path());

    // A second checkout of the same commit, elsewhere, with other modification times.
    let second = tempfile::tempdir().unwrap();
    let clone = second.path().join("clone");
    git(
        second.path(),
        &["clone", "-q", first.path().to_str().unwrap(), "clone"],
    );
    for rel in walk(&clone) {
        let path = clone.join(&rel);
        let t = std::fs::FileTimes::new()
            .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000));
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_times(t)
            .unwrap();
    }

    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path());
    let a = build_with(first.path(), &key, "UTC", "022", "C");
    let b = build_with(&clone, &key, "Pacific/Kiritimati", "077", "de_DE.UTF-8");
    assert!(!a.is_empty());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(bytes == &b[name], "{name} differs between the two builds");
    }
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["mmc.yaml", "policies", "profiles"] {
        let p = dir.join(sub);
        if p.is_file() {
            out.push(sub.to_owned());
        } else if p.is_dir() {
            let mut stack = vec![p];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).unwrap() {
                    let e = e.unwrap();
                    if e.file_type().unwrap().is_dir() {
                        stack.push(e.path());
                    } else {
                        out.push(
                            e.path()
                                .strip_prefix(dir)
                                .unwrap()
                                .to_string_lossy()
                                .into_owned(),
                        );
                    }
                }
            }
        }
    }
    out
}

#[test]
fn fixture_builds_are_byte_identical() {
    assert_reproducible(&fixtures().join("base"));
}

#[test]
fn example_org_builds_are_byte_identical() {
    assert_reproducible(&example_repo());
}

#[test]
fn update_policy_builds_are_byte_identical() {
    let repo = fixture(Some("updates"));
    assert_reproducible(repo.path());
}
