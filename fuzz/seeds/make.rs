//! Writes the seed corpora under `fuzz/corpus/<target>/` (run from anywhere:
//! `cargo run --manifest-path fuzz/Cargo.toml --bin make-seeds`). Each target's directory is
//! emptied and rewritten, so the seeds are exactly what this file makes: deterministic bytes with
//! descriptive names. The hostile cases are those of docs/security reference §2 and §3
//! (`..`, absolute paths, links, devices, modes, duplicates, PAX, gzip bombs and members,
//! truncation; YAML bombs, nesting, duplicate keys, YAML 1.1 scalars, tags, merge keys, control
//! characters) plus valid bundles and the example repository's real policy files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64_STD;
use ed25519_dalek::Signer as _;
use flate2::{Compression, GzBuilder};
use mmc_bundle::{ArchiveRef, FileEntry, Index, Statement};
use mmc_fuzz::{VerifyMode, join_policy_input, join_verify_input};

fn main() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = fuzz.parent().expect("fuzz/ is inside the repository");
    check_base_repo();

    let explain = std::env::args().any(|a| a == "--explain");
    let extract = extract_seeds();
    check_extract_seeds(&extract, explain);
    let verify = verify_seeds();
    check_verify_seeds(&verify, explain);

    let mut total = 0;
    total += write_corpus(fuzz, "fuzz_bundle_extract", extract);
    total += write_corpus(fuzz, "fuzz_bundle_verify", verify);
    total += write_corpus(fuzz, "fuzz_predicate_parse", predicate_seeds(repo));
    total += write_corpus(fuzz, "fuzz_policy_load", policy_seeds(repo));
    let roots = root_seeds();
    check_root_seeds(&roots, explain);
    total += write_corpus(fuzz, "fuzz_root_update", roots);
    println!("{total} bytes of seeds in all");
}

/// The policy target plants its input in the base repository; a base that does not compile
/// cleanly would make every run end in the same diagnostics.
fn check_base_repo() {
    let compiled = mmc_compiler::compile(&mmc_fuzz::base_repo());
    assert!(
        compiled.diagnostics.is_empty() && compiled.bundles.len() == 2,
        "fuzz/base/ no longer compiles cleanly; update it to the policy format: {:#?}",
        compiled.diagnostics
    );
}

/// Archives the extractor must accept; it must refuse every other extract seed.
const EXTRACTS: [&str; 9] = [
    "valid-bundle",
    "valid-with-directory-entries",
    "valid-index-only",
    "setuid-mode-ignored",
    "ratio-1mib-zeros",
    "record-padding",
    "gnu-long-name-valid",
    "gzip-header-fields",
    // A regular file's PAX linkpath, uid and mtime are ignored.
    "pax-linkpath-uid-mtime",
];

/// Each extract seed does what its name says: the accepted ones extract, the others are refused
/// (`--explain` prints why), so a seed that silently stopped testing its case is noticed.
fn check_extract_seeds(seeds: &[(String, Vec<u8>)], explain: bool) {
    let scratch = mmc_fuzz::scratch_dir("seeds");
    for (i, (name, archive)) in seeds.iter().enumerate() {
        let dest = scratch.join(format!("bundle-{i}"));
        let result = mmc_bundle::extract(archive, &dest);
        let accepted = EXTRACTS.contains(&name.trim_end_matches(".tar.gz"));
        if explain {
            match &result {
                Ok(x) => println!("  {name}: extracted, {} files listed", x.index.files.len()),
                Err(e) => println!("  {name}: refused: {e}"),
            }
        }
        assert_eq!(result.is_ok(), accepted, "{name}: {result:?}");
    }
    fs::remove_dir_all(&scratch).expect("cannot remove the scratch directory");
}

/// The seeds named `raw-valid…` and `signed-valid…` verify, the others do not.
fn check_verify_seeds(seeds: &[(String, Vec<u8>)], explain: bool) {
    let trusted = [mmc_fuzz::trusted_key()];
    for (name, data) in seeds {
        let (mode, first, archive) = mmc_fuzz::split_verify_input(data).expect("a seed splits");
        let envelope = match mode {
            VerifyMode::Raw => first.to_vec(),
            VerifyMode::Signed => mmc_fuzz::signed_envelope(first),
        };
        let result = mmc_bundle::verify(&envelope, archive, &trusted, mmc_fuzz::now());
        if explain {
            match &result {
                Ok(_) => println!("  {name}: verified"),
                Err(e) => println!("  {name}: refused: {e}"),
            }
        }
        let valid = name.starts_with("raw-valid") || name.starts_with("signed-valid");
        assert_eq!(result.is_ok(), valid, "{name}: {result:?}");
    }
}

fn write_corpus(fuzz: &Path, target: &str, seeds: Vec<(String, Vec<u8>)>) -> usize {
    let dir: PathBuf = fuzz.join("corpus").join(target);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("cannot create the corpus directory");
    let mut names = std::collections::BTreeSet::new();
    let mut bytes = 0;
    for (name, data) in &seeds {
        assert!(names.insert(name.clone()), "two seeds named {name}");
        fs::write(dir.join(name), data).expect("cannot write a seed");
        bytes += data.len();
    }
    println!("{target}: {} seeds, {bytes} bytes", seeds.len());
    bytes
}

// =============================================================================================
// Archives

fn gzip(tar: &[u8]) -> Vec<u8> {
    let mut gz = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::new(9));
    std::io::Write::write_all(&mut gz, tar).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

/// A tar stream written header by header, with raw names so it can hold what the `tar` crate's
/// own setters refuse (`..`, absolute paths, bad bytes).
#[derive(Default)]
struct Tar(Vec<u8>);

const REG: u8 = b'0';
const HARDLINK: u8 = b'1';
const SYMLINK: u8 = b'2';
const CHAR: u8 = b'3';
const BLOCK: u8 = b'4';
const DIR: u8 = b'5';
const FIFO: u8 = b'6';
const CONTIGUOUS: u8 = b'7';

impl Tar {
    /// An entry whose header declares `size` and carries `data` (normally `size` bytes).
    fn raw(&mut self, name: &[u8], kind: u8, mode: u32, size: u64, link: &[u8], data: &[u8]) {
        let mut header = tar::Header::new_ustar();
        {
            let ustar = header.as_ustar_mut().expect("a ustar header");
            ustar.name[..name.len()].copy_from_slice(name);
            ustar.linkname[..link.len()].copy_from_slice(link);
        }
        header.set_entry_type(tar::EntryType::new(kind));
        header.set_mode(mode);
        header.set_size(size);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1);
        header.set_cksum();
        self.0.extend_from_slice(header.as_bytes());
        self.0.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        let rem = self.0.len() % 512;
        if rem != 0 {
            self.0.resize(self.0.len() + 512 - rem, 0);
        }
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.raw(name.as_bytes(), REG, 0o644, data.len() as u64, b"", data);
        self
    }

    fn dir(&mut self, name: &str) -> &mut Self {
        self.raw(name.as_bytes(), DIR, 0o755, 0, b"", b"");
        self
    }

    fn special(&mut self, name: &[u8], kind: u8, link: &[u8]) -> &mut Self {
        self.raw(name, kind, 0o644, 0, link, b"");
        self
    }

    /// A PAX extended header (type `x`) with the given records, applying to the next entry.
    fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        let mut body = Vec::new();
        for (key, value) in records {
            // "LEN key=value\n", where LEN counts itself.
            let rest = key.len() + value.len() + 3;
            let mut len = rest + 1;
            while len.to_string().len() + rest != len {
                len += 1;
            }
            body.extend_from_slice(format!("{len} {key}=").as_bytes());
            body.extend_from_slice(value);
            body.push(b'\n');
        }
        self.raw(b"PaxHeaders/x", b'x', 0o644, body.len() as u64, b"", &body);
        self
    }

    /// A GNU long-name entry (`././@LongLink`, type `L`) naming the next entry.
    fn gnu_long_name(&mut self, name: &[u8]) -> &mut Self {
        let mut body = name.to_vec();
        body.push(0);
        self.raw(b"././@LongLink", b'L', 0o644, body.len() as u64, b"", &body);
        self
    }

    /// The end-of-archive marker: two zero blocks.
    fn end(&mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0; 1024]);
        std::mem::take(&mut self.0)
    }
}

fn index_json(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut files: Vec<FileEntry> = files
        .iter()
        .map(|(path, data)| FileEntry {
            path: (*path).to_owned(),
            size: data.len() as u64,
            sha256: mmc_bundle::sha256_hex(data),
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let index = Index {
        format: mmc_bundle::FORMAT_VERSION,
        files,
    };
    serde_json::to_vec_pretty(&index).expect("an index serializes")
}

/// A tar that starts with a valid `index.json` listing `listed`.
fn with_index(listed: &[(&str, &[u8])]) -> Tar {
    let mut tar = Tar::default();
    tar.file("index.json", &index_json(listed));
    tar
}

const PROFILE: &[u8] =
    b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict/></plist>\n";
const CONFIG: &[u8] = b"{\"format\": 1}\n";

/// The valid bundle archive every verify seed uses: what `mmc build` writes.
fn valid_archive() -> Vec<u8> {
    let files: BTreeMap<String, Vec<u8>> = [
        ("config.json", CONFIG),
        ("munki/manifests/site_default", b"<plist/>\n".as_slice()),
        ("profiles/com.example.screensaver.mobileconfig", PROFILE),
    ]
    .into_iter()
    .map(|(p, d)| (p.to_owned(), d.to_vec()))
    .collect();
    mmc_bundle::write_archive(&files).expect("a valid archive")
}

fn extract_seeds() -> Vec<(String, Vec<u8>)> {
    let mut s: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, data: Vec<u8>| s.push((format!("{name}.tar.gz"), data));
    let ok: &[(&str, &[u8])] = &[("ok.txt", b"ok\n")];

    // Accepted.
    let valid = valid_archive();
    add("valid-bundle", valid.clone());
    add(
        "valid-with-directory-entries",
        gzip(
            &with_index(&[("munki/a.plist", b"a"), ("munki/b/c.plist", b"c")])
                .dir("munki/")
                .dir("munki/b/")
                .file("munki/a.plist", b"a")
                .file("munki/b/c.plist", b"c")
                .dir("empty/")
                .end(),
        ),
    );
    add("valid-index-only", gzip(&with_index(&[]).end()));
    {
        // setuid, setgid, sticky, world-writable, executable: extracted as 0644 all the same.
        let mut tar = with_index(&[("suid", b"#!/bin/sh\n")]);
        tar.raw(b"suid", REG, 0o7777, 10, b"", b"#!/bin/sh\n");
        add("setuid-mode-ignored", gzip(&tar.end()));
    }
    {
        // 1 MiB of zeros: ~1 KiB compressed, a 1000:1 ratio within the limits.
        let zeros = vec![0u8; 1 << 20];
        add(
            "ratio-1mib-zeros",
            gzip(&with_index(&[("zeros", &zeros)]).file("zeros", &zeros).end()),
        );
    }
    {
        // Tar's 10 KiB record padding after the end marker.
        let mut tar = with_index(ok).file("ok.txt", b"ok\n").end();
        tar.resize(10240, 0);
        add("record-padding", gzip(&tar));
    }

    // Names.
    let named = |name: &[u8]| {
        let mut tar = with_index(ok);
        tar.file("ok.txt", b"ok\n");
        tar.raw(name, REG, 0o644, 5, b"", b"evil\n");
        gzip(&tar.end())
    };
    add("dotdot", named(b"../evil"));
    add("dotdot-inner", named(b"ok/../../evil"));
    add("dot-component", named(b"./evil"));
    add("absolute", named(b"/etc/evil"));
    add("double-slash", named(b"a//evil"));
    add("backslash", named(b"x\\..\\y"));
    add("control-char-name", named(b"evil\x1b[31m\nforged log line"));
    add("not-utf8-name", named(b"caf\xe9"));
    add(
        "unicode-name",
        named("caf\u{e9}/\u{202e}txt.exe".as_bytes()),
    );
    add("index-json-nested", named(b"sub/index.json"));
    add(
        "first-entry-not-index",
        gzip(&Tar::default().file("ok.txt", b"ok\n").end()),
    );
    add(
        "index-is-a-directory",
        gzip(&Tar::default().dir("index.json/").end()),
    );

    // Entry types.
    let typed = |name: &[u8], kind: u8, link: &[u8]| {
        let mut tar = with_index(ok);
        tar.special(name, kind, link);
        tar.file("ok.txt", b"ok\n");
        gzip(&tar.end())
    };
    add(
        "symlink-absolute",
        typed(b"p.mobileconfig", SYMLINK, b"/etc/passwd"),
    );
    add("symlink-dotdot", typed(b"up", SYMLINK, b".."));
    {
        // CVE-2021-38511: a symlink to .. and then a file through it.
        let mut tar = with_index(&[("d/x", b"x")]);
        tar.special(b"d", SYMLINK, b"..");
        tar.file("d/x", b"x");
        add("symlink-then-file-through-it", gzip(&tar.end()));
    }
    {
        // CVE-2026-33056: a symlink and then a directory entry of the same name.
        let mut tar = with_index(&[]);
        tar.special(b"d", SYMLINK, b"/tmp");
        tar.dir("d/");
        add("symlink-then-directory", gzip(&tar.end()));
    }
    add("hardlink-to-index", typed(b"h", HARDLINK, b"index.json"));
    add("hardlink-absolute", typed(b"h", HARDLINK, b"/etc/shadow"));
    add("char-device", typed(b"null", CHAR, b""));
    add("block-device", typed(b"disk", BLOCK, b""));
    add("fifo", typed(b"pipe", FIFO, b""));
    add("contiguous", typed(b"c", CONTIGUOUS, b""));
    add("gnu-sparse", typed(b"s", b'S', b""));
    add("pax-global-header", typed(b"g", b'g', b""));
    add("unknown-type", typed(b"z", b'Z', b""));

    // Duplicates and collisions.
    add(
        "duplicate-name",
        gzip(
            &with_index(&[("a.json", b"{\"v\":1}")])
                .file("a.json", b"{\"v\":1}")
                .file("a.json", b"{\"v\":666}")
                .end(),
        ),
    );
    add(
        "case-collision",
        gzip(
            &with_index(&[("A.json", b"1"), ("a.json", b"2")])
                .file("A.json", b"1")
                .file("a.json", b"2")
                .end(),
        ),
    );
    add(
        "file-then-directory",
        gzip(
            &with_index(&[("a", b"1"), ("a/b", b"2")])
                .file("a", b"1")
                .file("a/b", b"2")
                .end(),
        ),
    );
    add(
        "directory-then-file",
        gzip(&with_index(&[("a", b"1")]).dir("a/").file("a", b"1").end()),
    );
    add(
        "index-case-collision",
        gzip(&with_index(&[]).file("INDEX.JSON", b"{}").end()),
    );

    // Index problems.
    let bad_index = |index: &[u8]| gzip(&Tar::default().file("index.json", index).end());
    add("index-not-json", bad_index(b"{\"format\": 1, \"files\": ["));
    add(
        "index-format-2",
        bad_index(b"{\"format\": 2, \"files\": []}"),
    );
    add(
        "index-unknown-field",
        bad_index(b"{\"format\": 1, \"files\": [], \"extra\": true}"),
    );
    add(
        "index-lists-itself",
        bad_index(br#"{"format": 1, "files": [{"path": "index.json", "size": 0, "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]}"#),
    );
    add(
        "index-unsorted",
        bad_index(br#"{"format": 1, "files": [{"path": "b", "size": 0, "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}, {"path": "a", "size": 0, "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]}"#),
    );
    add(
        "index-uppercase-sha",
        bad_index(br#"{"format": 1, "files": [{"path": "a", "size": 0, "sha256": "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"}]}"#),
    );
    add(
        "unlisted-file",
        gzip(&with_index(&[]).file("scripts/evil.sh", b"rm -rf /\n").end()),
    );
    add(
        "missing-file",
        gzip(&with_index(&[("a.mobileconfig", PROFILE)]).end()),
    );
    add(
        "size-mismatch",
        gzip(&with_index(ok).file("ok.txt", b"ok!!\n").end()),
    );
    add(
        "hash-mismatch",
        gzip(&with_index(ok).file("ok.txt", b"no\n").end()),
    );

    // PAX and GNU headers.
    {
        // A 1 MiB PAX path (tar-rs holds it in memory; the path cap refuses it), ~1 KiB compressed.
        let long = vec![b'a'; 1 << 20];
        let mut tar = with_index(ok);
        tar.pax(&[("path", &long)]);
        tar.file("ok.txt", b"ok\n");
        add("pax-huge-path", gzip(&tar.end()));
    }
    {
        let mut tar = with_index(ok);
        tar.pax(&[("path", b"../../etc/evil")]);
        tar.file("ok.txt", b"ok\n");
        add("pax-path-dotdot", gzip(&tar.end()));
    }
    {
        // CVE-2026-33055: a PAX size that disagrees with the ustar size.
        let mut tar = with_index(&[("a", b"aaaa"), ("ok.txt", b"ok\n")]);
        tar.pax(&[("size", b"0")]);
        tar.file("a", b"aaaa");
        tar.file("ok.txt", b"ok\n");
        add("pax-size-differential", gzip(&tar.end()));
    }
    {
        let mut tar = with_index(ok);
        tar.pax(&[
            ("linkpath", b"/etc/passwd"),
            ("uid", b"0"),
            ("mtime", b"-1.5"),
        ]);
        tar.file("ok.txt", b"ok\n");
        add("pax-linkpath-uid-mtime", gzip(&tar.end()));
    }
    {
        let long = "d/".repeat(150) + "f";
        let mut tar = with_index(&[(long.as_str(), b"f")]);
        tar.gnu_long_name(long.as_bytes());
        tar.raw(b"placeholder", REG, 0o644, 1, b"", b"f");
        add("gnu-long-name-valid", gzip(&tar.end()));
    }
    {
        let long = "a/".repeat(300) + "f";
        let mut tar = with_index(ok);
        tar.gnu_long_name(long.as_bytes());
        tar.raw(b"placeholder", REG, 0o644, 1, b"", b"f");
        add("gnu-long-name-too-long", gzip(&tar.end()));
    }
    {
        let mut tar = with_index(ok);
        tar.raw(&[b'n'; 100], REG, 0o644, 1, b"", b"n");
        add("name-field-full-no-nul", gzip(&tar.end()));
    }

    // Sizes and bombs.
    {
        // A header claiming 1 GiB, followed by only 64 KiB: refused from the header alone.
        let mut tar = with_index(ok);
        tar.raw(b"zeros", REG, 0o644, 1 << 30, b"", &vec![0; 64 << 10]);
        add("gzip-bomb-header-1gib", gzip(&tar.end()));
    }
    {
        let mut tar = with_index(ok);
        tar.raw(b"empty-dir/", DIR, 0o755, 4096, b"", &[0; 4096]);
        add("directory-with-data", gzip(&tar.end()));
    }
    {
        // A size field that is not octal.
        let mut tar = with_index(ok).file("ok.txt", b"ok\n").end();
        // ok.txt's header follows index.json's header and its padded data.
        let header = 512 + 512 * index_json(ok).len().div_ceil(512);
        tar[header + 124..header + 136].copy_from_slice(b"zzzzzzzzzzz\0");
        add("size-not-octal", gzip(&tar));
    }
    {
        // A checksum that does not match the header.
        let mut tar = with_index(ok).file("ok.txt", b"ok\n").end();
        tar[148] ^= 1;
        add("bad-header-checksum", gzip(&tar));
    }

    // gzip framing and truncation.
    let tar = with_index(ok).file("ok.txt", b"ok\n").end();
    let gz = gzip(&tar);
    add("second-gzip-member", [gz.clone(), gz.clone()].concat());
    add(
        "trailing-garbage",
        [gz.clone(), b"GARBAGE".to_vec()].concat(),
    );
    add("truncated-gzip-9-bytes", gz[..gz.len() - 9].to_vec());
    add("truncated-gzip-half", gz[..gz.len() / 2].to_vec());
    {
        let mut corrupt = gz.clone();
        let crc = corrupt.len() - 8;
        corrupt[crc] ^= 0xff;
        add("bad-gzip-crc", corrupt);
    }
    {
        let mut two = tar.clone();
        two.extend_from_slice(&with_index(ok).file("ok.txt", b"ok\n").end());
        add("data-after-tar-end", gzip(&two));
    }
    {
        let mut junk = tar.clone();
        junk.extend_from_slice(b"X");
        add("nonzero-after-tar-end", gzip(&junk));
    }
    {
        // Cut at an entry boundary, end marker gone: only the index can tell a file is missing.
        let listed: &[(&str, &[u8])] = &[("a", b"a"), ("b", b"b")];
        let mut cut = with_index(listed);
        cut.file("a", b"a");
        add("truncated-tar-at-entry-boundary", gzip(&cut.0));
    }
    {
        let mut cut = with_index(ok);
        cut.raw(b"ok.txt", REG, 0o644, 3, b"", b"");
        cut.0.truncate(cut.0.len() - 512);
        cut.0.extend_from_slice(b"o");
        add("truncated-tar-mid-file", gzip(&cut.0));
    }
    add("not-gzip-plain-tar", tar.clone());
    add("empty-input", Vec::new());
    add("empty-gzip", gzip(b""));
    add("only-end-marker", gzip(&[0; 1024]));
    add("gzip-magic-only", vec![0x1f, 0x8b]);
    {
        // gzip header with FEXTRA, FNAME and FCOMMENT fields.
        let mut gz = GzBuilder::new()
            .mtime(0)
            .filename("bundle.tar")
            .comment("a comment")
            .extra(vec![1, 2, 3, 4])
            .write(Vec::new(), Compression::new(1));
        std::io::Write::write_all(&mut gz, &tar).expect("writing to memory");
        add(
            "gzip-header-fields",
            gz.finish().expect("writing to memory"),
        );
    }
    s
}

// =============================================================================================
// Envelopes and statements

fn statement(archive: &[u8]) -> Statement {
    Statement {
        format: mmc_bundle::FORMAT_VERSION,
        name: "stable".to_owned(),
        audience: "com.example:stable".to_owned(),
        version: mmc_fuzz::CREATED as u64,
        created: "2026-11-21T00:00:00Z".to_owned(),
        expires: "2026-12-21T00:00:00Z".to_owned(),
        key_id: mmc_bundle::key_id(&mmc_fuzz::trusted_key()),
        archive: ArchiveRef::of("stable-1795219200.tar.gz", archive),
    }
}

/// An envelope with a signature by `key` over `payload` as `payload_type`.
fn envelope_by(key: &mmc_bundle::SigningKey, payload_type: &str, payload: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let sig = key.sign(&mmc_bundle::pae(payload_type, payload));
    serde_json::to_vec_pretty(&serde_json::json!({
        "payloadType": payload_type,
        "payload": b64.encode(payload),
        "signatures": [{"keyid": mmc_bundle::key_id(&key.verifying_key()), "sig": b64.encode(sig.to_bytes())}],
    }))
    .expect("JSON serializes")
}

fn verify_seeds() -> Vec<(String, Vec<u8>)> {
    let archive = valid_archive();
    let good = statement(&archive);
    let key = mmc_fuzz::signing_key();
    let envelope = mmc_bundle::sign(&good, &key);
    assert_eq!(
        mmc_bundle::verify(
            &envelope,
            &archive,
            &[mmc_fuzz::trusted_key()],
            mmc_fuzz::now()
        )
        .as_ref(),
        Ok(&good),
        "the seed bundle must verify"
    );

    let mut s: Vec<(String, Vec<u8>)> = Vec::new();
    let mut raw = |name: &str, envelope: &[u8], archive: &[u8]| {
        s.push((
            format!("raw-{name}"),
            join_verify_input(VerifyMode::Raw, envelope, archive),
        ))
    };
    raw("valid", &envelope, &archive);
    {
        let mut tampered = archive.clone();
        tampered[20] ^= 1;
        raw("archive-tampered", &envelope, &tampered);
    }
    raw(
        "archive-truncated",
        &envelope,
        &archive[..archive.len() - 1],
    );
    raw("archive-empty", &envelope, b"");
    let text = String::from_utf8(envelope.clone()).expect("envelopes are JSON");
    let value: serde_json::Value = serde_json::from_str(&text).expect("envelopes are JSON");
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = value.clone();
        f(&mut v);
        serde_json::to_vec(&v).expect("JSON serializes")
    };
    raw(
        "wrong-payload-type",
        &envelope_by(
            &key,
            "application/vnd.mmc.root+json",
            &serde_json::to_vec(&good).unwrap(),
        ),
        &archive,
    );
    raw(
        "payload-type-control-chars",
        &edit(&|v| v["payloadType"] = "\u{1b}[2J\nforged".into()),
        &archive,
    );
    raw(
        "no-signatures",
        &edit(&|v| v["signatures"] = serde_json::json!([])),
        &archive,
    );
    raw(
        "unknown-key",
        &envelope_by(
            &mmc_bundle::SigningKey::from_bytes(&[7; 32]),
            mmc_bundle::BUNDLE_PAYLOAD_TYPE,
            &serde_json::to_vec(&good).unwrap(),
        ),
        &archive,
    );
    raw(
        "keyid-control-chars",
        &edit(&|v| v["signatures"][0]["keyid"] = "\u{7}\r\nERROR forged line".into()),
        &archive,
    );
    raw(
        "bad-signature",
        &edit(&|v| {
            let sig = v["signatures"][0]["sig"].as_str().unwrap().to_owned();
            let flipped = if sig.starts_with('A') { "B" } else { "A" };
            v["signatures"][0]["sig"] = format!("{flipped}{}", &sig[1..]).into();
        }),
        &archive,
    );
    raw(
        "signature-not-base64",
        &edit(&|v| v["signatures"][0]["sig"] = "!!!".into()),
        &archive,
    );
    raw(
        "valid-duplicate-signatures",
        &edit(&|v| {
            let sig = v["signatures"][0].clone();
            v["signatures"] = serde_json::json!([sig.clone(), sig]);
        }),
        &archive,
    );
    raw(
        "valid-bad-then-good-signature",
        &edit(&|v| {
            let good = v["signatures"][0].clone();
            let mut bad = good.clone();
            bad["sig"] = "AAAA".into();
            v["signatures"] = serde_json::json!([bad, good]);
        }),
        &archive,
    );
    raw(
        "payload-not-base64",
        &edit(&|v| v["payload"] = "%%%".into()),
        &archive,
    );
    raw("unknown-field", &edit(&|v| v["extra"] = 1.into()), &archive);
    raw(
        "truncated-envelope",
        &envelope[..envelope.len() / 2],
        &archive,
    );
    raw("envelope-not-json", b"\x00\xff not json", &archive);
    raw("envelope-empty", b"", &archive);

    let mut signed = |name: &str, payload: &[u8]| {
        s.push((
            format!("signed-{name}"),
            join_verify_input(VerifyMode::Signed, payload, &archive),
        ))
    };
    let json = |st: &Statement| serde_json::to_vec(st).expect("a statement serializes");
    let with = |f: &dyn Fn(&mut Statement)| {
        let mut st = good.clone();
        f(&mut st);
        json(&st)
    };
    signed("valid", &json(&good));
    signed(
        "expired",
        &with(&|st| st.expires = "2026-11-21T12:00:00Z".into()),
    );
    signed(
        "not-yet-valid",
        &with(&|st| st.created = "2026-11-23T00:00:00Z".into()),
    );
    signed(
        "fractional-seconds",
        &with(&|st| st.created = "2026-11-21T00:00:00.5Z".into()),
    );
    signed(
        "offset-time",
        &with(&|st| st.created = "2026-11-21T01:00:00+01:00".into()),
    );
    signed(
        "lowercase-z",
        &with(&|st| st.created = "2026-11-21t00:00:00z".into()),
    );
    signed(
        "valid-expires-9999",
        &with(&|st| st.expires = "9999-12-30T00:00:00Z".into()),
    );
    // jiff's timestamps end at 9999-12-30T22:00:00Z (so that every offset fits).
    signed(
        "expires-beyond-jiff",
        &with(&|st| st.expires = "9999-12-31T23:59:59Z".into()),
    );
    signed(
        "year-10000",
        &with(&|st| st.expires = "+010000-01-01T00:00:00Z".into()),
    );
    signed(
        "leap-second",
        &with(&|st| st.created = "2016-12-31T23:59:60Z".into()),
    );
    signed("format-2", &with(&|st| st.format = 2));
    signed("key-id-other", &with(&|st| st.key_id = "0".repeat(64)));
    signed("length-mismatch", &with(&|st| st.archive.length += 1));
    signed(
        "hash-uppercase",
        &with(&|st| st.archive.sha256 = st.archive.sha256.to_uppercase()),
    );
    signed("valid-version-max", &with(&|st| st.version = u64::MAX));
    signed(
        "valid-name-control-chars",
        &with(&|st| st.name = "\u{1b}]0;pwned\u{7}\n".into()),
    );
    {
        let mut v = serde_json::to_value(&good).unwrap();
        v["extra"] = true.into();
        signed("unknown-field", &serde_json::to_vec(&v).unwrap());
        v.as_object_mut().unwrap().remove("extra");
        v.as_object_mut().unwrap().remove("expires");
        signed("missing-field", &serde_json::to_vec(&v).unwrap());
    }
    signed("version-negative", br#"{"format":1,"version":-1}"#);
    signed("not-json", b"\xff\xfe");
    signed("empty", b"");
    s
}

// =============================================================================================
// Predicates

fn predicate_seeds(repo: &Path) -> Vec<(String, Vec<u8>)> {
    let data = repo.join("agent/mmc-predicate/tests/data");
    let mut s = Vec::new();
    let conditions = fs::read_to_string(data.join("conditions.txt")).expect("conditions.txt");
    for (i, line) in conditions
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("# "))
        .enumerate()
    {
        s.push((
            format!("real-{i:03}"),
            line.replace("\\n", "\n").into_bytes(),
        ));
    }
    let invalid =
        fs::read_to_string(data.join("conditions_invalid.tsv")).expect("conditions_invalid.tsv");
    for (i, line) in invalid.lines().filter(|l| !l.starts_with('#')).enumerate() {
        let condition = line.split('\t').next().unwrap_or_default();
        s.push((format!("invalid-{i:03}"), condition.as_bytes().to_vec()));
    }
    let edge: &[(&str, &str)] = &[
        (
            "deep-parens",
            &format!("{}TRUEPREDICATE{}", "(".repeat(500), ")".repeat(500)),
        ),
        ("deep-not", &format!("{}arch == 'x'", "NOT ".repeat(500))),
        ("unbalanced", "((arch == 'arm64'"),
        (
            "long-and-chain",
            &vec!["os_vers_major >= 13"; 200].join(" AND "),
        ),
        (
            "subquery",
            "SUBQUERY(applications, $a, $a.bundleid == 'x').@count > 0",
        ),
        ("variable", "$x == 1"),
        ("format-args", "arch == %@"),
        ("arithmetic", "os_vers_major + 1 > 14"),
        (
            "huge-number",
            "os_vers_major > 99999999999999999999999999999999999999",
        ),
        ("float-overflow", "x > 1e309"),
        ("hex-number", "x == 0x1F"),
        (
            "date-cast",
            "date > CAST(\"2016-03-02T00:00:00Z\", \"NSDate\")",
        ),
        (
            "date-cast-bad",
            "date > CAST(\"2016-13-45T25:61:61Z\", \"NSDate\")",
        ),
        ("cast-number", "date > CAST(1234567890, \"NSDate\")"),
        ("in-array", "arch IN {'arm64', 'x86_64', {'nested'}}"),
        ("between", "os_vers_major BETWEEN {12, 15}"),
        (
            "options",
            "machine_model LIKE[cd] 'mac*' OR x MATCHES[c] '(a|b)+'",
        ),
        ("regex-catastrophic", "x MATCHES '(a+)+$'"),
        ("escapes", r#"x == "\u00e9\n\t\"\\\x41""#),
        ("unicode", "x == '\u{1F600}\u{202e}\u{0}'"),
        ("unterminated-string", "x == 'abc"),
        ("keywords-as-keys", "#ANY == #AND"),
        ("key-path", "a.b.c.@count == 3"),
        (
            "any-all-none",
            "ANY a == 1 AND ALL b > 2 AND NONE c < 3 AND SOME d != 4",
        ),
        (
            "nil-true-false",
            "a == nil OR b == TRUE OR c == FALSEPREDICATE OR d == YES",
        ),
        (
            "operators",
            "a =< 1 && b => 2 || !(c <> 3) AND d == 4 OR e != 5",
        ),
        ("empty", ""),
        ("whitespace", " \t\r\n "),
    ];
    for (name, text) in edge {
        s.push(((*name).to_owned(), text.as_bytes().to_vec()));
    }
    s
}

// =============================================================================================
// Policy files

fn policy_seeds(repo: &Path) -> Vec<(String, Vec<u8>)> {
    let mut s: Vec<(String, Vec<u8>)> = Vec::new();
    let slot =
        |path: &str| mmc_fuzz::slot_for(path).unwrap_or_else(|| panic!("no slot for {path}"));

    // The base repository's own files in their slots, and the example repository's real files.
    for (path, text) in mmc_fuzz::BASE_REPO {
        let name = format!("base-{}", path.replace('/', "-"));
        s.push((name, join_policy_input(slot(path), text.as_bytes())));
    }
    let mut real = vec![repo.join("mmc.yaml")];
    for dir in [
        "policies/items",
        "policies/manifests",
        "policies/updates",
        "policies/tests",
        "profiles",
    ] {
        let mut files: Vec<PathBuf> = fs::read_dir(repo.join(dir))
            .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        files.sort();
        real.extend(
            files
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "yaml")),
        );
    }
    for path in real {
        let relative = path
            .strip_prefix(repo)
            .expect("inside the repository")
            .to_string_lossy()
            .into_owned();
        let text = fs::read(&path).expect("a policy file");
        let name = format!("example-{}", relative.replace('/', "-"));
        s.push((name, join_policy_input(slot(&relative), &text)));
    }

    // Hostile YAML (docs: security reference §3.1, §3.3 and §8), each in the slot where it bites.
    let mmc = slot("mmc.yaml");
    let items = slot("policies/items/x.yaml");
    let manifest = slot("policies/manifests/x.yaml");
    let profile = slot("profiles/x.yaml");
    let bomb = {
        let mut t = String::from(
            "a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
        );
        for i in 1..9 {
            let p = format!("*a{}", i - 1);
            t.push_str(&format!("a{i}: &a{i} [{}]\n", [p.as_str(); 9].join(", ")));
        }
        t
    };
    let base_mmc = mmc_fuzz::BASE_REPO[0].1;
    let hostile: Vec<(&str, u8, String)> = vec![
        (
            "alias-bomb-in-vars",
            mmc,
            format!("{base_mmc}  bomb:\n{}", indent(&bomb, 4)),
        ),
        (
            "alias-bomb-top-level",
            items,
            format!("{bomb}items: []\n"),
        ),
        ("deep-flow-nesting", items, format!("items: {}{}\n", "[".repeat(10_000), "]".repeat(10_000))),
        (
            "deep-block-nesting",
            mmc,
            format!("{base_mmc}  deep:\n{}", (0..100).map(|i| format!("{}k{i}:\n", "  ".repeat(i + 2))).collect::<String>()),
        ),
        (
            "duplicate-keys",
            items,
            "items:\n  - name: Dup\n    kind: file\n    path: /tmp/a\n    content: a\n    path: /tmp/b\n".to_owned(),
        ),
        (
            "duplicate-keys-in-values",
            items,
            "items:\n  - name: Pref\n    kind: preference\n    domain: com.example\n    values:\n      Key: 1\n      Key: 2\n".to_owned(),
        ),
        (
            "yaml11-booleans-and-numbers",
            items,
            "items:\n  - name: Pref\n    kind: preference\n    domain: com.example\n    values:\n      country: NO\n      enabled: yes\n      flag: on\n      octal: 0755\n      ver: 1.10\n      time: 12:30\n      tilde: ~\n      inf: .inf\n      nan: .NaN\n      big: 123456789012345678901234567890\n".to_owned(),
        ),
        (
            "yaml11-boolean-into-bool",
            items,
            "items:\n  - name: Firefox2\n    kind: package\n    version: 1.10\n    installer_item_location: a.pkg\n    unattended_install: yes\n".to_owned(),
        ),
        (
            "tags",
            items,
            "items:\n  - !!map\n    name: !!str Tagged\n    kind: !custom preference\n    domain: !!binary aGVsbG8=\n    values: !!python/object:os.system {a: !!int \"0x10\", b: !!float 1, c: !!timestamp 2001-12-14}\n".to_owned(),
        ),
        (
            "merge-keys",
            items,
            "base: &base\n  kind: file\n  path: /tmp/x\nitems:\n  - <<: *base\n    name: Merged\n    content: x\n".to_owned(),
        ),
        (
            "anchors-and-aliases",
            manifest,
            "managed_installs: &m [Firefox, Banner]\noptional_installs: *m\nmanaged_uninstalls: *m\n".to_owned(),
        ),
        (
            "control-characters",
            items,
            "items:\n  - name: \"Bell\\a\"\n    kind: file\n    path: \"/tmp/\\0nul\"\n    content: \"\\x07\\x1b[31m\\u0085\\u2028\\uFFFE\"\n".to_owned(),
        ),
        (
            "raw-control-bytes",
            items,
            "items:\n  - name: Raw\u{7}\n    kind: file\n    path: /tmp/\u{1b}x\n    content: \"\u{0}\"\n".to_owned(),
        ),
        ("bom-crlf-lone-cr", manifest, "\u{feff}managed_installs:\r\n  - Firefox\r  - Banner\r\n".to_owned()),
        ("multi-document", manifest, "managed_installs: [Firefox]\n---\nmanaged_installs: [Banner]\n".to_owned()),
        ("empty-file", manifest, String::new()),
        ("only-comment", items, "# nothing\n".to_owned()),
        ("null-document", mmc, "~\n".to_owned()),
        ("scalar-document", profile, "just a string\n".to_owned()),
        ("invalid-utf8", items, String::from_utf8_lossy(b"items:\n  - name: caf\xe9\n").into_owned()),
        (
            "template-repeat-bomb",
            items,
            "items:\n  - name: Big\n    kind: file\n    path: /tmp/big\n    content: \"{{ 'a' * 90000000 }}\"\n".to_owned(),
        ),
        (
            "template-loops-and-undefined",
            items,
            "items:\n  - name: Loop\n    kind: file\n    path: \"{{ vars.nope }}\"\n    content: \"{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}\"\n".to_owned(),
        ),
        (
            "template-xml-injection",
            profile,
            "display_name: \"</string><key>PayloadType</key><string>com.apple.security.root\"\npayloads:\n  - type: com.apple.screensaver\n    settings:\n      idleTime: 600\n      text: \"{{ vars.support_contact ~ '</string>' }}\"\n".to_owned(),
        ),
        (
            "condition-hostile",
            manifest,
            "conditional_items:\n  - condition: \"((((((machine_type == 'laptop'\"\n    managed_installs: [Firefox]\n  - condition: \"SUBQUERY(applications, $a, $a.x == 1).@count > 0\"\n    managed_installs: [Banner]\n".to_owned(),
        ),
        (
            "include-cycle",
            slot("policies/manifests/site_default.yaml"),
            "included_manifests: [site_default, common, missing]\nmanaged_installs: [Firefox]\n".to_owned(),
        ),
        (
            "unknown-keys-and-wrong-types",
            mmc,
            "mmc_version: \"1\"\norg: [not, a, map]\ntracks: stable\nbundles: {name: x}\npasword: hunter2\n".to_owned(),
        ),
        (
            "long-string",
            items,
            format!("items:\n  - name: {}\n    kind: file\n    path: /tmp/x\n    content: x\n", "N".repeat(20_000)),
        ),
        (
            "many-items",
            items,
            (0..300).fold("items:\n".to_owned(), |t, i| t + &format!("  - {{name: I{i}, kind: file, path: /tmp/{i}, content: x}}\n")),
        ),
    ];
    for (name, slot, text) in hostile {
        s.push((
            format!("hostile-{name}"),
            join_policy_input(slot, text.as_bytes()),
        ));
    }
    s
}

fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(by)))
        .collect()
}

// =============================================================================================
// Roots (fuzz_root_update)

/// A root document following the fuzz root: version `version`, root keys `roots` (threshold
/// `threshold`), one bundle key at epoch `version`.
fn root_doc(version: u64, roots: &[&mmc_bundle::SigningKey], threshold: usize) -> mmc_bundle::Root {
    let mut doc = mmc_fuzz::root_v1_document();
    doc.version = version;
    doc.root_keys = roots
        .iter()
        .map(|k| mmc_bundle::root_key(&k.verifying_key()))
        .collect();
    doc.root_threshold = threshold;
    doc.bundle_keys = vec![mmc_bundle::delegated_key(
        &mmc_bundle::SigningKey::from_bytes(&[9; 32]).verifying_key(),
        version,
        "2030-01-01T00:00:00Z",
    )];
    doc
}

fn signed_by(doc: &mmc_bundle::Root, keys: &[&mmc_bundle::SigningKey]) -> Vec<u8> {
    let mut envelope = mmc_bundle::unsigned_root(doc);
    for k in keys {
        envelope = mmc_bundle::add_signature(&envelope, k).expect("a well-formed seed root");
    }
    envelope
}

fn raw(envelope: &[u8]) -> Vec<u8> {
    let mut out = vec![VerifyMode::Raw as u8];
    out.extend_from_slice(envelope);
    out
}

fn signed(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![VerifyMode::Signed as u8];
    out.extend_from_slice(payload);
    out
}

fn root_seeds() -> Vec<(String, Vec<u8>)> {
    let fuzz = mmc_fuzz::signing_key();
    let new = mmc_bundle::SigningKey::from_bytes(&[8; 32]);
    let v2 = root_doc(2, &[&fuzz], 1);
    let v2_new = root_doc(2, &[&new], 1);
    let v2_two = root_doc(2, &[&fuzz, &new], 2);
    let json = |doc: &mmc_bundle::Root| serde_json::to_value(doc).expect("a root serializes");
    let mut seeds = vec![
        (
            "raw-valid-root-2".to_owned(),
            raw(&signed_by(&v2, &[&fuzz])),
        ),
        (
            "raw-valid-rotation-to-a-new-root-key".to_owned(),
            raw(&signed_by(&v2_new, &[&fuzz, &new])),
        ),
        (
            "raw-rotation-signed-by-the-new-key-only".to_owned(),
            raw(&signed_by(&v2_new, &[&new])),
        ),
        (
            "raw-rotation-signed-by-the-old-key-only".to_owned(),
            raw(&signed_by(&v2_new, &[&fuzz])),
        ),
        (
            "raw-version-3-skips-2".to_owned(),
            raw(&signed_by(&root_doc(3, &[&fuzz], 1), &[&fuzz])),
        ),
        (
            "raw-version-1-replayed".to_owned(),
            raw(&signed_by(&root_doc(1, &[&fuzz], 1), &[&fuzz])),
        ),
        (
            "raw-bundle-envelope-as-a-root".to_owned(),
            raw(&mmc_fuzz::signed_envelope(b"{}")),
        ),
        ("raw-empty".to_owned(), raw(b"")),
    ];
    // Threshold 2 met by one signature listed twice.
    let once = signed_by(&v2_two, &[&fuzz]);
    let mut twice: serde_json::Value = serde_json::from_slice(&once).expect("JSON");
    let sig = twice["signatures"][0].clone();
    twice["signatures"] = serde_json::json!([sig.clone(), sig]);
    seeds.push((
        "raw-duplicate-signature-for-threshold-2".to_owned(),
        raw(&serde_json::to_vec(&twice).expect("JSON")),
    ));
    // Payloads the target signs with the fuzz key.
    let mut weak = json(&v2);
    let mut identity = [0u8; 32];
    identity[0] = 1;
    weak["bundle_keys"][0]["public_key"] = serde_json::json!(BASE64_STD.encode(identity));
    weak["bundle_keys"][0]["keyid"] = serde_json::json!(mmc_bundle::sha256_hex(&identity));
    let mut unknown = json(&v2);
    unknown["extra"] = serde_json::json!(true);
    let mut mismatch = json(&v2);
    mismatch["root_keys"][0]["keyid"] = serde_json::json!("00".repeat(32));
    let mut zero = json(&v2);
    zero["root_threshold"] = serde_json::json!(0);
    let mut format = json(&v2);
    format["format"] = serde_json::json!(2);
    let mut expires = json(&v2);
    expires["expires"] = serde_json::json!("2030-01-01T00:00:00+00:00");
    let mut shared = json(&v2);
    shared["bundle_keys"][0]["public_key"] = shared["root_keys"][0]["public_key"].clone();
    shared["bundle_keys"][0]["keyid"] = shared["root_keys"][0]["keyid"].clone();
    let mut many = json(&v2);
    many["bundle_keys"] = serde_json::json!(
        (0u8..65)
            .map(|i| serde_json::to_value(mmc_bundle::delegated_key(
                &mmc_bundle::SigningKey::from_bytes(&[i.wrapping_add(100); 32]).verifying_key(),
                2,
                "2030-01-01T00:00:00Z"
            ))
            .expect("JSON"))
            .collect::<Vec<_>>()
    );
    for (name, value) in [
        ("signed-valid-root-2", json(&v2)),
        ("signed-weak-bundle-key", weak),
        ("signed-unknown-member", unknown),
        ("signed-keyid-mismatch", mismatch),
        ("signed-threshold-0", zero),
        ("signed-format-2", format),
        ("signed-expires-with-offset", expires),
        ("signed-key-in-both-roles", shared),
        ("signed-65-bundle-keys", many),
    ] {
        seeds.push((
            name.to_owned(),
            signed(&serde_json::to_vec(&value).expect("JSON")),
        ));
    }
    seeds.push(("signed-not-json".to_owned(), signed(b"{\"version\": 2,")));
    seeds
}

/// The seeds named `raw-valid…` and `signed-valid…` are accepted as root version 2.
fn check_root_seeds(seeds: &[(String, Vec<u8>)], explain: bool) {
    let trusted = mmc_fuzz::root_v1();
    for (name, data) in seeds {
        let (mode, rest) = mmc_fuzz::split_root_input(data).expect("a seed splits");
        let envelope = match mode {
            VerifyMode::Raw => rest.to_vec(),
            VerifyMode::Signed => mmc_fuzz::signed_root_envelope(rest),
        };
        let result = trusted.update(&envelope);
        if explain {
            match &result {
                Ok(_) => println!("  {name}: accepted"),
                Err(e) => println!("  {name}: refused: {e}"),
            }
        }
        let valid = name.starts_with("raw-valid") || name.starts_with("signed-valid");
        assert_eq!(result.is_ok(), valid, "{name}: {:?}", result.err());
    }
}
