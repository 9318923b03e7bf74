//! End to end: build and sign the example policy repository with the real `mmc`, then converge
//! a temporary root with `mmc-agent run` and the fake macOS commands in `agent/fakes/`.
//!
//! The agent side never links compiler code, not even in tests: `mmc` is run as a program
//! (`cargo test --workspace` builds it; a lone `cargo test -p mmc-agent` builds it first).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

use super::fingerprint;

const NOW: &str = "2025-11-22T08:00:00Z";
/// 2025-11-21T04:40:00Z: the bundles' version and creation time.
const EPOCH: &str = "1763700000";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The `mmc` binary next to this test's binary, built first if it is missing.
fn mmc() -> PathBuf {
    static MMC: OnceLock<PathBuf> = OnceLock::new();
    MMC.get_or_init(|| {
        let agent = PathBuf::from(env!("CARGO_BIN_EXE_mmc-agent"));
        let path = agent.with_file_name("mmc");
        if !path.is_file() {
            let status = Command::new(env!("CARGO"))
                .args(["build", "-q", "-p", "mmc"])
                .current_dir(repo())
                .status()
                .unwrap();
            assert!(status.success(), "cargo build -p mmc failed");
        }
        path
    })
    .clone()
}

/// The example repository built once and signed with a throwaway key.
struct Built {
    _dir: tempfile::TempDir,
    bundle: PathBuf,
    public_key: PathBuf,
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        fs::create_dir(&keys).unwrap();
        fs::set_permissions(&keys, fs::Permissions::from_mode(0o700)).unwrap();
        let out = Command::new(mmc())
            .args(["keygen", "--out"])
            .arg(keys.join("dev"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(mmc())
            .arg("-C")
            .arg(repo())
            .args(["build", "--format", "json", "--key"])
            .arg(keys.join("dev.key"))
            .arg("--out")
            .arg(dir.path().join("out"))
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .env_remove("GITHUB_ACTIONS")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bundle = dir
            .path()
            .join(format!("out/bundles/stable-{EPOCH}.tar.gz"));
        assert!(bundle.is_file(), "mmc build made no {}", bundle.display());
        Built {
            bundle,
            public_key: keys.join("dev.pub"),
            _dir: dir,
        }
    })
}

fn run_agent(root: &Path, extra: &[&str], kill_at: Option<u64>) -> Output {
    let b = built();
    let mut command = Command::new(env!("CARGO_BIN_EXE_mmc-agent"));
    command
        .arg("run")
        .arg("--bundle")
        .arg(&b.bundle)
        .arg("--trust")
        .arg(&b.public_key)
        .arg("--root")
        .arg(root)
        .arg("--commands")
        .arg(repo().join("agent/fakes"))
        .arg("--packages")
        .arg(repo().join("pkgs"))
        .args(["--now", NOW])
        .args(extra);
    match kill_at {
        Some(n) => command.env("MMC_AGENT_KILL_AT", n.to_string()),
        None => command.env_remove("MMC_AGENT_KILL_AT"),
    };
    command.output().unwrap()
}

fn json_run(root: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let out = run_agent(root, &args, None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.code() == Some(0),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap()
}

fn summary(report: &Value, key: &str) -> u64 {
    report["summary"][key].as_u64().unwrap()
}

fn plist_dict(path: &Path) -> plist::Dictionary {
    plist::Value::from_file(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_dictionary()
        .unwrap()
}

/// The report with what changes from run to run (durations) replaced.
fn scrubbed(mut report: Value) -> String {
    for item in report["items"].as_array_mut().unwrap() {
        item["duration_ms"] = Value::from(0);
    }
    report["bundle"]["key_id"] = Value::from("[key id]");
    serde_json::to_string_pretty(&report).unwrap()
}

#[test]
fn the_example_repository_converges_then_stays_converged() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();

    let first = json_run(root, &[]);
    assert_eq!(summary(&first, "failed"), 0);
    assert!(summary(&first, "changed") >= 15, "{first:#}");
    insta::assert_snapshot!("first_run", scrubbed(first));

    // Files: content, mode.
    let banner = fs::read_to_string(root.join("Library/Security/PolicyBanner.txt")).unwrap();
    assert!(banner.contains("property of Example Corp"), "{banner}");
    let sudoers = root.join("etc/sudoers.d/10_examplecorp");
    assert_eq!(
        fs::metadata(&sudoers).unwrap().permissions().mode() & 0o7777,
        0o440
    );
    // Preferences: the managed keys, typed.
    let munki = plist_dict(&root.join("Library/Preferences/ManagedInstalls.plist"));
    assert_eq!(
        munki
            .get("SoftwareRepoURL")
            .and_then(plist::Value::as_string),
        Some("https://munki.example.com/repo")
    );
    // Packages: the fake installer's receipts, and the app bundles Munki's rules look at.
    let receipt = plist_dict(&root.join("var/db/receipts/org.mozilla.firefox.plist"));
    assert_eq!(
        receipt.get("pkg-version").and_then(plist::Value::as_string),
        Some("146.0.1")
    );
    let firefox = plist_dict(&root.join("Applications/Firefox.app/Contents/Info.plist"));
    assert_eq!(
        firefox
            .get("CFBundleShortVersionString")
            .and_then(plist::Value::as_string),
        Some("146.0.1")
    );
    // The agent's own records.
    let state: Value = serde_json::from_slice(
        &fs::read(root.join("Library/Application Support/mmc/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        state["last_applied"]["version"],
        Value::from(1_763_700_000u64)
    );
    let report = plist_dict(
        &root.join("Library/Application Support/mmc/reports/ManagedInstallReport.plist"),
    );
    assert!(report.contains_key("InstallResults"));
    let log = fs::read_to_string(root.join("Library/Application Support/mmc/logs/mmc-agent.log"))
        .unwrap();
    assert!(log.contains("Firefox: install"), "{log}");

    let second = json_run(root, &[]);
    assert_eq!(summary(&second, "changed"), 0, "{second:#}");
    assert_eq!(summary(&second, "failed"), 0);

    // --check on the converged Mac: nothing planned, and not one byte of the root changes.
    let before = fingerprint(root);
    let check = json_run(root, &["--check"]);
    assert_eq!(check["mode"], Value::from("check"));
    assert_eq!(summary(&check, "planned"), 0);
    assert_same_tree(&before, &fingerprint(root));
}

/// Compares two fingerprints, naming the paths that differ.
fn assert_same_tree(
    before: &BTreeMap<String, (u32, Vec<u8>)>,
    after: &BTreeMap<String, (u32, Vec<u8>)>,
) {
    let differing: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(differing.is_empty(), "--check changed: {differing:?}");
}

#[test]
fn check_on_a_fresh_mac_plans_everything_and_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    // Where the fakes keep their bookkeeping (left out of fingerprints).
    fs::create_dir_all(root.join("var/db/mmc-fakes")).unwrap();
    let before = fingerprint(root);
    let check = json_run(root, &["--check"]);
    assert!(summary(&check, "planned") >= 15, "{check:#}");
    assert_eq!(summary(&check, "changed"), 0);
    assert_same_tree(&before, &fingerprint(root));
}

#[test]
fn an_older_bundle_is_refused_after_a_newer_one() {
    let root = tempfile::tempdir().unwrap();
    let state_dir = root.path().join("Library/Application Support/mmc");
    fs::create_dir_all(&state_dir).unwrap();
    fs::write(
        state_dir.join("state.json"),
        r#"{"format":1,"last_applied":{"bundle":"stable","version":1800000000,"dir":"stable-1800000000","at":"2027-01-15T00:00:00Z","manifest":"site_default","changed":0,"unchanged":0,"failed":0},"items":{}}"#,
    )
    .unwrap();
    let out = run_agent(root.path(), &[], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing to roll back"), "{stderr}");
}

#[test]
fn a_second_concurrent_run_is_refused() {
    use std::io::Write;
    let root = tempfile::tempdir().unwrap();
    let state_dir = root.path().join("Library/Application Support/mmc");
    fs::create_dir_all(&state_dir).unwrap();
    let mut lock = fs::File::create(state_dir.join("run.lock")).unwrap();
    lock.lock().unwrap();
    writeln!(lock, "4242\n2025-11-22T07:59:00Z").unwrap();
    let out = run_agent(root.path(), &[], None);
    // EX_TEMPFAIL: not an error, the run under way does the work.
    assert_eq!(out.status.code(), Some(75));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "mmc-agent: busy: another mmc-agent run holds the lock (pid 4242, since 2025-11-22T07:59:00Z); try again when it has finished\n"
    );
    let out = run_agent(root.path(), &["--check"], None);
    assert_eq!(
        out.status.code(),
        Some(75),
        "--check waits for no one but refuses too"
    );
}

/// SIGKILL at many points of a first apply: every managed file is whole (or absent) right
/// after the kill, and the next run converges.
#[test]
fn killed_at_any_point_the_next_run_converges() {
    // The converged Mac, for reference.
    let reference = tempfile::tempdir().unwrap();
    json_run(reference.path(), &[]);
    let wanted = fingerprint(reference.path());
    let managed: Vec<&String> = wanted
        .keys()
        .filter(|p| {
            !p.starts_with("Library/Application Support/mmc") && !p.starts_with("var/db/mmc-fakes")
        })
        .filter(|p| wanted[*p].0 & 0o170000 == 0o100000)
        .collect();
    assert!(managed.len() > 20, "{managed:?}");

    let mut kills = 0;
    let mut point = 1;
    loop {
        let root = tempfile::tempdir().unwrap();
        let out = run_agent(root.path(), &["--format", "json"], Some(point));
        if out.status.signal() != Some(9) {
            // The run finished before reaching this point: every point was tried.
            assert_eq!(out.status.code(), Some(0));
            break;
        }
        kills += 1;
        let after_kill = fingerprint(root.path());
        for path in &managed {
            if let Some((_, content)) = after_kill.get(*path) {
                assert_eq!(
                    content, &wanted[*path].1,
                    "{path} is partial after a kill at point {point}"
                );
            }
        }
        let report = json_run(root.path(), &[]);
        assert_eq!(
            summary(&report, "failed"),
            0,
            "after a kill at point {point}: {report:#}"
        );
        let again = json_run(root.path(), &[]);
        assert_eq!(
            summary(&again, "changed"),
            0,
            "after a kill at point {point}: {again:#}"
        );
        for path in &managed {
            assert_eq!(
                fingerprint(root.path()).get(*path).map(|(_, c)| c),
                Some(&wanted[*path].1),
                "{path} after recovering from point {point}"
            );
        }
        point += 5;
    }
    eprintln!("killed at {kills} points, every 5th of the first apply's steps");
    assert!(kills >= 20, "only {kills} kill points were reached");
}
