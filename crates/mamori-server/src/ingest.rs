//! `POST /api/v1/events`: events from agents and forwarders (docs/api.md).
//!
//! The body is NDJSON (optionally gzip), one event per line, sent with an `ingest` token
//! (`mamori agents enroll`). The answer lists every line: accepted ones with the ledger leaf
//! they are stored as (a line sent again is answered with the leaf it was stored as the first
//! time), rejected ones with the reason. A sender deletes from its spool exactly the accepted
//! lines. Nothing is acknowledged before it is committed with the WAL synced.
//!
//! Handlers parse and hash on the blocking pool and hand the store's thread an append job
//! (module `store`); a full queue is answered `429` with `Retry-After`.

use std::io::Read;
use std::sync::mpsc::SyncSender;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mamori_ingest::Source as _;
use mamori_store::auth::{Owner, Scope, TokenInfo};
use mamori_store::{NewEvent, StoreError};
use serde_json::json;
use tokio::sync::oneshot;

use crate::auth::bearer;
use crate::store::{Job, Refusal, submit};

/// Largest request body, compressed or not.
pub const MAX_BODY_BYTES: usize = 16 << 20;
/// Largest body after gzip decompression (a small gzip body can expand a thousandfold).
const MAX_DECODED_BYTES: u64 = 64 << 20;

/// Stores `events`; returns the leaf of each, new or stored before.
pub(crate) fn append(
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
pub(crate) async fn authenticate(
    jobs: &SyncSender<Job>,
    headers: &HeaderMap,
) -> Result<String, Refusal> {
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
