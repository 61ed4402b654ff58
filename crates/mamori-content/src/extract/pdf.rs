//! PDF text, labels and attachments.
//!
//! `lopdf` parses the file (cross-reference recovery, object streams, filters, decryption
//! with the empty user password that "no-copy" PDFs use, all under a decompression limit);
//! the text is ours: a content-stream interpreter that follows the text matrix to put spaces
//! and line breaks where the page has gaps and new lines, maps character codes to Unicode
//! through the font's ToUnicode CMap (how CJK text in Identity-H fonts becomes real
//! characters), the predefined CJK CMaps of non-embedded Japanese fonts (`90ms-RKSJ-H` is
//! Shift_JIS, `UniJIS-UCS2-H` is UTF-16, `EUC-H` is EUC-JP, `H` is JIS X 0208) or the simple
//! fonts' encodings, and walks form XObjects. Embedded files (the EmbeddedFiles name tree and
//! file-attachment annotations) are nested parts: a PDF is a container too.
//!
//! The whole of it runs on a thread of its own under `catch_unwind`, because a PDF parser
//! meets the most adversarial input of all: a panic becomes a `Malformed` problem, and a file
//! that takes longer than the time left becomes `TimedOut` without holding the caller (the
//! thread checks the deadline itself between pages and operators and ends soon after).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::time::Instant;

use encoding_rs::{EUC_JP, Encoding, ISO_2022_JP, SHIFT_JIS};
use lopdf::content::Content as Ops;
use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId};

use super::{Content, Ctx, Nested, NestedItem, ProblemKind};

/// The limits the PDF thread works within.
#[derive(Clone)]
struct Budget {
    deadline: Instant,
    /// Decompressed bytes allowed (page contents, forms, CMaps, embedded files).
    expanded: u64,
    max_input: u64,
    max_text_chars: usize,
}

/// What the PDF thread found.
#[derive(Default)]
struct PdfOut {
    text: String,
    labels: Vec<String>,
    embedded: Vec<Nested>,
    problems: Vec<(ProblemKind, String)>,
    expanded: u64,
}

/// Reads a PDF on a worker thread, within the time left.
pub(crate) fn read(cx: &mut Ctx<'_>, path: &str, bytes: &[u8]) -> Content {
    let budget = Budget {
        deadline: cx.deadline(),
        expanded: cx.expanded_left(),
        max_input: cx.limits.max_input_bytes,
        max_text_chars: cx.limits.max_text_chars,
    };
    let data = bytes.to_vec();
    let (tx, rx) = mpsc::channel();
    let job_budget = budget.clone();
    let spawned = std::thread::Builder::new()
        .name("mamori-pdf".into())
        .stack_size(64 << 20)
        .spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(|| extract(&data, &job_budget)));
            let _ = tx.send(result.ok());
        });
    let result = match spawned {
        Ok(_) => match rx.recv_timeout(cx.remaining_time()) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                cx.timed_out(path);
                return Content::default();
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
        },
        // No thread to be had: read it here (still under catch_unwind).
        Err(_) => catch_unwind(AssertUnwindSafe(|| extract(bytes, &budget))).ok(),
    };
    let Some(out) = result else {
        cx.problem(
            path,
            ProblemKind::Malformed,
            "the PDF parser failed on this file (internal panic)",
        );
        return Content::default();
    };
    cx.spend(out.expanded);
    for (kind, detail) in out.problems {
        if kind == ProblemKind::TimedOut {
            cx.timed_out(path);
        } else {
            cx.problem(path, kind, detail);
        }
    }
    Content {
        text: Some(out.text),
        labels: out.labels,
        nested: out.embedded.into_iter().map(NestedItem::Bytes).collect(),
        ..Content::default()
    }
}

/// The work of the PDF thread.
fn extract(data: &[u8], budget: &Budget) -> PdfOut {
    let mut out = PdfOut::default();
    let per_stream = usize::try_from(budget.expanded.min(256 << 20)).unwrap_or(256 << 20);
    let options = LoadOptions {
        max_decompressed_size: Some(per_stream),
        ..LoadOptions::default()
    };
    let doc = match Document::load_mem_with_options(data, options) {
        Ok(doc) => doc,
        Err(e) => {
            let (kind, detail) = match &e {
                lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                    ..
                }) => (
                    ProblemKind::Bomb,
                    format!("a compressed stream expands beyond {per_stream} bytes"),
                ),
                lopdf::Error::InvalidPassword | lopdf::Error::Decryption(_) => {
                    (ProblemKind::Encrypted, "encrypted PDF".to_owned())
                }
                _ => (ProblemKind::Malformed, format!("unreadable PDF: {e}")),
            };
            out.problems.push((kind, detail));
            return out;
        }
    };
    if doc.is_encrypted() {
        out.problems.push((
            ProblemKind::Encrypted,
            "encrypted PDF (a password is needed to read it)".to_owned(),
        ));
        return out;
    }
    out.labels = info_labels(&doc);
    let mut reader = TextReader::new(&doc, budget);
    let pages = doc.get_pages();
    let mut empty_pages = 0usize;
    for (number, page_id) in &pages {
        if Instant::now() >= budget.deadline {
            reader.problems.push((ProblemKind::TimedOut, String::new()));
            break;
        }
        if reader.chars > budget.max_text_chars {
            break;
        }
        let before = reader.text.len();
        reader.page(*number, *page_id);
        if reader.text[before..].trim().is_empty() {
            empty_pages += 1;
        }
        reader.newline();
    }
    form_fields(&doc, &mut reader.text);
    if !pages.is_empty() && reader.text.trim().is_empty() {
        let detail = if reader.unmapped > 0 {
            "the text uses fonts without a Unicode mapping; it could not be extracted".to_owned()
        } else {
            "no text layer (scanned or image-only PDF?)".to_owned()
        };
        reader.problems.push((ProblemKind::Unsupported, detail));
    } else if reader.unmapped * 20 > reader.chars {
        // A few unmapped symbols (a TeX font's ornaments) are not worth a problem; a twentieth
        // of the text is.
        let n = reader.unmapped;
        reader.problems.push((ProblemKind::Unsupported, format!("{n} characters in fonts without a Unicode mapping were left out ({empty_pages} page(s) without text)")));
    }
    embedded_files(&doc, budget, &mut reader);
    out.text = std::mem::take(&mut reader.text);
    out.problems.append(&mut reader.problems);
    out.embedded = std::mem::take(&mut reader.embedded);
    out.expanded = reader.expanded;
    out
}

/// Microsoft sensitivity labels written into the document information dictionary.
fn info_labels(doc: &Document) -> Vec<String> {
    let Some(info) = doc
        .trailer
        .get(b"Info")
        .ok()
        .and_then(|o| doc.dereference(o).ok())
        .and_then(|(_, o)| o.as_dict().ok())
    else {
        return Vec::new();
    };
    let pairs: Vec<(String, String)> = info
        .iter()
        .filter(|(k, _)| k.starts_with(b"MSIP_Label_"))
        .map(|(k, v)| {
            let value = doc
                .dereference(v)
                .ok()
                .and_then(|(_, v)| lopdf::decode_text_string(v).ok())
                .unwrap_or_default();
            (String::from_utf8_lossy(k).into_owned(), value)
        })
        .collect();
    super::ooxml::labels_from_pairs(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        Vec::new(),
    )
}

/// The values of filled-in form fields ("name: value" lines): what a person typed into a PDF
/// form lives in the field dictionaries, not in any page's content.
fn form_fields(doc: &Document, out: &mut String) {
    let Some(fields) = doc
        .catalog()
        .ok()
        .and_then(|c| deref_dict(doc, c.get(b"AcroForm").ok()))
        .and_then(|f| f.get(b"Fields").ok())
        .and_then(|f| doc.dereference(f).ok())
        .and_then(|(_, f)| f.as_array().ok())
    else {
        return;
    };
    let mut stack: Vec<(&Dictionary, u32)> = fields
        .iter()
        .rev()
        .filter_map(|f| deref_dict(doc, Some(f)).map(|d| (d, 0)))
        .collect();
    let mut seen = 0;
    let mut lines = String::new();
    while let Some((field, depth)) = stack.pop() {
        seen += 1;
        if seen > 10_000 {
            break;
        }
        let value = field
            .get(b"V")
            .ok()
            .map(|v| deref(doc, v))
            .and_then(|v| match v {
                Object::String(..) => lopdf::decode_text_string(v).ok(),
                Object::Name(n) if n.as_slice() != b"Off" => {
                    Some(String::from_utf8_lossy(n).into_owned())
                }
                _ => None,
            });
        if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
            let name = field
                .get(b"T")
                .ok()
                .and_then(|t| lopdf::decode_text_string(t).ok())
                .unwrap_or_default();
            lines.push_str(&format!("{name}: {value}\n"));
        }
        if depth < 32
            && let Ok(kids) = field.get(b"Kids").and_then(Object::as_array)
        {
            stack.extend(
                kids.iter()
                    .rev()
                    .filter_map(|k| deref_dict(doc, Some(k)).map(|d| (d, depth + 1))),
            );
        }
    }
    if !lines.is_empty() {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&lines);
    }
}

/// Files embedded in the document: the EmbeddedFiles name tree and file-attachment
/// annotations.
fn embedded_files(doc: &Document, budget: &Budget, reader: &mut TextReader<'_>) {
    let mut specs: Vec<&Dictionary> = Vec::new();
    let mut seen: HashSet<*const Dictionary> = HashSet::new();
    if let Some(tree) = doc
        .catalog()
        .ok()
        .and_then(|c| deref_dict(doc, c.get(b"Names").ok()))
        .and_then(|n| deref_dict(doc, n.get(b"EmbeddedFiles").ok()))
    {
        let mut stack = vec![(tree, 0u32)];
        let mut visited = 0u32;
        while let Some((node, depth)) = stack.pop() {
            visited += 1;
            if visited > 10_000 || depth > 32 {
                break;
            }
            if let Ok(names) = node.get(b"Names").and_then(Object::as_array) {
                for pair in names.chunks(2) {
                    if let Some(spec) = pair.get(1).and_then(|o| deref_dict(doc, Some(o))) {
                        specs.push(spec);
                    }
                }
            }
            if let Ok(kids) = node.get(b"Kids").and_then(Object::as_array) {
                stack.extend(
                    kids.iter()
                        .filter_map(|k| deref_dict(doc, Some(k)))
                        .map(|k| (k, depth + 1)),
                );
            }
        }
    }
    for page_id in doc.page_iter().take(100_000) {
        let Ok(page) = doc.get_dictionary(page_id) else {
            continue;
        };
        let Some(annots) = page
            .get(b"Annots")
            .ok()
            .and_then(|a| doc.dereference(a).ok())
            .and_then(|(_, a)| a.as_array().ok())
        else {
            continue;
        };
        for annot in annots
            .iter()
            .take(10_000)
            .filter_map(|a| deref_dict(doc, Some(a)))
        {
            if annot.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"FileAttachment")
                && let Some(spec) = deref_dict(doc, annot.get(b"FS").ok())
            {
                specs.push(spec);
            }
        }
    }
    for (i, spec) in specs.into_iter().enumerate() {
        if !seen.insert(spec as *const Dictionary) || Instant::now() >= budget.deadline {
            continue;
        }
        let name = [b"UF".as_slice(), b"F"]
            .iter()
            .find_map(|k| {
                spec.get(k)
                    .ok()
                    .and_then(|o| lopdf::decode_text_string(o).ok())
            })
            .map(|n| n.rsplit(['/', '\\']).next().unwrap_or("").replace('!', "_"))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("attachment-{}", i + 1));
        let Some(ef) = deref_dict(doc, spec.get(b"EF").ok()) else {
            continue;
        };
        let Some(stream) = [b"UF".as_slice(), b"F"].iter().find_map(|k| {
            ef.get(k)
                .ok()
                .and_then(|o| doc.dereference(o).ok())
                .and_then(|(_, o)| o.as_stream().ok())
        }) else {
            continue;
        };
        let limit = reader.left().min(budget.max_input);
        match stream.decompressed_content_with_limit(usize::try_from(limit).unwrap_or(usize::MAX)) {
            Ok(bytes) => {
                reader.expanded += bytes.len() as u64;
                reader.embedded.push(Nested { name, bytes });
            }
            Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                ..
            })) => {
                reader.problems.push((
                    ProblemKind::Bomb,
                    format!("embedded file {name} expands beyond {limit} bytes"),
                ));
            }
            Err(e) => reader.problems.push((
                ProblemKind::Malformed,
                format!("embedded file {name} unreadable: {e}"),
            )),
        }
    }
}

fn deref_dict<'a>(doc: &'a Document, o: Option<&'a Object>) -> Option<&'a Dictionary> {
    doc.dereference(o?).ok()?.1.as_dict().ok()
}

fn deref<'a>(doc: &'a Document, o: &'a Object) -> &'a Object {
    doc.dereference(o).map(|(_, o)| o).unwrap_or(o)
}

fn num(o: &Object) -> f64 {
    o.as_float().map(f64::from).unwrap_or(0.0)
}

/// An affine matrix `[a b c d e f]` (row-vector convention, as in the PDF specification).
#[derive(Clone, Copy, Debug)]
struct M([f64; 6]);

impl M {
    const ID: M = M([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    fn from_ops(ops: &[Object]) -> Option<M> {
        if ops.len() < 6 {
            return None;
        }
        let mut m = [0.0; 6];
        for (v, o) in m.iter_mut().zip(ops) {
            *v = num(o);
        }
        m.iter().all(|v| v.is_finite()).then_some(M(m))
    }

    /// self × other.
    fn mul(self, o: M) -> M {
        let [a, b, c, d, e, f] = self.0;
        let [a2, b2, c2, d2, e2, f2] = o.0;
        M([
            a * a2 + b * c2,
            a * b2 + b * d2,
            c * a2 + d * c2,
            c * b2 + d * d2,
            e * a2 + f * c2 + e2,
            e * b2 + f * d2 + f2,
        ])
    }

    fn translate(tx: f64, ty: f64) -> M {
        M([1.0, 0.0, 0.0, 1.0, tx, ty])
    }
}

/// Text state that `q`/`Q` save and restore.
#[derive(Clone)]
struct State {
    ctm: M,
    font: Option<usize>,
    size: f64,
    char_spacing: f64,
    word_spacing: f64,
    scale: f64,
    leading: f64,
    rise: f64,
}

/// Extracts the text of pages.
struct TextReader<'d> {
    doc: &'d Document,
    budget: &'d Budget,
    text: String,
    chars: usize,
    problems: Vec<(ProblemKind, String)>,
    embedded: Vec<Nested>,
    expanded: u64,
    /// Glyphs whose font gives no Unicode.
    unmapped: usize,
    fonts: Vec<Font>,
    font_ids: HashMap<ObjectId, usize>,
    /// Form XObjects run so far (a form drawn by every page, or forms drawing each other,
    /// must not multiply the work without bound).
    forms_run: usize,
    /// Where the last glyph ended (device space), and the font size there.
    last: Option<(f64, f64, f64)>,
    /// Operators interpreted, for the time checks.
    ops: u64,
    stop: bool,
}

impl<'d> TextReader<'d> {
    fn new(doc: &'d Document, budget: &'d Budget) -> Self {
        Self {
            doc,
            budget,
            text: String::new(),
            chars: 0,
            problems: Vec::new(),
            embedded: Vec::new(),
            expanded: 0,
            unmapped: 0,
            fonts: Vec::new(),
            font_ids: HashMap::new(),
            forms_run: 0,
            last: None,
            ops: 0,
            stop: false,
        }
    }

    fn left(&self) -> u64 {
        self.budget.expanded.saturating_sub(self.expanded)
    }

    fn newline(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
            self.chars += 1;
        }
        self.last = None;
    }

    fn page(&mut self, number: u32, page_id: ObjectId) {
        let doc = self.doc;
        let Ok(page) = doc.get_dictionary(page_id) else {
            return;
        };
        let resources = inherited_resources(doc, page);
        let limit = usize::try_from(self.left().min(self.budget.max_input)).unwrap_or(usize::MAX);
        let content = match doc.get_page_content_with_limit(page_id, limit) {
            Ok(c) => c,
            Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                ..
            })) => {
                self.problems.push((
                    ProblemKind::Bomb,
                    format!("page {number}: content expands beyond {limit} bytes"),
                ));
                self.stop = true;
                return;
            }
            Err(e) => {
                self.problems.push((
                    ProblemKind::Malformed,
                    format!("page {number}: unreadable content ({e})"),
                ));
                return;
            }
        };
        self.expanded += content.len() as u64;
        let state = State {
            ctm: M::ID,
            font: None,
            size: 0.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            scale: 1.0,
            leading: 0.0,
            rise: 0.0,
        };
        self.run(&content, resources, state, 0, number);
    }

    /// Interprets a content stream.
    fn run(
        &mut self,
        content: &[u8],
        resources: Option<&'d Dictionary>,
        mut st: State,
        depth: u32,
        page: u32,
    ) {
        let mut stack: Vec<State> = Vec::new();
        let mut tm = M::ID;
        let mut tlm = M::ID;
        let mut ops_ok = true;
        for op in Ops::decode_iter(content) {
            let Ok(op) = op else {
                ops_ok = false;
                break;
            };
            self.ops += 1;
            if self.stop
                || (self.ops.is_multiple_of(4096) && Instant::now() >= self.budget.deadline)
            {
                self.stop = true;
                return;
            }
            if self.chars > self.budget.max_text_chars {
                self.stop = true;
                return;
            }
            let o = &op.operands;
            match op.operator.as_str() {
                "q" if stack.len() < 256 => stack.push(st.clone()),
                "Q" => {
                    if let Some(s) = stack.pop() {
                        st = s;
                    }
                }
                "cm" => {
                    if let Some(m) = M::from_ops(o) {
                        st.ctm = m.mul(st.ctm);
                    }
                }
                "BT" => {
                    tm = M::ID;
                    tlm = M::ID;
                }
                "Tf" => {
                    st.font = o
                        .first()
                        .and_then(|n| n.as_name().ok())
                        .and_then(|n| self.font(resources, n));
                    st.size = o.get(1).map_or(0.0, num);
                }
                "Tc" => st.char_spacing = o.first().map_or(0.0, num),
                "Tw" => st.word_spacing = o.first().map_or(0.0, num),
                "Tz" => st.scale = o.first().map_or(100.0, num) / 100.0,
                "TL" => st.leading = o.first().map_or(0.0, num),
                "Ts" => st.rise = o.first().map_or(0.0, num),
                "Td" | "TD" => {
                    let (tx, ty) = (o.first().map_or(0.0, num), o.get(1).map_or(0.0, num));
                    if op.operator == "TD" {
                        st.leading = -ty;
                    }
                    tlm = M::translate(tx, ty).mul(tlm);
                    tm = tlm;
                }
                "Tm" => {
                    if let Some(m) = M::from_ops(o) {
                        tlm = m;
                        tm = m;
                    }
                }
                "T*" => {
                    tlm = M::translate(0.0, -st.leading).mul(tlm);
                    tm = tlm;
                }
                "Tj" => {
                    if let Some(s) = o.first().and_then(|s| s.as_str().ok()) {
                        self.show(s, &st, &mut tm);
                    }
                }
                "'" | "\"" => {
                    if op.operator == "\"" {
                        st.word_spacing = o.first().map_or(st.word_spacing, num);
                        st.char_spacing = o.get(1).map_or(st.char_spacing, num);
                    }
                    tlm = M::translate(0.0, -st.leading).mul(tlm);
                    tm = tlm;
                    if let Some(s) = o.last().and_then(|s| s.as_str().ok()) {
                        self.show(s, &st, &mut tm);
                    }
                }
                "TJ" => {
                    if let Some(items) = o.first().and_then(|a| a.as_array().ok()) {
                        for item in items {
                            match item {
                                Object::String(s, _) => self.show(s, &st, &mut tm),
                                Object::Integer(_) | Object::Real(_) => {
                                    let adjust = -num(item) / 1000.0 * st.size * st.scale;
                                    let vertical = st
                                        .font
                                        .and_then(|f| self.fonts.get(f))
                                        .is_some_and(|f| f.vertical);
                                    tm = if vertical {
                                        M::translate(0.0, -num(item) / 1000.0 * st.size)
                                    } else {
                                        M::translate(adjust, 0.0)
                                    }
                                    .mul(tm);
                                }
                                _ => {}
                            }
                        }
                    }
                }
                "Do" => {
                    if let Some(name) = o.first().and_then(|n| n.as_name().ok()) {
                        self.form(resources, name, &st, depth, page);
                    }
                }
                _ => {}
            }
        }
        if !ops_ok {
            self.problems.push((
                ProblemKind::Malformed,
                format!("page {page}: content stream syntax error; the text before it is kept"),
            ));
        }
    }

    /// Runs a form XObject.
    fn form(
        &mut self,
        resources: Option<&'d Dictionary>,
        name: &[u8],
        st: &State,
        depth: u32,
        page: u32,
    ) {
        let doc = self.doc;
        if depth >= 8 || self.forms_run >= 10_000 {
            return;
        }
        let Some(xobjects) = resources.and_then(|r| deref_dict(doc, r.get(b"XObject").ok())) else {
            return;
        };
        let Some(stream) = xobjects
            .get(name)
            .ok()
            .map(|o| deref(doc, o))
            .and_then(|o| o.as_stream().ok())
        else {
            return;
        };
        if stream.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form") {
            return;
        }
        self.forms_run += 1;
        let limit = usize::try_from(self.left().min(self.budget.max_input)).unwrap_or(usize::MAX);
        let content = match stream.decompressed_content_with_limit(limit) {
            Ok(c) => c,
            Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                ..
            })) => {
                self.problems.push((
                    ProblemKind::Bomb,
                    format!("page {page}: a form expands beyond {limit} bytes"),
                ));
                self.stop = true;
                return;
            }
            Err(_) if stream.dict.get(b"Filter").is_err() => stream.content.clone(),
            Err(_) => return,
        };
        self.expanded += content.len() as u64;
        let own = deref_dict(doc, stream.dict.get(b"Resources").ok()).or(resources);
        let mut inner = st.clone();
        if let Some(m) = stream
            .dict
            .get(b"Matrix")
            .ok()
            .and_then(|m| m.as_array().ok())
            .and_then(|a| M::from_ops(a))
        {
            inner.ctm = m.mul(st.ctm);
        }
        self.run(&content, own, inner, depth + 1, page);
    }

    /// The font named `name` in `resources`, loaded once per font object.
    fn font(&mut self, resources: Option<&'d Dictionary>, name: &[u8]) -> Option<usize> {
        let doc = self.doc;
        let fonts = resources.and_then(|r| deref_dict(doc, r.get(b"Font").ok()))?;
        let entry = fonts.get(name).ok()?;
        let id = entry.as_reference().ok();
        if let Some(i) = id.and_then(|id| self.font_ids.get(&id)) {
            return Some(*i);
        }
        let dict = deref(doc, entry).as_dict().ok()?;
        let left = self.left();
        let (font, used) = Font::load(doc, dict, left);
        self.expanded += used;
        self.fonts.push(font);
        let index = self.fonts.len() - 1;
        if let Some(id) = id {
            self.font_ids.insert(id, index);
        }
        Some(index)
    }

    /// Shows a string: maps its codes to text, inserting a space or line break where the
    /// glyphs' positions show a gap or a new line, and advances the text matrix.
    fn show(&mut self, s: &[u8], st: &State, tm: &mut M) {
        let Some(font) = st.font.and_then(|f| self.fonts.get(f)) else {
            return;
        };
        let size = st.size;
        let mut glyphs: Vec<(Cow<'_, str>, f64, bool)> = Vec::new();
        font.each(s, |text, width, is_space| {
            glyphs.push((text, width, is_space))
        });
        let vertical = font.vertical;
        let mut unmapped = 0usize;
        for (text, width, is_space) in glyphs {
            let trm = M([size * st.scale, 0.0, 0.0, size, 0.0, st.rise])
                .mul(*tm)
                .mul(st.ctm);
            let (x, y) = (trm.0[4], trm.0[5]);
            let em = (trm.0[2].hypot(trm.0[3])).max(0.01);
            if text.is_empty() {
                unmapped += 1;
            } else {
                if let Some((lx, ly, lsize)) = self.last {
                    let size = em.max(lsize);
                    let (along, across) = if vertical {
                        (ly - y, (x - lx).abs())
                    } else {
                        (x - lx, (y - ly).abs())
                    };
                    let first = text.chars().next().unwrap_or(' ');
                    let prev = self.text.chars().next_back().unwrap_or(' ');
                    if across > size * 0.5 {
                        if !self.text.ends_with('\n') {
                            self.text.push('\n');
                            self.chars += 1;
                        }
                    } else if !first.is_whitespace() && !prev.is_whitespace() {
                        let gap = if is_cjk(first) && is_cjk(prev) {
                            0.8
                        } else {
                            0.2
                        };
                        // A gap of about a character or more separates columns (table cells,
                        // a form's label and value): a tab, so values are read under their
                        // column's header as in a spreadsheet.
                        if along > size * COLUMN_GAP {
                            self.text.push('\t');
                            self.chars += 1;
                        } else if along > size * gap || along < -size * 1.5 {
                            self.text.push(' ');
                            self.chars += 1;
                        }
                    }
                }
                self.chars += text.chars().count();
                self.text.push_str(&text);
            }
            let spacing = st.char_spacing + if is_space { st.word_spacing } else { 0.0 };
            *tm = if vertical {
                M::translate(0.0, -(width * size + spacing))
            } else {
                M::translate((width * size + spacing) * st.scale, 0.0)
            }
            .mul(*tm);
            if !text.is_empty() {
                let end = M([size * st.scale, 0.0, 0.0, size, 0.0, st.rise])
                    .mul(*tm)
                    .mul(st.ctm);
                self.last = Some((end.0[4], end.0[5], em));
            }
        }
        self.unmapped += unmapped;
    }
}

/// The horizontal gap between two glyphs, in ems, from which they are in different columns.
/// Word spaces are about a quarter of an em, a gap between Japanese characters about none;
/// table cells and tab stops leave an em or more.
const COLUMN_GAP: f64 = 0.6;

/// Kana, kanji and full-width forms: scripts written without spaces between words.
fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3000..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF)
}

/// A page's resources, inherited from its ancestors when it has none of its own.
fn inherited_resources<'a>(doc: &'a Document, page: &'a Dictionary) -> Option<&'a Dictionary> {
    let mut node = page;
    for _ in 0..64 {
        if let Some(r) = deref_dict(doc, node.get(b"Resources").ok()) {
            return Some(r);
        }
        node = deref_dict(doc, node.get(b"Parent").ok())?;
    }
    None
}

/// How a font's string bytes split into character codes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Split {
    Fixed(usize),
    /// By the codespace ranges of a CMap.
    Codespace,
    ShiftJis,
    EucJp,
    /// Two bytes when the first is ≥ 0x81 (GBK, Big5, UHC).
    DoubleHigh,
    Utf8,
}

/// How character codes become Unicode.
enum Mapping {
    ToUnicode(CMap),
    /// One string per byte value (simple fonts).
    Table(Box<[String; 256]>),
    /// The code's bytes are text in a legacy encoding.
    Legacy(&'static Encoding),
    /// The code's two bytes are a JIS X 0208 row and cell.
    Jis,
    Utf16,
    Utf8,
    None,
}

/// What the text reader needs of a font.
struct Font {
    split: Split,
    /// The codespace when `split` is `Codespace`.
    codespace: Vec<(Vec<u8>, Vec<u8>)>,
    mapping: Mapping,
    /// Used when `mapping` has no entry for a code (a simple font's encoding behind its
    /// ToUnicode CMap).
    fallback: Option<Box<[String; 256]>>,
    /// For Identity-encoded CID fonts: Unicode from the embedded TrueType font's own `cmap`
    /// table, reversed (glyph → character), for codes the ToUnicode CMap lacks or when there
    /// is none.
    glyphs: Option<Glyphs>,
    widths: Widths,
    vertical: bool,
}

/// Characters of glyphs, from an embedded TrueType font.
struct Glyphs {
    /// `CIDToGIDMap` when it is a stream (absent: identity).
    cid_to_gid: Option<Vec<u16>>,
    chars: HashMap<u16, char>,
}

/// Glyph widths in text space units per unit of font size.
struct Widths {
    first: u32,
    list: Vec<f64>,
    /// CID fonts' `W` ranges: (first, last, width).
    ranges: Vec<(u32, u32, f64)>,
    default: f64,
    /// Width of single-byte codes in multi-byte predefined encodings (half width).
    single: f64,
    /// Codes are CIDs (Identity encodings), so `W` applies.
    by_cid: bool,
}

impl Widths {
    fn of(&self, code: u32, len: usize) -> f64 {
        if !self.by_cid && len == 1 && self.ranges.is_empty() && self.list.is_empty() {
            return self.single;
        }
        if let Some(i) = code.checked_sub(self.first)
            && let Some(w) = self.list.get(i as usize)
        {
            return *w;
        }
        if self.by_cid {
            for &(lo, hi, w) in &self.ranges {
                if (lo..=hi).contains(&code) {
                    return w;
                }
            }
        }
        if len == 1 && !self.by_cid {
            self.single
        } else {
            self.default
        }
    }
}

impl Font {
    /// Reads a font dictionary; returns the font and the bytes decompressed for it.
    fn load(doc: &Document, dict: &Dictionary, budget: u64) -> (Font, u64) {
        let mut used = 0u64;
        let limit = usize::try_from(budget.min(16 << 20)).unwrap_or(16 << 20);
        let to_unicode = dict
            .get(b"ToUnicode")
            .ok()
            .map(|o| deref(doc, o))
            .and_then(|o| o.as_stream().ok())
            .and_then(|s| {
                s.decompressed_content_with_limit(limit)
                    .ok()
                    .or_else(|| s.dict.get(b"Filter").is_err().then(|| s.content.clone()))
            })
            .map(|data| {
                used += data.len() as u64;
                CMap::parse(&data)
            });
        let to_unicode = to_unicode.filter(|c| !c.is_empty());
        let subtype = dict
            .get(b"Subtype")
            .and_then(Object::as_name)
            .unwrap_or(b"");
        let font_matrix_scale = dict
            .get(b"FontMatrix")
            .ok()
            .and_then(|m| m.as_array().ok())
            .and_then(|a| a.first())
            .map_or(0.001, num);
        if subtype == b"Type0" {
            let encoding = dict.get(b"Encoding").ok().map(|o| deref(doc, o));
            let name: Vec<u8> = encoding
                .and_then(|e| e.as_name().ok())
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            let name_str = String::from_utf8_lossy(&name).into_owned();
            let vertical = name_str == "V" || name_str.ends_with("-V");
            let (mut split, mut codespace) = (Split::Fixed(2), Vec::new());
            let mut predefined = Mapping::None;
            let mut identity = false;
            if let Some(stream) = encoding.and_then(|e| e.as_stream().ok()) {
                if let Ok(data) = stream.decompressed_content_with_limit(limit) {
                    used += data.len() as u64;
                    let cmap = CMap::parse(&data);
                    if !cmap.codespace.is_empty() {
                        split = Split::Codespace;
                        codespace = cmap.codespace;
                    }
                }
            } else {
                (split, predefined) = predefined_cmap(&name_str);
                identity = name_str.starts_with("Identity");
            }
            let widths = cid_widths(doc, dict, identity);
            let glyphs = if identity {
                truetype_glyphs(doc, dict, limit, &mut used)
            } else {
                None
            };
            let mapping = match to_unicode {
                Some(cmap) => Mapping::ToUnicode(cmap),
                None => predefined,
            };
            return (
                Font {
                    split,
                    codespace,
                    mapping,
                    fallback: None,
                    glyphs,
                    widths,
                    vertical,
                },
                used,
            );
        }
        // Simple fonts: one byte per code.
        let table = simple_table(doc, dict);
        let widths = simple_widths(doc, dict, font_matrix_scale);
        let (mapping, fallback) = match to_unicode {
            Some(cmap) => (Mapping::ToUnicode(cmap), Some(table)),
            None => (Mapping::Table(table), None),
        };
        (
            Font {
                split: Split::Fixed(1),
                codespace: Vec::new(),
                mapping,
                fallback,
                glyphs: None,
                widths,
                vertical: false,
            },
            used,
        )
    }

    /// Calls `f` with the text, width (per unit of font size) and word-space flag of every
    /// code in `s`.
    fn each<'s>(&'s self, s: &[u8], mut f: impl FnMut(Cow<'s, str>, f64, bool)) {
        let mut i = 0;
        while i < s.len() {
            let len = self.code_len(&s[i..]).clamp(1, s.len() - i);
            let bytes = &s[i..i + len];
            let code = bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
            let text = self.map(bytes, code);
            let width = self.widths.of(code, len);
            f(text, width, len == 1 && bytes[0] == 32);
            i += len;
        }
    }

    fn code_len(&self, s: &[u8]) -> usize {
        let b = s[0];
        match self.split {
            Split::Fixed(n) => n,
            Split::ShiftJis => {
                if matches!(b, 0x81..=0x9F | 0xE0..=0xFC) {
                    2
                } else {
                    1
                }
            }
            Split::EucJp => match b {
                0x8F => 3,
                0x8E | 0xA1..=0xFE => 2,
                _ => 1,
            },
            Split::DoubleHigh => {
                if b >= 0x81 {
                    2
                } else {
                    1
                }
            }
            Split::Utf8 => match b {
                0xF0..=0xF7 => 4,
                0xE0..=0xEF => 3,
                0xC0..=0xDF => 2,
                _ => 1,
            },
            Split::Codespace => {
                for len in 1..=4.min(s.len()) {
                    if self.codespace.iter().any(|(lo, hi)| {
                        lo.len() == len && (0..len).all(|k| lo[k] <= s[k] && s[k] <= hi[k])
                    }) {
                        return len;
                    }
                }
                self.codespace
                    .iter()
                    .map(|(lo, _)| lo.len())
                    .min()
                    .unwrap_or(1)
            }
        }
    }

    fn map<'s>(&'s self, bytes: &[u8], code: u32) -> Cow<'s, str> {
        let mapped: Option<Cow<'s, str>> = match &self.mapping {
            Mapping::ToUnicode(cmap) => cmap.lookup(bytes.len(), code),
            Mapping::Table(t) => Some(Cow::Borrowed(t[bytes[0] as usize].as_str())),
            Mapping::Legacy(e) => Some(Cow::Owned(
                e.decode_without_bom_handling(bytes).0.into_owned(),
            )),
            Mapping::Jis => {
                let mut jis = b"\x1b$B".to_vec();
                jis.extend_from_slice(bytes);
                Some(Cow::Owned(
                    ISO_2022_JP.decode_without_bom_handling(&jis).0.into_owned(),
                ))
            }
            Mapping::Utf16 => {
                let units = bytes
                    .chunks(2)
                    .map(|p| u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)]));
                Some(Cow::Owned(
                    char::decode_utf16(units)
                        .map(|r| r.unwrap_or('\u{FFFD}'))
                        .collect(),
                ))
            }
            Mapping::Utf8 => Some(Cow::Owned(String::from_utf8_lossy(bytes).into_owned())),
            Mapping::None => None,
        };
        match mapped {
            Some(s) => clean(s),
            None => match (&self.fallback, &self.glyphs) {
                (Some(t), _) if bytes.len() == 1 => Cow::Borrowed(t[bytes[0] as usize].as_str()),
                (_, Some(g)) => {
                    let gid = match &g.cid_to_gid {
                        Some(map) => map.get(code as usize).copied(),
                        None => u16::try_from(code).ok(),
                    };
                    gid.and_then(|gid| g.chars.get(&gid))
                        .map_or(Cow::Borrowed(""), |c| Cow::Owned(c.to_string()))
                }
                _ => Cow::Borrowed(""),
            },
        }
    }
}

/// Drops control characters a font map may produce (NUL-mapped glyphs, stray C0 codes).
fn clean(s: Cow<'_, str>) -> Cow<'_, str> {
    if s.chars().any(|c| c.is_control() && c != '\t') {
        Cow::Owned(
            s.chars()
                .filter(|c| !c.is_control() || *c == '\t')
                .collect(),
        )
    } else {
        s
    }
}

/// The glyph → character map of the TrueType font embedded in a Type0 font's descendant
/// (`FontFile2`), with its `CIDToGIDMap`.
fn truetype_glyphs(
    doc: &Document,
    dict: &Dictionary,
    limit: usize,
    used: &mut u64,
) -> Option<Glyphs> {
    let descendant = dict
        .get(b"DescendantFonts")
        .ok()
        .map(|o| deref(doc, o))
        .and_then(|o| o.as_array().ok())
        .and_then(|a| a.first())
        .and_then(|f| deref_dict(doc, Some(f)))?;
    let descriptor = deref_dict(doc, descendant.get(b"FontDescriptor").ok())?;
    let file = descriptor
        .get(b"FontFile2")
        .ok()
        .map(|o| deref(doc, o))?
        .as_stream()
        .ok()?;
    let data = file.decompressed_content_with_limit(limit).ok()?;
    *used += data.len() as u64;
    let chars = truetype_cmap(&data)?;
    let cid_to_gid = match descendant.get(b"CIDToGIDMap").ok().map(|o| deref(doc, o)) {
        Some(Object::Stream(s)) => {
            let map = s.decompressed_content_with_limit(limit.min(1 << 20)).ok()?;
            *used += map.len() as u64;
            Some(
                map.chunks_exact(2)
                    .map(|p| u16::from_be_bytes([p[0], p[1]]))
                    .collect(),
            )
        }
        _ => None,
    };
    Some(Glyphs { cid_to_gid, chars })
}

/// The Unicode `cmap` subtable (format 4 or 12) of a TrueType font, reversed: glyph id →
/// the first character that maps to it.
fn truetype_cmap(font: &[u8]) -> Option<HashMap<u16, char>> {
    let u16_at = |at: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*font.get(at)?, *font.get(at + 1)?]))
    };
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes([
            *font.get(at)?,
            *font.get(at + 1)?,
            *font.get(at + 2)?,
            *font.get(at + 3)?,
        ]))
    };
    let tables = u16_at(4)? as usize;
    let cmap = (0..tables.min(256)).find_map(|i| {
        let rec = 12 + i * 16;
        (font.get(rec..rec + 4)? == b"cmap")
            .then(|| u32_at(rec + 8))
            .flatten()
    })? as usize;
    let subtables = u16_at(cmap + 2)? as usize;
    let mut best: Option<(u8, usize)> = None;
    for i in 0..subtables.min(64) {
        let rec = cmap + 4 + i * 8;
        let (platform, encoding) = (u16_at(rec)?, u16_at(rec + 2)?);
        let at = cmap + u32_at(rec + 4)? as usize;
        let format = u16_at(at)?;
        let rank = match (platform, encoding, format) {
            (3, 10, 12) | (0, _, 12) => 3,
            (3, 1, 4) | (0, _, 4) => 2,
            _ => continue,
        };
        if best.is_none_or(|(r, _)| rank > r) {
            best = Some((rank, at));
        }
    }
    let (_, at) = best?;
    let mut chars: HashMap<u16, char> = HashMap::new();
    let mut add = |gid: u32, c: u32| {
        if let (Ok(gid), Some(c)) = (u16::try_from(gid), char::from_u32(c))
            && gid != 0
            && chars.len() < 200_000
        {
            chars.entry(gid).or_insert(c);
        }
    };
    if u16_at(at)? == 12 {
        let groups = u32_at(at + 12)? as usize;
        for g in 0..groups.min(100_000) {
            let rec = at + 16 + g * 12;
            let (start, end, glyph) = (u32_at(rec)?, u32_at(rec + 4)?, u32_at(rec + 8)?);
            for c in start..=end.min(start.saturating_add(65_535)) {
                add(glyph.wrapping_add(c - start), c);
            }
        }
    } else {
        let segments = u16_at(at + 6)? as usize / 2;
        let ends = at + 14;
        let starts = ends + segments * 2 + 2;
        let deltas = starts + segments * 2;
        let offsets = deltas + segments * 2;
        for s in 0..segments {
            let (end, start) = (u16_at(ends + s * 2)?, u16_at(starts + s * 2)?);
            let delta = u16_at(deltas + s * 2)?;
            let range_offset = u16_at(offsets + s * 2)? as usize;
            for c in start..=end {
                if c == 0xFFFF {
                    break;
                }
                let gid = if range_offset == 0 {
                    c.wrapping_add(delta)
                } else {
                    let at = offsets + s * 2 + range_offset + 2 * usize::from(c - start);
                    match u16_at(at) {
                        Some(0) | None => continue,
                        Some(g) => g.wrapping_add(delta),
                    }
                };
                add(u32::from(gid), u32::from(c));
            }
        }
    }
    Some(chars)
}

/// How a predefined CJK CMap splits and maps codes.
fn predefined_cmap(name: &str) -> (Split, Mapping) {
    if name.starts_with("Identity") {
        return (Split::Fixed(2), Mapping::None);
    }
    if name.contains("UCS2") || name.contains("UTF16") {
        return (Split::Fixed(2), Mapping::Utf16);
    }
    if name.contains("UTF8") {
        return (Split::Utf8, Mapping::Utf8);
    }
    if name.contains("UTF32") {
        return (Split::Fixed(4), Mapping::None);
    }
    if name.contains("RKSJ") {
        return (Split::ShiftJis, Mapping::Legacy(SHIFT_JIS));
    }
    if name.starts_with("EUC-") {
        return (Split::EucJp, Mapping::Legacy(EUC_JP));
    }
    if name.starts_with("GB") {
        return (Split::DoubleHigh, Mapping::Legacy(encoding_rs::GBK));
    }
    if name.starts_with("B5")
        || name.starts_with("ETen")
        || name.starts_with("HKscs")
        || name.starts_with("ETHK")
        || name.starts_with("CNS")
    {
        return (Split::DoubleHigh, Mapping::Legacy(encoding_rs::BIG5));
    }
    if name.starts_with("KSC") || name.contains("UHC") {
        return (Split::DoubleHigh, Mapping::Legacy(encoding_rs::EUC_KR));
    }
    if matches!(
        name,
        "H" | "V" | "Ext-H" | "Ext-V" | "Add-H" | "Add-V" | "78-H" | "78-V" | "NWP-H" | "NWP-V"
    ) {
        return (Split::Fixed(2), Mapping::Jis);
    }
    (Split::Fixed(2), Mapping::None)
}

/// The Unicode text of each byte of a simple font, from its encoding (base encoding and
/// `Differences`, via lopdf's glyph-name tables).
fn simple_table(doc: &Document, dict: &Dictionary) -> Box<[String; 256]> {
    let mut table: Box<[String; 256]> = Box::new(std::array::from_fn(|_| String::new()));
    let encoding = catch_unwind(AssertUnwindSafe(|| dict.get_font_encoding(doc).ok()))
        .ok()
        .flatten();
    for (b, slot) in table.iter_mut().enumerate() {
        let byte = [b as u8];
        *slot = match &encoding {
            Some(e) => Document::decode_text(e, &byte).unwrap_or_default(),
            None => (b as u8 as char).to_string(),
        };
        if slot.is_empty() && (0x20..0x7F).contains(&b) {
            // Symbolic fonts without an encoding: printable ASCII is the best guess.
            *slot = (b as u8 as char).to_string();
        }
    }
    table
}

fn simple_widths(doc: &Document, dict: &Dictionary, scale: f64) -> Widths {
    let first = dict
        .get(b"FirstChar")
        .ok()
        .and_then(|o| deref(doc, o).as_i64().ok())
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0);
    let list: Vec<f64> = dict
        .get(b"Widths")
        .ok()
        .map(|o| deref(doc, o))
        .and_then(|o| o.as_array().ok())
        .map(|a| {
            a.iter()
                .take(65_536)
                .map(|w| num(deref(doc, w)) * scale)
                .collect()
        })
        .unwrap_or_default();
    let missing = deref_dict(doc, dict.get(b"FontDescriptor").ok())
        .and_then(|d| d.get(b"MissingWidth").ok())
        .map(|w| num(deref(doc, w)) * scale)
        .filter(|w| *w > 0.0);
    let default = missing.unwrap_or(0.5);
    Widths {
        first,
        list,
        ranges: Vec::new(),
        default,
        single: default,
        by_cid: false,
    }
}

/// Widths of a Type0 font's descendant CID font (`DW`, `W`).
fn cid_widths(doc: &Document, dict: &Dictionary, by_cid: bool) -> Widths {
    let descendant = dict
        .get(b"DescendantFonts")
        .ok()
        .map(|o| deref(doc, o))
        .and_then(|o| o.as_array().ok())
        .and_then(|a| a.first())
        .and_then(|f| deref_dict(doc, Some(f)));
    let default = descendant
        .and_then(|d| d.get(b"DW").ok())
        .map_or(1000.0, |w| num(deref(doc, w)))
        / 1000.0;
    let mut ranges = Vec::new();
    if by_cid
        && let Some(w) = descendant
            .and_then(|d| d.get(b"W").ok())
            .map(|o| deref(doc, o))
            .and_then(|o| o.as_array().ok())
    {
        let mut i = 0;
        while i + 1 < w.len() && ranges.len() < 100_000 {
            let Some(c) = deref(doc, &w[i])
                .as_i64()
                .ok()
                .and_then(|c| u32::try_from(c).ok())
            else {
                break;
            };
            match deref(doc, &w[i + 1]) {
                Object::Array(list) => {
                    for (k, width) in list.iter().take(65_536).enumerate() {
                        let code = c.saturating_add(k as u32);
                        ranges.push((code, code, num(deref(doc, width)) / 1000.0));
                    }
                    i += 2;
                }
                last => {
                    let Some(last) = last.as_i64().ok().and_then(|c| u32::try_from(c).ok()) else {
                        break;
                    };
                    let width = w
                        .get(i + 2)
                        .map_or(default * 1000.0, |x| num(deref(doc, x)))
                        / 1000.0;
                    ranges.push((c, last, width));
                    i += 3;
                }
            }
        }
    }
    Widths {
        first: 0,
        list: Vec::new(),
        ranges,
        default,
        single: default / 2.0,
        by_cid,
    }
}

/// A ToUnicode CMap (or the codespace of an embedded encoding CMap).
#[derive(Default)]
struct CMap {
    codespace: Vec<(Vec<u8>, Vec<u8>)>,
    singles: HashMap<(usize, u32), String>,
    /// `bfrange` entries, sorted by (length, low code).
    ranges: Vec<Range>,
}

struct Range {
    len: usize,
    lo: u32,
    hi: u32,
    dst: RangeDst,
}

enum RangeDst {
    /// The destination of `lo`; later codes increment its last UTF-16 unit.
    Incr(Vec<u16>),
    Array(Vec<String>),
}

/// A token of the PostScript-like CMap syntax.
enum Tok {
    Hex(Vec<u8>),
    Word(Vec<u8>),
    Open,
    Close,
    Other,
}

impl CMap {
    fn is_empty(&self) -> bool {
        self.singles.is_empty() && self.ranges.is_empty()
    }

    fn parse(data: &[u8]) -> CMap {
        #[derive(PartialEq)]
        enum Mode {
            None,
            Codespace,
            BfChar,
            BfRange,
        }
        let mut cmap = CMap::default();
        let mut mode = Mode::None;
        let mut pending: Vec<Tok> = Vec::new();
        let mut array: Option<Vec<Vec<u8>>> = None;
        let mut lexer = Lexer { data, i: 0 };
        while let Some(tok) = lexer.next() {
            if cmap.singles.len() > 200_000 || cmap.ranges.len() > 50_000 {
                break;
            }
            if let Tok::Word(w) = &tok {
                match w.as_slice() {
                    b"begincodespacerange" => mode = Mode::Codespace,
                    b"beginbfchar" => mode = Mode::BfChar,
                    b"beginbfrange" => mode = Mode::BfRange,
                    b"endcodespacerange" | b"endbfchar" | b"endbfrange" => mode = Mode::None,
                    _ => {}
                }
                pending.clear();
                continue;
            }
            if mode == Mode::None {
                continue;
            }
            match tok {
                Tok::Open => {
                    array = Some(Vec::new());
                    continue;
                }
                Tok::Close => {
                    if let Some(items) = array.take() {
                        pending.push(Tok::Word(Vec::new()));
                        cmap.push_array(&mut pending, items);
                    }
                    continue;
                }
                Tok::Hex(h) if array.is_some() => {
                    if let Some(a) = array.as_mut()
                        && a.len() < 65_536
                    {
                        a.push(h);
                    }
                    continue;
                }
                other => pending.push(other),
            }
            match mode {
                Mode::Codespace if pending.len() == 2 => {
                    if let (Tok::Hex(lo), Tok::Hex(hi)) = (&pending[0], &pending[1])
                        && lo.len() == hi.len()
                        && (1..=4).contains(&lo.len())
                    {
                        cmap.codespace.push((lo.clone(), hi.clone()));
                    }
                    pending.clear();
                }
                Mode::BfChar if pending.len() == 2 => {
                    if let (Tok::Hex(src), Tok::Hex(dst)) = (&pending[0], &pending[1])
                        && (1..=4).contains(&src.len())
                    {
                        cmap.singles.insert((src.len(), be(src)), utf16be(dst));
                    }
                    pending.clear();
                }
                Mode::BfRange if pending.len() == 3 => {
                    if let (Tok::Hex(lo), Tok::Hex(hi), Tok::Hex(dst)) =
                        (&pending[0], &pending[1], &pending[2])
                        && (1..=4).contains(&lo.len())
                    {
                        let units: Vec<u16> = dst
                            .chunks(2)
                            .map(|p| u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)]))
                            .collect();
                        let (lo_v, hi_v) = (be(lo), be(hi));
                        if lo_v <= hi_v && !units.is_empty() {
                            cmap.ranges.push(Range {
                                len: lo.len(),
                                lo: lo_v,
                                hi: hi_v.min(lo_v.saturating_add(65_535)),
                                dst: RangeDst::Incr(units),
                            });
                        }
                    }
                    pending.clear();
                }
                Mode::BfChar | Mode::Codespace if pending.len() > 2 => pending.clear(),
                Mode::BfRange if pending.len() > 3 => pending.clear(),
                _ => {}
            }
        }
        cmap.ranges.sort_by_key(|r| (r.len, r.lo));
        cmap
    }

    /// A `bfrange` whose destinations are an array: `pending` holds lo, hi and a marker.
    fn push_array(&mut self, pending: &mut Vec<Tok>, items: Vec<Vec<u8>>) {
        if pending.len() == 3
            && let (Tok::Hex(lo), Tok::Hex(hi)) = (&pending[0], &pending[1])
            && (1..=4).contains(&lo.len())
        {
            let (lo_v, hi_v) = (be(lo), be(hi));
            if lo_v <= hi_v {
                let dst: Vec<String> = items.iter().map(|d| utf16be(d)).collect();
                self.ranges.push(Range {
                    len: lo.len(),
                    lo: lo_v,
                    hi: hi_v.min(lo_v.saturating_add(dst.len().saturating_sub(1) as u32)),
                    dst: RangeDst::Array(dst),
                });
            }
        }
        pending.clear();
    }

    fn lookup(&self, len: usize, code: u32) -> Option<Cow<'_, str>> {
        if let Some(s) = self.singles.get(&(len, code)) {
            return Some(Cow::Borrowed(s.as_str()));
        }
        let at = self
            .ranges
            .partition_point(|r| (r.len, r.lo) <= (len, code));
        let r = self.ranges[..at]
            .iter()
            .rev()
            .take(8)
            .find(|r| r.len == len && r.lo <= code && code <= r.hi)?;
        let offset = code - r.lo;
        match &r.dst {
            RangeDst::Incr(units) => {
                let mut units = units.clone();
                if let Some(last) = units.last_mut() {
                    *last = last.wrapping_add(offset as u16);
                }
                Some(Cow::Owned(
                    char::decode_utf16(units)
                        .map(|c| c.unwrap_or('\u{FFFD}'))
                        .collect(),
                ))
            }
            RangeDst::Array(items) => items
                .get(offset as usize)
                .map(|s| Cow::Borrowed(s.as_str())),
        }
    }
}

fn be(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
}

fn utf16be(bytes: &[u8]) -> String {
    let units = bytes
        .chunks(2)
        .map(|p| u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or('\u{FFFD}'))
        .collect()
}

struct Lexer<'a> {
    data: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    fn next(&mut self) -> Option<Tok> {
        let d = self.data;
        loop {
            while self.i < d.len() && d[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
            if d.get(self.i) == Some(&b'%') {
                while self.i < d.len() && d[self.i] != b'\n' && d[self.i] != b'\r' {
                    self.i += 1;
                }
                continue;
            }
            break;
        }
        let c = *d.get(self.i)?;
        self.i += 1;
        Some(match c {
            b'<' if d.get(self.i) == Some(&b'<') => {
                self.i += 1;
                Tok::Other
            }
            b'>' if d.get(self.i) == Some(&b'>') => {
                self.i += 1;
                Tok::Other
            }
            b'<' => {
                let mut nibbles = Vec::new();
                while self.i < d.len() && d[self.i] != b'>' {
                    if let Some(v) = (d[self.i] as char).to_digit(16) {
                        nibbles.push(v as u8);
                    }
                    self.i += 1;
                }
                self.i += 1;
                if nibbles.len() % 2 == 1 {
                    nibbles.push(0);
                }
                Tok::Hex(nibbles.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
            }
            b'[' => Tok::Open,
            b']' => Tok::Close,
            b'(' => {
                let mut depth = 1;
                while self.i < d.len() && depth > 0 {
                    match d[self.i] {
                        b'\\' => self.i += 1,
                        b'(' => depth += 1,
                        b')' => depth -= 1,
                        _ => {}
                    }
                    self.i += 1;
                }
                Tok::Other
            }
            b'/' | b'{' | b'}' | b')' | b'>' => {
                if c == b'/' {
                    while self.i < d.len() && !is_delim(d[self.i]) {
                        self.i += 1;
                    }
                }
                Tok::Other
            }
            _ => {
                let start = self.i - 1;
                while self.i < d.len() && !is_delim(d[self.i]) {
                    self.i += 1;
                }
                Tok::Word(d[start..self.i].to_vec())
            }
        })
    }
}

fn is_delim(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b'<' | b'>' | b'[' | b']' | b'(' | b')' | b'/' | b'{' | b'}' | b'%'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tounicode_cmap() {
        let cmap = CMap::parse(
            b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
              2 beginbfchar <0001> <793E> <0002> <D83DDE00> endbfchar\n\
              2 beginbfrange <0010> <0012> <3042> <0020> <0021> [<0041> <00660069>] endbfrange endcmap",
        );
        assert_eq!(cmap.lookup(2, 1).as_deref(), Some("社"));
        assert_eq!(cmap.lookup(2, 2).as_deref(), Some("😀"));
        assert_eq!(cmap.lookup(2, 0x11).as_deref(), Some("ぃ"));
        assert_eq!(cmap.lookup(2, 0x21).as_deref(), Some("fi"));
        assert_eq!(cmap.lookup(2, 0x13), None);
        assert_eq!(cmap.codespace.len(), 1);
    }

    #[test]
    fn predefined() {
        assert!(matches!(
            predefined_cmap("90ms-RKSJ-H"),
            (Split::ShiftJis, Mapping::Legacy(_))
        ));
        assert!(matches!(
            predefined_cmap("UniJIS-UCS2-H"),
            (Split::Fixed(2), Mapping::Utf16)
        ));
        assert!(matches!(
            predefined_cmap("H"),
            (Split::Fixed(2), Mapping::Jis)
        ));
        assert!(matches!(
            predefined_cmap("Identity-H"),
            (Split::Fixed(2), Mapping::None)
        ));
    }
}
