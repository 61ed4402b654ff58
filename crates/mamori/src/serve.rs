//! `mamori serve`: the static C2SP tile API of the events log, `/healthz`, event ingest for
//! agents (`POST /api/v1/events`, module `events`) and the employees' transparency page
//! (`GET /transparency`, module `transparency`), all described at `GET /api/v1/openapi.json`
//! (module `openapi`, from which the router is built); one log line per request.
//!
//! Tiles are cut out of the ledger's packed files ([`TileReader`]), and only for the tree of
//! the latest signed checkpoint: a tile is never served before a checkpoint commits to it. A
//! request path is accepted only when it parses as a canonical tile path, and it is only ever
//! turned into numbers, so no request can name a file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Query, Request};
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use mamori_ledger::TileReader;
use mamori_ledger::tile::{self, TilePath};
use mamori_store::Paths;

use crate::BadInput;

mod events;
mod openapi;
mod tls;
mod transparency;

struct Served {
    events_log: PathBuf,
    tiles: TileReader,
    /// Work for the thread that owns the store.
    jobs: std::sync::mpsc::SyncSender<events::Job>,
    privacy: Option<crate::privacy::Privacy>,
}

/// `--tls-cert` and `--tls-key`: PEM files.
pub struct TlsFiles<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
}

pub fn run(
    data_dir: &Path,
    listen: SocketAddr,
    privacy: Option<&Path>,
    tls: Option<TlsFiles<'_>>,
) -> anyhow::Result<ExitCode> {
    let paths = Paths::new(data_dir);
    if !paths.events_key().exists() {
        return Err(BadInput(format!(
            "{} is not a Mamori data directory; run `mamori init` first",
            data_dir.display()
        ))
        .into());
    }
    let privacy = crate::privacy::Privacy::of(data_dir, privacy)?;
    let tls = tls
        .map(|files| tls::config(files.cert, files.key))
        .transpose()?;
    if privacy.is_none() {
        tracing::warn!("no privacy.toml: /transparency says that nothing has been declared");
    }
    // Events arrive over HTTP, so the server is the data directory's writer (an import has
    // to wait for it to stop); the tiles and checkpoints it serves are read from files.
    let data = mamori_store::DataDir::open(data_dir)?;
    let (jobs, queue) = std::sync::mpsc::sync_channel(events::QUEUE_JOBS);
    let store = std::thread::Builder::new()
        .name("mamori-store".into())
        .spawn({
            let privacy = privacy.clone();
            move || events::own_store(data, queue, privacy)
        })?;
    let state = Arc::new(Served {
        tiles: TileReader::new(&paths.events_log()),
        events_log: paths.events_log(),
        jobs,
        privacy,
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
        match tls {
            Some(config) => {
                axum::serve(tls::TlsListener::new(listener, config), router(state))
                    .with_graceful_shutdown(shutdown_signal())
                    .await?;
            }
            None => {
                axum::serve(listener, router(state))
                    .with_graceful_shutdown(shutdown_signal())
                    .await?;
            }
        }
        anyhow::Ok(())
    })?;
    // The router, and with it the last job sender, is gone: the store's thread finishes what
    // was queued and signs a checkpoint.
    drop(runtime);
    match store.join() {
        Ok(stored) => stored?,
        Err(_) => anyhow::bail!("the store thread panicked"),
    }
    Ok(ExitCode::SUCCESS)
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
    Some(match (route.method, route.path) {
        ("get", "/healthz") => get(|| async { "ok\n" }),
        ("get", "/transparency") => get(
            |State(state): State<Arc<Served>>,
             headers: axum::http::HeaderMap,
             Query(query): Query<LangQuery>| async move {
                transparency::page(state.privacy.as_ref(), &headers, query.lang.as_deref())
            },
        ),
        ("get", "/tlog/events/checkpoint") => get(checkpoint),
        ("get", "/tlog/events/tile/{*path}") => get(tile),
        ("post", "/api/v1/events") => post(|State(state): State<Arc<Served>>, headers, body| {
            events::post_events(state.jobs.clone(), headers, body)
        })
        .layer(DefaultBodyLimit::max(events::MAX_BODY_BYTES)),
        ("get", "/api/v1/access-log") => {
            let openapi::Access::Roles(roles) = route.access else {
                return None;
            };
            get(
                move |State(state): State<Arc<Served>>,
                      headers: axum::http::HeaderMap,
                      Query(query): Query<LimitQuery>| async move {
                    access_log(&state.jobs, &headers, roles, query.limit).await
                },
            )
        }
        ("get", "/api/v1/openapi.json") => get(|| async {
            (
                [(header::CONTENT_TYPE, "application/json")],
                openapi::document().to_string(),
            )
        }),
        _ => return None,
    })
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

#[derive(serde::Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

#[derive(serde::Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

/// `GET /api/v1/access-log`: the latest records for an auditor. The read is recorded in the
/// log before the records are returned.
async fn access_log(
    jobs: &std::sync::mpsc::SyncSender<events::Job>,
    headers: &axum::http::HeaderMap,
    roles: &'static [mamori_store::auth::Role],
    limit: Option<usize>,
) -> Response {
    let user = match events::authorise(jobs, headers, roles).await {
        Ok(user) => user,
        Err(refusal) => return refusal.into_response(),
    };
    let limit = limit.unwrap_or(50).min(1000);
    let read = events::on_store(jobs, move |store| {
        store.record_access(
            &user,
            "access_log.read",
            &format!("latest {limit}"),
            crate::cases::now_us(),
        )?;
        store.access_log(limit)
    })
    .await;
    match read {
        Ok(Ok(records)) => (
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "access": records }).to_string(),
        )
            .into_response(),
        Ok(Err(error)) => {
            tracing::error!(%error, "reading the access log");
            events::Refusal::unavailable().into_response()
        }
        Err(refusal) => refusal.into_response(),
    }
}

async fn checkpoint(State(state): State<Arc<Served>>) -> Response {
    match tokio::fs::read(state.events_log.join("checkpoint")).await {
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

async fn tile(State(state): State<Arc<Served>>, UrlPath(path): UrlPath<String>) -> Response {
    let Some(parsed) = tile::parse_tile_path(&format!("tile/{path}")) else {
        return (StatusCode::NOT_FOUND, "not a tile path\n").into_response();
    };
    let full = match parsed {
        TilePath::Hashes { width, .. } | TilePath::Entries { width, .. } => width == 256,
    };
    let read = tokio::task::spawn_blocking(move || {
        let size = state.tiles.latest_checkpoint()?.map_or(0, |(_, size)| size);
        state.tiles.read(&parsed, size)
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
