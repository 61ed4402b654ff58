//! Crash safety of `append`: stop it at every stage as if the process died, then check that
//! reopening gives the old log (or the new one, after the commit point) and that appending
//! again produces byte-identical files to a log that never crashed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io;

use sha2::{Digest, Sha256};

use super::*;
use crate::audit::Auditor;

pub(crate) fn simulated_crash() -> LedgerError {
    LedgerError::Io {
        path: PathBuf::from("<failpoint>"),
        source: io::Error::other("simulated crash"),
    }
}

const ORIGIN: &str = "example.com/crash";

fn entries(count: usize) -> Vec<Hash> {
    (0..count as u64)
        .map(|i| Sha256::digest(i.to_be_bytes()).into())
        .collect()
}

/// Every file under `dir/under`, relative path -> bytes.
fn snapshot(dir: &Path, under: &str) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.join(under)];
    while let Some(path) = stack.pop() {
        let Ok(entries) = fs::read_dir(&path) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.insert(relative, fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn log_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = snapshot(dir, packed::HASHES_DIR);
    files.insert(
        packed::ENTRIES_FILE.to_owned(),
        fs::read(dir.join(packed::ENTRIES_FILE)).unwrap(),
    );
    files
}

/// Equal file sets, reporting only the paths that differ.
fn assert_same_files(
    actual: &BTreeMap<String, Vec<u8>>,
    expected: &BTreeMap<String, Vec<u8>>,
    context: &str,
) {
    let differing: Vec<&String> = actual
        .keys()
        .chain(expected.keys())
        .filter(|path| actual.get(*path) != expected.get(*path))
        .collect();
    assert!(
        differing.is_empty(),
        "{context}: files differ: {differing:?}"
    );
}

/// A log that never crashed, appended in the same batches.
fn clean_log(batches: &[&[Hash]]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    for batch in batches {
        log.append(batch).unwrap();
    }
    dir
}

fn audit(dir: &Path, signer: &Signer, entries: &[Hash]) {
    let mut auditor = Auditor::new(dir, &signer.verifier(), ORIGIN).unwrap();
    for entry in entries {
        auditor.push(entry).unwrap();
    }
    auditor.finish().unwrap();
}

/// 1,000 entries, then a batch of 20,000 that crashes, then 1,234 more.
fn batches(all: &[Hash]) -> (&[Hash], &[Hash], &[Hash]) {
    (&all[..1000], &all[1000..21_000], &all[21_000..])
}

#[test]
fn torn_appends_recover_the_old_size_and_resume_identically() {
    let all = entries(22_234);
    let (first, second, third) = batches(&all);
    let clean = clean_log(&[first, second, third]);
    let signer = Signer::generate(ORIGIN).unwrap();
    for (point, deferred) in [
        (FailPoint::AfterEntries, false),
        (FailPoint::BeforeCommit, false),
        (FailPoint::AfterEntries, true),
        (FailPoint::BeforeCommit, true),
    ] {
        let context = format!("{point:?} deferred {deferred}");
        let dir = tempfile::tempdir().unwrap();
        let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
        if deferred {
            log.defer_durability();
        }
        log.append(first).unwrap();
        log.sign_checkpoint(&signer).unwrap();
        let root = log.root().unwrap();
        let before = log_files(dir.path());
        log.failpoint = Some(point);
        assert!(log.append(second).is_err(), "{context}");
        drop(log); // the "crash": nothing else runs
        assert!(
            fs::metadata(dir.path().join(packed::ENTRIES_FILE))
                .unwrap()
                .len()
                > 32 * 1000,
            "{context}: the torn append wrote entries"
        );

        let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
        assert_eq!(log.size(), 1000, "{context}");
        assert_eq!(log.root().unwrap(), root, "{context}");
        assert_same_files(
            &log_files(dir.path()),
            &before,
            &format!("{context} after recovery"),
        );
        audit(dir.path(), &signer, first);

        log.append(second).unwrap();
        log.append(third).unwrap();
        assert_same_files(
            &log_files(dir.path()),
            &log_files(clean.path()),
            &format!("{context} resumed"),
        );
        drop(log);
        audit(dir.path(), &signer, &all);
    }
}

#[test]
fn deferred_appends_survive_only_once_synced() {
    let all = entries(3000);
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    log.defer_durability();
    log.append(&all[..1000]).unwrap();
    log.sync().unwrap();
    log.append(&all[1000..2000]).unwrap();
    drop(log); // crash before the next sync
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    assert_eq!(log.size(), 1000);
    log.append(&all[1000..]).unwrap();
    assert_same_files(
        &log_files(dir.path()),
        &log_files(clean_log(&[&all]).path()),
        "replayed",
    );
}

#[test]
fn failed_append_is_cleaned_up_before_the_next_one() {
    let all = entries(21_010);
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    log.append(&all[..1000]).unwrap();
    log.failpoint = Some(FailPoint::BeforeCommit);
    assert!(log.append(&all[1000..21_000]).is_err());
    assert_eq!(log.size(), 1000);
    assert_eq!(
        fs::metadata(dir.path().join(packed::ENTRIES_FILE))
            .unwrap()
            .len(),
        32 * 21_000,
        "bytes of the failed append"
    );
    // The same process goes on with a different, shorter batch: the failed append's bytes
    // must not survive (they would be served as tiles of a tree that does not exist).
    log.failpoint = None;
    let other: Vec<Hash> = entries(10)
        .iter()
        .map(|e| Sha256::digest(e).into())
        .collect();
    log.append(&other).unwrap();
    let clean = clean_log(&[&all[..1000], &other]);
    assert_same_files(
        &log_files(dir.path()),
        &log_files(clean.path()),
        "after a failed append",
    );
}

#[test]
fn leftover_temp_files_are_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    log.append(&entries(300)).unwrap();
    drop(log);
    fs::write(dir.path().join("tmp/12345.7.tmp"), b"half a file").unwrap();
    fs::create_dir_all(dir.path().join("tmp/odd")).unwrap();
    let log = TileLog::open(dir.path(), ORIGIN).unwrap();
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    assert_eq!(log.size(), 300);
}

#[test]
fn short_packed_file_is_reported_as_damage() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    log.append(&entries(5000)).unwrap();
    drop(log);
    let path = dir.path().join(packed::hashes_path(4));
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 32]).unwrap();
    let error = TileLog::open(dir.path(), ORIGIN).unwrap_err();
    assert!(
        error.to_string().contains("hashes/04") && error.to_string().contains("expected"),
        "{error}"
    );
}
