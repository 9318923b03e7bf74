//! Type-checking conditions at compile time, with spans inside the condition string.
//!
//! The parser is the agent's own (`mmc-predicate`), so what passes here is what the Mac
//! evaluates. Munki finds these mistakes only on the client, where a bad predicate counts as false
//! (or, before Munki 6.4, crashed it: munki#1201).

use std::collections::BTreeMap;
use std::ops::Range;

use mmc_predicate::{CmpOp, FactType, Node, NodeKind, Operand, OperandKind, Predicate};

use crate::diag::{Diagnostic, suggest};
use crate::syntax::spanned::Sp;

/// Fields of each element of the `applications` fact.
const APPLICATION_FIELDS: [&str; 4] = ["bundleid", "name", "path", "version"];

/// Facts conditions may use: Munki's built-ins and the repository's declared admin facts.
#[derive(Clone, Debug)]
pub struct FactTable {
    types: BTreeMap<String, FactType>,
}

impl FactTable {
    pub fn new(admin: impl IntoIterator<Item = (String, FactType)>) -> Self {
        let mut types: BTreeMap<String, FactType> = mmc_predicate::BUILTIN_FACTS
            .iter()
            .map(|(n, t)| ((*n).to_owned(), *t))
            .collect();
        types.extend(admin);
        Self { types }
    }

    pub fn get(&self, name: &str) -> Option<FactType> {
        self.types.get(name).copied()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> + Clone {
        self.types.keys().map(String::as_str)
    }
}

/// NSPredicate's reserved words (compared ignoring case): no fact can be named after one.
pub const RESERVED_WORDS: [&str; 30] = [
    "AND",
    "OR",
    "IN",
    "NOT",
    "ALL",
    "ANY",
    "SOME",
    "NONE",
    "LIKE",
    "CASEINSENSITIVE",
    "CI",
    "MATCHES",
    "CONTAINS",
    "BEGINSWITH",
    "ENDSWITH",
    "BETWEEN",
    "NULL",
    "NIL",
    "SELF",
    "TRUE",
    "YES",
    "FALSE",
    "NO",
    "FIRST",
    "LAST",
    "SIZE",
    "ANYKEY",
    "SUBQUERY",
    "FETCH",
    "CAST",
];

/// `string`, `integer`, … as written in `mmc.yaml`.
pub const TYPE_NAMES: [(&str, FactType); 6] = [
    ("string", FactType::String),
    ("integer", FactType::Integer),
    ("real", FactType::Real),
    ("boolean", FactType::Bool),
    ("date", FactType::Date),
    ("string_array", FactType::StringArray),
];

/// The type of an operand, as far as the checker can tell.
#[derive(Clone, Debug, PartialEq)]
enum Ty {
    Str,
    Num,
    Bool,
    Date,
    Nil,
    Array(Box<Ty>),
    Dicts,
    /// Unknown (already reported).
    Any,
}

impl Ty {
    fn of(t: FactType) -> Ty {
        match t {
            FactType::String => Ty::Str,
            FactType::Integer | FactType::Real => Ty::Num,
            FactType::Bool => Ty::Bool,
            FactType::Date => Ty::Date,
            FactType::StringArray => Ty::Array(Box::new(Ty::Str)),
            FactType::DictArray => Ty::Dicts,
        }
    }

    fn name(&self) -> String {
        match self {
            Ty::Str => "text".to_owned(),
            Ty::Num => "a number".to_owned(),
            Ty::Bool => "a boolean".to_owned(),
            Ty::Date => "a date".to_owned(),
            Ty::Nil => "nil".to_owned(),
            Ty::Array(e) => format!("a list of {}", e.name().trim_start_matches("a ")),
            Ty::Dicts => "a list of records".to_owned(),
            Ty::Any => "anything".to_owned(),
        }
    }

    /// Whether `==` between the two can ever be true (and is meaningful).
    fn comparable(&self, other: &Ty) -> bool {
        matches!(
            (self, other),
            (Ty::Any, _) | (_, Ty::Any) | (Ty::Nil, _) | (_, Ty::Nil)
        ) || self == other
            || matches!((self, other), (Ty::Array(a), Ty::Array(b)) if a.comparable(b))
    }
}

/// Checks one condition (a YAML scalar of `file`) and returns it parsed, or `None` after
/// reporting why it cannot be used.
pub fn check(
    file: &str,
    text: &str,
    scalar: &Sp<String>,
    facts: &FactTable,
    diags: &mut Vec<Diagnostic>,
) -> Option<Predicate> {
    let src = scalar.value.as_str();
    let at = |r: Range<usize>| crate::template::map_into_scalar(text, &scalar.span, src, r);
    let predicate = match mmc_predicate::parse(src) {
        Ok(p) => p,
        Err(e) => {
            let mut d = Diagnostic::error(
                if e.unsupported {
                    "condition-unsupported"
                } else {
                    "condition-syntax"
                },
                e.message.clone(),
            )
            .at(
                file,
                at(e.span.clone()),
                if e.unsupported {
                    "not supported"
                } else {
                    "here"
                },
            );
            if let Some((hyphenated, fixed)) = hyphenated_name(src, facts) {
                d = d.help(format!(
                    "`{hyphenated}` reads as a subtraction in NSPredicate; the fact is `{fixed}`"
                ));
            } else if e.unsupported {
                d = d.help("mmc accepts the NSPredicate subset Munki conditions need; see docs/predicates.md");
            }
            diags.push(d);
            return None;
        }
    };
    let mut cx = Checker {
        file,
        facts,
        diags,
        at: &at,
        ok: true,
    };
    cx.node(&predicate.root);
    cx.ok.then_some(predicate)
}

/// `board-id` → `(board-id, board_id)` when the underscore form is a known fact.
fn hyphenated_name(src: &str, facts: &FactTable) -> Option<(String, String)> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    src.split(|c: char| !is_ident(c))
        .filter(|w| w.contains('-') && w.starts_with(|c: char| c.is_ascii_alphabetic()))
        .map(|w| (w.to_owned(), w.replace('-', "_")))
        .find(|(_, fixed)| facts.get(fixed).is_some())
}

struct Checker<'a> {
    file: &'a str,
    facts: &'a FactTable,
    diags: &'a mut Vec<Diagnostic>,
    at: &'a dyn Fn(Range<usize>) -> Range<usize>,
    ok: bool,
}

impl Checker<'_> {
    fn error(
        &mut self,
        code: &'static str,
        span: Range<usize>,
        message: String,
        help: Option<String>,
    ) {
        let mut d = Diagnostic::error(code, message).at(self.file, (self.at)(span), "");
        if let Some(h) = help {
            d = d.help(h);
        }
        self.diags.push(d);
        self.ok = false;
    }

    fn warn(&mut self, code: &'static str, span: Range<usize>, message: String, help: String) {
        self.diags.push(
            Diagnostic::warning(code, message)
                .at(self.file, (self.at)(span), "")
                .help(help),
        );
    }

    fn node(&mut self, n: &Node) {
        match &n.kind {
            NodeKind::True | NodeKind::False => {}
            NodeKind::Not(inner) => self.node(inner),
            NodeKind::And(a, b) | NodeKind::Or(a, b) => {
                let is_and = matches!(n.kind, NodeKind::And(..));
                for child in [a, b] {
                    let mixed = if is_and {
                        matches!(child.kind, NodeKind::Or(..))
                    } else {
                        matches!(child.kind, NodeKind::And(..))
                    };
                    if mixed && !child.parenthesized {
                        self.warn(
                            "condition-precedence",
                            n.span.clone(),
                            "AND and OR are mixed without parentheses".to_owned(),
                            "add parentheses: Apple binds AND tighter than OR, other implementations do not, and readers guess".to_owned(),
                        );
                    }
                    self.node(child);
                }
            }
            NodeKind::Between { left, low, high } => {
                let l = self.operand(left);
                for bound in [low, high] {
                    let b = self.operand(bound);
                    if !matches!(l, Ty::Num | Ty::Date | Ty::Any) || !l.comparable(&b) {
                        self.error(
                            "condition-type",
                            bound.span.clone(),
                            format!("BETWEEN compares {} with {}", l.name(), b.name()),
                            Some("BETWEEN works on numbers and dates".to_owned()),
                        );
                        return;
                    }
                }
            }
            NodeKind::Compare {
                quantifier,
                left,
                op,
                right,
                ..
            } => {
                let mut l = self.operand(left);
                let r = self.operand(right);
                if quantifier.is_some() {
                    match l {
                        Ty::Array(e) => l = *e,
                        Ty::Any => {}
                        other => {
                            let name = key_path(left);
                            self.error(
                                "condition-type",
                                left.span.clone(),
                                format!(
                                    "ANY/ALL/NONE need a list, but `{name}` is {}",
                                    other.name()
                                ),
                                Some("drop the quantifier to compare the value itself".to_owned()),
                            );
                            return;
                        }
                    }
                }
                self.compare(left, &l, *op, right, &r);
            }
        }
    }

    fn compare(&mut self, left: &Operand, l: &Ty, op: CmpOp, right: &Operand, r: &Ty) {
        let span = left.span.start..right.span.end;
        match op {
            CmpOp::Eq | CmpOp::Ne => {
                if !l.comparable(r) {
                    self.error(
                        "condition-type",
                        span,
                        format!("`{}` is {}, compared with {}: this is never equal", describe(left), l.name(), r.name()),
                        Some(match (l, r) {
                            (Ty::Num, Ty::Str) => format!("a number never equals text in NSPredicate: write {} without quotes", describe(right)),
                            (Ty::Str, Ty::Num) => format!("quote the value: \"{}\"", describe(right)),
                            _ => "compare values of the same type".to_owned(),
                        }),
                    );
                }
            }
            CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => match (l, r) {
                (Ty::Num, Ty::Num) | (Ty::Date, Ty::Date) | (Ty::Any, _) | (_, Ty::Any) => {}
                (Ty::Str, Ty::Str) => {
                    let name = key_path(left);
                    let help = if name.starts_with("os_vers") || name.ends_with("version") {
                        "compare the numbers instead, e.g. os_vers_major >= 14 AND os_vers_minor >= 2".to_owned()
                    } else {
                        "ordering text is lexicographic; compare numbers where you can".to_owned()
                    };
                    self.warn(
                        "condition-version-order",
                        span,
                        format!(
                            "`{}` orders text, not versions: \"10.9\" sorts after \"10.10\"",
                            describe(left)
                        ),
                        help,
                    );
                }
                (Ty::Date, Ty::Str) => self.error(
                    "condition-type",
                    right.span.clone(),
                    "a date compares with a date, not text".to_owned(),
                    Some(format!("write CAST(\"{}\", \"NSDate\")", describe(right))),
                ),
                _ => self.error(
                    "condition-type",
                    span,
                    format!("cannot order {} against {}", l.name(), r.name()),
                    None,
                ),
            },
            CmpOp::BeginsWith | CmpOp::EndsWith | CmpOp::Like | CmpOp::Matches => {
                if !matches!(l, Ty::Str | Ty::Any) || !matches!(r, Ty::Str | Ty::Any) {
                    let hint = matches!(l, Ty::Array(_))
                        .then(|| format!("for a list, write ANY {} …", key_path(left)));
                    self.error(
                        "condition-type",
                        span,
                        format!(
                            "{} works on text, not {} and {}",
                            op.keyword(),
                            l.name(),
                            r.name()
                        ),
                        hint,
                    );
                }
            }
            CmpOp::Contains => match (l, r) {
                (Ty::Array(e), r) if e.comparable(r) => {}
                (Ty::Str, Ty::Str) | (Ty::Any, _) | (_, Ty::Any) => {}
                _ => self.error(
                    "condition-type",
                    span,
                    format!("CONTAINS between {} and {}", l.name(), r.name()),
                    None,
                ),
            },
            CmpOp::In => match (l, r) {
                (l, Ty::Array(e)) if l.comparable(e) => {}
                (Ty::Str, Ty::Str) | (Ty::Any, _) | (_, Ty::Any) => {}
                _ => self.error(
                    "condition-type",
                    span,
                    format!("IN between {} and {}", l.name(), r.name()),
                    None,
                ),
            },
        }
    }

    fn operand(&mut self, o: &Operand) -> Ty {
        match &o.kind {
            OperandKind::String(_) => Ty::Str,
            OperandKind::Number(_) => Ty::Num,
            OperandKind::Bool(_) => Ty::Bool,
            OperandKind::Nil => Ty::Nil,
            OperandKind::Date(_) => Ty::Date,
            OperandKind::Array(items) => {
                let mut elem = Ty::Any;
                for i in items {
                    let t = self.operand(i);
                    if elem == Ty::Any {
                        elem = t;
                    } else if !elem.comparable(&t) {
                        self.error(
                            "condition-type",
                            i.span.clone(),
                            format!("this list mixes {} and {}", elem.name(), t.name()),
                            None,
                        );
                    }
                }
                Ty::Array(Box::new(elem))
            }
            OperandKind::KeyPath(path) => {
                let first = path[0].as_str();
                let Some(t) = self.facts.get(first) else {
                    let help = match suggest(first, self.facts.names()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "declare admin facts under `facts:` in mmc.yaml".to_owned(),
                    };
                    self.error(
                        "unknown-fact",
                        o.span.clone(),
                        format!("unknown fact `{first}`"),
                        Some(help),
                    );
                    return Ty::Any;
                };
                let ty = Ty::of(t);
                match (&ty, &path[1..]) {
                    (_, []) => ty,
                    (Ty::Dicts, [field]) if APPLICATION_FIELDS.contains(&field.as_str()) => {
                        Ty::Array(Box::new(Ty::Str))
                    }
                    (Ty::Dicts, [field, ..]) => {
                        let help = suggest(field, APPLICATION_FIELDS).map_or_else(
                            || format!("fields: {}", APPLICATION_FIELDS.join(", ")),
                            |s| format!("did you mean `{s}`?"),
                        );
                        self.error(
                            "unknown-fact",
                            o.span.clone(),
                            format!("`{first}` has no field `{field}`"),
                            Some(help),
                        );
                        Ty::Any
                    }
                    _ => {
                        self.error(
                            "unknown-fact",
                            o.span.clone(),
                            format!("`{first}` is {} and has no fields", ty.name()),
                            None,
                        );
                        Ty::Any
                    }
                }
            }
        }
    }
}

fn key_path(o: &Operand) -> String {
    match &o.kind {
        OperandKind::KeyPath(p) => p.join("."),
        _ => describe(o),
    }
}

fn describe(o: &Operand) -> String {
    match &o.kind {
        OperandKind::KeyPath(p) => p.join("."),
        OperandKind::String(s) => s.clone(),
        OperandKind::Number(n) => format!("{n}"),
        OperandKind::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        OperandKind::Nil => "nil".to_owned(),
        OperandKind::Date(_) => "the date".to_owned(),
        OperandKind::Array(_) => "the list".to_owned(),
    }
}
