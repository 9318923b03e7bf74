//! security.md §8, the YAML and template rows, through `mmc_compiler::compile` (what `mmc check`
//! and `mmc build` run): each hostile input is an error at a definite file, line and column
//! (1-based, as the renderers print them), or, for the template injections, output whose
//! structure the input cannot change. The table's positions are examples for its own inputs;
//! these are the positions of the inputs here.

use mmc_compiler::diag::render_human;
use mmc_compiler::source::{FileSet, line_col};
use mmc_compiler::{Compiled, compile};

const REPO: &str = "mmc_version: 1\norg: {name: Example Corp, identifier_prefix: com.example}\ntracks: [stable]\nbundles:\n  - {name: stable, track: stable}\n";

fn compile_files(files: &[(&str, &str)]) -> (FileSet, Compiled) {
    let mut set = FileSet::new();
    set.insert("mmc.yaml", REPO);
    for (path, text) in files {
        set.insert(*path, *text);
    }
    let compiled = compile(&set);
    (set, compiled)
}

fn items(text: &str) -> (FileSet, Compiled) {
    compile_files(&[("policies/items/i.yaml", text)])
}

/// A preference item whose free-form `values:` are `values` (indented six spaces); its first
/// value is on line 6.
fn preference(values: &str) -> String {
    format!(
        "items:\n  - name: P\n    kind: preference\n    domain: com.example.p\n    values:\n{values}"
    )
}

/// Every diagnostic as `(code, "file:line:column", the text its primary label covers)`,
/// duplicates removed.
fn located(files: &FileSet, c: &Compiled) -> Vec<(&'static str, String, String)> {
    let mut out: Vec<(&'static str, String, String)> = c
        .diagnostics
        .iter()
        .map(|d| {
            let l = d.primary().expect("a located diagnostic");
            let text = files.get(&l.file).unwrap();
            let lc = line_col(text, l.span.start);
            (
                d.code,
                format!("{}:{}:{}", l.file, lc.line, lc.column),
                text[l.span.clone()].to_owned(),
            )
        })
        .collect();
    out.dedup();
    out
}

fn message(c: &Compiled) -> &str {
    &c.diagnostics[0].message
}

// ---------------------------------------------------------------------------------------------
// YAML

#[test]
fn yaml_alias_bomb_stops_at_the_replay_limit() {
    // Nine levels of nine aliases: 9^9 = 387 million nodes if expanded. serde-saphyr stops
    // replaying after 10,000 events (about 60 ms in a debug build).
    let mut values = String::from("      a: &a [x, x, x, x, x, x, x, x, x]\n");
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        let refs = vec![format!("*{prev}"); 9].join(", ");
        values.push_str(&format!("      {name}: &{name} [{refs}]\n"));
    }
    let (files, c) = items(&preference(&values));
    assert_eq!(
        located(&files, &c),
        [(
            "yaml",
            "policies/items/i.yaml:10:14".to_owned(),
            "*d".to_owned()
        )]
    );
    assert_eq!(
        message(&c),
        "alias replay limit exceeded: total_replayed_events=10001 > 10000"
    );
}

#[test]
fn yaml_deep_nesting_stops_at_the_depth_limit() {
    // 10,000 `[`: the parser's own recursion limit.
    let (files, c) = items(&preference(&format!(
        "      deep: {}\n",
        "[".repeat(10_000)
    )));
    assert_eq!(
        located(&files, &c),
        [(
            "yaml",
            "policies/items/i.yaml:6:268".to_owned(),
            String::new()
        )]
    );
    assert_eq!(message(&c), "recursion limit exceeded");
    let rendered = render_human(&c.diagnostics[0], &files, false);
    assert!(
        rendered.contains("--> policies/items/i.yaml:6:268") && rendered.contains("6 |"),
        "{rendered}"
    );
    // 60 nested mappings: the depth budget (48).
    let (files, c) = items(&preference(&format!("      deep: {}\n", "{a: ".repeat(60))));
    assert_eq!(
        located(&files, &c),
        [(
            "yaml-budget",
            "policies/items/i.yaml:6:189".to_owned(),
            "{".to_owned()
        )]
    );
    assert_eq!(message(&c), "budget breached: Depth { depth: 49 }");
}

#[test]
fn duplicate_yaml_keys_point_at_the_second_key() {
    let (files, c) = items("items:\n  - name: a\n    kind: script\n    name: b\n");
    assert_eq!(
        located(&files, &c),
        [(
            "duplicate-key",
            "policies/items/i.yaml:4:5".to_owned(),
            "name".to_owned()
        )]
    );
    assert_eq!(message(&c), "duplicate key `name`");
}

#[test]
fn norway_problem() {
    // A typed boolean written the YAML 1.1 way.
    let (files, c) = items("items:\n  - name: A\n    kind: package\n    unattended_install: yes\n");
    assert_eq!(
        located(&files, &c),
        [(
            "yaml11-boolean",
            "policies/items/i.yaml:4:25".to_owned(),
            "yes".to_owned()
        )]
    );
    // In free-form preference values mmc does not guess either: unquoted NO is an error...
    let (files, c) = items(&preference("      country: NO\n"));
    assert_eq!(
        located(&files, &c),
        [(
            "yaml11-boolean",
            "policies/items/i.yaml:6:16".to_owned(),
            "NO".to_owned()
        )]
    );
    // ...and quoted, it is the text "NO".
    let (_, c) = items(&preference("      country: \"NO\"\n"));
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
    let plist = emitted(&c, "preferences/");
    assert!(
        plist.contains("<key>country</key>\n\t<string>NO</string>"),
        "{plist}"
    );
}

#[test]
fn float_versions_must_be_quoted() {
    let (files, c) = items("items:\n  - name: A\n    kind: package\n    version: 1.10\n");
    assert_eq!(
        located(&files, &c),
        [(
            "yaml-float-version",
            "policies/items/i.yaml:4:14".to_owned(),
            "1.10".to_owned()
        )]
    );
    assert_eq!(
        message(&c),
        "`1.10` is read as the number 1.1, not as the text `1.10`"
    );
    assert!(
        c.diagnostics[0]
            .help
            .as_deref()
            .is_some_and(|h| h.starts_with("quote it (\"1.10\")")),
        "{:?}",
        c.diagnostics[0].help
    );
}

#[test]
fn octal_modes_are_strings_parsed_by_mmc() {
    let file = |name: &str, mode: &str| {
        format!(
            "  - name: {name}\n    kind: file\n    path: /etc/{name}\n    content: x\n    mode: {mode}\n"
        )
    };
    let text = format!("items:\n{}{}", file("F", "0755"), file("G", "755"));
    let (files, c) = items(&text);
    assert_eq!(
        located(&files, &c),
        [
            (
                "yaml-octal",
                "policies/items/i.yaml:6:11".to_owned(),
                "0755".to_owned()
            ),
            (
                "must-quote",
                "policies/items/i.yaml:11:11".to_owned(),
                "755".to_owned()
            )
        ]
    );
    // Quoted, with or without the leading zero, it is octal 755 (decimal 493) on the Mac.
    let text = format!("items:\n{}{}", file("F", "\"0755\""), file("G", "\"755\""));
    let (_, c) = items(&text);
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
    let config: serde_json::Value = serde_json::from_str(&emitted(&c, "config.json")).unwrap();
    for name in ["F", "G"] {
        let mode = config["items"][name]["mode"].as_str().unwrap();
        assert_eq!(
            u32::from_str_radix(mode.trim_start_matches("0o"), 8),
            Ok(493),
            "{mode}"
        );
    }
}

#[test]
fn hidden_merge_inheritance_is_refused() {
    let (files, c) = items(&preference(
        "      base: &base {a: 1}\n      other:\n        <<: *base\n        b: 2\n",
    ));
    assert_eq!(
        located(&files, &c),
        [(
            "merge-key",
            "policies/items/i.yaml:8:9".to_owned(),
            "<<".to_owned()
        )]
    );
}

#[test]
fn semantic_errors_carry_the_location_of_their_value() {
    let (files, c) = items(
        "items:\n  - name: F\n    kind: file\n    path: /etc/x\n    content: x\n    mode: \"0999\"\n",
    );
    assert_eq!(
        located(&files, &c),
        [(
            "bad-mode",
            "policies/items/i.yaml:6:11".to_owned(),
            "\"0999\"".to_owned()
        )]
    );
}

#[test]
fn every_error_of_the_cli_fixture_cases_has_a_location() {
    // The "span ≠ 0:0" check, over every case of compiler/mmc/tests/fixtures/cases (each made to
    // produce one class of problem): every error points into a file, at a non-empty span, except
    // those about a whole file.
    const WHOLE_FILE: [&str; 2] = ["empty-file", "file-too-large"];
    // Known weakness, to be fixed in the spans of block mappings: `job:` given a block mapping
    // on a file item points at an empty span where the mapping's first key starts (line 14,
    // column 7, "`job` set here"), not at `job`. Remove this entry once it does.
    const KNOWN_EMPTY: [(&str, &str); 1] = [("launchd_key_for_kind", "key-not-for-kind")];
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../mmc/tests/fixtures");
    let mut cases: Vec<_> = std::fs::read_dir(fixtures.join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "{cases:?}");
    let mut errors = 0;
    let mut known = 0;
    for case in &cases {
        let mut files = FileSet::new();
        for root in [fixtures.join("base"), case.clone()] {
            read_yaml(&root, &root, &mut files);
        }
        let c = compile(&files);
        for d in c.diagnostics.iter().filter(|d| d.is_error()) {
            errors += 1;
            let label = d
                .primary()
                .unwrap_or_else(|| panic!("{}: {} has no location", case.display(), d.code));
            assert!(
                files.get(&label.file).is_some(),
                "{}: {} points at {}",
                case.display(),
                d.code,
                label.file
            );
            let case_name = case.file_name().unwrap().to_str().unwrap();
            if KNOWN_EMPTY.contains(&(case_name, d.code)) {
                known += usize::from(label.span.is_empty());
                continue;
            }
            assert!(
                !label.span.is_empty() || WHOLE_FILE.contains(&d.code),
                "{}: {} ({}) has an empty span at {:?}",
                case.display(),
                d.code,
                d.message,
                label.span
            );
        }
    }
    assert!(errors >= 10, "only {errors} errors");
    assert_eq!(
        known, 1,
        "a known empty span is fixed: remove it from KNOWN_EMPTY"
    );
}

fn read_yaml(root: &std::path::Path, dir: &std::path::Path, files: &mut FileSet) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_yaml(root, &path, files);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let rel = path.strip_prefix(root).unwrap().to_str().unwrap();
            files.insert(rel, std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn unknown_keys_are_errors_at_their_line_and_column() {
    let text = "items:\n  - name: W\n    kind: preference\n    domain: com.example.w\n    values: {a: 1}\n    pasword: hunter2\n";
    let (files, c) = items(text);
    assert_eq!(
        located(&files, &c),
        [(
            "unknown-key",
            "policies/items/i.yaml:6:5".to_owned(),
            "pasword".to_owned()
        )]
    );
    insta::assert_snapshot!(
        "unknown_key_pasword",
        render_human(&c.diagnostics[0], &files, false)
    );
}

// ---------------------------------------------------------------------------------------------
// Templates

/// A repository whose `vars.ssid` is `ssid` (a YAML scalar as written) and whose login window
/// profile's LoginwindowText is `text` (likewise), on line 5 of profiles/lw.yaml.
fn with_template(ssid: &str, text: &str) -> (FileSet, Compiled) {
    let repo = format!("{REPO}vars:\n  ssid: {ssid}\n");
    let profile = format!(
        "display_name: Login Window\npayloads:\n  - type: com.apple.loginwindow\n    settings:\n      LoginwindowText: {text}\n"
    );
    let mut set = FileSet::new();
    set.insert("mmc.yaml", repo);
    set.insert("profiles/lw.yaml", profile);
    let compiled = compile(&set);
    (set, compiled)
}

/// The one emitted file of bundle `stable` whose path starts with `prefix`, as text.
fn emitted(c: &Compiled, prefix: &str) -> String {
    let b = c.bundles.iter().find(|b| b.name == "stable").unwrap();
    let found: Vec<_> = b.files.keys().filter(|p| p.starts_with(prefix)).collect();
    assert_eq!(found.len(), 1, "{prefix}: {:?}", b.files.keys());
    String::from_utf8(b.files[found[0]].clone()).unwrap()
}

/// The login window payload of the compiled profile, parsed.
fn login_window_payload(c: &Compiled) -> (String, plist::Dictionary) {
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
    let xml = emitted(c, "profiles/");
    let profile = plist::Value::from_reader_xml(xml.as_bytes())
        .unwrap()
        .into_dictionary()
        .unwrap();
    let payloads = profile["PayloadContent"].as_array().unwrap();
    assert_eq!(payloads.len(), 1);
    let payload = payloads[0].as_dictionary().unwrap().clone();
    (xml, payload)
}

#[test]
fn xml_injection_through_a_template_is_escaped() {
    let evil = "</string><key>PayloadType</key><string>com.apple.evil</string><string>";
    let (_, c) = with_template(&format!("\"{evil}\""), "\"{{ vars.ssid }}\"");
    let (xml, payload) = login_window_payload(&c);
    assert_eq!(payload["LoginwindowText"].as_string(), Some(evil));
    assert_eq!(
        payload["PayloadType"].as_string(),
        Some("com.apple.loginwindow")
    );
    // The profile's own PayloadType and the payload's: no third.
    assert_eq!(xml.matches("<key>PayloadType</key>").count(), 2, "{xml}");
    assert!(
        xml.contains("&lt;/string&gt;&lt;key&gt;PayloadType"),
        "{xml}"
    );
}

#[test]
fn yaml_injection_through_a_template_stays_one_value() {
    // Templates render after the YAML is parsed: the newline is text in one value.
    let (_, c) = with_template("\"corp\\nPayloadType: x\"", "\"{{ vars.ssid }}\"");
    let (_, payload) = login_window_payload(&c);
    assert_eq!(
        payload["LoginwindowText"].as_string(),
        Some("corp\nPayloadType: x")
    );
    assert_eq!(
        payload["PayloadType"].as_string(),
        Some("com.apple.loginwindow")
    );
}

#[test]
fn undefined_template_variables_are_errors_at_their_place() {
    let (files, c) = with_template("corp", "\"Hi {{ ssid }}\"");
    assert_eq!(
        located(&files, &c),
        [(
            "template-undefined",
            "profiles/lw.yaml:5:31".to_owned(),
            "ssid".to_owned()
        )]
    );
    assert_eq!(message(&c), "undefined template variable `ssid`");
    assert!(c.bundles.is_empty() || c.has_errors());
}

#[test]
fn template_dos_is_bounded() {
    // Repetition is not an operator of value templates (loops are not either).
    let (files, c) = with_template("corp", "\"{{ 'a' * 90000000 }}\"");
    assert_eq!(
        located(&files, &c),
        [(
            "template-unsupported",
            "profiles/lw.yaml:5:32".to_owned(),
            "*".to_owned()
        )]
    );
    // The output cap: 2 × 200 KB.
    let (files, c) = with_template(
        &format!("\"{}\"", "a".repeat(200_000)),
        "\"{{ vars.ssid }}{{ vars.ssid }}\"",
    );
    assert_eq!(
        located(&files, &c),
        [(
            "template-output",
            "profiles/lw.yaml:5:24".to_owned(),
            "\"{{ vars.ssid }}{{ vars.ssid }}\"".to_owned()
        )]
    );
    assert_eq!(message(&c), "template output is larger than 262144 bytes");
    // Fuel: many short expressions in one value.
    let tag = format!("{{{{ vars.ssid{} }}}}", "|trim".repeat(150));
    let (files, c) = with_template("corp", &format!("\"{}\"", tag.repeat(400)));
    let found = located(&files, &c);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].0, found[0].1.as_str(), message(&c)),
        (
            "template-fuel",
            // 327 expressions in: the 120th `trim` of the 327th.
            "profiles/lw.yaml:5:250023",
            "template did too much work (more than 50000 steps)"
        ),
        "{found:?}"
    );
    assert_eq!(found[0].2, "trim");
    // A long chain in one expression (which overflowed minijinja's code generator's stack).
    let (files, c) = with_template(
        "corp",
        &format!("\"{{{{ vars.ssid{} }}}}\"", "|trim".repeat(5_000)),
    );
    assert_eq!(
        located(&files, &c),
        [(
            "template-unsupported",
            "profiles/lw.yaml:5:25".to_owned(),
            "{{".to_owned()
        )]
    );
}

#[test]
fn xml_illegal_characters_are_errors_at_their_value() {
    // In a value, and in a variable a template brings into a profile.
    let (files, c) = items(&preference("      text: \"bell\\a\"\n"));
    assert_eq!(
        located(&files, &c),
        [(
            "xml-illegal-char",
            "policies/items/i.yaml:6:13".to_owned(),
            "\"bell\\a\"".to_owned()
        )]
    );
    assert_eq!(
        message(&c),
        "this text contains U+0007, which property lists cannot hold"
    );
    let (files, c) = with_template("\"bell\\a\"", "\"{{ vars.ssid }}\"");
    assert_eq!(
        located(&files, &c),
        [
            (
                "xml-illegal-char",
                "mmc.yaml:7:9".to_owned(),
                "\"bell\\a\"".to_owned()
            ),
            (
                "xml-illegal-char",
                "profiles/lw.yaml:5:24".to_owned(),
                "\"{{ vars.ssid }}\"".to_owned()
            )
        ]
    );
}
