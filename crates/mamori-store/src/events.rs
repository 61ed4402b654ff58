//! The event store: one SQLite row per ledger leaf, and the event bodies beside it (`bodies`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use foldhash::fast::RandomState;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::bodies::{Bodies, BodyRange, BodyWindow};
use crate::postings::{Dimension, Postings};
use crate::{Result, StoreError};

/// Bumped whenever the schema changes; `open` refuses a database of another version.
const SCHEMA_VERSION: i64 = 3;

/// Bytes of the identity kept for de-duplication: a false duplicate needs the same microsecond
/// and the same 128-bit prefix (2^64 work even for someone choosing the events), and each
/// byte less is a byte less in every index entry.
const IDENTITY_BYTES: usize = 16;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- One row per ledger leaf. The canonical JSON whose SHA-256 is `entry` is line `leaf_index` of
-- the bodies file (module `bodies`), at bytes [body_at, body_at + body_len). Retention may later
-- erase a body (setting `purged_us`) but never touches `entry`, so proofs stay valid.
CREATE TABLE IF NOT EXISTS events (
    leaf_index INTEGER PRIMARY KEY,
    entry      BLOB NOT NULL,
    identity   BLOB NOT NULL,
    time_us    INTEGER NOT NULL,
    kind_id    INTEGER NOT NULL, -- names.id
    account_id INTEGER NOT NULL, -- names.id
    body_at    INTEGER NOT NULL,
    body_len   INTEGER NOT NULL,
    purged_us  INTEGER
);
-- Accounts and kinds are interned: small integer keys keep the secondary indexes a fraction of
-- the size of text keys, which is most of the cost of an insert.
CREATE TABLE IF NOT EXISTS names (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
-- The identity already covers the time, so unique (time, identity) is unique identity. Leading
-- with the time keeps inserts of time-ordered input near the end of the index instead of on
-- random pages (a random key costs a page write per event once the index outgrows the
-- cache), and the same index serves time-range queries.
CREATE UNIQUE INDEX IF NOT EXISTS events_time_identity ON events(time_us, identity);
-- The account and kind indexes: one row per key and flush of the pending postings (module
-- `postings`); the events from leaf meta 'postings_through' on are not in them yet.
CREATE TABLE IF NOT EXISTS postings (
    id        INTEGER PRIMARY KEY,
    dimension INTEGER NOT NULL, -- 1 account, 2 kind
    key_id    INTEGER NOT NULL, -- names.id
    first_us  INTEGER NOT NULL,
    last_us   INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    data      BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS postings_key_time ON postings(dimension, key_id, last_us);
";

/// An event ready to be stored: already canonicalised and hashed by the caller.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// SHA-256 of the canonical JSON without its nonce: equal events have equal identities.
    pub identity: [u8; 32],
    /// SHA-256 of `json`: the ledger entry.
    pub entry: [u8; 32],
    pub time_us: i64,
    pub kind: &'static str,
    pub account: String,
    /// The canonical JSON, including the nonce.
    pub json: Vec<u8>,
}

/// What happened to a batch: the new leaves in order, and which inputs were already stored.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// `(leaf_index, entry)` of every newly stored event, in leaf order.
    pub appended: Vec<(u64, [u8; 32])>,
    /// Positions in the batch of events whose identity was already stored.
    pub duplicates: Vec<usize>,
}

/// A stored event as read back.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub leaf_index: u64,
    pub entry: [u8; 32],
    /// `None` once retention purged the event (its entry stays in the ledger).
    pub json: Option<Vec<u8>>,
}

/// The SQLite database of events.
pub struct EventStore {
    pub(crate) conn: Connection,
    path: std::path::PathBuf,
    pub(crate) bodies: Bodies,
    /// The bodies of the batch being stored, each followed by a newline (kept for its capacity).
    lines: Vec<u8>,
    next_leaf: u64,
    /// Interned account and kind names; filled lazily, never evicted (one entry per account).
    name_ids: HashMap<String, i64, RandomState>,
    /// While commits leave checkpoints to a [`WalCheckpointer`]: the frames in the WAL after
    /// the last commit (SQLite's WAL hook reports them). `None` while SQLite's autocheckpoint
    /// copies the WAL on commit.
    wal_frames: Option<Arc<AtomicI32>>,
    /// [`MAX_WAL_FRAMES`], lowered by tests.
    max_wal_frames: i32,
    /// Whether the last batch held events stored already (see [`EventStore::insert_batch`]).
    last_had_duplicates: bool,
    /// Postings of the leaves from `postings_through` on, not yet written. `None` after a
    /// failed write: read again from the event rows before the next batch.
    pending: Option<BatchIndex>,
    postings_through: u64,
    /// [`POSTINGS_FLUSH_EVENTS`], lowered by tests.
    flush_events: usize,
}

/// Events whose postings wait in memory before they are written as rows. Writing one row per
/// key and batch touched most pages of the postings index in every commit (the rows are
/// ordered by key): at 25 M events that was 25 GB of extra WAL and a fifth of a CERT import's
/// time. Queries read the events past the last flush from the event rows instead.
const POSTINGS_FLUSH_EVENTS: usize = 1 << 18;
/// Meta key: the first leaf whose postings are not written yet.
const POSTINGS_THROUGH: &str = "postings_through";

/// SQLite's autocheckpoint threshold on the writing connection, in pages (64 MiB).
const AUTOCHECKPOINT_PAGES: i64 = 4096;
/// Largest WAL tolerated while commits leave checkpoints to a [`WalCheckpointer`], in frames
/// (1 GiB of 16 KiB pages).
const MAX_WAL_FRAMES: i32 = 65_536;

/// Copies the WAL into the database file from its own connection, so that the writer's
/// commits don't (it takes a second core instead of stalling the writer, fsync included).
pub(crate) struct WalCheckpointer {
    conn: Connection,
}

impl WalCheckpointer {
    /// Checkpoints as much of the WAL as readers allow, without blocking the writer. (Run
    /// after every batch: measured against waiting for 32 MiB or 256 MiB of WAL, copying
    /// little and often stalls the writer least.)
    pub fn run(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }
}

impl EventStore {
    pub fn open(path: &Path) -> Result<EventStore> {
        let mut conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA page_size=16384;
             PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             PRAGMA foreign_keys=ON;
             PRAGMA cache_size=-65536;
             PRAGMA temp_store=MEMORY;",
        )?;
        conn.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(crate::people::SCHEMA)?;
        conn.execute_batch(crate::findings::SCHEMA)?;
        // Tables of older builds gain columns in place (within the same schema version: old
        // rows stay valid), all or none.
        let tx = conn.transaction()?;
        tx.execute_batch(crate::alerts::SCHEMA)?;
        crate::alerts::upgrade(&tx)?;
        crate::findings::upgrade(&tx)?;
        tx.execute_batch(crate::cases::SCHEMA)?;
        tx.execute_batch(crate::access::SCHEMA)?;
        tx.execute_batch(crate::auth::SCHEMA)?;
        tx.execute_batch(crate::approvals::SCHEMA)?;
        tx.execute_batch(crate::rule_settings::SCHEMA)?;
        tx.execute_batch(crate::inventory::SCHEMA)?;
        tx.execute_batch(crate::scim::SCHEMA)?;
        tx.execute_batch(crate::review::SCHEMA)?;
        tx.execute_batch(crate::mail_links::SCHEMA)?;
        tx.commit()?;
        let version: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key='schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        match version.as_deref().map(str::parse::<i64>) {
            None => {
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION.to_string()],
                )?;
            }
            Some(Ok(v)) if v == SCHEMA_VERSION => {}
            Some(other) => {
                return Err(StoreError::Corrupt(format!(
                    "{}: unsupported schema version {other:?} (this build reads {SCHEMA_VERSION})",
                    path.display()
                )));
            }
        }
        let next_leaf = next_leaf_index(&conn)?;
        let bodies = Bodies::open(&path.with_extension("ndjson"), bodies_end(&conn)?)?;
        // Stores of older builds wrote the postings of every batch: all are written.
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES (?1, ?2)",
            params![POSTINGS_THROUGH, next_leaf.to_string()],
        )?;
        let postings_through = postings_through(&conn)?;
        Ok(EventStore {
            conn,
            path: path.to_path_buf(),
            bodies,
            lines: Vec::new(),
            next_leaf,
            name_ids: HashMap::default(),
            wal_frames: None,
            max_wal_frames: MAX_WAL_FRAMES,
            last_had_duplicates: false,
            pending: None,
            postings_through,
            flush_events: POSTINGS_FLUSH_EVENTS,
        })
    }

    /// Reads through a memory map of up to `bytes` of the database instead of copying pages
    /// (faster whole-store scans; the mapped pages are the page cache's, not extra memory).
    pub fn map_for_reading(&self, bytes: u64) -> Result<()> {
        self.conn
            .pragma_update(None, "mmap_size", bytes.min(i64::MAX as u64) as i64)?;
        Ok(())
    }

    /// The number of leaves the store holds (= the next leaf index).
    pub fn size(&self) -> u64 {
        self.next_leaf
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key=?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// Stores a batch in one transaction, assigning consecutive leaf indices to the events whose
    /// identity is new, and indexes them by account and kind. Atomic when this returns; durable
    /// against power loss after the next file-system sync (`DataDir::checkpoint`), since the WAL
    /// runs with `synchronous=NORMAL` (the bodies themselves are synced before the commit).
    pub fn insert_batch(&mut self, batch: &[NewEvent]) -> Result<BatchOutcome> {
        let mut pending = match self.pending.take() {
            Some(pending) => pending,
            None => unwritten_postings(&self.conn, self.postings_through)?,
        };
        let EventStore {
            conn,
            bodies,
            lines,
            name_ids,
            ..
        } = self;
        // Usually no event of a batch is stored already. Then its bodies are written before its
        // rows and synced on another thread while SQLite inserts the rows, overlapping the
        // fdatasync with the inserts. After a batch with duplicates (a re-import, say), only
        // the new events' bodies are written, once the rows show which they are.
        let early = !self.last_had_duplicates;
        lines.clear();
        if early {
            for event in batch {
                push_line(lines, &event.json);
            }
            bodies.write(lines)?;
        }
        let bodies = &*bodies;
        let (tx, outcome, index) = std::thread::scope(|scope| {
            let syncing = early.then(|| scope.spawn(|| bodies.sync()));
            let inserted = insert_rows(conn, name_ids, self.next_leaf, bodies.end(), batch);
            if let Some(syncing) = syncing {
                syncing
                    .join()
                    .unwrap_or_else(|_| Err(StoreError::Corrupt("fdatasync panicked".into())))?;
            }
            inserted
        })?;
        let bodies = &mut self.bodies;
        if !early || !outcome.duplicates.is_empty() {
            lines.clear();
            let mut duplicates = outcome.duplicates.iter().peekable();
            for (position, event) in batch.iter().enumerate() {
                if duplicates.next_if_eq(&&position).is_none() {
                    push_line(lines, &event.json);
                }
            }
            bodies.write(lines)?;
            bodies.sync()?;
        }
        pending.extend(index);
        let next_leaf = self.next_leaf + outcome.appended.len() as u64;
        let flush = pending.events >= self.flush_events;
        if flush {
            std::mem::take(&mut pending).store(&tx)?;
            set_postings_through(&tx, next_leaf)?;
        }
        if let Err(error) = tx.commit() {
            // Names interned in the rolled-back transaction are gone from the database.
            self.name_ids.clear();
            return Err(error.into());
        }
        bodies.committed(lines.len() as u64);
        if flush {
            self.postings_through = next_leaf;
        }
        self.pending = Some(pending);
        self.next_leaf = next_leaf;
        self.last_had_duplicates = !outcome.duplicates.is_empty();
        self.bound_wal()?;
        Ok(outcome)
    }

    /// Syncs the WAL at every commit (`synchronous=FULL`), so that a committed batch survives
    /// a power loss at once and not only after the next checkpoint: for senders that delete
    /// what was acknowledged.
    pub fn sync_every_commit(&self) -> Result<()> {
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(())
    }

    /// The leaf of the stored event with this time and identity (what a duplicate was stored
    /// as).
    pub fn leaf_of(&self, time_us: i64, identity: &[u8; 32]) -> Result<Option<u64>> {
        let leaf: Option<i64> = self
            .conn
            .prepare_cached("SELECT leaf_index FROM events WHERE time_us = ?1 AND identity = ?2")?
            .query_row(params![time_us, &identity[..IDENTITY_BYTES]], |r| r.get(0))
            .optional()?;
        Ok(leaf.and_then(|leaf| u64::try_from(leaf).ok()))
    }

    /// Writes the postings still held in memory (an import does at its end; until then, and
    /// after a crash, queries find those events from the event rows).
    pub fn flush_postings(&mut self) -> Result<()> {
        let pending = match self.pending.take() {
            Some(pending) => pending,
            None => unwritten_postings(&self.conn, self.postings_through)?,
        };
        if pending.events > 0 {
            let tx = self.conn.transaction()?;
            pending.store(&tx)?;
            set_postings_through(&tx, self.next_leaf)?;
            tx.commit()?;
            self.postings_through = self.next_leaf;
        }
        self.pending = Some(BatchIndex::default());
        Ok(())
    }

    /// Stops (`false`) or restarts (`true`) copying the WAL into the database file on this
    /// connection's commits — while a [`WalCheckpointer`] does it on another thread. The WAL
    /// is still bounded: past [`MAX_WAL_FRAMES`] a commit checkpoints here anyway.
    pub(crate) fn checkpoint_on_commit(&mut self, enabled: bool) -> Result<()> {
        if enabled {
            // Replaces the frame-counting hook: autocheckpoint is itself a WAL hook.
            self.conn
                .pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)?;
            self.wal_frames = None;
        } else {
            self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            let frames = Arc::new(AtomicI32::new(0));
            let counter = Arc::clone(&frames);
            self.conn
                .wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages| {
                    counter.store(pages, Ordering::Relaxed);
                    Ok(())
                }))?;
            self.wal_frames = Some(frames);
        }
        Ok(())
    }

    /// A second connection to this database that checkpoints the WAL.
    pub(crate) fn wal_checkpointer(&self) -> Result<WalCheckpointer> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        Ok(WalCheckpointer { conn })
    }

    /// When commits do not checkpoint, keeps the WAL from growing without bound: a
    /// checkpointer on another thread can fall behind a writer that never pauses, and the WAL
    /// only starts over when a transaction begins with every frame copied.
    fn bound_wal(&self) -> Result<()> {
        let Some(frames) = &self.wal_frames else {
            return Ok(());
        };
        // Counted in frames, not by the file's size: SQLite reuses the WAL file from its start
        // without shrinking it, so its size only ever grows.
        if frames.load(Ordering::Relaxed) > self.max_wal_frames {
            // Between this connection's transactions nothing is added to the WAL, so this
            // checkpoint completes and the next commit starts the WAL over.
            self.conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        }
        Ok(())
    }

    /// Calls `visit(leaf_index, entry, json)` for every stored leaf in `range`, in leaf order,
    /// lending the body's bytes instead of copying them (`json` is `None` once retention purged
    /// the event).
    pub fn scan_range<E: From<StoreError>>(
        &self,
        range: std::ops::Range<u64>,
        mut visit: impl FnMut(u64, &[u8; 32], Option<&[u8]>) -> Result<(), E>,
    ) -> Result<(), E> {
        let (start, end) = (
            i64::try_from(range.start).unwrap_or(i64::MAX),
            i64::try_from(range.end).unwrap_or(i64::MAX),
        );
        let sqlite = |e: rusqlite::Error| E::from(StoreError::from(e));
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM events
                 WHERE leaf_index >= ?1 AND leaf_index < ?2 ORDER BY leaf_index"
            ))
            .map_err(sqlite)?;
        let mut rows = stmt.query([start, end]).map_err(sqlite)?;
        let mut window = self.bodies.window(SCAN_READ_AHEAD);
        while let Some(row) = rows.next().map_err(sqlite)? {
            let row = EventRow::read(row)?;
            visit(row.leaf_index, &row.entry, row.body(&mut window)?)?;
        }
        Ok(())
    }

    /// Calls `visit(leaf_index, time_us, json)` for every event whose time is in
    /// `[from_us, to_us)`, in time order (ties in a fixed order), as detection needs them.
    /// Time order is file order only where events were imported in time order: bodies are
    /// read exactly, and ahead only while they follow each other in the file.
    pub fn scan_by_time<E: From<StoreError>>(
        &self,
        from_us: i64,
        to_us: i64,
        mut visit: impl FnMut(u64, i64, Option<&[u8]>) -> Result<(), E>,
    ) -> Result<(), E> {
        let sqlite = |e: rusqlite::Error| E::from(StoreError::from(e));
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ROW_COLUMNS}, time_us FROM events
                 WHERE time_us >= ?1 AND time_us < ?2 ORDER BY time_us, identity"
            ))
            .map_err(sqlite)?;
        let mut rows = stmt.query([from_us, to_us]).map_err(sqlite)?;
        let mut window = self.bodies.adaptive_window(SCAN_READ_AHEAD);
        while let Some(row) = rows.next().map_err(sqlite)? {
            let time_us: i64 = row.get(5).map_err(sqlite)?;
            let row = EventRow::read(row)?;
            visit(row.leaf_index, time_us, row.body(&mut window)?)?;
        }
        Ok(())
    }

    /// Events of one account within `[from_us, to_us)`, in leaf order.
    pub fn events_of_account(
        &self,
        account: &str,
        from_us: i64,
        to_us: i64,
    ) -> Result<Vec<StoredEvent>> {
        self.events_by(Dimension::Account, account, from_us, to_us)
    }

    /// Events of one kind (e.g. `file.copy`) within `[from_us, to_us)`, in leaf order.
    pub fn events_of_kind(&self, kind: &str, from_us: i64, to_us: i64) -> Result<Vec<StoredEvent>> {
        self.events_by(Dimension::Kind, kind, from_us, to_us)
    }

    /// The leaves of one account's events within `[from_us, to_us)`, ascending, from the
    /// postings alone (no event is read): for paging through a long history.
    pub fn leaves_of_account(&self, account: &str, from_us: i64, to_us: i64) -> Result<Vec<u64>> {
        self.leaves_by(Dimension::Account, account, from_us, to_us)
    }

    /// The leaves of one kind's events within `[from_us, to_us)`, ascending, from the postings
    /// alone.
    pub fn leaves_of_kind(&self, kind: &str, from_us: i64, to_us: i64) -> Result<Vec<u64>> {
        self.leaves_by(Dimension::Kind, kind, from_us, to_us)
    }

    /// `(host, account)` of every logon within `[from_us, to_us)` that names a host: whose
    /// computer each host is, as context for rules and analytics learn it.
    pub fn host_logons(&self, from_us: i64, to_us: i64) -> Result<Vec<(String, String)>> {
        let mut pairs = Vec::new();
        for stored in self.events_of_kind("logon", from_us, to_us)? {
            if let Some(event) = stored
                .json
                .as_deref()
                .and_then(|j| mamori_event::Event::from_json(j).ok())
                && let Some(host) = event.actor.host
            {
                pairs.push((host, event.actor.user));
            }
        }
        Ok(pairs)
    }

    /// Leaves of events within `[from_us, to_us)` among the `span` leaves after `after`,
    /// ascending, at most `limit` of them; and the last leaf looked at (`None`: there are no
    /// leaves after `after`). An organisation-wide search pages through the log this way: each
    /// call reads at most `span` rows in leaf order, however few fall in the time range.
    pub fn leaves_between(
        &self,
        from_us: i64,
        to_us: i64,
        after: Option<u64>,
        limit: usize,
        span: u64,
    ) -> Result<(Vec<u64>, Option<u64>)> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        if start >= self.next_leaf {
            return Ok((Vec::new(), None));
        }
        let end = start.saturating_add(span.max(1)).min(self.next_leaf);
        let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        // `+time_us`: the rows come by leaf, not from the time index (which would read the
        // whole range to sort it).
        let mut stmt = self.conn.prepare_cached(
            "SELECT leaf_index FROM events
             WHERE leaf_index >= ?3 AND leaf_index < ?4 AND +time_us >= ?1 AND +time_us < ?2
             ORDER BY leaf_index LIMIT ?5",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            params![from_us, to_us, as_i64(start), as_i64(end), limit],
            |r| r.get::<_, i64>(0),
        )?;
        let mut leaves = Vec::new();
        for leaf in rows {
            leaves.push(u64::try_from(leaf?).unwrap_or_default());
        }
        let examined = if i64::try_from(leaves.len()).unwrap_or(i64::MAX) == limit {
            leaves.last().copied().unwrap_or(end - 1)
        } else {
            end - 1
        };
        Ok((leaves, Some(examined)))
    }

    fn events_by(
        &self,
        dimension: Dimension,
        name: &str,
        from_us: i64,
        to_us: i64,
    ) -> Result<Vec<StoredEvent>> {
        let leaves = self.leaves_by(dimension, name, from_us, to_us)?;
        self.events_at(&leaves)
    }

    /// Reads the posting rows of `name` that overlap the range and the event rows not in
    /// postings yet: the leaves they list, ascending.
    fn leaves_by(
        &self,
        dimension: Dimension,
        name: &str,
        from_us: i64,
        to_us: i64,
    ) -> Result<Vec<u64>> {
        let mut leaves: Vec<u64> = self
            .postings_by(dimension, name, from_us, to_us)?
            .into_iter()
            .map(|(_, leaf)| leaf)
            .collect();
        leaves.sort_unstable();
        Ok(leaves)
    }

    /// `(time_us, leaf_index)` of `name`'s events within the range, by time (ties by leaf),
    /// from the posting rows and the event rows not in postings yet.
    pub(crate) fn postings_by(
        &self,
        dimension: Dimension,
        name: &str,
        from_us: i64,
        to_us: i64,
    ) -> Result<Vec<(i64, u64)>> {
        // Read first: a flush by another connection in between only lists leaves twice.
        let unwritten_from = sql_int(postings_through(&self.conn)?)?;
        let mut rows = self.conn.prepare_cached(
            "SELECT id, first_us, count, data FROM postings
             WHERE dimension = ?1 AND key_id = (SELECT id FROM names WHERE name = ?2)
               AND last_us >= ?3 AND first_us < ?4",
        )?;
        let mut leaves = Vec::new();
        let mut found = rows.query(params![dimension as i64, name, from_us, to_us])?;
        while let Some(row) = found.next()? {
            let (id, first_us, count): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
            let data = row.get_ref(3)?.as_blob().map_err(rusqlite::Error::from)?;
            let postings = usize::try_from(count)
                .map_err(|_| format!("negative count {count}"))
                .and_then(|count| Postings::decode(first_us, count, data))
                .map_err(|reason| StoreError::Corrupt(format!("postings row {id}: {reason}")))?;
            leaves.extend(
                postings
                    .pairs
                    .into_iter()
                    .filter(|&(time, _)| from_us <= time && time < to_us),
            );
        }
        let column = match dimension {
            Dimension::Account => "account_id",
            Dimension::Kind => "kind_id",
        };
        // `+time_us`: the rows after the postings are found by their leaf range; left free,
        // SQLite picked the time index and read every event of the range instead (40 ms
        // a query on 1.3 M events, whatever the account).
        let mut unwritten = self.conn.prepare_cached(&format!(
            "SELECT time_us, leaf_index FROM events
             WHERE leaf_index >= ?1 AND {column} = (SELECT id FROM names WHERE name = ?2)
               AND +time_us >= ?3 AND +time_us < ?4"
        ))?;
        let mut found = unwritten.query(params![unwritten_from, name, from_us, to_us])?;
        while let Some(row) = found.next()? {
            leaves.push((row.get(0)?, row.get(1)?));
        }
        leaves.sort_unstable();
        leaves.dedup();
        leaves
            .into_iter()
            .map(|(time, leaf): (i64, i64)| {
                u64::try_from(leaf)
                    .map(|leaf| (time, leaf))
                    .map_err(|_| StoreError::Corrupt(format!("negative leaf {leaf} in postings")))
            })
            .collect()
    }

    /// The stored events at `leaves`, in that order.
    pub fn events_at(&self, leaves: &[u64]) -> Result<Vec<StoredEvent>> {
        let mut event = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM events WHERE leaf_index = ?1"
        ))?;
        // Exact reads: the events of one account or kind are scattered through the file.
        let mut window = self.bodies.window(0);
        let mut events = Vec::with_capacity(leaves.len());
        for &leaf in leaves {
            let mut rows = event.query([sql_int(leaf)?])?;
            let row = rows.next()?.ok_or_else(|| {
                StoreError::Corrupt(format!("leaf {leaf}: listed by postings but not stored"))
            })?;
            let row = EventRow::read(row)?;
            events.push(StoredEvent {
                leaf_index: row.leaf_index,
                entry: row.entry,
                json: row.body(&mut window)?.map(<[u8]>::to_vec),
            });
        }
        Ok(events)
    }
}

/// Inserts the rows of `batch` from leaf `next_leaf` on, their bodies laid out from `bodies_end`
/// in batch order, skipping events stored already; the transaction is left to commit.
fn insert_rows<'c>(
    conn: &'c mut Connection,
    name_ids: &mut HashMap<String, i64, RandomState>,
    mut next_leaf: u64,
    bodies_end: u64,
    batch: &[NewEvent],
) -> Result<(rusqlite::Transaction<'c>, BatchOutcome, BatchIndex)> {
    let mut outcome = BatchOutcome::default();
    let mut index = BatchIndex::default();
    let mut body_at = bodies_end;
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO events(leaf_index, entry, identity, time_us, kind_id, account_id, body_at, body_len)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for (position, event) in batch.iter().enumerate() {
            let leaf_index = sql_int(next_leaf)?;
            let kind_id = intern(&tx, name_ids, event.kind)?;
            let account_id = intern(&tx, name_ids, &event.account)?;
            let inserted = insert.execute(params![
                leaf_index,
                &event.entry[..],
                &event.identity[..IDENTITY_BYTES],
                event.time_us,
                kind_id,
                account_id,
                sql_int(body_at)?,
                sql_int(event.json.len() as u64)?,
            ])?;
            if inserted == 1 {
                body_at += event.json.len() as u64 + 1;
                index.add(account_id, kind_id, event.time_us, leaf_index);
                outcome.appended.push((next_leaf, event.entry));
                next_leaf += 1;
            } else {
                outcome.duplicates.push(position);
            }
        }
    }
    Ok((tx, outcome, index))
}

fn push_line(lines: &mut Vec<u8>, json: &[u8]) {
    lines.extend_from_slice(json);
    lines.push(b'\n');
}

/// The posting lists of consecutive events, per (dimension, key).
#[derive(Default)]
struct BatchIndex {
    lists: HashMap<(Dimension, i64), Vec<(i64, i64)>, RandomState>,
    events: usize,
}

impl BatchIndex {
    fn add(&mut self, account_id: i64, kind_id: i64, time_us: i64, leaf_index: i64) {
        for key in [(Dimension::Account, account_id), (Dimension::Kind, kind_id)] {
            self.lists
                .entry(key)
                .or_default()
                .push((time_us, leaf_index));
        }
        self.events += 1;
    }

    fn extend(&mut self, later: BatchIndex) {
        for (key, pairs) in later.lists {
            self.lists.entry(key).or_default().extend(pairs);
        }
        self.events += later.events;
    }

    fn store(self, tx: &Connection) -> Result<()> {
        let mut insert = tx.prepare_cached(
            "INSERT INTO postings(dimension, key_id, first_us, last_us, count, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for ((dimension, key_id), mut pairs) in self.lists {
            pairs.sort_unstable();
            let postings = Postings { pairs };
            insert.execute(params![
                dimension as i64,
                key_id,
                postings.first_us(),
                postings.last_us(),
                postings.pairs.len() as i64,
                postings.encode(),
            ])?;
        }
        Ok(())
    }
}

/// The id of `name` in the `names` table, adding it if new.
fn intern(
    conn: &Connection,
    cache: &mut HashMap<String, i64, RandomState>,
    name: &str,
) -> Result<i64> {
    if let Some(&id) = cache.get(name) {
        return Ok(id);
    }
    conn.prepare_cached("INSERT OR IGNORE INTO names(name) VALUES (?1)")?
        .execute([name])?;
    let id: i64 = conn
        .prepare_cached("SELECT id FROM names WHERE name = ?1")?
        .query_row([name], |r| r.get(0))?;
    cache.insert(name.to_string(), id);
    Ok(id)
}

/// The postings of the leaves from `from` on, from their event rows.
fn unwritten_postings(conn: &Connection, from: u64) -> Result<BatchIndex> {
    let mut index = BatchIndex::default();
    let mut rows = conn.prepare_cached(
        "SELECT account_id, kind_id, time_us, leaf_index FROM events WHERE leaf_index >= ?1",
    )?;
    let mut found = rows.query([sql_int(from)?])?;
    while let Some(row) = found.next()? {
        index.add(row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
    }
    Ok(index)
}

/// The first leaf whose postings are not written (events from it on are found by their rows).
pub(crate) fn postings_through(conn: &Connection) -> Result<u64> {
    let value: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [POSTINGS_THROUGH],
            |r| r.get(0),
        )
        .optional()?;
    // `open` sets it; were it missing, reading every event row would still be right.
    match value {
        None => Ok(0),
        Some(value) => value
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("meta {POSTINGS_THROUGH}: {value:?}"))),
    }
}

fn set_postings_through(tx: &Connection, leaf: u64) -> Result<()> {
    tx.execute(
        "UPDATE meta SET value = ?2 WHERE key = ?1",
        params![POSTINGS_THROUGH, leaf.to_string()],
    )?;
    Ok(())
}

fn next_leaf_index(conn: &Connection) -> Result<u64> {
    let max: Option<i64> =
        conn.query_row("SELECT MAX(leaf_index) FROM events", [], |r| r.get(0))?;
    match max {
        None => Ok(0),
        Some(m) => u64::try_from(m)
            .map(|m| m + 1)
            .map_err(|_| StoreError::Corrupt(format!("negative leaf index {m}"))),
    }
}

/// Where the next body goes: after the body of the last leaf.
fn bodies_end(conn: &Connection) -> Result<u64> {
    let last: Option<(i64, i64, i64)> = conn
        .query_row(
            "SELECT leaf_index, body_at, body_len FROM events ORDER BY leaf_index DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    match last {
        None => Ok(0),
        Some((leaf, at, len)) => {
            let range = BodyRange::from_row(leaf.max(0) as u64, at, len)?;
            Ok(range.at + range.len + 1)
        }
    }
}

/// A byte offset or length as SQLite's signed integer.
fn sql_int(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} does not fit in the store")))
}

/// Bytes read at a time when scanning bodies in leaf order.
const SCAN_READ_AHEAD: usize = 1 << 20;

/// The columns [`EventRow::read`] expects, in order.
const ROW_COLUMNS: &str = "leaf_index, entry, body_at, body_len, purged_us IS NOT NULL";

/// An event row without its body.
struct EventRow {
    leaf_index: u64,
    entry: [u8; 32],
    body: BodyRange,
    purged: bool,
}

impl EventRow {
    fn read(row: &rusqlite::Row<'_>) -> Result<EventRow> {
        let leaf_index: i64 = row.get(0)?;
        let leaf_index = u64::try_from(leaf_index)
            .map_err(|_| StoreError::Corrupt(format!("negative leaf index {leaf_index}")))?;
        let entry = row
            .get_ref(1)?
            .as_blob()
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| {
                StoreError::Corrupt(format!("leaf {leaf_index}: stored entry is not 32 bytes"))
            })?;
        Ok(EventRow {
            leaf_index,
            entry,
            body: BodyRange::from_row(leaf_index, row.get(2)?, row.get(3)?)?,
            purged: row.get(4)?,
        })
    }

    /// The row's body, `None` once retention purged it.
    fn body<'w>(&self, window: &'w mut BodyWindow<'_>) -> Result<Option<&'w [u8]>> {
        match self.purged {
            true => Ok(None),
            false => window.get(self.leaf_index, self.body).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn event(n: u8) -> NewEvent {
        NewEvent {
            identity: [n; 32],
            entry: [n.wrapping_add(100); 32],
            time_us: i64::from(n) * 1_000_000,
            kind: "logon",
            account: format!("user{}", n % 2),
            json: vec![b'{', n, b'}'],
        }
    }

    #[test]
    fn same_identity_twice_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        let first = store.insert_batch(&[event(1), event(2), event(1)]).unwrap();
        assert_eq!(first.appended.len(), 2);
        assert_eq!(first.duplicates, vec![2]);
        let again = store.insert_batch(&[event(2), event(3)]).unwrap();
        assert_eq!(again.appended, vec![(2, event(3).entry)]);
        assert_eq!(again.duplicates, vec![0]);
        assert_eq!(store.size(), 3);
        store.insert_batch(&[event(4)]).unwrap();
        // Written early and rewritten without the duplicate, or written late: either way
        // only stored events have a line, in leaf order.
        let lines: Vec<u8> = [1, 2, 3, 4]
            .iter()
            .flat_map(|&n| [b'{', n, b'}', b'\n'])
            .collect();
        assert_eq!(std::fs::read(dir.path().join("s.ndjson")).unwrap(), lines);
        let mut read = Vec::new();
        store
            .scan_range(0..u64::MAX, |_, _, json| {
                read.push(json.unwrap().to_vec());
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert_eq!(read, [1, 2, 3, 4].map(|n| event(n).json));
    }

    #[test]
    fn time_scans_follow_event_time_not_arrival() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        let at = |n: u8, time_us: i64| NewEvent {
            time_us,
            ..event(n)
        };
        store.insert_batch(&[at(1, 50), at(2, 10)]).unwrap();
        store.insert_batch(&[at(3, 30), at(4, 70)]).unwrap();
        let mut seen = Vec::new();
        store
            .scan_by_time(10, 70, |leaf, time, json| {
                seen.push((leaf, time, json.unwrap().to_vec()));
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert_eq!(
            seen,
            vec![
                (1, 10, event(2).json),
                (2, 30, event(3).json),
                (0, 50, event(1).json)
            ]
        );
    }

    #[test]
    fn rule_findings_are_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        let finding = crate::RuleFinding {
            rule_id: "r1".into(),
            rule_title: "Copy to USB".into(),
            rule_kind: "detection".into(),
            level: Some("high".into()),
            author: Some("Mamori".into()),
            account: "alice".into(),
            person_id: Some("P1".into()),
            first_us: 5,
            last_us: 9,
            events: vec![3, 8],
        };
        let other = crate::RuleFinding {
            events: vec![4],
            last_us: 20,
            ..finding.clone()
        };
        assert_eq!(
            store
                .add_rule_findings(&[finding.clone(), other.clone()])
                .unwrap(),
            2
        );
        assert_eq!(
            store
                .add_rule_findings(std::slice::from_ref(&finding))
                .unwrap(),
            0
        );
        assert_eq!(
            store.rule_findings().unwrap(),
            vec![finding.clone(), other.clone()]
        );
        // By the time of the last event, half-open.
        assert_eq!(store.rule_findings_ending(9, 20).unwrap(), vec![finding]);
        assert_eq!(store.rule_findings_ending(10, 21).unwrap(), vec![other]);
        assert!(store.rule_findings_ending(0, 9).unwrap().is_empty());
    }

    #[test]
    fn account_and_kind_queries_use_the_postings() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        let at = |n: u8, time_us: i64, account: &str, kind: &'static str| NewEvent {
            time_us,
            kind,
            account: account.to_owned(),
            ..event(n)
        };
        // Two batches, times out of order within and across them, one duplicate.
        store
            .insert_batch(&[
                at(1, 50, "alice", "logon"),
                at(2, 10, "bob", "logon"),
                at(3, 30, "alice", "file.copy"),
            ])
            .unwrap();
        store
            .insert_batch(&[
                at(4, 20, "alice", "logon"),
                at(3, 30, "alice", "file.copy"),
                at(5, 70, "alice", "print"),
            ])
            .unwrap();
        let leaves = |events: Vec<StoredEvent>| -> Vec<u64> {
            events.iter().map(|e| e.leaf_index).collect()
        };
        assert_eq!(
            leaves(store.events_of_account("alice", 0, 100).unwrap()),
            [0, 2, 3, 4]
        );
        assert_eq!(
            leaves(store.events_of_account("alice", 20, 50).unwrap()),
            [2, 3]
        );
        assert_eq!(
            leaves(store.events_of_account("alice", 50, 51).unwrap()),
            [0]
        );
        assert_eq!(leaves(store.events_of_account("bob", 0, 100).unwrap()), [1]);
        assert!(store.events_of_account("carol", 0, 100).unwrap().is_empty());
        assert_eq!(
            leaves(store.events_of_kind("logon", 0, 100).unwrap()),
            [0, 1, 3]
        );
        assert_eq!(
            leaves(store.events_of_kind("logon", 15, 100).unwrap()),
            [0, 3]
        );
        assert_eq!(
            leaves(store.events_of_kind("print", 0, 70).unwrap()),
            Vec::<u64>::new()
        );
        let alice = store.events_of_account("alice", 0, 100).unwrap();
        assert_eq!(alice[1].json.as_deref(), Some(&event(3).json[..]));
    }

    #[test]
    fn the_wal_starts_over_once_it_holds_too_many_frames() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        store.checkpoint_on_commit(false).unwrap();
        store.max_wal_frames = 20;
        let frames =
            |store: &EventStore| store.wal_frames.as_ref().unwrap().load(Ordering::Relaxed);
        let mut after_commit = Vec::new();
        for batch in 0..20u32 {
            let events: Vec<NewEvent> = (0..200u32)
                .map(|i| {
                    let n = batch * 200 + i;
                    let mut identity = [0u8; 32];
                    identity[..4].copy_from_slice(&n.to_be_bytes());
                    NewEvent {
                        identity,
                        entry: identity,
                        time_us: i64::from(n),
                        kind: "logon",
                        account: format!("user{}", n % 50),
                        json: format!("{{\"n\":{n}}}").into_bytes(),
                    }
                })
                .collect();
            store.insert_batch(&events).unwrap();
            after_commit.push(frames(&store));
        }
        // Nobody else checkpoints here: the WAL grows past the bound, is copied by the writer,
        // and the next commit starts it over (the frame count falls) — again and again.
        let restarts = after_commit.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(restarts >= 2, "{after_commit:?}");
        assert!(after_commit.iter().all(|&f| f < 200), "{after_commit:?}");
    }

    /// Events indexed by `postings` rows, per dimension (1 account, 2 kind).
    fn posted(store: &EventStore, dimension: i64) -> i64 {
        store
            .conn
            .query_row(
                "SELECT COALESCE(SUM(count), 0) FROM postings WHERE dimension = ?1",
                [dimension],
                |r| r.get(0),
            )
            .unwrap()
    }

    #[test]
    fn postings_wait_for_a_flush_and_queries_find_the_events_either_way() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let at = |n: u8, time_us: i64, account: &str| NewEvent {
            time_us,
            account: account.to_owned(),
            ..event(n)
        };
        let leaves = |events: Vec<StoredEvent>| -> Vec<u64> {
            events.iter().map(|e| e.leaf_index).collect()
        };
        let mut store = EventStore::open(&path).unwrap();
        store.flush_events = 4;
        store
            .insert_batch(&[at(1, 50, "alice"), at(2, 10, "bob"), at(3, 30, "alice")])
            .unwrap();
        assert_eq!((posted(&store, 1), posted(&store, 2)), (0, 0));
        assert_eq!(store.meta(POSTINGS_THROUGH).unwrap().as_deref(), Some("0"));
        assert_eq!(
            leaves(store.events_of_account("alice", 0, 100).unwrap()),
            [0, 2]
        );
        // The fourth and fifth pending events: written, with the first three.
        store
            .insert_batch(&[at(4, 20, "alice"), at(5, 70, "alice")])
            .unwrap();
        assert_eq!((posted(&store, 1), posted(&store, 2)), (5, 5));
        assert_eq!(store.meta(POSTINGS_THROUGH).unwrap().as_deref(), Some("5"));
        store.insert_batch(&[at(6, 60, "alice")]).unwrap();
        let alice = [0, 2, 3, 4, 5];
        assert_eq!(
            leaves(store.events_of_account("alice", 0, 100).unwrap()),
            alice
        );
        assert_eq!(
            leaves(store.events_of_account("alice", 20, 60).unwrap()),
            [0, 2, 3]
        );
        assert_eq!(
            leaves(store.events_of_kind("logon", 0, 100).unwrap()),
            [0, 1, 2, 3, 4, 5]
        );
        // Closed without a flush, as by a crash: leaf 5 is found from its row, and written
        // with the next flush.
        drop(store);
        let mut store = EventStore::open(&path).unwrap();
        store.flush_events = 4;
        assert_eq!(
            leaves(store.events_of_account("alice", 0, 100).unwrap()),
            alice
        );
        store.insert_batch(&[at(7, 80, "carol")]).unwrap();
        assert_eq!(posted(&store, 1), 5);
        store.flush_postings().unwrap();
        assert_eq!((posted(&store, 1), posted(&store, 2)), (7, 7));
        assert_eq!(store.meta(POSTINGS_THROUGH).unwrap().as_deref(), Some("7"));
        assert_eq!(
            leaves(store.events_of_account("alice", 0, 100).unwrap()),
            alice
        );
        assert_eq!(
            leaves(store.events_of_account("carol", 0, 100).unwrap()),
            [6]
        );
    }

    #[test]
    fn a_store_without_the_postings_mark_has_written_them_all() {
        // Older builds wrote the postings of every batch and kept no mark.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let mut store = EventStore::open(&path).unwrap();
        store.insert_batch(&[event(1), event(2), event(3)]).unwrap();
        store.flush_postings().unwrap();
        store
            .conn
            .execute("DELETE FROM meta WHERE key = ?1", [POSTINGS_THROUGH])
            .unwrap();
        drop(store);
        let mut store = EventStore::open(&path).unwrap();
        assert_eq!(store.meta(POSTINGS_THROUGH).unwrap().as_deref(), Some("3"));
        store.insert_batch(&[event(4)]).unwrap();
        store.flush_postings().unwrap();
        assert_eq!(posted(&store, 1), 4);
        let user1: Vec<u64> = store
            .events_of_account("user1", 0, i64::MAX)
            .unwrap()
            .iter()
            .map(|e| e.leaf_index)
            .collect();
        assert_eq!(user1, [0, 2]);
    }

    #[test]
    fn damaged_postings_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        store.insert_batch(&[event(1), event(2)]).unwrap();
        store.flush_postings().unwrap();
        store
            .conn
            .execute("UPDATE postings SET data = x'ff'", [])
            .unwrap();
        let error = store.events_of_account("user1", 0, i64::MAX).unwrap_err();
        assert!(error.to_string().contains("postings row"), "{error}");
    }

    #[test]
    fn leaf_indices_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        EventStore::open(&path)
            .unwrap()
            .insert_batch(&[event(1), event(2)])
            .unwrap();
        let mut store = EventStore::open(&path).unwrap();
        assert_eq!(store.size(), 2);
        let outcome = store.insert_batch(&[event(3)]).unwrap();
        assert_eq!(outcome.appended[0].0, 2);
        let mut seen = Vec::new();
        store
            .scan_range(1..u64::MAX, |leaf_index, _, _| {
                seen.push(leaf_index);
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert_eq!(seen, vec![1, 2]);
    }

    #[test]
    fn account_query_respects_the_half_open_time_range() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        store
            .insert_batch(&[event(1), event(2), event(3), event(5)])
            .unwrap();
        let found = store
            .events_of_account("user1", 1_000_000, 5_000_000)
            .unwrap();
        let leaves: Vec<u64> = found.iter().map(|e| e.leaf_index).collect();
        assert_eq!(leaves, vec![0, 2]);
    }
}
