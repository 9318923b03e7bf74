//! `mmc_predicate::parse`, which both the compiler (type checks) and the agent (evaluation) run on
//! conditions, on any UTF-8 text.
//!
//! Checked, as the crate's property test `tests/roundtrip.rs` (`check_input`) states it: parsing
//! never panics; an error's span lies inside the input on character boundaries and its
//! `unsupported` flag matches its message; whatever parses has its root span inside the input
//! and prints to a canonical text that parses back to the same tree and prints to itself
//! (`parse(print(t)) == t`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    match mmc_predicate::parse(input) {
        Ok(predicate) => {
            assert!(predicate.root.span.end <= input.len(), "{predicate:?}");
            let canonical = mmc_predicate::print(&predicate);
            let again = mmc_predicate::parse(&canonical)
                .unwrap_or_else(|e| panic!("{canonical:?} does not parse: {e:?}"));
            assert_eq!(again, predicate, "{input:?} printed as {canonical:?}");
            assert_eq!(mmc_predicate::print(&again), canonical);
        }
        Err(e) => {
            assert!(
                e.span.start <= e.span.end && e.span.end <= input.len(),
                "{e:?}"
            );
            assert!(
                input.is_char_boundary(e.span.start) && input.is_char_boundary(e.span.end),
                "{e:?}"
            );
            assert_eq!(e.unsupported, e.message.starts_with("unsupported: "));
        }
    }
});
