//! Reading the private signing key (`--key FILE` or `$MMC_SIGNING_KEY`), with the checks that
//! keep it from leaking (security.md §6.4): every check on a key file runs before a byte of it
//! is read, and the key is compared with the id the caller expects before anything is signed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::build::KEY_ENV;
use crate::output::Printer;
use crate::workspace;

/// What the caller knows about where the key must not be and which key it must be.
#[derive(Default)]
pub(super) struct KeyRules<'a> {
    /// The policy repository: a key file inside it, or inside the git work tree holding it, is
    /// refused (ignored or not: the build reads this tree, and one `git add -f` publishes it).
    pub repo: Option<&'a Path>,
    /// `--expect-key-id`: the key must have this id.
    pub expect_key_id: Option<&'a str>,
}

/// Loads the signing key from `path`, else from `$MMC_SIGNING_KEY`, and checks it against
/// `rules`.
pub(super) fn load(
    path: Option<&Path>,
    rules: &KeyRules<'_>,
    out: &Printer,
) -> Result<mmc_bundle::SigningKey> {
    if let Some(expected) = rules.expect_key_id
        && !(expected.len() == 64
            && expected
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    {
        bail!(
            "--expect-key-id {expected:?} is not a key id: give the 64 lowercase hex digits `mmc keygen` printed (the signature's keyid)"
        );
    }
    let (text, origin) = match path {
        Some(given) => {
            let path = check_key_file(given, rules.repo, out)?;
            let text = Wiped(
                std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read the signing key {}", path.display()))?,
            );
            (text, path.display().to_string())
        }
        None => match std::env::var(KEY_ENV) {
            Ok(text) if !text.trim().is_empty() && !text.contains("-----BEGIN") => bail!(
                "{KEY_ENV} must hold the PEM text of the key (\"-----BEGIN PRIVATE KEY-----…\"), not a file name; \
                 to use a key file, pass --key FILE"
            ),
            Ok(text) if !text.trim().is_empty() => (Wiped(text), format!("${KEY_ENV}")),
            _ => bail!(
                "no signing key: pass --key FILE or set {KEY_ENV} to the PEM text of the key. \
                 `mmc keygen --out PREFIX` creates a key pair"
            ),
        },
    };
    let key = mmc_bundle::parse_signing_key(&text.0)
        .with_context(|| format!("{origin} is not an ed25519 private key in PKCS#8 PEM form"))?;
    if let Some(expected) = rules.expect_key_id {
        let actual = mmc_bundle::key_id(&key.verifying_key());
        if actual != expected {
            bail!(
                "key id mismatch: {origin} is key {actual}, but --expect-key-id is {expected}; \
                 nothing was signed. Use the key with that id, or correct --expect-key-id"
            );
        }
    }
    Ok(key)
}

/// The checks on a key file, on its path and metadata only. Returns the file's real path (a
/// link is judged by what it points to).
pub(super) fn check_key_file(given: &Path, repo: Option<&Path>, out: &Printer) -> Result<PathBuf> {
    let path = std::fs::canonicalize(given)
        .with_context(|| format!("cannot read the signing key {}", given.display()))?;
    if workspace::is_tracked_by_git(&path)? {
        bail!(
            "refusing to use {}: git tracks this file, so the private key is (or will be) committed. \
             Remove it from git (`git rm --cached`), rotate the key, and keep keys outside the repository",
            path.display()
        );
    }
    if let Some(repo) = repo {
        let repo = std::fs::canonicalize(repo).unwrap_or_else(|_| repo.to_owned());
        let tree = workspace::work_tree_top(&repo).unwrap_or_else(|| repo.clone());
        for (dir, what) in [
            (&repo, "the policy repository"),
            (&tree, "its git work tree"),
        ] {
            if path.starts_with(dir) {
                bail!(
                    "refusing to use {}: it is inside {what} {}, where a build reads and a commit \
                     takes files. Move the key out (e.g. to ~/.mmc/), and rotate it if it was ever \
                     committed or pushed",
                    path.display(),
                    dir.display()
                );
            }
        }
    }
    check_key_permissions(&path)?;
    if workspace::is_inside_repo_unignored(&path) {
        out.warn(&format!(
            "{} is inside a git work tree and not ignored; add it to .gitignore",
            path.display()
        ));
    }
    Ok(path)
}

fn check_key_permissions(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read the signing key {}", path.display()))?;
    if !meta.is_file() {
        bail!("the signing key {} is not a regular file", path.display());
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "the signing key {} is readable by other users (mode {mode:04o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

/// The key's PEM text, overwritten with zeros before its memory is freed (the `SigningKey`
/// wipes itself: ed25519-dalek's `zeroize` feature). `black_box` keeps the writes from being
/// optimized away as dead stores. Best effort: buffers the text passed through while it was
/// read (and the environment's own copy) are not reached.
struct Wiped(String);

impl Drop for Wiped {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}
