//! Problems in policies: each fixture gives exit 2, a message at the right file, line and column,
//! and writes nothing.

use crate::support::*;

/// Runs `mmc check` on a fixture case, snapshots the human output, and proves `mmc build` writes
/// nothing for it.
fn check_case(case: &str) -> Output {
    let repo = fixture(Some(case));
    let out = run(mmc(repo.path()).args(["check", "--color", "never"]));
    assert_eq!(out.code, 2, "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "", "human diagnostics go to stderr");

    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path());
    // A fresh output directory is not created...
    let out_dir = repo.path().join("out");
    let build = run(mmc(repo.path())
        .args(["build", "--key"])
        .arg(&key)
        .arg("--out")
        .arg(&out_dir));
    assert_eq!(build.code, 2);
    assert!(
        build.stderr.contains("nothing was written"),
        "{}",
        build.stderr
    );
    assert!(
        !out_dir.exists(),
        "a failed build must not create its output directory"
    );
    // ...and an existing one, holding an earlier build, stays exactly as it was.
    let earlier = repo.path().join("build/bundles");
    std::fs::create_dir_all(&earlier).unwrap();
    std::fs::write(earlier.join("stable-1.tar.gz"), b"earlier bundle").unwrap();
    let build = run(mmc(repo.path()).args(["build", "--key"]).arg(&key));
    assert_eq!(build.code, 2);
    let listing: Vec<_> = std::fs::read_dir(&earlier)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(listing, ["stable-1.tar.gz"]);
    assert_eq!(
        std::fs::read(earlier.join("stable-1.tar.gz")).unwrap(),
        b"earlier bundle"
    );
    out
}

#[test]
fn unknown_key() {
    insta::assert_snapshot!(check_case("unknown_key").stderr);
}

#[test]
fn unknown_item_with_near_miss() {
    insta::assert_snapshot!(check_case("unknown_item").stderr);
}

#[test]
fn duplicate_key() {
    insta::assert_snapshot!(check_case("duplicate_key").stderr);
}

#[test]
fn include_cycle() {
    insta::assert_snapshot!(check_case("include_cycle").stderr);
}

#[test]
fn yaml11_boolean() {
    insta::assert_snapshot!(check_case("yaml11_boolean").stderr);
}

#[test]
fn undefined_template_variable() {
    insta::assert_snapshot!(check_case("undefined_variable").stderr);
}

#[test]
fn launchd_labels() {
    insta::assert_snapshot!(check_case("launchd_label").stderr);
}

#[test]
fn launchd_jobs() {
    insta::assert_snapshot!(check_case("launchd_job").stderr);
}

#[test]
fn launchd_label_and_path_conflicts() {
    insta::assert_snapshot!(check_case("launchd_conflicts").stderr);
}

#[test]
fn launchd_keys_on_other_kinds_and_other_keys_on_launchd() {
    insta::assert_snapshot!(check_case("launchd_key_for_kind").stderr);
}

#[test]
fn update_policies() {
    insta::assert_snapshot!(check_case("updates_problems").stderr);
}

#[test]
fn all_problems_of_all_files_in_one_run() {
    let out = check_case("many_errors");
    insta::assert_snapshot!(out.stderr);
    // Problems from three different files, in one run.
    for file in [
        "mmc.yaml",
        "policies/items/apps.yaml",
        "policies/manifests/site_default.yaml",
    ] {
        assert!(
            out.stderr.contains(&format!("--> {file}:")),
            "no problem reported in {file}"
        );
    }
}

#[test]
fn json_lines_format() {
    let repo = fixture(Some("many_errors"));
    let out = run(mmc(repo.path()).args(["check", "--format", "json"]));
    assert_eq!(out.code, 2);
    for line in out.stdout.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).expect("each line is one JSON object");
        assert!(
            v["file"].is_string() && v["line"].is_u64() && v["column"].is_u64(),
            "{line}"
        );
    }
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn github_annotations_format() {
    let repo = fixture(Some("unknown_item"));
    let out = run(mmc(repo.path()).args(["check", "--format", "github"]));
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.stdout, @"::error title=mmc unknown-item,file=policies/manifests/site_default.yaml,line=4,col=5,endLine=4,endColumn=11::unknown item `Firefx`: no item has this name%0Ahelp: did you mean `Firefox`?");
}

#[test]
fn github_actions_gets_annotations_by_default() {
    let repo = fixture(Some("unknown_item"));
    let out = run(mmc(repo.path()).arg("check").env("GITHUB_ACTIONS", "true"));
    assert_eq!(out.code, 2);
    assert!(
        out.stdout.starts_with("::error title=mmc unknown-item,"),
        "{}",
        out.stdout
    );
    let out = run(mmc(repo.path())
        .args(["check", "--format", "json"])
        .env("GITHUB_ACTIONS", "true"));
    assert!(
        out.stdout.starts_with('{'),
        "an explicit --format wins: {}",
        out.stdout
    );
}

#[test]
fn valid_repository_checks_clean() {
    let repo = fixture(None);
    let out = run(mmc(repo.path()).arg("check"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("no problems"), "{}", out.stderr);
}

#[test]
fn repo_is_found_upward_or_given() {
    let repo = fixture(None);
    let sub = repo.path().join("policies/manifests");
    assert_eq!(run(mmc(&sub).arg("check")).code, 0);
    let elsewhere = tempfile::tempdir().unwrap();
    let out = run(mmc(elsewhere.path()).arg("check"));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no mmc.yaml"), "{}", out.stderr);
    assert_eq!(
        run(mmc(elsewhere.path())
            .arg("check")
            .arg("--repo")
            .arg(repo.path()))
        .code,
        0
    );
}

#[test]
fn example_repository_checks_clean() {
    let out = run(mmc(&example_repo()).arg("check"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("no problems"),
        "the example org must have no warnings either: {}",
        out.stderr
    );
}

#[test]
fn init_creates_a_repository_that_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("org");
    assert_eq!(run(mmc(dir.path()).arg("init").arg(&target)).code, 0);
    assert_eq!(run(mmc(&target).arg("check")).code, 0);
    let again = run(mmc(dir.path()).arg("init").arg(&target));
    assert_eq!(again.code, 2, "init must not overwrite a repository");
}

#[test]
fn schema_is_json_for_every_kind() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["repo", "items", "manifest", "profile", "test", "updates"] {
        let out = run(mmc(dir.path()).args(["schema", kind]));
        assert_eq!(out.code, 0);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["additionalProperties"], false, "{kind}");
    }
    let out = run(mmc(dir.path())
        .args(["schema", "--out"])
        .arg(dir.path().join("s")));
    assert_eq!(out.code, 0);
    assert!(dir.path().join("s/items.schema.json").is_file());
    assert!(dir.path().join("s/updates.schema.json").is_file());
}

#[test]
fn top_level_help() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(mmc(dir.path()).arg("--help"));
    assert_eq!(out.code, 0);
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn symbolic_links_in_policy_folders_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.yaml"), "items: []\n").unwrap();
    for link in [
        "policies/items/linked.yaml",
        "policies/items/sub",
        "profiles",
    ] {
        let repo = fixture(None);
        let at = repo.path().join(link);
        if at.exists() {
            std::fs::remove_dir_all(&at).unwrap();
        }
        std::os::unix::fs::symlink(
            outside.path().join(if link.ends_with(".yaml") {
                "secret.yaml"
            } else {
                ""
            }),
            &at,
        )
        .unwrap();
        let out = run(mmc(repo.path()).arg("check"));
        assert_eq!(out.code, 2, "{link}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("{link} is a symbolic link")),
            "{link}: {}",
            out.stderr
        );
    }
}

#[test]
fn github_annotation_paths_start_at_the_checkout_root() {
    let checkout = tempfile::tempdir().unwrap();
    let repo = checkout.path().join("fleet/policy");
    std::fs::create_dir_all(&repo).unwrap();
    copy_tree(fixture(Some("unknown_item")).path(), &repo);
    commit_all(checkout.path());
    let out = run(mmc(&repo).args(["check", "--format", "github"]));
    assert_eq!(out.code, 2);
    assert!(
        out.stdout
            .contains(",file=fleet/policy/policies/manifests/site_default.yaml,"),
        "{}",
        out.stdout
    );
}
