//! Numeric entities: My Number, corporate numbers, cards, phones, postal codes, bank accounts,
//! passports.
//!
//! The scan finds each *token*: digit groups joined by single separators (`-`, a space, or the
//! parentheses of `(03)1234-5678`). Every span of whole groups whose edges are token edges or
//! spaces is matched against each kind's shape (lengths and grouping), then its check digit.
//! Only spans that pass look at their context. A span never starts or ends inside a digit run,
//! and never next to a letter, `_`, a decimal point or a hyphenated neighbour (`INV-…`), so
//! numbers inside longer numbers, identifiers, hashes and decimals are not findings. Amounts are
//! excluded by their currency sign or unit (`¥`, `円`, `万`…).
//!
//! # Confidence (defaults; 0.5 is the reporting threshold)
//!
//! | kind | no context | context in the window / column header | document context only |
//! |---|---|---|---|
//! | My Number | 0.45 (4-4-4: 0.6; personal data nearby: +0.15) | 0.95 / 0.97 | 0.8 |
//! | corporate number | 0.4 (1-4-4-4: 0.5; `T` prefix: 0.85; JAN-like: 0.25) | 0.95 / 0.97 | 0.75 |
//! | card | 0.85 grouped, 0.75 16/15/14 digits, 0.6 19, 0.35 13 | 0.97 | +0.1 |
//! | phone | 0.85 formatted, 0.9 `+81`, 0.55 mobile digits only, 0.4 digits only | 0.95 | — |
//! | postal code | 0.3 (〒: 0.97; prefecture after it: 0.9; prefecture nearby: 0.85) | 0.9 | — |
//! | bank account | 0.2 | 0.85 (branch-account: 0.9) | — |
//! | passport | 0.25 | 0.92 | — |
//!
//! A label of *another* number right before it (`注文番号：`) or another identifier's column
//! header caps the number at 0.1–0.3 (an unknown `…番号`/`…コード`/`…ID` label counts as
//! another number's); words of other numbers on the same line lower it by 0.2;
//! another long number (8+ digits) within 48 characters on the same line or alone on its own
//! (a list), without any word saying what they are, lowers it by 0.3 (constants in code,
//! statements: check digits pass by chance).

use std::ops::Range;

use super::context::{Around, Context, Cue, CueSet, IDENTIFIERS, TableCache};
use super::{Candidate, FindingKind};

/// Most digit groups in one token (a row of space-separated numbers is cut into tokens).
const MAX_GROUPS: usize = 24;
/// Longest span looked at: 19 digits of a card, `81` + 10 of an international phone.
const MAX_SPAN_DIGITS: usize = 19;

/// What joins two digit groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    Hyphen,
    Space,
    /// `(` between groups: `03(1234)5678`.
    Open,
    /// `)`: `(03)1234-5678`, `03(1234)5678`.
    Close,
    /// `) `: `(03) 1234-5678`.
    CloseSpace,
    /// `)-`.
    CloseHyphen,
    /// ` (`: `+81 (0)3-…`.
    SpaceOpen,
}

impl Sep {
    fn is_plain(self) -> bool {
        matches!(self, Sep::Hyphen | Sep::Space)
    }
}

/// What sits right before a token's first digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Left {
    /// Start of text, a space, punctuation, Japanese.
    Free,
    /// `(`: the first group may be a parenthesised area code.
    Paren,
    /// `+`: an international phone number.
    Plus,
    /// A standalone `T`: the invoice registration number.
    T,
    /// Two standalone capital letters: a passport number.
    Letters,
    /// A letter, digit-led decimal point, currency sign…: the token's first group is not a
    /// number of its own.
    Blocked,
}

/// One token: digit groups and what joins them.
#[derive(Debug, Default)]
struct Token {
    /// Byte ranges of the digit groups.
    groups: Vec<(usize, usize)>,
    seps: Vec<Sep>,
}

impl Token {
    /// Parses the token whose first digit is at `p`; returns the end of its last group.
    fn parse(&mut self, b: &[u8], p: usize) -> usize {
        self.groups.clear();
        self.seps.clear();
        let mut j = p;
        loop {
            let gs = j;
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            self.groups.push((gs, j));
            if self.groups.len() >= MAX_GROUPS {
                break;
            }
            let (sep, k) = match (b.get(j), b.get(j + 1)) {
                (Some(b'-'), _) => (Sep::Hyphen, j + 1),
                (Some(b' '), Some(b'(')) => (Sep::SpaceOpen, j + 2),
                (Some(b' '), _) => (Sep::Space, j + 1),
                (Some(b'('), _) => (Sep::Open, j + 1),
                (Some(b')'), Some(b' ')) => (Sep::CloseSpace, j + 2),
                (Some(b')'), Some(b'-')) => (Sep::CloseHyphen, j + 2),
                (Some(b')'), _) => (Sep::Close, j + 1),
                _ => break,
            };
            if !b.get(k).is_some_and(u8::is_ascii_digit) {
                break;
            }
            self.seps.push(sep);
            j = k;
        }
        j
    }

    fn digits(&self) -> usize {
        self.groups.iter().map(|(s, e)| e - s).sum()
    }
}

/// The next ASCII digit at or after `from`, 32 bytes at a time (most text has few digits).
fn find_digit(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 32) {
        if chunk
            .iter()
            .fold(0u8, |acc, &x| acc | u8::from(x.wrapping_sub(b'0') < 10))
            != 0
        {
            break;
        }
        i += 32;
    }
    b.get(i..)?
        .iter()
        .position(u8::is_ascii_digit)
        .map(|p| i + p)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Classifies what precedes the token starting at `p`.
fn left_of(t: &str, p: usize) -> Left {
    let b = t.as_bytes();
    let Some(&c) = p.checked_sub(1).and_then(|i| b.get(i)) else {
        return Left::Free;
    };
    let before = |k: usize| p.checked_sub(k).and_then(|i| b.get(i)).copied();
    if is_word_byte(c) {
        let standalone = |k: usize| !before(k).is_some_and(is_word_byte);
        if c == b'T' && standalone(2) {
            return Left::T;
        }
        if c.is_ascii_uppercase()
            && before(2).is_some_and(|x| x.is_ascii_uppercase())
            && standalone(3)
        {
            return Left::Letters;
        }
        return Left::Blocked;
    }
    match c {
        b'+' => Left::Plus,
        b'(' => Left::Paren,
        // A decimal or a date/ratio: `3.14159…`, `2024/…`; an identifier: `INV-…`, `v1.…`.
        b'.' | b'/' => {
            if before(2).is_some_and(|x| x.is_ascii_digit())
                || (c == b'/' && before(2).is_some_and(is_word_byte))
            {
                Left::Blocked
            } else {
                Left::Free
            }
        }
        // `T-1234567890123`: an invoice registration number written with a hyphen.
        b'-' if before(2) == Some(b'T') && !before(3).is_some_and(is_word_byte) => Left::T,
        b'-' if before(2).is_some_and(is_word_byte) => Left::Blocked,
        b'@' | b'$' => Left::Blocked,
        _ => {
            let prev = t.get(..p).and_then(|s| s.chars().next_back());
            if matches!(prev, Some('¥' | '€' | '£' | '₩')) {
                Left::Blocked
            } else {
                Left::Free
            }
        }
    }
}

/// Whether the token may end at `e` (false when a letter, a decimal part, an identifier
/// continuation or a unit follows).
fn right_ok(t: &str, e: usize) -> bool {
    let b = t.as_bytes();
    let Some(&c) = b.get(e) else { return true };
    let next = b.get(e + 1).copied();
    if is_word_byte(c) || c == b'@' {
        return false;
    }
    // A decimal part (a comma is a CSV delimiter as often as a thousands separator, and
    // thousands groups are too short to be anything here).
    if c == b'.' && next.is_some_and(|x| x.is_ascii_digit()) {
        return false;
    }
    if matches!(c, b'-' | b'/') && next.is_some_and(is_word_byte) {
        return false;
    }
    if c == b'%' {
        return false;
    }
    // A unit or counter after the number (optionally after one space): an amount or count.
    let rest = t.get(e..).unwrap_or_default();
    !unit_follows(rest.strip_prefix(' ').unwrap_or(rest))
}

/// The shape of a postal code written as seven digits without 〒.
const SEVEN_DIGITS: &str = "7 digits";

/// Whether `rest` starts with a unit or counter (`円`, `件`, `千円`, `名`): the number before
/// it is an amount or a count. Not when the character begins a word instead, as in the place
/// and company names that follow a postal code or phone number: `千葉県`, `名古屋市`,
/// `台東区`, `本社`, `株式会社`.
fn unit_follows(rest: &str) -> bool {
    const UNITS: &[char] = &[
        '円', '万', '億', '千', '兆', '件', '個', '人', '回', '年', '歳', '才', '枚', '台', '本',
        '冊', '点', '株', '名', '倍', '％', '号', '番', '行', '頁', '字', '秒',
    ];
    if rest.starts_with("ドル") || rest.starts_with("ポイント") {
        return true;
    }
    let mut chars = rest.chars();
    let Some(unit) = chars.next().filter(|c| UNITS.contains(c)) else {
        return false;
    };
    match chars.next() {
        // Amounts in larger units: 千円, 百万円, 万ドル.
        Some('円' | '万' | '億' | 'ド') if matches!(unit, '千' | '万' | '億' | '兆') => {
            true
        }
        // A unit is a word of its own: 件の, 円）, 名。 A kanji after it makes a longer word.
        Some(next) => !is_ideograph(next),
        None => true,
    }
}

/// CJK unified ideographs (and extension A): the characters of Japanese words in kanji.
fn is_ideograph(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}')
}

/// A span that has the shape and check digit of a kind; its confidence comes from context.
#[derive(Debug)]
struct Structural {
    first: usize,
    last: usize,
    kind: FindingKind,
    value: String,
    detail: Option<&'static str>,
    /// Describes the shape for the reason, e.g. "12 digits (4-4-4), check digit valid".
    shape: String,
    /// Confidence without context.
    base: f32,
    /// Whether the shape alone is specific (formatted phones, grouped cards): another
    /// identifier's label lowers it less.
    specific: bool,
}

/// Finds the numeric entities whose digits start in `range` of the normalised text `t` (the
/// whole text is context). `table` carries the table being read from one range to the next.
pub(super) fn scan(
    t: &str,
    range: Range<usize>,
    ctx: &Context,
    doc: CueSet,
    table: &mut TableCache,
    out: &mut Vec<Candidate>,
) {
    let b = t.as_bytes();
    let mut tok = Token::default();
    let mut found: Vec<Structural> = Vec::new();
    let mut i = range.start;
    while let Some(p) = find_digit(b, i) {
        if p >= range.end {
            break;
        }
        let end = tok.parse(b, p);
        i = end.max(p + 1);
        if tok.digits() < 7 {
            continue;
        }
        found.clear();
        structural(t, &tok, &mut found);
        if found.is_empty() {
            continue;
        }
        let mut scored: Vec<(Candidate, usize, usize)> = found
            .drain(..)
            .filter_map(|s| {
                let start = tok.groups.get(s.first)?.0;
                let end = tok.groups.get(s.last)?.1;
                // The span of a finding includes the T or the passport letters.
                let start = match s.kind {
                    FindingKind::Passport => start.saturating_sub(2),
                    FindingKind::CorporateNumber
                        if s.first == 0 && matches!(left_of(t, start), Left::T) =>
                    {
                        // `T` or `T-`.
                        let t_len = if t.get(..start).is_some_and(|p| p.ends_with('-')) {
                            2
                        } else {
                            1
                        };
                        start.saturating_sub(t_len)
                    }
                    FindingKind::PhoneJp
                        if s.first == 0 && matches!(left_of(t, start), Left::Plus) =>
                    {
                        start.saturating_sub(1)
                    }
                    FindingKind::PostalCodeJp
                        if t.get(..start).is_some_and(|p| p.ends_with('〒')) =>
                    {
                        start.saturating_sub('〒'.len_utf8())
                    }
                    // `(03)1234-5678`: the opening parenthesis is part of it.
                    FindingKind::PhoneJp
                        if s.first == 0
                            && matches!(left_of(t, start), Left::Paren)
                            && matches!(
                                tok.seps.first(),
                                Some(Sep::Close | Sep::CloseSpace | Sep::CloseHyphen)
                            ) =>
                    {
                        start.saturating_sub(1)
                    }
                    _ => start,
                };
                let around = ctx.around(t, start..end, doc, table);
                let (confidence, context) = score(&s, &around);
                let reason = if context.is_empty() {
                    s.shape.clone()
                } else {
                    format!("{}, {context}", s.shape)
                };
                Some((
                    Candidate {
                        kind: s.kind,
                        start,
                        end,
                        confidence,
                        reason,
                        value: s.value,
                        detail: s.detail.map(str::to_owned),
                    },
                    s.first,
                    s.last,
                ))
            })
            .collect();
        // Best first; then keep spans that do not share a group with a kept one.
        scored.sort_by(|a, b| {
            b.0.confidence
                .total_cmp(&a.0.confidence)
                .then((b.2 - b.1).cmp(&(a.2 - a.1)))
        });
        let mut taken: Vec<(usize, usize)> = Vec::new();
        for (c, first, last) in scored {
            if taken.iter().all(|&(f, l)| last < f || first > l) {
                taken.push((first, last));
                out.push(c);
            }
        }
    }
}

/// Every span of `tok` with a kind's shape and check digit.
fn structural(t: &str, tok: &Token, found: &mut Vec<Structural>) {
    let n = tok.groups.len();
    let Some(&(token_start, _)) = tok.groups.first() else {
        return;
    };
    let Some(&(_, token_end)) = tok.groups.last() else {
        return;
    };
    let left = left_of(t, token_start);
    let right = right_ok(t, token_end);
    let mut digits: Vec<u8> = Vec::with_capacity(24);
    let mut lens: Vec<usize> = Vec::with_capacity(8);
    for first in 0..n {
        let edge = if first == 0 {
            left
        } else {
            match tok.seps.get(first - 1) {
                Some(Sep::Space) => Left::Free,
                Some(Sep::SpaceOpen) => Left::Paren,
                _ => continue,
            }
        };
        if edge == Left::Blocked {
            continue;
        }
        digits.clear();
        lens.clear();
        for last in first..n {
            let Some(&(gs, ge)) = tok.groups.get(last) else {
                break;
            };
            digits.extend(
                t.as_bytes()
                    .get(gs..ge)
                    .unwrap_or_default()
                    .iter()
                    .map(|d| d - b'0'),
            );
            lens.push(ge - gs);
            if digits.len() > MAX_SPAN_DIGITS + 2 {
                break;
            }
            let right_edge = if last + 1 == n {
                right
            } else {
                tok.seps.get(last) == Some(&Sep::Space)
            };
            if !right_edge || digits.len() < 7 {
                continue;
            }
            let seps = tok.seps.get(first..last).unwrap_or_default();
            // A grouped span continued by another group in the same style is part of a longer
            // grouped number (`1234 5678 9018 1234` holds no 4-4-4 My Number).
            if let Some(inner) = seps.first()
                && (first > 0 && tok.seps.get(first - 1) == Some(inner)
                    || tok.seps.get(last) == Some(inner))
            {
                continue;
            }
            let span = Span {
                t,
                start: gs_of(tok, first),
                digits: &digits,
                lens: &lens,
                seps,
                left: edge,
                whole: first == 0 && last + 1 == n,
            };
            span.match_all(first, last, found);
        }
    }
}

fn gs_of(tok: &Token, i: usize) -> usize {
    tok.groups.get(i).map_or(0, |g| g.0)
}

/// A span of digit groups being matched.
struct Span<'a> {
    t: &'a str,
    /// Byte offset of its first digit.
    start: usize,
    digits: &'a [u8],
    lens: &'a [usize],
    seps: &'a [Sep],
    left: Left,
    /// Whether the span is the whole token.
    whole: bool,
}

impl Span<'_> {
    fn value(&self) -> String {
        self.digits.iter().map(|d| char::from(b'0' + d)).collect()
    }

    fn plain(&self) -> bool {
        self.seps.iter().all(|s| s.is_plain())
    }

    /// All separators the same plain one (`1234-5678-9012`, not `1234-5678 9012`).
    fn uniform(&self) -> bool {
        self.plain() && self.seps.windows(2).all(|w| w.first() == w.get(1))
    }

    fn lens_are(&self, want: &[usize]) -> bool {
        self.lens == want
    }

    fn grouping(&self) -> String {
        self.lens
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join("-")
    }

    fn match_all(&self, first: usize, last: usize, found: &mut Vec<Structural>) {
        let mut push = |kind, value, detail, shape: String, base, specific| {
            found.push(Structural {
                first,
                last,
                kind,
                value,
                detail,
                shape,
                base,
                specific,
            })
        };
        let n = self.digits.len();
        let contiguous = self.lens.len() == 1;
        match self.left {
            Left::Letters => {
                if contiguous && n == 7 {
                    let letters = self.t.get(self.start - 2..self.start).unwrap_or_default();
                    push(
                        FindingKind::Passport,
                        format!("{letters}{}", self.value()),
                        None,
                        "2 letters + 7 digits (Japanese passport format)".to_owned(),
                        0.25,
                        false,
                    );
                }
                return;
            }
            Left::T => {
                // `T1234567890123`, `T1-2345-6789-0123`, `T-1234567890123`.
                if n == 13
                    && (contiguous || (self.lens_are(&[1, 4, 4, 4]) && self.uniform()))
                    && corporate_valid(self.digits)
                    && !degenerate(self.digits)
                {
                    push(
                        FindingKind::CorporateNumber,
                        self.value(),
                        None,
                        format!(
                            "T + 13 digits{} (invoice registration number), check digit valid",
                            if contiguous { "" } else { " (1-4-4-4)" }
                        ),
                        0.85,
                        true,
                    );
                }
                return;
            }
            Left::Plus => {
                self.match_international_phone(&mut push);
                return;
            }
            Left::Blocked => return,
            Left::Free | Left::Paren => {}
        }
        let paren = !self.plain();
        if !paren && !degenerate(self.digits) {
            // My Number: 12 digits, 4-4-4 with one separator, or the twelve spaced digits of a
            // form's boxes (only as a whole token: a longer row of single digits is not one).
            // Not binary digits (`0 1 1 0 …` is a bit pattern).
            let boxes = self.whole
                && self.lens.len() == 12
                && self.lens.iter().all(|l| *l == 1)
                && self.uniform()
                && self.digits.iter().any(|d| *d > 1);
            if n == 12
                && (contiguous || (self.lens_are(&[4, 4, 4]) && self.uniform()) || boxes)
                && my_number_valid(self.digits)
            {
                let grouped = !contiguous;
                push(
                    FindingKind::MyNumber,
                    self.value(),
                    None,
                    format!(
                        "12 digits{}, check digit valid",
                        if boxes {
                            " (spaced)"
                        } else if grouped {
                            " (4-4-4)"
                        } else {
                            ""
                        }
                    ),
                    if grouped && !boxes { 0.6 } else { 0.45 },
                    false,
                );
            }
            // Corporate number: 13 digits, or 1-4-4-4.
            if n == 13
                && (contiguous || (self.lens_are(&[1, 4, 4, 4]) && self.uniform()))
                && corporate_valid(self.digits)
            {
                let jan = ean13_valid(self.digits) && matches!(self.digits, [4, 5 | 9, ..]);
                let base = if jan {
                    0.25
                } else if contiguous {
                    0.4
                } else {
                    0.5
                };
                push(
                    FindingKind::CorporateNumber,
                    self.value(),
                    None,
                    format!(
                        "13 digits{}, check digit valid{}",
                        if contiguous { "" } else { " (1-4-4-4)" },
                        if jan { ", also a valid JAN code" } else { "" }
                    ),
                    base,
                    false,
                );
            }
            // Cards.
            if (13..=19).contains(&n)
                && let Some(issuer) = issuer(self.digits)
                && luhn_valid(self.digits)
                // Seven zeros in a row: a round constant (`3906250000000000`), not an account.
                && !self.digits.windows(7).any(|w| w.iter().all(|d| *d == 0))
                && self.uniform()
            {
                let standard = self.lens_are(&[4, 6, 5]) && issuer == "amex"
                    || self.lens_are(&[4, 6, 4]) && issuer == "diners"
                    || (self.lens.len() >= 3
                        && self.lens.split_last().is_some_and(|(l, rest)| {
                            (1..=4).contains(l) && rest.iter().all(|x| *x == 4)
                        }));
                if contiguous || standard {
                    let base = if !contiguous {
                        0.85
                    } else {
                        match n {
                            14..=16 => 0.75,
                            19 => 0.6,
                            13 => 0.35,
                            _ => 0.5,
                        }
                    };
                    push(
                        FindingKind::CreditCard,
                        self.value(),
                        Some(issuer),
                        format!(
                            "{issuer}, {n} digits{}, Luhn valid",
                            if contiguous {
                                String::new()
                            } else {
                                format!(" ({})", self.grouping())
                            }
                        ),
                        base,
                        !contiguous,
                    );
                }
            }
        }
        // Postal code: 123-4567, or 〒1234567.
        let mark = self
            .t
            .get(..self.start)
            .is_some_and(|s| s.trim_end_matches(' ').ends_with('〒'));
        if !paren
            && ((self.lens_are(&[3, 4]) && self.seps == [Sep::Hyphen])
                || (contiguous && n == 7)
                || (mark && self.lens_are(&[3, 4])))
        {
            let after = self
                .t
                .get(self.start + n + self.seps.len()..)
                .unwrap_or_default();
            let prefecture = starts_with_prefecture(after.trim_start_matches([' ', '\u{3000}']));
            // Seven digits without the hyphen need 〒 or a 郵便番号 label or column (the
            // context raises them): alone they are as likely an account or an ID.
            let (base, shape) = if mark {
                (0.97, "〒 + 7 digits")
            } else if prefecture && !contiguous {
                (0.9, "3-4 digits followed by a prefecture")
            } else if contiguous {
                (0.2, SEVEN_DIGITS)
            } else {
                (0.3, "3-4 digits")
            };
            push(
                FindingKind::PostalCodeJp,
                self.value(),
                None,
                shape.to_owned(),
                base,
                mark || prefecture,
            );
        }
        // Bank account: 7 digits, branch-account 3-7, bank-branch-account 4-3-7.
        if !paren
            && (contiguous && n == 7
                || (self.lens_are(&[3, 7]) || self.lens_are(&[4, 3, 7])) && self.uniform())
        {
            push(
                FindingKind::BankAccount,
                self.value(),
                None,
                if contiguous {
                    "7 digits".to_owned()
                } else {
                    format!("{} digits (branch and account)", self.grouping())
                },
                0.2,
                false,
            );
        }
        self.match_domestic_phone(paren, &mut push);
    }

    fn match_domestic_phone(
        &self,
        paren: bool,
        push: &mut impl FnMut(FindingKind, String, Option<&'static str>, String, f32, bool),
    ) {
        if self.digits.first() != Some(&0) {
            return;
        }
        // Parentheses only around the area code, `(03)1234-5678`, or the exchange,
        // `03(1234)5678`.
        if paren {
            let ok = match (self.left, self.seps) {
                (Left::Paren, [Sep::Close | Sep::CloseSpace | Sep::CloseHyphen, rest @ ..]) => {
                    rest.iter().all(|s| s.is_plain())
                }
                (Left::Free, [Sep::Open, Sep::Close]) => true,
                _ => false,
            };
            if !ok {
                return;
            }
        }
        let Some((detail, ok_shape)) = phone_kind(self.digits, self.lens) else {
            return;
        };
        if !ok_shape {
            return;
        }
        let contiguous = self.lens.len() == 1;
        let base = match (contiguous, detail) {
            (false, _) => 0.85,
            (true, "mobile") => 0.55,
            (true, _) => 0.4,
        };
        push(
            FindingKind::PhoneJp,
            self.value(),
            Some(detail),
            format!(
                "{detail} number{}",
                if contiguous {
                    ", digits only".to_owned()
                } else {
                    format!(" ({})", self.grouping())
                }
            ),
            base,
            !contiguous,
        );
    }

    /// `+81 3-1234-5678`, `+81-90-1234-5678`, `+81 (0)3 1234 5678`, `+819012345678`.
    fn match_international_phone(
        &self,
        push: &mut impl FnMut(FindingKind, String, Option<&'static str>, String, f32, bool),
    ) {
        let Some((&first_len, rest)) = self.lens.split_first() else {
            return;
        };
        if self.digits.get(..2) != Some(&[8, 1]) {
            return;
        }
        if !self.seps.iter().all(|s| {
            s.is_plain()
                || matches!(
                    s,
                    Sep::SpaceOpen | Sep::Close | Sep::CloseSpace | Sep::CloseHyphen
                )
        }) {
            return;
        }
        // The national number: a trunk 0, then what follows the country code.
        let mut national = vec![0u8];
        let mut lens = Vec::new();
        if first_len > 2 {
            // `81` glued to the area code or the whole number.
            national.extend(self.digits.get(2..first_len).unwrap_or_default());
            lens.push(first_len - 1);
        }
        let mut offset = first_len;
        for (i, &l) in rest.iter().enumerate() {
            let g = self.digits.get(offset..offset + l).unwrap_or_default();
            offset += l;
            // `(0)`: the trunk prefix some write after the country code.
            if i == 0 && first_len == 2 && g == [0] {
                continue;
            }
            lens.push(if lens.is_empty() { l + 1 } else { l });
            national.extend(g);
        }
        let Some((detail, _)) = phone_kind(&national, &lens) else {
            return;
        };
        let value: String = national.iter().map(|d| char::from(b'0' + d)).collect();
        push(
            FindingKind::PhoneJp,
            value,
            Some(detail),
            format!("{detail} number, +81 form"),
            0.9,
            true,
        );
    }
}

/// A Japanese phone number's type and whether its grouping is a valid one, from its national
/// digits (leading 0) and group lengths. `None`: not a phone number.
fn phone_kind(d: &[u8], lens: &[usize]) -> Option<(&'static str, bool)> {
    let n = d.len();
    let contiguous = lens.len() == 1;
    let shape = |allowed: &[&[usize]]| contiguous || allowed.contains(&lens);
    match d {
        [0, 1, 2, 0, ..] if n == 10 => {
            Some(("free dial", shape(&[&[4, 3, 3], &[4, 2, 4], &[4, 6]])))
        }
        [0, 8, 0, 0, ..] if n == 11 => Some(("free dial", shape(&[&[4, 3, 4]]))),
        [0, 5, 7, 0, ..] if n == 10 => Some(("navi dial", shape(&[&[4, 3, 3], &[4, 2, 4]]))),
        [0, 5, 0, ..] if n == 11 => Some(("ip phone", shape(&[&[3, 4, 4]]))),
        [0, 7..=9, 0, ..] if n == 11 => Some(("mobile", shape(&[&[3, 4, 4]]))),
        [0, 0, ..] | [0, 1, 2, 0, ..] | [0, 5 | 7 | 8 | 9, 0, ..] | [0, 2, 0, ..] => None,
        [0, second, ..] if n == 10 && *second != 0 => {
            let ok = contiguous
                || match lens {
                    [a, b, 4] if a + b == 6 && (2..=5).contains(a) => {
                        *a != 2 || matches!(d, [0, 3 | 4 | 6, ..])
                    }
                    _ => false,
                };
            Some(("fixed line", ok))
        }
        _ => None,
    }
}

/// The confidence of a structural match in its context, and the context part of the reason.
fn score(s: &Structural, a: &Around) -> (f32, String) {
    let own = match s.kind {
        FindingKind::MyNumber => Cue::MyNumber,
        FindingKind::CorporateNumber => Cue::Corporate,
        FindingKind::CreditCard => Cue::Card,
        FindingKind::PhoneJp => Cue::Phone,
        FindingKind::PostalCodeJp => Cue::Postal,
        FindingKind::BankAccount => Cue::Bank,
        FindingKind::Passport => Cue::Passport,
        _ => return (s.base, String::new()),
    };
    let others = IDENTIFIERS.without(CueSet::of(&[own]));
    // Another identifier's label makes this number that other thing.
    let capped = |why: String| {
        let c = if s.specific {
            (s.base - 0.3).max(0.1)
        } else {
            s.base.min(0.15)
        };
        (c, why)
    };
    let headers = a.header.iter().flatten();
    if let Some((_, word)) = headers.clone().find(|(cues, _)| cues.contains(own)) {
        return (s.base.max(0.97), format!("column {word}"));
    }
    if let Some((_, word)) = headers.clone().find(|(cues, _)| cues.intersects(others)) {
        return capped(format!("column {word} (another kind of number)"));
    }
    let own_immediate =
        a.immediate.contains(own) || (own == Cue::Bank && a.immediate.contains(Cue::BankType));
    if !own_immediate && a.immediate.intersects(others) {
        return capped(format!(
            "labelled {}",
            a.immediate_word.unwrap_or("as another number")
        ));
    }
    let strong = match s.kind {
        FindingKind::CreditCard => 0.97,
        FindingKind::Passport => 0.92,
        FindingKind::PostalCodeJp => 0.9,
        FindingKind::BankAccount if s.shape.contains("branch") => 0.9,
        FindingKind::BankAccount => 0.85,
        _ => 0.95,
    };
    if own_immediate {
        let word = a.immediate_word.unwrap_or_default();
        return (s.base.max(strong), format!("context {word}"));
    }
    // Account types (普通, 当座) only count as the immediate label, handled above.
    if let Some(word) = a.near.iter().find(|h| h.cues.contains(own)).map(|h| h.word) {
        return (s.base.max(strong), format!("context {word}"));
    }
    let mut c = s.base;
    let mut why = Vec::new();
    // Seven digits without a hyphen are a postal code only by their label or column, not
    // because an address is near: they are as often an account or a customer number.
    let seven_digits = s.kind == FindingKind::PostalCodeJp && s.shape == SEVEN_DIGITS;
    if a.doc.contains(own) {
        match s.kind {
            // A JAN code stays a JAN code in a document that also has corporate numbers.
            FindingKind::CorporateNumber if s.shape.contains("JAN") => c = c.max(0.45),
            FindingKind::MyNumber => c = c.max(0.8),
            FindingKind::CorporateNumber => c = c.max(0.75),
            FindingKind::CreditCard => c = (c + 0.1).min(0.92),
            // Two letters and seven digits is the passport's own shape.
            FindingKind::Passport => c = c.max(0.7),
            _ => {}
        }
        why.push("document mentions it".to_owned());
    } else if s.kind == FindingKind::PostalCodeJp
        && !seven_digits
        && let Some(word) = a
            .near
            .iter()
            .find(|h| h.cues.contains(Cue::Address))
            .map(|h| h.word)
    {
        c = c.max(0.85);
        why.push(format!("address nearby ({word})"));
    } else if (s.kind == FindingKind::MyNumber
        || s.kind == FindingKind::PostalCodeJp && !seven_digits)
        && let Some(word) = a
            .near
            .iter()
            .find(|h| {
                h.cues
                    .intersects(CueSet::of(&[Cue::Personal, Cue::Address]))
            })
            .map(|h| h.word)
    {
        c += if s.kind == FindingKind::MyNumber {
            0.15
        } else {
            0.3
        };
        why.push(format!("personal data nearby ({word})"));
    }
    // A list or table of long numbers without a word saying what they are: constants in
    // code, account statements, IDs. Check digits pass by chance among many numbers.
    // Less so when the document says what its numbers are.
    if a.long_numbers >= 1 && (!s.specific || s.kind == FindingKind::CreditCard) {
        c -= if a.doc.contains(own) { 0.15 } else { 0.3 };
        why.push("among other long numbers".to_owned());
    }
    if a.line_cues.contains(Cue::Other) {
        c -= 0.2;
        let word = a
            .near
            .iter()
            .find(|h| h.cues.contains(Cue::Other) && h.start >= a.line.0 && h.end <= a.line.1)
            .map_or("", |h| h.word);
        why.push(format!("near {word}"));
    }
    if why.is_empty() {
        why.push("no context".to_owned());
    }
    (c.clamp(0.0, 1.0), why.join(", "))
}

/// Numbers nobody issues: all one digit, or counting up or down (`123456789012`).
fn degenerate(d: &[u8]) -> bool {
    let Some(&first) = d.first() else { return true };
    d.iter().all(|&x| x == first)
        || d.windows(2)
            .all(|w| matches!(w, [a, b] if *b == (a + 1) % 10))
        || d.windows(2)
            .all(|w| matches!(w, [a, b] if *a == (b + 1) % 10))
}

/// The My Number check digit (個人番号, 行政手続における特定の個人を識別するための番号の利用等に関する法律
/// 施行令 第八条): for n = 1..=11 counting from the right of the first eleven digits, Pn × Qn with
/// Qn = n + 1 (n ≤ 6) or n − 5 (n ≥ 7); remainder r = Σ mod 11; check = 0 if r ≤ 1, else 11 − r.
pub(crate) fn my_number_check(first11: &[u8]) -> Option<u8> {
    if first11.len() != 11 {
        return None;
    }
    let sum: u32 = first11
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &p)| {
            let n = i as u32 + 1;
            let q = if n <= 6 { n + 1 } else { n - 5 };
            u32::from(p) * q
        })
        .sum();
    let r = sum % 11;
    Some(if r <= 1 { 0 } else { (11 - r) as u8 })
}

/// Whether 12 digits are a My Number (check digit last).
pub(crate) fn my_number_valid(d: &[u8]) -> bool {
    d.len() == 12
        && d.split_last()
            .is_some_and(|(c, rest)| my_number_check(rest) == Some(*c))
}

/// The corporate number check digit (法人番号, 国税庁「法人番号の指定等に関する省令」第二条): for n = 1..=12
/// counting from the right of the twelve base digits, Pn × Qn with Qn = 1 (n odd) or 2 (n even);
/// check = 9 − (Σ mod 9). The check digit is the *first* of the thirteen.
pub(crate) fn corporate_check(base12: &[u8]) -> Option<u8> {
    if base12.len() != 12 {
        return None;
    }
    let sum: u32 = base12
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &p)| u32::from(p) * if i % 2 == 0 { 1 } else { 2 })
        .sum();
    Some(9 - (sum % 9) as u8)
}

/// Whether 13 digits are a corporate number (check digit first).
pub(crate) fn corporate_valid(d: &[u8]) -> bool {
    d.len() == 13
        && d.split_first()
            .is_some_and(|(c, rest)| corporate_check(rest) == Some(*c))
}

/// The Luhn (mod 10) check over all digits, check digit last.
pub(crate) fn luhn_valid(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    !d.is_empty() && sum.is_multiple_of(10)
}

/// EAN-13 / JAN check (weights 1, 3 from the left, check digit last).
fn ean13_valid(d: &[u8]) -> bool {
    if d.len() != 13 {
        return false;
    }
    let sum: u32 = d
        .iter()
        .take(12)
        .enumerate()
        .map(|(i, &x)| u32::from(x) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    d.get(12)
        .is_some_and(|&c| u32::from(c) == (10 - sum % 10) % 10)
}

/// The card issuer for a number's prefix and length (the five networks accepted in Japan that
/// the issue names).
pub(crate) fn issuer(d: &[u8]) -> Option<&'static str> {
    let n = d.len();
    let prefix = |k: usize| {
        d.iter()
            .take(k)
            .fold(0u32, |acc, &x| acc * 10 + u32::from(x))
    };
    if d.first() == Some(&4) && matches!(n, 13 | 16 | 19) {
        return Some("visa");
    }
    if n == 16 && ((51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4))) {
        return Some("mastercard");
    }
    if (16..=19).contains(&n) && (3528..=3589).contains(&prefix(4)) {
        return Some("jcb");
    }
    if n == 15 && matches!(prefix(2), 34 | 37) {
        return Some("amex");
    }
    if (14..=19).contains(&n)
        && ((300..=305).contains(&prefix(3)) || matches!(prefix(2), 36 | 38 | 39))
    {
        return Some("diners");
    }
    None
}

/// The 47 prefectures: a postal code followed by one is an address.
const PREFECTURES: [&str; 47] = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
];

fn starts_with_prefecture(s: &str) -> bool {
    PREFECTURES.iter().any(|p| s.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> Vec<u8> {
        s.bytes().map(|b| b - b'0').collect()
    }

    #[test]
    fn my_number_check_digit() {
        // The example used in the Ministry's explanations and test suites.
        assert!(my_number_valid(&digits("123456789018")));
        assert!(!my_number_valid(&digits("123456789012")));
        // Remainders 0 and 1 both give check digit 0.
        for first in ["00000000001", "10000000000", "00000000006"] {
            let c = my_number_check(&digits(first)).unwrap_or(99);
            assert!(c <= 9);
            assert!(my_number_valid(&digits(&format!("{first}{c}"))));
        }
        assert_eq!(my_number_check(&digits("1234")), None);
    }

    #[test]
    fn corporate_check_digit() {
        // 国税庁's own corporate number.
        assert!(corporate_valid(&digits("7000012050002")));
        assert!(!corporate_valid(&digits("8000012050002")));
        assert_eq!(corporate_check(&digits("000012050002")), Some(7));
    }

    #[test]
    fn luhn_and_issuers() {
        for (n, issuer_name) in [
            ("4111111111111111", "visa"),
            ("5555555555554444", "mastercard"),
            ("2223000048400011", "mastercard"),
            ("3530111333300000", "jcb"),
            ("378282246310005", "amex"),
            ("30569309025904", "diners"),
            ("36227206271667", "diners"),
        ] {
            let d = digits(n);
            assert!(luhn_valid(&d), "{n}");
            assert_eq!(issuer(&d), Some(issuer_name), "{n}");
        }
        assert!(!luhn_valid(&digits("4111111111111112")));
        assert_eq!(issuer(&digits("6011111111111117")), None);
        assert_eq!(issuer(&digits("2721000000000000")), None);
        assert_eq!(issuer(&digits("411111111111111")), None);
    }

    #[test]
    fn degenerate_numbers() {
        assert!(degenerate(&digits("000000000000")));
        assert!(degenerate(&digits("123456789012")));
        assert!(degenerate(&digits("987654321098")));
        assert!(!degenerate(&digits("123456789018")));
    }

    #[test]
    fn phone_kinds() {
        assert_eq!(
            phone_kind(&digits("0312345678"), &[2, 4, 4]),
            Some(("fixed line", true))
        );
        assert_eq!(
            phone_kind(&digits("0112345678"), &[2, 4, 4]),
            Some(("fixed line", false))
        );
        assert_eq!(
            phone_kind(&digits("0422123456"), &[4, 2, 4]),
            Some(("fixed line", true))
        );
        assert_eq!(
            phone_kind(&digits("09012345678"), &[3, 4, 4]),
            Some(("mobile", true))
        );
        assert_eq!(phone_kind(&digits("0901234567"), &[10]), None);
        assert_eq!(
            phone_kind(&digits("0120123456"), &[4, 3, 3]),
            Some(("free dial", true))
        );
        assert_eq!(
            phone_kind(&digits("08001234567"), &[4, 3, 4]),
            Some(("free dial", true))
        );
        assert_eq!(
            phone_kind(&digits("0570123456"), &[4, 3, 3]),
            Some(("navi dial", true))
        );
        assert_eq!(
            phone_kind(&digits("05012345678"), &[3, 4, 4]),
            Some(("ip phone", true))
        );
        assert_eq!(phone_kind(&digits("0012345678"), &[10]), None);
    }

    #[test]
    fn tokens_and_boundaries() {
        let mut tok = Token::default();
        let t = b"x 1234-5678 9012(3)4";
        let end = tok.parse(t, 2);
        assert_eq!(end, t.len());
        assert_eq!(tok.seps, [Sep::Hyphen, Sep::Space, Sep::Open, Sep::Close]);
        assert_eq!(left_of("id123", 2), Left::Blocked);
        assert_eq!(left_of("ID123", 2), Left::Letters);
        assert_eq!(left_of("T123", 1), Left::T);
        assert_eq!(left_of("AT123", 2), Left::Letters);
        assert_eq!(left_of("XAT123", 3), Left::Blocked);
        assert_eq!(left_of("TK123", 2), Left::Letters);
        assert_eq!(left_of("3.14", 2), Left::Blocked);
        assert_eq!(left_of("No.1", 3), Left::Free);
        assert_eq!(left_of("INV-1", 4), Left::Blocked);
        assert_eq!(left_of("¥1", "¥".len()), Left::Blocked);
        assert!(!right_ok("1x", 1));
        assert!(!right_ok("1.5", 1));
        assert!(right_ok("1.", 1));
        assert!(!right_ok("1円", 1));
        assert!(right_ok("1です", 1));
        assert!(right_ok("1,234", 1));
        assert_eq!(left_of("1,2", 2), Left::Free);
    }

    #[test]
    fn find_digit_across_chunks() {
        let mut s = "あ".repeat(40);
        s.push('7');
        assert_eq!(find_digit(s.as_bytes(), 0), Some(120));
        assert_eq!(find_digit(b"abc", 0), None);
    }
}
