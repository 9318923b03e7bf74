//! Parsing YAML policy files into spanned raw types, strictly.
//!
//! Two passes per file: a lint over the parser's events (YAML 1.1 traps that a typed parse would
//! silently accept as strings), then the typed parse with serde-saphyr in strict mode. Every
//! problem becomes a [`Diagnostic`] pointing at file, line and column.

pub mod model;
pub mod spanned;

use serde::de::DeserializeOwned;
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};
use serde_saphyr::{
    DefaultMessageFormatter, DuplicateKeyPolicy, Error, MergeKeyPolicy, MessageFormatter,
};

use crate::diag::{Diagnostic, suggest};

/// Largest policy file accepted.
pub const MAX_FILE_BYTES: usize = 1 << 20;

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        duplicate_keys: DuplicateKeyPolicy::Error,
        strict_booleans: true,
        no_schema: true,
        merge_keys: MergeKeyPolicy::Error,
        legacy_octal_numbers: false,
        reject_unsupported_tags: true,
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_reader_input_bytes: Some(MAX_FILE_BYTES),
            max_depth: 48,
            max_nodes: 200_000,
            max_aliases: 100,
            max_documents: 1,
        },
        alias_limits: serde_saphyr::alias_limits! { max_total_replayed_events: 10_000 },
    }
}

/// Parses `text` (the contents of `path`) into `T`, pushing every problem found onto `diags`.
/// Returns `None` when the file cannot be used.
pub fn parse<T: DeserializeOwned + schemars::JsonSchema>(
    path: &str,
    text: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    if text.len() > MAX_FILE_BYTES {
        diags.push(
            Diagnostic::error(
                "file-too-large",
                format!("{path} is larger than {MAX_FILE_BYTES} bytes"),
            )
            .at(path, 0..0, "this file")
            .help("split it into several files"),
        );
        return None;
    }
    let has_content = text.lines().any(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with('#') && l != "---"
    });
    if !has_content {
        diags.push(
            Diagnostic::error("empty-file", format!("{path} is empty"))
                .at(path, 0..0, "no content")
                .help("give it content (see `mmc schema` for the keys), or delete the file"),
        );
        return None;
    }
    let schema = serde_json::to_value(schemars::schema_for!(T)).expect("schemas serialize");
    let lints = lint(path, text, &schema);
    let lint_starts: Vec<usize> = lints
        .iter()
        .filter_map(|d| d.primary().map(|l| l.span.start))
        .collect();
    diags.extend(lints);
    // A file with lint errors still goes on to the typed parse and the semantic checks: the build
    // fails on the lint error anyway, and the admin sees every other problem in the same run.
    match serde_saphyr::from_str_with_options::<T>(text, options()) {
        Ok(v) => Some(v),
        Err(e) => {
            let d = from_saphyr(path, text, &e);
            // The lint already explained a problem at this exact place, in better words.
            let dup = d
                .primary()
                .is_some_and(|l| lint_starts.contains(&l.span.start));
            if !dup {
                diags.push(d);
            }
            None
        }
    }
}

const YAML11_BOOLEANS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF",
];

/// Finds plain scalars that YAML 1.1 and YAML 1.2 read differently.
fn lint(path: &str, text: &str, schema: &serde_json::Value) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut keys = KeyTracker::new(schema);
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else { break }; // syntax errors are reported by the typed parse
        let role = keys.observe(&event);
        let Event::Scalar(value, style, _, tag) = event else {
            continue;
        };
        let (Some(start), Some(end)) = (span.start.byte_offset(), span.end.byte_offset()) else {
            continue;
        };
        if let Some(c) = value.chars().find(|c| !crate::source::is_xml_char(*c)) {
            out.push(
                Diagnostic::error(
                    "xml-illegal-char",
                    format!(
                        "this text contains U+{:04X}, which property lists cannot hold",
                        c as u32
                    ),
                )
                .at(path, start..end, "invalid character in this value")
                .help("remove the control character (tab, line feed and carriage return are fine)"),
            );
            continue;
        }
        // Every unknown key of the file, not only the first one serde would stop at.
        if let Role::Key {
            unknown: Some(expected),
        } = &role
        {
            out.push(unknown_key_diagnostic(path, start..end, &value, expected));
            continue;
        }
        if let Some(tag) = &tag
            && tag.to_string() != "tag:yaml.org,2002:str"
        {
            out.push(
                Diagnostic::error(
                    "yaml-tag",
                    format!(
                        "YAML tags such as `{}` are not supported",
                        source_tag(text, start)
                    ),
                )
                .at(path, start..end, "tagged value")
                .help("write the value plainly; `!!str` is the only tag mmc accepts"),
            );
            continue;
        }
        // A quoted value where the format wants a boolean or a number: serde would quietly convert it.
        if let Role::Value {
            key,
            schema: Some(schema),
            ..
        } = &role
            && style != ScalarStyle::Plain
            && let Some(kind) = scalar_kind(schema)
        {
            out.push(
                Diagnostic::error("quoted-non-text", format!("`{key}` takes {kind}, not text"))
                    .at(path, start..end, "quoted")
                    .help(format!("remove the quotes: {key}: {}", value.trim())),
            );
            continue;
        }
        // Keys are text (a boolean or octal key makes no sense), so only values are ambiguous.
        if style != ScalarStyle::Plain || tag.is_some() || matches!(role, Role::Key { .. }) {
            continue;
        }
        let v = value.as_ref();
        if let Role::Value {
            key, free: false, ..
        } = &role
            && TEXT_KEYS.contains(&key.as_str())
            && looks_numeric(v)
            && !is_leading_zero_integer(v)
            && lossy_decimal(v).is_none()
        {
            out.push(
                Diagnostic::error(
                    "must-quote",
                    format!("`{key}` is text, but `{v}` is read as a number"),
                )
                .at(path, start..end, "unquoted number")
                .help(format!("write {key}: \"{v}\"")),
            );
        } else if is_decimal_integer(v) && v.parse::<i64>().is_err() {
            out.push(
                Diagnostic::error(
                    "integer-range",
                    format!("`{v}` is too large for a property-list integer"),
                )
                .at(
                    path,
                    start..end,
                    "outside −9223372036854775808…9223372036854775807",
                )
                .help(format!(
                    "quote it (\"{v}\") if it is text, such as a serial number or an id"
                )),
            );
        } else if YAML11_BOOLEANS.contains(&v) {
            out.push(
                Diagnostic::error(
                    "yaml11-boolean",
                    format!("`{v}` means a boolean in YAML 1.1 but a string in YAML 1.2"),
                )
                .at(path, start..end, "ambiguous value")
                .help(format!(
                    "write `true` or `false` for a boolean, or quote it (\"{v}\") for a string"
                )),
            );
        } else if is_leading_zero_integer(v) {
            out.push(
                Diagnostic::error(
                    "yaml-octal",
                    format!(
                        "`{v}` has a leading zero: YAML 1.1 reads it as octal, YAML 1.2 as decimal"
                    ),
                )
                .at(path, start..end, "ambiguous number")
                .help(format!("quote it (\"{v}\"); file modes are strings in mmc")),
            );
        } else if let Some(as_number) = lossy_decimal(v) {
            out.push(
                Diagnostic::error("yaml-float-version", format!("`{v}` is read as the number {as_number}, not as the text `{v}`"))
                    .at(path, start..end, "unquoted version-like number")
                    .help(format!("quote it (\"{v}\") if it is a version; write {as_number} if you mean the number")),
            );
        }
    }
    out
}

/// Keys of the policy format whose values are text even when they look like numbers.
const TEXT_KEYS: &[&str] = &[
    "version",
    "minimum_os_version",
    "maximum_os_version",
    "CFBundleShortVersionString",
    "CFBundleVersion",
    "minosversion",
    "os_version",
    "mode",
];

/// Keys whose values are free-form data, where numbers are numbers.
const FREE_FORM_KEYS: &[&str] = &["values", "settings", "vars", "job"];

/// What a node is in its mapping.
enum Role<'s> {
    /// A mapping key; `unknown` lists the valid keys when the schema does not know this one.
    Key {
        unknown: Option<Vec<&'s str>>,
    },
    /// A mapping value, with the schema of its key where the schema describes it.
    Value {
        key: String,
        free: bool,
        schema: Option<&'s serde_json::Value>,
    },
    Other,
}

/// Follows the event stream's mappings and sequences, and the JSON Schema of the file kind
/// alongside them, so the lint knows each scalar's key and whether a key is known.
struct KeyTracker<'s> {
    root: &'s serde_json::Value,
    /// One frame per open collection: for mappings, the key awaiting its value.
    frames: Vec<Frame<'s>>,
}

struct Frame<'s> {
    is_map: bool,
    pending_key: Option<String>,
    free: bool,
    /// The schema of this collection, where the schema describes it.
    schema: Option<&'s serde_json::Value>,
}

impl<'s> KeyTracker<'s> {
    fn new(root: &'s serde_json::Value) -> Self {
        Self {
            root,
            frames: Vec::new(),
        }
    }

    fn observe(&mut self, event: &Event) -> Role<'s> {
        match event {
            Event::Scalar(v, ..) => self.node(Some(v.as_ref())),
            Event::Alias(_) => self.node(None),
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let schema = match self.frames.last() {
                    None => Some(self.resolve(self.root)),
                    Some(f) if f.is_map => {
                        let key = f.pending_key.as_deref().unwrap_or_default();
                        f.schema
                            .and_then(|s| s.get("properties")?.get(key))
                            .map(|s| self.resolve(s))
                    }
                    Some(f) => f
                        .schema
                        .and_then(|s| s.get("items"))
                        .map(|s| self.resolve(s)),
                };
                let role = self.node(None);
                let free = match &role {
                    Role::Value { key, free, .. } => {
                        *free || FREE_FORM_KEYS.contains(&key.as_str())
                    }
                    _ => self.frames.last().is_some_and(|f| f.free),
                };
                self.frames.push(Frame {
                    is_map: matches!(event, Event::MappingStart(..)),
                    pending_key: None,
                    free,
                    schema,
                });
                role
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.frames.pop();
                Role::Other
            }
            _ => Role::Other,
        }
    }

    fn node(&mut self, scalar: Option<&str>) -> Role<'s> {
        let root = self.root;
        let Some(frame) = self.frames.last_mut().filter(|f| f.is_map) else {
            return Role::Other;
        };
        match frame.pending_key.take() {
            Some(key) => {
                let schema = frame
                    .schema
                    .and_then(|s| s.get("properties")?.get(&key))
                    .map(|s| resolve(root, s));
                Role::Value {
                    key,
                    free: frame.free,
                    schema,
                }
            }
            None => {
                let key = scalar.unwrap_or_default().to_owned();
                let unknown = frame.schema.and_then(|s| unknown_key(s, &key));
                frame.pending_key = Some(key);
                Role::Key { unknown }
            }
        }
    }

    fn resolve(&self, node: &'s serde_json::Value) -> &'s serde_json::Value {
        resolve(self.root, node)
    }
}

/// Follows `$ref`s and unwraps `anyOf [T, null]` (how schemars writes `Option<T>`).
fn resolve<'s>(
    root: &'s serde_json::Value,
    mut node: &'s serde_json::Value,
) -> &'s serde_json::Value {
    {
        for _ in 0..16 {
            if let Some(name) = node
                .get("$ref")
                .and_then(|r| r.as_str())
                .and_then(|r| r.strip_prefix("#/$defs/"))
            {
                match root.get("$defs").and_then(|d| d.get(name)) {
                    Some(def) => node = def,
                    None => break,
                }
            } else if let Some(alts) = node.get("anyOf").and_then(|a| a.as_array()) {
                match alts
                    .iter()
                    .find(|a| a.get("type").and_then(|t| t.as_str()) != Some("null"))
                {
                    Some(alt) => node = alt,
                    None => break,
                }
            } else {
                break;
            }
        }
        node
    }
}

/// For a closed object schema that lacks `key`: the keys it does have.
fn unknown_key<'s>(schema: &'s serde_json::Value, key: &str) -> Option<Vec<&'s str>> {
    if schema.get("additionalProperties") != Some(&serde_json::Value::Bool(false)) {
        return None;
    }
    let props = schema.get("properties")?.as_object()?;
    (!props.contains_key(key)).then(|| props.keys().map(String::as_str).collect())
}

/// `a boolean` or `a number` when a schema admits only that (and null), not text.
fn scalar_kind(schema: &serde_json::Value) -> Option<&'static str> {
    let types: Vec<&str> = match schema.get("type")? {
        serde_json::Value::String(t) => vec![t.as_str()],
        serde_json::Value::Array(a) => a.iter().filter_map(|t| t.as_str()).collect(),
        _ => return None,
    };
    let mut kinds = types.iter().filter(|t| **t != "null");
    match (kinds.next(), kinds.next()) {
        (Some(&"boolean"), None) => Some("a boolean (true or false)"),
        (Some(&("integer" | "number")), None) => Some("a number"),
        _ => None,
    }
}

/// The tag as written (`!!binary`), read from the source at the scalar's start.
fn source_tag(text: &str, scalar_start: usize) -> &str {
    let before = &text[..scalar_start.min(text.len())];
    let start = before
        .rfind('!')
        .map(|i| {
            before[..i]
                .rfind(|c: char| c.is_whitespace())
                .map_or(0, |w| w + 1)
        })
        .unwrap_or(scalar_start);
    text[start..scalar_start].trim()
}

fn unknown_key_diagnostic(
    path: &str,
    span: std::ops::Range<usize>,
    key: &str,
    expected: &[&str],
) -> Diagnostic {
    let d = Diagnostic::error("unknown-key", format!("unknown key `{key}`")).at(
        path,
        span,
        "not a valid key here",
    );
    match suggest(key, expected.iter().copied()) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => d.help(format!("valid keys here are: {}", expected.join(", "))),
    }
}

fn looks_numeric(v: &str) -> bool {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|b| *b == b'.').count() <= 1
        && digits.bytes().any(|b| b.is_ascii_digit())
}

fn is_decimal_integer(v: &str) -> bool {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_leading_zero_integer(v: &str) -> bool {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `1.10` → `Some("1.1")`: a decimal whose fraction ends in a zero after another digit, so reading
/// it as a number loses what was written.
fn lossy_decimal(v: &str) -> Option<String> {
    let (int, frac) = v.split_once('.')?;
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || frac.len() < 2 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || !frac.ends_with('0') {
        return None;
    }
    let trimmed = frac.trim_end_matches('0');
    Some(if trimmed.is_empty() {
        format!("{int}.0")
    } else {
        format!("{int}.{trimmed}")
    })
}

/// Converts a serde-saphyr error into a diagnostic with a span, a clear message and, where a name
/// was misspelled, a suggestion.
fn from_saphyr(path: &str, text: &str, err: &Error) -> Diagnostic {
    let err = err.without_snippet();
    // Typed errors carry byte offsets; scanner errors carry only a line and a column.
    let span = err
        .location()
        .and_then(|l| {
            let s = l.span();
            match s.byte_offset() {
                Some(start) => Some(start as usize..(start + s.byte_len().unwrap_or(0)) as usize),
                None => {
                    let at =
                        crate::source::offset_of(text, l.line() as usize, l.column() as usize)?;
                    Some(at..at)
                }
            }
        })
        .unwrap_or(0..0);
    match err {
        Error::SerdeUnknownField {
            field, expected, ..
        } => unknown_key_diagnostic(path, span, field, expected),
        Error::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let d = Diagnostic::error("unknown-value", format!("unknown value `{variant}`")).at(
                path,
                span,
                "not one of the allowed values",
            );
            match suggest(variant, expected.iter().copied()) {
                Some(s) => d.help(format!(
                    "did you mean `{s}`? allowed: {}",
                    expected.join(", ")
                )),
                None => d.help(format!("allowed values: {}", expected.join(", "))),
            }
        }
        Error::SerdeMissingField { field, .. } => {
            Diagnostic::error("missing-key", format!("missing required key `{field}`")).at(
                path,
                span,
                format!("`{field}` is missing from the mapping this key belongs to"),
            )
        }
        Error::DuplicateMappingKey { key, .. } => {
            let name = key.as_deref().unwrap_or("?");
            Diagnostic::error("duplicate-key", format!("duplicate key `{name}`"))
                .at(
                    path,
                    span,
                    "this key already appears above in the same mapping",
                )
                .help("YAML keeps only one of them; remove one")
        }
        Error::MergeKeyNotAllowed { .. } => Diagnostic::error(
            "merge-key",
            "YAML merge keys (`<<`) are not allowed",
        )
        .at(path, span, "merge key")
        .help(
            "write the keys out: a policy file should say what it means without YAML inheritance",
        ),
        Error::InvalidBooleanStrict { .. } => Diagnostic::error(
            "invalid-boolean",
            "a boolean must be written `true` or `false`",
        )
        .at(path, span, "not `true` or `false`"),
        Error::QuotingRequired { value, .. } => {
            Diagnostic::error("must-quote", format!("`{value}` must be quoted here"))
                .at(path, span, "YAML reads this as a number or boolean")
                .help(format!("write \"{value}\""))
        }
        Error::Budget {
            breach: serde_saphyr::budget::BudgetBreach::Documents { .. },
            ..
        } => Diagnostic::error(
            "multiple-documents",
            "a policy file holds exactly one YAML document",
        )
        .at(path, span, "a second document starts here")
        .help("remove the `---` separator, or move the second document into a file of its own"),
        Error::Budget { .. } => {
            Diagnostic::error("yaml-budget", message(err)).at(path, span, "limit reached here")
        }
        _ => {
            let text = message(err);
            match plain_words(&text) {
                Some((message, label, help)) => Diagnostic::error("wrong-type", message)
                    .at(path, span, label)
                    .help(help),
                None => Diagnostic::error("yaml", text).at(path, span, ""),
            }
        }
    }
}

/// serde's wording for a value of the wrong shape, in an admin's words: (message, label, help).
fn plain_words(text: &str) -> Option<(&'static str, &'static str, &'static str)> {
    let table: [(&str, (&str, &str, &str)); 6] = [
        (
            "expected sequence start",
            (
                "expected a list",
                "not a list",
                "write one `- item` per line, or `[a, b]`",
            ),
        ),
        (
            "expected mapping start",
            (
                "expected a mapping",
                "not a mapping",
                "write `key: value` lines indented under this key",
            ),
        ),
        (
            "expected string scalar",
            (
                "expected text",
                "not text",
                "write a single value; quote it if it contains `:` or starts with a special character",
            ),
        ),
        (
            "cannot deserialize null",
            (
                "a value is required here",
                "empty",
                "give a value, or remove the key or list entry",
            ),
        ),
        (
            "invalid u64",
            (
                "expected a whole number (0 or more)",
                "not a whole number",
                "write digits only, e.g. 1024",
            ),
        ),
        (
            "invalid u32",
            (
                "expected a whole number (0 or more)",
                "not a whole number",
                "write digits only, e.g. 1",
            ),
        ),
    ];
    table
        .iter()
        .find(|(prefix, _)| text.starts_with(prefix))
        .map(|(_, words)| *words)
}

fn message(err: &Error) -> String {
    let text = DefaultMessageFormatter.format_message(err).into_owned();
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => "invalid YAML".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::model::*;
    use super::*;

    fn errors(text: &str) -> Vec<(&'static str, String, usize)> {
        let mut diags = Vec::new();
        let _ = parse::<ItemsFile>("items.yaml", text, &mut diags);
        diags
            .iter()
            .map(|d| (d.code, d.message.clone(), d.primary().unwrap().span.start))
            .collect()
    }

    #[test]
    fn accepts_a_valid_item() {
        let mut diags = Vec::new();
        let f: Option<ItemsFile> = parse(
            "i.yaml",
            "items:\n  - name: Firefox\n    kind: package\n    version: \"128.0\"\n",
            &mut diags,
        );
        assert!(diags.is_empty(), "{diags:?}");
        let f = f.unwrap();
        assert_eq!(f.items[0].name.value, "Firefox");
        assert_eq!(f.items[0].name.span, 17..24);
    }

    #[test]
    fn unknown_key_suggests_the_closest() {
        let mut diags = Vec::new();
        let _ = parse::<ItemsFile>(
            "i.yaml",
            "items:\n  - name: A\n    kind: file\n    conten: x\n",
            &mut diags,
        );
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, "unknown-key");
        assert_eq!(diags[0].help.as_deref(), Some("did you mean `content`?"));
    }

    #[test]
    fn yaml11_booleans_are_errors_anywhere() {
        let e = errors("items:\n  - name: yes\n    kind: script\n");
        assert_eq!(e[0].0, "yaml11-boolean");
        let e = errors("items:\n  - name: A\n    kind: package\n    unattended_install: yes\n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, "yaml11-boolean");
        assert!(errors("items:\n  - name: \"yes\"\n    kind: script\n").is_empty());
    }

    #[test]
    fn float_versions_and_octal_modes_are_errors() {
        let e = errors("items:\n  - name: A\n    kind: package\n    version: 1.10\n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, "yaml-float-version");
        assert!(e[0].1.contains("number 1.1"));
        let e = errors("items:\n  - name: A\n    kind: file\n    mode: 0644\n");
        assert_eq!(e[0].0, "yaml-octal");
        // A version YAML cannot read as a float is still required to be quoted.
        let e = errors("items:\n  - name: A\n    kind: package\n    version: 128.0\n");
        assert_eq!(e[0].0, "must-quote");
    }

    #[test]
    fn duplicate_and_merge_keys_are_errors() {
        let e = errors("items:\n  - name: A\n    name: B\n    kind: file\n");
        assert_eq!(e[0].0, "duplicate-key");
        let e = errors("base: &b {kind: file}\nitems:\n  - <<: *b\n    name: A\n");
        assert!(
            e.iter()
                .any(|(c, _, _)| *c == "merge-key" || *c == "unknown-key"),
            "{e:?}"
        );
    }

    #[test]
    fn free_form_values_keep_spans() {
        let text = "items:\n  - name: P\n    kind: preference\n    values:\n      idleTime: 600\n      modulePath: \"/x\"\n";
        let mut diags = Vec::new();
        let f: ItemsFile = parse("i.yaml", text, &mut diags).unwrap();
        let spanned::Value::Dict(entries) = &f.items[0].values.as_ref().unwrap().value else {
            panic!()
        };
        assert_eq!(&text[entries[1].1.span.clone()], "\"/x\"");
        assert_eq!(entries[0].1.value, spanned::Value::Integer(600));
    }

    #[test]
    fn every_unquoted_version_in_a_file_is_reported_in_one_run() {
        let text = "items:\n  - name: A\n    kind: package\n    minimum_os_version: 13\n    installs:\n      - type: application\n        path: /A.app\n        CFBundleVersion: 7727.56\n  - name: F\n    kind: file\n    mode: 644\n";
        let e = errors(text);
        let codes: Vec<_> = e.iter().map(|(c, m, _)| (*c, m.as_str())).collect();
        assert_eq!(e.len(), 3, "{codes:?}");
        assert!(e.iter().all(|(c, _, _)| *c == "must-quote"), "{codes:?}");
    }

    #[test]
    fn integers_beyond_64_bits_are_refused_not_rounded() {
        for big in [
            "99999999999999999999999999",
            "-9223372036854775809",
            "18446744073709551615",
        ] {
            let e = errors(&format!(
                "items:\n  - name: P\n    kind: preference\n    domain: d\n    values:\n      n: {big}\n"
            ));
            assert_eq!(e.len(), 1, "{big}: {e:?}");
            assert_eq!(e[0].0, "integer-range", "{big}");
        }
        assert!(errors("items:\n  - name: P\n    kind: preference\n    domain: d\n    values:\n      n: -9223372036854775808\n").is_empty());
    }

    #[test]
    fn every_unknown_key_in_a_file_is_reported_in_one_run() {
        let text = "items:\n  - name: A\n    kind: file\n    contnt: x\n  - name: B\n    kind: package\n    instals:\n      - type: application\n        path: /B.app\n        CFBundleShortVersionStrin: \"1\"\n    valeus: {anything: 1}\n";
        let e = errors(text);
        let got: Vec<_> = e.iter().map(|(c, m, _)| (*c, m.as_str())).collect();
        assert_eq!(
            got,
            [
                ("unknown-key", "unknown key `contnt`"),
                ("unknown-key", "unknown key `instals`"),
                ("unknown-key", "unknown key `valeus`")
            ],
        );
        // Under a known key, the nested mapping is checked too; free-form mappings take any key.
        let text = "items:\n  - name: B\n    kind: package\n    installs:\n      - type: application\n        path: /B.app\n        CFBundleShortVersionStrin: \"1\"\n    values: {anything: 1, nested: {at: all}}\n";
        let e = errors(text);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].1, "unknown key `CFBundleShortVersionStrin`");
    }

    #[test]
    fn quoted_booleans_and_numbers_and_tags_are_not_converted_silently() {
        let e = errors(
            "items:\n  - name: A\n    kind: package\n    unattended_install: \"true\"\n    installer_item_size: \"42\"\n",
        );
        let got: Vec<_> = e.iter().map(|(c, m, _)| (*c, m.as_str())).collect();
        assert_eq!(
            got,
            [
                (
                    "quoted-non-text",
                    "`unattended_install` takes a boolean (true or false), not text"
                ),
                (
                    "quoted-non-text",
                    "`installer_item_size` takes a number, not text"
                )
            ]
        );
        let e = errors(
            "items:\n  - name: P\n    kind: preference\n    domain: d\n    values:\n      blob: !!binary aGVsbG8=\n",
        );
        assert_eq!(e[0].0, "yaml-tag");
        assert!(e[0].1.contains("!!binary"), "{e:?}");
        // Text fields may be quoted, and !!str is allowed.
        assert!(
            errors("items:\n  - name: \"A\"\n    kind: file\n    version: !!str 1.10\n").is_empty()
        );
    }

    #[test]
    fn keys_that_look_like_yaml11_booleans_are_text() {
        let text = "items:\n  - name: P\n    kind: preference\n    domain: d\n    values:\n      y: 10\n      on: \"x\"\n      NO: 1\n";
        assert!(errors(text).is_empty(), "{:?}", errors(text));
    }

    #[test]
    fn numbers_in_free_form_values_stay_numbers() {
        let text = "items:\n  - name: P\n    kind: preference\n    domain: d\n    values:\n      version: 3\n      nested: {mode: 7}\n";
        assert!(errors(text).is_empty());
    }

    #[test]
    fn syntax_errors_point_at_their_line() {
        let text = "items:\n  - name: A\n\t  kind: file\n";
        let e = errors(text);
        assert_eq!(e.len(), 1, "{e:?}");
        // The scanner names the scalar the tab interrupts: `A`, on line 2, column 11.
        assert_eq!(
            crate::source::line_col(text, e[0].2),
            crate::source::LineCol {
                line: 2,
                column: 11
            },
            "{e:?}"
        );
        let text = "items:\n  - name: [A\n    kind: file\n";
        let e = errors(text);
        assert!(crate::source::line_col(text, e[0].2).line > 1, "{e:?}");
    }

    #[test]
    fn control_characters_are_refused_in_every_scalar() {
        // Quoted, in a name, a path and a key: none of them may reach a plist.
        let e = errors(
            "items:\n  - name: \"Pk\\x01\"\n    kind: file\n    path: \"/x\\e\"\n    content: x\n",
        );
        let codes: Vec<_> = e.iter().map(|(c, _, _)| *c).collect();
        assert_eq!(codes, ["xml-illegal-char", "xml-illegal-char"]);
    }

    #[test]
    fn wrong_shapes_are_explained_in_plain_words() {
        let e = errors("items:\n  - name: A\n    kind: package\n    requires: Firefox\n");
        assert_eq!((e[0].0, e[0].1.as_str()), ("wrong-type", "expected a list"));
        let e = errors("items:\n  - name: A\n    kind: package\n    installer_item_size: -5\n");
        assert_eq!(
            (e[0].0, e[0].1.as_str()),
            ("wrong-type", "expected a whole number (0 or more)")
        );
        let e = errors("items:\n  - name: A\n    kind: package\n    requires: [~]\n");
        assert_eq!(
            (e[0].0, e[0].1.as_str()),
            ("wrong-type", "a value is required here")
        );
    }

    #[test]
    fn empty_files_and_second_documents_are_explained() {
        assert_eq!(errors("# only a comment\n\n")[0].0, "empty-file");
        assert_eq!(
            errors("items: []\n---\nitems: []\n")[0].0,
            "multiple-documents"
        );
    }

    #[test]
    fn lossy_decimal_only_flags_trailing_zeros() {
        assert_eq!(lossy_decimal("1.10"), Some("1.1".into()));
        assert_eq!(lossy_decimal("10.00"), Some("10.0".into()));
        assert_eq!(lossy_decimal("1.5"), None);
        assert_eq!(lossy_decimal("2.0"), None);
        assert_eq!(lossy_decimal("1.2.0"), None);
    }
}
