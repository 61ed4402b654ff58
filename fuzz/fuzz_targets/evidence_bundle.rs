//! Verifying an arbitrary file as an evidence bundle never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mamori_ledger::bundle::verify(data, None);
});
