//! The access log is a second tamper-evident ledger, kept in agreement with its rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use mamori_ledger::note::{self, Verifier};
use mamori_ledger::{TileLog, TileReader};
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

/// The tree sizes of the checkpoints in the log's history.
fn checkpoint_sizes(log: &TileLog) -> Vec<u64> {
    log.checkpoint_history()
        .unwrap()
        .iter()
        .map(|note| note.lines().nth(1).unwrap().parse().unwrap())
        .collect()
}

/// A data directory with three access records (leaves 0, 1, 2; row ids 1, 2, 3), closed.
fn three_records(root: &Path) {
    let mut data = DataDir::init(root, ORIGIN).unwrap();
    data.record_access("aoki", "alerts.list", "all", 10)
        .unwrap();
    data.record_access("aoki", "cases.show", "case 1", 20)
        .unwrap();
    data.record_access("ito", "reveals.grant", "case 1", 30)
        .unwrap();
}

fn sql(root: &Path, statement: &str) {
    let conn = rusqlite::Connection::open(root.join("store.sqlite")).unwrap();
    conn.execute_batch(statement).unwrap();
}

fn verify(data: &mut DataDir) -> Result<mamori_store::VerifyReport, mamori_store::VerifyError> {
    let verifier = data.verifier();
    data.verify(&verifier, |_| {})
}

#[test]
fn each_record_is_a_leaf_under_a_new_signed_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = DataDir::init(dir.path(), ORIGIN).unwrap();
    assert_eq!(data.access_origin(), "test.mamori.invalid/access");
    assert_eq!(checkpoint_sizes(data.access_ledger()), [0]);
    data.record_access("aoki", "alerts.list", "all", 10)
        .unwrap();
    data.record_access("aoki", "cases.show", "case 1", 20)
        .unwrap();
    // Between batches of events, through the appender.
    data.append_pipelined(Duration::ZERO, |appender| {
        appender.append(&batch(0, 10))?;
        appender.record_access("ito", "events.search", "account user3", 30)?;
        appender.append(&batch(10, 10))?;
        Ok::<_, StoreError>(())
    })
    .unwrap();
    assert_eq!(data.access_ledger().size(), 3);
    assert_eq!(checkpoint_sizes(data.access_ledger()), [0, 1, 2, 3]);
    // The events log is untouched by access records.
    assert_eq!(data.log().size(), 20);

    // Each leaf is the entry of its record, in the order they were made.
    let mut records = data.store().access_log(10).unwrap();
    records.reverse();
    for (leaf_index, record) in records.iter().enumerate() {
        let entry = data.access_ledger().entry(leaf_index as u64).unwrap();
        assert_eq!(entry, record.ledger_entry(), "{record:?}");
    }

    // Served like the events log, and signed by the key published beside it.
    let paths = data.paths().clone();
    let (latest, size) = TileReader::new(&paths.access_log())
        .latest_checkpoint()
        .unwrap()
        .unwrap();
    assert_eq!(size, 3);
    let vkey = std::fs::read_to_string(paths.access_vkey()).unwrap();
    let verifier = Verifier::from_vkey(vkey.trim()).unwrap();
    assert_eq!(verifier.name(), "test.mamori.invalid/access");
    note::open(&latest, &verifier).unwrap();
    // A different key than the events log's.
    assert!(note::open(&latest, &data.verifier()).is_err());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(paths.access_key()).unwrap().permissions();
        assert_eq!(mode.mode() & 0o777, 0o600);
    }

    let report = verify(&mut data).unwrap();
    assert_eq!(report.leaves, 20);
    assert_eq!(report.access_records, 3);
    // Sizes 0 to 3 in the history, and `checkpoint`.
    assert_eq!(report.access_checkpoints_checked, 5);
    let serialised = serde_json::to_value(&report).unwrap();
    assert_eq!(serialised["access_records"], 3);
    assert_eq!(serialised["access_checkpoints_checked"], 5);

    // An auditor's own copy of the keys: a wrong access key fails.
    let events_verifier = data.verifier();
    let wrong = note::Signer::generate("test.mamori.invalid/access")
        .unwrap()
        .verifier();
    let error = data
        .verify_with_keys(&events_verifier, &wrong, |_| {})
        .unwrap_err();
    assert!(error.to_string().starts_with("access log: "), "{error}");
    data.verify_with_keys(&events_verifier, &verifier, |_| {})
        .unwrap();
}

#[test]
fn verify_names_the_edited_access_record() {
    let dir = tempfile::tempdir().unwrap();
    three_records(dir.path());
    sql(
        dir.path(),
        "UPDATE access_log SET target = 'x' WHERE id = 2",
    );
    let mut data = DataDir::open(dir.path()).unwrap();
    let error = verify(&mut data).unwrap_err();
    assert_eq!(error.access_record(), Some(1), "{error}");
    assert_eq!(error.leaf_index(), None, "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with("access log record 1 (row id 2): "),
        "{message}"
    );
    assert!(message.contains("edited"), "{message}");
}

#[test]
fn verify_names_an_access_record_edited_to_another_time() {
    let dir = tempfile::tempdir().unwrap();
    three_records(dir.path());
    sql(
        dir.path(),
        "UPDATE access_log SET time_us = 31 WHERE id = 3",
    );
    let mut data = DataDir::open(dir.path()).unwrap();
    let error = verify(&mut data).unwrap_err();
    assert_eq!(error.access_record(), Some(2), "{error}");
}

#[test]
fn a_deleted_last_access_record_stops_open() {
    let dir = tempfile::tempdir().unwrap();
    three_records(dir.path());
    sql(dir.path(), "DELETE FROM access_log WHERE id = 3");
    let error = DataDir::open(dir.path()).err().unwrap();
    let message = error.to_string();
    assert!(
        message.starts_with("access log record 2 (row id 3): missing from the store"),
        "{message}"
    );
    assert!(message.contains("deleted"), "{message}");
}

#[test]
fn a_deleted_access_record_in_the_middle_fails_verify() {
    let dir = tempfile::tempdir().unwrap();
    three_records(dir.path());
    sql(dir.path(), "DELETE FROM access_log WHERE id = 2");
    let mut data = DataDir::open(dir.path()).unwrap();
    let error = verify(&mut data).unwrap_err();
    assert_eq!(error.access_record(), Some(1), "{error}");
    assert!(error.to_string().contains("missing"), "{error}");
}

#[test]
fn open_appends_the_access_records_a_crash_kept_out_of_the_tiles() {
    let dir = tempfile::tempdir().unwrap();
    three_records(dir.path());
    // As if the process died between committing these rows and appending their leaves.
    sql(
        dir.path(),
        "INSERT INTO access_log(id, time_us, actor, action, target)
             VALUES (4, 40, 'ito', 'cases.show', 'case 2');
         INSERT INTO access_log(id, time_us, actor, action, target)
             VALUES (5, 50, 'ito', 'scores.export', 'scores.csv');",
    );
    let mut data = DataDir::open(dir.path()).unwrap();
    assert_eq!(data.access_ledger().size(), 5);
    assert_eq!(checkpoint_sizes(data.access_ledger()), [0, 1, 2, 3, 5]);
    data.record_access("aoki", "cases.list", "open", 60)
        .unwrap();
    let report = verify(&mut data).unwrap();
    assert_eq!(report.access_records, 6);
}

#[test]
fn open_gives_an_older_data_dir_its_access_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut data = DataDir::init(root, ORIGIN).unwrap();
    data.append_pipelined(Duration::ZERO, |appender| {
        appender.append(&batch(0, 5)).map(|_| ())
    })
    .unwrap();
    let paths = data.paths().clone();
    drop(data);
    // What an older build left: rows in `access_log`, but no access key, origin or ledger.
    std::fs::remove_file(paths.access_key()).unwrap();
    std::fs::remove_file(paths.access_vkey()).unwrap();
    std::fs::remove_dir_all(paths.access_log()).unwrap();
    sql(
        root,
        "DELETE FROM meta WHERE key = 'access_origin';
         INSERT INTO access_log(time_us, actor, action, target)
             VALUES (10, 'mamori init', 'users.add', 'admin (admin)');
         INSERT INTO access_log(time_us, actor, action, target)
             VALUES (20, 'aoki', 'alerts.list', 'all');",
    );

    let mut data = DataDir::open(root).unwrap();
    assert!(paths.access_key().exists() && paths.access_vkey().exists());
    assert_eq!(data.access_origin(), "test.mamori.invalid/access");
    assert_eq!(
        data.store().meta("access_origin").unwrap().as_deref(),
        Some("test.mamori.invalid/access")
    );
    assert_eq!(data.access_ledger().size(), 2);
    assert_eq!(checkpoint_sizes(data.access_ledger()), [2]);
    data.record_access("aoki", "cases.show", "case 1", 30)
        .unwrap();
    let report = verify(&mut data).unwrap();
    assert_eq!((report.leaves, report.access_records), (5, 3));
    drop(data);
    // Upgraded once: opening again changes nothing.
    let data = DataDir::open(root).unwrap();
    assert_eq!(checkpoint_sizes(data.access_ledger()), [2, 3]);
}

#[test]
fn a_lost_access_key_is_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    three_records(dir.path());
    let paths = mamori_store::Paths::new(dir.path());
    std::fs::remove_file(paths.access_key()).unwrap();
    let message = DataDir::open(dir.path()).err().unwrap().to_string();
    assert!(message.contains("access.key is missing"), "{message}");
    assert!(!paths.access_key().exists());
}

#[test]
fn an_origin_without_events_gets_access_appended() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::init(dir.path(), "example.com/log").unwrap();
    assert_eq!(data.access_origin(), "example.com/log/access");
}

#[test]
fn a_busy_appender_signs_at_most_once_a_second_and_always_before_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = DataDir::init(dir.path(), ORIGIN).unwrap();
    let history_before = checkpoint_sizes(data.access_ledger()).len();
    data.append_pipelined(Duration::ZERO, |appender| {
        for n in 0..20 {
            appender.record_access("aoki", "alerts.list", "all", n)?;
        }
        // Twenty reads in well under a second: at most one signature so far.
        std::thread::sleep(mamori_store::ACCESS_SIGN_EVERY);
        // Due now: the pending records get their checkpoint.
        appender.sign_access_if_due()?;
        appender.record_access("aoki", "cases.show", "case 1", 21)?;
        Ok::<_, StoreError>(())
    })
    .unwrap();
    let sizes = checkpoint_sizes(data.access_ledger());
    let signed: Vec<u64> = sizes[history_before..].to_vec();
    assert!(signed.len() <= 3, "{signed:?}");
    assert!(
        signed.contains(&20),
        "the due signature covers the twenty: {signed:?}"
    );
    // The appender's end signs the last record.
    assert_eq!(signed.last(), Some(&21));
    assert_eq!(data.access_ledger().size(), 21);
    verify(&mut data).unwrap();
}
