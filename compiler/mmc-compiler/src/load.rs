//! Finding and parsing every policy file of a repository.

use std::collections::BTreeMap;

use crate::diag::Diagnostic;
use crate::source::FileSet;
use crate::syntax::{self, model::*};

pub const REPO_FILE: &str = "mmc.yaml";
pub const ITEMS_DIR: &str = "policies/items";
pub const MANIFESTS_DIR: &str = "policies/manifests";
pub const PROFILES_DIR: &str = "profiles";
pub const TESTS_DIR: &str = "policies/tests";
pub const UPDATES_DIR: &str = "policies/updates";

/// A parsed file and where it came from.
#[derive(Debug)]
pub struct Src<T> {
    pub file: String,
    pub value: T,
}

/// Every policy file that parsed. Files that did not parse left diagnostics instead.
#[derive(Debug)]
pub struct Loaded {
    pub repo: Src<RepoFile>,
    /// Items in file order, then in the order written.
    pub items: Vec<Src<RawItem>>,
    /// Manifests by name (path below `policies/manifests/` without the extension).
    pub manifests: BTreeMap<String, Src<ManifestFile>>,
    pub profiles: Vec<Src<ProfileFile>>,
    /// Policy test cases for `mmc test`.
    pub tests: Vec<Src<TestFile>>,
    /// Update enforcement policies by name (the file name without the extension).
    pub updates: BTreeMap<String, Src<UpdatesFile>>,
    /// Some items file did not parse: an unresolved item name may be defined there, so it is not
    /// reported (the parse error is).
    pub items_incomplete: bool,
    /// Likewise for manifest files.
    pub manifests_incomplete: bool,
}

/// Parses all files. Returns `None` only when `mmc.yaml` itself is missing or unusable; every
/// other file that fails is left out and explained in `diags`.
pub fn load(files: &FileSet, diags: &mut Vec<Diagnostic>) -> Option<Loaded> {
    let repo = match files.get(REPO_FILE) {
        Some(text) => syntax::parse::<RepoFile>(REPO_FILE, text, diags).map(|value| Src {
            file: REPO_FILE.to_owned(),
            value,
        }),
        None => {
            diags.push(
                Diagnostic::error("no-repo-file", "this policy repository has no mmc.yaml")
                    .help("run `mmc init DIR` to start a new policy repository"),
            );
            None
        }
    };
    let mut items = Vec::new();
    let mut items_incomplete = false;
    for (path, text) in files.yaml_under(ITEMS_DIR) {
        match syntax::parse::<ItemsFile>(path, text, diags) {
            Some(f) => items.extend(f.items.into_iter().map(|value| Src {
                file: path.to_owned(),
                value,
            })),
            None => items_incomplete = true,
        }
    }
    let mut manifests: BTreeMap<String, Src<ManifestFile>> = BTreeMap::new();
    let mut manifests_incomplete = false;
    for (path, text) in files.yaml_under(MANIFESTS_DIR) {
        let name = manifest_name(path);
        let parsed = syntax::parse::<ManifestFile>(path, text, diags);
        manifests_incomplete |= parsed.is_none();
        if let Some(value) = parsed {
            // Munki finds a manifest by its file name, so the name must survive as one unchanged
            // on a case-insensitive file system.
            if !name.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            }) {
                diags.push(
                    Diagnostic::error("bad-manifest-name", format!("`{name}` cannot be a manifest name"))
                        .at(path, 0..0, "the manifest's name is its path")
                        .help("rename the file using letters, digits, `.`, `-` and `_` (e.g. `Lab Macs.yaml` → `lab_macs.yaml`)"),
                );
                continue;
            }
            if let Some(other) = manifests.keys().find(|k| k.eq_ignore_ascii_case(&name)) {
                let what = if *other == name {
                    "two files define"
                } else {
                    "on a case-insensitive disk, two files define"
                };
                diags.push(
                    Diagnostic::error("duplicate-manifest", format!("{what} manifest `{name}`"))
                        .at(path, 0..0, "second definition")
                        .help(format!(
                            "`{other}` already exists; rename or merge one of them"
                        )),
                );
                continue;
            }
            manifests.insert(
                name,
                Src {
                    file: path.to_owned(),
                    value,
                },
            );
        }
    }
    let mut profiles = Vec::new();
    for (path, text) in files.yaml_under(PROFILES_DIR) {
        if let Some(value) = syntax::parse::<ProfileFile>(path, text, diags) {
            profiles.push(Src {
                file: path.to_owned(),
                value,
            });
        }
    }
    let mut tests = Vec::new();
    for (path, text) in files.yaml_under(TESTS_DIR) {
        if let Some(value) = syntax::parse::<TestFile>(path, text, diags) {
            tests.push(Src {
                file: path.to_owned(),
                value,
            });
        }
    }
    let mut updates: BTreeMap<String, Src<UpdatesFile>> = BTreeMap::new();
    for (path, text) in files.yaml_under(UPDATES_DIR) {
        let Some(value) = syntax::parse::<UpdatesFile>(path, text, diags) else {
            continue;
        };
        let name = file_stem(path);
        let below = path
            .strip_prefix(UPDATES_DIR)
            .unwrap_or(path)
            .trim_start_matches('/');
        // The name becomes file names under build/mdm/ and the DDM declaration's identifier.
        if below.contains('/') {
            diags.push(
                Diagnostic::error(
                    "bad-update-name",
                    format!("{path} is in a subfolder of {UPDATES_DIR}/"),
                )
                .at(path, 0..0, "update policies are not read from subfolders")
                .help(format!(
                    "move it to {UPDATES_DIR}/{}",
                    below.rsplit('/').next().unwrap_or(below)
                )),
            );
            continue;
        }
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        {
            diags.push(
                Diagnostic::error("bad-update-name", format!("`{name}` cannot be an update policy name"))
                    .at(path, 0..0, "the policy's name is its file name")
                    .help("rename the file using letters, digits, `.`, `-` and `_` (e.g. `macOS 15.yaml` → `macos-15.yaml`)"),
            );
            continue;
        }
        if let Some(other) = updates.keys().find(|k| k.eq_ignore_ascii_case(name)) {
            diags.push(
                Diagnostic::error(
                    "duplicate-update-policy",
                    format!("two files define update policy `{name}`"),
                )
                .at(path, 0..0, "second definition")
                .help(format!(
                    "`{other}` already exists (names are compared ignoring case, as on a Mac's disk); rename one of them"
                )),
            );
            continue;
        }
        updates.insert(
            name.to_owned(),
            Src {
                file: path.to_owned(),
                value,
            },
        );
    }
    Some(Loaded {
        tests,
        updates,
        repo: repo?,
        items,
        manifests,
        profiles,
        items_incomplete,
        manifests_incomplete,
    })
}

/// `policies/manifests/site/lab.yaml` → `site/lab`.
pub fn manifest_name(path: &str) -> String {
    let rest = path
        .strip_prefix(MANIFESTS_DIR)
        .unwrap_or(path)
        .trim_start_matches('/');
    rest.strip_suffix(".yaml")
        .or_else(|| rest.strip_suffix(".yml"))
        .unwrap_or(rest)
        .to_owned()
}

/// `profiles/screensaver.yaml` → `screensaver`.
pub fn file_stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_suffix(".yaml")
        .or_else(|| name.strip_suffix(".yml"))
        .unwrap_or(name)
}
