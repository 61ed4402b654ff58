//! Peer groups: a person-day next to the same day of the person's peers (see
//! `docs/analytics.md`, "Peers").
//!
//! A person's own baseline cannot tell "unusual for them" from "unusual for everyone today"
//! (a release day, a quarter close), and has nothing to say about a person without history.
//! Peers can: the persons of the same group active on the same day. The group is the HR
//! department (the caller's choice of key); persons without one, and groups with fewer than
//! [`MIN_MEMBERS`] persons active that day, are compared with the whole organisation of that
//! day. Statistics are robust (median and scaled MAD), as for the own baseline.

use std::collections::HashMap;

use crate::anomaly::median;
use crate::features::{DayFeatures, FEATURES};

/// Fewest persons active on a day for a group to be its own reference.
pub const MIN_MEMBERS: usize = 5;

/// The organisation-wide group: everyone active that day.
pub const ORGANISATION: &str = "*";

/// Robust statistics of one peer group on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerStats {
    /// The group key ([`ORGANISATION`] for the whole organisation).
    pub group: String,
    /// Persons active that day in the group.
    pub members: usize,
    /// Per feature (indexed like [`FEATURES`]): the median of the finite values, NaN if none.
    pub median: Vec<f64>,
    /// Per feature: `1.4826 × MAD` of the finite values (0 when all agree), NaN if none.
    pub spread: Vec<f64>,
}

/// Peer statistics of one day: `rows` are every person-day of that day. Returns the
/// statistics of each group used and, for each row, the index of its group's statistics.
pub fn day_peers<'a>(
    rows: &'a [DayFeatures],
    group_of: impl Fn(&'a DayFeatures) -> Option<&'a str>,
) -> (Vec<PeerStats>, Vec<usize>) {
    let mut members: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, row) in rows.iter().enumerate() {
        if let Some(group) = group_of(row).filter(|g| *g != ORGANISATION) {
            members.entry(group).or_default().push(index);
        }
    }
    let mut groups: Vec<(&str, Vec<usize>)> = members
        .into_iter()
        .filter(|(_, m)| m.len() >= MIN_MEMBERS)
        .collect();
    // Deterministic order (the statistics do not depend on it, the indexes do).
    groups.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut stats = vec![stats_of(
        ORGANISATION,
        rows,
        &(0..rows.len()).collect::<Vec<_>>(),
    )];
    let mut of_row = vec![0; rows.len()];
    for (group, indexes) in groups {
        for &i in &indexes {
            of_row[i] = stats.len();
        }
        stats.push(stats_of(group, rows, &indexes));
    }
    (stats, of_row)
}

fn stats_of(group: &str, rows: &[DayFeatures], indexes: &[usize]) -> PeerStats {
    let mut median_of = Vec::with_capacity(FEATURES.len());
    let mut spread_of = Vec::with_capacity(FEATURES.len());
    let mut column = Vec::with_capacity(indexes.len());
    for feature in 0..FEATURES.len() {
        column.clear();
        column.extend(
            indexes
                .iter()
                .filter_map(|&i| rows[i].values.get(feature).copied())
                .filter(|v| v.is_finite()),
        );
        let usual = median(&mut column);
        for v in column.iter_mut() {
            *v = (*v - usual).abs();
        }
        median_of.push(usual);
        spread_of.push(crate::anomaly::MAD_TO_SIGMA * median(&mut column));
    }
    PeerStats {
        group: group.to_string(),
        members: indexes.len(),
        median: median_of,
        spread: spread_of,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::features::Feature;

    fn row(person: &str, events: f64) -> DayFeatures {
        let mut values = vec![0.0; FEATURES.len()];
        values[Feature::Events.index()] = events;
        values[Feature::LogonFirstMinute.index()] = f64::NAN;
        DayFeatures {
            person: person.into(),
            day: jiff::civil::date(2024, 3, 1),
            values,
        }
    }

    #[test]
    fn small_groups_and_persons_without_one_use_the_organisation() {
        let mut rows: Vec<DayFeatures> = (0..5).map(|i| row(&format!("s{i}"), 10.0)).collect();
        rows.push(row("lone", 100.0));
        rows.push(row("nohr", 1.0));
        let (stats, of_row) = day_peers(&rows, |r| match r.person.as_str() {
            "lone" => Some("legal"),
            "nohr" => None,
            _ => Some("sales"),
        });
        assert_eq!(stats.len(), 2);
        assert_eq!(stats[0].group, ORGANISATION);
        assert_eq!(stats[0].members, 7);
        assert_eq!(stats[1].group, "sales");
        assert_eq!(of_row, [1, 1, 1, 1, 1, 0, 0]);
        let events = Feature::Events.index();
        assert_eq!(stats[1].median[events], 10.0);
        assert_eq!(stats[1].spread[events], 0.0);
        assert_eq!(stats[0].median[events], 10.0);
        // No finite value at all: NaN, not 0.
        assert!(stats[0].median[Feature::LogonFirstMinute.index()].is_nan());
    }
}
