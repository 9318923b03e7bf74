//! What a given Mac gets: evaluating a bundle's manifests against facts (`mmc eval`), and the
//! policy test cases of `policies/tests/` (`mmc test`). The resolution is the agent's own
//! (`mmc-manifest`), so what these show is what a Mac does.

use std::collections::BTreeSet;

use mmc_manifest::{Resolution, ResolveError};
use mmc_predicate::{FactValue, Facts};

use crate::BundleOutput;
use crate::diag::{Diagnostic, suggest};
use crate::load::Src;
use crate::syntax::model::{Expectation, TestFile};
use crate::syntax::spanned::{Sp, Value};

/// The manifest Munki falls back to when a Mac has no manifest of its own.
pub const DEFAULT_MANIFEST: &str = "site_default";

/// The keys `mmc eval` and `mmc test` report.
pub const REPORTED_KEYS: [&str; 4] = [
    "managed_installs",
    "managed_uninstalls",
    "managed_updates",
    "optional_installs",
];

/// Seconds between 1970-01-01 and 2001-01-01, the reference date of NSDate.
const NSDATE_EPOCH: i64 = 978_307_200;

/// Facts written as YAML (a test case, or a facts file). `date` may be an RFC 3339 text.
pub fn facts_from_value(v: &Sp<Value>) -> Result<Facts, (std::ops::Range<usize>, String)> {
    let Value::Dict(entries) = &v.value else {
        return Err((
            v.span.clone(),
            format!(
                "facts must be a mapping of fact names to values, not {}",
                v.value.kind()
            ),
        ));
    };
    let mut out = Facts::new();
    for (k, val) in entries {
        let fact = if k.value == "date" {
            match &val.value {
                Value::String(s) => {
                    let t: jiff::Timestamp = s.parse().map_err(|_| {
                        (
                            val.span.clone(),
                            format!("`{s}` is not a date like 2026-11-21T09:00:00Z"),
                        )
                    })?;
                    FactValue::Date((t.as_second() - NSDATE_EPOCH) as f64)
                }
                _ => {
                    return Err((
                        val.span.clone(),
                        "`date` is written as a date like 2026-11-21T09:00:00Z".to_owned(),
                    ));
                }
            }
        } else {
            fact(val)?
        };
        out.insert(k.value.clone(), fact);
    }
    Ok(out)
}

fn fact(v: &Sp<Value>) -> Result<FactValue, (std::ops::Range<usize>, String)> {
    Ok(match &v.value {
        Value::Bool(b) => FactValue::Bool(*b),
        Value::Integer(i) => FactValue::Integer(*i),
        Value::Real(r) => FactValue::Real(*r),
        Value::String(s) => FactValue::String(s.clone()),
        Value::Array(a) => FactValue::Array(a.iter().map(fact).collect::<Result<_, _>>()?),
        Value::Dict(d) => FactValue::Dict(
            d.iter()
                .map(|(k, v)| Ok((k.value.clone(), fact(v)?)))
                .collect::<Result<_, _>>()?,
        ),
        Value::Null => {
            return Err((
                v.span.clone(),
                "a fact cannot be null; leave it out instead".to_owned(),
            ));
        }
        Value::Data(_) | Value::Date(_) => {
            return Err((
                v.span.clone(),
                format!("a fact cannot be {}; write it as text", v.value.kind()),
            ));
        }
    })
}

/// Resolves `manifest` of `bundle` for a Mac with `facts`.
pub fn evaluate(
    bundle: &BundleOutput,
    manifest: &str,
    facts: &Facts,
) -> Result<Resolution, ResolveError> {
    mmc_manifest::resolve(
        &bundle.manifests,
        manifest,
        facts,
        &bundle.track,
        std::slice::from_ref(&bundle.track),
    )
}

/// One test case's outcome.
#[derive(Debug)]
pub struct CaseResult {
    pub file: String,
    pub name: String,
    /// Per key: names expected but missing, names present but not expected.
    pub mismatches: Vec<(String, Vec<String>, Vec<String>)>,
    /// Why the case could not run.
    pub error: Option<String>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.mismatches.is_empty()
    }
}

/// Runs every test case against the compiled bundles. Problems in the test files themselves
/// (an unknown bundle, manifest or item) become diagnostics.
pub fn run_tests(
    tests: &[Src<TestFile>],
    bundles: &[BundleOutput],
    diags: &mut Vec<Diagnostic>,
) -> Vec<CaseResult> {
    let mut out = Vec::new();
    for src in tests {
        for case in &src.value.cases {
            let mut result = CaseResult {
                file: src.file.clone(),
                name: case.name.value.clone(),
                mismatches: Vec::new(),
                error: None,
            };
            let bundle = match &case.bundle {
                Some(b) => bundles.iter().find(|x| x.name == b.value).ok_or_else(|| {
                    let d = Diagnostic::error(
                        "unknown-bundle",
                        format!("unknown bundle `{}`", b.value),
                    )
                    .at(&src.file, b.span.clone(), "no bundle has this name");
                    match suggest(&b.value, bundles.iter().map(|x| x.name.as_str())) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d,
                    }
                }),
                None => bundles
                    .first()
                    .ok_or_else(|| Diagnostic::error("no-bundles", "there is no bundle to test")),
            };
            let bundle = match bundle {
                Ok(b) => b,
                Err(d) => {
                    result.error = Some(d.message.clone());
                    diags.push(d);
                    out.push(result);
                    continue;
                }
            };
            let manifest = case
                .manifest
                .as_ref()
                .map_or(DEFAULT_MANIFEST, |m| m.value.as_str());
            if !bundle.manifests.contains_key(manifest) {
                let span = case
                    .manifest
                    .as_ref()
                    .map_or(case.name.span.clone(), |m| m.span.clone());
                let mut d = Diagnostic::error(
                    "unknown-manifest",
                    format!("bundle `{}` has no manifest `{manifest}`", bundle.name),
                )
                .at(&src.file, span, "not in this bundle");
                if let Some(s) = suggest(manifest, bundle.manifests.keys().map(String::as_str)) {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                result.error = Some(d.message.clone());
                diags.push(d);
                out.push(result);
                continue;
            }
            let facts = match facts_from_value(&case.facts) {
                Ok(f) => f,
                Err((span, message)) => {
                    result.error = Some(message.clone());
                    diags.push(Diagnostic::error("bad-facts", message).at(&src.file, span, ""));
                    out.push(result);
                    continue;
                }
            };
            match evaluate(bundle, manifest, &facts) {
                Err(e) => result.error = Some(e.to_string()),
                Ok(r) => {
                    for (key, got) in REPORTED_KEYS
                        .iter()
                        .map(|k| (*k, r.names(k).into_iter().collect::<BTreeSet<&str>>()))
                    {
                        let want = |e: &Option<Expectation>| -> Option<BTreeSet<String>> {
                            e.as_ref()
                                .and_then(|e| e.list(key))
                                .map(|l| l.iter().map(|s| s.value.clone()).collect())
                        };
                        let got: BTreeSet<String> = got.into_iter().map(str::to_owned).collect();
                        let mut missing: Vec<String> = Vec::new();
                        let mut extra: Vec<String> = Vec::new();
                        if let Some(exact) = want(&case.expect) {
                            missing.extend(exact.difference(&got).cloned());
                            extra.extend(got.difference(&exact).cloned());
                        }
                        if let Some(inc) = want(&case.expect_includes) {
                            missing.extend(inc.difference(&got).cloned());
                        }
                        if let Some(exc) = want(&case.expect_excludes) {
                            extra.extend(exc.intersection(&got).cloned());
                        }
                        missing.sort();
                        missing.dedup();
                        extra.sort();
                        extra.dedup();
                        if !missing.is_empty() || !extra.is_empty() {
                            result.mismatches.push((key.to_owned(), missing, extra));
                        }
                    }
                }
            }
            out.push(result);
        }
    }
    out
}
