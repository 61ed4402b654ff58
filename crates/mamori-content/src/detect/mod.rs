//! Detectors over text: Japanese personal data, confidentiality labels, secrets and source code.
//!
//! A [`Detector`] is built once from a [`DetectorConfig`] and then scans any number of texts,
//! from any number of threads. [`Detector::scan`] runs every detector except the source-code
//! classifier, which looks at a whole file ([`Detector::source_code`]).
//!
//! # How a scan works (one pass per kind of trigger, no regular expressions)
//!
//! 1. The text is normalised ([`crate::normalize`]): NFKC, dashes folded to `-`, zero-width
//!    characters dropped, with a map back to the original. Text that needs no change is not
//!    copied.
//! 2. The literal pass finds every trigger word: label words, secret prefixes (`AKIA`,
//!    `ghp_`, `-----BEGIN`…), password keys, and the strong context words that give a whole
//!    document its context (`個人番号`, `カード番号`…). Aho-Corasick, split by script so
//!    that a SIMD prefilter skips most of the text (`detect/literals.rs`).
//! 3. One pass finds runs of digits joined by single spaces, hyphens or parentheses (a number
//!    *token*); each span of its groups is checked against the shape and check digit of every
//!    numeric kind (`detect/numbers.rs`). Only what passes those checks looks at its context.
//! 4. `memchr` finds each `@` for e-mail addresses.
//!
//! # Confidence
//!
//! Every finding has a confidence in 0..=1 and an English reason saying what it rests on.
//! [`DetectorConfig::min_confidence`] (default [`DEFAULT_MIN_CONFIDENCE`], 0.5) drops the rest:
//! at 0.5 a finding is "more likely than not that entity"; 0.8 and above means the shape,
//! check digit and a context word all agree (a threshold for blocking rather than logging).
//! Check digits alone are not enough for My Numbers and corporate numbers — about one random
//! 12-digit number in ten has a valid My Number check digit — so a bare number without any
//! context scores below 0.5, the same number under a `個人番号` column header, next to
//! `マイナンバー` or in a document that mentions it scores above. A label of another number right
//! before it (`注文番号：`, or any `…番号`/`…ID` label the vocabulary does not know) caps it
//! low. The per-kind table is in `detect/numbers.rs`; labels and secrets explain theirs in
//! their modules.
//!
//! What is not a finding: a failed check digit, a number inside a longer digit run, an
//! identifier, a decimal or an amount; a password assignment whose value is a variable or a
//! placeholder; `秘` inside a word.

mod context;
mod email;
mod labels;
mod literals;
mod numbers;
mod secrets;
mod source_code;

use std::collections::HashMap;
use std::ops::Range;

use serde::Serialize;

use crate::normalize::{self, Normalized};

/// The default [`DetectorConfig::min_confidence`]: findings below it are not reported.
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.5;

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// 個人番号: 12 digits with a valid check digit.
    MyNumber,
    /// 法人番号: 13 digits with a valid check digit (also as `T` + 13, the invoice number).
    CorporateNumber,
    /// A payment card number: Luhn and an issuer's prefix and length.
    CreditCard,
    /// A Japanese telephone number (fixed, mobile, IP, free dial, navi dial; `+81` forms).
    PhoneJp,
    /// A Japanese postal code (`〒123-4567`).
    PostalCodeJp,
    /// An e-mail address.
    Email,
    /// A bank account number next to a bank cue (`口座番号`, `普通`…).
    BankAccount,
    /// A Japanese passport number next to a passport cue (`旅券番号`…).
    Passport,
    /// A confidentiality label (`社外秘`, `Confidential`…), with its level.
    Label,
    /// The text is source code (whole-text classification).
    SourceCode,
    /// A credential: private key, cloud key, token, password assignment.
    Secret,
    /// The file's bytes contradict its name (produced by extraction, not by this module).
    TypeMismatch,
}

impl FindingKind {
    /// Every kind, in declaration order.
    pub const ALL: [FindingKind; 12] = [
        FindingKind::MyNumber,
        FindingKind::CorporateNumber,
        FindingKind::CreditCard,
        FindingKind::PhoneJp,
        FindingKind::PostalCodeJp,
        FindingKind::Email,
        FindingKind::BankAccount,
        FindingKind::Passport,
        FindingKind::Label,
        FindingKind::SourceCode,
        FindingKind::Secret,
        FindingKind::TypeMismatch,
    ];

    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::MyNumber => "my_number",
            FindingKind::CorporateNumber => "corporate_number",
            FindingKind::CreditCard => "credit_card",
            FindingKind::PhoneJp => "phone_jp",
            FindingKind::PostalCodeJp => "postal_code_jp",
            FindingKind::Email => "email",
            FindingKind::BankAccount => "bank_account",
            FindingKind::Passport => "passport",
            FindingKind::Label => "label",
            FindingKind::SourceCode => "source_code",
            FindingKind::Secret => "secret",
            FindingKind::TypeMismatch => "type_mismatch",
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding in a text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// Character (not byte) offset in the text given to `scan`, inclusive.
    pub start: usize,
    /// Character offset, exclusive.
    pub end: usize,
    /// 0..=1.
    pub confidence: f32,
    /// Short English reason, e.g. "12 digits, check digit valid, context 個人番号".
    pub reason: String,
    /// The normalised value: digits only for numbers (phones in national form, `0…`), the
    /// passport number, the lower-cased e-mail address, the label as configured, the matched
    /// text of a secret. Callers must not store it; they store a keyed hash.
    pub value: String,
    /// Card issuer (`visa`…), label level (`confidential`…), secret kind
    /// (`aws_access_key_id`…), source-code language, phone type (`mobile`…).
    pub detail: Option<String>,
}

/// A label word and the classification level it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LabelRule {
    /// The mark as written (`社外秘`, `Confidential`); matched after NFKC, ASCII letters
    /// case-insensitively on word boundaries.
    pub text: String,
    /// The level it maps to: by default one of `public`, `internal`, `confidential`, `secret`.
    pub level: String,
}

impl LabelRule {
    /// A rule from two strings.
    pub fn new(text: &str, level: &str) -> LabelRule {
        LabelRule {
            text: text.to_owned(),
            level: level.to_owned(),
        }
    }
}

/// What a [`Detector`] looks for.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// The label vocabulary ([`DetectorConfig::default_labels`] by default).
    pub labels: Vec<LabelRule>,
    /// Findings below this confidence are not returned (by `scan` and `source_code`).
    pub min_confidence: f32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            labels: DetectorConfig::default_labels(),
            min_confidence: DEFAULT_MIN_CONFIDENCE,
        }
    }
}

impl DetectorConfig {
    /// The default label vocabulary. Levels, from least to most restricted: `internal`
    /// (not for outside the company), `confidential` (a limited group), `secret` (named people
    /// only). Japanese practice puts 秘 and 極秘 above 社外秘/部外秘; 関係者外秘 restricts to the people
    /// involved, so it is `secret` too.
    pub fn default_labels() -> Vec<LabelRule> {
        [
            ("社外秘", "confidential"),
            ("部外秘", "confidential"),
            ("関係者外秘", "secret"),
            ("極秘", "secret"),
            ("秘", "secret"),
            ("マル秘", "secret"),
            ("取扱注意", "confidential"),
            ("取扱い注意", "confidential"),
            ("取り扱い注意", "confidential"),
            ("社内限り", "internal"),
            ("社内限定", "internal"),
            ("Confidential", "confidential"),
            ("Strictly Confidential", "secret"),
            ("Highly Confidential", "secret"),
            ("Internal Use Only", "internal"),
            ("For Internal Use Only", "internal"),
            ("Internal Only", "internal"),
            ("Secret", "secret"),
            ("Top Secret", "secret"),
        ]
        .into_iter()
        .map(|(t, l)| LabelRule::new(t, l))
        .collect()
    }
}

/// The detectors, built once; `Send + Sync`, so one can serve every thread.
#[derive(Debug)]
pub struct Detector {
    config: DetectorConfig,
    /// Label texts after normalisation (lower-cased when ASCII), index-aligned with
    /// `config.labels`.
    label_keys: Vec<String>,
    /// Every literal trigger of a scan; `roles[pattern]` says what each one means.
    triggers: literals::Literals,
    roles: Vec<Vec<Role>>,
    /// The words of [`context::DOC_CUES`], index-aligned.
    cue_words: literals::Literals,
    context: context::Context,
}

/// What a literal trigger means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Index into the configured labels.
    Label(usize),
    Secret(secrets::Prefix),
    /// A key whose assigned value may be a password or token.
    PasswordKey,
}

/// A finding before its offsets are mapped back to the original text.
#[derive(Debug, Clone)]
struct Candidate {
    kind: FindingKind,
    /// Byte offsets in the normalised text.
    start: usize,
    end: usize,
    confidence: f32,
    reason: String,
    value: String,
    detail: Option<String>,
}

impl Detector {
    /// Builds the detectors for `config`.
    pub fn new(config: &DetectorConfig) -> Detector {
        let mut patterns: Vec<String> = Vec::new();
        let mut roles: Vec<Vec<Role>> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut add = |pattern: &str, role: Role| {
            if pattern.is_empty() {
                return;
            }
            let key = pattern.to_ascii_lowercase();
            let i = *index.entry(key).or_insert_with(|| {
                patterns.push(pattern.to_owned());
                roles.push(Vec::new());
                patterns.len() - 1
            });
            if let Some(r) = roles.get_mut(i)
                && !r.contains(&role)
            {
                r.push(role);
            }
        };
        let label_keys: Vec<String> = config.labels.iter().map(|l| label_key(&l.text)).collect();
        for (i, rule) in config.labels.iter().enumerate() {
            let text = normalize::normalize(rule.text.trim()).as_str().to_owned();
            add(&text, Role::Label(i));
            // ㊙ becomes 秘 under NFKC; the mark itself is found through the 秘 rule.
        }
        for (prefix, p) in secrets::PREFIXES {
            add(prefix, Role::Secret(*p));
        }
        for key in secrets::PASSWORD_KEYS {
            add(key, Role::PasswordKey);
        }
        let triggers = literals::Literals::new(&patterns);
        let cue_words: Vec<String> = context::DOC_CUES
            .iter()
            .map(|(w, _)| (*w).to_owned())
            .collect();
        Detector {
            config: config.clone(),
            label_keys,
            triggers,
            roles,
            cue_words: literals::Literals::new(&cue_words),
            context: context::Context::new(),
        }
    }

    /// The configuration this detector was built with.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// The level of a label name (from the configured vocabulary): exact match after NFKC and
    /// ASCII case folding, else the longest configured label the name contains as a word
    /// (`"Confidential - Finance"` → `confidential`). For labels read from document metadata
    /// (Microsoft sensitivity labels) as well as for text marks.
    pub fn level_of_label(&self, text: &str) -> Option<&str> {
        let key = label_key(text);
        if key.is_empty() {
            return None;
        }
        if let Some(i) = self.label_keys.iter().position(|k| *k == key) {
            return self.config.labels.get(i).map(|l| l.level.as_str());
        }
        let mut best: Option<(usize, usize)> = None;
        for (i, k) in self.label_keys.iter().enumerate() {
            if k.is_empty() || best.is_some_and(|(_, len)| len >= k.len()) {
                continue;
            }
            // Single-character marks (秘) would match inside any word; they need an exact name.
            if k.chars().count() < 2 {
                continue;
            }
            if contains_word(&key, k) {
                best = Some((i, k.len()));
            }
        }
        best.and_then(|(i, _)| self.config.labels.get(i).map(|l| l.level.as_str()))
    }

    /// Runs every detector except source code over `text`. Findings are sorted by start and
    /// carry character offsets into `text`; those below `min_confidence` are left out.
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        let mut findings = Vec::new();
        self.scan_each(text, |f| findings.push(f));
        findings
    }

    /// [`Detector::scan`], handing each finding to `emit` in order instead of collecting
    /// them: the text is scanned one region (about [`REGION`] bytes, ending at a line end)
    /// at a time, so a text dense with findings costs memory for one region's findings, not
    /// for all of them. The results are those of one pass over the whole text: the document
    /// cues are found first, tables are followed from one region to the next, and a finding
    /// reaching into the next region (a PEM key) still hides what it contains.
    pub fn scan_each(&self, text: &str, emit: impl FnMut(Finding)) {
        self.scan_regions(text, REGION, emit);
    }

    /// [`Detector::scan_each`] with regions of `region` bytes (tests compare sizes).
    fn scan_regions(&self, text: &str, region: usize, mut emit: impl FnMut(Finding)) {
        let norm = normalize::normalize(text);
        let t = norm.as_str();
        let doc_cues = self.doc_cues(t);
        let mut table = context::TableCache::default();
        let mut pem_ends = None;
        let mut hits = Vec::new();
        let mut out: Vec<Candidate> = Vec::new();
        // Candidates found from an earlier region but starting in a later one (an AWS secret
        // key on the line after its key id).
        let mut ahead: Vec<Candidate> = Vec::new();
        // Kept findings reaching past their region: (end, rank).
        let mut reaching: Vec<(usize, (u8, u32, usize))> = Vec::new();
        let mut cursor = CharCursor::default();
        let mut start = 0;
        while start < t.len() {
            let end = region_end(t, start, region);
            out.clear();
            out.extend(ahead.extract_if(.., |c| c.start < end));
            self.scan_triggers(&norm, start..end, &mut hits, &mut out, &mut pem_ends);
            numbers::scan(t, start..end, &self.context, doc_cues, &mut table, &mut out);
            email::scan(t, start..end, &mut out);
            ahead.extend(out.extract_if(.., |c| c.start >= end));
            out.retain(|c| {
                c.confidence >= self.config.min_confidence
                    && !reaching
                        .iter()
                        .any(|&(reach, r)| c.start < reach && r >= rank(c))
            });
            resolve_overlaps(&mut out);
            reaching.retain(|&(reach, _)| reach > end);
            reaching.extend(out.iter().filter(|c| c.end > end).map(|c| (c.end, rank(c))));
            for c in out.drain(..) {
                emit(cursor.finding(&norm, c));
            }
            start = end;
        }
    }

    /// Whether `text` (a whole file) is source code, and in which language. `file_name` is a
    /// hint (its extension); the content decides. Returns a finding over the whole text
    /// (`start` 0, `end` its length in characters) when the confidence reaches
    /// `min_confidence`.
    pub fn source_code(&self, file_name: Option<&str>, text: &str) -> Option<Finding> {
        let guess = source_code::classify(file_name, text)?;
        if guess.confidence < self.config.min_confidence {
            return None;
        }
        Some(Finding {
            kind: FindingKind::SourceCode,
            start: 0,
            end: text.chars().count(),
            confidence: guess.confidence,
            reason: guess.reason,
            value: guess.language.to_owned(),
            detail: Some(guess.language.to_owned()),
        })
    }

    /// The cues of words anywhere in the text that give the whole document its context.
    fn doc_cues(&self, t: &str) -> context::CueSet {
        let mut hits = Vec::new();
        self.cue_words.find(t, &mut hits);
        let bytes = t.as_bytes();
        hits.iter()
            .filter(|h| on_word_boundaries(bytes, h.start, h.end))
            .filter_map(|h| context::DOC_CUES.get(h.word))
            .fold(context::CueSet::EMPTY, |set, (_, cues)| set.union(*cues))
    }

    /// The literal pass over `range` of the normalised text: labels, secrets, password
    /// assignments. Regions end at line ends, and no trigger word holds a newline, so a
    /// region's matches are those one pass over the whole text would find there.
    fn scan_triggers(
        &self,
        norm: &Normalized<'_>,
        range: Range<usize>,
        hits: &mut Vec<literals::Literal>,
        out: &mut Vec<Candidate>,
        pem_ends: &mut Option<Vec<usize>>,
    ) {
        let t = norm.as_str();
        let bytes = t.as_bytes();
        self.triggers
            .find(t.get(range.clone()).unwrap_or_default(), hits);
        for hit in hits.iter() {
            let (start, end, p) = (range.start + hit.start, range.start + hit.end, hit.word);
            for role in self.roles.get(p).map(Vec::as_slice).unwrap_or_default() {
                match *role {
                    Role::Label(i) => {
                        if on_word_boundaries(bytes, start, end)
                            && let Some(rule) = self.config.labels.get(i)
                            && let Some(c) = labels::check(norm, start, end, rule)
                        {
                            out.push(c);
                        }
                    }
                    Role::Secret(prefix) => {
                        if let Some(c) = secrets::check_prefix(t, start, end, prefix, pem_ends) {
                            if prefix == secrets::Prefix::AwsKeyId
                                && let Some(key) = secrets::aws_secret_near(t, c.end)
                            {
                                out.push(key);
                            }
                            out.push(c);
                        }
                    }
                    Role::PasswordKey => {
                        if let Some(c) = secrets::check_password(t, start, end) {
                            out.push(c);
                        }
                    }
                }
            }
        }
    }
}

/// Where the region starting at byte `start` of `t` ends: at the first line end after
/// `region` bytes, or at the end of the text. A text without line ends is one region.
fn region_end(t: &str, start: usize, region: usize) -> usize {
    let from = start.saturating_add(region);
    match t.as_bytes().get(from..) {
        Some(rest) => memchr::memchr(b'\n', rest).map_or(t.len(), |i| from + i + 1),
        None => t.len(),
    }
}

/// Text scanned at a time by [`Detector::scan_each`], in bytes.
pub const REGION: usize = 1 << 20;

/// Whether the match `start..end` in `bytes` sits on word boundaries where it begins or ends
/// with an ASCII letter or digit (`Secret` is not a match in `Secretary`).
fn on_word_boundaries(bytes: &[u8], start: usize, end: usize) -> bool {
    let alnum = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_alphanumeric);
    let left_ok = !alnum(start) || start == 0 || !alnum(start - 1);
    let right_ok = end == 0 || !alnum(end - 1) || !alnum(end);
    left_ok && right_ok
}

/// Maps findings to character offsets of the original text as they come, in order of start:
/// the characters are counted once, from one finding's start to the next.
#[derive(Debug, Default)]
struct CharCursor {
    byte: usize,
    chars: usize,
}

impl CharCursor {
    fn finding(&mut self, norm: &Normalized<'_>, c: Candidate) -> Finding {
        let original = norm.original().as_bytes();
        let r = norm.original_range(c.start..c.end);
        if r.start > self.byte {
            self.chars +=
                normalize::count_chars(original.get(self.byte..r.start).unwrap_or_default());
            self.byte = r.start;
        }
        // Candidates of a region arrive by start; a start before the cursor (never, but
        // cheaply safe) counts from the text's beginning.
        let start = if r.start == self.byte {
            self.chars
        } else {
            normalize::count_chars(original.get(..r.start).unwrap_or_default())
        };
        let end = start + normalize::count_chars(original.get(r.start..r.end).unwrap_or_default());
        Finding {
            kind: c.kind,
            start,
            end,
            confidence: c.confidence,
            reason: c.reason,
            value: c.value,
            detail: c.detail,
        }
    }
}

/// Drops candidates that overlap a better one: a number inside a secret or an e-mail address
/// is part of it, a label inside a secret is not a label. Kinds that describe different facets
/// (a label next to a number) never overlap in practice.
fn resolve_overlaps(out: &mut Vec<Candidate>) {
    if out.len() < 2 {
        return;
    }
    out.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut keep = vec![true; out.len()];
    for i in 0..out.len() {
        if !keep.get(i).copied().unwrap_or(false) {
            continue;
        }
        let Some(a) = out.get(i) else { continue };
        for j in i + 1..out.len() {
            let Some(b) = out.get(j) else { break };
            if b.start >= a.end {
                break;
            }
            if !keep.get(j).copied().unwrap_or(false) {
                continue;
            }
            // Overlap: keep the one ranked higher.
            let loser = if rank(a) >= rank(b) { j } else { i };
            if let Some(k) = keep.get_mut(loser) {
                *k = false;
            }
            if loser == i {
                break;
            }
        }
    }
    let mut k = keep.into_iter();
    out.retain(|_| k.next().unwrap_or(true));
}

/// Secrets and e-mail addresses contain digits and words; they win over what is inside them.
fn rank(c: &Candidate) -> (u8, u32, usize) {
    let class = match c.kind {
        FindingKind::Secret => 3,
        FindingKind::Email => 2,
        _ => 1,
    };
    (class, (c.confidence * 1000.0) as u32, c.end - c.start)
}

/// A label text as compared by [`Detector::level_of_label`]: NFKC, trimmed, ASCII lower-case.
fn label_key(text: &str) -> String {
    normalize::normalize(text.trim())
        .as_str()
        .trim()
        .to_ascii_lowercase()
}

/// Whether `needle` occurs in `hay` on ASCII word boundaries (for ASCII ends).
fn contains_word(hay: &str, needle: &str) -> bool {
    let hb = hay.as_bytes();
    let nb = needle.as_bytes();
    let mut from = 0;
    while let Some(pos) = hay.get(from..).and_then(|h| h.find(needle)) {
        let s = from + pos;
        let e = s + nb.len();
        let left = s == 0
            || !nb.first().is_some_and(u8::is_ascii_alphanumeric)
            || !hb.get(s - 1).is_some_and(u8::is_ascii_alphanumeric);
        let right = !nb.last().is_some_and(u8::is_ascii_alphanumeric)
            || !hb.get(e).is_some_and(u8::is_ascii_alphanumeric);
        if left && right {
            return true;
        }
        from = s + needle.chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[cfg(test)]
mod tests;
