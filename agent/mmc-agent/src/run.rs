//! `mmc-agent run`: lock, verify and stage the bundle, gather facts, resolve the manifest,
//! decide, apply, report.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use jiff::Timestamp;
use mmc_config::{Config, Item, Pkginfo};
use mmc_predicate::{FactValue, Facts};
use serde::Serialize;

use crate::apply::{Converger, Need, Op};
use crate::installed::Probe;
use crate::log::Log;
use crate::platform::{Root, Runner, printable, remove_durably, write_atomic};
use crate::script::Scripts;
use crate::settings::Settings;
use crate::state::{Applied, Dirs, ItemState, PRIVATE, State};
use crate::trust::Refusal;
use crate::verify::Scratch;
use mmc_bundle::Statement;

const HELP: &str = "\
Converge this Mac to a signed bundle: verify it, gather facts, resolve the manifest, decide
what each item needs by Munki's rules, and apply it (or, with --check, only say what it would do).

Usage: mmc-agent run [--bundle PATH] [OPTIONS]

Options:
  --bundle PATH       The bundle (.tar.gz; its signature is PATH.sig). Default: the newest
                      bundle that verifies in /Library/Application Support/mmc/incoming/
  --trust PUBKEY      A PEM public key that may sign bundles; repeatable
                      [default: the \"trust\" list in agent.json]
  --trust-root FILE   The pinned root of trust (mmc root init) instead of plain keys
                      [default: \"root\" in agent.json]
  --check             Print the plan and change nothing: no file, log, state or report is
                      written, and no condition script runs (facts from the last run's
                      ConditionalItems.plist are used)
  --only ITEM         Consider only this item (repeatable); its requires still come first
  --manifest NAME     The primary manifest [default: agent.json's \"manifest\", else Munki's
                      choice: hostname, short hostname, serial number, site_default]
  --facts FILE        Read the facts from FILE (JSON, or a plist like Munki's
                      ConditionalItems.plist) instead of gathering them
  --packages DIR|URL  Where package payloads are: a directory or an https:// URL to which
                      each item's installer_item_location is appended
                      [default: agent.json's \"packages\"]
  --now TIME          Judge expiry at TIME (RFC 3339) instead of the clock
  --root DIR          Treat DIR as the Mac's / (a sandbox) [default: /]
  --commands DIR      Run macOS tools and script interpreters from DIR when DIR has one of
                      the same name (agent/fakes/ holds fakes that print macOS formats)
  --format FORMAT     human (default) or json: one JSON object with every item and a
                      summary {changed, unchanged, failed, skipped, planned}
  -h, --help          Print this help

Order: removals first, then installs in manifest order, each item's requires before it and
its update_for items after it. An item whose requirement failed is skipped.

Exit status:
  0  converged (with --check: the plan was printed)
  1  some items failed; the others were applied
  2  could not run: bad arguments, no trusted key, a bundle that does not verify, is
     for another audience, or is older than the last applied one (rollback) or
     differs from it under the same version (equivocation); nothing was changed
  3  stale: every bundle (or its key, or the root) has expired; the last applied bundle
     was enforced again, and CI must publish a fresh one
  75 another run holds the lock (EX_TEMPFAIL): nothing was done; try again later

Example (a sandbox on Linux, with the fakes):
  mmc-agent run --bundle build/bundles/stable-1763700000.tar.gz \\
      --trust ~/.local/share/mmc/demo/dev.pub \\
      --root /tmp/mac --commands agent/fakes --packages pkgs
";

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Human,
    Json,
}

pub(crate) struct Options {
    pub bundle: Option<PathBuf>,
    pub trust: Vec<PathBuf>,
    pub trust_root: Option<PathBuf>,
    pub check: bool,
    pub only: Vec<String>,
    pub manifest: Option<String>,
    pub facts: Option<PathBuf>,
    pub packages: Option<String>,
    pub now: Option<Timestamp>,
    pub root: PathBuf,
    pub commands: Option<PathBuf>,
    pub format: Format,
}

pub(crate) fn run(mut parser: lexopt::Parser) -> Result<ExitCode, String> {
    let Some(options) = parse(&mut parser)? else {
        print!("{HELP}");
        return Ok(ExitCode::SUCCESS);
    };
    let report = match execute(&options, None) {
        Ok(report) => report,
        // Not a failure: the run under way does the work, and launchd starts the next one.
        Err(busy) if lock_was_held() => {
            eprintln!("mmc-agent: busy: {busy}");
            return Ok(ExitCode::from(EXIT_BUSY));
        }
        Err(e) => return Err(e),
    };
    print_report(&report, options.format);
    Ok(exit_code(&report))
}

pub(crate) fn exit_code(report: &Report) -> ExitCode {
    if report.stale.is_some() {
        ExitCode::from(EXIT_STALE)
    } else if report.summary.failed > 0
        || report.updates.as_ref().is_some_and(|u| u.failed())
        || report.profiles.iter().any(ProfileReport::failed)
    {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

pub(crate) fn parse(parser: &mut lexopt::Parser) -> Result<Option<Options>, String> {
    parse_for(parser, "run", None)
}

/// The options of `run`, for `command`; with `accepted`, only those long options are taken
/// (`mmc-agent updates` takes a subset).
pub(crate) fn parse_for(
    parser: &mut lexopt::Parser,
    command: &str,
    accepted: Option<&[&str]>,
) -> Result<Option<Options>, String> {
    use lexopt::prelude::*;
    let usage = |e: lexopt::Error| format!("{e} (try `mmc-agent {command} --help`)");
    let mut o = Options {
        bundle: None,
        trust: Vec::new(),
        trust_root: None,
        check: false,
        only: Vec::new(),
        manifest: None,
        facts: None,
        packages: None,
        now: None,
        root: PathBuf::from("/"),
        commands: None,
        format: Format::Human,
    };
    while let Some(arg) = parser.next().map_err(usage)? {
        if let (Long(name), Some(accepted)) = (&arg, accepted)
            && *name != "help"
            && !accepted.contains(name)
        {
            return Err(usage(arg.unexpected()));
        }
        match arg {
            Short('h') | Long("help") => return Ok(None),
            Long("bundle") => o.bundle = Some(PathBuf::from(text(parser)?)),
            Long("trust") => o.trust.push(PathBuf::from(text(parser)?)),
            Long("trust-root") => o.trust_root = Some(PathBuf::from(text(parser)?)),
            Long("check") => o.check = true,
            Long("only") => o.only.push(text(parser)?),
            Long("manifest") => o.manifest = Some(text(parser)?),
            Long("facts") => o.facts = Some(PathBuf::from(text(parser)?)),
            Long("packages") => o.packages = Some(text(parser)?),
            Long("root") => o.root = PathBuf::from(text(parser)?),
            Long("commands") => o.commands = Some(PathBuf::from(text(parser)?)),
            Long("now") => {
                let text = text(parser)?;
                o.now = Some(text.parse().map_err(|_| {
                    format!("--now {text:?} is not an RFC 3339 time like 2026-11-21T05:31:00Z")
                })?);
            }
            Long("format") => {
                o.format = match text(parser)?.as_str() {
                    "human" => Format::Human,
                    "json" => Format::Json,
                    other => {
                        return Err(format!(
                            "--format {other:?} is not a format; use human or json"
                        ));
                    }
                }
            }
            other => return Err(usage(other.unexpected())),
        }
    }
    if let Some(commands) = &o.commands
        && !commands.is_dir()
    {
        return Err(format!(
            "--commands {}: not a directory",
            commands.display()
        ));
    }
    Ok(Some(o))
}

fn text(parser: &mut lexopt::Parser) -> Result<String, String> {
    let value = parser
        .value()
        .map_err(|e| format!("{e} (try `mmc-agent run --help`)"))?;
    value
        .into_string()
        .map_err(|v| format!("{v:?} is not valid UTF-8"))
}

/// One item's line in the report.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ItemReport {
    pub name: String,
    pub kind: String,
    /// `install` or `remove`.
    pub action: &'static str,
    /// Why the item is in the plan: the manifest list, or the item that requires it.
    pub source: String,
    /// `changed`, `unchanged`, `failed`, `skipped` or (with --check) `planned`.
    pub result: &'static str,
    /// The evidence behind the decision.
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub duration_ms: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Summary {
    pub changed: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub skipped: usize,
    pub planned: usize,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct BundleReport {
    pub name: String,
    pub version: u64,
    pub key_id: String,
    pub expires: String,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct Report {
    /// `apply` or `check`.
    pub mode: &'static str,
    pub bundle: BundleReport,
    pub manifest: String,
    pub items: Vec<ItemReport>,
    /// Configuration profiles: which are installed, and which an MDM must deliver.
    pub profiles: Vec<ProfileReport>,
    /// Conditions that could not be evaluated, and similar notes from resolution.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Why the run enforced the last applied bundle instead of a current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale: Option<String>,
    pub summary: Summary,
    /// The update enforcement phase (only when the bundle has update policies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updates: Option<crate::updates::Outcome>,
    #[serde(skip)]
    pub started: Option<Timestamp>,
    #[serde(skip)]
    pub facts: Facts,
}

pub(crate) use crate::profiles::ProfileReport;

/// What an interactive run asks for instead of the manifest.
pub(crate) struct Chosen {
    pub items: Vec<String>,
    pub who: String,
}

/// Runs the whole job. `chosen` replaces the manifest (interactive mode).
pub(crate) fn execute(options: &Options, chosen: Option<&Chosen>) -> Result<Report, String> {
    let root = Root::new(&options.root)?;
    if root.dir() == Path::new("/") && !crate::platform::is_root() && !options.check {
        return Err("run changes the Mac and needs root: use sudo, or --check to see the plan, or --root DIR for a sandbox".into());
    }
    let dirs = Dirs::new(&root);
    let settings = Settings::load(&dirs)?;
    let now = options.now.unwrap_or_else(Timestamp::now);

    // One run at a time. A --check run only looks, so it takes the lock shared, and only when
    // the agent has ever run (creating the lock file would be a write).
    let _lock = lock(&dirs, options.check)?;
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
    let result = converge(options, chosen, &root, &dirs, &settings, now, &mut log);
    if let Err(e) = &result {
        log.error(&format!("run stopped: {e}"));
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn converge(
    options: &Options,
    chosen: Option<&Chosen>,
    root: &Root,
    dirs: &Dirs,
    settings: &Settings,
    now: Timestamp,
    log: &mut Log,
) -> Result<Report, String> {
    let started = Instant::now();
    let mut stale: Option<String> = None;
    let mut state = State::load(dirs)?;
    let picked = match crate::trust::pick(options, settings, root, dirs, &state, now) {
        Ok(picked) => Some(picked),
        Err(Refusal::Stale(why)) if state.last_applied.is_some() => {
            log.error(&format!(
                "STALE: {why}; enforcing the last applied bundle again"
            ));
            stale = Some(why);
            None
        }
        Err(e) => return Err(e.into()),
    };
    let mut notes: Vec<String> = Vec::new();
    if let Some(stale) = &stale {
        notes.push(format!("stale: {stale}"));
    }
    let (bundle, bundle_dir_name) = match &picked {
        Some(p) => (
            BundleReport {
                name: p.statement.name.clone(),
                version: p.statement.version,
                key_id: p.statement.key_id.clone(),
                expires: p.statement.expires.clone(),
            },
            format!("{}-{}", p.statement.name, p.statement.version),
        ),
        None => {
            let last = state.last_applied.as_ref().expect("checked above");
            (
                BundleReport {
                    name: last.bundle.clone(),
                    version: last.version,
                    key_id: last.key_id.clone().unwrap_or_default(),
                    expires: last.expires.clone().unwrap_or_default(),
                },
                last.dir.clone(),
            )
        }
    };
    for note in picked.iter().flat_map(|p| &p.notes) {
        log.warn(note);
        notes.push(note.clone());
    }
    match chosen {
        Some(c) => log.info(&format!(
            "interactive run by {}: {} (bundle {} version {})",
            c.who,
            c.items.join(", "),
            bundle.name,
            bundle.version
        )),
        None => log.info(&format!(
            "run: bundle {} version {} (key {})",
            bundle.name, bundle.version, bundle.key_id
        )),
    }

    // Stage: a real run keeps the verified files under bundles/; --check extracts to a
    // temporary directory outside the Mac's root.
    // --check keeps everything it unpacks or runs in a private temporary directory (mode 0700,
    // a fresh name), never in a shared, predictable one.
    let scratch = if options.check {
        Some(Scratch::create()?)
    } else {
        None
    };
    let (config, pkginfos, bundle_dir) = match &picked {
        Some(p) => {
            let unpacked = if let Some(scratch) = &scratch {
                scratch.path.join("bundle")
            } else {
                dirs.bundles()
                    .join(format!(".staging-{}", std::process::id()))
            };
            if !options.check {
                // Bundles hold every file item's content: only root may read them.
                crate::platform::private_dir(&dirs.bundles())
                    .map_err(|e| format!("cannot create {}: {e}", dirs.bundles().display()))?;
                let _ = fs::remove_dir_all(&unpacked);
            }
            mmc_bundle::extract(&p.archive, &unpacked)
                .map_err(|e| format!("{}: {e}", p.path.display()))?;
            // A bundle this agent cannot read never takes the place of the last applied one.
            let (config, pkginfos) = match read_bundle(&unpacked) {
                Ok(read) => read,
                Err(e) => {
                    if !options.check {
                        let _ = fs::remove_dir_all(&unpacked);
                    }
                    return Err(format!("{}: {e}", p.path.display()));
                }
            };
            let bundle_dir = if options.check {
                unpacked
            } else {
                stage(&unpacked, dirs, &bundle_dir_name)?
            };
            (config, pkginfos, bundle_dir)
        }
        None => {
            // Stale: the last applied bundle, verified when it was applied, kept root's alone.
            let dir = dirs.bundles().join(&bundle_dir_name);
            let (config, pkginfos) = read_bundle(&dir).map_err(|e| {
                format!(
                    "stale, and the last applied bundle cannot be read ({e}): {}",
                    stale.clone().unwrap_or_default()
                )
            })?;
            (config, pkginfos, dir)
        }
    };

    let (runner, timeout) = make_runner(options, root, settings);
    let scripts = Scripts {
        runner: &runner,
        scratch: match &scratch {
            Some(scratch) => scratch.path.join("scripts"),
            None => dirs.scratch(),
        },
        timeout,
    };
    let probe = Probe::new(root, &runner, &scripts);
    let facts = gather_facts(options, root, &scripts, &probe, log)?;

    let manifest = primary_manifest(options, settings, &config, &facts)?;
    let resolution = mmc_manifest::resolve(
        &config.manifests,
        &manifest,
        &facts,
        &config.bundle.track,
        std::slice::from_ref(&config.bundle.track),
    )
    .map_err(|e| format!("manifest {manifest}: {e}"))?;
    for note in &resolution.errors {
        log.warn(&note.message);
        notes.push(note.message.clone());
    }

    let steps = match chosen {
        Some(c) => plan_items(&config, &pkginfos, &c.items, "chosen interactively"),
        None => plan(&config, &pkginfos, &resolution, &options.only),
    };

    let packages = options
        .packages
        .clone()
        .or_else(|| settings.packages.clone());
    let cache = dirs.cache();
    let mut converger = Converger {
        root,
        runner: &runner,
        scripts: &scripts,
        probe,
        config: &config,
        bundle_dir: &bundle_dir,
        pkginfos: &pkginfos,
        facts: &facts,
        packages,
        cache,
        package_files: Default::default(),
    };
    let mut items = Vec::new();
    let mut failed: BTreeSet<String> = BTreeSet::new();
    let mut skipped: BTreeSet<String> = BTreeSet::new();
    // Items installed or about to be, for update_for.
    let mut present: BTreeSet<String> = BTreeSet::new();
    for step in &steps {
        let clock = Instant::now();
        let kind = config.items.get(&step.name).map_or("unknown", Item::kind);
        let mut report = ItemReport {
            name: step.name.clone(),
            kind: kind.to_owned(),
            action: match step.op {
                Op::Install => "install",
                Op::Remove => "remove",
            },
            source: step.source.clone(),
            result: "unchanged",
            reason: String::new(),
            error: None,
            warnings: Vec::new(),
            duration_ms: 0,
        };
        // A requirement that failed or was skipped blocks the item (Munki carries skips down
        // a chain of requires); for a removal, so does a dependent that could not be removed.
        let blocked = step
            .requires
            .iter()
            .find(|r| failed.contains(*r) || skipped.contains(*r));
        let waiting_on = step
            .update_for
            .as_ref()
            .filter(|parent| !present.contains(*parent));
        let need = if let Some(r) = blocked {
            Ok(Need::Skip(match step.op {
                Op::Install => format!(
                    "requires {r}, which {}",
                    if failed.contains(r) {
                        "failed"
                    } else {
                        "was skipped"
                    }
                ),
                Op::Remove => format!("{r} depends on it and was not removed"),
            }))
        } else if let Some(why) = &step.blocked {
            Ok(Need::Skip(why.clone()))
        } else if let Some(parent) = waiting_on {
            Ok(Need::Skip(format!(
                "an update for {parent}, which is not installed"
            )))
        } else if step.only_if_present
            && !converger
                .pkginfo(&step.name)
                .is_ok_and(|p| converger.probe.some_version_installed(p))
        {
            Ok(Need::Skip(
                "managed_updates: no version is installed".into(),
            ))
        } else {
            converger.assess(&step.name, step.op)
        };
        match need {
            Err(e) => {
                report.result = "failed";
                report.error = Some(printable(&e));
            }
            Ok(Need::Skip(why)) => {
                report.result = "skipped";
                report.reason = printable(&why);
            }
            Ok(Need::Nothing(why)) => {
                report.reason = printable(&why);
                if step.op == Op::Install {
                    present.insert(step.name.clone());
                }
            }
            Ok(Need::Change(why)) if options.check => {
                report.result = "planned";
                report.reason = printable(&why);
                if step.op == Op::Install {
                    present.insert(step.name.clone());
                }
            }
            Ok(Need::Change(why)) => {
                log.info(&format!("{}: {} ({why})", step.name, report.action));
                report.reason = printable(&why);
                match converger.apply(&step.name, step.op, log) {
                    Ok(warnings) => {
                        report.result = "changed";
                        for w in &warnings {
                            log.warn(&format!("{}: {w}", step.name));
                        }
                        report.warnings = warnings.iter().map(|w| printable(w)).collect();
                        if step.op == Op::Install {
                            present.insert(step.name.clone());
                        }
                    }
                    Err(e) => {
                        log.error(&format!("{}: {e}", step.name));
                        report.result = "failed";
                        report.error = Some(printable(&e));
                    }
                }
            }
        }
        match report.result {
            "failed" => {
                failed.insert(step.name.clone());
            }
            "skipped" => {
                skipped.insert(step.name.clone());
            }
            _ => {}
        }
        report.duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        items.push(report);
    }

    let profiles = crate::profiles::converge(
        &crate::profiles::Cx {
            runner: &runner,
            bundle_dir: &bundle_dir,
            mac_bundle_dir: format!("{}/bundles/{bundle_dir_name}", crate::state::STATE_DIR),
            check: options.check,
            report_only: chosen.is_some() || !options.only.is_empty(),
        },
        &config,
        &mut state,
        log,
    );
    let mut summary = Summary::default();
    for item in &items {
        match item.result {
            "changed" => summary.changed += 1,
            "failed" => summary.failed += 1,
            "skipped" => summary.skipped += 1,
            "planned" => summary.planned += 1,
            _ => summary.unchanged += 1,
        }
    }
    let mut report = Report {
        mode: if options.check { "check" } else { "apply" },
        bundle,
        stale: stale.clone(),
        manifest: manifest.clone(),
        items,
        profiles,
        notes,
        summary,
        updates: None,
        started: Some(now),
        facts,
    };

    if !options.check && stale.is_some() {
        // Enforced, but nothing is remembered: the floor, the last applied bundle and the
        // items' states stay as they were.
        write_reports(dirs, &report, &pkginfos)?;
        log.info(&format!(
            "done (stale) in {} ms: {} changed, {} unchanged, {} failed, {} skipped",
            started.elapsed().as_millis(),
            report.summary.changed,
            report.summary.unchanged,
            report.summary.failed,
            report.summary.skipped
        ));
    } else if let (false, Some(picked)) = (options.check, &picked) {
        let at = now_to_the_second().to_string();
        for item in &report.items {
            state.items.insert(
                item.name.clone(),
                ItemState {
                    result: item.result.to_owned(),
                    version: pkginfos.get(&item.name).map(|p| p.version.clone()),
                    at: at.clone(),
                    duration_ms: item.duration_ms,
                    error: item.error.clone(),
                },
            );
        }
        state.floor = Some(crate::trust::floor_of(picked));
        state.last_applied = Some(Applied {
            bundle: picked.statement.name.clone(),
            version: picked.statement.version,
            key_id: Some(picked.statement.key_id.clone()),
            expires: Some(picked.statement.expires.clone()),
            dir: bundle_dir_name.clone(),
            at: at.clone(),
            manifest,
            changed: report.summary.changed,
            unchanged: report.summary.unchanged,
            failed: report.summary.failed,
            skipped: report.summary.skipped,
        });
        crate::failpoint::hit();
        state.save(dirs)?;
        // The trust the applied bundle was checked under moves forward with it.
        if let Some((path, bytes)) = &picked.new_root {
            crate::trust::store_root(path, bytes)?;
        }
        // Apple updates after the items (a whole run, not --only or interactive picks).
        let clock = crate::updates::Clock::new(options.now);
        let phase = crate::updates::Phase {
            runner: &runner,
            dirs,
            clock: &clock,
            check: false,
        };
        if chosen.is_none() && options.only.is_empty() {
            report.updates = crate::updates::enforce(&phase, &config, &report.facts, log);
        }
        write_reports(dirs, &report, &pkginfos)?;
        prune_bundles(dirs, &bundle_dir_name);
        prune_cache(dirs, &pkginfos);
        // Superseded bundles leave incoming/; the applied one stays for the next periodic run.
        for path in &picked.older {
            let mut signature = path.as_os_str().to_owned();
            signature.push(".sig");
            let _ = remove_durably(path);
            let _ = remove_durably(Path::new(&signature));
        }
        let s = &report.summary;
        log.info(&format!(
            "done in {} ms: {} changed, {} unchanged, {} failed, {} skipped",
            started.elapsed().as_millis(),
            s.changed,
            s.unchanged,
            s.failed,
            s.skipped
        ));
        // The restart an update needs comes last, once everything is written.
        if let Some(plan) = report
            .updates
            .as_ref()
            .and_then(|u| u.pending_restart.as_ref())
        {
            crate::updates::restart(&phase, plan, log);
        }
    }
    Ok(report)
}

/// The runner for macOS tools, and the timeout for scripts. Scripts get the script timeout;
/// tools (installer above all) get the runner's own, far longer one: Munki waits for installer
/// however long it takes.
fn make_runner(options: &Options, root: &Root, settings: &Settings) -> (Runner, Duration) {
    let mut runner = Runner::new(
        root,
        &settings.tools,
        options.commands.as_deref(),
        options.now.map(|t| t.as_second()),
    );
    if let Some(secs) = settings.tool_timeout_secs {
        runner.timeout = Duration::from_secs(secs);
    }
    let timeout = Duration::from_secs(settings.script_timeout_secs.unwrap_or(600));
    (runner, timeout)
}

/// The facts: `--facts FILE`, or Munki's built-in facts merged with the admin facts.
fn gather_facts(
    options: &Options,
    root: &Root,
    scripts: &Scripts,
    probe: &Probe,
    log: &mut Log,
) -> Result<Facts, String> {
    Ok(match &options.facts {
        Some(path) => crate::condition::read_facts(path)?,
        None => {
            let admin = admin_facts(root, scripts, options.check, log);
            let munki_now = match options.now {
                Some(t) => crate::facts::munki_now(SystemTime::from(t)),
                None => crate::facts::munki_now(SystemTime::now()),
            };
            crate::facts::gather_mac(scripts.runner, probe.apps(), admin, munki_now)
        }
    })
}

/// What `mmc-agent updates` needs of a bundle: verified (signature, expiry, audience, no
/// rollback) and its `config.json` read, with the runner and this Mac's facts.
pub(crate) fn load_config(
    options: &Options,
    root: &Root,
    dirs: &Dirs,
    settings: &Settings,
    now: Timestamp,
    log: &mut Log,
) -> Result<(Statement, Config, Facts, Runner), String> {
    let picked = crate::trust::pick(options, settings, root, dirs, &State::load(dirs)?, now)?;
    let (path, statement, archive) = (picked.path, picked.statement, picked.archive);
    let scratch = Scratch::create()?;
    let dir = scratch.path.join("bundle");
    mmc_bundle::extract(&archive, &dir).map_err(|e| format!("{}: {e}", path.display()))?;
    let config = Config::from_json(
        &fs::read(dir.join("config.json"))
            .map_err(|e| format!("{}: the bundle has no config.json: {e}", path.display()))?,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    let (runner, timeout) = make_runner(options, root, settings);
    let scripts = Scripts {
        runner: &runner,
        scratch: if options.check {
            scratch.path.join("scripts")
        } else {
            dirs.scratch()
        },
        timeout,
    };
    let probe = Probe::new(root, &runner, &scripts);
    let facts = gather_facts(options, root, &scripts, &probe, log)?;
    drop(probe);
    Ok((statement, config, facts, runner))
}

/// The clock, to the second: what state and the lock file record.
fn now_to_the_second() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now())
}

/// Holds the run lock until dropped.
pub(crate) struct Lock {
    _file: Option<fs::File>,
}

pub(crate) fn lock(dirs: &Dirs, check: bool) -> Result<Lock, String> {
    let path = dirs.lock();
    if check {
        let Ok(file) = fs::File::open(&path) else {
            return Ok(Lock { _file: None });
        };
        return match file.try_lock_shared() {
            Ok(()) => Ok(Lock { _file: Some(file) }),
            Err(_) => Err(held(&path)),
        };
    }
    fs::create_dir_all(&dirs.base)
        .map_err(|e| format!("cannot create {}: {e}", dirs.base.display()))?;
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot open the lock {}: {e}", path.display()))?;
    if file.try_lock().is_err() {
        return Err(held(&path));
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = writeln!(file, "{}\n{}", std::process::id(), now_to_the_second());
    Ok(Lock { _file: Some(file) })
}

/// Exit status of a run refused because another run holds the lock: `EX_TEMPFAIL` of
/// sysexits(3), "try again later".
pub(crate) const EXIT_BUSY: u8 = 75;
/// Exit status of a stale run: nothing valid to take, the last applied bundle enforced again.
pub(crate) const EXIT_STALE: u8 = 3;

/// Set when [`lock`] found the lock held, so `run` can exit [`EXIT_BUSY`] instead of 2.
static LOCK_HELD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn lock_was_held() -> bool {
    LOCK_HELD.load(std::sync::atomic::Ordering::Relaxed)
}

fn held(path: &Path) -> String {
    LOCK_HELD.store(true, std::sync::atomic::Ordering::Relaxed);
    let text = fs::read_to_string(path).unwrap_or_default();
    let mut lines = text.lines();
    match (lines.next(), lines.next()) {
        (Some(pid), Some(since)) => format!(
            "another mmc-agent run holds the lock (pid {pid}, since {since}); try again when it has finished"
        ),
        _ => "another mmc-agent run holds the lock; try again when it has finished".to_owned(),
    }
}

/// The bundle's `config.json` and the pkginfo of every package and script item.
fn read_bundle(dir: &Path) -> Result<(Config, BTreeMap<String, Pkginfo>), String> {
    let config_bytes = fs::read(dir.join("config.json"))
        .map_err(|e| format!("the bundle has no config.json: {e}"))?;
    let config = Config::from_json(&config_bytes)?;
    let mut pkginfos = BTreeMap::new();
    for (name, item) in &config.items {
        if let Item::Package(m) | Item::Script(m) = item {
            let bytes = fs::read(dir.join(&m.pkginfo))
                .map_err(|e| format!("the bundle's {}: {e}", m.pkginfo))?;
            let p = Pkginfo::from_plist(&bytes).map_err(|e| format!("{}: {e}", m.pkginfo))?;
            pkginfos.insert(name.clone(), p);
        }
    }
    Ok((config, pkginfos))
}

/// Moves the checked, unpacked bundle to `bundles/NAME`.
fn stage(staging: &Path, dirs: &Dirs, name: &str) -> Result<PathBuf, String> {
    let target = dirs.bundles().join(name);
    crate::failpoint::hit();
    if target.exists() {
        fs::remove_dir_all(&target)
            .map_err(|e| format!("cannot replace {}: {e}", target.display()))?;
    }
    fs::rename(staging, &target).map_err(|e| format!("cannot move the bundle into place: {e}"))?;
    crate::failpoint::hit();
    Ok(target)
}

/// Removes cached payloads that no pkginfo of the applied bundle names any more (cache files
/// are named by the first 16 hex digits of their SHA-256).
fn prune_cache(dirs: &Dirs, pkginfos: &BTreeMap<String, Pkginfo>) {
    let wanted: BTreeSet<String> = pkginfos
        .values()
        .flat_map(|p| [&p.installer_item_hash, &p.uninstaller_item_hash])
        .flatten()
        .filter(|h| h.len() >= 16 && h.is_ascii())
        .map(|h| format!("{}-", h[..16].to_ascii_lowercase()))
        .collect();
    let Ok(entries) = fs::read_dir(dirs.cache()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !wanted
            .iter()
            .any(|prefix| name.starts_with(prefix.as_str()))
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Removes staged bundles other than `keep` (and staging leftovers of killed runs).
fn prune_bundles(dirs: &Dirs, keep: &str) {
    let Ok(entries) = fs::read_dir(dirs.bundles()) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name() != keep {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Munki's admin condition scripts: `/usr/local/munki/conditions/*` write
/// `/Library/Managed Installs/ConditionalItems.plist`, which becomes facts. `--check` runs no
/// script and reads what the last run left.
pub(crate) fn admin_facts(root: &Root, scripts: &Scripts, check: bool, log: &mut Log) -> Facts {
    let plist_path = root
        .path("/Library/Managed Installs/ConditionalItems.plist")
        .expect("absolute");
    if !check {
        let _ = remove_durably(&plist_path);
        if let Ok(dir) = root.path("/usr/local/munki/conditions")
            && let Ok(entries) = fs::read_dir(&dir)
        {
            let mut entries: Vec<_> = entries.flatten().collect();
            entries.sort_by_key(fs::DirEntry::file_name);
            for entry in entries {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || entry.path().is_dir() {
                    continue;
                }
                if let Some(problem) = unsafe_script(&entry.path()) {
                    log.error(&format!(
                        "condition script {name}: {problem}; skipping execution"
                    ));
                    continue;
                }
                let Ok(text) = fs::read_to_string(entry.path()) else {
                    log.error(&format!("condition script {name} is not readable text"));
                    continue;
                };
                let mut limited = scripts.timeout;
                if limited > Duration::from_secs(60) {
                    limited = Duration::from_secs(60);
                }
                let run = Scripts {
                    runner: scripts.runner,
                    scratch: scripts.scratch.clone(),
                    timeout: limited,
                }
                .run(&name, "condition", &text);
                if run.status != 0 {
                    log.warn(&format!("condition script {name}: {}", run.summary()));
                }
            }
        }
    }
    if !plist_path.exists() {
        return Facts::new();
    }
    match crate::platform::read_plist(&plist_path, false) {
        Ok(plist::Value::Dictionary(d)) => d
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), crate::facts::fact_from_plist(v)?)))
            .collect(),
        _ => {
            log.warn("ConditionalItems.plist is not a dictionary; no admin facts");
            Facts::new()
        }
    }
}

/// Munki runs a condition script only if root owns it, it is executable and nobody else may
/// write it.
fn unsafe_script(path: &Path) -> Option<String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Some("cannot be examined".into());
    };
    if meta.file_type().is_symlink() {
        return Some("a symlink".into());
    }
    if !meta.is_file() {
        return Some("not a regular file".into());
    }
    let mode = meta.permissions().mode();
    if mode & 0o111 == 0 {
        return Some("not executable".into());
    }
    if mode & 0o002 != 0 {
        return Some("writable by everyone".into());
    }
    // Group write is allowed for wheel and admin only, as Munki allows.
    if mode & 0o020 != 0 && meta.gid() != 0 && meta.gid() != 80 {
        return Some(format!("writable by group {}", meta.gid()));
    }
    if crate::platform::is_root() {
        if meta.uid() != 0 {
            return Some(format!("owned by uid {}, not root", meta.uid()));
        }
        if let Some(dir) = path.parent()
            && let Ok(d) = fs::metadata(dir)
            && (d.uid() != 0 || d.permissions().mode() & 0o022 != 0)
        {
            return Some(format!("its folder {} is not root's alone", dir.display()));
        }
    }
    None
}

fn primary_manifest(
    options: &Options,
    settings: &Settings,
    config: &Config,
    facts: &Facts,
) -> Result<String, String> {
    if let Some(name) = options.manifest.as_ref().or(settings.manifest.as_ref()) {
        return if config.manifests.contains_key(name) {
            Ok(name.clone())
        } else {
            Err(format!(
                "manifest {name} is not in the bundle (it has: {})",
                config
                    .manifests
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        };
    }
    let fact = |key: &str| match facts.get(key) {
        Some(FactValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let hostname = fact("hostname");
    let short = hostname
        .as_ref()
        .and_then(|h| h.split('.').next().map(str::to_owned));
    let candidates = [
        hostname,
        short,
        fact("serial_number"),
        Some("site_default".to_owned()),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|c| config.manifests.contains_key(c))
        .ok_or_else(|| {
            "no primary manifest: none named after this Mac and no site_default; pass --manifest NAME".to_owned()
        })
}

/// One step of the plan.
#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub name: String,
    pub op: Op,
    pub source: String,
    pub requires: Vec<String>,
    /// Set for items pulled in by `update_for`: the item they update.
    pub update_for: Option<String>,
    /// `managed_updates`: only when some version is installed.
    pub only_if_present: bool,
    /// Why the step cannot happen at all, decided while planning.
    pub blocked: Option<String>,
}

/// Munki's order: removals, then installs and updates in manifest order, each item's
/// requirements first and its updates after.
pub(crate) fn plan(
    config: &Config,
    pkginfos: &BTreeMap<String, Pkginfo>,
    resolution: &mmc_manifest::Resolution,
    only: &[String],
) -> Vec<Step> {
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let mut planner = Planner {
        config,
        pkginfos,
        steps: Vec::new(),
        seen: BTreeSet::new(),
    };
    let installs: BTreeSet<String> = ["managed_installs", "managed_updates"]
        .iter()
        .flat_map(|key| resolution.names(key))
        .map(|n| mmc_manifest::base_name(n).to_owned())
        .collect();
    for name in resolution.names("managed_uninstalls") {
        let base = mmc_manifest::base_name(name);
        if installs.contains(base) || !config.items.contains_key(base) || !wanted(base) {
            continue;
        }
        planner.remove(base, "managed_uninstalls", &installs, &mut Vec::new());
    }
    for key in ["managed_installs", "managed_updates"] {
        for name in resolution.names(key) {
            let base = mmc_manifest::base_name(name);
            if wanted(base) {
                planner.install(base, key, None, key == "managed_updates", &mut Vec::new());
            }
        }
    }
    planner.steps
}

/// Items chosen by name (interactive mode), with their requirements.
fn plan_items(
    config: &Config,
    pkginfos: &BTreeMap<String, Pkginfo>,
    names: &[String],
    source: &str,
) -> Vec<Step> {
    let mut planner = Planner {
        config,
        pkginfos,
        steps: Vec::new(),
        seen: BTreeSet::new(),
    };
    for name in names {
        planner.install(name, source, None, false, &mut Vec::new());
    }
    planner.steps
}

struct Planner<'a> {
    config: &'a Config,
    pkginfos: &'a BTreeMap<String, Pkginfo>,
    steps: Vec<Step>,
    seen: BTreeSet<String>,
}

impl Planner<'_> {
    /// Plans removing `name`, after the items that require it and its updates (Munki removes
    /// those too). An item that must stay installed keeps what it depends on installed.
    fn remove(
        &mut self,
        name: &str,
        source: &str,
        installs: &BTreeSet<String>,
        stack: &mut Vec<String>,
    ) {
        if self.seen.contains(&format!("remove {name}")) || stack.iter().any(|s| s == name) {
            return;
        }
        stack.push(name.to_owned());
        let mut dependents = Vec::new();
        let mut blocked = None;
        for (other, p) in self.pkginfos {
            let requires = p
                .requires
                .iter()
                .any(|r| mmc_manifest::base_name(r) == name);
            let updates = p
                .update_for
                .iter()
                .any(|u| mmc_manifest::base_name(u) == name);
            if other == name || !(requires || updates) {
                continue;
            }
            if installs.contains(other) {
                blocked.get_or_insert_with(|| {
                    format!("{other} depends on it and is a managed install, so it stays")
                });
                continue;
            }
            let why = if requires {
                format!("requires {name}, which is being removed")
            } else {
                format!("an update for {name}, which is being removed")
            };
            self.remove(other, &why, installs, stack);
            dependents.push(other.clone());
        }
        self.seen.insert(format!("remove {name}"));
        self.steps.push(Step {
            name: name.to_owned(),
            op: Op::Remove,
            source: source.to_owned(),
            requires: dependents,
            update_for: None,
            only_if_present: false,
            blocked,
        });
        stack.pop();
    }

    fn install(
        &mut self,
        name: &str,
        source: &str,
        update_for: Option<&str>,
        only_if_present: bool,
        stack: &mut Vec<String>,
    ) {
        if self.seen.contains(&format!("install {name}")) || stack.iter().any(|s| s == name) {
            return;
        }
        stack.push(name.to_owned());
        let requires: Vec<String> = self
            .pkginfos
            .get(name)
            .map(|p| {
                p.requires
                    .iter()
                    .map(|r| mmc_manifest::base_name(r).to_owned())
                    .collect()
            })
            .unwrap_or_default();
        for r in &requires {
            self.install(r, &format!("required by {name}"), None, false, stack);
        }
        self.seen.insert(format!("install {name}"));
        self.steps.push(Step {
            name: name.to_owned(),
            op: Op::Install,
            source: source.to_owned(),
            requires,
            update_for: update_for.map(str::to_owned),
            only_if_present,
            blocked: None,
        });
        if self.config.items.contains_key(name) {
            let updates: Vec<String> = self
                .pkginfos
                .iter()
                .filter(|(_, p)| {
                    p.update_for
                        .iter()
                        .any(|u| mmc_manifest::base_name(u) == name)
                })
                .map(|(n, _)| n.clone())
                .collect();
            for u in updates {
                self.install(&u, &format!("update for {name}"), Some(name), false, stack);
            }
        }
        stack.pop();
    }
}

fn write_reports(
    dirs: &Dirs,
    report: &Report,
    pkginfos: &BTreeMap<String, Pkginfo>,
) -> Result<(), String> {
    let reports = dirs.reports();
    crate::platform::private_dir(&reports)
        .map_err(|e| format!("cannot create {}: {e}", reports.display()))?;
    let mut json = serde_json::to_vec_pretty(report).expect("report serializes");
    json.push(b'\n');
    write_atomic(&reports.join("report.json"), &json, PRIVATE)
        .map_err(|e| format!("cannot write the report: {e}"))?;
    let plist = crate::report::managed_install_report(report, pkginfos);
    let mut bytes = Vec::new();
    plist
        .to_writer_xml(&mut bytes)
        .map_err(|e| format!("cannot encode the report: {e}"))?;
    write_atomic(&reports.join("ManagedInstallReport.plist"), &bytes, PRIVATE)
        .map_err(|e| format!("cannot write the report: {e}"))
}

pub(crate) fn print_report(report: &Report, format: Format) {
    match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(report).expect("report serializes");
            println!("{text}");
        }
        Format::Human => {
            print!("{}", crate::report::human(report));
            if let Some(updates) = &report.updates {
                print!("{}", crate::updates::human(updates, false));
            }
        }
    }
}

/// The items of the bundle a run would use, with their kinds and descriptions (for
/// `mmc-agent interactive`).
pub(crate) fn list_items(options: &Options) -> Result<Vec<(String, String, String)>, String> {
    let root = Root::new(&options.root)?;
    let dirs = Dirs::new(&root);
    let settings = Settings::load(&dirs)?;
    let now = options.now.unwrap_or_else(Timestamp::now);
    let state = State::load(&dirs)?;
    let picked = crate::trust::pick(options, &settings, &root, &dirs, &state, now)?;
    let (path, archive) = (picked.path, picked.archive);
    let scratch = Scratch::create()?;
    let dir = scratch.path.join("bundle");
    mmc_bundle::extract(&archive, &dir).map_err(|e| format!("{}: {e}", path.display()))?;
    let config = Config::from_json(
        &fs::read(dir.join("config.json"))
            .map_err(|e| format!("the bundle has no config.json: {e}"))?,
    )?;
    let mut items = Vec::new();
    for (name, item) in &config.items {
        let description = match item {
            Item::Package(m) | Item::Script(m) => fs::read(dir.join(&m.pkginfo))
                .ok()
                .and_then(|b| Pkginfo::from_plist(&b).ok())
                .and_then(|p| p.display_name)
                .unwrap_or_default(),
            other => other
                .meta()
                .and_then(|m| m.display_name.clone().or_else(|| m.description.clone()))
                .unwrap_or_default(),
        };
        items.push((name.clone(), item.kind().to_owned(), description));
    }
    Ok(items)
}
