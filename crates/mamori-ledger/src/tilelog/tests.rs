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
    let mut files = snapshot(dir, "tile");
    files.extend(snapshot(dir, "cache"));
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

/// 1,000 entries, then a batch of 20,000 (78 full level-0 tiles and 78 bundles: more staged
/// files than one flush takes) that crashes, then 1,234 more.
fn batches(all: &[Hash]) -> (&[Hash], &[Hash], &[Hash]) {
    (&all[..1000], &all[1000..21_000], &all[21_000..])
}

#[test]
fn torn_appends_recover_the_old_size_and_resume_identically() {
    let all = entries(22_234);
    let (first, second, third) = batches(&all);
    let clean = clean_log(&[first, second, third]);
    let signer = Signer::generate(ORIGIN).unwrap();
    for point in [
        FailPoint::AfterIntent,
        FailPoint::AfterFullTiles(0),
        FailPoint::AfterFullTiles(70),
        FailPoint::BeforeCache,
        FailPoint::BeforeFilesInPlace,
        FailPoint::BeforeCommit,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
        log.append(first).unwrap();
        log.sign_checkpoint(&signer).unwrap();
        let root = log.root().unwrap();
        let before = log_files(dir.path());
        log.failpoint = Some(point);
        assert!(log.append(second).is_err(), "{point:?}");
        drop(log); // the "crash": nothing else runs

        if point == FailPoint::BeforeCommit {
            // The new tiles are all in place, only the state still names size 1000.
            assert!(dir.path().join("tile/0/050").is_file());
            assert!(dir.path().join("tile/entries/082.p/8").is_file());
        }
        if point == FailPoint::BeforeFilesInPlace || point == FailPoint::AfterFullTiles(70) {
            assert!(
                fs::read_dir(dir.path().join(TMP_DIR))
                    .unwrap()
                    .next()
                    .is_some(),
                "temp files left"
            );
        }

        let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
        assert_eq!(log.size(), 1000, "{point:?}");
        assert_eq!(log.root().unwrap(), root, "{point:?}");
        assert_same_files(
            &log_files(dir.path()),
            &before,
            &format!("{point:?} after recovery"),
        );
        assert_eq!(fs::read_dir(dir.path().join(TMP_DIR)).unwrap().count(), 0);
        audit(dir.path(), &signer, first);

        log.append(second).unwrap();
        log.append(third).unwrap();
        assert_same_files(
            &log_files(dir.path()),
            &log_files(clean.path()),
            &format!("{point:?} resumed"),
        );
        drop(log);
        audit(dir.path(), &signer, &all);
    }
}

#[test]
fn crash_after_commit_keeps_the_new_size() {
    let all = entries(22_234);
    let (first, second, third) = batches(&all);
    let clean = clean_log(&[first, second, third]);
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    log.append(first).unwrap();
    log.failpoint = Some(FailPoint::AfterCommit);
    assert!(log.append(second).is_err());
    drop(log);

    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    assert_eq!(log.size(), 21_000);
    // The partial tiles of size 1000 were not removed yet: harmless, valid prefixes.
    assert!(dir.path().join("tile/0/003.p/232").is_file());
    let signer = Signer::generate(ORIGIN).unwrap();
    log.sign_checkpoint(&signer).unwrap();
    audit(dir.path(), &signer, &all[..21_000]);
    log.append(third).unwrap();
    let mut files = log_files(dir.path());
    // (tile/1/000.p/3 is not a leftover: tile/1/000 is still partial, so it stays anyway.)
    let leftovers = ["tile/0/003.p/232", "tile/entries/003.p/232"];
    for leftover in leftovers {
        assert!(files.remove(leftover).is_some(), "{leftover}");
    }
    assert_same_files(&files, &log_files(clean.path()), "after commit");
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
    assert!(
        dir.path().join("tile/0/050").is_file(),
        "files of the failed append"
    );
    // The same process goes on with a different, shorter batch: the failed append's files
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
    assert!(!dir.path().join("tile/0/050").exists());
}

#[test]
fn leftover_temp_files_are_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    log.append(&entries(300)).unwrap();
    drop(log);
    fs::write(dir.path().join("tmp/12345.7.tmp"), b"half a tile").unwrap();
    fs::create_dir_all(dir.path().join("tmp/odd")).unwrap();
    let log = TileLog::open(dir.path(), ORIGIN).unwrap();
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    assert_eq!(log.size(), 300);
}

#[test]
fn cache_longer_than_the_size_is_truncated() {
    // As left by an append that extended the cache and then died before its commit.
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    log.append(&entries(5000)).unwrap();
    let cache = log_files(dir.path());
    drop(log);
    let path = cache_path(dir.path(), 4);
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(&[7; 64]);
    fs::write(&path, bytes).unwrap();
    TileLog::open(dir.path(), ORIGIN).unwrap();
    assert_same_files(&log_files(dir.path()), &cache, "truncated cache");
}
