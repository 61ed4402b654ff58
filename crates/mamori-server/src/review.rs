//! The per-manager access review over HTTP (docs/review.md): the review as JSON and the
//! attest/revoke decisions on its accounts and groups.
//!
//! Persons appear under their pseudonyms, as everywhere in the API; accounts and groups are
//! shown as they are, because attesting them is the point. Every read and every decision is
//! written to the access ledger before the answer.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use jiff::civil::Date;
use mamori_detect::review::{self, AccessReview, Decision, InventoryRow, Verdict};
use mamori_privacy::pseudonym::Pseudonymiser;
use mamori_store::{
    EventStore, MIN_REVOKE_COMMENT_CHARS, NewReviewDecision, ReviewDecision, ReviewVerdict,
    StoreError,
};
use serde_json::{Value, json};

use crate::api::Work;
use crate::auth::json_body;
use crate::store::{Ctx, Refusal};

/// Reads what [`review::compose`] joins and joins it: the one composition behind
/// `mamori report access-review` and `GET /api/v1/access-reviews/{manager}`. Activity counts
/// up to the end of the as-of day (UTC).
pub fn access_review(
    store: &EventStore,
    manager: &str,
    as_of: Date,
    all_levels: bool,
) -> Result<AccessReview, StoreError> {
    let people: BTreeMap<_, _> = store.person_histories()?;
    let links = store.account_links()?;
    let inventory: Vec<InventoryRow> = store
        .inventory_accounts()?
        .into_iter()
        .map(|row| InventoryRow {
            record: row.record,
            privileged: row.privileged,
        })
        .collect();
    let mut decisions = Vec::new();
    for stored in store.latest_review_decisions()? {
        let decided = jiff::Timestamp::from_microsecond(stored.decided_us).map_err(|e| {
            StoreError::Corrupt(format!("access review decision {}: {e}", stored.id))
        })?;
        decisions.push(Decision {
            account: stored.account,
            grant: stored.grant,
            verdict: match stored.decision {
                ReviewVerdict::Keep => Verdict::Keep,
                ReviewVerdict::Revoke => Verdict::Revoke,
            },
            comment: stored.comment,
            decided_by: stored.decided_by,
            decided,
        });
    }
    let end_of_day_us = as_of
        .tomorrow()
        .ok()
        .and_then(|day| {
            jiff::tz::Offset::UTC
                .to_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
                .ok()
        })
        .map_or(i64::MAX, |t| t.as_microsecond());
    let inputs = review::Inputs {
        manager,
        as_of,
        all_levels,
        people: &people,
        links: &links,
        inventory: &inventory,
        decisions: &decisions,
    };
    review::compose(&inputs, |account| {
        let times = store.account_event_times(account, i64::MIN, end_of_day_us)?;
        Ok(times
            .iter()
            .map(|&(time_us, _)| time_us)
            .max()
            .and_then(|us| jiff::Timestamp::from_microsecond(us).ok()))
    })
}

/// The manager a path names: a pseudonym (as the API shows persons) or an HR person id.
fn manager_id(ctx: &mut Ctx<'_, '_>, path: &str) -> Result<String, Refusal> {
    let names = ctx.names.get(ctx.appender.store())?;
    if let Some(person_id) = names.reveal(path) {
        return Ok(person_id.to_owned());
    }
    if !ctx.appender.store().person_history(path)?.is_empty() {
        return Ok(path.to_owned());
    }
    Err(Refusal::new(StatusCode::NOT_FOUND, "no such person"))
}

fn today() -> Date {
    jiff::tz::Offset::UTC
        .to_datetime(jiff::Timestamp::now())
        .date()
}

/// The review as the API shows it: persons under pseudonyms, their names left out, free
/// text (comments) through the pseudonymiser.
fn review_view(names: &Pseudonymiser, review: &AccessReview) -> Result<Value, Refusal> {
    let mut value = serde_json::to_value(review).map_err(|e| {
        tracing::error!(error = %e, "access review");
        Refusal::internal()
    })?;
    value["manager"] = json!(names.person(&review.manager));
    let Some(persons) = value["persons"].as_array_mut() else {
        return Ok(value);
    };
    for (person, reviewed) in persons.iter_mut().zip(&review.persons) {
        let Some(object) = person.as_object_mut() else {
            continue;
        };
        object.remove("name");
        object.remove("person_id");
        object.insert("person".into(), json!(names.person(&reviewed.person_id)));
        object.insert(
            "supervisor".into(),
            json!(names.person(&reviewed.supervisor)),
        );
        for account in object
            .get_mut("accounts")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            pseudonymise_comment(names, &mut account["decision"]);
            for group in account["groups"].as_array_mut().into_iter().flatten() {
                pseudonymise_comment(names, &mut group["decision"]);
            }
        }
    }
    Ok(value)
}

fn pseudonymise_comment(names: &Pseudonymiser, decision: &mut Value) {
    if let Some(comment) = decision["comment"].as_str() {
        let text = names.text(comment).into_owned();
        decision["comment"] = json!(text);
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewQuery {
    /// YYYY-MM-DD; default today (UTC).
    as_of: Option<String>,
    all_levels: Option<bool>,
}

/// `GET /api/v1/access-reviews/{manager}`.
pub(crate) fn get_review(manager: String, query: ReviewQuery) -> Result<Work, Refusal> {
    let as_of = match query.as_of.as_deref() {
        None => today(),
        Some(text) => text.parse::<Date>().map_err(|_| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("as_of {text:?}: expected YYYY-MM-DD"),
            )
        })?,
    };
    let all_levels = query.all_levels.unwrap_or(false);
    Ok(Box::new(move |ctx, caller| {
        let manager_id = manager_id(ctx, &manager)?;
        let review = access_review(ctx.appender.store(), &manager_id, as_of, all_levels)?;
        ctx.record(
            &caller.name,
            "access_reviews.show",
            &format!(
                "manager {manager_id} as of {as_of}{}: {} persons, {} accounts",
                if all_levels { " all levels" } else { "" },
                review.summary.persons,
                review.summary.accounts
            ),
        )?;
        let names = ctx.names.get(ctx.appender.store())?;
        Ok((StatusCode::OK, review_view(names, &review)?))
    }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    account: String,
    grant: Option<String>,
    decision: String,
    comment: Option<String>,
}

fn unprocessable(text: String) -> Refusal {
    Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, text)
}

/// `POST /api/v1/access-reviews/{manager}/decisions`: keep or revoke an account of the
/// manager's people (any level below them), or one of its groups.
pub(crate) fn decide(manager: String, body: &[u8]) -> Result<Work, Refusal> {
    let DecisionBody {
        account,
        grant,
        decision,
        comment,
    } = json_body(body)?;
    let verdict = ReviewVerdict::parse(&decision)
        .ok_or_else(|| unprocessable(format!("decision {decision:?}: keep or revoke")))?;
    let grant = grant.unwrap_or_default();
    let comment = comment.unwrap_or_default();
    if verdict == ReviewVerdict::Revoke && comment.trim().chars().count() < MIN_REVOKE_COMMENT_CHARS
    {
        return Err(unprocessable(format!(
            "a revoke needs a comment of at least {MIN_REVOKE_COMMENT_CHARS} characters saying why"
        )));
    }
    Ok(Box::new(move |ctx, caller| {
        let manager_id = manager_id(ctx, &manager)?;
        let review = access_review(ctx.appender.store(), &manager_id, today(), true)?;
        let reviewed: Vec<_> = review
            .persons
            .iter()
            .flat_map(|person| &person.accounts)
            .filter(|reviewed| reviewed.account == account)
            .collect();
        if reviewed.is_empty() {
            return Err(Refusal::new(
                StatusCode::NOT_FOUND,
                "no such account among the manager's people",
            ));
        }
        if !grant.is_empty()
            && !reviewed
                .iter()
                .any(|reviewed| reviewed.groups.iter().any(|g| g.group == grant))
        {
            return Err(Refusal::new(
                StatusCode::NOT_FOUND,
                "no such group on the account",
            ));
        }
        let stored = ctx.store().record_review_decision(
            &NewReviewDecision {
                manager: &manager_id,
                account: &account,
                grant: &grant,
                decision: verdict,
                comment: &comment,
                decided_by: &caller.name,
            },
            crate::now_us(),
        )?;
        ctx.record(
            &caller.name,
            "access_reviews.decide",
            &format!(
                "manager {manager_id} account {account:?}{} {}",
                if grant.is_empty() {
                    String::new()
                } else {
                    format!(" group {grant:?}")
                },
                verdict.as_str()
            ),
        )?;
        let names = ctx.names.get(ctx.appender.store())?;
        Ok((StatusCode::OK, decision_view(names, &stored)))
    }))
}

fn decision_view(names: &Pseudonymiser, decision: &ReviewDecision) -> Value {
    json!({
        "id": decision.id,
        "manager": names.person(&decision.manager),
        "account": decision.account,
        "grant": decision.grant,
        "decision": decision.decision,
        "comment": names.text(&decision.comment),
        "decided_by": decision.decided_by,
        "decided": crate::api::time(decision.decided_us),
    })
}
