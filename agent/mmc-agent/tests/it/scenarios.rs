//! Scenarios: small bundles built item by item and signed here, applied by the real
//! `mmc-agent run` (and `interactive`, `status`) to a temporary root with the fake macOS
//! commands of `agent/fakes/` and text stand-in packages written next to the root.
//!
//! Each scenario checks the JSON report (per item `result`, `reason`, `error`, and the
//! `summary`), the exit status, and what is on disk afterwards: files, receipts (through the
//! fake `pkgutil`), the fake installer's and launchctl's logs.
//!
//! Several scenarios pin down a rule of Munki's that an earlier version of the agent broke
//! (removal of dependents and updates, skips carried down requires chains, uninstallable,
//! shared package files): their comments name the rule.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use mmc_bundle::{
    ArchiveRef, FORMAT_VERSION, SigningKey, Statement, key_id, public_key_to_pem, sign,
    write_archive,
};
use mmc_config::{
    BundleInfo, Config, File as FileItem, Item, Launchd, Manifest, Meta, Munki, Org, PrefScope,
    Preference,
};
use plist::{Dictionary, Value as Plist};
use serde_json::Value;
use sha2::Digest;

pub(crate) const NOW: &str = "2026-11-25T12:00:00Z";
/// The first bundle's version; later bundles of a scenario count up from it.
pub(crate) const V1: u64 = 1_763_700_000;
/// The agent's directory, relative to the root.
pub(crate) const STATE_DIR: &str = "Library/Application Support/mmc";
const INSTALLER_LOG: &str = "/var/db/mmc-fakes/installer.log";
const LAUNCHCTL_LOG: &str = "/var/db/mmc-fakes/launchctl.log";

pub(crate) fn fakes() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fakes")
        .canonicalize()
        .unwrap()
}

pub(crate) fn signer() -> SigningKey {
    SigningKey::from_bytes(&[11; 32])
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// A Mac: a root directory, a directory of stand-in packages, keys, and ways to run the agent.

pub(crate) struct Mac {
    pub(crate) dir: tempfile::TempDir,
}

impl Mac {
    pub(crate) fn new() -> Mac {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["root", "pkgs", "out"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        fs::write(
            dir.path().join("ci.pem"),
            public_key_to_pem(&signer().verifying_key()),
        )
        .unwrap();
        fs::write(
            dir.path().join("other.pem"),
            public_key_to_pem(&SigningKey::from_bytes(&[22; 32]).verifying_key()),
        )
        .unwrap();
        Mac { dir }
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub(crate) fn packages(&self) -> PathBuf {
        self.dir.path().join("pkgs")
    }

    pub(crate) fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    pub(crate) fn trusted(&self) -> PathBuf {
        self.dir.path().join("ci.pem")
    }

    fn untrusted(&self) -> PathBuf {
        self.dir.path().join("other.pem")
    }

    /// The host path of the Mac's absolute `mac_path`.
    pub(crate) fn path(&self, mac_path: &str) -> PathBuf {
        self.root().join(mac_path.trim_start_matches('/'))
    }

    pub(crate) fn exists(&self, mac_path: &str) -> bool {
        fs::symlink_metadata(self.path(mac_path)).is_ok()
    }

    pub(crate) fn read(&self, mac_path: &str) -> String {
        fs::read_to_string(self.path(mac_path)).unwrap_or_else(|e| panic!("{mac_path}: {e}"))
    }

    /// The text of a file, or "" when it does not exist (the fakes' logs start absent).
    fn read_or_empty(&self, mac_path: &str) -> String {
        fs::read_to_string(self.path(mac_path)).unwrap_or_default()
    }

    pub(crate) fn write(&self, mac_path: &str, bytes: impl AsRef<[u8]>) {
        let path = self.path(mac_path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    pub(crate) fn mode(&self, mac_path: &str) -> u32 {
        fs::metadata(self.path(mac_path))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    pub(crate) fn plist(&self, mac_path: &str) -> Dictionary {
        Plist::from_file(self.path(mac_path))
            .unwrap_or_else(|e| panic!("{mac_path}: {e}"))
            .into_dictionary()
            .unwrap()
    }

    pub(crate) fn log(&self) -> String {
        self.read_or_empty(&format!("/{STATE_DIR}/logs/mmc-agent.log"))
    }

    pub(crate) fn state_json(&self) -> PathBuf {
        self.path(&format!("/{STATE_DIR}/state.json"))
    }

    /// Lines of the fake installer's log, one per install attempt: `install|upgrade PKG exit=N`.
    fn installs(&self) -> Vec<String> {
        self.read_or_empty(INSTALLER_LOG)
            .lines()
            .map(|l| {
                let fields: Vec<&str> = l.split('\t').collect();
                let pkg = fields[2].rsplit('/').next().unwrap();
                // Cached payloads are named HASH16-LOCATION.
                let pkg = pkg.split_once('-').map_or(pkg, |(_, rest)| rest);
                format!("{} {pkg} {}", fields[1], fields[3])
            })
            .collect()
    }

    /// Actions in the fake launchctl's log, without their times.
    fn launchctl_log(&self) -> Vec<String> {
        self.read_or_empty(LAUNCHCTL_LOG)
            .lines()
            .map(|l| l.split_once('\t').unwrap().1.to_owned())
            .collect()
    }

    /// Runs one of the fakes directly, as the agent would, against this Mac.
    fn fake(&self, tool: &str, args: &[&str]) -> Output {
        Command::new(fakes().join(tool))
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            .env("MMC_ROOT", self.root())
            .output()
            .unwrap()
    }

    /// Whether `pkgutil --pkg-info-plist ID` finds a receipt.
    pub(crate) fn has_receipt(&self, id: &str) -> bool {
        let out = self.fake("pkgutil", &["--pkg-info-plist", id]);
        match out.status.code() {
            Some(0) => true,
            Some(1) => {
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("No receipt for"), "{err}");
                false
            }
            other => panic!("pkgutil exited {other:?}"),
        }
    }

    /// `mmc-agent COMMAND --root ROOT --commands FAKES --packages PKGS --now NOW
    /// [--bundle B] [--trust T] EXTRA`, with `stdin`, as user `carol` (SUDO_USER).
    pub(crate) fn agent(
        &self,
        command: &str,
        bundle: Option<&Path>,
        trust: Option<&Path>,
        extra: &[&str],
        stdin: &str,
    ) -> Output {
        let mut args: Vec<OsString> = vec![
            command.into(),
            "--root".into(),
            self.root().into(),
            "--commands".into(),
            fakes().into(),
            "--packages".into(),
            self.packages().into(),
            "--now".into(),
            NOW.into(),
        ];
        if let Some(bundle) = bundle {
            args.extend(["--bundle".into(), bundle.into()]);
        }
        if let Some(trust) = trust {
            args.extend(["--trust".into(), trust.into()]);
        }
        args.extend(extra.iter().map(OsString::from));
        let mut child = Command::new(env!("CARGO_BIN_EXE_mmc-agent"))
            .args(&args)
            .env_remove("MMC_AGENT_KILL_AT")
            .env("SUDO_USER", "carol")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// `mmc-agent run --format json` with `bundle`: the exit status and the report.
    pub(crate) fn run(&self, bundle: &Path, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["--format", "json"];
        args.extend_from_slice(extra);
        let out = self.agent("run", Some(bundle), Some(&self.trusted()), &args, "");
        report_of(&out, &String::from_utf8_lossy(&out.stdout))
    }
}

/// The exit status and the JSON report in `text` (the agent's stdout, or the part of it after
/// interactive mode's prompt).
pub(crate) fn report_of(out: &Output, text: &str) -> (i32, Value) {
    let code = out.status.code().expect("the agent exited");
    let report = serde_json::from_str(text).unwrap_or_else(|e| {
        panic!(
            "exit {code}: stdout is not a JSON report ({e})\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, report)
}

/// The report's line for item `name` (the only one, whatever its action).
pub(crate) fn item<'a>(report: &'a Value, name: &str) -> &'a Value {
    let found: Vec<&Value> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "{name} in {report:#}");
    found[0]
}

/// `NAME ACTION RESULT` for every step of the report, in order.
pub(crate) fn steps(report: &Value) -> Vec<String> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{} {} {}",
                i["name"].as_str().unwrap(),
                i["action"].as_str().unwrap(),
                i["result"].as_str().unwrap()
            )
        })
        .collect()
}

/// `summary` as `[changed, unchanged, failed, skipped]`.
pub(crate) fn summary(report: &Value) -> [u64; 4] {
    ["changed", "unchanged", "failed", "skipped"].map(|k| report["summary"][k].as_u64().unwrap())
}

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

pub(crate) fn owner(mac: &Mac, mac_path: &str) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(mac.path(mac_path)).unwrap();
    (meta.uid(), meta.gid())
}

pub(crate) fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {value:#}"))
}

/// Asserts that `haystack` contains `needle`, showing both if not.
#[track_caller]
pub(crate) fn assert_has(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "expected {needle:?} in:\n{haystack}"
    );
}

// ---------------------------------------------------------------------------------------------
// Stand-in package records (agent/fakes/README.md), TAB-separated.

pub(crate) fn receipt(id: &str, version: &str) -> String {
    format!("receipt\t{id}\t{version}")
}

/// An application bundle at `path` whose name is its file name without `.app`.
pub(crate) fn app(path: &str, bundle_id: &str, version: &str) -> String {
    let name = path
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".app")
        .to_owned();
    format!("app\t{path}\t{bundle_id}\t{version}\t{version}\t{name}")
}

pub(crate) fn payload_file(path: &str, mode: &str, text: &str) -> String {
    format!("file\t{path}\t{mode}\t{text}")
}

fn fail(code: u8, message: &str) -> String {
    format!("fail\t{code}\t{message}")
}

// ---------------------------------------------------------------------------------------------
// Plist values.

pub(crate) fn dict<const N: usize>(pairs: [(&str, Plist); N]) -> Dictionary {
    let mut d = Dictionary::new();
    for (k, v) in pairs {
        d.insert(k.to_owned(), v);
    }
    d
}

fn strings(items: &[&str]) -> Plist {
    Plist::Array(items.iter().map(|s| Plist::from(*s)).collect())
}

fn xml(d: &Dictionary) -> Vec<u8> {
    let mut bytes = Vec::new();
    Plist::Dictionary(d.clone())
        .to_writer_xml(&mut bytes)
        .unwrap();
    bytes
}

/// An `installs` entry for an application at `path` with `version`.
fn installs_app(path: &str, version: &str) -> Plist {
    Plist::Array(vec![Plist::Dictionary(dict([
        ("type", "application".into()),
        ("path", path.into()),
        ("CFBundleShortVersionString", version.into()),
    ]))])
}

// ---------------------------------------------------------------------------------------------
// Bundles.

pub(crate) struct BundleBuilder {
    pub(crate) version: u64,
    pub(crate) expires: String,
    /// config.json's layout (`mmc_config::FORMAT` unless a test says otherwise).
    format: u32,
    items: BTreeMap<String, Item>,
    /// Files of the bundle besides config.json.
    files: BTreeMap<String, Vec<u8>>,
    /// Stand-in packages, by installer_item_location.
    pub(crate) payloads: BTreeMap<String, Vec<u8>>,
    lists: BTreeMap<String, Vec<String>>,
}

impl BundleBuilder {
    pub(crate) fn new(version: u64) -> BundleBuilder {
        BundleBuilder {
            version,
            expires: "2026-12-01T00:00:00Z".to_owned(),
            format: mmc_config::FORMAT,
            items: BTreeMap::new(),
            files: BTreeMap::new(),
            payloads: BTreeMap::new(),
            lists: BTreeMap::new(),
        }
    }

    /// A package item: its stand-in holds `lines`; the pkginfo names the stand-in with its
    /// SHA-256, lists its `receipt` lines as receipts, and is uninstallable with
    /// `removepackages`. `edit` changes the pkginfo as it likes.
    pub(crate) fn package(
        mut self,
        name: &str,
        version: &str,
        lines: &[String],
        edit: impl FnOnce(&mut Dictionary),
    ) -> Self {
        let mut stand_in = String::from("mmc-fake-pkg 1\n");
        for line in lines {
            stand_in.push_str(line);
            stand_in.push('\n');
        }
        let location = format!("{name}-{version}.pkg");
        let receipts: Vec<Plist> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("receipt\t"))
            .map(|r| {
                let (id, v) = r.split_once('\t').unwrap();
                Plist::Dictionary(dict([("packageid", id.into()), ("version", v.into())]))
            })
            .collect();
        let mut p = dict([
            ("name", name.into()),
            ("version", version.into()),
            ("installer_item_location", location.as_str().into()),
            ("installer_item_hash", sha256(stand_in.as_bytes()).into()),
            ("installer_item_size", 1u64.into()),
            ("uninstallable", true.into()),
            ("uninstall_method", "removepackages".into()),
        ]);
        if !receipts.is_empty() {
            p.insert("receipts".into(), Plist::Array(receipts));
        }
        edit(&mut p);
        self.payloads.insert(location, stand_in.into_bytes());
        self.munki(name, version, p, Item::Package)
    }

    /// A script item (Munki's nopkg); `edit` adds its scripts.
    pub(crate) fn script(self, name: &str, edit: impl FnOnce(&mut Dictionary)) -> Self {
        let mut p = dict([
            ("name", name.into()),
            ("version", "1.0".into()),
            ("installer_type", "nopkg".into()),
        ]);
        edit(&mut p);
        self.munki(name, "1.0", p, Item::Script)
    }

    fn munki(mut self, name: &str, version: &str, p: Dictionary, kind: fn(Munki) -> Item) -> Self {
        let pkginfo = format!("pkgsinfo/{name}.plist");
        self.files.insert(pkginfo.clone(), xml(&p));
        self.items.insert(
            name.to_owned(),
            kind(Munki {
                version: version.to_owned(),
                pkginfo,
            }),
        );
        self
    }

    /// A file owned by root:wheel.
    pub(crate) fn file(mut self, name: &str, path: &str, content: &str, mode: &str) -> Self {
        self.items.insert(
            name.to_owned(),
            Item::File(FileItem {
                path: path.to_owned(),
                content: content.to_owned(),
                mode: mode.to_owned(),
                owner: "root".to_owned(),
                group: "wheel".to_owned(),
                meta: Meta::default(),
            }),
        );
        self
    }

    pub(crate) fn preference(
        mut self,
        name: &str,
        domain: &str,
        scope: PrefScope,
        values: Dictionary,
    ) -> Self {
        let path = format!("preferences/{name}.plist");
        self.files.insert(path.clone(), xml(&values));
        self.items.insert(
            name.to_owned(),
            Item::Preference(Preference {
                domain: domain.to_owned(),
                scope,
                values: path,
                meta: Meta::default(),
            }),
        );
        self
    }

    /// A launchd daemon; `job` is its plist (Label is added).
    fn launchd(mut self, name: &str, label: &str, mut job: Dictionary) -> Self {
        job.insert("Label".into(), label.into());
        let path = format!("launchd/{label}.plist");
        self.files.insert(path.clone(), xml(&job));
        self.items.insert(
            name.to_owned(),
            Item::Launchd(Launchd {
                label: label.to_owned(),
                plist: path,
                meta: Meta::default(),
            }),
        );
        self
    }

    /// The lists of manifest `site_default`, e.g. `[("managed_installs", &["A"])]`.
    pub(crate) fn manifest(mut self, lists: &[(&str, &[&str])]) -> Self {
        for (key, names) in lists {
            self.lists.insert(
                (*key).to_owned(),
                names.iter().map(|n| (*n).to_owned()).collect(),
            );
        }
        self
    }

    fn config(&self) -> Config {
        Config {
            format: self.format,
            org: Org {
                name: "Example Corp".to_owned(),
                identifier_prefix: "com.example".to_owned(),
            },
            bundle: BundleInfo {
                name: "stable".to_owned(),
                track: "stable".to_owned(),
                audience: "com.example:stable".to_owned(),
            },
            trusted_keys: vec![key_id(&signer().verifying_key())],
            items: self.items.clone(),
            manifests: BTreeMap::from([(
                "site_default".to_owned(),
                Manifest {
                    lists: self.lists.clone(),
                    ..Default::default()
                },
            )]),
            munki_manifests: BTreeMap::new(),
            profiles: BTreeMap::new(),
            updates: Vec::new(),
        }
    }

    pub(crate) fn archive(&self) -> Vec<u8> {
        let mut files = self.files.clone();
        files.insert("config.json".to_owned(), self.config().to_json());
        write_archive(&files).unwrap()
    }

    /// Writes the stand-in packages to the Mac's package directory and the signed bundle
    /// (`stable-VERSION.tar.gz` and its `.sig`) to the Mac's output directory.
    pub(crate) fn sign(&self, mac: &Mac) -> PathBuf {
        self.sign_into(mac, &mac.out())
    }

    /// As [`Self::sign`], with the bundle written to `dir`.
    fn sign_into(&self, mac: &Mac, dir: &Path) -> PathBuf {
        for (location, bytes) in &self.payloads {
            fs::write(mac.packages().join(location), bytes).unwrap();
        }
        let archive = self.archive();
        let file = format!("stable-{}.tar.gz", self.version);
        let statement = Statement {
            format: FORMAT_VERSION,
            name: "stable".to_owned(),
            audience: "com.example:stable".to_owned(),
            version: self.version,
            created: "2026-11-21T05:31:00Z".to_owned(),
            expires: self.expires.clone(),
            key_id: key_id(&signer().verifying_key()),
            archive: ArchiveRef::of(file.as_str(), &archive),
        };
        fs::create_dir_all(dir).unwrap();
        let path = dir.join(&file);
        fs::write(&path, &archive).unwrap();
        fs::write(dir.join(format!("{file}.sig")), sign(&statement, &signer())).unwrap();
        path
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Removals first; removepackages and shared receipts.

/// Alpha and Beta share the receipt com.example.common; Beta is installed last, so the shared
/// receipt's file list is Beta's.
fn alpha_and_beta(version: u64) -> BundleBuilder {
    BundleBuilder::new(version)
        .package(
            "Alpha",
            "1.0",
            // Payload records belong to the receipt above them (a component package).
            &[
                receipt("com.example.alpha", "1.0"),
                app("/Applications/Alpha.app", "com.example.alpha", "1.0"),
                payload_file("/Library/Example/alpha.conf", "0644", "alpha=1"),
                receipt("com.example.common", "1.0"),
                payload_file("/Library/Example/common.conf", "0644", "common=1"),
            ],
            |_| {},
        )
        .package(
            "Beta",
            "1.0",
            &[
                receipt("com.example.beta", "1.0"),
                app("/Applications/Beta.app", "com.example.beta", "1.0"),
                receipt("com.example.common", "1.0"),
                payload_file("/Library/Example/common.conf", "0644", "common=1"),
            ],
            |_| {},
        )
}

#[test]
fn removals_come_first_and_removepackages_keeps_shared_receipts() {
    let mac = Mac::new();
    let first = alpha_and_beta(V1)
        .manifest(&[("managed_installs", &["Alpha", "Beta"])])
        .sign(&mac);
    let (code, report) = mac.run(&first, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        steps(&report),
        ["Alpha install changed", "Beta install changed"]
    );
    assert!(mac.exists("/Applications/Alpha.app/Contents/Info.plist"));
    assert!(mac.has_receipt("com.example.alpha"));

    // The next bundle lists the removal after the installs; it still comes first.
    let second = alpha_and_beta(V1 + 1)
        .file("Motd", "/etc/motd", "managed\n", "0644")
        .manifest(&[
            ("managed_installs", &["Beta", "Motd"]),
            ("managed_uninstalls", &["Alpha"]),
        ])
        .sign(&mac);
    let (code, report) = mac.run(&second, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        steps(&report),
        [
            "Alpha remove changed",
            "Beta install unchanged",
            "Motd install changed"
        ]
    );
    assert_eq!(text(item(&report, "Alpha"), "source"), "managed_uninstalls");
    assert_eq!(summary(&report), [2, 1, 0, 0]);

    // Alpha's own receipt and files are gone...
    assert!(!mac.has_receipt("com.example.alpha"));
    for gone in [
        "/Applications/Alpha.app/Contents/Info.plist",
        "/Applications/Alpha.app/Contents/MacOS",
        "/Applications/Alpha.app/Contents",
        "/Library/Example/alpha.conf",
    ] {
        assert!(!mac.exists(gone), "{gone} is still there");
    }
    // ...the receipt Beta shares, and its files, are kept.
    assert!(mac.has_receipt("com.example.common"));
    assert!(mac.has_receipt("com.example.beta"));
    assert!(mac.exists("/Applications/Beta.app/Contents/Info.plist"));
    let log = mac.log();
    assert_has(
        &log,
        "INFO Alpha: remove (receipt com.example.alpha is present)",
    );
    assert_has(&log, " paths of package com.example.alpha");

    // Removed is removed: the next run finds nothing to do.
    let (code, report) = mac.run(&second, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(summary(&report), [0, 3, 0, 0], "{report:#}");
    assert_eq!(
        text(item(&report, "Alpha"), "reason"),
        "nothing says it is installed"
    );
}

/// Munki's removepackages (rmpkgs.swift `removeFilesystemItems`) removes a directory of the
/// receipt once it is empty; the agent keeps every directory less than three levels deep, so
/// the app bundle itself is left behind, empty.
#[test]

fn removepackages_removes_the_emptied_app_bundle() {
    let mac = Mac::new();
    let first = alpha_and_beta(V1)
        .manifest(&[("managed_installs", &["Alpha"])])
        .sign(&mac);
    assert_eq!(mac.run(&first, &[]).0, 0);
    let second = alpha_and_beta(V1 + 1)
        .manifest(&[("managed_uninstalls", &["Alpha"])])
        .sign(&mac);
    let (code, report) = mac.run(&second, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["Alpha remove changed"]);
    assert!(!mac.exists("/Applications/Alpha.app/Contents"));
    assert!(
        !mac.exists("/Applications/Alpha.app"),
        "an empty Alpha.app is left in /Applications"
    );
}

/// Munki's removepackages removes only the paths that no other receipt lists
/// (rmpkgs.swift `getPathsToRemove`: `path_key IN selected AND path_key NOT IN others`).
/// The agent removes every path of the receipts it forgets.
#[test]

fn removepackages_keeps_files_another_receipt_lists() {
    let shared = payload_file("/Library/Example/Shared.framework/Info", "0644", "shared");
    let bundle = |version| {
        BundleBuilder::new(version)
            .package(
                "Alpha",
                "1.0",
                &[receipt("com.example.alpha", "1.0"), shared.clone()],
                |_| {},
            )
            .package(
                "Beta",
                "1.0",
                &[receipt("com.example.beta", "1.0"), shared.clone()],
                |_| {},
            )
    };
    let mac = Mac::new();
    let first = bundle(V1)
        .manifest(&[("managed_installs", &["Alpha", "Beta"])])
        .sign(&mac);
    assert_eq!(mac.run(&first, &[]).0, 0);
    let second = bundle(V1 + 1)
        .manifest(&[
            ("managed_installs", &["Beta"]),
            ("managed_uninstalls", &["Alpha"]),
        ])
        .sign(&mac);
    let (code, report) = mac.run(&second, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(text(item(&report, "Alpha"), "result"), "changed");
    assert!(!mac.has_receipt("com.example.alpha"));
    assert!(mac.has_receipt("com.example.beta"));
    let beta_files =
        String::from_utf8(mac.fake("pkgutil", &["--files", "com.example.beta"]).stdout).unwrap();
    assert_has(&beta_files, "Library/Example/Shared.framework/Info");
    assert!(
        mac.exists("/Library/Example/Shared.framework/Info"),
        "a file com.example.beta still lists was removed with com.example.alpha"
    );
}

/// Munki's processRemoval only removes an item whose pkginfo says `uninstallable: true`
/// ("Item … is not marked as uninstallable"); the key defaults to false.
#[test]

fn an_item_not_marked_uninstallable_is_not_removed() {
    let bundle = |version| {
        BundleBuilder::new(version).package(
            "Alpha",
            "1.0",
            &[
                receipt("com.example.alpha", "1.0"),
                app("/Applications/Alpha.app", "com.example.alpha", "1.0"),
            ],
            |p| {
                p.remove("uninstallable");
            },
        )
    };
    let mac = Mac::new();
    let first = bundle(V1)
        .manifest(&[("managed_installs", &["Alpha"])])
        .sign(&mac);
    assert_eq!(mac.run(&first, &[]).0, 0);
    let second = bundle(V1 + 1)
        .manifest(&[("managed_uninstalls", &["Alpha"])])
        .sign(&mac);
    let (_, report) = mac.run(&second, &[]);
    assert_ne!(
        text(item(&report, "Alpha"), "result"),
        "changed",
        "{report:#}"
    );
    assert!(mac.has_receipt("com.example.alpha"));
    assert!(mac.exists("/Applications/Alpha.app/Contents/Info.plist"));
}

/// Munki's processRemoval first removes the installed items that require the one being
/// removed ("X requires Y. X must be removed as well").
#[test]

fn removing_an_item_first_removes_the_items_that_require_it() {
    let bundle = |version| {
        BundleBuilder::new(version)
            .package("Base", "1.0", &[receipt("com.example.base", "1.0")], |_| {})
            .package(
                "Plugin",
                "1.0",
                &[receipt("com.example.plugin", "1.0")],
                |p| {
                    p.insert("requires".into(), strings(&["Base"]));
                },
            )
    };
    let mac = Mac::new();
    let first = bundle(V1)
        .manifest(&[("managed_installs", &["Plugin"])])
        .sign(&mac);
    let (code, report) = mac.run(&first, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        steps(&report),
        ["Base install changed", "Plugin install changed"]
    );
    let second = bundle(V1 + 1)
        .manifest(&[("managed_uninstalls", &["Base"])])
        .sign(&mac);
    let (_, report) = mac.run(&second, &[]);
    assert_eq!(
        steps(&report),
        ["Plugin remove changed", "Base remove changed"]
    );
    assert!(!mac.has_receipt("com.example.plugin"));
}

/// Munki: "When removing an item, any updates for that item are removed as well"
/// (analyze.swift processRemoval, lookForUpdatesFor).
#[test]

fn removing_an_item_removes_its_updates() {
    let bundle = |version| {
        BundleBuilder::new(version)
            .package(
                "Suite",
                "1.0",
                &[receipt("com.example.suite", "1.0")],
                |_| {},
            )
            .package(
                "SuitePatch",
                "1.0.1",
                &[receipt("com.example.suite.patch", "1.0.1")],
                |p| {
                    p.insert("update_for".into(), strings(&["Suite"]));
                },
            )
    };
    let mac = Mac::new();
    let first = bundle(V1)
        .manifest(&[("managed_installs", &["Suite"])])
        .sign(&mac);
    assert_eq!(mac.run(&first, &[]).0, 0);
    assert!(mac.has_receipt("com.example.suite.patch"));
    let second = bundle(V1 + 1)
        .manifest(&[("managed_uninstalls", &["Suite"])])
        .sign(&mac);
    let (_, report) = mac.run(&second, &[]);
    assert_eq!(
        text(item(&report, "Suite"), "result"),
        "changed",
        "{report:#}"
    );
    assert!(
        !mac.has_receipt("com.example.suite.patch"),
        "the update for Suite is still installed: {report:#}"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. requires.

#[test]
fn a_failed_requirement_skips_the_item_that_requires_it() {
    let mac = Mac::new();
    let bundle = BundleBuilder::new(V1)
        .package(
            "App",
            "1.0",
            &[
                receipt("com.example.app", "1.0"),
                app("/Applications/App.app", "com.example.app", "1.0"),
            ],
            |p| {
                p.insert("requires".into(), strings(&["Runtime"]));
            },
        )
        .package(
            "Runtime",
            "2.0",
            &[
                receipt("com.example.runtime", "2.0"),
                payload_file("/Library/Runtime/lib", "0644", "x"),
                fail(1, "The disk is full."),
            ],
            |_| {},
        )
        .package(
            "Other",
            "1.0",
            &[receipt("com.example.other", "1.0")],
            |_| {},
        )
        .manifest(&[("managed_installs", &["App", "Other"])])
        .sign(&mac);
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        steps(&report),
        [
            "Runtime install failed",
            "App install skipped",
            "Other install changed"
        ]
    );
    let runtime = item(&report, "Runtime");
    assert_eq!(text(runtime, "source"), "required by App");
    assert_has(text(runtime, "error"), "installer failed: exit status 1");
    assert_has(text(runtime, "error"), "The disk is full.");
    let app = item(&report, "App");
    assert_eq!(text(app, "reason"), "requires Runtime, which failed");
    assert!(app.get("error").is_none(), "{app:#}");
    assert_eq!(summary(&report), [1, 0, 1, 1]);

    // The installer ran for Runtime (and failed) and for Other; never for App.
    assert_eq!(
        mac.installs(),
        [
            "install Runtime-2.0.pkg exit=1",
            "install Other-1.0.pkg exit=0"
        ]
    );
    assert!(!mac.exists("/Library/Runtime/lib"));
    assert!(!mac.has_receipt("com.example.runtime"));
    assert!(!mac.exists("/Applications/App.app"));
    assert!(mac.has_receipt("com.example.other"));
}

/// Munki's installer skips an item when one of its prerequisites was skipped or failed
/// (installer.swift `itemPrereqsInSkippedItems`), and the skipped item joins the skipped
/// list, so the skip carries down a chain of `requires`. The agent only looks for failed
/// requirements, so the third link of the chain is installed.
#[test]

fn a_skip_carries_down_a_chain_of_requires() {
    let mac = Mac::new();
    let bundle = BundleBuilder::new(V1)
        .package(
            "Plugin",
            "1.0",
            &[receipt("com.example.plugin", "1.0")],
            |p| {
                p.insert("requires".into(), strings(&["App"]));
            },
        )
        .package("App", "1.0", &[receipt("com.example.app", "1.0")], |p| {
            p.insert("requires".into(), strings(&["Runtime"]));
        })
        .package(
            "Runtime",
            "1.0",
            &[receipt("com.example.runtime", "1.0"), fail(1, "no")],
            |_| {},
        )
        .manifest(&[("managed_installs", &["Plugin"])])
        .sign(&mac);
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        steps(&report),
        [
            "Runtime install failed",
            "App install skipped",
            "Plugin install skipped"
        ]
    );
    assert!(!mac.has_receipt("com.example.plugin"));
}

/// Munki's processInstall returns false for a required item with no pkginfo that applies to
/// this Mac (getItemDetail checks OS, architecture and installable_condition), and then does
/// not install the item that requires it ("could not resolve all dependencies").
#[test]

fn a_requirement_that_does_not_apply_blocks_the_item() {
    let mac = Mac::new();
    let bundle = BundleBuilder::new(V1)
        .package("App", "1.0", &[receipt("com.example.app", "1.0")], |p| {
            p.insert("requires".into(), strings(&["IntelRuntime"]));
        })
        .package(
            "IntelRuntime",
            "1.0",
            &[receipt("com.example.intel", "1.0")],
            |p| {
                p.insert("supported_architectures".into(), strings(&["x86_64"]));
            },
        )
        .manifest(&[("managed_installs", &["App"])])
        .sign(&mac);
    let (_, report) = mac.run(&bundle, &[]);
    assert_eq!(text(item(&report, "IntelRuntime"), "result"), "skipped");
    assert_eq!(
        text(item(&report, "App"), "result"),
        "skipped",
        "{report:#}"
    );
    assert!(!mac.has_receipt("com.example.app"));
}

// ---------------------------------------------------------------------------------------------
// 3. update_for.

fn suite_with_patch(version: u64) -> BundleBuilder {
    BundleBuilder::new(version)
        .package(
            "Suite",
            "1.0",
            &[
                receipt("com.example.suite", "1.0"),
                app("/Applications/Suite.app", "com.example.suite", "1.0"),
            ],
            |_| {},
        )
        .package(
            "SuitePatch",
            "1.0.1",
            &[
                receipt("com.example.suite.patch", "1.0.1"),
                payload_file("/Applications/Suite.app/Contents/Patch", "0644", "1.0.1"),
            ],
            |p| {
                p.insert("update_for".into(), strings(&["Suite"]));
            },
        )
        .package(
            "Editor",
            "3.0",
            &[receipt("com.example.editor", "3.0")],
            |_| {},
        )
}

#[test]
fn update_for_items_follow_the_item_they_update() {
    let mac = Mac::new();
    let bundle = suite_with_patch(V1)
        .manifest(&[("managed_installs", &["Suite", "Editor"])])
        .sign(&mac);
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        steps(&report),
        [
            "Suite install changed",
            "SuitePatch install changed",
            "Editor install changed"
        ]
    );
    assert_eq!(
        text(item(&report, "SuitePatch"), "source"),
        "update for Suite"
    );
    assert_eq!(
        mac.installs(),
        [
            "install Suite-1.0.pkg exit=0",
            "install SuitePatch-1.0.1.pkg exit=0",
            "install Editor-3.0.pkg exit=0"
        ]
    );
    assert_eq!(
        mac.read("/Applications/Suite.app/Contents/Patch"),
        "1.0.1\n"
    );

    // Already installed: the update is still considered, after its item, and unchanged.
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        steps(&report),
        [
            "Suite install unchanged",
            "SuitePatch install unchanged",
            "Editor install unchanged"
        ]
    );

    // Without Suite in the manifest, its update is not in the plan at all.
    let fresh = Mac::new();
    let bundle = suite_with_patch(V1)
        .manifest(&[("managed_installs", &["Editor"])])
        .sign(&fresh);
    let (code, report) = fresh.run(&bundle, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["Editor install changed"]);
    assert!(!fresh.has_receipt("com.example.suite.patch"));
}

#[test]
fn an_update_for_a_failed_item_is_skipped() {
    let mac = Mac::new();
    let bundle = BundleBuilder::new(V1)
        .package(
            "Suite",
            "1.0",
            &[receipt("com.example.suite", "1.0"), fail(2, "no")],
            |_| {},
        )
        .package(
            "SuitePatch",
            "1.0.1",
            &[receipt("com.example.suite.patch", "1.0.1")],
            |p| {
                p.insert("update_for".into(), strings(&["Suite"]));
            },
        )
        .manifest(&[("managed_installs", &["Suite"])])
        .sign(&mac);
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        steps(&report),
        ["Suite install failed", "SuitePatch install skipped"]
    );
    assert_eq!(
        text(item(&report, "SuitePatch"), "reason"),
        "an update for Suite, which is not installed"
    );
    assert_eq!(mac.installs(), ["install Suite-1.0.pkg exit=2"]);
}

// ---------------------------------------------------------------------------------------------
// 4. managed_updates.

#[test]
fn managed_updates_only_update_what_is_installed() {
    let bundle = BundleBuilder::new(V1)
        .package(
            "Viewer",
            "2.0",
            &[
                receipt("com.example.viewer", "2.0"),
                app("/Applications/Viewer.app", "com.example.viewer", "2.0"),
            ],
            |p| {
                p.insert(
                    "installs".into(),
                    installs_app("/Applications/Viewer.app", "2.0"),
                );
            },
        )
        .manifest(&[("managed_updates", &["Viewer"])]);

    // Not installed at all: a managed update does not install it.
    let mac = Mac::new();
    let (code, report) = mac.run(&bundle.sign(&mac), &[]);
    assert_eq!(code, 0, "{report:#}");
    let viewer = item(&report, "Viewer");
    assert_eq!(text(viewer, "result"), "skipped");
    assert_eq!(text(viewer, "source"), "managed_updates");
    assert_eq!(
        text(viewer, "reason"),
        "managed_updates: no version is installed"
    );
    assert_eq!(summary(&report), [0, 0, 0, 1]);
    assert!(mac.installs().is_empty());
    assert!(!mac.exists("/Applications/Viewer.app"));

    // An older version is installed: it is updated.
    let mac = Mac::new();
    let old = dict([
        ("CFBundleIdentifier", "com.example.viewer".into()),
        ("CFBundleName", "Viewer".into()),
        ("CFBundleShortVersionString", "1.5".into()),
    ]);
    mac.write("/Applications/Viewer.app/Contents/Info.plist", xml(&old));
    let (code, report) = mac.run(&bundle.sign(&mac), &[]);
    assert_eq!(code, 0, "{report:#}");
    let viewer = item(&report, "Viewer");
    assert_eq!(text(viewer, "result"), "changed", "{report:#}");
    assert_eq!(
        text(viewer, "reason"),
        "installs application /Applications/Viewer.app is older"
    );
    let info = mac.plist("/Applications/Viewer.app/Contents/Info.plist");
    assert_eq!(info["CFBundleShortVersionString"].as_string(), Some("2.0"));
    assert_eq!(mac.installs(), ["install Viewer-2.0.pkg exit=0"]);

    // Current now: nothing to do.
    let (_, report) = mac.run(&bundle.sign(&mac), &[]);
    assert_eq!(text(item(&report, "Viewer"), "result"), "unchanged");
}

// ---------------------------------------------------------------------------------------------
// 5. SHA-256.

#[test]
fn a_payload_with_the_wrong_sha256_is_never_installed() {
    let mac = Mac::new();
    let bundle = BundleBuilder::new(V1)
        .package(
            "Tampered",
            "1.0",
            &[
                receipt("com.example.tampered", "1.0"),
                payload_file("/usr/local/bin/tampered", "0755", "#!/bin/sh"),
            ],
            |p| {
                p.insert(
                    "installer_item_hash".into(),
                    sha256(b"what the pkginfo was built from").into(),
                );
            },
        )
        .manifest(&[("managed_installs", &["Tampered"])])
        .sign(&mac);
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 1, "{report:#}");
    let tampered = item(&report, "Tampered");
    assert_eq!(text(tampered, "result"), "failed");
    let error = text(tampered, "error");
    assert_has(error, "SHA-256");
    assert_has(error, "refusing to install it");
    assert_eq!(summary(&report), [0, 0, 1, 0]);
    assert!(!mac.exists(INSTALLER_LOG), "the installer ran");
    assert!(!mac.exists("/usr/local/bin/tampered"));
    assert!(!mac.has_receipt("com.example.tampered"));
    // Nothing unverified is kept in the cache either.
    let cache = mac.path(&format!("/{STATE_DIR}/cache"));
    let cached = fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
    assert_eq!(cached, 0);
}

// ---------------------------------------------------------------------------------------------
// 6. Pre- and postinstall scripts of packages.

#[test]
fn preinstall_failure_aborts_and_postinstall_failure_warns() {
    let mac = Mac::new();
    let bundle = BundleBuilder::new(V1)
        .package(
            "Guarded",
            "1.0",
            &[
                receipt("com.example.guarded", "1.0"),
                payload_file("/Library/Guarded/data", "0644", "x"),
            ],
            |p| {
                p.insert(
                    "preinstall_script".into(),
                    "#!/bin/sh\necho 'not on this Mac' >&2\nexit 3\n".into(),
                );
            },
        )
        .package(
            "Noisy",
            "1.0",
            &[
                receipt("com.example.noisy", "1.0"),
                payload_file("/Library/Noisy/data", "0644", "x"),
            ],
            |p| {
                p.insert(
                    "postinstall_script".into(),
                    "#!/bin/sh\necho 'could not restart the helper' >&2\nexit 4\n".into(),
                );
            },
        )
        .manifest(&[("managed_installs", &["Guarded", "Noisy"])])
        .sign(&mac);
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 1, "{report:#}");

    let guarded = item(&report, "Guarded");
    assert_eq!(text(guarded, "result"), "failed");
    assert_eq!(
        text(guarded, "error"),
        "preinstall_script failed (exit status 3: not on this Mac)"
    );
    assert!(!mac.exists("/Library/Guarded/data"));
    assert!(!mac.has_receipt("com.example.guarded"));

    let noisy = item(&report, "Noisy");
    assert_eq!(text(noisy, "result"), "changed");
    assert_eq!(
        noisy["warnings"],
        serde_json::json!([
            "postinstall_script failed (exit status 4: could not restart the helper)"
        ])
    );
    assert!(mac.has_receipt("com.example.noisy"));
    assert_eq!(summary(&report), [1, 0, 1, 0]);

    // The installer never ran for Guarded.
    assert_eq!(mac.installs(), ["install Noisy-1.0.pkg exit=0"]);
    let log = mac.log();
    assert_has(&log, "Guarded: preinstall_script err: not on this Mac");
    assert_has(&log, "WARN Noisy: postinstall_script failed");
}

// ---------------------------------------------------------------------------------------------
// 7. Script items.

const CHECK_MARKER: &str = "#!/bin/sh
# Installed when the marker exists.
[ -f \"$MMC_ROOT/var/db/example/marker\" ] && exit 1
exit 0
";

const WRITE_MARKER: &str = "#!/bin/sh
mkdir -p \"$MMC_ROOT/var/db/example\"
echo \"$MMC_ITEM $MMC_SCRIPT\" > \"$MMC_ROOT/var/db/example/marker\"
echo remediated
";

#[test]
fn a_script_item_remediates_once() {
    let mac = Mac::new();
    let bundle = BundleBuilder::new(V1)
        .script("Remediate", |p| {
            p.insert("installcheck_script".into(), CHECK_MARKER.into());
            p.insert("postinstall_script".into(), WRITE_MARKER.into());
        })
        .manifest(&[("managed_installs", &["Remediate"])])
        .sign(&mac);
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 0, "{report:#}");
    let remediate = item(&report, "Remediate");
    assert_eq!(text(remediate, "kind"), "script");
    assert_eq!(text(remediate, "result"), "changed");
    assert_eq!(text(remediate, "reason"), "installcheck_script exited 0");
    assert!(remediate.get("warnings").is_none(), "{remediate:#}");
    assert_eq!(
        mac.read("/var/db/example/marker"),
        "Remediate postinstall_script\n"
    );
    assert_has(&mac.log(), "Remediate: postinstall_script out: remediated");

    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 0, "{report:#}");
    let remediate = item(&report, "Remediate");
    assert_eq!(text(remediate, "result"), "unchanged");
    assert_eq!(text(remediate, "reason"), "installcheck_script exited 1");
    // Scripts leave nothing in the agent's scratch directory.
    let scratch = mac.path(&format!("/{STATE_DIR}/scratch"));
    assert_eq!(fs::read_dir(scratch).map(|d| d.count()).unwrap_or(0), 0);
}

#[test]
fn a_script_past_its_timeout_is_killed_and_reported() {
    let mac = Mac::new();
    mac.write(
        &format!("/{STATE_DIR}/agent.json"),
        r#"{"script_timeout_secs": 1}"#,
    );
    // Facts from a file: with a 1 s timeout for every command, the fakes that gather facts
    // are not what this test is about.
    let facts = mac.dir.path().join("facts.json");
    fs::write(&facts, r#"{"arch": "arm64", "os_vers": "15.1"}"#).unwrap();
    let bundle = BundleBuilder::new(V1)
        .script("Slow", |p| {
            p.insert("installcheck_script".into(), "#!/bin/sh\nexit 0\n".into());
            p.insert(
                "postinstall_script".into(),
                "#!/bin/sh\nsleep 4\ntouch \"$MMC_ROOT/too-late\"\n".into(),
            );
        })
        .manifest(&[("managed_installs", &["Slow"])])
        .sign(&mac);
    let started = Instant::now();
    let (code, report) = mac.run(&bundle, &["--facts", facts.to_str().unwrap()]);
    let took = started.elapsed();
    assert_eq!(code, 1, "{report:#}");
    let slow = item(&report, "Slow");
    assert_eq!(text(slow, "result"), "failed");
    assert_eq!(text(slow, "error"), "postinstall_script failed (timed out)");
    assert!(took < Duration::from_secs(4), "the run took {took:?}");
    // Killed, not abandoned: the script never gets to its last line.
    std::thread::sleep(Duration::from_secs(5).saturating_sub(started.elapsed()));
    assert!(
        !mac.exists("/too-late"),
        "the script ran on after the timeout"
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Preferences.

fn managed_values() -> Dictionary {
    dict([
        ("AutoUpdate", true.into()),
        ("Server", "https://updates.example.com".into()),
        ("Interval", 3600i64.into()),
    ])
}

fn preferences(version: u64) -> BundleBuilder {
    BundleBuilder::new(version)
        .preference(
            "SystemPrefs",
            "com.example.updater",
            PrefScope::System,
            managed_values(),
        )
        .preference(
            "UserPrefs",
            "com.example.editor",
            PrefScope::User,
            dict([("ShowWelcome", false.into())]),
        )
}

#[test]
fn preferences_keep_other_keys_the_format_and_reach_every_user() {
    let mac = Mac::new();
    // The system domain exists, binary, with a key of its own and a managed key set wrong.
    let mut existing = dict([
        ("LastCheck", "yesterday".into()),
        ("AutoUpdate", false.into()),
    ]);
    let system = "/Library/Preferences/com.example.updater.plist";
    let mut bytes = Vec::new();
    Plist::Dictionary(existing.clone())
        .to_writer_binary(&mut bytes)
        .unwrap();
    mac.write(system, &bytes);
    for home in ["alice", "bob", "Shared"] {
        fs::create_dir_all(mac.path(&format!("/Users/{home}"))).unwrap();
    }
    // As root, bob's file goes to bob (the owner of his home folder).
    let as_root = is_root();
    if as_root {
        std::os::unix::fs::chown(mac.path("/Users/bob"), Some(502), Some(20)).unwrap();
    }

    let first = preferences(V1)
        .manifest(&[("managed_installs", &["SystemPrefs", "UserPrefs"])])
        .sign(&mac);
    let (code, report) = mac.run(&first, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        steps(&report),
        ["SystemPrefs install changed", "UserPrefs install changed"]
    );
    assert_eq!(
        text(item(&report, "SystemPrefs"), "reason"),
        "com.example.updater keys: AutoUpdate, Interval, Server"
    );

    assert!(fs::read(mac.path(system)).unwrap().starts_with(b"bplist00"));
    for (k, v) in managed_values() {
        existing.insert(k, v);
    }
    assert_eq!(mac.plist(system), existing);

    let user_file =
        |home: &str| format!("/Users/{home}/Library/Preferences/com.example.editor.plist");
    for home in ["alice", "bob"] {
        assert_eq!(
            mac.plist(&user_file(home)),
            dict([("ShowWelcome", false.into())]),
            "{home}"
        );
    }
    assert!(!mac.exists("/Users/Shared/Library"));
    if as_root {
        assert_eq!(owner(&mac, &user_file("bob")), (502, 20));
    }

    // Converged.
    let (code, report) = mac.run(&first, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(summary(&report), [0, 2, 0, 0], "{report:#}");
    assert_eq!(
        text(item(&report, "SystemPrefs"), "reason"),
        "com.example.updater has every managed key"
    );

    // A user changes a managed key: it is set again, their other keys kept.
    let mut alice = mac.plist(&user_file("alice"));
    alice.insert("ShowWelcome".into(), true.into());
    alice.insert("RecentFiles".into(), strings(&["a.txt"]));
    Plist::Dictionary(alice)
        .to_file_xml(mac.path(&user_file("alice")))
        .unwrap();
    let (_, report) = mac.run(&first, &[]);
    assert_eq!(text(item(&report, "UserPrefs"), "result"), "changed");
    let alice = mac.plist(&user_file("alice"));
    assert_eq!(alice["ShowWelcome"], Plist::Boolean(false));
    assert_eq!(alice["RecentFiles"], strings(&["a.txt"]));
    assert!(
        !fs::read(mac.path(&user_file("alice")))
            .unwrap()
            .starts_with(b"bplist00")
    );

    // Removal takes out the managed keys and nothing else.
    let second = preferences(V1 + 1)
        .manifest(&[("managed_uninstalls", &["SystemPrefs"])])
        .sign(&mac);
    let (code, report) = mac.run(&second, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["SystemPrefs remove changed"]);
    assert_eq!(mac.plist(system), dict([("LastCheck", "yesterday".into())]));
    assert!(fs::read(mac.path(system)).unwrap().starts_with(b"bplist00"));
    let (_, report) = mac.run(&second, &[]);
    assert_eq!(
        text(item(&report, "SystemPrefs"), "reason"),
        "com.example.updater has none of the managed keys"
    );
}

/// A user's preferences must stay writable by that user: when the agent has to create
/// `~/Library/Preferences` for the file it writes there, the folders it creates are left to
/// root, and the user can no longer save any preference of their own.
#[test]

fn user_preference_folders_created_by_the_agent_belong_to_the_user() {
    if !is_root() {
        eprintln!("skipped: needs root to give files to another user");
        return;
    }
    let mac = Mac::new();
    fs::create_dir_all(mac.path("/Users/bob")).unwrap();
    std::os::unix::fs::chown(mac.path("/Users/bob"), Some(502), Some(20)).unwrap();
    let bundle = preferences(V1)
        .manifest(&[("managed_installs", &["UserPrefs"])])
        .sign(&mac);
    assert_eq!(mac.run(&bundle, &[]).0, 0);
    let file = "/Users/bob/Library/Preferences/com.example.editor.plist";
    assert_eq!(owner(&mac, file), (502, 20));
    assert_eq!(owner(&mac, "/Users/bob/Library/Preferences"), (502, 20));
    assert_eq!(owner(&mac, "/Users/bob/Library"), (502, 20));
}

// ---------------------------------------------------------------------------------------------
// 9. launchd.

fn job(interval: i64) -> Dictionary {
    dict([
        (
            "ProgramArguments",
            strings(&["/usr/local/bin/example-report", "--quiet"]),
        ),
        ("StartInterval", interval.into()),
    ])
}

#[test]
fn launchd_jobs_are_bootstrapped_reloaded_when_changed_and_removed() {
    let mac = Mac::new();
    let label = "com.example.report";
    let plist_path = format!("/Library/LaunchDaemons/{label}.plist");
    let loaded = || mac.fake("launchctl", &["print", &format!("system/{label}")]);
    let runs = || mac.read_or_empty(&format!("/var/db/mmc-fakes/launchd-runs/{label}"));

    let first = BundleBuilder::new(V1)
        .launchd("Report", label, job(3600))
        .manifest(&[("managed_installs", &["Report"])])
        .sign(&mac);
    let (code, report) = mac.run(&first, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["Report install changed"]);
    assert_eq!(
        text(item(&report, "Report"), "reason"),
        format!("{plist_path} is missing")
    );
    let mut wanted = job(3600);
    wanted.insert("Label".into(), label.into());
    assert_eq!(mac.plist(&plist_path), wanted);
    assert_eq!(mac.mode(&plist_path), 0o644);
    let out = loaded();
    assert_eq!(out.status.code(), Some(0));
    assert_has(
        &String::from_utf8_lossy(&out.stdout),
        &format!("path = {plist_path}"),
    );
    assert_eq!(
        mac.launchctl_log(),
        [format!("bootstrap {label} {plist_path}")]
    );
    assert_eq!(runs(), "1\n");

    // Unchanged: nothing is touched.
    let (_, report) = mac.run(&first, &[]);
    assert_eq!(text(item(&report, "Report"), "result"), "unchanged");
    assert_eq!(mac.launchctl_log().len(), 1);

    // Booted out by hand: bootstrapped again, the plist left as it is.
    assert_eq!(
        mac.fake("launchctl", &["bootout", &format!("system/{label}")])
            .status
            .code(),
        Some(0)
    );
    let (_, report) = mac.run(&first, &[]);
    let step = item(&report, "Report");
    assert_eq!(text(step, "result"), "changed");
    assert_eq!(text(step, "reason"), format!("{label} is not loaded"));
    assert_eq!(runs(), "2\n");

    // A changed job: booted out, rewritten, bootstrapped.
    let second = BundleBuilder::new(V1 + 1)
        .launchd("Report", label, job(600))
        .manifest(&[("managed_installs", &["Report"])])
        .sign(&mac);
    let (code, report) = mac.run(&second, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        text(item(&report, "Report"), "reason"),
        format!("{plist_path} differs")
    );
    assert_eq!(
        mac.plist(&plist_path)["StartInterval"],
        Plist::Integer(600.into())
    );
    let log = mac.launchctl_log();
    assert_eq!(
        log[log.len() - 2..],
        [
            format!("bootout {label}"),
            format!("bootstrap {label} {plist_path}")
        ]
    );
    assert_eq!(runs(), "3\n");

    // Removal: booted out and deleted.
    let third = BundleBuilder::new(V1 + 2)
        .launchd("Report", label, job(600))
        .manifest(&[("managed_uninstalls", &["Report"])])
        .sign(&mac);
    let (code, report) = mac.run(&third, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["Report remove changed"]);
    assert!(!mac.exists(&plist_path));
    assert_eq!(loaded().status.code(), Some(113));
    assert_eq!(
        mac.launchctl_log().last().unwrap(),
        &format!("bootout {label}")
    );
    let (_, report) = mac.run(&third, &[]);
    assert_eq!(
        text(item(&report, "Report"), "reason"),
        format!("{label} is not installed")
    );
}

/// docs/agent.md: the job's plist is "written (root:wheel 0644)"; launchd refuses a plist
/// that group or others may write. The agent compares only the content, so a plist whose
/// mode drifted is never repaired (a file item's mode is).
#[test]

fn a_launchd_plist_with_a_drifted_mode_is_rewritten() {
    let mac = Mac::new();
    let label = "com.example.report";
    let plist_path = format!("/Library/LaunchDaemons/{label}.plist");
    let bundle = BundleBuilder::new(V1)
        .launchd("Report", label, job(3600))
        .manifest(&[("managed_installs", &["Report"])])
        .sign(&mac);
    assert_eq!(mac.run(&bundle, &[]).0, 0);
    fs::set_permissions(mac.path(&plist_path), fs::Permissions::from_mode(0o666)).unwrap();
    let (_, report) = mac.run(&bundle, &[]);
    assert_eq!(
        text(item(&report, "Report"), "result"),
        "changed",
        "{report:#}"
    );
    assert_eq!(mac.mode(&plist_path), 0o644);
}

// ---------------------------------------------------------------------------------------------
// 10. Files.

#[test]
fn file_items_are_replaced_when_content_or_mode_differ_and_removed() {
    let mac = Mac::new();
    let path = "/etc/example/token.conf";
    let bundle = |version| BundleBuilder::new(version).file("Token", path, "token=abc\n", "0600");
    let first = bundle(V1)
        .manifest(&[("managed_installs", &["Token"])])
        .sign(&mac);

    let (code, report) = mac.run(&first, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        text(item(&report, "Token"), "reason"),
        format!("{path} is missing")
    );
    assert_eq!(mac.read(path), "token=abc\n");
    assert_eq!(mac.mode(path), 0o600);

    let (_, report) = mac.run(&first, &[]);
    assert_eq!(text(item(&report, "Token"), "result"), "unchanged");

    fs::set_permissions(mac.path(path), fs::Permissions::from_mode(0o644)).unwrap();
    let (_, report) = mac.run(&first, &[]);
    let token = item(&report, "Token");
    assert_eq!(text(token, "result"), "changed");
    assert_eq!(
        text(token, "reason"),
        format!("{path} has mode 0644, wants 0600")
    );
    assert_eq!(mac.mode(path), 0o600);

    mac.write(path, "token=stolen\n");
    let (_, report) = mac.run(&first, &[]);
    let token = item(&report, "Token");
    assert_eq!(text(token, "result"), "changed");
    assert_eq!(text(token, "reason"), format!("{path} differs"));
    assert_eq!(mac.read(path), "token=abc\n");
    assert_eq!(mac.mode(path), 0o600);
    // Replaced whole: no temporary sibling is left behind.
    let siblings: Vec<_> = fs::read_dir(mac.path("/etc/example"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings, ["token.conf"]);

    let second = bundle(V1 + 1)
        .manifest(&[("managed_uninstalls", &["Token"])])
        .sign(&mac);
    let (code, report) = mac.run(&second, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["Token remove changed"]);
    assert!(!mac.exists(path));
    let (_, report) = mac.run(&second, &[]);
    assert_eq!(
        text(item(&report, "Token"), "reason"),
        format!("{path} is absent")
    );
}

// ---------------------------------------------------------------------------------------------
// 11. Applicability.

#[test]
fn items_that_do_not_apply_to_this_mac_are_skipped() {
    let mac = Mac::new();
    let simple = |name: &str| {
        vec![receipt(
            &format!("com.example.{}", name.to_lowercase()),
            "1.0",
        )]
    };
    let bundle = BundleBuilder::new(V1)
        .package("IntelOnly", "1.0", &simple("IntelOnly"), |p| {
            p.insert("supported_architectures".into(), strings(&["x86_64"]));
        })
        .package("Future", "1.0", &simple("Future"), |p| {
            p.insert("minimum_os_version".into(), "99.0".into());
        })
        .package("Legacy", "1.0", &simple("Legacy"), |p| {
            p.insert("maximum_os_version".into(), "14.9".into());
        })
        .package("Conditional", "1.0", &simple("Conditional"), |p| {
            p.insert("installable_condition".into(), "arch == \"x86_64\"".into());
        })
        .package("Fits", "1.0", &simple("Fits"), |p| {
            p.insert(
                "supported_architectures".into(),
                strings(&["x86_64", "arm64"]),
            );
            p.insert("minimum_os_version".into(), "15.0".into());
            p.insert("maximum_os_version".into(), "15.1".into());
            p.insert("installable_condition".into(), "arch == \"arm64\"".into());
        })
        .manifest(&[(
            "managed_installs",
            &["IntelOnly", "Future", "Legacy", "Conditional", "Fits"],
        )])
        .sign(&mac);
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 0, "{report:#}");
    let reasons: BTreeMap<&str, (&str, &str)> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (text(i, "name"), (text(i, "result"), text(i, "reason"))))
        .collect();
    assert_eq!(
        reasons,
        BTreeMap::from([
            (
                "Conditional",
                (
                    "skipped",
                    "installable_condition is false: arch == \"x86_64\""
                )
            ),
            ("Fits", ("changed", "no receipt for com.example.fits")),
            (
                "Future",
                ("skipped", "needs macOS 99.0 or later; this Mac has 15.1")
            ),
            (
                "IntelOnly",
                ("skipped", "supports x86_64 only; this Mac is arm64")
            ),
            (
                "Legacy",
                ("skipped", "needs macOS 14.9 or earlier; this Mac has 15.1")
            ),
        ])
    );
    assert_eq!(summary(&report), [1, 0, 0, 4]);
    assert_eq!(mac.installs(), ["install Fits-1.0.pkg exit=0"]);
}

// ---------------------------------------------------------------------------------------------
// 12. incoming/.

#[test]
fn without_bundle_the_newest_incoming_bundle_that_verifies_is_applied() {
    let mac = Mac::new();
    let incoming = mac.path(&format!("/{STATE_DIR}/incoming"));
    let marker = |version: u64| {
        BundleBuilder::new(version)
            .file(
                "Which",
                "/etc/which-bundle",
                &format!("{version}\n"),
                "0644",
            )
            .manifest(&[("managed_installs", &["Which"])])
    };
    marker(V1).sign_into(&mac, &incoming);
    marker(V1 + 100).sign_into(&mac, &incoming);
    // The newest is corrupt: its archive no longer matches its signed statement.
    let corrupt = marker(V1 + 200).sign_into(&mac, &incoming);
    let mut bytes = fs::read(&corrupt).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    fs::write(&corrupt, bytes).unwrap();

    let out = mac.agent("run", None, Some(&mac.trusted()), &["--format", "json"], "");
    let (code, report) = report_of(&out, &String::from_utf8_lossy(&out.stdout));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["bundle"]["version"], V1 + 100);
    assert_eq!(mac.read("/etc/which-bundle"), format!("{}\n", V1 + 100));
    let state: Value = serde_json::from_slice(&fs::read(mac.state_json()).unwrap()).unwrap();
    assert_eq!(state["last_applied"]["version"], V1 + 100);

    // Nothing in incoming/ verifies: exit 2, naming why.
    let empty = Mac::new();
    let incoming = empty.path(&format!("/{STATE_DIR}/incoming"));
    fs::create_dir_all(&incoming).unwrap();
    fs::copy(&corrupt, incoming.join(corrupt.file_name().unwrap())).unwrap();
    let sig = corrupt.with_file_name(format!(
        "{}.sig",
        corrupt.file_name().unwrap().to_str().unwrap()
    ));
    fs::copy(&sig, incoming.join(sig.file_name().unwrap())).unwrap();
    let out = empty.agent("run", None, Some(&empty.trusted()), &[], "");
    super::assert_fails_with(&out, "archive SHA-256 does not match");
    assert!(!empty.state_json().exists());
}

// ---------------------------------------------------------------------------------------------
// 13. Runs that cannot start.

#[test]
fn runs_that_cannot_start_exit_2_and_write_no_state() {
    let simple = || {
        BundleBuilder::new(V1)
            .file("Motd", "/etc/motd", "hello\n", "0644")
            .manifest(&[("managed_installs", &["Motd"])])
    };

    let mac = Mac::new();
    let bundle = simple().sign(&mac);
    let out = mac.agent(
        "run",
        Some(&bundle),
        Some(&mac.trusted()),
        &["--now", "2026-12-02T10:00:00Z"],
        "",
    );
    super::assert_fails_with(&out, "bundle expired at 2026-12-01T00:00:00Z");
    assert!(!mac.state_json().exists());
    assert!(!mac.exists("/etc/motd"));

    let mac = Mac::new();
    let bundle = simple().sign(&mac);
    let out = mac.agent("run", Some(&bundle), Some(&mac.untrusted()), &[], "");
    super::assert_fails_with(&out, "signed by unknown key");
    assert!(!mac.state_json().exists());
    assert!(!mac.exists("/etc/motd"));

    let mac = Mac::new();
    let bundle = simple().sign(&mac);
    let out = mac.agent("run", Some(&bundle), None, &[], "");
    super::assert_fails_with(&out, "no trusted keys: pass --trust PUBKEY");
    assert!(!mac.state_json().exists());
    assert!(!mac.exists("/etc/motd"));

    let mac = Mac::new();
    let mut old_layout = simple();
    old_layout.format = 1;
    let bundle = old_layout.sign(&mac);
    let out = mac.agent("run", Some(&bundle), Some(&mac.trusted()), &[], "");
    super::assert_fails_with(&out, "config.json has layout 1, this agent reads layout 2");
    assert!(!mac.state_json().exists());
    assert!(!mac.exists("/etc/motd"));
    assert_has(
        &mac.log(),
        "config.json has layout 1, this agent reads layout 2",
    );
}

// ---------------------------------------------------------------------------------------------
// 14. interactive.

fn three_files(mac: &Mac) -> PathBuf {
    BundleBuilder::new(V1)
        .file("Alpha", "/etc/alpha", "a\n", "0644")
        .file("Beta", "/etc/beta", "b\n", "0644")
        .file("Gamma", "/etc/gamma", "c\n", "0644")
        .manifest(&[("managed_installs", &["Alpha", "Beta", "Gamma"])])
        .sign(mac)
}

#[test]
fn interactive_applies_only_the_chosen_item_and_logs_who() {
    let mac = Mac::new();
    let bundle = three_files(&mac);
    let out = mac.agent(
        "interactive",
        Some(&bundle),
        Some(&mac.trusted()),
        &["--format", "json"],
        "2\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (listing, json) = stdout
        .split_once("Run which items? (numbers or names, q to quit): ")
        .unwrap_or_else(|| panic!("no prompt in:\n{stdout}"));
    let names: Vec<Vec<&str>> = listing
        .lines()
        .map(|l| l.split_whitespace().take(3).collect())
        .collect();
    assert_eq!(
        names,
        [
            ["1", "Alpha", "file"],
            ["2", "Beta", "file"],
            ["3", "Gamma", "file"]
        ]
    );
    let (code, report) = report_of(&out, json);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["Beta install changed"]);
    assert_eq!(
        text(item(&report, "Beta"), "source"),
        "chosen interactively"
    );
    assert_eq!(mac.read("/etc/beta"), "b\n");
    assert!(!mac.exists("/etc/alpha"));
    assert!(!mac.exists("/etc/gamma"));
    assert_has(
        &mac.log(),
        &format!("INFO interactive run by carol: Beta (bundle stable version {V1})"),
    );

    // By name too.
    let out = mac.agent(
        "interactive",
        Some(&bundle),
        Some(&mac.trusted()),
        &[],
        "Gamma\n",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(mac.read("/etc/gamma"), "c\n");
    assert!(!mac.exists("/etc/alpha"));
}

#[test]
fn interactive_q_changes_nothing() {
    let mac = Mac::new();
    let bundle = three_files(&mac);
    let out = mac.agent(
        "interactive",
        Some(&bundle),
        Some(&mac.trusted()),
        &[],
        "q\n",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("nothing run\n"));
    for path in ["/etc/alpha", "/etc/beta", "/etc/gamma"] {
        assert!(!mac.exists(path), "{path}");
    }
    assert!(!mac.state_json().exists());
    assert!(!mac.log().contains("interactive run"), "{}", mac.log());
}

// ---------------------------------------------------------------------------------------------
// 15. status.

#[test]
fn status_shows_the_last_runs_counts() {
    let mac = Mac::new();
    let bundle = BundleBuilder::new(V1)
        .file("Motd", "/etc/motd", "hello\n", "0644")
        .file("Banner", "/etc/banner", "welcome\n", "0644")
        .package(
            "Broken",
            "1.0",
            &[receipt("com.example.broken", "1.0")],
            |p| {
                p.insert("installer_item_hash".into(), sha256(b"other").into());
            },
        )
        .package(
            "IntelOnly",
            "1.0",
            &[receipt("com.example.intel", "1.0")],
            |p| {
                p.insert("supported_architectures".into(), strings(&["x86_64"]));
            },
        )
        .manifest(&[(
            "managed_installs",
            &["Motd", "Banner", "Broken", "IntelOnly"],
        )]);
    mac.write("/etc/banner", "welcome\n");
    fs::set_permissions(mac.path("/etc/banner"), fs::Permissions::from_mode(0o644)).unwrap();
    let (code, report) = mac.run(&bundle.sign(&mac), &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(summary(&report), [1, 1, 1, 1]);

    let status = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_mmc-agent"))
            .arg("status")
            .arg("--root")
            .arg(mac.root())
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };

    let human = status(&[]);
    let lines: Vec<&str> = human.lines().collect();
    assert!(
        lines[0].starts_with(&format!("Last applied: stable version {V1} at ")),
        "{human}"
    );
    assert_eq!(lines[1], "  manifest: site_default");
    assert_eq!(
        lines[2],
        "  results:  1 changed, 1 unchanged, 1 failed, 1 skipped"
    );
    assert_eq!(lines[3], "  expires:  2026-12-01T00:00:00Z");
    assert_eq!(
        lines[4],
        format!("  floor:    key epoch 0, version {V1} (older bundles are refused)")
    );
    assert_eq!(lines[5], "Items:");
    // Failed first, then by name.
    let items: Vec<Vec<&str>> = lines[6..10]
        .iter()
        .map(|l| l.split_whitespace().take(2).collect())
        .collect();
    assert_eq!(
        items,
        [
            ["Broken", "failed"],
            ["Banner", "unchanged"],
            ["IntelOnly", "skipped"],
            ["Motd", "changed"]
        ]
    );
    assert_has(lines[6], "SHA-256");
    assert_eq!(lines[10], "Right now: no run in progress");
    assert_eq!(lines[11], "Waiting in incoming/: nothing");

    let json: Value = serde_json::from_str(&status(&["--format", "json"])).unwrap();
    let applied = &json["last_applied"];
    assert_eq!(applied["version"], V1);
    assert_eq!(
        [
            &applied["changed"],
            &applied["unchanged"],
            &applied["failed"]
        ],
        [1, 1, 1]
    );
    assert_eq!(json["items"]["Broken"]["result"], "failed");
    assert_eq!(json["items"]["Broken"]["version"], "1.0");
    assert_has(text(&json["items"]["Broken"], "error"), "SHA-256");
    assert_eq!(json["items"]["IntelOnly"]["result"], "skipped");
    assert_eq!(json["items"]["Motd"]["result"], "changed");
    assert_eq!(json["running"], false);
    assert_eq!(json["incoming"], serde_json::json!([]));
}

// ---------------------------------------------------------------------------------------------
// The script timeout and the installer.

/// docs/agent.md: "Scripts run with a timeout (`script_timeout_secs`, default 600 s)". The run
/// also gives that timeout to every macOS command, `installer` included, so an install that
/// takes longer than a script may is killed. Munki waits for `installer` however long it takes.
#[test]

fn the_script_timeout_does_not_cut_short_the_installer() {
    let mac = Mac::new();
    // The fakes, with an installer that takes 2 s.
    let commands = mac.dir.path().join("commands");
    fs::create_dir(&commands).unwrap();
    for entry in fs::read_dir(fakes()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "installer" {
            std::os::unix::fs::symlink(entry.path(), commands.join(entry.file_name())).unwrap();
        }
    }
    let slow = commands.join("installer");
    fs::write(
        &slow,
        format!(
            "#!/bin/sh\nsleep 2\nexec '{}' \"$@\"\n",
            fakes().join("installer").display()
        ),
    )
    .unwrap();
    fs::set_permissions(&slow, fs::Permissions::from_mode(0o755)).unwrap();
    mac.write(
        &format!("/{STATE_DIR}/agent.json"),
        r#"{"script_timeout_secs": 1}"#,
    );
    let facts = mac.dir.path().join("facts.json");
    fs::write(&facts, r#"{"arch": "arm64", "os_vers": "15.1"}"#).unwrap();
    let bundle = BundleBuilder::new(V1)
        .package("Big", "1.0", &[receipt("com.example.big", "1.0")], |_| {})
        .manifest(&[("managed_installs", &["Big"])])
        .sign(&mac);
    let out = Command::new(env!("CARGO_BIN_EXE_mmc-agent"))
        .args(["run", "--format", "json", "--now", NOW])
        .arg("--root")
        .arg(mac.root())
        .arg("--commands")
        .arg(&commands)
        .arg("--packages")
        .arg(mac.packages())
        .arg("--trust")
        .arg(mac.trusted())
        .arg("--bundle")
        .arg(&bundle)
        .arg("--facts")
        .arg(&facts)
        .output()
        .unwrap();
    let (code, report) = report_of(&out, &String::from_utf8_lossy(&out.stdout));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(text(item(&report, "Big"), "result"), "changed");
}
