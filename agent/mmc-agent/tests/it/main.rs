//! Runs the real `mmc-agent` binary against bundles built and signed in a temporary directory,
//! and (`condition`) against conditions and facts files.

mod commands;
mod condition;
mod converge;
mod hardening;
mod hostile;
mod profiles;
mod scenarios;
mod trust;
mod updates;
mod versions;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mmc_bundle::{
    ArchiveRef, FORMAT_VERSION, SigningKey, Statement, key_id, public_key_to_pem, sign,
    write_archive,
};

/// A throwaway fleet: one signed bundle, the signer's public key and an unrelated key.
struct Fixture {
    dir: tempfile::TempDir,
    bundle: PathBuf,
    trusted_pem: PathBuf,
    other_pem: PathBuf,
    signer_id: String,
}

const NOW: &str = "2026-11-25T12:00:00Z";
const BUNDLE_NAME: &str = "stable-1763700000.tar.gz";

fn files() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    files.insert("agent.json".to_owned(), b"{\"interval\":1800}\n".to_vec());
    files.insert(
        "profiles/com.example.wifi.mobileconfig".to_owned(),
        b"<plist/>\n".to_vec(),
    );
    files.insert(
        "munki/manifests/site_default".to_owned(),
        b"<plist/>\n".to_vec(),
    );
    files
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_archive(write_archive(&files()).unwrap())
    }

    /// Signs `archive` (whatever its bytes) as bundle `stable`.
    fn with_archive(archive: Vec<u8>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let signer = SigningKey::from_bytes(&[11; 32]);
        let other = SigningKey::from_bytes(&[22; 32]);
        let statement = Statement {
            format: FORMAT_VERSION,
            name: "stable".to_owned(),
            audience: "com.example:stable".to_owned(),
            version: 1_763_700_000,
            created: "2026-11-21T05:31:00Z".to_owned(),
            expires: "2026-12-01T00:00:00Z".to_owned(),
            key_id: key_id(&signer.verifying_key()),
            archive: ArchiveRef::of(BUNDLE_NAME, &archive),
        };
        let bundle = dir.path().join(BUNDLE_NAME);
        fs::write(&bundle, &archive).unwrap();
        fs::write(
            dir.path().join(format!("{BUNDLE_NAME}.sig")),
            sign(&statement, &signer),
        )
        .unwrap();
        let trusted_pem = dir.path().join("ci.pem");
        fs::write(&trusted_pem, public_key_to_pem(&signer.verifying_key())).unwrap();
        let other_pem = dir.path().join("other.pem");
        fs::write(&other_pem, public_key_to_pem(&other.verifying_key())).unwrap();
        Fixture {
            bundle,
            trusted_pem,
            other_pem,
            signer_id: key_id(&signer.verifying_key()),
            dir,
        }
    }

    /// `mmc-agent verify BUNDLE --trust ci.pem --now NOW` plus `extra`.
    fn verify(&self, extra: &[&str]) -> Output {
        let mut args: Vec<String> = vec![
            "verify".into(),
            self.bundle.display().to_string(),
            "--trust".into(),
            self.trusted_pem.display().to_string(),
            "--now".into(),
            NOW.into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        agent(&args, None)
    }
}

fn agent<S: AsRef<std::ffi::OsStr>>(args: &[S], tmpdir: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mmc-agent"));
    command.args(args);
    if let Some(tmp) = tmpdir {
        command.env("TMPDIR", tmp);
    }
    command.output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Asserts exit status 2 with one `mmc-agent: error: …` line containing `needle`.
fn assert_fails_with(output: &Output, needle: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "stderr: {err}");
    assert!(output.stdout.is_empty(), "stdout: {}", stdout(output));
    assert!(err.starts_with("mmc-agent: error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

/// Every path under `root` with its type, mode and content: a fingerprint of the whole tree.
/// The fakes' own bookkeeping (`var/db/mmc-fakes`, e.g. the log of script runs the fake `zsh`
/// keeps) is left out: it records that a check script ran, which Munki's rules require.
/// A symbolic link's content is its target.
pub(crate) fn fingerprint(root: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = fs::symlink_metadata(entry.path()).unwrap();
            let rel = entry
                .path()
                .strip_prefix(root)
                .unwrap()
                .display()
                .to_string();
            if rel.starts_with("var/db/mmc-fakes") {
                continue;
            }
            let content = if meta.is_file() {
                fs::read(entry.path()).unwrap()
            } else if meta.is_symlink() {
                fs::read_link(entry.path())
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else {
                Vec::new()
            };
            out.insert(rel, (meta.mode(), content));
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    out
}

#[test]
fn valid_bundle_verifies() {
    let fx = Fixture::new();
    let output = fx.verify(&[]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!(
            "verified stable version 1763700000 (audience com.example:stable, key {}, 3 files, expires 2026-12-01T00:00:00Z)\n",
            fx.signer_id
        )
    );
    assert!(output.stderr.is_empty());
}

#[test]
fn scratch_extraction_leaves_nothing_behind() {
    let fx = Fixture::new();
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "verify",
        fx.bundle.to_str().unwrap(),
        "--trust",
        fx.trusted_pem.to_str().unwrap(),
        "--now",
        NOW,
    ];
    let output = agent(&args, Some(tmp.path()));
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn extract_keeps_the_verified_files() {
    let fx = Fixture::new();
    let dest = fx.dir.path().join("out");
    let output = fx.verify(&["--extract", dest.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    for (path, data) in files() {
        assert_eq!(fs::read(dest.join(&path)).unwrap(), data, "{path}");
    }
    assert!(dest.join("index.json").is_file());

    // A second run must not overwrite it.
    let output = fx.verify(&["--extract", dest.to_str().unwrap()]);
    assert_fails_with(&output, "already exists");
}

#[test]
fn extract_creates_missing_parent_directories() {
    let fx = Fixture::new();
    let dest = fx.dir.path().join("a/b/out");
    let output = fx.verify(&["--extract", dest.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert!(dest.join("index.json").is_file());
}

#[test]
fn flipped_byte_is_refused() {
    let fx = Fixture::new();
    let mut archive = fs::read(&fx.bundle).unwrap();
    let middle = archive.len() / 2;
    archive[middle] ^= 0x40;
    fs::write(&fx.bundle, archive).unwrap();
    let output = fx.verify(&[]);
    assert_fails_with(
        &output,
        "archive SHA-256 does not match the signed statement",
    );
}

#[test]
fn untrusted_signer_is_refused() {
    let fx = Fixture::new();
    let args = [
        "verify",
        fx.bundle.to_str().unwrap(),
        "--trust",
        fx.other_pem.to_str().unwrap(),
        "--now",
        NOW,
    ];
    let output = agent(&args, None);
    assert_fails_with(&output, &format!("signed by unknown key {}", fx.signer_id));
}

#[test]
fn either_of_two_trusted_keys_will_do() {
    let fx = Fixture::new();
    let output = fx.verify(&["--trust", fx.other_pem.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
}

#[test]
fn missing_signature_is_explained() {
    let fx = Fixture::new();
    let sig = fx.dir.path().join(format!("{BUNDLE_NAME}.sig"));
    let moved = fx.dir.path().join("elsewhere.sig");
    fs::rename(&sig, &moved).unwrap();

    let output = fx.verify(&[]);
    assert_fails_with(
        &output,
        &format!("signature envelope {} not found", sig.display()),
    );
    assert!(
        stderr(&output).contains("--signature"),
        "{}",
        stderr(&output)
    );

    let output = fx.verify(&["--signature", moved.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
}

#[test]
fn expired_bundle_is_refused() {
    let fx = Fixture::new();
    let args = [
        "verify",
        fx.bundle.to_str().unwrap(),
        "--trust",
        fx.trusted_pem.to_str().unwrap(),
        "--now",
        "2026-12-02T10:00:00Z",
    ];
    assert_fails_with(
        &agent(&args, None),
        "bundle expired at 2026-12-01T00:00:00Z (now 2026-12-02T10:00:00Z)",
    );
}

#[test]
fn signed_but_corrupt_archive_fails_extraction() {
    // Authentic signature and hash over bytes that are not a gzip stream: only the extractor
    // can catch this (think: a compromised signing key).
    let fx = Fixture::with_archive(b"definitely not a tar.gz".to_vec());
    assert_fails_with(&fx.verify(&[]), "archive is corrupt or truncated");
}

#[test]
fn bad_trust_file_is_named() {
    let fx = Fixture::new();
    let bogus = fx.dir.path().join("bogus.pem");
    fs::write(&bogus, "not a key").unwrap();
    let args = [
        "verify",
        fx.bundle.to_str().unwrap(),
        "--trust",
        bogus.to_str().unwrap(),
    ];
    assert_fails_with(
        &agent(&args, None),
        &format!("trusted key file {}", bogus.display()),
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_fails_with(&agent::<&str>(&[], None), "no command given");
    assert_fails_with(&agent(&["frobnicate"], None), "unknown command");
    assert_fails_with(&agent(&["--bogus"], None), "--bogus");
    assert_fails_with(&agent(&["verify"], None), "missing BUNDLE");
    assert_fails_with(&agent(&["verify", "x.tar.gz"], None), "give --trust PUBKEY");
    assert_fails_with(&agent(&["verify", "x.tar.gz", "--trust"], None), "--trust");
    assert_fails_with(
        &agent(&["verify", "a", "b", "--trust", "k"], None),
        "unexpected argument",
    );
    assert_fails_with(
        &agent(&["verify", "a", "--trust", "k", "--now", "tomorrow"], None),
        "--now \"tomorrow\" is not an RFC 3339 time",
    );
}

#[test]
fn help_and_version() {
    let output = agent(&["--help"], None);
    assert_eq!(output.status.code(), Some(0));
    let help = stdout(&output);
    assert!(help.contains("  verify "), "{help}");
    assert!(help.contains("Exit status"), "{help}");

    let output = agent(&["verify", "--help"], None);
    assert_eq!(output.status.code(), Some(0));
    let help = stdout(&output);
    for needle in [
        "--trust PUBKEY",
        "--signature FILE",
        "--extract DIR",
        "--now TIME",
        "Example:",
        "created <= now < expires",
    ] {
        assert!(help.contains(needle), "{needle:?} missing from: {help}");
    }

    let output = agent(&["--version"], None);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout(&output),
        format!(
            "mmc-agent {} (bundle format 1)\n",
            env!("CARGO_PKG_VERSION")
        )
    );
}
