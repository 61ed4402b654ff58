//! The CERT source yields events or rejections, never panics, and its record boundary only
//! moves forward within the input, whatever the bytes. The first byte picks the file kind.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use mamori_ingest::Source;
use mamori_ingest::cert::{CertFileSource, CertOptions, ContentKey, FileKind, ResumePoint};

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    let kind = FileKind::ALL[usize::from(*selector) % FileKind::ALL.len()];
    let options = CertOptions::new(ContentKey([0; 32]));
    let total = body.len() as u64;
    let Ok(mut source) =
        CertFileSource::from_reader(Cursor::new(body), "fuzz", kind, ResumePoint::START, &options)
    else {
        return;
    };
    let mut boundary = source.record_boundary();
    while let Some(record) = source.next_record() {
        assert!(record.is_ok(), "reading from memory cannot fail");
        assert!(source.record_boundary() >= boundary);
        assert!(source.record_boundary() <= total);
        boundary = source.record_boundary();
    }
});
