//! `mmc-agent status`: what the agent last did on this Mac, and what it is doing now.

use std::fs::{self, File, TryLockError};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::platform::{self, Root};
use crate::state::{Dirs, ItemState, State};

const HELP: &str = "\
Show what the agent last applied on this Mac, each item's last result, whether a run is
under way and which bundles are waiting. Changes nothing.

Usage: mmc-agent status [--format human|json] [--root DIR]

Options:
  --format FORMAT   human (default): a summary, then one line per item (failed ones
                    first): NAME  RESULT  TIME  [ERROR]; json: one JSON object
                    {\"last_applied\": {...} or null, \"items\": {NAME: {...}},
                     \"running\": true|false, \"incoming\": [\"NAME-VERSION.tar.gz\", ...]}
                    with the fields of state.json
  --root DIR        Read the agent's files under DIR instead of / [default: /]
  -h, --help        Print this help

Where it looks, under /Library/Application Support/mmc/:
  state.json        the last applied bundle and every item's last result (results are
                    changed, unchanged, failed or skipped; times are UTC)
  run.lock          locked while a run is under way; it holds the run's pid and start
  incoming/         bundles waiting to be applied (*.tar.gz)
These files belong to root: run it with sudo.

Exit status:
  0  the status was printed, including \"nothing applied yet\" on a fresh Mac
  2  state.json (or the lock, or incoming/) could not be read, or bad usage; the
     reason is printed to stderr

Example:
  sudo mmc-agent status
  Last applied: stable version 1763700000 at 2026-11-21T07:00:04Z
    manifest: site_default
    results:  1 changed, 1 unchanged, 1 failed, 0 skipped
  Items:
    printers   failed     2026-11-21T07:00:03Z  exit status 1: lpadmin: bad URI
    firefox    changed    2026-11-21T07:00:02Z
    wifi       unchanged  2026-11-21T07:00:01Z
  Right now: no run in progress
  Waiting in incoming/: nothing
";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Human,
    Json,
}

/// Whether a run holds the lock right now.
#[derive(Debug, PartialEq, Eq)]
enum Running {
    No,
    Yes {
        pid: Option<u32>,
        /// When it started (the lock's second line), as the run wrote it.
        since: Option<String>,
    },
}

pub(crate) fn run(mut parser: lexopt::Parser) -> Result<ExitCode, String> {
    use lexopt::prelude::*;
    let usage = |e: lexopt::Error| format!("{e} (try `mmc-agent status --help`)");
    let mut format = Format::Human;
    let mut root_dir = PathBuf::from("/");
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Short('h') | Long("help") => {
                print!("{HELP}");
                return Ok(ExitCode::SUCCESS);
            }
            Long("root") => root_dir = PathBuf::from(parser.value().map_err(usage)?),
            Long("format") => {
                let value = parser.value().map_err(usage)?;
                format = match value.to_str() {
                    Some("human") => Format::Human,
                    Some("json") => Format::Json,
                    _ => {
                        return Err(format!(
                            "--format {:?} is not a format; use human or json",
                            value.to_string_lossy()
                        ));
                    }
                };
            }
            other => return Err(usage(other.unexpected())),
        }
    }
    let root = Root::new(&root_dir)?;
    let dirs = Dirs::new(&root);
    let state = load_state(&dirs)?;
    let running = running(&dirs.lock())?;
    let incoming = incoming(&dirs.incoming())?;
    let text = match format {
        Format::Human => human(&state, &running, &incoming),
        Format::Json => json(&state, &running, &incoming),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// `state.json`, with a hint when only root may read it.
fn load_state(dirs: &Dirs) -> Result<State, String> {
    let path = dirs.state();
    if let Err(e) = File::open(&path)
        && e.kind() == io::ErrorKind::PermissionDenied
    {
        return Err(format!(
            "cannot read {}: {e}{}",
            path.display(),
            sudo_hint()
        ));
    }
    State::load(dirs)
}

fn sudo_hint() -> &'static str {
    if platform::is_root() {
        ""
    } else {
        " (the agent's files belong to root: try `sudo mmc-agent status`)"
    }
}

/// Whether a run holds `run.lock`: it is opened read-only (never created) and locked shared
/// without waiting; a run holds it exclusively.
fn running(lock: &Path) -> Result<Running, String> {
    let mut file = match File::open(lock) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Running::No),
        Err(e) => {
            return Err(format!(
                "cannot open {}: {e}{}",
                lock.display(),
                sudo_hint()
            ));
        }
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(Running::No),
        Err(TryLockError::WouldBlock) => {
            let mut head = String::new();
            let _ = (&mut file).take(256).read_to_string(&mut head);
            let mut lines = head.lines().map(str::trim);
            let pid = lines.next().and_then(|l| l.parse().ok());
            let since = lines
                .next()
                .filter(|l| !l.is_empty() && l.len() <= 64)
                .map(str::to_owned);
            Ok(Running::Yes { pid, since })
        }
        Err(TryLockError::Error(e)) => Err(format!("cannot check {}: {e}", lock.display())),
    }
}

/// The bundles (`*.tar.gz`) waiting in `incoming/`, sorted.
fn incoming(dir: &Path) -> Result<Vec<String>, String> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(format!("cannot list {}: {e}{}", dir.display(), sudo_hint()));
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tar.gz") && !name.starts_with('.') {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Items failed first, then by name.
fn ordered(state: &State) -> Vec<(&String, &ItemState)> {
    let mut items: Vec<_> = state.items.iter().collect();
    items.sort_by_key(|(name, item)| (item.result != "failed", name.as_str()));
    items
}

fn human(state: &State, running: &Running, incoming: &[String]) -> String {
    let mut out = String::new();
    match &state.last_applied {
        Some(applied) => {
            out.push_str(&format!(
                "Last applied: {} version {} at {}\n",
                applied.bundle, applied.version, applied.at
            ));
            out.push_str(&format!("  manifest: {}\n", applied.manifest));
            out.push_str(&format!(
                "  results:  {} changed, {} unchanged, {} failed, {} skipped\n",
                applied.changed, applied.unchanged, applied.failed, applied.skipped
            ));
            if let Some(expires) = &applied.expires {
                out.push_str(&format!("  expires:  {expires}\n"));
            }
            if let Some(floor) = &state.floor {
                out.push_str(&format!(
                    "  floor:    key epoch {}, version {} (older bundles are refused)\n",
                    floor.epoch, floor.version
                ));
            }
        }
        None => out.push_str("Nothing applied yet: no bundle has been applied on this Mac.\n"),
    }
    if !state.items.is_empty() {
        let items = ordered(state);
        let name_width = items
            .iter()
            .map(|(n, _)| n.chars().count())
            .max()
            .unwrap_or(0);
        let result_width = items
            .iter()
            .map(|(_, i)| i.result.chars().count())
            .max()
            .unwrap_or(0);
        out.push_str("Items:\n");
        for (name, item) in items {
            let mut line = format!(
                "  {name:<name_width$}  {:<result_width$}  {}",
                item.result, item.at
            );
            if let Some(error) = &item.error {
                let mut lines = error.lines().filter(|l| !l.trim().is_empty());
                if let Some(first) = lines.next() {
                    line.push_str("  ");
                    line.push_str(first.trim());
                    if lines.next().is_some() {
                        line.push_str(" (…)");
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    match running {
        Running::No => out.push_str("Right now: no run in progress\n"),
        Running::Yes { pid, since } => {
            out.push_str("Right now: a run is in progress");
            if let Some(pid) = pid {
                out.push_str(&format!(" (pid {pid})"));
            }
            if let Some(since) = since {
                out.push_str(&format!(", started {since}"));
            }
            out.push('\n');
        }
    }
    if incoming.is_empty() {
        out.push_str("Waiting in incoming/: nothing\n");
    } else {
        out.push_str(&format!("Waiting in incoming/: {}\n", incoming.join(", ")));
    }
    out
}

fn json(state: &State, running: &Running, incoming: &[String]) -> String {
    let value = serde_json::json!({
        "last_applied": state.last_applied,
        "items": state.items,
        "running": *running != Running::No,
        "incoming": incoming,
    });
    let mut text = serde_json::to_string_pretty(&value).expect("status serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Applied, STATE_FORMAT};

    fn item(result: &str, at: &str, error: Option<&str>) -> ItemState {
        ItemState {
            result: result.to_owned(),
            version: None,
            at: at.to_owned(),
            duration_ms: 5,
            error: error.map(str::to_owned),
        }
    }

    fn state() -> State {
        let mut state = State {
            format: STATE_FORMAT,
            last_applied: Some(Applied {
                bundle: "stable".to_owned(),
                version: 1_763_700_000,
                key_id: None,
                expires: None,
                dir: "stable-1763700000".to_owned(),
                at: "2026-11-21T07:00:04Z".to_owned(),
                manifest: "site_default".to_owned(),
                changed: 1,
                unchanged: 1,
                failed: 1,
                skipped: 0,
            }),
            ..State::default()
        };
        state.items.insert(
            "wifi".into(),
            item("unchanged", "2026-11-21T07:00:01Z", None),
        );
        state.items.insert(
            "firefox".into(),
            item("changed", "2026-11-21T07:00:02Z", None),
        );
        state.items.insert(
            "printers".into(),
            item(
                "failed",
                "2026-11-21T07:00:03Z",
                Some("exit status 1: lpadmin: bad URI\nmore detail"),
            ),
        );
        state
    }

    #[test]
    fn human_lists_failed_items_first_aligned() {
        let text = human(
            &state(),
            &Running::Yes {
                pid: Some(42),
                since: None,
            },
            &["stable-1763800000.tar.gz".to_owned()],
        );
        assert_eq!(
            text,
            "Last applied: stable version 1763700000 at 2026-11-21T07:00:04Z\n  \
             manifest: site_default\n  \
             results:  1 changed, 1 unchanged, 1 failed, 0 skipped\n\
             Items:\n  \
             printers  failed     2026-11-21T07:00:03Z  exit status 1: lpadmin: bad URI (…)\n  \
             firefox   changed    2026-11-21T07:00:02Z\n  \
             wifi      unchanged  2026-11-21T07:00:01Z\n\
             Right now: a run is in progress (pid 42)\n\
             Waiting in incoming/: stable-1763800000.tar.gz\n"
        );
    }

    #[test]
    fn nothing_applied_yet() {
        let fresh = State {
            format: STATE_FORMAT,
            ..State::default()
        };
        let text = human(&fresh, &Running::No, &[]);
        assert!(text.starts_with("Nothing applied yet"), "{text}");
        assert!(text.contains("no run in progress"), "{text}");
        let value: serde_json::Value =
            serde_json::from_str(&json(&fresh, &Running::No, &[])).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"last_applied": null, "items": {}, "running": false, "incoming": []})
        );
    }

    #[test]
    fn the_lock_tells_whether_a_run_is_under_way() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("run.lock");
        assert_eq!(running(&lock).unwrap(), Running::No);
        assert!(!lock.exists(), "status must not create the lock");

        fs::write(&lock, "4242\n2026-11-21T07:00:00Z\n").unwrap();
        assert_eq!(running(&lock).unwrap(), Running::No);

        let holder = File::options().write(true).open(&lock).unwrap();
        holder.lock().unwrap();
        assert_eq!(
            running(&lock).unwrap(),
            Running::Yes {
                pid: Some(4242),
                since: Some("2026-11-21T07:00:00Z".to_owned())
            }
        );
        holder.unlock().unwrap();
        assert_eq!(running(&lock).unwrap(), Running::No);
    }

    #[test]
    fn incoming_lists_bundles_only() {
        let dir = tempfile::tempdir().unwrap();
        assert!(incoming(&dir.path().join("missing")).unwrap().is_empty());
        for name in [
            "b-2.tar.gz",
            "b-2.tar.gz.sig",
            "a-1.tar.gz",
            ".partial.tar.gz",
        ] {
            fs::write(dir.path().join(name), "").unwrap();
        }
        assert_eq!(incoming(dir.path()).unwrap(), ["a-1.tar.gz", "b-2.tar.gz"]);
    }
}
