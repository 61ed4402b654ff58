//! `EvtxSource` on real Windows event logs: SigmaHQ's regression data, read in place from
//! `/work/shared/testdata/sigma/regression_data` (its licence is unclear, so it is not copied
//! into the repository). Tests that need it print a note and pass when it is absent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mamori_event::{Event, Kind};
use mamori_ingest::{EvtxSource, Rejected, Source};

const REGRESSION_DATA: &str = "/work/shared/testdata/sigma/regression_data";

fn regression_files() -> Option<Vec<PathBuf>> {
    let root = Path::new(REGRESSION_DATA);
    if !root.is_dir() {
        eprintln!("note: {REGRESSION_DATA} is missing; skipping the real-file test");
        return None;
    }
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "evtx") {
                files.push(path);
            }
        }
    }
    files.sort();
    Some(files)
}

fn read_all(path: &Path) -> (Vec<Event>, Vec<Rejected>) {
    let mut source = EvtxSource::open(path).unwrap();
    let (mut events, mut rejected) = (Vec::new(), Vec::new());
    while let Some(record) = source.next_record() {
        match record.unwrap() {
            Ok(event) => events.push(event),
            Err(bad) => rejected.push(bad),
        }
    }
    (events, rejected)
}

/// What the `evtx` crate itself reads from the file: records and errors.
fn crate_record_count(path: &Path) -> usize {
    let mut parser = evtx::EvtxParser::from_path(path).unwrap();
    parser.records_json_value().count()
}

#[test]
fn every_record_of_every_file_becomes_an_event_or_a_rejection() {
    let Some(files) = regression_files() else {
        return;
    };
    assert!(files.len() > 100, "{} files", files.len());
    let mut total = 0;
    for path in &files {
        let (events, rejected) = read_all(path);
        assert_eq!(
            events.len() + rejected.len(),
            crate_record_count(path),
            "{}",
            path.display()
        );
        assert!(rejected.is_empty(), "{}: {:?}", path.display(), rejected);
        for event in &events {
            assert!(!event.actor.user.is_empty());
            let source = event.source.as_ref().unwrap();
            assert_eq!(source.name.as_deref(), Some("evtx"));
            let channel = event.raw["Channel"].as_str().unwrap();
            assert!(source.reference.as_deref().unwrap().starts_with(channel));
            assert!(event.raw["EventID"].is_u64());
            assert!(event.raw.contains_key("Provider"));
        }
        total += events.len();
    }
    eprintln!("{} files, {total} records", files.len());
}

#[test]
fn known_security_and_sysmon_ids_map_to_their_kinds() {
    let Some(files) = regression_files() else {
        return;
    };
    let expected: BTreeMap<(&str, u64), Kind> = [
        (("Security", 4624), Kind::Logon),
        (("Security", 4625), Kind::LogonFailed),
        (("Security", 4634), Kind::Logoff),
        (("Security", 4688), Kind::ProcessStart),
        (("Security", 4720), Kind::AccountCreate),
        (("Security", 4726), Kind::AccountDelete),
        (("Security", 4732), Kind::AccountGroupAdd),
        (("Security", 5145), Kind::FileOpen),
        (
            ("Microsoft-Windows-Sysmon/Operational", 1),
            Kind::ProcessStart,
        ),
        (("Microsoft-Windows-Sysmon/Operational", 3), Kind::LogRecord),
        (
            ("Microsoft-Windows-Sysmon/Operational", 11),
            Kind::FileCreate,
        ),
        (
            ("Microsoft-Windows-Sysmon/Operational", 13),
            Kind::LogRecord,
        ),
        (
            ("Microsoft-Windows-Sysmon/Operational", 23),
            Kind::FileDelete,
        ),
    ]
    .into_iter()
    .collect();
    let mut seen: BTreeMap<(String, u64), (Kind, usize)> = BTreeMap::new();
    for path in &files {
        for event in read_all(path).0 {
            let channel = event.raw["Channel"].as_str().unwrap().to_string();
            let id = event.raw["EventID"].as_u64().unwrap();
            if let Some(kind) = expected.get(&(channel.as_str(), id)) {
                assert_eq!(event.kind, *kind, "{channel} {id} in {}", path.display());
                if *kind == Kind::ProcessStart {
                    assert!(event.object.as_ref().unwrap().path.is_some());
                }
            }
            seen.entry((channel, id)).or_insert((event.kind, 0)).1 += 1;
        }
    }
    for ((channel, id), (kind, count)) in &seen {
        eprintln!("{channel} {id}: {kind:?} x{count}");
    }
    let sysmon_processes = &("Microsoft-Windows-Sysmon/Operational".to_string(), 1);
    assert!(seen.contains_key(sysmon_processes));
}

#[test]
fn a_file_that_is_not_evtx_is_one_rejection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.evtx");
    std::fs::write(&path, "this is a text file, not an event log\n").unwrap();
    let (events, rejected) = read_all(&path);
    assert!(events.is_empty());
    assert_eq!(rejected.len(), 1);
    assert!(
        rejected[0].reason.starts_with("not an EVTX file"),
        "{}",
        rejected[0].reason
    );
    assert_eq!(rejected[0].location.file, path.display().to_string());
}

#[test]
fn truncated_and_garbled_files_yield_rejections_not_panics() {
    let Some(files) = regression_files() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(&files[0]).unwrap();

    let truncated = dir.path().join("truncated.evtx");
    std::fs::write(&truncated, &original[..4096 + 30_000]).unwrap();
    let (_, rejected) = read_all(&truncated);
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(
        rejected[0].reason.contains("truncated file"),
        "{}",
        rejected[0].reason
    );

    // Garbage over many places in the chunk: whatever comes out, the reader never panics.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let garbled = dir.path().join("garbled.evtx");
    for _ in 0..200 {
        let mut bytes = original.clone();
        for _ in 0..8 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = 4096 + (seed as usize % (bytes.len() - 4096));
            bytes[at] = (seed >> 32) as u8;
        }
        std::fs::write(&garbled, &bytes).unwrap();
        let (events, rejected) = read_all(&garbled);
        for bad in &rejected {
            assert!(!bad.reason.is_empty());
        }
        drop(events);
    }
}

/// `cargo test --release -p mamori-ingest --test evtx -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, not a check"]
fn parsing_throughput() {
    let Some(files) = regression_files() else {
        return;
    };
    let rounds = 20;
    let start = std::time::Instant::now();
    let mut records = 0;
    for _ in 0..rounds {
        for path in &files {
            let (events, rejected) = read_all(path);
            records += events.len() + rejected.len();
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    eprintln!(
        "{} files x {rounds}: {records} records in {seconds:.2} s, {:.0} records/s",
        files.len(),
        records as f64 / seconds
    );
}
