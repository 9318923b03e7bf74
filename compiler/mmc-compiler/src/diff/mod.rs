//! `mmc diff`: what a policy change does to the compiled bundles, as a change tree.
//!
//! Both revisions have gone through [`crate::compile`]; this module compares what they emitted,
//! bundle by bundle, never the YAML. A reordered key, a comment or another quoting style emits
//! the same bytes and so reports nothing. The tree is one model with several renderers
//! ([`render`]): human text, a markdown pull-request comment, and versioned JSON.
//!
//! Per bundle, the tree holds one [`Resource`] per thing that changes: the bundle's own settings,
//! items (by name), manifests (by name) and profiles (by identifier, paired by source file when
//! the identifier itself changes). Each carries an [`Action`] and its field-level changes. New
//! kinds of policy (update enforcement: [`ResourceKind::Update`]) become a new [`ResourceKind`] and
//! one more differ in [`diff_bundle`]; the renderers need no change.
//!
//! Invariant: a bundle is reported unchanged exactly when its files and its settings are
//! identical on both sides. Should a byte difference escape the structured differs, it is still
//! reported, as [`ResourceKind::Files`].

mod impact;
pub mod render;
mod value;

use std::collections::{BTreeMap, BTreeSet};

use mmc_config as config;
use mmc_manifest::Manifest;
use plist::Value as Pv;
use serde::Serialize;
use serde_json::Value as Json;

use crate::BundleOutput;

pub use impact::{Fleet, Machine};

/// Version of the JSON document `mmc diff --format json` prints.
pub const SCHEMA_VERSION: u32 = 1;

/// One side of the comparison, as the CLI describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Side {
    /// `BASE` or `HEAD`.
    pub role: String,
    /// What the user named (`origin/main`, `HEAD~1`) or `work tree`.
    pub revision: String,
    /// Abbreviated commit id, when the side is a commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The bundle version this side builds as: the commit's committer time. `None` for a work
    /// tree with uncommitted policy changes (its version is the time of the commit to come).
    pub version: Option<u64>,
}

impl Side {
    /// `BASE main (a1b2c3d)`, `HEAD work tree`.
    pub fn label(&self) -> String {
        match &self.commit {
            Some(c) if *c != self.revision && self.revision != self.role => {
                format!("{} {} ({c})", self.role, self.revision)
            }
            Some(c) => format!("{} ({c})", self.role),
            None => format!("{} {}", self.role, self.revision),
        }
    }
}

/// The whole comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Diff {
    /// [`SCHEMA_VERSION`].
    pub version: u32,
    pub base: Side,
    pub head: Side,
    /// Whether anything changed (the exit status: 1 when true, 0 when false).
    pub changed: bool,
    pub summary: Counts,
    /// Every bundle of either side, in `mmc.yaml` order (HEAD's, then bundles only BASE has).
    pub bundles: Vec<BundleDiff>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
}

impl Counts {
    fn add(&mut self, action: Action) {
        match action {
            Action::Create => self.create += 1,
            Action::Update => self.update += 1,
            Action::Replace => self.replace += 1,
            Action::Delete => self.delete += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.create + self.update + self.replace + self.delete
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    /// Changed in place (for a profile: macOS updates the installed profile).
    Update,
    /// Removed and created anew (for a profile: a new identity, so macOS reinstalls it).
    Replace,
    Delete,
}

/// One bundle's part of the comparison.
#[derive(Clone, Debug, Serialize)]
pub struct BundleDiff {
    pub name: String,
    /// `None`: the bundle exists on both sides with identical content.
    pub action: Option<Action>,
    /// Bundle versions, reported only when the content changed: the version is the commit time,
    /// so it moves with every commit, cosmetic ones included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Pair<Option<u64>>>,
    /// SHA-256 of the bundle archive on each side (as `mmc build` would write it; the archive
    /// does not depend on the version or time).
    pub sha256: Pair<Option<String>>,
    pub summary: Counts,
    pub changes: Vec<Resource>,
    /// With facts (`--facts DIR`): which machines this bundle's changes reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machines: Option<impact::MachinesImpact>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pair<T> {
    pub before: T,
    pub after: T,
}

/// What a resource is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// The bundle's own settings (track, audience, expiry, trusted keys, organisation).
    Bundle,
    Package,
    Script,
    Preference,
    File,
    Launchd,
    Manifest,
    Profile,
    /// An update enforcement policy (`config.json`'s `updates`), by name.
    Update,
    /// Bundle files whose change no structured differ explained (should not happen).
    Files,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Bundle => "bundle",
            ResourceKind::Package => "package",
            ResourceKind::Script => "script",
            ResourceKind::Preference => "preference",
            ResourceKind::File => "file",
            ResourceKind::Launchd => "launchd",
            ResourceKind::Manifest => "manifest",
            ResourceKind::Profile => "profile",
            ResourceKind::Update => "update",
            ResourceKind::Files => "files",
        }
    }

    fn of_item(item: &config::Item) -> ResourceKind {
        match item {
            config::Item::Package(_) => ResourceKind::Package,
            config::Item::Script(_) => ResourceKind::Script,
            config::Item::Preference(_) => ResourceKind::Preference,
            config::Item::File(_) => ResourceKind::File,
            config::Item::Launchd(_) => ResourceKind::Launchd,
        }
    }
}

/// One thing that changes in a bundle.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Resource {
    pub kind: ResourceKind,
    /// Item or manifest name, profile identifier.
    pub name: String,
    pub action: Action,
    /// The repository file that defines it (HEAD's; BASE's for a removal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Why a replacement is a replacement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub fields: Vec<Field>,
    /// Top-level keys that did not change (folded in the human and markdown forms).
    pub unchanged: usize,
    /// Where an item change takes effect: the manifests and conditions that name it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reach: Option<impact::Reach>,
}

/// A change at one path inside a resource: `version`, `installs[0].CFBundleVersion`,
/// `PayloadContent[com.apple.screensaver].idleTime`, `if machine_type == "laptop" › managed_installs`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Field {
    pub path: String,
    #[serde(flatten)]
    pub change: FieldChange,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum FieldChange {
    Added {
        after: Json,
    },
    Removed {
        before: Json,
    },
    Changed {
        before: Json,
        after: Json,
    },
    /// Text of several lines (scripts, file contents): both texts and a unified diff.
    Text {
        before: Option<String>,
        after: Option<String>,
        diff: String,
    },
    /// Names added to or removed from a list (manifest lists, included manifests).
    Members {
        added: Vec<String>,
        removed: Vec<String>,
    },
}

/// Compares two compiles. `fleet` adds the machines each bundle's changes reach.
pub fn diff(
    base: Side,
    base_bundles: &[BundleOutput],
    head: Side,
    head_bundles: &[BundleOutput],
    fleet: Option<&Fleet>,
) -> Diff {
    let mut names: Vec<&str> = head_bundles.iter().map(|b| b.name.as_str()).collect();
    for b in base_bundles {
        if !names.contains(&b.name.as_str()) {
            names.push(&b.name);
        }
    }
    let mut bundles = Vec::new();
    let mut summary = Counts::default();
    for name in names {
        let a = base_bundles.iter().find(|b| b.name == name);
        let b = head_bundles.iter().find(|b| b.name == name);
        let mut d = diff_bundle(name, a, b);
        if d.action.is_some() {
            d.version = Some(Pair {
                before: a.and(base.version),
                after: b.and(head.version),
            });
        }
        if let Some(fleet) = fleet
            && d.action.is_some()
        {
            d.machines = impact::machines(fleet, a, b, &d.changes);
        }
        summary.create += d.summary.create;
        summary.update += d.summary.update;
        summary.replace += d.summary.replace;
        summary.delete += d.summary.delete;
        bundles.push(d);
    }
    Diff {
        version: SCHEMA_VERSION,
        changed: bundles.iter().any(|b| b.action.is_some()),
        base,
        head,
        summary,
        bundles,
    }
}

/// The archive's SHA-256, as `mmc build` writes the archive.
fn archive_sha256(b: &BundleOutput) -> Option<String> {
    mmc_bundle::write_archive(&b.files)
        .ok()
        .map(|a| mmc_bundle::sha256_hex(&a))
}

/// An empty bundle stands in for the missing side of a bundle that is added or removed.
fn empty_like(b: &BundleOutput) -> BundleOutput {
    BundleOutput {
        name: b.name.clone(),
        track: String::new(),
        audience: String::new(),
        expires_after_secs: 0,
        trusted_keys: Vec::new(),
        files: BTreeMap::new(),
        manifests: BTreeMap::new(),
        sources: Default::default(),
    }
}

fn same_settings(a: &BundleOutput, b: &BundleOutput) -> bool {
    a.track == b.track
        && a.audience == b.audience
        && a.expires_after_secs == b.expires_after_secs
        && a.trusted_keys == b.trusted_keys
}

/// Compares one bundle; either side may be missing.
pub fn diff_bundle(name: &str, a: Option<&BundleOutput>, b: Option<&BundleOutput>) -> BundleDiff {
    let (ea, eb);
    let (base, head) = match (a, b) {
        (Some(a), Some(b)) => (a, b),
        (None, Some(b)) => {
            ea = empty_like(b);
            (&ea, b)
        }
        (Some(a), None) => {
            eb = empty_like(a);
            (a, &eb)
        }
        (None, None) => unreachable!("a bundle comes from one side at least"),
    };
    let unchanged =
        a.is_some() && b.is_some() && base.files == head.files && same_settings(base, head);
    if unchanged {
        let sha = archive_sha256(head);
        return BundleDiff {
            name: name.to_owned(),
            action: None,
            version: None,
            sha256: Pair {
                before: sha.clone(),
                after: sha,
            },
            summary: Counts::default(),
            changes: Vec::new(),
            machines: None,
        };
    }

    let ca = load_config(base);
    let cb = load_config(head);
    let mut changes = Vec::new();
    changes.extend(settings(base, head, ca.as_ref(), cb.as_ref()));
    if let (Ok(ca), Ok(cb)) = (&ca, &cb) {
        items(base, head, ca, cb, &mut changes);
        manifests(base, head, ca, cb, &mut changes);
        profiles(base, head, ca, cb, &mut changes);
        updates(base, head, ca, cb, &mut changes);
    }
    if changes.is_empty() {
        changes.push(files_fallback(base, head));
    }
    impact::reach(base, head, &mut changes);
    let mut summary = Counts::default();
    for c in &changes {
        summary.add(c.action);
    }
    BundleDiff {
        name: name.to_owned(),
        action: Some(match (a, b) {
            (None, _) => Action::Create,
            (_, None) => Action::Delete,
            _ => Action::Update,
        }),
        version: None,
        sha256: Pair {
            before: a.and_then(archive_sha256),
            after: b.and_then(archive_sha256),
        },
        summary,
        changes,
        machines: None,
    }
}

/// A bundle side's `config.json`; an empty stand-in bundle has an empty config.
fn load_config(b: &BundleOutput) -> Result<config::Config, String> {
    match b.files.get("config.json") {
        Some(bytes) => config::Config::from_json(bytes),
        None if b.files.is_empty() => Ok(config::Config {
            format: config::FORMAT,
            org: config::Org {
                name: String::new(),
                identifier_prefix: String::new(),
            },
            bundle: config::BundleInfo {
                name: b.name.clone(),
                track: String::new(),
                audience: String::new(),
            },
            trusted_keys: Vec::new(),
            items: BTreeMap::new(),
            manifests: BTreeMap::new(),
            munki_manifests: BTreeMap::new(),
            profiles: BTreeMap::new(),
            updates: Vec::new(),
        }),
        None => Err("the bundle has no config.json".to_owned()),
    }
}

fn s(v: &str) -> Option<Pv> {
    (!v.is_empty()).then(|| Pv::String(v.to_owned()))
}

/// The bundle's own settings as one resource.
fn settings(
    a: &BundleOutput,
    b: &BundleOutput,
    ca: Result<&config::Config, &String>,
    cb: Result<&config::Config, &String>,
) -> Option<Resource> {
    let doc = |bo: &BundleOutput, c: Result<&config::Config, &String>| {
        let mut d = plist::Dictionary::new();
        if bo.files.is_empty() {
            return d;
        }
        let mut put = |k: &str, v: Option<Pv>| {
            if let Some(v) = v {
                d.insert(k.to_owned(), v);
            }
        };
        put("track", s(&bo.track));
        put("audience", s(&bo.audience));
        put("expires_after", s(&duration(bo.expires_after_secs)));
        put(
            "trusted_keys",
            Some(Pv::Array(
                bo.trusted_keys
                    .iter()
                    .map(|k| Pv::String(k.clone()))
                    .collect(),
            )),
        );
        if let Ok(c) = c {
            put("org.name", s(&c.org.name));
            put("org.identifier_prefix", s(&c.org.identifier_prefix));
            put(
                "config_format",
                Some(Pv::Integer(u64::from(c.format).into())),
            );
        }
        d
    };
    let (da, db) = (doc(a, ca), doc(b, cb));
    let mut fields = Vec::new();
    let mut keys: Vec<&String> = da.keys().chain(db.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut unchanged = 0;
    for k in keys {
        // Keys with dots are names here, not paths: compare them whole.
        if da.get(k) == db.get(k) {
            unchanged += 1;
            continue;
        }
        let mut f = Vec::new();
        value::diff("", da.get(k), db.get(k), &mut f);
        for mut field in f {
            field.path = format!("{k}{}", field.path);
            fields.push(field);
        }
    }
    if fields.is_empty() || a.files.is_empty() || b.files.is_empty() {
        // A bundle that appears or disappears says so in its header; its settings are not a
        // change of their own.
        return None;
    }
    Some(Resource {
        kind: ResourceKind::Bundle,
        name: a.name.clone(),
        action: Action::Update,
        source: Some(crate::load::REPO_FILE.to_owned()),
        reason: None,
        fields,
        unchanged,
        reach: None,
    })
}

/// `30d`, `12h`, `2w` or seconds, as `expires_after` is written.
fn duration(secs: i64) -> String {
    if secs <= 0 {
        return String::new();
    }
    for (unit, n) in [("w", 604_800), ("d", 86_400), ("h", 3_600)] {
        if secs % n == 0 {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

fn parse_dict(files: &BTreeMap<String, Vec<u8>>, path: &str) -> plist::Dictionary {
    files
        .get(path)
        .and_then(|b| Pv::from_reader_xml(std::io::Cursor::new(b)).ok())
        .and_then(Pv::into_dictionary)
        .unwrap_or_default()
}

/// The bundle files an item entry of `config.json` points at.
fn item_file(item: &config::Item) -> Option<&str> {
    match item {
        config::Item::Package(m) | config::Item::Script(m) => Some(&m.pkginfo),
        config::Item::Preference(p) => Some(&p.values),
        config::Item::Launchd(l) => Some(&l.plist),
        config::Item::File(_) => None,
    }
}

/// An item as one dictionary: the pkginfo of packages and scripts; the settings and managed
/// values of the other kinds, with their descriptive text.
fn item_doc(item: &config::Item, files: &BTreeMap<String, Vec<u8>>) -> plist::Dictionary {
    let mut d = match item {
        config::Item::Package(m) | config::Item::Script(m) => parse_dict(files, &m.pkginfo),
        config::Item::Preference(p) => {
            let mut d = plist::Dictionary::new();
            d.insert("domain".into(), Pv::String(p.domain.clone()));
            let scope = match p.scope {
                config::PrefScope::System => "system",
                config::PrefScope::User => "user",
            };
            d.insert("scope".into(), Pv::String(scope.to_owned()));
            d.insert(
                "values".into(),
                Pv::Dictionary(parse_dict(files, &p.values)),
            );
            d
        }
        config::Item::File(f) => {
            let mut d = plist::Dictionary::new();
            for (k, v) in [
                ("path", &f.path),
                ("content", &f.content),
                ("mode", &f.mode),
                ("owner", &f.owner),
                ("group", &f.group),
            ] {
                d.insert(k.into(), Pv::String(v.clone()));
            }
            d
        }
        config::Item::Launchd(l) => {
            let mut job = parse_dict(files, &l.plist);
            job.remove("Label");
            let mut d = plist::Dictionary::new();
            d.insert("label".into(), Pv::String(l.label.clone()));
            d.insert("job".into(), Pv::Dictionary(job));
            d
        }
    };
    if let Some(m) = item.meta() {
        for (k, v) in [
            ("display_name", &m.display_name),
            ("description", &m.description),
            ("category", &m.category),
            ("developer", &m.developer),
            ("notes", &m.notes),
        ] {
            if let Some(v) = v {
                d.insert(k.into(), Pv::String(v.clone()));
            }
        }
    }
    d
}

/// Field changes between two dictionaries, and how many top-level keys stayed the same.
fn diff_docs(a: &plist::Dictionary, b: &plist::Dictionary) -> (Vec<Field>, usize) {
    let mut fields = Vec::new();
    value::diff(
        "",
        Some(&Pv::Dictionary(a.clone())),
        Some(&Pv::Dictionary(b.clone())),
        &mut fields,
    );
    let unchanged = a.iter().filter(|(k, v)| b.get(k) == Some(v)).count();
    (fields, unchanged)
}

fn items(
    a: &BundleOutput,
    b: &BundleOutput,
    ca: &config::Config,
    cb: &config::Config,
    out: &mut Vec<Resource>,
) {
    let names: BTreeSet<&String> = ca.items.keys().chain(cb.items.keys()).collect();
    for name in names {
        let (ia, ib) = (ca.items.get(name), cb.items.get(name));
        // Fast path: the same entry pointing at the same bytes.
        if let (Some(x), Some(y)) = (ia, ib)
            && x == y
            && item_file(x).is_none_or(|p| a.files.get(p) == b.files.get(p))
        {
            continue;
        }
        let da = ia.map(|i| item_doc(i, &a.files)).unwrap_or_default();
        let db = ib.map(|i| item_doc(i, &b.files)).unwrap_or_default();
        let (mut fields, unchanged) = diff_docs(&da, &db);
        let (action, reason) = match (ia, ib) {
            (None, Some(_)) => (Action::Create, None),
            (Some(_), None) => (Action::Delete, None),
            (Some(x), Some(y)) if x.kind() != y.kind() => {
                fields.insert(
                    0,
                    Field {
                        path: "kind".to_owned(),
                        change: FieldChange::Changed {
                            before: Json::String(x.kind().to_owned()),
                            after: Json::String(y.kind().to_owned()),
                        },
                    },
                );
                (
                    Action::Replace,
                    Some(format!(
                        "the kind changes from {} to {}",
                        x.kind(),
                        y.kind()
                    )),
                )
            }
            _ => (Action::Update, None),
        };
        if fields.is_empty() {
            continue; // e.g. only a pkginfo file name moved; the content is the same
        }
        let kind = ResourceKind::of_item(ib.or(ia).expect("one side has it"));
        let source = if ib.is_some() {
            b.sources.items.get(name)
        } else {
            a.sources.items.get(name)
        };
        out.push(Resource {
            kind,
            name: name.clone(),
            action,
            source: source.cloned(),
            reason,
            fields,
            unchanged,
            reach: None,
        });
    }
}

fn manifests(
    a: &BundleOutput,
    b: &BundleOutput,
    ca: &config::Config,
    cb: &config::Config,
    out: &mut Vec<Resource>,
) {
    let names: BTreeSet<&String> = ca.manifests.keys().chain(cb.manifests.keys()).collect();
    for name in names {
        let text = |c: &config::Config, files: &BTreeMap<String, Vec<u8>>| {
            c.munki_manifests
                .get(name)
                .map(|p| parse_dict(files, p))
                .unwrap_or_default()
        };
        let (ma, mb) = (ca.manifests.get(name), cb.manifests.get(name));
        let (ta, tb) = (text(ca, &a.files), text(cb, &b.files));
        if ma == mb
            && ta.get("display_name") == tb.get("display_name")
            && ta.get("notes") == tb.get("notes")
        {
            continue;
        }
        let mut fields = Vec::new();
        for key in ["display_name", "notes"] {
            value::diff(key, ta.get(key), tb.get(key), &mut fields);
        }
        let empty = Manifest::default();
        manifest_body("", ma.unwrap_or(&empty), mb.unwrap_or(&empty), &mut fields);
        modifications(ma.unwrap_or(&empty), mb.unwrap_or(&empty), &mut fields);
        if fields.is_empty() {
            continue;
        }
        let action = match (ma, mb) {
            (None, _) => Action::Create,
            (_, None) => Action::Delete,
            _ => Action::Update,
        };
        let source = if mb.is_some() {
            b.sources.manifests.get(name)
        } else {
            a.sources.manifests.get(name)
        };
        out.push(Resource {
            kind: ResourceKind::Manifest,
            name: name.clone(),
            action,
            source: source.cloned(),
            reason: None,
            fields,
            unchanged: 0,
            reach: None,
        });
    }
}

/// `prefix › key`, or `key` at the top.
fn at(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix} › {key}")
    }
}

/// Names added and removed; a list whose names stay but whose order changes is shown whole.
fn members(path: String, a: &[String], b: &[String], out: &mut Vec<Field>) {
    if a == b {
        return;
    }
    let sa: BTreeSet<&String> = a.iter().collect();
    let sb: BTreeSet<&String> = b.iter().collect();
    if sa == sb {
        out.push(Field {
            path: format!("{path} (order)"),
            change: FieldChange::Changed {
                before: Json::from(a.to_vec()),
                after: Json::from(b.to_vec()),
            },
        });
        return;
    }
    out.push(Field {
        path,
        change: FieldChange::Members {
            added: sb.difference(&sa).map(|s| (*s).clone()).collect(),
            removed: sa.difference(&sb).map(|s| (*s).clone()).collect(),
        },
    });
}

/// The lists and conditional items of a manifest (or of a conditional item's body).
fn manifest_body(prefix: &str, a: &Manifest, b: &Manifest, out: &mut Vec<Field>) {
    members(at(prefix, "catalogs"), &a.catalogs, &b.catalogs, out);
    members(
        at(prefix, "included_manifests"),
        &a.included_manifests,
        &b.included_manifests,
        out,
    );
    for key in mmc_manifest::KEYS {
        let none = Vec::new();
        members(
            at(prefix, key),
            a.lists.get(key).unwrap_or(&none),
            b.lists.get(key).unwrap_or(&none),
            out,
        );
    }
    conditionals(prefix, &a.conditional_items, &b.conditional_items, out);
}

/// Conditional items are matched by condition; then a pair whose bodies are equal, or which
/// stand at the same place among the unmatched, is one item whose condition changed.
fn conditionals(
    prefix: &str,
    a: &[mmc_manifest::Conditional],
    b: &[mmc_manifest::Conditional],
    out: &mut Vec<Field>,
) {
    let mut used_b = vec![false; b.len()];
    let mut pairs: Vec<(Option<usize>, Option<usize>)> = Vec::new();
    let mut left_a = Vec::new();
    for (i, c) in a.iter().enumerate() {
        match (0..b.len()).find(|&j| !used_b[j] && b[j].condition == c.condition) {
            Some(j) => {
                used_b[j] = true;
                pairs.push((Some(i), Some(j)));
            }
            None => left_a.push(i),
        }
    }
    let mut still_a = Vec::new();
    for i in left_a {
        match (0..b.len()).find(|&j| !used_b[j] && b[j].manifest == a[i].manifest) {
            Some(j) => {
                used_b[j] = true;
                pairs.push((Some(i), Some(j)));
            }
            None => still_a.push(i),
        }
    }
    let left_b: Vec<usize> = (0..b.len()).filter(|&j| !used_b[j]).collect();
    for k in 0..still_a.len().max(left_b.len()) {
        pairs.push((still_a.get(k).copied(), left_b.get(k).copied()));
    }
    // Report in HEAD's order, removals after.
    pairs.sort_by_key(|(i, j)| (j.is_none(), *j, *i));
    let empty = Manifest::default();
    for (i, j) in pairs {
        let ca = i.map(|i| &a[i]);
        let cb = j.map(|j| &b[j]);
        let cond = cb.or(ca).map(|c| c.condition.as_str()).unwrap_or_default();
        if let (Some(x), Some(y), Some(j)) = (ca, cb, j)
            && x.condition != y.condition
        {
            out.push(Field {
                path: at(prefix, &format!("conditional_items[{j}].condition")),
                change: FieldChange::Changed {
                    before: Json::String(x.condition.clone()),
                    after: Json::String(y.condition.clone()),
                },
            });
        }
        manifest_body(
            &at(prefix, &format!("if {cond}")),
            ca.map_or(&empty, |c| &c.manifest),
            cb.map_or(&empty, |c| &c.manifest),
            out,
        );
    }
}

/// Modifications, matched by target, value and tracks.
fn modifications(a: &Manifest, b: &Manifest, out: &mut Vec<Field>) {
    let key = |m: &mmc_manifest::Modification| {
        let mut k = format!("{} {}", m.target.as_str(), m.value);
        if !m.tracks.is_empty() {
            k.push_str(&format!(" (tracks {})", m.tracks.join(", ")));
        }
        k
    };
    let mut keys: Vec<String> = a
        .modifications
        .iter()
        .chain(&b.modifications)
        .map(key)
        .collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let merged = |m: &Manifest| -> BTreeMap<String, Vec<String>> {
            let mut lists: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for x in m.modifications.iter().filter(|x| key(x) == k) {
                for (list, names) in &x.lists {
                    lists
                        .entry(list.clone())
                        .or_default()
                        .extend(names.iter().cloned());
                }
            }
            lists
        };
        let (la, lb) = (merged(a), merged(b));
        let none = Vec::new();
        for list in mmc_manifest::KEYS {
            members(
                format!("modification {k} › {list}"),
                la.get(list).unwrap_or(&none),
                lb.get(list).unwrap_or(&none),
                out,
            );
        }
    }
}

/// Why macOS would remove and reinstall a profile rather than update it, if it would.
fn replace_reasons(a: &plist::Dictionary, b: &plist::Dictionary) -> Vec<String> {
    let mut why = Vec::new();
    for key in ["PayloadIdentifier", "PayloadUUID", "PayloadScope"] {
        if a.get(key) != b.get(key) {
            why.push(format!("{key} changes"));
        }
    }
    // Payloads line up by identifier relative to the profile's, so a new profile identifier is
    // one reason, not one per payload.
    let types = |d: &plist::Dictionary| -> BTreeMap<String, String> {
        payloads(d)
            .iter()
            .map(|p| (payload_label(d, p), get_str(p, "PayloadType")))
            .collect()
    };
    let (pa, pb) = (types(a), types(b));
    // A payload whose own identifier changes, in the same place and of the same type, is one
    // change, not a removal and an addition.
    let (la, lb) = (payloads(a), payloads(b));
    let mut renamed: BTreeMap<String, String> = BTreeMap::new();
    for (p, q) in la.iter().zip(&lb) {
        let (from, to) = (payload_label(a, p), payload_label(b, q));
        if !pb.contains_key(&from)
            && !pa.contains_key(&to)
            && get_str(p, "PayloadType") == get_str(q, "PayloadType")
        {
            renamed.insert(from, to);
        }
    }
    let by_label = |d: &plist::Dictionary,
                    list: &[plist::Dictionary]|
     -> BTreeMap<String, plist::Dictionary> {
        list.iter()
            .map(|p| (payload_label(d, p), p.clone()))
            .collect()
    };
    let (da, db) = (by_label(a, &la), by_label(b, &lb));
    for (label, t) in &pa {
        match pb.get(label) {
            None => match renamed.get(label) {
                Some(to) => why.push(format!(
                    "payload {label} changes PayloadIdentifier (to {to})"
                )),
                None => why.push(format!("payload {label} is removed")),
            },
            Some(u) if u != t => why.push(format!("payload {label} changes PayloadType")),
            Some(_) => {
                // A payload keeps its identity only with the same UUID (a kept `uuid:` that
                // changes, or a new identifier_prefix); one that follows a new profile
                // identifier is already explained above.
                let (p, q) = (&da[label], &db[label]);
                if get_str(p, "PayloadIdentifier") == get_str(q, "PayloadIdentifier") {
                    for key in ["PayloadUUID", "PayloadScope"] {
                        if p.get(key) != q.get(key) {
                            why.push(format!("payload {label} changes {key}"));
                        }
                    }
                }
            }
        }
    }
    let targets: BTreeSet<&String> = renamed.values().collect();
    for label in pb
        .keys()
        .filter(|l| !pa.contains_key(*l) && !targets.contains(l))
    {
        why.push(format!("payload {label} is added"));
    }
    why
}

/// A payload's identifier relative to its profile's: `com.apple.screensaver` in profile
/// `com.example.screensaver`; the whole identifier when it does not start with the profile's.
fn payload_label(profile: &plist::Dictionary, payload: &plist::Dictionary) -> String {
    let pid = get_str(profile, "PayloadIdentifier");
    let id = get_str(payload, "PayloadIdentifier");
    id.strip_prefix(&format!("{pid}."))
        .map(str::to_owned)
        .unwrap_or(id)
}

fn get_str(d: &plist::Dictionary, key: &str) -> String {
    d.get(key)
        .and_then(Pv::as_string)
        .unwrap_or_default()
        .to_owned()
}

fn payloads(d: &plist::Dictionary) -> Vec<plist::Dictionary> {
    d.get("PayloadContent")
        .and_then(Pv::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_dictionary().cloned())
                .collect()
        })
        .unwrap_or_default()
}

/// Field changes of a profile. Payloads are matched by identifier relative to the profile's
/// (`com.apple.screensaver` in `com.example.screensaver`), so a profile whose identifier changes
/// still lines its payloads up.
fn profile_fields(a: &plist::Dictionary, b: &plist::Dictionary) -> (Vec<Field>, usize) {
    let strip = |d: &plist::Dictionary| {
        let mut d = d.clone();
        d.remove("PayloadContent");
        d
    };
    let (mut fields, unchanged) = diff_docs(&strip(a), &strip(b));
    let by_label = |d: &plist::Dictionary| -> BTreeMap<String, Pv> {
        payloads(d)
            .into_iter()
            .map(|p| (payload_label(d, &p), Pv::Dictionary(p)))
            .collect()
    };
    let (pa, pb) = (by_label(a), by_label(b));
    let labels: BTreeSet<&String> = pa.keys().chain(pb.keys()).collect();
    for l in labels {
        value::diff(
            &format!("PayloadContent[{l}]"),
            pa.get(l),
            pb.get(l),
            &mut fields,
        );
    }
    (fields, unchanged)
}

fn profiles(
    a: &BundleOutput,
    b: &BundleOutput,
    ca: &config::Config,
    cb: &config::Config,
    out: &mut Vec<Resource>,
) {
    let doc = |c: &config::Config, bo: &BundleOutput, id: &str| {
        c.profiles
            .get(id)
            .map(|p| parse_dict(&bo.files, &p.file))
            .unwrap_or_default()
    };
    let bytes = |c: &config::Config, bo: &BundleOutput, id: &str| {
        c.profiles
            .get(id)
            .and_then(|p| bo.files.get(&p.file))
            .cloned()
    };
    // Pair by identifier, then a removed and an added profile from the same file: the file's
    // identifier changed.
    let mut pairs: Vec<(Option<String>, Option<String>)> = Vec::new();
    let mut added: Vec<&String> = cb
        .profiles
        .keys()
        .filter(|id| !ca.profiles.contains_key(*id))
        .collect();
    for id in ca.profiles.keys() {
        if cb.profiles.contains_key(id) {
            pairs.push((Some(id.clone()), Some(id.clone())));
            continue;
        }
        let file = a.sources.profiles.get(id);
        let partner = added
            .iter()
            .position(|n| file.is_some() && b.sources.profiles.get(*n) == file);
        match partner {
            Some(k) => pairs.push((Some(id.clone()), Some(added.remove(k).clone()))),
            None => pairs.push((Some(id.clone()), None)),
        }
    }
    pairs.extend(added.into_iter().map(|id| (None, Some(id.clone()))));
    pairs.sort_by(|x, y| (x.1.as_ref().or(x.0.as_ref())).cmp(&y.1.as_ref().or(y.0.as_ref())));

    for (ia, ib) in pairs {
        let (ba, bb) = (
            ia.as_deref().and_then(|i| bytes(ca, a, i)),
            ib.as_deref().and_then(|i| bytes(cb, b, i)),
        );
        if ba == bb {
            continue; // no-op: macOS sees the same profile
        }
        let da = ia.as_deref().map(|i| doc(ca, a, i)).unwrap_or_default();
        let db = ib.as_deref().map(|i| doc(cb, b, i)).unwrap_or_default();
        let (fields, unchanged) = profile_fields(&da, &db);
        let (action, reason) = match (&ia, &ib) {
            (None, _) => (Action::Create, None),
            (_, None) => (Action::Delete, None),
            _ => {
                let why = replace_reasons(&da, &db);
                if why.is_empty() {
                    (Action::Update, None)
                } else {
                    (Action::Replace, Some(why.join("; ")))
                }
            }
        };
        let name = ib.clone().or(ia.clone()).expect("one side has it");
        let source = match &ib {
            Some(id) => b.sources.profiles.get(id),
            None => ia.as_ref().and_then(|id| a.sources.profiles.get(id)),
        };
        out.push(Resource {
            kind: ResourceKind::Profile,
            name,
            action,
            source: source.cloned(),
            reason,
            fields,
            unchanged,
            reach: None,
        });
    }
}

/// Update enforcement policies, matched by name. They live in `config.json` only, so their
/// fields are compared as the agent reads them.
fn updates(
    a: &BundleOutput,
    b: &BundleOutput,
    ca: &config::Config,
    cb: &config::Config,
    out: &mut Vec<Resource>,
) {
    let doc = |c: &config::Config, name: &str| {
        c.updates
            .iter()
            .find(|u| u.name == name)
            .and_then(|u| serde_json::to_value(u).ok())
            .map(|v| value::from_json(&v))
            .and_then(Pv::into_dictionary)
    };
    let mut names: Vec<&str> = ca
        .updates
        .iter()
        .chain(&cb.updates)
        .map(|u| u.name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let (da, db) = (doc(ca, name), doc(cb, name));
        if da == db {
            continue;
        }
        let action = match (&da, &db) {
            (None, _) => Action::Create,
            (_, None) => Action::Delete,
            _ => Action::Update,
        };
        let source = if db.is_some() {
            b.sources.updates.get(name)
        } else {
            a.sources.updates.get(name)
        };
        let (fields, unchanged) = diff_docs(&da.unwrap_or_default(), &db.unwrap_or_default());
        out.push(Resource {
            kind: ResourceKind::Update,
            name: name.to_owned(),
            action,
            source: source.cloned(),
            reason: None,
            fields,
            unchanged,
            reach: None,
        });
    }
}

/// The safety net: files that differ although no structured differ found a change.
fn files_fallback(a: &BundleOutput, b: &BundleOutput) -> Resource {
    let paths: BTreeSet<&String> = a.files.keys().chain(b.files.keys()).collect();
    let mut fields = Vec::new();
    for p in paths {
        let (x, y) = (a.files.get(p), b.files.get(p));
        if x == y {
            continue;
        }
        let size = |v: Option<&Vec<u8>>| v.map(|v| Json::from(v.len()));
        fields.push(Field {
            path: p.clone(),
            change: match (size(x), size(y)) {
                (None, Some(after)) => FieldChange::Added { after },
                (Some(before), None) => FieldChange::Removed { before },
                (before, after) => FieldChange::Changed {
                    before: before.unwrap_or_default(),
                    after: after.unwrap_or_default(),
                },
            },
        });
    }
    Resource {
        kind: ResourceKind::Files,
        name: "bundle files (bytes)".to_owned(),
        action: Action::Update,
        source: None,
        reason: None,
        fields,
        unchanged: 0,
        reach: None,
    }
}

#[cfg(test)]
mod tests;
