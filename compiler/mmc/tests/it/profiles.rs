//! Profile payloads checked against Apple's schema, as `mmc check` reports them (docs/profiles.md).

use crate::support::*;

const CHROME: &str = "display_name: Chrome\npayloads:\n  - type: com.google.Chrome\n    settings:\n      HomepageLocation: https://intranet.example.com\n";

#[test]
fn a_misspelled_key_fails_the_check_and_an_unknown_payload_type_is_a_note() {
    let repo = fixture(None);
    std::fs::write(
        repo.path().join("profiles/screensaver.yaml"),
        "display_name: Screen Saver\npayloads:\n  - type: com.apple.screensaver\n    settings:\n      idleTime: 600\n      askForPasword: true\n",
    )
    .unwrap();
    std::fs::write(repo.path().join("profiles/chrome.yaml"), CHROME).unwrap();
    let out = run(mmc(repo.path()).args(["check", "--color", "never"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn notes_alone_pass_and_are_counted() {
    let repo = fixture(None);
    std::fs::write(repo.path().join("profiles/chrome.yaml"), CHROME).unwrap();
    let out = run(mmc(repo.path()).args(["check", "--color", "never"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("note[profile-unknown-type]"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(": 1 note"), "{}", out.stderr);
    let json = run(mmc(repo.path()).args(["check", "--format", "json"]));
    assert_eq!(json.code, 0);
    let line: serde_json::Value =
        serde_json::from_str(json.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(line["severity"], "note");
    assert_eq!(line["code"], "profile-unknown-type");
    assert_eq!(
        (line["line"].as_u64(), line["column"].as_u64()),
        (Some(3), Some(11))
    );
}

#[test]
fn min_macos_in_mmc_yaml_reports_keys_too_new_for_it() {
    let repo = fixture(None);
    let yaml = std::fs::read_to_string(repo.path().join("mmc.yaml")).unwrap();
    std::fs::write(
        repo.path().join("mmc.yaml"),
        format!("{yaml}min_macos: \"14.0\"\n"),
    )
    .unwrap();
    std::fs::write(
        repo.path().join("profiles/gatekeeper.yaml"),
        "display_name: Gatekeeper\npayloads:\n  - type: com.apple.systempolicy.control\n    settings:\n      EnableAssessment: true\n      EnableXProtectMalwareUpload: false\n",
    )
    .unwrap();
    let out = run(mmc(repo.path()).args(["check", "--color", "never"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("warning[profile-too-new]: `EnableXProtectMalwareUpload` needs macOS 15.0"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("1 warning"), "{}", out.stderr);
}
