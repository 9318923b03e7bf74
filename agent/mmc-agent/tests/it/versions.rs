//! Munki 7's version comparison, end to end: for each of the 53 reference vectors (A, B), a Mac
//! has an app whose Info.plist says A, and the bundle's pkginfo wants B through an `installs`
//! item. `mmc-agent run --check` must plan an install exactly when A < B.

use std::collections::BTreeMap;
use std::fs;

use mmc_bundle::write_archive;
use mmc_config::{BundleInfo, Config, FORMAT, Item, Munki, Org};
use plist::{Dictionary, Value};
use serde_json::Value as Json;

use super::{Fixture, NOW, agent};

struct Vector {
    installed: String,
    wanted: String,
    /// Munki 7's sign of compare(installed, wanted).
    sign: i32,
}

fn vectors() -> Vec<Vector> {
    include_str!("../../../mmc-config/tests/data/version_vectors.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            Vector {
                installed: f[0].to_owned(),
                wanted: f[1].to_owned(),
                sign: f[3].parse().unwrap(),
            }
        })
        .collect()
}

fn dict(pairs: &[(&str, Value)]) -> Dictionary {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn xml(value: &Dictionary) -> Vec<u8> {
    let mut bytes = Vec::new();
    Value::Dictionary(value.clone())
        .to_writer_xml(&mut bytes)
        .unwrap();
    bytes
}

#[test]
fn the_53_version_vectors_decide_installs_through_the_agent() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 53);
    let root = tempfile::tempdir().unwrap();
    let mut files = BTreeMap::new();
    let mut items = BTreeMap::new();
    let mut names = Vec::new();
    for (n, v) in vectors.iter().enumerate() {
        let name = format!("Vector{n:02}");
        let app = format!("/Applications/{name}.app");
        // The Mac has version A…
        let info = root.path().join(&app[1..]).join("Contents/Info.plist");
        fs::create_dir_all(info.parent().unwrap()).unwrap();
        let installed = dict(&[
            (
                "CFBundleIdentifier",
                Value::from(format!("com.example.{name}")),
            ),
            (
                "CFBundleShortVersionString",
                Value::from(v.installed.clone()),
            ),
        ]);
        fs::write(&info, xml(&installed)).unwrap();
        // …and the pkginfo wants B.
        let installs = dict(&[
            ("type", Value::from("application")),
            ("path", Value::from(app)),
            ("CFBundleShortVersionString", Value::from(v.wanted.clone())),
        ]);
        let pkginfo = dict(&[
            ("name", Value::from(name.clone())),
            ("version", Value::from("1.0")),
            ("installs", Value::Array(vec![Value::Dictionary(installs)])),
        ]);
        let path = format!("munki/pkgsinfo/{name}-1.0.plist");
        files.insert(path.clone(), xml(&pkginfo));
        items.insert(
            name.clone(),
            Item::Package(Munki {
                version: "1.0".into(),
                pkginfo: path,
            }),
        );
        names.push(name);
    }
    let manifest = mmc_manifest::Manifest {
        lists: [("managed_installs".to_owned(), names.clone())].into(),
        ..Default::default()
    };
    let config = Config {
        format: FORMAT,
        org: Org {
            name: "Example".into(),
            identifier_prefix: "com.example".into(),
        },
        bundle: BundleInfo {
            name: "stable".into(),
            track: "stable".into(),
            audience: "com.example:stable".into(),
        },
        trusted_keys: vec![],
        items,
        manifests: [("site_default".to_owned(), manifest)].into(),
        munki_manifests: BTreeMap::new(),
        profiles: BTreeMap::new(),
        updates: Vec::new(),
    };
    files.insert("config.json".into(), config.to_json());
    let fixture = Fixture::with_archive(write_archive(&files).unwrap());
    let facts = root.path().join("facts.json");
    fs::write(&facts, r#"{"arch": "arm64", "os_vers": "15.1"}"#).unwrap();

    let output = agent(
        &[
            "run",
            "--check",
            "--format",
            "json",
            "--bundle",
            fixture.bundle.to_str().unwrap(),
            "--trust",
            fixture.trusted_pem.to_str().unwrap(),
            "--now",
            NOW,
            "--root",
            root.path().to_str().unwrap(),
            "--facts",
            facts.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Json = serde_json::from_slice(&output.stdout).unwrap();
    let results: BTreeMap<&str, (&str, &str)> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap(),
                (i["result"].as_str().unwrap(), i["reason"].as_str().unwrap()),
            )
        })
        .collect();
    for (name, v) in names.iter().zip(&vectors) {
        let (result, reason) = results[name.as_str()];
        let wanted = match v.sign {
            // An empty installed version is "not present" before any comparison (Munki's
            // rule), which means: install, whatever the comparison would say.
            _ if v.installed.is_empty() => ("planned", "not present"),
            -1 => ("planned", "older"),
            0 => ("unchanged", "current"),
            _ => ("unchanged", "newer"),
        };
        assert_eq!(
            result, wanted.0,
            "installed {:?}, wanted {:?}: {reason}",
            v.installed, v.wanted
        );
        assert!(
            reason.contains(wanted.1),
            "installed {:?}, wanted {:?}: {reason:?} should say {:?}",
            v.installed,
            v.wanted,
            wanted.1
        );
    }
    // Nothing was written: --check.
    assert!(!root.path().join("Library").exists());
}
