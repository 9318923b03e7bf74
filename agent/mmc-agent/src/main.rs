//! `mmc-agent`: runs on each Mac. Today it verifies signed bundles and evaluates conditions
//! against facts; later it converges the machine to them. Exit status 0 on success, 1 for a
//! false condition, 2 on any failure.

use std::process::ExitCode;

mod condition;
mod facts;
mod verify;

const HELP: &str = "\
mmc-agent - verifies signed mmc bundles on this Mac (and, later, applies them)

Usage: mmc-agent <COMMAND> [OPTIONS]

Commands:
  verify       Check a bundle's signature, expiry and contents without changing anything
  condition    Evaluate a condition (Munki's NSPredicate format) against this machine's
               facts or a facts file; prints true or false
  facts        Print the facts this agent gathers on this machine, as JSON or a plist

Options:
  -h, --help       Print this help (`mmc-agent COMMAND --help` for a command's own help)
  -V, --version    Print the version and the bundle format it understands

Exit status:
  0  success (`condition`: the condition is true)
  1  `condition` only: the condition is false
  2  any failure, bad usage included; the reason is printed to stderr as
     `mmc-agent: error: <reason>`
";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(reason) => {
            eprintln!("mmc-agent: error: {reason}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    match parser.next().map_err(usage)? {
        Some(Short('h') | Long("help")) => {
            print!("{HELP}");
            Ok(ExitCode::SUCCESS)
        }
        Some(Short('V') | Long("version")) => {
            println!(
                "mmc-agent {} (bundle format {})",
                env!("CARGO_PKG_VERSION"),
                mmc_bundle::FORMAT_VERSION
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Value(command)) if command == "verify" => {
            verify::run(parser).map(|()| ExitCode::SUCCESS)
        }
        Some(Value(command)) if command == "condition" => condition::run(parser),
        Some(Value(command)) if command == "facts" => facts::run(parser),
        Some(Value(command)) => Err(format!(
            "unknown command {:?} (try `mmc-agent --help`)",
            command.to_string_lossy()
        )),
        Some(other) => Err(usage(other.unexpected())),
        None => Err("no command given (try `mmc-agent --help`)".to_owned()),
    }
}

/// A command-line parsing error, with a pointer to the help.
pub(crate) fn usage(error: lexopt::Error) -> String {
    format!("{error} (try `mmc-agent --help`)")
}
