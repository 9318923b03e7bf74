//! Configuration profiles through the agent and the `profiles` fake, which installs on macOS
//! 10.15 and refuses from macOS 11 on, as the real tool does: `run` installs, reinstalls and
//! removes on 10.15 (only what it installed itself), reports `needs_mdm` on macOS 14 without
//! failing and without ever calling `profiles -I`, `--check` changes nothing, and the
//! `mmc-agent profiles` commands.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mmc_bundle::{
    ArchiveRef, FORMAT_VERSION, SigningKey, Statement, key_id, public_key_to_pem, sign,
    write_archive,
};
use mmc_config::{BundleInfo, Config, FORMAT, Manifest, Org, ProfileRef};
use plist::{Dictionary, Value};
use serde_json::Value as Json;

use super::NOW;

const FAKE_PROFILES: &str = "var/db/mmc-fakes/profiles";
const STATE: &str = "Library/Application Support/mmc/state.json";

fn fakes() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fakes")
        .canonicalize()
        .unwrap()
}

/// A `.mobileconfig` as mmc writes one: one payload of `payload_type` with `settings`.
fn mobileconfig(id: &str, payload_type: &str, settings: &[(&str, Value)]) -> Vec<u8> {
    let mut payload: Dictionary = settings
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    payload.insert(
        "PayloadIdentifier".into(),
        format!("{id}.{payload_type}").into(),
    );
    payload.insert("PayloadType".into(), payload_type.into());
    payload.insert(
        "PayloadUUID".into(),
        "0E4A2C5B-6F1D-4E8A-9B3C-2D7F1A6E5C90".into(),
    );
    payload.insert("PayloadVersion".into(), Value::Integer(1.into()));
    let mut top = Dictionary::new();
    top.insert(
        "PayloadContent".into(),
        Value::Array(vec![Value::Dictionary(payload)]),
    );
    top.insert("PayloadDisplayName".into(), id.into());
    top.insert("PayloadIdentifier".into(), id.into());
    top.insert("PayloadScope".into(), "System".into());
    top.insert("PayloadType".into(), "Configuration".into());
    top.insert(
        "PayloadUUID".into(),
        "5D1A3E2C-8F4B-4C1D-9E7A-2B6C0D9F1A34".into(),
    );
    top.insert("PayloadVersion".into(), Value::Integer(1.into()));
    top.sort_keys();
    let mut bytes = Vec::new();
    Value::Dictionary(top).to_writer_xml(&mut bytes).unwrap();
    bytes.push(b'\n');
    bytes
}

/// One profile of a bundle: its identifier and `.mobileconfig`.
struct Profile {
    id: &'static str,
    bytes: Vec<u8>,
}

fn wifi(ssid: &str) -> Profile {
    Profile {
        id: "com.example.wifi",
        bytes: mobileconfig(
            "com.example.wifi",
            "com.apple.wifi.managed",
            &[("AutoJoin", true.into()), ("SSID_STR", ssid.into())],
        ),
    }
}

fn firewall() -> Profile {
    Profile {
        id: "com.example.firewall",
        bytes: mobileconfig(
            "com.example.firewall",
            "com.apple.security.firewall",
            &[("EnableFirewall", true.into())],
        ),
    }
}

/// The bundle's files: `config.json` listing `profiles`, and their `.mobileconfig` files.
fn bundle_files(profiles: &[Profile]) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut refs = BTreeMap::new();
    for p in profiles {
        let file = format!("profiles/{}.mobileconfig", p.id);
        let value = Value::from_reader_xml(&p.bytes[..]).unwrap();
        refs.insert(
            p.id.to_owned(),
            ProfileRef {
                file: file.clone(),
                uuid: "5D1A3E2C-8F4B-4C1D-9E7A-2B6C0D9F1A34".into(),
                scope: "System".into(),
                sha256: mmc_bundle::sha256_hex(&p.bytes),
                payload_sha256: mmc_config::payload::of_mobileconfig(&value),
            },
        );
        files.insert(file, p.bytes.clone());
    }
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
        items: BTreeMap::new(),
        manifests: [("site_default".to_owned(), Manifest::default())].into(),
        munki_manifests: BTreeMap::new(),
        profiles: refs,
        updates: vec![],
    };
    files.insert("config.json".into(), config.to_json());
    files
}

/// A Mac running `os` (sw_vers's ProductVersion) with a root, a signing key it trusts, and
/// bundles of increasing versions.
struct Mac {
    dir: tempfile::TempDir,
    signer: SigningKey,
    version: u64,
}

impl Mac {
    fn new(os: &str) -> Mac {
        let dir = tempfile::tempdir().unwrap();
        let mac = Mac {
            signer: SigningKey::from_bytes(&[11; 32]),
            version: 1_763_700_000,
            dir,
        };
        fs::create_dir(mac.root()).unwrap();
        fs::write(
            mac.dir.path().join("ci.pem"),
            public_key_to_pem(&mac.signer.verifying_key()),
        )
        .unwrap();
        fs::write(mac.dir.path().join("facts.json"), "{}").unwrap();
        mac.write(
            "System/Library/CoreServices/SystemVersion.plist",
            &format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n<dict>\n\t<key>ProductVersion</key>\n\t<string>{os}</string>\n</dict>\n</plist>\n"
            ),
        );
        mac
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.root().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// Signs the next version of bundle `stable` holding `profiles`; returns its path.
    fn publish(&mut self, profiles: &[Profile]) -> PathBuf {
        self.version += 1;
        let archive = write_archive(&bundle_files(profiles)).unwrap();
        let name = format!("stable-{}.tar.gz", self.version);
        let statement = Statement {
            format: FORMAT_VERSION,
            name: "stable".to_owned(),
            audience: "com.example:stable".to_owned(),
            version: self.version,
            created: "2026-11-21T05:31:00Z".to_owned(),
            expires: "2026-12-01T00:00:00Z".to_owned(),
            key_id: key_id(&self.signer.verifying_key()),
            archive: ArchiveRef::of(&name, &archive),
        };
        let path = self.dir.path().join(&name);
        fs::write(&path, &archive).unwrap();
        fs::write(
            self.dir.path().join(format!("{name}.sig")),
            sign(&statement, &self.signer),
        )
        .unwrap();
        path
    }

    fn agent(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mmc-agent"))
            .args(args)
            .arg("--root")
            .arg(self.root())
            .arg("--commands")
            .arg(fakes())
            .env_remove("MMC_AGENT_KILL_AT")
            .output()
            .unwrap()
    }

    /// `mmc-agent run --bundle BUNDLE --format json` (plus `extra`): the exit status and the
    /// report's `profiles`.
    fn run(&self, bundle: &Path, extra: &[&str]) -> (i32, Json) {
        let bundle = bundle.to_str().unwrap();
        let trust = self.dir.path().join("ci.pem");
        let facts = self.dir.path().join("facts.json");
        let mut args = vec![
            "run",
            "--bundle",
            bundle,
            "--trust",
            trust.to_str().unwrap(),
            "--facts",
            facts.to_str().unwrap(),
            "--now",
            NOW,
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = self.agent(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report: Json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), report["profiles"].clone())
    }

    /// The identifiers the fake holds as installed.
    fn installed(&self) -> Vec<String> {
        let mut ids: Vec<String> = fs::read_dir(self.root().join(FAKE_PROFILES))
            .map(|entries| {
                entries
                    .map(|e| {
                        let name = e.unwrap().file_name().to_string_lossy().into_owned();
                        name.strip_suffix(".plist").unwrap().to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    fn installed_text(&self, id: &str) -> String {
        fs::read_to_string(self.root().join(FAKE_PROFILES).join(format!("{id}.plist"))).unwrap()
    }

    /// The `profiles` calls that change something (`-I`, `-R`, install, remove) since the last
    /// look, arguments joined by spaces, the root's path shown as `ROOT`.
    fn changes(&self) -> Vec<String> {
        let path = self.root().join("var/db/mmc-fakes/profiles.log");
        let text = fs::read_to_string(&path).unwrap_or_default();
        let _ = fs::remove_file(&path);
        let root = self.root().display().to_string();
        text.lines()
            .map(|l| {
                l.split('\t')
                    .skip(2)
                    .collect::<Vec<_>>()
                    .join(" ")
                    .replace(&root, "ROOT")
            })
            .collect()
    }

    /// The profiles state.json says the agent installed.
    fn remembered(&self) -> Vec<String> {
        let Ok(text) = fs::read_to_string(self.root().join(STATE)) else {
            return Vec::new();
        };
        let state: Json = serde_json::from_str(&text).unwrap();
        state["profiles"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Installs a profile as something other than mmc-agent would (an MDM, a user).
    fn install_foreign(&self, profile: &Profile) {
        let file = self.root().join(format!("tmp/{}.mobileconfig", profile.id));
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(&file, &profile.bytes).unwrap();
        let os = self
            .root()
            .join("System/Library/CoreServices/SystemVersion.plist");
        let saved = fs::read(&os).unwrap();
        // The fake installs only on 10.15 and earlier.
        self.write(
            "System/Library/CoreServices/SystemVersion.plist",
            "<plist version=\"1.0\"><dict><key>ProductVersion</key><string>10.15.7</string></dict></plist>\n",
        );
        let out = Command::new(fakes().join("profiles"))
            .args(["-I", "-F"])
            .arg(&file)
            .env_clear()
            .env("MMC_ROOT", self.root())
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        fs::remove_file(&file).unwrap();
        fs::write(&os, saved).unwrap();
        self.changes();
    }
}

/// `(identifier, status, action, result, needs_mdm)` of each profile line of a report.
fn lines(profiles: &Json) -> Vec<(String, String, String, String, bool)> {
    let text = |v: &Json| v.as_str().unwrap_or("").to_owned();
    profiles
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                text(&p["identifier"]),
                text(&p["status"]),
                text(&p["action"]),
                text(&p["result"]),
                p["needs_mdm"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

fn line(
    id: &str,
    status: &str,
    action: &str,
    result: &str,
    mdm: bool,
) -> (String, String, String, String, bool) {
    (
        id.to_owned(),
        status.to_owned(),
        action.to_owned(),
        result.to_owned(),
        mdm,
    )
}

#[test]
fn macos_10_15_installs_missing_profiles_once_and_remembers_them() {
    let mut mac = Mac::new("10.15.7");
    let bundle = mac.publish(&[wifi("Office"), firewall()]);
    let (code, profiles) = mac.run(&bundle, &[]);
    assert_eq!(code, 0, "{profiles:#}");
    assert_eq!(
        lines(&profiles),
        [
            line(
                "com.example.firewall",
                "missing",
                "install",
                "changed",
                false
            ),
            line("com.example.wifi", "missing", "install", "changed", false),
        ]
    );
    let stored = "ROOT/Library/Application Support/mmc/bundles/stable-1763700001/profiles";
    assert_eq!(
        mac.changes(),
        [
            format!("-I -F {stored}/com.example.firewall.mobileconfig"),
            format!("-I -F {stored}/com.example.wifi.mobileconfig"),
        ]
    );
    assert_eq!(
        mac.installed(),
        ["com.example.firewall", "com.example.wifi"]
    );
    assert_eq!(
        mac.remembered(),
        ["com.example.firewall", "com.example.wifi"]
    );

    // The same bundle again: what the fake lists has the bundle's payload hash.
    let (code, profiles) = mac.run(&bundle, &[]);
    assert_eq!(code, 0);
    assert_eq!(
        lines(&profiles),
        [
            line("com.example.firewall", "installed", "", "", false),
            line("com.example.wifi", "installed", "", "", false),
        ]
    );
    assert!(mac.changes().is_empty());
}

#[test]
fn macos_10_15_reinstalls_an_outdated_profile() {
    let mut mac = Mac::new("10.15.7");
    let first = mac.publish(&[wifi("Office")]);
    assert_eq!(mac.run(&first, &[]).0, 0);
    mac.changes();
    let second = mac.publish(&[wifi("Office 2")]);
    let (code, profiles) = mac.run(&second, &[]);
    assert_eq!(code, 0, "{profiles:#}");
    assert_eq!(
        lines(&profiles),
        [line(
            "com.example.wifi",
            "outdated",
            "reinstall",
            "changed",
            false
        )]
    );
    assert_eq!(mac.changes().len(), 1);
    assert!(
        mac.installed_text("com.example.wifi")
            .contains("<string>Office 2</string>")
    );
    assert_eq!(
        lines(&mac.run(&second, &[]).1),
        [line("com.example.wifi", "installed", "", "", false)]
    );
}

#[test]
fn a_dropped_profile_mmc_installed_is_removed_and_foreign_ones_never_touched() {
    let mut mac = Mac::new("10.15.7");
    // Something else installed a VPN profile, and its own copy of the firewall profile, which
    // differs from the bundle's.
    let vpn = Profile {
        id: "com.other.vpn",
        bytes: mobileconfig(
            "com.other.vpn",
            "com.apple.vpn.managed",
            &[("On", true.into())],
        ),
    };
    mac.install_foreign(&vpn);
    let mut theirs = firewall();
    theirs.bytes = mobileconfig(
        "com.example.firewall",
        "com.apple.security.firewall",
        &[("EnableFirewall", false.into())],
    );
    mac.install_foreign(&theirs);

    let first = mac.publish(&[wifi("Office"), firewall()]);
    let (code, profiles) = mac.run(&first, &[]);
    assert_eq!(code, 0, "{profiles:#}");
    // The firewall profile is the bundle's, but not mmc-agent's to replace.
    assert_eq!(
        lines(&profiles),
        [
            line("com.example.firewall", "outdated", "", "", true),
            line("com.example.wifi", "missing", "install", "changed", false),
        ]
    );
    assert!(
        profiles[0]["reason"]
            .as_str()
            .unwrap()
            .contains("installed by something other than mmc-agent")
    );
    assert_eq!(mac.changes().len(), 1);
    assert_eq!(mac.remembered(), ["com.example.wifi"]);

    // The bundle drops both: only the profile mmc-agent installed goes.
    let second = mac.publish(&[]);
    let (code, profiles) = mac.run(&second, &[]);
    assert_eq!(code, 0, "{profiles:#}");
    assert_eq!(
        lines(&profiles),
        [line(
            "com.example.wifi",
            "dropped",
            "remove",
            "changed",
            false
        )]
    );
    assert_eq!(mac.changes(), ["-R -p com.example.wifi"]);
    assert_eq!(mac.installed(), ["com.example.firewall", "com.other.vpn"]);
    assert!(mac.remembered().is_empty());
    // And again: nothing left to do.
    let (_, profiles) = mac.run(&second, &[]);
    assert_eq!(profiles, Json::Array(vec![]));
    assert!(mac.changes().is_empty());
}

#[test]
fn macos_14_reports_needs_mdm_without_failing_or_calling_profiles_install() {
    let mut mac = Mac::new("14.7.1");
    let bundle = mac.publish(&[wifi("Office")]);
    for _ in 0..2 {
        let (code, profiles) = mac.run(&bundle, &[]);
        assert_eq!(
            code, 0,
            "a profile an MDM must deliver is no failure: {profiles:#}"
        );
        assert_eq!(
            lines(&profiles),
            [line("com.example.wifi", "missing", "", "", true)]
        );
        assert_eq!(
            profiles[0]["file"],
            "/Library/Application Support/mmc/bundles/stable-1763700001/profiles/com.example.wifi.mobileconfig"
        );
        assert!(
            profiles[0]["reason"]
                .as_str()
                .unwrap()
                .starts_with("macOS 14.7 cannot install configuration profiles"),
            "{profiles:#}"
        );
        assert!(mac.changes().is_empty(), "no profiles -I on macOS 14");
    }
    assert!(mac.installed().is_empty());
    assert!(mac.remembered().is_empty());

    // The human report says what to do.
    let trust = mac.dir.path().join("ci.pem");
    let facts = mac.dir.path().join("facts.json");
    let out = mac.agent(&[
        "run",
        "--bundle",
        bundle.to_str().unwrap(),
        "--trust",
        trust.to_str().unwrap(),
        "--facts",
        facts.to_str().unwrap(),
        "--now",
        NOW,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("  profile   missing   com.example.wifi  needs MDM: deliver /Library/Application Support/mmc/bundles/stable-1763700001/profiles/com.example.wifi.mobileconfig\n"),
        "{text}"
    );
}

#[test]
fn check_installs_and_removes_nothing() {
    let mut mac = Mac::new("10.15.7");
    let first = mac.publish(&[wifi("Office")]);
    let (_, profiles) = mac.run(&first, &["--check"]);
    assert_eq!(
        lines(&profiles),
        [line(
            "com.example.wifi",
            "missing",
            "install",
            "planned",
            false
        )]
    );
    assert!(mac.changes().is_empty());
    assert!(mac.installed().is_empty());
    assert!(!mac.root().join(STATE).exists());

    assert_eq!(mac.run(&first, &[]).0, 0);
    mac.changes();
    let second = mac.publish(&[]);
    let (_, profiles) = mac.run(&second, &["--check"]);
    assert_eq!(
        lines(&profiles),
        [line(
            "com.example.wifi",
            "dropped",
            "remove",
            "planned",
            false
        )]
    );
    assert!(mac.changes().is_empty());
    assert_eq!(mac.installed(), ["com.example.wifi"]);
    assert_eq!(mac.remembered(), ["com.example.wifi"]);
}

#[test]
fn before_macos_10_13_the_listing_comes_from_profiles_dash_c() {
    let mut mac = Mac::new("10.12.6");
    let bundle = mac.publish(&[wifi("Office")]);
    assert_eq!(
        lines(&mac.run(&bundle, &[]).1),
        [line(
            "com.example.wifi",
            "missing",
            "install",
            "changed",
            false
        )]
    );
    assert_eq!(
        lines(&mac.run(&bundle, &[]).1),
        [line("com.example.wifi", "installed", "", "", false)]
    );
}

fn code_and_text(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn profiles_commands_on_macos_10_15() {
    let mut mac = Mac::new("10.15.7");
    // Nothing applied yet.
    let (code, _, err) = code_and_text(&mac.agent(&["profiles", "list"]));
    assert_eq!(code, 2);
    assert!(err.contains("no bundle has been applied"), "{err}");

    let vpn = Profile {
        id: "com.other.vpn",
        bytes: mobileconfig(
            "com.other.vpn",
            "com.apple.vpn.managed",
            &[("On", true.into())],
        ),
    };
    mac.install_foreign(&vpn);
    let bundle = mac.publish(&[wifi("Office"), firewall()]);
    assert_eq!(mac.run(&bundle, &["--check"]).0, 0);
    // --check applies nothing, so there is still no applied bundle; a real run applies it.
    assert_eq!(mac.run(&bundle, &[]).0, 0);
    mac.changes();

    let (code, out, err) = code_and_text(&mac.agent(&["profiles", "remove", "com.example.wifi"]));
    assert_eq!(
        (code, out.as_str()),
        (0, "removed com.example.wifi\n"),
        "{err}"
    );
    assert_eq!(mac.changes(), ["-R -p com.example.wifi"]);
    assert_eq!(mac.remembered(), ["com.example.firewall"]);

    let (code, out, _) = code_and_text(&mac.agent(&["profiles", "list"]));
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "Bundle stable version 1763700001; macOS 10.15 (mmc-agent installs profiles)\n\
         IDENTIFIER            STATUS     SCOPE   NOTE\n\
         com.example.firewall  installed  System  \n\
         com.example.wifi      missing    System  \n\
         com.other.vpn         other      System  not mmc's\n"
    );
    let (code, out, _) = code_and_text(&mac.agent(&["profiles", "list", "--format", "json"]));
    assert_eq!(code, 0);
    let doc: Json = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["can_install"], true);
    assert_eq!(doc["macos"], "10.15");
    assert_eq!(doc["profiles"][0]["installed_by_mmc"], true);
    assert_eq!(doc["profiles"][2]["identifier"], "com.other.vpn");
    assert_eq!(doc["profiles"][2]["desired"], false);

    // Foreign profiles are refused, whatever the command.
    let (code, _, err) = code_and_text(&mac.agent(&["profiles", "remove", "com.other.vpn"]));
    assert_eq!(code, 2);
    assert!(err.contains("never removes other profiles"), "{err}");
    let (code, _, err) = code_and_text(&mac.agent(&["profiles", "install", "com.other.vpn"]));
    assert_eq!(code, 2);
    assert!(err.contains("installs only its own profiles"), "{err}");
    assert!(mac.changes().is_empty());

    let (code, out, err) = code_and_text(&mac.agent(&["profiles", "install"]));
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            "installed com.example.firewall\ninstalled com.example.wifi\n"
        ),
        "{err}"
    );
    assert_eq!(mac.changes().len(), 2);
    assert_eq!(
        mac.remembered(),
        ["com.example.firewall", "com.example.wifi"]
    );
    assert_eq!(
        mac.installed(),
        ["com.example.firewall", "com.example.wifi", "com.other.vpn"]
    );

    let (code, _, err) = code_and_text(&mac.agent(&["profiles", "remove"]));
    assert_eq!(code, 2);
    assert!(err.contains("needs the identifiers"), "{err}");
    let (code, _, err) = code_and_text(&mac.agent(&["profiles", "frobnicate"]));
    assert_eq!(code, 2);
    assert!(err.contains("unknown profiles command"), "{err}");
}

#[test]
fn profiles_commands_on_macos_14_refuse_with_needs_mdm() {
    let mut mac = Mac::new("14.7.1");
    let bundle = mac.publish(&[wifi("Office")]);
    assert_eq!(mac.run(&bundle, &[]).0, 0);
    let (code, out, _) = code_and_text(&mac.agent(&["profiles", "list"]));
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "Bundle stable version 1763700001; macOS 14.7 (profiles need an MDM)\n\
         IDENTIFIER        STATUS     SCOPE   NOTE\n\
         com.example.wifi  missing    System  NEEDS MDM: deliver /Library/Application Support/mmc/bundles/stable-1763700001/profiles/com.example.wifi.mobileconfig\n"
    );
    for args in [
        &["profiles", "install"][..],
        &["profiles", "install", "com.example.wifi"][..],
        &["profiles", "remove", "com.example.wifi"][..],
    ] {
        let (code, out, err) = code_and_text(&mac.agent(args));
        assert_eq!(code, 2, "{args:?}");
        assert!(out.is_empty());
        assert!(
            err.contains("needs MDM: macOS 14.7 cannot install or remove configuration profiles"),
            "{err}"
        );
    }
    assert!(mac.changes().is_empty());
}

#[test]
fn a_profile_the_tool_cannot_install_fails_the_run_and_only_runs_leave_profiles_alone() {
    let mut mac = Mac::new("10.15.7");
    let broken = Profile {
        id: "com.example.broken",
        bytes: b"<plist version=\"1.0\"><dict/></plist>\n".to_vec(),
    };
    let bundle = mac.publish(&[broken, wifi("Office")]);
    // --only ITEM: profiles are reported, not acted on.
    let (code, profiles) = mac.run(&bundle, &["--only", "nothing-such"]);
    assert_eq!(
        lines(&profiles),
        [
            line("com.example.broken", "missing", "", "", false),
            line("com.example.wifi", "missing", "", "", false),
        ],
        "exit {code}"
    );
    assert!(mac.changes().is_empty());

    let (code, profiles) = mac.run(&bundle, &[]);
    assert_eq!(code, 1, "{profiles:#}");
    assert_eq!(
        lines(&profiles),
        [
            line("com.example.broken", "missing", "install", "failed", false),
            line("com.example.wifi", "missing", "install", "changed", false),
        ]
    );
    assert!(
        profiles[0]["error"]
            .as_str()
            .unwrap()
            .contains("not a valid profile"),
        "{profiles:#}"
    );
    assert_eq!(mac.remembered(), ["com.example.wifi"]);
}

#[test]
fn the_help_teaches_the_profiles_commands() {
    for args in [
        &["profiles", "--help"][..],
        &["profiles"][..],
        &["profiles", "list", "--help"][..],
    ] {
        let (code, help, _) = code_and_text(
            &Command::new(env!("CARGO_BIN_EXE_mmc-agent"))
                .args(args)
                .output()
                .unwrap(),
        );
        assert_eq!(code, 0, "{args:?}");
        for needle in [
            "mmc-agent profiles list [--format human|json]",
            "sudo mmc-agent profiles install [ID…]",
            "sudo mmc-agent profiles remove ID…",
            "outdated (installed, but its payloads",
            "macOS 11 and later cannot install configuration profiles",
            "build/mdm/profiles/",
            "Exit status:",
        ] {
            assert!(help.contains(needle), "{needle:?} missing from: {help}");
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_mmc-agent"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("\n  profiles        List the configuration profiles"),
        "{help}"
    );
}
