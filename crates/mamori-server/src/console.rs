//! The web console: a page and its scripts, styles and message catalogs, embedded in the
//! binary at build time (`build.rs`, from `src/console_assets.txt`), served under
//! `/console/`. It is one client of the JSON API and has no privileges of its own.
//!
//! Every file is sent with a Content-Security-Policy that allows only this server's own
//! scripts and styles (no inline code, no other origin, no framing), so text that came from
//! events cannot run as script even if a page mishandled it.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::Served;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'";

pub(crate) fn routes() -> Router<Arc<Served>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(|| async { asset("index.html") }))
        .route(
            "/console/{*file}",
            get(|UrlPath(file): UrlPath<String>| async move { asset(&file) }),
        )
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// An embedded file by its name; only listed names are served.
fn asset(name: &str) -> Response {
    let Some((name, embedded)) = assets::ASSETS.iter().find(|(n, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let body = from_disk(name).unwrap_or_else(|| embedded.to_vec());
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Small files that change with each build: revalidated rather than cached stale.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Debug builds read a listed file from `MAMORI_CONSOLE_DIR` when it is set, so the console
/// can be edited without rebuilding; release builds serve only what they embed.
#[cfg(debug_assertions)]
fn from_disk(name: &str) -> Option<Vec<u8>> {
    let dir = std::env::var_os("MAMORI_CONSOLE_DIR")?;
    std::fs::read(std::path::Path::new(&dir).join(name)).ok()
}

#[cfg(not(debug_assertions))]
fn from_disk(_name: &str) -> Option<Vec<u8>> {
    None
}
