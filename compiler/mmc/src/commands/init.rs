use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::cli::InitArgs;
use crate::output::Printer;
use crate::workspace;

/// The starter repository: small, valid, and showing each file kind once.
const FILES: &[(&str, &str)] = &[
    ("mmc.yaml", include_str!("../../template/mmc.yaml")),
    (".gitignore", "/build\n*.key\n"),
    (
        "policies/items/baseline.yaml",
        include_str!("../../template/policies/items/baseline.yaml"),
    ),
    (
        "policies/manifests/site_default.yaml",
        include_str!("../../template/policies/manifests/site_default.yaml"),
    ),
    (
        "profiles/screensaver.yaml",
        include_str!("../../template/profiles/screensaver.yaml"),
    ),
];

pub fn run(args: &InitArgs, out: &Printer) -> Result<ExitCode> {
    let dir = &args.dir;
    if dir.join("mmc.yaml").exists() {
        bail!(
            "{} already holds a policy repository (mmc.yaml exists)",
            dir.display()
        );
    }
    if dir.is_dir() && std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "{} is not empty; choose a new or empty directory",
            dir.display()
        );
    }
    for (rel, text) in FILES {
        workspace::write_atomic(&dir.join(rel), text.as_bytes(), 0o644)
            .with_context(|| format!("cannot create {rel}"))?;
    }
    out.status(
        "Created",
        &format!("policy repository in {}", dir.display()),
    );
    out.stdout(&format!(
        "Next steps:\n  cd {}\n  mmc check\n  mmc keygen --out ~/.mmc/dev     # a development signing key, outside the repository\n  mmc build --key ~/.mmc/dev.key\n",
        dir.display()
    ));
    Ok(ExitCode::SUCCESS)
}
