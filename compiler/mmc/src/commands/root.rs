//! `mmc root`: the fleet's root of trust (`trust/root-N.json` in the policy repository).
//!
//! Root documents are written unsigned and signed one key holder at a time, so the root keys can
//! stay on separate offline machines. Agents pin `root-1.json` and walk each later version,
//! which a threshold of the old root keys and a threshold of the new ones must both sign.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use jiff::Timestamp;
use mmc_bundle::{Root, TrustedRoot, VerifyingKey};

use crate::cli::{GlobalArgs, RootArgs, RootCommand, RootInitArgs, RootRotateArgs, RootSignArgs};
use crate::output::Printer;
use crate::workspace;

/// The folder of a policy repository that holds the root documents.
pub const TRUST_DIR: &str = "trust";

pub fn run(args: &RootArgs, global: &GlobalArgs, out: &Printer) -> Result<ExitCode> {
    match &args.command {
        RootCommand::Init(a) => init(a, global, out),
        RootCommand::Sign(a) => sign(a, global, out),
        RootCommand::Rotate(a) => rotate(a, global, out),
        RootCommand::Status { dir } => status(dir.as_deref(), global, out),
    }
}

fn trust_dir(global: &GlobalArgs) -> Result<PathBuf> {
    Ok(workspace::find_repo(global.repo.as_deref())?.join(TRUST_DIR))
}

/// `root-N.json` in `dir`.
pub fn root_path(dir: &Path, version: u64) -> PathBuf {
    dir.join(format!("root-{version}.json"))
}

fn read_public_key(path: &Path) -> Result<VerifyingKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the public key {}", path.display()))?;
    mmc_bundle::parse_public_key(&text).with_context(|| format!("{}", path.display()))
}

fn expiry(now: Timestamp, after: &str, what: &str) -> Result<String> {
    let secs = mmc_compiler::lower::parse_duration(after).with_context(|| {
        format!("{what} {after:?} is not a duration like 365d, 26w or 720h (at most ten years)")
    })?;
    let at = Timestamp::from_second(now.as_second() + secs).context("expiry out of range")?;
    Ok(at.to_string())
}

fn write_new(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    if path.exists() && !force {
        bail!(
            "{} exists; a published root version is never rewritten (use `mmc root rotate` for the next one)",
            path.display()
        );
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    workspace::write_atomic(path, bytes, 0o644)
}

fn init(args: &RootInitArgs, global: &GlobalArgs, out: &Printer) -> Result<ExitCode> {
    let now = Timestamp::now();
    let root_keys: Vec<VerifyingKey> = args
        .root_key
        .iter()
        .map(|p| read_public_key(p))
        .collect::<Result<_>>()?;
    let bundle_keys: Vec<VerifyingKey> = args
        .bundle_key
        .iter()
        .map(|p| read_public_key(p))
        .collect::<Result<_>>()?;
    let bundle_expires = expiry(now, &args.bundle_key_expires, "--bundle-key-expires")?;
    let root = Root {
        format: mmc_bundle::ROOT_FORMAT,
        version: 1,
        expires: expiry(now, &args.expires, "--expires")?,
        root_keys: root_keys.iter().map(mmc_bundle::root_key).collect(),
        root_threshold: args.threshold,
        bundle_keys: bundle_keys
            .iter()
            .map(|k| mmc_bundle::delegated_key(k, 1, &bundle_expires))
            .collect(),
        bundle_threshold: args.bundle_threshold,
    };
    root.check().map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = match &args.out {
        Some(p) => p.clone(),
        None => root_path(&trust_dir(global)?, 1),
    };
    write_new(&path, &mmc_bundle::unsigned_root(&root), false)?;
    out.status(
        "Created",
        &format!(
            "{} (version 1, unsigned): {} root key(s), {} needed; {} bundle key(s) at epoch 1. \
             Sign it with {} root key(s): mmc root sign {} --key ROOT.key",
            path.display(),
            root.root_keys.len(),
            root.root_threshold,
            root.bundle_keys.len(),
            root.root_threshold,
            path.display()
        ),
    );
    Ok(ExitCode::SUCCESS)
}

fn sign(args: &RootSignArgs, global: &GlobalArgs, out: &Printer) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let root = mmc_bundle::read_unverified(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    // A root key inside the policy repository (or its git work tree) is refused like a bundle key.
    let repo = workspace::find_repo(global.repo.as_deref()).ok();
    let rules = super::key::KeyRules {
        repo: repo.as_deref(),
        expect_key_id: None,
    };
    let key = super::key::load(Some(&args.key), &rules, out)?;
    let id = mmc_bundle::key_id(&key.verifying_key());
    // A key of this version, or of the previous one (whose threshold must also sign).
    let mut allowed: Vec<String> = root.root_keys.iter().map(|k| k.keyid.clone()).collect();
    if root.version > 1 {
        let dir = args.file.parent().unwrap_or(Path::new("."));
        let previous = root_path(dir, root.version - 1);
        let prev_bytes = std::fs::read(&previous).with_context(|| {
            format!(
                "cannot read {} (version {} must sit next to version {} to sign it)",
                previous.display(),
                root.version - 1,
                root.version
            )
        })?;
        let prev = mmc_bundle::read_unverified(&prev_bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", previous.display()))?;
        allowed.extend(prev.root_keys.iter().map(|k| k.keyid.clone()));
    }
    if !allowed.contains(&id) {
        bail!(
            "key {id} is not a root key of version {} or of the version before it; refusing to add a signature no agent would count",
            root.version
        );
    }
    let signed = mmc_bundle::add_signature(&bytes, &key).map_err(|e| anyhow::anyhow!("{e}"))?;
    workspace::write_atomic(&args.file, &signed, 0o644)?;
    out.status(
        "Signed",
        &format!(
            "{} (version {}) with key {id}",
            args.file.display(),
            root.version
        ),
    );
    Ok(ExitCode::SUCCESS)
}

/// The newest `root-N.json` in `dir` (N counted up from 1 without gaps), unverified.
fn newest(dir: &Path) -> Result<(u64, Root)> {
    let mut found = None;
    for version in 1.. {
        let path = root_path(dir, version);
        if !path.exists() {
            break;
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let root = mmc_bundle::read_unverified(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        found = Some((version, root));
    }
    found.with_context(|| {
        format!(
            "{} holds no root-1.json; create one with `mmc root init`",
            dir.display()
        )
    })
}

fn rotate(args: &RootRotateArgs, global: &GlobalArgs, out: &Printer) -> Result<ExitCode> {
    let now = Timestamp::now();
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => trust_dir(global)?,
    };
    let (version, mut root) = newest(&dir)?;
    root.version = version + 1;
    root.expires = expiry(now, &args.expires, "--expires")?;
    for path in &args.add_root_key {
        let key = read_public_key(path)?;
        root.root_keys.push(mmc_bundle::root_key(&key));
    }
    for id in &args.remove_root_key {
        let before = root.root_keys.len();
        root.root_keys.retain(|k| &k.keyid != id);
        if root.root_keys.len() == before {
            bail!("--remove-root-key {id}: version {version} has no such root key");
        }
    }
    if let Some(t) = args.threshold {
        root.root_threshold = t;
    }
    let bundle_expires = expiry(now, &args.bundle_key_expires, "--bundle-key-expires")?;
    let mut new_epoch = None;
    if args.bundle_key.is_empty() {
        // The same keys, with a fresh expiry.
        for k in &mut root.bundle_keys {
            k.expires = bundle_expires.clone();
        }
    } else {
        let epoch = root.bundle_keys.iter().map(|k| k.epoch).max().unwrap_or(0) + 1;
        root.bundle_keys = args
            .bundle_key
            .iter()
            .map(|p| {
                read_public_key(p).map(|k| mmc_bundle::delegated_key(&k, epoch, &bundle_expires))
            })
            .collect::<Result<_>>()?;
        new_epoch = Some(epoch);
    }
    if let Some(t) = args.bundle_threshold {
        root.bundle_threshold = t;
    }
    root.check().map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = root_path(&dir, root.version);
    write_new(&path, &mmc_bundle::unsigned_root(&root), false)?;
    out.status(
        "Created",
        &format!(
            "{} (version {}, unsigned){}. It needs {} signature(s) by version {}'s root keys and {} by its own: \
             mmc root sign {} --key ROOT.key",
            path.display(),
            root.version,
            match new_epoch {
                Some(e) => format!("; bundle keys replaced, epoch {e}"),
                None => "; bundle keys kept".to_owned(),
            },
            newest_threshold(&dir, version)?,
            version,
            root.root_threshold,
            path.display()
        ),
    );
    Ok(ExitCode::SUCCESS)
}

fn newest_threshold(dir: &Path, version: u64) -> Result<usize> {
    let bytes = std::fs::read(root_path(dir, version))?;
    Ok(mmc_bundle::read_unverified(&bytes)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .root_threshold)
}

/// Verifies the chain `root-1.json`, `root-2.json`, … in `dir` as an agent pinned to version 1
/// would walk it. `None` when `dir` has no `root-1.json`. A later version that does not verify
/// (not signed by enough keys yet, say) ends the chain, as it does for agents: the second value
/// says why.
pub fn verify_chain(dir: &Path) -> Result<Option<(TrustedRoot, Option<String>)>> {
    let first = root_path(dir, 1);
    if !first.exists() {
        return Ok(None);
    }
    let bytes =
        std::fs::read(&first).with_context(|| format!("cannot read {}", first.display()))?;
    let mut current =
        TrustedRoot::pinned(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", first.display()))?;
    loop {
        let next = root_path(dir, current.root.version + 1);
        if !next.exists() {
            return Ok(Some((current, None)));
        }
        let bytes =
            std::fs::read(&next).with_context(|| format!("cannot read {}", next.display()))?;
        match current.update(&bytes) {
            Ok(root) => current = root,
            Err(e) => {
                let why = format!(
                    "{}: {e}; agents stay at version {} (see `mmc root status`)",
                    next.display(),
                    current.root.version
                );
                return Ok(Some((current, Some(why))));
            }
        }
    }
}

/// [`verify_chain`] for `build` and `sign`: a version that does not verify yet is a warning (the
/// chain ends before it, as for agents), not an error.
pub fn load_for_signing(dir: &Path, out: &Printer) -> Result<Option<TrustedRoot>> {
    Ok(verify_chain(dir)?.map(|(root, problem)| {
        if let Some(problem) = problem {
            out.warn(&problem);
        }
        root
    }))
}

/// Refuses to sign a bundle that agents on this root would refuse: the key must be one of the
/// newest root's bundle keys, and the bundle must not outlive the key or the root.
pub fn check_bundle_key(root: &TrustedRoot, key_id: &str) -> Result<()> {
    let Some(entry) = root.root.bundle_keys.iter().find(|k| k.keyid == key_id) else {
        bail!(
            "the signing key {key_id} is not a bundle key of root version {} ({}), so agents would refuse the bundles; \
             sign with one of them, or delegate this key with `mmc root rotate --bundle-key KEY.pub`",
            root.root.version,
            root.root
                .bundle_keys
                .iter()
                .map(|k| k.keyid.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let now = Timestamp::now();
    for (what, at) in [("bundle key", &entry.expires), ("root", &root.root.expires)] {
        let at: Timestamp = at.parse().context("root times are checked when loaded")?;
        if now >= at {
            bail!(
                "the {what} expired at {at}; agents refuse everything it signs. Run `mmc root rotate` and have the root key holders sign it"
            );
        }
    }
    Ok(())
}

fn status(dir: Option<&Path>, global: &GlobalArgs, out: &Printer) -> Result<ExitCode> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => trust_dir(global)?,
    };
    let (version, _) = newest(&dir)?;
    let mut report = String::new();
    let mut ok = true;
    let mut previous: Option<Root> = None;
    for v in 1..=version {
        let path = root_path(&dir, v);
        let bytes = std::fs::read(&path)?;
        let root = mmc_bundle::read_unverified(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let signed = mmc_bundle::signature_key_ids(&bytes);
        let count = |keys: &[mmc_bundle::RootKey]| {
            keys.iter().filter(|k| signed.contains(&k.keyid)).count()
        };
        let own = count(&root.root_keys);
        let mut line = format!(
            "root-{v}.json: expires {}; signed by {own} of its {} root key(s), {} needed",
            root.expires,
            root.root_keys.len(),
            root.root_threshold
        );
        ok &= own >= root.root_threshold;
        if let Some(prev) = &previous {
            let old = count(&prev.root_keys);
            line.push_str(&format!(
                "; by {old} of version {}'s, {} needed",
                v - 1,
                prev.root_threshold
            ));
            ok &= old >= prev.root_threshold;
        }
        for k in &root.bundle_keys {
            line.push_str(&format!(
                "\n  bundle key {} epoch {} expires {}",
                k.keyid, k.epoch, k.expires
            ));
        }
        report.push_str(&line);
        report.push('\n');
        previous = Some(root);
    }
    out.stdout(&report);
    if !ok {
        bail!(
            "the chain is not fully signed yet (see above): each version needs the signatures listed"
        );
    }
    // The real check, as an agent does it (strict signatures, not just key ids).
    match verify_chain(&dir)? {
        Some((root, None)) => {
            out.status(
                "Verified",
                &format!("the chain up to version {}", root.root.version),
            );
            Ok(ExitCode::SUCCESS)
        }
        Some((_, Some(why))) => bail!("{why}"),
        None => bail!("{} holds no root-1.json", dir.display()),
    }
}
