//! Properties of the parser and the canonical printer.

use std::collections::BTreeMap;

use mmc_predicate::{
    CmpOp, FactValue, Facts, Node, NodeKind, Operand, OperandKind, Predicate, Quantifier,
    StrOptions, eval, parse, print,
};
use proptest::prelude::*;

fn operand(kind: OperandKind) -> Operand {
    Operand { kind, span: 0..0 }
}

fn node(kind: NodeKind) -> Node {
    Node {
        kind,
        span: 0..0,
        parenthesized: false,
    }
}

/// Key path components: identifiers, reserved words among them (printed as `#word`).
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z_][A-Za-z0-9_]{0,10}",
        prop::sample::select(vec![
            "in", "ANY", "first", "Size", "true", "nil", "cast", "between", "some", "SELF",
            // Names of the facts `eval_never_panics` evaluates against.
            "arch", "apps", "bundleid", "n", "d", "list",
        ])
        .prop_map(str::to_owned),
    ]
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        (-1_000_000i64..1_000_000).prop_map(|i| i as f64),
        (-100i32..100, -30i32..30).prop_map(|(m, e)| f64::from(m) * 10f64.powi(e)),
    ]
}

fn leaf_operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        prop::collection::vec(key(), 1..4).prop_map(OperandKind::KeyPath),
        // Any text, quotes, backslashes and newlines included.
        any::<String>().prop_map(OperandKind::String),
        r#"[a-z"'\\ .*?\n\t]{0,8}"#.prop_map(OperandKind::String),
        finite().prop_map(OperandKind::Number),
        any::<bool>().prop_map(OperandKind::Bool),
        Just(OperandKind::Nil),
        finite().prop_map(OperandKind::Date),
        // Whole seconds in the years 1..=9999: printed as ISO text.
        (-63_113_904_000i64..252_423_993_599).prop_map(|s| OperandKind::Date(s as f64)),
    ]
    .prop_map(operand)
}

fn any_operand() -> impl Strategy<Value = Operand> {
    leaf_operand().prop_recursive(3, 12, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(|items| operand(OperandKind::Array(items)))
    })
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(vec![
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
        CmpOp::BeginsWith,
        CmpOp::EndsWith,
        CmpOp::Contains,
        CmpOp::Like,
        CmpOp::Matches,
        CmpOp::In,
    ])
}

fn quantifier() -> impl Strategy<Value = Option<Quantifier>> {
    prop::option::of(prop::sample::select(vec![
        Quantifier::Any,
        Quantifier::All,
        Quantifier::None,
    ]))
}

fn leaf_node() -> impl Strategy<Value = Node> {
    prop_oneof![
        1 => Just(NodeKind::True),
        1 => Just(NodeKind::False),
        6 => (quantifier(), any_operand(), cmp_op(), any::<(bool, bool)>(), any_operand()).prop_map(
            |(quantifier, left, op, (c, d), right)| NodeKind::Compare {
                quantifier,
                left,
                op,
                options: StrOptions {
                    case_insensitive: c,
                    diacritic_insensitive: d,
                },
                right,
            }
        ),
        2 => (any_operand(), any_operand(), any_operand())
            .prop_map(|(left, low, high)| NodeKind::Between { left, low, high }),
    ]
    .prop_map(node)
}

fn any_tree() -> impl Strategy<Value = Node> {
    leaf_node().prop_recursive(6, 48, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|n| node(NodeKind::Not(Box::new(n)))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| node(NodeKind::And(Box::new(a), Box::new(b)))),
            (inner.clone(), inner).prop_map(|(a, b)| node(NodeKind::Or(Box::new(a), Box::new(b)))),
        ]
    })
}

fn words(list: &[&'static str]) -> impl Strategy<Value = String> + Clone + use<> {
    prop::sample::select(list.to_vec()).prop_map(str::to_owned)
}

/// Text that looks like a predicate: clauses written in the language's many spellings, grouped
/// at random, then sometimes damaged by one inserted token or one deleted character.
fn predicate_like_text() -> impl Strategy<Value = String> {
    let value = words(&[
        "a",
        "b.c",
        "os_vers",
        "#in",
        "'x'",
        "\"y\"",
        "'a\\'b'",
        "\"\\\\\"",
        "1",
        "-2.5",
        "1e3",
        "TRUE",
        "no",
        "nil",
        "NULL",
        "{}",
        "{1, 'x'}",
        "{ {2} }",
        "CAST('2016-03-02T00:00:00Z', 'NSDate')",
        "cast(-1.5,\"NSDate\")",
    ]);
    let op = words(&[
        "==",
        "=",
        "!=",
        "<>",
        "<",
        "<=",
        "=<",
        ">",
        ">=",
        "=>",
        "BEGINSWITH",
        "endswith",
        "CONTAINS",
        "like",
        "MATCHES",
        "IN",
        "==[c]",
        "LIKE[cd]",
        "contains[d]",
    ]);
    let quantifier = words(&["", "", "", "ANY ", "some ", "ALL ", "none "]);
    let clause = prop_oneof![
        6 => (quantifier, value.clone(), op, value.clone())
            .prop_map(|(q, l, o, r)| format!("{q}{l} {o} {r}")),
        1 => (value.clone(), value.clone(), value)
            .prop_map(|(l, a, b)| format!("{l} BETWEEN {{{a}, {b}}}")),
        1 => words(&["TRUEPREDICATE", "falsepredicate"]),
    ];
    let tree = clause.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|p| format!("({p})")),
            inner.clone().prop_map(|p| format!("NOT {p}")),
            inner.clone().prop_map(|p| format!("!{p}")),
            (
                inner.clone(),
                words(&[" AND ", " and ", "&&", " OR ", " || ", "||"]),
                inner
            )
                .prop_map(|(a, c, b)| format!("{a}{c}{b}")),
        ]
    });
    let junk = words(&[
        "(",
        ")",
        "{",
        "}",
        ",",
        "[",
        "]",
        "'",
        "\"",
        "\\",
        "AND",
        "NOT",
        "ANY",
        "==",
        "-",
        "+",
        "*",
        "/",
        ".",
        "?",
        "$x",
        "%@",
        "@count",
        "SELF",
        "SUBQUERY",
        "FUNCTION",
        "UTI-EQUALS",
        "0x1",
        "3.7.4",
        "[FIRST]",
        "\u{e9}",
        "#",
        "&",
        "|",
        " ",
    ]);
    (tree, 0u8..4, any::<prop::sample::Index>(), junk).prop_map(|(text, damage, at, junk)| {
        let boundaries: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect();
        let i = boundaries[at.index(boundaries.len())];
        match damage {
            0 => format!("{}{junk}{}", &text[..i], &text[i..]),
            1 if i < text.len() => {
                let c = text[i..].chars().next().unwrap();
                format!("{}{}", &text[..i], &text[i + c.len_utf8()..])
            }
            _ => text,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn printed_trees_parse_back_to_themselves(root in any_tree()) {
        let predicate = Predicate { root };
        let text = print(&predicate);
        match parse(&text) {
            Ok(again) => prop_assert_eq!(again, predicate, "printed as {}", text),
            Err(e) => prop_assert!(false, "{} does not parse: {:?}", text, e),
        }
    }

    #[test]
    fn eval_never_panics_and_errors_point_inside(root in any_tree()) {
        let predicate = Predicate { root };
        let text = print(&predicate);
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e:?}")))?;
        let facts = facts();
        let result = eval(&parsed, &facts);
        if let Err(e) = &result {
            prop_assert!(e.span.start <= e.span.end && e.span.end <= text.len(), "{:?}", e);
        }
        // Spans do not matter to the result (only to where an error points).
        prop_assert_eq!(
            eval(&predicate, &facts).map_err(|e| e.message),
            result.map_err(|e| e.message)
        );
    }

    #[test]
    fn parse_never_panics(input in any::<String>()) {
        let _ = parse(&input);
    }

    #[test]
    fn canonical_text_is_a_fixed_point(input in predicate_like_text()) {
        check_input(&input)?;
    }

    #[test]
    fn parse_never_panics_on_garbled_text(input in "[ -~]{0,40}") {
        check_input(&input)?;
    }

    #[test]
    fn other_spellings_parse_to_the_same_tree(
        root in any_tree(),
        choices in prop::collection::vec(any::<u8>(), 64),
    ) {
        let predicate = Predicate { root };
        let mut spelling = Spelling { choices, next: 0 };
        let mut text = String::new();
        spelling.node(&predicate.root, &mut text);
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e:?}")))?;
        prop_assert_eq!(&parsed, &predicate, "respelled as {}", text);
        check_input(&text)?;
    }
}

fn facts() -> Facts {
    let app = |id: &str| {
        FactValue::Dict(BTreeMap::from([(
            "bundleid".to_owned(),
            FactValue::String(id.to_owned()),
        )]))
    };
    BTreeMap::from([
        ("arch".to_owned(), FactValue::String("arm64".to_owned())),
        (
            "apps".to_owned(),
            FactValue::Array(vec![app("com.a"), app("x")]),
        ),
        ("n".to_owned(), FactValue::Integer(15)),
        ("d".to_owned(), FactValue::Date(478_569_600.0)),
        (
            "list".to_owned(),
            FactValue::Array(vec![
                FactValue::String("a".to_owned()),
                FactValue::Real(2.5),
                FactValue::Bool(true),
            ]),
        ),
    ])
}

/// Writes a tree the way people do: lower-case keywords, `&&`/`||`/`!`, operator synonyms,
/// single quotes, redundant parentheses, odd spacing. Every choice keeps the meaning.
struct Spelling {
    choices: Vec<u8>,
    next: usize,
}

impl Spelling {
    fn pick(&mut self, n: u8) -> u8 {
        let c = self.choices[self.next % self.choices.len()];
        self.next += 1;
        c % n
    }

    fn space(&mut self) -> &'static str {
        [" ", "  ", "\t", "\n "][usize::from(self.pick(4))]
    }

    fn word(&mut self, upper: &str) -> String {
        match self.pick(3) {
            0 => upper.to_owned(),
            1 => upper.to_ascii_lowercase(),
            _ => {
                let mut w = upper.to_ascii_lowercase();
                w[..1].make_ascii_uppercase();
                w
            }
        }
    }

    fn node(&mut self, n: &Node, out: &mut String) {
        let binary = |n: &Node| matches!(n.kind, NodeKind::And(..) | NodeKind::Or(..));
        let extra = self.pick(5) == 0;
        if extra {
            out.push('(');
        }
        match &n.kind {
            NodeKind::True => out.push_str(&self.word("TRUEPREDICATE")),
            NodeKind::False => out.push_str(&self.word("FALSEPREDICATE")),
            NodeKind::Not(inner) => {
                if self.pick(2) == 0 {
                    out.push('!');
                } else {
                    out.push_str(&self.word("NOT"));
                    out.push_str(self.space());
                }
                self.group(inner, binary(inner), out);
            }
            NodeKind::And(a, b) | NodeKind::Or(a, b) => {
                let is_and = matches!(n.kind, NodeKind::And(..));
                // Operands that would otherwise regroup get parentheses; others sometimes do.
                let (left_needs, right_needs) = if is_and {
                    (matches!(a.kind, NodeKind::Or(..)), binary(b))
                } else {
                    (false, binary(b))
                };
                self.group(a, left_needs, out);
                out.push_str(self.space());
                let op = match (is_and, self.pick(2)) {
                    (true, 0) => "&&".to_owned(),
                    (true, _) => self.word("AND"),
                    (false, 0) => "||".to_owned(),
                    (false, _) => self.word("OR"),
                };
                out.push_str(&op);
                out.push_str(self.space());
                self.group(b, right_needs, out);
            }
            NodeKind::Compare {
                quantifier,
                left,
                op,
                options,
                right,
            } => {
                if let Some(q) = quantifier {
                    let word = match (q, self.pick(2)) {
                        (Quantifier::Any, 0) => "SOME",
                        (Quantifier::Any, _) => "ANY",
                        (Quantifier::All, _) => "ALL",
                        (Quantifier::None, _) => "NONE",
                    };
                    out.push_str(&self.word(word));
                    out.push(' ');
                }
                self.operand(left, out);
                out.push_str(self.space());
                let text = match op {
                    CmpOp::Eq => ["==", "="][usize::from(self.pick(2))].to_owned(),
                    CmpOp::Ne => ["!=", "<>"][usize::from(self.pick(2))].to_owned(),
                    CmpOp::Lt => "<".to_owned(),
                    CmpOp::Le => ["<=", "=<"][usize::from(self.pick(2))].to_owned(),
                    CmpOp::Gt => ">".to_owned(),
                    CmpOp::Ge => [">=", "=>"][usize::from(self.pick(2))].to_owned(),
                    CmpOp::BeginsWith => self.word("BEGINSWITH"),
                    CmpOp::EndsWith => self.word("ENDSWITH"),
                    CmpOp::Contains => self.word("CONTAINS"),
                    CmpOp::Like => self.word("LIKE"),
                    CmpOp::Matches => self.word("MATCHES"),
                    CmpOp::In => self.word("IN"),
                };
                out.push_str(&text);
                match (options.case_insensitive, options.diacritic_insensitive) {
                    (false, false) => {}
                    (true, false) => out.push_str("[c]"),
                    (false, true) => out.push_str("[d]"),
                    (true, true) => out.push_str(["[cd]", "[dc]"][usize::from(self.pick(2))]),
                }
                out.push_str(self.space());
                self.operand(right, out);
            }
            NodeKind::Between { left, low, high } => {
                self.operand(left, out);
                out.push(' ');
                out.push_str(&self.word("BETWEEN"));
                out.push_str(" {");
                self.operand(low, out);
                out.push(',');
                self.operand(high, out);
                out.push('}');
            }
        }
        if extra {
            out.push(')');
        }
    }

    fn group(&mut self, n: &Node, parens: bool, out: &mut String) {
        if parens {
            out.push('(');
        }
        self.node(n, out);
        if parens {
            out.push(')');
        }
    }

    fn operand(&mut self, o: &Operand, out: &mut String) {
        match &o.kind {
            OperandKind::String(text) if self.pick(2) == 0 => {
                out.push('\'');
                for c in text.chars() {
                    if c == '\'' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('\'');
            }
            OperandKind::Bool(b) => {
                let word = match (b, self.pick(2)) {
                    (true, 0) => "YES",
                    (true, _) => "TRUE",
                    (false, 0) => "NO",
                    (false, _) => "FALSE",
                };
                out.push_str(&self.word(word));
            }
            OperandKind::Nil => {
                let word = ["NIL", "NULL"][usize::from(self.pick(2))];
                out.push_str(&self.word(word));
            }
            OperandKind::Array(items) => {
                out.push('{');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.operand(item, out);
                }
                out.push('}');
            }
            _ => {
                // Everything else as the canonical printer writes it.
                let probe = Predicate {
                    root: node(NodeKind::Compare {
                        quantifier: None,
                        left: o.clone(),
                        op: CmpOp::Eq,
                        options: StrOptions::default(),
                        right: operand(OperandKind::Nil),
                    }),
                };
                let text = print(&probe);
                out.push_str(text.strip_suffix(" == NULL").unwrap());
            }
        }
    }
}

/// Spans lie inside the input; a parsed input prints to a canonical text that parses to the
/// same tree and prints to itself.
fn check_input(input: &str) -> Result<(), TestCaseError> {
    match parse(input) {
        Ok(predicate) => {
            prop_assert!(predicate.root.span.end <= input.len());
            let canonical = print(&predicate);
            let again = parse(&canonical)
                .map_err(|e| TestCaseError::fail(format!("{canonical:?}: {e:?}")))?;
            prop_assert_eq!(&again, &predicate, "{} printed as {}", input, canonical);
            prop_assert_eq!(print(&again), canonical);
        }
        Err(e) => {
            prop_assert!(
                e.span.start <= e.span.end && e.span.end <= input.len(),
                "{:?}",
                e
            );
            prop_assert!(
                input.is_char_boundary(e.span.start) && input.is_char_boundary(e.span.end)
            );
            prop_assert_eq!(e.unsupported, e.message.starts_with("unsupported: "));
        }
    }
    Ok(())
}

#[test]
fn corpus_like_inputs_are_fixed_points() {
    for input in [
        "(os_vers_minor <= 12 AND os_vers_minor >= 8) AND (machine_model != \"MacBookPro4,1\" AND machine_model != \"MacPro2,1\")",
        r#"machine_model MATCHES "MacBook([6-9]|1[0])\,1" OR machine_model MATCHES "iMac1[0-8]\,[1-4]""#,
        "date > CAST(\"2013-01-02T00:00:00Z\", \"NSDate\")",
        "ANY applications.bundleid BEGINSWITH 'com.adobe.'",
        "machine_type == 'laptop' AND os_vers BEGINSWITH '10.7' OR NOT arch IN {'arm64'}",
    ] {
        check_input(input).unwrap();
        let once = print(&parse(input).unwrap());
        assert_eq!(print(&parse(&once).unwrap()), once);
    }
}

/// The generator must mostly produce text that parses, or the fixed-point property says little.
#[test]
fn predicate_like_text_mostly_parses() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = predicate_like_text();
    let (mut parsed, mut unsupported, total) = (0, 0, 1000);
    for _ in 0..total {
        let text = strategy.new_tree(&mut runner).unwrap().current();
        match parse(&text) {
            Ok(_) => parsed += 1,
            Err(e) if e.unsupported => unsupported += 1,
            Err(_) => {}
        }
    }
    println!("predicate-like text: {parsed} of {total} parse, {unsupported} unsupported");
    assert!(parsed > total / 2, "only {parsed} of {total} parse");
    assert!(unsupported > 0);
}
