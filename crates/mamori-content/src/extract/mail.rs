//! Mail: RFC 5322 messages (`.eml`) and Outlook items (`.msg`).
//!
//! A mail's part carries its headers (subject, from, to, cc) and body as text — what a person
//! would read — and its attachments are nested parts with `attachment_of` set, so a
//! confidential spreadsheet attached to a mail is found as such. `mail-parser` decodes MIME
//! (base64, quoted-printable, RFC 2047 words and body charsets including ISO-2022-JP and
//! Shift_JIS). Outlook items are OLE compound files of MAPI property streams, read with
//! `cfb`: strings in UTF-16 or in the message's code page, the HTML or compressed RTF body
//! when there is no plain one, attachments by data or as embedded messages.

use std::io::{Cursor, Read, Seek};

use cfb::CompoundFile;
use mail_parser::{MessageParser, MimeHeaders};

use super::text::{self, Enc};
use super::{Content, Ctx, FileType, Nested, NestedItem, ParsedItem, ProblemKind};

/// An RFC 5322 message.
pub(crate) fn read_eml(cx: &mut Ctx<'_>, path: &str, bytes: &[u8]) -> Content {
    if let Some(messages) = mbox_messages(bytes) {
        let nested = messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                NestedItem::Bytes(Nested {
                    name: format!("message-{}.eml", i + 1),
                    bytes: m.to_vec(),
                })
            })
            .collect();
        return Content {
            nested,
            ..Content::default()
        };
    }
    let Some(message) = MessageParser::default().parse(bytes) else {
        cx.problem(path, ProblemKind::Malformed, "not a readable mail message");
        return Content::default();
    };
    let mut out = String::new();
    if let Some(subject) = message.subject() {
        out.push_str(&format!("Subject: {subject}\n"));
    }
    for (label, addresses) in [
        ("From", message.from()),
        ("To", message.to()),
        ("Cc", message.cc()),
    ] {
        if let Some(list) = addresses {
            let shown: Vec<String> = list
                .iter()
                .map(|a| match (a.name(), a.address()) {
                    (Some(n), Some(e)) => format!("{n} <{e}>"),
                    (Some(n), None) => n.to_owned(),
                    (None, Some(e)) => e.to_owned(),
                    (None, None) => String::new(),
                })
                .filter(|s| !s.is_empty())
                .collect();
            if !shown.is_empty() {
                out.push_str(&format!("{label}: {}\n", shown.join(", ")));
            }
        }
    }
    out.push('\n');
    // Plain-text bodies (HTML-only ones converted); an HTML alternative is not repeated.
    for i in 0..message.text_body_count() {
        if let Some(body) = message.body_text(i) {
            out.push_str(&body);
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    if message.text_body_count() == 0 {
        for i in 0..message.html_body_count() {
            if let Some(html) = message.body_html(i) {
                out.push_str(&text::html_to_text(&html));
                out.push('\n');
            }
        }
    }
    let labels = message
        .header_raw("msip_labels")
        .map(header_labels)
        .unwrap_or_default();
    let mut nested = Vec::new();
    for (i, part) in message.attachments().enumerate() {
        let name = part
            .attachment_name()
            .map(str::to_owned)
            .or_else(|| {
                part.message()
                    .and_then(|m| m.subject())
                    .map(|s| format!("{s}.eml"))
            })
            .map(|n| clean_name(&n))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| {
                format!(
                    "attachment-{}{}",
                    i + 1,
                    if part.is_message() { ".eml" } else { "" }
                )
            });
        nested.push(NestedItem::Bytes(Nested {
            name,
            bytes: part.contents().to_vec(),
        }));
    }
    Content {
        text: Some(out),
        labels,
        nested,
        nested_are_attachments: true,
        ..Content::default()
    }
}

/// The messages of an mbox file (each starting with a "From " line at the start of the file
/// or after a blank line), when there are several; `None` for a single message.
fn mbox_messages(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    if !bytes.starts_with(b"From ") {
        return None;
    }
    let mut starts = vec![0usize];
    let mut at = 0;
    while let Some(pos) = super::detect::memfind(&bytes[at..], b"\nFrom ") {
        let start = at + pos + 1;
        let before = &bytes[..at + pos];
        if before.ends_with(b"\n") || before.ends_with(b"\n\r") {
            starts.push(start);
        }
        at = start;
    }
    if starts.len() < 2 {
        return None;
    }
    starts.push(bytes.len());
    Some(starts.windows(2).map(|w| &bytes[w[0]..w[1]]).collect())
}

/// An attachment's name as a path component: no directories, no `!` (our nesting mark).
fn clean_name(name: &str) -> String {
    name.rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .replace('!', "_")
        .trim()
        .to_owned()
}

/// Labels from an `msip_labels` header ("MSIP_Label_{guid}_Enabled=True; …_Name=社外秘; …").
fn header_labels(value: &str) -> Vec<String> {
    let pairs: Vec<(&str, &str)> = value
        .split(';')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    super::ooxml::labels_from_pairs(pairs.into_iter(), Vec::new())
}

/// An Outlook item.
pub(crate) fn read_msg(cx: &mut Ctx<'_>, path: &str, bytes: &[u8]) -> Content {
    let mut cf = match CompoundFile::open(Cursor::new(bytes)) {
        Ok(cf) => cf,
        Err(e) => {
            cx.problem(
                path,
                ProblemKind::Malformed,
                format!("unreadable Outlook item: {e}"),
            );
            return Content::default();
        }
    };
    msg_content(cx, path, &mut cf, "", 0, 32)
}

/// The MAPI properties of the message in `storage` ("" for the root, or an embedded
/// message's storage). `header` is the size of its fixed property stream's header (32 for
/// a top-level message, 24 for an embedded one).
fn msg_content<F: Read + Seek>(
    cx: &mut Ctx<'_>,
    path: &str,
    cf: &mut CompoundFile<F>,
    storage: &str,
    level: u32,
    header: usize,
) -> Content {
    let mut msg = Msg {
        cx,
        cf,
        storage: storage.to_owned(),
        codepage: None,
    };
    msg.codepage = msg
        .fixed_long(0x3FFD, header)
        .or_else(|| msg.fixed_long(0x3FDE, header))
        .and_then(|cp| text::codepage(i64::from(cp)));
    let mut out = String::new();
    for (label, id) in [
        ("Subject", 0x0037),
        ("From", 0x0C1A),
        ("To", 0x0E04),
        ("Cc", 0x0E03),
    ] {
        if let Some(mut value) = msg.string(id) {
            if id == 0x0C1A
                && let Some(address) = msg.string(0x5D01).or_else(|| msg.string(0x0C1F))
            {
                value = format!("{value} <{address}>");
            }
            if !value.trim().is_empty() {
                out.push_str(&format!("{label}: {}\n", value.trim_end_matches('\0')));
            }
        }
    }
    out.push('\n');
    if let Some(body) = msg.string(0x1000) {
        out.push_str(&body);
    } else if let Some(html) = msg
        .binary(0x1013)
        .or_else(|| msg.string(0x1013).map(String::into_bytes))
    {
        out.push_str(&text::read_html(&html).text.unwrap_or_default());
    } else if let Some(rtf) = msg
        .binary(0x1009)
        .and_then(|c| decompress_rtf(&c, msg.cx.limits.max_input_bytes))
    {
        out.push_str(&text::rtf_to_text(&rtf));
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    let labels = msg
        .string(0x007D)
        .map(|headers| transport_labels(&headers))
        .unwrap_or_default();

    let prefix = if storage.is_empty() {
        String::new()
    } else {
        format!("{storage}/")
    };
    let attachments: Vec<String> = {
        let root = if storage.is_empty() {
            "/".to_owned()
        } else {
            storage.to_owned()
        };
        match msg.cf.read_storage(&root) {
            Ok(entries) => entries
                .filter(|e| e.is_storage() && e.name().starts_with("__attach_version1.0_#"))
                .map(|e| e.name().to_owned())
                .take(10_000)
                .collect(),
            Err(_) => Vec::new(),
        }
    };
    let mut nested = Vec::new();
    for (i, dir) in attachments.iter().enumerate() {
        let mut att = Msg {
            cx: msg.cx,
            cf: msg.cf,
            storage: format!("{prefix}{dir}"),
            codepage: msg.codepage,
        };
        let name = att
            .string(0x3707)
            .or_else(|| att.string(0x3704))
            .or_else(|| att.string(0x3001))
            .map(|n| clean_name(n.trim_end_matches('\0')))
            .filter(|n| !n.is_empty());
        let embedded = format!("{}/__substg1.0_3701000D", att.storage);
        if att.cf.is_storage(&embedded) {
            let child = format!(
                "{path}!{}",
                name.clone()
                    .unwrap_or_else(|| format!("attachment-{}.msg", i + 1))
            );
            if level + 1 >= att.cx.max_depth() {
                att.cx.problem(
                    &child,
                    ProblemKind::TooDeep,
                    "embedded message below the nesting limit was not read",
                );
                continue;
            }
            let content = msg_content(att.cx, &child, att.cf, &embedded, level + 1, 24);
            let name = name.unwrap_or_else(|| format!("attachment-{}.msg", i + 1));
            nested.push(NestedItem::Parsed(ParsedItem {
                name,
                file_type: FileType::Msg,
                content,
            }));
        } else if let Some(bytes) = att.binary(0x3701) {
            let name = name.unwrap_or_else(|| format!("attachment-{}", i + 1));
            nested.push(NestedItem::Bytes(Nested { name, bytes }));
        }
    }
    Content {
        text: Some(out),
        labels,
        nested,
        nested_are_attachments: true,
        ..Content::default()
    }
}

/// Labels in the `msip_labels` header of an item's transport headers.
fn transport_labels(headers: &str) -> Vec<String> {
    let mut value = String::new();
    let mut inside = false;
    for line in headers.lines() {
        if inside && line.starts_with([' ', '\t']) {
            value.push_str(line);
            continue;
        }
        inside = false;
        if let Some((name, v)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("msip_labels")
        {
            value.push_str(v);
            inside = true;
        }
    }
    header_labels(&value)
}

/// Reading properties of one storage of an Outlook item.
struct Msg<'c, 'l, F> {
    cx: &'c mut Ctx<'l>,
    cf: &'c mut CompoundFile<F>,
    storage: String,
    codepage: Option<&'static encoding_rs::Encoding>,
}

impl<F: Read + Seek> Msg<'_, '_, F> {
    /// The bytes of stream `__substg1.0_{id}{type}`, bounded by `max_input_bytes`.
    fn stream(&mut self, id: u16, ty: u16) -> Option<Vec<u8>> {
        let name = format!("{}/__substg1.0_{id:04X}{ty:04X}", self.storage);
        let stream = self.cf.open_stream(&name).ok()?;
        let max = self.cx.limits.max_input_bytes;
        let mut buf = Vec::new();
        stream
            .take(max.saturating_add(1))
            .read_to_end(&mut buf)
            .ok()?;
        if buf.len() as u64 > max {
            let path = name.clone();
            self.cx.problem(
                &path,
                ProblemKind::TooLarge,
                format!("property stream larger than {max} bytes"),
            );
            return None;
        }
        Some(buf)
    }

    /// A string property: UTF-16 (PT_UNICODE), or 8-bit (PT_STRING8) in the item's code page
    /// or, without one, as detected.
    fn string(&mut self, id: u16) -> Option<String> {
        if let Some(b) = self.stream(id, 0x001F) {
            return Some(
                text::decode(&b, Enc::Utf16Le { bom: false })
                    .trim_end_matches('\0')
                    .to_owned(),
            );
        }
        let b = self.stream(id, 0x001E)?;
        let b = b.strip_suffix(&[0]).unwrap_or(&b);
        Some(match self.codepage {
            Some(e) => e.decode_without_bom_handling(b).0.into_owned(),
            None => text::decode_detected(b)
                .map(|(s, _)| s)
                .unwrap_or_else(|| String::from_utf8_lossy(b).into_owned()),
        })
    }

    fn binary(&mut self, id: u16) -> Option<Vec<u8>> {
        self.stream(id, 0x0102)
    }

    /// A PT_LONG from the fixed-size property stream (`__properties_version1.0`).
    fn fixed_long(&mut self, id: u16, header: usize) -> Option<u32> {
        let name = format!("{}/__properties_version1.0", self.storage);
        let mut stream = self.cf.open_stream(&name).ok()?;
        let mut data = Vec::new();
        (&mut stream).take(1 << 20).read_to_end(&mut data).ok()?;
        data.get(header..)?.chunks_exact(16).find_map(|e| {
            let tag = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
            (tag >> 16 == u32::from(id) && tag & 0xFFFF == 0x0003)
                .then(|| u32::from_le_bytes([e[8], e[9], e[10], e[11]]))
        })
    }
}

/// The dictionary every compressed RTF stream starts with (MS-OXRTFCP).
const RTF_PREBUF: &[u8] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

/// Decompresses an Outlook compressed-RTF stream (LZFu), at most `max` bytes.
fn decompress_rtf(data: &[u8], max: u64) -> Option<Vec<u8>> {
    if data.len() < 16 {
        return None;
    }
    let raw_size = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as u64;
    let magic = &data[8..12];
    let body = &data[16..];
    if magic == b"MELA" {
        return Some(
            body[..body
                .len()
                .min(usize::try_from(raw_size.min(max)).unwrap_or(0))]
                .to_vec(),
        );
    }
    if magic != b"LZFu" {
        return None;
    }
    let limit = usize::try_from(raw_size.min(max)).unwrap_or(0);
    let mut dict = [0u8; 4096];
    dict[..RTF_PREBUF.len()].copy_from_slice(RTF_PREBUF);
    let mut write = RTF_PREBUF.len();
    let mut out = Vec::with_capacity(limit.min(8 << 20));
    let mut i = 0;
    while i < body.len() && out.len() < limit {
        let control = body[i];
        i += 1;
        for bit in 0..8 {
            if i >= body.len() || out.len() >= limit {
                break;
            }
            if control & (1 << bit) == 0 {
                let b = body[i];
                i += 1;
                out.push(b);
                dict[write % 4096] = b;
                write += 1;
            } else {
                let Some(pair) = body.get(i..i + 2) else {
                    return Some(out);
                };
                i += 2;
                let token = u16::from_be_bytes([pair[0], pair[1]]) as usize;
                let offset = token >> 4;
                let len = (token & 0xF) + 2;
                if offset == write % 4096 {
                    return Some(out);
                }
                for k in 0..len {
                    let b = dict[(offset + k) % 4096];
                    out.push(b);
                    dict[write % 4096] = b;
                    write += 1;
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prebuf_is_207_bytes() {
        assert_eq!(RTF_PREBUF.len(), 207);
    }

    #[test]
    fn compressed_rtf_example() {
        // The example of MS-OXRTFCP 3.1.1: "{\rtf1\ansi\ansicpg1252\pard hello world}\r\n".
        let data: [u8; 61] = [
            0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5,
            0xc7, 0xa7, 0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42,
            0x32, 0x0a, 0xf3, 0x20, 0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0,
            0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f, 0xa0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        let out = decompress_rtf(&data, 1 << 20).unwrap_or_default();
        assert_eq!(
            String::from_utf8_lossy(&out),
            "{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n"
        );
    }

    #[test]
    fn msip_header() {
        let labels = transport_labels(
            "Received: x\r\nmsip_labels: MSIP_Label_AAA-1_Enabled=True;\r\n MSIP_Label_AAA-1_Name=社外秘;\r\n MSIP_Label_AAA-1_SiteId=s\r\nSubject: y\r\n",
        );
        assert_eq!(labels, vec!["社外秘"]);
    }
}
