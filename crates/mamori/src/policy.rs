//! `mamori policy …`: prevention policies (docs/policy.md).
//!
//! - `check FILE…` validates policies and summarises them.
//! - `decide --policy FILE [INPUT]` answers NDJSON requests, one answer per line, on the same
//!   engine the server and the agent use; `--events FILE` appends the decision events.
//! - `compile --target usbguard|windows-device-control` writes the native device controls.
//! - `backtest --policy FILE` runs a policy over the stored history: what it would have
//!   allowed, warned about and blocked, by rule, before it is switched on.
//! - `install FILE` makes a policy the data directory's (what `mamori serve` hands agents).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use mamori_event::{Event, Level, PersonRecord};
use mamori_policy::{Action, Policy, Request, answer, decision_event, request_of_event};
use serde_json::{Value, json};

use crate::BadInput;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Validate policy files; print each one's name, revision, mode and rule count.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Decide NDJSON requests (one per line, docs/policy.md "Requests") from INPUT or stdin;
    /// one JSON answer per line on stdout.
    Decide {
        #[arg(long)]
        policy: PathBuf,
        /// Requests; `-` or absent: stdin.
        input: Option<PathBuf>,
        /// Append each recorded decision as a `policy.decision` event (NDJSON, importable
        /// with `mamori import ndjson`).
        #[arg(long)]
        events: Option<PathBuf>,
        /// Who decided, as the events record it.
        #[arg(long, default_value = "mamori-cli")]
        decider: String,
    },
    /// Compile the policy's device part to a platform's native device control
    /// (docs/device-control.md).
    Compile {
        #[arg(long)]
        policy: PathBuf,
        #[arg(long, value_enum)]
        target: Target,
        /// A file (usbguard) or a directory (windows-device-control: `Groups.xml` and
        /// `PolicyRules.xml`); default stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// What the policy would have decided about the stored history (counts per rule,
    /// action and channel; persons are counted, never named).
    Backtest {
        #[arg(long)]
        policy: PathBuf,
        /// First day (YYYY-MM-DD or RFC 3339; default: the beginning).
        #[arg(long)]
        since: Option<String>,
        /// Day after the last (default: the end).
        #[arg(long)]
        until: Option<String>,
    },
    /// Make FILE the data directory's policy (`policy/policy.toml`), which `mamori serve`
    /// loads and agents fetch. Its revision must be higher than the installed one's.
    Install { file: PathBuf },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Target {
    Usbguard,
    WindowsDeviceControl,
}

pub fn run(data_dir: &Path, command: PolicyCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Check { files } => check(&files, json),
        PolicyCommand::Decide {
            policy,
            input,
            events,
            decider,
        } => decide(
            &load(&policy)?,
            input.as_deref(),
            events.as_deref(),
            &decider,
        ),
        PolicyCommand::Compile {
            policy,
            target,
            out,
        } => compile(&load(&policy)?, target, out.as_deref()),
        PolicyCommand::Backtest {
            policy,
            since,
            until,
        } => backtest(
            data_dir,
            &load(&policy)?,
            since.as_deref(),
            until.as_deref(),
            json,
        ),
        PolicyCommand::Install { file } => install(data_dir, &file, json),
    }
}

/// The policy in `path`, or bad input naming the file.
pub fn load(path: &Path) -> anyhow::Result<Policy> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    Policy::from_toml(&text).map_err(|e| BadInput(format!("{}: {e}", path.display())).into())
}

fn summary(policy: &Policy) -> Value {
    let mut actions: BTreeMap<&str, usize> = BTreeMap::new();
    for rule in policy.rules() {
        *actions.entry(rule.action.as_str()).or_default() += 1;
    }
    json!({
        "name": policy.name,
        "revision": policy.revision,
        "mode": policy.mode.as_str(),
        "rules": policy.rules().len(),
        "actions": actions,
        "devices": policy.devices.len(),
        "removable_storage": policy.device_control.removable_storage.as_str(),
    })
}

fn check(files: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let mut bad = false;
    for file in files {
        match load(file) {
            Ok(policy) => {
                let summary = summary(&policy);
                if json {
                    println!("{}", json!({"file": file, "ok": true, "policy": summary}));
                } else {
                    println!(
                        "{}: ok: {} revision {} ({}), {} rules, {} allow-listed devices",
                        file.display(),
                        policy.name,
                        policy.revision,
                        policy.mode.as_str(),
                        policy.rules().len(),
                        policy.devices.len()
                    );
                }
            }
            Err(error) => {
                bad = true;
                if json {
                    println!(
                        "{}",
                        json!({"file": file, "ok": false, "error": error.to_string()})
                    );
                } else {
                    eprintln!("{error}");
                }
            }
        }
    }
    Ok(if bad {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn decide(
    policy: &Policy,
    input: Option<&Path>,
    events: Option<&Path>,
    decider: &str,
) -> anyhow::Result<ExitCode> {
    let name = input.map_or("stdin".to_string(), |p| p.display().to_string());
    let reader: Box<dyn BufRead> = match input {
        Some(path) if path != Path::new("-") => Box::new(BufReader::new(
            std::fs::File::open(path).with_context(|| name.clone())?,
        )),
        _ => Box::new(std::io::stdin().lock()),
    };
    let mut events = events
        .map(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map(BufWriter::new)
                .with_context(|| format!("{}", path.display()))
        })
        .transpose()?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut rejected = 0u64;
    for (number, line) in reader.lines().enumerate() {
        let number = number + 1;
        let line = line.with_context(|| format!("{name}:{number}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let request = serde_json::from_str::<Request>(&line)
            .map_err(|e| e.to_string())
            .and_then(|r| r.check().map(|()| r).map_err(|e| e.to_string()));
        let request = match request {
            Ok(request) => request,
            Err(reason) => {
                rejected += 1;
                eprintln!("{name}:{number}: {reason}");
                writeln!(out, "{}", json!({"line": number, "error": reason}))?;
                continue;
            }
        };
        let now = jiff::Timestamp::now();
        let decision = policy.decide(&request, now);
        let mut answer = answer(policy, &request, &decision);
        answer["line"] = json!(number);
        writeln!(out, "{answer}")?;
        if let Some(events) = events.as_mut()
            && decision.is_recorded()
        {
            let mut event = decision_event(policy, &request, &decision, decider, now);
            event.ensure_nonce();
            events.write_all(&event.canonical_json())?;
            events.write_all(b"\n")?;
        }
    }
    out.flush()?;
    if let Some(mut events) = events {
        events.flush()?;
        events.get_ref().sync_all()?;
    }
    Ok(if rejected > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn compile(policy: &Policy, target: Target, out: Option<&Path>) -> anyhow::Result<ExitCode> {
    use mamori_policy::compile;
    match target {
        Target::Usbguard => {
            let rules = compile::usbguard(policy);
            match out {
                Some(path) => write_file(path, rules.as_bytes())?,
                None => print!("{rules}"),
            }
        }
        Target::WindowsDeviceControl => {
            let xml = compile::windows_device_control(policy);
            match out {
                Some(dir) => {
                    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
                    write_file(&dir.join("Groups.xml"), xml.groups.as_bytes())?;
                    write_file(&dir.join("PolicyRules.xml"), xml.rules.as_bytes())?;
                }
                None => {
                    println!("<!-- Groups.xml -->");
                    print!("{}", xml.groups);
                    println!("<!-- PolicyRules.xml -->");
                    print!("{}", xml.rules);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to `path` through a temporary file in the same directory, so a reader
/// (USBGuard, a deployment share) never sees half a file.
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("{}", dir.display()))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("{}", path.display()))?;
    Ok(())
}

/// Whether a person is departing on `day`: from the notice date (or, without one, from 30
/// days before the last day) on, including after the last day (an account still in use).
fn departing(person: &PersonRecord, day: jiff::civil::Date) -> bool {
    match (person.notice_date, person.termination_date) {
        (Some(notice), _) => notice <= day,
        (None, Some(end)) => end
            .checked_sub(jiff::Span::new().days(30))
            .is_ok_and(|from| from <= day),
        (None, None) => false,
    }
}

#[derive(Default)]
struct Tally {
    decisions: u64,
    persons: HashSet<String>,
    by_channel: BTreeMap<&'static str, u64>,
}

fn backtest(
    data_dir: &Path,
    policy: &Policy,
    since: Option<&str>,
    until: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (from_us, to_us) = crate::rules::time_range(since, until)?;
    let data = mamori_store::DataDir::open(data_dir)?;
    let store = data.store();
    let people = store.people()?;
    let mut person_of: HashMap<String, usize> = HashMap::new();
    for (index, person) in people.iter().enumerate() {
        for account in &person.accounts {
            person_of.insert(account.clone(), index);
        }
    }
    // The latest risk level of each person on or before a day, read once per person.
    let mut risk_days: HashMap<usize, Vec<(i64, Level)>> = HashMap::new();
    let zone = jiff::tz::TimeZone::get(&policy.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let started = std::time::Instant::now();
    let (mut scanned, mut covered, mut unreadable) = (0u64, 0u64, 0u64);
    let mut by_rule: BTreeMap<(usize, bool), Tally> = BTreeMap::new();
    let mut by_action: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut simulated: BTreeMap<&'static str, u64> = BTreeMap::new();
    store.scan_by_time(from_us, to_us, |_, _, body| {
        scanned += 1;
        let Some(body) = body else {
            return Ok::<_, anyhow::Error>(());
        };
        let Ok(event) = Event::from_json(body) else {
            unreadable += 1;
            return Ok(());
        };
        let Some(mut request) = request_of_event(&event) else {
            return Ok(());
        };
        covered += 1;
        let person = person_of.get(event.account()).copied();
        if let Some(index) = person {
            let record = &people[index];
            let day = zone.to_offset(event.time).to_datetime(event.time).date();
            request.person.department = record.department.clone();
            request.person.departing = departing(record, day);
            let days = match risk_days.entry(index) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(
                    store
                        .risk_days(&record.person_id)?
                        .into_iter()
                        .map(|d| (d.day, d.level))
                        .collect(),
                ),
            };
            let day_number = i64::from(
                day.since(jiff::civil::date(1970, 1, 1))
                    .map(|s| s.get_days())
                    .unwrap_or(0),
            );
            request.person.risk = days
                .iter()
                .rev()
                .find(|(d, _)| *d <= day_number)
                .map(|(_, level)| *level);
        }
        let decision = policy.decide(&request, event.time);
        *by_action.entry(decision.action.as_str()).or_default() += 1;
        if let Some((action, _)) = decision.simulated {
            *simulated.entry(action.as_str()).or_default() += 1;
        }
        let channel = request.channel.map_or("none", |c| c.as_str());
        let who = person.map_or_else(
            || event.account().to_string(),
            |i| people[i].person_id.clone(),
        );
        // Every matching rule is counted, as enforced or simulated.
        for &index in &decision.matched {
            let enforced = decision.rule == Some(index);
            let tally = by_rule.entry((index, enforced)).or_default();
            tally.decisions += 1;
            tally.persons.insert(who.clone());
            *tally.by_channel.entry(channel).or_default() += 1;
        }
        Ok(())
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let rules: Vec<Value> = by_rule
        .iter()
        .map(|((index, deciding), tally)| {
            let rule = &policy.rules()[*index];
            json!({
                "rule": rule.id,
                "action": rule.action.as_str(),
                "mode": rule.mode.as_str(),
                "deciding": deciding,
                "matches": tally.decisions,
                "persons": tally.persons.len(),
                "channels": tally.by_channel,
            })
        })
        .collect();
    let report = json!({
        "policy": {"name": policy.name, "revision": policy.revision},
        "events": scanned,
        "covered": covered,
        "unreadable": unreadable,
        "decisions": by_action,
        "simulated": simulated,
        "rules": rules,
        "seconds": crate::bench::round(seconds),
    });
    if json {
        println!("{report}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} revision {}: {scanned} events, {covered} on a policy channel ({:.1} s)",
        policy.name, policy.revision, seconds
    );
    for action in Action::ALL {
        if let Some(n) = by_action.get(action.as_str()) {
            println!("  {:<8} {n}", action.as_str());
        }
    }
    for (action, n) in &simulated {
        println!("  simulated {action}: {n}");
    }
    for rule in &rules {
        println!(
            "  rule {} ({}{}{}): {} matches, {} persons",
            rule["rule"].as_str().unwrap_or(""),
            rule["action"].as_str().unwrap_or(""),
            if rule["mode"] == "simulate" {
                ", simulated"
            } else {
                ""
            },
            if rule["deciding"] == true {
                ", deciding"
            } else {
                ""
            },
            rule["matches"],
            rule["persons"],
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The installed policy's path in a data directory.
pub fn installed_path(data_dir: &Path) -> PathBuf {
    data_dir.join("policy").join("policy.toml")
}

fn install(data_dir: &Path, file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    if !data_dir.join("keys").exists() {
        return Err(BadInput(format!(
            "{} is not a Mamori data directory; run `mamori init` first",
            data_dir.display()
        ))
        .into());
    }
    let text = std::fs::read_to_string(file).with_context(|| format!("{}", file.display()))?;
    let policy =
        Policy::from_toml(&text).map_err(|e| BadInput(format!("{}: {e}", file.display())))?;
    let target = installed_path(data_dir);
    if let Ok(current) = std::fs::read_to_string(&target)
        && let Ok(current) = Policy::from_toml(&current)
        && current.revision >= policy.revision
    {
        return Err(BadInput(format!(
            "{}: revision {} is not higher than the installed {} (revision {})",
            file.display(),
            policy.revision,
            current.name,
            current.revision
        ))
        .into());
    }
    std::fs::create_dir_all(target.parent().unwrap_or(data_dir))?;
    write_file(&target, text.as_bytes())?;
    if json {
        println!("{}", json!({"installed": summary(&policy)}));
    } else {
        println!(
            "installed {} revision {}: a running `mamori serve` keeps its own until restarted \
             (or use PUT /api/v1/policy)",
            policy.name, policy.revision
        );
    }
    Ok(ExitCode::SUCCESS)
}
