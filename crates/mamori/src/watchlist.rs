//! `mamori watchlist` and `mamori report departing`: who is on the departing-employee watch
//! list, and the look-back report of one leaver's activity (docs/watchlist.md).
//!
//! Both read personal data. The list is recorded in the access log (`watchlist.list`); the
//! report needs a purpose declared in `privacy.toml` and a written justification, as a reveal
//! does, and both are recorded with it (`report.departing`) before the report is shown or its
//! file appears.

use std::collections::BTreeMap;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use jiff::civil::Date;
use jiff::tz::Offset;
use mamori_detect::explain::Lang as TextLang;
use mamori_detect::watchlist::{
    self, CATEGORIES, Category, Lookback, LookbackBuilder, LookbackOptions, Period, PeriodSummary,
    WatchEntry, WatchRules, Windows,
};
use mamori_event::Event;
use mamori_privacy::Privacy;
use mamori_store::{EventStore, MIN_JUSTIFICATION_CHARS, StoreError};
use serde_json::json;

use crate::BadInput;
use crate::cases::{Lang, Session};

/// Longest look-back, rule or grace period accepted, in days (ten years).
const MAX_DAYS: i64 = 3_650;

/// The options both commands share: when people enter and leave the list.
#[derive(clap::Args)]
pub struct ListRules {
    /// The day to answer for (YYYY-MM-DD; default: today in `--utc-offset`).
    #[arg(long)]
    as_of: Option<String>,
    /// Without a notice date, a person enters the list this many days before the last day.
    #[arg(long, default_value_t = watchlist::DEFAULT_BEFORE_TERMINATION_DAYS)]
    before_termination: i64,
    /// A person stays on the list this many days after the last day.
    #[arg(long, default_value_t = watchlist::DEFAULT_GRACE_DAYS)]
    grace: i64,
    /// The organisation's local time: local days and working hours (`+09:00`).
    #[arg(long, default_value = "Z")]
    utc_offset: String,
}

impl ListRules {
    fn resolve(&self) -> anyhow::Result<(Date, WatchRules, Offset)> {
        for (name, value) in [
            ("--before-termination", self.before_termination),
            ("--grace", self.grace),
        ] {
            if !(0..=MAX_DAYS).contains(&value) {
                return Err(
                    BadInput(format!("{name} {value}: expected 0 to {MAX_DAYS} days")).into(),
                );
            }
        }
        let offset = crate::parse_offset(&self.utc_offset)?;
        let as_of = match self.as_of.as_deref() {
            Some(text) => text
                .parse::<Date>()
                .map_err(|_| BadInput(format!("--as-of {text:?}: expected YYYY-MM-DD")))?,
            None => offset.to_datetime(jiff::Timestamp::now()).date(),
        };
        let rules = WatchRules {
            before_termination_days: self.before_termination,
            grace_days: self.grace,
        };
        Ok((as_of, rules, offset))
    }
}

/// `mamori watchlist`.
#[derive(clap::Args)]
pub struct WatchlistArgs {
    #[command(flatten)]
    rules: ListRules,
}

#[derive(clap::Subcommand)]
pub enum ReportCommand {
    /// The look-back report of a person on the departing-employee watch list: what they
    /// accessed, copied, printed, mailed and uploaded in the days before entering the list
    /// and since, against their own earlier baseline (docs/watchlist.md).
    Departing(DepartingArgs),
    /// A manager's people with their accounts, groups, last use and the latest keep/revoke
    /// decision on each, for periodic attestation (docs/review.md).
    AccessReview(crate::review::AccessReviewArgs),
}

/// The report's file format.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable report: summary in sentences, tables.
    Md,
    /// Everything the report counts, for programs.
    Json,
    /// One row per event (departing) or per account and grant (access review), for
    /// spreadsheets.
    Csv,
}

impl Format {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Format::Md => "md",
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }
}

#[derive(clap::Args)]
pub struct DepartingArgs {
    /// The person (HR `person_id`).
    #[arg(long)]
    person: String,
    #[command(flatten)]
    rules: ListRules,
    /// Length of the look-back window before entry (and of the baseline before it), in days.
    #[arg(long, default_value_t = watchlist::DEFAULT_LOOKBACK_DAYS)]
    days: i64,
    #[arg(long, value_enum, default_value = "en")]
    lang: Lang,
    #[arg(long, value_enum, default_value = "md")]
    format: Format,
    /// Write the report here (readable by its owner only) instead of on stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Why the report is read: a purpose id declared in `privacy.toml` (docs/privacy.md).
    #[arg(long)]
    purpose: String,
    /// What the report is needed for, in words (at least 20 characters); recorded in the
    /// access log.
    #[arg(long)]
    justification: String,
    /// The privacy declarations (default: `privacy.toml` in the data directory).
    #[arg(long)]
    privacy: Option<PathBuf>,
    /// The working day in local hours, `START-END`: logons outside it (and on weekends) are
    /// off-hours logons.
    #[arg(long, default_value = "7-20")]
    working_hours: String,
}

pub fn list(data_dir: &Path, args: &WatchlistArgs, json: bool) -> anyhow::Result<ExitCode> {
    let (as_of, rules, _) = args.rules.resolve()?;
    let mut session = Session::open(data_dir)?;
    let versions: Vec<_> = session
        .store()
        .person_histories()?
        .into_values()
        .flatten()
        .collect();
    let list = watchlist::watch_list(&versions, as_of, rules);
    session.record(
        "watchlist.list",
        &format!("as of {as_of}: {} persons", list.len()),
    )?;
    if json {
        let value = json!({
            "as_of": as_of,
            "before_termination_days": rules.before_termination_days,
            "grace_days": rules.grace_days,
            "persons": list,
        });
        println!("{value}");
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        println!("nobody is on the watch list on {as_of}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("PERSON\tNAME\tSINCE\tWHY\tLAST DAY\tUNTIL\tDAYS LEFT");
    for entry in &list {
        let text = |d: Option<Date>| d.map_or_else(|| "-".to_string(), |d| d.to_string());
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            entry.person_id,
            entry.name,
            entry.since,
            entry.reason.as_str(),
            text(entry.termination_date),
            text(entry.until),
            entry
                .days_left
                .map_or_else(|| "-".to_string(), |d| d.to_string()),
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn report(data_dir: &Path, command: ReportCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        ReportCommand::Departing(args) => departing(data_dir, &args, json),
        ReportCommand::AccessReview(args) => crate::review::access_review(data_dir, &args, json),
    }
}

fn departing(data_dir: &Path, args: &DepartingArgs, json: bool) -> anyhow::Result<ExitCode> {
    let (as_of, rules, offset) = args.rules.resolve()?;
    if !(1..=MAX_DAYS).contains(&args.days) {
        return Err(BadInput(format!("--days {}: expected 1 to {MAX_DAYS}", args.days)).into());
    }
    let purpose = checked_purpose(data_dir, args)?;
    let working_hours = crate::rules::context_options("Z", &args.working_hours)?.working_hours;

    let mut session = Session::open(data_dir)?;
    let store = session.store();
    let versions = store.person_history(&args.person)?;
    if versions.is_empty() {
        return Err(BadInput(format!("no HR record for person {:?}", args.person)).into());
    }
    let entry = watchlist::watch_entry(&versions, as_of, rules).ok_or_else(|| {
        BadInput(format!(
            "{}: the HR record in force on {as_of} has neither a notice nor a termination date, so the person is not a leaver",
            args.person
        ))
    })?;
    if as_of < entry.since {
        return Err(BadInput(format!(
            "{} enters the watch list on {}: ask with --as-of {} or later",
            args.person, entry.since, entry.since
        ))
        .into());
    }
    // Nothing is known of the person before the store's first event or their hire date.
    let mut windows = Windows::new(&entry, as_of, args.days);
    if let Some(first_us) = store.first_event_time_us()? {
        let first = jiff::Timestamp::from_microsecond(first_us)
            .map(|t| offset.to_datetime(t).date())
            .map_err(|e| StoreError::Corrupt(format!("first event time {first_us}: {e}")))?;
        windows = windows.with_history_from(first);
    }
    if let Some(hired) = entry.hire_date {
        windows = windows.with_history_from(hired);
    }
    let mut accounts = entry.accounts.clone();
    accounts.extend(store.accounts_of(&args.person)?);
    accounts.sort();
    accounts.dedup();
    let options = LookbackOptions {
        utc_offset: offset,
        working_hours,
        organisation_domains: watchlist::organisation_domains(&store.people()?),
    };
    let from_us = local_midnight_us(offset, windows.baseline_from)?;
    let to_us = local_midnight_us(offset, windows.until)?;

    // The CSV is written while the events stream by, to an unnamed file: it becomes visible
    // (stdout or `--out`) only after the access is recorded.
    let mut csv = match args.format {
        Format::Csv => {
            let mut file = std::io::BufWriter::new(tempfile::tempfile().context("temporary file")?);
            writeln!(file, "{CSV_HEADER}")?;
            Some(file)
        }
        _ => None,
    };
    let lookback = read_lookback(
        store,
        &accounts,
        (from_us, to_us),
        LookbackBuilder::new(windows, options).with_last_day(entry.termination_date),
        csv.as_mut(),
    )?;

    let target = format!(
        "person {} {}..{} as of {as_of}, {} {}, purpose {}: {}",
        args.person,
        windows.lookback_from,
        windows.entry,
        args.format.as_str(),
        if args.out.is_some() { "file" } else { "stdout" },
        purpose.id,
        args.justification.trim()
    );
    // Recorded before anything is shown or written: every disclosure is logged.
    session.record("report.departing", &target)?;

    let context = ReportContext {
        entry: &entry,
        accounts: &accounts,
        lookback: &lookback,
        as_of,
        days: args.days,
        rules,
        utc_offset: &args.rules.utc_offset,
        working_hours,
        purpose: &purpose,
        justification: args.justification.trim(),
        actor: session.actor(),
    };
    let bytes = match (args.format, csv) {
        (Format::Csv, Some(csv)) => {
            let mut file = csv.into_inner().map_err(|e| e.into_error())?;
            file.rewind()?;
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut file, &mut bytes)?;
            bytes
        }
        (Format::Json, _) => {
            let mut text = serde_json::to_string_pretty(&report_json(&context))?;
            text.push('\n');
            text.into_bytes()
        }
        _ => markdown(&context, text_lang(args.lang)).into_bytes(),
    };
    match &args.out {
        None => std::io::stdout().write_all(&bytes)?,
        Some(out) => {
            crate::evidence::write_private(out, &bytes)?;
            let events =
                lookback.baseline.events + lookback.lookback.events + lookback.since_entry.events;
            if json {
                let summary = json!({
                    "out": out,
                    "format": args.format.as_str(),
                    "person": entry.person_id,
                    "since": entry.since,
                    "events": events,
                    "unreadable": lookback.unreadable,
                    "bytes": bytes.len(),
                });
                println!("{summary}");
            } else {
                println!(
                    "wrote {}: look-back report on {} ({events} events)",
                    out.display(),
                    entry.person_id
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The declared purpose the report names, and a justification long enough to be a reason:
/// the same rule as for reveals (docs/api.md).
fn checked_purpose(
    data_dir: &Path,
    args: &DepartingArgs,
) -> anyhow::Result<mamori_privacy::Purpose> {
    let privacy = Privacy::of(data_dir, args.privacy.as_deref())
        .map_err(crate::privacy_error)?
        .ok_or_else(|| {
            BadInput(format!(
                "no purposes declared: {} has no privacy.toml (docs/privacy.md); a look-back report must name one",
                data_dir.display()
            ))
        })?;
    let purpose = privacy
        .purposes
        .iter()
        .find(|p| p.id == args.purpose)
        .cloned()
        .ok_or_else(|| {
            let ids: Vec<&str> = privacy.purposes.iter().map(|p| p.id.as_str()).collect();
            BadInput(format!(
                "--purpose {:?} is not declared in privacy.toml (declared: {})",
                args.purpose,
                ids.join(", ")
            ))
        })?;
    if args.justification.trim().chars().count() < MIN_JUSTIFICATION_CHARS {
        return Err(BadInput(format!(
            "--justification: a written reason of at least {MIN_JUSTIFICATION_CHARS} characters is needed"
        ))
        .into());
    }
    Ok(purpose)
}

/// Midnight of a local day, in microseconds since 1970 UTC.
fn local_midnight_us(offset: Offset, day: Date) -> anyhow::Result<i64> {
    Ok(offset
        .to_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
        .with_context(|| format!("{day}: outside the supported times"))?
        .as_microsecond())
}

fn text_lang(lang: Lang) -> TextLang {
    match lang {
        Lang::En => TextLang::En,
        Lang::Ja => TextLang::Ja,
    }
}

const CSV_HEADER: &str = "leaf_index,time,day,period,category,kind,outcome,account,host,file,destinations,external_recipients,labels,content_findings,size";

/// Streams the person's events into the look-back (and the CSV rows, if asked).
fn read_lookback(
    store: &EventStore,
    accounts: &[String],
    (from_us, to_us): (i64, i64),
    mut builder: LookbackBuilder,
    mut csv: Option<&mut std::io::BufWriter<std::fs::File>>,
) -> anyhow::Result<Lookback> {
    let options = builder.options().clone();
    let io = |source: std::io::Error| StoreError::Io {
        path: PathBuf::from("(report)"),
        source,
    };
    store.for_each_event_of_accounts::<StoreError>(accounts, from_us, to_us, |leaf, json| {
        let Some(event) = json.and_then(|j| Event::from_json(j).ok()) else {
            builder.add_unreadable();
            if let Some(csv) = csv.as_mut() {
                writeln!(csv, "{leaf},,,,unreadable,,,,,,,,,,").map_err(io)?;
            }
            return Ok(());
        };
        let Some(placed) = builder.add(&event) else {
            // Inside the UTC range but outside the local days (an offset's edge).
            return Ok(());
        };
        if let Some(csv) = csv.as_mut() {
            csv_row(csv, leaf, &event, placed, &options).map_err(io)?;
        }
        Ok(())
    })?;
    Ok(builder.finish())
}

fn csv_row(
    out: &mut impl Write,
    leaf: u64,
    event: &Event,
    placed: watchlist::Placed,
    options: &LookbackOptions,
) -> std::io::Result<()> {
    let labels = event
        .object
        .as_ref()
        .map(|o| o.labels.join(";"))
        .unwrap_or_default();
    let findings = match event.raw.get("content_findings") {
        Some(serde_json::Value::Object(map)) => map
            .iter()
            .map(|(kind, f)| {
                let count = f
                    .get("count")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(1);
                format!("{kind}:{count}")
            })
            .collect::<Vec<_>>()
            .join(";"),
        _ => String::new(),
    };
    let external = if event.kind == mamori_event::Kind::EmailSend {
        watchlist::external_recipients(event, options).to_string()
    } else {
        String::new()
    };
    let fields = [
        leaf.to_string(),
        event.time.to_string(),
        placed.day.to_string(),
        placed.period.as_str().to_string(),
        placed
            .category
            .map_or("other", Category::as_str)
            .to_string(),
        event.kind.as_str().to_string(),
        event.outcome.as_str().to_string(),
        event.actor.user.clone(),
        event.actor.host.clone().unwrap_or_default(),
        watchlist::file_of(event).unwrap_or_default().to_string(),
        watchlist::destinations_of(event).join(";"),
        external,
        labels,
        findings,
        event
            .object
            .as_ref()
            .and_then(|o| o.size)
            .map(|s| s.to_string())
            .unwrap_or_default(),
    ];
    let line: Vec<std::borrow::Cow<'_, str>> = fields.iter().map(|f| csv_field(f)).collect();
    writeln!(out, "{}", line.join(","))
}

/// A CSV field, quoted when it holds a separator, a quote or a line break (RFC 4180); a
/// leading `=`, `+`, `-` or `@` is prefixed with `'` so that a spreadsheet shows a file name
/// such as `=cmd|…` as text instead of running it.
pub(crate) fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    let guarded = if text.starts_with(['=', '+', '-', '@']) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\"")).into()
    } else {
        guarded
    }
}

/// What the renderers need besides the look-back.
struct ReportContext<'a> {
    entry: &'a WatchEntry,
    accounts: &'a [String],
    lookback: &'a Lookback,
    as_of: Date,
    days: i64,
    rules: WatchRules,
    utc_offset: &'a str,
    working_hours: (i8, i8),
    purpose: &'a mamori_privacy::Purpose,
    justification: &'a str,
    actor: &'a str,
}

fn report_json(c: &ReportContext<'_>) -> serde_json::Value {
    let summary = |lang| watchlist::summary_sentences(c.entry, c.lookback, lang);
    let weeks = |p: &PeriodSummary| -> Vec<serde_json::Value> {
        p.per_week()
            .into_iter()
            .map(|(week, counts)| json!({"week_from": week, "counts": counts}))
            .collect()
    };
    json!({
        "report": "departing",
        "version": 1,
        "generated_at": jiff::Timestamp::now().to_string(),
        "generated_by": c.actor,
        "as_of": c.as_of,
        "purpose": {"id": c.purpose.id, "en": c.purpose.text.en, "ja": c.purpose.text.ja},
        "justification": c.justification,
        "person": {
            "id": c.entry.person_id,
            "name": c.entry.name,
            "department": c.entry.department,
            "accounts": c.accounts,
        },
        "entry": c.entry,
        "options": {
            "days": c.days,
            "before_termination_days": c.rules.before_termination_days,
            "grace_days": c.rules.grace_days,
            "utc_offset": c.utc_offset,
            "working_hours": [c.working_hours.0, c.working_hours.1],
        },
        "windows": c.lookback.windows,
        "summary": {"en": summary(TextLang::En), "ja": summary(TextLang::Ja)},
        "changes": c.lookback.changes(),
        "periods": {
            "baseline": c.lookback.baseline,
            "lookback": c.lookback.lookback,
            "since_entry": c.lookback.since_entry,
        },
        "weeks": {
            "lookback": weeks(&c.lookback.lookback),
            "since_entry": weeks(&c.lookback.since_entry),
        },
        "new_destinations": c.lookback.new_destinations,
        "after_last_day": c.lookback.after_last_day,
        "unreadable": c.lookback.unreadable,
    })
}

/// The report's fixed words in both languages.
struct Words {
    title: &'static str,
    person: &'static str,
    accounts: &'static str,
    on_list_since: &'static str,
    why: [&'static str; 2],
    last_day: &'static str,
    leaves_list: &'static str,
    days_left: &'static str,
    ended_days_ago: &'static str,
    used_after_last_day: &'static str,
    events_on_days: &'static str,
    no_history: &'static str,
    host: &'static str,
    as_of: &'static str,
    baseline: &'static str,
    lookback: &'static str,
    since_entry: &'static str,
    days: &'static str,
    purpose: &'static str,
    prepared_by: &'static str,
    summary: &'static str,
    by_category: &'static str,
    category: &'static str,
    change: &'static str,
    new: &'static str,
    details: &'static str,
    detail_names: [&'static str; 10],
    weeks: &'static str,
    week_from: &'static str,
    entry_marker: &'static str,
    top: &'static str,
    file: &'static str,
    destination: &'static str,
    labels: &'static str,
    label: &'static str,
    finding: &'static str,
    new_destinations: &'static str,
    events: &'static str,
    about: &'static str,
    about_text: &'static str,
    none: &'static str,
}

const EN: Words = Words {
    title: "Departing-employee look-back report: ",
    person: "Person",
    accounts: "Accounts",
    on_list_since: "On the watch list since",
    why: ["notice date", "days before the last day (no notice date)"],
    last_day: "Last day",
    leaves_list: "On the list until",
    days_left: "days left",
    ended_days_ago: "ended {n} days ago",
    used_after_last_day: "Used after the last day",
    events_on_days: "{events} on {days}, {first} – {last} ({hosts})",
    no_history: "no data before the look-back",
    host: "Host",
    as_of: "As of",
    baseline: "Baseline",
    lookback: "Look-back",
    since_entry: "Since entry",
    days: "days",
    purpose: "Purpose",
    prepared_by: "Prepared by",
    summary: "Summary",
    by_category: "Activity by category",
    category: "Category",
    change: "Look-back vs baseline, per day",
    new: "new",
    details: "Details",
    detail_names: [
        "Files copied to removable media",
        "Files copied to network shares",
        "Removable devices connected",
        "Mails to outside addresses",
        "Outside recipients",
        "Mail attachments",
        "Cloud uploads",
        "Pages printed",
        "Events with labelled files",
        "Events with content findings",
    ],
    weeks: "Week by week",
    week_from: "Week from",
    entry_marker: " (entry)",
    top: "Top files and destinations",
    file: "File or document",
    destination: "Destination",
    labels: "Labels and content findings",
    label: "Label",
    finding: "Content finding",
    new_destinations: "Destinations not seen in the baseline",
    events: "Events",
    about: "About this report",
    about_text: "This report is personal data. It was recorded in the access log with its purpose and justification before it was produced; keep it only as long as the purpose needs it. Counts are events as the sources recorded them, sorted into categories as docs/watchlist.md describes; a count that stands out is a reason to look, not a finding of wrongdoing. Talk to the person and HR before drawing conclusions.",
    none: "none",
};

const JA: Words = Words {
    title: "退職予定者ルックバックレポート：",
    person: "対象者",
    accounts: "アカウント",
    on_list_since: "ウォッチリスト掲載日",
    why: ["退職の申出日", "最終日前の日数（申出日なし）"],
    last_day: "最終日",
    leaves_list: "掲載終了日",
    days_left: "日後に終了",
    ended_days_ago: "{n} 日前に終了",
    used_after_last_day: "最終日後の使用",
    events_on_days: "{days} 日間に {events} 件（{first} – {last}、{hosts}）",
    no_history: "ルックバック以前の記録なし",
    host: "端末",
    as_of: "基準日",
    baseline: "平常時",
    lookback: "ルックバック",
    since_entry: "掲載後",
    days: "日間",
    purpose: "利用目的",
    prepared_by: "作成者",
    summary: "概要",
    by_category: "カテゴリ別の件数",
    category: "カテゴリ",
    change: "平常時との比較（1 日あたり）",
    new: "新規",
    details: "内訳",
    detail_names: [
        "USB 等へのファイルコピー",
        "共有フォルダへのファイルコピー",
        "リムーバブルデバイスの接続",
        "社外宛てメール",
        "社外の宛先",
        "メールの添付ファイル",
        "クラウドへのアップロード",
        "印刷ページ数",
        "ラベル付きファイルのイベント",
        "内容検査で検出のあったイベント",
    ],
    weeks: "週ごとの推移",
    week_from: "週の開始日",
    entry_marker: "（掲載）",
    top: "上位のファイルと送信・保存先",
    file: "ファイル・文書",
    destination: "送信・保存先",
    labels: "ラベルと内容検査",
    label: "ラベル",
    finding: "検出の種類",
    new_destinations: "平常時になかった送信・保存先",
    events: "件数",
    about: "このレポートについて",
    about_text: "このレポートは個人情報です。作成前に、利用目的と理由とともにアクセスログに記録されています。目的に必要な期間だけ保管してください。件数は各ソースが記録したイベントを docs/watchlist.md のとおりカテゴリに分けたものです。目立つ件数は確認のきっかけであり、不正の認定ではありません。結論を出す前に本人および人事部門と話してください。",
    none: "なし",
};

/// A Markdown table cell: no line breaks, `|` escaped.
fn cell(text: &str) -> String {
    text.replace(['\n', '\r'], " ").replace('|', "\\|")
}

fn markdown(c: &ReportContext<'_>, lang: TextLang) -> String {
    let w = match lang {
        TextLang::En => &EN,
        TextLang::Ja => &JA,
    };
    let l = c.lookback;
    let e = c.entry;
    let mut md = String::new();
    let mut line = |text: String| {
        md.push_str(&text);
        md.push('\n');
    };
    line(format!("# {}{}", w.title, cell(&e.person_id)));
    line(String::new());
    line("| | |".into());
    line("|---|---|".into());
    let department = e
        .department
        .as_deref()
        .map(|d| format!(" ({})", cell(d)))
        .unwrap_or_default();
    line(format!(
        "| {} | {} {}{department} |",
        w.person,
        cell(&e.person_id),
        cell(&e.name)
    ));
    line(format!(
        "| {} | {} |",
        w.accounts,
        cell(&c.accounts.join(", "))
    ));
    let why = match e.reason {
        watchlist::EntryReason::Notice => w.why[0].to_string(),
        watchlist::EntryReason::BeforeTermination => {
            format!("{} {}", c.rules.before_termination_days, w.why[1])
        }
    };
    line(format!("| {} | {} ({why}) |", w.on_list_since, e.since));
    if let Some(last) = e.termination_date {
        line(format!("| {} | {last} |", w.last_day));
    }
    if let Some(after) = &l.after_last_day {
        let hosts: Vec<&str> = after.hosts.iter().map(|(h, _)| h.as_str()).collect();
        // English counts with their noun; the Japanese template has its own counters.
        let counted = |n: u64, one: &str, many: &str| match lang {
            TextLang::En => watchlist::count_en(n, one, many),
            TextLang::Ja => n.to_string(),
        };
        let what = w
            .events_on_days
            .replace("{events}", &counted(after.events, "event", "events"))
            .replace("{days}", &counted(after.days, "day", "days"))
            .replace(
                "{first}",
                &after.first.strftime("%Y-%m-%d %H:%M UTC").to_string(),
            )
            .replace(
                "{last}",
                &after.last.strftime("%Y-%m-%d %H:%M UTC").to_string(),
            )
            .replace("{hosts}", &hosts.join(", "));
        line(format!(
            "| {} | {} **!** |",
            w.used_after_last_day,
            cell(&what)
        ));
    }
    if let (Some(until), Some(left)) = (e.until, e.days_left) {
        let left = if left >= 0 {
            format!("{left} {}", w.days_left)
        } else {
            w.ended_days_ago.replace("{n}", &(-left).to_string())
        };
        line(format!("| {} | {until} ({left}) |", w.leaves_list));
    }
    line(format!("| {} | {} |", w.as_of, c.as_of));
    for period in [Period::Baseline, Period::Lookback, Period::SinceEntry] {
        let p = l.period(period);
        let range = if p.days > 0 {
            format!("{} – {}", p.from, watchlist::shift(p.until, -1))
        } else {
            w.no_history.to_string()
        };
        line(format!(
            "| {} | {range} ({} {}) |",
            period_name(w, period),
            p.days,
            w.days
        ));
    }
    let purpose_text = match lang {
        TextLang::En => &c.purpose.text.en,
        TextLang::Ja => &c.purpose.text.ja,
    };
    line(format!(
        "| {} | {} ({}): {} |",
        w.purpose,
        cell(purpose_text),
        cell(&c.purpose.id),
        cell(c.justification)
    ));
    line(format!(
        "| {} | {} ({}) |",
        w.prepared_by,
        cell(c.actor),
        jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC")
    ));
    line(String::new());

    line(format!("## {}", w.summary));
    line(String::new());
    let sentences = watchlist::summary_sentences(e, l, lang);
    line(match lang {
        TextLang::En => sentences.join(" "),
        TextLang::Ja => sentences.join(""),
    });
    line(String::new());

    line(format!("## {}", w.by_category));
    line(String::new());
    line(format!(
        "| {} | {} ({} {}) | {} ({} {}) | {} | {} ({} {}) |",
        w.category,
        w.baseline,
        l.baseline.days,
        w.days,
        w.lookback,
        l.lookback.days,
        w.days,
        w.change,
        w.since_entry,
        l.since_entry.days,
        w.days
    ));
    line("|---|---:|---:|---:|---:|".into());
    for change in l.changes() {
        let factor = match (change.factor, change.lookback) {
            (_, 0) => "–".to_string(),
            (None, _) if l.baseline.events == 0 => "–".to_string(),
            (Some(f), _) => format!("×{f:.1}"),
            (None, _) => w.new.to_string(),
        };
        let mark = |stands_out: bool| if stands_out { " **!**" } else { "" };
        line(format!(
            "| {} | {} | {}{} | {factor} | {}{} |",
            change.category.label(lang),
            change.baseline,
            change.lookback,
            mark(change.lookback_stands_out),
            change.since_entry,
            mark(change.since_entry_stands_out),
        ));
    }
    line(String::new());

    line(format!("## {}", w.details));
    line(String::new());
    line(format!(
        "| | {} | {} | {} |",
        w.baseline, w.lookback, w.since_entry
    ));
    line("|---|---:|---:|---:|".into());
    let detail = |p: &PeriodSummary| {
        let d = &p.details;
        [
            d.removable_copies,
            d.share_copies,
            d.device_connects,
            d.external_mails,
            d.external_recipients,
            d.mail_attachments,
            d.cloud_uploads,
            d.print_pages,
            d.labelled_events,
            d.events_with_findings,
        ]
    };
    let (b, lb, s) = (
        detail(&l.baseline),
        detail(&l.lookback),
        detail(&l.since_entry),
    );
    for (i, name) in w.detail_names.iter().enumerate() {
        line(format!("| {name} | {} | {} | {} |", b[i], lb[i], s[i]));
    }
    line(String::new());

    line(format!("## {}", w.weeks));
    line(String::new());
    let header: Vec<&str> = CATEGORIES.iter().map(|c| c.label(lang)).collect();
    line(format!("| {} | {} |", w.week_from, header.join(" | ")));
    line(format!("|---|{}", "---:|".repeat(CATEGORIES.len())));
    let mut weeks: BTreeMap<Date, watchlist::CategoryCounts> = BTreeMap::new();
    for period in [&l.lookback, &l.since_entry] {
        for (week, counts) in period.per_week() {
            let slot = weeks.entry(week).or_default();
            for (i, n) in counts.0.iter().enumerate() {
                slot.0[i] += n;
            }
        }
    }
    let entry_week = watchlist::shift(
        e.since,
        -i64::from(e.since.weekday().to_monday_zero_offset()),
    );
    if weeks.is_empty() {
        line(format!("| {} |{}", w.none, " |".repeat(CATEGORIES.len())));
    }
    for (week, counts) in &weeks {
        let marker = if *week == entry_week {
            w.entry_marker
        } else {
            ""
        };
        let values: Vec<String> = counts.0.iter().map(u64::to_string).collect();
        line(format!("| {week}{marker} | {} |", values.join(" | ")));
    }
    line(String::new());

    line(format!("## {}", w.top));
    line(String::new());
    let mut any_top = false;
    for category in CATEGORIES {
        let lists = [
            l.lookback.top.get(&category),
            l.since_entry.top.get(&category),
        ];
        if lists.iter().all(Option::is_none) {
            continue;
        }
        any_top = true;
        line(format!("### {}", category.label(lang)));
        line(String::new());
        // Off-hours logons name the host logged on to, not a destination.
        let where_to = if category == Category::OffHoursLogons {
            w.host
        } else {
            w.destination
        };
        for (heading, pick) in [(w.file, 0usize), (where_to, 1usize)] {
            let mut merged: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
            for (slot, top) in lists.iter().enumerate() {
                let Some(top) = top else { continue };
                let items = if pick == 0 {
                    &top.files
                } else {
                    &top.destinations
                };
                for (name, n) in items {
                    let counts = merged.entry(name.as_str()).or_default();
                    if slot == 0 {
                        counts.0 += n;
                    } else {
                        counts.1 += n;
                    }
                }
            }
            if merged.is_empty() {
                continue;
            }
            let mut rows: Vec<(&str, (u64, u64))> = merged.into_iter().collect();
            rows.sort_by(|a, b| (b.1.0 + b.1.1).cmp(&(a.1.0 + a.1.1)).then(a.0.cmp(b.0)));
            rows.truncate(watchlist::TOP_ITEMS);
            line(format!(
                "| {heading} | {} | {} |",
                w.lookback, w.since_entry
            ));
            line("|---|---:|---:|".into());
            for (name, (lookback, since)) in rows {
                line(format!("| {} | {lookback} | {since} |", cell(name)));
            }
            line(String::new());
        }
    }
    if !any_top {
        line(w.none.to_string());
        line(String::new());
    }

    line(format!("## {}", w.labels));
    line(String::new());
    let mut labels: BTreeMap<&str, [u64; 3]> = BTreeMap::new();
    let mut findings: BTreeMap<&str, [u64; 3]> = BTreeMap::new();
    for (i, p) in [&l.baseline, &l.lookback, &l.since_entry]
        .into_iter()
        .enumerate()
    {
        for (label, counts) in &p.labels {
            labels.entry(label.as_str()).or_default()[i] += counts.total();
        }
        for (kind, n) in &p.findings {
            findings.entry(kind.as_str()).or_default()[i] += n;
        }
    }
    if labels.is_empty() && findings.is_empty() {
        line(w.none.to_string());
        line(String::new());
    }
    for (heading, rows) in [(w.label, &labels), (w.finding, &findings)] {
        if rows.is_empty() {
            continue;
        }
        line(format!(
            "| {heading} | {} | {} | {} |",
            w.baseline, w.lookback, w.since_entry
        ));
        line("|---|---:|---:|---:|".into());
        for (name, [b, lb, s]) in rows {
            line(format!("| {} | {b} | {lb} | {s} |", cell(name)));
        }
        line(String::new());
    }

    line(format!("## {}", w.new_destinations));
    line(String::new());
    if l.new_destinations.is_empty() {
        line(w.none.to_string());
    } else {
        line(format!("| {} | {} |", w.destination, w.events));
        line("|---|---:|".into());
        for (name, n) in &l.new_destinations {
            line(format!("| {} | {n} |", cell(name)));
        }
    }
    line(String::new());

    line(format!("## {}", w.about));
    line(String::new());
    line(w.about_text.to_string());
    md
}

fn period_name(w: &Words, period: Period) -> &'static str {
    match period {
        Period::Baseline => w.baseline,
        Period::Lookback => w.lookback,
        Period::SinceEntry => w.since_entry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-1,2"), "\"'-1,2\"");
    }

    #[test]
    fn table_cells_keep_to_one_row() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
