//! `mmc import`: reads `.mobileconfig` files, converts each with the compiler's pure importer, and
//! writes the YAML sources, all or nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use mmc_compiler::import::{Imported, Options, import};
use mmc_compiler::load::{PROFILES_DIR, REPO_FILE};
use mmc_compiler::syntax::model::RepoFile;

use crate::cli::{GlobalArgs, ImportArgs};
use crate::output::Printer;
use crate::workspace;

/// Largest `.mobileconfig` read: profiles are small; a larger file is not one.
const MAX_INPUT_BYTES: u64 = 16 << 20;

pub fn run(args: &ImportArgs, global: &GlobalArgs, out: &Printer) -> Result<ExitCode> {
    // The repository gives the default folder and the organization name that need not be
    // repeated; with --out, a repository is optional.
    let repo = match (&args.out, workspace::find_repo(global.repo.as_deref())) {
        (_, Ok(root)) => Some(root),
        (Some(_), Err(_)) if global.repo.is_none() => None,
        (_, Err(e)) => {
            return Err(e.context("`mmc import` writes into a policy repository's profiles/; pass --out DIR to write elsewhere"));
        }
    };
    let dir = match (&args.out, &repo) {
        (Some(dir), _) => dir.clone(),
        (None, Some(root)) => root.join(PROFILES_DIR),
        (None, None) => unreachable!("a repository was found, or --out given"),
    };
    let org_name = repo.as_deref().and_then(org_name);

    let mut converted: Vec<(PathBuf, Imported)> = Vec::new();
    let mut failed = false;
    for file in &args.files {
        let source = file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let bytes = read_input(file)?;
        let options = Options {
            source: &source,
            org_name: org_name.as_deref(),
            keep_uuids: args.keep_uuids,
        };
        match import(&bytes, &options) {
            Ok(imported) => converted.push((file.clone(), imported)),
            Err(e) => {
                out.error(&format!("cannot import {}: {}", file.display(), e.message));
                failed = true;
            }
        }
    }
    if failed {
        bail!("nothing was written");
    }

    // Two inputs for one file, or one profile twice: mmc would refuse the repository.
    let mut by_name: BTreeMap<String, &Path> = BTreeMap::new();
    let mut by_identifier: BTreeMap<&str, &Path> = BTreeMap::new();
    for (file, imported) in &converted {
        if let Some(first) = by_identifier.insert(&imported.identifier, file) {
            bail!(
                "{} and {} are the same profile (identifier `{}`); import one of them. Nothing was written",
                first.display(),
                file.display(),
                imported.identifier
            );
        }
        if let Some(first) = by_name.insert(imported.file_name.to_lowercase(), file) {
            bail!(
                "{} and {} would both be written to {}; import them one at a time and rename the first. Nothing was written",
                first.display(),
                file.display(),
                dir.join(&imported.file_name).display()
            );
        }
    }
    if !args.force {
        let existing: Vec<String> = converted
            .iter()
            .map(|(_, i)| dir.join(&i.file_name))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            bail!(
                "{} already exist{}; pass --force to overwrite, or move {} away. Nothing was written",
                existing.join(", "),
                if existing.len() == 1 { "s" } else { "" },
                if existing.len() == 1 { "it" } else { "them" }
            );
        }
    }

    // Every file in full first, then the renames: a failure leaves no half-written file.
    let mut staged = Vec::new();
    for (_, imported) in &converted {
        let dest = dir.join(&imported.file_name);
        staged.push((
            workspace::stage(&dest, imported.yaml.as_bytes(), 0o644)?,
            dest,
        ));
    }
    for ((stage, dest), (file, imported)) in staged.into_iter().zip(&converted) {
        stage.commit()?;
        for w in &imported.warnings {
            out.warn(w);
        }
        out.status(
            "Imported",
            &format!("{} → {}", file.display(), dest.display()),
        );
    }
    out.status(
        "Review",
        &format!(
            "the file{}, then run `mmc check`{}",
            if converted.len() == 1 { "" } else { "s" },
            if args.keep_uuids {
                ""
            } else {
                " (without --keep-uuids, Macs that already have these profiles reinstall them)"
            }
        ),
    );
    Ok(ExitCode::SUCCESS)
}

fn read_input(file: &Path) -> Result<Vec<u8>> {
    let meta =
        std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    if !meta.is_file() {
        bail!("{} is not a file", file.display());
    }
    if meta.len() > MAX_INPUT_BYTES {
        bail!(
            "{} is larger than {} MiB; it is not a configuration profile",
            file.display(),
            MAX_INPUT_BYTES >> 20
        );
    }
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

/// `org.name` from the repository's mmc.yaml, when it reads (`mmc check` reports it otherwise).
fn org_name(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join(REPO_FILE)).ok()?;
    let mut diags = Vec::new();
    let repo: RepoFile = mmc_compiler::syntax::parse(REPO_FILE, &text, &mut diags)?;
    Some(repo.org.name.value)
}
