//! IR → the files of one bundle, byte for byte deterministic.
//!
//! Layout (all paths use only `[A-Za-z0-9._-]` per component, as the bundle format requires):
//! ```text
//! config.json                       the agent's config: items, manifests, profiles, update policies, trust
//! munki/pkgsinfo/NAME-VERSION.plist Munki pkginfo (packages and scripts)
//! munki/catalogs/all, munki/catalogs/TRACK
//! munki/manifests/NAME              Munki manifests (only items Munki installs)
//! preferences/NAME.plist            managed keys of preference items
//! launchd/LABEL.plist               launchd jobs (the job's keys and `Label`)
//! profiles/IDENTIFIER.mobileconfig  configuration profiles
//! ```

use std::collections::{BTreeMap, BTreeSet};

use mmc_config as config;
use plist::Value as Pv;

use crate::ir::{self, ItemSpec};
use crate::syntax::model::Kind;

pub fn emit(bundle: &ir::Bundle) -> BTreeMap<String, Vec<u8>> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut names = Namer::default();

    let mut items: BTreeMap<String, config::Item> = BTreeMap::new();
    let mut catalog: Vec<Pv> = Vec::new();
    for item in bundle.items.values() {
        let entry = match &item.spec {
            ItemSpec::Pkginfo(d) => {
                let version = d.get("version").and_then(Pv::as_string).unwrap_or("0");
                let path = names.file(
                    "munki/pkgsinfo",
                    &format!("{}-{}", item.name, version),
                    ".plist",
                );
                files.insert(path.clone(), plist_bytes(&Pv::Dictionary(d.clone())));
                catalog.push(Pv::Dictionary(d.clone()));
                let munki = config::Munki {
                    version: version.to_owned(),
                    pkginfo: path,
                };
                match item.kind {
                    Kind::Script => config::Item::Script(munki),
                    _ => config::Item::Package(munki),
                }
            }
            ItemSpec::Preference {
                domain,
                scope,
                values,
            } => {
                let path = names.file("preferences", &item.name, ".plist");
                files.insert(path.clone(), plist_bytes(&Pv::Dictionary(values.clone())));
                config::Item::Preference(config::Preference {
                    domain: domain.clone(),
                    scope: *scope,
                    values: path,
                    meta: meta(&item.meta),
                })
            }
            ItemSpec::File {
                path,
                content,
                mode,
                owner,
                group,
            } => config::Item::File(config::File {
                path: path.clone(),
                content: content.clone(),
                mode: format!("{mode:04o}"),
                owner: owner.clone(),
                group: group.clone(),
                meta: meta(&item.meta),
            }),
            ItemSpec::Launchd { label, job } => {
                let path = names.file("launchd", label, ".plist");
                files.insert(path.clone(), plist_bytes(&launchd_plist(label, job)));
                config::Item::Launchd(config::Launchd {
                    label: label.clone(),
                    plist: path,
                    meta: meta(&item.meta),
                })
            }
        };
        items.insert(item.name.clone(), entry);
    }
    let catalog = plist_bytes(&Pv::Array(catalog));
    files.insert("munki/catalogs/all".to_owned(), catalog.clone());
    files.insert(
        format!("munki/catalogs/{}", sanitize(&bundle.track)),
        catalog,
    );

    // Every way a manifest may name an item Munki installs: `name`, `name-version`, `name--version`.
    let mut munki_installs: BTreeSet<String> = BTreeSet::new();
    for item in bundle.items.values() {
        if let ItemSpec::Pkginfo(d) = &item.spec {
            munki_installs.insert(item.name.clone());
            if let Some(v) = d.get("version").and_then(Pv::as_string) {
                munki_installs.insert(format!("{}-{v}", item.name));
                munki_installs.insert(format!("{}--{v}", item.name));
            }
        }
    }
    // The agent reads `manifests` as mmc_manifest::Manifest values; where Munki's copy of each
    // manifest lies is kept apart.
    let mut manifests = BTreeMap::new();
    let mut munki_manifests = BTreeMap::new();
    for (name, m) in &bundle.manifests {
        let path = names.file("munki/manifests", name, "");
        files.insert(
            path.clone(),
            plist_bytes(&munki_manifest(m, &bundle.track, &munki_installs)),
        );
        manifests.insert(name.clone(), m.spec.clone());
        munki_manifests.insert(name.clone(), path);
    }

    let mut profiles = BTreeMap::new();
    for p in bundle.profiles.values() {
        let path = names.file("profiles", &p.identifier, ".mobileconfig");
        let plist = mobileconfig(p);
        let bytes = plist_bytes(&plist);
        profiles.insert(
            p.identifier.clone(),
            config::ProfileRef {
                file: path.clone(),
                uuid: p.uuid.clone(),
                scope: p.scope.to_owned(),
                sha256: mmc_bundle::sha256_hex(&bytes),
                payload_sha256: config::payload::of_mobileconfig(&plist),
            },
        );
        files.insert(path, bytes);
    }

    let config = config::Config {
        format: config::FORMAT,
        org: config::Org {
            name: bundle.org_name.clone(),
            identifier_prefix: bundle.org_prefix.clone(),
        },
        bundle: config::BundleInfo {
            name: bundle.name.clone(),
            track: bundle.track.clone(),
            audience: bundle.audience.clone(),
        },
        trusted_keys: bundle.trusted_keys.clone(),
        items,
        manifests,
        munki_manifests,
        profiles,
        updates: bundle.updates.clone(),
    };
    files.insert("config.json".to_owned(), config.to_json());
    files
}

fn meta(m: &ir::Meta) -> config::Meta {
    config::Meta {
        display_name: m.display_name.clone(),
        description: m.description.clone(),
        category: m.category.clone(),
        developer: m.developer.clone(),
        notes: m.notes.clone(),
    }
}

/// A launchd job's plist: its keys and `Label`.
pub fn launchd_plist(label: &str, job: &plist::Dictionary) -> Pv {
    let mut d = job.clone();
    d.insert("Label".to_owned(), Pv::String(label.to_owned()));
    Pv::Dictionary(d)
}

/// A Munki manifest. Names of items Munki does not install (preferences, files, launchd jobs) are
/// left out: the agent applies those. A bundle carries one catalog, its track's, so that is the
/// catalog every manifest reads (the compiler refused manifests whose catalogs leave it out). Modifications are
/// mmc's and the agent applies them; Munki's manifest format has no place for them.
fn munki_manifest(m: &ir::Manifest, track: &str, munki: &BTreeSet<String>) -> Pv {
    let mut d: BTreeMap<&str, Pv> = BTreeMap::new();
    d.insert("catalogs", strings(&[track.to_owned()]));
    body_into(&mut d, &m.spec, munki);
    if let Some(n) = &m.display_name {
        d.insert("display_name", Pv::String(n.clone()));
    }
    if let Some(n) = &m.notes {
        d.insert("notes", Pv::String(n.clone()));
    }
    dict(d)
}

fn strings(v: &[String]) -> Pv {
    Pv::Array(v.iter().map(|s| Pv::String(s.clone())).collect())
}

fn body_into(
    d: &mut BTreeMap<&'static str, Pv>,
    m: &mmc_manifest::Manifest,
    munki: &BTreeSet<String>,
) {
    if !m.included_manifests.is_empty() {
        d.insert("included_manifests", strings(&m.included_manifests));
    }
    for key in mmc_manifest::KEYS {
        let names: Vec<String> = m
            .lists
            .get(key)
            .into_iter()
            .flatten()
            .filter(|n| munki.contains(n.as_str()))
            .cloned()
            .collect();
        if !names.is_empty() {
            d.insert(key, strings(&names));
        }
    }
    if !m.conditional_items.is_empty() {
        let items = m
            .conditional_items
            .iter()
            .map(|c| {
                let mut inner: BTreeMap<&str, Pv> = BTreeMap::new();
                inner.insert("condition", Pv::String(c.condition.clone()));
                body_into(&mut inner, &c.manifest, munki);
                dict(inner)
            })
            .collect();
        d.insert("conditional_items", Pv::Array(items));
    }
}

/// The `.mobileconfig` property list of a profile, with sorted keys and derived UUIDs.
pub fn mobileconfig(p: &ir::Profile) -> Pv {
    let payloads = p
        .payloads
        .iter()
        .map(|pl| {
            let mut d: BTreeMap<String, Pv> = pl.settings.clone().into_iter().collect();
            d.insert(
                "PayloadType".to_owned(),
                Pv::String(pl.payload_type.clone()),
            );
            d.insert(
                "PayloadIdentifier".to_owned(),
                Pv::String(pl.identifier.clone()),
            );
            d.insert("PayloadUUID".to_owned(), Pv::String(pl.uuid.clone()));
            d.insert("PayloadVersion".to_owned(), Pv::Integer(1.into()));
            if let Some(n) = &pl.display_name {
                d.insert("PayloadDisplayName".to_owned(), Pv::String(n.clone()));
            }
            if let Some(n) = &pl.description {
                d.insert("PayloadDescription".to_owned(), Pv::String(n.clone()));
            }
            if let Some(n) = &pl.organization {
                d.insert("PayloadOrganization".to_owned(), Pv::String(n.clone()));
            }
            Pv::Dictionary(d.into_iter().collect())
        })
        .collect();
    let mut d: BTreeMap<&str, Pv> = BTreeMap::new();
    d.insert("PayloadContent", Pv::Array(payloads));
    d.insert("PayloadDisplayName", Pv::String(p.display_name.clone()));
    d.insert("PayloadIdentifier", Pv::String(p.identifier.clone()));
    d.insert("PayloadOrganization", Pv::String(p.organization.clone()));
    d.insert("PayloadScope", Pv::String(p.scope.to_owned()));
    d.insert("PayloadType", Pv::String("Configuration".to_owned()));
    d.insert("PayloadUUID", Pv::String(p.uuid.clone()));
    d.insert("PayloadVersion", Pv::Integer(1.into()));
    if let Some(desc) = &p.description {
        d.insert("PayloadDescription", Pv::String(desc.clone()));
    }
    if let Some(r) = p.removal_disallowed {
        d.insert("PayloadRemovalDisallowed", Pv::Boolean(r));
    }
    if let Some(texts) = &p.consent_text {
        let texts = texts
            .iter()
            .map(|(k, v)| (k.clone(), Pv::String(v.clone())))
            .collect();
        d.insert("ConsentText", Pv::Dictionary(texts));
    }
    if let Some(t) = p.target_device_type {
        d.insert("TargetDeviceType", Pv::Integer(t.into()));
    }
    for (key, date) in [
        ("RemovalDate", &p.removal_date),
        ("PayloadExpirationDate", &p.expiration_date),
    ] {
        if let Some(date) = date {
            let date = plist::Date::from_xml_format(date).expect("checked when lowered");
            d.insert(key, Pv::Date(date));
        }
    }
    if let Some(s) = p.duration_until_removal {
        d.insert("DurationUntilRemoval", Pv::Real(s));
    }
    if let Some(h) = p.has_removal_passcode {
        d.insert("HasRemovalPasscode", Pv::Boolean(h));
    }
    dict(d)
}

fn dict(d: BTreeMap<&str, Pv>) -> Pv {
    Pv::Dictionary(d.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// XML property list bytes with every dictionary's keys sorted.
pub fn plist_bytes(v: &Pv) -> Vec<u8> {
    let mut v = v.clone();
    sort_keys(&mut v);
    let mut out = Vec::new();
    v.to_writer_xml(&mut out)
        .expect("writing a plist to memory cannot fail");
    out.push(b'\n');
    out
}

fn sort_keys(v: &mut Pv) {
    match v {
        Pv::Dictionary(d) => {
            d.sort_keys();
            for (_, inner) in d.iter_mut() {
                sort_keys(inner);
            }
        }
        Pv::Array(a) => a.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// `Google Chrome` → `Google_Chrome`: the characters the bundle format allows in a path component,
/// at most 200 of them (the format allows 255 per component; the rest is room for suffixes).
pub fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    match s.as_str() {
        "" | "." | ".." => format!("_{s}"),
        _ => s,
    }
}

/// Hands out file names that are unique even on a case-insensitive file system.
#[derive(Default)]
struct Namer {
    used: BTreeSet<String>,
}

impl Namer {
    /// `dir/NAME.ext` where NAME may contain `/` (Munki manifests in subfolders).
    fn file(&mut self, dir: &str, name: &str, ext: &str) -> String {
        let stem: Vec<String> = name.split('/').map(sanitize).collect();
        let stem = stem.join("/");
        let mut candidate = format!("{dir}/{stem}{ext}");
        let mut n = 2;
        while !self.used.insert(candidate.to_lowercase()) {
            candidate = format!("{dir}/{stem}-{n}{ext}");
            n += 1;
        }
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_and_unique_ignoring_case() {
        let mut n = Namer::default();
        assert_eq!(
            n.file("p", "Google Chrome", ".plist"),
            "p/Google_Chrome.plist"
        );
        assert_eq!(
            n.file("p", "google_chrome", ".plist"),
            "p/google_chrome-2.plist"
        );
        assert_eq!(n.file("m", "site/lab 1", ""), "m/site/lab_1");
        assert_eq!(sanitize(".."), "_..");
        let long = "x".repeat(300);
        assert_eq!(
            n.file("p", &long, ".plist"),
            format!("p/{}.plist", "x".repeat(200))
        );
        assert_eq!(
            n.file("p", &"x".repeat(250), ".plist"),
            format!("p/{}-2.plist", "x".repeat(200))
        );
    }

    #[test]
    fn plists_sort_nested_keys() {
        let mut inner = plist::Dictionary::new();
        inner.insert("b".into(), Pv::Integer(1.into()));
        inner.insert("a".into(), Pv::Integer(2.into()));
        let mut outer = plist::Dictionary::new();
        outer.insert("z".into(), Pv::Dictionary(inner));
        outer.insert("y".into(), Pv::Boolean(true));
        let text = String::from_utf8(plist_bytes(&Pv::Dictionary(outer))).unwrap();
        let pos = |s: &str| text.find(s).unwrap();
        assert!(pos("<key>y</key>") < pos("<key>z</key>"));
        assert!(pos("<key>a</key>") < pos("<key>b</key>"));
    }
}
