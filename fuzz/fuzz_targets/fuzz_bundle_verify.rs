//! `mmc_bundle::verify`, the agent's first look at a downloaded bundle, on arbitrary bytes.
//!
//! Input: `mode | n (u16, little endian) | n bytes | rest` (`mmc_fuzz::split_verify_input`).
//! * mode 0 (even first byte): the n bytes are the envelope, the rest the archive. This is the
//!   attacker without a key: anything may come back but `Ok`, unless the input is a seed's valid
//!   bundle unchanged.
//! * mode 1 (odd first byte): the n bytes are the statement payload, which the target signs with
//!   the trusted fuzz key, so every check after the signature (statement schema, format, key id,
//!   archive length and SHA-256, `created`/`expires`) sees arbitrary statements.
//!
//! Checked: no panic; an `Ok` statement really names the trusted key and the archive's exact length
//! and SHA-256 and a window containing the clock; in mode 0 every error message is one line
//! without control characters (the agent logs it as received, and a forged log line must need
//! the key).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mmc_bundle::VerifyingKey;
use mmc_fuzz::VerifyMode;

static TRUSTED: LazyLock<[VerifyingKey; 1]> = LazyLock::new(|| [mmc_fuzz::trusted_key()]);

fuzz_target!(|data: &[u8]| {
    let Some((mode, first, archive)) = mmc_fuzz::split_verify_input(data) else {
        return;
    };
    let signed;
    let envelope = match mode {
        VerifyMode::Raw => first,
        VerifyMode::Signed => {
            signed = mmc_fuzz::signed_envelope(first);
            &signed
        }
    };
    match mmc_bundle::verify(envelope, archive, &*TRUSTED, mmc_fuzz::now()) {
        Ok(statement) => {
            assert_eq!(statement.key_id, mmc_bundle::key_id(&TRUSTED[0]));
            assert_eq!(statement.format, mmc_bundle::FORMAT_VERSION);
            assert_eq!(statement.archive.length, archive.len() as u64);
            assert_eq!(statement.archive.sha256, mmc_bundle::sha256_hex(archive));
            let created: jiff::Timestamp = statement.created.parse().expect("created parses");
            let expires: jiff::Timestamp = statement.expires.parse().expect("expires parses");
            assert!(
                created <= mmc_fuzz::now() && mmc_fuzz::now() < expires,
                "{statement:?}"
            );
        }
        Err(e) => {
            if mode == VerifyMode::Raw {
                let message = e.to_string();
                assert!(
                    !message.chars().any(char::is_control),
                    "an unsigned envelope put a control character into {message:?}"
                );
            }
        }
    }
});
