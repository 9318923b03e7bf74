//! `Sp<T>`: a value with the byte range it came from, and free-form plist values.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A value and the byte range of its YAML node (quotes included for quoted scalars).
#[derive(Clone, Debug)]
pub struct Sp<T> {
    pub value: T,
    pub span: Range<usize>,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Range<usize>) -> Self {
        Self { value, span }
    }
}

impl<T: PartialEq> PartialEq for Sp<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<T>::deserialize(d)?;
        let span = s.referenced.span();
        let start = span.byte_offset().unwrap_or(0) as usize;
        let len = span.byte_len().unwrap_or(0) as usize;
        Ok(Sp {
            value: s.value,
            span: start..start + len,
        })
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A free-form value as written in YAML: preference values, profile payload settings, template
/// variables. Every node keeps its span, so later checks can point into it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Integer(i64),
    Real(f64),
    String(String),
    Array(Vec<Sp<Value>>),
    /// Keys in the order written; duplicates were rejected by the parser.
    Dict(Vec<(Sp<String>, Sp<Value>)>),
    Null,
    /// Bytes, written `{$data: <base64>}`; a plist `<data>`.
    Data(Vec<u8>),
    /// A UTC instant, written `{$date: YYYY-MM-DDTHH:MM:SSZ}` and kept as written; a plist `<date>`.
    Date(String),
}

/// The one key of a mapping that stands for bytes.
pub const DATA_KEY: &str = "$data";
/// The one key of a mapping that stands for a date.
pub const DATE_KEY: &str = "$date";

impl Value {
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "a boolean",
            Value::Integer(_) => "an integer",
            Value::Real(_) => "a real number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Dict(_) => "a mapping",
            Value::Null => "null",
            Value::Data(_) => "data",
            Value::Date(_) => "a date",
        }
    }
}

/// Decodes the text of a `$data` mapping: standard base64 alphabet with padding; whitespace and
/// line breaks anywhere are ignored, so a long blob can be a block scalar.
pub fn decode_data(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| {
            format!("`$data` must be base64 (standard alphabet A–Z a–z 0–9 + /, `=` padding): {e}")
        })
}

/// Checks the text of a `$date` mapping: exactly `YYYY-MM-DDTHH:MM:SSZ`, a real UTC instant.
pub fn check_date(text: &str) -> Result<(), String> {
    let b = text.as_bytes();
    let shape = b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().unwrap_or(u32::MAX);
    let valid = shape && {
        let (y, m, d) = (num(0..4), num(5..7), num(8..10));
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let days = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => 0,
        };
        y >= 1
            && (1..=days).contains(&d)
            && num(11..13) < 24
            && num(14..16) < 60
            && num(17..19) < 60
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`$date` must be a UTC time written YYYY-MM-DDTHH:MM:SSZ, e.g. 2026-01-31T09:00:00Z; `{text}` is not"
        ))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean, number, string, list or mapping")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Integer(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Integer)
            .map_err(|_| E::custom(format!("integer {v} is too large for a plist integer")))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Real(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out: Vec<(Sp<String>, Sp<Value>)> = Vec::new();
        while let Some(k) = map.next_key::<Sp<String>>()? {
            let tagged = [DATA_KEY, DATE_KEY].contains(&k.value.as_str());
            if tagged && let Some((first, _)) = out.first() {
                return Err(de::Error::custom(format!(
                    "`{}` must be the only key of its mapping, but `{}` is there too",
                    k.value, first.value
                )));
            }
            if !tagged {
                let v = map.next_value()?;
                out.push((k, v));
                continue;
            }
            // The scalar's own deserializer puts its location on an error from these visitors.
            let v = if k.value == DATA_KEY {
                Value::Data(map.next_value::<DataText>()?.0)
            } else {
                Value::Date(map.next_value::<DateText>()?.0)
            };
            if let Some(other) = map.next_key::<Sp<String>>()? {
                return Err(de::Error::custom(format!(
                    "`{}` must be the only key of its mapping, but `{}` is there too",
                    k.value, other.value
                )));
            }
            return Ok(v);
        }
        Ok(Value::Dict(out))
    }
}

/// The bytes of a `$data` mapping, decoded while the parser still knows where the text is.
struct DataText(Vec<u8>);

impl<'de> Deserialize<'de> for DataText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DataText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("base64 text")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DataText, E> {
                decode_data(v).map(DataText).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// The text of a `$date` mapping, checked while the parser still knows where it is.
struct DateText(String);

impl<'de> Deserialize<'de> for DateText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DateText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a date written YYYY-MM-DDTHH:MM:SSZ")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DateText, E> {
                check_date(v)
                    .map(|()| DateText(v.to_owned()))
                    .map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl JsonSchema for Value {
    fn schema_name() -> Cow<'static, str> {
        "Value".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "A property-list value: boolean, integer, real, string, array or mapping; `{$data: <base64>}` for data and `{$date: YYYY-MM-DDTHH:MM:SSZ}` for a date.",
            "type": ["boolean", "integer", "number", "string", "array", "object"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::model::ItemsFile;

    /// A file's entries, or its problems as (code, message, start).
    type Parsed = Result<Vec<(Sp<String>, Sp<Value>)>, Vec<(String, String, usize)>>;

    /// The `values` of one preference item holding `body` (indented under `values:`).
    fn values(body: &str) -> (String, Parsed) {
        let text = format!(
            "items:\n  - name: P\n    kind: preference\n    domain: d\n    values:\n{body}"
        );
        let mut diags = Vec::new();
        let f: Option<ItemsFile> = crate::syntax::parse("i.yaml", &text, &mut diags);
        let out = match f {
            Some(f) if diags.is_empty() => match f.items[0].values.clone().unwrap().value {
                Value::Dict(d) => Ok(d),
                v => panic!("{v:?}"),
            },
            _ => Err(diags
                .iter()
                .map(|d| {
                    (
                        d.code.to_owned(),
                        d.message.clone(),
                        d.primary().unwrap().span.start,
                    )
                })
                .collect()),
        };
        (text, out)
    }

    #[test]
    fn data_and_date_mappings_become_data_and_date() {
        let (_, v) = values(
            "      blob: {$data: aGVsbG8=}\n      long:\n        $data: |\n          aGVs\n          bG8gd29y bGQ=\n      when: {$date: 2024-02-29T23:59:59Z}\n      empty: {$data: \"\"}\n      plain: {data: x}\n",
        );
        let v = v.unwrap();
        let got: Vec<_> = v
            .iter()
            .map(|(k, v)| (k.value.as_str(), v.value.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("blob", Value::Data(b"hello".to_vec())),
                ("long", Value::Data(b"hello world".to_vec())),
                ("when", Value::Date("2024-02-29T23:59:59Z".into())),
                ("empty", Value::Data(Vec::new())),
                (
                    "plain",
                    Value::Dict(vec![(
                        Sp::new("data".into(), 0..0),
                        Sp::new(Value::String("x".into()), 0..0)
                    )])
                ),
            ]
        );
        assert_eq!(v[0].1.value.kind(), "data");
        assert_eq!(v[2].1.value.kind(), "a date");
    }

    #[test]
    fn bad_data_and_dates_are_errors_at_their_text() {
        for (body, needle, bad) in [
            ("      b: {$data: \"aGVsbG8\"}\n", "base64", "\"aGVsbG8\""),
            ("      b: {$data: \"a*Vs\"}\n", "base64", "\"a*Vs\""),
            (
                "      b: {$date: 2024-02-30T00:00:00Z}\n",
                "YYYY-MM-DDTHH:MM:SSZ",
                "2024-02-30T00:00:00Z",
            ),
            (
                "      b: {$date: \"2024-01-01 00:00:00\"}\n",
                "YYYY-MM-DDTHH:MM:SSZ",
                "\"2024-01-01 00:00:00\"",
            ),
            (
                "      b: {$date: \"2024-01-01T00:00:00+01:00\"}\n",
                "YYYY-MM-DDTHH:MM:SSZ",
                "\"2024-01-01T00:00:00+01:00\"",
            ),
            (
                "      b: {$date: 2023-02-29T00:00:00Z}\n",
                "YYYY-MM-DDTHH:MM:SSZ",
                "2023-02-29T00:00:00Z",
            ),
        ] {
            let (text, v) = values(body);
            let e = v.expect_err(body);
            assert_eq!(e.len(), 1, "{e:?}");
            assert!(e[0].1.contains(needle), "{e:?}");
            assert!(
                text[e[0].2..].starts_with(bad),
                "{body}: error at {:?}",
                &text[e[0].2..]
            );
        }
    }

    #[test]
    fn data_and_date_keys_stand_alone() {
        for body in [
            "      b: {$data: aGVsbG8=, other: 1}\n",
            "      b: {other: 1, $date: 2024-01-01T00:00:00Z}\n",
            "      b: {$data: aGVsbG8=, $date: 2024-01-01T00:00:00Z}\n",
        ] {
            let (_, v) = values(body);
            let e = v.expect_err(body);
            assert!(e[0].1.contains("must be the only key"), "{e:?}");
        }
        let (_, v) = values("      b: {$data: 12}\n");
        assert!(v.is_err());
        let (_, v) = values("      b: {$date: [1]}\n");
        assert!(v.is_err());
    }

    #[test]
    fn check_date_takes_only_the_one_form() {
        for ok in [
            "2026-01-31T09:00:00Z",
            "2000-02-29T00:00:00Z",
            "0001-01-01T00:00:00Z",
        ] {
            assert!(check_date(ok).is_ok(), "{ok}");
        }
        for bad in [
            "1900-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-31T24:00:00Z",
            "2026-01-31T09:60:00Z",
            "2026-01-31T09:00:60Z",
            "2026-01-31t09:00:00z",
            "2026-01-31T09:00:00.5Z",
            "+2026-01-31T09:00:00Z",
            "",
        ] {
            assert!(check_date(bad).is_err(), "{bad}");
        }
    }
}
