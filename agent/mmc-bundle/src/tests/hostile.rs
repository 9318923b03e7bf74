//! Hostile archives, built header by header (not with `write_archive`). Every rejection must
//! leave the destination's parent exactly as it was.

use std::fs;
use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;
use tar::{EntryType, Header};

use super::{listing, sample_archive};
use crate::{
    Clash, ExtractError, FORMAT_VERSION, FileEntry, INDEX_PATH, Index, MAX_ENTRIES, MAX_FILE_BYTES,
    PathProblem, extract, sha256_hex,
};

/// A tar stream assembled from raw headers, so paths and types are exactly what we say.
struct RawTar {
    tar: tar::Builder<Vec<u8>>,
}

impl RawTar {
    fn new() -> RawTar {
        RawTar {
            tar: tar::Builder::new(Vec::new()),
        }
    }

    /// Starts with an `index.json` listing `files` (path, contents).
    fn with_index(files: &[(&str, &[u8])]) -> RawTar {
        let mut raw = RawTar::new();
        raw.file(INDEX_PATH, &index_json(files));
        raw
    }

    fn entry(&mut self, path: &[u8], kind: EntryType, claimed_size: u64, data: &[u8]) {
        self.entry_with_link(path, kind, claimed_size, data, b"");
    }

    fn entry_with_link(
        &mut self,
        path: &[u8],
        kind: EntryType,
        claimed_size: u64,
        data: &[u8],
        link: &[u8],
    ) {
        let mut header = Header::new_ustar();
        header.set_entry_type(kind);
        header.set_size(claimed_size);
        header.set_mode(0o644);
        header.set_mtime(1);
        // Raw bytes: `Header::set_path` would refuse `..` and absolute paths.
        header.as_old_mut().name[..path.len()].copy_from_slice(path);
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        header.set_cksum();
        self.tar.append(&header, data).unwrap();
    }

    fn file(&mut self, path: &str, data: &[u8]) {
        self.entry(path.as_bytes(), EntryType::Regular, data.len() as u64, data);
    }

    fn dir(&mut self, path: &str) {
        self.entry(path.as_bytes(), EntryType::Directory, 0, b"");
    }

    fn tar(self) -> Vec<u8> {
        self.tar.into_inner().unwrap()
    }

    fn gz(self) -> Vec<u8> {
        gzip(&self.tar())
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn index_json(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut files: Vec<FileEntry> = files
        .iter()
        .map(|(path, data)| FileEntry {
            path: path.to_string(),
            size: data.len() as u64,
            sha256: sha256_hex(data),
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    serde_json::to_vec(&Index {
        format: FORMAT_VERSION,
        files,
    })
    .unwrap()
}

/// Extracts into `<fresh dir>/bundle` next to a pre-existing file, expects failure, and checks
/// that nothing but the pre-existing file remains.
fn reject(archive: &[u8]) -> ExtractError {
    let parent = tempfile::tempdir().unwrap();
    fs::write(parent.path().join("keep.txt"), b"keep").unwrap();
    let err = extract(archive, &parent.path().join("bundle")).unwrap_err();
    assert_eq!(
        listing(parent.path()),
        ["keep.txt"],
        "left behind after: {err}"
    );
    assert_eq!(fs::read(parent.path().join("keep.txt")).unwrap(), b"keep");
    err
}

macro_rules! assert_rejected {
    ($archive:expr, $pattern:pat) => {{
        let err = reject(&$archive);
        assert!(matches!(err, $pattern), "unexpected error: {err:?} ({err})");
        err
    }};
}

#[test]
fn well_formed_raw_archive_with_directories_is_accepted() {
    // Control case: the helpers build archives the extractor takes.
    let mut raw = RawTar::with_index(&[("a.json", b"{}"), ("sub/b.plist", b"b")]);
    raw.file("a.json", b"{}");
    raw.dir("sub/");
    raw.file("sub/b.plist", b"b");
    raw.dir("empty");
    let parent = tempfile::tempdir().unwrap();
    let extracted = extract(&raw.gz(), &parent.path().join("bundle")).unwrap();
    assert_eq!(extracted.index.files.len(), 2);
    assert!(extracted.dir.join("empty").is_dir());
    assert_eq!(fs::read(extracted.dir.join("sub/b.plist")).unwrap(), b"b");
}

#[test]
fn dot_dot_component() {
    let mut raw = RawTar::with_index(&[]);
    raw.file("../evil", b"x");
    let err = assert_rejected!(
        raw.gz(),
        ExtractError::BadPath {
            problem: PathProblem::DotComponent(_),
            ..
        }
    );
    assert_eq!(
        err.to_string(),
        r#"entry "../evil": path component ".." is not allowed"#
    );
}

#[test]
fn absolute_path() {
    let mut raw = RawTar::with_index(&[]);
    raw.file("/etc/evil", b"x");
    assert_rejected!(
        raw.gz(),
        ExtractError::BadPath {
            problem: PathProblem::Absolute,
            ..
        }
    );
}

#[test]
fn disallowed_characters() {
    let mut raw = RawTar::with_index(&[]);
    raw.file("x\\..\\y", b"x");
    assert_rejected!(
        raw.gz(),
        ExtractError::BadPath {
            problem: PathProblem::BadChar('\\'),
            ..
        }
    );
    let mut raw = RawTar::with_index(&[]);
    raw.entry(b"caf\xc3", EntryType::Regular, 1, b"x");
    assert_rejected!(
        raw.gz(),
        ExtractError::BadPath {
            problem: PathProblem::NotUtf8,
            ..
        }
    );
}

#[test]
fn pax_path_is_checked_too() {
    let mut raw = RawTar::with_index(&[("ok", b"x")]);
    raw.tar
        .append_pax_extensions([("path", &b"../pax-evil"[..])])
        .unwrap();
    raw.file("ok", b"x");
    let err = assert_rejected!(raw.gz(), ExtractError::BadPath { .. });
    assert!(err.to_string().contains("../pax-evil"), "{err}");
}

#[test]
fn symlink() {
    let mut raw = RawTar::with_index(&[]);
    raw.entry_with_link(
        b"p.mobileconfig",
        EntryType::Symlink,
        0,
        b"",
        b"/etc/passwd",
    );
    let err = assert_rejected!(raw.gz(), ExtractError::EntryType { .. });
    assert_eq!(
        err.to_string(),
        r#"entry "p.mobileconfig": symbolic link entries are not allowed (only regular files and directories)"#
    );
}

#[test]
fn hardlink() {
    let mut raw = RawTar::with_index(&[]);
    raw.entry_with_link(b"h", EntryType::Link, 0, b"", b"index.json");
    assert_rejected!(raw.gz(), ExtractError::EntryType { .. });
}

#[test]
fn fifo_and_devices() {
    for kind in [EntryType::Fifo, EntryType::Char, EntryType::Block] {
        let mut raw = RawTar::with_index(&[]);
        raw.entry(b"dev", kind, 0, b"");
        assert_rejected!(raw.gz(), ExtractError::EntryType { .. });
    }
}

#[test]
fn duplicate_name() {
    let mut raw = RawTar::with_index(&[("a.json", b"{\"v\":1}")]);
    raw.file("a.json", b"{\"v\":1}");
    raw.file("a.json", b"{\"v\":666}");
    assert_rejected!(
        raw.gz(),
        ExtractError::Clash {
            clash: Clash::Duplicate,
            ..
        }
    );
}

#[test]
fn second_index_is_a_duplicate() {
    let mut raw = RawTar::with_index(&[]);
    raw.file(INDEX_PATH, &index_json(&[]));
    assert_rejected!(
        raw.gz(),
        ExtractError::Clash {
            clash: Clash::Duplicate,
            ..
        }
    );
}

#[test]
fn case_colliding_names() {
    let mut raw = RawTar::with_index(&[("A.json", b"1"), ("a.json", b"2")]);
    raw.file("A.json", b"1");
    raw.file("a.json", b"2");
    let err = assert_rejected!(
        raw.gz(),
        ExtractError::Clash {
            clash: Clash::CaseCollision { .. },
            ..
        }
    );
    assert!(err.to_string().contains("\"A.json\""), "{err}");

    // Also through a parent directory.
    let mut raw = RawTar::with_index(&[("Dir/a", b"1"), ("dir/b", b"2")]);
    raw.file("Dir/a", b"1");
    raw.file("dir/b", b"2");
    assert_rejected!(
        raw.gz(),
        ExtractError::Clash {
            clash: Clash::CaseCollision { .. },
            ..
        }
    );
}

#[test]
fn file_used_as_a_directory() {
    let mut raw = RawTar::with_index(&[("a", b"1"), ("a/b", b"2")]);
    raw.file("a", b"1");
    raw.file("a/b", b"2");
    assert_rejected!(
        raw.gz(),
        ExtractError::Clash {
            clash: Clash::ParentIsFile { .. },
            ..
        }
    );
}

#[test]
fn oversized_file_is_refused_from_its_header() {
    // The header claims 1 GiB but only 10 bytes follow: had the extractor started reading, it
    // would have failed as "corrupt or truncated". It must refuse on the declared size alone.
    let claimed = 1 << 30;
    let mut raw = RawTar::new();
    let mut index = Vec::new();
    serde_json::to_writer(
        &mut index,
        &Index {
            format: FORMAT_VERSION,
            files: vec![FileEntry {
                path: "zeros".to_owned(),
                size: claimed,
                sha256: "0".repeat(64),
            }],
        },
    )
    .unwrap();
    raw.file(INDEX_PATH, &index);
    raw.entry(b"zeros", EntryType::Regular, claimed, &[0u8; 10]);
    let err = assert_rejected!(
        raw.gz(),
        ExtractError::FileTooLarge {
            size: 1073741824,
            limit: MAX_FILE_BYTES,
            ..
        }
    );
    assert_eq!(
        err.to_string(),
        r#"entry "zeros" is 1073741824 bytes, over the per-file limit of 16777216 bytes"#
    );
}

#[test]
fn trailing_second_gzip_member() {
    let good = sample_archive();
    let mut doubled = good.clone();
    doubled.extend_from_slice(&good);
    let err = assert_rejected!(doubled, ExtractError::TrailingBytes { .. });
    assert_eq!(
        err.to_string(),
        format!("{} trailing bytes after the gzip member", good.len())
    );

    let mut junk = good;
    junk.extend_from_slice(b"GARBAGE");
    assert_rejected!(junk, ExtractError::TrailingBytes { count: 7 });
}

#[test]
fn junk_after_the_tar_end_inside_gzip() {
    let mut tar = RawTar::with_index(&[]).tar();
    tar.extend_from_slice(b"hidden payload after the end-of-archive marker");
    assert_rejected!(gzip(&tar), ExtractError::TrailingData);
}

#[test]
fn truncated_gzip() {
    let good = sample_archive();
    // Cut into the CRC/ISIZE trailer, and into the deflate stream.
    assert_rejected!(good[..good.len() - 9], ExtractError::Corrupt(_));
    assert_rejected!(good[..good.len() / 2], ExtractError::Corrupt(_));
    assert_rejected!(good[..5], ExtractError::Corrupt(_));
}

#[test]
fn unlisted_file() {
    let mut raw = RawTar::with_index(&[("a.json", b"1")]);
    raw.file("a.json", b"1");
    raw.file("evil.sh", b"#!/bin/sh\n");
    let err = assert_rejected!(raw.gz(), ExtractError::UnlistedFile { .. });
    assert_eq!(
        err.to_string(),
        r#"file "evil.sh" is in the archive but not listed in index.json"#
    );
}

#[test]
fn missing_file() {
    // Also what a tar truncated at an entry boundary looks like.
    let mut raw = RawTar::with_index(&[("a.json", b"1"), ("b.mobileconfig", b"2")]);
    raw.file("a.json", b"1");
    let err = assert_rejected!(raw.gz(), ExtractError::MissingFile { .. });
    assert_eq!(
        err.to_string(),
        r#"file "b.mobileconfig" is listed in index.json but missing from the archive"#
    );
}

#[test]
fn wrong_sha_in_index() {
    let mut raw = RawTar::with_index(&[("a.json", b"original")]);
    raw.file("a.json", b"tampered");
    let err = assert_rejected!(raw.gz(), ExtractError::HashMismatch { .. });
    assert!(
        err.to_string()
            .starts_with(r#"file "a.json": SHA-256 does not match index.json (listed "#),
        "{err}"
    );
}

#[test]
fn wrong_size_in_index() {
    let mut raw = RawTar::with_index(&[("a.json", b"short")]);
    raw.file("a.json", b"much longer");
    assert_rejected!(
        raw.gz(),
        ExtractError::SizeMismatch {
            listed: 5,
            actual: 11,
            ..
        }
    );
}

#[test]
fn index_must_come_first() {
    let mut raw = RawTar::new();
    raw.file("a.json", b"1");
    raw.file(INDEX_PATH, &index_json(&[("a.json", b"1")]));
    assert_rejected!(raw.gz(), ExtractError::IndexNotFirst { .. });

    assert_rejected!(RawTar::new().gz(), ExtractError::Empty);
}

#[test]
fn malformed_index() {
    let mut raw = RawTar::new();
    raw.file(INDEX_PATH, br#"{"format":1,"files":[],"extra":true}"#);
    assert_rejected!(raw.gz(), ExtractError::BadIndex(_));

    let mut raw = RawTar::new();
    raw.file(INDEX_PATH, br#"{"format":2,"files":[]}"#);
    assert_rejected!(raw.gz(), ExtractError::BadIndex(_));

    // Unsorted listing.
    let entry = |p: &str| FileEntry {
        path: p.to_owned(),
        size: 1,
        sha256: sha256_hex(b"1"),
    };
    let unsorted = Index {
        format: FORMAT_VERSION,
        files: vec![entry("b"), entry("a")],
    };
    let mut raw = RawTar::new();
    raw.file(INDEX_PATH, &serde_json::to_vec(&unsorted).unwrap());
    raw.file("a", b"1");
    raw.file("b", b"1");
    assert_rejected!(raw.gz(), ExtractError::BadIndex(_));
}

#[test]
fn too_many_entries() {
    let mut raw = RawTar::with_index(&[]);
    for i in 0..MAX_ENTRIES {
        raw.dir(&format!("d{i}"));
    }
    assert_rejected!(
        raw.gz(),
        ExtractError::TooManyEntries { limit: MAX_ENTRIES }
    );
}

#[test]
fn directory_with_data() {
    let mut raw = RawTar::with_index(&[]);
    raw.entry(b"d/", EntryType::Directory, 3, b"abc");
    assert_rejected!(raw.gz(), ExtractError::DirectoryWithData { size: 3, .. });
}

#[test]
fn archive_modes_are_ignored() {
    let mut raw = RawTar::with_index(&[("tool", b"x")]);
    let mut header = Header::new_ustar();
    header.set_path("tool").unwrap();
    header.set_size(1);
    header.set_mode(0o4777);
    header.set_uid(501);
    header.set_mtime(2_000_000_000);
    header.set_cksum();
    raw.tar.append(&header, &b"x"[..]).unwrap();
    let parent = tempfile::tempdir().unwrap();
    let extracted = extract(&raw.gz(), &parent.path().join("b")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(extracted.dir.join("tool"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777 & !0o644, 0, "mode {mode:o}");
    }
    #[cfg(not(unix))]
    let _ = extracted;
}

#[test]
fn existing_destination_is_left_alone() {
    let parent = tempfile::tempdir().unwrap();
    let dest = parent.path().join("bundle");
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("old"), b"old").unwrap();
    let err = extract(&sample_archive(), &dest).unwrap_err();
    assert!(matches!(err, ExtractError::DestinationExists(_)), "{err:?}");
    assert_eq!(listing(parent.path()), ["bundle"]);
    assert_eq!(listing(&dest), ["old"]);
}

#[test]
fn huge_pax_path_gives_a_short_message() {
    let long = "a".repeat(100_000);
    let mut raw = RawTar::with_index(&[]);
    raw.tar
        .append_pax_extensions([("path", long.as_bytes())])
        .unwrap();
    raw.file("x", b"x");
    let err = assert_rejected!(
        raw.gz(),
        ExtractError::BadPath {
            problem: PathProblem::TooLong { len: 100_000 },
            ..
        }
    );
    assert!(err.to_string().len() < 400, "{err}");
}

#[test]
fn tar_truncated_at_an_entry_boundary() {
    // A real truncation: the second entry and the end-of-archive blocks cut off, the rest
    // re-gzipped. A tar reader sees a clean end of the stream; only the index knows better.
    let mut raw = RawTar::with_index(&[("a.json", b"1"), ("b.mobileconfig", b"2")]);
    raw.file("a.json", b"1");
    let mut tar = raw.tar();
    let end = tar.len() - 1024;
    assert!(tar[end..].iter().all(|b| *b == 0), "two zero blocks end it");
    tar.truncate(end);
    let err = assert_rejected!(gzip(&tar), ExtractError::MissingFile { .. });
    assert_eq!(
        err.to_string(),
        r#"file "b.mobileconfig" is listed in index.json but missing from the archive"#
    );
}

#[test]
fn character_device_1_3_is_refused() {
    // /dev/null's numbers; tar-rs's own `unpack` would write an empty regular file for it.
    let mut header = Header::new_ustar();
    header.set_entry_type(EntryType::Char);
    header.set_path("null").unwrap();
    header.set_size(0);
    header.set_mode(0o666);
    header.set_device_major(1).unwrap();
    header.set_device_minor(3).unwrap();
    header.set_cksum();
    let mut raw = RawTar::with_index(&[]);
    raw.tar.append(&header, &b""[..]).unwrap();
    let err = assert_rejected!(raw.gz(), ExtractError::EntryType { .. });
    assert_eq!(
        err.to_string(),
        r#"entry "null": character device entries are not allowed (only regular files and directories)"#
    );
}

#[test]
fn gzip_bomb_of_real_zeros_writes_nothing() {
    // 17 MiB of real zeros (listed, with the right hash) gzip to about 17 KB; the per-file cap
    // refuses them from the header, and `reject` checks that nothing was left on disk.
    let zeros = vec![0u8; (MAX_FILE_BYTES + (1 << 20)) as usize];
    let mut raw = RawTar::with_index(&[("zeros", &zeros)]);
    raw.file("zeros", &zeros);
    let archive = raw.gz();
    assert!(archive.len() < 200_000, "{}", archive.len());
    assert_rejected!(archive, ExtractError::FileTooLarge { size: 17825792, .. });
}

#[test]
fn fifty_mib_pax_path_is_refused() {
    // tar-rs itself takes it (it reads PAX records whole); the path check refuses it, and the
    // message stays short.
    let long = vec![b'a'; 50 << 20];
    let mut raw = RawTar::with_index(&[]);
    raw.tar
        .append_pax_extensions([("path", &long[..])])
        .unwrap();
    raw.file("x", b"x");
    // Stored, not compressed: deflating 50 MiB in a debug build takes seconds.
    let mut gz = GzEncoder::new(Vec::new(), Compression::none());
    gz.write_all(&raw.tar()).unwrap();
    let err = assert_rejected!(
        gz.finish().unwrap(),
        ExtractError::BadPath {
            problem: PathProblem::TooLong { len: 52428800 },
            ..
        }
    );
    assert!(err.to_string().len() < 400, "{err}");
}

/// Every `[[package]]` of a Cargo.lock named `name`: its version (numeric parts) and the names
/// of its dependencies.
fn locked(lock: &str, name: &str) -> Vec<(Vec<u64>, Vec<String>)> {
    lock.split("[[package]]")
        .filter(|block| block.lines().any(|l| l == format!("name = \"{name}\"")))
        .map(|block| {
            let version = block
                .lines()
                .find_map(|l| l.strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or_else(|| panic!("no version in {block}"));
            let version = version
                .split(['.', '-', '+'])
                .map_while(|p| p.parse().ok())
                .collect();
            let deps = block
                .lines()
                .skip_while(|l| *l != "dependencies = [")
                .skip(1)
                .take_while(|l| *l != "]")
                .map(|l| {
                    let l = l.trim().trim_end_matches(',').trim_matches('"');
                    l.split(' ').next().unwrap_or_default().to_owned()
                })
                .collect();
            (version, deps)
        })
        .collect()
}

#[test]
fn pax_size_differential_tar_is_0_4_45_or_newer_in_every_lock_file() {
    // CVE-2026-33055 (PAX `size` ignored when the ustar size is non-zero) and CVE-2026-33056
    // (`unpack_dir` followed symlinks) are fixed in tar 0.4.45. Every lock file that builds the
    // extractor (the workspace's and the fuzzers') must hold a fixed tar. And flate2's deflate
    // backend is pinned to miniz_oxide: another one (zlib-rs, zlib-ng, libz) changes the
    // archive bytes, so bundles would stop being reproducible (security.md §5.2).
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    for lock in ["Cargo.lock", "fuzz/Cargo.lock"] {
        let path = format!("{workspace}/{lock}");
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let tars = locked(&text, "tar");
        assert!(!tars.is_empty(), "{lock} has no tar package");
        for (version, _) in &tars {
            assert!(
                version.as_slice() >= [0, 4, 45].as_slice(),
                "{lock}: tar {version:?} is older than 0.4.45 (CVE-2026-33055, CVE-2026-33056)"
            );
        }
        let flate2 = locked(&text, "flate2");
        assert_eq!(flate2.len(), 1, "{lock}: one flate2");
        assert_eq!(
            flate2[0].1,
            ["crc32fast", "miniz_oxide"],
            "{lock}: flate2's deflate backend is not miniz_oxide alone"
        );
    }
    // The parsing and the comparison themselves.
    let lock = "[[package]]\nname = \"tar\"\nversion = \"0.4.44\"\ndependencies = [\n \"filetime\",\n \"libc 0.2.1\",\n]\n";
    assert_eq!(
        locked(lock, "tar"),
        [(
            vec![0, 4, 44],
            vec!["filetime".to_owned(), "libc".to_owned()]
        )]
    );
    assert!([0u64, 4, 44].as_slice() < [0, 4, 45].as_slice());
    assert!([0u64, 4, 46].as_slice() >= [0, 4, 45].as_slice());
    assert!([0u64, 5].as_slice() >= [0, 4, 45].as_slice());
}
