//! `GET /api/v1/dashboard`: the organisation at a glance. Counts only — persons by level per
//! day and now (each person's latest level of the last week), open alerts by severity and
//! department, the indicators behind recent risk, when each kind of event last arrived, what
//! agents sent — so it names nobody and needs no pseudonyms.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use mamori_detect::explain::{self, Lang};
use mamori_detect::features::Feature;
use mamori_store::Level;
use serde_json::{Value, json};

use crate::api::{Work, day_text, time};
use crate::store::Refusal;

/// Days of trend by default, and at most.
const DEFAULT_DAYS: i64 = 90;
const MAX_DAYS: i64 = 366;
/// The indicators counted are those of the last this many days.
const INDICATOR_DAYS: i64 = 30;
/// A person's current level is the one of their latest scored day within this many days.
const CURRENT_DAYS: i64 = 7;
/// How many indicators the dashboard lists.
const TOP_INDICATORS: usize = 10;
/// Departments with fewer persons than this are not named next to risk (dashboard, person
/// page): "the one person in Legal with a critical alert" is not a pseudonym.
pub(crate) const MIN_DEPARTMENT: u64 = 5;

/// Events agents sent to this server since it started, and in the last minute.
#[derive(Default)]
pub struct IngestStats {
    since_start: u64,
    /// Events per append, the newest last, for the last minute.
    recent: VecDeque<(Instant, u64)>,
}

impl IngestStats {
    pub fn add(&mut self, events: u64) {
        self.since_start += events;
        let now = Instant::now();
        self.recent.push_back((now, events));
        self.forget(now);
    }

    fn forget(&mut self, now: Instant) {
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > Duration::from_secs(60))
        {
            self.recent.pop_front();
        }
    }

    fn last_minute(&mut self) -> u64 {
        self.forget(Instant::now());
        self.recent.iter().map(|(_, n)| n).sum()
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DashboardQuery {
    days: Option<i64>,
}

fn counts(levels: &BTreeMap<Level, u64>, from: Level) -> Value {
    let mut map = serde_json::Map::new();
    for level in Level::ALL.into_iter().filter(|l| *l >= from) {
        map.insert(
            level.as_str().into(),
            json!(levels.get(&level).copied().unwrap_or(0)),
        );
    }
    Value::Object(map)
}

/// What an indicator of a risk day is about, and its label in both languages.
fn indicator_key(indicator: &Value) -> Option<(String, String, String)> {
    let text = |key: &str| indicator.get(key).and_then(Value::as_str);
    match text("type")? {
        "anomaly" => {
            let name = text("feature")?;
            let feature = Feature::from_name(name)?;
            Some((
                name.to_string(),
                explain::feature_label(feature, Lang::En),
                explain::feature_label(feature, Lang::Ja),
            ))
        }
        "rule" => {
            let title = text("title").or(text("rule_id"))?;
            // Explanations stored before `title_ja` was written have the English one only.
            let title_ja = text("title_ja").unwrap_or(title);
            Some((
                format!("rule:{}", text("rule_id")?),
                title.into(),
                title_ja.into(),
            ))
        }
        "forest" => Some((
            "forest".into(),
            "unusual combination of activities".into(),
            "普段と異なる行動の組み合わせ".into(),
        )),
        "cumulative" => Some((
            "cumulative".into(),
            "sustained risk over several days".into(),
            "数日にわたるリスクの蓄積".into(),
        )),
        _ => None,
    }
}

pub(crate) fn dashboard(query: DashboardQuery) -> Result<Work, Refusal> {
    let days = query.days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("days {days}: from 1 to {MAX_DAYS}"),
        ));
    }
    Ok(Box::new(move |ctx, caller| {
        ctx.record(&caller.name, "dashboard.read", &format!("{days} days"))?;
        let store = ctx.appender.store();
        let latest = store.latest_risk_day()?;
        let mut trend = Vec::new();
        let mut today = BTreeMap::new();
        let mut indicators: HashMap<String, (String, String, u64)> = HashMap::new();
        if let Some(latest) = latest {
            let mut by_day: BTreeMap<i64, BTreeMap<Level, u64>> = BTreeMap::new();
            for (day, level, persons) in store.persons_by_level(latest - days + 1, latest)? {
                by_day.entry(day).or_default().insert(level, persons);
            }
            // Each person at their latest level of the last week: a weekend or a day still
            // being imported has few persons of its own.
            for (level, persons) in store.current_levels(latest - CURRENT_DAYS + 1, latest)? {
                today.insert(level, persons);
            }
            for (day, levels) in &by_day {
                let mut point = counts(levels, Level::Low);
                point["day"] = day_text(*day);
                trend.push(point);
            }
            store.risk_details_since(latest - INDICATOR_DAYS + 1, Level::Low, |details| {
                let Some(list) = details.get("indicators").and_then(Value::as_array) else {
                    return;
                };
                for indicator in list {
                    if let Some((key, en, ja)) = indicator_key(indicator) {
                        indicators.entry(key).or_insert((en, ja, 0)).2 += 1;
                    }
                }
            })?;
        }
        // Findings stored by `rules run` carry the English title only: the Japanese one comes
        // from the rule files.
        if indicators.keys().any(|k| k.starts_with("rule:")) {
            let engine = crate::admin::load_rules(&ctx.root.join("rules"))?;
            for rule in mamori_detect::hunt::hit_lists(&engine) {
                if let (Some(title_ja), Some(entry)) = (
                    rule.title_ja,
                    indicators.get_mut(&format!("rule:{}", rule.rule_id)),
                ) {
                    entry.1 = title_ja;
                }
            }
        }
        let mut top: Vec<(String, (String, String, u64))> = indicators.into_iter().collect();
        top.sort_by(|a, b| b.1.2.cmp(&a.1.2).then_with(|| a.0.cmp(&b.0)));
        let top: Vec<Value> = top
            .into_iter()
            .take(TOP_INDICATORS)
            .map(|(key, (en, ja, count))| json!({"feature": key, "en": en, "ja": ja, "count": count}))
            .collect();
        let mut by_severity: BTreeMap<Level, u64> = BTreeMap::new();
        // Rows by (department, small): named departments, then all the small ones together
        // (`None`, small), then alerts of persons without a department (`None`, not small).
        let mut departments: BTreeMap<(Option<String>, bool), BTreeMap<Level, u64>> =
            BTreeMap::new();
        let sizes = store.department_sizes()?;
        for (department, severity, alerts) in store.open_alerts_by_department()? {
            *by_severity.entry(severity).or_default() += alerts;
            let shown = match department {
                Some(name)
                    if sizes.get(&Some(name.clone())).copied().unwrap_or(0) >= MIN_DEPARTMENT =>
                {
                    (Some(name), false)
                }
                Some(_) => (None, true),
                None => (None, false),
            };
            *departments
                .entry(shown)
                .or_default()
                .entry(severity)
                .or_default() += alerts;
        }
        let by_department: Vec<Value> = departments
            .iter()
            .map(|((department, small), levels)| {
                let mut row = counts(levels, Level::Low);
                row["department"] = json!(department);
                row["small"] = json!(small);
                row
            })
            .collect();
        let sources: Vec<Value> = store
            .kinds_summary()?
            .into_iter()
            .map(|k| json!({"kind": k.kind, "events": k.events, "last": time(k.last_us)}))
            .collect();
        let ingest =
            json!({"since_start": ctx.ingest.since_start, "last_minute": ctx.ingest.last_minute()});
        Ok((
            StatusCode::OK,
            json!({
                "latest_day": latest.map_or(Value::Null, day_text),
                "trend": trend,
                "levels": counts(&today, Level::None),
                "alerts": {"by_severity": counts(&by_severity, Level::Low), "by_department": by_department},
                "indicators": top,
                "sources": sources,
                "ingest": ingest,
            }),
        ))
    }))
}
