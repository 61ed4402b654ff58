//! The directory: the organisation's Active Directory as of the simulation's last day — one
//! account per person and a few that are no person's own — with identity-hygiene problems
//! seeded in it for `mamori hygiene` to find in the inventory (`accounts.csv`, written by
//! [`crate::write::accounts`]) and listed in the answer key (`answers/hygiene.csv`):
//!
//! - leavers whose account was never disabled (`leaver_account_enabled`);
//! - IT administrators in Domain Admins without a second factor (`privileged_without_mfa`);
//! - administrators' second accounts (`adm-<user id>`) last signed in to months before the
//!   period, or never (`dormant_account`);
//! - accounts of contractors whose engagement ended (`ext-first.last`), still enabled, that no
//!   HR record owns (`orphan_account`);
//! - generic desk accounts (`reception`, `uketsuke01`) that the staff of one team sign in with
//!   on their own PCs, day after day (`generic_account_name` and `shared_account`).
//!
//! Everything is drawn after the plan from a stream of its own ([`Stream::Accounts`]), so the
//! rest of the output is byte for byte what it is without it. Only the desk accounts add rows:
//! their sessions ([`crate::scenario::scripted_day`], tagged [`crate::record::Tag::Shared`]).
//! Nothing else seeded here has events: the admin accounts were last used before the period,
//! and the contractors signed in from their own laptops over VPN, which no agent watches.

use jiff::civil::Date;
use rand::RngExt;

use crate::activity::between;
use crate::calendar::is_workday;
use crate::org::{Organisation, Person, Role, SharedAccount, Unit};
use crate::rng::{SimRng, Stream, derive, pick};
use crate::scenario::Plan;
use crate::vocab::{FIRST_NAMES, LAST_NAMES};

/// Organisations smaller than this get no seeded cases: a few dozen people have no front desk
/// and hardly any leavers to forget.
pub const MIN_PEOPLE_FOR_CASES: usize = 100;
/// The group that makes IT administrators' accounts privileged.
pub const DOMAIN_ADMINS: &str = "Domain Admins";
/// The group of contractors' accounts.
pub const CONTRACTORS: &str = "contractors";
/// Names of the desk accounts, in the order they are planted (`uketsuke` is 受付, reception).
pub const DESK_ACCOUNTS: [&str; 2] = ["reception", "uketsuke01"];
/// Share of ordinary (not privileged) accounts with a second factor registered.
pub const MFA_SHARE: f64 = 0.97;
/// A leaver's account left enabled is chosen among those whose last day is at most this many
/// days before the period's last day: their last sign-in is days before their last day, so
/// the account is not dormant too (dormancy starts at 90 days).
const RECENT_LEAVER_DAYS: i64 = 60;
/// Chance that a desk account is used at one of its desks on a workday.
const DESK_USE_SHARE: f64 = 0.6;
/// Fewest days a desk account is used at each desk: what makes the desk one of its regular
/// hosts (`mamori hygiene` counts a host from three days on).
const MIN_DAYS_PER_DESK: usize = 3;

/// How many cases of each kind an organisation of `people` gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub enabled_leavers: usize,
    pub admins_without_mfa: usize,
    pub dormant: usize,
    pub orphans: usize,
    pub desks: usize,
}

/// None below [`MIN_PEOPLE_FOR_CASES`] people; otherwise about 0.3 % of people for leavers'
/// accounts left enabled and dormant admin accounts, 0.2 % for admins without MFA and orphan
/// accounts (at least one of each), and one desk account, two from 500 people on. Fewer when
/// too few people qualify.
pub fn counts(people: usize) -> Counts {
    if people < MIN_PEOPLE_FOR_CASES {
        return Counts {
            enabled_leavers: 0,
            admins_without_mfa: 0,
            dormant: 0,
            orphans: 0,
            desks: 0,
        };
    }
    let share = |share: f64| ((people as f64 * share).round() as usize).max(1);
    Counts {
        enabled_leavers: share(0.003),
        admins_without_mfa: share(0.002),
        dormant: share(0.003),
        orphans: share(0.002),
        desks: if people >= 500 { 2 } else { 1 },
    }
}

/// What an account that is not a person's own account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraKind {
    /// An administrator's second account, last signed in to months before the period.
    StaleAdmin,
    /// An administrator's second account, created long ago and never signed in to.
    UnusedAdmin,
    /// A contractor's account left enabled after the engagement ended; no HR record owns it.
    DepartedContractor,
}

impl ExtraKind {
    /// The `mamori hygiene` check that must report the account.
    pub fn check(self) -> &'static str {
        match self {
            ExtraKind::StaleAdmin | ExtraKind::UnusedAdmin => "dormant_account",
            ExtraKind::DepartedContractor => "orphan_account",
        }
    }

    /// The answer key's `variant`.
    pub fn variant(self) -> &'static str {
        match self {
            ExtraKind::StaleAdmin => "stale_admin_account",
            ExtraKind::UnusedAdmin => "unused_admin_account",
            ExtraKind::DepartedContractor => "departed_contractor",
        }
    }
}

/// An inventory account that is neither a person's own nor a desk account.
#[derive(Debug, Clone)]
pub struct ExtraAccount {
    pub kind: ExtraKind,
    pub name: String,
    pub display_name: String,
    /// The person the directory names as owner (the administrator); none for contractors.
    pub owner: Option<u32>,
    /// `(day, second of the day)`.
    pub created: (Date, u32),
    pub last_logon: Option<(Date, u32)>,
    pub groups: Vec<String>,
    pub privileged: bool,
}

/// The seeded cases besides the desk accounts (those are in
/// [`Organisation::shared_accounts`], because their rows name them).
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Leavers (their last day before the period's, in a month that ended before it) whose
    /// account is still enabled.
    pub enabled_leavers: Vec<u32>,
    /// IT administrators whose account, in Domain Admins, has no second factor.
    pub admins_without_mfa: Vec<u32>,
    /// Dormant admin accounts, then orphan accounts.
    pub extra: Vec<ExtraAccount>,
}

impl Directory {
    /// Draws the seeded cases and writes the desk accounts into the organisation. Nobody is in
    /// two cases, and nobody with a part in the plan sits at a desk.
    pub fn draw(seed: u64, org: &mut Organisation, plan: &Plan) -> Directory {
        let mut rng = derive(seed, Stream::Accounts, 0, 0);
        let counts = counts(org.people.len());
        let mut taken = vec![false; org.people.len()];
        let desks = desk_accounts(&mut rng, org, plan, counts.desks, &mut taken);
        org.shared_accounts = desks;

        let (first, last) = (org.first_day, org.last_day);
        // Only leavers the HR data of both layouts show as gone before the last day. In the
        // CERT layout a leaver must be in one monthly snapshot (employed at the end of the
        // first month) to be known at all, and their last day is read as the end of the first
        // month whose snapshot misses them: the month of the day after their last day.
        let first_snapshot = first.last_of_month().min(last);
        let recent = shift(last, -RECENT_LEAVER_DAYS);
        let leavers = candidates(org, &taken, |p| {
            plan.person(p.index).account_used_after_exit.is_none()
                && p.termination_date.is_some_and(|t| {
                    shift(t, 1).last_of_month() < last && t >= recent && t >= first_snapshot
                })
        });
        let enabled_leavers = choose(&mut rng, leavers, counts.enabled_leavers, &mut taken);

        let admins = candidates(org, &taken, |p| {
            p.role == Role::ItAdmin && p.employed_on(last)
        });
        let admins_without_mfa = choose(&mut rng, admins, counts.admins_without_mfa, &mut taken);

        let mut extra = Vec::new();
        // Second accounts of administrators employed for years (created before the period).
        let long_ago = shift(first, -760);
        let owners = candidates(org, &taken, |p| {
            p.role == Role::ItAdmin && p.employed_on(last) && p.hire_date <= long_ago
        });
        for (nth, owner) in choose(&mut rng, owners, counts.dormant, &mut taken)
            .into_iter()
            .enumerate()
        {
            let person = org.person(owner);
            let created = (
                shift(first, -rng.random_range(365..=730i64)),
                office_second(&mut rng),
            );
            let (kind, last_logon) = if nth % 2 == 0 {
                // Months before the last day, and before the period: no event shows it.
                let idle = rng.random_range(120..=365i64);
                let day = shift(last, -idle)
                    .min(shift(first, -1))
                    .max(shift(created.0, 30));
                (ExtraKind::StaleAdmin, Some((day, office_second(&mut rng))))
            } else {
                (ExtraKind::UnusedAdmin, None)
            };
            extra.push(ExtraAccount {
                kind,
                name: format!("adm-{}", person.user_id),
                display_name: format!("{} (admin)", person.name),
                owner: Some(owner),
                created,
                last_logon,
                groups: vec![DOMAIN_ADMINS.to_string()],
                privileged: true,
            });
        }

        // Contractors: a name HR never had, the department they worked for, a last sign-in in
        // the weeks before the last day (not dormant yet).
        let departments: Vec<String> = org
            .people
            .iter()
            .filter(|p| p.unit.department.is_some())
            .map(|p| unit_group(&p.unit))
            .collect();
        for _ in 0..counts.orphans {
            let Some((name, display_name)) = contractor_name(&mut rng, &extra) else {
                break;
            };
            let mut groups = vec![CONTRACTORS.to_string()];
            if !departments.is_empty() {
                groups.push(pick(&mut rng, &departments).clone());
            }
            let created = (
                shift(first, -rng.random_range(60..=400i64)),
                office_second(&mut rng),
            );
            let last_logon = (
                shift(last, -rng.random_range(10..=60i64)),
                office_second(&mut rng),
            );
            extra.push(ExtraAccount {
                kind: ExtraKind::DepartedContractor,
                name,
                display_name,
                owner: None,
                created,
                last_logon: Some(last_logon),
                groups,
                privileged: false,
            });
        }
        Directory {
            enabled_leavers,
            admins_without_mfa,
            extra,
        }
    }

    /// Whether a person's account is enabled on the last day: while they are employed, and
    /// after that only if it was forgotten.
    pub fn enabled(&self, org: &Organisation, person: &Person) -> bool {
        person.employed_on(org.last_day) || self.enabled_leavers.contains(&person.index)
    }

    /// Whether a person's account has a second factor (`rng`: the person's own stream).
    pub fn mfa(&self, person: &Person, rng: &mut SimRng) -> bool {
        if is_privileged(person) {
            !self.admins_without_mfa.contains(&person.index)
        } else {
            rng.random_bool(MFA_SHARE)
        }
    }

    /// Cases per `mamori hygiene` check, desk accounts included (each is a generic name and a
    /// shared account).
    pub fn cases(&self, org: &Organisation) -> std::collections::BTreeMap<&'static str, usize> {
        let mut cases = std::collections::BTreeMap::new();
        cases.insert("leaver_account_enabled", self.enabled_leavers.len());
        cases.insert("privileged_without_mfa", self.admins_without_mfa.len());
        cases.insert("dormant_account", 0);
        cases.insert("orphan_account", 0);
        for account in &self.extra {
            *cases.entry(account.kind.check()).or_default() += 1;
        }
        cases.insert("generic_account_name", org.shared_accounts.len());
        cases.insert("shared_account", org.shared_accounts.len());
        cases
    }
}

/// IT administrators' accounts are in Domain Admins.
pub fn is_privileged(person: &Person) -> bool {
    person.role == Role::ItAdmin
}

/// A person's groups: their department's (or, for heads of units, their unit's), their role's,
/// and Domain Admins for IT administrators.
pub fn person_groups(person: &Person) -> Vec<String> {
    let mut groups = Vec::with_capacity(3);
    if is_privileged(person) {
        groups.push(DOMAIN_ADMINS.to_string());
    }
    groups.push(unit_group(&person.unit));
    groups.push(format!("role-{}", person.role.as_str()));
    groups
}

/// `dept-InformationTechnology`: the department without LDAP's `N - ` prefix; a VP's functional
/// unit; `dept-Executive` for the president.
pub fn unit_group(unit: &Unit) -> String {
    let name = unit
        .department
        .or_else(|| unit.functional_unit.map(|_| unit.functional_unit_name()))
        .map_or("Executive", |name| {
            name.split_once(" - ").map_or(name, |(_, bare)| bare)
        });
    format!("dept-{name}")
}

/// When the directory created a person's account: on a working day up to a week before their
/// hire date, in office hours (`rng`: the person's own stream).
pub fn person_created(person: &Person, rng: &mut SimRng) -> (Date, u32) {
    let day = shift(person.hire_date, -rng.random_range(0..=7i64));
    (day, office_second(rng))
}

/// The last sign-in of someone employed before the period who never signs in during it: their
/// usual arrival on the last workday before the first day.
pub fn before_the_period(org: &Organisation, person: &Person) -> (Date, u32) {
    let mut day = shift(org.first_day, -1);
    for _ in 0..14 {
        if is_workday(day) {
            break;
        }
        day = shift(day, -1);
    }
    (day, (person.habits.start_minute * 60.0) as u32)
}

/// `date` moved by `days` (negative: earlier); unchanged at the ends of the calendar.
fn shift(date: Date, days: i64) -> Date {
    date.checked_add(jiff::Span::new().days(days))
        .unwrap_or(date)
}

fn office_second(rng: &mut SimRng) -> u32 {
    between(rng, 9 * 3600, 17 * 3600)
}

/// Indexes of the people not yet in a case for whom `fits` holds.
fn candidates(org: &Organisation, taken: &[bool], fits: impl Fn(&Person) -> bool) -> Vec<u32> {
    org.people
        .iter()
        .filter(|p| !taken[p.index as usize] && fits(p))
        .map(|p| p.index)
        .collect()
}

/// Up to `count` of `candidates`, drawn without replacement and marked taken, in index order.
fn choose(
    rng: &mut SimRng,
    mut candidates: Vec<u32>,
    count: usize,
    taken: &mut [bool],
) -> Vec<u32> {
    let mut chosen = Vec::with_capacity(count);
    while chosen.len() < count && !candidates.is_empty() {
        let person = candidates.swap_remove(rng.random_range(0..candidates.len()));
        taken[person as usize] = true;
        chosen.push(person);
    }
    chosen.sort_unstable();
    chosen
}

/// `ext-first.last` and `First Last (contractor)`, a name no other extra account has.
fn contractor_name(rng: &mut SimRng, extra: &[ExtraAccount]) -> Option<(String, String)> {
    for _ in 0..100 {
        let (first, last) = (*pick(rng, FIRST_NAMES), *pick(rng, LAST_NAMES));
        let name = format!("ext-{}.{}", first.to_lowercase(), last.to_lowercase());
        if extra.iter().all(|account| account.name != name) {
            return Some((name, format!("{first} {last} (contractor)")));
        }
    }
    None
}

/// Whether a person has no part in the plan: no incident (as actor or other party), no
/// leaving, joining, careless mail or after-exit case. Desk staff are chosen among them, so
/// that their PCs are theirs alone for the whole period.
fn untouched(plan: &Plan, person: u32) -> bool {
    let part = plan.person(person);
    part.incident.is_none()
        && part.leaving.is_none()
        && !part.joiner
        && part.careless_days.is_empty()
        && part.account_used_after_exit.is_none()
        && part.uses_leavers_account.is_none()
        && plan
            .incidents
            .iter()
            .all(|incident| incident.other != Some(person))
}

/// Where a desk account is most likely: human resources' staffing and the security desk, then
/// sales; never IT.
fn desk_rank(unit: &Unit) -> Option<u8> {
    match unit.department {
        Some("3 - InformationTechnology") => None,
        Some("1 - HumanResources" | "2 - Security") => Some(0),
        Some("1 - Sales") => Some(1),
        _ => Some(2),
    }
}

/// Up to `count` desk accounts, each at two or three desks of one team (the team's staff who
/// stay all period and have no part in the plan), owned by the team's manager, used on about
/// 60 % of workdays at each desk and on at least three days at every one.
fn desk_accounts(
    rng: &mut SimRng,
    org: &Organisation,
    plan: &Plan,
    count: usize,
    taken: &mut [bool],
) -> Vec<SharedAccount> {
    let days = u32::try_from((org.last_day - org.first_day).get_days() + 1).unwrap_or(0);
    let staff_of = |unit: &Unit, taken: &[bool]| -> Vec<u32> {
        org.people
            .iter()
            .filter(|p| {
                p.unit == *unit
                    && !p.role.is_leader()
                    && p.hire_date <= org.first_day
                    && p.termination_date.is_none()
                    && !taken[p.index as usize]
                    && untouched(plan, p.index)
            })
            .map(|p| p.index)
            .collect()
    };
    let mut teams: Vec<&Unit> = Vec::new();
    for person in &org.people {
        if person.unit.team.is_some() && !teams.contains(&&person.unit) {
            teams.push(&person.unit);
        }
    }
    let mut accounts = Vec::new();
    for name in DESK_ACCOUNTS.iter().take(count) {
        let ranked: Vec<(u8, &Unit)> = teams
            .iter()
            .filter_map(|unit| desk_rank(unit).map(|rank| (rank, *unit)))
            .filter(|(_, unit)| staff_of(unit, taken).len() >= 2)
            .collect();
        let Some(best) = ranked.iter().map(|(rank, _)| *rank).min() else {
            break;
        };
        let best_teams: Vec<&Unit> = ranked
            .iter()
            .filter(|(rank, _)| *rank == best)
            .map(|(_, unit)| *unit)
            .collect();
        let unit = *pick(rng, &best_teams);
        let Some(owner) = org
            .people
            .iter()
            .find(|p| p.role == Role::Manager && p.unit == *unit)
            .map(|p| p.index)
        else {
            break;
        };
        let staff = staff_of(unit, taken);
        let size = rng.random_range(2..=3usize).min(staff.len());
        let desks = choose(rng, staff, size, taken);
        let mut uses = Vec::new();
        for day in 0..days {
            if !is_workday(shift(org.first_day, i64::from(day))) {
                continue;
            }
            for desk in &desks {
                if rng.random_bool(DESK_USE_SHARE) {
                    uses.push((day, *desk));
                }
            }
        }
        for desk in &desks {
            let mut used = uses.iter().filter(|(_, d)| d == desk).count();
            for day in 0..days {
                if used >= MIN_DAYS_PER_DESK {
                    break;
                }
                if is_workday(shift(org.first_day, i64::from(day))) && !uses.contains(&(day, *desk))
                {
                    uses.push((day, *desk));
                    used += 1;
                }
            }
        }
        uses.sort_unstable();
        let team = unit.team.map_or("", |team| {
            team.split_once(" - ").map_or(team, |(_, bare)| bare)
        });
        let created = (
            shift(org.first_day, -rng.random_range(100..=1500i64)),
            office_second(rng),
        );
        accounts.push(SharedAccount {
            name: (*name).to_string(),
            display_name: format!("Front desk ({team})"),
            owner,
            desks,
            created,
            uses,
        });
    }
    accounts
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::org::Unit;

    #[test]
    fn counts_start_at_one_from_100_people_and_grow_slowly() {
        assert_eq!(counts(99).desks + counts(99).orphans, 0);
        let small = counts(100);
        assert_eq!(
            (
                small.enabled_leavers,
                small.admins_without_mfa,
                small.dormant,
                small.orphans,
                small.desks
            ),
            (1, 1, 1, 1, 1)
        );
        let large = counts(1000);
        assert_eq!(
            (
                large.enabled_leavers,
                large.admins_without_mfa,
                large.dormant,
                large.orphans,
                large.desks
            ),
            (3, 2, 3, 2, 2)
        );
    }

    #[test]
    fn unit_groups_drop_the_number() {
        let unit = Unit {
            functional_unit: Some(0),
            department: Some("3 - InformationTechnology"),
            team: Some("1 - Infrastructure"),
        };
        assert_eq!(unit_group(&unit), "dept-InformationTechnology");
        let vp = Unit {
            functional_unit: Some(4),
            department: None,
            team: None,
        };
        assert_eq!(unit_group(&vp), "dept-SalesAndMarketing");
        assert_eq!(unit_group(&Unit::default()), "dept-Executive");
    }
}
