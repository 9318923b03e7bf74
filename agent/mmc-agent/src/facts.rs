//! `mmc-agent facts`, and gathering the facts conditions are evaluated against.
//!
//! Only what is portable is gathered so far: the node name, the architecture and the date.
//! The macOS-specific facts (system_profiler, IORegistry, sysctl, the app inventory, admin
//! condition scripts) come with the agent's command boundary; until then conditions see them
//! as nil.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mmc_predicate::{FactValue, Facts};

const HELP: &str = "\
Print the facts this agent gathers on this Mac: what conditions, installable_condition and
modifications are evaluated against (and `mmc-agent condition` when given no --facts file).

Usage: mmc-agent facts [--format json|plist] [--root DIR] [--commands DIR]

Options:
  --format FORMAT   json (default): one JSON object with sorted keys, dates as ISO-8601 UTC
                    text; plist: an XML property list with real <date> values, the form
                    `mmc-agent condition --facts` and Munki's ConditionalItems.plist use
  --root DIR        Treat DIR as the Mac's / (a sandbox) [default: /]
  --commands DIR    Run macOS tools from DIR when it has one of the same name
  -h, --help        Print this help

Munki 7's built-in facts, with its names and types:
  hostname, arch, x86_64_capable (x86_64 only), os_vers (\"14.0\" when the patch is 0),
  os_vers_major/minor/patch, os_build_number, os_build_last_component (text),
  machine_model, machine_type (laptop when there is a battery), serial_number,
  product_name, board_id, device_id, ipv4_address, ipv6_address, applications
  (bundleid, name, path, version of each app in /Applications, /System/Applications
  and /Users/Shared), and date: now plus the local time zone's offset, as Munki computes
  it, so CAST(\"...Z\", \"NSDate\") times compare as local wall-clock times.
Plus the admin facts the last run's condition scripts wrote to
/Library/Managed Installs/ConditionalItems.plist (this command runs no script).
Not gathered: munki_version and ibridge_model_name (no Munki here), catalogs (set per
conditional item during resolution).

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
    let mut root = std::path::PathBuf::from("/");
    let mut commands = None;
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
            Long("root") => root = parser.value().map_err(usage)?.into(),
            Long("commands") => {
                commands = Some(std::path::PathBuf::from(parser.value().map_err(usage)?))
            }
            other => return Err(usage(other.unexpected())),
        }
    }
    let facts = gather_here(&root, commands.as_deref())?;
    let text = match format {
        Format::Json => to_json(&facts),
        Format::Plist => to_plist(&facts)?,
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// Every fact of the Mac at `root`, read-only: the admin facts are those the last run's
/// condition scripts left.
pub(crate) fn gather_here(root: &Path, commands: Option<&Path>) -> Result<Facts, String> {
    let root = crate::platform::Root::new(root)?;
    let runner = crate::platform::Runner::new(&root, &Default::default(), commands, None);
    let scripts = crate::script::Scripts {
        runner: &runner,
        scratch: std::env::temp_dir(),
        timeout: Duration::from_secs(60),
    };
    let probe = crate::installed::Probe::new(&root, &runner, &scripts);
    let mut log = crate::log::Log::disabled();
    let admin = crate::run::admin_facts(&root, &scripts, true, &mut log);
    Ok(gather_mac(
        &runner,
        probe.apps(),
        admin,
        munki_now(SystemTime::now()),
    ))
}

/// The facts that need no macOS tool: hostname, arch, x86_64_capable and date.
pub(crate) fn gather() -> Facts {
    let mut facts = Facts::new();
    if let Some(hostname) = crate::platform::hostname() {
        facts.insert("hostname".to_owned(), FactValue::String(hostname));
    }
    let arch = munki_arch(std::env::consts::ARCH);
    if arch == "x86_64" {
        facts.insert("x86_64_capable".to_owned(), FactValue::Bool(true));
    }
    facts.insert("arch".to_owned(), FactValue::String(arch.to_owned()));
    let now = seconds_since_2001(SystemTime::now()).floor();
    let offset = crate::platform::utc_offset_seconds();
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

/// Munki's built-in facts of the Mac behind `runner` and `root`, read through the macOS tools
/// (`sw_vers`, `sysctl`, `system_profiler`, `ioreg`) and the application inventory, with the
/// admin facts of `admin` merged in as Munki merges them: admin facts win over machine facts,
/// but `date`, `os_vers_*`, `os_build_last_component`, `machine_type` and `applications` are
/// set after the merge, so condition scripts cannot override them.
pub(crate) fn gather_mac(
    runner: &crate::platform::Runner,
    apps: &[crate::installed::App],
    admin: Facts,
    now: f64,
) -> Facts {
    let mut facts = gather();
    let text = |tool: &str, args: &[&str]| -> Option<String> {
        let out = runner.tool(tool, args).ok()?;
        if !out.success() {
            return None;
        }
        let text = out.stdout_text().trim().to_owned();
        (!text.is_empty()).then_some(text)
    };
    let plist = |tool: &str, args: &[&str]| -> Option<plist::Value> {
        let out = runner.tool(tool, args).ok()?;
        if !out.success() {
            return None;
        }
        first_plist(&out.stdout)
    };

    let os_vers = text("sw_vers", &["-productVersion"]).map(|v| munki_os_vers(&v));
    let build = text("sw_vers", &["-buildVersion"]);
    if let Some(build) = &build {
        facts.insert("os_build_number".into(), FactValue::String(build.clone()));
    }
    if let Some(v) = &os_vers {
        facts.insert("os_vers".into(), FactValue::String(v.clone()));
    }
    facts.insert(
        "machine_model".into(),
        FactValue::String(text("sysctl", &["-n", "hw.model"]).unwrap_or_else(|| "UNKNOWN".into())),
    );
    if text("sysctl", &["-n", "hw.optional.arm64"]).as_deref() == Some("1") {
        facts.insert("arch".into(), FactValue::String("arm64".into()));
        facts.remove("x86_64_capable");
    }
    let platform = plist("ioreg", &["-a", "-d2", "-c", "IOPlatformExpertDevice"]);
    let device = platform.as_ref().and_then(|root| {
        root.as_dictionary()?
            .get("IORegistryEntryChildren")?
            .as_array()?
            .first()?
            .as_dictionary()
            .cloned()
    });
    let registry = |key: &str| -> Option<String> {
        match device.as_ref()?.get(key)? {
            plist::Value::String(s) => Some(s.clone()),
            plist::Value::Data(d) => {
                let text = String::from_utf8_lossy(d);
                Some(text.trim_end_matches('\0').to_owned())
            }
            _ => None,
        }
    };
    facts.insert(
        "serial_number".into(),
        FactValue::String(registry("IOPlatformSerialNumber").unwrap_or_else(|| "UNKNOWN".into())),
    );
    for (fact, key) in [
        ("product_name", "product-name"),
        ("board_id", "board-id"),
        ("device_id", "target-sub-type"),
    ] {
        if let Some(value) = registry(key) {
            facts.insert(fact.into(), FactValue::String(value));
        }
    }
    let (ipv4, ipv6) = plist("system_profiler", &["SPNetworkDataType", "-xml"])
        .map(|v| addresses(&v))
        .unwrap_or_default();
    facts.insert("ipv4_address".into(), strings(ipv4));
    facts.insert("ipv6_address".into(), strings(ipv6));
    let laptop = runner
        .tool("system_profiler", &["SPPowerDataType", "-xml"])
        .ok()
        .filter(|o| o.success())
        .is_some_and(|o| String::from_utf8_lossy(&o.stdout).contains("sppower_battery"));

    // Admin facts win over the machine facts gathered so far…
    for (key, value) in admin {
        facts.insert(key, value);
    }
    // …but not over these, which Munki sets after the merge.
    facts.insert("date".into(), FactValue::Date(now));
    if let Some(v) = &os_vers {
        let parts: Vec<i64> = format!("{v}.0.0")
            .split('.')
            .map(|p| p.parse().unwrap_or(0))
            .collect();
        facts.insert("os_vers_major".into(), FactValue::Integer(parts[0]));
        facts.insert("os_vers_minor".into(), FactValue::Integer(parts[1]));
        facts.insert("os_vers_patch".into(), FactValue::Integer(parts[2]));
    }
    if let Some(build) = &build {
        let last = build
            .rfind(|c: char| c.is_ascii_uppercase())
            .map_or(build.as_str(), |i| &build[i + 1..]);
        facts.insert(
            "os_build_last_component".into(),
            FactValue::String(last.to_owned()),
        );
    }
    facts.insert(
        "machine_type".into(),
        FactValue::String(if laptop { "laptop" } else { "desktop" }.into()),
    );
    facts.insert(
        "applications".into(),
        FactValue::Array(
            apps.iter()
                .map(|a| {
                    FactValue::Dict(
                        [
                            ("bundleid", &a.bundle_id),
                            ("name", &a.name),
                            ("path", &a.path),
                            ("version", &a.version),
                        ]
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), FactValue::String(v.clone())))
                        .collect(),
                    )
                })
                .collect(),
        ),
    );
    facts
}

/// Munki's `os_vers`: `maj.min.patch`, but `maj.min` when the patch is 0.
fn munki_os_vers(product_version: &str) -> String {
    let parts: Vec<&str> = product_version.split('.').collect();
    match parts.as_slice() {
        [major, minor, "0"] => format!("{major}.{minor}"),
        [major] => format!("{major}.0"),
        _ => product_version.to_owned(),
    }
}

fn strings(values: Vec<String>) -> FactValue {
    FactValue::Array(values.into_iter().map(FactValue::String).collect())
}

/// The IPv4 and IPv6 addresses of every interface in `system_profiler SPNetworkDataType -xml`.
fn addresses(value: &plist::Value) -> (Vec<String>, Vec<String>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    let items = value
        .as_array()
        .and_then(|a| a.first())
        .and_then(plist::Value::as_dictionary)
        .and_then(|d| d.get("_items"))
        .and_then(plist::Value::as_array);
    for item in items
        .into_iter()
        .flatten()
        .filter_map(plist::Value::as_dictionary)
    {
        for (key, out) in [("IPv4", &mut v4), ("IPv6", &mut v6)] {
            let found = item
                .get(key)
                .and_then(plist::Value::as_dictionary)
                .and_then(|d| d.get("Addresses"))
                .and_then(plist::Value::as_array);
            out.extend(
                found
                    .into_iter()
                    .flatten()
                    .filter_map(plist::Value::as_string)
                    .map(str::to_owned),
            );
        }
    }
    (v4, v6)
}

/// The first XML plist in a command's output, skipping anything printed before it (macOS 14.4
/// tools print deprecation warnings ahead of the plist).
pub(crate) fn first_plist(bytes: &[u8]) -> Option<plist::Value> {
    let start = find(bytes, b"<?xml").or_else(|| find(bytes, b"<plist"))?;
    let rest = &bytes[start..];
    let end = find(rest, b"</plist>")? + b"</plist>".len();
    plist::Value::from_reader_xml(&rest[..end]).ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Converts a plist value (ConditionalItems.plist) to a fact value; `None` for data.
pub(crate) fn fact_from_plist(value: &plist::Value) -> Option<FactValue> {
    Some(match value {
        plist::Value::String(s) => FactValue::String(s.clone()),
        plist::Value::Boolean(b) => FactValue::Bool(*b),
        plist::Value::Integer(i) => FactValue::Integer(i.as_signed()?),
        plist::Value::Real(r) => FactValue::Real(*r),
        plist::Value::Date(d) => FactValue::Date(seconds_since_2001(SystemTime::from(*d))),
        plist::Value::Array(items) => {
            FactValue::Array(items.iter().filter_map(fact_from_plist).collect())
        }
        plist::Value::Dictionary(d) => FactValue::Dict(
            d.iter()
                .filter_map(|(k, v)| Some((k.clone(), fact_from_plist(v)?)))
                .collect(),
        ),
        _ => return None,
    })
}

/// `date` as Munki computes it: now plus the local time zone's offset, to the second.
pub(crate) fn munki_now(now: SystemTime) -> f64 {
    seconds_since_2001(now).floor() + f64::from(crate::platform::utc_offset_seconds())
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
