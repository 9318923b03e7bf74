//! `mmc-agent install-daemon`: the LaunchDaemon that runs `mmc-agent run` periodically.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::log::{self, Log};
use crate::platform::{self, FileSpec, Output, Root, Runner};
use crate::state::Dirs;

/// The LaunchDaemon's label.
pub const LABEL: &str = "dev.mmc.agent";
/// Where its plist goes, on the Mac.
pub const PLIST_PATH: &str = "/Library/LaunchDaemons/dev.mmc.agent.plist";
/// Where launchd sends the agent's stdout and stderr, on the Mac.
pub const LAUNCHD_LOG: &str = "/Library/Application Support/mmc/logs/launchd.log";
/// Where the agent is installed unless `--agent` says otherwise.
pub const DEFAULT_AGENT: &str = "/usr/local/mmc/bin/mmc-agent";
pub const DEFAULT_INTERVAL: u32 = 1800;
const MIN_INTERVAL: u32 = 300;
const MAX_INTERVAL: u32 = 86_400;

/// launchctl exit statuses that mean "was not loaded" for `bootout`: 113 (no such service),
/// 3 (no such process, older macOS), 36 (operation now in progress: already going away).
const NOT_LOADED: [i32; 3] = [113, 3, 36];
/// `bootstrap` fails with 5 (I/O error) while a job that was booted out is still exiting.
const BUSY: i32 = 5;
const BOOTSTRAP_ATTEMPTS: u32 = 3;

const HELP: &str = "\
Install the LaunchDaemon that runs `mmc-agent run` on this Mac every so often, and load it.

Usage: mmc-agent install-daemon [OPTIONS]

Options:
  --interval SECONDS   How often launchd starts a run, 300 to 86400 [default: 1800];
                       it also runs once when the daemon is loaded (at boot, too)
  --agent PATH         The agent binary launchd runs, an absolute path that must exist
                       [default: /usr/local/mmc/bin/mmc-agent]
  --print              Print the LaunchDaemon plist and change nothing
  --root DIR           Install under DIR instead of / (a test machine or a mounted disk);
                       without it, install-daemon must run as root
  --commands DIR       Run the launchctl found in DIR instead of /bin/launchctl (tests)
  -h, --help           Print this help

What it does:
  1. writes /Library/LaunchDaemons/dev.mmc.agent.plist (mode 0644, root:wheel) with
     Label dev.mmc.agent, ProgramArguments [AGENT, run], StartInterval, RunAtLoad,
     ProcessType Background, LowPriorityIO, and stdout/stderr going to
     /Library/Application Support/mmc/logs/launchd.log;
  2. if that file was already exactly so and `launchctl print system/dev.mmc.agent`
     shows the daemon loaded, stops there: it is already installed;
  3. otherwise reloads it: `launchctl bootout system/dev.mmc.agent` (not being loaded
     is fine), then `launchctl bootstrap system /Library/LaunchDaemons/dev.mmc.agent.plist`.
Running it again is safe; change --interval or --agent and run it again to update.
The agent's log records who installed it.

Exit status:
  0  the daemon is installed and loaded (or the plist was printed)
  2  anything else (not root, launchctl failed, bad usage); the reason is printed to
     stderr

Example:
  sudo mmc-agent install-daemon --interval 3600
  installed /Library/LaunchDaemons/dev.mmc.agent.plist and loaded dev.mmc.agent: \
`/usr/local/mmc/bin/mmc-agent run` every 3600 seconds and at boot
";

struct Options {
    root: Option<PathBuf>,
    commands: Option<PathBuf>,
    interval: u32,
    agent: String,
    print: bool,
}

/// The LaunchDaemon that runs `agent_path run` every `interval_secs` seconds and at load.
pub fn plist(agent_path: &str, interval_secs: u32) -> plist::Dictionary {
    use plist::Value;
    let mut dict = plist::Dictionary::new();
    dict.insert("Label".to_owned(), Value::String(LABEL.to_owned()));
    dict.insert("LowPriorityIO".to_owned(), Value::Boolean(true));
    dict.insert(
        "ProcessType".to_owned(),
        Value::String("Background".to_owned()),
    );
    dict.insert(
        "ProgramArguments".to_owned(),
        Value::Array(vec![
            Value::String(agent_path.to_owned()),
            Value::String("run".to_owned()),
        ]),
    );
    dict.insert("RunAtLoad".to_owned(), Value::Boolean(true));
    dict.insert(
        "StandardErrorPath".to_owned(),
        Value::String(LAUNCHD_LOG.to_owned()),
    );
    dict.insert(
        "StandardOutPath".to_owned(),
        Value::String(LAUNCHD_LOG.to_owned()),
    );
    dict.insert(
        "StartInterval".to_owned(),
        Value::Integer(u64::from(interval_secs).into()),
    );
    dict
}

/// The plist as the XML bytes written to disk.
fn plist_xml(agent_path: &str, interval_secs: u32) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    plist::Value::Dictionary(plist(agent_path, interval_secs))
        .to_writer_xml(&mut bytes)
        .map_err(|e| format!("cannot write the LaunchDaemon plist: {e}"))?;
    bytes.push(b'\n');
    Ok(bytes)
}

pub(crate) fn run(mut parser: lexopt::Parser) -> Result<ExitCode, String> {
    let Some(options) = parse(&mut parser)? else {
        print!("{HELP}");
        return Ok(ExitCode::SUCCESS);
    };
    let bytes = plist_xml(&options.agent, options.interval)?;
    if options.print {
        print!("{}", String::from_utf8_lossy(&bytes));
        return Ok(ExitCode::SUCCESS);
    }
    if options.root.is_none() && !platform::is_root() {
        return Err("install-daemon changes the system: run it as root \
                    (`sudo mmc-agent install-daemon`), or give --root DIR to install into a \
                    test directory, or --print to only see the plist"
            .to_owned());
    }
    let root = Root::new(options.root.as_deref().unwrap_or(Path::new("/")))?;
    check_agent(&root, &options.agent)?;
    let runner = Runner::new(&root, &BTreeMap::new(), options.commands.as_deref(), None);
    let mut log = Log::open(&Dirs::new(&root), log::DEFAULT_MAX_BYTES, log::DEFAULT_KEEP);
    let who = log::who();
    let service = format!("system/{LABEL}");

    let dest = root.path(PLIST_PATH)?;
    let unchanged = fs::read(&dest).is_ok_and(|old| old == bytes);
    if unchanged && launchctl(&runner, &["print", &service])?.success() {
        log.info(&format!(
            "install-daemon by {who}: {LABEL} already installed and loaded"
        ));
        println!("{LABEL} is already installed and loaded ({PLIST_PATH}); nothing to do");
        return Ok(ExitCode::SUCCESS);
    }
    if !unchanged {
        let spec = FileSpec {
            mode: 0o644,
            owner: Some((0, 0)),
        };
        platform::write_atomic(&dest, &bytes, spec)
            .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
        log.info(&format!(
            "install-daemon by {who}: wrote {PLIST_PATH} (`{} run` every {} seconds)",
            options.agent, options.interval
        ));
    }

    let out = launchctl(&runner, &["bootout", &service])?;
    if !out.success() && !out.status.is_some_and(|s| NOT_LOADED.contains(&s)) {
        return Err(failed(&mut log, &format!("bootout {service}"), &out));
    }
    let mut attempt = 1;
    loop {
        let out = launchctl(&runner, &["bootstrap", "system", PLIST_PATH])?;
        if out.success() {
            break;
        }
        if out.status == Some(BUSY) && attempt < BOOTSTRAP_ATTEMPTS {
            log.warn(&format!(
                "launchctl bootstrap system {PLIST_PATH}: {}; trying again",
                out.failure()
            ));
            std::thread::sleep(Duration::from_secs(1));
            attempt += 1;
            continue;
        }
        return Err(failed(
            &mut log,
            &format!("bootstrap system {PLIST_PATH}"),
            &out,
        ));
    }
    log.info(&format!("install-daemon by {who}: loaded {LABEL}"));
    let what = if unchanged {
        format!("{PLIST_PATH} was up to date; loaded {LABEL}")
    } else {
        format!("installed {PLIST_PATH} and loaded {LABEL}")
    };
    println!(
        "{what}: `{} run` every {} seconds and at boot",
        options.agent, options.interval
    );
    Ok(ExitCode::SUCCESS)
}

fn launchctl(runner: &Runner, args: &[&str]) -> Result<Output, String> {
    runner.tool("launchctl", args)
}

/// Logs and describes a failed `launchctl ARGS`.
fn failed(log: &mut Log, args: &str, out: &Output) -> String {
    let message = format!("launchctl {args} failed: {}", out.failure());
    log.error(&message);
    message
}

/// The agent binary must be where launchd will look for it.
fn check_agent(root: &Root, agent: &str) -> Result<(), String> {
    let path = root.path(agent)?;
    match fs::metadata(&path) {
        Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => Ok(()),
        Ok(_) => Err(format!(
            "--agent {agent}: {} is not an executable file",
            path.display()
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(format!(
            "--agent {agent}: {} does not exist; install the agent there first, or name \
             where it is with --agent PATH",
            path.display()
        )),
        Err(e) => Err(format!("--agent {agent}: {}: {e}", path.display())),
    }
}

/// Parses the arguments after `install-daemon`; `None` means help was asked for.
fn parse(parser: &mut lexopt::Parser) -> Result<Option<Options>, String> {
    use lexopt::prelude::*;
    let usage = |e: lexopt::Error| format!("{e} (try `mmc-agent install-daemon --help`)");
    let mut options = Options {
        root: None,
        commands: None,
        interval: DEFAULT_INTERVAL,
        agent: DEFAULT_AGENT.to_owned(),
        print: false,
    };
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Short('h') | Long("help") => return Ok(None),
            Long("root") => options.root = Some(PathBuf::from(parser.value().map_err(usage)?)),
            Long("commands") => {
                options.commands = Some(PathBuf::from(parser.value().map_err(usage)?));
            }
            Long("interval") => {
                let value = parser.value().map_err(usage)?;
                let text = value.to_string_lossy();
                options.interval = text
                    .parse::<u32>()
                    .ok()
                    .filter(|s| (MIN_INTERVAL..=MAX_INTERVAL).contains(s))
                    .ok_or_else(|| {
                        format!(
                            "--interval {text:?}: give a number of seconds from {MIN_INTERVAL} \
                             (5 minutes) to {MAX_INTERVAL} (a day)"
                        )
                    })?;
            }
            Long("agent") => {
                let value = parser.value().map_err(usage)?;
                let text = value
                    .into_string()
                    .map_err(|v| format!("--agent {:?} is not UTF-8", v.to_string_lossy()))?;
                if !text.starts_with('/') {
                    return Err(format!(
                        "--agent {text:?}: give the absolute path launchd should run, e.g. \
                         {DEFAULT_AGENT}"
                    ));
                }
                options.agent = text;
            }
            Long("print") => options.print = true,
            other => return Err(usage(other.unexpected())),
        }
    }
    Ok(Some(options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plist_runs_the_agent_periodically() {
        let dict = plist("/usr/local/mmc/bin/mmc-agent", 1800);
        let get = |k: &str| dict.get(k).unwrap_or_else(|| panic!("{k} missing"));
        assert_eq!(get("Label").as_string(), Some("dev.mmc.agent"));
        let args: Vec<_> = get("ProgramArguments")
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_string().unwrap())
            .collect();
        assert_eq!(args, ["/usr/local/mmc/bin/mmc-agent", "run"]);
        assert_eq!(get("StartInterval").as_unsigned_integer(), Some(1800));
        assert_eq!(get("RunAtLoad").as_boolean(), Some(true));
        assert_eq!(get("ProcessType").as_string(), Some("Background"));
        assert_eq!(get("LowPriorityIO").as_boolean(), Some(true));
        for key in ["StandardOutPath", "StandardErrorPath"] {
            assert_eq!(
                get(key).as_string(),
                Some("/Library/Application Support/mmc/logs/launchd.log")
            );
        }
        assert_eq!(dict.len(), 8);
    }

    #[test]
    fn the_xml_reads_back_the_same() {
        let bytes = plist_xml("/opt/mmc-agent", 300).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("<?xml"), "{text}");
        assert!(text.ends_with("</plist>\n"), "{text}");
        let back = plist::Value::from_reader_xml(&bytes[..]).unwrap();
        assert_eq!(back, plist::Value::Dictionary(plist("/opt/mmc-agent", 300)));
    }

    #[test]
    fn the_agent_must_exist_and_be_executable() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let err = check_agent(&root, DEFAULT_AGENT).unwrap_err();
        assert!(err.contains("does not exist"), "{err}");
        let path = root.path(DEFAULT_AGENT).unwrap();
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "#!/bin/sh\n").unwrap();
        let err = check_agent(&root, DEFAULT_AGENT).unwrap_err();
        assert!(err.contains("not an executable file"), "{err}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        check_agent(&root, DEFAULT_AGENT).unwrap();
    }
}
