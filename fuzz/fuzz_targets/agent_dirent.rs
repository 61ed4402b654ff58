//! The directory-entry event parser and the fdinfo mark parser never panic, whatever the
//! bytes; parsed events never claim more than the input held.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_agent::dirent::{parse_events, parse_fdinfo};

fuzz_target!(|data: &[u8]| {
    let (events, _) = parse_events(data);
    // Each event takes at least the 24-byte metadata.
    assert!(events.len() * 24 <= data.len());
    for event in &events {
        for entry in [&event.entry, &event.old, &event.new].into_iter().flatten() {
            assert!(!entry.name.is_empty() && !entry.name.contains(&b'/'));
            assert!(entry.dir.bytes.len() <= 128);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_fdinfo(text);
    }
});
