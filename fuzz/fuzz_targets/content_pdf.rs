//! The PDF text reader on arbitrary content streams and ToUnicode CMaps inside a well-formed
//! PDF (a raw fuzzed file rarely gets past the parser to them): the input is split at the
//! first 0xFF byte into a page content stream and the CMap of an Identity-H font, next to a
//! simple font, a Shift_JIS font and a form XObject. Never panics; the text is bounded.
#![no_main]

#[path = "common/hook.rs"]
mod hook;
use hook::abort_on_own_panics;

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mamori_content::extract::{Limits, extract};

fuzz_target!(|data: &[u8]| {
    abort_on_own_panics();
    let (content, cmap) = match data.iter().position(|&b| b == 0xFF) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b"1 begincodespacerange <0000> <FFFF> endcodespacerange 1 beginbfrange <0001> <00FF> <3041> endbfrange"[..]),
    };
    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R /F2 7 0 R /F3 8 0 R >> /XObject << /X1 9 0 R >> >> /Contents 5 0 R >>".to_vec(),
        b"<< /Type /Font /Subtype /Type0 /BaseFont /G /Encoding /Identity-H /DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /BaseFont /G /DW 1000 /W [1 [500 600] 10 20 700] >>] /ToUnicode 6 0 R >>".to_vec(),
        stream(content),
        stream(cmap),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Differences [65 /A /B /uni3042 /g12] >> /FirstChar 32 /Widths [250 300 400] >>".to_vec(),
        b"<< /Type /Font /Subtype /Type0 /BaseFont /M /Encoding /90ms-RKSJ-V /DescendantFonts [<< /Type /Font /Subtype /CIDFontType0 /BaseFont /M >>] >>".to_vec(),
        [b"<< /Type /XObject /Subtype /Form /BBox [0 0 9 9] /Matrix [1 0 0 1 5 5] ".as_slice(), &stream(content)[3..]].concat(),
    ];
    let mut pdf = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    let limits = Limits {
        max_text_chars: 1 << 20,
        max_time: Duration::from_secs(10),
        ..Limits::default()
    };
    let x = extract("fuzz.pdf", &pdf, &limits);
    assert!(
        x.parts[0]
            .text
            .as_ref()
            .is_none_or(|t| t.chars().count() <= limits.max_text_chars)
    );
});

fn stream(data: &[u8]) -> Vec<u8> {
    [
        format!("<< /Length {} >>\nstream\n", data.len()).as_bytes(),
        data,
        b"\nendstream",
    ]
    .concat()
}
