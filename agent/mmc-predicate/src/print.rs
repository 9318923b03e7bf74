//! The canonical text of a predicate: what the compiler writes into bundles and Munki
//! evaluates. Upper-case keywords, double-quoted strings, and parentheses wherever the reading
//! would otherwise rest on precedence or associativity.

use crate::lex::{is_ident_char, is_ident_start, is_reserved};
use crate::{CmpOp, Node, NodeKind, Operand, OperandKind, Predicate, Quantifier};

/// Writes `predicate` in canonical form:
/// * keywords upper-case, one space around binary operators;
/// * strings in double quotes, with `\"` and `\\` the only escapes;
/// * an AND/OR operand that is an OR/AND is parenthesised, and so is a right operand of the
///   same kind (`a AND (b AND c)`: the parser groups chains from the left); a NOT operand that
///   is an AND or an OR is parenthesised;
/// * numbers in the shortest form that reads back as the same value;
/// * dates as `CAST("YYYY-MM-DDTHH:MM:SSZ", "NSDate")`, or `CAST(<seconds since 2001>,
///   "NSDate")` when not a whole second in the years 1–9999.
///
/// A key path component that is a reserved word is written `#word`. Components that are not
/// identifiers, and non-finite numbers, cannot be written in a form that reads back.
pub fn print(predicate: &Predicate) -> String {
    let mut out = String::new();
    node(&predicate.root, &mut out);
    out
}

fn is_and(n: &Node) -> bool {
    matches!(n.kind, NodeKind::And(..))
}

fn is_or(n: &Node) -> bool {
    matches!(n.kind, NodeKind::Or(..))
}

fn grouped(n: &Node, parens: bool, out: &mut String) {
    if parens {
        out.push('(');
        node(n, out);
        out.push(')');
    } else {
        node(n, out);
    }
}

fn node(n: &Node, out: &mut String) {
    match &n.kind {
        NodeKind::True => out.push_str("TRUEPREDICATE"),
        NodeKind::False => out.push_str("FALSEPREDICATE"),
        NodeKind::Not(inner) => {
            out.push_str("NOT ");
            grouped(inner, is_and(inner) || is_or(inner), out);
        }
        NodeKind::And(a, b) => {
            grouped(a, is_or(a), out);
            out.push_str(" AND ");
            grouped(b, is_or(b) || is_and(b), out);
        }
        NodeKind::Or(a, b) => {
            grouped(a, is_and(a), out);
            out.push_str(" OR ");
            grouped(b, is_and(b) || is_or(b), out);
        }
        NodeKind::Compare {
            quantifier,
            left,
            op,
            options,
            right,
        } => {
            match quantifier {
                None => {}
                Some(Quantifier::Any) => out.push_str("ANY "),
                Some(Quantifier::All) => out.push_str("ALL "),
                Some(Quantifier::None) => out.push_str("NONE "),
            }
            operand(left, out);
            out.push(' ');
            out.push_str(CmpOp::keyword(*op));
            match (options.case_insensitive, options.diacritic_insensitive) {
                (false, false) => {}
                (true, false) => out.push_str("[c]"),
                (false, true) => out.push_str("[d]"),
                (true, true) => out.push_str("[cd]"),
            }
            out.push(' ');
            operand(right, out);
        }
        NodeKind::Between { left, low, high } => {
            operand(left, out);
            out.push_str(" BETWEEN {");
            operand(low, out);
            out.push_str(", ");
            operand(high, out);
            out.push('}');
        }
    }
}

fn operand(o: &Operand, out: &mut String) {
    match &o.kind {
        OperandKind::KeyPath(path) => {
            for (i, key) in path.iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                let is_ident = key.starts_with(is_ident_start) && key.chars().all(is_ident_char);
                if is_ident && is_reserved(key) {
                    out.push('#');
                }
                out.push_str(key);
            }
        }
        OperandKind::String(s) => string(s, out),
        OperandKind::Number(n) => out.push_str(&number(*n)),
        OperandKind::Bool(true) => out.push_str("TRUE"),
        OperandKind::Bool(false) => out.push_str("FALSE"),
        OperandKind::Nil => out.push_str("NULL"),
        OperandKind::Array(items) => {
            out.push('{');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                operand(item, out);
            }
            out.push('}');
        }
        OperandKind::Date(seconds) => {
            out.push_str("CAST(");
            match crate::date::date_to_iso8601(*seconds) {
                Some(text) => string(&text, out),
                None => out.push_str(&number(*seconds)),
            }
            out.push_str(", \"NSDate\")");
        }
    }
}

fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// The shortest decimal text that reads back as `n`: integers without a fraction, an exponent
/// only for very large or very small magnitudes.
fn number(n: f64) -> String {
    let magnitude = n.abs();
    if n == n.trunc() && magnitude < 1e16 || (1e-5..1e16).contains(&magnitude) {
        format!("{n}")
    } else {
        format!("{n:e}")
    }
}
