//! Regression tests for the fixes of a security review of the root agent (commit 19e4a1a):
//! what a local user can plant on the Mac (links, FIFOs, deep plists, group-writable
//! condition scripts, a predictable `--check` folder), what the agent leaves readable, and
//! what reaches its reports. Each test would have failed before the fix.
//!
//! They use the scenario harness (`scenarios.rs`). Tests that give files to another user
//! (uid 502, like a Mac's first account) need root and return early without it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Seek};
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use mmc_bundle::{ArchiveRef, FORMAT_VERSION, Statement, key_id, sign};
use mmc_config::PrefScope;
use plist::{Dictionary, Value as Plist};
use serde_json::Value;

use crate::scenarios::{
    BundleBuilder, Mac, NOW, STATE_DIR, V1, app, assert_has, dict, fakes, is_root, item, owner,
    payload_file, receipt, report_of, sha256, signer, steps, summary, text,
};

/// A Mac user's ids: the first account macOS creates, in group staff.
const ALICE: (u32, u32) = (502, 20);

/// How long a run may take before a test calls it hung.
const HUNG: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Helpers.

/// Whether the test can go on; says why not when it cannot.
fn root_or_skip() -> bool {
    if !is_root() {
        eprintln!("skipped: needs root to give files to another user");
    }
    is_root()
}

/// A Mac whose root the agent's child processes running as a user can reach.
fn mac() -> Mac {
    let mac = Mac::new();
    fs::set_permissions(mac.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(mac.root(), fs::Permissions::from_mode(0o755)).unwrap();
    mac
}

/// Creates the Mac folder `mac_path` (and its parents), owned by `ids`, with `mode`.
fn folder(mac: &Mac, mac_path: &str, ids: (u32, u32), mode: u32) {
    let path = mac.path(mac_path);
    fs::create_dir_all(&path).unwrap();
    std::os::unix::fs::chown(&path, Some(ids.0), Some(ids.1)).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A home folder `/Users/NAME` with `Library/Preferences`, all owned by `ids`.
fn home(mac: &Mac, name: &str, ids: (u32, u32)) {
    folder(mac, &format!("/Users/{name}"), ids, 0o755);
    folder(mac, &format!("/Users/{name}/Library"), ids, 0o700);
    folder(
        mac,
        &format!("/Users/{name}/Library/Preferences"),
        ids,
        0o700,
    );
}

/// A symlink at the Mac path `link` to the host path `target`, owned by `ids`.
fn link(mac: &Mac, link: &str, target: &Path, ids: (u32, u32)) {
    let path = mac.path(link);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    symlink(target, &path).unwrap();
    if is_root() {
        lchown(&path, Some(ids.0), Some(ids.1)).unwrap();
    }
}

fn set_mode(mac: &Mac, mac_path: &str, mode: u32) {
    fs::set_permissions(mac.path(mac_path), fs::Permissions::from_mode(mode)).unwrap();
}

fn binary(d: &Dictionary) -> Vec<u8> {
    let mut bytes = Vec::new();
    Plist::Dictionary(d.clone())
        .to_writer_binary(&mut bytes)
        .unwrap();
    bytes
}

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

/// Everything under `dir`, not following links: kind, mode, owner, and content or target.
/// Two equal trees are byte-identical.
fn tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(path) = todo.pop() {
        let meta = fs::symlink_metadata(&path).unwrap();
        let what = if meta.is_dir() {
            for entry in fs::read_dir(&path).unwrap() {
                todo.push(entry.unwrap().path());
            }
            "dir".to_owned()
        } else if meta.file_type().is_symlink() {
            format!("link to {}", fs::read_link(&path).unwrap().display())
        } else if meta.is_file() {
            format!(
                "file {:?}",
                String::from_utf8_lossy(&fs::read(&path).unwrap())
            )
        } else {
            "special".to_owned()
        };
        let rel = path.strip_prefix(dir).unwrap().to_path_buf();
        let line = format!(
            "{what} mode {:o} owner {}:{}",
            meta.mode() & 0o7777,
            meta.uid(),
            meta.gid()
        );
        out.insert(rel, line);
    }
    out
}

/// The names in a directory, sorted (none when it does not exist).
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// The agent command `Mac::agent` runs (`mmc-agent COMMAND --root … --bundle B --trust T
/// EXTRA`), to be changed (environment, wrapper) before it is started with [`finish`].
fn command(mac: &Mac, subcommand: &str, bundle: &Path, extra: &[&str]) -> Command {
    let mut args: Vec<OsString> = vec![
        subcommand.into(),
        "--root".into(),
        mac.root().into(),
        "--commands".into(),
        fakes().into(),
        "--packages".into(),
        mac.packages().into(),
        "--now".into(),
        NOW.into(),
        "--bundle".into(),
        bundle.into(),
        "--trust".into(),
        mac.trusted().into(),
    ];
    args.extend(extra.iter().map(OsString::from));
    let mut command = Command::new(env!("CARGO_BIN_EXE_mmc-agent"));
    command.args(args).env_remove("MMC_AGENT_KILL_AT");
    command
}

/// Runs `command` to its end; kills it and fails the test if it takes longer than `limit`.
fn finish(mut command: Command, limit: Duration) -> Output {
    let mut stdout = tempfile::tempfile().unwrap();
    let mut stderr = tempfile::tempfile().unwrap();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(stdout.try_clone().unwrap())
        .stderr(stderr.try_clone().unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the agent was still running after {limit:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |file: &mut fs::File| {
        let mut bytes = Vec::new();
        file.rewind().unwrap();
        file.read_to_end(&mut bytes).unwrap();
        bytes
    };
    Output {
        status,
        stdout: read(&mut stdout),
        stderr: read(&mut stderr),
    }
}

/// `mmc-agent run --format json` with `bundle`, killed (failing the test) if it hangs.
fn run_within(mac: &Mac, bundle: &Path, limit: Duration) -> (i32, Value) {
    let out = finish(command(mac, "run", bundle, &["--format", "json"]), limit);
    report_of(&out, &String::from_utf8_lossy(&out.stdout))
}

/// As `BundleBuilder::sign`, with the statement's audience `audience`, into `dir`.
fn sign_for(bundle: &BundleBuilder, mac: &Mac, dir: &Path, audience: &str) -> PathBuf {
    for (location, bytes) in &bundle.payloads {
        fs::write(mac.packages().join(location), bytes).unwrap();
    }
    let archive = bundle.archive();
    let file = format!("stable-{}.tar.gz", bundle.version);
    let statement = Statement {
        format: FORMAT_VERSION,
        name: "stable".to_owned(),
        audience: audience.to_owned(),
        version: bundle.version,
        created: "2026-11-21T05:31:00Z".to_owned(),
        expires: bundle.expires.clone(),
        key_id: key_id(&signer().verifying_key()),
        archive: ArchiveRef::of(file.as_str(), &archive),
    };
    fs::create_dir_all(dir).unwrap();
    let path = dir.join(&file);
    fs::write(&path, &archive).unwrap();
    fs::write(dir.join(format!("{file}.sig")), sign(&statement, &signer())).unwrap();
    path
}

fn user_prefs(version: u64) -> BundleBuilder {
    BundleBuilder::new(version)
        .preference(
            "UserPrefs",
            "com.example.editor",
            PrefScope::User,
            dict([("ShowWelcome", false.into())]),
        )
        .manifest(&[("managed_installs", &["UserPrefs"])])
}

const EDITOR: &str = "/Users/alice/Library/Preferences/com.example.editor.plist";

// ---------------------------------------------------------------------------------------------
// H2: a user's preferences are written as that user, so links in the home lead nowhere.

/// Alice links her preferences file to a root-only file. Root used to read it through the
/// link, add the managed key, and write the lot to a new file of Alice's: she could read any
/// plist on the Mac.
#[test]
fn a_user_preference_linked_to_a_root_only_file_does_not_leak_it() {
    if !root_or_skip() {
        return;
    }
    let mac = mac();
    let secret = "/var/root/Library/Preferences/com.example.secret.plist";
    mac.write(
        secret,
        binary(&dict([
            ("Password", "hunter2".into()),
            ("Token", "s3cr3t".into()),
        ])),
    );
    set_mode(&mac, secret, 0o600);
    set_mode(&mac, "/var/root", 0o700);
    let before = tree(&mac.path("/var/root"));
    home(&mac, "alice", ALICE);
    link(&mac, EDITOR, &mac.path(secret), ALICE);

    let (code, report) = run_within(&mac, &user_prefs(V1).sign(&mac), HUNG);
    assert_eq!(
        tree(&mac.path("/var/root")),
        before,
        "the secret file changed"
    );
    // Alice's link was replaced by her own file, holding only the managed key.
    let meta = fs::symlink_metadata(mac.path(EDITOR)).unwrap();
    assert!(meta.is_file(), "{meta:?}");
    assert_eq!((meta.uid(), meta.gid()), ALICE);
    assert_eq!(mac.plist(EDITOR), dict([("ShowWelcome", false.into())]));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(text(item(&report, "UserPrefs"), "result"), "changed");
}

/// Alice makes `~/Library/Preferences` a link to `/Library/Preferences`: root used to write
/// there, giving her a file in the system's preferences folder.
#[test]
fn a_linked_user_preferences_folder_does_not_reach_the_system_folder() {
    if !root_or_skip() {
        return;
    }
    let mac = mac();
    let system = "/Library/Preferences";
    mac.write(
        &format!("{system}/com.example.editor.plist"),
        binary(&dict([("Site", "hq".into())])),
    );
    mac.write(
        &format!("{system}/com.example.updater.plist"),
        binary(&dict([("AutoUpdate", true.into())])),
    );
    let before = tree(&mac.path(system));
    folder(&mac, "/Users/alice", ALICE, 0o755);
    folder(&mac, "/Users/alice/Library", ALICE, 0o700);
    link(
        &mac,
        "/Users/alice/Library/Preferences",
        &mac.path(system),
        ALICE,
    );

    let (code, report) = run_within(&mac, &user_prefs(V1).sign(&mac), HUNG);
    let after = tree(&mac.path(system));
    assert!(
        after.values().all(|line| !line.contains("owner 502:")),
        "a file of uid 502 in {system}: {after:#?}"
    );
    assert_eq!(after, before);
    // Alice, not root, tried to write there, and could not.
    assert_eq!(code, 1, "{report:#}");
    let prefs = item(&report, "UserPrefs");
    assert_eq!(text(prefs, "result"), "failed");
    assert_has(text(prefs, "error"), "as uid 502");
}

/// The folders the agent creates for a user's preferences are the user's, 0700, and so is
/// the new file (0600, as cfprefsd makes them).
#[test]
fn a_missing_user_preferences_folder_is_created_private_to_the_user() {
    if !root_or_skip() {
        return;
    }
    let mac = mac();
    folder(&mac, "/Users/alice", ALICE, 0o755);
    let (code, report) = run_within(&mac, &user_prefs(V1).sign(&mac), HUNG);
    assert_eq!(code, 0, "{report:#}");
    for dir in ["/Users/alice/Library", "/Users/alice/Library/Preferences"] {
        assert_eq!(owner(&mac, dir), ALICE, "{dir}");
        assert_eq!(mac.mode(dir), 0o700, "{dir}");
    }
    assert_eq!(owner(&mac, EDITOR), ALICE);
    assert_eq!(mac.mode(EDITOR), 0o600);
    assert_eq!(mac.plist(EDITOR), dict([("ShowWelcome", false.into())]));
}

// ---------------------------------------------------------------------------------------------
// H3: files the agent does not control cannot hang or crash it.

/// A FIFO where an app's Info.plist should be (anyone may write /Users/Shared) and one where
/// a user's preferences file should be: opening them for reading used to wait forever.
#[test]
fn fifos_for_an_info_plist_and_a_user_preference_do_not_hang_the_run() {
    let mac = mac();
    mkfifo(&mac.path("/Users/Shared/Evil.app/Contents/Info.plist"));
    if is_root() {
        home(&mac, "alice", ALICE);
    } else {
        fs::create_dir_all(mac.path("/Users/alice/Library/Preferences")).unwrap();
    }
    mkfifo(&mac.path(EDITOR));

    let (code, report) = run_within(&mac, &user_prefs(V1).sign(&mac), HUNG);
    assert_eq!(code, 1, "{report:#}");
    let prefs = item(&report, "UserPrefs");
    assert_eq!(text(prefs, "result"), "failed");
    assert_has(text(prefs, "error"), "not a readable plist");
    assert!(
        mac.path(&format!("/{STATE_DIR}/reports/report.json"))
            .is_file()
    );
    // Both are still FIFOs: nothing replaced them.
    use std::os::unix::fs::FileTypeExt;
    for fifo in ["/Users/Shared/Evil.app/Contents/Info.plist", EDITOR] {
        let kind = fs::symlink_metadata(mac.path(fifo)).unwrap().file_type();
        assert!(kind.is_fifo(), "{fifo}");
    }
}

/// An Info.plist of 100000 nested arrays used to overflow the stack while the agent listed
/// the applications, on every run.
#[test]
fn a_deeply_nested_info_plist_does_not_crash_the_run() {
    let mac = mac();
    let depth = 100_000;
    let mut deep =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n");
    deep.push_str(&"<array>".repeat(depth));
    deep.push_str(&"</array>".repeat(depth));
    deep.push_str("\n</plist>\n");
    mac.write("/Applications/Deep.app/Contents/Info.plist", deep);
    let bundle = BundleBuilder::new(V1)
        .file("Motd", "/etc/motd", "managed\n", "0644")
        .manifest(&[("managed_installs", &["Motd"])])
        .sign(&mac);
    let out = finish(command(&mac, "run", &bundle, &["--format", "json"]), HUNG);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, report) = report_of(&out, &String::from_utf8_lossy(&out.stdout));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["Motd install changed"]);
}

// ---------------------------------------------------------------------------------------------
// H4: removepackages and a receipt's install-location.

/// `pkgutil --files` lists paths relative to the receipt's install-location: a package
/// installed into /Applications lists `Rel.app/…`, which the agent used to take as `/Rel.app/…`
/// (removing someone else's files and leaving the package's).
#[test]
fn removepackages_joins_the_receipts_install_location() {
    let mac = mac();
    let receipt_plist = dict([
        ("install-location", "Applications".into()),
        ("install-time", 1_763_000_000i64.into()),
        ("pkg-version", "1.0".into()),
        ("pkgid", "com.example.rel".into()),
        ("receipt-plist-version", 1.0f64.into()),
        ("volume", "/".into()),
    ]);
    let mut xml = Vec::new();
    Plist::Dictionary(receipt_plist)
        .to_writer_xml(&mut xml)
        .unwrap();
    mac.write(
        "/var/db/receipts/com.example.rel.files",
        "Rel.app\nRel.app/Contents\nRel.app/Contents/Info.plist\n",
    );
    mac.write("/var/db/receipts/com.example.rel.plist", xml);
    mac.write("/Applications/Rel.app/Contents/Info.plist", "the package's");
    mac.write("/Rel.app/Contents/Info.plist", "a decoy, not the package's");
    let decoy = tree(&mac.path("/Rel.app"));
    assert!(mac.has_receipt("com.example.rel"));

    let bundle = BundleBuilder::new(V1)
        .package("Rel", "1.0", &[receipt("com.example.rel", "1.0")], |_| {})
        .manifest(&[("managed_uninstalls", &["Rel"])])
        .sign(&mac);
    let (code, report) = run_within(&mac, &bundle, HUNG);
    assert_eq!(tree(&mac.path("/Rel.app")), decoy, "the decoy was touched");
    assert!(
        !mac.exists("/Applications/Rel.app"),
        "the package's app is left"
    );
    assert!(mac.exists("/Applications"));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["Rel remove changed"]);
    assert!(!mac.has_receipt("com.example.rel"));
    assert_has(
        &mac.log(),
        "Rel: removed 3 paths of package com.example.rel",
    );
}

// ---------------------------------------------------------------------------------------------
// H5: agent.json's audience pins the ring.

fn motd(version: u64) -> BundleBuilder {
    BundleBuilder::new(version)
        .file("Motd", "/etc/motd", "managed\n", "0644")
        .manifest(&[("managed_installs", &["Motd"])])
}

const PIN: &str = r#"{"audience": "com.example:stable"}"#;

#[test]
fn a_bundle_for_another_audience_is_refused() {
    let mac = mac();
    mac.write(&format!("/{STATE_DIR}/agent.json"), PIN);
    let beta = sign_for(
        &motd(V1),
        &mac,
        &mac.dir.path().join("beta"),
        "com.example:beta",
    );
    let out = mac.agent("run", Some(&beta), Some(&mac.trusted()), &[], "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_has(&err, "its audience is com.example:beta");
    assert_has(&err, "this Mac takes only com.example:stable");
    assert!(!mac.state_json().exists());
    assert!(!mac.exists("/etc/motd"));

    // The bundle for this Mac's audience is applied.
    let stable = sign_for(&motd(V1), &mac, &mac.out(), "com.example:stable");
    let (code, report) = mac.run(&stable, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["Motd install changed"]);
    assert_eq!(mac.read("/etc/motd"), "managed\n");
    assert!(mac.state_json().exists());
}

/// Without --bundle, a newer bundle for another ring in incoming/ is passed over.
#[test]
fn a_newer_incoming_bundle_for_another_audience_is_passed_over() {
    let mac = mac();
    mac.write(&format!("/{STATE_DIR}/agent.json"), PIN);
    let incoming = mac.path(&format!("/{STATE_DIR}/incoming"));
    sign_for(&motd(V1), &mac, &incoming, "com.example:stable");
    let newer = BundleBuilder::new(V1 + 1)
        .file("Motd", "/etc/motd", "from the beta ring\n", "0644")
        .manifest(&[("managed_installs", &["Motd"])]);
    sign_for(&newer, &mac, &incoming, "com.example:beta");
    let out = mac.agent("run", None, Some(&mac.trusted()), &["--format", "json"], "");
    let (code, report) = report_of(&out, &String::from_utf8_lossy(&out.stdout));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["bundle"]["version"], V1);
    assert_eq!(mac.read("/etc/motd"), "managed\n");
}

// ---------------------------------------------------------------------------------------------
// M1: an existing preferences file keeps its mode and owner.

#[test]
fn a_private_system_preference_file_stays_private() {
    let mac = mac();
    let system = "/Library/Preferences/com.example.updater.plist";
    mac.write(system, binary(&dict([("AutoUpdate", false.into())])));
    set_mode(&mac, system, 0o600);
    let ids = owner(&mac, system);
    let bundle = BundleBuilder::new(V1)
        .preference(
            "SystemPrefs",
            "com.example.updater",
            PrefScope::System,
            dict([("AutoUpdate", true.into())]),
        )
        .manifest(&[("managed_installs", &["SystemPrefs"])])
        .sign(&mac);
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["SystemPrefs install changed"]);
    assert_eq!(mac.plist(system), dict([("AutoUpdate", true.into())]));
    assert_eq!(mac.mode(system), 0o600);
    assert_eq!(owner(&mac, system), ids);
}

// ---------------------------------------------------------------------------------------------
// M2, M3: the agent's own folders are private; the cache keeps nothing half-made or unused.

fn tool_package(version: u64) -> BundleBuilder {
    BundleBuilder::new(version)
        .package(
            "Tool",
            "1.0",
            &[
                receipt("com.example.tool", "1.0"),
                payload_file("/usr/local/bin/tool", "0755", "#!/bin/sh"),
            ],
            |_| {},
        )
        .manifest(&[("managed_installs", &["Tool"])])
}

#[test]
fn bundles_reports_and_cache_are_private() {
    let mac = mac();
    let (code, report) = mac.run(&tool_package(V1).sign(&mac), &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["Tool install changed"]);
    for dir in ["bundles", "reports", "cache"] {
        let mode = mac.mode(&format!("/{STATE_DIR}/{dir}"));
        assert_eq!(mode & 0o077, 0, "{dir} has mode {mode:o}");
    }
    assert_eq!(names(&mac.path(&format!("/{STATE_DIR}/cache"))).len(), 1);
}

#[test]
fn partial_downloads_and_unused_cache_entries_are_removed() {
    let mac = mac();
    let cache = format!("/{STATE_DIR}/cache");
    mac.write(&format!("{cache}/.partial-999"), "half a payload");
    mac.write(
        &format!("{cache}/0123456789abcdef-Old-0.9.pkg"),
        "no longer named",
    );
    let bundle = tool_package(V1);
    let hash = bundle.payloads["Tool-1.0.pkg"].clone();
    let (code, report) = mac.run(&bundle.sign(&mac), &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["Tool install changed"]);
    assert_eq!(
        names(&mac.path(&cache)),
        [format!("{}-Tool-1.0.pkg", &sha256(&hash)[..16])]
    );

    // A payload whose hash is wrong leaves nothing behind either.
    let tampered = BundleBuilder::new(V1 + 1)
        .package(
            "Tampered",
            "1.0",
            &[
                receipt("com.example.tampered", "1.0"),
                payload_file("/usr/local/bin/tampered", "0755", "#!/bin/sh"),
            ],
            |p| {
                p.insert(
                    "installer_item_hash".into(),
                    sha256(b"something else").into(),
                );
            },
        )
        .manifest(&[("managed_installs", &["Tampered"])]);
    let (code, report) = mac.run(&tampered.sign(&mac), &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_has(
        text(item(&report, "Tampered"), "error"),
        "refusing to install it",
    );
    let left = names(&mac.path(&cache));
    assert!(left.iter().all(|n| !n.starts_with(".partial-")), "{left:?}");
}

// ---------------------------------------------------------------------------------------------
// M4: managed_uninstalls and items not marked uninstallable.

/// Munki skips (with a warning) an item that is not `uninstallable: true`; the agent used to
/// fail it, every run, and `--check` planned its removal.
#[test]
fn an_item_not_marked_uninstallable_is_skipped_and_never_planned() {
    let bundle = |version| {
        BundleBuilder::new(version).package(
            "Alpha",
            "1.0",
            &[
                receipt("com.example.alpha", "1.0"),
                app("/Applications/Alpha.app", "com.example.alpha", "1.0"),
            ],
            |p| {
                p.remove("uninstallable");
            },
        )
    };
    let mac = mac();
    let first = bundle(V1)
        .manifest(&[("managed_installs", &["Alpha"])])
        .sign(&mac);
    assert_eq!(mac.run(&first, &[]).0, 0);
    let app_before = tree(&mac.path("/Applications"));
    let second = bundle(V1 + 1)
        .manifest(&[("managed_uninstalls", &["Alpha"])])
        .sign(&mac);

    let (code, report) = mac.run(&second, &["--check"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["Alpha remove skipped"]);
    assert_eq!(report["summary"]["planned"], 0);

    let (code, report) = mac.run(&second, &[]);
    assert_eq!(code, 0, "{report:#}");
    let alpha = item(&report, "Alpha");
    assert_eq!(text(alpha, "result"), "skipped");
    assert_has(text(alpha, "reason"), "uninstallable");
    assert_eq!(summary(&report), [0, 0, 0, 1]);
    assert!(mac.has_receipt("com.example.alpha"));
    assert_eq!(tree(&mac.path("/Applications")), app_before);
}

// ---------------------------------------------------------------------------------------------
// M5: condition scripts.

const CONDITIONS: &str = "/usr/local/munki/conditions";

/// A condition script that leaves `/var/db/example/ran-NAME` when it runs.
fn condition_script(name: &str) -> String {
    format!(
        "#!/bin/sh\nmkdir -p \"$MMC_ROOT/var/db/example\"\ntouch \"$MMC_ROOT/var/db/example/ran-{name}\"\n"
    )
}

#[test]
fn only_condition_scripts_root_alone_may_change_run() {
    if !root_or_skip() {
        return;
    }
    let mac = mac();
    let script = |name: &str, mode: u32, gid: u32| {
        let mac_path = format!("{CONDITIONS}/{name}");
        mac.write(&mac_path, condition_script(name));
        std::os::unix::fs::chown(mac.path(&mac_path), Some(0), Some(gid)).unwrap();
        set_mode(&mac, &mac_path, mode);
    };
    script("good", 0o755, 0);
    script("admin-writable", 0o775, 80);
    // Group staff: every user of the Mac may change it.
    script("staff-writable", 0o775, 20);
    // A link to a script that would pass every check itself.
    mac.write("/usr/local/share/linked", condition_script("linked"));
    set_mode(&mac, "/usr/local/share/linked", 0o755);
    link(
        &mac,
        &format!("{CONDITIONS}/linked"),
        &mac.path("/usr/local/share/linked"),
        (0, 0),
    );

    let (code, report) = run_within(&mac, &motd(V1).sign(&mac), HUNG);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        names(&mac.path("/var/db/example")),
        ["ran-admin-writable", "ran-good"]
    );
    let log = mac.log();
    assert_has(
        &log,
        "condition script staff-writable: writable by group 20; skipping execution",
    );
    assert_has(
        &log,
        "condition script linked: a symlink; skipping execution",
    );
}

// ---------------------------------------------------------------------------------------------
// M6: links on the way to a managed path.

/// A user points `/Users/Shared/Acme` at `/Library/LaunchDaemons`: a file item for
/// `/Users/Shared/Acme/info.txt` would have put a root-owned file among the daemons.
#[test]
fn a_link_a_user_made_on_a_managed_path_is_refused_and_roots_are_followed() {
    if !root_or_skip() {
        return;
    }
    let mac = mac();
    let daemons = "/Library/LaunchDaemons";
    mac.write(&format!("{daemons}/com.example.keep.plist"), "<plist/>\n");
    let before = tree(&mac.path(daemons));
    fs::create_dir_all(mac.path("/Users/Shared")).unwrap();
    link(&mac, "/Users/Shared/Acme", &mac.path(daemons), ALICE);
    // Like macOS's /etc → private/etc, made by root.
    fs::create_dir_all(mac.path("/private/etc")).unwrap();
    link(&mac, "/etc", Path::new("private/etc"), (0, 0));

    let bundle = BundleBuilder::new(V1)
        .file("Info", "/Users/Shared/Acme/info.txt", "acme\n", "0644")
        .file("Motd", "/etc/motd", "managed\n", "0644")
        .manifest(&[("managed_installs", &["Info", "Motd"])])
        .sign(&mac);
    let (code, report) = run_within(&mac, &bundle, HUNG);
    assert_eq!(tree(&mac.path(daemons)), before);
    assert_eq!(code, 1, "{report:#}");
    let info = item(&report, "Info");
    assert_eq!(text(info, "result"), "failed");
    assert_has(
        text(info, "error"),
        "Users/Shared/Acme is a link made by uid 502",
    );
    assert_eq!(text(item(&report, "Motd"), "result"), "changed");
    assert_eq!(mac.read("/private/etc/motd"), "managed\n");
    assert!(
        fs::symlink_metadata(mac.path("/etc"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

// ---------------------------------------------------------------------------------------------
// Low: control characters in reports; set-user-ID files.

/// A script's last line of stderr ends up in the report's error: escape sequences and other
/// controls made ManagedInstallReport.plist unreadable and reached the admin's terminal.
#[test]
fn control_characters_in_script_output_do_not_reach_the_reports() {
    let mac = mac();
    let bundle = BundleBuilder::new(V1)
        .script("Noisy", |p| {
            p.insert("installcheck_script".into(), "#!/bin/sh\nexit 0\n".into());
            p.insert(
                "postinstall_script".into(),
                "#!/bin/sh\nprintf 'it \\033[31mbroke\\033[0m\\a\\b\\177 \\302\\233 here\\033]0;title\\007\\n' >&2\nexit 3\n"
                    .into(),
            );
        })
        .manifest(&[("managed_installs", &["Noisy"])])
        .sign(&mac);
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 1, "{report:#}");
    let error = text(item(&report, "Noisy"), "error");
    assert!(!has_control(error), "{error:?}");
    assert_has(error, "exit status 3: it ?[31mbroke?[0m");

    let reports = mac.path(&format!("/{STATE_DIR}/reports"));
    let json: Value =
        serde_json::from_slice(&fs::read(reports.join("report.json")).unwrap()).unwrap();
    let error = text(item(&json, "Noisy"), "error");
    assert!(!has_control(error), "{error:?}");
    let plist = Plist::from_file(reports.join("ManagedInstallReport.plist"))
        .expect("ManagedInstallReport.plist parses");
    let errors = plist.as_dictionary().unwrap()["Errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    let error = errors[0].as_string().unwrap();
    assert!(!has_control(error), "{error:?}");
    assert_has(error, "Noisy: postinstall_script failed");
    let state: Value = serde_json::from_slice(&fs::read(mac.state_json()).unwrap()).unwrap();
    let error = state["items"]["Noisy"]["error"].as_str().unwrap();
    assert!(!has_control(error), "{error:?}");
}

/// A version_script's output becomes the item's `reason`, which is not cleaned.
#[test]
fn control_characters_in_a_reason_are_stripped() {
    let mac = mac();
    let bundle = BundleBuilder::new(V1)
        .script("Versioned", |p| {
            p.insert(
                "version_script".into(),
                "#!/bin/sh\nprintf '1.0\\033]0;pwned\\007\\n'\n".into(),
            );
        })
        .manifest(&[("managed_installs", &["Versioned"])])
        .sign(&mac);
    let (_, report) = mac.run(&bundle, &[]);
    let reason = text(item(&report, "Versioned"), "reason");
    assert_has(reason, "version_script says 1.0");
    assert!(!has_control(reason), "{reason:?}");
}

/// chown clears the set-user-ID bit: the mode has to be set after the owner, or a file with
/// mode 4755 is rewritten on every run and never has it.
#[test]
fn a_set_user_id_file_converges() {
    if !root_or_skip() {
        return;
    }
    let mac = mac();
    let path = "/usr/local/bin/helper";
    let bundle = BundleBuilder::new(V1)
        .file("Helper", path, "#!/bin/sh\nexit 0\n", "4755")
        .manifest(&[("managed_installs", &["Helper"])])
        .sign(&mac);
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["Helper install changed"]);
    assert_eq!(mac.mode(path), 0o4755);
    assert_eq!(owner(&mac, path), (0, 0));
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["Helper install unchanged"]);
}

// ---------------------------------------------------------------------------------------------
// H1: --check and its scripts.

/// `--check` wrote its scripts to `$TMPDIR/mmc-agent-check-PID`, created if missing and used
/// as found: a local user could make it first (world-writable) and swap a script between its
/// writing and its running as root. Here a wrapper makes that folder, world-writable, with the
/// agent's very PID (`exec` keeps it), and an installcheck_script records where it runs.
#[test]
fn check_runs_scripts_from_a_fresh_private_folder() {
    let mac = mac();
    let tmp = mac.dir.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777)).unwrap();
    let probe = "#!/bin/sh
d=$(dirname \"$0\")
stat -c '%a %u %n' \"$d\" \"$d/..\" > \"$MMC_ROOT/probe\"
exit 1
";
    let bundle = BundleBuilder::new(V1)
        .script("Probe", |p| {
            p.insert("installcheck_script".into(), probe.into());
        })
        .manifest(&[("managed_installs", &["Probe"])])
        .sign(&mac);
    let agent = command(&mac, "run", &bundle, &["--check", "--format", "json"]);
    let mut wrapped = Command::new("/bin/sh");
    wrapped
        .arg("-c")
        .arg("mkdir -m 777 \"$TMPDIR/mmc-agent-check-$$\" && exec \"$0\" \"$@\"")
        .arg(agent.get_program())
        .args(agent.get_args())
        .env_remove("MMC_AGENT_KILL_AT")
        .env("TMPDIR", &tmp);
    let out = finish(wrapped, HUNG);
    let (code, report) = report_of(&out, &String::from_utf8_lossy(&out.stdout));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["Probe install unchanged"]);

    // The script ran from a folder only the agent may enter, inside another such folder.
    let probe = mac.read("/probe");
    let lines: Vec<&str> = probe.lines().collect();
    assert_eq!(lines.len(), 2, "{probe}");
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    for line in &lines {
        assert!(line.starts_with(&format!("700 {me} ")), "{probe}");
    }
    // The planted folder was not used, and nothing else is left in TMPDIR.
    let left = names(&tmp);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with("mmc-agent-check-"), "{left:?}");
    assert!(names(&tmp.join(&left[0])).is_empty());
    assert!(!lines[0].contains(&left[0]), "{probe}");
}
