//! One diagnostic model, several renderers (human, JSON Lines, GitHub annotations).
//!
//! Diagnostics store byte ranges; lines and columns are computed only when rendering.

use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use crate::source::{FileSet, clamp_span, line_col};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    /// Information that needs no action (e.g. "keys of this payload type are not checked").
    Note,
}

/// A place in a file that a diagnostic points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub file: String,
    pub span: Range<usize>,
    pub message: String,
    pub primary: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable machine-readable code, e.g. `unknown-key`.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// The first primary label is "the" location of the diagnostic.
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    /// A diagnostic of severity [`Severity::Note`]: worth knowing, nothing to fix.
    pub fn notice(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Note,
            ..Self::error(code, message)
        }
    }

    /// Points at `span` in `file` as the main location.
    pub fn at(mut self, file: &str, span: Range<usize>, label: impl Into<String>) -> Self {
        self.labels.push(Label {
            file: file.to_owned(),
            span,
            message: label.into(),
            primary: true,
        });
        self
    }

    /// Adds a secondary location, e.g. where a similar name is defined.
    pub fn also(mut self, file: &str, span: Range<usize>, label: impl Into<String>) -> Self {
        self.labels.push(Label {
            file: file.to_owned(),
            span,
            message: label.into(),
            primary: false,
        });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn primary(&self) -> Option<&Label> {
        self.labels
            .iter()
            .find(|l| l.primary)
            .or(self.labels.first())
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Orders diagnostics by file, position and code, and drops exact repeats (a problem found once per
/// bundle is reported once).
pub fn normalize(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| {
        let key = |d: &Diagnostic| {
            d.primary()
                .map(|l| (l.file.clone(), l.span.start, l.span.end))
        };
        key(a)
            .cmp(&key(b))
            .then(a.code.cmp(b.code))
            .then(a.message.cmp(&b.message))
    });
    diags.dedup();
}

/// A "did you mean" suggestion among `candidates` (Jaro-Winkler, as cargo and just do).
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&name.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

/// Renders for people: rustc-style snippets. `styled` adds ANSI colours.
pub fn render_human(diag: &Diagnostic, files: &FileSet, styled: bool) -> String {
    let level = match diag.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Note => Level::NOTE,
    };
    let mut group = Group::with_title(level.primary_title(diag.message.as_str()).id(diag.code));
    // One snippet per file, in the order the files first appear in the labels.
    let mut seen: Vec<&str> = Vec::new();
    for label in &diag.labels {
        if !seen.contains(&label.file.as_str()) {
            seen.push(&label.file);
        }
    }
    for file in seen {
        let text = files.get(file).unwrap_or("");
        let mut snippet = Snippet::source(text).path(file);
        for label in diag.labels.iter().filter(|l| l.file == file) {
            let kind = if label.primary {
                AnnotationKind::Primary
            } else {
                AnnotationKind::Context
            };
            snippet = snippet.annotation(
                kind.span(clamp_span(text, label.span.clone()))
                    .label(label.message.as_str()),
            );
        }
        group = group.element(snippet);
    }
    for note in &diag.notes {
        group = group.element(Level::NOTE.message(note.as_str()));
    }
    if let Some(help) = &diag.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    let renderer = if styled {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    renderer.render(&[group])
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    severity: Severity,
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_column: Option<usize>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
}

struct Located<'a> {
    file: &'a str,
    start: crate::source::LineCol,
    end: crate::source::LineCol,
}

fn locate<'a>(diag: &'a Diagnostic, files: &FileSet) -> Option<Located<'a>> {
    let label = diag.primary()?;
    let text = files.get(&label.file).unwrap_or("");
    let span = clamp_span(text, label.span.clone());
    Some(Located {
        file: &label.file,
        start: line_col(text, span.start),
        end: line_col(text, span.end),
    })
}

/// One JSON object on one line (JSON Lines).
pub fn render_json(diag: &Diagnostic, files: &FileSet) -> String {
    let loc = locate(diag, files);
    let json = JsonDiagnostic {
        severity: diag.severity,
        code: diag.code,
        message: &diag.message,
        file: loc.as_ref().map(|l| l.file),
        line: loc.as_ref().map(|l| l.start.line),
        column: loc.as_ref().map(|l| l.start.column),
        end_line: loc.as_ref().map(|l| l.end.line),
        end_column: loc.as_ref().map(|l| l.end.column),
        notes: &diag.notes,
        help: diag.help.as_deref(),
    };
    serde_json::to_string(&json).expect("diagnostics serialize")
}

/// A GitHub Actions workflow command, which GitHub shows as an annotation on the YAML line.
/// A GitHub Actions workflow command. `path_prefix` is the policy repository's path inside the
/// checkout (`""` at the top, `"policy/"` in a subfolder), because GitHub resolves annotation
/// paths from the checkout's root.
pub fn render_github(diag: &Diagnostic, files: &FileSet, path_prefix: &str) -> String {
    let command = match diag.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "notice",
    };
    let mut message = diag.message.clone();
    if let Some(label) = diag.primary().filter(|l| !l.message.is_empty()) {
        message.push_str(": ");
        message.push_str(&label.message);
    }
    for note in &diag.notes {
        message.push_str("\nnote: ");
        message.push_str(note);
    }
    if let Some(help) = &diag.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let mut props = format!("title={}", escape_property(&format!("mmc {}", diag.code)));
    if let Some(loc) = locate(diag, files) {
        props.push_str(&format!(
            ",file={},line={},col={},endLine={},endColumn={}",
            escape_property(&format!("{path_prefix}{}", loc.file)),
            loc.start.line,
            loc.start.column,
            loc.end.line,
            loc.end.column
        ));
    }
    format!("::{command} {props}::{}", escape_data(&message))
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Diagnostic, FileSet) {
        let mut files = FileSet::new();
        files.insert(
            "policies/manifests/site.yaml",
            "managed_installs:\n  - Firefx\n",
        );
        let d = Diagnostic::error("unknown-item", "unknown item `Firefx`")
            .at(
                "policies/manifests/site.yaml",
                22..28,
                "no item of this name in track `stable`",
            )
            .help("did you mean `Firefox`?");
        (d, files)
    }

    #[test]
    fn json_has_one_based_positions() {
        let (d, files) = sample();
        let v: serde_json::Value = serde_json::from_str(&render_json(&d, &files)).unwrap();
        assert_eq!(v["line"], 2);
        assert_eq!(v["column"], 5);
        assert_eq!(v["end_column"], 11);
        assert_eq!(v["code"], "unknown-item");
    }

    #[test]
    fn github_escapes_newlines_and_separators() {
        let (d, files) = sample();
        let out = render_github(&d, &files, "");
        assert!(
            out.starts_with(
                "::error title=mmc unknown-item,file=policies/manifests/site.yaml,line=2,col=5,"
            ),
            "{out}"
        );
        assert!(out.contains("%0Ahelp: did you mean `Firefox`?"), "{out}");
        assert!(!out.contains('\n'));
    }

    #[test]
    fn notes_render_as_notes_everywhere() {
        let (d, files) = sample();
        let d = Diagnostic {
            severity: Severity::Note,
            ..d
        };
        assert!(!d.is_error());
        assert!(render_human(&d, &files, false).starts_with("note[unknown-item]: "));
        let v: serde_json::Value = serde_json::from_str(&render_json(&d, &files)).unwrap();
        assert_eq!(v["severity"], "note");
        assert!(render_github(&d, &files, "").starts_with("::notice title=mmc unknown-item,"));
    }

    #[test]
    fn suggest_picks_the_closest_name() {
        assert_eq!(
            suggest("Firefx", ["Chrome", "Firefox", "FirefoxESR"]),
            Some("Firefox")
        );
        assert_eq!(suggest("zzz", ["Chrome", "Firefox"]), None);
    }
}
