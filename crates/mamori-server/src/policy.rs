//! The prevention policy in force, and the decisions taken under it (docs/api.md, "Policy and
//! decisions"; the file format is docs/policy.md).
//!
//! - The server keeps one policy: the file `policy/policy.toml` of the data directory, loaded
//!   when `mamori serve` starts (a file that does not validate stops it, naming the file).
//! - `GET /api/v1/policy`: agents (their `ingest` token) and administrators read it, with the
//!   revision as its ETag so that agents polling it get `304` until it changes.
//! - `PUT /api/v1/policy`: an administrator installs a new one, validated, of a higher
//!   revision; written atomically (temporary file, fsync, rename, fsync of the folder) on the
//!   store's thread, then swapped in and recorded in the access log before the answer.
//! - `POST /api/v1/decisions`: agents, the mail guard and proxies ask what to do with an
//!   action; a decision worth recording (anything but a plain allow) is appended to the events
//!   ledger as a `policy.decision` event, committed before the answer names its leaf.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, PoisonError, RwLock};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mamori_policy::{Policy, Request};
use mamori_store::auth::{Owner, Scope, TokenInfo};
use serde_json::json;
use tokio::sync::oneshot;

use crate::auth::{authorise, json_response};
use crate::store::{Job, Refusal, on_store, submit};

/// Largest body of `PUT /api/v1/policy` (the policy's TOML text).
pub const MAX_POLICY_BODY: usize = 1 << 20;
/// Largest body of `POST /api/v1/decisions` (one request).
pub const MAX_DECISION_BODY: usize = 64 << 10;

/// A policy in force and the text it was read from (answered to agents as it was written).
pub struct Installed {
    pub policy: Policy,
    pub toml: String,
}

/// The policy in force, if any; replaced whole, so readers keep the one they took.
#[derive(Default)]
pub struct Current(RwLock<Option<Arc<Installed>>>);

impl Current {
    /// The policy in force now.
    pub fn get(&self) -> Option<Arc<Installed>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, installed: Arc<Installed>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(installed);
    }
}

/// `policy/policy.toml` in the data directory `root`.
pub fn file(root: &Path) -> PathBuf {
    root.join("policy").join("policy.toml")
}

/// The policy stored in the data directory `root`, if there is one; a file that cannot be
/// read or does not validate is a configuration error naming it.
pub fn load(root: &Path) -> Result<Current, crate::ServeError> {
    let path = file(root);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Current::default());
        }
        Err(error) => {
            return Err(crate::ServeError::Config(format!(
                "{}: {error}",
                path.display()
            )));
        }
    };
    let policy = Policy::from_toml(&text).map_err(|error| {
        crate::ServeError::Config(format!(
            "{}: not a valid policy: {} (fix the file, or remove it to serve without a policy)",
            path.display(),
            error.to_string().trim_end()
        ))
    })?;
    tracing::info!(
        name = %policy.name,
        revision = policy.revision,
        mode = policy.mode.as_str(),
        "policy loaded"
    );
    Ok(Current(RwLock::new(Some(Arc::new(Installed {
        policy,
        toml: text,
    })))))
}

fn bad(message: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, message)
}

fn no_policy_installed() -> Refusal {
    Refusal::new(
        StatusCode::NOT_FOUND,
        "no policy is installed (an administrator installs one with PUT /api/v1/policy)",
    )
}

/// The strong ETag of a revision.
fn etag(revision: u64) -> String {
    format!("\"{revision}\"")
}

/// Whether `If-None-Match` names `tag` (or is `*`); weak tags compare equal too (RFC 9110
/// 13.1.2 uses the weak comparison for `If-None-Match`).
fn none_match(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == tag)
}

/// Lets agents (their ingest token) and administrators through.
async fn agent_or_admin(
    jobs: &SyncSender<Job>,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    if headers.contains_key(header::AUTHORIZATION) {
        let token = crate::auth::bearer(jobs, headers).await?;
        if matches!(
            token,
            TokenInfo {
                owner: Owner::Agent(_),
                scope: Scope::Ingest,
                ..
            }
        ) {
            return Ok(());
        }
    }
    authorise(jobs, method, headers, crate::api::ADMINS)
        .await
        .map(|_| ())
}

/// `GET /api/v1/policy`: the policy in force, or `304` when the caller has this revision.
pub(crate) async fn get_policy(
    jobs: SyncSender<Job>,
    current: &Current,
    method: Method,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = agent_or_admin(&jobs, &method, &headers).await {
        return refusal.into_response();
    }
    let Some(installed) = current.get() else {
        return no_policy_installed().into_response();
    };
    let policy = &installed.policy;
    let tag = etag(policy.revision);
    let mut response = if none_match(&headers, &tag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        json_response(
            StatusCode::OK,
            &json!({
                "name": policy.name,
                "revision": policy.revision,
                "mode": policy.mode.as_str(),
                "toml": installed.toml,
            }),
        )
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, value);
    }
    // Kept by agents, but asked again (with If-None-Match) before each use of a cached copy.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The text of a policy body: plain text or TOML, UTF-8.
fn policy_text(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<String, Refusal> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Refusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the policy is over {MAX_POLICY_BODY} bytes"),
            )
        } else {
            bad(format!("the body could not be read: {rejection}"))
        }
    })?;
    if let Some(value) = headers.get(header::CONTENT_TYPE) {
        let essence = value
            .to_str()
            .unwrap_or("?")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(essence.as_str(), "text/plain" | "application/toml") {
            return Err(Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "Content-Type {essence:?}: send the policy as text/plain or application/toml"
                ),
            ));
        }
    }
    String::from_utf8(body.to_vec()).map_err(|_| bad("the policy is not UTF-8 text"))
}

/// `PUT /api/v1/policy`: an administrator installs a new policy.
pub(crate) async fn put_policy(
    jobs: SyncSender<Job>,
    current: Arc<Current>,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let installed = async {
        // Who asks is checked before what they send is parsed.
        let caller = authorise(&jobs, &method, &headers, crate::api::ADMINS).await?;
        let text = policy_text(&headers, body)?;
        let policy = Policy::from_toml(&text).map_err(|error| {
            bad(format!(
                "not a valid policy: {}",
                error.to_string().trim_end()
            ))
        })?;
        let installed = Arc::new(Installed { policy, toml: text });
        // On the store's thread: installs are serialised with each other and with the access
        // log, so the revision check, the file, the swap and the record cannot interleave.
        on_store(&jobs, move |ctx| {
            let policy = &installed.policy;
            if let Some(old) = current.get()
                && policy.revision <= old.policy.revision
            {
                return Err(Refusal::new(
                    StatusCode::CONFLICT,
                    format!(
                        "revision {} is not above the installed policy's ({}): raise `revision`",
                        policy.revision, old.policy.revision
                    ),
                ));
            }
            write_atomically(&file(ctx.root), installed.toml.as_bytes()).map_err(|error| {
                tracing::error!(%error, "writing the policy file");
                Refusal::internal()
            })?;
            current.set(Arc::clone(&installed));
            ctx.record(
                &caller.name,
                "policy.install",
                &format!(
                    "{:?} revision {} ({})",
                    policy.name,
                    policy.revision,
                    policy.mode.as_str()
                ),
            )?;
            tracing::info!(
                name = %policy.name,
                revision = policy.revision,
                "policy installed"
            );
            Ok(json!({
                "name": policy.name,
                "revision": policy.revision,
                "mode": policy.mode.as_str(),
            }))
        })
        .await?
    };
    match installed.await {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err(refusal) => refusal.into_response(),
    }
}

/// Replaces `path` with `bytes` so that a crash leaves the old file or the new one, whole.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let folder = path
        .parent()
        .ok_or_else(|| std::io::Error::other("the policy file has no folder"))?;
    std::fs::create_dir_all(folder)?;
    let temporary = folder.join(".policy.toml.new");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    // The rename is durable once the folder is.
    std::fs::File::open(folder)?.sync_all()
}

/// One request of a body, or `400` naming the field at fault.
fn parse_request(body: &[u8]) -> Result<Request, Refusal> {
    let request: Request = crate::auth::json_body(body)?;
    request.check().map_err(|error| bad(error.to_string()))?;
    Ok(request)
}

/// `POST /api/v1/decisions`: the decision on one request under the policy in force.
pub(crate) async fn decide(
    jobs: SyncSender<Job>,
    current: &Current,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let decided = async {
        let agent = crate::ingest::authenticate(&jobs, &headers).await?;
        let body = body.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Refusal::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is over {MAX_DECISION_BODY} bytes"),
                )
            } else {
                bad(format!("the body could not be read: {rejection}"))
            }
        })?;
        let request = parse_request(&body)?;
        let installed = current.get().ok_or_else(|| {
            Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no policy is installed: nothing to decide with (an administrator installs one with PUT /api/v1/policy)",
            )
        })?;
        let policy = &installed.policy;
        let now = jiff::Timestamp::now();
        let decision = policy.decide(&request, now);
        let leaf = if decision.is_recorded() {
            let event = mamori_policy::decision_event(policy, &request, &decision, &agent, now);
            // What goes into the ledger is what an import would accept.
            mamori_event::Event::from_json(&event.canonical_json())
                .map_err(|error| bad(format!("the decision cannot be recorded: {error}")))?;
            let prepared = mamori_ingest::prepare_event(event).map_err(|error| {
                tracing::error!(%error, "preparing a decision event");
                Refusal::internal()
            })?;
            let (reply, answer) = oneshot::channel();
            submit(
                &jobs,
                Job::Append {
                    events: vec![prepared],
                    reply,
                },
            )?;
            match answer.await {
                Ok(Ok(leaves)) => Some(leaves.first().copied().ok_or_else(Refusal::internal)?),
                Ok(Err(_)) | Err(_) => return Err(Refusal::unavailable()),
            }
        } else {
            None
        };
        let mut answer = mamori_policy::answer(policy, &request, &decision);
        if let Some(fields) = answer.as_object_mut() {
            fields.insert("leaf".into(), json!(leaf));
        }
        Ok::<_, Refusal>(answer)
    };
    match decided.await {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err(refusal) => refusal.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_takes_lists_weak_tags_and_any() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::IF_NONE_MATCH,
                HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
            );
            headers
        };
        assert!(none_match(&with("\"3\""), "\"3\""));
        assert!(none_match(&with("\"1\", W/\"3\""), "\"3\""));
        assert!(none_match(&with("*"), "\"3\""));
        assert!(!none_match(&with("\"31\""), "\"3\""));
        assert!(!none_match(&HeaderMap::new(), "\"3\""));
    }
}
