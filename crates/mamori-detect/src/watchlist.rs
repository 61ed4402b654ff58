//! The departing-employee watch list and its look-back summary (docs/watchlist.md).
//!
//! Data theft by leavers usually starts in the months before they give notice and peaks in
//! the weeks before the last day, so a person **enters** the watch list on their notice date
//! (or, when HR has no notice date, [`WatchRules::before_termination_days`] before the
//! termination date), **stays** until [`WatchRules::grace_days`] after the termination date
//! (accounts are often disabled late) and then **leaves** it ([`watch_entry`]).
//!
//! The **look-back** ([`LookbackBuilder`]) sorts the person's events into [`Category`]s in
//! three periods: the look-back window (the `days` before entry), the time since entry, and a
//! baseline of the same length before the look-back window — the person's own earlier
//! behaviour, so that a reader sees what changed rather than what is merely a lot
//! ([`Lookback::changes`], [`summary_sentences`]).
//!
//! Pure: versions and events in, summaries out. The store reads the events, the CLI renders
//! the report.

use std::collections::BTreeMap;

use foldhash::HashMap;
use jiff::civil::{Date, Weekday};
use jiff::tz::Offset;
use mamori_event::{DestinationKind, Event, Kind, PersonRecord};
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;

use crate::explain::Lang;

/// Default days before the termination date a person without a notice date enters the list.
pub const DEFAULT_BEFORE_TERMINATION_DAYS: i64 = 30;
/// Default days after the termination date a person stays on the list.
pub const DEFAULT_GRACE_DAYS: i64 = 30;
/// Default length of the look-back window (and of the baseline before it), in days.
pub const DEFAULT_LOOKBACK_DAYS: i64 = 90;
/// Files and destinations listed per category and period.
pub const TOP_ITEMS: usize = 10;
/// Distinct files or destinations counted per category and period: a person touching more is
/// summarised by the first ones seen, so memory stays bounded whatever the history holds.
const MAX_DISTINCT_ITEMS: usize = 20_000;

/// When persons enter and leave the watch list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchRules {
    /// Without a notice date, the person enters this many days before the termination date.
    pub before_termination_days: i64,
    /// The person stays this many days after the termination date, then leaves.
    pub grace_days: i64,
}

impl Default for WatchRules {
    fn default() -> Self {
        WatchRules {
            before_termination_days: DEFAULT_BEFORE_TERMINATION_DAYS,
            grace_days: DEFAULT_GRACE_DAYS,
        }
    }
}

/// Why a person is on the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryReason {
    /// HR recorded a notice date: the person entered on it.
    Notice,
    /// Only a termination date is known: the person entered a fixed number of days before it.
    BeforeTermination,
}

impl EntryReason {
    /// `notice` / `before_termination`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryReason::Notice => "notice",
            EntryReason::BeforeTermination => "before_termination",
        }
    }
}

/// A person's place on the watch list as of a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatchEntry {
    pub person_id: String,
    /// The hire date, if HR has one: there is no history of the person before it.
    pub hire_date: Option<Date>,
    /// Full name (HR): the list is read by HR and security staff with a purpose.
    pub name: String,
    pub department: Option<String>,
    pub reason: EntryReason,
    /// First day on the list.
    pub since: Date,
    pub notice_date: Option<Date>,
    pub termination_date: Option<Date>,
    /// Last day on the list (termination date + grace); `None` while HR has no termination
    /// date: the person stays until one is recorded.
    pub until: Option<Date>,
    /// Whether the person is on the list on the day asked about.
    pub on_list: bool,
    /// Days from `since` to the day asked about (negative before entry).
    pub days_on_list: i64,
    /// Days from the day asked about to `until` (0 on the last day; negative once left).
    pub days_left: Option<i64>,
    /// Days from the day asked about to the termination date (negative after it).
    pub days_to_termination: Option<i64>,
    /// The person's accounts in the version in force.
    pub accounts: Vec<String>,
}

/// Whole days from `from` to `to`.
pub fn days_between(from: Date, to: Date) -> i64 {
    from.duration_until(to).as_hours() / 24
}

/// `day` moved by `days`, held at the calendar's ends instead of failing.
pub fn shift(day: Date, days: i64) -> Date {
    day.checked_add(jiff::Span::new().days(days))
        .unwrap_or(if days < 0 { Date::MIN } else { Date::MAX })
}

/// The version of a person's record in force on `day` (`versions` in any order).
fn version_on(versions: &[PersonRecord], day: Date) -> Option<&PersonRecord> {
    versions
        .iter()
        .filter(|v| v.valid_from <= day)
        .max_by_key(|v| v.valid_from)
}

/// Where a person stands with the watch list on `as_of`, from the HR version in force that
/// day: `None` when that version has neither a notice nor a termination date (or the person
/// did not exist yet). The entry is returned whether or not the person is on the list that
/// day ([`WatchEntry::on_list`]), so a report can still be made about someone who left it.
pub fn watch_entry(
    versions: &[PersonRecord],
    as_of: Date,
    rules: WatchRules,
) -> Option<WatchEntry> {
    let version = version_on(versions, as_of)?;
    let (reason, since) = match (version.notice_date, version.termination_date) {
        (Some(notice), _) => (EntryReason::Notice, notice),
        (None, Some(end)) => (
            EntryReason::BeforeTermination,
            shift(end, -rules.before_termination_days),
        ),
        (None, None) => return None,
    };
    let until = version
        .termination_date
        .map(|end| shift(end, rules.grace_days));
    let on_list = since <= as_of && until.is_none_or(|last| as_of <= last);
    Some(WatchEntry {
        person_id: version.person_id.clone(),
        hire_date: version.hire_date,
        name: version.name.clone(),
        department: version.department.clone(),
        reason,
        since,
        notice_date: version.notice_date,
        termination_date: version.termination_date,
        until,
        on_list,
        days_on_list: days_between(since, as_of),
        days_left: until.map(|last| days_between(as_of, last)),
        days_to_termination: version.termination_date.map(|end| days_between(as_of, end)),
        accounts: version.accounts.clone(),
    })
}

/// Everyone on the watch list on `as_of`, earliest entry first (then by person id).
/// `versions` holds every version of every person, in any order.
pub fn watch_list(versions: &[PersonRecord], as_of: Date, rules: WatchRules) -> Vec<WatchEntry> {
    let mut by_person: BTreeMap<&str, Vec<PersonRecord>> = BTreeMap::new();
    for version in versions {
        by_person
            .entry(version.person_id.as_str())
            .or_default()
            .push(version.clone());
    }
    let mut list: Vec<WatchEntry> = by_person
        .values()
        .filter_map(|versions| watch_entry(versions, as_of, rules))
        .filter(|entry| entry.on_list)
        .collect();
    list.sort_by(|a, b| a.since.cmp(&b.since).then(a.person_id.cmp(&b.person_id)));
    list
}

/// What a leaver's event is evidence of. Every kind maps to at most one category
/// ([`categorise`]; the table is in docs/watchlist.md); events of no category are kept in the
/// CSV as `other` and counted, but not summarised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Files opened or read, web pages visited or downloaded.
    Accessed,
    /// Files copied (or written, moved) to removable media or network shares, any other
    /// `file.copy`, and removable devices connected.
    Copied,
    /// Documents printed.
    Printed,
    /// Mails sent (those to outside addresses are also counted apart).
    Mailed,
    /// Web uploads, and files copied or synced to cloud storage or a web site.
    Uploaded,
    /// Accounts created, changed, enabled or disabled, passwords reset, group and privilege
    /// changes made by the person.
    AccountChanges,
    /// Logons on weekends or outside working hours.
    OffHoursLogons,
}

/// Every category, in report order.
pub const CATEGORIES: [Category; 7] = [
    Category::Accessed,
    Category::Copied,
    Category::Printed,
    Category::Mailed,
    Category::Uploaded,
    Category::AccountChanges,
    Category::OffHoursLogons,
];

impl Category {
    /// The stable snake_case name (JSON keys, CSV).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Accessed => "accessed",
            Category::Copied => "copied",
            Category::Printed => "printed",
            Category::Mailed => "mailed",
            Category::Uploaded => "uploaded",
            Category::AccountChanges => "account_changes",
            Category::OffHoursLogons => "off_hours_logons",
        }
    }

    /// A heading for tables: `Copied` / `コピー`.
    pub fn label(self, lang: Lang) -> &'static str {
        let (en, ja) = match self {
            Category::Accessed => ("Accessed", "閲覧"),
            Category::Copied => ("Copied", "コピー"),
            Category::Printed => ("Printed", "印刷"),
            Category::Mailed => ("Mailed", "メール送信"),
            Category::Uploaded => ("Uploaded", "アップロード"),
            Category::AccountChanges => ("Account and rights changes", "アカウント・権限の変更"),
            Category::OffHoursLogons => ("Logons outside working hours", "時間外ログオン"),
        };
        match lang {
            Lang::En => en,
            Lang::Ja => ja,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A count per category; serialised as `{"accessed": n, …}` in [`CATEGORIES`] order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CategoryCounts(pub [u64; CATEGORIES.len()]);

impl CategoryCounts {
    pub fn get(&self, category: Category) -> u64 {
        self.0[category.index()]
    }

    fn bump(&mut self, category: Category) {
        self.0[category.index()] += 1;
    }

    fn add(&mut self, other: &CategoryCounts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }

    /// Events of any category.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl Serialize for CategoryCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(CATEGORIES.len()))?;
        for category in CATEGORIES {
            map.serialize_entry(category.as_str(), &self.get(category))?;
        }
        map.end()
    }
}

/// How the organisation works, for the categories that depend on it.
#[derive(Debug, Clone)]
pub struct LookbackOptions {
    /// Local time of the organisation: local days and working hours.
    pub utc_offset: Offset,
    /// The working day in local hours, `[start, end)`; weekends are outside it.
    pub working_hours: (i8, i8),
    /// Mail domains inside the organisation (sub-domains included, any case). Empty: only
    /// `destination.external` tells outside mail.
    pub organisation_domains: Vec<String>,
}

impl Default for LookbackOptions {
    fn default() -> Self {
        LookbackOptions {
            utc_offset: Offset::UTC,
            working_hours: (7, 20),
            organisation_domains: Vec::new(),
        }
    }
}

impl LookbackOptions {
    /// Whether a mail domain is outside the organisation.
    fn is_external_domain(&self, domain: &str) -> bool {
        let domain = domain.trim().trim_end_matches('.');
        !self.organisation_domains.iter().any(|org| {
            domain.eq_ignore_ascii_case(org)
                || (domain.len() > org.len()
                    && domain.as_bytes()[domain.len() - org.len() - 1] == b'.'
                    && domain[domain.len() - org.len()..].eq_ignore_ascii_case(org))
        })
    }
}

/// The organisation's mail domains as HR knows them: the domains of everyone's e-mail
/// address (what the detection context uses too), lower case, sorted, once each.
pub fn organisation_domains(people: &[PersonRecord]) -> Vec<String> {
    let mut domains: Vec<String> = people
        .iter()
        .filter_map(|p| p.email.as_deref()?.rsplit_once('@'))
        .map(|(_, domain)| domain.trim().to_ascii_lowercase())
        .filter(|domain| !domain.is_empty())
        .collect();
    domains.sort();
    domains.dedup();
    domains
}

/// The category of `event`, if any (the mapping of docs/watchlist.md).
pub fn categorise(event: &Event, options: &LookbackOptions) -> Option<Category> {
    let destination = event.destination.as_ref().and_then(|d| d.kind);
    let to_cloud = matches!(
        destination,
        Some(DestinationKind::Cloud | DestinationKind::Web)
    );
    let to_media_or_share = matches!(
        destination,
        Some(DestinationKind::Removable | DestinationKind::NetworkShare)
    );
    match event.kind {
        Kind::FileOpen | Kind::FileRead | Kind::HttpRequest | Kind::HttpDownload => {
            Some(Category::Accessed)
        }
        Kind::FileCopy if to_cloud => Some(Category::Uploaded),
        Kind::FileCopy => Some(Category::Copied),
        Kind::FileMove | Kind::FileWrite | Kind::FileCreate if to_cloud => Some(Category::Uploaded),
        Kind::FileMove | Kind::FileWrite | Kind::FileCreate if to_media_or_share => {
            Some(Category::Copied)
        }
        Kind::DeviceConnect if matches!(destination, None | Some(DestinationKind::Removable)) => {
            Some(Category::Copied)
        }
        Kind::Print => Some(Category::Printed),
        Kind::EmailSend => Some(Category::Mailed),
        Kind::HttpUpload => Some(Category::Uploaded),
        Kind::AccountCreate
        | Kind::AccountDelete
        | Kind::AccountEnable
        | Kind::AccountDisable
        | Kind::AccountChange
        | Kind::AccountPasswordReset
        | Kind::AccountGroupAdd
        | Kind::AccountGroupRemove
        | Kind::AccountPrivilegeChange => Some(Category::AccountChanges),
        Kind::Logon if is_off_hours(event, options) => Some(Category::OffHoursLogons),
        _ => None,
    }
}

/// Whether the event happened on a weekend or outside the working hours, in local time.
pub fn is_off_hours(event: &Event, options: &LookbackOptions) -> bool {
    let local = options.utc_offset.to_datetime(event.time);
    let weekend = matches!(local.weekday(), Weekday::Saturday | Weekday::Sunday);
    let (start, end) = options.working_hours;
    weekend || local.hour() < start || local.hour() >= end
}

/// How many of a mail's recipients are outside the organisation; a mail without recipients
/// counts as one outside recipient when the source marked it `destination.external`.
pub fn external_recipients(event: &Event, options: &LookbackOptions) -> u64 {
    let Some(destination) = event.destination.as_ref() else {
        return 0;
    };
    if destination.recipients.is_empty() {
        return u64::from(destination.external == Some(true));
    }
    if options.organisation_domains.is_empty() {
        // Nothing tells inside from outside but the source's own flag.
        return if destination.external == Some(true) {
            destination.recipients.len() as u64
        } else {
            0
        };
    }
    destination
        .recipients
        .iter()
        .filter(|r| {
            r.rsplit_once('@')
                .is_some_and(|(_, domain)| options.is_external_domain(domain))
        })
        .count() as u64
}

/// The three stretches of time a look-back compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// The person's own earlier behaviour: as long as the look-back, just before it.
    Baseline,
    /// The days before entry to the list.
    Lookback,
    /// From entry to the day asked about (or the day the person left the list).
    SinceEntry,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Baseline => "baseline",
            Period::Lookback => "lookback",
            Period::SinceEntry => "since_entry",
        }
    }
}

/// The local days of each period, each `[from, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Windows {
    pub baseline_from: Date,
    pub lookback_from: Date,
    /// The entry day: the look-back ends here, the time since entry starts here.
    pub entry: Date,
    /// The day after the last day reported.
    pub until: Date,
    /// The first day the store can know anything about the person (see
    /// [`Windows::with_history_from`]); periods count their days from here.
    pub history_from: Date,
}

impl Windows {
    /// The windows of a report about `entry` made on `as_of`: `days` before entry, the same
    /// length before that, and from entry through `as_of` — or through the last day on the
    /// list, if the person has left it.
    pub fn new(entry: &WatchEntry, as_of: Date, days: i64) -> Windows {
        let last = match entry.until {
            Some(until) => as_of.min(until),
            None => as_of,
        };
        let lookback_from = shift(entry.since, -days);
        Windows {
            baseline_from: shift(lookback_from, -days),
            lookback_from,
            entry: entry.since,
            until: shift(last, 1).max(entry.since),
            history_from: shift(lookback_from, -days),
        }
    }

    /// Limits the periods to the days from `first` on: the first day of stored data, or the
    /// hire date. Without this a baseline reaching back before the data began would count
    /// empty days as quiet ones, and every rise would look larger than it is.
    pub fn with_history_from(mut self, first: Date) -> Windows {
        self.history_from = self.history_from.max(first);
        self
    }

    /// The first day and the day after the last of a period, as counted.
    pub fn range(&self, period: Period) -> (Date, Date) {
        let (from, until) = match period {
            Period::Baseline => (self.baseline_from, self.lookback_from),
            Period::Lookback => (self.lookback_from, self.entry),
            Period::SinceEntry => (self.entry, self.until),
        };
        (from.max(self.history_from).min(until), until)
    }

    /// The period a local day belongs to, if any.
    pub fn period_of(&self, day: Date) -> Option<Period> {
        if day < self.baseline_from || day >= self.until {
            None
        } else if day < self.lookback_from {
            Some(Period::Baseline)
        } else if day < self.entry {
            Some(Period::Lookback)
        } else {
            Some(Period::SinceEntry)
        }
    }

    /// Days counted in a period (none before [`Windows::history_from`]).
    pub fn days(&self, period: Period) -> i64 {
        let (from, until) = self.range(period);
        days_between(from, until)
    }
}

/// Finer counts behind the categories, for sentences that say what exactly happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Details {
    /// Copies, moves and writes to removable media.
    pub removable_copies: u64,
    /// Copies, moves and writes to network shares.
    pub share_copies: u64,
    /// Removable devices connected.
    pub device_connects: u64,
    /// Mails with at least one recipient outside the organisation.
    pub external_mails: u64,
    /// Recipients outside the organisation, over all mails.
    pub external_recipients: u64,
    /// Attachments of sent mails (`raw.attachment_count`, else the length of
    /// `raw.attachments`).
    pub mail_attachments: u64,
    /// Uploads and copies to cloud storage services.
    pub cloud_uploads: u64,
    /// Pages printed (`raw.pages` / `raw.Pages`).
    pub print_pages: u64,
    /// Categorised events whose object carries a label (`object.labels`).
    pub labelled_events: u64,
    /// Categorised events with content findings (`raw.content_findings`).
    pub events_with_findings: u64,
}

/// Files and destinations most often named in one category, most frequent first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Top {
    pub files: Vec<(String, u64)>,
    pub destinations: Vec<(String, u64)>,
}

/// One period's summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodSummary {
    pub period: Period,
    pub from: Date,
    /// The day after the period's last day.
    pub until: Date,
    pub days: i64,
    /// Every event of the person in the period, categorised or not.
    pub events: u64,
    pub counts: CategoryCounts,
    pub details: Details,
    /// Per label (`object.labels`, as written), the categorised events carrying it.
    pub labels: BTreeMap<String, CategoryCounts>,
    /// Per content finding type (`raw.content_findings`), the findings of categorised events.
    pub findings: BTreeMap<String, u64>,
    /// Per local day with any categorised event.
    pub per_day: BTreeMap<Date, CategoryCounts>,
    /// Per category with events, the top files and destinations.
    pub top: BTreeMap<Category, Top>,
}

impl PeriodSummary {
    /// Counts per week (weeks start on Monday), oldest first.
    pub fn per_week(&self) -> Vec<(Date, CategoryCounts)> {
        let mut weeks: BTreeMap<Date, CategoryCounts> = BTreeMap::new();
        for (day, counts) in &self.per_day {
            let monday = shift(*day, -i64::from(day.weekday().to_monday_zero_offset()));
            weeks.entry(monday).or_default().add(counts);
        }
        weeks.into_iter().collect()
    }
}

/// How one category compares across the periods.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Change {
    pub category: Category,
    pub baseline: u64,
    pub lookback: u64,
    pub since_entry: u64,
    /// The look-back's events per day over the baseline's; `None` when the baseline has
    /// none. With periods of equal length, `lookback / baseline`.
    pub factor: Option<f64>,
    /// The look-back is well above the baseline (at least [`STANDOUT_MIN_EVENTS`] events and
    /// [`STANDOUT_FACTOR`] times the baseline).
    pub lookback_stands_out: bool,
    /// The time since entry, per day, is well above the baseline per day (same thresholds).
    pub since_entry_stands_out: bool,
}

/// Fewest events in a period for a rise to be worth a sentence.
pub const STANDOUT_MIN_EVENTS: u64 = 5;
/// How many times the baseline a period must reach to stand out.
pub const STANDOUT_FACTOR: f64 = 2.0;

/// A person's look-back: the three periods and what changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lookback {
    pub windows: Windows,
    pub baseline: PeriodSummary,
    pub lookback: PeriodSummary,
    pub since_entry: PeriodSummary,
    /// Events that could not be read (purged by retention, or not parseable).
    pub unreadable: u64,
    /// Mail domains and upload destinations of the look-back and since entry that the
    /// baseline never had, most frequent first (at most [`TOP_ITEMS`]); none without a
    /// baseline (everything would be "new").
    pub new_destinations: Vec<(String, u64)>,
    /// The person's accounts used after their last day, within the report's days.
    pub after_last_day: Option<AfterLastDay>,
}

/// Events after the person's last day: the accounts were still in use (`mamori hygiene`'s
/// `account_used_after_termination`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AfterLastDay {
    pub last_day: Date,
    pub events: u64,
    /// Distinct local days with such events.
    pub days: u64,
    pub first: jiff::Timestamp,
    pub last: jiff::Timestamp,
    /// Hosts the events came from, most frequent first (at most [`TOP_ITEMS`]).
    pub hosts: Vec<(String, u64)>,
}

/// [`AfterLastDay`] while events arrive.
struct AfterLastDayBuilder {
    events: u64,
    days: std::collections::BTreeSet<Date>,
    first: jiff::Timestamp,
    last: jiff::Timestamp,
    hosts: ItemCounts,
}

impl Lookback {
    /// The summary of one period.
    pub fn period(&self, period: Period) -> &PeriodSummary {
        match period {
            Period::Baseline => &self.baseline,
            Period::Lookback => &self.lookback,
            Period::SinceEntry => &self.since_entry,
        }
    }

    /// Each category across the periods, in [`CATEGORIES`] order. Without a baseline (no
    /// events before the look-back) nothing is compared: no factor, nothing stands out.
    pub fn changes(&self) -> Vec<Change> {
        let compared = self.baseline.events > 0;
        let baseline_days = self.baseline.days.max(1) as f64;
        let since_days = self.since_entry.days.max(1) as f64;
        CATEGORIES
            .iter()
            .map(|&category| {
                let baseline = self.baseline.counts.get(category);
                let lookback = self.lookback.counts.get(category);
                let since_entry = self.since_entry.counts.get(category);
                let stands_out = |count: u64, rate: f64, baseline_rate: f64| {
                    compared
                        && count >= STANDOUT_MIN_EVENTS
                        && rate >= STANDOUT_FACTOR * baseline_rate
                };
                let baseline_rate = baseline as f64 / baseline_days;
                Change {
                    category,
                    baseline,
                    lookback,
                    since_entry,
                    factor: (baseline > 0).then(|| {
                        // Multiplied out, so that equal periods give the exact count ratio.
                        (lookback as f64 * baseline_days)
                            / (baseline as f64 * self.lookback.days.max(1) as f64)
                    }),
                    lookback_stands_out: stands_out(
                        lookback,
                        lookback as f64 / self.lookback.days.max(1) as f64,
                        baseline_rate,
                    ),
                    since_entry_stands_out: self.since_entry.days > 0
                        && stands_out(since_entry, since_entry as f64 / since_days, baseline_rate),
                }
            })
            .collect()
    }
}

/// Counts of distinct items, bounded by [`MAX_DISTINCT_ITEMS`].
#[derive(Default)]
struct ItemCounts(HashMap<String, u64>);

impl ItemCounts {
    fn add(&mut self, item: &str) {
        let item = item.trim();
        if item.is_empty() {
            return;
        }
        if let Some(count) = self.0.get_mut(item) {
            *count += 1;
        } else if self.0.len() < MAX_DISTINCT_ITEMS {
            self.0.insert(item.to_owned(), 1);
        }
    }

    fn top(&self, n: usize) -> Vec<(String, u64)> {
        let mut items: Vec<(String, u64)> = self.0.iter().map(|(k, v)| (k.clone(), *v)).collect();
        items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        items.truncate(n);
        items
    }
}

/// One period while events arrive.
struct PeriodBuilder {
    events: u64,
    counts: CategoryCounts,
    details: Details,
    labels: BTreeMap<String, CategoryCounts>,
    findings: BTreeMap<String, u64>,
    per_day: BTreeMap<Date, CategoryCounts>,
    files: [ItemCounts; CATEGORIES.len()],
    destinations: [ItemCounts; CATEGORIES.len()],
}

impl PeriodBuilder {
    fn new() -> PeriodBuilder {
        PeriodBuilder {
            events: 0,
            counts: CategoryCounts::default(),
            details: Details::default(),
            labels: BTreeMap::new(),
            findings: BTreeMap::new(),
            per_day: BTreeMap::new(),
            files: Default::default(),
            destinations: Default::default(),
        }
    }

    fn finish(self, period: Period, windows: &Windows) -> PeriodSummary {
        let (from, until) = windows.range(period);
        let mut top = BTreeMap::new();
        for category in CATEGORIES {
            if self.counts.get(category) == 0 {
                continue;
            }
            top.insert(
                category,
                Top {
                    files: self.files[category.index()].top(TOP_ITEMS),
                    destinations: self.destinations[category.index()].top(TOP_ITEMS),
                },
            );
        }
        PeriodSummary {
            period,
            from,
            until,
            days: windows.days(period),
            events: self.events,
            counts: self.counts,
            details: self.details,
            labels: self.labels,
            findings: self.findings,
            per_day: self.per_day,
            top,
        }
    }
}

/// Builds a [`Lookback`] from a person's events, in any order, one at a time: memory holds
/// counts, not events.
pub struct LookbackBuilder {
    windows: Windows,
    options: LookbackOptions,
    periods: [PeriodBuilder; 3],
    unreadable: u64,
    last_day: Option<Date>,
    after_last_day: Option<AfterLastDayBuilder>,
}

/// Where an added event went: its period and category (`None`: other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    pub period: Period,
    pub day: Date,
    pub category: Option<Category>,
}

impl LookbackBuilder {
    pub fn new(windows: Windows, options: LookbackOptions) -> LookbackBuilder {
        LookbackBuilder {
            windows,
            options,
            periods: [
                PeriodBuilder::new(),
                PeriodBuilder::new(),
                PeriodBuilder::new(),
            ],
            unreadable: 0,
            last_day: None,
            after_last_day: None,
        }
    }

    /// The person's last day: events after it are also counted as [`AfterLastDay`].
    pub fn with_last_day(mut self, last_day: Option<Date>) -> LookbackBuilder {
        self.last_day = last_day;
        self
    }

    pub fn options(&self) -> &LookbackOptions {
        &self.options
    }

    /// Counts an event that could not be read (purged, unparseable).
    pub fn add_unreadable(&mut self) {
        self.unreadable += 1;
    }

    /// Adds an event; `None` when its local day is in no period.
    pub fn add(&mut self, event: &Event) -> Option<Placed> {
        let day = self.options.utc_offset.to_datetime(event.time).date();
        let period = self.windows.period_of(day)?;
        if self.last_day.is_some_and(|last| day > last) {
            let after = self
                .after_last_day
                .get_or_insert_with(|| AfterLastDayBuilder {
                    events: 0,
                    days: std::collections::BTreeSet::new(),
                    first: event.time,
                    last: event.time,
                    hosts: ItemCounts::default(),
                });
            after.events += 1;
            after.days.insert(day);
            after.first = after.first.min(event.time);
            after.last = after.last.max(event.time);
            if let Some(host) = event.actor.host.as_deref() {
                after.hosts.add(host);
            }
        }
        let category = categorise(event, &self.options);
        let builder = &mut self.periods[period as usize];
        builder.events += 1;
        let Some(category) = category else {
            return Some(Placed {
                period,
                day,
                category: None,
            });
        };
        builder.counts.bump(category);
        builder.per_day.entry(day).or_default().bump(category);
        add_details(&mut builder.details, event, category, &self.options);
        if let Some(object) = event.object.as_ref() {
            for label in &object.labels {
                builder
                    .labels
                    .entry(label.clone())
                    .or_default()
                    .bump(category);
            }
            if !object.labels.is_empty() {
                builder.details.labelled_events += 1;
            }
        }
        if let Some(Value::Object(findings)) = event.raw.get("content_findings") {
            let mut any = false;
            for (kind, finding) in findings {
                let count = finding.get("count").and_then(Value::as_u64).unwrap_or(1);
                *builder.findings.entry(kind.clone()).or_default() += count;
                any = true;
            }
            if any {
                builder.details.events_with_findings += 1;
            }
        }
        if let Some(file) = file_of(event) {
            builder.files[category.index()].add(file);
        }
        for destination in destinations_of(event) {
            builder.destinations[category.index()].add(&destination);
        }
        Some(Placed {
            period,
            day,
            category: Some(category),
        })
    }

    pub fn finish(self) -> Lookback {
        let windows = self.windows;
        let [baseline, lookback, since_entry] = self.periods;
        let new_destinations = if baseline.events > 0 {
            new_destinations(&baseline, [&lookback, &since_entry], &self.options)
        } else {
            Vec::new()
        };
        let after_last_day = self
            .last_day
            .zip(self.after_last_day)
            .map(|(last_day, after)| AfterLastDay {
                last_day,
                events: after.events,
                days: after.days.len() as u64,
                first: after.first,
                last: after.last,
                hosts: after.hosts.top(TOP_ITEMS),
            });
        Lookback {
            windows,
            baseline: baseline.finish(Period::Baseline, &windows),
            lookback: lookback.finish(Period::Lookback, &windows),
            since_entry: since_entry.finish(Period::SinceEntry, &windows),
            unreadable: self.unreadable,
            new_destinations,
            after_last_day,
        }
    }
}

/// Destinations of data leaving (mail, uploads, copies) in `later` periods that `baseline`
/// never named; the organisation's own domains are not news.
fn new_destinations(
    baseline: &PeriodBuilder,
    later: [&PeriodBuilder; 2],
    options: &LookbackOptions,
) -> Vec<(String, u64)> {
    let outbound = [Category::Copied, Category::Mailed, Category::Uploaded];
    let mut seen_before = foldhash::HashSet::default();
    for category in outbound {
        seen_before.extend(baseline.destinations[category.index()].0.keys().cloned());
    }
    let mut fresh = ItemCounts::default();
    for period in later {
        for category in outbound {
            for (item, count) in &period.destinations[category.index()].0 {
                if !seen_before.contains(item) && options.is_external_domain(item) {
                    for _ in 0..*count {
                        fresh.add(item);
                    }
                }
            }
        }
    }
    fresh.top(TOP_ITEMS)
}

fn add_details(
    details: &mut Details,
    event: &Event,
    category: Category,
    options: &LookbackOptions,
) {
    let destination = event.destination.as_ref().and_then(|d| d.kind);
    match (category, event.kind) {
        (Category::Copied, Kind::DeviceConnect) => details.device_connects += 1,
        (Category::Copied, _) => match destination {
            Some(DestinationKind::Removable) => details.removable_copies += 1,
            Some(DestinationKind::NetworkShare) => details.share_copies += 1,
            _ => {}
        },
        (Category::Mailed, _) => {
            let outside = external_recipients(event, options);
            details.external_recipients += outside;
            if outside > 0 {
                details.external_mails += 1;
            }
            let attachments = event.raw.get("attachments").and_then(Value::as_array);
            details.mail_attachments +=
                match event.raw.get("attachment_count").and_then(Value::as_u64) {
                    Some(n) => n,
                    None => attachments.map_or(0, |a| a.len() as u64),
                };
        }
        (Category::Uploaded, _) => {
            let cloud =
                destination == Some(DestinationKind::Cloud) || event.kind != Kind::HttpUpload;
            if cloud {
                details.cloud_uploads += 1;
            }
        }
        (Category::Printed, _) => details.print_pages += pages(event),
        _ => {}
    }
}

/// Pages of a print job: `raw.pages` or `raw.Pages`, a number or a decimal string.
fn pages(event: &Event) -> u64 {
    match event.raw.get("pages").or_else(|| event.raw.get("Pages")) {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

/// The file or document an event names: path, else name, else subject.
pub fn file_of(event: &Event) -> Option<&str> {
    let object = event.object.as_ref()?;
    object
        .path
        .as_deref()
        .or(object.name.as_deref())
        .or(object.subject.as_deref())
}

/// Where an event's data went (or, for logons, where the person logged on): recipients'
/// domains for mail, the domain or URL host for the web, the device or share name, the host.
pub fn destinations_of(event: &Event) -> Vec<String> {
    if matches!(event.kind, Kind::Logon | Kind::Logoff | Kind::LogonFailed) {
        return event.actor.host.iter().cloned().collect();
    }
    let destination = event.destination.as_ref();
    if event.kind == Kind::EmailSend {
        let mut domains: Vec<String> = destination
            .into_iter()
            .flat_map(|d| d.recipients.iter())
            .filter_map(|r| r.rsplit_once('@'))
            .map(|(_, domain)| domain.trim().to_ascii_lowercase())
            .collect();
        domains.sort();
        domains.dedup();
        return domains;
    }
    if let Some(domain) = destination.and_then(|d| d.domain.as_deref()) {
        return vec![domain.trim_end_matches('.').to_ascii_lowercase()];
    }
    if let Some(host) = event
        .object
        .as_ref()
        .and_then(|o| o.url.as_deref())
        .and_then(url_host)
    {
        return vec![host];
    }
    if let Some(name) = destination.and_then(|d| d.name.as_deref().or(d.device_id.as_deref())) {
        return vec![name.to_owned()];
    }
    Vec::new()
}

/// The host of a URL, lower case.
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next()?;
    (!host.is_empty()).then(|| host.trim_end_matches('.').to_ascii_lowercase())
}

/// The report's summary paragraph: what stands out, in sentences, in `lang`.
pub fn summary_sentences(entry: &WatchEntry, lookback: &Lookback, lang: Lang) -> Vec<String> {
    let mut sentences = vec![entry_sentence(entry, lang)];
    if let Some(after) = &lookback.after_last_day {
        sentences.push(after_last_day_sentence(after, lang));
    }
    let days = lookback.lookback.days;
    let activity = activity_phrases(&lookback.lookback, lang);
    sentences.push(match (lang, activity.is_empty()) {
        (Lang::En, true) => format!(
            "In the {days} days before entering the list, no copies, prints, outside mail, uploads or account changes are recorded."
        ),
        (Lang::En, false) => format!(
            "In the {days} days before entering the list, they {}.",
            join_en(&activity)
        ),
        (Lang::Ja, true) => format!(
            "リスト入りまでの {days} 日間に、コピー・印刷・社外へのメール・アップロード・アカウント変更の記録はありません。"
        ),
        (Lang::Ja, false) => format!(
            "リスト入りまでの {days} 日間の主な記録：{}。",
            activity.join("、")
        ),
    });
    if lookback.baseline.events == 0 {
        sentences.push(match lang {
            Lang::En => "No activity is stored from before the look-back window, so there is no baseline to compare with.".to_string(),
            Lang::Ja => "ルックバック期間より前の記録がないため、本人の平常時との比較はできません。".to_string(),
        });
    } else {
        let changes = lookback.changes();
        let mut any = false;
        for change in changes.iter().filter(|c| c.lookback_stands_out) {
            any = true;
            sentences.push(rise_sentence(change, lookback, lang));
        }
        for change in changes.iter().filter(|c| c.since_entry_stands_out) {
            any = true;
            sentences.push(since_entry_sentence(change, lookback, lang));
        }
        if !any {
            sentences.push(match lang {
                Lang::En => "Nothing stands out against the person's own earlier baseline.".into(),
                Lang::Ja => "本人の平常時と比べて目立つ変化はありません。".into(),
            });
        }
    }
    let labelled: Vec<String> = lookback
        .lookback
        .labels
        .iter()
        .chain(&lookback.since_entry.labels)
        .fold(BTreeMap::<&str, u64>::new(), |mut acc, (label, counts)| {
            *acc.entry(label.as_str()).or_default() += counts.total();
            acc
        })
        .into_iter()
        .map(|(label, n)| match lang {
            Lang::En => format!("{n} concerned files labelled {label}"),
            Lang::Ja => format!("「{label}」のファイルに関するものが {n} 件"),
        })
        .collect();
    if !labelled.is_empty() {
        sentences.push(match lang {
            Lang::En => format!(
                "Of the events since the look-back began, {}.",
                join_en(&labelled)
            ),
            Lang::Ja => format!(
                "ルックバック開始以降のイベントのうち、{}あります。",
                labelled.join("、")
            ),
        });
    }
    let findings: u64 = lookback
        .lookback
        .findings
        .values()
        .chain(lookback.since_entry.findings.values())
        .sum();
    if findings > 0 {
        let events = lookback.lookback.details.events_with_findings
            + lookback.since_entry.details.events_with_findings;
        sentences.push(match lang {
            Lang::En => format!(
                "Content inspection found {findings} items of personal or confidential data in {events} of them."
            ),
            Lang::Ja => format!(
                "内容検査では、そのうち {events} 件のイベントで個人情報・機密情報 {findings} 件が見つかっています。"
            ),
        });
    }
    if !lookback.new_destinations.is_empty() {
        let names: Vec<&str> = lookback
            .new_destinations
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        sentences.push(match lang {
            Lang::En => format!(
                "Destinations not seen in the baseline: {}.",
                names.join(", ")
            ),
            Lang::Ja => format!(
                "平常時には見られなかった送信・保存先：{}。",
                names.join("、")
            ),
        });
    }
    if lookback.unreadable > 0 {
        sentences.push(match lang {
            Lang::En => format!(
                "{} events could not be read (erased by retention or damaged) and are not counted.",
                lookback.unreadable
            ),
            Lang::Ja => format!(
                "{} 件のイベントは読み取れず（保存期間による消去または破損）、集計に含まれていません。",
                lookback.unreadable
            ),
        });
    }
    sentences
}

/// Who, since when, why, until when.
fn entry_sentence(entry: &WatchEntry, lang: Lang) -> String {
    let why = match (lang, entry.reason) {
        (Lang::En, EntryReason::Notice) => "notice given".to_string(),
        (Lang::En, EntryReason::BeforeTermination) => {
            "no notice date; entered before the last day".to_string()
        }
        (Lang::Ja, EntryReason::Notice) => "退職の申出".to_string(),
        (Lang::Ja, EntryReason::BeforeTermination) => "申出日なし、最終日前から".to_string(),
    };
    let last_day = entry.termination_date.map(|d| d.to_string());
    let until = entry.until.map(|d| d.to_string());
    match lang {
        Lang::En => {
            let mut text = format!(
                "{} ({}) entered the departing-employee watch list on {} ({why}",
                entry.person_id, entry.name, entry.since
            );
            if let Some(last_day) = last_day {
                text.push_str(&format!("; last day {last_day}"));
            }
            text.push(')');
            match (entry.on_list, until) {
                (true, Some(until)) => text.push_str(&format!(" and stays on it until {until}.")),
                (true, None) => text.push_str(" and stays on it until a last day is recorded."),
                (false, Some(until)) => text.push_str(&format!(" and left it after {until}.")),
                (false, None) => text.push('.'),
            }
            text
        }
        Lang::Ja => {
            let mut text = format!(
                "{}（{}）は {} に退職者ウォッチリストに入りました（{why}",
                entry.person_id, entry.name, entry.since
            );
            if let Some(last_day) = last_day {
                text.push_str(&format!("、最終日 {last_day}"));
            }
            text.push('）');
            match (entry.on_list, until) {
                (true, Some(until)) => text.push_str(&format!("。{until} まで掲載されます。")),
                (true, None) => text.push_str("。最終日が登録されるまで掲載されます。"),
                (false, Some(until)) => {
                    text.push_str(&format!("。{until} をもってリストから外れました。"))
                }
                (false, None) => text.push('。'),
            }
            text
        }
    }
}

/// The accounts were used after the last day: said first, because it needs action now.
fn after_last_day_sentence(after: &AfterLastDay, lang: Lang) -> String {
    let first = after.first.strftime("%Y-%m-%d %H:%M UTC");
    let last = after.last.strftime("%Y-%m-%d %H:%M UTC");
    let hosts: Vec<&str> = after.hosts.iter().map(|(h, _)| h.as_str()).collect();
    match lang {
        Lang::En => {
            let on = if hosts.is_empty() {
                String::new()
            } else {
                format!(
                    ", on {}",
                    join_en(&hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())
                )
            };
            format!(
                "Their accounts were used after the last day {}: {} on {} between {first} and {last}{on}. Disable the accounts and find out who used them (mamori hygiene: account_used_after_termination).",
                after.last_day,
                count_en(after.events, "event", "events"),
                count_en(after.days, "day", "days")
            )
        }
        Lang::Ja => {
            let on = if hosts.is_empty() {
                String::new()
            } else {
                format!("（端末 {}）", hosts.join("、"))
            };
            format!(
                "最終日 {} の後もアカウントが使われています：{first} から {last} までの {} 日間に {} 件{on}。アカウントを無効にし、誰が使ったかを確認してください（mamori hygiene の account_used_after_termination）。",
                after.last_day, after.days, after.events
            )
        }
    }
}

/// What the person did in a period, as phrases: `copied 27 files to removable media`.
fn activity_phrases(summary: &PeriodSummary, lang: Lang) -> Vec<String> {
    let d = &summary.details;
    let c = &summary.counts;
    let mut phrases = Vec::new();
    let mut push = |n: u64, en: String, ja: String| {
        if n > 0 {
            phrases.push(match lang {
                Lang::En => en,
                Lang::Ja => ja,
            });
        }
    };
    push(
        d.removable_copies,
        format!(
            "copied {} to removable media",
            count_en(d.removable_copies, "file", "files")
        ),
        format!("USB 等へ {} ファイルをコピー", d.removable_copies),
    );
    push(
        d.share_copies,
        format!(
            "copied {} to network shares",
            count_en(d.share_copies, "file", "files")
        ),
        format!("共有フォルダへ {} ファイルをコピー", d.share_copies),
    );
    push(
        d.device_connects,
        format!(
            "connected removable devices {}",
            count_en(d.device_connects, "time", "times")
        ),
        format!("リムーバブルデバイスを {} 回接続", d.device_connects),
    );
    let printed = c.get(Category::Printed);
    push(
        printed,
        if d.print_pages > 0 {
            format!(
                "printed {} ({})",
                count_en(printed, "document", "documents"),
                count_en(d.print_pages, "page", "pages")
            )
        } else {
            format!("printed {}", count_en(printed, "document", "documents"))
        },
        if d.print_pages > 0 {
            format!("{printed} 件の文書を印刷（{} ページ）", d.print_pages)
        } else {
            format!("{printed} 件の文書を印刷")
        },
    );
    push(
        d.external_mails,
        format!(
            "sent {} to outside addresses ({})",
            count_en(d.external_mails, "mail", "mails"),
            count_en(
                d.external_recipients,
                "outside recipient",
                "outside recipients"
            )
        ),
        format!(
            "社外宛てのメールを {} 通送信（社外の宛先 {} 件）",
            d.external_mails, d.external_recipients
        ),
    );
    let uploads = c.get(Category::Uploaded);
    push(
        uploads,
        format!("uploaded {}", count_en(uploads, "time", "times")),
        format!("{uploads} 回アップロード"),
    );
    let account = c.get(Category::AccountChanges);
    push(
        account,
        format!(
            "made {}",
            count_en(
                account,
                "account or rights change",
                "account or rights changes"
            )
        ),
        format!("アカウント・権限の変更を {account} 回実施"),
    );
    let off_hours = c.get(Category::OffHoursLogons);
    push(
        off_hours,
        format!(
            "logged on {} outside working hours",
            count_en(off_hours, "time", "times")
        ),
        format!("時間外に {off_hours} 回ログオン"),
    );
    phrases
}

fn rise_sentence(change: &Change, lookback: &Lookback, lang: Lang) -> String {
    let days = lookback.baseline.days;
    let label = change.category.label(lang);
    // Periods of unequal length (history began inside the baseline) compare rates.
    let per_day = days != lookback.lookback.days;
    match (lang, change.factor) {
        (Lang::En, Some(factor)) => format!(
            "{label}: {} events in the look-back against {} in the {days} days before (×{factor:.1}{}).",
            change.lookback,
            change.baseline,
            if per_day { " per day" } else { "" }
        ),
        (Lang::En, None) => format!(
            "{label}: {} events in the look-back, none in the {days} days before.",
            change.lookback
        ),
        (Lang::Ja, Some(factor)) => format!(
            "{label}：ルックバック期間に {} 件（その前の {days} 日間は {} 件、{}{factor:.1} 倍）。",
            change.lookback,
            change.baseline,
            if per_day { "1 日あたり " } else { "" }
        ),
        (Lang::Ja, None) => format!(
            "{label}：ルックバック期間に {} 件（その前の {days} 日間は 0 件）。",
            change.lookback
        ),
    }
}

fn since_entry_sentence(change: &Change, lookback: &Lookback, lang: Lang) -> String {
    let days = lookback.since_entry.days;
    let per_30 = |count: u64, days: i64| count as f64 * 30.0 / days.max(1) as f64;
    let now = per_30(change.since_entry, days);
    let before = per_30(change.baseline, lookback.baseline.days);
    let label = change.category.label(lang);
    match lang {
        Lang::En => format!(
            "{label} since entering the list: {} events in {days} days ({now:.1} per 30 days against {before:.1} in the baseline).",
            change.since_entry
        ),
        Lang::Ja => format!(
            "リスト入り後の{label}：{days} 日間で {} 件（30 日あたり {now:.1} 件、平常時は {before:.1} 件）。",
            change.since_entry
        ),
    }
}

/// `1 file`, `2 files`.
/// `1 event`, `2 events`.
pub fn count_en(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_en(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use jiff::civil::date;

    fn person(id: &str, notice: Option<Date>, end: Option<Date>) -> PersonRecord {
        let mut p = PersonRecord::new(id, date(2020, 4, 1), "山田 太郎");
        p.notice_date = notice;
        p.termination_date = end;
        p.accounts = vec![format!("{id}-acct")];
        p
    }

    fn event(json: &str) -> Event {
        Event::from_json(json.as_bytes()).unwrap()
    }

    fn at(time: &str, kind: &str, rest: &str) -> Event {
        event(&format!(
            r#"{{"v":1,"time":"{time}","kind":"{kind}","outcome":"success","actor":{{"user":"u1","host":"PC-1"}}{rest}}}"#
        ))
    }

    #[test]
    fn a_notice_date_puts_the_person_on_the_list_from_that_day() {
        let p = person("E1", Some(date(2025, 2, 14)), Some(date(2025, 3, 31)));
        let rules = WatchRules::default();
        assert!(
            !watch_entry(std::slice::from_ref(&p), date(2025, 2, 13), rules)
                .unwrap()
                .on_list
        );
        let entry = watch_entry(std::slice::from_ref(&p), date(2025, 2, 14), rules).unwrap();
        assert!(entry.on_list);
        assert_eq!(entry.reason, EntryReason::Notice);
        assert_eq!(entry.since, date(2025, 2, 14));
        assert_eq!(entry.until, Some(date(2025, 4, 30)));
        assert_eq!(entry.days_left, Some(75));
        assert_eq!(entry.days_to_termination, Some(45));
        assert_eq!(entry.days_on_list, 0);
    }

    #[test]
    fn without_notice_the_person_enters_n_days_before_the_last_day() {
        let p = person("E2", None, Some(date(2025, 3, 31)));
        let rules = WatchRules {
            before_termination_days: 10,
            grace_days: 0,
        };
        assert!(
            !watch_entry(std::slice::from_ref(&p), date(2025, 3, 20), rules)
                .unwrap()
                .on_list
        );
        let entry = watch_entry(std::slice::from_ref(&p), date(2025, 3, 21), rules).unwrap();
        assert!(entry.on_list);
        assert_eq!(entry.reason, EntryReason::BeforeTermination);
        assert_eq!(entry.since, date(2025, 3, 21));
        let default = watch_entry(&[p], date(2025, 3, 1), WatchRules::default()).unwrap();
        assert_eq!(default.since, date(2025, 3, 1));
        assert!(default.on_list);
    }

    #[test]
    fn the_person_leaves_the_list_after_the_grace_period() {
        let p = person("E3", Some(date(2024, 1, 10)), Some(date(2024, 2, 29)));
        let rules = WatchRules::default();
        let last = watch_entry(std::slice::from_ref(&p), date(2024, 3, 30), rules).unwrap();
        assert!(last.on_list);
        assert_eq!(last.days_left, Some(0));
        let after = watch_entry(std::slice::from_ref(&p), date(2024, 3, 31), rules).unwrap();
        assert!(!after.on_list);
        assert_eq!(after.days_left, Some(-1));
        assert!(watch_list(&[p], date(2025, 1, 1), rules).is_empty());
    }

    #[test]
    fn a_notice_without_a_last_day_keeps_the_person_on_the_list() {
        let p = person("E4", Some(date(2025, 1, 5)), None);
        let entry = watch_entry(&[p], date(2026, 1, 5), WatchRules::default()).unwrap();
        assert!(entry.on_list);
        assert_eq!(entry.until, None);
        assert_eq!(entry.days_left, None);
    }

    #[test]
    fn the_version_in_force_decides_and_people_without_dates_are_not_listed() {
        let mut before = person("E5", None, None);
        before.valid_from = date(2020, 4, 1);
        let mut leaving = person("E5", Some(date(2025, 2, 1)), Some(date(2025, 2, 28)));
        leaving.valid_from = date(2025, 2, 1);
        let stays = person("E6", None, None);
        let versions = [leaving.clone(), before, stays];
        let rules = WatchRules::default();
        assert!(watch_list(&versions, date(2025, 1, 31), rules).is_empty());
        let list = watch_list(&versions, date(2025, 2, 1), rules);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].person_id, "E5");
        assert_eq!(watch_entry(&versions[2..], date(2025, 2, 1), rules), None);
        // Before the person's first version there is nothing to say.
        assert_eq!(watch_entry(&[leaving], date(2019, 1, 1), rules), None);
    }

    #[test]
    fn the_list_is_ordered_by_entry_then_person() {
        let versions = [
            person("B", Some(date(2025, 1, 10)), None),
            person("A", Some(date(2025, 1, 10)), None),
            person("C", Some(date(2025, 1, 1)), None),
        ];
        let ids: Vec<String> = watch_list(&versions, date(2025, 2, 1), WatchRules::default())
            .into_iter()
            .map(|e| e.person_id)
            .collect();
        assert_eq!(ids, ["C", "A", "B"]);
    }

    #[test]
    fn every_kind_maps_as_documented() {
        let options = LookbackOptions::default();
        let day = "2025-01-08T10:00:00Z"; // a Wednesday, in working hours
        let cases: &[(&str, &str, Option<Category>)] = &[
            ("file.open", "", Some(Category::Accessed)),
            ("file.read", "", Some(Category::Accessed)),
            ("http.request", "", Some(Category::Accessed)),
            ("http.download", "", Some(Category::Accessed)),
            ("file.copy", "", Some(Category::Copied)),
            (
                "file.copy",
                r#","destination":{"kind":"removable"}"#,
                Some(Category::Copied),
            ),
            (
                "file.copy",
                r#","destination":{"kind":"cloud"}"#,
                Some(Category::Uploaded),
            ),
            (
                "file.write",
                r#","destination":{"kind":"removable"}"#,
                Some(Category::Copied),
            ),
            (
                "file.move",
                r#","destination":{"kind":"network_share"}"#,
                Some(Category::Copied),
            ),
            (
                "file.create",
                r#","destination":{"kind":"cloud"}"#,
                Some(Category::Uploaded),
            ),
            ("file.write", "", None),
            ("file.write", r#","destination":{"kind":"local"}"#, None),
            ("device.connect", "", Some(Category::Copied)),
            (
                "device.connect",
                r#","destination":{"kind":"printer"}"#,
                None,
            ),
            ("print", "", Some(Category::Printed)),
            ("email.send", "", Some(Category::Mailed)),
            ("email.receive", "", None),
            ("http.upload", "", Some(Category::Uploaded)),
            ("account.group_add", "", Some(Category::AccountChanges)),
            (
                "account.privilege_change",
                "",
                Some(Category::AccountChanges),
            ),
            ("account.password_reset", "", Some(Category::AccountChanges)),
            ("logon", "", None),
            ("logoff", "", None),
            ("file.delete", "", None),
            ("clipboard.copy", "", None),
            ("process.start", "", None),
        ];
        for (kind, rest, expected) in cases {
            assert_eq!(
                categorise(&at(day, kind, rest), &options),
                *expected,
                "{kind}{rest}"
            );
        }
        // Every account.* kind is an account change.
        for kind in Kind::ALL
            .iter()
            .filter(|k| k.as_str().starts_with("account."))
        {
            assert_eq!(
                categorise(&at(day, kind.as_str(), ""), &options),
                Some(Category::AccountChanges)
            );
        }
    }

    #[test]
    fn logons_on_weekends_and_outside_hours_are_off_hours() {
        let options = LookbackOptions {
            utc_offset: Offset::from_seconds(9 * 3600).unwrap(),
            ..LookbackOptions::default()
        };
        // 22:30 UTC = 07:30 in Tokyo, a Thursday: in hours.
        assert_eq!(
            categorise(&at("2025-01-08T22:30:00Z", "logon", ""), &options),
            None
        );
        // 12:00 UTC = 21:00 in Tokyo: after hours.
        assert_eq!(
            categorise(&at("2025-01-08T12:00:00Z", "logon", ""), &options),
            Some(Category::OffHoursLogons)
        );
        // Saturday 10:00 in Tokyo.
        assert_eq!(
            categorise(&at("2025-01-11T01:00:00Z", "logon", ""), &options),
            Some(Category::OffHoursLogons)
        );
    }

    #[test]
    fn outside_recipients_are_told_by_the_organisation_domains() {
        let options = LookbackOptions {
            organisation_domains: vec!["example.co.jp".into()],
            ..LookbackOptions::default()
        };
        let mail = at(
            "2025-01-08T10:00:00Z",
            "email.send",
            r#","destination":{"kind":"email","recipients":["a@example.co.jp","b@sales.EXAMPLE.co.jp","c@gmail.com","d@rival.jp"]}"#,
        );
        assert_eq!(external_recipients(&mail, &options), 2);
        let flagged = at(
            "2025-01-08T10:00:00Z",
            "email.send",
            r#","destination":{"kind":"email","external":true}"#,
        );
        assert_eq!(external_recipients(&flagged, &options), 1);
    }

    fn entry(notice: Date) -> WatchEntry {
        watch_entry(
            &[person("E1", Some(notice), Some(shift(notice, 45)))],
            shift(notice, 10),
            WatchRules::default(),
        )
        .unwrap()
    }

    #[test]
    fn windows_split_the_days_into_baseline_lookback_and_since_entry() {
        let notice = date(2025, 4, 1);
        let windows = Windows::new(&entry(notice), shift(notice, 10), 90);
        assert_eq!(windows.lookback_from, date(2025, 1, 1));
        assert_eq!(windows.baseline_from, date(2024, 10, 3));
        assert_eq!(windows.until, date(2025, 4, 12));
        assert_eq!(windows.period_of(date(2024, 10, 2)), None);
        assert_eq!(windows.period_of(date(2024, 10, 3)), Some(Period::Baseline));
        assert_eq!(windows.period_of(date(2025, 1, 1)), Some(Period::Lookback));
        assert_eq!(
            windows.period_of(date(2025, 4, 1)),
            Some(Period::SinceEntry)
        );
        assert_eq!(windows.period_of(date(2025, 4, 12)), None);
        assert_eq!(windows.days(Period::Lookback), 90);
        assert_eq!(windows.days(Period::Baseline), 90);
        assert_eq!(windows.days(Period::SinceEntry), 11);
        // Data that begins inside the baseline shortens it; the other periods keep their days.
        let limited = windows.with_history_from(date(2024, 12, 2));
        assert_eq!(limited.days(Period::Baseline), 30);
        assert_eq!(
            limited.range(Period::Baseline),
            (date(2024, 12, 2), date(2025, 1, 1))
        );
        assert_eq!(limited.days(Period::Lookback), 90);
        let later = windows.with_history_from(date(2025, 6, 1));
        assert_eq!(later.days(Period::Baseline), 0);
        assert_eq!(later.days(Period::SinceEntry), 0);
    }

    #[test]
    fn use_after_the_last_day_is_counted_and_said_first() {
        let notice = date(2025, 4, 1);
        let last_day = shift(notice, 45);
        let entry = watch_entry(
            &[person("E1", Some(notice), Some(last_day))],
            shift(last_day, 20),
            WatchRules::default(),
        )
        .unwrap();
        let windows = Windows::new(&entry, shift(last_day, 20), 90);
        let mut builder =
            LookbackBuilder::new(windows, LookbackOptions::default()).with_last_day(Some(last_day));
        // The last day itself is work; the days after are not.
        builder.add(&at("2025-05-16T17:00:00Z", "logon", ""));
        builder.add(&at("2025-05-18T21:00:00Z", "logon", ""));
        builder.add(&at(
            "2025-05-18T21:05:00Z",
            "file.copy",
            r#","destination":{"kind":"removable"}"#,
        ));
        builder.add(&at("2025-05-25T10:00:00Z", "http.request", ""));
        let lookback = builder.finish();
        let after = lookback.after_last_day.as_ref().unwrap();
        assert_eq!(after.last_day, date(2025, 5, 16));
        assert_eq!((after.events, after.days), (3, 2));
        assert_eq!(after.first.to_string(), "2025-05-18T21:00:00Z");
        assert_eq!(after.last.to_string(), "2025-05-25T10:00:00Z");
        assert_eq!(after.hosts, [("PC-1".to_string(), 3)]);
        let sentences = summary_sentences(&entry, &lookback, Lang::En);
        assert!(
            sentences[1].starts_with(
                "Their accounts were used after the last day 2025-05-16: 3 events on 2 days"
            ),
            "{sentences:?}"
        );
        assert!(
            summary_sentences(&entry, &lookback, Lang::Ja)[1].contains("最終日 2025-05-16 の後も")
        );
        // Without a last day, or with nothing after it, nothing is said.
        let mut quiet =
            LookbackBuilder::new(windows, LookbackOptions::default()).with_last_day(Some(last_day));
        quiet.add(&at("2025-05-16T17:00:00Z", "logon", ""));
        assert_eq!(quiet.finish().after_last_day, None);
    }

    #[test]
    fn without_a_baseline_nothing_stands_out_and_nothing_is_new() {
        let notice = date(2025, 4, 1);
        let entry = entry(notice);
        let windows =
            Windows::new(&entry, shift(notice, 10), 90).with_history_from(date(2025, 1, 1));
        let mut builder = LookbackBuilder::new(windows, LookbackOptions::default());
        for day in 2..=20 {
            builder.add(&at(
                &format!("2025-03-{day:02}T10:00:00Z"),
                "http.upload",
                r#","destination":{"kind":"cloud","domain":"dropbox.com"}"#,
            ));
        }
        let lookback = builder.finish();
        assert_eq!(lookback.baseline.days, 0);
        let uploads = lookback
            .changes()
            .into_iter()
            .find(|c| c.category == Category::Uploaded)
            .unwrap();
        assert_eq!(uploads.lookback, 19);
        assert!(!uploads.lookback_stands_out && uploads.factor.is_none());
        assert!(lookback.new_destinations.is_empty());
    }

    #[test]
    fn the_lookback_counts_categories_details_labels_and_what_changed() {
        let notice = date(2025, 4, 1);
        let entry = entry(notice);
        let windows = Windows::new(&entry, shift(notice, 10), 90);
        let options = LookbackOptions {
            organisation_domains: vec!["example.co.jp".into()],
            ..LookbackOptions::default()
        };
        let mut builder = LookbackBuilder::new(windows, options);
        // Baseline: one copy to USB.
        builder.add(&at(
            "2024-11-05T10:00:00Z",
            "file.copy",
            r#","object":{"path":"C:/a.txt"},"destination":{"kind":"removable"}"#,
        ));
        // Look-back: ten labelled copies to USB, two outside mails, an upload to a new site.
        for i in 0..10 {
            let placed = builder.add(&at(
                &format!("2025-03-{:02}T10:00:00Z", i + 2),
                "file.copy",
                r#","object":{"path":"C:/設計/図面.dwg","labels":["社外秘"]},"destination":{"kind":"removable","name":"KINGSTON"},"raw":{"content_findings":{"my_number":{"count":2,"hashes":[]}}}"#,
            ));
            assert_eq!(
                placed.unwrap(),
                Placed {
                    period: Period::Lookback,
                    day: date(2025, 3, i + 2),
                    category: Some(Category::Copied)
                }
            );
        }
        for _ in 0..2 {
            builder.add(&at(
                "2025-03-20T10:00:00Z",
                "email.send",
                r#","destination":{"kind":"email","recipients":["me@gmail.com","boss@example.co.jp"]},"raw":{"attachment_count":3}"#,
            ));
        }
        builder.add(&at(
            "2025-03-21T10:00:00Z",
            "http.upload",
            r#","destination":{"kind":"cloud","domain":"Dropbox.com"}"#,
        ));
        // Since entry: an after-hours logon and an ordinary logon (other).
        builder.add(&at("2025-04-02T23:00:00Z", "logon", ""));
        let other = builder
            .add(&at("2025-04-03T10:00:00Z", "logon", ""))
            .unwrap();
        assert_eq!(other.category, None);
        // Outside every window.
        assert_eq!(builder.add(&at("2023-01-01T10:00:00Z", "print", "")), None);
        let lookback = builder.finish();

        let l = &lookback.lookback;
        assert_eq!(l.counts.get(Category::Copied), 10);
        assert_eq!(l.counts.get(Category::Mailed), 2);
        assert_eq!(l.counts.get(Category::Uploaded), 1);
        assert_eq!(l.details.removable_copies, 10);
        assert_eq!(l.details.external_mails, 2);
        assert_eq!(l.details.external_recipients, 2);
        assert_eq!(l.details.mail_attachments, 6);
        assert_eq!(l.details.cloud_uploads, 1);
        assert_eq!(l.labels["社外秘"].get(Category::Copied), 10);
        assert_eq!(l.findings["my_number"], 20);
        assert_eq!(l.details.events_with_findings, 10);
        assert_eq!(
            l.top[&Category::Copied].files,
            [("C:/設計/図面.dwg".to_string(), 10)]
        );
        assert_eq!(
            l.top[&Category::Copied].destinations,
            [("KINGSTON".to_string(), 10)]
        );
        assert_eq!(
            l.top[&Category::Mailed].destinations,
            [
                ("example.co.jp".to_string(), 2),
                ("gmail.com".to_string(), 2)
            ]
        );
        assert_eq!(l.per_day.len(), 12);
        let weeks = l.per_week();
        assert_eq!(weeks[0].0, date(2025, 2, 24)); // Monday of Sunday 2 March
        assert_eq!(weeks.iter().map(|(_, c)| c.total()).sum::<u64>(), 13);
        assert_eq!(lookback.since_entry.events, 2);
        assert_eq!(lookback.since_entry.counts.get(Category::OffHoursLogons), 1);
        assert_eq!(lookback.baseline.counts.get(Category::Copied), 1);

        let changes = lookback.changes();
        let copied = changes
            .iter()
            .find(|c| c.category == Category::Copied)
            .unwrap();
        assert!(copied.lookback_stands_out);
        assert_eq!(copied.factor, Some(10.0));
        let mailed = changes
            .iter()
            .find(|c| c.category == Category::Mailed)
            .unwrap();
        assert!(
            !mailed.lookback_stands_out,
            "2 mails are too few to stand out"
        );
        let names: Vec<&str> = lookback
            .new_destinations
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(names, ["KINGSTON", "gmail.com", "dropbox.com"]);

        let en = summary_sentences(&entry, &lookback, Lang::En).join(" ");
        assert!(en.contains("entered the departing-employee watch list on 2025-04-01 (notice given; last day 2025-05-16)"), "{en}");
        assert!(en.contains("copied 10 files to removable media"), "{en}");
        assert!(
            en.contains(
                "Copied: 10 events in the look-back against 1 in the 90 days before (×10.0)."
            ),
            "{en}"
        );
        assert!(en.contains("10 concerned files labelled 社外秘"), "{en}");
        assert!(en.contains("Content inspection found 20 items"), "{en}");
        let ja = summary_sentences(&entry, &lookback, Lang::Ja).join("");
        assert!(
            ja.contains("退職者ウォッチリストに入りました（退職の申出、最終日 2025-05-16）"),
            "{ja}"
        );
        assert!(ja.contains("USB 等へ 10 ファイルをコピー"), "{ja}");
        assert!(
            ja.contains("コピー：ルックバック期間に 10 件（その前の 90 日間は 1 件、10.0 倍）。"),
            "{ja}"
        );
    }

    #[test]
    fn without_a_baseline_the_summary_says_so() {
        let notice = date(2025, 4, 1);
        let entry = entry(notice);
        let windows = Windows::new(&entry, notice, 90);
        let lookback = LookbackBuilder::new(windows, LookbackOptions::default()).finish();
        let en = summary_sentences(&entry, &lookback, Lang::En);
        assert!(en[1].contains("no copies, prints"), "{en:?}");
        assert!(en[2].contains("no baseline"), "{en:?}");
    }

    #[test]
    fn item_counts_stay_bounded() {
        let mut items = ItemCounts::default();
        for i in 0..MAX_DISTINCT_ITEMS + 10 {
            items.add(&format!("f{i}"));
        }
        items.add("f0");
        assert_eq!(items.0.len(), MAX_DISTINCT_ITEMS);
        assert_eq!(items.top(1), [("f0".to_string(), 2)]);
    }
}
