//! `cargo bench -p mmc --bench diff`: `mmc diff` end to end between two commits of a generated
//! 2,000-item repository (read both revisions from git, compile both, compare, render).
//! Prints the time; nothing here asserts on it. `MMC_BENCH_KEEP=DIR` generates the repository in
//! DIR (empty) and keeps it, for profiling.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const ITEMS: usize = 2_000;
const RUNS: usize = 7;

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_AUTHOR_DATE", "2026-11-01T12:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-11-01T12:00:00Z")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// 2,000 items in 20 files (packages, scripts, preferences, files), 20 manifests with
/// conditional items and includes, 5 profiles. `bump` changes 50 versions, one script, one
/// condition and one profile key.
fn generate(dir: &Path, bump: bool) {
    write(
        dir,
        "mmc.yaml",
        "mmc_version: 1\norg: {name: Bench Corp, identifier_prefix: com.bench}\ntracks: [testing, stable]\nbundles:\n  - {name: testing, track: testing}\n  - {name: stable, track: stable}\nvars: {contact: it@bench.example}\n",
    );
    let hash = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
    for file in 0..20 {
        let mut s = String::from("items:\n");
        for i in file * (ITEMS / 20)..(file + 1) * (ITEMS / 20) {
            let minor = if bump && i % 40 == 0 { 1 } else { 0 };
            match i % 20 {
                0..=15 => {
                    let _ = write!(
                        s,
                        "  - name: App{i}\n    kind: package\n    display_name: Application {i}\n    version: \"{i}.{minor}\"\n    installer_item_location: apps/App{i}-{i}.{minor}.pkg\n    installer_item_hash: {hash}\n    installer_item_size: {}\n    installs:\n      - type: application\n        path: /Applications/App{i}.app\n        CFBundleShortVersionString: \"{i}.{minor}\"\n    receipts:\n      - packageid: com.bench.app{i}\n        version: \"{i}.{minor}\"\n    unattended_install: true\n",
                        1000 + i
                    );
                }
                16 | 17 => {
                    let target = if bump && i == 16 { "Paris" } else { "Berlin" };
                    let _ = write!(
                        s,
                        "  - name: Script{i}\n    kind: script\n    version: \"{}\"\n    installcheck_script: |\n      #!/bin/sh\n      test -f /var/db/.bench{i}\n    postinstall_script: |\n      #!/bin/sh\n      echo Europe/{target} > /var/db/.bench{i}\n",
                        1 + minor
                    );
                }
                18 => {
                    let _ = write!(
                        s,
                        "  - name: Pref{i}\n    kind: preference\n    domain: com.bench.pref{i}\n    values:\n      Enabled: true\n      Interval: {i}\n      Contact: \"{{{{ vars.contact }}}}\"\n"
                    );
                }
                _ => {
                    let _ = write!(
                        s,
                        "  - name: File{i}\n    kind: file\n    path: /Library/Bench/file{i}.txt\n    content: \"Managed by {{{{ org.name }}}} #{i}\"\n"
                    );
                }
            }
        }
        write(dir, &format!("policies/items/part{file:02}.yaml"), &s);
    }
    for m in 0..20 {
        let mut s = String::new();
        if m > 0 {
            let _ = writeln!(s, "included_manifests: [group{:02}]", m - 1);
        }
        s.push_str("managed_installs:\n");
        for i in (m * 100)..(m * 100 + 80) {
            let name = match i % 20 {
                0..=15 => format!("App{i}"),
                16 | 17 => format!("Script{i}"),
                18 => format!("Pref{i}"),
                _ => format!("File{i}"),
            };
            let _ = writeln!(s, "  - {name}");
        }
        let kind = if bump && m == 3 { "desktop" } else { "laptop" };
        s.push_str("conditional_items:\n");
        let _ = write!(
            s,
            "  - condition: machine_type == \"{kind}\" AND os_vers_major >= 14\n    optional_installs:\n"
        );
        for i in (m * 100 + 80)..(m * 100 + 96) {
            let _ = writeln!(s, "      - App{}", i - i % 20 + (i % 16));
        }
        write(dir, &format!("policies/manifests/group{m:02}.yaml"), &s);
    }
    write(
        dir,
        "policies/manifests/site_default.yaml",
        "included_manifests: [group19]\n",
    );
    for p in 0..5 {
        let idle = if bump && p == 2 { 300 } else { 600 };
        write(
            dir,
            &format!("profiles/profile{p}.yaml"),
            &format!(
                "display_name: Profile {p}\npayloads:\n  - type: com.apple.screensaver\n    settings:\n      idleTime: {idle}\n      askForPassword: true\n"
            ),
        );
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let keep = std::env::var_os("MMC_BENCH_KEEP").map(std::path::PathBuf::from);
    let root = keep.as_deref().unwrap_or(dir.path());
    generate(root, false);
    git(root, &["init", "-q"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);
    generate(root, true);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "head"]);

    let mmc = env!("CARGO_BIN_EXE_mmc");
    let mut times: Vec<Duration> = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = Command::new(mmc)
            .current_dir(root)
            .args(["diff", "HEAD~1", "HEAD", "--color", "never"])
            .env("NO_COLOR", "1")
            .output()
            .expect("mmc runs");
        times.push(start.elapsed());
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        last = Some(out.stdout);
    }
    times.sort();
    let plan = String::from_utf8(last.unwrap()).unwrap();
    let summary = plan.lines().last().unwrap_or_default().to_owned();
    println!(
        "mmc diff HEAD~1 HEAD, {ITEMS} items in 2 bundles ({summary}): median {:.0} ms, min {:.0} ms, max {:.0} ms over {RUNS} runs",
        times[RUNS / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[RUNS - 1].as_secs_f64() * 1e3,
    );
}
