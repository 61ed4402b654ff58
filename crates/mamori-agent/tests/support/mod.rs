//! What the kernel tests share: skipping where the machine does not allow them, and
//! collecting the sensor's records.
#![allow(dead_code)]

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use mamori_agent::Record;

/// Skips (or fails, when the environment insists) with a reason.
pub fn skip(reason: &str) {
    if std::env::var_os("MAMORI_REQUIRE_FANOTIFY").is_some() {
        panic!("MAMORI_REQUIRE_FANOTIFY is set, but: {reason}");
    }
    eprintln!("skipped: {reason}");
}

/// Records until `done` says enough, or 5 s.
pub fn collect(rx: &Receiver<Record>, mut done: impl FnMut(&[Record]) -> bool) -> Vec<Record> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done(&out) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(r) => out.push(r),
            Err(_) => break,
        }
    }
    out
}
