mod build;

pub use build::KEY_ENV;
mod check;
mod eval;
mod init;
mod keygen;
mod schema;
mod test;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::output::Printer;

pub fn run(cli: &Cli, out: &Printer) -> Result<ExitCode> {
    match &cli.command {
        Command::Init(args) => init::run(args, out),
        Command::Check => check::run(&cli.global, out),
        Command::Build(args) => build::run(args, &cli.global, out),
        Command::Keygen(args) => keygen::run(args, out),
        Command::Eval(args) => eval::run(args, &cli.global, out),
        Command::Test => test::run(&cli.global, out),
        Command::Schema(args) => schema::run(args, out),
    }
}
