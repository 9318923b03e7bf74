//! Unit tests. `cargo test` builds this crate with the `sign` feature (see the self
//! dev-dependency in Cargo.toml), so the writer and signer are available here.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use ed25519_dalek::SigningKey;
use jiff::Timestamp;

use crate::{ArchiveRef, FORMAT_VERSION, Statement, key_id, write_archive};

mod archive;
mod hostile;
mod keys;
mod root;
mod sign_verify;

fn signing_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// A moment inside the validity window of [`statement_for`].
fn now() -> Timestamp {
    ts("2026-11-25T12:00:00Z")
}

fn sample_files() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    files.insert("agent.json".to_owned(), b"{\"interval\": 1800}\n".to_vec());
    files.insert(
        "profiles/com.example.wifi.mobileconfig".to_owned(),
        b"<plist>wifi</plist>\n".to_vec(),
    );
    files.insert(
        "munki/manifests/site_default".to_owned(),
        b"<plist>manifest</plist>\n".to_vec(),
    );
    files.insert("README".to_owned(), Vec::new());
    files
}

fn sample_archive() -> Vec<u8> {
    write_archive(&sample_files()).unwrap()
}

#[test]
fn archive_ref_describes_exact_bytes() {
    let r = ArchiveRef::of("b.tar.gz", b"abc");
    assert_eq!(r.file, "b.tar.gz");
    assert_eq!(r.length, 3);
    // SHA-256("abc"), FIPS 180-2 example.
    assert_eq!(
        r.sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

fn statement_for(archive: &[u8], key: &SigningKey) -> Statement {
    Statement {
        format: FORMAT_VERSION,
        name: "stable".to_owned(),
        audience: "com.example:stable".to_owned(),
        version: 1_763_700_000,
        created: "2026-11-21T05:31:00Z".to_owned(),
        expires: "2026-12-01T00:00:00Z".to_owned(),
        key_id: key_id(&key.verifying_key()),
        archive: ArchiveRef::of("stable-1763700000.tar.gz", archive),
    }
}

/// Sorted names in `dir`.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every regular file under `dir`, relative, `/`-separated, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
