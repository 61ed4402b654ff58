//! End-to-end: simulated history → `mamori analyze` → `mamori eval` on the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

const MAMORI: &str = env!("CARGO_BIN_EXE_mamori");

/// Runs `mamori --data-dir DATA ARGS…`, failing the test on a non-zero exit.
fn mamori(data: &Path, args: &[&str]) -> Output {
    let out = Command::new(MAMORI)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mamori {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn analyze_scores_simulated_history_better_than_chance_and_alerts_once() {
    let dir = tempfile::tempdir().unwrap();
    let (data, sim) = (dir.path().join("data"), dir.path().join("sim"));
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    mamori(&data, &["init", "--origin", "test.mamori.invalid/events"]);
    mamori(
        &data,
        &[
            "simulate",
            "--format",
            "ndjson",
            "--profile",
            "dense",
            "--users",
            "60",
            "--days",
            "60",
            "--seed",
            "7",
            "--out",
            &path(&sim),
        ],
    );
    mamori(&data, &["import", "hr", &path(&sim.join("hr.csv"))]);
    mamori(
        &data,
        &["import", "ndjson", &path(&sim.join("events.ndjson"))],
    );

    let first = json(&mamori(&data, &["--json", "analyze"]));
    assert!(first["events"].as_u64().unwrap() > 0, "{first}");
    assert!(first["person_days"].as_u64().unwrap() > 0, "{first}");
    assert_eq!(first["late"], 0, "{first}");
    assert_eq!(first["alerts_added"], first["alerts"], "{first}");

    // Re-running replaces the scores and adds no alert twice.
    let second = json(&mamori(&data, &["--json", "analyze"]));
    assert_eq!(second["person_days"], first["person_days"]);
    assert_eq!(second["alerts"], first["alerts"]);
    assert_eq!(second["alerts_added"], 0, "{second}");

    let report = json(&mamori(
        &data,
        &["--json", "eval", "--answers", &path(&sim.join("answers"))],
    ));
    assert_eq!(report["all_scores_zero"], false, "{report}");
    let overall = &report["overall"];
    let (model, random) = (
        overall["model"]["auc"].as_f64().unwrap(),
        overall["random"]["auc"].as_f64().unwrap(),
    );
    assert!(model > random, "model AUC {model} <= random {random}");
}
