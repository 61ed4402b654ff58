//! Text encodings, and the text of HTML and RTF.
//!
//! Japanese files come in UTF-8, UTF-16 (with or without a byte-order mark, from Windows
//! tools), Shift_JIS (really Windows-31J, with the NEC and IBM extensions: ①, ㈱), EUC-JP
//! (Unix systems) and ISO-2022-JP (mail). The order of the checks matters: byte-order marks
//! are certain; UTF-16 shows itself by NUL bytes in every other position and by decoding to
//! plausible characters; ISO-2022-JP is 7-bit with escape sequences (so it must be caught
//! before "ASCII, hence UTF-8"); valid UTF-8 is almost never an accident; and only then are
//! legacy multi-byte encodings guessed — by `chardetng` (Mozilla's detector, told to favour
//! Japanese) corrected by which of Shift_JIS and EUC-JP decodes without errors into
//! Japanese-looking characters, because short texts are where detectors disagree.

use encoding_rs::{EUC_JP, Encoding, ISO_2022_JP, SHIFT_JIS, UTF_16BE, UTF_16LE};

use super::Content;

/// A detected text encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enc {
    Utf8 {
        bom: bool,
    },
    Utf16Le {
        bom: bool,
    },
    Utf16Be {
        bom: bool,
    },
    /// A legacy encoding (including ISO-2022-JP), decoded by `encoding_rs`.
    Legacy(&'static Encoding),
}

impl Enc {
    /// The name reported in [`super::Part::encoding`].
    pub(crate) fn name(self) -> &'static str {
        match self {
            Enc::Utf8 { .. } => "UTF-8",
            Enc::Utf16Le { .. } => "UTF-16LE",
            Enc::Utf16Be { .. } => "UTF-16BE",
            Enc::Legacy(e) => e.name(),
        }
    }
}

/// The encoding of `sample` (the first bytes of a file), or `None` when it is not text.
pub(crate) fn sniff(sample: &[u8]) -> Option<Enc> {
    if sample.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Some(Enc::Utf8 { bom: true });
    }
    if sample.starts_with(&[0xFF, 0xFE]) {
        return Some(Enc::Utf16Le { bom: true });
    }
    if sample.starts_with(&[0xFE, 0xFF]) {
        return Some(Enc::Utf16Be { bom: true });
    }
    let nuls = sample.iter().filter(|&&b| b == 0).count();
    if nuls > 0 {
        if let Some(enc) = utf16_guess(sample) {
            return Some(enc);
        }
        // A stray NUL in a long log is still text; more is binary.
        if nuls > 2 && nuls * 1000 > sample.len() {
            return None;
        }
    }
    let controls = sample
        .iter()
        .filter(|&&b| matches!(b, 0x00..=0x08 | 0x0E..=0x1A | 0x1C..=0x1F | 0x7F))
        .count();
    if controls > 2 && controls * 100 > sample.len() {
        return utf16_guess(sample);
    }
    if sample.is_ascii() {
        if is_iso2022jp(sample) {
            return Some(Enc::Legacy(ISO_2022_JP));
        }
        return Some(Enc::Utf8 { bom: false });
    }
    if valid_utf8_prefix(sample) {
        return Some(Enc::Utf8 { bom: false });
    }
    Some(Enc::Legacy(legacy_guess(sample)))
}

/// Whether `sample` is UTF-8, allowing a sequence cut at its very end.
fn valid_utf8_prefix(sample: &[u8]) -> bool {
    match std::str::from_utf8(sample) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && sample.len() - e.valid_up_to() < 4,
    }
}

/// ISO-2022-JP: 7-bit with the escape sequences that switch to JIS X 0208/0212 or the
/// half-width katakana set.
fn is_iso2022jp(sample: &[u8]) -> bool {
    const ESCAPES: [&[u8]; 7] = [b"$B", b"$@", b"$(D", b"$(O", b"$(Q", b"(J", b"(I"];
    sample
        .iter()
        .enumerate()
        .any(|(i, &b)| b == 0x1B && ESCAPES.iter().any(|e| sample[i + 1..].starts_with(e)))
}

/// UTF-16 without a byte-order mark: the orientation whose code units are almost all
/// plausible characters (ASCII text shows NULs in every other byte; Japanese text decodes to
/// kana and kanji).
fn utf16_guess(sample: &[u8]) -> Option<Enc> {
    if sample.len() < 4 {
        return None;
    }
    let score = |le: bool| {
        let units = sample.chunks_exact(2).map(|p| {
            if le {
                u16::from_le_bytes([p[0], p[1]])
            } else {
                u16::from_be_bytes([p[0], p[1]])
            }
        });
        let mut total = 0usize;
        let mut good = 0usize;
        for r in char::decode_utf16(units) {
            total += 1;
            if let Ok(c) = r
                && plausible_char(c)
            {
                good += 1;
            }
        }
        if total == 0 {
            0.0
        } else {
            good as f64 / total as f64
        }
    };
    let (le, be) = (score(true), score(false));
    if le >= 0.95 && le >= be {
        Some(Enc::Utf16Le { bom: false })
    } else if be >= 0.95 {
        Some(Enc::Utf16Be { bom: false })
    } else {
        None
    }
}

/// Characters that make up real text in the languages we expect.
fn plausible_char(c: char) -> bool {
    matches!(c as u32,
        0x09 | 0x0A | 0x0D | 0x20..=0x7E | 0xA0..=0x24F | 0x370..=0x52F | 0x2000..=0x206F | 0x2100..=0x27BF
        | 0x2E80..=0x2FDF | 0x3000..=0x30FF | 0x3200..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFFEF | 0x1F300..=0x1FAFF | 0x20000..=0x2FA1F)
}

/// How Japanese the non-ASCII characters of `s` look (1.0 when there are none): kana, kanji,
/// full-width forms and the symbols of JIS X 0208 count fully, half-width katakana half (it is
/// rare in real text but what EUC-JP bytes look like when read as Shift_JIS).
fn japanese_score(s: &str) -> f64 {
    let mut total = 0.0;
    let mut good = 0.0;
    for c in s.chars().filter(|c| !c.is_ascii()) {
        total += 1.0;
        good += match c as u32 {
            0x3000..=0x30FF
            | 0x4E00..=0x9FFF
            | 0xFF01..=0xFF5E
            | 0x2010..=0x203B
            | 0x2190..=0x22FF
            | 0x2460..=0x24FF
            | 0x2500..=0x257F
            | 0x25A0..=0x26FF
            | 0x3200..=0x33FF
            | 0x391..=0x3C9
            | 0x401..=0x451
            | 0xA7
            | 0xA8
            | 0xB0
            | 0xB1
            | 0xB4
            | 0xB6
            | 0xD7
            | 0xF7 => 1.0,
            0xFF61..=0xFF9F => 0.5,
            _ => 0.0,
        };
    }
    if total == 0.0 { 1.0 } else { good / total }
}

/// Decode errors and the Japanese score of `sample` read as `enc` (a trailing cut sequence is
/// not an error).
fn judge(enc: &'static Encoding, sample: &[u8]) -> (usize, f64) {
    let s = decode_prefix(sample, Enc::Legacy(enc), sample.len());
    let errors = s.chars().filter(|&c| c == '\u{FFFD}').count();
    (errors, japanese_score(&s))
}

/// Guesses a legacy multi-byte or single-byte encoding.
fn legacy_guess(sample: &[u8]) -> &'static Encoding {
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow);
    detector.feed(sample, false);
    let guess = detector.guess(Some(b"jp"), chardetng::Utf8Detection::Allow);
    let (sj_err, sj_score) = judge(SHIFT_JIS, sample);
    let (eu_err, eu_score) = judge(EUC_JP, sample);
    let best = if (sj_err, -sj_score) <= (eu_err, -eu_score) {
        (SHIFT_JIS, sj_err, sj_score)
    } else {
        (EUC_JP, eu_err, eu_score)
    };
    // Kana and kanji in UTF-16 without a byte-order mark and without any ASCII (so without
    // NULs) look like legacy bytes; they are only taken for UTF-16 when neither Japanese
    // legacy encoding can read them.
    if sj_err > 0 && eu_err > 0 {
        for utf16 in [UTF_16LE, UTF_16BE] {
            let s = utf16.decode_without_bom_handling(sample).0;
            let total = s.chars().count().max(1);
            let kana = s
                .chars()
                .filter(|c| matches!(*c as u32, 0x3040..=0x30FF))
                .count();
            let plausible = s.chars().filter(|&c| plausible_char(c)).count();
            if kana * 5 >= total && plausible * 20 >= total * 19 {
                return utf16;
            }
        }
    }
    if guess == SHIFT_JIS || guess == EUC_JP {
        let guess_err = if guess == SHIFT_JIS { sj_err } else { eu_err };
        return if guess_err > 0 && best.1 == 0 {
            best.0
        } else {
            guess
        };
    }
    // chardetng's CJK verdicts (GBK, Big5, EUC-KR) stand; a single-byte verdict yields to a
    // Japanese encoding that decodes cleanly into Japanese-looking text.
    let cjk = guess == encoding_rs::GBK
        || guess == encoding_rs::GB18030
        || guess == encoding_rs::BIG5
        || guess == encoding_rs::EUC_KR;
    if !cjk && best.1 == 0 && best.2 >= 0.8 {
        return best.0;
    }
    guess
}

/// Decodes at most the first `max` bytes of `bytes` (a sequence cut at the end is dropped).
pub(crate) fn decode_prefix(bytes: &[u8], enc: Enc, max: usize) -> String {
    let cut = &bytes[..bytes.len().min(max)];
    let (encoding, skip) = encoding_of(enc);
    let src = cut.get(skip..).unwrap_or(&[]);
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(
        decoder
            .max_utf8_buffer_length(src.len())
            .unwrap_or(src.len())
            .min(64 << 20),
    );
    let _ = decoder.decode_to_string(src, &mut out, cut.len() == bytes.len());
    out
}

/// The `encoding_rs` encoding for `enc` and the length of its byte-order mark.
fn encoding_of(enc: Enc) -> (&'static Encoding, usize) {
    match enc {
        Enc::Utf8 { bom } => (encoding_rs::UTF_8, if bom { 3 } else { 0 }),
        Enc::Utf16Le { bom } => (UTF_16LE, if bom { 2 } else { 0 }),
        Enc::Utf16Be { bom } => (UTF_16BE, if bom { 2 } else { 0 }),
        Enc::Legacy(e) => (e, 0),
    }
}

/// Decodes all of `bytes` as `enc` (invalid sequences become U+FFFD).
pub(crate) fn decode(bytes: &[u8], enc: Enc) -> String {
    let (encoding, skip) = encoding_of(enc);
    let src = bytes.get(skip..).unwrap_or(&[]);
    if encoding == encoding_rs::UTF_8 {
        return String::from_utf8_lossy(src).into_owned();
    }
    encoding.decode_without_bom_handling(src).0.into_owned()
}

/// Detects the encoding of `bytes` and decodes them; `None` for binary data.
pub(crate) fn decode_detected(bytes: &[u8]) -> Option<(String, Enc)> {
    let enc = sniff_file(bytes)?;
    Some((decode(bytes, enc), enc))
}

/// The encoding of a whole file: [`sniff`] on its first 64 KiB, except that a pure-ASCII
/// start says nothing about what follows (an English log whose Japanese lines begin after
/// the sample): then the first non-ASCII stretch decides.
fn sniff_file(bytes: &[u8]) -> Option<Enc> {
    let sample = &bytes[..bytes.len().min(64 << 10)];
    let enc = sniff(sample)?;
    if enc != (Enc::Utf8 { bom: false }) || !sample.is_ascii() || bytes.len() == sample.len() {
        return Some(enc);
    }
    let Some(first) = bytes.iter().position(|&b| b >= 0x80 || b == 0x1B) else {
        return Some(enc);
    };
    let window = &bytes[first..bytes.len().min(first + (64 << 10))];
    if bytes[first] == 0x1B {
        return Some(if is_iso2022jp(window) {
            Enc::Legacy(ISO_2022_JP)
        } else {
            enc
        });
    }
    if valid_utf8_prefix(window) {
        return Some(enc);
    }
    Some(Enc::Legacy(legacy_guess(window)))
}

/// A text or CSV file.
pub(crate) fn read_text(bytes: &[u8]) -> Content {
    let enc = sniff_file(bytes).unwrap_or(Enc::Utf8 { bom: false });
    Content {
        text: Some(decode(bytes, enc)),
        encoding: Some(enc.name().to_owned()),
        ..Content::default()
    }
}

/// An HTML page: the encoding its `<meta charset>` declares when that decodes cleanly, else
/// the detected one; the text without markup.
pub(crate) fn read_html(bytes: &[u8]) -> Content {
    let sniffed = sniff_file(bytes).unwrap_or(Enc::Utf8 { bom: false });
    let mut enc = sniffed;
    if matches!(sniffed, Enc::Utf8 { bom: false } | Enc::Legacy(_))
        && let Some(declared) = meta_charset(&bytes[..bytes.len().min(4096)])
        && declared != UTF_16LE
        && declared != UTF_16BE
        && declared
            .decode_without_bom_handling_and_without_replacement(bytes)
            .is_some()
    {
        enc = if declared == encoding_rs::UTF_8 {
            Enc::Utf8 { bom: false }
        } else {
            Enc::Legacy(declared)
        };
    }
    let html = decode(bytes, enc);
    Content {
        text: Some(html_to_text(&html)),
        encoding: Some(enc.name().to_owned()),
        ..Content::default()
    }
}

/// The encoding named by `charset=` in the first kilobytes of an HTML page.
fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let lower = head.to_ascii_lowercase();
    let at = super::detect::memfind(&lower, b"charset=")? + 8;
    let rest = &lower[at..];
    let rest = rest
        .strip_prefix(b"\"")
        .or_else(|| rest.strip_prefix(b"'"))
        .unwrap_or(rest);
    let end = rest
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .unwrap_or(rest.len());
    Encoding::for_label(&rest[..end])
}

/// The text of an HTML document: no tags, comments, scripts or styles; block elements become
/// line breaks and table cells tabs; entities decoded; runs of white space collapsed.
pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower_at = |i: usize, pat: &str| {
        html.get(i..i + pat.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(pat))
    };
    let bytes = html.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'<' {
            if lower_at(i, "<!--") {
                i = find_from(html, i + 4, "-->").map_or(bytes.len(), |e| e + 3);
                continue;
            }
            let end = find_byte(bytes, i + 1, b'>').unwrap_or(bytes.len());
            let tag = &html[i + 1..end.min(html.len())];
            let closing = tag.starts_with('/');
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            i = end.saturating_add(1);
            if !closing
                && matches!(name.as_str(), "script" | "style" | "template" | "head")
                && !tag.ends_with('/')
            {
                let close = format!("</{name}");
                // Skip to the closing tag; `<head>` is skipped only up to its end, keeping
                // the page's body.
                let mut j = i;
                loop {
                    match find_byte(bytes, j, b'<') {
                        Some(k) if lower_at(k, &close) => {
                            i = find_byte(bytes, k, b'>').map_or(bytes.len(), |e| e + 1);
                            break;
                        }
                        Some(k) => j = k + 1,
                        None => {
                            i = bytes.len();
                            break;
                        }
                    }
                }
                if name == "head" {
                    push_break(&mut out, '\n');
                }
                continue;
            }
            match name.as_str() {
                "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6"
                | "table" | "ul" | "ol" | "dl" | "dt" | "dd" | "section" | "article" | "header"
                | "footer" | "blockquote" | "pre" | "hr" | "title" | "form" | "nav" | "main"
                | "address" | "caption" => push_break(&mut out, '\n'),
                "td" | "th" if !closing => push_break(&mut out, '\t'),
                _ => {}
            }
            continue;
        }
        if b == b'&' {
            if let Some((c, len)) = entity(&html[i..]) {
                push_char(&mut out, c);
                i += len;
                continue;
            }
            out.push('&');
            i += 1;
            continue;
        }
        let Some(c) = html[i..].chars().next() else {
            break;
        };
        push_char(&mut out, c);
        i += c.len_utf8();
    }
    out.trim().to_owned()
}

fn find_byte(bytes: &[u8], from: usize, b: u8) -> Option<usize> {
    bytes
        .get(from..)?
        .iter()
        .position(|&x| x == b)
        .map(|p| p + from)
}

fn find_from(s: &str, from: usize, pat: &str) -> Option<usize> {
    s.get(from..)?.find(pat).map(|p| p + from)
}

/// Appends `c`, collapsing white space the way a browser renders it.
fn push_char(out: &mut String, c: char) {
    if c.is_whitespace() && c != '\u{3000}' {
        if !(out.is_empty() || out.ends_with([' ', '\n', '\t'])) {
            out.push(' ');
        }
    } else {
        out.push(c);
    }
}

/// Appends a line break (one, however many blocks end here) or a cell separator (not at the
/// start of a line), replacing trailing spaces.
fn push_break(out: &mut String, c: char) {
    while out.ends_with(' ') || (c == '\n' && out.ends_with('\t')) {
        out.pop();
    }
    if out.is_empty() || out.ends_with('\n') || (c == '\t' && out.ends_with('\t')) {
        return;
    }
    out.push(c);
}

/// An HTML character reference at the start of `s`: the character and the length consumed.
fn entity(s: &str) -> Option<(char, usize)> {
    // Byte positions: `;` is ASCII, so slicing at it stays on a character boundary.
    let end = s
        .as_bytes()
        .iter()
        .take(12)
        .skip(1)
        .position(|&b| b == b';')?
        + 1;
    let name = &s[1..end];
    let c = if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        char::from_u32(code)
            .filter(|&c| c != '\0')
            .unwrap_or('\u{FFFD}')
    } else {
        match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" | "ensp" | "emsp" | "thinsp" => ' ',
            "yen" => '¥',
            "copy" => '©',
            "reg" => '®',
            "trade" => '™',
            "hellip" => '…',
            "mdash" => '—',
            "ndash" => '–',
            "minus" => '−',
            "laquo" => '«',
            "raquo" => '»',
            "middot" => '·',
            "times" => '×',
            "divide" => '÷',
            "deg" => '°',
            "plusmn" => '±',
            "sect" => '§',
            "lsquo" => '‘',
            "rsquo" => '’',
            "ldquo" => '“',
            "rdquo" => '”',
            "bull" => '•',
            "euro" => '€',
            "pound" => '£',
            _ => return None,
        }
    };
    Some((c, end + 1))
}

/// The text of an RTF document: the body's characters (`\uN` and `\'hh` in the code page of
/// the current font — Japanese RTF writes Shift_JIS bytes as `\'hh` pairs), with paragraphs
/// as line breaks and cells as tabs; font tables, pictures, embedded objects, field
/// instructions and other `\*` destinations are skipped.
pub(crate) fn rtf_to_text(rtf: &[u8]) -> String {
    Rtf::new(rtf).run()
}

struct Group {
    skip: bool,
    uc: usize,
    encoding: &'static Encoding,
    in_fonttbl: bool,
}

struct Rtf<'a> {
    src: &'a [u8],
    i: usize,
    out: String,
    /// `\'hh` bytes waiting to be decoded together (a Shift_JIS character is two of them).
    pending: Vec<u8>,
    stack: Vec<Group>,
    cur: Group,
    /// Font number → code page, from the font table's `\fcharsetN`.
    fonts: Vec<(i64, &'static Encoding)>,
    /// The font being defined in the font table.
    defining_font: Option<i64>,
    default_encoding: &'static Encoding,
    /// Characters still to skip after a `\uN` (its ANSI fallback).
    skip_chars: usize,
}

impl<'a> Rtf<'a> {
    fn new(src: &'a [u8]) -> Self {
        let encoding = encoding_rs::WINDOWS_1252;
        Self {
            src,
            i: 0,
            out: String::new(),
            pending: Vec::new(),
            stack: Vec::new(),
            cur: Group {
                skip: false,
                uc: 1,
                encoding,
                in_fonttbl: false,
            },
            fonts: Vec::new(),
            defining_font: None,
            default_encoding: encoding,
            skip_chars: 0,
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let (s, _) = self.cur.encoding.decode_without_bom_handling(&self.pending);
            self.out.push_str(&s);
            self.pending.clear();
        }
    }

    fn emit(&mut self, c: char) {
        if self.cur.skip {
            return;
        }
        self.flush();
        self.out.push(c);
    }

    fn run(mut self) -> String {
        while self.i < self.src.len() {
            let b = self.src[self.i];
            match b {
                b'{' => {
                    self.flush();
                    self.i += 1;
                    let next = Group {
                        skip: self.cur.skip,
                        uc: self.cur.uc,
                        encoding: self.cur.encoding,
                        in_fonttbl: self.cur.in_fonttbl,
                    };
                    // Deeper than any real document: keep reading, but stop tracking groups.
                    if self.stack.len() < 10_000 {
                        self.stack.push(std::mem::replace(&mut self.cur, next));
                    }
                    if self.src.get(self.i..self.i + 2) == Some(b"\\*") {
                        self.cur.skip = true;
                    }
                }
                b'}' => {
                    self.flush();
                    self.i += 1;
                    if let Some(g) = self.stack.pop() {
                        self.cur = g;
                    }
                }
                b'\\' => self.control(),
                b'\r' | b'\n' => self.i += 1,
                _ => {
                    self.i += 1;
                    if self.skip_chars > 0 {
                        self.skip_chars -= 1;
                    } else if !self.cur.skip {
                        if b >= 0x80 {
                            self.pending.push(b);
                        } else {
                            self.emit(b as char);
                        }
                    }
                }
            }
        }
        self.flush();
        self.out
    }

    fn control(&mut self) {
        let src = self.src;
        self.i += 1;
        let Some(&c) = src.get(self.i) else { return };
        if !c.is_ascii_alphabetic() {
            self.i += 1;
            match c {
                b'\'' => {
                    let hex = src
                        .get(self.i..self.i + 2)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    self.i += 2;
                    if let Some(v) = hex {
                        if self.skip_chars > 0 {
                            self.skip_chars -= 1;
                        } else if !self.cur.skip {
                            self.pending.push(v);
                        }
                    }
                }
                b'~' => self.emit(' '),
                b'_' => self.emit('-'),
                b'\\' | b'{' | b'}' => self.emit(c as char),
                b'\n' | b'\r' => self.emit('\n'),
                b'*' => self.cur.skip = true,
                _ => {}
            }
            return;
        }
        let start = self.i;
        while self.i < src.len() && src[self.i].is_ascii_alphabetic() && self.i - start < 32 {
            self.i += 1;
        }
        let word = &src[start..self.i];
        let num_start = self.i;
        if src.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        while self.i < src.len() && src[self.i].is_ascii_digit() && self.i - num_start < 11 {
            self.i += 1;
        }
        let param: Option<i64> = std::str::from_utf8(&src[num_start..self.i])
            .ok()
            .and_then(|s| s.parse().ok());
        if src.get(self.i) == Some(&b' ') {
            self.i += 1;
        }
        match word {
            b"par" | b"line" | b"row" | b"sect" | b"page" => self.emit('\n'),
            b"tab" | b"cell" => self.emit('\t'),
            b"emdash" => self.emit('—'),
            b"endash" => self.emit('–'),
            b"bullet" => self.emit('•'),
            b"lquote" => self.emit('‘'),
            b"rquote" => self.emit('’'),
            b"ldblquote" => self.emit('“'),
            b"rdblquote" => self.emit('”'),
            b"u" => {
                if let Some(n) = param {
                    let code = if n < 0 { n + 65536 } else { n };
                    let c = u32::try_from(code)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or('\u{FFFD}');
                    self.emit(c);
                    self.skip_chars = self.cur.uc;
                }
            }
            b"uc" => {
                self.cur.uc = param
                    .and_then(|n| usize::try_from(n).ok())
                    .unwrap_or(1)
                    .min(8)
            }
            b"bin" => {
                let n = param.and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
                self.i = self.i.saturating_add(n).min(src.len());
            }
            b"ansicpg" => {
                if let Some(enc) = param.and_then(codepage) {
                    self.default_encoding = enc;
                    self.cur.encoding = enc;
                }
            }
            b"fonttbl" => {
                self.cur.skip = true;
                self.cur.in_fonttbl = true;
            }
            b"f" => {
                if self.cur.in_fonttbl {
                    self.defining_font = param;
                } else if let Some(n) = param {
                    self.flush();
                    self.cur.encoding = self
                        .fonts
                        .iter()
                        .find(|(f, _)| *f == n)
                        .map_or(self.default_encoding, |(_, e)| *e);
                }
            }
            b"fcharset" => {
                if let (Some(font), Some(enc)) = (self.defining_font, param.and_then(charset)) {
                    self.fonts.push((font, enc));
                }
            }
            b"colortbl"
            | b"stylesheet"
            | b"info"
            | b"pict"
            | b"object"
            | b"objdata"
            | b"themedata"
            | b"colorschememapping"
            | b"datastore"
            | b"latentstyles"
            | b"listtable"
            | b"listoverridetable"
            | b"rsidtbl"
            | b"generator"
            | b"xmlnstbl"
            | b"filetbl"
            | b"revtbl"
            | b"fldinst"
            | b"pgdsctbl"
            | b"mmathPr"
            | b"xe"
            | b"tc"
            | b"bkmkstart"
            | b"bkmkend" => {
                self.cur.skip = true;
            }
            _ => {}
        }
    }
}

/// The encoding of a Windows code page number.
pub(crate) fn codepage(cp: i64) -> Option<&'static Encoding> {
    Some(match cp {
        932 => SHIFT_JIS,
        20932 | 51932 => EUC_JP,
        50220..=50222 => ISO_2022_JP,
        65001 => encoding_rs::UTF_8,
        1200 => UTF_16LE,
        1201 => UTF_16BE,
        936 => encoding_rs::GBK,
        54936 => encoding_rs::GB18030,
        949 => encoding_rs::EUC_KR,
        950 => encoding_rs::BIG5,
        874 => encoding_rs::WINDOWS_874,
        1250 => encoding_rs::WINDOWS_1250,
        1251 => encoding_rs::WINDOWS_1251,
        1252 | 20127 | 28591 => encoding_rs::WINDOWS_1252,
        1253 => encoding_rs::WINDOWS_1253,
        1254 => encoding_rs::WINDOWS_1254,
        1255 => encoding_rs::WINDOWS_1255,
        1256 => encoding_rs::WINDOWS_1256,
        1257 => encoding_rs::WINDOWS_1257,
        1258 => encoding_rs::WINDOWS_1258,
        10000 => encoding_rs::MACINTOSH,
        _ => return None,
    })
}

/// The encoding of an RTF/Windows font charset number.
fn charset(n: i64) -> Option<&'static Encoding> {
    Some(match n {
        0 => encoding_rs::WINDOWS_1252,
        128 => SHIFT_JIS,
        129 => encoding_rs::EUC_KR,
        134 => encoding_rs::GBK,
        136 => encoding_rs::BIG5,
        161 => encoding_rs::WINDOWS_1253,
        162 => encoding_rs::WINDOWS_1254,
        177 => encoding_rs::WINDOWS_1255,
        178 => encoding_rs::WINDOWS_1256,
        186 => encoding_rs::WINDOWS_1257,
        204 => encoding_rs::WINDOWS_1251,
        222 => encoding_rs::WINDOWS_874,
        238 => encoding_rs::WINDOWS_1250,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc_of(bytes: &[u8]) -> Option<&'static str> {
        sniff(bytes).map(Enc::name)
    }

    const JA: &str = "個人番号は社外秘です。担当者：山田太郎、電話番号０３－１２３４－５６７８。よろしくお願いします。";

    #[test]
    fn japanese_encodings() {
        assert_eq!(enc_of(JA.as_bytes()), Some("UTF-8"));
        assert_eq!(enc_of(&SHIFT_JIS.encode(JA).0), Some("Shift_JIS"));
        assert_eq!(enc_of(&EUC_JP.encode(JA).0), Some("EUC-JP"));
        assert_eq!(enc_of(&ISO_2022_JP.encode(JA).0), Some("ISO-2022-JP"));
        let le: Vec<u8> = JA.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(enc_of(&le), Some("UTF-16LE"));
        let be: Vec<u8> = JA.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(enc_of(&be), Some("UTF-16BE"));
    }

    #[test]
    fn short_japanese() {
        for s in [
            "社外秘",
            "マイナンバー",
            "秘密",
            "ｱｲｳ株式会社",
            "〒100-0001 東京都千代田区",
        ] {
            let sj = SHIFT_JIS.encode(s).0;
            let text = decode_detected(&sj).map(|(t, _)| t).unwrap_or_default();
            assert_eq!(text, s, "Shift_JIS {s}");
            let eu = EUC_JP.encode(s).0;
            let text = decode_detected(&eu).map(|(t, _)| t).unwrap_or_default();
            assert_eq!(text, s, "EUC-JP {s}");
        }
    }

    #[test]
    fn binary_is_not_text() {
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(sniff(&noise), None);
        assert_eq!(enc_of(b"plain ascii\n"), Some("UTF-8"));
        assert_eq!(enc_of("caf\u{e9} cr\u{e8}me".as_bytes()), Some("UTF-8"));
        assert_eq!(
            enc_of(b"caf\xe9 cr\xe8me br\xfbl\xe9e, na\xefve fa\xe7ade"),
            Some("windows-1252")
        );
    }

    #[test]
    fn html() {
        let t = html_to_text(
            "<html><head><title>t</title><style>p{}</style></head><body><p>Hello&nbsp;&amp; <b>world</b></p><script>x()</script><table><tr><td>a</td><td>b</td></tr></table>&#x793E;&#22806;秘</body></html>",
        );
        assert_eq!(t, "Hello & world\na\tb\n社外秘");
    }

    #[test]
    fn japanese_after_a_long_ascii_start() {
        let mut bytes = "2026-01-01 INFO started\n".repeat(5000).into_bytes();
        bytes.extend_from_slice(&SHIFT_JIS.encode("エラー：顧客番号が見つかりません\n").0);
        let (text, enc) = decode_detected(&bytes).unwrap_or_default_pair();
        assert_eq!(enc, Some("Shift_JIS"));
        assert!(text.ends_with("エラー：顧客番号が見つかりません\n"));
        let mut jis = "plain\n".repeat(20_000).into_bytes();
        jis.extend_from_slice(&ISO_2022_JP.encode("社外秘").0);
        assert_eq!(
            decode_detected(&jis).unwrap_or_default_pair().1,
            Some("ISO-2022-JP")
        );
    }

    trait OrDefault {
        fn unwrap_or_default_pair(self) -> (String, Option<&'static str>);
    }

    impl OrDefault for Option<(String, Enc)> {
        fn unwrap_or_default_pair(self) -> (String, Option<&'static str>) {
            self.map_or((String::new(), None), |(t, e)| (t, Some(e.name())))
        }
    }

    #[test]
    fn entities_before_multibyte_text() {
        assert_eq!(
            html_to_text("A&amp;社外秘&lt;x&gt; &#12354;&unknown; &"),
            "A&社外秘<x> あ&unknown; &"
        );
    }

    #[test]
    fn rtf() {
        let t = rtf_to_text(br"{\rtf1\ansi\ansicpg932{\fonttbl{\f0\fcharset128 MS Mincho;}}{\*\generator x;}\f0 \'8e\'d0\'8a\'4f\'94\'e9\par ok\tab \u12354?\u-3?x}");
        assert_eq!(t, "社外秘\nok\tあ\u{fffd}x");
    }
}
