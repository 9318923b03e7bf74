//! Which keys may sign bundles on this Mac, and which bundle a run takes.
//!
//! Two ways to trust: plain keys (`trust` in agent.json or `--trust`: any one key signs, keys
//! never expire), or a root of trust (`root` in agent.json or `--trust-root`): the pinned root,
//! or the newest root this agent verified since (`trust/root.json`), walked forward one version
//! at a time through `root-N.json` files found next to the bundles. Its bundle keys, with their
//! thresholds, epochs and expiries, then decide.
//!
//! Every candidate bundle must also clear the rollback floor kept in `state.json`: within a key
//! epoch the version only goes up, the same version must be the same archive (anything else is
//! equivocation), and an older epoch is refused.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use mmc_bundle::{
    BundleKeys, MAX_ARCHIVE_BYTES, MAX_ENVELOPE_BYTES, MAX_ROOT_BYTES, Statement, TrustedRoot,
    VerifyError,
};

use crate::platform::{FileSpec, Root, write_atomic};
use crate::run::Options;
use crate::settings::Settings;
use crate::state::{Dirs, Floor, State};
use crate::verify::read_capped;

/// How many root versions one run walks at most.
const MAX_ROOT_STEPS: u64 = 1024;

/// The bundle a run takes.
pub(crate) struct Picked {
    pub path: PathBuf,
    pub statement: Statement,
    /// The epoch of the key that signed it.
    pub epoch: u64,
    pub archive: Vec<u8>,
    /// Verified bundles older than the one picked (removed after a successful apply).
    pub older: Vec<PathBuf>,
    /// Candidates and roots that were refused while another was taken, and other warnings.
    pub notes: Vec<String>,
}

/// Why no bundle was taken.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Nothing is valid any more only because time ran out (the bundle, its key or the root
    /// expired): the last applied bundle is still enforced, and the run reports "stale".
    Stale(String),
    /// Anything else.
    Refused(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Stale(m) | Refusal::Refused(m) => f.write_str(m),
        }
    }
}

impl From<Refusal> for String {
    fn from(r: Refusal) -> String {
        r.to_string()
    }
}

impl From<String> for Refusal {
    fn from(m: String) -> Refusal {
        Refusal::Refused(m)
    }
}

/// Picks the newest candidate bundle (`--bundle`, else every `.tar.gz` in `incoming/`) that
/// verifies, is for this Mac's audience and clears the floor. With `persist`, newer roots are
/// stored as they are verified.
pub(crate) fn pick(
    options: &Options,
    settings: &Settings,
    root: &Root,
    dirs: &Dirs,
    state: &State,
    now: Timestamp,
    persist: bool,
) -> Result<Picked, Refusal> {
    let mut notes = Vec::new();
    let keys = bundle_keys(options, settings, root, dirs, now, persist, &mut notes)?;
    let candidates = candidates(options, dirs)?;
    let audience = settings.audience.as_deref();

    let mut good: Vec<(PathBuf, mmc_bundle::Verified, Vec<u8>)> = Vec::new();
    let mut errors: Vec<(String, bool)> = Vec::new();
    for path in candidates {
        match verify_one(&path, &keys, now) {
            Ok((v, _)) if audience.is_some_and(|a| a != v.statement.audience) => errors.push((
                format!(
                    "{}: its audience is {}, and this Mac takes only {} (agent.json)",
                    path.display(),
                    v.statement.audience,
                    audience.unwrap_or_default()
                ),
                false,
            )),
            Ok((v, archive)) => match check_floor(state, &v) {
                Ok(()) => good.push((path, v, archive)),
                Err(e) => errors.push((format!("{}: {e}", path.display()), false)),
            },
            Err((e, time)) => errors.push((e, time)),
        }
    }
    let Some(newest) = good
        .iter()
        .enumerate()
        .max_by_key(|(_, (_, v, _))| (v.epoch, v.statement.version))
        .map(|(i, _)| i)
    else {
        let all_time = !errors.is_empty() && errors.iter().all(|(_, time)| *time);
        let message = errors
            .into_iter()
            .map(|(e, _)| e)
            .chain(notes)
            .collect::<Vec<_>>()
            .join("; ");
        return Err(if all_time {
            Refusal::Stale(message)
        } else {
            Refusal::Refused(message)
        });
    };
    let (path, verified, archive) = good.swap_remove(newest);
    let key = (verified.epoch, verified.statement.version);
    let older = good
        .into_iter()
        .filter(|(_, v, _)| (v.epoch, v.statement.version) < key)
        .map(|(p, _, _)| p)
        .collect();
    notes.extend(errors.into_iter().map(|(e, _)| format!("ignored {e}")));
    Ok(Picked {
        path,
        statement: verified.statement,
        epoch: verified.epoch,
        archive,
        older,
        notes,
    })
}

/// The floor a bundle must clear: the state's, or for a Mac last run by an agent that kept
/// none, the last applied version in epoch 0.
fn check_floor(state: &State, v: &mmc_bundle::Verified) -> Result<(), String> {
    let floor = match (&state.floor, &state.last_applied) {
        (Some(f), _) => f.clone(),
        (None, Some(last)) => Floor {
            epoch: 0,
            version: last.version,
            sha256: String::new(),
        },
        (None, None) => return Ok(()),
    };
    let s = &v.statement;
    if v.epoch < floor.epoch {
        return Err(format!(
            "signed by a key of epoch {}, but this Mac has applied a bundle of epoch {}; a retired key cannot sign any more (rollback refused)",
            v.epoch, floor.epoch
        ));
    }
    if v.epoch > floor.epoch {
        return Ok(());
    }
    if s.version < floor.version {
        return Err(format!(
            "version {} is older than version {} this Mac has applied; refusing to roll back",
            s.version, floor.version
        ));
    }
    if s.version == floor.version && !floor.sha256.is_empty() && s.archive.sha256 != floor.sha256 {
        return Err(format!(
            "EQUIVOCATION: version {} was applied with archive {}, and this one is {}; two different bundles were signed with the same version (check the signing key and CI)",
            s.version, floor.sha256, s.archive.sha256
        ));
    }
    Ok(())
}

/// The floor after applying `picked`.
pub(crate) fn floor_of(picked: &Picked) -> Floor {
    Floor {
        epoch: picked.epoch,
        version: picked.statement.version,
        sha256: picked.statement.archive.sha256.clone(),
    }
}

fn candidates(options: &Options, dirs: &Dirs) -> Result<Vec<PathBuf>, String> {
    if let Some(path) = &options.bundle {
        return Ok(vec![path.clone()]);
    }
    let incoming = dirs.incoming();
    let mut found: Vec<PathBuf> = fs::read_dir(&incoming)
        .map_err(|e| {
            format!(
                "no --bundle given and {} cannot be read ({e})",
                incoming.display()
            )
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(format!(
            "no --bundle given and no bundle in {}",
            incoming.display()
        ));
    }
    Ok(found)
}

/// Verifies one candidate; an error says whether only time made it fail.
fn verify_one(
    path: &Path,
    keys: &BundleKeys,
    now: Timestamp,
) -> Result<(mmc_bundle::Verified, Vec<u8>), (String, bool)> {
    let mut signature = path.as_os_str().to_owned();
    signature.push(".sig");
    let envelope = read_capped(
        Path::new(&signature),
        MAX_ENVELOPE_BYTES,
        "signature envelope",
        Some("it is expected next to the bundle, named BUNDLE.sig"),
    )
    .map_err(|e| (e, false))?;
    let archive = read_capped(path, MAX_ARCHIVE_BYTES, "bundle", None).map_err(|e| (e, false))?;
    let verified = mmc_bundle::verify_bundle(&envelope, &archive, keys, now).map_err(|e| {
        let time = matches!(
            e,
            VerifyError::Expired { .. } | VerifyError::KeyExpired { .. }
        );
        (format!("{}: {e}", path.display()), time)
    })?;
    Ok((verified, archive))
}

/// The bundle keys: plain keys, or the newest root's.
fn bundle_keys(
    options: &Options,
    settings: &Settings,
    root: &Root,
    dirs: &Dirs,
    now: Timestamp,
    persist: bool,
    notes: &mut Vec<String>,
) -> Result<BundleKeys, Refusal> {
    let pinned = match (&options.trust_root, &settings.root) {
        (Some(path), _) => Some(path.clone()),
        (None, Some(path)) if options.trust.is_empty() => {
            if !settings.trust.is_empty() {
                return Err(Refusal::Refused(
                    "agent.json sets both \"root\" and \"trust\"; keep one (a root of trust replaces plain keys)".into(),
                ));
            }
            Some(root.path(path)?)
        }
        _ => None,
    };
    let Some(pinned) = pinned else {
        return Ok(BundleKeys::any_of(&plain_keys(options, settings, root)?));
    };
    let mut places = vec![dirs.incoming()];
    places.extend(options.bundle.as_deref().map(beside));
    let stored = dirs.trusted_root();
    let current = walk_roots(&pinned, Some(&stored), &places, persist, notes)?;
    current
        .check_expiry(now)
        .map_err(|e| Refusal::Stale(format!("{e}; sign and ship a new root (mmc root rotate)")))?;
    Ok(current.bundle_keys().clone())
}

/// The folder a file is in (`.` for a bare file name).
pub(crate) fn beside(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The pinned root, the stored one if newer, then each `root-N.json` in `places` that follows;
/// with `persist`, each accepted root is written to `stored`.
pub(crate) fn walk_roots(
    pinned: &Path,
    stored: Option<&Path>,
    places: &[PathBuf],
    persist: bool,
    notes: &mut Vec<String>,
) -> Result<TrustedRoot, Refusal> {
    let read = |path: &Path, what: &str| read_capped(path, MAX_ROOT_BYTES, what, None);
    let mut current = TrustedRoot::pinned(&read(pinned, "pinned root")?)
        .map_err(|e| format!("pinned root {}: {e}", pinned.display()))?;
    if let Some(stored_path) = stored.filter(|p| p.exists()) {
        let stored = TrustedRoot::pinned(&read(stored_path, "stored root")?).map_err(|e| {
            format!(
                "{} is damaged ({e}); restore it from the policy repository's trust/ folder",
                stored_path.display()
            )
        })?;
        if stored.root.version > current.root.version {
            current = stored;
        }
    }
    for _ in 0..MAX_ROOT_STEPS {
        let name = format!("root-{}.json", current.root.version + 1);
        let Some(path) = places.iter().map(|d| d.join(&name)).find(|p| p.is_file()) else {
            break;
        };
        let next = match read(&path, "root")
            .map_err(Refusal::Refused)
            .and_then(|bytes| {
                current
                    .update(&bytes)
                    .map_err(|e| Refusal::Refused(e.to_string()))
            }) {
            Ok(next) => next,
            Err(e) => {
                notes.push(format!(
                    "ignored {}: {e}; staying at root version {}",
                    path.display(),
                    current.root.version
                ));
                break;
            }
        };
        if let (true, Some(stored_path)) = (persist, stored) {
            if let Some(parent) = stored_path.parent() {
                crate::platform::private_dir(parent)
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            write_atomic(stored_path, &next.bytes, ROOT_FILE)
                .map_err(|e| format!("cannot write {}: {e}", stored_path.display()))?;
        }
        current = next;
    }
    Ok(current)
}

/// The stored root: public, but only root may change it.
const ROOT_FILE: FileSpec = FileSpec {
    mode: 0o644,
    owner: Some((0, 0)),
};

/// Plain PEM keys from `--trust` or agent.json's `trust`.
fn plain_keys(
    options: &Options,
    settings: &Settings,
    root: &Root,
) -> Result<Vec<mmc_bundle::VerifyingKey>, String> {
    let paths: Vec<PathBuf> = if options.trust.is_empty() {
        settings
            .trust
            .iter()
            .map(|p| root.path(p))
            .collect::<Result<_, _>>()?
    } else {
        options.trust.clone()
    };
    if paths.is_empty() {
        return Err(
            "no trusted keys: pass --trust PUBKEY or --trust-root ROOT.json, or set \"root\" or \"trust\" in agent.json"
                .into(),
        );
    }
    paths
        .iter()
        .map(|path| {
            let bytes = read_capped(path, 16 * 1024, "trusted key file", None)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| format!("trusted key file {} is not text", path.display()))?;
            mmc_bundle::parse_public_key(&text)
                .map_err(|e| format!("trusted key file {}: {e}", path.display()))
        })
        .collect()
}
