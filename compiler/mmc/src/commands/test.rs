use std::process::ExitCode;

use anyhow::Result;
use mmc_compiler::whatif;

use crate::EXIT_ERROR;
use crate::cli::GlobalArgs;
use crate::output::Printer;

/// Exit status when a test case fails (2 stays "error").
const EXIT_FAILED: u8 = 1;

pub fn run(global: &GlobalArgs, out: &Printer) -> Result<ExitCode> {
    let Some(super::Valid {
        root,
        files,
        compiled,
    }) = super::compile_valid(global, out, "testing")?
    else {
        return Ok(ExitCode::from(EXIT_ERROR));
    };
    let mut problems = Vec::new();
    let results = whatif::run_tests(&compiled.tests, &compiled.bundles, &mut problems);
    if !problems.is_empty() {
        out.diagnostics(&problems, &files, &root, false);
    }
    let mut report = String::new();
    for r in &results {
        report.push_str(&format!(
            "test {} ({}) ... {}\n",
            r.name,
            r.file,
            if r.passed() { "ok" } else { "FAILED" }
        ));
        if let Some(e) = &r.error {
            report.push_str(&format!("    {e}\n"));
        }
        for (key, missing, extra) in &r.mismatches {
            report.push_str(&format!("    {key}:\n"));
            for m in missing {
                report.push_str(&format!(
                    "      - {m}    (expected, but the Mac does not get it)\n"
                ));
            }
            for x in extra {
                report.push_str(&format!(
                    "      + {x}    (the Mac gets it, but it is not expected)\n"
                ));
            }
        }
    }
    let failed = results.iter().filter(|r| !r.passed()).count();
    report.push_str(&format!(
        "\n{} passed, {failed} failed\n",
        results.len() - failed
    ));
    out.stdout(&report);
    Ok(if failed > 0 || !problems.is_empty() {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
