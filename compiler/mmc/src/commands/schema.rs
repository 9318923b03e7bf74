use std::process::ExitCode;

use anyhow::Result;
use mmc_compiler::schema;

use crate::cli::SchemaArgs;
use crate::output::Printer;
use crate::workspace;

pub fn run(args: &SchemaArgs, out: &Printer) -> Result<ExitCode> {
    let render = |kind: &str| -> Result<String> {
        let s = schema::for_kind(kind).expect("clap only accepts known kinds");
        Ok(serde_json::to_string_pretty(&s)? + "\n")
    };
    match &args.out {
        None => out.stdout(&render(&args.kind)?),
        Some(dir) => {
            for (kind, glob) in schema::KINDS {
                let path = dir.join(format!("{kind}.schema.json"));
                workspace::write_atomic(&path, render(kind)?.as_bytes(), 0o644)?;
                out.status("Wrote", &format!("{} (for {glob})", path.display()));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
