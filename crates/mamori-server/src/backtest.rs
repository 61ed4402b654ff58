//! `POST /api/v1/rules/{id}/backtest`: what a rule would have found in the stored history,
//! before an administrator switches it on. Counts only (hits, persons, first and last time),
//! so no person is named.
//!
//! The scan reads every stored event of the range: seconds on a large store. It runs on a
//! thread of its own with its own read-only use of the store, so the store's thread keeps
//! answering everyone else, and one back-test runs at a time (`429` meanwhile).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use mamori_detect::context::{ContextOptions, Enricher};
use mamori_detect::hunt::{Detector, hit_lists};
use mamori_event::Event;
use mamori_store::{EventStore, StoreError};
use serde_json::{Value, json};

use crate::api::{parse_time, time};
use crate::auth::{authorise, json_response};
use crate::store::{Job, Refusal, on_store};

/// Whether a back-test is running.
#[derive(Default)]
pub struct Running(AtomicBool);

/// Clears [`Running`] however the back-test ends.
struct Turn<'a>(&'a AtomicBool);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BacktestQuery {
    from: Option<String>,
    to: Option<String>,
}

/// What a rule found over `[from_us, to_us)` of the store at `store_path`.
fn run(
    store_path: &std::path::Path,
    rules_dir: &std::path::Path,
    rule_id: &str,
    from_us: i64,
    to_us: i64,
) -> Result<Option<Value>, Refusal> {
    let engine = crate::admin::load_rules(rules_dir)?;
    let mut hits = hit_lists(&engine);
    // A detection rule (index below `rule_count`) or a correlation (`rule_count + c`).
    let Some(index) = hits.iter().position(|h| h.rule_id == rule_id) else {
        return Ok(None);
    };
    let rules = engine.rule_count();
    let started = std::time::Instant::now();
    let store = EventStore::open(store_path)?;
    let mut enricher = Enricher::new(store.people()?, ContextOptions::default());
    let pairs = store.host_logons(from_us, to_us)?;
    enricher.learn_host_owners(pairs.iter().map(|(h, a)| (h.as_str(), a.as_str())));
    let mut detector = Detector::new(&engine);
    let mut events = 0u64;
    store.scan_by_time(from_us, to_us, |leaf, _, body| {
        let Some(event) = body.and_then(|b| Event::from_json(b).ok()) else {
            return Ok::<_, StoreError>(());
        };
        events += 1;
        let context = enricher.context(&event);
        detector.detect(leaf, &event, &context);
        let who = context
            .get("person")
            .and_then(Value::as_str)
            .unwrap_or(event.account());
        if index < rules {
            if detector.matched.contains(&index) && !engine.rule_is_silent(index) {
                let at = event.time.as_microsecond();
                hits[index].count(who, at, at);
            }
        } else {
            for hit in detector
                .hits
                .iter()
                .filter(|h| rules + h.correlation == index)
            {
                // The group's account when the correlation groups by it, as `rules run`.
                let account = hit
                    .group
                    .iter()
                    .find(|(name, _)| name == "actor.user")
                    .map_or(who, |(_, value)| value.as_str());
                hits[index].count(account, hit.first_us, hit.last_us);
            }
        }
        Ok(())
    })?;
    let found = &hits[index];
    Ok(Some(json!({
        "rule_id": rule_id,
        "events": events,
        "hits": found.hits,
        "persons": found.persons.len(),
        "first": found.first_us.map_or(Value::Null, time),
        "last": found.last_us.map_or(Value::Null, time),
        "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    })))
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn backtest(
    jobs: SyncSender<Job>,
    running: &Running,
    root: PathBuf,
    method: Method,
    headers: HeaderMap,
    rule_id: String,
    raw_query: Option<String>,
) -> Result<Response, Refusal> {
    let caller = authorise(&jobs, &method, &headers, crate::api::ADMINS).await?;
    let query: BacktestQuery = crate::api::query(raw_query.as_deref())?;
    let from = parse_time(query.from.as_deref(), "from", i64::MIN)?;
    let to = parse_time(query.to.as_deref(), "to", i64::MAX)?;
    if running
        .0
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "a back-test is running: try again when it has finished",
        )
        .with(axum::http::header::RETRY_AFTER, "10"));
    }
    let _turn = Turn(&running.0);
    let paths = mamori_store::Paths::new(&root);
    let rule = rule_id.clone();
    let result = tokio::task::spawn_blocking(move || {
        run(&paths.store(), &root.join("rules"), &rule, from, to)
    })
    .await
    .map_err(|_| Refusal::internal())??;
    let Some(result) = result else {
        return Err(Refusal::new(StatusCode::NOT_FOUND, "no such rule"));
    };
    let target = format!("{rule_id}: {} hits", result["hits"]);
    on_store(&jobs, move |ctx| {
        ctx.record(&caller.name, "rules.backtest", &target)
    })
    .await??;
    Ok(json_response(StatusCode::OK, &result))
}
