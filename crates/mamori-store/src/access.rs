//! The access log: who searched, viewed, revealed, exported or changed what, and when — kept
//! as a second tamper-evident ledger, `access`, beside the `events` one.
//!
//! Japan's APPI (個人情報保護法) asks a business to supervise those who handle personal data;
//! this log is how a supervisor checks that the rules were followed. A log that the people it
//! supervises could quietly edit would prove nothing, so every record is two things:
//!
//! - a row of the `access_log` table (for reading: [`EventStore::access_log`]), and
//! - an entry of the `access` tile log (`ledger/access/`, the same C2SP tlog-tiles layout as
//!   `ledger/events/`, served the same way), whose checkpoints are signed with its own key
//!   (`keys/access.key`; origin: the events origin with `/events` replaced by `/access`).
//!
//! The **entry** of a record is SHA-256 of its canonical JSON, computed from the row's columns
//! by one function ([`AccessRecord::ledger_entry`]) when appending and when verifying. The
//! **leaf index** of a record is its row id minus one: ids are assigned by the ledger, 1, 2, 3…
//!
//! [`AccessLedger::record`] commits the row (the WAL synced), appends its leaf (fsynced) and
//! signs a checkpoint before it returns, so a caller that records a read before answering only
//! ever answers reads that are already in the signed log. As for events, SQLite comes first and
//! the tiles second: opening appends the leaves of rows a crash kept out of the tiles, and
//! refuses tiles that run ahead of the rows (a record was deleted). `DataDir::verify`
//! recomputes every entry from its row and audits the tiles and every signed checkpoint, naming
//! the first edited or missing record. Nothing in this crate updates or deletes a row, and the
//! only way to add one is through the data directory, which appends its leaf.

use mamori_ledger::audit::{AuditError, AuditReport};
use mamori_ledger::note::{Signer, Verifier};
use mamori_ledger::{Hash, TileLog};
use rusqlite::params;
use sha2::{Digest, Sha256};

use crate::datadir::{Paths, VerifyError, audit_log, io_error, sign_unless_covered, write_secret};
use crate::{EventStore, Result, StoreError};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS access_log (
    id      INTEGER PRIMARY KEY, -- the record's leaf index in the access ledger, plus one
    time_us INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL, -- e.g. alerts.list, cases.show
    target  TEXT NOT NULL  -- what was read or changed: a filter, a case id
);
CREATE INDEX IF NOT EXISTS access_log_time ON access_log(time_us);
";

/// Meta key: the origin of the access log.
pub(crate) const ORIGIN_KEY: &str = "access_origin";

/// Version of the canonical form a record's ledger entry hashes (its `"v"` member).
const ENTRY_VERSION: u32 = 1;

/// Leaves appended to the tiles at a time while catching up.
const CATCH_UP_BATCH: usize = 65_536;

/// One search, view, reveal, export or change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessRecord {
    pub time_us: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
}

impl AccessRecord {
    /// The record's entry in the access ledger: SHA-256 of its canonical JSON,
    /// `{"v":1,"time_us":…,"actor":"…","action":"…","target":"…"}` (members in this order, no
    /// whitespace, strings escaped as RFC 8785, `time_us` as its exact decimal integer).
    pub fn ledger_entry(&self) -> Hash {
        access_entry(self.time_us, &self.actor, &self.action, &self.target)
    }
}

/// The ledger entry of an access record (see [`AccessRecord::ledger_entry`]): strings are
/// escaped as ECMAScript's `JSON.stringify` does (RFC 8785); `time_us` is written exactly,
/// whatever its size. The only place the entry is computed, for appending and for verifying
/// alike.
fn access_entry(time_us: i64, actor: &str, action: &str, target: &str) -> Hash {
    let mut json = Vec::with_capacity(64 + actor.len() + action.len() + target.len());
    json.extend_from_slice(format!("{{\"v\":{ENTRY_VERSION},\"time_us\":{time_us}").as_bytes());
    for (name, value) in [("actor", actor), ("action", action), ("target", target)] {
        json.extend_from_slice(format!(",\"{name}\":").as_bytes());
        mamori_event::canonical::write_string(value, &mut json);
    }
    json.push(b'}');
    Sha256::digest(&json).into()
}

/// The origin of the access log beside the events log `events_origin`.
pub(crate) fn access_origin(events_origin: &str) -> String {
    match events_origin.strip_suffix("/events") {
        Some(base) => format!("{base}/access"),
        None => format!("{events_origin}/access"),
    }
}

/// The row id of the record at `leaf_index`.
fn row_id(leaf_index: u64) -> Result<i64> {
    i64::try_from(leaf_index)
        .ok()
        .and_then(|leaf| leaf.checked_add(1))
        .ok_or_else(|| StoreError::Corrupt(format!("access record {leaf_index}: no row id")))
}

/// How the record at `leaf_index` is named in errors.
fn record_name(leaf_index: u64) -> String {
    format!("access log record {leaf_index} (row id {})", leaf_index + 1)
}

impl EventStore {
    /// Stores the record at `leaf_index` and makes it durable at once (the WAL is synced at
    /// this commit whatever the connection's setting), so that its leaf never reaches the
    /// tiles while the row could still be lost. Only [`AccessLedger::record`] calls this.
    fn insert_access(
        &mut self,
        leaf_index: u64,
        now_us: i64,
        actor: &str,
        action: &str,
        target: &str,
    ) -> Result<()> {
        let id = row_id(leaf_index)?;
        let previous: i64 = self
            .conn
            .query_row("PRAGMA synchronous", [], |row| row.get(0))?;
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        let inserted = self.conn.execute(
            "INSERT INTO access_log(id, time_us, actor, action, target) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, now_us, actor, action, target],
        );
        let restored = self.conn.pragma_update(None, "synchronous", previous);
        inserted?;
        restored?;
        Ok(())
    }

    /// One past the highest row id: the size of the access ledger the rows claim.
    fn access_rows_end(&self) -> Result<u64> {
        let max_id: i64 =
            self.conn
                .query_row("SELECT COALESCE(MAX(id), 0) FROM access_log", [], |row| {
                    row.get(0)
                })?;
        u64::try_from(max_id)
            .map_err(|_| StoreError::Corrupt(format!("access_log: negative row id {max_id}")))
    }

    /// Calls `visit` with the row id and record of every row whose id is above `after_id`, in
    /// id order.
    fn scan_access<E: From<StoreError>>(
        &self,
        after_id: i64,
        mut visit: impl FnMut(i64, AccessRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, time_us, actor, action, target FROM access_log
                 WHERE id > ?1 ORDER BY id",
            )
            .map_err(StoreError::from)?;
        let mut rows = stmt.query([after_id]).map_err(StoreError::from)?;
        while let Some(row) = rows.next().map_err(StoreError::from)? {
            let id: i64 = row.get(0).map_err(StoreError::from)?;
            let record = AccessRecord {
                time_us: row.get(1).map_err(StoreError::from)?,
                actor: row.get(2).map_err(StoreError::from)?,
                action: row.get(3).map_err(StoreError::from)?,
                target: row.get(4).map_err(StoreError::from)?,
            };
            visit(id, record)?;
        }
        Ok(())
    }

    /// The latest `limit` records, newest first.
    pub fn access_log(&self, limit: usize) -> Result<Vec<AccessRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT time_us, actor, action, target FROM access_log
             ORDER BY time_us DESC, id DESC LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map([limit], |row| {
            Ok(AccessRecord {
                time_us: row.get(0)?,
                actor: row.get(1)?,
                action: row.get(2)?,
                target: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// The `access` tile log and its signing key. Appends are durable one by one (no deferred
/// durability: records are few, and each must survive before the data it covers is returned).
///
/// A server records a read per request, so its checkpoints are signed at most once per
/// [`SIGN_EVERY`] ([`AccessLedger::record_soon`]) and when it is idle: a signature and a
/// history file per record would cost 2.5 ms a request and a file per read for ever.
pub(crate) struct AccessLedger {
    log: TileLog,
    signer: Signer,
    /// When the latest checkpoint was signed.
    signed_at: std::time::Instant,
}

/// Longest a server leaves records outside a signed checkpoint while it is busy.
pub const SIGN_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl AccessLedger {
    /// Opens the access ledger of the data directory at `paths`, whose events log is
    /// `events_origin`; creates its origin, key and directory on first use (a data directory
    /// of an older build is upgraded in place), appends the leaves of rows the tiles lack, and
    /// makes sure the latest checkpoint covers the tree.
    pub(crate) fn open(
        paths: &Paths,
        store: &EventStore,
        events_origin: &str,
    ) -> Result<AccessLedger> {
        let origin = match store.meta(ORIGIN_KEY)? {
            Some(origin) => origin,
            None => {
                let origin = access_origin(events_origin);
                store.set_meta(ORIGIN_KEY, &origin)?;
                origin
            }
        };
        let key_path = paths.access_key();
        let signer = if key_path.exists() {
            let skey = std::fs::read_to_string(&key_path).map_err(|e| io_error(&key_path, e))?;
            Signer::from_skey(skey.trim())?
        } else {
            create_key(paths, &origin)?
        };
        if signer.name() != origin {
            return Err(StoreError::Corrupt(format!(
                "{}: the key is for {:?} but the access log is {origin:?}",
                key_path.display(),
                signer.name()
            )));
        }
        let log = TileLog::open(&paths.access_log(), &origin)?;
        let mut ledger = AccessLedger {
            log,
            signer,
            signed_at: std::time::Instant::now(),
        };
        ledger.catch_up(store)?;
        ledger.checkpoint()?;
        Ok(ledger)
    }

    pub(crate) fn log(&self) -> &TileLog {
        &self.log
    }

    pub(crate) fn verifier(&self) -> Verifier {
        self.signer.verifier()
    }

    /// Records that `actor` did `action` (e.g. `cases.show`) on `target` (e.g. `case 3`) at
    /// `now_us`: commits the row, appends its leaf (durably) and signs a checkpoint of the new
    /// tree.
    pub(crate) fn record(
        &mut self,
        store: &mut EventStore,
        actor: &str,
        action: &str,
        target: &str,
        now_us: i64,
    ) -> Result<()> {
        self.record_soon(store, actor, action, target, now_us)?;
        self.checkpoint()?;
        Ok(())
    }

    /// As [`AccessLedger::record`], but the checkpoint is signed only if the latest is older
    /// than [`SIGN_EVERY`]; [`AccessLedger::sign_if_due`] and [`AccessLedger::checkpoint`]
    /// cover the rest.
    pub(crate) fn record_soon(
        &mut self,
        store: &mut EventStore,
        actor: &str,
        action: &str,
        target: &str,
        now_us: i64,
    ) -> Result<()> {
        // A row whose append failed earlier gets its leaf first: the new row's id is then
        // exactly the next leaf.
        self.catch_up(store)?;
        let leaf_index = self.log.size();
        store.insert_access(leaf_index, now_us, actor, action, target)?;
        self.log
            .append(&[access_entry(now_us, actor, action, target)])?;
        self.sign_if_due()
    }

    /// Signs a checkpoint if records are outside the latest and it is older than
    /// [`SIGN_EVERY`].
    pub(crate) fn sign_if_due(&mut self) -> Result<()> {
        if self.signed_at.elapsed() >= SIGN_EVERY {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Signs a checkpoint of the tree unless the latest one covers it; returns the latest.
    pub(crate) fn checkpoint(&mut self) -> Result<String> {
        let latest = sign_unless_covered(&mut self.log, &self.signer)?;
        self.signed_at = std::time::Instant::now();
        Ok(latest)
    }

    /// Appends the leaves of the rows a crash (or a failed append) kept out of the tiles.
    /// Tiles ahead of the rows mean records were deleted: refused.
    fn catch_up(&mut self, store: &EventStore) -> Result<()> {
        let tiles = self.log.size();
        let rows_end = store.access_rows_end()?;
        if tiles > rows_end {
            return Err(StoreError::Corrupt(format!(
                "{}: missing from the store (the access ledger has {tiles} records, the store's \
                 last is row id {rows_end}): access records were deleted",
                record_name(rows_end)
            )));
        }
        if tiles == rows_end {
            return Ok(());
        }
        tracing::warn!(
            tiles,
            rows = rows_end,
            "access ledger behind the access log; appending the missing leaves"
        );
        let mut pending: Vec<Hash> = Vec::new();
        let mut expected_leaf = tiles;
        let log = &mut self.log;
        let last_id_in_tiles = row_id(tiles)? - 1;
        store.scan_access(last_id_in_tiles, |id, record| {
            if id != row_id(expected_leaf)? {
                return Err(StoreError::Corrupt(format!(
                    "{}: missing from the store (the next row has id {id}): access records \
                     were deleted",
                    record_name(expected_leaf)
                )));
            }
            pending.push(record.ledger_entry());
            expected_leaf += 1;
            if pending.len() >= CATCH_UP_BATCH {
                log.append(&pending)?;
                pending.clear();
            }
            Ok(())
        })?;
        self.log.append(&pending)?;
        Ok(())
    }

    /// Recomputes every record's entry from its row and audits the tiles and every signed
    /// checkpoint of the access ledger against them, with `verifier` as the trusted key.
    pub(crate) fn verify(
        &mut self,
        store: &EventStore,
        verifier: &Verifier,
    ) -> Result<AuditReport, VerifyError> {
        audit_log(&mut self.log, verifier, access_audit_error, |auditor| {
            let mut expected_leaf = 0u64;
            store.scan_access(i64::MIN, |id, record| {
                if id != row_id(expected_leaf)? {
                    return Err(VerifyError::AccessRecord {
                        leaf_index: expected_leaf,
                        reason: format!("missing from the store (the next row has id {id})"),
                    });
                }
                auditor
                    .push(&record.ledger_entry())
                    .map_err(access_audit_error)?;
                expected_leaf += 1;
                Ok(())
            })
        })
    }
}

/// Names the access record under an audit failure where there is one.
fn access_audit_error(error: AuditError) -> VerifyError {
    match error {
        AuditError::EntryMismatch {
            leaf_index, tile, ..
        } => VerifyError::AccessRecord {
            leaf_index,
            reason: format!(
                "the row (time, actor, action, target) does not hash to its entry in the \
                 access ledger ({tile}): the record was edited"
            ),
        },
        AuditError::MissingLeaves {
            expected_size,
            have,
        } => VerifyError::AccessRecord {
            leaf_index: have,
            reason: format!(
                "missing from the store (the access ledger has {expected_size} records, the \
                 store {have}): access records were deleted"
            ),
        },
        AuditError::LeafNotInLog {
            leaf_index,
            log_size,
        } => VerifyError::AccessRecord {
            leaf_index,
            reason: format!("not in the access ledger (its size is {log_size})"),
        },
        other => VerifyError::AccessAudit(other),
    }
}

/// Creates the access log's signing key (and its public key beside it) for `origin`. Refuses
/// when the ledger exists already: its checkpoints were signed with the lost key.
fn create_key(paths: &Paths, origin: &str) -> Result<Signer> {
    let ledger_dir = paths.access_log();
    if ledger_dir.exists() {
        return Err(StoreError::Corrupt(format!(
            "{} is missing but {} exists: restore the key from a backup (it signed the access \
             ledger's checkpoints)",
            paths.access_key().display(),
            ledger_dir.display()
        )));
    }
    let signer = Signer::generate(origin)?;
    let keys_dir = paths.root.join("keys");
    std::fs::create_dir_all(&keys_dir).map_err(|e| io_error(&keys_dir, e))?;
    let vkey_path = paths.access_vkey();
    let vkey = format!("{}\n", signer.verifier().to_vkey());
    std::fs::write(&vkey_path, vkey).map_err(|e| io_error(&vkey_path, e))?;
    // Written last: its existence is what marks the access ledger as set up.
    write_secret(&paths.access_key(), signer.to_skey().as_bytes())?;
    tracing::info!(%origin, "access ledger key created");
    Ok(signer)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::DataDir;

    #[test]
    fn access_log_reads_newest_first_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut data = DataDir::init(dir.path(), "test.mamori.invalid/events").unwrap();
        data.record_access("aoki", "alerts.list", "all", 10)
            .unwrap();
        data.record_access("aoki", "cases.show", "case 1", 20)
            .unwrap();
        data.record_access("ito", "cases.note", "case 1", 20)
            .unwrap();
        let store = data.store();
        let log = store.access_log(2).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].actor, "ito");
        assert_eq!(log[1].action, "cases.show");
        assert_eq!(store.access_log(10).unwrap()[2].target, "all");
    }

    #[test]
    fn the_entry_hashes_a_fixed_canonical_form() {
        let json = "{\"v\":1,\"time_us\":-5,\"actor\":\"青木\",\"action\":\"cases.show\",\
                    \"target\":\"case \\\"1\\\"\\n\"}";
        let expected: Hash = Sha256::digest(json.as_bytes()).into();
        assert_eq!(
            access_entry(-5, "青木", "cases.show", "case \"1\"\n"),
            expected
        );
    }

    #[test]
    fn every_column_is_in_the_entry() {
        let record = AccessRecord {
            time_us: 1,
            actor: "a".into(),
            action: "b".into(),
            target: "c".into(),
        };
        let mut edits = vec![record.clone(); 4];
        edits[0].time_us = 2;
        edits[1].actor = "x".into();
        edits[2].action = "x".into();
        edits[3].target = "x".into();
        for edited in edits {
            assert_ne!(edited.ledger_entry(), record.ledger_entry(), "{edited:?}");
        }
        // Moving text between columns changes the entry too.
        let shifted = AccessRecord {
            actor: "a\",\"action\":\"b".into(),
            action: String::new(),
            ..record.clone()
        };
        assert_ne!(shifted.ledger_entry(), record.ledger_entry());
    }

    #[test]
    fn the_access_origin_follows_the_events_origin() {
        assert_eq!(
            access_origin("mamori.invalid/0a1b/events"),
            "mamori.invalid/0a1b/access"
        );
        assert_eq!(access_origin("example.com/log"), "example.com/log/access");
        assert_eq!(access_origin("example.com"), "example.com/access");
    }
}
