//! Templates render string values, never whole files: a YAML scalar may contain `{{ vars.x }}`.
//! Undefined names are errors, rendering is bounded by fuel and an output cap, and nothing can be
//! loaded from the file system. Errors point into the scalar that holds the template.

use std::io;
use std::ops::Range;

use minijinja::{Environment, ErrorKind, UndefinedBehavior};

use crate::diag::Diagnostic;
use crate::syntax::spanned::Sp;

/// Instructions one value may execute.
pub const FUEL: u64 = 50_000;
/// Bytes one rendered value may produce.
pub const MAX_OUTPUT: usize = 256 * 1024;
/// Bytes between the braces of one `{{ … }}` or `{% … %}`. minijinja's code generator recurses
/// once per filter, operator or attribute of a chain, without a limit: a chain of a few thousand
/// (`x|trim|trim|…`, 25 KB) overflowed the stack and aborted `mmc check`.
pub const MAX_TAG_BYTES: usize = 1024;

pub struct Templates {
    env: Environment<'static>,
    context: minijinja::Value,
}

impl Templates {
    pub fn new(context: minijinja::Value) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(50);
        // Values are escaped by the plist and JSON writers, never by the template engine.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .expect("default syntax is valid");
        env.set_syntax(syntax);
        // Filters that can multiply the size of their input are replaced by size-capped versions
        // or removed; loops, macros and `*` are refused before rendering (see `check_source`).
        for name in [
            "replace", "join", "center", "indent", "format", "batch", "pprint",
        ] {
            env.remove_filter(name);
        }
        for name in ["range", "namespace", "debug"] {
            env.remove_global(name);
        }
        env.add_filter("replace", capped_replace);
        env.add_filter("join", capped_join);
        Self { env, context }
    }

    /// Renders one scalar of `file` (whose full text is `text`). Scalars without template syntax
    /// are returned unchanged. On error, pushes a diagnostic and returns `None`.
    pub fn render(
        &self,
        file: &str,
        text: &str,
        scalar: &Sp<String>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<String> {
        let src = scalar.value.as_str();
        if !(src.contains("{{") || src.contains("{%") || src.contains("{#")) {
            return Some(src.to_owned());
        }
        if let Err((range, message)) = check_source(src) {
            let span = map_into_scalar(text, &scalar.span, src, range);
            diags.push(
                Diagnostic::error("template-unsupported", message)
                    .at(file, span, "not available in value templates")
                    .help("value templates are expressions: {{ vars.x }}, filters such as default, upper, lower, trim, replace and join, and {% if %}; wrap literal braces in {% raw %}…{% endraw %}"),
            );
            return None;
        }
        let result = self.env.template_from_str(src).and_then(|t| {
            let mut out = CappedWriter { buf: Vec::new() };
            t.render_captured_to(self.context.clone(), &mut out)?;
            Ok(out.buf)
        });
        match result {
            Ok(bytes) => Some(String::from_utf8(bytes).expect("templates render UTF-8")),
            Err(err) => {
                let span = err
                    .range()
                    .map(|r| map_into_scalar(text, &scalar.span, src, r))
                    .unwrap_or_else(|| scalar.span.clone());
                let (code, mut message, help) = describe(&err);
                if let (ErrorKind::UndefinedError, Some(name)) =
                    (err.kind(), err.range().and_then(|r| src.get(r)))
                {
                    message = format!("undefined template variable `{}`", name.trim());
                }
                let mut d = Diagnostic::error(code, message).at(file, span, label(&err));
                if let Some(h) = help {
                    d = d.help(h);
                }
                diags.push(d);
                None
            }
        }
    }
}

/// Value templates are expressions. Statements that repeat work or build state (`for`, `macro`,
/// `set`, `call`, …) and the `*` operator (string and list repetition) are refused: fuel counts
/// steps, not bytes, and each of these can grow memory exponentially within a few steps.
/// Returns the offending range inside `src`.
fn check_source(src: &str) -> Result<(), (Range<usize>, String)> {
    const STATEMENTS: [&str; 6] = ["if", "elif", "else", "endif", "raw", "endraw"];
    let bytes = src.as_bytes();
    let mut i = 0;
    let mut in_raw = false;
    while i + 1 < bytes.len() {
        // Compared as bytes: `i` may sit inside a multi-byte character, where slicing the
        // string would panic.
        let open = match &bytes[i..i + 2] {
            b"{{" => "{{",
            b"{%" => "{%",
            b"{#" => "{#",
            _ => {
                i += 1;
                continue;
            }
        };
        let close = match open {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let body_start = i + 2;
        let Some(len) = src[body_start..].find(close) else {
            return Ok(());
        }; // a syntax error, reported by the parser
        let body = &src[body_start..body_start + len];
        let next = body_start + len + 2;
        if !in_raw && open != "{#" && body.len() > MAX_TAG_BYTES {
            return Err((
                i..body_start,
                format!(
                    "this `{open} … {close}` holds {} bytes; value templates are short expressions (at most {MAX_TAG_BYTES} bytes between the braces)",
                    body.len()
                ),
            ));
        }
        if open == "{%" {
            let word = body
                .trim_start_matches('-')
                .trim_start_matches('+')
                .trim_start();
            let word = &word[..word
                .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .unwrap_or(word.len())];
            if in_raw && word != "endraw" {
                i = next;
                continue;
            }
            if !STATEMENTS.contains(&word) {
                let at = body_start + body.find(word).unwrap_or(0);
                return Err((
                    at..at + word.len(),
                    format!("`{{% {word} %}}` is not available in value templates"),
                ));
            }
            in_raw = word == "raw";
        }
        if !in_raw
            && open != "{#"
            && let Some(star) = find_outside_quotes(body, '*')
        {
            let at = body_start + star;
            return Err((
                at..at + 1,
                "`*` (repetition and multiplication) is not available in value templates"
                    .to_owned(),
            ));
        }
        i = next;
    }
    Ok(())
}

fn find_outside_quotes(body: &str, wanted: char) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == wanted => return Some(i),
            None => {}
        }
    }
    None
}

fn too_large() -> minijinja::Error {
    minijinja::Error::new(
        ErrorKind::InvalidOperation,
        format!("the result would be larger than {MAX_OUTPUT} bytes"),
    )
}

/// `replace` that refuses to build a result larger than the output cap.
fn capped_replace(s: String, from: String, to: String) -> Result<String, minijinja::Error> {
    let count = if from.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(from.as_str()).count()
    };
    let size = s.len().saturating_add(count.saturating_mul(to.len()));
    if size > MAX_OUTPUT {
        return Err(too_large());
    }
    Ok(s.replace(from.as_str(), &to))
}

/// `join` that refuses to build a result larger than the output cap.
fn capped_join(items: minijinja::Value, sep: Option<String>) -> Result<String, minijinja::Error> {
    let sep = sep.unwrap_or_default();
    let mut out = String::new();
    for (n, item) in items.try_iter()?.enumerate() {
        if n > 0 {
            out.push_str(&sep);
        }
        out.push_str(&item.to_string());
        if out.len() > MAX_OUTPUT {
            return Err(too_large());
        }
    }
    Ok(out)
}

fn describe(err: &minijinja::Error) -> (&'static str, String, Option<String>) {
    let detail = err.detail().unwrap_or("");
    match err.kind() {
        ErrorKind::UndefinedError => (
            "template-undefined",
            "undefined template variable".to_owned(),
            Some("define it under `vars:` in mmc.yaml; available: vars.*, org.name, org.identifier_prefix, bundle.name, bundle.track, bundle.audience".to_owned()),
        ),
        ErrorKind::SyntaxError => ("template-syntax", format!("template syntax error: {detail}"), None),
        ErrorKind::OutOfFuel => (
            "template-fuel",
            format!("template did too much work (more than {FUEL} steps)"),
            Some("templates are for values; move large loops out of the policy".to_owned()),
        ),
        ErrorKind::WriteFailure => (
            "template-output",
            format!("template output is larger than {MAX_OUTPUT} bytes"),
            None,
        ),
        _ => ("template", format!("template error: {}", err.detail().map_or_else(|| err.kind().to_string(), str::to_owned)), None),
    }
}

fn label(err: &minijinja::Error) -> String {
    match err.kind() {
        ErrorKind::UndefinedError => "not defined".to_owned(),
        _ => err.kind().to_string(),
    }
}

/// Maps a byte range inside the scalar's value onto the file. Exact for plain and simply quoted
/// scalars; for block scalars and escapes, finds the failing text inside the node, or falls back
/// to the whole node.
pub(crate) fn map_into_scalar(
    text: &str,
    node: &Range<usize>,
    value: &str,
    r: Range<usize>,
) -> Range<usize> {
    // minijinja may point at one byte of a multi-byte character: widen to whole characters.
    let mut start = r.start.min(value.len());
    while !value.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = r.end.clamp(start, value.len());
    while !value.is_char_boundary(end) {
        end += 1;
    }
    let r = start..end;
    let Some(raw) = text.get(node.clone()) else {
        return node.clone();
    };
    let shift = if raw == value {
        Some(0)
    } else if raw.len() >= 2
        && (raw.starts_with('"') || raw.starts_with('\''))
        && &raw[1..raw.len() - 1] == value
    {
        Some(1)
    } else {
        None
    };
    if let Some(shift) = shift {
        return node.start + shift + r.start..node.start + shift + r.end;
    }
    let needle = value.get(r.clone()).unwrap_or("");
    match (needle.is_empty(), raw.find(needle)) {
        (false, Some(at)) if raw.matches(needle).count() == 1 => {
            node.start + at..node.start + at + needle.len()
        }
        _ => node.clone(),
    }
}

struct CappedWriter {
    buf: Vec<u8>,
}

impl io::Write for CappedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > MAX_OUTPUT {
            return Err(io::Error::other("template output cap reached"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str) -> (Option<String>, Vec<Diagnostic>) {
        let ctx =
            minijinja::context! { vars => minijinja::context! { support => "help@example.com" } };
        let t = Templates::new(ctx);
        let start = text.find(": ").unwrap() + 2;
        let raw = &text[start..text.len() - 1];
        let value = raw.trim_matches('"').to_owned();
        let mut diags = Vec::new();
        let out = t.render(
            "f.yaml",
            text,
            &Sp::new(value, start..text.len() - 1),
            &mut diags,
        );
        (out, diags)
    }

    /// Found by fuzzing (fuzz/artifacts/fuzz_policy_load/crash-template-*): non-ASCII text
    /// around a template made the compiler panic, or point a span into the middle of a
    /// character.
    #[test]
    fn non_ascii_text_around_templates() {
        assert_eq!(
            render("a: \"Fragen? {{ vars.support }} \u{2013} IT\"\n")
                .0
                .as_deref(),
            Some("Fragen? help@example.com \u{2013} IT")
        );
        let text = "a: \"{{ vars\u{2082}support }}\"\n";
        let (out, diags) = render(text);
        assert!(out.is_none());
        let span = diags[0].labels[0].span.clone();
        assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
        assert_eq!(&text[span], "\u{2082}");
    }

    #[test]
    fn renders_variables() {
        assert_eq!(
            render("a: \"Mail {{ vars.support }}\"\n").0.as_deref(),
            Some("Mail help@example.com")
        );
    }

    #[test]
    fn undefined_points_into_the_scalar() {
        let text = "a: \"Mail {{ vars.suport }}\"\n";
        let (out, diags) = render(text);
        assert!(out.is_none());
        assert_eq!(diags[0].code, "template-undefined");
        assert_eq!(
            &text[diags[0].primary().unwrap().span.clone()],
            "vars.suport"
        );
    }

    #[test]
    fn amplifiers_are_refused_before_rendering() {
        for (src, what) in [
            ("{% for i in x %}y{% endfor %}", "for"),
            ("{% macro m() %}{% endmacro %}", "macro"),
            ("{% set a = 1 %}", "set"),
            ("{{ 'a' * 9000000 }}", "*"),
            ("{{ [1] * 100000000 }}", "*"),
        ] {
            let text = format!("a: \"{src}\"\n");
            let (out, d) = render(&text);
            assert!(out.is_none(), "{src}");
            assert_eq!(d[0].code, "template-unsupported", "{src}");
            assert_eq!(&text[d[0].primary().unwrap().span.clone()], what, "{src}");
        }
        // Stars in quotes and in comments are text; if/else and raw are fine.
        assert_eq!(render("a: \"{{ '*' }}{# * #}\"\n").0.as_deref(), Some("*"));
        assert_eq!(
            render("a: \"{% if vars.support %}yes{% else %}no{% endif %}\"\n")
                .0
                .as_deref(),
            Some("yes")
        );
        assert_eq!(
            render("a: \"{% raw %}{% for %}{{ * }}{% endraw %}\"\n")
                .0
                .as_deref(),
            Some("{% for %}{{ * }}")
        );
    }

    #[test]
    fn replace_and_join_are_capped_and_other_amplifiers_are_gone() {
        // Each step multiplies the size by ~17; the fourth would pass 1 MB.
        let (_, d) = render(
            "a: \"{{ vars.support | replace('', vars.support) | replace('', vars.support) | replace('', vars.support) | replace('', vars.support) }}\"\n",
        );
        assert_eq!(d[0].code, "template", "{d:?}");
        assert!(d[0].message.contains("larger than"), "{d:?}");
        assert_eq!(
            render("a: \"{{ vars.support | replace('help', 'it') }}\"\n")
                .0
                .as_deref(),
            Some("it@example.com")
        );
        assert_eq!(
            render("a: \"{{ ['a', 'b'] | join(', ') }}\"\n")
                .0
                .as_deref(),
            Some("a, b")
        );
        for gone in [
            "{{ 'a' | center(1000000000) }}",
            "{{ range(10) | list }}",
            "{{ 'a' | indent(1000000000) }}",
        ] {
            let (out, _) = render(&format!("a: \"{gone}\"\n"));
            assert!(out.is_none(), "{gone}");
        }
    }

    #[test]
    fn long_expression_chains_are_refused_before_they_reach_minijinja() {
        // 5,000 filters overflowed the stack in minijinja's code generator (an abort, not an
        // error). Refused by length, pointing at the opening braces.
        let text = format!("a: \"{{{{ vars.support{} }}}}\"\n", "|trim".repeat(5_000));
        let (out, d) = render(&text);
        assert!(out.is_none());
        assert_eq!(d[0].code, "template-unsupported");
        assert_eq!(&text[d[0].primary().unwrap().span.clone()], "{{");
        assert!(
            d[0].message.contains("holds 25014 bytes"),
            "{}",
            d[0].message
        );
        // Up to the limit, a chain renders.
        let chain = "|trim".repeat((MAX_TAG_BYTES - " vars.support ".len()) / 5);
        let (out, d) = render(&format!("a: \"{{{{ vars.support{chain} }}}}\"\n"));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(out.as_deref(), Some("help@example.com"));
        // Literal text and raw blocks may be long.
        let long = "x".repeat(10 * MAX_TAG_BYTES);
        let (out, d) = render(&format!(
            "a: \"{long}{{% raw %}}{{{{{long}}}}}{{% endraw %}}\"\n"
        ));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(out.unwrap().len(), 2 * long.len() + 4);
    }

    #[test]
    fn includes_do_not_exist() {
        // Refused twice over: the statement check stops them first, and minijinja is built without
        // `multi_template`, so include/import/extends are not even syntax.
        for tag in ["include 'secret.txt'", "import 'x' as y", "extends 'base'"] {
            let (out, d) = render(&format!("a: \"{{% {tag} %}}\"\n"));
            assert!(out.is_none());
            assert_eq!(d[0].code, "template-unsupported", "{tag}");
        }
    }
}
