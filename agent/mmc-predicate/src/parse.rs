//! Recursive descent over the token list. Precedence, loosest first: OR, AND, NOT, then a
//! comparison or a parenthesised predicate (Apple's NOT > AND > OR; both binary operators are
//! left-associative).

use crate::lex::{Kw, Tok, Token, error, keyword_text, tokenize, unsupported};
use crate::{
    CmpOp, Node, NodeKind, Operand, OperandKind, ParseError, Predicate, Quantifier, Span,
    StrOptions, date,
};

/// How deep parentheses, NOT, arrays and CAST may nest, so that hostile input cannot exhaust
/// the parser's stack.
pub(crate) const MAX_NESTING: usize = 100;
/// How tall the tree may be (each AND/OR of a chain adds a level), so that the printer and the
/// evaluator, which recurse over the tree, cannot exhaust theirs.
pub(crate) const MAX_HEIGHT: usize = 1000;

/// Parses a condition in the predicate format mmc accepts (see `docs/predicates.md`).
pub fn parse(input: &str) -> Result<Predicate, ParseError> {
    let mut parser = Parser {
        tokens: tokenize(input),
        pos: 0,
        depth: 0,
    };
    let (root, _) = parser.or()?;
    let token = parser.peek().clone();
    match token.tok {
        Tok::Eof => Ok(Predicate { root }),
        Tok::Error(e) => Err(e),
        Tok::RParen => Err(error("unbalanced `)`", token.span)),
        _ => Err(error(
            format!(
                "expected AND, OR or the end of the condition, found {}",
                describe(&token.tok)
            ),
            token.span,
        )),
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

/// A node and the height of its tree.
type Parsed = (Node, usize);

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Token {
        &self.tokens[(self.pos + n).min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        token
    }

    fn enter(&mut self, span: Span) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(error(
                format!("the condition nests more than {MAX_NESTING} levels deep"),
                span,
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn or(&mut self) -> Result<Parsed, ParseError> {
        let (mut left, mut height) = self.and()?;
        while matches!(self.peek().tok, Tok::Kw(Kw::Or) | Tok::OrOr) {
            self.advance();
            let (right, right_height) = self.and()?;
            height = height.max(right_height) + 1;
            if height > MAX_HEIGHT {
                return Err(too_deep(left.span.start..right.span.end));
            }
            let span = left.span.start..right.span.end;
            left = node(NodeKind::Or(Box::new(left), Box::new(right)), span);
        }
        Ok((left, height))
    }

    fn and(&mut self) -> Result<Parsed, ParseError> {
        let (mut left, mut height) = self.not()?;
        while matches!(self.peek().tok, Tok::Kw(Kw::And) | Tok::AndAnd) {
            self.advance();
            let (right, right_height) = self.not()?;
            height = height.max(right_height) + 1;
            if height > MAX_HEIGHT {
                return Err(too_deep(left.span.start..right.span.end));
            }
            let span = left.span.start..right.span.end;
            left = node(NodeKind::And(Box::new(left), Box::new(right)), span);
        }
        Ok((left, height))
    }

    fn not(&mut self) -> Result<Parsed, ParseError> {
        if !matches!(self.peek().tok, Tok::Kw(Kw::Not) | Tok::Bang) {
            return self.primary();
        }
        let start = self.advance().span.start;
        self.enter(start..start)?;
        let (operand, height) = self.not()?;
        self.leave();
        let span = start..operand.span.end;
        Ok((node(NodeKind::Not(Box::new(operand)), span), height + 1))
    }

    fn primary(&mut self) -> Result<Parsed, ParseError> {
        let token = self.peek().clone();
        match token.tok {
            Tok::LParen => {
                self.advance();
                self.enter(token.span.clone())?;
                let (mut inner, height) = self.or()?;
                self.leave();
                let close = self.peek().clone();
                match close.tok {
                    Tok::RParen => {
                        self.advance();
                    }
                    Tok::Error(e) => return Err(e),
                    _ => {
                        return Err(error(
                            format!(
                                "expected `)` to close the `(` at byte {}, found {}",
                                token.span.start,
                                describe(&close.tok)
                            ),
                            close.span,
                        ));
                    }
                }
                inner.span = token.span.start..close.span.end;
                inner.parenthesized = true;
                Ok((inner, height + 1))
            }
            Tok::Kw(Kw::TruePredicate) => {
                self.advance();
                Ok((node(NodeKind::True, token.span), 1))
            }
            Tok::Kw(Kw::FalsePredicate) => {
                self.advance();
                Ok((node(NodeKind::False, token.span), 1))
            }
            _ => self.comparison().map(|n| (n, 1)),
        }
    }

    fn comparison(&mut self) -> Result<Node, ParseError> {
        let first = self.peek().clone();
        let quantifier = match first.tok {
            Tok::Kw(Kw::Any | Kw::Some) => Some(Quantifier::Any),
            Tok::Kw(Kw::All) => Some(Quantifier::All),
            Tok::Kw(Kw::None_) => Some(Quantifier::None),
            _ => None,
        };
        if quantifier.is_some() {
            self.advance();
        }
        let left = self.operand()?;
        let op_token = self.peek().clone();
        let op = match op_token.tok {
            Tok::Eq => CmpOp::Eq,
            Tok::Ne => CmpOp::Ne,
            Tok::Lt => CmpOp::Lt,
            Tok::Le => CmpOp::Le,
            Tok::Gt => CmpOp::Gt,
            Tok::Ge => CmpOp::Ge,
            Tok::Kw(Kw::BeginsWith) => CmpOp::BeginsWith,
            Tok::Kw(Kw::EndsWith) => CmpOp::EndsWith,
            Tok::Kw(Kw::Contains) => CmpOp::Contains,
            Tok::Kw(Kw::Like) => CmpOp::Like,
            Tok::Kw(Kw::Matches) => CmpOp::Matches,
            Tok::Kw(Kw::In) => CmpOp::In,
            Tok::Kw(Kw::Between) => {
                self.advance();
                return self.between(quantifier, first.span.start, left, op_token.span);
            }
            Tok::Error(e) => return Err(e),
            Tok::Eof => {
                return Err(error(
                    "the condition ends where a comparison operator (==, !=, <, >, BEGINSWITH, IN, …) was expected",
                    op_token.span,
                ));
            }
            ref other => {
                let hint = match other {
                    Tok::Kw(Kw::Not) => " (NOT goes before the whole comparison: NOT (x IN {…}))",
                    _ => "",
                };
                return Err(error(
                    format!(
                        "expected a comparison operator (==, !=, <, >, BEGINSWITH, IN, …), found {}{hint}",
                        describe(other)
                    ),
                    op_token.span,
                ));
            }
        };
        self.advance();
        let options = self.options()?;
        let right = self.operand()?;
        let span = first.span.start..right.span.end;
        Ok(node(
            NodeKind::Compare {
                quantifier,
                left,
                op,
                options,
                right,
            },
            span,
        ))
    }

    fn between(
        &mut self,
        quantifier: Option<Quantifier>,
        start: usize,
        left: Operand,
        keyword: Span,
    ) -> Result<Node, ParseError> {
        if quantifier.is_some() {
            return Err(unsupported(
                "ANY/ALL/NONE with BETWEEN: compare each bound instead (ANY x >= lo AND …)",
                start..keyword.end,
            ));
        }
        let open = self.peek().clone();
        match open.tok {
            Tok::LBrace => {}
            Tok::LBracket => {
                return Err(error("BETWEEN takes no [c]/[d] options", open.span));
            }
            Tok::Error(e) => return Err(e),
            Tok::Eof => {
                return Err(error(
                    "the condition ends where BETWEEN's {low, high} was expected",
                    open.span,
                ));
            }
            _ => {
                // Apple also accepts an expression that yields a two-element array.
                let operand = self.operand()?;
                return Err(unsupported(
                    "BETWEEN with anything but a literal {low, high}",
                    operand.span,
                ));
            }
        }
        let array = self.operand()?;
        let OperandKind::Array(items) = array.kind else {
            return Err(error("BETWEEN needs {low, high}", array.span));
        };
        let [low, high]: [Operand; 2] = items.try_into().map_err(|items: Vec<Operand>| {
            error(
                format!(
                    "BETWEEN needs exactly two values, {{low, high}}; found {}",
                    items.len()
                ),
                array.span.clone(),
            )
        })?;
        Ok(node(
            NodeKind::Between { left, low, high },
            start..array.span.end,
        ))
    }

    /// `[c]`, `[d]`, `[cd]` after a comparison operator.
    fn options(&mut self) -> Result<StrOptions, ParseError> {
        let mut options = StrOptions::default();
        if self.peek().tok != Tok::LBracket {
            return Ok(options);
        }
        let open = self.advance();
        let letters = self.advance();
        let close = self.advance();
        let span = open.span.start..close.span.end;
        let (Tok::Ident(word), Tok::RBracket) = (&letters.tok, &close.tok) else {
            for token in [&letters, &close] {
                if let Tok::Error(e) = &token.tok {
                    return Err(e.clone());
                }
            }
            return Err(error(
                "expected comparison options [c], [d] or [cd] after the operator",
                span,
            ));
        };
        for letter in word.chars() {
            match letter.to_ascii_lowercase() {
                'c' => options.case_insensitive = true,
                'd' => options.diacritic_insensitive = true,
                'n' | 'l' => {
                    return Err(unsupported(
                        format!("the [{letter}] comparison option (mmc knows [c] and [d] only)"),
                        span,
                    ));
                }
                _ => {
                    return Err(error(
                        format!(
                            "unknown comparison option `{letter}` in [{word}]: use [c], [d] or [cd]"
                        ),
                        span,
                    ));
                }
            }
        }
        Ok(options)
    }

    /// A value, then a check that no arithmetic, index or function syntax follows it.
    fn operand(&mut self) -> Result<Operand, ParseError> {
        let operand = self.value()?;
        let next = self.peek().clone();
        match next.tok {
            Tok::Arith(op) => Err(arithmetic(op, &operand, &next, self.peek_at(1))),
            Tok::LBracket => {
                let what = match self.peek_at(1).tok {
                    Tok::Kw(Kw::First) => "[FIRST]",
                    Tok::Kw(Kw::Last) => "[LAST]",
                    Tok::Kw(Kw::Size) => "[SIZE]",
                    _ => "index access `[…]`",
                };
                Err(unsupported(
                    format!("{what} on a value: use ANY/ALL/NONE or CONTAINS/IN on arrays"),
                    next.span,
                ))
            }
            Tok::LParen => Err(match &operand.kind {
                OperandKind::KeyPath(path) if path.len() == 1 => {
                    if path[0].eq_ignore_ascii_case("FUNCTION") {
                        unsupported("FUNCTION()", operand.span.start..next.span.end)
                    } else {
                        unsupported(
                            format!("function calls (`{}(…)`)", path[0]),
                            operand.span.start..next.span.end,
                        )
                    }
                }
                _ => error(
                    format!(
                        "expected a comparison operator, found {}",
                        describe(&next.tok)
                    ),
                    next.span,
                ),
            }),
            Tok::Dot => Err(error("`.` must follow a fact name", next.span)),
            _ => Ok(operand),
        }
    }

    fn value(&mut self) -> Result<Operand, ParseError> {
        let token = self.advance();
        let span = token.span.clone();
        let kind = match token.tok {
            Tok::Str(s) => OperandKind::String(s),
            Tok::Num(n) => OperandKind::Number(n),
            Tok::Arith("-") if matches!(self.peek().tok, Tok::Num(_)) => {
                let number = self.advance();
                let Tok::Num(n) = number.tok else {
                    return Err(error("expected a number after `-`", number.span));
                };
                return Ok(Operand {
                    kind: OperandKind::Number(-n),
                    span: span.start..number.span.end,
                });
            }
            Tok::Arith(op) => {
                return Err(unsupported(format!("arithmetic (unary `{op}`)"), span));
            }
            Tok::Kw(Kw::True | Kw::Yes) => OperandKind::Bool(true),
            Tok::Kw(Kw::False | Kw::No) => OperandKind::Bool(false),
            Tok::Kw(Kw::Null | Kw::Nil) => OperandKind::Nil,
            Tok::Kw(Kw::Self_) => {
                return Err(unsupported(
                    "SELF: conditions are evaluated against the facts dictionary; name a fact",
                    span,
                ));
            }
            Tok::Kw(Kw::Subquery) => return Err(unsupported("SUBQUERY", span)),
            Tok::Kw(Kw::Fetch) => return Err(unsupported("FETCH", span)),
            Tok::Kw(Kw::AnyKey) => return Err(unsupported("ANYKEY", span)),
            Tok::Kw(Kw::Cast) => return self.cast(span),
            Tok::LBrace => return self.array(span),
            Tok::Ident(first) => return self.key_path(first, span),
            Tok::LParen => {
                return Err(unsupported(
                    "parentheses around a value (only whole predicates may be parenthesised)",
                    span,
                ));
            }
            Tok::Error(e) => return Err(e),
            Tok::Eof => {
                return Err(error(
                    "the condition ends where a value or fact name was expected",
                    span,
                ));
            }
            Tok::Kw(kw @ (Kw::First | Kw::Last | Kw::Size | Kw::CaseInsensitive | Kw::Ci)) => {
                let word = keyword_text(kw);
                return Err(error(
                    format!(
                        "`{word}` is a reserved word; to use it as a fact name write #{}",
                        word.to_ascii_lowercase()
                    ),
                    span,
                ));
            }
            other => {
                return Err(error(
                    format!("expected a value or fact name, found {}", describe(&other)),
                    span,
                ));
            }
        };
        Ok(Operand { kind, span })
    }

    fn key_path(&mut self, first: String, span: Span) -> Result<Operand, ParseError> {
        let mut path = vec![first];
        let mut end = span.end;
        while self.peek().tok == Tok::Dot {
            self.advance();
            let token = self.advance();
            match token.tok {
                Tok::Ident(name) => {
                    path.push(name);
                    end = token.span.end;
                }
                Tok::Kw(kw) => {
                    let word = keyword_text(kw);
                    return Err(error(
                        format!(
                            "`{}` is a reserved word; as a key write #{}",
                            &word,
                            word.to_ascii_lowercase()
                        ),
                        token.span,
                    ));
                }
                Tok::Error(e) => return Err(e),
                other => {
                    return Err(error(
                        format!("expected a key after `.`, found {}", describe(&other)),
                        token.span,
                    ));
                }
            }
        }
        Ok(Operand {
            kind: OperandKind::KeyPath(path),
            span: span.start..end,
        })
    }

    fn array(&mut self, open: Span) -> Result<Operand, ParseError> {
        self.enter(open.clone())?;
        let mut items = Vec::new();
        if self.peek().tok == Tok::RBrace {
            let close = self.advance();
            self.leave();
            return Ok(Operand {
                kind: OperandKind::Array(items),
                span: open.start..close.span.end,
            });
        }
        loop {
            items.push(self.operand()?);
            let token = self.advance();
            match token.tok {
                Tok::Comma => continue,
                Tok::RBrace => {
                    self.leave();
                    return Ok(Operand {
                        kind: OperandKind::Array(items),
                        span: open.start..token.span.end,
                    });
                }
                Tok::Error(e) => return Err(e),
                other => {
                    return Err(error(
                        format!(
                            "expected `,` or `}}` in the array starting at byte {}, found {}",
                            open.start,
                            describe(&other)
                        ),
                        token.span,
                    ));
                }
            }
        }
    }

    /// `CAST(value, "NSDate")`, after `CAST`.
    fn cast(&mut self, keyword: Span) -> Result<Operand, ParseError> {
        let open = self.advance();
        if open.tok != Tok::LParen {
            if let Tok::Error(e) = open.tok {
                return Err(e);
            }
            return Err(error("expected `(` after CAST", open.span));
        }
        self.enter(open.span.clone())?;
        let value = self.operand()?;
        let comma = self.advance();
        if comma.tok != Tok::Comma {
            if let Tok::Error(e) = comma.tok {
                return Err(e);
            }
            return Err(error(
                format!(
                    "expected `,` and a type name in CAST(value, \"NSDate\"), found {}",
                    describe(&comma.tok)
                ),
                comma.span,
            ));
        }
        let type_token = self.advance();
        let type_name = match type_token.tok {
            Tok::Str(name) => name,
            Tok::Error(e) => return Err(e),
            other => {
                return Err(error(
                    format!(
                        "expected a quoted type name such as \"NSDate\", found {}",
                        describe(&other)
                    ),
                    type_token.span,
                ));
            }
        };
        let close = self.advance();
        if close.tok != Tok::RParen {
            if let Tok::Error(e) = close.tok {
                return Err(e);
            }
            return Err(error(
                format!("expected `)` to close CAST, found {}", describe(&close.tok)),
                close.span,
            ));
        }
        self.leave();
        let span = keyword.start..close.span.end;
        if type_name != "NSDate" {
            return Err(unsupported(
                format!("CAST to {type_name:?} (mmc casts to \"NSDate\" only)"),
                span,
            ));
        }
        let seconds = match value.kind {
            OperandKind::Number(n) => n,
            OperandKind::String(ref text) => date::date_from_iso8601(text).ok_or_else(|| {
                unsupported(
                    format!(
                        "CAST of {text:?} to NSDate: mmc reads only UTC times written \
                         YYYY-MM-DDTHH:MM:SSZ, e.g. \"2025-01-31T00:00:00Z\""
                    ),
                    value.span.clone(),
                )
            })?,
            _ => {
                return Err(unsupported(
                    "CAST of anything but a quoted date or a number to NSDate",
                    value.span,
                ));
            }
        };
        Ok(Operand {
            kind: OperandKind::Date(seconds),
            span,
        })
    }
}

fn node(kind: NodeKind, span: Span) -> Node {
    Node {
        kind,
        span,
        parenthesized: false,
    }
}

fn too_deep(span: Span) -> ParseError {
    error(
        format!(
            "the condition nests more than {MAX_HEIGHT} levels deep (each AND/OR of a chain \
             counts as a level)"
        ),
        span,
    )
}

/// The error for `+ - * /` after a value; a hyphenated name gets its own explanation.
fn arithmetic(op: &str, before: &Operand, token: &Token, after: &Token) -> ParseError {
    let next = match &after.tok {
        Tok::Ident(name) => Some(name.clone()),
        Tok::Kw(kw) => Some(keyword_text(*kw).to_ascii_lowercase()),
        _ => None,
    };
    if let (OperandKind::KeyPath(path), "-", Some(next)) = (&before.kind, op, next) {
        let adjacent = before.span.end == token.span.start && token.span.end == after.span.start;
        if adjacent {
            let name = format!("{}-{next}", path.join("."));
            return unsupported(
                format!(
                    "arithmetic: `{name}` reads as `{} - {next}` because fact names cannot \
                     contain `-` (Munki's facts use `_`, e.g. board_id, device_id)",
                    path.join(".")
                ),
                before.span.start..after.span.end,
            );
        }
    }
    unsupported(
        format!("arithmetic (`{op}`): compare facts with literal values instead"),
        token.span.clone(),
    )
}

/// A token as the user wrote it, for error messages.
fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Ident(name) => format!("`{name}`"),
        Tok::Kw(kw) => format!("`{}`", keyword_text(*kw)),
        Tok::Str(s) => format!("the string {s:?}"),
        Tok::Num(n) => format!("the number {n}"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::LBrace => "`{`".into(),
        Tok::RBrace => "`}`".into(),
        Tok::LBracket => "`[`".into(),
        Tok::RBracket => "`]`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Dot => "`.`".into(),
        Tok::Eq => "`==`".into(),
        Tok::Ne => "`!=`".into(),
        Tok::Lt => "`<`".into(),
        Tok::Le => "`<=`".into(),
        Tok::Gt => "`>`".into(),
        Tok::Ge => "`>=`".into(),
        Tok::AndAnd => "`&&`".into(),
        Tok::OrOr => "`||`".into(),
        Tok::Bang => "`!`".into(),
        Tok::Arith(op) => format!("`{op}`"),
        Tok::Error(e) => e.message.clone(),
        Tok::Eof => "the end of the condition".into(),
    }
}
