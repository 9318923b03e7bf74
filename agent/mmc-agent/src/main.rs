//! `mmc-agent`: runs on each Mac. It verifies signed bundles and converges the Mac to them by
//! Munki's rules; it also evaluates conditions and prints facts. Exit status 0 on success, 1 for
//! failed items (`run`) or a false condition, 2 when it could not run.

use std::process::ExitCode;

mod apply;
mod condition;
mod daemon;
mod facts;
mod failpoint;
mod installed;
mod interactive;
mod log;
mod platform;
mod profiles;
mod report;
mod run;
mod script;
mod settings;
mod state;
mod status;
mod trust;
mod updates;
mod verify;

const HELP: &str = "\
mmc-agent - verifies signed mmc bundles and converges this Mac to them

Usage: mmc-agent <COMMAND> [OPTIONS]

Commands:
  run             Verify a bundle and converge this Mac to it (--check: only show the plan)
  status          The last run: bundle, version, every item's result; is a run under way
  updates         Enforce the Apple software updates the bundle requires: prompt, let the
                  user defer until the deadline, then install and restart
  profiles        List the configuration profiles (installed, missing, outdated, needing an
                  MDM); on macOS 10.15 and earlier install or remove mmc's own
  interactive     List the bundle's items and apply the ones you pick (logged with your name)
  log             `log flush` empties the log; `log pull` copies it to your Desktop
  install-daemon  Install the LaunchDaemon that runs `mmc-agent run` every 30 minutes
  verify          Check a bundle's signature, expiry and contents without changing anything
  condition       Evaluate a condition (Munki's NSPredicate format) against this machine's
                  facts or a facts file; prints true or false
  facts           Print the facts this agent gathers on this machine, as JSON or a plist

Options:
  -h, --help       Print this help (`mmc-agent COMMAND --help` for a command's own help)
  -V, --version    Print the version and the bundle format it understands

Exit status:
  0  success (`run`: converged; `condition`: the condition is true)
  1  `run`: some items failed (the others were applied); `condition`: false
  2  could not run: bad usage, a bundle that does not verify, …; the reason is
     printed to stderr as `mmc-agent: error: <reason>`
  75 `run`: another run holds the lock (EX_TEMPFAIL); try again later
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
        Some(Value(command)) if command == "run" => run::run(parser),
        Some(Value(command)) if command == "interactive" => interactive::run(parser),
        Some(Value(command)) if command == "status" => status::run(parser),
        Some(Value(command)) if command == "updates" => updates::run(parser),
        Some(Value(command)) if command == "profiles" => profiles::run(parser),
        Some(Value(command)) if command == "log" => log::run(parser),
        Some(Value(command)) if command == "install-daemon" => daemon::run(parser),
        Some(Value(command)) if command == apply::USER_PREFERENCES_COMMAND => {
            apply::user_preferences_command(parser)
        }
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
