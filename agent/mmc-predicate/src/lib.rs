//! Munki's condition language: the subset of Apple's NSPredicate format that mmc accepts.
//!
//! One library for both sides of mmc: the compiler parses and type-checks conditions with it
//! (and writes [`print`]'s canonical text into bundles, so Munki evaluates the same text), and
//! the agent evaluates them against the machine's facts with [`eval`].
//!
//! * [`parse`] accepts the subset described in `docs/predicates.md`. Valid NSPredicate syntax
//!   that mmc refuses (SUBQUERY, format arguments, variables, `@` operators, arithmetic, …) is
//!   reported with [`ParseError::unsupported`] set, so callers can tell "Munki would run this,
//!   mmc won't" from "this is not a predicate at all".
//! * [`print`] writes the canonical form; `parse(print(t)) == t` for every tree `t` whose key
//!   path components are identifiers and whose numbers are finite.
//! * [`eval`] follows Apple's Foundation semantics (not GNUstep's where they differ).
//! * [`facts_from_json`] / [`facts_from_plist`] read facts files.

mod date;
mod eval;
mod facts;
mod fold;
mod lex;
mod parse;
mod print;

pub use date::{date_from_iso8601, date_to_iso8601};
pub use eval::eval;
pub use facts::{BUILTIN_FACTS, FactType, FactValue, Facts, facts_from_json, facts_from_plist};
pub use parse::parse;
pub use print::print;

/// Byte offsets into the predicate string.
pub type Span = std::ops::Range<usize>;

/// A parsed condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Predicate {
    pub root: Node,
}

/// One predicate node. Equality compares the trees only: spans and whether the source had
/// parentheses around the node are ignored.
#[derive(Clone, Debug)]
pub struct Node {
    pub kind: NodeKind,
    /// The node's text, including its parentheses when it had some.
    pub span: Span,
    /// The source wrote this node inside its own parentheses, e.g. the AND in `(a AND b) OR c`.
    pub parenthesized: bool,
}

impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        self.kind == other.kind
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// `TRUEPREDICATE`
    True,
    /// `FALSEPREDICATE`
    False,
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Compare {
        quantifier: Option<Quantifier>,
        left: Operand,
        op: CmpOp,
        options: StrOptions,
        right: Operand,
    },
    /// `left BETWEEN {low, high}`, inclusive at both ends.
    Between {
        left: Operand,
        low: Operand,
        high: Operand,
    },
}

/// `ANY` (also spelled `SOME`), `ALL`, `NONE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantifier {
    Any,
    All,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    BeginsWith,
    EndsWith,
    Contains,
    Like,
    Matches,
    In,
}

impl CmpOp {
    /// The operator as the canonical form writes it: `==`, `BEGINSWITH`, …
    pub fn keyword(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::BeginsWith => "BEGINSWITH",
            CmpOp::EndsWith => "ENDSWITH",
            CmpOp::Contains => "CONTAINS",
            CmpOp::Like => "LIKE",
            CmpOp::Matches => "MATCHES",
            CmpOp::In => "IN",
        }
    }
}

/// The `[c]`, `[d]`, `[cd]` modifiers of a comparison.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StrOptions {
    pub case_insensitive: bool,
    pub diacritic_insensitive: bool,
}

/// One side of a comparison. Equality ignores the span.
#[derive(Clone, Debug)]
pub struct Operand {
    pub kind: OperandKind,
    pub span: Span,
}

impl PartialEq for Operand {
    fn eq(&self, other: &Operand) -> bool {
        self.kind == other.kind
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum OperandKind {
    /// `applications.bundleid` is `["applications", "bundleid"]`.
    KeyPath(Vec<String>),
    String(String),
    Number(f64),
    Bool(bool),
    /// `NULL` / `NIL`
    Nil,
    /// `{1, 2}`
    Array(Vec<Operand>),
    /// `CAST("2016-03-02T00:00:00Z", "NSDate")` or `CAST(<number>, "NSDate")`: seconds since
    /// 2001-01-01T00:00:00Z.
    Date(f64),
}

/// Why a condition did not parse.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    pub message: String,
    pub span: Span,
    /// Valid NSPredicate syntax that mmc does not accept (the message then starts with
    /// `unsupported: ` and names the construct). `false` for text that is not a predicate.
    pub unsupported: bool,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// Why a condition could not be evaluated (Munki logs such a condition as an error and treats
/// it as false).
#[derive(Clone, Debug, PartialEq)]
pub struct EvalError {
    pub message: String,
    pub span: Span,
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvalError {}

#[cfg(test)]
mod tests;
