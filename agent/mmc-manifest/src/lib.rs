//! Munki manifests as a bundle carries them, and how a Mac resolves them.
//!
//! [`resolve`] walks a primary manifest exactly as Munki 7 does: per key, included manifests
//! first, then conditional items whose condition holds (nested, with their own catalogs), then the
//! manifest's own items; an item both installed and uninstalled stays installed; the first
//! occurrence of an item fixes its catalogs. After a manifest's own items, its Simian-style
//! modifications are applied in precedence order (site, os_version, owner, uuid, tag). Every
//! resulting item carries its provenance, so `mmc eval` can say why a Mac gets it.
//!
//! The compiler and the agent share this code: what `mmc eval` shows is what the agent does.

use std::collections::{BTreeMap, BTreeSet};

use mmc_predicate::{FactValue, Facts};
use serde::{Deserialize, Serialize};

/// Manifest keys that hold item names, in the order Munki processes them in one run.
pub const KEYS: [&str; 6] = [
    "managed_installs",
    "managed_uninstalls",
    "managed_updates",
    "optional_installs",
    "featured_items",
    "default_installs",
];

/// A manifest, or the embedded manifest of a conditional item.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub catalogs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included_manifests: Vec<String>,
    /// One list per entry of [`KEYS`] that has items.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lists: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditional_items: Vec<Conditional>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modifications: Vec<Modification>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditional {
    /// An NSPredicate, in mmc's canonical form.
    pub condition: String,
    pub manifest: Manifest,
}

/// What a modification is keyed by, in the order modifications apply (later ones win).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Site,
    OsVersion,
    Owner,
    Uuid,
    Tag,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Site => "site",
            Target::OsVersion => "os_version",
            Target::Owner => "owner",
            Target::Uuid => "uuid",
            Target::Tag => "tag",
        }
    }

    /// The fact a target is matched against.
    pub fn fact(self) -> &'static str {
        match self {
            Target::Site => "site",
            Target::OsVersion => "os_vers",
            Target::Owner => "owner",
            Target::Uuid => "uuid",
            Target::Tag => "tags",
        }
    }
}

/// A Simian-style modification: for Macs whose `target` fact matches `value`, add `Name` or
/// remove `-Name` in each list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modification {
    pub target: Target,
    pub value: String,
    /// Only on these tracks; empty means every track.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tracks: Vec<String>,
    pub lists: BTreeMap<String, Vec<String>>,
}

impl Modification {
    /// Whether this modification applies to a Mac with `facts` on `track`.
    pub fn applies(&self, facts: &Facts, track: &str) -> bool {
        if !self.tracks.is_empty() && !self.tracks.iter().any(|t| t == track) {
            return false;
        }
        match (self.target, facts.get(self.target.fact())) {
            // `14` matches 14.x.y and `14.2` matches 14.2.z: a version prefix at a dot boundary.
            (Target::OsVersion, Some(FactValue::String(v))) => {
                v == &self.value
                    || v.strip_prefix(self.value.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            }
            (Target::Tag, Some(FactValue::Array(tags))) => tags
                .iter()
                .any(|t| matches!(t, FactValue::String(s) if *s == self.value)),
            (_, Some(FactValue::String(v))) => *v == self.value,
            _ => false,
        }
    }
}

/// One step of an item's provenance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// The item is listed in this manifest (or reached it through an include).
    Manifest { name: String },
    /// A conditional item whose condition held.
    Condition { condition: String },
    /// Added by a modification.
    Modification { target: Target, value: String },
}

/// An item in an effective list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    /// As written: `Firefox` or `Firefox-128.0`.
    pub name: String,
    /// The catalogs in effect where the item first occurred.
    pub catalogs: Vec<String>,
    /// From the primary manifest down to where the item was listed.
    pub via: Vec<Step>,
}

/// Something that did not stop resolution but that an admin should see.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Note {
    pub message: String,
    pub via: Vec<Step>,
}

/// What a Mac gets: one list per key of [`KEYS`], in Munki's order, plus what was skipped.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Resolution {
    pub lists: BTreeMap<String, Vec<Entry>>,
    /// Items a modification removed, and installs that won over uninstalls.
    pub removed: Vec<(String, Note)>,
    /// Conditions that could not be evaluated (counted as false, as Munki does) and similar.
    pub errors: Vec<Note>,
}

impl Resolution {
    pub fn names(&self, key: &str) -> Vec<&str> {
        self.lists
            .get(key)
            .map(|l| l.iter().map(|e| e.name.as_str()).collect())
            .unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// A manifest includes one that does not exist: Munki aborts the whole run.
    MissingManifest { name: String, via: Vec<String> },
    /// A manifest includes itself, directly or not.
    Cycle { path: Vec<String> },
    /// The primary manifest and everything above it name no catalogs.
    NoCatalogs { manifest: String },
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolveError::MissingManifest { name, via } => {
                write!(
                    f,
                    "manifest `{name}` does not exist (included from {})",
                    via.join(" → ")
                )
            }
            ResolveError::Cycle { path } => {
                write!(f, "included manifests form a cycle: {}", path.join(" → "))
            }
            ResolveError::NoCatalogs { manifest } => {
                write!(f, "manifest `{manifest}` has no catalogs")
            }
        }
    }
}

impl std::error::Error for ResolveError {}

/// `Firefox-128.0` → `Firefox`, `Firefox--128.0` → `Firefox`, `Firefox` → `Firefox` (Munki's
/// `nameAndVersion`: the part after the last `-` counts as a version when it starts with a digit).
pub fn base_name(reference: &str) -> &str {
    if let Some((name, _)) = reference.split_once("--") {
        return name;
    }
    match reference.rsplit_once('-') {
        Some((name, version))
            if version.starts_with(|c: char| c.is_ascii_digit()) && !name.is_empty() =>
        {
            name
        }
        _ => reference,
    }
}

/// Resolves `primary` for a Mac with `facts` on `track`. `default_catalogs` are used when the
/// primary manifest names none (mmc's default: the bundle's track).
pub fn resolve(
    manifests: &BTreeMap<String, Manifest>,
    primary: &str,
    facts: &Facts,
    track: &str,
    default_catalogs: &[String],
) -> Result<Resolution, ResolveError> {
    let mut r = Resolution::default();
    let mut installed_bases: BTreeSet<String> = BTreeSet::new();
    for key in KEYS {
        let mut walker = Walker {
            manifests,
            facts,
            track,
            key,
            out: Vec::new(),
            seen: BTreeSet::new(),
            errors: Vec::new(),
            removed: Vec::new(),
        };
        let root = manifests
            .get(primary)
            .ok_or_else(|| ResolveError::MissingManifest {
                name: primary.to_owned(),
                via: Vec::new(),
            })?;
        let mut path = vec![primary.to_owned()];
        walker.manifest(
            root,
            default_catalogs,
            &mut path,
            vec![Step::Manifest {
                name: primary.to_owned(),
            }],
        )?;
        let mut entries = walker.out;
        if key == "managed_installs" {
            installed_bases = entries
                .iter()
                .map(|e| base_name(&e.name).to_owned())
                .collect();
        }
        if key == "managed_uninstalls" {
            // Installs are processed first, so an item in both stays installed.
            entries.retain(|e| {
                let keep = !installed_bases.contains(base_name(&e.name));
                if !keep {
                    r.removed.push((
                        e.name.clone(),
                        Note {
                            message: "not removed: some version of it is in managed_installs"
                                .to_owned(),
                            via: e.via.clone(),
                        },
                    ));
                }
                keep
            });
        }
        // Errors are the same for every key (the same conditions are evaluated); keep one copy.
        for e in walker.errors {
            if !r.errors.contains(&e) {
                r.errors.push(e);
            }
        }
        r.removed.extend(walker.removed);
        r.lists.insert(key.to_owned(), entries);
    }
    Ok(r)
}

struct Walker<'a> {
    manifests: &'a BTreeMap<String, Manifest>,
    facts: &'a Facts,
    track: &'a str,
    key: &'static str,
    out: Vec<Entry>,
    seen: BTreeSet<String>,
    errors: Vec<Note>,
    removed: Vec<(String, Note)>,
}

impl Walker<'_> {
    fn manifest(
        &mut self,
        m: &Manifest,
        parent_catalogs: &[String],
        path: &mut Vec<String>,
        via: Vec<Step>,
    ) -> Result<(), ResolveError> {
        let catalogs: Vec<String> = if m.catalogs.is_empty() {
            parent_catalogs.to_vec()
        } else {
            m.catalogs.clone()
        };
        if catalogs.is_empty() {
            return Err(ResolveError::NoCatalogs {
                manifest: path.last().cloned().unwrap_or_default(),
            });
        }
        // 1. Included manifests.
        for inc in m.included_manifests.iter().filter(|i| !i.is_empty()) {
            if let Some(at) = path.iter().position(|p| p == inc) {
                let mut cycle = path[at..].to_vec();
                cycle.push(inc.clone());
                return Err(ResolveError::Cycle { path: cycle });
            }
            let Some(included) = self.manifests.get(inc) else {
                return Err(ResolveError::MissingManifest {
                    name: inc.clone(),
                    via: path.clone(),
                });
            };
            path.push(inc.clone());
            let mut inner = via.clone();
            inner.push(Step::Manifest { name: inc.clone() });
            self.manifest(included, &catalogs, path, inner)?;
            path.pop();
        }
        // 2. Conditional items, with `catalogs` overlaid on the facts.
        for ci in &m.conditional_items {
            let mut facts = self.facts.clone();
            facts.insert(
                "catalogs".to_owned(),
                FactValue::Array(catalogs.iter().cloned().map(FactValue::String).collect()),
            );
            let mut inner = via.clone();
            inner.push(Step::Condition {
                condition: ci.condition.clone(),
            });
            let holds = match mmc_predicate::parse(&ci.condition) {
                Ok(p) => mmc_predicate::eval(&p, &facts).map_err(|e| e.message),
                Err(e) => Err(e.message),
            };
            match holds {
                Ok(true) => self.manifest(&ci.manifest, &catalogs, path, inner)?,
                Ok(false) => {}
                Err(message) => {
                    let note = Note {
                        message: format!(
                            "condition could not be evaluated, counted as false: {message}"
                        ),
                        via: inner,
                    };
                    if !self.errors.contains(&note) {
                        self.errors.push(note);
                    }
                }
            }
        }
        // 3. The manifest's own items.
        for name in m.lists.get(self.key).into_iter().flatten() {
            self.add(name, &catalogs, via.clone());
        }
        // 4. Its modifications, in precedence order (later targets win).
        let mut mods: Vec<&Modification> = m
            .modifications
            .iter()
            .filter(|md| md.applies(self.facts, self.track))
            .collect();
        mods.sort_by_key(|md| md.target);
        for md in mods {
            let mut inner = via.clone();
            inner.push(Step::Modification {
                target: md.target,
                value: md.value.clone(),
            });
            for name in md.lists.get(self.key).into_iter().flatten() {
                match name.strip_prefix('-') {
                    Some(gone) => self.remove(gone, inner.clone()),
                    None => self.add(name, &catalogs, inner.clone()),
                }
            }
        }
        Ok(())
    }

    fn add(&mut self, name: &str, catalogs: &[String], via: Vec<Step>) {
        // The first occurrence wins and fixes the catalogs.
        if self.seen.insert(name.to_owned()) {
            self.out.push(Entry {
                name: name.to_owned(),
                catalogs: catalogs.to_vec(),
                via,
            });
        }
    }

    fn remove(&mut self, name: &str, via: Vec<Step>) {
        let before = self.out.len();
        self.out
            .retain(|e| e.name != name && base_name(&e.name) != name);
        if self.out.len() != before {
            self.seen.retain(|n| n != name && base_name(n) != name);
            self.removed.push((
                name.to_owned(),
                Note {
                    message: format!("removed from {}", self.key),
                    via,
                },
            ));
        }
    }
}

#[cfg(test)]
mod tests;
