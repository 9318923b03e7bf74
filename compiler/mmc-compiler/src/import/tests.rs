//! `mmc import`: the YAML reads back as the same text and values, and every corpus profile
//! compiles back to the profile it came from.

use std::collections::BTreeMap;
use std::path::PathBuf;

use plist::Value as Pv;

use super::*;
use crate::source::FileSet;

const ORG: &str = "Org";
const REPO: &str = "mmc_version: 1\norg: {name: Org, identifier_prefix: com.example}\ntracks: [stable]\nbundles:\n  - {name: stable, track: stable}\nvars: {who: it}\n";

fn opts(keep_uuids: bool) -> Options<'static> {
    Options {
        source: "in.mobileconfig",
        org_name: Some(ORG),
        keep_uuids,
    }
}

/// Compiles `yaml` as `profiles/NAME` in a one-bundle repository: the diagnostics' codes and the
/// emitted `.mobileconfig`, parsed.
fn compile_profile(name: &str, yaml: &str) -> (Vec<String>, Option<Pv>) {
    let mut files = FileSet::new();
    files.insert("mmc.yaml", REPO);
    files.insert(format!("profiles/{name}"), yaml);
    let c = crate::compile(&files);
    // The payload validator's findings (`profile-…`) are about the content, which the import
    // keeps as it is (an undocumented key stays undocumented): not the import's to fix.
    let problems = c
        .diagnostics
        .iter()
        .filter(|d| d.is_error() && !d.code.starts_with("profile-"))
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    let profile = c.bundles.first().and_then(|b| {
        let (_, bytes) = b
            .files
            .iter()
            .find(|(p, _)| p.starts_with("profiles/") && p.ends_with(".mobileconfig"))?;
        Some(Pv::from_reader(std::io::Cursor::new(bytes)).expect("mmc writes plists"))
    });
    (problems, profile)
}

/// A profile around `settings` (a plist dictionary body), as an admin's tool would write it.
fn profile_xml(settings: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>PayloadContent</key>
  <array>
    <dict>
      <key>PayloadType</key><string>com.example.test</string>
      <key>PayloadIdentifier</key><string>com.example.p.test</string>
      <key>PayloadUUID</key><string>11111111-2222-3333-4444-555555555555</string>
      <key>PayloadVersion</key><integer>1</integer>
      {settings}
    </dict>
  </array>
  <key>PayloadDisplayName</key><string>Test</string>
  <key>PayloadIdentifier</key><string>com.example.p</string>
  <key>PayloadType</key><string>Configuration</string>
  <key>PayloadUUID</key><string>AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE</string>
  <key>PayloadVersion</key><integer>1</integer>
</dict>
</plist>
"#
    )
    .into_bytes()
}

/// The settings of the first payload of `p`, without the keys mmc writes.
fn settings_of(p: &Pv) -> plist::Dictionary {
    let payload = p.as_dictionary().unwrap()["PayloadContent"]
        .as_array()
        .unwrap()[0]
        .as_dictionary()
        .unwrap()
        .clone();
    payload
        .into_iter()
        .filter(|(k, _)| !PAYLOAD_MODELLED.contains(&k.as_str()))
        .collect()
}

#[test]
fn awkward_strings_read_back_exactly() {
    let strings = [
        "",
        " leading",
        "trailing ",
        "yes",
        "No",
        "ON",
        "y",
        "null",
        "~",
        "true",
        "1.10",
        "0644",
        "12",
        "-3",
        "1e5",
        ".inf",
        "NaN",
        "a: b",
        "a:b",
        "http://x/y?z=1&w",
        "# not a comment",
        "a #b",
        "- item",
        "? key",
        "@at",
        "`tick`",
        "\"quoted\"",
        "'single'",
        "back\\slash",
        "tab\there",
        "multi\nline",
        "multi\nline\n",
        "two trailing\n\n",
        "\nleading newline",
        "  indented\nfirst",
        "x\n  indented second\n",
        "blank\n\nmiddle",
        "spaces only\n   \nline",
        "crlf\r\nline",
        "{{ vars.who }}",
        "{% if x %}y{% endif %}",
        "{# c #}",
        "a {{ b",
        "}}",
        "{% raw %}{{ x }}{% endraw %}",
        "tr\u{e8}s \u{fc}ber \u{65e5}\u{672c}",
        "\u{2028}sep",
        "\u{a0}nbsp",
        "[flow]",
        "{flow: map}",
        "*alias",
        "&anchor",
        "!tag",
        "%directive",
        "|",
        ">",
        "key:",
        "Infinity",
        "0x1F",
        "2024-01-01",
        "12:30",
        "_under",
        "/abs/path",
    ];
    let settings: String = strings
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let esc = s
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            format!("<key>k{i:02}</key><string>{esc}</string>\n")
        })
        .collect();
    let imported = import(&profile_xml(&settings), &opts(false)).unwrap();
    let (problems, profile) = compile_profile("p.yaml", &imported.yaml);
    assert!(problems.is_empty(), "{problems:?}\n{}", imported.yaml);
    let got = settings_of(&profile.unwrap());
    for (i, s) in strings.iter().enumerate() {
        assert_eq!(
            got[&format!("k{i:02}")].as_string(),
            Some(*s),
            "string {i} {s:?} in\n{}",
            imported.yaml
        );
    }
}

#[test]
fn awkward_keys_and_values_of_every_type_read_back() {
    let settings = r#"
      <key>yes</key><true/>
      <key>1.10</key><false/>
      <key>key: with colon</key><integer>-9223372036854775808</integer>
      <key>big</key><integer>9223372036854775807</integer>
      <key>real</key><real>5</real>
      <key>tiny</key><real>1e-7</real>
      <key>neg</key><real>-0.5</real>
      <key>empty dict</key><dict/>
      <key>empty list</key><array/>
      <key>short data</key><data>aGVsbG8=</data>
      <key>no data</key><data></data>
      <key>long data</key><data>AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn8=</data>
      <key>when</key><date>2024-02-29T23:59:59Z</date>
      <key>nested</key>
      <array>
        <array><string>a</string><array><integer>1</integer></array></array>
        <dict><key>inner</key><dict><key>deep</key><array><dict><key>x</key><string>multi
line</string></dict></array></dict><key>second</key><integer>2</integer></dict>
        <data>AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn8=</data>
        <date>2001-01-01T00:00:00Z</date>
        <string>text
with lines
</string>
        <dict/>
        <array/>
      </array>
    "#;
    let original = Pv::from_reader(std::io::Cursor::new(profile_xml(settings))).unwrap();
    let imported = import(&profile_xml(settings), &opts(true)).unwrap();
    assert_eq!(
        imported.warnings,
        [
            "in.mobileconfig: `PayloadOrganization` missing; mmc writes the organization's name (`org.name` in mmc.yaml)"
        ]
    );
    assert!(
        imported.yaml.contains("real: 5.0\n")
            && imported.yaml.contains("short data: {$data: aGVsbG8=}\n"),
        "{}",
        imported.yaml
    );
    let (problems, profile) = compile_profile("p.yaml", &imported.yaml);
    assert!(problems.is_empty(), "{problems:?}\n{}", imported.yaml);
    assert_eq!(
        sorted(&Pv::Dictionary(settings_of(&profile.unwrap()))),
        sorted(&Pv::Dictionary(settings_of(&original))),
        "{}",
        imported.yaml
    );
}

#[test]
fn what_cannot_be_written_is_an_error_naming_the_key() {
    let e = import(
        &profile_xml("<key>outer</key><dict><key>$data</key><string>x</string></dict>"),
        &opts(false),
    )
    .unwrap_err();
    assert!(e.message.contains("`outer` → `$data`"), "{e}");
    let e = import(
        &profile_xml("<key>n</key><array><integer>18446744073709551615</integer></array>"),
        &opts(false),
    )
    .unwrap_err();
    assert!(
        e.message.contains("`n` → [1]") && e.message.contains("larger"),
        "{e}"
    );
    let e = import(b"not a plist", &opts(false)).unwrap_err();
    assert!(e.message.contains("not a property list"), "{e}");
    // A payload on its own (a plist with a PayloadType but no payload list) is not a profile.
    let e = import(
        br#"<plist version="1.0"><dict><key>PayloadType</key><string>com.apple.wifi.managed</string></dict></plist>"#,
        &opts(false),
    )
    .unwrap_err();
    assert!(e.message.contains("not a configuration profile"), "{e}");
}

#[test]
fn dropped_and_changed_keys_are_warned_about_and_listed_in_the_file() {
    let xml = String::from_utf8(profile_xml(
        "<key>PayloadOrganization</key><string>Payload Org</string><key>PayloadEnabled</key><true/>",
    ))
    .unwrap()
    .replace(
        "<key>PayloadVersion</key><integer>1</integer>\n</dict>",
        "<key>PayloadVersion</key><integer>1</integer>\n<key>ConsentText</key><dict><key>default</key><string>Agree?</string></dict><key>PayloadScope</key><string>user</string><key>PayloadOrganization</key><string>Org</string><key>PayloadUUID</key><string>not-a-uuid</string>\n</dict>",
    );
    let imported = import(xml.as_bytes(), &opts(true)).unwrap();
    let w = imported.warnings.join("\n");
    for needle in [
        "in.mobileconfig: `ConsentText` dropped",
        "in.mobileconfig: `PayloadScope` `user` is written as `User`",
        "in.mobileconfig: payload 1 (com.example.test): `PayloadOrganization` dropped",
        "in.mobileconfig: `PayloadUUID` `not-a-uuid` is not a UUID",
    ] {
        assert!(w.contains(needle), "{needle} in\n{w}");
    }
    // PayloadEnabled of a payload is a setting like any other, and not warned about.
    assert!(!w.contains("PayloadEnabled"), "{w}");
    assert!(
        imported.yaml.contains("      PayloadEnabled: true\n"),
        "{}",
        imported.yaml
    );
    // The repository's own organization is the default, so it is not written.
    assert!(
        !imported.yaml.contains("organization:"),
        "{}",
        imported.yaml
    );
    assert!(imported.yaml.contains("scope: User\n"), "{}", imported.yaml);
    assert!(
        imported.yaml.contains("#   `ConsentText` dropped"),
        "{}",
        imported.yaml
    );
}

#[test]
fn an_identifier_mmc_refuses_is_kept_and_warned_about() {
    let xml = String::from_utf8(profile_xml(""))
        .unwrap()
        .replace(">com.example.p<", ">com.example.my profile<");
    let imported = import(xml.as_bytes(), &opts(false)).unwrap();
    assert!(
        imported
            .yaml
            .contains("identifier: com.example.my profile\n")
    );
    assert!(
        imported
            .warnings
            .iter()
            .any(|w| w.contains("`PayloadIdentifier` is kept, but")),
        "{:?}",
        imported.warnings
    );
    let (problems, _) = compile_profile("p.yaml", &imported.yaml);
    assert!(
        problems.iter().any(|p| p.starts_with("bad-name:")),
        "{problems:?}"
    );
}

#[test]
fn file_names_come_from_the_identifier_or_the_input() {
    for (identifier, source, want) in [
        (
            "com.example.screensaver",
            "x/a.mobileconfig",
            "screensaver.yaml",
        ),
        ("com.github.macadmins.Nudge", "n.mobileconfig", "Nudge.yaml"),
        (
            "com.fleetdm.F302AA03-F873-4249-A1C3-7BD94B9B855F",
            "dir/fleet firewall.mobileconfig",
            "fleet_firewall.yaml",
        ),
        (
            "5989EA74-04C6-4116-93BB-EEF82DE44AC6",
            "Disable Media.mobileconfig",
            "Disable_Media.yaml",
        ),
        ("com.example.x1", "../..mobileconfig", "x1.yaml"),
        ("com.example.wi fi/x", "p.mobileconfig", "wi_fi_x.yaml"),
        ("com.example.../etc", "p.mobileconfig", "_etc.yaml"),
        ("com.example.a/b", "p.mobileconfig", "p.yaml"),
        ("com.example.7", ".mobileconfig", "7.yaml"),
        ("com.example.-", ".mobileconfig", "profile.yaml"),
    ] {
        assert_eq!(file_name(identifier, source), want, "{identifier} {source}");
    }
}

/// DER: tag, length, contents.
fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = contents.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// A CMS SignedData shell around `content` (no real signer: only the structure matters here).
fn signed(content: &[u8], pieces: bool) -> Vec<u8> {
    let signed_data_oid = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    let data_oid = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
    let octets = if pieces {
        let (a, b) = content.split_at(content.len() / 2);
        tlv(0x24, &[tlv(0x04, a), tlv(0x04, b)].concat())
    } else {
        tlv(0x04, content)
    };
    let encap = tlv(0x30, &[tlv(0x06, &data_oid), tlv(0xa0, &octets)].concat());
    let signed_data = tlv(
        0x30,
        &[tlv(0x02, &[1]), tlv(0x31, &[]), encap, tlv(0x31, &[])].concat(),
    );
    tlv(
        0x30,
        &[tlv(0x06, &signed_data_oid), tlv(0xa0, &signed_data)].concat(),
    )
}

#[test]
fn signed_profiles_are_unwrapped_and_the_signature_is_reported_dropped() {
    let plain = import(&profile_xml(""), &opts(false)).unwrap();
    for pieces in [false, true] {
        let got = import(&signed(&profile_xml(""), pieces), &opts(false)).unwrap();
        let without: Vec<&str> = got
            .yaml
            .lines()
            .filter(|l| !l.contains("`signature`"))
            .collect();
        assert_eq!(without, plain.yaml.lines().collect::<Vec<_>>());
        assert_eq!(
            got.warnings.len(),
            plain.warnings.len() + 1,
            "{:?}",
            got.warnings
        );
        assert!(got.warnings[0].contains("signature is dropped"));
    }
    // Not the expected structure: the XML is found by its markers.
    let mut odd = vec![0x30, 0x80, 0x01, 0x02];
    odd.extend(profile_xml(""));
    odd.extend([0, 0, 0xff]);
    let got = import(&odd, &opts(false)).unwrap();
    assert!(got.warnings[0].contains("signature is dropped"));
    // A binary plist is read as it is.
    let mut bin = Vec::new();
    Pv::from_reader(std::io::Cursor::new(profile_xml("")))
        .unwrap()
        .to_writer_binary(&mut bin)
        .unwrap();
    assert_eq!(import(&bin, &opts(false)).unwrap(), plain);
}

#[test]
fn data_and_date_settings_compile_to_plist_data_and_dates() {
    let yaml = "display_name: D\npayloads:\n  - type: com.example.d\n    settings:\n      Cert:\n        $data: |\n          aGVs\n          bG8=\n      When: {$date: 2030-06-01T12:00:00Z}\n      List: [{$data: AA==}]\n";
    let (problems, profile) = compile_profile("d.yaml", yaml);
    assert!(problems.is_empty(), "{problems:?}");
    let s = settings_of(&profile.unwrap());
    assert_eq!(s["Cert"].as_data(), Some(b"hello".as_slice()));
    assert_eq!(
        s["When"].as_date().map(|d| d.to_xml_format()),
        Some("2030-06-01T12:00:00Z".to_owned())
    );
    assert_eq!(
        s["List"].as_array().unwrap()[0].as_data(),
        Some([0u8].as_slice())
    );
}

#[test]
fn kept_uuids_are_checked_and_used() {
    let base = "display_name: D\nuuid: 0e4a2c5b-6f1d-4e8a-9b3c-2d7f1a6e5c90\npayloads:\n  - type: com.example.d\n    uuid: 0E4A2C5B-6F1D-4E8A-9B3C-2D7F1A6E5C91\n  - type: com.example.e\n    uuid: 12345678-1234-1234-1234-123456789012\n";
    let (problems, profile) = compile_profile("d.yaml", base);
    assert!(problems.is_empty(), "{problems:?}");
    let p = profile.unwrap();
    let d = p.as_dictionary().unwrap();
    assert_eq!(
        d["PayloadUUID"].as_string(),
        Some("0e4a2c5b-6f1d-4e8a-9b3c-2d7f1a6e5c90"),
        "kept as written, lower case included"
    );
    assert_eq!(
        d["PayloadContent"].as_array().unwrap()[0]
            .as_dictionary()
            .unwrap()["PayloadUUID"]
            .as_string(),
        Some("0E4A2C5B-6F1D-4E8A-9B3C-2D7F1A6E5C91")
    );
    assert_eq!(
        d["PayloadContent"].as_array().unwrap()[1]
            .as_dictionary()
            .unwrap()["PayloadUUID"]
            .as_string(),
        Some("12345678-1234-1234-1234-123456789012"),
        "a UUID of digits only is still text"
    );
    let (problems, _) = compile_profile(
        "d.yaml",
        &base.replace(
            "0E4A2C5B-6F1D-4E8A-9B3C-2D7F1A6E5C91",
            "0E4A2C5B-6F1D-4E8A-9B3C-2D7F1A6E5C9",
        ),
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("bad-uuid:"), "{problems:?}");
    let (problems, _) = compile_profile(
        "d.yaml",
        &base.replace(
            "0E4A2C5B-6F1D-4E8A-9B3C-2D7F1A6E5C91",
            "0E4A2C5B-6F1D-4E8A-9B3C-2D7F1A6E5C90",
        ),
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("duplicate-uuid:"), "{problems:?}");
}

// ---- the corpus ----

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/corpus-profiles")
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir())
        .expect("testdata/corpus-profiles")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mobileconfig"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(out.len() >= 70, "the corpus is missing: {}", out.len());
    out
}

/// Corpus profiles that cannot be imported, and why (checked: each must fail with this reason).
const NOT_IMPORTABLE: [(&str, &str); 1] = [(
    "microsoft__mdatp-xplat__template.mobileconfig",
    // An empty shell meant to be filled in; mmc refuses a profile without payloads.
    "no payloads",
)];

/// Corpus profiles whose kept PayloadUUIDs are not UUIDs, so mmc derives them instead.
const NOT_UUIDS: [&str; 3] = [
    "F4B204F7-AA5C-4904-8F0F-E7149501F6023",
    "io.kandji.forticlient.E23F522E-D2FF-49CE-8C9C-F1B2DB821C65",
    "81927370-ef798a72-978d-4ffc-81a3-88ba36f52585",
];

/// Dictionary keys sorted at every level, so comparisons ignore key order and failures read well.
fn sorted(v: &Pv) -> Pv {
    match v {
        Pv::Dictionary(d) => {
            let m: BTreeMap<&String, Pv> = d.iter().map(|(k, v)| (k, sorted(v))).collect();
            Pv::Dictionary(m.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Pv::Array(a) => Pv::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The original as mmc writes it back: what the import warnings say was dropped or changed, and
/// the keys mmc always writes (PayloadVersion 1, PayloadScope, PayloadOrganization), applied.
fn as_mmc_writes(original: &Pv, keep_uuids: bool) -> Pv {
    let mut top = original.as_dictionary().unwrap().clone();
    top.retain(|k, _| TOP_MODELLED.contains(&k.as_str()));
    top.insert("PayloadVersion".into(), Pv::Integer(1.into()));
    top.insert("PayloadType".into(), Pv::String("Configuration".into()));
    let scope = match top.get("PayloadScope").and_then(Pv::as_string) {
        Some(s) if s.eq_ignore_ascii_case("user") => "User",
        _ => "System",
    };
    top.insert("PayloadScope".into(), Pv::String(scope.into()));
    if !top.contains_key("PayloadOrganization") {
        top.insert("PayloadOrganization".into(), Pv::String(ORG.into()));
    }
    let uuid_kept = |d: &mut plist::Dictionary| {
        let keep = keep_uuids
            && d.get("PayloadUUID")
                .and_then(Pv::as_string)
                .is_some_and(is_uuid);
        if !keep {
            d.remove("PayloadUUID");
        }
    };
    uuid_kept(&mut top);
    if let Some(Pv::Array(payloads)) = top.get_mut("PayloadContent") {
        for p in payloads.iter_mut() {
            let d = p.as_dictionary_mut().unwrap();
            d.remove("PayloadOrganization");
            d.insert("PayloadVersion".into(), Pv::Integer(1.into()));
            uuid_kept(d);
        }
    }
    sorted(&Pv::Dictionary(top))
}

/// What mmc compiled, with the UUIDs it derived removed (they cannot equal the original's).
fn as_compiled(compiled: &Pv, original: &Pv, keep_uuids: bool) -> Pv {
    let mut top = compiled.as_dictionary().unwrap().clone();
    let orig = original.as_dictionary().unwrap();
    let derived = |d: &mut plist::Dictionary, o: Option<&plist::Dictionary>| {
        let kept = keep_uuids
            && o.and_then(|o| o.get("PayloadUUID"))
                .and_then(Pv::as_string)
                .is_some_and(is_uuid);
        if !kept {
            d.remove("PayloadUUID");
        }
    };
    derived(&mut top, Some(orig));
    let originals = orig["PayloadContent"].as_array().unwrap();
    if let Some(Pv::Array(payloads)) = top.get_mut("PayloadContent") {
        for (i, p) in payloads.iter_mut().enumerate() {
            derived(
                p.as_dictionary_mut().unwrap(),
                originals.get(i).and_then(Pv::as_dictionary),
            );
        }
    }
    sorted(&Pv::Dictionary(top))
}

fn round_trip(keep_uuids: bool) {
    let mut failures = Vec::new();
    let mut imported_count = 0;
    for (name, bytes) in corpus() {
        let options = Options {
            source: &name,
            org_name: Some(ORG),
            keep_uuids,
        };
        let result = import(&bytes, &options);
        if let Some((_, reason)) = NOT_IMPORTABLE.iter().find(|(n, _)| *n == name) {
            match result {
                Err(e) if e.message.contains(reason) => continue,
                other => {
                    failures.push(format!(
                        "{name}: expected to fail with `{reason}`, got {other:?}"
                    ));
                    continue;
                }
            }
        }
        let imported = match result {
            Ok(i) => i,
            Err(e) => {
                failures.push(format!("{e}"));
                continue;
            }
        };
        imported_count += 1;
        let original = Pv::from_reader(std::io::Cursor::new(&bytes)).unwrap();
        // Every dropped top-level key is named in a warning.
        for key in original.as_dictionary().unwrap().keys() {
            if !TOP_MODELLED.contains(&key.as_str()) {
                assert!(
                    imported
                        .warnings
                        .iter()
                        .any(|w| w.contains(&format!("`{key}` dropped"))),
                    "{name}: `{key}` dropped silently: {:?}",
                    imported.warnings
                );
            }
        }
        let (problems, compiled) = compile_profile(&imported.file_name, &imported.yaml);
        let Some(compiled) = compiled.filter(|_| problems.is_empty()) else {
            failures.push(format!(
                "{name}: does not compile: {problems:?}\n{}",
                imported.yaml
            ));
            continue;
        };
        let want = as_mmc_writes(&original, keep_uuids);
        let got = as_compiled(&compiled, &original, keep_uuids);
        if want != got {
            failures.push(format!(
                "{name}: differs\n--- original, as mmc writes it\n{want:#?}\n--- compiled\n{got:#?}\n{}",
                imported.yaml
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(imported_count >= 70, "{imported_count}");
}

#[test]
fn every_corpus_profile_round_trips_with_derived_uuids() {
    round_trip(false);
}

#[test]
fn every_corpus_profile_round_trips_with_kept_uuids() {
    round_trip(true);
}

#[test]
fn kept_uuids_are_the_originals_except_where_they_are_not_uuids() {
    let mut not_uuids = Vec::new();
    for (name, bytes) in corpus() {
        let Ok(imported) = import(
            &bytes,
            &Options {
                source: &name,
                org_name: Some(ORG),
                keep_uuids: true,
            },
        ) else {
            continue;
        };
        let original = Pv::from_reader(std::io::Cursor::new(&bytes)).unwrap();
        let d = original.as_dictionary().unwrap();
        let mut uuids = vec![d["PayloadUUID"].as_string().unwrap().to_owned()];
        for p in d["PayloadContent"].as_array().unwrap() {
            uuids.push(
                p.as_dictionary().unwrap()["PayloadUUID"]
                    .as_string()
                    .unwrap()
                    .to_owned(),
            );
        }
        for u in uuids {
            if is_uuid(&u) {
                assert!(
                    imported.yaml.contains(&format!("uuid: {u}\n"))
                        || imported.yaml.contains(&format!("uuid: \"{u}\"\n")),
                    "{name}: {u}"
                );
            } else {
                assert!(
                    imported.warnings.iter().any(|w| w.contains(&u)),
                    "{name}: {u}"
                );
                not_uuids.push(u);
            }
        }
    }
    not_uuids.sort();
    let mut want = NOT_UUIDS.to_vec();
    want.sort();
    assert_eq!(not_uuids, want);
}

#[test]
fn representative_imports() {
    for (name, snapshot) in [
        (
            "kandji-inc__support__custom_wifi_scep_certchain_example.mobileconfig",
            "wifi_with_data",
        ),
        ("microsoft__mdatp-xplat__fulldisk.mobileconfig", "pppc"),
        (
            "microsoft__shell-intune-samples__Google_Chrome_-_Managed_Bookmarks.mobileconfig",
            "nested",
        ),
        (
            "macadmins__nudge__com.github.macadmins.Nudge.mobileconfig",
            "nudge",
        ),
    ] {
        let bytes = std::fs::read(corpus_dir().join(name)).unwrap();
        let imported = import(
            &bytes,
            &Options {
                source: name,
                org_name: Some(ORG),
                keep_uuids: true,
            },
        )
        .unwrap();
        insta::assert_snapshot!(
            snapshot,
            format!("file: {}\n{}", imported.file_name, imported.yaml)
        );
    }
}

// ---- stability: rebuilds and edits ----

/// Every `.mobileconfig` a compile of `profiles/NAME` emits, by path.
fn emitted(name: &str, yaml: &str) -> BTreeMap<String, Vec<u8>> {
    let mut files = FileSet::new();
    files.insert("mmc.yaml", REPO);
    files.insert(format!("profiles/{name}"), yaml);
    let c = crate::compile(&files);
    c.bundles[0]
        .files
        .iter()
        .filter(|(p, _)| p.ends_with(".mobileconfig"))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect()
}

/// The profile's PayloadUUID and its payloads' PayloadUUIDs, in order.
fn uuids(bytes: &[u8]) -> Vec<String> {
    let p = Pv::from_reader(std::io::Cursor::new(bytes)).unwrap();
    let d = p.as_dictionary().unwrap();
    let mut out = vec![d["PayloadUUID"].as_string().unwrap().to_owned()];
    for q in d["PayloadContent"].as_array().unwrap() {
        out.push(
            q.as_dictionary().unwrap()["PayloadUUID"]
                .as_string()
                .unwrap()
                .to_owned(),
        );
    }
    out
}

#[test]
fn rebuilds_are_byte_identical_and_edits_keep_the_derived_uuids() {
    let mut edited = 0;
    for (name, bytes) in corpus() {
        let Ok(imported) = import(
            &bytes,
            &Options {
                source: &name,
                org_name: Some(ORG),
                keep_uuids: false,
            },
        ) else {
            continue;
        };
        let first = emitted(&imported.file_name, &imported.yaml);
        assert_eq!(first.len(), 1, "{name}");
        assert_eq!(
            first,
            emitted(&imported.file_name, &imported.yaml),
            "{name}: a rebuild differs"
        );
        // An edit of a setting and of the display name: new bytes, same identity.
        let Some(at) = imported.yaml.find("    settings:\n") else {
            continue;
        };
        let mut yaml = imported.yaml.clone();
        yaml.insert_str(
            at + "    settings:\n".len(),
            "      MmcStabilityProbe: 42\n",
        );
        let yaml = yaml.replacen("\ndisplay_name: ", "\ndisplay_name: Edited ", 1);
        let second = emitted(&imported.file_name, &yaml);
        let (path, before) = first.iter().next().unwrap();
        let after = &second[path];
        assert_ne!(before, after, "{name}: the edit changed nothing");
        assert!(
            String::from_utf8_lossy(after).contains("<key>MmcStabilityProbe</key>"),
            "{name}"
        );
        assert_eq!(
            uuids(before),
            uuids(after),
            "{name}: an edit changed a PayloadUUID"
        );
        edited += 1;
    }
    assert!(edited >= 60, "{edited}");
}

#[test]
fn a_new_identifier_is_a_new_uuid() {
    let yaml = "identifier: com.example.one\ndisplay_name: D\npayloads:\n  - type: com.example.d\n    identifier: com.example.one.d\n";
    let one = emitted("d.yaml", yaml);
    let two = emitted(
        "d.yaml",
        &yaml.replace("com.example.one.d", "com.example.two.d"),
    );
    let (a, b) = (
        uuids(one.values().next().unwrap()),
        uuids(two.values().next().unwrap()),
    );
    assert_eq!(a[0], b[0], "the profile kept its identifier");
    assert_ne!(a[1], b[1], "the payload did not");
}
