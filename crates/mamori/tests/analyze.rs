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

    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/insider");
    let analyze = ["--json", "analyze", "--rules", rules.to_str().unwrap()];
    let first = json(&mamori(&data, &analyze));
    assert!(first["events"].as_u64().unwrap() > 0, "{first}");
    assert!(first["person_days"].as_u64().unwrap() > 0, "{first}");
    assert_eq!(first["late"], 0, "{first}");
    assert_eq!(first["alerts_added"], first["alerts"], "{first}");

    // Re-running replaces the scores and adds no alert twice.
    let second = json(&mamori(&data, &analyze));
    assert_eq!(second["person_days"], first["person_days"]);
    assert_eq!(second["alerts"], first["alerts"]);
    assert_eq!(second["alerts_added"], 0, "{second}");

    assert!(first["rule_findings"].as_u64().unwrap() > 0, "{first}");
    let levels = &first["levels"];
    let total: u64 = ["none", "low", "medium", "high", "critical"]
        .iter()
        .map(|l| levels[l].as_u64().unwrap())
        .sum();
    assert_eq!(total, first["person_days"].as_u64().unwrap(), "{first}");

    // Every alert is explained in both languages, with its indicators.
    let alerts = json(&mamori(&data, &["--json", "alerts", "list"]));
    let all = alerts["alerts"].as_array().unwrap();
    // Identity hygiene's alerts (docs/hygiene.md) are counted apart; tests/hygiene.rs checks them.
    let (hygiene, alerts): (Vec<_>, Vec<_>) = all.iter().partition(|a| a["kind"] == "hygiene");
    assert_eq!(
        hygiene.len() as u64,
        first["hygiene"]["alerts"].as_u64().unwrap()
    );
    assert_eq!(second["hygiene"]["alerts_added"], 0, "{second}");
    assert!(!alerts.is_empty());
    assert_eq!(alerts.len() as u64, first["alerts"].as_u64().unwrap());
    for alert in alerts {
        let (en, ja) = (
            alert["title"].as_str().unwrap(),
            alert["title_ja"].as_str().unwrap(),
        );
        assert!(
            en.starts_with("Risk went up to") || en.contains("-severity rule"),
            "{en}"
        );
        assert!(ja.contains("リスクが") || ja.contains("のルール"), "{ja}");
        assert!(
            ["high", "critical"].contains(&alert["severity"].as_str().unwrap()),
            "{alert}"
        );
        assert!(
            !alert["details"]["indicators"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{alert}"
        );
    }

    // The score export has one row per scored person-day.
    let csv = dir.path().join("scores.csv");
    mamori(&data, &["scores", "export", "--out", csv.to_str().unwrap()]);
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count() as u64;
    assert_eq!(
        rows,
        first["person_days"].as_u64().unwrap() + 1,
        "header + person-days"
    );

    // A risk file with an unknown field is refused, naming it.
    let bad = dir.path().join("risk.toml");
    std::fs::write(&bad, "[levels]\nsevere = 70\n").unwrap();
    let out = Command::new(MAMORI)
        .arg("--data-dir")
        .arg(&data)
        .args(["analyze", "--risk-config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("severe"));

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

    // Without HR: no context, organisation-wide peers; still better than chance.
    let no_hr = json(&mamori(&data, &["--json", "analyze", "--no-hr"]));
    assert_eq!(no_hr["use_hr"], false, "{no_hr}");
    let report = json(&mamori(
        &data,
        &["--json", "eval", "--answers", &path(&sim.join("answers"))],
    ));
    let auc = report["overall"]["model"]["auc"].as_f64().unwrap();
    assert!(auc > 0.55, "AUC without HR {auc}");

    // Incremental: the last ten days again, the state rebuilt from the stored vectors of the
    // days before, give (nearly) the scores of the full run.
    let scores = |name: &str| -> Vec<(String, String, f64)> {
        let file = dir.path().join(name);
        mamori(
            &data,
            &["scores", "export", "--out", file.to_str().unwrap()],
        );
        std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0].to_owned(), f[1].to_owned(), f[2].parse().unwrap())
            })
            .collect()
    };
    let full = scores("full.csv");
    let last: jiff::civil::Date = full
        .iter()
        .map(|r| r.1.as_str())
        .max()
        .unwrap()
        .parse()
        .unwrap();
    let since = (last - jiff::Span::new().days(9)).to_string();
    let inc = json(&mamori(
        &data,
        &["--json", "analyze", "--no-hr", "--since", &since],
    ));
    assert!(inc["warm_start_person_days"].as_u64().unwrap() > 0, "{inc}");
    let after = scores("incremental.csv");
    let (mut diff, mut total, mut n) = (0.0, 0.0, 0);
    for (a, b) in full.iter().zip(&after).filter(|(a, _)| a.1 >= since) {
        assert_eq!((&a.0, &a.1), (&b.0, &b.1));
        diff += (a.2 - b.2).abs();
        total += a.2;
        n += 1;
    }
    assert_eq!(n, inc["person_days"].as_u64().unwrap() as usize);
    assert!(
        diff <= 0.1 * total + 0.01 * n as f64,
        "incremental differs: {diff} of {total} over {n}"
    );
}
