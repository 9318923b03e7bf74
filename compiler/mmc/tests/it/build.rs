//! Building, signing and verifying bundles; key handling.

use std::os::unix::fs::PermissionsExt;

use crate::support::*;

fn build_json(
    repo: &std::path::Path,
    key: &std::path::Path,
    out_dir: &std::path::Path,
) -> serde_json::Value {
    let out = run(mmc(repo)
        .args(["build", "--format", "json", "--key"])
        .arg(key)
        .arg("--out")
        .arg(out_dir));
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).expect("build --format json prints one JSON document")
}

fn trust(key: &std::path::Path) -> mmc_bundle::VerifyingKey {
    let pem = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    mmc_bundle::parse_public_key(&pem).unwrap()
}

#[test]
fn build_signs_bundles_that_verify_and_detects_tampering() {
    let repo = fixture(None);
    commit_all(repo.path());
    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path());
    let out_dir = repo.path().join("build");
    let report = build_json(repo.path(), &key, &out_dir);
    let bundles = report["bundles"].as_array().unwrap();
    assert_eq!(bundles.len(), 2);
    let stable = &bundles[1];
    assert_eq!(stable["name"], "stable");
    assert_eq!(stable["version"], COMMIT_TIME);
    let path = std::path::PathBuf::from(stable["path"].as_str().unwrap());
    let archive = std::fs::read(&path).unwrap();
    let envelope = std::fs::read(stable["signature"].as_str().unwrap()).unwrap();
    let digest = mmc_bundle::sha256_hex(&archive);
    assert_eq!(stable["sha256"], digest.as_str());

    let now = jiff::Timestamp::from_second(COMMIT_TIME as i64 + 60).unwrap();
    let statement = mmc_bundle::verify(&envelope, &archive, &[trust(&key)], now)
        .expect("valid bundle verifies");
    assert_eq!(statement.audience, "com.example:stable");

    // One flipped byte anywhere in the archive.
    let mut flipped = archive.clone();
    flipped[archive.len() / 2] ^= 0x01;
    let err = mmc_bundle::verify(&envelope, &flipped, &[trust(&key)], now).unwrap_err();
    assert!(err.to_string().contains("SHA-256"), "{err}");

    // Trusting a different key.
    let other = keygen(&keys.path().join("other").tap_mkdir());
    let err = mmc_bundle::verify(&envelope, &archive, &[trust(&other)], now).unwrap_err();
    assert!(err.to_string().contains("unknown key"), "{err}");

    // The archive extracts strictly and holds what the agent needs.
    let dest = keys.path().join("extracted");
    let extracted = mmc_bundle::extract(&archive, &dest).unwrap();
    let names: Vec<&str> = extracted
        .index
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    for expected in [
        "config.json",
        "munki/catalogs/stable",
        "munki/manifests/site_default",
        "profiles/com.example.screensaver.mobileconfig",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}
impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

#[test]
fn every_emitted_plist_parses_with_python_plistlib() {
    let repo = fixture(None);
    commit_all(repo.path());
    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path());
    let report = build_json(repo.path(), &key, &repo.path().join("build"));
    let path = report["bundles"][1]["path"].as_str().unwrap();
    let dest = keys.path().join("x");
    mmc_bundle::extract(&std::fs::read(path).unwrap(), &dest).unwrap();
    let script = "import plistlib,pathlib,sys\nn=0\nfor p in sorted(pathlib.Path(sys.argv[1]).rglob('*')):\n    if p.is_file() and p.suffix != '.json':\n        plistlib.loads(p.read_bytes()); n+=1\nprint(n)";
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&dest)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let count: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(count >= 6, "only {count} plists checked");
}

#[test]
fn keygen_writes_a_private_key_only_the_owner_can_read_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        std::fs::read_to_string(dir.path().join("signing.pub"))
            .unwrap()
            .contains("BEGIN PUBLIC KEY")
    );
    let again = run(mmc(dir.path())
        .args(["keygen", "--out"])
        .arg(dir.path().join("signing")));
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

#[test]
fn build_refuses_a_key_that_git_tracks() {
    let repo = fixture(None);
    let key = keygen(repo.path());
    commit_all(repo.path()); // commits signing.key too: exactly the mistake to catch
    let out = run(mmc(repo.path()).args(["build", "--key"]).arg(&key));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("git tracks this file"),
        "{}",
        out.stderr
    );
    assert!(!repo.path().join("build").exists());
}

#[test]
fn build_refuses_a_key_others_can_read() {
    let repo = fixture(None);
    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path());
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(mmc(repo.path()).args(["build", "--key"]).arg(&key));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("chmod 600"), "{}", out.stderr);
}

#[test]
fn build_takes_the_key_from_the_environment() {
    let repo = fixture(None);
    commit_all(repo.path());
    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path());
    let pem = std::fs::read_to_string(&key).unwrap();
    let out = run(mmc(repo.path()).arg("build").env("MMC_SIGNING_KEY", pem));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let none = run(mmc(repo.path()).arg("build"));
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("no signing key"), "{}", none.stderr);
}

#[test]
fn build_refuses_a_link_to_a_key_that_git_tracks() {
    let repo = fixture(None);
    let key = keygen(repo.path());
    commit_all(repo.path());
    let elsewhere = tempfile::tempdir().unwrap();
    let link = elsewhere.path().join("innocent.key");
    std::os::unix::fs::symlink(&key, &link).unwrap();
    let out = run(mmc(repo.path()).args(["build", "--key"]).arg(&link));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("git tracks this file"),
        "{}",
        out.stderr
    );
}

#[test]
fn build_refuses_a_key_missing_from_trusted_keys() {
    let repo = fixture(None);
    let yaml = std::fs::read_to_string(repo.path().join("mmc.yaml")).unwrap();
    let listed = "0".repeat(64);
    std::fs::write(
        repo.path().join("mmc.yaml"),
        format!("{yaml}signing:\n  trusted_keys: [\"{listed}\"]\n"),
    )
    .unwrap();
    commit_all(repo.path());
    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path());
    let out = run(mmc(repo.path()).args(["build", "--key"]).arg(&key));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("not in mmc.yaml's signing.trusted_keys"),
        "{}",
        out.stderr
    );
    assert!(!repo.path().join("build").exists());
}

#[test]
fn a_key_file_name_in_the_environment_gets_a_helpful_error() {
    let repo = fixture(None);
    let out = run(mmc(repo.path())
        .arg("build")
        .env("MMC_SIGNING_KEY", "/home/me/signing.key"));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("must hold the PEM text") && out.stderr.contains("--key FILE"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_version_never_changes_content() {
    let repo = fixture(None);
    commit_all(repo.path());
    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path());
    let build = |repo: &std::path::Path| run(mmc(repo).args(["build", "--key"]).arg(&key));
    assert_eq!(build(repo.path()).code, 0);
    let bundle = repo
        .path()
        .join(format!("build/bundles/stable-{COMMIT_TIME}.tar.gz"));
    let first = std::fs::read(&bundle).unwrap();
    // Rebuilding the same commit is a no-op.
    assert_eq!(build(repo.path()).code, 0);
    // An uncommitted edit would ship other content as the same version: refused, file kept.
    let manifest = repo.path().join("policies/manifests/site_default.yaml");
    std::fs::write(&manifest, "managed_installs:\n  - Banner\n").unwrap();
    let out = build(repo.path());
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("already exists with different content"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&bundle).unwrap(), first);
}

/// The files of `dir`, by name, sorted.
fn listing(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn build_writes_nudge_and_ddm_files_the_same_every_time() {
    let repo = fixture(Some("updates"));
    commit_all(repo.path());
    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path());
    let out_dir = repo.path().join("build");
    let report = build_json(repo.path(), &key, &out_dir);
    let mdm = out_dir.join("mdm/updates");
    assert_eq!(
        report["mdm"],
        serde_json::json!({
            "dir": out_dir.join("mdm").display().to_string(),
            "files": [
                "profiles/com.example.screensaver.mobileconfig",
                "updates/macos-15.ddm.json",
                "updates/macos-15.nudge.json",
                "updates/macos-15.nudge.mobileconfig"
            ],
            "notes": ["update policy `security` has no Nudge or DDM files: they need `require: {os_version: …}`, not `recommended`"],
        })
    );
    let first = listing(&mdm);
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        [
            "macos-15.ddm.json",
            "macos-15.nudge.json",
            "macos-15.nudge.mobileconfig"
        ]
    );
    let ddm: serde_json::Value = serde_json::from_slice(&first["macos-15.ddm.json"]).unwrap();
    assert_eq!(ddm["Identifier"], "com.example.mmc.updates.macos-15");
    assert_eq!(ddm["Payload"]["TargetLocalDateTime"], "2026-12-01T18:00:00");
    let profile: plist::Dictionary =
        plist::from_bytes(&first["macos-15.nudge.mobileconfig"]).unwrap();
    assert_eq!(
        profile["PayloadIdentifier"].as_string(),
        Some("com.example.mmc.updates.macos-15.nudge")
    );

    // Built again: the same bytes, nothing left over.
    let again = run(mmc(repo.path()).args(["build", "--key"]).arg(&key));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("Wrote Nudge and DDM files for update policy macos-15")
            && again
                .stderr
                .contains("Note update policy `security` has no Nudge or DDM files"),
        "{}",
        again.stderr
    );
    assert_eq!(listing(&mdm), first);

    // The policy goes: so do its files, and only they.
    std::fs::write(mdm.join("README.txt"), "the MDM team's notes\n").unwrap();
    std::fs::remove_file(repo.path().join("policies/updates/macos-15.yaml")).unwrap();
    std::fs::remove_dir_all(out_dir.join("bundles")).unwrap();
    let after = run(mmc(repo.path()).args(["build", "--key"]).arg(&key));
    assert_eq!(after.code, 0, "{}", after.stderr);
    assert_eq!(listing(&mdm).keys().collect::<Vec<_>>(), ["README.txt"]);
}

#[test]
fn a_repository_without_update_policies_or_profiles_writes_no_mdm_folder() {
    let repo = fixture(None);
    std::fs::remove_dir_all(repo.path().join("profiles")).unwrap();
    commit_all(repo.path());
    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path());
    let report = build_json(repo.path(), &key, &repo.path().join("build"));
    assert!(report.get("mdm").is_none(), "{report:#}");
    assert!(!repo.path().join("build/mdm").exists());
}

/// The bundle's copy of each profile, by file name.
fn bundle_profiles(archive: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    mmc_bundle::extract(&std::fs::read(archive).unwrap(), &out).unwrap();
    listing(&out.join("profiles"))
}

#[test]
fn build_writes_every_profile_for_an_mdm_and_with_fleet_its_fragment() {
    let repo = fixture(None);
    commit_all(repo.path());
    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path());
    let out_dir = repo.path().join("build");
    let out = run(mmc(repo.path())
        .args(["build", "--fleet", "--format", "json", "--key"])
        .arg(&key));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        report["mdm"]["files"],
        serde_json::json!([
            "fleet/bundles/stable.yml",
            "fleet/bundles/testing.yml",
            "fleet/profiles.yml",
            "profiles/com.example.screensaver.mobileconfig"
        ])
    );
    // Built again, talking: the same files.
    let first = listing(&out_dir.join("mdm/profiles"));
    let again = run(mmc(repo.path())
        .args(["build", "--fleet", "--key"])
        .arg(&key));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("Wrote 1 configuration profile for an MDM")
            && again.stderr.contains("Wrote Fleet GitOps controls")
            && again.stderr.contains("mdm/fleet/profiles.yml"),
        "{}",
        again.stderr
    );
    assert_eq!(listing(&out_dir.join("mdm/profiles")), first);
    // The very bytes each bundle carries.
    let profiles = listing(&out_dir.join("mdm/profiles"));
    for bundle in report["bundles"].as_array().unwrap() {
        let carried = bundle_profiles(std::path::Path::new(bundle["path"].as_str().unwrap()));
        assert_eq!(carried, profiles, "{}", bundle["name"]);
    }
    let fleet = std::fs::read_to_string(out_dir.join("mdm/fleet/profiles.yml")).unwrap();
    assert!(
        fleet.contains("\n    - path: ../profiles/com.example.screensaver.mobileconfig\n"),
        "{fleet}"
    );
    let stable = std::fs::read_to_string(out_dir.join("mdm/fleet/bundles/stable.yml")).unwrap();
    assert!(
        stable.contains("\n    - path: ../../profiles/com.example.screensaver.mobileconfig\n"),
        "{stable}"
    );

    // The profile goes and --fleet is left out: its file and the fragment go, nothing else.
    std::fs::write(out_dir.join("mdm/profiles/README.txt"), "notes\n").unwrap();
    std::fs::remove_file(repo.path().join("profiles/screensaver.yaml")).unwrap();
    std::fs::remove_dir_all(out_dir.join("bundles")).unwrap();
    let after = run(mmc(repo.path()).args(["build", "--key"]).arg(&key));
    assert_eq!(after.code, 0, "{}", after.stderr);
    assert!(!after.stderr.contains("Fleet"), "{}", after.stderr);
    assert_eq!(
        listing(&out_dir.join("mdm/profiles"))
            .keys()
            .collect::<Vec<_>>(),
        ["README.txt"]
    );
    assert!(!out_dir.join("mdm/fleet").exists());
}

/// `openssl`, or `None` (the test is skipped with a note) when this machine has none.
fn openssl() -> Option<std::path::PathBuf> {
    let ok = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("note: openssl is not installed; skipping the profile signing test");
    }
    ok.then(|| std::path::PathBuf::from("openssl"))
}

#[test]
fn build_signs_the_mdm_profiles_with_a_certificate_and_leaves_the_bundles_unsigned() {
    let Some(openssl) = openssl() else {
        return;
    };
    let repo = fixture(None);
    commit_all(repo.path());
    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path());
    // A throwaway self-signed signing certificate.
    let cert = keys.path().join("profiles.pem");
    let cert_key = keys.path().join("profiles.key");
    let made = std::process::Command::new(&openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=mmc profile signing test"])
        .arg("-keyout")
        .arg(&cert_key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    std::fs::set_permissions(&cert_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out_dir = repo.path().join("build");
    let sign = |extra: &[&str]| {
        run(mmc(repo.path())
            .args(["build", "--key"])
            .arg(&key)
            .arg("--sign-profiles-cert")
            .arg(&cert)
            .arg("--sign-profiles-key")
            .arg(&cert_key)
            .args(extra))
    };
    let out = sign(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Wrote 1 signed configuration profile for an MDM"),
        "{}",
        out.stderr
    );
    let signed = out_dir.join("mdm/profiles/com.example.screensaver.mobileconfig");
    let der = std::fs::read(&signed).unwrap();
    assert_eq!(der[0], 0x30, "DER, not XML");
    // It verifies, and what it carries is the bundles' (unsigned) copy, byte for byte.
    let content = keys.path().join("content.plist");
    let verify = std::process::Command::new(&openssl)
        .args(["cms", "-verify", "-noverify", "-inform", "der", "-in"])
        .arg(&signed)
        .arg("-out")
        .arg(&content)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");
    let bundles: Vec<std::path::PathBuf> = std::fs::read_dir(out_dir.join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .collect();
    assert_eq!(bundles.len(), 2);
    for bundle in &bundles {
        let carried = bundle_profiles(bundle);
        assert_eq!(
            carried["com.example.screensaver.mobileconfig"],
            std::fs::read(&content).unwrap(),
            "{}",
            bundle.display()
        );
    }
    // Signing again gives the same bytes (RSA, no signing time).
    assert_eq!(sign(&[]).code, 0);
    assert_eq!(std::fs::read(&signed).unwrap(), der);

    // A key others can read is refused; so is a missing openssl, with a clear message.
    std::fs::set_permissions(&cert_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let loose = sign(&[]);
    assert_eq!(loose.code, 2, "{}", loose.stderr);
    assert!(
        loose.stderr.contains("readable by other users"),
        "{}",
        loose.stderr
    );
    std::fs::set_permissions(&cert_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let missing = run(mmc(repo.path())
        .args(["build", "--key"])
        .arg(&key)
        .arg("--sign-profiles-cert")
        .arg(&cert)
        .arg("--sign-profiles-key")
        .arg(&cert_key)
        .env("MMC_OPENSSL", keys.path().join("no-such-openssl")));
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .contains("signing profiles needs the `openssl` command"),
        "{}",
        missing.stderr
    );
    let half = run(mmc(repo.path())
        .args(["build", "--key"])
        .arg(&key)
        .arg("--sign-profiles-cert")
        .arg(&cert));
    assert_eq!(half.code, 2, "{}", half.stderr);
}
