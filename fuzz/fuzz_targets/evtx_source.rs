//! Any bytes as an `.evtx` file: the source yields events or rejections naming the file and
//! never panics.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use mamori_ingest::{EvtxSource, Source};

fuzz_target!(|data: &[u8]| {
    let Ok(mut file) = tempfile::NamedTempFile::new() else {
        return;
    };
    if file.write_all(data).is_err() {
        return;
    }
    let Ok(mut source) = EvtxSource::open(file.path()) else {
        return;
    };
    let mut records = 0u32;
    while let Some(record) = source.next_record() {
        if let Ok(Err(rejected)) = record {
            assert!(!rejected.reason.is_empty());
        }
        records += 1;
        assert!(records < 1_000_000);
    }
});
