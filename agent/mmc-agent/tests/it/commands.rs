//! `mmc-agent log`, `mmc-agent status` and `mmc-agent install-daemon`, each against a
//! temporary root (`--root`), with the fake `launchctl` from `agent/fakes/`.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{assert_fails_with, stderr, stdout};

const STATE_DIR: &str = "Library/Application Support/mmc";

/// A temporary directory standing for the Mac's `/`.
struct Mac {
    dir: tempfile::TempDir,
}

impl Mac {
    fn new() -> Mac {
        Mac {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    fn logs(&self) -> PathBuf {
        self.path(STATE_DIR).join("logs")
    }

    fn log_file(&self) -> PathBuf {
        self.logs().join("mmc-agent.log")
    }

    fn write(&self, relative: &str, contents: &str) {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }

    /// `mmc-agent ARGS --root ROOT`, with `env` set and no sudo variables otherwise.
    fn agent(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mmc-agent"));
        command
            .args(args)
            .arg("--root")
            .arg(self.root())
            .env_remove("SUDO_USER")
            .env_remove("SUDO_UID")
            .env_remove("SUDO_GID")
            .env("LOGNAME", "tester")
            .env("HOME", "/nonexistent-home")
            .envs(env.iter().copied());
        command.output().unwrap()
    }
}

fn assert_ok(output: &Output) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
}

fn log_names(mac: &Mac) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(mac.logs())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Checks that `line` is `TIME LEVEL message` and returns `LEVEL message`.
fn after_time(line: &str) -> &str {
    let (time, rest) = line.split_once(' ').unwrap();
    assert!(
        time.len() == 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{line}"
    );
    rest
}

fn old_logs(mac: &Mac) {
    mac.write(
        &format!("{STATE_DIR}/logs/mmc-agent.log.2"),
        "2026-11-19T07:00:00Z INFO oldest\n",
    );
    mac.write(
        &format!("{STATE_DIR}/logs/mmc-agent.log.1"),
        "2026-11-20T07:00:00Z INFO older\n",
    );
    mac.write(
        &format!("{STATE_DIR}/logs/mmc-agent.log"),
        "2026-11-21T07:00:00Z INFO newest\n",
    );
}

#[test]
fn log_flush_empties_the_log_and_says_who() {
    let mac = Mac::new();
    old_logs(&mac);
    let output = mac.agent(&["log", "flush"], &[("SUDO_USER", "alice")]);
    assert_ok(&output);
    let out = stdout(&output);
    assert!(out.contains("emptied"), "{out}");
    assert!(out.contains("removed 2 rotated files"), "{out}");
    assert_eq!(log_names(&mac), ["mmc-agent.log"]);
    let text = fs::read_to_string(mac.log_file()).unwrap();
    let lines: Vec<&str> = text.lines().map(after_time).collect();
    assert_eq!(lines, ["INFO log flushed by alice"]);

    // On a fresh Mac there is nothing to empty; the log starts with the audit line.
    let fresh = Mac::new();
    let output = fresh.agent(&["log", "flush"], &[]);
    assert_ok(&output);
    assert!(stdout(&output).contains("removed 0 rotated files"));
    let text = fs::read_to_string(fresh.log_file()).unwrap();
    assert!(text.ends_with(" INFO log flushed by tester\n"), "{text}");
    let mode = fs::metadata(fresh.logs()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

#[test]
fn log_pull_concatenates_oldest_first() {
    let mac = Mac::new();
    old_logs(&mac);
    let to = tempfile::tempdir().unwrap();
    let output = mac.agent(&["log", "pull", "--to", to.path().to_str().unwrap()], &[]);
    assert_ok(&output);
    let written = PathBuf::from(stdout(&output).trim_end());
    assert_eq!(written.parent().unwrap(), to.path());
    let name = written.file_name().unwrap().to_str().unwrap();
    // mmc-agent-HOST-YYYYMMDDTHHMMSSZ.log
    let stem = name
        .strip_prefix("mmc-agent-")
        .and_then(|n| n.strip_suffix(".log"))
        .unwrap_or_else(|| panic!("{name}"));
    let (host, stamp) = stem.rsplit_once('-').unwrap();
    assert!(!host.is_empty(), "{name}");
    assert!(
        host.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
        "{name}"
    );
    assert_eq!(stamp.len(), 16, "{name}");
    assert_eq!(&stamp[8..9], "T", "{name}");
    assert!(stamp.ends_with('Z'), "{name}");
    assert_eq!(
        fs::read_to_string(&written).unwrap(),
        "2026-11-19T07:00:00Z INFO oldest\n\
         2026-11-20T07:00:00Z INFO older\n\
         2026-11-21T07:00:00Z INFO newest\n"
    );
    let log = fs::read_to_string(mac.log_file()).unwrap();
    let last = log.lines().last().unwrap();
    assert_eq!(
        after_time(last),
        format!("INFO log pulled by tester to {}", written.display())
    );
    // The rotated files stay as they were.
    assert_eq!(
        log_names(&mac),
        ["mmc-agent.log", "mmc-agent.log.1", "mmc-agent.log.2"]
    );
}

#[test]
fn log_pull_goes_to_the_sudo_users_desktop() {
    let mac = Mac::new();
    old_logs(&mac);
    let sudo = [
        ("SUDO_USER", "alice"),
        ("SUDO_UID", "1234"),
        ("SUDO_GID", "5678"),
    ];
    let output = mac.agent(&["log", "pull"], &sudo);
    assert_fails_with(&output, "Users/alice/Desktop does not exist; use --to DIR");

    fs::create_dir_all(mac.path("Users/alice/Desktop")).unwrap();
    let output = mac.agent(&["log", "pull"], &sudo);
    assert_ok(&output);
    let written = PathBuf::from(stdout(&output).trim_end());
    assert_eq!(written.parent().unwrap(), mac.path("Users/alice/Desktop"));
    let meta = fs::metadata(&written).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    // SAFETY: geteuid(2) cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!((meta.uid(), meta.gid()), (1234, 5678));
    }

    // Without sudo: $HOME/Desktop, under the root.
    fs::create_dir_all(mac.path("Users/bob/Desktop")).unwrap();
    let output = mac.agent(&["log", "pull"], &[("HOME", "/Users/bob")]);
    assert_ok(&output);
    assert!(
        stdout(&output).starts_with(mac.path("Users/bob/Desktop/").to_str().unwrap()),
        "{}",
        stdout(&output)
    );
}

#[test]
fn log_pull_with_no_log_and_bad_usage() {
    let mac = Mac::new();
    let to = tempfile::tempdir().unwrap();
    let to = to.path().to_str().unwrap();
    assert_fails_with(
        &mac.agent(&["log", "pull", "--to", to], &[]),
        "there is no log to pull",
    );
    assert_fails_with(
        &mac.agent(&["log", "pull", "--to", "/nonexistent/dir"], &[]),
        "--to /nonexistent/dir: no such directory",
    );
    assert_fails_with(&mac.agent(&["log"], &[]), "no log command given");
    let output = mac.agent(&["log", "rotate"], &[]);
    assert_fails_with(&output, "unknown log command \"rotate\"");
    assert!(stderr(&output).contains("`mmc-agent log flush` or `mmc-agent log pull`"));
    assert_fails_with(&mac.agent(&["log", "flush", "--to", to], &[]), "--to only");

    let output = mac.agent(&["log", "--help"], &[]);
    assert_ok(&output);
    let help = stdout(&output);
    for needle in ["flush", "pull", "--to DIR", "Exit status", "Example:"] {
        assert!(help.contains(needle), "{needle:?} missing from: {help}");
    }
}

#[test]
fn status_on_a_fresh_mac() {
    let mac = Mac::new();
    let output = mac.agent(&["status"], &[]);
    assert_ok(&output);
    let out = stdout(&output);
    assert!(out.starts_with("Nothing applied yet"), "{out}");
    assert!(out.contains("Right now: no run in progress"), "{out}");
    assert!(out.contains("Waiting in incoming/: nothing"), "{out}");
    assert!(
        !mac.path(STATE_DIR).exists(),
        "status must not create anything"
    );

    let output = mac.agent(&["status", "--format", "json"], &[]);
    assert_ok(&output);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"last_applied": null, "items": {}, "running": false, "incoming": []})
    );
}

fn applied_state() -> serde_json::Value {
    serde_json::json!({
        "format": 1,
        "last_applied": {
            "bundle": "stable",
            "version": 1_763_700_000u64,
            "dir": "stable-1763700000",
            "at": "2026-11-21T07:00:04Z",
            "manifest": "site_default",
            "changed": 1,
            "unchanged": 1,
            "failed": 1
        },
        "items": {
            "firefox": {
                "result": "changed",
                "version": "133.0",
                "at": "2026-11-21T07:00:02Z",
                "duration_ms": 2100
            },
            "printers": {
                "result": "failed",
                "at": "2026-11-21T07:00:03Z",
                "duration_ms": 40,
                "error": "exit status 1: lpadmin: bad URI"
            },
            "wifi-profile": {
                "result": "unchanged",
                "at": "2026-11-21T07:00:01Z",
                "duration_ms": 12
            }
        }
    })
}

#[test]
fn status_shows_the_last_run_the_lock_and_incoming() {
    let mac = Mac::new();
    let state = applied_state();
    mac.write(
        &format!("{STATE_DIR}/state.json"),
        &serde_json::to_string_pretty(&state).unwrap(),
    );
    mac.write(
        &format!("{STATE_DIR}/incoming/stable-1763800000.tar.gz"),
        "",
    );
    mac.write(
        &format!("{STATE_DIR}/incoming/stable-1763800000.tar.gz.sig"),
        "",
    );

    let output = mac.agent(&["status"], &[]);
    assert_ok(&output);
    assert_eq!(
        stdout(&output),
        "Last applied: stable version 1763700000 at 2026-11-21T07:00:04Z\n  \
         manifest: site_default\n  \
         results:  1 changed, 1 unchanged, 1 failed, 0 skipped\n\
         Items:\n  \
         printers      failed     2026-11-21T07:00:03Z  exit status 1: lpadmin: bad URI\n  \
         firefox       changed    2026-11-21T07:00:02Z\n  \
         wifi-profile  unchanged  2026-11-21T07:00:01Z\n\
         Right now: no run in progress\n\
         Waiting in incoming/: stable-1763800000.tar.gz\n"
    );

    // A run holds the lock (exclusively) and wrote its pid on the first line.
    let lock_path = mac.path(&format!("{STATE_DIR}/run.lock"));
    fs::write(&lock_path, "31337\n").unwrap();
    let lock = fs::File::options().write(true).open(&lock_path).unwrap();
    lock.lock().unwrap();
    let output = mac.agent(&["status"], &[]);
    assert_ok(&output);
    assert!(
        stdout(&output).contains("Right now: a run is in progress (pid 31337)\n"),
        "{}",
        stdout(&output)
    );

    let output = mac.agent(&["status", "--format", "json"], &[]);
    assert_ok(&output);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // A state.json from before the skipped count reads as 0 skipped.
    let mut expected = state["last_applied"].clone();
    expected["skipped"] = serde_json::json!(0);
    assert_eq!(value["last_applied"], expected);
    assert_eq!(value["items"], state["items"]);
    assert_eq!(value["running"], serde_json::json!(true));
    assert_eq!(
        value["incoming"],
        serde_json::json!(["stable-1763800000.tar.gz"])
    );
    drop(lock);

    let output = mac.agent(&["status", "--format", "json"], &[]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["running"], serde_json::json!(false));
}

#[test]
fn status_fails_on_an_unreadable_state() {
    let mac = Mac::new();
    mac.write(
        &format!("{STATE_DIR}/state.json"),
        "{\"format\": 1, \"items\": ",
    );
    let output = mac.agent(&["status"], &[]);
    assert_fails_with(&output, "state.json");

    mac.write(&format!("{STATE_DIR}/state.json"), "{\"format\": 99}");
    assert_fails_with(&mac.agent(&["status"], &[]), "has layout 99");

    assert_fails_with(
        &mac.agent(&["status", "--format", "yaml"], &[]),
        "--format \"yaml\" is not a format; use human or json",
    );
    let output = mac.agent(&["status", "--help"], &[]);
    assert_ok(&output);
    assert!(stdout(&output).contains("run.lock"));
}

fn fakes() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fakes")
}

const AGENT: &str = "usr/local/mmc/bin/mmc-agent";
const PLIST: &str = "Library/LaunchDaemons/dev.mmc.agent.plist";

fn install_agent_binary(mac: &Mac) {
    mac.write(AGENT, "#!/bin/sh\n");
    fs::set_permissions(mac.path(AGENT), fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn install_daemon_print_shows_the_plist_and_changes_nothing() {
    let output = Command::new(env!("CARGO_BIN_EXE_mmc-agent"))
        .args(["install-daemon", "--print", "--interval", "3600"])
        .output()
        .unwrap();
    assert_ok(&output);
    let value = plist::Value::from_reader_xml(&output.stdout[..]).unwrap();
    let dict = value.as_dictionary().unwrap();
    assert_eq!(dict["Label"].as_string(), Some("dev.mmc.agent"));
    assert_eq!(dict["StartInterval"].as_unsigned_integer(), Some(3600));
    assert_eq!(dict["RunAtLoad"].as_boolean(), Some(true));
    let args: Vec<_> = dict["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_string().unwrap())
        .collect();
    assert_eq!(args, ["/usr/local/mmc/bin/mmc-agent", "run"]);

    let mac = Mac::new();
    let output = mac.agent(&["install-daemon", "--print"], &[]);
    assert_ok(&output);
    assert_eq!(fs::read_dir(mac.root()).unwrap().count(), 0);
}

#[test]
fn install_daemon_usage_errors() {
    let mac = Mac::new();
    assert_fails_with(
        &mac.agent(&["install-daemon", "--interval", "60"], &[]),
        "--interval \"60\": give a number of seconds from 300",
    );
    assert_fails_with(
        &mac.agent(&["install-daemon", "--agent", "mmc-agent"], &[]),
        "give the absolute path",
    );
    assert_fails_with(
        &mac.agent(&["install-daemon"], &[]),
        "does not exist; install the agent there first",
    );
    let output = mac.agent(&["install-daemon", "--help"], &[]);
    assert_ok(&output);
    let help = stdout(&output);
    for needle in [
        "--interval SECONDS",
        "launchctl bootstrap",
        "Exit status",
        "Example:",
    ] {
        assert!(help.contains(needle), "{needle:?} missing from: {help}");
    }
}

#[test]
fn install_daemon_writes_and_loads_the_daemon() {
    assert!(
        fakes().join("launchctl").is_file(),
        "agent/fakes/launchctl is missing"
    );
    let mac = Mac::new();
    install_agent_binary(&mac);
    let fakes = fakes();
    let commands = fakes.to_str().unwrap();
    let install = |extra: &[&str]| {
        let mut args = vec!["install-daemon", "--commands", commands];
        args.extend_from_slice(extra);
        mac.agent(&args, &[("SUDO_USER", "alice")])
    };

    let output = install(&[]);
    assert_ok(&output);
    assert_eq!(
        stdout(&output),
        "installed /Library/LaunchDaemons/dev.mmc.agent.plist and loaded dev.mmc.agent: \
         `/usr/local/mmc/bin/mmc-agent run` every 1800 seconds and at boot\n"
    );
    let printed = mac.agent(&["install-daemon", "--print"], &[]);
    assert_eq!(fs::read(mac.path(PLIST)).unwrap(), printed.stdout);
    let mode = fs::metadata(mac.path(PLIST)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o644);
    let loaded = mac.path("var/db/mmc-fakes/launchd/dev.mmc.agent");
    assert_eq!(
        fs::read_to_string(&loaded).unwrap().trim(),
        "/Library/LaunchDaemons/dev.mmc.agent.plist"
    );

    // Again: nothing to do.
    let output = install(&[]);
    assert_ok(&output);
    assert!(
        stdout(&output).contains("already installed"),
        "{}",
        stdout(&output)
    );

    // A new interval: rewritten and reloaded.
    let output = install(&["--interval", "3600"]);
    assert_ok(&output);
    assert!(stdout(&output).contains("every 3600 seconds"));
    let value = plist::Value::from_file(mac.path(PLIST)).unwrap();
    assert_eq!(
        value.as_dictionary().unwrap()["StartInterval"].as_unsigned_integer(),
        Some(3600)
    );
    let calls: Vec<String> = fs::read_to_string(mac.path("var/db/mmc-fakes/launchctl.log"))
        .unwrap()
        .lines()
        .map(|l| l.split_once('\t').unwrap().1.to_owned())
        .collect();
    assert_eq!(
        calls,
        [
            "bootstrap dev.mmc.agent /Library/LaunchDaemons/dev.mmc.agent.plist",
            "bootout dev.mmc.agent",
            "bootstrap dev.mmc.agent /Library/LaunchDaemons/dev.mmc.agent.plist",
        ]
    );

    // Booted out behind our back: the same file is loaded again.
    fs::remove_file(&loaded).unwrap();
    let output = install(&["--interval", "3600"]);
    assert_ok(&output);
    assert!(
        stdout(&output).starts_with(
            "/Library/LaunchDaemons/dev.mmc.agent.plist was up to date; loaded dev.mmc.agent"
        ),
        "{}",
        stdout(&output)
    );
    assert!(loaded.is_file());

    let log = fs::read_to_string(mac.log_file()).unwrap();
    assert!(
        log.contains(" INFO install-daemon by alice: loaded dev.mmc.agent\n"),
        "{log}"
    );
}

#[test]
fn install_daemon_reports_a_launchctl_failure() {
    assert!(
        fakes().join("launchctl").is_file(),
        "agent/fakes/launchctl is missing"
    );
    let mac = Mac::new();
    install_agent_binary(&mac);
    // The fake keeps loaded jobs in this directory; a file in its place breaks bootstrap.
    mac.write("var/db/mmc-fakes/launchd", "");
    let output = mac.agent(
        &["install-daemon", "--commands", fakes().to_str().unwrap()],
        &[],
    );
    assert_fails_with(
        &output,
        "launchctl bootstrap system /Library/LaunchDaemons/dev.mmc.agent.plist failed: exit status 1",
    );
    let log = fs::read_to_string(mac.log_file()).unwrap();
    assert!(log.contains(" ERROR launchctl bootstrap system"), "{log}");
}
