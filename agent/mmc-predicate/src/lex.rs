//! Tokens of the predicate format. Lexing stops at the first bad character: the token list then
//! ends with an [`Tok::Error`] that the parser reports when (and only if) it gets there, so the
//! error reported is always the first one in source order.

use crate::{ParseError, Span};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// An identifier; `#word` (a reserved word used as a name) arrives here too.
    Ident(String),
    Kw(Kw),
    Str(String),
    /// A non-negative number literal (a leading `-` is its own token).
    Num(f64),
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Dot,
    /// `=` or `==`
    Eq,
    /// `!=` or `<>`
    Ne,
    Lt,
    /// `<=` or `=<`
    Le,
    Gt,
    /// `>=` or `=>`
    Ge,
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// `!`
    Bang,
    /// `+`, `-`, `*`, `/`, `**`
    Arith(&'static str),
    Error(ParseError),
    Eof,
}

/// Apple's reserved words (case-insensitive). `FUNCTION` is not one: it is an ordinary name
/// followed by `(`, which the parser refuses as a function call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kw {
    And,
    Or,
    Not,
    In,
    Any,
    All,
    Some,
    None_,
    Like,
    Matches,
    Contains,
    BeginsWith,
    EndsWith,
    Between,
    Null,
    Nil,
    Self_,
    True,
    Yes,
    False,
    No,
    First,
    Last,
    Size,
    AnyKey,
    Subquery,
    Fetch,
    Cast,
    TruePredicate,
    FalsePredicate,
    CaseInsensitive,
    Ci,
}

const KEYWORDS: &[(&str, Kw)] = &[
    ("AND", Kw::And),
    ("OR", Kw::Or),
    ("NOT", Kw::Not),
    ("IN", Kw::In),
    ("ANY", Kw::Any),
    ("ALL", Kw::All),
    ("SOME", Kw::Some),
    ("NONE", Kw::None_),
    ("LIKE", Kw::Like),
    ("MATCHES", Kw::Matches),
    ("CONTAINS", Kw::Contains),
    ("BEGINSWITH", Kw::BeginsWith),
    ("ENDSWITH", Kw::EndsWith),
    ("BETWEEN", Kw::Between),
    ("NULL", Kw::Null),
    ("NIL", Kw::Nil),
    ("SELF", Kw::Self_),
    ("TRUE", Kw::True),
    ("YES", Kw::Yes),
    ("FALSE", Kw::False),
    ("NO", Kw::No),
    ("FIRST", Kw::First),
    ("LAST", Kw::Last),
    ("SIZE", Kw::Size),
    ("ANYKEY", Kw::AnyKey),
    ("SUBQUERY", Kw::Subquery),
    ("FETCH", Kw::Fetch),
    ("CAST", Kw::Cast),
    ("TRUEPREDICATE", Kw::TruePredicate),
    ("FALSEPREDICATE", Kw::FalsePredicate),
    ("CASEINSENSITIVE", Kw::CaseInsensitive),
    ("CI", Kw::Ci),
];

pub(crate) fn keyword(word: &str) -> Option<Kw> {
    KEYWORDS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|&(_, kw)| kw)
}

/// Whether `word` must be written `#word` to be used as a name.
pub(crate) fn is_reserved(word: &str) -> bool {
    keyword(word).is_some()
}

pub(crate) fn keyword_text(kw: Kw) -> &'static str {
    KEYWORDS
        .iter()
        .find(|&&(_, k)| k == kw)
        .map_or("?", |&(name, _)| name)
}

pub(crate) fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

pub(crate) fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
}

pub(crate) fn error(message: impl Into<String>, span: Span) -> ParseError {
    ParseError {
        message: message.into(),
        span,
        unsupported: false,
    }
}

pub(crate) fn unsupported(message: impl AsRef<str>, span: Span) -> ParseError {
    ParseError {
        message: format!("unsupported: {}", message.as_ref()),
        span,
        unsupported: true,
    }
}

/// The whole input as tokens, ending with `Eof` or, at the first bad character, `Error`.
pub(crate) fn tokenize(input: &str) -> Vec<Token> {
    let mut lexer = Lexer { input, pos: 0 };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next();
        let last = matches!(token.tok, Tok::Eof | Tok::Error(_));
        tokens.push(token);
        if last {
            return tokens;
        }
    }
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.input[self.pos..].chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn next(&mut self) -> Token {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
        let start = self.pos;
        let tok = match self.lex(start) {
            Ok(tok) => tok,
            Err(e) => Tok::Error(e),
        };
        Token {
            tok,
            span: start..self.pos,
        }
    }

    fn lex(&mut self, start: usize) -> Result<Tok, ParseError> {
        let Some(c) = self.bump() else {
            return Ok(Tok::Eof);
        };
        let next = self.peek();
        let take = |lexer: &mut Self, tok: Tok| {
            lexer.bump();
            Ok(tok)
        };
        match c {
            '(' => Ok(Tok::LParen),
            ')' => Ok(Tok::RParen),
            '{' => Ok(Tok::LBrace),
            '}' => Ok(Tok::RBrace),
            '[' => Ok(Tok::LBracket),
            ']' => Ok(Tok::RBracket),
            ',' => Ok(Tok::Comma),
            '.' => Ok(Tok::Dot),
            '=' => match next {
                Some('=') => take(self, Tok::Eq),
                Some('<') => take(self, Tok::Le),
                Some('>') => take(self, Tok::Ge),
                _ => Ok(Tok::Eq),
            },
            '!' => match next {
                Some('=') => take(self, Tok::Ne),
                _ => Ok(Tok::Bang),
            },
            '<' => match next {
                Some('=') => take(self, Tok::Le),
                Some('>') => take(self, Tok::Ne),
                _ => Ok(Tok::Lt),
            },
            '>' => match next {
                Some('=') => take(self, Tok::Ge),
                _ => Ok(Tok::Gt),
            },
            '&' => match next {
                Some('&') => take(self, Tok::AndAnd),
                _ => Err(error(
                    "a single `&` is not an operator (use AND or &&)",
                    start..self.pos,
                )),
            },
            '|' => match next {
                Some('|') => take(self, Tok::OrOr),
                _ => Err(error(
                    "a single `|` is not an operator (use OR or ||)",
                    start..self.pos,
                )),
            },
            '+' => Ok(Tok::Arith("+")),
            '-' => Ok(Tok::Arith("-")),
            '/' => Ok(Tok::Arith("/")),
            '*' => match next {
                Some('*') => take(self, Tok::Arith("**")),
                _ => Ok(Tok::Arith("*")),
            },
            '"' | '\'' => self.string(c, start).map(Tok::Str),
            '0'..='9' => self.number(c, start),
            '#' => {
                if !next.is_some_and(is_ident_start) {
                    return Err(error(
                        "`#` must be followed by a name (`#word` uses a reserved word as a name)",
                        start..self.pos,
                    ));
                }
                let word_start = self.pos;
                self.eat_word();
                Ok(Tok::Ident(self.input[word_start..self.pos].to_owned()))
            }
            '%' => {
                if next.is_some_and(|c| !c.is_whitespace()) {
                    self.bump();
                }
                Err(unsupported(
                    format!(
                        "format arguments (`{}`): Munki passes no arguments to predicates, so \
                         `%` can only appear inside a quoted string",
                        &self.input[start..self.pos]
                    ),
                    start..self.pos,
                ))
            }
            '$' => {
                self.eat_word();
                Err(unsupported(
                    format!(
                        "variables (`{}`): Munki never binds any; write the value or fact name",
                        &self.input[start..self.pos]
                    ),
                    start..self.pos,
                ))
            }
            '@' => {
                self.eat_word();
                Err(unsupported(
                    format!(
                        "key path operators such as `@count` (found `{}`)",
                        &self.input[start..self.pos]
                    ),
                    start..self.pos,
                ))
            }
            c if is_ident_start(c) => {
                self.eat_word();
                let word = &self.input[start..self.pos];
                if word.eq_ignore_ascii_case("UTI") {
                    for (rest, name) in [
                        ("-CONFORMS-TO", "UTI-CONFORMS-TO"),
                        ("-EQUALS", "UTI-EQUALS"),
                    ] {
                        let tail = &self.input[self.pos..];
                        if tail.len() >= rest.len()
                            && tail.is_char_boundary(rest.len())
                            && tail[..rest.len()].eq_ignore_ascii_case(rest)
                        {
                            self.pos += rest.len();
                            return Err(unsupported(
                                format!("{name} (file type comparisons)"),
                                start..self.pos,
                            ));
                        }
                    }
                }
                Ok(match keyword(word) {
                    Some(kw) => Tok::Kw(kw),
                    None => Tok::Ident(word.to_owned()),
                })
            }
            other => {
                let what = if other == '?' {
                    "`?` is not an operator (a `?` wildcard belongs inside a LIKE pattern string)"
                        .to_owned()
                } else if other.is_alphabetic() {
                    format!(
                        "unexpected character {other:?}: names are ASCII letters, digits and `_`"
                    )
                } else {
                    format!("unexpected character {other:?}")
                };
                Err(error(what, start..self.pos))
            }
        }
    }

    fn eat_word(&mut self) {
        while self.peek().is_some_and(is_ident_char) {
            self.bump();
        }
    }

    fn eat_digits(&mut self) -> usize {
        let from = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        self.pos - from
    }

    fn number(&mut self, first: char, start: usize) -> Result<Tok, ParseError> {
        if first == '0'
            && let Some(radix @ ('x' | 'X' | 'o' | 'O' | 'b' | 'B')) = self.peek()
        {
            self.bump();
            while self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                self.bump();
            }
            let name = match radix.to_ascii_lowercase() {
                'x' => "hexadecimal",
                'o' => "octal",
                _ => "binary",
            };
            return Err(unsupported(
                format!(
                    "{name} number literals (`{}`): write the number in decimal",
                    &self.input[start..self.pos]
                ),
                start..self.pos,
            ));
        }
        self.eat_digits();
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            self.eat_digits();
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.peek_at(1), Some('+' | '-')));
            if self.peek_at(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
                if sign == 1 {
                    self.bump();
                }
                self.eat_digits();
            }
        }
        let text = &self.input[start..self.pos];
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            // A bare dotted version such as 3.7.4.
            while self
                .peek()
                .is_some_and(|c| c == '.' || c.is_ascii_alphanumeric())
            {
                self.bump();
            }
            let text = &self.input[start..self.pos];
            return Err(error(
                format!("`{text}` is not a number; quote a version string: \"{text}\""),
                start..self.pos,
            ));
        }
        if self.peek().is_some_and(is_ident_char) {
            self.eat_word();
            return Err(error(
                format!("`{}` is not a number", &self.input[start..self.pos]),
                start..self.pos,
            ));
        }
        match text.parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(Tok::Num(value)),
            _ => Err(error(
                format!("number `{text}` is out of range"),
                start..self.pos,
            )),
        }
    }

    /// A quoted string after its opening `quote`. Known escapes are decoded; any other
    /// backslash is kept with the character after it (so `MATCHES '10\.7'` keeps its regex
    /// escape).
    fn string(&mut self, quote: char, start: usize) -> Result<String, ParseError> {
        let mut value = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(error(
                    format!("unterminated string: no closing {quote}"),
                    start..self.pos,
                ));
            };
            if c == quote {
                return Ok(value);
            }
            if c != '\\' {
                value.push(c);
                continue;
            }
            let escape_start = self.pos - 1;
            let Some(e) = self.bump() else {
                return Err(error(
                    format!("unterminated string: no closing {quote}"),
                    start..self.pos,
                ));
            };
            match e {
                '\\' | '"' | '\'' => value.push(e),
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'r' => value.push('\r'),
                'x' | 'u' => {
                    let digits = if e == 'x' { 2 } else { 4 };
                    let hex: String = self.input[self.pos..].chars().take(digits).collect();
                    let decoded = (hex.len() == digits
                        && hex.chars().all(|c| c.is_ascii_hexdigit()))
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .and_then(char::from_u32);
                    let Some(ch) = decoded else {
                        let end = (self.pos + hex.len()).min(self.input.len());
                        return Err(error(
                            format!(
                                "invalid escape `\\{e}{hex}`: expected {digits} hex digits naming a character"
                            ),
                            escape_start..end,
                        ));
                    };
                    self.pos += digits;
                    value.push(ch);
                }
                '0'..='3'
                    if self.peek().is_some_and(|c| matches!(c, '0'..='7'))
                        && self.peek_at(1).is_some_and(|c| matches!(c, '0'..='7')) =>
                {
                    let octal = &self.input[self.pos - 1..self.pos + 2];
                    let code = u32::from_str_radix(octal, 8).unwrap_or(0);
                    self.pos += 2;
                    value.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                }
                other => {
                    value.push('\\');
                    value.push(other);
                }
            }
        }
    }
}
