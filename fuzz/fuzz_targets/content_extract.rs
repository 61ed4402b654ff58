//! `mamori_content::extract` on arbitrary files: never panics, never exceeds its limits, and
//! every nested part lies below a part before it. The first byte picks the file name (its
//! extension decides `declared`, `type_mismatch` and CSV); the bytes decide everything else.
//! Panics the extractor catches from other crates' parsers are its documented behaviour, but
//! a panic in Mamori's own code aborts, so the fuzzer reports it.
#![no_main]

#[path = "common/hook.rs"]
mod hook;
use hook::abort_on_own_panics;

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mamori_content::extract::{Limits, extract};

const NAMES: &[&str] = &[
    "a.txt",
    "a.csv",
    "a.html",
    "a.rtf",
    "a.docx",
    "a.xlsx",
    "a.pptx",
    "a.odt",
    "a.pdf",
    "a.zip",
    "a.tar",
    "a.gz",
    "a.eml",
    "a.msg",
    "a.doc",
    "a.xls",
    "a.ppt",
    "a.jpg",
    "a.exe",
    "noextension",
];

fuzz_target!(|data: &[u8]| {
    abort_on_own_panics();
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    let name = NAMES[usize::from(*selector) % NAMES.len()];
    let limits = Limits {
        max_expanded_bytes: 64 << 20,
        max_entries: 200,
        max_time: Duration::from_secs(10),
        ..Limits::default()
    };
    let x = extract(name, body, &limits);
    assert!(!x.parts.is_empty());
    assert_eq!(x.parts[0].path, name);
    for (i, part) in x.parts.iter().enumerate().skip(1) {
        let parent = part.path.rsplit_once('!').map(|(p, _)| p).unwrap_or("");
        assert!(
            x.parts[..i].iter().any(|p| p.path == parent),
            "{} has no parent before it",
            part.path
        );
        assert!(part.path.matches('!').count() <= limits.max_depth as usize);
    }
    assert!(x.parts.len() <= limits.max_entries as usize + 1);
});
