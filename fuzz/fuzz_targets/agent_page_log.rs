//! Any text as a line of CUPS's page log: the agent's parser never panics, and a job it
//! accepts names a printer and a user.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    if let Some(job) = mamori_agent::print::parse_line(&line) {
        assert!(!job.printer.is_empty() && !job.user.is_empty(), "{job:?}");
    }
});
