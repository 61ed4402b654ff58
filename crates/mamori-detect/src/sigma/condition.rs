//! The `condition` language: `and`, `or`, `not`, brackets, `1 of` / `all of` a pattern or
//! `them`. Precedence from loosest: or, and, not, `x of`, brackets.

/// A parsed condition, before search identifiers are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Ident(String),
    /// `1 of pattern` (`all: false`) or `all of pattern`; `pattern` is `them` or a name with `*`.
    Of {
        all: bool,
        pattern: String,
    },
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    One,
    All,
    Of,
    Word(String),
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            '(' => out.push(Token::Open),
            ')' => out.push(Token::Close),
            c if c.is_whitespace() => {}
            c if c.is_alphanumeric() || matches!(c, '_' | '*' | '-' | '.') => {
                let mut end = start + c.len_utf8();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_alphanumeric() || matches!(c, '_' | '*' | '-' | '.') {
                        end = i + c.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let word = &text[start..end];
                out.push(match word.to_ascii_lowercase().as_str() {
                    "and" => Token::And,
                    "or" => Token::Or,
                    "not" => Token::Not,
                    "of" => Token::Of,
                    "all" => Token::All,
                    "1" | "any" => Token::One,
                    _ => Token::Word(word.to_string()),
                });
            }
            '|' => {
                return Err(
                    "the pipe (aggregation) syntax of Sigma 1.0 is not supported: use a correlation rule".into(),
                );
            }
            c => return Err(format!("unexpected character {c:?} at offset {start}")),
        }
    }
    Ok(out)
}

/// Parses one condition string.
pub fn parse(text: &str) -> Result<Expr, String> {
    let tokens = tokens(text)?;
    let mut parser = ConditionParser { tokens, at: 0 };
    let expr = parser.or()?;
    match parser.tokens.get(parser.at) {
        None => Ok(expr),
        Some(token) => Err(format!(
            "unexpected {} after a complete condition",
            describe(token)
        )),
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Open => "'('".into(),
        Token::Close => "')'".into(),
        Token::And => "'and'".into(),
        Token::Or => "'or'".into(),
        Token::Not => "'not'".into(),
        Token::One => "'1'".into(),
        Token::All => "'all'".into(),
        Token::Of => "'of'".into(),
        Token::Word(w) => format!("{w:?}"),
    }
}

struct ConditionParser {
    tokens: Vec<Token>,
    at: usize,
}

impl ConditionParser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut terms = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut terms = vec![self.not()?];
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            terms.push(self.not()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Token::Not) {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    Some(other) => Err(format!("expected ')' but found {}", describe(&other))),
                    None => Err("a '(' is never closed".into()),
                }
            }
            Some(quantifier @ (Token::One | Token::All)) => {
                match self.next() {
                    Some(Token::Of) => {}
                    _ => {
                        return Err(format!(
                            "{} must be followed by 'of'",
                            describe(&quantifier)
                        ));
                    }
                }
                match self.next() {
                    Some(Token::Word(pattern)) => Ok(Expr::Of {
                        all: quantifier == Token::All,
                        pattern,
                    }),
                    _ => {
                        Err("'of' must be followed by 'them' or a search identifier pattern".into())
                    }
                }
            }
            Some(Token::Word(word)) => Ok(Expr::Ident(word)),
            Some(other) => Err(format!("unexpected {}", describe(&other))),
            None => Err("the condition ends where a search identifier was expected".into()),
        }
    }
}

/// Whether `name` matches a pattern with `*` wildcards (`selection_*`).
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn ident(name: &str) -> Expr {
        Expr::Ident(name.into())
    }

    #[test]
    fn precedence_is_or_then_and_then_not() {
        assert_eq!(
            parse("a or b and not c").unwrap(),
            Expr::Or(vec![
                ident("a"),
                Expr::And(vec![ident("b"), Expr::Not(Box::new(ident("c")))])
            ])
        );
        assert_eq!(
            parse("(a or b) and c").unwrap(),
            Expr::And(vec![Expr::Or(vec![ident("a"), ident("b")]), ident("c")])
        );
    }

    #[test]
    fn quantifiers_take_patterns_and_them() {
        assert_eq!(
            parse("1 of selection_* and not all of filter_*").unwrap(),
            Expr::And(vec![
                Expr::Of {
                    all: false,
                    pattern: "selection_*".into()
                },
                Expr::Not(Box::new(Expr::Of {
                    all: true,
                    pattern: "filter_*".into()
                }))
            ])
        );
        assert_eq!(
            parse("all of them").unwrap(),
            Expr::Of {
                all: true,
                pattern: "them".into()
            }
        );
    }

    #[test]
    fn malformed_conditions_say_why() {
        assert!(parse("a and").unwrap_err().contains("ends"));
        assert!(parse("(a or b").unwrap_err().contains("never closed"));
        assert!(
            parse("a b")
                .unwrap_err()
                .contains("after a complete condition")
        );
        assert!(parse("1 selection").unwrap_err().contains("'of'"));
        assert!(
            parse("selection | count() > 5")
                .unwrap_err()
                .contains("correlation")
        );
    }

    #[test]
    fn identifier_patterns() {
        assert!(pattern_matches("selection_*", "selection_img"));
        assert!(!pattern_matches("selection_*", "filter_img"));
        assert!(pattern_matches("*_main_*", "filter_main_x"));
        assert!(pattern_matches("sel", "sel"));
        assert!(!pattern_matches("a*a", "a"));
    }
}
