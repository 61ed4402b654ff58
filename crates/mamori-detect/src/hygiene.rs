//! Identity and access hygiene: the checks every insider-risk guideline starts with — access
//! removed the moment it is no longer needed, no shared IDs, MFA on privileged accounts, rights
//! reviewed — as findings about accounts and persons (docs/hygiene.md).
//!
//! Everything here works on plain inputs the caller reads from the store: HR histories
//! ([`PersonRecord`] versions, oldest first), the account links of the HR `accounts` table, the
//! directory inventory ([`InventoryEntry`]), group grants ([`Grant`]) and, streamed account by
//! account, the activity of the ledger ([`Activity`], [`UseAfterTermination`],
//! [`reuses_after_gap`], [`SharedLogons`]). Nothing here reads a file or a database, so every
//! check is tested with small hand-made histories.
//!
//! Days are the caller's local days (`as_of` and [`Activity::day`]). The termination day itself
//! is a working day: an account used or enabled on it is fine; the day after is not. Unknown
//! values (an export without an `enabled` or `mfa` column) mean "cannot tell", never "no".

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::Offset;
use mamori_event::{AccountRecord, Level, PersonRecord, is_privileged_group};
use serde::Serialize;

use crate::explain::Lang;

/// Days without a sign-in (or without events) after which an account counts as dormant.
pub const DEFAULT_DORMANT_DAYS: i64 = 90;
/// Logons of one account on two of its regular hosts this close together are one person in two
/// places — or two persons.
pub const SHARED_WINDOW_US: i64 = 10 * 60 * 1_000_000;
/// Occasions of simultaneous use before an account counts as shared: once is a remote session
/// or a roaming profile, repeatedly is a habit.
pub const SHARED_MIN_OCCASIONS: u64 = 3;
/// Distinct days an account must log on to another person's usual host before that host counts.
pub const USUAL_HOST_MIN_DAYS: usize = 3;
/// Evidence events kept per finding (the first ones, and the last one).
pub const MAX_EVIDENCE_EVENTS: usize = 1_000;

/// Account names that say nobody in particular owns them, compared with the name's first word
/// (lower case, without domain, separators and up to three trailing digits): `admin`, `Admin01`,
/// `shared-sales`, `CORP\guest`, `kyoyu_eigyo`.
pub const GENERIC_NAMES: &[&str] = &[
    "admin",
    "administrator",
    "root",
    "test",
    "tester",
    "guest",
    "user",
    "shared",
    "share",
    "kyoyu",
    "kyouyu",
    "common",
    "temp",
    "tmp",
    "demo",
    "training",
    "public",
    "reception",
    "uketsuke",
];

/// Japanese words that make a name generic wherever they appear (共用 = shared use, 共有 =
/// shared, 受付 = reception, 管理者 = administrator, テスト = test, ゲスト = guest).
pub const GENERIC_JAPANESE: &[&str] = &["共用", "共有", "受付", "管理者", "テスト", "ゲスト"];

/// First words of service accounts: generic unless a person answers for the account.
pub const SERVICE_PREFIXES: &[&str] = &["svc", "service", "sa", "batch", "system"];

/// One hygiene check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    AccountUsedAfterTermination,
    LeaverAccountEnabled,
    NewPrivilegedGrantDuringNotice,
    RightsAddedDuringNotice,
    DormantAccountReused,
    DormantAccount,
    SharedAccount,
    GenericAccountName,
    PrivilegedWithoutMfa,
    RightsNotRevokedAfterMove,
    OrphanAccount,
    PersonWithoutAccounts,
}

impl Check {
    pub const ALL: [Check; 12] = [
        Check::AccountUsedAfterTermination,
        Check::LeaverAccountEnabled,
        Check::NewPrivilegedGrantDuringNotice,
        Check::RightsAddedDuringNotice,
        Check::DormantAccountReused,
        Check::DormantAccount,
        Check::SharedAccount,
        Check::GenericAccountName,
        Check::PrivilegedWithoutMfa,
        Check::RightsNotRevokedAfterMove,
        Check::OrphanAccount,
        Check::PersonWithoutAccounts,
    ];

    /// The check's id, as in findings and alerts.
    pub fn id(self) -> &'static str {
        match self {
            Check::AccountUsedAfterTermination => "account_used_after_termination",
            Check::LeaverAccountEnabled => "leaver_account_enabled",
            Check::NewPrivilegedGrantDuringNotice => "new_privileged_grant_during_notice",
            Check::RightsAddedDuringNotice => "rights_added_during_notice",
            Check::DormantAccountReused => "dormant_account_reused",
            Check::DormantAccount => "dormant_account",
            Check::SharedAccount => "shared_account",
            Check::GenericAccountName => "generic_account_name",
            Check::PrivilegedWithoutMfa => "privileged_without_mfa",
            Check::RightsNotRevokedAfterMove => "rights_not_revoked_after_move",
            Check::OrphanAccount => "orphan_account",
            Check::PersonWithoutAccounts => "person_without_accounts",
        }
    }

    pub fn severity(self) -> Level {
        match self {
            Check::AccountUsedAfterTermination | Check::NewPrivilegedGrantDuringNotice => {
                Level::Critical
            }
            Check::LeaverAccountEnabled
            | Check::RightsAddedDuringNotice
            | Check::DormantAccountReused
            | Check::SharedAccount
            | Check::PrivilegedWithoutMfa => Level::High,
            Check::DormantAccount
            | Check::GenericAccountName
            | Check::RightsNotRevokedAfterMove
            | Check::OrphanAccount => Level::Medium,
            Check::PersonWithoutAccounts => Level::Low,
        }
    }
}

/// What a check found, about one account (or one person without accounts).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub check: Check,
    pub severity: Level,
    pub account: Option<String>,
    /// The directory of an inventory account (`ad`, `entra`, …).
    pub directory: Option<String>,
    /// The person the account belongs to, if HR or the directory links it.
    pub person: Option<String>,
    /// The local day the finding is about: the last event, the change, or the as-of day.
    pub day: Date,
    pub evidence: Evidence,
    /// Ledger leaf indexes of the events that prove it, ascending (at most
    /// [`MAX_EVIDENCE_EVENTS`]).
    pub events: Vec<u64>,
}

/// The facts behind a finding, per check.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Evidence {
    UsedAfterTermination {
        termination_date: Date,
        first: Timestamp,
        last: Timestamp,
        count: u64,
        /// Events per kind.
        kinds: BTreeMap<String, u64>,
        hosts: BTreeSet<String>,
    },
    LeaverEnabled {
        termination_date: Date,
        days_since: i64,
        last_logon: Option<DateTime>,
    },
    RightsAdded {
        group: String,
        changed_on: Date,
        notice_date: Date,
        termination_date: Option<Date>,
        /// Where each grant was seen: `inventory` (a snapshot's group history) or the event
        /// kind in the ledger, with its actor.
        seen_in: Vec<String>,
    },
    Dormant {
        last_logon: Option<DateTime>,
        created: Option<DateTime>,
        /// Days since the last sign-in (since creation when there was none), if known.
        idle_days: Option<i64>,
        threshold_days: i64,
    },
    DormantReused {
        last_before: Timestamp,
        first_after: Timestamp,
        gap_days: i64,
        threshold_days: i64,
    },
    Shared {
        hosts: BTreeSet<String>,
        /// Times the account was active on two hosts within `window_minutes`.
        occasions: u64,
        window_minutes: i64,
        /// The other persons whose usual host the account logged on to, by host.
        usual_hosts_of: BTreeMap<String, String>,
        first: Option<Timestamp>,
        last: Option<Timestamp>,
    },
    GenericName {
        /// The word that makes it generic.
        matched: String,
        /// `inventory` and/or `events`.
        seen_in: Vec<String>,
    },
    PrivilegedWithoutMfa {
        privileged_groups: Vec<String>,
        privileged_flag: Option<bool>,
        last_logon: Option<DateTime>,
    },
    NotRevoked {
        from_department: String,
        to_department: String,
        moved_on: Date,
        /// Groups no peer in the new department holds.
        groups: Vec<String>,
        peers: usize,
    },
    Orphan {
        /// The person the directory names, when HR does not know them.
        named_person: Option<String>,
        last_logon: Option<DateTime>,
        groups: Vec<String>,
    },
    PersonWithoutAccounts {
        department: Option<String>,
        hire_date: Option<Date>,
    },
}

impl Finding {
    /// The alert de-duplication key: the same finding on a later run (with more evidence) is
    /// the same alert.
    pub fn key(&self) -> String {
        let subject = self
            .account
            .as_deref()
            .or(self.person.as_deref())
            .unwrap_or_default();
        let extra = match &self.evidence {
            Evidence::RightsAdded { group, .. } => format!(":{group}"),
            Evidence::DormantReused { first_after, .. } => format!(":{}", self.day_of(first_after)),
            _ => String::new(),
        };
        let directory = self
            .directory
            .as_deref()
            .map(|d| format!("{d}/"))
            .unwrap_or_default();
        format!("hygiene:{}:{directory}{subject}{extra}", self.check.id())
    }

    fn day_of(&self, time: &Timestamp) -> String {
        Offset::UTC.to_datetime(*time).date().to_string()
    }

    /// The person alerts file the finding under: the person, else the account.
    pub fn subject(&self) -> &str {
        self.person
            .as_deref()
            .or(self.account.as_deref())
            .unwrap_or_default()
    }

    /// One sentence saying what was found.
    pub fn title(&self, lang: Lang) -> String {
        let account = self.account.as_deref().unwrap_or_default();
        let person = self.person.as_deref().unwrap_or("-");
        match (&self.evidence, lang) {
            (
                Evidence::UsedAfterTermination {
                    termination_date,
                    first,
                    last,
                    count,
                    hosts,
                    ..
                },
                Lang::En,
            ) => format!(
                "account {account} of {person} used {count}× after the last day {termination_date} \
                 (first {first}, last {last}; hosts {})",
                list(hosts)
            ),
            (
                Evidence::UsedAfterTermination {
                    termination_date,
                    first,
                    last,
                    count,
                    hosts,
                    ..
                },
                Lang::Ja,
            ) => format!(
                "退職者 {person} のアカウント {account} が最終日 {termination_date} の後に {count} 件使用された\
                 （最初 {first}、最後 {last}、端末 {}）",
                list(hosts)
            ),
            (
                Evidence::LeaverEnabled {
                    termination_date,
                    days_since,
                    ..
                },
                Lang::En,
            ) => format!(
                "account {account} of {person} is still enabled {days_since} days after the last day {termination_date}"
            ),
            (
                Evidence::LeaverEnabled {
                    termination_date,
                    days_since,
                    ..
                },
                Lang::Ja,
            ) => format!(
                "退職者 {person} のアカウント {account} が最終日 {termination_date} から {days_since} 日経っても有効のまま"
            ),
            (
                Evidence::RightsAdded {
                    group,
                    changed_on,
                    notice_date,
                    ..
                },
                Lang::En,
            ) => format!(
                "{account} of {person} was added to {}group “{group}” on {changed_on}, after notice on {notice_date}",
                if self.check == Check::NewPrivilegedGrantDuringNotice {
                    "privileged "
                } else {
                    ""
                }
            ),
            (
                Evidence::RightsAdded {
                    group,
                    changed_on,
                    notice_date,
                    ..
                },
                Lang::Ja,
            ) => format!(
                "退職予定者 {person} の {account} に {changed_on}、{}グループ「{group}」が追加された（退職申出 {notice_date}）",
                if self.check == Check::NewPrivilegedGrantDuringNotice {
                    "特権"
                } else {
                    ""
                }
            ),
            (
                Evidence::Dormant {
                    last_logon,
                    idle_days,
                    ..
                },
                Lang::En,
            ) => match (last_logon, idle_days) {
                (Some(last), Some(days)) => format!(
                    "enabled account {account} has not signed in for {days} days (last {last})"
                ),
                _ => format!("enabled account {account} has never signed in"),
            },
            (
                Evidence::Dormant {
                    last_logon,
                    idle_days,
                    ..
                },
                Lang::Ja,
            ) => match (last_logon, idle_days) {
                (Some(last), Some(days)) => format!(
                    "有効なアカウント {account} が {days} 日間サインインしていない（最終 {last}）"
                ),
                _ => format!("有効なアカウント {account} は一度もサインインしていない"),
            },
            (
                Evidence::DormantReused {
                    last_before,
                    first_after,
                    gap_days,
                    ..
                },
                Lang::En,
            ) => format!(
                "account {account} was used again on {first_after} after {gap_days} days without events (last {last_before})"
            ),
            (
                Evidence::DormantReused {
                    last_before,
                    first_after,
                    gap_days,
                    ..
                },
                Lang::Ja,
            ) => format!(
                "{gap_days} 日間イベントのなかったアカウント {account} が {first_after} に再び使われた（前回 {last_before}）"
            ),
            (
                Evidence::Shared {
                    hosts,
                    occasions,
                    window_minutes,
                    usual_hosts_of,
                    ..
                },
                Lang::En,
            ) => {
                let mut text = format!("account {account} looks shared:");
                if *occasions > 0 {
                    text.push_str(&format!(
                        " active on two hosts within {window_minutes} minutes {occasions}× (hosts {})",
                        list(hosts)
                    ));
                }
                if !usual_hosts_of.is_empty() {
                    text.push_str(&format!(
                        "{} used on the usual hosts of {}",
                        if *occasions > 0 { ";" } else { "" },
                        owners(usual_hosts_of)
                    ));
                }
                text
            }
            (
                Evidence::Shared {
                    hosts,
                    occasions,
                    window_minutes,
                    usual_hosts_of,
                    ..
                },
                Lang::Ja,
            ) => {
                let mut text = format!("アカウント {account} が共用されている疑い：");
                if *occasions > 0 {
                    text.push_str(&format!(
                        "{window_minutes} 分以内に 2 台の端末で使用 {occasions} 回（端末 {}）",
                        list(hosts)
                    ));
                }
                if !usual_hosts_of.is_empty() {
                    text.push_str(&format!(
                        "{}{} の普段の端末で使用",
                        if *occasions > 0 { "、" } else { "" },
                        owners(usual_hosts_of)
                    ));
                }
                text
            }
            (Evidence::GenericName { matched, .. }, Lang::En) => format!(
                "account {account} has a generic name (“{matched}”): nobody in particular answers for it"
            ),
            (Evidence::GenericName { matched, .. }, Lang::Ja) => format!(
                "アカウント {account} は汎用的な名前（「{matched}」）で、責任者が特定できない"
            ),
            (
                Evidence::PrivilegedWithoutMfa {
                    privileged_groups, ..
                },
                Lang::En,
            ) => format!(
                "privileged account {account} has no second factor (groups {})",
                list(privileged_groups)
            ),
            (
                Evidence::PrivilegedWithoutMfa {
                    privileged_groups, ..
                },
                Lang::Ja,
            ) => format!(
                "特権アカウント {account} に多要素認証が登録されていない（グループ {}）",
                list(privileged_groups)
            ),
            (
                Evidence::NotRevoked {
                    from_department,
                    to_department,
                    moved_on,
                    groups,
                    ..
                },
                Lang::En,
            ) => format!(
                "{person} moved from {from_department} to {to_department} on {moved_on} and keeps groups nobody there holds: {}",
                list(groups)
            ),
            (
                Evidence::NotRevoked {
                    from_department,
                    to_department,
                    moved_on,
                    groups,
                    ..
                },
                Lang::Ja,
            ) => format!(
                "{person} は {moved_on} に {from_department} から {to_department} へ異動したが、異動先の誰も持たないグループを保持：{}",
                list(groups)
            ),
            (Evidence::Orphan { named_person, .. }, Lang::En) => match named_person {
                Some(named) => {
                    format!("enabled account {account} names person {named}, whom HR does not know")
                }
                None => format!("enabled account {account} belongs to no person"),
            },
            (Evidence::Orphan { named_person, .. }, Lang::Ja) => match named_person {
                Some(named) => {
                    format!("有効なアカウント {account} の所有者 {named} が人事データに存在しない")
                }
                None => format!("有効なアカウント {account} の所有者がいない"),
            },
            (Evidence::PersonWithoutAccounts { .. }, Lang::En) => {
                format!("person {person} has no linked account")
            }
            (Evidence::PersonWithoutAccounts { .. }, Lang::Ja) => {
                format!("{person} に紐付くアカウントがない")
            }
        }
    }

    /// What to do about it.
    pub fn action(&self, lang: Lang) -> &'static str {
        match (self.check, lang) {
            (Check::AccountUsedAfterTermination, Lang::En) => {
                "disable the account now, find out who used it, and open a case with these events"
            }
            (Check::AccountUsedAfterTermination, Lang::Ja) => {
                "直ちにアカウントを無効化し、使用者を特定して、これらのイベントでケースを開く"
            }
            (Check::LeaverAccountEnabled, Lang::En) => {
                "disable the account and make disabling part of the leaver's last day"
            }
            (Check::LeaverAccountEnabled, Lang::Ja) => {
                "アカウントを無効化し、最終日の手続きに無効化を組み込む"
            }
            (Check::NewPrivilegedGrantDuringNotice, Lang::En) => {
                "revoke the privileged group, ask who approved it and why, and review what the account did since"
            }
            (Check::NewPrivilegedGrantDuringNotice, Lang::Ja) => {
                "特権グループを取り消し、承認者と理由を確認し、付与後の操作を調べる"
            }
            (Check::RightsAddedDuringNotice, Lang::En) => {
                "confirm with the manager that the leaver needs this group; revoke it otherwise"
            }
            (Check::RightsAddedDuringNotice, Lang::Ja) => {
                "退職予定者にこの権限が必要か上長に確認し、不要なら取り消す"
            }
            (Check::DormantAccountReused, Lang::En) => {
                "confirm with the owner that the use was theirs; disable dormant accounts instead of leaving them enabled"
            }
            (Check::DormantAccountReused, Lang::Ja) => {
                "本人の利用か確認し、長期未使用のアカウントは有効のまま放置せず無効化する"
            }
            (Check::DormantAccount, Lang::En) => {
                "ask the owner whether the account is still needed; disable it otherwise"
            }
            (Check::DormantAccount, Lang::Ja) => "所有者に必要性を確認し、不要なら無効化する",
            (Check::SharedAccount, Lang::En) => {
                "give each user an account of their own and disable the shared one"
            }
            (Check::SharedAccount, Lang::Ja) => {
                "利用者ごとに個人アカウントを発行し、共用アカウントを無効化する"
            }
            (Check::GenericAccountName, Lang::En) => {
                "assign an owner responsible for the account, or replace it with personal accounts"
            }
            (Check::GenericAccountName, Lang::Ja) => {
                "責任者を割り当てるか、個人アカウントに置き換える"
            }
            (Check::PrivilegedWithoutMfa, Lang::En) => {
                "register a second factor and enforce it for every privileged account"
            }
            (Check::PrivilegedWithoutMfa, Lang::Ja) => {
                "多要素認証を登録し、特権アカウントには必須にする"
            }
            (Check::RightsNotRevokedAfterMove, Lang::En) => {
                "review the groups with the new manager and remove those of the former job"
            }
            (Check::RightsNotRevokedAfterMove, Lang::Ja) => {
                "異動先の上長と権限を見直し、前の業務のグループを削除する"
            }
            (Check::OrphanAccount, Lang::En) => {
                "find the owner and record them (HR accounts or the directory's employee id), or disable the account"
            }
            (Check::OrphanAccount, Lang::Ja) => {
                "所有者を特定して登録する（人事の accounts 列かディレクトリの社員番号）か、無効化する"
            }
            (Check::PersonWithoutAccounts, Lang::En) => {
                "add the person's accounts to the HR data, so their activity is theirs"
            }
            (Check::PersonWithoutAccounts, Lang::Ja) => {
                "人事データにアカウントを登録し、操作を本人に結び付ける"
            }
        }
    }
}

fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    items
        .into_iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn owners(usual_hosts_of: &BTreeMap<String, String>) -> String {
    usual_hosts_of
        .iter()
        .map(|(host, person)| format!("{person} ({host})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Days from `from` to `to` (negative if `to` is earlier).
fn days_between(from: Date, to: Date) -> i64 {
    from.until(to)
        .map(|span| i64::from(span.get_days()))
        .unwrap_or_default()
}

/// The version of a person's record in force on `day` (`history` oldest first).
pub fn version_on(history: &[PersonRecord], day: Date) -> Option<&PersonRecord> {
    history
        .iter()
        .rev()
        .find(|version| version.valid_from <= day)
}

/// Whether the person's version in force on `day` ended employment before `day`.
pub fn terminated_before(history: &[PersonRecord], day: Date) -> Option<Date> {
    version_on(history, day)
        .and_then(|version| version.termination_date)
        .filter(|termination| *termination < day)
}

// ---------------------------------------------------------------------------------------------
// 1. Accounts used after termination

/// One stored event of an account, as the activity checks need it.
#[derive(Debug, Clone, Copy)]
pub struct Activity<'a> {
    pub leaf: u64,
    pub time: Timestamp,
    /// The local day of `time`.
    pub day: Date,
    pub kind: &'a str,
    pub host: Option<&'a str>,
}

/// `account_used_after_termination` for one account, fed its events one by one (any order).
pub struct UseAfterTermination<'h> {
    account: String,
    person: String,
    history: &'h [PersonRecord],
    seen: Option<Seen>,
}

struct Seen {
    termination_date: Date,
    first: Timestamp,
    last: Timestamp,
    count: u64,
    kinds: BTreeMap<String, u64>,
    hosts: BTreeSet<String>,
    leaves: Vec<u64>,
    last_leaf: u64,
}

impl<'h> UseAfterTermination<'h> {
    pub fn new(account: &str, person: &str, history: &'h [PersonRecord]) -> Self {
        UseAfterTermination {
            account: account.to_owned(),
            person: person.to_owned(),
            history,
            seen: None,
        }
    }

    /// The first day an event of this account could be after termination, if ever.
    pub fn earliest_day(history: &[PersonRecord]) -> Option<Date> {
        history
            .iter()
            .filter_map(|version| version.termination_date)
            .min()
            .and_then(|termination| termination.tomorrow().ok())
    }

    pub fn add(&mut self, activity: &Activity<'_>) {
        let Some(termination_date) = terminated_before(self.history, activity.day) else {
            return;
        };
        let seen = self.seen.get_or_insert_with(|| Seen {
            termination_date,
            first: activity.time,
            last: activity.time,
            count: 0,
            kinds: BTreeMap::new(),
            hosts: BTreeSet::new(),
            leaves: Vec::new(),
            last_leaf: activity.leaf,
        });
        seen.count += 1;
        if activity.time < seen.first {
            seen.first = activity.time;
            seen.termination_date = termination_date;
        }
        if activity.time >= seen.last {
            seen.last = activity.time;
            seen.last_leaf = activity.leaf;
        }
        *seen.kinds.entry(activity.kind.to_owned()).or_default() += 1;
        if let Some(host) = activity.host {
            seen.hosts.insert(host.to_owned());
        }
        if seen.leaves.len() < MAX_EVIDENCE_EVENTS - 1 {
            seen.leaves.push(activity.leaf);
        }
    }

    pub fn finish(self, offset: Offset) -> Option<Finding> {
        let seen = self.seen?;
        let mut events = seen.leaves;
        events.push(seen.last_leaf);
        events.sort_unstable();
        events.dedup();
        Some(Finding {
            check: Check::AccountUsedAfterTermination,
            severity: Check::AccountUsedAfterTermination.severity(),
            account: Some(self.account),
            directory: None,
            person: Some(self.person),
            day: offset.to_datetime(seen.last).date(),
            evidence: Evidence::UsedAfterTermination {
                termination_date: seen.termination_date,
                first: seen.first,
                last: seen.last,
                count: seen.count,
                kinds: seen.kinds,
                hosts: seen.hosts,
            },
            events,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Inventory checks

/// One listed account of the directory inventory (accounts marked removed are not listed).
#[derive(Debug, Clone)]
pub struct InventoryEntry {
    pub record: AccountRecord,
    /// The person the account belongs to: the HR link, else the person the directory names.
    pub person: Option<String>,
    /// Groups added between snapshots: `(group, local day of the snapshot that saw it)`.
    pub groups_added: Vec<(String, Date)>,
}

/// What the inventory and HR checks look at.
#[derive(Debug, Clone, Copy)]
pub struct Directory<'a> {
    pub as_of: Date,
    pub dormant_days: i64,
    /// Every person's HR versions, oldest first.
    pub people: &'a BTreeMap<String, Vec<PersonRecord>>,
    /// Account → person (the HR `accounts` table).
    pub links: &'a HashMap<String, String>,
    pub inventory: &'a [InventoryEntry],
}

impl Directory<'_> {
    fn inventory_finding(
        &self,
        check: Check,
        entry: &InventoryEntry,
        evidence: Evidence,
    ) -> Finding {
        Finding {
            check,
            severity: check.severity(),
            account: Some(entry.record.account.clone()),
            directory: Some(entry.record.source.as_str().to_owned()),
            person: entry
                .person
                .clone()
                .filter(|person| self.people.contains_key(person)),
            day: self.as_of,
            evidence,
            events: Vec::new(),
        }
    }

    /// `leaver_account_enabled`, `dormant_account`, `privileged_without_mfa`, `orphan_account`,
    /// `rights_not_revoked_after_move` and `person_without_accounts`.
    pub fn checks(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        self.leavers_enabled(&mut findings);
        self.dormant(&mut findings);
        self.privileged_without_mfa(&mut findings);
        self.orphans(&mut findings);
        self.not_revoked_after_move(&mut findings);
        self.persons_without_accounts(&mut findings);
        findings
    }

    fn leavers_enabled(&self, findings: &mut Vec<Finding>) {
        for entry in self.inventory {
            if entry.record.enabled != Some(true) {
                continue;
            }
            let Some(history) = entry.person.as_ref().and_then(|p| self.people.get(p)) else {
                continue;
            };
            let Some(termination_date) = terminated_before(history, self.as_of) else {
                continue;
            };
            let evidence = Evidence::LeaverEnabled {
                termination_date,
                days_since: days_between(termination_date, self.as_of),
                last_logon: entry.record.last_logon,
            };
            findings.push(self.inventory_finding(Check::LeaverAccountEnabled, entry, evidence));
        }
    }

    fn dormant(&self, findings: &mut Vec<Finding>) {
        // A directory none of whose accounts has a last sign-in does not export the column:
        // its "never" means "unknown".
        let mut sources_with_logons = BTreeSet::new();
        for entry in self.inventory {
            if entry.record.last_logon.is_some() {
                sources_with_logons.insert(entry.record.source);
            }
        }
        for entry in self.inventory {
            let record = &entry.record;
            if record.enabled != Some(true) {
                continue;
            }
            let idle_days = match (record.last_logon, record.created) {
                (Some(last), _) => Some(days_between(last.date(), self.as_of)),
                (None, Some(created)) => Some(days_between(created.date(), self.as_of)),
                (None, None) => None,
            };
            let dormant = match record.last_logon {
                Some(_) => idle_days.is_some_and(|days| days >= self.dormant_days),
                // Never signed in: dormant once created long enough ago (or when unknown).
                None => {
                    sources_with_logons.contains(&record.source)
                        && idle_days.is_none_or(|days| days >= self.dormant_days)
                }
            };
            if !dormant {
                continue;
            }
            let evidence = Evidence::Dormant {
                last_logon: record.last_logon,
                created: record.created,
                idle_days: record.last_logon.and(idle_days),
                threshold_days: self.dormant_days,
            };
            findings.push(self.inventory_finding(Check::DormantAccount, entry, evidence));
        }
    }

    fn privileged_without_mfa(&self, findings: &mut Vec<Finding>) {
        for entry in self.inventory {
            let record = &entry.record;
            if record.enabled != Some(true) || record.mfa != Some(false) || !record.privileged() {
                continue;
            }
            let evidence = Evidence::PrivilegedWithoutMfa {
                privileged_groups: record.privileged_groups().map(str::to_owned).collect(),
                privileged_flag: record.privileged_flag,
                last_logon: record.last_logon,
            };
            findings.push(self.inventory_finding(Check::PrivilegedWithoutMfa, entry, evidence));
        }
    }

    fn orphans(&self, findings: &mut Vec<Finding>) {
        for entry in self.inventory {
            if entry.record.enabled != Some(true) {
                continue;
            }
            if entry
                .person
                .as_ref()
                .is_some_and(|person| self.people.contains_key(person))
            {
                continue;
            }
            let evidence = Evidence::Orphan {
                named_person: entry.person.clone(),
                last_logon: entry.record.last_logon,
                groups: entry.record.groups.clone(),
            };
            findings.push(self.inventory_finding(Check::OrphanAccount, entry, evidence));
        }
    }

    /// The person's version in force at `as_of`, if they are employed then.
    fn current(&self, history: &'_ [PersonRecord]) -> Option<PersonRecord> {
        let version = version_on(history, self.as_of)?;
        if version.termination_date.is_some_and(|t| t < self.as_of)
            || version.hire_date.is_some_and(|h| h > self.as_of)
        {
            return None;
        }
        Some(version.clone())
    }

    fn not_revoked_after_move(&self, findings: &mut Vec<Finding>) {
        // Enabled inventory accounts per person.
        let mut accounts_of: HashMap<&str, Vec<&InventoryEntry>> = HashMap::new();
        for entry in self.inventory {
            if entry.record.enabled == Some(false) {
                continue;
            }
            if let Some(person) = entry.person.as_deref() {
                accounts_of.entry(person).or_default().push(entry);
            }
        }
        let mut department_of: HashMap<&str, String> = HashMap::new();
        for (person, history) in self.people {
            if let Some(department) = self.current(history).and_then(|v| v.department) {
                department_of.insert(person, department);
            }
        }
        for (person, history) in self.people {
            let Some(to_department) = department_of.get(person.as_str()) else {
                continue;
            };
            // The latest move into the current department.
            let mut moved: Option<(String, Date)> = None;
            for pair in history.windows(2) {
                if pair[1].valid_from > self.as_of {
                    break;
                }
                if let (Some(before), Some(after)) = (&pair[0].department, &pair[1].department)
                    && before != after
                    && after == to_department
                {
                    moved = Some((before.clone(), pair[1].valid_from));
                }
            }
            let Some((from_department, moved_on)) = moved else {
                continue;
            };
            let Some(own) = accounts_of.get(person.as_str()) else {
                continue;
            };
            let mut peers = 0;
            let mut peer_groups: BTreeSet<String> = BTreeSet::new();
            for (other, department) in &department_of {
                if *other == person.as_str() || department != to_department {
                    continue;
                }
                peers += 1;
                for entry in accounts_of.get(other).into_iter().flatten() {
                    peer_groups.extend(entry.record.groups.iter().map(|g| g.to_lowercase()));
                }
            }
            if peers == 0 {
                continue;
            }
            for entry in own {
                // A group added after the move belongs to the new job.
                let groups: Vec<String> = entry
                    .record
                    .groups
                    .iter()
                    .filter(|group| !peer_groups.contains(&group.to_lowercase()))
                    .filter(|group| {
                        !entry
                            .groups_added
                            .iter()
                            .any(|(added, day)| added == *group && *day >= moved_on)
                    })
                    .cloned()
                    .collect();
                if groups.is_empty() {
                    continue;
                }
                let evidence = Evidence::NotRevoked {
                    from_department: from_department.clone(),
                    to_department: to_department.clone(),
                    moved_on,
                    groups,
                    peers,
                };
                findings.push(self.inventory_finding(
                    Check::RightsNotRevokedAfterMove,
                    entry,
                    evidence,
                ));
            }
        }
    }

    fn persons_without_accounts(&self, findings: &mut Vec<Finding>) {
        let mut linked: BTreeSet<&str> = self.links.values().map(String::as_str).collect();
        linked.extend(self.inventory.iter().filter_map(|e| e.person.as_deref()));
        for (person, history) in self.people {
            if linked.contains(person.as_str()) {
                continue;
            }
            let Some(current) = self.current(history) else {
                continue;
            };
            findings.push(Finding {
                check: Check::PersonWithoutAccounts,
                severity: Check::PersonWithoutAccounts.severity(),
                account: None,
                directory: None,
                person: Some(person.clone()),
                day: self.as_of,
                evidence: Evidence::PersonWithoutAccounts {
                    department: current.department,
                    hire_date: current.hire_date,
                },
                events: Vec::new(),
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Rights added during notice

/// A group or privilege given to an account: from the inventory's group history or from an
/// `account.group_add` / `account.privilege_change` event of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub account: String,
    pub group: String,
    /// The local day of the change (of the snapshot that saw it, for the inventory).
    pub day: Date,
    /// `inventory`, or the event's kind and actor (`account.group_add by admin01`).
    pub seen_in: String,
    /// The event's leaf, for grants from the ledger.
    pub leaf: Option<u64>,
}

/// `rights_added_during_notice` and `new_privileged_grant_during_notice`: grants on a day from
/// the notice date to the last day (or `as_of` when there is none), one finding per account and
/// group however many sources saw it. The notice and last day are those of the person's
/// version in force at `as_of`: HR often records a notice days after it was given.
pub fn rights_added_during_notice(
    grants: &[Grant],
    people: &BTreeMap<String, Vec<PersonRecord>>,
    links: &HashMap<String, String>,
    as_of: Date,
) -> Vec<Finding> {
    let mut found: BTreeMap<(String, String), Finding> = BTreeMap::new();
    for grant in grants {
        let Some(person) = links.get(&grant.account) else {
            continue;
        };
        let Some(version) = people.get(person).and_then(|h| version_on(h, as_of)) else {
            continue;
        };
        let Some(notice_date) = version.notice_date else {
            continue;
        };
        let end = version.termination_date.unwrap_or(as_of).min(as_of);
        if grant.day < notice_date || grant.day > end {
            continue;
        }
        let check = if is_privileged_group(&grant.group) {
            Check::NewPrivilegedGrantDuringNotice
        } else {
            Check::RightsAddedDuringNotice
        };
        let key = (grant.account.clone(), grant.group.to_lowercase());
        let finding = found.entry(key).or_insert_with(|| Finding {
            check,
            severity: check.severity(),
            account: Some(grant.account.clone()),
            directory: None,
            person: Some(person.clone()),
            day: grant.day,
            evidence: Evidence::RightsAdded {
                group: grant.group.clone(),
                changed_on: grant.day,
                notice_date,
                termination_date: version.termination_date,
                seen_in: Vec::new(),
            },
            events: Vec::new(),
        });
        if let Evidence::RightsAdded {
            changed_on,
            seen_in,
            ..
        } = &mut finding.evidence
        {
            if grant.day < *changed_on {
                *changed_on = grant.day;
                finding.day = grant.day;
            }
            if !seen_in.contains(&grant.seen_in) {
                seen_in.push(grant.seen_in.clone());
            }
        }
        if let Some(leaf) = grant.leaf
            && finding.events.len() < MAX_EVIDENCE_EVENTS
        {
            finding.events.push(leaf);
        }
    }
    let mut findings: Vec<Finding> = found.into_values().collect();
    for finding in &mut findings {
        finding.events.sort_unstable();
        finding.events.dedup();
    }
    findings
}

// ---------------------------------------------------------------------------------------------
// 3. Dormant accounts used again

/// `dormant_account_reused`: each gap of at least `dormant_days` between consecutive events of
/// one account (`times`: `(time, leaf)`, sorted by time) ends with the event after it.
pub fn reuses_after_gap(
    account: &str,
    person: Option<&str>,
    times: &[(Timestamp, u64)],
    dormant_days: i64,
    offset: Offset,
) -> Vec<Finding> {
    let threshold_us = dormant_days.saturating_mul(86_400_000_000);
    let mut findings = Vec::new();
    for pair in times.windows(2) {
        let ((before, before_leaf), (after, after_leaf)) = (pair[0], pair[1]);
        let gap_us = after.as_microsecond() - before.as_microsecond();
        if gap_us < threshold_us {
            continue;
        }
        findings.push(Finding {
            check: Check::DormantAccountReused,
            severity: Check::DormantAccountReused.severity(),
            account: Some(account.to_owned()),
            directory: None,
            person: person.map(str::to_owned),
            day: offset.to_datetime(after).date(),
            evidence: Evidence::DormantReused {
                last_before: before,
                first_after: after,
                gap_days: gap_us / 86_400_000_000,
                threshold_days: dormant_days,
            },
            events: vec![before_leaf.min(after_leaf), before_leaf.max(after_leaf)],
        });
    }
    findings
}

// ---------------------------------------------------------------------------------------------
// 4. Shared and generic accounts

/// `shared_account`, fed every logon (in time order per account).
#[derive(Default)]
pub struct SharedLogons {
    accounts: HashMap<String, AccountLogons>,
}

#[derive(Default)]
struct AccountLogons {
    /// Last logon time per host.
    last_on: HashMap<String, i64>,
    /// Local days with logons, per host.
    days_on: HashMap<String, BTreeSet<Date>>,
    /// Logons within [`SHARED_WINDOW_US`] of a logon on another host, in time order (the
    /// first [`MAX_TOGETHER`]).
    together: Vec<Together>,
}

/// A logon on `host` while the account was active on `others` too.
struct Together {
    time: Timestamp,
    host: String,
    others: Vec<String>,
    leaf: u64,
}

/// Simultaneous logons kept per account: an administrator hopping between machines all day
/// could otherwise fill memory.
const MAX_TOGETHER: usize = 10_000;

/// An account's simultaneous use between its regular hosts (each used on at least
/// [`USUAL_HOST_MIN_DAYS`] days): occasions, hosts, first and last time, leaves.
struct Simultaneous {
    occasions: u64,
    hosts: BTreeSet<String>,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    leaves: Vec<u64>,
}

impl AccountLogons {
    /// Only hosts the account uses regularly count: an administrator signing in to one
    /// machine after another for support is not two people sharing an account; a reception
    /// account in use at two desks every day is.
    fn simultaneous(&self) -> Simultaneous {
        let regular = |host: &str| {
            self.days_on
                .get(host)
                .is_some_and(|days| days.len() >= USUAL_HOST_MIN_DAYS)
        };
        let mut found = Simultaneous {
            occasions: 0,
            hosts: BTreeSet::new(),
            first: None,
            last: None,
            leaves: Vec::new(),
        };
        let mut last_occasion_us: Option<i64> = None;
        for logon in &self.together {
            if !regular(&logon.host) {
                continue;
            }
            let others: Vec<&String> = logon.others.iter().filter(|o| regular(o)).collect();
            if others.is_empty() {
                continue;
            }
            let now = logon.time.as_microsecond();
            // Logons within one window of the previous occasion are the same occasion.
            if last_occasion_us.is_none_or(|at| now - at > SHARED_WINDOW_US) {
                found.occasions += 1;
                found.first.get_or_insert(logon.time);
            }
            last_occasion_us = Some(now);
            found.last = Some(logon.time);
            found.hosts.insert(logon.host.clone());
            found.hosts.extend(others.into_iter().cloned());
            if found.leaves.len() < MAX_EVIDENCE_EVENTS {
                found.leaves.push(logon.leaf);
            }
        }
        found
    }
}

impl SharedLogons {
    pub fn new() -> Self {
        SharedLogons::default()
    }

    /// One logon of `account` on `host` (the account's logons in time order).
    pub fn add(&mut self, account: &str, host: &str, time: Timestamp, day: Date, leaf: u64) {
        let logons = match self.accounts.get_mut(account) {
            Some(logons) => logons,
            None => self.accounts.entry(account.to_owned()).or_default(),
        };
        let now = time.as_microsecond();
        logons
            .days_on
            .entry(host.to_owned())
            .or_default()
            .insert(day);
        let together: Vec<String> = logons
            .last_on
            .iter()
            .filter(|(other, at)| other.as_str() != host && now - **at <= SHARED_WINDOW_US)
            .map(|(other, _)| other.clone())
            .collect();
        if !together.is_empty() && logons.together.len() < MAX_TOGETHER {
            logons.together.push(Together {
                time,
                host: host.to_owned(),
                others: together,
                leaf,
            });
        }
        logons.last_on.insert(host.to_owned(), now);
    }

    /// The findings. A person's usual host is the one they log on to on most days (at least
    /// [`USUAL_HOST_MIN_DAYS`]); an account used on the usual hosts of two or more persons
    /// other than its owner, each on [`USUAL_HOST_MIN_DAYS`] days, is shared too.
    pub fn finish(self, links: &HashMap<String, String>, offset: Offset) -> Vec<Finding> {
        // Days per (person, host) over the person's accounts.
        let mut person_days: HashMap<&str, HashMap<&str, usize>> = HashMap::new();
        for (account, logons) in &self.accounts {
            let Some(person) = links.get(account) else {
                continue;
            };
            let hosts = person_days.entry(person).or_default();
            for (host, days) in &logons.days_on {
                *hosts.entry(host).or_default() += days.len();
            }
        }
        let mut usual_host_of: HashMap<&str, &str> = HashMap::new();
        let mut own_host: HashMap<&str, &str> = HashMap::new();
        for (person, hosts) in &person_days {
            let best = hosts
                .iter()
                .filter(|(_, days)| **days >= USUAL_HOST_MIN_DAYS)
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)));
            if let Some((host, _)) = best {
                usual_host_of.insert(host, person);
                own_host.insert(person, host);
            }
        }
        let mut findings = Vec::new();
        let mut accounts: Vec<_> = self.accounts.iter().collect();
        accounts.sort_by(|a, b| a.0.cmp(b.0));
        for (account, logons) in accounts {
            let owner = links.get(account).map(String::as_str);
            let mut usual_hosts_of = BTreeMap::new();
            for (host, days) in &logons.days_on {
                if days.len() < USUAL_HOST_MIN_DAYS {
                    continue;
                }
                if let Some(person) = usual_host_of.get(host.as_str())
                    && Some(*person) != owner
                {
                    usual_hosts_of.insert(host.clone(), (*person).to_owned());
                }
            }
            let distinct_others: BTreeSet<&String> = usual_hosts_of.values().collect();
            // Those hosts must be where the account mostly goes when away from its owner's own
            // host: an administrator who signs in to machine after machine for support comes
            // back to a few of them on three days by chance, among a hundred others.
            let own = owner.and_then(|o| own_host.get(o).copied());
            let away_days: usize = logons
                .days_on
                .iter()
                .filter(|(host, _)| Some(host.as_str()) != own)
                .map(|(_, days)| days.len())
                .sum();
            let on_usual_hosts: usize = usual_hosts_of
                .keys()
                .filter_map(|host| logons.days_on.get(host))
                .map(BTreeSet::len)
                .sum();
            if distinct_others.len() < 2 || on_usual_hosts * 2 < away_days {
                usual_hosts_of.clear();
            }
            let together = logons.simultaneous();
            let simultaneous = together.occasions >= SHARED_MIN_OCCASIONS;
            if !simultaneous && usual_hosts_of.is_empty() {
                continue;
            }
            let last = together.last;
            let mut hosts = if simultaneous {
                together.hosts.clone()
            } else {
                BTreeSet::new()
            };
            hosts.extend(usual_hosts_of.keys().cloned());
            let mut events = if simultaneous {
                together.leaves.clone()
            } else {
                Vec::new()
            };
            events.sort_unstable();
            let day = match (simultaneous, last) {
                (true, Some(time)) => offset.to_datetime(time).date(),
                _ => logons
                    .days_on
                    .values()
                    .filter_map(|days| days.last().copied())
                    .max()
                    .unwrap_or_default(),
            };
            findings.push(Finding {
                check: Check::SharedAccount,
                severity: Check::SharedAccount.severity(),
                account: Some(account.clone()),
                directory: None,
                person: owner.map(str::to_owned),
                day,
                evidence: Evidence::Shared {
                    hosts,
                    occasions: if simultaneous { together.occasions } else { 0 },
                    window_minutes: SHARED_WINDOW_US / 60_000_000,
                    usual_hosts_of,
                    first: if simultaneous { together.first } else { None },
                    last: if simultaneous { last } else { None },
                },
                events,
            });
        }
        findings
    }
}

/// The generic word in an account name ([`GENERIC_NAMES`], [`GENERIC_JAPANESE`]; a service
/// prefix ([`SERVICE_PREFIXES`]) only when `has_person` is false), if any.
pub fn generic_name(account: &str, has_person: bool) -> Option<String> {
    for word in GENERIC_JAPANESE {
        if account.contains(word) {
            return Some((*word).to_owned());
        }
    }
    // `CORP\admin`, `admin@example.jp`.
    let name = account.rsplit('\\').next().unwrap_or(account);
    let name = name.split('@').next().unwrap_or(name).to_lowercase();
    let first = name.split(['-', '_', '.', ' ']).next().unwrap_or_default();
    // `user01`, `admin2`: up to three digits. More are an id's (`TMP4103`, CERT-style initials
    // and a number), not a counter.
    let digits = first.len() - first.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let first = match digits {
        0..=3 => &first[..first.len() - digits],
        _ => first,
    };
    if GENERIC_NAMES.contains(&first) {
        return Some(first.to_owned());
    }
    if !has_person
        && SERVICE_PREFIXES
            .iter()
            .any(|prefix| first == *prefix || (first.starts_with("svc") && prefix == &"svc"))
    {
        return Some(first.to_owned());
    }
    None
}

/// `generic_account_name` over the inventory and the accounts events name (`event_accounts`);
/// one finding per account name.
pub fn generic_accounts<'a>(
    inventory: &[InventoryEntry],
    event_accounts: impl IntoIterator<Item = &'a str>,
    links: &HashMap<String, String>,
    as_of: Date,
) -> Vec<Finding> {
    let mut found: BTreeMap<String, Finding> = BTreeMap::new();
    let mut note = |account: &str, directory: Option<&str>, person: Option<&str>, seen: &str| {
        let Some(matched) = generic_name(account, person.is_some()) else {
            return;
        };
        let finding = found.entry(account.to_owned()).or_insert_with(|| Finding {
            check: Check::GenericAccountName,
            severity: Check::GenericAccountName.severity(),
            account: Some(account.to_owned()),
            directory: directory.map(str::to_owned),
            person: person.map(str::to_owned),
            day: as_of,
            evidence: Evidence::GenericName {
                matched,
                seen_in: Vec::new(),
            },
            events: Vec::new(),
        });
        if let Evidence::GenericName { seen_in, .. } = &mut finding.evidence
            && !seen_in.iter().any(|s| s == seen)
        {
            seen_in.push(seen.to_owned());
        }
    };
    for entry in inventory {
        note(
            &entry.record.account,
            Some(entry.record.source.as_str()),
            entry.person.as_deref(),
            "inventory",
        );
    }
    for account in event_accounts {
        note(
            account,
            None,
            links.get(account).map(String::as_str),
            "events",
        );
    }
    found.into_values().collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jiff::civil::date;
    use mamori_event::AccountSource;

    fn person(id: &str, valid_from: Date) -> PersonRecord {
        let mut p = PersonRecord::new(id, valid_from, id);
        p.department = Some("営業部".into());
        p.accounts = vec![id.to_lowercase()];
        p
    }

    fn leaver(id: &str, notice: Date, last_day: Date) -> PersonRecord {
        let mut p = person(id, date(2020, 1, 1));
        p.notice_date = Some(notice);
        p.termination_date = Some(last_day);
        p
    }

    fn at(day: Date, hour: i8, minute: i8) -> Timestamp {
        Offset::UTC
            .to_timestamp(day.at(hour, minute, 0, 0))
            .unwrap()
    }

    fn activity(
        leaf: u64,
        day: Date,
        hour: i8,
        kind: &'static str,
        host: &'static str,
    ) -> Activity<'static> {
        Activity {
            leaf,
            time: at(day, hour, 0),
            day,
            kind,
            host: Some(host),
        }
    }

    fn people(records: Vec<PersonRecord>) -> BTreeMap<String, Vec<PersonRecord>> {
        let mut map: BTreeMap<String, Vec<PersonRecord>> = BTreeMap::new();
        for record in records {
            map.entry(record.person_id.clone())
                .or_default()
                .push(record);
        }
        map
    }

    fn links(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(a, p)| ((*a).to_owned(), (*p).to_owned()))
            .collect()
    }

    fn account(name: &str, person: Option<&str>) -> InventoryEntry {
        let mut record = AccountRecord::new(name, AccountSource::Ad);
        record.enabled = Some(true);
        record.mfa = Some(true);
        record.last_logon = Some(date(2025, 3, 30).at(9, 0, 0, 0));
        record.person_id = person.map(str::to_owned);
        InventoryEntry {
            record,
            person: person.map(str::to_owned),
            groups_added: Vec::new(),
        }
    }

    fn checks_of(findings: &[Finding]) -> Vec<(Check, String)> {
        findings
            .iter()
            .map(|f| {
                (
                    f.check,
                    f.account.clone().or(f.person.clone()).unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn use_on_the_last_day_is_allowed_and_the_day_after_is_not() {
        let history = vec![leaver("E1", date(2025, 3, 1), date(2025, 3, 31))];
        let mut check = UseAfterTermination::new("e1", "E1", &history);
        check.add(&activity(1, date(2025, 3, 31), 23, "logon", "PC-1"));
        assert!(
            UseAfterTermination::new("e1", "E1", &history)
                .finish(Offset::UTC)
                .is_none()
        );
        check.add(&activity(7, date(2025, 4, 2), 9, "file.copy", "PC-9"));
        check.add(&activity(5, date(2025, 4, 1), 9, "logon", "PC-1"));
        let finding = check.finish(Offset::UTC).unwrap();
        assert_eq!(finding.check, Check::AccountUsedAfterTermination);
        assert_eq!(finding.severity, Level::Critical);
        assert_eq!(finding.events, [5, 7]);
        assert_eq!(finding.day, date(2025, 4, 2));
        let Evidence::UsedAfterTermination {
            termination_date,
            first,
            last,
            count,
            kinds,
            hosts,
        } = &finding.evidence
        else {
            panic!("{finding:?}");
        };
        assert_eq!(*termination_date, date(2025, 3, 31));
        assert_eq!(*count, 2);
        assert_eq!(*first, at(date(2025, 4, 1), 9, 0));
        assert_eq!(*last, at(date(2025, 4, 2), 9, 0));
        assert_eq!(kinds.get("file.copy"), Some(&1));
        assert_eq!(hosts.len(), 2);
        assert!(
            finding
                .title(Lang::En)
                .contains("after the last day 2025-03-31")
        );
        assert!(finding.title(Lang::Ja).contains("最終日 2025-03-31"));
    }

    #[test]
    fn a_rehired_person_may_use_their_account_again() {
        let mut rehired = person("E1", date(2025, 6, 1));
        rehired.hire_date = Some(date(2025, 6, 1));
        let history = vec![leaver("E1", date(2025, 3, 1), date(2025, 3, 31)), rehired];
        let mut check = UseAfterTermination::new("e1", "E1", &history);
        check.add(&activity(9, date(2025, 6, 2), 9, "logon", "PC-1"));
        assert!(check.finish(Offset::UTC).is_none());
        assert_eq!(
            UseAfterTermination::earliest_day(&history),
            Some(date(2025, 4, 1))
        );
    }

    #[test]
    fn leavers_accounts_enabled_after_the_last_day() {
        let people = people(vec![
            leaver("E1", date(2025, 3, 1), date(2025, 3, 31)),
            leaver("E2", date(2025, 3, 1), date(2025, 4, 10)),
        ]);
        let mut disabled = account("e1-old", Some("E1"));
        disabled.record.enabled = Some(false);
        let inventory = vec![
            account("e1", Some("E1")),
            account("e2", Some("E2")),
            disabled,
        ];
        let links = links(&[("e1", "E1"), ("e2", "E2"), ("e1-old", "E1")]);
        let directory = |as_of| Directory {
            as_of,
            dormant_days: 90,
            people: &people,
            links: &links,
            inventory: &inventory,
        };
        let on_last_day = directory(date(2025, 3, 31)).checks();
        assert!(
            !on_last_day
                .iter()
                .any(|f| f.check == Check::LeaverAccountEnabled)
        );
        let after = directory(date(2025, 4, 1)).checks();
        let leavers: Vec<_> = after
            .iter()
            .filter(|f| f.check == Check::LeaverAccountEnabled)
            .collect();
        assert_eq!(leavers.len(), 1, "{after:?}");
        assert_eq!(leavers[0].account.as_deref(), Some("e1"));
        assert_eq!(leavers[0].directory.as_deref(), Some("ad"));
        assert!(matches!(
            leavers[0].evidence,
            Evidence::LeaverEnabled { days_since: 1, .. }
        ));
    }

    #[test]
    fn grants_during_notice_from_both_sources_make_one_finding() {
        let people = people(vec![leaver("E1", date(2025, 3, 1), date(2025, 3, 31))]);
        let links = links(&[("e1", "E1")]);
        let grant = |group: &str, day, seen: &str, leaf| Grant {
            account: "e1".into(),
            group: group.into(),
            day,
            seen_in: seen.into(),
            leaf,
        };
        let grants = vec![
            grant(
                "Domain Admins",
                date(2025, 3, 5),
                "account.group_add by admin01",
                Some(40),
            ),
            grant("domain admins", date(2025, 3, 7), "inventory", None),
            grant("営業部", date(2025, 3, 31), "inventory", None),
            grant("設計部", date(2025, 2, 28), "inventory", None),
            grant("経理部", date(2025, 4, 1), "inventory", None),
        ];
        let findings = rights_added_during_notice(&grants, &people, &links, date(2025, 5, 1));
        assert_eq!(
            checks_of(&findings),
            [
                (Check::NewPrivilegedGrantDuringNotice, "e1".into()),
                (Check::RightsAddedDuringNotice, "e1".into())
            ]
        );
        let privileged = &findings[0];
        assert_eq!(privileged.severity, Level::Critical);
        assert_eq!(privileged.events, [40]);
        let Evidence::RightsAdded {
            changed_on,
            seen_in,
            ..
        } = &privileged.evidence
        else {
            panic!()
        };
        assert_eq!(*changed_on, date(2025, 3, 5));
        assert_eq!(seen_in.len(), 2);
        // Without a last day, the window runs to the as-of day, inclusive.
        let mut open = person("E2", date(2020, 1, 1));
        open.notice_date = Some(date(2025, 3, 1));
        let people = self::people(vec![open]);
        let links = self::links(&[("e1", "E2")]);
        let found = rights_added_during_notice(&grants, &people, &links, date(2025, 3, 31));
        assert_eq!(found.len(), 2, "{found:?}");
        let none = rights_added_during_notice(&grants, &people, &links, date(2025, 2, 28));
        assert!(none.is_empty());
    }

    #[test]
    fn dormant_accounts_by_last_sign_in() {
        let people = people(vec![person("E1", date(2020, 1, 1))]);
        let links = links(&[("e1", "E1")]);
        let mut old = account("e1", Some("E1"));
        old.record.last_logon = Some(date(2025, 1, 1).at(9, 0, 0, 0));
        let mut never = account("svc-x", None);
        never.record.last_logon = None;
        never.record.created = Some(date(2024, 1, 1).at(0, 0, 0, 0));
        let mut new_never = account("new", None);
        new_never.record.last_logon = None;
        new_never.record.created = Some(date(2025, 3, 20).at(0, 0, 0, 0));
        let recent = account("e2", None);
        let inventory = vec![old, never, new_never, recent];
        let directory = Directory {
            as_of: date(2025, 4, 1),
            dormant_days: 90,
            people: &people,
            links: &links,
            inventory: &inventory,
        };
        let dormant: Vec<_> = directory
            .checks()
            .into_iter()
            .filter(|f| f.check == Check::DormantAccount)
            .collect();
        assert_eq!(
            checks_of(&dormant),
            [
                (Check::DormantAccount, "e1".into()),
                (Check::DormantAccount, "svc-x".into())
            ]
        );
        assert!(matches!(
            dormant[0].evidence,
            Evidence::Dormant {
                idle_days: Some(90),
                ..
            }
        ));
        // An 89-day gap is not dormant.
        let shorter = Directory {
            as_of: date(2025, 3, 31),
            ..directory
        };
        assert_eq!(
            shorter
                .checks()
                .iter()
                .filter(|f| f.check == Check::DormantAccount)
                .count(),
            1
        );
    }

    #[test]
    fn reuse_after_a_long_gap() {
        let times = vec![
            (at(date(2025, 1, 1), 9, 0), 1),
            (at(date(2025, 1, 2), 9, 0), 2),
            (at(date(2025, 4, 2), 9, 0), 50),
            (at(date(2025, 4, 3), 9, 0), 51),
        ];
        let found = reuses_after_gap("e1", Some("E1"), &times, 90, Offset::UTC);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].events, [2, 50]);
        assert_eq!(found[0].day, date(2025, 4, 2));
        assert!(reuses_after_gap("e1", None, &times, 91, Offset::UTC).is_empty());
    }

    #[test]
    fn simultaneous_use_on_two_hosts_repeatedly_is_sharing() {
        let mut shared = SharedLogons::new();
        let mut solo = SharedLogons::new();
        let mut support = SharedLogons::new();
        let mut leaf = 0;
        for d in 1..=3 {
            let day = date(2025, 4, d);
            leaf += 2;
            shared.add("kyotsu", "PC-A", at(day, 9, 0), day, leaf);
            shared.add("kyotsu", "PC-B", at(day, 9, 5), day, leaf + 1);
            // Moving from one host to another after 30 minutes is not sharing.
            solo.add("e1", "PC-A", at(day, 9, 0), day, leaf);
            solo.add("e1", "PC-B", at(day, 9, 30), day, leaf + 1);
            // An administrator at a different machine every few minutes is not either.
            for minute in 0..6 {
                let host = format!("PC-{d}-{minute}");
                support.add("it01", &host, at(day, 10, minute * 5), day, leaf);
            }
        }
        let found = shared.finish(&HashMap::new(), Offset::UTC);
        assert_eq!(found.len(), 1);
        assert!(matches!(
            found[0].evidence,
            Evidence::Shared { occasions: 3, .. }
        ));
        assert_eq!(found[0].events, [3, 5, 7]);
        assert_eq!(found[0].day, date(2025, 4, 3));
        assert!(solo.finish(&HashMap::new(), Offset::UTC).is_empty());
        assert!(support.finish(&HashMap::new(), Offset::UTC).is_empty());
        // Twice is not yet a habit.
        let mut twice = SharedLogons::new();
        for d in 1..=3 {
            let day = date(2025, 4, d);
            twice.add("x", "PC-A", at(day, 9, 0), day, 1);
            twice.add("x", "PC-B", at(day, 12, 0), day, 2);
            if d < 3 {
                twice.add("x", "PC-A", at(day, 12, 1), day, 3);
            }
        }
        assert!(twice.finish(&HashMap::new(), Offset::UTC).is_empty());
    }

    #[test]
    fn an_account_on_the_usual_hosts_of_two_others_is_shared() {
        let mut logons = SharedLogons::new();
        let links = links(&[("a", "A"), ("b", "B"), ("c", "C")]);
        for d in 1..=5 {
            let day = date(2025, 4, d);
            logons.add("a", "PC-A", at(day, 9, 0), day, 1);
            logons.add("b", "PC-B", at(day, 9, 0), day, 2);
            logons.add("c", "PC-C", at(day, 9, 0), day, 3);
            if d <= 3 {
                logons.add("team", "PC-A", at(day, 12, 0), day, 4);
                logons.add("team", "PC-B", at(day, 15, 0), day, 5);
                // c uses a's host at lunch: one other person's host is not sharing.
                logons.add("c", "PC-A", at(day, 12, 30), day, 6);
            }
        }
        let found = logons.finish(&links, Offset::UTC);
        assert_eq!(checks_of(&found), [(Check::SharedAccount, "team".into())]);
        let Evidence::Shared { usual_hosts_of, .. } = &found[0].evidence else {
            panic!()
        };
        assert_eq!(usual_hosts_of.len(), 2);
        assert!(
            found[0]
                .title(Lang::En)
                .contains("usual hosts of A (PC-A), B (PC-B)")
        );
    }

    #[test]
    fn a_support_administrator_visiting_many_hosts_is_not_shared() {
        let mut logons = SharedLogons::new();
        let people: Vec<(String, String)> = (0..60)
            .map(|n| (format!("u{n}"), format!("P{n}")))
            .collect();
        let pairs: Vec<(&str, &str)> = people
            .iter()
            .map(|(a, p)| (a.as_str(), p.as_str()))
            .chain([("admin1", "IT")])
            .collect();
        let links = links(&pairs);
        for d in 0..60u32 {
            let day = date(2025, 1, 1) + jiff::Span::new().days(i64::from(d));
            for n in 0..60 {
                logons.add(&format!("u{n}"), &format!("PC-{n}"), at(day, 9, 0), day, 1);
            }
            logons.add("admin1", "PC-IT", at(day, 8, 30), day, 2);
            // One support visit a day, to hosts 0 and 1 on three days each, else elsewhere.
            let host = if d < 6 { d % 2 } else { 2 + d % 58 };
            logons.add("admin1", &format!("PC-{host}"), at(day, 14, 0), day, 3);
        }
        let found = logons.finish(&links, Offset::UTC);
        assert!(checks_of(&found).is_empty(), "{found:?}");
    }

    #[test]
    fn generic_names() {
        for name in [
            "admin",
            "Administrator",
            "user01",
            "CORP\\guest",
            "shared-sales",
            "kyoyu_eigyo",
            "営業部共用",
            "temp2",
            "test@example.jp",
        ] {
            assert!(generic_name(name, true).is_some(), "{name}");
        }
        for name in [
            "yamada-t",
            "tanaka-admin",
            "E1001",
            "administration.head2",
            "TMP4103",
        ] {
            assert!(generic_name(name, true).is_none(), "{name}");
        }
        assert_eq!(generic_name("svc-backup", false).as_deref(), Some("svc"));
        assert_eq!(
            generic_name("svcbackup", false).as_deref(),
            Some("svcbackup")
        );
        assert!(generic_name("svc-backup", true).is_none());
        let inventory = vec![account("admin", None)];
        let found = generic_accounts(
            &inventory,
            ["admin", "yamada"],
            &HashMap::new(),
            date(2025, 4, 1),
        );
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].evidence,
            Evidence::GenericName {
                matched: "admin".into(),
                seen_in: vec!["inventory".into(), "events".into()]
            }
        );
    }

    #[test]
    fn privileged_without_mfa_needs_to_know_there_is_none() {
        let people = people(vec![person("E1", date(2020, 1, 1))]);
        let links = links(&[("e1", "E1")]);
        let mut no_mfa = account("e1", Some("E1"));
        no_mfa.record.groups = vec!["Domain Admins".into()];
        no_mfa.record.mfa = Some(false);
        let mut unknown = no_mfa.clone();
        unknown.record.account = "e1-b".into();
        unknown.record.mfa = None;
        let mut flagged = no_mfa.clone();
        flagged.record.account = "e1-c".into();
        flagged.record.groups.clear();
        flagged.record.privileged_flag = Some(true);
        let mut plain = no_mfa.clone();
        plain.record.account = "e1-d".into();
        plain.record.groups = vec!["営業部".into()];
        let inventory = vec![no_mfa, unknown, flagged, plain];
        let directory = Directory {
            as_of: date(2025, 4, 1),
            dormant_days: 90,
            people: &people,
            links: &links,
            inventory: &inventory,
        };
        let found: Vec<_> = directory
            .checks()
            .into_iter()
            .filter(|f| f.check == Check::PrivilegedWithoutMfa)
            .collect();
        assert_eq!(
            checks_of(&found),
            [
                (Check::PrivilegedWithoutMfa, "e1".into()),
                (Check::PrivilegedWithoutMfa, "e1-c".into())
            ]
        );
    }

    #[test]
    fn groups_kept_after_a_move_that_no_new_peer_holds() {
        let mut before = person("E1", date(2020, 1, 1));
        before.department = Some("経理部".into());
        let after = person("E1", date(2025, 1, 1));
        let peer = person("E2", date(2020, 1, 1));
        let people = people(vec![before, after, peer]);
        let links = links(&[("e1", "E1"), ("e2", "E2")]);
        let mut moved = account("e1", Some("E1"));
        moved.record.groups = vec!["営業部".into(), "経理部".into(), "営業企画".into()];
        moved.groups_added = vec![("営業企画".into(), date(2025, 1, 2))];
        let mut colleague = account("e2", Some("E2"));
        colleague.record.groups = vec!["営業部".into()];
        let inventory = vec![moved, colleague];
        let directory = Directory {
            as_of: date(2025, 4, 1),
            dormant_days: 90,
            people: &people,
            links: &links,
            inventory: &inventory,
        };
        let found: Vec<_> = directory
            .checks()
            .into_iter()
            .filter(|f| f.check == Check::RightsNotRevokedAfterMove)
            .collect();
        assert_eq!(found.len(), 1);
        let Evidence::NotRevoked {
            groups,
            from_department,
            peers,
            ..
        } = &found[0].evidence
        else {
            panic!()
        };
        assert_eq!(groups, &["経理部".to_owned()]);
        assert_eq!(from_department, "経理部");
        assert_eq!(*peers, 1);
        // Before the move took effect, nothing.
        let earlier = Directory {
            as_of: date(2024, 12, 31),
            ..directory
        };
        assert!(
            !earlier
                .checks()
                .iter()
                .any(|f| f.check == Check::RightsNotRevokedAfterMove)
        );
    }

    #[test]
    fn orphans_and_persons_without_accounts() {
        let mut future = person("E9", date(2025, 1, 1));
        future.hire_date = Some(date(2025, 6, 1));
        let people = people(vec![
            person("E1", date(2020, 1, 1)),
            person("E2", date(2020, 1, 1)),
            leaver("E3", date(2025, 1, 1), date(2025, 2, 1)),
            future,
        ]);
        let links = links(&[("e1", "E1")]);
        let mut off = account("old", None);
        off.record.enabled = Some(false);
        let inventory = vec![
            account("e1", Some("E1")),
            account("ghost", Some("E404")),
            account("admin", None),
            off,
        ];
        let directory = Directory {
            as_of: date(2025, 4, 1),
            dormant_days: 90,
            people: &people,
            links: &links,
            inventory: &inventory,
        };
        let found = directory.checks();
        let orphans: Vec<_> = found
            .iter()
            .filter(|f| f.check == Check::OrphanAccount)
            .collect();
        assert_eq!(
            checks_of(&orphans.iter().map(|f| (*f).clone()).collect::<Vec<_>>()),
            [
                (Check::OrphanAccount, "ghost".into()),
                (Check::OrphanAccount, "admin".into())
            ]
        );
        assert!(orphans[0].title(Lang::En).contains("E404"));
        let without: Vec<_> = found
            .iter()
            .filter(|f| f.check == Check::PersonWithoutAccounts)
            .map(|f| f.person.clone().unwrap_or_default())
            .collect();
        assert_eq!(without, ["E2"]);
    }

    #[test]
    fn every_check_has_text_in_both_languages_and_a_stable_key() {
        for check in Check::ALL {
            assert!(!check.id().is_empty());
            let finding = Finding {
                check,
                severity: check.severity(),
                account: Some("a".into()),
                directory: None,
                person: Some("P".into()),
                day: date(2025, 1, 1),
                evidence: Evidence::PersonWithoutAccounts {
                    department: None,
                    hire_date: None,
                },
                events: vec![],
            };
            assert_ne!(finding.action(Lang::En), finding.action(Lang::Ja));
            assert_eq!(finding.key(), format!("hygiene:{}:a", check.id()));
        }
    }
}
