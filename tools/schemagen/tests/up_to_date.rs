//! The committed data file is exactly what the generator makes of Apple's schema.
//!
//! The schema is not part of this repository: the test reads `$MMC_APPLE_SCHEMA`, else
//! `/work/shared/apple-device-management`, and skips (with a note) when neither exists, as on a
//! clean CI clone.

use std::path::{Path, PathBuf};

fn schema_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MMC_APPLE_SCHEMA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/apple-device-management"));
    dir.join("mdm/profiles").is_dir().then_some(dir)
}

#[test]
fn committed_data_matches_the_schema() {
    let Some(dir) = schema_dir() else {
        println!(
            "note: skipped: Apple's schema is not here (set MMC_APPLE_SCHEMA to a checkout of apple/device-management)"
        );
        return;
    };
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../compiler/mmc-compiler/data");
    let generated = mmc_schemagen::generate(&dir).expect("the schema converts");
    let committed = std::fs::read_to_string(data.join("apple-profiles.json")).unwrap();
    assert!(
        committed == generated.json,
        "compiler/mmc-compiler/data/apple-profiles.json is stale: run `cargo run -p mmc-schemagen -- {}`",
        dir.display()
    );
    let license = std::fs::read_to_string(data.join("APPLE-LICENSE.txt")).unwrap();
    assert_eq!(
        license, generated.license,
        "APPLE-LICENSE.txt differs from the schema's LICENSE.txt"
    );
}
