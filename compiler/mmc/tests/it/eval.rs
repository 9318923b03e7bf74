//! `mmc eval` and `mmc test` on the example repository.

use crate::support::*;

fn eval(facts: &str, extra: &[&str]) -> Output {
    let path = fixtures().join("facts").join(facts);
    let out = run(mmc(&example_repo())
        .args(["eval", "--bundle", "stable", "--facts"])
        .arg(&path)
        .args(extra));
    assert_eq!(out.code, 0, "{}", out.stderr);
    out
}

#[test]
fn laptop_on_an_old_macos() {
    insta::assert_snapshot!(eval("laptop-macos13.yaml", &[]).stdout);
}

#[test]
fn desktop_on_the_newest_macos() {
    insta::assert_snapshot!(eval("desktop-newest.json", &[]).stdout);
}

#[test]
fn engineering_tagged_laptop() {
    insta::assert_snapshot!(eval("engineering.plist", &[]).stdout);
}

#[test]
fn json_output_carries_provenance() {
    let out = eval("engineering.plist", &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["version"], 1);
    let installs = v["lists"]["managed_installs"].as_array().unwrap();
    let vscode = installs
        .iter()
        .find(|e| e["name"] == "VisualStudioCode")
        .expect("the tag modification adds VS Code");
    assert_eq!(
        vscode["via"].as_array().unwrap().last().unwrap()["kind"],
        "modification"
    );
}

#[test]
fn unknown_bundle_or_manifest_is_an_error() {
    let path = fixtures().join("facts/laptop-macos13.yaml");
    let out = run(mmc(&example_repo())
        .args(["eval", "--bundle", "nope", "--facts"])
        .arg(&path));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("bundles: testing, stable"),
        "{}",
        out.stderr
    );
    let out = run(mmc(&example_repo())
        .args(["eval", "--manifest", "nope", "--facts"])
        .arg(&path));
    assert_eq!(out.code, 2);
}

#[test]
fn the_example_policy_tests_pass() {
    let out = run(mmc(&example_repo()).arg("test"));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains(" passed, 0 failed"), "{}", out.stdout);
}

#[test]
fn a_failing_policy_test_shows_what_differs() {
    let repo = fixture(None);
    std::fs::create_dir_all(repo.path().join("policies/tests")).unwrap();
    std::fs::write(
        repo.path().join("policies/tests/basics.yaml"),
        "cases:\n  - name: desktop\n    facts: {machine_type: desktop}\n    expect:\n      managed_installs: [Firefox, Banner, Zoom]\n  - name: laptop\n    facts: {machine_type: laptop}\n    expect:\n      managed_installs: [Firefox, Banner]\n",
    )
    .unwrap();
    let out = run(mmc(repo.path()).arg("test"));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    insta::assert_snapshot!(out.stdout);
}
