//! Field-level differences between two property-list values: the structural differ behind every
//! item, manifest-text and profile change.

use plist::Value as Pv;
use serde_json::Value as Json;

use super::{Field, FieldChange};

/// Appends the differences between `before` and `after` below `path` to `out`, in key order.
/// Dictionaries recurse by key; arrays of scalars are compared whole, other arrays element by
/// element; text of several lines becomes a unified diff.
pub fn diff(path: &str, before: Option<&Pv>, after: Option<&Pv>, out: &mut Vec<Field>) {
    match (before, after) {
        (None, None) => {}
        (Some(a), Some(b)) if a == b => {}
        (Some(Pv::Dictionary(a)), Some(Pv::Dictionary(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                diff(&join(path, k), a.get(k), b.get(k), out);
            }
        }
        (Some(Pv::Array(a)), Some(Pv::Array(b))) if !(all_scalar(a) && all_scalar(b)) => {
            for i in 0..a.len().max(b.len()) {
                diff(&format!("{path}[{i}]"), a.get(i), b.get(i), out);
            }
        }
        (a, b) if is_text(a) || is_text(b) => out.push(Field {
            path: path.to_owned(),
            change: text_change(
                a.and_then(Pv::as_string).unwrap_or(""),
                b.and_then(Pv::as_string).unwrap_or(""),
                a.is_some(),
                b.is_some(),
            ),
        }),
        (a, b) => out.push(Field {
            path: path.to_owned(),
            change: match (a, b) {
                (None, Some(b)) => FieldChange::Added { after: json(b) },
                (Some(a), None) => FieldChange::Removed { before: json(a) },
                (Some(a), Some(b)) => FieldChange::Changed {
                    before: json(a),
                    after: json(b),
                },
                (None, None) => unreachable!("handled above"),
            },
        }),
    }
}

/// A change of a text field (a script, a file's content) as a unified diff.
pub fn text_change(before: &str, after: &str, had: bool, has: bool) -> FieldChange {
    let diff = similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .missing_newline_hint(true)
        .to_string();
    FieldChange::Text {
        before: had.then(|| before.to_owned()),
        after: has.then(|| after.to_owned()),
        diff,
    }
}

/// Text spanning several lines (scripts, file contents): shown as a unified diff.
fn is_text(v: Option<&Pv>) -> bool {
    v.and_then(Pv::as_string).is_some_and(|s| s.contains('\n'))
}

fn all_scalar(a: &[Pv]) -> bool {
    a.iter()
        .all(|v| !matches!(v, Pv::Array(_) | Pv::Dictionary(_)))
}

/// `a.b`, with keys that are not plain words quoted: `values["com.apple.x"]`.
pub fn join(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Json::String(key.to_owned())),
    }
}

/// The JSON form of a property-list value (dates as RFC 3339 text, data as a size note).
pub fn json(v: &Pv) -> Json {
    match v {
        Pv::String(s) => Json::String(s.clone()),
        Pv::Boolean(b) => Json::Bool(*b),
        Pv::Integer(i) => i
            .as_signed()
            .map(Json::from)
            .or_else(|| i.as_unsigned().map(Json::from))
            .unwrap_or(Json::Null),
        Pv::Real(r) => serde_json::Number::from_f64(*r).map_or(Json::Null, Json::Number),
        Pv::Array(a) => Json::Array(a.iter().map(json).collect()),
        Pv::Dictionary(d) => Json::Object(d.iter().map(|(k, v)| (k.clone(), json(v))).collect()),
        Pv::Date(d) => Json::String(d.to_xml_format()),
        Pv::Data(d) => Json::String(format!("<{} bytes of data>", d.len())),
        Pv::Uid(u) => Json::from(u.get()),
        _ => Json::Null,
    }
}

/// The property-list form of a JSON value (`null` becomes the text `null`: a plist has none).
pub fn from_json(v: &Json) -> Pv {
    match v {
        Json::Null => Pv::String("null".to_owned()),
        Json::Bool(b) => Pv::Boolean(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Pv::Integer(i.into()),
            (None, Some(u)) => Pv::Integer(u.into()),
            _ => Pv::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Pv::String(s.clone()),
        Json::Array(a) => Pv::Array(a.iter().map(from_json).collect()),
        Json::Object(o) => {
            Pv::Dictionary(o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
    }
}

/// A value on one line, as the human and markdown renderers show it: `"128.0"`, `600`,
/// `["a", "b"]`, `{ k = 1 }`.
pub fn show(v: &Json) -> String {
    match v {
        Json::Array(a) => format!("[{}]", a.iter().map(show).collect::<Vec<_>>().join(", ")),
        Json::Object(o) if o.is_empty() => "{}".to_owned(),
        Json::Object(o) => format!(
            "{{ {} }}",
            o.iter()
                .map(|(k, v)| format!("{} = {}", join("", k), show(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict(pairs: &[(&str, Pv)]) -> Pv {
        Pv::Dictionary(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn equal_values_have_no_fields() {
        let v = dict(&[("a", Pv::Integer(1.into()))]);
        let mut out = Vec::new();
        diff("", Some(&v), Some(&v), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn dictionaries_recurse_and_arrays_of_dicts_go_by_index() {
        let a = dict(&[
            ("version", Pv::String("1".into())),
            (
                "installs",
                Pv::Array(vec![dict(&[("v", Pv::String("1".into()))])]),
            ),
            ("catalogs", Pv::Array(vec![Pv::String("testing".into())])),
            ("com.x", Pv::Boolean(true)),
        ]);
        let b = dict(&[
            ("version", Pv::String("2".into())),
            (
                "installs",
                Pv::Array(vec![dict(&[("v", Pv::String("2".into()))])]),
            ),
            (
                "catalogs",
                Pv::Array(vec![
                    Pv::String("testing".into()),
                    Pv::String("stable".into()),
                ]),
            ),
        ]);
        let mut out = Vec::new();
        diff("", Some(&a), Some(&b), &mut out);
        let paths: Vec<&str> = out.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            ["catalogs", "[\"com.x\"]", "installs[0].v", "version"]
        );
        assert!(matches!(out[1].change, FieldChange::Removed { .. }));
    }

    #[test]
    fn multi_line_text_is_a_unified_diff() {
        let a = Pv::String("#!/bin/sh\necho old\n".into());
        let b = Pv::String("#!/bin/sh\necho new\n".into());
        let mut out = Vec::new();
        diff("postinstall_script", Some(&a), Some(&b), &mut out);
        let FieldChange::Text { diff, .. } = &out[0].change else {
            panic!("{out:?}")
        };
        assert!(diff.contains("-echo old\n+echo new\n"), "{diff}");
    }

    #[test]
    fn values_show_on_one_line() {
        let v = json(&dict(&[
            ("a b", Pv::Array(vec![Pv::Integer(1.into())])),
            ("c", Pv::String("x".into())),
        ]));
        assert_eq!(show(&v), "{ [\"a b\"] = [1], c = \"x\" }");
    }
}
