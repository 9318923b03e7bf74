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
                let (code, message, help) = describe(&err);
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
    fn loops_run_out_of_fuel_and_output_is_capped() {
        let (_, d) = render(
            "a: \"{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}\"\n",
        );
        assert!(
            matches!(d[0].code, "template-fuel" | "template-output"),
            "{d:?}"
        );
        let (_, d) = render("a: \"{{ 'a' * 9000000 }}\"\n");
        assert_eq!(d[0].code, "template-output");
    }

    #[test]
    fn includes_do_not_exist() {
        // minijinja is built without `multi_template`: include/import/extends are not even syntax,
        // so no template can read another file.
        for tag in ["include 'secret.txt'", "import 'x' as y", "extends 'base'"] {
            let (out, d) = render(&format!("a: \"{{% {tag} %}}\"\n"));
            assert!(out.is_none());
            assert_eq!(d[0].code, "template-syntax", "{tag}");
        }
    }
}
