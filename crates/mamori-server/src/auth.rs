//! Who is calling, and the routes that sign in and out.
//!
//! A request is authenticated either by a bearer token (`Authorization: Bearer mmr_…`: API
//! tokens of users, ingest tokens of agents) or by a browser session (the `mamori_session`
//! cookie: HttpOnly, SameSite=Strict, Secure when serving TLS). A request made with a session
//! that changes anything (any method but GET and HEAD) must also send the session's CSRF
//! token in `X-CSRF-Token`; bearer tokens are never sent by a browser on its own, so they need
//! none. Until a user has replaced their one-time password, their session may only change it,
//! ask who they are, and sign out.
//!
//! Sign-in attempts are limited per client address ([`LoginLimiter`]) on top of the
//! per-account lockout the store keeps; every sign-in, failed or not, and every password
//! change is in the access log.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mamori_store::auth::{
    Login, LoginCheck, Owner, Role, Scope, TokenInfo, csrf_matches, csrf_token, verify_password,
};
use serde_json::json;

use crate::store::{Job, Refusal, on_store};

/// The session cookie's name.
pub const COOKIE: &str = "mamori_session";
/// The header that carries a session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Sign-in attempts one client address may make per [`LOGIN_WINDOW`].
const LOGINS_PER_WINDOW: u32 = 10;
const LOGIN_WINDOW: Duration = Duration::from_secs(60);

/// The authenticated user of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// The session's cookie value when the caller came with one (not a token).
    session: Option<String>,
}

/// How the request says who it is.
enum Credential {
    Token(String),
    Session(String),
}

fn credential(headers: &HeaderMap) -> Result<Credential, Refusal> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        return value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|token| Credential::Token(token.trim().to_string()))
            .ok_or_else(|| {
                Refusal::unauthorised(StatusCode::UNAUTHORIZED, "a bearer token is needed")
            });
    }
    session_cookie(headers)
        .map(Credential::Session)
        .ok_or_else(|| {
            Refusal::unauthorised(
                StatusCode::UNAUTHORIZED,
                "sign in (POST /api/v1/login) or send a bearer token",
            )
        })
}

/// The value of the session cookie, if the request has one.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

/// The valid token of the request, or `401`.
pub(crate) async fn bearer(
    jobs: &SyncSender<Job>,
    headers: &HeaderMap,
) -> Result<TokenInfo, Refusal> {
    let Credential::Token(token) = credential(headers)? else {
        return Err(Refusal::unauthorised(
            StatusCode::UNAUTHORIZED,
            "a bearer token is needed",
        ));
    };
    let found = on_store(jobs, move |ctx| {
        ctx.store().authenticate_token(&token, crate::now_us())
    })
    .await??;
    found.ok_or_else(|| {
        Refusal::unauthorised(
            StatusCode::UNAUTHORIZED,
            "unknown, expired or revoked token",
        )
    })
}

/// The caller if their role is one of `roles` (default deny: no role, no access), their
/// session's CSRF token is right for a change, and they have no one-time password left to
/// replace.
pub(crate) async fn authorise(
    jobs: &SyncSender<Job>,
    method: &Method,
    headers: &HeaderMap,
    roles: &'static [Role],
) -> Result<Caller, Refusal> {
    let caller = authenticate(jobs, method, headers).await?;
    if !roles.contains(&caller.role) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "your role may not use this",
        ));
    }
    Ok(caller)
}

/// The caller, whatever their role, even with a one-time password still to replace.
async fn authenticate_any(
    jobs: &SyncSender<Job>,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(Caller, bool), Refusal> {
    let forbidden = || Refusal::new(StatusCode::FORBIDDEN, "your role may not use this");
    let credential = credential(headers)?;
    let (user, session) = match credential {
        Credential::Token(token) => {
            let found = on_store(jobs, move |ctx| {
                let now = crate::now_us();
                match ctx.store().authenticate_token(&token, now)? {
                    Some(TokenInfo {
                        owner: Owner::User(name),
                        scope: Scope::Api,
                        ..
                    }) => ctx.store().user(&name).map(|user| user.map(Ok)),
                    Some(_) => Ok(Some(Err(()))),
                    None => Ok(None),
                }
            })
            .await??;
            match found {
                Some(Ok(user)) => (user, None),
                // An agent's or a SCIM token: valid, but not for this API.
                Some(Err(())) => return Err(forbidden()),
                None => {
                    return Err(Refusal::unauthorised(
                        StatusCode::UNAUTHORIZED,
                        "unknown, expired or revoked token",
                    ));
                }
            }
        }
        Credential::Session(cookie) => {
            let lookup = cookie.clone();
            let user = on_store(jobs, move |ctx| {
                ctx.store().session_user(&lookup, crate::now_us())
            })
            .await??
            .ok_or_else(|| {
                Refusal::unauthorised(
                    StatusCode::UNAUTHORIZED,
                    "the session has ended: sign in again",
                )
            })?;
            if !matches!(*method, Method::GET | Method::HEAD) {
                let sent = headers
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !csrf_matches(&cookie, sent) {
                    return Err(Refusal::new(
                        StatusCode::FORBIDDEN,
                        format!("a change made with a session needs its {CSRF_HEADER} header"),
                    ));
                }
            }
            (user, Some(cookie))
        }
    };
    let must_change = user.must_change_password && session.is_some();
    Ok((
        Caller {
            name: user.name,
            role: user.role,
            session,
        },
        must_change,
    ))
}

async fn authenticate(
    jobs: &SyncSender<Job>,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Caller, Refusal> {
    let (caller, must_change) = authenticate_any(jobs, method, headers).await?;
    if must_change {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "replace your one-time password first (POST /api/v1/password)",
        ));
    }
    Ok(caller)
}

/// Sign-in attempts per client address in the current window.
#[derive(Default)]
pub struct LoginLimiter {
    attempts: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl LoginLimiter {
    /// Counts an attempt from `client`; `false` when it is over the limit.
    fn allow(&self, client: IpAddr) -> bool {
        let now = Instant::now();
        let Ok(mut attempts) = self.attempts.lock() else {
            return false;
        };
        if attempts.len() > 10_000 {
            attempts.retain(|_, (start, _)| now.duration_since(*start) < LOGIN_WINDOW);
        }
        let (start, count) = attempts.entry(client).or_insert((now, 0));
        if now.duration_since(*start) >= LOGIN_WINDOW {
            (*start, *count) = (now, 0);
        }
        *count += 1;
        *count <= LOGINS_PER_WINDOW
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    name: String,
    password: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// A JSON request body of one value, or `400` naming what is wrong with it and where (the
/// field path, when a field is at fault).
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    let bad = |message: String| Refusal::new(StatusCode::BAD_REQUEST, message);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Ok(value) => {
            deserializer
                .end()
                .map_err(|e| bad(format!("the body is not one JSON object: {e}")))?;
            Ok(value)
        }
        Err(error) => {
            let path = error.path().to_string();
            Err(bad(if path == "." {
                format!(
                    "the body is not the JSON this route takes: {}",
                    error.inner()
                )
            } else {
                format!("{path}: {}", error.inner())
            }))
        }
    }
}

/// `POST /api/v1/login`: a session for a name and password.
pub(crate) async fn login(
    jobs: SyncSender<Job>,
    limiter: &LoginLimiter,
    secure: bool,
    client: IpAddr,
    body: Bytes,
) -> Result<Response, Refusal> {
    if !limiter.allow(client) {
        return Err(
            Refusal::new(StatusCode::TOO_MANY_REQUESTS, "too many sign-in attempts")
                .with(header::RETRY_AFTER, "60"),
        );
    }
    let LoginBody { name, password } = json_body(&body)?;
    let refused = || {
        Refusal::new(
            StatusCode::UNAUTHORIZED,
            "wrong name or password, or the account is locked for a while",
        )
    };
    let lookup = name.clone();
    let check = on_store(&jobs, move |ctx| {
        let check = ctx.store().login_check(&lookup, crate::now_us())?;
        if let LoginCheck::Locked { .. } = check {
            ctx.record(&lookup, "session.login_refused", "account locked")?;
        }
        Ok::<_, mamori_store::StoreError>(check)
    })
    .await??;
    let LoginCheck::Verify(hash) = check else {
        return Err(refused());
    };
    // argon2 takes tens of milliseconds: not on the store's thread.
    let matched = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .map_err(|_| Refusal::internal())?;
    let started = on_store(&jobs, move |ctx| {
        let now = crate::now_us();
        match ctx.store().record_login(&name, matched, now)? {
            Login::Accepted(user) => {
                let cookie = ctx.store().start_session(&user.name, now)?;
                ctx.record(&user.name, "session.login", "password")?;
                Ok(Some((user, cookie)))
            }
            Login::Refused | Login::Locked { .. } => {
                // Only names of real users go into the log: anything can be typed here.
                if ctx.store().user(&name)?.is_some() {
                    ctx.record(&name, "session.login_refused", "wrong password")?;
                }
                Ok::<_, mamori_store::StoreError>(None)
            }
        }
    })
    .await??;
    let Some((user, cookie)) = started else {
        return Err(refused());
    };
    let set_cookie = format!(
        "{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    );
    let mut response = json_response(
        StatusCode::OK,
        &json!({
            "name": user.name,
            "role": user.role,
            "must_change_password": user.must_change_password,
            "csrf_token": csrf_token(&cookie),
        }),
    );
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&set_cookie).map_err(|_| Refusal::internal())?,
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /api/v1/logout`: ends the caller's session.
pub(crate) async fn logout(
    jobs: SyncSender<Job>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let (caller, _) = authenticate_any(&jobs, &method, &headers).await?;
    if let Some(cookie) = caller.session {
        on_store(&jobs, move |ctx| {
            ctx.store().end_session(&cookie)?;
            ctx.record(&caller.name, "session.logout", "")
        })
        .await??;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("mamori_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

/// `GET /api/v1/me`: who the caller is.
pub(crate) async fn me(
    jobs: SyncSender<Job>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let (caller, must_change) = authenticate_any(&jobs, &method, &headers).await?;
    let name = caller.name.clone();
    let preferences = on_store(&jobs, move |ctx| ctx.store().preferences(&name)).await??;
    let mut answer = crate::admin::preferences_view(&preferences);
    answer["name"] = json!(caller.name);
    answer["role"] = json!(caller.role);
    answer["must_change_password"] = json!(must_change);
    // A page loaded afresh learns its session's CSRF token here (the cookie is HttpOnly).
    answer["csrf_token"] = json!(caller.session.as_deref().map(csrf_token));
    Ok(json_response(StatusCode::OK, &answer))
}

/// `POST /api/v1/password`: the caller replaces their password (a one-time one included),
/// which ends their other sessions.
pub(crate) async fn change_password(
    jobs: SyncSender<Job>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let (caller, _) = authenticate_any(&jobs, &method, &headers).await?;
    let PasswordBody {
        current_password,
        new_password,
    } = json_body(&body)?;
    if new_password == current_password {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the new password must differ from the current one",
        ));
    }
    let name = caller.name.clone();
    let check = on_store(&jobs, move |ctx| {
        ctx.store().login_check(&name, crate::now_us())
    })
    .await??;
    let LoginCheck::Verify(hash) = check else {
        return Err(Refusal::new(StatusCode::FORBIDDEN, "the account is locked"));
    };
    let matched = tokio::task::spawn_blocking(move || verify_password(&hash, &current_password))
        .await
        .map_err(|_| Refusal::internal())?;
    on_store(&jobs, move |ctx| {
        let now = crate::now_us();
        if !matches!(
            ctx.store().record_login(&caller.name, matched, now)?,
            Login::Accepted(_)
        ) {
            ctx.record(
                &caller.name,
                "users.password_refused",
                "wrong current password",
            )?;
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "the current password is wrong",
            ));
        }
        ctx.store().set_password(&caller.name, &new_password)?;
        let ended = ctx
            .store()
            .end_sessions_of(&caller.name, caller.session.as_deref())?;
        ctx.record(
            &caller.name,
            "users.password",
            &format!("{ended} other sessions ended"),
        )?;
        Ok::<_, Refusal>(())
    })
    .await??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A JSON answer.
pub(crate) fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}
