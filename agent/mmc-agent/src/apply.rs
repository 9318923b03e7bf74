//! Deciding whether an item needs a change, and making it, per item kind.
//!
//! Every kind has the same two steps, so `run --check` and a real run share the decision:
//! [`Converger::assess`] looks (and writes nothing), [`Converger::apply`] changes the Mac.
//! Managed files are only ever replaced whole ([`write_atomic`]), so a crash leaves the old
//! file or the new one, and the next run's assessment finds whatever is left to do.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use mmc_config::{Config, Item, Pkginfo, PrefScope};
use mmc_predicate::Facts;
use sha2::Digest;

use crate::installed::{Decision, Probe, State};
use crate::log::Log;
use crate::platform::{FileSpec, Root, Runner, is_root, remove_durably, write_atomic};
use crate::script::Scripts;

/// A preferences file, and the owner it should have.
type PrefTarget = (PathBuf, Option<(u32, u32)>);

/// Install (or update) an item, or remove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Install,
    Remove,
}

/// What an item needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need {
    /// Nothing: the Mac is as the bundle wants it. Why, in words.
    Nothing(String),
    /// A change, and why.
    Change(String),
    /// The item does not apply to this Mac (architecture, OS version, condition).
    Skip(String),
}

/// Everything the agent needs to assess and apply items.
pub struct Converger<'a> {
    pub root: &'a Root,
    pub runner: &'a Runner,
    pub scripts: &'a Scripts<'a>,
    pub probe: Probe<'a>,
    pub config: &'a Config,
    /// The verified bundle's files.
    pub bundle_dir: &'a Path,
    pub pkginfos: &'a BTreeMap<String, Pkginfo>,
    pub facts: &'a Facts,
    /// Where package payloads come from: a directory, or a URL.
    pub packages: Option<String>,
    pub cache: PathBuf,
    /// `pkgutil --files` answers, per package id, for this run.
    pub package_files: std::cell::RefCell<BTreeMap<String, Vec<String>>>,
}

impl Converger<'_> {
    pub fn assess(&self, name: &str, op: Op) -> Result<Need, String> {
        let item = self
            .config
            .items
            .get(name)
            .ok_or_else(|| format!("no item named {name} in the bundle"))?;
        match (item, op) {
            (Item::Package(_) | Item::Script(_), Op::Install) => {
                let p = self.pkginfo(name)?;
                if let Some(why) = self.not_applicable(p) {
                    return Ok(Need::Skip(why));
                }
                Ok(match self.probe.state(p) {
                    Decision {
                        state: State::NotInstalled,
                        reason,
                    } => Need::Change(reason),
                    Decision { reason, .. } => Need::Nothing(reason),
                })
            }
            (Item::Package(_) | Item::Script(_), Op::Remove) => {
                let p = self.pkginfo(name)?;
                if p.uninstallable != Some(true) {
                    // Munki skips it with a warning; it is not a failure to repeat every run.
                    return Ok(Need::Skip(
                        "not marked uninstallable: true, so it is not removed (as in Munki)".into(),
                    ));
                }
                let shared = self.shared_receipts(name);
                Ok(match self.probe.evidence_installed(p, &shared) {
                    Decision {
                        state: State::NotInstalled,
                        reason,
                    } => Need::Nothing(reason),
                    Decision { reason, .. } => Need::Change(reason),
                })
            }
            (Item::File(f), Op::Install) => {
                let path = self.root.trusted_path(&f.path)?;
                let mode = f
                    .mode_bits()
                    .ok_or_else(|| format!("mode {:?} is not octal", f.mode))?;
                let owner = self.owner(&f.owner, &f.group)?;
                Ok(file_need(&path, &f.path, f.content.as_bytes(), mode, owner))
            }
            (Item::File(f), Op::Remove) => Ok(
                if fs::symlink_metadata(self.root.trusted_path(&f.path)?).is_ok() {
                    Need::Change(format!("{} exists", f.path))
                } else {
                    Need::Nothing(format!("{} is absent", f.path))
                },
            ),
            (Item::Preference(p), op) => {
                let values = self.preference_values(&p.values)?;
                let mut differing = Vec::new();
                let targets = self.preference_targets(&p.domain, p.scope)?;
                if targets.is_empty() {
                    return Ok(Need::Nothing(
                        "no user home folders under /Users yet".into(),
                    ));
                }
                for (target, _) in targets {
                    let current = read_dict(&target).map(|(d, _)| d).unwrap_or_default();
                    for (key, wanted) in &values {
                        let differs = match op {
                            Op::Install => current.get(key) != Some(wanted),
                            Op::Remove => current.contains_key(key),
                        };
                        if differs {
                            differing.push(key.clone());
                        }
                    }
                }
                differing.sort();
                differing.dedup();
                Ok(if differing.is_empty() {
                    Need::Nothing(match op {
                        Op::Install => format!("{} has every managed key", p.domain),
                        Op::Remove => format!("{} has none of the managed keys", p.domain),
                    })
                } else {
                    Need::Change(format!("{} keys: {}", p.domain, differing.join(", ")))
                })
            }
            (Item::Launchd(l), Op::Install) => {
                let wanted = self.bundle_file(&l.plist)?;
                let path = self.root.trusted_path(&l.path())?;
                // launchd refuses a job plist that others may write: mode and owner count.
                if let Need::Change(why) = file_need(&path, &l.path(), &wanted, 0o644, Some((0, 0)))
                {
                    return Ok(Need::Change(why));
                }
                if !self.job_loaded(&l.label)? {
                    return Ok(Need::Change(format!("{} is not loaded", l.label)));
                }
                Ok(Need::Nothing(format!(
                    "{} is installed and loaded",
                    l.label
                )))
            }
            (Item::Launchd(l), Op::Remove) => {
                let present = self.root.trusted_path(&l.path())?.exists();
                Ok(if present || self.job_loaded(&l.label)? {
                    Need::Change(format!("{} is installed", l.label))
                } else {
                    Need::Nothing(format!("{} is not installed", l.label))
                })
            }
        }
    }

    /// Makes the change [`Self::assess`] asked for. Returns warnings.
    pub fn apply(&mut self, name: &str, op: Op, log: &mut Log) -> Result<Vec<String>, String> {
        let item = self
            .config
            .items
            .get(name)
            .ok_or_else(|| format!("no item named {name} in the bundle"))?;
        let warnings = match (item, op) {
            (Item::Package(_), Op::Install) => self.install_package(name, log)?,
            (Item::Script(_), Op::Install) => self.install_script(name, log)?,
            (Item::Package(_) | Item::Script(_), Op::Remove) => self.remove_munki(name, log)?,
            (Item::File(f), Op::Install) => {
                let path = self.root.trusted_path(&f.path)?;
                let spec = FileSpec {
                    mode: f.mode_bits().ok_or("bad mode")?,
                    owner: self.owner(&f.owner, &f.group)?,
                };
                write_atomic(&path, f.content.as_bytes(), spec)
                    .map_err(|e| format!("cannot write {}: {e}", f.path))?;
                let back = crate::platform::read_bounded(&path, f.content.len() as u64, false);
                if back.ok().as_deref() != Some(f.content.as_bytes()) {
                    return Err(format!("{} does not read back as written", f.path));
                }
                Vec::new()
            }
            (Item::File(f), Op::Remove) => {
                remove_durably(&self.root.trusted_path(&f.path)?)
                    .map_err(|e| format!("cannot remove {}: {e}", f.path))?;
                Vec::new()
            }
            (Item::Preference(p), op) => {
                let values = self.preference_values(&p.values)?;
                for (target, owner) in self.preference_targets(&p.domain, p.scope)? {
                    match (p.scope, owner) {
                        // A user's files are written by a child running as that user, so no
                        // link the user planted can make root read or write elsewhere.
                        (PrefScope::User, Some(user)) => {
                            self.set_user_preferences(&target, &values, op, user)?;
                        }
                        _ => set_preferences(&target, &values, op, owner, 0o644)?,
                    }
                }
                Vec::new()
            }
            (Item::Launchd(l), Op::Install) => {
                let wanted = self.bundle_file(&l.plist)?;
                let mac_path = l.path();
                let path = self.root.trusted_path(&mac_path)?;
                if matches!(
                    file_need(&path, &mac_path, &wanted, 0o644, Some((0, 0))),
                    Need::Change(_)
                ) {
                    let was_loaded = self.job_loaded(&l.label)?;
                    if was_loaded {
                        self.launchctl(&["bootout", &format!("system/{}", l.label)], &[113])?;
                    }
                    let written = write_atomic(
                        &path,
                        &wanted,
                        FileSpec {
                            mode: 0o644,
                            owner: Some((0, 0)),
                        },
                    );
                    if let Err(e) = written {
                        // Keep the job running on its old plist rather than leave it unloaded.
                        if was_loaded && path.exists() {
                            let _ = self.launchctl(&["bootstrap", "system", &mac_path], &[]);
                        }
                        return Err(format!("cannot write {mac_path}: {e}"));
                    }
                    log.info(&format!("{name}: wrote {mac_path}"));
                }
                if !self.job_loaded(&l.label)? {
                    self.launchctl(&["bootstrap", "system", &mac_path], &[])?;
                    log.info(&format!("{name}: bootstrapped {}", l.label));
                }
                Vec::new()
            }
            (Item::Launchd(l), Op::Remove) => {
                if self.job_loaded(&l.label)? {
                    self.launchctl(&["bootout", &format!("system/{}", l.label)], &[113])?;
                }
                remove_durably(&self.root.trusted_path(&l.path())?)
                    .map_err(|e| format!("cannot remove {}: {e}", l.path()))?;
                Vec::new()
            }
        };
        Ok(warnings)
    }

    fn set_user_preferences(
        &self,
        path: &Path,
        values: &plist::Dictionary,
        op: Op,
        user: (u32, u32),
    ) -> Result<(), String> {
        let mut input = Vec::new();
        plist::Value::Dictionary(values.clone())
            .to_writer_binary(&mut input)
            .map_err(|e| format!("cannot encode the managed keys: {e}"))?;
        let op = match op {
            Op::Install => "install",
            Op::Remove => "remove",
        };
        let path_arg = path.as_os_str();
        let out = self.runner.run_self_as(
            &[
                std::ffi::OsStr::new(USER_PREFERENCES_COMMAND),
                path_arg,
                std::ffi::OsStr::new(op),
            ],
            input,
            user,
        )?;
        if out.success() {
            Ok(())
        } else {
            Err(format!("as uid {}: {}", user.0, out.failure()))
        }
    }

    pub fn pkginfo(&self, name: &str) -> Result<&Pkginfo, String> {
        self.pkginfos
            .get(name)
            .ok_or_else(|| format!("the bundle has no pkginfo for {name}"))
    }

    /// Why a Munki item does not apply to this Mac, if it does not.
    fn not_applicable(&self, p: &Pkginfo) -> Option<String> {
        use mmc_config::version::compare;
        use std::cmp::Ordering;
        let fact = |key: &str| match self.facts.get(key) {
            Some(mmc_predicate::FactValue::String(s)) => Some(s.as_str()),
            _ => None,
        };
        if !p.supported_architectures.is_empty()
            && let Some(arch) = fact("arch")
            && !p.supported_architectures.iter().any(|a| a == arch)
        {
            return Some(format!(
                "supports {} only; this Mac is {arch}",
                p.supported_architectures.join(", ")
            ));
        }
        if let Some(os) = fact("os_vers") {
            if let Some(min) = &p.minimum_os_version
                && compare(os, min) == Ordering::Less
            {
                return Some(format!("needs macOS {min} or later; this Mac has {os}"));
            }
            if let Some(max) = &p.maximum_os_version
                && compare(os, max) == Ordering::Greater
            {
                return Some(format!("needs macOS {max} or earlier; this Mac has {os}"));
            }
        }
        if let Some(condition) = &p.installable_condition {
            match mmc_predicate::parse(condition) {
                Ok(predicate) => {
                    if !mmc_predicate::eval(&predicate, self.facts).unwrap_or(false) {
                        return Some(format!("installable_condition is false: {condition}"));
                    }
                }
                Err(e) => {
                    return Some(format!(
                        "installable_condition cannot be read ({}): skipped, as Munki does",
                        e.message
                    ));
                }
            }
        }
        None
    }

    /// Package ids that the receipts of items other than `name` name too.
    fn shared_receipts(&self, name: &str) -> BTreeSet<String> {
        self.pkginfos
            .iter()
            .filter(|(other, _)| other.as_str() != name)
            .flat_map(|(_, p)| p.receipts.iter().flatten())
            .filter_map(|r| r.get("packageid").and_then(plist::Value::as_string))
            .map(str::to_owned)
            .collect()
    }

    fn bundle_file(&self, path: &str) -> Result<Vec<u8>, String> {
        fs::read(self.bundle_dir.join(path)).map_err(|e| format!("bundle file {path}: {e}"))
    }

    fn preference_values(&self, path: &str) -> Result<plist::Dictionary, String> {
        let bytes = self.bundle_file(path)?;
        match plist::Value::from_reader(std::io::Cursor::new(bytes)) {
            Ok(plist::Value::Dictionary(d)) => Ok(d),
            _ => Err(format!("bundle file {path} is not a plist dictionary")),
        }
    }

    /// The plist files a preference domain is written to, and their owners.
    fn preference_targets(
        &self,
        domain: &str,
        scope: PrefScope,
    ) -> Result<Vec<PrefTarget>, String> {
        let file = format!("{domain}.plist");
        match scope {
            PrefScope::System => Ok(vec![(
                self.root.path(&format!("/Library/Preferences/{file}"))?,
                Some((0, 80)),
            )]),
            PrefScope::User => {
                let mut targets = Vec::new();
                let users = self.root.path("/Users")?;
                let mut homes: Vec<_> = fs::read_dir(&users)
                    .map(|entries| entries.flatten().collect())
                    .unwrap_or_default();
                homes.sort_by_key(fs::DirEntry::file_name);
                for home in homes {
                    let user = home.file_name().to_string_lossy().into_owned();
                    if user.starts_with('.') || user == "Shared" || user == "Guest" {
                        continue;
                    }
                    let Ok(meta) = home.metadata() else { continue };
                    if !meta.is_dir() {
                        continue;
                    }
                    targets.push((
                        home.path().join("Library/Preferences").join(&file),
                        Some((meta.uid(), meta.gid())),
                    ));
                }
                Ok(targets)
            }
        }
    }

    /// Numeric owner and group, from the names. Known macOS accounts are built in; others
    /// are asked of Directory Services.
    fn owner(&self, user: &str, group: &str) -> Result<Option<(u32, u32)>, String> {
        let uid = match user {
            "root" => 0,
            "daemon" => 1,
            "_www" => 70,
            "nobody" => 4_294_967_294,
            other => self.dscl_id("Users", other, "UniqueID")?,
        };
        let gid = match group {
            "wheel" => 0,
            "daemon" => 1,
            "everyone" => 12,
            "staff" => 20,
            "_www" => 70,
            "admin" => 80,
            other => self.dscl_id("Groups", other, "PrimaryGroupID")?,
        };
        Ok(Some((uid, gid)))
    }

    fn dscl_id(&self, kind: &str, name: &str, key: &str) -> Result<u32, String> {
        let out = self
            .runner
            .tool("dscl", &[".", "-read", &format!("/{kind}/{name}"), key])?;
        if !out.success() {
            return Err(format!(
                "no {} {name} on this Mac ({})",
                kind.trim_end_matches('s').to_lowercase(),
                out.failure()
            ));
        }
        out.stdout_text()
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}:")))
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(|v| v as u32)
            .ok_or_else(|| format!("dscl printed no {key} for {name}"))
    }

    fn job_loaded(&self, label: &str) -> Result<bool, String> {
        let out = self
            .runner
            .tool("launchctl", &["print", &format!("system/{label}")])?;
        Ok(out.success())
    }

    fn launchctl(&self, args: &[&str], tolerated: &[i32]) -> Result<(), String> {
        let out = self.runner.tool("launchctl", args)?;
        match out.status {
            Some(0) => Ok(()),
            Some(code) if tolerated.contains(&code) => Ok(()),
            _ => Err(format!("launchctl {}: {}", args.join(" "), out.failure())),
        }
    }

    fn install_script(&mut self, name: &str, log: &mut Log) -> Result<Vec<String>, String> {
        let p = self.pkginfo(name)?.clone();
        let mut warnings = Vec::new();
        self.run_script(
            &p,
            "preinstall_script",
            p.preinstall_script.as_deref(),
            log,
            true,
        )?;
        self.run_script(
            &p,
            "postinstall_script",
            p.postinstall_script.as_deref(),
            log,
            true,
        )?;
        self.verify_installed(&p, &mut warnings);
        Ok(warnings)
    }

    fn install_package(&mut self, name: &str, log: &mut Log) -> Result<Vec<String>, String> {
        let p = self.pkginfo(name)?.clone();
        let mut warnings = Vec::new();
        let payload = self.payload(&p, log)?;
        self.run_script(
            &p,
            "preinstall_script",
            p.preinstall_script.as_deref(),
            log,
            true,
        )?;
        self.installer(&p, &payload, log)?;
        if let Err(e) = self.run_script(
            &p,
            "postinstall_script",
            p.postinstall_script.as_deref(),
            log,
            false,
        ) {
            warnings.push(e);
        }
        self.verify_installed(&p, &mut warnings);
        Ok(warnings)
    }

    /// `installer -verboseR -pkg PKG -target /`, its progress lines logged.
    fn installer(&self, p: &Pkginfo, pkg: &Path, log: &mut Log) -> Result<(), String> {
        let mut args: Vec<String> = vec![
            "-verboseR".into(),
            "-pkg".into(),
            pkg.display().to_string(),
            "-target".into(),
            "/".into(),
        ];
        if p.allow_untrusted == Some(true) {
            args.push("-allowUntrusted".into());
        }
        let out = self.runner.tool("installer", &args)?;
        for line in out
            .stdout_text()
            .lines()
            .filter(|l| l.starts_with("installer:") && !l.starts_with("installer:%"))
        {
            log.info(&format!("{}: {line}", p.name));
        }
        if out.success() {
            return Ok(());
        }
        for line in String::from_utf8_lossy(&out.stderr).lines() {
            log.error(&format!("{}: {line}", p.name));
        }
        Err(format!("installer failed: {}", out.failure()))
    }

    /// After an install, Munki's rules should say "installed"; if not, the next run would
    /// install again, so say why now.
    fn verify_installed(&mut self, p: &Pkginfo, warnings: &mut Vec<String>) {
        self.probe.refresh();
        let after = self.probe.state(p);
        if after.state == State::NotInstalled && p.on_demand != Some(true) {
            warnings.push(format!(
                "installed, but the check still says it is not ({}): the next run will try again; check the item's installs, receipts or installcheck_script",
                after.reason
            ));
        }
    }

    fn remove_munki(&mut self, name: &str, log: &mut Log) -> Result<Vec<String>, String> {
        let p = self.pkginfo(name)?.clone();
        let mut warnings = Vec::new();
        if p.uninstallable != Some(true) {
            return Err(
                "the item is not marked uninstallable: true, so it is not removed (as in Munki)"
                    .into(),
            );
        }
        self.run_script(
            &p,
            "preuninstall_script",
            p.preuninstall_script.as_deref(),
            log,
            true,
        )?;
        match p.uninstall_method.as_deref() {
            Some("removepackages") => self.remove_packages(name, &p, log)?,
            Some("uninstall_script") => {
                let script = p.uninstall_script.as_deref().ok_or(
                    "uninstall_method is uninstall_script, but there is no uninstall_script",
                )?;
                self.run_script(&p, "uninstall_script", Some(script), log, true)?;
            }
            Some("uninstall_package") => {
                let pkg = self.fetch(
                    &p,
                    (
                        "uninstaller_item_location",
                        p.uninstaller_item_location.as_deref(),
                    ),
                    ("uninstaller_item_hash", p.uninstaller_item_hash.as_deref()),
                    log,
                )?;
                self.installer(&p, &pkg, log)?;
            }
            Some("remove_copied_items") => {
                let items = p.items_to_copy.as_deref().unwrap_or_default();
                for removed in remove_copied_items(self.root, items)? {
                    log.info(&format!("{name}: removed {removed}"));
                }
            }
            Some(path) if path.starts_with('/') => {
                let program = self.root.path(path)?;
                let out = self
                    .runner
                    .run(&program, &[] as &[&str], &[], self.scripts.timeout)?;
                if !out.success() {
                    return Err(format!("uninstaller {path}: {}", out.failure()));
                }
            }
            Some(other) => {
                return Err(format!(
                    "uninstall_method {other:?} is not supported by mmc-agent"
                ));
            }
            None => {
                return Err("the item has no uninstall_method".into());
            }
        }
        if let Err(e) = self.run_script(
            &p,
            "postuninstall_script",
            p.postuninstall_script.as_deref(),
            log,
            false,
        ) {
            warnings.push(e);
        }
        self.probe.refresh();
        Ok(warnings)
    }

    /// Munki's `removepackages`: the files of every package only this item's receipts name,
    /// then the receipts themselves.
    fn remove_packages(&mut self, name: &str, p: &Pkginfo, log: &mut Log) -> Result<(), String> {
        let shared = self.shared_receipts(name);
        let installed = self.probe.receipts()?.clone();
        let ids: Vec<String> = p
            .receipts
            .iter()
            .flatten()
            .filter_map(|r| r.get("packageid").and_then(plist::Value::as_string))
            .filter(|id| !shared.contains(*id) && installed.contains_key(*id))
            .map(str::to_owned)
            .collect();
        // Like Munki, a path another installed package lists stays.
        let mut kept: BTreeSet<String> = BTreeSet::new();
        for other in installed.keys().filter(|k| !ids.contains(k)) {
            kept.extend(self.package_files(other)?);
        }
        for id in ids {
            let mut paths: Vec<String> = self
                .package_files(&id)?
                .into_iter()
                .filter(|p| !kept.contains(p))
                .collect();
            // Deepest first, so directories are empty by the time they come up.
            paths.sort_by(|a, b| b.cmp(a));
            let mut removed = 0;
            for mac_path in &paths {
                let Ok(path) = self.root.trusted_path(mac_path) else {
                    log.warn(&format!("{name}: not removing {mac_path}: not a plain path, or a folder on the way is a link someone other than root made"));
                    continue;
                };
                let Ok(meta) = fs::symlink_metadata(&path) else {
                    continue;
                };
                if meta.is_dir() {
                    // Emptied directories go too, except the system's own.
                    if !keep_directory(mac_path) && fs::remove_dir(&path).is_ok() {
                        removed += 1;
                    }
                } else if remove_durably(&path).is_ok() {
                    removed += 1;
                }
            }
            log.info(&format!("{name}: removed {removed} paths of package {id}"));
            let out = self.runner.tool("pkgutil", &["--forget", &id])?;
            if !out.success() {
                return Err(format!("pkgutil --forget {id}: {}", out.failure()));
            }
        }
        self.probe.refresh();
        Ok(())
    }

    /// The Mac paths a package's receipt lists (`pkgutil --files`).
    fn package_files(&self, id: &str) -> Result<Vec<String>, String> {
        if let Some(files) = self.package_files.borrow().get(id) {
            return Ok(files.clone());
        }
        // `--files` lists paths relative to the receipt's install-location.
        let info = self.runner.tool("pkgutil", &["--pkg-info-plist", id])?;
        if !info.success() {
            return Err(format!("pkgutil --pkg-info-plist {id}: {}", info.failure()));
        }
        let location = crate::facts::first_plist(&info.stdout)
            .and_then(|v| {
                v.as_dictionary()?
                    .get("install-location")?
                    .as_string()
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "/".to_owned());
        let out = self.runner.tool("pkgutil", &["--files", id])?;
        if !out.success() {
            return Err(format!("pkgutil --files {id}: {}", out.failure()));
        }
        let base = location.trim_matches('/');
        let files: Vec<String> = out
            .stdout_text()
            .lines()
            .map(|l| l.trim().trim_start_matches('/'))
            .filter(|l| !l.is_empty())
            .map(|l| match base {
                "" => format!("/{l}"),
                base => format!("/{base}/{l}"),
            })
            .collect();
        self.package_files
            .borrow_mut()
            .insert(id.to_owned(), files.clone());
        Ok(files)
    }

    /// Runs one of an item's scripts if it has it. A non-zero exit is an error.
    fn run_script(
        &self,
        p: &Pkginfo,
        role: &str,
        script: Option<&str>,
        log: &mut Log,
        fatal: bool,
    ) -> Result<(), String> {
        let Some(script) = script else {
            return Ok(());
        };
        let run = self.scripts.run(&p.name, role, script);
        for (stream, bytes) in [("out", &run.output.stdout), ("err", &run.output.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                log.info(&format!("{}: {role} {stream}: {line}", p.name));
            }
        }
        if run.status == 0 {
            return Ok(());
        }
        let message = format!("{role} failed ({})", run.summary());
        if fatal {
            Err(message)
        } else {
            log.warn(&format!("{}: {message}", p.name));
            Err(message)
        }
    }

    /// The package's payload in the cache, fetched if need be, with its SHA-256 checked before
    /// anything runs it.
    fn payload(&self, p: &Pkginfo, log: &mut Log) -> Result<PathBuf, String> {
        self.fetch(
            p,
            (
                "installer_item_location",
                p.installer_item_location.as_deref(),
            ),
            ("installer_item_hash", p.installer_item_hash.as_deref()),
            log,
        )
    }

    /// A payload named by a pkginfo's location and hash keys, from the cache or the package
    /// source, checked by SHA-256.
    fn fetch(
        &self,
        p: &Pkginfo,
        (location_key, location): (&str, Option<&str>),
        (hash_key, hash): (&str, Option<&str>),
        log: &mut Log,
    ) -> Result<PathBuf, String> {
        let location = location.ok_or_else(|| format!("the item has no {location_key}"))?;
        let wanted = hash
            .ok_or_else(|| {
                format!("the item has no {hash_key}; mmc-agent runs only payloads it can check")
            })?
            .to_ascii_lowercase();
        if wanted.len() != 64 || !wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{hash_key} {wanted:?} is not 64 hex digits"));
        }
        if location.split('/').any(|c| c == ".." || c.is_empty()) {
            return Err(format!(
                "{location_key} {location:?} is not a plain relative path"
            ));
        }
        let file_name = location.rsplit('/').next().unwrap_or(location);
        let cached = self.cache.join(format!("{}-{file_name}", &wanted[..16]));
        if sha256_file(&cached).as_deref() == Some(wanted.as_str()) {
            return Ok(cached);
        }
        let source = self.packages.as_deref().ok_or(
            "no package source: pass --packages DIR|URL or set \"packages\" in agent.json",
        )?;
        // Payloads can be gigabytes: they go to a temporary file in the cache, are hashed as a
        // stream, and only a file with the right hash takes the cached name.
        crate::platform::private_dir(&self.cache)
            .map_err(|e| format!("cannot create the cache: {e}"))?;
        clean_partial_downloads(&self.cache);
        let partial = self.cache.join(format!(".partial-{}", std::process::id()));
        let _ = fs::remove_file(&partial);
        if source.starts_with("https://") || source.starts_with("http://") {
            let url = format!(
                "{}/{}",
                source.trim_end_matches('/'),
                percent_encode(location)
            );
            let mut args: Vec<String> = [
                "--fail",
                "--silent",
                "--show-error",
                "--location",
                "--proto",
                "=https,http",
            ]
            .map(String::from)
            .to_vec();
            if source.starts_with("https://") {
                // A redirect may not downgrade an https source.
                args.extend(["--proto-redir".into(), "=https".into()]);
            }
            if let Some(kib) = p
                .installer_item_size
                .filter(|_| hash_key == "installer_item_hash")
            {
                // Stop a download that is far larger than announced.
                let cap = kib
                    .saturating_mul(1024)
                    .saturating_mul(2)
                    .saturating_add(1 << 20);
                args.extend(["--max-filesize".into(), cap.to_string()]);
            }
            args.extend([
                "--output".into(),
                partial.display().to_string(),
                url.clone(),
            ]);
            let out = self.runner.tool("curl", &args)?;
            if !out.success() {
                let _ = fs::remove_file(&partial);
                return Err(format!("download of {url} failed: {}", out.failure()));
            }
            log.info(&format!("{}: downloaded {url}", p.name));
        } else {
            let dir = source.strip_prefix("file://").unwrap_or(source);
            let from = Path::new(dir).join(location);
            let copied = fs::File::open(&from).and_then(|mut src| {
                let mut dst = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&partial)?;
                std::io::copy(&mut src, &mut dst)?;
                dst.sync_all()
            });
            if let Err(e) = copied {
                let _ = fs::remove_file(&partial);
                return Err(format!("payload {}: {e}", from.display()));
            }
        }
        let got = sha256_file(&partial).unwrap_or_default();
        if got != wanted {
            let _ = fs::remove_file(&partial);
            return Err(format!(
                "payload {location} has SHA-256 {got}, but the pkginfo says {wanted}: refusing to install it"
            ));
        }
        crate::failpoint::hit();
        fs::rename(&partial, &cached)
            .and_then(|()| crate::platform::sync_dir(&self.cache))
            .map_err(|e| format!("cannot cache {}: {e}", cached.display()))?;
        Ok(cached)
    }
}

/// Removes what killed runs left of downloads and copies.
fn clean_partial_downloads(cache: &Path) {
    let Ok(entries) = fs::read_dir(cache) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(".partial-") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Munki's `remove_copied_items`: each `items_to_copy` entry's copy,
/// `destination_path/destination_item` (default: the source item's name), is removed, whole if
/// it is a bundle. Returns the Mac paths removed; missing ones are skipped.
fn remove_copied_items(root: &Root, items: &[plist::Dictionary]) -> Result<Vec<String>, String> {
    let mut removed = Vec::new();
    for entry in items {
        let text = |key: &str| entry.get(key).and_then(plist::Value::as_string);
        let destination =
            text("destination_path").ok_or("an items_to_copy entry has no destination_path")?;
        let item = text("destination_item")
            .or_else(|| text("source_item").map(|s| s.rsplit('/').next().unwrap_or(s)))
            .filter(|i| !i.is_empty() && *i != "." && *i != ".." && !i.contains('/'))
            .ok_or("an items_to_copy entry has no usable source_item or destination_item")?;
        let mac_path = format!("{}/{item}", destination.trim_end_matches('/'));
        if system_location(&mac_path) {
            return Err(format!("refusing to remove {mac_path}, a system location"));
        }
        let path = root.trusted_path(&mac_path)?;
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        }
        .map_err(|e| format!("cannot remove {mac_path}: {e}"))?;
        removed.push(mac_path);
    }
    Ok(removed)
}

/// Where a copied item can never be: `/` itself, a top-level folder, anything in `/System`,
/// or a folder directly inside `/Library`, `/usr`, `/private`, `/etc` or `/var`.
fn system_location(mac_path: &str) -> bool {
    let parts: Vec<&str> = mac_path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [] | [_] => true,
        ["System", ..] => true,
        [top, _] => [
            "Library", "usr", "private", "etc", "var", "bin", "sbin", "opt",
        ]
        .contains(top),
        _ => false,
    }
}

/// Paths `removepackages` never removes, even when empty.
fn keep_directory(mac_path: &str) -> bool {
    const SHARED: [&str; 8] = [
        "/Applications/Utilities",
        "/usr/local/bin",
        "/usr/local/etc",
        "/usr/local/include",
        "/usr/local/lib",
        "/usr/local/libexec",
        "/usr/local/sbin",
        "/usr/local/share",
    ];
    system_location(mac_path) || SHARED.contains(&mac_path.trim_end_matches('/'))
}

fn file_need(
    path: &Path,
    mac_path: &str,
    content: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Need {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Need::Change(format!("{mac_path} is missing"));
    };
    if !meta.is_file() {
        return Need::Change(format!("{mac_path} is not a regular file"));
    }
    // Read at most what is wanted: a larger file differs anyway.
    let same_content = crate::platform::read_bounded(path, content.len() as u64, false)
        .is_ok_and(|bytes| bytes == content);
    if !same_content {
        return Need::Change(format!("{mac_path} differs"));
    }
    let have = meta.permissions().mode() & 0o7777;
    if have != mode {
        return Need::Change(format!("{mac_path} has mode {have:04o}, wants {mode:04o}"));
    }
    if let (Some((uid, gid)), true) = (owner, is_root())
        && (meta.uid(), meta.gid()) != (uid, gid)
    {
        return Need::Change(format!(
            "{mac_path} is owned by {}:{}, wants {uid}:{gid}",
            meta.uid(),
            meta.gid()
        ));
    }
    Need::Nothing("content, mode and owner as wanted".into())
}

/// A plist file's dictionary and whether it was binary.
fn read_dict(path: &Path) -> Option<(plist::Dictionary, bool)> {
    let bytes =
        crate::platform::read_bounded(path, crate::platform::MAX_PLIST_BYTES, false).ok()?;
    let binary = bytes.starts_with(b"bplist00");
    match crate::platform::parse_plist(&bytes) {
        Ok(plist::Value::Dictionary(d)) => Some((d, binary)),
        _ => None,
    }
}

/// Sets (or removes) the managed keys in one preferences file, keeping every other key and the
/// file's format, then reads it back.
fn set_preferences(
    path: &Path,
    values: &plist::Dictionary,
    op: Op,
    owner: Option<(u32, u32)>,
    new_mode: u32,
) -> Result<(), String> {
    let existed = path.exists();
    let (mut dict, binary) = match read_dict(path) {
        Some(found) => found,
        None if !existed => (plist::Dictionary::new(), true),
        None => {
            return Err(format!(
                "{} exists but is not a readable plist dictionary; not replacing it",
                path.display()
            ));
        }
    };
    for (key, value) in values {
        match op {
            Op::Install => {
                dict.insert(key.clone(), value.clone());
            }
            Op::Remove => {
                dict.remove(key);
            }
        }
    }
    if op == Op::Remove && !existed {
        return Ok(());
    }
    let mut bytes = Vec::new();
    let value = plist::Value::Dictionary(dict.clone());
    if binary {
        value.to_writer_binary(&mut bytes)
    } else {
        value.to_writer_xml(&mut bytes)
    }
    .map_err(|e| format!("cannot encode {}: {e}", path.display()))?;
    // An existing file keeps its mode and owner (an admin may have made it private).
    let spec = match fs::symlink_metadata(path) {
        Ok(meta) => FileSpec {
            mode: meta.permissions().mode() & 0o7777,
            owner: Some((meta.uid(), meta.gid())),
        },
        Err(_) => FileSpec {
            mode: new_mode,
            owner,
        },
    };
    write_atomic(path, &bytes, spec)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let (back, _) =
        read_dict(path).ok_or_else(|| format!("{} does not read back", path.display()))?;
    let ok = values.iter().all(|(k, v)| match op {
        Op::Install => back.get(k) == Some(v),
        Op::Remove => !back.contains_key(k),
    });
    if ok {
        Ok(())
    } else {
        Err(format!("{} does not read back as written", path.display()))
    }
}

/// The hidden command the agent runs as a user to change that user's preferences:
/// `mmc-agent internal-set-preferences PATH install|remove`, the managed keys as a plist on
/// stdin. Missing folders above PATH are created as the user's, mode 0700.
pub const USER_PREFERENCES_COMMAND: &str = "internal-set-preferences";

pub(crate) fn user_preferences_command(
    mut parser: lexopt::Parser,
) -> Result<std::process::ExitCode, String> {
    use std::os::unix::fs::DirBuilderExt;
    let mut args = Vec::new();
    let mut user = None;
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            lexopt::Arg::Long("as") => {
                let text = parser.value().map_err(|e| e.to_string())?;
                let text = text.to_string_lossy();
                let (uid, gid) = text
                    .split_once(':')
                    .and_then(|(u, g)| Some((u.parse::<u32>().ok()?, g.parse::<u32>().ok()?)))
                    .ok_or("--as takes UID:GID")?;
                user = Some((uid, gid));
            }
            lexopt::Arg::Value(v) => args.push(v),
            other => return Err(other.unexpected().to_string()),
        }
    }
    // First of all, become the user whose files these are.
    if let Some((uid, gid)) = user {
        crate::platform::become_user(uid, gid)?;
    }
    let [path, op] = args.as_slice() else {
        return Err(
            "usage: mmc-agent internal-set-preferences PATH install|remove [--as UID:GID]".into(),
        );
    };
    let path = Path::new(path);
    let op = match op.to_str() {
        Some("install") => Op::Install,
        Some("remove") => Op::Remove,
        _ => return Err("the operation is install or remove".into()),
    };
    let mut input = Vec::new();
    std::io::stdin()
        .take(crate::platform::MAX_PLIST_BYTES)
        .read_to_end(&mut input)
        .map_err(|e| format!("cannot read the managed keys: {e}"))?;
    let values = match crate::platform::parse_plist(&input)? {
        plist::Value::Dictionary(d) => d,
        _ => return Err("the managed keys are not a dictionary".into()),
    };
    if let Some(dir) = path.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    set_preferences(path, &values, op, None, 0o600)?;
    Ok(std::process::ExitCode::SUCCESS)
}

fn sha256_file(path: &Path) -> Option<String> {
    let mut file = fs::File::open(path).ok()?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buffer).ok()?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Some(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    crate::installed::hex(bytes)
}

/// A repository-relative path in a URL: every byte outside the unreserved set and `/` escaped.
fn percent_encode(path: &str) -> String {
    let mut out = String::new();
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_escape_spaces_and_keep_slashes() {
        assert_eq!(
            percent_encode("apps/Visual Studio Code-1.0.pkg"),
            "apps/Visual%20Studio%20Code-1.0.pkg"
        );
    }

    #[test]
    fn remove_copied_items_removes_each_copy_whole() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        fs::create_dir_all(dir.path().join("Applications/Foo.app/Contents")).unwrap();
        fs::write(
            dir.path().join("Applications/Foo.app/Contents/Info.plist"),
            "x",
        )
        .unwrap();
        fs::create_dir_all(dir.path().join("usr/local/share")).unwrap();
        fs::write(dir.path().join("usr/local/share/foo.conf"), "x").unwrap();
        let entry = |pairs: &[(&str, &str)]| -> plist::Dictionary {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), plist::Value::from(*v)))
                .collect()
        };
        let items = vec![
            entry(&[
                ("source_item", "Foo.app"),
                ("destination_path", "/Applications"),
            ]),
            entry(&[
                ("source_item", "conf/foo-default.conf"),
                ("destination_path", "/usr/local/share/"),
                ("destination_item", "foo.conf"),
            ]),
            entry(&[
                ("source_item", "Gone.app"),
                ("destination_path", "/Applications"),
            ]),
        ];
        let removed = remove_copied_items(&root, &items).unwrap();
        assert_eq!(
            removed,
            ["/Applications/Foo.app", "/usr/local/share/foo.conf"]
        );
        assert!(!dir.path().join("Applications/Foo.app").exists());
        assert!(dir.path().join("Applications").exists());
        let bad = vec![entry(&[
            ("source_item", ".."),
            ("destination_path", "/Applications"),
        ])];
        assert!(remove_copied_items(&root, &bad).is_err());
        let top = vec![entry(&[
            ("source_item", "Applications"),
            ("destination_path", "/"),
        ])];
        assert!(remove_copied_items(&root, &top).is_err());
    }

    #[test]
    fn removepackages_keeps_system_directories() {
        assert!(keep_directory("/Applications"));
        assert!(keep_directory("/usr/local"));
        assert!(keep_directory("/usr/local/bin"));
        assert!(keep_directory("/Library/LaunchDaemons"));
        assert!(keep_directory("/System/Library/Extensions"));
        assert!(!keep_directory("/Applications/Foo.app"));
        assert!(!keep_directory("/Applications/Foo.app/Contents"));
        assert!(!keep_directory("/usr/local/foo"));
    }

    #[test]
    fn preferences_keep_other_keys_and_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("com.example.test.plist");
        let mut existing = plist::Dictionary::new();
        existing.insert("Theirs".into(), plist::Value::Integer(1.into()));
        existing.insert("Managed".into(), plist::Value::Boolean(false));
        plist::Value::Dictionary(existing)
            .to_file_xml(&path)
            .unwrap();
        let mut values = plist::Dictionary::new();
        values.insert("Managed".into(), plist::Value::Boolean(true));
        set_preferences(&path, &values, Op::Install, None, 0o644).unwrap();
        let (back, binary) = read_dict(&path).unwrap();
        assert!(!binary, "an XML file stays XML");
        assert_eq!(back.get("Theirs"), Some(&plist::Value::Integer(1.into())));
        assert_eq!(back.get("Managed"), Some(&plist::Value::Boolean(true)));
        set_preferences(&path, &values, Op::Remove, None, 0o644).unwrap();
        let (back, _) = read_dict(&path).unwrap();
        assert!(!back.contains_key("Managed"));
        assert!(back.contains_key("Theirs"));
    }

    #[test]
    fn an_unreadable_preferences_file_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.plist");
        fs::write(&path, "not a plist").unwrap();
        let err = set_preferences(&path, &plist::Dictionary::new(), Op::Install, None, 0o644)
            .unwrap_err();
        assert!(err.contains("not a readable plist"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"not a plist");
    }

    #[test]
    fn file_needs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        assert!(matches!(
            file_need(&path, "/f", b"x", 0o644, None),
            Need::Change(_)
        ));
        fs::write(&path, "x").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            file_need(&path, "/f", b"x", 0o644, None),
            Need::Change("/f has mode 0600, wants 0644".into())
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            file_need(&path, "/f", b"x", 0o644, None),
            Need::Nothing(_)
        ));
        assert_eq!(
            file_need(&path, "/f", b"y", 0o644, None),
            Need::Change("/f differs".into())
        );
    }
}
