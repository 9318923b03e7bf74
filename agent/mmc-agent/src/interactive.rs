//! `mmc-agent interactive`: list the bundle's items and run the ones an admin picks, recording
//! who ran what in the log (massmgmt's `-im`).

use std::io::{BufRead, Write};
use std::process::ExitCode;

use crate::run::{Chosen, Format, execute, exit_code, list_items, parse, print_report};

const HELP: &str = "\
List the bundle's items and apply the ones you pick, whatever the manifest says; each choice
is recorded in the log with your name (sudo's SUDO_USER), for auditing.

Usage: sudo mmc-agent interactive [--bundle PATH] [OPTIONS]

Takes the options of `mmc-agent run` (--bundle, --trust, --root, --commands, --packages,
--facts, --now, --format). It prints the numbered list, then reads one line from standard
input: numbers or item names separated by spaces or commas (an item's requires come along),
or q to quit without changing anything.

Exit status: as `mmc-agent run` (0 applied, 1 some chosen items failed, 2 could not run).
";

pub(crate) fn run(mut parser: lexopt::Parser) -> Result<ExitCode, String> {
    let Some(options) = parse(&mut parser)? else {
        print!("{HELP}");
        return Ok(ExitCode::SUCCESS);
    };
    if options.check || !options.only.is_empty() {
        return Err("interactive takes no --check or --only: it asks which items to run".into());
    }
    let items = list_items(&options)?;
    let width = items.iter().map(|(n, _, _)| n.len()).max().unwrap_or(0);
    for (index, (name, kind, description)) in items.iter().enumerate() {
        println!(
            "{:>3}  {name:<width$}  {kind:<10}  {description}",
            index + 1
        );
    }
    print!("Run which items? (numbers or names, q to quit): ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the choice: {e}"))?;
    let mut chosen = Vec::new();
    for word in line.split([' ', ',', '\t', '\n']).filter(|w| !w.is_empty()) {
        if word == "q" || word == "quit" {
            println!("nothing run");
            return Ok(ExitCode::SUCCESS);
        }
        let name = match word.parse::<usize>() {
            Ok(n) if (1..=items.len()).contains(&n) => items[n - 1].0.clone(),
            Ok(n) => return Err(format!("there is no item {n}; pick 1 to {}", items.len())),
            Err(_) if items.iter().any(|(name, _, _)| name == word) => word.to_owned(),
            Err(_) => return Err(format!("there is no item named {word:?}")),
        };
        if !chosen.contains(&name) {
            chosen.push(name);
        }
    }
    if chosen.is_empty() {
        println!("nothing chosen, nothing run");
        return Ok(ExitCode::SUCCESS);
    }
    let who = crate::log::who();
    let report = execute(&options, Some(&Chosen { items: chosen, who }))?;
    print_report(&report, options.format);
    if options.format == Format::Human && report.summary.failed > 0 {
        eprintln!("mmc-agent: some chosen items failed; see the log");
    }
    Ok(exit_code(&report))
}
