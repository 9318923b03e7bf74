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
        scope: &'static str,
        values: plist::Dictionary,
    },
    File {
        path: String,
        content: String,
        mode: u32,
        owner: String,
        group: String,
    },
}

/// Munki manifest keys, in the order Munki processes them.
pub const MANIFEST_KEYS: [&str; 6] = [
    "managed_installs",
    "managed_uninstalls",
    "managed_updates",
    "optional_installs",
    "featured_items",
    "default_installs",
];

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Manifest {
    pub catalogs: Vec<String>,
    pub included_manifests: Vec<String>,
    /// One list per entry of [`MANIFEST_KEYS`], in that order.
    pub lists: BTreeMap<&'static str, Vec<String>>,
    pub conditional_items: Vec<Conditional>,
    pub display_name: Option<String>,
    pub notes: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Conditional {
    pub condition: String,
    pub body: Manifest,
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
