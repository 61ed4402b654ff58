//! The history pass's input: every stored event of a time range, parsed, in time order.
//!
//! Reading a row and its body and parsing the JSON costs about as much as what `analyze` or
//! `rules run` then does with the event, so the work runs on three threads: the store is
//! scanned on the calling thread (a SQLite connection is not `Sync`, so the scan stays where
//! the store lives), the bodies are parsed on a second, and the caller's `each` runs on a
//! third, each fed batches over a bounded channel. Parsing apart from reading keeps both
//! cores busy: with the two on one thread, that thread was the longer of two. The worker sees
//! the events one at a time in exactly the store's time order.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use mamori_event::Event;
use mamori_store::DataDir;

/// Events per message: large enough that the channel's synchronisation is noise, small
/// enough that the worker starts at once and memory stays a few megabytes.
const BATCH_EVENTS: usize = 1024;

/// Full batches that may wait for the worker; with the one being filled and the one being
/// worked on, this bounds the memory while letting either side run ahead for a moment.
const BATCHES_IN_FLIGHT: usize = 4;

/// One stored event: its ledger leaf, the stored time (microseconds) and the parsed event.
pub struct Scanned {
    pub leaf: u64,
    pub time_us: i64,
    pub event: Event,
}

/// What the scan read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanTotals {
    /// Events parsed and given to `each`.
    pub events: u64,
    /// Stored bodies that did not parse as events (purged bodies are not counted).
    pub unreadable: u64,
}

/// Calls `each` for every event stored with a time in `[from_us, to_us)`, in time order, on a
/// worker thread while this thread reads and parses the next ones. Stops at the first error
/// of `each` or of the store and returns it.
pub fn scan_events<F>(
    data: &DataDir,
    from_us: i64,
    to_us: i64,
    mut each: F,
) -> anyhow::Result<ScanTotals>
where
    F: FnMut(Scanned) -> anyhow::Result<()> + Send,
{
    let (raw_sender, raw_receiver) = sync_channel::<Bodies>(BATCHES_IN_FLIGHT);
    let (sender, receiver) = sync_channel::<Vec<Scanned>>(BATCHES_IN_FLIGHT);
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || consume(receiver, &mut each));
        let parser = scope.spawn(move || parse(raw_receiver, sender));
        let read = read(data, from_us, to_us, raw_sender);
        let parsed = parser.join();
        let consumed = match worker.join() {
            Ok(consumed) => consumed,
            // A panic in `each` is a bug in the caller: let it carry on as a panic.
            Err(panic) => std::panic::resume_unwind(panic),
        };
        // The worker's own error first: when it stops, the others only see a closed channel.
        consumed?;
        let totals = match parsed {
            Ok(totals) => totals,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        read?;
        Ok(totals)
    })
}

/// Stored bodies in time order: `(leaf, time_us, end)` per event, the event's JSON being
/// `bytes[previous end..end]`.
struct Bodies {
    events: Vec<(u64, i64, usize)>,
    bytes: Vec<u8>,
}

impl Bodies {
    fn new() -> Bodies {
        Bodies {
            events: Vec::with_capacity(BATCH_EVENTS),
            bytes: Vec::with_capacity(BATCH_EVENTS * 512),
        }
    }
}

/// The worker: hands every event of every batch to `each`, in order. Returning (on an error)
/// drops the receiver, which stops the scan at its next send.
fn consume<F>(receiver: Receiver<Vec<Scanned>>, each: &mut F) -> anyhow::Result<()>
where
    F: FnMut(Scanned) -> anyhow::Result<()>,
{
    for batch in receiver {
        for scanned in batch {
            each(scanned)?;
        }
    }
    Ok(())
}

/// Raised inside the scan when the worker has gone away; the worker's error is the one reported.
#[derive(Debug, thiserror::Error)]
#[error("the history worker stopped")]
struct WorkerStopped;

/// The calling thread's part: scan and send the bodies in batches. Dropping `sender` at the
/// end tells the others that the history is complete.
fn read(
    data: &DataDir,
    from_us: i64,
    to_us: i64,
    sender: SyncSender<Bodies>,
) -> anyhow::Result<()> {
    let mut batch = Bodies::new();
    data.store()
        .scan_by_time(from_us, to_us, |leaf, time_us, json| {
            let Some(json) = json else {
                return Ok::<_, anyhow::Error>(()); // purged by retention: nothing to read
            };
            batch.bytes.extend_from_slice(json);
            batch.events.push((leaf, time_us, batch.bytes.len()));
            if batch.events.len() == BATCH_EVENTS {
                let full = std::mem::replace(&mut batch, Bodies::new());
                sender.send(full).map_err(|_| WorkerStopped)?;
            }
            Ok(())
        })?;
    if !batch.events.is_empty() {
        sender.send(batch).map_err(|_| WorkerStopped)?;
    }
    Ok(())
}

/// The parsing thread: bodies in, events out, in the same order. Returns when the reader is
/// done or the worker has stopped.
fn parse(receiver: Receiver<Bodies>, sender: SyncSender<Vec<Scanned>>) -> ScanTotals {
    let mut totals = ScanTotals::default();
    for bodies in receiver {
        let mut batch = Vec::with_capacity(bodies.events.len());
        let mut start = 0;
        for &(leaf, time_us, end) in &bodies.events {
            let json = &bodies.bytes[start..end];
            start = end;
            let Ok(event) = Event::from_json(json) else {
                totals.unreadable += 1;
                continue;
            };
            totals.events += 1;
            batch.push(Scanned {
                leaf,
                time_us,
                event,
            });
        }
        if sender.send(batch).is_err() {
            break;
        }
    }
    totals
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn data_with(events: &[(i64, &str)]) -> (tempfile::TempDir, DataDir) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        let mut data = DataDir::init(&root, "test.mamori.invalid/events").unwrap();
        let mut lines = String::new();
        for (second, user) in events {
            let time = jiff::Timestamp::from_second(*second).unwrap();
            lines.push_str(&format!(
                r#"{{"time":"{time}","kind":"logon","actor":{{"user":"{user}"}},"outcome":"success"}}"#
            ));
            lines.push('\n');
        }
        let input = dir.path().join("events.ndjson");
        std::fs::write(&input, lines).unwrap();
        let source = crate::import::open_ndjson(&input).unwrap();
        mamori_ingest::import(&mut data, source, &mut |_| {}).unwrap();
        (dir, data)
    }

    #[test]
    fn events_arrive_in_time_order_across_batches() {
        // More than two batches, stored out of time order.
        let count = 2 * BATCH_EVENTS as i64 + 7;
        let times: Vec<(i64, String)> = (0..count)
            .map(|i| (1_700_000_000 + (i * 7919) % count, format!("U{i}")))
            .collect();
        let events: Vec<(i64, &str)> = times.iter().map(|(t, u)| (*t, u.as_str())).collect();
        let (_dir, data) = data_with(&events);
        let mut seen = Vec::new();
        let totals = scan_events(&data, i64::MIN, i64::MAX, |scanned| {
            assert_eq!(scanned.event.time.as_microsecond(), scanned.time_us);
            seen.push(scanned.time_us);
            Ok(())
        })
        .unwrap();
        assert_eq!(totals.events, count as u64);
        assert_eq!(totals.unreadable, 0);
        assert_eq!(seen.len(), count as usize);
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "time order");
    }

    #[test]
    fn the_range_is_half_open() {
        let (_dir, data) = data_with(&[(100, "A"), (200, "B"), (300, "C")]);
        let mut users = Vec::new();
        let totals = scan_events(&data, 100_000_000, 300_000_000, |scanned| {
            users.push(scanned.event.actor.user);
            Ok(())
        })
        .unwrap();
        assert_eq!(users, ["A", "B"]);
        assert_eq!(totals.events, 2);
    }

    #[test]
    fn an_error_of_each_stops_the_scan_and_is_returned() {
        let events: Vec<(i64, String)> = (0..3 * BATCH_EVENTS as i64)
            .map(|i| (1_700_000_000 + i, format!("U{i}")))
            .collect();
        let events: Vec<(i64, &str)> = events.iter().map(|(t, u)| (*t, u.as_str())).collect();
        let (_dir, data) = data_with(&events);
        let mut calls = 0;
        let error = scan_events(&data, i64::MIN, i64::MAX, |_| {
            calls += 1;
            anyhow::ensure!(calls < 10, "enough");
            Ok(())
        })
        .unwrap_err();
        assert_eq!(error.to_string(), "enough");
        assert_eq!(calls, 10);
    }
}
