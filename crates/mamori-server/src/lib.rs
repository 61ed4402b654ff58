//! `mamori serve`: everything Mamori answers over HTTP(S), described at
//! `GET /api/v1/openapi.json` (module `openapi`, from which the router is built), one log line
//! per request, never with a path, query or header in it.
//!
//! - `store`: the one thread that owns the data directory; every handler hands it jobs.
//! - `auth`: bearer tokens, browser sessions with CSRF tokens, the sign-in routes and limit.
//! - `api` and `names`: alerts, persons, cases, reveals and evidence exports, pseudonymised
//!   unless revealed, every read written to the access ledger before it is answered.
//! - `ingest`: `POST /api/v1/events` for agents.
//! - `mail`: the release and cancel links of mail the guard holds: the guard registers them and
//!   reads the decisions back with its ingest token; the pages need only the link's token.
//! - `policy`: the prevention policy in force (`policy/policy.toml`), read by agents and
//!   administrators, installed by administrators, and the decisions taken under it for agents,
//!   recorded in the events ledger.
//! - For the console: `dashboard` (counts only), `triage` (alerts in bulk, case updates),
//!   `search` (organisation-wide, matched on the pseudonymised event), `admin` (users,
//!   preferences, purposes, rule settings), `backtest` (a rule over the stored history, on a
//!   thread of its own).
//! - `console`: the web console's files, embedded at build time, under a strict CSP.
//! - `transparency`: the employees' page; `tls`: rustls when a certificate is configured.
//!
//! Tiles of both ledgers (`/tlog/events/…`, `/tlog/access/…`) are cut out of the packed
//! files ([`TileReader`]), and only for the tree of the latest signed checkpoint: a tile is
//! never served before a checkpoint commits to it. A request path is accepted only when it
//! parses as a canonical tile path, and it is only ever turned into numbers, so no request can
//! name a file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::connect_info::Connected;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, RawQuery, Request};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, get, on, post};
use axum::serve::IncomingStream;
use mamori_ledger::TileReader;
use mamori_ledger::tile::{self, TilePath};
use mamori_privacy::pseudonym::PseudonymKey;
use mamori_privacy::{Privacy, PrivacyError};
use mamori_store::ApprovalKind;
use mamori_store::auth::Role;
use mamori_store::{Paths, StoreError};

mod admin;
mod api;
mod auth;
mod backtest;
mod console;
mod dashboard;
mod ingest;
mod mail;
mod names;
mod openapi;
mod policy;
pub mod review;
mod scim;
mod search;
mod store;
mod tls;
mod transparency;
mod triage;

struct Served {
    events: Ledger,
    access: Ledger,
    /// Work for the thread that owns the store.
    jobs: std::sync::mpsc::SyncSender<store::Job>,
    privacy: Option<Privacy>,
    /// Session cookies are `Secure` when the server speaks TLS.
    secure: bool,
    logins: auth::LoginLimiter,
    /// The data directory (rules, the store for back-tests).
    root: PathBuf,
    backtests: backtest::Running,
    /// The prevention policy in force (`policy/policy.toml`).
    policy: Arc<policy::Current>,
}

/// The address a request came from (for the sign-in rate limit).
#[derive(Debug, Clone, Copy)]
struct Client(SocketAddr);

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for Client {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Client {
        Client(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, tls::TlsListener>> for Client {
    fn connect_info(stream: IncomingStream<'_, tls::TlsListener>) -> Client {
        Client(*stream.remote_addr())
    }
}

/// A tile log served read-only: its directory and a reader of its tiles.
struct Ledger {
    dir: PathBuf,
    tiles: TileReader,
}

impl Ledger {
    fn new(dir: PathBuf) -> Ledger {
        Ledger {
            tiles: TileReader::new(&dir),
            dir,
        }
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is wrong (a file, a flag): the message says which and why.
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Privacy(#[from] PrivacyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Failed(String),
}

impl ServeError {
    /// Whether the operator has to fix something they gave (a file, a flag).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            ServeError::Config(_) | ServeError::Privacy(PrivacyError::Config(_))
        )
    }
}

/// `--tls-cert` and `--tls-key`: PEM files.
pub struct TlsFiles<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
}

/// What `mamori serve` is told.
pub struct Options<'a> {
    pub data_dir: &'a Path,
    pub listen: SocketAddr,
    /// The privacy declarations (default: `privacy.toml` in the data directory).
    pub privacy: Option<&'a Path>,
    pub tls: Option<TlsFiles<'a>>,
    /// The pseudonym key (default: `keys/pseudonym.key` in the data directory).
    pub pseudonym_key: Option<&'a Path>,
}

pub fn run(options: Options<'_>) -> Result<(), ServeError> {
    run_until(options, |_| {}, shutdown_signal())
}

/// [`run`], stopping when `shutdown` completes instead of at SIGTERM or Ctrl-C; `listening` is
/// told the address the server is bound to before it takes requests (with `listen` on port 0,
/// the port the system chose). For tests and programs that embed the server.
pub fn run_until(
    options: Options<'_>,
    listening: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let Options {
        data_dir,
        listen,
        privacy,
        tls,
        pseudonym_key,
    } = options;
    let paths = Paths::new(data_dir);
    if !paths.events_key().exists() {
        return Err(ServeError::Config(format!(
            "{} is not a Mamori data directory; run `mamori init` first",
            data_dir.display()
        )));
    }
    let privacy = Privacy::of(data_dir, privacy)?;
    let tls = tls
        .map(|files| tls::config(files.cert, files.key))
        .transpose()?;
    if privacy.is_none() {
        tracing::warn!("no privacy.toml: /transparency says that nothing has been declared");
    }
    // Events arrive over HTTP, so the server is the data directory's writer (an import has
    // to wait for it to stop); the tiles and checkpoints it serves are read from files.
    let key_path = pseudonym_key.map_or_else(
        || paths.root.join("keys").join("pseudonym.key"),
        Path::to_path_buf,
    );
    let names = names::Names::new(PseudonymKey::load_or_create(&key_path)?);
    let policy = Arc::new(policy::load(data_dir)?);
    let data = mamori_store::DataDir::open(data_dir)?;
    let (jobs, queue) = std::sync::mpsc::sync_channel(store::QUEUE_JOBS);
    let store = std::thread::Builder::new()
        .name("mamori-store".into())
        .spawn({
            let privacy = privacy.clone();
            move || store::own_store(data, queue, privacy, names)
        })?;
    let state = Arc::new(Served {
        events: Ledger::new(paths.events_log()),
        access: Ledger::new(paths.access_log()),
        jobs,
        privacy,
        secure: tls.is_some(),
        logins: auth::LoginLimiter::default(),
        root: data_dir.to_path_buf(),
        backtests: backtest::Running::default(),
        policy,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!("serving {scheme}://{address}/tlog/events/checkpoint");
        tracing::info!(%address, scheme, "listening");
        listening(address);
        match tls {
            Some(config) => {
                axum::serve(
                    tls::TlsListener::new(listener, config),
                    router(state).into_make_service_with_connect_info::<Client>(),
                )
                .with_graceful_shutdown(shutdown)
                .await?;
            }
            None => {
                axum::serve(
                    listener,
                    router(state).into_make_service_with_connect_info::<Client>(),
                )
                .with_graceful_shutdown(shutdown)
                .await?;
            }
        }
        Ok::<_, ServeError>(())
    })?;
    // The router, and with it the last job sender, is gone: the store's thread finishes what
    // was queued and signs a checkpoint.
    drop(runtime);
    match store.join() {
        Ok(stored) => Ok(stored?),
        Err(_) => Err(ServeError::Failed("the store thread panicked".into())),
    }
}

pub(crate) fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// The router, built from the routes [`openapi::ROUTES`] describes: a route is served only if
/// it is described.
fn router(state: Arc<Served>) -> Router {
    let mut router = Router::new();
    for route in openapi::ROUTES {
        match handler(route) {
            Some(handler) => router = router.route(route.path, handler),
            None => tracing::error!(
                method = route.method,
                path = route.path,
                "described route without a handler"
            ),
        }
    }
    router
        .merge(console::routes())
        .merge(scim::routes())
        .route_layer(axum::middleware::from_fn(log_request))
        .fallback(|request: Request| async move {
            log(
                request.method(),
                "(no route)",
                StatusCode::NOT_FOUND,
                Instant::now(),
            );
            (StatusCode::NOT_FOUND, "not found\n")
        })
        .with_state(state)
}

/// What answers a described route.
fn handler(route: &openapi::Route) -> Option<MethodRouter<Arc<Served>>> {
    let roles = match route.access {
        openapi::Access::Roles(roles) => roles,
        _ => &[],
    };
    Some(match (route.method, route.path) {
        ("get", "/healthz") => get(|| async { "ok\n" }),
        ("get", "/transparency") => get(
            |State(state): State<Arc<Served>>, headers: HeaderMap, RawQuery(raw): RawQuery| async move {
                let query: LangQuery = api::query(raw.as_deref()).unwrap_or_default();
                transparency::page(state.privacy.as_ref(), &headers, query.lang.as_deref())
            },
        ),
        ("get", "/tlog/events/checkpoint") => {
            get(|State(state): State<Arc<Served>>| async move { checkpoint(&state.events).await })
        }
        ("get", "/tlog/events/tile/{*path}") => get(
            |State(state): State<Arc<Served>>, UrlPath(path): UrlPath<String>| async move {
                tile(&state, |s| &s.events, path).await
            },
        ),
        ("get", "/tlog/access/checkpoint") => {
            get(|State(state): State<Arc<Served>>| async move { checkpoint(&state.access).await })
        }
        ("get", "/tlog/access/tile/{*path}") => get(
            |State(state): State<Arc<Served>>, UrlPath(path): UrlPath<String>| async move {
                tile(&state, |s| &s.access, path).await
            },
        ),
        ("post", "/api/v1/events") => post(|State(state): State<Arc<Served>>, headers, body| {
            ingest::post_events(state.jobs.clone(), headers, body)
        })
        .layer(DefaultBodyLimit::max(ingest::MAX_BODY_BYTES)),
        ("post", "/api/v1/mail/links") => post(
            |State(state): State<Arc<Served>>,
             headers: HeaderMap,
             body: Result<Bytes, BytesRejection>| async move {
                mail::register(state.jobs.clone(), headers, body).await
            },
        )
        .layer(DefaultBodyLimit::max(mail::MAX_LINKS_BODY)),
        ("get", "/api/v1/policy") => get(
            |State(state): State<Arc<Served>>, method: Method, headers: HeaderMap| async move {
                policy::get_policy(state.jobs.clone(), &state.policy, method, headers).await
            },
        ),
        ("put", "/api/v1/policy") => on(
            MethodFilter::PUT,
            |State(state): State<Arc<Served>>,
             method: Method,
             headers: HeaderMap,
             body: Result<Bytes, BytesRejection>| async move {
                policy::put_policy(
                    state.jobs.clone(),
                    Arc::clone(&state.policy),
                    method,
                    headers,
                    body,
                )
                .await
            },
        )
        .layer(DefaultBodyLimit::max(policy::MAX_POLICY_BODY)),
        ("post", "/api/v1/decisions") => post(
            |State(state): State<Arc<Served>>,
             headers: HeaderMap,
             body: Result<Bytes, BytesRejection>| async move {
                policy::decide(state.jobs.clone(), &state.policy, headers, body).await
            },
        )
        .layer(DefaultBodyLimit::max(policy::MAX_DECISION_BODY)),
        ("get", "/api/v1/mail/actions") => get(
            |State(state): State<Arc<Served>>, headers: HeaderMap, RawQuery(raw): RawQuery| async move {
                mail::actions(state.jobs.clone(), headers, raw).await
            },
        ),
        ("get", "/mail/hold/{token}") => get(
            |State(state): State<Arc<Served>>,
             token: Result<UrlPath<String>, PathRejection>,
             headers: HeaderMap,
             RawQuery(raw): RawQuery| async move {
                let query: LangQuery = api::query(raw.as_deref()).unwrap_or_default();
                let token = token.ok().map(|UrlPath(token)| token);
                mail::page(state.jobs.clone(), token, headers, query.lang).await
            },
        ),
        ("post", "/mail/hold/{token}") => post(
            |State(state): State<Arc<Served>>,
             token: Result<UrlPath<String>, PathRejection>,
             headers: HeaderMap,
             RawQuery(raw): RawQuery,
             body: Result<Bytes, BytesRejection>| async move {
                let query: LangQuery = api::query(raw.as_deref()).unwrap_or_default();
                let token = token.ok().map(|UrlPath(token)| token);
                mail::decide(state.jobs.clone(), token, headers, query.lang, body).await
            },
        )
        .layer(DefaultBodyLimit::max(mail::MAX_FORM_BODY)),
        ("post", "/api/v1/login") => post(
            |State(state): State<Arc<Served>>,
             ConnectInfo(Client(client)): ConnectInfo<Client>,
             body: Bytes| async move {
                auth::login(
                    state.jobs.clone(),
                    &state.logins,
                    state.secure,
                    client.ip(),
                    body,
                )
                .await
                .unwrap_or_else(IntoResponse::into_response)
            },
        )
        .layer(DefaultBodyLimit::max(SMALL_BODY)),
        ("post", "/api/v1/logout") => post(
            |State(state): State<Arc<Served>>, method: Method, headers: HeaderMap| async move {
                auth::logout(state.jobs.clone(), method, headers)
                    .await
                    .unwrap_or_else(IntoResponse::into_response)
            },
        ),
        ("get", "/api/v1/me") => get(
            |State(state): State<Arc<Served>>, method: Method, headers: HeaderMap| async move {
                auth::me(state.jobs.clone(), method, headers)
                    .await
                    .unwrap_or_else(IntoResponse::into_response)
            },
        ),
        ("post", "/api/v1/password") => {
            post(
                |State(state): State<Arc<Served>>,
                 method: Method,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    auth::change_password(state.jobs.clone(), method, headers, body)
                        .await
                        .unwrap_or_else(IntoResponse::into_response)
                },
            )
            .layer(DefaultBodyLimit::max(SMALL_BODY))
        }
        ("get", "/api/v1/alerts") => api_route(MethodFilter::GET, roles, |_, raw, _| {
            api::alerts(api::query(raw)?)
        }),
        ("get", "/api/v1/persons/{person}/events") => {
            api_route(MethodFilter::GET, roles, |path, raw, _| {
                api::person_events(path.to_string(), api::query(raw)?)
            })
        }
        ("get", "/api/v1/persons/{person}/risk") => {
            api_route(MethodFilter::GET, roles, |path, raw, _| {
                api::query::<NoQuery>(raw)?;
                Ok(api::person_risk(path.to_string()))
            })
        }
        ("get", "/api/v1/cases") => api_route(MethodFilter::GET, roles, |_, raw, _| {
            api::cases(api::query(raw)?)
        }),
        ("post", "/api/v1/cases") => {
            api_route(MethodFilter::POST, roles, |_, _, body| api::open_case(body))
        }
        ("get", "/api/v1/cases/{id}") => api_route(MethodFilter::GET, roles, |path, _, _| {
            Ok(api::case(api::id(path, "case")?))
        }),
        ("get", "/api/v1/cases/{id}/events") => {
            api_route(MethodFilter::GET, roles, |path, _, _| {
                Ok(api::case_events(api::id(path, "case")?))
            })
        }
        ("post", "/api/v1/cases/{id}/notes") => {
            api_route(MethodFilter::POST, roles, |path, _, body| {
                api::add_note(api::id(path, "case")?, body)
            })
        }
        ("put", "/api/v1/cases/{id}/legal-hold") => {
            api_route(MethodFilter::PUT, roles, |path, _, body| {
                api::legal_hold(api::id(path, "case")?, body)
            })
        }
        ("post", "/api/v1/cases/{id}/reveals") => {
            api_route(MethodFilter::POST, roles, |path, _, body| {
                api::request(ApprovalKind::Reveal, api::id(path, "case")?, body)
            })
        }
        ("post", "/api/v1/cases/{id}/exports") => {
            api_route(MethodFilter::POST, roles, |path, _, body| {
                api::request(ApprovalKind::Export, api::id(path, "case")?, body)
            })
        }
        ("get", "/api/v1/cases/{id}/bundle") => get(
            |State(state): State<Arc<Served>>,
             method: Method,
             headers: HeaderMap,
             UrlPath(case): UrlPath<String>| async move {
                api::case_bundle(
                    state.jobs.clone(),
                    state.events.tiles.clone(),
                    method,
                    headers,
                    case,
                )
                .await
                .unwrap_or_else(IntoResponse::into_response)
            },
        ),
        ("get", "/api/v1/approvals") => api_route(MethodFilter::GET, roles, |_, raw, _| {
            api::approvals(api::query(raw)?)
        }),
        ("post", "/api/v1/approvals/{id}/decision") => {
            api_route(MethodFilter::POST, roles, |path, _, body| {
                api::decide(api::id(path, "request")?, body)
            })
        }
        ("get", "/api/v1/access-reviews/{manager}") => {
            api_route(MethodFilter::GET, roles, |path, raw, _| {
                review::get_review(path.to_string(), api::query(raw)?)
            })
        }
        ("post", "/api/v1/access-reviews/{manager}/decisions") => {
            api_route(MethodFilter::POST, roles, |path, _, body| {
                review::decide(path.to_string(), body)
            })
        }
        ("get", "/api/v1/dashboard") => api_route(MethodFilter::GET, roles, |_, raw, _| {
            dashboard::dashboard(api::query(raw)?)
        }),
        ("post", "/api/v1/alerts/triage") => {
            api_route(MethodFilter::POST, roles, |_, _, body| triage::triage(body))
        }
        ("patch", "/api/v1/cases/{id}") => {
            api_route(MethodFilter::PATCH, roles, |path, _, body| {
                triage::update_case(api::id(path, "case")?, body)
            })
        }
        ("get", "/api/v1/events") => api_route(MethodFilter::GET, roles, |_, raw, _| {
            search::search(api::query(raw)?)
        }),
        ("put", "/api/v1/me/preferences") => api_route(MethodFilter::PUT, roles, |_, _, body| {
            admin::set_preferences(body)
        }),
        ("get", "/api/v1/purposes") => {
            api_route(MethodFilter::GET, roles, |_, _, _| Ok(admin::purposes()))
        }
        ("get", "/api/v1/users") => {
            api_route(MethodFilter::GET, roles, |_, _, _| Ok(admin::users()))
        }
        ("post", "/api/v1/users") => api_route(MethodFilter::POST, roles, |_, _, body| {
            admin::add_user(body)
        }),
        ("get", "/api/v1/rules") => {
            api_route(MethodFilter::GET, roles, |_, _, _| Ok(admin::rules()))
        }
        ("put", "/api/v1/rules/{id}") => api_route(MethodFilter::PUT, roles, |path, _, body| {
            admin::set_rule(path.to_string(), body)
        }),
        ("post", "/api/v1/rules/{id}/backtest") => post(
            |State(state): State<Arc<Served>>,
             method: Method,
             headers: HeaderMap,
             UrlPath(rule): UrlPath<String>,
             RawQuery(raw): RawQuery| async move {
                backtest::backtest(
                    state.jobs.clone(),
                    &state.backtests,
                    state.root.clone(),
                    method,
                    headers,
                    rule,
                    raw,
                )
                .await
                .unwrap_or_else(IntoResponse::into_response)
            },
        ),
        ("get", "/api/v1/settings") => {
            api_route(MethodFilter::GET, roles, |_, _, _| Ok(api::settings()))
        }
        ("get", "/api/v1/access-log") => api_route(MethodFilter::GET, roles, |_, raw, _| {
            let query: LimitQuery = api::query(raw)?;
            Ok(access_log(query.limit))
        }),
        ("get", "/api/v1/openapi.json") => get(|| async {
            (
                [(header::CONTENT_TYPE, "application/json")],
                openapi::document().to_string(),
            )
        }),
        _ => return None,
    })
}

/// Largest body of the JSON routes.
const SMALL_BODY: usize = 64 << 10;

/// A JSON API route: `prepare` turns the path parameter, the raw query and the body into the
/// work (refusing what it cannot parse before anything else), which [`api::answer`] runs for
/// a caller with one of `roles`.
fn api_route(
    filter: MethodFilter,
    roles: &'static [Role],
    prepare: Prepare,
) -> MethodRouter<Arc<Served>> {
    let handler = move |State(state): State<Arc<Served>>,
                        method: Method,
                        headers: HeaderMap,
                        path: Option<UrlPath<String>>,
                        RawQuery(raw): RawQuery,
                        body: Bytes| {
        let path = path.map(|UrlPath(p)| p).unwrap_or_default();
        api_request(state, roles, prepare, method, headers, path, raw, body)
    };
    on(filter, handler)
}

type Prepare = fn(&str, Option<&str>, &[u8]) -> Result<api::Work, store::Refusal>;

#[allow(clippy::too_many_arguments)]
async fn api_request(
    state: Arc<Served>,
    roles: &'static [Role],
    prepare: Prepare,
    method: Method,
    headers: HeaderMap,
    path: String,
    raw: Option<String>,
    body: Bytes,
) -> Response {
    // Who asks is checked before what they ask is parsed: a stranger learns nothing about
    // the route from its validation errors.
    let prepared = prepare(&path, raw.as_deref(), &body);
    let work = match prepared {
        Ok(work) => work,
        Err(refusal) => {
            return match auth::authorise(&state.jobs, &method, &headers, roles).await {
                Ok(_) => refusal.into_response(),
                Err(refused) => refused.into_response(),
            };
        }
    };
    api::answer(state.jobs.clone(), method, headers, roles, work)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// One log line per request (target `mamori::request`, level info: `MAMORI_LOG=info`): the
/// method, the route's template, the status and the time taken. Never the path itself, its
/// query or a header: those can carry names, identifiers and tokens.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(no route)".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    log(&method, &route, response.status(), started);
    response
}

fn log(method: &axum::http::Method, route: &str, status: StatusCode, started: Instant) {
    tracing::info!(
        target: "mamori::request",
        %method,
        %route,
        status = status.as_u16(),
        ms = (started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
        "request"
    );
}

#[derive(serde::Deserialize, Default)]
struct LangQuery {
    lang: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitQuery {
    limit: Option<usize>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoQuery {}

/// `GET /api/v1/access-log`: the latest records for an auditor. The read is recorded in the
/// log before the records are returned.
fn access_log(limit: Option<usize>) -> api::Work {
    let limit = limit.unwrap_or(50).clamp(1, 1000);
    Box::new(move |ctx, caller| {
        ctx.record(&caller.name, "access_log.read", &format!("latest {limit}"))?;
        let records = ctx.appender.store().access_log(limit)?;
        Ok((StatusCode::OK, serde_json::json!({ "access": records })))
    })
}

async fn checkpoint(ledger: &Ledger) -> Response {
    match tokio::fs::read(ledger.dir.join("checkpoint")).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            (StatusCode::NOT_FOUND, "no checkpoint yet\n").into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "reading checkpoint");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A tile of the ledger `pick` chooses, up to that ledger's latest checkpoint.
async fn tile(state: &Arc<Served>, pick: fn(&Served) -> &Ledger, path: String) -> Response {
    let Some(parsed) = tile::parse_tile_path(&format!("tile/{path}")) else {
        return (StatusCode::NOT_FOUND, "not a tile path\n").into_response();
    };
    let full = match parsed {
        TilePath::Hashes { width, .. } | TilePath::Entries { width, .. } => width == 256,
    };
    let state = Arc::clone(state);
    let read = tokio::task::spawn_blocking(move || {
        let tiles = &pick(&state).tiles;
        let size = tiles.latest_checkpoint()?.map_or(0, |(_, size)| size);
        tiles.read(&parsed, size)
    })
    .await;
    match read {
        Ok(Ok(Some(bytes))) => {
            // Full tiles never change; partial ones are replaced as the log grows.
            let cache = if full {
                "public, max-age=31536000, immutable"
            } else {
                "public, max-age=60"
            };
            (
                [
                    (header::CONTENT_TYPE, "application/octet-stream"),
                    (header::CACHE_CONTROL, cache),
                ],
                bytes,
            )
                .into_response()
        }
        Ok(Ok(None)) => (StatusCode::NOT_FOUND, "no such tile\n").into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "reading tile");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "tile reader task");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_described_route_has_a_handler() {
        for route in super::openapi::ROUTES {
            assert!(super::handler(route).is_some(), "{route:?}");
        }
    }
}
