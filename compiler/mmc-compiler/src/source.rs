//! The compiler's only view of the outside world: a set of files held in memory.

use std::collections::BTreeMap;
use std::ops::Range;

/// Files of a policy repository, keyed by their repo-relative path with `/` separators.
///
/// The CLI fills it from the work tree (and, later, from a git revision); the compiler never reads
/// the file system itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileSet {
    files: BTreeMap<String, String>,
}

impl FileSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a file. `path` is relative to the repository root.
    pub fn insert(&mut self, path: impl Into<String>, text: impl Into<String>) {
        self.files.insert(path.into(), text.into());
    }

    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// Files in byte order of their paths.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(p, t)| (p.as_str(), t.as_str()))
    }

    /// Files under `dir/` whose name ends in `.yaml` or `.yml`, in path order.
    pub fn yaml_under<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.iter().filter(move |(p, _)| {
            p.strip_prefix(dir)
                .is_some_and(|rest| rest.starts_with('/'))
                && (p.ends_with(".yaml") || p.ends_with(".yml"))
        })
    }
}

/// 1-based line and column (columns count characters, as editors do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// Converts a byte offset in `text` into a 1-based line and character column. Line breaks are
/// LF, CRLF or a lone CR, as in YAML.
pub fn line_col(text: &str, offset: usize) -> LineCol {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let (mut line, mut line_start) = (1, 0);
    for (i, b) in text.as_bytes()[..offset].iter().enumerate() {
        let lone_cr = *b == b'\r' && text.as_bytes().get(i + 1) != Some(&b'\n');
        if *b == b'\n' || lone_cr {
            line += 1;
            line_start = i + 1;
        }
    }
    let column = text[line_start..offset].chars().count() + 1;
    LineCol { line, column }
}

/// The byte offset of a 1-based line and character column, if the text has it.
pub fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        let rest = &text[start..];
        let nl = rest.find(['\n', '\r'])?;
        let skip = if rest[nl..].starts_with("\r\n") { 2 } else { 1 };
        start += nl + skip;
    }
    let line_text = &text[start..];
    let line_end = line_text.find(['\n', '\r']).unwrap_or(line_text.len());
    let col = line_text[..line_end]
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line_end, |(i, _)| i);
    Some(start + col)
}

/// Characters XML 1.0 (and so a property list) can hold.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// The byte range clamped into `text` and onto character boundaries.
pub fn clamp_span(text: &str, span: Range<usize>) -> Range<usize> {
    let start = floor_char_boundary(text, span.start.min(text.len()));
    let end = floor_char_boundary(text, span.end.min(text.len())).max(start);
    start..end
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let text = "a: 1\n# é\nb: x\n";
        let off = text.find("x").unwrap();
        assert_eq!(line_col(text, off), LineCol { line: 3, column: 4 });
        let off = text.find("é").unwrap() + 2; // just after the two-byte é
        assert_eq!(line_col(text, off), LineCol { line: 2, column: 4 });
    }

    #[test]
    fn line_breaks_may_be_lf_crlf_or_cr() {
        for text in ["a\nb\nxy", "a\r\nb\r\nxy", "a\rb\rxy"] {
            let off = text.find('y').unwrap();
            assert_eq!(
                line_col(text, off),
                LineCol { line: 3, column: 2 },
                "{text:?}"
            );
            assert_eq!(offset_of(text, 3, 2), Some(off), "{text:?}");
        }
        assert_eq!(offset_of("ab", 2, 1), None);
    }

    #[test]
    fn yaml_under_matches_only_that_directory() {
        let mut fs = FileSet::new();
        fs.insert("policies/items/a.yaml", "");
        fs.insert("policies/items/b.txt", "");
        fs.insert("policies/itemsx/c.yaml", "");
        fs.insert("policies/items/sub/d.yml", "");
        let got: Vec<_> = fs.yaml_under("policies/items").map(|(p, _)| p).collect();
        assert_eq!(got, ["policies/items/a.yaml", "policies/items/sub/d.yml"]);
    }
}
