//! The per-manager access review (docs/review.md): for a manager and a day, the people who
//! report to them, each person's accounts with their directory, state, last use and groups,
//! and the reviewers' latest decision on each account and group, so that a manager can attest
//! periodically that every right is still needed.
//!
//! Everything here is pure: the caller reads HR histories, account links, the inventory, the
//! stored decisions and each account's last event, and [`compose`] joins them. The same
//! composition serves `mamori report access-review` and `GET /api/v1/access-reviews/{manager}`,
//! so the two cannot disagree.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use mamori_event::{AccountRecord, PersonRecord, is_privileged_group};

use crate::hygiene::version_on;

/// Days without any use after which an account is suggested for revocation.
pub const UNUSED_DAYS: i64 = 90;

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Keep,
    Revoke,
}

/// A stored decision on an account (`grant` empty) or one of its groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub account: String,
    pub grant: String,
    pub verdict: Verdict,
    pub comment: String,
    pub decided_by: String,
    pub decided: Timestamp,
}

/// Where a grant stands in the review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Nobody decided on it yet.
    Pending,
    Keep,
    Revoke,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Keep => "keep",
            State::Revoke => "revoke",
        }
    }
}

/// The latest decision on a grant, or none (pending).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Attestation {
    pub state: State,
    pub comment: Option<String>,
    pub decided_by: Option<String>,
    pub decided: Option<Timestamp>,
}

impl Attestation {
    fn of(decision: Option<&Decision>) -> Attestation {
        match decision {
            None => Attestation {
                state: State::Pending,
                comment: None,
                decided_by: None,
                decided: None,
            },
            Some(decision) => Attestation {
                state: match decision.verdict {
                    Verdict::Keep => State::Keep,
                    Verdict::Revoke => State::Revoke,
                },
                comment: Some(decision.comment.clone()),
                decided_by: Some(decision.decided_by.clone()),
                decided: Some(decision.decided),
            },
        }
    }
}

/// One group of an account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReviewedGroup {
    pub group: String,
    /// One of [`mamori_event::PRIVILEGED_GROUPS`].
    pub privileged: bool,
    pub decision: Attestation,
}

/// One account of a reviewed person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReviewedAccount {
    pub account: String,
    /// The directory of the inventory row; `None` for an account only HR links (no inventory
    /// row lists it).
    pub directory: Option<String>,
    pub enabled: Option<bool>,
    /// The last sign-in the directory recorded, in the export's own clock.
    pub last_sign_in: Option<DateTime>,
    /// The latest event of the account up to the end of the as-of day.
    pub last_activity: Option<Timestamp>,
    /// Days from the later of the two to the as-of day; `None` when neither is known.
    pub idle_days: Option<i64>,
    /// Not used for [`UNUSED_DAYS`] days or more, or never seen used: a suggestion to revoke,
    /// not a finding.
    pub unused: bool,
    /// Privileged as the directory says, or through a privileged group.
    pub privileged: bool,
    pub decision: Attestation,
    pub groups: Vec<ReviewedGroup>,
}

/// One person who reports to the manager.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReviewedPerson {
    pub person_id: String,
    pub name: String,
    /// Their supervisor on the as-of day (the manager, or one of the manager's people with
    /// `all_levels`).
    pub supervisor: String,
    pub department: Option<String>,
    pub termination_date: Option<Date>,
    pub accounts: Vec<ReviewedAccount>,
}

/// Counts for the review's summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub persons: usize,
    pub accounts: usize,
    /// Groups over all accounts.
    pub groups: usize,
    pub privileged_grants: usize,
    pub unused_accounts: usize,
    /// Accounts and groups without a decision.
    pub pending: usize,
    pub keep: usize,
    pub revoke: usize,
}

/// The whole review.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessReview {
    pub manager: String,
    pub as_of: Date,
    pub all_levels: bool,
    pub persons: Vec<ReviewedPerson>,
    pub summary: Summary,
}

/// One listed inventory row and whether it was stored as privileged.
#[derive(Debug, Clone)]
pub struct InventoryRow {
    pub record: AccountRecord,
    pub privileged: bool,
}

/// What [`compose`] joins.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub manager: &'a str,
    pub as_of: Date,
    /// Also the people of the manager's people, transitively.
    pub all_levels: bool,
    /// Every person's HR versions, oldest first.
    pub people: &'a BTreeMap<String, Vec<PersonRecord>>,
    /// `(account, person_id)` of the HR `accounts` table.
    pub links: &'a [(String, String)],
    /// The inventory's listed accounts.
    pub inventory: &'a [InventoryRow],
    /// The latest decision per `(account, grant)`.
    pub decisions: &'a [Decision],
}

/// The people who report to `manager` on `as_of` (the version of their record in force that
/// day names the manager as supervisor), by person id; with `all_levels` also those who
/// report to them, transitively. The manager is never one of them, even in a cycle.
pub fn reports(
    people: &BTreeMap<String, Vec<PersonRecord>>,
    manager: &str,
    as_of: Date,
    all_levels: bool,
) -> Vec<String> {
    let mut supervisor_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for (person_id, history) in people {
        if let Some(supervisor) = version_on(history, as_of).and_then(|v| v.supervisor.as_deref()) {
            supervisor_of
                .entry(supervisor)
                .or_default()
                .push(person_id.as_str());
        }
    }
    let mut found: BTreeSet<&str> = BTreeSet::new();
    let mut queue: Vec<&str> = vec![manager];
    while let Some(current) = queue.pop() {
        for &report in supervisor_of.get(current).map_or(&[][..], Vec::as_slice) {
            if report != manager && found.insert(report) && all_levels {
                queue.push(report);
            }
        }
    }
    found.into_iter().map(str::to_owned).collect()
}

/// The accounts of `person_id`: the HR links, the accounts their record in force lists, and
/// the inventory rows that name them or are linked to them.
pub fn accounts_of(inputs: &Inputs<'_>, person_id: &str) -> BTreeSet<String> {
    let mut accounts: BTreeSet<String> = inputs
        .links
        .iter()
        .filter(|(_, person)| person == person_id)
        .map(|(account, _)| account.clone())
        .collect();
    if let Some(version) = inputs
        .people
        .get(person_id)
        .and_then(|history| version_on(history, inputs.as_of))
    {
        accounts.extend(version.accounts.iter().cloned());
    }
    for row in inputs.inventory {
        if row.record.person_id.as_deref() == Some(person_id) {
            accounts.insert(row.record.account.clone());
        }
    }
    accounts
}

/// Joins the review. `last_activity` answers an account's latest event up to the end of the
/// as-of day (the caller reads it from the account's postings); its error stops the review.
pub fn compose<E>(
    inputs: &Inputs<'_>,
    mut last_activity: impl FnMut(&str) -> Result<Option<Timestamp>, E>,
) -> Result<AccessReview, E> {
    let decisions: HashMap<(&str, &str), &Decision> = inputs
        .decisions
        .iter()
        .map(|d| ((d.account.as_str(), d.grant.as_str()), d))
        .collect();
    let decision_of =
        |account: &str, grant: &str| Attestation::of(decisions.get(&(account, grant)).copied());
    let mut persons = Vec::new();
    for person_id in reports(
        inputs.people,
        inputs.manager,
        inputs.as_of,
        inputs.all_levels,
    ) {
        let Some(version) = inputs
            .people
            .get(&person_id)
            .and_then(|history| version_on(history, inputs.as_of))
        else {
            continue;
        };
        let mut accounts = Vec::new();
        for account in accounts_of(inputs, &person_id) {
            let last_activity = last_activity(&account)?;
            let rows: Vec<&InventoryRow> = inputs
                .inventory
                .iter()
                .filter(|row| row.record.account == account)
                .collect();
            if rows.is_empty() {
                accounts.push(reviewed(
                    inputs.as_of,
                    &account,
                    None,
                    last_activity,
                    &decision_of,
                ));
            }
            for row in rows {
                accounts.push(reviewed(
                    inputs.as_of,
                    &account,
                    Some(row),
                    last_activity,
                    &decision_of,
                ));
            }
        }
        persons.push(ReviewedPerson {
            person_id: person_id.clone(),
            name: version.name.clone(),
            supervisor: version.supervisor.clone().unwrap_or_default(),
            department: version.department.clone(),
            termination_date: version.termination_date,
            accounts,
        });
    }
    let summary = summarise(&persons);
    Ok(AccessReview {
        manager: inputs.manager.to_owned(),
        as_of: inputs.as_of,
        all_levels: inputs.all_levels,
        persons,
        summary,
    })
}

fn reviewed(
    as_of: Date,
    account: &str,
    row: Option<&InventoryRow>,
    last_activity: Option<Timestamp>,
    decision_of: &impl Fn(&str, &str) -> Attestation,
) -> ReviewedAccount {
    let last_sign_in = row.and_then(|row| row.record.last_logon);
    // The later use of the two, as a day: sign-ins are in the export's clock, events in UTC;
    // a day's difference does not change a 90-day judgement.
    let last_use_day = [
        last_sign_in.map(|t| t.date()),
        last_activity.map(|t| jiff::tz::Offset::UTC.to_datetime(t).date()),
    ]
    .into_iter()
    .flatten()
    .max();
    let idle_days =
        last_use_day.and_then(|day| as_of.since(day).ok().map(|span| i64::from(span.get_days())));
    let groups = row
        .map(|row| {
            row.record
                .groups
                .iter()
                .map(|group| ReviewedGroup {
                    group: group.clone(),
                    privileged: is_privileged_group(group),
                    decision: decision_of(account, group),
                })
                .collect()
        })
        .unwrap_or_default();
    ReviewedAccount {
        account: account.to_owned(),
        directory: row.map(|row| row.record.source.as_str().to_owned()),
        enabled: row.and_then(|row| row.record.enabled),
        last_sign_in,
        last_activity,
        idle_days,
        unused: idle_days.is_none_or(|days| days >= UNUSED_DAYS),
        privileged: row.is_some_and(|row| row.privileged),
        decision: decision_of(account, ""),
        groups,
    }
}

fn summarise(persons: &[ReviewedPerson]) -> Summary {
    let mut summary = Summary {
        persons: persons.len(),
        ..Summary::default()
    };
    let mut count = |state: State| match state {
        State::Pending => summary.pending += 1,
        State::Keep => summary.keep += 1,
        State::Revoke => summary.revoke += 1,
    };
    let mut accounts = 0;
    let mut groups = 0;
    let mut privileged = 0;
    let mut unused = 0;
    for account in persons.iter().flat_map(|p| &p.accounts) {
        accounts += 1;
        unused += usize::from(account.unused);
        count(account.decision.state);
        for group in &account.groups {
            groups += 1;
            privileged += usize::from(group.privileged);
            count(group.decision.state);
        }
    }
    summary.accounts = accounts;
    summary.groups = groups;
    summary.privileged_grants = privileged;
    summary.unused_accounts = unused;
    summary
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use jiff::civil::date;
    use mamori_event::AccountSource;

    fn person(id: &str, supervisor: &str, accounts: &[&str]) -> PersonRecord {
        let mut p = PersonRecord::new(id, date(2024, 1, 1), id);
        p.supervisor = Some(supervisor.into()).filter(|s: &String| !s.is_empty());
        p.accounts = accounts.iter().map(|a| (*a).to_owned()).collect();
        p
    }

    fn people(records: Vec<PersonRecord>) -> BTreeMap<String, Vec<PersonRecord>> {
        let mut map: BTreeMap<String, Vec<PersonRecord>> = BTreeMap::new();
        for record in records {
            map.entry(record.person_id.clone())
                .or_default()
                .push(record);
        }
        map.values_mut()
            .for_each(|h| h.sort_by_key(|r| r.valid_from));
        map
    }

    #[test]
    fn reports_follow_the_version_in_force_and_all_levels_goes_down_without_cycles() {
        let mut moved = person("E3", "M2", &[]);
        moved.valid_from = date(2025, 4, 1);
        let people = people(vec![
            person("M1", "E2", &[]),
            person("E1", "M1", &[]),
            person("E2", "M1", &[]),
            person("E3", "M1", &[]),
            moved,
            person("E4", "E1", &[]),
            person("E5", "M2", &[]),
        ]);
        assert_eq!(
            reports(&people, "M1", date(2025, 3, 31), false),
            ["E1", "E2", "E3"]
        );
        assert_eq!(
            reports(&people, "M1", date(2025, 4, 1), false),
            ["E1", "E2"]
        );
        assert_eq!(
            reports(&people, "M1", date(2025, 4, 1), true),
            ["E1", "E2", "E4"]
        );
        assert!(reports(&people, "nobody", date(2025, 4, 1), true).is_empty());
    }

    #[test]
    fn compose_joins_accounts_groups_last_use_and_decisions() {
        let people = people(vec![
            person("M1", "", &["boss"]),
            person("E1", "M1", &["yamada"]),
            person("E2", "M1", &[]),
            person("E9", "M2", &["other"]),
        ]);
        let links = vec![
            ("yamada".to_owned(), "E1".to_owned()),
            ("other".to_owned(), "E9".to_owned()),
        ];
        let mut yamada = AccountRecord::new("yamada", AccountSource::Ad);
        yamada.enabled = Some(true);
        yamada.last_logon = Some(date(2025, 5, 30).at(9, 0, 0, 0));
        yamada.groups = vec!["Domain Admins".into(), "営業部".into()];
        let mut sato = AccountRecord::new("sato@example.jp", AccountSource::Entra);
        sato.person_id = Some("E2".into());
        sato.enabled = Some(true);
        sato.groups = vec!["Sales".into()];
        let inventory = vec![
            InventoryRow {
                privileged: yamada.privileged(),
                record: yamada,
            },
            InventoryRow {
                privileged: false,
                record: sato,
            },
        ];
        let decided: Timestamp = "2025-06-01T00:00:00Z".parse().unwrap();
        let decisions = vec![
            Decision {
                account: "yamada".into(),
                grant: "Domain Admins".into(),
                verdict: Verdict::Revoke,
                comment: "no longer administers the domain".into(),
                decided_by: "approver".into(),
                decided,
            },
            Decision {
                account: "yamada".into(),
                grant: String::new(),
                verdict: Verdict::Keep,
                comment: String::new(),
                decided_by: "approver".into(),
                decided,
            },
        ];
        let inputs = Inputs {
            manager: "M1",
            as_of: date(2025, 6, 30),
            all_levels: false,
            people: &people,
            links: &links,
            inventory: &inventory,
            decisions: &decisions,
        };
        let mut asked = Vec::new();
        let review = compose::<()>(&inputs, |account| {
            asked.push(account.to_owned());
            Ok((account == "yamada").then(|| "2025-06-20T12:00:00Z".parse().unwrap()))
        })
        .unwrap();
        assert_eq!(asked, ["yamada", "sato@example.jp"]);
        let ids: Vec<&str> = review
            .persons
            .iter()
            .map(|p| p.person_id.as_str())
            .collect();
        assert_eq!(ids, ["E1", "E2"]);

        let yamada = &review.persons[0].accounts[0];
        assert_eq!(yamada.directory.as_deref(), Some("ad"));
        assert_eq!(yamada.idle_days, Some(10));
        assert!(!yamada.unused);
        assert!(yamada.privileged);
        assert_eq!(yamada.decision.state, State::Keep);
        let groups: Vec<(&str, bool, State)> = yamada
            .groups
            .iter()
            .map(|g| (g.group.as_str(), g.privileged, g.decision.state))
            .collect();
        assert_eq!(
            groups,
            [
                ("Domain Admins", true, State::Revoke),
                ("営業部", false, State::Pending)
            ]
        );

        let sato = &review.persons[1].accounts[0];
        assert_eq!(sato.account, "sato@example.jp");
        assert_eq!(sato.idle_days, None);
        assert!(sato.unused, "never seen used");
        assert_eq!(sato.decision.state, State::Pending);

        assert_eq!(
            review.summary,
            Summary {
                persons: 2,
                accounts: 2,
                groups: 3,
                privileged_grants: 1,
                unused_accounts: 1,
                pending: 3,
                keep: 1,
                revoke: 1,
            }
        );

        // An error reading activity stops the review.
        assert_eq!(compose(&inputs, |_| Err("disk")).err(), Some("disk"));
    }
}
