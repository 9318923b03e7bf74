//! `mmc-agent facts`, and gathering the facts conditions are evaluated against.
//!
//! Only what is portable is gathered so far: the node name, the architecture and the date.
//! The macOS-specific facts (system_profiler, IORegistry, sysctl, the app inventory, admin
//! condition scripts) come with the agent's command boundary; until then conditions see them
//! as nil.

use std::fs;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mmc_predicate::{FactValue, Facts};

const HELP: &str = "\
Print the facts this agent gathers on this machine (what `mmc-agent condition` evaluates
against when no --facts file is given).

Usage: mmc-agent facts [--format json|plist]

Options:
  --format FORMAT   json (default): one JSON object with sorted keys, dates as ISO-8601 UTC
                    text; plist: an XML property list with real <date> values, the form
                    `mmc-agent condition --facts` and Munki's ConditionalItems.plist use
  -h, --help        Print this help

Gathered today, with Munki 7's names and types:
  hostname          the node name, as `uname -n` prints it
  arch              the architecture this agent binary was built for, in Munki's names
                    (arm64, x86_64, i386); an Intel build running under Rosetta says
                    x86_64 where Munki says arm64
  x86_64_capable    true, present on x86_64 only (Munki leaves it out on Apple silicon)
  date              now plus the local time zone's offset from UTC, to the second, as
                    Munki computes it: CAST(\"...Z\", \"NSDate\") times compare as local
                    wall-clock times

Not gathered yet (platform-specific gathering comes later), so a condition sees nil:
  os_vers, os_vers_major/minor/patch, os_build_number, os_build_last_component,
  machine_model, machine_type, munki_version, ipv4_address, ipv6_address, serial_number,
  product_name, ibridge_model_name, board_id, device_id, applications, catalogs, and the
  facts of admin condition scripts.

Exit status:
  0  the facts were printed
  2  bad usage
";

#[derive(Clone, Copy)]
enum Format {
    Json,
    Plist,
}

pub(crate) fn run(mut parser: lexopt::Parser) -> Result<ExitCode, String> {
    use lexopt::prelude::*;
    let usage = |e: lexopt::Error| format!("{e} (try `mmc-agent facts --help`)");
    let mut format = Format::Json;
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Short('h') | Long("help") => {
                print!("{HELP}");
                return Ok(ExitCode::SUCCESS);
            }
            Long("format") => {
                let value = parser.value().map_err(usage)?;
                format = match value.to_str() {
                    Some("json") => Format::Json,
                    Some("plist") => Format::Plist,
                    _ => {
                        return Err(format!(
                            "--format {:?} is not a format; use json or plist",
                            value.to_string_lossy()
                        ));
                    }
                };
            }
            other => return Err(usage(other.unexpected())),
        }
    }
    let facts = gather();
    let text = match format {
        Format::Json => to_json(&facts),
        Format::Plist => to_plist(&facts)?,
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// The facts gathered on this machine.
pub(crate) fn gather() -> Facts {
    let mut facts = Facts::new();
    if let Some(hostname) = hostname() {
        facts.insert("hostname".to_owned(), FactValue::String(hostname));
    }
    let arch = munki_arch(std::env::consts::ARCH);
    if arch == "x86_64" {
        facts.insert("x86_64_capable".to_owned(), FactValue::Bool(true));
    }
    facts.insert("arch".to_owned(), FactValue::String(arch.to_owned()));
    let now = seconds_since_2001(SystemTime::now()).floor();
    let offset = utc_offset_seconds().unwrap_or(0);
    facts.insert("date".to_owned(), FactValue::Date(now + f64::from(offset)));
    facts
}

/// Rust's name for an architecture in Munki's (`uname -m`) spelling.
fn munki_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "aarch64" => "arm64",
        "x86" => "i386",
        other => other,
    }
}

/// The first line a system command prints, trimmed, if it ran and printed one. Commands are
/// named by absolute path: the agent runs as root and must not search PATH.
fn command_output(candidates: &[&str], args: &[&str]) -> Option<String> {
    let program = candidates.iter().find(|p| Path::new(p).is_file())?;
    let output = Command::new(program).args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| line.to_owned())
}

fn hostname() -> Option<String> {
    if let Ok(name) = fs::read_to_string("/proc/sys/kernel/hostname") {
        let name = name.trim();
        if !name.is_empty() {
            return Some(name.to_owned());
        }
    }
    command_output(&["/usr/bin/uname", "/bin/uname"], &["-n"])
}

/// The local time zone's offset from UTC now, from `date +%z` (e.g. `+0130`).
fn utc_offset_seconds() -> Option<i32> {
    let text = command_output(&["/bin/date", "/usr/bin/date"], &["+%z"])?;
    parse_utc_offset(&text)
}

fn parse_utc_offset(text: &str) -> Option<i32> {
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    (hours <= 23 && minutes <= 59).then_some(sign * (hours * 3600 + minutes * 60))
}

const UNIX_TO_2001: f64 = 978_307_200.0;

fn seconds_since_2001(time: SystemTime) -> f64 {
    let unix = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    };
    unix - UNIX_TO_2001
}

fn system_time(seconds_since_2001: f64) -> Option<SystemTime> {
    let unix = seconds_since_2001 + UNIX_TO_2001;
    let magnitude = Duration::try_from_secs_f64(unix.abs()).ok()?;
    if unix >= 0.0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    }
}

/// JSON with sorted keys; dates as ISO-8601 UTC text.
pub(crate) fn to_json(facts: &Facts) -> String {
    let object: serde_json::Map<String, serde_json::Value> = facts
        .iter()
        .map(|(k, v)| (k.clone(), json_value(v)))
        .collect();
    let mut text = serde_json::to_string_pretty(&serde_json::Value::Object(object))
        .expect("facts serialize to JSON");
    text.push('\n');
    text
}

fn json_value(value: &FactValue) -> serde_json::Value {
    use serde_json::Value;
    match value {
        FactValue::String(s) => Value::String(s.clone()),
        FactValue::Integer(i) => Value::from(*i),
        FactValue::Real(r) => serde_json::Number::from_f64(*r).map_or(Value::Null, Value::Number),
        FactValue::Bool(b) => Value::Bool(*b),
        FactValue::Date(seconds) => Value::String(
            mmc_predicate::date_to_iso8601(seconds.floor())
                .unwrap_or_else(|| format!("{seconds} seconds after 2001-01-01T00:00:00Z")),
        ),
        FactValue::Array(items) => Value::Array(items.iter().map(json_value).collect()),
        FactValue::Dict(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), json_value(v)))
                .collect(),
        ),
    }
}

/// An XML property list dictionary (keys sorted).
pub(crate) fn to_plist(facts: &Facts) -> Result<String, String> {
    let dict: plist::Dictionary = facts
        .iter()
        .map(|(k, v)| Ok((k.clone(), plist_value(k, v)?)))
        .collect::<Result<_, String>>()?;
    let mut bytes = Vec::new();
    plist::Value::Dictionary(dict)
        .to_writer_xml(&mut bytes)
        .map_err(|e| format!("cannot write the facts as a property list: {e}"))?;
    bytes.push(b'\n');
    String::from_utf8(bytes).map_err(|_| "the property list is not UTF-8".to_owned())
}

fn plist_value(key: &str, value: &FactValue) -> Result<plist::Value, String> {
    use plist::Value;
    Ok(match value {
        FactValue::String(s) => Value::String(s.clone()),
        FactValue::Integer(i) => Value::Integer((*i).into()),
        FactValue::Real(r) => Value::Real(*r),
        FactValue::Bool(b) => Value::Boolean(*b),
        FactValue::Date(seconds) => Value::Date(
            system_time(*seconds)
                .ok_or_else(|| format!("fact {key}: date {seconds} is out of range"))?
                .into(),
        ),
        FactValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| plist_value(key, v))
                .collect::<Result<_, _>>()?,
        ),
        FactValue::Dict(map) => Value::Dictionary(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), plist_value(key, v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures_use_munki_names() {
        assert_eq!(munki_arch("aarch64"), "arm64");
        assert_eq!(munki_arch("x86_64"), "x86_64");
        assert_eq!(munki_arch("x86"), "i386");
    }

    #[test]
    fn utc_offsets() {
        assert_eq!(parse_utc_offset("+0000"), Some(0));
        assert_eq!(parse_utc_offset("+0130"), Some(5400));
        assert_eq!(parse_utc_offset("-0800"), Some(-28_800));
        for bad in ["", "0100", "+01", "+01:00", "+2400", "+0160", "+01a0"] {
            assert_eq!(parse_utc_offset(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_convert_both_ways() {
        let t = system_time(478_569_600.0).unwrap();
        assert_eq!(seconds_since_2001(t), 478_569_600.0);
        let before_1970 = system_time(-1_000_000_000.0).unwrap();
        assert_eq!(seconds_since_2001(before_1970), -1_000_000_000.0);
        assert!(system_time(f64::NAN).is_none());
    }

    #[test]
    fn gathered_facts_are_portable_ones() {
        let facts = gather();
        assert!(matches!(facts.get("arch"), Some(FactValue::String(_))));
        assert!(matches!(facts.get("date"), Some(FactValue::Date(_))));
        assert_eq!(
            facts.contains_key("x86_64_capable"),
            std::env::consts::ARCH == "x86_64"
        );
    }
}
