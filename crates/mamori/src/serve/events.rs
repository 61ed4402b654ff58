//! `POST /api/v1/events`: events from agents and forwarders (docs/api.md).
//!
//! The body is NDJSON (optionally gzip), one event per line, sent with an `ingest` token
//! (`mamori agents enroll`). The answer lists every line: accepted ones with the ledger leaf
//! they are stored as (a line sent again is answered with the leaf it was stored as the first
//! time), rejected ones with the reason. A sender deletes from its spool exactly the accepted
//! lines. Nothing is acknowledged before it is committed with the WAL synced.
//!
//! One thread owns the data directory and does everything that touches the store (checking
//! tokens, appending, the other routes' reads through [`on_store`]); handlers parse and hash
//! on the blocking pool and hand it jobs over a bounded queue. A full queue is answered
//! `429 Too Many Requests` with `Retry-After`, so memory stays bounded however many senders
//! there are. The token checks every route uses live here too ([`authorise`] for routes that
//! admit roles).

use std::io::Read;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mamori_ingest::Source as _;
use mamori_store::auth::Role;
use mamori_store::auth::{Owner, Scope, TokenInfo};
use mamori_store::{DataDir, EventStore, NewEvent, StoreError};
use serde_json::json;
use tokio::sync::oneshot;

/// Largest request body, compressed or not.
pub const MAX_BODY_BYTES: usize = 16 << 20;
/// Largest body after gzip decompression (a small gzip body can expand a thousandfold).
const MAX_DECODED_BYTES: u64 = 64 << 20;
/// Jobs waiting for the store before senders are told to come back later.
pub const QUEUE_JOBS: usize = 8;
/// How often the server applies the retention periods.
const RETENTION_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
/// Quiet time after which the store's thread writes the postings held in memory.
const IDLE: Duration = Duration::from_secs(2);
/// Seconds a sender is asked to wait after a `429`.
const RETRY_AFTER_SECONDS: &str = "1";

/// Work for the thread that owns the store.
pub enum Job {
    Append {
        events: Vec<NewEvent>,
        reply: oneshot::Sender<Result<Vec<u64>, String>>,
    },
    /// Anything else on the store (reads, the access log); the closure sends its own answer.
    Store(Box<dyn FnOnce(&mut EventStore) + Send>),
}

/// The store's thread: answers jobs until every sender is gone, then signs a checkpoint.
/// With retention periods declared, it applies them when it starts and then daily.
pub fn own_store(
    mut data: DataDir,
    jobs: Receiver<Job>,
    privacy: Option<crate::privacy::Privacy>,
) -> anyhow::Result<()> {
    data.store().sync_every_commit()?;
    let mut retention_due = std::time::Instant::now();
    data.append_pipelined(mamori_ingest::CHECKPOINT_INTERVAL, |appender| {
        loop {
            if let Some(privacy) = &privacy
                && std::time::Instant::now() >= retention_due
            {
                retention_due += RETENTION_EVERY;
                let now = crate::cases::now_us();
                match crate::retention::apply(appender.store_mut(), privacy, now, "mamori serve") {
                    Ok(kinds) => tracing::info!(kinds = kinds.len(), "retention applied"),
                    // The server keeps serving; the next run tries again.
                    Err(error) => tracing::error!(%error, "retention"),
                }
            }
            let job = match jobs.recv_timeout(IDLE) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    // Quiet: write the postings small requests left in memory, so queries
                    // read them from the index instead of scanning the latest event rows.
                    appender.flush_postings()?;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            match job {
                Job::Store(work) => work(appender.store_mut()),
                Job::Append { events, reply } => {
                    let stored = append(appender, &events);
                    if let Err(error) = &stored {
                        tracing::error!(%error, "storing events");
                    }
                    let _ = reply.send(stored.map_err(|e| e.to_string()));
                }
            }
        }
        Ok::<_, StoreError>(())
    })?;
    data.checkpoint()?;
    Ok(())
}

/// Stores `events`; returns the leaf of each, new or stored before.
fn append(
    appender: &mut mamori_store::Appender<'_>,
    events: &[NewEvent],
) -> Result<Vec<u64>, StoreError> {
    let outcome = appender.append(events)?;
    let mut new = outcome.appended.iter().map(|(leaf, _)| *leaf);
    let mut duplicates = outcome.duplicates.iter().peekable();
    let mut leaves = Vec::with_capacity(events.len());
    for (position, event) in events.iter().enumerate() {
        let leaf = if duplicates.next_if_eq(&&position).is_some() {
            appender.store().leaf_of(event.time_us, &event.identity)?
        } else {
            new.next()
        };
        leaves.push(leaf.ok_or_else(|| {
            StoreError::Corrupt(format!("event {position} of a batch has no leaf"))
        })?);
    }
    Ok(leaves)
}

/// A request answered with an error status before anything was stored.
pub(super) struct Refusal {
    status: StatusCode,
    message: String,
    header: Option<(HeaderName, &'static str)>,
}

impl Refusal {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
            header: None,
        }
    }

    fn with(mut self, name: HeaderName, value: &'static str) -> Refusal {
        self.header = Some((name, value));
        self
    }

    /// Asks the sender to authenticate with a bearer token.
    fn unauthorised(status: StatusCode, message: &str) -> Refusal {
        Refusal::new(status, message).with(header::WWW_AUTHENTICATE, "Bearer")
    }

    pub(super) fn unavailable() -> Refusal {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store is not available",
        )
        .with(header::RETRY_AFTER, RETRY_AFTER_SECONDS)
    }

    fn internal() -> Refusal {
        Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status, format!("{}\n", self.message)).into_response();
        if let Some((name, value)) = self.header {
            response
                .headers_mut()
                .insert(name, HeaderValue::from_static(value));
        }
        response
    }
}

/// Hands a job to the store's thread, or answers `429` when its queue is full.
fn submit(jobs: &SyncSender<Job>, job: Job) -> Result<(), Refusal> {
    match jobs.try_send(job) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(_)) => Err(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "busy: send again later",
        )
        .with(header::RETRY_AFTER, RETRY_AFTER_SECONDS)),
        Err(TrySendError::Disconnected(_)) => Err(Refusal::unavailable()),
    }
}

pub async fn post_events(jobs: SyncSender<Job>, headers: HeaderMap, body: Bytes) -> Response {
    match store_events(&jobs, &headers, body).await {
        Ok(answer) => (
            [(header::CONTENT_TYPE, "application/json")],
            answer.to_string(),
        )
            .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn store_events(
    jobs: &SyncSender<Job>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<serde_json::Value, Refusal> {
    let agent = authenticate(jobs, headers).await?;
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?"))
    {
        None | Some("identity") => false,
        Some("gzip") => true,
        Some(other) => {
            return Err(Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Encoding {other:?}: send gzip or nothing"),
            ));
        }
    };
    let (lines, events, rejected) = tokio::task::spawn_blocking(move || parse(&body, gzip, &agent))
        .await
        .map_err(|error| {
            tracing::error!(%error, "parsing task");
            Refusal::internal()
        })??;
    let leaves = if events.is_empty() {
        Vec::new()
    } else {
        let (reply, answer) = oneshot::channel();
        submit(jobs, Job::Append { events, reply })?;
        match answer.await {
            Ok(Ok(leaves)) => leaves,
            Ok(Err(_)) | Err(_) => return Err(Refusal::unavailable()),
        }
    };
    let accepted: Vec<_> = lines
        .iter()
        .zip(&leaves)
        .map(|(line, leaf)| json!({"line": line, "leaf": leaf}))
        .collect();
    let rejected: Vec<_> = rejected
        .into_iter()
        .map(|(line, reason)| json!({"line": line, "reason": reason}))
        .collect();
    Ok(json!({"accepted": accepted, "rejected": rejected}))
}

/// The agent named by the request's `ingest` token, or the refusal.
async fn authenticate(jobs: &SyncSender<Job>, headers: &HeaderMap) -> Result<String, Refusal> {
    match bearer(jobs, headers).await? {
        TokenInfo {
            owner: Owner::Agent(name),
            scope: Scope::Ingest,
            ..
        } => Ok(name),
        _ => Err(Refusal::unauthorised(
            StatusCode::FORBIDDEN,
            "this token may not send events (an agent's ingest token may)",
        )),
    }
}

/// The user behind the request's `api` token if their role is one of `roles`, or the refusal
/// (default deny: no role, no access).
pub(super) async fn authorise(
    jobs: &SyncSender<Job>,
    headers: &HeaderMap,
    roles: &'static [Role],
) -> Result<String, Refusal> {
    let forbidden = || Refusal::new(StatusCode::FORBIDDEN, "your role may not use this");
    let TokenInfo {
        owner: Owner::User(name),
        scope: Scope::Api,
        ..
    } = bearer(jobs, headers).await?
    else {
        return Err(forbidden());
    };
    let user = name.clone();
    let role = on_store(jobs, move |store| store.user(&user)).await?;
    match role {
        Ok(Some(user)) if roles.contains(&user.role) => Ok(name),
        Ok(_) => Err(forbidden()),
        Err(error) => {
            tracing::error!(%error, "reading a user");
            Err(Refusal::unavailable())
        }
    }
}

/// Runs `work` on the store's thread and waits for its result.
pub(super) async fn on_store<T: Send + 'static>(
    jobs: &SyncSender<Job>,
    work: impl FnOnce(&mut EventStore) -> T + Send + 'static,
) -> Result<T, Refusal> {
    let (reply, answer) = oneshot::channel();
    submit(
        jobs,
        Job::Store(Box::new(move |store| {
            let _ = reply.send(work(store));
        })),
    )?;
    answer.await.map_err(|_| Refusal::unavailable())
}

/// The valid token of the request, or `401`.
async fn bearer(jobs: &SyncSender<Job>, headers: &HeaderMap) -> Result<TokenInfo, Refusal> {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return Err(Refusal::unauthorised(
            StatusCode::UNAUTHORIZED,
            "a bearer token is needed",
        ));
    };
    let token = token.trim().to_string();
    let found = on_store(jobs, move |store| {
        store.authenticate_token(&token, crate::cases::now_us())
    })
    .await?;
    match found {
        Ok(Some(info)) => Ok(info),
        Ok(None) => Err(Refusal::unauthorised(
            StatusCode::UNAUTHORIZED,
            "unknown, expired or revoked token",
        )),
        Err(error) => {
            tracing::error!(%error, "checking a token");
            Err(Refusal::unavailable())
        }
    }
}

/// Accepted line numbers and their prepared events, and rejected lines with reasons.
type Parsed = (Vec<u64>, Vec<NewEvent>, Vec<(u64, String)>);

fn parse(body: &[u8], gzip: bool, agent: &str) -> Result<Parsed, Refusal> {
    let decoded;
    let text: &[u8] = if gzip {
        let mut out = Vec::new();
        let read = flate2::read::GzDecoder::new(body)
            .take(MAX_DECODED_BYTES + 1)
            .read_to_end(&mut out);
        match read {
            Ok(n) if n as u64 > MAX_DECODED_BYTES => {
                return Err(Refusal::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("more than {MAX_DECODED_BYTES} bytes once decompressed"),
                ));
            }
            Ok(_) => {}
            Err(error) => {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    format!("gzip: {error}"),
                ));
            }
        }
        decoded = out;
        &decoded
    } else {
        body
    };
    // The same line reader as `mamori import ndjson`: blank lines skipped, CR stripped, long
    // lines rejected without being held whole.
    let mut source = mamori_ingest::NdjsonSource::new(text, "request", None)
        .with_default_source(format!("agent:{agent}"));
    let mut parsed: Parsed = (Vec::new(), Vec::new(), Vec::new());
    while let Some(record) = source.next_record() {
        match record {
            Ok(Ok(event)) => match mamori_ingest::prepare_event(event) {
                Ok(prepared) => {
                    parsed.0.push(source.line_number());
                    parsed.1.push(prepared);
                }
                Err(error) => {
                    tracing::error!(%error, "preparing an event");
                    return Err(Refusal::internal());
                }
            },
            Ok(Err(rejected)) => parsed.2.push((rejected.location.line, rejected.reason)),
            // Reading from memory cannot fail.
            Err(error) => {
                tracing::error!(%error, "reading a request body");
                return Err(Refusal::internal());
            }
        }
    }
    Ok(parsed)
}
