//! Where a change takes effect: the manifests and conditions that name a changed item, and, given
//! a fleet's facts, the machines whose effective lists change. Resolution is `mmc eval`'s
//! ([`crate::whatif::evaluate`]), which is the agent's own.

use std::collections::{BTreeMap, BTreeSet};

use mmc_manifest::{Manifest, base_name};
use mmc_predicate::Facts;
use plist::Value as Pv;
use serde::Serialize;

use super::{Action, Resource, ResourceKind};
use crate::BundleOutput;
use crate::whatif::{REPORTED_KEYS, evaluate};

/// The manifests an item change reaches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Reach {
    /// Every place a manifest names the item.
    pub references: Vec<Reference>,
    /// Manifests that include a referencing manifest (directly or not), so their Macs get it too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub included_by: Vec<String>,
    /// Items that `requires` this one: it is installed before them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_by: Vec<String>,
    /// Items this one is an `update_for`: it comes along wherever they are installed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub update_for: Vec<String>,
}

impl Reach {
    fn is_empty(&self) -> bool {
        self.references.is_empty() && self.required_by.is_empty() && self.update_for.is_empty()
    }
}

/// One place a manifest names an item.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Reference {
    pub manifest: String,
    /// Conditions of the (nested) conditional items on the way, outermost first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
    /// The modification (`tag engineering`) that names it, if one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modification: Option<String>,
    /// The list: `managed_installs`, `optional_installs`, …
    pub key: String,
}

impl Reference {
    /// `site_default › if machine_type == "laptop" › managed_installs`.
    pub fn path(&self) -> String {
        let mut parts = vec![self.manifest.clone()];
        parts.extend(self.conditions.iter().map(|c| format!("if {c}")));
        if let Some(m) = &self.modification {
            parts.push(m.clone());
        }
        parts.push(self.key.clone());
        parts.join(" › ")
    }
}

/// Fills in [`Resource::reach`] of every item change: HEAD's manifests for what exists in HEAD,
/// BASE's for removals.
pub fn reach(base: &BundleOutput, head: &BundleOutput, changes: &mut [Resource]) {
    let is_item = |r: &Resource| {
        matches!(
            r.kind,
            ResourceKind::Package
                | ResourceKind::Script
                | ResourceKind::Preference
                | ResourceKind::File
                | ResourceKind::Launchd
        )
    };
    if !changes.iter().any(is_item) {
        return;
    }
    let (links_base, links_head) = (Links::of(base), Links::of(head));
    for r in changes.iter_mut().filter(|r| is_item(r)) {
        let (side, links) = if r.action == Action::Delete {
            (base, &links_base)
        } else {
            (head, &links_head)
        };
        let found = item_reach(side, links, &r.name);
        r.reach = (!found.is_empty()).then_some(found);
    }
}

/// `requires` and `update_for` of a bundle's packages and scripts, read once from their pkginfo.
#[derive(Default)]
struct Links {
    /// Item → the items that require it.
    required_by: BTreeMap<String, BTreeSet<String>>,
    /// Item → the items it is an update for.
    update_for: BTreeMap<String, BTreeSet<String>>,
}

impl Links {
    fn of(b: &BundleOutput) -> Links {
        let mut links = Links::default();
        let Some(cfg) = b
            .files
            .get("config.json")
            .and_then(|c| mmc_config::Config::from_json(c).ok())
        else {
            return links;
        };
        for (name, it) in &cfg.items {
            let (mmc_config::Item::Package(m) | mmc_config::Item::Script(m)) = it else {
                continue;
            };
            let d = super::parse_dict(&b.files, &m.pkginfo);
            let names = |key: &str| -> Vec<String> {
                d.get(key)
                    .and_then(Pv::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Pv::as_string)
                            .map(|s| base_name(s).to_owned())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            for req in names("requires") {
                links
                    .required_by
                    .entry(req)
                    .or_default()
                    .insert(name.clone());
            }
            let ups = names("update_for");
            if !ups.is_empty() {
                links
                    .update_for
                    .insert(name.clone(), ups.into_iter().collect());
            }
        }
        links
    }
}

fn item_reach(b: &BundleOutput, links: &Links, item: &str) -> Reach {
    let mut references = Vec::new();
    for (name, m) in &b.manifests {
        walk(name, m, &mut Vec::new(), item, &mut references);
        for md in &m.modifications {
            for (key, names) in &md.lists {
                if names
                    .iter()
                    .any(|n| base_name(n.strip_prefix('-').unwrap_or(n)) == item)
                {
                    references.push(Reference {
                        manifest: name.clone(),
                        conditions: Vec::new(),
                        modification: Some(format!("{} {}", md.target.as_str(), md.value)),
                        key: key.clone(),
                    });
                }
            }
        }
    }
    references.sort();
    references.dedup();
    let direct: BTreeSet<&str> = references.iter().map(|r| r.manifest.as_str()).collect();
    let included_by = if direct.is_empty() {
        Vec::new()
    } else {
        includers(&b.manifests, &direct)
    };
    let list = |m: &BTreeMap<String, BTreeSet<String>>| -> Vec<String> {
        m.get(item)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    };
    Reach {
        references,
        included_by,
        required_by: list(&links.required_by),
        update_for: list(&links.update_for),
    }
}

fn walk(
    manifest: &str,
    m: &Manifest,
    conditions: &mut Vec<String>,
    item: &str,
    out: &mut Vec<Reference>,
) {
    for (key, names) in &m.lists {
        if names.iter().any(|n| base_name(n) == item) {
            out.push(Reference {
                manifest: manifest.to_owned(),
                conditions: conditions.clone(),
                modification: None,
                key: key.clone(),
            });
        }
    }
    for c in &m.conditional_items {
        conditions.push(c.condition.clone());
        walk(manifest, &c.manifest, conditions, item, out);
        conditions.pop();
    }
}

/// Manifests that include any of `targets`, directly or through others (conditional includes
/// count), `targets` themselves left out.
pub fn includers(manifests: &BTreeMap<String, Manifest>, targets: &BTreeSet<&str>) -> Vec<String> {
    fn includes<'a>(m: &'a Manifest, out: &mut BTreeSet<&'a str>) {
        out.extend(m.included_manifests.iter().map(String::as_str));
        for c in &m.conditional_items {
            includes(&c.manifest, out);
        }
    }
    let graph: BTreeMap<&str, BTreeSet<&str>> = manifests
        .iter()
        .map(|(n, m)| {
            let mut s = BTreeSet::new();
            includes(m, &mut s);
            (n.as_str(), s)
        })
        .collect();
    let mut reached: BTreeSet<&str> = targets.clone();
    loop {
        let more: Vec<&str> = graph
            .iter()
            .filter(|(n, inc)| !reached.contains(*n) && inc.iter().any(|i| reached.contains(i)))
            .map(|(n, _)| *n)
            .collect();
        if more.is_empty() {
            break;
        }
        reached.extend(more);
    }
    reached
        .into_iter()
        .filter(|n| !targets.contains(n))
        .map(str::to_owned)
        .collect()
}

/// A fleet to measure a change against: machines by name with their facts, all evaluated
/// against one primary manifest.
#[derive(Clone, Debug)]
pub struct Fleet {
    pub manifest: String,
    pub machines: Vec<Machine>,
}

#[derive(Clone, Debug)]
pub struct Machine {
    /// The facts file's name without its extension.
    pub name: String,
    pub facts: Facts,
}

/// How a bundle's change reaches a fleet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MachinesImpact {
    pub manifest: String,
    pub total: usize,
    /// Machines whose effective lists change or that get a changed item, by name.
    pub changed: Vec<MachineChange>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MachineChange {
    pub machine: String,
    /// Per list (`managed_installs`, …): names added and removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lists: Vec<ListChange>,
    /// Items in the machine's lists whose content changes (a new version, other settings).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub updated: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListChange {
    pub key: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// Resolves every machine against both sides of a bundle. `None` when neither side carries the
/// fleet's primary manifest.
pub fn machines(
    fleet: &Fleet,
    a: Option<&BundleOutput>,
    b: Option<&BundleOutput>,
    changes: &[Resource],
) -> Option<MachinesImpact> {
    let has =
        |x: Option<&BundleOutput>| x.is_some_and(|x| x.manifests.contains_key(&fleet.manifest));
    if !has(a) && !has(b) {
        return None;
    }
    let changed_items: BTreeSet<&str> = changes
        .iter()
        .filter(|r| {
            matches!(r.action, Action::Update | Action::Replace)
                && !matches!(
                    r.kind,
                    ResourceKind::Bundle
                        | ResourceKind::Manifest
                        | ResourceKind::Profile
                        | ResourceKind::Files
                )
        })
        .map(|r| r.name.as_str())
        .collect();
    let lists =
        |x: Option<&BundleOutput>, facts: &Facts| -> BTreeMap<&'static str, BTreeSet<String>> {
            let r = x
                .filter(|x| x.manifests.contains_key(&fleet.manifest))
                .and_then(|x| evaluate(x, &fleet.manifest, facts).ok());
            REPORTED_KEYS
                .iter()
                .map(|k| {
                    let names = r
                        .as_ref()
                        .map(|r| r.names(k).into_iter().map(str::to_owned).collect())
                        .unwrap_or_default();
                    (*k, names)
                })
                .collect()
        };
    let mut changed = Vec::new();
    for m in &fleet.machines {
        let (la, lb) = (lists(a, &m.facts), lists(b, &m.facts));
        let mut list_changes = Vec::new();
        for key in REPORTED_KEYS {
            let (x, y) = (&la[key], &lb[key]);
            if x != y {
                list_changes.push(ListChange {
                    key: key.to_owned(),
                    added: y.difference(x).cloned().collect(),
                    removed: x.difference(y).cloned().collect(),
                });
            }
        }
        let updated: BTreeSet<String> = lb
            .values()
            .flatten()
            .filter(|n| changed_items.contains(base_name(n)))
            .map(|n| base_name(n).to_owned())
            .collect();
        if !list_changes.is_empty() || !updated.is_empty() {
            changed.push(MachineChange {
                machine: m.name.clone(),
                lists: list_changes,
                updated: updated.into_iter().collect(),
            });
        }
    }
    Some(MachinesImpact {
        manifest: fleet.manifest.clone(),
        total: fleet.machines.len(),
        changed,
    })
}
