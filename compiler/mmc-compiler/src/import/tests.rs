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
    let xml = String::from_utf8(profile_xml("<key>PayloadEnabled</key><true/>"))
        .unwrap()
        .replace(
            "<key>PayloadVersion</key><integer>1</integer>\n</dict>",
            "<key>PayloadVersion</key><integer>1</integer>\n<key>PayloadEnabled</key><false/><key>MadeUpKey</key><string>x</string><key>TargetDeviceType</key><string>Mac</string><key>PayloadScope</key><string>user</string><key>PayloadOrganization</key><string>Org</string><key>PayloadUUID</key><string>not-a-uuid</string>\n</dict>",
        );
    let imported = import(xml.as_bytes(), &opts(true)).unwrap();
    let w = imported.warnings.join("\n");
    for needle in [
        "in.mobileconfig: `PayloadEnabled` dropped: it is not one of Apple's profile keys, and macOS ignores it (it was false)",
        "in.mobileconfig: `MadeUpKey` dropped: the policy format has no key for it",
        "in.mobileconfig: `TargetDeviceType` dropped: `Mac` is not an integer",
        "in.mobileconfig: `PayloadScope` `user` is written as `User`",
        "in.mobileconfig: `PayloadUUID` `not-a-uuid` is not a UUID",
    ] {
        assert!(w.contains(needle), "{needle} in\n{w}");
    }
    assert_eq!(imported.warnings.len(), 5, "{w}");
    // PayloadEnabled of a payload is a setting like any other, and not warned about.
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
        imported.yaml.contains("#   `MadeUpKey` dropped"),
        "{}",
        imported.yaml
    );
}

/// A profile with every profile-level key the policy format models besides the basics, and a
/// payload with its own organization.
fn profile_with_removal_and_consent(extra_top: &str) -> Vec<u8> {
    String::from_utf8(profile_xml(
        "<key>PayloadOrganization</key><string>Payload {{ Org }}</string>",
    ))
    .unwrap()
    .replace(
        "<key>PayloadVersion</key><integer>1</integer>\n</dict>",
        &format!(
            "<key>PayloadVersion</key><integer>1</integer>\n<key>ConsentText</key><dict><key>default</key><string>Agree?\nReally?</string><key>de</key><string>Einverstanden?</string><key>en-GB</key><string>{{{{ vars.who }}}}</string></dict><key>TargetDeviceType</key><integer>5</integer><key>HasRemovalPasscode</key><true/>{extra_top}\n</dict>"
        ),
    )
    .into_bytes()
}

#[test]
fn consent_removal_and_payload_organization_round_trip() {
    let xml = profile_with_removal_and_consent(
        "<key>RemovalDate</key><date>2027-02-28T23:59:59Z</date><key>PayloadExpirationDate</key><date>2026-12-31T00:00:00Z</date><key>DurationUntilRemoval</key><real>86400.5</real>",
    );
    let imported = import(&xml, &opts(true)).unwrap();
    // The profile has no PayloadOrganization of its own; nothing else is warned about.
    assert_eq!(
        imported.warnings,
        [
            "in.mobileconfig: `PayloadOrganization` missing; mmc writes the organization's name (`org.name` in mmc.yaml)"
        ]
    );
    for needle in [
        "consent_text:\n  default: |-\n    Agree?\n    Really?\n  de: Einverstanden?\n  en-GB: \"{% raw %}{{ vars.who }}{% endraw %}\"\n",
        "target_device_type: 5\n",
        "removal_date: 2027-02-28T23:59:59Z\n",
        "expiration_date: 2026-12-31T00:00:00Z\n",
        "duration_until_removal: 86400.5\n",
        "has_removal_passcode: true\n",
        "    organization: \"{% raw %}Payload {{ Org }}{% endraw %}\"\n",
    ] {
        assert!(
            imported.yaml.contains(needle),
            "{needle} in\n{}",
            imported.yaml
        );
    }
    let (problems, compiled) = compile_profile("p.yaml", &imported.yaml);
    assert_eq!(problems, Vec::<String>::new());
    let original = Pv::from_reader(std::io::Cursor::new(&xml)).unwrap();
    let mut want = original.as_dictionary().unwrap().clone();
    want.insert("PayloadScope".into(), Pv::String("System".into()));
    want.insert("PayloadOrganization".into(), Pv::String(ORG.into()));
    assert_eq!(sorted(&compiled.unwrap()), sorted(&Pv::Dictionary(want)));
}

#[test]
fn an_integer_duration_becomes_real_and_a_fraction_of_a_second_is_cut() {
    // A binary plist holds fractions of a second; an XML one does not.
    let xml =
        profile_with_removal_and_consent("<key>DurationUntilRemoval</key><integer>3600</integer>");
    let mut top = Pv::from_reader(std::io::Cursor::new(&xml))
        .unwrap()
        .into_dictionary()
        .unwrap();
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_800_000_000_250);
    top.insert("RemovalDate".into(), Pv::Date(when.into()));
    let mut binary = Vec::new();
    Pv::Dictionary(top).to_writer_binary(&mut binary).unwrap();
    let imported = import(&binary, &opts(true)).unwrap();
    let w = imported.warnings.join("\n");
    for needle in [
        "`DurationUntilRemoval` becomes a real number, the type Apple documents (it was an integer)",
        "RemovalDate: `date` loses its fraction of a second",
    ] {
        assert!(w.contains(needle), "{needle} in\n{w}");
    }
    assert!(
        imported
            .yaml
            .contains("removal_date: 2027-01-15T08:00:00Z\n"),
        "{}",
        imported.yaml
    );
    let (problems, compiled) = compile_profile("p.yaml", &imported.yaml);
    assert_eq!(problems, Vec::<String>::new());
    let compiled = compiled.unwrap();
    let top = compiled.as_dictionary().unwrap();
    assert_eq!(top["DurationUntilRemoval"], Pv::Real(3600.0));
    assert_eq!(
        top["RemovalDate"],
        Pv::Date(plist::Date::from_xml_format("2027-01-15T08:00:00Z").unwrap())
    );
}

#[test]
fn bad_removal_dates_device_types_and_durations_are_errors_at_their_text() {
    let yaml = "display_name: D\nremoval_date: \"2026-02-30T00:00:00Z\"\nexpiration_date: 2026-01-01\ntarget_device_type: 9\nduration_until_removal: -5\npayloads:\n  - type: com.example.d\n";
    let mut files = FileSet::new();
    files.insert("mmc.yaml", REPO);
    files.insert("profiles/d.yaml", yaml);
    let c = crate::compile(&files);
    let got: Vec<(String, String, String)> = c
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let label = &d.labels[0];
            (
                d.code.to_string(),
                yaml[label.span.clone()].to_owned(),
                format!("{} / {}", d.message, d.help.clone().unwrap_or_default()),
            )
        })
        .collect();
    let codes: Vec<(&str, &str)> = got
        .iter()
        .map(|(c, t, _)| (c.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        codes,
        [
            ("bad-date", "\"2026-02-30T00:00:00Z\""),
            ("bad-date", "2026-01-01"),
            ("bad-target-device-type", "9"),
            ("bad-duration", "-5"),
        ],
        "{got:#?}"
    );
    assert!(
        got[2].2.contains("0 (any), 1 (iPhone, iPad or iPod touch), 2 (Apple Watch), 3 (HomePod), 4 (Apple TV), 5 (Mac), 6 (Apple Vision Pro)"),
        "{}",
        got[2].2
    );
    assert!(
        c.bundles
            .iter()
            .all(|b| b.files.keys().all(|p| !p.ends_with(".mobileconfig")))
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

/// Corpus profiles that carry their payload's type as the profile's PayloadType (jamf's PPPC
/// Utility test files); mmc writes `Configuration`, the type of every profile.
const PAYLOAD_TYPE_ON_TOP: [&str; 2] = [
    "jamf__PPPC-Utility__TestTCCUnsignedProfile-Legacy.mobileconfig",
    "jamf__PPPC-Utility__TestTCCUnsignedProfile.mobileconfig",
];

/// The original with the only differences mmc is allowed to make applied; the compiled profile
/// must equal this exactly (up to key order).
fn as_mmc_writes(name: &str, original: &Pv, keep_uuids: bool) -> Pv {
    let mut top = original.as_dictionary().unwrap().clone();
    // Not one of Apple's profile keys (ProfileCreator adds it) and ignored by macOS: the import
    // drops it with a warning.
    top.remove("PayloadEnabled");
    // PayloadVersion is required and 1 is its only value: mmc writes it where a tool left it out.
    if !top.contains_key("PayloadVersion") {
        top.insert("PayloadVersion".into(), Pv::Integer(1.into()));
    }
    // PayloadScope: mmc always writes it, `System` by default, and spells it as Apple does.
    let scope = match top.get("PayloadScope").and_then(Pv::as_string) {
        Some(s) if s.eq_ignore_ascii_case("user") => "User",
        _ => "System",
    };
    top.insert("PayloadScope".into(), Pv::String(scope.into()));
    // PayloadOrganization: mmc always writes it, the org's name by default.
    if !top.contains_key("PayloadOrganization") {
        top.insert("PayloadOrganization".into(), Pv::String(ORG.into()));
    }
    // A payload's type on the profile (the PPPC Utility's test files) becomes `Configuration`.
    if PAYLOAD_TYPE_ON_TOP.contains(&name) {
        top.insert("PayloadType".into(), Pv::String("Configuration".into()));
    }
    // PayloadUUIDs: derived by mmc unless kept (and only UUIDs can be kept).
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
            if !d.contains_key("PayloadVersion") {
                d.insert("PayloadVersion".into(), Pv::Integer(1.into()));
            }
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
    let mut shared_identifier = Vec::new();
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
        if !keep_uuids {
            check_derived_uuids(&name, &original, &compiled, &mut shared_identifier);
        }
        let want = as_mmc_writes(&name, &original, keep_uuids);
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
    if !keep_uuids {
        // The corpus profiles with a payload that shares the profile's identifier: each got
        // distinct derived UUIDs (checked above).
        assert_eq!(
            shared_identifier,
            [
                "jamf__PPPC-Utility__TestTCCUnsignedProfile-Legacy.mobileconfig",
                "jamf__PPPC-Utility__TestTCCUnsignedProfile.mobileconfig",
                "microsoft__mdatp-xplat__com.microsoft.autoupdate2.mobileconfig",
                "microsoft__mdatp-xplat__device_control__com.microsoft.wdav.mobileconfig",
                "microsoft__shell-intune-samples__wallpaper.mobileconfig",
                "rtrouton__profiles__Disable_Mac_App_Store.mobileconfig",
            ]
        );
    }
}

/// With derived UUIDs, the profile and each payload get their own PayloadUUID, also where a
/// payload's identifier is the profile's; `shared` collects the files where one is.
fn check_derived_uuids(name: &str, original: &Pv, compiled: &Pv, shared: &mut Vec<String>) {
    let top = compiled.as_dictionary().unwrap();
    let identifier = top["PayloadIdentifier"].as_string().unwrap();
    let mut all = vec![top["PayloadUUID"].as_string().unwrap()];
    let mut shares = false;
    for p in top["PayloadContent"].as_array().unwrap() {
        let p = p.as_dictionary().unwrap();
        shares |= p["PayloadIdentifier"].as_string() == Some(identifier);
        all.push(p["PayloadUUID"].as_string().unwrap());
    }
    let distinct: std::collections::BTreeSet<&str> = all.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        all.len(),
        "{name}: a derived UUID is used twice: {all:?}"
    );
    let original_top = original.as_dictionary().unwrap();
    assert_eq!(
        original_top["PayloadIdentifier"].as_string(),
        Some(identifier),
        "{name}: the identifier changed"
    );
    if shares {
        shared.push(name.to_owned());
    }
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

// ---- import, then validate ----

/// A plist value as the policy format reads it, without spans (for the direct validator).
fn as_value(v: &Pv) -> crate::syntax::spanned::Sp<crate::syntax::spanned::Value> {
    use crate::syntax::spanned::{Sp, Value};
    let value = match v {
        Pv::Boolean(b) => Value::Bool(*b),
        Pv::Integer(i) => Value::Integer(i.as_signed().expect("the corpus has no huge integers")),
        Pv::Real(r) => Value::Real(*r),
        Pv::String(s) => Value::String(s.clone()),
        Pv::Data(d) => Value::Data(d.clone()),
        Pv::Date(d) => Value::Date(d.to_xml_format()),
        Pv::Array(a) => Value::Array(a.iter().map(as_value).collect()),
        Pv::Dictionary(d) => Value::Dict(
            d.iter()
                .map(|(k, v)| (Sp::new(k.clone(), 0..0), as_value(v)))
                .collect(),
        ),
        other => panic!("unexpected {other:?}"),
    };
    Sp::new(value, 0..0)
}

/// Every corpus profile imported, put in a repository and compiled: the payload validator's
/// findings (`profile-…`) with their places in the imported YAML, in one snapshot. They must be
/// the findings of the validator run directly on the original payloads (profiles/tests.rs,
/// `corpus_profiles`), finding for finding: an import that changed a value's type or lost a key
/// would show up here. Nothing else may be an error.
#[test]
fn every_corpus_profile_imports_and_validates_with_only_its_real_problems() {
    use crate::diag::Severity;
    let word = |s: Severity| match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    };
    let target = crate::profiles::Target::default();
    let mut out = String::new();
    let (mut files_seen, mut errors, mut mismatches) = (0, 0, Vec::new());
    for (name, bytes) in corpus() {
        let Ok(imported) = import(
            &bytes,
            &Options {
                source: &name,
                org_name: Some(ORG),
                keep_uuids: true,
            },
        ) else {
            assert!(NOT_IMPORTABLE.iter().any(|(n, _)| *n == name), "{name}");
            continue;
        };
        files_seen += 1;
        let path = format!("profiles/{}", imported.file_name);
        let mut files = FileSet::new();
        files.insert("mmc.yaml", REPO);
        files.insert(path.clone(), imported.yaml.as_str());
        let c = crate::compile(&files);
        let others: Vec<String> = c
            .diagnostics
            .iter()
            .filter(|d| d.is_error() && !d.code.starts_with("profile-"))
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect();
        assert!(others.is_empty(), "{name}: {others:?}");
        let mut via_import: Vec<(String, String)> = Vec::new();
        let mut lines = Vec::new();
        for d in c
            .diagnostics
            .iter()
            .filter(|d| d.code.starts_with("profile-"))
        {
            let label = &d.labels[0];
            assert_eq!(label.file, path, "{name}");
            let at = crate::source::line_col(&imported.yaml, label.span.start);
            if d.severity == Severity::Error {
                errors += 1;
            }
            lines.push(format!(
                "  {}:{}:{}: {} {}: {}",
                label.file,
                at.line,
                at.column,
                word(d.severity),
                d.code,
                d.message
            ));
            via_import.push((
                format!("{} {}", word(d.severity), d.code),
                d.message.clone(),
            ));
        }
        // The same payloads validated as the original has them.
        let original = Pv::from_reader(std::io::Cursor::new(&bytes)).unwrap();
        let mut direct: Vec<(String, String)> = Vec::new();
        for p in original.as_dictionary().unwrap()["PayloadContent"]
            .as_array()
            .unwrap()
        {
            let d = p.as_dictionary().unwrap();
            let ty = d["PayloadType"].as_string().unwrap();
            let settings = as_value(p);
            for f in crate::profiles::validate(
                &crate::syntax::spanned::Sp::new(ty.to_owned(), 0..0),
                Some(&settings),
                &target,
            ) {
                direct.push((format!("{} {}", word(f.severity), f.code), f.message));
            }
        }
        via_import.sort();
        direct.sort();
        if via_import != direct {
            mismatches.push(format!(
                "{name}:\n  via import: {via_import:#?}\n  direct: {direct:#?}"
            ));
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
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    let _ = writeln!(out, "\n{files_seen} files imported: {errors} errors");
    assert_eq!(files_seen, 73);
    // allowCloudBTMM (fleet misc), `IdentifierType: Path` (bitdefender), 6 × mount-controls
    // `alert` (disableExternalStorage), `com.apple.preferences.sharing.allowFullDiskAccess` and
    // `DisableLoginItemsSuppression` (rtrouton): docs/profiles.md explains each.
    assert_eq!(errors, 10, "{out}");
    insta::assert_snapshot!("corpus_import_then_validate", out);
}

/// Editors learn the keys the import writes from `mmc schema profile`.
#[test]
fn the_profile_schema_documents_the_keys_the_import_writes() {
    let s = serde_json::to_value(crate::schema::for_kind("profile").unwrap()).unwrap();
    let s = serde_json::to_string(&s).unwrap();
    let s: serde_json::Value = serde_json::from_str(&s).unwrap();
    let props = &s["properties"];
    for key in [
        "consent_text",
        "target_device_type",
        "removal_date",
        "duration_until_removal",
        "expiration_date",
        "has_removal_passcode",
    ] {
        assert!(
            props[key]["description"]
                .as_str()
                .is_some_and(|d| d.len() > 20),
            "{key}: {}",
            props[key]
        );
    }
    assert_eq!(props["target_device_type"]["minimum"], 0);
    assert_eq!(props["target_device_type"]["maximum"], 6);
    assert!(
        props["removal_date"]["pattern"].is_string(),
        "{}",
        props["removal_date"]
    );
    assert!(
        props["consent_text"]
            .to_string()
            .contains("additionalProperties"),
        "{}",
        props["consent_text"]
    );
    let payload = serde_json::to_string(&s["$defs"]["RawPayload"]).unwrap();
    assert!(
        payload.contains("PayloadOrganization of the payload"),
        "{payload}"
    );
}

#[test]
fn consent_texts_and_payload_organizations_are_templates() {
    let yaml = "display_name: D\nconsent_text:\n  default: \"{{ org.name }} asks {{ vars.who }}\"\n  fr: \"{{ vars.nope }}\"\npayloads:\n  - type: com.example.d\n    organization: \"{{ org.name }} IT\"\n";
    let mut files = FileSet::new();
    files.insert("mmc.yaml", REPO);
    files.insert("profiles/d.yaml", yaml);
    let c = crate::compile(&files);
    let errors: Vec<(&str, &str)> = c
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| (d.code, &yaml[d.labels[0].span.clone()]))
        .collect();
    // The undefined variable is reported inside the French text.
    assert_eq!(errors.len(), 1, "{:#?}", c.diagnostics);
    assert!(errors[0].1.contains("vars.nope"), "{errors:?}");
    let fixed = yaml.replace("{{ vars.nope }}", "Acceptez-vous ?");
    let (problems, compiled) = compile_profile("d.yaml", &fixed);
    assert_eq!(problems, Vec::<String>::new());
    let compiled = compiled.unwrap();
    let top = compiled.as_dictionary().unwrap();
    let consent = top["ConsentText"].as_dictionary().unwrap();
    assert_eq!(consent["default"], Pv::String("Org asks it".into()));
    assert_eq!(consent["fr"], Pv::String("Acceptez-vous ?".into()));
    let payload = top["PayloadContent"].as_array().unwrap()[0]
        .as_dictionary()
        .unwrap();
    assert_eq!(payload["PayloadOrganization"], Pv::String("Org IT".into()));
    // Keys not set are not written.
    for key in [
        "TargetDeviceType",
        "RemovalDate",
        "DurationUntilRemoval",
        "PayloadExpirationDate",
        "HasRemovalPasscode",
    ] {
        assert!(!top.contains_key(key), "{key}");
    }
}
