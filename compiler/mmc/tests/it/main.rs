//! Integration tests of the `mmc` binary: one test binary, files by intent.

mod build;
mod check;
mod determinism;
mod diff;
mod eval;
mod import;
mod profiles;
mod root;
mod security;
mod support;
