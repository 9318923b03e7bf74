//! The mmc compiler: policy files in memory in, artifacts and diagnostics out.
//!
//! **Invariant:** nothing in this crate touches the file system, the environment, the clock or
//! the network. Problems in policies are [`diag::Diagnostic`]s, never panics or `Err`s.

pub mod diag;
pub mod source;
pub mod syntax;
