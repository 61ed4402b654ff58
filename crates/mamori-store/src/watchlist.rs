//! Reads for the departing-employee watch list (docs/watchlist.md): every HR version of every
//! person (the list is decided per version in force), and one person's events through the
//! account index, streamed in chunks so that a long history never sits in memory at once.

use crate::{EventStore, Result, StoreError};

/// Events read per query while streaming a person's history: large enough to amortise the
/// statement, small enough that a chunk of bodies stays a few megabytes.
const CHUNK_EVENTS: usize = 2_048;

impl EventStore {
    /// The time of the earliest stored event (µs), if any: where the store's knowledge of
    /// anyone begins, so that a baseline does not count the days before it as quiet ones.
    pub fn first_event_time_us(&self) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT MIN(time_us) FROM events", [], |row| row.get(0))?)
    }

    /// Calls `visit(leaf_index, json)` for every event of `accounts` whose time is in
    /// `[from_us, to_us)`, in leaf order, each event once (`json` is `None` once retention
    /// purged it). Leaves come from the account postings; bodies are read [`CHUNK_EVENTS`] at a
    /// time, so memory holds the leaf numbers (8 bytes an event) and one chunk of bodies.
    pub fn for_each_event_of_accounts<E: From<StoreError>>(
        &self,
        accounts: &[String],
        from_us: i64,
        to_us: i64,
        mut visit: impl FnMut(u64, Option<&[u8]>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut leaves = Vec::new();
        for account in accounts {
            leaves.extend(self.leaves_of_account(account, from_us, to_us)?);
        }
        // Two accounts never share a leaf, but the same account may be listed twice.
        leaves.sort_unstable();
        leaves.dedup();
        for chunk in leaves.chunks(CHUNK_EVENTS) {
            for event in self.events_at(chunk)? {
                visit(event.leaf_index, event.json.as_deref())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::NewEvent;

    fn new_event(n: u64, account: &str, time_us: i64) -> NewEvent {
        let json = format!(r#"{{"n":{n},"account":"{account}"}}"#).into_bytes();
        let mut identity = [0u8; 32];
        identity[..8].copy_from_slice(&n.to_be_bytes());
        NewEvent {
            identity,
            entry: [n as u8; 32],
            time_us,
            kind: "file.copy",
            account: account.to_string(),
            json,
        }
    }

    #[test]
    fn a_persons_events_stream_in_leaf_order_across_accounts_and_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        assert_eq!(store.first_event_time_us().unwrap(), None);
        let total = CHUNK_EVENTS as u64 * 2 + 5;
        let batch: Vec<NewEvent> = (0..total)
            .map(|n| {
                let account = ["a1", "a2", "other"][(n % 3) as usize];
                new_event(n, account, 1_000 + n as i64)
            })
            .collect();
        store.insert_batch(&batch).unwrap();
        let mut seen = Vec::new();
        store
            .for_each_event_of_accounts::<StoreError>(
                &["a2".into(), "a1".into(), "a1".into()],
                1_000,
                1_000 + total as i64 - 5,
                |leaf, json| {
                    assert!(json.is_some());
                    seen.push(leaf);
                    Ok(())
                },
            )
            .unwrap();
        let expected: Vec<u64> = (0..total - 5).filter(|n| n % 3 != 2).collect();
        assert_eq!(seen, expected);
        assert_eq!(store.first_event_time_us().unwrap(), Some(1_000));
    }
}
