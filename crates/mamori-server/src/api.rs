//! The JSON API over alerts, persons, cases and reveals (docs/api.md).
//!
//! Privacy by design, enforced here rather than left to clients:
//!
//! - Persons appear under pseudonyms (`P-…`, module `mamori_privacy::pseudonym`) in every
//!   answer, and so do accounts, hosts, e-mail addresses and names inside free text. The one
//!   exception is a case for which the caller holds a granted, unexpired reveal.
//! - Every read of personal data and every change is written to the access ledger *before*
//!   the answer is sent; if that write fails, the answer is not sent.
//! - A reveal names a declared purpose and gives a written justification; under dual control
//!   an approver other than the requester must grant it.

use std::sync::mpsc::SyncSender;

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use mamori_privacy::pseudonym::Pseudonymiser;
use mamori_store::auth::Role;
use mamori_store::{
    Alert, AlertFilter, AlertStatus, Approval, ApprovalKind, ApprovalRequest, ApprovalStatus, Case,
    CaseStatus, Level, StoreError,
};
use serde_json::{Value, json};

use crate::auth::{Caller, authorise, json_body, json_response};
use crate::store::{Ctx, Job, Refusal, on_store};

/// Largest number of records one answer lists.
const MAX_LIMIT: usize = 1000;
const HOUR_US: i64 = 3_600_000_000;

/// What a request asks for once its caller is known; runs on the store's thread.
pub(crate) type Work =
    Box<dyn FnOnce(&mut Ctx<'_, '_>, &Caller) -> Result<(StatusCode, Value), Refusal> + Send>;

/// Authorises the caller for `roles`, runs `work` on the store's thread and answers its JSON.
pub(crate) async fn answer(
    jobs: SyncSender<Job>,
    method: Method,
    headers: HeaderMap,
    roles: &'static [Role],
    work: Work,
) -> Result<Response, Refusal> {
    let caller = authorise(&jobs, &method, &headers, roles).await?;
    let (status, value) = on_store(&jobs, move |ctx| work(ctx, &caller)).await??;
    Ok(json_response(status, &value))
}

/// Query parameters, parsed here so that a bad one is answered like every other refusal.
pub(crate) fn query<T: serde::de::DeserializeOwned>(raw: Option<&str>) -> Result<T, Refusal> {
    serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|error| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("query parameters: {error}"),
        )
    })
}

/// A numeric id from the path; anything else names nothing (`404`).
pub(crate) fn id(text: &str, what: &str) -> Result<i64, Refusal> {
    text.parse::<i64>()
        .ok()
        .filter(|&id| id > 0)
        .ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, format!("no such {what}")))
}

/// A query parameter that takes one of a few words (`allowed`, for the refusal).
pub(crate) fn choice<T>(
    value: Option<&str>,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<Option<T>, Refusal> {
    value
        .map(|text| {
            parse(text).ok_or_else(|| {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    format!("{name} {text:?}: {allowed}"),
                )
            })
        })
        .transpose()
}

pub(crate) fn limit(requested: Option<usize>, default: usize) -> usize {
    requested.unwrap_or(default).clamp(1, MAX_LIMIT)
}

pub(crate) fn parse_time(text: Option<&str>, name: &str, default: i64) -> Result<i64, Refusal> {
    match text {
        None => Ok(default),
        Some(text) => text
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_microsecond())
            .map_err(|e| {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    format!("{name} {text:?}: not an RFC 3339 time ({e})"),
                )
            }),
    }
}

pub(crate) fn time(us: i64) -> Value {
    jiff::Timestamp::from_microsecond(us).map_or(Value::Null, |t| json!(t.to_string()))
}

/// A day number (days since 1970-01-01) as `YYYY-MM-DD`.
pub(crate) fn day_text(day: i64) -> Value {
    jiff::civil::date(1970, 1, 1)
        .checked_add(jiff::Span::new().days(day))
        .map_or(Value::Null, |d| json!(d.to_string()))
}

/// Free text through the pseudonymiser, or as stored when revealed.
fn text(names: Option<&Pseudonymiser>, value: &str) -> Value {
    match names {
        Some(names) => json!(names.text(value)),
        None => json!(value),
    }
}

/// Every string inside `value` through the pseudonymiser.
fn deep_text(names: Option<&Pseudonymiser>, value: &mut Value) {
    let Some(names) = names else { return };
    match value {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(changed) = names.text(s) {
                *s = changed;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| deep_text(Some(names), v)),
        Value::Object(map) => map.values_mut().for_each(|v| deep_text(Some(names), v)),
        _ => {}
    }
}

fn person(names: Option<&Pseudonymiser>, person_id: &str) -> Value {
    match names {
        Some(names) => json!(names.person(person_id)),
        None => json!(person_id),
    }
}

pub(crate) fn alert_view(names: Option<&Pseudonymiser>, alert: &Alert) -> Value {
    let mut details = alert.details.clone();
    deep_text(names, &mut details);
    json!({
        "id": alert.id,
        "person": person(names, &alert.person_id),
        "time": time(alert.time_us),
        "severity": alert.severity,
        "kind": alert.kind,
        "title": text(names, &alert.title),
        "title_ja": text(names, &alert.title_ja),
        "details": details,
        "status": alert.status,
        "dismiss_reason": alert.dismiss_reason.as_deref().map(|r| text(names, r)),
        "case_id": alert.case_id,
        "events": alert.events,
        "assignee": alert.assignee,
    })
}

/// A case as the caller may see it: pseudonymised unless `names` is `None` (revealed).
pub(crate) fn case_view(names: Option<&Pseudonymiser>, case: &Case) -> Value {
    json!({
        "id": case.id,
        "title": text(names, &case.title),
        "person": case.person_id.as_deref().map(|p| person(names, p)),
        "revealed": names.is_none(),
        "status": case.status,
        "outcome": case.outcome,
        "assignee": case.assignee,
        "created": time(case.created_us),
        "updated": time(case.updated_us),
        "legal_hold": case.legal_hold,
    })
}

fn approval_view(request: &Approval) -> Value {
    json!({
        "id": request.id,
        "kind": request.kind,
        "case_id": request.case_id,
        "requester": request.requester,
        "purpose": request.purpose,
        "justification": request.justification,
        "requested": time(request.requested_us),
        "status": request.status,
        "decided_by": request.decided_by,
        "decided": request.decided_us.map(time),
        "expires": request.expires_us.map(time),
    })
}

/// The canonical JSON of stored events as the caller may see them.
pub(crate) fn event_views(
    names: Option<&Pseudonymiser>,
    events: impl IntoIterator<Item = (u64, Option<Vec<u8>>)>,
) -> Result<Vec<Value>, Refusal> {
    let mut views = Vec::new();
    for (leaf, body) in events {
        let event = match body {
            None => Value::Null,
            Some(bytes) => {
                let mut event: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    Refusal::from(StoreError::Leaf {
                        leaf_index: leaf,
                        reason: format!("stored body is not JSON: {e}"),
                    })
                })?;
                if let Some(names) = names {
                    names.event(&mut event);
                }
                event
            }
        };
        // A purged event keeps its place: its body is gone, its ledger entry is not.
        views.push(json!({"leaf": leaf, "purged": event.is_null(), "event": event}));
    }
    Ok(views)
}

/// Who may read alerts and persons' activity (pseudonymised).
pub(crate) const ANALYSTS: &[Role] = &[Role::Analyst, Role::Investigator];
/// Who works on cases and asks for reveals.
pub(crate) const INVESTIGATORS: &[Role] = &[Role::Investigator];
/// Who decides reveal and export requests.
pub(crate) const APPROVERS: &[Role] = &[Role::Approver];
/// Who reads the configuration.
pub(crate) const ADMINS: &[Role] = &[Role::Admin];

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertsQuery {
    status: Option<String>,
    min_severity: Option<String>,
    /// A person's pseudonym.
    person: Option<String>,
    kind: Option<String>,
    /// `time` (newest first, the default) or `severity` (most severe first).
    sort: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/alerts`.
pub(crate) fn alerts(query: AlertsQuery) -> Result<Work, Refusal> {
    let status = choice(
        query.status.as_deref(),
        "status",
        AlertStatus::parse,
        "open, dismissed or escalated",
    )?;
    let min_severity = choice(
        query.min_severity.as_deref(),
        "min_severity",
        |s| Level::ALL.into_iter().find(|l| l.as_str() == s),
        "none, low, medium, high or critical",
    )?;
    let by_severity = choice(
        query.sort.as_deref(),
        "sort",
        |s| match s {
            "time" => Some(false),
            "severity" => Some(true),
            _ => None,
        },
        "time or severity",
    )?
    .unwrap_or(false);
    let mut filter = AlertFilter {
        status,
        min_severity,
        kind: query.kind,
        by_severity,
        limit: Some(limit(query.limit, 100)),
        ..AlertFilter::default()
    };
    let pseudonym = query.person;
    Ok(Box::new(move |ctx, caller| {
        if let Some(pseudonym) = &pseudonym {
            let names = ctx.names.get(ctx.appender.store())?;
            // An unknown pseudonym has no alerts; it is not an error to ask.
            filter.person_id = Some(names.reveal(pseudonym).unwrap_or("").to_string());
        }
        ctx.record(
            &caller.name,
            "alerts.list",
            &format!(
                "status {} min_severity {}{}",
                status.map_or("any", AlertStatus::as_str),
                min_severity.map_or("any", Level::as_str),
                pseudonym
                    .as_deref()
                    .map(|p| format!(" person {p}"))
                    .unwrap_or_default()
            ),
        )?;
        let alerts = ctx.appender.store().alerts(&filter)?;
        let names = ctx.names.get(ctx.appender.store())?;
        let views: Vec<Value> = alerts.iter().map(|a| alert_view(Some(names), a)).collect();
        Ok((StatusCode::OK, json!({ "alerts": views })))
    }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsQuery {
    from: Option<String>,
    to: Option<String>,
    /// Only events after this leaf: the `next_after` of the previous page.
    after: Option<u64>,
    limit: Option<usize>,
}

/// `GET /api/v1/persons/{person}/events`: one person's activity, pseudonymised, a page at a
/// time in leaf order. Only the page's events are read: the leaves come from the postings, so
/// a page of a person with 100,000 events costs what a page of one with 100 does.
pub(crate) fn person_events(pseudonym: String, query: EventsQuery) -> Result<Work, Refusal> {
    let from = parse_time(query.from.as_deref(), "from", i64::MIN)?;
    let to = parse_time(query.to.as_deref(), "to", i64::MAX)?;
    let after = query.after;
    let limit = limit(query.limit, 100);
    Ok(Box::new(move |ctx, caller| {
        let names = ctx.names.get(ctx.appender.store())?;
        let Some(person_id) = names.reveal(&pseudonym).map(str::to_string) else {
            return Err(Refusal::new(StatusCode::NOT_FOUND, "no such person"));
        };
        ctx.record(&caller.name, "person.events", &pseudonym)?;
        let store = ctx.appender.store();
        let mut leaves = Vec::new();
        for account in store.accounts_of(&person_id)? {
            leaves.extend(store.leaves_of_account(&account, from, to)?);
        }
        leaves.sort_unstable();
        leaves.dedup();
        leaves.retain(|&leaf| after.is_none_or(|after| leaf > after));
        let more = leaves.len() > limit;
        leaves.truncate(limit);
        let events = store.events_at(&leaves)?;
        let names = ctx.names.get(ctx.appender.store())?;
        let views = event_views(
            Some(names),
            events.into_iter().map(|e| (e.leaf_index, e.json)),
        )?;
        let next_after = if more { leaves.last().copied() } else { None };
        Ok((
            StatusCode::OK,
            json!({"person": pseudonym, "events": views, "more": more, "next_after": next_after}),
        ))
    }))
}

/// `GET /api/v1/persons/{person}/risk`: a person's daily risk with its explanations.
pub(crate) fn person_risk(pseudonym: String) -> Work {
    Box::new(move |ctx, caller| {
        let names = ctx.names.get(ctx.appender.store())?;
        let Some(person_id) = names.reveal(&pseudonym).map(str::to_string) else {
            return Err(Refusal::new(StatusCode::NOT_FOUND, "no such person"));
        };
        ctx.record(&caller.name, "person.risk", &pseudonym)?;
        let days = ctx.appender.store().risk_days(&person_id)?;
        // Named only when the department is large enough not to single the person out.
        let store = ctx.appender.store();
        let sizes = store.department_sizes()?;
        let department = store.department_of(&person_id)?.filter(|name| {
            sizes.get(&Some(name.clone())).copied().unwrap_or(0) >= crate::dashboard::MIN_DEPARTMENT
        });
        let names = ctx.names.get(ctx.appender.store())?;
        let days: Vec<Value> = days
            .into_iter()
            .map(|day| {
                let mut details = day.details;
                deep_text(Some(names), &mut details);
                json!({"day": day_text(day.day), "score": day.score, "level": day.level, "details": details})
            })
            .collect();
        Ok((
            StatusCode::OK,
            json!({"person": pseudonym, "department": department, "days": days}),
        ))
    })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CasesQuery {
    status: Option<String>,
}

/// Whether `caller` sees case `case_id` revealed now.
pub(crate) fn revealed(
    ctx: &mut Ctx<'_, '_>,
    case_id: i64,
    caller: &Caller,
) -> Result<bool, StoreError> {
    Ok(ctx
        .appender
        .store()
        .active_approval(ApprovalKind::Reveal, case_id, &caller.name, crate::now_us())?
        .is_some())
}

/// `GET /api/v1/cases`.
pub(crate) fn cases(query: CasesQuery) -> Result<Work, Refusal> {
    let status = choice(
        query.status.as_deref(),
        "status",
        CaseStatus::parse,
        "open, investigating or closed",
    )?;
    Ok(Box::new(move |ctx, caller| {
        ctx.record(
            &caller.name,
            "cases.list",
            status.map_or("any", CaseStatus::as_str),
        )?;
        let cases = ctx.appender.store().cases(status)?;
        let mut views = Vec::with_capacity(cases.len());
        for case in cases {
            let open = revealed(ctx, case.id, caller)?;
            let names = ctx.names.get(ctx.appender.store())?;
            let names = (!open).then_some(names);
            views.push(case_view(names, &case));
        }
        Ok((StatusCode::OK, json!({ "cases": views })))
    }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCase {
    title: String,
    alerts: Vec<i64>,
    assignee: Option<String>,
}

/// `POST /api/v1/cases`: a case opened from open alerts about one person.
pub(crate) fn open_case(body: &[u8]) -> Result<Work, Refusal> {
    let NewCase {
        title,
        alerts,
        assignee,
    } = json_body(body)?;
    if title.trim().is_empty() {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a case needs a title",
        ));
    }
    Ok(Box::new(move |ctx, caller| {
        let id = ctx
            .store()
            .open_case(&title, &alerts, assignee.as_deref(), crate::now_us())?;
        ctx.record(&caller.name, "cases.open", &format!("case {id}"))?;
        Ok((StatusCode::CREATED, json!({ "id": id })))
    }))
}

/// `GET /api/v1/cases/{id}`: a case with its alerts, notes, events and approval requests.
pub(crate) fn case(case_id: i64) -> Work {
    Box::new(move |ctx, caller| {
        let open = revealed(ctx, case_id, caller)?;
        ctx.record(
            &caller.name,
            "cases.show",
            &format!("case {case_id}{}", if open { " (revealed)" } else { "" }),
        )?;
        let Some(detail) = ctx.appender.store().case(case_id)? else {
            return Err(Refusal::new(StatusCode::NOT_FOUND, "no such case"));
        };
        let requests: Vec<Value> = ctx
            .appender
            .store()
            .approvals(None, Some(case_id))?
            .iter()
            .map(approval_view)
            .collect();
        // Under a granted reveal, the name HR gives the person now, next to their id.
        let person_name = match (&detail.case.person_id, open) {
            (Some(person_id), true) => ctx
                .appender
                .store()
                .person_history(person_id)?
                .pop()
                .map(|record| record.name),
            _ => None,
        };
        let names = ctx.names.get(ctx.appender.store())?;
        let names = (!open).then_some(names);
        let mut view = case_view(names, &detail.case);
        view["person_name"] = json!(person_name);
        view["alerts"] = detail.alerts.iter().map(|a| alert_view(names, a)).collect();
        view["events"] = json!(detail.events);
        view["notes"] = detail
            .notes
            .iter()
            .map(|n| {
                json!({
                    "id": n.id,
                    "author": n.author,
                    "time": time(n.time_us),
                    "text": text(names, &n.text),
                })
            })
            .collect();
        view["approvals"] = Value::Array(requests);
        Ok((StatusCode::OK, view))
    })
}

/// `GET /api/v1/cases/{id}/events`: the events a case rests on.
pub(crate) fn case_events(case_id: i64) -> Work {
    Box::new(move |ctx, caller| {
        let open = revealed(ctx, case_id, caller)?;
        let Some(detail) = ctx.appender.store().case(case_id)? else {
            return Err(Refusal::new(StatusCode::NOT_FOUND, "no such case"));
        };
        ctx.record(
            &caller.name,
            "cases.events",
            &format!("case {case_id}{}", if open { " (revealed)" } else { "" }),
        )?;
        let mut events = Vec::with_capacity(detail.events.len());
        for &leaf in detail.events.iter().take(MAX_LIMIT) {
            ctx.appender
                .store()
                .scan_range(leaf..leaf.saturating_add(1), |leaf, _, body| {
                    events.push((leaf, body.map(<[u8]>::to_vec)));
                    Ok::<_, StoreError>(())
                })?;
        }
        let names = ctx.names.get(ctx.appender.store())?;
        let views = event_views((!open).then_some(names), events)?;
        Ok((
            StatusCode::OK,
            json!({"case_id": case_id, "revealed": open, "events": views}),
        ))
    })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewNote {
    text: String,
}

/// `POST /api/v1/cases/{id}/notes`.
pub(crate) fn add_note(case_id: i64, body: &[u8]) -> Result<Work, Refusal> {
    let NewNote { text } = json_body(body)?;
    Ok(Box::new(move |ctx, caller| {
        let id = ctx
            .store()
            .add_case_note(case_id, &caller.name, &text, crate::now_us())?;
        ctx.record(&caller.name, "cases.note", &format!("case {case_id}"))?;
        Ok((StatusCode::CREATED, json!({ "id": id })))
    }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LegalHold {
    hold: bool,
}

/// `PUT /api/v1/cases/{id}/legal-hold`: keeps the case's events from retention, or lets
/// them go again.
pub(crate) fn legal_hold(case_id: i64, body: &[u8]) -> Result<Work, Refusal> {
    let LegalHold { hold } = json_body(body)?;
    Ok(Box::new(move |ctx, caller| {
        ctx.store().set_legal_hold(case_id, hold, crate::now_us())?;
        ctx.record(
            &caller.name,
            if hold {
                "cases.legal_hold"
            } else {
                "cases.legal_hold_released"
            },
            &format!("case {case_id}"),
        )?;
        Ok((
            StatusCode::OK,
            json!({"case_id": case_id, "legal_hold": hold}),
        ))
    }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRequest {
    purpose: String,
    justification: String,
}

/// `POST /api/v1/cases/{id}/reveals` and `/exports`: asks to see who is behind the case's
/// pseudonyms, or to export its evidence, for a declared purpose with a justification.
pub(crate) fn request(kind: ApprovalKind, case_id: i64, body: &[u8]) -> Result<Work, Refusal> {
    let NewRequest {
        purpose,
        justification,
    } = json_body(body)?;
    Ok(Box::new(move |ctx, caller| {
        let Some(privacy) = ctx.privacy else {
            return Err(Refusal::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no purposes are declared (privacy.toml): nothing may be revealed or exported",
            ));
        };
        if !privacy.purposes.iter().any(|p| p.id == purpose) {
            let declared: Vec<&str> = privacy.purposes.iter().map(|p| p.id.as_str()).collect();
            return Err(Refusal::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("purpose {purpose:?} is not declared; declared: {declared:?}"),
            ));
        }
        let rules = privacy.approvals.clone();
        let request = ctx.store().request_approval(
            &ApprovalRequest {
                kind,
                case_id,
                requester: &caller.name,
                purpose: &purpose,
                justification: &justification,
                dual_control: rules.dual_control,
                duration_us: i64::from(rules.hours) * HOUR_US,
            },
            crate::now_us(),
        )?;
        let action = match (kind, request.status) {
            (ApprovalKind::Reveal, ApprovalStatus::Granted) => "reveals.granted",
            (ApprovalKind::Reveal, _) => "reveals.request",
            (ApprovalKind::Export, ApprovalStatus::Granted) => "exports.granted",
            (ApprovalKind::Export, _) => "exports.request",
        };
        ctx.record(
            &caller.name,
            action,
            &format!("request {} case {case_id} purpose {purpose}", request.id),
        )?;
        Ok((StatusCode::CREATED, approval_view(&request)))
    }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApprovalsQuery {
    status: Option<String>,
}

/// `GET /api/v1/approvals`: reveal and export requests for an approver to decide.
pub(crate) fn approvals(query: ApprovalsQuery) -> Result<Work, Refusal> {
    let status = choice(
        query.status.as_deref(),
        "status",
        ApprovalStatus::parse,
        "pending, granted or denied",
    )?;
    Ok(Box::new(move |ctx, caller| {
        ctx.record(
            &caller.name,
            "approvals.list",
            status.map_or("any", ApprovalStatus::as_str),
        )?;
        let requests: Vec<Value> = ctx
            .appender
            .store()
            .approvals(status, None)?
            .iter()
            .map(approval_view)
            .collect();
        Ok((StatusCode::OK, json!({ "approvals": requests })))
    }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    grant: bool,
}

/// `POST /api/v1/approvals/{id}/decision`: an approver grants or denies a request.
pub(crate) fn decide(request_id: i64, body: &[u8]) -> Result<Work, Refusal> {
    let Decision { grant } = json_body(body)?;
    Ok(Box::new(move |ctx, caller| {
        let hours = ctx
            .privacy
            .map_or(mamori_privacy::ApprovalRules::default().hours, |p| {
                p.approvals.hours
            });
        let request = ctx.store().decide_approval(
            request_id,
            &caller.name,
            grant,
            i64::from(hours) * HOUR_US,
            crate::now_us(),
        )?;
        let verb = if grant { "grant" } else { "deny" };
        ctx.record(
            &caller.name,
            &format!("{}s.{verb}", request.kind.as_str()),
            &format!("request {request_id} case {}", request.case_id),
        )?;
        Ok((StatusCode::OK, approval_view(&request)))
    }))
}

/// `GET /api/v1/settings`: the configuration in force (privacy.toml, sessions).
pub(crate) fn settings() -> Work {
    Box::new(move |ctx, caller| {
        ctx.record(&caller.name, "settings.read", "")?;
        let privacy = ctx.privacy;
        let retention: Vec<Value> = privacy
            .map(|p| {
                p.collected
                    .iter()
                    .map(|c| json!({"what": c.text.en, "what_ja": c.text.ja, "retention_days": c.retention_days, "kinds": c.kinds}))
                    .collect()
            })
            .unwrap_or_default();
        let rules = privacy.map(|p| p.approvals.clone()).unwrap_or_default();
        Ok((
            StatusCode::OK,
            json!({
                "declared": privacy.is_some(),
                "purposes": privacy.map(|p| p.purposes.iter().map(|p| p.id.clone()).collect::<Vec<_>>()).unwrap_or_default(),
                "retention": retention,
                "approvals": {"dual_control": rules.dual_control, "hours": rules.hours},
                "sessions": {
                    "idle_minutes": mamori_store::auth::SESSION_IDLE_US / 60_000_000,
                    "max_hours": mamori_store::auth::SESSION_MAX_US / HOUR_US,
                },
            }),
        ))
    })
}

/// `GET /api/v1/cases/{id}/bundle`: the case's evidence bundle (events as stored, with
/// inclusion proofs to the latest signed checkpoint, the manifest signed with the events
/// log's key; docs/evidence.md), for a caller holding a granted export of this case.
/// Events not yet under a signed checkpoint, or erased by retention, are listed as withheld.
pub(crate) async fn case_bundle(
    jobs: SyncSender<Job>,
    tiles: mamori_ledger::TileReader,
    method: Method,
    headers: HeaderMap,
    case: String,
) -> Result<Response, Refusal> {
    let caller = authorise(&jobs, &method, &headers, INVESTIGATORS).await?;
    let case_id = id(&case, "case")?;
    let bytes = on_store(&jobs, move |ctx| {
        let now = crate::now_us();
        let store = ctx.appender.store();
        let Some(grant) =
            store.active_approval(ApprovalKind::Export, case_id, &caller.name, now)?
        else {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "exporting a case's evidence needs a granted export request (POST /api/v1/cases/{id}/exports)",
            ));
        };
        let Some(detail) = store.case(case_id)? else {
            return Err(Refusal::new(StatusCode::NOT_FOUND, "no such case"));
        };
        let mut events = Vec::with_capacity(detail.events.len());
        for &leaf in &detail.events {
            store.scan_range(leaf..leaf.saturating_add(1), |leaf, _, body| {
                events.push((leaf, body.map(<[u8]>::to_vec)));
                Ok::<_, StoreError>(())
            })?;
        }
        let (checkpoint, size) = tiles
            .latest_checkpoint()
            .map_err(StoreError::from)?
            .ok_or_else(|| StoreError::Corrupt("the events log has no checkpoint".into()))?;
        let (disclosed, withheld) =
            mamori_ledger::bundle::disclose(events, &checkpoint, size, |index| {
                tiles.inclusion_proof(index, size)
            })
            .map_err(StoreError::from)?;
        let statement = json!({
            "case": case_id,
            "subject": {"person": detail.case.person_id},
            "events": disclosed.len(),
            "withheld": withheld,
            "exported_at": time(now),
            "exported_by": caller.name,
            "approval": {
                "id": grant.id,
                "purpose": grant.purpose,
                "justification": grant.justification,
                "granted_by": grant.decided_by,
            },
        });
        let bytes = mamori_ledger::bundle::build(
            statement,
            &checkpoint,
            &disclosed,
            ctx.appender.signer(),
            mamori_ledger::bundle::README,
        )
        .map_err(|error| match error {
            mamori_ledger::bundle::BundleError::TooLarge(_) => {
                Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
            }
            other => StoreError::Corrupt(format!("evidence bundle: {other}")).into(),
        })?;
        ctx.record(
            &caller.name,
            "cases.export",
            &format!(
                "case {case_id}: {} events, request {}",
                disclosed.len(),
                grant.id
            ),
        )?;
        Ok(bytes)
    })
    .await??;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/zip"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"evidence.zip\"",
            ),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response())
}
