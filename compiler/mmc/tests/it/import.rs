//! `mmc import`: file names, exit codes, refusal to overwrite, all-or-nothing writes, and the
//! imported files passing `mmc check`.

use std::path::{Path, PathBuf};

use crate::support::*;

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mmc-compiler/testdata/corpus-profiles")
        .join(name)
}

const NUDGE: &str = "macadmins__nudge__com.github.macadmins.Nudge.mobileconfig";
const WIFI: &str = "kandji-inc__support__custom_wifi_scep_certchain_example.mobileconfig";

fn profiles(repo: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo.join("profiles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Output with the temporary and corpus paths replaced, for snapshots.
fn scrub(text: &str, repo: &Path) -> String {
    text.replace(&repo.display().to_string(), "REPO")
        .replace(&corpus("").display().to_string(), "CORPUS/")
}

#[test]
fn imports_into_profiles_and_the_result_checks() {
    let repo = fixture(None);
    let out = run(mmc(repo.path())
        .args(["import", "--keep-uuids"])
        .arg(corpus(NUDGE))
        .arg(corpus(WIFI)));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    insta::assert_snapshot!(scrub(&out.stderr, repo.path()));
    assert_eq!(
        profiles(repo.path()),
        [
            "example.yaml",
            "kandji-inc__support__custom_wifi_scep_certchain_example.yaml",
            "screensaver.yaml"
        ]
    );
    let yaml = std::fs::read_to_string(repo.path().join("profiles/example.yaml")).unwrap();
    assert!(
        yaml.starts_with(&format!("# Imported by `mmc import` from {NUDGE}.\n")),
        "{yaml}"
    );
    assert!(
        yaml.contains("uuid: 2F54F734-132D-4539-B583-F1DCF23DB5EB\n"),
        "{yaml}"
    );
    let check = run(mmc(repo.path()).args(["check", "--color", "never"]));
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(!check.stderr.contains("error"), "{}", check.stderr);
}

#[test]
fn existing_files_are_kept_unless_forced() {
    let repo = fixture(None);
    let first = run(mmc(repo.path()).arg("import").arg(corpus(NUDGE)));
    assert_eq!(first.code, 0, "{}", first.stderr);
    let path = repo.path().join("profiles/example.yaml");
    std::fs::write(&path, "# edited by hand\n").unwrap();

    let again = run(mmc(repo.path())
        .arg("import")
        .arg(corpus(WIFI))
        .arg(corpus(NUDGE)));
    assert_eq!(again.code, 2);
    assert!(
        again
            .stderr
            .contains("profiles/example.yaml already exists; pass --force"),
        "{}",
        again.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "# edited by hand\n"
    );
    assert_eq!(
        profiles(repo.path()),
        ["example.yaml", "screensaver.yaml"],
        "all or nothing: the Wi-Fi profile is not written either"
    );

    let forced = run(mmc(repo.path())
        .args(["import", "--force"])
        .arg(corpus(NUDGE)));
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("identifier: com.github.macadmins.Nudge.example\n")
    );
}

#[test]
fn one_bad_input_writes_nothing() {
    let repo = fixture(None);
    let junk = repo.path().join("junk.mobileconfig");
    std::fs::write(&junk, "not a profile").unwrap();
    let out = run(mmc(repo.path()).arg("import").arg(corpus(NUDGE)).arg(&junk));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("cannot import")
            && out
                .stderr
                .contains("junk.mobileconfig: not a property list")
            && out.stderr.contains("nothing was written"),
        "{}",
        out.stderr
    );
    assert_eq!(profiles(repo.path()), ["screensaver.yaml"]);

    let missing = run(mmc(repo.path()).arg("import").arg("nope.mobileconfig"));
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("cannot read nope.mobileconfig"),
        "{}",
        missing.stderr
    );
}

#[test]
fn the_same_profile_twice_is_refused() {
    let repo = fixture(None);
    let out = run(mmc(repo.path())
        .arg("import")
        .arg(corpus("microsoft__mdatp-xplat__sysext.mobileconfig"))
        .arg(corpus(
            "microsoft__mdatp-xplat__sysext_restricted.mobileconfig",
        )));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("are the same profile (identifier `com.microsoft.wdav.sysext`)"),
        "{}",
        out.stderr
    );
    assert_eq!(profiles(repo.path()), ["screensaver.yaml"]);
}

#[test]
fn outside_a_repository_it_needs_out() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(mmc(dir.path()).arg("import").arg(corpus(NUDGE)));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("pass --out DIR"), "{}", out.stderr);

    let out = run(mmc(dir.path())
        .args(["import", "--out", "converted"])
        .arg(corpus(NUDGE)));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let yaml = std::fs::read_to_string(dir.path().join("converted/example.yaml")).unwrap();
    // No repository: the organization is always written.
    assert!(yaml.contains("organization: Nudge\n"), "{yaml}");
    assert!(!yaml.contains("uuid:"), "{yaml}");
}
