//! Evaluation with Apple Foundation's semantics (see `docs/predicates.md`).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::fold::{fold, like};
use crate::{
    CmpOp, EvalError, FactValue, Facts, Node, NodeKind, Operand, OperandKind, Predicate,
    Quantifier, Span, StrOptions,
};

/// Largest compiled MATCHES pattern (regex-lite's own measure), so a hostile pattern cannot
/// make the agent allocate without bound.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
const REGEX_NEST_LIMIT: u32 = 64;

/// Evaluates `predicate` against `facts`. A key that is not in `facts` is nil.
pub fn eval(predicate: &Predicate, facts: &Facts) -> Result<bool, EvalError> {
    node(&predicate.root, facts)
}

fn node(n: &Node, facts: &Facts) -> Result<bool, EvalError> {
    match &n.kind {
        NodeKind::True => Ok(true),
        NodeKind::False => Ok(false),
        NodeKind::Not(inner) => Ok(!node(inner, facts)?),
        // Short-circuit like Foundation's compound predicates: an error in a branch that is
        // never reached does not surface.
        NodeKind::And(a, b) => Ok(node(a, facts)? && node(b, facts)?),
        NodeKind::Or(a, b) => Ok(node(a, facts)? || node(b, facts)?),
        NodeKind::Compare {
            quantifier,
            left,
            op,
            options,
            right,
        } => {
            let lhs = value(left, facts)?;
            let rhs = value(right, facts)?;
            let cmp = Comparison {
                op: *op,
                options: *options,
                left: &left.span,
                right: &right.span,
            };
            let Some(quantifier) = quantifier else {
                return cmp.test(&lhs, &rhs);
            };
            let dict_values: Vec<Val>;
            let elements: Vec<&Val> = match &lhs {
                Val::Array(items) => items.iter().collect(),
                Val::Dict(map) => {
                    dict_values = map.values().map(from_fact).collect();
                    dict_values.iter().collect()
                }
                other => {
                    return Err(EvalError {
                        message: format!(
                            "{} needs an array on its left, but {} is {}",
                            quantifier_name(*quantifier),
                            describe_operand(left),
                            other.describe()
                        ),
                        span: left.span.clone(),
                    });
                }
            };
            match quantifier {
                Quantifier::Any => any(elements, |e| cmp.test(e, &rhs)),
                Quantifier::None => any(elements, |e| cmp.test(e, &rhs)).map(|b| !b),
                Quantifier::All => any(elements, |e| cmp.test(e, &rhs).map(|b| !b)).map(|b| !b),
            }
        }
        NodeKind::Between { left, low, high } => {
            let value = value(left, facts)?;
            let low_value = self::value(low, facts)?;
            let high_value = self::value(high, facts)?;
            let at_least = order(
                &value,
                &low_value,
                StrOptions::default(),
                "BETWEEN",
                &n.span,
            )?;
            let at_most = order(
                &value,
                &high_value,
                StrOptions::default(),
                "BETWEEN",
                &n.span,
            )?;
            Ok(
                matches!(at_least, Some(Ordering::Greater | Ordering::Equal))
                    && matches!(at_most, Some(Ordering::Less | Ordering::Equal)),
            )
        }
    }
}

fn any<T>(
    items: impl IntoIterator<Item = T>,
    mut test: impl FnMut(T) -> Result<bool, EvalError>,
) -> Result<bool, EvalError> {
    for item in items {
        if test(item)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn quantifier_name(q: Quantifier) -> &'static str {
    match q {
        Quantifier::Any => "ANY",
        Quantifier::All => "ALL",
        Quantifier::None => "NONE",
    }
}

fn describe_operand(operand: &Operand) -> String {
    match &operand.kind {
        OperandKind::KeyPath(path) => format!("`{}`", path.join(".")),
        _ => "the value".to_owned(),
    }
}

/// A value during evaluation: a fact (borrowed), a literal, or what a key path produced.
#[derive(Debug)]
enum Val<'a> {
    Nil,
    /// Numbers, integer or real alike (NSNumber compares them by value).
    Num(f64),
    /// A boolean, which Foundation stores as a number: `TRUE == 1`.
    Bool(bool),
    Str(Cow<'a, str>),
    Date(f64),
    Array(Vec<Val<'a>>),
    Dict(&'a BTreeMap<String, FactValue>),
}

impl Val<'_> {
    fn describe(&self) -> &'static str {
        match self {
            Val::Nil => "nil (missing)",
            Val::Num(_) => "a number",
            Val::Bool(_) => "a boolean",
            Val::Str(_) => "a string",
            Val::Date(_) => "a date",
            Val::Array(_) => "an array",
            Val::Dict(_) => "a dictionary",
        }
    }

    fn number(&self) -> Option<f64> {
        match *self {
            Val::Num(n) => Some(n),
            Val::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            _ => None,
        }
    }
}

fn from_fact(fact: &FactValue) -> Val<'_> {
    match fact {
        FactValue::String(s) => Val::Str(Cow::Borrowed(s)),
        FactValue::Integer(i) => Val::Num(*i as f64),
        FactValue::Real(r) => Val::Num(*r),
        FactValue::Bool(b) => Val::Bool(*b),
        FactValue::Date(d) => Val::Date(*d),
        FactValue::Array(items) => Val::Array(items.iter().map(from_fact).collect()),
        FactValue::Dict(map) => Val::Dict(map),
    }
}

fn value<'a>(operand: &'a Operand, facts: &'a Facts) -> Result<Val<'a>, EvalError> {
    Ok(match &operand.kind {
        OperandKind::KeyPath(path) => {
            let mut current = facts.get(&path[0]).map_or(Val::Nil, from_fact);
            for (i, key) in path.iter().enumerate().skip(1) {
                current = lookup(current, key).map_err(|what| EvalError {
                    message: format!(
                        "`{}` is {what}, which has no key `{key}`",
                        path[..i].join(".")
                    ),
                    span: operand.span.clone(),
                })?;
            }
            current
        }
        OperandKind::String(s) => Val::Str(Cow::Borrowed(s)),
        OperandKind::Number(n) => Val::Num(*n),
        OperandKind::Bool(b) => Val::Bool(*b),
        OperandKind::Nil => Val::Nil,
        OperandKind::Date(d) => Val::Date(*d),
        OperandKind::Array(items) => Val::Array(
            items
                .iter()
                .map(|item| value(item, facts))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// One step of a key path: a dictionary's value for `key` (nil when absent), mapped over an
/// array (Foundation's `valueForKey:` on an array of dictionaries), nil stays nil.
fn lookup<'a>(current: Val<'a>, key: &str) -> Result<Val<'a>, &'static str> {
    match current {
        Val::Nil => Ok(Val::Nil),
        Val::Dict(map) => Ok(map.get(key).map_or(Val::Nil, from_fact)),
        Val::Array(items) => items
            .into_iter()
            .map(|item| lookup(item, key))
            .collect::<Result<_, _>>()
            .map(Val::Array),
        other => Err(other.describe()),
    }
}

struct Comparison<'s> {
    op: CmpOp,
    options: StrOptions,
    left: &'s Span,
    right: &'s Span,
}

impl Comparison<'_> {
    fn span(&self) -> Span {
        self.left.start..self.right.end
    }

    fn op_name(&self) -> &'static str {
        self.op.keyword()
    }

    fn error(&self, message: String) -> EvalError {
        EvalError {
            message,
            span: self.span(),
        }
    }

    fn test(&self, lhs: &Val, rhs: &Val) -> Result<bool, EvalError> {
        let ordered = |accept: fn(Ordering) -> bool| -> Result<bool, EvalError> {
            Ok(order(lhs, rhs, self.options, self.op_name(), &self.span())?.is_some_and(accept))
        };
        match self.op {
            CmpOp::Eq => Ok(equal(lhs, rhs, self.options)),
            CmpOp::Ne => Ok(!equal(lhs, rhs, self.options)),
            CmpOp::Lt => ordered(|o| o == Ordering::Less),
            CmpOp::Le => ordered(|o| o != Ordering::Greater),
            CmpOp::Gt => ordered(|o| o == Ordering::Greater),
            CmpOp::Ge => ordered(|o| o != Ordering::Less),
            CmpOp::BeginsWith | CmpOp::EndsWith | CmpOp::Like | CmpOp::Matches => {
                let (text, pattern) = match (lhs, rhs) {
                    (Val::Nil, _) | (_, Val::Nil) => return Ok(false),
                    (Val::Str(a), Val::Str(b)) => (a, b),
                    (a, b) => {
                        let bad = if matches!(a, Val::Str(_)) { b } else { a };
                        return Err(self.error(format!(
                            "{} compares strings, but one side is {}",
                            self.op_name(),
                            bad.describe()
                        )));
                    }
                };
                match self.op {
                    CmpOp::BeginsWith => {
                        Ok(fold(text, self.options)
                            .starts_with(fold(pattern, self.options).as_ref()))
                    }
                    CmpOp::EndsWith => Ok(
                        fold(text, self.options).ends_with(fold(pattern, self.options).as_ref())
                    ),
                    CmpOp::Like => Ok(like(
                        &fold(text, self.options),
                        &fold(pattern, self.options),
                    )),
                    _ => self.matches(text, pattern),
                }
            }
            CmpOp::Contains => self.contains(lhs, rhs, "left"),
            CmpOp::In => self.contains(rhs, lhs, "right"),
        }
    }

    /// CONTAINS (`container` on the left) and IN (on the right): membership in an array or a
    /// dictionary's values, or a substring of a string.
    fn contains(&self, container: &Val, item: &Val, side: &str) -> Result<bool, EvalError> {
        match container {
            Val::Nil => Ok(false),
            Val::Array(items) => Ok(items.iter().any(|e| equal(e, item, self.options))),
            Val::Dict(map) => Ok(map
                .values()
                .any(|e| equal(&from_fact(e), item, self.options))),
            Val::Str(text) => match item {
                Val::Nil => Ok(false),
                Val::Str(part) => {
                    Ok(fold(text, self.options).contains(fold(part, self.options).as_ref()))
                }
                other => Err(self.error(format!(
                    "{} looks for a substring, but the value it looks for is {}",
                    self.op_name(),
                    other.describe()
                ))),
            },
            other => Err(self.error(format!(
                "{} needs an array or a string on its {side}, not {}",
                self.op_name(),
                other.describe()
            ))),
        }
    }

    /// MATCHES: the whole string matches the regular expression.
    fn matches(&self, text: &str, pattern: &str) -> Result<bool, EvalError> {
        let mut text = Cow::Borrowed(text);
        let mut pattern = Cow::Borrowed(pattern);
        if self.options.diacritic_insensitive {
            let d = StrOptions {
                case_insensitive: false,
                diacritic_insensitive: true,
            };
            text = Cow::Owned(fold(&text, d).into_owned());
            pattern = Cow::Owned(fold(&pattern, d).into_owned());
        }
        if self.options.case_insensitive {
            // regex-lite folds ASCII only: lower-case the text, and the pattern's non-ASCII
            // letters (escapes are ASCII, so this cannot change the pattern's syntax).
            text = Cow::Owned(text.to_lowercase());
            pattern = Cow::Owned(
                pattern
                    .chars()
                    .flat_map(|c| {
                        let lower: Vec<char> = if c.is_ascii() {
                            vec![c]
                        } else {
                            c.to_lowercase().collect()
                        };
                        lower
                    })
                    .collect(),
            );
        }
        let build = |source: &str| {
            regex_lite::RegexBuilder::new(source)
                .case_insensitive(self.options.case_insensitive)
                .size_limit(REGEX_SIZE_LIMIT)
                .nest_limit(REGEX_NEST_LIMIT)
                .build()
        };
        // Compile the pattern alone first: a pattern such as `a)|(b` would otherwise escape
        // the anchoring group below and match part of the string.
        let compiled = build(&pattern).and_then(|_| build(&format!("^(?:{pattern})$")));
        match compiled {
            Ok(regex) => Ok(regex.is_match(&text)),
            Err(e) => Err(EvalError {
                message: format!(
                    "MATCHES pattern {pattern:?} is not a regular expression mmc can run: {e}"
                ),
                span: self.right.clone(),
            }),
        }
    }
}

/// `==`: Foundation's `isEqual:`. Never an error: values of different types are unequal.
fn equal(a: &Val, b: &Val, options: StrOptions) -> bool {
    match (a, b) {
        (Val::Nil, Val::Nil) => true,
        (Val::Str(x), Val::Str(y)) => fold(x, options) == fold(y, options),
        (Val::Date(x), Val::Date(y)) => x == y,
        (Val::Array(x), Val::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q, options))
        }
        (Val::Dict(x), Val::Dict(y)) => {
            x.len() == y.len()
                && x.iter().zip(y.iter()).all(|((k1, v1), (k2, v2))| {
                    k1 == k2 && equal(&from_fact(v1), &from_fact(v2), options)
                })
        }
        _ => match (a.number(), b.number()) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

/// `<`, `<=`, `>`, `>=`, BETWEEN: `None` when either side is nil (the comparison is then
/// false); an error for values that have no order between them.
fn order(
    a: &Val,
    b: &Val,
    options: StrOptions,
    op: &str,
    span: &Span,
) -> Result<Option<Ordering>, EvalError> {
    match (a, b) {
        (Val::Nil, _) | (_, Val::Nil) => Ok(None),
        (Val::Str(x), Val::Str(y)) => Ok(Some(fold(x, options).cmp(&fold(y, options)))),
        (Val::Date(x), Val::Date(y)) => Ok(x.partial_cmp(y)),
        _ => match (a.number(), b.number()) {
            (Some(x), Some(y)) => Ok(x.partial_cmp(&y)),
            _ => Err(EvalError {
                message: format!(
                    "{op} cannot order {} against {}",
                    a.describe(),
                    b.describe()
                ),
                span: span.clone(),
            }),
        },
    }
}
