//! The Nudge and DDM files: snapshots, and validation against Apple's declaration schema and
//! Nudge's documented keys.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value as Json;

use crate::source::FileSet;
use crate::{Compiled, compile};

const REPO: &str = "mmc_version: 1\norg: {name: Example Corp, identifier_prefix: com.example}\ntracks: [testing, stable]\nbundles:\n  - {name: testing, track: testing}\n  - {name: stable, track: stable}\nvars: {help: it-help@example.com, url: \"https://help.example.com/macos-15\"}\n";

/// A policy with every key that shapes the MDM files: a local deadline inside the work hours
/// (so DDM and Nudge get it moved to their end), skip_deferral off, custom messages whose
/// `%HOURS%` line Nudge cannot show.
const SEQUOIA: &str = r#"require: {os_version: "15.2"}
deadline: "2026-12-01T11:30"
time_zone: "-05:00"
work_hours: "09:00-17:00"
reprompt: 2h
notifier: swiftdialog
support_contact: "{{ vars.help }}"
details_url: "{{ vars.url }}"
messages:
  title: "%UPDATES% by %DEADLINE%"
  prompt: |-
    {{ org.name }} needs %UPDATES% on every Mac by %DEADLINE%.

    You can defer for %HOURS% more hours.
    [restart]Your Mac restarts to install it.[/restart][deferrable] Or later.[/deferrable]

    Help: %SUPPORT%
  install_button: Update
  defer_button: Not now
"#;

fn repo(policies: &[(&str, &str)]) -> FileSet {
    let mut files = FileSet::new();
    files.insert("mmc.yaml", REPO);
    for (name, text) in policies {
        files.insert(format!("policies/updates/{name}.yaml"), *text);
    }
    files
}

fn ok(files: &FileSet) -> Compiled {
    let c = compile(files);
    assert!(
        c.diagnostics.is_empty(),
        "{:?}",
        c.diagnostics
            .iter()
            .map(|d| (d.code, &d.message))
            .collect::<Vec<_>>()
    );
    c
}

fn text(c: &Compiled, path: &str) -> String {
    String::from_utf8(c.mdm.files[path].clone()).unwrap()
}

#[test]
fn emitted_files() {
    let c = ok(&repo(&[
        ("sequoia", SEQUOIA),
        ("security", "require: recommended\nmax_deferral: 3d\n"),
        (
            "window",
            "require: {os_version: \"15.2\"}\nmax_deferral: 3d\n",
        ),
    ]));
    assert_eq!(
        c.mdm.files.keys().collect::<Vec<_>>(),
        [
            "updates/sequoia.ddm.json",
            "updates/sequoia.nudge.json",
            "updates/sequoia.nudge.mobileconfig"
        ]
    );
    for (path, bytes) in &c.mdm.files {
        insta::assert_snapshot!(path.replace('/', "__"), std::str::from_utf8(bytes).unwrap());
    }
    insta::assert_snapshot!("notes", c.mdm.notes.join("\n"));
}

#[test]
fn the_deadline_in_each_file() {
    let c = ok(&repo(&[("sequoia", SEQUOIA)]));
    // 11:30 at -05:00 lies within 09:00–17:00 there, so it moves to 17:00 local = 22:00 UTC.
    let ddm: Json = serde_json::from_str(&text(&c, "updates/sequoia.ddm.json")).unwrap();
    assert_eq!(ddm["Payload"]["TargetLocalDateTime"], "2026-12-01T17:00:00");
    let nudge: Json = serde_json::from_str(&text(&c, "updates/sequoia.nudge.json")).unwrap();
    assert_eq!(
        nudge["osVersionRequirements"][0]["requiredInstallationDate"],
        "2026-12-01T22:00:00Z"
    );
    // The agent gets the deadline as written, in UTC, and moves it on the Mac itself.
    let b = &c.bundles[0];
    let config = mmc_config::Config::from_json(&b.files["config.json"]).unwrap();
    assert_eq!(
        config.updates[0].deadline.as_deref(),
        Some("2026-12-01T16:30:00Z")
    );
}

#[test]
fn nudge_text_resolves_what_it_can_and_drops_hours() {
    let c = ok(&repo(&[("sequoia", SEQUOIA)]));
    let nudge: Json = serde_json::from_str(&text(&c, "updates/sequoia.nudge.json")).unwrap();
    let e = &nudge["userInterface"]["updateElements"][0];
    assert_eq!(e["mainHeader"], "macOS 15.2 by 2026-12-01 17:00 UTC-05:00");
    assert_eq!(
        e["mainContentText"],
        "Example Corp needs macOS 15.2 on every Mac by 2026-12-01 17:00 UTC-05:00.\n\nYour Mac restarts to install it. Or later.\n\nHelp: it-help@example.com"
    );
    assert_eq!(e["actionButtonText"], "Update");
    assert_eq!(e["primaryQuitButtonText"], "Not now");
}

#[test]
fn the_default_messages_read_well_in_nudge() {
    let c = ok(&repo(&[(
        "p",
        "require: {os_version: \"15.2\"}\ndeadline: \"2026-12-01T18:00:00Z\"\nsupport_contact: it@example.com\n",
    )]));
    let nudge: Json = serde_json::from_str(&text(&c, "updates/p.nudge.json")).unwrap();
    let e = &nudge["userInterface"]["updateElements"][0];
    assert_eq!(e["mainHeader"], "Software updates required");
    assert_eq!(
        e["mainContentText"],
        "Your Mac needs these updates:\n\nmacOS 15.2\n\nThey are installed without asking after 2026-12-01 18:00 UTC.\n\nYour Mac restarts to finish, so save your work first.\n\nQuestions? Contact it@example.com."
    );
    assert_eq!(e["actionButtonText"], "Install now");
    assert_eq!(e["primaryQuitButtonText"], "Later");
}

#[test]
fn skip_deferral_leaves_nudge_no_deferrals() {
    let c = compile(&repo(&[(
        "now",
        "require: {os_version: \"15.2\"}\ndeadline: \"2026-12-01T18:00:00Z\"\nskip_deferral: true\n",
    )]));
    let nudge: Json = serde_json::from_str(&text(&c, "updates/now.nudge.json")).unwrap();
    assert_eq!(nudge["userExperience"]["allowedDeferrals"], 0);
}

#[test]
fn the_same_policies_give_the_same_bytes_and_an_edit_a_new_server_token() {
    let a = ok(&repo(&[("sequoia", SEQUOIA)]));
    let b = ok(&repo(&[("sequoia", SEQUOIA)]));
    assert_eq!(a.mdm, b.mdm);
    let token = |c: &Compiled| -> Json {
        serde_json::from_str::<Json>(&text(c, "updates/sequoia.ddm.json")).unwrap()["ServerToken"]
            .clone()
    };
    let edited = ok(&repo(&[("sequoia", &SEQUOIA.replace("15.2", "15.3"))]));
    assert_ne!(token(&a), token(&edited));
    // A message edit changes Nudge's files, not the declaration.
    let reworded = ok(&repo(&[("sequoia", &SEQUOIA.replace("Not now", "Later"))]));
    assert_eq!(token(&a), token(&reworded));
    assert_ne!(
        a.mdm.files["updates/sequoia.nudge.json"],
        reworded.mdm.files["updates/sequoia.nudge.json"]
    );
}

// ---------------------------------------------------------------------------------------------
// Apple's schema

/// A schema file of Apple's device-management repository, as far as the checks need it.
#[derive(Debug, Deserialize)]
struct AppleSchema {
    payload: ApplePayload,
    payloadkeys: Vec<AppleKey>,
}

#[derive(Debug, Deserialize)]
struct ApplePayload {
    declarationtype: String,
}

#[derive(Debug, Deserialize)]
struct AppleKey {
    key: String,
    #[serde(rename = "type")]
    kind: String,
    presence: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    rangelist: Option<Vec<Json>>,
    #[serde(default)]
    range: Option<BTreeMap<String, f64>>,
}

fn apple(path: &str) -> AppleSchema {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/apple-device-management/declarative/declarations");
    let text = std::fs::read_to_string(root.join(path)).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Checks `value` (a JSON object) against one schema's keys: no unknown key, every required
/// key, Apple's types, and the `rangelist`/`range` constraints where a key has them.
fn check_keys(what: &str, value: &Json, keys: &[AppleKey]) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(object) = value.as_object() else {
        return vec![format!("{what} is not a dictionary")];
    };
    for k in object.keys() {
        if !keys.iter().any(|s| &s.key == k) {
            problems.push(format!("{what}: `{k}` is not a key of Apple's schema"));
        }
    }
    for s in keys {
        let Some(v) = object.get(&s.key) else {
            if s.presence == "required" {
                problems.push(format!("{what}: required key `{}` is missing", s.key));
            }
            continue;
        };
        let type_ok = match s.kind.as_str() {
            "<string>" => v.is_string(),
            "<dictionary>" => v.is_object(),
            "<array>" => v.is_array(),
            "<boolean>" => v.is_boolean(),
            "<integer>" => v.is_i64() || v.is_u64(),
            "<real>" => v.is_number(),
            other => {
                problems.push(format!(
                    "{what}: `{}` has type {other}, which this check does not know",
                    s.key
                ));
                continue;
            }
        };
        if !type_ok {
            problems.push(format!("{what}: `{}` is not a {}: {v}", s.key, s.kind));
        }
        if let Some(allowed) = &s.rangelist
            && !allowed.contains(v)
        {
            problems.push(format!(
                "{what}: `{}` = {v} is not one of {allowed:?}",
                s.key
            ));
        }
        if let (Some(range), Some(n)) = (&s.range, v.as_f64())
            && (range.get("min").is_some_and(|min| n < *min)
                || range.get("max").is_some_and(|max| n > *max))
        {
            problems.push(format!("{what}: `{}` = {n} is outside {range:?}", s.key));
        }
    }
    problems
}

/// The format rules Apple states in prose (`content`): checked here, after asserting that the
/// schema still says them, so that a new snapshot with other rules fails this test.
fn check_formats(what: &str, d: &Json, base: &AppleSchema, specific: &AppleSchema) -> Vec<String> {
    let mut problems = Vec::new();
    let content = |schema: &AppleSchema, key: &str| -> String {
        schema
            .payloadkeys
            .iter()
            .find(|k| k.key == key)
            .map(|k| k.content.clone())
            .unwrap_or_default()
    };
    for key in ["Identifier", "ServerToken"] {
        assert!(
            content(base, key).contains("should not exceed 64 octets"),
            "{key}"
        );
        let v = d[key].as_str().unwrap_or_default();
        if v.is_empty() || v.len() > 64 {
            problems.push(format!("{what}: `{key}` must be 1 to 64 octets: {v:?}"));
        }
    }
    let payload = &d["Payload"];
    assert!(content(specific, "TargetLocalDateTime").contains("'yyyy-mm-ddThh:mm:ss'"));
    assert!(
        content(specific, "TargetLocalDateTime").contains("doesn't include a time zone offset")
    );
    let local = payload["TargetLocalDateTime"].as_str().unwrap_or_default();
    let shape = local.len() == 19
        && local.bytes().enumerate().all(|(i, c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            _ => c.is_ascii_digit(),
        });
    if !shape || local.parse::<jiff::civil::DateTime>().is_err() {
        problems.push(format!(
            "{what}: TargetLocalDateTime {local:?} is not yyyy-mm-ddThh:mm:ss"
        ));
    }
    assert!(content(specific, "TargetOSVersion").contains("OS version number"));
    let version = payload["TargetOSVersion"].as_str().unwrap_or_default();
    if version.is_empty()
        || !version
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        problems.push(format!(
            "{what}: TargetOSVersion {version:?} is not a version number"
        ));
    }
    if let Some(url) = payload.get("DetailsURL").and_then(Json::as_str)
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        problems.push(format!(
            "{what}: DetailsURL {url:?} is not a web page's URL"
        ));
    }
    problems
}

/// Every DDM declaration of these repositories: the test policies and the example org's.
fn declarations() -> Vec<(String, Json)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let repos = [
        (
            "test",
            repo(&[
                ("sequoia", SEQUOIA),
                (
                    "utc",
                    "require: {os_version: \"15\"}\ndeadline: \"2026-12-01T18:00:00Z\"\n",
                ),
                (
                    "west",
                    "require: {os_version: \"15.2.1\"}\ndeadline: \"2026-12-31T23:59:59-11:00\"\nwork_hours: \"08:00-24:00\"\n",
                ),
            ]),
        ),
        ("example", crate::tests::read_repo(&root)),
    ];
    let mut out = Vec::new();
    for (name, files) in repos {
        let c = ok(&files);
        for (path, bytes) in &c.mdm.files {
            if path.ends_with(".ddm.json") {
                out.push((
                    format!("{name}: {path}"),
                    serde_json::from_slice(bytes).unwrap(),
                ));
            }
        }
    }
    out
}

#[test]
fn ddm_declarations_validate_against_apples_schema() {
    let base = apple("declarationbase.yaml");
    let specific = apple("configurations/softwareupdate.enforcement.specific.yaml");
    assert_eq!(specific.payload.declarationtype, super::DDM_TYPE);
    let all = declarations();
    assert!(all.len() >= 4, "{all:?}");
    assert!(all.iter().any(|(w, _)| w.starts_with("example:")));
    let mut problems = Vec::new();
    for (what, d) in &all {
        problems.extend(check_keys(what, d, &base.payloadkeys));
        if d["Type"] != specific.payload.declarationtype.as_str() {
            problems.push(format!("{what}: Type is {}", d["Type"]));
        }
        problems.extend(check_keys(
            &format!("{what} Payload"),
            &d["Payload"],
            &specific.payloadkeys,
        ));
        problems.extend(check_formats(what, d, &base, &specific));
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_schema_check_catches_what_it_should() {
    let base = apple("declarationbase.yaml");
    let specific = apple("configurations/softwareupdate.enforcement.specific.yaml");
    let bad: Json = serde_json::json!({
        "Type": super::DDM_TYPE,
        "Identifier": "x".repeat(65),
        "ServerToken": "t",
        "Payload": {"TargetOSVersion": 15, "TargetLocalDateTime": "2026-12-01T18:00:00Z", "Deadline": "x"},
    });
    let mut problems = check_keys("bad", &bad, &base.payloadkeys);
    problems.extend(check_keys(
        "bad Payload",
        &bad["Payload"],
        &specific.payloadkeys,
    ));
    problems.extend(check_formats("bad", &bad, &base, &specific));
    assert_eq!(
        problems,
        [
            "bad Payload: `Deadline` is not a key of Apple's schema",
            "bad Payload: `TargetOSVersion` is not a <string>: 15",
            "bad: `Identifier` must be 1 to 64 octets: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
            "bad: TargetLocalDateTime \"2026-12-01T18:00:00Z\" is not yyyy-mm-ddThh:mm:ss",
            "bad: TargetOSVersion \"\" is not a version number",
        ]
    );
    let missing = serde_json::json!({"Type": super::DDM_TYPE, "Payload": {}});
    assert_eq!(
        check_keys("m", &missing, &base.payloadkeys),
        [
            "m: required key `Identifier` is missing",
            "m: required key `ServerToken` is missing"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Nudge

/// Nudge's configuration as documented (its `PreferencesStructure`), limited to the keys mmc
/// writes and their neighbours, with unknown keys refused: what mmc writes must be Nudge's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Nudge {
    #[serde(rename = "osVersionRequirements")]
    os_version_requirements: Vec<NudgeRequirement>,
    #[serde(rename = "userExperience")]
    user_experience: NudgeUserExperience,
    #[serde(rename = "userInterface")]
    user_interface: NudgeUserInterface,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct NudgeRequirement {
    #[serde(rename = "requiredMinimumOSVersion")]
    required_minimum_os_version: String,
    #[serde(rename = "requiredInstallationDate")]
    required_installation_date: String,
    #[serde(rename = "aboutUpdateURL", default)]
    about_update_url: Option<String>,
    #[serde(rename = "targetedOSVersionsRule", default)]
    targeted_os_versions_rule: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct NudgeUserExperience {
    #[serde(rename = "allowedDeferrals", default)]
    allowed_deferrals: Option<u64>,
    #[serde(rename = "initialRefreshCycle", default)]
    initial_refresh_cycle: Option<u64>,
    #[serde(rename = "approachingRefreshCycle", default)]
    approaching_refresh_cycle: Option<u64>,
    #[serde(rename = "approachingWindowTime", default)]
    approaching_window_time: Option<u64>,
    #[serde(rename = "imminentRefreshCycle", default)]
    imminent_refresh_cycle: Option<u64>,
    #[serde(rename = "imminentWindowTime", default)]
    imminent_window_time: Option<u64>,
    #[serde(rename = "elapsedRefreshCycle", default)]
    elapsed_refresh_cycle: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NudgeUserInterface {
    #[serde(rename = "updateElements")]
    update_elements: Vec<NudgeUpdateElement>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct NudgeUpdateElement {
    #[serde(rename = "_language")]
    language: String,
    #[serde(rename = "mainHeader", default)]
    main_header: Option<String>,
    #[serde(rename = "subHeader", default)]
    sub_header: Option<String>,
    #[serde(rename = "mainContentText", default)]
    main_content_text: Option<String>,
    #[serde(rename = "actionButtonText", default)]
    action_button_text: Option<String>,
    #[serde(rename = "primaryQuitButtonText", default)]
    primary_quit_button_text: Option<String>,
    #[serde(rename = "secondaryQuitButtonText", default)]
    secondary_quit_button_text: Option<String>,
}

#[test]
fn nudge_files_are_nudges_configuration() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for files in [
        repo(&[("sequoia", SEQUOIA)]),
        crate::tests::read_repo(&root),
    ] {
        let c = ok(&files);
        let jsons: Vec<&String> = c
            .mdm
            .files
            .keys()
            .filter(|p| p.ends_with(".nudge.json"))
            .collect();
        assert!(!jsons.is_empty());
        for path in jsons {
            let bytes = &c.mdm.files[path];
            let n: Nudge = serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(n.os_version_requirements.len(), 1);
            let r = &n.os_version_requirements[0];
            // ISO 8601 in UTC, as Nudge's JSON wants it.
            let date = &r.required_installation_date;
            assert!(date.ends_with('Z') && date.len() == 20, "{date}");
            date.parse::<jiff::Timestamp>().unwrap();
            assert!(n.user_experience.initial_refresh_cycle.is_some());
            let e = &n.user_interface.update_elements[0];
            assert_eq!(e.language, "en");
            let text = e.main_content_text.as_deref().unwrap();
            for leftover in ["%", "[restart]", "[/restart]", "[deferrable]", "{{"] {
                assert!(!text.contains(leftover), "{path}: {leftover} in {text:?}");
            }

            // The profile carries the same keys in a com.github.macadmins.Nudge payload, the
            // date as a property-list date.
            let profile_path = path.replace(".nudge.json", ".nudge.mobileconfig");
            let profile: plist::Dictionary =
                plist::from_bytes(&c.mdm.files[&profile_path]).unwrap();
            assert_eq!(profile["PayloadType"].as_string(), Some("Configuration"));
            let payloads = profile["PayloadContent"].as_array().unwrap();
            assert_eq!(payloads.len(), 1);
            let payload = payloads[0].as_dictionary().unwrap();
            assert_eq!(
                payload["PayloadType"].as_string(),
                Some(super::NUDGE_PAYLOAD_TYPE)
            );
            let json: Json = serde_json::from_slice(bytes).unwrap();
            let mut keys: Vec<&str> = payload
                .keys()
                .map(String::as_str)
                .filter(|k| !k.starts_with("Payload"))
                .collect();
            keys.sort_unstable();
            let mut want: Vec<&str> = json
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            want.sort_unstable();
            assert_eq!(keys, want);
            let req = payload["osVersionRequirements"].as_array().unwrap()[0]
                .as_dictionary()
                .unwrap();
            let plist::Value::Date(d) = &req["requiredInstallationDate"] else {
                panic!("{req:?}");
            };
            assert_eq!(&d.to_xml_format(), date);
            assert_eq!(
                plist::to_value(&json["userInterface"]).unwrap(),
                payload["userInterface"]
            );
        }
    }
}
