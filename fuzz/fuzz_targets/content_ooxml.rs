//! The Office Open XML and OpenDocument readers on arbitrary XML parts inside a well-formed
//! package (stored entries with correct CRCs, built here): the input is split at 0xFF bytes
//! into the parts of a docx, an xlsx, a pptx or an odt (the first byte picks which), including
//! the custom properties that carry sensitivity labels. Never panics.
#![no_main]

#[path = "common/hook.rs"]
mod hook;
use hook::abort_on_own_panics;

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mamori_content::extract::{Limits, extract};

const KINDS: &[(&str, &[&str])] = &[
    (
        "f.docx",
        &[
            "word/document.xml",
            "word/header1.xml",
            "word/comments.xml",
            "docProps/custom.xml",
            "docProps/labelInfo.xml",
        ],
    ),
    (
        "f.xlsx",
        &[
            "xl/sharedStrings.xml",
            "xl/worksheets/sheet1.xml",
            "xl/comments1.xml",
            "docProps/custom.xml",
            "xl/sharedStrings.bin",
        ],
    ),
    (
        "f.pptx",
        &[
            "ppt/slides/slide1.xml",
            "ppt/notesSlides/notesSlide1.xml",
            "ppt/diagrams/data1.xml",
            "docProps/custom.xml",
        ],
    ),
    ("f.odt", &["content.xml"]),
];

fuzz_target!(|data: &[u8]| {
    abort_on_own_panics();
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    let (name, parts) = KINDS[usize::from(*selector) % KINDS.len()];
    let mut entries: Vec<(&str, &[u8])> = vec![("[Content_Types].xml", b"<Types/>")];
    if name == "f.odt" {
        entries = vec![("mimetype", b"application/vnd.oasis.opendocument.text")];
    } else if name == "f.xlsx" {
        entries.push(("xl/workbook.xml", b"<workbook/>"));
    } else if name == "f.pptx" {
        entries.push(("ppt/presentation.xml", b"<presentation/>"));
    }
    for (part, chunk) in parts.iter().zip(body.split(|&b| b == 0xFF)) {
        entries.push((part, chunk));
    }
    if name == "f.docx" && !entries.iter().any(|(n, _)| *n == "word/document.xml") {
        entries.push(("word/document.xml", b""));
    }
    let limits = Limits {
        max_time: Duration::from_secs(10),
        ..Limits::default()
    };
    let x = extract(name, &stored_zip(&entries), &limits);
    assert!(!x.parts[0].type_mismatch, "{:?}", x.parts[0].file_type);
});

/// A zip archive of stored (uncompressed) entries.
fn stored_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let mut header = Vec::new();
        header.extend_from_slice(&20u16.to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes());
        header.extend_from_slice(&[0, 0, 0x21, 0]);
        header.extend_from_slice(&crc.to_le_bytes());
        header.extend_from_slice(&(data.len() as u32).to_le_bytes());
        header.extend_from_slice(&(data.len() as u32).to_le_bytes());
        header.extend_from_slice(&(name.len() as u16).to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&header);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&header);
        central.extend_from_slice(&[0; 10]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let start = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
