//! `mmc build --sign-profiles-cert CERT --sign-profiles-key KEY [--sign-profiles-chain CHAIN]`:
//! the `.mobileconfig` files of `build/mdm/` as CMS SignedData (DER, the plist embedded), the
//! form macOS shows as "Verified" on a manual install. The bundles' copies stay unsigned (the
//! agent reads plists; the bundle has its own ed25519 signature).
//!
//! The signing is `openssl cms -sign` (OpenSSL 1.0 or later; LibreSSL has `cms` from 3.5 on),
//! found as `$MMC_OPENSSL` or `openssl` on `PATH`. It runs with `-binary` (the plist's bytes as
//! they are, no MIME line-ending translation) and `-noattr` (no signed attributes, so no
//! signing time): with an RSA key the same profile gives the same bytes on every build, so an
//! MDM that compares files sees no change where there is none. (ECDSA signatures are
//! randomized: each build then gives new bytes.)

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cli::BuildArgs;

/// Environment variable naming the `openssl` program.
pub const OPENSSL_ENV: &str = "MMC_OPENSSL";

/// What signs profiles: a certificate, its private key and intermediates, and `openssl`.
pub struct ProfileSigner {
    openssl: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    chain: Option<PathBuf>,
}

impl ProfileSigner {
    /// The signer `args` ask for, if any, after checking the files and `openssl`.
    /// The key gets the bundle signing key's checks (`key.rs`): not in the repository or its
    /// work tree, not tracked by git, not readable by others.
    pub fn from_args(
        args: &BuildArgs,
        repo: &Path,
        out: &crate::output::Printer,
    ) -> Result<Option<ProfileSigner>> {
        let (cert, key) = match (&args.sign_profiles_cert, &args.sign_profiles_key) {
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert, key),
            _ => bail!(
                "--sign-profiles-cert and --sign-profiles-key go together: the certificate and its private key (PEM)"
            ),
        };
        for (path, what) in std::iter::once((cert, "certificate"))
            .chain(std::iter::once((key, "private key")))
            .chain(args.sign_profiles_chain.iter().map(|c| (c, "chain")))
        {
            std::fs::metadata(path).with_context(|| {
                format!("cannot read the profile signing {what} {}", path.display())
            })?;
        }
        super::key::check_key_file(key, Some(repo), out)?;
        let openssl = std::env::var_os(OPENSSL_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("openssl"));
        match Command::new(&openssl).arg("version").output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => bail!(
                "`{} version` failed ({}): signing profiles needs a working openssl",
                openssl.display(),
                out.status
            ),
            Err(e) => bail!(
                "cannot run {} ({e}): signing profiles needs the `openssl` command (OpenSSL, or LibreSSL 3.5 or later). \
                 Install it, or set {OPENSSL_ENV} to its path; or build without --sign-profiles-cert to write unsigned profiles",
                openssl.display()
            ),
        }
        Ok(Some(ProfileSigner {
            openssl,
            cert: cert.clone(),
            key: key.clone(),
            chain: args.sign_profiles_chain.clone(),
        }))
    }

    /// `plist` as DER CMS SignedData with the plist embedded. The plist goes to openssl's
    /// stdin and the signed copy comes back on its stdout: no temporary file.
    pub fn sign(&self, plist: &[u8], name: &str) -> Result<Vec<u8>> {
        use std::io::Write;
        use std::process::Stdio;
        let mut command = Command::new(&self.openssl);
        command
            .args([
                "cms",
                "-sign",
                "-binary",
                "-nodetach",
                "-noattr",
                "-outform",
                "der",
            ])
            .arg("-signer")
            .arg(&self.cert)
            .arg("-inkey")
            .arg(&self.key);
        if let Some(chain) = &self.chain {
            command.arg("-certfile").arg(chain);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}", self.openssl.display()))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let input = plist.to_vec();
        // Written from another thread, so that a full stdout pipe cannot block the write.
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child
            .wait_with_output()
            .with_context(|| format!("cannot run {}", self.openssl.display()))?;
        let written = writer.join().expect("the writer thread does not panic");
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr
                .lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty())
                .unwrap_or("no message");
            let hint = if stderr.contains("nvalid command") || stderr.contains("nknown") {
                " (this openssl may have no `cms` command, as LibreSSL before 3.5: set MMC_OPENSSL to an OpenSSL)"
            } else {
                ""
            };
            bail!(
                "could not sign {name}: `openssl cms -sign` failed ({}): {last}{hint}",
                out.status
            );
        }
        written.with_context(|| format!("cannot pass {name} to openssl"))?;
        if out.stdout.is_empty() {
            bail!("could not sign {name}: openssl printed no signed copy");
        }
        Ok(out.stdout)
    }
}
