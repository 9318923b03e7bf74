use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use mmc_compiler::diag::{self, Diagnostic};
use mmc_compiler::diff::{self, Fleet, Machine, Side, render};
use mmc_compiler::source::FileSet;
use mmc_compiler::whatif::DEFAULT_MANIFEST;

use crate::EXIT_ERROR;
use crate::cli::{DiffArgs, Format, GlobalArgs};
use crate::git::Git;
use crate::output::Printer;
use crate::workspace;

/// Exit status when the revisions compile to different bundles.
const EXIT_CHANGES: u8 = 1;

/// One side, read and compiled.
struct Compiled {
    side: Side,
    files: FileSet,
    problems: Vec<Diagnostic>,
    bundles: Vec<mmc_compiler::BundleOutput>,
}

fn compile(side: Side, files: FileSet, mut problems: Vec<Diagnostic>) -> Compiled {
    let compiled = mmc_compiler::compile(&files);
    problems.extend(compiled.diagnostics);
    Compiled {
        side,
        files,
        problems,
        bundles: compiled.bundles,
    }
}

pub fn run(args: &DiffArgs, global: &GlobalArgs, out: &Printer) -> Result<ExitCode> {
    let root = workspace::find_repo(global.repo.as_deref())?;
    let git = Git::open(&root)?;

    let base_rev = match &args.base {
        Some(spec) => git.resolve(spec)?,
        None => git.default_base()?,
    };
    let mut problems = Vec::new();
    let files = git.files(&base_rev, &mut problems)?;
    let base = compile(
        Side {
            role: "BASE".to_owned(),
            revision: base_rev.name.clone(),
            commit: Some(base_rev.short.clone()),
            version: Some(base_rev.time as u64),
        },
        files,
        problems,
    );

    let mut problems = Vec::new();
    let head = match &args.head {
        Some(spec) => {
            let rev = git.resolve(spec)?;
            let files = git.files(&rev, &mut problems)?;
            compile(
                Side {
                    role: "HEAD".to_owned(),
                    revision: rev.name.clone(),
                    commit: Some(rev.short.clone()),
                    version: Some(rev.time as u64),
                },
                files,
                problems,
            )
        }
        None => {
            let files = workspace::read_files(&root, &mut problems)?;
            // The work tree builds as HEAD's version only while its policies are HEAD's.
            let version = match git.head()? {
                Some(h) if git.files(&h, &mut Vec::new())? == files => Some(h.time as u64),
                _ => None,
            };
            compile(
                Side {
                    role: "HEAD".to_owned(),
                    revision: "work tree".to_owned(),
                    commit: None,
                    version,
                },
                files,
                problems,
            )
        }
    };

    let broken: Vec<&Compiled> = [&base, &head]
        .into_iter()
        .filter(|c| c.problems.iter().any(Diagnostic::is_error))
        .collect();
    if !broken.is_empty() {
        let mut markdown = String::new();
        for c in &broken {
            let errors: Vec<Diagnostic> = c
                .problems
                .iter()
                .filter(|d| d.is_error())
                .cloned()
                .collect();
            let summary = Printer::summary(&errors);
            out.error(&format!(
                "in {}: the policies do not compile ({summary})",
                c.side.label()
            ));
            match out.format {
                Format::Json => out.diagnostics(&errors, &c.files, &root, false),
                _ => out.human_diagnostics(&errors, &c.files),
            }
            if out.format == Format::Markdown {
                let text: String = errors
                    .iter()
                    .map(|d| diag::render_human(d, &c.files, false) + "\n\n")
                    .collect();
                markdown.push_str(&render::markdown_error(&c.side, &summary, &text));
            }
        }
        if !markdown.is_empty() {
            out.stdout(&markdown);
        }
        return Ok(ExitCode::from(EXIT_ERROR));
    }

    let fleet = match &args.facts {
        Some(dir) => Some(read_fleet(
            dir,
            args.manifest.as_deref().unwrap_or(DEFAULT_MANIFEST),
        )?),
        None => None,
    };
    let d = diff::diff(
        base.side,
        &base.bundles,
        head.side,
        &head.bundles,
        fleet.as_ref(),
    );
    match out.format {
        Format::Json => out.stdout(&render::json(&d)),
        Format::Markdown => out.stdout(&render::markdown(&d)),
        Format::Human | Format::Github => out.stdout_styled(&render::human(&d, true)),
    }
    Ok(if d.changed {
        ExitCode::from(EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    })
}

/// Every facts file in `dir` (YAML, JSON or plist; hidden files skipped), one Mac each, named by
/// its file name without the extension.
fn read_fleet(dir: &Path, manifest: &str) -> Result<Fleet> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir)
        .with_context(|| format!("cannot list the facts folder {}", dir.display()))?
    {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if path.is_file()
            && !name.starts_with('.')
            && matches!(
                ext.to_ascii_lowercase().as_str(),
                "yaml" | "yml" | "json" | "plist"
            )
        {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        anyhow::bail!(
            "{} holds no facts files (.yaml, .yml, .json or .plist)",
            dir.display()
        );
    }
    let machines = paths
        .iter()
        .map(|p| {
            Ok(Machine {
                name: p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                facts: super::eval::read_facts(p)?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Fleet {
        manifest: manifest.to_owned(),
        machines,
    })
}
