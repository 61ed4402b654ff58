//! What a compiled detection item does at match time, and the per-event view it reads.

use std::net::IpAddr;

use memchr::memmem;

/// Index of a field name in the engine's field table.
pub(crate) type FieldId = u32;

/// No next entry / no entry.
pub(crate) const NONE: u32 = u32::MAX;

/// One value of one field of the event being evaluated. Texts live in the view's buffers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    /// The field's id, or [`NONE`] for a field no rule names (kept for keyword searches).
    pub field: FieldId,
    pub kind: EntryKind,
    /// The value as text (numbers in decimal), and the same lower-cased.
    pub raw: (u32, u32),
    pub lower: (u32, u32),
    /// The next value of the same field (a list), or [`NONE`].
    pub next: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum EntryKind {
    Str,
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

/// The event being evaluated, as the matchers see it.
pub(crate) struct View<'s> {
    pub raw: &'s str,
    pub lower: &'s str,
    pub entries: &'s [Entry],
    /// First entry of each field id, or [`NONE`].
    pub slots: &'s [u32],
    /// Every entry, for keyword searches.
    pub all: &'s [u32],
}

impl<'s> View<'s> {
    pub fn present(&self, field: FieldId) -> bool {
        self.slots
            .get(field as usize)
            .is_some_and(|&first| first != NONE)
    }

    pub fn values(&self, field: FieldId) -> impl Iterator<Item = &'s Entry> + use<'s> {
        let entries = self.entries;
        let mut at = self.slots.get(field as usize).copied().unwrap_or(NONE);
        std::iter::from_fn(move || {
            let entry = entries.get(at as usize)?;
            at = entry.next;
            Some(entry)
        })
    }

    pub fn raw(&self, entry: &Entry) -> &'s str {
        self.raw
            .get(entry.raw.0 as usize..entry.raw.1 as usize)
            .unwrap_or("")
    }

    pub fn lower(&self, entry: &Entry) -> &'s str {
        self.lower
            .get(entry.lower.0 as usize..entry.lower.1 as usize)
            .unwrap_or("")
    }
}

/// A string comparison; its text is lower-cased unless the matcher is cased.
#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    Equals(String),
    Prefix(String),
    Suffix(String),
    Contains(Box<memmem::Finder<'static>>),
    /// Inner wildcards or windash classes, as an anchored regular expression.
    Glob(regex::Regex),
}

impl Pattern {
    fn matches(&self, text: &str) -> bool {
        match self {
            Pattern::Equals(s) => text == s,
            Pattern::Prefix(s) => text.starts_with(s.as_str()),
            Pattern::Suffix(s) => text.ends_with(s.as_str()),
            Pattern::Contains(finder) => finder.find(text.as_bytes()).is_some(),
            Pattern::Glob(re) => re.is_match(text),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compare {
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DatePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// One way a single value can match.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Text {
        pattern: Pattern,
        cased: bool,
    },
    Regex(regex::Regex),
    /// A plain number in the rule: equal numbers, or a text that reads as the number.
    Int(i64),
    Float(f64),
    Bool(bool),
    /// `null`: the field is absent or null (handled by the item, which sees absence).
    Null,
    Compare(Compare, f64),
    Cidr {
        network: IpAddr,
        prefix: u8,
    },
    /// Equal to a value of another field.
    FieldRef {
        field: FieldId,
        cased: bool,
    },
    Date(DatePart, Box<Matcher>),
}

impl Matcher {
    /// Whether `entry` satisfies this matcher.
    pub fn matches(&self, view: &View<'_>, entry: &Entry) -> bool {
        match self {
            Matcher::Text { pattern, cased } => {
                entry.kind != EntryKind::Null
                    && pattern.matches(if *cased {
                        view.raw(entry)
                    } else {
                        view.lower(entry)
                    })
            }
            Matcher::Regex(re) => entry.kind != EntryKind::Null && re.is_match(view.raw(entry)),
            Matcher::Int(n) => match entry.kind {
                EntryKind::Int(m) => m == *n,
                EntryKind::Float(f) => f == *n as f64,
                EntryKind::Str => view.raw(entry).trim().parse::<i64>().ok() == Some(*n),
                EntryKind::Bool(_) | EntryKind::Null => false,
            },
            Matcher::Float(x) => number(view, entry) == Some(*x),
            Matcher::Bool(b) => match entry.kind {
                EntryKind::Bool(v) => v == *b,
                EntryKind::Str => view.lower(entry) == if *b { "true" } else { "false" },
                _ => false,
            },
            Matcher::Null => entry.kind == EntryKind::Null,
            Matcher::Compare(op, x) => number(view, entry).is_some_and(|v| match op {
                Compare::Lt => v < *x,
                Compare::Lte => v <= *x,
                Compare::Gt => v > *x,
                Compare::Gte => v >= *x,
            }),
            Matcher::Cidr { network, prefix } => view
                .raw(entry)
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|ip| in_network(ip, *network, *prefix)),
            Matcher::FieldRef { field, cased } => view.values(*field).any(|other| {
                if *cased {
                    view.raw(other) == view.raw(entry)
                } else {
                    view.lower(other) == view.lower(entry)
                }
            }),
            Matcher::Date(part, inner) => date_part(view.raw(entry), *part).is_some_and(|n| {
                let synthetic = Entry {
                    field: NONE,
                    kind: EntryKind::Int(n),
                    raw: (0, 0),
                    lower: (0, 0),
                    next: NONE,
                };
                inner.matches(view, &synthetic)
            }),
        }
    }
}

fn number(view: &View<'_>, entry: &Entry) -> Option<f64> {
    match entry.kind {
        EntryKind::Int(n) => Some(n as f64),
        EntryKind::Float(f) => Some(f),
        EntryKind::Str => {
            let text = view.raw(entry).trim();
            match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                Some(hex) => i64::from_str_radix(hex, 16).ok().map(|n| n as f64),
                None => text.parse::<f64>().ok(),
            }
        }
        EntryKind::Bool(_) | EntryKind::Null => None,
    }
}

pub(crate) fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// A part of a date written `YYYY-MM-DD[T ]hh:mm…` (what event logs and our events use).
fn date_part(text: &str, part: DatePart) -> Option<i64> {
    let text = text.trim();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> { text.get(range)?.parse().ok() };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    Some(match part {
        DatePart::Year => year,
        DatePart::Month => month,
        DatePart::Day => day,
        DatePart::Hour => digits(11..13)?,
        DatePart::Minute => digits(14..16)?,
        DatePart::Week => {
            let date = jiff::civil::Date::new(
                i16::try_from(year).ok()?,
                i8::try_from(month).ok()?,
                i8::try_from(day).ok()?,
            )
            .ok()?;
            i64::from(date.iso_week_date().week())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_masks_both_families() {
        let net = |s: &str| s.parse::<IpAddr>().unwrap_or(IpAddr::V4(0.into()));
        assert!(in_network(net("10.1.2.3"), net("10.0.0.0"), 8));
        assert!(!in_network(net("11.1.2.3"), net("10.0.0.0"), 8));
        assert!(in_network(net("1.2.3.4"), net("0.0.0.0"), 0));
        assert!(in_network(net("fe80::1"), net("fe80::"), 10));
        assert!(!in_network(net("fe80::1"), net("10.0.0.0"), 8));
    }

    #[test]
    fn date_parts() {
        let t = "2024-03-05T17:42:00Z";
        assert_eq!(date_part(t, DatePart::Hour), Some(17));
        assert_eq!(date_part(t, DatePart::Minute), Some(42));
        assert_eq!(date_part(t, DatePart::Week), Some(10));
        assert_eq!(date_part("garbage", DatePart::Year), None);
    }
}
