//! Properties of the NDJSON source on arbitrary input: one record per non-blank line, in order,
//! with the right line numbers, whatever mix of good lines, garbage, blank lines and CRLF.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mamori_ingest::{NdjsonSource, Source};
use proptest::prelude::*;

const GOOD: &str = r#"{"time":"2026-01-05T09:12:00Z","kind":"file.copy","actor":{"user":"ACM2278","host":"PC-1234"},"object":{"path":"C:/design/a.dwg","size":12345},"destination":{"kind":"removable"},"outcome":"success"}"#;

#[derive(Debug, Clone)]
enum Line {
    Good,
    Blank(String),
    Garbage(Vec<u8>),
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        Just(Line::Good),
        "[ \t]{0,3}".prop_map(Line::Blank),
        // Any bytes but a newline, not all whitespace.
        proptest::collection::vec(
            any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
            1..60
        )
        .prop_filter("not blank", |bytes| !bytes
            .iter()
            .all(u8::is_ascii_whitespace))
        .prop_map(Line::Garbage),
    ]
}

proptest! {
    #[test]
    fn one_record_per_non_blank_line(lines in proptest::collection::vec((line(), any::<bool>()), 0..40), final_newline in any::<bool>()) {
        let mut input = Vec::new();
        let mut expected = Vec::new(); // (line number, is good)
        for (number, (line, crlf)) in lines.iter().enumerate() {
            match line {
                Line::Good => {
                    input.extend_from_slice(GOOD.as_bytes());
                    expected.push((number as u64 + 1, true));
                }
                Line::Blank(spaces) => input.extend_from_slice(spaces.as_bytes()),
                Line::Garbage(bytes) => {
                    input.extend_from_slice(bytes);
                    // Garbage that happens to be whitespace plus a CR still counts as blank.
                    let blank = bytes.iter().chain(crlf.then_some(&b'\r')).all(u8::is_ascii_whitespace);
                    if !blank {
                        expected.push((number as u64 + 1, false));
                    }
                }
            }
            if *crlf {
                input.push(b'\r');
            }
            if number + 1 < lines.len() || final_newline {
                input.push(b'\n');
            }
        }
        let mut source = NdjsonSource::new(input.as_slice(), "p", None);
        let mut got = Vec::new();
        while let Some(record) = source.next_record() {
            match record.unwrap() {
                Ok(_) => got.push((0, true)),
                Err(rejected) => got.push((rejected.location.line, false)),
            }
        }
        prop_assert_eq!(got.len(), expected.len());
        for ((got_line, got_good), (want_line, want_good)) in got.iter().zip(&expected) {
            prop_assert_eq!(got_good, want_good);
            if !want_good {
                prop_assert_eq!(got_line, want_line);
            }
        }
        prop_assert_eq!(source.bytes_read(), input.len() as u64);
    }
}
