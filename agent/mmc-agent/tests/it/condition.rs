//! `mmc-agent condition` and `mmc-agent facts`.

use std::fs;
use std::path::PathBuf;
use std::process::Output;

use super::{agent, assert_fails_with, stderr, stdout};

/// A directory with facts files in each format the agent reads.
struct FactsFiles {
    dir: tempfile::TempDir,
}

const FACTS_JSON: &str = r#"{
    "arch": "arm64",
    "os_vers": "15.4.1",
    "os_vers_major": 15,
    "machine_type": "laptop",
    "ipv4_address": ["192.168.1.1"],
    "catalogs": ["testing", "production"],
    "applications": [{"bundleid": "com.microsoft.Word", "version": "16.96.2"}]
}"#;

const CONDITIONAL_ITEMS_PLIST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>on_corp</key>
	<true/>
	<key>groups</key>
	<array><string>staff</string></array>
	<key>date</key>
	<date>2025-05-04T09:30:00Z</date>
</dict>
</plist>
"#;

const REPORT_PLIST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Conditions</key>
	<dict>
		<key>machine_type</key>
		<string>desktop</string>
		<key>os_vers_major</key>
		<integer>14</integer>
	</dict>
	<key>ManifestName</key>
	<string>site_default</string>
</dict>
</plist>
"#;

impl FactsFiles {
    fn new() -> FactsFiles {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("facts.json"), FACTS_JSON).unwrap();
        fs::write(
            dir.path().join("ConditionalItems.plist"),
            CONDITIONAL_ITEMS_PLIST,
        )
        .unwrap();
        fs::write(dir.path().join("ManagedInstallReport.plist"), REPORT_PLIST).unwrap();
        let mut dict = plist::Dictionary::new();
        dict.insert("serial_number".into(), plist::Value::String("C02X".into()));
        plist::Value::Dictionary(dict)
            .to_file_binary(dir.path().join("binary.plist"))
            .unwrap();
        fs::write(dir.path().join("broken.json"), "{\"arch\": ").unwrap();
        FactsFiles { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn condition(&self, predicate: &str, file: &str) -> Output {
        let path = self.path(file);
        agent(
            &["condition", predicate, "--facts", path.to_str().unwrap()],
            None,
        )
    }
}

fn assert_result(output: &Output, expected: bool) {
    let code = if expected { 0 } else { 1 };
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {} stderr: {}",
        stdout(output),
        stderr(output)
    );
    assert_eq!(stdout(output), format!("{expected}\n"));
    assert!(output.stderr.is_empty(), "{}", stderr(output));
}

#[test]
fn true_exits_0_and_false_exits_1() {
    let files = FactsFiles::new();
    for (predicate, expected) in [
        ("arch == 'arm64' AND os_vers_major >= 15", true),
        ("ANY applications.bundleid == 'com.microsoft.Word'", true),
        (
            "catalogs CONTAINS 'testing' AND NOT machine_type == 'desktop'",
            true,
        ),
        ("os_vers_major == '15'", false),
        ("ANY ipv4_address BEGINSWITH '10.'", false),
        ("undefined_key == 'Hello'", false),
    ] {
        assert_result(&files.condition(predicate, "facts.json"), expected);
    }
}

#[test]
fn plist_facts_files() {
    let files = FactsFiles::new();
    let items = "ConditionalItems.plist";
    assert_result(
        &files.condition("on_corp == TRUE AND ANY groups == 'staff'", items),
        true,
    );
    assert_result(
        &files.condition("date > CAST('2025-05-04T09:29:59Z', 'NSDate')", items),
        true,
    );
    assert_result(
        &files.condition("date >= CAST('2025-05-04T09:30:01Z', 'NSDate')", items),
        false,
    );
    // A ManagedInstallReport: the facts are its Conditions dictionary.
    let report = "ManagedInstallReport.plist";
    assert_result(
        &files.condition("machine_type == 'desktop' AND os_vers_major == 14", report),
        true,
    );
    assert_result(
        &files.condition("ManifestName == 'site_default'", report),
        false,
    );
    assert_result(
        &files.condition("serial_number BEGINSWITH 'C02'", "binary.plist"),
        true,
    );
}

#[test]
fn parse_errors_exit_2_with_a_caret() {
    let files = FactsFiles::new();
    let output = files.condition("board-id == 'Mac-1234' OR arch == 'arm64'", "facts.json");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert_eq!(
        stderr(&output),
        "mmc-agent: error: unsupported: arithmetic: `board-id` reads as `board - id` because \
         fact names cannot contain `-` (Munki's facts use `_`, e.g. board_id, device_id) at column 1\n\
         \x20   board-id == 'Mac-1234' OR arch == 'arm64'\n\
         \x20   ^^^^^^^^\n"
    );

    let output = files.condition("munki_python_ver >= 3.7.4", "facts.json");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "mmc-agent: error: `3.7.4` is not a number; quote a version string: \"3.7.4\" at column 21\n\
         \x20   munki_python_ver >= 3.7.4\n\
         \x20                       ^^^^^\n"
    );

    // A condition over several lines names the line too.
    let output = files.condition(
        "system_extensions != NULL AND\nSUBQUERY(system_extensions, $s, $s.state == 1).@count == 0",
        "facts.json",
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "mmc-agent: error: unsupported: SUBQUERY at line 2, column 1\n\
         \x20   SUBQUERY(system_extensions, $s, $s.state == 1).@count == 0\n\
         \x20   ^^^^^^^^\n"
    );

    // Parse errors are found before the facts are read.
    let output = agent(
        &["condition", "arch ==", "--facts", "/nonexistent.json"],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("at column 8\n    arch ==\n           ^\n"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn evaluation_errors_exit_2_with_a_caret() {
    let files = FactsFiles::new();
    let output = files.condition(
        "machine_type == 'laptop' AND ANY arch == 'arm64'",
        "facts.json",
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert_eq!(
        stderr(&output),
        "mmc-agent: error: ANY needs an array on its left, but `arch` is a string at column 34\n\
         \x20   machine_type == 'laptop' AND ANY arch == 'arm64'\n\
         \x20                                    ^^^^\n"
    );
    let output = files.condition("arch MATCHES '(arm'", "facts.json");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not a regular expression"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_facts_files_exit_2() {
    let files = FactsFiles::new();
    assert_fails_with(
        &files.condition("TRUEPREDICATE", "broken.json"),
        "not valid JSON",
    );
    assert_fails_with(
        &files.condition("TRUEPREDICATE", "missing.plist"),
        "not found",
    );
    assert_fails_with(
        &files.condition("TRUEPREDICATE", "facts.json.plist"),
        "facts file",
    );
    fs::write(files.path("facts.plist"), FACTS_JSON).unwrap();
    assert_fails_with(
        &files.condition("TRUEPREDICATE", "facts.plist"),
        "not a readable property list",
    );
}

#[test]
fn without_a_facts_file_the_gathered_facts_are_used() {
    let output = agent(
        &[
            "condition",
            "arch != nil AND date > CAST('2020-01-01T00:00:00Z', 'NSDate')",
        ],
        None,
    );
    assert_result(&output, true);
    // Not gathered yet: nil.
    let output = agent(&["condition", "os_vers == nil"], None);
    assert_result(&output, true);
    // `--` lets a condition start with `-`.
    let output = agent(&["condition", "--", "-1 < 0"], None);
    assert_result(&output, true);
}

#[test]
fn facts_prints_json_or_a_plist() {
    let output = agent(&["facts"], None);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let object = json.as_object().unwrap();
    let keys: Vec<&String> = object.keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    for key in ["arch", "date", "hostname"] {
        assert!(object.contains_key(key), "{key} missing from {text}");
    }
    let date = object["date"].as_str().unwrap();
    assert!(mmc_predicate::date_from_iso8601(date).is_some(), "{date}");

    let output = agent(&["facts", "--format", "plist"], None);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let facts = mmc_predicate::facts_from_plist(&output.stdout).unwrap();
    assert!(matches!(facts["date"], mmc_predicate::FactValue::Date(_)));
    assert_eq!(
        facts["arch"],
        mmc_predicate::FactValue::String(json["arch"].as_str().unwrap().to_owned())
    );

    // The plist feeds `condition --facts` unchanged.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("facts.plist");
    fs::write(&file, &output.stdout).unwrap();
    let arch = json["arch"].as_str().unwrap();
    let output = agent(
        &[
            "condition",
            &format!("arch == '{arch}' AND date > CAST(0, 'NSDate')"),
            "--facts",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert_result(&output, true);
}

#[test]
fn usage_errors() {
    assert_fails_with(&agent(&["condition"], None), "missing PREDICATE");
    assert_fails_with(
        &agent(&["condition", "a == 1", "b == 2"], None),
        "unexpected argument",
    );
    assert_fails_with(&agent(&["condition", "a == 1", "--facts"], None), "--facts");
    assert_fails_with(
        &agent(&["facts", "--format", "yaml"], None),
        "use json or plist",
    );
    assert_fails_with(&agent(&["facts", "extra"], None), "unexpected argument");

    for (command, needles) in [
        (
            "condition",
            &[
                "--facts FILE",
                "ManagedInstallReport.plist",
                "Exit status",
                "1  the condition is false",
            ][..],
        ),
        (
            "facts",
            &[
                "--format FORMAT",
                "hostname",
                "Not gathered",
                "arch",
                "--root DIR",
            ][..],
        ),
    ] {
        let output = agent(&[command, "--help"], None);
        assert_eq!(output.status.code(), Some(0));
        let help = stdout(&output);
        for needle in needles {
            assert!(help.contains(needle), "{needle:?} missing from: {help}");
        }
    }
    let help = stdout(&agent(&["--help"], None));
    for command in [
        "  run ",
        "  status ",
        "  interactive ",
        "  log ",
        "  install-daemon ",
        "  verify ",
        "  condition ",
        "  facts ",
    ] {
        assert!(help.contains(command), "{command:?} missing from: {help}");
    }
}
