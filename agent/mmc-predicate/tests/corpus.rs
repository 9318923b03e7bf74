//! Real conditions written by macadmins (copied into `tests/data/` so the test does not depend
//! on the shared corpus beside the repository): every one parses, or is refused as a construct
//! mmc does not support; the broken ones are rejected.

use std::collections::BTreeMap;

use mmc_predicate::{FactValue, Facts, eval, parse, print};

const CONDITIONS: &str = include_str!("data/conditions.txt");
const INVALID: &str = include_str!("data/conditions_invalid.tsv");

/// The corpus's escaping: `\n` in a line is a newline; other backslashes are verbatim.
fn unescape(line: &str) -> String {
    line.replace("\\n", "\n")
}

fn is_comment(line: &str) -> bool {
    line.is_empty() || line.starts_with("# ")
}

/// The construct an `unsupported: …` message names: its first words, up to `(` or `:`.
fn construct(message: &str) -> String {
    let rest = message.strip_prefix("unsupported: ").expect(message);
    let end = rest.find([':', '(']).unwrap_or(rest.len());
    rest[..end].trim().to_owned()
}

#[test]
fn real_conditions_parse_or_are_refused_by_construct() {
    let facts: Facts = BTreeMap::from([
        ("os_vers_minor".to_owned(), FactValue::Integer(12)),
        (
            "machine_model".to_owned(),
            FactValue::String("MacBook7,1".to_owned()),
        ),
    ]);
    let mut parsed = 0;
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for line in CONDITIONS.lines().filter(|l| !is_comment(l)) {
        let condition = unescape(line);
        match parse(&condition) {
            Ok(predicate) => {
                parsed += 1;
                let canonical = print(&predicate);
                match parse(&canonical) {
                    Ok(again) if again == predicate && print(&again) == canonical => {}
                    other => failures.push(format!(
                        "{condition}\n    printed {canonical}\n    {other:?}"
                    )),
                }
                // Evaluation never panics; errors (e.g. ANY over a missing fact) are fine here.
                let _ = eval(&predicate, &facts);
            }
            Err(e) if e.unsupported => *unsupported.entry(construct(&e.message)).or_default() += 1,
            Err(e) => failures.push(format!("{condition}\n    {e:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let refused: usize = unsupported.values().sum();
    println!("corpus: {parsed} parsed, {refused} unsupported {unsupported:?}");
    assert_eq!(parsed, 108);
    assert_eq!(
        unsupported,
        BTreeMap::from([("SUBQUERY".to_owned(), 2)]),
        "unsupported constructs"
    );
}

#[test]
fn a_corpus_condition_evaluates_as_munki_would() {
    // From a real High Sierra installer pkginfo: a supported-model MATCHES list with `\,`
    // escapes kept for the regex.
    let condition = CONDITIONS
        .lines()
        .find(|l| l.contains("MATCHES \"MacBook([6-9]|1[0])\\,1\""))
        .expect("the MATCHES condition is in the corpus");
    let predicate = parse(condition).unwrap();
    let mac = |minor: i64, model: &str| -> Facts {
        BTreeMap::from([
            ("os_vers_minor".to_owned(), FactValue::Integer(minor)),
            (
                "machine_model".to_owned(),
                FactValue::String(model.to_owned()),
            ),
        ])
    };
    assert_eq!(eval(&predicate, &mac(12, "MacBook7,1")), Ok(true));
    assert_eq!(eval(&predicate, &mac(12, "MacBookPro14,3")), Ok(true));
    assert_eq!(eval(&predicate, &mac(12, "MacBook5,1")), Ok(false));
    assert_eq!(eval(&predicate, &mac(13, "MacBook7,1")), Ok(false));
    assert_eq!(eval(&predicate, &mac(12, "MacBook7x1")), Ok(false));
}

#[test]
fn broken_conditions_are_rejected() {
    let mut rows = 0;
    for line in INVALID.lines().filter(|l| !is_comment(l)) {
        let columns: Vec<&str> = line.split('\t').collect();
        let [condition, source, expected, reason] = columns[..] else {
            panic!("malformed row: {line}");
        };
        rows += 1;
        let result = parse(&unescape(condition));
        match expected {
            "REJECT (predicate parse error)" => match result {
                Err(e) if !e.unsupported => {}
                other => panic!(
                    "{source}: {condition}\n  expected a parse error ({reason}), got {other:?}"
                ),
            },
            other => panic!("unknown expectation {other:?}"),
        }
    }
    assert_eq!(rows, 2);
}

/// When mmc's shared corpus sits beside the repository (not on every CI clone), the copy in
/// `tests/data/` must hold exactly its conditions.
#[test]
fn data_matches_the_shared_corpus_when_present() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");
    let (Ok(tsv), Ok(invalid_tsv)) = (
        std::fs::read_to_string(format!("{dir}/conditions.tsv")),
        std::fs::read_to_string(format!("{dir}/broken/conditions_invalid.tsv")),
    ) else {
        println!("shared corpus not found beside the repository; skipped");
        return;
    };
    let first_column = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !is_comment(l))
            .map(|l| l.split('\t').next().unwrap().to_owned())
            .collect()
    };
    let mut shared = first_column(&tsv);
    shared.extend(first_column(&invalid_tsv));
    let mut copied = first_column(CONDITIONS);
    copied.extend(first_column(INVALID));
    shared.sort();
    copied.sort();
    assert_eq!(copied, shared);
}
