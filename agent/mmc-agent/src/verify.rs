//! `mmc-agent verify`: check a bundle end to end without changing the machine.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use mmc_bundle::{MAX_ARCHIVE_BYTES, MAX_ENVELOPE_BYTES, VerifyingKey};

const HELP: &str = "\
Check a signed bundle without changing anything on this Mac.

Usage: mmc-agent verify BUNDLE (--trust PUBKEY... | --trust-root ROOT.json) [OPTIONS]

Arguments:
  BUNDLE              The bundle archive (.tar.gz) built and signed by `mmc build`

Options:
  --trust PUBKEY      A file holding an ed25519 public key in PEM form
                      (\"-----BEGIN PUBLIC KEY-----\") that may sign bundles. Required;
                      repeat it to trust several keys, e.g. during a key rotation
  --trust-root FILE   The pinned root of trust (root-1.json, `mmc root init`) instead:
                      newer root-N.json files next to BUNDLE are walked one version at a
                      time, and the newest root's bundle keys, threshold and expiries decide
  --signature FILE    The signature envelope [default: BUNDLE with .sig appended]
  --extract DIR       Keep the verified files in DIR, which must not exist yet
                      [default: extract into a temporary directory, then delete it]
  --now TIME          Judge expiry at TIME (RFC 3339, e.g. 2026-11-21T05:31:00Z)
                      instead of the system clock
  -h, --help          Print this help

What it checks, in this order (the first failure stops it):
  1. the envelope is at most 64 KiB and the archive at most 64 MiB;
  2. the envelope is a DSSE envelope of type application/vnd.mmc.bundle+json with an
     ed25519 signature (strict verification) by one of the --trust keys (with a root:
     by as many distinct bundle keys as its threshold asks, none expired);
  3. the signed statement has a supported format and names the key that signed it;
  4. the archive's length and SHA-256 equal the signed ones, before anything is
     decompressed, so a swapped or altered archive is refused unread;
  5. the bundle is current: created <= now < expires;
  6. the archive unpacks under strict rules (regular files and directories only,
     plain relative names, no duplicates even ignoring case, size and count caps)
     and its files match the list in index.json exactly: names, sizes, SHA-256.

Exit status:
  0  the bundle is authentic, current and intact; one summary line is printed
  2  anything else, bad usage included; the reason is printed to stderr

Example:
  mmc-agent verify /Library/mmc/bundles/stable-1763700000.tar.gz \\
      --trust /Library/mmc/keys/ci-2026.pem
  verified stable version 1763700000 (audience com.example:stable, key 5d41..., 14 files, expires 2026-12-01T00:00:00Z)
";

/// Largest public key file read.
const MAX_KEY_BYTES: u64 = 16 * 1024;

struct Options {
    bundle: PathBuf,
    trust: Vec<PathBuf>,
    trust_root: Option<PathBuf>,
    signature: Option<PathBuf>,
    extract: Option<PathBuf>,
    now: Option<Timestamp>,
}

pub(crate) fn run(mut parser: lexopt::Parser) -> Result<(), String> {
    let Some(options) = parse(&mut parser)? else {
        print!("{HELP}");
        return Ok(());
    };

    let mut trusted: Vec<VerifyingKey> = Vec::new();
    for path in &options.trust {
        let bytes = read_capped(path, MAX_KEY_BYTES, "trusted key file", None)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("trusted key file {} is not text", path.display()))?;
        let key = mmc_bundle::parse_public_key(&text)
            .map_err(|e| format!("trusted key file {}: {e}", path.display()))?;
        trusted.push(key);
    }

    let (signature_path, hint) = match &options.signature {
        Some(path) => (path.clone(), None),
        None => {
            let mut path = OsString::from(options.bundle.as_os_str());
            path.push(".sig");
            (
                PathBuf::from(path),
                Some("it is expected next to the bundle; use --signature FILE if it is elsewhere"),
            )
        }
    };
    let envelope = read_capped(
        &signature_path,
        MAX_ENVELOPE_BYTES,
        "signature envelope",
        hint,
    )?;
    let archive = read_capped(&options.bundle, MAX_ARCHIVE_BYTES, "bundle", None)?;

    let now = options.now.unwrap_or_else(Timestamp::now);
    let bundle = options.bundle.display();
    let keys = match &options.trust_root {
        None => mmc_bundle::BundleKeys::any_of(&trusted),
        Some(pinned) => {
            let mut notes = Vec::new();
            let places = [crate::trust::beside(&options.bundle)];
            let pinned_bytes =
                read_capped(pinned, mmc_bundle::MAX_ROOT_BYTES, "pinned root", None)?;
            let (root, _) =
                crate::trust::walk_roots(pinned, &pinned_bytes, None, &places, &mut notes)?;
            for note in &notes {
                eprintln!("mmc-agent: warning: {note}");
            }
            root.check_expiry(now).map_err(|e| e.to_string())?;
            root.bundle_keys().clone()
        }
    };
    let statement = mmc_bundle::verify_bundle(&envelope, &archive, &keys, now)
        .map_err(|e| format!("{bundle}: {e}"))?
        .statement;

    let extracted = match &options.extract {
        Some(dir) => {
            // Only after the bundle verified: create the parent the admin named, then extract.
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            mmc_bundle::extract(&archive, dir)
        }
        None => {
            let scratch = Scratch::create()?;
            mmc_bundle::extract(&archive, &scratch.path.join("bundle"))
            // `scratch` is removed here, with the extracted files.
        }
    }
    .map_err(|e| format!("{bundle}: {e}"))?;

    let count = extracted.index.files.len();
    println!(
        "verified {} version {} (audience {}, key {}, {} file{}, expires {})",
        statement.name,
        statement.version,
        statement.audience,
        statement.key_id,
        count,
        if count == 1 { "" } else { "s" },
        statement.expires
    );
    Ok(())
}

/// Parses the arguments after `verify`; `None` means help was asked for.
fn parse(parser: &mut lexopt::Parser) -> Result<Option<Options>, String> {
    use lexopt::prelude::*;
    let usage = |e: lexopt::Error| format!("{e} (try `mmc-agent verify --help`)");
    let mut bundle = None;
    let mut trust = Vec::new();
    let mut trust_root = None;
    let mut signature = None;
    let mut extract = None;
    let mut now = None;
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Short('h') | Long("help") => return Ok(None),
            Long("trust") => trust.push(PathBuf::from(parser.value().map_err(usage)?)),
            Long("trust-root") => trust_root = Some(PathBuf::from(parser.value().map_err(usage)?)),
            Long("signature") => signature = Some(PathBuf::from(parser.value().map_err(usage)?)),
            Long("extract") => extract = Some(PathBuf::from(parser.value().map_err(usage)?)),
            Long("now") => {
                let value = parser.value().map_err(usage)?;
                let text = value.to_string_lossy();
                let time = text.parse::<Timestamp>().map_err(|_| {
                    format!("--now {text:?} is not an RFC 3339 time like 2026-11-21T05:31:00Z")
                })?;
                now = Some(time);
            }
            Value(value) if bundle.is_none() => bundle = Some(PathBuf::from(value)),
            other => return Err(usage(other.unexpected())),
        }
    }
    let Some(bundle) = bundle else {
        return Err("missing BUNDLE, the .tar.gz to verify (try `mmc-agent verify --help`)".into());
    };
    if trust.is_empty() == trust_root.is_none() {
        return Err(
            "give --trust PUBKEY (one or more public key files allowed to sign bundles) or --trust-root ROOT.json, not both"
                .into(),
        );
    }
    Ok(Some(Options {
        bundle,
        trust,
        trust_root,
        signature,
        extract,
        now,
    }))
}

/// Reads at most `limit` bytes of `path`, refusing larger files without reading them whole.
pub(crate) fn read_capped(
    path: &Path,
    limit: u64,
    what: &str,
    hint_if_missing: Option<&str>,
) -> Result<Vec<u8>, String> {
    let file = fs::File::open(path).map_err(|e| match (e.kind(), hint_if_missing) {
        (io::ErrorKind::NotFound, Some(hint)) => {
            format!("{what} {} not found ({hint})", path.display())
        }
        (io::ErrorKind::NotFound, None) => format!("{what} {} not found", path.display()),
        _ => format!("cannot open {what} {}: {e}", path.display()),
    })?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "{what} {} is larger than the {limit}-byte limit",
            path.display()
        ));
    }
    Ok(bytes)
}

/// A private temporary directory, removed with everything in it when dropped.
pub(crate) struct Scratch {
    pub(crate) path: PathBuf,
}

impl Scratch {
    pub(crate) fn create() -> Result<Scratch, String> {
        let base = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for attempt in 0..100u32 {
            let path = base.join(format!(
                "mmc-agent-verify-{}-{nanos}-{attempt}",
                std::process::id()
            ));
            let mut builder = fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            match builder.create(&path) {
                Ok(()) => return Ok(Scratch { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(format!(
                        "cannot create a temporary directory in {}: {e}",
                        base.display()
                    ));
                }
            }
        }
        Err(format!(
            "cannot create a temporary directory in {}",
            base.display()
        ))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}
