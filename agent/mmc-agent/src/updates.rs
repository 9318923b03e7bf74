//! Apple software update enforcement, install-or-defer style, and `mmc-agent updates`.
//!
//! Each run: pick the bundle's first update policy whose condition holds, ask
//! `softwareupdate --list` what is available, keep the updates the policy requires, and move a
//! small state machine persisted in `updates.json`:
//!
//! ```text
//! nothing required ─────────────────────────────► state deleted, nothing shown
//! a new set of required updates ────────────────► first_seen = now, deadline fixed, download
//! before the deadline, before the next prompt ──► wait
//! before the deadline, prompt due ──────────────► prompt (deferrable): install, or defer
//!                                                 (next prompt `reprompt_secs` later)
//! at or past the deadline ──────────────────────► prompt (not deferrable); install when the
//!                                                 user says so or when it times out
//! installed, an update needs a restart ─────────► soft restart, then a hard one after the delay
//! ```
//!
//! On Apple silicon `softwareupdate --install` needs a user's credentials, so "install" opens
//! Software Update instead and the prompt comes back until the updates are gone.
//!
//! Every read of the time and every wait goes through [`Clock`], which `--now` replaces with a
//! simulated one: tests (and admins rehearsing a timeline) step through days in milliseconds.

use std::cell::Cell;
use std::cmp::Ordering;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::Offset;
use mmc_config::messages::{section, substitute};
use mmc_config::version::compare;
use mmc_config::{Config, Requirement, UpdatePolicy, WorkHours};
use mmc_predicate::{FactValue, Facts};
use serde::{Deserialize, Serialize};

use crate::log::Log;
use crate::platform::{Output, Root, Runner, printable, remove_durably, write_atomic};
use crate::run::{Format, Options};
use crate::settings::Settings;
use crate::state::{Dirs, PRIVATE};

const HELP: &str = "\
Enforce the Apple software updates the bundle's update policy requires (install-or-defer):
list them with softwareupdate, prompt the user, who may defer until the deadline; past it,
install them and restart. `mmc-agent run` does the same after applying the items.

Usage: mmc-agent updates [--bundle PATH] [OPTIONS]

Options:
  --bundle PATH       The bundle (.tar.gz; its signature is PATH.sig). Default: the newest
                      bundle that verifies in /Library/Application Support/mmc/incoming/
  --trust PUBKEY      A PEM public key that may sign bundles; repeatable
                      [default: the \"trust\" list in agent.json]
  --check             Print the state and what would happen: no prompt, download, install
                      or restart, and nothing is written (softwareupdate --list still runs)
  --facts FILE        Read the facts from FILE (JSON or a plist) instead of gathering them
  --now TIME          Simulate the clock from TIME (RFC 3339): expiry is judged at TIME, the
                      state machine reads TIME, and waits (the restart delay) only move the
                      simulated clock forward
  --root DIR          Treat DIR as the Mac's / (a sandbox) [default: /]
  --commands DIR      Run macOS tools, and the notifier, from DIR when DIR has a file of the
                      same name (agent/fakes/ holds fakes)
  --format FORMAT     human (default) or json: the decision (none, waiting, prompted_deferred,
                      installed, forced, opened_software_update, install_failed,
                      restart_pending, error; with --check: would_prompt, would_force), the
                      policy, the required labels, the deadline and the next prompt
  -h, --help          Print this help

State: /Library/Application Support/mmc/updates.json (first seen, deadline, next prompt,
deferrals, a restart under way). It starts again when the required updates change.

Exit status:
  0  done (whatever the decision)
  1  softwareupdate could not list or install the updates
  2  could not run: bad arguments, a bundle that does not verify, a held lock

Example (a sandbox on Linux, with the fakes, three days on):
  mmc-agent updates --bundle stable-1763700000.tar.gz --trust ci.pem --root /tmp/mac \\
      --commands agent/fakes --facts facts.json --now 2026-11-26T09:00:00Z
";

/// Where the state lives, under the agent's directory.
const STATE_FILE: &str = "updates.json";
/// Version of `updates.json`'s layout.
const STATE_FORMAT: u32 = 1;
/// What "install" opens on Apple silicon.
const SOFTWARE_UPDATE_URL: &str = "x-apple.systempreferences:com.apple.preferences.softwareupdate";
/// The soft restart: asks the apps to quit, which lets users save their work (and refuse).
const SOFT_RESTART: &str = "tell application \"System Events\" to restart";
/// How much longer than its own timeout a notifier may take before it is stopped.
const NOTIFIER_GRACE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// `softwareupdate --list`

/// One entry of `softwareupdate --list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Update {
    /// What `softwareupdate --download` and `--install` take.
    pub label: String,
    pub title: String,
    pub version: String,
    pub recommended: bool,
    /// `Action: restart` or `Action: shut down` (`[restart]`, `[shut down]` before Catalina).
    pub restart: bool,
}

/// Parses `softwareupdate --list` output of every era: since Catalina, `* Label: LABEL`
/// (`- Label:` when not recommended) followed by `Title: …, Version: …, Size: …,
/// Recommended: YES, Action: restart, `; up to Mojave, `* LABEL` followed by
/// `TITLE (VERSION), SIZE [recommended] [restart]`. Indentation, tabs or spaces, does not
/// matter; banner and noise lines (the `XType` lines of Sonoma) are ignored, and
/// `No new software available.` is simply no entry.
pub(crate) fn parse_list(stdout: &str) -> Vec<Update> {
    let mut updates: Vec<Update> = Vec::new();
    // The last entry still waits for its detail line.
    let mut open = false;
    for line in stdout.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some((recommended, rest)) = entry_line(trimmed) {
            let label = rest.strip_prefix("Label:").unwrap_or(rest).trim();
            open = !label.is_empty();
            if open {
                updates.push(Update {
                    label: label.to_owned(),
                    title: label.to_owned(),
                    version: String::new(),
                    recommended,
                    restart: false,
                });
            }
            continue;
        }
        if !std::mem::take(&mut open) {
            continue;
        }
        let Some(update) = updates.last_mut() else {
            continue;
        };
        if trimmed.starts_with("Title:") {
            detail_fields(trimmed, update);
        } else if line.starts_with(char::is_whitespace) {
            detail_mojave(trimmed, update);
        }
    }
    updates
}

/// `* REST` (recommended) or `- REST`.
fn entry_line(trimmed: &str) -> Option<(bool, &str)> {
    let mut chars = trimmed.chars();
    let recommended = match chars.next()? {
        '*' => true,
        '-' => false,
        _ => return None,
    };
    chars
        .next()
        .filter(|c| c.is_whitespace())
        .map(|_| (recommended, trimmed[1..].trim_start()))
}

/// `Title: …, Version: …, Size: …, Recommended: YES, Action: restart, `. A comma inside a
/// value (a title) stays in it: a new field starts only at `Word:`.
fn detail_fields(detail: &str, update: &mut Update) {
    let mut fields: Vec<(String, String)> = Vec::new();
    for part in detail.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        match part.split_once(':') {
            Some((key, value))
                if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphabetic()) =>
            {
                fields.push((key.to_owned(), value.trim().to_owned()));
            }
            _ => {
                if let Some((_, value)) = fields.last_mut() {
                    value.push_str(", ");
                    value.push_str(part);
                }
            }
        }
    }
    let mut recommended = false;
    for (key, value) in fields {
        match key.as_str() {
            "Title" if !value.is_empty() => update.title = value,
            "Version" => update.version = value,
            "Recommended" => recommended = value.eq_ignore_ascii_case("yes"),
            "Action" => {
                let action = value.to_ascii_lowercase();
                update.restart = action.contains("restart") || action.contains("shut down");
            }
            _ => {}
        }
    }
    update.recommended &= recommended;
}

/// `TITLE (VERSION), SIZE [recommended] [restart]` (Mojave and earlier; also
/// `TITLE, (VERSION), SIZE` and `…, SIZE, [recommended] [shut down]`).
fn detail_mojave(detail: &str, update: &mut Update) {
    let lower = detail.to_ascii_lowercase();
    update.recommended &= lower.contains("[recommended]");
    update.restart = lower.contains("[restart]") || lower.contains("[shut down]");
    let text = detail.split('[').next().unwrap_or("");
    let mut head = text.trim().trim_end_matches(',').trim_end();
    // The size is the last part: digits and a unit.
    if let Some((before, size)) = head.rsplit_once(", ")
        && size.trim().starts_with(|c: char| c.is_ascii_digit())
    {
        head = before.trim_end();
    }
    if let Some(inner) = head.strip_suffix(')')
        && let Some(open) = inner.rfind('(')
    {
        update.version = inner[open + 1..].trim().to_owned();
        let title = inner[..open].trim().trim_end_matches(',').trim_end();
        if !title.is_empty() {
            update.title = title.to_owned();
        }
    } else if !head.is_empty() {
        update.title = head.to_owned();
    }
}

// ---------------------------------------------------------------------------------------------
// The clock

/// The time, as the state machine sees it: the system clock, or a simulated one that starts at
/// `--now` and moves only when the state machine waits.
#[derive(Debug)]
pub(crate) enum Clock {
    Real,
    Simulated(Cell<Timestamp>),
}

impl Clock {
    /// Simulated from `now` when given, else real.
    pub(crate) fn new(now: Option<Timestamp>) -> Clock {
        match now {
            Some(t) => Clock::Simulated(Cell::new(to_second(t))),
            None => Clock::Real,
        }
    }

    /// Now, to the second.
    pub(crate) fn now(&self) -> Timestamp {
        match self {
            Clock::Real => to_second(Timestamp::now()),
            Clock::Simulated(now) => now.get(),
        }
    }

    /// Waits `duration`: really, or by moving the simulated clock forward.
    pub(crate) fn sleep(&self, duration: Duration) {
        match self {
            Clock::Real => std::thread::sleep(duration),
            Clock::Simulated(now) => now.set(add(now.get(), duration.as_secs())),
        }
    }

    fn simulated(&self) -> bool {
        matches!(self, Clock::Simulated(_))
    }
}

fn to_second(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// `t` plus `secs` seconds (saturating at the end of time).
fn add(t: Timestamp, secs: u64) -> Timestamp {
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    Timestamp::from_second(t.as_second().saturating_add(secs)).unwrap_or(Timestamp::MAX)
}

/// Seconds from `a` to `b` (negative when `b` is earlier).
fn seconds_between(a: Timestamp, b: Timestamp) -> i64 {
    b.as_second() - a.as_second()
}

/// The local time zone's offset at `t` (UTC when unknown).
fn offset_at(t: Timestamp) -> Offset {
    Offset::from_seconds(crate::platform::utc_offset_seconds_at(t.as_second()))
        .unwrap_or(Offset::UTC)
}

/// `t` in local time, `YYYY-MM-DD HH:MM`.
fn local(t: Timestamp) -> String {
    let dt = offset_at(t).to_datetime(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute()
    )
}

/// A deadline inside the local work hours `[start, end)` moves to `end:00` that day.
fn outside_work_hours(t: Timestamp, hours: WorkHours) -> Timestamp {
    if hours.start > 23 || hours.end > 24 || hours.start >= hours.end {
        return t;
    }
    let offset = offset_at(t);
    let dt = offset.to_datetime(t);
    let hour = u8::try_from(dt.hour()).unwrap_or(0);
    if hour < hours.start || hour >= hours.end {
        return t;
    }
    let target = if hours.end == 24 {
        match dt.date().tomorrow() {
            Ok(day) => day.at(0, 0, 0, 0),
            Err(_) => return t,
        }
    } else {
        dt.date().at(i8::try_from(hours.end).unwrap_or(0), 0, 0, 0)
    };
    // The offset at the new time (a daylight saving change may lie in between).
    let guess = offset.to_timestamp(target).unwrap_or(t);
    offset_at(guess).to_timestamp(target).unwrap_or(guess)
}

// ---------------------------------------------------------------------------------------------
// Persisted state

/// `updates.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateState {
    format: u32,
    /// The policy that applied when the updates were first seen.
    policy: String,
    /// The required updates' labels, sorted: when they change, the window starts again.
    labels: Vec<String>,
    /// RFC 3339, UTC, like every time here.
    first_seen: String,
    /// The deadline (recomputed from the policy and `first_seen` on every run).
    forced_after: String,
    /// The next prompt is not shown before this.
    deferred_until: String,
    #[serde(default)]
    deferrals: u32,
    /// `softwareupdate --download` succeeded for these labels.
    #[serde(default)]
    downloaded: bool,
    /// A restart the agent asked for after installing, until the Mac has restarted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restart: Option<PendingRestart>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingRestart {
    /// When the soft restart was asked for.
    requested_at: String,
    /// How long after it the hard restart comes.
    delay_secs: u64,
}

fn time(text: &str) -> Option<Timestamp> {
    text.parse().ok()
}

impl UpdateState {
    fn first_seen(&self) -> Timestamp {
        time(&self.first_seen).unwrap_or(Timestamp::UNIX_EPOCH)
    }
    fn deferred_until(&self) -> Timestamp {
        time(&self.deferred_until).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

fn state_path(dirs: &Dirs) -> PathBuf {
    dirs.base.join(STATE_FILE)
}

/// The state, or `None` when there is none. One that cannot be read is logged and dropped: the
/// window starts again rather than never.
fn load_state(dirs: &Dirs, log: &mut Log) -> Option<UpdateState> {
    let path = state_path(dirs);
    let bytes = match crate::platform::read_bounded(&path, 1024 * 1024, false) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            log.warn(&format!(
                "cannot read {}: {e}; starting afresh",
                path.display()
            ));
            return None;
        }
    };
    match serde_json::from_slice::<UpdateState>(&bytes) {
        Ok(state)
            if state.format == STATE_FORMAT
                && time(&state.first_seen).is_some()
                && time(&state.deferred_until).is_some() =>
        {
            Some(state)
        }
        Ok(_) => {
            log.warn(&format!(
                "{} has another layout or bad times; starting afresh",
                path.display()
            ));
            None
        }
        Err(e) => {
            log.warn(&format!("{}: {e}; starting afresh", path.display()));
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The phase

/// What the update phase runs with.
pub(crate) struct Phase<'a> {
    pub runner: &'a Runner,
    pub dirs: &'a Dirs,
    pub clock: &'a Clock,
    /// Only look: no prompt, download, install, restart or write.
    pub check: bool,
}

/// A restart the caller performs once its own reports are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RestartPlan {
    /// Ask for a soft restart first (else only the hard one is left).
    pub soft: bool,
    /// How long before the hard restart.
    pub wait: Duration,
}

/// The prompt shown in this run.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct PromptReport {
    /// `deferrable` or `deadline`.
    pub kind: &'static str,
    /// `install`, `defer`, `timeout` (or dismissed) or `failed` (the notifier could not run).
    pub answer: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
    pub message: String,
}

/// What the update phase decided and did.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Outcome {
    /// `none`, `waiting`, `prompted_deferred`, `installed`, `forced`, `opened_software_update`,
    /// `install_failed`, `restart_pending` or `error`; with `--check`, `would_prompt` or
    /// `would_force`.
    pub decision: &'static str,
    /// Why, in words.
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The required updates' labels, sorted.
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub updates: Vec<Update>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_prompt: Option<String>,
    pub deferrals: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptReport>,
    /// `soft_then_hard` (asked for now, hard after the delay) or `hard` (a restart asked for
    /// earlier has not happened).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    pub pending_restart: Option<RestartPlan>,
}

impl Outcome {
    fn new(decision: &'static str, reason: impl Into<String>) -> Outcome {
        Outcome {
            decision,
            reason: reason.into(),
            ..Outcome::default()
        }
    }

    /// Whether something failed (`run` and `updates` then exit 1).
    pub(crate) fn failed(&self) -> bool {
        self.error.is_some()
    }
}

/// The update phase: `None` when the bundle has no update policy (a state left by an earlier
/// bundle is then removed).
pub(crate) fn enforce(
    phase: &Phase,
    config: &Config,
    facts: &Facts,
    log: &mut Log,
) -> Option<Outcome> {
    if config.updates.is_empty() {
        if !phase.check && state_path(phase.dirs).exists() {
            log.info("updates: the bundle has no update policy; forgetting the update state");
            forget(phase, log);
        }
        return None;
    }
    let mut machine = Machine { phase, log };
    Some(match machine.decide(config, facts) {
        Ok(outcome) => outcome,
        Err(e) => {
            machine.log.error(&format!("updates: {e}"));
            let mut outcome = Outcome::new("error", printable(&e));
            outcome.error = Some(printable(&e));
            outcome
        }
    })
}

/// Removes the state.
fn forget(phase: &Phase, log: &mut Log) {
    if let Err(e) = remove_durably(&state_path(phase.dirs)) {
        log.warn(&format!("updates: cannot remove {STATE_FILE}: {e}"));
    }
}

struct Machine<'p, 'a, 'l> {
    phase: &'p Phase<'a>,
    log: &'l mut Log,
}

/// The prompt's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Install,
    Defer,
    Timeout,
    Failed,
}

impl Machine<'_, '_, '_> {
    fn now(&self) -> Timestamp {
        self.phase.clock.now()
    }

    fn decide(&mut self, config: &Config, facts: &Facts) -> Result<Outcome, String> {
        let mut state = load_state(self.phase.dirs, self.log);

        // A restart asked for by an earlier run comes first.
        if let Some(s) = &mut state
            && let Some(restart) = s.restart.clone()
        {
            if let Some(outcome) = self.pending_restart(&restart)? {
                return Ok(outcome);
            }
            s.restart = None;
            self.save(s)?;
        }

        let Some(policy) = pick_policy(config, facts, self.log) else {
            self.nothing(state.is_some(), "no update policy applies to this Mac");
            return Ok(Outcome::new("none", "no update policy applies to this Mac"));
        };

        let listed = self.list()?;
        let required = required(policy, &listed, facts, self.log);
        if required.is_empty() {
            let reason = match &policy.require {
                Requirement::Recommended => {
                    "softwareupdate lists no recommended update and none that needs a restart"
                        .to_owned()
                }
                Requirement::OsVersion { version } => {
                    format!("nothing to install for macOS {version}")
                }
            };
            self.nothing(state.is_some(), &reason);
            let mut outcome = Outcome::new("none", reason);
            outcome.policy = Some(policy.name.clone());
            return Ok(outcome);
        }
        let mut labels: Vec<String> = required.iter().map(|u| u.label.clone()).collect();
        labels.sort();
        labels.dedup();

        let now = self.now();
        let mut state = match state {
            Some(s) if s.policy == policy.name && s.labels == labels => s,
            old => {
                if let Some(old) = old {
                    self.log.info(&format!(
                        "updates: the required updates changed (were {}, policy {}): the deferral window starts again",
                        old.labels.join(", "),
                        old.policy
                    ));
                }
                let (deadline, note) = deadline(policy, now);
                self.log.info(&format!(
                    "updates: policy {} requires {}; deadline {} ({} local){}",
                    policy.name,
                    describe(&required),
                    deadline,
                    local(deadline),
                    note.map(|n| format!("; {n}")).unwrap_or_default()
                ));
                UpdateState {
                    format: STATE_FORMAT,
                    policy: policy.name.clone(),
                    labels: labels.clone(),
                    first_seen: now.to_string(),
                    forced_after: deadline.to_string(),
                    deferred_until: now.to_string(),
                    deferrals: 0,
                    downloaded: false,
                    restart: None,
                }
            }
        };
        // The deadline follows the policy as it is now (a shorter window applies at once).
        let (deadline, _) = deadline(policy, state.first_seen());
        state.forced_after = deadline.to_string();
        if state.deferred_until() > deadline {
            state.deferred_until = deadline.to_string();
        }
        self.save(&state)?;

        let mut outcome = Outcome {
            policy: Some(policy.name.clone()),
            labels,
            updates: required.clone(),
            first_seen: Some(state.first_seen.clone()),
            deadline: Some(state.forced_after.clone()),
            ..Outcome::default()
        };

        if !state.downloaded && !self.phase.check {
            state.downloaded = self.download(&outcome.labels);
            self.save(&state)?;
        }

        let apple_silicon = matches!(facts.get("arch"), Some(FactValue::String(a)) if a == "arm64");
        let now = self.now();
        if now < deadline {
            if now < state.deferred_until() {
                outcome.decision = "waiting";
                outcome.reason = format!(
                    "deferred: next prompt at {} ({} local), deadline {} local",
                    state.deferred_until,
                    local(state.deferred_until()),
                    local(deadline)
                );
                self.log.info(&format!("updates: {}", outcome.reason));
                return Ok(finish(outcome, &state));
            }
            if self.phase.check {
                outcome.decision = "would_prompt";
                outcome.reason = format!(
                    "would prompt (the user may defer until {} local)",
                    local(deadline)
                );
                return Ok(finish(outcome, &state));
            }
            let (answer, report) = self.prompt(policy, &required, deadline, true);
            outcome.prompt = Some(report);
            if answer == Answer::Install {
                self.install(
                    policy,
                    &required,
                    &mut state,
                    false,
                    apple_silicon,
                    &mut outcome,
                )?;
            } else {
                let now = self.now();
                state.deferrals += 1;
                state.deferred_until = add(now, policy.reprompt_secs).min(deadline).to_string();
                self.save(&state)?;
                outcome.decision = "prompted_deferred";
                outcome.reason = format!(
                    "{} (deferral {}); next prompt at {} local, deadline {} local",
                    match answer {
                        Answer::Defer => "the user deferred",
                        Answer::Timeout => "the prompt timed out or was dismissed",
                        _ => "the prompt could not be shown",
                    },
                    state.deferrals,
                    local(state.deferred_until()),
                    local(deadline)
                );
                self.log.info(&format!("updates: {}", outcome.reason));
            }
        } else {
            if self.phase.check {
                outcome.decision = "would_force";
                outcome.reason = format!(
                    "the deadline {} local has passed: would prompt without deferral, then {}",
                    local(deadline),
                    if apple_silicon {
                        "open Software Update"
                    } else {
                        "install"
                    }
                );
                return Ok(finish(outcome, &state));
            }
            let (answer, report) = self.prompt(policy, &required, deadline, false);
            outcome.prompt = Some(report);
            self.log.info(&format!(
                "updates: the deadline {} local has passed; {}: installing",
                local(deadline),
                match answer {
                    Answer::Install => "the user chose to install",
                    Answer::Timeout => "the prompt timed out",
                    Answer::Defer => "deferral is over",
                    Answer::Failed => "the prompt could not be shown",
                }
            ));
            self.install(
                policy,
                &required,
                &mut state,
                true,
                apple_silicon,
                &mut outcome,
            )?;
        }
        Ok(finish(outcome, &state))
    }

    /// Nothing is required: the state goes.
    fn nothing(&mut self, had_state: bool, reason: &str) {
        if self.phase.check {
            return;
        }
        if had_state {
            self.log
                .info(&format!("updates: {reason}; the update state is removed"));
            forget(self.phase, self.log);
        } else {
            self.log.info(&format!("updates: {reason}"));
        }
    }

    fn save(&mut self, state: &UpdateState) -> Result<(), String> {
        if self.phase.check {
            return Ok(());
        }
        let path = state_path(self.phase.dirs);
        let mut bytes = serde_json::to_vec_pretty(state).expect("the update state serializes");
        bytes.push(b'\n');
        write_atomic(&path, &bytes, PRIVATE)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Runs a macOS tool; under a simulated clock, the fakes see the simulated time.
    fn tool(&self, tool: &str, args: &[&str], timeout: Duration) -> Result<Output, String> {
        let program = self.phase.runner.tool_path(tool);
        self.run(&program, args, timeout)
    }

    fn run(&self, program: &Path, args: &[&str], timeout: Duration) -> Result<Output, String> {
        let now = self.now().as_second().to_string();
        let env: &[(&str, &str)] = if self.phase.clock.simulated() {
            &[("MMC_NOW", now.as_str())]
        } else {
            &[]
        };
        self.phase.runner.run(program, args, env, timeout)
    }

    fn list(&mut self) -> Result<Vec<Update>, String> {
        let out = self.tool("softwareupdate", &["--list"], self.phase.runner.timeout)?;
        if !out.success() {
            return Err(format!("softwareupdate --list: {}", out.failure()));
        }
        let listed = parse_list(&out.stdout_text());
        self.log.info(&format!(
            "updates: softwareupdate --list: {}",
            if listed.is_empty() {
                "nothing".to_owned()
            } else {
                describe(&listed)
            }
        ));
        Ok(listed)
    }

    /// Downloads the updates in the background, before anyone is asked; a failure is retried on
    /// the next run (the install downloads what is missing anyway).
    fn download(&mut self, labels: &[String]) -> bool {
        let mut args = vec!["--download"];
        args.extend(labels.iter().map(String::as_str));
        self.log
            .info(&format!("updates: downloading {}", labels.join(", ")));
        match self.tool("softwareupdate", &args, self.phase.runner.timeout) {
            Ok(out) if out.success() => {
                self.log_output("softwareupdate --download", &out);
                true
            }
            Ok(out) => {
                self.log_output("softwareupdate --download", &out);
                self.log.warn(&format!(
                    "updates: the download failed ({}); trying again on the next run",
                    out.failure()
                ));
                false
            }
            Err(e) => {
                self.log.warn(&format!("updates: {e}"));
                false
            }
        }
    }

    fn log_output(&mut self, what: &str, out: &Output) {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = printable_lines(&text);
        if !text.is_empty() {
            self.log.info(&format!("updates: {what}:\n{text}"));
        }
    }

    /// Shows the prompt through the org's notifier and waits for the answer.
    fn prompt(
        &mut self,
        policy: &UpdatePolicy,
        required: &[Update],
        deadline: Timestamp,
        deferrable: bool,
    ) -> (Answer, PromptReport) {
        let now = self.now();
        let messages = &policy.messages;
        let vars = Vars {
            hours: hours_left(now, deadline),
            deadline: local(deadline),
            updates: required
                .iter()
                .map(display_name)
                .collect::<Vec<_>>()
                .join("\n"),
            support: policy.support_contact.clone().unwrap_or_default(),
            restart: required.iter().any(|u| u.restart),
            deferrable,
        };
        let message = render(
            if deferrable {
                &messages.prompt
            } else {
                &messages.deadline
            },
            &vars,
        );
        let title = render(&messages.title, &vars);
        let args = notifier_args(
            &policy.notifier.args,
            &[
                ("%TITLE%", title.as_str()),
                ("%MESSAGE%", message.as_str()),
                ("%TIMEOUT%", &policy.prompt_timeout_secs.to_string()),
                ("%INSTALL%", messages.install_button.as_str()),
                ("%DEFER%", messages.defer_button.as_str()),
            ],
            deferrable,
        );
        let kind = if deferrable { "deferrable" } else { "deadline" };
        self.log.info(&format!(
            "updates: prompting ({kind}, timeout {} s) with {}:\n{message}",
            policy.prompt_timeout_secs, policy.notifier.program
        ));
        let timeout = match policy.prompt_timeout_secs {
            0 => self.phase.runner.timeout,
            secs => Duration::from_secs(secs) + NOTIFIER_GRACE,
        };
        let result = if Path::new(&policy.notifier.program).is_absolute() {
            let program = self.phase.runner.interpreter(&policy.notifier.program);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            self.run(&program, &args, timeout)
        } else {
            Err(format!(
                "the notifier {:?} is not an absolute path",
                policy.notifier.program
            ))
        };
        let (answer, exit) = match &result {
            Err(e) => {
                self.log.error(&format!("updates: cannot prompt: {e}"));
                (Answer::Failed, None)
            }
            Ok(out) if out.timed_out => (Answer::Timeout, None),
            Ok(out) => {
                let answer = match out.status {
                    Some(code) if policy.notifier.install_exit.contains(&code) => Answer::Install,
                    Some(code) if policy.notifier.defer_exit.contains(&code) => Answer::Defer,
                    _ => Answer::Timeout,
                };
                (answer, out.status)
            }
        };
        let name = match answer {
            Answer::Install => "install",
            Answer::Defer => "defer",
            Answer::Timeout => "timeout",
            Answer::Failed => "failed",
        };
        self.log.info(&format!(
            "updates: the prompt answered {name}{}",
            exit.map(|c| format!(" (exit status {c})"))
                .unwrap_or_default()
        ));
        (
            answer,
            PromptReport {
                kind,
                answer: name,
                exit,
                message: printable_lines(&message),
            },
        )
    }

    /// Installs the required updates (or, on Apple silicon, opens Software Update).
    fn install(
        &mut self,
        policy: &UpdatePolicy,
        required: &[Update],
        state: &mut UpdateState,
        forced: bool,
        apple_silicon: bool,
        outcome: &mut Outcome,
    ) -> Result<(), String> {
        let deadline = time(&state.forced_after).unwrap_or_else(|| self.now());
        let labels = outcome.labels.clone();
        if apple_silicon {
            self.log.warn(&format!(
                "updates: Apple silicon: installing {} needs a user's credentials; opening Software Update for the user to authenticate{}",
                labels.join(", "),
                if forced {
                    " (the prompt returns on every run until the updates are installed)"
                } else {
                    ""
                }
            ));
            match self.tool("open", &[SOFTWARE_UPDATE_URL], Duration::from_secs(60)) {
                Ok(out) if out.success() => {}
                Ok(out) => self.log.error(&format!(
                    "updates: cannot open Software Update: {}",
                    out.failure()
                )),
                Err(e) => self
                    .log
                    .error(&format!("updates: cannot open Software Update: {e}")),
            }
            if !forced {
                state.deferred_until = add(self.now(), policy.reprompt_secs)
                    .min(deadline)
                    .to_string();
            }
            self.save(state)?;
            outcome.decision = "opened_software_update";
            outcome.reason = format!(
                "opened Software Update: a user must authenticate to install {}",
                labels.join(", ")
            );
            return Ok(());
        }

        let mut args = vec!["--install"];
        args.extend(labels.iter().map(String::as_str));
        args.push("--no-scan");
        self.log.info(&format!(
            "updates: installing {}{}",
            labels.join(", "),
            if forced { " (forced)" } else { "" }
        ));
        let result = self.tool("softwareupdate", &args, self.phase.runner.timeout);
        let failure = match &result {
            Ok(out) => {
                self.log_output("softwareupdate --install", out);
                (!out.success()).then(|| format!("softwareupdate --install: {}", out.failure()))
            }
            Err(e) => Some(e.clone()),
        };
        if let Some(e) = failure {
            self.log.error(&format!("updates: {e}"));
            if !forced {
                state.deferred_until = add(self.now(), policy.reprompt_secs)
                    .min(deadline)
                    .to_string();
            }
            self.save(state)?;
            outcome.decision = "install_failed";
            outcome.reason = "softwareupdate could not install the updates".into();
            outcome.error = Some(printable(&e));
            return Ok(());
        }
        outcome.decision = if forced { "forced" } else { "installed" };
        outcome.reason = format!(
            "installed {}{}",
            labels.join(", "),
            if forced { " after the deadline" } else { "" }
        );
        self.log.info(&format!("updates: {}", outcome.reason));
        if required.iter().any(|u| u.restart) {
            state.restart = Some(PendingRestart {
                requested_at: self.now().to_string(),
                delay_secs: policy.restart_delay_secs,
            });
            self.save(state)?;
            outcome.restart = Some("soft_then_hard");
            outcome.pending_restart = Some(RestartPlan {
                soft: true,
                wait: Duration::from_secs(policy.restart_delay_secs),
            });
        }
        Ok(())
    }

    /// A restart asked for by an earlier run: done when the Mac booted since; else the hard
    /// restart is still owed. `None` when there is nothing left to do about it.
    fn pending_restart(&mut self, restart: &PendingRestart) -> Result<Option<Outcome>, String> {
        let Some(requested) = time(&restart.requested_at) else {
            return Ok(None);
        };
        match self.boot_time() {
            Some(boot) if boot >= requested.as_second() => {
                self.log.info(&format!(
                    "updates: the Mac restarted at {} after the updates were installed",
                    Timestamp::from_second(boot).unwrap_or(requested)
                ));
                Ok(None)
            }
            None => {
                self.log.warn(
                    "updates: cannot tell when the Mac last started (sysctl kern.boottime); assuming the restart happened",
                );
                Ok(None)
            }
            Some(_) => {
                let due = add(requested, restart.delay_secs);
                let wait = u64::try_from(seconds_between(self.now(), due)).unwrap_or(0);
                let mut outcome = Outcome::new(
                    "restart_pending",
                    format!(
                        "the restart asked for at {} ({} local) has not happened: hard restart at {} local",
                        restart.requested_at,
                        local(requested),
                        local(due)
                    ),
                );
                self.log.warn(&format!("updates: {}", outcome.reason));
                outcome.restart = Some("hard");
                outcome.pending_restart = (!self.phase.check).then_some(RestartPlan {
                    soft: false,
                    wait: Duration::from_secs(wait),
                });
                Ok(Some(outcome))
            }
        }
    }

    /// When the Mac last started, from `sysctl -n kern.boottime`
    /// (`{ sec = 1700000000, usec = 0 } Tue Nov 14 22:13:20 2023`).
    fn boot_time(&self) -> Option<i64> {
        let out = self
            .tool("sysctl", &["-n", "kern.boottime"], Duration::from_secs(60))
            .ok()
            .filter(Output::success)?;
        let text = out.stdout_text();
        let after = text.split("sec =").nth(1)?.trim_start();
        after
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    }
}

/// The outcome's view of the state.
fn finish(mut outcome: Outcome, state: &UpdateState) -> Outcome {
    outcome.deferrals = state.deferrals;
    outcome.next_prompt = Some(state.deferred_until.clone());
    outcome
}

/// Restarts the Mac after an install: a soft restart (apps may ask to save, users may refuse),
/// then, after the delay, a hard one. Logged; failures too.
pub(crate) fn restart(phase: &Phase, plan: &RestartPlan, log: &mut Log) {
    let machine = Machine { phase, log };
    if plan.soft {
        machine
            .log
            .info("updates: asking for a soft restart (System Events)");
        match machine.tool("osascript", &["-e", SOFT_RESTART], Duration::from_secs(60)) {
            Ok(out) if out.success() => {}
            Ok(out) => machine
                .log
                .warn(&format!("updates: the soft restart: {}", out.failure())),
            Err(e) => machine.log.warn(&format!("updates: the soft restart: {e}")),
        }
    }
    if !plan.wait.is_zero() {
        machine.log.info(&format!(
            "updates: a hard restart follows in {} s unless the Mac restarts first",
            plan.wait.as_secs()
        ));
        phase.clock.sleep(plan.wait);
    }
    machine
        .log
        .info("updates: restarting the Mac (shutdown -r now)");
    match machine.tool("shutdown", &["-r", "now"], Duration::from_secs(60)) {
        Ok(out) if out.success() => {}
        Ok(out) => machine.log.error(&format!(
            "updates: the hard restart: {}; the next run tries again",
            out.failure()
        )),
        Err(e) => machine.log.error(&format!(
            "updates: the hard restart: {e}; the next run tries again"
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Policy, requirement, deadline, messages

/// The first policy whose condition holds. A condition that cannot be parsed or evaluated is
/// false (as Munki treats a conditional item's), and logged.
fn pick_policy<'c>(config: &'c Config, facts: &Facts, log: &mut Log) -> Option<&'c UpdatePolicy> {
    config.updates.iter().find(|policy| {
        let Some(condition) = &policy.condition else {
            return true;
        };
        let result = mmc_predicate::parse(condition)
            .map_err(|e| e.message)
            .and_then(|p| mmc_predicate::eval(&p, facts).map_err(|e| e.message));
        match result {
            Ok(holds) => holds,
            Err(e) => {
                log.warn(&format!(
                    "updates: policy {}: condition {condition:?}: {e}; treated as false",
                    policy.name
                ));
                false
            }
        }
    })
}

/// The updates `policy` requires of those listed.
fn required(policy: &UpdatePolicy, listed: &[Update], facts: &Facts, log: &mut Log) -> Vec<Update> {
    match &policy.require {
        Requirement::Recommended => listed
            .iter()
            .filter(|u| u.recommended || u.restart)
            .cloned()
            .collect(),
        Requirement::OsVersion { version } => {
            match facts.get("os_vers") {
                Some(FactValue::String(os)) if compare(os, version) != Ordering::Less => {
                    return Vec::new();
                }
                Some(FactValue::String(_)) => {}
                _ => log.warn(
                    "updates: the os_vers fact is missing; taking the Mac to be below the required version",
                ),
            }
            match os_update(listed, version) {
                Some(update) => vec![update.clone()],
                None => {
                    log.warn(&format!(
                        "updates: macOS {version} is required, and softwareupdate offers no macOS update"
                    ));
                    Vec::new()
                }
            }
        }
    }
}

/// The one macOS update (title starting with `macOS`) that leads to `target`, least disruptive
/// first: the lowest version of the target's release (major version; `10.x` before macOS 11)
/// that reaches it; else the highest of that release (a step on the way, when the target is
/// not offered yet); else the lowest version of another release that reaches it (a major
/// upgrade, when the target is one).
fn os_update<'u>(listed: &'u [Update], target: &str) -> Option<&'u Update> {
    let release = |version: &str| {
        let mut parts = version.split('.');
        match (parts.next(), parts.next()) {
            (Some("10"), Some(minor)) => format!("10.{minor}"),
            (Some(major), _) => major.to_owned(),
            _ => String::new(),
        }
    };
    let macos: Vec<&Update> = listed
        .iter()
        .filter(|u| u.title.starts_with("macOS") && !u.version.is_empty())
        .collect();
    let same = |u: &&&Update| release(&u.version) == release(target);
    let reaches = |u: &&&Update| compare(&u.version, target) != Ordering::Less;
    let lowest = |a: &&&Update, b: &&&Update| compare(&a.version, &b.version);
    macos
        .iter()
        .filter(same)
        .filter(reaches)
        .min_by(lowest)
        .or_else(|| macos.iter().filter(same).max_by(lowest))
        .or_else(|| macos.iter().filter(reaches).min_by(lowest))
        .copied()
}

/// The deadline for updates first seen at `first_seen`: the policy's absolute deadline, or the
/// deferral window after `first_seen`, moved out of the work hours; with `skip_deferral`,
/// `first_seen` itself. Also a note when the work hours moved it.
fn deadline(policy: &UpdatePolicy, first_seen: Timestamp) -> (Timestamp, Option<String>) {
    if policy.skip_deferral {
        return (first_seen, Some("skip_deferral: no deferral".into()));
    }
    let window = add(first_seen, policy.max_deferral_secs);
    let base = match &policy.deadline {
        Some(text) => match text.parse::<Timestamp>() {
            Ok(t) => t,
            Err(_) => {
                return (
                    window,
                    Some(format!(
                        "the policy's deadline {text:?} is not an RFC 3339 time; using the deferral window"
                    )),
                );
            }
        },
        None => window,
    };
    match policy.work_hours {
        Some(hours) => {
            let moved = outside_work_hours(base, hours);
            let note = (moved != base).then(|| {
                format!(
                    "moved from {} local, within the work hours {}–{}",
                    local(base),
                    hours.start,
                    hours.end
                )
            });
            (moved, note)
        }
        None => (base, None),
    }
}

/// Whole hours left before the deadline, rounded up; 0 past it.
fn hours_left(now: Timestamp, deadline: Timestamp) -> u64 {
    let secs = u64::try_from(seconds_between(now, deadline)).unwrap_or(0);
    secs.div_ceil(3600)
}

/// An update as the prompt lists it: its title, and its version when the title lacks it.
fn display_name(update: &Update) -> String {
    if update.version.is_empty() || update.title.contains(&update.version) {
        update.title.clone()
    } else {
        format!("{} {}", update.title, update.version)
    }
}

fn describe(updates: &[Update]) -> String {
    updates
        .iter()
        .map(|u| {
            let mut flags = Vec::new();
            if u.recommended {
                flags.push("recommended");
            }
            if u.restart {
                flags.push("restart");
            }
            format!("{} [{}]", u.label, flags.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a message's placeholders and sections stand for.
struct Vars {
    hours: u64,
    deadline: String,
    updates: String,
    support: String,
    restart: bool,
    deferrable: bool,
}

/// A prompt text: `[restart]…[/restart]` kept only when an update needs a restart,
/// `[deferrable]…[/deferrable]` only while the user may defer (the tags themselves go), then
/// `%HOURS%`, `%DEADLINE%`, `%UPDATES%` and `%SUPPORT%` replaced, in one pass (a value is never
/// read again for placeholders).
fn render(template: &str, vars: &Vars) -> String {
    let text = section(template, "restart", vars.restart);
    let text = section(&text, "deferrable", vars.deferrable);
    substitute(
        &text,
        &[
            ("%HOURS%", &vars.hours.to_string()),
            ("%DEADLINE%", &vars.deadline),
            ("%UPDATES%", &vars.updates),
            ("%SUPPORT%", &vars.support),
        ],
    )
}

/// The notifier's arguments, placeholders replaced in each argument. Past the deadline there is
/// no defer button: an argument that is exactly `%DEFER%` is dropped, with the option before it
/// (an argument starting with `-`), and `%DEFER%` inside a longer argument becomes empty.
fn notifier_args(args: &[String], pairs: &[(&str, &str)], deferrable: bool) -> Vec<String> {
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|&(name, value)| {
            if name == "%DEFER%" && !deferrable {
                (name, "")
            } else {
                (name, value)
            }
        })
        .collect();
    let mut out: Vec<String> = Vec::with_capacity(args.len());
    for (i, arg) in args.iter().enumerate() {
        if !deferrable && arg == "%DEFER%" {
            if i > 0 && args[i - 1].starts_with('-') {
                out.pop();
            }
            continue;
        }
        out.push(substitute(arg, &pairs));
    }
    out
}

/// Text from tools and prompts for reports: control characters replaced, lines kept.
fn printable_lines(text: &str) -> String {
    text.lines()
        .map(|l| printable(l.trim_end()))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// `mmc-agent updates`

pub(crate) fn run(mut parser: lexopt::Parser) -> Result<ExitCode, String> {
    let Some(options) = parse(&mut parser)? else {
        print!("{HELP}");
        return Ok(ExitCode::SUCCESS);
    };
    let root = Root::new(&options.root)?;
    if root.dir() == Path::new("/") && !crate::platform::is_root() && !options.check {
        return Err(
            "updates may install and restart, and needs root: use sudo, or --check, or --root DIR for a sandbox"
                .into(),
        );
    }
    let dirs = Dirs::new(&root);
    let settings = Settings::load(&dirs)?;
    let now = options.now.unwrap_or_else(Timestamp::now);
    let _lock = crate::run::lock(&dirs, options.check)?;
    let mut log = if options.check {
        Log::disabled()
    } else {
        Log::open(
            &dirs,
            settings
                .log_max_bytes
                .unwrap_or(crate::log::DEFAULT_MAX_BYTES),
            settings.log_keep.unwrap_or(crate::log::DEFAULT_KEEP),
        )
    };
    let loaded = crate::run::load_config(&options, &root, &dirs, &settings, now, &mut log);
    let (statement, config, facts, runner) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            log.error(&format!("updates stopped: {e}"));
            return Err(e);
        }
    };
    log.info(&format!(
        "updates: bundle {} version {}{}",
        statement.name,
        statement.version,
        match options.now {
            Some(t) => format!(" (simulated clock from {t})"),
            None => String::new(),
        }
    ));
    let clock = Clock::new(options.now);
    let phase = Phase {
        runner: &runner,
        dirs: &dirs,
        clock: &clock,
        check: options.check,
    };
    let Some(outcome) = enforce(&phase, &config, &facts, &mut log) else {
        match options.format {
            Format::Json => println!(
                "{{\"decision\": \"none\", \"reason\": \"the bundle has no update policy\", \"labels\": []}}"
            ),
            Format::Human => println!("the bundle has no update policy"),
        }
        return Ok(ExitCode::SUCCESS);
    };
    match options.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&outcome).expect("the outcome serializes")
        ),
        Format::Human => print!("{}", human(&outcome, options.check)),
    }
    if let Some(plan) = &outcome.pending_restart {
        restart(&phase, plan, &mut log);
    }
    Ok(if outcome.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The terminal form of an outcome.
pub(crate) fn human(outcome: &Outcome, check: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "updates: {}{}: {}",
        outcome.decision,
        if check {
            " (check: nothing changed)"
        } else {
            ""
        },
        outcome.reason
    );
    let mut line = |name: &str, value: &str| {
        let _ = writeln!(out, "  {name:<11} {value}");
    };
    if let Some(policy) = &outcome.policy {
        line("policy", policy);
    }
    for update in &outcome.updates {
        line(
            "required",
            &printable(&format!(
                "{} ({}{})",
                update.label,
                display_name(update),
                if update.restart { ", restart" } else { "" }
            )),
        );
    }
    let times = [
        ("first seen", &outcome.first_seen),
        ("deadline", &outcome.deadline),
        ("next prompt", &outcome.next_prompt),
    ];
    for (name, value) in times {
        if let Some(value) = value
            && let Some(t) = time(value)
        {
            line(name, &format!("{value} ({} local)", local(t)));
        }
    }
    if outcome.deferrals > 0 {
        line("deferrals", &outcome.deferrals.to_string());
    }
    if let Some(prompt) = &outcome.prompt {
        line(
            "prompt",
            &format!("{}, answered {}", prompt.kind, prompt.answer),
        );
    }
    if let Some(restart) = outcome.restart {
        line("restart", restart);
    }
    if let Some(error) = &outcome.error {
        line("error", error);
    }
    out
}

fn parse(parser: &mut lexopt::Parser) -> Result<Option<Options>, String> {
    crate::run::parse_for(
        parser,
        "updates",
        Some(&[
            "bundle", "trust", "check", "facts", "root", "commands", "now", "format",
        ]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(label: &str, title: &str, version: &str, recommended: bool, restart: bool) -> Update {
        Update {
            label: label.into(),
            title: title.into(),
            version: version.into(),
            recommended,
            restart,
        }
    }

    #[test]
    fn sonoma_era_list_with_noise_and_trailing_commas() {
        let text = include_str!("../../fakes/fixtures/softwareupdate-sonoma.txt");
        assert_eq!(
            parse_list(text),
            vec![
                update(
                    "Command Line Tools for Xcode-16.1",
                    "Command Line Tools for Xcode",
                    "16.1",
                    true,
                    false
                ),
                update("Safari18.1SonomaAuto-18.1", "Safari", "18.1", true, false),
                update(
                    "macOS Sonoma 14.7.1-23H222",
                    "macOS Sonoma 14.7.1",
                    "14.7.1",
                    true,
                    true
                ),
            ]
        );
    }

    #[test]
    fn catalina_era_list_with_shut_down_and_not_recommended_entries() {
        let text = include_str!("../../fakes/fixtures/softwareupdate-catalina.txt");
        assert_eq!(
            parse_list(text),
            vec![
                update(
                    "Security Update 2021-002 Catalina-10.15.7",
                    "Security Update 2021-002 Catalina",
                    "10.15.7",
                    true,
                    true
                ),
                update(
                    "BridgeOSUpdateCustomer",
                    "BridgeOSUpdateCustomer",
                    "10.15.7.1.1.1614291622",
                    true,
                    true
                ),
                update(
                    "Safari14.0.3CatalinaAuto-14.0.3",
                    "Safari",
                    "14.0.3",
                    true,
                    false
                ),
                update(
                    "Pro Video Formats-2.2.1",
                    "Pro Video Formats",
                    "2.2.1",
                    false,
                    false
                ),
            ]
        );
    }

    #[test]
    fn mojave_era_list_without_label_keys() {
        let text = include_str!("../../fakes/fixtures/softwareupdate-mojave.txt");
        assert_eq!(
            parse_list(text),
            vec![
                update(
                    "Security Update 2020-001-10.14.6",
                    "Security Update 2020-001",
                    "10.14.6",
                    true,
                    true
                ),
                update(
                    "Command Line Tools (macOS Mojave version 10.14) for Xcode-11.3",
                    "Command Line Tools (macOS Mojave version 10.14) for Xcode",
                    "11.3",
                    true,
                    false
                ),
                update(
                    "BridgeOSUpdateCustomer",
                    "BridgeOSUpdateCustomer",
                    "10.14.6.1.1.1578956620",
                    true,
                    true
                ),
                update(
                    "Pro Video Formats-2.1",
                    "Pro Video Formats",
                    "2.1",
                    false,
                    false
                ),
            ]
        );
    }

    #[test]
    fn whitespace_nothing_to_install_and_odd_lines() {
        assert!(
            parse_list(
                "Software Update Tool\n\nFinding available software\nNo new software available.\n"
            )
            .is_empty()
        );
        assert!(parse_list("").is_empty());
        // Leading spaces or none, tabs or spaces, CRLF, no trailing comma, a comma in a title.
        let text = "  * Label: A-1\r\n\t\tTitle: A, the best, Version: 1, Size: 1K, Recommended: YES, Action: restart\r\n*\tLabel: B-2\nnot a detail line\n* Label: \n- notes\n";
        assert_eq!(
            parse_list(text),
            vec![
                update("A-1", "A, the best", "1", true, true),
                update("B-2", "B-2", "", true, false),
                update("notes", "notes", "", false, false),
            ]
        );
    }

    #[test]
    fn required_updates_by_requirement() {
        let listed = vec![
            update("Safari-18.1", "Safari", "18.1", true, false),
            update("Tools-1", "Tools", "1", false, false),
            update("Firmware", "Firmware", "2", false, true),
            update(
                "macOS Sonoma 14.7.1-23H222",
                "macOS Sonoma 14.7.1",
                "14.7.1",
                true,
                true,
            ),
            update(
                "macOS Sequoia 15.1-24B83",
                "macOS Sequoia 15.1",
                "15.1",
                true,
                true,
            ),
        ];
        let mut log = Log::disabled();
        let policy = |require| UpdatePolicy {
            name: "p".into(),
            condition: None,
            require,
            deadline: None,
            max_deferral_secs: 0,
            reprompt_secs: 0,
            prompt_timeout_secs: 0,
            restart_delay_secs: 0,
            work_hours: None,
            skip_deferral: false,
            notifier: mmc_config::Notifier {
                program: "/x".into(),
                args: vec![],
                install_exit: vec![0],
                defer_exit: vec![2],
            },
            messages: mmc_config::UpdateMessages {
                title: String::new(),
                prompt: String::new(),
                deadline: String::new(),
                install_button: String::new(),
                defer_button: String::new(),
            },
            support_contact: None,
        };
        let mut labels = |require, os: &str| -> Vec<String> {
            let mut facts = Facts::new();
            facts.insert("os_vers".into(), FactValue::String(os.into()));
            required(&policy(require), &listed, &facts, &mut log)
                .into_iter()
                .map(|u| u.label)
                .collect()
        };
        assert_eq!(
            labels(Requirement::Recommended, "14.5"),
            [
                "Safari-18.1",
                "Firmware",
                "macOS Sonoma 14.7.1-23H222",
                "macOS Sequoia 15.1-24B83"
            ]
        );
        let os = |v: &str| Requirement::OsVersion { version: v.into() };
        // The minor update reaches 14.7: the major upgrade is not forced.
        assert_eq!(labels(os("14.7"), "14.5"), ["macOS Sonoma 14.7.1-23H222"]);
        // Only the major upgrade reaches 15.
        assert_eq!(labels(os("15.0"), "14.5"), ["macOS Sequoia 15.1-24B83"]);
        // Not offered yet: a step on the way, within the same release.
        assert_eq!(labels(os("14.8"), "14.5"), ["macOS Sonoma 14.7.1-23H222"]);
        // Already there (Munki's comparison: 14.7.0 == 14.7).
        assert!(labels(os("14.7"), "14.7.0").is_empty());
        assert!(labels(os("16.0"), "14.5").is_empty());
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn the_simulated_clock_moves_only_when_waiting() {
        let clock = Clock::new(Some(at("2026-11-23T09:00:00.700Z")));
        assert_eq!(clock.now(), at("2026-11-23T09:00:00Z"));
        clock.sleep(Duration::from_secs(300));
        assert_eq!(clock.now(), at("2026-11-23T09:05:00Z"));
        assert!(clock.simulated());
        assert!(!Clock::new(None).simulated());
    }

    #[test]
    fn work_hours_move_a_deadline_to_their_end() {
        // The tests run with the process's time zone; only UTC is certain here.
        if crate::platform::utc_offset_seconds_at(at("2026-11-26T10:00:00Z").as_second()) != 0 {
            return;
        }
        let hours = WorkHours { start: 9, end: 17 };
        assert_eq!(
            outside_work_hours(at("2026-11-26T10:30:00Z"), hours),
            at("2026-11-26T17:00:00Z")
        );
        assert_eq!(
            outside_work_hours(at("2026-11-26T09:00:00Z"), hours),
            at("2026-11-26T17:00:00Z")
        );
        for outside in [
            "2026-11-26T08:59:59Z",
            "2026-11-26T17:00:00Z",
            "2026-11-26T23:00:00Z",
        ] {
            assert_eq!(outside_work_hours(at(outside), hours), at(outside));
        }
        let late = WorkHours { start: 20, end: 24 };
        assert_eq!(
            outside_work_hours(at("2026-11-26T21:00:00Z"), late),
            at("2026-11-27T00:00:00Z")
        );
        // Nonsense hours change nothing.
        let bad = WorkHours { start: 17, end: 9 };
        assert_eq!(
            outside_work_hours(at("2026-11-26T10:30:00Z"), bad),
            at("2026-11-26T10:30:00Z")
        );
        assert_eq!(local(at("2026-11-26T17:00:59Z")), "2026-11-26 17:00");
    }

    #[test]
    fn messages_sections_and_placeholders() {
        let vars = |restart, deferrable| Vars {
            hours: 3,
            deadline: "2026-11-26 17:00".into(),
            updates: "Safari 18.1\nmacOS Sonoma 14.7.1".into(),
            support: "IT, ext. 42".into(),
            restart,
            deferrable,
        };
        let template = "Install by %DEADLINE% (%HOURS% h):\n%UPDATES%\n[restart]Your Mac restarts. [/restart][deferrable]You may defer. [/deferrable]Help: %SUPPORT% %OTHER% 100%";
        assert_eq!(
            render(template, &vars(true, true)),
            "Install by 2026-11-26 17:00 (3 h):\nSafari 18.1\nmacOS Sonoma 14.7.1\nYour Mac restarts. You may defer. Help: IT, ext. 42 %OTHER% 100%"
        );
        assert_eq!(
            render(template, &vars(false, false)),
            "Install by 2026-11-26 17:00 (3 h):\nSafari 18.1\nmacOS Sonoma 14.7.1\nHelp: IT, ext. 42 %OTHER% 100%"
        );
        // An unclosed section stays as written; a value is not read again.
        let mut v = vars(false, true);
        v.support = "%HOURS%".into();
        assert_eq!(render("[restart]x %SUPPORT%", &v), "[restart]x %HOURS%");
        assert_eq!(
            hours_left(at("2026-11-23T09:00:00Z"), at("2026-11-23T10:00:01Z")),
            2
        );
        assert_eq!(
            hours_left(at("2026-11-23T09:00:00Z"), at("2026-11-23T10:00:00Z")),
            1
        );
        assert_eq!(
            hours_left(at("2026-11-24T09:00:00Z"), at("2026-11-23T10:00:00Z")),
            0
        );
    }

    #[test]
    fn notifier_arguments_lose_the_defer_button_past_the_deadline() {
        let args: Vec<String> = [
            "-title",
            "%TITLE%",
            "-description",
            "%MESSAGE%",
            "-button1",
            "%INSTALL%",
            "-button2",
            "%DEFER%",
            "-timeout",
            "%TIMEOUT%",
            "--label=%DEFER%!",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let pairs = [
            ("%TITLE%", "Updates"),
            ("%MESSAGE%", "Please %DEFER%"),
            ("%TIMEOUT%", "600"),
            ("%INSTALL%", "Install"),
            ("%DEFER%", "Later"),
        ];
        assert_eq!(
            notifier_args(&args, &pairs, true),
            [
                "-title",
                "Updates",
                "-description",
                "Please %DEFER%",
                "-button1",
                "Install",
                "-button2",
                "Later",
                "-timeout",
                "600",
                "--label=Later!"
            ]
        );
        assert_eq!(
            notifier_args(&args, &pairs, false),
            [
                "-title",
                "Updates",
                "-description",
                "Please %DEFER%",
                "-button1",
                "Install",
                "-timeout",
                "600",
                "--label=!"
            ]
        );
    }

    #[test]
    fn deadlines_from_the_window_an_absolute_time_or_none() {
        let mut policy: UpdatePolicy = serde_json::from_str(
            r#"{"name": "p", "require": {"kind": "recommended"}, "max_deferral_secs": 259200,
                "reprompt_secs": 14400, "prompt_timeout_secs": 3600, "restart_delay_secs": 300,
                "notifier": {"program": "/x", "args": [], "install_exit": [0], "defer_exit": [2]},
                "messages": {"title": "", "prompt": "", "deadline": "", "install_button": "",
                             "defer_button": ""}}"#,
        )
        .unwrap();
        let seen = at("2026-11-23T09:00:00Z");
        assert_eq!(deadline(&policy, seen).0, at("2026-11-26T09:00:00Z"));
        policy.deadline = Some("2026-12-01T12:00:00+01:00".into());
        assert_eq!(deadline(&policy, seen).0, at("2026-12-01T11:00:00Z"));
        policy.deadline = Some("soon".into());
        let (t, note) = deadline(&policy, seen);
        assert_eq!(t, at("2026-11-26T09:00:00Z"));
        assert!(note.unwrap().contains("not an RFC 3339 time"));
        policy.skip_deferral = true;
        assert_eq!(deadline(&policy, seen).0, seen);
    }
}
