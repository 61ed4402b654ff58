//! `mamori rules …`: load, check and run Sigma rules (see docs/rules.md).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mamori_detect::sigma::regression::{self, Case};
use mamori_detect::sigma::{Engine, EngineBuilder, LoadError};
use mamori_detect::windows::WindowsRecord;
use mamori_ingest::{EvtxSource, Source};

use crate::BadInput;

#[derive(clap::Subcommand)]
pub enum RulesCommand {
    /// Load rules and report every document that cannot be used, as FILE:LINE: reason.
    Lint {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
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

pub fn run(command: RulesCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        RulesCommand::Lint { paths } => lint(&paths, json),
        RulesCommand::Conformance { rules, regression } => conformance(&rules, &regression, json),
    }
}

/// Loads every rule under `paths`.
pub fn load(paths: &[PathBuf]) -> anyhow::Result<(Engine, Vec<LoadError>)> {
    let mut builder = EngineBuilder::new();
    for path in paths {
        if !path.exists() {
            return Err(BadInput(format!("{}: no such file or directory", path.display())).into());
        }
        builder
            .add_path(path)
            .map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
    }
    let errors = builder.errors().to_vec();
    Ok((builder.build(), errors))
}

fn lint(paths: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let (engine, errors) = load(paths)?;
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

fn conformance(rules: &[PathBuf], regression: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let (engine, load_errors) = load(rules)?;
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
    repeat: u32,
) -> anyhow::Result<serde_json::Value> {
    use crate::bench::round;
    use std::time::Instant;

    let started = Instant::now();
    let (engine, errors) = load(rules)?;
    let load_seconds = started.elapsed().as_secs_f64();
    let mut files = Vec::new();
    for path in evtx {
        find_evtx(path, &mut files).map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
    }
    files.sort();
    if files.is_empty() {
        return Err(BadInput("no .evtx files given".into()).into());
    }
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let read_all =
        |each: &mut dyn FnMut(&serde_json::Map<String, serde_json::Value>)| -> anyhow::Result<u64> {
            let mut events = 0;
            for file in &files {
                let mut source = EvtxSource::open(file)?;
                while let Some(record) = source.next_record() {
                    if let Ok(Ok(event)) = record {
                        each(&event.raw);
                        events += 1;
                    }
                }
            }
            Ok(events)
        };

    // Parsing alone.
    let started = Instant::now();
    let mut events = 0;
    for _ in 0..repeat {
        events += read_all(&mut |_| {})?;
    }
    let parse_seconds = started.elapsed().as_secs_f64();

    // Parsing and evaluation.
    let mut evaluator = engine.evaluator();
    let mut matches = 0u64;
    let started = Instant::now();
    for _ in 0..repeat {
        read_all(&mut |raw| {
            let record = WindowsRecord::new(raw);
            matches += evaluator.evaluate(&record, &record.source()).len() as u64;
        })?;
    }
    let both_seconds = started.elapsed().as_secs_f64();

    // Evaluation alone, of records already in memory: one thread, then one per core.
    let mut raws = Vec::new();
    read_all(&mut |raw| raws.push(raw.clone()))?;
    let prepared: Vec<_> = raws
        .iter()
        .map(|raw| {
            let record = WindowsRecord::new(raw);
            let source = record.source();
            (record, source)
        })
        .collect();
    let started = Instant::now();
    for _ in 0..repeat {
        for (record, source) in &prepared {
            evaluator.evaluate(record, source);
        }
    }
    let eval_seconds = started.elapsed().as_secs_f64();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for part in prepared.chunks(prepared.len().div_ceil(threads).max(1)) {
            let engine = &engine;
            scope.spawn(move || {
                let mut evaluator = engine.evaluator();
                for _ in 0..repeat {
                    for (record, source) in part {
                        evaluator.evaluate(record, source);
                    }
                }
            });
        }
    });
    let parallel_seconds = started.elapsed().as_secs_f64();
    let per_second = |seconds: f64| round(events as f64 / seconds);
    Ok(serde_json::json!({
        "rules": engine.rule_count(),
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
