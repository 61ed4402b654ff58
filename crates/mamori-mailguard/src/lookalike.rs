//! Look-alike recipient domains: is this recipient domain one of ours, or made to look like
//! one of ours (the organisation's own and its partners' domains)?
//!
//! [`Protected`] holds the protected domains, indexed once; [`Protected::check`] answers for
//! one recipient domain in a few microseconds (it runs for every recipient of every message)
//! with a [`Match`] naming the protected domain it imitates and how ([`Kind`]), or `None` for
//! our own domains, their subdomains and unrelated domains.
//!
//! A domain is split on the public-suffix list into its registrable label and its suffix
//! (`toyota` + `co.jp`), in Unicode (punycode `xn--` forms are decoded, so both spellings give
//! the same answer). The label is compared with the protected labels:
//!
//! - the same label under another suffix: `toyota.com` for `toyota.co.jp` (TLD/SLD swap);
//! - the same look: TR39 confusable skeleton plus ASCII look-alikes (`t0yota`, Cyrillic
//!   `toyotа`, `rn` for `m`);
//! - hyphens added or removed; a dot inserted inside the label (`toy.ota.co.jp`); our whole
//!   domain placed in front of another (`toyota.co.jp.example.com`);
//! - one typing error: a QWERTY neighbour, an omitted, doubled, added, replaced or swapped
//!   character (bounded edit distance, stricter for short labels, see [`edit_budget`]);
//! - the suffix folded into the label (`toyotaco.jp`, `toyota-jp.com`);
//! - a word added (`toyota-login.com`, `mail-toyota.co.jp`: combosquatting).
//!
//! docs/lookalike.md explains each rule with examples and gives the measured recall and
//! false-positive rate.

mod distance;
mod fold;
mod words;

use std::collections::{HashMap, HashSet};

use crate::decision::Reason;

/// The name of this check in decisions and events.
pub const CHECK: &str = "lookalike_domain";

/// Labels of at most this many characters are short for typing errors: one edit turns them
/// into many real, unrelated names (`nec` → `neo`, `nrc`, `ned`, `sec`; `kirin` → `kurin`,
/// `canon` → `canton`), so a typing error only counts under the protected domain's own public
/// suffix. Five letters too: with one edit under any suffix, `kirin` matched `kurin.sbs` and
/// `kmail` matched `imail.ru`, `omail.de`, `jmail.ro` in the real-domain lists.
const SHORT_TYPO_LABEL: usize = 5;
/// Brands of at most this many characters are short for combosquatting: a word beside them
/// only counts when it is a known squatting word (`nec-login`), not any word (`ana-photo`).
const SHORT_BRAND_LABEL: usize = 4;
/// Labels of at least this many characters are long: two edits still leave them recognisable
/// under their own suffix (`mitsubsihcorp`). Shorter labels two edits apart are often
/// different words (`mail2abby`, `mail2army`).
const LONG_LABEL: usize = 10;
/// Brands of at least this many characters are flagged inside another label with any word
/// around them (`securetoyotalogin`); shorter ones only beside a hyphen or a known word, since
/// `canon` is inside `canonical` and `sony` inside `sonya`.
const CONTAINED_LABEL: usize = 7;
/// How far (in half edits) a candidate whose differences are all visual (`c`/`e`, `cl`/`d`)
/// may be from a protected label, where a typo is allowed at all.
const VISUAL_BUDGET: u32 = 4;
/// How many labels before the registrable one are joined to find a label split by dots.
const MAX_SPLIT_LABELS: usize = 3;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LookalikeError {
    /// A protected domain that cannot be used, with the reason.
    #[error("protected domain {domain:?} (line {line}): {reason}")]
    InvalidDomain {
        /// 1-based position in the list given to [`Protected::new`].
        line: usize,
        domain: String,
        reason: String,
    },
}

/// How a candidate imitates a protected domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Looks the same: Unicode confusables (TR39 skeleton), accents, Cyrillic or Greek letters
    /// among Latin ones, digits or letter pairs read as letters (`0`/`o`, `1`/`l`, `rn`/`m`,
    /// `vv`/`w`, `cl`/`d`, `c`/`e`). `t0yota.co.jp`, `toyotа.co.jp` (Cyrillic а).
    Homoglyph,
    /// A key replaced by a QWERTY neighbour or a neighbour typed beside it: `toyita.co.jp`.
    KeyboardTypo,
    /// A character left out: `toyta.co.jp`.
    Omission,
    /// A character typed twice: `tooyota.co.jp`.
    Repetition,
    /// A character added (also dnstwist's plural and addition): `toyotas.co.jp`.
    Insertion,
    /// A character replaced by an unrelated one (vowel swap, bit flip): `toyotu.co.jp`.
    Replacement,
    /// Two neighbouring characters swapped: `tyoota.co.jp`.
    Transposition,
    /// Hyphens added or removed: `toy-ota.co.jp`.
    Hyphenation,
    /// The same label under another public suffix, or the suffix written into the label:
    /// `toyota.com`, `toyota.ne.jp`, `toyotaco.jp`, `toyota-jp.com`.
    TldSwap,
    /// A dot inserted inside the label: `toy.ota.co.jp`.
    LabelSplit,
    /// A protected domain used as the subdomain of another: `toyota.co.jp.example.com`.
    Subdomain,
    /// The label with a word added: `toyota-login.com`, `mail-toyota.co.jp`.
    Combosquatting,
    /// Two edits from a long label, under its own suffix: `mitsubisih.co.jp`.
    Similar,
}

impl Kind {
    /// The kind's name in reports and in `mamori mailguard check --json`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Homoglyph => "homoglyph",
            Kind::KeyboardTypo => "keyboard_typo",
            Kind::Omission => "omission",
            Kind::Repetition => "repetition",
            Kind::Insertion => "insertion",
            Kind::Replacement => "replacement",
            Kind::Transposition => "transposition",
            Kind::Hyphenation => "hyphenation",
            Kind::TldSwap => "tld_swap",
            Kind::LabelSplit => "label_split",
            Kind::Subdomain => "subdomain",
            Kind::Combosquatting => "combosquatting",
            Kind::Similar => "similar",
        }
    }

    /// Every kind, for documentation and tests.
    pub const ALL: [Kind; 13] = [
        Kind::Homoglyph,
        Kind::KeyboardTypo,
        Kind::Omission,
        Kind::Repetition,
        Kind::Insertion,
        Kind::Replacement,
        Kind::Transposition,
        Kind::Hyphenation,
        Kind::TldSwap,
        Kind::LabelSplit,
        Kind::Subdomain,
        Kind::Combosquatting,
        Kind::Similar,
    ];

    fn describe_en(&self) -> &'static str {
        match self {
            Kind::Homoglyph => "it looks the same but uses different characters",
            Kind::KeyboardTypo => "one key is a neighbouring key on the keyboard",
            Kind::Omission => "one character is missing",
            Kind::Repetition => "one character is doubled",
            Kind::Insertion => "one character is added",
            Kind::Replacement => "one character is different",
            Kind::Transposition => "two neighbouring characters are swapped",
            Kind::Hyphenation => "hyphens are added or removed",
            Kind::TldSwap => "the same name under another ending (TLD)",
            Kind::LabelSplit => "the name is split by a dot",
            Kind::Subdomain => "the protected domain is put in front of another domain",
            Kind::Combosquatting => "the name has a word added",
            Kind::Similar => "two characters differ",
        }
    }

    fn describe_ja(&self) -> &'static str {
        match self {
            Kind::Homoglyph => "見た目は同じですが別の文字が使われています",
            Kind::KeyboardTypo => "キーボードで隣のキーの文字になっています",
            Kind::Omission => "1文字抜けています",
            Kind::Repetition => "1文字重なっています",
            Kind::Insertion => "1文字多くなっています",
            Kind::Replacement => "1文字違います",
            Kind::Transposition => "隣り合う2文字が入れ替わっています",
            Kind::Hyphenation => "ハイフンが追加または削除されています",
            Kind::TldSwap => "同じ名前で末尾（トップレベルドメイン）が違います",
            Kind::LabelSplit => "名前の途中にドットが入っています",
            Kind::Subdomain => "保護ドメインが別のドメインの前に付けられています",
            Kind::Combosquatting => "名前に単語が付け加えられています",
            Kind::Similar => "2文字違います",
        }
    }
}

/// A recipient domain that imitates a protected one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Match {
    /// The protected domain imitated, in Unicode form.
    pub protected: String,
    pub kind: Kind,
    /// The recipient domain, in Unicode form (lower case, no trailing dot).
    pub candidate: String,
}

impl Match {
    /// The finding for the decision, in English and Japanese. A candidate with non-ASCII
    /// characters is also shown in its `xn--` form, which is what the sender's mail program
    /// may display.
    pub fn reason(&self) -> Reason {
        let shown = match idna::domain_to_ascii(&self.candidate) {
            Ok(ascii) if ascii != self.candidate => format!("{} ({ascii})", self.candidate),
            _ => self.candidate.clone(),
        };
        Reason {
            check: CHECK,
            en: format!(
                "recipient domain {shown} looks like the protected domain {}: {}",
                self.protected,
                self.kind.describe_en()
            ),
            ja: format!(
                "宛先ドメイン {shown} は保護ドメイン {} に似ています（{}）",
                self.protected,
                self.kind.describe_ja()
            ),
        }
    }
}

/// A domain name split on the public-suffix list.
#[derive(Debug, Clone)]
struct Name {
    /// Lower-case Unicode form without a trailing dot.
    unicode: String,
    /// Labels before the registrable one (`mail` in `mail.toyota.co.jp`).
    prefix: Vec<String>,
    /// The registrable label (`toyota`).
    label: String,
    /// The public suffix (`co.jp`).
    suffix: String,
}

/// Splits a domain (or the domain of an address) on the public-suffix list, in Unicode. The
/// error says why it cannot be split; it is only shown for protected domains, since a
/// candidate that cannot be read is simply not a look-alike.
fn parse(domain: &str) -> Result<Name, String> {
    let mut text = domain.trim();
    // A whole address is accepted: the domain is what follows the last `@`.
    if let Some((_, after)) = text.rsplit_once('@') {
        text = after;
    }
    let text = text.trim_start_matches('[').trim_end_matches(']');
    let text = text.strip_suffix('.').unwrap_or(text);
    if text.is_empty() {
        return Err("empty".to_string());
    }
    // A domain name is at most 253 characters once encoded; four bytes a character is the
    // most its Unicode form can take. Longer text is not read at all.
    if text.len() > 4 * 253 {
        return Err("longer than a domain name can be".to_string());
    }
    // UTS 46 maps case, full-width forms and decodes `xn--` labels; an undecodable label keeps
    // U+FFFD in its place, so it can never equal a protected label.
    let (unicode, _errors) = idna::domain_to_unicode(text);
    let labels: Vec<&str> = unicode.split('.').collect();
    if labels.iter().any(|label| label.is_empty()) {
        return Err("empty label".to_string());
    }
    let suffix_len = psl::suffix(unicode.as_bytes()).map_or(0, |suffix| suffix.as_bytes().len());
    if suffix_len == 0 || suffix_len >= unicode.len() {
        return Err("no registrable label before its public suffix".to_string());
    }
    let suffix = unicode
        .get(unicode.len() - suffix_len..)
        .unwrap_or_default();
    let suffix_labels = suffix.split('.').count();
    let Some(label_index) = labels.len().checked_sub(suffix_labels + 1) else {
        return Err("no registrable label before its public suffix".to_string());
    };
    Ok(Name {
        prefix: labels[..label_index]
            .iter()
            .map(|l| l.to_string())
            .collect(),
        label: labels[label_index].to_string(),
        suffix: suffix.to_string(),
        unicode,
    })
}

/// The stricter checks a protected domain must pass: every `xn--` label decodes, and once
/// encoded it is a host name (labels of 1–63 letters, digits and hyphens, not starting or
/// ending with a hyphen, 253 characters at most) that IDNA 2008 accepts.
fn validate_protected(domain: &str) -> Result<Name, String> {
    let name = parse(domain)?;
    let invalid = || "not a valid internationalised domain name".to_string();
    let ascii = idna::domain_to_ascii(&name.unicode).map_err(|_| invalid())?;
    if ascii.len() > 253 {
        return Err("longer than 253 characters".to_string());
    }
    for label in ascii.split('.') {
        if label.len() > 63 {
            return Err(format!("label {label:?} is longer than 63 characters"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label {label:?} starts or ends with a hyphen"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(format!(
                "label {label:?} has characters other than letters, digits and hyphens"
            ));
        }
    }
    let (_, decoded) = idna::domain_to_unicode(domain.trim());
    if decoded.is_err() || idna::domain_to_ascii_strict(&name.unicode).is_err() {
        return Err(invalid());
    }
    Ok(name)
}

/// One protected domain, with the forms the checks compare.
#[derive(Debug, Clone)]
struct Entry {
    domain: String,
    suffix: String,
    /// Characters in the Unicode label: decides short and long.
    label_chars: usize,
    /// The label as typed (Unicode, lower case).
    plain: Vec<char>,
    fold: Vec<char>,
    /// The suffix as it may be written into a label, folded: `co.jp` → `co`, `jp`, `cojp`.
    suffix_words: Vec<String>,
}

/// The protected (own and partner) domains, indexed for [`Protected::check`].
#[derive(Debug, Clone, Default)]
pub struct Protected {
    entries: Vec<Entry>,
    /// Every protected domain, Unicode form: ours, with their subdomains.
    exact: HashSet<String>,
    /// Unicode label → entries.
    by_label: HashMap<String, Vec<usize>>,
    /// Folded label → entries.
    by_fold: HashMap<String, Vec<usize>>,
    /// Folded label without hyphens → entries.
    by_fold_bare: HashMap<String, Vec<usize>>,
    /// Coarse label and its one-character deletions (two for long labels) → entries.
    by_deletion: HashMap<String, Vec<usize>>,
    /// Hyphenated labels with one part replaced by `*` → entries (`mizuho-*`, `*-fg`).
    by_wildcard_part: HashMap<String, Vec<usize>>,
    /// Folded lengths of brands long enough to be found anywhere inside a label.
    contained_lengths: Vec<usize>,
    /// The combosquatting words, folded like labels.
    words: HashSet<String>,
    /// The longest folded label, and the longest of the long ones: a candidate much longer
    /// cannot be a typo of any, and its deletion variants are not worth making.
    longest_fold: usize,
    longest_long_fold: usize,
}

fn push_index(map: &mut HashMap<String, Vec<usize>>, key: String, index: usize) {
    let slot = map.entry(key).or_default();
    if !slot.contains(&index) {
        slot.push(index);
    }
}

/// The strings left after deleting one character, or up to two.
fn deletions(chars: &[char], depth: usize, out: &mut Vec<String>) {
    if depth == 0 || chars.len() <= 1 {
        return;
    }
    for at in 0..chars.len() {
        let mut shorter = chars.to_vec();
        shorter.remove(at);
        out.push(shorter.iter().collect());
        deletions(&shorter, depth - 1, out);
    }
}

fn deletion_depth(label_chars: usize) -> usize {
    if label_chars >= LONG_LABEL { 2 } else { 1 }
}

/// How many half edits (see `distance`) a candidate label may be from a protected label of
/// `label_chars` characters and still be flagged.
///
/// - 1–2 characters: none. Every two-letter name is one edit from hundreds of real ones; only
///   a look-alike of the same look (fold equality) or the same label elsewhere is flagged.
/// - 3–5 characters (short): one edit, and only under the protected domain's own suffix. A
///   three-letter label has about a hundred one-edit neighbours that are real companies and
///   universities under `.com`, `.edu`, `.ac.jp` (`nec` → `neu.edu`, `ntt` → `nit.ac.jp`);
///   squatters of a short name register it next to the original (`nec.co.jp` → `mec.co.jp`),
///   and dnstwist keeps the suffix too.
/// - 6–9 characters: one edit under any suffix.
/// - 10 characters or more (long): two edits under the same suffix, one elsewhere.
///
/// Differences that are all visual get up to `VISUAL_BUDGET` wherever a typo is allowed.
fn edit_budget(label_chars: usize, same_suffix: bool) -> u32 {
    match label_chars {
        0..=2 => 0,
        3..=SHORT_TYPO_LABEL => {
            if same_suffix {
                distance::EDIT
            } else {
                0
            }
        }
        _ if label_chars >= LONG_LABEL && same_suffix => 2 * distance::EDIT,
        _ => distance::EDIT,
    }
}

impl Protected {
    /// Indexes the protected domains (Unicode or punycode, any case, a trailing dot allowed).
    /// An invalid one is an error naming it and why; an empty list protects nothing.
    pub fn new<I, S>(domains: I) -> Result<Protected, LookalikeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut protected = Protected {
            words: words::WORDS.iter().map(|word| fold::fold(word)).collect(),
            ..Protected::default()
        };
        for (position, domain) in domains.into_iter().enumerate() {
            let domain = domain.as_ref();
            let name =
                validate_protected(domain).map_err(|reason| LookalikeError::InvalidDomain {
                    line: position + 1,
                    domain: domain.to_string(),
                    reason,
                })?;
            if protected.exact.contains(&name.unicode) {
                continue;
            }
            protected.add(name);
        }
        Ok(protected)
    }

    fn add(&mut self, name: Name) {
        let index = self.entries.len();
        let fold_text = fold::fold(&name.label);
        let fold: Vec<char> = fold_text.chars().collect();
        let label_chars = name.label.chars().count();
        let mut suffix_words: Vec<String> = name.suffix.split('.').map(fold::fold).collect();
        if suffix_words.len() > 1 {
            suffix_words.push(fold::fold(&name.suffix.replace('.', "")));
        }

        self.exact.insert(name.unicode.clone());
        push_index(&mut self.by_label, name.label.clone(), index);
        push_index(&mut self.by_fold, fold_text.clone(), index);
        push_index(&mut self.by_fold_bare, fold_text.replace('-', ""), index);

        for read_pairs in [true, false] {
            let coarse: Vec<char> = fold::coarse(&fold, read_pairs).chars().collect();
            let mut variants = vec![coarse.iter().collect::<String>()];
            deletions(&coarse, deletion_depth(label_chars), &mut variants);
            for variant in variants {
                push_index(&mut self.by_deletion, variant, index);
            }
        }

        let parts: Vec<&str> = fold_text.split('-').collect();
        if parts.len() > 1 {
            for replaced in 0..parts.len() {
                let mut pattern: Vec<&str> = parts.clone();
                pattern[replaced] = "*";
                push_index(&mut self.by_wildcard_part, pattern.join("-"), index);
            }
        }
        self.longest_fold = self.longest_fold.max(fold.len());
        if label_chars >= LONG_LABEL {
            self.longest_long_fold = self.longest_long_fold.max(fold.len());
        }
        if label_chars >= CONTAINED_LABEL && !self.contained_lengths.contains(&fold.len()) {
            self.contained_lengths.push(fold.len());
        }

        self.entries.push(Entry {
            domain: name.unicode,
            suffix: name.suffix,
            label_chars,
            plain: name.label.chars().collect(),
            fold,
            suffix_words,
        });
    }

    /// How many protected domains there are (duplicates counted once).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The protected domains in Unicode form, in the order given.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|entry| entry.domain.as_str())
    }

    /// Exactly one of ours, or a subdomain of one of ours, after IDN and case normalisation
    /// (`TOYOTA.CO.JP.`, `mail.toyota.co.jp`, and the `xn--` form of a Unicode domain).
    pub fn is_protected(&self, domain: &str) -> bool {
        match parse(domain) {
            Ok(name) => self.is_ours(&name.unicode),
            Err(_) => false,
        }
    }

    fn is_ours(&self, unicode: &str) -> bool {
        let mut rest = unicode;
        loop {
            if self.exact.contains(rest) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, parent)) => rest = parent,
                None => return false,
            }
        }
    }

    /// Whether `domain` imitates a protected domain, and which one and how. `None` for our
    /// own domains and their subdomains, for unrelated domains and for text that is not a
    /// domain name.
    pub fn check(&self, domain: &str) -> Option<Match> {
        if self.entries.is_empty() {
            return None;
        }
        let name = parse(domain).ok()?;
        if self.is_ours(&name.unicode) {
            return None;
        }
        // Longer than DNS allows (253 characters, labels of 63): no mail can go there, and
        // the checks below should not spend time on megabytes of input.
        if name.unicode.chars().count() > 253 || name.label.chars().count() > 63 {
            return None;
        }
        let (index, kind) = self.find(&name)?;
        let entry = self.entries.get(index)?;
        Some(Match {
            protected: entry.domain.clone(),
            kind,
            candidate: name.unicode,
        })
    }

    /// The rules in order, from the most certain to the loosest; the first that matches wins.
    fn find(&self, name: &Name) -> Option<(usize, Kind)> {
        if let Some(indices) = self.by_label.get(&name.label) {
            // The registrable domain of a protected subdomain (`example.co.jp` when
            // `mail.example.co.jp` is protected) is the same owner: not a look-alike.
            if indices
                .iter()
                .any(|&i| self.entries[i].suffix == name.suffix)
            {
                return None;
            }
            if let Some(&index) = indices.first() {
                return Some((index, Kind::TldSwap));
            }
        }
        let fold_text = fold::fold(&name.label);
        if let Some(&index) = self.by_fold.get(&fold_text).and_then(|v| v.first()) {
            return Some((index, Kind::Homoglyph));
        }
        let bare = fold_text.replace('-', "");
        if bare != fold_text
            && let Some(&index) = self.by_fold_bare.get(&bare).and_then(|v| v.first())
        {
            return Some((index, Kind::Hyphenation));
        }
        if let Some(&index) = self.by_fold_bare.get(&fold_text).and_then(|v| v.first()) {
            return Some((index, Kind::Hyphenation));
        }
        if let Some(found) = self.split_label(name) {
            return Some(found);
        }
        if let Some(found) = self.ours_in_front(name) {
            return Some(found);
        }
        let fold: Vec<char> = fold_text.chars().collect();
        if let Some(found) = self.typo(name, &fold) {
            return Some(found);
        }
        if let Some(found) = self.suffix_in_label(&bare) {
            return Some(found);
        }
        self.combosquatting(&fold_text, &fold)
    }

    /// `toy.ota.co.jp`: the last labels before the suffix, joined, are a protected label.
    fn split_label(&self, name: &Name) -> Option<(usize, Kind)> {
        let mut joined = name.label.clone();
        for prefix_label in name.prefix.iter().rev().take(MAX_SPLIT_LABELS) {
            joined.insert_str(0, prefix_label);
            let folded = fold::fold(&joined);
            if let Some(&index) = self.by_fold.get(&folded).and_then(|v| v.first()) {
                return Some((index, Kind::LabelSplit));
            }
        }
        None
    }

    /// `toyota.co.jp.example.com`: a protected domain as the subdomain part of another.
    fn ours_in_front(&self, name: &Name) -> Option<(usize, Kind)> {
        for start in 0..name.prefix.len() {
            let joined = name.prefix[start..].join(".");
            if self.exact.contains(&joined) {
                let index = self.entries.iter().position(|e| e.domain == joined)?;
                return Some((index, Kind::Subdomain));
            }
        }
        None
    }

    /// One typing error (two for long labels under their own suffix), found through the
    /// deletion index and confirmed by the weighted distance.
    fn typo(&self, name: &Name, fold: &[char]) -> Option<(usize, Kind)> {
        // Letter pairs read as one letter can make a look-alike this much longer.
        const SLACK: usize = 4;
        if fold.len() > self.longest_fold + SLACK {
            return None;
        }
        // A candidate needs two-deletion variants only to meet a long protected label.
        let near_long =
            fold.len() + 2 >= LONG_LABEL && fold.len() <= self.longest_long_fold + SLACK;
        let depth = if near_long { 2 } else { 1 };
        let mut variants = Vec::new();
        let with_pairs = fold::coarse(fold, true);
        let without_pairs = fold::coarse(fold, false);
        let mut forms = vec![with_pairs];
        // Without a letter pair in the label both forms are the same.
        if without_pairs != forms[0] {
            forms.push(without_pairs);
        }
        for form in forms {
            let coarse: Vec<char> = form.chars().collect();
            variants.push(form);
            deletions(&coarse, depth, &mut variants);
        }
        // dnstwist's plural adds `es`: remove each `es` to meet the protected label.
        for at in 0..fold.len().saturating_sub(1) {
            if fold[at] == 'e' && fold[at + 1] == 's' {
                let mut without: Vec<char> = fold.to_vec();
                without.drain(at..at + 2);
                variants.push(fold::coarse(&without, false));
            }
        }

        let label: Vec<char> = name.label.chars().collect();
        let mut seen: Vec<usize> = Vec::new();
        let mut best: Option<(u32, usize, Kind)> = None;
        for variant in &variants {
            let Some(indices) = self.by_deletion.get(variant) else {
                continue;
            };
            for &index in indices {
                if seen.contains(&index) {
                    continue;
                }
                seen.push(index);
                let entry = &self.entries[index];
                let same_suffix = entry.suffix == name.suffix;
                let budget = edit_budget(entry.label_chars, same_suffix);
                if budget == 0 {
                    continue;
                }
                let found = if distance::is_plural(fold, &entry.fold) {
                    Some((distance::EDIT, Kind::Insertion))
                } else {
                    // Differences that are all visual (`kbb1` for `kddi`) look like the
                    // protected label even past the edit budget, up to two edits' worth.
                    let limit = budget.max(VISUAL_BUDGET);
                    distance::weighted(fold, &entry.fold, limit).and_then(|d| {
                        if distance::looks_the_same(fold, &entry.fold) {
                            Some((d, Kind::Homoglyph))
                        } else if d <= budget {
                            Some((d, kind_of(&label, &entry.plain, fold, &entry.fold)))
                        } else {
                            None
                        }
                    })
                };
                if let Some((cost, kind)) = found
                    && best.is_none_or(|(best_cost, _, _)| cost < best_cost)
                {
                    best = Some((cost, index, kind));
                }
            }
        }
        best.map(|(_, index, kind)| (index, kind))
    }

    /// `toyotaco.jp`, `toyota-jp.com`, `toyotacom.com`: the protected label followed by its own
    /// suffix written as a word (dnstwist's "various").
    fn suffix_in_label(&self, bare: &str) -> Option<(usize, Kind)> {
        for (at, _) in bare.char_indices().skip(1) {
            let (head, tail) = bare.split_at(at);
            let Some(indices) = self.by_fold_bare.get(head) else {
                continue;
            };
            for &index in indices {
                let entry = &self.entries[index];
                if entry.suffix_words.iter().any(|word| word == tail) {
                    return Some((index, Kind::TldSwap));
                }
            }
        }
        None
    }

    /// The protected label with a word added (dnstwist's dictionary): as a hyphen-separated
    /// part (`toyota-login`), beside a known squatting word (`toyotalogin`, `mailtoyota`),
    /// replacing one part of a hyphenated brand (`mizuho-login` for `mizuho-fg`), or anywhere
    /// for long brands (`securetoyotalogin`).
    fn combosquatting(&self, fold_text: &str, fold: &[char]) -> Option<(usize, Kind)> {
        let parts: Vec<&str> = fold_text.split('-').filter(|p| !p.is_empty()).collect();
        if parts.len() > 1 {
            for start in 0..parts.len() {
                for end in start + 1..=parts.len() {
                    if end - start == parts.len() {
                        continue;
                    }
                    let run = parts[start..end].join("-");
                    let Some(&index) = self.by_fold.get(&run).and_then(|v| v.first()) else {
                        continue;
                    };
                    let entry = &self.entries[index];
                    let others_are_words = parts[..start]
                        .iter()
                        .chain(&parts[end..])
                        .all(|other| self.words.contains(*other));
                    if entry.label_chars > SHORT_BRAND_LABEL || others_are_words {
                        return Some((index, Kind::Combosquatting));
                    }
                }
            }
            for replaced in 0..parts.len() {
                if !self.words.contains(parts[replaced]) {
                    continue;
                }
                let kept: usize = parts
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != replaced)
                    .map(|(_, p)| p.chars().count())
                    .sum();
                // `login-fg` keeps only `fg` of `mizuho-fg`: too little of the brand to tell.
                if kept <= SHORT_BRAND_LABEL {
                    continue;
                }
                let mut pattern = parts.clone();
                pattern[replaced] = "*";
                if let Some(&index) = self
                    .by_wildcard_part
                    .get(&pattern.join("-"))
                    .and_then(|v| v.first())
                {
                    return Some((index, Kind::Combosquatting));
                }
            }
        }

        // A known word directly before or after the brand, at most one hyphen between.
        for (at, _) in fold_text.char_indices().skip(1) {
            let (head, tail) = fold_text.split_at(at);
            let (head, tail) = (head.trim_end_matches('-'), tail.trim_start_matches('-'));
            if self.words.contains(head)
                && let Some(&index) = self.by_fold.get(tail).and_then(|v| v.first())
            {
                return Some((index, Kind::Combosquatting));
            }
            if self.words.contains(tail)
                && let Some(&index) = self.by_fold.get(head).and_then(|v| v.first())
            {
                return Some((index, Kind::Combosquatting));
            }
        }

        for &length in &self.contained_lengths {
            if length >= fold.len() {
                continue;
            }
            for start in 0..=fold.len() - length {
                let window: String = fold[start..start + length].iter().collect();
                if let Some(&index) = self.by_fold.get(&window).and_then(|v| v.first())
                    && self.entries[index].label_chars >= CONTAINED_LABEL
                {
                    return Some((index, Kind::Combosquatting));
                }
            }
        }
        None
    }
}

/// The kind of a typo match, from the single edit that explains it: on the labels as typed
/// when one edit separates them (the fold writes `m` as `rn`, which would hide that `mec` is
/// `nec` with a neighbouring key), else on the folded labels.
fn kind_of(
    candidate: &[char],
    protected: &[char],
    candidate_fold: &[char],
    protected_fold: &[char],
) -> Kind {
    let edit = distance::classify(candidate, protected)
        .or_else(|| distance::classify(candidate_fold, protected_fold));
    match edit {
        Some(distance::Edit::Keyboard) => Kind::KeyboardTypo,
        Some(distance::Edit::Visual) => Kind::Homoglyph,
        Some(distance::Edit::Omission) => Kind::Omission,
        Some(distance::Edit::Repetition) => Kind::Repetition,
        Some(distance::Edit::Insertion) => Kind::Insertion,
        Some(distance::Edit::Replacement) => Kind::Replacement,
        Some(distance::Edit::Transposition) => Kind::Transposition,
        None => Kind::Similar,
    }
}
