//! Configuration profiles: which of the bundle's are installed, out of date or missing, and
//! what the agent can do about it, which depends on macOS.
//!
//! - **macOS 11 and later**: the `profiles` tool cannot install a configuration profile; an MDM
//!   must deliver it (or a user, in System Settings). The agent never tries: a missing or
//!   outdated profile is reported `needs_mdm`, with the path of its `.mobileconfig`, and is not a
//!   failure (a run that failed for it would fail forever).
//! - **macOS 10.15 and earlier**: `run` installs missing and outdated profiles with
//!   `profiles -I -F FILE`, and removes with `profiles -R -p ID` the profiles it installed earlier
//!   that the bundle no longer lists. `state.json` remembers which profiles the agent installed:
//!   only those are ever removed by a run, and a profile of the bundle that something else (an
//!   MDM, a user) installed is never replaced.
//!
//! Installed profiles come from `profiles show -output stdout-xml`, or where that form does not
//! exist (before macOS 10.13) `profiles -C -o stdout-xml`: `_computerlevel` holds the System
//! profiles, a key per user short name that user's profiles. A profile is `outdated` when the
//! [payload hash](mmc_config::payload) of what is listed differs from the bundle's
//! `payload_sha256`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jiff::Timestamp;
use mmc_config::{Config, ProfileRef};
use serde::Serialize;

use crate::log::Log;
use crate::platform::{Root, Runner, printable};
use crate::settings::Settings;
use crate::state::{Dirs, ProfileState, STATE_DIR, State};

const HELP: &str = "\
List the configuration profiles of the applied bundle and of this Mac, and (macOS 10.15 and
earlier) install or remove mmc's own profiles by hand.

Usage: mmc-agent profiles list [--format human|json] [OPTIONS]
       sudo mmc-agent profiles install [ID…] [OPTIONS]
       sudo mmc-agent profiles remove ID… [OPTIONS]

Commands:
  list       Every profile of the applied bundle and every profile installed on this Mac,
             with its status: installed, missing, outdated (installed, but its payloads
             differ from the bundle's), dropped (mmc-agent installed it, the bundle no longer
             lists it) or other (not mmc's: never touched). NEEDS MDM marks a missing or
             outdated profile this Mac cannot install itself.
  install    Install the named profiles of the applied bundle (default: all of them) with
             `profiles -I -F`, replacing an installed copy
  remove     Remove the named profiles with `profiles -R -p`: profiles of the applied bundle,
             or profiles mmc-agent installed earlier; any other profile is refused

Options:
  --format FORMAT   list: human (default) or json
  --root DIR        Treat DIR as the Mac's / (a sandbox) [default: /]
  --commands DIR    Run macOS tools from DIR when it has one of the same name (agent/fakes/)
  -h, --help        Print this help

The applied bundle is the one the last `mmc-agent run` applied (state.json, bundles/).

macOS 11 and later cannot install configuration profiles from the command line: an MDM must
deliver them, or a user in System Settings. There, install refuses, and so does remove for a
profile mmc-agent did not install itself; `mmc build` writes every profile to
build/mdm/profiles/ for the MDM. A run reports such profiles as needing an MDM and does not
fail for them.

Exit status:
  0  listed; every named profile was installed or removed
  1  the profiles tool failed for some profile (the others were done)
  2  could not run: bad usage, no applied bundle, a profile that is not mmc's, macOS 11+
     (needs MDM), or another run holds the lock

Examples:
  mmc-agent profiles list
  sudo mmc-agent profiles install com.example.wifi
  sudo mmc-agent profiles remove com.example.wifi
";

/// One profile's line in a run's report.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ProfileReport {
    pub identifier: String,
    /// `installed`, `missing`, `outdated` (installed, payloads differ from the bundle's),
    /// `unknown` (profiles could not be listed), or `dropped` (mmc-agent installed it earlier and
    /// the bundle no longer lists it): the Mac's state before the run acted.
    pub status: &'static str,
    /// Missing or outdated, and this Mac cannot install it itself: an MDM (or a user in System
    /// Settings) must deliver it. Not a failure.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub needs_mdm: bool,
    /// `install`, `reinstall` or `remove`: what the run did or (`--check`) would do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
    /// `changed`, `failed` or (`--check`) `planned`, when there is an action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'static str>,
    /// The `.mobileconfig` on this Mac (in the applied bundle's folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Why there is no action, when it is not obvious.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ProfileReport {
    fn new(identifier: &str, status: &'static str) -> ProfileReport {
        ProfileReport {
            identifier: identifier.to_owned(),
            status,
            needs_mdm: false,
            action: None,
            result: None,
            file: None,
            reason: None,
            error: None,
        }
    }

    pub(crate) fn failed(&self) -> bool {
        self.result == Some("failed")
    }
}

/// The installed profiles, as `profiles` lists them.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// System (computer-level) profiles by identifier.
    pub system: BTreeMap<String, plist::Dictionary>,
    /// User profiles by identifier (the first user listing one).
    pub user: BTreeMap<String, plist::Dictionary>,
}

/// Reads the installed profiles: `profiles show -output stdout-xml`, else (before macOS 10.13)
/// `profiles -C -o stdout-xml`.
pub(crate) fn list(runner: &Runner) -> Result<Listing, String> {
    let mut why = String::new();
    for args in [
        &["show", "-output", "stdout-xml"][..],
        &["-C", "-o", "stdout-xml"][..],
    ] {
        match runner.tool("profiles", args) {
            Ok(out) if out.success() => match crate::facts::first_plist(&out.stdout) {
                Some(value) => return Ok(parse_listing(&value)),
                None => why = format!("`profiles {}` printed no property list", args.join(" ")),
            },
            Ok(out) => why = format!("`profiles {}`: {}", args.join(" "), out.failure()),
            Err(e) => why = e,
        }
    }
    Err(why)
}

fn parse_listing(value: &plist::Value) -> Listing {
    let mut listing = Listing::default();
    let Some(top) = value.as_dictionary() else {
        return listing;
    };
    for (owner, list) in top {
        let Some(list) = list.as_array() else {
            continue;
        };
        for entry in list.iter().filter_map(plist::Value::as_dictionary) {
            let Some(id) = entry
                .get("ProfileIdentifier")
                .and_then(plist::Value::as_string)
            else {
                continue;
            };
            let into = if owner == "_computerlevel" {
                &mut listing.system
            } else {
                &mut listing.user
            };
            into.entry(id.to_owned()).or_insert_with(|| entry.clone());
        }
    }
    listing
}

/// `installed`, `missing` or `outdated`: `profile` against the listing.
fn status(listing: &Listing, id: &str, profile: &ProfileRef) -> &'static str {
    let listed = if profile.scope == "User" {
        listing.user.get(id)
    } else {
        listing.system.get(id)
    };
    match listed {
        None => "missing",
        Some(entry) => match &profile.payload_sha256 {
            Some(want) if mmc_config::payload::of_installed(entry).as_ref() != Some(want) => {
                "outdated"
            }
            _ => "installed",
        },
    }
}

/// [`status`], and `outdated` too for a profile the agent installed from another file (a change
/// outside the payloads: a name, a description, the removal flag).
fn status_of(listing: &Listing, state: &State, id: &str, profile: &ProfileRef) -> &'static str {
    match status(listing, id, profile) {
        "installed"
            if state
                .profiles
                .get(id)
                .is_some_and(|s| s.sha256 != profile.sha256) =>
        {
            "outdated"
        }
        other => other,
    }
}

/// The macOS version `sw_vers` reports, as (major, minor).
pub(crate) fn os_version(runner: &Runner) -> Option<(u64, u64)> {
    let out = runner.tool("sw_vers", &["-productVersion"]).ok()?;
    if !out.success() {
        return None;
    }
    let text = out.stdout_text();
    let mut parts = text.trim().split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

/// Whether `profiles -I` installs on this macOS: 10.15 and earlier. An unknown version counts as
/// one that does not (the agent then only reports).
fn can_install(version: Option<(u64, u64)>) -> bool {
    matches!(version, Some((major, _)) if major <= 10)
}

fn version_text(version: Option<(u64, u64)>) -> String {
    match version {
        Some((major, minor)) => format!("macOS {major}.{minor}"),
        None => "this macOS (sw_vers did not say which)".to_owned(),
    }
}

/// What a run needs to act on profiles.
pub(crate) struct Cx<'a> {
    pub runner: &'a Runner,
    /// Where the bundle's files are now (a scratch folder with `--check`).
    pub bundle_dir: &'a Path,
    /// The bundle's folder on the Mac once applied, for the report.
    pub mac_bundle_dir: String,
    pub check: bool,
    /// Report only, install and remove nothing: a run limited to some items (`--only`,
    /// `interactive`) leaves profiles to the next full run.
    pub report_only: bool,
}

/// Reports every profile of the bundle and, on macOS 10.15 and earlier, installs the missing
/// and outdated ones and removes those the agent installed that the bundle dropped. Records in
/// `state` what it installed and removed. Runs no tool when neither the bundle nor the state
/// has a profile.
pub(crate) fn converge(
    cx: &Cx,
    config: &Config,
    state: &mut State,
    log: &mut Log,
) -> Vec<ProfileReport> {
    if config.profiles.is_empty() && state.profiles.is_empty() {
        return Vec::new();
    }
    let listing = match list(cx.runner) {
        Ok(listing) => listing,
        Err(e) => {
            log.warn(&format!(
                "profiles: cannot list the installed profiles: {e}"
            ));
            return config
                .profiles
                .keys()
                .map(|id| ProfileReport {
                    error: Some(printable(&e)),
                    ..ProfileReport::new(id, "unknown")
                })
                .collect();
        }
    };
    let version = os_version(cx.runner);
    let installable = can_install(version);
    let mut reports = Vec::new();
    for (id, profile) in &config.profiles {
        let status = status_of(&listing, state, id, profile);
        let mut report = ProfileReport::new(id, status);
        report.file = Some(format!("{}/{}", cx.mac_bundle_dir, profile.file));
        if status != "installed" {
            let ours = state.profiles.contains_key(id);
            if profile.scope == "User" {
                report.needs_mdm = true;
                report.reason = Some(
                    "a User profile: mmc-agent installs System profiles only; an MDM must deliver it"
                        .to_owned(),
                );
            } else if !installable {
                report.needs_mdm = true;
                report.reason = Some(format!(
                    "{} cannot install configuration profiles from the command line: an MDM must deliver it (or a user, in System Settings)",
                    version_text(version)
                ));
            } else if status == "outdated" && !ours {
                report.needs_mdm = true;
                report.reason = Some(
                    "installed by something other than mmc-agent (an MDM?), which must update it; mmc-agent leaves it alone"
                        .to_owned(),
                );
            } else if cx.report_only {
                report.reason = Some(
                    "left for the next full run: this run was limited to chosen items".to_owned(),
                );
            } else {
                report.action = Some(if status == "missing" {
                    "install"
                } else {
                    "reinstall"
                });
                if cx.check {
                    report.result = Some("planned");
                } else {
                    match install(cx.runner, cx.bundle_dir, profile) {
                        Ok(()) => {
                            log.info(&format!("profile {id}: installed ({status} before)"));
                            report.result = Some("changed");
                            state.profiles.insert(id.clone(), installed_state(profile));
                        }
                        Err(e) => {
                            log.error(&format!("profile {id}: {e}"));
                            report.result = Some("failed");
                            report.error = Some(printable(&e));
                        }
                    }
                }
            }
            if report.needs_mdm {
                log.warn(&format!(
                    "profile {id}: {status}; needs an MDM: {}",
                    report.reason.as_deref().unwrap_or_default()
                ));
            }
        }
        reports.push(report);
    }
    if cx.report_only {
        return reports;
    }
    // Profiles the agent installed that the bundle no longer lists.
    let dropped: Vec<String> = state
        .profiles
        .keys()
        .filter(|id| !config.profiles.contains_key(*id))
        .cloned()
        .collect();
    for id in dropped {
        if !listing.system.contains_key(&id) {
            // Gone already (removed by hand): forget it.
            if !cx.check {
                state.profiles.remove(&id);
            }
            continue;
        }
        let mut report = ProfileReport::new(&id, "dropped");
        report.action = Some("remove");
        if cx.check {
            report.result = Some("planned");
        } else {
            match remove(cx.runner, &id) {
                Ok(()) => {
                    log.info(&format!(
                        "profile {id}: removed (the bundle no longer lists it)"
                    ));
                    report.result = Some("changed");
                    state.profiles.remove(&id);
                }
                Err(e) => {
                    log.error(&format!("profile {id}: {e}"));
                    report.result = Some("failed");
                    report.error = Some(printable(&e));
                }
            }
        }
        reports.push(report);
    }
    reports
}

fn installed_state(profile: &ProfileRef) -> ProfileState {
    ProfileState {
        sha256: profile.sha256.clone(),
        payload_sha256: profile.payload_sha256.clone(),
        at: Timestamp::from_second(Timestamp::now().as_second())
            .unwrap_or_else(|_| Timestamp::now())
            .to_string(),
    }
}

/// `profiles -I -F FILE` of the bundle's copy, after checking it is the file the bundle names.
fn install(runner: &Runner, bundle_dir: &Path, profile: &ProfileRef) -> Result<(), String> {
    let path = bundle_dir.join(&profile.file);
    let bytes = fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if mmc_bundle::sha256_hex(&bytes) != profile.sha256 {
        return Err(format!(
            "{} does not have the SHA-256 the bundle names; not installed",
            path.display()
        ));
    }
    let path = path.to_string_lossy().into_owned();
    let out = runner.tool("profiles", &["-I", "-F", path.as_str()])?;
    if out.success() {
        Ok(())
    } else {
        Err(format!("profiles -I -F: {}", out.failure()))
    }
}

fn remove(runner: &Runner, id: &str) -> Result<(), String> {
    let out = runner.tool("profiles", &["-R", "-p", id])?;
    if out.success() {
        Ok(())
    } else {
        Err(format!("profiles -R -p {id}: {}", out.failure()))
    }
}

/// The profile lines of a run's human report: those that are not simply installed.
pub(crate) fn human(reports: &[ProfileReport]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let width = reports
        .iter()
        .map(|r| r.identifier.len())
        .max()
        .unwrap_or(0);
    for r in reports {
        let detail = if let Some(e) = &r.error {
            e.clone()
        } else if r.needs_mdm {
            format!(
                "needs MDM: deliver {}",
                r.file.as_deref().unwrap_or("its .mobileconfig")
            )
        } else if let (Some(action), Some(result)) = (r.action, r.result) {
            format!("{action}: {result}")
        } else if r.status == "installed" {
            continue;
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  profile   {:<9} {:<width$}  {detail}",
            r.status, r.identifier
        );
    }
    out
}

// --- mmc-agent profiles ------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verb {
    List,
    Install,
    Remove,
}

pub(crate) fn run(mut parser: lexopt::Parser) -> Result<ExitCode, String> {
    use lexopt::prelude::*;
    let usage = |e: lexopt::Error| format!("{e} (try `mmc-agent profiles --help`)");
    let verb = match parser.next().map_err(usage)? {
        None | Some(Short('h') | Long("help")) => {
            print!("{HELP}");
            return Ok(ExitCode::SUCCESS);
        }
        Some(Value(v)) if v == "list" => Verb::List,
        Some(Value(v)) if v == "install" => Verb::Install,
        Some(Value(v)) if v == "remove" => Verb::Remove,
        Some(Value(v)) => {
            return Err(format!(
                "unknown profiles command {:?}: use list, install or remove (try `mmc-agent profiles --help`)",
                v.to_string_lossy()
            ));
        }
        Some(other) => return Err(usage(other.unexpected())),
    };
    let mut ids: Vec<String> = Vec::new();
    let mut json = false;
    let mut root_dir = PathBuf::from("/");
    let mut commands: Option<PathBuf> = None;
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Short('h') | Long("help") => {
                print!("{HELP}");
                return Ok(ExitCode::SUCCESS);
            }
            Long("root") => root_dir = PathBuf::from(parser.value().map_err(usage)?),
            Long("commands") => commands = Some(PathBuf::from(parser.value().map_err(usage)?)),
            Long("format") if verb == Verb::List => {
                json = match parser.value().map_err(usage)?.to_str() {
                    Some("human") => false,
                    Some("json") => true,
                    other => {
                        return Err(format!(
                            "--format {:?} is not a format; use human or json",
                            other.unwrap_or("?")
                        ));
                    }
                }
            }
            Value(id) if verb != Verb::List => ids.push(
                id.into_string()
                    .map_err(|v| format!("{v:?} is not valid UTF-8"))?,
            ),
            other => return Err(usage(other.unexpected())),
        }
    }
    if verb == Verb::Remove && ids.is_empty() {
        return Err("profiles remove needs the identifiers of the profiles to remove (try `mmc-agent profiles --help`)".into());
    }
    if let Some(dir) = &commands
        && !dir.is_dir()
    {
        return Err(format!("--commands {}: not a directory", dir.display()));
    }
    let root = Root::new(&root_dir)?;
    if verb != Verb::List && root.dir() == Path::new("/") && !crate::platform::is_root() {
        return Err(
            "profiles install and remove change the Mac and need root: use sudo".to_owned(),
        );
    }
    let dirs = Dirs::new(&root);
    let settings = Settings::load(&dirs)?;
    let mut runner = Runner::new(&root, &settings.tools, commands.as_deref(), None);
    if let Some(secs) = settings.tool_timeout_secs {
        runner.timeout = std::time::Duration::from_secs(secs);
    }
    match verb {
        Verb::List => {
            let state = State::load(&dirs)?;
            let applied = Applied::load(&dirs, &state)?;
            list_command(&runner, &applied, &state, json)
        }
        Verb::Install | Verb::Remove => {
            let _lock = crate::run::lock(&dirs, false)?;
            let mut state = State::load(&dirs)?;
            let applied = Applied::load(&dirs, &state)?;
            let mut log = Log::open(
                &dirs,
                settings
                    .log_max_bytes
                    .unwrap_or(crate::log::DEFAULT_MAX_BYTES),
                settings.log_keep.unwrap_or(crate::log::DEFAULT_KEEP),
            );
            let code = if verb == Verb::Install {
                install_command(&runner, &applied, &mut state, &ids, &mut log)?
            } else {
                remove_command(&runner, &applied, &mut state, &ids, &mut log)?
            };
            state.save(&dirs)?;
            Ok(code)
        }
    }
}

/// The bundle the last run applied.
struct Applied {
    config: Config,
    /// Its folder, on the host.
    dir: PathBuf,
    /// Its folder, as a Mac path.
    mac_dir: String,
    label: String,
}

impl Applied {
    fn load(dirs: &Dirs, state: &State) -> Result<Applied, String> {
        let Some(last) = &state.last_applied else {
            return Err(
                "no bundle has been applied on this Mac yet: run `mmc-agent run` first".to_owned(),
            );
        };
        let dir = dirs.bundles().join(&last.dir);
        let path = dir.join("config.json");
        let bytes = fs::read(&path)
            .map_err(|e| format!("cannot read the applied bundle's {}: {e}", path.display()))?;
        Ok(Applied {
            config: Config::from_json(&bytes)?,
            mac_dir: format!("{STATE_DIR}/bundles/{}", last.dir),
            dir,
            label: format!("{} version {}", last.bundle, last.version),
        })
    }
}

#[derive(Serialize)]
struct ListRow {
    identifier: String,
    /// `installed`, `missing`, `outdated`, `dropped` or `other`.
    status: &'static str,
    /// In the applied bundle.
    desired: bool,
    /// Installed by mmc-agent (`profiles -I`), so a run may remove it.
    installed_by_mmc: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    needs_mdm: bool,
    /// `System` or `User`.
    scope: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
}

#[derive(Serialize)]
struct ListJson<'a> {
    bundle: &'a str,
    macos: Option<String>,
    /// Whether `profiles -I` installs on this macOS (10.15 and earlier).
    can_install: bool,
    profiles: Vec<ListRow>,
}

fn list_command(
    runner: &Runner,
    applied: &Applied,
    state: &State,
    json: bool,
) -> Result<ExitCode, String> {
    let listing = list(runner).map_err(|e| format!("cannot list the installed profiles: {e}"))?;
    let version = os_version(runner);
    let installable = can_install(version);
    let mut rows = Vec::new();
    for (id, profile) in &applied.config.profiles {
        let status = status_of(&listing, state, id, profile);
        rows.push(ListRow {
            identifier: id.clone(),
            status,
            desired: true,
            installed_by_mmc: state.profiles.contains_key(id),
            needs_mdm: status != "installed" && (!installable || profile.scope == "User"),
            scope: if profile.scope == "User" {
                "User"
            } else {
                "System"
            },
            file: Some(format!("{}/{}", applied.mac_dir, profile.file)),
        });
    }
    let desired: BTreeSet<&String> = applied.config.profiles.keys().collect();
    for (scope, map) in [("System", &listing.system), ("User", &listing.user)] {
        for id in map.keys().filter(|id| !desired.contains(id)) {
            let ours = scope == "System" && state.profiles.contains_key(id);
            rows.push(ListRow {
                identifier: id.clone(),
                status: if ours { "dropped" } else { "other" },
                desired: false,
                installed_by_mmc: ours,
                needs_mdm: false,
                scope,
                file: None,
            });
        }
    }
    if json {
        let doc = ListJson {
            bundle: &applied.label,
            macos: version.map(|(a, b)| format!("{a}.{b}")),
            can_install: installable,
            profiles: rows,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("the listing serializes")
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Bundle {}; {} ({})",
        applied.label,
        version_text(version),
        if installable {
            "mmc-agent installs profiles"
        } else {
            "profiles need an MDM"
        }
    );
    let width = rows
        .iter()
        .map(|r| r.identifier.len())
        .max()
        .unwrap_or(0)
        .max("IDENTIFIER".len());
    println!(
        "{:<width$}  {:<9}  {:<6}  NOTE",
        "IDENTIFIER", "STATUS", "SCOPE"
    );
    for r in &rows {
        let note = if r.needs_mdm {
            format!(
                "NEEDS MDM: deliver {}",
                r.file.as_deref().unwrap_or_default()
            )
        } else if r.status == "dropped" {
            "installed by mmc-agent; the next run removes it".to_owned()
        } else if r.status == "other" {
            "not mmc's".to_owned()
        } else {
            String::new()
        };
        println!(
            "{:<width$}  {:<9}  {:<6}  {note}",
            r.identifier, r.status, r.scope
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses on macOS 11 and later, explaining why.
fn refuse_without_install(runner: &Runner, what: &str) -> Result<(), String> {
    let version = os_version(runner);
    if can_install(version) {
        return Ok(());
    }
    Err(format!(
        "{what}: needs MDM: {} cannot install or remove configuration profiles from the command line; an MDM must deliver them (or a user, in System Settings). `mmc build` writes every profile to build/mdm/profiles/ for the MDM",
        version_text(version)
    ))
}

fn install_command(
    runner: &Runner,
    applied: &Applied,
    state: &mut State,
    ids: &[String],
    log: &mut Log,
) -> Result<ExitCode, String> {
    let profiles = &applied.config.profiles;
    let chosen: Vec<&String> = if ids.is_empty() {
        profiles.keys().collect()
    } else {
        ids.iter().collect()
    };
    for id in &chosen {
        let Some(profile) = profiles.get(*id) else {
            return Err(format!(
                "{id} is not a profile of the applied bundle ({}): mmc-agent installs only its own profiles",
                applied.label
            ));
        };
        if profile.scope == "User" {
            return Err(format!(
                "{id} is a User profile: mmc-agent installs System profiles only; an MDM must deliver it"
            ));
        }
    }
    if chosen.is_empty() {
        println!("the applied bundle ({}) has no profile", applied.label);
        return Ok(ExitCode::SUCCESS);
    }
    refuse_without_install(runner, "profiles install")?;
    let who = crate::log::who();
    let mut failed = false;
    for id in chosen {
        let profile = &profiles[id.as_str()];
        match install(runner, &applied.dir, profile) {
            Ok(()) => {
                log.info(&format!("profile {id}: installed by hand by {who}"));
                state.profiles.insert(id.clone(), installed_state(profile));
                println!("installed {id}");
            }
            Err(e) => {
                log.error(&format!("profile {id}: {e} (install by hand by {who})"));
                eprintln!("mmc-agent: {id}: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn remove_command(
    runner: &Runner,
    applied: &Applied,
    state: &mut State,
    ids: &[String],
    log: &mut Log,
) -> Result<ExitCode, String> {
    let mut ours_only = true;
    for id in ids {
        let ours = state.profiles.contains_key(id);
        if !ours && !applied.config.profiles.contains_key(id) {
            return Err(format!(
                "{id} is not one of mmc's profiles (not in the applied bundle {}, not installed by mmc-agent): mmc-agent never removes other profiles",
                applied.label
            ));
        }
        ours_only &= ours;
    }
    // What mmc-agent installed it can remove anywhere; anything else needs what installed it.
    if !ours_only {
        refuse_without_install(runner, "profiles remove")?;
    }
    let listing = list(runner).map_err(|e| format!("cannot list the installed profiles: {e}"))?;
    let who = crate::log::who();
    let mut failed = false;
    for id in ids {
        if !listing.system.contains_key(id) {
            println!("{id} is not installed");
            state.profiles.remove(id);
            continue;
        }
        match remove(runner, id) {
            Ok(()) => {
                log.info(&format!("profile {id}: removed by hand by {who}"));
                state.profiles.remove(id);
                println!("removed {id}");
            }
            Err(e) => {
                log.error(&format!("profile {id}: {e} (removal by hand by {who})"));
                eprintln!("mmc-agent: {id}: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(xml: &str) -> Listing {
        parse_listing(&plist::Value::from_reader_xml(xml.as_bytes()).unwrap())
    }

    #[test]
    fn system_and_user_profiles_are_told_apart() {
        let l = listing(
            "<plist><dict>\
             <key>_computerlevel</key><array><dict><key>ProfileIdentifier</key><string>com.example.a</string></dict></array>\
             <key>ada</key><array><dict><key>ProfileIdentifier</key><string>com.example.b</string></dict>\
             <dict><key>NoIdentifier</key><true/></dict></array>\
             <key>odd</key><string>not a list</string>\
             </dict></plist>",
        );
        assert_eq!(l.system.keys().collect::<Vec<_>>(), ["com.example.a"]);
        assert_eq!(l.user.keys().collect::<Vec<_>>(), ["com.example.b"]);
        assert!(listing("<plist><dict/></plist>").system.is_empty());
    }

    #[test]
    fn only_macos_10_installs() {
        assert!(can_install(Some((10, 15))));
        assert!(can_install(Some((10, 9))));
        assert!(!can_install(Some((11, 0))));
        assert!(!can_install(Some((15, 1))));
        assert!(!can_install(None));
    }

    #[test]
    fn status_compares_the_payload_hash_in_the_right_scope() {
        let l = listing(
            "<plist><dict><key>_computerlevel</key><array><dict>\
             <key>ProfileIdentifier</key><string>com.example.a</string>\
             <key>ProfileItems</key><array/></dict></array></dict></plist>",
        );
        let empty_hash = mmc_config::payload::of_installed(&l.system["com.example.a"]);
        let mut p = ProfileRef {
            file: "profiles/com.example.a.mobileconfig".into(),
            uuid: "U".into(),
            scope: "System".into(),
            sha256: "S".into(),
            payload_sha256: empty_hash,
        };
        assert_eq!(status(&l, "com.example.a", &p), "installed");
        p.payload_sha256 = Some("0".repeat(64));
        assert_eq!(status(&l, "com.example.a", &p), "outdated");
        p.payload_sha256 = None;
        assert_eq!(status(&l, "com.example.a", &p), "installed");
        p.scope = "User".into();
        assert_eq!(status(&l, "com.example.a", &p), "missing");
        assert_eq!(status(&l, "com.example.b", &p), "missing");
    }
}
