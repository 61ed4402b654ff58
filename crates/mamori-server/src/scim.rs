//! The SCIM 2.0 service provider (RFC 7644) at `/scim/v2`: identity providers (Microsoft
//! Entra ID, Okta, any SCIM client) provision Users and Groups into Mamori (docs/scim.md).
//!
//! The resource rules — schemas, validation, filters, PATCH, attribute selection — are
//! `mamori-scim`'s; this module adds HTTP, authentication (a bearer token of scope `scim`),
//! storage, and what Mamori makes of a change:
//!
//! - **HR.** A User's attributes become a version of its person's HR record from today
//!   (employee number, name, department, manager, title, and the Mamori extension's notice and
//!   termination dates, employment type and watch flag); its `userName` becomes one of the
//!   person's accounts, so events under that account are the person's.
//! - **Evidence.** Each change is an event in the ledger — `account.create`, `account.change`,
//!   `account.enable`/`account.disable`, `account.delete`, `account.group_add`/`group_remove` —
//!   with the token's owner as actor: who granted what, when, is on the record.
//! - **Audit.** Every read is recorded in the access ledger before it is answered.
//!
//! Errors are SCIM error bodies (`application/scim+json`), whatever refused the request.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use mamori_event::PersonRecord;
use mamori_scim::{Filter, Kind, ScimError};
use mamori_store::auth::{Owner, Scope, TokenInfo};
use mamori_store::{ScimConflict, ScimResource, ScimWrite};
use serde_json::{Value, json};

use crate::Served;
use crate::store::{Ctx, Refusal, on_store};

/// Where the service provider is mounted.
pub const BASE: &str = "/scim/v2";
const SCIM_JSON: &str = "application/scim+json";
/// Largest request body: a Group with many thousand members still fits.
const MAX_BODY: usize = 4 << 20;
/// Resources in one page when the client does not say, and at most.
const DEFAULT_COUNT: usize = 100;
const MAX_COUNT: usize = 200;
/// Where SCIM changes appear in events (`source.name`).
const SOURCE: &str = "scim";
const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const MAMORI_HR_USER: &str = "urn:mamori:params:scim:schemas:extension:hr:2.0:User";

/// The attribute a kind's resources are unique by.
fn unique_attribute(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "userName",
        Kind::Group => "displayName",
    }
}

pub(crate) fn routes() -> Router<Arc<Served>> {
    let mut router = Router::new()
        .route(
            "/scim/v2/ServiceProviderConfig",
            get(|s: State<Arc<Served>>, h: HeaderMap| async move {
                discovery(&s, &h, |base| {
                    Ok(mamori_scim::service_provider_config(base))
                })
                .await
            }),
        )
        .route(
            "/scim/v2/Schemas",
            get(|s: State<Arc<Served>>, h: HeaderMap| async move {
                discovery(&s, &h, |_| Ok(list_of(mamori_scim::schemas()))).await
            }),
        )
        .route(
            "/scim/v2/Schemas/{id}",
            get(
                |s: State<Arc<Served>>, h: HeaderMap, UrlPath(id): UrlPath<String>| async move {
                    discovery(&s, &h, move |_| {
                        mamori_scim::schemas()
                            .into_iter()
                            .find(|schema| schema["id"] == id.as_str())
                            .ok_or_else(|| ScimError::not_found(format!("no schema {id}")))
                    })
                    .await
                },
            ),
        )
        .route(
            "/scim/v2/ResourceTypes",
            get(|s: State<Arc<Served>>, h: HeaderMap| async move {
                discovery(&s, &h, |base| {
                    Ok(list_of(mamori_scim::resource_types(base)))
                })
                .await
            }),
        )
        .route(
            "/scim/v2/ResourceTypes/{name}",
            get(
                |s: State<Arc<Served>>, h: HeaderMap, UrlPath(name): UrlPath<String>| async move {
                    discovery(&s, &h, move |base| {
                        mamori_scim::resource_types(base)
                            .into_iter()
                            .find(|t| t["id"] == name.as_str() || t["name"] == name.as_str())
                            .ok_or_else(|| ScimError::not_found(format!("no resource type {name}")))
                    })
                    .await
                },
            ),
        )
        .route(
            "/scim/v2/.search",
            post(|s: State<Arc<Served>>, h: HeaderMap, b: Bytes| async move {
                post_search(&s, &h, &b, &[Kind::User, Kind::Group]).await
            }),
        )
        // Anything else under the base is a SCIM 404 (`/Bulk`, `/Me` are not served).
        .route(
            "/scim/v2/{*rest}",
            any(|UrlPath(rest): UrlPath<String>| async move {
                error(ScimError::not_found(format!(
                    "{BASE}/{rest}: no such endpoint"
                )))
            }),
        );
    // The same routes for each resource type.
    for kind in [Kind::User, Kind::Group] {
        let endpoint = kind.endpoint();
        router = router
            .route(
                &format!("{BASE}/{endpoint}"),
                get(move |s, h, q| list(s, h, q, kind)).post(move |s, h, b| create(s, h, b, kind)),
            )
            .route(
                &format!("{BASE}/{endpoint}/.search"),
                post(
                    move |s: State<Arc<Served>>, h: HeaderMap, b: Bytes| async move {
                        post_search(&s, &h, &b, &[kind]).await
                    },
                ),
            )
            .route(
                &format!("{BASE}/{endpoint}/{{id}}"),
                get(move |s, h, p, q| read(s, h, p, q, kind))
                    .put(move |s, h, p, b| replace(s, h, p, b, kind, Change::Replace))
                    .patch(move |s, h, p, b| replace(s, h, p, b, kind, Change::Patch))
                    .delete(move |s, h, p| delete(s, h, p, kind)),
            );
    }
    router
}

/// A SCIM answer: a resource or list with its status, or an error body.
struct Answer {
    status: StatusCode,
    body: Value,
    etag: Option<u64>,
    location: Option<String>,
}

impl Answer {
    fn ok(body: Value) -> Answer {
        Answer {
            status: StatusCode::OK,
            body,
            etag: None,
            location: None,
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = if self.status == StatusCode::NO_CONTENT {
            self.status.into_response()
        } else {
            (
                self.status,
                [(header::CONTENT_TYPE, SCIM_JSON)],
                self.body.to_string(),
            )
                .into_response()
        };
        let headers = response.headers_mut();
        if let Some(version) = self.etag
            && let Ok(value) = HeaderValue::from_str(&etag(version))
        {
            headers.insert(header::ETAG, value);
        }
        if let Some(location) = self.location
            && let Ok(value) = HeaderValue::from_str(&location)
        {
            headers.insert(header::LOCATION, value);
        }
        response
    }
}

/// A request that failed: for a reason of the resource rules (with its `scimType`), or of
/// the server (authentication, size, the store).
enum Fail {
    Scim(ScimError),
    Server(StatusCode, String),
}

impl From<ScimError> for Fail {
    fn from(e: ScimError) -> Fail {
        Fail::Scim(e)
    }
}

/// Any failure as a SCIM error body.
fn error(fail: impl Into<Fail>) -> Response {
    let (status, body) = match fail.into() {
        Fail::Scim(e) => (
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
            e.body(),
        ),
        Fail::Server(status, detail) => (
            status,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": status.as_u16().to_string(),
                "detail": detail,
            }),
        ),
    };
    (
        status,
        [(header::CONTENT_TYPE, SCIM_JSON)],
        body.to_string(),
    )
        .into_response()
}

fn refused(r: &Refusal) -> Response {
    let mut response = error(Fail::Server(r.status(), r.message().to_owned()));
    if r.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"mamori-scim\""),
        );
    }
    response
}

fn finish(result: Result<Result<Answer, Fail>, Refusal>) -> Response {
    match result {
        Ok(Ok(answer)) => answer.into_response(),
        Ok(Err(e)) => error(e),
        Err(r) => refused(&r),
    }
}

fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// The caller: the owner of a valid token of scope `scim` (a user's API token, a session or an
/// agent's token does not do).
async fn provisioner(state: &Served, headers: &HeaderMap) -> Result<String, Refusal> {
    match crate::auth::bearer(&state.jobs, headers).await? {
        TokenInfo {
            owner: Owner::User(name),
            scope: Scope::Scim,
            ..
        } => Ok(name),
        _ => Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "this token may not provision (a token of scope scim may)",
        )),
    }
}

/// The URL the client reached us under, for `meta.location` (`Host`, and the scheme the
/// server speaks).
fn base_url(state: &Served, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    let scheme = if state.secure { "https" } else { "http" };
    format!("{scheme}://{host}{BASE}")
}

fn list_of(resources: Vec<Value>) -> Value {
    let n = resources.len();
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": n,
        "startIndex": 1,
        "itemsPerPage": n,
        "Resources": resources,
    })
}

async fn discovery(
    state: &Served,
    headers: &HeaderMap,
    make: impl FnOnce(&str) -> Result<Value, ScimError>,
) -> Response {
    if let Err(r) = provisioner(state, headers).await {
        return refused(&r);
    }
    match make(&base_url(state, headers)) {
        Ok(body) => Answer::ok(body).into_response(),
        Err(e) => error(e),
    }
}

/// Query parameters of reads and lists.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Query {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

fn query(raw: Option<&str>) -> Result<Query, ScimError> {
    match raw {
        None => Ok(Query::default()),
        Some(raw) => serde_urlencoded::from_str(raw)
            .map_err(|e| ScimError::invalid_value(format!("query: {e}"))),
    }
}

fn body_json(body: &Bytes) -> Result<Value, Fail> {
    if body.len() > MAX_BODY {
        return Err(Fail::Server(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {MAX_BODY} bytes"),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| Fail::Scim(ScimError::invalid_syntax(format!("JSON: {e}"))))
}

/// The version a client names with `If-Match` (`*` or absent: any).
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ScimError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    text.trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(Some)
        .map_err(|_| ScimError::precondition_failed(format!("If-Match {text:?}: not a version")))
}

fn precondition_failed() -> ScimError {
    ScimError::precondition_failed("the resource changed since that version: read it again")
}

/// A stored resource as clients see it: with `id`, `meta`, and for Users the groups they
/// are members of.
fn full(
    kind: Kind,
    stored: &ScimResource,
    base: &str,
    groups: &HashMap<String, Vec<Value>>,
) -> Value {
    let mut resource = stored.resource.clone();
    if let Some(object) = resource.as_object_mut() {
        object.insert("id".into(), json!(stored.id));
        if let Some(external) = &stored.external_id {
            object.insert("externalId".into(), json!(external));
        }
        let time = |us: i64| {
            jiff::Timestamp::from_microsecond(us)
                .map(|t| t.to_string())
                .unwrap_or_default()
        };
        object.insert(
            "meta".into(),
            json!({
                "resourceType": kind.name(),
                "created": time(stored.created_us),
                "lastModified": time(stored.modified_us),
                "location": format!("{base}/{}/{}", kind.endpoint(), stored.id),
                "version": etag(stored.version),
            }),
        );
        if kind == Kind::User
            && let Some(list) = groups.get(&stored.id)
        {
            object.insert("groups".into(), Value::Array(list.clone()));
        }
    }
    resource
}

/// For each member id, the groups it is in (the readOnly `groups` of a User).
fn memberships(groups: &[ScimResource], base: &str) -> HashMap<String, Vec<Value>> {
    let mut out: HashMap<String, Vec<Value>> = HashMap::new();
    for group in groups {
        for member in member_ids(&group.resource) {
            out.entry(member).or_default().push(json!({
                "value": group.id,
                "$ref": format!("{base}/Groups/{}", group.id),
                "display": group.resource["displayName"],
                "type": "direct",
            }));
        }
    }
    out
}

fn member_ids(group: &Value) -> BTreeSet<String> {
    group["members"]
        .as_array()
        .map(|members| {
            members
                .iter()
                .filter_map(|m| m["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn store_error(e: mamori_store::StoreError) -> Fail {
    tracing::error!(error = %e, "SCIM store job");
    Fail::Server(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the store failed: see the server's log".into(),
    )
}

async fn list(
    State(state): State<Arc<Served>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    kind: Kind,
) -> Response {
    match query(raw.as_deref()) {
        Ok(q) => search(&state, &headers, &[kind], q).await,
        Err(e) => error(e),
    }
}

/// `POST …/.search` (RFC 7644 §3.4.3): a query in the body instead of the URL, for one
/// resource type or, at the root, both.
async fn post_search(
    state: &Served,
    headers: &HeaderMap,
    body: &Bytes,
    kinds: &[Kind],
) -> Response {
    let request = match body_json(body).and_then(|b| {
        serde_json::from_value::<SearchRequest>(b)
            .map_err(|e| Fail::Scim(ScimError::invalid_syntax(format!("search request: {e}"))))
    }) {
        Ok(request) => request,
        Err(e) => return error(e),
    };
    let q = Query {
        filter: request.filter,
        start_index: request.start_index,
        count: request.count,
        attributes: request.attributes.map(|a| a.join(",")),
        excluded_attributes: request.excluded_attributes.map(|a| a.join(",")),
    };
    search(state, headers, kinds, q).await
}

/// The body of `POST …/.search`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchRequest {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    attributes: Option<Vec<String>>,
    excluded_attributes: Option<Vec<String>>,
}

/// A list of the resources of `kinds` that match the query, one page of them.
async fn search(state: &Served, headers: &HeaderMap, kinds: &[Kind], q: Query) -> Response {
    let actor = match provisioner(state, headers).await {
        Ok(actor) => actor,
        Err(r) => return refused(&r),
    };
    // A filter names attributes of a kind: at the root, a kind whose schema lacks them
    // matches nothing; a filter no kind understands is an error.
    let mut filters = Vec::new();
    let mut last_error = None;
    for &kind in kinds {
        match q
            .filter
            .as_deref()
            .map(|f| Filter::parse(kind, f))
            .transpose()
        {
            Ok(filter) => filters.push((kind, filter)),
            Err(e) => last_error = Some(e),
        }
    }
    if filters.is_empty()
        && let Some(e) = last_error
    {
        return error(e);
    }
    let base = base_url(state, headers);
    let target = kinds
        .iter()
        .map(|k| k.endpoint())
        .collect::<Vec<_>>()
        .join(",");
    finish(
        on_store(&state.jobs, move |ctx| -> Result<Answer, Fail> {
            let mut matching = Vec::new();
            for (kind, filter) in &filters {
                for resource in find(ctx, *kind, filter.as_ref(), &base)? {
                    matching.push((*kind, resource));
                }
            }
            let total = matching.len();
            let start = usize::try_from(q.start_index.unwrap_or(1).max(1)).unwrap_or(1);
            let count = q
                .count
                .map_or(DEFAULT_COUNT, |c| usize::try_from(c.max(0)).unwrap_or(0))
                .min(MAX_COUNT);
            let page = matching
                .iter()
                .skip(start - 1)
                .take(count)
                .map(|(kind, r)| {
                    mamori_scim::project(
                        *kind,
                        r,
                        q.attributes.as_deref(),
                        q.excluded_attributes.as_deref(),
                    )
                })
                .collect::<Result<Vec<Value>, ScimError>>()?;
            ctx.record(&format!("scim:{actor}"), "scim.list", &target)
                .map_err(store_error)?;
            Ok(Answer::ok(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": total,
                "startIndex": start,
                "itemsPerPage": page.len(),
                "Resources": page,
            })))
        })
        .await,
    )
}

/// Every resource of `kind` matching `filter`, as clients see them.
fn find(
    ctx: &mut Ctx<'_, '_>,
    kind: Kind,
    filter: Option<&Filter>,
    base: &str,
) -> Result<Vec<Value>, Fail> {
    let attribute = unique_attribute(kind);
    let candidates = match filter.and_then(|f| f.eq_value(attribute)) {
        // `userName eq "…"`: what provisioning asks before every create.
        Some(value) => match mamori_scim::unique_key(kind, &json!({ attribute: value })) {
            Some(key) => ctx
                .store()
                .scim_by_key(kind.name(), &key)
                .map_err(store_error)?
                .into_iter()
                .collect(),
            None => Vec::new(),
        },
        None => ctx.store().scim_all(kind.name()).map_err(store_error)?,
    };
    let groups = groups_for(ctx, kind, base).map_err(store_error)?;
    Ok(candidates
        .iter()
        .map(|stored| full(kind, stored, base, &groups))
        .filter(|resource| filter.is_none_or(|f| f.matches(resource)))
        .collect())
}

/// The memberships to show on Users (nothing to look up for Groups).
fn groups_for(
    ctx: &mut Ctx<'_, '_>,
    kind: Kind,
    base: &str,
) -> Result<HashMap<String, Vec<Value>>, mamori_store::StoreError> {
    if kind == Kind::User {
        Ok(memberships(
            &ctx.store().scim_all(Kind::Group.name())?,
            base,
        ))
    } else {
        Ok(HashMap::new())
    }
}

async fn read(
    State(state): State<Arc<Served>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    RawQuery(raw): RawQuery,
    kind: Kind,
) -> Response {
    let actor = match provisioner(&state, &headers).await {
        Ok(actor) => actor,
        Err(r) => return refused(&r),
    };
    let q = match query(raw.as_deref()) {
        Ok(q) => q,
        Err(e) => return error(e),
    };
    let base = base_url(&state, &headers);
    finish(
        on_store(&state.jobs, move |ctx| -> Result<Answer, Fail> {
            let stored = match ctx.store().scim_get(kind.name(), &id) {
                Ok(Some(stored)) => stored,
                Ok(None) => {
                    return Err(Fail::from(ScimError::not_found(format!(
                        "no {} {id}",
                        kind.name()
                    ))));
                }
                Err(e) => return Err(store_error(e)),
            };
            let groups = groups_for(ctx, kind, &base).map_err(store_error)?;
            let resource = full(kind, &stored, &base, &groups);
            let projected = mamori_scim::project(
                kind,
                &resource,
                q.attributes.as_deref(),
                q.excluded_attributes.as_deref(),
            )?;
            ctx.record(
                &format!("scim:{actor}"),
                "scim.read",
                &format!("{}/{id}", kind.endpoint()),
            )
            .map_err(store_error)?;
            Ok(Answer {
                etag: Some(stored.version),
                ..Answer::ok(projected)
            })
        })
        .await,
    )
}

/// How a resource is being changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Replace,
    Patch,
}

async fn create(
    State(state): State<Arc<Served>>,
    headers: HeaderMap,
    body: Bytes,
    kind: Kind,
) -> Response {
    let actor = match provisioner(&state, &headers).await {
        Ok(actor) => actor,
        Err(r) => return refused(&r),
    };
    let prepared = match body_json(&body).and_then(|input| {
        let external = input
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok((mamori_scim::prepare_create(kind, &input)?, external))
    }) {
        Ok(prepared) => prepared,
        Err(e) => return error(e),
    };
    let base = base_url(&state, &headers);
    finish(
        on_store(&state.jobs, move |ctx| -> Result<Answer, Fail> {
            let (resource, external) = prepared;
            let key = unique_key(kind, &resource)?;
            if kind == Kind::Group {
                check_members(ctx, &resource)?;
            }
            let id = new_id().map_err(|e| Fail::Server(StatusCode::INTERNAL_SERVER_ERROR, e))?;
            let now = crate::now_us();
            let write = ScimWrite {
                kind: kind.name(),
                id: &id,
                unique_key: &key,
                external_id: external.as_deref(),
                resource: &resource,
            };
            let stored = match ctx.store().scim_insert(write, now).map_err(store_error)? {
                Ok(stored) => stored,
                Err(_) => return Err(Fail::from(taken(kind, &resource))),
            };
            after_change(ctx, &actor, kind, None, Some(&stored)).map_err(store_error)?;
            let groups = groups_for(ctx, kind, &base).map_err(store_error)?;
            let body = full(kind, &stored, &base, &groups);
            Ok(Answer {
                status: StatusCode::CREATED,
                location: body["meta"]["location"].as_str().map(str::to_owned),
                etag: Some(stored.version),
                body,
            })
        })
        .await,
    )
}

async fn replace(
    State(state): State<Arc<Served>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
    kind: Kind,
    change: Change,
) -> Response {
    let actor = match provisioner(&state, &headers).await {
        Ok(actor) => actor,
        Err(r) => return refused(&r),
    };
    let (input, expected) = match body_json(&body).and_then(|b| Ok((b, if_match(&headers)?))) {
        Ok(parsed) => parsed,
        Err(e) => return error(e),
    };
    let base = base_url(&state, &headers);
    finish(
        on_store(&state.jobs, move |ctx| -> Result<Answer, Fail> {
            let before = ctx
                .store()
                .scim_get(kind.name(), &id)
                .map_err(store_error)?
                .ok_or_else(|| ScimError::not_found(format!("no {} {id}", kind.name())))?;
            if expected.is_some_and(|v| v != before.version) {
                return Err(Fail::from(precondition_failed()));
            }
            // The resource as the client knows it (with id and meta), so that PATCH paths
            // and PUT bodies that carry them are judged against the same thing.
            let groups = groups_for(ctx, kind, &base).map_err(store_error)?;
            let current = full(kind, &before, &base, &groups);
            let (resource, external) = match change {
                Change::Replace => {
                    let external = input
                        .get("externalId")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    (
                        mamori_scim::prepare_replace(kind, &current, &input)?,
                        external,
                    )
                }
                Change::Patch => {
                    let patched = mamori_scim::apply_patch(kind, &current, &input)?;
                    let external = patched
                        .get("externalId")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    (strip_server_attributes(patched), external)
                }
            };
            let key = unique_key(kind, &resource)?;
            if kind == Kind::Group {
                check_members(ctx, &resource)?;
            }
            let write = ScimWrite {
                kind: kind.name(),
                id: &id,
                unique_key: &key,
                external_id: external.as_deref(),
                resource: &resource,
            };
            let stored = match ctx
                .store()
                .scim_update(write, Some(before.version), crate::now_us())
                .map_err(store_error)?
            {
                Ok(stored) => stored,
                Err(ScimConflict::Taken) => return Err(Fail::from(taken(kind, &resource))),
                Err(ScimConflict::Changed) => return Err(Fail::from(precondition_failed())),
            };
            after_change(ctx, &actor, kind, Some(&before), Some(&stored)).map_err(store_error)?;
            let groups = groups_for(ctx, kind, &base).map_err(store_error)?;
            Ok(Answer {
                etag: Some(stored.version),
                ..Answer::ok(full(kind, &stored, &base, &groups))
            })
        })
        .await,
    )
}

async fn delete(
    State(state): State<Arc<Served>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    kind: Kind,
) -> Response {
    let actor = match provisioner(&state, &headers).await {
        Ok(actor) => actor,
        Err(r) => return refused(&r),
    };
    let expected = match if_match(&headers) {
        Ok(expected) => expected,
        Err(e) => return error(e),
    };
    finish(
        on_store(&state.jobs, move |ctx| -> Result<Answer, Fail> {
            let before = ctx
                .store()
                .scim_get(kind.name(), &id)
                .map_err(store_error)?
                .ok_or_else(|| ScimError::not_found(format!("no {} {id}", kind.name())))?;
            if expected.is_some_and(|v| v != before.version) {
                return Err(Fail::from(precondition_failed()));
            }
            ctx.store()
                .scim_delete(kind.name(), &id)
                .map_err(store_error)?;
            if kind == Kind::User {
                drop_member(ctx, &id).map_err(store_error)?;
            }
            after_change(ctx, &actor, kind, Some(&before), None).map_err(store_error)?;
            Ok(Answer {
                status: StatusCode::NO_CONTENT,
                ..Answer::ok(Value::Null)
            })
        })
        .await,
    )
}

/// `id`, `meta` and `groups` are the server's: what PATCH returns carries them, what is
/// stored does not.
fn strip_server_attributes(mut resource: Value) -> Value {
    if let Some(object) = resource.as_object_mut() {
        for key in ["id", "meta", "groups", "externalId"] {
            object.remove(key);
        }
    }
    resource
}

fn unique_key(kind: Kind, resource: &Value) -> Result<String, Fail> {
    mamori_scim::unique_key(kind, resource).ok_or_else(|| {
        Fail::from(ScimError::invalid_value(format!(
            "{} is required",
            unique_attribute(kind)
        )))
    })
}

fn taken(kind: Kind, resource: &Value) -> ScimError {
    ScimError::uniqueness(format!(
        "a {} with {} {} exists",
        kind.name(),
        unique_attribute(kind),
        resource[unique_attribute(kind)]
    ))
}

/// Members of a group must be Users or Groups that exist.
fn check_members(ctx: &mut Ctx<'_, '_>, group: &Value) -> Result<(), Fail> {
    for member in member_ids(group) {
        let store = ctx.store();
        let known = store
            .scim_get(Kind::User.name(), &member)
            .map_err(store_error)?
            .is_some()
            || store
                .scim_get(Kind::Group.name(), &member)
                .map_err(store_error)?
                .is_some();
        if !known {
            return Err(Fail::from(ScimError::invalid_value(format!(
                "members: no User or Group {member}"
            ))));
        }
    }
    Ok(())
}

/// Takes a deleted User out of every Group (RFC 7644 §3.6).
fn drop_member(ctx: &mut Ctx<'_, '_>, user: &str) -> Result<(), mamori_store::StoreError> {
    let now = crate::now_us();
    for group in ctx.store().scim_all(Kind::Group.name())? {
        if !member_ids(&group.resource).contains(user) {
            continue;
        }
        let mut resource = group.resource.clone();
        if let Some(members) = resource["members"].as_array_mut() {
            members.retain(|m| m["value"].as_str() != Some(user));
        }
        let key = mamori_scim::unique_key(Kind::Group, &resource).unwrap_or_default();
        let write = ScimWrite {
            kind: Kind::Group.name(),
            id: &group.id,
            unique_key: &key,
            external_id: group.external_id.as_deref(),
            resource: &resource,
        };
        // A concurrent change cannot happen: this runs on the store's own thread.
        let _ = ctx.store().scim_update(write, None, now)?;
    }
    Ok(())
}

/// A new resource id: 128 random bits as a UUID (version 4).
fn new_id() -> Result<String, String> {
    let nonce = mamori_event::Nonce::generate().map_err(|e| e.to_string())?;
    let mut b = *nonce.as_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// What a change means for Mamori: the person's HR version and the ledger's events.
fn after_change(
    ctx: &mut Ctx<'_, '_>,
    actor: &str,
    kind: Kind,
    before: Option<&ScimResource>,
    after: Option<&ScimResource>,
) -> Result<(), mamori_store::StoreError> {
    let mut events = Vec::new();
    match kind {
        Kind::User => {
            if let Some(after) = after {
                sync_person(ctx, after)?;
            }
            let name = |r: &ScimResource| r.resource["userName"].as_str().unwrap_or("").to_owned();
            let active = |r: &ScimResource| r.resource["active"].as_bool() != Some(false);
            match (before, after) {
                (None, Some(a)) => {
                    events.push(account_event("account.create", actor, &name(a), a, None))
                }
                (Some(b), None) => {
                    events.push(account_event("account.delete", actor, &name(b), b, None))
                }
                (Some(b), Some(a)) => {
                    let kind = match (active(b), active(a)) {
                        (true, false) => "account.disable",
                        (false, true) => "account.enable",
                        _ => "account.change",
                    };
                    events.push(account_event(kind, actor, &name(a), a, None));
                }
                (None, None) => {}
            }
        }
        Kind::Group => {
            let old = before.map(|b| member_ids(&b.resource)).unwrap_or_default();
            let new = after.map(|a| member_ids(&a.resource)).unwrap_or_default();
            let group = after.or(before);
            let group_name = group
                .and_then(|g| g.resource["displayName"].as_str())
                .unwrap_or("")
                .to_owned();
            for (kind, members) in [
                (
                    "account.group_add",
                    new.difference(&old).collect::<Vec<_>>(),
                ),
                (
                    "account.group_remove",
                    old.difference(&new).collect::<Vec<_>>(),
                ),
            ] {
                for member in members {
                    let Some(user) = ctx.store().scim_get(Kind::User.name(), member)? else {
                        continue;
                    };
                    let name = user.resource["userName"].as_str().unwrap_or("").to_owned();
                    events.push(account_event(kind, actor, &name, &user, Some(&group_name)));
                }
            }
        }
    }
    let prepared: Vec<mamori_store::NewEvent> = events
        .into_iter()
        .filter_map(|event| match event.map(mamori_ingest::prepare_event) {
            Ok(Ok(prepared)) => Some(prepared),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "SCIM event");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "SCIM event");
                None
            }
        })
        .collect();
    if !prepared.is_empty() {
        crate::ingest::append(ctx.appender, &prepared)?;
    }
    Ok(())
}

/// An `account.*` event: the provisioning client's owner did `kind` to `account` (and the
/// group, for membership changes).
fn account_event(
    kind: &str,
    actor: &str,
    account: &str,
    user: &ScimResource,
    group: Option<&str>,
) -> Result<mamori_event::Event, mamori_event::EventError> {
    let mut event = json!({
        "time": jiff::Timestamp::now().to_string(),
        "kind": kind,
        "actor": {"user": actor},
        "object": {"name": account},
        "outcome": "success",
        "source": {"name": SOURCE},
        "raw": {
            "scim_id": user.id,
            "scim_version": user.version,
            "active": user.resource["active"].as_bool().unwrap_or(true),
        },
    });
    if let Some(group) = group {
        event["destination"] = json!({ "name": group });
    }
    mamori_event::Event::from_value(event)
}

/// Writes the HR version a User's attributes describe, from today, and links its userName
/// to the person — unless the person's current version already says the same.
fn sync_person(ctx: &mut Ctx<'_, '_>, user: &ScimResource) -> Result<(), mamori_store::StoreError> {
    // Days are UTC days, as everywhere in the store.
    let today = jiff::tz::Offset::UTC
        .to_datetime(jiff::Timestamp::now())
        .date();
    let r = &user.resource;
    let enterprise = &r[ENTERPRISE_USER];
    let hr = &r[MAMORI_HR_USER];
    let text = |v: &Value| {
        v.as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let person_id = text(&enterprise["employeeNumber"])
        .or_else(|| user.external_id.clone())
        .unwrap_or_else(|| format!("scim:{}", user.id));
    let user_name = text(&r["userName"]).unwrap_or_default();
    let name = text(&r["name"]["formatted"])
        .or_else(|| {
            match (
                text(&r["name"]["familyName"]),
                text(&r["name"]["givenName"]),
            ) {
                (Some(f), Some(g)) => Some(format!("{f} {g}")),
                (f, g) => f.or(g),
            }
        })
        .or_else(|| text(&r["displayName"]))
        .unwrap_or_else(|| user_name.clone());
    let email = r["emails"].as_array().and_then(|emails| {
        emails
            .iter()
            .find(|e| e["primary"] == true)
            .or_else(|| emails.first())
            .and_then(|e| text(&e["value"]))
    });
    // The manager is named by SCIM id; HR names people by person id.
    let supervisor = match text(&enterprise["manager"]["value"]) {
        Some(manager) => match ctx.store().scim_get(Kind::User.name(), &manager)? {
            Some(m) => text(&m.resource[ENTERPRISE_USER]["employeeNumber"])
                .or(m.external_id)
                .or(Some(format!("scim:{}", m.id))),
            None => Some(manager),
        },
        None => None,
    };
    let date = |v: &Value| text(v).and_then(|d| d.get(..10).and_then(|d| d.parse().ok()));
    let current = ctx.store().person_on(&person_id, today)?;
    let mut accounts = current
        .as_ref()
        .map(|p| p.accounts.clone())
        .unwrap_or_default();
    if !user_name.is_empty() && !accounts.contains(&user_name) {
        accounts.push(user_name);
    }
    let record = PersonRecord {
        person_id,
        valid_from: today,
        name,
        email,
        business_unit: text(&enterprise["organization"]),
        functional_unit: text(&enterprise["division"]),
        department: text(&enterprise["department"]),
        team: current.as_ref().and_then(|p| p.team.clone()),
        role: text(&r["title"]),
        supervisor,
        employment_type: text(&hr["employmentType"])
            .and_then(|t| t.parse::<mamori_event::EmploymentType>().ok()),
        hire_date: current.as_ref().and_then(|p| p.hire_date),
        notice_date: date(&hr["noticeDate"]),
        termination_date: date(&hr["terminationDate"]),
        priority: hr["priority"].as_bool().unwrap_or(false),
        accounts,
    };
    let same = current.as_ref().is_some_and(|c| {
        PersonRecord {
            valid_from: c.valid_from,
            ..record.clone()
        } == *c
    });
    if !same {
        ctx.store().store_people(&[record])?;
    }
    Ok(())
}
