//! The account inventory reader yields records or rejections, never panics, whatever the bytes.
//! The first byte picks the source given (or none, so the header must tell it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_event::AccountSource;
use mamori_ingest::accounts::AccountCsvReader;

fuzz_target!(|data: &[u8]| {
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    let source = AccountSource::ALL.get(usize::from(*selector) % (AccountSource::ALL.len() + 1));
    let Ok(reader) = AccountCsvReader::new(body, "fuzz", source.copied()) else {
        return;
    };
    let mut rows = 0usize;
    for record in reader {
        assert!(record.is_ok(), "reading from memory cannot fail");
        if let Ok(Ok(account)) = record {
            assert!(!account.account.is_empty());
        }
        rows += 1;
    }
    assert!(rows <= body.len());
});
