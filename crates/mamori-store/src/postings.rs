//! Posting lists: the account and kind indexes of the event table.
//!
//! An index entry per event and per index costs about 2 µs in SQLite (a B-tree descent and a
//! cell insert), more than parsing the event. Instead the store collects the postings of
//! 262,144 events in memory, then adds one row per account and one per kind they contain —
//! `postings(dimension, key_id, first_us, last_us, count, data)` — whose `data` lists that
//! key's events as `(time_us, leaf_index)` pairs sorted by time; an import writes what is left
//! when it ends, `mamori serve` when it has been idle for a moment. (One row per key and 16,384-event batch, as first built, rewrote most of the
//! key-ordered index in every commit.) A query reads the rows of its key whose time span
//! overlaps the asked range (index `(dimension, key_id, last_us)`) and the event rows from
//! leaf `meta.postings_through` on (not in postings yet: a running import's, or a crashed
//! one's until the next flush), then fetches the events by leaf index.
//!
//! `data` encoding, per pair in order: the time as an unsigned LEB128 delta from the previous
//! pair's time (the first from `first_us`), then the leaf index as a zigzag LEB128 delta from
//! the previous pair's leaf (the first from 0). About 4 bytes per event.

/// What a posting row indexes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Dimension {
    Account = 1,
    Kind = 2,
}

/// One key's events in one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Postings {
    /// `(time_us, leaf_index)`, sorted.
    pub pairs: Vec<(i64, i64)>,
}

impl Postings {
    pub fn first_us(&self) -> i64 {
        self.pairs.first().map_or(0, |p| p.0)
    }

    pub fn last_us(&self) -> i64 {
        self.pairs.last().map_or(0, |p| p.0)
    }

    /// The `data` column. `pairs` must be sorted.
    pub fn encode(&self) -> Vec<u8> {
        debug_assert!(self.pairs.is_sorted());
        let mut data = Vec::with_capacity(self.pairs.len() * 5);
        let (mut time, mut leaf) = (self.first_us(), 0i64);
        for &(t, l) in &self.pairs {
            put_varint(&mut data, t.wrapping_sub(time) as u64);
            put_varint(&mut data, zigzag(l.wrapping_sub(leaf)));
            (time, leaf) = (t, l);
        }
        data
    }

    /// Decodes `count` pairs from `data` (as written by [`Postings::encode`] with this
    /// `first_us`). Damaged data is an error, never a panic.
    pub fn decode(first_us: i64, count: usize, data: &[u8]) -> Result<Postings, String> {
        // A pair takes at least 2 bytes: bound the allocation by the data, not the claim.
        let mut pairs = Vec::with_capacity(count.min(data.len() / 2));
        let (mut time, mut leaf) = (first_us, 0i64);
        let mut rest = data;
        for _ in 0..count {
            let dt = take_varint(&mut rest).ok_or("truncated time")?;
            let dl = take_varint(&mut rest).ok_or("truncated leaf index")?;
            time = time.wrapping_add(dt as i64);
            leaf = leaf.wrapping_add(unzigzag(dl));
            pairs.push((time, leaf));
        }
        if !rest.is_empty() {
            return Err(format!("{} trailing bytes", rest.len()));
        }
        Ok(Postings { pairs })
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take_varint(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &byte) in input.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *input = &input[i + 1..];
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_example() {
        let postings = Postings {
            pairs: vec![(1_000, 7), (1_000, 9), (2_500, 3)],
        };
        let data = postings.encode();
        // dt 0, leaf +7 (14); dt 0, +2 (4); dt 1500 (2 bytes), -6 (11).
        assert_eq!(data, [0, 14, 0, 4, 0xdc, 0x0b, 11]);
        assert_eq!(Postings::decode(1_000, 3, &data).unwrap(), postings);
        assert!(Postings::decode(1_000, 4, &data).is_err());
        assert!(Postings::decode(1_000, 2, &data).is_err());
        assert!(Postings::decode(1_000, 3, &data[..6]).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(mut pairs in proptest::collection::vec((any::<i64>(), any::<i64>()), 0..200)) {
            pairs.sort_unstable();
            let postings = Postings { pairs };
            let data = postings.encode();
            let decoded = Postings::decode(postings.first_us(), postings.pairs.len(), &data).unwrap();
            prop_assert_eq!(decoded, postings);
        }

        #[test]
        fn arbitrary_data_never_panics(first in any::<i64>(), count in 0usize..100, data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Postings::decode(first, count, &data);
        }
    }
}
