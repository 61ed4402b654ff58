//! The relay: the SMTP [`server`](crate::smtp::server) in front, the [`Guard`] deciding, the
//! [`spool`](crate::spool) keeping, and a few delivery connections to the next hop behind.
//!
//! # A message's way through
//!
//! 1. The client finishes `DATA`. On the blocking pool, in one trip: the guard decides;
//!    unless it rejects, the message is rewritten for BCC if the decision says so, a
//!    `Received:` line is put in front, and the file is written and fsync'ed.
//! 2. A rejected message is answered `550 5.7.1` with one line per reason and is never
//!    stored. Otherwise its record is committed with its `Decided` event (grouped with other
//!    messages' commits), and only then is the client answered `250 … queued as <id>`.
//! 3. A passed message goes straight to a delivery worker with its bytes still in memory;
//!    delayed and held ones wait in the spool for their time, a release or a cancel.
//! 4. A worker hands the message to the next hop over a connection it keeps open, records
//!    each recipient's outcome with `Delivered` / `Deferred` / `Bounced` events, retries the
//!    deferred ones with exponential back-off until [`Retry::expire_after`], and bounces the
//!    failed ones to the sender (a DSN, itself spooled and delivered like any message, never
//!    for a bounce or a null sender).
//!
//! The `Received:` line says where the message came from (`from <helo> (<client address>)
//! by <hostname> (Mamori mail guard) with ESMTP[S] id <queue id>; <date>`); it never names
//! recipients, which would reveal BCC recipients. The rest of the message is delivered byte
//! for byte as received (line endings normalised to CRLF), or as rewritten for BCC.
//!
//! At least once: a crash after a message's commit but before its 250 reaches the client may
//! have the client send it again, and a crash after the next hop's 250 but before the outcome
//! is committed delivers it again at restart. An acknowledged message is never lost.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};

use crate::decision::{Action, Envelope, Guard};
use crate::smtp::Reply;
use crate::smtp::client::{
    ClientConfig, ClientError, ClientTimeouts, Connection, NextHopTls, Outgoing, RecipientResult,
    Status,
};
use crate::smtp::dsn::{self, FailedRecipient, Report};
use crate::smtp::server::{self, Handler, Network, Received, ServerConfig};
use crate::spool::{
    AttemptOutcome, EventDecision, EventEnvelope, EventRecipient, NewMessage, Origin,
    QueuedMessage, RecipientState, Spool, SpoolError, State, StoredEnvelope,
};

pub use crate::spool::RelayEvent;

/// How long a delivery connection may stay unused before it is closed.
const IDLE_CONNECTION: Duration = Duration::from_secs(30);
/// Messages the scheduler hands out per look at the spool.
const SCHEDULER_BATCH: usize = 64;
/// The scheduler looks at the spool at least this often (and purges old records then).
const SCHEDULER_TICK: Duration = Duration::from_secs(60);
/// Most reason lines in a rejection reply.
const MAX_REASON_LINES: usize = 20;

/// Retry and expiry of deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Wait after the first failed attempt; doubled after each further one…
    pub first: Duration,
    /// …up to this.
    pub max: Duration,
    /// Give up (bounce) this long after the message became deliverable.
    pub expire_after: Duration,
}

impl Default for Retry {
    /// Postfix-like: 5 minutes, doubling up to an hour, for 5 days.
    fn default() -> Retry {
        Retry {
            first: Duration::from_secs(300),
            max: Duration::from_secs(3600),
            expire_after: Duration::from_secs(5 * 24 * 3600),
        }
    }
}

impl Retry {
    /// The wait after `attempts` failed attempts.
    fn backoff(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.first
            .saturating_mul(1u32 << doublings)
            .min(self.max.max(self.first))
    }
}

/// Everything the relay needs; [`RelayConfig::new`] fills in the defaults.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Where to accept SMTP connections.
    pub listen: SocketAddr,
    /// The next hop (the organisation's outbound MTA or smarthost).
    pub next_hop: SocketAddr,
    /// Our name in greetings, EHLO, `Received:` lines and bounces.
    pub hostname: String,
    pub spool_dir: PathBuf,
    /// Offer STARTTLS to clients with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Use STARTTLS towards the next hop, verified with this; without it, clear text.
    pub next_hop_tls: Option<NextHopTls>,
    pub max_message_bytes: usize,
    pub max_recipients: usize,
    /// Networks clients may connect from (loopback by default): the relay takes mail for
    /// any recipient, so this is what keeps it from being an open relay.
    pub allow: Vec<Network>,
    pub retry: Retry,
    /// How long a held message waits for a release before it is bounced.
    pub hold_expiry: Duration,
    /// How long one minute of [`Action::Delay`] lasts: 60 s, shortened by tests.
    pub delay_minute: Duration,
    /// Connections to the next hop at most (each delivers one message at a time).
    pub delivery_connections: usize,
    /// How long finished messages' records are kept.
    pub keep_finished: Duration,
    /// Timeouts towards clients.
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    /// Timeouts towards the next hop.
    pub client_timeouts: ClientTimeouts,
    /// At shutdown, how long sessions and deliveries in progress may take to finish.
    pub shutdown_grace: Duration,
}

impl RelayConfig {
    /// A relay on `listen` delivering to `next_hop`, spooling in `spool_dir`: no TLS,
    /// loopback clients only, 25 MiB messages, 1000 recipients, [`Retry::default`],
    /// holds expiring after 3 days, 8 delivery connections.
    pub fn new(
        listen: SocketAddr,
        next_hop: SocketAddr,
        spool_dir: impl Into<PathBuf>,
    ) -> RelayConfig {
        RelayConfig {
            listen,
            next_hop,
            hostname: local_hostname(),
            spool_dir: spool_dir.into(),
            tls: None,
            next_hop_tls: None,
            max_message_bytes: 25 * 1024 * 1024,
            max_recipients: 1000,
            allow: Network::loopback(),
            retry: Retry::default(),
            hold_expiry: Duration::from_secs(3 * 24 * 3600),
            delay_minute: Duration::from_secs(60),
            delivery_connections: 8,
            keep_finished: Duration::from_secs(7 * 24 * 3600),
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(180),
            client_timeouts: ClientTimeouts::default(),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or_else(|| "localhost".to_string())
}

/// What can go wrong with the relay.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("message {id} is being delivered right now; try again in a moment")]
    BeingDelivered { id: String },
    #[error("invalid address {address:?}: {reason}")]
    InvalidAddress {
        address: String,
        reason: &'static str,
    },
    #[error("a message needs at least one recipient")]
    NoRecipients,
    #[error("internal error: {0}")]
    Internal(String),
}

/// The durable outbox of [`RelayEvent`]s: drain it with [`Outbox::take`], then
/// [`Outbox::ack`] what was safely passed on. At least once: unacknowledged events are taken
/// again, also after a restart.
#[derive(Clone)]
pub struct Outbox {
    spool: Spool,
}

impl Outbox {
    /// Up to `max` events, oldest first, with their sequence numbers; they stay until acked.
    pub async fn take(&self, max: usize) -> Result<Vec<(u64, RelayEvent)>, RelayError> {
        Ok(self.spool.take_events(max).await?)
    }

    /// Removes the events up to and including sequence number `seq`.
    pub async fn ack(&self, seq: u64) -> Result<(), RelayError> {
        Ok(self.spool.ack_events(seq).await?)
    }
}

/// A message ready to send: our `Received:` line and the message as stored by the client
/// (kept apart so the 100 kB body is not copied to join them). Read back from the spool, the
/// whole file is the body.
struct Content {
    head: Vec<u8>,
    body: Vec<u8>,
}

/// Work for a delivery worker.
enum Job {
    /// Just stored: deliver it with the bytes still in memory.
    Fresh {
        message: Box<QueuedMessage>,
        content: Arc<Content>,
    },
    /// Due in the spool: check it still is ([`Spool::claim`]), read it and deliver it.
    Due { id: String },
}

impl Job {
    fn id(&self) -> &str {
        match self {
            Job::Fresh { message, .. } => &message.id,
            Job::Due { id } => id,
        }
    }
}

/// What the relay's tasks share.
struct Shared {
    config: RelayConfig,
    guard: Arc<dyn Guard>,
    spool: Spool,
    client: ClientConfig,
    /// Messages a task is working on (delivering, cancelling, expiring, storing): no other
    /// task may start on them. The one guard against delivering a message twice.
    in_flight: Mutex<HashSet<String>>,
    jobs: mpsc::Sender<Job>,
    /// Wakes the scheduler: something may be due.
    wake: Notify,
    stopping: AtomicBool,
}

/// The running relay. Dropping it stops everything at once, as a crash would (the spool keeps
/// what was committed); [`Relay::shutdown`] stops gracefully.
pub struct Relay {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    outbox: Outbox,
    shutdown: watch::Sender<bool>,
    server: Option<tokio::task::JoinHandle<()>>,
    delivery: JoinSet<()>,
}

impl Relay {
    /// Opens the spool (picking up every unfinished message), listens, and starts delivering.
    pub async fn start(config: RelayConfig, guard: Arc<dyn Guard>) -> Result<Relay, RelayError> {
        let spool_dir = config.spool_dir.clone();
        let spool = tokio::task::spawn_blocking(move || Spool::open(&spool_dir))
            .await
            .map_err(|error| RelayError::Internal(error.to_string()))??;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| RelayError::Listen {
                    address: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| RelayError::Listen {
            address: config.listen,
            source,
        })?;

        let server_config = Arc::new(ServerConfig {
            hostname: config.hostname.clone(),
            tls: config.tls.clone(),
            max_message_bytes: config.max_message_bytes,
            max_recipients: config.max_recipients,
            allow: config.allow.clone(),
            command_timeout: config.command_timeout,
            data_timeout: config.data_timeout,
            shutdown_grace: config.shutdown_grace,
            ..ServerConfig::new(config.hostname.clone())
        });
        let client = ClientConfig {
            helo_name: config.hostname.clone(),
            tls: config.next_hop_tls.clone(),
            timeouts: config.client_timeouts,
        };
        let workers = config.delivery_connections.max(1);
        let (jobs, receiver) = mpsc::channel(workers * 8);
        let (shutdown, shutdown_receiver) = watch::channel(false);
        let shared = Arc::new(Shared {
            config,
            guard,
            spool: spool.clone(),
            client,
            in_flight: Mutex::new(HashSet::new()),
            jobs,
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
        });

        let handler = Arc::new(RelayHandler {
            shared: shared.clone(),
        });
        let server = tokio::spawn(server::serve(
            listener,
            server_config,
            handler,
            shutdown_receiver.clone(),
        ));
        let mut delivery = JoinSet::new();
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        for _ in 0..workers {
            delivery.spawn(worker(
                shared.clone(),
                receiver.clone(),
                shutdown_receiver.clone(),
            ));
        }
        delivery.spawn(scheduler(shared.clone(), shutdown_receiver));
        info!(address = %local_addr, next_hop = %shared.config.next_hop, "mail guard relay started");
        Ok(Relay {
            local_addr,
            shared,
            outbox: Outbox { spool },
            shutdown,
            server: Some(server),
            delivery,
        })
    }

    /// The address the relay listens on (with the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The event outbox.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The spool, for inspection.
    pub fn spool(&self) -> &Spool {
        &self.shared.spool
    }

    /// Lets a held or delayed message go now (a queued one waiting to be retried is tried
    /// now). `by` is who decided, for the `Released` event.
    pub async fn release(&self, id: &str, by: &str) -> Result<(), RelayError> {
        let shared = &self.shared;
        let _reservation = shared.reserve(id)?;
        let now = Timestamp::now();
        let expires_at = add(now, shared.config.retry.expire_after);
        shared.spool.release(id, by, now, expires_at).await?;
        info!(id, by, "message released");
        drop(_reservation);
        shared.wake.notify_one();
        Ok(())
    }

    /// Cancels a message that is not delivered yet: it never will be. `by` is who decided,
    /// for the `Cancelled` event.
    pub async fn cancel(&self, id: &str, by: &str) -> Result<(), RelayError> {
        let shared = &self.shared;
        let _reservation = shared.reserve(id)?;
        shared.spool.cancel(id, by, Timestamp::now()).await?;
        info!(id, by, "message cancelled");
        Ok(())
    }

    /// Queues a message Mamori composed (a notification), without checks: it is stored and
    /// delivered like a passed message. Returns its queue id.
    pub async fn inject(
        &self,
        mail_from: &str,
        rcpt_to: &[String],
        message: Vec<u8>,
    ) -> Result<String, RelayError> {
        check_injected_address(mail_from, true)?;
        if rcpt_to.is_empty() {
            return Err(RelayError::NoRecipients);
        }
        for recipient in rcpt_to {
            check_injected_address(recipient, false)?;
        }
        let shared = &self.shared;
        let id = shared.spool.new_id();
        let now = Timestamp::now();
        let smtputf8 = !mail_from.is_ascii() || rcpt_to.iter().any(|r| !r.is_ascii());
        let envelope = StoredEnvelope {
            mail_from: mail_from.to_string(),
            rcpt_to: rcpt_to.to_vec(),
            helo: shared.config.hostname.clone(),
            client: None,
            smtputf8,
            body_8bit: !message.is_ascii(),
        };
        let message_id = header_value(&message, "message-id");
        let size = message.len() as u64;
        let new_message = NewMessage {
            id: id.clone(),
            origin: Origin::Inject,
            envelope,
            state: State::Queued,
            received_at: now,
            not_before: now,
            expires_at: add(now, shared.config.retry.expire_after),
            size,
            message_id: message_id.clone(),
            action: "inject".to_string(),
        };
        let event = RelayEvent::Injected {
            id: id.clone(),
            at: now,
            mail_from: mail_from.to_string(),
            rcpt_to: rcpt_to.to_vec(),
            size,
            message_id,
        };
        let content = Arc::new(Content {
            head: Vec::new(),
            body: message,
        });
        shared
            .store_and_dispatch(new_message, content, vec![event])
            .await?;
        Ok(id)
    }

    /// Stops gracefully: no new connections; sessions finish the message they are receiving
    /// (others are answered 421); deliveries in progress finish; all within
    /// [`RelayConfig::shutdown_grace`] each.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
        let grace = tokio::time::sleep(self.shared.config.shutdown_grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                next = self.delivery.join_next() => if next.is_none() { break },
                _ = &mut grace => {
                    warn!("shutdown grace over, stopping deliveries in progress");
                    self.delivery.abort_all();
                    break;
                }
            }
        }
        let spool = self.shared.spool.clone();
        let _ = tokio::task::spawn_blocking(move || spool.close()).await;
        info!("mail guard relay stopped");
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
        self.delivery.abort_all();
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Stops the committer after its current group, like a crash: what was committed
        // stays, nothing more is.
        self.shared.spool.close();
    }
}

/// The server's view of the relay.
struct RelayHandler {
    shared: Arc<Shared>,
}

impl Handler for RelayHandler {
    fn message(&self, received: Received) -> impl std::future::Future<Output = Reply> + Send {
        let shared = self.shared.clone();
        async move { shared.accept(received).await }
    }
}

/// What the blocking part of accepting a message produced.
enum Prepared {
    Rejected {
        event: RelayEvent,
        reasons: Vec<String>,
    },
    Stored {
        message: Box<NewMessage>,
        content: Arc<Content>,
        event: RelayEvent,
    },
}

/// Keeps a message in [`Shared::in_flight`] until dropped.
struct Reservation<'a> {
    shared: &'a Shared,
    id: String,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.shared.finish(&self.id);
    }
}

impl Shared {
    /// Marks `id` as worked on, or says it already is.
    fn reserve(&self, id: &str) -> Result<Reservation<'_>, RelayError> {
        if self.try_start(id) {
            Ok(Reservation {
                shared: self,
                id: id.to_string(),
            })
        } else {
            Err(RelayError::BeingDelivered { id: id.to_string() })
        }
    }

    fn try_start(&self, id: &str) -> bool {
        match self.in_flight.lock() {
            Ok(mut in_flight) => in_flight.insert(id.to_string()),
            Err(_) => false,
        }
    }

    fn finish(&self, id: &str) {
        if let Ok(mut in_flight) = self.in_flight.lock() {
            in_flight.remove(id);
        }
    }

    fn in_flight_ids(&self) -> Vec<String> {
        self.in_flight
            .lock()
            .map(|in_flight| in_flight.iter().cloned().collect())
            .unwrap_or_default()
    }

    async fn accept(self: &Arc<Self>, received: Received) -> Reply {
        let id = self.spool.new_id();
        let shared = self.clone();
        let blocking_id = id.clone();
        let prepared =
            tokio::task::spawn_blocking(move || shared.decide_and_write(&blocking_id, received))
                .await;
        let prepared = match prepared {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(error)) => {
                error!(id, %error, "cannot store message");
                return temporary_failure();
            }
            Err(error) => {
                // The guard panicked (or the task was cancelled): nothing was stored.
                error!(id, %error, "deciding about a message failed");
                return temporary_failure();
            }
        };
        match prepared {
            Prepared::Rejected { event, reasons } => {
                if let Err(error) = self.spool.record(vec![event]).await {
                    // Every decision is recorded; if it cannot be, let the client try again.
                    error!(id, %error, "cannot record a rejection");
                    return temporary_failure();
                }
                info!(id, reasons = reasons.len(), "message rejected");
                rejection(&reasons)
            }
            Prepared::Stored {
                message,
                content,
                event,
            } => {
                let state = message.state;
                match self
                    .store_and_dispatch(*message, content, vec![event])
                    .await
                {
                    Ok(()) => {
                        info!(id, state = state.as_str(), "message accepted");
                        Reply::new(250, [2, 0, 0], format!("OK queued as {id}"))
                    }
                    Err(error) => {
                        error!(id, %error, "cannot store message");
                        temporary_failure()
                    }
                }
            }
        }
    }

    /// The blocking part of accepting a message: the decision, the BCC rewrite, the file.
    fn decide_and_write(&self, id: &str, received: Received) -> Result<Prepared, SpoolError> {
        let Received {
            envelope,
            message,
            tls,
            esmtp,
        } = received;
        let decision = self.guard.decide(&envelope, &message);
        let now = Timestamp::now();
        let message_id = header_value(&message, "message-id");
        let size = message.len() as u64;
        let event_envelope = EventEnvelope::from(&envelope);
        let event_decision = EventDecision::from(&decision);
        let state = match decision.action {
            Action::Reject => None,
            Action::Pass => Some(State::Queued),
            Action::Delay { .. } => Some(State::Delayed),
            Action::HoldForSender | Action::HoldForApproval { .. } => Some(State::Held),
        };
        let event = RelayEvent::Decided {
            id: id.to_string(),
            at: now,
            envelope: event_envelope,
            decision: event_decision,
            size,
            message_id: message_id.clone(),
            state,
        };
        let Some(state) = state else {
            let reasons = decision
                .reasons
                .iter()
                .map(|reason| reason.en.clone())
                .collect();
            return Ok(Prepared::Rejected { event, reasons });
        };
        let body = if decision.move_to_bcc {
            crate::message::move_to_bcc(&message)
        } else {
            message
        };
        let head = received_line(&self.config.hostname, id, &envelope, tls, esmtp, now);
        self.spool.write_message(id, &[&head, &body])?;

        let retry = &self.config.retry;
        let not_before = match decision.action {
            Action::Delay { minutes } => add(now, self.config.delay_minute.saturating_mul(minutes)),
            Action::HoldForSender | Action::HoldForApproval { .. } => {
                add(now, self.config.hold_expiry)
            }
            Action::Pass | Action::Reject => now,
        };
        let message = NewMessage {
            id: id.to_string(),
            origin: Origin::Client,
            envelope: StoredEnvelope {
                mail_from: envelope.mail_from,
                rcpt_to: envelope.rcpt_to,
                helo: envelope.helo,
                client: Some(envelope.client),
                smtputf8: envelope.smtputf8,
                body_8bit: envelope.body_8bit,
            },
            state,
            received_at: now,
            not_before,
            expires_at: add(not_before, retry.expire_after),
            size,
            message_id,
            action: decision.action.as_str().to_string(),
        };
        Ok(Prepared::Stored {
            message: Box::new(message),
            content: Arc::new(Content { head, body }),
            event,
        })
    }

    /// Commits a message whose file is written and, when it is to go now, hands it to a
    /// worker. A queued message is reserved before its commit, so the scheduler (which sees
    /// it once committed) cannot pick it up as well.
    async fn store_and_dispatch(
        self: &Arc<Self>,
        message: NewMessage,
        content: Arc<Content>,
        events: Vec<RelayEvent>,
    ) -> Result<(), SpoolError> {
        let id = message.id.clone();
        let deliver_now = message.state == State::Queued;
        let reserved = deliver_now && self.try_start(&id);
        let queued = QueuedMessage::new(&message);
        if let Err(error) = self.spool.store(message, events).await {
            if reserved {
                self.finish(&id);
            }
            let spool = self.spool.clone();
            let discard_id = id.clone();
            let _ = tokio::task::spawn_blocking(move || spool.discard_message(&discard_id)).await;
            return Err(error);
        }
        if !reserved {
            self.wake.notify_one();
            return Ok(());
        }
        let job = Job::Fresh {
            message: Box::new(queued),
            content,
        };
        if self.jobs.try_send(job).is_err() {
            // Every worker is busy and the queue is full: the scheduler will read it back.
            self.finish(&id);
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Delivers one job on `connection` (opened or replaced as needed).
    async fn deliver(self: &Arc<Self>, job: Job, connection: &mut Option<Connection>) {
        let (message, content) = match job {
            Job::Fresh { message, content } => (*message, content),
            Job::Due { id } => {
                let claimed = self.spool.claim(&id, Timestamp::now()).await;
                let message = match claimed {
                    Ok(Some(message)) => message,
                    Ok(None) => return,
                    Err(error) => {
                        warn!(id, %error, "cannot read a due message");
                        return;
                    }
                };
                let spool = self.spool.clone();
                let read_id = id.clone();
                match tokio::task::spawn_blocking(move || spool.read_message(&read_id)).await {
                    Ok(Ok(body)) => (
                        message,
                        Arc::new(Content {
                            head: Vec::new(),
                            body,
                        }),
                    ),
                    Ok(Err(error)) => {
                        self.unreadable(message, &error.to_string()).await;
                        return;
                    }
                    Err(error) => {
                        warn!(id, %error, "cannot read a message file");
                        return;
                    }
                }
            }
        };
        let recipients: Vec<String> = message
            .pending
            .iter()
            .map(|recipient| recipient.address.clone())
            .collect();
        let parts: [&[u8]; 2] = [&content.head, &content.body];
        let outgoing = Outgoing {
            mail_from: &message.envelope.mail_from,
            rcpt_to: &recipients,
            message: &parts,
            smtputf8: message.envelope.smtputf8,
            body_8bit: message.envelope.body_8bit,
        };
        let results = self.send(outgoing, connection).await;
        self.record_attempt(message, results, &content).await;
    }

    /// Sends on the kept connection; a kept connection found dead before any of the message
    /// was sent is replaced once at once.
    async fn send(
        &self,
        outgoing: Outgoing<'_>,
        connection: &mut Option<Connection>,
    ) -> Vec<RecipientResult> {
        for _ in 0..2 {
            let reused = connection.is_some();
            let mut open = match connection.take() {
                Some(open) => open,
                None => match Connection::open(self.config.next_hop, &self.client).await {
                    Ok(open) => open,
                    Err(error) => return all_deferred(&outgoing, &error),
                },
            };
            match open.send(outgoing).await {
                Ok(results) => {
                    if open.is_usable() {
                        *connection = Some(open);
                    }
                    return results;
                }
                Err(error) if reused && error.before_data() => {
                    debug!(%error, "kept connection to the next hop failed, reconnecting");
                    continue;
                }
                Err(error) => return all_deferred(&outgoing, &error),
            }
        }
        all_deferred_text(&outgoing, "the next hop closed the connection twice")
    }

    /// Records an attempt's results: delivered, deferred (or expired) and failed recipients,
    /// the events, and a bounce for the failed ones.
    async fn record_attempt(
        self: &Arc<Self>,
        message: QueuedMessage,
        results: Vec<RecipientResult>,
        content: &Arc<Content>,
    ) {
        let now = Timestamp::now();
        let attempts = message.attempts.saturating_add(1);
        let expired = now >= message.expires_at;
        let mut outcome_recipients = Vec::new();
        let mut delivered = Vec::new();
        let mut deferred = Vec::new();
        let mut failed = Vec::new();
        let mut delivered_reply = String::new();
        for (recipient, result) in message.pending.iter().zip(&results) {
            match result.status {
                Status::Delivered => {
                    outcome_recipients.push((
                        recipient.position,
                        RecipientState::Delivered,
                        result.detail.clone(),
                    ));
                    delivered.push(recipient.address.clone());
                    delivered_reply.clone_from(&result.detail);
                }
                Status::Deferred if !expired => {
                    outcome_recipients.push((
                        recipient.position,
                        RecipientState::Pending,
                        result.detail.clone(),
                    ));
                    deferred.push(EventRecipient {
                        address: recipient.address.clone(),
                        reason: result.detail.clone(),
                    });
                }
                Status::Deferred => {
                    let reason = format!(
                        "delivery time expired after {attempts} attempts; last: {}",
                        result.detail
                    );
                    outcome_recipients.push((
                        recipient.position,
                        RecipientState::Failed,
                        reason.clone(),
                    ));
                    failed.push(FailedRecipient {
                        address: recipient.address.clone(),
                        status: [4, 4, 7],
                        diagnostic: reason,
                        from_next_hop: false,
                    });
                }
                Status::Failed => {
                    outcome_recipients.push((
                        recipient.position,
                        RecipientState::Failed,
                        result.detail.clone(),
                    ));
                    failed.push(FailedRecipient {
                        address: recipient.address.clone(),
                        status: result.code.unwrap_or([5, 0, 0]),
                        diagnostic: result.detail.clone(),
                        from_next_hop: result.code.is_some()
                            && result.detail.chars().take(3).all(|c| c.is_ascii_digit()),
                    });
                }
            }
        }
        let retry_at =
            add(now, self.config.retry.backoff(attempts)).min(message.expires_at.max(now));
        let mut events = Vec::new();
        if !delivered.is_empty() {
            events.push(RelayEvent::Delivered {
                id: message.id.clone(),
                at: now,
                recipients: delivered.clone(),
                attempts,
                reply: delivered_reply,
            });
        }
        if !deferred.is_empty() {
            info!(id = message.id, recipients = deferred.len(), attempts, %retry_at, "delivery deferred");
            events.push(RelayEvent::Deferred {
                id: message.id.clone(),
                at: now,
                recipients: deferred,
                attempts,
                retry_at,
            });
        }
        if expired
            && results
                .iter()
                .any(|result| result.status == Status::Deferred)
        {
            events.push(RelayEvent::Expired {
                id: message.id.clone(),
                at: now,
                was: State::Queued,
            });
        }
        let outcome = AttemptOutcome {
            id: message.id.clone(),
            now,
            recipients: outcome_recipients,
            retry_at,
            attempted: true,
            only_if: None,
            events,
            bounce: None,
        };
        let original = [content.head.as_slice(), content.body.as_slice()];
        self.finish_with_bounce(&message, outcome, failed, &original)
            .await;

        if !delivered.is_empty() {
            info!(
                id = message.id,
                recipients = delivered.len(),
                attempts,
                "message delivered"
            );
            if message.origin == Origin::Client {
                self.tell_guard_delivered(&message, delivered, content.clone());
            }
        }
    }

    /// Applies `outcome`, with a `Bounced` event and a DSN for `failed` (when there is a
    /// sender to return it to and the message is not itself a bounce).
    async fn finish_with_bounce(
        self: &Arc<Self>,
        message: &QueuedMessage,
        mut outcome: AttemptOutcome,
        failed: Vec<FailedRecipient>,
        original: &[&[u8]],
    ) {
        let mut bounce_content = None;
        if !failed.is_empty() {
            let returnable =
                message.origin != Origin::Bounce && !message.envelope.mail_from.is_empty();
            let dsn = if returnable {
                match self
                    .write_bounce(message, &failed, original, outcome.now)
                    .await
                {
                    Ok(dsn) => Some(dsn),
                    Err(error) => {
                        // Without the bounce the failure must not be recorded: leave the
                        // message as it was, to be tried (and bounced) again.
                        error!(id = message.id, %error, "cannot write a bounce");
                        return;
                    }
                }
            } else {
                None
            };
            outcome.events.push(RelayEvent::Bounced {
                id: message.id.clone(),
                at: outcome.now,
                recipients: failed
                    .iter()
                    .map(|failed| EventRecipient {
                        address: failed.address.clone(),
                        reason: failed.diagnostic.clone(),
                    })
                    .collect(),
                dsn_id: dsn.as_ref().map(|(bounce, _)| bounce.id.clone()),
            });
            info!(
                id = message.id,
                recipients = failed.len(),
                dsn = dsn.is_some(),
                "recipients bounced"
            );
            if let Some((bounce, content)) = dsn {
                outcome.bounce = Some(bounce);
                bounce_content = Some(content);
            }
        }
        let bounce = outcome.bounce.clone();
        let bounce_reserved = bounce
            .as_ref()
            .is_some_and(|bounce| self.try_start(&bounce.id));
        match self.spool.finish_attempt(outcome).await {
            Ok(result) => {
                if !result.state.is_final() {
                    // Retried later: the scheduler may be asleep until a later time.
                    self.wake.notify_one();
                }
                if let (Some(bounce), Some(content)) = (bounce, bounce_content)
                    && bounce_reserved
                {
                    self.dispatch_stored(bounce, content);
                }
            }
            Err(error) => {
                warn!(id = message.id, %error, "cannot record a delivery attempt");
                if let Some(bounce) = bounce {
                    if bounce_reserved {
                        self.finish(&bounce.id);
                    }
                    let spool = self.spool.clone();
                    let _ = tokio::task::spawn_blocking(move || spool.discard_message(&bounce.id))
                        .await;
                }
            }
        }
    }

    /// Hands a just-committed (and reserved) queued message to a worker.
    fn dispatch_stored(&self, message: NewMessage, content: Arc<Content>) {
        let id = message.id.clone();
        let queued = QueuedMessage::new(&message);
        let job = Job::Fresh {
            message: Box::new(queued),
            content,
        };
        if self.jobs.try_send(job).is_err() {
            self.finish(&id);
            self.wake.notify_one();
        }
    }

    /// Composes and writes the DSN for `failed`; returns its record and content.
    async fn write_bounce(
        &self,
        message: &QueuedMessage,
        failed: &[FailedRecipient],
        original: &[&[u8]],
        now: Timestamp,
    ) -> Result<(NewMessage, Arc<Content>), SpoolError> {
        // The header section is in the first part that has one; our Received line alone is
        // not enough, so join as much as the report needs (headers only, bounded).
        let mut headers = Vec::new();
        for part in original {
            headers.extend_from_slice(part.get(..part.len().min(128 * 1024)).unwrap_or(part));
            if headers.windows(4).any(|window| window == b"\r\n\r\n") {
                break;
            }
        }
        let id = self.spool.new_id();
        let report = Report {
            reporting_mta: &self.config.hostname,
            queue_id: &message.id,
            sender: &message.envelope.mail_from,
            arrival: message.received_at,
            now,
            failed,
            original: &headers,
        };
        let body = dsn::compose(&report);
        let spool = self.spool.clone();
        let write_id = id.clone();
        let (body, written) = tokio::task::spawn_blocking(move || {
            let written = spool.write_message(&write_id, &[&body]);
            (body, written)
        })
        .await
        .map_err(|error| SpoolError::Commit {
            reason: error.to_string(),
        })?;
        written?;
        let sender = message.envelope.mail_from.clone();
        let smtputf8 = !sender.is_ascii() || failed.iter().any(|f| !f.address.is_ascii());
        let bounce = NewMessage {
            id: id.clone(),
            origin: Origin::Bounce,
            envelope: StoredEnvelope {
                mail_from: String::new(),
                rcpt_to: vec![sender],
                helo: self.config.hostname.clone(),
                client: None,
                smtputf8,
                body_8bit: !body.is_ascii(),
            },
            state: State::Queued,
            received_at: now,
            not_before: now,
            expires_at: add(now, self.config.retry.expire_after),
            size: body.len() as u64,
            message_id: Some(format!("<{}.dsn@{}>", message.id, self.config.hostname)),
            action: "bounce".to_string(),
        };
        Ok((
            bounce,
            Arc::new(Content {
                head: Vec::new(),
                body,
            }),
        ))
    }

    /// A message whose file cannot be read: if it is gone, bounce it (it can never be sent);
    /// otherwise try again later.
    async fn unreadable(self: &Arc<Self>, message: QueuedMessage, reason: &str) {
        let now = Timestamp::now();
        let missing = !self.spool.message_path(&message.id).exists();
        if !missing {
            warn!(
                id = message.id,
                reason, "cannot read a message file, will retry"
            );
            let outcome = AttemptOutcome {
                id: message.id.clone(),
                now,
                recipients: Vec::new(),
                retry_at: add(now, self.config.retry.first),
                attempted: false,
                only_if: None,
                events: Vec::new(),
                bounce: None,
            };
            let _ = self.spool.finish_attempt(outcome).await;
            self.wake.notify_one();
            return;
        }
        error!(id = message.id, "message file missing from the spool");
        let detail = "the message file is missing from the spool";
        let (failed, outcome) = fail_all(&message, now, [4, 3, 0], detail, None, Vec::new());
        self.finish_with_bounce(&message, outcome, failed, &[])
            .await;
    }

    /// Bounces a held message that was not released in time.
    async fn expire_hold(self: &Arc<Self>, message: QueuedMessage) {
        let Ok(_reservation) = self.reserve(&message.id) else {
            return;
        };
        let now = Timestamp::now();
        let detail = format!(
            "the message was held and not released within {}",
            human_duration(self.config.hold_expiry)
        );
        let expired = vec![RelayEvent::Expired {
            id: message.id.clone(),
            at: now,
            was: State::Held,
        }];
        let (failed, outcome) = fail_all(
            &message,
            now,
            [5, 7, 1],
            &detail,
            Some(State::Held),
            expired,
        );
        let spool = self.spool.clone();
        let read_id = message.id.clone();
        let original = tokio::task::spawn_blocking(move || spool.read_message(&read_id))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        info!(id = message.id, "hold expired");
        self.finish_with_bounce(&message, outcome, failed, &[&original])
            .await;
    }

    /// Lets the guard learn from what left (off the async threads, without waiting).
    fn tell_guard_delivered(
        &self,
        message: &QueuedMessage,
        delivered: Vec<String>,
        content: Arc<Content>,
    ) {
        let envelope = Envelope {
            mail_from: message.envelope.mail_from.clone(),
            rcpt_to: delivered,
            helo: message.envelope.helo.clone(),
            client: message
                .envelope
                .client
                .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)),
            smtputf8: message.envelope.smtputf8,
            body_8bit: message.envelope.body_8bit,
        };
        let guard = self.guard.clone();
        // The message as it left, without our trace line (or, read back from the spool,
        // with it): the guard learns from headers, which are the same either way.
        tokio::task::spawn_blocking(move || guard.delivered(&envelope, &content.body));
    }
}

/// Takes jobs and delivers them, keeping one connection to the next hop open between them.
async fn worker(
    shared: Arc<Shared>,
    receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connection: Option<Connection> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let next = async {
            let mut receiver = receiver.lock().await;
            receiver.recv().await
        };
        let job = tokio::select! {
            job = tokio::time::timeout(IDLE_CONNECTION, next) => job,
            _ = shutdown.changed() => break,
        };
        let job = match job {
            Ok(Some(job)) => job,
            Ok(None) => break,
            Err(_) => {
                if let Some(idle) = connection.take() {
                    idle.quit().await;
                }
                continue;
            }
        };
        let id = job.id().to_string();
        shared.deliver(job, &mut connection).await;
        shared.finish(&id);
    }
    if let Some(open) = connection.take() {
        open.quit().await;
    }
}

/// Finds what is due in the spool (retries, ends of delays, releases, messages left from
/// before a restart, expired holds) and hands it to the workers.
async fn scheduler(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut last_purge = Timestamp::now();
    loop {
        if *shutdown.borrow() || shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let now = Timestamp::now();
        let mut more = false;

        match shared.spool.expired_holds(now, SCHEDULER_BATCH).await {
            Ok(expired) => {
                more |= expired.len() == SCHEDULER_BATCH;
                for message in expired {
                    shared.expire_hold(message).await;
                }
            }
            Err(error) => warn!(%error, "cannot look for expired holds"),
        }

        match shared
            .spool
            .due(now, SCHEDULER_BATCH, shared.in_flight_ids())
            .await
        {
            Ok(due) => {
                more |= due.len() == SCHEDULER_BATCH;
                for id in due {
                    if !shared.try_start(&id) {
                        continue;
                    }
                    let job = Job::Due { id: id.clone() };
                    let sent = tokio::select! {
                        sent = shared.jobs.send(job) => sent.is_ok(),
                        _ = shutdown.changed() => false,
                    };
                    if !sent {
                        shared.finish(&id);
                        return;
                    }
                }
            }
            Err(error) => warn!(%error, "cannot look for due messages"),
        }

        if last_purge.duration_until(now) >= SignedDuration::from_secs(600) {
            last_purge = now;
            let before = subtract(now, shared.config.keep_finished);
            match shared.spool.purge(before).await {
                Ok(0) => {}
                Ok(purged) => info!(purged, "forgot old finished messages"),
                Err(error) => warn!(%error, "cannot purge finished messages"),
            }
        }
        if more {
            continue;
        }

        let wait = match shared.spool.next_due(shared.in_flight_ids()).await {
            Ok(Some(next)) => {
                let until = Timestamp::now().duration_until(next);
                Duration::try_from(until)
                    .unwrap_or(Duration::ZERO)
                    .min(SCHEDULER_TICK)
            }
            Ok(None) => SCHEDULER_TICK,
            Err(error) => {
                warn!(%error, "cannot look for the next due message");
                Duration::from_secs(1)
            }
        };
        if wait.is_zero() {
            // Due but everything is being worked on: wait for a worker rather than spin.
            tokio::select! {
                _ = shared.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = shutdown.changed() => break,
            }
            continue;
        }
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => break,
        }
    }
}

fn temporary_failure() -> Reply {
    Reply::new(
        451,
        [4, 3, 0],
        "temporary local problem, please try again later",
    )
}

/// 550 5.7.1 with one line per reason, ASCII only.
fn rejection(reasons: &[String]) -> Reply {
    let mut lines: Vec<String> = reasons
        .iter()
        .take(MAX_REASON_LINES)
        .map(|reason| ascii_safe(reason))
        .filter(|line| !line.is_empty())
        .collect();
    if reasons.len() > MAX_REASON_LINES {
        lines.push(format!(
            "and {} more reasons",
            reasons.len() - MAX_REASON_LINES
        ));
    }
    lines.insert(
        0,
        "message refused by the outbound mail policy:".to_string(),
    );
    Reply {
        code: 550,
        status: Some([5, 7, 1]),
        lines,
    }
}

/// Text fit for an SMTP reply line: domains in punycode, any other non-ASCII as `\u{…}`,
/// no control characters, at most 400 characters.
fn ascii_safe(text: &str) -> String {
    let mut words = Vec::new();
    for word in text.split_whitespace() {
        if word.is_ascii() {
            words.push(
                word.chars()
                    .filter(|c| !c.is_ascii_control())
                    .collect::<String>(),
            );
            continue;
        }
        let trimmed = word.trim_matches(|c: char| c.is_ascii_punctuation() && c != '.' && c != '-');
        let domain = trimmed
            .contains('.')
            .then(|| idna::domain_to_ascii(trimmed.trim_end_matches('.')).ok())
            .flatten();
        match domain {
            Some(ascii) => words.push(
                word.replacen(trimmed, &ascii, 1)
                    .chars()
                    .map(escape_char)
                    .collect(),
            ),
            None => words.push(word.chars().map(escape_char).collect()),
        }
    }
    let mut line = words.join(" ");
    if line.len() > 400 {
        line.truncate(397);
        line.push_str("...");
    }
    line
}

fn escape_char(c: char) -> String {
    if c.is_ascii() && !c.is_ascii_control() {
        c.to_string()
    } else {
        format!("\\u{{{:x}}}", u32::from(c))
    }
}

/// `Received: from <helo> (<ip>) by <hostname> (Mamori mail guard) with <protocol> id <id>;
/// <date>`, folded, never naming recipients.
fn received_line(
    hostname: &str,
    id: &str,
    envelope: &Envelope,
    tls: bool,
    esmtp: bool,
    now: Timestamp,
) -> Vec<u8> {
    let helo: String = envelope
        .helo
        .chars()
        .filter(|c| c.is_ascii_graphic() && !matches!(c, '(' | ')' | ';' | '\\'))
        .take(255)
        .collect();
    let helo = if helo.is_empty() {
        "unknown".to_string()
    } else {
        helo
    };
    // RFC 3848 and RFC 6531 §4.3 protocol names.
    let protocol = match (envelope.smtputf8, esmtp, tls) {
        (true, _, true) => "UTF8SMTPS",
        (true, _, false) => "UTF8SMTP",
        (false, true, true) => "ESMTPS",
        (false, true, false) => "ESMTP",
        (false, false, _) => "SMTP",
    };
    let address = match envelope.client.ip() {
        IpAddr::V4(v4) => format!("[{v4}]"),
        IpAddr::V6(v6) => format!("[IPv6:{v6}]"),
    };
    format!(
        "Received: from {helo} ({address})\r\n\tby {hostname} (Mamori mail guard) with {protocol} id {id};\r\n\t{}\r\n",
        dsn::rfc2822(now)
    )
    .into_bytes()
}

/// The (unfolded, trimmed) value of the first header field `name` (lower-case), if any.
fn header_value(message: &[u8], name: &str) -> Option<String> {
    let mut value: Option<Vec<u8>> = None;
    for line in message.split(|&byte| byte == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let continuation = line
            .first()
            .is_some_and(|&first| first == b' ' || first == b'\t');
        if let Some(found) = value.as_mut() {
            if continuation {
                found.push(b' ');
                found.extend_from_slice(line.trim_ascii());
                continue;
            }
            break;
        }
        if let Some((field, rest)) = split_field(line)
            && field.eq_ignore_ascii_case(name.as_bytes())
        {
            value = Some(rest.trim_ascii().to_vec());
        }
    }
    let value = value?;
    let text: String = String::from_utf8_lossy(&value)
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(998)
        .collect();
    (!text.is_empty()).then_some(text)
}

fn split_field(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&byte| byte == b':')?;
    let field = line.get(..colon)?.trim_ascii_end();
    let rest = line.get(colon + 1..)?;
    Some((field, rest))
}

/// Every pending recipient of `message` failed with `status` for `detail`, without an
/// attempt: the recipients for the bounce, and the outcome to record.
fn fail_all(
    message: &QueuedMessage,
    now: Timestamp,
    status: [u16; 3],
    detail: &str,
    only_if: Option<State>,
    events: Vec<RelayEvent>,
) -> (Vec<FailedRecipient>, AttemptOutcome) {
    let failed = message
        .pending
        .iter()
        .map(|recipient| FailedRecipient {
            address: recipient.address.clone(),
            status,
            diagnostic: detail.to_string(),
            from_next_hop: false,
        })
        .collect();
    let outcome = AttemptOutcome {
        id: message.id.clone(),
        now,
        recipients: message
            .pending
            .iter()
            .map(|recipient| {
                (
                    recipient.position,
                    RecipientState::Failed,
                    detail.to_string(),
                )
            })
            .collect(),
        retry_at: now,
        attempted: false,
        only_if,
        events,
        bounce: None,
    };
    (failed, outcome)
}

fn check_injected_address(address: &str, may_be_empty: bool) -> Result<(), RelayError> {
    let invalid = |reason| RelayError::InvalidAddress {
        address: address.to_string(),
        reason,
    };
    if address.is_empty() {
        return if may_be_empty {
            Ok(())
        } else {
            Err(invalid("empty"))
        };
    }
    if address.len() > 320 {
        return Err(invalid("too long"));
    }
    if address
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '<' || c == '>')
    {
        return Err(invalid(
            "contains spaces, control characters or angle brackets",
        ));
    }
    if !address.contains('@') {
        return Err(invalid("no domain"));
    }
    Ok(())
}

fn all_deferred(outgoing: &Outgoing<'_>, error: &ClientError) -> Vec<RecipientResult> {
    all_deferred_text(outgoing, &error.to_string())
}

fn all_deferred_text(outgoing: &Outgoing<'_>, detail: &str) -> Vec<RecipientResult> {
    outgoing
        .rcpt_to
        .iter()
        .map(|_| RecipientResult {
            status: Status::Deferred,
            detail: detail.to_string(),
            code: Some([4, 4, 1]),
        })
        .collect()
}

fn add(timestamp: Timestamp, duration: Duration) -> Timestamp {
    SignedDuration::try_from(duration)
        .ok()
        .and_then(|duration| timestamp.checked_add(duration).ok())
        .unwrap_or(Timestamp::MAX)
}

fn subtract(timestamp: Timestamp, duration: Duration) -> Timestamp {
    SignedDuration::try_from(duration)
        .ok()
        .and_then(|duration| timestamp.checked_sub(duration).ok())
        .unwrap_or(Timestamp::MIN)
}

fn human_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 86400 && seconds.is_multiple_of(86400) {
        format!("{} days", seconds / 86400)
    } else if seconds >= 3600 && seconds.is_multiple_of(3600) {
        format!("{} hours", seconds / 3600)
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{} minutes", seconds / 60)
    } else {
        format!("{seconds} seconds")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let retry = Retry {
            first: Duration::from_secs(10),
            max: Duration::from_secs(60),
            expire_after: Duration::from_secs(600),
        };
        assert_eq!(retry.backoff(1), Duration::from_secs(10));
        assert_eq!(retry.backoff(2), Duration::from_secs(20));
        assert_eq!(retry.backoff(3), Duration::from_secs(40));
        assert_eq!(retry.backoff(4), Duration::from_secs(60));
        assert_eq!(retry.backoff(100), Duration::from_secs(60));
    }

    #[test]
    fn rejections_are_ascii_with_one_line_per_reason() {
        let reply = rejection(&[
            "examp1e.co.jp looks like example.co.jp".to_string(),
            "exаmple.co.jp (Cyrillic а) looks like example.co.jp".to_string(),
            "宛先が多すぎます".to_string(),
        ]);
        let mut wire = Vec::new();
        reply.write_to(&mut wire);
        let text = String::from_utf8(wire).unwrap();
        assert!(text.is_ascii());
        assert!(text.starts_with("550-5.7.1 message refused"));
        assert!(text.contains("550-5.7.1 examp1e.co.jp looks like example.co.jp\r\n"));
        assert!(text.contains("xn--exmple-4nf.co.jp"));
        assert!(text.contains("550 5.7.1 \\u{5b9b}"));
    }

    #[test]
    fn the_message_id_is_found_unfolded() {
        let message = b"Subject: x\r\nMessage-Id:\r\n <abc@example.jp>\r\nTo: y\r\n\r\nMessage-ID: <body>\r\n";
        assert_eq!(
            header_value(message, "message-id"),
            Some("<abc@example.jp>".to_string())
        );
        assert_eq!(header_value(b"Subject: x\r\n\r\n", "message-id"), None);
    }

    #[test]
    fn received_lines_name_no_recipient() {
        let envelope = Envelope {
            mail_from: "a@example.jp".into(),
            rcpt_to: vec!["secret-bcc@example.com".into()],
            helo: "client (evil)".into(),
            client: "127.0.0.1:2525".parse().unwrap(),
            smtputf8: false,
            body_8bit: false,
        };
        let line = received_line(
            "guard.example.jp",
            "abc",
            &envelope,
            true,
            true,
            Timestamp::UNIX_EPOCH,
        );
        let text = String::from_utf8(line).unwrap();
        assert!(
            text.starts_with("Received: from clientevil ([127.0.0.1])\r\n\tby guard.example.jp")
        );
        assert!(text.contains("with ESMTPS id abc;"));
        assert!(!text.contains("secret-bcc"));
        assert!(text.ends_with("+0000\r\n"));
    }
}
