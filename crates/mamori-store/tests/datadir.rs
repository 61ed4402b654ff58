//! The data directory keeps the store and the ledger in agreement.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use mamori_store::{DataDir, NewEvent, StoreError};
use sha2::{Digest, Sha256};

const ORIGIN: &str = "test.mamori.invalid/events";

fn batch(first: u32, count: u32) -> Vec<NewEvent> {
    (first..first + count)
        .map(|n| {
            let json = format!(r#"{{"n":{n}}}"#).into_bytes();
            NewEvent {
                identity: Sha256::digest(n.to_be_bytes()).into(),
                entry: Sha256::digest(&json).into(),
                time_us: i64::from(n),
                kind: "logon",
                account: format!("user{}", n % 7),
                json,
            }
        })
        .collect()
}

#[test]
fn pipelined_appends_reach_the_tiles_and_checkpoint_as_they_go() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = DataDir::init(dir.path(), ORIGIN).unwrap();
    data.append_pipelined(Duration::ZERO, |appender| {
        for first in [0, 300, 600] {
            let outcome = appender.append(&batch(first, 300))?;
            assert_eq!(outcome.appended.len(), 300);
        }
        // Already stored: no new leaves.
        assert_eq!(appender.append(&batch(0, 300))?.duplicates.len(), 300);
        Ok::<_, StoreError>(())
    })
    .unwrap();
    assert_eq!(data.log().size(), 900);
    // The ledger thread signed after every batch (interval zero), on top of init's empty tree.
    let sizes: Vec<String> = data
        .log()
        .checkpoint_history()
        .unwrap()
        .iter()
        .map(|note| note.lines().nth(1).unwrap().to_string())
        .collect();
    assert_eq!(sizes, ["0", "300", "600", "900"]);
    // The account and kind postings are all written when the appends end.
    let store = data.store();
    assert_eq!(
        store.meta("postings_through").unwrap().as_deref(),
        Some("900")
    );
    assert_eq!(
        store.events_of_account("user3", 0, i64::MAX).unwrap().len(),
        (0..900).filter(|n| n % 7 == 3).count()
    );
    let verifier = data.verifier();
    let report = data.verify(&verifier, |_| {}).unwrap();
    assert_eq!(report.leaves, 900);
}

#[test]
fn reopening_catches_the_tiles_up_with_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = DataDir::init(dir.path(), ORIGIN).unwrap();
    data.append_pipelined(Duration::from_secs(3600), |appender| {
        appender.append(&batch(0, 1000)).map(|_| ())
    })
    .unwrap();
    assert_eq!(data.log().size(), 1000);
    // Dropped without a checkpoint: the tiles were never synced, so reopening rolls them back
    // to the last synced size and re-appends from the store.
    drop(data);
    let mut data = DataDir::open(dir.path()).unwrap();
    assert_eq!(data.log().size(), 1000);
    let verifier = data.verifier();
    assert_eq!(data.verify(&verifier, |_| {}).unwrap().leaves, 1000);
}

#[test]
fn verify_names_the_first_bad_leaf_across_reader_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = DataDir::init(dir.path(), ORIGIN).unwrap();
    data.append_pipelined(Duration::from_secs(3600), |appender| {
        for first in (0..40_000).step_by(10_000) {
            appender.append(&batch(first, 10_000))?;
        }
        Ok::<_, StoreError>(())
    })
    .unwrap();
    data.checkpoint().unwrap();
    let verifier = data.verifier();
    let mut seen = 0;
    let report = data.verify(&verifier, |n| seen = n).unwrap();
    assert_eq!((report.leaves, seen), (40_000, 40_000));
    drop(data);

    let sqlite = rusqlite::Connection::open(dir.path().join("store.sqlite")).unwrap();
    // Leaves 16,384 and 32,768 start the second and third chunk a reader recomputes: damage
    // in a later chunk must not hide damage in an earlier one.
    // Event n is line n of the bodies file, `{"n":n}`: make 32768 read `{"n":42768}`.
    let bodies = dir.path().join("store.ndjson");
    let mut text = std::fs::read_to_string(&bodies).unwrap();
    let at = text.find("{\"n\":32768}").unwrap();
    text.replace_range(at + 5..at + 6, "4");
    std::fs::write(&bodies, text).unwrap();
    sqlite
        .execute("DELETE FROM events WHERE leaf_index = 16384", [])
        .unwrap();
    let mut data = DataDir::open(dir.path()).unwrap();
    let error = data.verify(&verifier, |_| {}).unwrap_err();
    assert_eq!(error.leaf_index(), Some(16_384), "{error}");
    drop(data);
    sqlite
        .execute("DELETE FROM events WHERE leaf_index = 16383", [])
        .unwrap();
    let mut data = DataDir::open(dir.path()).unwrap();
    let error = data.verify(&verifier, |_| {}).unwrap_err();
    assert_eq!(error.leaf_index(), Some(16_383), "{error}");
    drop(data);
    // The last leaf removed: the store looks shorter than the ledger.
    sqlite
        .execute("DELETE FROM events WHERE leaf_index = 39999", [])
        .unwrap();
    assert!(DataDir::open(dir.path()).is_err());
}

#[test]
fn lost_bodies_are_named_by_verify_and_refused_by_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = DataDir::init(dir.path(), ORIGIN).unwrap();
    data.append_pipelined(Duration::ZERO, |appender| {
        appender.append(&batch(0, 100)).map(|_| ())
    })
    .unwrap();
    drop(data);
    // As if the file system lost the end of the bodies file: lines 0..=89 and part of 90 stay.
    let bodies = dir.path().join("store.ndjson");
    let text = std::fs::read_to_string(&bodies).unwrap();
    let cut = text.find("{\"n\":90}").unwrap() + 3;
    std::fs::write(&bodies, &text[..cut]).unwrap();
    let mut data = DataDir::open(dir.path()).unwrap();
    let verifier = data.verifier();
    let error = data.verify(&verifier, |_| {}).unwrap_err();
    assert_eq!(error.leaf_index(), Some(90), "{error}");
    let refused = data
        .append_pipelined(Duration::ZERO, |appender| {
            appender.append(&batch(100, 1)).map(|_| ())
        })
        .unwrap_err();
    assert!(
        refused.to_string().contains("bodies were lost"),
        "{refused}"
    );
}

#[test]
fn a_second_opening_is_refused_while_the_first_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let first = DataDir::init(&root, "lock.mamori.invalid/events").unwrap();
    let second = DataDir::open(&root).err().unwrap();
    assert!(matches!(second, StoreError::InUse(_)), "{second}");
    assert!(second.to_string().contains("in use"), "{second}");
    drop(first);
    DataDir::open(&root).unwrap();
}

#[test]
fn leaves_between_pages_a_time_range_in_bounded_steps() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = DataDir::init(dir.path(), ORIGIN).unwrap();
    // Leaf n has time n: the range [100, 110) is leaves 100..110.
    data.append_pipelined(Duration::from_secs(3600), |appender| {
        appender.append(&batch(0, 300)).map(|_| ())
    })
    .unwrap();
    let store = data.store();
    // A step of 50 rows from the start finds nothing in range and says how far it looked.
    assert_eq!(
        store.leaves_between(100, 110, None, 5, 50).unwrap(),
        (vec![], Some(49))
    );
    // Reaching the range: a full page stops at its last leaf.
    assert_eq!(
        store.leaves_between(100, 110, Some(99), 5, 50).unwrap(),
        (vec![100, 101, 102, 103, 104], Some(104))
    );
    assert_eq!(
        store.leaves_between(100, 110, Some(104), 5, 50).unwrap().0,
        vec![105, 106, 107, 108, 109]
    );
    // The last step ends at the last leaf; after it there is nothing.
    assert_eq!(
        store
            .leaves_between(i64::MIN, i64::MAX, Some(280), 100, 50)
            .unwrap(),
        ((281..300).collect::<Vec<u64>>(), Some(299))
    );
    assert_eq!(
        store
            .leaves_between(i64::MIN, i64::MAX, Some(299), 100, 50)
            .unwrap(),
        (vec![], None)
    );
}
