//! Profile payloads checked against Apple's device-management schema.
//!
//! `data/apple-profiles.json` is generated from apple/device-management by `tools/schemagen`;
//! `data/apple-profiles-errata.json` corrects what Apple's data gets wrong. Both are embedded
//! and parsed once. Every payload of every profile is checked: unknown keys (with a
//! suggestion), types, allowed values, ranges, formats, array lengths, required keys, and keys
//! removed, deprecated or too new for the repository's `min_macos`. Payload types Apple's schema
//! lacks get one note each. docs/profiles.md is the user's guide.

pub mod schema;
mod validate;

#[cfg(test)]
mod tests;

pub use validate::{DEFAULT_MIN_MACOS, Finding, Target, closest, validate};

use crate::diag::Diagnostic;
use crate::load::{Loaded, Src};
use crate::syntax::model::RepoFile;

/// Checks the payloads of every profile of the repository.
pub fn check(loaded: &Loaded, diags: &mut Vec<Diagnostic>) {
    let target = target(&loaded.repo, diags);
    for src in &loaded.profiles {
        for payload in &src.value.payloads {
            for f in validate(&payload.payload_type, payload.settings.as_ref(), &target) {
                diags.push(f.into_diagnostic(&src.file));
            }
        }
    }
}

/// `min_macos` of mmc.yaml (an unreadable one is an error, and the default is used).
pub fn target(repo: &Src<RepoFile>, diags: &mut Vec<Diagnostic>) -> Target {
    let Some(v) = &repo.value.min_macos else {
        return Target::default();
    };
    match schema::MacVersion::parse(&v.value) {
        Some(min) => Target {
            min,
            declared: true,
        },
        None => {
            diags.push(
                Diagnostic::error(
                    "bad-min-macos",
                    format!("`{}` is not a macOS version", v.value),
                )
                .at(
                    &repo.file,
                    v.span.clone(),
                    "expected e.g. \"13.0\" or \"14.4\"",
                )
                .help("write the oldest macOS your Macs run, quoted: `min_macos: \"13.0\"`"),
            );
            Target::default()
        }
    }
}

impl Finding {
    pub fn into_diagnostic(self, file: &str) -> Diagnostic {
        let mut d = Diagnostic::error(self.code, self.message).at(file, self.span, self.label);
        d.severity = self.severity;
        if let Some(h) = self.help {
            d = d.help(h);
        }
        d
    }
}
