//! The data directory: the event store, the `events` and `access` ledgers and their signing
//! keys, kept in agreement.

use std::fs;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use mamori_ledger::audit::{AuditError, AuditReport, Auditor};
use mamori_ledger::note::{Signer, Verifier};
use mamori_ledger::{Hash, TileLog};
use sha2::{Digest, Sha256};

use crate::access::AccessLedger;
use crate::events::{BatchOutcome, EventStore, NewEvent, WalCheckpointer};
use crate::{Result, StoreError};

const ORIGIN_KEY: &str = "events_origin";

/// Where things live inside a data directory.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
}

impl Paths {
    pub fn new(root: &Path) -> Paths {
        Paths {
            root: root.to_path_buf(),
        }
    }
    pub fn store(&self) -> PathBuf {
        self.root.join("store.sqlite")
    }
    pub fn events_log(&self) -> PathBuf {
        self.root.join("ledger").join("events")
    }
    pub fn events_key(&self) -> PathBuf {
        self.root.join("keys").join("events.key")
    }
    /// The key of keyed content hashes (`raw.content_hmac`): 32 random bytes, hex.
    pub fn content_key(&self) -> PathBuf {
        self.root.join("keys").join("content.key")
    }
    pub fn events_vkey(&self) -> PathBuf {
        self.root.join("keys").join("events.vkey")
    }
    /// The access ledger: the same layout as [`Paths::events_log`] (serve it with
    /// `mamori_ledger::TileReader`).
    pub fn access_log(&self) -> PathBuf {
        self.root.join("ledger").join("access")
    }
    /// The access ledger's signing key (0600), in the format of [`Paths::events_key`].
    pub fn access_key(&self) -> PathBuf {
        self.root.join("keys").join("access.key")
    }
    /// The access ledger's public key, in the format of [`Paths::events_vkey`].
    pub fn access_vkey(&self) -> PathBuf {
        self.root.join("keys").join("access.vkey")
    }
    pub fn quarantine(&self) -> PathBuf {
        self.root.join("quarantine")
    }
}

/// The store, the `events` ledger and the `access` ledger of one data directory.
pub struct DataDir {
    /// The exclusive lock on `lock` in the directory, held while this is open: one writer of
    /// the ledger at a time, across processes (a server and an import would interleave
    /// their leaves).
    _lock: fs::File,
    paths: Paths,
    store: EventStore,
    log: TileLog,
    signer: Signer,
    access: AccessLedger,
}

/// Takes the data directory's lock, or says who holds it.
fn lock(root: &Path) -> Result<fs::File> {
    let path = root.join("lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| io_error(&path, source))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(StoreError::InUse(format!(
            "{} is in use by another Mamori process (a running `mamori serve`, an import): \
             stop it, or use the API while it serves",
            root.display()
        ))),
        Err(fs::TryLockError::Error(source)) => Err(io_error(&path, source)),
    }
}

/// What `verify` checked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    pub leaves: u64,
    pub purged: u64,
    pub tiles_checked: u64,
    pub checkpoints_checked: u64,
    pub latest_checkpoint_size: u64,
    /// Records of the access log, each recomputed and found in the access ledger.
    pub access_records: u64,
    /// Signed checkpoints of the access ledger (history and latest) checked.
    pub access_checkpoints_checked: u64,
}

/// Why `verify` failed, naming the first bad leaf of the events log, or the first bad record
/// of the access log, where there is one.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("leaf {leaf_index}: {reason}")]
    Leaf { leaf_index: u64, reason: String },
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// An access record is edited, missing, or not in the access ledger.
    #[error("access log record {leaf_index} (row id {}): {reason}", leaf_index + 1)]
    AccessRecord { leaf_index: u64, reason: String },
    /// The access ledger's files do not match the access records.
    #[error("access log: {0}")]
    AccessAudit(AuditError),
    #[error(transparent)]
    Ledger(#[from] mamori_ledger::LedgerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl VerifyError {
    /// The first bad (or missing) leaf of the events log, when the failure is tied to one.
    pub fn leaf_index(&self) -> Option<u64> {
        match self {
            VerifyError::Leaf { leaf_index, .. } => Some(*leaf_index),
            VerifyError::Audit(error) => error.leaf_index(),
            VerifyError::Store(StoreError::Leaf { leaf_index, .. }) => Some(*leaf_index),
            VerifyError::AccessRecord { .. }
            | VerifyError::AccessAudit(_)
            | VerifyError::Ledger(_)
            | VerifyError::Store(_) => None,
        }
    }

    /// The first bad (or missing) record of the access log (its leaf index in the access
    /// ledger; its row id is one more), when the failure is tied to one.
    pub fn access_record(&self) -> Option<u64> {
        match self {
            VerifyError::AccessRecord { leaf_index, .. } => Some(*leaf_index),
            VerifyError::AccessAudit(error) => error.leaf_index(),
            _ => None,
        }
    }
}

impl DataDir {
    /// Creates a new data directory with fresh signing keys for the events and access logs, and
    /// a signed empty checkpoint of each.
    pub fn init(root: &Path, origin: &str) -> Result<DataDir> {
        let paths = Paths::new(root);
        if paths.events_key().exists() {
            return Err(StoreError::NotInitialised(format!(
                "{} is already initialised (key {} exists)",
                root.display(),
                paths.events_key().display()
            )));
        }
        // Generating the key checks the origin before anything is written; the key file is
        // written last because its existence is what marks the directory as initialised.
        let signer = Signer::generate(origin)?;
        fs::create_dir_all(root).map_err(|source| io_error(root, source))?;
        let lock = lock(root)?;
        for dir in [
            paths.root.join("keys"),
            paths.events_log(),
            paths.quarantine(),
        ] {
            fs::create_dir_all(&dir).map_err(|source| io_error(&dir, source))?;
        }
        let store = EventStore::open(&paths.store())?;
        store.set_meta(ORIGIN_KEY, origin)?;
        drop(store);
        let vkey = format!("{}\n", signer.verifier().to_vkey());
        fs::write(paths.events_vkey(), vkey).map_err(|e| io_error(&paths.events_vkey(), e))?;
        write_secret(&paths.events_key(), signer.to_skey().as_bytes())?;
        // Opening creates the access ledger (key, directory, signed empty checkpoint).
        let mut data_dir = DataDir::open_locked(root, lock)?;
        // A signed empty tree from the start: auditors can tell an empty log from a broken one.
        data_dir.checkpoint()?;
        Ok(data_dir)
    }

    /// Opens an initialised data directory and brings both ledgers up to the store (see crate
    /// docs). A data directory of an older build without an access ledger gets one, holding
    /// the access records stored so far.
    pub fn open(root: &Path) -> Result<DataDir> {
        let key_path = Paths::new(root).events_key();
        if !key_path.exists() {
            return Err(StoreError::NotInitialised(format!(
                "{} is not a Mamori data directory (no {}); run `mamori init` first",
                root.display(),
                key_path.display()
            )));
        }
        DataDir::open_locked(root, lock(root)?)
    }

    fn open_locked(root: &Path, lock: fs::File) -> Result<DataDir> {
        let paths = Paths::new(root);
        let key_path = paths.events_key();
        let skey = fs::read_to_string(&key_path).map_err(|e| io_error(&key_path, e))?;
        let signer = Signer::from_skey(skey.trim())?;
        let store = EventStore::open(&paths.store())?;
        let origin = store.meta(ORIGIN_KEY)?.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "{}: no events origin recorded",
                paths.store().display()
            ))
        })?;
        if signer.name() != origin {
            return Err(StoreError::Corrupt(format!(
                "signing key is for {:?} but the events log is {origin:?}",
                signer.name()
            )));
        }
        let mut log = TileLog::open(&paths.events_log(), &origin)?;
        // The tiles are derived from the store, which can always re-append them: make them
        // durable at checkpoints (one syncfs) instead of at every batch (an fsync per file).
        log.defer_durability();
        let access = AccessLedger::open(&paths, &store, &origin)?;
        let mut data_dir = DataDir {
            _lock: lock,
            paths,
            store,
            log,
            signer,
            access,
        };
        data_dir.catch_up_ledger()?;
        data_dir.log.sync()?;
        Ok(data_dir)
    }

    /// Appends to the tiles whatever the store committed but a crash kept out of the tiles.
    fn catch_up_ledger(&mut self) -> Result<()> {
        let (tiles, stored) = (self.log.size(), self.store.size());
        if tiles > stored {
            return Err(StoreError::Corrupt(format!(
                "leaf {stored}: missing from the store (the ledger has {tiles} leaves, the store {stored}): events were removed"
            )));
        }
        if tiles == stored {
            return Ok(());
        }
        tracing::warn!(
            tiles,
            stored,
            "ledger behind the store; appending the missing leaves"
        );
        let mut pending: Vec<Hash> = Vec::new();
        let mut expected_leaf = tiles;
        let log = &mut self.log;
        self.store
            .scan_range(tiles..u64::MAX, |leaf_index, entry, _| {
                if leaf_index != expected_leaf {
                    return Err(StoreError::Corrupt(format!(
                        "leaf {expected_leaf} missing from the store"
                    )));
                }
                pending.push(*entry);
                expected_leaf += 1;
                if pending.len() >= 65_536 {
                    log.append(&pending)?;
                    pending.clear();
                }
                Ok(())
            })?;
        self.log.append(&pending)?;
        Ok(())
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// The store, for writes that do not touch a ledger (people, scores, alerts, metadata).
    /// Events go through [`DataDir::append_pipelined`] only, access records through
    /// [`DataDir::record_access`] (or [`Appender::record_access`]) only.
    pub fn store_mut(&mut self) -> &mut EventStore {
        &mut self.store
    }

    pub fn log(&self) -> &TileLog {
        &self.log
    }

    pub fn origin(&self) -> &str {
        self.log.origin()
    }

    /// Records that `actor` did `action` (e.g. `cases.show`) on `target` (e.g. `case 3`) at
    /// `now_us`: the row is committed, its leaf appended to the access ledger and a checkpoint
    /// of it signed, all durably, before this returns. Record a read before returning its data.
    pub fn record_access(
        &mut self,
        actor: &str,
        action: &str,
        target: &str,
        now_us: i64,
    ) -> Result<()> {
        self.access
            .record(&mut self.store, actor, action, target, now_us)
    }

    /// The access ledger (`ledger/access`); the records themselves are read with
    /// [`EventStore::access_log`].
    pub fn access_ledger(&self) -> &TileLog {
        self.access.log()
    }

    pub fn access_origin(&self) -> &str {
        self.access.log().origin()
    }

    /// The public key of the access ledger's checkpoints (also in `keys/access.vkey`).
    pub fn access_verifier(&self) -> Verifier {
        self.access.verifier()
    }

    /// The secret key of keyed content hashes, created (0600) on first use. Content such as
    /// web pages and mail bodies is kept only as an HMAC under this key, so equal contents can
    /// be matched without storing them, and nobody without the key can test a guess.
    pub fn content_key(&self) -> Result<[u8; 32]> {
        let path = self.paths.content_key();
        match fs::read_to_string(&path) {
            Ok(text) => {
                let mut key = [0u8; 32];
                hex::decode_to_slice(text.trim(), &mut key).map_err(|_| {
                    StoreError::Corrupt(format!("{}: not 64 hex digits", path.display()))
                })?;
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key)
                    .map_err(|e| StoreError::Corrupt(format!("random number generator: {e}")))?;
                write_secret(&path, hex::encode(key).as_bytes())?;
                Ok(key)
            }
            Err(e) => Err(io_error(&path, e)),
        }
    }

    /// The events log's signing key (for signing evidence manifests).
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    pub fn verifier(&self) -> Verifier {
        self.signer.verifier()
    }

    /// Runs `work` with an appender that commits each batch to SQLite on this thread while a
    /// second thread appends the committed entries to the tiles — the store still comes first
    /// for every batch, but the two overlap across batches. While leaves arrive, the ledger thread
    /// signs a checkpoint every `checkpoint_every`. Returns once every committed entry is in
    /// the tiles; durable at the next [`DataDir::checkpoint`].
    pub fn append_pipelined<T, E: From<StoreError>>(
        &mut self,
        checkpoint_every: Duration,
        work: impl FnOnce(&mut Appender<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let (store, log, signer) = (&mut self.store, &mut self.log, &self.signer);
        let access = &mut self.access;
        // The ledger thread also checkpoints the WAL: done by this thread's commits, copying the
        // pages and their fsync would stall the writer, the pipeline's slowest stage.
        let checkpointer = store.wal_checkpointer()?;
        store.checkpoint_on_commit(false)?;
        let (sender, receiver) = sync_channel::<Vec<Hash>>(2);
        let result = std::thread::scope(|scope| {
            let tiles = std::thread::Builder::new()
                .name("mamori-ledger".into())
                .spawn_scoped(scope, move || {
                    append_tiles(log, signer, &checkpointer, receiver, checkpoint_every)
                })
                .map_err(|e| StoreError::Io {
                    path: "<thread>".into(),
                    source: e,
                })?;
            let mut appender = Appender {
                store: &mut *store,
                tiles: sender,
                access,
                signer,
            };
            let worked = work(&mut appender);
            // Closing the channel lets the ledger thread finish what is queued, then stop.
            drop(appender);
            let tiled = tiles
                .join()
                .unwrap_or_else(|_| Err(StoreError::Corrupt("the tile writer panicked".into())));
            match (worked, tiled) {
                // A failed tile append also makes `work` fail (its channel closed): report
                // the cause, not the symptom.
                (_, Err(error)) => Err(error.into()),
                (worked, Ok(())) => worked,
            }
        });
        // Whatever `work` did, what it committed gets its postings written now, and its
        // access records a signed checkpoint.
        let flushed = store.flush_postings();
        let signed = access.checkpoint();
        store.checkpoint_on_commit(true)?;
        let value = result?;
        flushed?;
        signed?;
        Ok(value)
    }

    /// Signs a checkpoint of the events log's current tree unless the latest one already
    /// covers it (and likewise for the access log, whose records are checkpointed as they are
    /// made). Returns the latest signed checkpoint note of the events log.
    pub fn checkpoint(&mut self) -> Result<String> {
        let latest = sign_unless_covered(&mut self.log, &self.signer)?;
        self.access.checkpoint()?;
        Ok(latest)
    }

    /// Verifies both ledgers: the events log with `verifier` as the trusted key, the access
    /// log with the data directory's own access key (see [`DataDir::verify_with_keys`]).
    pub fn verify(
        &mut self,
        verifier: &Verifier,
        progress: impl FnMut(u64),
    ) -> Result<VerifyReport, VerifyError> {
        let access_verifier = self.access_verifier();
        self.verify_with_keys(verifier, &access_verifier, progress)
    }

    /// Recomputes every entry from the stored events and audits the events ledger's tiles and
    /// signed checkpoints against them, with `verifier` as the trusted key; then does the same
    /// for the access log's records and the access ledger, with `access_verifier`. `progress`
    /// is called with the number of event leaves checked so far.
    pub fn verify_with_keys(
        &mut self,
        verifier: &Verifier,
        access_verifier: &Verifier,
        progress: impl FnMut(u64),
    ) -> Result<VerifyReport, VerifyError> {
        let (report, purged) = self.verify_events(verifier, progress)?;
        let access = self.access.verify(&self.store, access_verifier)?;
        Ok(VerifyReport {
            leaves: report.leaves,
            purged,
            tiles_checked: report.tiles_checked,
            checkpoints_checked: report.checkpoints_checked,
            latest_checkpoint_size: report.latest_checkpoint_size,
            access_records: access.leaves,
            access_checkpoints_checked: access.checkpoints_checked,
        })
    }

    /// The events half of [`DataDir::verify_with_keys`]; also returns the leaves retention
    /// purged.
    fn verify_events(
        &mut self,
        verifier: &Verifier,
        mut progress: impl FnMut(u64),
    ) -> Result<(AuditReport, u64), VerifyError> {
        let size = self.store.size();
        let chunks = size.div_ceil(VERIFY_CHUNK);
        let mut readers = Vec::with_capacity(VERIFY_READERS);
        for _ in 0..VERIFY_READERS {
            let reader = EventStore::open(&self.paths.store())?;
            reader.map_for_reading(1 << 40)?;
            readers.push(reader);
        }
        let mut purged = 0u64;
        // Readers, each with its own connection, recompute alternate chunks of entries from
        // the stored JSON while this thread audits the chunks in order: every core hashes, and
        // memory is bounded by the channels.
        let push_entries = |auditor: &mut Auditor| {
            std::thread::scope(|scope| -> Result<(), VerifyError> {
                let mut chunk_receivers = Vec::with_capacity(VERIFY_READERS);
                for (first, reader) in readers.into_iter().enumerate() {
                    let (sender, receiver) = sync_channel::<Result<Chunk, VerifyError>>(2);
                    chunk_receivers.push(receiver);
                    std::thread::Builder::new()
                        .name(format!("mamori-verify-{first}"))
                        .spawn_scoped(scope, move || {
                            let mut chunk = first as u64;
                            while chunk < chunks {
                                let start = chunk * VERIFY_CHUNK;
                                let recomputed = recompute_entries(
                                    &reader,
                                    start..(start + VERIFY_CHUNK).min(size),
                                );
                                let failed = recomputed.is_err();
                                if sender.send(recomputed).is_err() || failed {
                                    return;
                                }
                                chunk += VERIFY_READERS as u64;
                            }
                        })
                        .map_err(|e| StoreError::Io {
                            path: "<thread>".into(),
                            source: e,
                        })?;
                }
                let mut checked = 0u64;
                for chunk in 0..chunks {
                    let receiver = &chunk_receivers[(chunk % VERIFY_READERS as u64) as usize];
                    let recomputed = receiver
                        .recv()
                        .map_err(|_| StoreError::Corrupt("a verify reader stopped".into()))??;
                    purged += recomputed.purged;
                    for entry in &recomputed.entries {
                        auditor.push(entry)?;
                    }
                    checked += recomputed.entries.len() as u64;
                    progress(checked);
                }
                Ok(())
            })
        };
        let report = audit_log(&mut self.log, verifier, VerifyError::Audit, push_entries)?;
        Ok((report, purged))
    }
}

/// Signs a checkpoint of `log`'s current tree unless the latest one already covers it.
/// Returns the latest signed checkpoint note.
pub(crate) fn sign_unless_covered(log: &mut TileLog, signer: &Signer) -> Result<String> {
    if let Some(latest) = log.latest_checkpoint()? {
        let body = mamori_ledger::note::open(&latest, &signer.verifier())?;
        let size = mamori_ledger::checkpoint::Checkpoint::parse(&body)
            .map_err(|e| StoreError::Corrupt(format!("latest checkpoint: {e}")))?
            .size;
        if size == log.size() {
            return Ok(latest);
        }
    }
    Ok(log.sign_checkpoint(signer)?)
}

/// Audits the tiles and every signed checkpoint of `log` against the authoritative entries
/// `push_entries` recomputes and pushes in leaf order, with `verifier` as the trusted key:
/// the one auditing path of both ledgers. `audit_error` says which ledger a failure is in.
pub(crate) fn audit_log(
    log: &mut TileLog,
    verifier: &Verifier,
    audit_error: fn(AuditError) -> VerifyError,
    push_entries: impl FnOnce(&mut Auditor) -> Result<(), VerifyError>,
) -> Result<AuditReport, VerifyError> {
    // The auditor reads the files as recorded durable.
    log.sync()?;
    let mut auditor = Auditor::new(log.dir(), verifier, log.origin())?;
    push_entries(&mut auditor)?;
    auditor.finish().map_err(audit_error)
}

/// Leaves per unit of work of a verify reader.
const VERIFY_CHUNK: u64 = 16_384;
/// Threads recomputing entries during verify (the auditing thread makes one more).
const VERIFY_READERS: usize = 2;

/// Entries recomputed from the stored events of a range of leaves.
struct Chunk {
    entries: Vec<Hash>,
    purged: u64,
}

/// Checks that every leaf of `range` is stored and that its body hashes to its entry (unless
/// retention purged it), and returns the entries in order.
fn recompute_entries(store: &EventStore, range: Range<u64>) -> Result<Chunk, VerifyError> {
    let mut chunk = Chunk {
        entries: Vec::with_capacity((range.end - range.start) as usize),
        purged: 0,
    };
    let mut expected = range.start;
    let missing = |leaf_index: u64, next: &str| VerifyError::Leaf {
        leaf_index,
        reason: format!("missing from the store (the next stored leaf is {next})"),
    };
    store.scan_range(range.clone(), |leaf_index, entry, json| {
        if leaf_index != expected {
            return Err(missing(expected, &leaf_index.to_string()));
        }
        match json {
            Some(json) => {
                let digest: [u8; 32] = Sha256::digest(json).into();
                if digest != *entry {
                    return Err(VerifyError::Leaf {
                        leaf_index,
                        reason: "the stored event does not hash to its ledger entry (edited event)"
                            .into(),
                    });
                }
            }
            None => chunk.purged += 1,
        }
        chunk.entries.push(*entry);
        expected += 1;
        Ok(())
    })?;
    if expected != range.end {
        return Err(missing(expected, "beyond this range"));
    }
    Ok(chunk)
}

/// Commits batches to the store and hands their entries to the ledger thread; records
/// accesses in the access ledger between batches.
pub struct Appender<'a> {
    store: &'a mut EventStore,
    tiles: SyncSender<Vec<Hash>>,
    access: &'a mut AccessLedger,
    signer: &'a Signer,
}

impl Appender<'_> {
    /// The events log's signing key (for signing evidence manifests).
    pub fn signer(&self) -> &Signer {
        self.signer
    }

    /// The store being appended to, for reads between batches (e.g. checking a token).
    pub fn store(&self) -> &EventStore {
        self.store
    }

    /// The store, for writes other than events and access records between batches (e.g.
    /// retention, alerts, metadata).
    pub fn store_mut(&mut self) -> &mut EventStore {
        self.store
    }

    /// As [`DataDir::record_access`]: the row committed and its leaf durably in the access
    /// ledger when this returns. For a server answering many reads, the checkpoint covering
    /// it is signed within a second ([`crate::ACCESS_SIGN_EVERY`]): by a later record, by
    /// [`Appender::sign_access_if_due`], or when the appender ends.
    pub fn record_access(
        &mut self,
        actor: &str,
        action: &str,
        target: &str,
        now_us: i64,
    ) -> Result<()> {
        self.access
            .record_soon(self.store, actor, action, target, now_us)
    }

    /// Signs a checkpoint of the access ledger if records wait for one and the latest is
    /// older than [`crate::ACCESS_SIGN_EVERY`]; call it between jobs and when idle.
    pub fn sign_access_if_due(&mut self) -> Result<()> {
        self.access.sign_if_due()
    }

    /// Writes the account and kind postings held in memory (see `EventStore::flush_postings`):
    /// for a long-running writer when it is idle.
    pub fn flush_postings(&mut self) -> Result<()> {
        self.store.flush_postings()
    }

    /// Records a metadata value (e.g. an import's resume point) after the batches so far.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.store.set_meta(key, value)
    }

    /// Commits the batch to SQLite and queues its new entries for the tiles.
    pub fn append(&mut self, batch: &[NewEvent]) -> Result<BatchOutcome> {
        let outcome = self.store.insert_batch(batch)?;
        let entries: Vec<Hash> = outcome.appended.iter().map(|(_, entry)| *entry).collect();
        if !entries.is_empty() {
            self.tiles
                .send(entries)
                .map_err(|_| StoreError::Corrupt("the tile writer stopped".into()))?;
        }
        Ok(outcome)
    }
}

/// The ledger thread: appends committed entries in order, signing checkpoints as it goes, and
/// copies the store's WAL into its database file after each batch.
fn append_tiles(
    log: &mut TileLog,
    signer: &Signer,
    store: &WalCheckpointer,
    committed: Receiver<Vec<Hash>>,
    checkpoint_every: Duration,
) -> Result<()> {
    let mut last_checkpoint = Instant::now();
    for entries in committed {
        log.append(&entries)?;
        store.run()?;
        if last_checkpoint.elapsed() >= checkpoint_every {
            log.sign_checkpoint(signer)?;
            last_checkpoint = Instant::now();
        }
    }
    Ok(())
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes a secret readable by its owner only (0600 from creation, never widened).
pub(crate) fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| io_error(path, e))?;
    file.write_all(bytes).map_err(|e| io_error(path, e))?;
    file.sync_all().map_err(|e| io_error(path, e))?;
    Ok(())
}
