use std::cmp::Ordering;

use proptest::prelude::*;

use super::*;

/// The 53 vectors of `tests/data/version_vectors.tsv` (Munki 7's column).
#[test]
fn version_vectors() {
    let text = include_str!("../tests/data/version_vectors.tsv");
    let mut count = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let fields: Vec<&str> = line.split('\t').collect();
        let (a, b, swift) = (fields[0], fields[1], fields[3]);
        let expected = match swift {
            "-1" => Ordering::Less,
            "0" => Ordering::Equal,
            "1" => Ordering::Greater,
            other => panic!("bad expectation {other:?} in {line:?}"),
        };
        assert_eq!(version::compare(a, b), expected, "compare({a:?}, {b:?})");
        assert_eq!(
            version::compare(b, a),
            expected.reverse(),
            "compare({b:?}, {a:?})"
        );
        count += 1;
    }
    assert_eq!(count, 53);
}

proptest! {
    #[test]
    fn comparison_is_antisymmetric(a in "[0-9a-zA-Z. +_-]{0,12}", b in "[0-9a-zA-Z. +_-]{0,12}") {
        prop_assert_eq!(version::compare(&a, &b), version::compare(&b, &a).reverse());
    }

    #[test]
    fn trailing_zeros_never_matter(a in "[0-9]{1,4}(\\.[0-9a-z]{1,3}){0,3}", zeros in 0usize..4) {
        let longer = format!("{a}{}", ".0".repeat(zeros));
        prop_assert_eq!(version::compare(&a, &longer), Ordering::Equal);
    }

    #[test]
    fn dotted_numbers_compare_like_tuples(a in proptest::collection::vec(0u32..1000, 1..5), b in proptest::collection::vec(0u32..1000, 1..5)) {
        let text = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
        let pad = |v: &[u32]| { let mut v = v.to_vec(); v.resize(5, 0); v };
        prop_assert_eq!(version::compare(&text(&a), &text(&b)), pad(&a).cmp(&pad(&b)));
    }
}

#[test]
fn modes() {
    assert_eq!(parse_mode("0644"), Some(0o644));
    assert_eq!(parse_mode("755"), Some(0o755));
    assert_eq!(parse_mode("04755"), Some(0o4755));
    for bad in ["", "0648", "644 ", "-1", "077777", "abc"] {
        assert_eq!(parse_mode(bad), None, "{bad}");
    }
}

fn sample() -> Config {
    let mut items = BTreeMap::new();
    items.insert(
        "Banner".to_owned(),
        Item::File(File {
            path: "/Library/Security/PolicyBanner.txt".to_owned(),
            content: "hi\n".to_owned(),
            mode: "0644".to_owned(),
            owner: "root".to_owned(),
            group: "wheel".to_owned(),
            meta: Meta::default(),
        }),
    );
    items.insert(
        "Firefox".to_owned(),
        Item::Package(Munki {
            version: "146.0.1".to_owned(),
            pkginfo: "munki/pkgsinfo/Firefox-146.0.1.plist".to_owned(),
        }),
    );
    Config {
        format: FORMAT,
        org: Org {
            name: "Example".to_owned(),
            identifier_prefix: "com.example".to_owned(),
        },
        bundle: BundleInfo {
            name: "stable".to_owned(),
            track: "stable".to_owned(),
            audience: "stable".to_owned(),
        },
        trusted_keys: vec![],
        items,
        manifests: BTreeMap::new(),
        munki_manifests: BTreeMap::new(),
        profiles: BTreeMap::new(),
        updates: Vec::new(),
    }
}

#[test]
fn config_round_trips() {
    let config = sample();
    let bytes = config.to_json();
    assert_eq!(Config::from_json(&bytes).unwrap(), config);
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("\"kind\": \"file\""), "{text}");
}

#[test]
fn other_layouts_and_unknown_fields_are_refused() {
    let mut value: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
    value["format"] = 1.into();
    let err = Config::from_json(value.to_string().as_bytes()).unwrap_err();
    assert!(err.contains("layout 1"), "{err}");

    let mut value: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
    value["items"]["Banner"]["checksum"] = "x".into();
    let err = Config::from_json(value.to_string().as_bytes()).unwrap_err();
    assert!(err.contains("checksum"), "{err}");

    let mut value: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
    value["items"]["Banner"]["kind"] = "kext".into();
    assert!(Config::from_json(value.to_string().as_bytes()).is_err());
}

#[test]
fn pkginfo_reads_munki_shapes() {
    let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>name</key><string>Foo</string>
<key>version</key><string>1.0</string>
<key>requires</key><string>Bar</string>
<key>update_for</key><array><string>Baz</string><string>Qux</string></array>
<key>OnDemand</key><true/>
<key>installs</key><array><dict><key>type</key><string>file</string><key>path</key><string>/x</string></dict></array>
<key>something_new</key><integer>3</integer>
</dict></plist>"#;
    let p = Pkginfo::from_plist(xml).unwrap();
    assert_eq!(p.requires, vec!["Bar"]);
    assert_eq!(p.update_for, vec!["Baz", "Qux"]);
    assert_eq!(p.on_demand, Some(true));
    assert_eq!(p.installs.unwrap().len(), 1);
    assert!(Pkginfo::from_plist(b"<plist><array/></plist>").is_err());
}

#[test]
fn update_policies_round_trip_and_stay_out_of_configs_without_them() {
    let mut config = sample();
    assert!(
        !String::from_utf8(config.to_json())
            .unwrap()
            .contains("updates")
    );
    config.updates.push(UpdatePolicy {
        name: "macos-15".into(),
        condition: Some("os_vers_major == 15".into()),
        require: Requirement::OsVersion {
            version: "15.2".into(),
        },
        deadline: None,
        max_deferral_secs: 259_200,
        reprompt_secs: 14_400,
        prompt_timeout_secs: 600,
        restart_delay_secs: 300,
        work_hours: Some(WorkHours { start: 9, end: 17 }),
        skip_deferral: false,
        notifier: Notifier {
            program: "/usr/local/bin/dialog".into(),
            args: vec!["--title".into(), "%TITLE%".into()],
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
    });
    let bytes = config.to_json();
    assert_eq!(Config::from_json(&bytes).unwrap(), config);
    assert!(
        String::from_utf8(bytes)
            .unwrap()
            .contains("\"kind\": \"os_version\"")
    );
}
