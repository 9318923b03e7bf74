use super::*;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use mmc_config::Pkginfo;
use plist::{Dictionary, Value};
use tempfile::TempDir;

use crate::platform::{Root, Runner};
use crate::script::Scripts;

// ---------------------------------------------------------------------------------------------
// A Mac in a temporary directory
// ---------------------------------------------------------------------------------------------

/// A temporary root standing in for the Mac's `/`, and a commands directory whose fake
/// `pkgutil` prints the receipts the test asked for.
struct Mac {
    dir: TempDir,
    root: Root,
    runner: Runner,
}

impl Mac {
    /// A Mac with no package receipts.
    fn new() -> Mac {
        Mac::with_receipts(&[])
    }

    /// A Mac whose `pkgutil --regexp --pkg-info-plist .*` reports these `(pkgid, version)`s.
    fn with_receipts(receipts: &[(&str, &str)]) -> Mac {
        let mut output = String::from("pkgutil: a junk line before the first document\n");
        for (id, version) in receipts {
            output.push_str(&receipt_document(id, version));
        }
        Mac::with_pkgutil(&output, 0)
    }

    /// A Mac whose `pkgutil` prints `stdout` and exits with `status` when called with the
    /// arguments Munki uses, and fails otherwise. Every call is logged to `pkgutil.calls`.
    fn with_pkgutil(stdout: &str, status: i32) -> Mac {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("root")).unwrap();
        let root = Root::new(&dir.path().join("root")).unwrap();
        let commands = dir.path().join("commands");
        fs::create_dir(&commands).unwrap();
        fs::write(commands.join("pkgutil.out"), stdout).unwrap();
        let script = format!(
            "#!/bin/sh\n\
             echo \"$*\" >> '{calls}'\n\
             if [ \"$*\" != '--regexp --pkg-info-plist .*' ]; then\n\
             \techo \"pkgutil: unexpected arguments: $*\" >&2\n\
             \texit 64\n\
             fi\n\
             cat '{out}'\n\
             exit {status}\n",
            calls = commands.join("pkgutil.calls").display(),
            out = commands.join("pkgutil.out").display(),
        );
        // The executable is written by a child process, `cp`: a file this multi-threaded test
        // process held open for writing could leak into a command another test is starting
        // (between its fork and exec), and running the fake would then fail with "Text file
        // busy" (ETXTBSY).
        let source = dir.path().join("pkgutil.sh");
        fs::write(&source, script).unwrap();
        fs::set_permissions(&source, fs::Permissions::from_mode(0o755)).unwrap();
        let pkgutil = commands.join("pkgutil");
        let copied = std::process::Command::new("/bin/cp")
            .arg(&source)
            .arg(&pkgutil)
            .status()
            .unwrap();
        assert!(copied.success());
        fs::set_permissions(&pkgutil, fs::Permissions::from_mode(0o755)).unwrap();
        let runner = Runner::new(&root, &BTreeMap::new(), Some(&commands), None);
        Mac { dir, root, runner }
    }

    fn scripts(&self) -> Scripts<'_> {
        Scripts {
            runner: &self.runner,
            scratch: self.dir.path().join("scratch"),
            timeout: Duration::from_secs(10),
        }
    }

    /// Runs `f` with a fresh probe (so nothing read by an earlier probe is remembered).
    fn probe<R>(&self, f: impl FnOnce(&Probe<'_>) -> R) -> R {
        let scripts = self.scripts();
        let probe = Probe::new(&self.root, &self.runner, &scripts);
        f(&probe)
    }

    fn state(&self, p: &Pkginfo) -> Decision {
        self.probe(|probe| probe.state(p))
    }

    fn some_version(&self, p: &Pkginfo) -> bool {
        self.probe(|probe| probe.some_version_installed(p))
    }

    fn evidence(&self, p: &Pkginfo, shared: &[&str]) -> Decision {
        let shared: BTreeSet<String> = shared.iter().map(|s| (*s).to_owned()).collect();
        self.probe(|probe| probe.evidence_installed(p, &shared))
    }

    /// Where the Mac's absolute `path` is on this machine.
    fn path(&self, path: &str) -> PathBuf {
        self.root.path(path).unwrap()
    }

    /// Writes a plist dictionary of strings at the Mac's `path`.
    fn plist(&self, path: &str, entries: &[(&str, &str)]) {
        let path = self.path(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        Value::Dictionary(dict(entries)).to_file_xml(&path).unwrap();
    }

    /// An application bundle at `path` whose Info.plist has these versions.
    fn app(&self, path: &str, short: Option<&str>, bundle: Option<&str>) {
        let mut entries = Vec::new();
        entries.extend(short.map(|v| ("CFBundleShortVersionString", v)));
        entries.extend(bundle.map(|v| ("CFBundleVersion", v)));
        self.plist(&format!("{path}/Contents/Info.plist"), &entries);
    }

    /// An application bundle with arbitrary Info.plist keys.
    fn app_with(&self, path: &str, entries: &[(&str, &str)]) {
        self.plist(&format!("{path}/Contents/Info.plist"), entries);
    }

    fn file(&self, path: &str, content: &str) {
        let path = self.path(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    /// How many times `pkgutil` ran.
    fn pkgutil_calls(&self) -> usize {
        fs::read_to_string(self.dir.path().join("commands/pkgutil.calls"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }
}

/// One `pkgutil --pkg-info-plist` record (munki-delivery.md §5.2).
fn receipt_document(id: &str, version: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>install-location</key><string>/</string>
	<key>install-time</key><integer>1737854274</integer>
	<key>pkg-version</key><string>{version}</string>
	<key>pkgid</key><string>{id}</string>
	<key>receipt-plist-version</key><real>1</real>
	<key>volume</key><string>/</string>
</dict>
</plist>
"#
    )
}

// ---------------------------------------------------------------------------------------------
// Pkginfos
// ---------------------------------------------------------------------------------------------

fn dict(entries: &[(&str, &str)]) -> Dictionary {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect()
}

fn pkginfo(version: &str) -> Pkginfo {
    Pkginfo {
        name: "Thing".into(),
        version: version.into(),
        ..Default::default()
    }
}

fn pkginfo_with_installs(items: Vec<Dictionary>) -> Pkginfo {
    Pkginfo {
        installs: Some(items),
        ..pkginfo("1.0")
    }
}

fn pkginfo_with_receipts(receipts: Vec<Dictionary>) -> Pkginfo {
    Pkginfo {
        receipts: Some(receipts),
        ..pkginfo("1.0")
    }
}

/// An `application` installs item with a path, expecting `short` as CFBundleShortVersionString.
fn application(path: &str, short: &str) -> Dictionary {
    dict(&[
        ("type", "application"),
        ("path", path),
        ("CFBundleShortVersionString", short),
    ])
}

fn receipt(id: &str, version: &str) -> Dictionary {
    dict(&[("packageid", id), ("version", version)])
}

fn optional(mut receipt: Dictionary) -> Dictionary {
    receipt.insert("optional".into(), Value::Boolean(true));
    receipt
}

/// A `/bin/sh` script with this body.
fn sh(body: &str) -> Option<String> {
    Some(format!("#!/bin/sh\n{body}\n"))
}

#[track_caller]
fn assert_decision(decision: &Decision, state: State, word: &str) {
    assert_eq!(decision.state, state, "reason: {}", decision.reason);
    assert!(
        decision.reason.contains(word),
        "the reason {:?} should mention {word:?}",
        decision.reason
    );
}

const FOO: &str = "/Applications/Foo.app";

// ---------------------------------------------------------------------------------------------
// 1. Precedence: the first rule that applies decides
// ---------------------------------------------------------------------------------------------

#[test]
fn on_demand_beats_an_installcheck_script_which_never_runs() {
    let mac = Mac::new();
    let p = Pkginfo {
        on_demand: Some(true),
        installcheck_script: sh("touch \"$MMC_ROOT/ran\"\nexit 1"),
        ..pkginfo("1.0")
    };
    assert_decision(&mac.state(&p), State::NotInstalled, "OnDemand");
    assert!(!mac.path("/ran").exists(), "the installcheck_script ran");

    // OnDemand false is no rule at all: the script decides.
    let p = Pkginfo {
        on_demand: Some(false),
        ..p
    };
    assert_decision(&mac.state(&p), State::Installed, "installcheck_script");
    assert!(mac.path("/ran").exists());
}

#[test]
fn installcheck_exit_0_means_not_installed_even_when_installs_say_current() {
    let mac = Mac::new();
    mac.app(FOO, Some("1.0"), None);
    let current = pkginfo_with_installs(vec![application(FOO, "1.0")]);
    assert_eq!(mac.state(&current).state, State::Installed);
    let p = Pkginfo {
        installcheck_script: sh("exit 0"),
        ..current
    };
    assert_decision(
        &mac.state(&p),
        State::NotInstalled,
        "installcheck_script exited 0",
    );
}

#[test]
fn installcheck_non_zero_means_installed_even_when_installs_are_missing() {
    let mac = Mac::new();
    let missing = pkginfo_with_installs(vec![application(FOO, "1.0")]);
    assert_eq!(mac.state(&missing).state, State::NotInstalled);
    for status in [1, 2, 255] {
        let p = Pkginfo {
            installcheck_script: sh(&format!("exit {status}")),
            ..missing.clone()
        };
        assert_decision(
            &mac.state(&p),
            State::Installed,
            &format!("installcheck_script exited {status}"),
        );
    }
}

#[test]
fn an_installcheck_script_that_cannot_run_means_installed() {
    let mac = Mac::new();
    let missing = pkginfo_with_installs(vec![application(FOO, "1.0")]);
    for script in [
        "exit 0\n",                         // no #! line
        "#!/no/such/interpreter\nexit 0\n", // the interpreter is missing
        "",                                 // Swift Munki runs even an empty script
    ] {
        let p = Pkginfo {
            installcheck_script: Some(script.to_owned()),
            ..missing.clone()
        };
        assert_decision(&mac.state(&p), State::Installed, "exited -1");
    }
}

#[test]
fn installcheck_script_beats_version_script() {
    let mac = Mac::new();
    let p = Pkginfo {
        installcheck_script: sh("exit 1"),
        version_script: sh("echo 0.1"),
        ..pkginfo("1.0")
    };
    assert_decision(&mac.state(&p), State::Installed, "installcheck_script");
}

#[test]
fn version_script_output_is_compared_with_the_pkginfo_version() {
    let mac = Mac::new();
    let with = |body: &str| Pkginfo {
        version_script: sh(body),
        ..pkginfo("2.0")
    };
    assert_decision(&mac.state(&with("echo 1.9")), State::NotInstalled, "older");
    assert_decision(&mac.state(&with("echo 2.0.0")), State::Installed, "2.0.0");
    assert_decision(
        &mac.state(&with("printf '  2.0 \\n\\n'")),
        State::Installed,
        "2.0",
    );
    assert_decision(
        &mac.state(&with("echo 2.1")),
        State::NewerInstalled,
        "newer",
    );
    // Munki 7's comparison, not semver: 2.0b1 sorts after 2.0.
    assert_eq!(mac.state(&with("echo 2.0b1")).state, State::NewerInstalled);
    assert_decision(&mac.state(&with("true")), State::NotInstalled, "no version");
    assert_decision(
        &mac.state(&with("echo '   '")),
        State::NotInstalled,
        "no version",
    );
    // A failing script means not present, whatever it printed.
    assert_decision(
        &mac.state(&with("echo 2.0; exit 3")),
        State::NotInstalled,
        "no version",
    );
    // One that cannot run at all, too.
    let p = Pkginfo {
        version_script: Some("echo 2.0\n".into()),
        ..pkginfo("2.0")
    };
    assert_eq!(mac.state(&p).state, State::NotInstalled);
}

#[test]
fn version_script_beats_installs() {
    let mac = Mac::new();
    let p = Pkginfo {
        version_script: sh("echo 1.0"),
        ..pkginfo_with_installs(vec![application(FOO, "1.0")])
    };
    assert_decision(&mac.state(&p), State::Installed, "version_script");

    mac.app(FOO, Some("1.0"), None);
    let p = Pkginfo {
        version_script: sh("exit 1"),
        ..p
    };
    assert_decision(&mac.state(&p), State::NotInstalled, "version_script");
}

#[test]
fn installs_beat_receipts() {
    // Installs current, receipt missing: installed.
    let mac = Mac::new();
    mac.app(FOO, Some("1.0"), None);
    let p = Pkginfo {
        receipts: Some(vec![receipt("com.example.foo", "1.0")]),
        ..pkginfo_with_installs(vec![application(FOO, "1.0")])
    };
    assert_decision(&mac.state(&p), State::Installed, "installs");
    assert_eq!(
        mac.pkgutil_calls(),
        0,
        "receipts were read although installs decide"
    );

    // Installs missing, receipt present: not installed.
    let mac = Mac::with_receipts(&[("com.example.foo", "1.0")]);
    assert_decision(&mac.state(&p), State::NotInstalled, "not present");
}

#[test]
fn empty_installs_fall_through_to_receipts() {
    let p = Pkginfo {
        installs: Some(vec![]),
        receipts: Some(vec![receipt("com.example.foo", "1.0")]),
        ..pkginfo("1.0")
    };
    assert_decision(
        &Mac::new().state(&p),
        State::NotInstalled,
        "no receipt for com.example.foo",
    );
    let mac = Mac::with_receipts(&[("com.example.foo", "1.0")]);
    assert_decision(&mac.state(&p), State::Installed, "receipt");
}

#[test]
fn empty_receipts_mean_installed() {
    let mac = Mac::new();
    let p = pkginfo_with_receipts(vec![]);
    assert_decision(&mac.state(&p), State::Installed, "empty receipts");
    let p = Pkginfo {
        installs: Some(vec![]),
        ..p
    };
    assert_decision(&mac.state(&p), State::Installed, "empty receipts");
}

#[test]
fn no_evidence_at_all_means_installed() {
    let mac = Mac::new();
    assert_decision(&mac.state(&pkginfo("1.0")), State::Installed, "no installs");
    let p = Pkginfo {
        installs: Some(vec![]),
        ..pkginfo("1.0")
    };
    assert_decision(&mac.state(&p), State::Installed, "no installs");
}

#[test]
fn a_pkginfo_read_from_xml_is_judged_by_its_installs() {
    let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>name</key><string>Foo</string>
	<key>version</key><string>3.1</string>
	<key>installs</key>
	<array>
		<dict>
			<key>type</key><string>application</string>
			<key>path</key><string>/Applications/Foo.app</string>
			<key>CFBundleIdentifier</key><string>com.example.foo</string>
			<key>CFBundleShortVersionString</key><string>3.1</string>
			<key>minosversion</key><string>12.0</string>
		</dict>
	</array>
	<key>receipts</key>
	<array>
		<dict>
			<key>packageid</key><string>com.example.foo</string>
			<key>version</key><string>3.1</string>
		</dict>
	</array>
</dict>
</plist>
"#;
    let p = Pkginfo::from_plist(xml).unwrap();
    let mac = Mac::with_receipts(&[("com.example.foo", "3.1")]);
    assert_decision(
        &mac.state(&p),
        State::NotInstalled,
        "installs application /Applications/Foo.app",
    );
    mac.app(FOO, Some("3.0.9"), None);
    assert_decision(&mac.state(&p), State::NotInstalled, "older");
    mac.app(FOO, Some("3.1.0"), None);
    assert_eq!(mac.state(&p).state, State::Installed);
    mac.app(FOO, Some("3.10"), None);
    assert_decision(&mac.state(&p), State::NewerInstalled, "newer");
}

// ---------------------------------------------------------------------------------------------
// 2. installs: application
// ---------------------------------------------------------------------------------------------

#[test]
fn application_with_a_missing_directory_is_not_present() {
    let mac = Mac::new();
    let p = pkginfo_with_installs(vec![application(FOO, "1.0")]);
    assert_decision(&mac.state(&p), State::NotInstalled, "not present");
}

#[test]
fn application_without_an_info_plist_is_not_present() {
    let mac = Mac::new();
    fs::create_dir_all(mac.path("/Applications/Foo.app/Contents/MacOS")).unwrap();
    let p = pkginfo_with_installs(vec![application(FOO, "1.0")]);
    assert_decision(&mac.state(&p), State::NotInstalled, "not present");
    // Resources/Info.plist does not count for an application with a path.
    mac.plist(
        "/Applications/Foo.app/Resources/Info.plist",
        &[("CFBundleShortVersionString", "1.0")],
    );
    assert_decision(&mac.state(&p), State::NotInstalled, "not present");
}

#[test]
fn application_short_version_older_same_newer() {
    let mac = Mac::new();
    mac.app(FOO, Some("2.0"), Some("200"));
    let expecting = |v: &str| pkginfo_with_installs(vec![application(FOO, v)]);
    assert_decision(&mac.state(&expecting("2.1")), State::NotInstalled, "older");
    assert_decision(&mac.state(&expecting("2.0")), State::Installed, "current");
    assert_decision(
        &mac.state(&expecting("2.0.0.0")),
        State::Installed,
        "current",
    );
    assert_decision(
        &mac.state(&expecting("1.9")),
        State::NewerInstalled,
        "newer",
    );
    // The reference is the installs item's version, not the pkginfo's.
    let p = Pkginfo {
        version: "9.9".into(),
        ..expecting("2.0")
    };
    assert_eq!(mac.state(&p).state, State::Installed);
}

#[test]
fn version_comparison_key_cf_bundle_version() {
    let mac = Mac::new();
    mac.app(FOO, Some("5.0"), Some("100"));
    let expecting = |bundle: &str| {
        let mut item = application(FOO, "5.0");
        item.insert(
            "version_comparison_key".into(),
            Value::String("CFBundleVersion".into()),
        );
        item.insert("CFBundleVersion".into(), Value::String(bundle.into()));
        pkginfo_with_installs(vec![item])
    };
    // The short version in the item is ignored: only CFBundleVersion is compared.
    assert_eq!(mac.state(&expecting("100")).state, State::Installed);
    assert_decision(&mac.state(&expecting("101")), State::NotInstalled, "older");
    assert_decision(&mac.state(&expecting("99")), State::NewerInstalled, "newer");

    // An explicit key does not fall back: no CFBundleVersion on disk means not present.
    mac.app(FOO, Some("5.0"), None);
    assert_decision(
        &mac.state(&expecting("100")),
        State::NotInstalled,
        "not present",
    );
}

#[test]
fn without_a_comparison_key_the_installed_version_falls_back_to_cf_bundle_version() {
    let mac = Mac::new();
    mac.app(FOO, None, Some("3.1"));
    let expecting = |v: &str| pkginfo_with_installs(vec![application(FOO, v)]);
    assert_eq!(mac.state(&expecting("3.1")).state, State::Installed);
    assert_decision(&mac.state(&expecting("3.2")), State::NotInstalled, "older");
    // ...but only when CFBundleShortVersionString is absent.
    mac.app(FOO, Some("3.0"), Some("3.1"));
    assert_decision(&mac.state(&expecting("3.1")), State::NotInstalled, "older");
    // No version at all on disk: not present.
    mac.app_with(FOO, &[("CFBundleIdentifier", "com.example.foo")]);
    assert_decision(
        &mac.state(&expecting("3.1")),
        State::NotInstalled,
        "not present",
    );
    // An empty version is no version, and an empty CFBundleShortVersionString does not fall
    // back to CFBundleVersion (Munki's getVersionString returns the first key that is a string).
    mac.app(FOO, Some(""), Some("3.1"));
    assert_decision(
        &mac.state(&expecting("3.1")),
        State::NotInstalled,
        "not present",
    );
}

#[test]
fn an_installs_item_without_its_expected_version_is_malformed_and_counts_as_installed() {
    // Munki's quirk: compareItem throws, and installedState answers "installed" so that it
    // does not attempt an install.
    let mac = Mac::new();
    mac.app(FOO, Some("1.0"), None);
    let item = dict(&[("type", "application"), ("path", FOO)]);
    let p = pkginfo_with_installs(vec![item]);
    assert_decision(&mac.state(&p), State::Installed, "malformed");

    // The same when version_comparison_key names a key the item lacks.
    let item = dict(&[
        ("type", "application"),
        ("path", FOO),
        ("CFBundleShortVersionString", "1.0"),
        ("version_comparison_key", "CFBundleVersion"),
    ]);
    assert_decision(
        &mac.state(&pkginfo_with_installs(vec![item])),
        State::Installed,
        "malformed",
    );

    // And for an installs item with no type, or a type Munki 7 does not know.
    let p = pkginfo_with_installs(vec![dict(&[
        ("path", FOO),
        ("CFBundleShortVersionString", "1.0"),
    ])]);
    assert_decision(&mac.state(&p), State::Installed, "malformed");
    let p = pkginfo_with_installs(vec![dict(&[("type", "profile"), ("path", FOO)])]);
    assert_decision(&mac.state(&p), State::Installed, "malformed");
}

#[test]
fn a_missing_application_is_not_present_even_when_the_item_is_malformed() {
    // Munki checks the application's path before the item's version.
    let mac = Mac::new();
    let item = dict(&[("type", "application"), ("path", FOO)]);
    assert_decision(
        &mac.state(&pkginfo_with_installs(vec![item])),
        State::NotInstalled,
        "not present",
    );
}

#[test]
fn minimum_update_version_above_the_installed_version_means_not_present() {
    let mac = Mac::new();
    let expecting = |v: &str| {
        let mut item = application(FOO, v);
        item.insert("minimum_update_version".into(), Value::String("2.0".into()));
        pkginfo_with_installs(vec![item])
    };
    mac.app(FOO, Some("1.5"), None);
    assert_decision(
        &mac.state(&expecting("3.0")),
        State::NotInstalled,
        "not present",
    );
    // The minimum is checked first: installed 1.5 is newer than 1.0, but below 2.0.
    assert_decision(
        &mac.state(&expecting("1.0")),
        State::NotInstalled,
        "not present",
    );
    // At or above the minimum, the ordinary comparison applies.
    mac.app(FOO, Some("2.0"), None);
    assert_decision(&mac.state(&expecting("3.0")), State::NotInstalled, "older");
    mac.app(FOO, Some("3.0"), None);
    assert_eq!(mac.state(&expecting("3.0")).state, State::Installed);
}

fn application_by(key: &str, value: &str, short: &str) -> Dictionary {
    dict(&[
        ("type", "application"),
        (key, value),
        ("CFBundleShortVersionString", short),
    ])
}

#[test]
fn application_without_a_path_is_found_by_bundle_identifier() {
    let mac = Mac::new();
    let p = pkginfo_with_installs(vec![application_by(
        "CFBundleIdentifier",
        "com.example.foo",
        "1.0",
    )]);
    assert_decision(&mac.state(&p), State::NotInstalled, "not present");
    mac.app_with(
        "/Applications/Whatever.app",
        &[
            ("CFBundleIdentifier", "com.example.foo"),
            ("CFBundleShortVersionString", "1.0"),
        ],
    );
    assert_eq!(mac.state(&p).state, State::Installed);
}

#[test]
fn application_without_a_path_is_found_in_a_subfolder_of_applications() {
    let mac = Mac::new();
    mac.app_with(
        "/Applications/Utilities/Foo.app",
        &[
            ("CFBundleIdentifier", "com.example.foo"),
            ("CFBundleShortVersionString", "1.2"),
        ],
    );
    let p = pkginfo_with_installs(vec![application_by(
        "CFBundleIdentifier",
        "com.example.foo",
        "1.0",
    )]);
    assert_decision(&mac.state(&p), State::NewerInstalled, "com.example.foo");
    let p = pkginfo_with_installs(vec![application_by(
        "CFBundleIdentifier",
        "com.example.foo",
        "1.3",
    )]);
    assert_decision(&mac.state(&p), State::NotInstalled, "older");
}

#[test]
fn application_without_a_path_is_found_by_bundle_name() {
    let mac = Mac::new();
    mac.app_with(
        "/Applications/Foo Renamed.app",
        &[
            ("CFBundleIdentifier", "com.example.other"),
            ("CFBundleName", "Foo"),
            ("CFBundleShortVersionString", "4.0"),
        ],
    );
    let p = pkginfo_with_installs(vec![application_by("CFBundleName", "Foo", "4.0")]);
    assert_eq!(mac.state(&p).state, State::Installed);
    // Either key may match: a name match is enough even when the identifier differs.
    let mut item = application_by("CFBundleName", "Foo", "4.0");
    item.insert(
        "CFBundleIdentifier".into(),
        Value::String("com.example.foo".into()),
    );
    assert_eq!(
        mac.state(&pkginfo_with_installs(vec![item])).state,
        State::Installed
    );
    // No match by either.
    let p = pkginfo_with_installs(vec![application_by("CFBundleName", "Bar", "4.0")]);
    assert_decision(&mac.state(&p), State::NotInstalled, "not present");
}

#[test]
fn with_two_copies_the_newest_same_or_newer_one_wins() {
    let mac = Mac::new();
    let id = [("CFBundleIdentifier", "com.example.foo")];
    mac.app_with(FOO, &[id[0], ("CFBundleShortVersionString", "1.0")]);
    mac.app_with(
        "/Applications/Utilities/Foo.app",
        &[id[0], ("CFBundleShortVersionString", "2.0")],
    );
    let expecting = |v: &str| {
        pkginfo_with_installs(vec![application_by(
            "CFBundleIdentifier",
            "com.example.foo",
            v,
        )])
    };
    // The older copy does not make it "older".
    assert_eq!(mac.state(&expecting("2.0")).state, State::Installed);
    assert_eq!(mac.state(&expecting("1.5")).state, State::NewerInstalled);
    assert_eq!(mac.state(&expecting("1.0")).state, State::NewerInstalled);
    // Neither is new enough: older, not "not present".
    assert_decision(&mac.state(&expecting("3.0")), State::NotInstalled, "older");
}

#[test]
fn applications_in_user_homes_other_than_shared_are_not_searched() {
    let mac = Mac::new();
    let entries = [
        ("CFBundleIdentifier", "com.example.foo"),
        ("CFBundleShortVersionString", "1.0"),
    ];
    mac.app_with("/Users/alice/Applications/Foo.app", &entries);
    let p = pkginfo_with_installs(vec![application_by(
        "CFBundleIdentifier",
        "com.example.foo",
        "1.0",
    )]);
    assert_decision(&mac.state(&p), State::NotInstalled, "not present");
    mac.app_with("/Users/Shared/Foo.app", &entries);
    assert_eq!(mac.state(&p).state, State::Installed);
}

#[test]
fn application_without_path_name_or_identifier_is_malformed_and_counts_as_installed() {
    let mac = Mac::new();
    let item = dict(&[
        ("type", "application"),
        ("CFBundleShortVersionString", "1.0"),
    ]);
    assert_decision(
        &mac.state(&pkginfo_with_installs(vec![item])),
        State::Installed,
        "malformed",
    );
}

#[test]
fn the_application_inventory_is_read_once_per_probe_until_refresh() {
    let mac = Mac::new();
    mac.app_with(
        "/Applications/Utilities/Term.app",
        &[
            ("CFBundleIdentifier", "com.example.term"),
            ("CFBundleVersion", "7"),
        ],
    );
    let scripts = mac.scripts();
    let mut probe = Probe::new(&mac.root, &mac.runner, &scripts);
    assert_eq!(
        probe.apps(),
        [App {
            path: "/Applications/Utilities/Term.app".into(),
            bundle_id: "com.example.term".into(),
            // No CFBundleName: the bundle's file name without `.app`.
            name: "Term".into(),
            // No CFBundleShortVersionString: CFBundleVersion.
            version: "7".into(),
        }]
    );
    mac.app_with(FOO, &[("CFBundleName", "Foo")]);
    assert_eq!(probe.apps().len(), 1, "the inventory is cached");
    probe.refresh();
    let paths: Vec<&str> = probe.apps().iter().map(|a| a.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/Applications/Foo.app", "/Applications/Utilities/Term.app"]
    );
}

// ---------------------------------------------------------------------------------------------
// 3. installs: bundle, plist, file; several items
// ---------------------------------------------------------------------------------------------

fn bundle(path: &str, short: &str) -> Dictionary {
    dict(&[
        ("type", "bundle"),
        ("path", path),
        ("CFBundleShortVersionString", short),
    ])
}

const PLUGIN: &str = "/Library/Internet Plug-Ins/Foo.plugin";

#[test]
fn bundle_reads_contents_info_plist() {
    let mac = Mac::new();
    let p = pkginfo_with_installs(vec![bundle(PLUGIN, "2.0")]);
    assert_decision(&mac.state(&p), State::NotInstalled, "not present");
    mac.plist(
        &format!("{PLUGIN}/Contents/Info.plist"),
        &[("CFBundleShortVersionString", "2.0")],
    );
    assert_decision(&mac.state(&p), State::Installed, "current");
    mac.plist(
        &format!("{PLUGIN}/Contents/Info.plist"),
        &[("CFBundleShortVersionString", "1.0")],
    );
    assert_decision(&mac.state(&p), State::NotInstalled, "older");
}

#[test]
fn bundle_falls_back_to_resources_info_plist() {
    let mac = Mac::new();
    let p = pkginfo_with_installs(vec![bundle(PLUGIN, "2.0")]);
    mac.plist(
        &format!("{PLUGIN}/Resources/Info.plist"),
        &[("CFBundleShortVersionString", "2.1")],
    );
    assert_decision(&mac.state(&p), State::NewerInstalled, "newer");
    // Contents/Info.plist, when there is one, wins.
    mac.plist(
        &format!("{PLUGIN}/Contents/Info.plist"),
        &[("CFBundleShortVersionString", "2.0")],
    );
    assert_eq!(mac.state(&p).state, State::Installed);
}

#[test]
fn a_bundle_item_without_a_path_is_not_present() {
    // compare.swift compareBundleVersion: `if let path = bundleItem["path"] { … }
    // return .notPresent` — no error is thrown, so installedState says thisVersionNotInstalled.
    let mac = Mac::new();
    let item = dict(&[("type", "bundle"), ("CFBundleShortVersionString", "1.0")]);
    assert_eq!(
        mac.state(&pkginfo_with_installs(vec![item])).state,
        State::NotInstalled
    );
}

const PREFS: &str = "/Library/Preferences/com.example.foo.plist";

fn plist_item(key: Option<&str>, entries: &[(&str, &str)]) -> Dictionary {
    let mut item = dict(&[("type", "plist"), ("path", PREFS)]);
    if let Some(key) = key {
        item.insert("version_comparison_key".into(), Value::String(key.into()));
    }
    item.extend(dict(entries));
    item
}

#[test]
fn plist_item_compares_its_version_comparison_key() {
    let mac = Mac::new();
    let expecting = |v: &str| {
        pkginfo_with_installs(vec![plist_item(
            Some("ProductVersion"),
            &[("ProductVersion", v)],
        )])
    };
    assert_decision(
        &mac.state(&expecting("4.2")),
        State::NotInstalled,
        "not present",
    );
    mac.plist(
        PREFS,
        &[
            ("ProductVersion", "4.2"),
            ("CFBundleShortVersionString", "9.9"),
        ],
    );
    assert_eq!(mac.state(&expecting("4.2")).state, State::Installed);
    assert_decision(&mac.state(&expecting("4.3")), State::NotInstalled, "older");
    assert_decision(
        &mac.state(&expecting("4.1")),
        State::NewerInstalled,
        "newer",
    );
    // Without a key, CFBundleShortVersionString.
    let p = pkginfo_with_installs(vec![plist_item(
        None,
        &[("CFBundleShortVersionString", "9.9")],
    )]);
    assert_eq!(mac.state(&p).state, State::Installed);
}

#[test]
fn a_plist_that_cannot_be_read_is_not_present() {
    let mac = Mac::new();
    mac.file(PREFS, "this is not a plist");
    let p = pkginfo_with_installs(vec![plist_item(
        Some("ProductVersion"),
        &[("ProductVersion", "4.2")],
    )]);
    assert_decision(&mac.state(&p), State::NotInstalled, "not present");
    // A plist whose top level is not a dictionary.
    Value::Array(vec![Value::String("4.2".into())])
        .to_file_xml(mac.path(PREFS))
        .unwrap();
    assert_decision(&mac.state(&p), State::NotInstalled, "not present");
}

#[test]
fn a_plist_item_without_its_expected_value_is_malformed_even_when_the_file_is_missing() {
    // comparePlistVersion checks the item before the disk.
    let mac = Mac::new();
    let p = pkginfo_with_installs(vec![plist_item(Some("ProductVersion"), &[])]);
    assert_decision(&mac.state(&p), State::Installed, "malformed");
}

const HELLO_MD5: &str = "b1946ac92492d2347c6235b4d2611184"; // md5 of "hello\n"
const TOOL: &str = "/usr/local/bin/foo";

fn file_item(md5: Option<&str>) -> Dictionary {
    let mut item = dict(&[("type", "file"), ("path", TOOL)]);
    if let Some(md5) = md5 {
        item.insert("md5checksum".into(), Value::String(md5.into()));
    }
    item
}

#[test]
fn file_items_check_existence_and_checksum() {
    let mac = Mac::new();
    let with = |md5| pkginfo_with_installs(vec![file_item(md5)]);
    assert_decision(&mac.state(&with(None)), State::NotInstalled, "not present");
    assert_decision(
        &mac.state(&with(Some(HELLO_MD5))),
        State::NotInstalled,
        "not present",
    );
    mac.file(TOOL, "hello\n");
    assert_eq!(mac.state(&with(Some(HELLO_MD5))).state, State::Installed);
    assert_eq!(mac.state(&with(None)).state, State::Installed);
    // A different checksum is "different", which Munki counts as older.
    mac.file(TOOL, "hello, world\n");
    assert_decision(
        &mac.state(&with(Some(HELLO_MD5))),
        State::NotInstalled,
        "older",
    );
    assert_eq!(mac.state(&with(None)).state, State::Installed);
}

#[test]
fn a_file_item_without_a_path_is_malformed() {
    let mac = Mac::new();
    let p = pkginfo_with_installs(vec![dict(&[("type", "file"), ("md5checksum", HELLO_MD5)])]);
    assert_decision(&mac.state(&p), State::Installed, "malformed");
}

#[test]
fn a_dangling_symlink_is_not_present() {
    let mac = Mac::new();
    fs::create_dir_all(mac.path("/usr/local/bin")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", mac.path(TOOL)).unwrap();
    let p = pkginfo_with_installs(vec![file_item(None)]);
    assert_eq!(mac.state(&p).state, State::NotInstalled);
}

#[test]
fn every_installs_item_must_be_same_or_newer() {
    let mac = Mac::new();
    mac.app(FOO, Some("2.0"), None);
    mac.plist(
        &format!("{PLUGIN}/Contents/Info.plist"),
        &[("CFBundleShortVersionString", "1.0")],
    );
    mac.file(TOOL, "hello\n");
    let items = |app: &str, plugin: &str| {
        pkginfo_with_installs(vec![
            application(FOO, app),
            bundle(PLUGIN, plugin),
            file_item(Some(HELLO_MD5)),
        ])
    };
    assert_decision(
        &mac.state(&items("2.0", "1.0")),
        State::Installed,
        "every installs item",
    );
    // One older: not installed, whatever the others say.
    assert_decision(
        &mac.state(&items("1.0", "1.1")),
        State::NotInstalled,
        "installs bundle /Library/Internet Plug-Ins/Foo.plugin is older",
    );
    // One newer, the rest the same: newer.
    assert_decision(
        &mac.state(&items("2.0", "0.9")),
        State::NewerInstalled,
        "installs bundle /Library/Internet Plug-Ins/Foo.plugin is newer",
    );
    // One newer and one missing: not installed.
    let mut p = items("1.9", "1.0");
    p.installs
        .as_mut()
        .unwrap()
        .push(application("/Applications/Missing.app", "1.0"));
    assert_decision(
        &mac.state(&p),
        State::NotInstalled,
        "/Applications/Missing.app is not present",
    );
}

#[test]
fn installs_items_are_judged_in_order() {
    let mac = Mac::new();
    let missing = application("/Applications/Missing.app", "1.0");
    let malformed = dict(&[("type", "file")]);
    let p = pkginfo_with_installs(vec![missing.clone(), malformed.clone()]);
    assert_decision(&mac.state(&p), State::NotInstalled, "not present");
    let p = pkginfo_with_installs(vec![malformed, missing]);
    assert_decision(&mac.state(&p), State::Installed, "malformed");
}

// ---------------------------------------------------------------------------------------------
// 4. Receipts
// ---------------------------------------------------------------------------------------------

#[test]
fn receipts_are_read_from_pkgutil_once_per_probe() {
    let mac = Mac::with_receipts(&[("com.example.foo", "1.2.3"), ("com.example.bar", "4.5")]);
    mac.probe(|probe| {
        let receipts = probe.receipts().unwrap();
        assert_eq!(receipts.len(), 2);
        assert_eq!(receipts["com.example.foo"], "1.2.3");
        assert_eq!(receipts["com.example.bar"], "4.5");
        let p = pkginfo_with_receipts(vec![receipt("com.example.foo", "1.2.3")]);
        assert_eq!(probe.state(&p).state, State::Installed);
        assert_eq!(probe.state(&p).state, State::Installed);
    });
    assert_eq!(mac.pkgutil_calls(), 1);
}

#[test]
fn a_receipt_present_and_the_same_is_installed() {
    let mac = Mac::with_receipts(&[("com.example.foo", "1.2.3"), ("com.example.bar", "4.5")]);
    let p = pkginfo_with_receipts(vec![
        receipt("com.example.foo", "1.2.3"),
        receipt("com.example.bar", "4.5.0"),
    ]);
    assert_decision(&mac.state(&p), State::Installed, "every receipt");
}

#[test]
fn a_receipt_older_or_newer() {
    let mac = Mac::with_receipts(&[("com.example.foo", "1.2.3"), ("com.example.bar", "4.5")]);
    let p = pkginfo_with_receipts(vec![
        receipt("com.example.foo", "1.2.3"),
        receipt("com.example.bar", "4.10"),
    ]);
    assert_decision(
        &mac.state(&p),
        State::NotInstalled,
        "receipt com.example.bar is 4.5, older than 4.10",
    );
    let p = pkginfo_with_receipts(vec![
        receipt("com.example.foo", "1.2"),
        receipt("com.example.bar", "4.5"),
    ]);
    assert_decision(&mac.state(&p), State::NewerInstalled, "com.example.foo");
    // Munki 7 ordering: a package version with a build suffix is newer.
    let mac = Mac::with_receipts(&[("com.apple.pkg.MobileAssets", "1.0.0.0.1645860813")]);
    let p = pkginfo_with_receipts(vec![receipt("com.apple.pkg.MobileAssets", "1.0")]);
    assert_eq!(mac.state(&p).state, State::NewerInstalled);
}

#[test]
fn a_missing_receipt_is_not_installed() {
    let mac = Mac::with_receipts(&[("com.example.foo", "1.2.3"), ("com.example.bar", "4.5")]);
    let p = pkginfo_with_receipts(vec![
        receipt("com.example.foo", "1.2.3"),
        receipt("com.example.baz", "1.0"),
    ]);
    assert_decision(
        &mac.state(&p),
        State::NotInstalled,
        "no receipt for com.example.baz",
    );
}

#[test]
fn optional_receipts_are_ignored() {
    let mac = Mac::with_receipts(&[("com.example.foo", "1.2.3"), ("com.example.bar", "4.5")]);
    let p = pkginfo_with_receipts(vec![
        receipt("com.example.foo", "1.2.3"),
        optional(receipt("com.example.baz", "1.0")),
        optional(receipt("com.example.bar", "9.0")),
    ]);
    assert_decision(&mac.state(&p), State::Installed, "every receipt");
    // optional: false is an ordinary receipt.
    let mut r = receipt("com.example.baz", "1.0");
    r.insert("optional".into(), Value::Boolean(false));
    assert_eq!(
        mac.state(&pkginfo_with_receipts(vec![r])).state,
        State::NotInstalled
    );
}

#[test]
fn a_receipt_without_packageid_or_version_counts_as_installed() {
    let mac = Mac::with_receipts(&[("com.example.foo", "1.2.3"), ("com.example.bar", "4.5")]);
    let no_id = dict(&[("version", "1.0")]);
    let p = pkginfo_with_receipts(vec![no_id, receipt("com.example.baz", "1.0")]);
    assert_decision(&mac.state(&p), State::Installed, "without packageid");
    let no_version = dict(&[("packageid", "com.example.baz")]);
    assert_decision(
        &mac.state(&pkginfo_with_receipts(vec![no_version])),
        State::Installed,
        "without packageid or version",
    );
}

#[test]
fn when_pkgutil_fails_receipts_are_not_present() {
    let mac = Mac::with_pkgutil("", 1);
    let p = pkginfo_with_receipts(vec![receipt("com.example.foo", "1.0")]);
    assert_eq!(mac.state(&p).state, State::NotInstalled);
}

#[test]
fn parse_receipts_splits_concatenated_documents() {
    let mut out = String::from("junk before the first document\n");
    out.push_str(&receipt_document("com.example.one", "1.0"));
    out.push_str(&receipt_document("com.example.two", "2.0b1"));
    out.push_str("\n\nnoise between documents\n");
    // A record without pkg-version is skipped.
    out.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict>\
         <key>pkgid</key><string>com.example.noversion</string></dict></plist>\n",
    );
    // A broken record is skipped, and does not swallow the next one.
    out.push_str("<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>pkgid</key></plist>\n");
    out.push_str(&receipt_document("com.example.three", "3"));
    // A truncated last record is ignored.
    out.push_str("<?xml version=\"1.0\"?>\n<plist version=\"1.0\">\n<dict><key>pkgid</key><string>com.example.cut");
    let receipts = parse_receipts(out.as_bytes());
    let expected: BTreeMap<String, String> = [
        ("com.example.one", "1.0"),
        ("com.example.three", "3"),
        ("com.example.two", "2.0b1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(receipts, expected);
    assert!(parse_receipts(b"").is_empty());
    assert!(parse_receipts(b"No receipt for 'x' found at '/'.\n").is_empty());
}

// ---------------------------------------------------------------------------------------------
// 5. some_version_installed and evidence_installed
// ---------------------------------------------------------------------------------------------

#[test]
fn some_version_installed_follows_munkis_order() {
    let mac = Mac::with_receipts(&[("com.example.foo", "1.0")]);
    assert!(
        mac.some_version(&pkginfo("1.0")),
        "no evidence means installed"
    );
    let on_demand = Pkginfo {
        on_demand: Some(true),
        ..pkginfo("1.0")
    };
    assert!(!mac.some_version(&on_demand));

    let check = |body: &str| Pkginfo {
        installcheck_script: sh(body),
        ..pkginfo("1.0")
    };
    assert!(!mac.some_version(&check("exit 0")));
    assert!(mac.some_version(&check("exit 1")));

    let version = |body: &str| Pkginfo {
        version_script: sh(body),
        ..pkginfo("5.0")
    };
    assert!(
        mac.some_version(&version("echo 1.0")),
        "an older version is some version"
    );
    assert!(!mac.some_version(&version("true")));
    assert!(!mac.some_version(&version("echo 5.0; exit 2")));
}

#[test]
fn some_version_installed_accepts_older_installs_and_receipts_but_not_missing_ones() {
    let mac = Mac::with_receipts(&[("com.example.foo", "1.0")]);
    mac.app(FOO, Some("1.0"), None);
    assert!(mac.some_version(&pkginfo_with_installs(vec![application(FOO, "2.0")])));
    assert!(!mac.some_version(&pkginfo_with_installs(vec![
        application(FOO, "2.0"),
        application("/Applications/Missing.app", "1.0"),
    ])));
    assert!(mac.some_version(&pkginfo_with_receipts(vec![receipt(
        "com.example.foo",
        "2.0"
    )])));
    assert!(!mac.some_version(&pkginfo_with_receipts(vec![receipt(
        "com.example.bar",
        "1.0"
    )])));
    assert!(mac.some_version(&pkginfo_with_receipts(vec![
        receipt("com.example.foo", "2.0"),
        optional(receipt("com.example.bar", "1.0")),
    ])));
    // Empty installs fall through to receipts.
    let p = Pkginfo {
        installs: Some(vec![]),
        ..pkginfo_with_receipts(vec![receipt("com.example.bar", "1.0")])
    };
    assert!(!mac.some_version(&p));
}

#[test]
fn some_version_installed_is_false_for_a_malformed_installs_item() {
    let mac = Mac::new();
    mac.app(FOO, Some("1.0"), None);
    let malformed = dict(&[("type", "application"), ("path", FOO)]);
    assert!(!mac.some_version(&pkginfo_with_installs(vec![malformed])));
}

#[test]
fn some_version_installed_is_false_for_a_malformed_receipt() {
    let mac = Mac::with_receipts(&[("com.example.foo", "1.0")]);
    assert!(!mac.some_version(&pkginfo_with_receipts(vec![dict(&[("version", "1.0")])])));
    assert!(!mac.some_version(&pkginfo_with_receipts(vec![dict(&[(
        "packageid",
        "com.example.foo"
    )])])));
}

#[test]
fn evidence_from_scripts() {
    let mac = Mac::new();
    let on_demand = Pkginfo {
        on_demand: Some(true),
        uninstallcheck_script: sh("exit 0"),
        ..pkginfo("1.0")
    };
    assert_decision(
        &mac.evidence(&on_demand, &[]),
        State::NotInstalled,
        "OnDemand",
    );

    let uninstallcheck = |body: &str| Pkginfo {
        uninstallcheck_script: sh(body),
        // Would say "installed"; the uninstallcheck_script comes first.
        installcheck_script: sh("exit 1"),
        ..pkginfo("1.0")
    };
    assert_decision(
        &mac.evidence(&uninstallcheck("exit 0"), &[]),
        State::Installed,
        "uninstallcheck_script exited 0",
    );
    assert_decision(
        &mac.evidence(&uninstallcheck("exit 1"), &[]),
        State::NotInstalled,
        "uninstallcheck_script exited 1",
    );

    let installcheck = |body: &str| Pkginfo {
        installcheck_script: sh(body),
        ..pkginfo("1.0")
    };
    assert_decision(
        &mac.evidence(&installcheck("exit 0"), &[]),
        State::NotInstalled,
        "installcheck_script exited 0",
    );
    assert_decision(
        &mac.evidence(&installcheck("exit 3"), &[]),
        State::Installed,
        "installcheck_script exited 3",
    );

    let version = |body: &str| Pkginfo {
        version_script: sh(body),
        ..pkginfo("5.0")
    };
    assert_decision(
        &mac.evidence(&version("echo 0.1"), &[]),
        State::Installed,
        "version_script",
    );
    assert_decision(
        &mac.evidence(&version("true"), &[]),
        State::NotInstalled,
        "nothing",
    );
}

#[test]
fn evidence_from_installs_paths_unless_removepackages() {
    let mac = Mac::with_receipts(&[("com.example.foo", "1.0")]);
    mac.app(FOO, Some("1.0"), None);
    // Present, even if older, is evidence.
    let p = pkginfo_with_installs(vec![application(FOO, "2.0")]);
    assert_decision(
        &mac.evidence(&p, &[]),
        State::Installed,
        "every installs path exists",
    );
    // One missing path is not.
    let p = pkginfo_with_installs(vec![
        application(FOO, "1.0"),
        application("/Applications/Missing.app", "1.0"),
    ]);
    assert_decision(&mac.evidence(&p, &[]), State::NotInstalled, "nothing");
    // A failing version_script falls through to the installs.
    let p = Pkginfo {
        version_script: sh("exit 1"),
        ..pkginfo_with_installs(vec![application(FOO, "1.0")])
    };
    assert_eq!(mac.evidence(&p, &[]).state, State::Installed);

    // removepackages skips the installs check: only receipts count.
    let removepackages = |receipts: Vec<Dictionary>| Pkginfo {
        uninstall_method: Some("removepackages".into()),
        receipts: Some(receipts),
        ..pkginfo_with_installs(vec![application(FOO, "1.0")])
    };
    assert_decision(
        &mac.evidence(&removepackages(vec![]), &[]),
        State::NotInstalled,
        "nothing",
    );
    assert_decision(
        &mac.evidence(
            &removepackages(vec![receipt("com.example.bar", "1.0")]),
            &[],
        ),
        State::NotInstalled,
        "nothing",
    );
    assert_decision(
        &mac.evidence(
            &removepackages(vec![receipt("com.example.foo", "1.0")]),
            &[],
        ),
        State::Installed,
        "receipt com.example.foo",
    );
}

#[test]
fn evidence_from_receipts_shared_or_unique() {
    let mac = Mac::with_receipts(&[("com.example.core", "1.0"), ("com.example.foo", "1.0")]);
    // Every receipt present: installed, even if all are shared with other items.
    let all = pkginfo_with_receipts(vec![
        receipt("com.example.core", "9.0"),
        receipt("com.example.foo", "0.1"),
    ]);
    assert_decision(
        &mac.evidence(&all, &["com.example.core", "com.example.foo"]),
        State::Installed,
        "receipt",
    );
    // Some present, one of them unique to this item: installed.
    let some = pkginfo_with_receipts(vec![
        receipt("com.example.foo", "1.0"),
        receipt("com.example.extra", "1.0"),
    ]);
    assert_decision(
        &mac.evidence(&some, &[]),
        State::Installed,
        "receipt com.example.foo",
    );
    // Some present, but only receipts other items share: not installed.
    assert_decision(
        &mac.evidence(&some, &["com.example.foo"]),
        State::NotInstalled,
        "nothing",
    );
    // None present.
    let none = pkginfo_with_receipts(vec![receipt("com.example.extra", "1.0")]);
    assert_decision(&mac.evidence(&none, &[]), State::NotInstalled, "nothing");
    assert_eq!(
        mac.evidence(&pkginfo_with_receipts(vec![]), &[]).state,
        State::NotInstalled
    );
}

#[test]
fn evidence_from_installs_is_only_that_the_paths_exist() {
    let mac = Mac::new();
    // The app directory exists but has no Info.plist: compare_item says not present.
    fs::create_dir_all(mac.path("/Applications/Foo.app/Contents")).unwrap();
    let p = pkginfo_with_installs(vec![application(FOO, "1.0")]);
    assert_eq!(mac.evidence(&p, &[]).state, State::Installed, "path exists");
    // The path exists but the item lacks its version: compare_item errors.
    let malformed = dict(&[("type", "bundle"), ("path", FOO)]);
    assert_eq!(
        mac.evidence(&pkginfo_with_installs(vec![malformed]), &[])
            .state,
        State::Installed
    );
    // An item without a path is not checked at all.
    let by_id = application_by("CFBundleIdentifier", "com.example.absent", "1.0");
    assert_eq!(
        mac.evidence(&pkginfo_with_installs(vec![by_id]), &[]).state,
        State::Installed
    );
}

// ---------------------------------------------------------------------------------------------
// 6. The 53 version vectors, through real installs items
// ---------------------------------------------------------------------------------------------

#[test]
fn all_53_version_vectors_through_installs_items() {
    let mac = Mac::new();
    let mut checked = 0;
    let mut empty_installed = 0;
    for line in include_str!("../../mmc-config/tests/data/version_vectors.tsv").lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        // A, B, py, swift, source. Fields are not trimmed: `1.0 ` (trailing space) is a vector.
        let fields: Vec<&str> = line.split('\t').collect();
        let (installed, expected, swift) = (fields[0], fields[1], fields[3]);
        checked += 1;
        let path = format!("/Applications/Vec{checked}.app");
        mac.app(&path, Some(installed), None);
        let decision = mac.state(&pkginfo_with_installs(vec![application(&path, expected)]));
        let row = format!(
            "row {checked}: installed {installed:?}, expected {expected:?}, reason {:?}",
            decision.reason
        );
        if installed.is_empty() {
            // Munki's comparePlistVersion returns .notPresent for an empty installed version
            // before it compares anything, so `"" vs "0"` is NotInstalled although the
            // comparison alone says equal (and `"" vs "0.0.1"` is "not present", not "older").
            empty_installed += 1;
            assert_eq!(decision.state, State::NotInstalled, "{row}");
            assert!(decision.reason.contains("not present"), "{row}");
            continue;
        }
        let (state, word) = match swift {
            "-1" => (State::NotInstalled, "is older"),
            "0" => (State::Installed, "current"),
            "1" => (State::NewerInstalled, "is newer"),
            other => panic!("{row}: bad sign {other:?}"),
        };
        assert_eq!(decision.state, state, "{row}");
        assert!(decision.reason.contains(word), "{row}");
    }
    assert_eq!(checked, 53, "rows in version_vectors.tsv");
    assert_eq!(empty_installed, 2, "rows with an empty installed version");
}
