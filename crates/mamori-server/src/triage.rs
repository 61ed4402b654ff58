//! Triage: analysts dismiss, assign and reopen alerts (one or many at once), investigators
//! move a case along (status, assignee, outcome). Every change is in the access ledger.

use axum::http::StatusCode;
use mamori_store::{AlertStatus, CaseOutcome, CaseStatus};
use serde_json::json;

use crate::api::{Work, case_view, revealed};
use crate::auth::json_body;
use crate::store::{Ctx, Refusal};

/// Most alerts one triage request may change.
const MAX_ALERTS: usize = 1000;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Triage {
    alerts: Vec<i64>,
    action: String,
    reason: Option<String>,
    assignee: Option<String>,
}

enum Action {
    Dismiss(String),
    /// To a user, or to nobody.
    Assign(Option<String>),
    Reopen,
}

/// A user who may work on alerts, or a refusal naming why not.
fn check_assignee(ctx: &mut Ctx<'_, '_>, name: &str) -> Result<(), Refusal> {
    let user = ctx.appender.store().user(name)?;
    match user {
        Some(user) if crate::api::ANALYSTS.contains(&user.role) => Ok(()),
        Some(_) => Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{name:?} is not an analyst or investigator"),
        )),
        None => Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("no user {name:?}"),
        )),
    }
}

/// `POST /api/v1/alerts/triage`: the same action on each alert listed. Every alert is checked
/// before any is changed, so a request is applied whole or not at all.
pub(crate) fn triage(body: &[u8]) -> Result<Work, Refusal> {
    let Triage {
        mut alerts,
        action,
        reason,
        assignee,
    } = json_body(body)?;
    let unprocessable = |text: &str| Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, text);
    alerts.sort_unstable();
    alerts.dedup();
    if alerts.is_empty() || alerts.len() > MAX_ALERTS {
        return Err(unprocessable("list between 1 and 1000 alerts"));
    }
    let action = match action.as_str() {
        "dismiss" => Action::Dismiss(
            reason
                .filter(|r| !r.trim().is_empty())
                .ok_or_else(|| unprocessable("a dismissal needs a reason"))?,
        ),
        "assign" => Action::Assign(assignee.filter(|a| !a.trim().is_empty())),
        "reopen" => Action::Reopen,
        other => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("action {other:?}: dismiss, assign or reopen"),
            ));
        }
    };
    Ok(Box::new(move |ctx, caller| {
        if let Action::Assign(Some(name)) = &action {
            check_assignee(ctx, name)?;
        }
        for &id in &alerts {
            let Some(alert) = ctx.appender.store().alert(id)? else {
                return Err(Refusal::new(
                    StatusCode::NOT_FOUND,
                    format!("no alert {id}"),
                ));
            };
            if alert.status == AlertStatus::Escalated && !matches!(action, Action::Assign(_)) {
                return Err(unprocessable(&format!(
                    "alert {id} is escalated to case {}: it is settled with the case",
                    alert.case_id.unwrap_or_default()
                )));
            }
        }
        let (verb, detail) = match &action {
            Action::Dismiss(reason) => ("alerts.dismiss", reason.clone()),
            Action::Assign(to) => ("alerts.assign", to.clone().unwrap_or_default()),
            Action::Reopen => ("alerts.reopen", String::new()),
        };
        for &id in &alerts {
            let store = ctx.store();
            match &action {
                Action::Dismiss(reason) => store.dismiss_alert(id, reason)?,
                Action::Assign(to) => store.assign_alert(id, to.as_deref())?,
                Action::Reopen => store.reopen_alert(id)?,
            }
        }
        let listed: Vec<String> = alerts.iter().map(i64::to_string).collect();
        // The reason is free text an analyst typed: it stays in the store, not in the log.
        let target = match &action {
            Action::Assign(_) => format!("alerts {} to {detail:?}", listed.join(",")),
            _ => format!("alerts {}", listed.join(",")),
        };
        ctx.record(&caller.name, verb, &target)?;
        Ok((StatusCode::OK, json!({ "updated": alerts.len() })))
    }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseChange {
    status: Option<String>,
    outcome: Option<String>,
    assignee: Option<String>,
}

/// `PATCH /api/v1/cases/{id}`: status (with an outcome when closing) and assignee.
pub(crate) fn update_case(case_id: i64, body: &[u8]) -> Result<Work, Refusal> {
    let CaseChange {
        status,
        outcome,
        assignee,
    } = json_body(body)?;
    let status = crate::api::choice(
        status.as_deref(),
        "status",
        CaseStatus::parse,
        "open, investigating or closed",
    )?;
    let outcome = crate::api::choice(
        outcome.as_deref(),
        "outcome",
        CaseOutcome::parse,
        "confirmed, benign or inconclusive",
    )?;
    if status.is_none() && outcome.is_some() {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "an outcome goes with status closed",
        ));
    }
    Ok(Box::new(move |ctx, caller| {
        if ctx.appender.store().case(case_id)?.is_none() {
            return Err(Refusal::new(StatusCode::NOT_FOUND, "no such case"));
        }
        if let Some(name) = &assignee {
            let user = ctx.appender.store().user(name)?;
            if !user.is_some_and(|u| crate::api::INVESTIGATORS.contains(&u.role)) {
                return Err(Refusal::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("{name:?} is not an investigator"),
                ));
            }
        }
        let now = crate::now_us();
        if let Some(status) = status {
            ctx.store().set_case_status(case_id, status, outcome, now)?;
            ctx.record(
                &caller.name,
                "cases.status",
                &format!(
                    "case {case_id} {}{}",
                    status.as_str(),
                    outcome
                        .map(|o| format!(" {}", o.as_str()))
                        .unwrap_or_default()
                ),
            )?;
        }
        if let Some(name) = &assignee {
            ctx.store().assign_case(case_id, name, now)?;
            ctx.record(
                &caller.name,
                "cases.assign",
                &format!("case {case_id} to {name:?}"),
            )?;
        }
        let open = revealed(ctx, case_id, caller)?;
        let Some(detail) = ctx.appender.store().case(case_id)? else {
            return Err(Refusal::new(StatusCode::NOT_FOUND, "no such case"));
        };
        let names = ctx.names.get(ctx.appender.store())?;
        Ok((
            StatusCode::OK,
            case_view((!open).then_some(names), &detail.case),
        ))
    }))
}
