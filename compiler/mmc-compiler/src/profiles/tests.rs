//! The embedded schema, one broken fixture per diagnostic, the example repository, and 74 real
//! profiles from public repositories.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::schema::{self, KeySchema, MacVersion};
use super::*;
use crate::diag::{Severity, render_human};
use crate::source::FileSet;
use crate::syntax::spanned::{Sp, Value};

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn walk<'a>(keys: &'a [KeySchema], f: &mut impl FnMut(&'a KeySchema)) {
    for k in keys {
        f(k);
        walk(&k.subkeys, f);
    }
}

#[test]
fn embedded_data_loads_and_every_erratum_applies() {
    let data = schema::data();
    assert!(data.source.starts_with("apple/device-management@"));
    assert!(data.payloads.len() > 90, "{}", data.payloads.len());
    for e in schema::errata() {
        assert!(!e.reason.trim().is_empty(), "erratum without a reason");
        assert!(
            e.patch.is_some() || e.add.is_some(),
            "erratum that changes nothing"
        );
    }
    let ss = &data.payloads["com.apple.screensaver"];
    let module = ss.keys.iter().find(|k| k.key == "moduleName").unwrap();
    assert!(!module.required, "the moduleName erratum applied");
    assert!(ss.keys.iter().any(|k| k.key == "idleTime"));
    // Every format compiles, every version parses, every recursive reference points inside.
    for (ty, p) in &data.payloads {
        let mut depth_ok = true;
        walk(&p.keys, &mut |k| {
            if let Some(f) = &k.format {
                assert!(regex_lite::Regex::new(f).is_ok(), "{ty} {}: {f}", k.key);
            }
            for v in [&k.os.introduced, &k.os.deprecated, &k.os.removed]
                .into_iter()
                .flatten()
            {
                assert!(
                    matches!(v.as_str(), "n/a" | "all") || MacVersion::parse(v).is_some(),
                    "{ty} {}: {v}",
                    k.key
                );
            }
            if k.same_as == Some(0) {
                depth_ok = false;
            }
        });
        assert!(depth_ok, "{ty}");
    }
}

#[test]
fn versions_compare_numerically() {
    let v = |s| MacVersion::parse(s).unwrap();
    assert!(v("10.13.4") < v("10.14"));
    assert!(v("9.0") < v("10.0"));
    assert_eq!(v("13"), v("13.0"));
    assert_eq!(v("13").to_string(), "13.0");
    assert_eq!(v("10.13.4").to_string(), "10.13.4");
    for bad in ["", "13.", "x", "13.0.0.1", "0.1", "-1", "13 .0"] {
        assert!(MacVersion::parse(bad).is_none(), "{bad}");
    }
}

#[test]
fn suggestions_prefer_a_case_insensitive_match() {
    let names = ["askForPassword", "askForPasswordDelay", "idleTime"];
    assert_eq!(closest("askforpassword", names), Some("askForPassword"));
    assert_eq!(
        closest("askForPasswrdDelay", names),
        Some("askForPasswordDelay")
    );
    assert_eq!(closest("IdelTime", names), Some("idleTime"));
    assert_eq!(closest("moduleName", names), None);
}

const REPO: &str = "mmc_version: 1\norg: {name: Org, identifier_prefix: com.example}\ntracks: [stable]\nbundles:\n  - {name: stable, track: stable}\nmin_macos: \"13.0\"\n";

fn compile_profile(repo: &str, profile: &str) -> (FileSet, crate::Compiled) {
    let mut files = FileSet::new();
    files.insert("mmc.yaml", repo);
    files.insert("profiles/p.yaml", profile);
    let compiled = crate::compile(&files);
    (files, compiled)
}

/// Each fixture in `testdata/` is named after the one diagnostic it must produce.
#[test]
fn each_broken_fixture_gives_exactly_its_diagnostic() {
    let dir = crate_dir().join("src/profiles/testdata");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert!(names.len() >= 10);
    for path in names {
        let code = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let (files, compiled) = compile_profile(REPO, &text);
        let diags = &compiled.diagnostics;
        assert_eq!(
            diags.iter().map(|d| d.code).collect::<Vec<_>>(),
            [code.as_str()],
            "{}",
            path.display()
        );
        let rendered = render_human(&diags[0], &files, false);
        insta::assert_snapshot!(code.clone(), rendered);
    }
}

#[test]
fn severities_are_as_documented() {
    let severity = |fixture: &str| {
        let text = std::fs::read_to_string(
            crate_dir().join(format!("src/profiles/testdata/{fixture}.yaml")),
        )
        .unwrap();
        compile_profile(REPO, &text).1.diagnostics[0].severity
    };
    assert_eq!(severity("profile-deprecated"), Severity::Warning);
    assert_eq!(severity("profile-too-new"), Severity::Warning);
    assert_eq!(severity("profile-unknown-type"), Severity::Note);
    assert_eq!(severity("profile-removed"), Severity::Error);
    assert_eq!(severity("profile-unknown-key"), Severity::Error);
}

#[test]
fn min_macos_decides_what_is_too_new_removed_or_deprecated() {
    let codes = |repo: &str, settings: &str| {
        let p = format!(
            "display_name: P\npayloads:\n  - type: com.apple.security.firewall\n    settings: {{EnableFirewall: true, {settings}}}\n"
        );
        compile_profile(repo, &p)
            .1
            .diagnostics
            .iter()
            .map(|d| d.code)
            .collect::<Vec<_>>()
    };
    let undeclared = REPO.replace("min_macos: \"13.0\"\n", "");
    let with = |v: &str| REPO.replace("13.0", v);
    // EnableLogging: introduced 12.0, deprecated and removed 15.0.
    assert_eq!(
        codes(&undeclared, "EnableLogging: true"),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes(&with("11"), "EnableLogging: true"),
        ["profile-too-new"]
    );
    assert_eq!(
        codes(&with("14.6"), "EnableLogging: true"),
        Vec::<&str>::new()
    );
    assert_eq!(
        codes(&with("15.0"), "EnableLogging: true"),
        ["profile-removed"]
    );
    // AllowSigned: introduced 12.3; not reported without min_macos.
    assert_eq!(codes(&undeclared, "AllowSigned: true"), Vec::<&str>::new());
    assert_eq!(
        codes(&with("12.0"), "AllowSigned: true"),
        ["profile-too-new"]
    );
    assert_eq!(
        codes(&with("fourteen"), "AllowSigned: true"),
        ["bad-min-macos"]
    );
}

#[test]
fn the_checks_reach_into_nested_values() {
    let check = |settings: &str| {
        let p = format!(
            "display_name: P\npayloads:\n  - type: com.apple.TCC.configuration-profile-policy\n    settings:\n{settings}"
        );
        compile_profile(REPO, &p)
            .1
            .diagnostics
            .iter()
            .map(|d| d.code)
            .filter(|c| c.starts_with("profile-"))
            .collect::<Vec<_>>()
    };
    let good = "      Services:\n        SystemPolicyAllFiles:\n          - {Identifier: com.example.app, IdentifierType: bundleID, CodeRequirement: 'identifier \"com.example.app\"', Allowed: true}\n";
    assert_eq!(check(good), Vec::<&str>::new());
    let bad_enum = good.replace("bundleID", "bundleId");
    assert_eq!(check(&bad_enum), ["profile-not-in-rangelist"]);
    let missing = good.replace("Identifier: com.example.app, ", "");
    assert_eq!(check(&missing), ["profile-missing-key"]);
    // Templates are type-checked as strings but their value is unknown until a bundle renders them.
    let templated = good.replace("bundleID", "\"{{ vars.kind }}\"");
    assert_eq!(check(&templated), Vec::<&str>::new());
    // An absent `settings:` is an empty top-level dictionary: its required keys are missing, but
    // not the required keys inside a dictionary that is itself absent (SCEP's PayloadContent.URL).
    let p = "display_name: P\npayloads:\n  - type: com.apple.security.scep\n";
    let (_, c) = compile_profile(REPO, p);
    let got: Vec<&str> = c.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        got,
        ["payload `com.apple.security.scep` needs the key `PayloadContent`"]
    );
}

#[test]
fn recursive_schema_entries_are_followed() {
    // com.apple.applicationaccess.new: whiteList items have subApps, which are whiteList items.
    let p = "display_name: P\npayloads:\n  - type: com.apple.applicationaccess.new\n    settings:\n      familyControlsEnabled: true\n      whiteList:\n        - bundleID: com.example.a\n          appID: {$data: AAAA}\n          subApps:\n            - bundleID: com.example.b\n              appId: {$data: AAAA}\n";
    let (_, c) = compile_profile(REPO, p);
    let got: Vec<(&str, String)> = c
        .diagnostics
        .iter()
        .map(|d| (d.code, d.message.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "profile-missing-key",
                "`whiteList[0].subApps[0]` needs the key `appID`".to_owned()
            ),
            (
                "profile-unknown-key",
                "unknown key `appId` in `whiteList[0].subApps[0]`".to_owned()
            ),
        ]
    );
}

/// `mmc check` on the example repository reports nothing about its profiles.
#[test]
fn the_example_repository_validates_clean() {
    let root = crate_dir().join("../..");
    let mut files = FileSet::new();
    files.insert(
        "mmc.yaml",
        std::fs::read_to_string(root.join("mmc.yaml")).unwrap(),
    );
    let mut n = 0;
    for e in std::fs::read_dir(root.join("profiles")).unwrap() {
        let path = e.unwrap().path();
        let name = format!("profiles/{}", path.file_name().unwrap().to_str().unwrap());
        files.insert(&name, std::fs::read_to_string(&path).unwrap());
        n += 1;
    }
    assert!(n >= 5);
    let c = crate::compile(&files);
    let profile_diags: Vec<String> = c
        .diagnostics
        .iter()
        .filter(|d| d.code.starts_with("profile-"))
        .map(|d| render_human(d, &files, false))
        .collect();
    assert!(profile_diags.is_empty(), "{}", profile_diags.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The corpus: real profiles from public repositories (testdata/corpus-profiles/README.md).

fn from_plist(v: &plist::Value) -> Sp<Value> {
    let value = match v {
        plist::Value::Boolean(b) => Value::Bool(*b),
        plist::Value::Integer(i) => match i.as_signed() {
            Some(n) => Value::Integer(n),
            None => Value::Real(i.as_unsigned().unwrap_or(u64::MAX) as f64),
        },
        plist::Value::Real(r) => Value::Real(*r),
        plist::Value::String(s) => Value::String(s.clone()),
        plist::Value::Data(d) => Value::Data(d.clone()),
        plist::Value::Date(d) => Value::Date(d.to_xml_format()),
        plist::Value::Array(a) => Value::Array(a.iter().map(from_plist).collect()),
        plist::Value::Dictionary(d) => Value::Dict(
            d.iter()
                .map(|(k, v)| (Sp::new(k.clone(), 0..0), from_plist(v)))
                .collect(),
        ),
        _ => Value::Null,
    };
    Sp::new(value, 0..0)
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// Every payload of every corpus profile, validated against macOS 13 (the default). The
/// snapshot lists what remains; docs/profiles.md and the report explain each error and warning.
#[test]
fn corpus_profiles() {
    let dir = crate_dir().join("testdata/corpus-profiles");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mobileconfig"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 74);
    let target = Target::default();
    let mut out = String::new();
    let (mut errors, mut warnings, mut notes, mut payloads) = (0, 0, 0, 0);
    for path in &paths {
        let name = path.file_name().unwrap().to_str().unwrap();
        let profile = plist::Value::from_file(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let content = profile
            .as_dictionary()
            .and_then(|d| d.get("PayloadContent"))
            .and_then(|c| c.as_array())
            .unwrap_or_else(|| panic!("{name}: no PayloadContent"));
        let mut lines = Vec::new();
        for payload in content {
            let d = payload.as_dictionary().unwrap();
            let ty = d
                .get("PayloadType")
                .and_then(|t| t.as_string())
                .unwrap_or("");
            payloads += 1;
            let settings = from_plist(payload);
            for f in validate(&Sp::new(ty.to_owned(), 0..0), Some(&settings), &target) {
                match f.severity {
                    Severity::Error => errors += 1,
                    Severity::Warning => warnings += 1,
                    Severity::Note => notes += 1,
                }
                let at = if f.path.is_empty() {
                    String::new()
                } else {
                    format!(" at {}", f.path)
                };
                lines.push(format!(
                    "  {ty}: {} {}{at}: {}",
                    severity_word(f.severity),
                    f.code,
                    f.message
                ));
            }
        }
        if lines.is_empty() {
            let _ = writeln!(out, "{name}: clean");
        } else {
            let _ = writeln!(out, "{name}:");
            for l in lines {
                let _ = writeln!(out, "{l}");
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{} files, {payloads} payloads: {errors} errors, {warnings} warnings, {notes} notes",
        paths.len()
    );
    insta::assert_snapshot!("corpus", out);
}

#[test]
fn errata_that_match_nothing_or_collide_are_refused() {
    let mut data: schema::Data = serde_json::from_str(
        r#"{"source":"x","payloads":{"t":{"os":{"introduced":"10.7"},"keys":[
            {"key":"a","type":"dictionary","subkeys":[{"key":"x","type":"string","required":true}]},
            {"key":"b","type":"dictionary","subkeys":[{"key":"x","type":"string","required":true}]}]}}}"#,
    )
    .unwrap();
    let erratum = |json: &str| -> schema::Erratum { serde_json::from_str(json).unwrap() };
    let ok = erratum(r#"{"payload":"t","key":"*/x","patch":{"required":null},"reason":"r"}"#);
    schema::apply(&mut data, &ok).unwrap();
    let p = &data.payloads["t"];
    assert!(
        p.keys.iter().all(|k| !k.subkeys[0].required),
        "the wildcard reached both"
    );
    for bad in [
        r#"{"payload":"t","key":"a/y","patch":{"required":null},"reason":"r"}"#,
        r#"{"payload":"u","add":{"key":"z","type":"string"},"reason":"r"}"#,
        r#"{"payload":"t","key":"a","add":{"key":"x","type":"string"},"reason":"r"}"#,
        r#"{"payload":"t","patch":{"required":true},"reason":"r"}"#,
    ] {
        assert!(schema::apply(&mut data, &erratum(bad)).is_err(), "{bad}");
    }
}
