//! The `mmc` command line: argument parsing, file and git I/O, rendering. No policy semantics
//! live here; they are in `mmc-compiler`.

mod cli;
mod commands;
mod git;
mod output;
mod workspace;

use std::process::ExitCode;

use clap::Parser;

pub use cli::Cli;

/// Exit codes: 0 success, 1 changes found (`mmc diff`) or a test failed (`mmc test`), 2 any error.
pub const EXIT_ERROR: u8 = 2;

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let out = output::Printer::new(&cli.global);
    match commands::run(&cli, &out) {
        Ok(code) => code,
        Err(err) => {
            out.error(&format!("{err:#}"));
            ExitCode::from(EXIT_ERROR)
        }
    }
}
