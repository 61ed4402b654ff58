//! Risk: a person's indicators of one day (anomalies, rule findings, cumulative exfiltration
//! against peers), weighted by HR context, accumulated with decay into a risk score and level
//! per person and day, and the alerts that follow (see `docs/risk.md`).
//!
//! Why accumulate: an insider rarely has one loud day. Three quiet-but-odd days in a week
//! should outrank one busy day, and a signal should fade, not vanish, overnight. The risk of a
//! day is `risk(previous active day) × ½^(gap / half_life) + points(day) × multiplier(day)`.

use std::collections::{HashMap, VecDeque};

use jiff::civil::Date;
use serde::Deserialize;

use crate::anomaly::{Contribution, PeerMode, Scored, ScorerOptions};
use crate::features::{DayFeatures, Feature};
use crate::forest::ForestScore;

/// Risk level of a person on a day, and severity of an alert.
pub use mamori_event::Level;

/// Everything the risk engine can be told; `docs/risk.md` documents each field and
/// `docs/risk.toml` is this default as a file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskConfig {
    /// Days for an accumulated risk to halve.
    pub half_life_days: f64,
    /// Use HR data (context multipliers and department peers). Off, every person is compared
    /// with the whole organisation and no context weighs.
    pub use_hr: bool,
    pub baseline: BaselineConfig,
    pub anomaly: AnomalyConfig,
    pub forest: ForestConfig,
    pub rules: RuleConfig,
    pub cumulative: CumulativeConfig,
    pub context: ContextConfig,
    pub levels: LevelConfig,
    pub alerts: AlertConfig,
}

impl RiskConfig {
    /// Refuses values that make no sense (a reason naming the field), so that a typo in a
    /// configuration file is an error, not a silently useless analysis.
    pub fn validate(&self) -> Result<(), String> {
        let weights = [
            ("half_life_days", self.half_life_days),
            ("anomaly.weight", self.anomaly.weight),
            ("forest.weight", self.forest.weight),
            ("rules.low", self.rules.low),
            ("rules.medium", self.rules.medium),
            ("rules.high", self.rules.high),
            ("rules.critical", self.rules.critical),
            ("cumulative.points", self.cumulative.points),
            ("context.departing", self.context.departing),
            ("context.lookback", self.context.lookback),
            ("context.priority", self.context.priority),
            ("context.contractor", self.context.contractor),
            ("context.prior_incident", self.context.prior_incident),
        ];
        for (name, value) in weights {
            if !(value.is_finite() && value >= 0.0) {
                return Err(format!("{name} = {value}: must be a number ≥ 0"));
            }
        }
        if self.half_life_days <= 0.0 {
            return Err("half_life_days: must be greater than 0".into());
        }
        let periods = [
            ("cumulative.days", self.cumulative.days, 1),
            (
                "context.departing_period_days",
                self.context.departing_period_days,
                0,
            ),
            ("context.lookback_days", self.context.lookback_days, 0),
            ("context.after_days", self.context.after_days, 0),
        ];
        for (name, value, least) in periods {
            if !(least..=3660).contains(&value) {
                return Err(format!("{name} = {value}: must be {least} to 3660 days"));
            }
        }
        let l = &self.levels;
        if !(l.low.is_finite()
            && 0.0 <= l.low
            && l.low <= l.medium
            && l.medium <= l.high
            && l.high <= l.critical
            && l.critical.is_finite())
        {
            return Err("levels: need 0 ≤ low ≤ medium ≤ high ≤ critical".into());
        }
        if self.baseline.window == 0 || self.baseline.top == 0 {
            return Err("baseline.window and baseline.top: must be at least 1".into());
        }
        Ok(())
    }
}

impl Default for RiskConfig {
    fn default() -> Self {
        RiskConfig {
            half_life_days: 1.0,
            use_hr: true,
            baseline: BaselineConfig::default(),
            anomaly: AnomalyConfig::default(),
            forest: ForestConfig::default(),
            rules: RuleConfig::default(),
            cumulative: CumulativeConfig::default(),
            context: ContextConfig::default(),
            levels: LevelConfig::default(),
            alerts: AlertConfig::default(),
        }
    }
}

/// The anomaly model ([`crate::anomaly::ScorerOptions`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaselineConfig {
    pub window: usize,
    pub warmup: usize,
    pub top: usize,
    pub clip: f64,
    pub peers: PeerMode,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        let o = ScorerOptions::default();
        BaselineConfig {
            window: o.window,
            warmup: o.warmup,
            top: o.top,
            clip: o.clip,
            peers: o.peers,
        }
    }
}

impl BaselineConfig {
    pub fn scorer_options(&self) -> ScorerOptions {
        ScorerOptions {
            window: self.window,
            warmup: self.warmup,
            top: self.top,
            clip: self.clip,
            peers: self.peers,
        }
    }
}

/// Anomaly points: `(score − min_score) × weight` when positive.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnomalyConfig {
    pub min_score: f64,
    pub weight: f64,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            min_score: 6.0,
            weight: 1.0,
        }
    }
}

/// Isolation forest points: `(score − threshold) × weight` when positive
/// ([`crate::forest`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForestConfig {
    pub threshold: f64,
    pub weight: f64,
}

impl Default for ForestConfig {
    fn default() -> Self {
        ForestConfig {
            threshold: 0.6,
            weight: 0.0,
        }
    }
}

/// Rule points: the level's points, times a commonness weight
/// `min(1, sqrt(common_share / share))` (`share`: person-days with the rule among all so far),
/// times a habit weight `1 / (1 + days / habit_days)` (`days`: the person's days with the rule
/// among their last `habit_window` active days), times `1 + ln(count)` up to 2.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleConfig {
    pub low: f64,
    pub medium: f64,
    pub high: f64,
    pub critical: f64,
    pub common_share: f64,
    pub habit_days: f64,
    pub habit_window: usize,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig {
            low: 2.0,
            medium: 6.0,
            high: 15.0,
            critical: 30.0,
            common_share: 0.01,
            habit_days: 2.0,
            habit_window: 30,
        }
    }
}

impl RuleConfig {
    fn points(&self, level: Level) -> f64 {
        match level {
            Level::None => 0.0,
            Level::Low => self.low,
            Level::Medium => self.medium,
            Level::High => self.high,
            Level::Critical => self.critical,
        }
    }
}

/// Cumulative exfiltration: the sum over the last `days` days of removable copies, cloud or
/// share copies, web uploads and mails to personal addresses. It scores when it is at least
/// `min_total`, `min_peer_ratio` times the peer median and `min_own_ratio` times the person's
/// own total of the `days` before: `points × (1 + log2(peer ratio / min_peer_ratio))`, at most
/// three times `points`. A person needs `2 × days` days of history (from their first active
/// day) before the comparison with their own past window means anything.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CumulativeConfig {
    pub days: i64,
    pub min_total: f64,
    pub min_peer_ratio: f64,
    pub min_own_ratio: f64,
    pub points: f64,
}

impl Default for CumulativeConfig {
    fn default() -> Self {
        CumulativeConfig {
            days: 30,
            min_total: 10.0,
            min_peer_ratio: 5.0,
            min_own_ratio: 1.5,
            points: 1.0,
        }
    }
}

/// Context multipliers (HR), multiplied together when several hold. A person is departing
/// (`departing`) from the notice date (without one: the termination date minus
/// `departing_period_days`) until `after_days` after the termination date, and in the
/// look-back (`lookback`) for the `lookback_days` before that: what a leaver did in the months
/// before giving notice is where theft of data usually starts, but weighs less.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextConfig {
    pub departing: f64,
    pub departing_period_days: i64,
    pub lookback: f64,
    pub lookback_days: i64,
    pub after_days: i64,
    pub priority: f64,
    pub contractor: f64,
    pub prior_incident: f64,
}

impl Default for ContextConfig {
    fn default() -> Self {
        ContextConfig {
            departing: 2.0,
            departing_period_days: 30,
            lookback: 1.3,
            lookback_days: 90,
            after_days: 30,
            priority: 1.5,
            contractor: 1.3,
            prior_incident: 1.5,
        }
    }
}

/// Smallest risk of each level.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LevelConfig {
    pub low: f64,
    pub medium: f64,
    pub high: f64,
    pub critical: f64,
}

impl Default for LevelConfig {
    fn default() -> Self {
        LevelConfig {
            low: 10.0,
            medium: 25.0,
            high: 50.0,
            critical: 100.0,
        }
    }
}

impl LevelConfig {
    pub fn level(&self, risk: f64) -> Level {
        if risk >= self.critical {
            Level::Critical
        } else if risk >= self.high {
            Level::High
        } else if risk >= self.medium {
            Level::Medium
        } else if risk >= self.low {
            Level::Low
        } else {
            Level::None
        }
    }
}

/// When alerts are raised: a person's level rising to `level` or above; a rule finding of
/// `rule_level` or above whose commonness and habit weights are both at least `rule_weight`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertConfig {
    pub level: Level,
    pub rule_level: Level,
    pub rule_weight: f64,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            level: Level::High,
            rule_level: Level::High,
            rule_weight: 0.5,
        }
    }
}

/// What HR says about a person on a day (all false/None without HR data).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonContext {
    pub notice_date: Option<Date>,
    pub termination_date: Option<Date>,
    /// HR priority flag (privileged, executive, under watch), or an executive.
    pub priority: bool,
    /// Contractor, agency or temporary staff.
    pub contractor: bool,
    /// A case about the person was closed as confirmed.
    pub prior_incident: bool,
}

/// One rule's findings of the person-day.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule_id: String,
    pub title: String,
    /// The rule's Japanese title, when it has one.
    pub title_ja: Option<String>,
    pub level: Level,
    pub count: u32,
    /// Time of the first finding (µs).
    pub first_us: i64,
    /// Ledger leaf indexes of the events behind the findings, ascending (at most
    /// [`MAX_FINDING_EVENTS`]).
    pub events: Vec<u64>,
}

/// Evidence leaves kept per finding and alert: enough to open a case on, bounded in memory.
pub const MAX_FINDING_EVENTS: usize = 1000;

/// Everything about one person-day.
pub struct DayInput<'a> {
    pub features: &'a DayFeatures,
    pub scored: &'a Scored,
    /// The isolation forest's score, once it is trained.
    pub forest: Option<&'a ForestScore>,
    /// The peer group (index into the day's groups) and its members' count.
    pub peer_group: usize,
    pub findings: &'a [Finding],
    pub context: &'a PersonContext,
}

/// Why a person-day has points.
#[derive(Debug, Clone, PartialEq)]
pub enum Indicator {
    /// A feature unusual for the person and/or the peers.
    Anomaly(Contribution),
    /// A combination of features rare in the organisation (isolation forest).
    Forest {
        score: f64,
        features: Vec<Feature>,
        points: f64,
    },
    /// A rule's findings and the points they gave.
    Rule {
        finding: Finding,
        points: f64,
        weight: f64,
    },
    /// Exfiltration over the last `days` days against the peers and the person's past.
    Cumulative {
        total: f64,
        peer_median: f64,
        previous: f64,
        days: i64,
        points: f64,
    },
}

/// A context multiplier in force on the day.
#[derive(Debug, Clone, PartialEq)]
pub enum Factor {
    Departing {
        notice: Option<Date>,
        termination: Date,
        factor: f64,
    },
    /// In the look-back before the departing window.
    BeforeDeparting {
        start: Date,
        termination: Date,
        factor: f64,
    },
    Priority {
        factor: f64,
    },
    Contractor {
        factor: f64,
    },
    PriorIncident {
        factor: f64,
    },
}

impl Factor {
    pub fn factor(&self) -> f64 {
        match *self {
            Factor::Departing { factor, .. }
            | Factor::BeforeDeparting { factor, .. }
            | Factor::Priority { factor }
            | Factor::Contractor { factor }
            | Factor::PriorIncident { factor } => factor,
        }
    }
}

/// Why an alert is raised.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertReason {
    /// The level rose to this one (from the previous active day's, after decay).
    LevelRose { from: Level, to: Level },
    /// A rule finding of high severity that is neither common nor habitual.
    Rule(Finding),
}

/// The risk of one person-day.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskDay {
    pub person: String,
    pub day: Date,
    /// Accumulated, decayed risk.
    pub risk: f64,
    pub level: Level,
    /// The day's own points (after the multiplier).
    pub points: f64,
    pub multiplier: f64,
    pub indicators: Vec<Indicator>,
    pub factors: Vec<Factor>,
    pub alerts: Vec<AlertReason>,
}

#[derive(Default)]
struct PersonState {
    risk: f64,
    last_day: Option<Date>,
    /// Rule ids found on each of the last active days (for the habit weight).
    rule_days: VecDeque<Vec<String>>,
    /// Exfiltration count of each recent active day.
    exfil: VecDeque<(Date, f64)>,
    first_day: Option<Date>,
}

/// Streaming risk over days; give it every person-day of a day at once, days in order.
pub struct RiskEngine {
    config: RiskConfig,
    persons: HashMap<String, PersonState>,
    /// Person-days on which each rule fired, and all person-days seen.
    rule_person_days: HashMap<String, u64>,
    person_days: u64,
}

impl RiskEngine {
    pub fn new(config: RiskConfig) -> RiskEngine {
        RiskEngine {
            config,
            persons: HashMap::new(),
            rule_person_days: HashMap::new(),
            person_days: 0,
        }
    }

    pub fn config(&self) -> &RiskConfig {
        &self.config
    }

    /// The risk of every person-day of one day. `inputs` are that day's person-days; their
    /// `peer_group` indexes group the cumulative comparison.
    pub fn day(&mut self, inputs: &[DayInput]) -> Vec<RiskDay> {
        let cumulative = self.cumulative_totals(inputs);
        let peer_medians = group_medians(inputs, &cumulative);
        let mut out = Vec::with_capacity(inputs.len());
        for (input, &(total, previous)) in inputs.iter().zip(&cumulative) {
            let peer_median = peer_medians.get(&input.peer_group).copied().unwrap_or(0.0);
            out.push(self.person_day(input, total, previous, peer_median));
        }
        self.person_days += inputs.len() as u64;
        for input in inputs {
            for finding in input.findings {
                *self
                    .rule_person_days
                    .entry(finding.rule_id.clone())
                    .or_insert(0) += 1;
            }
        }
        out
    }

    /// Each input's exfiltration total over the window ending today and over the window
    /// before; records today's count.
    fn cumulative_totals(&mut self, inputs: &[DayInput]) -> Vec<(f64, f64)> {
        let days = self.config.cumulative.days.max(1);
        inputs
            .iter()
            .map(|input| {
                let today = input.features.day;
                let state = self
                    .persons
                    .entry(input.features.person.clone())
                    .or_default();
                let first = *state.first_day.get_or_insert(today);
                state.exfil.push_back((today, exfiltration(input.features)));
                let horizon = shift(today, -2 * days);
                while state.exfil.front().is_some_and(|(d, _)| *d <= horizon) {
                    state.exfil.pop_front();
                }
                let split = shift(today, -days);
                let (mut total, mut previous) = (0.0, 0.0);
                for &(d, n) in &state.exfil {
                    if d > split {
                        total += n;
                    } else {
                        previous += n;
                    }
                }
                // Without a full previous window the own comparison is meaningless.
                if i64::from((today - first).get_days()) < 2 * days {
                    previous = f64::INFINITY;
                }
                (total, previous)
            })
            .collect()
    }

    fn person_day(
        &mut self,
        input: &DayInput,
        total: f64,
        previous: f64,
        peer_median: f64,
    ) -> RiskDay {
        let config = &self.config;
        let mut indicators = Vec::new();
        let mut points = 0.0;

        let anomaly =
            (input.scored.score - config.anomaly.min_score).max(0.0) * config.anomaly.weight;
        if anomaly > 0.0 {
            points += anomaly;
            indicators.extend(input.scored.top.iter().cloned().map(Indicator::Anomaly));
        }
        if let Some(forest) = input.forest {
            let forest_points =
                (forest.score - config.forest.threshold).max(0.0) * config.forest.weight;
            if forest_points > 0.0 {
                points += forest_points;
                indicators.push(Indicator::Forest {
                    score: forest.score,
                    features: forest.features.clone(),
                    points: forest_points,
                });
            }
        }

        let state = self
            .persons
            .entry(input.features.person.clone())
            .or_default();
        let mut alerts = Vec::new();
        for finding in input.findings {
            let base = config.rules.points(finding.level);
            if base <= 0.0 {
                continue;
            }
            let share = match self.person_days {
                0 => 0.0,
                n => *self.rule_person_days.get(&finding.rule_id).unwrap_or(&0) as f64 / n as f64,
            };
            let common = if share > 0.0 {
                (config.rules.common_share / share).sqrt().min(1.0)
            } else {
                1.0
            };
            let habit_days = state
                .rule_days
                .iter()
                .filter(|rules| rules.contains(&finding.rule_id))
                .count() as f64;
            let habit = 1.0 / (1.0 + habit_days / config.rules.habit_days.max(f64::MIN_POSITIVE));
            let repeat = (1.0 + f64::from(finding.count.max(1)).ln()).min(2.0);
            let rule_points = base * common * habit * repeat;
            points += rule_points;
            if finding.level >= config.alerts.rule_level
                && common.min(habit) >= config.alerts.rule_weight
            {
                alerts.push(AlertReason::Rule(finding.clone()));
            }
            indicators.push(Indicator::Rule {
                finding: finding.clone(),
                points: rule_points,
                weight: common * habit,
            });
        }
        state
            .rule_days
            .push_back(input.findings.iter().map(|f| f.rule_id.clone()).collect());
        while state.rule_days.len() > config.rules.habit_window.max(1) {
            state.rule_days.pop_front();
        }

        let c = &config.cumulative;
        let peer_ratio = total / peer_median.max(1.0);
        if total >= c.min_total
            && peer_ratio >= c.min_peer_ratio
            && total >= c.min_own_ratio * previous.max(1.0)
        {
            let cumulative = c.points * (1.0 + (peer_ratio / c.min_peer_ratio).log2()).min(3.0);
            points += cumulative;
            indicators.push(Indicator::Cumulative {
                total,
                peer_median,
                previous,
                days: c.days,
                points: cumulative,
            });
        }

        let factors = if config.use_hr {
            factors(&config.context, input.context, input.features.day)
        } else {
            Vec::new()
        };
        let multiplier: f64 = factors.iter().map(Factor::factor).product();
        let points = points * multiplier;

        let day = input.features.day;
        let decayed = match state.last_day {
            Some(last) => {
                let gap = (day - last).get_days().max(0) as f64;
                state.risk * 0.5f64.powf(gap / config.half_life_days.max(f64::MIN_POSITIVE))
            }
            None => 0.0,
        };
        // The level the person would have today without today's points.
        let before = config.levels.level(decayed);
        let risk = decayed + points;
        let level = config.levels.level(risk);
        if level > before && level >= config.alerts.level {
            alerts.insert(
                0,
                AlertReason::LevelRose {
                    from: before,
                    to: level,
                },
            );
        }
        state.risk = risk;
        state.last_day = Some(day);
        RiskDay {
            person: input.features.person.clone(),
            day,
            risk,
            level,
            points,
            multiplier,
            indicators,
            factors,
            alerts,
        }
    }
}

/// The day's exfiltration count (see [`CumulativeConfig`]).
fn exfiltration(features: &DayFeatures) -> f64 {
    [
        Feature::RemovableCopies,
        Feature::CloudOrShareCopies,
        Feature::WebUploads,
        Feature::EmailPersonalRecipients,
    ]
    .iter()
    .map(|&f| features.get(f))
    .filter(|v| v.is_finite())
    .sum()
}

/// The median cumulative total of each peer group among the day's inputs.
fn group_medians(inputs: &[DayInput], totals: &[(f64, f64)]) -> HashMap<usize, f64> {
    let mut groups: HashMap<usize, Vec<f64>> = HashMap::new();
    for (input, &(total, _)) in inputs.iter().zip(totals) {
        groups.entry(input.peer_group).or_default().push(total);
    }
    groups
        .into_iter()
        .map(|(group, mut totals)| (group, crate::anomaly::median(&mut totals)))
        .collect()
}

/// `day` moved by `days`, stopping at the ends of the calendar: the periods come from a
/// configuration file and the days from event data, so neither may overflow.
fn shift(day: Date, days: i64) -> Date {
    match jiff::Span::new().try_days(days) {
        Ok(span) => day.saturating_add(span),
        Err(_) if days < 0 => Date::MIN,
        Err(_) => Date::MAX,
    }
}

/// The context multipliers in force for `person` on `day`.
fn factors(config: &ContextConfig, person: &PersonContext, day: Date) -> Vec<Factor> {
    let mut out = Vec::new();
    if let Some(termination) = person.termination_date {
        let start = person
            .notice_date
            .unwrap_or_else(|| shift(termination, -config.departing_period_days));
        if (start..=shift(termination, config.after_days)).contains(&day) {
            out.push(Factor::Departing {
                notice: person.notice_date,
                termination,
                factor: config.departing,
            });
        } else if (shift(start, -config.lookback_days)..start).contains(&day) {
            out.push(Factor::BeforeDeparting {
                start,
                termination,
                factor: config.lookback,
            });
        }
    }
    if person.priority {
        out.push(Factor::Priority {
            factor: config.priority,
        });
    }
    if person.contractor {
        out.push(Factor::Contractor {
            factor: config.contractor,
        });
    }
    if person.prior_incident {
        out.push(Factor::PriorIncident {
            factor: config.prior_incident,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::features::FEATURES;

    fn date(n: i64) -> Date {
        jiff::civil::date(2024, 3, 1) + jiff::Span::new().days(n)
    }

    fn features(person: &str, day: i64, copies: f64) -> DayFeatures {
        let mut values = vec![0.0; FEATURES.len()];
        values[Feature::RemovableCopies.index()] = copies;
        DayFeatures {
            person: person.into(),
            day: date(day),
            values,
        }
    }

    fn scored(person: &str, day: i64, score: f64) -> Scored {
        Scored {
            person: person.into(),
            day: date(day),
            score,
            top: Vec::new(),
        }
    }

    fn finding(rule: &str, level: Level) -> Finding {
        Finding {
            rule_id: rule.into(),
            title: rule.into(),
            title_ja: None,
            level,
            count: 1,
            first_us: 0,
            events: vec![7],
        }
    }

    /// One person's day through the engine (alone that day).
    fn one(
        engine: &mut RiskEngine,
        day: i64,
        score: f64,
        findings: &[Finding],
        context: &PersonContext,
    ) -> RiskDay {
        let f = features("p", day, 0.0);
        let s = scored("p", day, score);
        let input = DayInput {
            features: &f,
            scored: &s,
            forest: None,
            peer_group: 0,
            findings,
            context,
        };
        engine.day(&[input]).remove(0)
    }

    #[test]
    fn risk_decays_by_half_per_half_life_and_levels_follow() {
        let mut engine = RiskEngine::new(RiskConfig {
            half_life_days: 7.0,
            ..RiskConfig::default()
        });
        let none = PersonContext::default();
        // Anomaly score 66 → 60 points (min_score 6): high.
        let first = one(&mut engine, 0, 66.0, &[], &none);
        assert_eq!((first.points, first.level), (60.0, Level::High));
        assert_eq!(
            first.alerts,
            [AlertReason::LevelRose {
                from: Level::None,
                to: Level::High
            }]
        );
        // Seven days later (one half-life), nothing new: 30, medium, no alert.
        let later = one(&mut engine, 7, 0.0, &[], &none);
        assert!((later.risk - 30.0).abs() < 1e-9, "{}", later.risk);
        assert_eq!((later.level, later.alerts.len()), (Level::Medium, 0));
        // Back up to high: the level rose again, so another alert.
        let again = one(&mut engine, 8, 36.0, &[], &none);
        assert_eq!(again.level, Level::High);
        assert_eq!(again.alerts.len(), 1);
    }

    #[test]
    fn forest_points_count_above_the_threshold_with_their_weight() {
        let config = RiskConfig {
            forest: ForestConfig {
                threshold: 0.6,
                weight: 50.0,
            },
            ..RiskConfig::default()
        };
        let mut engine = RiskEngine::new(config);
        let f = features("p", 0, 0.0);
        let s = scored("p", 0, 0.0);
        let forest = ForestScore {
            score: 0.7,
            features: vec![Feature::RemovableCopies],
        };
        let none = PersonContext::default();
        let input = DayInput {
            features: &f,
            scored: &s,
            forest: Some(&forest),
            peer_group: 0,
            findings: &[],
            context: &none,
        };
        let day = engine.day(&[input]).remove(0);
        assert!((day.points - 5.0).abs() < 1e-9, "{}", day.points);
        assert!(matches!(day.indicators[0], Indicator::Forest { .. }));
    }

    #[test]
    fn nonsense_configurations_are_refused_by_field() {
        assert_eq!(RiskConfig::default().validate(), Ok(()));
        let mut c = RiskConfig::default();
        c.cumulative.days = 1_000_000;
        assert!(c.validate().unwrap_err().contains("cumulative.days"));
        let mut c = RiskConfig::default();
        c.levels.high = 5.0;
        assert!(c.validate().unwrap_err().contains("levels"));
        let mut c = RiskConfig::default();
        c.context.departing = f64::NAN;
        assert!(c.validate().unwrap_err().contains("context.departing"));
        // Dates at the ends of the calendar do not overflow.
        assert_eq!(shift(Date::MIN, -90), Date::MIN);
        assert_eq!(shift(Date::MAX, 30), Date::MAX);
        assert_eq!(shift(date(0), i64::MAX), Date::MAX);
    }

    #[test]
    fn common_and_habitual_rules_weigh_less() {
        let mut engine = RiskEngine::new(RiskConfig::default());
        let none = PersonContext::default();
        let high = finding("r1", Level::High);
        let fresh = one(&mut engine, 0, 0.0, std::slice::from_ref(&high), &none);
        assert_eq!(fresh.points, 15.0);
        assert!(matches!(fresh.alerts.last(), Some(AlertReason::Rule(_))));
        // The second day: the rule fired on every person-day so far (share 1 → weight 0.1)
        // and on the person's one earlier day (habit 1 / (1 + 1/2)).
        let second = one(&mut engine, 1, 0.0, std::slice::from_ref(&high), &none);
        let expected = 15.0 * (0.01f64).sqrt() * (1.0 / 1.5);
        assert!((second.points - expected).abs() < 1e-9, "{}", second.points);
        assert!(
            !second
                .alerts
                .iter()
                .any(|a| matches!(a, AlertReason::Rule(_)))
        );
    }

    #[test]
    fn departing_window_look_back_and_other_factors_multiply() {
        let config = RiskConfig::default();
        let leaver = PersonContext {
            notice_date: Some(date(100)),
            termination_date: Some(date(130)),
            contractor: true,
            ..PersonContext::default()
        };
        let factors_on = |day: i64| -> Vec<f64> {
            factors(&config.context, &leaver, date(day))
                .iter()
                .map(Factor::factor)
                .collect()
        };
        assert_eq!(factors_on(9), [1.3], "outside everything but contractor");
        assert_eq!(
            factors_on(10),
            [1.3, 1.3],
            "first day of the 90-day look-back"
        );
        assert_eq!(factors_on(100), [2.0, 1.3], "notice given");
        assert_eq!(factors_on(160), [2.0, 1.3], "30 days after the last day");
        assert_eq!(factors_on(161), [1.3]);
        // Without a notice date: the termination date minus 30 days.
        let no_notice = PersonContext {
            notice_date: None,
            ..leaver
        };
        let f = factors(&config.context, &no_notice, date(100));
        assert!(matches!(f[0], Factor::Departing { factor, .. } if factor == 2.0));
        // Without HR, nothing weighs.
        let mut engine = RiskEngine::new(RiskConfig {
            use_hr: false,
            ..RiskConfig::default()
        });
        let day = one(&mut engine, 100, 16.0, &[], &leaver);
        assert_eq!(
            (day.points, day.multiplier, day.factors.len()),
            (10.0, 1.0, 0)
        );
    }

    #[test]
    fn cumulative_exfiltration_needs_history_peers_and_growth() {
        let mut engine = RiskEngine::new(RiskConfig::default());
        let none = PersonContext::default();
        let run = |engine: &mut RiskEngine, day: i64, copies: f64| {
            let rows = [
                features("p", day, copies),
                features("q", day, 1.0),
                features("r", day, 1.0),
            ];
            let scores: Vec<Scored> = rows.iter().map(|r| scored(&r.person, day, 0.0)).collect();
            let inputs: Vec<DayInput> = rows
                .iter()
                .zip(&scores)
                .map(|(f, s)| DayInput {
                    features: f,
                    scored: s,
                    forest: None,
                    peer_group: 0,
                    findings: &[],
                    context: &none,
                })
                .collect();
            engine.day(&inputs).remove(0)
        };
        // The first 30 days: five times the peers, but no past to compare with.
        for day in 0..30 {
            assert_eq!(run(&mut engine, day, 5.0).points, 0.0, "day {day}");
        }
        // Days 30–59 the same: no growth over the own past.
        for day in 30..60 {
            assert_eq!(run(&mut engine, day, 5.0).points, 0.0, "day {day}");
        }
        // Then 20 a day: far above the peers (30 each) and the own past.
        let mut scored_day = None;
        for day in 60..70 {
            let d = run(&mut engine, day, 20.0);
            if d.points > 0.0 {
                scored_day = Some(d);
                break;
            }
        }
        let d = scored_day.unwrap();
        assert!(
            matches!(d.indicators[0], Indicator::Cumulative { .. }),
            "{:?}",
            d.indicators
        );
    }
}
