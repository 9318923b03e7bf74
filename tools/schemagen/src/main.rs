//! `mmc-schemagen`: regenerates `compiler/mmc-compiler/data/apple-profiles.json`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const HELP: &str = "\
Regenerates the profile validator's data from Apple's device-management schema.

Usage: cargo run -p mmc-schemagen -- [SCHEMA_DIR] [OUT_DIR]

  SCHEMA_DIR  a checkout of https://github.com/apple/device-management (branch `release`) with a
              SNAPSHOT.txt naming its commit; default: $MMC_APPLE_SCHEMA
  OUT_DIR     where apple-profiles.json and APPLE-LICENSE.txt go;
              default: compiler/mmc-compiler/data of this workspace

Then run `cargo test -p mmc-compiler --lib profiles` and read the corpus snapshot's changes.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") || args.len() > 2 {
        print!("{HELP}");
        return if args.len() > 2 {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    let schema = match args
        .first()
        .cloned()
        .or_else(|| std::env::var("MMC_APPLE_SCHEMA").ok())
    {
        Some(d) => PathBuf::from(d),
        None => {
            eprintln!("error: name the schema directory (or set MMC_APPLE_SCHEMA)\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    let out = args.get(1).map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../compiler/mmc-compiler/data")
    });
    let generated = match mmc_schemagen::generate(&schema) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    for (name, text) in [
        ("apple-profiles.json", &generated.json),
        ("APPLE-LICENSE.txt", &generated.license),
    ] {
        if let Err(e) = write_atomic(&out.join(name), text) {
            eprintln!("error: cannot write {}: {e}", out.join(name).display());
            return ExitCode::from(2);
        }
        println!("wrote {}", out.join(name).display());
    }
    ExitCode::SUCCESS
}

/// Writes a temporary file next to `path` and renames it over `path`.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
