//! What the agent remembers between runs, and where it keeps it on the Mac.
//!
//! ```text
//! /Library/Application Support/mmc/
//!   agent.json                 settings written by the admin (trusted keys, tool paths, …)
//!   incoming/                  bundles waiting to be applied (NAME-VERSION.tar.gz + .sig)
//!   bundles/NAME-VERSION/      the verified contents of the last applied bundle
//!   cache/                     package payloads, checked by SHA-256
//!   state.json                 the last applied bundle, the rollback floor, every item's last result,
//!                              the profiles the agent installed
//!   trust/PINNED-SHA256.json   the newest root of trust verified from that pinned root (as received)
//!   reports/report.json        the last run, as `run --format json` prints it
//!   reports/ManagedInstallReport.plist   the same, in Munki's report shape
//!   logs/mmc-agent.log         the log (rotated by size: .1, .2, …)
//!   run.lock                   held while a run is under way
//!   scratch/                   scripts while they run
//! ```
//! Every file here is written with [`crate::platform::write_atomic`].

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::platform::{FileSpec, Root, write_atomic};

/// Where the agent keeps its files, on the Mac.
pub const STATE_DIR: &str = "/Library/Application Support/mmc";

/// Version of `state.json`'s layout.
pub const STATE_FORMAT: u32 = 1;

/// The agent's directory under a root.
#[derive(Clone, Debug)]
pub struct Dirs {
    pub base: PathBuf,
}

impl Dirs {
    pub fn new(root: &Root) -> Dirs {
        Dirs {
            base: root.path(STATE_DIR).expect("STATE_DIR is absolute"),
        }
    }
    pub fn settings(&self) -> PathBuf {
        self.base.join("agent.json")
    }
    pub fn incoming(&self) -> PathBuf {
        self.base.join("incoming")
    }
    pub fn bundles(&self) -> PathBuf {
        self.base.join("bundles")
    }
    pub fn cache(&self) -> PathBuf {
        self.base.join("cache")
    }
    pub fn state(&self) -> PathBuf {
        self.base.join("state.json")
    }
    pub fn reports(&self) -> PathBuf {
        self.base.join("reports")
    }
    pub fn logs(&self) -> PathBuf {
        self.base.join("logs")
    }
    pub fn log_file(&self) -> PathBuf {
        self.logs().join("mmc-agent.log")
    }
    pub fn lock(&self) -> PathBuf {
        self.base.join("run.lock")
    }
    pub fn scratch(&self) -> PathBuf {
        self.base.join("scratch")
    }
    /// The newest root of trust this agent verified from the pinned root whose SHA-256 is
    /// `pinned_sha256`, as received.
    pub fn trusted_root(&self, pinned_sha256: &str) -> PathBuf {
        self.base
            .join("trust")
            .join(format!("{pinned_sha256}.json"))
    }
}

/// `state.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub format: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied: Option<Applied>,
    /// Every item's most recent result, by item name.
    #[serde(default)]
    pub items: BTreeMap<String, ItemState>,
    /// The rollback floor: the newest bundle applied, by key epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<Floor>,
    /// The configuration profiles this agent installed (`profiles -I`, macOS 10.15 and
    /// earlier), by identifier: the only profiles it may ever remove.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<String, ProfileState>,
}

/// A profile the agent installed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileState {
    /// SHA-256 of the `.mobileconfig` it installed.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_sha256: Option<String>,
    /// RFC 3339, UTC.
    pub at: String,
}

/// The newest bundle this Mac applied: a bundle of the same epoch must have a higher version,
/// or the same version and the same archive; an older epoch is refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Floor {
    pub epoch: u64,
    pub version: u64,
    /// SHA-256 of the archive, hex.
    pub sha256: String,
}

/// The last bundle a run applied (whatever the items' results).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Applied {
    pub bundle: String,
    pub version: u64,
    /// The key that signed it, and when it expires (for reports of stale runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The directory (under `bundles/`) holding its verified files.
    pub dir: String,
    /// RFC 3339, UTC.
    pub at: String,
    pub manifest: String,
    pub changed: usize,
    pub unchanged: usize,
    pub failed: usize,
    #[serde(default)]
    pub skipped: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemState {
    /// `changed`, `unchanged`, `failed` or `skipped`.
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// RFC 3339, UTC.
    pub at: String,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl State {
    /// Reads `state.json`; a missing file is a fresh Mac.
    pub fn load(dirs: &Dirs) -> Result<State, String> {
        let path = dirs.state();
        match fs::read(&path) {
            Ok(bytes) => {
                let state: State = serde_json::from_slice(&bytes)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                if state.format != STATE_FORMAT {
                    return Err(format!(
                        "{} has layout {}, this agent reads layout {STATE_FORMAT}",
                        path.display(),
                        state.format
                    ));
                }
                Ok(state)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State {
                format: STATE_FORMAT,
                ..State::default()
            }),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    pub fn save(&self, dirs: &Dirs) -> Result<(), String> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("state serializes");
        bytes.push(b'\n');
        write_atomic(&dirs.state(), &bytes, PRIVATE)
            .map_err(|e| format!("cannot write {}: {e}", dirs.state().display()))
    }
}

/// Agent files only root reads: state, reports, logs.
pub const PRIVATE: FileSpec = FileSpec {
    mode: 0o600,
    owner: Some((0, 0)),
};
