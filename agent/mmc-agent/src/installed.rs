//! Is a Munki item installed? Munki 7's rules (`installationstate.swift`, `compare.swift`),
//! in its order of precedence; the first rule that applies decides:
//!
//! 1. `OnDemand` → not installed (always install);
//! 2. `installcheck_script` → exit 0 means install needed, any other status (even -1, a script
//!    that cannot run) means installed;
//! 3. `version_script` → its output compared with the pkginfo version;
//! 4. `installs` → every entry must be the same version or newer; a malformed entry means
//!    installed ("so we don't attempt an install");
//! 5. `receipts` → the same, per non-optional receipt, from `pkgutil`;
//! 6. nothing → installed (no evidence means "don't install").

use std::cell::OnceCell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use md5::Digest;
use mmc_config::{Pkginfo, version};

use crate::platform::{Root, Runner};
use crate::script::Scripts;

/// Munki's installed states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    NotInstalled,
    Installed,
    NewerInstalled,
}

/// A state and the evidence for it, in words for the plan and the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub state: State,
    pub reason: String,
}

fn decide(state: State, reason: impl Into<String>) -> Decision {
    Decision {
        state,
        reason: reason.into(),
    }
}

/// How one `installs` entry compares with what is on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    NotPresent,
    Older,
    Same,
    Newer,
}

/// An application found on the Mac.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    pub path: String,
    pub bundle_id: String,
    pub name: String,
    pub version: String,
}

/// Looks at the Mac (under its root) the way Munki does; receipts and the application
/// inventory are read once per run.
pub struct Probe<'a> {
    pub root: &'a Root,
    pub runner: &'a Runner,
    pub scripts: &'a Scripts<'a>,
    receipts: OnceCell<Result<BTreeMap<String, String>, String>>,
    apps: OnceCell<Vec<App>>,
}

impl<'a> Probe<'a> {
    pub fn new(root: &'a Root, runner: &'a Runner, scripts: &'a Scripts<'a>) -> Probe<'a> {
        Probe {
            root,
            runner,
            scripts,
            receipts: OnceCell::new(),
            apps: OnceCell::new(),
        }
    }

    /// Forget what was read, after something was installed or removed.
    pub fn refresh(&mut self) {
        self.receipts = OnceCell::new();
        self.apps = OnceCell::new();
    }

    /// Munki's `installedState`.
    pub fn state(&self, p: &Pkginfo) -> Decision {
        if p.on_demand == Some(true) {
            return decide(State::NotInstalled, "OnDemand: installs every time");
        }
        if let Some(script) = &p.installcheck_script {
            return self.installcheck(p, script);
        }
        if let Some(script) = &p.version_script {
            let run = self.scripts.run(&p.name, "version_script", script);
            let found = run.output.stdout_text().trim().to_owned();
            if run.status != 0 || found.is_empty() {
                return decide(State::NotInstalled, "version_script printed no version");
            }
            return match version::compare(&found, &p.version) {
                Ordering::Less => decide(
                    State::NotInstalled,
                    format!("version_script says {found}, older than {}", p.version),
                ),
                Ordering::Equal => decide(State::Installed, format!("version_script says {found}")),
                Ordering::Greater => decide(
                    State::NewerInstalled,
                    format!("version_script says {found}, newer than {}", p.version),
                ),
            };
        }
        if let Some(installs) = p.installs.as_ref().filter(|i| !i.is_empty()) {
            let mut newer = None;
            for (index, item) in installs.iter().enumerate() {
                let label = describe(item, index);
                match self.compare_item(item) {
                    Err(e) => {
                        return decide(
                            State::Installed,
                            format!(
                                "{label} is malformed ({e}); Munki then counts it as installed"
                            ),
                        );
                    }
                    Ok(Presence::NotPresent) => {
                        return decide(State::NotInstalled, format!("{label} is not present"));
                    }
                    Ok(Presence::Older) => {
                        return decide(State::NotInstalled, format!("{label} is older"));
                    }
                    Ok(Presence::Newer) => newer = newer.or(Some(label)),
                    Ok(Presence::Same) => {}
                }
            }
            return match newer {
                Some(label) => decide(State::NewerInstalled, format!("{label} is newer")),
                None => decide(
                    State::Installed,
                    "every installs item is present and current",
                ),
            };
        }
        if let Some(receipts) = &p.receipts {
            if receipts.is_empty() {
                return decide(State::Installed, "an empty receipts list");
            }
            // Like Munki, a pkgutil that fails means no receipts at all.
            let empty = BTreeMap::new();
            let (installed, why) = match self.receipts() {
                Ok(map) => (map, String::new()),
                Err(e) => (&empty, format!(" ({e})")),
            };
            let mut newer = None;
            for receipt in receipts {
                if receipt.get("optional").and_then(plist::Value::as_boolean) == Some(true) {
                    continue;
                }
                let (Some(id), Some(wanted)) = (
                    receipt.get("packageid").and_then(plist::Value::as_string),
                    receipt.get("version").and_then(plist::Value::as_string),
                ) else {
                    return decide(
                        State::Installed,
                        "a receipt without packageid or version; Munki then counts it as installed",
                    );
                };
                match installed.get(id) {
                    None => {
                        return decide(State::NotInstalled, format!("no receipt for {id}{why}"));
                    }
                    Some(have) => match version::compare(have, wanted) {
                        Ordering::Less => {
                            return decide(
                                State::NotInstalled,
                                format!("receipt {id} is {have}, older than {wanted}"),
                            );
                        }
                        Ordering::Greater => {
                            newer = newer.or(Some(format!("receipt {id} is {have}")))
                        }
                        Ordering::Equal => {}
                    },
                }
            }
            return match newer {
                Some(why) => decide(State::NewerInstalled, format!("{why}, newer")),
                None => decide(State::Installed, "every receipt is present and current"),
            };
        }
        decide(
            State::Installed,
            "no installs, receipts or check script: Munki treats it as installed",
        )
    }

    /// An `installcheck_script`'s verdict: exit 0 means install; anything else, even a script
    /// that cannot run, means installed.
    fn installcheck(&self, p: &Pkginfo, script: &str) -> Decision {
        let run = self.scripts.run(&p.name, "installcheck_script", script);
        if run.status == 0 {
            decide(State::NotInstalled, "installcheck_script exited 0")
        } else {
            decide(
                State::Installed,
                format!("installcheck_script exited {}", run.status),
            )
        }
    }

    /// Munki's `someVersionInstalled`, which decides whether a `managed_updates` item applies.
    pub fn some_version_installed(&self, p: &Pkginfo) -> bool {
        if p.on_demand == Some(true) {
            return false;
        }
        if let Some(script) = &p.installcheck_script {
            return self
                .scripts
                .run(&p.name, "installcheck_script", script)
                .status
                != 0;
        }
        if let Some(script) = &p.version_script {
            let run = self.scripts.run(&p.name, "version_script", script);
            return run.status == 0 && !run.output.stdout_text().trim().is_empty();
        }
        if let Some(installs) = p.installs.as_ref().filter(|i| !i.is_empty()) {
            // Older is fine; missing or malformed is not.
            return installs
                .iter()
                .all(|item| matches!(self.compare_item(item), Ok(p) if p != Presence::NotPresent));
        }
        if let Some(receipts) = &p.receipts {
            let Ok(installed) = self.receipts() else {
                return false;
            };
            return receipts.iter().all(|r| {
                let text = |key: &str| r.get(key).and_then(plist::Value::as_string);
                if r.get("optional").and_then(plist::Value::as_boolean) == Some(true) {
                    return true;
                }
                match (text("packageid"), text("version")) {
                    (Some(id), Some(_)) => installed.contains_key(id),
                    _ => false,
                }
            });
        }
        true
    }

    /// Munki's `evidenceThisIsInstalled`, which decides whether a removal has work to do.
    /// `shared` holds package ids that other items' receipts name too.
    pub fn evidence_installed(&self, p: &Pkginfo, shared: &BTreeSet<String>) -> Decision {
        if p.on_demand == Some(true) {
            return decide(State::NotInstalled, "OnDemand items are never installed");
        }
        if let Some(script) = &p.uninstallcheck_script {
            let run = self.scripts.run(&p.name, "uninstallcheck_script", script);
            return if run.status == 0 {
                decide(State::Installed, "uninstallcheck_script exited 0")
            } else {
                decide(
                    State::NotInstalled,
                    format!("uninstallcheck_script exited {}", run.status),
                )
            };
        }
        if let Some(script) = &p.installcheck_script {
            return self.installcheck(p, script);
        }
        if let Some(script) = &p.version_script {
            let run = self.scripts.run(&p.name, "version_script", script);
            if run.status == 0 && !run.output.stdout_text().trim().is_empty() {
                return decide(State::Installed, "version_script printed a version");
            }
        }
        if let Some(installs) = p.installs.as_ref().filter(|i| !i.is_empty())
            && p.uninstall_method.as_deref() != Some("removepackages")
            && installs.iter().all(|item| {
                // Munki only asks whether each path exists; an entry without one passes.
                match item.get("path").and_then(plist::Value::as_string) {
                    Some(path) => self.root.path(path).is_ok_and(|p| p.exists()),
                    None => true,
                }
            })
        {
            return decide(State::Installed, "every installs path exists");
        }
        if let (Some(receipts), Ok(installed)) = (&p.receipts, self.receipts()) {
            let ids: Vec<&str> = receipts
                .iter()
                .filter_map(|r| r.get("packageid").and_then(plist::Value::as_string))
                .collect();
            let present: Vec<&str> = ids
                .iter()
                .copied()
                .filter(|id| installed.contains_key(*id))
                .collect();
            if !present.is_empty()
                && (present.len() == ids.len() || present.iter().any(|id| !shared.contains(*id)))
            {
                return decide(
                    State::Installed,
                    format!("receipt {} is present", present[0]),
                );
            }
        }
        decide(State::NotInstalled, "nothing says it is installed")
    }

    /// Munki's `compareItem` for one `installs` entry.
    pub fn compare_item(&self, item: &plist::Dictionary) -> Result<Presence, String> {
        let text = |key: &str| item.get(key).and_then(plist::Value::as_string);
        let kind = text("type").ok_or("no type")?;
        match kind {
            "application" => match text("path") {
                Some(path) => {
                    let dir = self.root.path(path)?;
                    let info = dir.join("Contents/Info.plist");
                    if !dir.exists() || !info.is_file() {
                        return Ok(Presence::NotPresent);
                    }
                    compare_plist(item, &info)
                }
                None => self.compare_app_by_identity(item),
            },
            "bundle" => {
                let Some(path) = text("path") else {
                    return Ok(Presence::NotPresent);
                };
                let dir = self.root.path(path)?;
                let info = [
                    dir.join("Contents/Info.plist"),
                    dir.join("Resources/Info.plist"),
                ]
                .into_iter()
                .find(|p| p.is_file());
                match info {
                    Some(info) => compare_plist(item, &info),
                    None => Ok(Presence::NotPresent),
                }
            }
            "plist" => {
                let path = self.root.path(text("path").ok_or("no path")?)?;
                compare_plist(item, &path)
            }
            "file" => {
                let path = self.root.path(text("path").ok_or("no path")?)?;
                // Like Munki's pathExists, a symlink counts only if what it names exists.
                if !path.exists() {
                    return Ok(Presence::NotPresent);
                }
                match text("md5checksum") {
                    Some(wanted) => {
                        let have = md5_file(&path).map_err(|e| format!("cannot read: {e}"))?;
                        Ok(if have == wanted {
                            Presence::Same
                        } else {
                            Presence::Older
                        })
                    }
                    None => Ok(Presence::Same),
                }
            }
            other => Err(format!("unknown type {other:?}")),
        }
    }

    /// An application without a path: searched for by bundle id or name, highest version
    /// first; the first one that is the same or newer wins.
    fn compare_app_by_identity(&self, item: &plist::Dictionary) -> Result<Presence, String> {
        let text = |key: &str| item.get(key).and_then(plist::Value::as_string);
        let (id, name) = (text("CFBundleIdentifier"), text("CFBundleName"));
        if id.is_none() && name.is_none() {
            return Err("an application needs a path, CFBundleIdentifier or CFBundleName".into());
        }
        let mut found: Vec<&App> = self
            .apps()
            .iter()
            .filter(|a| Some(a.bundle_id.as_str()) == id || Some(a.name.as_str()) == name)
            .collect();
        found.sort_by(|a, b| version::compare(&b.version, &a.version));
        let mut older = false;
        for app in found {
            let info = self.root.path(&app.path)?.join("Contents/Info.plist");
            match compare_plist(item, &info)? {
                Presence::Same | Presence::Newer => return compare_plist(item, &info),
                Presence::Older => older = true,
                Presence::NotPresent => {}
            }
        }
        Ok(if older {
            Presence::Older
        } else {
            Presence::NotPresent
        })
    }

    /// Installed package ids and their versions, from one `pkgutil --regexp --pkg-info-plist`.
    pub fn receipts(&self) -> Result<&BTreeMap<String, String>, String> {
        self.receipts
            .get_or_init(|| {
                let out = self
                    .runner
                    .tool("pkgutil", &["--regexp", "--pkg-info-plist", ".*"])?;
                if !out.success() {
                    return Err(format!("pkgutil: {}", out.failure()));
                }
                Ok(parse_receipts(&out.stdout))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The applications on the Mac (the `applications` fact, and installs items without a path).
    pub fn apps(&self) -> &[App] {
        self.apps.get_or_init(|| {
            let mut apps = Vec::new();
            for dir in ["/Applications", "/System/Applications", "/Users/Shared"] {
                if let Ok(path) = self.root.path(dir) {
                    find_apps(&path, dir, 4, &mut apps);
                }
            }
            apps.sort_by(|a, b| a.path.cmp(&b.path));
            apps
        })
    }
}

fn describe(item: &plist::Dictionary, index: usize) -> String {
    let text = |key: &str| item.get(key).and_then(plist::Value::as_string);
    match (text("type"), text("path"), text("CFBundleIdentifier")) {
        (Some(t), Some(p), _) => format!("installs {t} {p}"),
        (Some(t), None, Some(id)) => format!("installs {t} {id}"),
        _ => format!("installs item {}", index + 1),
    }
}

/// `plist` and bundle comparison: the version in the installs entry against the plist's.
fn compare_plist(item: &plist::Dictionary, path: &Path) -> Result<Presence, String> {
    let text = |key: &str| item.get(key).and_then(plist::Value::as_string);
    let explicit = text("version_comparison_key");
    let key = explicit.unwrap_or("CFBundleShortVersionString");
    let expected = text(key).ok_or_else(|| format!("no {key} to compare with"))?;
    let Ok(value) = crate::platform::read_plist(path, true) else {
        return Ok(Presence::NotPresent);
    };
    let Some(dict) = value.as_dictionary() else {
        return Ok(Presence::NotPresent);
    };
    let get = |key: &str| dict.get(key).and_then(plist::Value::as_string);
    let installed = match explicit {
        Some(key) => get(key),
        None => get("CFBundleShortVersionString").or_else(|| get("CFBundleVersion")),
    };
    let Some(installed) = installed.filter(|v| !v.is_empty()) else {
        return Ok(Presence::NotPresent);
    };
    if let Some(minimum) = text("minimum_update_version")
        && version::compare(installed, minimum) == Ordering::Less
    {
        return Ok(Presence::NotPresent);
    }
    Ok(match version::compare(installed, expected) {
        Ordering::Less => Presence::Older,
        Ordering::Equal => Presence::Same,
        Ordering::Greater => Presence::Newer,
    })
}

/// `pkgid → pkg-version` from `pkgutil --pkg-info-plist` output: plist documents back to back,
/// possibly with noise between them.
pub fn parse_receipts(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut receipts = BTreeMap::new();
    let end_tag = b"</plist>";
    let mut rest = bytes;
    while let Some(end) = find(rest, end_tag) {
        let (document, tail) = rest.split_at(end + end_tag.len());
        let start = find(document, b"<?xml")
            .or_else(|| find(document, b"<plist"))
            .unwrap_or(0);
        if let Ok(plist::Value::Dictionary(d)) = plist::Value::from_reader_xml(&document[start..])
            && let (Some(id), Some(v)) = (
                d.get("pkgid").and_then(plist::Value::as_string),
                d.get("pkg-version").and_then(plist::Value::as_string),
            )
        {
            receipts.insert(id.to_owned(), v.to_owned());
        }
        rest = tail;
    }
    receipts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn find_apps(dir: &Path, mac_dir: &str, depth: u32, out: &mut Vec<App>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if !kind.is_dir() || name.starts_with('.') {
            continue;
        }
        let mac_path = format!("{}/{name}", mac_dir.trim_end_matches('/'));
        if let Some(stem) = name.strip_suffix(".app") {
            let info = entry.path().join("Contents/Info.plist");
            let Ok(plist::Value::Dictionary(d)) = crate::platform::read_plist(&info, true) else {
                continue;
            };
            let get = |k: &str| {
                d.get(k)
                    .and_then(plist::Value::as_string)
                    .map(str::to_owned)
            };
            out.push(App {
                path: mac_path,
                bundle_id: get("CFBundleIdentifier").unwrap_or_default(),
                name: get("CFBundleName")
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| stem.to_owned()),
                version: get("CFBundleShortVersionString")
                    .or_else(|| get("CFBundleVersion"))
                    .unwrap_or_default(),
            });
        } else if depth > 0 {
            find_apps(&entry.path(), &mac_path, depth - 1, out);
        }
    }
}

/// The MD5 of a regular file, streamed (a FIFO or device where a file should be is an error).
fn md5_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = crate::platform::open_regular(path, true)?;
    let mut hasher = md5::Md5::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "installed_tests.rs"]
mod tests;
