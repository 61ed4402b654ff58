//! People and their accounts: the HR side of the model.
//!
//! Events name an *account* (`actor.user`); analytics and investigations are about *persons*.
//! A [`PersonRecord`] is one version of one person's HR record, valid from
//! [`PersonRecord::valid_from`] until the next version of the same person; together the versions
//! answer "what was this person's department (role, supervisor, …) on day D". Each record lists
//! the accounts that belong to the person, so events join to people.
//!
//! The interchange form is the HR CSV documented in `docs/hr.md`, whose columns are
//! [`HR_CSV_COLUMNS`].

use jiff::civil::Date;

/// The HR CSV columns, in their documented order. Only `person_id`, `valid_from` and `name`
/// are required; the others may be missing from the header or empty in a row.
pub const HR_CSV_COLUMNS: [&str; 16] = [
    "person_id",
    "valid_from",
    "name",
    "email",
    "business_unit",
    "functional_unit",
    "department",
    "team",
    "role",
    "supervisor",
    "employment_type",
    "hire_date",
    "notice_date",
    "termination_date",
    "priority",
    "accounts",
];

/// One version of one person's HR record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    /// Stable HR identifier (employee number). Never empty.
    pub person_id: String,
    /// First day this version holds.
    pub valid_from: Date,
    /// Full name as HR writes it (personal data: shown only to roles allowed to re-identify).
    pub name: String,
    pub email: Option<String>,
    pub business_unit: Option<String>,
    pub functional_unit: Option<String>,
    pub department: Option<String>,
    pub team: Option<String>,
    pub role: Option<String>,
    /// The supervisor's `person_id` (or name, when the source knows no id).
    pub supervisor: Option<String>,
    pub employment_type: Option<EmploymentType>,
    pub hire_date: Option<Date>,
    /// Day the person gave or received notice: the start of the leaver window.
    pub notice_date: Option<Date>,
    /// Last day of employment.
    pub termination_date: Option<Date>,
    /// Flagged by HR for closer watch (e.g. privileged, under performance plan).
    pub priority: bool,
    /// Account ids that belong to this person (as events name them in `actor.user`).
    pub accounts: Vec<String>,
}

crate::kinds::vocabulary! {
    /// How the person is employed.
    pub enum EmploymentType ("employment type") {
        /// 正社員: permanent employee.
        Employee = "employee",
        /// 契約社員: fixed-term contract.
        Contract = "contract",
        /// 派遣社員: agency (temporary) worker.
        Temporary = "temporary",
        /// 業務委託: outside contractor.
        Contractor = "contractor",
        /// パート・アルバイト: part-time.
        PartTime = "part_time",
        /// 役員: executive / board member.
        Executive = "executive",
    }
}

impl PersonRecord {
    /// A record with only the required fields set.
    pub fn new(person_id: impl Into<String>, valid_from: Date, name: impl Into<String>) -> Self {
        PersonRecord {
            person_id: person_id.into(),
            valid_from,
            name: name.into(),
            email: None,
            business_unit: None,
            functional_unit: None,
            department: None,
            team: None,
            role: None,
            supervisor: None,
            employment_type: None,
            hire_date: None,
            notice_date: None,
            termination_date: None,
            priority: false,
            accounts: Vec::new(),
        }
    }

    /// Whether the person is employed on `day` (hired on or before it, not yet terminated).
    pub fn employed_on(&self, day: Date) -> bool {
        self.hire_date.is_none_or(|hire| hire <= day)
            && self.termination_date.is_none_or(|end| day <= end)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn employment_type_names_round_trip() {
        for name in [
            "employee",
            "contract",
            "temporary",
            "contractor",
            "part_time",
            "executive",
        ] {
            let parsed: EmploymentType = name.parse().unwrap();
            assert_eq!(parsed.as_str(), name);
        }
        assert!("intern".parse::<EmploymentType>().is_err());
    }

    #[test]
    fn employed_on_respects_hire_and_termination_days() {
        let mut p = PersonRecord::new("E1", jiff::civil::date(2020, 1, 1), "A");
        p.hire_date = Some(jiff::civil::date(2020, 4, 1));
        p.termination_date = Some(jiff::civil::date(2021, 3, 31));
        assert!(!p.employed_on(jiff::civil::date(2020, 3, 31)));
        assert!(p.employed_on(jiff::civil::date(2020, 4, 1)));
        assert!(p.employed_on(jiff::civil::date(2021, 3, 31)));
        assert!(!p.employed_on(jiff::civil::date(2021, 4, 1)));
    }
}
