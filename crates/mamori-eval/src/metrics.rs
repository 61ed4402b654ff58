//! The figures: recall within a daily review budget, time to detection, person-day ROC AUC,
//! each for the stored scores and for a random ranking.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::answers::{AnswerKey, Incident};

/// Microseconds per day.
const DAY_US: i64 = 86_400_000_000;

/// What the store knows, by person (accounts already resolved to persons).
#[derive(Debug, Clone, Default)]
pub struct Observations {
    /// Days (UTC day numbers) on which each person had at least one event.
    pub active: HashMap<String, Vec<i64>>,
    /// Risk score of a person-day; a missing person-day scores 0.
    pub scores: HashMap<(String, i64), f64>,
    /// Alert times (µs) per person.
    pub alerts: HashMap<String, Vec<i64>>,
}

/// Evaluation settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Daily review budgets as fractions of the persons active that day.
    pub budgets: Vec<f64>,
    /// Random rankings averaged for the baseline.
    pub random_runs: u32,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            budgets: vec![0.005, 0.01],
            random_runs: 20,
            seed: 0x6d61_6d6f_7269,
        }
    }
}

/// Recall within one daily budget.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BudgetRecall {
    /// Fraction of the day's active persons reviewed (0.005 = top 0.5 %).
    pub budget: f64,
    /// Share of incidents whose person was in the day's top during the incident.
    pub recall: f64,
    pub detected: f64,
    /// Median days from the incident's first malicious event to the first day in the top.
    pub median_days_to_detection: Option<f64>,
}

/// The figures of one ranking over a set of incidents.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Figures {
    pub budgets: Vec<BudgetRecall>,
    /// Person-day ROC AUC (malicious person-days against all other active person-days).
    pub auc: Option<f64>,
    /// Incidents with an alert at or after their first malicious event.
    pub alerted: f64,
    /// Median days from the first malicious event to the first alert after it.
    pub median_days_to_first_alert: Option<f64>,
}

/// Figures of the stored scores and of the random baseline.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    pub incidents: usize,
    pub model: Figures,
    pub random: Figures,
}

/// The evaluation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    pub persons: usize,
    pub person_days: usize,
    /// Malicious person-days among the active ones.
    pub malicious_person_days: usize,
    /// Incidents whose person has no stored activity (not evaluable; counted as missed).
    pub incidents_without_activity: usize,
    /// No stored score is above 0: the analytics have not run, rankings are by chance.
    pub all_scores_zero: bool,
    pub overall: Comparison,
    pub scenarios: BTreeMap<String, Comparison>,
}

/// Evaluates `observations` against `key`; `person_of` maps an answer-key user (account) to
/// the person the observations are keyed by.
pub fn evaluate(
    key: &AnswerKey,
    person_of: &dyn Fn(&str) -> String,
    observations: &Observations,
    options: &Options,
) -> Report {
    let days = DayRanks::new(observations);
    let labelled: Vec<Labelled> = key
        .incidents
        .iter()
        .map(|incident| Labelled::new(incident, person_of, observations))
        .collect();
    let malicious: HashSet<(&str, i64)> = labelled
        .iter()
        .flat_map(|l| l.days.iter().map(|&d| (l.person.as_str(), d)))
        .collect();
    let all: Vec<&Labelled> = labelled.iter().collect();
    let compare = |incidents: &[&Labelled]| Comparison {
        incidents: incidents.len(),
        model: figures(
            incidents,
            &days,
            &Scoring::Stored(&observations.scores),
            observations,
            options,
        ),
        random: random_figures(incidents, &days, options),
    };
    let mut scenarios: BTreeMap<String, Vec<&Labelled>> = BTreeMap::new();
    for l in &labelled {
        scenarios
            .entry(l.incident.scenario.clone())
            .or_default()
            .push(l);
    }
    Report {
        persons: observations.active.len(),
        person_days: days.total,
        malicious_person_days: malicious.len(),
        incidents_without_activity: labelled.iter().filter(|l| !l.active).count(),
        all_scores_zero: observations.scores.values().all(|s| *s <= 0.0),
        overall: compare(&all),
        scenarios: scenarios
            .into_iter()
            .map(|(scenario, incidents)| (scenario, compare(&incidents)))
            .collect(),
    }
}

/// An incident with its person and its malicious days.
struct Labelled<'a> {
    incident: &'a Incident,
    person: String,
    /// Days with a malicious record (or, without records, the active days of the window).
    days: Vec<i64>,
    first_malicious_us: i64,
    window: (i64, i64),
    active: bool,
}

impl<'a> Labelled<'a> {
    fn new(
        incident: &'a Incident,
        person_of: &dyn Fn(&str) -> String,
        observations: &Observations,
    ) -> Self {
        let person = person_of(&incident.user);
        let window = (
            day(incident.start.as_microsecond()),
            day(incident.end.as_microsecond()),
        );
        let active_days = observations.active.get(&person);
        let mut days: Vec<i64> = if incident.records.is_empty() {
            active_days
                .into_iter()
                .flatten()
                .copied()
                .filter(|d| (window.0..=window.1).contains(d))
                .collect()
        } else {
            incident
                .records
                .iter()
                .map(|r| day(r.time.as_microsecond()))
                .collect()
        };
        days.sort_unstable();
        days.dedup();
        let first_malicious_us = incident
            .records
            .iter()
            .map(|r| r.time.as_microsecond())
            .min()
            .unwrap_or(incident.start.as_microsecond());
        Labelled {
            incident,
            active: active_days.is_some_and(|d| !d.is_empty()),
            person,
            days,
            first_malicious_us,
            window,
        }
    }
}

fn day(time_us: i64) -> i64 {
    time_us.div_euclid(DAY_US)
}

/// The persons active on each day.
struct DayRanks<'a> {
    by_day: BTreeMap<i64, Vec<&'a str>>,
    total: usize,
}

impl<'a> DayRanks<'a> {
    fn new(observations: &'a Observations) -> Self {
        let mut by_day: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
        let mut total = 0;
        for (person, days) in &observations.active {
            for &d in days {
                by_day.entry(d).or_default().push(person);
                total += 1;
            }
        }
        DayRanks { by_day, total }
    }
}

enum Scoring<'a> {
    Stored(&'a HashMap<(String, i64), f64>),
    Random { seed: u64 },
}

impl Scoring<'_> {
    fn score(&self, person: &str, day: i64) -> f64 {
        match self {
            Scoring::Stored(scores) => scores
                .get(&(person.to_owned(), day))
                .copied()
                .unwrap_or(0.0),
            Scoring::Random { seed } => unit(mix(*seed, person, day)),
        }
    }
}

/// Figures of one ranking. Ties are broken by a fixed pseudo-random order, so equal scores
/// (all zero before the analytics run) rank as a random ranking would.
fn figures(
    incidents: &[&Labelled],
    days: &DayRanks,
    scoring: &Scoring,
    observations: &Observations,
    options: &Options,
) -> Figures {
    let mut budgets = Vec::new();
    for &budget in &options.budgets {
        // Top persons of every day that some incident's window covers.
        let mut top: HashMap<i64, HashSet<&str>> = HashMap::new();
        for l in incidents {
            for (&d, persons) in days.by_day.range(l.window.0..=l.window.1) {
                top.entry(d).or_insert_with(|| {
                    let mut ranked: Vec<(f64, u64, &str)> = persons
                        .iter()
                        .map(|p| {
                            (
                                scoring.score(p, d),
                                mix(options.seed ^ 0x7469_6573, p, d),
                                *p,
                            )
                        })
                        .collect();
                    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                    let k = ((budget * ranked.len() as f64).ceil() as usize).max(1);
                    ranked.into_iter().take(k).map(|r| r.2).collect()
                });
            }
        }
        let mut delays = Vec::new();
        for l in incidents {
            let first_day = day(l.first_malicious_us);
            let found = (l.window.0..=l.window.1)
                .find(|d| top.get(d).is_some_and(|t| t.contains(l.person.as_str())));
            if let Some(d) = found {
                delays.push((d - first_day).max(0) as f64);
            }
        }
        budgets.push(BudgetRecall {
            budget,
            recall: ratio(delays.len(), incidents.len()),
            detected: delays.len() as f64,
            median_days_to_detection: median(&mut delays),
        });
    }
    let mut alert_delays: Vec<f64> = incidents
        .iter()
        .filter_map(|l| {
            let alerts = observations.alerts.get(&l.person)?;
            let first = alerts.iter().find(|&&t| t >= l.first_malicious_us)?;
            Some((first - l.first_malicious_us) as f64 / DAY_US as f64)
        })
        .collect();
    Figures {
        budgets,
        auc: auc(incidents, days, scoring),
        alerted: alert_delays.len() as f64,
        median_days_to_first_alert: median(&mut alert_delays),
    }
}

/// The random baseline: the mean of each figure over `options.random_runs` random rankings.
fn random_figures(incidents: &[&Labelled], days: &DayRanks, options: &Options) -> Figures {
    let none = Observations::default();
    let runs: Vec<Figures> = (0..options.random_runs.max(1))
        .map(|run| {
            let seed = options
                .seed
                .wrapping_add(u64::from(run).wrapping_mul(0x9e37_79b9));
            let options = Options {
                seed,
                ..options.clone()
            };
            // Random rankings raise no alerts.
            figures(incidents, days, &Scoring::Random { seed }, &none, &options)
        })
        .collect();
    let mean = |values: Vec<Option<f64>>| {
        let present: Vec<f64> = values.into_iter().flatten().collect();
        (!present.is_empty()).then(|| present.iter().sum::<f64>() / present.len() as f64)
    };
    let n = runs.len() as f64;
    Figures {
        budgets: (0..options.budgets.len())
            .map(|i| BudgetRecall {
                budget: options.budgets[i],
                recall: runs.iter().map(|r| r.budgets[i].recall).sum::<f64>() / n,
                detected: runs.iter().map(|r| r.budgets[i].detected).sum::<f64>() / n,
                median_days_to_detection: mean(
                    runs.iter()
                        .map(|r| r.budgets[i].median_days_to_detection)
                        .collect(),
                ),
            })
            .collect(),
        auc: mean(runs.iter().map(|r| r.auc).collect()),
        alerted: 0.0,
        median_days_to_first_alert: None,
    }
}

/// Person-day ROC AUC by the rank-sum (Mann–Whitney) formula, ties counted as half.
fn auc(incidents: &[&Labelled], days: &DayRanks, scoring: &Scoring) -> Option<f64> {
    let positive: HashSet<(&str, i64)> = incidents
        .iter()
        .flat_map(|l| l.days.iter().map(|&d| (l.person.as_str(), d)))
        .collect();
    let insiders: HashSet<&str> = incidents.iter().map(|l| l.person.as_str()).collect();
    let mut scored: Vec<(f64, bool)> = Vec::with_capacity(days.total);
    for (&d, persons) in &days.by_day {
        for p in persons {
            let is_positive = positive.contains(&(*p, d));
            // Other days of the evaluated insiders are neither: their label is unknown.
            if !is_positive && insiders.contains(p) {
                continue;
            }
            scored.push((scoring.score(p, d), is_positive));
        }
    }
    let positives = scored.iter().filter(|s| s.1).count();
    let negatives = scored.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < scored.len() {
        let mut j = i;
        while j < scored.len() && scored[j].0 == scored[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j share their mean.
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += mean_rank * scored[i..j].iter().filter(|s| s.1).count() as f64;
        i = j;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// A 64-bit hash of (seed, person, day): FNV-1a over the person, then SplitMix64 finishing.
fn mix(seed: u64, person: &str, day: i64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in person.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ (day as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform value in [0, 1) from 53 bits of `x`.
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::answers::AnswerRecord;
    use jiff::Timestamp;

    fn at(day: i64) -> Timestamp {
        Timestamp::from_second(day * 86_400 + 3600).unwrap()
    }

    /// 200 persons active on days 0..30; insider P7 malicious on days 10 and 12.
    fn world(score_insider: f64) -> (AnswerKey, Observations) {
        let mut observations = Observations::default();
        for p in 0..200 {
            observations
                .active
                .insert(format!("P{p}"), (0..30).collect());
        }
        for d in 0..30 {
            observations.scores.insert(
                ("P7".into(), d),
                if (10..=12).contains(&d) {
                    score_insider
                } else {
                    0.0
                },
            );
        }
        let key = AnswerKey {
            incidents: vec![Incident {
                dataset: "4.2".into(),
                scenario: "1".into(),
                user: "U7".into(),
                start: at(10),
                end: at(12),
                records: [10, 12]
                    .iter()
                    .map(|&d| AnswerRecord {
                        kind: "device".into(),
                        id: format!("{{ID-{d}}}"),
                        time: at(d),
                        user: "U7".into(),
                    })
                    .collect(),
            }],
            missing_files: Vec::new(),
        };
        (key, observations)
    }

    fn person_of(user: &str) -> String {
        user.replace('U', "P")
    }

    #[test]
    fn a_perfect_score_is_found_on_the_first_day_with_auc_1() {
        let (key, observations) = world(5.0);
        let report = evaluate(&key, &person_of, &observations, &Options::default());
        assert!(!report.all_scores_zero);
        assert_eq!(report.persons, 200);
        assert_eq!(report.person_days, 6000);
        assert_eq!(report.malicious_person_days, 2);
        let model = &report.overall.model;
        assert_eq!(model.budgets[0].recall, 1.0);
        assert_eq!(model.budgets[0].median_days_to_detection, Some(0.0));
        assert_eq!(model.auc, Some(1.0));
        assert_eq!(report.scenarios["1"].incidents, 1);
    }

    #[test]
    fn zero_scores_rank_by_chance_and_say_so() {
        let (key, observations) = world(0.0);
        let report = evaluate(&key, &person_of, &observations, &Options::default());
        assert!(report.all_scores_zero);
        // All ties: AUC exactly one half.
        assert_eq!(report.overall.model.auc, Some(0.5));
        // Random AUC averages near one half; recall at 1 % of 200 (2 a day) over 3 days is
        // about 3 %, far from certain.
        let random = &report.overall.random;
        assert!((random.auc.unwrap() - 0.5).abs() < 0.25, "{random:?}");
        assert!(random.budgets[1].recall < 0.5, "{random:?}");
    }

    #[test]
    fn alerts_give_time_to_first_alert() {
        let (key, mut observations) = world(0.0);
        observations.alerts.insert(
            "P7".into(),
            vec![at(5).as_microsecond(), at(13).as_microsecond() + DAY_US / 2],
        );
        let report = evaluate(&key, &person_of, &observations, &Options::default());
        // First malicious event at day 10 01:00; the alert before it does not count.
        assert_eq!(report.overall.model.alerted, 1.0);
        assert_eq!(report.overall.model.median_days_to_first_alert, Some(3.5));
    }

    #[test]
    fn auc_counts_ties_as_half() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
