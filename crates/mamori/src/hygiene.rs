//! `mamori hygiene`: identity and access hygiene checks over HR data, the account inventory
//! and the ledger (docs/hygiene.md). The checks are `mamori_detect::hygiene`; this module
//! reads their inputs from the store — activity account by account and kind by kind through
//! the posting lists, bodies a page at a time — prints the findings, and turns the high and
//! critical ones into alerts for `mamori analyze`.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::Offset;
use mamori_detect::explain::Lang;
use mamori_detect::hygiene::{
    Activity, Directory, Finding, Grant, InventoryEntry, SharedLogons, UseAfterTermination,
    generic_accounts, reuses_after_gap, rights_added_during_notice, terminated_before,
};
use mamori_event::{Event, Level};
use mamori_store::{DataDir, EventStore, NewAlert};
use serde_json::{Value, json};

use crate::BadInput;
use crate::cases::Session;

#[derive(clap::Args)]
pub struct HygieneArgs {
    /// The day the checks look from (`YYYY-MM-DD`, local): events after it are ignored, and
    /// leavers, notice windows and dormancy are judged on it. Default: today.
    #[arg(long)]
    as_of: Option<String>,
    /// Days without a sign-in (inventory) or without events (ledger) that make an account
    /// dormant.
    #[arg(long, default_value_t = mamori_detect::hygiene::DEFAULT_DORMANT_DAYS)]
    dormant_days: i64,
    /// The language of the text output (JSON carries both).
    #[arg(long, value_enum, default_value = "en")]
    lang: crate::cases::Lang,
    /// The organisation's local time: which day an event falls on (`+09:00`).
    #[arg(long, default_value = "Z")]
    utc_offset: String,
}

/// What the checks look from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub as_of: Date,
    pub dormant_days: i64,
    pub offset: Offset,
}

impl Options {
    /// Today at `offset`, with the default dormancy.
    pub(crate) fn today(offset: Offset) -> Options {
        Options {
            as_of: offset.to_datetime(Timestamp::now()).date(),
            dormant_days: mamori_detect::hygiene::DEFAULT_DORMANT_DAYS,
            offset,
        }
    }
}

/// Bodies read at a time: bounded memory however many events an account or kind has.
const PAGE: usize = 4_096;

pub fn run(data_dir: &Path, args: &HygieneArgs, json: bool) -> anyhow::Result<ExitCode> {
    let offset = crate::parse_offset(&args.utc_offset)?;
    if args.dormant_days < 1 {
        return Err(BadInput(format!(
            "--dormant-days {}: expected at least 1",
            args.dormant_days
        ))
        .into());
    }
    let as_of = match &args.as_of {
        None => Options::today(offset).as_of,
        Some(text) => text
            .parse::<Date>()
            .map_err(|_| BadInput(format!("--as-of {text:?}: expected a date, YYYY-MM-DD")))?,
    };
    let options = Options {
        as_of,
        dormant_days: args.dormant_days,
        offset,
    };
    let started = std::time::Instant::now();
    let mut session = Session::open(data_dir)?;
    let findings = find(session.data(), &options)?;
    // Recorded before anything is shown: the findings name persons and accounts.
    session.record(
        "hygiene.run",
        &format!("as-of {as_of}, {} findings", findings.len()),
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let mut counts = [0u64; 5];
    for finding in &findings {
        counts[finding.severity as usize] += 1;
    }
    let [_, low, medium, high, critical] = counts;
    if json {
        let findings: Vec<Value> = findings.iter().map(finding_json).collect();
        println!(
            "{}",
            json!({
                "as_of": as_of.to_string(),
                "dormant_days": options.dormant_days,
                "findings": findings,
                "counts": {"critical": critical, "high": high, "medium": medium, "low": low},
                "seconds": crate::bench::round(seconds),
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    let lang = match args.lang {
        crate::cases::Lang::En => Lang::En,
        crate::cases::Lang::Ja => Lang::Ja,
    };
    for finding in &findings {
        print_finding(finding, lang);
    }
    match lang {
        Lang::En => println!(
            "{} findings as of {as_of} ({critical} critical, {high} high, {medium} medium, {low} low); {seconds:.1} s",
            findings.len()
        ),
        Lang::Ja => println!(
            "{as_of} 時点の検出 {} 件（重大 {critical}、高 {high}、中 {medium}、低 {low}）、{seconds:.1} 秒",
            findings.len()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_finding(finding: &Finding, lang: Lang) {
    let level = mamori_detect::explain::level(finding.severity, lang);
    let who = match (&finding.account, &finding.person) {
        (Some(account), Some(person)) => format!("{account} ({person})"),
        (Some(account), None) => account.clone(),
        (None, Some(person)) => person.clone(),
        (None, None) => String::new(),
    };
    println!("[{level}] {} {who} {}", finding.check.id(), finding.day);
    println!("  {}", finding.title(lang));
    let (events, action) = match lang {
        Lang::En => ("events (ledger leaves)", "action"),
        Lang::Ja => ("イベント（台帳リーフ）", "対応"),
    };
    if !finding.events.is_empty() {
        let leaves: Vec<String> = finding.events.iter().take(20).map(u64::to_string).collect();
        let more = finding.events.len().saturating_sub(20);
        let more = if more > 0 {
            format!(" (+{more})")
        } else {
            String::new()
        };
        println!("  {events}: {}{more}", leaves.join(" "));
    }
    println!("  {action}: {}", finding.action(lang));
}

fn finding_json(finding: &Finding) -> Value {
    json!({
        "check": finding.check.id(),
        "severity": finding.severity,
        "account": finding.account,
        "directory": finding.directory,
        "person": finding.person,
        "day": finding.day.to_string(),
        "evidence": finding.evidence,
        "events": finding.events,
        "title": {"en": finding.title(Lang::En), "ja": finding.title(Lang::Ja)},
        "action": {"en": finding.action(Lang::En), "ja": finding.action(Lang::Ja)},
    })
}

/// Every check's findings, most severe first.
pub(crate) fn find(data: &DataDir, options: &Options) -> anyhow::Result<Vec<Finding>> {
    let store = data.store();
    let offset = options.offset;
    let end_us = local_midnight_us(offset, options.as_of.tomorrow()?)?;
    let people = store.person_histories()?;
    let links: HashMap<String, String> = store.account_links()?.into_iter().collect();
    let additions = store.group_additions()?;

    let mut inventory = Vec::new();
    for account in store.inventory_accounts()? {
        let record = account.record;
        let person = links
            .get(&record.account)
            .cloned()
            .or_else(|| record.person_id.clone());
        let groups_added = additions
            .iter()
            .filter(|a| a.source == record.source && a.account == record.account)
            .map(|a| (a.group.clone(), offset.to_datetime(a.at).date()))
            .collect();
        inventory.push(InventoryEntry {
            record,
            person,
            groups_added,
        });
    }
    let directory = Directory {
        as_of: options.as_of,
        dormant_days: options.dormant_days,
        people: &people,
        links: &links,
        inventory: &inventory,
    };
    let mut findings = directory.checks();

    let mut grants: Vec<Grant> = additions
        .iter()
        .map(|a| Grant {
            account: a.account.clone(),
            group: a.group.clone(),
            day: offset.to_datetime(a.at).date(),
            seen_in: "inventory".into(),
            leaf: None,
        })
        .collect();
    grants.extend(ledger_grants(store, offset, end_us)?);
    findings.extend(rights_added_during_notice(
        &grants,
        &people,
        &links,
        options.as_of,
    ));

    // Accounts used after their person's last day.
    for (account, person) in &links {
        let Some(history) = people.get(person) else {
            continue;
        };
        let Some(earliest) = UseAfterTermination::earliest_day(history) else {
            continue;
        };
        let from_us = local_midnight_us(offset, earliest)?;
        let mut check = UseAfterTermination::new(account, person, history);
        // Only the events on days after a last day are read.
        let leaves: Vec<u64> = store
            .account_event_times(account, from_us, end_us)?
            .into_iter()
            .filter(|&(time_us, _)| {
                day_at(offset, time_us).is_some_and(|day| terminated_before(history, day).is_some())
            })
            .map(|(_, leaf)| leaf)
            .collect();
        for page in leaves.chunks(PAGE) {
            for (leaf, event) in read_events(store, page)? {
                let activity = Activity {
                    leaf,
                    time: event.time,
                    day: offset.to_datetime(event.time).date(),
                    kind: event.kind.as_str(),
                    host: event.actor.host.as_deref(),
                };
                check.add(&activity);
            }
        }
        findings.extend(check.finish(offset));
    }

    // Dormant accounts used again, and generic names, over every account events name.
    let event_accounts = store.event_accounts()?;
    for account in &event_accounts {
        let mut times = Vec::new();
        for (time_us, leaf) in store.account_event_times(account, i64::MIN, end_us)? {
            times.push((Timestamp::from_microsecond(time_us)?, leaf));
        }
        findings.extend(reuses_after_gap(
            account,
            links.get(account).map(String::as_str),
            &times,
            options.dormant_days,
            offset,
        ));
    }
    findings.extend(generic_accounts(
        &inventory,
        event_accounts.iter().map(String::as_str),
        &links,
        options.as_of,
    ));

    // Shared accounts, from every logon in time order.
    let mut shared = SharedLogons::new();
    let logons: Vec<u64> = store
        .kind_event_times("logon", i64::MIN, end_us)?
        .into_iter()
        .map(|(_, leaf)| leaf)
        .collect();
    for page in logons.chunks(PAGE) {
        for (leaf, event) in read_events(store, page)? {
            if let Some(host) = event.actor.host.as_deref() {
                let day = offset.to_datetime(event.time).date();
                shared.add(&event.actor.user, host, event.time, day, leaf);
            }
        }
    }
    findings.extend(shared.finish(&links, offset));

    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.check.cmp(&b.check))
            .then_with(|| a.account.cmp(&b.account))
            .then_with(|| a.person.cmp(&b.person))
            .then(a.day.cmp(&b.day))
    });
    Ok(findings)
}

/// Groups and privileges given in the ledger: `account.group_add` (SCIM, Windows 4728, 4732,
/// 4756) and `account.privilege_change` events, the account being `object.name`.
fn ledger_grants(store: &EventStore, offset: Offset, end_us: i64) -> anyhow::Result<Vec<Grant>> {
    let mut grants = Vec::new();
    for kind in ["account.group_add", "account.privilege_change"] {
        let leaves: Vec<u64> = store
            .kind_event_times(kind, i64::MIN, end_us)?
            .into_iter()
            .map(|(_, leaf)| leaf)
            .collect();
        for page in leaves.chunks(PAGE) {
            for (leaf, event) in read_events(store, page)? {
                let Some(target) = event.object.as_ref().and_then(|o| o.name.as_deref()) else {
                    continue;
                };
                let group = match kind {
                    "account.group_add" => {
                        match event.destination.as_ref().and_then(|d| d.name.as_deref()) {
                            Some(group) => common_name(group).to_owned(),
                            None => continue,
                        }
                    }
                    _ => privileges(&event),
                };
                grants.push(Grant {
                    account: common_name(target).to_owned(),
                    group,
                    day: offset.to_datetime(event.time).date(),
                    seen_in: format!("{kind} by {}", event.actor.user),
                    leaf: Some(leaf),
                });
            }
        }
    }
    Ok(grants)
}

/// `CN=Domain Admins,CN=Users,DC=…` → `Domain Admins` (Windows events name members and groups
/// by distinguished name); any other name as it is.
fn common_name(name: &str) -> &str {
    let Some(rest) = name
        .strip_prefix("CN=")
        .or_else(|| name.strip_prefix("cn="))
    else {
        return name;
    };
    // An escaped comma (`\,`) belongs to the name: cut at the first unescaped one.
    let bytes = rest.as_bytes();
    let mut end = rest.len();
    for (i, &byte) in bytes.iter().enumerate() {
        if byte == b',' && (i == 0 || bytes[i - 1] != b'\\') {
            end = i;
            break;
        }
    }
    &rest[..end]
}

/// What an `account.privilege_change` granted, from `raw.Privileges` when the source gives it.
fn privileges(event: &Event) -> String {
    let listed = event
        .raw
        .get("Privileges")
        .or_else(|| event.raw.get("PrivilegeList"));
    match listed {
        Some(Value::Array(items)) => {
            let names: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            format!("privileges: {}", names.join(", "))
        }
        Some(Value::String(text)) => format!("privileges: {}", text.trim()),
        _ => "privileges".into(),
    }
}

/// The events at `leaves` that are still readable (retention may have erased a body).
fn read_events(store: &EventStore, leaves: &[u64]) -> anyhow::Result<Vec<(u64, Event)>> {
    let mut events = Vec::with_capacity(leaves.len());
    for stored in store.events_at(leaves)? {
        if let Some(event) = stored
            .json
            .as_deref()
            .and_then(|json| Event::from_json(json).ok())
        {
            events.push((stored.leaf_index, event));
        }
    }
    Ok(events)
}

fn day_at(offset: Offset, time_us: i64) -> Option<Date> {
    Timestamp::from_microsecond(time_us)
        .ok()
        .map(|time| offset.to_datetime(time).date())
}

fn local_midnight_us(offset: Offset, day: Date) -> anyhow::Result<i64> {
    Ok(offset
        .to_timestamp(day.to_datetime(Time::midnight()))?
        .as_microsecond())
}

/// The alerts of the high and critical findings, keyed so that running again adds none.
pub(crate) fn alerts(findings: &[Finding], offset: Offset) -> anyhow::Result<Vec<NewAlert>> {
    let mut alerts = Vec::new();
    for finding in findings {
        if finding.severity < Level::High {
            continue;
        }
        let day = mamori_store::day_of(local_midnight_us(Offset::UTC, finding.day)?);
        alerts.push(NewAlert {
            person_id: finding.subject().to_owned(),
            time_us: local_midnight_us(offset, finding.day)?,
            day,
            severity: finding.severity,
            kind: "hygiene".into(),
            title: finding.title(Lang::En),
            title_ja: finding.title(Lang::Ja),
            details: finding_json(finding),
            dedup_key: finding.key(),
            events: finding.events.clone(),
        });
    }
    Ok(alerts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguished_names_reduce_to_their_common_name() {
        assert_eq!(
            common_name("CN=Domain Admins,CN=Users,DC=corp,DC=example"),
            "Domain Admins"
        );
        assert_eq!(common_name("CN=Sato\\, Hanako,OU=Staff"), "Sato\\, Hanako");
        assert_eq!(common_name("yamada-t"), "yamada-t");
    }
}
