//! Text decoding and the text of HTML, RTF and mail on arbitrary bytes: encoding detection
//! (byte-order marks, UTF-16 without them, ISO-2022-JP, Shift_JIS versus EUC-JP), markup
//! stripping and MIME parsing. The first byte picks a prefix that steers detection (none, an
//! HTML tag, an RTF header, mail headers). Never panics; decoded text is never longer than
//! the input allows.
#![no_main]

#[path = "common/hook.rs"]
mod hook;
use hook::abort_on_own_panics;

use libfuzzer_sys::fuzz_target;
use mamori_content::extract::{Limits, extract};

const PREFIXES: &[(&str, &[u8])] = &[
    ("t.txt", b""),
    ("t.csv", b""),
    ("t.html", b"<html><body>"),
    ("t.rtf", b"{\\rtf1\\ansi\\ansicpg932 "),
    ("t.eml", b"From: a@example.com\r\nMessage-ID: <1@x>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"),
    ("t.txt", b"\xFF\xFE"),
    ("t.txt", b"\x1b$B"),
];

fuzz_target!(|data: &[u8]| {
    abort_on_own_panics();
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    let (name, prefix) = PREFIXES[usize::from(*selector) % PREFIXES.len()];
    let input = [prefix, body].concat();
    let x = extract(name, &input, &Limits::default());
    if let Some(text) = &x.parts[0].text {
        // UTF-16 of n bytes decodes to at most n/2 + 1 characters of at most 4 bytes; every
        // other decoder emits at most 3 bytes of UTF-8 per input byte (U+FFFD for one byte).
        assert!(
            text.len() <= input.len() * 3 + 8,
            "{} bytes of text from {} bytes",
            text.len(),
            input.len()
        );
    }
});
