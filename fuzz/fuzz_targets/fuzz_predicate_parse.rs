//! Any UTF-8 text: parsing never panics, errors point inside the input, and whatever parses
//! prints to a canonical text that parses back to the same tree and prints to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    match mmc_predicate::parse(input) {
        Ok(predicate) => {
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
            assert_eq!(e.unsupported, e.message.starts_with("unsupported: "));
        }
    }
});
