//! The NDJSON source yields one event or rejection per non-blank line, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_ingest::{NdjsonSource, Source};

fuzz_target!(|data: &[u8]| {
    let mut source = NdjsonSource::new(data, "fuzz", Some(data.len() as u64));
    let mut records = 0usize;
    while let Some(record) = source.next_record() {
        assert!(record.is_ok(), "reading from memory cannot fail");
        records += 1;
    }
    assert!(records <= data.split(|&b| b == b'\n').count());
    assert_eq!(source.bytes_read(), data.len() as u64);
});
