//! `mmc sign`: sign what `mmc build --unsigned` wrote. Reads archives and statements only, never a
//! policy file or a template, so a CI job holding the key runs no repository-controlled input
//! through the compiler.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::cli::{Format, GlobalArgs, SignArgs};
use crate::output::Printer;
use crate::workspace;

/// Version of the `.statement.json` layout.
pub const TO_SIGN_FORMAT: u32 = 1;

/// `NAME-VERSION.tar.gz.statement.json`: the statement to sign (its `key_id` empty) and the key
/// ids the repository trusts.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToSign {
    pub format: u32,
    pub statement: mmc_bundle::Statement,
    pub trusted_keys: Vec<String>,
}

const SUFFIX: &str = ".statement.json";

pub fn statement_path(archive: &Path) -> PathBuf {
    let mut s = archive.as_os_str().to_owned();
    s.push(SUFFIX);
    PathBuf::from(s)
}

/// Agents refuse a bundle signed by a key the repository does not list (when it lists any).
pub fn check_trusted(key_id: &str, trusted: &[String], bundle: &str) -> Result<()> {
    if !trusted.is_empty() && !trusted.iter().any(|k| k == key_id) {
        bail!(
            "the signing key {key_id} is not in mmc.yaml's signing.trusted_keys, so agents would refuse bundle `{bundle}`; \
             sign with a listed key, or add this key id to trusted_keys (and roll it out to agents) first"
        );
    }
    Ok(())
}

#[derive(Serialize)]
struct SignReport {
    version: u32,
    key_id: String,
    bundles: Vec<Signed>,
}

#[derive(Serialize)]
struct Signed {
    name: String,
    version: u64,
    path: String,
    signature: String,
    sha256: String,
}

pub fn run(args: &SignArgs, global: &GlobalArgs, out: &Printer) -> Result<ExitCode> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => workspace::find_repo(global.repo.as_deref())?.join("build/bundles"),
    };
    let mut statements = Vec::new();
    for entry in
        std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
    {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(&format!(".tar.gz{SUFFIX}")))
        {
            statements.push(path);
        }
    }
    statements.sort();
    if statements.is_empty() {
        bail!(
            "{} holds no *.tar.gz{SUFFIX} files; `mmc build --unsigned` writes them",
            dir.display()
        );
    }

    // The repository (when there is one here) is where the key must not be.
    let repo = workspace::find_repo(global.repo.as_deref()).ok();
    let rules = super::key::KeyRules {
        repo: repo.as_deref(),
        expect_key_id: args.expect_key_id.as_deref(),
    };
    let key = super::key::load(args.key.as_deref(), &rules, out)?;
    let key_id = mmc_bundle::key_id(&key.verifying_key());
    // `mmc build --unsigned` copies the repository's root documents next to the bundles.
    let trust_root = super::root::load_for_signing(&dir, out)?;
    let mut report = SignReport {
        version: 1,
        key_id: key_id.clone(),
        bundles: Vec::new(),
    };
    // Check and sign everything in memory first, so a failure writes nothing.
    let mut staged = Vec::new();
    for path in &statements {
        let shown = path.display();
        let text = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
        let to_sign: ToSign = serde_json::from_slice(&text).with_context(|| {
            format!("{shown} is not a statement written by `mmc build --unsigned`")
        })?;
        if to_sign.format != TO_SIGN_FORMAT
            || to_sign.statement.format != mmc_bundle::FORMAT_VERSION
        {
            bail!("{shown} has a layout this mmc does not sign; use the mmc that built it");
        }
        let mut statement = to_sign.statement;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(SUFFIX))
            .unwrap_or_default();
        if statement.archive.file != name {
            bail!(
                "{shown} describes the archive `{}`, not `{name}` next to it",
                statement.archive.file
            );
        }
        let archive_path = dir.join(name);
        let archive = std::fs::read(&archive_path)
            .with_context(|| format!("cannot read the archive {}", archive_path.display()))?;
        if mmc_bundle::ArchiveRef::of(name, &archive) != statement.archive {
            bail!(
                "{} is not the archive its statement describes (length or SHA-256 differ); rebuild instead of editing bundles",
                archive_path.display()
            );
        }
        check_trusted(&key_id, &to_sign.trusted_keys, &statement.name)?;
        if let Some(trust_root) = &trust_root {
            super::root::check_bundle_key(trust_root, &key_id)?;
        }
        statement.key_id = key_id.clone();
        let envelope = mmc_bundle::sign(&statement, &key);
        let sig = super::build::signature_path(&archive_path);
        if let Ok(existing) = std::fs::read(&sig)
            && existing != envelope
        {
            bail!(
                "{} already exists with another signature; a version is signed once",
                sig.display()
            );
        }
        staged.push(workspace::stage(&sig, &envelope, 0o644)?);
        report.bundles.push(Signed {
            name: statement.name.clone(),
            version: statement.version,
            path: archive_path.display().to_string(),
            signature: sig.display().to_string(),
            sha256: statement.archive.sha256.clone(),
        });
    }
    for s in staged {
        s.commit()?;
    }
    for b in &report.bundles {
        out.status(
            "Signed",
            &format!("{} version {} → {}", b.name, b.version, b.signature),
        );
    }
    out.status("Key", &key_id);
    if out.format == Format::Json {
        out.stdout(&(serde_json::to_string_pretty(&report)? + "\n"));
    }
    Ok(ExitCode::SUCCESS)
}
