//! Legacy Office files (OLE compound files): Word 97–2003 text from the piece table, Excel
//! 97–2003 cells from the BIFF8 records (shared strings, labels and numbers — numbers as
//! digits), PowerPoint 97–2003 text atoms; password protection reported as `Encrypted`,
//! including Office Open XML files saved with a password (which are OLE files holding an
//! `EncryptedPackage`).

use std::io::{Cursor, Read};

use cfb::CompoundFile;

use super::detect::OleKind;
use super::{Content, Ctx, Nested, NestedItem, ProblemKind};

/// Reads an OLE compound file other than an Outlook item.
pub(crate) fn read(cx: &mut Ctx<'_>, path: &str, bytes: &[u8], kind: Option<OleKind>) -> Content {
    let kind = kind.unwrap_or(OleKind::Other);
    if kind == OleKind::EncryptedOoxml {
        cx.problem(
            path,
            ProblemKind::Encrypted,
            "password-protected Office document (EncryptedPackage)",
        );
        return Content::default();
    }
    let mut cf = match CompoundFile::open(Cursor::new(bytes)) {
        Ok(cf) => cf,
        Err(e) => {
            if kind != OleKind::Other {
                cx.problem(
                    path,
                    ProblemKind::Malformed,
                    format!("unreadable compound file: {e}"),
                );
            }
            return Content::default();
        }
    };
    let max = cx.limits.max_input_bytes;
    if kind == OleKind::Other {
        return Content {
            nested: embedded_objects(&mut cf, max),
            ..Content::default()
        };
    }
    let encrypted_ppt = cf.exists("/EncryptedSummary");
    let mut stream = |name: &str| -> Option<Vec<u8>> {
        let s = cf.open_stream(name).ok()?;
        let mut buf = Vec::new();
        s.take(max).read_to_end(&mut buf).ok()?;
        Some(buf)
    };
    let result = match kind {
        OleKind::Doc => match stream("/WordDocument") {
            Some(word) => {
                let table = word_table_name(&word).and_then(&mut stream);
                word_text(&word, table.as_deref())
            }
            None => Err(Failure::Malformed("no WordDocument stream".into())),
        },
        OleKind::Xls => match stream("/Workbook") {
            Some(book) => xls_text(cx, path, &book),
            None => Err(Failure::Unsupported(
                "Excel 5/95 workbook (BIFF5) is not read".into(),
            )),
        },
        OleKind::Ppt => {
            if encrypted_ppt {
                Err(Failure::Encrypted)
            } else {
                match stream("/PowerPoint Document") {
                    Some(doc) => ppt_text(&doc),
                    None => Err(Failure::Malformed("no PowerPoint Document stream".into())),
                }
            }
        }
        _ => Ok(String::new()),
    };
    match result {
        Ok(text) => Content::text(text),
        Err(Failure::Encrypted) => {
            cx.problem(
                path,
                ProblemKind::Encrypted,
                "password-protected Office document",
            );
            Content::default()
        }
        Err(Failure::Malformed(m)) => {
            cx.problem(path, ProblemKind::Malformed, m);
            Content::default()
        }
        Err(Failure::Unsupported(m)) => {
            cx.problem(path, ProblemKind::Unsupported, m);
            Content::default()
        }
    }
}

/// The file inside an OLE object embedded in an Office document (`word/embeddings/*.bin`):
/// a file dragged into the document (`\x01Ole10Native`: label, path, then the bytes), an
/// embedded Office Open XML document (`Package`) or PDF (`CONTENTS`).
fn embedded_objects<F: Read + std::io::Seek>(
    cf: &mut CompoundFile<F>,
    max: u64,
) -> Vec<NestedItem> {
    let mut read = |name: &str| -> Option<Vec<u8>> {
        let s = cf.open_stream(name).ok()?;
        let mut buf = Vec::new();
        s.take(max).read_to_end(&mut buf).ok()?;
        Some(buf)
    };
    let mut out = Vec::new();
    if let Some(native) = read("/\u{1}Ole10Native")
        && let Some(item) = ole10_native(&native)
    {
        out.push(NestedItem::Bytes(item));
    }
    for (stream, name) in [("/Package", "package"), ("/CONTENTS", "contents")] {
        if let Some(bytes) = read(stream) {
            out.push(NestedItem::Bytes(Nested {
                name: name.to_owned(),
                bytes,
            }));
        }
    }
    out
}

/// The file of an `Ole10Native` stream: total size, flags, label, source path, two reserved
/// words, the temporary path, then the data's size and the data.
fn ole10_native(b: &[u8]) -> Option<Nested> {
    let mut at = 6;
    let cstr = |at: &mut usize| -> Option<Vec<u8>> {
        let end = b.get(*at..)?.iter().position(|&c| c == 0)?;
        let s = b[*at..*at + end].to_vec();
        *at += end + 1;
        Some(s)
    };
    let label = cstr(&mut at)?;
    let _source = cstr(&mut at)?;
    at += 4;
    let temp_len = u32_at(b, at)? as usize;
    at = at.checked_add(4 + temp_len)?;
    let size = u32_at(b, at)? as usize;
    let data = b.get(at + 4..(at + 4).checked_add(size)?)?;
    let label = encoding_rs::SHIFT_JIS.decode_without_bom_handling(&label).0;
    let name = label
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .replace('!', "_");
    let name = if name.trim().is_empty() {
        "embedded".to_owned()
    } else {
        name
    };
    Some(Nested {
        name,
        bytes: data.to_vec(),
    })
}

/// Why a legacy document gave no text.
enum Failure {
    Encrypted,
    Malformed(String),
    Unsupported(String),
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// The table stream a Word document's FIB points at (`0Table` or `1Table`).
fn word_table_name(word: &[u8]) -> Option<&'static str> {
    let flags = u16_at(word, 0x0A)?;
    Some(if flags & 0x0200 != 0 {
        "/1Table"
    } else {
        "/0Table"
    })
}

/// The text of a Word 97–2003 document, from the piece table in its CLX.
fn word_text(word: &[u8], table: Option<&[u8]>) -> Result<String, Failure> {
    let bad = |m: &str| Failure::Malformed(format!("Word document: {m}"));
    if u16_at(word, 0) != Some(0xA5EC) {
        return Err(bad("no FIB"));
    }
    let n_fib = u16_at(word, 2).unwrap_or(0);
    let flags = u16_at(word, 0x0A).unwrap_or(0);
    if flags & 0x0100 != 0 {
        return Err(Failure::Encrypted);
    }
    if n_fib < 101 {
        return Err(Failure::Unsupported(
            "Word 6/95 document is not read".into(),
        ));
    }
    let table = table.ok_or_else(|| bad("no table stream"))?;
    // FibBase (32 bytes), then csw u16 + fibRgW, cslw u16 + fibRgLw, cbRgFcLcb u16 + entries.
    let csw = u16_at(word, 32).ok_or_else(|| bad("short FIB"))? as usize;
    let at_cslw = 34 + csw * 2;
    let cslw = u16_at(word, at_cslw).ok_or_else(|| bad("short FIB"))? as usize;
    let at_fclcb = at_cslw + 2 + cslw * 4 + 2;
    let fc_clx = u32_at(word, at_fclcb + 33 * 8).ok_or_else(|| bad("short FIB"))? as usize;
    let lcb_clx = u32_at(word, at_fclcb + 33 * 8 + 4).ok_or_else(|| bad("short FIB"))? as usize;
    let clx = table
        .get(fc_clx..fc_clx.saturating_add(lcb_clx))
        .ok_or_else(|| bad("CLX outside the table stream"))?;
    let mut i = 0;
    while clx.get(i) == Some(&0x01) {
        let cb = u16_at(clx, i + 1).ok_or_else(|| bad("short CLX"))? as usize;
        i += 3 + cb;
    }
    if clx.get(i) != Some(&0x02) {
        return Err(bad("no piece table"));
    }
    let lcb = u32_at(clx, i + 1).ok_or_else(|| bad("short piece table"))? as usize;
    let plc = clx
        .get(i + 5..i + 5 + lcb)
        .ok_or_else(|| bad("short piece table"))?;
    if plc.len() < 4 {
        return Err(bad("empty piece table"));
    }
    let n = (plc.len() - 4) / 12;
    let mut raw = String::new();
    for k in 0..n {
        let (Some(cp0), Some(cp1)) = (u32_at(plc, k * 4), u32_at(plc, (k + 1) * 4)) else {
            break;
        };
        let count = cp1.saturating_sub(cp0) as usize;
        let pcd = (n + 1) * 4 + k * 8;
        let Some(fc) = u32_at(plc, pcd + 2) else {
            break;
        };
        if fc & 0x4000_0000 != 0 {
            let at = ((fc & !0x4000_0000) / 2) as usize;
            let Some(bytes) = word.get(at..at.saturating_add(count).min(word.len())) else {
                continue;
            };
            raw.push_str(
                &encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(bytes)
                    .0,
            );
        } else {
            let at = fc as usize;
            let Some(bytes) =
                word.get(at..at.saturating_add(count.saturating_mul(2)).min(word.len()))
            else {
                continue;
            };
            let units = bytes
                .chunks_exact(2)
                .map(|p| u16::from_le_bytes([p[0], p[1]]));
            raw.extend(char::decode_utf16(units).map(|c| c.unwrap_or('\u{FFFD}')));
        }
    }
    Ok(clean_word(&raw))
}

/// Word's special characters: paragraph and cell marks become line breaks and tabs, field
/// instructions are dropped (their results kept), object anchors removed.
fn clean_word(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    // For each open field: whether we are still in its instruction part.
    let mut fields: Vec<bool> = Vec::new();
    for c in raw.chars() {
        match c {
            '\u{13}' => {
                if fields.len() < 64 {
                    fields.push(true);
                }
            }
            '\u{14}' => {
                if let Some(f) = fields.last_mut() {
                    *f = false;
                }
            }
            '\u{15}' => {
                fields.pop();
            }
            _ if fields.iter().any(|&instr| instr) => {}
            '\r' | '\u{0B}' | '\u{0C}' => out.push('\n'),
            '\u{07}' => out.push('\t'),
            '\u{1E}' => out.push('-'),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The text of a PowerPoint 97–2003 presentation: its text atoms, in record order.
fn ppt_text(doc: &[u8]) -> Result<String, Failure> {
    let mut out = String::new();
    let mut i = 0usize;
    while i + 8 <= doc.len() {
        let (Some(ver), Some(ty), Some(len)) =
            (u16_at(doc, i), u16_at(doc, i + 2), u32_at(doc, i + 4))
        else {
            break;
        };
        let len = len as usize;
        if ver & 0x000F == 0x000F {
            // A container: its children follow.
            i += 8;
            continue;
        }
        let body = doc
            .get(i + 8..(i + 8).saturating_add(len).min(doc.len()))
            .unwrap_or(&[]);
        match ty {
            // TextCharsAtom (UTF-16), CString (titles, notes)
            0x0FA0 | 0x0FBA => {
                let units = body
                    .chunks_exact(2)
                    .map(|p| u16::from_le_bytes([p[0], p[1]]));
                out.extend(
                    char::decode_utf16(units)
                        .map(|c| c.unwrap_or('\u{FFFD}'))
                        .map(|c| if c == '\r' || c == '\u{0B}' { '\n' } else { c }),
                );
                out.push('\n');
            }
            // TextBytesAtom (the low bytes of UTF-16 code units)
            0x0FA8 => {
                out.extend(body.iter().map(|&b| {
                    if b == b'\r' || b == 0x0B {
                        '\n'
                    } else {
                        char::from(b)
                    }
                }));
                out.push('\n');
            }
            // CryptSession10Container: an encrypted presentation.
            0x2F14 => return Err(Failure::Encrypted),
            _ => {}
        }
        i = (i + 8).saturating_add(len);
    }
    Ok(out)
}

/// BIFF8 record types read here.
mod rt {
    pub const BOF: u16 = 0x0809;
    pub const FILEPASS: u16 = 0x002F;
    pub const SST: u16 = 0x00FC;
    pub const CONTINUE: u16 = 0x003C;
    pub const LABELSST: u16 = 0x00FD;
    pub const LABEL: u16 = 0x0204;
    pub const NUMBER: u16 = 0x0203;
    pub const RK: u16 = 0x027E;
    pub const MULRK: u16 = 0x00BD;
    pub const FORMULA: u16 = 0x0006;
    pub const STRING: u16 = 0x0207;
    pub const BOOLERR: u16 = 0x0205;
}

/// The cells of an Excel 97–2003 workbook: tab-separated, one row per line, a blank line
/// between sheets.
fn xls_text(cx: &mut Ctx<'_>, path: &str, book: &[u8]) -> Result<String, Failure> {
    // The records, with CONTINUE records attached to the record they continue.
    let mut records: Vec<(u16, Vec<&[u8]>)> = Vec::new();
    let mut i = 0usize;
    while i + 4 <= book.len() {
        let (Some(ty), Some(len)) = (u16_at(book, i), u16_at(book, i + 2)) else {
            break;
        };
        let body = book
            .get(i + 4..(i + 4 + len as usize).min(book.len()))
            .unwrap_or(&[]);
        if ty == rt::CONTINUE {
            if let Some((_, parts)) = records.last_mut() {
                parts.push(body);
            }
        } else {
            if ty == rt::FILEPASS {
                return Err(Failure::Encrypted);
            }
            records.push((ty, vec![body]));
        }
        i += 4 + len as usize;
        if records.len().is_multiple_of(65_536) && cx.timed_out(path) {
            break;
        }
    }
    let mut sst: Vec<String> = Vec::new();
    if let Some((_, parts)) = records.iter().find(|(ty, _)| *ty == rt::SST) {
        sst = read_sst(parts);
    }
    let mut out = String::new();
    let mut row: Option<u16> = None;
    let mut sheets = 0;
    /// Appends a cell: a tab within a row, a line break at a new row.
    fn put(out: &mut String, row: &mut Option<u16>, r: Option<u16>, v: &str) {
        let Some(r) = r else { return };
        if v.is_empty() {
            return;
        }
        match *row {
            Some(prev) if prev == r => out.push('\t'),
            Some(_) => out.push('\n'),
            None => {}
        }
        *row = Some(r);
        out.push_str(v);
    }
    for (ty, parts) in &records {
        let b = parts[0];
        let cell_row = u16_at(b, 0);
        match *ty {
            rt::BOF => {
                sheets += 1;
                if sheets > 1 && !out.is_empty() {
                    out.push_str("\n\n");
                }
                row = None;
            }
            rt::LABELSST => {
                if let Some(s) = u32_at(b, 6).and_then(|k| sst.get(k as usize)) {
                    put(&mut out, &mut row, cell_row, s);
                }
            }
            rt::LABEL => {
                let mut r = Chunks::new(parts);
                r.skip(6);
                let s = r.unicode_string(false).unwrap_or_default();
                put(&mut out, &mut row, cell_row, &s);
            }
            rt::NUMBER => {
                if let Some(v) = b.get(6..14) {
                    let f = f64::from_le_bytes([v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]]);
                    put(&mut out, &mut row, cell_row, &number(f));
                }
            }
            rt::RK => {
                if let Some(rk) = u32_at(b, 6) {
                    put(&mut out, &mut row, cell_row, &number(rk_value(rk)));
                }
            }
            rt::MULRK => {
                let n = b.len().saturating_sub(6) / 6;
                for k in 0..n {
                    if let Some(rk) = u32_at(b, 4 + k * 6 + 2) {
                        put(&mut out, &mut row, cell_row, &number(rk_value(rk)));
                    }
                }
            }
            rt::FORMULA => {
                if let Some(v) = b.get(6..14)
                    && !(v[6] == 0xFF && v[7] == 0xFF)
                {
                    let f = f64::from_le_bytes([v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]]);
                    put(&mut out, &mut row, cell_row, &number(f));
                }
            }
            rt::STRING => {
                let mut r = Chunks::new(parts);
                let s = r.unicode_string(false).unwrap_or_default();
                // The cached string result of the formula just before.
                let current = row;
                put(&mut out, &mut row, current, &s);
            }
            rt::BOOLERR if b.get(7) == Some(&0) => {
                put(
                    &mut out,
                    &mut row,
                    cell_row,
                    if b.get(6) == Some(&1) {
                        "TRUE"
                    } else {
                        "FALSE"
                    },
                );
            }
            _ => {}
        }
    }
    if !out.is_empty() {
        out.push('\n');
    }
    Ok(out)
}

/// A number as Excel stores it, integers without a fraction or exponent.
fn number(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e17 {
        format!("{f:.0}")
    } else {
        format!("{f}")
    }
}

/// The value of an RK number (a compressed double or integer, optionally divided by 100).
fn rk_value(rk: u32) -> f64 {
    let v = if rk & 0x02 != 0 {
        f64::from((rk as i32) >> 2)
    } else {
        f64::from_bits(u64::from(rk & 0xFFFF_FFFC) << 32)
    };
    if rk & 0x01 != 0 { v / 100.0 } else { v }
}

/// The shared-string table: strings may be split across CONTINUE records, each continuation
/// of the characters starting with a new option byte.
fn read_sst(parts: &[&[u8]]) -> Vec<String> {
    let mut r = Chunks::new(parts);
    r.skip(4);
    let unique = r.u32().unwrap_or(0).min(1 << 20);
    let mut out = Vec::with_capacity(unique.min(65_536) as usize);
    for _ in 0..unique {
        match r.unicode_string(true) {
            Some(s) => out.push(s),
            None => break,
        }
    }
    out
}

/// A reader over a record and its CONTINUE records.
struct Chunks<'a> {
    parts: &'a [&'a [u8]],
    part: usize,
    at: usize,
}

impl<'a> Chunks<'a> {
    fn new(parts: &'a [&'a [u8]]) -> Self {
        Self {
            parts,
            part: 0,
            at: 0,
        }
    }

    /// Moves to the next part when the current one is used up; false at the end.
    fn ensure(&mut self) -> bool {
        while self.part < self.parts.len() && self.at >= self.parts[self.part].len() {
            self.part += 1;
            self.at = 0;
        }
        self.part < self.parts.len()
    }

    fn u8(&mut self) -> Option<u8> {
        if !self.ensure() {
            return None;
        }
        let b = self.parts[self.part][self.at];
        self.at += 1;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.u8()?, self.u8()?]))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([
            self.u8()?,
            self.u8()?,
            self.u8()?,
            self.u8()?,
        ]))
    }

    fn skip(&mut self, mut n: usize) {
        while n > 0 && self.ensure() {
            let take = n.min(self.parts[self.part].len() - self.at);
            self.at += take;
            n -= take;
        }
    }

    /// An XLUnicodeString (`rich` = the SST's XLUnicodeRichExtendedString, with optional
    /// formatting runs and phonetic data to skip).
    fn unicode_string(&mut self, rich: bool) -> Option<String> {
        let count = self.u16()? as usize;
        let flags = self.u8()?;
        let mut wide = flags & 0x01 != 0;
        let runs = if rich && flags & 0x08 != 0 {
            self.u16()? as usize
        } else {
            0
        };
        let ext = if rich && flags & 0x04 != 0 {
            self.u32()? as usize
        } else {
            0
        };
        let mut s = String::with_capacity(count);
        let mut units: Vec<u16> = Vec::new();
        let mut left = count;
        while left > 0 {
            if self.at >= self.parts.get(self.part).map_or(0, |p| p.len()) {
                // The characters continue in the next record, after a new option byte.
                self.part += 1;
                self.at = 0;
                wide = self.u8()? & 0x01 != 0;
            }
            if wide {
                units.push(self.u16()?);
            } else {
                units.push(u16::from(self.u8()?));
            }
            left -= 1;
        }
        s.extend(char::decode_utf16(units).map(|c| c.unwrap_or('\u{FFFD}')));
        self.skip(runs * 4 + ext);
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rk_numbers() {
        assert_eq!(rk_value((123 << 2) | 0x02), 123.0);
        assert_eq!(rk_value((12345 << 2) | 0x03), 123.45);
        assert_eq!(number(123_456_789_012.0), "123456789012");
        assert_eq!(number(0.5), "0.5");
    }

    #[test]
    fn word_fields() {
        assert_eq!(
            clean_word("a\u{13} HYPERLINK x \u{14}link\u{15}b\rc\u{07}d"),
            "alinkb\nc\td"
        );
    }

    #[test]
    fn sst_across_continue() {
        // Two strings; the second ("あい", wide) split after one character.
        let first: &[u8] = &[
            2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, b'o', b'k', 2, 0, 1, 0x42, 0x30,
        ];
        let second: &[u8] = &[1, 0x44, 0x30];
        assert_eq!(read_sst(&[first, second]), vec!["ok", "あい"]);
    }
}
