//! From a detection item (`Field|mod1|mod2: value(s)`) to matchers: Sigma strings with their
//! wildcards and escapes, and every value modifier of the specification (v2.1).

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use memchr::memmem;

use super::matcher::{Compare, DatePart, FieldId, Matcher, Pattern};
use super::yaml::{Node, Value};

/// A compiled detection item: a field (or, for keywords, every field) and its values.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// `None`: a keyword search over every value of the event.
    pub field: Option<FieldId>,
    /// One entry per rule value; each value may expand to alternatives (base64offset: three).
    pub values: Vec<Vec<Matcher>>,
    /// `|all`: every value must match (otherwise one).
    pub all: bool,
    /// `|neq`: the item holds when no value matches.
    pub negate: bool,
    /// `|exists: true/false`: only presence is tested.
    pub exists: Option<bool>,
    /// Literals at least one of which a matching value must contain (lower-cased), for the
    /// engine's prefilter; empty when the item cannot be prefiltered.
    pub needles: Vec<String>,
}

/// Shortest literal worth prefiltering on: shorter ones hit nearly every event anyway.
const MIN_NEEDLE: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Modifier {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Base64,
    Base64Offset,
    Utf16Le,
    Utf16Be,
    Utf16,
    Windash,
    Re,
    ReI,
    ReM,
    ReS,
    Cidr,
    Cmp(Compare),
    Exists,
    Cased,
    Neq,
    FieldRef,
    Expand,
    Date(DatePart),
}

fn modifier(name: &str) -> Result<Modifier, String> {
    Ok(match name {
        "contains" => Modifier::Contains,
        "startswith" => Modifier::StartsWith,
        "endswith" => Modifier::EndsWith,
        "all" => Modifier::All,
        "base64" => Modifier::Base64,
        "base64offset" => Modifier::Base64Offset,
        "utf16le" | "wide" => Modifier::Utf16Le,
        "utf16be" => Modifier::Utf16Be,
        "utf16" => Modifier::Utf16,
        "windash" => Modifier::Windash,
        "re" => Modifier::Re,
        "i" => Modifier::ReI,
        "m" => Modifier::ReM,
        "s" => Modifier::ReS,
        "cidr" => Modifier::Cidr,
        "lt" => Modifier::Cmp(Compare::Lt),
        "lte" => Modifier::Cmp(Compare::Lte),
        "gt" => Modifier::Cmp(Compare::Gt),
        "gte" => Modifier::Cmp(Compare::Gte),
        "exists" => Modifier::Exists,
        "cased" => Modifier::Cased,
        "neq" => Modifier::Neq,
        "fieldref" => Modifier::FieldRef,
        "expand" => Modifier::Expand,
        "minute" => Modifier::Date(DatePart::Minute),
        "hour" => Modifier::Date(DatePart::Hour),
        "day" => Modifier::Date(DatePart::Day),
        "week" => Modifier::Date(DatePart::Week),
        "month" => Modifier::Date(DatePart::Month),
        "year" => Modifier::Date(DatePart::Year),
        other => return Err(format!("unknown value modifier {other:?}")),
    })
}

/// A piece of a Sigma string.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    /// `*`
    Many,
    /// `?`
    One,
    /// A `windash` character: any of `-` `/` `–` `—` `―`.
    Dash,
}

const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Splits a rule string into text and wildcards: `\*`, `\?` and `\\` escape, any other
/// backslash is literal.
fn sigma_string(text: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&next @ ('*' | '?' | '\\')) => {
                    literal.push(next);
                    chars.next();
                }
                _ => literal.push('\\'),
            },
            '*' | '?' => {
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(if c == '*' { Part::Many } else { Part::One });
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    parts
}

/// A value while its transformation modifiers are applied.
#[derive(Debug, Clone)]
enum Working {
    Parts(Vec<Part>),
    Bytes(Vec<u8>),
}

impl Working {
    fn plain_bytes(&self, modifier: &str) -> Result<Vec<u8>, String> {
        match self {
            Working::Bytes(b) => Ok(b.clone()),
            Working::Parts(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Text(t) => out.push_str(t),
                        _ => {
                            return Err(format!(
                                "|{modifier} cannot encode a value with wildcards"
                            ));
                        }
                    }
                }
                Ok(out.into_bytes())
            }
        }
    }

    fn into_parts(self) -> Vec<Part> {
        match self {
            Working::Parts(p) => p,
            // Bytes never encoded to text (utf16 without base64) are matched as Latin-1 text.
            Working::Bytes(b) => vec![Part::Text(b.iter().map(|&b| char::from(b)).collect())],
        }
    }
}

fn utf16(text: &[u8], big_endian: bool, bom: bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(text);
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(&[0xFF, 0xFE]);
    }
    for unit in text.encode_utf16() {
        let bytes = if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        };
        out.extend_from_slice(&bytes);
    }
    out
}

/// The three base64 forms a value takes at byte offsets 0, 1 and 2 of an encoded text,
/// without the characters that depend on its neighbours (as pySigma does).
fn base64_offsets(value: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END_TRIM: [usize; 3] = [0, 3, 2];
    (0..3)
        .filter_map(|shift| {
            let mut shifted = vec![b' '; shift];
            shifted.extend_from_slice(value);
            let encoded = BASE64.encode(&shifted);
            let end = encoded
                .len()
                .checked_sub(END_TRIM[(value.len() + shift) % 3])?;
            encoded.get(START[shift]..end).map(str::to_string)
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Everything an item needs from the engine while compiling: field ids.
pub(crate) trait FieldTable {
    fn field_id(&mut self, name: &str) -> FieldId;
    /// The values of placeholder `name` (`%name%` in `|expand` values), if defined.
    fn placeholder(&self, _name: &str) -> Option<&[String]> {
        None
    }
}

/// Compiles `key: value` of a detection map (`key` is `Field|modifiers`, or `|modifiers` for
/// keywords). Errors name the reason; the caller adds the file and line.
pub(crate) fn compile_item(
    key: &str,
    value: &Node,
    fields: &mut dyn FieldTable,
) -> Result<Item, String> {
    let mut names = key.split('|');
    let field = names.next().unwrap_or_default();
    let mut modifiers = names.map(modifier).collect::<Result<Vec<_>, _>>()?;
    // A keyword is searched for anywhere in the event's values.
    let explicit = [
        Modifier::Contains,
        Modifier::StartsWith,
        Modifier::EndsWith,
        Modifier::Re,
    ];
    if field.is_empty() && !modifiers.iter().any(|m| explicit.contains(m)) {
        modifiers.push(Modifier::Contains);
    }
    let values: Vec<&Node> = match &value.value {
        Value::Seq(items) => items.iter().collect(),
        Value::Map(_) => return Err(format!("{key}: a value cannot be a map")),
        Value::Scalar { .. } => vec![value],
    };
    if values.is_empty() {
        return Err(format!("{key}: an empty list of values matches nothing"));
    }
    let has = |m: Modifier| modifiers.contains(&m);
    let field_id = (!field.is_empty()).then(|| fields.field_id(field));
    let mut item = Item {
        field: field_id,
        values: Vec::new(),
        all: has(Modifier::All),
        negate: has(Modifier::Neq),
        exists: None,
        needles: Vec::new(),
    };
    if item.all && values.len() == 1 {
        // Allowed by the rule schema's spirit only for lists; a single value is the same.
        item.all = false;
    }
    if has(Modifier::Exists) {
        if values.len() != 1 || field_id.is_none() {
            return Err(format!(
                "{key}: |exists takes a field and one true or false"
            ));
        }
        item.exists = Some(match values[0].as_str() {
            Some("true" | "True" | "yes") => true,
            Some("false" | "False" | "no") => false,
            _ => return Err(format!("{key}: |exists takes true or false")),
        });
        return Ok(item);
    }
    let mut needles: Vec<Option<Vec<String>>> = Vec::new();
    for node in values {
        let (alternatives, value_needles) = compile_value(key, node, &modifiers, fields)?;
        item.values.push(alternatives);
        needles.push(value_needles);
    }
    // A value without a usable literal means the item cannot be prefiltered; with `all`, any
    // one value's literals will do (the best one: longest shortest literal).
    item.needles = if item.negate {
        Vec::new()
    } else if item.all {
        needles
            .into_iter()
            .flatten()
            .max_by_key(|n| n.iter().map(String::len).min().unwrap_or(0))
            .unwrap_or_default()
    } else if needles.iter().all(Option::is_some) {
        needles.into_iter().flatten().flatten().collect()
    } else {
        Vec::new()
    };
    Ok(item)
}

/// One rule value: its alternatives, and the literals one of which a match must contain.
fn compile_value(
    key: &str,
    node: &Node,
    modifiers: &[Modifier],
    fields: &mut dyn FieldTable,
) -> Result<(Vec<Matcher>, Option<Vec<String>>), String> {
    let (text, quoted) = match &node.value {
        Value::Scalar { text, quoted } => (text.as_str(), *quoted),
        _ => {
            return Err(format!(
                "{key}: values must be strings, numbers, booleans or null"
            ));
        }
    };
    let has = |m: Modifier| modifiers.contains(&m);
    if node.is_null() {
        if modifiers
            .iter()
            .any(|m| !matches!(m, Modifier::All | Modifier::Neq))
        {
            return Err(format!("{key}: null cannot take value modifiers"));
        }
        return Ok((vec![Matcher::Null], None));
    }
    if has(Modifier::Re) {
        let mut flags = String::new();
        for (m, flag) in [
            (Modifier::ReI, 'i'),
            (Modifier::ReM, 'm'),
            (Modifier::ReS, 's'),
        ] {
            if has(m) {
                flags.push(flag);
            }
        }
        let source = if flags.is_empty() {
            text.to_string()
        } else {
            format!("(?{flags}){text}")
        };
        let re = regex::Regex::new(&source).map_err(|e| {
            format!(
                "{key}: invalid regular expression {text:?}: {}",
                first_line(&e.to_string())
            )
        })?;
        return Ok((vec![Matcher::Regex(re)], None));
    }
    if has(Modifier::Cidr) {
        let (address, prefix) = text.split_once('/').unwrap_or((text, ""));
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{key}: {text:?} is not an IP network"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = if prefix.is_empty() {
            max
        } else {
            prefix
                .parse()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{key}: {text:?} has an invalid prefix length"))?
        };
        return Ok((vec![Matcher::Cidr { network, prefix }], None));
    }
    if let Some(op) = modifiers.iter().find_map(|m| match m {
        Modifier::Cmp(op) => Some(*op),
        _ => None,
    }) {
        let n: f64 = text
            .parse()
            .map_err(|_| format!("{key}: {text:?} is not a number"))?;
        let matcher = Matcher::Compare(op, n);
        return Ok((vec![date_wrapped(modifiers, matcher)], None));
    }
    if has(Modifier::FieldRef) {
        let field = fields.field_id(text);
        return Ok((
            vec![Matcher::FieldRef {
                field,
                cased: has(Modifier::Cased),
            }],
            None,
        ));
    }
    let texts = if has(Modifier::Expand) {
        expand(text, fields).map_err(|reason| format!("{key}: {reason}"))?
    } else {
        vec![text.to_string()]
    };
    let stringy = modifiers.iter().any(|m| {
        !matches!(
            m,
            Modifier::All | Modifier::Neq | Modifier::Expand | Modifier::Date(_)
        )
    });
    if !quoted && !stringy {
        if let Ok(n) = text.parse::<i64>() {
            return Ok((vec![date_wrapped(modifiers, Matcher::Int(n))], None));
        }
        if matches!(text, "true" | "false") {
            return Ok((vec![Matcher::Bool(text == "true")], None));
        }
        if let Ok(x) = text.parse::<f64>()
            && text.contains('.')
        {
            return Ok((vec![date_wrapped(modifiers, Matcher::Float(x))], None));
        }
    }
    // A string value: transformations in order, then one text matcher per expansion.
    let mut working: Vec<Working> = texts
        .iter()
        .map(|t| Working::Parts(sigma_string(t)))
        .collect();
    for m in modifiers {
        working = match m {
            Modifier::Base64 => working
                .iter()
                .map(|w| {
                    Ok(Working::Parts(vec![Part::Text(
                        BASE64.encode(w.plain_bytes("base64")?),
                    )]))
                })
                .collect::<Result<_, String>>()?,
            Modifier::Base64Offset => {
                let mut out = Vec::new();
                for w in &working {
                    for variant in base64_offsets(&w.plain_bytes("base64offset")?) {
                        out.push(Working::Parts(vec![Part::Text(variant)]));
                    }
                }
                out
            }
            Modifier::Utf16Le | Modifier::Utf16Be | Modifier::Utf16 => working
                .iter()
                .map(|w| {
                    let bytes = w.plain_bytes("utf16")?;
                    Ok(Working::Bytes(utf16(
                        &bytes,
                        *m == Modifier::Utf16Be,
                        *m == Modifier::Utf16,
                    )))
                })
                .collect::<Result<_, String>>()?,
            Modifier::Windash => working
                .into_iter()
                .map(|w| Working::Parts(windash(w.into_parts())))
                .collect(),
            Modifier::Contains => wildcards_around(working, true, true),
            Modifier::StartsWith => wildcards_around(working, false, true),
            Modifier::EndsWith => wildcards_around(working, true, false),
            _ => working,
        };
    }
    let cased = has(Modifier::Cased);
    let mut matchers = Vec::new();
    let mut needles = Vec::new();
    for w in working {
        let parts = w.into_parts();
        match longest_literal(&parts) {
            Some(needle) if needle.len() >= MIN_NEEDLE => needles.push(needle),
            _ => needles.clear(),
        }
        let matcher = Matcher::Text {
            pattern: pattern(&parts, cased)?,
            cased,
        };
        matchers.push(date_wrapped(modifiers, matcher));
    }
    // Every alternative needs a literal for the value to be prefiltered.
    let complete = needles.len() == matchers.len();
    Ok((matchers, complete.then_some(needles)))
}

fn date_wrapped(modifiers: &[Modifier], matcher: Matcher) -> Matcher {
    match modifiers.iter().find_map(|m| match m {
        Modifier::Date(part) => Some(*part),
        _ => None,
    }) {
        Some(part) => Matcher::Date(part, Box::new(matcher)),
        None => matcher,
    }
}

fn first_line(text: &str) -> String {
    text.lines().last().unwrap_or(text).trim().to_string()
}

/// `contains` / `startswith` / `endswith`: a `*` before and/or after each value (once).
fn wildcards_around(working: Vec<Working>, before: bool, after: bool) -> Vec<Working> {
    working
        .into_iter()
        .map(|w| {
            let mut parts = w.into_parts();
            if before && parts.first() != Some(&Part::Many) {
                parts.insert(0, Part::Many);
            }
            if after && parts.last() != Some(&Part::Many) {
                parts.push(Part::Many);
            }
            Working::Parts(parts)
        })
        .collect()
}

/// Most alternatives one `|expand` value may expand to.
const MAX_EXPANSIONS: usize = 4096;

/// `text` with each `%name%` replaced by each of the placeholder's values (every
/// combination); `\%` is a plain `%`.
fn expand(text: &str, fields: &dyn FieldTable) -> Result<Vec<String>, String> {
    let mut out = vec![String::new()];
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("\\%") {
            out.iter_mut().for_each(|o| o.push('%'));
            rest = after;
        } else if let Some(after) = rest.strip_prefix('%') {
            let end = after
                .find('%')
                .ok_or_else(|| format!("{text:?}: a placeholder is not closed with %"))?;
            let name = &after[..end];
            let values = fields.placeholder(name).ok_or_else(|| {
                format!("placeholder %{name}% has no values (give them in a placeholder file)")
            })?;
            if out.len() * values.len() > MAX_EXPANSIONS {
                return Err(format!(
                    "{text:?} expands to more than {MAX_EXPANSIONS} values"
                ));
            }
            out = out
                .iter()
                .flat_map(|o| values.iter().map(move |v| format!("{o}{v}")))
                .collect();
            rest = &after[end + 1..];
        } else {
            // Up to the next `%` or backslash, at least one character.
            let first = rest.chars().next().map_or(1, char::len_utf8);
            let next = rest[first..]
                .find(['%', '\\'])
                .map_or(rest.len(), |i| i + first);
            let (literal, after) = rest.split_at(next);
            out.iter_mut().for_each(|o| o.push_str(literal));
            rest = after;
        }
    }
    Ok(out)
}

/// Replaces every dash-like character of the text parts with a [`Part::Dash`].
fn windash(parts: Vec<Part>) -> Vec<Part> {
    let mut out = Vec::new();
    for part in parts {
        let Part::Text(text) = part else {
            out.push(part);
            continue;
        };
        let mut literal = String::new();
        for c in text.chars() {
            if DASHES.contains(&c) {
                if !literal.is_empty() {
                    out.push(Part::Text(std::mem::take(&mut literal)));
                }
                out.push(Part::Dash);
            } else {
                literal.push(c);
            }
        }
        if !literal.is_empty() {
            out.push(Part::Text(literal));
        }
    }
    out
}

/// The longest text part, lower-cased: a value matching the parts contains it.
fn longest_literal(parts: &[Part]) -> Option<String> {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(t),
            _ => None,
        })
        .max_by_key(|t| t.len())
        .map(|t| t.to_lowercase())
}

fn pattern(parts: &[Part], cased: bool) -> Result<Pattern, String> {
    if parts.is_empty() {
        // `''`: the empty text, not anything.
        return Ok(Pattern::Equals(String::new()));
    }
    let fold = |t: &str| {
        if cased {
            t.to_string()
        } else {
            t.to_lowercase()
        }
    };
    let inner = match parts {
        [Part::Many, rest @ ..] => rest,
        _ => parts,
    };
    let inner = match inner {
        [rest @ .., Part::Many] => rest,
        _ => inner,
    };
    let leading = parts.first() == Some(&Part::Many);
    let trailing = parts.len() > 1 && parts.last() == Some(&Part::Many);
    match inner {
        [] => return Ok(Pattern::Prefix(String::new())),
        [Part::Text(t)] => {
            let t = fold(t);
            return Ok(match (leading, trailing) {
                (false, false) => Pattern::Equals(t),
                (false, true) => Pattern::Prefix(t),
                (true, false) => Pattern::Suffix(t),
                (true, true) => {
                    Pattern::Contains(Box::new(memmem::Finder::new(t.as_bytes()).into_owned()))
                }
            });
        }
        _ => {}
    }
    let mut source = String::from("(?s)^");
    for part in parts {
        match part {
            Part::Text(t) => source.push_str(&regex::escape(&fold(t))),
            Part::Many => source.push_str(".*"),
            Part::One => source.push('.'),
            Part::Dash => source.push_str("[-/\u{2013}\u{2014}\u{2015}]"),
        }
    }
    source.push('$');
    regex::Regex::new(&source)
        .map(Pattern::Glob)
        .map_err(|e| format!("pattern too large: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn escapes_follow_the_specification() {
        assert_eq!(
            sigma_string(r"\cmd.exe"),
            vec![Part::Text(r"\cmd.exe".into())]
        );
        assert_eq!(sigma_string(r"a\*b"), vec![Part::Text("a*b".into())]);
        assert_eq!(
            sigma_string(r"a\\*"),
            vec![Part::Text(r"a\".into()), Part::Many]
        );
        assert_eq!(sigma_string(r"\\\*"), vec![Part::Text(r"\*".into())]);
        assert_eq!(sigma_string(r"\\\\"), vec![Part::Text(r"\\".into())]);
        assert_eq!(
            sigma_string("prog?.exe"),
            vec![
                Part::Text("prog".into()),
                Part::One,
                Part::Text(".exe".into())
            ]
        );
    }

    #[test]
    fn base64_offsets_match_pysigma() {
        // pySigma's documented example: 'http://' at the three offsets.
        assert_eq!(
            base64_offsets(b"http://"),
            vec!["aHR0cDovL", "h0dHA6Ly", "odHRwOi8v"]
        );
    }

    struct Table;
    impl FieldTable for Table {
        fn field_id(&mut self, _: &str) -> FieldId {
            0
        }
        fn placeholder(&self, name: &str) -> Option<&[String]> {
            static ADMINS: std::sync::LazyLock<Vec<String>> =
                std::sync::LazyLock::new(|| vec!["adm1".into(), "adm2".into()]);
            (name == "Administrators").then(|| ADMINS.as_slice())
        }
    }

    #[test]
    fn placeholders_expand_to_every_value() {
        assert_eq!(
            expand("x-%Administrators%", &Table).unwrap(),
            vec!["x-adm1", "x-adm2"]
        );
        assert_eq!(
            expand(r"50\% %Administrators%", &Table).unwrap(),
            vec!["50% adm1", "50% adm2"]
        );
        assert_eq!(expand(r"C:\x", &Table).unwrap(), vec![r"C:\x"]);
        assert!(
            expand("%Servers%", &Table)
                .unwrap_err()
                .contains("%Servers% has no values")
        );
        assert!(expand("%open", &Table).unwrap_err().contains("not closed"));
    }

    #[test]
    fn utf16_encodings() {
        assert_eq!(utf16(b"cmd", false, false), b"c\0m\0d\0");
        assert_eq!(utf16(b"cmd", true, false), b"\0c\0m\0d");
        assert_eq!(utf16(b"cmd", false, true), b"\xFF\xFEc\0m\0d\0");
    }
}
