//! Office Open XML (docx, xlsx, pptx) and OpenDocument text, and Microsoft sensitivity labels.
//!
//! The text is what a reader sees, in reading order, without the markup's duplicates:
//! `mc:Fallback` copies of text boxes, the phonetic readings (furigana) Japanese Excel stores
//! next to every name (`rPh`), ruby text. Numbers in spreadsheet cells come out as digits as
//! stored — a 12-digit My Number typed into a numeric cell is `123456789012`, never the
//! `1.23457E+11` Excel may display. Files embedded in a package (`*/embeddings/*`) and entries
//! that do not belong to the package layout at all (a file smuggled into a docx) are visited
//! as nested parts.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::archive::ZipPkg;
use super::{Content, Ctx, FileType, ProblemKind};

/// Reads an Office Open XML or OpenDocument package.
pub(crate) fn read(
    cx: &mut Ctx<'_>,
    path: &str,
    bytes: &[u8],
    file_type: FileType,
    depth: u32,
) -> Content {
    let mut pkg = match ZipPkg::open(bytes) {
        Ok(pkg) => pkg,
        Err(e) => {
            cx.problem(path, ProblemKind::Malformed, e);
            return Content::default();
        }
    };
    if pkg.recovered() {
        cx.problem(path, ProblemKind::Malformed, "damaged package (no readable central directory); parts recovered from their local headers");
    }
    let names: Vec<String> = pkg.names().to_vec();
    pkg.set_ratio_factor(10);
    let mut text = String::new();
    match file_type {
        FileType::Docx => {
            let main = if names.iter().any(|n| n == "word/document.xml") {
                "word/document.xml".to_owned()
            } else {
                main_part(cx, &mut pkg, path).unwrap_or_else(|| "word/document.xml".to_owned())
            };
            let mut parts = vec![main];
            for prefix in ["word/header", "word/footer"] {
                parts.extend(numbered(&names, prefix, ".xml"));
            }
            parts.extend(
                [
                    "word/footnotes.xml",
                    "word/endnotes.xml",
                    "word/comments.xml",
                ]
                .map(str::to_owned),
            );
            for part in parts {
                if let Some(xml) = read_xml(cx, &mut pkg, path, &part) {
                    xml_text(cx, path, &part, &xml, &mut text, Flavour::Word);
                }
            }
        }
        FileType::Xlsx => {
            let shared = read_xml(cx, &mut pkg, path, "xl/sharedStrings.xml")
                .map(|xml| shared_strings(cx, path, &xml))
                .unwrap_or_default();
            for sheet in numbered(&names, "xl/worksheets/sheet", ".xml") {
                if let Some(xml) = read_xml(cx, &mut pkg, path, &sheet) {
                    sheet_text(cx, path, &sheet, &xml, &shared, &mut text);
                }
            }
            let mut extra = numbered(&names, "xl/comments", ".xml");
            extra.extend(numbered(&names, "xl/drawings/drawing", ".xml"));
            for part in extra {
                if let Some(xml) = read_xml(cx, &mut pkg, path, &part) {
                    xml_text(cx, path, &part, &xml, &mut text, Flavour::Drawing);
                }
            }
            if names.iter().any(|n| n == "xl/workbook.bin") {
                binary_workbook(cx, &mut pkg, path, &names, &mut text);
            }
        }
        FileType::Pptx => {
            let mut parts = numbered(&names, "ppt/slides/slide", ".xml");
            parts.extend(numbered(&names, "ppt/notesSlides/notesSlide", ".xml"));
            parts.extend(numbered(&names, "ppt/diagrams/data", ".xml"));
            parts.extend(numbered(&names, "ppt/comments/comment", ".xml"));
            for part in parts {
                if let Some(xml) = read_xml(cx, &mut pkg, path, &part) {
                    xml_text(cx, path, &part, &xml, &mut text, Flavour::Drawing);
                }
            }
        }
        _ => {
            if let Some(xml) = read_xml(cx, &mut pkg, path, "content.xml") {
                xml_text(
                    cx,
                    path,
                    "content.xml",
                    &xml,
                    &mut text,
                    Flavour::OpenDocument,
                );
            }
        }
    }
    let custom = read_xml(cx, &mut pkg, path, "docProps/custom.xml");
    let label_info = read_xml(cx, &mut pkg, path, "docProps/labelInfo.xml");
    let labels = msip_labels(custom.as_deref(), label_info.as_deref());

    let nested: Vec<usize> = (0..names.len())
        .filter(|&i| !pkg.is_dir(i) && worth_visiting(&names[i], file_type))
        .collect();
    // Embedded files are files like any other: the usual ratio applies to them.
    pkg.set_ratio_factor(1);
    if !nested.is_empty() && cx.may_descend(path, depth, nested.len()) {
        for i in nested {
            let child = format!("{path}!{}", names[i]);
            if cx.timed_out(&child) || !cx.take_entry(&child) {
                break;
            }
            if let Some(data) = pkg.read(cx, i, &child) {
                cx.visit_child(child, &data, depth, None);
            }
        }
    }
    Content {
        text: Some(text),
        labels,
        ..Content::default()
    }
}

/// The main document part named by the package relationships (`_rels/.rels`), for the
/// generators that do not call it `word/document.xml`.
fn main_part(cx: &mut Ctx<'_>, pkg: &mut ZipPkg<'_>, path: &str) -> Option<String> {
    let rels = read_xml(cx, pkg, path, "_rels/.rels")?;
    let mut target = None;
    NullCtx.walk(&rels, |x| {
        if let X::Open("Relationship", e) = x
            && attr(e, "Type").is_some_and(|t| t.ends_with("/officeDocument"))
        {
            target = attr(e, "Target");
        }
    });
    target.map(|t| t.trim_start_matches('/').to_owned())
}

/// Entries of a package visited as nested parts: embedded files, and anything outside the
/// package's own layout.
fn worth_visiting(name: &str, file_type: FileType) -> bool {
    if ["word/embeddings/", "xl/embeddings/", "ppt/embeddings/"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        return true;
    }
    let own: &[&str] = if file_type == FileType::Odf {
        &[
            "mimetype",
            "content.xml",
            "styles.xml",
            "meta.xml",
            "settings.xml",
            "manifest.rdf",
            "layout-cache",
            "META-INF/",
            "Thumbnails/",
            "Pictures/",
            "Configurations2/",
            "Object ",
            "ObjectReplacements/",
            "media/",
            "Basic/",
            "Dialogs/",
            "Scripts/",
        ]
    } else {
        &[
            "[Content_Types].xml",
            "_rels/",
            "docProps/",
            "word/",
            "xl/",
            "ppt/",
            "customXml/",
            "_xmlsignatures/",
            "[trash]/",
            "userCustomization/",
            "customUI/",
            "customUi/",
        ]
    };
    !own.iter().any(|p| name.starts_with(p))
}

/// Entries named `{prefix}{N}{suffix}`, in the order of N.
fn numbered(names: &[String], prefix: &str, suffix: &str) -> Vec<String> {
    let mut found: Vec<(u64, String)> = names
        .iter()
        .filter_map(|n| {
            let middle = n.strip_prefix(prefix)?.strip_suffix(suffix)?;
            let number = if middle.is_empty() {
                0
            } else {
                middle.parse().ok()?
            };
            Some((number, n.clone()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, n)| n).collect()
}

/// Reads an XML part of the package, if present, as text.
fn read_xml(cx: &mut Ctx<'_>, pkg: &mut ZipPkg<'_>, path: &str, part: &str) -> Option<String> {
    let i = pkg.index_of(part)?;
    let bytes = pkg.read(cx, i, &format!("{path}!{part}"))?;
    Some(xml_to_string(bytes))
}

/// XML bytes as a string: UTF-8 (the norm), or UTF-16 with a byte-order mark.
fn xml_to_string(bytes: Vec<u8>) -> String {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return encoding_rs::UTF_16LE.decode(&bytes).0.into_owned();
    }
    let body = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(&bytes);
    match std::str::from_utf8(body) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

/// One step of an XML walk, with prefixes stripped from names.
enum X<'e> {
    Open(&'e str, &'e BytesStart<'e>),
    Close(&'e str),
    Text(&'e str),
}

/// Follows the depth inside an element being skipped (`skip` > 0): whether `x` is inside it.
fn skipping(skip: &mut usize, x: &X<'_>) -> bool {
    if *skip == 0 {
        return false;
    }
    match x {
        X::Open(..) => *skip += 1,
        X::Close(_) => *skip -= 1,
        X::Text(_) => {}
    }
    true
}

/// Walks `xml`, handing each element and text to `f` (self-closing elements as open + close).
/// Malformed XML stops the walk with a problem; what was seen before it stays. Checks the
/// time every few thousand events.
fn walk(cx: &mut Ctx<'_>, path: &str, part: &str, xml: &str, f: impl FnMut(X<'_>)) {
    let mut events = 0u32;
    let walked = read_events(
        xml,
        || {
            events = events.wrapping_add(1);
            events.is_multiple_of(8192) && cx.timed_out(path)
        },
        f,
    );
    if let Err(error) = walked {
        cx.problem(
            &format!("{path}!{part}"),
            ProblemKind::Malformed,
            format!("malformed XML {error}"),
        );
    }
}

/// The XML walk itself: stops early when `stop` says so (quietly: the caller reported why),
/// and at the first malformed event with where and why.
fn read_events(
    xml: &str,
    mut stop: impl FnMut() -> bool,
    mut f: impl FnMut(X<'_>),
) -> Result<(), String> {
    let mut reader = Reader::from_str(xml);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.expand_empty_elements = false;
    loop {
        if stop() {
            return Ok(());
        }
        match reader.read_event() {
            Ok(Event::Start(e)) => f(X::Open(e.local_name().as_ref(), &e)),
            Ok(Event::Empty(e)) => {
                let name = e.local_name();
                f(X::Open(name.as_ref(), &e));
                f(X::Close(name.as_ref()));
            }
            Ok(Event::End(e)) => f(X::Close(e.local_name().as_ref())),
            Ok(Event::Text(t)) => f(X::Text(&t.xml10_content())),
            Ok(Event::CData(t)) => f(X::Text(&t)),
            Ok(Event::GeneralRef(r)) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    _ => match r.xml10_content().as_ref() {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => None,
                    },
                };
                if let Some(c) = c {
                    f(X::Text(c.encode_utf8(&mut [0; 4])));
                }
            }
            Ok(Event::Eof) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(format!("at byte {}: {e}", reader.error_position())),
        }
    }
}

/// The value of the attribute whose local name is `key`.
fn attr(e: &BytesStart<'_>, key: &str) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.local_name().as_ref() == key)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(Cow::into_owned)
        })
}

/// Which vocabulary a text part uses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavour {
    /// WordprocessingML: `w:p`, `w:r`, `w:t`, `w:tab`, `w:br`.
    Word,
    /// DrawingML (slides, notes, shapes in sheets) and comments: `a:p`, `a:t`, `a:br`.
    Drawing,
    /// OpenDocument: `text:p`, `text:h`, `text:s`, `text:tab`, table cells with values.
    OpenDocument,
}

/// Appends the text of a document part to `out`: paragraphs as lines, tabs as tabs.
fn xml_text(
    cx: &mut Ctx<'_>,
    path: &str,
    part: &str,
    xml: &str,
    out: &mut String,
    flavour: Flavour,
) {
    let mut skip = 0usize;
    let mut in_text = 0usize;
    let mut in_run = 0usize;
    let mut in_para = 0usize;
    let mut in_cell = 0usize;
    walk(cx, path, part, xml, |x| {
        if skipping(&mut skip, &x) {
            return;
        }
        match (flavour, x) {
            // Duplicates (fallback renderings of text boxes), furigana, field codes.
            (_, X::Open("Fallback" | "rPh" | "rt" | "instrText" | "delInstrText", _)) => skip = 1,
            (Flavour::Word, X::Open("t" | "delText", _)) => in_text += 1,
            (Flavour::Word, X::Close("t" | "delText")) => in_text = in_text.saturating_sub(1),
            (Flavour::Word, X::Open("r", _)) => in_run += 1,
            (Flavour::Word, X::Close("r")) => in_run = in_run.saturating_sub(1),
            (Flavour::Word, X::Open("tab", _)) if in_run > 0 => out.push('\t'),
            (Flavour::Word, X::Open("br" | "cr", _)) if in_run > 0 => out.push('\n'),
            (Flavour::Word, X::Open("noBreakHyphen", _)) => out.push('-'),
            // Tables as lines of tab-separated cells, so a value is read under its column's
            // header (paragraphs inside a cell are joined by spaces).
            (Flavour::Word | Flavour::Drawing, X::Open("tc", _)) => in_cell += 1,
            (Flavour::Word | Flavour::Drawing, X::Close("tc")) => {
                in_cell = in_cell.saturating_sub(1);
                trim_end_spaces(out);
                out.push('\t');
            }
            (Flavour::Word | Flavour::Drawing, X::Close("tr")) => {
                if out.ends_with('\t') {
                    out.pop();
                }
                out.push('\n');
            }
            (Flavour::Word | Flavour::Drawing, X::Close("p")) if in_cell > 0 => out.push(' '),
            (Flavour::Word | Flavour::Drawing, X::Close("p")) => out.push('\n'),
            (Flavour::Drawing, X::Open("t" | "text", _)) => in_text += 1,
            (Flavour::Drawing, X::Close("t" | "text")) => in_text = in_text.saturating_sub(1),
            (Flavour::Drawing, X::Open("br", _)) => out.push('\n'),
            (Flavour::OpenDocument, X::Open("p" | "h", _)) => {
                in_para += 1;
                in_text += 1;
            }
            (Flavour::OpenDocument, X::Close("p" | "h")) => {
                in_para = in_para.saturating_sub(1);
                in_text = in_text.saturating_sub(1);
                out.push('\n');
            }
            (Flavour::OpenDocument, X::Open("tab", _)) => out.push('\t'),
            (Flavour::OpenDocument, X::Open("line-break", _)) => out.push('\n'),
            (Flavour::OpenDocument, X::Open("s", e)) => {
                let n = attr(e, "c")
                    .and_then(|c| c.parse::<usize>().ok())
                    .unwrap_or(1)
                    .min(64);
                out.extend(std::iter::repeat_n(' ', n));
            }
            (Flavour::OpenDocument, X::Open("table-cell", e)) => {
                let numeric = matches!(
                    attr(e, "value-type").as_deref(),
                    Some("float" | "percentage" | "currency")
                );
                if numeric && let Some(v) = attr(e, "value") {
                    out.push_str(&number_text(&v));
                    out.push('\t');
                    skip = 1;
                }
            }
            (Flavour::OpenDocument, X::Close("table-cell")) => out.push('\t'),
            (Flavour::OpenDocument, X::Close("table-row")) => out.push('\n'),
            (_, X::Text(t)) if in_text > 0 => out.push_str(t),
            _ => {}
        }
    });
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

/// Drops the spaces that end `out` (the paragraph breaks of a table cell's last paragraph).
fn trim_end_spaces(out: &mut String) {
    let kept = out.trim_end_matches(' ').len();
    out.truncate(kept);
}

/// The shared strings of a workbook (without phonetic readings).
fn shared_strings(cx: &mut Ctx<'_>, path: &str, xml: &str) -> Vec<String> {
    let mut strings = Vec::new();
    let mut cur = String::new();
    let mut skip = 0usize;
    let mut in_t = false;
    walk(cx, path, "xl/sharedStrings.xml", xml, |x| {
        if skipping(&mut skip, &x) {
            return;
        }
        match x {
            X::Open("si", _) => cur.clear(),
            X::Close("si") => strings.push(std::mem::take(&mut cur)),
            X::Open("rPh", _) => skip = 1,
            X::Open("t", _) => in_t = true,
            X::Close("t") => in_t = false,
            X::Text(t) if in_t => cur.push_str(t),
            _ => {}
        }
    });
    strings
}

/// Appends a worksheet's cells: tab-separated, one row per line.
fn sheet_text(
    cx: &mut Ctx<'_>,
    path: &str,
    part: &str,
    xml: &str,
    shared: &[String],
    out: &mut String,
) {
    let mut cells_in_row = 0usize;
    let mut cell_type: Option<String> = None;
    let mut value = String::new();
    let mut in_value = false;
    let mut in_inline = false;
    let mut skip = 0usize;
    walk(cx, path, part, xml, |x| {
        if skipping(&mut skip, &x) {
            return;
        }
        match x {
            X::Open("row", _) => cells_in_row = 0,
            X::Close("row") if cells_in_row > 0 => out.push('\n'),
            X::Open("c", e) => {
                cell_type = attr(e, "t");
                value.clear();
            }
            X::Open("v", _) => in_value = true,
            X::Close("v") => in_value = false,
            X::Open("is", _) => in_inline = true,
            X::Close("is") => in_inline = false,
            X::Open("rPh", _) => skip = 1,
            X::Open("t", _) if in_inline => in_value = true,
            X::Close("t") if in_inline => in_value = false,
            X::Text(t) if in_value => value.push_str(t),
            X::Close("c") => {
                let shown: Cow<'_, str> = match cell_type.as_deref() {
                    Some("s") => value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| shared.get(i))
                        .map_or(Cow::Borrowed(""), |s| Cow::Borrowed(s.as_str())),
                    Some("b") => Cow::Borrowed(if value.trim() == "1" { "TRUE" } else { "FALSE" }),
                    Some("inlineStr" | "str" | "e") => Cow::Borrowed(value.as_str()),
                    _ => Cow::Owned(number_text(value.trim())),
                };
                if !shown.is_empty() {
                    if cells_in_row > 0 {
                        out.push('\t');
                    }
                    out.push_str(&shown);
                    cells_in_row += 1;
                }
                value.clear();
            }
            _ => {}
        }
    });
}

/// A stored number as digits: integers written in exponent form (`1.23456789012E+11`) are
/// spelled out, so identifiers kept as numbers stay recognisable; other values as stored.
fn number_text(v: &str) -> String {
    if v.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return v.to_owned();
    }
    if let Ok(f) = v.parse::<f64>()
        && f.is_finite()
        && f.fract() == 0.0
        && f.abs() < 1e17
    {
        return format!("{f:.0}");
    }
    v.to_owned()
}

/// An `.xlsb` workbook stores its strings in a binary record format: read the shared-strings
/// items (numbers in binary cells are not read, and that is reported).
fn binary_workbook(
    cx: &mut Ctx<'_>,
    pkg: &mut ZipPkg<'_>,
    path: &str,
    names: &[String],
    out: &mut String,
) {
    if let Some(i) = names.iter().position(|n| n == "xl/sharedStrings.bin")
        && let Some(bytes) = pkg.read(cx, i, &format!("{path}!xl/sharedStrings.bin"))
    {
        for s in xlsb_strings(&bytes) {
            out.push_str(&s);
            out.push('\n');
        }
    }
    cx.problem(
        path,
        ProblemKind::Unsupported,
        "binary workbook (xlsb): only its shared strings are read",
    );
}

/// The strings of the BrtSSTItem records of an xlsb shared-strings part.
fn xlsb_strings(bytes: &[u8]) -> Vec<String> {
    /// A record number: 7 bits per byte, least significant first, at most `max` bytes.
    fn varint(b: &[u8], at: &mut usize, max: usize) -> Option<usize> {
        let mut v = 0usize;
        for k in 0..max {
            let byte = *b.get(*at)?;
            *at += 1;
            v |= usize::from(byte & 0x7F) << (7 * k);
            if byte & 0x80 == 0 {
                break;
            }
        }
        Some(v)
    }
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (Some(ty), Some(size)) = (varint(bytes, &mut at, 2), varint(bytes, &mut at, 4)) else {
            break;
        };
        let Some(body) = bytes.get(at..at.saturating_add(size)) else {
            break;
        };
        at += size;
        if ty == 19 && body.len() >= 5 {
            let count = u32::from_le_bytes([body[1], body[2], body[3], body[4]]) as usize;
            let chars = body
                .get(5..5usize.saturating_add(count.saturating_mul(2)))
                .unwrap_or(&[]);
            let units = chars
                .chunks_exact(2)
                .map(|p| u16::from_le_bytes([p[0], p[1]]));
            out.push(
                char::decode_utf16(units)
                    .map(|c| c.unwrap_or('\u{FFFD}'))
                    .collect(),
            );
        }
    }
    out
}

/// Microsoft Information Protection labels: `MSIP_Label_{GUID}_Name` / `_Enabled` custom
/// properties (the label's name when the file carries it, else `MSIP:{guid}`), and the label
/// ids of `docProps/labelInfo.xml`, which newer Office versions write instead.
fn msip_labels(custom: Option<&str>, label_info: Option<&str>) -> Vec<String> {
    let mut props: Vec<(String, String)> = Vec::new();
    let mut scratch = NullCtx;
    if let Some(xml) = custom {
        let mut name: Option<String> = None;
        let mut value = String::new();
        scratch.walk(xml, |x| match x {
            X::Open("property", e) => {
                name = attr(e, "name");
                value.clear();
            }
            X::Close("property") => {
                if let Some(n) = name.take() {
                    props.push((n, std::mem::take(&mut value)));
                }
            }
            X::Text(t) if name.is_some() => value.push_str(t),
            _ => {}
        });
    }
    labels_from_pairs(
        props.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        label_info_ids(&mut scratch, label_info),
    )
}

/// Label ids listed (enabled, not removed) in `docProps/labelInfo.xml`.
fn label_info_ids(scratch: &mut NullCtx, label_info: Option<&str>) -> Vec<String> {
    let mut ids = Vec::new();
    if let Some(xml) = label_info {
        scratch.walk(xml, |x| {
            if let X::Open("label", e) = x {
                let enabled =
                    attr(e, "enabled").is_none_or(|v| v == "1" || v.eq_ignore_ascii_case("true"));
                let removed =
                    attr(e, "removed").is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
                if enabled
                    && !removed
                    && let Some(id) = attr(e, "id")
                {
                    ids.push(id);
                }
            }
        });
    }
    ids
}

/// Labels from `MSIP_Label_{guid}_{Field}` = value pairs (custom properties, PDF info
/// entries, the `msip_labels` mail header) plus bare label ids.
pub(crate) fn labels_from_pairs<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
    ids: Vec<String>,
) -> Vec<String> {
    struct Label {
        guid: String,
        name: Option<String>,
        enabled: bool,
    }
    let mut labels: Vec<Label> = Vec::new();
    for (key, value) in pairs {
        let Some(rest) = key.trim().strip_prefix("MSIP_Label_") else {
            continue;
        };
        let Some((guid, field)) = rest.rsplit_once('_') else {
            continue;
        };
        let guid = normalise_guid(guid);
        let at = match labels.iter().position(|l| l.guid == guid) {
            Some(at) => at,
            None => {
                labels.push(Label {
                    guid,
                    name: None,
                    enabled: true,
                });
                labels.len() - 1
            }
        };
        let value = value.trim();
        match field {
            "Name" if !value.is_empty() => labels[at].name = Some(value.to_owned()),
            "Enabled" => labels[at].enabled = !value.eq_ignore_ascii_case("false") && value != "0",
            _ => {}
        }
    }
    for id in ids {
        let guid = normalise_guid(&id);
        if !labels.iter().any(|l| l.guid == guid) {
            labels.push(Label {
                guid,
                name: None,
                enabled: true,
            });
        }
    }
    let mut out: Vec<String> = Vec::new();
    for l in labels.into_iter().filter(|l| l.enabled) {
        let label = l.name.unwrap_or_else(|| format!("MSIP:{}", l.guid));
        if !out.contains(&label) {
            out.push(label);
        }
    }
    out
}

/// A GUID without braces, lower case, so the forms of custom.xml and labelInfo.xml match.
fn normalise_guid(g: &str) -> String {
    g.trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .to_ascii_lowercase()
}

/// A walk over small metadata parts that reports nothing: a malformed custom.xml costs its
/// labels, not a problem entry.
struct NullCtx;

impl NullCtx {
    fn walk(&mut self, xml: &str, f: impl FnMut(X<'_>)) {
        let _ = read_events(xml, || false, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_digits() {
        assert_eq!(number_text("123456789012"), "123456789012");
        assert_eq!(number_text("1.23456789012E+11"), "123456789012");
        assert_eq!(number_text("3.5"), "3.5");
        assert_eq!(number_text("-42"), "-42");
        assert_eq!(number_text(""), "");
    }

    #[test]
    fn labels() {
        let custom = r#"<Properties xmlns:vt="x"><property fmtid="{D5}" pid="2" name="MSIP_Label_a1b2c3d4-0000-1111-2222-333344445555_Enabled"><vt:lpwstr>true</vt:lpwstr></property><property pid="3" name="MSIP_Label_a1b2c3d4-0000-1111-2222-333344445555_Name"><vt:lpwstr>社外秘</vt:lpwstr></property><property pid="4" name="MSIP_Label_ffff0000-0000-1111-2222-333344445555_Enabled"><vt:lpwstr>true</vt:lpwstr></property><property pid="5" name="MSIP_Label_dead0000-0000-1111-2222-333344445555_Enabled"><vt:lpwstr>false</vt:lpwstr></property></Properties>"#;
        let info = r#"<clbl:labelList xmlns:clbl="x"><clbl:label id="{A1B2C3D4-0000-1111-2222-333344445555}" enabled="1" method="Standard" siteId="{s}"/><clbl:label id="{12345678-0000-1111-2222-333344445555}" enabled="1" removed="0"/></clbl:labelList>"#;
        assert_eq!(
            msip_labels(Some(custom), Some(info)),
            vec![
                "社外秘",
                "MSIP:ffff0000-0000-1111-2222-333344445555",
                "MSIP:12345678-0000-1111-2222-333344445555"
            ]
        );
    }

    #[test]
    fn numbered_parts_in_order() {
        let names: Vec<String> = [
            "ppt/slides/slide10.xml",
            "ppt/slides/slide2.xml",
            "ppt/slides/slide1.xml",
            "ppt/slides/_rels/slide1.xml.rels",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(
            numbered(&names, "ppt/slides/slide", ".xml"),
            vec![
                "ppt/slides/slide1.xml",
                "ppt/slides/slide2.xml",
                "ppt/slides/slide10.xml"
            ]
        );
    }
}
