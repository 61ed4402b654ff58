//! `mamori analyze`: person-day features over stored history; each day scored against the
//! person's own baseline and the day's peers (`mamori_detect::anomaly`, `peers`); the
//! anomalies, rule findings and cumulative exfiltration weighted by HR context into a risk
//! per person-day (`mamori_detect::risk`), stored with its explanation, and alerts when a
//! person's level rises or a high-severity rule fires (see docs/analytics.md, docs/risk.md).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jiff::civil::{Date, Time};
use jiff::tz::Offset;
use mamori_detect::anomaly::{Scored, Scorer};
use mamori_detect::explain::{self, Lang};
use mamori_detect::features::{DayFeatures, FeatureBuilder, FeatureOptions};
use mamori_detect::forest::{Forest, ForestOptions, ForestScore};
use mamori_detect::peers::{PeerStats, day_peers};
use mamori_detect::risk::{
    AlertReason, DayInput, Finding, Indicator, Level, MAX_FINDING_EVENTS, PersonContext,
    RiskConfig, RiskDay, RiskEngine,
};
use mamori_detect::sigma::Engine;
use mamori_event::{EmploymentType, Event, PersonRecord};
use serde_json::Value;

use crate::BadInput;
use crate::rules::{HistoryArgs, enricher_for};
use mamori_detect::hunt::Detector;

#[derive(clap::Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    history: HistoryArgs,
    /// Sigma rule files or directories run over the history; their findings are risk
    /// indicators. Without it, the findings stored by `mamori rules run` are used.
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// The risk configuration (TOML, docs/risk.md); default: the built-in one.
    #[arg(long)]
    risk_config: Option<PathBuf>,
    /// Ignore HR data: no context multipliers, everyone's peers are the whole organisation.
    #[arg(long)]
    no_hr: bool,
}

/// What one run found, for the summary.
#[derive(Default)]
struct Totals {
    events: u64,
    unreadable: u64,
    rule_findings: u64,
    person_days: u64,
    persons: BTreeSet<String>,
    levels: [u64; 5],
    /// Stored person-days replayed to rebuild the state before `--since`.
    warm_start_person_days: u64,
    alerts: u64,
    alerts_added: u64,
}

/// Rule findings of one person-day, by rule id.
type DayFindings = HashMap<(String, Date), HashMap<String, Finding>>;

pub fn run(data_dir: &Path, args: &AnalyzeArgs, json: bool) -> anyhow::Result<ExitCode> {
    let mut config = match &args.risk_config {
        Some(path) => read_config(path)?,
        None => RiskConfig::default(),
    };
    if args.no_hr {
        config.use_hr = false;
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
    let people = if config.use_hr {
        data.store().people()?
    } else {
        Vec::new()
    };
    let confirmed = data.store().persons_with_confirmed_cases()?;
    let hr = Hr::new(&people, &confirmed);
    // Host owners are learnt from logons: from a month before a later start too.
    let owners_from = if from_us == i64::MIN {
        from_us
    } else {
        from_us.saturating_sub(30 * DAY_US)
    };
    let mut enricher = enricher_for(&data, options, owners_from, to_us)?;
    let started = std::time::Instant::now();
    let mut detector = engine.as_ref().map(Detector::new);
    let mut features = FeatureBuilder::new(FeatureOptions { utc_offset: offset });
    let mut analysis = Analysis::new(config, hr);
    let mut totals = Totals::default();
    let mut findings: DayFindings = HashMap::new();
    let titles_ja = engine.as_ref().map(japanese_titles).unwrap_or_default();
    if engine.is_none() {
        totals.rule_findings = stored_findings(
            &data,
            from_us,
            to_us,
            offset,
            Some(&mut features),
            &mut findings,
            &titles_ja,
        )?;
    }
    // A range that starts later than the history: start from the state of the days before,
    // rebuilt from their stored feature vectors (and stored findings), not from their events.
    if from_us != i64::MIN {
        let since = offset
            .to_datetime(jiff::Timestamp::from_microsecond(from_us)?)
            .date();
        let since_day = day_number(since)?;
        let warm_from = since_day - WARM_START_DAYS;
        let before = data.store().day_features(warm_from, since_day)?;
        totals.warm_start_person_days = before.len() as u64;
        let warm_from_us = local_midnight_us(offset, date_of_day_number(warm_from)?)?;
        stored_findings(
            &data,
            warm_from_us,
            from_us,
            offset,
            None,
            &mut findings,
            &titles_ja,
        )?;
        analysis.replay(before, &mut findings)?;
    }
    // The local day of the scan: events come in time order, so once an event of a later day
    // arrives, every earlier day is complete and can be drained and scored.
    let mut open_day: Option<Date> = None;
    let scan = crate::history::scan_events(&data, from_us, to_us, |scanned| {
        let (leaf, event) = (scanned.leaf, scanned.event);
        let day = offset.to_datetime(event.time).date();
        if open_day.is_some_and(|open| open < day) {
            analysis.days(features.drain_before(day), &mut findings);
        }
        open_day = Some(day);
        let context = enricher.context(&event);
        features.add(&event, &context);
        if let (Some(detector), Some(engine)) = (detector.as_mut(), engine.as_ref()) {
            totals.rule_findings += add_findings(
                detector,
                engine,
                &mut features,
                &mut findings,
                offset,
                leaf,
                &event,
                &context,
            );
        }
        Ok(())
    })?;
    totals.events = scan.events;
    totals.unreadable = scan.unreadable;
    let late = features.late();
    analysis.days(features.finish(), &mut findings);

    // Explanations are built and stored a chunk at a time: as JSON they are several times
    // the size of the risk days, and a year of a large organisation has millions of them.
    let store = data.store_mut();
    let mut alerts = Vec::new();
    for chunk in analysis.out.chunks(STORE_CHUNK) {
        let mut risk_days = Vec::with_capacity(chunk.len());
        for (day, group) in chunk {
            totals.person_days += 1;
            totals.persons.insert(day.person.clone());
            totals.levels[day.level as usize] += 1;
            let day_number = day_number(day.day)?;
            let details = explain::details(day, group);
            for reason in &day.alerts {
                alerts.push(new_alert(offset, day, day_number, group, reason, &details)?);
            }
            risk_days.push(mamori_store::RiskDay {
                person_id: day.person.clone(),
                day: day_number,
                score: day.risk,
                level: day.level,
                details,
            });
        }
        store.store_risk_days(&risk_days)?;
    }
    for chunk in analysis.vectors.chunks(STORE_CHUNK) {
        store.store_day_features(chunk)?;
    }
    totals.alerts = alerts.len() as u64;
    totals.alerts_added = store.add_alerts(&alerts)?;
    // Identity hygiene last: its high and critical findings are alerts too (docs/hygiene.md).
    let hygiene = crate::hygiene::find(&data, &crate::hygiene::Options::today(offset))?;
    let hygiene_alerts = crate::hygiene::alerts(&hygiene, offset)?;
    let hygiene_added = data.store_mut().add_alerts(&hygiene_alerts)?;
    let seconds = started.elapsed().as_secs_f64();
    let [none, low, medium, high, critical] = totals.levels;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "events": totals.events, "unreadable": totals.unreadable,
                "rule_findings": totals.rule_findings, "late": late,
                "rules_not_loaded": errors.len(), "use_hr": analysis.risk.config().use_hr,
                "person_days": totals.person_days, "persons": totals.persons.len(),
                "warm_start_person_days": totals.warm_start_person_days,
                "levels": {"none": none, "low": low, "medium": medium, "high": high, "critical": critical},
                "alerts": totals.alerts, "alerts_added": totals.alerts_added,
                "hygiene": {"findings": hygiene.len(), "alerts": hygiene_alerts.len(), "alerts_added": hygiene_added},
                "seconds": crate::bench::round(seconds),
            })
        );
    } else {
        println!(
            "{} events, {} person-days of {} persons (levels: {none} none, {low} low, {medium} \
             medium, {high} high, {critical} critical), {} alerts, {} new; {} rule findings; {:.1} s",
            totals.events,
            totals.person_days,
            totals.persons.len(),
            totals.alerts,
            totals.alerts_added,
            totals.rule_findings,
            seconds
        );
        println!(
            "identity hygiene: {} findings, {} alerts, {hygiene_added} new (mamori hygiene)",
            hygiene.len(),
            hygiene_alerts.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The alert for `reason` on a risk day. Its dedup key names the person, the day and the
/// reason, so re-running over the same history adds nothing.
fn new_alert(
    offset: Offset,
    day: &RiskDay,
    day_number: i64,
    group: &str,
    reason: &AlertReason,
    details: &Value,
) -> anyhow::Result<mamori_store::NewAlert> {
    let (kind, severity, time_us, key) = match reason {
        AlertReason::LevelRose { to, .. } => (
            "risk_level",
            *to,
            local_midnight_us(offset, day.day)?,
            format!("risk_level:{}:{day_number}", day.person),
        ),
        AlertReason::Rule(finding) => (
            "rule",
            finding.level,
            finding.first_us,
            format!("rule:{}:{}:{day_number}", finding.rule_id, day.person),
        ),
    };
    Ok(mamori_store::NewAlert {
        person_id: day.person.clone(),
        time_us,
        day: day_number,
        severity,
        kind: kind.to_string(),
        title: explain::alert_title(reason, day, group, Lang::En),
        title_ja: explain::alert_title(reason, day, group, Lang::Ja),
        details: details.clone(),
        dedup_key: key,
        events: alert_events(reason, day),
    })
}

/// The evidence of an alert: its rule finding's events, or for a risk level all the day's
/// rule findings' events (bounded).
fn alert_events(reason: &AlertReason, day: &RiskDay) -> Vec<u64> {
    let mut events: Vec<u64> = match reason {
        AlertReason::Rule(finding) => finding.events.clone(),
        AlertReason::LevelRose { .. } => day
            .indicators
            .iter()
            .filter_map(|i| match i {
                Indicator::Rule { finding, .. } => Some(finding.events.iter().copied()),
                _ => None,
            })
            .flatten()
            .collect(),
    };
    events.sort_unstable();
    events.dedup();
    events.truncate(MAX_FINDING_EVENTS);
    events
}

fn read_config(path: &Path) -> anyhow::Result<RiskConfig> {
    let text =
        std::fs::read_to_string(path).map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
    let config: RiskConfig =
        toml::from_str(&text).map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
    config
        .validate()
        .map_err(|reason| BadInput(format!("{}: {reason}", path.display())))?;
    Ok(config)
}

/// What HR says, ready per person: department (peer group) and risk context.
struct Hr {
    persons: HashMap<String, (Option<String>, PersonContext)>,
}

impl Hr {
    fn new(people: &[PersonRecord], confirmed: &HashSet<String>) -> Hr {
        let persons = people
            .iter()
            .map(|p| {
                let context = PersonContext {
                    notice_date: p.notice_date,
                    termination_date: p.termination_date,
                    priority: p.priority || p.employment_type == Some(EmploymentType::Executive),
                    contractor: matches!(
                        p.employment_type,
                        Some(EmploymentType::Contractor | EmploymentType::Temporary)
                    ),
                    prior_incident: confirmed.contains(&p.person_id),
                };
                (p.person_id.clone(), (p.department.clone(), context))
            })
            .collect();
        Hr { persons }
    }

    fn department(&self, person: &str) -> Option<&str> {
        self.persons.get(person).and_then(|(d, _)| d.as_deref())
    }
}

/// The models and the risk engine, fed day by day.
struct Analysis {
    scorer: Scorer,
    /// The isolation forest, when its points count (weight > 0).
    forest: Option<Forest>,
    risk: RiskEngine,
    hr: Hr,
    no_context: PersonContext,
    /// Every risk day with the name of its peer group.
    out: Vec<(RiskDay, String)>,
    /// Every feature vector: (person, day number, values), stored for later warm starts.
    vectors: Vec<(String, i64, Vec<f64>)>,
    /// False while replaying stored days to rebuild the state: nothing is recorded.
    recording: bool,
}

impl Analysis {
    fn new(config: RiskConfig, hr: Hr) -> Analysis {
        let forest = (config.forest.weight > 0.0)
            .then(|| Forest::new(ForestOptions::default(), mamori_detect::anomaly::scored));
        Analysis {
            scorer: Scorer::new(config.baseline.scorer_options()),
            forest,
            risk: RiskEngine::new(config),
            hr,
            no_context: PersonContext::default(),
            out: Vec::new(),
            vectors: Vec::new(),
            recording: true,
        }
    }

    /// Rebuilds baselines, forest and risk state from stored feature vectors of the days
    /// before the range (a warm start), recording nothing.
    fn replay(
        &mut self,
        stored: Vec<(String, i64, Vec<f64>)>,
        findings: &mut DayFindings,
    ) -> anyhow::Result<()> {
        let mut rows = Vec::with_capacity(stored.len());
        for (person, day, values) in stored {
            rows.push(DayFeatures {
                person,
                day: date_of_day_number(day)?,
                values,
            });
        }
        self.recording = false;
        self.days(rows, findings);
        self.recording = true;
        Ok(())
    }

    /// Scores drained rows (sorted by day, then person) one day at a time.
    fn days(&mut self, rows: Vec<DayFeatures>, findings: &mut DayFindings) {
        let mut start = 0;
        while start < rows.len() {
            let day = rows[start].day;
            let end = start + rows[start..].iter().take_while(|r| r.day == day).count();
            self.day(&rows[start..end], findings);
            start = end;
        }
    }

    fn day(&mut self, rows: &[DayFeatures], findings: &mut DayFindings) {
        let hr = &self.hr;
        let (groups, of_row) = day_peers(rows, |r| hr.department(&r.person));
        let scored: Vec<Scored> = rows
            .iter()
            .zip(&of_row)
            .map(|(row, &g)| self.scorer.score(row, groups.get(g)))
            .collect();
        let forest: Vec<Option<ForestScore>> = rows
            .iter()
            .map(|row| self.forest.as_ref().and_then(|f| f.score(row)))
            .collect();
        if let Some(f) = self.forest.as_mut() {
            f.learn_day(rows);
        }
        let day_findings: Vec<Vec<Finding>> = rows
            .iter()
            .map(|row| {
                let mut list: Vec<Finding> = findings
                    .remove(&(row.person.clone(), row.day))
                    .map(|by_rule| by_rule.into_values().collect())
                    .unwrap_or_default();
                list.sort_by(|a, b| a.rule_id.cmp(&b.rule_id));
                list
            })
            .collect();
        let inputs: Vec<DayInput> = rows
            .iter()
            .enumerate()
            .map(|(i, row)| DayInput {
                features: row,
                scored: &scored[i],
                forest: forest[i].as_ref(),
                peer_group: of_row[i],
                findings: &day_findings[i],
                context: hr
                    .persons
                    .get(&row.person)
                    .map_or(&self.no_context, |(_, c)| c),
            })
            .collect();
        let days = self.risk.day(&inputs);
        if !self.recording {
            return;
        }
        for row in rows {
            if let Ok(day) = day_number(row.day) {
                self.vectors
                    .push((row.person.clone(), day, row.values.clone()));
            }
        }
        self.out
            .extend(days.into_iter().zip(&of_row).map(|(d, &g)| {
                let group = groups
                    .get(g)
                    .map_or(mamori_detect::peers::ORGANISATION, |s: &PeerStats| {
                        s.group.as_str()
                    });
                (d, group.to_string())
            }));
    }
}

/// The Japanese titles of the engine's rules and correlations, by the id findings use.
fn japanese_titles(engine: &Engine) -> HashMap<String, String> {
    let rules = (0..engine.rule_count())
        .filter_map(|i| engine.rule(i))
        .map(|r| (r.id.as_ref().unwrap_or(&r.title), &r.title_ja));
    let correlations = (0..engine.correlation_count())
        .filter_map(|i| engine.correlation(i))
        .map(|c| (c.id.as_ref().unwrap_or(&c.title), &c.title_ja));
    rules
        .chain(correlations)
        .filter_map(|(id, ja)| Some((id.clone(), ja.clone()?)))
        .collect()
}

/// A rule as its findings name it.
#[derive(Clone, Copy)]
struct RuleRef<'a> {
    id: &'a str,
    title: &'a str,
    title_ja: Option<&'a str>,
    level: Option<&'a str>,
}

/// Adds one finding of `person` at `time_us`, made by the events `leaves`, to the day's
/// findings.
fn note_finding(
    findings: &mut DayFindings,
    offset: Offset,
    person: &str,
    time_us: i64,
    rule: RuleRef<'_>,
    leaves: &[u64],
) {
    let Ok(time) = jiff::Timestamp::from_microsecond(time_us) else {
        return;
    };
    let day = offset.to_datetime(time).date();
    let entry = findings
        .entry((person.to_string(), day))
        .or_default()
        .entry(rule.id.to_string())
        .or_insert_with(|| Finding {
            rule_id: rule.id.to_string(),
            title: rule.title.to_string(),
            title_ja: rule.title_ja.map(str::to_string),
            // Sigma's `informational` (or no level) counts as none.
            level: rule.level.and_then(Level::parse).unwrap_or(Level::None),
            count: 0,
            first_us: time_us,
            events: Vec::new(),
        });
    entry.count += 1;
    entry.first_us = entry.first_us.min(time_us);
    if entry.events.len() < MAX_FINDING_EVENTS {
        entry.events.extend(leaves);
        entry.events.sort_unstable();
        entry.events.dedup();
        entry.events.truncate(MAX_FINDING_EVENTS);
    }
}

/// The findings `mamori rules run` stored in the range, as indicators and as the
/// `rule_findings` feature; returns how many.
fn stored_findings(
    data: &mamori_store::DataDir,
    from_us: i64,
    to_us: i64,
    offset: Offset,
    mut features: Option<&mut FeatureBuilder>,
    findings: &mut DayFindings,
    titles_ja: &HashMap<String, String>,
) -> anyhow::Result<u64> {
    let mut count = 0;
    let mut persons: HashMap<String, Option<String>> = HashMap::new();
    for finding in data.store().rule_findings_ending(from_us, to_us)? {
        let person = match &finding.person_id {
            Some(p) => p.clone(),
            None => match persons.get(&finding.account) {
                Some(p) => p.clone().unwrap_or_else(|| finding.account.clone()),
                None => {
                    let p = data.store().person_of_account(&finding.account)?;
                    persons.insert(finding.account.clone(), p.clone());
                    p.unwrap_or_else(|| finding.account.clone())
                }
            },
        };
        let Ok(time) = jiff::Timestamp::from_microsecond(finding.last_us) else {
            continue;
        };
        if let Some(features) = features.as_deref_mut() {
            features.add_rule_finding(&person, time);
        }
        let rule = RuleRef {
            id: &finding.rule_id,
            title: &finding.rule_title,
            title_ja: titles_ja.get(&finding.rule_id).map(String::as_str),
            level: finding.level.as_deref(),
        };
        note_finding(
            findings,
            offset,
            &person,
            finding.last_us,
            rule,
            &finding.events,
        );
        count += 1;
    }
    Ok(count)
}

/// Gives every non-silent rule match and every completed correlation of `event` to the
/// features as a rule finding of the person, and to the day's findings; returns how many.
#[allow(clippy::too_many_arguments)]
fn add_findings(
    detector: &mut Detector<'_>,
    engine: &Engine,
    features: &mut FeatureBuilder,
    findings: &mut DayFindings,
    offset: Offset,
    leaf: u64,
    event: &Event,
    context: &serde_json::Map<String, Value>,
) -> u64 {
    detector.detect(leaf, event, context);
    let person = context
        .get("person")
        .and_then(Value::as_str)
        .unwrap_or_else(|| event.account());
    let time_us = event.time.as_microsecond();
    // One finding of `who`, made by `leaves`: to the features and to the day's findings.
    let mut credit = |who: &str, rule: RuleRef<'_>, leaves: &[u64]| -> u64 {
        if !features.add_rule_finding(who, event.time) {
            return 0;
        }
        note_finding(findings, offset, who, time_us, rule, leaves);
        1
    };
    let mut count = 0;
    for &index in &detector.matched {
        if let Some(rule) = engine.rule(index).filter(|_| !engine.rule_is_silent(index)) {
            let id = rule.id.as_deref().unwrap_or(&rule.title);
            let rule = RuleRef {
                id,
                title: &rule.title,
                title_ja: rule.title_ja.as_deref(),
                level: rule.level.as_deref(),
            };
            count += credit(person, rule, &[leaf]);
        }
    }
    for hit in &detector.hits {
        // The group's account when the correlation groups by it (that account's person is
        // only known for this event's account), else this event's person.
        let who = match hit.group.iter().find(|(name, _)| name == "actor.user") {
            Some((_, account)) if account != event.account() => account.as_str(),
            _ => person,
        };
        if let Some(info) = engine.correlation(hit.correlation) {
            let id = info.id.as_deref().unwrap_or(&info.title);
            let rule = RuleRef {
                id,
                title: &info.title,
                title_ja: info.title_ja.as_deref(),
                level: info.level.as_deref(),
            };
            count += credit(who, rule, &hit.events);
        }
    }
    count
}

/// Calendar days before `--since` whose stored feature vectors rebuild the state: the
/// baseline window is 30 *active* days, the cumulative indicator looks 60 days back.
const WARM_START_DAYS: i64 = 90;

/// Person-days explained and stored per transaction.
const STORE_CHUNK: usize = 10_000;

const DAY_US: i64 = 86_400_000_000;

/// The local date of a day number.
pub(crate) fn date_of_day_number(day: i64) -> anyhow::Result<Date> {
    Ok(jiff::civil::date(1970, 1, 1).checked_add(jiff::Span::new().try_days(day)?)?)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn day_numbers_and_local_midnights() {
        let day = jiff::civil::date(1970, 1, 3);
        assert_eq!(day_number(day).unwrap(), 2);
        let nine = Offset::from_seconds(9 * 3600).unwrap();
        assert_eq!(
            local_midnight_us(nine, day).unwrap(),
            (2 * 86_400 - 9 * 3600) * 1_000_000
        );
    }

    /// docs/risk.toml is the documented default: it must stay exactly the built-in one.
    #[test]
    fn the_documented_risk_file_is_the_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/risk.toml");
        assert_eq!(read_config(&path).unwrap(), RiskConfig::default());
        let bad = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(bad.path(), "[rules]\nhigh_points = 3\n").unwrap();
        let error = read_config(bad.path()).unwrap_err().to_string();
        assert!(error.contains("high_points"), "{error}");
    }
}
