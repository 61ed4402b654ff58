//! LDAP snapshots → time-versioned person records, and the psychometric scores.
//!
//! Each `LDAP/YYYY-MM.csv` lists the employees of that month (the r1 readme: "a user that
//! departs / is terminated in the middle of the month will be listed in the previous month,
//! but not in the month that he/she is terminated"). Reading them in order:
//!
//! - present in the first snapshot: a version valid from that month, hire date unknown;
//! - first seen in a later snapshot: a version valid from that month, hired on its first day;
//! - an attribute changed (department, team, role, supervisor, …): a new version from the
//!   first day of the month it is first seen;
//! - missing from a snapshot after being present: left. A version from the first day of the
//!   first month missing, with `termination_date` the *last* day of that month. The real last
//!   day lies within that month and the snapshots cannot say which; the latest possible day is
//!   taken so that nothing in it is called "after the last day" (`mamori hygiene` raises a
//!   critical finding for that), at the cost of missing uses between the real last day and
//!   the month's end;
//! - present again after missing: rehired. A version from that month with `hire_date` its
//!   first day and no termination date.
//!
//! `supervisor` holds the supervisor's name; it becomes the supervisor's `user_id` when exactly
//! one employee of the same snapshot has that name, and stays the name otherwise.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use csv::ByteRecord;
use jiff::civil::Date;
use mamori_event::PersonRecord;

use super::CertError;
use super::source::csv_reader;
use crate::{Location, Rejected};

/// Every person's versions, built from the LDAP snapshots.
#[derive(Debug, Clone)]
pub struct LdapHistory {
    /// First day of each snapshot month, oldest first.
    pub months: Vec<Date>,
    /// Sorted by `person_id`, then `valid_from`.
    pub records: Vec<PersonRecord>,
    /// Rows that could not be read (the rest of the snapshot is used).
    pub rejected: Vec<Rejected>,
}

impl LdapHistory {
    /// The versions of one person, oldest first.
    pub fn versions(&self, person_id: &str) -> &[PersonRecord] {
        let start = self
            .records
            .partition_point(|record| record.person_id.as_str() < person_id);
        let end = self
            .records
            .partition_point(|record| record.person_id.as_str() <= person_id);
        &self.records[start..end]
    }
}

/// The `YYYY-MM.csv` files of an LDAP directory with the first day of their month, oldest first.
pub(crate) fn snapshot_files(ldap_dir: &Path) -> Result<Vec<(Date, PathBuf)>, CertError> {
    let display = ldap_dir.display().to_string();
    let mut snapshots = Vec::new();
    for entry in fs::read_dir(ldap_dir).map_err(|error| CertError::io(&display, error))? {
        let entry = entry.map_err(|error| CertError::io(&display, error))?;
        let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
        if let Some(month) = name.strip_suffix(".csv").and_then(month_of) {
            snapshots.push((month, entry.path()));
        }
    }
    snapshots.sort();
    Ok(snapshots)
}

fn month_of(stem: &str) -> Option<Date> {
    let (year, month) = stem.split_once('-')?;
    if year.len() != 4 || month.len() != 2 {
        return None;
    }
    Date::new(year.parse().ok()?, month.parse().ok()?, 1).ok()
}

/// The LDAP directory of a dataset directory (`LDAP/`, any case), or `dir` itself.
fn ldap_dir_of(dir: &Path) -> PathBuf {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_name().eq_ignore_ascii_case("ldap") && entry.path().is_dir() {
                return entry.path();
            }
        }
    }
    dir.to_path_buf()
}

/// Reads every snapshot under `dir` (a dataset directory or its `LDAP/` directory).
pub fn read_ldap(dir: &Path) -> Result<LdapHistory, CertError> {
    let ldap_dir = ldap_dir_of(dir);
    let snapshots = snapshot_files(&ldap_dir)?;
    if snapshots.is_empty() {
        return Err(CertError::NoLdapSnapshots {
            dir: ldap_dir.display().to_string(),
        });
    }
    let mut rejected = Vec::new();
    let mut states: BTreeMap<String, PersonState> = BTreeMap::new();
    let mut records = Vec::new();
    for (index, (month, path)) in snapshots.iter().enumerate() {
        let snapshot = read_snapshot(path, &mut rejected)?;
        let resolved = resolve_supervisors(snapshot);
        for (user_id, attributes) in &resolved {
            let state = states.entry(user_id.clone()).or_default();
            match &state.current {
                None => {
                    // New, or back after leaving (rehire): both start employment this month,
                    // except for those already there when the snapshots begin.
                    let is_first_snapshot = index == 0 && state.left.is_none();
                    state.hire_date = (!is_first_snapshot).then_some(*month);
                    records.push(attributes.record(user_id, *month, state.hire_date, None));
                }
                Some(previous) if previous != attributes => {
                    records.push(attributes.record(user_id, *month, state.hire_date, None));
                }
                Some(_) => {}
            }
            state.current = Some(attributes.clone());
        }
        for (user_id, state) in states.iter_mut() {
            if resolved.contains_key(user_id) {
                continue;
            }
            if let Some(last) = state.current.take() {
                let termination = month.last_of_month();
                records.push(last.record(user_id, *month, state.hire_date, Some(termination)));
                state.left = Some(*month);
            }
        }
    }
    records.sort_by(|a, b| {
        a.person_id
            .cmp(&b.person_id)
            .then(a.valid_from.cmp(&b.valid_from))
    });
    Ok(LdapHistory {
        months: snapshots.iter().map(|(month, _)| *month).collect(),
        records,
        rejected,
    })
}

#[derive(Default)]
struct PersonState {
    /// Attributes in the latest snapshot, `None` when absent from it.
    current: Option<Attributes>,
    hire_date: Option<Date>,
    /// Month of the last departure.
    left: Option<Date>,
}

/// One row of a snapshot, with the supervisor resolved; the fields versions compare.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Attributes {
    name: String,
    email: Option<String>,
    role: Option<String>,
    business_unit: Option<String>,
    functional_unit: Option<String>,
    department: Option<String>,
    team: Option<String>,
    supervisor: Option<String>,
}

impl Attributes {
    fn record(
        &self,
        user_id: &str,
        valid_from: Date,
        hire_date: Option<Date>,
        termination_date: Option<Date>,
    ) -> PersonRecord {
        let mut record = PersonRecord::new(user_id, valid_from, self.name.clone());
        record.email = self.email.clone();
        record.role = self.role.clone();
        record.business_unit = self.business_unit.clone();
        record.functional_unit = self.functional_unit.clone();
        record.department = self.department.clone();
        record.team = self.team.clone();
        record.supervisor = self.supervisor.clone();
        record.hire_date = hire_date;
        record.termination_date = termination_date;
        record.accounts = vec![user_id.to_string()];
        record
    }
}

/// Column positions of a snapshot.
struct LdapColumns {
    count: usize,
    employee_name: usize,
    user_id: usize,
    email: Option<usize>,
    role: Option<usize>,
    business_unit: Option<usize>,
    functional_unit: Option<usize>,
    department: Option<usize>,
    team: Option<usize>,
    supervisor: Option<usize>,
}

/// Column orders without a header: r4 (9 columns) and r5/r6 (10, with `projects`).
const LDAP_R4: &[&str] = &[
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
const LDAP_R5: &[&str] = &[
    "employee_name",
    "user_id",
    "email",
    "role",
    "projects",
    "business_unit",
    "functional_unit",
    "department",
    "team",
    "supervisor",
];

impl LdapColumns {
    fn from_names(names: &[String]) -> Option<LdapColumns> {
        let position = |column: &str| names.iter().position(|name| name == column);
        Some(LdapColumns {
            count: names.len(),
            employee_name: position("employee_name")?,
            user_id: position("user_id")?,
            email: position("email"),
            role: position("role"),
            business_unit: position("business_unit"),
            functional_unit: position("functional_unit"),
            department: position("department"),
            team: position("team"),
            supervisor: position("supervisor"),
        })
    }
}

fn names_of(record: &ByteRecord) -> Vec<String> {
    record
        .iter()
        .map(|name| String::from_utf8_lossy(name).trim().to_ascii_lowercase())
        .collect()
}

/// Rows of one snapshot by `user_id`; bad rows go to `rejected`.
fn read_snapshot(
    path: &Path,
    rejected: &mut Vec<Rejected>,
) -> Result<BTreeMap<String, (String, Attributes)>, CertError> {
    let display = path.display().to_string();
    let file = fs::File::open(path).map_err(|error| CertError::io(&display, error))?;
    let mut reader = csv_reader(file);
    let mut record = ByteRecord::new();
    let mut rows = BTreeMap::new();
    let mut columns: Option<LdapColumns> = None;
    loop {
        let found = reader
            .read_byte_record(&mut record)
            .map_err(|error| CertError::io(&display, error.into()))?;
        if !found {
            break;
        }
        let line = record.position().map_or(0, csv::Position::line);
        let columns = match &columns {
            Some(columns) => columns,
            None => {
                let names = names_of(&record);
                let is_header = names.first().is_some_and(|name| name == "employee_name");
                let detected = if is_header {
                    LdapColumns::from_names(&names)
                } else {
                    let order = match record.len() {
                        9 => LDAP_R4,
                        10 => LDAP_R5,
                        _ => &[][..],
                    };
                    let order: Vec<String> = order.iter().map(|c| c.to_string()).collect();
                    LdapColumns::from_names(&order)
                };
                let Some(detected) = detected else {
                    return Err(CertError::BadFile {
                        file: display,
                        reason: format!(
                            "unknown LDAP columns {names:?} (expected a header with employee_name \
                             and user_id, or 9 or 10 columns)"
                        ),
                    });
                };
                columns = Some(detected);
                if is_header {
                    continue;
                }
                match &columns {
                    Some(columns) => columns,
                    None => continue,
                }
            }
        };
        match ldap_row(&record, columns) {
            Ok((user_id, supervisor_name, attributes)) => {
                if rows.contains_key(&user_id) {
                    rejected.push(ldap_rejection(
                        &display,
                        line,
                        &record,
                        format!("user_id: {user_id} appears twice in this snapshot"),
                    ));
                    continue;
                }
                rows.insert(user_id, (supervisor_name, attributes));
            }
            Err(reason) => rejected.push(ldap_rejection(&display, line, &record, reason)),
        }
    }
    Ok(rows)
}

fn ldap_rejection(file: &str, line: u64, record: &ByteRecord, reason: String) -> Rejected {
    let raw = record.iter().collect::<Vec<_>>().join(&b","[..]);
    Rejected {
        location: Location {
            file: file.to_string(),
            line,
        },
        reason,
        raw,
    }
}

/// `(user_id, supervisor name, attributes with the supervisor still a name)`.
fn ldap_row(
    record: &ByteRecord,
    columns: &LdapColumns,
) -> Result<(String, String, Attributes), String> {
    if record.len() != columns.count {
        return Err(format!(
            "expected {} fields, found {}",
            columns.count,
            record.len()
        ));
    }
    let text = |index: usize, column: &str| -> Result<String, String> {
        let bytes = record.get(index).unwrap_or_default();
        std::str::from_utf8(bytes)
            .map(|value| value.trim().to_string())
            .map_err(|_| format!("{column}: invalid UTF-8"))
    };
    let optional = |index: Option<usize>, column: &str| -> Result<Option<String>, String> {
        match index {
            Some(index) => text(index, column).map(|value| (!value.is_empty()).then_some(value)),
            None => Ok(None),
        }
    };
    let user_id = text(columns.user_id, "user_id")?;
    if user_id.is_empty() {
        return Err("user_id: empty".to_string());
    }
    let name = text(columns.employee_name, "employee_name")?;
    if name.is_empty() {
        return Err("employee_name: empty".to_string());
    }
    let supervisor = optional(columns.supervisor, "supervisor")?;
    let attributes = Attributes {
        name,
        email: optional(columns.email, "email")?,
        role: optional(columns.role, "role")?,
        business_unit: optional(columns.business_unit, "business_unit")?,
        functional_unit: optional(columns.functional_unit, "functional_unit")?,
        department: optional(columns.department, "department")?,
        team: optional(columns.team, "team")?,
        supervisor: supervisor.clone(),
    };
    Ok((user_id, supervisor.unwrap_or_default(), attributes))
}

/// Replaces each supervisor name by the user_id of the one employee of the snapshot with that
/// name; an unknown or ambiguous name stays a name.
fn resolve_supervisors(
    snapshot: BTreeMap<String, (String, Attributes)>,
) -> BTreeMap<String, Attributes> {
    let mut ids_by_name: HashMap<&str, Vec<&str>> = HashMap::new();
    for (user_id, (_, attributes)) in &snapshot {
        ids_by_name
            .entry(attributes.name.as_str())
            .or_default()
            .push(user_id.as_str());
    }
    let mut resolved = BTreeMap::new();
    for (user_id, (supervisor_name, attributes)) in &snapshot {
        let mut attributes = attributes.clone();
        if let Some([only]) = ids_by_name.get(supervisor_name.as_str()).map(Vec::as_slice) {
            attributes.supervisor = Some(only.to_string());
        }
        resolved.insert(user_id.clone(), attributes);
    }
    resolved
}

/// Big Five scores of one employee (`psychometric.csv`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Psychometric {
    pub user_id: String,
    /// Openness.
    pub o: u16,
    /// Conscientiousness.
    pub c: u16,
    /// Extroversion.
    pub e: u16,
    /// Agreeableness.
    pub a: u16,
    /// Neuroticism.
    pub n: u16,
}

/// The rows of `psychometric.csv` and those that could not be read.
#[derive(Debug, Clone)]
pub struct PsychometricTable {
    pub scores: Vec<Psychometric>,
    pub rejected: Vec<Rejected>,
}

/// Reads `psychometric.csv` (`employee_name,user_id,O,C,E,A,N`); `path` is the file or the
/// dataset directory. The names are not kept: the user id is the join key.
pub fn read_psychometric(path: &Path) -> Result<PsychometricTable, CertError> {
    let path = if path.is_dir() {
        path.join("psychometric.csv")
    } else {
        path.to_path_buf()
    };
    let display = path.display().to_string();
    let file = fs::File::open(&path).map_err(|error| CertError::io(&display, error))?;
    let mut reader = csv_reader(file);
    let mut record = ByteRecord::new();
    let mut table = PsychometricTable {
        scores: Vec::new(),
        rejected: Vec::new(),
    };
    // Header positions, or the readme's order without a header.
    let mut positions = [1usize, 2, 3, 4, 5, 6];
    let mut first = true;
    loop {
        let found = reader
            .read_byte_record(&mut record)
            .map_err(|error| CertError::io(&display, error.into()))?;
        if !found {
            break;
        }
        let line = record.position().map_or(0, csv::Position::line);
        if first {
            first = false;
            let names = names_of(&record);
            if names.first().is_some_and(|name| name == "employee_name") {
                for (slot, column) in positions
                    .iter_mut()
                    .zip(["user_id", "o", "c", "e", "a", "n"])
                {
                    *slot = names
                        .iter()
                        .position(|name| name == column)
                        .ok_or_else(|| CertError::BadFile {
                            file: display.clone(),
                            reason: format!("psychometric header {names:?} lacks {column}"),
                        })?;
                }
                continue;
            }
        }
        match psychometric_row(&record, &positions) {
            Ok(score) => table.scores.push(score),
            Err(reason) => table
                .rejected
                .push(ldap_rejection(&display, line, &record, reason)),
        }
    }
    Ok(table)
}

fn psychometric_row(record: &ByteRecord, positions: &[usize; 6]) -> Result<Psychometric, String> {
    let text = |index: usize| -> Result<&str, String> {
        let bytes = record.get(index).ok_or_else(|| {
            format!(
                "expected at least {} fields, found {}",
                index + 1,
                record.len()
            )
        })?;
        std::str::from_utf8(bytes)
            .map(str::trim)
            .map_err(|_| "invalid UTF-8".to_string())
    };
    let score = |slot: usize, column: &str| -> Result<u16, String> {
        let value = text(positions[slot])?;
        value
            .parse()
            .map_err(|_| format!("{column}: expected a whole number, found {value:?}"))
    };
    let user_id = text(positions[0])?.to_string();
    if user_id.is_empty() {
        return Err("user_id: empty".to_string());
    }
    Ok(Psychometric {
        user_id,
        o: score(1, "O")?,
        c: score(2, "C")?,
        e: score(3, "E")?,
        a: score(4, "A")?,
        n: score(5, "N")?,
    })
}
