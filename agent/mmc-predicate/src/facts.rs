//! Fact values, Munki's built-in facts, and reading facts files.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// A fact's value, as Munki's info dictionary holds it.
#[derive(Clone, Debug, PartialEq)]
pub enum FactValue {
    String(String),
    Integer(i64),
    Real(f64),
    Bool(bool),
    /// Seconds since 2001-01-01T00:00:00Z.
    Date(f64),
    Array(Vec<FactValue>),
    Dict(BTreeMap<String, FactValue>),
}

/// Fact name → value. A name that is absent is nil to a predicate.
pub type Facts = BTreeMap<String, FactValue>;

/// The type of a built-in fact, for the compiler's type checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactType {
    String,
    Integer,
    Real,
    Bool,
    Date,
    StringArray,
    /// `applications`: dictionaries with `bundleid`, `name`, `path`, `version` strings.
    DictArray,
}

/// Munki 7's built-in facts and their types (Munki 7 types where Munki 6 differed:
/// `os_build_last_component` is a string). `x86_64_capable` exists only on Intel Macs, and
/// `catalogs` only while conditional items are evaluated.
pub const BUILTIN_FACTS: &[(&str, FactType)] = &[
    ("hostname", FactType::String),
    ("arch", FactType::String),
    ("x86_64_capable", FactType::Bool),
    ("os_vers", FactType::String),
    ("os_vers_major", FactType::Integer),
    ("os_vers_minor", FactType::Integer),
    ("os_vers_patch", FactType::Integer),
    ("os_build_number", FactType::String),
    ("os_build_last_component", FactType::String),
    ("machine_model", FactType::String),
    ("machine_type", FactType::String),
    ("munki_version", FactType::String),
    ("ipv4_address", FactType::StringArray),
    ("ipv6_address", FactType::StringArray),
    ("serial_number", FactType::String),
    ("product_name", FactType::String),
    ("ibridge_model_name", FactType::String),
    ("board_id", FactType::String),
    ("device_id", FactType::String),
    ("date", FactType::Date),
    ("applications", FactType::DictArray),
    ("catalogs", FactType::StringArray),
];

/// Seconds from the Unix epoch to 2001-01-01T00:00:00Z.
const UNIX_TO_REFERENCE: f64 = 978_307_200.0;

/// Reads a JSON object of facts. Strings stay strings (a date in JSON is just text), integers
/// that fit in 64 bits are integers and other numbers reals; a `null` member is left out (a
/// missing fact is nil anyway); `null` inside an array is an error.
pub fn facts_from_json(bytes: &[u8]) -> Result<Facts, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    let serde_json::Value::Object(object) = value else {
        return Err("the top level of a facts file must be a JSON object".to_owned());
    };
    json_object(&object, "")
}

fn json_object(
    object: &serde_json::Map<String, serde_json::Value>,
    path: &str,
) -> Result<BTreeMap<String, FactValue>, String> {
    let mut facts = BTreeMap::new();
    for (key, value) in object {
        if value.is_null() {
            continue;
        }
        let here = join(path, key);
        facts.insert(key.clone(), json_value(value, &here)?);
    }
    Ok(facts)
}

fn json_value(value: &serde_json::Value, path: &str) -> Result<FactValue, String> {
    use serde_json::Value;
    Ok(match value {
        Value::Null => return Err(format!("{path}: null is not a value an array can hold")),
        Value::Bool(b) => FactValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => FactValue::Integer(i),
            None => FactValue::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => FactValue::String(s.clone()),
        Value::Array(items) => FactValue::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| json_value(item, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(object) => FactValue::Dict(json_object(object, path)?),
    })
}

/// Reads a property list (XML or binary) whose top level is a dictionary of facts: a
/// `ConditionalItems.plist` as admin condition scripts write it, or Munki's
/// `ManagedInstallReport.plist`, whose `Conditions` dictionary is then used.
pub fn facts_from_plist(bytes: &[u8]) -> Result<Facts, String> {
    let value = plist::Value::from_reader(std::io::Cursor::new(bytes))
        .map_err(|e| format!("not a readable property list: {e}"))?;
    let plist::Value::Dictionary(mut top) = value else {
        return Err("the top level of a facts property list must be a dictionary".to_owned());
    };
    if let Some(plist::Value::Dictionary(conditions)) = top.remove("Conditions") {
        top = conditions;
    }
    plist_dict(&top, "")
}

fn plist_dict(dict: &plist::Dictionary, path: &str) -> Result<BTreeMap<String, FactValue>, String> {
    dict.iter()
        .map(|(key, value)| {
            let here = join(path, key);
            Ok((key.clone(), plist_value(value, &here)?))
        })
        .collect()
}

fn plist_value(value: &plist::Value, path: &str) -> Result<FactValue, String> {
    use plist::Value;
    Ok(match value {
        Value::String(s) => FactValue::String(s.clone()),
        Value::Boolean(b) => FactValue::Bool(*b),
        Value::Integer(i) => match i.as_signed() {
            Some(i) => FactValue::Integer(i),
            None => FactValue::Real(i.as_unsigned().map_or(f64::NAN, |u| u as f64)),
        },
        Value::Real(r) => FactValue::Real(*r),
        Value::Date(date) => FactValue::Date(seconds_since_2001(SystemTime::from(*date))),
        Value::Array(items) => FactValue::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| plist_value(item, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Dictionary(dict) => FactValue::Dict(plist_dict(dict, path)?),
        Value::Data(_) => {
            return Err(format!(
                "{path}: data values cannot be compared in a condition; store text or a number"
            ));
        }
        _ => {
            return Err(format!(
                "{path}: this kind of property list value is not a fact value"
            ));
        }
    })
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A system time as seconds since 2001-01-01T00:00:00Z.
pub(crate) fn seconds_since_2001(time: SystemTime) -> f64 {
    let unix = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    };
    unix - UNIX_TO_REFERENCE
}
