//! The compiler on a policy repository one of whose files is arbitrary text.
//!
//! Input: `slot | text` (`mmc_fuzz::policy_input`): the first byte picks where the text goes in
//! the small valid base repository (`fuzz/base/`): `mmc.yaml`, an added or the replaced items
//! file, an added or the replaced root manifest, an added profile, update policy or test file.
//! Bytes that are not UTF-8 are decoded lossily (the CLI refuses such files before the compiler
//! sees them).
//!
//! Runs `mmc_compiler::compile` on it, then what the CLI does next: renders every diagnostic in
//! all three formats; if there is no error, runs the policy tests (`mmc test`) and packages and
//! signs every bundle (`mmc build`), and verifies each with the agent's verifier.
//!
//! Checked: no panic and an end (the YAML budgets, template fuel and output caps bound the
//! work; libFuzzer's `-timeout` flags anything slow); every label names a file of the set and a
//! span inside it on character boundaries; the archive writer accepts whatever compiled without
//! errors, and the agent accepts what was signed.
//!
//! `fuzz/artifacts/fuzz_policy_load/` holds the inputs with which this target found two compiler
//! bugs, both fixed since (docs/fuzzing.md, "Findings"); CI replays them on every run.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mmc_bundle::{SigningKey, VerifyingKey};
use mmc_compiler::diag::{self, Diagnostic};
use mmc_compiler::source::FileSet;
use mmc_compiler::{PackageError, Stamp};

static KEY: LazyLock<(SigningKey, [VerifyingKey; 1])> =
    LazyLock::new(|| (mmc_fuzz::signing_key(), [mmc_fuzz::trusted_key()]));

/// The base repository compiles without a diagnostic: otherwise every input would end in the same
/// errors and the target would test little. Checked once per process.
static BASE_IS_CLEAN: LazyLock<()> = LazyLock::new(|| {
    let compiled = mmc_compiler::compile(&mmc_fuzz::base_repo());
    assert!(
        compiled.diagnostics.is_empty(),
        "fuzz/base/ no longer compiles cleanly; update it to the policy format: {:#?}",
        compiled.diagnostics
    );
});

fuzz_target!(|data: &[u8]| {
    LazyLock::force(&BASE_IS_CLEAN);
    let Some((files, _path)) = mmc_fuzz::policy_input(data) else {
        return;
    };
    let compiled = mmc_compiler::compile(&files);
    check_diagnostics(&compiled.diagnostics, &files);
    if compiled.has_errors() {
        return;
    }

    let mut problems = Vec::new();
    let _ = mmc_compiler::whatif::run_tests(&compiled.tests, &compiled.bundles, &mut problems);
    check_diagnostics(&problems, &files);

    let stamp = Stamp {
        version: mmc_fuzz::CREATED as u64,
        created: mmc_fuzz::CREATED,
    };
    for bundle in &compiled.bundles {
        let packaged = match mmc_compiler::package(bundle, stamp, &KEY.0) {
            Ok(p) => p,
            // An expiry beyond the year 9999: the CLI reports it; not the writer's business.
            Err(PackageError::Time(_)) => continue,
            Err(e) => panic!(
                "bundle {} compiled without errors but does not package: {e:?}",
                bundle.name
            ),
        };
        let now = jiff::Timestamp::from_second(mmc_fuzz::CREATED).expect("a valid time");
        if bundle.expires_after_secs > 0
            && let Err(e) = mmc_bundle::verify(&packaged.envelope, &packaged.archive, &KEY.1, now)
        {
            panic!("the agent refuses bundle {} as built: {e}", bundle.name);
        }
    }
});

fn check_diagnostics(diagnostics: &[Diagnostic], files: &FileSet) {
    for d in diagnostics {
        for label in &d.labels {
            let text = files
                .get(&label.file)
                .unwrap_or_else(|| panic!("label in unknown file {:?}: {d:?}", label.file));
            let span = &label.span;
            assert!(span.start <= span.end && span.end <= text.len(), "{d:?}");
            assert!(
                text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
                "{d:?}"
            );
        }
        let _ = diag::render_human(d, files, false);
        let _ = diag::render_json(d, files);
        let _ = diag::render_github(d, files, "");
    }
}
