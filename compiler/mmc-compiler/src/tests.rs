//! Whole-compile tests on in-memory repositories: one behaviour each.

use crate::source::FileSet;
use crate::{Compiled, compile};

const REPO: &str = "mmc_version: 1\norg: {name: Org, identifier_prefix: com.example}\ntracks: [testing, stable]\nbundles:\n  - {name: testing, track: testing}\n  - {name: stable, track: stable}\nvars: {who: it}\n";

fn build(items: &str, manifest: &str) -> Compiled {
    let mut files = FileSet::new();
    files.insert("mmc.yaml", REPO);
    files.insert("policies/items/i.yaml", items);
    files.insert("policies/manifests/site_default.yaml", manifest);
    compile(&files)
}

fn codes(c: &Compiled) -> Vec<&'static str> {
    c.diagnostics.iter().map(|d| d.code).collect()
}

fn file<'a>(c: &'a Compiled, bundle: &str, path: &str) -> &'a str {
    let b = c.bundles.iter().find(|b| b.name == bundle).unwrap();
    std::str::from_utf8(&b.files[path]).unwrap()
}

const PKG: &str = "  - name: Firefox\n    kind: package\n    version: \"128.0\"\n    installer_item_location: f.pkg\n    installer_item_hash: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\n";

#[test]
fn scripts_are_literal_unless_the_item_asks_for_templates() {
    let items = "items:\n  - name: S\n    kind: script\n    version: \"1\"\n    installcheck_script: 'n=${#arr[@]}; echo {{ vars.who }}'\n    postinstall_script: 'true'\n  - name: T\n    kind: script\n    version: \"1\"\n    render_scripts: true\n    installcheck_script: 'echo {{ vars.who }}'\n    postinstall_script: 'true'\n";
    let c = build(items, "managed_installs: [S, T]\n");
    // Literal, but a warning says the braces look like they wanted rendering.
    assert_eq!(codes(&c), ["script-not-rendered"]);
    assert!(!c.has_errors());
    let s = file(&c, "stable", "munki/pkgsinfo/S-1.plist");
    assert!(s.contains("n=${#arr[@]}; echo {{ vars.who }}"), "{s}");
    let t = file(&c, "stable", "munki/pkgsinfo/T-1.plist");
    assert!(t.contains("echo it"), "{t}");
}

#[test]
fn munki_manifests_name_only_items_munki_installs() {
    let items = format!(
        "items:\n{PKG}  - name: Firefox-Policies\n    kind: preference\n    domain: org.mozilla.firefox\n    values: {{DisableAppUpdate: true}}\n"
    );
    let c = build(
        &items,
        "managed_installs: [Firefox, Firefox-128.0, Firefox-Policies]\n",
    );
    assert!(c.diagnostics.is_empty(), "{:?}", codes(&c));
    let m = file(&c, "stable", "munki/manifests/site_default");
    assert!(m.contains("<string>Firefox-128.0</string>"), "{m}");
    assert!(
        !m.contains("Firefox-Policies"),
        "preference items are the agent's, not Munki's: {m}"
    );
    let config = file(&c, "stable", "config.json");
    assert!(
        config.contains("\"Firefox-Policies\""),
        "the agent still gets it"
    );
}

#[test]
fn a_manifest_reading_catalogs_the_bundle_lacks_is_an_error() {
    let c = build(
        &format!("items:\n{PKG}"),
        "catalogs: [stable]\nmanaged_installs: [Firefox]\n",
    );
    assert_eq!(codes(&c), ["catalog-not-in-bundle"]);
    assert!(c.diagnostics[0].message.contains("bundle `testing`"));
    let c = build(
        &format!("items:\n{PKG}"),
        "catalogs: [testing, stable]\nmanaged_installs: [Firefox]\n",
    );
    assert!(c.diagnostics.is_empty(), "{:?}", codes(&c));
    let m = file(&c, "testing", "munki/manifests/site_default");
    assert!(
        m.contains("<string>testing</string>") && !m.contains("<string>stable</string>"),
        "{m}"
    );
}

#[test]
fn templates_in_metadata_of_preference_and_file_items_are_checked_and_kept() {
    let items = "items:\n  - name: B\n    kind: file\n    path: /etc/b\n    content: x\n    display_name: \"Banner for {{ vars.who }}\"\n  - name: P\n    kind: preference\n    domain: d\n    values: {a: 1}\n    description: \"{{ vars.typo }}\"\n";
    let c = build(items, "managed_installs: [B, P]\n");
    assert_eq!(codes(&c), ["template-undefined"]);
    let items = items.replace("vars.typo", "vars.who");
    let c = build(&items, "managed_installs: [B, P]\n");
    assert!(c.diagnostics.is_empty(), "{:?}", codes(&c));
    let config = file(&c, "stable", "config.json");
    assert!(
        config.contains("\"display_name\": \"Banner for it\""),
        "{config}"
    );
}

#[test]
fn receipts_accept_the_keys_makepkginfo_writes() {
    let items = format!(
        "items:\n{PKG}    receipts:\n      - packageid: org.mozilla.firefox\n        version: \"128.0\"\n        name: Firefox.pkg\n        installed_size: 412345\n        optional: false\n"
    );
    let c = build(&items, "managed_installs: [Firefox]\n");
    assert!(c.diagnostics.is_empty(), "{:?}", codes(&c));
    let p = file(&c, "stable", "munki/pkgsinfo/Firefox-128.0.plist");
    assert!(
        p.contains("<key>installed_size</key>\n\t\t\t<integer>412345</integer>"),
        "{p}"
    );
}

#[test]
fn uninstall_methods_need_what_they_use() {
    let with = |extra: &str| {
        build(
            &format!("items:\n{PKG}{extra}"),
            "managed_installs: [Firefox]\n",
        )
    };
    assert_eq!(
        codes(&with("    uninstall_method: uninstall_script\n")),
        ["missing-key"]
    );
    assert_eq!(
        codes(&with("    uninstall_method: uninstall_package\n")),
        ["missing-key", "missing-key"]
    );
    assert_eq!(
        codes(&with("    uninstall_method: remove_copied_items\n")),
        ["unsupported"]
    );
    assert_eq!(
        codes(&with("    uninstall_method: removepackages\n")),
        ["missing-key"]
    );
    assert_eq!(
        codes(&with("    uninstall_method: remove_pkgs\n")),
        ["unknown-uninstall-method"]
    );
    let ok = with(
        "    uninstall_method: uninstall_package\n    uninstaller_item_location: u.pkg\n    uninstaller_item_hash: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\n",
    );
    assert!(ok.diagnostics.is_empty(), "{:?}", codes(&ok));
    assert!(
        with("    uninstall_method: /usr/local/bin/remove-firefox\n")
            .diagnostics
            .is_empty()
    );
}

#[test]
fn the_same_input_compiles_to_the_same_bytes() {
    let items = format!("items:\n{PKG}");
    let a = build(&items, "managed_installs: [Firefox]\n");
    let b = build(&items, "managed_installs: [Firefox]\n");
    assert_eq!(a.bundles[0].files, b.bundles[0].files);
}

mod properties {
    use proptest::prelude::*;

    use crate::source::FileSet;

    /// Fragments that make up plausible (and implausible) policy files.
    fn yamlish() -> impl Strategy<Value = String> {
        let atoms = prop::sample::select(vec![
            "items:",
            "\n",
            "  - ",
            "name: ",
            "kind: ",
            "package",
            "script",
            "file",
            "preference",
            "version: ",
            "\"1.10\"",
            "1.10",
            "yes",
            "0644",
            "{{ vars.x }}",
            "{% for %}",
            "&a ",
            "*a",
            "<<: ",
            "[",
            "]",
            "{",
            "}",
            ": ",
            "- ",
            "#",
            "'",
            "\"",
            "é",
            "\t",
            "---\n",
            "~",
            "values:",
            "managed_installs:",
            "included_manifests:",
        ]);
        prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn compile_never_panics_and_spans_stay_inside_their_file(items in yamlish(), manifest in yamlish()) {
            let mut files = FileSet::new();
            files.insert("mmc.yaml", super::REPO);
            files.insert("policies/items/i.yaml", items);
            files.insert("policies/manifests/m.yaml", manifest);
            let compiled = crate::compile(&files);
            for d in &compiled.diagnostics {
                for label in &d.labels {
                    let text = files.get(&label.file).expect("labels name files of the set");
                    prop_assert!(label.span.start <= label.span.end && label.span.end <= text.len(), "{d:?}");
                    prop_assert!(text.is_char_boundary(label.span.start) && text.is_char_boundary(label.span.end), "{d:?}");
                }
                // Every renderer copes with every diagnostic.
                let _ = crate::diag::render_human(d, &files, false);
                let _ = crate::diag::render_json(d, &files);
            }
        }
    }
}

#[test]
fn manifest_names_must_survive_as_file_names() {
    let mut files = FileSet::new();
    files.insert("mmc.yaml", REPO);
    files.insert("policies/manifests/Lab Macs.yaml", "managed_installs: []\n");
    files.insert("policies/manifests/lab.yaml", "managed_installs: []\n");
    files.insert("policies/manifests/LAB.yml", "managed_installs: []\n");
    let c = compile(&files);
    assert_eq!(codes(&c), ["bad-manifest-name", "duplicate-manifest"]);
}

#[test]
fn include_cycles_are_found_in_dense_include_graphs() {
    // m00 includes every later manifest, m01 every later one, …; m39 includes m20 again.
    let mut files = FileSet::new();
    files.insert("mmc.yaml", REPO);
    for i in 0..40 {
        let mut includes: Vec<String> = (i + 1..40).map(|j| format!("m{j:02}")).collect();
        if i == 39 {
            includes.push("m20".to_owned());
        }
        files.insert(
            format!("policies/manifests/m{i:02}.yaml"),
            format!("included_manifests: [{}]\n", includes.join(", ")),
        );
    }
    let c = compile(&files);
    assert_eq!(codes(&c), ["include-cycle"]);
    assert!(
        c.diagnostics[0].message.ends_with("m39 → m20"),
        "{}",
        c.diagnostics[0].message
    );
    assert!(
        c.diagnostics[0].message.contains("m20 → m21"),
        "{}",
        c.diagnostics[0].message
    );
}

/// A small repository that uses each kind of item, a conditional item, a profile and an update
/// policy.
fn artifacts_repo() -> FileSet {
    let mut files = FileSet::new();
    files.insert("mmc.yaml", REPO);
    files.insert(
        "policies/items/i.yaml",
        format!(
            "items:\n{PKG}    display_name: Firefox\n    installs:\n      - type: application\n        path: /Applications/Firefox.app\n        CFBundleShortVersionString: \"128.0\"\n    receipts:\n      - packageid: org.mozilla.firefox\n        version: \"128.0\"\n  - name: FirewallOn\n    kind: script\n    version: \"1.0\"\n    installcheck_script: \"exit 1\"\n    postinstall_script: \"/usr/libexec/ApplicationFirewall/socketfilterfw --setglobalstate on\"\n  - name: ScreenSaver\n    kind: preference\n    domain: com.apple.screensaver\n    values: {{idleTime: 600, askForPassword: true, ratio: 0.5, modules: [a, b]}}\n  - name: Banner\n    kind: file\n    path: /Library/Security/PolicyBanner.txt\n    mode: \"0644\"\n    content: \"Ask {{{{ vars.who }}}}\\n\"\n  - name: Heartbeat\n    kind: launchd\n    display_name: Heartbeat for {{{{ vars.who }}}}\n    label: com.example.heartbeat\n    job:\n      ProgramArguments: [/usr/local/bin/heartbeat, \"--who={{{{ vars.who }}}}\"]\n      StartInterval: 3600\n      RunAtLoad: true\n      KeepAlive: {{SuccessfulExit: false}}\n"
        ),
    );
    files.insert(
        "policies/manifests/site_default.yaml",
        "included_manifests: [common]\nmanaged_installs: [Firefox, ScreenSaver]\nconditional_items:\n  - condition: machine_type == \"laptop\"\n    managed_installs: [FirewallOn]\n",
    );
    files.insert(
        "policies/manifests/common.yaml",
        "managed_installs: [Banner, Heartbeat]\n",
    );
    files.insert(
        "profiles/loginwindow.yaml",
        "display_name: Login Window\nremoval_disallowed: true\npayloads:\n  - type: com.apple.loginwindow\n    settings: {SHOWFULLNAME: true, LoginwindowText: \"{{ org.name }}\"}\n",
    );
    files.insert(
        "policies/updates/security.yaml",
        "condition: machine_type == 'laptop'\ntracks: [stable]\nrequire: recommended\nmax_deferral: 3d\nwork_hours: \"08:00-18:00\"\nnotifier: jamfhelper\nsupport_contact: \"{{ vars.who }}\"\n",
    );
    files
}

/// Every artifact of [`artifacts_repo`], as text, plus the archive and envelope digests under a
/// fixed key and stamp: any change to what mmc emits shows up here for review, including a change
/// of deflate backend or level.
#[test]
fn emitted_artifacts() {
    let files = artifacts_repo();
    let c = compile(&files);
    assert!(c.diagnostics.is_empty(), "{:?}", codes(&c));
    let stable = c.bundles.iter().find(|b| b.name == "stable").unwrap();
    for (path, bytes) in &stable.files {
        let name = path.replace('/', "__");
        insta::assert_snapshot!(name, std::str::from_utf8(bytes).unwrap());
    }
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let p = crate::package(
        stable,
        crate::Stamp {
            version: 1_793_534_400,
            created: 1_793_534_400,
        },
        &key,
    )
    .unwrap();
    insta::assert_snapshot!(
        "digests",
        format!(
            "archive {} ({} bytes)\nenvelope {}",
            mmc_bundle::sha256_hex(&p.archive),
            p.archive.len(),
            mmc_bundle::sha256_hex(&p.envelope)
        )
    );
}

#[test]
fn the_agent_reads_the_manifests_the_compiler_writes() {
    let c = build(
        &format!("items:\n{PKG}"),
        "managed_installs: [Firefox]\nconditional_items:\n  - condition: machine_type == 'laptop' AND os_vers_major >= 14\n    managed_installs: [Firefox]\n",
    );
    assert!(c.diagnostics.is_empty(), "{:?}", codes(&c));
    let config: serde_json::Value =
        serde_json::from_str(file(&c, "stable", "config.json")).unwrap();
    let manifests: std::collections::BTreeMap<String, mmc_manifest::Manifest> =
        serde_json::from_value(config["manifests"].clone()).unwrap();
    let stable = c.bundles.iter().find(|b| b.name == "stable").unwrap();
    assert_eq!(manifests, stable.manifests);
    // Conditions ship in canonical form.
    assert_eq!(
        manifests["site_default"].conditional_items[0].condition,
        "machine_type == \"laptop\" AND os_vers_major >= 14"
    );
    assert_eq!(
        config["munki_manifests"]["site_default"],
        "munki/manifests/site_default"
    );
}

/// Compiles a manifest with one conditional item and returns (code, severity is error, the
/// text the primary span covers) for each diagnostic.
fn condition(cond: &str) -> Vec<(&'static str, bool, String)> {
    let manifest = format!(
        "conditional_items:\n  - condition: '{}'\n    managed_installs: [Firefox]\n",
        cond.replace('\'', "''")
    );
    let mut files = FileSet::new();
    files.insert(
        "mmc.yaml",
        format!("{REPO}facts: {{department: string, tags: string_array}}\n"),
    );
    files.insert("policies/items/i.yaml", format!("items:\n{PKG}"));
    files.insert("policies/manifests/site_default.yaml", manifest.clone());
    let c = compile(&files);
    c.diagnostics
        .iter()
        .map(|d| {
            let l = d.primary().unwrap();
            (d.code, d.is_error(), manifest[l.span.clone()].to_owned())
        })
        .collect()
}

#[test]
fn conditions_are_type_checked_with_spans_inside_the_string() {
    assert_eq!(
        condition(r#"machine_type == "laptop" AND os_vers_major >= 14"#),
        []
    );
    assert_eq!(
        condition(r#"ANY tags == "kiosk" OR department IN {"Finance", "Sales"}"#),
        []
    );
    assert_eq!(
        condition(r#"date > CAST("2026-01-01T00:00:00Z", "NSDate")"#),
        []
    );
    assert_eq!(
        condition(r#"machin_type == "laptop""#),
        [("unknown-fact", true, "machin_type".to_owned())]
    );
    assert_eq!(
        condition(r#"os_vers_major == "14""#),
        [(
            "condition-type",
            true,
            r#"os_vers_major == "14""#.to_owned()
        )]
    );
    assert_eq!(
        condition(r#"os_vers >= "10.15""#),
        [(
            "condition-version-order",
            false,
            r#"os_vers >= "10.15""#.to_owned()
        )]
    );
    let mixed = condition(r#"arch == "arm64" AND os_vers_major >= 14 OR machine_type == "laptop""#);
    assert_eq!(mixed.len(), 1);
    assert_eq!((mixed[0].0, mixed[0].1), ("condition-precedence", false));
    assert_eq!(
        condition(r#"(arch == "arm64" AND os_vers_major >= 14) OR machine_type == "laptop""#),
        []
    );
    assert_eq!(condition(r#"ANY os_vers == "14""#)[0].0, "condition-type");
    assert_eq!(
        condition(r#"applications.bundelid == "x""#)[0].0,
        "unknown-fact"
    );
    assert_eq!(
        condition(r#"ANY applications.bundleid == "com.tinyspeck.slackmacgap""#),
        []
    );
}

#[test]
fn unsupported_syntax_and_hyphenated_names_are_explained() {
    let d = condition(r#"board-id == "Mac-1234""#);
    assert_eq!(d[0].0, "condition-unsupported");
    let d = condition(r#"SUBQUERY(applications, $a, $a.bundleid == "x").@count > 0"#);
    assert_eq!(d[0].0, "condition-unsupported");
    let d = condition(r#"machine_type == %@"#);
    assert_eq!(d[0].0, "condition-unsupported");
}

#[test]
fn declared_facts_are_checked() {
    let mut files = FileSet::new();
    files.insert(
        "mmc.yaml",
        format!(
            "{REPO}facts: {{board-tag: string, dept: strng, os_vers: string, size: integer}}\n"
        ),
    );
    let c = compile(&files);
    assert_eq!(
        codes(&c),
        [
            "bad-fact-name",
            "bad-fact-type",
            "builtin-fact",
            "bad-fact-name"
        ]
    );
}

#[test]
fn modifications_need_one_target_a_declared_fact_and_real_items() {
    let modif = |m: &str| {
        let mut files = FileSet::new();
        files.insert("mmc.yaml", format!("{REPO}facts: {{site: string}}\n"));
        files.insert("policies/items/i.yaml", format!("items:\n{PKG}"));
        files.insert(
            "policies/manifests/site_default.yaml",
            format!("managed_installs: [Firefox]\nmodifications:\n{m}"),
        );
        codes(&compile(&files))
    };
    assert_eq!(
        modif("  - site: BER\n    managed_installs: [-Firefox]\n"),
        Vec::<&str>::new()
    );
    assert_eq!(
        modif("  - site: BER\n    managed_installs: [-Firefx]\n"),
        ["unknown-item"]
    );
    assert_eq!(
        modif("  - site: BER\n    managed_uninstalls: [-Firefox]\n"),
        ["removal-matches-nothing"]
    );
    assert_eq!(
        modif("  - owner: ann\n    managed_installs: [Firefox]\n"),
        ["modification-fact"]
    );
    assert_eq!(
        modif("  - site: BER\n    tag: x\n    managed_installs: [Firefox]\n"),
        ["modification-target"]
    );
    assert_eq!(
        modif("  - managed_installs: [Firefox]\n"),
        ["modification-target"]
    );
}

/// A policy repository on disk, read the way `mmc` reads one (`mmc.yaml`, `policies/`,
/// `profiles/`), into memory.
pub(crate) fn read_repo(root: &std::path::Path) -> FileSet {
    read_repo_with(root, None)
}

/// [`read_repo`], with the policy files of `overlay` (a CLI fixture case) laid over it.
fn read_repo_with(root: &std::path::Path, overlay: Option<&std::path::Path>) -> FileSet {
    fn walk(root: &std::path::Path, dir: &std::path::Path, files: &mut FileSet) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                let rel = path.strip_prefix(root).unwrap().to_str().unwrap();
                files.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut files = FileSet::new();
    files.insert(
        "mmc.yaml",
        std::fs::read_to_string(root.join("mmc.yaml")).unwrap(),
    );
    for dir in ["policies", "profiles"] {
        walk(root, &root.join(dir), &mut files);
        if let Some(o) = overlay {
            walk(o, &o.join(dir), &mut files);
        }
    }
    files
}

/// The contract with the agent holds: every `config.json` the compiler writes for the example
/// repository, the CLI's base fixture (alone, and with the update policies of the `updates`
/// case) and the artifacts repository reads back through
/// `mmc_config::Config` (which refuses unknown fields and layouts) and writes the same bytes.
#[test]
fn every_config_json_reads_back_through_the_agents_types() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let repos = [
        ("example", read_repo(&root)),
        (
            "fixtures/base",
            read_repo(&root.join("compiler/mmc/tests/fixtures/base")),
        ),
        (
            "fixtures/cases/updates",
            read_repo_with(
                &root.join("compiler/mmc/tests/fixtures/base"),
                Some(&root.join("compiler/mmc/tests/fixtures/cases/updates")),
            ),
        ),
        ("artifacts", artifacts_repo()),
    ];
    let mut policies = 0;
    for (repo, files) in repos {
        let c = compile(&files);
        assert!(!c.has_errors(), "{repo}: {:?}", codes(&c));
        assert!(!c.bundles.is_empty(), "{repo}");
        for b in &c.bundles {
            let bytes = &b.files["config.json"];
            let config = mmc_config::Config::from_json(bytes)
                .unwrap_or_else(|e| panic!("{repo}/{}: {e}", b.name));
            assert_eq!(
                &config.to_json(),
                bytes,
                "{repo}/{}: not a round trip",
                b.name
            );
            assert_eq!(config.format, mmc_config::FORMAT);
            assert_eq!(config.manifests, b.manifests, "{repo}/{}", b.name);
            // Every file the config names is in the bundle.
            for (name, item) in &config.items {
                let file = match item {
                    mmc_config::Item::Package(m) | mmc_config::Item::Script(m) => &m.pkginfo,
                    mmc_config::Item::Preference(p) => &p.values,
                    mmc_config::Item::Launchd(l) => &l.plist,
                    mmc_config::Item::File(_) => continue,
                };
                assert!(
                    b.files.contains_key(file),
                    "{repo}/{}: {name} names {file}",
                    b.name
                );
            }
            for (name, path) in &config.munki_manifests {
                assert!(b.files.contains_key(path), "{repo}: {name}");
            }
            for (id, p) in &config.profiles {
                assert!(b.files.contains_key(&p.file), "{repo}: {id}");
            }
            // What the agent requires of an update policy, and has no defaults for.
            for u in &config.updates {
                policies += 1;
                assert!(u.notifier.program.starts_with('/'), "{repo}: {}", u.name);
                if let Some(d) = &u.deadline {
                    assert!(d.parse::<jiff::Timestamp>().is_ok(), "{repo}: {d}");
                }
                if let Some(w) = u.work_hours {
                    assert!(w.start <= 23 && w.end <= 24 && w.start < w.end, "{repo}");
                }
                assert!(u.max_deferral_secs > 0 && u.reprompt_secs > 0);
                assert!(u.prompt_timeout_secs > 0 && u.restart_delay_secs > 0);
            }
        }
    }
    assert!(
        policies >= 4,
        "the example, the fixture and the artifacts carry update policies"
    );
}

const DAEMON: &str = "  - name: Heartbeat\n    kind: launchd\n    label: com.example.heartbeat\n    job:\n      ProgramArguments: [/usr/local/bin/heartbeat]\n      StartInterval: 3600\n";

#[test]
fn launchd_items_are_the_agents_not_munkis() {
    let items = format!(
        "items:\n{PKG}{DAEMON}    description: \"Tells {{{{ vars.who }}}} we are alive\"\n"
    );
    let c = build(&items, "managed_installs: [Firefox, Heartbeat]\n");
    assert!(c.diagnostics.is_empty(), "{:?}", codes(&c));
    let m = file(&c, "stable", "munki/manifests/site_default");
    assert!(m.contains("Firefox") && !m.contains("Heartbeat"), "{m}");
    let catalog = file(&c, "stable", "munki/catalogs/all");
    assert!(!catalog.contains("Heartbeat"), "{catalog}");
    let config =
        mmc_config::Config::from_json(file(&c, "stable", "config.json").as_bytes()).unwrap();
    let mmc_config::Item::Launchd(l) = &config.items["Heartbeat"] else {
        panic!("{:?}", config.items["Heartbeat"]);
    };
    assert_eq!(l.label, "com.example.heartbeat");
    assert_eq!(l.plist, "launchd/com.example.heartbeat.plist");
    assert_eq!(
        l.path(),
        "/Library/LaunchDaemons/com.example.heartbeat.plist"
    );
    assert_eq!(l.meta.description.as_deref(), Some("Tells it we are alive"));
    let plist: plist::Dictionary =
        plist::from_bytes(file(&c, "stable", &l.plist).as_bytes()).unwrap();
    let keys: Vec<&str> = plist.keys().map(String::as_str).collect();
    assert_eq!(keys, ["Label", "ProgramArguments", "StartInterval"]);
    assert_eq!(plist["Label"].as_string(), Some("com.example.heartbeat"));
}

#[test]
fn launchd_labels_and_jobs_are_checked() {
    let daemon = |label: &str, job: &str| {
        let c = build(
            &format!(
                "items:\n  - name: D\n    kind: launchd\n    label: {label}\n    job: {job}\n"
            ),
            "managed_installs: [D]\n",
        );
        codes(&c)
    };
    let ok = "{ProgramArguments: [/usr/local/bin/d], StartInterval: 60}";
    assert_eq!(daemon("com.example.d", ok), Vec::<&str>::new());
    assert_eq!(
        daemon("com.example.d", "{Program: /usr/local/bin/d}"),
        Vec::<&str>::new()
    );
    assert_eq!(daemon("\"com example\"", ok), ["bad-label"]);
    assert_eq!(daemon(".hidden", ok), ["bad-label"]);
    assert_eq!(daemon("\"com/example\"", ok), ["bad-label"]);
    assert_eq!(daemon("com.apple.fake", ok), ["apple-label"]);
    assert_eq!(daemon("COM.Apple.fake", ok), ["apple-label"]);
    assert_eq!(daemon("com.applesauce.d", ok), Vec::<&str>::new());
    assert_eq!(daemon("com.example.d", "[a, b]"), ["bad-job"]);
    assert_eq!(
        daemon("com.example.d", "{Label: x, Program: /bin/d}"),
        ["reserved-key"]
    );
    assert_eq!(
        daemon("com.example.d", "{RunAtLoad: true}"),
        ["missing-key"]
    );
    assert_eq!(daemon("com.example.d", "{}"), ["missing-key"]);
    assert_eq!(
        daemon("com.example.d", "{ProgramArguments: []}"),
        ["bad-job-value"]
    );
    assert_eq!(
        daemon("com.example.d", "{ProgramArguments: /bin/d}"),
        ["bad-job-value"]
    );
    assert_eq!(
        daemon("com.example.d", "{ProgramArguments: [/bin/d, 3, true]}"),
        ["bad-job-value", "bad-job-value"]
    );
    assert_eq!(daemon("com.example.d", "{Program: 3}"), ["bad-job-value"]);
    for interval in ["0", "-5", "\"60\"", "1.5"] {
        assert_eq!(
            daemon(
                "com.example.d",
                &format!("{{Program: /bin/d, StartInterval: {interval}}}")
            ),
            ["bad-job-value"],
            "{interval}"
        );
    }
    // A null is reported once, as anywhere in free-form values.
    assert_eq!(
        daemon("com.example.d", "{Program: ~, StartInterval: ~}"),
        ["null-value", "null-value"]
    );
    // Templates are allowed in the job's strings, and checked.
    assert_eq!(
        daemon(
            "com.example.d",
            "{ProgramArguments: [/bin/d, \"{{ vars.nope }}\"]}"
        ),
        ["template-undefined"]
    );
    // Both keys are required.
    let c = build(
        "items:\n  - name: D\n    kind: launchd\n",
        "managed_installs: [D]\n",
    );
    assert_eq!(codes(&c), ["missing-key", "missing-key"]);
}

#[test]
fn label_and_job_belong_to_launchd_items_only() {
    let c = build(
        &format!(
            "items:\n{PKG}    label: com.example.firefox\n  - name: B\n    kind: file\n    path: /etc/b\n    content: x\n    job: {{Program: /bin/b}}\n  - name: D\n    kind: launchd\n    label: com.example.d\n    domain: com.example.d\n    job: {{Program: /bin/d}}\n"
        ),
        "managed_installs: [Firefox]\n",
    );
    assert_eq!(
        codes(&c),
        ["key-not-for-kind", "key-not-for-kind", "key-not-for-kind"]
    );
}

#[test]
fn two_items_must_not_write_the_same_place() {
    let two = |second: &str| {
        codes(&build(
            &format!("items:\n{DAEMON}{second}"),
            "managed_installs: [Heartbeat]\n",
        ))
    };
    let again = "  - name: Again\n    kind: launchd\n    label: com.example.heartbeat\n    job: {Program: /bin/x}\n";
    assert_eq!(two(again), ["duplicate-label"]);
    // Labels that differ only in case share a plist on macOS.
    assert_eq!(
        two(&again.replace("heartbeat", "HeartBeat")),
        ["duplicate-label"]
    );
    // A testing-only variant never ships in the same bundle as a stable-only item.
    let split = "  - name: Heartbeat\n    kind: launchd\n    catalogs: [stable]\n    label: com.example.heartbeat\n    job: {Program: /bin/x}\n  - name: HeartbeatBeta\n    kind: launchd\n    catalogs: [testing]\n    label: com.example.heartbeat\n    job: {Program: /bin/y}\n";
    assert_eq!(
        codes(&build(
            &format!("items:\n{split}"),
            "managed_installs: []\n"
        )),
        Vec::<&str>::new()
    );
    let plist_file = "  - name: Plist\n    kind: file\n    path: /Library/LaunchDaemons/com.example.heartbeat.plist\n    content: x\n";
    assert_eq!(two(plist_file), ["duplicate-path"]);
    assert_eq!(
        two(&plist_file.replace("/Library/", "//library/./")),
        ["duplicate-path"]
    );
    let files = "  - name: A\n    kind: file\n    path: /etc/motd\n    content: a\n  - name: B\n    kind: file\n    path: /etc/motd\n    content: b\n";
    assert_eq!(two(files), ["duplicate-path"]);
    let other = "  - name: A\n    kind: file\n    path: /etc/motd\n    content: a\n  - name: B\n    kind: file\n    path: /etc/motd.d\n    content: b\n";
    assert_eq!(two(other), Vec::<&str>::new());
}

#[test]
fn a_payload_sharing_the_profiles_identifier_gets_its_own_uuid() {
    // Vendors' profiles often reuse the profile's identifier for its one payload.
    let mut files = FileSet::new();
    files.insert("mmc.yaml", REPO);
    files.insert("policies/items/i.yaml", format!("items:\n{PKG}"));
    files.insert(
        "policies/manifests/site_default.yaml",
        "managed_installs: [Firefox]\n",
    );
    files.insert(
        "profiles/vendor.yaml",
        "identifier: com.vendor.agent\ndisplay_name: Vendor\npayloads:\n  - type: com.vendor.agent\n    identifier: com.vendor.agent\n    settings: {enabled: true}\n",
    );
    let c = compile(&files);
    assert!(
        !c.diagnostics.iter().any(|d| d.is_error()),
        "{:?}",
        codes(&c)
    );
    let b = c.bundles.iter().find(|b| b.name == "stable").unwrap();
    let (_, bytes) = b
        .files
        .iter()
        .find(|(p, _)| p.ends_with(".mobileconfig"))
        .expect("the profile is in the bundle");
    let profile = plist::Value::from_reader(std::io::Cursor::new(bytes)).unwrap();
    let profile = profile.as_dictionary().unwrap();
    let payload = profile["PayloadContent"].as_array().unwrap()[0]
        .as_dictionary()
        .unwrap();
    assert_eq!(payload["PayloadIdentifier"], profile["PayloadIdentifier"]);
    assert_ne!(payload["PayloadUUID"], profile["PayloadUUID"]);
}
