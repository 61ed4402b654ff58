//! `mamori analyze`: person-day features over stored history, scored against each person's
//! own baseline (`mamori_detect::anomaly`), stored as person-day scores, with an alert for
//! each person-day at or above `--alert-score` (see docs/analytics.md).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jiff::civil::{Date, Time};
use jiff::tz::Offset;
use mamori_detect::anomaly::{Scored, Scorer, ScorerOptions};
use mamori_detect::features::{DayFeatures, FeatureBuilder, FeatureOptions};
use mamori_detect::sigma::Engine;
use mamori_event::Event;
use serde_json::Value;

use crate::BadInput;
use crate::rules::{Detector, HistoryArgs, enricher_for};

#[derive(clap::Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    history: HistoryArgs,
    /// Sigma rule files or directories whose findings count in the `rule_findings` feature.
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// A person-day scoring this or more gets an alert.
    #[arg(long, default_value_t = 15.0)]
    alert_score: f64,
}

/// What one run found, for the summary.
#[derive(Default)]
struct Totals {
    events: u64,
    unreadable: u64,
    rule_findings: u64,
    person_days: u64,
    persons: BTreeSet<String>,
    alerts_over_threshold: u64,
    alerts_added: u64,
}

pub fn run(data_dir: &Path, args: &AnalyzeArgs, json: bool) -> anyhow::Result<ExitCode> {
    if !args.alert_score.is_finite() {
        return Err(BadInput(format!("--alert-score {}: not a number", args.alert_score)).into());
    }
    let (engine, errors) = if args.rules.is_empty() {
        (None, Vec::new())
    } else {
        let (engine, errors) = crate::rules::load(&args.rules, &HashMap::new())?;
        (Some(engine), errors)
    };
    for error in &errors {
        eprintln!("{error}");
    }
    let ((from_us, to_us), options) = args.history.resolve()?;
    let offset = options.utc_offset;
    let mut data = mamori_store::DataDir::open(data_dir)?;
    let mut enricher = enricher_for(&data, options, from_us, to_us)?;
    let started = std::time::Instant::now();
    let mut detector = engine.as_ref().map(Detector::new);
    let mut features = FeatureBuilder::new(FeatureOptions { utc_offset: offset });
    let mut scorer = Scorer::new(ScorerOptions::default());
    let mut scored: Vec<Scored> = Vec::new();
    let mut totals = Totals::default();
    // The local day of the scan: events come in time order, so once an event of a later day
    // arrives, every earlier day is complete and can be drained and scored.
    let mut open_day: Option<Date> = None;
    let scan = crate::history::scan_events(&data, from_us, to_us, |scanned| {
        let (leaf, event) = (scanned.leaf, scanned.event);
        let day = offset.to_datetime(event.time).date();
        if open_day.is_some_and(|open| open < day) {
            score_rows(&mut scorer, features.drain_before(day), &mut scored);
        }
        open_day = Some(day);
        let context = enricher.context(&event);
        features.add(&event, &context);
        if let (Some(detector), Some(engine)) = (detector.as_mut(), engine.as_ref()) {
            totals.rule_findings +=
                add_findings(detector, engine, &mut features, leaf, &event, &context);
        }
        Ok(())
    })?;
    totals.events = scan.events;
    totals.unreadable = scan.unreadable;
    let late = features.late();
    score_rows(&mut scorer, features.finish(), &mut scored);

    let mut scores = Vec::with_capacity(scored.len());
    for day in &scored {
        totals.person_days += 1;
        totals.persons.insert(day.person.clone());
        scores.push((day.person.clone(), day_number(day.day)?, day.score));
    }
    let store = data.store_mut();
    store.store_scores(&scores)?;
    for day in scored.iter().filter(|d| d.score >= args.alert_score) {
        totals.alerts_over_threshold += 1;
        let time_us = local_midnight_us(offset, day.day)?;
        if store.add_alert_once(&day.person, time_us, &alert_title(day))? {
            totals.alerts_added += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "events": totals.events, "unreadable": totals.unreadable,
                "rule_findings": totals.rule_findings, "late": late,
                "rules_not_loaded": errors.len(),
                "person_days": totals.person_days, "persons": totals.persons.len(),
                "alert_score": args.alert_score,
                "alerts": totals.alerts_over_threshold, "alerts_added": totals.alerts_added,
                "seconds": crate::bench::round(seconds),
            })
        );
    } else {
        println!(
            "{} events, {} person-days of {} persons scored, {} alerts (score >= {}), {} new; \
             {} rule findings; {:.1} s",
            totals.events,
            totals.person_days,
            totals.persons.len(),
            totals.alerts_over_threshold,
            args.alert_score,
            totals.alerts_added,
            totals.rule_findings,
            seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn score_rows(scorer: &mut Scorer, rows: Vec<DayFeatures>, out: &mut Vec<Scored>) {
    out.extend(rows.iter().map(|row| scorer.score(row)));
}

/// Gives every non-silent rule match and every completed correlation of `event` to the
/// features as a rule finding of the person; returns how many.
fn add_findings(
    detector: &mut Detector<'_>,
    engine: &Engine,
    features: &mut FeatureBuilder,
    leaf: u64,
    event: &Event,
    context: &serde_json::Map<String, Value>,
) -> u64 {
    detector.detect(leaf, event, context);
    let person = context
        .get("person")
        .and_then(Value::as_str)
        .unwrap_or_else(|| event.account());
    let mut count = 0;
    for &index in &detector.matched {
        if !engine.rule_is_silent(index) {
            count += u64::from(features.add_rule_finding(person, event.time));
        }
    }
    for hit in &detector.hits {
        // The group's account when the correlation groups by it (that account's person is
        // only known for this event's account), else this event's person.
        let who = match hit.group.iter().find(|(name, _)| name == "actor.user") {
            Some((_, account)) if account != event.account() => account.as_str(),
            _ => person,
        };
        count += u64::from(features.add_rule_finding(who, event.time));
    }
    count
}

/// Days since 1970-01-01 of a local date, as the scores table counts them.
fn day_number(day: Date) -> anyhow::Result<i64> {
    Ok(mamori_store::day_of(local_midnight_us(Offset::UTC, day)?))
}

/// The start of a local `day` at `offset`, in microseconds since the epoch.
fn local_midnight_us(offset: Offset, day: Date) -> anyhow::Result<i64> {
    Ok(offset
        .to_timestamp(day.to_datetime(Time::midnight()))?
        .as_microsecond())
}

/// `unusual activity: removable_copies 340 (usual 0); logons_after_hours 3 (usual 0)`.
fn alert_title(day: &Scored) -> String {
    let parts: Vec<String> = day
        .top
        .iter()
        .map(|c| {
            format!(
                "{} {} (usual {})",
                c.feature.name(),
                number(c.value),
                number(c.usual)
            )
        })
        .collect();
    format!("unusual activity: {}", parts.join("; "))
}

/// Whole numbers without a fraction, others with one decimal.
fn number(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mamori_detect::anomaly::Contribution;
    use mamori_detect::features::Feature;

    #[test]
    fn titles_and_day_numbers() {
        let day = jiff::civil::date(1970, 1, 3);
        assert_eq!(day_number(day).unwrap(), 2);
        let nine = Offset::from_seconds(9 * 3600).unwrap();
        assert_eq!(
            local_midnight_us(nine, day).unwrap(),
            (2 * 86_400 - 9 * 3600) * 1_000_000
        );
        let scored = Scored {
            person: "P1".into(),
            day,
            score: 13.0,
            top: vec![
                Contribution {
                    feature: Feature::RemovableCopies,
                    value: 340.0,
                    usual: 0.0,
                    z: 10.0,
                },
                Contribution {
                    feature: Feature::LogonsAfterHours,
                    value: 3.0,
                    usual: 0.5,
                    z: 2.5,
                },
            ],
        };
        assert_eq!(
            alert_title(&scored),
            "unusual activity: removable_copies 340 (usual 0); logons_after_hours 3 (usual 0.5)"
        );
    }
}
