use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use mmc_compiler::whatif::{self, DEFAULT_MANIFEST, REPORTED_KEYS};
use mmc_manifest::{Resolution, Step};
use mmc_predicate::Facts;

use crate::EXIT_ERROR;
use crate::cli::{EvalArgs, Format, GlobalArgs};
use crate::output::Printer;

pub fn run(args: &EvalArgs, global: &GlobalArgs, out: &Printer) -> Result<ExitCode> {
    let Some(super::Valid { compiled, .. }) = super::compile_valid(global, out, "evaluating")?
    else {
        return Ok(ExitCode::from(EXIT_ERROR));
    };
    let bundle = match &args.bundle {
        Some(name) => compiled
            .bundles
            .iter()
            .find(|b| &b.name == name)
            .with_context(|| {
                let names: Vec<&str> = compiled.bundles.iter().map(|b| b.name.as_str()).collect();
                format!("no bundle `{name}`; bundles: {}", names.join(", "))
            })?,
        None => compiled
            .bundles
            .first()
            .context("mmc.yaml defines no bundles")?,
    };
    let manifest = args.manifest.as_deref().unwrap_or(DEFAULT_MANIFEST);
    if !bundle.manifests.contains_key(manifest) {
        let names: Vec<&str> = bundle.manifests.keys().map(String::as_str).collect();
        bail!(
            "bundle `{}` has no manifest `{manifest}`; it has: {}",
            bundle.name,
            names.join(", ")
        );
    }
    let facts = read_facts(&args.facts)?;
    let r = whatif::evaluate(bundle, manifest, &facts).map_err(|e| anyhow::anyhow!("{e}"))?;
    match out.format {
        Format::Json => {
            let doc = serde_json::json!({
                "version": 1,
                "bundle": bundle.name,
                "track": bundle.track,
                "manifest": manifest,
                "lists": REPORTED_KEYS.iter().map(|k| (k.to_string(), serde_json::to_value(r.lists.get(*k).cloned().unwrap_or_default()).unwrap())).collect::<serde_json::Map<_, _>>(),
                "removed": r.removed.iter().map(|(n, note)| serde_json::json!({"name": n, "message": note.message, "via": note.via})).collect::<Vec<_>>(),
                "errors": r.errors,
            });
            out.stdout(&(serde_json::to_string_pretty(&doc)? + "\n"));
        }
        _ => out.stdout(&human(&bundle.name, manifest, &r)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Facts from YAML, JSON or a plist (a ConditionalItems.plist or ManagedInstallReport.plist as is).
pub(super) fn read_facts(path: &Path) -> Result<Facts> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the facts file {}", path.display()))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "json" => {
            let mut facts = mmc_predicate::facts_from_json(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            // JSON has no date type: take `date` written as RFC 3339 text as the date it names.
            if let Some(mmc_predicate::FactValue::String(s)) = facts.get("date")
                && let Some(d) = mmc_predicate::date_from_iso8601(s)
            {
                facts.insert("date".to_owned(), mmc_predicate::FactValue::Date(d));
            }
            Ok(facts)
        }
        "yaml" | "yml" => {
            let text = String::from_utf8(bytes)
                .with_context(|| format!("{} is not UTF-8", path.display()))?;
            let name = path.display().to_string();
            let mut diags = Vec::new();
            let value = mmc_compiler::syntax::parse::<
                mmc_compiler::syntax::spanned::Sp<mmc_compiler::syntax::spanned::Value>,
            >(&name, &text, &mut diags);
            if let Some(d) = diags.first() {
                bail!("{name}: {}", d.message);
            }
            let value = value.with_context(|| format!("{name} holds no facts"))?;
            whatif::facts_from_value(&value).map_err(|(_, m)| anyhow::anyhow!("{name}: {m}"))
        }
        _ => mmc_predicate::facts_from_plist(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
    }
}

fn via(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| match s {
            Step::Manifest { name } => name.clone(),
            Step::Condition { condition } => format!("if {condition}"),
            Step::Modification { target, value } => format!("{} {value}", target.as_str()),
        })
        .collect::<Vec<_>>()
        .join(" › ")
}

fn human(bundle: &str, manifest: &str, r: &Resolution) -> String {
    let mut s = format!("bundle {bundle}, manifest {manifest}\n");
    for key in REPORTED_KEYS {
        let entries = r.lists.get(key).map(Vec::as_slice).unwrap_or_default();
        s.push_str(&format!("\n{key} ({})\n", entries.len()));
        let width = entries
            .iter()
            .map(|e| e.name.chars().count())
            .max()
            .unwrap_or(0);
        for e in entries {
            s.push_str(&format!("  {:width$}  {}\n", e.name, via(&e.via)));
        }
    }
    if !r.removed.is_empty() {
        s.push_str("\nremoved\n");
        for (name, note) in &r.removed {
            s.push_str(&format!(
                "  {name}  {} ({})\n",
                note.message,
                via(&note.via)
            ));
        }
    }
    if !r.errors.is_empty() {
        s.push_str("\nconditions that failed (counted as false)\n");
        for note in &r.errors {
            s.push_str(&format!("  {}  ({})\n", note.message, via(&note.via)));
        }
    }
    s
}
