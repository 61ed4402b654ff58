//! Crash safety end to end: a child process appends and signs in a loop and is killed with
//! SIGKILL at random moments. After every kill the log must open at a batch boundary, with the
//! root of exactly those entries, pass the audit (including every checkpoint the child managed
//! to sign), and accept further appends; at the end its files equal those of a log that never
//! crashed.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use mamori_ledger::TileLog;
use mamori_ledger::audit::Auditor;
use mamori_ledger::merkle::{TreeBuilder, leaf_hash};
use mamori_ledger::note::Signer;

const ORIGIN: &str = "example.com/killed";
const TOTAL: u64 = 60_000;

/// Size of the batch appended when the log has `size` entries: deterministic, so batch
/// boundaries are the same whichever process appends.
fn batch_after(size: u64) -> u64 {
    1 + (size.wrapping_mul(2_654_435_761) >> 7) % 4000
}

fn boundaries() -> BTreeSet<u64> {
    let mut sizes = BTreeSet::from([0]);
    let mut size = 0;
    while size < TOTAL {
        size = (size + batch_after(size)).min(TOTAL);
        sizes.insert(size);
    }
    sizes
}

fn entries_up_to(size: u64) -> Vec<Hash> {
    (0..size).map(|i| entry(77, i)).collect()
}

/// Append to `TOTAL` in the deterministic batches, signing after each; runs in the child.
fn append_all(dir: &Path, signer: &Signer) {
    let mut log = TileLog::open(dir, ORIGIN).unwrap();
    while log.size() < TOTAL {
        let size = log.size();
        let end = (size + batch_after(size)).min(TOTAL);
        let batch: Vec<Hash> = (size..end).map(|i| entry(77, i)).collect();
        log.append(&batch).unwrap();
        log.sign_checkpoint(signer).unwrap();
    }
}

/// The child: only does something when the parent test starts it.
#[test]
#[ignore = "started by killed_appends_leave_a_consistent_log"]
fn child_appender() {
    let (Ok(dir), Ok(skey)) = (
        std::env::var("MAMORI_CRASH_DIR"),
        std::env::var("MAMORI_CRASH_SKEY"),
    ) else {
        return;
    };
    append_all(Path::new(&dir), &Signer::from_skey(&skey).unwrap());
}

#[test]
fn killed_appends_leave_a_consistent_log() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::generate(ORIGIN).unwrap();
    let boundaries = boundaries();
    let exe = std::env::current_exe().unwrap();
    let mut kills = 0;
    for round in 0..8u64 {
        let mut child = Command::new(&exe)
            .args(["--exact", "child_appender", "--ignored", "--test-threads=1"])
            .env("MAMORI_CRASH_DIR", dir.path())
            .env("MAMORI_CRASH_SKEY", signer.to_skey())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Pseudo-random delays between 30 and 430 ms.
        let delay = 30 + (entry(round, 0)[0] as u64 * 400) / 256;
        std::thread::sleep(Duration::from_millis(delay));
        let killed = child.try_wait().unwrap().is_none();
        if killed {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();

        let log = TileLog::open(dir.path(), ORIGIN).unwrap();
        let size = log.size();
        eprintln!("round {round}: killed after {delay} ms: {killed}, size {size}");
        assert!(
            boundaries.contains(&size),
            "round {round}: size {size} is not a batch boundary"
        );
        let entries = entries_up_to(size);
        let mut builder = TreeBuilder::new();
        for entry in &entries {
            builder.push(leaf_hash(entry));
        }
        assert_eq!(log.root().unwrap(), builder.root(), "round {round}");
        drop(log);
        let mut auditor = Auditor::new(dir.path(), &signer.verifier(), ORIGIN).unwrap();
        for entry in &entries {
            auditor.push(entry).unwrap();
        }
        auditor
            .finish()
            .unwrap_or_else(|e| panic!("round {round} at size {size}: {e}"));
        if size == TOTAL {
            break;
        }
    }
    assert!(kills > 0, "the child was never killed mid-way");

    // Finish in this process, and compare with a log that never crashed.
    append_all(dir.path(), &signer);
    let clean = tempfile::tempdir().unwrap();
    append_all(clean.path(), &signer);
    let crashed = snapshot(dir.path(), "tile");
    let expected = snapshot(clean.path(), "tile");
    for (path, bytes) in &expected {
        assert_eq!(crashed.get(path), Some(bytes), "{path}");
    }
    // Anything more can only be a partial tile whose removal a kill interrupted: it must be a
    // prefix of the tile that replaced it.
    for (path, bytes) in &crashed {
        if expected.contains_key(path) {
            continue;
        }
        let (base, _) = path
            .split_once(".p/")
            .unwrap_or_else(|| panic!("unexpected {path}"));
        let full = expected.get(base).unwrap_or_else(|| panic!("stale {path}"));
        assert!(full.starts_with(bytes), "{path} is not a prefix of {base}");
    }
    assert_eq!(
        snapshot(dir.path(), "cache"),
        snapshot(clean.path(), "cache")
    );
    assert_eq!(
        snapshot(dir.path(), "checkpoints"),
        snapshot(clean.path(), "checkpoints")
            .into_iter()
            .filter(|(path, _)| crashed_sizes(dir.path()).contains(path))
            .collect()
    );
}

/// History files present in the crashed log (a kill can land between append and signing, so
/// the crashed log may lack some; those present must equal the clean log's).
fn crashed_sizes(dir: &Path) -> BTreeSet<String> {
    snapshot(dir, "checkpoints").into_keys().collect()
}
