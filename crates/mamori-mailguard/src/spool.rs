//! The durable queue: every accepted message, its state and its recipients' delivery state,
//! and the outbox of [`RelayEvent`]s, in one directory.
//!
//! # On disk
//!
//! ```text
//! <spool>/queue.sqlite     messages, recipients, events (SQLite, WAL, synchronous=FULL)
//! <spool>/messages/<id>    each stored message, exactly as it will be sent (mode 0600)
//! ```
//!
//! A message is acknowledged (250 after `DATA`) only once it is durable: its file is written
//! and fsync'ed, the `messages/` directory is fsync'ed (so the file's name survives a crash
//! too), and its rows are committed to SQLite — WAL with `synchronous=FULL`, so the commit
//! itself is fsync'ed. The file always becomes durable before its row: a row never points at
//! a file that may be missing, and a file without a row (a crash between the two) is an orphan
//! removed at the next start.
//!
//! All database work goes through one committer thread that **groups** what arrives while it
//! is busy into one transaction (one directory fsync and one WAL fsync for the whole group),
//! so the cost of durability is shared by concurrent messages instead of multiplied. Each job
//! runs in its own savepoint, so one failing job does not undo the others.
//!
//! States of a message: `queued` (deliver when `not_before` is reached — at once, or after a
//! back-off), `delayed` (not before `not_before`; cancellable), `held` (until released,
//! cancelled, or expired at `hold_until`), and the final `delivered`, `bounced` and
//! `cancelled` (the file is removed; the row is kept for a while). Each recipient is
//! `pending`, `delivered` or `failed`: a retry only addresses the pending ones, so a partial
//! delivery never sends twice to a recipient that accepted.
//!
//! The outbox (`events`) is appended in the same transactions as the state changes it
//! describes, and drained with [`Spool::take_events`] / [`Spool::ack_events`]: at least
//! once, across restarts.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tracing::{info, warn};

use crate::decision::{Action, Decision, Envelope};

/// The database schema this code writes; a newer one is refused rather than misread.
const SCHEMA_VERSION: i64 = 1;
/// The version of the JSON of each event in the outbox.
pub const EVENT_VERSION: i64 = 1;
/// Most jobs grouped into one transaction.
const MAX_GROUP: usize = 512;

/// What can go wrong with the spool.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("spool database {path}: {source}")]
    Database {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("spool database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("spool commit failed: {reason}")]
    Commit { reason: String },
    #[error(
        "spool database {path} has schema version {found}, newer than this program's {SCHEMA_VERSION}: upgrade mamori"
    )]
    NewerSchema { path: String, found: i64 },
    #[error("event {seq} in the outbox is not readable: {reason}")]
    Event { seq: u64, reason: String },
    #[error("no message {id} in the spool")]
    NotFound { id: String },
    #[error("message {id} is {state}, which does not allow this")]
    WrongState { id: String, state: String },
    #[error("the spool is closed")]
    Closed,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A message's state; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Queued,
    Delayed,
    Held,
    Delivered,
    Bounced,
    Cancelled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Delayed => "delayed",
            State::Held => "held",
            State::Delivered => "delivered",
            State::Bounced => "bounced",
            State::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> State {
        match text {
            "queued" => State::Queued,
            "delayed" => State::Delayed,
            "held" => State::Held,
            "delivered" => State::Delivered,
            "bounced" => State::Bounced,
            // Unknown text cannot come from this schema version; the safest reading is final.
            _ => State::Cancelled,
        }
    }

    /// Nothing more will happen to the message.
    pub fn is_final(self) -> bool {
        matches!(self, State::Delivered | State::Bounced | State::Cancelled)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a stored message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Received over SMTP and checked by the guard.
    Client,
    /// Composed by Mamori itself (a notification), not checked.
    Inject,
    /// A delivery status notification we generated: never bounced in turn.
    Bounce,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Client => "client",
            Origin::Inject => "inject",
            Origin::Bounce => "bounce",
        }
    }

    fn parse(text: &str) -> Origin {
        match text {
            "inject" => Origin::Inject,
            "bounce" => Origin::Bounce,
            _ => Origin::Client,
        }
    }
}

/// The envelope as stored (the SMTP client's address is optional: injected and bounce
/// messages have none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEnvelope {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub helo: String,
    pub client: Option<SocketAddr>,
    pub smtputf8: bool,
    pub body_8bit: bool,
}

/// A message to store (its file already written with [`Spool::write_message`]).
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: String,
    pub origin: Origin,
    pub envelope: StoredEnvelope,
    /// `Queued`, `Delayed` or `Held`.
    pub state: State,
    pub received_at: Timestamp,
    /// Queued: when to try first; delayed: not before; held: when the hold expires.
    pub not_before: Timestamp,
    /// Give up (bounce) after this.
    pub expires_at: Timestamp,
    pub size: u64,
    pub message_id: Option<String>,
    /// The guard's action (`pass`, `delay`, …), for inspection.
    pub action: String,
}

/// A recipient still to be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRecipient {
    /// Its position in the envelope.
    pub position: u32,
    pub address: String,
}

/// A stored, unfinished message, as the deliverer needs it.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub id: String,
    pub state: State,
    pub origin: Origin,
    pub envelope: StoredEnvelope,
    pub pending: Vec<PendingRecipient>,
    pub attempts: u32,
    pub received_at: Timestamp,
    pub not_before: Timestamp,
    pub expires_at: Timestamp,
    pub message_id: Option<String>,
}

impl QueuedMessage {
    /// A message as just stored: every recipient pending, no attempt yet.
    pub fn new(message: &NewMessage) -> QueuedMessage {
        QueuedMessage {
            id: message.id.clone(),
            state: message.state,
            origin: message.origin,
            envelope: message.envelope.clone(),
            pending: message
                .envelope
                .rcpt_to
                .iter()
                .enumerate()
                .map(|(position, address)| PendingRecipient {
                    position: u32::try_from(position).unwrap_or(u32::MAX),
                    address: address.clone(),
                })
                .collect(),
            attempts: 0,
            received_at: message.received_at,
            not_before: message.not_before,
            expires_at: message.expires_at,
            message_id: message.message_id.clone(),
        }
    }
}

/// What became of one recipient in an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientState {
    Pending,
    Delivered,
    Failed,
}

impl RecipientState {
    fn as_str(self) -> &'static str {
        match self {
            RecipientState::Pending => "pending",
            RecipientState::Delivered => "delivered",
            RecipientState::Failed => "failed",
        }
    }
}

/// The result of a delivery attempt (or of an expiry), applied in one transaction.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub id: String,
    pub now: Timestamp,
    /// `(position, state, detail)` for each recipient attempted.
    pub recipients: Vec<(u32, RecipientState, String)>,
    /// When recipients remain pending: the next attempt.
    pub retry_at: Timestamp,
    /// Count this as a delivery attempt.
    pub attempted: bool,
    /// Apply only if the message is still in this state (an expiry racing a release).
    pub only_if: Option<State>,
    pub events: Vec<RelayEvent>,
    /// A bounce to store with it (its file already written).
    pub bounce: Option<NewMessage>,
}

/// What an attempt left the message as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptResult {
    pub state: State,
}

/// The metadata of one relay decision or delivery outcome, for the ledger. Never a body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RelayEvent {
    /// The guard decided about a received message (also when it rejected it: then nothing was
    /// stored and `id` is only a reference).
    Decided {
        id: String,
        at: Timestamp,
        envelope: EventEnvelope,
        decision: EventDecision,
        size: u64,
        message_id: Option<String>,
        /// The state it was stored in (`queued`, `delayed`, `held`), none when rejected.
        state: Option<State>,
    },
    /// A message Mamori composed was queued without checks.
    Injected {
        id: String,
        at: Timestamp,
        mail_from: String,
        rcpt_to: Vec<String>,
        size: u64,
        message_id: Option<String>,
    },
    /// The next hop accepted the message for these recipients.
    Delivered {
        id: String,
        at: Timestamp,
        recipients: Vec<String>,
        attempts: u32,
        reply: String,
    },
    /// These recipients are to be tried again.
    Deferred {
        id: String,
        at: Timestamp,
        recipients: Vec<EventRecipient>,
        attempts: u32,
        retry_at: Timestamp,
    },
    /// These recipients failed for good; a bounce (`dsn_id`) went to the sender when there is
    /// one to send to.
    Bounced {
        id: String,
        at: Timestamp,
        recipients: Vec<EventRecipient>,
        dsn_id: Option<String>,
    },
    /// A held or delayed message was let go.
    Released {
        id: String,
        at: Timestamp,
        by: String,
    },
    /// A message was cancelled before delivery.
    Cancelled {
        id: String,
        at: Timestamp,
        by: String,
    },
    /// A held message was not released in time, or a queued one not delivered in time.
    Expired {
        id: String,
        at: Timestamp,
        was: State,
    },
}

impl RelayEvent {
    /// The queue id of the message the event is about.
    pub fn id(&self) -> &str {
        match self {
            RelayEvent::Decided { id, .. }
            | RelayEvent::Injected { id, .. }
            | RelayEvent::Delivered { id, .. }
            | RelayEvent::Deferred { id, .. }
            | RelayEvent::Bounced { id, .. }
            | RelayEvent::Released { id, .. }
            | RelayEvent::Cancelled { id, .. }
            | RelayEvent::Expired { id, .. } => id,
        }
    }

    /// The event's name (`decided`, `delivered`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            RelayEvent::Decided { .. } => "decided",
            RelayEvent::Injected { .. } => "injected",
            RelayEvent::Delivered { .. } => "delivered",
            RelayEvent::Deferred { .. } => "deferred",
            RelayEvent::Bounced { .. } => "bounced",
            RelayEvent::Released { .. } => "released",
            RelayEvent::Cancelled { .. } => "cancelled",
            RelayEvent::Expired { .. } => "expired",
        }
    }
}

/// The envelope in an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventEnvelope {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub helo: String,
    pub client: String,
    pub smtputf8: bool,
    pub body_8bit: bool,
}

impl From<&Envelope> for EventEnvelope {
    fn from(envelope: &Envelope) -> EventEnvelope {
        EventEnvelope {
            mail_from: envelope.mail_from.clone(),
            rcpt_to: envelope.rcpt_to.clone(),
            helo: envelope.helo.clone(),
            client: envelope.client.to_string(),
            smtputf8: envelope.smtputf8,
            body_8bit: envelope.body_8bit,
        }
    }
}

/// The decision in an event (owned, so it can be read back from the outbox).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDecision {
    /// `pass`, `delay`, `hold_sender`, `hold_approval`, `reject`.
    pub action: String,
    pub delay_minutes: Option<u32>,
    pub approver: Option<String>,
    pub move_to_bcc: bool,
    pub reasons: Vec<EventReason>,
}

/// One reason in an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventReason {
    pub check: String,
    pub en: String,
    pub ja: String,
}

impl From<&Decision> for EventDecision {
    fn from(decision: &Decision) -> EventDecision {
        let (delay_minutes, approver) = match &decision.action {
            Action::Delay { minutes } => (Some(*minutes), None),
            Action::HoldForApproval { approver } => (None, approver.clone()),
            Action::Pass | Action::HoldForSender | Action::Reject => (None, None),
        };
        EventDecision {
            action: decision.action.as_str().to_string(),
            delay_minutes,
            approver,
            move_to_bcc: decision.move_to_bcc,
            reasons: decision
                .reasons
                .iter()
                .map(|reason| EventReason {
                    check: reason.check.to_string(),
                    en: reason.en.clone(),
                    ja: reason.ja.clone(),
                })
                .collect(),
        }
    }
}

/// A recipient and what happened to it, in an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecipient {
    pub address: String,
    pub reason: String,
}

/// Runs after the group's commit with its outcome.
type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// One piece of database work; runs inside the group's transaction (given `None` when the
/// group could not start one: it must not touch the database then).
type Work = Box<dyn FnOnce(Option<&Connection>) -> Completion + Send>;

struct Job {
    /// A new message file must be durable by name before this commits.
    sync_dir: bool,
    work: Work,
}

/// The spool; cheap to clone, all clones share the committer thread.
#[derive(Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    messages_dir: PathBuf,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    committer: Mutex<Option<JoinHandle<()>>>,
    closed: Arc<AtomicBool>,
    id_key: [u8; 16],
}

/// Unique within the process; with the time and the key, unique across processes.
static ID_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Spool {
    /// Opens (or creates) the spool in `dir`, removes message files left without a record by
    /// a crash, and starts the committer thread.
    pub fn open(dir: &Path) -> Result<Spool, SpoolError> {
        let messages_dir = dir.join("messages");
        create_private_dir(dir)?;
        create_private_dir(&messages_dir)?;
        let db_path = dir.join("queue.sqlite");
        let connection = open_database(&db_path)?;
        remove_orphans(&connection, &messages_dir)?;
        let closed = Arc::new(AtomicBool::new(false));
        let (sender, receiver) = mpsc::channel::<Job>();
        let committer = {
            let messages_dir = messages_dir.clone();
            let closed = closed.clone();
            std::thread::Builder::new()
                .name("mailguard-spool".to_string())
                .spawn(move || commit_loop(connection, receiver, &messages_dir, &closed))
                .map_err(io_error(dir))?
        };
        Ok(Spool {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                messages_dir,
                jobs: Mutex::new(Some(sender)),
                committer: Mutex::new(Some(committer)),
                closed,
                id_key: id_key(),
            }),
        })
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// A new queue id: 24 lower-case hex digits, time-ordered, not guessable from another.
    pub fn new_id(&self) -> String {
        let count = ID_COUNTER.fetch_add(1, Ordering::Relaxed);
        let millis = Timestamp::now().as_millisecond().max(0);
        let mut hasher = Sha256::new();
        hasher.update(self.inner.id_key);
        hasher.update(count.to_le_bytes());
        hasher.update(millis.to_le_bytes());
        let digest = hasher.finalize();
        let mut id = format!("{millis:011x}");
        for byte in digest.iter().take(7) {
            id.push_str(&format!("{byte:02x}"));
        }
        id.truncate(24);
        id
    }

    /// Where message `id` is stored.
    pub fn message_path(&self, id: &str) -> PathBuf {
        self.inner.messages_dir.join(id)
    }

    /// Writes and fsyncs the file of message `id` (the parts one after the other). Blocking:
    /// call it off the async threads. The message is not stored until [`Spool::store`].
    pub fn write_message(&self, id: &str, parts: &[&[u8]]) -> Result<(), SpoolError> {
        if !valid_id(id) {
            return Err(SpoolError::NotFound { id: id.to_string() });
        }
        let path = self.message_path(id);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(io_error(&path))?;
        for part in parts {
            file.write_all(part).map_err(io_error(&path))?;
        }
        file.sync_all().map_err(io_error(&path))?;
        Ok(())
    }

    /// Reads the file of message `id`. Blocking.
    pub fn read_message(&self, id: &str) -> Result<Vec<u8>, SpoolError> {
        if !valid_id(id) {
            return Err(SpoolError::NotFound { id: id.to_string() });
        }
        let path = self.message_path(id);
        let mut file = File::open(&path).map_err(io_error(&path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_error(&path))?;
        Ok(bytes)
    }

    /// Removes the file of a message that will not be stored after all. Blocking.
    pub fn discard_message(&self, id: &str) {
        if valid_id(id) {
            let _ = fs::remove_file(self.message_path(id));
        }
    }

    /// Stores a message whose file is written, with the events that go with it. Durable when
    /// this returns `Ok`.
    pub async fn store(
        &self,
        message: NewMessage,
        events: Vec<RelayEvent>,
    ) -> Result<(), SpoolError> {
        self.call(true, move |db| {
            insert_message(db, &message)?;
            append_events(db, &events)
        })
        .await
    }

    /// Appends events that go with no state change (a rejected message's decision).
    pub async fn record(&self, events: Vec<RelayEvent>) -> Result<(), SpoolError> {
        self.call(false, move |db| append_events(db, &events)).await
    }

    /// The ids of queued and delayed messages due at `now`, oldest first, at most `limit`,
    /// leaving out those in `skip` (being delivered).
    pub async fn due(
        &self,
        now: Timestamp,
        limit: usize,
        skip: Vec<String>,
    ) -> Result<Vec<String>, SpoolError> {
        self.call(false, move |db| {
            let fetch = limit.saturating_add(skip.len());
            let mut statement = db.prepare_cached(
                "SELECT id FROM messages WHERE state IN ('queued', 'delayed') AND not_before <= ?1
                 ORDER BY not_before LIMIT ?2",
            )?;
            let ids = statement
                .query_map(params![now.as_millisecond(), fetch as i64], |row| {
                    row.get::<_, String>(0)
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ids
                .into_iter()
                .filter(|id| !skip.contains(id))
                .take(limit)
                .collect())
        })
        .await
    }

    /// The message `id` if it is still to be delivered at `now` (queued or delayed, due, with
    /// recipients pending): what a deliverer must check right before it sends, since the
    /// message may have been delivered, cancelled or rescheduled since it was listed as due.
    pub async fn claim(
        &self,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<QueuedMessage>, SpoolError> {
        let id = id.to_string();
        self.call(false, move |db| {
            let Some(message) = load_message(db, &id)? else {
                return Ok(None);
            };
            let deliverable = matches!(message.state, State::Queued | State::Delayed)
                && message.not_before <= now
                && !message.pending.is_empty();
            Ok(deliverable.then_some(message))
        })
        .await
    }

    /// Held messages whose hold expired at `now`, at most `limit`.
    pub async fn expired_holds(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<QueuedMessage>, SpoolError> {
        self.call(false, move |db| {
            let mut statement = db.prepare_cached(
                "SELECT id FROM messages WHERE state = 'held' AND not_before <= ?1
                 ORDER BY not_before LIMIT ?2",
            )?;
            let ids = statement
                .query_map(params![now.as_millisecond(), limit as i64], |row| {
                    row.get::<_, String>(0)
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut messages = Vec::new();
            for id in ids {
                if let Some(message) = load_message(db, &id)? {
                    messages.push(message);
                }
            }
            Ok(messages)
        })
        .await
    }

    /// When something is next due (the earliest attempt, delay end or hold expiry), leaving
    /// out the messages in `skip`.
    pub async fn next_due(&self, skip: Vec<String>) -> Result<Option<Timestamp>, SpoolError> {
        self.call(false, move |db| {
            let mut statement = db.prepare_cached(
                "SELECT id, not_before FROM messages WHERE state IN ('queued', 'delayed', 'held')
                 ORDER BY not_before LIMIT ?1",
            )?;
            let rows = statement
                .query_map(params![skip.len() as i64 + 1], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows
                .into_iter()
                .find(|(id, _)| !skip.contains(id))
                .map(|(_, millis)| timestamp(millis)))
        })
        .await
    }

    /// The message `id`, whatever its state.
    pub async fn load(&self, id: &str) -> Result<QueuedMessage, SpoolError> {
        let id = id.to_string();
        self.call(false, move |db| {
            load_message(db, &id)?.ok_or(SpoolError::NotFound { id })
        })
        .await
    }

    /// Applies a delivery attempt's (or an expiry's) outcome. Once final, the message file is
    /// removed after the commit.
    pub async fn finish_attempt(
        &self,
        outcome: AttemptOutcome,
    ) -> Result<AttemptResult, SpoolError> {
        let sync_dir = outcome.bounce.is_some();
        let messages_dir = self.inner.messages_dir.clone();
        let id = outcome.id.clone();
        let result = self
            .call(sync_dir, move |db| apply_outcome(db, &outcome))
            .await?;
        if result.state.is_final() {
            remove_file_quietly(&messages_dir, &id);
        }
        Ok(result)
    }

    /// Lets a held or delayed message go now (a queued one is tried now). Its retry window
    /// starts again: it expires at `expires_at`.
    pub async fn release(
        &self,
        id: &str,
        by: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<QueuedMessage, SpoolError> {
        let id = id.to_string();
        let by = by.to_string();
        self.call(false, move |db| {
            let state = current_state(db, &id)?;
            if state.is_final() {
                return Err(SpoolError::WrongState {
                    id,
                    state: state.to_string(),
                });
            }
            let new_expiry = if state == State::Queued {
                None
            } else {
                Some(expires_at.as_millisecond())
            };
            db.prepare_cached(
                "UPDATE messages SET state = 'queued', not_before = ?2,
                 expires_at = coalesce(?3, expires_at) WHERE id = ?1",
            )?
            .execute(params![id, now.as_millisecond(), new_expiry])?;
            append_events(
                db,
                &[RelayEvent::Released {
                    id: id.clone(),
                    at: now,
                    by,
                }],
            )?;
            load_message(db, &id)?.ok_or(SpoolError::NotFound { id })
        })
        .await
    }

    /// Cancels a message not yet delivered: it never will be. Its file is removed.
    pub async fn cancel(&self, id: &str, by: &str, now: Timestamp) -> Result<(), SpoolError> {
        let id = id.to_string();
        let by = by.to_string();
        let messages_dir = self.inner.messages_dir.clone();
        let file_id = id.clone();
        self.call(false, move |db| {
            let state = current_state(db, &id)?;
            if state.is_final() {
                return Err(SpoolError::WrongState {
                    id,
                    state: state.to_string(),
                });
            }
            db.prepare_cached(
                "UPDATE messages SET state = 'cancelled', final_at = ?2 WHERE id = ?1",
            )?
            .execute(params![id, now.as_millisecond()])?;
            append_events(db, &[RelayEvent::Cancelled { id, at: now, by }])
        })
        .await?;
        remove_file_quietly(&messages_dir, &file_id);
        Ok(())
    }

    /// Up to `max` events from the outbox, oldest first, with their sequence numbers. They
    /// stay in the outbox until [`Spool::ack_events`].
    pub async fn take_events(&self, max: usize) -> Result<Vec<(u64, RelayEvent)>, SpoolError> {
        self.call(false, move |db| {
            let mut statement =
                db.prepare_cached("SELECT seq, body FROM events ORDER BY seq LIMIT ?1")?;
            let rows = statement
                .query_map(params![max as i64], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut events = Vec::with_capacity(rows.len());
            for (seq, body) in rows {
                let seq = u64::try_from(seq).unwrap_or_default();
                let event = serde_json::from_str(&body).map_err(|error| SpoolError::Event {
                    seq,
                    reason: error.to_string(),
                })?;
                events.push((seq, event));
            }
            Ok(events)
        })
        .await
    }

    /// Removes every event up to and including `seq` from the outbox.
    pub async fn ack_events(&self, seq: u64) -> Result<(), SpoolError> {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        self.call(false, move |db| {
            db.prepare_cached("DELETE FROM events WHERE seq <= ?1")?
                .execute(params![seq])?;
            Ok(())
        })
        .await
    }

    /// Forgets final messages finished before `before`; returns how many.
    pub async fn purge(&self, before: Timestamp) -> Result<usize, SpoolError> {
        self.call(false, move |db| {
            let before = before.as_millisecond();
            db.prepare_cached(
                "DELETE FROM recipients WHERE message IN
                 (SELECT id FROM messages WHERE final_at IS NOT NULL AND final_at < ?1)",
            )?
            .execute(params![before])?;
            let removed = db
                .prepare_cached(
                    "DELETE FROM messages WHERE final_at IS NOT NULL AND final_at < ?1",
                )?
                .execute(params![before])?;
            Ok(removed)
        })
        .await
    }

    /// Counts messages per state (for status pages and tests).
    pub async fn counts(&self) -> Result<Vec<(State, u64)>, SpoolError> {
        self.call(false, |db| {
            let mut statement =
                db.prepare_cached("SELECT state, count(*) FROM messages GROUP BY state")?;
            let rows = statement
                .query_map([], |row| {
                    Ok((
                        State::parse(&row.get::<_, String>(0)?),
                        u64::try_from(row.get::<_, i64>(1)?).unwrap_or_default(),
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Stops the committer after the group it is committing, as a crash would: work not yet
    /// committed is dropped (its callers get [`SpoolError::Closed`]). Waits for the thread.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        if let Ok(mut jobs) = self.inner.jobs.lock() {
            jobs.take();
        }
        let handle = self
            .inner
            .committer
            .lock()
            .ok()
            .and_then(|mut committer| committer.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    /// Runs `work` in the committer's next group; resolves after the group committed.
    async fn call<R, F>(&self, sync_dir: bool, work: F) -> Result<R, SpoolError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, SpoolError> + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel::<Result<R, SpoolError>>();
        let work: Work = Box::new(move |db: Option<&Connection>| -> Completion {
            let result = db.map(|db| in_savepoint(db, work));
            Box::new(move |committed: Result<(), String>| {
                let outcome = match (result, committed) {
                    (_, Err(reason)) => Err(SpoolError::Commit { reason }),
                    (None, Ok(())) => Err(SpoolError::Closed),
                    (Some(result), Ok(())) => result,
                };
                let _ = sender.send(outcome);
            })
        });
        {
            let jobs = self.inner.jobs.lock().map_err(|_| SpoolError::Closed)?;
            let Some(jobs) = jobs.as_ref() else {
                return Err(SpoolError::Closed);
            };
            jobs.send(Job { sync_dir, work })
                .map_err(|_| SpoolError::Closed)?;
        }
        receiver.await.map_err(|_| SpoolError::Closed)?
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// 16 bytes that differ per process, so ids cannot be predicted from one another.
fn id_key() -> [u8; 16] {
    let mut key = [0u8; 16];
    let from_urandom = File::open("/dev/urandom").and_then(|mut file| file.read_exact(&mut key));
    if from_urandom.is_err() {
        let mut hasher = Sha256::new();
        hasher.update(std::process::id().to_le_bytes());
        hasher.update(Timestamp::now().as_nanosecond().to_le_bytes());
        for (slot, byte) in key.iter_mut().zip(hasher.finalize().iter()) {
            *slot = *byte;
        }
    }
    key
}

fn create_private_dir(dir: &Path) -> Result<(), SpoolError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io_error(dir))
}

fn open_database(path: &Path) -> Result<Connection, SpoolError> {
    let database_error = |source| SpoolError::Database {
        path: path.display().to_string(),
        source,
    };
    let connection = Connection::open(path).map_err(database_error)?;
    connection
        .busy_timeout(std::time::Duration::from_secs(10))
        .map_err(database_error)?;
    // WAL + synchronous=FULL: every commit is fsync'ed before it returns. Checkpoints are
    // the committer's, when it is idle (see `commit_loop`), not SQLite's automatic ones.
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA wal_autocheckpoint = 0;
             PRAGMA foreign_keys = ON;",
        )
        .map_err(database_error)?;
    connection
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS messages (
                 id TEXT PRIMARY KEY,
                 state TEXT NOT NULL,
                 origin TEXT NOT NULL,
                 mail_from TEXT NOT NULL,
                 helo TEXT NOT NULL,
                 client TEXT,
                 smtputf8 INTEGER NOT NULL,
                 body_8bit INTEGER NOT NULL,
                 size INTEGER NOT NULL,
                 header_message_id TEXT,
                 action TEXT NOT NULL,
                 received_at INTEGER NOT NULL,
                 not_before INTEGER NOT NULL,
                 expires_at INTEGER NOT NULL,
                 attempts INTEGER NOT NULL DEFAULT 0,
                 final_at INTEGER
             );
             CREATE INDEX IF NOT EXISTS messages_due ON messages (state, not_before);
             CREATE INDEX IF NOT EXISTS messages_final ON messages (final_at) WHERE final_at IS NOT NULL;
             CREATE TABLE IF NOT EXISTS recipients (
                 message TEXT NOT NULL REFERENCES messages (id),
                 position INTEGER NOT NULL,
                 address TEXT NOT NULL,
                 state TEXT NOT NULL,
                 detail TEXT,
                 PRIMARY KEY (message, position)
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS events (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 version INTEGER NOT NULL,
                 body TEXT NOT NULL
             );",
        )
        .map_err(database_error)?;
    let found: Option<i64> = connection
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(database_error)?;
    match found {
        Some(found) if found > SCHEMA_VERSION => {
            return Err(SpoolError::NewerSchema {
                path: path.display().to_string(),
                found,
            });
        }
        Some(_) => {}
        None => {
            connection
                .execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                    params![SCHEMA_VERSION],
                )
                .map_err(database_error)?;
        }
    }
    Ok(connection)
}

/// Removes message files with no unfinished message: left by a crash between the file's
/// fsync and the commit (never acknowledged), or between a final commit and the removal.
fn remove_orphans(connection: &Connection, messages_dir: &Path) -> Result<(), SpoolError> {
    let entries = fs::read_dir(messages_dir).map_err(io_error(messages_dir))?;
    let mut statement = connection.prepare(
        "SELECT 1 FROM messages WHERE id = ?1 AND state IN ('queued', 'delayed', 'held')",
    )?;
    let mut removed = 0usize;
    for entry in entries {
        let entry = entry.map_err(io_error(messages_dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let live = statement.exists(params![name.as_ref()])?;
        if !live {
            let path = entry.path();
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(error) => {
                    warn!(path = %path.display(), %error, "cannot remove orphan message file")
                }
            }
        }
    }
    if removed > 0 {
        info!(removed, "removed message files without a queue record");
    }
    Ok(())
}

fn remove_file_quietly(messages_dir: &Path, id: &str) {
    if !valid_id(id) {
        return;
    }
    let path = messages_dir.join(id);
    if let Err(error) = fs::remove_file(&path)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        warn!(path = %path.display(), %error, "cannot remove finished message file");
    }
}

/// WAL frames after which the committer checkpoints when it has nothing else to do.
const IDLE_CHECKPOINT_FRAMES: i64 = 256;
/// WAL frames after which it checkpoints even with work waiting (a WAL that is never
/// checkpointed grows without bound).
const FORCED_CHECKPOINT_FRAMES: i64 = 8192;

/// Commits groups of jobs, and checkpoints the WAL in between.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold, adding a
/// copy of the WAL and an fsync of the database to that group's latency; a checkpoint on
/// another connection never completes under steady writes (new frames keep arriving), so the
/// WAL is never reset and grows. Here the only writer checkpoints after a group, once its
/// replies are sent and no job is waiting: the checkpoint completes, and the next commit
/// starts the WAL over.
fn commit_loop(
    mut connection: Connection,
    receiver: mpsc::Receiver<Job>,
    messages_dir: &Path,
    closed: &AtomicBool,
) {
    let wal_frames = Arc::new(AtomicI64::new(0));
    let hook_frames = wal_frames.clone();
    let hooked = connection.wal_hook(Some(
        move |_wal: &mut rusqlite::hooks::Wal, frames: std::ffi::c_int| {
            hook_frames.store(i64::from(frames), Ordering::Relaxed);
            Ok(())
        },
    ));
    if let Err(error) = hooked {
        // Without the hook, fall back on SQLite's own checkpoints.
        warn!(%error, "cannot watch the spool WAL, using automatic checkpoints");
        let _ = connection.execute_batch("PRAGMA wal_autocheckpoint = 1000");
    }
    let mut waiting: Option<Job> = None;
    loop {
        let first = match waiting.take() {
            Some(job) => job,
            None => match receiver.recv() {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        if closed.load(Ordering::SeqCst) {
            break;
        }
        commit_group(&connection, group, messages_dir);

        let frames = wal_frames.load(Ordering::Relaxed);
        if frames < IDLE_CHECKPOINT_FRAMES {
            continue;
        }
        match receiver.try_recv() {
            Ok(job) => {
                waiting = Some(job);
                if frames >= FORCED_CHECKPOINT_FRAMES {
                    checkpoint(&connection, &wal_frames);
                }
            }
            Err(_) => checkpoint(&connection, &wal_frames),
        }
    }
}

fn checkpoint(connection: &Connection, wal_frames: &AtomicI64) {
    let result = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, i64>(2)?,
        ))
    });
    match result {
        // Everything copied: the next commit starts the WAL over.
        Ok((0, log, copied)) if log == copied => wal_frames.store(0, Ordering::Relaxed),
        Ok(_) => {}
        Err(error) => warn!(%error, "spool checkpoint failed"),
    }
}

fn commit_group(connection: &Connection, group: Vec<Job>, messages_dir: &Path) {
    let mut prepared: Result<(), String> = Ok(());
    if group.iter().any(|job| job.sync_dir) {
        // The new files' directory entries must be durable before their rows are.
        prepared = File::open(messages_dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|error| format!("fsync of {}: {error}", messages_dir.display()));
    }
    if prepared.is_ok() {
        prepared = connection
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|error| error.to_string());
    }
    if let Err(reason) = prepared {
        warn!(%reason, "spool group not committed");
        for job in group {
            let completion = (job.work)(None);
            completion(Err(reason.clone()));
        }
        return;
    }
    let completions: Vec<Completion> = group
        .into_iter()
        .map(|job| (job.work)(Some(connection)))
        .collect();
    let committed = match connection.execute_batch("COMMIT") {
        Ok(()) => Ok(()),
        Err(error) => {
            let _ = connection.execute_batch("ROLLBACK");
            warn!(%error, "spool commit failed");
            Err(error.to_string())
        }
    };
    for completion in completions {
        completion(committed.clone());
    }
}

fn in_savepoint<R>(
    db: &Connection,
    work: impl FnOnce(&Connection) -> Result<R, SpoolError>,
) -> Result<R, SpoolError> {
    db.execute_batch("SAVEPOINT job")?;
    match work(db) {
        Ok(value) => {
            db.execute_batch("RELEASE job")?;
            Ok(value)
        }
        Err(error) => {
            let _ = db.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(error)
        }
    }
}

fn append_events(db: &Connection, events: &[RelayEvent]) -> Result<(), SpoolError> {
    let mut statement = db.prepare_cached("INSERT INTO events (version, body) VALUES (?1, ?2)")?;
    for event in events {
        let body = serde_json::to_string(event).map_err(|error| SpoolError::Commit {
            reason: format!("event not serialisable: {error}"),
        })?;
        statement.execute(params![EVENT_VERSION, body])?;
    }
    Ok(())
}

fn insert_message(db: &Connection, message: &NewMessage) -> Result<(), SpoolError> {
    let envelope = &message.envelope;
    db.prepare_cached(
        "INSERT INTO messages (id, state, origin, mail_from, helo, client, smtputf8, body_8bit,
             size, header_message_id, action, received_at, not_before, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        message.id,
        message.state.as_str(),
        message.origin.as_str(),
        envelope.mail_from,
        envelope.helo,
        envelope.client.map(|client| client.to_string()),
        envelope.smtputf8,
        envelope.body_8bit,
        i64::try_from(message.size).unwrap_or(i64::MAX),
        message.message_id,
        message.action,
        message.received_at.as_millisecond(),
        message.not_before.as_millisecond(),
        message.expires_at.as_millisecond(),
    ])?;
    let mut statement = db.prepare_cached(
        "INSERT INTO recipients (message, position, address, state) VALUES (?1, ?2, ?3, 'pending')",
    )?;
    for (position, address) in envelope.rcpt_to.iter().enumerate() {
        statement.execute(params![message.id, position as i64, address])?;
    }
    Ok(())
}

fn current_state(db: &Connection, id: &str) -> Result<State, SpoolError> {
    let state: Option<String> = db
        .prepare_cached("SELECT state FROM messages WHERE id = ?1")?
        .query_row(params![id], |row| row.get(0))
        .optional()?;
    state
        .map(|state| State::parse(&state))
        .ok_or_else(|| SpoolError::NotFound { id: id.to_string() })
}

fn timestamp(millis: i64) -> Timestamp {
    Timestamp::from_millisecond(millis).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn load_message(db: &Connection, id: &str) -> Result<Option<QueuedMessage>, SpoolError> {
    let row = db
        .prepare_cached(
            "SELECT state, origin, mail_from, helo, client, smtputf8, body_8bit, header_message_id,
                    received_at, not_before, expires_at, attempts
             FROM messages WHERE id = ?1",
        )?
        .query_row(params![id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, Option<String>>(4)?,
                row.get::<_, bool>(5)?,
                row.get::<_, bool>(6)?,
                row.get::<_, Option<String>>(7)?,
                row.get::<_, i64>(8)?,
                row.get::<_, i64>(9)?,
                row.get::<_, i64>(10)?,
                row.get::<_, i64>(11)?,
            ))
        })
        .optional()?;
    let Some((
        state,
        origin,
        mail_from,
        helo,
        client,
        smtputf8,
        body_8bit,
        message_id,
        received_at,
        not_before,
        expires_at,
        attempts,
    )) = row
    else {
        return Ok(None);
    };
    let mut statement = db.prepare_cached(
        "SELECT position, address, state FROM recipients WHERE message = ?1 ORDER BY position",
    )?;
    let recipients = statement
        .query_map(params![id], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut rcpt_to = Vec::with_capacity(recipients.len());
    let mut pending = Vec::new();
    for (position, address, state) in recipients {
        if state == RecipientState::Pending.as_str() {
            pending.push(PendingRecipient {
                position: u32::try_from(position).unwrap_or_default(),
                address: address.clone(),
            });
        }
        rcpt_to.push(address);
    }
    Ok(Some(QueuedMessage {
        id: id.to_string(),
        state: State::parse(&state),
        origin: Origin::parse(&origin),
        envelope: StoredEnvelope {
            mail_from,
            rcpt_to,
            helo,
            client: client.and_then(|client| client.parse().ok()),
            smtputf8,
            body_8bit,
        },
        pending,
        attempts: u32::try_from(attempts).unwrap_or_default(),
        received_at: timestamp(received_at),
        not_before: timestamp(not_before),
        expires_at: timestamp(expires_at),
        message_id,
    }))
}

fn apply_outcome(db: &Connection, outcome: &AttemptOutcome) -> Result<AttemptResult, SpoolError> {
    let state = current_state(db, &outcome.id)?;
    if let Some(expected) = outcome.only_if
        && state != expected
    {
        return Err(SpoolError::WrongState {
            id: outcome.id.clone(),
            state: state.to_string(),
        });
    }
    if state.is_final() {
        return Err(SpoolError::WrongState {
            id: outcome.id.clone(),
            state: state.to_string(),
        });
    }
    let mut update = db.prepare_cached(
        "UPDATE recipients SET state = ?3, detail = ?4
         WHERE message = ?1 AND position = ?2 AND state = 'pending'",
    )?;
    for (position, recipient_state, detail) in &outcome.recipients {
        update.execute(params![
            outcome.id,
            i64::from(*position),
            recipient_state.as_str(),
            detail
        ])?;
    }
    let (pending, failed): (i64, i64) = db
        .prepare_cached(
            "SELECT coalesce(sum(state = 'pending'), 0), coalesce(sum(state = 'failed'), 0)
             FROM recipients WHERE message = ?1",
        )?
        .query_row(params![outcome.id], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let now = outcome.now.as_millisecond();
    let attempts_added = i64::from(outcome.attempted);
    let new_state =
        if pending > 0 {
            db.prepare_cached(
                "UPDATE messages SET state = 'queued', not_before = ?2, attempts = attempts + ?3
             WHERE id = ?1",
            )?
            .execute(params![
                outcome.id,
                outcome.retry_at.as_millisecond(),
                attempts_added
            ])?;
            State::Queued
        } else {
            let final_state = if failed > 0 {
                State::Bounced
            } else {
                State::Delivered
            };
            db.prepare_cached(
            "UPDATE messages SET state = ?2, final_at = ?3, attempts = attempts + ?4 WHERE id = ?1",
        )?
        .execute(params![outcome.id, final_state.as_str(), now, attempts_added])?;
            final_state
        };
    if let Some(bounce) = &outcome.bounce {
        insert_message(db, bounce)?;
    }
    append_events(db, &outcome.events)?;
    Ok(AttemptResult { state: new_state })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn new_message(spool: &Spool, rcpt_to: &[&str], state: State) -> NewMessage {
        let id = spool.new_id();
        spool
            .write_message(&id, &[b"Subject: t\r\n\r\nbody\r\n"])
            .unwrap();
        let now = Timestamp::now();
        NewMessage {
            id,
            origin: Origin::Client,
            envelope: StoredEnvelope {
                mail_from: "a@example.jp".into(),
                rcpt_to: rcpt_to.iter().map(|r| r.to_string()).collect(),
                helo: "client".into(),
                client: None,
                smtputf8: false,
                body_8bit: false,
            },
            state,
            received_at: now,
            not_before: now,
            expires_at: now,
            size: 20,
            message_id: None,
            action: "pass".into(),
        }
    }

    #[tokio::test]
    async fn a_partial_delivery_leaves_only_the_others_pending() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let message = new_message(&spool, &["x@a.jp", "y@b.jp"], State::Queued);
        let id = message.id.clone();
        spool.store(message, vec![]).await.unwrap();
        let due = spool.due(Timestamp::now(), 10, vec![]).await.unwrap();
        assert_eq!(due, vec![id.clone()]);
        assert!(
            spool
                .due(Timestamp::now(), 10, due.clone())
                .await
                .unwrap()
                .is_empty()
        );
        assert!(spool.claim(&id, Timestamp::now()).await.unwrap().is_some());
        let outcome = AttemptOutcome {
            id: id.clone(),
            now: Timestamp::now(),
            recipients: vec![
                (0, RecipientState::Delivered, "250 ok".into()),
                (1, RecipientState::Pending, "451 later".into()),
            ],
            retry_at: Timestamp::now(),
            attempted: true,
            only_if: None,
            events: vec![],
            bounce: None,
        };
        assert_eq!(
            spool.finish_attempt(outcome).await.unwrap().state,
            State::Queued
        );
        let loaded = spool.load(&id).await.unwrap();
        assert_eq!(loaded.attempts, 1);
        assert_eq!(
            loaded.pending,
            vec![PendingRecipient {
                position: 1,
                address: "y@b.jp".into()
            }]
        );
        assert!(spool.message_path(&id).exists());
    }

    #[tokio::test]
    async fn events_survive_reopening_until_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let event = RelayEvent::Released {
            id: "abc".into(),
            at: Timestamp::UNIX_EPOCH,
            by: "boss".into(),
        };
        spool
            .record(vec![event.clone(), event.clone()])
            .await
            .unwrap();
        spool.close();
        let spool = Spool::open(dir.path()).unwrap();
        let events = spool.take_events(10).await.unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].1, event);
        spool.ack_events(events[0].0).await.unwrap();
        assert_eq!(spool.take_events(10).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn files_without_a_record_are_removed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let orphan = spool.new_id();
        spool.write_message(&orphan, &[b"x"]).unwrap();
        let kept = new_message(&spool, &["x@a.jp"], State::Held);
        let kept_id = kept.id.clone();
        spool.store(kept, vec![]).await.unwrap();
        spool.close();
        let spool = Spool::open(dir.path()).unwrap();
        assert!(!spool.message_path(&orphan).exists());
        assert!(spool.message_path(&kept_id).exists());
    }

    #[tokio::test]
    async fn cancel_is_refused_once_final() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let message = new_message(&spool, &["x@a.jp"], State::Delayed);
        let id = message.id.clone();
        spool.store(message, vec![]).await.unwrap();
        spool.cancel(&id, "alice", Timestamp::now()).await.unwrap();
        assert!(!spool.message_path(&id).exists());
        assert!(matches!(
            spool.cancel(&id, "alice", Timestamp::now()).await,
            Err(SpoolError::WrongState { .. })
        ));
        assert!(matches!(
            spool
                .release(&id, "alice", Timestamp::now(), Timestamp::now())
                .await,
            Err(SpoolError::WrongState { .. })
        ));
    }

    #[test]
    fn ids_are_unique_and_safe_as_file_names() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| spool.new_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| id.len() == 24 && valid_id(id)));
    }
}
