//! Person-day features: a fixed vector of counts per (person, local calendar day), built
//! incrementally from events and their detection-time context (see [`crate::context`]).
//!
//! This module owns the feature vocabulary ([`Feature`], [`FEATURES`]), the exact definition
//! of every feature (in the variant docs here and in `docs/analytics.md`), the domain,
//! label and extension lists the definitions use, and the streaming [`FeatureBuilder`].
//!
//! - **Day**: the local calendar date of the event's time at [`FeatureOptions::utc_offset`].
//! - **Person**: `context.person` when the context has it, else the account (`actor.user`).
//! - **Outcome** is ignored: a blocked or failed attempt is behaviour too (only `logon`
//!   versus `logon.failed` is told apart, by kind).
//! - A person-day without any event or finding has no row; consumers fill zeros.
//!
//! Memory: only open days are kept. Distinct counts (hosts, files) use per-person-day sets
//! that are dropped with the row when [`FeatureBuilder::drain_before`] emits it. An event for
//! a day that was already drained is **rejected** (counted in [`FeatureBuilder::late`]): an
//! emitted row is final, so a consumer never sees two partial rows for one person-day whose
//! distinct counts and first/last minutes could not be merged.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashSet, HashSetExt};

use jiff::civil::Date;
use jiff::tz::Offset;
use mamori_event::{DestinationKind, Event, Kind};
use serde_json::{Map, Value};

/// Defines [`Feature`], [`FEATURES`], the names and the definitions from one list, so that
/// the order, the names and the documented definitions cannot drift apart.
macro_rules! features {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $name:literal, )+) => {
        /// One feature of the person-day vector; its index in the vector is its position in
        /// [`FEATURES`]. Names are stable: renaming one is a breaking change.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Feature {
            $( $(#[doc = $doc])+ $variant, )+
        }

        /// Every feature, in vector order.
        pub const FEATURES: &[Feature] = &[ $( Feature::$variant, )+ ];

        impl Feature {
            /// The stable snake_case name.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Feature::$variant => $name, )+
                }
            }

            /// The exact definition (the variant's documentation).
            pub fn definition(self) -> &'static str {
                let text = match self {
                    $( Feature::$variant => concat!($($doc),+), )+
                };
                text.trim_start()
            }
        }
    };
}

features! {
    /// Every event of the person-day, any kind.
    Events = "events",
    /// `logon` events.
    Logons = "logons",
    /// Earliest local minute since midnight (0–1439) of a `logon`; NaN when there is none.
    LogonFirstMinute = "logon_first_minute",
    /// Latest local minute since midnight (0–1439) of a `logon`; NaN when there is none.
    LogonLastMinute = "logon_last_minute",
    /// `logon` events with `context.after_hours` true (weekends included, as the context
    /// defines it).
    LogonsAfterHours = "logons_after_hours",
    /// `logon` events with `context.weekend` true.
    LogonsWeekend = "logons_weekend",
    /// `logon.failed` events.
    LogonsFailed = "logons_failed",
    /// Distinct `actor.host` (ASCII lower-cased) of `logon` events.
    LogonHosts = "logon_hosts",
    /// Distinct `actor.host` of `logon` events with `context.host_is_own` false (the host
    /// has an owner and it is someone else; hosts without an owner do not count).
    LogonHostsNotOwn = "logon_hosts_not_own",
    /// `device.connect` events whose `destination.kind` is `removable` or not given.
    DeviceConnects = "device_connects",
    /// Those `device.connect` events with `context.after_hours` true.
    DeviceConnectsAfterHours = "device_connects_after_hours",
    /// `file.copy`, `file.move`, `file.write` and `file.create` events with
    /// `destination.kind` `removable`.
    RemovableCopies = "removable_copies",
    /// `file.copy`, `file.move`, `file.write` and `file.create` events with
    /// `destination.kind` `cloud` or `network_share`.
    CloudOrShareCopies = "cloud_or_share_copies",
    /// Distinct files of `file.*` events; a file is `object.path`, else `object.name`, else
    /// `object.sha256`, lower-cased with `\` read as `/`. Events with none of these do not
    /// count.
    DistinctFiles = "distinct_files",
    /// Distinct files (as `distinct_files`) of `file.*` events with a classification label
    /// in `object.labels`: 社外秘, 部外秘, 関係者外秘, 秘, 極秘, confidential, strictly
    /// confidential, secret, restricted (trimmed, ASCII case-insensitive, whole label).
    ClassifiedFiles = "classified_files",
    /// Distinct files (as `distinct_files`) of `file.*` events with `context.type_mismatch`
    /// true.
    TypeMismatchedFiles = "type_mismatched_files",
    /// Distinct files (as `distinct_files`) of `file.*` events whose extension is an archive
    /// or source-code / CAD extension (lists in `docs/analytics.md`); the extension is
    /// `object.extension`, else taken from `object.name` or `object.path`, lower-cased.
    ArchiveOrSourceFiles = "archive_or_source_files",
    /// Web events: `http.request`, `http.download` and `http.upload`.
    WebVisits = "web_visits",
    /// `http.download` events.
    WebDownloads = "web_downloads",
    /// `http.upload` events.
    WebUploads = "web_uploads",
    /// Web events to a job site (domain list) or with `job_search` in
    /// `raw.content_categories`.
    JobSearchVisits = "job_search_visits",
    /// Web events to a cloud storage or file transfer service (domain list), with
    /// `destination.kind` `cloud`, or with `cloud_storage` in `raw.content_categories`.
    CloudStorageVisits = "cloud_storage_visits",
    /// Those cloud storage web events that are `http.upload`.
    CloudStorageUploads = "cloud_storage_uploads",
    /// Web events to a personal webmail host (domain list).
    WebmailVisits = "webmail_visits",
    /// Those webmail web events that are `http.upload`.
    WebmailUploads = "webmail_uploads",
    /// Web events to a leak or paste site (domain list) or with `leak` or `hacking` in
    /// `raw.content_categories`.
    LeakOrHackingVisits = "leak_or_hacking_visits",
    /// Those leak or hacking web events that are `http.upload`.
    LeakOrHackingUploads = "leak_or_hacking_uploads",
    /// `email.send` events.
    EmailsSent = "emails_sent",
    /// Sum of `context.external_recipients` over `email.send` events.
    EmailExternalRecipients = "email_external_recipients",
    /// Recipients of `email.send` events (`destination.recipients`, each occurrence) whose
    /// domain is a free-mail or mobile-carrier domain (domain list).
    EmailPersonalRecipients = "email_personal_recipients",
    /// Sum over `email.send` events of `raw.attachment_count`, else the length of
    /// `raw.attachments`.
    EmailAttachments = "email_attachments",
    /// Sum over `email.send` events of the `size` of each `raw.attachments` entry (entries
    /// without a size add nothing).
    EmailAttachmentBytes = "email_attachment_bytes",
    /// `email.send` events with `context.first_domain` true (at least one external
    /// recipient domain the account never sent to before).
    EmailNewDomains = "email_new_domains",
    /// `email.send` events with `context.lookalike_of` present (a recipient domain imitates
    /// the organisation's).
    EmailLookalikeDomains = "email_lookalike_domains",
    /// `print` events.
    Prints = "prints",
    /// Sum over `print` events of `raw.Pages` (or `raw.pages`), a number or a decimal
    /// string; absent or unreadable adds nothing.
    PrintPages = "print_pages",
    /// `print` events with a classification label (as `classified_files`).
    ClassifiedPrints = "classified_prints",
    /// Rule findings given to [`FeatureBuilder::add_rule_finding`].
    RuleFindings = "rule_findings",
    /// `account.*` events made by the person (`actor.user` is the account that made the
    /// change).
    AccountChanges = "account_changes",
}

impl Feature {
    /// Position in the feature vector.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The feature named `name`.
    pub fn from_name(name: &str) -> Option<Feature> {
        FEATURES.iter().copied().find(|f| f.name() == name)
    }
}

/// Classification labels (compared trimmed and ASCII case-insensitively, whole label). The
/// same scheme as the insider rules (`docs/rules-insider.md`, "Labels").
pub const CLASSIFIED_LABELS: &[&str] = &[
    "社外秘",
    "部外秘",
    "関係者外秘",
    "秘",
    "極秘",
    "confidential",
    "strictly confidential",
    "secret",
    "restricted",
];

/// Archive extensions.
pub const ARCHIVE_EXTENSIONS: &[&str] = &[
    "zip", "7z", "rar", "lzh", "lha", "cab", "tar", "gz", "tgz", "bz2", "xz", "iso",
];

/// Source code, database script and CAD / 3D design extensions (the list of the rule
/// `mamori_file_copy_source_code_to_removable_or_cloud`).
pub const SOURCE_EXTENSIONS: &[&str] = &[
    "c",
    "cc",
    "cpp",
    "cxx",
    "h",
    "hpp",
    "java",
    "kt",
    "scala",
    "py",
    "go",
    "rs",
    "cs",
    "vb",
    "js",
    "ts",
    "jsx",
    "tsx",
    "php",
    "rb",
    "swift",
    "m",
    "pl",
    "sh",
    "ps1",
    "sql",
    "dwg",
    "dxf",
    "dwf",
    "step",
    "stp",
    "igs",
    "iges",
    "sldprt",
    "sldasm",
    "slddrw",
    "catpart",
    "catproduct",
    "prt",
    "asm",
    "ipt",
    "iam",
    "3dm",
    "x_t",
];

/// Free-mail and mobile-carrier mail domains (a recipient's domain must equal one; the
/// insider rule `mamori_email_attachment_to_personal_address` uses the same list).
pub const PERSONAL_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "protonmail.com",
    "proton.me",
    "gmx.com",
    "mail.com",
    "yahoo.co.jp",
    "ymail.ne.jp",
    "hotmail.co.jp",
    "outlook.jp",
    "docomo.ne.jp",
    "ezweb.ne.jp",
    "au.com",
    "softbank.ne.jp",
    "i.softbank.jp",
    "ymobile.ne.jp",
    "nifty.com",
    "biglobe.ne.jp",
];

/// Personal webmail hosts (the domain or a sub-domain of it).
pub const WEBMAIL_DOMAINS: &[&str] = &[
    "mail.google.com",
    "outlook.live.com",
    "mail.yahoo.com",
    "mail.yahoo.co.jp",
    "mail.aol.com",
    "mail.proton.me",
    "mail.protonmail.com",
    "app.tuta.com",
    "mail.tutanota.com",
    "mail.gmx.com",
    "mail.gmx.net",
];

/// Cloud storage and file transfer services (the domain or a sub-domain of it). Kept here
/// rather than shared with the CERT importer: detection must not depend on ingestion.
pub const CLOUD_STORAGE_DOMAINS: &[&str] = &[
    "dropbox.com",
    "dropboxusercontent.com",
    "drive.google.com",
    "docs.google.com",
    "mega.nz",
    "mega.co.nz",
    "mega.io",
    "wetransfer.com",
    "we.tl",
    "box.com",
    "onedrive.live.com",
    "1drv.ms",
    "icloud.com",
    "mediafire.com",
    "sendspace.com",
    "pcloud.com",
    "gofile.io",
    "file.io",
    "transfer.sh",
    "gigafile.nu",
    "firestorage.jp",
    "account.live.com",
];

/// Leak sites and public paste / anonymous drop sites (the domain or a sub-domain of it).
pub const LEAK_DOMAINS: &[&str] = &[
    "wikileaks.org",
    "wikileaks.com",
    "wikileaks.ch",
    "cryptome.org",
    "ddosecrets.com",
    "pastebin.com",
    "ghostbin.com",
    "ghostbin.co",
    "paste.ee",
    "hastebin.com",
    "anonfiles.com",
    "privatebin.net",
    "dpaste.org",
    "controlc.com",
];

/// Job sites (the domain or a sub-domain of it).
pub const JOB_SITE_DOMAINS: &[&str] = &[
    "linkedin.com",
    "indeed.com",
    "monster.com",
    "careerbuilder.com",
    "glassdoor.com",
    "ziprecruiter.com",
    "doda.jp",
    "rikunabi.com",
    "mynavi.jp",
    "bizreach.jp",
    "en-japan.com",
    "green-japan.com",
    "type.jp",
];

/// How person-days are cut.
#[derive(Debug, Clone)]
pub struct FeatureOptions {
    /// Local time of the organisation: days and logon minutes are local at this offset.
    /// Should be the same as the context's [`crate::context::ContextOptions::utc_offset`].
    pub utc_offset: Offset,
}

impl Default for FeatureOptions {
    fn default() -> Self {
        FeatureOptions {
            utc_offset: Offset::UTC,
        }
    }
}

/// The features of one person on one local day.
#[derive(Debug, Clone, PartialEq)]
pub struct DayFeatures {
    /// `context.person`, or the account when HR does not know it.
    pub person: String,
    /// The local calendar day.
    pub day: Date,
    /// One value per feature, indexed like [`FEATURES`].
    pub values: Vec<f64>,
}

impl DayFeatures {
    /// The value of `feature`.
    pub fn get(&self, feature: Feature) -> f64 {
        self.values
            .get(feature.index())
            .copied()
            .unwrap_or(f64::NAN)
    }
}

/// One open person-day: the values so far and the sets behind the distinct counts.
struct Row {
    values: Vec<f64>,
    hosts: HashSet<String>,
    hosts_not_own: HashSet<String>,
    files: HashSet<String>,
    classified: HashSet<String>,
    mismatched: HashSet<String>,
    archive_or_source: HashSet<String>,
}

impl Row {
    fn new() -> Row {
        let mut values = vec![0.0; FEATURES.len()];
        // No logon yet: the first/last minutes are undefined, not midnight.
        values[Feature::LogonFirstMinute.index()] = f64::NAN;
        values[Feature::LogonLastMinute.index()] = f64::NAN;
        Row {
            values,
            hosts: HashSet::new(),
            hosts_not_own: HashSet::new(),
            files: HashSet::new(),
            classified: HashSet::new(),
            mismatched: HashSet::new(),
            archive_or_source: HashSet::new(),
        }
    }

    fn add(&mut self, feature: Feature, amount: f64) {
        self.values[feature.index()] += amount;
    }

    fn bump(&mut self, feature: Feature) {
        self.add(feature, 1.0);
    }

    /// Counts `key` once per day in the set that backs `feature`.
    fn distinct(&mut self, feature: Feature, key: &str) {
        let set = match feature {
            Feature::LogonHosts => &mut self.hosts,
            Feature::LogonHostsNotOwn => &mut self.hosts_not_own,
            Feature::DistinctFiles => &mut self.files,
            Feature::ClassifiedFiles => &mut self.classified,
            Feature::TypeMismatchedFiles => &mut self.mismatched,
            Feature::ArchiveOrSourceFiles => &mut self.archive_or_source,
            _ => return,
        };
        if !set.contains(key) {
            set.insert(key.to_string());
            self.bump(feature);
        }
    }
}

/// Builds person-day features from a stream of events. Events within a day may come in any
/// order; days should come mostly in order, with [`FeatureBuilder::drain_before`] called once
/// a day can no longer receive events.
pub struct FeatureBuilder {
    options: FeatureOptions,
    /// Open rows by day, then person.
    days: BTreeMap<Date, HashMap<String, Row>>,
    /// Days before this one were drained; their events are rejected.
    drained_before: Option<Date>,
    late: u64,
}

impl FeatureBuilder {
    pub fn new(options: FeatureOptions) -> FeatureBuilder {
        FeatureBuilder {
            options,
            days: BTreeMap::new(),
            drained_before: None,
            late: 0,
        }
    }

    /// Adds one event with its context (from [`crate::context::Enricher::context`]). Returns
    /// false, and counts the event in [`FeatureBuilder::late`], when its day was already
    /// drained.
    pub fn add(&mut self, event: &Event, context: &Map<String, Value>) -> bool {
        let local = self.options.utc_offset.to_datetime(event.time);
        let person = context
            .get("person")
            .and_then(Value::as_str)
            .unwrap_or_else(|| event.account());
        let Some(row) = self.row(local.date(), person) else {
            return false;
        };
        row.bump(Feature::Events);
        let minute = f64::from(i32::from(local.hour()) * 60 + i32::from(local.minute()));
        add_event(row, event, context, minute);
        true
    }

    /// Adds one rule finding for `person` (the same person key as events use: the
    /// `context.person`, else the account) at `time`. Returns false, and counts it in
    /// [`FeatureBuilder::late`], when its day was already drained.
    pub fn add_rule_finding(&mut self, person: &str, time: jiff::Timestamp) -> bool {
        let day = self.options.utc_offset.to_datetime(time).date();
        match self.row(day, person) {
            Some(row) => {
                row.bump(Feature::RuleFindings);
                true
            }
            None => false,
        }
    }

    /// The open row of `person` on `day`, or None (counted as late) when the day is drained.
    fn row(&mut self, day: Date, person: &str) -> Option<&mut Row> {
        if self.drained_before.is_some_and(|cut| day < cut) {
            self.late += 1;
            return None;
        }
        let people = self.days.entry(day).or_default();
        // Looked up twice rather than through `entry`, which would need an owned key (an
        // allocation) for every event of a person-day that already has a row.
        if !people.contains_key(person) {
            people.insert(person.to_string(), Row::new());
        }
        people.get_mut(person)
    }

    /// Emits and forgets every person-day before `day`, sorted by day then person. Later
    /// events for those days are rejected.
    pub fn drain_before(&mut self, day: Date) -> Vec<DayFeatures> {
        let open = self.days.split_off(&day);
        let done = std::mem::replace(&mut self.days, open);
        self.drained_before = Some(self.drained_before.map_or(day, |cut| cut.max(day)));
        emit(done)
    }

    /// Emits every open person-day, sorted by day then person.
    pub fn finish(self) -> Vec<DayFeatures> {
        emit(self.days)
    }

    /// Events and findings rejected because their day was already drained.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// Person-days currently held in memory.
    pub fn open_rows(&self) -> usize {
        self.days.values().map(HashMap::len).sum()
    }
}

fn emit(days: BTreeMap<Date, HashMap<String, Row>>) -> Vec<DayFeatures> {
    let mut out = Vec::new();
    for (day, people) in days {
        let mut rows: Vec<DayFeatures> = people
            .into_iter()
            .map(|(person, row)| DayFeatures {
                person,
                day,
                values: row.values,
            })
            .collect();
        rows.sort_by(|a, b| a.person.cmp(&b.person));
        out.extend(rows);
    }
    out
}

/// The features one event adds to its row.
fn add_event(row: &mut Row, event: &Event, context: &Map<String, Value>, minute: f64) {
    let flag = |name: &str| context.get(name).and_then(Value::as_bool);
    let after_hours = flag("after_hours") == Some(true);
    let destination = event.destination.as_ref().and_then(|d| d.kind);
    let kind = event.kind;
    match kind {
        Kind::Logon => {
            row.bump(Feature::Logons);
            let first = &mut row.values[Feature::LogonFirstMinute.index()];
            // f64::min ignores the NaN that stands for "no logon yet".
            *first = first.min(minute);
            let last = &mut row.values[Feature::LogonLastMinute.index()];
            *last = last.max(minute);
            if after_hours {
                row.bump(Feature::LogonsAfterHours);
            }
            if flag("weekend") == Some(true) {
                row.bump(Feature::LogonsWeekend);
            }
            if let Some(host) = event.actor.host.as_deref() {
                // Windows host names are case-insensitive.
                let host = host.to_ascii_lowercase();
                row.distinct(Feature::LogonHosts, &host);
                if flag("host_is_own") == Some(false) {
                    row.distinct(Feature::LogonHostsNotOwn, &host);
                }
            }
        }
        Kind::LogonFailed => row.bump(Feature::LogonsFailed),
        Kind::DeviceConnect => {
            if matches!(destination, None | Some(DestinationKind::Removable)) {
                row.bump(Feature::DeviceConnects);
                if after_hours {
                    row.bump(Feature::DeviceConnectsAfterHours);
                }
            }
        }
        Kind::Print => {
            row.bump(Feature::Prints);
            row.add(Feature::PrintPages, pages(&event.raw));
            if has_classified_label(event) {
                row.bump(Feature::ClassifiedPrints);
            }
        }
        Kind::HttpRequest | Kind::HttpDownload | Kind::HttpUpload => add_web(row, event),
        Kind::EmailSend => add_email(row, event, context),
        Kind::AccountCreate
        | Kind::AccountDelete
        | Kind::AccountEnable
        | Kind::AccountDisable
        | Kind::AccountChange
        | Kind::AccountPasswordReset
        | Kind::AccountGroupAdd
        | Kind::AccountGroupRemove
        | Kind::AccountPrivilegeChange => row.bump(Feature::AccountChanges),
        _ => {}
    }
    if is_file(kind) {
        add_file(row, event, flag("type_mismatch") == Some(true), destination);
    }
}

fn is_file(kind: Kind) -> bool {
    kind.as_str().starts_with("file.")
}

fn add_file(row: &mut Row, event: &Event, mismatch: bool, destination: Option<DestinationKind>) {
    let kind = event.kind;
    // Data that ends up at the destination: a read, open, rename or delete moves nothing out.
    let writes = matches!(
        kind,
        Kind::FileCopy | Kind::FileMove | Kind::FileWrite | Kind::FileCreate
    );
    if writes {
        match destination {
            Some(DestinationKind::Removable) => row.bump(Feature::RemovableCopies),
            Some(DestinationKind::Cloud | DestinationKind::NetworkShare) => {
                row.bump(Feature::CloudOrShareCopies);
            }
            _ => {}
        }
    }
    let Some(file) = file_key(event) else {
        return;
    };
    row.distinct(Feature::DistinctFiles, &file);
    if has_classified_label(event) {
        row.distinct(Feature::ClassifiedFiles, &file);
    }
    if mismatch {
        row.distinct(Feature::TypeMismatchedFiles, &file);
    }
    if extension_in(event, ARCHIVE_EXTENSIONS) || extension_in(event, SOURCE_EXTENSIONS) {
        row.distinct(Feature::ArchiveOrSourceFiles, &file);
    }
}

fn add_web(row: &mut Row, event: &Event) {
    let upload = event.kind == Kind::HttpUpload;
    row.bump(Feature::WebVisits);
    match event.kind {
        Kind::HttpUpload => row.bump(Feature::WebUploads),
        Kind::HttpDownload => row.bump(Feature::WebDownloads),
        _ => {}
    }
    let domain = web_domain(event);
    let on = |list: &[&str]| domain.as_deref().is_some_and(|d| in_domains(d, list));
    let categories = content_categories(&event.raw);
    let category = |name: &str| categories.contains(&name);
    let mut count = |visits: Feature, uploads: Option<Feature>| {
        row.bump(visits);
        if let (true, Some(uploads)) = (upload, uploads) {
            row.bump(uploads);
        }
    };
    if on(JOB_SITE_DOMAINS) || category("job_search") {
        count(Feature::JobSearchVisits, None);
    }
    let cloud_kind = event
        .destination
        .as_ref()
        .is_some_and(|d| d.kind == Some(DestinationKind::Cloud));
    if on(CLOUD_STORAGE_DOMAINS) || cloud_kind || category("cloud_storage") {
        count(
            Feature::CloudStorageVisits,
            Some(Feature::CloudStorageUploads),
        );
    }
    if on(WEBMAIL_DOMAINS) {
        count(Feature::WebmailVisits, Some(Feature::WebmailUploads));
    }
    if on(LEAK_DOMAINS) || category("leak") || category("hacking") {
        count(
            Feature::LeakOrHackingVisits,
            Some(Feature::LeakOrHackingUploads),
        );
    }
}

fn add_email(row: &mut Row, event: &Event, context: &Map<String, Value>) {
    row.bump(Feature::EmailsSent);
    if let Some(n) = context.get("external_recipients").and_then(Value::as_f64) {
        row.add(Feature::EmailExternalRecipients, n);
    }
    let personal = event
        .destination
        .iter()
        .flat_map(|d| d.recipients.iter())
        .filter(|r| {
            r.rsplit_once('@').is_some_and(|(_, d)| {
                let d = d.trim();
                PERSONAL_MAIL_DOMAINS
                    .iter()
                    .any(|known| d.eq_ignore_ascii_case(known))
            })
        })
        .count();
    row.add(Feature::EmailPersonalRecipients, personal as f64);
    let list = event.raw.get("attachments").and_then(Value::as_array);
    let count = match event.raw.get("attachment_count").and_then(Value::as_f64) {
        Some(n) => n,
        None => list.map_or(0.0, |l| l.len() as f64),
    };
    row.add(Feature::EmailAttachments, count);
    let bytes: f64 = list
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("size").and_then(Value::as_f64))
        .sum();
    row.add(Feature::EmailAttachmentBytes, bytes);
    if context.get("first_domain").and_then(Value::as_bool) == Some(true) {
        row.bump(Feature::EmailNewDomains);
    }
    if context.get("lookalike_of").is_some_and(|v| !v.is_null()) {
        row.bump(Feature::EmailLookalikeDomains);
    }
}

/// Pages of a print job: `raw.Pages` (Windows PrintService) or `raw.pages`; the Windows
/// importer keeps event data as strings, so a decimal string counts too.
fn pages(raw: &Map<String, Value>) -> f64 {
    let value = raw.get("Pages").or_else(|| raw.get("pages"));
    match value {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s.trim().parse::<f64>().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn has_classified_label(event: &Event) -> bool {
    event.object.as_ref().is_some_and(|o| {
        o.labels.iter().any(|label| {
            let label = label.trim();
            CLASSIFIED_LABELS
                .iter()
                .any(|known| label.eq_ignore_ascii_case(known))
        })
    })
}

/// The file an event is about, normalised so that `C:\A.txt` and `c:/a.txt` are one file.
fn file_key(event: &Event) -> Option<String> {
    let object = event.object.as_ref()?;
    let key = match object.path.as_deref().or(object.name.as_deref()) {
        Some(text) => text.to_lowercase(),
        None => object.sha256.as_ref()?.to_string().to_lowercase(),
    };
    // Most keys have no backslash: skip the second copy for them.
    if key.contains('\\') {
        return Some(key.replace('\\', "/"));
    }
    Some(key)
}

/// Whether [`extension`] is one of `list` (lower case), without lower-casing a copy.
fn extension_in(event: &Event, list: &[&str]) -> bool {
    raw_extension(event).is_some_and(|e| list.iter().any(|known| e.eq_ignore_ascii_case(known)))
}

/// `object.extension`, else the extension of the last component of `object.name` or
/// `object.path`; lower case, without the dot.
#[cfg(test)]
fn extension(event: &Event) -> Option<String> {
    raw_extension(event).map(str::to_ascii_lowercase)
}

/// [`extension`] in the event's own case.
fn raw_extension(event: &Event) -> Option<&str> {
    let object = event.object.as_ref()?;
    if let Some(e) = object.extension.as_deref() {
        return Some(e.trim_start_matches('.'));
    }
    let name = object.name.as_deref().or(object.path.as_deref())?;
    let last = name.rsplit(['/', '\\']).next()?;
    let (_, e) = last.rsplit_once('.')?;
    (!e.is_empty()).then_some(e)
}

/// `destination.domain`, else the host of `object.url`; lower case.
fn web_domain(event: &Event) -> Option<String> {
    if let Some(d) = event.destination.as_ref().and_then(|d| d.domain.as_deref()) {
        return Some(d.trim_end_matches('.').to_ascii_lowercase());
    }
    let url = event.object.as_ref()?.url.as_deref()?;
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next()?;
    (!host.is_empty()).then(|| host.trim_end_matches('.').to_ascii_lowercase())
}

/// Whether `domain` is one of `list` or below one (`x.box.com` is, `xbox.com` is not).
fn in_domains(domain: &str, list: &[&str]) -> bool {
    list.iter().any(|d| {
        domain == *d
            || (domain.len() > d.len()
                && domain.ends_with(d)
                && domain.as_bytes()[domain.len() - d.len() - 1] == b'.')
    })
}

fn content_categories(raw: &Map<String, Value>) -> Vec<&str> {
    match raw.get("content_categories") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn event(json: &str) -> Event {
        Event::from_json(json.as_bytes()).unwrap()
    }

    #[test]
    fn table_order_names_and_indices_agree() {
        let mut names = HashSet::new();
        for (i, feature) in FEATURES.iter().enumerate() {
            assert_eq!(feature.index(), i);
            assert!(names.insert(feature.name()), "duplicate {}", feature.name());
            assert!(
                feature
                    .name()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            );
            assert!(!feature.definition().is_empty());
            assert_eq!(Feature::from_name(feature.name()), Some(*feature));
        }
    }

    #[test]
    fn domains_match_whole_labels() {
        assert!(in_domains("box.com", CLOUD_STORAGE_DOMAINS));
        assert!(in_domains("app.box.com", CLOUD_STORAGE_DOMAINS));
        assert!(!in_domains("xbox.com", CLOUD_STORAGE_DOMAINS));
        assert!(!in_domains("com", CLOUD_STORAGE_DOMAINS));
    }

    #[test]
    fn url_host_when_no_domain() {
        let e = event(
            r#"{"time":"2024-03-05T10:00:00Z","kind":"http.request","actor":{"user":"A"},"object":{"url":"https://user@WWW.Dropbox.com:443/x?y"},"outcome":"success"}"#,
        );
        assert_eq!(web_domain(&e).as_deref(), Some("www.dropbox.com"));
    }

    #[test]
    fn extension_and_file_key_fallbacks() {
        let e = event(
            r#"{"time":"2024-03-05T10:00:00Z","kind":"file.copy","actor":{"user":"A"},"object":{"path":"C:\\Src\\Main.RS"},"outcome":"success"}"#,
        );
        assert_eq!(extension(&e).as_deref(), Some("rs"));
        assert_eq!(file_key(&e).as_deref(), Some("c:/src/main.rs"));
        let none = event(
            r#"{"time":"2024-03-05T10:00:00Z","kind":"file.copy","actor":{"user":"A"},"object":{"path":"C:/dir.v2/README"},"outcome":"success"}"#,
        );
        assert_eq!(extension(&none), None);
    }

    #[test]
    fn pages_as_number_or_string() {
        let raw = |v: Value| {
            let mut m = Map::new();
            m.insert("Pages".into(), v);
            m
        };
        assert_eq!(pages(&raw(Value::from(12))), 12.0);
        assert_eq!(pages(&raw(Value::from("7"))), 7.0);
        assert_eq!(pages(&raw(Value::from("x"))), 0.0);
        assert_eq!(pages(&Map::new()), 0.0);
    }
}
