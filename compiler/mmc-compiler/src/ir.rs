//! The span-free intermediate representation of one bundle, after validation and templating.

use std::collections::BTreeMap;

use crate::syntax::model::Kind;

#[derive(Clone, Debug, PartialEq)]
pub struct Bundle {
    pub name: String,
    pub track: String,
    pub audience: String,
    pub expires_after_secs: i64,
    pub org_name: String,
    pub org_prefix: String,
    pub trusted_keys: Vec<String>,
    pub items: BTreeMap<String, Item>,
    pub manifests: BTreeMap<String, Manifest>,
    pub profiles: BTreeMap<String, Profile>,
    /// The update enforcement policies this bundle carries, in name order.
    pub updates: Vec<mmc_config::UpdatePolicy>,
    /// Which repository file each item, manifest, profile and update policy came from.
    pub sources: Sources,
}

/// The repository file (repo-relative path) behind each item, manifest and profile of a bundle,
/// by name (profiles by identifier). `mmc diff` uses it to say where a change was made and to
/// pair a profile whose identifier changed with its old self.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sources {
    pub items: BTreeMap<String, String>,
    pub manifests: BTreeMap<String, String>,
    pub profiles: BTreeMap<String, String>,
    pub updates: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub name: String,
    pub kind: Kind,
    /// Metadata of items Munki does not see (packages and scripts keep theirs in the pkginfo).
    pub meta: Meta,
    pub spec: ItemSpec,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Meta {
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub developer: Option<String>,
    pub notes: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ItemSpec {
    /// Munki pkginfo keys and values (packages and scripts, which Munki calls `nopkg`).
    Pkginfo(plist::Dictionary),
    Preference {
        domain: String,
        scope: mmc_config::PrefScope,
        values: plist::Dictionary,
    },
    File {
        path: String,
        content: String,
        mode: u32,
        owner: String,
        group: String,
    },
    /// A launchd daemon: its job keys, `Label` not among them (emit adds it).
    Launchd {
        label: String,
        job: plist::Dictionary,
    },
}

/// A manifest: what the bundle carries for the agent, and the text Munki shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub spec: mmc_manifest::Manifest,
    pub display_name: Option<String>,
    pub notes: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub identifier: String,
    pub uuid: String,
    pub display_name: String,
    pub description: Option<String>,
    pub organization: String,
    pub scope: &'static str,
    pub removal_disallowed: Option<bool>,
    /// ConsentText, by language code.
    pub consent_text: Option<BTreeMap<String, String>>,
    pub target_device_type: Option<i64>,
    /// RemovalDate, `YYYY-MM-DDTHH:MM:SSZ`.
    pub removal_date: Option<String>,
    /// DurationUntilRemoval, seconds.
    pub duration_until_removal: Option<f64>,
    /// PayloadExpirationDate, `YYYY-MM-DDTHH:MM:SSZ`.
    pub expiration_date: Option<String>,
    pub has_removal_passcode: Option<bool>,
    pub payloads: Vec<Payload>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Payload {
    pub payload_type: String,
    pub identifier: String,
    pub uuid: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub organization: Option<String>,
    pub settings: plist::Dictionary,
}

/// An update enforcement policy after validation: what bundles carry, and what the Nudge and DDM
/// files under `build/mdm/updates/` need besides.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdatePolicy {
    /// The repository file it came from.
    pub file: String,
    /// Tracks whose bundles carry it; `None` for every track.
    pub tracks: Option<Vec<String>>,
    /// As `config.json` carries it (templates rendered, condition canonical, deadline in UTC).
    pub config: mmc_config::UpdatePolicy,
    /// The deadline as written, in its own offset, moved out of the work hours as the agent moves
    /// it on a Mac in that offset: DDM wants a local time, Nudge a UTC one.
    pub local_deadline: Option<LocalDeadline>,
    pub details_url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalDeadline {
    pub datetime: jiff::civil::DateTime,
    pub offset: jiff::tz::Offset,
}

impl LocalDeadline {
    pub fn timestamp(&self) -> jiff::Timestamp {
        self.offset
            .to_timestamp(self.datetime)
            .expect("validated when the policy was lowered")
    }
}
