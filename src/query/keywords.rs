//! Keyword search over log content (lts.md §3.4, §7): content is split into words on delimiter
//! characters, and a keyword matches a whole word, case-insensitively, with `*` (any run of
//! characters) and `?` (one character) allowed anywhere but first (`LTS.0301`). Pure.
//!
//! The expression language: words separated by blanks must all match (`AND` may be written);
//! `OR` separates alternatives; `NOT` excludes the next word. A keyword that itself contains
//! delimiters (`user/login`) requires each of its words. Matching words are wrapped in
//! `<HighLightTag>…</HighLightTag>` for highlighting.

use crate::error::{ApiError, ApiResult, ErrorCode};

/// Characters that separate words (SLS's default token delimiters, plus blanks).
pub const DELIMITERS: &[char] =
    &[' ', '\t', '\n', '\r', ',', '\'', '"', ';', '=', '(', ')', '[', ']', '{', '}', '?', '@', '&', '<', '>', '/', ':'];

pub const HIGHLIGHT_OPEN: &str = "<HighLightTag>";
pub const HIGHLIGHT_CLOSE: &str = "</HighLightTag>";

/// A parsed keyword expression: alternatives, each a conjunction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords {
    alternatives: Vec<Clause>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Clause {
    required: Vec<Pattern>,
    excluded: Vec<Pattern>,
}

/// One word to match, lower-cased, with its wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern(Vec<char>);

fn is_delimiter(c: char) -> bool {
    DELIMITERS.contains(&c)
}

/// The words of `text` with their byte ranges.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split(is_delimiter)
        .scan(0usize, |at, word| {
            let start = *at;
            *at += word.len() + 1; // every delimiter is one byte (all are ASCII)
            Some((start, word))
        })
        .filter(|(_, w)| !w.is_empty())
}

impl Keywords {
    /// Parses a keyword expression; `None` when it holds no word. A word starting with `*` or
    /// `?` is `LTS.0301`.
    pub fn parse(text: &str) -> ApiResult<Option<Keywords>> {
        let mut alternatives = vec![Clause::default()];
        let mut negate = false;
        for token in text.split_whitespace() {
            match token {
                "AND" | "and" | "&&" => continue,
                "OR" | "or" | "||" => {
                    alternatives.push(Clause::default());
                    negate = false;
                    continue;
                }
                "NOT" | "not" | "!" => {
                    negate = true;
                    continue;
                }
                _ => {}
            }
            if token.starts_with(['*', '?']) {
                return Err(ApiError::new(
                    ErrorCode::InvalidKeyword,
                    format!("'*' and '?' are not allowed as the first character of a keyword: {token}"),
                ));
            }
            // Delimiters split a keyword into words, except `?`, which is a wildcard here.
            let parts = token.split(|c: char| c != '?' && is_delimiter(c)).filter(|p| !p.is_empty());
            let clause = alternatives.last_mut().expect("at least one alternative");
            for part in parts {
                if part.starts_with(['*', '?']) {
                    return Err(ApiError::new(
                        ErrorCode::InvalidKeyword,
                        format!("'*' and '?' are not allowed as the first character of a keyword: {token}"),
                    ));
                }
                let pattern = Pattern(part.chars().flat_map(char::to_lowercase).collect());
                if negate {
                    clause.excluded.push(pattern)
                } else {
                    clause.required.push(pattern)
                }
            }
            negate = false;
        }
        alternatives.retain(|c| !c.required.is_empty() || !c.excluded.is_empty());
        Ok((!alternatives.is_empty()).then_some(Keywords { alternatives }))
    }

    /// Whether `content` satisfies the expression.
    pub fn matches(&self, content: &str) -> bool {
        let lowered: Vec<Vec<char>> =
            words(content).map(|(_, w)| w.chars().flat_map(char::to_lowercase).collect()).collect();
        let has = |p: &Pattern| lowered.iter().any(|w| p.matches(w));
        self.alternatives.iter().any(|c| c.required.iter().all(has) && !c.excluded.iter().any(has))
    }

    /// `content` with every word that a required keyword matches wrapped in highlight tags.
    pub fn highlight(&self, content: &str) -> String {
        let mut out = String::with_capacity(content.len() + 32);
        let mut copied = 0;
        for (at, word) in words(content) {
            let lowered: Vec<char> = word.chars().flat_map(char::to_lowercase).collect();
            if self.alternatives.iter().flat_map(|c| &c.required).any(|p| p.matches(&lowered)) {
                out.push_str(&content[copied..at]);
                out.push_str(HIGHLIGHT_OPEN);
                out.push_str(word);
                out.push_str(HIGHLIGHT_CLOSE);
                copied = at + word.len();
            }
        }
        out.push_str(&content[copied..]);
        out
    }
}

impl Pattern {
    /// Glob match of a whole (lower-cased) word: `*` any run, `?` one character.
    fn matches(&self, word: &[char]) -> bool {
        let p = &self.0;
        let (mut pi, mut wi) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while wi < word.len() {
            if pi < p.len() && (p[pi] == '?' || p[pi] == word[wi]) {
                pi += 1;
                wi += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some((pi, wi));
                pi += 1;
            } else if let Some((sp, sw)) = star {
                pi = sp + 1;
                wi = sw + 1;
                star = Some((sp, sw + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|&c| c == '*')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(text: &str) -> Keywords {
        Keywords::parse(text).unwrap().unwrap()
    }

    #[test]
    fn whole_words_case_insensitively() {
        let k = kw("error");
        assert!(k.matches("2020-07-25 this log is Error NO 1"));
        assert!(k.matches("status=error;code=5"));
        assert!(!k.matches("errors only"));
        assert!(!k.matches("terror"));
    }

    #[test]
    fn wildcards_anywhere_but_first() {
        assert!(kw("err*").matches("errors only"));
        assert!(kw("e?ror").matches("an error"));
        assert!(!kw("e?ror").matches("an eror"));
        assert!(kw("ti*out").matches("timed out: timeout"));
        for bad in ["*rror", "?rror", "ok *x", "user/*x"] {
            assert_eq!(Keywords::parse(bad).unwrap_err().code, ErrorCode::InvalidKeyword, "{bad}");
        }
    }

    #[test]
    fn and_or_not() {
        let doc = "GET /api/v1/items status=500 user=alice";
        assert!(kw("get 500").matches(doc));
        assert!(kw("get AND 500").matches(doc));
        assert!(!kw("get 404").matches(doc));
        assert!(kw("404 OR 500").matches(doc));
        assert!(!kw("get NOT alice").matches(doc));
        assert!(kw("get NOT bob").matches(doc));
        assert!(kw("api/v1").matches(doc), "a keyword with delimiters requires each of its words");
        assert!(Keywords::parse("  AND ").unwrap().is_none());
        assert!(Keywords::parse("").unwrap().is_none());
    }

    #[test]
    fn highlight_wraps_each_matching_word_exactly_as_written() {
        let k = kw("log");
        assert_eq!(
            k.highlight("2020-07-25/14:44:42 this log is Error NO 1"),
            "2020-07-25/14:44:42 this <HighLightTag>log</HighLightTag> is Error NO 1"
        );
        assert_eq!(
            kw("e*").highlight("Error, end. x"),
            "<HighLightTag>Error</HighLightTag>, <HighLightTag>end.</HighLightTag> x"
        );
        assert_eq!(kw("héllo").highlight("say HÉLLO ✓"), "say <HighLightTag>HÉLLO</HighLightTag> ✓");
        assert_eq!(kw("x NOT y").highlight("y x"), "y <HighLightTag>x</HighLightTag>");
    }
}
