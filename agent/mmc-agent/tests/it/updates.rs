//! Update enforcement (install-or-defer), scenario by scenario: a signed bundle whose
//! `config.json` holds an update policy, `mmc-agent updates --now T` run again and again with
//! the simulated clock moving on, and the fakes of `agent/fakes/` standing in for
//! `softwareupdate`, the notifier (`dialog`, answering from a file), `osascript`, `shutdown`
//! and `open`.
//!
//! After each step a scenario asserts the exact calls the fakes recorded (in order, with the
//! simulated time each saw: the prompt's whole argv, rendered message included), the decision,
//! and `updates.json`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use jiff::Timestamp;
use mmc_bundle::write_archive;
use mmc_config::{
    BundleInfo, Config, FORMAT, Manifest, Notifier, Org, Requirement, UpdateMessages, UpdatePolicy,
    WorkHours,
};
use serde_json::Value;

use super::Fixture;

const SONOMA: &str = include_str!("../../../fakes/fixtures/softwareupdate-sonoma.txt");
const STATE: &str = "Library/Application Support/mmc/updates.json";
const LOG: &str = "Library/Application Support/mmc/logs/mmc-agent.log";
/// The Monday the scenarios start (inside the test bundle's validity).
const T0: &str = "2026-11-23T09:00:00Z";
const HOUR: i64 = 3600;
/// The labels of the Sonoma fixture, sorted, as the agent passes them.
const SONOMA_LABELS: [&str; 3] = [
    "'Command Line Tools for Xcode-16.1'",
    "Safari18.1SonomaAuto-18.1",
    "'macOS Sonoma 14.7.1-23H222'",
];
const SONOMA_TITLES: &str = "Command Line Tools for Xcode 16.1\\nSafari 18.1\\nmacOS Sonoma 14.7.1";

fn fakes() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fakes")
        .canonicalize()
        .unwrap()
}

fn policy() -> UpdatePolicy {
    UpdatePolicy {
        name: "security".into(),
        condition: None,
        require: Requirement::Recommended,
        deadline: None,
        max_deferral_secs: 72 * 3600,
        // Five hours: the last deferral before the deadline is cut short by it.
        reprompt_secs: 5 * 3600,
        prompt_timeout_secs: 600,
        restart_delay_secs: 300,
        work_hours: None,
        skip_deferral: false,
        notifier: Notifier {
            program: "/usr/local/bin/dialog".into(),
            args: [
                "--title",
                "%TITLE%",
                "--message",
                "%MESSAGE%",
                "--button1text",
                "%INSTALL%",
                "--button2text",
                "%DEFER%",
                "--timer",
                "%TIMEOUT%",
            ]
            .map(String::from)
            .to_vec(),
            install_exit: vec![0],
            defer_exit: vec![2],
        },
        messages: UpdateMessages {
            title: "Software updates".into(),
            prompt: "Please install:\n%UPDATES%\n[restart]Your Mac will restart. [/restart]You can defer for %HOURS% more hours (until %DEADLINE%).".into(),
            deadline: "The deadline %DEADLINE% has passed. Installing:\n%UPDATES%[restart]\nYour Mac will restart.[/restart][deferrable] never shown[/deferrable] Help: %SUPPORT%".into(),
            install_button: "Install now".into(),
            defer_button: "Later".into(),
        },
        support_contact: Some("help@example.com".into()),
    }
}

fn config(updates: Vec<UpdatePolicy>) -> Config {
    Config {
        format: FORMAT,
        org: Org {
            name: "Example".into(),
            identifier_prefix: "com.example".into(),
        },
        bundle: BundleInfo {
            name: "stable".into(),
            track: "stable".into(),
            audience: "com.example:stable".into(),
        },
        trusted_keys: vec![],
        items: BTreeMap::new(),
        manifests: [("site_default".to_owned(), Manifest::default())].into(),
        munki_manifests: BTreeMap::new(),
        profiles: BTreeMap::new(),
        updates,
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// `T0` plus `secs`, RFC 3339.
fn t(secs: i64) -> String {
    Timestamp::from_second(at(T0).as_second() + secs)
        .unwrap()
        .to_string()
}

/// A Mac: a root, a signed bundle holding `policies`, and a facts file.
struct Mac {
    dir: tempfile::TempDir,
    bundle: Fixture,
    tz: &'static str,
}

impl Mac {
    fn new(policies: Vec<UpdatePolicy>, arch: &str, os_vers: &str) -> Mac {
        let files = BTreeMap::from([("config.json".to_owned(), config(policies).to_json())]);
        let bundle = Fixture::with_archive(write_archive(&files).unwrap());
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("root")).unwrap();
        fs::write(
            dir.path().join("facts.json"),
            format!(r#"{{"arch": "{arch}", "os_vers": "{os_vers}"}}"#),
        )
        .unwrap();
        let mac = Mac {
            dir,
            bundle,
            tz: "UTC",
        };
        // Booted well before the scenarios start.
        mac.write(
            "var/db/mmc-fakes/sysctl/kern.boottime",
            "{ sec = 1793520000, usec = 0 } Sun Nov  1 00:00:00 2026\n",
        );
        mac
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.root().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// What `softwareupdate --list` prints from now on (`None`: nothing available).
    fn offers(&self, list: Option<&str>) {
        match list {
            Some(text) => self.write("var/db/mmc-fakes/softwareupdate/list", text),
            None => {
                let _ = fs::remove_file(self.root().join("var/db/mmc-fakes/softwareupdate/list"));
            }
        }
    }

    /// The notifier's next answers (exit statuses); once they are used up, it times out.
    fn answers(&self, codes: &[i32]) {
        let text: String = codes.iter().map(|c| format!("{c}\n")).collect();
        self.write("var/db/mmc-fakes/notifier/answers", &text);
    }

    fn command(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mmc-agent"))
            .args(args)
            .arg("--bundle")
            .arg(&self.bundle.bundle)
            .arg("--trust")
            .arg(&self.bundle.trusted_pem)
            .arg("--root")
            .arg(self.root())
            .arg("--commands")
            .arg(fakes())
            .arg("--facts")
            .arg(self.dir.path().join("facts.json"))
            .args(if args.contains(&"--format") {
                &[][..]
            } else {
                &["--format", "json"][..]
            })
            .env("TZ", self.tz)
            .env_remove("MMC_AGENT_KILL_AT")
            .output()
            .unwrap()
    }

    /// `mmc-agent updates --now NOW`: the exit status and the outcome.
    fn updates(&self, now: &str, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["updates", "--now", now];
        args.extend_from_slice(extra);
        let out = self.command(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let outcome = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), outcome)
    }

    /// Like [`Mac::updates`], expecting exit status 0 and returning the outcome.
    fn step(&self, now: &str) -> Value {
        let (code, outcome) = self.updates(now, &[]);
        assert_eq!(code, 0, "{outcome:#}");
        outcome
    }

    /// The calls the fakes recorded since the last look, one line each:
    /// `TIME TOOL ARG…`, an argument quoted when it has spaces, newlines shown as `\n`.
    fn calls(&self) -> Vec<String> {
        let path = self.root().join("var/db/mmc-fakes/calls.log");
        let text = fs::read_to_string(&path).unwrap_or_default();
        let _ = fs::remove_file(&path);
        text.lines()
            .map(|line| {
                let mut fields = line.split('\t');
                let epoch: i64 = fields.next().unwrap().parse().unwrap();
                let mut shown = vec![Timestamp::from_second(epoch).unwrap().to_string()];
                shown.extend(fields.map(|a| {
                    if a.is_empty() || a.contains(' ') {
                        format!("'{a}'")
                    } else {
                        a.to_owned()
                    }
                }));
                shown.join(" ")
            })
            .collect()
    }

    fn state(&self) -> Option<Value> {
        let text = fs::read_to_string(self.root().join(STATE)).ok()?;
        Some(serde_json::from_str(&text).unwrap())
    }

    fn log(&self) -> String {
        fs::read_to_string(self.root().join(LOG)).unwrap_or_default()
    }
}

fn list_call(now: &str) -> String {
    format!("{now} softwareupdate --list")
}

/// The deferrable prompt for the Sonoma fixture.
fn prompt_call(now: &str, hours: i64, deadline: &str) -> String {
    format!(
        "{now} dialog --title 'Software updates' --message 'Please install:\\n{SONOMA_TITLES}\\nYour Mac will restart. You can defer for {hours} more hours (until {deadline}).' --button1text 'Install now' --button2text Later --timer 600"
    )
}

/// The prompt past the deadline: no defer button.
fn deadline_call(now: &str, deadline: &str, titles: &str, restart: bool) -> String {
    let restart = if restart {
        "\\nYour Mac will restart."
    } else {
        ""
    };
    format!(
        "{now} dialog --title 'Software updates' --message 'The deadline {deadline} has passed. Installing:\\n{titles}{restart} Help: help@example.com' --button1text 'Install now' --timer 600"
    )
}

fn str_field<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {value:#}"))
}

#[test]
fn no_updates_shows_nothing_and_cleans_the_state() {
    let mac = Mac::new(vec![policy()], "x86_64", "14.6");
    let outcome = mac.step(T0);
    assert_eq!(str_field(&outcome, "decision"), "none");
    assert_eq!(mac.calls(), [list_call(T0)]);
    assert!(mac.state().is_none());

    // Updates come, and the user defers once…
    mac.offers(Some(SONOMA));
    mac.answers(&[2]);
    assert_eq!(
        str_field(&mac.step(&t(HOUR)), "decision"),
        "prompted_deferred"
    );
    assert!(mac.state().is_some());
    mac.calls();
    // …then installs them some other way: nothing is shown and the state goes.
    mac.offers(None);
    let outcome = mac.step(&t(2 * HOUR));
    assert_eq!(str_field(&outcome, "decision"), "none");
    assert_eq!(outcome["labels"], serde_json::json!([]));
    assert_eq!(mac.calls(), [list_call(&t(2 * HOUR))]);
    assert!(mac.state().is_none());
    assert!(
        mac.log().contains("the update state is removed"),
        "{}",
        mac.log()
    );
}

#[test]
fn deferrals_until_the_deadline_then_a_forced_install_and_both_restarts() {
    let mac = Mac::new(vec![policy()], "x86_64", "14.6");
    mac.offers(Some(SONOMA));
    let deadline = t(72 * HOUR);
    let deadline_local = "2026-11-26 09:00";

    // First sight: download in the background, then the first prompt; the user defers.
    mac.answers(&[2]);
    let outcome = mac.step(T0);
    assert_eq!(str_field(&outcome, "decision"), "prompted_deferred");
    assert_eq!(str_field(&outcome, "deadline"), deadline);
    assert_eq!(str_field(&outcome, "next_prompt"), t(5 * HOUR));
    assert_eq!(outcome["prompt"]["answer"], "defer");
    assert_eq!(
        outcome["labels"],
        serde_json::json!([
            "Command Line Tools for Xcode-16.1",
            "Safari18.1SonomaAuto-18.1",
            "macOS Sonoma 14.7.1-23H222"
        ])
    );
    assert_eq!(
        mac.calls(),
        [
            list_call(T0),
            format!("{T0} softwareupdate --download {}", SONOMA_LABELS.join(" ")),
            prompt_call(T0, 72, deadline_local),
        ]
    );
    let state = mac.state().unwrap();
    assert_eq!(
        state,
        serde_json::json!({
            "format": 1,
            "policy": "security",
            "labels": [
                "Command Line Tools for Xcode-16.1",
                "Safari18.1SonomaAuto-18.1",
                "macOS Sonoma 14.7.1-23H222"
            ],
            "first_seen": T0,
            "forced_after": deadline,
            "deferred_until": t(5 * HOUR),
            "deferrals": 1,
            "downloaded": true
        })
    );

    // Before the next prompt is due: nothing shown, nothing downloaded again.
    let outcome = mac.step(&t(HOUR));
    assert_eq!(str_field(&outcome, "decision"), "waiting");
    assert_eq!(mac.calls(), [list_call(&t(HOUR))]);

    // Every five hours a prompt, deferred (or left to time out) until the deadline.
    let mut deferrals = 1;
    for hours in (5..72).step_by(5) {
        let now = t(hours * HOUR);
        // Alternate a deferral and a timeout: both defer.
        mac.answers(if hours % 10 == 5 { &[2] } else { &[] });
        let outcome = mac.step(&now);
        deferrals += 1;
        assert_eq!(
            str_field(&outcome, "decision"),
            "prompted_deferred",
            "at {now}"
        );
        assert_eq!(
            outcome["prompt"]["answer"],
            if hours % 10 == 5 { "defer" } else { "timeout" }
        );
        assert_eq!(outcome["deferrals"], deferrals);
        assert_eq!(
            mac.calls(),
            [
                list_call(&now),
                prompt_call(&now, 72 - hours, deadline_local)
            ]
        );
        // Never deferred past the deadline: the last one (at 70 h) is cut to 2 h.
        let next = (hours + 5).min(72);
        assert_eq!(mac.state().unwrap()["deferred_until"], t(next * HOUR));
    }

    // The deadline: a prompt without a defer button; it times out and the updates are
    // installed, then a soft restart, and the hard one after the delay (simulated).
    let outcome = mac.step(&deadline);
    assert_eq!(str_field(&outcome, "decision"), "forced");
    assert_eq!(outcome["prompt"]["kind"], "deadline");
    assert_eq!(outcome["prompt"]["answer"], "timeout");
    assert_eq!(outcome["restart"], "soft_then_hard");
    assert_eq!(
        mac.calls(),
        [
            list_call(&deadline),
            deadline_call(&deadline, deadline_local, SONOMA_TITLES, true),
            format!(
                "{deadline} softwareupdate --install {} --no-scan",
                SONOMA_LABELS.join(" ")
            ),
            format!("{deadline} osascript -e 'tell application \"System Events\" to restart'"),
            format!("{} shutdown -r now", t(72 * HOUR + 300)),
        ]
    );
    assert_eq!(
        mac.state().unwrap()["restart"],
        serde_json::json!({"requested_at": deadline, "delay_secs": 300})
    );

    // After the restart: nothing left, the state goes.
    let outcome = mac.step(&t(73 * HOUR));
    assert_eq!(str_field(&outcome, "decision"), "none");
    assert_eq!(mac.calls(), [list_call(&t(73 * HOUR))]);
    assert!(mac.state().is_none());

    let log = mac.log();
    for needle in [
        "updates: policy security requires",
        "updates: downloading",
        "updates: the user deferred (deferral 1)",
        "updates: the prompt timed out or was dismissed",
        "the deadline 2026-11-26 09:00 local has passed; the prompt timed out: installing",
        "updates: installing Command Line Tools for Xcode-16.1, Safari18.1SonomaAuto-18.1, macOS Sonoma 14.7.1-23H222 (forced)",
        "updates: asking for a soft restart",
        "updates: a hard restart follows in 300 s",
        "updates: restarting the Mac (shutdown -r now)",
        "updates: the Mac restarted at 2026-11-26T09:05:00Z",
    ] {
        assert!(log.contains(needle), "{needle:?} not in the log:\n{log}");
    }
}

#[test]
fn an_update_without_a_restart_is_installed_when_the_user_says_so() {
    let mac = Mac::new(vec![policy()], "x86_64", "14.6");
    let safari = "Software Update Tool\n\nFinding available software\nSoftware Update found the following new or updated software:\n* Label: Safari18.1SonomaAuto-18.1\n\tTitle: Safari, Version: 18.1, Size: 172411KiB, Recommended: YES, \n";
    mac.offers(Some(safari));
    mac.answers(&[0]);
    let outcome = mac.step(T0);
    assert_eq!(str_field(&outcome, "decision"), "installed");
    assert!(outcome.get("restart").is_none(), "{outcome:#}");
    assert_eq!(
        mac.calls(),
        [
            list_call(T0),
            format!("{T0} softwareupdate --download Safari18.1SonomaAuto-18.1"),
            format!(
                "{T0} dialog --title 'Software updates' --message 'Please install:\\nSafari 18.1\\nYou can defer for 72 more hours (until 2026-11-26 09:00).' --button1text 'Install now' --button2text Later --timer 600"
            ),
            format!("{T0} softwareupdate --install Safari18.1SonomaAuto-18.1 --no-scan"),
        ]
    );
    assert!(mac.state().unwrap().get("restart").is_none());
    // Installed: the list is empty now, and the state goes.
    assert_eq!(str_field(&mac.step(&t(HOUR)), "decision"), "none");
    assert_eq!(mac.calls(), [list_call(&t(HOUR))]);
    assert!(mac.state().is_none());
}

#[test]
fn a_change_in_the_required_updates_starts_the_window_again() {
    let mac = Mac::new(vec![policy()], "x86_64", "14.6");
    let safari_only: String = SONOMA
        .lines()
        .filter(|l| !l.contains("Xcode") && !l.contains("macOS Sonoma"))
        .map(|l| format!("{l}\n"))
        .collect();
    mac.offers(Some(&safari_only));
    mac.answers(&[2, 2]);
    mac.step(T0);
    assert_eq!(mac.state().unwrap()["first_seen"], T0);
    mac.calls();

    // A day later Apple publishes more: a new set, a new window, an immediate prompt, and
    // the new set is downloaded.
    let day = t(24 * HOUR);
    mac.offers(Some(SONOMA));
    let outcome = mac.step(&day);
    assert_eq!(str_field(&outcome, "decision"), "prompted_deferred");
    assert_eq!(str_field(&outcome, "first_seen"), day);
    assert_eq!(str_field(&outcome, "deadline"), t(96 * HOUR));
    assert_eq!(outcome["deferrals"], 1);
    assert_eq!(
        mac.calls(),
        [
            list_call(&day),
            format!(
                "{day} softwareupdate --download {}",
                SONOMA_LABELS.join(" ")
            ),
            prompt_call(&day, 72, "2026-11-27 09:00"),
        ]
    );
    assert!(
        mac.log()
            .contains("the required updates changed (were Safari18.1SonomaAuto-18.1, policy security): the deferral window starts again"),
        "{}",
        mac.log()
    );
}

#[test]
fn work_hours_move_the_deadline_to_the_end_of_the_local_working_day() {
    let mut p = policy();
    p.work_hours = Some(WorkHours { start: 9, end: 17 });
    let mut mac = Mac::new(vec![p], "x86_64", "14.6");
    // UTC−5: 15:00Z is 10:00 local. Three days on is 10:00 local again, inside the work
    // hours, so the deadline moves to 17:00 local (22:00Z).
    mac.tz = "EST5";
    mac.offers(Some(SONOMA));
    mac.answers(&[2, 2]);
    let start = "2026-11-23T15:00:00Z";
    let outcome = mac.step(start);
    assert_eq!(str_field(&outcome, "deadline"), "2026-11-26T22:00:00Z");
    assert_eq!(mac.state().unwrap()["forced_after"], "2026-11-26T22:00:00Z");
    assert_eq!(mac.calls()[2], prompt_call(start, 79, "2026-11-26 17:00"));
    assert!(
        mac.log()
            .contains("moved from 2026-11-26 10:00 local, within the work hours 9–17"),
        "{}",
        mac.log()
    );
    // At the unshifted deadline the user may still defer.
    let outcome = mac.step("2026-11-26T15:00:00Z");
    assert_eq!(str_field(&outcome, "decision"), "prompted_deferred");
    assert_eq!(
        mac.calls()[1],
        prompt_call("2026-11-26T15:00:00Z", 7, "2026-11-26 17:00")
    );
    assert_eq!(str_field(&outcome, "next_prompt"), "2026-11-26T20:00:00Z");
}

#[test]
fn apple_silicon_opens_software_update_and_keeps_prompting() {
    let mac = Mac::new(vec![policy()], "arm64", "14.6");
    mac.offers(Some(SONOMA));
    let url = "x-apple.systempreferences:com.apple.preferences.softwareupdate";

    // The user says install: only a user can, so Software Update opens.
    mac.answers(&[0]);
    let outcome = mac.step(T0);
    assert_eq!(str_field(&outcome, "decision"), "opened_software_update");
    assert_eq!(
        mac.calls(),
        [
            list_call(T0),
            format!("{T0} softwareupdate --download {}", SONOMA_LABELS.join(" ")),
            prompt_call(T0, 72, "2026-11-26 09:00"),
            format!("{T0} open {url}"),
        ]
    );
    assert_eq!(str_field(&outcome, "next_prompt"), t(5 * HOUR));
    assert!(
        mac.log().contains("needs a user's credentials"),
        "{}",
        mac.log()
    );

    // Past the deadline the prompt comes back on every run, with no deferral, and Software
    // Update opens again; nothing is installed or restarted by the agent.
    for hours in [72, 72 + 1] {
        let now = t(hours * HOUR);
        let outcome = mac.step(&now);
        assert_eq!(str_field(&outcome, "decision"), "opened_software_update");
        assert_eq!(
            mac.calls(),
            [
                list_call(&now),
                deadline_call(&now, "2026-11-26 09:00", SONOMA_TITLES, true),
                format!("{now} open {url}"),
            ]
        );
    }
    assert!(mac.state().unwrap().get("restart").is_none());
}

#[test]
fn a_hard_restart_that_did_not_happen_is_done_by_the_next_run() {
    let mut p = policy();
    p.skip_deferral = true;
    let mac = Mac::new(vec![p], "x86_64", "14.6");
    mac.offers(Some(SONOMA));
    mac.write("var/db/mmc-fakes/shutdown.fail", "");
    // skip_deferral: the deadline is now; the user clicks install.
    mac.answers(&[0]);
    let outcome = mac.step(T0);
    assert_eq!(str_field(&outcome, "decision"), "forced");
    let calls = mac.calls();
    assert_eq!(calls.len(), 6, "{calls:#?}");
    assert_eq!(calls[5], format!("{} shutdown -r now", t(300)));
    assert!(
        mac.log().contains(
            "the hard restart: exit status 1: shutdown: NOT super-user; the next run tries again"
        ),
        "{}",
        mac.log()
    );

    // Ten minutes on the Mac has not restarted: the next run restarts it at once.
    fs::remove_file(mac.root().join("var/db/mmc-fakes/shutdown.fail")).unwrap();
    let now = t(600);
    let outcome = mac.step(&now);
    assert_eq!(str_field(&outcome, "decision"), "restart_pending");
    assert_eq!(outcome["restart"], "hard");
    assert_eq!(mac.calls(), [format!("{now} shutdown -r now")]);

    // Restarted: the state moves on (nothing is left to install).
    assert_eq!(str_field(&mac.step(&t(900)), "decision"), "none");
    assert!(mac.state().is_none());
}

#[test]
fn a_failed_install_is_reported_and_retried() {
    let mac = Mac::new(vec![policy()], "x86_64", "14.6");
    mac.offers(Some(SONOMA));
    mac.write(
        "var/db/mmc-fakes/softwareupdate/install.fail",
        "Failed to download & prepare update\n",
    );
    mac.answers(&[0]);
    let (code, outcome) = mac.updates(T0, &[]);
    assert_eq!(code, 1, "{outcome:#}");
    assert_eq!(str_field(&outcome, "decision"), "install_failed");
    assert!(
        str_field(&outcome, "error").contains("Failed to download & prepare update"),
        "{outcome:#}"
    );
    // The user asked to install before the deadline: asked again after the re-prompt time.
    assert_eq!(mac.state().unwrap()["deferred_until"], t(5 * HOUR));
    assert!(
        mac.calls()
            .last()
            .unwrap()
            .contains("softwareupdate --install")
    );
}

#[test]
fn check_only_looks_and_os_version_requires_the_macos_update() {
    let mut p = policy();
    p.require = Requirement::OsVersion {
        version: "14.7".into(),
    };
    let mut other = policy();
    other.name = "not this Mac".into();
    other.condition = Some("arch == \"arm64\"".into());
    let mac = Mac::new(vec![other, p], "x86_64", "14.6");
    mac.offers(Some(SONOMA));
    let (code, outcome) = mac.updates(T0, &["--check"]);
    assert_eq!(code, 0, "{outcome:#}");
    assert_eq!(str_field(&outcome, "decision"), "would_prompt");
    assert_eq!(str_field(&outcome, "policy"), "security");
    assert_eq!(
        outcome["labels"],
        serde_json::json!(["macOS Sonoma 14.7.1-23H222"])
    );
    assert_eq!(str_field(&outcome, "deadline"), t(72 * HOUR));
    // Only the list ran; nothing was written (not even the log).
    assert_eq!(mac.calls(), [list_call(T0)]);
    assert!(!mac.root().join("Library").exists());

    // The same for people.
    let out = mac.command(&["updates", "--check", "--now", T0, "--format", "human"]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "updates: would_prompt (check: nothing changed): would prompt (the user may defer until 2026-11-26 09:00 local)
  policy      security
  required    macOS Sonoma 14.7.1-23H222 (macOS Sonoma 14.7.1, restart)
  first seen  2026-11-23T09:00:00Z (2026-11-23 09:00 local)
  deadline    2026-11-26T09:00:00Z (2026-11-26 09:00 local)
  next prompt 2026-11-23T09:00:00Z (2026-11-23 09:00 local)
"
    );

    // The Mac is at 14.7 already: nothing required.
    fs::write(
        mac.dir.path().join("facts.json"),
        r#"{"arch": "x86_64", "os_vers": "14.7"}"#,
    )
    .unwrap();
    let (_, outcome) = mac.updates(T0, &["--check"]);
    assert_eq!(str_field(&outcome, "decision"), "none");
}

#[test]
fn run_includes_the_update_phase_in_its_report() {
    let mac = Mac::new(vec![policy()], "x86_64", "14.6");
    mac.offers(Some(SONOMA));
    mac.answers(&[2]);
    let out = mac.command(&["run", "--now", T0]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["updates"]["decision"], "prompted_deferred");
    assert_eq!(report["updates"]["deadline"], t(72 * HOUR));
    let saved: Value = serde_json::from_slice(
        &fs::read(
            mac.root()
                .join("Library/Application Support/mmc/reports/report.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(saved["updates"]["decision"], "prompted_deferred");
    assert_eq!(mac.calls().len(), 3);

    // --check: no update phase at all.
    let out = mac.command(&["run", "--check", "--now", &t(6 * HOUR)]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.get("updates").is_none(), "{report:#}");
    assert!(mac.calls().is_empty());

    // A bundle without update policies has no `updates` key, and forgets the old state.
    let plain = Mac::new(vec![], "x86_64", "14.6");
    plain.write(STATE, "{}");
    let out = plain.command(&["run", "--now", T0]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.get("updates").is_none(), "{report:#}");
    assert!(plain.calls().is_empty());
    assert!(plain.state().is_none());
}
