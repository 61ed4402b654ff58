//! The plan: who joins, who leaves, who is careless and which malicious incidents happen when,
//! decided once before the first day; and the scripted rows each incident adds on its days.
//!
//! The five families follow CERT r4.2 (1–3) and r6.2 (4–5):
//!
//! 1. [`Family::Leak`]: after-hours logons, a USB drive and uploads to a leak site, then leaves.
//! 2. [`Family::JobHunt`]: job-site browsing, then USB theft far above the person's own rate,
//!    then leaves.
//! 3. [`Family::Keylogger`]: a disgruntled system administrator downloads a keylogger, carries
//!    it on a USB drive to the supervisor's PC, next day logs on *as the supervisor* on that
//!    PC and sends an alarming mass mail, then leaves.
//! 4. [`Family::Snoop`]: logs on to a colleague's PC and mails files to a home address, again
//!    and again over months.
//! 5. [`Family::LayoffCloud`]: after colleagues are laid off, uploads documents to cloud
//!    storage.
//!
//! Beside them, [`AfterExit`]: a leaver's account used after the termination date (CERT r1's
//! scenario), by the leaver again or by a colleague who was given the password — the case
//! `mamori hygiene` must catch, with its own answer key (`answers/hygiene.csv`).
//!
//! Variants that defeat shortcuts: insiders who do not leave, slow low-volume exfiltration
//! over many weeks, benign leavers (some of whom browse job sites first), benign after-hours,
//! weekend, USB-heavy and cloud-storage users (see [`crate::habits`]), and careless people who
//! mail a look-alike domain or many outside addresses at once.

use jiff::civil::Date;
use rand::RngExt;

use crate::Profile;
use crate::activity::{Day, between, emit, file_body, http_body, mail_size, work_words};
use crate::calendar::is_workday;
use crate::error::SimError;
use crate::org::{ORG_DOMAIN, Organisation, Person, Role, SharedAccount};
use crate::record::{Body, HttpAction, Record, Tag, bag_of_words};
use crate::rng::{SimRng, Stream, derive, pick};
use crate::vocab::{
    ALARMING_WORDS, Category, DISGRUNTLED_WORDS, GENERAL_WORDS, LAYOFF_WORDS, PARTNER_DOMAINS,
    SENSITIVE_WORDS,
};

/// A malicious scenario family (the number is CERT's scenario number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Leak = 1,
    JobHunt = 2,
    Keylogger = 3,
    Snoop = 4,
    LayoffCloud = 5,
}

impl Family {
    pub const ALL: [Family; 5] = [
        Family::Leak,
        Family::JobHunt,
        Family::Keylogger,
        Family::Snoop,
        Family::LayoffCloud,
    ];

    pub fn number(self) -> u32 {
        self as u32
    }

    /// Short name used in the truth file and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Family::Leak => "leak_site_after_hours",
            Family::JobHunt => "job_hunt_usb_theft",
            Family::Keylogger => "sysadmin_keylogger",
            Family::Snoop => "colleague_pc_mail_home",
            Family::LayoffCloud => "layoff_cloud_upload",
        }
    }
}

/// What an incident does on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    NightUpload,
    JobSearch,
    UsbTheft,
    Grumble,
    KeyloggerPrepare,
    KeyloggerUse,
    Snoop,
    LayoffNews,
    CloudUpload,
}

/// One malicious incident.
#[derive(Debug, Clone)]
pub struct Incident {
    pub number: u32,
    pub family: Family,
    pub actor: u32,
    /// Family 3: the supervisor whose account is abused; family 4: the colleague whose PC is
    /// used; family 5: the director who announces the layoffs.
    pub other: Option<u32>,
    pub leaves: bool,
    /// Low-volume exfiltration spread over many weeks.
    pub slow: bool,
    /// `(day index, step)`, sorted by day.
    pub steps: Vec<(u32, Step)>,
}

/// Who uses a leaver's account after the termination date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitUse {
    /// The leaver signs in again on their old PC, in the evening or at the weekend.
    Returns,
    /// A colleague signs in with the leaver's account on the colleague's own PC, in working
    /// hours.
    Borrowed,
}

impl ExitUse {
    pub fn name(self) -> &'static str {
        match self {
            ExitUse::Returns => "returns",
            ExitUse::Borrowed => "borrowed",
        }
    }
}

/// A leaver whose account is used after their termination date.
#[derive(Debug, Clone)]
pub struct AfterExit {
    pub number: u32,
    pub leaver: u32,
    pub how: ExitUse,
    /// The colleague, for [`ExitUse::Borrowed`].
    pub by: Option<u32>,
    /// Day indexes of the uses, sorted, all after the termination day and at least one after
    /// the end of its month (what monthly LDAP snapshots can show).
    pub days: Vec<u32>,
}

/// Why someone leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaving {
    Benign,
    LaidOff,
    Insider,
}

/// What the plan decided about one person.
#[derive(Debug, Clone, Default)]
pub struct PersonPlan {
    pub incident: Option<u32>,
    pub leaving: Option<Leaving>,
    pub joiner: bool,
    /// A benign leaver who browses job sites before giving notice.
    pub job_hunting: bool,
    /// Days with a careless event.
    pub careless_days: Vec<u32>,
    /// The [`AfterExit`] case in which this person's account is used after they left.
    pub account_used_after_exit: Option<u32>,
    /// The [`AfterExit`] case in which this person uses a leaver's account.
    pub uses_leavers_account: Option<u32>,
    /// Days on which the person must be at work (a scripted step needs their session).
    session_days: Vec<u32>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub incidents: Vec<Incident>,
    pub after_exit: Vec<AfterExit>,
    people: Vec<PersonPlan>,
}

impl Plan {
    pub fn person(&self, index: u32) -> &PersonPlan {
        &self.people[index as usize]
    }

    pub fn needs_session(&self, person: u32, day: u32) -> bool {
        self.people[person as usize]
            .session_days
            .binary_search(&day)
            .is_ok()
    }

    /// Number of incidents of `family`.
    pub fn count(&self, family: Family) -> usize {
        self.incidents.iter().filter(|i| i.family == family).count()
    }

    /// Decides joiners, leavers, careless people and incidents, and writes the leavers' and
    /// joiners' dates into the organisation.
    pub fn draw(
        rng: &mut SimRng,
        org: &mut Organisation,
        profile: Profile,
        days: u32,
    ) -> Result<Plan, SimError> {
        let mut planner = Planner {
            rng,
            days,
            first_day: org.first_day,
            people: vec![PersonPlan::default(); org.people.len()],
            free: org.people.iter().map(|p| !p.role.is_leader()).collect(),
            protected: vec![false; org.people.len()],
            incidents: Vec::new(),
        };
        let users = org.people.len() as f64;
        let months = f64::from(days) / 30.4;
        planner.joiners(org, (users * 0.004 * months).round() as usize);
        for family in [
            Family::Keylogger,
            Family::LayoffCloud,
            Family::Snoop,
            Family::Leak,
            Family::JobHunt,
        ] {
            for nth in 0..insiders_per_family(profile, org.people.len(), family) {
                planner.incident(org, family, nth);
            }
        }
        planner.benign_leavers(org, (users * 0.008 * months).round() as usize);
        let careless_share = match profile {
            Profile::Dense => 0.02,
            Profile::Realistic => 0.01,
        };
        planner.careless(org, (users * careless_share).round().max(1.0) as usize);
        let after_exit = planner.after_exit(org, after_exit_cases(profile, org.people.len()));
        let mut people = planner.people;
        for plan in &mut people {
            plan.session_days.sort_unstable();
            plan.session_days.dedup();
        }
        Ok(Plan {
            incidents: planner.incidents,
            after_exit,
            people,
        })
    }
}

/// How many insiders of `family` a profile plants among `users` people. Dense: about 5 % of
/// staff (weighted 3:3:1:2:2 like CERT r4.2's 30/30/10); realistic: about 0.4 %, at least one
/// of each family from 200 people on.
pub fn insiders_per_family(profile: Profile, users: usize, family: Family) -> usize {
    let weight = match family {
        Family::Leak | Family::JobHunt => 3.0,
        Family::Keylogger => 1.0,
        Family::Snoop | Family::LayoffCloud => 2.0,
    };
    let (share, minimum) = match profile {
        Profile::Dense => (0.05, 1),
        Profile::Realistic => (0.004, usize::from(users >= 200)),
    };
    ((users as f64 * share * weight / 11.0).round() as usize).max(minimum)
}

/// How many leavers' accounts a profile has used after the termination date: dense about
/// 0.3 % of staff, at least 2 (one of each kind); realistic about 0.1 %, at least one from 200
/// people on. Fewer when too few leave early enough for the period to show it.
pub fn after_exit_cases(profile: Profile, users: usize) -> usize {
    match profile {
        Profile::Dense => ((users as f64 * 0.003).round() as usize).max(2),
        Profile::Realistic => {
            ((users as f64 * 0.001).round() as usize).max(usize::from(users >= 200))
        }
    }
}

struct Planner<'r> {
    rng: &'r mut SimRng,
    days: u32,
    first_day: Date,
    people: Vec<PersonPlan>,
    /// Staff not yet given a part (leaders are never free).
    free: Vec<bool>,
    /// People who must stay employed (victims of incidents).
    protected: Vec<bool>,
    incidents: Vec<Incident>,
}

impl Planner<'_> {
    /// The day index of `date` (0 before the first day).
    fn index(&self, date: Date) -> u32 {
        self.first_day
            .until(date)
            .map_or(0, |span| u32::try_from(span.get_days()).unwrap_or(0))
    }

    fn date(&self, day: u32) -> Date {
        self.first_day
            .checked_add(jiff::Span::new().days(i64::from(day)))
            .unwrap_or(self.first_day)
    }

    fn workday(&self, day: u32) -> bool {
        is_workday(self.date(day))
    }

    /// The first workday at or after `day` (or `day` itself near the end).
    fn workday_from(&self, day: u32) -> u32 {
        (day..self.days)
            .find(|d| self.workday(*d))
            .unwrap_or(day.min(self.days.saturating_sub(1)))
    }

    fn take(&mut self, candidates: impl Fn(&Planner) -> Vec<u32>) -> Option<u32> {
        let list = candidates(self);
        if list.is_empty() {
            return None;
        }
        let chosen = list[self.rng.random_range(0..list.len())];
        self.free[chosen as usize] = false;
        Some(chosen)
    }

    fn free_staff(&self, org: &Organisation, extra: impl Fn(&Person) -> bool) -> Vec<u32> {
        org.people
            .iter()
            .filter(|p| {
                self.free[p.index as usize] && !self.people[p.index as usize].joiner && extra(p)
            })
            .map(|p| p.index)
            .collect()
    }

    /// A window of `length` days with `after` days to spare after it, in the later part of
    /// the period (the earlier part is the insider's baseline).
    fn window(&mut self, length: u32, after: u32) -> (u32, u32) {
        let lowest = self.days / 5;
        let length = length
            .min(self.days.saturating_sub(lowest + after + 1))
            .max(1);
        let highest = self.days.saturating_sub(length + after + 1).max(lowest);
        let first = self
            .rng
            .random_range(lowest..=highest)
            .min(self.days.saturating_sub(1));
        (first, (first + length - 1).min(self.days.saturating_sub(1)))
    }

    fn joiners(&mut self, org: &mut Organisation, count: usize) {
        for _ in 0..count {
            let Some(index) = self.take(|planner| planner.free_staff(org, |_| true)) else {
                return;
            };
            let day = self
                .rng
                .random_range(self.days / 10..=(self.days * 8 / 10).max(self.days / 10));
            org.people[index as usize].hire_date = self.date(day);
            self.people[index as usize].joiner = true;
            self.free[index as usize] = true; // joiners may still be careless
        }
    }

    fn leave(&mut self, org: &mut Organisation, person: u32, last_step: u32, why: Leaving) {
        let termination = last_step + self.rng.random_range(1..=10);
        let notice = termination.saturating_sub(self.rng.random_range(7..=21));
        self.set_leaving(org, person, notice, termination, why);
    }

    fn set_leaving(
        &mut self,
        org: &mut Organisation,
        person: u32,
        notice: u32,
        termination: u32,
        why: Leaving,
    ) {
        let record = &mut org.people[person as usize];
        record.notice_date = Some(self.date(notice));
        record.termination_date = Some(self.date(termination));
        self.people[person as usize].leaving = Some(why);
    }

    fn workdays(&self, from: u32, to: u32) -> Vec<u32> {
        (from..=to.min(self.days.saturating_sub(1)))
            .filter(|d| self.workday(*d))
            .collect()
    }

    fn incident(&mut self, org: &mut Organisation, family: Family, nth: usize) {
        let number = self.incidents.len() as u32;
        let mut other = None;
        let actor = match family {
            Family::Keylogger => self.take(|planner| {
                planner.free_staff(org, |p| {
                    p.role == Role::ItAdmin
                        && p.supervisor
                            .is_some_and(|s| org.person(s).role == Role::Manager)
                })
            }),
            Family::Snoop => self.take(|planner| {
                planner.free_staff(org, |p| {
                    org.people
                        .iter()
                        .any(|q| q.index != p.index && !q.role.is_leader() && q.unit == p.unit)
                })
            }),
            Family::LayoffCloud => self.take(|planner| {
                planner.free_staff(org, |p| {
                    planner
                        .free_staff(org, |q| q.index != p.index && q.same_department(p))
                        .len()
                        >= 3
                })
            }),
            _ => self.take(|planner| planner.free_staff(org, |_| true)),
        };
        let Some(actor) = actor else { return };
        let (leaves, slow) = match family {
            Family::Leak => (nth % 4 != 3, false),
            Family::JobHunt => (nth % 4 != 3, nth % 3 == 2),
            Family::Keylogger => (true, false),
            Family::Snoop => (nth % 3 == 2, false),
            Family::LayoffCloud => (nth % 2 == 1, nth % 3 == 2),
        };
        let mut steps = Vec::new();
        match family {
            Family::Leak => {
                let span = self.rng.random_range(3..=10);
                let (first, last) = self.window(span, 12);
                let nights = self.rng.random_range(2..=4u32).min(last - first + 1);
                let mut days: Vec<u32> = vec![first, last];
                while (days.len() as u32) < nights {
                    days.push(self.rng.random_range(first..=last));
                    days.sort_unstable();
                    days.dedup();
                }
                steps.extend(days.into_iter().map(|d| (d, Step::NightUpload)));
            }
            Family::JobHunt => {
                let (search, theft) = if slow {
                    (
                        self.rng.random_range(10..=20),
                        self.rng.random_range(42..=84),
                    )
                } else {
                    (
                        self.rng.random_range(20..=40),
                        self.rng.random_range(5..=10),
                    )
                };
                let (first, last) = self.window(search + theft, 12);
                let theft_from = first + (last - first) * search / (search + theft);
                let mut last_theft_week = None;
                for day in self.workdays(first, last) {
                    steps.push((day, Step::JobSearch));
                    if day < theft_from {
                        continue;
                    }
                    // Slow: one theft a week; otherwise most days of the theft phase.
                    let week = (day - theft_from) / 7;
                    let steal = if slow {
                        last_theft_week != Some(week)
                    } else {
                        self.rng.random_bool(0.7)
                    };
                    if steal {
                        last_theft_week = Some(week);
                        steps.push((day, Step::UsbTheft));
                    }
                }
                if !steps.iter().any(|(_, s)| *s == Step::UsbTheft) {
                    let day = self.workday_from(last.saturating_sub(1));
                    steps.push((day, Step::UsbTheft));
                }
            }
            Family::Keylogger => {
                let (first, _) = self.window(8, 8);
                let grumble = self.workday_from(first);
                let pause = self.rng.random_range(1..=4);
                let prepare = self.workday_from(grumble + pause);
                let strike = self.workday_from(prepare + 1);
                other = org.person(actor).supervisor;
                steps.extend([
                    (grumble, Step::Grumble),
                    (prepare, Step::KeyloggerPrepare),
                    (strike, Step::KeyloggerUse),
                ]);
            }
            Family::Snoop => {
                let span = self.rng.random_range(45..=120);
                let (first, last) = self.window(span, 12);
                let actor_unit = org.person(actor).unit.clone();
                let victims: Vec<u32> = org
                    .people
                    .iter()
                    .filter(|q| {
                        q.index != actor
                            && !q.role.is_leader()
                            && q.unit == actor_unit
                            && self.people[q.index as usize].leaving.is_none()
                            && !self.people[q.index as usize].joiner
                    })
                    .map(|q| q.index)
                    .collect();
                let Some(victim) = victims
                    .get(self.rng.random_range(0..victims.len().max(1)))
                    .copied()
                else {
                    return;
                };
                self.protected[victim as usize] = true;
                other = Some(victim);
                let mut day = first;
                while day <= last {
                    let visit = self.workday_from(day);
                    if visit <= last {
                        steps.push((visit, Step::Snoop));
                    }
                    day = visit + self.rng.random_range(5..=14);
                }
            }
            Family::LayoffCloud => {
                let upload_span = if slow {
                    self.rng.random_range(42..=84)
                } else {
                    self.rng.random_range(8..=15)
                };
                let (first, last) = self.window(upload_span + 1, 12);
                let news = self.workday_from(first);
                let colleagues = self.free_staff(org, |q| {
                    q.index != actor
                        && q.same_department(org.person(actor))
                        && !self.protected[q.index as usize]
                });
                let laid_off = self.rng.random_range(3..=6usize).min(colleagues.len());
                let mut pool = colleagues;
                for _ in 0..laid_off {
                    let chosen = pool.swap_remove(self.rng.random_range(0..pool.len()));
                    self.free[chosen as usize] = false;
                    let termination = news + self.rng.random_range(0..=14);
                    self.set_leaving(org, chosen, news, termination, Leaving::LaidOff);
                }
                // The department's director announces the layoffs.
                let actor_person = org.person(actor);
                other = org
                    .people
                    .iter()
                    .find(|p| {
                        p.role == Role::Director
                            && p.unit.department == actor_person.unit.department
                            && p.unit.functional_unit == actor_person.unit.functional_unit
                    })
                    .map(|p| p.index);
                steps.push((news, Step::LayoffNews));
                let days = self.workdays(news + 1, last);
                for (nth_day, day) in days.iter().enumerate() {
                    let upload = if slow {
                        nth_day % 5 == 0
                    } else {
                        self.rng.random_bool(0.4) || nth_day == 0
                    };
                    if upload {
                        steps.push((*day, Step::CloudUpload));
                    }
                }
            }
        }
        steps.sort_by_key(|(day, step)| (*day, *step as u8));
        // A short period can fold two planned days into one; each step happens once a day.
        steps.dedup();
        let Some(&(last_step, _)) = steps.last() else {
            return;
        };
        for (day, step) in &steps {
            let person = match step {
                Step::NightUpload | Step::KeyloggerUse => continue,
                Step::LayoffNews => match other {
                    Some(director) => director,
                    None => continue,
                },
                _ => actor,
            };
            self.people[person as usize].session_days.push(*day);
        }
        if leaves {
            self.leave(org, actor, last_step, Leaving::Insider);
        }
        self.people[actor as usize].incident = Some(number);
        self.incidents.push(Incident {
            number,
            family,
            actor,
            other,
            leaves,
            slow,
            steps,
        });
    }

    fn benign_leavers(&mut self, org: &mut Organisation, count: usize) {
        for _ in 0..count {
            let Some(person) = self
                .take(|planner| planner.free_staff(org, |p| !planner.protected[p.index as usize]))
            else {
                return;
            };
            let termination = self
                .rng
                .random_range(self.days / 6..self.days.max(self.days / 6 + 1));
            let notice = termination.saturating_sub(self.rng.random_range(14..=28));
            self.set_leaving(org, person, notice, termination, Leaving::Benign);
            self.people[person as usize].job_hunting = self.rng.random_bool(0.4);
        }
    }

    fn careless(&mut self, org: &Organisation, count: usize) {
        for _ in 0..count {
            let Some(person) = self.take(|planner| {
                let mut list = planner.free_staff(org, |_| true);
                list.extend(
                    org.people
                        .iter()
                        .filter(|p| {
                            planner.free[p.index as usize]
                                && planner.people[p.index as usize].joiner
                        })
                        .map(|p| p.index),
                );
                list
            }) else {
                return;
            };
            let hire = org.person(person).hire_date;
            let events = self.rng.random_range(1..=3);
            for _ in 0..events {
                let drawn = self.rng.random_range(0..self.days);
                let day = self.workday_from(drawn);
                if self.date(day) >= hire
                    && !self.people[person as usize].careless_days.contains(&day)
                {
                    self.people[person as usize].careless_days.push(day);
                    self.people[person as usize].session_days.push(day);
                }
            }
            self.people[person as usize].careless_days.sort_unstable();
        }
    }

    /// Picks leavers whose account is used after their last day: alternately by themselves and
    /// by a colleague of the same department who stays. Only leavers with at least ten days of
    /// the period left after the end of their termination month qualify, so that every case
    /// has uses in both the weeks after the last day (visible with exact HR dates) and the
    /// months after (visible in monthly LDAP snapshots too).
    fn after_exit(&mut self, org: &Organisation, count: usize) -> Vec<AfterExit> {
        let mut cases = Vec::new();
        for nth in 0..count {
            let leavers: Vec<u32> = org
                .people
                .iter()
                .filter(|p| {
                    let part = &self.people[p.index as usize];
                    part.leaving.is_some()
                        && part.account_used_after_exit.is_none()
                        && part.uses_leavers_account.is_none()
                        && p.termination_date
                            .is_some_and(|last| self.index(last.last_of_month()) + 10 < self.days)
                })
                .map(|p| p.index)
                .collect();
            if leavers.is_empty() {
                break;
            }
            let leaver = org.person(leavers[self.rng.random_range(0..leavers.len())]);
            let by = if nth % 2 == 1 {
                let colleagues: Vec<u32> = org
                    .people
                    .iter()
                    .filter(|q| {
                        let part = &self.people[q.index as usize];
                        q.index != leaver.index
                            && q.same_department(leaver)
                            && q.termination_date.is_none()
                            && q.hire_date <= org.first_day
                            && part.account_used_after_exit.is_none()
                            && part.uses_leavers_account.is_none()
                    })
                    .map(|q| q.index)
                    .collect();
                (!colleagues.is_empty())
                    .then(|| colleagues[self.rng.random_range(0..colleagues.len())])
            } else {
                None
            };
            let how = if by.is_some() {
                ExitUse::Borrowed
            } else {
                ExitUse::Returns
            };
            let Some(termination) = leaver.termination_date else {
                continue;
            };
            let last = self.index(termination);
            let month_end = self.index(termination.last_of_month());
            let next = |planner: &Planner, day: u32| match how {
                ExitUse::Returns => day,
                ExitUse::Borrowed => planner.workday_from(day),
            };
            let mut days = Vec::new();
            let mut day = last + self.rng.random_range(1..=7);
            for _ in 0..self.rng.random_range(2..=5) {
                let use_day = next(self, day);
                if use_day >= self.days || use_day <= last {
                    break;
                }
                days.push(use_day);
                day = use_day + self.rng.random_range(3..=12);
            }
            if days.iter().all(|d| *d <= month_end) {
                let late = month_end + self.rng.random_range(1..=9);
                let late = next(self, late);
                if late < self.days && late > month_end {
                    days.push(late);
                }
            }
            days.sort_unstable();
            days.dedup();
            let number = cases.len() as u32;
            self.people[leaver.index as usize].account_used_after_exit = Some(number);
            if let Some(by) = by {
                self.people[by as usize].uses_leavers_account = Some(number);
            }
            cases.push(AfterExit {
                number,
                leaver: leaver.index,
                how,
                by,
                days,
            });
        }
        cases
    }
}

/// A second within a person's usual working hours on `day` (their actual session that day
/// brackets it, since steps force a session and jitter is small).
fn working_second(rng: &mut SimRng, person: &Person) -> u32 {
    let start = (person.habits.start_minute * 60.0) as u32 + 45 * 60;
    let end = start + (person.habits.day_minutes * 60.0) as u32 - 105 * 60;
    between(rng, start, end.max(start))
}

/// Adds the rows of every incident step, after-exit use, desk account session and careless
/// event scheduled for `day`.
pub fn scripted_day(day: &Day, out: &mut Vec<Record>) {
    for incident in &day.plan.incidents {
        for (_, step) in incident.steps.iter().filter(|(d, _)| *d == day.index) {
            let mut rng = derive(
                day.seed,
                Stream::IncidentDay,
                u64::from(incident.number),
                u64::from(day.index) * 16 + *step as u64,
            );
            incident_step(day, incident, *step, &mut rng, out);
        }
    }
    for case in &day.plan.after_exit {
        if case.days.binary_search(&day.index).is_ok() {
            let mut rng = derive(
                day.seed,
                Stream::AfterExit,
                u64::from(case.number),
                u64::from(day.index),
            );
            after_exit_use(day, case, &mut rng, out);
        }
    }
    for (number, account) in day.org.shared_accounts.iter().enumerate() {
        let from = account.uses.partition_point(|(d, _)| *d < day.index);
        let today = account.uses[from..]
            .iter()
            .take_while(|(d, _)| *d == day.index);
        let mut rng = derive(
            day.seed,
            Stream::SharedDesk,
            number as u64,
            u64::from(day.index),
        );
        for (_, desk) in today {
            shared_desk_use(day, number, account, day.org.person(*desk), &mut rng, out);
        }
    }
    for person in &day.org.people {
        if day
            .plan
            .person(person.index)
            .careless_days
            .binary_search(&day.index)
            .is_ok()
            && person.employed_on(day.date)
        {
            let mut rng = derive(
                day.seed,
                Stream::Careless,
                u64::from(person.index),
                u64::from(day.index),
            );
            careless_mail(day, person, &mut rng, out);
        }
    }
}

fn incident_step(
    day: &Day,
    incident: &Incident,
    step: Step,
    rng: &mut SimRng,
    out: &mut Vec<Record>,
) {
    let org = day.org;
    let actor = org.person(incident.actor);
    let tag = Some(Tag::Incident(incident.number));
    let user = actor.index;
    match step {
        Step::NightUpload => {
            let logon = if rng.random_bool(0.6) {
                between(rng, 1800, 4 * 3600 + 1800)
            } else {
                between(rng, 22 * 3600, 23 * 3600)
            };
            emit(out, rng, logon, user, actor.pc, Body::Logon, tag);
            let connect = logon + rng.random_range(60..900);
            emit(out, rng, connect, user, actor.pc, Body::Connect, tag);
            let mut second = connect;
            for _ in 0..rng.random_range(1..=3) {
                second += rng.random_range(60..600);
                let body = leak_upload(rng);
                emit(out, rng, second, user, actor.pc, body, tag);
            }
            second += rng.random_range(30..300);
            emit(out, rng, second, user, actor.pc, Body::Disconnect, tag);
            let at = second + rng.random_range(30..600);
            emit(out, rng, at, user, actor.pc, Body::Logoff, tag);
        }
        Step::JobSearch => {
            for _ in 0..rng.random_range(1..=4) {
                let second = working_second(rng, actor);
                let body = http_body(rng, Category::JobSearch, HttpAction::Visit, &[]);
                emit(out, rng, second, user, actor.pc, body, tag);
            }
        }
        Step::UsbTheft => {
            // Markedly above the person's own rate, even for a USB-heavy person.
            let usual_files_per_day = actor.habits.usb_per_day * actor.habits.files_per_connect;
            let most = 20.0f64.max(3.0 * usual_files_per_day).round() as u32;
            let (connections, files) = if incident.slow {
                (1, 1..=3)
            } else {
                (rng.random_range(1..=2), (most / 4)..=most)
            };
            for _ in 0..connections {
                let connect = working_second(rng, actor);
                emit(out, rng, connect, user, actor.pc, Body::Connect, tag);
                let mut second = connect;
                for _ in 0..rng.random_range(files.clone()) {
                    second += rng.random_range(5..90);
                    let extension = *pick(rng, &["doc", "pdf", "xls", "zip"]);
                    let body = file_body(rng, extension, SENSITIVE_WORDS);
                    emit(out, rng, second, user, actor.pc, body, tag);
                }
                let at = second + rng.random_range(30..600);
                emit(out, rng, at, user, actor.pc, Body::Disconnect, tag);
            }
        }
        Step::Grumble => {
            let second = working_second(rng, actor);
            let friend = actor
                .contacts
                .first()
                .map_or_else(|| actor.email.clone(), |c| org.person(*c).email.clone());
            let count = rng.random_range(12..24);
            let content = bag_of_words(rng, DISGRUNTLED_WORDS, GENERAL_WORDS, count, 0.6);
            let body = Body::Email {
                to: vec![friend],
                cc: vec![],
                bcc: vec![],
                from: actor.email.clone(),
                size: mail_size(rng),
                attachments: 0,
                content,
            };
            emit(out, rng, second, user, actor.pc, body, tag);
        }
        Step::KeyloggerPrepare => {
            let Some(supervisor) = incident.other.map(|s| org.person(s)) else {
                return;
            };
            let mut second = working_second(rng, actor);
            let body = http_body(
                rng,
                Category::HackingTools,
                HttpAction::Download,
                &["keylogger", "download"],
            );
            emit(out, rng, second, user, actor.pc, body, tag);
            second += rng.random_range(120..1200);
            emit(out, rng, second, user, actor.pc, Body::Connect, tag);
            second += rng.random_range(20..120);
            let body = file_body(rng, "exe", crate::vocab::Category::HackingTools.words());
            emit(out, rng, second, user, actor.pc, body, tag);
            let at = second + rng.random_range(20..300);
            emit(out, rng, at, user, actor.pc, Body::Disconnect, tag);
            // After the supervisor has gone home: install it on the supervisor's PC.
            let supervisor_leaves =
                ((supervisor.habits.start_minute + supervisor.habits.day_minutes) * 60.0) as u32;
            let logon = (supervisor_leaves + rng.random_range(45 * 60..120 * 60))
                .clamp(18 * 3600, 23 * 3600);
            emit(out, rng, logon, user, supervisor.pc, Body::Logon, tag);
            let at = logon + rng.random_range(30..180);
            emit(out, rng, at, user, supervisor.pc, Body::Connect, tag);
            let at = logon + rng.random_range(240..600);
            emit(out, rng, at, user, supervisor.pc, Body::Disconnect, tag);
            let at = logon + rng.random_range(660..900);
            emit(out, rng, at, user, supervisor.pc, Body::Logoff, tag);
        }
        Step::KeyloggerUse => {
            let Some(supervisor) = incident.other.map(|s| org.person(s)) else {
                return;
            };
            // Early, before the supervisor arrives, with the supervisor's captured password.
            let arrival = (supervisor.habits.start_minute * 60.0) as u32;
            let logon = arrival
                .saturating_sub(rng.random_range(50 * 60..110 * 60))
                .max(4 * 3600);
            let boss = supervisor.index;
            emit(out, rng, logon, boss, supervisor.pc, Body::Logon, tag);
            let recipients: Vec<String> = (0..rng.random_range(20..=60))
                .map(|_| org.person(rng.random_range(0..org.people.len()) as u32))
                .filter(|p| p.employed_on(day.date) && p.index != boss)
                .map(|p| p.email.clone())
                .collect();
            let split = recipients.len() / 2;
            let count = rng.random_range(15..30);
            let content = bag_of_words(rng, ALARMING_WORDS, GENERAL_WORDS, count, 0.7);
            let body = Body::Email {
                to: recipients[..split].to_vec(),
                cc: recipients[split..].to_vec(),
                bcc: vec![],
                from: supervisor.email.clone(),
                size: mail_size(rng),
                attachments: 0,
                content,
            };
            let at = logon + rng.random_range(120..600);
            emit(out, rng, at, boss, supervisor.pc, body, tag);
            let at = logon + rng.random_range(700..1200);
            emit(out, rng, at, boss, supervisor.pc, Body::Logoff, tag);
        }
        Step::Snoop => {
            let Some(victim) = incident.other.map(|v| org.person(v)) else {
                return;
            };
            let logon = working_second(rng, actor);
            emit(out, rng, logon, user, victim.pc, Body::Logon, tag);
            let mut second = logon;
            for _ in 0..rng.random_range(1..=3) {
                second += rng.random_range(120..900);
                let count = rng.random_range(10..24);
                let content = bag_of_words(rng, SENSITIVE_WORDS, work_words(victim), count, 0.5);
                let body = Body::Email {
                    to: vec![pick(rng, &actor.home_emails).clone()],
                    cc: vec![],
                    bcc: vec![],
                    from: actor.email.clone(),
                    size: mail_size(rng) + rng.random_range(100_000..2_000_000),
                    attachments: rng.random_range(1..=4),
                    content,
                };
                emit(out, rng, second, user, victim.pc, body, tag);
            }
            let at = second + rng.random_range(60..900);
            emit(out, rng, at, user, victim.pc, Body::Logoff, tag);
        }
        Step::LayoffNews => {
            // Context, not malice: the director's announcement is an ordinary (untagged) row.
            let Some(director) = incident.other.map(|d| org.person(d)) else {
                return;
            };
            let recipients: Vec<String> = org
                .people
                .iter()
                .filter(|p| {
                    p.employed_on(day.date)
                        && p.index != director.index
                        && p.unit.department == director.unit.department
                        && p.unit.functional_unit == director.unit.functional_unit
                })
                .map(|p| p.email.clone())
                .collect();
            let count = rng.random_range(15..30);
            let content = bag_of_words(rng, LAYOFF_WORDS, GENERAL_WORDS, count, 0.6);
            let body = Body::Email {
                to: recipients,
                cc: vec![],
                bcc: vec![],
                from: director.email.clone(),
                size: mail_size(rng),
                attachments: 1,
                content,
            };
            let second = working_second(rng, director);
            emit(out, rng, second, director.index, director.pc, body, None);
        }
        Step::CloudUpload => {
            let uploads = if incident.slow {
                rng.random_range(1..=2)
            } else {
                rng.random_range(2..=6)
            };
            for _ in 0..uploads {
                let second = working_second(rng, actor);
                let body = http_body(
                    rng,
                    Category::CloudStorage,
                    HttpAction::Upload,
                    &SENSITIVE_WORDS[..3],
                );
                emit(out, rng, second, user, actor.pc, body, tag);
            }
        }
    }
}

/// One session of a leaver's account after the last day: some browsing, and on most days
/// documents copied to a USB drive or uploaded to cloud storage.
fn after_exit_use(day: &Day, case: &AfterExit, rng: &mut SimRng, out: &mut Vec<Record>) {
    let org = day.org;
    let tag = Some(Tag::AfterExit(case.number));
    let leaver = org.person(case.leaver);
    let account = leaver.index;
    let (pc, logon, words) = match case.by.map(|b| org.person(b)) {
        Some(colleague) => (
            colleague.pc,
            working_second(rng, colleague),
            work_words(colleague),
        ),
        None if day.workday => (
            leaver.pc,
            between(rng, 19 * 3600, 23 * 3600),
            work_words(leaver),
        ),
        None => (
            leaver.pc,
            between(rng, 10 * 3600, 17 * 3600),
            work_words(leaver),
        ),
    };
    emit(out, rng, logon, account, pc, Body::Logon, tag);
    let mut second = logon;
    for _ in 0..rng.random_range(1..=3) {
        second += rng.random_range(60..900);
        let category = *pick(
            rng,
            &[Category::Search, Category::News, Category::Reference],
        );
        let body = http_body(rng, category, HttpAction::Visit, &[]);
        emit(out, rng, second, account, pc, body, tag);
    }
    if rng.random_bool(0.5) {
        second += rng.random_range(60..600);
        emit(out, rng, second, account, pc, Body::Connect, tag);
        for _ in 0..rng.random_range(1..=8) {
            second += rng.random_range(5..90);
            let extension = *pick(rng, &["doc", "pdf", "xls", "zip"]);
            let body = file_body(rng, extension, words);
            emit(out, rng, second, account, pc, body, tag);
        }
        second += rng.random_range(30..300);
        emit(out, rng, second, account, pc, Body::Disconnect, tag);
    } else if rng.random_bool(0.5) {
        second += rng.random_range(60..600);
        let body = http_body(
            rng,
            Category::CloudStorage,
            HttpAction::Upload,
            &SENSITIVE_WORDS[..3],
        );
        emit(out, rng, second, account, pc, body, tag);
    }
    let at = second + rng.random_range(60..1800);
    emit(out, rng, at, account, pc, Body::Logoff, tag);
}

/// One session of a desk account on a desk member's own PC in their working hours: a few
/// reference pages, now and then a short mail to one of the desk member's contacts, signed
/// with the account's own address.
fn shared_desk_use(
    day: &Day,
    number: usize,
    account: &SharedAccount,
    desk: &Person,
    rng: &mut SimRng,
    out: &mut Vec<Record>,
) {
    let org = day.org;
    let tag = Some(Tag::Shared(number as u32));
    let user = (org.people.len() + number) as u32;
    let logon = working_second(rng, desk);
    emit(out, rng, logon, user, desk.pc, Body::Logon, tag);
    let mut second = logon;
    for _ in 0..rng.random_range(1..=3) {
        second += rng.random_range(60..600);
        let category = *pick(
            rng,
            &[Category::Search, Category::Reference, Category::News],
        );
        let body = http_body(rng, category, HttpAction::Visit, &[]);
        emit(out, rng, second, user, desk.pc, body, tag);
    }
    if rng.random_bool(0.3) && !desk.contacts.is_empty() {
        second += rng.random_range(60..600);
        let to = org.person(*pick(rng, &desk.contacts)).email.clone();
        let count = rng.random_range(8..20);
        let body = Body::Email {
            to: vec![to],
            cc: vec![],
            bcc: vec![],
            from: format!("{}@{ORG_DOMAIN}", account.name),
            size: mail_size(rng),
            attachments: 0,
            content: bag_of_words(rng, work_words(desk), GENERAL_WORDS, count, 0.5),
        };
        emit(out, rng, second, user, desk.pc, body, tag);
    }
    let at = second + rng.random_range(120..1800);
    emit(out, rng, at, user, desk.pc, Body::Logoff, tag);
}

fn leak_upload(rng: &mut SimRng) -> Body {
    let mut body = http_body(rng, Category::Leak, HttpAction::Upload, &[]);
    if let Body::Http { url, domain, .. } = &mut body {
        // CERT's scenario 1 uploads to wikileaks.org itself.
        if *domain != "wikileaks.org" {
            *url = url.replacen(*domain, "wikileaks.org", 1);
            *domain = "wikileaks.org";
        }
    }
    body
}

/// A careless mail: to a look-alike of a known domain, or to many outside addresses at once.
fn careless_mail(day: &Day, person: &Person, rng: &mut SimRng, out: &mut Vec<Record>) {
    let tag = Some(Tag::Careless(person.index));
    let second = working_second(rng, person);
    let mut to = Vec::new();
    let mut cc = Vec::new();
    if rng.random_bool(0.5) {
        let (local, domain) = match person
            .external_contacts
            .first()
            .and_then(|c| c.split_once('@'))
        {
            Some((local, domain)) if rng.random_bool(0.5) => {
                (local.to_string(), domain.to_string())
            }
            _ => {
                let colleague = day.org.person(*pick(
                    rng,
                    &person
                        .contacts
                        .clone()
                        .into_iter()
                        .chain([person.index])
                        .collect::<Vec<_>>(),
                ));
                let local = colleague
                    .email
                    .split('@')
                    .next()
                    .unwrap_or("user")
                    .to_string();
                (local, ORG_DOMAIN.to_string())
            }
        };
        to.push(format!("{local}@{}", look_alike(rng, &domain)));
    } else {
        for _ in 0..rng.random_range(8..=25) {
            let address = format!(
                "{}_{}@{}",
                pick(rng, crate::vocab::FIRST_NAMES),
                pick(rng, crate::vocab::LAST_NAMES),
                pick(rng, PARTNER_DOMAINS)
            );
            if rng.random_bool(0.6) {
                to.push(address)
            } else {
                cc.push(address)
            }
        }
    }
    let count = rng.random_range(10..30);
    let content = bag_of_words(rng, work_words(person), GENERAL_WORDS, count, 0.5);
    let attachments = rng.random_range(0..=2);
    let body = Body::Email {
        to,
        cc,
        bcc: vec![],
        from: person.email.clone(),
        size: mail_size(rng),
        attachments,
        content,
    };
    emit(out, rng, second, person.index, person.pc, body, tag);
}

/// A typo-squatted form of `domain` (`example.com` → `examp1e.com`, `exmaple.com`, `example.co`…).
pub fn look_alike(rng: &mut SimRng, domain: &str) -> String {
    let (name, tld) = domain.rsplit_once('.').unwrap_or((domain, "com"));
    for _ in 0..8 {
        let candidate = match rng.random_range(0..5) {
            0 => format!("{}.{tld}", name.replacen('l', "1", 1).replacen('o', "0", 1)),
            1 if name.len() > 3 => {
                let mut chars: Vec<char> = name.chars().collect();
                let at = rng.random_range(1..chars.len() - 1);
                chars.swap(at, at + 1);
                format!("{}.{tld}", chars.into_iter().collect::<String>())
            }
            2 => format!("{name}.{}", if tld == "com" { "co" } else { "com" }),
            3 => format!(
                "{}.{tld}",
                name.replacen('m', "rn", 1).replacen('a', "4", 1)
            ),
            _ => {
                let mut chars: Vec<char> = name.chars().collect();
                let at = rng.random_range(0..chars.len());
                let doubled = chars[at];
                chars.insert(at, doubled);
                format!("{}.{tld}", chars.into_iter().collect::<String>())
            }
        };
        if candidate != domain {
            return candidate;
        }
    }
    format!("{name}-mail.{tld}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    #[test]
    fn look_alikes_differ_from_the_original() {
        let mut rng = derive(3, Stream::Plan, 0, 0);
        for domain in ["example.com", "dtaa.com", "lockheedmartin.com", "gd.com"] {
            for _ in 0..50 {
                let fake = look_alike(&mut rng, domain);
                assert_ne!(fake, domain);
            }
        }
    }

    #[test]
    fn realistic_profile_has_one_of_each_family_from_200_people() {
        for family in Family::ALL {
            assert_eq!(insiders_per_family(Profile::Realistic, 200, family), 1);
            assert_eq!(insiders_per_family(Profile::Realistic, 150, family), 0);
            assert!(insiders_per_family(Profile::Dense, 1000, family) >= 4);
        }
        let dense: usize = Family::ALL
            .iter()
            .map(|f| insiders_per_family(Profile::Dense, 1000, *f))
            .sum();
        assert!((45..=55).contains(&dense), "{dense}");
    }
}
