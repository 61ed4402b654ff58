//! The checks run on every outbound message, and the facts they consult.
//!
//! Each check looks at one thing and returns zero or more [`Reason`]s — its name, and what it
//! found in English and Japanese — and nothing else: which action a finding leads to is the
//! [`policy`](crate::policy)'s business. Reasons name recipients' addresses and domains,
//! attachment names and counts per kind of sensitive data; never a body's text and never a
//! sensitive value.
//!
//! | check | finds |
//! |---|---|
//! | [`lookalike_domain`] | a recipient domain imitating an own or partner domain |
//! | [`first_external_domain`] | an outside domain this sender ([`FIRST_EXTERNAL_DOMAIN`]) or the whole organisation ([`FIRST_EXTERNAL_DOMAIN_ORG`]) has never sent to |
//! | [`many_external`] | more outside addresses in To and Cc than the threshold |
//! | [`name_mismatch`] | a display name this sender has used for another address |
//! | [`sensitive_content`] | personal data, labels or secrets in the body or attachments to outside recipients |
//! | [`encrypted_archive`] | password-protected attachments to outside recipients (the "PPAP" practice) |
//! | [`uninspectable_attachment`] | attachments that could not be fully inspected |
//! | [`sender_context`] | a departing or high-risk sender |
//! | [`unreadable_message`] | a message that could not be read |
//!
//! The facts: [`Senders`] (who a sender address belongs to: departing, risk level,
//! supervisor; filled by the server and replaced whole at run time) and [`History`] (what each
//! sender has sent to: domains and display name → address; a SQLite file that learns only from
//! mail that actually left, through [`Guard::delivered`](crate::decision::Guard::delivered)).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use mamori_content::detect::{Detector, DetectorConfig, FindingKind};
use mamori_content::extract::{FileType, Limits, ProblemKind, detect_type};
use mamori_content::inspect::Inspector;
use rusqlite::{Connection, OptionalExtension, params};
use unicode_normalization::UnicodeNormalization;

use crate::decision::{Envelope, Reason};
use crate::lookalike::Protected;
use crate::message::{Message, domain_of};

/// Check names, as they appear in [`Reason::check`] and as the policy's section names.
pub const LOOKALIKE_DOMAIN: &str = "lookalike_domain";
pub const FIRST_EXTERNAL_DOMAIN: &str = "first_external_domain";
pub const FIRST_EXTERNAL_DOMAIN_ORG: &str = "first_external_domain_org";
pub const MANY_EXTERNAL: &str = "many_external";
pub const NAME_MISMATCH: &str = "name_mismatch";
pub const SENSITIVE_CONTENT: &str = "sensitive_content";
pub const ENCRYPTED_ARCHIVE: &str = "encrypted_archive";
pub const UNINSPECTABLE_ATTACHMENT: &str = "uninspectable_attachment";
pub const SENDER_CONTEXT: &str = "sender_context";
pub const UNREADABLE_MESSAGE: &str = "unreadable_message";
/// Not a check: the history could not be read, so the history checks did not run (logged,
/// never an action of its own).
pub const HISTORY_UNAVAILABLE: &str = "history_unavailable";

// ---------------------------------------------------------------------------------------------
// Senders
// ---------------------------------------------------------------------------------------------

/// A person's risk level, as the server computes it (`none` < `low` < `medium` < `high` <
/// `critical`).
pub type RiskLevel = mamori_event::Level;

/// What the organisation knows about the person behind a sender address.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderFacts {
    /// Leaving the organisation (notice given, last day set): the time data walks out.
    #[serde(default)]
    pub departing: bool,
    /// The person's current risk level, when the server has one.
    #[serde(default)]
    pub risk: Option<RiskLevel>,
    /// The supervisor's address: who approves this person's held messages.
    #[serde(default)]
    pub supervisor: Option<String>,
    /// The person's user name in Mamori (for events and notifications).
    #[serde(default)]
    pub user: Option<String>,
}

/// Sender address (lower case) → [`SenderFacts`], swapped whole at run time: a decision sees
/// either the old map or the new one, never a mixture.
#[derive(Debug, Default)]
pub struct Senders {
    map: RwLock<Arc<HashMap<String, SenderFacts>>>,
}

impl Senders {
    /// An empty map: every sender is unknown (no facts, the policy's default approver).
    pub fn new() -> Senders {
        Senders::default()
    }

    /// A map from the start; addresses are lower-cased.
    pub fn with(map: HashMap<String, SenderFacts>) -> Senders {
        let senders = Senders::new();
        senders.replace(map);
        senders
    }

    /// Replaces the whole map (addresses are lower-cased).
    pub fn replace(&self, map: HashMap<String, SenderFacts>) {
        let map: HashMap<String, SenderFacts> = map
            .into_iter()
            .map(|(address, facts)| (address.trim().to_lowercase(), facts))
            .collect();
        let mut slot = self
            .map
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Arc::new(map);
    }

    /// The facts about `address` (any case), if any.
    pub fn get(&self, address: &str) -> Option<SenderFacts> {
        let map = {
            let slot = self
                .map
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            Arc::clone(&slot)
        };
        map.get(&address.trim().to_lowercase()).cloned()
    }

    /// How many sender addresses are known.
    pub fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// ---------------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------------

/// The history file could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("history {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "history {path}: format version {found}, this build reads version {HISTORY_VERSION}; \
         move the file away to start a new history"
    )]
    Version { path: String, found: i64 },
}

/// The version of the history file's tables (SQLite `user_version`).
pub const HISTORY_VERSION: i64 = 1;

/// How much the history keeps: it is consulted for every message, so it must stay small
/// enough that its indexes are in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Rows not used for this many days are forgotten (a domain not written to for two years
    /// is new again).
    pub retention_days: u32,
    /// Most rows per table (sender domains, organisation domains, contacts); the least
    /// recently used go first.
    pub max_rows: u64,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        HistoryLimits {
            retention_days: 730,
            max_rows: 2_000_000,
        }
    }
}

/// Pruning runs once per this many recorded messages: often enough to stay bounded, rarely
/// enough that its cost does not matter.
const PRUNE_EVERY: u64 = 512;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS sender_domain (
        sender TEXT NOT NULL,
        domain TEXT NOT NULL,
        first_at INTEGER NOT NULL,
        last_at INTEGER NOT NULL,
        messages INTEGER NOT NULL,
        PRIMARY KEY (sender, domain)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS sender_domain_last ON sender_domain (last_at);
    CREATE TABLE IF NOT EXISTS organisation_domain (
        domain TEXT PRIMARY KEY,
        first_at INTEGER NOT NULL,
        last_at INTEGER NOT NULL,
        messages INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS organisation_domain_last ON organisation_domain (last_at);
    CREATE TABLE IF NOT EXISTS contact (
        sender TEXT NOT NULL,
        name TEXT NOT NULL,
        address TEXT NOT NULL,
        first_at INTEGER NOT NULL,
        last_at INTEGER NOT NULL,
        messages INTEGER NOT NULL,
        PRIMARY KEY (sender, name, address)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS contact_last ON contact (last_at);
";

/// What each sender, and the organisation, has sent mail to: outside domains and the display
/// names used for addresses. Lookups are primary-key probes through cached prepared
/// statements (a few microseconds each) on a connection of their own; learning and pruning
/// use another (for a file: WAL lets the lookups of a decision go on while a delivery is
/// written or old rows are pruned, so the SMTP client never waits for them).
pub struct History {
    /// For lookups (and for everything when in memory).
    reader: Mutex<Connection>,
    /// For writes, when the history is a file.
    writer: Option<Mutex<Connection>>,
    /// For error messages: the file, or `:memory:`.
    path: String,
    limits: HistoryLimits,
    recorded: AtomicU64,
}

/// One delivered message, as the history learns it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// The sender address, lower case.
    pub sender: String,
    /// Outside recipients' registrable domains ([`registrable_domain`] of
    /// [`normalize_domain`]).
    pub domains: Vec<String>,
    /// Display names ([`normalize_name`]) and the addresses (lower case) they were used for.
    pub contacts: Vec<(String, String)>,
}

impl History {
    /// Opens (or creates) the history file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<History, HistoryError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let open = || {
            Connection::open(path).map_err(|source| HistoryError::Sqlite {
                path: shown.clone(),
                source,
            })
        };
        let writer = open()?;
        let mut history = History::setup(writer, shown.clone(), true)?;
        // The schema exists now: the second connection only reads.
        let reader = open()?;
        reader
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|source| HistoryError::Sqlite {
                path: shown,
                source,
            })?;
        let writer = std::mem::replace(&mut history.reader, Mutex::new(reader));
        history.writer = Some(writer);
        Ok(history)
    }

    /// A history kept in memory (tests, trials): forgotten when dropped.
    pub fn in_memory() -> Result<History, HistoryError> {
        let shown = ":memory:".to_owned();
        let conn = Connection::open_in_memory().map_err(|source| HistoryError::Sqlite {
            path: shown.clone(),
            source,
        })?;
        History::setup(conn, shown, false)
    }

    /// The same history with other limits.
    pub fn with_limits(mut self, limits: HistoryLimits) -> History {
        self.limits = limits;
        self
    }

    fn setup(conn: Connection, path: String, on_disk: bool) -> Result<History, HistoryError> {
        let sqlite = |source| HistoryError::Sqlite {
            path: path.clone(),
            source,
        };
        if on_disk {
            // WAL: lookups do not wait for a write; NORMAL: a crash may lose the last
            // deliveries learnt (they are learnt again next time), never corrupt the file.
            conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
                .map_err(sqlite)?;
        }
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(sqlite)?;
        if version != 0 && version != HISTORY_VERSION {
            return Err(HistoryError::Version {
                path,
                found: version,
            });
        }
        conn.execute_batch(SCHEMA).map_err(sqlite)?;
        conn.execute_batch(&format!("PRAGMA user_version = {HISTORY_VERSION}"))
            .map_err(sqlite)?;
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('created_at', ?1)",
            params![jiff::Timestamp::now().as_second().to_string()],
        )
        .map_err(sqlite)?;
        Ok(History {
            reader: Mutex::new(conn),
            writer: None,
            path,
            limits: HistoryLimits::default(),
            recorded: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        lock_connection(&self.reader)
    }

    fn lock_writer(&self) -> MutexGuard<'_, Connection> {
        lock_connection(self.writer.as_ref().unwrap_or(&self.reader))
    }

    fn error(&self, source: rusqlite::Error) -> HistoryError {
        HistoryError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// When the history was started (its first opening): the learning period counts from it.
    pub fn created_at(&self) -> Result<jiff::Timestamp, HistoryError> {
        let conn = self.lock();
        let value: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'created_at'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.error(e))?;
        let seconds = value.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        Ok(jiff::Timestamp::from_second(seconds).unwrap_or(jiff::Timestamp::UNIX_EPOCH))
    }

    /// Sets when the history was started (tests of the learning period, imports).
    pub fn set_created_at(&self, at: jiff::Timestamp) -> Result<(), HistoryError> {
        let conn = self.lock_writer();
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('created_at', ?1)",
            params![at.as_second().to_string()],
        )
        .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Whether `sender` has sent to `domain` before (both as stored: lower case, ASCII form).
    pub fn sender_knows_domain(&self, sender: &str, domain: &str) -> Result<bool, HistoryError> {
        let conn = self.lock();
        let mut statement = conn
            .prepare_cached("SELECT 1 FROM sender_domain WHERE sender = ?1 AND domain = ?2")
            .map_err(|e| self.error(e))?;
        statement
            .exists(params![sender, domain])
            .map_err(|e| self.error(e))
    }

    /// Whether anyone in the organisation has sent to `domain` before.
    pub fn organisation_knows_domain(&self, domain: &str) -> Result<bool, HistoryError> {
        let conn = self.lock();
        let mut statement = conn
            .prepare_cached("SELECT 1 FROM organisation_domain WHERE domain = ?1")
            .map_err(|e| self.error(e))?;
        statement.exists(params![domain]).map_err(|e| self.error(e))
    }

    /// The addresses `sender` has written to under the display name `name` (normalised by
    /// [`normalize_name`]), most recently used first, at most 16.
    pub fn addresses_for_name(
        &self,
        sender: &str,
        name: &str,
    ) -> Result<Vec<String>, HistoryError> {
        let conn = self.lock();
        let mut statement = conn
            .prepare_cached(
                "SELECT address FROM contact WHERE sender = ?1 AND name = ?2
                 ORDER BY last_at DESC LIMIT 16",
            )
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map(params![sender, name], |row| row.get::<_, String>(0))
            .map_err(|e| self.error(e))?;
        let mut addresses = Vec::new();
        for row in rows {
            addresses.push(row.map_err(|e| self.error(e))?);
        }
        Ok(addresses)
    }

    /// Learns a delivered message, at `at`.
    pub fn record(&self, delivery: &Delivery, at: jiff::Timestamp) -> Result<(), HistoryError> {
        let now = at.as_second();
        {
            let mut conn = self.lock_writer();
            let tx = conn.transaction().map_err(|e| self.error(e))?;
            {
                let mut sender_domain = tx
                    .prepare_cached(
                        "INSERT INTO sender_domain (sender, domain, first_at, last_at, messages)
                         VALUES (?1, ?2, ?3, ?3, 1)
                         ON CONFLICT (sender, domain) DO UPDATE
                         SET last_at = max(last_at, excluded.last_at), messages = messages + 1",
                    )
                    .map_err(|e| self.error(e))?;
                let mut organisation_domain = tx
                    .prepare_cached(
                        "INSERT INTO organisation_domain (domain, first_at, last_at, messages)
                         VALUES (?1, ?2, ?2, 1)
                         ON CONFLICT (domain) DO UPDATE
                         SET last_at = max(last_at, excluded.last_at), messages = messages + 1",
                    )
                    .map_err(|e| self.error(e))?;
                let mut contact = tx
                    .prepare_cached(
                        "INSERT INTO contact (sender, name, address, first_at, last_at, messages)
                         VALUES (?1, ?2, ?3, ?4, ?4, 1)
                         ON CONFLICT (sender, name, address) DO UPDATE
                         SET last_at = max(last_at, excluded.last_at), messages = messages + 1",
                    )
                    .map_err(|e| self.error(e))?;
                for domain in &delivery.domains {
                    sender_domain
                        .execute(params![delivery.sender, domain, now])
                        .map_err(|e| self.error(e))?;
                    organisation_domain
                        .execute(params![domain, now])
                        .map_err(|e| self.error(e))?;
                }
                for (name, address) in &delivery.contacts {
                    contact
                        .execute(params![delivery.sender, name, address, now])
                        .map_err(|e| self.error(e))?;
                }
            }
            tx.commit().map_err(|e| self.error(e))?;
        }
        let recorded = self.recorded.fetch_add(1, Ordering::Relaxed) + 1;
        if recorded.is_multiple_of(PRUNE_EVERY) {
            self.prune(at)?;
        }
        Ok(())
    }

    /// Forgets rows unused for longer than the retention, then the least recently used rows
    /// beyond the row limit of each table.
    pub fn prune(&self, now: jiff::Timestamp) -> Result<(), HistoryError> {
        let cutoff = now
            .as_second()
            .saturating_sub(i64::from(self.limits.retention_days).saturating_mul(86_400));
        let max_rows = i64::try_from(self.limits.max_rows).unwrap_or(i64::MAX);
        let conn = self.lock_writer();
        for table in ["sender_domain", "organisation_domain", "contact"] {
            conn.execute(
                &format!("DELETE FROM {table} WHERE last_at < ?1"),
                params![cutoff],
            )
            .map_err(|e| self.error(e))?;
            // The row just past the limit (newest first) and every row as old or older go:
            // at most max_rows remain (fewer when rows at the boundary share a second).
            conn.execute(
                &format!(
                    "DELETE FROM {table} WHERE last_at <= (
                        SELECT last_at FROM {table} ORDER BY last_at DESC LIMIT 1 OFFSET ?1)"
                ),
                params![max_rows],
            )
            .map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// How many rows each table holds: (sender domains, organisation domains, contacts).
    pub fn counts(&self) -> Result<(u64, u64, u64), HistoryError> {
        let conn = self.lock();
        let count = |table: &str| -> Result<u64, HistoryError> {
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|e| self.error(e))
        };
        Ok((
            count("sender_domain")?,
            count("organisation_domain")?,
            count("contact")?,
        ))
    }
}

fn lock_connection(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock leaves SQLite consistent (each statement or transaction
    // is atomic): the connection is still usable.
    connection
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("path", &self.path)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------------
// Domains, names and recipients
// ---------------------------------------------------------------------------------------------

/// A domain as the history and the comparisons use it: trimmed, without a trailing dot, in
/// lower-case ASCII (`xn--` form for a Unicode domain). An address literal (`[192.0.2.1]`) or
/// text that is not a domain name is only lower-cased.
pub fn normalize_domain(domain: &str) -> String {
    let trimmed = domain.trim();
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if trimmed.starts_with('[') {
        return trimmed.to_ascii_lowercase();
    }
    match idna::domain_to_ascii(trimmed) {
        Ok(ascii) if !ascii.is_empty() => ascii,
        _ => trimmed.to_lowercase(),
    }
}

/// The registrable domain (`partner.co.jp` for `mail.sales.partner.co.jp`, on the public
/// suffix list) of a normalised domain: what the first-time check remembers, so that a new
/// subdomain of a known organisation is not new. The domain itself when the list does not
/// know it (an address literal, a private name).
pub fn registrable_domain(domain: &str) -> &str {
    psl::domain_str(domain).unwrap_or(domain)
}

/// A display name as the history compares it: NFKC (full-width and half-width forms alike),
/// without white space of any kind (`山田 太郎`, `山田　太郎` and `山田太郎` are one name) or
/// quotes, lower case.
pub fn normalize_name(name: &str) -> String {
    name.nfkc()
        .filter(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '\u{200b}' | '\u{feff}'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The organisation's own domains: a recipient there (or in a subdomain) is internal.
#[derive(Debug, Clone, Default)]
pub struct OwnDomains {
    /// Normalised ([`normalize_domain`]).
    domains: BTreeSet<String>,
}

impl OwnDomains {
    pub fn new<I, S>(domains: I) -> OwnDomains
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        OwnDomains {
            domains: domains
                .into_iter()
                .map(|d| normalize_domain(d.as_ref()))
                .filter(|d| !d.is_empty())
                .collect(),
        }
    }

    /// Whether a normalised `domain` is one of ours or a subdomain of one of ours.
    pub fn is_internal(&self, domain: &str) -> bool {
        let mut rest = domain;
        loop {
            if self.domains.contains(rest) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, parent)) => rest = parent,
                None => return false,
            }
        }
    }
}

/// One recipient of a message, from the envelope, the To/Cc header or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Lower case.
    pub address: String,
    /// [`normalize_domain`]ed.
    pub domain: String,
    /// The display name in To/Cc, as written (decoded).
    pub name: Option<String>,
    /// In To or Cc (seen by every recipient), not only in the envelope (Bcc).
    pub visible: bool,
    /// At one of the organisation's own domains.
    pub internal: bool,
}

/// Every recipient of a message, each address once, in the order first met (envelope first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipients {
    pub list: Vec<Recipient>,
    /// Address → position in `list`: a message to a thousand people stays linear.
    index: HashMap<String, usize>,
}

impl Recipients {
    /// The envelope's `RCPT TO` addresses and the header's To and Cc mailboxes.
    pub fn collect(envelope: &Envelope, message: &Message, own: &OwnDomains) -> Recipients {
        let mut recipients = Recipients::default();
        for address in &envelope.rcpt_to {
            recipients.add(address, None, false, own);
        }
        for mailbox in message.visible_recipients() {
            recipients.add(&mailbox.address, mailbox.name.as_deref(), true, own);
        }
        recipients
    }

    fn add(&mut self, address: &str, name: Option<&str>, visible: bool, own: &OwnDomains) {
        let address = address
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_lowercase();
        if address.is_empty() {
            return;
        }
        if let Some(known) = self
            .index
            .get(&address)
            .and_then(|&position| self.list.get_mut(position))
        {
            known.visible |= visible;
            if known.name.is_none() {
                known.name = name.map(str::to_owned);
            }
            return;
        }
        let domain = normalize_domain(domain_of(&address));
        let internal = own.is_internal(&domain);
        self.index.insert(address.clone(), self.list.len());
        self.list.push(Recipient {
            address,
            domain,
            name: name.map(str::to_owned),
            visible,
            internal,
        });
    }

    /// Every distinct recipient domain, sorted.
    pub fn domains(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self
            .list
            .iter()
            .map(|r| r.domain.as_str())
            .filter(|d| !d.is_empty())
            .collect();
        set.into_iter().collect()
    }

    /// Every distinct outside recipient domain, sorted.
    pub fn external_domains(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self
            .list
            .iter()
            .filter(|r| !r.internal)
            .map(|r| r.domain.as_str())
            .filter(|d| !d.is_empty())
            .collect();
        set.into_iter().collect()
    }

    /// Every distinct registrable domain of outside recipients ([`registrable_domain`]),
    /// sorted.
    pub fn external_registrable_domains(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self
            .list
            .iter()
            .filter(|r| !r.internal && !r.domain.is_empty())
            .map(|r| registrable_domain(&r.domain))
            .collect();
        set.into_iter().collect()
    }

    /// Whether any recipient is outside the organisation.
    pub fn any_external(&self) -> bool {
        self.list.iter().any(|r| !r.internal)
    }
}

/// The sender a message is attributed to: the envelope's `MAIL FROM` (what the submission
/// server authenticated), or the header's From for a bounce (`<>`); lower case.
pub fn sender_of(envelope: &Envelope, message: &Message) -> String {
    let from = envelope
        .mail_from
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    if !from.is_empty() {
        return from.to_lowercase();
    }
    message
        .from
        .first()
        .map(|m| m.address.to_lowercase())
        .unwrap_or_default()
}

/// What the history learns from a delivered message: its outside domains and the display
/// names of its visible recipients.
pub fn delivery(sender: &str, recipients: &Recipients) -> Delivery {
    let mut contacts = Vec::new();
    for recipient in &recipients.list {
        let Some(name) = &recipient.name else {
            continue;
        };
        let key = normalize_name(name);
        if is_meaningful_name(&key, &recipient.address) {
            contacts.push((key, recipient.address.clone()));
        }
    }
    Delivery {
        sender: sender.to_owned(),
        domains: recipients
            .external_registrable_domains()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        contacts,
    }
}

/// A name worth remembering: at least two characters, and not just the address or its local
/// part (which say nothing the address does not).
fn is_meaningful_name(key: &str, address: &str) -> bool {
    let local = address.split('@').next().unwrap_or(address);
    key.chars().count() >= 2 && key != address && key != local
}

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

/// `lookalike_domain`: every recipient domain (envelope and header) that imitates an own or
/// partner domain, one reason per domain.
pub fn lookalike_domain(protected: &Protected, recipients: &Recipients) -> Vec<Reason> {
    recipients
        .domains()
        .into_iter()
        .filter_map(|domain| protected.check(domain))
        .map(|found| found.reason())
        .collect()
}

/// `first_external_domain` / `first_external_domain_org`: every outside registrable domain
/// `sender` has never sent to — `first_external_domain_org` when nobody in the organisation
/// has either (one reason per domain, the stronger one). Registrable domains, so that
/// `sales.partner.co.jp` is known once `partner.co.jp` is.
pub fn first_external_domain(
    history: &History,
    sender: &str,
    recipients: &Recipients,
) -> Result<Vec<Reason>, HistoryError> {
    let mut reasons = Vec::new();
    for domain in recipients.external_registrable_domains() {
        if history.sender_knows_domain(sender, domain)? {
            continue;
        }
        let shown = display_domain(domain);
        if history.organisation_knows_domain(domain)? {
            reasons.push(Reason {
                check: FIRST_EXTERNAL_DOMAIN,
                en: format!("first message from {sender} to {shown}"),
                ja: format!("{sender} から {shown} への初めての送信です"),
            });
        } else {
            reasons.push(Reason {
                check: FIRST_EXTERNAL_DOMAIN_ORG,
                en: format!("first message from anyone in the organisation to {shown}"),
                ja: format!("組織として {shown} への初めての送信です"),
            });
        }
    }
    Ok(reasons)
}

/// A normalised domain for people: the Unicode form next to the `xn--` one.
fn display_domain(domain: &str) -> String {
    if !domain.contains("xn--") {
        return domain.to_owned();
    }
    let (unicode, result) = idna::domain_to_unicode(domain);
    match result {
        Ok(()) if unicode != domain => format!("{unicode} ({domain})"),
        _ => domain.to_owned(),
    }
}

/// `many_external`: more than `threshold` outside addresses in To and Cc, where every
/// recipient sees them all (Bcc recipients are not counted: nobody sees them).
pub fn many_external(recipients: &Recipients, threshold: usize) -> Vec<Reason> {
    let visible_external: Vec<&Recipient> = recipients
        .list
        .iter()
        .filter(|r| r.visible && !r.internal)
        .collect();
    let count = visible_external.len();
    if count <= threshold {
        return Vec::new();
    }
    let domains: BTreeSet<&str> = visible_external.iter().map(|r| r.domain.as_str()).collect();
    let domain_count = domains.len();
    vec![Reason {
        check: MANY_EXTERNAL,
        en: format!(
            "{count} outside addresses at {domain_count} domains in To/Cc (more than \
             {threshold}): every recipient sees all the others"
        ),
        ja: format!(
            "To/Cc に社外のアドレスが {count} 件（{domain_count} ドメイン）あります（上限 \
             {threshold} 件）。受信者全員に互いのアドレスが見えます"
        ),
    }]
}

/// `name_mismatch`: a visible outside recipient whose display name `sender` has used before
/// only for addresses at other organisations (registrable domains): `山田 太郎
/// <yamada@partner.co.jp>` before, `山田 太郎 <yamada@partner-co.jp>` now. Also a display
/// name that is itself an address other than the one the message goes to.
pub fn name_mismatch(
    history: &History,
    sender: &str,
    recipients: &Recipients,
) -> Result<Vec<Reason>, HistoryError> {
    let mut reasons = Vec::new();
    // Outside recipients only: two colleagues with one name are not a leak.
    for recipient in recipients.list.iter().filter(|r| r.visible && !r.internal) {
        let Some(name) = &recipient.name else {
            continue;
        };
        let key = normalize_name(name);
        let address = &recipient.address;
        if key.contains('@') && key.contains('.') && !key.contains(address.as_str()) {
            reasons.push(Reason {
                check: NAME_MISMATCH,
                en: format!(
                    "the display name \"{name}\" is an address, but the message goes to {address}"
                ),
                ja: format!("表示名「{name}」はアドレスですが、実際の宛先は {address} です"),
            });
            continue;
        }
        if !is_meaningful_name(&key, address) {
            continue;
        }
        let known = history.addresses_for_name(sender, &key)?;
        // Another address at the same organisation (`t-yamada@` for `yamada@`, a
        // subdomain) is most likely the same person; another organisation is the mistake.
        let here = registrable_domain(&recipient.domain);
        if known.is_empty()
            || known.iter().any(|k| {
                k == address || registrable_domain(&normalize_domain(domain_of(k))) == here
            })
        {
            continue;
        }
        let shown_known = known.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
        reasons.push(Reason {
            check: NAME_MISMATCH,
            en: format!(
                "\"{name}\" is {address} here, but {sender} has written to \"{name}\" at \
                 {shown_known}"
            ),
            ja: format!(
                "「{name}」の宛先が {address} になっていますが、{sender} はこれまで {shown_known} \
                 に送信しています"
            ),
        });
    }
    Ok(reasons)
}

/// `sender_context`: the sender is leaving the organisation, or has a risk level at or above
/// `min_risk` (one reason saying which).
pub fn sender_context(
    sender: &str,
    facts: Option<&SenderFacts>,
    departing_counts: bool,
    min_risk: RiskLevel,
) -> Vec<Reason> {
    let Some(facts) = facts else {
        return Vec::new();
    };
    let departing = departing_counts && facts.departing;
    let risky = facts
        .risk
        .filter(|risk| *risk >= min_risk && *risk > RiskLevel::None);
    let (en, ja) = match (departing, risky) {
        (false, None) => return Vec::new(),
        (true, None) => (
            format!("the sender {sender} is leaving the organisation"),
            format!("送信者 {sender} は退職予定者です"),
        ),
        (false, Some(risk)) => (
            format!("the sender {sender} has a {} risk level", risk.as_str()),
            format!("送信者 {sender} のリスクレベルは「{}」です", risk_ja(risk)),
        ),
        (true, Some(risk)) => (
            format!(
                "the sender {sender} is leaving the organisation and has a {} risk level",
                risk.as_str()
            ),
            format!(
                "送信者 {sender} は退職予定者で、リスクレベルは「{}」です",
                risk_ja(risk)
            ),
        ),
    };
    vec![Reason {
        check: SENDER_CONTEXT,
        en,
        ja,
    }]
}

fn risk_ja(level: RiskLevel) -> &'static str {
    match level {
        RiskLevel::None => "なし",
        RiskLevel::Low => "低",
        RiskLevel::Medium => "中",
        RiskLevel::High => "高",
        RiskLevel::Critical => "重大",
    }
}

/// `unreadable_message`: the message, or a recipient header, could not be read.
pub fn unreadable_message(message: &Message) -> Vec<Reason> {
    let Some(why) = &message.unreadable else {
        return Vec::new();
    };
    vec![Reason {
        check: UNREADABLE_MESSAGE,
        en: format!("the message cannot be read: {why}"),
        ja: format!("メッセージを正しく読み取れません（{why}）"),
    }]
}

// ---------------------------------------------------------------------------------------------
// Content
// ---------------------------------------------------------------------------------------------

/// What kinds of findings count as sensitive by default: personal data that identifies or
/// pays, confidentiality labels and credentials. Phone numbers, postal codes, e-mail
/// addresses and corporate numbers are in every business signature and are left out.
pub const DEFAULT_SENSITIVE_KINDS: [FindingKind; 6] = [
    FindingKind::MyNumber,
    FindingKind::CreditCard,
    FindingKind::BankAccount,
    FindingKind::Passport,
    FindingKind::Label,
    FindingKind::Secret,
];

/// The finding kind called `name` (`my_number`, `credit_card`, …).
pub fn finding_kind(name: &str) -> Option<FindingKind> {
    FindingKind::ALL
        .into_iter()
        .find(|kind| kind.as_str() == name)
}

/// The bounds content inspection works within on the mail path: an outbound message is at
/// most tens of megabytes, and the decision is waited for by the sending client.
pub fn mail_limits(max_seconds: f64) -> Limits {
    Limits {
        max_input_bytes: 64 << 20,
        max_expanded_bytes: 512 << 20,
        max_ratio: 100,
        max_depth: 4,
        max_entries: 2_000,
        max_text_chars: 5_000_000,
        max_time: std::time::Duration::from_secs_f64(max_seconds.clamp(0.001, 600.0)),
    }
}

/// Inspects a message's body and attachments with `mamori-content`, configured once.
pub struct ContentInspector {
    /// For the body, whose text is already decoded.
    detector: Detector,
    /// For attachments: type detection, extraction (archives, Office, PDF), then detection.
    inspector: Inspector,
    kinds: Vec<FindingKind>,
}

impl std::fmt::Debug for ContentInspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentInspector")
            .field("kinds", &self.kinds)
            .finish_non_exhaustive()
    }
}

/// Findings of one place (the body, or an attachment or a part nested in one): counts per
/// kind, and the labels by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub by_kind: BTreeMap<&'static str, u32>,
    /// The confidentiality labels found, as configured (`社外秘`, `Confidential`): the
    /// organisation's vocabulary, not the message's data.
    pub labels: BTreeSet<String>,
}

/// An attachment whose content could not be (fully) inspected, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opaque {
    /// The attachment (and nested path: `a.zip!b.xlsx`).
    pub file: String,
    /// What `mamori-content` said, in English.
    pub detail: String,
    /// How many parts of the attachment are concerned.
    pub parts: u32,
}

/// What content inspection found in a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentScan {
    /// Places with findings of the sensitive kinds: `None` for the body, else the
    /// attachment's (nested) path.
    pub places: Vec<(Option<String>, Counts)>,
    /// Password-protected attachments (zip entries, Office, PDF, 7z, RAR).
    pub encrypted: Vec<Opaque>,
    /// Attachments that could not be fully inspected for another reason (a format not
    /// extracted, a bomb, a time limit, a corrupt file).
    pub uninspectable: Vec<Opaque>,
}

impl ContentInspector {
    /// An inspector reporting findings of `kinds` at least `min_confidence` sure, under
    /// `limits` (see [`mail_limits`]).
    pub fn new(
        config: &DetectorConfig,
        min_confidence: f32,
        kinds: &[FindingKind],
        limits: Limits,
    ) -> ContentInspector {
        let body_config = DetectorConfig {
            min_confidence,
            ..config.clone()
        };
        ContentInspector {
            detector: Detector::new(&body_config),
            inspector: Inspector::new(config, limits, min_confidence),
            kinds: kinds.to_vec(),
        }
    }

    /// Inspects the body and every attachment.
    /// Each attachment is bounded by the limits' `max_time`, and so is the message as a
    /// whole: once it is spent, the attachments left are reported as not inspected rather
    /// than keeping the sending client waiting (at most about twice `max_time` in all).
    pub fn scan(&self, message: &Message) -> ContentScan {
        let started = std::time::Instant::now();
        let budget = self.inspector.limits().max_time;
        let mut scan = ContentScan::default();
        let mut body = Counts::default();
        self.detector.scan_each(&message.text, |finding| {
            count_finding(&self.kinds, &mut body, finding.kind, &finding.value);
        });
        if !body.by_kind.is_empty() {
            scan.places.push((None, body));
        }
        let mut places: BTreeMap<String, Counts> = BTreeMap::new();
        for (index, attachment) in message.attachments.iter().enumerate() {
            let name = attachment
                .name
                .clone()
                .unwrap_or_else(|| format!("attachment-{}", index + 1));
            if started.elapsed() >= budget {
                add_opaque(
                    &mut scan.uninspectable,
                    &name,
                    "not inspected: the time limit for the message was reached",
                );
                continue;
            }
            self.scan_attachment(&name, &attachment.bytes, &mut places, &mut scan);
        }
        scan.places.extend(
            places
                .into_iter()
                .map(|(file, counts)| (Some(file), counts)),
        );
        scan
    }

    fn scan_attachment(
        &self,
        name: &str,
        bytes: &[u8],
        places: &mut BTreeMap<String, Counts>,
        scan: &mut ContentScan,
    ) {
        // 7z and RAR are not extracted by mamori-content: their own headers say whether they
        // are encrypted.
        let sniffed = match detect_type(name, bytes) {
            FileType::SevenZip => seven_zip_encryption(bytes),
            FileType::Rar => rar_encryption(bytes),
            _ => None,
        };
        if let Some(Encryption::Encrypted(detail)) = &sniffed {
            add_opaque(&mut scan.encrypted, name, detail);
            return;
        }
        let report = self.inspector.inspect_each(name, bytes, |file, finding| {
            if !places.contains_key(file) {
                places.insert(file.to_owned(), Counts::default());
            }
            if let Some(counts) = places.get_mut(file) {
                count_finding(&self.kinds, counts, finding.kind, &finding.value);
            }
        });
        places.retain(|_, counts| !counts.by_kind.is_empty());
        for problem in &report.problems {
            let file = problem.path.as_str();
            if problem.kind == ProblemKind::Encrypted {
                add_opaque(&mut scan.encrypted, top_level(file), &problem.detail);
            } else {
                add_opaque(&mut scan.uninspectable, file, &problem.detail);
            }
        }
    }
}

fn count_finding(kinds: &[FindingKind], counts: &mut Counts, kind: FindingKind, value: &str) {
    if !kinds.contains(&kind) {
        return;
    }
    *counts.by_kind.entry(kind.as_str()).or_insert(0) += 1;
    if kind == FindingKind::Label {
        counts.labels.insert(value.to_owned());
    }
}

/// The attachment a nested path belongs to (`a.zip` for `a.zip!b/c.docx`).
fn top_level(path: &str) -> &str {
    path.split('!').next().unwrap_or(path)
}

fn add_opaque(list: &mut Vec<Opaque>, file: &str, detail: &str) {
    if let Some(known) = list.iter_mut().find(|o| o.file == file) {
        known.parts = known.parts.saturating_add(1);
        return;
    }
    list.push(Opaque {
        file: file.to_owned(),
        detail: detail.to_owned(),
        parts: 1,
    });
}

/// What a 7z or RAR archive's headers say about encryption.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Encryption {
    Encrypted(String),
    /// Read and not encrypted (still not extracted: reported as uninspectable by the
    /// inspector's own problem).
    Plain,
}

/// 7z: the AES-256 coder (method id `06 F1 07 01`) in the archive's end header, which is
/// there as is, or as the coder of an encoded (compressed or encrypted) header. When the end
/// header is compressed and only the files are encrypted, the coder is inside the
/// compressed header and this cannot tell (`None`).
fn seven_zip_encryption(bytes: &[u8]) -> Option<Encryption> {
    const AES: [u8; 4] = [0x06, 0xf1, 0x07, 0x01];
    const HEADER: u8 = 0x01;
    let offset = u64::from_le_bytes(bytes.get(12..20)?.try_into().ok()?);
    let size = u64::from_le_bytes(bytes.get(20..28)?.try_into().ok()?);
    let start = usize::try_from(offset.checked_add(32)?).ok()?;
    let end = start.checked_add(usize::try_from(size).ok()?)?;
    let header = bytes.get(start..end)?;
    if header.windows(AES.len()).any(|w| w == AES) {
        return Some(Encryption::Encrypted(
            "password-protected 7z archive (AES-256)".to_owned(),
        ));
    }
    // A plain end header lists every coder: no AES there means no encryption. An encoded
    // one (0x17) hides the files' coders in its compressed bytes.
    if header.first() == Some(&HEADER) {
        Some(Encryption::Plain)
    } else {
        None
    }
}

/// RAR 4 and 5: encrypted headers (a RAR 5 archive encryption header, the RAR 4 main
/// header's flag) or an encrypted file (a RAR 5 file header's encryption record, the RAR 4
/// file header's password flag). The first few files are looked at.
fn rar_encryption(bytes: &[u8]) -> Option<Encryption> {
    const RAR5: &[u8] = b"Rar!\x1a\x07\x01\x00";
    const RAR4: &[u8] = b"Rar!\x1a\x07\x00";
    if let Some(rest) = bytes.strip_prefix(RAR5) {
        return rar5_encryption(rest);
    }
    if let Some(rest) = bytes.strip_prefix(RAR4) {
        return rar4_encryption(rest);
    }
    None
}

/// Blocks looked at before giving up: enough for the first files of any archive.
const RAR_MAX_BLOCKS: usize = 64;

fn rar5_encryption(bytes: &[u8]) -> Option<Encryption> {
    const ENCRYPTION_HEADER: u64 = 4;
    const FILE_HEADER: u64 = 2;
    const EXTRA_ENCRYPTION: u64 = 1;
    let mut at = 0usize;
    for _ in 0..RAR_MAX_BLOCKS {
        // CRC32, then the header size (from the type field to the end of the extra area).
        let mut cursor = at.checked_add(4)?;
        let header_size = read_vint(bytes, &mut cursor)?;
        let header_start = cursor;
        let header_end = header_start.checked_add(usize::try_from(header_size).ok()?)?;
        let header_type = read_vint(bytes, &mut cursor)?;
        let flags = read_vint(bytes, &mut cursor)?;
        let extra_size = if flags & 0x1 != 0 {
            read_vint(bytes, &mut cursor)?
        } else {
            0
        };
        let data_size = if flags & 0x2 != 0 {
            read_vint(bytes, &mut cursor)?
        } else {
            0
        };
        if header_type == ENCRYPTION_HEADER {
            return Some(Encryption::Encrypted(
                "RAR archive with encrypted headers".to_owned(),
            ));
        }
        if header_type == FILE_HEADER {
            let extra_start = header_end.checked_sub(usize::try_from(extra_size).ok()?)?;
            let extra = bytes.get(extra_start..header_end)?;
            if rar5_extra_has(extra, EXTRA_ENCRYPTION)? {
                return Some(Encryption::Encrypted(
                    "password-protected RAR archive".to_owned(),
                ));
            }
            return Some(Encryption::Plain);
        }
        at = header_end.checked_add(usize::try_from(data_size).ok()?)?;
        if at >= bytes.len() {
            return None;
        }
    }
    None
}

/// Whether a RAR 5 extra area holds a record of `wanted` type.
fn rar5_extra_has(extra: &[u8], wanted: u64) -> Option<bool> {
    let mut at = 0usize;
    while at < extra.len() {
        let size = read_vint(extra, &mut at)?;
        let record_start = at;
        let record_type = read_vint(extra, &mut at)?;
        if record_type == wanted {
            return Some(true);
        }
        at = record_start.checked_add(usize::try_from(size).ok()?)?;
    }
    Some(false)
}

/// A RAR 5 variable-length integer (7 bits per byte, low first).
fn read_vint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn rar4_encryption(bytes: &[u8]) -> Option<Encryption> {
    const MAIN_HEADER: u8 = 0x73;
    const FILE_HEADER: u8 = 0x74;
    const MAIN_ENCRYPTED_HEADERS: u16 = 0x0080;
    const FILE_PASSWORD: u16 = 0x0004;
    const LONG_BLOCK: u16 = 0x8000;
    let mut at = 0usize;
    for _ in 0..RAR_MAX_BLOCKS {
        // HEAD_CRC (2), HEAD_TYPE (1), HEAD_FLAGS (2), HEAD_SIZE (2), then ADD_SIZE (4) for
        // long blocks (file headers always are).
        let block = bytes.get(at..at.checked_add(7)?)?;
        let head_type = block[2];
        let flags = u16::from_le_bytes([block[3], block[4]]);
        let head_size = usize::from(u16::from_le_bytes([block[5], block[6]]));
        if head_type == MAIN_HEADER && flags & MAIN_ENCRYPTED_HEADERS != 0 {
            return Some(Encryption::Encrypted(
                "RAR archive with encrypted headers".to_owned(),
            ));
        }
        if head_type == FILE_HEADER {
            if flags & FILE_PASSWORD != 0 {
                return Some(Encryption::Encrypted(
                    "password-protected RAR archive".to_owned(),
                ));
            }
            return Some(Encryption::Plain);
        }
        let add_size = if flags & LONG_BLOCK != 0 {
            let add = bytes.get(at.checked_add(7)?..at.checked_add(11)?)?;
            usize::try_from(u32::from_le_bytes(add.try_into().ok()?)).ok()?
        } else {
            0
        };
        if head_size < 7 {
            return None;
        }
        at = at.checked_add(head_size)?.checked_add(add_size)?;
    }
    None
}

/// The English and Japanese names of a finding kind, for reasons.
fn kind_names(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "my_number" => ("My Number", "マイナンバー"),
        "corporate_number" => ("corporate number", "法人番号"),
        "credit_card" => ("card number", "クレジットカード番号"),
        "phone_jp" => ("phone number", "電話番号"),
        "postal_code_jp" => ("postal code", "郵便番号"),
        "email" => ("e-mail address", "メールアドレス"),
        "bank_account" => ("bank account number", "口座番号"),
        "passport" => ("passport number", "旅券番号"),
        "label" => ("confidentiality label", "機密区分の表示"),
        "source_code" => ("source code", "ソースコード"),
        "secret" => (
            "credential (key, token or password)",
            "認証情報（鍵・トークン・パスワード）",
        ),
        "type_mismatch" => ("file disguised by its name", "拡張子と中身が異なるファイル"),
        _ => ("finding", "検出"),
    }
}

/// One place's counts, in English and Japanese: `2 × My Number, confidentiality label
/// (社外秘)`.
fn describe_counts(counts: &Counts) -> (String, String) {
    let mut en = Vec::new();
    let mut ja = Vec::new();
    for (kind, count) in &counts.by_kind {
        let (kind_en, kind_ja) = kind_names(kind);
        if *kind == "label" && !counts.labels.is_empty() {
            let labels = counts.labels.iter().cloned().collect::<Vec<_>>().join(", ");
            en.push(format!("{count} × {kind_en} ({labels})"));
            ja.push(format!("{kind_ja}（{labels}） {count} 件"));
        } else {
            en.push(format!("{count} × {kind_en}"));
            ja.push(format!("{kind_ja} {count} 件"));
        }
    }
    (en.join(", "), ja.join("、"))
}

/// `sensitive_content`: one reason listing, per place, the count of each sensitive kind
/// found (never the values). Call it only for messages with outside recipients.
pub fn sensitive_content(scan: &ContentScan) -> Vec<Reason> {
    if scan.places.is_empty() {
        return Vec::new();
    }
    let mut en = Vec::new();
    let mut ja = Vec::new();
    for (place, counts) in &scan.places {
        let (counts_en, counts_ja) = describe_counts(counts);
        match place {
            None => {
                en.push(format!("body: {counts_en}"));
                ja.push(format!("本文: {counts_ja}"));
            }
            Some(file) => {
                en.push(format!("{file}: {counts_en}"));
                ja.push(format!("{file}: {counts_ja}"));
            }
        }
    }
    vec![Reason {
        check: SENSITIVE_CONTENT,
        en: format!(
            "sensitive content to outside recipients — {}",
            en.join("; ")
        ),
        ja: format!(
            "社外宛てに機密・個人情報が含まれています — {}",
            ja.join("／")
        ),
    }]
}

/// `encrypted_archive`: one reason per password-protected attachment. Call it only for
/// messages with outside recipients.
pub fn encrypted_archive(scan: &ContentScan) -> Vec<Reason> {
    scan.encrypted
        .iter()
        .map(|opaque| {
            let file = &opaque.file;
            let detail = &opaque.detail;
            let parts = opaque.parts;
            let (en_parts, ja_parts) = if parts > 1 {
                (format!(", {parts} parts"), format!("、{parts} 件"))
            } else {
                (String::new(), String::new())
            };
            Reason {
                check: ENCRYPTED_ARCHIVE,
                en: format!(
                    "{file} is password-protected ({detail}{en_parts}): its content cannot be \
                     inspected, and a password sent by mail after it protects nothing"
                ),
                ja: format!(
                    "添付ファイル {file} はパスワード付きです（{detail}{ja_parts}）。内容を検査できず、\
                     パスワードを別メールで送っても保護になりません（いわゆるPPAP）"
                ),
            }
        })
        .collect()
}

/// `uninspectable_attachment`: one reason per attachment that could not be fully
/// inspected. Call it only for messages with outside recipients.
pub fn uninspectable_attachment(scan: &ContentScan) -> Vec<Reason> {
    scan.uninspectable
        .iter()
        .map(|opaque| {
            let file = &opaque.file;
            let detail = &opaque.detail;
            Reason {
                check: UNINSPECTABLE_ATTACHMENT,
                en: format!("{file} could not be fully inspected: {detail}"),
                ja: format!("添付ファイル {file} の内容を完全には検査できませんでした（{detail}）"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_without_width_spaces_or_case() {
        assert_eq!(normalize_name("山田　太郎"), normalize_name("山田太郎"));
        assert_eq!(normalize_name("ﾔﾏﾀﾞ ﾀﾛｳ"), normalize_name("ヤマダ タロウ"));
        assert_eq!(
            normalize_name("\"Taro YAMADA\""),
            normalize_name("taro yamada")
        );
        assert_ne!(normalize_name("山田 太郎"), normalize_name("山田 次郎"));
    }

    #[test]
    fn domains_normalise_to_lower_case_ascii() {
        assert_eq!(normalize_domain("Example.CO.JP."), "example.co.jp");
        assert_eq!(normalize_domain("例え.jp"), "xn--r8jz45g.jp");
        assert_eq!(normalize_domain("[192.0.2.1]"), "[192.0.2.1]");
    }

    #[test]
    fn subdomains_of_own_domains_are_internal() {
        let own = OwnDomains::new(["example.co.jp"]);
        assert!(own.is_internal("example.co.jp"));
        assert!(own.is_internal("mail.example.co.jp"));
        assert!(!own.is_internal("example.jp"));
        assert!(!own.is_internal("badexample.co.jp"));
    }

    #[test]
    fn vints_read_seven_bits_at_a_time() {
        let mut at = 0;
        assert_eq!(read_vint(&[0x85, 0x01], &mut at), Some(133));
        assert_eq!(at, 2);
        assert_eq!(read_vint(&[0x80], &mut 0), None);
    }

    #[test]
    fn rar4_password_flag_is_seen() {
        let mut rar = b"Rar!\x1a\x07\x00".to_vec();
        // Main header: CRC, type 0x73, flags 0, size 13 (7 + 6 reserved).
        rar.extend_from_slice(&[0, 0, 0x73, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0]);
        // File header: type 0x74, flags LONG_BLOCK | password.
        rar.extend_from_slice(&[0, 0, 0x74, 0x04, 0x80, 32, 0, 0, 0, 0, 0]);
        assert!(matches!(
            rar_encryption(&rar),
            Some(Encryption::Encrypted(_))
        ));
        let plain_flags = rar.len() - 8;
        rar[plain_flags] = 0x00;
        assert_eq!(rar_encryption(&rar), Some(Encryption::Plain));
    }

    #[test]
    fn rar5_encryption_header_is_seen() {
        let mut rar = b"Rar!\x1a\x07\x01\x00".to_vec();
        // CRC, header size 3, type 4 (archive encryption), flags 0, version 0.
        rar.extend_from_slice(&[0, 0, 0, 0, 3, 4, 0, 0]);
        assert!(matches!(
            rar_encryption(&rar),
            Some(Encryption::Encrypted(_))
        ));
    }

    #[test]
    fn seven_zip_aes_coder_is_seen() {
        let mut archive = b"7z\xbc\xaf\x27\x1c\x00\x04".to_vec();
        archive.extend_from_slice(&[0; 4]);
        let header = [0x01, 0x04, 0x06, 0xf1, 0x07, 0x01, 0x00];
        archive.extend_from_slice(&0u64.to_le_bytes());
        archive.extend_from_slice(&(header.len() as u64).to_le_bytes());
        archive.extend_from_slice(&[0; 4]);
        archive.extend_from_slice(&header);
        assert!(matches!(
            seven_zip_encryption(&archive),
            Some(Encryption::Encrypted(_))
        ));
    }
}
