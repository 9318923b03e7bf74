use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::{Format, KeygenArgs};
use crate::output::Printer;
use crate::workspace;

pub fn run(args: &KeygenArgs, out: &Printer) -> Result<ExitCode> {
    let private = with_suffix(&args.out, ".key");
    let public = with_suffix(&args.out, ".pub");
    for p in [&private, &public] {
        if p.exists() {
            anyhow::bail!(
                "{} already exists; choose another --out prefix (mmc never overwrites a key)",
                p.display()
            );
        }
    }
    if let Some(dir) = private.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| anyhow::anyhow!("the system random number generator failed: {e}"))?;
    let key = mmc_bundle::SigningKey::from_bytes(&seed);
    seed.fill(0);
    let pem = mmc_bundle::signing_key_to_pem(&key);
    write_new(&private, pem.as_bytes(), 0o600)?;
    let verifying = key.verifying_key();
    if let Err(e) = write_new(
        &public,
        mmc_bundle::public_key_to_pem(&verifying).as_bytes(),
        0o644,
    ) {
        // Leave no private key without its public half.
        let _ = std::fs::remove_file(&private);
        return Err(e);
    }
    let key_id = mmc_bundle::key_id(&verifying);
    if workspace::is_inside_repo_unignored(&private) {
        out.warn(&format!("{} is inside a git work tree and not ignored; add it to .gitignore (mmc build refuses keys git tracks)", private.display()));
    }
    match out.format {
        Format::Json => out.stdout(&format!(
            "{}\n",
            serde_json::json!({ "key_id": key_id, "private_key": private.display().to_string(), "public_key": public.display().to_string() })
        )),
        _ => {
            out.status("Created", &format!("{} (private, mode 0600) and {}", private.display(), public.display()));
            out.stdout(&format!("{key_id}\n"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
