//! All terminal output goes through the [`Printer`]: stdout carries results, stderr the
//! conversation (progress, problems in human form, errors).

use std::io::Write;

use anstream::AutoStream;
use mmc_compiler::diag::{self, Diagnostic};
use mmc_compiler::source::FileSet;

use crate::cli::{ColorChoice, Format, GlobalArgs};

pub struct Printer {
    pub format: Format,
    color: anstream::ColorChoice,
}

impl Printer {
    pub fn new(global: &GlobalArgs) -> Self {
        let color = match global.color {
            ColorChoice::Auto => anstream::ColorChoice::Auto,
            ColorChoice::Always => anstream::ColorChoice::Always,
            ColorChoice::Never => anstream::ColorChoice::Never,
        };
        Self {
            // Under GitHub Actions, problems become annotations on the pull request unless asked otherwise.
            format: global.format.unwrap_or_else(|| {
                match std::env::var("GITHUB_ACTIONS").as_deref() {
                    Ok("true") => Format::Github,
                    _ => Format::Human,
                }
            }),
            color,
        }
    }

    fn stderr(&self) -> AutoStream<std::io::Stderr> {
        AutoStream::new(std::io::stderr(), self.color)
    }

    /// Prints problems. `as_result` puts machine formats on stdout (for `check`, the problems are
    /// the result); otherwise they go to stderr so stdout stays one JSON document.
    pub fn diagnostics(
        &self,
        diags: &[Diagnostic],
        files: &FileSet,
        root: &std::path::Path,
        as_result: bool,
    ) {
        match self.format {
            Format::Human | Format::Markdown => self.human_diagnostics(diags, files),
            Format::Json => {
                let lines: String = diags
                    .iter()
                    .map(|d| diag::render_json(d, files) + "\n")
                    .collect();
                self.machine(&lines, as_result);
            }
            Format::Github => {
                // GitHub reads workflow commands from stdout, and paths from the checkout's root.
                let prefix = crate::workspace::checkout_prefix(root);
                let lines: String = diags
                    .iter()
                    .map(|d| diag::render_github(d, files, &prefix) + "\n")
                    .collect();
                self.machine(&lines, true);
            }
        }
    }

    /// Problems in human form on stderr, whatever the format.
    pub fn human_diagnostics(&self, diags: &[Diagnostic], files: &FileSet) {
        let mut err = self.stderr();
        for d in diags {
            let _ = writeln!(err, "{}\n", diag::render_human(d, files, true));
        }
    }

    fn machine(&self, text: &str, to_stdout: bool) {
        if to_stdout {
            self.stdout(text);
        } else {
            let _ = self.stderr().write_all(text.as_bytes());
        }
    }

    /// A cargo-style status line on stderr (`    Finished ...`), human format only.
    pub fn status(&self, verb: &str, message: &str) {
        if matches!(self.format, Format::Human | Format::Markdown) {
            let style = anstyle::Style::new()
                .bold()
                .fg_color(Some(anstyle::AnsiColor::Green.into()));
            let _ = writeln!(self.stderr(), "{style}{verb:>12}{style:#} {message}");
        }
    }

    pub fn warn(&self, message: &str) {
        match self.format {
            Format::Human | Format::Markdown => {
                let style = anstyle::Style::new()
                    .bold()
                    .fg_color(Some(anstyle::AnsiColor::Yellow.into()));
                let _ = writeln!(self.stderr(), "{style}warning{style:#}: {message}");
            }
            Format::Json => {
                let _ = writeln!(
                    self.stderr(),
                    "{}",
                    serde_json::json!({ "severity": "warning", "message": message })
                );
            }
            Format::Github => self.stdout(&format!(
                "::warning title=mmc::{}\n",
                message.replace('%', "%25").replace('\n', "%0A")
            )),
        }
    }

    pub fn error(&self, message: &str) {
        match self.format {
            Format::Json => {
                let _ = writeln!(
                    self.stderr(),
                    "{}",
                    serde_json::json!({ "severity": "error", "message": message })
                );
            }
            _ => {
                let style = anstyle::Style::new()
                    .bold()
                    .fg_color(Some(anstyle::AnsiColor::Red.into()));
                let _ = writeln!(self.stderr(), "{style}error{style:#}: {message}");
            }
        }
    }

    /// Text with ANSI styles on stdout; the styles are dropped when stdout is not a terminal
    /// or colours are off (`--color`, `NO_COLOR`).
    pub fn stdout_styled(&self, text: &str) {
        let mut out = AutoStream::new(std::io::stdout(), self.color);
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }

    pub fn stdout(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`mmc schema | head`) is not an error worth reporting.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }

    /// `3 errors, 1 warning` style summary (notes are counted last, and are no problem).
    pub fn summary(diags: &[Diagnostic]) -> String {
        let errors = diags.iter().filter(|d| d.is_error()).count();
        let notes = diags
            .iter()
            .filter(|d| d.severity == diag::Severity::Note)
            .count();
        let warnings = diags.len() - errors - notes;
        let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        let summary = match (errors, warnings) {
            (0, 0) if notes > 0 => return plural(notes, "note"),
            (0, 0) => "no problems".to_owned(),
            (e, 0) => plural(e, "error"),
            (0, w) => plural(w, "warning"),
            (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
        };
        if notes > 0 {
            format!("{summary}, {}", plural(notes, "note"))
        } else {
            summary
        }
    }
}
