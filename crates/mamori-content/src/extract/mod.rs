//! Text extraction and file-type detection for content inspection.
//!
//! [`extract`] turns the bytes of a file — as an agent, a mail guard or an import hands them
//! over — into [`Part`]s: one for the file itself and one for every nested item worth looking at
//! (zip and tar entries, mail attachments, files embedded in Office documents and PDFs), each
//! with its type as the *bytes* say (magic numbers and structure, never the name), whether that
//! contradicts the name's extension (a disguised file), the decoded text and the sensitivity
//! labels stored in its metadata. Detectors then run over the text of each part.
//!
//! Everything here reads hostile input: the same call that reads a quarterly report reads a zip
//! bomb, a 42.zip-style nest of archives, a truncated PDF or a mail with a thousand attachments.
//! So every step is bounded by [`Limits`] — input size, total decompressed bytes across the
//! whole tree, compression ratio per entry, nesting depth, number of entries, characters of text
//! per part and wall-clock time — and whatever exceeds a limit, fails to parse or is encrypted
//! becomes a [`Problem`] next to the parts that could be read, never a panic or an unbounded
//! allocation. Decompression always goes through size-bounded readers (declared sizes are
//! hints, not promises), and parsers from other crates run under `catch_unwind` (the PDF parser
//! on a thread of its own, so a pathological file cannot hold the caller past `max_time`).

mod archive;
mod detect;
mod mail;
mod ole;
mod ooxml;
mod pdf;
mod text;

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use serde::Serialize;

pub use detect::detect_type;

/// Bounds on the work one call to [`extract`] may do.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest file (or nested item) read at all; larger ones get a `TooLarge` problem.
    pub max_input_bytes: u64,
    /// Total decompressed bytes across the whole tree (zip entries, gzip members, Office XML,
    /// PDF streams): what a bomb would blow up.
    pub max_expanded_bytes: u64,
    /// Largest decompressed/compressed ratio of one archive entry (beyond a small floor, so a
    /// tiny file of spaces is not a bomb).
    pub max_ratio: u32,
    /// Deepest nesting: the file itself is depth 0, an entry of a zip depth 1, and so on
    /// (never more than 32, whatever is asked).
    pub max_depth: u32,
    /// Most nested items (entries, attachments, embedded files) across the tree.
    pub max_entries: u32,
    /// Most characters of text kept per part; the rest is cut (and reported).
    pub max_text_chars: usize,
    /// Wall-clock time for the whole call.
    pub max_time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_bytes: 256 << 20,
            max_expanded_bytes: 1 << 30,
            max_ratio: 100,
            max_depth: 5,
            max_entries: 10_000,
            max_text_chars: 50_000_000,
            max_time: Duration::from_secs(30),
        }
    }
}

/// What a file is, from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileType {
    /// Plain text in any of the supported encodings.
    Text,
    /// Delimited text (commas or tabs in a consistent pattern, or named `.csv`/`.tsv`).
    Csv,
    /// An HTML page (its text is the rendered text, without tags, scripts or styles).
    Html,
    /// Rich Text Format.
    Rtf,
    /// Word (Office Open XML).
    Docx,
    /// Excel (Office Open XML, including `.xlsm` and `.xlsb` packages).
    Xlsx,
    /// PowerPoint (Office Open XML).
    Pptx,
    /// OpenDocument (odt, ods, odp).
    Odf,
    Pdf,
    /// A zip archive that is not an Office or OpenDocument package.
    Zip,
    Tar,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
    SevenZip,
    Rar,
    /// An RFC 5322 mail (`.eml`, `.mht`, mbox).
    Eml,
    /// An Outlook item (OLE compound file with MAPI property streams).
    Msg,
    /// Any other OLE compound file: legacy doc/xls/ppt, an encrypted Office Open XML package,
    /// msi, …
    Ole,
    Png,
    Jpeg,
    Gif,
    Bmp,
    Tiff,
    Webp,
    /// A Windows PE executable or DLL.
    Exe,
    Elf,
    MachO,
    /// Binary data of no recognised kind (or an empty file).
    Unknown,
}

/// One file or nested item and what was read from it.
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    /// The item's path; nesting is written with `!` ("report.zip!docs/plan.docx").
    pub path: String,
    /// The type from the bytes (magic and structure), not from the name.
    pub file_type: FileType,
    /// The extension of the name, lower case.
    pub declared: Option<String>,
    /// The name says one thing and the bytes another (a zip renamed `.jpg`, an xlsx renamed
    /// `.txt`) — harmless variants (a `.log` that is text, a docx named `.zip`) are not flagged.
    pub type_mismatch: bool,
    /// For text: the encoding detected ("UTF-8", "UTF-16LE", "Shift_JIS", "EUC-JP",
    /// "ISO-2022-JP", …).
    pub encoding: Option<String>,
    /// The extracted text, at most `max_text_chars` characters.
    pub text: Option<String>,
    /// Sensitivity labels stored in the file's metadata: the label's name when the file
    /// names it ("Confidential", "社外秘"), else `MSIP:{guid}`.
    pub labels: Vec<String>,
    /// For mail attachments: the mail's path.
    pub attachment_of: Option<String>,
}

/// Something that could not be read, or was not read because a limit stopped it.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// The path of the item concerned (as in [`Part::path`]).
    pub path: String,
    pub kind: ProblemKind,
    /// A short human-readable explanation.
    pub detail: String,
}

/// Why a [`Problem`] was reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Larger than `max_input_bytes`, or text cut at `max_text_chars`.
    TooLarge,
    /// Nested deeper than `max_depth`.
    TooDeep,
    /// More than `max_entries` nested items.
    TooManyEntries,
    /// A decompression bomb: an entry's ratio or the tree's expanded size over the limits.
    Bomb,
    /// `max_time` ran out; the parts before it are complete.
    TimedOut,
    /// Encrypted content (password-protected zip entry, Office file or PDF).
    Encrypted,
    /// Truncated or corrupt data.
    Malformed,
    /// A format recognised but not extracted (7z, rar, …) or content that cannot be decoded.
    Unsupported,
}

/// The parts and problems of one file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Extracted {
    /// The file itself first, then nested items depth-first.
    pub parts: Vec<Part>,
    pub problems: Vec<Problem>,
}

/// Extracts the parts of the file `name` (a file name or path; only its extension is used,
/// for `declared` and `type_mismatch`) from its bytes. Never panics and never exceeds
/// `limits`: whatever could not be read is a [`Problem`].
pub fn extract(name: &str, bytes: &[u8], limits: &Limits) -> Extracted {
    let mut cx = Ctx::new(limits);
    let path = if name.is_empty() {
        "-".to_owned()
    } else {
        name.to_owned()
    };
    cx.visit(path, bytes, 0, None);
    cx.out
}

/// Most problems kept per call: a hostile archive of a million broken entries should not
/// produce a million problems.
const MAX_PROBLEMS: usize = 1_000;

/// The deepest nesting ever followed, whatever `max_depth` says.
const MAX_DEPTH: u32 = 32;

/// The state of one [`extract`] call: limits, what has been spent, what was found.
pub(crate) struct Ctx<'l> {
    pub(crate) limits: &'l Limits,
    deadline: Instant,
    /// Decompressed bytes so far, across the tree.
    expanded: u64,
    /// Nested items so far.
    entries: u32,
    /// Set once time or the entry count ran out: nothing more is read.
    stopped: bool,
    pub(crate) out: Extracted,
}

/// An item found inside a container, to be visited after the container's own part.
pub(crate) struct Nested {
    pub(crate) name: String,
    pub(crate) bytes: Vec<u8>,
}

impl<'l> Ctx<'l> {
    fn new(limits: &'l Limits) -> Self {
        let now = Instant::now();
        Self {
            limits,
            // A limit too large to add is no limit: a year is as good as forever here.
            deadline: now
                .checked_add(limits.max_time)
                .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365)))
                .unwrap_or(now),
            expanded: 0,
            entries: 0,
            stopped: false,
            out: Extracted::default(),
        }
    }

    /// Records a problem (up to [`MAX_PROBLEMS`]).
    pub(crate) fn problem(&mut self, path: &str, kind: ProblemKind, detail: impl Into<String>) {
        if self.out.problems.len() < MAX_PROBLEMS {
            self.out.problems.push(Problem {
                path: path.to_owned(),
                kind,
                detail: detail.into(),
            });
        } else if self.out.problems.len() == MAX_PROBLEMS {
            self.out.problems.push(Problem {
                path: path.to_owned(),
                kind: ProblemKind::TooManyEntries,
                detail: format!("more than {MAX_PROBLEMS} problems; later ones are not listed"),
            });
        }
    }

    /// Whether the time is up; reports it once and stops the walk.
    pub(crate) fn timed_out(&mut self, path: &str) -> bool {
        if self.stopped {
            return true;
        }
        if Instant::now() >= self.deadline {
            self.stopped = true;
            let secs = self.limits.max_time.as_secs_f64();
            self.problem(
                path,
                ProblemKind::TimedOut,
                format!("stopped after the time limit of {secs} s"),
            );
            return true;
        }
        false
    }

    /// The nesting limit, capped at [`MAX_DEPTH`] whatever the caller asked for: every level
    /// is a frame of recursion on the caller's stack.
    pub(crate) fn max_depth(&self) -> u32 {
        self.limits.max_depth.min(MAX_DEPTH)
    }

    /// Time left before the deadline.
    pub(crate) fn remaining_time(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Decompressed bytes still allowed across the tree.
    pub(crate) fn expanded_left(&self) -> u64 {
        self.limits.max_expanded_bytes.saturating_sub(self.expanded)
    }

    /// Counts decompressed bytes against the tree's budget.
    pub(crate) fn spend(&mut self, n: u64) {
        self.expanded = self.expanded.saturating_add(n);
    }

    /// Counts one nested item; false (and a problem, once) when over `max_entries`.
    pub(crate) fn take_entry(&mut self, path: &str) -> bool {
        if self.stopped {
            return false;
        }
        if self.entries >= self.limits.max_entries {
            self.stopped = true;
            let max = self.limits.max_entries;
            self.problem(
                path,
                ProblemKind::TooManyEntries,
                format!("more than {max} nested items; the rest was not read"),
            );
            return false;
        }
        self.entries += 1;
        true
    }

    /// Reads a decompressing stream into memory, bounded by the tree's expanded-bytes budget,
    /// `max_input_bytes` and — when `ratio` gives the compressed size and the largest ratio —
    /// the ratio limit. A bound hit is a
    /// `Bomb` or `TooLarge` problem for `path` and gives `None`; a corrupt or truncated stream
    /// is a `Malformed` problem and gives what was read before the error (still worth
    /// inspecting: a truncated archive still leaks its first entries). The bytes read are
    /// spent from the budget either way.
    pub(crate) fn read_expanding(
        &mut self,
        path: &str,
        reader: impl Read,
        ratio: Option<(u64, u32)>,
        hint: u64,
    ) -> Option<Vec<u8>> {
        let by_ratio = ratio.map(|(compressed, max)| ratio_cap(compressed, max));
        let by_budget = self.expanded_left();
        let by_size = self.limits.max_input_bytes;
        let cap = by_ratio.unwrap_or(u64::MAX).min(by_budget).min(by_size);
        let mut buf = Vec::with_capacity(usize::try_from(hint.min(cap).min(8 << 20)).unwrap_or(0));
        let read = reader.take(cap.saturating_add(1)).read_to_end(&mut buf);
        self.spend(buf.len() as u64);
        if buf.len() as u64 > cap {
            if by_ratio == Some(cap) {
                let (compressed, max) = ratio.unwrap_or_default();
                self.problem(
                    path,
                    ProblemKind::Bomb,
                    format!(
                        "expands more than {max} times its compressed size of {compressed} bytes"
                    ),
                );
            } else if by_budget == cap {
                let max = self.limits.max_expanded_bytes;
                self.problem(
                    path,
                    ProblemKind::Bomb,
                    format!("the decompressed total would exceed {max} bytes"),
                );
            } else {
                self.problem(
                    path,
                    ProblemKind::TooLarge,
                    format!("larger than {by_size} bytes when decompressed"),
                );
            }
            return None;
        }
        if let Err(e) = read {
            let n = buf.len();
            self.problem(path, ProblemKind::Malformed, format!("corrupt or truncated compressed data ({e}); the {n} bytes before it are inspected"));
            if buf.is_empty() {
                return None;
            }
        }
        Some(buf)
    }

    /// Whether the `count` items nested in the container at `path` (itself at `depth`) may be
    /// read; if they are too deep, says so (once, for the container) and returns false.
    pub(crate) fn may_descend(&mut self, path: &str, depth: u32, count: usize) -> bool {
        if depth >= self.max_depth() {
            let max = self.max_depth();
            self.problem(
                path,
                ProblemKind::TooDeep,
                format!("{count} nested item(s) below the nesting limit of {max} were not read"),
            );
            return false;
        }
        !self.stopped
    }

    /// Visits an item nested in a container at `depth` (already counted by
    /// [`Ctx::take_entry`]).
    pub(crate) fn visit_child(
        &mut self,
        path: String,
        bytes: &[u8],
        depth: u32,
        attachment_of: Option<String>,
    ) {
        self.visit(path, bytes, depth + 1, attachment_of);
    }

    /// Visits one file or nested item: detects its type, extracts its text and labels, and
    /// visits what it contains.
    fn visit(&mut self, path: String, bytes: &[u8], depth: u32, attachment_of: Option<String>) {
        if self.timed_out(&path) {
            return;
        }
        let declared = detect::extension(&path);
        let detected = detect::detect(bytes, declared.as_deref());
        let type_mismatch = !bytes.is_empty() && detect::mismatch(declared.as_deref(), &detected);
        let index = self.out.parts.len();
        self.out.parts.push(Part {
            path: path.clone(),
            file_type: detected.file_type,
            declared,
            type_mismatch,
            encoding: None,
            text: None,
            labels: Vec::new(),
            attachment_of,
        });
        if bytes.len() as u64 > self.limits.max_input_bytes {
            let max = self.limits.max_input_bytes;
            self.problem(
                &path,
                ProblemKind::TooLarge,
                format!("{} bytes, more than the limit of {max}", bytes.len()),
            );
            return;
        }

        let content = match catch_unwind(AssertUnwindSafe(|| {
            self.read_content(&path, bytes, &detected, depth)
        })) {
            Ok(content) => content,
            Err(_) => {
                self.problem(
                    &path,
                    ProblemKind::Malformed,
                    "the parser failed on this file (internal panic)",
                );
                Content::default()
            }
        };
        let mut text = content.text;
        if let Some(t) = text.as_mut() {
            let max = self.limits.max_text_chars;
            if truncate_chars(t, max) {
                self.problem(
                    &path,
                    ProblemKind::TooLarge,
                    format!("text cut at {max} characters"),
                );
            }
        }
        if let Some(part) = self.out.parts.get_mut(index) {
            part.encoding = content.encoding;
            part.text = text;
            part.labels = content.labels;
        }
        self.visit_nested(&path, depth, content.nested, content.nested_are_attachments);
    }

    /// Visits the nested items of the container at `path`, or reports them too deep.
    fn visit_nested(&mut self, path: &str, depth: u32, nested: Vec<NestedItem>, attachments: bool) {
        if nested.is_empty() || !self.may_descend(path, depth, nested.len()) {
            return;
        }
        for item in nested {
            let name = match &item {
                NestedItem::Bytes(n) => &n.name,
                NestedItem::Parsed(p) => &p.name,
            };
            let child = format!("{path}!{name}");
            if self.timed_out(&child) || !self.take_entry(&child) {
                return;
            }
            match item {
                NestedItem::Bytes(n) => {
                    let of = attachments.then(|| path.to_owned());
                    self.visit(child, &n.bytes, depth + 1, of);
                }
                NestedItem::Parsed(p) => {
                    let declared = detect::extension(&child);
                    self.out.parts.push(Part {
                        path: child.clone(),
                        file_type: p.file_type,
                        type_mismatch: false,
                        declared,
                        encoding: None,
                        text: p.content.text,
                        labels: p.content.labels,
                        attachment_of: attachments.then(|| path.to_owned()),
                    });
                    self.visit_nested(
                        &child,
                        depth + 1,
                        p.content.nested,
                        p.content.nested_are_attachments,
                    );
                }
            }
        }
    }

    /// Reads the text, labels and nested items of one item of a known type.
    fn read_content(
        &mut self,
        path: &str,
        bytes: &[u8],
        detected: &detect::Detected,
        depth: u32,
    ) -> Content {
        match detected.file_type {
            FileType::Text | FileType::Csv => text::read_text(bytes),
            FileType::Html => text::read_html(bytes),
            FileType::Rtf => Content::text(text::rtf_to_text(bytes)),
            FileType::Docx | FileType::Xlsx | FileType::Pptx | FileType::Odf => {
                ooxml::read(self, path, bytes, detected.file_type, depth)
            }
            FileType::Zip => archive::read_zip(self, path, bytes, depth),
            FileType::Tar => archive::read_tar(self, path, bytes, depth),
            FileType::Gzip => archive::read_gzip(self, path, bytes, depth),
            FileType::Pdf => pdf::read(self, path, bytes),
            FileType::Eml => mail::read_eml(self, path, bytes),
            FileType::Msg => mail::read_msg(self, path, bytes),
            FileType::Ole => ole::read(self, path, bytes, detected.ole),
            FileType::Bzip2
            | FileType::Xz
            | FileType::Zstd
            | FileType::SevenZip
            | FileType::Rar => {
                self.problem(
                    path,
                    ProblemKind::Unsupported,
                    "archive format recognised but not extracted",
                );
                Content::default()
            }
            FileType::Png
            | FileType::Jpeg
            | FileType::Gif
            | FileType::Bmp
            | FileType::Tiff
            | FileType::Webp
            | FileType::Exe
            | FileType::Elf
            | FileType::MachO
            | FileType::Unknown => Content::default(),
        }
    }
}

/// What was read from one item.
#[derive(Default)]
pub(crate) struct Content {
    pub(crate) text: Option<String>,
    pub(crate) encoding: Option<String>,
    pub(crate) labels: Vec<String>,
    pub(crate) nested: Vec<NestedItem>,
    /// The nested items are mail attachments (they get `attachment_of`).
    pub(crate) nested_are_attachments: bool,
}

impl Content {
    pub(crate) fn text(text: String) -> Self {
        Self {
            text: Some(text),
            ..Self::default()
        }
    }
}

/// A nested item: raw bytes to detect and extract, or an item already parsed by its container
/// (an Outlook message embedded in another lives in the same compound file, not as bytes).
pub(crate) enum NestedItem {
    Bytes(Nested),
    Parsed(ParsedItem),
}

pub(crate) struct ParsedItem {
    pub(crate) name: String,
    pub(crate) file_type: FileType,
    pub(crate) content: Content,
}

/// The most a zip entry (or gzip member) of `compressed` bytes may expand to: `max_ratio`
/// times its size, but at least 1 MiB, so small, highly compressible files (a page of
/// spaces, an XML part) are never mistaken for bombs.
fn ratio_cap(compressed: u64, max_ratio: u32) -> u64 {
    compressed.saturating_mul(u64::from(max_ratio)).max(1 << 20)
}

/// Cuts `s` to at most `max` characters; true if anything was cut.
fn truncate_chars(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    match s.char_indices().nth(max) {
        Some((at, _)) => {
            s.truncate(at);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_not_bytes() {
        let mut s = "社外秘です".to_owned();
        assert!(truncate_chars(&mut s, 3));
        assert_eq!(s, "社外秘");
        let mut short = "abc".to_owned();
        assert!(!truncate_chars(&mut short, 3));
    }

    #[test]
    fn ratio_cap_has_a_floor() {
        assert_eq!(ratio_cap(10, 100), 1 << 20);
        assert_eq!(ratio_cap(1 << 20, 100), 100 << 20);
        assert_eq!(ratio_cap(u64::MAX, 100), u64::MAX);
    }
}
