//! The thread that owns the data directory. Everything that touches the store — checking
//! tokens and sessions, appending events, the API's reads and the access log — runs there as
//! a job; handlers hand it jobs over a bounded queue ([`submit`], [`on_store`]). A full queue
//! is answered `429 Too Many Requests` with `Retry-After`, so memory stays bounded however
//! many clients there are.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mamori_store::{ACCESS_SIGN_EVERY, Appender, DataDir, NewEvent, StoreError};
use tokio::sync::oneshot;

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
    Store(Box<dyn FnOnce(&mut Ctx<'_, '_>) + Send>),
}

/// What a job works with on the store's thread.
pub struct Ctx<'a, 'b> {
    /// The store, and the access log (which every read of personal data is recorded in
    /// before its answer leaves: [`Appender::record_access`]).
    pub appender: &'a mut Appender<'b>,
    /// The pseudonyms under which persons appear.
    pub names: &'a mut crate::names::Names,
    pub privacy: Option<&'a mamori_privacy::Privacy>,
    /// The data directory (for its `rules/` folder).
    pub root: &'a std::path::Path,
    /// What agents sent since the server started (the dashboard's ingest rate).
    pub ingest: &'a mut crate::dashboard::IngestStats,
}

impl Ctx<'_, '_> {
    pub fn store(&mut self) -> &mut mamori_store::EventStore {
        self.appender.store_mut()
    }

    /// Records an access in the access ledger, as `actor`, now.
    pub fn record(&mut self, actor: &str, action: &str, target: &str) -> Result<(), StoreError> {
        self.appender
            .record_access(actor, action, target, crate::now_us())
    }
}

/// The store's thread: answers jobs until every sender is gone, then signs a checkpoint.
/// With retention periods declared, it applies them when it starts and then daily; it deletes
/// mail links 30 days after their expiry when it starts and then daily.
pub fn own_store(
    mut data: DataDir,
    jobs: Receiver<Job>,
    privacy: Option<mamori_privacy::Privacy>,
    mut names: crate::names::Names,
) -> Result<(), crate::ServeError> {
    data.store().sync_every_commit()?;
    let mut retention_due = Instant::now();
    let mut mail_links_due = Instant::now();
    let mut idle_since = Instant::now();
    let mut ingest = crate::dashboard::IngestStats::default();
    let root = data.paths().root.clone();
    data.append_pipelined(mamori_ingest::CHECKPOINT_INTERVAL, |appender| {
        loop {
            if let Some(privacy) = &privacy
                && Instant::now() >= retention_due
            {
                retention_due += RETENTION_EVERY;
                let now = crate::now_us();
                match mamori_privacy::retention::apply(appender, privacy, now, "mamori serve") {
                    Ok(kinds) => tracing::info!(kinds = kinds.len(), "retention applied"),
                    // The server keeps serving; the next run tries again.
                    Err(error) => tracing::error!(%error, "retention"),
                }
            }
            // Mail links go 30 days after they expire, with the decisions on their messages.
            if Instant::now() >= mail_links_due {
                mail_links_due += RETENTION_EVERY;
                let before = crate::now_us().saturating_sub(mamori_store::MAIL_LINK_KEEP_US);
                match appender.store_mut().purge_mail_links(before) {
                    Ok((0, _)) => {}
                    Ok((links, decisions)) => {
                        tracing::info!(links, decisions, "expired mail links deleted");
                    }
                    Err(error) => tracing::error!(%error, "deleting expired mail links"),
                }
            }
            // Reads recorded in the last second get their signed checkpoint once it is due.
            appender.sign_access_if_due()?;
            let job = match jobs.recv_timeout(ACCESS_SIGN_EVERY) {
                Ok(job) => {
                    idle_since = Instant::now();
                    job
                }
                Err(RecvTimeoutError::Timeout) => {
                    // Quiet: write the postings small requests left in memory, so queries
                    // read them from the index instead of scanning the latest event rows.
                    if idle_since.elapsed() >= IDLE {
                        appender.flush_postings()?;
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            match job {
                Job::Store(work) => work(&mut Ctx {
                    appender: &mut *appender,
                    names: &mut names,
                    privacy: privacy.as_ref(),
                    ingest: &mut ingest,
                    root: &root,
                }),
                Job::Append { events, reply } => {
                    let stored = crate::ingest::append(appender, &events);
                    match &stored {
                        Ok(leaves) => ingest.add(leaves.len() as u64),
                        Err(error) => tracing::error!(%error, "storing events"),
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

/// A request answered with an error status before anything was stored.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    message: String,
    header: Option<(HeaderName, &'static str)>,
}

impl Refusal {
    /// The status the request is answered with.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// Why, for the client.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
            header: None,
        }
    }

    pub(crate) fn with(mut self, name: HeaderName, value: &'static str) -> Refusal {
        self.header = Some((name, value));
        self
    }

    /// Asks the sender to authenticate with a bearer token.
    pub(crate) fn unauthorised(status: StatusCode, message: &str) -> Refusal {
        Refusal::new(status, message).with(header::WWW_AUTHENTICATE, "Bearer")
    }

    pub(crate) fn unavailable() -> Refusal {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store is not available",
        )
        .with(header::RETRY_AFTER, RETRY_AFTER_SECONDS)
    }

    pub(crate) fn internal() -> Refusal {
        Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

/// A store error answering a request: an unknown id is `404`, a request the state does not
/// allow `422` with the store's explanation; anything else is logged and `500`.
impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Refusal {
        match error {
            StoreError::NotFound(message) => Refusal::new(StatusCode::NOT_FOUND, message),
            StoreError::Invalid(message) => Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, message),
            other => {
                tracing::error!(error = %other, "store");
                Refusal::internal()
            }
        }
    }
}

/// Every refusal is `{"error": "…"}`.
impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message }).to_string();
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        if let Some((name, value)) = self.header {
            response
                .headers_mut()
                .insert(name, HeaderValue::from_static(value));
        }
        response
    }
}

/// Hands a job to the store's thread, or answers `429` when its queue is full.
pub(crate) fn submit(jobs: &SyncSender<Job>, job: Job) -> Result<(), Refusal> {
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

/// Runs `work` on the store's thread and waits for its result.
pub(crate) async fn on_store<T: Send + 'static>(
    jobs: &SyncSender<Job>,
    work: impl FnOnce(&mut Ctx<'_, '_>) -> T + Send + 'static,
) -> Result<T, Refusal> {
    let (reply, answer) = oneshot::channel();
    submit(
        jobs,
        Job::Store(Box::new(move |ctx| {
            let _ = reply.send(work(ctx));
        })),
    )?;
    answer.await.map_err(|_| Refusal::unavailable())
}
