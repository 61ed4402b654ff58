//! Context words around a candidate: what raises or lowers its confidence.
//!
//! Context is read from the normalised text in character windows (no tokenizer: Japanese has no
//! spaces, and a dictionary would be a download). Three sources, strongest first:
//!
//! 1. **Column header.** A number in a delimited line (tabs from spreadsheets, commas, `|`)
//!    takes the header cell above its column: a `個人番号` column makes every 12-digit number in
//!    it a My Number, however far down the table, and an `注文番号` column makes none of them one.
//! 2. **Window.** Context words within [`BEFORE`] characters before and [`AFTER`] after, plus the
//!    *immediate label*: a word right before the number with only separators between
//!    (`注文番号：`), which says what the number is even when other words are nearby.
//! 3. **Document.** Strong words anywhere in the text ([`DOC_CUES`], found by the scan's single
//!    literal pass) — for tables whose header is far above or not delimited.

use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use crate::normalize;

/// Characters of context before a candidate.
pub(crate) const BEFORE: usize = 48;
/// Characters of context after a candidate.
pub(crate) const AFTER: usize = 16;
/// Characters on each side where other long numbers are counted.
const NEIGHBOURS: usize = 48;

/// What a context word is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub(crate) enum Cue {
    MyNumber,
    Corporate,
    Card,
    Phone,
    Postal,
    /// Bank account words that work anywhere in the window (`口座番号`).
    Bank,
    /// Account types that only count right before the number (`普通 1234567`).
    BankType,
    Passport,
    /// Person names, birth dates, addresses: personal data nearby.
    Personal,
    /// Labels of other numbers: orders, invoices, serials, customers, amounts.
    Other,
    /// Prefecture names: an address nearby.
    Address,
}

/// A set of [`Cue`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub(crate) struct CueSet(u16);

impl CueSet {
    pub(crate) const EMPTY: CueSet = CueSet(0);

    pub(crate) const fn of(cues: &[Cue]) -> CueSet {
        let mut bits = 0u16;
        let mut i = 0;
        while i < cues.len() {
            bits |= 1 << cues[i] as u8;
            i += 1;
        }
        CueSet(bits)
    }

    pub(crate) fn contains(self, cue: Cue) -> bool {
        self.0 & (1 << cue as u8) != 0
    }

    pub(crate) fn union(self, other: CueSet) -> CueSet {
        CueSet(self.0 | other.0)
    }

    pub(crate) fn without(self, other: CueSet) -> CueSet {
        CueSet(self.0 & !other.0)
    }

    pub(crate) fn intersects(self, other: CueSet) -> bool {
        self.0 & other.0 != 0
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Cues that name what a number is: an immediate label or a column header with one of these
/// (and not the candidate's own) says the number is something else.
pub(crate) const IDENTIFIERS: CueSet = CueSet::of(&[
    Cue::MyNumber,
    Cue::Corporate,
    Cue::Card,
    Cue::Phone,
    Cue::Postal,
    Cue::Bank,
    Cue::Passport,
    Cue::Other,
]);

use Cue::*;

/// Context words, after normalisation (NFKC: ASCII letters, half-width katakana made full-width),
/// matched ASCII case-insensitively; words that begin or end with an ASCII letter must sit on
/// word boundaries (`tel` is not in `hotel`).
const WORDS: &[(&str, &[Cue])] = &[
    // My Number.
    ("個人番号", &[MyNumber]),
    ("マイナンバー", &[MyNumber]),
    ("通知カード", &[MyNumber]),
    ("マイナンバーカード", &[MyNumber]),
    ("個人番号カード", &[MyNumber]),
    ("my number", &[MyNumber]),
    ("mynumber", &[MyNumber]),
    ("my no", &[MyNumber]),
    ("individual number", &[MyNumber]),
    ("個人識別番号", &[MyNumber]),
    // Corporate number (and the invoice registration number, T + corporate number).
    ("法人番号", &[Corporate]),
    ("corporate number", &[Corporate]),
    ("登録番号", &[Corporate]),
    ("適格請求書", &[Corporate]),
    ("インボイス", &[Corporate]),
    ("invoice registration", &[Corporate]),
    ("registration number", &[Corporate]),
    ("事業者番号", &[Corporate]),
    // Cards.
    ("カード番号", &[Card]),
    ("カード", &[Card]),
    ("クレジット", &[Card]),
    ("credit card", &[Card]),
    ("card number", &[Card]),
    ("card no", &[Card]),
    ("card#", &[Card]),
    ("cc number", &[Card]),
    ("visa", &[Card]),
    ("mastercard", &[Card]),
    ("master card", &[Card]),
    ("jcb", &[Card]),
    ("amex", &[Card]),
    ("american express", &[Card]),
    ("diners", &[Card]),
    ("有効期限", &[Card]),
    ("expiry", &[Card]),
    ("expiration", &[Card]),
    ("セキュリティコード", &[Card]),
    ("cvv", &[Card]),
    ("cvc", &[Card]),
    ("デビット", &[Card]),
    ("debit card", &[Card]),
    // Phones.
    ("電話", &[Phone]),
    ("電話番号", &[Phone]),
    ("携帯番号", &[Phone]),
    ("tel", &[Phone]),
    ("call", &[Phone]),
    ("phone", &[Phone]),
    ("telephone", &[Phone]),
    ("携帯", &[Phone]),
    ("fax", &[Phone]),
    ("ファックス", &[Phone]),
    ("ファクス", &[Phone]),
    ("連絡先", &[Phone]),
    ("mobile", &[Phone]),
    ("cell", &[Phone]),
    ("代表", &[Phone]),
    ("内線", &[Phone]),
    ("問い合わせ", &[Phone]),
    ("問合せ", &[Phone]),
    ("お問合せ", &[Phone]),
    // Postal codes and addresses.
    ("郵便番号", &[Postal]),
    ("〒", &[Postal]),
    ("住所", &[Postal, Personal]),
    ("所在地", &[Postal]),
    ("postal", &[Postal]),
    ("zip", &[Postal]),
    ("postcode", &[Postal]),
    ("post code", &[Postal]),
    ("address", &[Postal, Personal]),
    // Bank accounts.
    ("口座番号", &[Bank]),
    ("口座", &[Bank]),
    ("銀行", &[Bank]),
    ("支店", &[Bank]),
    ("店番", &[Bank]),
    ("振込先", &[Bank]),
    ("振込", &[Bank]),
    ("預金", &[Bank]),
    ("信用金庫", &[Bank]),
    ("account number", &[Bank]),
    ("account no", &[Bank]),
    ("bank account", &[Bank]),
    ("bank", &[Bank]),
    ("branch", &[Bank]),
    ("acct", &[Bank]),
    ("普通", &[BankType]),
    ("当座", &[BankType]),
    ("貯蓄", &[BankType]),
    ("savings", &[BankType]),
    ("checking", &[BankType]),
    // Passports.
    ("旅券番号", &[Passport]),
    ("旅券", &[Passport]),
    ("パスポート", &[Passport]),
    ("passport", &[Passport]),
    // Personal data (context only: never a finding by itself).
    ("氏名", &[Personal]),
    ("名前", &[Personal]),
    ("フリガナ", &[Personal]),
    ("ふりがな", &[Personal]),
    ("生年月日", &[Personal]),
    ("性別", &[Personal]),
    ("社員名簿", &[Personal]),
    ("従業員", &[Personal]),
    ("本人", &[Personal]),
    ("扶養", &[Personal]),
    ("name", &[Personal]),
    ("date of birth", &[Personal]),
    ("birth", &[Personal]),
    ("dob", &[Personal]),
    ("employee", &[Personal]),
    // Other numbers.
    ("注文番号", &[Other]),
    ("伝票番号", &[Other]),
    ("受注番号", &[Other]),
    ("発注番号", &[Other]),
    ("janコード", &[Other]),
    ("jan code", &[Other]),
    ("バーコード", &[Other]),
    ("ポイントカード", &[Other]),
    ("会員カード", &[Other]),
    ("診察券", &[Other]),
    ("注文", &[Other]),
    ("伝票", &[Other]),
    ("問い合わせ番号", &[Other]),
    ("問合せ番号", &[Other]),
    ("追跡番号", &[Other]),
    ("受付番号", &[Other]),
    ("管理番号", &[Other]),
    ("会員番号", &[Other]),
    ("社員番号", &[Other]),
    ("従業員番号", &[Other]),
    ("職員番号", &[Other]),
    ("学籍番号", &[Other]),
    ("請求番号", &[Other]),
    ("請求書番号", &[Other]),
    ("取引番号", &[Other]),
    ("予約番号", &[Other]),
    ("整理番号", &[Other]),
    ("顧客番号", &[Other]),
    ("契約番号", &[Other]),
    ("証券番号", &[Other]),
    ("保険証", &[Other]),
    ("品番", &[Other]),
    ("型番", &[Other]),
    ("商品コード", &[Other]),
    ("製造番号", &[Other]),
    ("シリアル", &[Other]),
    ("ロット", &[Other]),
    ("参照番号", &[Other]),
    ("金額", &[Other]),
    ("合計", &[Other]),
    ("売上", &[Other]),
    ("serial", &[Other]),
    ("order", &[Other]),
    ("tracking", &[Other]),
    ("ticket", &[Other]),
    ("transaction", &[Other]),
    ("invoice no", &[Other]),
    ("invoice number", &[Other]),
    ("customer", &[Other]),
    ("isbn", &[Other]),
    ("jan", &[Other]),
    ("lot", &[Other]),
    ("reference", &[Other]),
    ("receipt", &[Other]),
    ("amount", &[Other]),
    ("total", &[Other]),
    ("price", &[Other]),
    // Addresses: the 47 prefectures.
    ("北海道", &[Address]),
    ("青森県", &[Address]),
    ("岩手県", &[Address]),
    ("宮城県", &[Address]),
    ("秋田県", &[Address]),
    ("山形県", &[Address]),
    ("福島県", &[Address]),
    ("茨城県", &[Address]),
    ("栃木県", &[Address]),
    ("群馬県", &[Address]),
    ("埼玉県", &[Address]),
    ("千葉県", &[Address]),
    ("東京都", &[Address]),
    ("神奈川県", &[Address]),
    ("新潟県", &[Address]),
    ("富山県", &[Address]),
    ("石川県", &[Address]),
    ("福井県", &[Address]),
    ("山梨県", &[Address]),
    ("長野県", &[Address]),
    ("岐阜県", &[Address]),
    ("静岡県", &[Address]),
    ("愛知県", &[Address]),
    ("三重県", &[Address]),
    ("滋賀県", &[Address]),
    ("京都府", &[Address]),
    ("大阪府", &[Address]),
    ("兵庫県", &[Address]),
    ("奈良県", &[Address]),
    ("和歌山県", &[Address]),
    ("鳥取県", &[Address]),
    ("島根県", &[Address]),
    ("岡山県", &[Address]),
    ("広島県", &[Address]),
    ("山口県", &[Address]),
    ("徳島県", &[Address]),
    ("香川県", &[Address]),
    ("愛媛県", &[Address]),
    ("高知県", &[Address]),
    ("福岡県", &[Address]),
    ("佐賀県", &[Address]),
    ("長崎県", &[Address]),
    ("熊本県", &[Address]),
    ("大分県", &[Address]),
    ("宮崎県", &[Address]),
    ("鹿児島県", &[Address]),
    ("沖縄県", &[Address]),
];

/// Words that give a whole document its context, found by a literal pass over the whole text
/// before anything is scored. Only the unambiguous ones: a document that says `マイナンバー`
/// anywhere makes its valid 12-digit numbers likely My Numbers, one that says `旅券番号` its
/// `TK1234567`s passport numbers — even where a table's layout is lost (a PDF whose cells
/// wrap) and no column header can be read.
pub(crate) const DOC_CUES: &[(&str, CueSet)] = &[
    ("個人番号", CueSet::of(&[MyNumber])),
    ("マイナンバー", CueSet::of(&[MyNumber])),
    ("my number", CueSet::of(&[MyNumber])),
    ("individual number", CueSet::of(&[MyNumber])),
    ("法人番号", CueSet::of(&[Corporate])),
    ("corporate number", CueSet::of(&[Corporate])),
    ("適格請求書", CueSet::of(&[Corporate])),
    ("カード番号", CueSet::of(&[Card])),
    ("クレジットカード", CueSet::of(&[Card])),
    ("credit card", CueSet::of(&[Card])),
    ("card number", CueSet::of(&[Card])),
    ("旅券番号", CueSet::of(&[Passport])),
    ("パスポート", CueSet::of(&[Passport])),
    ("passport", CueSet::of(&[Passport])),
];

/// One context word found.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) cues: CueSet,
    pub(crate) word: &'static str,
}

/// The context-word automaton; built once per detector.
#[derive(Debug)]
pub(crate) struct Context {
    ac: Option<AhoCorasick>,
}

impl Context {
    pub(crate) fn new() -> Context {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(WORDS.iter().map(|(w, _)| *w))
            .ok();
        Context { ac }
    }

    /// Every context word in `t[range]` (overlapping: `マイナンバーカード` holds two), on word
    /// boundaries judged against the whole text.
    pub(crate) fn hits(&self, t: &str, range: Range<usize>, out: &mut Vec<Hit>) {
        let Some(ac) = &self.ac else { return };
        let Some(hay) = t.get(range.clone()) else {
            return;
        };
        let bytes = t.as_bytes();
        for m in ac.find_overlapping_iter(hay) {
            let Some((word, cues)) = WORDS.get(m.pattern().as_usize()) else {
                continue;
            };
            let (start, end) = (range.start + m.start(), range.start + m.end());
            let wb = word.as_bytes();
            if wb.first().is_some_and(u8::is_ascii_alphabetic)
                && start > 0
                && bytes.get(start - 1).is_some_and(u8::is_ascii_alphabetic)
            {
                continue;
            }
            if wb.last().is_some_and(u8::is_ascii_alphabetic)
                && bytes.get(end).is_some_and(u8::is_ascii_alphabetic)
            {
                continue;
            }
            out.push(Hit {
                start,
                end,
                cues: CueSet::of(cues),
                word,
            });
        }
    }

    /// The cues in `t[range]` and the first word of each.
    pub(crate) fn cues(&self, t: &str, range: Range<usize>) -> (CueSet, Vec<Hit>) {
        let mut hits = Vec::new();
        self.hits(t, range, &mut hits);
        let set = hits.iter().fold(CueSet::EMPTY, |s, h| s.union(h.cues));
        (set, hits)
    }
}

/// The context of one candidate.
#[derive(Debug, Default)]
pub(crate) struct Around {
    /// Words in the window, in text order.
    pub(crate) near: Vec<Hit>,
    /// Cues of the immediate label (see the module documentation).
    pub(crate) immediate: CueSet,
    pub(crate) immediate_word: Option<&'static str>,
    /// Cues of the column header and its first word, when the candidate is in a table whose
    /// header cell has any: the cell at the same index and, when the header row has another
    /// number of cells, the one at the same place from the right ([`column_of`]).
    pub(crate) header: [Option<(CueSet, &'static str)>; 2],
    /// Document-wide cues.
    pub(crate) doc: CueSet,
    /// Cues on the candidate's own line, and that line's byte range.
    pub(crate) line_cues: CueSet,
    pub(crate) line: (usize, usize),
    /// Other numbers of 8 or more digits within [`NEIGHBOURS`] characters: on the same line,
    /// or alone on a neighbouring line (a list of numbers).
    pub(crate) long_numbers: usize,
}

/// Separators allowed between an immediate label and its number: spaces, colons, brackets,
/// `No.`, `は`, `の`.
fn label_gap(gap: &str) -> bool {
    gap.chars().count() <= 8
        && gap.chars().all(|c| {
            matches!(
                c,
                ' ' | '\t'
                    | ':'
                    | '='
                    | '#'
                    | '.'
                    | '-'
                    | '/'
                    | '|'
                    | '('
                    | ')'
                    | '['
                    | ']'
                    | '「'
                    | '」'
                    | '【'
                    | '】'
                    | '『'
                    | '』'
                    | '<'
                    | '>'
                    | '"'
                    | '\''
                    | 'は'
                    | 'の'
                    | '、'
                    | ','
                    | 'N'
                    | 'n'
                    | 'o'
                    | 'O'
                    | '〔'
                    | '〕'
            )
        })
}

/// Remembers the header of the table being scanned, so a long table is not searched upwards
/// for every row (candidates come in text order).
#[derive(Debug, Default)]
pub(crate) struct TableCache {
    delimiter: u8,
    /// Byte offset of the start of the header line and its cells' cues.
    header_start: usize,
    cells: Vec<Option<(CueSet, &'static str)>>,
    /// Start of the last line known to belong to the table.
    checked: usize,
    valid: bool,
}

/// Most lines searched upwards for a header.
const MAX_HEADER_DISTANCE: usize = 200;

impl Context {
    /// The context of the candidate at `t[span]`.
    pub(crate) fn around(
        &self,
        t: &str,
        span: Range<usize>,
        doc: CueSet,
        table: &mut TableCache,
    ) -> Around {
        let w = normalize::window(t, span.clone(), BEFORE, AFTER);
        let (_, near) = self.cues(t, w.clone());
        // The immediate label: the word ending nearest before the number with only separators
        // between (the longest of those ending there: `マイナンバーカード`, not `カード`), else a
        // word in brackets right after it.
        let before = near
            .iter()
            .filter(|h| h.end <= span.start && t.get(h.end..span.start).is_some_and(label_gap))
            .max_by_key(|h| (h.end, h.end - h.start));
        let after = near
            .iter()
            .filter(|h| {
                h.start >= span.end
                    && t.get(span.end..h.start).is_some_and(|g| {
                        g.trim_start().starts_with(['(', '[', '【', '「']) && g.chars().count() <= 3
                    })
            })
            .min_by_key(|h| (h.start, std::cmp::Reverse(h.end - h.start)));
        let (mut immediate, mut immediate_word) = match before.or(after) {
            Some(h) => (h.cues, Some(h.word)),
            None => (CueSet::EMPTY, None),
        };
        // A label this vocabulary does not know (`伝票番号`, `社員ID`) still says the number
        // is something named.
        if immediate.is_empty()
            && let Some((word, at)) = generic_label(t, span.start)
        {
            // `パスポート番号`: the word before the suffix says which number.
            match near
                .iter()
                .filter(|h| h.end == at)
                .max_by_key(|h| h.end - h.start)
            {
                Some(h) => {
                    immediate = h.cues;
                    immediate_word = Some(h.word);
                }
                None => {
                    immediate = CueSet::of(&[Other]);
                    immediate_word = Some(word);
                }
            }
        }
        let (ls, le) = line_bounds(t, span.clone());
        let line_cues = near
            .iter()
            .filter(|h| h.start >= ls && h.end <= le)
            .fold(CueSet::EMPTY, |s, h| s.union(h.cues));
        let header = self.column_header(t, span.start, table).unwrap_or_default();
        let long_numbers = long_numbers(
            t,
            normalize::window(t, span.clone(), NEIGHBOURS, NEIGHBOURS),
            span,
        );
        Around {
            near,
            immediate,
            immediate_word,
            header,
            doc,
            long_numbers,
            line_cues,
            line: (ls, le),
        }
    }

    /// The cues of the header cell above the column holding `pos`, if `pos` is in a delimited
    /// line under a header with cues in that column.
    fn column_header(
        &self,
        t: &str,
        pos: usize,
        cache: &mut TableCache,
    ) -> Option<[Option<(CueSet, &'static str)>; 2]> {
        let b = t.as_bytes();
        let ls = memchr::memrchr(b'\n', b.get(..pos)?).map_or(0, |i| i + 1);
        let le = memchr::memchr(b'\n', b.get(pos..)?).map_or(b.len(), |i| pos + i);
        let line = b.get(ls..le)?;
        let delimiter = delimiter_of(line)?;
        let col = cells(line, delimiter)
            .position(|r| ls + r.end >= pos)
            .unwrap_or(0);
        let row_cells = cells(line, delimiter).count();
        if cache.valid
            && !cache.cells.is_empty()
            && cache.delimiter == delimiter
            && cache.header_start < ls
            && cache.checked <= ls
        {
            // Every line from the last checked one to this one must still be a table row.
            let mut ok = true;
            let mut at = cache.checked;
            while at < ls {
                let end = memchr::memchr(b'\n', b.get(at..)?).map_or(b.len(), |i| at + i);
                if !has_delimiter(b.get(at..end)?, delimiter) {
                    ok = false;
                    break;
                }
                at = end + 1;
            }
            if ok {
                cache.checked = ls;
                return Some(header_cell(&cache.cells, col, row_cells));
            }
        }
        // Lines at or above a row already searched from (with no header found) need not be
        // searched again: a table of many rows without a header costs one walk, not one each.
        let stop_at = if cache.valid
            && cache.cells.is_empty()
            && cache.delimiter == delimiter
            && cache.checked <= ls
        {
            cache.checked
        } else {
            0
        };
        *cache = TableCache {
            delimiter,
            header_start: ls,
            cells: Vec::new(),
            checked: ls,
            valid: true,
        };
        // Walk up at most MAX_HEADER_DISTANCE delimited lines for a header cell with cues.
        let mut end = ls.checked_sub(1)?;
        for _ in 0..MAX_HEADER_DISTANCE {
            let start = memchr::memrchr(b'\n', b.get(..end)?).map_or(0, |i| i + 1);
            let prev = b.get(start..end)?;
            if start < stop_at || !has_delimiter(prev, delimiter) {
                break;
            }
            let header_cells = cells(prev, delimiter).count();
            let has_cues = column_of(col, row_cells, header_cells)
                .into_iter()
                .flatten()
                .filter_map(|c| cells(prev, delimiter).nth(c))
                .any(|r| !self.cues(t, start + r.start..start + r.end).0.is_empty());
            if has_cues && !looks_like_data(t.get(start..end)?) {
                let cells: Vec<_> = (0..header_cells)
                    .map(|c| {
                        let r = cells(prev, delimiter).nth(c)?;
                        let (cs, hs) = self.cues(t, start + r.start..start + r.end);
                        hs.first().map(|h| (cs, h.word))
                    })
                    .collect();
                let found = header_cell(&cells, col, row_cells);
                *cache = TableCache {
                    delimiter,
                    header_start: start,
                    cells,
                    checked: ls,
                    valid: true,
                };
                return Some(found);
            }
            let Some(e) = start.checked_sub(1) else { break };
            end = e;
        }
        None
    }
}

/// The header cells over column `col` of a row of `row_cells` cells: the cell at the same
/// index and, when the header has fewer cells than the row, the one at the same place from the
/// right — a header whose first cells ran together (`No. 氏名` in a PDF, where the gap was
/// narrow) still finds its column. A row with fewer cells than the header is another table
/// or a ragged row, read from the left only.
fn column_of(col: usize, row_cells: usize, header_cells: usize) -> [Option<usize>; 2] {
    let left = (col < header_cells).then_some(col);
    let right = if row_cells <= header_cells {
        None
    } else {
        let from_end = row_cells.checked_sub(col + 1);
        from_end.and_then(|k| header_cells.checked_sub(k + 1))
    };
    [left, right.filter(|r| Some(*r) != left)]
}

/// The cues and first word of the header cells over column `col` (see [`column_of`]).
fn header_cell(
    cells: &[Option<(CueSet, &'static str)>],
    col: usize,
    row_cells: usize,
) -> [Option<(CueSet, &'static str)>; 2] {
    column_of(col, row_cells, cells.len()).map(|c| c.and_then(|c| cells.get(c).copied().flatten()))
}

/// The byte range of the line holding `span`.
fn line_bounds(t: &str, span: Range<usize>) -> (usize, usize) {
    let b = t.as_bytes();
    let ls = b
        .get(..span.start)
        .and_then(|x| memchr::memrchr(b'\n', x))
        .map_or(0, |i| i + 1);
    let le = b
        .get(span.end..)
        .and_then(|x| memchr::memchr(b'\n', x))
        .map_or(b.len(), |i| span.end + i);
    (ls, le)
}

/// Words that end a label of some number: `…番号`, `…コード`, `…ID`, `…No.`; the suffix and
/// where it starts.
fn generic_label(t: &str, start: usize) -> Option<(&'static str, usize)> {
    let before = t
        .get(..start)?
        .trim_end_matches([' ', ':', '：', '=', '#', '.', '\t', '「', '【', '[', '(']);
    [
        "番号",
        "コード",
        "ID",
        "Id",
        "No",
        "NO",
        "Number",
        "number",
        "NUMBER",
        "番",
    ]
    .into_iter()
    .find(|w| {
        before.ends_with(w)
            && !(w.is_ascii()
                && before
                    .get(..before.len() - w.len())
                    .and_then(|p| p.chars().next_back())
                    .is_some_and(|c| c.is_ascii_alphabetic()))
    })
    .map(|w| (w, before.len() - w.len()))
}

/// The numbers of 8 or more digits (single spaces and hyphens between digits allowed) in
/// `t[window]` that do not overlap `span`, and are on the same line or alone on theirs.
fn long_numbers(t: &str, window: Range<usize>, span: Range<usize>) -> usize {
    let b = t.as_bytes();
    let mut count = 0;
    let mut i = window.start;
    while i < window.end {
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = 0;
        while i < window.end {
            match b.get(i) {
                Some(d) if d.is_ascii_digit() => digits += 1,
                Some(b' ' | b'-') if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {}
                _ => break,
            }
            i += 1;
        }
        if digits >= 8 && (i <= span.start || start >= span.end) {
            let (ls, le) = line_bounds(t, span.clone());
            let same_line = start >= ls && i <= le;
            let (ols, ole) = line_bounds(t, start..i);
            let alone = t
                .get(ols..ole)
                .is_some_and(|l| l.trim().trim_end_matches([',', ';']).len() == i - start);
            if same_line || alone {
                count += 1;
            }
        }
    }
    count
}

/// The "delimiter" of fixed-width text tables, whose cells are apart by two spaces or more
/// (after normalisation, ideographic spaces too).
const ALIGNED: u8 = b' ';

/// How `line` is split into cells: by the most frequent of tab, `|` and `,` (a CSV cell may
/// hold `Co., Ltd.`, a `|` table a comma), else by runs of spaces when there are at least
/// three cells.
fn delimiter_of(line: &[u8]) -> Option<u8> {
    [b'\t', b'|', b',']
        .into_iter()
        .enumerate()
        .map(|(order, d)| {
            (
                memchr::memchr_iter(d, line).count(),
                std::cmp::Reverse(order),
                d,
            )
        })
        .filter(|(n, _, _)| *n > 0)
        .max()
        .map(|(_, _, d)| d)
        .or_else(|| has_delimiter(line, ALIGNED).then_some(ALIGNED))
}

/// Whether `line` is split by `delimiter` (for [`ALIGNED`]: into three cells or more).
fn has_delimiter(line: &[u8], delimiter: u8) -> bool {
    if delimiter == ALIGNED {
        cells(line, ALIGNED).nth(2).is_some()
    } else {
        memchr::memchr(delimiter, line).is_some()
    }
}

/// The byte ranges of the cells of a delimited line. A cell that starts with `"` runs to its
/// closing quote (`""` inside is a quote), so a quoted `"Yamato Seiki Co., Ltd."` in a CSV
/// is one cell, as a spreadsheet reads it.
fn cells(line: &[u8], delimiter: u8) -> Box<dyn Iterator<Item = Range<usize>> + '_> {
    if delimiter == ALIGNED {
        return Box::new(aligned_cells(line));
    }
    let mut start = Some(0);
    Box::new(std::iter::from_fn(move || {
        let s = start?;
        let mut i = s;
        if line.get(i) == Some(&b'"') {
            i += 1;
            while i < line.len() {
                match (line.get(i), line.get(i + 1)) {
                    (Some(b'"'), Some(b'"')) => i += 2,
                    (Some(b'"'), _) => {
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
        }
        let end = memchr::memchr(delimiter, line.get(i..).unwrap_or_default()).map(|d| i + d);
        start = end.map(|e| e + 1);
        Some(s..end.unwrap_or(line.len()))
    }))
}

/// The cells of a fixed-width line: text apart by two spaces or more (one space is inside a
/// cell: `Daisuke Matsumoto`). Leading spaces are not a cell.
fn aligned_cells(line: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        while line.get(at) == Some(&b' ') {
            at += 1;
        }
        if at >= line.len() {
            return None;
        }
        let s = at;
        let end = memchr::memmem::find(line.get(s..).unwrap_or_default(), b"  ")
            .map_or(line.len(), |d| s + d);
        at = end;
        Some(s..end)
    })
}

/// A header line has words, not long numbers: a data row whose text happens to contain a cue
/// (an address cell with `〒`) is not a header.
fn looks_like_data(line: &str) -> bool {
    let mut run = 0;
    for b in line.bytes() {
        if b.is_ascii_digit() {
            run += 1;
            if run >= 7 {
                return true;
            }
        } else if b != b'-' && b != b' ' {
            run = 0;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near_cues(a: &Around) -> CueSet {
        a.near.iter().fold(CueSet::EMPTY, |s, h| s.union(h.cues))
    }

    fn around(t: &str, needle: &str) -> Around {
        let s = t.find(needle).unwrap_or_default();
        Context::new().around(
            t,
            s..s + needle.len(),
            CueSet::EMPTY,
            &mut TableCache::default(),
        )
    }

    #[test]
    fn window_words_and_boundaries() {
        let a = around("ホテル hotel 12345678 tel", "12345678");
        assert!(near_cues(&a).contains(Phone));
        assert_eq!(a.near.len(), 1, "{:?}", a.near);
        let a = around("マイナンバーカード 123456789012", "123456789012");
        assert!(near_cues(&a).contains(MyNumber));
        assert!(a.immediate.contains(MyNumber));
    }

    #[test]
    fn immediate_label() {
        let a = around("個人番号と注文番号: 123456789012", "123456789012");
        assert!(near_cues(&a).contains(MyNumber));
        assert!(a.immediate.contains(Other));
        assert!(!a.immediate.contains(MyNumber));
        assert_eq!(a.immediate_word, Some("注文番号"));
        let a = around("123456789012 (個人番号)", "123456789012");
        assert!(a.immediate.contains(MyNumber));
        let a = around("個人番号について説明します。123456789012", "123456789012");
        assert!(a.immediate.is_empty());
    }

    #[test]
    fn quoted_cells_and_merged_headers() {
        let line = br#""Yamato Seiki Co., Ltd.",Megumi Sato,"say ""hi"", then",0356576453"#;
        let got: Vec<&[u8]> = cells(line, b',').map(|r| &line[r]).collect();
        assert_eq!(
            got,
            [
                &br#""Yamato Seiki Co., Ltd.""#[..],
                b"Megumi Sato",
                br#""say ""hi"", then""#,
                b"0356576453"
            ]
        );
        let t = "Company,Contact,Phone\n\"Yamato Seiki Co., Ltd.\",Megumi Sato,0356576453\n";
        let a = around(t, "0356576453");
        assert!(a.header[0].is_some_and(|(c, _)| c.contains(Phone)), "{a:?}");
        // A header whose first two cells ran together (a PDF's narrow gap): the column is
        // found from the right as well.
        let t = "No. 氏名\t個人番号\t支払金額\n1\t鈴木 亮\t990799095084\t5,600,000\n";
        let a = around(t, "990799095084");
        assert!(
            a.header.iter().flatten().any(|(c, _)| c.contains(MyNumber)),
            "{a:?}"
        );
        // A row with fewer cells than the header is read from the left only.
        let t = "コード\t名称\t登録番号\t電話番号\n4547544216666\t保守\n";
        let a = around(t, "4547544216666");
        assert!(
            !a.header
                .iter()
                .flatten()
                .any(|(c, _)| c.contains(Corporate)),
            "{a:?}"
        );
    }

    #[test]
    fn column_header_far_above() {
        let mut t = String::from("氏名\t個人番号\t電話番号\n");
        for i in 0..150 {
            t.push_str(&format!("山田{i}\t1234567890{i:02}\t03-1234-{i:04}\n"));
        }
        let ctx = Context::new();
        let mut cache = TableCache::default();
        let mut seen = 0;
        for (i, line) in t.lines().enumerate().skip(1) {
            let off = t.find(line).unwrap_or_default();
            let tab = line.find('\t').unwrap_or_default() + 1;
            let a = ctx.around(&t, off + tab..off + tab + 12, CueSet::EMPTY, &mut cache);
            let (cues, word) = a.header[0].unwrap_or((CueSet::EMPTY, ""));
            assert!(cues.contains(MyNumber), "row {i}");
            assert_eq!(word, "個人番号");
            let tab2 = line.rfind('\t').unwrap_or_default() + 1;
            let a = ctx.around(&t, off + tab2..off + tab2 + 12, CueSet::EMPTY, &mut cache);
            assert!(a.header[0].is_some_and(|(c, _)| c.contains(Phone)));
            seen += 1;
        }
        assert_eq!(seen, 150);
    }

    #[test]
    fn header_below_a_preamble_row_and_tables_without_header() {
        let t = "会社,株式会社X,法人番号,7000012050002\n氏名,個人番号\n山田,123456789018\n";
        let ctx = Context::new();
        let mut cache = TableCache::default();
        let corp = t.find("7000012050002").unwrap_or_default();
        let a = ctx.around(t, corp..corp + 13, CueSet::EMPTY, &mut cache);
        assert!(a.header == [None, None]);
        let my = t.find("123456789018").unwrap_or_default();
        let a = ctx.around(t, my..my + 12, CueSet::EMPTY, &mut cache);
        assert!(
            a.header[0].is_some_and(|(c, _)| c.contains(MyNumber)),
            "{a:?}"
        );
        // Many rows, no header: every row answers None (and quickly: one walk in all).
        let mut t = String::new();
        for i in 0..5000 {
            t.push_str(&format!("{i},4111111111111111\n"));
        }
        let mut cache = TableCache::default();
        for (i, _) in t.match_indices("4111111111111111") {
            assert!(ctx.around(&t, i..i + 16, CueSet::EMPTY, &mut cache).header == [None, None]);
        }
    }

    #[test]
    fn no_header_outside_tables() {
        let t = "個人番号\n\n123456789012";
        let a = around(t, "123456789012");
        assert!(a.header == [None, None]);
        let t = "a,b\n個人番号,x\nfoo\n1,123456789012";
        let a = around(t, "123456789012");
        assert!(
            a.header == [None, None],
            "a line without delimiters ends the table"
        );
    }
}
