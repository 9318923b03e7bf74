//! One payload's `settings` against Apple's schema: keys, types, allowed values, ranges,
//! formats, array lengths, required keys (recursively), and macOS versions.

use std::ops::Range;

use serde_json::Value as Json;

use super::schema::{self, Bounds, KeySchema, MacVersion, Os, Ty};
use crate::diag::Severity;
use crate::syntax::spanned::{Sp, Value};

/// The Macs a repository targets.
#[derive(Clone, Debug)]
pub struct Target {
    /// `min_macos`, or macOS 13 when the repository does not say.
    pub min: MacVersion,
    /// Whether `min_macos` was written (only then are keys newer than it reported).
    pub declared: bool,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            min: MacVersion::parse(DEFAULT_MIN_MACOS).expect("a version"),
            declared: false,
        }
    }
}

/// What removed and deprecated keys are checked against when `min_macos` is not set.
pub const DEFAULT_MIN_MACOS: &str = "13.0";

/// One problem in one payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    /// Where in the payload, e.g. `Applications[0].BundleID`; empty for the payload type.
    pub path: String,
    pub message: String,
    pub span: Range<usize>,
    pub label: String,
    pub help: Option<String>,
}

/// Keys every payload has; mmc writes them (a YAML payload that sets them gets `reserved-key`).
/// `PayloadEnabled` is not in Apple's schema, but Profile Manager and other editors write it into
/// every payload and macOS accepts it, so it is no unknown key either.
const COMMON_KEYS: &[&str] = &[
    "PayloadType",
    "PayloadUUID",
    "PayloadIdentifier",
    "PayloadVersion",
    "PayloadDisplayName",
    "PayloadDescription",
    "PayloadOrganization",
    "PayloadEnabled",
];

/// Checks one payload. `ty` is its PayloadType; `settings` its keys (`None`: no keys).
pub fn validate(ty: &Sp<String>, settings: Option<&Sp<Value>>, target: &Target) -> Vec<Finding> {
    let mut v = Validator {
        target,
        payload: &ty.value,
        out: Vec::new(),
    };
    let Some(schema) = schema::data().payloads.get(&ty.value) else {
        v.unknown_type(ty);
        return v.out;
    };
    v.check_os(
        &schema.os,
        &format!("payload type `{}`", ty.value),
        "",
        ty.span.clone(),
    );
    let no_entries = Vec::new();
    let entries = match settings.map(|s| &s.value) {
        None => &no_entries,
        Some(Value::Dict(entries)) => entries,
        // Not a mapping: `bad-settings` says so.
        Some(_) => return v.out,
    };
    v.check_dict(
        entries,
        &schema.keys,
        &mut Vec::new(),
        "",
        ty.span.clone(),
        true,
    );
    v.out
}

struct Validator<'t> {
    target: &'t Target,
    payload: &'t str,
    out: Vec<Finding>,
}

impl Validator<'_> {
    fn push(
        &mut self,
        (severity, code): (Severity, &'static str),
        path: &str,
        span: Range<usize>,
        message: String,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        self.out.push(Finding {
            code,
            severity,
            path: path.to_owned(),
            message,
            span,
            label: label.into(),
            help,
        });
    }

    fn unknown_type(&mut self, ty: &Sp<String>) {
        let lower = ty.value.to_lowercase();
        let suggestion = if lower.starts_with("com.apple.") {
            closest(
                &ty.value,
                schema::data().payloads.keys().map(String::as_str),
            )
        } else {
            None
        };
        let help = match suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => "normal for third-party apps' and custom payloads; check their keys against the vendor's documentation".to_owned(),
        };
        self.push(
            (Severity::Note, "profile-unknown-type"),
            "",
            ty.span.clone(),
            format!(
                "payload type `{}` is not in Apple's schema for macOS; its keys are not checked",
                ty.value
            ),
            "keys not checked",
            Some(help),
        );
    }

    /// Reports what `os` says (a payload type's support, or the fields a key overrides).
    fn check_os(&mut self, os: &Os, what: &str, path: &str, span: Range<usize>) {
        let min = &self.target.min;
        let version = |s: &Option<String>| s.as_deref().and_then(MacVersion::parse);
        let against = if self.target.declared {
            format!("min_macos is {min}")
        } else {
            format!("checked against macOS {min}; set `min_macos` in mmc.yaml")
        };
        if os.introduced.as_deref() == Some("n/a") {
            self.push(
                (Severity::Warning, "profile-not-on-macos"),
                path,
                span,
                format!("{what} is not supported on macOS"),
                "macOS ignores this",
                Some(
                    "Apple documents it for other platforms only; remove it from a macOS profile"
                        .into(),
                ),
            );
            return;
        }
        if let Some(removed) = version(&os.removed)
            && removed <= *min
        {
            self.push(
                (Severity::Error, "profile-removed"),
                path,
                span,
                format!("{what} was removed in macOS {removed}"),
                format!("removed in macOS {removed}"),
                Some(format!(
                    "remove it: Macs on macOS {removed} and later ignore it ({against})"
                )),
            );
            return;
        }
        if let Some(deprecated) = version(&os.deprecated)
            && deprecated <= *min
        {
            self.push(
                (Severity::Warning, "profile-deprecated"),
                path,
                span.clone(),
                format!("{what} is deprecated since macOS {deprecated}"),
                format!("deprecated in macOS {deprecated}"),
                Some(format!(
                    "Apple may remove it; see Apple's documentation for its replacement ({against})"
                )),
            );
        }
        if self.target.declared
            && let Some(introduced) = version(&os.introduced)
            && introduced > *min
        {
            self.push(
                (Severity::Warning, "profile-too-new"),
                path,
                span,
                format!("{what} needs macOS {introduced}; Macs older than that ignore it"),
                format!("macOS {introduced} and later"),
                Some(format!("fine if intended ({against}); raise min_macos once every Mac runs macOS {introduced}")),
            );
        }
    }

    /// `anchor` is where a missing required key is reported (the key whose value this is).
    fn check_dict(
        &mut self,
        entries: &[(Sp<String>, Sp<Value>)],
        keys: &'static [KeySchema],
        ancestors: &mut Vec<&'static KeySchema>,
        path: &str,
        anchor: Range<usize>,
        top: bool,
    ) {
        let any = keys.iter().find(|k| k.key == "ANY");
        for (k, v) in entries {
            if top && COMMON_KEYS.contains(&k.value.as_str()) {
                continue;
            }
            let here = join(path, &k.value);
            match keys.iter().find(|s| s.key == k.value).or(any) {
                None => self.unknown_key(k, keys, path, &here),
                Some(s) => {
                    self.check_os(&s.os, &format!("`{}`", k.value), &here, k.span.clone());
                    self.check_value(v, s, ancestors, &here, k.span.clone());
                }
            }
        }
        for s in keys.iter().filter(|s| s.required && s.key != "ANY") {
            if entries.iter().any(|(k, _)| k.value == s.key) || !self.applies(&s.os) {
                continue;
            }
            let place = if path.is_empty() {
                format!("payload `{}`", self.payload)
            } else {
                format!("`{path}`")
            };
            self.push(
                (Severity::Error, "profile-missing-key"),
                &join(path, &s.key),
                anchor.clone(),
                format!("{place} needs the key `{}`", s.key),
                format!("`{}` missing here", s.key),
                Some(format!(
                    "add `{}` ({}); Apple marks it required",
                    s.key,
                    s.ty.describe()
                )),
            );
        }
    }

    /// Whether a key that `os` describes exists on the target Macs (for required-key checks).
    fn applies(&self, os: &Os) -> bool {
        let removed = os.removed.as_deref().and_then(MacVersion::parse);
        os.introduced.as_deref() != Some("n/a") && removed.is_none_or(|r| r > self.target.min)
    }

    fn unknown_key(&mut self, k: &Sp<String>, keys: &[KeySchema], parent: &str, here: &str) {
        let names = keys.iter().map(|s| s.key.as_str()).filter(|n| *n != "ANY");
        let place = if parent.is_empty() {
            format!("`{}`", self.payload)
        } else {
            format!("`{parent}`")
        };
        let elsewhere = || {
            schema::data()
                .payloads
                .iter()
                .find(|(t, p)| *t != self.payload && p.keys.iter().any(|s| s.key == k.value))
                .map(|(t, _)| t.as_str())
        };
        let help = match (closest(&k.value, names), parent.is_empty()) {
            (Some(s), _) => format!("did you mean `{s}`?"),
            (None, true) if let Some(t) = elsewhere() => format!(
                "Apple documents `{}` for payload type `{t}`; macOS may ignore it here",
                k.value
            ),
            _ => format!(
                "macOS ignores keys it does not know; see Apple's documentation of `{}` for the keys it takes",
                self.payload
            ),
        };
        self.push(
            (Severity::Error, "profile-unknown-key"),
            here,
            k.span.clone(),
            format!("unknown key `{}` in {place}", k.value),
            format!("not a key of {place}"),
            Some(help),
        );
    }

    fn check_value(
        &mut self,
        v: &Sp<Value>,
        key: &'static KeySchema,
        ancestors: &mut Vec<&'static KeySchema>,
        path: &str,
        anchor: Range<usize>,
    ) {
        if matches!(v.value, Value::Null) {
            return; // `null-value` when lowering
        }
        if key.ty == Ty::Boolean && matches!(v.value, Value::Integer(0 | 1)) {
            self.push(
                (Severity::Warning, "profile-integer-boolean"),
                path,
                v.span.clone(),
                format!("`{}` should be a boolean, not an integer", key_name(path)),
                "0 or 1",
                Some("macOS reads 0 and 1 as false and true here, but Apple documents a boolean: write `true` or `false`".into()),
            );
            return;
        }
        if !fits(key.ty, &v.value) {
            self.push(
                (Severity::Error, "profile-wrong-type"),
                path,
                v.span.clone(),
                format!(
                    "`{}` must be {}, not {}",
                    key_name(path),
                    key.ty.describe(),
                    v.value.kind()
                ),
                format!("this is {}", v.value.kind()),
                type_help(key.ty, &v.value),
            );
            return;
        }
        match &v.value {
            Value::String(s) if is_template(s) => {}
            Value::Array(items) => {
                let subkeys = subkeys(key, ancestors);
                let element = subkeys.first();
                let repetition = key
                    .repetition
                    .as_ref()
                    .or(element.and_then(|e| e.repetition.as_ref()));
                if let Some(b) = repetition {
                    self.check_count(items.len(), b, path, v.span.clone());
                }
                if let Some(rangelist) = &key.rangelist {
                    for (i, item) in items.iter().enumerate() {
                        self.check_rangelist(
                            &item.value,
                            rangelist,
                            &format!("{path}[{i}]"),
                            item.span.clone(),
                        );
                    }
                }
                if let Some(element) = element {
                    ancestors.push(key);
                    for (i, item) in items.iter().enumerate() {
                        let anchor = match &item.value {
                            Value::Dict(e) if !e.is_empty() => e[0].0.span.clone(),
                            _ => item.span.clone(),
                        };
                        let here = format!("{path}[{i}]");
                        self.check_value(item, element, ancestors, &here, anchor);
                    }
                    ancestors.pop();
                }
            }
            Value::Dict(entries) => {
                let subkeys = subkeys(key, ancestors);
                if subkeys.is_empty() {
                    return;
                }
                ancestors.push(key);
                self.check_dict(entries, subkeys, ancestors, path, anchor, false);
                ancestors.pop();
            }
            scalar => {
                if let Some(rangelist) = &key.rangelist {
                    self.check_rangelist(scalar, rangelist, path, v.span.clone());
                }
                if let Some(range) = &key.range {
                    self.check_range(scalar, range, path, v.span.clone());
                }
                if let (Some(format), Value::String(s)) = (&key.format, scalar) {
                    self.check_format(s, format, path, v.span.clone());
                }
            }
        }
    }

    fn check_rangelist(&mut self, v: &Value, list: &[Json], path: &str, span: Range<usize>) {
        if matches!(v, Value::String(s) if is_template(s)) || list.iter().any(|j| same(j, v)) {
            return;
        }
        let shown: Vec<String> = list.iter().take(12).map(show).collect();
        let mut allowed = shown.join(", ");
        if list.len() > shown.len() {
            allowed.push_str(&format!(", … ({} in all)", list.len()));
        }
        let case_twin = match v {
            Value::String(s) => list.iter().find_map(|j| match j {
                Json::String(a) if a.eq_ignore_ascii_case(s) => Some(a.clone()),
                _ => None,
            }),
            _ => None,
        };
        let help = match case_twin {
            Some(a) => format!("did you mean `{a}`? Values are case-sensitive"),
            None => format!("allowed: {allowed}"),
        };
        self.push(
            (Severity::Error, "profile-not-in-rangelist"),
            path,
            span,
            format!(
                "`{}` is not an allowed value of `{}`",
                scalar_text(v),
                key_name(path)
            ),
            "not allowed",
            Some(help),
        );
    }

    fn check_range(&mut self, v: &Value, b: &Bounds, path: &str, span: Range<usize>) {
        let n = match v {
            Value::Integer(i) => *i as f64,
            Value::Real(r) => *r,
            _ => return,
        };
        if b.min.is_some_and(|m| n < m) || b.max.is_some_and(|m| n > m) {
            self.push(
                (Severity::Error, "profile-out-of-range"),
                path,
                span,
                format!("`{}` is outside {}", scalar_text(v), bounds_text(b)),
                "out of range",
                Some(format!(
                    "Apple allows {} for `{}`",
                    bounds_text(b),
                    key_name(path)
                )),
            );
        }
    }

    fn check_count(&mut self, n: usize, b: &Bounds, path: &str, span: Range<usize>) {
        let n_f = n as f64;
        if b.min.is_some_and(|m| n_f < m) || b.max.is_some_and(|m| n_f > m) {
            self.push(
                (Severity::Error, "profile-repetition"),
                path,
                span,
                format!(
                    "`{}` has {n} entr{}; Apple allows {}",
                    last(path),
                    if n == 1 { "y" } else { "ies" },
                    bounds_text(b)
                ),
                "wrong number of entries",
                Some(format!(
                    "give it {} entr{}",
                    bounds_text(b),
                    if b.max == Some(1.0) { "y" } else { "ies" }
                )),
            );
        }
    }

    fn check_format(&mut self, s: &str, format: &str, path: &str, span: Range<usize>) {
        let Ok(re) = regex_lite::Regex::new(format) else {
            return; // every format in the data compiles (tested)
        };
        if !re.is_match(s) {
            self.push(
                (Severity::Error, "profile-format"),
                path,
                span,
                format!("`{s}` does not have the format `{}` needs", key_name(path)),
                "wrong format",
                Some(format!("Apple's pattern: {format}")),
            );
        }
    }
}

/// A dictionary's keys or an array's element, following `same_as` up the ancestors.
fn subkeys(key: &'static KeySchema, ancestors: &[&'static KeySchema]) -> &'static [KeySchema] {
    match key.same_as {
        None => &key.subkeys,
        Some(n) if n >= 1 && n <= ancestors.len() => &ancestors[ancestors.len() - n].subkeys,
        Some(_) => &[],
    }
}

fn fits(ty: Ty, v: &Value) -> bool {
    matches!(
        (ty, v),
        (Ty::Any, _)
            | (Ty::String, Value::String(_))
            | (Ty::Integer, Value::Integer(_))
            | (Ty::Real, Value::Integer(_) | Value::Real(_))
            | (Ty::Boolean, Value::Bool(_))
            | (Ty::Date, Value::Date(_))
            | (Ty::Data, Value::Data(_))
            | (Ty::Array, Value::Array(_))
            | (Ty::Dictionary, Value::Dict(_))
    )
}

fn type_help(ty: Ty, v: &Value) -> Option<String> {
    Some(match (ty, v) {
        (Ty::Integer | Ty::Real, Value::String(s)) if is_template(s) => {
            "a template always renders to a string; write the number itself".into()
        }
        (Ty::Integer, Value::String(s)) if s.trim().parse::<i64>().is_ok() => {
            format!("write the number without quotes: `{}`", s.trim())
        }
        (Ty::Real, Value::String(s)) if s.trim().parse::<f64>().is_ok() => {
            format!("write the number without quotes: `{}`", s.trim())
        }
        (Ty::Integer, Value::Real(r)) if r.fract() == 0.0 => {
            format!("write it without the decimal point: `{r:.0}`")
        }
        (Ty::Boolean, Value::String(s))
            if matches!(s.to_lowercase().as_str(), "true" | "false" | "yes" | "no") =>
        {
            "write `true` or `false` without quotes".into()
        }
        (Ty::Boolean, Value::Integer(0 | 1)) => "write `true` or `false`".into(),
        (Ty::String, Value::Integer(_) | Value::Real(_) | Value::Bool(_)) => {
            "YAML read this as a number or boolean; quote it to make it a string".into()
        }
        (Ty::Array, _) => "write a list, e.g. `[value]`".into(),
        (Ty::Data, _) => "write binary data as `{$data: <base64>}`".into(),
        (Ty::Date, _) => "write a date as `{$date: \"2026-01-01T00:00:00Z\"}`".into(),
        _ => return None,
    })
}

/// A string mmc renders as a template: its value is known only per bundle.
fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

fn same(j: &Json, v: &Value) -> bool {
    match (j, v) {
        (Json::String(a), Value::String(b)) => a == b,
        (Json::Number(n), Value::Integer(i)) => {
            n.as_i64() == Some(*i) || n.as_f64() == Some(*i as f64)
        }
        (Json::Number(n), Value::Real(r)) => n.as_f64() == Some(*r),
        (Json::Bool(a), Value::Bool(b)) => a == b,
        _ => false,
    }
}

fn show(j: &Json) -> String {
    match j {
        Json::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.kind().to_owned(),
    }
}

fn num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        n.to_string()
    }
}

fn bounds_text(b: &Bounds) -> String {
    match (b.min, b.max) {
        (Some(a), Some(z)) if a == z => format!("exactly {}", num(a)),
        (Some(a), Some(z)) => format!("{}–{}", num(a), num(z)),
        (Some(a), None) => format!("at least {}", num(a)),
        (None, Some(z)) => format!("at most {}", num(z)),
        (None, None) => "any".into(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The last step of a path (`Applications[0].Allowed` → `Allowed`, `Subject[1][0]` → `Subject[1][0]`).
fn last(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// The key a value belongs to, without element indexes (`mount-controls.cd[1]` → `cd`).
fn key_name(path: &str) -> &str {
    let l = last(path);
    l.find('[').map_or(l, |i| &l[..i])
}

/// The closest candidate: a case-insensitive equal first, else the smallest edit distance
/// (Damerau–Levenshtein, at most a third of the name and at most 3); ties go to the first in
/// sorted order.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        let c_lower = c.to_lowercase();
        if c_lower == lower {
            return Some(c);
        }
        let d = strsim::damerau_levenshtein(&lower, &c_lower);
        if d <= 3 && d * 3 <= name.chars().count() && best.is_none_or(|(bd, bc)| (d, c) < (bd, bc))
        {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}
