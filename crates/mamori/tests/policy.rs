//! End to end: `mamori policy` through the real binary — checking the documented example and
//! broken policies, deciding NDJSON requests into ledger events that import and verify,
//! back-testing a policy over stored history with HR context, installing with revision
//! checks, and compiling device controls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::process::Stdio;

use serde_json::Value;
use support::*;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/policy.toml");

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn check_accepts_the_documented_example_and_names_the_key_of_a_mistake() {
    let env = Env::new();
    let out = env.run(&["--json", "policy", "check", EXAMPLE]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(report["policy"]["name"], "acme-standard");
    assert_eq!(report["policy"]["rules"], 9);

    let broken = env.file(
        "broken.toml",
        "format = 1\nname = \"x\"\nrevision = 1\n[[rules]]\nid = \"r1\"\naction = \"block\"\n\
         when.channels = [\"usb\"]\n",
    );
    let out = env.run(&["policy", "check", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let error = stderr(&out);
    assert!(
        error.contains("broken.toml") && error.contains("rules[0] (r1).when.channels[0]"),
        "{error}"
    );
}

#[test]
fn decisions_become_ledger_events_that_import_and_verify() {
    let env = Env::new();
    let requests = [
        r#"{"channel":"removable_media","user":"ACM0001","host":"PC-1","time":"2026-11-30T01:00:00Z","object":{"path":"/home/a/設計.dwg","labels":["社外秘"]},"destination":{"device":{"vendor":"abcd","product":"1234","serial":"S1"}}}"#,
        r#"{"channel":"removable_media","user":"ACM0001","host":"PC-1","time":"2026-11-30T01:01:00Z","object":{"path":"/home/a/設計.dwg","labels":["社外秘"]},"destination":{"device":{"vendor":"0951","product":"1666","serial":"60A44C3FAE5AB1"}}}"#,
        r#"{"channel":"web_upload","user":"ACM0002","time":"2026-11-30T01:02:00Z","person":{"departing":true},"destination":{"domain":"wetransfer.com"},"justification":"客先への納品"}"#,
        r#"{"channel":"print","user":"ACM0003","time":"2026-11-30T01:03:00Z"}"#,
        r#"{"channel":"print","user":"","time":"2026-11-30T01:04:00Z"}"#,
    ];
    let events = env.dir.path().join("decisions.ndjson");
    let mut child = env
        .command(&[
            "policy",
            "decide",
            "--policy",
            EXAMPLE,
            "--decider",
            "test-host",
            "--events",
            events.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(requests.join("\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "line 5 is bad input");
    let answers = lines(&stdout(&out));
    let verdicts: Vec<&str> = answers
        .iter()
        .map(|a| a["verdict"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        verdicts,
        ["blocked", "allowed", "overridden", "allowed", "-"],
        "{answers:?}"
    );
    assert_eq!(answers[0]["rule"], "usb-classified");
    assert_eq!(answers[1]["matched"], serde_json::json!(["usb-audit"]));
    assert_eq!(answers[4]["line"], 5);
    assert!(
        answers[4]["error"].as_str().unwrap().starts_with("user:"),
        "{}",
        answers[4]
    );
    assert!(stderr(&out).contains("stdin:5: user: empty"));

    // The plain print allow is not recorded; the other three are.
    let recorded = lines(&std::fs::read_to_string(&events).unwrap());
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[0]["kind"], "policy.decision");
    assert_eq!(recorded[0]["outcome"], "blocked");
    assert_eq!(recorded[0]["raw"]["decider"], "test-host");
    assert_eq!(
        recorded[0]["destination"]["device_id"],
        "USB\\VID_ABCD&PID_1234\\S1"
    );
    assert_eq!(recorded[1]["outcome"], "success");
    assert_eq!(recorded[2]["outcome"], "overridden");
    assert_eq!(recorded[2]["raw"]["justification"], "客先への納品");

    let (out, summary) = import_json(&env, &events);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(summary["imported"], 3, "{summary}");
    assert!(env.run(&["verify"]).status.success());
}

#[test]
fn backtest_counts_what_a_policy_would_have_decided_over_history() {
    let env = Env::new();
    let hr = env.file(
        "hr.csv",
        "person_id,valid_from,name,department,accounts,notice_date,termination_date\n\
         E1,2026-01-01,山田 花子,設計部,ACM0001,2026-11-01,2026-12-31\n\
         E2,2026-01-01,佐藤 一郎,営業部,ACM0002,,\n",
    );
    let out = env.run(&["import", "hr", hr.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let activity = [
        // Blocked: classified to an unknown USB device (twice, two persons).
        r#"{"time":"2026-11-20T01:00:00Z","kind":"file.copy","actor":{"user":"ACM0001"},"object":{"path":"C:/設計/a.dwg","labels":["社外秘"]},"destination":{"kind":"removable","device_id":"USB\\VID_ABCD&PID_1234\\X"},"outcome":"success"}"#,
        r#"{"time":"2026-11-20T02:00:00Z","kind":"file.copy","actor":{"user":"ACM0002"},"object":{"path":"C:/営業/b.xlsx","labels":["極秘"]},"destination":{"kind":"removable"},"outcome":"success"}"#,
        // Audited: classified, but to the allow-listed device.
        r#"{"time":"2026-11-20T03:00:00Z","kind":"file.copy","actor":{"user":"ACM0001"},"object":{"path":"C:/設計/a.dwg","labels":["社外秘"]},"destination":{"kind":"removable","device_id":"USB\\VID_0951&PID_1666\\60A44C3FAE5AB1"},"outcome":"success"}"#,
        // Justify: the departing person (notice given) uploads to an unsanctioned domain;
        // the same upload by the other person is allowed.
        r#"{"time":"2026-11-21T01:00:00Z","kind":"http.upload","actor":{"user":"ACM0001"},"object":{"url":"https://wetransfer.com/u"},"destination":{"kind":"web","domain":"wetransfer.com"},"outcome":"success"}"#,
        r#"{"time":"2026-11-21T01:00:00Z","kind":"http.upload","actor":{"user":"ACM0002"},"object":{"url":"https://wetransfer.com/u"},"destination":{"kind":"web","domain":"wetransfer.com"},"outcome":"success"}"#,
        // Not on a policy channel.
        r#"{"time":"2026-11-21T02:00:00Z","kind":"logon","actor":{"user":"ACM0001"},"outcome":"success"}"#,
    ];
    let path = env.file("activity.ndjson", &(activity.join("\n") + "\n"));
    let (out, _) = import_json(&env, &path);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = env.run(&["--json", "policy", "backtest", "--policy", EXAMPLE]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(report["events"], 6, "{report}");
    assert_eq!(report["covered"], 5, "{report}");
    assert_eq!(
        report["decisions"],
        serde_json::json!({"allow": 1, "audit": 1, "block": 2, "justify": 1}),
        "{report}"
    );
    let rule = |id: &str, deciding: bool| {
        report["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == id && r["deciding"] == deciding)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(rule("usb-classified", true)["matches"], 2, "{report}");
    assert_eq!(rule("usb-classified", true)["persons"], 2, "{report}");
    assert_eq!(rule("leaver-upload", true)["persons"], 1, "{report}");
    assert_eq!(rule("usb-audit", false)["matches"], 2, "{report}");
    assert_eq!(rule("usb-audit", true)["matches"], 1, "{report}");
    // Persons are counted, never named.
    assert!(!stdout(&out).contains("E1") && !stdout(&out).contains("ACM0001"));

    // Before the notice date the same person was not departing.
    let out = env.run(&[
        "--json",
        "policy",
        "backtest",
        "--policy",
        EXAMPLE,
        "--since",
        "2026-11-21",
    ]);
    let report: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(report["covered"], 2, "{report}");
}

#[test]
fn install_refuses_a_revision_that_is_not_higher() {
    let env = Env::new();
    let out = env.run(&["policy", "install", EXAMPLE]);
    assert!(out.status.success(), "{}", stderr(&out));
    let installed = env.data().join("policy/policy.toml");
    assert_eq!(
        std::fs::read_to_string(&installed).unwrap(),
        std::fs::read_to_string(EXAMPLE).unwrap()
    );
    let out = env.run(&["policy", "install", EXAMPLE]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not higher"), "{}", stderr(&out));
    let next = std::fs::read_to_string(EXAMPLE)
        .unwrap()
        .replace("revision = 1 ", "revision = 2 ");
    let next = env.file("next.toml", &next);
    let out = env.run(&["--json", "policy", "install", next.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(&installed)
            .unwrap()
            .contains("revision = 2 ")
    );
}

#[test]
fn compile_writes_usbguard_rules_and_defender_xml() {
    let env = Env::new();
    let rules = env.dir.path().join("rules.conf");
    let out = env.run(&[
        "policy",
        "compile",
        "--policy",
        EXAMPLE,
        "--target",
        "usbguard",
        "--out",
        rules.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&rules).unwrap();
    assert!(
        text.contains("allow id 0951:1666 serial \"60A44C3FAE5AB1\""),
        "{text}"
    );
    let parser = std::path::Path::new("/usr/bin/usbguard-rule-parser");
    if parser.exists() {
        let out = std::process::Command::new(parser)
            .arg("-f")
            .arg(&rules)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        assert!(
            std::env::var_os("MAMORI_SKIP_USBGUARD").is_some(),
            "usbguard-rule-parser is missing: apt-get install usbguard"
        );
    }

    let dir = env.dir.path().join("defender");
    let out = env.run(&[
        "policy",
        "compile",
        "--policy",
        EXAMPLE,
        "--target",
        "windows-device-control",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let groups = std::fs::read_to_string(dir.join("Groups.xml")).unwrap();
    let policy_rules = std::fs::read_to_string(dir.join("PolicyRules.xml")).unwrap();
    assert!(groups.contains("0951_1666"), "{groups}");
    assert!(policy_rules.contains("<PolicyRule"), "{policy_rules}");
}
