//! `mamori rules …`: load, check and run Sigma rules (see docs/rules.md).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mamori_detect::context::{ContextOptions, Enricher};
use mamori_detect::hunt::{Detector, hit_lists};
use mamori_detect::sigma::regression::{self, Case};
use mamori_detect::sigma::{Engine, EngineBuilder, LoadError};
use mamori_detect::windows::WindowsRecord;
use mamori_event::Event;
use mamori_ingest::{EvtxSource, Source};
use serde_json::{Map, Value};

use crate::BadInput;

#[derive(clap::Args)]
pub struct RulesArgs {
    /// Values of `%name%` placeholders in `|expand` rule values: a YAML map of names to a
    /// value or a list of values. Without it, rules that use placeholders are not loaded.
    #[arg(long, global = true)]
    placeholders: Option<PathBuf>,
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(clap::Subcommand)]
pub enum RulesCommand {
    /// Load rules and report every document that cannot be used, as FILE:LINE: reason.
    Lint {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run each rule's test cases: for RULE.yml, the cases in tests/RULE.yml (events that must
    /// or must not make the rule fire; see docs/rules.md).
    Test {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run rules over stored history and report their hits (counts, persons, first and last)
    /// without storing anything.
    Backtest {
        #[command(flatten)]
        run: RunArgs,
    },
    /// Run rules over stored history and store their findings (a finding already stored is
    /// not stored again).
    Run {
        #[command(flatten)]
        run: RunArgs,
    },
    /// Run a SigmaHQ-style regression suite: each info.yml names a rule and an EVTX file the
    /// rule must fire on (exactly match_count times where given).
    Conformance {
        /// Rule files or directories.
        #[arg(long = "rules", required = true)]
        rules: Vec<PathBuf>,
        /// The regression_data directory.
        #[arg(long)]
        regression: PathBuf,
    },
}

/// Which rules over which part of the history, and how the organisation keeps time.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Rule files or directories.
    #[arg(required = true)]
    rules: Vec<PathBuf>,
    #[command(flatten)]
    history: HistoryArgs,
}

/// Which part of the stored history, and how the organisation keeps time (context).
#[derive(clap::Args)]
pub struct HistoryArgs {
    /// Only events at or after this time (RFC 3339, or a date: its start in UTC).
    #[arg(long)]
    since: Option<String>,
    /// Only events before this time.
    #[arg(long)]
    until: Option<String>,
    /// The organisation's local time: after hours and local days (`+09:00`).
    #[arg(long, default_value = "Z")]
    utc_offset: String,
    /// The working day in local hours, `START-END` (after-hours context).
    #[arg(long, default_value = "7-20")]
    working_hours: String,
}

impl HistoryArgs {
    /// `[since, until)` in microseconds, and the context options.
    pub(crate) fn resolve(&self) -> anyhow::Result<((i64, i64), ContextOptions)> {
        let range = time_range(self.since.as_deref(), self.until.as_deref())?;
        Ok((
            range,
            context_options(&self.utc_offset, &self.working_hours)?,
        ))
    }
}

pub fn run(data_dir: &Path, args: RulesArgs, json: bool) -> anyhow::Result<ExitCode> {
    let placeholders = match &args.placeholders {
        Some(file) => read_placeholders(file)?,
        None => HashMap::new(),
    };
    let p = &placeholders;
    match args.command {
        RulesCommand::Lint { paths } => lint(&paths, p, json),
        RulesCommand::Test { paths } => test(&paths, p, json),
        RulesCommand::Backtest { run } => history(data_dir, &run, p, false, json),
        RulesCommand::Run { run } => history(data_dir, &run, p, true, json),
        RulesCommand::Conformance { rules, regression } => {
            conformance(&rules, &regression, p, json)
        }
    }
}

/// Placeholder names and their values (`--placeholders`).
pub(crate) type Placeholders = HashMap<String, Vec<String>>;

/// A placeholder file: `name: value` or `name: [values]`.
fn read_placeholders(file: &Path) -> anyhow::Result<Placeholders> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| BadInput(format!("{name}: {e}")))?;
    let documents =
        mamori_detect::sigma::yaml_documents(&name, &text).map_err(|e| BadInput(e.to_string()))?;
    let Some(Value::Object(map)) = documents.into_iter().next() else {
        return Err(BadInput(format!(
            "{name}: expected a map of placeholder names to values"
        ))
        .into());
    };
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let mut out = HashMap::new();
    for (key, value) in map {
        let values = match &value {
            Value::Array(items) => items.iter().map(scalar).collect::<Option<Vec<_>>>(),
            other => scalar(other).map(|v| vec![v]),
        }
        .ok_or_else(|| BadInput(format!("{name}: {key}: values must be text or numbers")))?;
        out.insert(key, values);
    }
    Ok(out)
}

/// Loads every rule under `paths` (leaving out `tests/` folders, which hold rule tests).
pub fn load(
    paths: &[PathBuf],
    placeholders: &Placeholders,
) -> anyhow::Result<(Engine, Vec<LoadError>)> {
    let mut builder = EngineBuilder::new().placeholders(placeholders.clone());
    for path in paths {
        if !path.exists() {
            return Err(BadInput(format!("{}: no such file or directory", path.display())).into());
        }
        let files = mamori_detect::sigma::rule_files(path)
            .map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
        for file in files {
            builder
                .add_path(&file)
                .map_err(|e| BadInput(format!("{}: {e}", file.display())))?;
        }
    }
    let errors = builder.errors().to_vec();
    Ok((builder.build(), errors))
}

fn lint(paths: &[PathBuf], placeholders: &Placeholders, json: bool) -> anyhow::Result<ExitCode> {
    let (engine, errors) = load(paths, placeholders)?;
    if json {
        let errors: Vec<_> = errors
            .iter()
            .map(|e| serde_json::json!({"file": e.file, "line": e.line, "reason": e.reason}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"rules": engine.rule_count(), "errors": errors})
        );
    } else {
        for error in &errors {
            println!("{error}");
        }
        println!(
            "{} rules loaded, {} documents not loaded",
            engine.rule_count(),
            errors.len()
        );
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn conformance(
    rules: &[PathBuf],
    regression: &Path,
    placeholders: &Placeholders,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (engine, load_errors) = load(rules, placeholders)?;
    let root = regression.parent().unwrap_or(Path::new("."));
    let mut infos = Vec::new();
    find_info_files(regression, &mut infos)
        .map_err(|e| BadInput(format!("{}: {e}", regression.display())))?;
    infos.sort();
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for index in 0..engine.rule_count() {
        if let Some(id) = engine.rule(index).and_then(|r| r.id.as_deref()) {
            by_id.entry(id).or_default().push(index);
        }
    }
    let mut cases: Vec<Case> = Vec::new();
    let mut bad_info = Vec::new();
    for info in &infos {
        let text = std::fs::read_to_string(info)?;
        match regression::read_info(info, &text, root) {
            Ok(found) => cases.extend(found),
            Err(e) => bad_info.push(e),
        }
    }
    let mut evaluator = engine.evaluator();
    let (mut passed, mut failed) = (0u64, 0u64);
    let mut results = Vec::new();
    for case in &cases {
        let wanted = by_id
            .get(case.rule_id.as_str())
            .cloned()
            .unwrap_or_default();
        let outcome = if wanted.is_empty() {
            Err("the rule is not loaded".to_string())
        } else {
            count_matches(&case.evtx, &mut evaluator, &wanted)
        };
        let pass = match (&outcome, case.match_count) {
            (Ok(hits), Some(expected)) => *hits == expected,
            (Ok(hits), None) => *hits > 0,
            (Err(_), _) => false,
        };
        if pass {
            passed += 1;
        } else {
            failed += 1;
        }
        let (hits, problem) = match &outcome {
            Ok(hits) => (Some(*hits), None),
            Err(reason) => (None, Some(reason.clone())),
        };
        if !json {
            println!(
                "{} {} {}: {} matches{}{}",
                if pass { "PASS" } else { "FAIL" },
                case.rule_id,
                case.evtx.strip_prefix(root).unwrap_or(&case.evtx).display(),
                hits.map_or("no".to_string(), |h| h.to_string()),
                case.match_count
                    .map(|c| format!(", expected {c}"))
                    .unwrap_or_default(),
                problem
                    .as_deref()
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default(),
            );
        }
        results.push(serde_json::json!({
            "rule_id": case.rule_id,
            "title": case.rule_title,
            "evtx": case.evtx,
            "expected": case.match_count,
            "matches": hits,
            "error": problem,
            "passed": pass,
        }));
    }
    for error in &bad_info {
        eprintln!("{error}");
    }
    let total = passed + failed;
    let summary = serde_json::json!({"passed": passed, "failed": failed, "total": total});
    if json {
        println!(
            "{}",
            serde_json::json!({
                "rules_loaded": engine.rule_count(),
                "rules_not_loaded": load_errors.len(),
                "cases": results,
                "summary": summary,
            })
        );
    } else {
        println!(
            "rules: {} loaded, {} not loaded (see `mamori rules lint`)",
            engine.rule_count(),
            load_errors.len()
        );
        println!("{summary}");
    }
    Ok(if failed == 0 && bad_info.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One test case of a rule file.
struct TestCase {
    name: String,
    expect_match: bool,
    events: Vec<(Event, Map<String, Value>)>,
}

fn read_cases(file: &Path) -> Result<Vec<TestCase>, String> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| format!("{name}: {e}"))?;
    let documents =
        mamori_detect::sigma::yaml_documents(&name, &text).map_err(|e| e.to_string())?;
    let cases = documents
        .first()
        .and_then(|d| d.get("cases"))
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{name}: no `cases` list"))?;
    let mut out = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let label = case
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("case {}", n + 1), str::to_string);
        let expect_match = match case.get("expect").and_then(Value::as_str) {
            Some("match") => true,
            Some("no_match") => false,
            _ => {
                return Err(format!(
                    "{name}: {label}: `expect` must be match or no_match"
                ));
            }
        };
        let events = case
            .get("events")
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| format!("{name}: {label}: no `events`"))?;
        let mut parsed = Vec::new();
        for (i, event) in events.iter().enumerate() {
            let mut event = event.clone();
            let context = match event.as_object_mut().and_then(|o| o.remove("context")) {
                Some(Value::Object(c)) => c,
                Some(_) => {
                    return Err(format!(
                        "{name}: {label}: event {}: `context` must be a map",
                        i + 1
                    ));
                }
                None => Map::new(),
            };
            let event = Event::from_value(event)
                .map_err(|e| format!("{name}: {label}: event {}: {e}", i + 1))?;
            parsed.push((event, context));
        }
        out.push(TestCase {
            name: label,
            expect_match,
            events: parsed,
        });
    }
    Ok(out)
}

fn test(paths: &[PathBuf], placeholders: &Placeholders, json: bool) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for path in paths {
        files.extend(
            mamori_detect::sigma::rule_files(path)
                .map_err(|e| BadInput(format!("{}: {e}", path.display())))?,
        );
    }
    files.sort();
    let (mut passed, mut failed) = (0u64, 0u64);
    let mut results = Vec::new();
    let mut report = |file: &Path, case: &str, ok: bool, detail: String| {
        if ok {
            passed += 1;
        } else {
            failed += 1;
        }
        if !json {
            println!(
                "{} {}: {case}{}",
                if ok { "PASS" } else { "FAIL" },
                file.display(),
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({detail})")
                }
            );
        }
        results
            .push(serde_json::json!({"rule": file, "case": case, "passed": ok, "detail": detail}));
    };
    for file in &files {
        let (engine, errors) = load(std::slice::from_ref(file), placeholders)?;
        if let Some(error) = errors.first() {
            report(file, "load", false, error.to_string());
            continue;
        }
        let tests = test_file_of(file);
        let cases = match read_cases(&tests) {
            Ok(cases) => cases,
            Err(reason) => {
                report(file, "tests", false, reason);
                continue;
            }
        };
        let (mut has_match, mut has_no_match) = (false, false);
        for case in &cases {
            let mut detector = Detector::new(&engine);
            let mut fired = false;
            for (n, (event, context)) in case.events.iter().enumerate() {
                detector.detect(n as u64, event, context);
                fired |= !detector.hits.is_empty()
                    || detector.matched.iter().any(|&i| !engine.rule_is_silent(i));
            }
            has_match |= case.expect_match;
            has_no_match |= !case.expect_match;
            let detail = match (case.expect_match, fired) {
                (true, false) => "expected a match, the rule did not fire".to_string(),
                (false, true) => "expected no match, the rule fired".to_string(),
                _ => String::new(),
            };
            report(file, &case.name, detail.is_empty(), detail);
        }
        if !(has_match && has_no_match) {
            report(
                file,
                "coverage",
                false,
                "needs a match and a no_match case".into(),
            );
        }
    }
    let summary = serde_json::json!({"passed": passed, "failed": failed, "total": passed + failed});
    if json {
        println!(
            "{}",
            serde_json::json!({"cases": results, "summary": summary})
        );
    } else {
        println!("{summary}");
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `DIR/x.yml` → `DIR/tests/x.yml`.
fn test_file_of(rule: &Path) -> PathBuf {
    let dir = rule.parent().unwrap_or(Path::new("."));
    dir.join("tests").join(rule.file_name().unwrap_or_default())
}

/// Rule files under `path`, leaving out `tests/` folders.
/// An RFC 3339 time, or a date (its start in UTC), in microseconds.
/// `[since, until)` in microseconds; an open end is unbounded.
pub(crate) fn time_range(since: Option<&str>, until: Option<&str>) -> anyhow::Result<(i64, i64)> {
    let from_us = since.map(parse_time).transpose()?.unwrap_or(i64::MIN);
    let to_us = until.map(parse_time).transpose()?.unwrap_or(i64::MAX);
    Ok((from_us, to_us))
}

fn parse_time(text: &str) -> anyhow::Result<i64> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t.as_microsecond());
    }
    let date: jiff::civil::Date = text
        .parse()
        .map_err(|_| BadInput(format!("{text:?}: expected an RFC 3339 time or a date")))?;
    let start = jiff::tz::Offset::UTC
        .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .map_err(|e| BadInput(format!("{text:?}: {e}")))?;
    Ok(start.as_microsecond())
}

/// Context options from `--utc-offset` and `--working-hours`.
pub(crate) fn context_options(
    utc_offset: &str,
    working_hours: &str,
) -> anyhow::Result<ContextOptions> {
    let (start, end) = working_hours
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse::<i8>().ok()?, b.trim().parse::<i8>().ok()?)))
        .filter(|(a, b)| (0..=24).contains(a) && (0..=24).contains(b) && a < b)
        .ok_or_else(|| {
            BadInput(format!(
                "--working-hours {:?}: expected START-END hours, e.g. 7-20",
                working_hours
            ))
        })?;
    Ok(ContextOptions {
        utc_offset: crate::parse_offset(utc_offset)?,
        working_hours: (start, end),
        ..ContextOptions::default()
    })
}

/// Reads the people and learns whose PC each host is from the logons in range.
pub(crate) fn enricher_for(
    data: &mamori_store::DataDir,
    options: ContextOptions,
    from_us: i64,
    to_us: i64,
) -> anyhow::Result<Enricher> {
    let mut enricher = Enricher::new(data.store().people()?, options);
    let pairs = data.store().host_logons(from_us, to_us)?;
    enricher.learn_host_owners(pairs.iter().map(|(h, a)| (h.as_str(), a.as_str())));
    Ok(enricher)
}

fn history(
    data_dir: &Path,
    run: &RunArgs,
    placeholders: &Placeholders,
    store_findings: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (engine, errors) = load(&run.rules, placeholders)?;
    for error in &errors {
        eprintln!("{error}");
    }
    let ((from_us, to_us), options) = run.history.resolve()?;
    let mut data = mamori_store::DataDir::open(data_dir)?;
    let mut enricher = enricher_for(&data, options, from_us, to_us)?;
    let started = std::time::Instant::now();
    let mut detector = Detector::new(&engine);
    let rules = engine.rule_count();
    let mut hits = hit_lists(&engine);
    // The console's settings: a rule or correlation switched off finds nothing, a severity
    // set replaces its own level in its findings (indexes as in `hits`).
    let settings = data.store().rule_settings()?;
    let off: Vec<bool> = hits
        .iter()
        .map(|h| settings.get(&h.rule_id).is_some_and(|s| !s.enabled))
        .collect();
    let levels: Vec<Option<String>> = hits
        .iter()
        .map(|h| {
            settings
                .get(&h.rule_id)
                .and_then(|s| s.severity)
                .map(|l| l.as_str().to_string())
                .or_else(|| h.level.clone())
        })
        .collect();
    let mut findings = Vec::new();
    let scan = crate::history::scan_events(&data, from_us, to_us, |scanned| {
        let (leaf, time_us, event) = (scanned.leaf, scanned.time_us, scanned.event);
        let context = enricher.context(&event);
        detector.detect(leaf, &event, &context);
        let person = context.get("person").and_then(Value::as_str);
        for &index in &detector.matched {
            if engine.rule_is_silent(index) || off[index] {
                continue;
            }
            hits[index].count(person.unwrap_or(event.account()), time_us, time_us);
            if store_findings && let Some(rule) = engine.rule(index) {
                findings.push(mamori_store::RuleFinding {
                    rule_id: hits[index].rule_id.clone(),
                    rule_title: rule.title.clone(),
                    rule_kind: "detection".into(),
                    level: levels[index].clone(),
                    author: rule.author.clone(),
                    account: event.account().to_string(),
                    person_id: person.map(str::to_string),
                    first_us: time_us,
                    last_us: time_us,
                    events: vec![leaf],
                });
            }
        }
        for hit in &detector.hits {
            // The group's account when the correlation groups by it, else this event's.
            let account = hit
                .group
                .iter()
                .find(|(name, _)| name == "actor.user")
                .map_or(event.account(), |(_, value)| value.as_str());
            let index = rules + hit.correlation;
            if off[index] {
                continue;
            }
            let entry = &mut hits[index];
            entry.count(account, hit.first_us, hit.last_us);
            if store_findings && let Some(info) = engine.correlation(hit.correlation) {
                findings.push(mamori_store::RuleFinding {
                    rule_id: entry.rule_id.clone(),
                    rule_title: info.title.clone(),
                    rule_kind: info.kind.clone(),
                    level: levels[index].clone(),
                    author: info.author.clone(),
                    account: account.to_string(),
                    person_id: person
                        .filter(|_| account == event.account())
                        .map(str::to_string),
                    first_us: hit.first_us,
                    last_us: hit.last_us,
                    events: hit.events.clone(),
                });
            }
        }
        Ok(())
    })?;
    let (events, unreadable) = (scan.events, scan.unreadable);
    let seconds = started.elapsed().as_secs_f64();
    let stored = if store_findings {
        Some(data.store_mut().add_rule_findings(&findings)?)
    } else {
        None
    };
    hits.retain(|h| h.hits > 0);
    hits.sort_by(|a, b| b.hits.cmp(&a.hits).then(a.rule_id.cmp(&b.rule_id)));
    let time = |us: Option<i64>| {
        us.and_then(|us| jiff::Timestamp::from_microsecond(us).ok())
            .map(|t| t.to_string())
    };
    if json {
        let rules: Vec<_> = hits
            .iter()
            .map(|h| {
                serde_json::json!({
                    "rule_id": h.rule_id, "title": h.title, "level": h.level, "hits": h.hits,
                    "persons": h.persons.len(), "first": time(h.first_us), "last": time(h.last_us),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "events": events, "unreadable": unreadable, "seconds": crate::bench::round(seconds),
                "rules": engine.rule_count(), "correlations": engine.correlation_count(),
                "rules_not_loaded": errors.len(), "findings_added": stored, "hits": rules,
            })
        );
    } else {
        for h in &hits {
            println!(
                "{:>8} hits {:>6} persons  {} .. {}  [{}] {} ({})",
                h.hits,
                h.persons.len(),
                time(h.first_us).unwrap_or_default(),
                time(h.last_us).unwrap_or_default(),
                h.level.as_deref().unwrap_or("-"),
                h.title,
                h.rule_id
            );
        }
        println!(
            "{events} events, {} rules and {} correlations, {} with hits, {:.1} s{}",
            engine.rule_count(),
            engine.correlation_count(),
            hits.len(),
            seconds,
            stored
                .map(|n| format!(", {n} new findings stored"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn find_info_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            find_info_files(&path, out)?;
        } else if path.file_name().is_some_and(|n| n == "info.yml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Events of `evtx` that any of the rules `wanted` matches.
fn count_matches(
    evtx: &Path,
    evaluator: &mut mamori_detect::sigma::Evaluator<'_>,
    wanted: &[usize],
) -> Result<u64, String> {
    let mut source = EvtxSource::open(evtx).map_err(|e| format!("{}: {e}", evtx.display()))?;
    let mut hits = 0;
    while let Some(record) = source.next_record() {
        match record {
            Ok(Ok(event)) => {
                let record = WindowsRecord::new(&event.raw);
                let matched = evaluator.evaluate(&record, &record.source());
                if matched.iter().any(|m| wanted.contains(m)) {
                    hits += 1;
                }
            }
            Ok(Err(rejected)) => return Err(format!("{}: {}", rejected.location, rejected.reason)),
            Err(e) => return Err(format!("{}: {e}", evtx.display())),
        }
    }
    Ok(hits)
}

/// `mamori bench rules`: see [`crate::bench::BenchCommand::Rules`].
pub fn bench(
    rules: &[PathBuf],
    evtx: &[PathBuf],
    ndjson: &[PathBuf],
    repeat: u32,
) -> anyhow::Result<serde_json::Value> {
    use crate::bench::round;
    use std::time::Instant;

    let started = Instant::now();
    let (engine, errors) = load(rules, &Placeholders::new())?;
    let load_seconds = started.elapsed().as_secs_f64();
    let mut files = Vec::new();
    for path in evtx {
        find_evtx(path, &mut files).map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
    }
    files.sort();
    files.extend(ndjson.iter().cloned());
    if files.is_empty() {
        return Err(BadInput("give --evtx or --ndjson input".into()).into());
    }
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    // Every event of the inputs: EVTX records as the importer makes them, NDJSON lines parsed.
    let read_all = |each: &mut dyn FnMut(&Event)| -> anyhow::Result<u64> {
        let mut events = 0;
        for file in &files {
            if ndjson.contains(file) {
                let text = std::fs::read(file)?;
                for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    if let Ok(event) = Event::from_json(line) {
                        each(&event);
                        events += 1;
                    }
                }
                continue;
            }
            let mut source = EvtxSource::open(file)?;
            while let Some(record) = source.next_record() {
                if let Ok(Ok(event)) = record {
                    each(&event);
                    events += 1;
                }
            }
        }
        Ok(events)
    };
    let no_context = Map::new();

    // Parsing alone.
    let started = Instant::now();
    let mut events = 0;
    for _ in 0..repeat {
        events += read_all(&mut |_| {})?;
    }
    let parse_seconds = started.elapsed().as_secs_f64();

    // Parsing and evaluation (both views, correlations).
    let mut detector = Detector::new(&engine);
    let mut matches = 0u64;
    let started = Instant::now();
    for _ in 0..repeat {
        read_all(&mut |event| {
            detector.detect(0, event, &no_context);
            matches += (detector.matched.len() + detector.hits.len()) as u64;
        })?;
    }
    let both_seconds = started.elapsed().as_secs_f64();

    // Evaluation alone, of events already in memory: one thread, then one per core (each
    // thread with its own correlator over its share).
    let mut parsed = Vec::new();
    read_all(&mut |event| parsed.push(event.clone()))?;
    let started = Instant::now();
    for _ in 0..repeat {
        for (n, event) in parsed.iter().enumerate() {
            detector.detect(n as u64, event, &no_context);
        }
    }
    let eval_seconds = started.elapsed().as_secs_f64();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for part in parsed.chunks(parsed.len().div_ceil(threads).max(1)) {
            let (engine, no_context) = (&engine, &no_context);
            scope.spawn(move || {
                let mut detector = Detector::new(engine);
                for _ in 0..repeat {
                    for (n, event) in part.iter().enumerate() {
                        detector.detect(n as u64, event, no_context);
                    }
                }
            });
        }
    });
    let parallel_seconds = started.elapsed().as_secs_f64();
    let per_second = |seconds: f64| round(events as f64 / seconds);
    Ok(serde_json::json!({
        "rules": engine.rule_count(),
        "correlations": engine.correlation_count(),
        "rules_not_loaded": errors.len(),
        "rules_load_seconds": round(load_seconds),
        "files": files.len(),
        "events": events,
        "input_megabytes": round(bytes as f64 * f64::from(repeat) / 1e6),
        "matches": matches,
        "parse_events_per_second": per_second(parse_seconds),
        "parse_and_evaluate_events_per_second": per_second(both_seconds),
        "evaluate_events_per_second": per_second(eval_seconds),
        "evaluate_threads": threads,
        "evaluate_all_cores_events_per_second": per_second(parallel_seconds),
    }))
}

fn find_evtx(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            find_evtx(&entry?.path(), out)?;
        }
    } else if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("evtx"))
    {
        out.push(path.to_path_buf());
    }
    Ok(())
}
