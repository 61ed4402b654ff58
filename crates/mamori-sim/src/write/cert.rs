//! `--format cert`: the CERT r4.2 files (`logon.csv`, `device.csv`, `file.csv`, `http.csv`,
//! `email.csv`, `psychometric.csv`, `LDAP/YYYY-MM.csv`), each with its header line.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use jiff::civil::Date;

use super::{FileStats, Sink, create, csv_writer, file_size, write_cert_fields};
use crate::calendar::DayStamp;
use crate::error::SimError;
use crate::org::{BUSINESS_UNIT, Organisation};
use crate::record::{FileType, Record};

/// Header of each activity file, in [`FileType::ALL`] order.
pub const HEADERS: [&[&str]; 5] = [
    &["id", "date", "user", "pc", "activity"],
    &["id", "date", "user", "pc", "activity"],
    &["id", "date", "user", "pc", "filename", "content"],
    &["id", "date", "user", "pc", "url", "content"],
    &[
        "id",
        "date",
        "user",
        "pc",
        "to",
        "cc",
        "bcc",
        "from",
        "size",
        "attachments",
        "content",
    ],
];

pub const LDAP_HEADER: [&str; 9] = [
    "employee_name",
    "user_id",
    "email",
    "role",
    "business_unit",
    "functional_unit",
    "department",
    "team",
    "supervisor",
];
pub const PSYCHOMETRIC_HEADER: [&str; 7] = ["employee_name", "user_id", "O", "C", "E", "A", "N"];

pub struct CertSink {
    paths: Vec<PathBuf>,
    writers: Vec<csv::Writer<BufWriter<File>>>,
    rows: [u64; 5],
    extra: Vec<FileStats>,
}

impl CertSink {
    /// Creates the activity files and writes the LDAP snapshots and psychometric scores.
    pub fn create(dir: &Path, org: &Organisation) -> Result<Self, SimError> {
        let mut paths = Vec::new();
        let mut writers = Vec::new();
        for (file_type, header) in FileType::ALL.iter().zip(HEADERS) {
            let path = dir.join(format!("{}.csv", file_type.as_str()));
            let mut writer = csv_writer(create(&path)?);
            writer.write_record(header).map_err(SimError::csv(&path))?;
            paths.push(path);
            writers.push(writer);
        }
        let mut extra = write_ldap(dir, org)?;
        extra.push(write_psychometric(dir, org)?);
        Ok(CertSink {
            paths,
            writers,
            rows: [0; 5],
            extra,
        })
    }
}

impl Sink for CertSink {
    fn write_day(
        &mut self,
        org: &Organisation,
        stamp: &DayStamp,
        records: &[Record],
    ) -> Result<(), SimError> {
        for record in records {
            let index = record.file_type().index();
            write_cert_fields(&mut self.writers[index], org, stamp, record)
                .map_err(SimError::csv(&self.paths[index]))?;
            self.rows[index] += 1;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Vec<FileStats>, SimError> {
        let mut stats = Vec::new();
        for ((mut writer, path), rows) in self.writers.into_iter().zip(self.paths).zip(self.rows) {
            writer.flush().map_err(SimError::io(&path))?;
            drop(writer);
            stats.push(FileStats {
                file: file_name(&path),
                rows,
                bytes: file_size(&path)?,
            });
        }
        stats.extend(self.extra);
        Ok(stats)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// One snapshot per calendar month of the period, taken at its end as CERT's are (the r1
/// readme): it lists everyone employed on the month's last day (or the period's, in its last
/// month), so a person who leaves mid-month is absent from the month they left in.
fn write_ldap(dir: &Path, org: &Organisation) -> Result<Vec<FileStats>, SimError> {
    let mut month = org.first_day.first_of_month();
    let mut rows = 0;
    let mut bytes = 0;
    let mut snapshots = 0;
    while month <= org.last_day {
        let taken = month.last_of_month().min(org.last_day);
        let path = dir
            .join("LDAP")
            .join(format!("{:04}-{:02}.csv", month.year(), month.month()));
        let mut writer = csv_writer(create(&path)?);
        writer
            .write_record(LDAP_HEADER)
            .map_err(SimError::csv(&path))?;
        for person in org.people.iter().filter(|p| p.employed_on(taken)) {
            let supervisor = person
                .supervisor
                .map_or("", |s| org.person(s).name.as_str());
            writer
                .write_record([
                    person.name.as_str(),
                    &person.user_id,
                    &person.email,
                    person.role.as_str(),
                    BUSINESS_UNIT,
                    person.unit.functional_unit_name(),
                    person.unit.department.unwrap_or(""),
                    person.unit.team.unwrap_or(""),
                    supervisor,
                ])
                .map_err(SimError::csv(&path))?;
            rows += 1;
        }
        writer.flush().map_err(SimError::io(&path))?;
        drop(writer);
        bytes += file_size(&path)?;
        snapshots += 1;
        month = next_month(month);
    }
    Ok(vec![FileStats {
        file: format!("LDAP/ ({snapshots} snapshots)"),
        rows,
        bytes,
    }])
}

fn next_month(month: Date) -> Date {
    month.last_of_month().tomorrow().unwrap_or(Date::MAX)
}

fn write_psychometric(dir: &Path, org: &Organisation) -> Result<FileStats, SimError> {
    let path = dir.join("psychometric.csv");
    let mut writer = csv_writer(create(&path)?);
    writer
        .write_record(PSYCHOMETRIC_HEADER)
        .map_err(SimError::csv(&path))?;
    for person in &org.people {
        let [o, c, e, a, n] = person.psychometric.map(|score| score.to_string());
        writer
            .write_record([person.name.as_str(), &person.user_id, &o, &c, &e, &a, &n])
            .map_err(SimError::csv(&path))?;
    }
    writer.flush().map_err(SimError::io(&path))?;
    drop(writer);
    Ok(FileStats {
        file: "psychometric.csv".into(),
        rows: org.people.len() as u64,
        bytes: file_size(&path)?,
    })
}
