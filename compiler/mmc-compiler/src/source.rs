//! The compiler's only view of the outside world: a set of files held in memory.

use std::collections::BTreeMap;
use std::ops::Range;

/// Files of a policy repository, keyed by their repo-relative path with `/` separators.
///
/// The CLI fills it from the work tree (and, later, from a git revision); the compiler never reads
/// the file system itself.
#[derive(Clone, Debug, Default)]
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

/// Converts a byte offset in `text` into a 1-based line and character column.
pub fn line_col(text: &str, offset: usize) -> LineCol {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    LineCol { line, column }
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
