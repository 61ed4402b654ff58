//! The answer key, in the official CERT layout (`answers/insiders.csv` and one file per
//! incident, `answers/r4.2-<scenario>/r4.2-<scenario>-<USER>.csv`, whose rows are the file type
//! followed by the data row exactly as written in the data file), the identity-hygiene key in
//! the same style (`answers/hygiene.csv`, with the rows of accounts used after the last day in
//! `answers/hygiene/after-exit-<n>-<USER>.csv` and those of desk accounts in
//! `answers/hygiene/shared-<n>-<ACCOUNT>.csv`), and our own `answers/truth.ndjson` with one
//! object per person.
//!
//! Only the rows of malicious incidents, careless events and hygiene cases are kept in memory
//! (a few per case per day), never the background activity.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::{FileStats, create, csv_writer, file_size, write_cert_fields};
use crate::calendar::{DayStamp, iso};
use crate::error::SimError;
use crate::inventory::Directory;
use crate::org::Organisation;
use crate::record::{Record, Tag};
use crate::scenario::{Leaving, Plan};

/// `dataset` column of `insiders.csv`.
pub const DATASET: &str = "4.2";
pub const INSIDERS_HEADER: [&str; 6] = ["dataset", "scenario", "details", "user", "start", "end"];
/// Columns of `hygiene.csv`: the `mamori hygiene` check that must fire, the case's variant
/// (`returns`, `borrowed`, `not_disabled`, …), the account, who used it (the colleague of a
/// `borrowed` case, the desk staff of a shared account), the owner's last day (leavers), the
/// first and last row's date, their number and the rows' file. Columns that do not apply are
/// empty (`rows` 0).
pub const HYGIENE_HEADER: [&str; 9] = [
    "check",
    "variant",
    "user",
    "by",
    "termination_date",
    "start",
    "end",
    "rows",
    "details",
];

#[derive(Default)]
struct Trail {
    /// The answer file's bytes (type column + data row, one per line).
    lines: Vec<u8>,
    rows: u64,
    ids: Vec<String>,
    first: Option<String>,
    last: Option<String>,
}

impl Trail {
    /// Writes the rows to their answer file.
    fn write_to(&self, path: &Path) -> Result<(), SimError> {
        let mut file = create(path)?;
        file.write_all(&self.lines).map_err(SimError::io(path))?;
        file.flush().map_err(SimError::io(path))
    }

    fn push(&mut self, org: &Organisation, stamp: &DayStamp, record: &Record) -> csv::Result<()> {
        let mut writer = csv_writer(Vec::new());
        writer.write_field(record.file_type().as_str())?;
        write_cert_fields(&mut writer, org, stamp, record)?;
        let bytes = writer
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))?;
        self.lines.extend_from_slice(&bytes);
        self.rows += 1;
        self.ids.push(record.id.as_str().to_string());
        let time = stamp.cert_time(record.second);
        if self.first.is_none() {
            self.first = Some(time.clone());
        }
        self.last = Some(time);
        Ok(())
    }
}

/// Collects tagged rows as days are written.
pub struct Answers {
    incidents: Vec<Trail>,
    careless: Vec<Trail>,
    after_exit: Vec<Trail>,
    shared: Vec<Trail>,
}

impl Answers {
    pub fn new(plan: &Plan, org: &Organisation) -> Self {
        Answers {
            incidents: plan.incidents.iter().map(|_| Trail::default()).collect(),
            careless: (0..org.people.len()).map(|_| Trail::default()).collect(),
            after_exit: plan.after_exit.iter().map(|_| Trail::default()).collect(),
            shared: org
                .shared_accounts
                .iter()
                .map(|_| Trail::default())
                .collect(),
        }
    }

    pub fn observe(
        &mut self,
        org: &Organisation,
        stamp: &DayStamp,
        records: &[Record],
    ) -> Result<(), SimError> {
        for record in records {
            let trail = match record.tag {
                Some(Tag::Incident(n)) => &mut self.incidents[n as usize],
                Some(Tag::Careless(person)) => &mut self.careless[person as usize],
                Some(Tag::AfterExit(n)) => &mut self.after_exit[n as usize],
                Some(Tag::Shared(n)) => &mut self.shared[n as usize],
                None => continue,
            };
            trail
                .push(org, stamp, record)
                .map_err(SimError::csv("answers"))?;
        }
        Ok(())
    }

    /// Writes `answers/` under `dir`.
    pub fn write(
        self,
        dir: &Path,
        org: &Organisation,
        plan: &Plan,
        directory: &Directory,
    ) -> Result<Vec<FileStats>, SimError> {
        let answers = dir.join("answers");
        let insiders_path = answers.join("insiders.csv");
        let mut insiders = csv_writer(create(&insiders_path)?);
        insiders
            .write_record(INSIDERS_HEADER)
            .map_err(SimError::csv(&insiders_path))?;
        let mut incident_rows = 0;
        let mut incident_bytes = 0;
        for (incident, trail) in plan.incidents.iter().zip(&self.incidents) {
            let (Some(start), Some(end)) = (&trail.first, &trail.last) else {
                continue;
            };
            let user = &org.person(incident.actor).user_id;
            let scenario = incident.family.number().to_string();
            let details = format!("r{DATASET}-{scenario}-{user}.csv");
            insiders
                .write_record([DATASET, &scenario, &details, user, start, end])
                .map_err(SimError::csv(&insiders_path))?;
            let path = answers
                .join(format!("r{DATASET}-{scenario}"))
                .join(&details);
            trail.write_to(&path)?;
            incident_rows += trail.rows;
            incident_bytes += trail.lines.len() as u64;
        }
        insiders.flush().map_err(SimError::io(&insiders_path))?;
        drop(insiders);
        let hygiene = self.write_hygiene(&answers, org, plan, directory)?;
        let truth = write_truth(&answers, org, plan, &self)?;
        let mut stats = vec![
            FileStats {
                file: "answers/insiders.csv".into(),
                rows: plan.incidents.len() as u64,
                bytes: file_size(&insiders_path)?,
            },
            FileStats {
                file: "answers/r4.2-*/ (malicious rows)".into(),
                rows: incident_rows,
                bytes: incident_bytes,
            },
        ];
        stats.extend(hygiene);
        stats.push(truth);
        Ok(stats)
    }

    /// `hygiene.csv` and the rows of each after-exit case, then the inventory's seeded cases
    /// and the desk accounts with their rows.
    fn write_hygiene(
        &self,
        answers: &Path,
        org: &Organisation,
        plan: &Plan,
        directory: &Directory,
    ) -> Result<Vec<FileStats>, SimError> {
        let key_path = answers.join("hygiene.csv");
        let mut key = csv_writer(create(&key_path)?);
        key.write_record(HYGIENE_HEADER)
            .map_err(SimError::csv(&key_path))?;
        let (mut rows, mut bytes, mut cases) = (0, 0, 0);
        for (case, trail) in plan.after_exit.iter().zip(&self.after_exit) {
            let (Some(start), Some(end)) = (&trail.first, &trail.last) else {
                continue;
            };
            let leaver = org.person(case.leaver);
            let by = case.by.map_or("", |b| org.person(b).user_id.as_str());
            let termination = leaver.termination_date.map(iso).unwrap_or_default();
            let details = format!("after-exit-{}-{}.csv", case.number, leaver.user_id);
            key.write_record([
                "account_used_after_termination",
                case.how.name(),
                &leaver.user_id,
                by,
                &termination,
                start,
                end,
                &trail.rows.to_string(),
                &details,
            ])
            .map_err(SimError::csv(&key_path))?;
            let path = answers.join("hygiene").join(&details);
            trail.write_to(&path)?;
            rows += trail.rows;
            bytes += trail.lines.len() as u64;
            cases += 1;
        }
        // Inventory cases have no rows: the directory export is their evidence.
        let mut inventory_cases: Vec<[&str; 4]> = Vec::new();
        let terminations: Vec<String> = directory
            .enabled_leavers
            .iter()
            .map(|leaver| {
                org.person(*leaver)
                    .termination_date
                    .map(iso)
                    .unwrap_or_default()
            })
            .collect();
        for (leaver, termination) in directory.enabled_leavers.iter().zip(&terminations) {
            let user = org.person(*leaver).user_id.as_str();
            inventory_cases.push(["leaver_account_enabled", "not_disabled", user, termination]);
        }
        for &admin in &directory.admins_without_mfa {
            let user = org.person(admin).user_id.as_str();
            inventory_cases.push(["privileged_without_mfa", "admin_without_mfa", user, ""]);
        }
        for account in &directory.extra {
            let (check, variant) = (account.kind.check(), account.kind.variant());
            inventory_cases.push([check, variant, &account.name, ""]);
        }
        for [check, variant, account, last_day] in inventory_cases {
            key.write_record([check, variant, account, "", last_day, "", "", "0", ""])
                .map_err(SimError::csv(&key_path))?;
            cases += 1;
        }
        for (number, (account, trail)) in org.shared_accounts.iter().zip(&self.shared).enumerate() {
            key.write_record([
                "generic_account_name",
                "front_desk",
                &account.name,
                "",
                "",
                "",
                "",
                "0",
                "",
            ])
            .map_err(SimError::csv(&key_path))?;
            cases += 1;
            let (Some(start), Some(end)) = (&trail.first, &trail.last) else {
                continue;
            };
            let desks: Vec<&str> = account
                .desks
                .iter()
                .map(|desk| org.person(*desk).user_id.as_str())
                .collect();
            let details = format!("shared-{number}-{}.csv", account.name);
            key.write_record([
                "shared_account",
                "front_desk",
                &account.name,
                &desks.join(";"),
                "",
                start,
                end,
                &trail.rows.to_string(),
                &details,
            ])
            .map_err(SimError::csv(&key_path))?;
            cases += 1;
            let path = answers.join("hygiene").join(&details);
            trail.write_to(&path)?;
            rows += trail.rows;
            bytes += trail.lines.len() as u64;
        }
        key.flush().map_err(SimError::io(&key_path))?;
        drop(key);
        Ok(vec![
            FileStats {
                file: "answers/hygiene.csv".into(),
                rows: cases,
                bytes: file_size(&key_path)?,
            },
            FileStats {
                file: "answers/hygiene/ (after-exit, shared rows)".into(),
                rows,
                bytes,
            },
        ])
    }
}

/// One line of `truth.ndjson`.
#[derive(Serialize)]
struct Truth<'a> {
    user: &'a str,
    person_id: &'a str,
    name: &'a str,
    role: &'static str,
    /// The family name for insiders; otherwise the most telling benign part: `careless`,
    /// `laid_off`, `benign_leaver`, `joiner`, `after_hours_worker`, `weekend_worker`,
    /// `usb_heavy`, `cloud_user` or `normal`. (Whether an account was used after its owner
    /// left is in `traits` and `answers/hygiene.csv`.)
    label: &'static str,
    malicious: bool,
    /// CERT scenario number (1–5) for insiders.
    scenario: Option<u32>,
    /// Insider variants: `stays` (does not leave), `slow` (low volume over many weeks).
    variants: Vec<&'static str>,
    /// Every benign trait that can look like a signal.
    traits: Vec<&'static str>,
    /// First and last malicious or careless row (`MM/DD/YYYY HH:MM:SS`).
    start: Option<&'a str>,
    end: Option<&'a str>,
    /// The other account involved (family 3: the supervisor whose account is abused; family
    /// 4: the colleague whose PC is used).
    other_user: Option<&'a str>,
    hire_date: String,
    notice_date: Option<String>,
    termination_date: Option<String>,
    /// Ids of the malicious or careless rows.
    ids: &'a [String],
}

fn write_truth(
    answers: &Path,
    org: &Organisation,
    plan: &Plan,
    collected: &Answers,
) -> Result<FileStats, SimError> {
    let path = answers.join("truth.ndjson");
    let mut file = create(&path)?;
    let no_ids: Vec<String> = Vec::new();
    for person in &org.people {
        let part = plan.person(person.index);
        let habits = &person.habits.traits;
        let mut traits = Vec::new();
        for (present, name) in [
            (part.joiner, "joiner"),
            (part.leaving == Some(Leaving::Benign), "benign_leaver"),
            (part.leaving == Some(Leaving::LaidOff), "laid_off"),
            (part.job_hunting, "job_site_browsing"),
            (habits.after_hours, "after_hours_worker"),
            (habits.weekend, "weekend_worker"),
            (habits.usb_heavy, "usb_heavy"),
            (habits.cloud_user, "cloud_user"),
            (!part.careless_days.is_empty(), "careless"),
            (
                part.account_used_after_exit.is_some(),
                "account_used_after_exit",
            ),
            (
                part.uses_leavers_account.is_some(),
                "uses_a_leavers_account",
            ),
        ] {
            if present {
                traits.push(name);
            }
        }
        let incident = part.incident.map(|n| &plan.incidents[n as usize]);
        let trail = match incident {
            Some(incident) => Some(&collected.incidents[incident.number as usize]),
            None if !part.careless_days.is_empty() => {
                Some(&collected.careless[person.index as usize])
            }
            None => None,
        };
        let label = match incident {
            Some(incident) => incident.family.name(),
            None => [
                "careless",
                "laid_off",
                "benign_leaver",
                "joiner",
                "after_hours_worker",
                "weekend_worker",
                "usb_heavy",
                "cloud_user",
            ]
            .into_iter()
            .find(|label| traits.contains(label))
            .unwrap_or("normal"),
        };
        let mut variants = Vec::new();
        if let Some(incident) = incident {
            if !incident.leaves {
                variants.push("stays");
            }
            if incident.slow {
                variants.push("slow");
            }
        }
        let truth = Truth {
            user: &person.user_id,
            person_id: &person.person_id,
            name: &person.name,
            role: person.role.as_str(),
            label,
            malicious: incident.is_some(),
            scenario: incident.map(|i| i.family.number()),
            variants,
            traits,
            start: trail.and_then(|t| t.first.as_deref()),
            end: trail.and_then(|t| t.last.as_deref()),
            other_user: incident
                .and_then(|i| i.other)
                .filter(|_| incident.is_some_and(|i| i.family.number() != 5))
                .map(|o| org.person(o).user_id.as_str()),
            hire_date: iso(person.hire_date),
            notice_date: person.notice_date.map(iso),
            termination_date: person.termination_date.map(iso),
            ids: trail.map_or(&no_ids, |t| &t.ids),
        };
        serde_json::to_writer(&mut file, &truth).map_err(|source| SimError::Json {
            path: path.clone(),
            source,
        })?;
        file.write_all(b"\n").map_err(SimError::io(&path))?;
    }
    file.flush().map_err(SimError::io(&path))?;
    drop(file);
    Ok(FileStats {
        file: "answers/truth.ndjson".into(),
        rows: org.people.len() as u64,
        bytes: file_size(&path)?,
    })
}
