//! What a bundle asks of a Mac: the layout of `config.json`, Munki's pkginfo as the agent reads
//! it, and Munki 7's version comparison.
//!
//! This is the contract between the two halves of mmc. The compiler serializes [`Config`]; the
//! agent deserializes it and refuses a `format` it does not know. Unknown fields are refused too,
//! so a newer compiler cannot slip a setting past an older agent that would silently ignore it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use mmc_manifest::Manifest;

pub mod messages;
pub mod payload;
pub mod version;

/// Version of `config.json`'s layout.
pub const FORMAT: u32 = 2;

/// `config.json`, at the root of every bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub format: u32,
    pub org: Org,
    pub bundle: BundleInfo,
    /// Key ids (hex SHA-256 of the public key) the policy repository trusts.
    pub trusted_keys: Vec<String>,
    pub items: BTreeMap<String, Item>,
    /// The manifests, as [`mmc_manifest::resolve`] reads them.
    pub manifests: BTreeMap<String, Manifest>,
    /// Where Munki's copy of each manifest lies in the bundle.
    pub munki_manifests: BTreeMap<String, String>,
    pub profiles: BTreeMap<String, ProfileRef>,
    /// Apple software update enforcement (install-or-defer), in the order written; the first
    /// policy whose condition holds applies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub updates: Vec<UpdatePolicy>,
}

/// One update enforcement policy: which Apple updates are required, how long a user may defer
/// them, and what the prompts say. Times are seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatePolicy {
    pub name: String,
    /// An NSPredicate over the facts; absent means every Mac.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    pub require: Requirement,
    /// An absolute deadline (RFC 3339). When absent, the deadline is the first time the
    /// required updates were seen plus `max_deferral_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    pub max_deferral_secs: u64,
    /// After a deferral, the next prompt comes this much later.
    pub reprompt_secs: u64,
    /// Past the deadline, how long the non-dismissible prompt waits before installing anyway.
    pub prompt_timeout_secs: u64,
    /// After a soft restart is asked for, how long before a forced restart.
    pub restart_delay_secs: u64,
    /// Local hours `[start, end)`: a deadline falling inside them moves to `end` that day, so
    /// that forced installs do not interrupt a working day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_hours: Option<WorkHours>,
    /// Enforce at once, without any deferral (for testing the workflow).
    #[serde(default)]
    pub skip_deferral: bool,
    pub notifier: Notifier,
    pub messages: UpdateMessages,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_contact: Option<String>,
}

/// Which updates a policy requires.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Requirement {
    /// macOS at least this version: the `softwareupdate` updates that lead there (titles
    /// starting with macOS) are required while the Mac's `os_vers` is lower.
    OsVersion { version: String },
    /// Every update `softwareupdate --list` marks recommended or needing a restart.
    Recommended,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkHours {
    /// 0–23.
    pub start: u8,
    /// 1–24, after `start`.
    pub end: u8,
}

/// The program that shows prompts, and what its exit statuses mean.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notifier {
    /// Absolute path, e.g. `/usr/local/bin/dialog` (swiftDialog) or
    /// `/Library/Application Support/JAMF/bin/jamfHelper.app/Contents/MacOS/jamfHelper`.
    pub program: String,
    /// Arguments; `%TITLE%`, `%MESSAGE%`, `%TIMEOUT%` (seconds, 0 for none), `%INSTALL%` and
    /// `%DEFER%` (button labels) are replaced, each argument as a whole string.
    pub args: Vec<String>,
    /// Exit statuses meaning "install now" and "defer"; any other status means the prompt
    /// timed out or was dismissed.
    pub install_exit: Vec<i32>,
    pub defer_exit: Vec<i32>,
}

/// Prompt texts. In them, `%HOURS%` (hours left before the deadline), `%DEADLINE%`,
/// `%UPDATES%` (the update titles, one a line) and `%SUPPORT%` are replaced; a part between
/// `[restart]` and `[/restart]` is kept only when an update needs a restart, and a part between
/// `[deferrable]` and `[/deferrable]` only while the user may still defer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateMessages {
    pub title: String,
    /// Shown while the user may defer.
    pub prompt: String,
    /// Shown past the deadline (no deferral).
    pub deadline: String,
    pub install_button: String,
    pub defer_button: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Org {
    pub name: String,
    pub identifier_prefix: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleInfo {
    pub name: String,
    pub track: String,
    pub audience: String,
}

/// One item, by kind. Paths named `pkginfo`, `values` and `plist` are files inside the bundle;
/// `path` is a path on the Mac.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Item {
    /// A package installed by Munki's rules.
    Package(Munki),
    /// A check script and a remediation script (Munki's `nopkg`).
    Script(Munki),
    Preference(Preference),
    File(File),
    Launchd(Launchd),
}

impl Item {
    pub fn kind(&self) -> &'static str {
        match self {
            Item::Package(_) => "package",
            Item::Script(_) => "script",
            Item::Preference(_) => "preference",
            Item::File(_) => "file",
            Item::Launchd(_) => "launchd",
        }
    }

    /// Descriptive text for items Munki does not see (packages and scripts keep theirs in the
    /// pkginfo).
    pub fn meta(&self) -> Option<&Meta> {
        match self {
            Item::Package(_) | Item::Script(_) => None,
            Item::Preference(p) => Some(&p.meta),
            Item::File(f) => Some(&f.meta),
            Item::Launchd(l) => Some(&l.meta),
        }
    }
}

/// A package or script item: Munki's pkginfo says everything.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Munki {
    pub version: String,
    /// The pkginfo plist in the bundle.
    pub pkginfo: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub developer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl Meta {
    pub fn is_empty(&self) -> bool {
        *self == Meta::default()
    }
}

/// Managed keys of a preference domain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preference {
    pub domain: String,
    pub scope: PrefScope,
    /// A plist dictionary in the bundle: the managed keys and their values.
    pub values: String,
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrefScope {
    /// `/Library/Preferences/DOMAIN.plist`.
    System,
    /// `~/Library/Preferences/DOMAIN.plist` of every user with a home under `/Users`.
    User,
}

/// A file with fixed content, mode and owner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub path: String,
    pub content: String,
    /// Octal permission bits as text, e.g. `0644`.
    pub mode: String,
    pub owner: String,
    pub group: String,
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
}

impl File {
    /// The permission bits, if `mode` is octal text no larger than `07777`.
    pub fn mode_bits(&self) -> Option<u32> {
        parse_mode(&self.mode)
    }
}

/// Octal permission bits (`"0644"`, `"755"`), at most `07777`.
pub fn parse_mode(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(text, 8).ok().filter(|m| *m <= 0o7777)
}

/// A launchd daemon: its plist goes to `/Library/LaunchDaemons/LABEL.plist` and is bootstrapped
/// into the system domain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Launchd {
    pub label: String,
    /// The job's plist in the bundle, `Label` included.
    pub plist: String,
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
}

impl Launchd {
    /// Where the job's plist lives on the Mac.
    pub fn path(&self) -> String {
        format!("/Library/LaunchDaemons/{}.plist", self.label)
    }
}

/// A configuration profile the bundle carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRef {
    /// The `.mobileconfig` in the bundle.
    pub file: String,
    pub uuid: String,
    pub scope: String,
    /// SHA-256 of the `.mobileconfig`, hex.
    pub sha256: String,
    /// [`payload::of_mobileconfig`] of the profile: what the agent compares with the installed
    /// profile's payloads to tell `outdated` from `installed`. Optional, so `format` stays 2;
    /// the compiler always writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_sha256: Option<String>,
}

impl Config {
    /// Reads `config.json`, refusing a layout this code does not know.
    pub fn from_json(bytes: &[u8]) -> Result<Config, String> {
        #[derive(Deserialize)]
        struct Head {
            format: u32,
        }
        let head: Head = serde_json::from_slice(bytes)
            .map_err(|e| format!("config.json is not a bundle configuration: {e}"))?;
        if head.format != FORMAT {
            return Err(format!(
                "config.json has layout {}, this agent reads layout {FORMAT}; install the mmc-agent that matches the compiler",
                head.format
            ));
        }
        serde_json::from_slice(bytes).map_err(|e| format!("config.json: {e}"))
    }

    /// `config.json`'s bytes: pretty JSON and a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a config serializes");
        bytes.push(b'\n');
        bytes
    }
}

/// A Munki pkginfo, with the keys the agent acts on. Unknown keys are ignored, as Munki does.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Pkginfo {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub installer_type: Option<String>,
    #[serde(default)]
    pub installer_item_location: Option<String>,
    #[serde(default)]
    pub installer_item_hash: Option<String>,
    #[serde(default)]
    pub installer_item_size: Option<u64>,
    #[serde(default)]
    pub installer_choices_xml: Option<plist::Value>,
    #[serde(default)]
    pub allow_untrusted: Option<bool>,
    /// Each entry as written: Munki reads arbitrary keys of it (`version_comparison_key`).
    #[serde(default)]
    pub installs: Option<Vec<plist::Dictionary>>,
    #[serde(default)]
    pub receipts: Option<Vec<plist::Dictionary>>,
    #[serde(default, rename = "OnDemand")]
    pub on_demand: Option<bool>,
    #[serde(default)]
    pub installcheck_script: Option<String>,
    #[serde(default)]
    pub uninstallcheck_script: Option<String>,
    #[serde(default)]
    pub version_script: Option<String>,
    #[serde(default)]
    pub preinstall_script: Option<String>,
    #[serde(default)]
    pub postinstall_script: Option<String>,
    #[serde(default)]
    pub preuninstall_script: Option<String>,
    #[serde(default)]
    pub postuninstall_script: Option<String>,
    #[serde(default)]
    pub uninstall_script: Option<String>,
    #[serde(default)]
    pub uninstall_method: Option<String>,
    #[serde(default)]
    pub uninstaller_item_location: Option<String>,
    #[serde(default)]
    pub uninstaller_item_hash: Option<String>,
    /// What a `copy_from_dmg` install copied, which `remove_copied_items` removes.
    #[serde(default)]
    pub items_to_copy: Option<Vec<plist::Dictionary>>,
    #[serde(default)]
    pub uninstallable: Option<bool>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub requires: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub update_for: Vec<String>,
    #[serde(default)]
    pub minimum_os_version: Option<String>,
    #[serde(default)]
    pub maximum_os_version: Option<String>,
    #[serde(default)]
    pub supported_architectures: Vec<String>,
    #[serde(default)]
    pub installable_condition: Option<String>,
    #[serde(default, rename = "RestartAction")]
    pub restart_action: Option<String>,
    #[serde(default)]
    pub unattended_install: Option<bool>,
    #[serde(default)]
    pub blocking_applications: Option<Vec<String>>,
}

impl Pkginfo {
    pub fn from_plist(bytes: &[u8]) -> Result<Pkginfo, String> {
        plist::from_bytes(bytes).map_err(|e| format!("not a pkginfo: {e}"))
    }
}

/// Munki accepts `requires: name` as well as a list.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

#[cfg(test)]
mod tests;
