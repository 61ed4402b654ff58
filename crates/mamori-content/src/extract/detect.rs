//! File types from magic numbers and structure, and whether they contradict the name.
//!
//! The type comes from the bytes only: a spreadsheet renamed `.txt` is an xlsx, and that
//! disagreement is exactly what a disguised exfiltration looks like. Containers are looked into
//! just enough to tell their flavour (the zip's central directory for Office Open XML and
//! OpenDocument, the OLE directory for Outlook items versus legacy Office files).

use std::io::Cursor;

use super::FileType;
use super::text;

/// What an OLE compound file holds, from the names in its root storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OleKind {
    /// An Outlook item.
    Msg,
    /// Word 97–2003.
    Doc,
    /// Excel 97–2003.
    Xls,
    /// PowerPoint 97–2003.
    Ppt,
    /// A password-protected Office Open XML package (EncryptedPackage + EncryptionInfo).
    EncryptedOoxml,
    /// Anything else (msi, vsd, pub, …) or a directory that cannot be read.
    Other,
}

/// The detected type, with the OLE flavour when it is one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Detected {
    pub(crate) file_type: FileType,
    pub(crate) ole: Option<OleKind>,
}

impl Detected {
    fn of(file_type: FileType) -> Self {
        Self {
            file_type,
            ole: None,
        }
    }
}

/// The type of `bytes`, as [`super::extract`] would report it for a file called `name`.
pub fn detect_type(name: &str, bytes: &[u8]) -> FileType {
    let declared = extension(name);
    detect(bytes, declared.as_deref()).file_type
}

/// The lower-case extension of the last component of a (possibly nested) path.
pub(crate) fn extension(path: &str) -> Option<String> {
    let last = path.rsplit(['!', '/', '\\']).next().unwrap_or(path);
    let (stem, ext) = last.rsplit_once('.')?;
    if stem.is_empty() && !last.starts_with('.')
        || ext.is_empty()
        || ext.len() > 10
        || !ext
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return None;
    }
    Some(ext.to_ascii_lowercase())
}

/// Detects the type of `bytes`. `declared` (the extension) only refines a text file into CSV;
/// it never decides a binary type.
pub(crate) fn detect(bytes: &[u8], declared: Option<&str>) -> Detected {
    if bytes.is_empty() {
        return Detected::of(FileType::Unknown);
    }
    if let Some(t) = magic(bytes) {
        return match t {
            FileType::Zip => Detected::of(zip_flavour(bytes)),
            FileType::Ole => {
                let kind = ole_kind(bytes);
                let file_type = if kind == OleKind::Msg {
                    FileType::Msg
                } else {
                    FileType::Ole
                };
                Detected {
                    file_type,
                    ole: Some(kind),
                }
            }
            other => Detected::of(other),
        };
    }
    let sample = &bytes[..bytes.len().min(64 << 10)];
    let Some(encoding) = text::sniff(sample) else {
        return Detected::of(FileType::Unknown);
    };
    let head = text::decode_prefix(sample, encoding, 8 << 10);
    Detected::of(classify_text(&head, declared))
}

/// Types recognised from a fixed signature.
fn magic(b: &[u8]) -> Option<FileType> {
    let starts = |sig: &[u8]| b.starts_with(sig);
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") || starts(b"PK\x07\x08") {
        return Some(FileType::Zip);
    }
    if starts(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Some(FileType::Ole);
    }
    // A PDF header may follow some junk (the spec tolerates it within the first 1024 bytes).
    if memfind(&b[..b.len().min(1024)], b"%PDF-").is_some() {
        return Some(FileType::Pdf);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Some(FileType::Png);
    }
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Some(FileType::Jpeg);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Some(FileType::Gif);
    }
    if b.len() >= 12 && starts(b"RIFF") && &b[8..12] == b"WEBP" {
        return Some(FileType::Webp);
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Some(FileType::Tiff);
    }
    if is_bmp(b) {
        return Some(FileType::Bmp);
    }
    if is_pe(b) {
        return Some(FileType::Exe);
    }
    if starts(b"\x7FELF") {
        return Some(FileType::Elf);
    }
    if starts(&[0xFE, 0xED, 0xFA, 0xCE])
        || starts(&[0xFE, 0xED, 0xFA, 0xCF])
        || starts(&[0xCE, 0xFA, 0xED, 0xFE])
        || starts(&[0xCF, 0xFA, 0xED, 0xFE])
    {
        return Some(FileType::MachO);
    }
    if starts(&[0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C]) {
        return Some(FileType::SevenZip);
    }
    if starts(b"Rar!\x1a\x07") {
        return Some(FileType::Rar);
    }
    if starts(&[0x1F, 0x8B, 0x08]) {
        return Some(FileType::Gzip);
    }
    if b.len() >= 10
        && starts(b"BZh")
        && (b'1'..=b'9').contains(&b[3])
        && (b[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
            || b[4..10] == [0x17, 0x72, 0x45, 0x38, 0x50, 0x90])
    {
        return Some(FileType::Bzip2);
    }
    if starts(&[0xFD, b'7', b'z', b'X', b'Z', 0x00]) {
        return Some(FileType::Xz);
    }
    if starts(&[0x28, 0xB5, 0x2F, 0xFD]) {
        return Some(FileType::Zstd);
    }
    if b.len() >= 512 && &b[257..262] == b"ustar" {
        return Some(FileType::Tar);
    }
    if starts(b"{\\rtf") {
        return Some(FileType::Rtf);
    }
    None
}

/// "BM" is two common letters, so a bitmap also needs a plausible info-header size.
fn is_bmp(b: &[u8]) -> bool {
    if b.len() < 26 || !b.starts_with(b"BM") {
        return false;
    }
    let header = u32::from_le_bytes([b[14], b[15], b[16], b[17]]);
    matches!(header, 12 | 40 | 52 | 56 | 64 | 108 | 124)
}

/// "MZ" followed by a PE header where `e_lfanew` points.
fn is_pe(b: &[u8]) -> bool {
    if b.len() < 64 || !b.starts_with(b"MZ") {
        return false;
    }
    let at = u32::from_le_bytes([b[0x3C], b[0x3D], b[0x3E], b[0x3F]]) as usize;
    b.get(at..at.saturating_add(4)) == Some(b"PE\0\0")
}

/// Tells Office Open XML and OpenDocument packages from plain zip archives by their entry
/// names (from the central directory, or the local headers of a damaged archive; nothing is
/// decompressed except OpenDocument's tiny `mimetype`).
fn zip_flavour(bytes: &[u8]) -> FileType {
    let Ok(mut zip) = super::archive::ZipPkg::open(bytes) else {
        return FileType::Zip;
    };
    let (mut word, mut xl, mut ppt) = (false, false, false);
    let (mut odf, mut content_types, mut main) = (false, false, false);
    for name in zip.names() {
        match name.as_str() {
            "mimetype" => odf = true,
            "[Content_Types].xml" => content_types = true,
            "word/document.xml"
            | "xl/workbook.xml"
            | "xl/workbook.bin"
            | "ppt/presentation.xml" => main = true,
            _ => {}
        }
        word |= name.starts_with("word/");
        xl |= name.starts_with("xl/");
        ppt |= name.starts_with("ppt/");
    }
    // A package has a content-types part (or at least its main part; a folder that happens
    // to be called "word" is not enough), and one main part: the first family present
    // decides.
    if !(content_types || main) {
        (word, xl, ppt) = (false, false, false);
    }
    if word {
        return FileType::Docx;
    }
    if xl {
        return FileType::Xlsx;
    }
    if ppt {
        return FileType::Pptx;
    }
    if odf
        && zip
            .peek_stored("mimetype", 100)
            .is_some_and(|m| m.starts_with(b"application/vnd.oasis.opendocument."))
    {
        return FileType::Odf;
    }
    FileType::Zip
}

/// The kind of an OLE compound file, from the names of its root entries.
pub(crate) fn ole_kind(bytes: &[u8]) -> OleKind {
    let Ok(cf) = cfb::CompoundFile::open(Cursor::new(bytes)) else {
        return OleKind::Other;
    };
    let mut kind = OleKind::Other;
    for entry in cf.read_root_storage().take(10_000) {
        let name = entry.name();
        if name == "__properties_version1.0" || name.starts_with("__substg1.0_") {
            return OleKind::Msg;
        }
        match name {
            "EncryptedPackage" => kind = OleKind::EncryptedOoxml,
            "WordDocument" if kind == OleKind::Other => kind = OleKind::Doc,
            "Workbook" | "Book" if kind == OleKind::Other => kind = OleKind::Xls,
            "PowerPoint Document" if kind == OleKind::Other => kind = OleKind::Ppt,
            _ => {}
        }
    }
    kind
}

/// Refines text into mail, HTML or CSV by its first few kilobytes.
fn classify_text(head: &str, declared: Option<&str>) -> FileType {
    let trimmed = head.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if looks_like_mail(trimmed) {
        return FileType::Eml;
    }
    if looks_like_html(trimmed) {
        return FileType::Html;
    }
    if matches!(declared, Some("csv" | "tsv" | "tab")) || looks_like_csv(trimmed) {
        return FileType::Csv;
    }
    FileType::Text
}

/// RFC 5322 headers up to the first blank line (or an mbox "From " line), with at least two
/// of the headers every mail has.
fn looks_like_mail(head: &str) -> bool {
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or("");
    if first.starts_with("From ") {
        first = lines.next().unwrap_or("");
    }
    let mut known = 0;
    let mut strong = false;
    for (i, line) in std::iter::once(first).chain(lines).enumerate() {
        if line.is_empty() {
            break;
        }
        if i > 200 {
            return false;
        }
        if line.starts_with([' ', '\t']) {
            if i == 0 {
                return false;
            }
            continue;
        }
        let Some((name, _)) = line.split_once(':') else {
            return false;
        };
        if name.is_empty() || !name.bytes().all(|c| c.is_ascii_graphic()) {
            return false;
        }
        let name = name.to_ascii_lowercase();
        match name.as_str() {
            "from" | "received" | "message-id" | "mime-version" | "return-path"
            | "delivered-to" => {
                known += 1;
                strong = true;
            }
            "to"
            | "subject"
            | "date"
            | "cc"
            | "reply-to"
            | "content-type"
            | "sender"
            | "x-mailer"
            | "content-transfer-encoding" => known += 1,
            _ => {}
        }
    }
    strong && known >= 2
}

fn looks_like_html(head: &str) -> bool {
    let prefix: String = head
        .chars()
        .take(1024)
        .collect::<String>()
        .to_ascii_lowercase();
    let start = prefix.trim_start();
    if start.starts_with("<!doctype html") || start.starts_with("<html") {
        return true;
    }
    (start.starts_with('<'))
        && (prefix.contains("<html") || prefix.contains("<head") || prefix.contains("<body"))
}

/// At least two lines (of the first twenty) with the same non-zero number of commas, tabs or
/// semicolons, and every full line agreeing.
fn looks_like_csv(head: &str) -> bool {
    let lines: Vec<&str> = head.lines().take(20).collect();
    // The last line of a cut sample may be partial.
    let full = if lines.len() > 2 && head.len() >= 8 << 10 {
        &lines[..lines.len() - 1]
    } else {
        &lines[..]
    };
    if full.len() < 2 {
        return false;
    }
    [',', '\t', ';'].iter().any(|&sep| {
        let count = |l: &str| l.chars().filter(|&c| c == sep).count();
        let first = count(full[0]);
        first > 0
            && full
                .iter()
                .filter(|l| !l.is_empty())
                .all(|l| count(l) == first)
    })
}

/// Whether the extension `declared` contradicts the detected type. Unknown extensions never
/// do; harmless variants (text under any text-like extension, a docx named `.zip`, an
/// encrypted Office Open XML file, which is OLE, under its own extension) do not either.
pub(crate) fn mismatch(declared: Option<&str>, detected: &Detected) -> bool {
    use FileType as F;
    let Some(ext) = declared else {
        return false;
    };
    let t = detected.file_type;
    let ole = detected.ole;
    let textual = matches!(t, F::Text | F::Csv | F::Html | F::Eml);
    let ok = match ext {
        "txt" | "text" | "log" | "md" | "markdown" | "rst" | "ini" | "cfg" | "conf" | "config"
        | "json" | "jsonl" | "ndjson" | "xml" | "yaml" | "yml" | "toml" | "sql" | "sh" | "bash"
        | "bat" | "cmd" | "ps1" | "py" | "rs" | "c" | "h" | "cpp" | "hpp" | "cc" | "cxx"
        | "java" | "js" | "mjs" | "ts" | "tsx" | "jsx" | "go" | "rb" | "php" | "pl" | "cs"
        | "kt" | "swift" | "scala" | "vb" | "vbs" | "properties" | "tex" | "srt" | "vtt"
        | "diff" | "patch" | "pem" | "env" | "css" | "scss" | "svg" => textual,
        "csv" | "tsv" | "tab" => textual,
        "html" | "htm" | "xhtml" | "shtml" => textual,
        "eml" | "mbox" | "mht" | "mhtml" | "mim" => textual,
        "rtf" => t == F::Rtf,
        "doc" | "dot" => {
            matches!(ole, Some(OleKind::Doc | OleKind::Other))
                || matches!(t, F::Rtf | F::Docx | F::Html)
        }
        "xls" | "xlt" => {
            matches!(ole, Some(OleKind::Xls | OleKind::Other))
                || matches!(t, F::Xlsx | F::Html | F::Text | F::Csv)
        }
        "ppt" | "pps" | "pot" => matches!(ole, Some(OleKind::Ppt | OleKind::Other)) || t == F::Pptx,
        "docx" | "docm" | "dotx" | "dotm" => t == F::Docx || ole == Some(OleKind::EncryptedOoxml),
        "xlsx" | "xlsm" | "xltx" | "xltm" | "xlsb" | "xlam" => {
            t == F::Xlsx || ole == Some(OleKind::EncryptedOoxml)
        }
        "pptx" | "pptm" | "ppsx" | "ppsm" | "potx" | "potm" => {
            t == F::Pptx || ole == Some(OleKind::EncryptedOoxml)
        }
        "odt" | "ods" | "odp" | "odg" | "ott" | "ots" | "otp" => t == F::Odf,
        "pdf" => t == F::Pdf,
        "zip" => matches!(t, F::Zip | F::Docx | F::Xlsx | F::Pptx | F::Odf),
        "jar" | "war" | "ear" | "apk" | "aab" | "ipa" | "epub" | "xpi" | "whl" | "nupkg"
        | "vsix" | "kmz" | "xps" | "oxps" | "appx" | "msix" => t == F::Zip,
        "msg" | "oft" => t == F::Msg,
        "msi" | "msp" | "vsd" | "pub" | "mpp" => t == F::Ole,
        "png" => t == F::Png,
        "jpg" | "jpeg" | "jpe" | "jfif" => t == F::Jpeg,
        "gif" => t == F::Gif,
        "bmp" | "dib" => t == F::Bmp,
        "tif" | "tiff" => t == F::Tiff,
        "webp" => t == F::Webp,
        "exe" | "dll" | "sys" | "scr" | "cpl" | "ocx" | "efi" | "drv" => t == F::Exe,
        "so" | "ko" => t == F::Elf,
        "dylib" => t == F::MachO,
        "7z" => t == F::SevenZip,
        "rar" => t == F::Rar,
        "gz" | "tgz" => t == F::Gzip,
        "bz2" | "tbz" | "tbz2" => t == F::Bzip2,
        "xz" | "txz" => t == F::Xz,
        "zst" => t == F::Zstd,
        "tar" => t == F::Tar,
        _ => return false,
    };
    !ok
}

/// The first position of `needle` in `hay`.
pub(crate) fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions() {
        assert_eq!(extension("a/b/Report.PDF").as_deref(), Some("pdf"));
        assert_eq!(extension("x.zip!docs/plan.docx").as_deref(), Some("docx"));
        assert_eq!(extension("x.zip!README"), None);
        assert_eq!(extension("dir.v2/README"), None);
        assert_eq!(extension(".bashrc").as_deref(), Some("bashrc"));
        assert_eq!(extension("weird.名前"), None);
    }

    #[test]
    fn mail_headers() {
        assert!(looks_like_mail(
            "From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody"
        ));
        assert!(looks_like_mail(
            "Received: from x\n  by y\nMessage-ID: <1@x>\n\nbody"
        ));
        assert!(!looks_like_mail("Subject: notes\nDate: today\n\nbody"));
        assert!(!looks_like_mail("hello: world\nthis is text"));
    }

    #[test]
    fn csv_shapes() {
        assert!(looks_like_csv("a,b,c\n1,2,3\n4,5,6\n"));
        assert!(looks_like_csv("a\tb\n1\t2\n"));
        assert!(!looks_like_csv(
            "Hello, world.\nThis is prose, with commas, here.\n"
        ));
    }

    #[test]
    fn magic_numbers() {
        assert_eq!(magic(b"%PDF-1.7\n"), Some(FileType::Pdf));
        assert_eq!(magic(b"\x89PNG\r\n\x1a\n...."), Some(FileType::Png));
        assert_eq!(magic(b"BM is not a bitmap, just text of some length"), None);
        assert_eq!(magic(b"MZ"), None);
        assert_eq!(magic(b"Rar!\x1a\x07\x01\x00"), Some(FileType::Rar));
    }
}
