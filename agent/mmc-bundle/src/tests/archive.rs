//! The writer, and extraction of what it writes.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;

use super::{files_under, listing, sample_archive, sample_files};
use crate::{
    Clash, FORMAT_VERSION, INDEX_PATH, Index, MAX_FILE_BYTES, PathProblem, WriteError, extract,
    sha256_hex, write_archive,
};

/// Pins the exact bytes of [`sample_archive`]. A change here means the archive layout or the
/// deflate backend changed: bundles would no longer rebuild byte for byte.
const GOLDEN_SHA256: &str = "0afcc183b358be5e6eab8c2fa0872436a518eef20158c29cbd9311d6446f135f";

fn tar_bytes(archive: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(archive)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn archive_is_byte_for_byte_reproducible() {
    let first = sample_archive();
    // Same content, inserted in another order.
    let mut reversed = BTreeMap::new();
    for (path, data) in sample_files().into_iter().rev() {
        reversed.insert(path, data);
    }
    assert_eq!(first, write_archive(&reversed).unwrap());
    assert_eq!(first, sample_archive());
    assert_eq!(sha256_hex(&first), GOLDEN_SHA256);
}

#[test]
fn gzip_header_is_fixed() {
    let archive = sample_archive();
    // magic, deflate, no flags, mtime 0, XFL 2 (level 9), OS 255.
    assert_eq!(
        archive[..10],
        [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x02, 0xff]
    );
}

#[test]
fn index_comes_first_then_files_in_byte_order_with_fixed_headers() {
    let tar = tar_bytes(&sample_archive());
    let mut archive = tar::Archive::new(&tar[..]);
    let mut paths = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header();
        assert!(header.as_ustar().is_some(), "ustar header expected");
        assert_eq!(header.entry_type(), tar::EntryType::Regular);
        assert_eq!(header.mode().unwrap(), 0o644);
        assert_eq!(header.uid().unwrap(), 0);
        assert_eq!(header.gid().unwrap(), 0);
        assert_eq!(header.mtime().unwrap(), 1);
        assert_eq!(header.username_bytes(), Some(&b""[..]));
        assert_eq!(header.groupname_bytes(), Some(&b""[..]));
        assert!(entry.pax_extensions().unwrap().is_none());
        let path = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
        if path == INDEX_PATH {
            let mut json = Vec::new();
            entry.read_to_end(&mut json).unwrap();
            let index: Index = serde_json::from_slice(&json).unwrap();
            assert_eq!(index.format, FORMAT_VERSION);
            let listed: Vec<_> = index.files.iter().map(|f| f.path.clone()).collect();
            assert_eq!(listed, sample_files().into_keys().collect::<Vec<_>>());
            for file in &index.files {
                let data = &sample_files()[&file.path];
                assert_eq!(file.size, data.len() as u64);
                assert_eq!(file.sha256, sha256_hex(data));
            }
        }
        paths.push(path);
    }
    assert_eq!(
        paths,
        [
            "index.json",
            "README",
            "agent.json",
            "munki/manifests/site_default",
            "profiles/com.example.wifi.mobileconfig"
        ]
    );
}

#[test]
fn written_archive_extracts_to_the_same_files() {
    let parent = tempfile::tempdir().unwrap();
    let dest = parent.path().join("bundle");
    let extracted = extract(&sample_archive(), &dest).unwrap();
    assert_eq!(extracted.dir, dest);
    assert_eq!(extracted.index.files.len(), sample_files().len());
    assert_eq!(listing(parent.path()), ["bundle"], "no staging left over");

    let mut expected: Vec<String> = sample_files().into_keys().collect();
    expected.push(INDEX_PATH.to_owned());
    expected.sort();
    assert_eq!(files_under(&dest), expected);
    for (path, data) in sample_files() {
        assert_eq!(fs::read(dest.join(&path)).unwrap(), data, "{path}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        // Created 0644 (the umask may only remove bits): never executable, setuid or writable
        // by others.
        assert_eq!(mode(&dest.join("agent.json")) & !0o644, 0);
        assert_eq!(mode(&dest.join("agent.json")) & 0o600, 0o600);
    }
}

#[test]
fn long_paths_round_trip() {
    let deep = format!("{}/{}.plist", "d".repeat(200), "f".repeat(240));
    let mut files = BTreeMap::new();
    files.insert(deep.clone(), b"deep".to_vec());
    let archive = write_archive(&files).unwrap();
    let parent = tempfile::tempdir().unwrap();
    let extracted = extract(&archive, &parent.path().join("b")).unwrap();
    assert_eq!(extracted.index.files[0].path, deep);
    assert_eq!(fs::read(extracted.dir.join(&deep)).unwrap(), b"deep");
}

#[test]
fn writer_refuses_what_the_extractor_refuses() {
    let write = |paths: &[&str]| {
        let files: BTreeMap<String, Vec<u8>> = paths
            .iter()
            .map(|p| (p.to_string(), b"x".to_vec()))
            .collect();
        write_archive(&files).unwrap_err()
    };
    assert!(matches!(
        write(&["../evil"]),
        WriteError::BadPath {
            problem: PathProblem::DotComponent(_),
            ..
        }
    ));
    assert!(matches!(
        write(&["/etc/passwd"]),
        WriteError::BadPath {
            problem: PathProblem::Absolute,
            ..
        }
    ));
    assert!(matches!(
        write(&["a b"]),
        WriteError::BadPath {
            problem: PathProblem::BadChar(' '),
            ..
        }
    ));
    assert!(matches!(
        write(&["dir/"]),
        WriteError::BadPath {
            problem: PathProblem::EmptyComponent,
            ..
        }
    ));
    assert!(matches!(
        write(&[INDEX_PATH]),
        WriteError::BadPath {
            problem: PathProblem::Reserved,
            ..
        }
    ));
    assert!(matches!(
        write(&["A.json", "a.json"]),
        WriteError::Clash {
            clash: Clash::CaseCollision { .. },
            ..
        }
    ));
    assert!(matches!(
        write(&["a", "a/b"]),
        WriteError::Clash {
            clash: Clash::ParentIsFile { .. },
            ..
        }
    ));
    assert!(matches!(
        write(&[&"x".repeat(513)]),
        WriteError::BadPath {
            problem: PathProblem::TooLong { len: 513 },
            ..
        }
    ));

    let mut big = BTreeMap::new();
    big.insert("big".to_owned(), vec![0u8; MAX_FILE_BYTES as usize + 1]);
    assert!(matches!(
        write_archive(&big).unwrap_err(),
        WriteError::FileTooLarge { .. }
    ));
}

#[test]
fn empty_bundle_is_just_an_index() {
    let archive = write_archive(&BTreeMap::new()).unwrap();
    let parent = tempfile::tempdir().unwrap();
    let extracted = extract(&archive, &parent.path().join("b")).unwrap();
    assert!(extracted.index.files.is_empty());
    assert_eq!(files_under(&extracted.dir), [INDEX_PATH]);
}
