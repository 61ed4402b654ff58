//! The SigmaHQ rules (`../shared/testdata/sigma`) over the events of SigmaHQ's regression
//! logs (their JSON renderings): every rule loads or says why, and the literal prefilter never
//! changes what matches.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use mamori_detect::sigma::EngineBuilder;
use mamori_detect::windows::WindowsRecord;
use serde_json::{Map, Value};

/// `../shared/testdata/sigma` beside the repository (where CI has it), else the developer
/// machines' `/work/shared`; `None` (the tests print a note and pass) when neither exists.
fn sigma_root() -> Option<PathBuf> {
    [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/sigma"),
        PathBuf::from("/work/shared/testdata/sigma"),
    ]
    .into_iter()
    .find(|p| p.join("rules").is_dir())
    .or_else(|| {
        eprintln!("note: ../shared/testdata/sigma is missing; skipping");
        None
    })
}

fn rule_dirs(root: &Path) -> Vec<PathBuf> {
    ["rules", "rules-emerging-threats", "rules-threat-hunting"]
        .iter()
        .map(|d| root.join(d))
        .collect()
}

fn files_named(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_named(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

/// The importer's `raw` for a rendered record: EventData / UserData fields and the System ones.
fn raw_of(event: &Value) -> Map<String, Value> {
    let e = &event["Event"];
    let system = &e["System"];
    let mut raw = Map::new();
    let mut add = |fields: &Map<String, Value>| {
        for (k, v) in fields {
            if k != "#attributes" {
                raw.insert(k.clone(), v.clone());
            }
        }
    };
    if let Some(fields) = e["EventData"].as_object() {
        add(fields);
    }
    if let Some(user_data) = e["UserData"].as_object() {
        for inner in user_data.values().filter_map(Value::as_object) {
            add(inner);
        }
    }
    let id = system["EventID"].get("#text").unwrap_or(&system["EventID"]);
    raw.insert("EventID".into(), id.clone());
    raw.insert("Channel".into(), system["Channel"].clone());
    raw.insert("Computer".into(), system["Computer"].clone());
    raw.insert(
        "Provider".into(),
        system["Provider"]["#attributes"]["Name"].clone(),
    );
    raw
}

fn regression_events(root: &Path) -> Vec<Map<String, Value>> {
    let mut files = Vec::new();
    files_named(&root.join("regression_data"), "json", &mut files);
    files.sort();
    let mut events = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for value in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
            match value.unwrap() {
                Value::Array(items) => events.extend(items.iter().map(raw_of)),
                one => events.push(raw_of(&one)),
            }
        }
    }
    events
}

#[test]
fn every_sigmahq_rule_loads_or_says_why() {
    let Some(root) = sigma_root() else { return };
    let mut builder = EngineBuilder::new();
    for dir in rule_dirs(&root) {
        builder.add_path(&dir).unwrap();
    }
    let mut files = Vec::new();
    for dir in rule_dirs(&root) {
        files_named(&dir, "yml", &mut files);
    }
    let errors = builder.errors().to_vec();
    let engine = builder.build();
    assert_eq!(engine.rule_count() + errors.len(), files.len());
    assert!(
        engine.rule_count() >= 3_700,
        "{} rules loaded",
        engine.rule_count()
    );
    for error in &errors {
        assert!(error.line > 0 && !error.reason.is_empty(), "{error}");
    }
}

#[test]
fn the_prefilter_never_changes_what_matches() {
    let Some(root) = sigma_root() else { return };
    let build = |prefilter: bool| {
        let mut builder = EngineBuilder::new();
        if !prefilter {
            builder = builder.without_prefilter();
        }
        for dir in rule_dirs(&root) {
            builder.add_path(&dir).unwrap();
        }
        builder.build()
    };
    let (fast, full) = (build(true), build(false));
    let (mut fast_eval, mut full_eval) = (fast.evaluator(), full.evaluator());
    let events = regression_events(&root);
    assert!(events.len() > 200, "{} events", events.len());
    let mut matched = 0;
    for raw in &events {
        let record = WindowsRecord::new(raw);
        let source = record.source();
        let expected = full_eval.evaluate(&record, &source).to_vec();
        assert_eq!(
            fast_eval.evaluate(&record, &source),
            expected.as_slice(),
            "{raw:?}"
        );
        matched += expected.len();
    }
    assert!(
        matched >= events.len(),
        "{matched} matches over {} events",
        events.len()
    );
}

/// Throughput of the engine alone over the regression events (the Windows view, already in
/// memory), for comparison with other Sigma evaluators on the same input:
/// `cargo test --release -p mamori-detect --test sigmahq -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: run in release with --ignored"]
fn engine_throughput_on_the_regression_events() {
    let Some(root) = sigma_root() else { return };
    let mut builder = EngineBuilder::new();
    for dir in rule_dirs(&root) {
        builder.add_path(&dir).unwrap();
    }
    let engine = builder.build();
    let events = regression_events(&root);
    let prepared: Vec<_> = events.iter().map(WindowsRecord::new).collect();
    let sources: Vec<_> = prepared.iter().map(WindowsRecord::source).collect();
    let mut evaluator = engine.evaluator();
    let rounds = 100;
    let started = std::time::Instant::now();
    let mut matches = 0;
    for _ in 0..rounds {
        for (record, source) in prepared.iter().zip(&sources) {
            matches += evaluator.evaluate(record, source).len();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let n = events.len() * rounds;
    println!(
        "{} rules, {n} evaluations in {seconds:.2} s: {:.0} events/s, {matches} matches",
        engine.rule_count(),
        n as f64 / seconds
    );
}
