//! Zip, tar and gzip: entries read through size-bounded readers and visited as nested parts.
//!
//! Declared sizes are only used to refuse early (an entry that says it is 4 GB is a bomb
//! without inflating a byte); the reading itself is always capped, because declared sizes lie
//! in exactly the files that matter. Overlapping-entry bombs, nested archives and truncated
//! streams are all caught by the same caps: the per-entry ratio, the tree's expanded-bytes
//! budget, the depth and the entry count.

use std::io::Cursor;

use encoding_rs::SHIFT_JIS;
use zip::ZipArchive;
use zip::result::ZipError;

use super::{Content, Ctx, ProblemKind, ratio_cap};

/// A zip archive opened for bounded reading of its entries.
pub(crate) struct ZipPkg<'a> {
    bytes: &'a [u8],
    source: Source<'a>,
    /// Entry names, decoded (UTF-8, else Shift_JIS as Japanese Windows writes them, else
    /// code page 437 as the zip format says).
    names: Vec<String>,
    /// Multiplies the ratio limit: the XML parts of an Office package (sparse sheets of
    /// styled empty cells) legitimately compress far better than files people zip, and they
    /// are still bounded by the tree's expanded-bytes budget.
    ratio_factor: u32,
}

/// Where the entries come from.
enum Source<'a> {
    /// The central directory, as the format intends.
    Archive(Box<ZipArchive<Cursor<&'a [u8]>>>),
    /// The local headers, found by scanning, when the central directory is unreadable (a
    /// truncated download, a damaged file): what can still be read is still inspected.
    Recovered(Vec<LocalEntry>),
}

/// An entry found by its local header.
struct LocalEntry {
    flags: u16,
    method: u16,
    /// Compressed and uncompressed sizes, unless the header defers them to a data
    /// descriptor.
    sizes: Option<(u64, u64)>,
    data_start: usize,
}

impl<'a> ZipPkg<'a> {
    /// Opens the archive: its central directory or, failing that, its local headers.
    pub(crate) fn open(bytes: &'a [u8]) -> Result<Self, String> {
        match ZipArchive::new(Cursor::new(bytes)) {
            Ok(zip) => {
                let names = (0..zip.len())
                    .map(|i| match zip.by_index_data(i) {
                        Ok(entry) => decode_name(entry.name_raw()).unwrap_or_else(|| {
                            entry
                                .name()
                                .map(|n| n.into_owned())
                                .unwrap_or_else(|_| format!("entry-{i}"))
                        }),
                        Err(_) => format!("entry-{i}"),
                    })
                    .collect();
                Ok(Self {
                    bytes,
                    source: Source::Archive(Box::new(zip)),
                    names,
                    ratio_factor: 1,
                })
            }
            Err(e) => {
                let (entries, names) = scan_local_headers(bytes);
                if entries.is_empty() {
                    return Err(format!("not a readable zip archive: {e}"));
                }
                Ok(Self {
                    bytes,
                    source: Source::Recovered(entries),
                    names,
                    ratio_factor: 1,
                })
            }
        }
    }

    /// Whether the entries were recovered from local headers (the archive is damaged).
    pub(crate) fn recovered(&self) -> bool {
        matches!(self.source, Source::Recovered(_))
    }

    /// Allows `factor` times the usual compression ratio for the next reads.
    pub(crate) fn set_ratio_factor(&mut self, factor: u32) {
        self.ratio_factor = factor;
    }

    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    pub(crate) fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Whether entry `i` is a directory.
    pub(crate) fn is_dir(&self, i: usize) -> bool {
        let by_data = match &self.source {
            Source::Archive(zip) => zip.by_index_data(i).map(|e| e.is_dir()).unwrap_or(false),
            Source::Recovered(_) => false,
        };
        by_data || self.names.get(i).is_some_and(|n| n.ends_with('/'))
    }

    /// The first `max` bytes of a small stored entry, without a context (for detection).
    pub(crate) fn peek_stored(&mut self, name: &str, max: u64) -> Option<Vec<u8>> {
        use std::io::Read;
        let i = self.index_of(name)?;
        let mut out = Vec::new();
        match &mut self.source {
            Source::Archive(zip) => {
                zip.by_index(i).ok()?.take(max).read_to_end(&mut out).ok()?;
            }
            Source::Recovered(entries) => {
                let e = entries.get(i)?;
                if e.method != 0 {
                    return None;
                }
                let end = self
                    .bytes
                    .len()
                    .min(e.data_start.saturating_add(max as usize));
                out.extend_from_slice(self.bytes.get(e.data_start..end)?);
            }
        }
        Some(out)
    }

    /// Reads entry `i` within the limits; on any problem (reported against `path`) `None`.
    pub(crate) fn read(&mut self, cx: &mut Ctx<'_>, i: usize, path: &str) -> Option<Vec<u8>> {
        let max_ratio = cx.limits.max_ratio.saturating_mul(self.ratio_factor);
        let (declared, compressed) = match &self.source {
            Source::Archive(zip) => match zip.by_index_data(i) {
                Ok(entry) => {
                    if entry.encrypted() {
                        cx.problem(path, ProblemKind::Encrypted, "password-protected zip entry");
                        return None;
                    }
                    (entry.size(), entry.compressed_size())
                }
                Err(e) => {
                    cx.problem(
                        path,
                        ProblemKind::Malformed,
                        format!("unreadable zip entry: {e}"),
                    );
                    return None;
                }
            },
            Source::Recovered(entries) => {
                let e = entries.get(i)?;
                if e.flags & 1 != 0 {
                    cx.problem(path, ProblemKind::Encrypted, "password-protected zip entry");
                    return None;
                }
                let available = self.bytes.len().saturating_sub(e.data_start) as u64;
                e.sizes
                    .map_or((0, available), |(c, u)| (u, c.min(available)))
            }
        };
        let max_input = cx.limits.max_input_bytes;
        if declared > max_input {
            cx.problem(
                path,
                ProblemKind::TooLarge,
                format!("declares {declared} bytes, more than the limit of {max_input}"),
            );
            return None;
        }
        if declared > ratio_cap(compressed, max_ratio) {
            cx.problem(path, ProblemKind::Bomb, format!("declares {declared} bytes from {compressed} compressed, more than {max_ratio} times"));
            return None;
        }
        if declared > cx.expanded_left() {
            let max = cx.limits.max_expanded_bytes;
            cx.problem(
                path,
                ProblemKind::Bomb,
                format!("declares {declared} bytes; the decompressed total would exceed {max}"),
            );
            return None;
        }
        let bytes = self.bytes;
        match &mut self.source {
            Source::Archive(zip) => {
                let file = match zip.by_index(i) {
                    Ok(file) => file,
                    Err(e) => {
                        let (kind, detail) = match e {
                            ZipError::UnsupportedArchive(m)
                                if m.to_ascii_lowercase().contains("password") =>
                            {
                                (
                                    ProblemKind::Encrypted,
                                    "password-protected zip entry".to_owned(),
                                )
                            }
                            ZipError::InvalidPassword => (
                                ProblemKind::Encrypted,
                                "password-protected zip entry".to_owned(),
                            ),
                            ZipError::CompressionMethodNotSupported(m) => (
                                ProblemKind::Unsupported,
                                format!("compression method {m} is not supported"),
                            ),
                            ZipError::UnsupportedArchive(m) => {
                                (ProblemKind::Unsupported, m.to_owned())
                            }
                            e => (ProblemKind::Malformed, format!("unreadable zip entry: {e}")),
                        };
                        cx.problem(path, kind, detail);
                        return None;
                    }
                };
                cx.read_expanding(path, file, Some((compressed, max_ratio)), declared)
            }
            Source::Recovered(entries) => {
                let e = entries.get(i)?;
                let data = bytes.get(
                    e.data_start
                        ..e.data_start
                            .saturating_add(compressed as usize)
                            .min(bytes.len()),
                )?;
                match (e.method, e.sizes) {
                    (0, Some(_)) => cx.read_expanding(path, data, None, declared),
                    (8, _) => cx.read_expanding(
                        path,
                        flate2::read::DeflateDecoder::new(data),
                        Some((compressed, max_ratio)),
                        declared,
                    ),
                    (0, None) => {
                        cx.problem(
                            path,
                            ProblemKind::Unsupported,
                            "stored entry of unknown size in a damaged archive",
                        );
                        None
                    }
                    (m, _) => {
                        cx.problem(
                            path,
                            ProblemKind::Unsupported,
                            format!("compression method {m} is not supported"),
                        );
                        None
                    }
                }
            }
        }
    }
}

/// The entries of a zip archive found by scanning for local file headers.
fn scan_local_headers(bytes: &[u8]) -> (Vec<LocalEntry>, Vec<String>) {
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut entries = Vec::new();
    let mut names = Vec::new();
    let mut from = 0usize;
    while entries.len() < 65_536 {
        let Some(pos) = bytes
            .get(from..)
            .and_then(|rest| super::detect::memfind(rest, b"PK\x03\x04"))
        else {
            break;
        };
        let at = from + pos;
        let (Some(flags), Some(method), Some(csize), Some(usize_), Some(name_len), Some(extra_len)) = (
            u16_at(at + 6),
            u16_at(at + 8),
            u32_at(at + 18),
            u32_at(at + 22),
            u16_at(at + 26),
            u16_at(at + 28),
        ) else {
            break;
        };
        let name_start = at + 30;
        let Some(raw) = bytes.get(name_start..name_start + name_len as usize) else {
            break;
        };
        let data_start = name_start + name_len as usize + extra_len as usize;
        let sizes = (flags & 0x08 == 0 && csize != u32::MAX)
            .then_some((u64::from(csize), u64::from(usize_)));
        let name = decode_name(raw).unwrap_or_else(|| raw.iter().map(|&b| b as char).collect());
        if !name.ends_with('/') {
            names.push(name);
            entries.push(LocalEntry {
                flags,
                method,
                sizes,
                data_start,
            });
        }
        from = match sizes {
            Some((c, _)) => data_start.saturating_add(c as usize).max(at + 4),
            None => data_start.max(at + 4),
        };
    }
    (entries, names)
}

/// An entry name as UTF-8 or, failing that, Shift_JIS.
fn decode_name(raw: &[u8]) -> Option<String> {
    if let Ok(s) = std::str::from_utf8(raw) {
        return Some(s.to_owned());
    }
    SHIFT_JIS
        .decode_without_bom_handling_and_without_replacement(raw)
        .map(|s| s.into_owned())
}

/// A zip archive: every file entry is a nested part.
pub(crate) fn read_zip(cx: &mut Ctx<'_>, path: &str, bytes: &[u8], depth: u32) -> Content {
    let mut pkg = match ZipPkg::open(bytes) {
        Ok(pkg) => pkg,
        Err(e) => {
            cx.problem(path, ProblemKind::Malformed, e);
            return Content::default();
        }
    };
    if pkg.recovered() {
        cx.problem(path, ProblemKind::Malformed, "damaged zip archive (no readable central directory); entries recovered from their local headers");
    }
    let files: Vec<usize> = (0..pkg.names().len()).filter(|&i| !pkg.is_dir(i)).collect();
    if files.is_empty() || !cx.may_descend(path, depth, files.len()) {
        return Content::default();
    }
    for i in files {
        let name = pkg.names()[i].clone();
        let child = format!("{path}!{name}");
        if cx.timed_out(&child) || !cx.take_entry(&child) {
            break;
        }
        if let Some(data) = pkg.read(cx, i, &child) {
            cx.visit_child(child, &data, depth, None);
        }
    }
    Content::default()
}

/// A tar archive (ustar, GNU long names, pax paths): every regular file is a nested part.
pub(crate) fn read_tar(cx: &mut Ctx<'_>, path: &str, bytes: &[u8], depth: u32) -> Content {
    if !cx.may_descend(path, depth, 1) {
        return Content::default();
    }
    let mut off = 0usize;
    let mut long_name: Option<String> = None;
    while bytes.len().saturating_sub(off) >= 512 {
        let header = &bytes[off..off + 512];
        if header.iter().all(|&b| b == 0) {
            break;
        }
        if !tar_checksum_ok(header) {
            cx.problem(
                path,
                ProblemKind::Malformed,
                format!("bad tar header checksum at offset {off}"),
            );
            break;
        }
        let Some(size) = tar_number(&header[124..136]) else {
            cx.problem(
                path,
                ProblemKind::Malformed,
                format!("bad tar entry size at offset {off}"),
            );
            break;
        };
        let start = off + 512;
        let available = bytes.len() - start;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let data = &bytes[start..start + size.min(available)];
        let typeflag = header[156];
        let mut name = cstr(&header[0..100]);
        if &header[257..262] == b"ustar" {
            let prefix = cstr(&header[345..500]);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        match typeflag {
            b'L' => long_name = Some(cstr(data)),
            b'x' => long_name = pax_path(data).or(long_name),
            b'0' | 0 | b'7' => {
                let name = long_name.take().unwrap_or(name);
                let child = format!("{path}!{name}");
                if cx.timed_out(&child) || !cx.take_entry(&child) {
                    break;
                }
                if size > available {
                    cx.problem(
                        &child,
                        ProblemKind::Malformed,
                        format!("truncated: {available} of {size} bytes"),
                    );
                }
                cx.visit_child(child, data, depth, None);
            }
            _ => long_name = None,
        }
        if size > available {
            break;
        }
        off = start.saturating_add(size.div_ceil(512).saturating_mul(512));
    }
    Content::default()
}

/// The header checksum: the sum of the header's bytes with the checksum field as spaces.
fn tar_checksum_ok(header: &[u8]) -> bool {
    let Some(stored) = tar_number(&header[148..156]) else {
        return false;
    };
    let sum: u64 = header
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum();
    stored == sum
}

/// An octal tar number (or GNU base-256 when the high bit is set).
fn tar_number(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|&b| b & 0x80 != 0) {
        let mut n: u64 = u64::from(field[0] & 0x7F);
        for &b in &field[1..] {
            n = n.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(n);
    }
    let s: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    decode_name(&b[..end]).unwrap_or_else(|| String::from_utf8_lossy(&b[..end]).into_owned())
}

/// The `path` record of a pax extended header ("<len> path=<value>\n" records).
fn pax_path(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    text.lines().find_map(|line| {
        let (_, record) = line.split_once(' ')?;
        record.strip_prefix("path=").map(str::to_owned)
    })
}

/// A gzip stream (all members): the decompressed content is one nested part, named as the
/// gzip header says or as the file without `.gz`.
pub(crate) fn read_gzip(cx: &mut Ctx<'_>, path: &str, bytes: &[u8], depth: u32) -> Content {
    if !cx.may_descend(path, depth, 1) {
        return Content::default();
    }
    let name = gzip_name(bytes).unwrap_or_else(|| {
        let last = path.rsplit(['!', '/', '\\']).next().unwrap_or(path);
        let lower = last.to_ascii_lowercase();
        if lower.ends_with(".tgz") {
            format!("{}.tar", &last[..last.len() - 4])
        } else if lower.ends_with(".gz") && last.len() > 3 {
            last[..last.len() - 3].to_owned()
        } else {
            "content".to_owned()
        }
    });
    let child = format!("{path}!{name}");
    if !cx.take_entry(&child) {
        return Content::default();
    }
    let decoder = flate2::read::MultiGzDecoder::new(bytes);
    if let Some(data) = cx.read_expanding(
        &child,
        decoder,
        Some((bytes.len() as u64, cx.limits.max_ratio)),
        0,
    ) {
        cx.visit_child(child, &data, depth, None);
    }
    Content::default()
}

/// The original file name stored in a gzip header (FNAME), if any.
fn gzip_name(b: &[u8]) -> Option<String> {
    let flags = *b.get(3)?;
    if flags & 0x08 == 0 {
        return None;
    }
    let mut at = 10usize;
    if flags & 0x04 != 0 {
        let xlen = u16::from_le_bytes([*b.get(10)?, *b.get(11)?]) as usize;
        at = at.checked_add(2 + xlen)?;
    }
    let rest = b.get(at..)?;
    let end = rest.iter().take(1024).position(|&c| c == 0)?;
    let raw = &rest[..end];
    let name = decode_name(raw).unwrap_or_else(|| raw.iter().map(|&c| c as char).collect());
    // Only the last component: the name is a label, and must not look like nesting.
    let name = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .replace('!', "_");
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_numbers() {
        assert_eq!(tar_number(b"0000644\0"), Some(0o644));
        assert_eq!(tar_number(b"        "), Some(0));
        assert_eq!(tar_number(&[0x80, 0, 0, 0, 0, 0, 1, 0]), Some(256));
        assert_eq!(tar_number(b"9"), None);
    }

    #[test]
    fn shift_jis_entry_names() {
        let raw = SHIFT_JIS.encode("顧客リスト.xlsx").0;
        assert_eq!(decode_name(&raw).as_deref(), Some("顧客リスト.xlsx"));
    }
}
