//! The SLS search syntax of GetLogs (sls.md §9.4), without SQL: full-text words, `key: value`
//! (also `key = value`), `AND` / `OR` / `NOT` (any case, `AND` binding tighter than `OR`),
//! parentheses and `"quoted phrases"`. `*` alone matches every log. Words match whole words of a
//! value, case-insensitively, with `*` and `?` wildcards (not first); a phrase matches a
//! substring. Fields are a log's contents, `__topic__`, `__source__` and `__tag__:<key>` for each
//! tag. A query with an analytic part (`… | select …`) is refused: logtide has no SQL. Pure.

use super::keywords::Keywords;
use crate::error::{ApiError, ApiResult};
use crate::wire::pb::{Log, LogGroup};

/// A parsed search expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    All,
    /// Any field holds a matching word (or, quoted, the phrase).
    Text(Term),
    /// The named field holds a matching word (or the phrase).
    Field(String, Term),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Word(Keywords),
    Phrase(String),
}

impl Term {
    fn matches(&self, value: &str) -> bool {
        match self {
            Term::Word(k) => k.matches(value),
            Term::Phrase(p) => value.to_lowercase().contains(p),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Phrase(String),
    Colon,
    Open,
    Close,
}

/// Most words, operators and parentheses in one query. The expression is a tree evaluated (and
/// dropped) recursively, one level per operator, so its size is capped for the stack's sake; real
/// queries have a few dozen.
pub const MAX_QUERY_TOKENS: usize = 512;
/// Most nested parentheses and `NOT`s (the parser recurses once per level).
pub const MAX_QUERY_DEPTH: usize = 32;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::param(format!("invalid query: {}", message.into()))
}

fn tokenize(text: &str) -> ApiResult<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ':' | '=' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Colon,
                });
            }
            '"' => {
                chars.next();
                let mut phrase = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => phrase.extend(chars.next()),
                        Some(c) => phrase.push(c),
                        None => return Err(invalid("unterminated quoted phrase")),
                    }
                }
                tokens.push(Token::Phrase(phrase));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    // `__tag__:key` names one field: its first colon is part of the name.
                    let tag_colon = c == ':' && word == "__tag__";
                    if !tag_colon && (c.is_whitespace() || matches!(c, '(' | ')' | ':' | '=' | '"')) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

/// Parses the search part of an SLS query. Empty or `*` matches everything.
pub fn parse(query: &str) -> ApiResult<Expr> {
    if query.contains('|') {
        return Err(invalid("analytic statements (`| select …`) are not supported; use a search expression"));
    }
    let tokens = tokenize(query)?;
    if tokens.len() > MAX_QUERY_TOKENS {
        return Err(invalid(format!("more than {MAX_QUERY_TOKENS} words, operators and parentheses")));
    }
    if tokens.is_empty() || tokens == [Token::Word("*".into())] {
        return Ok(Expr::All);
    }
    let mut p = Parser { tokens, at: 0, depth: 0 };
    let expr = p.or()?;
    if p.at != p.tokens.len() {
        return Err(invalid(format!("unexpected {:?}", p.tokens[p.at])));
    }
    Ok(expr)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// Parentheses and `NOT`s open around the current token.
    depth: usize,
}

fn is_op(t: Option<&Token>, op: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(op))
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn or(&mut self) -> ApiResult<Expr> {
        let mut left = self.and()?;
        while is_op(self.peek(), "or") {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    /// Terms joined by `AND` or by juxtaposition.
    fn and(&mut self) -> ApiResult<Expr> {
        let mut left = self.unary()?;
        loop {
            if is_op(self.peek(), "and") {
                self.at += 1;
            } else if self.peek().is_none() || is_op(self.peek(), "or") || self.peek() == Some(&Token::Close) {
                return Ok(left);
            }
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> ApiResult<Expr> {
        if is_op(self.peek(), "not") {
            self.at += 1;
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        match self.tokens.get(self.at).cloned() {
            Some(Token::Open) => {
                self.at += 1;
                self.enter()?;
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err(invalid("missing )"));
                }
                self.at += 1;
                self.depth -= 1;
                Ok(inner)
            }
            Some(Token::Word(w)) if w == "*" => {
                self.at += 1;
                Ok(Expr::All)
            }
            Some(Token::Word(w)) => {
                self.at += 1;
                if self.peek() == Some(&Token::Colon) {
                    self.at += 1;
                    let term = self.term()?;
                    return Ok(Expr::Field(w, term));
                }
                Ok(Expr::Text(word(&w)?))
            }
            Some(Token::Phrase(p)) => {
                self.at += 1;
                Ok(Expr::Text(Term::Phrase(p.to_lowercase())))
            }
            Some(t) => Err(invalid(format!("unexpected {t:?}"))),
            None => Err(invalid("the query ends where a term was expected")),
        }
    }

    fn enter(&mut self) -> ApiResult<()> {
        self.depth += 1;
        if self.depth > MAX_QUERY_DEPTH {
            return Err(invalid(format!("parentheses and NOTs nest more than {MAX_QUERY_DEPTH} deep")));
        }
        Ok(())
    }

    fn term(&mut self) -> ApiResult<Term> {
        match self.tokens.get(self.at).cloned() {
            Some(Token::Word(w)) => {
                self.at += 1;
                word(&w)
            }
            Some(Token::Phrase(p)) => {
                self.at += 1;
                Ok(Term::Phrase(p.to_lowercase()))
            }
            _ => Err(invalid("a value must follow `key:`")),
        }
    }
}

fn word(w: &str) -> ApiResult<Term> {
    let k = Keywords::parse(w).map_err(|e| invalid(e.message))?.ok_or_else(|| invalid(format!("{w:?} is no word")))?;
    Ok(Term::Word(k))
}

/// The value of a field of a log: a content key, `__topic__`, `__source__` or `__tag__:<key>`.
fn field<'a>(group: &'a LogGroup, log: &'a Log, key: &str) -> Option<&'a str> {
    match key {
        "__topic__" => group.topic.as_deref(),
        "__source__" => group.source.as_deref(),
        _ => match key.strip_prefix("__tag__:") {
            Some(tag) => group.log_tags.iter().find(|t| t.key == tag).map(|t| t.value.as_str()),
            None => log.contents.iter().find(|c| c.key == key).map(|c| c.value.as_str()),
        },
    }
}

impl Expr {
    pub fn matches(&self, group: &LogGroup, log: &Log) -> bool {
        match self {
            Expr::All => true,
            Expr::Text(term) => log.contents.iter().any(|c| term.matches(&c.value)),
            Expr::Field(key, term) => field(group, log, key).is_some_and(|v| term.matches(v)),
            Expr::And(a, b) => a.matches(group, log) && b.matches(group, log),
            Expr::Or(a, b) => a.matches(group, log) || b.matches(group, log),
            Expr::Not(a) => !a.matches(group, log),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::pb::{log::Content, LogTag};

    fn doc() -> (LogGroup, Log) {
        let c = |k: &str, v: &str| Content { key: k.into(), value: v.into() };
        let log = Log {
            time: 1,
            contents: vec![c("method", "GET"), c("path", "/api/v1/items"), c("msg", "user alice timed out")],
            time_ns: None,
        };
        let group = LogGroup {
            topic: Some("web".into()),
            source: Some("10.0.0.1".into()),
            log_tags: vec![LogTag { key: "host".into(), value: "web-1".into() }],
            ..Default::default()
        };
        (group, log)
    }

    fn hit(q: &str) -> bool {
        let (g, l) = doc();
        parse(q).unwrap().matches(&g, &l)
    }

    #[test]
    fn query_size_and_nesting_are_capped_for_the_stack() {
        let nested = |n: usize| "(".repeat(n) + "alice" + &")".repeat(n);
        assert!(hit(&nested(MAX_QUERY_DEPTH)));
        let deep = parse(&nested(MAX_QUERY_DEPTH + 1)).unwrap_err();
        assert_eq!(deep.code, crate::error::ErrorCode::ParameterInvalid);
        assert!(deep.message.contains("nest"), "{}", deep.message);
        assert!(hit(&("not ".repeat(MAX_QUERY_DEPTH - 1) + "bob")));
        assert!(parse(&("not ".repeat(MAX_QUERY_DEPTH + 1) + "bob")).is_err());
        let flat = |n: usize| vec!["alice"; n].join(" ");
        assert!(hit(&flat(MAX_QUERY_TOKENS)));
        assert!(parse(&flat(MAX_QUERY_TOKENS + 1)).unwrap_err().message.contains("more than"));
    }

    #[test]
    fn full_text_fields_and_operators() {
        assert!(hit("") && hit("*") && hit("  * "));
        assert!(hit("alice") && hit("ALICE") && hit("ali*") && hit("items"));
        assert!(!hit("bob") && !hit("alic"));
        assert!(hit("method: GET") && hit("method:get") && hit("method = GET") && !hit("method: POST"));
        assert!(hit("__topic__: web") && hit("__source__: \"10.0.0.1\"") && hit("__tag__:host: web-1"));
        assert!(!hit("__tag__:host: web-2") && !hit("nosuch: GET"));
        assert!(hit("alice and method:GET") && !hit("alice AND bob") && hit("alice bob OR GET"));
        assert!(hit("bob OR alice") && !hit("NOT alice") && hit("not bob") && hit("alice not bob"));
        assert!(hit("(bob OR alice) AND (method:GET)") && !hit("(bob OR carol) AND GET"));
        assert!(hit("\"timed out\"") && !hit("\"out timed\""));
        assert!(hit("msg: \"alice timed\""));
    }

    #[test]
    fn bad_queries_are_parameter_invalid() {
        use crate::error::ErrorCode;
        for bad in ["* | select count(*)", "(alice", "alice)", "method:", "\"open", "*rror", "a AND"] {
            assert_eq!(parse(bad).unwrap_err().code, ErrorCode::ParameterInvalid, "{bad}");
        }
    }
}
