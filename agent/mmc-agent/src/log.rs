//! The agent's log (`logs/mmc-agent.log`, rotated by size), and `mmc-agent log`.
//!
//! Every line is `TIME LEVEL message`, the time in RFC 3339 UTC to the second, so `grep`
//! finds a message and its time together; a multi-line message becomes several prefixed
//! lines. Each message is handed to the kernel as soon as it is logged: a crash loses nothing
//! already logged. When the file cannot be written the agent keeps going and logs to stderr
//! (which launchd keeps in `logs/launchd.log`).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jiff::Timestamp;

use crate::platform::{self, FileSpec, Root};
use crate::state::Dirs;

/// Size past which the log is rotated.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 20;
/// How many rotated files (`mmc-agent.log.1` … `.N`) are kept.
pub const DEFAULT_KEEP: u32 = 4;

const HELP: &str = "\
Empty the agent's log, or copy it somewhere you can read it.

Usage: mmc-agent log flush [--root DIR]
       mmc-agent log pull [--to DIR] [--root DIR]

Commands:
  flush        Empty the log and delete its rotated files, then write one line saying
               who flushed it (from SUDO_USER, LOGNAME or USER)
  pull         Copy the log and its rotated files, oldest first, into one file
               mmc-agent-HOST-YYYYMMDDTHHMMSSZ.log (time in UTC) and print its path;
               the copy belongs to the user who ran sudo, so they can open it

Options:
  --to DIR     pull: where to put the copy [default: the Desktop of the user running it,
               /Users/$SUDO_USER/Desktop under sudo, else $HOME/Desktop]
  --root DIR   Work on the agent's files under DIR instead of / (a test machine or a
               mounted disk) [default: /]
  -h, --help   Print this help

The log is /Library/Application Support/mmc/logs/mmc-agent.log, readable by root only.
Each line is `TIME LEVEL message`, e.g.
  2026-11-21T07:00:00Z INFO applied stable version 1763700000
When it would grow past 1 MiB it is renamed mmc-agent.log.1 (older ones shift to .2, .3,
.4; the oldest is dropped) and a new one is started. Both commands add a line naming
who ran them, so the log keeps its own audit trail.

Exit status:
  0  done; flush prints what it removed, pull prints the path of the copy
  2  anything else, bad usage included; the reason is printed to stderr

Example:
  sudo mmc-agent log pull
  /Users/alice/Desktop/mmc-agent-alices-mac.local-20261121T070000Z.log
";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// The agent's log. Writing to it never fails: what cannot go to the file goes to stderr.
#[derive(Debug)]
pub struct Log {
    sink: Sink,
}

#[derive(Debug)]
enum Sink {
    /// `run --check`: nothing is written anywhere.
    Off,
    /// The file could not be opened.
    Stderr,
    File(LogFile),
}

#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    file: File,
    max_bytes: u64,
    keep: u32,
    /// A write or rotation failed once and a warning was printed; later failures are quiet.
    warned: bool,
}

impl Log {
    /// Appends to `dirs.log_file()`, creating `logs/` (mode 0700) and the file (mode 0600).
    /// If it cannot be opened, one warning goes to stderr and every line after it too.
    pub fn open(dirs: &Dirs, max_bytes: u64, keep: u32) -> Log {
        match Log::try_open(dirs, max_bytes, keep) {
            Ok(log) => log,
            Err(reason) => {
                warn_stderr(&format!("{reason}; logging to stderr only"));
                Log { sink: Sink::Stderr }
            }
        }
    }

    /// Like [`Log::open`], but an unopenable log is an error.
    fn try_open(dirs: &Dirs, max_bytes: u64, keep: u32) -> Result<Log, String> {
        let path = dirs.log_file();
        let file = open_log_file(&path).map_err(|e| {
            format!(
                "cannot open the log {}: {e}{}",
                path.display(),
                root_hint(&e)
            )
        })?;
        Ok(Log {
            sink: Sink::File(LogFile {
                path,
                file,
                max_bytes,
                keep,
                warned: false,
            }),
        })
    }

    /// A log that writes nothing anywhere (`run --check` must not change the Mac).
    pub fn disabled() -> Log {
        Log { sink: Sink::Off }
    }

    pub fn info(&mut self, message: &str) {
        self.write(Level::Info, message);
    }

    pub fn warn(&mut self, message: &str) {
        self.write(Level::Warn, message);
    }

    pub fn error(&mut self, message: &str) {
        self.write(Level::Error, message);
    }

    fn write(&mut self, level: Level, message: &str) {
        let text = lines(Timestamp::now(), level, message);
        match &mut self.sink {
            Sink::Off => {}
            Sink::Stderr => to_stderr(&text),
            Sink::File(log) => log.append(&text),
        }
    }
}

impl LogFile {
    /// Writes `text` (whole lines) to the file, rotating first if it would grow past
    /// `max_bytes`; whatever cannot go to the file goes to stderr.
    fn append(&mut self, text: &str) {
        if let Err(e) = self.follow_path() {
            self.warn_once(&format!(
                "cannot reopen the log {}: {e}",
                self.path.display()
            ));
        }
        let size = self.file.metadata().map_or(0, |m| m.len());
        // An empty file takes the line whatever its length: a line is never dropped.
        if size > 0
            && size.saturating_add(text.len() as u64) > self.max_bytes
            && let Err(e) = self.rotate()
        {
            self.warn_once(&format!(
                "cannot rotate the log {}: {e}; it keeps growing",
                self.path.display()
            ));
        }
        if let Err(e) = self.file.write_all(text.as_bytes()) {
            self.warn_once(&format!(
                "cannot write the log {}: {e}",
                self.path.display()
            ));
            to_stderr(text);
        }
    }

    /// Reopens the log if the file was removed or replaced since it was opened (another
    /// process flushed or rotated it).
    fn follow_path(&mut self) -> io::Result<()> {
        let current = self.file.metadata()?;
        match fs::metadata(&self.path) {
            Ok(on_disk) if on_disk.dev() == current.dev() && on_disk.ino() == current.ino() => {
                Ok(())
            }
            Ok(_) => {
                self.file = open_log_file(&self.path)?;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.file = open_log_file(&self.path)?;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// `.log.(keep-1)` → `.log.keep`, …, `.log` → `.log.1`, then a new `.log`. Rotated files
    /// past `keep` (left by an earlier, larger `keep`) are removed.
    fn rotate(&mut self) -> io::Result<()> {
        if self.keep == 0 {
            fs::remove_file(&self.path)?;
        } else {
            for n in (1..self.keep).rev() {
                match fs::rename(rotated(&self.path, n), rotated(&self.path, n + 1)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            fs::rename(&self.path, rotated(&self.path, 1))?;
        }
        for (n, old) in rotated_files(&self.path)? {
            if n > self.keep {
                fs::remove_file(old)?;
            }
        }
        self.file = open_log_file(&self.path)?;
        Ok(())
    }

    fn warn_once(&mut self, message: &str) {
        if !self.warned {
            self.warned = true;
            warn_stderr(message);
        }
    }
}

/// Opens (creating) the log for appending: `logs/` mode 0700, the file mode 0600.
fn open_log_file(path: &Path) -> io::Result<File> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("the log path needs a directory"))?;
    if !dir.is_dir() {
        if let Some(base) = dir.parent() {
            fs::create_dir_all(base)?;
        }
        match fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
}

/// `mmc-agent.log.N`.
fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The rotated files of the log at `path` that exist, by number, oldest (highest) first.
fn rotated_files(path: &Path) -> io::Result<Vec<(u32, PathBuf)>> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(Vec::new());
    };
    let prefix = format!("{}.", name.to_string_lossy());
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let file = entry.file_name();
        let Some(number) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(n) = number.parse::<u32>() {
            found.push((n, entry.path()));
        }
    }
    found.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
    Ok(found)
}

/// `message` as log lines: every line of it prefixed with the time and level.
fn lines(now: Timestamp, level: Level, message: &str) -> String {
    let time = Timestamp::from_second(now.as_second()).unwrap_or(now);
    let prefix = format!("{time} {}", level.name());
    let mut text = String::new();
    let mut any = false;
    for line in message.lines() {
        any = true;
        text.push_str(&prefix);
        if !line.is_empty() {
            text.push(' ');
            // Script output may carry terminal escapes: the log shows them as `?`.
            text.push_str(&crate::platform::printable(line));
        }
        text.push('\n');
    }
    if !any {
        text.push_str(&prefix);
        text.push('\n');
    }
    text
}

fn to_stderr(text: &str) {
    let _ = io::stderr().write_all(text.as_bytes());
}

fn warn_stderr(message: &str) {
    eprintln!("mmc-agent: warning: {message}");
}

/// A hint for errors that mean "you are not root".
fn root_hint(error: &io::Error) -> &'static str {
    if error.kind() == io::ErrorKind::PermissionDenied && !platform::is_root() {
        " (the agent's files belong to root: run it with sudo)"
    } else {
        ""
    }
}

/// Who is at the keyboard, for audit lines: `SUDO_USER`, else `LOGNAME`, else `USER`, else
/// `uid N`.
pub fn who() -> String {
    // SAFETY: getuid(2) cannot fail and touches no memory.
    let uid = unsafe { libc::getuid() };
    who_from(|name| std::env::var(name).ok(), uid)
}

fn who_from(var: impl Fn(&str) -> Option<String>, uid: u32) -> String {
    ["SUDO_USER", "LOGNAME", "USER"]
        .iter()
        .filter_map(|name| var(name))
        .map(|value| value.trim().to_owned())
        .find(|value| !value.is_empty())
        .unwrap_or_else(|| format!("uid {uid}"))
}

enum Command {
    Flush,
    Pull { to: Option<PathBuf> },
}

pub(crate) fn run(mut parser: lexopt::Parser) -> Result<ExitCode, String> {
    use lexopt::prelude::*;
    let usage = |e: lexopt::Error| format!("{e} (try `mmc-agent log --help`)");
    let mut subcommand: Option<String> = None;
    let mut root_dir = PathBuf::from("/");
    let mut to: Option<PathBuf> = None;
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Short('h') | Long("help") => {
                print!("{HELP}");
                return Ok(ExitCode::SUCCESS);
            }
            Long("root") => root_dir = PathBuf::from(parser.value().map_err(usage)?),
            Long("to") => to = Some(PathBuf::from(parser.value().map_err(usage)?)),
            Value(value) if subcommand.is_none() => {
                let name = value.to_string_lossy().into_owned();
                if name != "flush" && name != "pull" {
                    return Err(format!(
                        "unknown log command {name:?}: use `mmc-agent log flush` or \
                         `mmc-agent log pull` (try `mmc-agent log --help`)"
                    ));
                }
                subcommand = Some(name);
            }
            other => return Err(usage(other.unexpected())),
        }
    }
    let command = match subcommand.as_deref() {
        Some("flush") if to.is_some() => {
            return Err("--to only goes with `mmc-agent log pull`".to_owned());
        }
        Some("flush") => Command::Flush,
        Some(_) => Command::Pull { to },
        None => {
            return Err("no log command given: use `mmc-agent log flush` or \
                        `mmc-agent log pull` (try `mmc-agent log --help`)"
                .to_owned());
        }
    };
    let root = Root::new(&root_dir)?;
    let dirs = Dirs::new(&root);
    match command {
        Command::Flush => flush(&dirs)?,
        Command::Pull { to } => pull(&root, &dirs, to.as_deref())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `mmc-agent log flush`.
fn flush(dirs: &Dirs) -> Result<(), String> {
    let path = dirs.log_file();
    let io_error = |what: &str, file: &Path, e: io::Error| {
        format!("cannot {what} {}: {e}{}", file.display(), root_hint(&e))
    };
    let rotated = rotated_files(&path).map_err(|e| io_error("list", &dirs.logs(), e))?;
    for (_, old) in &rotated {
        platform::remove_durably(old).map_err(|e| io_error("remove", old, e))?;
    }
    let emptied = match OpenOptions::new().write(true).open(&path) {
        Ok(file) => {
            let size = file.metadata().map_or(0, |m| m.len());
            file.set_len(0)
                .and_then(|()| file.sync_all())
                .map_err(|e| io_error("empty", &path, e))?;
            Some(size)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_error("open", &path, e)),
    };
    let mut log = Log::try_open(dirs, DEFAULT_MAX_BYTES, DEFAULT_KEEP)?;
    log.info(&format!("log flushed by {}", who()));
    let emptied = match emptied {
        Some(size) => format!("emptied {} ({size} bytes)", path.display()),
        None => format!("started {}", path.display()),
    };
    let count = rotated.len();
    println!(
        "{emptied} and removed {count} rotated file{}",
        if count == 1 { "" } else { "s" }
    );
    Ok(())
}

/// `mmc-agent log pull`.
fn pull(root: &Root, dirs: &Dirs, to: Option<&Path>) -> Result<(), String> {
    let log_path = dirs.log_file();
    let dest_dir = match to {
        Some(dir) => {
            if !dir.is_dir() {
                return Err(format!("--to {}: no such directory", dir.display()));
            }
            dir.to_path_buf()
        }
        None => desktop(root, |name| std::env::var(name).ok())?,
    };

    let mut sources: Vec<PathBuf> = rotated_files(&log_path)
        .map_err(|e| {
            format!(
                "cannot list {}: {e}{}",
                dirs.logs().display(),
                root_hint(&e)
            )
        })?
        .into_iter()
        .map(|(_, path)| path)
        .collect();
    if log_path.is_file() {
        sources.push(log_path.clone());
    }
    if sources.is_empty() {
        return Err(format!(
            "there is no log to pull: {} does not exist (has the agent run here yet?)",
            log_path.display()
        ));
    }
    let mut bytes = Vec::new();
    for source in &sources {
        let mut data = fs::read(source)
            .map_err(|e| format!("cannot read {}: {e}{}", source.display(), root_hint(&e)))?;
        if data.last().is_some_and(|&b| b != b'\n') {
            data.push(b'\n');
        }
        bytes.extend_from_slice(&data);
    }

    let stamp = Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
    let base = format!("mmc-agent-{}-{stamp}", sanitize_host(&hostname()));
    let mut dest = dest_dir.join(format!("{base}.log"));
    let mut n = 2;
    while dest.exists() {
        dest = dest_dir.join(format!("{base}-{n}.log"));
        n += 1;
    }
    let spec = FileSpec {
        mode: 0o600,
        owner: sudo_ids(|name| std::env::var(name).ok()),
    };
    platform::write_atomic(&dest, &bytes, spec)
        .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;

    let mut log = Log::open(dirs, DEFAULT_MAX_BYTES, DEFAULT_KEEP);
    log.info(&format!("log pulled by {} to {}", who(), dest.display()));
    println!("{}", dest.display());
    Ok(())
}

/// The Desktop of whoever runs the command, under `root`: `/Users/$SUDO_USER/Desktop` under
/// sudo, else `$HOME/Desktop`. It must exist.
fn desktop(root: &Root, var: impl Fn(&str) -> Option<String>) -> Result<PathBuf, String> {
    let sudo_user = var("SUDO_USER").filter(|u| {
        !u.is_empty() && u != "root" && u != "." && u != ".." && !u.contains(['/', '\0'])
    });
    let mac_path = match (sudo_user, var("HOME").filter(|h| h.starts_with('/'))) {
        (Some(user), _) => format!("/Users/{user}/Desktop"),
        (None, Some(home)) => format!("{}/Desktop", home.trim_end_matches('/')),
        (None, None) => {
            return Err(
                "cannot tell whose Desktop to use (neither SUDO_USER nor HOME is set); \
                 use --to DIR to choose where the copy goes"
                    .to_owned(),
            );
        }
    };
    let dir = root.path(&mac_path)?;
    if !dir.is_dir() {
        return Err(format!(
            "{} does not exist; use --to DIR to choose where the copy goes",
            dir.display()
        ));
    }
    Ok(dir)
}

/// The ids of the user who ran sudo, to give them the copy (applied only when root).
fn sudo_ids(var: impl Fn(&str) -> Option<String>) -> Option<(u32, u32)> {
    let uid = var("SUDO_UID")?.trim().parse().ok()?;
    let gid = var("SUDO_GID")?.trim().parse().ok()?;
    Some((uid, gid))
}

/// This machine's node name, as `uname -n` prints it.
fn hostname() -> String {
    crate::platform::hostname().unwrap_or_default()
}

/// A host name reduced to `[A-Za-z0-9.-]`, safe in a file name.
fn sanitize_host(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches(|c| c == '.' || c == '-');
    if cleaned.is_empty() {
        "unknown-host".to_owned()
    } else {
        cleaned.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_dirs() -> (tempfile::TempDir, Dirs) {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let dirs = Dirs::new(&root);
        (dir, dirs)
    }

    fn names(dirs: &Dirs) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dirs.logs())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn lines_are_prefixed_one_by_one() {
        let now: Timestamp = "2026-11-21T07:00:00.75Z".parse().unwrap();
        assert_eq!(
            lines(now, Level::Info, "applied stable"),
            "2026-11-21T07:00:00Z INFO applied stable\n"
        );
        assert_eq!(
            lines(now, Level::Error, "first\nsecond\r\n\nlast\n"),
            "2026-11-21T07:00:00Z ERROR first\n\
             2026-11-21T07:00:00Z ERROR second\n\
             2026-11-21T07:00:00Z ERROR\n\
             2026-11-21T07:00:00Z ERROR last\n"
        );
        assert_eq!(lines(now, Level::Warn, ""), "2026-11-21T07:00:00Z WARN\n");
    }

    #[test]
    fn open_creates_private_directory_and_file() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, dirs) = test_dirs();
        let mut log = Log::open(&dirs, DEFAULT_MAX_BYTES, DEFAULT_KEEP);
        log.info("hello");
        log.warn("careful\nnow");
        log.error("broken");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&dirs.logs()), 0o700);
        assert_eq!(mode(&dirs.log_file()), 0o600);
        let text = fs::read_to_string(dirs.log_file()).unwrap();
        let got: Vec<&str> = text.lines().map(|l| &l[21..]).collect();
        assert_eq!(
            got,
            ["INFO hello", "WARN careful", "WARN now", "ERROR broken"]
        );
        assert!(
            text.lines()
                .all(|l| l.as_bytes()[20] == b' ' && l.contains("Z "))
        );
    }

    #[test]
    fn rotation_keeps_exactly_keep_files_and_every_line() {
        let (_dir, dirs) = test_dirs();
        let keep = 3;
        let mut log = Log::open(&dirs, 200, keep);
        let mut written = Vec::new();
        for i in 0..60 {
            let message = format!("message number {i:03} with some padding");
            log.info(&message);
            written.push(message);
        }
        let mut expected = vec!["mmc-agent.log".to_owned()];
        expected.extend((1..=keep).map(|n| format!("mmc-agent.log.{n}")));
        assert_eq!(names(&dirs), expected);
        for name in &expected {
            let size = fs::metadata(dirs.logs().join(name)).unwrap().len();
            assert!(size <= 200, "{name} has {size} bytes");
        }
        // The newest lines are all there, in order, across the files.
        let mut kept = String::new();
        for name in expected.iter().rev() {
            kept.push_str(&fs::read_to_string(dirs.logs().join(name)).unwrap());
        }
        let kept: Vec<&str> = kept.lines().map(|l| &l[26..]).collect();
        assert_eq!(kept, written[written.len() - kept.len()..]);
        assert_eq!(kept.last().unwrap(), written.last().unwrap());
    }

    #[test]
    fn a_line_longer_than_the_limit_is_still_written() {
        let (_dir, dirs) = test_dirs();
        let mut log = Log::open(&dirs, 50, 2);
        let long = "x".repeat(120);
        log.info("short");
        log.info(&long);
        log.info(&long);
        assert_eq!(
            names(&dirs),
            ["mmc-agent.log", "mmc-agent.log.1", "mmc-agent.log.2"]
        );
        assert!(
            fs::read_to_string(dirs.log_file())
                .unwrap()
                .ends_with(&format!("INFO {long}\n"))
        );
        assert!(
            fs::read_to_string(rotated(&dirs.log_file(), 2))
                .unwrap()
                .ends_with("INFO short\n")
        );
    }

    #[test]
    fn rotation_drops_files_past_keep_and_keep_zero_keeps_none() {
        let (_dir, dirs) = test_dirs();
        fs::create_dir_all(dirs.logs()).unwrap();
        fs::write(dirs.log_file(), "old\n").unwrap();
        for n in 1..=6 {
            fs::write(rotated(&dirs.log_file(), n), format!("{n}\n")).unwrap();
        }
        let mut log = Log::open(&dirs, 10, 2);
        log.info("a line longer than ten bytes");
        assert_eq!(
            names(&dirs),
            ["mmc-agent.log", "mmc-agent.log.1", "mmc-agent.log.2"]
        );
        assert_eq!(
            fs::read_to_string(rotated(&dirs.log_file(), 1)).unwrap(),
            "old\n"
        );
        assert_eq!(
            fs::read_to_string(rotated(&dirs.log_file(), 2)).unwrap(),
            "1\n"
        );

        let mut log = Log::open(&dirs, 10, 0);
        log.info("another line longer than ten bytes");
        assert_eq!(names(&dirs), ["mmc-agent.log"]);
    }

    #[test]
    fn a_flushed_log_is_reopened() {
        let (_dir, dirs) = test_dirs();
        let mut log = Log::open(&dirs, DEFAULT_MAX_BYTES, DEFAULT_KEEP);
        log.info("before");
        fs::remove_file(dirs.log_file()).unwrap();
        log.info("after");
        let text = fs::read_to_string(dirs.log_file()).unwrap();
        assert!(text.ends_with("INFO after\n"), "{text}");
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn an_unopenable_log_falls_back_and_disabled_writes_nothing() {
        let (_dir, dirs) = test_dirs();
        // A file where the logs directory should be.
        fs::create_dir_all(&dirs.base).unwrap();
        fs::write(dirs.logs(), "not a directory").unwrap();
        let mut log = Log::open(&dirs, DEFAULT_MAX_BYTES, DEFAULT_KEEP);
        assert!(matches!(log.sink, Sink::Stderr));
        log.info("to stderr");

        let (_dir, dirs) = test_dirs();
        let mut log = Log::disabled();
        log.error("nowhere");
        assert!(!dirs.base.exists());
    }

    #[test]
    fn who_is_at_the_keyboard() {
        fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
            move |name| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        }
        let all = [
            ("SUDO_USER", "alice"),
            ("LOGNAME", "root"),
            ("USER", "root"),
        ];
        assert_eq!(who_from(env(&all), 0), "alice");
        assert_eq!(
            who_from(env(&[("SUDO_USER", ""), ("LOGNAME", "bob")]), 0),
            "bob"
        );
        assert_eq!(who_from(env(&[("USER", "carol")]), 501), "carol");
        assert_eq!(who_from(env(&[]), 501), "uid 501");
        assert!(!who().is_empty());
    }

    #[test]
    fn host_names_are_file_name_safe() {
        assert_eq!(sanitize_host("alices-mac.local"), "alices-mac.local");
        assert_eq!(sanitize_host("Alice's MacBook Pro"), "Alice-s-MacBook-Pro");
        assert_eq!(sanitize_host("../etc"), "etc");
        assert_eq!(sanitize_host(""), "unknown-host");
        assert!(!hostname().is_empty());
    }

    #[test]
    fn the_desktop_is_the_sudo_users_then_homes() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        fs::create_dir_all(dir.path().join("Users/alice/Desktop")).unwrap();
        fs::create_dir_all(dir.path().join("var/root/Desktop")).unwrap();
        let env = |sudo: Option<&'static str>, home: Option<&'static str>| {
            move |name: &str| match name {
                "SUDO_USER" => sudo.map(str::to_owned),
                "HOME" => home.map(str::to_owned),
                _ => None,
            }
        };
        assert_eq!(
            desktop(&root, env(Some("alice"), Some("/var/root"))).unwrap(),
            root.dir().join("Users/alice/Desktop")
        );
        assert_eq!(
            desktop(&root, env(None, Some("/var/root/"))).unwrap(),
            root.dir().join("var/root/Desktop")
        );
        assert_eq!(
            desktop(&root, env(Some("root"), Some("/var/root"))).unwrap(),
            root.dir().join("var/root/Desktop")
        );
        let err = desktop(&root, env(Some("bob"), None)).unwrap_err();
        assert!(
            err.contains("Users/bob/Desktop does not exist; use --to DIR"),
            "{err}"
        );
        let err = desktop(&root, env(Some("../x"), None)).unwrap_err();
        assert!(err.contains("--to DIR"), "{err}");
        assert_eq!(
            sudo_ids(|n| match n {
                "SUDO_UID" => Some("501".into()),
                "SUDO_GID" => Some("20".into()),
                _ => None,
            }),
            Some((501, 20))
        );
        assert_eq!(sudo_ids(|_| None), None);
    }
}
