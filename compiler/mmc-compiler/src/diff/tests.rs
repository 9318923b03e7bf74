//! The change tree on in-memory repositories: one behaviour each.

use super::*;
use crate::source::FileSet;
use crate::{Compiled, compile};

const REPO: &str = "mmc_version: 1\norg: {name: Org, identifier_prefix: com.example}\ntracks: [testing, stable]\nbundles:\n  - {name: testing, track: testing}\n  - {name: stable, track: stable}\n";

const ITEMS: &str = "items:
  - name: Firefox
    kind: package
    version: \"128.0\"
    installer_item_location: f.pkg
    installer_item_hash: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
    postinstall_script: |
      #!/bin/sh
      echo one
      echo two
  - name: License
    kind: package
    version: \"1\"
    installer_item_location: l.pkg
    installer_item_hash: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
    update_for: [Firefox]
  - name: Banner
    kind: file
    path: /etc/banner
    content: hello
";

const COMMON: &str = "managed_installs: [Banner]\nconditional_items:\n  - condition: machine_type == \"laptop\"\n    managed_installs: [Firefox]\n";
const SITE: &str = "included_manifests: [common]\n";
const PROFILE: &str = "display_name: Screen Saver\npayloads:\n  - type: com.apple.screensaver\n    settings:\n      idleTime: 600\n";

fn repo() -> FileSet {
    let mut f = FileSet::new();
    f.insert("mmc.yaml", REPO);
    f.insert("policies/items/apps.yaml", ITEMS);
    f.insert("policies/manifests/common.yaml", COMMON);
    f.insert("policies/manifests/site_default.yaml", SITE);
    f.insert("profiles/screensaver.yaml", PROFILE);
    f
}

fn side(role: &str, version: u64) -> Side {
    Side {
        role: role.to_owned(),
        revision: role.to_lowercase(),
        commit: None,
        version: Some(version),
    }
}

fn ok(files: &FileSet) -> Compiled {
    let c = compile(files);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    c
}

fn run(a: &FileSet, b: &FileSet) -> Diff {
    diff(
        side("BASE", 1),
        &ok(a).bundles,
        side("HEAD", 2),
        &ok(b).bundles,
        None,
    )
}

fn edit(path: &str, from: &str, to: &str) -> FileSet {
    let mut f = repo();
    let text = f.get(path).unwrap().replace(from, to);
    assert_ne!(Some(text.as_str()), f.get(path), "the edit applies");
    f.insert(path, text);
    f
}

fn stable(d: &Diff) -> &BundleDiff {
    d.bundles.iter().find(|b| b.name == "stable").unwrap()
}

#[test]
fn a_repository_against_itself_has_no_changes() {
    let d = run(&repo(), &repo());
    assert!(!d.changed);
    assert!(
        d.bundles
            .iter()
            .all(|b| b.action.is_none() && b.version.is_none())
    );
    assert_eq!(d.summary.total(), 0);
    assert!(render::human(&d, false).contains("No changes."));
}

#[test]
fn cosmetic_yaml_edits_change_nothing() {
    let mut f = repo();
    // Comments, key order, quoting style, flow vs block lists.
    f.insert(
        "policies/manifests/common.yaml",
        "# the baseline\nconditional_items:\n  - managed_installs:\n      - 'Firefox'\n    condition: 'machine_type == \"laptop\"'\nmanaged_installs:\n  - \"Banner\"\n",
    );
    f.insert(
        "profiles/screensaver.yaml",
        "payloads:\n  - settings: {idleTime: 600}\n    type: \"com.apple.screensaver\"\ndisplay_name: 'Screen Saver'   # shown to users\n",
    );
    let d = run(&repo(), &f);
    assert!(!d.changed, "{}", render::human(&d, false));
}

#[test]
fn moving_an_item_to_another_file_changes_nothing() {
    let mut f = repo();
    let (first, rest) = ITEMS.split_at(ITEMS.find("  - name: Banner").unwrap());
    f.insert("policies/items/apps.yaml", first);
    f.insert("policies/items/files.yaml", format!("items:\n{rest}"));
    assert!(!run(&repo(), &f).changed);
}

#[test]
fn a_version_bump_is_a_field_change_with_its_reach() {
    let d = run(
        &repo(),
        &edit(
            "policies/items/apps.yaml",
            "version: \"128.0\"",
            "version: \"129.0\"",
        ),
    );
    assert!(d.changed);
    let b = stable(&d);
    assert_eq!(b.action, Some(Action::Update));
    assert_eq!(
        b.version,
        Some(Pair {
            before: Some(1),
            after: Some(2)
        })
    );
    assert_ne!(b.sha256.before, b.sha256.after);
    let [r] = b.changes.as_slice() else {
        panic!("{:?}", b.changes)
    };
    assert_eq!(
        (r.kind, r.name.as_str(), r.action),
        (ResourceKind::Package, "Firefox", Action::Update)
    );
    assert_eq!(r.source.as_deref(), Some("policies/items/apps.yaml"));
    assert_eq!(r.fields.len(), 1);
    assert_eq!(r.fields[0].path, "version");
    let reach = r.reach.as_ref().unwrap();
    assert_eq!(
        reach.references[0].path(),
        "common › if machine_type == \"laptop\" › managed_installs"
    );
    assert_eq!(reach.included_by, ["site_default"]);
}

#[test]
fn scripts_change_as_unified_diffs() {
    let d = run(
        &repo(),
        &edit("policies/items/apps.yaml", "echo two", "echo 2"),
    );
    let r = &stable(&d).changes[0];
    let FieldChange::Text { diff, .. } = &r.fields[0].change else {
        panic!("{:?}", r.fields)
    };
    assert!(diff.contains("-echo two\n+echo 2\n"), "{diff}");
}

#[test]
fn update_for_items_say_what_they_come_with() {
    let d = run(
        &repo(),
        &edit(
            "policies/items/apps.yaml",
            "version: \"1\"",
            "version: \"2\"",
        ),
    );
    let r = &stable(&d).changes[0];
    assert_eq!(r.name, "License");
    assert_eq!(r.reach.as_ref().unwrap().update_for, ["Firefox"]);
}

#[test]
fn manifest_changes_are_names_per_list_and_condition() {
    let d = run(
        &repo(),
        &edit(
            "policies/manifests/common.yaml",
            "== \"laptop\"",
            "== \"desktop\"",
        ),
    );
    let r = &stable(&d).changes[0];
    assert_eq!((r.kind, r.action), (ResourceKind::Manifest, Action::Update));
    assert_eq!(r.fields.len(), 1, "{:?}", r.fields);
    assert_eq!(r.fields[0].path, "conditional_items[0].condition");

    let d = run(
        &repo(),
        &edit(
            "policies/manifests/common.yaml",
            "managed_installs: [Banner]",
            "managed_installs: [Banner, License]",
        ),
    );
    let r = &stable(&d).changes[0];
    assert_eq!(
        r.fields,
        [Field {
            path: "managed_installs".into(),
            change: FieldChange::Members {
                added: vec!["License".into()],
                removed: vec![]
            }
        }]
    );
}

#[test]
fn profile_settings_update_in_place() {
    let d = run(&repo(), &edit("profiles/screensaver.yaml", "600", "300"));
    let r = &stable(&d).changes[0];
    assert_eq!((r.kind, r.action), (ResourceKind::Profile, Action::Update));
    assert_eq!(
        r.fields[0].path,
        "PayloadContent[com.apple.screensaver].idleTime"
    );
    assert!(r.reason.is_none());
}

#[test]
fn a_new_profile_identifier_is_a_replacement() {
    let d = run(
        &repo(),
        &edit(
            "profiles/screensaver.yaml",
            "display_name: Screen Saver\n",
            "display_name: Screen Saver\nidentifier: com.example.lock\n",
        ),
    );
    let r = &stable(&d).changes[0];
    assert_eq!(
        (r.kind, r.action, r.name.as_str()),
        (ResourceKind::Profile, Action::Replace, "com.example.lock")
    );
    let reason = r.reason.as_deref().unwrap();
    assert_eq!(reason, "PayloadIdentifier changes; PayloadUUID changes");
}

#[test]
fn a_new_scope_is_a_replacement() {
    let d = run(
        &repo(),
        &edit(
            "profiles/screensaver.yaml",
            "display_name: Screen Saver\n",
            "display_name: Screen Saver\nscope: User\n",
        ),
    );
    let r = &stable(&d).changes[0];
    assert_eq!(r.action, Action::Replace);
    assert_eq!(r.reason.as_deref(), Some("PayloadScope changes"));
}

#[test]
fn removing_an_item_removes_it_everywhere_it_was_named() {
    let mut f = edit(
        "policies/items/apps.yaml",
        "  - name: Banner\n    kind: file\n    path: /etc/banner\n    content: hello\n",
        "",
    );
    f.insert("policies/manifests/common.yaml", "conditional_items:\n  - condition: machine_type == \"laptop\"\n    managed_installs: [Firefox]\n");
    let d = run(&repo(), &f);
    let b = stable(&d);
    let kinds: Vec<(ResourceKind, Action)> = b.changes.iter().map(|r| (r.kind, r.action)).collect();
    assert_eq!(
        kinds,
        [
            (ResourceKind::File, Action::Delete),
            (ResourceKind::Manifest, Action::Update)
        ]
    );
    // The removal's reach is BASE's: where it used to be named.
    assert_eq!(
        b.changes[0].reach.as_ref().unwrap().references[0].manifest,
        "common"
    );
    assert_eq!(
        b.summary,
        Counts {
            create: 0,
            update: 1,
            replace: 0,
            delete: 1
        }
    );
}

#[test]
fn bundle_settings_and_new_bundles() {
    let mut f = repo();
    f.insert(
        "mmc.yaml",
        REPO.replace(
            "{name: stable, track: stable}",
            "{name: stable, track: stable, expires_after: 2w}",
        ) + "  - {name: beta, track: testing}\n",
    );
    let d = run(&repo(), &f);
    let s = stable(&d);
    assert_eq!(s.changes[0].kind, ResourceKind::Bundle);
    assert_eq!(s.changes[0].fields[0].path, "expires_after");
    let beta = d.bundles.iter().find(|b| b.name == "beta").unwrap();
    assert_eq!(beta.action, Some(Action::Create));
    assert_eq!(beta.sha256.before, None);
    assert!(beta.changes.iter().all(|r| r.action == Action::Create));
    assert_eq!(
        d.bundles.last().unwrap().name,
        "beta",
        "HEAD's mmc.yaml order"
    );
}

#[test]
fn machines_whose_lists_change() {
    let fleet = Fleet {
        manifest: "site_default".into(),
        machines: ["desktop", "laptop"]
            .iter()
            .map(|t| Machine {
                name: (*t).to_owned(),
                facts: [(
                    "machine_type".to_owned(),
                    mmc_predicate::FactValue::String((*t).to_owned()),
                )]
                .into_iter()
                .collect(),
            })
            .collect(),
    };
    let a = ok(&repo());
    let b = ok(&edit(
        "policies/items/apps.yaml",
        "version: \"128.0\"",
        "version: \"129.0\"",
    ));
    let d = diff(
        side("BASE", 1),
        &a.bundles,
        side("HEAD", 2),
        &b.bundles,
        Some(&fleet),
    );
    let m = stable(&d).machines.as_ref().unwrap();
    assert_eq!(m.total, 2);
    assert_eq!(m.changed.len(), 1);
    assert_eq!(m.changed[0].machine, "laptop");
    assert_eq!(m.changed[0].updated, ["Firefox"]);

    let b = ok(&edit(
        "policies/manifests/common.yaml",
        "== \"laptop\"",
        "== \"desktop\"",
    ));
    let d = diff(
        side("BASE", 1),
        &a.bundles,
        side("HEAD", 2),
        &b.bundles,
        Some(&fleet),
    );
    let m = stable(&d).machines.as_ref().unwrap();
    let names: Vec<&str> = m.changed.iter().map(|c| c.machine.as_str()).collect();
    assert_eq!(names, ["desktop", "laptop"]);
    assert_eq!(m.changed[0].lists[0].added, ["Firefox"]);
    assert_eq!(m.changed[1].lists[0].removed, ["Firefox"]);
}

#[test]
fn the_work_tree_version_is_unknown_until_committed() {
    let mut head = side("HEAD", 0);
    head.version = None;
    head.revision = "work tree".into();
    let d = diff(
        side("BASE", 1),
        &ok(&repo()).bundles,
        head,
        &ok(&edit("policies/items/apps.yaml", "hello", "hi")).bundles,
        None,
    );
    assert_eq!(
        stable(&d).version,
        Some(Pair {
            before: Some(1),
            after: None
        })
    );
    assert!(render::human(&d, false).contains("version 1 -> (next commit)"));
}

#[test]
fn markdown_fences_outlast_backticks_in_scripts() {
    let d = run(
        &repo(),
        &edit("policies/items/apps.yaml", "echo two", "echo ```two```"),
    );
    let md = render::markdown(&d);
    assert!(md.starts_with(render::MARKDOWN_MARKER));
    assert!(md.contains("````diff\n"), "{md}");
}

/// An update policy's `config.json` part, changed in place, is reported as an `update`
/// resource.
#[test]
fn update_policies_in_config_json_are_compared_by_name() {
    use mmc_config::{Config, Notifier, Requirement, UpdateMessages, UpdatePolicy};
    let policy = |deferral: u64| UpdatePolicy {
        name: "macos-15".into(),
        condition: None,
        require: Requirement::OsVersion {
            version: "15.2".into(),
        },
        deadline: None,
        max_deferral_secs: deferral,
        reprompt_secs: 14_400,
        prompt_timeout_secs: 600,
        restart_delay_secs: 300,
        work_hours: None,
        skip_deferral: false,
        notifier: Notifier {
            program: "/usr/local/bin/dialog".into(),
            args: vec![],
            install_exit: vec![0],
            defer_exit: vec![2],
        },
        messages: UpdateMessages {
            title: "Updates".into(),
            prompt: "%HOURS% hours left".into(),
            deadline: "Now".into(),
            install_button: "Install".into(),
            defer_button: "Later".into(),
        },
        support_contact: None,
    };
    let with = |deferral: Option<u64>| {
        let mut c = ok(&repo());
        let b = c.bundles.iter_mut().find(|b| b.name == "stable").unwrap();
        let mut config = Config::from_json(&b.files["config.json"]).unwrap();
        config.updates = deferral.map(policy).into_iter().collect();
        b.files.insert("config.json".into(), config.to_json());
        c.bundles
    };
    let d = diff(
        side("BASE", 1),
        &with(None),
        side("HEAD", 2),
        &with(Some(259_200)),
        None,
    );
    let r = &stable(&d).changes[0];
    assert_eq!(
        (r.kind, r.action, r.name.as_str()),
        (ResourceKind::Update, Action::Create, "macos-15")
    );
    let d = diff(
        side("BASE", 1),
        &with(Some(259_200)),
        side("HEAD", 2),
        &with(Some(86_400)),
        None,
    );
    let r = &stable(&d).changes[0];
    assert_eq!(r.action, Action::Update);
    assert_eq!(
        r.fields,
        [Field {
            path: "max_deferral_secs".into(),
            change: FieldChange::Changed {
                before: 259_200.into(),
                after: 86_400.into()
            }
        }]
    );
}

#[test]
fn an_edited_update_policy_names_its_file() {
    let mut a = repo();
    a.insert(
        "policies/updates/macos-15.yaml",
        "require: {os_version: \"15.2\"}\ndeadline: \"2026-12-01T18:00:00Z\"\nreprompt: 4h\n",
    );
    let mut b = a.clone();
    b.insert(
        "policies/updates/macos-15.yaml",
        "require: {os_version: \"15.2\"}\ndeadline: \"2026-12-01T18:00:00Z\"\nreprompt: 2h\n",
    );
    let d = run(&a, &b);
    let r = &stable(&d).changes[0];
    assert_eq!(
        (r.kind, r.action, r.name.as_str(), r.source.as_deref()),
        (
            ResourceKind::Update,
            Action::Update,
            "macos-15",
            Some("policies/updates/macos-15.yaml")
        )
    );
    assert_eq!(
        r.fields,
        [Field {
            path: "reprompt_secs".into(),
            change: FieldChange::Changed {
                before: 14_400.into(),
                after: 7_200.into()
            }
        }]
    );
    // Removed: named by the file it came from.
    let d = run(&a, &repo());
    let r = &stable(&d).changes[0];
    assert_eq!(
        (r.action, r.source.as_deref()),
        (Action::Delete, Some("policies/updates/macos-15.yaml"))
    );
}

/// The screensaver profile with two payloads, for payload-level identity changes.
const TWO_PAYLOADS: &str = "display_name: Screen Saver\npayloads:\n  - type: com.apple.screensaver\n    settings:\n      idleTime: 600\n  - type: com.apple.loginwindow\n    identifier: com.example.screensaver.login\n    settings:\n      SHOWFULLNAME: true\n";

/// The plan from the profile `before` to `after` (both as `profiles/screensaver.yaml`): the
/// stable bundle's one change, and the human rendering.
fn profile_plan(before: &str, after: &str) -> (Resource, String) {
    let (mut a, mut b) = (repo(), repo());
    a.insert("profiles/screensaver.yaml", before);
    b.insert("profiles/screensaver.yaml", after);
    let d = run(&a, &b);
    let changes = &stable(&d).changes;
    assert_eq!(changes.len(), 1, "{changes:?}");
    // Bundle digests change with anything else the bundle carries: not this test's business.
    let text = render::human(&d, false)
        .lines()
        .map(|l| match l.find(", sha256 ") {
            Some(at) => format!("{}, sha256 …\n", &l[..at]),
            None => format!("{l}\n"),
        })
        .collect();
    (changes[0].clone(), text)
}

#[test]
fn identity_changes_are_replacements_with_their_reason() {
    // Profile level: PayloadIdentifier (derived UUIDs follow it), a kept PayloadUUID, PayloadScope.
    let with = |extra: &str| PROFILE.replace("payloads:", &format!("{extra}payloads:"));
    let cases = [
        (
            "profile_identifier",
            with("identifier: com.example.lock\n"),
            "PayloadIdentifier changes; PayloadUUID changes",
        ),
        (
            "profile_uuid",
            with("uuid: 0E4A2C5B-6F1D-4E8A-9B3C-2D7F1A6E5C90\n"),
            "PayloadUUID changes",
        ),
        (
            "profile_scope",
            with("scope: User\n"),
            "PayloadScope changes",
        ),
    ];
    for (name, after, reason) in cases {
        let (r, text) = profile_plan(PROFILE, &after);
        assert_eq!(r.action, Action::Replace, "{name}");
        assert_eq!(r.reason.as_deref(), Some(reason), "{name}");
        insta::assert_snapshot!(name, text);
    }
}

#[test]
fn payload_identity_changes_are_replacements_too() {
    let (r, text) = profile_plan(
        TWO_PAYLOADS,
        &TWO_PAYLOADS.replace("screensaver.login", "screensaver.loginwindow"),
    );
    assert_eq!(r.action, Action::Replace);
    assert_eq!(
        r.reason.as_deref(),
        Some("payload login changes PayloadIdentifier (to loginwindow)")
    );
    insta::assert_snapshot!("payload_identifier", text);

    let kept = TWO_PAYLOADS.replace(
        "    identifier: com.example.screensaver.login\n",
        "    identifier: com.example.screensaver.login\n    uuid: 0E4A2C5B-6F1D-4E8A-9B3C-2D7F1A6E5C90\n",
    );
    let (r, text) = profile_plan(TWO_PAYLOADS, &kept);
    assert_eq!(r.action, Action::Replace);
    assert_eq!(
        r.reason.as_deref(),
        Some("payload login changes PayloadUUID")
    );
    insta::assert_snapshot!("payload_uuid", text);

    // The same UUID written out as `uuid:` is no change at all.
    let derived = crate::lower::uuid_for(
        &uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, b"com.example"),
        "com.example.screensaver.login",
    );
    let same = TWO_PAYLOADS.replace(
        "    identifier: com.example.screensaver.login\n",
        &format!("    identifier: com.example.screensaver.login\n    uuid: {derived}\n"),
    );
    let d = run(
        &{
            let mut f = repo();
            f.insert("profiles/screensaver.yaml", TWO_PAYLOADS);
            f
        },
        &{
            let mut f = repo();
            f.insert("profiles/screensaver.yaml", same);
            f
        },
    );
    assert_eq!(d.summary.total(), 0, "{:?}", stable(&d).changes);

    // Settings and names only: an update in place, whatever the number of payloads.
    let (r, _) = profile_plan(
        TWO_PAYLOADS,
        &TWO_PAYLOADS.replace("SHOWFULLNAME: true", "SHOWFULLNAME: false"),
    );
    assert_eq!((r.action, r.reason), (Action::Update, None));
}
