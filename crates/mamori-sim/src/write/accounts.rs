//! `accounts.csv` (both formats): the directory's account inventory as of the last day, in the
//! canonical columns `mamori import accounts` reads ([`ACCOUNT_CSV_COLUMNS`], docs/accounts.md),
//! source `ad`: one row per person's account, then the dormant admin and orphan contractor
//! accounts, then the desk accounts ([`crate::inventory`]).
//!
//! Each account's last sign-in is its last `Logon` row in the data, so [`Inventory`] watches the
//! rows as days are written and keeps one time per account — never the rows themselves.

use std::path::Path;

use jiff::civil::Date;
use mamori_event::ACCOUNT_CSV_COLUMNS;

use super::{FileStats, create, csv_writer, file_size};
use crate::Format;
use crate::calendar::DayStamp;
use crate::error::SimError;
use crate::inventory::{
    Directory, before_the_period, is_privileged, person_created, person_groups, unit_group,
};
use crate::org::Organisation;
use crate::record::{Body, Record};
use crate::rng::{Stream, derive};

/// The directory every row comes from.
pub const SOURCE: &str = "ad";

/// The last sign-in of every account, as the rows go by.
pub struct Inventory {
    /// `(day, second)` of the latest `Logon` row, by the rows' `user` index.
    last_logon: Vec<Option<(Date, u32)>>,
}

impl Inventory {
    pub fn new(org: &Organisation) -> Self {
        Inventory {
            last_logon: vec![None; org.account_count()],
        }
    }

    /// Notes the logons of `date`'s rows (sorted by time; days come in order).
    pub fn observe(&mut self, date: Date, records: &[Record]) {
        for record in records {
            if !matches!(record.body, Body::Logon) {
                continue;
            }
            if let Some(slot) = self.last_logon.get_mut(record.user as usize) {
                *slot = Some((date, record.second));
            }
        }
    }

    /// The latest logon of the account a row's `user` designates.
    pub fn last_logon(&self, user: u32) -> Option<(Date, u32)> {
        self.last_logon.get(user as usize).copied().flatten()
    }

    /// Writes `accounts.csv` under `dir`. `person_id` is what the format's HR data calls the
    /// person: the user id in the CERT layout (its importer makes persons of LDAP user ids),
    /// the `E00001` number of `hr.csv` in the NDJSON one.
    pub fn write(
        &self,
        dir: &Path,
        org: &Organisation,
        directory: &Directory,
        format: Format,
        seed: u64,
    ) -> Result<FileStats, SimError> {
        let path = dir.join("accounts.csv");
        let mut writer = csv_writer(create(&path)?);
        writer
            .write_record(ACCOUNT_CSV_COLUMNS)
            .map_err(SimError::csv(&path))?;
        let person_id = |index: u32| {
            let person = org.person(index);
            match format {
                Format::Cert => person.user_id.clone(),
                Format::Ndjson => person.person_id.clone(),
            }
        };
        let mut rows = 0;
        for person in &org.people {
            let mut rng = derive(seed, Stream::Accounts, 1, u64::from(person.index));
            let created = person_created(person, &mut rng);
            let mfa = directory.mfa(person, &mut rng);
            // Someone employed before the period who never signs in during it last did so
            // before it.
            let last_logon = self.last_logon(person.index).or_else(|| {
                (person.hire_date < org.first_day).then(|| before_the_period(org, person))
            });
            writer
                .write_record([
                    person.user_id.as_str(),
                    SOURCE,
                    &person_id(person.index),
                    &person.name,
                    flag(directory.enabled(org, person)),
                    &time(Some(created)),
                    &time(last_logon),
                    flag(mfa),
                    flag(is_privileged(person)),
                    &person_groups(person).join(";"),
                ])
                .map_err(SimError::csv(&path))?;
            rows += 1;
        }
        for account in &directory.extra {
            writer
                .write_record([
                    account.name.as_str(),
                    SOURCE,
                    &account.owner.map(person_id).unwrap_or_default(),
                    &account.display_name,
                    flag(true),
                    &time(Some(account.created)),
                    &time(account.last_logon),
                    flag(true),
                    flag(account.privileged),
                    &account.groups.join(";"),
                ])
                .map_err(SimError::csv(&path))?;
            rows += 1;
        }
        for (number, account) in org.shared_accounts.iter().enumerate() {
            let owner = org.person(account.owner);
            let user = (org.people.len() + number) as u32;
            // Desk accounts rarely have a second factor (whose phone would it be?), which no
            // check holds against an account that is not privileged.
            writer
                .write_record([
                    account.name.as_str(),
                    SOURCE,
                    &person_id(account.owner),
                    &account.display_name,
                    flag(true),
                    &time(Some(account.created)),
                    &time(self.last_logon(user)),
                    flag(false),
                    flag(false),
                    &unit_group(&owner.unit),
                ])
                .map_err(SimError::csv(&path))?;
            rows += 1;
        }
        writer.flush().map_err(SimError::io(&path))?;
        drop(writer);
        Ok(FileStats {
            file: "accounts.csv".into(),
            rows,
            bytes: file_size(&path)?,
        })
    }
}

fn flag(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// `YYYY-MM-DDTHH:MM:SS` (local time, as the rows' times), empty for none.
fn time(value: Option<(Date, u32)>) -> String {
    value.map_or_else(String::new, |(date, second)| {
        DayStamp::new(date).local_time(second)
    })
}
