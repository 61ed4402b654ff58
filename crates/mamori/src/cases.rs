//! `mamori alerts|cases|scores|access-log`: triage of alerts, investigation cases, the export
//! of person-day scores, and the access log (see docs/cases.md).
//!
//! Alerts, cases and scores are personal data: every command here that reads or changes them
//! records who did what in the store's access log (APPI), after the store answered and before
//! anything is printed, so that every disclosure is logged and failed attempts are not.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use mamori_privacy::pseudonym::{Directory, PseudonymKey, Pseudonymiser};
use mamori_store::{
    Alert, AlertFilter, AlertStatus, CaseOutcome, CaseStatus, DataDir, EventStore, Level,
    StoreError,
};
use serde_json::json;

use crate::BadInput;

/// The language of alert titles in text output.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    En,
    Ja,
}

#[derive(clap::Subcommand)]
pub enum AlertsCommand {
    /// Alerts grouped per person (most severe person first), newest first within a person.
    List(AlertListArgs),
    /// Dismiss an open alert: it needs no action, for the reason given.
    Dismiss {
        id: i64,
        #[arg(long)]
        reason: String,
    },
}

#[derive(clap::Args)]
pub struct AlertListArgs {
    #[arg(long)]
    person: Option<String>,
    /// open, dismissed or escalated.
    #[arg(long, value_parser = alert_status)]
    status: Option<AlertStatus>,
    /// low, medium, high or critical: this severity or higher.
    #[arg(long, value_parser = alert_severity)]
    min_severity: Option<Level>,
    /// Only alerts at or after this time (RFC 3339, or a date: its start in UTC).
    #[arg(long)]
    since: Option<String>,
    /// Only alerts before this time.
    #[arg(long)]
    until: Option<String>,
    /// At most this many alerts (the newest).
    #[arg(long)]
    limit: Option<usize>,
    #[arg(long, value_enum, default_value = "en")]
    lang: Lang,
}

#[derive(clap::Subcommand)]
pub enum CasesCommand {
    /// Open a case from open alerts about one person; prints its id.
    Open {
        /// An alert to escalate into the case (repeatable).
        #[arg(long = "alert", required = true)]
        alerts: Vec<i64>,
        /// Default: the first alert's title.
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        assignee: Option<String>,
    },
    /// Cases, newest first.
    List {
        /// open, investigating or closed.
        #[arg(long, value_parser = case_status)]
        status: Option<CaseStatus>,
    },
    /// A case with its alerts, events and notes.
    Show {
        id: i64,
        #[arg(long, value_enum, default_value = "en")]
        lang: Lang,
    },
    /// Add a note (the author is $USER).
    Note { id: i64, text: String },
    /// Assign the case to a user.
    Assign { id: i64, user: String },
    /// Attach stored events by ledger leaf index.
    AddEvents {
        id: i64,
        #[arg(required = true)]
        leaves: Vec<u64>,
    },
    /// Move the case to open, investigating or closed (closing needs --outcome).
    Status {
        id: i64,
        #[arg(value_parser = case_status)]
        status: CaseStatus,
        /// confirmed, benign or inconclusive.
        #[arg(long, value_parser = case_outcome)]
        outcome: Option<CaseOutcome>,
    },
    /// Put the case's events under legal hold (on) or release them (off).
    Hold {
        id: i64,
        #[arg(value_parser = on_off, action = clap::ArgAction::Set)]
        hold: bool,
    },
}

#[derive(clap::Subcommand)]
pub enum ScoresCommand {
    /// Every stored person-day as CSV: person,day,score,level, persons under their
    /// pseudonyms (as the API shows them) unless `--identified`.
    Export {
        #[arg(long)]
        out: PathBuf,
        /// Write person ids instead of pseudonyms (recorded as such in the access log).
        #[arg(long)]
        identified: bool,
        /// The pseudonym key (default: `keys/pseudonym.key` in the data directory, created
        /// on first use); the same key as `mamori serve` gives the same pseudonyms.
        #[arg(long)]
        pseudonym_key: Option<PathBuf>,
    },
}

fn alert_status(text: &str) -> Result<AlertStatus, String> {
    AlertStatus::parse(text).ok_or_else(|| "expected open, dismissed or escalated".into())
}

fn alert_severity(text: &str) -> Result<Level, String> {
    Level::parse(text)
        .filter(|level| *level != Level::None)
        .ok_or_else(|| "expected low, medium, high or critical".into())
}

fn case_status(text: &str) -> Result<CaseStatus, String> {
    CaseStatus::parse(text).ok_or_else(|| "expected open, investigating or closed".into())
}

fn case_outcome(text: &str) -> Result<CaseOutcome, String> {
    CaseOutcome::parse(text).ok_or_else(|| "expected confirmed, benign or inconclusive".into())
}

fn on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err("expected on or off".into()),
    }
}

/// Who runs the command, for the access log and the reports it writes: `$USER` or `$LOGNAME`
/// when set, else the name `/etc/passwd` gives the process's user (services and `sudo -E`
/// often have neither variable), else `uid N`.
fn operator() -> String {
    for variable in ["USER", "LOGNAME"] {
        if let Some(name) = std::env::var(variable)
            .ok()
            .filter(|n| !n.trim().is_empty())
        {
            return name;
        }
    }
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "unknown".into();
    };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| passwd_name(&passwd, uid))
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// The name of `uid` in a passwd file (`name:x:uid:gid:…`).
fn passwd_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?.parse::<u32>().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

/// The store, and who is asking (for the access log).
pub(crate) struct Session {
    data: DataDir,
    actor: String,
}

impl Session {
    pub(crate) fn open(data_dir: &Path) -> anyhow::Result<Session> {
        let actor = operator();
        Ok(Session {
            data: DataDir::open(data_dir)?,
            actor,
        })
    }

    /// Who is asking (recorded in the access log).
    pub(crate) fn actor(&self) -> &str {
        &self.actor
    }

    pub(crate) fn store(&mut self) -> &mut EventStore {
        self.data.store_mut()
    }

    pub(crate) fn data(&mut self) -> &mut DataDir {
        &mut self.data
    }

    pub(crate) fn record(&mut self, action: &str, target: &str) -> anyhow::Result<()> {
        let now = now_us();
        let actor = self.actor.clone();
        self.data.record_access(&actor, action, target, now)?;
        Ok(())
    }
}

/// A time in microseconds as RFC 3339 (the number itself if it is out of range).
pub(crate) fn timestamp(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).map_or_else(|_| us.to_string(), |t| t.to_string())
}

pub(crate) fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// Unknown ids and requests the state does not allow are the user's to fix: exit code 2.
pub(crate) fn user_error(error: StoreError) -> anyhow::Error {
    match error {
        StoreError::NotFound(message) | StoreError::Invalid(message) => BadInput(message).into(),
        other => other.into(),
    }
}

pub fn alerts(data_dir: &Path, command: AlertsCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        AlertsCommand::List(args) => list_alerts(data_dir, &args, json),
        AlertsCommand::Dismiss { id, reason } => {
            let mut session = Session::open(data_dir)?;
            session
                .store()
                .dismiss_alert(id, &reason)
                .map_err(user_error)?;
            session.record("alerts.dismiss", &format!("alert {id}"))?;
            print_done(json, json!({"alert": id, "status": "dismissed"}), || {
                format!("alert {id} dismissed")
            });
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn list_alerts(data_dir: &Path, args: &AlertListArgs, json: bool) -> anyhow::Result<ExitCode> {
    let (since_us, until_us) =
        crate::rules::time_range(args.since.as_deref(), args.until.as_deref())?;
    let filter = AlertFilter {
        person_id: args.person.clone(),
        status: args.status,
        min_severity: args.min_severity,
        since_us: args.since.is_some().then_some(since_us),
        until_us: args.until.is_some().then_some(until_us),
        limit: args.limit,
        ..AlertFilter::default()
    };
    let mut session = Session::open(data_dir)?;
    let alerts = session.store().alerts(&filter)?;
    session.record("alerts.list", &describe_filter(args))?;
    let grouped = group_by_person(alerts);
    if json {
        println!("{}", json!({ "alerts": grouped }));
        return Ok(ExitCode::SUCCESS);
    }
    let mut previous: Option<&str> = None;
    for alert in &grouped {
        if previous.is_some_and(|person| person != alert.person_id) {
            println!();
        }
        previous = Some(&alert.person_id);
        println!("{}", alert_line(alert, args.lang)?);
    }
    if grouped.is_empty() {
        println!("no alerts");
    }
    Ok(ExitCode::SUCCESS)
}

/// The filter as the access log names it: `person=P1 status=open`, or `all`.
fn describe_filter(args: &AlertListArgs) -> String {
    let mut parts = Vec::new();
    if let Some(person) = &args.person {
        parts.push(format!("person={person}"));
    }
    if let Some(status) = args.status {
        parts.push(format!("status={}", status.as_str()));
    }
    if let Some(level) = args.min_severity {
        parts.push(format!("min_severity={}", level.as_str()));
    }
    if let Some(since) = &args.since {
        parts.push(format!("since={since}"));
    }
    if let Some(until) = &args.until {
        parts.push(format!("until={until}"));
    }
    if let Some(limit) = args.limit {
        parts.push(format!("limit={limit}"));
    }
    if parts.is_empty() {
        "all".into()
    } else {
        parts.join(" ")
    }
}

/// Alerts (newest first) regrouped per person: the person with the most severe alert first,
/// ties going to the newest alert; each person's alerts stay newest first.
fn group_by_person(alerts: Vec<Alert>) -> Vec<Alert> {
    let mut groups: Vec<Vec<Alert>> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for alert in alerts {
        let index = *group_of.entry(alert.person_id.clone()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[index].push(alert);
    }
    // The first alert of a group is its newest.
    let rank = |group: &Vec<Alert>| {
        let most_severe = group.iter().map(|a| a.severity).max();
        let newest = group.first().map(|a| (a.time_us, a.id));
        (most_severe, newest)
    };
    groups.sort_by_key(|group| std::cmp::Reverse(rank(group)));
    groups.into_iter().flatten().collect()
}

/// `#ID  YYYY-MM-DD  SEVERITY  PERSON  STATUS  title`.
fn alert_line(alert: &Alert, lang: Lang) -> anyhow::Result<String> {
    let title = match lang {
        Lang::En => &alert.title,
        Lang::Ja => &alert.title_ja,
    };
    Ok(format!(
        "#{:<5} {}  {:<8}  {}  {:<9}  {}",
        alert.id,
        day_text(alert.day)?,
        alert.severity.as_str(),
        alert.person_id,
        alert.status.as_str(),
        title
    ))
}

/// A day number (days since 1970-01-01) as `YYYY-MM-DD`.
fn day_text(day: i64) -> anyhow::Result<String> {
    let date = crate::analyze::date_of_day_number(day)
        .with_context(|| format!("day {day}: outside the calendar"))?;
    Ok(date.to_string())
}

fn time_text(time_us: i64) -> String {
    jiff::Timestamp::from_microsecond(time_us)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("{time_us} µs"))
}

/// Prints `value` with `--json`, else the text `line` makes.
fn print_done(json: bool, value: serde_json::Value, line: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", line());
    }
}

pub fn cases(data_dir: &Path, command: CasesCommand, json: bool) -> anyhow::Result<ExitCode> {
    let mut session = Session::open(data_dir)?;
    let now = now_us();
    match command {
        CasesCommand::Open {
            alerts,
            title,
            assignee,
        } => {
            let title = match title {
                Some(title) => title,
                None => default_title(session.store(), &alerts)?,
            };
            let id = session
                .store()
                .open_case(&title, &alerts, assignee.as_deref(), now)
                .map_err(user_error)?;
            let ids: Vec<String> = alerts.iter().map(i64::to_string).collect();
            session.record(
                "cases.open",
                &format!("case {id} (alerts {})", ids.join(",")),
            )?;
            print_done(json, json!({ "case": id }), || id.to_string());
        }
        CasesCommand::List { status } => {
            let cases = session.store().cases(status)?;
            let target = status.map_or("all".into(), |s| format!("status={}", s.as_str()));
            session.record("cases.list", &target)?;
            if json {
                println!("{}", json!({ "cases": cases }));
                return Ok(ExitCode::SUCCESS);
            }
            if cases.is_empty() {
                println!("no cases");
            }
            for case in &cases {
                println!(
                    "#{:<5} {:<13}  {:<12}  {:<10}  {}",
                    case.id,
                    case_state(case.status, case.outcome),
                    case.person_id.as_deref().unwrap_or("-"),
                    case.assignee.as_deref().unwrap_or("-"),
                    case.title
                );
            }
        }
        CasesCommand::Show { id, lang } => show(&mut session, id, lang, json)?,
        CasesCommand::Note { id, text } => {
            let author = session.actor.clone();
            let note = session
                .store()
                .add_case_note(id, &author, &text, now)
                .map_err(user_error)?;
            session.record("cases.note", &format!("case {id}"))?;
            print_done(json, json!({"case": id, "note": note}), || {
                format!("case {id}: note {note} added")
            });
        }
        CasesCommand::Assign { id, user } => {
            session
                .store()
                .assign_case(id, &user, now)
                .map_err(user_error)?;
            session.record("cases.assign", &format!("case {id} to {user}"))?;
            print_done(json, json!({"case": id, "assignee": user}), || {
                format!("case {id} assigned to {user}")
            });
        }
        CasesCommand::AddEvents { id, leaves } => {
            session
                .store()
                .add_case_events(id, &leaves, now)
                .map_err(user_error)?;
            session.record("cases.add-events", &format!("case {id}"))?;
            print_done(json, json!({"case": id, "events": leaves}), || {
                format!("case {id}: {} events attached", leaves.len())
            });
        }
        CasesCommand::Status {
            id,
            status,
            outcome,
        } => {
            session
                .store()
                .set_case_status(id, status, outcome, now)
                .map_err(user_error)?;
            session.record(
                "cases.status",
                &format!("case {id} {}", case_state(status, outcome)),
            )?;
            let value = json!({"case": id, "status": status, "outcome": outcome});
            print_done(json, value, || {
                format!("case {id} is {}", case_state(status, outcome))
            });
        }
        CasesCommand::Hold { id, hold } => {
            session
                .store()
                .set_legal_hold(id, hold, now)
                .map_err(user_error)?;
            let word = if hold { "on" } else { "off" };
            session.record("cases.hold", &format!("case {id} {word}"))?;
            print_done(json, json!({"case": id, "legal_hold": hold}), || {
                format!("case {id}: legal hold {word}")
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The first alert's title, naming a missing alert as the user's error.
fn default_title(store: &EventStore, alerts: &[i64]) -> anyhow::Result<String> {
    let Some(&first) = alerts.first() else {
        return Err(BadInput("--alert: at least one alert".into()).into());
    };
    match store.alert(first)? {
        Some(alert) => Ok(alert.title),
        None => Err(BadInput(format!("--alert {first}: no such alert")).into()),
    }
}

/// `open`, `investigating`, `closed (benign)`.
fn case_state(status: CaseStatus, outcome: Option<CaseOutcome>) -> String {
    match outcome {
        Some(outcome) => format!("{} ({})", status.as_str(), outcome.as_str()),
        None => status.as_str().to_owned(),
    }
}

/// One attached event as `cases show` lists it.
#[derive(serde::Serialize)]
struct EventSummary {
    leaf_index: u64,
    /// `None` when the body was purged by retention or cannot be read as an event.
    time: Option<String>,
    kind: Option<String>,
    account: Option<String>,
    note: Option<&'static str>,
}

fn summarise_event(store: &EventStore, leaf_index: u64) -> anyhow::Result<EventSummary> {
    let mut summary = EventSummary {
        leaf_index,
        time: None,
        kind: None,
        account: None,
        note: Some("not stored"),
    };
    store.scan_range(leaf_index..leaf_index + 1, |_, _, body| {
        summary.note = match body.map(mamori_event::Event::from_json) {
            None => Some("purged by retention"),
            Some(Err(_)) => Some("unreadable"),
            Some(Ok(event)) => {
                summary.time = Some(event.time.to_string());
                summary.kind = Some(event.kind.as_str().to_owned());
                summary.account = Some(event.account().to_owned());
                None
            }
        };
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(summary)
}

fn show(session: &mut Session, id: i64, lang: Lang, json: bool) -> anyhow::Result<()> {
    let Some(detail) = session.store().case(id)? else {
        return Err(BadInput(format!("case {id}: no such case")).into());
    };
    let mut events = Vec::with_capacity(detail.events.len());
    for &leaf in &detail.events {
        events.push(summarise_event(session.store(), leaf)?);
    }
    session.record("cases.show", &format!("case {id}"))?;
    if json {
        let value = json!({
            "case": detail.case,
            "alerts": detail.alerts,
            "events": events,
            "notes": detail.notes,
        });
        println!("{value}");
        return Ok(());
    }
    let case = &detail.case;
    println!(
        "case #{}  {}  {}",
        case.id,
        case_state(case.status, case.outcome),
        case.title
    );
    println!(
        "person: {}  assignee: {}  legal hold: {}",
        case.person_id.as_deref().unwrap_or("-"),
        case.assignee.as_deref().unwrap_or("-"),
        if case.legal_hold { "on" } else { "off" }
    );
    println!(
        "created: {}  updated: {}",
        time_text(case.created_us),
        time_text(case.updated_us)
    );
    println!("alerts:");
    for alert in &detail.alerts {
        println!("  {}", alert_line(alert, lang)?);
    }
    println!("events:");
    for event in &events {
        match event.note {
            Some(note) => println!("  leaf {}  ({note})", event.leaf_index),
            None => println!(
                "  leaf {}  {}  {}  {}",
                event.leaf_index,
                event.time.as_deref().unwrap_or_default(),
                event.kind.as_deref().unwrap_or_default(),
                event.account.as_deref().unwrap_or_default()
            ),
        }
    }
    println!("notes:");
    for note in &detail.notes {
        println!(
            "  {}  {}: {}",
            time_text(note.time_us),
            note.author,
            note.text
        );
    }
    Ok(())
}

pub fn scores(data_dir: &Path, command: ScoresCommand, json: bool) -> anyhow::Result<ExitCode> {
    let ScoresCommand::Export {
        out,
        identified,
        pseudonym_key,
    } = command;
    let names = if identified {
        None
    } else {
        let key = pseudonym_key.unwrap_or_else(|| data_dir.join("keys").join("pseudonym.key"));
        let key = PseudonymKey::load_or_create(&key).map_err(crate::privacy_error)?;
        // Only person ids are written: no directory of names is needed.
        let directory = Directory::new(&[]).map_err(crate::privacy_error)?;
        Some(Pseudonymiser::new(&key, &directory))
    };
    let mut session = Session::open(data_dir)?;
    let rows = export_scores(session.store(), &out, names.as_ref())?;
    let target = format!(
        "{}{}",
        out.display(),
        if identified { " (identified)" } else { "" }
    );
    session.record("scores.export", &target)?;
    print_done(json, json!({"out": out, "rows": rows}), || {
        format!("{rows} rows written to {}", out.display())
    });
    Ok(ExitCode::SUCCESS)
}

/// Streams every stored person-day to `out` as CSV; returns the rows written. The file is
/// readable by its owner only (it is personal data) and appears whole or not at all.
fn export_scores(
    store: &EventStore,
    out: &Path,
    names: Option<&Pseudonymiser>,
) -> anyhow::Result<u64> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    let mut writer = std::io::BufWriter::new(temp);
    let io = |source: std::io::Error| StoreError::Io {
        path: out.to_path_buf(),
        source,
    };
    writeln!(writer, "person,day,score,level").map_err(io)?;
    let mut rows = 0u64;
    // A day outside the calendar is a damaged row; it is reported, not skipped.
    store.for_each_score(|person, day, score, level| {
        let day = day_text(day).map_err(|e| StoreError::Corrupt(format!("{person}: {e}")))?;
        let person = match names {
            Some(names) => std::borrow::Cow::Owned(names.person(person)),
            None => std::borrow::Cow::Borrowed(person),
        };
        writeln!(
            writer,
            "{},{day},{},{}",
            csv_field(&person),
            score_text(score),
            level.map_or("", Level::as_str)
        )
        .map_err(io)?;
        rows += 1;
        Ok(())
    })?;
    let temp = writer.into_inner().map_err(|e| io(e.into_error()))?;
    temp.as_file().sync_all().map_err(io)?;
    temp.persist(out)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(rows)
}

/// Up to 4 decimals, without trailing zeros: `12`, `40.25`, `0.1235`.
fn score_text(score: f64) -> String {
    let text = format!("{score:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "-0" => "0".into(),
        _ => text.into(),
    }
}

/// A CSV field, quoted when it holds a separator, a quote or a line break (RFC 4180).
fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

pub fn access_log(data_dir: &Path, limit: usize, json: bool) -> anyhow::Result<ExitCode> {
    let mut session = Session::open(data_dir)?;
    // Reading the log is itself recorded, before the records are shown.
    session.record("access_log.read", &format!("latest {limit}"))?;
    let records = session.store().access_log(limit)?;
    if json {
        println!("{}", json!({ "access": records }));
        return Ok(ExitCode::SUCCESS);
    }
    for record in &records {
        println!(
            "{}  {}  {}  {}",
            time_text(record.time_us),
            record.actor,
            record.action,
            record.target
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_operator_is_found_in_passwd_by_uid() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n# comment\nbroken\n\
                      secops:x:1001:1001:Sec Ops,,,:/home/secops:/bin/sh\n";
        assert_eq!(passwd_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(passwd_name(passwd, 1001).as_deref(), Some("secops"));
        assert_eq!(passwd_name(passwd, 1002), None);
    }

    fn alert(id: i64, person: &str, time_us: i64, severity: Level) -> Alert {
        Alert {
            id,
            person_id: person.into(),
            time_us,
            day: 0,
            severity,
            kind: "rule".into(),
            title: String::new(),
            title_ja: String::new(),
            details: json!({}),
            status: AlertStatus::Open,
            dismiss_reason: None,
            case_id: None,
            events: vec![],
            assignee: None,
        }
    }

    #[test]
    fn persons_come_by_most_severe_then_newest_alert() {
        let newest_first = vec![
            alert(5, "P3", 50, Level::Low),
            alert(4, "P1", 40, Level::Medium),
            alert(3, "P2", 30, Level::High),
            alert(2, "P1", 20, Level::High),
            alert(1, "P4", 10, Level::Critical),
        ];
        let ids: Vec<i64> = group_by_person(newest_first).iter().map(|a| a.id).collect();
        assert_eq!(ids, [1, 4, 2, 3, 5]);
    }

    #[test]
    fn days_scores_and_fields_as_the_csv_writes_them() {
        assert_eq!(day_text(0).unwrap(), "1970-01-01");
        assert_eq!(day_text(20_454).unwrap(), "2026-01-01");
        assert_eq!(day_text(-1).unwrap(), "1969-12-31");
        assert!(day_text(i64::MAX).is_err());
        assert_eq!(score_text(12.0), "12");
        assert_eq!(score_text(40.25), "40.25");
        assert_eq!(score_text(0.123_456), "0.1235");
        assert_eq!(score_text(-0.000_01), "0");
        assert_eq!(csv_field("P1"), "P1");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }
}
