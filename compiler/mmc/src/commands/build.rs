use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use mmc_compiler::Stamp;
use serde::Serialize;

use crate::EXIT_ERROR;
use crate::cli::{BuildArgs, GlobalArgs};
use crate::output::Printer;
use crate::workspace;

/// Environment variable holding the PEM private key, for CI secrets.
pub const KEY_ENV: &str = "MMC_SIGNING_KEY";

#[derive(Serialize)]
struct BuildReport {
    version: u32,
    /// Absent for `--unsigned`.
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    bundles: Vec<BundleReport>,
    /// What `build/mdm/` received; absent when there is nothing for an MDM.
    #[serde(skip_serializing_if = "Option::is_none")]
    mdm: Option<MdmReport>,
}

#[derive(Serialize)]
struct MdmReport {
    dir: String,
    /// Paths below `dir`.
    files: Vec<String>,
    /// Update policies without Nudge or DDM files, and why.
    notes: Vec<String>,
}

#[derive(Serialize)]
struct BundleReport {
    name: String,
    track: String,
    audience: String,
    path: String,
    /// The envelope (`.sig`), or for `--unsigned` the statement to sign (`.statement.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statement: Option<String>,
    version: u64,
    sha256: String,
    size: u64,
    created: String,
    expires: String,
    files: usize,
}

pub fn run(args: &BuildArgs, global: &GlobalArgs, out: &Printer) -> Result<ExitCode> {
    let root = workspace::find_repo(global.repo.as_deref())?;
    let mut diags = Vec::new();
    let files = workspace::read_files(&root, &mut diags)?;
    let compiled = mmc_compiler::compile(&files);
    diags.extend(compiled.diagnostics);
    out.diagnostics(&diags, &files, &root, false);
    if diags.iter().any(|d| d.is_error()) {
        out.error(&format!(
            "could not build: {}; nothing was written",
            Printer::summary(&diags)
        ));
        return Ok(ExitCode::from(EXIT_ERROR));
    }

    let key = if args.unsigned {
        None
    } else {
        let rules = super::key::KeyRules {
            repo: Some(&root),
            expect_key_id: args.expect_key_id.as_deref(),
        };
        Some(super::key::load(args.key.as_deref(), &rules, out)?)
    };
    let key_id = key.as_ref().map(|k| mmc_bundle::key_id(&k.verifying_key()));
    // The root of trust (trust/root-N.json): verified as an agent walks it, shipped next to the
    // bundles so agents can follow rotations, and the signing key must be one it delegates to.
    let trust_dir = root.join(super::root::TRUST_DIR);
    let trust_root = super::root::load_for_signing(&trust_dir, out)?;
    if let (Some(trust_root), Some(key_id)) = (&trust_root, &key_id) {
        super::root::check_bundle_key(trust_root, key_id)?;
    }
    let stamp = stamp(&root, &files, out)?;
    let out_dir = args.out.clone().unwrap_or_else(|| root.join("build"));
    let bundle_dir = out_dir.join("bundles");

    // Package everything in memory first, so a failure writes nothing.
    let mut packaged = Vec::new();
    for b in &compiled.bundles {
        let unsigned = mmc_compiler::archive(b, stamp)
            .with_context(|| format!("cannot package bundle `{}`", b.name))?;
        let p = match (&key, &key_id) {
            (Some(key), Some(key_id)) => {
                super::sign::check_trusted(key_id, &b.trusted_keys, &b.name)?;
                let p = mmc_compiler::sign(unsigned, key);
                Written {
                    file_name: p.file_name,
                    archive: p.archive,
                    companion: p.envelope,
                    statement: p.statement,
                }
            }
            _ => {
                // The statement to sign, and what `mmc sign` must check: the trusted keys.
                let to_sign = super::sign::ToSign {
                    format: super::sign::TO_SIGN_FORMAT,
                    statement: unsigned.statement.clone(),
                    trusted_keys: b.trusted_keys.clone(),
                };
                let mut companion = serde_json::to_vec_pretty(&to_sign)?;
                companion.push(b'\n');
                Written {
                    file_name: unsigned.file_name,
                    archive: unsigned.archive,
                    companion,
                    statement: unsigned.statement,
                }
            }
        };
        packaged.push((b, p));
    }
    // Next to each archive: its envelope, or (unsigned) its statement to sign.
    let companion = |archive: &Path| {
        if args.unsigned {
            super::sign::statement_path(archive)
        } else {
            signature_path(archive)
        }
    };

    let mdm_dir = out_dir.join("mdm");
    let mdm = &compiled.mdm;
    // Profiles and update files always; the Fleet fragments with --fleet.
    let mut mdm_files = mdm.files.clone();
    if args.fleet {
        mdm_files.extend(mdm.fleet.clone());
    }
    // Signed copies for the MDM, when asked: every .mobileconfig of build/mdm/.
    let profile_signer = super::sign_profiles::ProfileSigner::from_args(args, &root, out)?;
    if let Some(signer) = &profile_signer {
        for (rel, bytes) in mdm_files.iter_mut() {
            if rel.ends_with(".mobileconfig") {
                *bytes = signer.sign(bytes, rel)?;
            }
        }
    }
    let mut report = BuildReport {
        version: 1,
        key_id: key_id.clone(),
        bundles: Vec::new(),
        mdm: (!mdm.files.is_empty() || !mdm.notes.is_empty()).then(|| MdmReport {
            dir: mdm_dir.display().to_string(),
            files: mdm_files.keys().cloned().collect(),
            notes: mdm.notes.clone(),
        }),
    };
    // A version names one content forever: replacing a bundle with other bytes under the same
    // name would let two Macs hold different "version N" bundles. Rebuilding a commit is a no-op.
    for (_, p) in &packaged {
        let path = bundle_dir.join(&p.file_name);
        if let Ok(existing) = std::fs::read(&path)
            && existing != p.archive
        {
            bail!(
                "{} already exists with different content: this version was built before from other policies. \
                 Commit your changes (each commit gets a new version); if the old bundle was never published, delete it",
                path.display()
            );
        }
    }
    // Stage every file before renaming any, so a failure (a full disk) leaves no partial set.
    let mut staged = Vec::new();
    for (_, p) in &packaged {
        let path = bundle_dir.join(&p.file_name);
        staged.push(workspace::stage(&path, &p.archive, 0o644)?);
        staged.push(workspace::stage(&companion(&path), &p.companion, 0o644)?);
    }
    if let Some(trust_root) = &trust_root {
        for version in 1..=trust_root.root.version {
            let from = super::root::root_path(&trust_dir, version);
            let bytes =
                std::fs::read(&from).with_context(|| format!("cannot read {}", from.display()))?;
            staged.push(workspace::stage(
                &super::root::root_path(&bundle_dir, version),
                &bytes,
                0o644,
            )?);
        }
    }
    // The MDM files are not versioned: each build replaces them, with the same bytes when the
    // policies are the same.
    for (rel, bytes) in &mdm_files {
        staged.push(workspace::stage(&mdm_dir.join(rel), bytes, 0o644)?);
    }
    // Archives land before their envelopes: an archive without its envelope is refused by agents.
    for s in staged {
        s.commit()?;
    }
    remove_stale_mdm_files(&mdm_dir, &mdm_files)?;
    for (b, p) in &packaged {
        let path = bundle_dir.join(&p.file_name);
        let sig = companion(&path);
        out.status(
            "Built",
            &format!(
                "{} version {} → {} (sha256 {}…)",
                b.name,
                p.statement.version,
                path.display(),
                &p.statement.archive.sha256[..12]
            ),
        );
        report.bundles.push(BundleReport {
            name: b.name.clone(),
            track: b.track.clone(),
            audience: b.audience.clone(),
            path: path.display().to_string(),
            signature: (!args.unsigned).then(|| sig.display().to_string()),
            statement: args.unsigned.then(|| sig.display().to_string()),
            version: p.statement.version,
            sha256: p.statement.archive.sha256.clone(),
            size: p.statement.archive.length,
            created: p.statement.created.clone(),
            expires: p.statement.expires.clone(),
            files: b.files.len() + 1,
        });
    }
    let policies: std::collections::BTreeSet<&str> = mdm
        .files
        .keys()
        .filter_map(|rel| rel.strip_prefix(&format!("{}/", mmc_compiler::mdm::UPDATES_DIR)))
        .filter_map(|name| {
            mmc_compiler::mdm::UPDATE_SUFFIXES
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
        })
        .collect();
    for policy in policies {
        out.status(
            "Wrote",
            &format!(
                "Nudge and DDM files for update policy {policy} → {}",
                mdm_dir
                    .join(mmc_compiler::mdm::UPDATES_DIR)
                    .join(format!("{policy}.*"))
                    .display()
            ),
        );
    }
    let profiles = mdm
        .files
        .keys()
        .filter(|rel| rel.starts_with(&format!("{}/", mmc_compiler::mdm::profiles::PROFILES_DIR)))
        .count();
    if profiles > 0 {
        out.status(
            "Wrote",
            &format!(
                "{profiles} {}configuration profile{} for an MDM → {}",
                if profile_signer.is_some() {
                    "signed "
                } else {
                    ""
                },
                if profiles == 1 { "" } else { "s" },
                mdm_dir
                    .join(mmc_compiler::mdm::profiles::PROFILES_DIR)
                    .display()
            ),
        );
    }
    if args.fleet {
        for rel in mdm.fleet.keys() {
            out.status(
                "Wrote",
                &format!("Fleet GitOps controls → {}", mdm_dir.join(rel).display()),
            );
        }
    }
    for note in &mdm.notes {
        out.status("Note", note);
    }
    match &key_id {
        Some(key_id) => out.status("Signed", &format!("with key {key_id}")),
        None => out.status(
            "Unsigned",
            &format!(
                "sign with `mmc sign {}` where the key is",
                bundle_dir.display()
            ),
        ),
    }
    if out.format == crate::cli::Format::Json {
        out.stdout(&(serde_json::to_string_pretty(&report)? + "\n"));
    }
    Ok(ExitCode::SUCCESS)
}

/// Removes what an earlier build wrote under `build/mdm/` and this one did not, so that it matches
/// the policies: the update enforcement files of `updates/` (of policies deleted, renamed or no
/// longer requiring a macOS version by a deadline), the `.mobileconfig` files of `profiles/` and
/// its bundle folders (and those folders once empty), and the Fleet fragments (`.yml`) of `fleet/`
/// and `fleet/bundles/`. Other files are left alone.
fn remove_stale_mdm_files(
    mdm_dir: &Path,
    written: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Result<()> {
    use mmc_compiler::mdm::profiles::{FLEET_BUNDLES_DIR, FLEET_DIR, PROFILES_DIR};
    use mmc_compiler::mdm::{UPDATE_SUFFIXES, UPDATES_DIR};
    // Each folder (relative to mdm_dir), the suffixes of the files a build writes there, and
    // whether its subfolders hold such files too.
    for (rel, suffixes, nested) in [
        (UPDATES_DIR, &UPDATE_SUFFIXES[..], false),
        (PROFILES_DIR, &[".mobileconfig"][..], true),
        (FLEET_DIR, &[".yml"][..], false),
        (FLEET_BUNDLES_DIR, &[".yml"][..], false),
    ] {
        remove_stale_in(mdm_dir, rel, suffixes, nested, written)?;
    }
    // Folders left empty go too (remove_dir removes only empty ones).
    for rel in [FLEET_BUNDLES_DIR, FLEET_DIR, PROFILES_DIR] {
        let _ = std::fs::remove_dir(mdm_dir.join(rel));
    }
    Ok(())
}

fn remove_stale_in(
    mdm_dir: &Path,
    rel: &str,
    suffixes: &[&str],
    nested: bool,
    written: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Result<()> {
    let dir = mdm_dir.join(rel);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type()?;
        if kind.is_file()
            && suffixes.iter().any(|s| name.ends_with(s))
            && !written.contains_key(&format!("{rel}/{name}"))
        {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
        } else if kind.is_dir() && nested {
            remove_stale_in(mdm_dir, &format!("{rel}/{name}"), suffixes, false, written)?;
            // Gone when nothing else is left in it.
            let _ = std::fs::remove_dir(entry.path());
        }
    }
    Ok(())
}

/// A bundle ready to write: its archive and, next to it, its envelope or (`--unsigned`) the
/// statement to sign.
struct Written {
    file_name: String,
    archive: Vec<u8>,
    companion: Vec<u8>,
    statement: mmc_bundle::Statement,
}

pub fn signature_path(archive: &Path) -> PathBuf {
    let mut s = archive.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

/// The version and creation time of this build: `SOURCE_DATE_EPOCH`, else the committer time of
/// HEAD, else (not a git repository) the newest policy file's modification time.
fn stamp(root: &Path, files: &mmc_compiler::source::FileSet, out: &Printer) -> Result<Stamp> {
    if let Ok(s) = std::env::var("SOURCE_DATE_EPOCH") {
        let t: i64 = s.trim().parse().ok().filter(|t| *t > 0).with_context(|| {
            format!("SOURCE_DATE_EPOCH={s} is not a positive number of seconds")
        })?;
        return Ok(Stamp {
            version: t as u64,
            created: t,
        });
    }
    if let Some(t) = workspace::head_commit_time(root).filter(|t| *t > 0) {
        if workspace::has_uncommitted_policy_changes(root) {
            out.warn("policy files have uncommitted changes: this build carries HEAD's version but not HEAD's content; commit before publishing");
        }
        return Ok(Stamp {
            version: t as u64,
            created: t,
        });
    }
    let newest = files
        .iter()
        .filter_map(|(rel, _)| std::fs::metadata(root.join(rel)).ok()?.modified().ok())
        .max()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .context("cannot determine a build time: not a git repository and no policy file has a modification time")?;
    out.warn("not a git repository with a commit: the bundle version is the newest policy file's modification time, so it is not reproducible");
    Ok(Stamp {
        version: newest as u64,
        created: newest,
    })
}
