//! Parser and printer details: trees, spans, synonyms, errors. Semantics, round trips and the
//! real-world corpus are in `tests/`.

use crate::*;

fn tree(input: &str) -> Node {
    match parse(input) {
        Ok(p) => p.root,
        Err(e) => panic!("{input:?} did not parse: {e:?}"),
    }
}

fn canonical(input: &str) -> String {
    print(&parse(input).unwrap_or_else(|e| panic!("{input:?}: {e:?}")))
}

fn err(input: &str) -> ParseError {
    match parse(input) {
        Ok(p) => panic!("{input:?} parsed as {p:?}"),
        Err(e) => e,
    }
}

fn key(path: &str) -> OperandKind {
    OperandKind::KeyPath(path.split('.').map(str::to_owned).collect())
}

#[test]
fn a_comparison_and_its_spans() {
    let input = "  os_vers_major >= 14 ";
    let root = tree(input);
    assert_eq!(root.span, 2..21);
    assert!(!root.parenthesized);
    let NodeKind::Compare {
        quantifier,
        left,
        op,
        options,
        right,
    } = root.kind
    else {
        panic!("{root:?}")
    };
    assert_eq!(quantifier, None);
    assert_eq!(left.kind, key("os_vers_major"));
    assert_eq!(&input[left.span], "os_vers_major");
    assert_eq!(op, CmpOp::Ge);
    assert_eq!(options, StrOptions::default());
    assert_eq!(right.kind, OperandKind::Number(14.0));
    assert_eq!(&input[right.span], "14");
}

#[test]
fn operator_and_keyword_synonyms() {
    let pairs = [
        ("a = 1", "a == 1"),
        ("a <> 1", "a != 1"),
        ("a => 1", "a >= 1"),
        ("a =< 1", "a <= 1"),
        ("a == 1 && b == 2", "a == 1 AND b == 2"),
        ("a == 1 || b == 2", "a == 1 OR b == 2"),
        ("!a == 1", "NOT a == 1"),
        ("not a == 1", "NOT a == 1"),
        (
            "a == 1 and b == 2 Or c == 3",
            "(a == 1 AND b == 2) OR c == 3",
        ),
        ("some x == 1", "ANY x == 1"),
        ("Any x == 1", "ANY x == 1"),
        ("all x == 1", "ALL x == 1"),
        ("none x == 1", "NONE x == 1"),
        ("a == yes", "a == TRUE"),
        ("a == no", "a == FALSE"),
        ("a == nil", "a == NULL"),
        ("a == null", "a == NULL"),
        ("a beginswith[cd] 'x'", "a BEGINSWITH[cd] \"x\""),
        ("a endswith[dc] 'x'", "a ENDSWITH[cd] \"x\""),
        ("a like[c] 'x'", "a LIKE[c] \"x\""),
        ("a matches[d] 'x'", "a MATCHES[d] \"x\""),
        ("a contains 'x'", "a CONTAINS \"x\""),
        ("a in {1,2}", "a IN {1, 2}"),
        ("a ==[c] 'x'", "a ==[c] \"x\""),
        ("a between {1,2}", "a BETWEEN {1, 2}"),
        ("truepredicate", "TRUEPREDICATE"),
        ("falsepredicate", "FALSEPREDICATE"),
        ("#in.#first == 1", "#in.#first == 1"),
        ("a == -1.5", "a == -1.5"),
        ("a == 1e3", "a == 1000"),
        ("a == 2.5e-9", "a == 2.5e-9"),
        ("a == 12345678901234567890", "a == 1.2345678901234567e19"),
        ("a == 1e300", "a == 1e300"),
        ("a == 0.1", "a == 0.1"),
        ("a == 007", "a == 7"),
        ("a == {}", "a == {}"),
        ("a == {1, {2, 'x'}}", "a == {1, {2, \"x\"}}"),
        (
            "date > cast('2016-03-02T00:00:00Z', 'NSDate')",
            "date > CAST(\"2016-03-02T00:00:00Z\", \"NSDate\")",
        ),
        (
            "date > CAST(0, 'NSDate')",
            "date > CAST(\"2001-01-01T00:00:00Z\", \"NSDate\")",
        ),
        ("date > CAST(0.5, 'NSDate')", "date > CAST(0.5, \"NSDate\")"),
        (
            "date > CAST(1e13, 'NSDate')",
            "date > CAST(10000000000000, \"NSDate\")",
        ),
        (
            "date > CAST('2016-03-02T00:00:00.5Z', 'NSDate')",
            "date > CAST(478569600.5, \"NSDate\")",
        ),
        ("x == 'it''s'", "x == \"it\""),
    ];
    for (input, expected) in pairs {
        if input == "x == 'it''s'" {
            // Two adjacent strings are not one string.
            assert!(parse(input).is_err());
            continue;
        }
        assert_eq!(canonical(input), expected, "{input}");
        assert_eq!(
            canonical(expected),
            expected,
            "{expected} is not a fixed point"
        );
    }
}

#[test]
fn string_escapes() {
    let cases = [
        (r#"x == "a\"b""#, "a\"b"),
        (r#"x == 'a\'b'"#, "a'b"),
        (r#"x == 'a"b'"#, "a\"b"),
        (r#"x == "a\\b""#, "a\\b"),
        (r#"x == "a\nb\tc\rd""#, "a\nb\tc\rd"),
        (r#"x == "\x41\u00e9\101""#, "Aé\u{41}"),
        // Unknown escapes keep their backslash: regular expressions need them.
        (r#"x MATCHES '10\.7\,\d'"#, "10\\.7\\,\\d"),
    ];
    for (input, expected) in cases {
        let NodeKind::Compare { right, .. } = tree(input).kind else {
            panic!()
        };
        assert_eq!(
            right.kind,
            OperandKind::String(expected.to_owned()),
            "{input}"
        );
    }
    assert_eq!(canonical(r#"x MATCHES '10\.7'"#), r#"x MATCHES "10\\.7""#);
    assert_eq!(canonical("x == 'say \"hi\"'"), r#"x == "say \"hi\"""#);
    for bad in [
        r#"x == "\x4""#,
        r#"x == "\uD800""#,
        r#"x == "\u12""#,
        "x == 'open",
        "x == 'end\\",
    ] {
        assert!(!err(bad).unsupported, "{bad}");
    }
}

#[test]
fn precedence_and_parentheses() {
    // NOT > AND > OR.
    let root = tree("a == 1 OR b == 2 AND NOT c == 3");
    let NodeKind::Or(left, right) = root.kind else {
        panic!()
    };
    assert!(matches!(left.kind, NodeKind::Compare { .. }));
    let NodeKind::And(_, not) = right.kind else {
        panic!()
    };
    assert!(matches!(not.kind, NodeKind::Not(_)));
    assert!(!right.parenthesized);

    // Chains group from the left.
    let NodeKind::And(first, _) = tree("a == 1 AND b == 2 AND c == 3").kind else {
        panic!()
    };
    assert!(matches!(first.kind, NodeKind::And(..)));

    // Parentheses are recorded, with their span.
    let input = "(a == 1 OR b == 2) AND c == 3";
    let NodeKind::And(group, _) = tree(input).kind else {
        panic!()
    };
    assert!(group.parenthesized);
    assert_eq!(&input[group.span.clone()], "(a == 1 OR b == 2)");
    let double = tree("((a == 1))");
    assert!(double.parenthesized);
    assert_eq!(double.span, 0..10);

    // Equality ignores spans and parentheses.
    assert_eq!(tree("(a == 1)"), tree("a==1"));
    assert_eq!(tree("a == 1 AND (b == 2)"), tree("a == 1 AND b == 2"));
    assert_ne!(
        tree("a == 1 AND (b == 2 AND c == 3)"),
        tree("a == 1 AND b == 2 AND c == 3")
    );

    for (input, expected) in [
        (
            "a == 1 AND b == 2 OR c == 3",
            "(a == 1 AND b == 2) OR c == 3",
        ),
        (
            "a == 1 OR b == 2 AND c == 3",
            "a == 1 OR (b == 2 AND c == 3)",
        ),
        (
            "(a == 1 OR b == 2) AND c == 3",
            "(a == 1 OR b == 2) AND c == 3",
        ),
        (
            "a == 1 AND (b == 2 AND c == 3)",
            "a == 1 AND (b == 2 AND c == 3)",
        ),
        (
            "(a == 1 AND b == 2) AND c == 3",
            "a == 1 AND b == 2 AND c == 3",
        ),
        ("NOT (a == 1 OR b == 2)", "NOT (a == 1 OR b == 2)"),
        ("NOT (a == 1)", "NOT a == 1"),
        ("NOT NOT a == 1", "NOT NOT a == 1"),
        ("!(TRUEPREDICATE)", "NOT TRUEPREDICATE"),
        ("(NOT a == 1) AND b == 2", "NOT a == 1 AND b == 2"),
    ] {
        assert_eq!(canonical(input), expected, "{input}");
        assert_eq!(tree(expected), tree(input), "{expected}");
    }
}

#[test]
fn between_and_quantifiers() {
    let NodeKind::Between { left, low, high } = tree("os_vers_minor BETWEEN {8, 12}").kind else {
        panic!()
    };
    assert_eq!(left.kind, key("os_vers_minor"));
    assert_eq!(low.kind, OperandKind::Number(8.0));
    assert_eq!(high.kind, OperandKind::Number(12.0));
    let NodeKind::Compare {
        quantifier, left, ..
    } = tree("ANY applications.bundleid BEGINSWITH 'com.adobe.'").kind
    else {
        panic!()
    };
    assert_eq!(quantifier, Some(Quantifier::Any));
    assert_eq!(left.kind, key("applications.bundleid"));
    assert!(!err("x BETWEEN {1, 2, 3}").unsupported);
    assert!(!err("x BETWEEN {1}").unsupported);
    assert!(err("x BETWEEN bounds").unsupported);
    assert!(err("ANY x BETWEEN {1, 2}").unsupported);
    assert!(!err("x BETWEEN[c] {1, 2}").unsupported);
}

/// (input, the construct the message must name)
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "SUBQUERY(applications, $app, $app.bundleid == 'x').@count > 0",
        "SUBQUERY",
    ),
    ("FUNCTION(x, 'uppercase') == 'A'", "FUNCTION()"),
    ("now() > x", "function calls"),
    ("x == %@", "format arguments"),
    ("%K == 'x'", "format arguments"),
    ("x == $VAR", "variables"),
    ("applications.@count > 0", "@count"),
    ("x.@sum.y > 0", "@"),
    ("x[FIRST] == 1", "[FIRST]"),
    ("x[LAST] == 1", "[LAST]"),
    ("x[SIZE] == 1", "[SIZE]"),
    ("x[0] == 1", "index access"),
    ("board-id == 'Mac-X'", "board-id"),
    ("os_vers_major * 100 + os_vers_minor >= 1015", "arithmetic"),
    ("x == 1 + 2", "arithmetic"),
    ("x / 2 == 1", "arithmetic"),
    ("x ** 2 == 1", "arithmetic"),
    ("x == -y", "arithmetic"),
    ("x == 0x1F", "hexadecimal"),
    ("x == 0o17", "octal"),
    ("x == 0b101", "binary"),
    ("SELF == 'x'", "SELF"),
    ("x UTI-CONFORMS-TO 'public.data'", "UTI-CONFORMS-TO"),
    ("x UTI-EQUALS 'public.data'", "UTI-EQUALS"),
    ("x ==[n] 'a'", "[n]"),
    ("x ==[l] 'a'", "[l]"),
    ("x == CAST('1', 'NSNumber')", "NSNumber"),
    ("x == CAST(y, 'NSDate')", "CAST"),
    ("x == CAST('2016-03-02', 'NSDate')", "YYYY-MM-DDTHH:MM:SSZ"),
    ("x == FETCH(a, b, NO)", "FETCH"),
    ("ANYKEY == 1", "ANYKEY"),
    ("x == (1)", "parentheses around a value"),
];

#[test]
fn unsupported_constructs_are_named() {
    for &(input, construct) in UNSUPPORTED {
        let e = err(input);
        assert!(e.unsupported, "{input}: {e:?}");
        assert!(e.message.starts_with("unsupported: "), "{input}: {e:?}");
        assert!(
            e.message.contains(construct),
            "{input}: {:?} does not name {construct}",
            e.message
        );
        assert!(
            e.span.start <= e.span.end && e.span.end <= input.len(),
            "{input}: {e:?}"
        );
    }
    let e = err("board-id == 'Mac-X'");
    assert_eq!(e.span, 0..8);
}

#[test]
fn malformed_input_is_not_unsupported() {
    for (input, needle, span) in [
        ("", "ends where a value", 0..0),
        ("   ", "ends where a value", 3..3),
        ("x", "ends where a comparison operator", 1..1),
        ("x ==", "ends where a value", 4..4),
        ("x == 1 y", "expected AND, OR or the end", 7..8),
        ("(x == 1", "expected `)`", 7..7),
        ("x == 1)", "unbalanced `)`", 6..7),
        (
            "munki_python_ver >= 3.7.4",
            "quote a version string",
            20..25,
        ),
        ("x == 'a", "unterminated string", 5..7),
        ("x ? 1", "`?` is not an operator", 2..3),
        ("x & y", "single `&`", 2..3),
        ("x | y", "single `|`", 2..3),
        ("x == 1abc", "not a number", 5..9),
        ("x == 1e999", "out of range", 5..10),
        ("x.first == 1", "reserved word", 2..7),
        ("first == 1", "reserved word", 0..5),
        ("x ==[q] 1", "unknown comparison option", 4..7),
        ("x == {1 2}", "expected `,` or `}`", 8..9),
        ("x NOT IN {1}", "NOT goes before", 2..5),
        ("café == 1", "unexpected character", 3..5),
        ("x == 1 AND", "ends where a value", 10..10),
        ("(a == 1))", "unbalanced", 8..9),
        ("# == 1", "`#` must be followed", 0..1),
        ("x == CAST('2016-03-02T00:00:00Z')", "expected `,`", 32..33),
        ("a == 1 </string>", "expected AND, OR", 7..8),
    ] {
        let e = err(input);
        assert!(!e.unsupported, "{input}: {e:?}");
        assert!(e.message.contains(needle), "{input}: {:?}", e.message);
        assert_eq!(e.span, span, "{input}: {:?}", e.message);
    }
}

#[test]
fn the_first_problem_in_the_text_is_reported() {
    // The parse error comes before the later unsupported `$`.
    assert!(!err("x == == $y").unsupported);
    // The unsupported `%@` comes before the later parse error.
    assert!(err("x == %@ ==").unsupported);
}

#[test]
fn nesting_is_capped() {
    let deep = format!("{}a == 1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(err(&deep).message.contains("nests more than"));
    let nots = format!("{}a == 1", "NOT ".repeat(10_000));
    assert!(err(&nots).message.contains("nests more than"));
    let arrays = format!("a IN {}1{}", "{".repeat(10_000), "}".repeat(10_000));
    assert!(err(&arrays).message.contains("nests more than"));
    let chain = vec!["a == 1"; 10_000].join(" AND ");
    assert!(err(&chain).message.contains("nests more than"));
    // Real conditions are far below the cap.
    let long = vec!["machine_model != 'x'"; 900].join(" AND ");
    assert!(parse(&long).is_ok());
}

#[test]
fn builtin_facts_have_munki_7_types() {
    let get = |name: &str| {
        BUILTIN_FACTS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, t)| t)
    };
    assert_eq!(BUILTIN_FACTS.len(), 22);
    assert_eq!(get("os_build_last_component"), Some(FactType::String));
    assert_eq!(get("os_vers_major"), Some(FactType::Integer));
    assert_eq!(get("applications"), Some(FactType::DictArray));
    assert_eq!(get("ipv4_address"), Some(FactType::StringArray));
    assert_eq!(get("date"), Some(FactType::Date));
    assert_eq!(get("x86_64_capable"), Some(FactType::Bool));
    assert_eq!(get("board-id"), None);
}

#[test]
fn facts_files() {
    let json = br#"{"os_vers_major": 15, "ratio": 1.5, "big": 18446744073709551615,
        "laptop": true, "date": "2025-01-01T00:00:00Z", "gone": null,
        "groups": ["a", "b"], "app": {"name": "X", "nil": null}}"#;
    let facts = facts_from_json(json).unwrap();
    assert_eq!(facts["os_vers_major"], FactValue::Integer(15));
    assert_eq!(facts["ratio"], FactValue::Real(1.5));
    assert_eq!(facts["big"], FactValue::Real(18446744073709551615.0));
    assert_eq!(facts["laptop"], FactValue::Bool(true));
    assert_eq!(
        facts["date"],
        FactValue::String("2025-01-01T00:00:00Z".into())
    );
    assert!(!facts.contains_key("gone"));
    assert_eq!(
        facts["groups"],
        FactValue::Array(vec![
            FactValue::String("a".into()),
            FactValue::String("b".into())
        ])
    );
    let FactValue::Dict(app) = &facts["app"] else {
        panic!()
    };
    assert_eq!(app.len(), 1);
    assert!(facts_from_json(b"[1]").unwrap_err().contains("JSON object"));
    assert!(
        facts_from_json(b"{")
            .unwrap_err()
            .contains("not valid JSON")
    );
    assert!(
        facts_from_json(br#"{"a": [null]}"#)
            .unwrap_err()
            .contains("a[0]")
    );

    let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
    <key>on_corp</key><true/>
    <key>shard</key><integer>17</integer>
    <key>ratio</key><real>0.25</real>
    <key>enrolled</key><date>2016-03-02T00:00:00Z</date>
    <key>groups</key><array><string>staff</string></array>
    <key>nested</key><dict><key>k</key><string>v</string></dict>
</dict>
</plist>"#;
    let facts = facts_from_plist(xml).unwrap();
    assert_eq!(facts["on_corp"], FactValue::Bool(true));
    assert_eq!(facts["shard"], FactValue::Integer(17));
    assert_eq!(facts["ratio"], FactValue::Real(0.25));
    assert_eq!(facts["enrolled"], FactValue::Date(478_569_600.0));
    assert_eq!(
        facts["groups"],
        FactValue::Array(vec![FactValue::String("staff".into())])
    );

    // A ManagedInstallReport: its Conditions dictionary holds the facts.
    let report = br#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>Conditions</key><dict><key>arch</key><string>arm64</string></dict>
<key>Errors</key><array/>
<key>ManifestName</key><string>site_default</string>
</dict></plist>"#;
    let facts = facts_from_plist(report).unwrap();
    assert_eq!(facts.len(), 1);
    assert_eq!(facts["arch"], FactValue::String("arm64".into()));

    // Binary property lists too.
    let mut dict = plist::Dictionary::new();
    dict.insert("machine_type".into(), plist::Value::String("laptop".into()));
    dict.insert("blob".into(), plist::Value::Data(vec![1, 2]));
    let mut binary = Vec::new();
    plist::Value::Dictionary(dict.clone())
        .to_writer_binary(&mut binary)
        .unwrap();
    assert!(facts_from_plist(&binary).unwrap_err().contains("blob"));
    dict.remove("blob");
    let mut binary = Vec::new();
    plist::Value::Dictionary(dict)
        .to_writer_binary(&mut binary)
        .unwrap();
    assert_eq!(
        facts_from_plist(&binary).unwrap()["machine_type"],
        FactValue::String("laptop".into())
    );
    assert!(facts_from_plist(b"not a plist").is_err());
    assert!(
        facts_from_plist(br#"<plist version="1.0"><array/></plist>"#)
            .unwrap_err()
            .contains("dictionary")
    );
}
