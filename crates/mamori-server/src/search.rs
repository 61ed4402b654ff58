//! `GET /api/v1/events`: organisation-wide event search (time, kind, person, destination,
//! label), a page at a time in leaf order.
//!
//! Candidates come from an index where the query allows (a person's accounts, a kind: the
//! postings; otherwise the time range), and at most [`SCAN_BUDGET`] of them, for at most
//! [`SCAN_TIME`], are read per request: a page that found fewer than asked says `more` and
//! where to go on. Destination
//! and label are matched on the event **as the caller sees it** (pseudonymised), so a search
//! for a person's real address finds nothing: it cannot be used to test who is behind a
//! pseudonym.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::api::{Work, limit, parse_time};
use crate::store::Refusal;

/// Candidate events read per request at most.
const SCAN_BUDGET: usize = 20_000;
/// How long one request reads candidates at most: a rare label over a long range answers a
/// page with what it found so far and `more`, instead of holding the store for seconds.
const SCAN_TIME: std::time::Duration = std::time::Duration::from_millis(100);
/// Candidates read from the store at a time when they are filtered after reading.
const CHUNK: usize = 1000;
/// Rows the time-range scan looks at per step (by leaf, so a narrow range far into the log
/// costs steps of this size rather than one unbounded query).
const SPAN: u64 = 50_000;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchQuery {
    from: Option<String>,
    to: Option<String>,
    kind: Option<String>,
    /// A person's pseudonym.
    person: Option<String>,
    /// Part of a destination: domain, device, recipient or URL.
    destination: Option<String>,
    /// A classification label, e.g. `社外秘`.
    label: Option<String>,
    after: Option<u64>,
    limit: Option<usize>,
}

/// Whether the (pseudonymised) event passes the destination and label filters.
fn matches(event: &Value, destination: Option<&str>, label: Option<&str>) -> bool {
    let text = |v: &Value| v.as_str().map(str::to_lowercase);
    if let Some(wanted) = destination {
        let d = &event["destination"];
        let mut places: Vec<String> = ["domain", "name", "device_id"]
            .iter()
            .filter_map(|k| text(&d[*k]))
            .collect();
        if let Some(recipients) = d["recipients"].as_array() {
            places.extend(recipients.iter().filter_map(text));
        }
        places.extend(text(&event["object"]["url"]));
        if !places.iter().any(|p| p.contains(wanted)) {
            return false;
        }
    }
    if let Some(wanted) = label {
        let found = event["object"]["labels"].as_array().is_some_and(|labels| {
            labels
                .iter()
                .filter_map(Value::as_str)
                .any(|l| l.trim().to_lowercase() == wanted)
        });
        if !found {
            return false;
        }
    }
    true
}

pub(crate) fn search(query: SearchQuery) -> Result<Work, Refusal> {
    let from = parse_time(query.from.as_deref(), "from", i64::MIN)?;
    let to = parse_time(query.to.as_deref(), "to", i64::MAX)?;
    let limit = limit(query.limit, 100);
    let clean = |v: Option<String>| v.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
    let destination = clean(query.destination);
    let label = clean(query.label);
    let kind = query.kind.filter(|k| !k.is_empty());
    let person = query.person.filter(|p| !p.is_empty());
    let after = query.after;
    Ok(Box::new(move |ctx, caller| {
        let person_id = match &person {
            None => None,
            Some(p) => match ctx.names.get(ctx.appender.store())?.reveal(p) {
                Some(id) => Some(id.to_string()),
                None => return Err(Refusal::new(StatusCode::NOT_FOUND, "no such person")),
            },
        };
        let described = [
            ("kind", kind.as_deref()),
            ("person", person.as_deref()),
            ("destination", destination.as_deref()),
            ("label", label.as_deref()),
        ]
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} {v:?}")))
        .collect::<Vec<_>>()
        .join(" ");
        ctx.record(&caller.name, "events.search", &described)?;
        let store = ctx.appender.store();
        let names = ctx.names.get(store)?;
        // The indexed candidates, all at once (leaves only: a few bytes each), or none to
        // page through the time range instead.
        let indexed: Option<Vec<u64>> = match (&person_id, &kind) {
            (Some(person_id), kind) => {
                let mut leaves = Vec::new();
                for account in store.accounts_of(person_id)? {
                    leaves.extend(store.leaves_of_account(&account, from, to)?);
                }
                leaves.sort_unstable();
                leaves.dedup();
                if let Some(kind) = kind {
                    let of_kind = store.leaves_of_kind(kind, from, to)?;
                    leaves.retain(|l| of_kind.binary_search(l).is_ok());
                }
                Some(leaves)
            }
            (None, Some(kind)) => Some(store.leaves_of_kind(kind, from, to)?),
            (None, None) => None,
        };
        let mut found = Vec::new();
        let mut persons: std::collections::HashMap<String, Option<String>> =
            std::collections::HashMap::new();
        let mut position = after;
        let mut scanned = 0;
        let mut exhausted = false;
        let started = std::time::Instant::now();
        // Without filters on the body every candidate is a result: read only what the page
        // still needs.
        let filtered = destination.is_some() || label.is_some();
        while found.len() < limit && scanned < SCAN_BUDGET && started.elapsed() < SCAN_TIME {
            let want = if filtered { CHUNK } else { limit - found.len() };
            // Where the time-range scan got to, past the leaves it found.
            let mut examined = None;
            let chunk: Vec<u64> = match &indexed {
                Some(leaves) => {
                    let start = position.map_or(0, |p| leaves.partition_point(|&l| l <= p));
                    leaves.iter().skip(start).take(want).copied().collect()
                }
                None => match store.leaves_between(from, to, position, want, SPAN)? {
                    (_, None) => Vec::new(),
                    (leaves, Some(last)) => {
                        examined = Some(last);
                        leaves
                    }
                },
            };
            if chunk.is_empty() && examined.is_none() {
                exhausted = true;
                break;
            }
            for event in store.events_at(&chunk)? {
                scanned += 1;
                position = Some(event.leaf_index);
                let Some(body) = event.json else { continue };
                let Ok(mut value) = serde_json::from_slice::<Value>(&body) else {
                    continue;
                };
                // The person behind the account, under their pseudonym, for the person page.
                let account = value["actor"]["user"].as_str().unwrap_or("").to_string();
                names.event(&mut value);
                if matches(&value, destination.as_deref(), label.as_deref()) {
                    let person = match persons.get(&account) {
                        Some(person) => person.clone(),
                        None => {
                            let person = store
                                .person_of_account(&account)?
                                .map(|id| names.person(&id));
                            persons.insert(account, person.clone());
                            person
                        }
                    };
                    found.push(json!({"leaf": event.leaf_index, "purged": false, "person": person, "event": value}));
                    if found.len() == limit {
                        break;
                    }
                }
            }
            // A page that is not full has looked at every row up to `examined`.
            if found.len() < limit {
                position = position.max(examined);
            }
        }
        let more = !exhausted;
        Ok((
            StatusCode::OK,
            json!({
                "events": found,
                "scanned": scanned,
                "more": more,
                "next_after": if more { position.map_or(Value::Null, |p| json!(p)) } else { Value::Null },
            }),
        ))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_and_label_match_case_insensitively() {
        let event = json!({
            "destination": {"domain": "Dropbox.com", "recipients": ["a@example.jp"]},
            "object": {"labels": [" 社外秘 ", "Confidential"], "url": "https://x.test/up"},
        });
        assert!(matches(&event, Some("dropbox"), None));
        assert!(matches(&event, Some("example.jp"), None));
        assert!(matches(&event, Some("x.test"), Some("confidential")));
        assert!(matches(&event, None, Some("社外秘")));
        assert!(!matches(&event, Some("gmail"), None));
        assert!(!matches(&event, None, Some("秘")));
    }
}
