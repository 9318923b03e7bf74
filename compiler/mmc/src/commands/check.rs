use std::process::ExitCode;

use anyhow::Result;

use crate::EXIT_ERROR;
use crate::cli::GlobalArgs;
use crate::output::Printer;
use crate::workspace;

pub fn run(global: &GlobalArgs, out: &Printer) -> Result<ExitCode> {
    let root = workspace::find_repo(global.repo.as_deref())?;
    let mut diags = Vec::new();
    let files = workspace::read_files(&root, &mut diags)?;
    let compiled = mmc_compiler::compile(&files);
    diags.extend(compiled.diagnostics);
    out.diagnostics(&diags, &files, &root, true);
    let count = files.iter().count();
    if diags.iter().any(|d| d.is_error()) {
        out.error(&format!("{} in {count} files", Printer::summary(&diags)));
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    out.status(
        "Checked",
        &format!(
            "{count} files, {} bundles: {}",
            compiled.bundles.len(),
            Printer::summary(&diags)
        ),
    );
    Ok(ExitCode::SUCCESS)
}
