//! The agent's one boundary with the machine: every path resolves under a root directory, every
//! macOS command runs through [`Runner`] with a timeout and a clean environment, and every file
//! the agent manages is replaced atomically.
//!
//! Tests (and `mmc-agent run --root DIR --commands DIR`) drive the same code on Linux against a
//! temporary root and fake commands that print the real macOS formats (`agent/fakes/`).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::failpoint;

/// The macOS tools the agent uses, by name, with their paths on a Mac.
pub const TOOLS: [(&str, &str); 15] = [
    ("curl", "/usr/bin/curl"),
    ("dscl", "/usr/bin/dscl"),
    ("installer", "/usr/sbin/installer"),
    ("ioreg", "/usr/sbin/ioreg"),
    ("launchctl", "/bin/launchctl"),
    ("open", "/usr/bin/open"),
    ("osascript", "/usr/bin/osascript"),
    ("pkgutil", "/usr/sbin/pkgutil"),
    ("profiles", "/usr/bin/profiles"),
    ("scutil", "/usr/sbin/scutil"),
    ("shutdown", "/sbin/shutdown"),
    ("softwareupdate", "/usr/sbin/softwareupdate"),
    ("sw_vers", "/usr/bin/sw_vers"),
    ("sysctl", "/usr/sbin/sysctl"),
    ("system_profiler", "/usr/sbin/system_profiler"),
];

/// Most a command may print on one stream before the rest is dropped.
const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// A directory standing in for the Mac's `/` (it is `/` on a Mac).
#[derive(Clone, Debug)]
pub struct Root {
    dir: PathBuf,
}

impl Root {
    pub fn new(dir: &Path) -> Result<Root, String> {
        let dir =
            fs::canonicalize(dir).map_err(|e| format!("root directory {}: {e}", dir.display()))?;
        if !dir.is_dir() {
            return Err(format!("root {} is not a directory", dir.display()));
        }
        Ok(Root { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the Mac's absolute `path` is under this root. Refuses relative paths and `..`.
    pub fn path(&self, path: &str) -> Result<PathBuf, String> {
        let relative = path
            .strip_prefix('/')
            .ok_or_else(|| format!("{path:?} is not an absolute path"))?;
        let mut out = self.dir.clone();
        for component in Path::new(relative).components() {
            match component {
                Component::Normal(part) => out.push(part),
                Component::CurDir => {}
                _ => return Err(format!("{path:?} may not contain `..`")),
            }
        }
        if path.contains('\0') {
            return Err(format!("{path:?} contains a NUL byte"));
        }
        Ok(out)
    }
}

impl Root {
    /// Like [`Root::path`], and refuses a path with a symlink on the way that someone other
    /// than root made (a user could otherwise point a managed path at any folder). Root's own
    /// links, such as macOS's `/etc` → `private/etc`, are followed.
    pub fn trusted_path(&self, path: &str) -> Result<PathBuf, String> {
        use std::os::unix::fs::MetadataExt;
        let full = self.path(path)?;
        let mut at = self.dir.clone();
        let relative = full.strip_prefix(&self.dir).map_err(|e| e.to_string())?;
        let mut components = relative.components().peekable();
        while let Some(component) = components.next() {
            at.push(component);
            if components.peek().is_none() {
                break;
            }
            if let Ok(meta) = fs::symlink_metadata(&at)
                && meta.file_type().is_symlink()
                && meta.uid() != 0
            {
                return Err(format!(
                    "{path}: {} is a link made by uid {}",
                    at.display(),
                    meta.uid()
                ));
            }
        }
        Ok(full)
    }
}

/// What a finished command did.
#[derive(Clone, Debug, Default)]
pub struct Output {
    /// The exit status; `None` when a signal ended it (a timeout included).
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// A one-line description of a failure: the exit status and the last stderr line.
    pub fn failure(&self) -> String {
        let status = match (self.timed_out, self.status) {
            (true, _) => "timed out".to_owned(),
            (false, Some(code)) => format!("exit status {code}"),
            (false, None) => "killed by a signal".to_owned(),
        };
        let stderr = String::from_utf8_lossy(&self.stderr);
        let stdout = String::from_utf8_lossy(&self.stdout);
        let last = |text: &str| {
            text.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_owned())
        };
        match last(&stderr).or_else(|| last(&stdout)) {
            Some(line) => format!("{status}: {}", printable(&line)),
            None => status,
        }
    }
}

/// Runs macOS commands: tools by name, and programs by path, each with a timeout, a clean
/// environment and no stdin.
#[derive(Clone, Debug)]
pub struct Runner {
    tools: BTreeMap<String, PathBuf>,
    substitutes: Option<PathBuf>,
    env: Vec<(String, String)>,
    pub timeout: Duration,
}

impl Runner {
    /// `tools` overrides [`TOOLS`] by name; `substitutes` is a directory whose files stand in
    /// for tools and script interpreters of the same name.
    pub fn new(
        root: &Root,
        tools: &BTreeMap<String, PathBuf>,
        substitutes: Option<&Path>,
        now_unix: Option<i64>,
    ) -> Runner {
        let mut map: BTreeMap<String, PathBuf> = TOOLS
            .iter()
            .map(|(name, path)| ((*name).to_owned(), PathBuf::from(path)))
            .collect();
        for (name, path) in tools {
            map.insert(name.clone(), path.clone());
        }
        // Commands run in `/`, so a relative directory would name the wrong place.
        let substitutes =
            substitutes.map(|d| fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()));
        if let Some(dir) = &substitutes {
            for name in TOOLS.iter().map(|(name, _)| *name) {
                let candidate = dir.join(name);
                if candidate.is_file() {
                    map.insert(name.to_owned(), candidate);
                }
            }
        }
        let mut env = vec![
            (
                "PATH".to_owned(),
                "/usr/bin:/bin:/usr/sbin:/sbin".to_owned(),
            ),
            ("LANG".to_owned(), "C".to_owned()),
            ("MMC_ROOT".to_owned(), root.dir().display().to_string()),
        ];
        if let Some(now) = now_unix {
            env.push(("MMC_NOW".to_owned(), now.to_string()));
        }
        Runner {
            tools: map,
            substitutes,
            env,
            timeout: Duration::from_secs(2 * 60 * 60),
        }
    }

    /// The program that runs for `tool`.
    pub fn tool_path(&self, tool: &str) -> PathBuf {
        self.tools
            .get(tool)
            .cloned()
            .unwrap_or_else(|| PathBuf::from(tool))
    }

    /// The program that runs for an interpreter named by absolute path in a script's `#!` line:
    /// its stand-in of the same name when there is one.
    pub fn interpreter(&self, path: &str) -> PathBuf {
        if let (Some(dir), Some(name)) = (&self.substitutes, Path::new(path).file_name()) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
        PathBuf::from(path)
    }

    pub fn tool<S: AsRef<OsStr>>(&self, tool: &str, args: &[S]) -> Result<Output, String> {
        self.run(&self.tool_path(tool), args, &[], self.timeout)
    }

    /// Runs `program` with `args` and `extra_env` on top of the clean environment.
    pub fn run<S: AsRef<OsStr>>(
        &self,
        program: &Path,
        args: &[S],
        extra_env: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Output, String> {
        self.run_inner(program, args, extra_env, timeout, None)
    }

    /// Runs this very agent binary with `args` and `input` on its stdin, telling it to become
    /// the user `uid:gid` before anything else (`--as UID:GID`, honoured only when it starts as
    /// root), so that whatever it touches, it touches with that user's rights. The binary is
    /// started as root and drops to the user itself: the user need not be able to reach it.
    pub fn run_self_as<S: AsRef<OsStr>>(
        &self,
        args: &[S],
        input: Vec<u8>,
        (uid, gid): (u32, u32),
    ) -> Result<Output, String> {
        let me =
            std::env::current_exe().map_err(|e| format!("cannot find mmc-agent itself: {e}"))?;
        let mut all: Vec<std::ffi::OsString> =
            args.iter().map(|a| a.as_ref().to_os_string()).collect();
        if is_root() {
            all.push("--as".into());
            all.push(format!("{uid}:{gid}").into());
        }
        self.run_inner(&me, &all, &[], self.timeout, Some(input))
    }

    fn run_inner<S: AsRef<OsStr>>(
        &self,
        program: &Path,
        args: &[S],
        extra_env: &[(&str, &str)],
        timeout: Duration,
        input: Option<Vec<u8>>,
    ) -> Result<Output, String> {
        failpoint::hit();
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra_env.iter().copied())
            .current_dir("/")
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout can stop whatever it started too.
            .process_group(0);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            });
        }
        let (sender, receiver) = mpsc::channel();
        for (index, stream) in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .enumerate()
        {
            let sender = sender.clone();
            let Some(mut stream) = stream else { continue };
            thread::spawn(move || {
                let mut kept = Vec::new();
                let mut buffer = [0u8; 8192];
                loop {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let room = MAX_OUTPUT.saturating_sub(kept.len());
                            kept.extend_from_slice(&buffer[..n.min(room)]);
                        }
                    }
                }
                let _ = sender.send((index, kept));
            });
        }
        drop(sender);

        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        let mut timed_out = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(e) => return Err(format!("waiting for {}: {e}", program.display())),
            }
            if started.elapsed() >= timeout {
                timed_out = true;
                kill_group(child.id());
                break child
                    .wait()
                    .map_err(|e| format!("waiting for {}: {e}", program.display()))?;
            }
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        };
        // Something the command started may still hold its output open; wait a little, then
        // move on without it.
        let mut output = Output {
            status: status.code(),
            timed_out,
            ..Output::default()
        };
        let deadline = Instant::now() + Duration::from_secs(2);
        for _ in 0..2 {
            let left = deadline.saturating_duration_since(Instant::now());
            match receiver.recv_timeout(left) {
                Ok((0, bytes)) => output.stdout = bytes,
                Ok((_, bytes)) => output.stderr = bytes,
                Err(_) => break,
            }
        }
        failpoint::hit();
        Ok(output)
    }
}

fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory is shared.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// The node name, as `uname -n` prints it (Munki's `hostname` fact).
pub fn hostname() -> Option<String> {
    // SAFETY: uname(2) fills the zeroed struct it is given; nodename is NUL-terminated.
    let name = unsafe {
        let mut names: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut names) != 0 {
            return None;
        }
        std::ffi::CStr::from_ptr(names.nodename.as_ptr())
            .to_string_lossy()
            .into_owned()
    };
    (!name.is_empty()).then_some(name)
}

/// The local time zone's offset from UTC now, in seconds (0 when unknown).
pub fn utc_offset_seconds() -> i32 {
    // SAFETY: time(2) reads the clock and writes nothing when given a null pointer.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    utc_offset_seconds_at(now)
}

/// The local time zone's offset from UTC at the UNIX time `at`, in seconds (0 when unknown):
/// a deadline days away may fall on the other side of a daylight saving change.
pub fn utc_offset_seconds_at(at: i64) -> i32 {
    // time_t is 64 bits on every platform the agent runs on.
    let at: libc::time_t = at;
    // SAFETY: localtime_r(3) writes only into the values given to it.
    unsafe {
        let mut local: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&at, &mut local).is_null() {
            return 0;
        }
        i32::try_from(local.tm_gmtoff).unwrap_or(0)
    }
}

/// Becomes `uid:gid` for good (supplementary groups dropped first, then the group, then the
/// user), and checks that there is no way back.
pub fn become_user(uid: u32, gid: u32) -> Result<(), String> {
    // SAFETY: plain system calls on integers; the process is single-threaded at this point
    // (the hidden command calls this before it starts anything).
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setgid(gid) != 0
            || libc::setuid(uid) != 0
        {
            return Err(format!(
                "cannot become uid {uid}: {}",
                io::Error::last_os_error()
            ));
        }
        if uid != 0 && (libc::setuid(0) == 0 || libc::geteuid() != uid) {
            return Err(format!("dropping to uid {uid} did not hold"));
        }
    }
    Ok(())
}

/// The effective user id (only root can give files to other owners).
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// How a managed file is written.
#[derive(Clone, Copy, Debug)]
pub struct FileSpec {
    pub mode: u32,
    /// Owner and group ids, applied only when running as root.
    pub owner: Option<(u32, u32)>,
}

/// Replaces `path` with `bytes` so that a crash at any moment leaves the old file or the new
/// one, never a mix: write a temporary sibling, set its mode and owner, fsync, rename over
/// `path`, fsync the directory. Leftovers of an earlier, interrupted write are removed first.
pub fn write_atomic(path: &Path, bytes: &[u8], spec: FileSpec) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("a file path needs a directory"))?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("a file path needs a name"))?
        .to_string_lossy()
        .into_owned();
    fs::create_dir_all(dir)?;
    remove_leftovers(dir, &name);
    let temp = dir.join(format!(".{name}.mmc-{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        let half = bytes.len() / 2;
        file.write_all(&bytes[..half])?;
        failpoint::hit();
        file.write_all(&bytes[half..])?;
        // Owner first: changing the owner clears set-user-ID and set-group-ID bits.
        if let (Some((uid, gid)), true) = (spec.owner, is_root()) {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
        }
        file.set_permissions(fs::Permissions::from_mode(spec.mode))?;
        file.sync_all()?;
        failpoint::hit();
        fs::rename(&temp, path)?;
        failpoint::hit();
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Most bytes read from a plist the agent does not control.
pub const MAX_PLIST_BYTES: u64 = 4 * 1024 * 1024;
/// Deepest nesting of arrays and dictionaries accepted in such a plist.
const MAX_PLIST_DEPTH: usize = 64;

/// Opens a file the agent does not control for reading: it never blocks (a FIFO planted where
/// a plist should be is refused, not waited on) and must be a regular file. `follow`: whether a
/// symlink at the last component is followed (Munki follows them for installs items).
pub fn open_regular(path: &Path, follow: bool) -> io::Result<fs::File> {
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if !follow {
        flags |= libc::O_NOFOLLOW;
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// Reads a regular file of at most `cap` bytes (see [`open_regular`]).
pub fn read_bounded(path: &Path, cap: u64, follow: bool) -> io::Result<Vec<u8>> {
    let file = open_regular(path, follow)?;
    if file.metadata()?.len() > cap {
        return Err(io::Error::other(format!("larger than {cap} bytes")));
    }
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(io::Error::other(format!("larger than {cap} bytes")));
    }
    Ok(bytes)
}

/// A plist the agent does not control (an app's Info.plist, a user's preferences), read with
/// [`read_bounded`] and parsed with a nesting limit, so that no file can hang, exhaust or crash
/// the agent.
pub fn read_plist(path: &Path, follow: bool) -> Result<plist::Value, String> {
    let bytes = read_bounded(path, MAX_PLIST_BYTES, follow).map_err(|e| e.to_string())?;
    parse_plist(&bytes)
}

/// Parses a plist (XML or binary), refusing nesting deeper than 64 levels before building it.
pub fn parse_plist(bytes: &[u8]) -> Result<plist::Value, String> {
    use plist::stream::{Event, Reader};
    let mut depth = 0usize;
    for event in Reader::new(io::Cursor::new(bytes)) {
        match event.map_err(|e| e.to_string())? {
            Event::StartArray(_) | Event::StartDictionary(_) => {
                depth += 1;
                if depth > MAX_PLIST_DEPTH {
                    return Err(format!("nested deeper than {MAX_PLIST_DEPTH} levels"));
                }
            }
            Event::EndCollection => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    plist::Value::from_reader(io::Cursor::new(bytes)).map_err(|e| e.to_string())
}

/// Creates (or tightens) a directory only its owner may enter: mode 0700, owned by the agent's
/// user. Refuses a symlink, or a directory someone else owns.
pub fn private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = fs::symlink_metadata(path)?;
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != me {
        return Err(io::Error::other(format!(
            "{} is not a directory of the agent's own",
            path.display()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Replaces characters that have no place in a report or a terminal (controls, ANSI escapes)
/// with `?`, keeping tabs.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
        .collect()
}

/// Removes `path` and makes the removal durable.
pub fn remove_durably(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    failpoint::hit();
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Temporary files an interrupted [`write_atomic`] of `name` left in `dir`.
fn remove_leftovers(dir: &Path, name: &str) {
    let prefix = format!(".{name}.mmc-");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file.starts_with(&prefix) && file.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(root: &Root) -> Runner {
        Runner::new(root, &BTreeMap::new(), None, Some(1_700_000_000))
    }

    #[test]
    fn host_name_and_time_zone_offset() {
        assert!(hostname().is_some_and(|h| !h.is_empty()));
        assert!(utc_offset_seconds().abs() <= 14 * 3600);
    }

    #[test]
    fn paths_stay_under_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        assert_eq!(
            root.path("/Library/Preferences/x.plist").unwrap(),
            root.dir().join("Library/Preferences/x.plist")
        );
        assert!(root.path("Library/x").is_err());
        assert!(root.path("/Library/../../etc/passwd").is_err());
    }

    #[test]
    fn commands_get_a_clean_environment_and_their_output_is_captured() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let out = runner(&root)
            .run(
                Path::new("/bin/sh"),
                &[
                    "-c",
                    "echo \"$MMC_ROOT $MMC_NOW ${HOME:-nohome}\"; echo oops >&2; exit 3",
                ],
                &[],
                Duration::from_secs(10),
            )
            .unwrap();
        assert_eq!(out.status, Some(3));
        assert_eq!(
            out.stdout_text().trim(),
            format!("{} 1700000000 nohome", root.dir().display())
        );
        assert_eq!(out.failure(), "exit status 3: oops");
    }

    #[test]
    fn a_timeout_kills_the_command_and_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let started = Instant::now();
        let out = runner(&root)
            .run(
                Path::new("/bin/sh"),
                &["-c", "sleep 30 & sleep 30; echo never"],
                &[],
                Duration::from_millis(300),
            )
            .unwrap();
        assert!(out.timed_out);
        assert!(!out.success());
        assert!(out.stdout.is_empty());
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(out.failure(), "timed out");
    }

    #[test]
    fn a_missing_program_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let err = runner(&root).tool("no-such-tool-here", &["x"]).unwrap_err();
        assert!(err.contains("cannot run"), "{err}");
    }

    #[test]
    fn atomic_writes_replace_whole_files_and_clean_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/file.txt");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(dir.path().join("sub/.file.txt.mmc-99999.tmp"), "partial").unwrap();
        let spec = FileSpec {
            mode: 0o640,
            owner: None,
        };
        write_atomic(&path, b"one", spec).unwrap();
        write_atomic(&path, b"two", spec).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
        let names: Vec<_> = fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("file.txt")]);
    }

    /// `depth` levels of collections, dictionaries and arrays in turn, around a string.
    fn nested(depth: usize) -> plist::Value {
        let mut value = plist::Value::String("bottom".into());
        for level in 0..depth {
            value = if level % 2 == 0 {
                plist::Value::Array(vec![value])
            } else {
                let mut d = plist::Dictionary::new();
                d.insert("k".into(), value);
                plist::Value::Dictionary(d)
            };
        }
        value
    }

    #[test]
    fn plists_nested_deeper_than_64_levels_are_refused_in_both_forms() {
        for depth in [64, 65] {
            let value = nested(depth);
            let mut xml = Vec::new();
            value.to_writer_xml(&mut xml).unwrap();
            let mut binary = Vec::new();
            value.to_writer_binary(&mut binary).unwrap();
            assert!(binary.starts_with(b"bplist00"));
            for (form, bytes) in [("XML", &xml), ("binary", &binary)] {
                let parsed = parse_plist(bytes);
                if depth == 64 {
                    assert_eq!(parsed.as_ref(), Ok(&value), "{form}, depth {depth}");
                } else {
                    assert_eq!(
                        parsed,
                        Err("nested deeper than 64 levels".to_owned()),
                        "{form}, depth {depth}"
                    );
                }
            }
        }
    }

    /// Building a value of 100000 nested arrays overflowed the stack (of a test thread here,
    /// of the agent's main thread on a Mac): it is refused from the event stream first.
    #[test]
    fn a_very_deep_plist_is_refused_without_recursion() {
        let depth = 100_000;
        let text = format!(
            "<plist version=\"1.0\">{}{}</plist>",
            "<array>".repeat(depth),
            "</array>".repeat(depth)
        );
        assert_eq!(
            parse_plist(text.as_bytes()),
            Err("nested deeper than 64 levels".to_owned())
        );
    }

    #[test]
    fn read_bounded_refuses_fifos_links_not_followed_and_files_over_the_cap() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        fs::write(&file, b"0123456789").unwrap();
        assert_eq!(read_bounded(&file, 10, false).unwrap(), b"0123456789");
        let err = read_bounded(&file, 9, false).unwrap_err();
        assert_eq!(err.to_string(), "larger than 9 bytes");

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let err = read_bounded(&link, 10, false).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{err}");
        assert_eq!(read_bounded(&link, 10, true).unwrap(), b"0123456789");

        let err = read_bounded(dir.path(), 10, true).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file");

        // A FIFO nobody writes to: refused at once, not waited on.
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: `c` is a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            let _ = sender.send(read_bounded(&fifo, 10, true).map_err(|e| e.to_string()));
        });
        let result = receiver
            .recv_timeout(Duration::from_secs(10))
            .expect("reading a FIFO blocked");
        assert_eq!(result, Err("not a regular file".to_owned()));
    }

    #[test]
    fn trusted_paths_refuse_links_others_made_on_the_way_and_follow_roots() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        fs::create_dir_all(root.dir().join("Library/LaunchDaemons")).unwrap();
        let link = root.dir().join("Acme");
        symlink(root.dir().join("Library/LaunchDaemons"), &link).unwrap();
        let maker = if is_root() {
            std::os::unix::fs::lchown(&link, Some(502), Some(20)).unwrap();
            502
        } else {
            // SAFETY: geteuid(2) cannot fail and touches no memory.
            unsafe { libc::geteuid() }
        };
        let err = root.trusted_path("/Acme/info.txt").unwrap_err();
        assert_eq!(
            err,
            format!(
                "/Acme/info.txt: {} is a link made by uid {maker}",
                link.display()
            )
        );
        // The managed path itself may be a link: it is replaced, not followed.
        assert_eq!(root.trusted_path("/Acme").unwrap(), link);
        assert!(root.trusted_path("/Acme/../etc").is_err());
        if is_root() {
            // Root's own links, like macOS's /etc → private/etc, are followed.
            fs::create_dir_all(root.dir().join("private/etc")).unwrap();
            symlink("private/etc", root.dir().join("etc")).unwrap();
            assert_eq!(
                root.trusted_path("/etc/motd").unwrap(),
                root.dir().join("etc/motd")
            );
        }
    }

    #[test]
    fn printable_replaces_controls_and_escapes_but_keeps_tabs() {
        assert_eq!(
            printable("a\u{1b}[31mb\tc\u{7}\u{8}\u{7f}\u{9b}d\r\n"),
            "a?[31mb\tc????d??"
        );
        assert_eq!(printable("plain: é ✓"), "plain: é ✓");
    }
}
