//! `mmc_bundle::extract`, the agent's strict extractor, on arbitrary archive bytes.
//!
//! The agent only extracts an archive whose SHA-256 a trusted signature vouches for, so this is
//! defence in depth: what if the signer (or the compiler) were tricked into signing a hostile
//! archive? Input: the `.tar.gz` bytes as they would arrive.
//!
//! Each run extracts into `ROOT/sandbox/bundle` (a fresh scratch directory per process, on tmpfs
//! when there is one). Checked: no panic; afterwards `ROOT` holds only `sandbox`, and `sandbox`
//! holds exactly `bundle` on success and nothing at all on error (no staging directory, no stray
//! file, nothing written beside the destination); on success the tree under `bundle` is regular
//! files and directories only (no symbolic link, device or FIFO), with no setuid/setgid/sticky
//! bit, no execute bit on files and nothing group- or world-writable, and it holds exactly
//! `index.json` and the files the index lists, with their listed sizes and SHA-256; an error is
//! a refusal of the archive, never a file-system error (`ExtractError::Io`), and its message is
//! one line without control characters.
#![no_main]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mmc_bundle::ExtractError;

static ROOT: LazyLock<PathBuf> = LazyLock::new(|| {
    let root = mmc_fuzz::scratch_dir("extract");
    fs::create_dir(root.join("sandbox")).expect("cannot create the sandbox");
    root
});

fuzz_target!(|archive: &[u8]| {
    let sandbox = ROOT.join("sandbox");
    let dest = sandbox.join("bundle");
    let result = mmc_bundle::extract(archive, &dest);
    let left = mmc_fuzz::names_in(&sandbox);
    match &result {
        Ok(extracted) => {
            assert_eq!(
                left,
                ["bundle"],
                "extraction left files beside the destination"
            );
            assert_eq!(extracted.dir, dest);
            let mut found = BTreeMap::new();
            walk(&dest, "", &mut found);
            let mut expected: BTreeMap<String, (u64, String)> = extracted
                .index
                .files
                .iter()
                .map(|f| (f.path.clone(), (f.size, f.sha256.clone())))
                .collect();
            let index = fs::read(dest.join(mmc_bundle::INDEX_PATH)).expect("index.json is there");
            expected.insert(
                mmc_bundle::INDEX_PATH.to_owned(),
                (index.len() as u64, mmc_bundle::sha256_hex(&index)),
            );
            assert_eq!(found, expected, "the extracted files are not the index's");
            fs::remove_dir_all(&dest).expect("cannot clean up the destination");
        }
        Err(e) => {
            assert!(left.is_empty(), "refused ({e}) but left {left:?} behind");
            assert!(
                !matches!(
                    e,
                    ExtractError::Io { .. } | ExtractError::DestinationExists(_)
                ),
                "the file system, not the checks, refused the archive: {e:?}"
            );
            let message = e.to_string();
            assert!(
                !message.chars().any(char::is_control),
                "control character in {message:?}"
            );
        }
    }
    assert_eq!(
        mmc_fuzz::names_in(&ROOT),
        ["sandbox"],
        "a file appeared beside the sandbox"
    );
});

/// Collects `relative path → (size, SHA-256)` of every file under `dir`, checking types and modes.
fn walk(dir: &Path, prefix: &str, found: &mut BTreeMap<String, (u64, String)>) {
    for entry in fs::read_dir(dir).expect("an extracted directory is readable") {
        let entry = entry.expect("a directory entry");
        let name = entry
            .file_name()
            .into_string()
            .expect("extracted names are UTF-8");
        let path = entry.path();
        let relative = format!("{prefix}{name}");
        let meta = fs::symlink_metadata(&path).expect("an extracted entry has metadata");
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            assert_eq!(mode & 0o7022, 0, "{relative}/: mode {mode:o}");
            walk(&path, &format!("{relative}/"), found);
        } else {
            assert!(meta.is_file(), "{relative} is a {:?}", meta.file_type());
            assert_eq!(mode & 0o7133, 0, "{relative}: mode {mode:o}");
            let data = fs::read(&path).expect("an extracted file is readable");
            found.insert(relative, (data.len() as u64, mmc_bundle::sha256_hex(&data)));
        }
    }
}
