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
//!
//! The directories hold the other side: an [`AccountRecord`] is one account as an Active
//! Directory, Entra ID or Google Workspace export lists it (enabled, last sign-in, MFA, groups),
//! so that checks can find a leaver's account still enabled or a privileged one without MFA.
//! Its interchange form is the account inventory CSV of `docs/accounts.md`.

use jiff::civil::{Date, DateTime};

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

/// The account inventory CSV's canonical columns, in their documented order (`docs/accounts.md`;
/// the reader also accepts the column names of common directory exports). Only `account` is
/// required.
pub const ACCOUNT_CSV_COLUMNS: [&str; 10] = [
    "account",
    "source",
    "person_id",
    "display_name",
    "enabled",
    "created",
    "last_logon",
    "mfa",
    "privileged",
    "groups",
];

crate::kinds::vocabulary! {
    /// The directory an account inventory was exported from. An inventory import replaces one
    /// source's snapshot, so the same account name in two directories is two accounts.
    pub enum AccountSource ("account source") {
        /// Active Directory (`Get-ADUser … | Export-Csv`).
        Ad = "ad",
        /// Microsoft Entra ID ("Download users").
        Entra = "entra",
        /// Google Workspace ("Download users").
        Google = "google",
        /// Any other directory or application's account list.
        Other = "other",
    }
}

/// Groups, roles and entitlements whose members are treated as privileged, compared without
/// regard to case: Active Directory's administrative built-in groups (those AdminSDHolder
/// protects, less the machine-account groups), Microsoft Entra ID's tenant-wide administrator
/// roles and Google Workspace's pre-built administrator roles. A member of any of them can
/// grant itself or others access to everything, which is what the identity checks care about.
pub const PRIVILEGED_GROUPS: &[&str] = &[
    // Active Directory
    "Domain Admins",
    "Enterprise Admins",
    "Schema Admins",
    "Administrators",
    "Account Operators",
    "Backup Operators",
    "Server Operators",
    "Print Operators",
    "DnsAdmins",
    "Group Policy Creator Owners",
    "Key Admins",
    "Enterprise Key Admins",
    // Microsoft Entra ID ("Company Administrator" is Global Administrator's former name)
    "Global Administrator",
    "Company Administrator",
    "Privileged Role Administrator",
    "Privileged Authentication Administrator",
    "Security Administrator",
    "User Administrator",
    "Authentication Administrator",
    "Conditional Access Administrator",
    "Application Administrator",
    "Cloud Application Administrator",
    "Exchange Administrator",
    "SharePoint Administrator",
    "Intune Administrator",
    "Hybrid Identity Administrator",
    // Google Workspace
    "Super Admin",
    "User Management Admin",
    "Groups Admin",
    "Services Admin",
    "Help Desk Admin",
];

/// One account as a directory export lists it: the interchange form of the account inventory.
///
/// Every field but `account` and `source` may be unknown (`None`, or no groups) because exports
/// differ in what they carry; the identity checks treat unknown as "cannot tell", never as
/// "no".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// The account id as the directory names it (`sAMAccountName`, a user principal name or a
    /// primary e-mail address). Never empty.
    pub account: String,
    pub source: AccountSource,
    /// The HR `person_id` the directory says the account belongs to (its employee id).
    pub person_id: Option<String>,
    pub display_name: Option<String>,
    /// Whether the account can sign in (not disabled, blocked or suspended).
    pub enabled: Option<bool>,
    /// When the account was created, in the export's own clock (see `docs/accounts.md`).
    pub created: Option<DateTime>,
    /// The last sign-in the directory recorded; `None` also when it never recorded one.
    pub last_logon: Option<DateTime>,
    /// Whether a second factor is registered.
    pub mfa: Option<bool>,
    /// Privileged as the export says it, before looking at groups; see [`Self::privileged`].
    pub privileged_flag: Option<bool>,
    /// Group, role or entitlement names (distinguished names reduced to their CN).
    pub groups: Vec<String>,
}

impl AccountRecord {
    /// A record with only the required fields set.
    pub fn new(account: impl Into<String>, source: AccountSource) -> Self {
        AccountRecord {
            account: account.into(),
            source,
            person_id: None,
            display_name: None,
            enabled: None,
            created: None,
            last_logon: None,
            mfa: None,
            privileged_flag: None,
            groups: Vec::new(),
        }
    }

    /// Privileged: flagged so by the export, or a member of one of [`PRIVILEGED_GROUPS`]. A
    /// flag of `false` does not outweigh membership: exports set such flags from one system's
    /// view (Entra's `isAdmin` knows nothing of on-premises groups).
    pub fn privileged(&self) -> bool {
        self.privileged_flag == Some(true) || self.privileged_groups().next().is_some()
    }

    /// The account's groups that are in [`PRIVILEGED_GROUPS`].
    pub fn privileged_groups(&self) -> impl Iterator<Item = &str> {
        self.groups
            .iter()
            .map(String::as_str)
            .filter(|group| is_privileged_group(group))
    }
}

/// Whether `group` is one of [`PRIVILEGED_GROUPS`] (ignoring case and surrounding spaces).
pub fn is_privileged_group(group: &str) -> bool {
    let group = group.trim();
    PRIVILEGED_GROUPS
        .iter()
        .any(|known| known.eq_ignore_ascii_case(group))
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

    #[test]
    fn privileged_is_the_flag_or_a_privileged_group() {
        let mut account = AccountRecord::new("a", AccountSource::Ad);
        assert!(!account.privileged());
        account.groups = vec!["Sales".into(), "domain admins".into()];
        account.privileged_flag = Some(false);
        assert!(account.privileged(), "membership outweighs a false flag");
        assert_eq!(
            account.privileged_groups().collect::<Vec<_>>(),
            ["domain admins"]
        );
        account.groups.clear();
        account.privileged_flag = Some(true);
        assert!(account.privileged());
        assert_eq!(
            "google".parse::<AccountSource>().unwrap(),
            AccountSource::Google
        );
    }
}
