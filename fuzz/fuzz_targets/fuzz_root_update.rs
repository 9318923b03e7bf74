//! `TrustedRoot::update` and `TrustedRoot::pinned`, the agent's reading of `root-N.json` files
//! found next to bundles (and of its stored root), on arbitrary bytes.
//!
//! Input: `mode | rest` (`mmc_fuzz::split_root_input`).
//! * mode 0 (even first byte): `rest` is the envelope as received: the attacker without a key.
//! * mode 1 (odd first byte): `rest` is a root payload, signed by the target with the fuzz key,
//!   which is the root key of the trusted version 1: every check after the old root's signatures
//!   (schema, format, version, keys, thresholds, the new root's own signatures) sees arbitrary
//!   documents.
//!
//! Checked: no panic; an accepted update is version 2 and passes `Root::check`, and every key in
//! it is listed once with a matching id and is not weak (`check` again, independently: each
//! listed keyid equals the SHA-256 of its key); error messages are one line without control
//! characters in mode 0.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mmc_bundle::TrustedRoot;
use mmc_fuzz::VerifyMode;

static TRUSTED: LazyLock<TrustedRoot> = LazyLock::new(mmc_fuzz::root_v1);

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = mmc_fuzz::split_root_input(data) else {
        return;
    };
    let signed;
    let envelope = match mode {
        VerifyMode::Raw => rest,
        VerifyMode::Signed => {
            signed = mmc_fuzz::signed_root_envelope(rest);
            &signed
        }
    };
    let check = |root: &TrustedRoot| {
        root.root
            .check()
            .expect("an accepted root passes its own checks");
        let mut seen = std::collections::BTreeSet::new();
        let ids = root.root.root_keys.iter().map(|k| &k.keyid);
        for id in ids.chain(root.root.bundle_keys.iter().map(|k| &k.keyid)) {
            assert!(seen.insert(id.clone()), "key {id} listed twice");
        }
        assert!(
            root.root.root_threshold >= 1 && root.root.root_threshold <= root.root.root_keys.len()
        );
        assert!(root.root_keys().iter().all(|k| !k.is_weak()));
        for (k, listed) in root.root_keys().iter().zip(&root.root.root_keys) {
            assert_eq!(&mmc_bundle::key_id(k), &listed.keyid);
        }
    };
    match TRUSTED.update(envelope) {
        Ok(next) => {
            assert_eq!(next.root.version, 2);
            check(&next);
        }
        Err(e) => {
            if mode == VerifyMode::Raw {
                let message = e.to_string();
                assert!(
                    !message.chars().any(char::is_control),
                    "an unsigned root put a control character into {message:?}"
                );
            }
        }
    }
    if let Ok(pinned) = TrustedRoot::pinned(envelope) {
        check(&pinned);
    }
});
