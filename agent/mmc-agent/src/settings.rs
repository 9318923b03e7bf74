//! The installed agent's own settings: `/Library/Application Support/mmc/agent.json`, written
//! by the package that installs the agent. Command-line flags override each of them.
//!
//! ```json
//! {
//!   "audience": "com.example:stable",
//!   "root": "/Library/Application Support/mmc/root.json",
//!   "packages": "https://munki.example.com/repo/pkgs",
//!   "manifest": "site_default",
//!   "tools": { "installer": "/usr/sbin/installer" },
//!   "script_timeout_secs": 600,
//!   "tool_timeout_secs": 7200,
//!   "log_max_bytes": 1048576,
//!   "log_keep": 4
//! }
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use serde::Deserialize;

use crate::state::Dirs;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The only bundle audience this Mac takes (e.g. `com.example:stable`), so that a
    /// bundle signed for another ring is refused even though the signature is good.
    #[serde(default)]
    pub audience: Option<String>,
    /// The pinned root of trust (`mmc root init`; a path on the Mac, installed with the
    /// agent): its bundle keys sign bundles, and newer roots found next to bundles are walked
    /// one version at a time. Either this or `trust`.
    #[serde(default)]
    pub root: Option<String>,
    /// PEM public keys that may sign bundles (paths on the Mac), for a fleet without a root of
    /// trust: any one key suffices, and keys never expire or rotate. Either this or `root`.
    #[serde(default)]
    pub trust: Vec<String>,
    /// Where package payloads come from: a directory on the Mac, or an `https://` (or
    /// `file://`) URL, to which each item's `installer_item_location` is appended.
    #[serde(default)]
    pub packages: Option<String>,
    /// The primary manifest. Default: Munki's choice among the bundle's manifests (the
    /// hostname, the short hostname, the serial number, then `site_default`).
    #[serde(default)]
    pub manifest: Option<String>,
    /// Paths of macOS tools by name (`installer`, `pkgutil`, …), replacing the defaults.
    #[serde(default)]
    pub tools: BTreeMap<String, PathBuf>,
    /// How long a script may run [default: 600].
    #[serde(default)]
    pub script_timeout_secs: Option<u64>,
    /// How long a macOS tool (installer, curl, …) may run [default: 7200].
    #[serde(default)]
    pub tool_timeout_secs: Option<u64>,
    #[serde(default)]
    pub log_max_bytes: Option<u64>,
    #[serde(default)]
    pub log_keep: Option<u32>,
}

impl Settings {
    /// Reads the settings; a missing file means defaults.
    pub fn load(dirs: &Dirs) -> Result<Settings, String> {
        let path = dirs.settings();
        match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }
}
