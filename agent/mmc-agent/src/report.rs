//! A run's report for people (the terminal) and for Munki-minded tools
//! (`ManagedInstallReport.plist`, in the shape Munki writes to `/Library/Managed Installs/`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::SystemTime;

use mmc_config::Pkginfo;
use plist::Value;

use crate::run::Report;

/// The terminal form: one line per item that did something (or failed, or was skipped), then
/// the summary.
pub(crate) fn human(report: &Report) -> String {
    let mut out = String::new();
    let mode = if report.mode == "check" {
        " (check: nothing changed)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "bundle {} version {}, manifest {}{mode}",
        report.bundle.name, report.bundle.version, report.manifest
    );
    let width = report.items.iter().map(|i| i.name.len()).max().unwrap_or(0);
    for item in &report.items {
        let detail = match &item.error {
            Some(e) => e.clone(),
            None => item.reason.clone(),
        };
        let _ = writeln!(
            out,
            "  {:<9} {:<7} {:<width$}  {detail}",
            item.result, item.action, item.name
        );
        for w in &item.warnings {
            let _ = writeln!(out, "  {:<9} {:<7} {:<width$}  {w}", "warning", "", "");
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    out.push_str(&crate::profiles::human(&report.profiles));
    let s = &report.summary;
    let _ = write!(
        out,
        "summary: {} changed, {} unchanged, {} failed, {} skipped",
        s.changed, s.unchanged, s.failed, s.skipped
    );
    if report.mode == "check" {
        let _ = write!(out, ", {} planned", s.planned);
    }
    out.push('\n');
    out
}

/// Munki's `ManagedInstallReport.plist` keys, filled from an mmc run.
pub(crate) fn managed_install_report(
    report: &Report,
    pkginfos: &BTreeMap<String, Pkginfo>,
) -> Value {
    let mut d = plist::Dictionary::new();
    let date = |t: Option<jiff::Timestamp>| {
        Value::Date(SystemTime::from(t.unwrap_or_else(jiff::Timestamp::now)).into())
    };
    d.insert("StartTime".into(), date(report.started));
    d.insert("EndTime".into(), date(None));
    d.insert(
        "ManifestName".into(),
        Value::String(report.manifest.clone()),
    );
    d.insert(
        "ManagedInstallVersion".into(),
        Value::String(format!("mmc-agent {}", env!("CARGO_PKG_VERSION"))),
    );
    let version = |name: &str| pkginfos.get(name).map(|p| p.version.clone());
    let entry = |item: &crate::run::ItemReport| {
        let mut e = plist::Dictionary::new();
        e.insert("name".into(), Value::String(item.name.clone()));
        if let Some(v) = version(&item.name) {
            e.insert("version".into(), Value::String(v));
        }
        if let Some(p) = pkginfos
            .get(&item.name)
            .and_then(|p| p.display_name.clone())
        {
            e.insert("display_name".into(), Value::String(p));
        }
        e
    };
    let mut installs = Vec::new();
    let mut removals = Vec::new();
    let mut install_results = Vec::new();
    let mut removal_results = Vec::new();
    let mut managed = Vec::new();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for item in &report.items {
        let is_install = item.action == "install";
        if item.result == "planned" || item.result == "changed" || item.result == "failed" {
            let list = if is_install {
                &mut installs
            } else {
                &mut removals
            };
            list.push(Value::Dictionary(entry(item)));
        }
        if item.result == "changed" || item.result == "failed" {
            let mut r = entry(item);
            r.insert(
                "status".into(),
                Value::Integer(i64::from(item.result == "failed").into()),
            );
            r.insert("time".into(), date(None));
            let list = if is_install {
                &mut install_results
            } else {
                &mut removal_results
            };
            list.push(Value::Dictionary(r));
        }
        if is_install {
            let mut m = entry(item);
            m.insert(
                "installed".into(),
                Value::Boolean(matches!(item.result, "changed" | "unchanged")),
            );
            managed.push(Value::Dictionary(m));
        }
        if let Some(e) = &item.error {
            errors.push(Value::String(format!("{}: {e}", item.name)));
        }
        for w in &item.warnings {
            warnings.push(Value::String(format!("{}: {w}", item.name)));
        }
    }
    d.insert("ItemsToInstall".into(), Value::Array(installs));
    d.insert("ItemsToRemove".into(), Value::Array(removals));
    d.insert("InstallResults".into(), Value::Array(install_results));
    d.insert("RemovalResults".into(), Value::Array(removal_results));
    d.insert("ManagedInstalls".into(), Value::Array(managed));
    d.insert("Errors".into(), Value::Array(errors));
    d.insert("Warnings".into(), Value::Array(warnings));
    let mut conditions = plist::Dictionary::new();
    for (key, value) in &report.facts {
        if key == "applications" {
            continue;
        }
        if let Some(v) = fact_to_plist(value) {
            conditions.insert(key.clone(), v);
        }
    }
    d.insert("Conditions".into(), Value::Dictionary(conditions));
    d.sort_keys();
    Value::Dictionary(d)
}

fn fact_to_plist(value: &mmc_predicate::FactValue) -> Option<Value> {
    use mmc_predicate::FactValue as F;
    Some(match value {
        F::String(s) => Value::String(s.clone()),
        F::Integer(i) => Value::Integer((*i).into()),
        F::Real(r) => Value::Real(*r),
        F::Bool(b) => Value::Boolean(*b),
        F::Date(seconds) => {
            let unix = seconds + 978_307_200.0;
            let t = std::time::UNIX_EPOCH
                .checked_add(std::time::Duration::try_from_secs_f64(unix).ok()?)?;
            Value::Date(t.into())
        }
        F::Array(items) => Value::Array(items.iter().filter_map(fact_to_plist).collect()),
        F::Dict(map) => Value::Dictionary(
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), fact_to_plist(v)?)))
                .collect(),
        ),
    })
}
