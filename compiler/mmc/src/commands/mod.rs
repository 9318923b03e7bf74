mod build;

pub use build::KEY_ENV;
mod check;
mod diff;
mod eval;
mod import;
mod init;
mod key;
mod keygen;
mod root;
mod schema;
mod sign;
mod sign_profiles;
mod test;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::output::Printer;

pub fn run(cli: &Cli, out: &Printer) -> Result<ExitCode> {
    match &cli.command {
        Command::Init(args) => init::run(args, out),
        Command::Import(args) => import::run(args, &cli.global, out),
        Command::Check => check::run(&cli.global, out),
        Command::Build(args) => build::run(args, &cli.global, out),
        Command::Keygen(args) => keygen::run(args, out),
        Command::Diff(args) => diff::run(args, &cli.global, out),
        Command::Sign(args) => sign::run(args, &cli.global, out),
        Command::Root(args) => root::run(args, &cli.global, out),
        Command::Eval(args) => eval::run(args, &cli.global, out),
        Command::Test => test::run(&cli.global, out),
        Command::Schema(args) => schema::run(args, out),
    }
}

/// Finds, reads and compiles the policy repository for a command that needs valid policies
/// (`eval`, `test`). When the policies have errors, prints them and returns `None`.
fn compile_valid(
    global: &crate::cli::GlobalArgs,
    out: &Printer,
    purpose: &str,
) -> Result<Option<Valid>> {
    let root = crate::workspace::find_repo(global.repo.as_deref())?;
    let mut diags = Vec::new();
    let files = crate::workspace::read_files(&root, &mut diags)?;
    let mut compiled = mmc_compiler::compile(&files);
    diags.append(&mut compiled.diagnostics);
    if diags.iter().any(|d| d.is_error()) {
        out.diagnostics(&diags, &files, &root, false);
        out.error(&format!(
            "the policies have errors ({}); fix them before {purpose}",
            Printer::summary(&diags)
        ));
        return Ok(None);
    }
    Ok(Some(Valid {
        root,
        files,
        compiled,
    }))
}

/// A repository whose policies compiled without errors.
struct Valid {
    root: std::path::PathBuf,
    files: mmc_compiler::source::FileSet,
    compiled: mmc_compiler::Compiled,
}
