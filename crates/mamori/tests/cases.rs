//! End-to-end: alerts raised through the library, triaged into a case with the real binary,
//! scores exported, and every access logged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mamori_store::{DataDir, Level, NewAlert, RiskDay};
use serde_json::{Value, json};

const MAMORI: &str = env!("CARGO_BIN_EXE_mamori");
/// 2026-01-05, as a day number.
const DAY: i64 = 20_458;
const DAY_US: i64 = 86_400_000_000;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        env.ok(&["init", "--origin", "test.mamori.invalid/events"]);
        env
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs `mamori --data-dir DATA ARGS…` as user `analyst1`.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(MAMORI)
            .env("USER", "analyst1")
            .arg("--data-dir")
            .arg(self.data())
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "mamori {args:?}: {}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(self.ok(&all).trim()).unwrap()
    }

    /// Runs a command that must fail as bad input (exit 2); returns its stderr.
    fn bad_input(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "mamori {args:?}: {}",
            stderr(&out)
        );
        stderr(&out)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn alert(severity: Level, hour: i64, key: &str, events: &[u64]) -> NewAlert {
    NewAlert {
        person_id: "P1".into(),
        time_us: DAY * DAY_US + hour * 3_600_000_000,
        day: DAY,
        severity,
        kind: "rule".into(),
        title: format!("{key}: copies to USB"),
        title_ja: format!("{key}: USBへのコピー"),
        details: json!({ "rule": key }),
        dedup_key: key.into(),
        events: events.to_vec(),
    }
}

/// Three file copies by ACM0000 (leaves 0 to 2).
fn import_events(env: &Env) {
    let mut lines = String::new();
    for minute in 0..3 {
        lines.push_str(&format!(
            r#"{{"time":"2026-01-05T10:0{minute}:00Z","kind":"file.copy","actor":{{"user":"ACM0000","host":"PC-0000"}},"object":{{"path":"C:/design/part-{minute}.dwg","size":1000}},"destination":{{"kind":"removable"}},"outcome":"success"}}"#
        ));
        lines.push('\n');
    }
    let path = env.dir.path().join("events.ndjson");
    std::fs::write(&path, lines).unwrap();
    env.ok(&["import", "ndjson", path.to_str().unwrap()]);
}

fn store_alerts(data: &Path) {
    let mut data = DataDir::open(data).unwrap();
    let alerts = [
        alert(Level::High, 9, "usb-1", &[1]),
        alert(Level::Critical, 11, "usb-2", &[]),
    ];
    assert_eq!(data.store_mut().add_alerts(&alerts).unwrap(), 2);
}

#[test]
fn alerts_become_a_confirmed_case_and_every_access_is_logged() {
    let env = Env::new();
    import_events(&env);
    store_alerts(&env.data());

    let listed = env.json(&["alerts", "list"]);
    let alerts = listed["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0]["id"], 2, "newest first: {listed}");
    assert_eq!(alerts[0]["severity"], "critical");
    assert_eq!(alerts[0]["status"], "open");
    assert_eq!(alerts[1]["details"], json!({"rule": "usb-1"}));
    let text = env.ok(&[
        "alerts",
        "list",
        "--lang",
        "ja",
        "--min-severity",
        "critical",
    ]);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("#2"), "{text}");
    assert!(text.contains("2026-01-05"), "{text}");
    assert!(text.contains("critical"), "{text}");
    assert!(text.contains("usb-2: USBへのコピー"), "{text}");
    let none = env.json(&["alerts", "list", "--since", "2026-01-06"]);
    assert_eq!(none["alerts"], json!([]));

    let opened = env.json(&["cases", "open", "--alert", "1", "--assignee", "ito"]);
    assert_eq!(opened, json!({"case": 1}));
    env.ok(&["cases", "note", "1", "talked to the manager"]);
    env.ok(&["cases", "add-events", "1", "2", "0"]);
    let error = env.bad_input(&["cases", "add-events", "1", "9"]);
    assert!(error.contains("leaf 9"), "{error}");
    let error = env.bad_input(&["cases", "status", "1", "closed"]);
    assert!(error.contains("outcome"), "{error}");
    let error = env.bad_input(&["cases", "status", "1", "finished"]);
    assert!(error.contains("open, investigating or closed"), "{error}");
    env.ok(&["cases", "status", "1", "closed", "--outcome", "confirmed"]);
    env.ok(&["cases", "hold", "1", "on"]);

    let shown = env.json(&["cases", "show", "1"]);
    let case = &shown["case"];
    assert_eq!(
        case["title"], "usb-1: copies to USB",
        "default title: {shown}"
    );
    assert_eq!(case["person_id"], "P1");
    assert_eq!(case["status"], "closed");
    assert_eq!(case["outcome"], "confirmed");
    assert_eq!(case["assignee"], "ito");
    assert_eq!(case["legal_hold"], true);
    assert_eq!(shown["alerts"][0]["id"], 1);
    assert_eq!(shown["alerts"][0]["status"], "escalated");
    assert_eq!(shown["alerts"][0]["case_id"], 1);
    // Leaf 1 came with the alert, 0 and 2 were added by hand.
    let events = shown["events"].as_array().unwrap();
    let leaves: Vec<u64> = events
        .iter()
        .map(|e| e["leaf_index"].as_u64().unwrap())
        .collect();
    assert_eq!(leaves, [0, 1, 2], "{shown}");
    assert_eq!(events[2]["kind"], "file.copy");
    assert_eq!(events[2]["account"], "ACM0000");
    assert_eq!(events[2]["time"], "2026-01-05T10:02:00Z");
    assert_eq!(shown["notes"][0]["author"], "analyst1");
    assert_eq!(shown["notes"][0]["text"], "talked to the manager");
    let text = env.ok(&["cases", "show", "1", "--lang", "ja"]);
    assert!(text.contains("closed (confirmed)"), "{text}");
    assert!(text.contains("usb-1: USBへのコピー"), "{text}");
    assert!(text.contains("file.copy  ACM0000"), "{text}");
    let error = env.bad_input(&["cases", "show", "99"]);
    assert!(error.contains("case 99"), "{error}");
    let listed = env.json(&["cases", "list", "--status", "closed"]);
    assert_eq!(listed["cases"][0]["id"], 1);

    let error = env.bad_input(&["alerts", "dismiss", "1", "--reason", "fine"]);
    assert!(error.contains("case 1"), "{error}");
    env.bad_input(&["alerts", "dismiss", "7", "--reason", "fine"]);
    env.ok(&["alerts", "dismiss", "2", "--reason", "approved project"]);
    let dismissed = env.json(&["alerts", "list", "--status", "dismissed"]);
    assert_eq!(dismissed["alerts"][0]["dismiss_reason"], "approved project");

    {
        let mut data = DataDir::open(&env.data()).unwrap();
        let store = data.store_mut();
        assert!(store.persons_with_confirmed_cases().unwrap().contains("P1"));
        store.store_scores(&[("P2".into(), DAY, 3.0)]).unwrap();
        let risk = |day: i64, score: f64, level: Level| RiskDay {
            person_id: "P1".into(),
            day,
            score,
            level,
            details: json!({}),
        };
        store
            .store_risk_days(&[
                risk(DAY + 1, 12.345_67, Level::Medium),
                risk(DAY, 40.25, Level::High),
            ])
            .unwrap();
    }
    let out = env.dir.path().join("scores.csv");
    // Persons are pseudonyms by default, the same in every export.
    let exported = env.json(&["scores", "export", "--out", out.to_str().unwrap()]);
    assert_eq!(exported["rows"], 3);
    let pseudonymised = std::fs::read_to_string(&out).unwrap();
    assert!(
        !pseudonymised.contains("P1,") && !pseudonymised.contains("P2,"),
        "{pseudonymised}"
    );
    let first: Vec<&str> = pseudonymised
        .lines()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert!(
        first[1].starts_with("P-") && first[1] == first[2] && first[2] != first[3],
        "{first:?}"
    );
    env.json(&["scores", "export", "--out", out.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), pseudonymised);
    let exported = env.json(&[
        "scores",
        "export",
        "--identified",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(exported["rows"], 3);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "person,day,score,level\n\
         P1,2026-01-05,40.25,high\n\
         P1,2026-01-06,12.3457,medium\n\
         P2,2026-01-05,3,\n"
    );

    let log = env.json(&["access-log", "--limit", "100"]);
    // Newest first; the oldest is `init` creating the administrator.
    let (init, records) = log["access"].as_array().unwrap().split_last().unwrap();
    assert_eq!(
        (&init["actor"], &init["action"]),
        (&json!("mamori init"), &json!("users.add"))
    );
    assert!(records.iter().all(|r| r["actor"] == "analyst1"), "{log}");
    let actions: Vec<&str> = records
        .iter()
        .rev()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    // Oldest first; refused requests (bad leaf, missing outcome, unknown case) are not logged.
    assert_eq!(
        actions,
        [
            "alerts.list",
            "alerts.list",
            "alerts.list",
            "cases.open",
            "cases.note",
            "cases.add-events",
            "cases.status",
            "cases.hold",
            "cases.show",
            "cases.show",
            "cases.list",
            "alerts.dismiss",
            "alerts.list",
            "scores.export",
            "scores.export",
            "scores.export",
            "access_log.read",
        ]
    );
    assert!(
        records[1]["target"]
            .as_str()
            .unwrap()
            .ends_with("(identified)")
    );
    assert_eq!(records[records.len() - 4]["target"], "case 1 (alerts 1)");
    assert_eq!(records[4]["target"], "status=dismissed");
}
