//! The mmc compiler: policy files in memory in, artifacts and diagnostics out.
//!
//! **Invariant:** nothing in this crate touches the file system, the environment, the clock or
//! the network. Problems in policies are [`diag::Diagnostic`]s, never panics or `Err`s.

pub mod conditions;
pub mod diag;
pub mod diff;
pub mod emit;
pub mod import;
pub mod ir;
pub mod load;
pub mod lower;
pub mod mdm;
pub mod profiles;
pub mod schema;
pub mod source;
pub mod syntax;
pub mod template;
pub mod updates;
pub mod whatif;

use std::collections::BTreeMap;

use diag::Diagnostic;
use source::FileSet;

/// What one compile produced. When `diagnostics` holds an error, nothing may be written.
#[derive(Debug)]
pub struct Compiled {
    pub bundles: Vec<BundleOutput>,
    pub diagnostics: Vec<Diagnostic>,
    /// The policy test cases of `policies/tests/`, for `mmc test`.
    pub tests: Vec<load::Src<syntax::model::TestFile>>,
    /// The files for an MDM (`build/mdm/`): Nudge and DDM output of the update policies, and
    /// every configuration profile.
    pub mdm: mdm::MdmOutput,
}

impl Compiled {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// One bundle's files, before packaging.
#[derive(Debug, Clone)]
pub struct BundleOutput {
    pub name: String,
    pub track: String,
    pub audience: String,
    pub expires_after_secs: i64,
    pub trusted_keys: Vec<String>,
    pub files: BTreeMap<String, Vec<u8>>,
    /// The manifests the bundle carries, for evaluating them against a Mac's facts (`mmc eval`).
    pub manifests: BTreeMap<String, mmc_manifest::Manifest>,
    /// Which repository file each item, manifest and profile came from (for `mmc diff`).
    pub sources: ir::Sources,
}

/// Compiles a policy repository held in memory.
pub fn compile(files: &FileSet) -> Compiled {
    let mut diagnostics = Vec::new();
    let mut bundles = Vec::new();
    let mut tests = Vec::new();
    let mut mdm = mdm::MdmOutput::default();
    if let Some(mut loaded) = load::load(files, &mut diagnostics) {
        tests = std::mem::take(&mut loaded.tests);
        let lowered = lower::lower(files, &loaded, &mut diagnostics);
        let org = &loaded.repo.value.org;
        mdm = mdm::emit(
            &lowered.updates,
            &org.name.value,
            &org.identifier_prefix.value,
        );
        mdm::profiles::emit(&lowered.bundles, &mut mdm);
        for b in lowered.bundles {
            bundles.push(BundleOutput {
                files: emit::emit(&b),
                manifests: b
                    .manifests
                    .iter()
                    .map(|(n, m)| (n.clone(), m.spec.clone()))
                    .collect(),
                name: b.name,
                track: b.track,
                audience: b.audience,
                expires_after_secs: b.expires_after_secs,
                trusted_keys: b.trusted_keys,
                sources: b.sources,
            });
        }
    }
    diag::normalize(&mut diagnostics);
    Compiled {
        bundles,
        diagnostics,
        tests,
        mdm,
    }
}

/// When and as which version a bundle is built. The CLI derives both from the commit, so the same
/// commit always gives the same bundle.
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    pub version: u64,
    /// Unix seconds.
    pub created: i64,
}

/// A packaged, signed bundle.
#[derive(Debug, Clone)]
pub struct Packaged {
    /// `NAME-VERSION.tar.gz`
    pub file_name: String,
    pub archive: Vec<u8>,
    /// The DSSE envelope, written next to the archive as `NAME-VERSION.tar.gz.sig`.
    pub envelope: Vec<u8>,
    pub statement: mmc_bundle::Statement,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("cannot build the archive")]
    Archive(#[from] mmc_bundle::WriteError),
    #[error("the time {0} (Unix seconds) is outside the range a bundle can carry")]
    Time(i64),
}

/// A bundle archive and the statement that will vouch for it, before signing: its `key_id` is
/// empty until [`sign`] fills it in.
#[derive(Debug, Clone)]
pub struct Unsigned {
    /// `NAME-VERSION.tar.gz`
    pub file_name: String,
    pub archive: Vec<u8>,
    pub statement: mmc_bundle::Statement,
}

/// Builds the deterministic archive and the statement describing it.
pub fn archive(b: &BundleOutput, stamp: Stamp) -> Result<Unsigned, PackageError> {
    let archive = mmc_bundle::write_archive(&b.files)?;
    let created = jiff::Timestamp::from_second(stamp.created)
        .map_err(|_| PackageError::Time(stamp.created))?;
    let expires_at = stamp
        .created
        .checked_add(b.expires_after_secs)
        .ok_or(PackageError::Time(stamp.created))?;
    let expires =
        jiff::Timestamp::from_second(expires_at).map_err(|_| PackageError::Time(expires_at))?;
    let file_name = format!("{}-{}.tar.gz", b.name, stamp.version);
    let statement = mmc_bundle::Statement {
        format: mmc_bundle::FORMAT_VERSION,
        name: b.name.clone(),
        audience: b.audience.clone(),
        version: stamp.version,
        created: created.to_string(),
        expires: expires.to_string(),
        key_id: String::new(),
        archive: mmc_bundle::ArchiveRef::of(file_name.clone(), &archive),
    };
    Ok(Unsigned {
        file_name,
        archive,
        statement,
    })
}

/// Signs an unsigned bundle's statement with `key` (which sets its `key_id`).
pub fn sign(unsigned: Unsigned, key: &ed25519_dalek::SigningKey) -> Packaged {
    let Unsigned {
        file_name,
        archive,
        mut statement,
    } = unsigned;
    statement.key_id = mmc_bundle::key_id(&key.verifying_key());
    let envelope = mmc_bundle::sign(&statement, key);
    Packaged {
        file_name,
        archive,
        envelope,
        statement,
    }
}

/// Builds the deterministic archive and signs a statement over it.
pub fn package(
    b: &BundleOutput,
    stamp: Stamp,
    key: &ed25519_dalek::SigningKey,
) -> Result<Packaged, PackageError> {
    Ok(sign(archive(b, stamp)?, key))
}

#[cfg(test)]
mod tests;
