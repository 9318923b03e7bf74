//! Running `mmc` in a controlled environment, and building fixture repositories.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// `mmc` with an environment that cannot leak into results.
pub fn mmc(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mmc"));
    c.current_dir(dir)
        .env_remove("MMC_SIGNING_KEY")
        .env_remove("MMC_REPO")
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    c
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("mmc runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The repository root, which is also the example policy repository.
pub fn example_repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A temporary policy repository: the `base` fixture with the files of `cases/<case>` laid over it.
pub fn fixture(case: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_policy_tree(&fixtures().join("base"), dir.path());
    if let Some(case) = case {
        copy_tree(&fixtures().join("cases").join(case), dir.path());
    }
    dir
}

/// Copies `mmc.yaml`, `policies/` and `profiles/` of a repository.
pub fn copy_policy_tree(from: &Path, to: &Path) {
    std::fs::copy(from.join("mmc.yaml"), to.join("mmc.yaml")).unwrap();
    for dir in ["policies", "profiles"] {
        if from.join(dir).is_dir() {
            copy_tree(&from.join(dir), &to.join(dir));
        }
    }
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A fresh key pair outside any repository; returns the private key path.
pub fn keygen(dir: &Path) -> PathBuf {
    let prefix = dir.join("signing");
    let out = run(mmc(dir).args(["keygen", "--out"]).arg(&prefix));
    assert_eq!(out.code, 0, "{}", out.stderr);
    dir.join("signing.key")
}

pub fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=mmc test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("GIT_AUTHOR_DATE", "2026-11-01T12:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-11-01T12:00:00Z")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

/// A git repository holding `dir`'s files in one commit dated 2026-11-01T12:00:00Z.
pub fn commit_all(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "policies"]);
}

/// Unix time of 2026-11-01T12:00:00Z, the commit time `commit_all` uses.
pub const COMMIT_TIME: u64 = 1_793_534_400;
