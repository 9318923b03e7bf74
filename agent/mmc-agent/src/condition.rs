//! `mmc-agent condition`: evaluate one condition against facts, as Munki would.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mmc_predicate::{Facts, Span};

use crate::verify::read_capped;

const HELP: &str = "\
Evaluate a condition (Munki's NSPredicate format) against facts, the way Munki decides a
conditional item or an installable_condition.

Usage: mmc-agent condition PREDICATE [--facts FILE]

Arguments:
  PREDICATE         The condition, e.g. 'os_vers_major >= 14 AND machine_type == \"laptop\"'.
                    Put `--` before it if it starts with `-`

Options:
  --facts FILE      Evaluate against the facts in FILE instead of those `mmc-agent facts`
                    gathers on this machine. A FILE ending in .json holds one JSON object
                    (JSON has no dates: a date there is text). Any other FILE is a property
                    list, XML or binary: a dictionary of facts such as Munki's
                    ConditionalItems.plist, or a ManagedInstallReport.plist, whose
                    Conditions dictionary is used
  -h, --help        Print this help

The language: docs/predicates.md. A fact that is missing is nil: `x == nil` is true and
`x > 1` false. Constructs Munki accepts but mmc does not (SUBQUERY, %@, $VAR, @count,
arithmetic, ...) are errors that say so.

Exit status:
  0  the condition is true; prints `true`
  1  the condition is false; prints `false`
  2  the condition does not parse or cannot be evaluated (Munki would log an error and
     treat it as false): the reason is printed to stderr with the condition and a caret
     line under the part at fault; also bad usage and unreadable facts files

Example:
  mmc-agent condition 'ANY ipv4_address BEGINSWITH \"10.\"' --facts report.plist
  false
";

/// Largest facts file read.
const MAX_FACTS_BYTES: u64 = 64 * 1024 * 1024;

pub(crate) fn run(mut parser: lexopt::Parser) -> Result<ExitCode, String> {
    use lexopt::prelude::*;
    let usage = |e: lexopt::Error| format!("{e} (try `mmc-agent condition --help`)");
    let mut predicate: Option<String> = None;
    let mut facts_file: Option<PathBuf> = None;
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Short('h') | Long("help") => {
                print!("{HELP}");
                return Ok(ExitCode::SUCCESS);
            }
            Long("facts") => facts_file = Some(PathBuf::from(parser.value().map_err(usage)?)),
            Value(value) if predicate.is_none() => {
                predicate = Some(value.into_string().map_err(|value| {
                    format!(
                        "the condition is not valid UTF-8: {:?}",
                        value.to_string_lossy()
                    )
                })?);
            }
            other => return Err(usage(other.unexpected())),
        }
    }
    let Some(predicate) = predicate else {
        return Err(
            "missing PREDICATE, the condition to evaluate (try `mmc-agent condition --help`)"
                .to_owned(),
        );
    };

    let parsed =
        mmc_predicate::parse(&predicate).map_err(|e| located(&predicate, &e.message, &e.span))?;
    let facts = match &facts_file {
        Some(path) => read_facts(path)?,
        None => crate::facts::gather_here(std::path::Path::new("/"), None)?,
    };
    let result = mmc_predicate::eval(&parsed, &facts)
        .map_err(|e| located(&predicate, &e.message, &e.span))?;
    println!("{result}");
    Ok(if result {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub(crate) fn read_facts(path: &Path) -> Result<Facts, String> {
    let bytes = read_capped(path, MAX_FACTS_BYTES, "facts file", None)?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let facts = if is_json {
        mmc_predicate::facts_from_json(&bytes)
    } else {
        mmc_predicate::facts_from_plist(&bytes)
    };
    facts.map_err(|e| format!("facts file {}: {e}", path.display()))
}

/// `message at column N`, then the condition's line and a caret line under `span`. Columns
/// count characters from 1; a condition of several lines also names the line.
fn located(predicate: &str, message: &str, span: &Span) -> String {
    let start = floor_char_boundary(predicate, span.start);
    let end = floor_char_boundary(predicate, span.end).max(start);
    let line_start = predicate[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = predicate[start..]
        .find('\n')
        .map_or(predicate.len(), |i| start + i);
    let column = predicate[line_start..start].chars().count() + 1;
    let place = if predicate.contains('\n') {
        let line = predicate[..start].matches('\n').count() + 1;
        format!("line {line}, column {column}")
    } else {
        format!("column {column}")
    };
    let width = predicate[start..end.min(line_end)].chars().count().max(1);
    // Tabs would shift the caret: show them as single spaces.
    let text: String = predicate[line_start..line_end]
        .chars()
        .map(|c| if c == '\t' || c == '\r' { ' ' } else { c })
        .collect();
    format!(
        "{message} at {place}\n    {text}\n    {}{}",
        " ".repeat(column - 1),
        "^".repeat(width)
    )
}

fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut i = index.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carets_sit_under_the_span() {
        assert_eq!(
            located("board-id == 'x'", "unsupported: arithmetic", &(0..8)),
            "unsupported: arithmetic at column 1\n    board-id == 'x'\n    ^^^^^^^^"
        );
        assert_eq!(
            located("x ==", "the condition ends", &(4..4)),
            "the condition ends at column 5\n    x ==\n        ^"
        );
        // Columns count characters, not bytes.
        assert_eq!(
            located("é == ?", "bad", &(6..7)),
            "bad at column 6\n    é == ?\n         ^"
        );
        assert_eq!(
            located(
                "a == 1 AND\n\tSUBQUERY(x)",
                "unsupported: SUBQUERY",
                &(12..20)
            ),
            "unsupported: SUBQUERY at line 2, column 2\n     SUBQUERY(x)\n     ^^^^^^^^"
        );
        // A span across lines is cut at the end of its first line.
        assert_eq!(
            located("(a == 1\nOR b", "m", &(0..12)),
            "m at line 1, column 1\n    (a == 1\n    ^^^^^^^"
        );
    }
}
