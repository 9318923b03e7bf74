//! What the fuzz targets and `make-seeds` share: the fixed test key and clock, how a target's raw
//! input is laid out, and the small valid policy repository the policy target plants its input in.
//! Keeping the layouts here means the seeds and the targets cannot drift apart.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::Signer as _;
use mmc_bundle::{SigningKey, VerifyingKey};
use mmc_compiler::source::FileSet;

// ---------------------------------------------------------------------------------------------
// Key and clock

/// The fuzz key's 32-byte seed. A test key: it signs nothing outside this crate.
const KEY_SEED: [u8; 32] = *b"mmc fuzz test key, never trusted";

/// The signing key of every seed bundle and of the signed mode of `fuzz_bundle_verify`.
pub fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&KEY_SEED)
}

/// The one trusted key `fuzz_bundle_verify` verifies against.
pub fn trusted_key() -> VerifyingKey {
    signing_key().verifying_key()
}

/// `created` of the seed bundles: 2026-11-21T00:00:00Z.
pub const CREATED: i64 = 1_795_219_200;
/// The verifier's clock: 2026-11-22T00:00:00Z, one day into the seed bundles' validity.
pub const NOW: i64 = 1_795_305_600;
/// `expires` of the seed bundles: 2026-12-21T00:00:00Z.
pub const EXPIRES: i64 = 1_797_811_200;

pub fn now() -> jiff::Timestamp {
    jiff::Timestamp::from_second(NOW).expect("a valid time")
}

// ---------------------------------------------------------------------------------------------
// fuzz_bundle_verify: `mode (1 byte) | n (2 bytes, little endian) | first n bytes | rest`

/// How `fuzz_bundle_verify` reads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyMode {
    /// First part: the envelope as received; rest: the archive. The attacker holds no key.
    Raw = 0,
    /// First part: the statement payload, which the target signs with the trusted key; rest: the
    /// archive. Reaches everything after the signature check (statement parsing, key id, length,
    /// hash, times): what a holder of the key (or a compiler bug) could put in a statement.
    Signed = 1,
}

/// Splits a `fuzz_bundle_verify` input. The mode is the low bit of the first byte; the length of
/// the first part is cut to what the input has.
pub fn split_verify_input(data: &[u8]) -> Option<(VerifyMode, &[u8], &[u8])> {
    let (&mode, rest) = data.split_first()?;
    let mode = if mode & 1 == 0 {
        VerifyMode::Raw
    } else {
        VerifyMode::Signed
    };
    let (len, rest) = rest.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (first, second) = rest.split_at(len);
    Some((mode, first, second))
}

/// The inverse of [`split_verify_input`] (for the seeds). `first` must fit in 16 bits of length.
pub fn join_verify_input(mode: VerifyMode, first: &[u8], second: &[u8]) -> Vec<u8> {
    let len = u16::try_from(first.len()).expect("the first part of a seed is under 64 KiB");
    let mut out = vec![mode as u8];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(first);
    out.extend_from_slice(second);
    out
}

/// A DSSE envelope (as `mmc_bundle::sign` writes it) over arbitrary payload bytes, signed with
/// the fuzz key under the bundle payload type.
pub fn signed_envelope(payload: &[u8]) -> Vec<u8> {
    let key = signing_key();
    let signature = key.sign(&mmc_bundle::pae(mmc_bundle::BUNDLE_PAYLOAD_TYPE, payload));
    let envelope = serde_json::json!({
        "payloadType": mmc_bundle::BUNDLE_PAYLOAD_TYPE,
        "payload": BASE64.encode(payload),
        "signatures": [{
            "keyid": mmc_bundle::key_id(&key.verifying_key()),
            "sig": BASE64.encode(signature.to_bytes()),
        }],
    });
    serde_json::to_vec_pretty(&envelope).expect("JSON values serialize")
}

// ---------------------------------------------------------------------------------------------
// fuzz_root_update: `mode (1 byte) | rest`

/// The second key of the fuzz root: its bundle key (the fuzz key is its root key).
pub fn bundle_key() -> SigningKey {
    SigningKey::from_bytes(b"mmc fuzz bundle key, not trusted")
}

/// The root every `fuzz_root_update` input must follow: version 1, the fuzz key as its only root
/// key (threshold 1), [`bundle_key`] at epoch 1, expiring long after [`now`].
pub fn root_v1_document() -> mmc_bundle::Root {
    mmc_bundle::Root {
        format: mmc_bundle::ROOT_FORMAT,
        version: 1,
        expires: "2030-01-01T00:00:00Z".to_owned(),
        root_keys: vec![mmc_bundle::root_key(&trusted_key())],
        root_threshold: 1,
        bundle_keys: vec![mmc_bundle::delegated_key(
            &bundle_key().verifying_key(),
            1,
            "2030-01-01T00:00:00Z",
        )],
        bundle_threshold: 1,
    }
}

/// [`root_v1_document`], signed: what an agent pins.
pub fn root_v1() -> mmc_bundle::TrustedRoot {
    let envelope = mmc_bundle::add_signature(
        &mmc_bundle::unsigned_root(&root_v1_document()),
        &signing_key(),
    )
    .expect("the fuzz root is well-formed");
    mmc_bundle::TrustedRoot::pinned(&envelope).expect("the fuzz root verifies")
}

/// A root envelope over arbitrary payload bytes, signed with the fuzz key.
pub fn signed_root_envelope(payload: &[u8]) -> Vec<u8> {
    let key = signing_key();
    let signature = key.sign(&mmc_bundle::pae(mmc_bundle::ROOT_PAYLOAD_TYPE, payload));
    let envelope = serde_json::json!({
        "payloadType": mmc_bundle::ROOT_PAYLOAD_TYPE,
        "payload": BASE64.encode(payload),
        "signatures": [{
            "keyid": mmc_bundle::key_id(&key.verifying_key()),
            "sig": BASE64.encode(signature.to_bytes()),
        }],
    });
    serde_json::to_vec_pretty(&envelope).expect("JSON values serialize")
}

/// Splits a `fuzz_root_update` input: the low bit of the first byte picks the mode; in
/// [`VerifyMode::Raw`] the rest is the envelope as received, in [`VerifyMode::Signed`] the rest
/// is a root payload the target signs with the fuzz key (the root key of [`root_v1`]).
pub fn split_root_input(data: &[u8]) -> Option<(VerifyMode, &[u8])> {
    let (&mode, rest) = data.split_first()?;
    Some((
        if mode & 1 == 0 {
            VerifyMode::Raw
        } else {
            VerifyMode::Signed
        },
        rest,
    ))
}

// ---------------------------------------------------------------------------------------------
// fuzz_policy_load: `slot (1 byte) | file text (UTF-8, decoded lossily)`

/// Where `fuzz_policy_load` puts its input in the base repository: the first byte modulo the
/// number of slots picks one. `replaces` slots take the place of a base file; the others are added.
pub const POLICY_SLOTS: [PolicySlot; 8] = [
    PolicySlot::replace("mmc.yaml"),
    PolicySlot::add("policies/items/x.yaml"),
    PolicySlot::replace("policies/items/apps.yaml"),
    PolicySlot::add("policies/manifests/x.yaml"),
    PolicySlot::replace("policies/manifests/site_default.yaml"),
    PolicySlot::add("profiles/x.yaml"),
    PolicySlot::add("policies/updates/x.yaml"),
    PolicySlot::add("policies/tests/x.yaml"),
];

#[derive(Debug, Clone, Copy)]
pub struct PolicySlot {
    pub path: &'static str,
    pub replaces: bool,
}

impl PolicySlot {
    const fn replace(path: &'static str) -> PolicySlot {
        PolicySlot {
            path,
            replaces: true,
        }
    }
    const fn add(path: &'static str) -> PolicySlot {
        PolicySlot {
            path,
            replaces: false,
        }
    }
}

/// The slot index for a repository path, for the seeds: the exact slot if there is one, else
/// the "add" slot of the same kind of file.
pub fn slot_for(path: &str) -> Option<u8> {
    let exact = POLICY_SLOTS.iter().position(|s| s.path == path);
    let kind = || {
        let dir = path.rsplit_once('/')?.0;
        POLICY_SLOTS
            .iter()
            .position(|s| !s.replaces && s.path.rsplit_once('/').map(|(d, _)| d) == Some(dir))
    };
    exact.or_else(kind).map(|i| i as u8)
}

/// The small valid repository (a copy of the CLI tests' `fixtures/base`): two bundles, two
/// items, two manifests, a profile. It compiles without diagnostics; `make-seeds` checks that.
pub const BASE_REPO: [(&str, &str); 5] = [
    ("mmc.yaml", include_str!("../base/mmc.yaml")),
    (
        "policies/items/apps.yaml",
        include_str!("../base/policies/items/apps.yaml"),
    ),
    (
        "policies/manifests/site_default.yaml",
        include_str!("../base/policies/manifests/site_default.yaml"),
    ),
    (
        "policies/manifests/common.yaml",
        include_str!("../base/policies/manifests/common.yaml"),
    ),
    (
        "profiles/screensaver.yaml",
        include_str!("../base/profiles/screensaver.yaml"),
    ),
];

pub fn base_repo() -> FileSet {
    let mut files = FileSet::new();
    for (path, text) in BASE_REPO {
        files.insert(path, text);
    }
    files
}

/// The repository a `fuzz_policy_load` input stands for, and the path of the fuzzed file.
pub fn policy_input(data: &[u8]) -> Option<(FileSet, &'static str)> {
    let (&selector, text) = data.split_first()?;
    let slot = POLICY_SLOTS[usize::from(selector) % POLICY_SLOTS.len()];
    let mut files = base_repo();
    files.insert(slot.path, String::from_utf8_lossy(text).into_owned());
    Some((files, slot.path))
}

/// The inverse of [`policy_input`] (for the seeds).
pub fn join_policy_input(slot: u8, text: &[u8]) -> Vec<u8> {
    let mut out = vec![slot];
    out.extend_from_slice(text);
    out
}

// ---------------------------------------------------------------------------------------------
// Scratch directories

/// A fresh directory for this process: under `$MMC_FUZZ_TMP` if set, else under /dev/shm when it
/// exists (extraction syncs every file, which costs nothing on tmpfs), else under the system's
/// temporary directory. A run that stops leaves it behind (libFuzzer exits without unwinding),
/// which is why CI points `MMC_FUZZ_TMP` at a directory it removes afterwards.
pub fn scratch_dir(name: &str) -> PathBuf {
    let shm = Path::new("/dev/shm");
    let base = match std::env::var_os("MMC_FUZZ_TMP") {
        Some(dir) => PathBuf::from(dir),
        None if shm.is_dir() => shm.to_owned(),
        None => std::env::temp_dir(),
    };
    let dir = base.join(format!("mmc-fuzz-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("cannot create the scratch directory");
    dir
}

/// Names in `dir`, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the scratch directory is readable")
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}
