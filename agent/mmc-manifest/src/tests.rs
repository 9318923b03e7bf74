use std::collections::BTreeMap;

use mmc_predicate::{FactValue, Facts};

use super::*;

fn m(json: &str) -> Manifest {
    serde_json::from_str(json).unwrap()
}

fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, Manifest> {
    pairs.iter().map(|(n, j)| ((*n).to_owned(), m(j))).collect()
}

fn facts(pairs: &[(&str, FactValue)]) -> Facts {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn s(v: &str) -> FactValue {
    FactValue::String(v.to_owned())
}

fn stable() -> Vec<String> {
    vec!["stable".to_owned()]
}

#[test]
fn includes_then_conditions_then_own_items() {
    let ms = set(&[
        (
            "site_default",
            r#"{"included_manifests": ["common"], "lists": {"managed_installs": ["Own"]},
                "conditional_items": [{"condition": "machine_type == \"laptop\"", "manifest": {"lists": {"managed_installs": ["Cond"]}}}]}"#,
        ),
        ("common", r#"{"lists": {"managed_installs": ["Included"]}}"#),
    ]);
    let r = resolve(
        &ms,
        "site_default",
        &facts(&[("machine_type", s("laptop"))]),
        "stable",
        &stable(),
    )
    .unwrap();
    assert_eq!(r.names("managed_installs"), ["Included", "Cond", "Own"]);
    let r = resolve(
        &ms,
        "site_default",
        &facts(&[("machine_type", s("desktop"))]),
        "stable",
        &stable(),
    )
    .unwrap();
    assert_eq!(r.names("managed_installs"), ["Included", "Own"]);
}

#[test]
fn an_item_both_installed_and_uninstalled_stays_installed() {
    let ms = set(&[(
        "site_default",
        r#"{"lists": {"managed_installs": ["Firefox-128.0"], "managed_uninstalls": ["Firefox", "Flash"]}}"#,
    )]);
    let r = resolve(&ms, "site_default", &Facts::new(), "stable", &stable()).unwrap();
    assert_eq!(r.names("managed_installs"), ["Firefox-128.0"]);
    assert_eq!(r.names("managed_uninstalls"), ["Flash"]);
    assert_eq!(r.removed[0].0, "Firefox");
}

#[test]
fn the_first_occurrence_fixes_the_catalogs_and_conditional_catalogs_stay_local() {
    let ms = set(&[(
        "site_default",
        r#"{"catalogs": ["stable"], "lists": {"managed_installs": ["A", "B"]},
            "conditional_items": [{"condition": "TRUEPREDICATE", "manifest": {"catalogs": ["testing"], "lists": {"managed_installs": ["B", "C"]}}}]}"#,
    )]);
    let r = resolve(&ms, "site_default", &Facts::new(), "stable", &stable()).unwrap();
    let got: Vec<(&str, &str)> = r.lists["managed_installs"]
        .iter()
        .map(|e| (e.name.as_str(), e.catalogs[0].as_str()))
        .collect();
    // Conditional items come before own items: B is first seen in the conditional item.
    assert_eq!(got, [("B", "testing"), ("C", "testing"), ("A", "stable")]);
}

#[test]
fn conditions_see_the_catalogs_in_effect() {
    let ms = set(&[(
        "site_default",
        r#"{"catalogs": ["testing"], "conditional_items": [{"condition": "ANY catalogs == \"testing\"", "manifest": {"lists": {"managed_installs": ["Beta"]}}}]}"#,
    )]);
    let r = resolve(&ms, "site_default", &Facts::new(), "testing", &[]).unwrap();
    assert_eq!(r.names("managed_installs"), ["Beta"]);
}

#[test]
fn a_condition_that_fails_to_evaluate_counts_as_false_and_is_reported() {
    let ms = set(&[(
        "site_default",
        r#"{"conditional_items": [{"condition": "ANY os_vers == \"14\"", "manifest": {"lists": {"managed_installs": ["X"]}}}]}"#,
    )]);
    let r = resolve(
        &ms,
        "site_default",
        &facts(&[("os_vers", s("14.1"))]),
        "stable",
        &stable(),
    )
    .unwrap();
    assert!(r.names("managed_installs").is_empty());
    assert_eq!(r.errors.len(), 1, "reported once, not once per key");
}

#[test]
fn missing_includes_and_cycles_abort() {
    let ms = set(&[
        ("a", r#"{"included_manifests": ["b"]}"#),
        ("b", r#"{"included_manifests": ["a"]}"#),
    ]);
    assert_eq!(
        resolve(&ms, "a", &Facts::new(), "stable", &stable()),
        Err(ResolveError::Cycle {
            path: vec!["a".into(), "b".into(), "a".into()]
        })
    );
    let ms = set(&[("a", r#"{"included_manifests": ["gone"]}"#)]);
    assert!(matches!(
        resolve(&ms, "a", &Facts::new(), "stable", &stable()),
        Err(ResolveError::MissingManifest { .. })
    ));
}

#[test]
fn diamonds_are_walked_once_per_path_but_items_appear_once() {
    let ms = set(&[
        ("top", r#"{"included_manifests": ["left", "right"]}"#),
        ("left", r#"{"included_manifests": ["base"]}"#),
        ("right", r#"{"included_manifests": ["base"]}"#),
        ("base", r#"{"lists": {"managed_installs": ["Shared"]}}"#),
    ]);
    let r = resolve(&ms, "top", &Facts::new(), "stable", &stable()).unwrap();
    assert_eq!(r.names("managed_installs"), ["Shared"]);
}

/// The worked example of munki-semantics.md §7 (without Simian's BlockPackages user setting,
/// which mmc does not have): base [Firefox, Chrome]; site +Office; owner -Chrome; uuid -Office;
/// tag +Chrome; a site +Zoom limited to testing on a stable Mac is skipped.
#[test]
fn simian_modifications_apply_in_precedence_order() {
    let ms = set(&[(
        "site_default",
        r#"{"lists": {"managed_installs": ["Firefox", "Chrome"]}, "modifications": [
            {"target": "tag", "value": "eng", "lists": {"managed_installs": ["Chrome"]}},
            {"target": "uuid", "value": "U-1", "lists": {"managed_installs": ["-Office"]}},
            {"target": "owner", "value": "ann", "lists": {"managed_installs": ["-Chrome"]}},
            {"target": "site", "value": "NYC", "lists": {"managed_installs": ["Office"]}},
            {"target": "site", "value": "NYC", "tracks": ["testing"], "lists": {"managed_installs": ["Zoom"]}}
        ]}"#,
    )]);
    let f = facts(&[
        ("site", s("NYC")),
        ("owner", s("ann")),
        ("uuid", s("U-1")),
        ("tags", FactValue::Array(vec![s("eng")])),
    ]);
    let r = resolve(&ms, "site_default", &f, "stable", &stable()).unwrap();
    assert_eq!(r.names("managed_installs"), ["Firefox", "Chrome"]);
    let chrome = &r.lists["managed_installs"][1];
    assert_eq!(
        chrome.via.last(),
        Some(&Step::Modification {
            target: Target::Tag,
            value: "eng".into()
        })
    );
    let removed: Vec<&str> = r.removed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(removed, ["Chrome", "Office"]);
}

#[test]
fn os_version_modifications_match_at_dot_boundaries() {
    let md = |v: &str| Modification {
        target: Target::OsVersion,
        value: v.into(),
        tracks: vec![],
        lists: BTreeMap::new(),
    };
    let f = facts(&[("os_vers", s("14.2.1"))]);
    assert!(md("14").applies(&f, "stable"));
    assert!(md("14.2").applies(&f, "stable"));
    assert!(md("14.2.1").applies(&f, "stable"));
    assert!(!md("1").applies(&f, "stable"));
    assert!(!md("14.2.10").applies(&f, "stable"));
}

#[test]
fn base_names_follow_munki() {
    assert_eq!(base_name("Firefox-128.0"), "Firefox");
    assert_eq!(base_name("Firefox--128.0"), "Firefox");
    assert_eq!(base_name("Microsoft-Office"), "Microsoft-Office");
    assert_eq!(base_name("Firefox"), "Firefox");
}
