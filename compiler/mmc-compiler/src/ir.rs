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
    /// Which repository file each item, manifest and profile came from.
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
    pub payloads: Vec<Payload>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Payload {
    pub payload_type: String,
    pub identifier: String,
    pub uuid: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub settings: plist::Dictionary,
}
