//! `mmc diff` between commits of a temporary git repository, and the unsigned build / sign split
//! the pull-request workflows use.

use std::path::Path;
use std::process::Command;

use crate::support::*;

/// `git` with a fixed identity and commit time `hour` hours after 2026-11-01T12:00:00Z, so commit
/// ids are the same on every machine.
fn git_at(dir: &Path, hour: u32, args: &[&str]) -> String {
    let date = format!("2026-11-01T{:02}:00:00Z", 12 + hour);
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=mmc test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn edit(dir: &Path, rel: &str, from: &str, to: &str) {
    let path = dir.join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{rel} has no {from:?}");
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// Commits everything; returns the abbreviated commit id.
fn commit(dir: &Path, hour: u32, message: &str) -> String {
    git_at(dir, hour, &["add", "-A"]);
    git_at(dir, hour, &["commit", "-q", "-m", message]);
    git_at(dir, hour, &["rev-parse", "--short=7", "HEAD"])
}

/// A script item next to the base fixture, so a step can change a script.
const SCRIPTS: &str = "items:
  - name: SetTimeZone
    kind: script
    version: \"1\"
    installcheck_script: |
      #!/bin/sh
      [ \"$(systemsetup -gettimezone)\" != \"Time Zone: Europe/Berlin\" ]
    postinstall_script: |
      #!/bin/sh
      systemsetup -settimezone Europe/Berlin
";

fn repository() -> tempfile::TempDir {
    let repo = fixture(None);
    write(repo.path(), "policies/items/scripts.yaml", SCRIPTS);
    edit(
        repo.path(),
        "policies/manifests/common.yaml",
        "  - Banner\n",
        "  - Banner\n  - SetTimeZone\n",
    );
    git_at(repo.path(), 0, &["init", "-q"]);
    commit(repo.path(), 0, "policies");
    repo
}

/// `mmc diff BASE HEAD` in all three forms, as one snapshot; the exit status must be the same
/// for each.
fn diff_all(repo: &Path, base: &str, head: &str) -> (i32, String) {
    let mut shown = String::new();
    let mut code = None;
    for format in ["human", "markdown", "json"] {
        let out = run(mmc(repo).args(["diff", base, head, "--format", format]));
        assert!(out.code == 0 || out.code == 1, "{format}: {}", out.stderr);
        assert_eq!(out.stderr, "", "{format}: nothing on stderr");
        assert_eq!(*code.get_or_insert(out.code), out.code, "{format}");
        if format == "json" {
            let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
            assert_eq!(v["version"], 1);
            assert_eq!(v["changed"], out.code == 1);
        }
        shown.push_str(&format!(
            "===== --format {format} (exit {})\n{}\n",
            out.code, out.stdout
        ));
    }
    (code.unwrap(), shown)
}

#[test]
fn each_kind_of_change_between_commits() {
    let repo = repository();
    let dir = repo.path();
    let mut prev = git_at(dir, 0, &["rev-parse", "--short=7", "HEAD"]);
    let mut hour = 0;
    let mut step = |name: &str, change: &dyn Fn(&Path), expect: i32| {
        hour += 1;
        change(dir);
        let this = commit(dir, hour, name);
        let (code, shown) = diff_all(dir, &prev, &this);
        assert_eq!(code, expect, "{name}:\n{shown}");
        insta::assert_snapshot!(name, shown);
        prev = this;
    };

    step(
        "cosmetic_edit",
        &|d| {
            // Key order, comments, quoting and list style: the compiled bundles stay the same.
            write(
                d,
                "policies/manifests/common.yaml",
                "# Every Mac.\nconditional_items:\n  - managed_installs: ['Firefox']   # laptops only\n    condition: 'machine_type == \"laptop\"'\nmanaged_installs: [\"Banner\", SetTimeZone]\n",
            );
            edit(
                d,
                "profiles/screensaver.yaml",
                "display_name: Screen Saver",
                "display_name: \"Screen Saver\"  # as shown in System Settings",
            );
        },
        0,
    );
    step(
        "version_bump",
        &|d| {
            for (from, to) in [
                ("version: \"128.0\"", "version: \"129.0\""),
                ("Firefox-128.0.pkg", "Firefox-129.0.pkg"),
                (
                    "CFBundleShortVersionString: \"128.0\"",
                    "CFBundleShortVersionString: \"129.0\"",
                ),
            ] {
                edit(d, "policies/items/apps.yaml", from, to);
            }
            edit(
                d,
                "policies/items/scripts.yaml",
                "version: \"1\"",
                "version: \"2\"",
            );
            edit(
                d,
                "policies/items/scripts.yaml",
                "Europe/Berlin\n",
                "Europe/Paris\n",
            );
        },
        1,
    );
    step(
        "condition_change",
        &|d| {
            edit(
                d,
                "policies/manifests/common.yaml",
                "== \"laptop\"",
                "== \"desktop\"",
            )
        },
        1,
    );
    step(
        "profile_key_change",
        &|d| {
            edit(
                d,
                "profiles/screensaver.yaml",
                "idleTime: 600",
                "idleTime: 300",
            )
        },
        1,
    );
    step(
        "profile_identifier_change",
        &|d| {
            edit(
                d,
                "profiles/screensaver.yaml",
                "payloads:",
                "identifier: com.example.lockscreen\npayloads:",
            )
        },
        1,
    );
    step(
        "item_removal",
        &|d| {
            edit(
                d,
                "policies/items/apps.yaml",
                "\n  - name: Banner\n    kind: file\n    path: /Library/Security/PolicyBanner.txt\n    content: \"Questions? {{ vars.support_contact }}\"\n",
                "",
            );
            edit(d, "policies/manifests/common.yaml", "\"Banner\", ", "");
        },
        1,
    );
}

#[test]
fn the_work_tree_against_where_the_branch_started() {
    let repo = repository();
    let dir = repo.path();
    git_at(dir, 1, &["checkout", "-q", "-b", "firefox-129"]);
    edit(
        dir,
        "policies/items/apps.yaml",
        "version: \"128.0\"",
        "version: \"129.0\"",
    );
    commit(dir, 1, "Firefox 129");
    // Uncommitted too: the work tree is HEAD by default.
    edit(
        dir,
        "profiles/screensaver.yaml",
        "idleTime: 600",
        "idleTime: 900",
    );
    let out = run(mmc(dir).args(["diff", "--format", "json"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["base"]["revision"], "merge-base with main");
    assert_eq!(v["head"]["revision"], "work tree");
    assert_eq!(
        v["head"]["version"],
        serde_json::Value::Null,
        "set by the commit to come"
    );
    let stable = &v["bundles"][1];
    assert_eq!(stable["name"], "stable");
    let names: Vec<&str> = stable["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Firefox", "com.example.screensaver"]);

    // With the edit undone, the work tree is HEAD: its version is HEAD's commit time.
    edit(
        dir,
        "profiles/screensaver.yaml",
        "idleTime: 900",
        "idleTime: 600",
    );
    let out = run(mmc(dir).args(["diff", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["head"]["version"], COMMIT_TIME + 3600);

    // HEAD against the work tree: nothing.
    let out = run(mmc(dir).args(["diff", "HEAD"]));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(out.stdout.contains("No changes."), "{}", out.stdout);
}

#[test]
fn a_revision_that_does_not_compile_is_named() {
    let repo = repository();
    let dir = repo.path();
    edit(
        dir,
        "policies/manifests/common.yaml",
        "  - Banner\n",
        "  - Baner\n",
    );
    let bad = commit(dir, 1, "typo");
    let out = run(mmc(dir).args(["diff", "HEAD~1", "HEAD", "--format", "markdown"]));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with(&format!(
            "error: in HEAD ({bad}): the policies do not compile (1 error)\n"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("unknown item `Baner`"),
        "{}",
        out.stderr
    );
    insta::assert_snapshot!(out.stdout.replace(&bad, "[COMMIT]"));

    // The same revision as BASE is named BASE.
    let out = run(mmc(dir).args(["diff", "HEAD", "HEAD~1"]));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(&format!("in BASE HEAD ({bad})"))
            || out.stderr.contains(&format!("in BASE ({bad})")),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn facts_show_which_macs_lists_change() {
    let repo = repository();
    let dir = repo.path();
    // Firefox only through the laptop condition, then the condition changes (uncommitted).
    edit(
        dir,
        "policies/manifests/site_default.yaml",
        "managed_installs:\n  - Firefox\n",
        "",
    );
    commit(dir, 1, "Firefox for laptops only");
    edit(
        dir,
        "policies/manifests/common.yaml",
        "== \"laptop\"",
        "== \"desktop\"",
    );
    let fleet = tempfile::tempdir().unwrap();
    write(
        fleet.path(),
        "mac-01.yaml",
        "machine_type: laptop\nos_vers_major: 15\n",
    );
    write(
        fleet.path(),
        "mac-02.json",
        "{\"machine_type\": \"desktop\"}\n",
    );
    write(fleet.path(), "mac-03.yaml", "machine_type: laptop\n");
    write(fleet.path(), ".hidden.yaml", "not: read\n");
    let out = run(mmc(dir)
        .args(["diff", "HEAD", "--color", "never", "--facts"])
        .arg(fleet.path()));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let machines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("mac-0") || l.contains("machines"))
        .collect();
    assert_eq!(
        machines,
        [
            "  # machines (facts files, manifest site_default): 3 of 3 change",
            "      ~ mac-01: managed_installs -Firefox",
            "      ~ mac-02: managed_installs +Firefox",
            "      ~ mac-03: managed_installs -Firefox",
            "  # machines (facts files, manifest site_default): 3 of 3 change",
            "      ~ mac-01: managed_installs -Firefox",
            "      ~ mac-02: managed_installs +Firefox",
            "      ~ mac-03: managed_installs -Firefox",
        ]
    );
    let out = run(mmc(dir)
        .args(["diff", "HEAD", "--format", "markdown", "--facts"])
        .arg(fleet.path()));
    assert!(out.stdout.contains("| machines |"), "{}", out.stdout);
    assert!(out.stdout.contains(" 3 of 3 |"), "{}", out.stdout);
}

#[test]
fn not_a_git_repository_is_an_error() {
    let repo = fixture(None);
    let out = run(mmc(repo.path())
        .args(["diff"])
        .env("GIT_CEILING_DIRECTORIES", repo.path().parent().unwrap()));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("not in a git repository"),
        "{}",
        out.stderr
    );
}

#[test]
fn unsigned_build_then_sign_elsewhere() {
    let repo = fixture(None);
    commit_all(repo.path());
    let out_dir = repo.path().join("build");
    let out = run(mmc(repo.path())
        .args(["build", "--unsigned", "--format", "json", "--out"])
        .arg(&out_dir));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(report.get("key_id").is_none());
    let stable = &report["bundles"][1];
    assert!(stable.get("signature").is_none());
    let archive_path = std::path::PathBuf::from(stable["path"].as_str().unwrap());
    assert!(
        stable["statement"]
            .as_str()
            .unwrap()
            .ends_with(".tar.gz.statement.json")
    );
    assert!(
        !out_dir
            .join(format!("bundles/stable-{COMMIT_TIME}.tar.gz.sig"))
            .exists()
    );

    // The signer sees only the bundles folder: no repository, no policies.
    let signer = tempfile::tempdir().unwrap();
    let bundles = signer.path().join("bundles");
    copy_tree(&out_dir.join("bundles"), &bundles);
    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path());
    let out = run(mmc(signer.path())
        .args(["sign"])
        .arg(&bundles)
        .arg("--key")
        .arg(&key));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let archive = std::fs::read(bundles.join(archive_path.file_name().unwrap())).unwrap();
    assert_eq!(
        archive,
        std::fs::read(&archive_path).unwrap(),
        "signing leaves the archive alone"
    );
    let envelope = std::fs::read(bundles.join(format!("stable-{COMMIT_TIME}.tar.gz.sig"))).unwrap();
    let pem = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let trusted = mmc_bundle::parse_public_key(&pem).unwrap();
    let now = jiff::Timestamp::from_second(COMMIT_TIME as i64 + 60).unwrap();
    let statement = mmc_bundle::verify(&envelope, &archive, &[trusted], now).expect("verifies");
    assert_eq!(statement.name, "stable");
    assert_eq!(statement.version, COMMIT_TIME);

    // The same as `mmc build --key`: one content, one signature.
    let signed_dir = repo.path().join("signed");
    let out = run(mmc(repo.path())
        .args(["build", "--key"])
        .arg(&key)
        .arg("--out")
        .arg(&signed_dir));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read(signed_dir.join(format!("bundles/stable-{COMMIT_TIME}.tar.gz.sig"))).unwrap(),
        envelope
    );

    // A tampered archive is refused, and nothing is written.
    let mut bad = archive.clone();
    bad[10] ^= 1;
    std::fs::write(bundles.join(archive_path.file_name().unwrap()), bad).unwrap();
    std::fs::remove_file(bundles.join(format!("stable-{COMMIT_TIME}.tar.gz.sig"))).unwrap();
    let out = run(mmc(signer.path())
        .args(["sign"])
        .arg(&bundles)
        .arg("--key")
        .arg(&key));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("is not the archive its statement describes"),
        "{}",
        out.stderr
    );
    assert!(
        !bundles
            .join(format!("stable-{COMMIT_TIME}.tar.gz.sig"))
            .exists()
    );
}

#[test]
fn sign_refuses_a_key_the_repository_does_not_trust() {
    let repo = fixture(None);
    edit(
        repo.path(),
        "mmc.yaml",
        "vars:",
        &format!("signing:\n  trusted_keys: [\"{}\"]\nvars:", "a".repeat(64)),
    );
    commit_all(repo.path());
    let out = run(mmc(repo.path()).args(["build", "--unsigned"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path());
    let out = run(mmc(repo.path()).args(["sign", "--key"]).arg(&key));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("is not in mmc.yaml's signing.trusted_keys"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_policy_repository_in_a_subfolder_of_the_git_repository() {
    let top = tempfile::tempdir().unwrap();
    let repo = top.path().join("fleet/policy");
    std::fs::create_dir_all(&repo).unwrap();
    copy_policy_tree(&fixtures().join("base"), &repo);
    write(top.path(), "README.md", "not a policy\n");
    git_at(top.path(), 0, &["init", "-q"]);
    commit(top.path(), 0, "policies in a subfolder");
    edit(
        &repo,
        "profiles/screensaver.yaml",
        "idleTime: 600",
        "idleTime: 300",
    );
    let out = run(mmc(top.path())
        .args(["diff", "HEAD", "--format", "json", "--repo"])
        .arg(&repo));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let names: Vec<&str> = v["bundles"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["com.example.screensaver"]);
    // Run from inside the subfolder, with the edit undone: nothing.
    edit(
        &repo,
        "profiles/screensaver.yaml",
        "idleTime: 300",
        "idleTime: 600",
    );
    let out = run(mmc(&repo).args(["diff", "HEAD"]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}
