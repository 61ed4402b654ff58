//! Anomaly scores of person-days against the person's own history: a robust, explainable
//! baseline (see `docs/analytics.md`, "First model: robust per-person baseline").
//!
//! For each person the [`Scorer`] keeps the feature vectors of the last
//! [`ScorerOptions::window`] **active** days (days with a [`DayFeatures`] row; a day off adds
//! nothing, so a holiday does not drag the baseline to zero). A new row is compared with that
//! history, feature by feature:
//!
//! - **usual** = median of the feature over the window, **spread** = `1.4826 × MAD` (the
//!   median absolute deviation, scaled to estimate a standard deviation under normality), but
//!   at least the feature's floor ([`floor`]): a person who never copied to USB has MAD 0, and
//!   without a floor their first copy would be infinitely unusual.
//! - **z** = `(value − usual) / spread` in the feature's suspicious direction ([`direction`]:
//!   more, except an *earlier* first logon), only positive deviations count, clipped at
//!   [`ScorerOptions::clip`] so one huge count cannot outweigh everything else.
//! - NaN values (the logon minutes on a day without logon) are skipped, as are features with
//!   fewer than [`ScorerOptions::warmup`] finite values in the window.
//! - **score** = the sum of the [`ScorerOptions::top`] largest z's. One z alone is weak
//!   evidence: with ~40 features, some feature of an ordinary day is a few spreads off by
//!   chance. Summing all of them lets the small noise of every feature drown a focused
//!   deviation. The sum of the top three rewards a few coordinated deviations (after-hours
//!   logon, device connect, USB copies), and stays explainable: exactly the listed
//!   contributions make the score.
//! - **warm-up**: with fewer than `warmup` days of history the score is 0 and nothing is
//!   listed, but the day is still added to the history.
//!
//! The day is scored before it joins the history (it is not part of its own baseline). An
//! insider's unusual days do join it afterwards; the median tolerates that until they fill
//! half the window. Memory per person is bounded: `window × FEATURES.len()` numbers.

use std::collections::{HashMap, VecDeque};

use jiff::civil::Date;

use crate::features::{DayFeatures, FEATURES, Feature};
use crate::peers::PeerStats;

/// Scales the MAD to estimate the standard deviation of normally distributed values.
pub(crate) const MAD_TO_SIGMA: f64 = 1.4826;

/// How the baseline is kept and the score made.
#[derive(Debug, Clone)]
pub struct ScorerOptions {
    /// Active days of history kept per person (default 30).
    pub window: usize,
    /// Days of history needed before a day is scored (default 7); also the finite values a
    /// feature needs in the window to count.
    pub warmup: usize,
    /// How many of the largest z's are summed (default 3).
    pub top: usize,
    /// Largest z of one feature (default 10).
    pub clip: f64,
    /// How a feature's deviation from the person's own baseline and from the peers of the day
    /// combine (default [`PeerMode::Min`]).
    pub peers: PeerMode,
}

/// How the own and the peer z of a feature make its z. Where only one of them exists (no
/// history yet, no peers given, or no finite peer value) that one is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerMode {
    /// Only the own baseline (the first model).
    Off,
    /// The mean of the two: unusual for the person *and* for the peers counts fully, unusual
    /// for only one of them half.
    Mean,
    /// The smaller: only what is unusual for both counts.
    Min,
    /// The larger: unusual for either counts.
    Max,
}

impl Default for ScorerOptions {
    fn default() -> Self {
        ScorerOptions {
            window: 30,
            warmup: 7,
            top: 3,
            clip: 10.0,
            peers: PeerMode::Min,
        }
    }
}

/// Which way a feature is suspicious.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// More than usual.
    Higher,
    /// Less than usual (an earlier first logon).
    Lower,
}

/// The suspicious direction of `feature`: an unusually *early* first logon and an unusually
/// *late* last logon, more of everything else.
pub fn direction(feature: Feature) -> Direction {
    match feature {
        Feature::LogonFirstMinute => Direction::Lower,
        _ => Direction::Higher,
    }
}

/// The smallest spread of `feature`, in its unit: one for counts, an hour for logon minutes
/// (a quarter hour's drift is not news), a megabyte for attachment bytes (one small file is
/// not news).
pub fn floor(feature: Feature) -> f64 {
    match feature {
        Feature::LogonFirstMinute | Feature::LogonLastMinute => 60.0,
        Feature::EmailAttachmentBytes => 1_000_000.0,
        _ => 1.0,
    }
}

/// Whether a feature counts in the score. Totals that only repeat other features (`events`
/// rises with every kind, `distinct_files` with every copy) would let one behaviour count
/// twice in the top three, and rule findings are scored by the risk engine on their own.
pub fn scored(feature: Feature) -> bool {
    !matches!(
        feature,
        Feature::Events | Feature::DistinctFiles | Feature::RuleFindings
    )
}

/// One feature's part of a score.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    pub feature: Feature,
    /// The day's value.
    pub value: f64,
    /// The median of the person's window; NaN during warm-up.
    pub usual: f64,
    /// The median of the peers that day; NaN without peers.
    pub peer: f64,
    /// Own spreads beyond usual in the suspicious direction, clipped (NaN: no baseline).
    pub own_z: f64,
    /// Peer spreads beyond the peer median, clipped (NaN: no peers).
    pub peer_z: f64,
    /// The combination ([`PeerMode`]) that counts in the score.
    pub z: f64,
}

/// The score of one person-day.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub person: String,
    pub day: Date,
    /// Sum of the `top` z's; 0 during warm-up.
    pub score: f64,
    /// The contributions summed, largest first (ties by feature order).
    pub top: Vec<Contribution>,
}

/// Streaming per-person baselines. Give each person's rows in day order.
pub struct Scorer {
    options: ScorerOptions,
    history: HashMap<String, VecDeque<Vec<f64>>>,
}

impl Scorer {
    pub fn new(options: ScorerOptions) -> Scorer {
        Scorer {
            options,
            history: HashMap::new(),
        }
    }

    /// Scores `row` against the person's history and, when given, the peers of the day
    /// ([`crate::peers::day_peers`]), then adds it to the history. During warm-up the own
    /// baseline is missing: only the peers count (without peers the score is 0).
    pub fn score(&mut self, row: &DayFeatures, peers: Option<&PeerStats>) -> Scored {
        let window = self.options.window.max(1);
        let history = self.history.entry(row.person.clone()).or_default();
        let own = (history.len() >= self.options.warmup).then_some(&*history);
        let peers = peers.filter(|_| self.options.peers != PeerMode::Off);
        let top = contributions(&self.options, own, peers, &row.values);
        history.push_back(row.values.clone());
        while history.len() > window {
            history.pop_front();
        }
        Scored {
            person: row.person.clone(),
            day: row.day,
            score: top.iter().map(|c| c.z).sum(),
            top,
        }
    }

    /// Days of history held for `person`.
    pub fn history_len(&self, person: &str) -> usize {
        self.history.get(person).map_or(0, VecDeque::len)
    }

    /// Persons with a history.
    pub fn persons(&self) -> usize {
        self.history.len()
    }
}

/// The `top` largest positive z's of `values` against the own `history` and the `peers`.
fn contributions(
    options: &ScorerOptions,
    history: Option<&VecDeque<Vec<f64>>>,
    peers: Option<&PeerStats>,
    values: &[f64],
) -> Vec<Contribution> {
    let mut out = Vec::new();
    let mut column = Vec::new();
    for (index, &feature) in FEATURES.iter().enumerate() {
        if !scored(feature) {
            continue;
        }
        let Some(&value) = values.get(index).filter(|v| v.is_finite()) else {
            continue;
        };
        let (usual, own_z) = match history {
            Some(history) => own_deviation(options, history, index, value, &mut column),
            None => (f64::NAN, f64::NAN),
        };
        let (peer, peer_z) = match peers {
            Some(stats) => {
                let peer = stats.median.get(index).copied().unwrap_or(f64::NAN);
                let spread = stats.spread.get(index).copied().unwrap_or(f64::NAN);
                (peer, deviation(options, feature, value, peer, spread))
            }
            None => (f64::NAN, f64::NAN),
        };
        let z = match (own_z.is_nan(), peer_z.is_nan()) {
            (true, true) => continue,
            (false, true) => own_z,
            (true, false) => peer_z,
            (false, false) => match options.peers {
                PeerMode::Off => own_z,
                PeerMode::Mean => (own_z + peer_z) / 2.0,
                PeerMode::Min => own_z.min(peer_z),
                PeerMode::Max => own_z.max(peer_z),
            },
        };
        if z > 0.0 {
            out.push(Contribution {
                feature,
                value,
                usual,
                peer,
                own_z,
                peer_z,
                z,
            });
        }
    }
    // Largest first; equal z's in feature order, so the explanation is deterministic.
    out.sort_by(|a, b| b.z.total_cmp(&a.z).then(a.feature.cmp(&b.feature)));
    out.truncate(options.top);
    out
}

/// The usual value (median of the window) and the own z of feature `index`; NaNs when the
/// window holds fewer than `warmup` finite values of it.
fn own_deviation(
    options: &ScorerOptions,
    history: &VecDeque<Vec<f64>>,
    index: usize,
    value: f64,
    column: &mut Vec<f64>,
) -> (f64, f64) {
    column.clear();
    column.extend(
        history
            .iter()
            .filter_map(|day| day.get(index).copied())
            .filter(|v| v.is_finite()),
    );
    if column.is_empty() || column.len() < options.warmup {
        return (f64::NAN, f64::NAN);
    }
    let usual = median(column);
    for v in column.iter_mut() {
        *v = (*v - usual).abs();
    }
    let spread = MAD_TO_SIGMA * median(column);
    (
        usual,
        deviation(options, FEATURES[index], value, usual, spread),
    )
}

/// Spreads (at least the feature's floor) from `usual` to `value` in the suspicious
/// direction, clipped; NaN when `usual` is.
fn deviation(
    options: &ScorerOptions,
    feature: Feature,
    value: f64,
    usual: f64,
    spread: f64,
) -> f64 {
    if !usual.is_finite() {
        return f64::NAN;
    }
    let spread = if spread.is_finite() { spread } else { 0.0 }.max(floor(feature));
    let deviation = match direction(feature) {
        Direction::Higher => value - usual,
        Direction::Lower => usual - value,
    };
    (deviation / spread).min(options.clip)
}

/// The median of finite, non-empty `values` (the mean of the middle two for an even count);
/// reorders them.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn day(n: i8) -> Date {
        jiff::civil::date(2024, 3, 1) + jiff::Span::new().days(i64::from(n))
    }

    /// A row with every feature 0 (logon minutes NaN) but those given.
    fn row(person: &str, n: i8, set: &[(Feature, f64)]) -> DayFeatures {
        let mut values = vec![0.0; FEATURES.len()];
        values[Feature::LogonFirstMinute.index()] = f64::NAN;
        values[Feature::LogonLastMinute.index()] = f64::NAN;
        for &(feature, value) in set {
            values[feature.index()] = value;
        }
        DayFeatures {
            person: person.into(),
            day: day(n),
            values,
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn usual_is_the_median_and_spread_the_scaled_mad() {
        let mut scorer = Scorer::new(ScorerOptions::default());
        // Events 10, 12, 14, 16, 18, 20, 22: median 16, deviations 6,4,2,0,2,4,6 → MAD 4.
        for (n, events) in [10.0, 12.0, 14.0, 16.0, 18.0, 20.0, 22.0]
            .iter()
            .enumerate()
        {
            let scored = scorer.score(&row("p", n as i8, &[(Feature::EmailsSent, *events)]), None);
            assert_eq!(scored.score, 0.0, "warm-up");
        }
        let scored = scorer.score(&row("p", 7, &[(Feature::EmailsSent, 40.0)]), None);
        let z = (40.0 - 16.0) / (1.4826 * 4.0);
        assert_eq!(scored.top.len(), 1);
        let c = &scored.top[0];
        assert_eq!(
            (c.feature, c.value, c.usual),
            (Feature::EmailsSent, 40.0, 16.0)
        );
        assert!((c.z - z).abs() < 1e-12, "{} vs {z}", c.z);
        assert!((scored.score - z).abs() < 1e-12);
    }

    #[test]
    fn a_constant_history_uses_the_floor() {
        let mut scorer = Scorer::new(ScorerOptions::default());
        for n in 0..7 {
            scorer.score(&row("p", n, &[(Feature::EmailsSent, 5.0)]), None);
        }
        // MAD 0 → spread 1 (the count floor): 3 more events are z = 3.
        let scored = scorer.score(
            &row(
                "p",
                7,
                &[(Feature::EmailsSent, 8.0), (Feature::RemovableCopies, 2.0)],
            ),
            None,
        );
        let got: Vec<_> = scored.top.iter().map(|c| (c.feature, c.z)).collect();
        assert_eq!(
            got,
            [(Feature::EmailsSent, 3.0), (Feature::RemovableCopies, 2.0)]
        );
        assert_eq!(scored.score, 5.0);
        // Fewer events than usual is not suspicious.
        assert!(
            scorer
                .score(&row("p", 8, &[(Feature::EmailsSent, 1.0)]), None)
                .top
                .is_empty()
        );
    }

    #[test]
    fn warm_up_scores_zero_but_builds_the_history() {
        let mut scorer = Scorer::new(ScorerOptions::default());
        for n in 0..7 {
            let scored = scorer.score(&row("p", n, &[(Feature::RemovableCopies, 500.0)]), None);
            assert_eq!((scored.score, scored.top.len()), (0.0, 0));
            assert_eq!(scorer.history_len("p"), n as usize + 1);
        }
        // The seventh day of history is there: the eighth day is scored.
        let scored = scorer.score(&row("p", 7, &[(Feature::EmailsSent, 2.0)]), None);
        assert_eq!(scored.score, 2.0);
        // Another person starts their own warm-up.
        let other = scorer.score(&row("q", 7, &[(Feature::RemovableCopies, 500.0)]), None);
        assert_eq!(other.score, 0.0);
        assert_eq!(scorer.persons(), 2);
    }

    #[test]
    fn peers_score_the_warm_up_and_combine_with_the_own_baseline() {
        let peers = |copies: f64, spread: f64| {
            let mut median = vec![0.0; FEATURES.len()];
            median[Feature::RemovableCopies.index()] = copies;
            let mut spreads = vec![0.0; FEATURES.len()];
            spreads[Feature::RemovableCopies.index()] = spread;
            PeerStats {
                group: "sales".into(),
                members: 9,
                median,
                spread: spreads,
            }
        };
        let mut scorer = Scorer::new(ScorerOptions {
            peers: PeerMode::Mean,
            ..ScorerOptions::default()
        });
        // A new person: no own baseline, the peers alone (copy 12 where peers copy 2 ± 2).
        let first = scorer.score(
            &row("p", 0, &[(Feature::RemovableCopies, 12.0)]),
            Some(&peers(2.0, 2.0)),
        );
        let c = &first.top[0];
        assert_eq!(
            (c.feature, c.peer, c.peer_z, c.z),
            (Feature::RemovableCopies, 2.0, 5.0, 5.0)
        );
        assert!(c.usual.is_nan() && c.own_z.is_nan());
        for n in 1..8 {
            scorer.score(&row("p", n, &[]), None);
        }
        // Own z 10 (clipped from 12), peer z 5: the mean counts.
        let later = scorer.score(
            &row("p", 8, &[(Feature::RemovableCopies, 12.0)]),
            Some(&peers(2.0, 2.0)),
        );
        assert_eq!((later.top[0].own_z, later.top[0].z), (10.0, 7.5));
        // Unusual for the person, usual for the peers today: half of it.
        let busy = scorer.score(
            &row("p", 9, &[(Feature::RemovableCopies, 12.0)]),
            Some(&peers(12.0, 0.0)),
        );
        assert_eq!((busy.top[0].peer_z, busy.top[0].z), (0.0, 5.0));
        let mut off = Scorer::new(ScorerOptions {
            peers: PeerMode::Off,
            ..ScorerOptions::default()
        });
        assert!(
            off.score(
                &row("p", 0, &[(Feature::RemovableCopies, 12.0)]),
                Some(&peers(2.0, 2.0))
            )
            .top
            .is_empty()
        );
    }

    #[test]
    fn z_is_clipped() {
        let mut scorer = Scorer::new(ScorerOptions::default());
        for n in 0..7 {
            scorer.score(&row("p", n, &[]), None);
        }
        let scored = scorer.score(&row("p", 7, &[(Feature::RemovableCopies, 340.0)]), None);
        assert_eq!(scored.top[0].z, 10.0);
        assert_eq!(scored.top[0].value, 340.0);
        assert_eq!(scored.top[0].usual, 0.0);
        assert_eq!(scored.score, 10.0);
    }

    #[test]
    fn nan_values_are_skipped_and_an_earlier_first_logon_counts() {
        let mut scorer = Scorer::new(ScorerOptions::default());
        for n in 0..7 {
            scorer.score(
                &row(
                    "p",
                    n,
                    &[
                        (Feature::LogonFirstMinute, 540.0),
                        (Feature::LogonLastMinute, 1080.0),
                    ],
                ),
                None,
            );
        }
        // No logon today: the minutes are NaN and contribute nothing.
        assert!(scorer.score(&row("p", 7, &[]), None).top.is_empty());
        // Logon at 03:00 (minute 180), last at 23:00 (1380): 6 and 5 hours off, floor 60.
        let scored = scorer.score(
            &row(
                "p",
                8,
                &[
                    (Feature::LogonFirstMinute, 180.0),
                    (Feature::LogonLastMinute, 1380.0),
                ],
            ),
            None,
        );
        let got: Vec<_> = scored.top.iter().map(|c| (c.feature, c.z)).collect();
        assert_eq!(
            got,
            [
                (Feature::LogonFirstMinute, 6.0),
                (Feature::LogonLastMinute, 5.0)
            ]
        );
        // A first logon later than usual is not suspicious.
        let later = scorer.score(
            &row(
                "p",
                9,
                &[
                    (Feature::LogonFirstMinute, 900.0),
                    (Feature::LogonLastMinute, 1080.0),
                ],
            ),
            None,
        );
        assert!(later.top.is_empty());
    }

    #[test]
    fn a_feature_with_too_few_finite_values_is_skipped() {
        let mut scorer = Scorer::new(ScorerOptions::default());
        for n in 0..7 {
            // Logged on only twice in seven days: too few minutes for a baseline.
            let set = if n < 2 {
                vec![(Feature::LogonFirstMinute, 540.0)]
            } else {
                vec![]
            };
            scorer.score(&row("p", n, &set), None);
        }
        let scored = scorer.score(&row("p", 7, &[(Feature::LogonFirstMinute, 60.0)]), None);
        assert!(scored.top.is_empty());
    }

    #[test]
    fn the_score_is_the_sum_of_the_top_three_largest_first() {
        let mut scorer = Scorer::new(ScorerOptions::default());
        for n in 0..7 {
            scorer.score(&row("p", n, &[]), None);
        }
        let scored = scorer.score(
            &row(
                "p",
                7,
                &[
                    (Feature::Logons, 2.0),
                    (Feature::DeviceConnects, 4.0),
                    (Feature::RemovableCopies, 7.0),
                    (Feature::Prints, 4.0),
                    (Feature::WebVisits, 1.0),
                ],
            ),
            None,
        );
        let got: Vec<_> = scored.top.iter().map(|c| (c.feature, c.z)).collect();
        // DeviceConnects and Prints tie at 4: feature order decides.
        assert_eq!(
            got,
            [
                (Feature::RemovableCopies, 7.0),
                (Feature::DeviceConnects, 4.0),
                (Feature::Prints, 4.0)
            ]
        );
        assert_eq!(scored.score, 15.0);
    }

    #[test]
    fn the_history_is_bounded_by_the_window() {
        let options = ScorerOptions {
            window: 10,
            ..ScorerOptions::default()
        };
        let mut scorer = Scorer::new(options);
        for n in 0..20 {
            // Ten days of 100 events, then ten days of 0.
            let events = if n < 10 { 100.0 } else { 0.0 };
            scorer.score(&row("p", n, &[(Feature::EmailsSent, events)]), None);
            assert!(scorer.history_len("p") <= 10);
        }
        assert_eq!(scorer.history_len("p"), 10);
        // The 100s have left the window: the usual is 0 again.
        let scored = scorer.score(&row("p", 20, &[(Feature::EmailsSent, 3.0)]), None);
        assert_eq!((scored.top[0].usual, scored.score), (0.0, 3.0));
    }
}
