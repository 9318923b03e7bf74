//! The repository's configuration profiles for an MDM: `build/mdm/profiles/`, and the Fleet
//! GitOps fragments `mmc build --fleet` writes. Paths are relative to `build/mdm/`:
//!
//! ```text
//! profiles/IDENTIFIER.mobileconfig         every profile, the very bytes its bundles carry
//! profiles/BUNDLE/IDENTIFIER.mobileconfig  a profile whose bundles carry different bytes
//!                                          (its templates use `bundle.*`): one per bundle
//! fleet/profiles.yml                       Fleet `controls` listing every profile
//! fleet/bundles/BUNDLE.yml                 the same for one bundle's profiles
//! ```
//!
//! The copies are unsigned, as in the bundles; `mmc build --sign-profiles-cert` signs them when
//! it writes them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::MdmOutput;
use crate::emit::{mobileconfig, plist_bytes};
use crate::ir;

/// The folder below `build/mdm/` for profiles.
pub const PROFILES_DIR: &str = "profiles";
/// The folder below `build/mdm/` for the Fleet fragments.
pub const FLEET_DIR: &str = "fleet";
/// The Fleet fragment listing every profile.
pub const FLEET_ALL: &str = "fleet/profiles.yml";
/// The folder of the per-bundle Fleet fragments.
pub const FLEET_BUNDLES_DIR: &str = "fleet/bundles";

/// Adds every profile of `bundles` to `out.files`, and the Fleet fragments to `out.fleet`.
pub fn emit(bundles: &[ir::Bundle], out: &mut MdmOutput) {
    // identifier → (bundle name → bytes), bundles in their order.
    let mut copies: BTreeMap<&str, Vec<(&str, Vec<u8>)>> = BTreeMap::new();
    for b in bundles {
        for (id, p) in &b.profiles {
            copies
                .entry(id.as_str())
                .or_default()
                .push((b.name.as_str(), plist_bytes(&mobileconfig(p))));
        }
    }
    if copies.is_empty() {
        return;
    }
    // identifier → its path per bundle name.
    let mut paths: BTreeMap<&str, BTreeMap<&str, String>> = BTreeMap::new();
    for (id, list) in &copies {
        let same = list.iter().all(|(_, bytes)| *bytes == list[0].1);
        let entry = paths.entry(id).or_default();
        if same {
            let path = format!("{PROFILES_DIR}/{id}.mobileconfig");
            out.files.insert(path.clone(), list[0].1.clone());
            for (bundle, _) in list {
                entry.insert(bundle, path.clone());
            }
        } else {
            out.notes.push(format!(
                "profile `{id}` differs between bundles {} (its templates use `bundle.*`): written once per bundle under {PROFILES_DIR}/BUNDLE/",
                names(list.iter().map(|(b, _)| *b))
            ));
            for (bundle, bytes) in list {
                let path = format!("{PROFILES_DIR}/{bundle}/{id}.mobileconfig");
                out.files.insert(path.clone(), bytes.clone());
                entry.insert(bundle, path);
            }
        }
    }
    // On a case-insensitive file system (macOS's default) these would overwrite each other.
    let mut folded: BTreeMap<String, &str> = BTreeMap::new();
    for id in copies.keys() {
        if let Some(other) = folded.insert(id.to_lowercase(), id) {
            out.notes.push(format!(
                "profiles `{other}` and `{id}` differ only in case: on a case-insensitive file system their files in {PROFILES_DIR}/ overwrite each other"
            ));
        }
    }

    out.fleet
        .insert(FLEET_ALL.to_owned(), fleet_all(&paths).into_bytes());
    if bundles.len() > 1 {
        for b in bundles {
            let listed: Vec<(&str, &str)> = paths
                .iter()
                .filter_map(|(id, per)| per.get(b.name.as_str()).map(|p| (*id, p.as_str())))
                .collect();
            out.fleet.insert(
                format!("{FLEET_BUNDLES_DIR}/{}.yml", b.name),
                fleet_bundle(&b.name, &listed).into_bytes(),
            );
        }
    }
}

fn names<'a>(list: impl Iterator<Item = &'a str>) -> String {
    list.collect::<Vec<_>>().join(", ")
}

const HEADER: &str = "\
# Written by `mmc build --fleet`; a rebuild replaces it, so do not edit it.
# The `controls` of a Fleet GitOps file.
# Point a fleet (team) file at it:
#   controls:
#     path: PATH/TO/THIS/FILE
# Fleet reads the profile paths below relative to this file, so keep it inside
# build/mdm/ (or copy build/mdm/ whole). A file with `controls: path:` has no other
# controls: if yours has some, copy these entries into its own
# controls.apple_settings.configuration_profiles, with paths relative to that file.
";

/// `fleet/profiles.yml`: every profile whose bundles agree on its bytes.
fn fleet_all(paths: &BTreeMap<&str, BTreeMap<&str, String>>) -> String {
    let mut out = String::from(HEADER);
    out.push_str("apple_settings:\n  configuration_profiles:\n");
    let mut per_bundle = Vec::new();
    for (id, per) in paths {
        let mut distinct: Vec<&String> = per.values().collect();
        distinct.sort();
        distinct.dedup();
        if distinct.len() > 1 {
            per_bundle.push(*id);
            continue;
        }
        let _ = writeln!(out, "    # {id} (bundles: {})", names(per.keys().copied()));
        let _ = writeln!(out, "    - path: ../{}", distinct[0]);
    }
    for id in per_bundle {
        let _ = writeln!(
            out,
            "    # {id} is left out: it differs between bundles; see {FLEET_BUNDLES_DIR}/"
        );
    }
    out
}

/// `fleet/bundles/BUNDLE.yml`: one bundle's profiles.
fn fleet_bundle(bundle: &str, listed: &[(&str, &str)]) -> String {
    let mut out = HEADER.replace(
        "The `controls` of a Fleet GitOps file.",
        &format!("The `controls` of the Fleet fleet that stands for mmc bundle {bundle}."),
    );
    if listed.is_empty() {
        out.push_str(
            "# This bundle carries no profile.\napple_settings:\n  configuration_profiles: []\n",
        );
        return out;
    }
    out.push_str("apple_settings:\n  configuration_profiles:\n");
    for (id, path) in listed {
        let _ = writeln!(out, "    # {id}");
        let _ = writeln!(out, "    - path: ../../{path}");
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::compile;
    use crate::source::FileSet;

    const REPO: &str = "mmc_version: 1\norg: {name: Example Corp, identifier_prefix: com.example}\ntracks: [testing, stable]\nbundles:\n  - {name: testing, track: testing}\n  - {name: stable, track: stable}\n";

    fn repo(profiles: &[(&str, &str)]) -> FileSet {
        let mut files = FileSet::new();
        files.insert("mmc.yaml", REPO);
        for (name, text) in profiles {
            files.insert(format!("profiles/{name}.yaml"), *text);
        }
        files
    }

    const FIREWALL: &str = "display_name: Firewall\npayloads:\n  - type: com.apple.security.firewall\n    settings: {EnableFirewall: true}\n";
    const PILOT: &str =
        "display_name: Pilot\ncatalogs: [testing]\npayloads:\n  - type: com.example.pilot\n";
    const BANNER: &str = "display_name: \"Banner {{ bundle.name }}\"\npayloads:\n  - type: com.apple.loginwindow\n    settings: {LoginwindowText: \"{{ bundle.track }}\"}\n";

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn every_profile_as_its_bundles_carry_it() {
        let c = compile(&repo(&[
            ("firewall", FIREWALL),
            ("pilot", PILOT),
            ("banner", BANNER),
        ]));
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        assert_eq!(
            c.mdm.files.keys().collect::<Vec<_>>(),
            [
                "profiles/com.example.firewall.mobileconfig",
                "profiles/com.example.pilot.mobileconfig",
                "profiles/stable/com.example.banner.mobileconfig",
                "profiles/testing/com.example.banner.mobileconfig",
            ]
        );
        // Byte for byte what each bundle carries.
        for b in &c.bundles {
            for (path, bytes) in &b.files {
                let Some(file) = path.strip_prefix("profiles/") else {
                    continue;
                };
                let flat = format!("profiles/{file}");
                let per_bundle = format!("profiles/{}/{file}", b.name);
                let mdm = c
                    .mdm
                    .files
                    .get(&flat)
                    .or_else(|| c.mdm.files.get(&per_bundle))
                    .unwrap_or_else(|| panic!("{path} of {} is not in build/mdm", b.name));
                assert_eq!(mdm, bytes, "{path} of bundle {}", b.name);
            }
        }
        assert!(
            text(&c.mdm.files["profiles/testing/com.example.banner.mobileconfig"])
                .contains("<string>Banner testing</string>")
        );
        insta::assert_snapshot!("notes", c.mdm.notes.join("\n"));
        assert_eq!(
            c.mdm.fleet.keys().collect::<Vec<_>>(),
            [
                "fleet/bundles/stable.yml",
                "fleet/bundles/testing.yml",
                "fleet/profiles.yml"
            ]
        );
        for (path, bytes) in &c.mdm.fleet {
            insta::assert_snapshot!(path.clone(), text(bytes));
        }
    }

    /// Every `path:` of a fragment names a file of `build/mdm/`, resolved from the fragment's
    /// own folder as Fleet resolves it.
    #[test]
    fn fleet_paths_resolve_from_the_fragment() {
        let c = compile(&repo(&[
            ("firewall", FIREWALL),
            ("pilot", PILOT),
            ("banner", BANNER),
        ]));
        let mut seen = 0;
        for (fragment, bytes) in &c.mdm.fleet {
            let dir: Vec<&str> = fragment.split('/').collect();
            let dir = &dir[..dir.len() - 1];
            for line in text(bytes).lines() {
                let Some(path) = line.trim().strip_prefix("- path: ") else {
                    continue;
                };
                let mut parts: Vec<&str> = dir.to_vec();
                for part in path.split('/') {
                    if part == ".." {
                        assert!(parts.pop().is_some(), "{path} leaves build/mdm");
                    } else {
                        parts.push(part);
                    }
                }
                let resolved = parts.join("/");
                assert!(
                    c.mdm.files.contains_key(&resolved),
                    "{fragment}: {path} → {resolved} is not written"
                );
                seen += 1;
            }
        }
        // profiles.yml: firewall, pilot; stable.yml: firewall, banner; testing.yml: all three.
        assert_eq!(seen, 7);
    }

    #[test]
    fn one_bundle_gets_no_per_bundle_fragment() {
        let mut files = FileSet::new();
        files.insert(
            "mmc.yaml",
            "mmc_version: 1\norg: {name: Example Corp, identifier_prefix: com.example}\ntracks: [stable]\nbundles:\n  - {name: stable, track: stable}\n",
        );
        files.insert("profiles/firewall.yaml", FIREWALL);
        let c = compile(&files);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        assert_eq!(
            c.mdm.fleet.keys().collect::<Vec<_>>(),
            ["fleet/profiles.yml"]
        );
        assert!(c.mdm.notes.is_empty());
    }

    #[test]
    fn no_profiles_no_files() {
        let c = compile(&repo(&[]));
        assert!(c.mdm.files.is_empty());
        assert!(c.mdm.fleet.is_empty());
    }
}
