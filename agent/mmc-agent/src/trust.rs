//! Which keys may sign bundles on this Mac, and which bundle a run takes.
//!
//! Two ways to trust: plain keys (`trust` in agent.json or `--trust`: any one key signs, keys
//! never expire), or a root of trust (`root` in agent.json or `--trust-root`): the pinned root,
//! or the newest root this agent verified since (`trust/PINNED-SHA256.json`), walked forward one version
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
    /// A root newer than the stored one, verified on the way: where to store it and its bytes,
    /// for the caller to persist once the run has applied the bundle (never on a refused run).
    pub new_root: Option<(PathBuf, Vec<u8>)>,
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
/// verifies, is for this Mac's audience and clears the floor. Writes nothing.
pub(crate) fn pick(
    options: &Options,
    settings: &Settings,
    root: &Root,
    dirs: &Dirs,
    state: &State,
    now: Timestamp,
) -> Result<Picked, Refusal> {
    let mut notes = Vec::new();
    let trust = bundle_keys(options, settings, root, dirs, now, &mut notes)?;
    let candidates = candidates(options, dirs)?;
    let audience = settings.audience.as_deref();
    // What a candidate must satisfy besides its signatures and times.
    let admissible = |path: &Path, v: &mmc_bundle::Verified| -> Result<(), String> {
        if let Some(a) = audience.filter(|a| *a != v.statement.audience) {
            return Err(format!(
                "{}: its audience is {}, and this Mac takes only {a} (agent.json)",
                path.display(),
                v.statement.audience
            ));
        }
        check_floor(state, v).map_err(|e| format!("{}: {e}", path.display()))
    };

    let mut good: Vec<(PathBuf, mmc_bundle::Verified, Vec<u8>)> = Vec::new();
    // Each refusal, and whether only time caused it (then the run is stale, not refused).
    let mut errors: Vec<(String, bool)> = Vec::new();
    for path in candidates {
        match verify_one(&path, &trust.keys, now) {
            Ok((v, archive)) => match (admissible(&path, &v), &trust.root_expired) {
                (Err(e), _) => errors.push((e, false)),
                (Ok(()), Some(why)) => errors.push((format!("{}: {why}", path.display()), true)),
                (Ok(()), None) => good.push((path, v, archive)),
            },
            Err(Failure::Time(e, untimed)) => match admissible(&path, &untimed) {
                Err(other) => errors.push((other, false)),
                Ok(()) => errors.push((e, true)),
            },
            Err(Failure::Other(e)) => errors.push((e, false)),
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
    // Two different archives signed with the same version, side by side: equivocation too.
    if let Some((other, _, _)) = good.iter().find(|(_, v, _)| {
        (v.epoch, v.statement.version) == key
            && v.statement.archive.sha256 != verified.statement.archive.sha256
    }) {
        return Err(Refusal::Refused(format!(
            "EQUIVOCATION: {} and {} are two different bundles signed with version {}; refusing both (check the signing key and CI)",
            path.display(),
            other.display(),
            key.1
        )));
    }
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
        new_root: trust.new_root,
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

/// Why a candidate failed.
enum Failure {
    /// Only time: the bundle or its key expired. With the statement as verified without time,
    /// so the caller can tell whether anything else would refuse it.
    Time(String, Box<mmc_bundle::Verified>),
    Other(String),
}

/// Verifies one candidate.
fn verify_one(
    path: &Path,
    keys: &BundleKeys,
    now: Timestamp,
) -> Result<(mmc_bundle::Verified, Vec<u8>), Failure> {
    let mut signature = path.as_os_str().to_owned();
    signature.push(".sig");
    let envelope = read_capped(
        Path::new(&signature),
        MAX_ENVELOPE_BYTES,
        "signature envelope",
        Some("it is expected next to the bundle, named BUNDLE.sig"),
    )
    .map_err(Failure::Other)?;
    let archive = read_capped(path, MAX_ARCHIVE_BYTES, "bundle", None).map_err(Failure::Other)?;
    match mmc_bundle::verify_bundle(&envelope, &archive, keys, now) {
        Ok(verified) => Ok((verified, archive)),
        Err(e @ (VerifyError::Expired { .. } | VerifyError::KeyExpired { .. })) => {
            let message = format!("{}: {e}", path.display());
            match mmc_bundle::verify_bundle_untimed(&envelope, &archive, keys) {
                Ok(untimed) => Err(Failure::Time(message, Box::new(untimed))),
                Err(_) => Err(Failure::Other(message)),
            }
        }
        Err(e) => Err(Failure::Other(format!("{}: {e}", path.display()))),
    }
}

/// The keys that sign bundles on this Mac, and what the root walk found.
struct Trust {
    keys: BundleKeys,
    /// Set when the newest root has expired: every bundle under it is refused, for time.
    root_expired: Option<String>,
    new_root: Option<(PathBuf, Vec<u8>)>,
}

/// The bundle keys: plain keys, or the newest root's.
fn bundle_keys(
    options: &Options,
    settings: &Settings,
    root: &Root,
    dirs: &Dirs,
    now: Timestamp,
    notes: &mut Vec<String>,
) -> Result<Trust, Refusal> {
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
        return Ok(Trust {
            keys: BundleKeys::any_of(&plain_keys(options, settings, root)?),
            root_expired: None,
            new_root: None,
        });
    };
    let mut places = vec![dirs.incoming()];
    places.extend(options.bundle.as_deref().map(beside));
    let pinned_bytes = read_capped(&pinned, MAX_ROOT_BYTES, "pinned root", None)?;
    // Stored per pinned root: a root reached from another pinned root is never taken.
    let stored = dirs.trusted_root(&mmc_bundle::sha256_hex(&pinned_bytes));
    let (current, advanced) = walk_roots(&pinned, &pinned_bytes, Some(&stored), &places, notes)?;
    let root_expired = current
        .check_expiry(now)
        .err()
        .map(|e| format!("{e}; sign and ship a new root (mmc root rotate)"));
    Ok(Trust {
        keys: current.bundle_keys().clone(),
        root_expired,
        new_root: advanced.then(|| (stored, current.bytes.clone())),
    })
}

/// The folder a file is in (`.` for a bare file name).
pub(crate) fn beside(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The pinned root (`pinned_bytes`, read from `pinned`), the stored one if newer, then each
/// `root-N.json` in `places` that follows. Also says whether the walk went past the stored root
/// (what the caller stores once the run succeeded).
pub(crate) fn walk_roots(
    pinned: &Path,
    pinned_bytes: &[u8],
    stored: Option<&Path>,
    places: &[PathBuf],
    notes: &mut Vec<String>,
) -> Result<(TrustedRoot, bool), Refusal> {
    let read = |path: &Path, what: &str| read_capped(path, MAX_ROOT_BYTES, what, None);
    let mut current = TrustedRoot::pinned(pinned_bytes)
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
    let mut advanced = false;
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
        current = next;
        advanced = true;
    }
    Ok((current, advanced))
}

/// Stores the root a successful run walked to (see [`Picked::new_root`]).
pub(crate) fn store_root(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        crate::platform::private_dir(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    write_atomic(path, bytes, ROOT_FILE)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
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
