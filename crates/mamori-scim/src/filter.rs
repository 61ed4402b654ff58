//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2), which share the attribute
//! path and value-filter grammar:
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")" / "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! PATH      = attrPath / valuePath [subAttr]
//! ```
//!
//! Filters arrive in query strings from anyone holding a SCIM token, so parsing is bounded:
//! at most [`MAX_FILTER_BYTES`] bytes and [`MAX_DEPTH`] levels of nesting, and every
//! attribute and comparison is checked against the schema when parsed, so evaluation cannot
//! fail.

use std::cmp::Ordering;
use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::{Number, Value};

use crate::error::ScimError;
use crate::resource::{container, is_present, member};
use crate::schema::{AttrPath, Attribute, Kind, Resolved, Schema, Type, resolve};

/// The longest filter or path accepted, in bytes.
const MAX_FILTER_BYTES: usize = 4096;
/// The deepest nesting of parentheses, `not` and value filters accepted.
const MAX_DEPTH: usize = 32;

/// A parsed filter over one resource type. `Display` prints it back in canonical form
/// (schema spelling, URN-qualified extension attributes, explicit parentheses), which parses
/// to an equal filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    kind: Kind,
    expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Present(AttrPath),
    Compare(AttrPath, Op, Literal),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    /// `attr[filter]`: some value of the multi-valued complex `attr` matches the inner
    /// filter, whose paths name its sub-attributes.
    ValuePath(AttrPath, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Lt,
    Ge,
    Le,
}

impl Op {
    const ALL: [(Op, &'static str); 9] = [
        (Op::Eq, "eq"),
        (Op::Ne, "ne"),
        (Op::Co, "co"),
        (Op::Sw, "sw"),
        (Op::Ew, "ew"),
        (Op::Gt, "gt"),
        (Op::Lt, "lt"),
        (Op::Ge, "ge"),
        (Op::Le, "le"),
    ];

    fn parse(word: &str) -> Option<Op> {
        Op::ALL
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(word))
            .map(|(op, _)| *op)
    }

    fn name(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(op, _)| *op == self)
            .map_or("eq", |(_, name)| name)
    }

    fn is_ordering(self) -> bool {
        matches!(self, Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    fn is_substring(self) -> bool {
        matches!(self, Op::Co | Op::Sw | Op::Ew)
    }

    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Op::Eq => ordering == Ordering::Equal,
            Op::Ne => ordering != Ordering::Equal,
            Op::Gt => ordering == Ordering::Greater,
            Op::Lt => ordering == Ordering::Less,
            Op::Ge => ordering != Ordering::Less,
            Op::Le => ordering != Ordering::Greater,
            Op::Co | Op::Sw | Op::Ew => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    /// A string compared with a dateTime attribute: compared as an instant.
    Instant(String, Timestamp),
    /// A string compared with one of Mamori's HR dates: compared as a calendar day, the date
    /// part as written (an HR date may be a bare `YYYY-MM-DD`).
    Day(String, Date),
}

impl Literal {
    /// The literal as a JSON value, for building the element a value filter describes.
    fn to_value(&self) -> Value {
        match self {
            Literal::Null => Value::Null,
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Number(n) => Value::Number(n.clone()),
            Literal::String(text) | Literal::Instant(text, _) | Literal::Day(text, _) => {
                Value::from(text.as_str())
            }
        }
    }
}

impl Filter {
    /// Parses `text` as a filter over `kind` resources. Attribute and operator names are
    /// case-insensitive; attributes must exist in the schema and comparisons must suit their
    /// type (`gt` on a boolean or a complex attribute is an error), otherwise
    /// `invalidFilter` says what is wrong and at which column.
    pub fn parse(kind: Kind, text: &str) -> Result<Filter, ScimError> {
        if text.len() > MAX_FILTER_BYTES {
            return Err(ScimError::invalid_filter(format!(
                "the filter is {} bytes long; at most {MAX_FILTER_BYTES} are accepted",
                text.len()
            )));
        }
        let mut parser = Parser::new(kind, text);
        let expr = parser.or_expression()?;
        parser.skip_whitespace();
        if parser.position < text.len() {
            return Err(parser.error(parser.position, "unexpected text after the filter"));
        }
        Ok(Filter { kind, expr })
    }

    /// Whether `resource` (a canonical resource, with the server's `id`, `meta` and
    /// `groups` if it has them) matches. A multi-valued attribute matches if any of its
    /// values does; strings of caseExact=false attributes compare case-insensitively;
    /// dateTimes compare as instants. `ne` is the negation of `eq`, so `ne` also matches
    /// resources without the attribute.
    pub fn matches(&self, resource: &Value) -> bool {
        evaluate(&self.expr, resource, None)
    }

    /// `Some(value)` when the whole filter is `attribute eq "value"` (`attribute` resolved
    /// like a filter's, so `username` or the URN-qualified name work too): the server can
    /// then look the value up in its index instead of scanning. Lower-case it first when
    /// the attribute is caseExact=false, as [`crate::unique_key`] does.
    pub fn eq_value(&self, attribute: &str) -> Option<&str> {
        let Expr::Compare(path, Op::Eq, Literal::String(value)) = &self.expr else {
            return None;
        };
        match resolve(self.kind, attribute) {
            Ok(Resolved::Attribute(wanted)) if wanted == *path => Some(value),
            _ => None,
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_expr(&self.expr, false, &mut out);
        formatter.write_str(&out)
    }
}

fn write_expr(expr: &Expr, in_value_filter: bool, out: &mut String) {
    let write_path = |path: &AttrPath, out: &mut String| match (in_value_filter, path.sub) {
        (true, Some(sub)) => out.push_str(sub.name),
        _ => path.write(out),
    };
    match expr {
        Expr::Present(path) => {
            write_path(path, out);
            out.push_str(" pr");
        }
        Expr::Compare(path, op, literal) => {
            write_path(path, out);
            out.push(' ');
            out.push_str(op.name());
            out.push(' ');
            match literal {
                Literal::Null => out.push_str("null"),
                Literal::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                Literal::Number(n) => out.push_str(&n.to_string()),
                Literal::String(text) | Literal::Instant(text, _) | Literal::Day(text, _) => {
                    out.push_str(&Value::from(text.as_str()).to_string());
                }
            }
        }
        Expr::Not(inner) => {
            out.push_str("not (");
            write_expr(inner, in_value_filter, out);
            out.push(')');
        }
        Expr::And(terms) | Expr::Or(terms) => {
            let joiner = if matches!(expr, Expr::And(_)) {
                " and "
            } else {
                " or "
            };
            for (index, term) in terms.iter().enumerate() {
                if index > 0 {
                    out.push_str(joiner);
                }
                let grouped = matches!(term, Expr::And(_) | Expr::Or(_));
                if grouped {
                    out.push('(');
                }
                write_expr(term, in_value_filter, out);
                if grouped {
                    out.push(')');
                }
            }
        }
        Expr::ValuePath(path, inner) => {
            path.write(out);
            out.push('[');
            write_expr(inner, true, out);
            out.push(']');
        }
    }
}

/// What a PATCH `path` names.
#[derive(Debug, Clone)]
pub(crate) enum PatchPath {
    /// A whole extension object, by its URN.
    Extension(&'static Schema),
    /// `password` and the like: accepted, never kept.
    Dropped,
    /// An attribute or sub-attribute, with the value filter that selects among the values
    /// of a multi-valued attribute (`emails[type eq "work"].value`).
    Attribute {
        path: AttrPath,
        filter: Option<Expr>,
    },
}

/// Parses a PATCH path (RFC 7644 §3.5.2: `PATH = attrPath / valuePath [subAttr]`);
/// failures are `invalidPath`.
pub(crate) fn parse_patch_path(kind: Kind, text: &str) -> Result<PatchPath, ScimError> {
    if text.len() > MAX_FILTER_BYTES {
        return Err(ScimError::invalid_path(format!(
            "the path is {} bytes long; at most {MAX_FILTER_BYTES} are accepted",
            text.len()
        )));
    }
    let text = text.trim();
    let (head, bracket) = match text.find('[') {
        Some(at) => (&text[..at], Some(at)),
        None => (text, None),
    };
    let mut path = match resolve(kind, head) {
        Ok(Resolved::Extension(schema)) if bracket.is_none() => {
            return Ok(PatchPath::Extension(schema));
        }
        Ok(Resolved::Dropped) => return Ok(PatchPath::Dropped),
        Ok(Resolved::Attribute(path)) => path,
        Ok(Resolved::Extension(schema)) => {
            return Err(ScimError::invalid_path(format!(
                "'{}' is a schema, not an attribute",
                schema.id
            )));
        }
        Err(message) => return Err(ScimError::invalid_path(message)),
    };
    let Some(bracket) = bracket else {
        return Ok(PatchPath::Attribute { path, filter: None });
    };
    let attribute = path.attribute;
    if path.sub.is_some() || attribute.ty != Type::Complex || !attribute.multi_valued {
        return Err(ScimError::invalid_path(format!(
            "'{head}' is not a multi-valued complex attribute: it takes no [filter]"
        )));
    }
    let mut parser = Parser::new(kind, text);
    parser.position = bracket + 1;
    parser.depth = 1;
    parser.element = Some(path);
    let filter = parser
        .or_expression()
        .map_err(|error| ScimError::invalid_path(error.detail()))?;
    parser.skip_whitespace();
    if parser.peek() != Some(']') {
        return Err(ScimError::invalid_path(
            parser.error(parser.position, "expected ']'").detail(),
        ));
    }
    let rest = &text[parser.position + 1..];
    if !rest.is_empty() {
        let sub = rest
            .strip_prefix('.')
            .and_then(|name| attribute.sub(name))
            .ok_or_else(|| {
                ScimError::invalid_path(format!(
                    "after the filter, expected '.' and a sub-attribute of {}, found '{rest}'",
                    attribute.name
                ))
            })?;
        path.sub = Some(sub);
    }
    Ok(PatchPath::Attribute {
        path,
        filter: Some(filter),
    })
}

/// Whether one value of a multi-valued complex attribute matches a value filter.
pub(crate) fn matches_element(filter: &Expr, element: &Value) -> bool {
    evaluate(filter, &Value::Null, Some(element))
}

/// The sub-attribute values a filter made only of `eq` comparisons joined by `and`
/// requires (`type eq "work"` → type = "work"): the value a PATCH creates when such a
/// filter matches nothing. `None` for any other filter.
pub(crate) fn required_values(filter: &Expr) -> Option<Vec<(&'static Attribute, Value)>> {
    match filter {
        Expr::Compare(path, Op::Eq, literal) if *literal != Literal::Null => {
            Some(vec![(path.sub?, literal.to_value())])
        }
        Expr::And(terms) => {
            let mut values = Vec::new();
            for term in terms {
                values.extend(required_values(term)?);
            }
            Some(values)
        }
        _ => None,
    }
}

struct Parser<'t> {
    kind: Kind,
    text: &'t str,
    position: usize,
    depth: usize,
    /// Inside `attr[…]`: the attribute whose sub-attributes the names refer to.
    element: Option<AttrPath>,
}

impl<'t> Parser<'t> {
    fn new(kind: Kind, text: &'t str) -> Self {
        Parser {
            kind,
            text,
            position: 0,
            depth: 0,
            element: None,
        }
    }

    fn error(&self, at: usize, message: impl fmt::Display) -> ScimError {
        let column = self
            .text
            .get(..at)
            .map_or(at, |before| before.chars().count())
            + 1;
        ScimError::invalid_filter(format!("{message} (column {column})"))
    }

    fn peek(&self) -> Option<char> {
        self.text.get(self.position..)?.chars().next()
    }

    fn skip_whitespace(&mut self) {
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.position += c.len_utf8();
        }
    }

    /// The next run of characters up to whitespace, a bracket, a parenthesis or a quote.
    fn word(&mut self) -> (usize, &'t str) {
        let start = self.position;
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                break;
            }
            self.position += c.len_utf8();
        }
        (start, &self.text[start..self.position])
    }

    /// Consumes the keyword `expected` (case-insensitive) if it comes next.
    fn keyword(&mut self, expected: &str) -> bool {
        let saved = self.position;
        self.skip_whitespace();
        let (_, word) = self.word();
        if word.eq_ignore_ascii_case(expected) {
            true
        } else {
            self.position = saved;
            false
        }
    }

    fn expect(&mut self, wanted: char) -> Result<(), ScimError> {
        self.skip_whitespace();
        if self.peek() == Some(wanted) {
            self.position += 1;
            Ok(())
        } else {
            Err(self.error(self.position, format_args!("expected '{wanted}'")))
        }
    }

    fn enter(&mut self, at: usize) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(
                at,
                format_args!("the filter is nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    /// `and` binds tighter than `or`.
    fn or_expression(&mut self) -> Result<Expr, ScimError> {
        let mut terms = vec![self.and_expression()?];
        while self.keyword("or") {
            terms.push(self.and_expression()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn and_expression(&mut self) -> Result<Expr, ScimError> {
        let mut terms = vec![self.unary_expression()?];
        while self.keyword("and") {
            terms.push(self.unary_expression()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn unary_expression(&mut self) -> Result<Expr, ScimError> {
        self.skip_whitespace();
        let start = self.position;
        match self.peek() {
            None => Err(self.error(start, "expected an expression, found the end")),
            Some('(') => {
                self.position += 1;
                self.grouped(start)
            }
            Some(_) => {
                let (_, word) = self.word();
                if word.eq_ignore_ascii_case("not") {
                    self.skip_whitespace();
                    if self.peek() != Some('(') {
                        return Err(self.error(self.position, "expected '(' after 'not'"));
                    }
                    self.position += 1;
                    return Ok(Expr::Not(Box::new(self.grouped(start)?)));
                }
                if word.is_empty() {
                    return Err(self.error(start, "expected an attribute name"));
                }
                self.attribute_expression(start, word)
            }
        }
    }

    /// The inside of `( … )`, the opening parenthesis already consumed.
    fn grouped(&mut self, start: usize) -> Result<Expr, ScimError> {
        self.enter(start)?;
        let inner = self.or_expression()?;
        self.expect(')')?;
        self.depth -= 1;
        Ok(inner)
    }

    fn attribute_expression(&mut self, start: usize, word: &str) -> Result<Expr, ScimError> {
        let path = self.attribute_path(start, word)?;
        if self.peek() == Some('[') {
            return self.value_path(start, path);
        }
        self.skip_whitespace();
        let (operator_start, operator) = self.word();
        if operator.eq_ignore_ascii_case("pr") {
            return Ok(Expr::Present(path));
        }
        let Some(op) = Op::parse(operator) else {
            let found = if operator.is_empty() {
                self.peek()
                    .map_or("the end".to_owned(), |c| format!("'{c}'"))
            } else {
                format!("'{operator}'")
            };
            return Err(self.error(
                operator_start,
                format_args!(
                    "expected an operator (eq, ne, co, sw, ew, gt, lt, ge, le, pr) after '{word}', found {found}"
                ),
            ));
        };
        self.skip_whitespace();
        let literal_start = self.position;
        let literal = self.literal()?;
        let literal = check_comparison(&path, op, literal)
            .map_err(|message| self.error(literal_start, message))?;
        Ok(Expr::Compare(path, op, literal))
    }

    fn attribute_path(&self, start: usize, word: &str) -> Result<AttrPath, ScimError> {
        if let Some(parent) = self.element {
            let sub = parent.attribute.sub(word).ok_or_else(|| {
                self.error(
                    start,
                    format_args!("{} has no sub-attribute '{word}'", parent.attribute.name),
                )
            })?;
            return Ok(AttrPath {
                sub: Some(sub),
                ..parent
            });
        }
        match resolve(self.kind, word) {
            Ok(Resolved::Attribute(path)) => Ok(path),
            Ok(Resolved::Extension(_)) => Err(self.error(
                start,
                format_args!("'{word}' is a schema, not an attribute"),
            )),
            Ok(Resolved::Dropped) => Err(self.error(
                start,
                format_args!("'{word}' is not kept by Mamori and cannot be filtered on"),
            )),
            Err(message) => Err(self.error(start, message)),
        }
    }

    fn value_path(&mut self, start: usize, path: AttrPath) -> Result<Expr, ScimError> {
        if self.element.is_some() {
            return Err(self.error(self.position, "a value filter cannot contain another"));
        }
        if path.sub.is_some() || path.attribute.ty != Type::Complex {
            return Err(self.error(
                self.position,
                format_args!(
                    "'{}' is not a complex attribute: it takes no [filter]",
                    &self.text[start..self.position]
                ),
            ));
        }
        self.position += 1;
        self.enter(start)?;
        self.element = Some(path);
        let inner = self.or_expression();
        self.element = None;
        let inner = inner?;
        self.expect(']')?;
        self.depth -= 1;
        Ok(Expr::ValuePath(path, Box::new(inner)))
    }

    fn literal(&mut self) -> Result<Literal, ScimError> {
        let start = self.position;
        if self.peek() == Some('"') {
            let rest = &self.text[start + 1..];
            let mut escaped = false;
            let mut end = None;
            for (offset, c) in rest.char_indices() {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    end = Some(start + 1 + offset);
                    break;
                }
            }
            let Some(end) = end else {
                return Err(self.error(start, "unterminated string"));
            };
            let text: String = serde_json::from_str(&self.text[start..=end])
                .map_err(|_| self.error(start, "invalid string (JSON escapes only)"))?;
            self.position = end + 1;
            return Ok(Literal::String(text));
        }
        let (_, word) = self.word();
        if word.eq_ignore_ascii_case("true") {
            return Ok(Literal::Bool(true));
        }
        if word.eq_ignore_ascii_case("false") {
            return Ok(Literal::Bool(false));
        }
        if word.eq_ignore_ascii_case("null") {
            return Ok(Literal::Null);
        }
        if word.starts_with(|c: char| c == '-' || c.is_ascii_digit())
            && let Ok(number) = serde_json::from_str::<Number>(word)
        {
            return Ok(Literal::Number(number));
        }
        let found = if word.is_empty() {
            self.peek()
                .map_or("the end".to_owned(), |c| format!("'{c}'"))
        } else {
            format!("'{word}'")
        };
        Err(self.error(
            start,
            format_args!(
                "expected a value (a quoted string, a number, true, false or null), found {found}"
            ),
        ))
    }
}

/// The attribute whose values a comparison on `path` looks at: the named (sub-)attribute,
/// or the `value` sub-attribute of a complex attribute (`members eq "id"`).
fn compared_attribute(path: &AttrPath) -> Option<&'static Attribute> {
    let leaf = path.leaf();
    if leaf.ty == Type::Complex {
        leaf.value_sub()
    } else {
        Some(leaf)
    }
}

/// Checks that `op` and `literal` suit the attribute, and turns the literal into the form
/// it is compared in.
fn check_comparison(path: &AttrPath, op: Op, literal: Literal) -> Result<Literal, String> {
    let name = path.leaf().name;
    let Some(attribute) = compared_attribute(path) else {
        return Err(format!(
            "'{name}' is complex: compare one of its sub-attributes, or use pr"
        ));
    };
    if literal == Literal::Null {
        return if matches!(op, Op::Eq | Op::Ne) {
            Ok(Literal::Null)
        } else {
            Err("null can only be compared with eq or ne".to_owned())
        };
    }
    match attribute.ty {
        Type::Boolean => {
            if op.is_ordering() || op.is_substring() {
                return Err(format!("'{name}' is a boolean: only eq, ne and pr apply"));
            }
            match literal {
                Literal::Bool(_) => Ok(literal),
                Literal::String(text) if text.eq_ignore_ascii_case("true") => {
                    Ok(Literal::Bool(true))
                }
                Literal::String(text) if text.eq_ignore_ascii_case("false") => {
                    Ok(Literal::Bool(false))
                }
                _ => Err(format!(
                    "'{name}' is a boolean: compare it with true or false"
                )),
            }
        }
        Type::String | Type::Reference | Type::Binary => match literal {
            Literal::String(_) => Ok(literal),
            _ => Err(format!(
                "'{name}' is a string: compare it with a quoted string"
            )),
        },
        Type::Decimal | Type::Integer => {
            if op.is_substring() {
                return Err(format!("'{name}' is a number: co, sw and ew do not apply"));
            }
            match literal {
                Literal::Number(_) => Ok(literal),
                _ => Err(format!("'{name}' is a number: compare it with a number")),
            }
        }
        Type::DateTime => {
            if op.is_substring() {
                return Err(format!(
                    "'{name}' is a dateTime: co, sw and ew do not apply"
                ));
            }
            match literal {
                Literal::String(text) if attribute.calendar_date => match day_of(&text) {
                    Some(day) => Ok(Literal::Day(text, day)),
                    None => Err(format!(
                        "'{name}' is a date: \"{text}\" is neither YYYY-MM-DD nor an RFC 3339 dateTime"
                    )),
                },
                Literal::String(text) => match text.parse::<Timestamp>() {
                    Ok(instant) => Ok(Literal::Instant(text, instant)),
                    Err(_) => Err(format!(
                        "'{name}' is a dateTime: \"{text}\" is not an RFC 3339 dateTime"
                    )),
                },
                _ => Err(format!(
                    "'{name}' is a dateTime: compare it with a quoted RFC 3339 dateTime"
                )),
            }
        }
        Type::Complex => Err(format!(
            "'{name}' is complex: compare one of its sub-attributes"
        )),
    }
}

fn evaluate(expr: &Expr, resource: &Value, element: Option<&Value>) -> bool {
    match expr {
        Expr::And(terms) => terms.iter().all(|term| evaluate(term, resource, element)),
        Expr::Or(terms) => terms.iter().any(|term| evaluate(term, resource, element)),
        Expr::Not(inner) => !evaluate(inner, resource, element),
        Expr::Present(path) => values(path, resource, element, false)
            .into_iter()
            .any(is_present),
        Expr::Compare(path, op, literal) => {
            let found = values(path, resource, element, true);
            let Some(attribute) = compared_attribute(path) else {
                return false;
            };
            match (op, literal) {
                (Op::Eq, Literal::Null) => !found.into_iter().any(is_present),
                (_, Literal::Null) => found.into_iter().any(is_present),
                (Op::Ne, _) => !found
                    .into_iter()
                    .any(|value| compare(attribute, Op::Eq, literal, value)),
                _ => found
                    .into_iter()
                    .any(|value| compare(attribute, *op, literal, value)),
            }
        }
        Expr::ValuePath(path, inner) => values(path, resource, None, false)
            .into_iter()
            .any(|value| evaluate(inner, resource, Some(value))),
    }
}

/// The values at `path`, multi-valued attributes flattened. Inside a value filter the path
/// names a sub-attribute of `element`. With `implicit_value`, a complex attribute stands
/// for its `value` sub-attribute.
fn values<'r>(
    path: &AttrPath,
    resource: &'r Value,
    element: Option<&'r Value>,
    implicit_value: bool,
) -> Vec<&'r Value> {
    let mut found = Vec::new();
    if let Some(element) = element {
        if let (Some(object), Some(sub)) = (element.as_object(), path.sub) {
            push_flat(member(object, sub.name), &mut found);
        }
        return found;
    }
    let Some(holder) = resource
        .as_object()
        .and_then(|object| container(object, path.schema))
    else {
        return found;
    };
    let mut tops = Vec::new();
    push_flat(member(holder, path.attribute.name), &mut tops);
    let sub_name = match path.sub {
        Some(sub) => Some(sub.name),
        None if implicit_value && path.attribute.ty == Type::Complex => Some("value"),
        None => None,
    };
    match sub_name {
        None => found = tops,
        Some(sub_name) => {
            for top in tops {
                if let Some(object) = top.as_object() {
                    push_flat(member(object, sub_name), &mut found);
                }
            }
        }
    }
    found
}

fn push_flat<'r>(value: Option<&'r Value>, out: &mut Vec<&'r Value>) {
    match value {
        Some(Value::Array(items)) => out.extend(items),
        Some(value) => out.push(value),
        None => {}
    }
}

fn compare(attribute: &Attribute, op: Op, literal: &Literal, value: &Value) -> bool {
    match literal {
        Literal::Null => false,
        Literal::Bool(wanted) => value.as_bool().is_some_and(|b| op.accepts(b.cmp(wanted))),
        Literal::Number(wanted) => match (value.as_f64(), wanted.as_f64()) {
            (Some(have), Some(wanted)) => have.partial_cmp(&wanted).is_some_and(|o| op.accepts(o)),
            _ => false,
        },
        Literal::Instant(_, wanted) => value
            .as_str()
            .and_then(|text| text.parse::<Timestamp>().ok())
            .is_some_and(|have| op.accepts(have.cmp(wanted))),
        Literal::Day(_, wanted) => value
            .as_str()
            .and_then(day_of)
            .is_some_and(|have| op.accepts(have.cmp(wanted))),
        Literal::String(wanted) => {
            let Some(have) = value.as_str() else {
                return false;
            };
            if attribute.case_exact {
                compare_strings(op, have, wanted)
            } else {
                compare_strings(op, &have.to_lowercase(), &wanted.to_lowercase())
            }
        }
    }
}

/// The calendar day of an HR date: a bare `YYYY-MM-DD`, or the date part of an RFC 3339
/// dateTime as written.
fn day_of(text: &str) -> Option<Date> {
    if text.len() > 10 {
        text.parse::<Timestamp>().ok()?;
    }
    text.get(..10)?.parse().ok()
}

fn compare_strings(op: Op, have: &str, wanted: &str) -> bool {
    match op {
        Op::Co => have.contains(wanted),
        Op::Sw => have.starts_with(wanted),
        Op::Ew => have.ends_with(wanted),
        _ => op.accepts(have.cmp(wanted)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "id": "2819c223",
            "userName": "BJensen@example.com",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "title": "Tour Guide",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "groups": [{"value": "g1", "display": "Tour Guides"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984", "manager": {"value": "m1"}
            },
            "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z",
                     "lastModified": "2011-05-13T04:42:34Z"}
        })
    }

    fn matches(text: &str) -> bool {
        Filter::parse(Kind::User, text).unwrap().matches(&user())
    }

    #[test]
    fn rfc7644_examples_parse_and_match() {
        assert!(matches(r#"userName Eq "bjensen@example.com""#));
        assert!(matches(
            r#"name.familyName co "O'Malley" or name.familyName co "sen""#
        ));
        assert!(matches(r#"userName sw "J" or userName sw "b""#));
        assert!(matches(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj""#
        ));
        assert!(matches("title pr"));
        assert!(matches(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#));
        assert!(!matches(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#));
        assert!(matches(
            r#"meta.lastModified ge "2011-05-13T13:42:34+09:00""#
        ));
        assert!(matches(
            r#"meta.lastModified lt "2011-05-13T04:42:35.000Z""#
        ));
        assert!(matches(
            r#"title pr and (emails.type eq "work" or ims.type eq "xmpp")"#
        ));
        assert!(!matches(
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#
        ));
        assert!(matches(
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#
        ));
        assert!(!matches(
            r#"emails[type eq "home" and value co "@example.com"]"#
        ));
        assert!(matches(r#"not (userName eq "x") and active eq true"#));
        assert!(matches(r#"active eq "True""#));
        assert!(matches(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
        ));
        assert!(matches(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "M1""#
        ));
        assert!(matches(r#"groups eq "g1" and groups.display sw "tour""#));
        assert!(matches(r#"id eq "2819c223" and externalId eq null"#));
        assert!(!matches(r#"id eq "2819C223""#));
        assert!(matches(r#"nickName ne "Babs""#));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        // false and false or true = true; false and (false or true) = false.
        assert!(matches(
            r#"title eq "x" and title eq "y" or active eq true"#
        ));
        assert!(!matches(
            r#"title eq "x" and (title eq "y" or active eq true)"#
        ));
    }

    #[test]
    fn type_mismatches_are_invalid_filters() {
        for text in [
            "active gt true",
            "name eq \"x\"",
            "name gt \"x\"",
            "addresses lt \"x\"",
            "meta.created co \"2010\"",
            "meta.created gt \"yesterday\"",
            "userName eq 12",
            "userName gt null",
            "emails[type eq \"work\"][value pr]",
            "emails[type[value pr]]",
            "password eq \"x\"",
            "shoeSize eq 4",
            "department eq \"x\"",
        ] {
            let error = Filter::parse(Kind::User, text).unwrap_err();
            assert_eq!(error.scim_type(), Some("invalidFilter"), "{text}");
        }
    }

    #[test]
    fn syntax_errors_name_the_column() {
        let error = Filter::parse(Kind::User, "userName eq").unwrap_err();
        assert!(error.detail().contains("column 12"), "{error}");
        let error = Filter::parse(Kind::User, "userName equals \"x\"").unwrap_err();
        assert!(error.detail().contains("'equals'"), "{error}");
        assert!(error.detail().contains("column 10"), "{error}");
        for text in [
            "",
            "(",
            "userName eq \"x",
            "userName eq \"x\" and",
            "userName eq \"x\")",
            "not userName pr",
            "userName eq \"\\q\"",
            "userName eq \"x\" extra",
        ] {
            assert!(Filter::parse(Kind::User, text).is_err(), "{text}");
        }
    }

    #[test]
    fn untrusted_filters_are_bounded() {
        let deep = format!("{}userName pr{}", "(".repeat(33), ")".repeat(33));
        let error = Filter::parse(Kind::User, &deep).unwrap_err();
        assert!(error.detail().contains("deeper"), "{error}");
        let fine = format!("{}userName pr{}", "(".repeat(32), ")".repeat(32));
        assert!(Filter::parse(Kind::User, &fine).is_ok());
        let long = format!("userName eq \"{}\"", "x".repeat(5000));
        assert!(Filter::parse(Kind::User, &long).is_err());
    }

    #[test]
    fn printing_is_canonical_and_parses_back() {
        let text = r#"USERNAME eq "a\"b" and (Emails[TYPE eq "work" or not (value ew ".org")] or meta.lastModified gt "2011-05-13T04:42:34Z") or urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1""#;
        let filter = Filter::parse(Kind::User, text).unwrap();
        let printed = filter.to_string();
        assert_eq!(
            printed,
            r#"(userName eq "a\"b" and (emails[type eq "work" or not (value ew ".org")] or meta.lastModified gt "2011-05-13T04:42:34Z")) or urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1""#
        );
        assert_eq!(Filter::parse(Kind::User, &printed).unwrap(), filter);
    }

    #[test]
    fn eq_value_is_the_index_fast_path() {
        let filter = Filter::parse(Kind::User, r#"username eq "BJensen""#).unwrap();
        assert_eq!(filter.eq_value("userName"), Some("BJensen"));
        assert_eq!(
            filter.eq_value("urn:ietf:params:scim:schemas:core:2.0:User:userName"),
            Some("BJensen")
        );
        assert_eq!(filter.eq_value("externalId"), None);
        let filter = Filter::parse(Kind::User, r#"userName eq "a" and active eq true"#).unwrap();
        assert_eq!(filter.eq_value("userName"), None);
        let filter = Filter::parse(Kind::Group, r#"displayName eq "Sales""#).unwrap();
        assert_eq!(filter.eq_value("displayName"), Some("Sales"));
    }

    #[test]
    fn patch_paths_parse() {
        let PatchPath::Attribute { path, filter } =
            parse_patch_path(Kind::User, r#"emails[type eq "work"].value"#).unwrap()
        else {
            panic!("not an attribute")
        };
        assert_eq!(path.attribute.name, "emails");
        assert_eq!(path.sub.map(|s| s.name), Some("value"));
        let filter = filter.unwrap();
        assert!(matches_element(&filter, &json!({"type": "Work"})));
        assert_eq!(required_values(&filter).unwrap().len(), 1);
        assert!(matches!(
            parse_patch_path(
                Kind::User,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            ),
            Ok(PatchPath::Extension(_))
        ));
        assert!(matches!(
            parse_patch_path(Kind::User, r#"x509Certificates[value eq "x"]"#),
            Ok(PatchPath::Dropped)
        ));
        for bad in [
            "emails[type eq \"work\"",
            "emails[type eq \"work\"]value",
            "emails[type eq \"work\"].nope",
            "name[givenName pr]",
            "userName[value pr]",
            "nope",
            "",
        ] {
            let error = parse_patch_path(Kind::User, bad).unwrap_err();
            assert_eq!(error.scim_type(), Some("invalidPath"), "{bad}");
        }
    }
}
