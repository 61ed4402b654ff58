//! `mamori hygiene` end to end: HR data, a directory export and events through the real binary;
//! each planted problem found exactly once, nothing about the clean person, and `analyze`
//! turning the high and critical findings into alerts once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;

/// E1 left on 2025-03-31; E2 gave notice on 2025-06-01; E3 is clean; E5 has a privileged
/// account without MFA; E6's account is dormant.
const HR: &str = "person_id,valid_from,name,department,notice_date,termination_date,accounts
E1,2020-04-01,山田 太郎,営業部,2025-03-01,2025-03-31,leaver1
E2,2020-04-01,佐藤 花子,営業部,2025-06-01,,notice2
E3,2020-04-01,鈴木 一郎,営業部,,,clean3
E5,2020-04-01,高橋 次郎,情報システム部,,,priv5
E6,2020-04-01,田中 三郎,営業部,,,dormant6
";

const ACCOUNTS: &str = "account,source,person_id,enabled,created,last_logon,mfa,privileged,groups
leaver1,ad,E1,true,2020-04-01,2025-04-02T09:00:00Z,yes,false,営業部
notice2,ad,E2,true,2020-04-01,2025-06-10T09:00:00Z,yes,false,営業部
clean3,ad,E3,true,2020-04-01,2025-06-20T09:00:00Z,yes,false,営業部
priv5,ad,E5,true,2020-04-01,2025-06-20T09:00:00Z,no,false,Domain Admins
dormant6,ad,E6,true,2020-04-01,2025-01-10T09:00:00Z,yes,false,営業部
ghost,ad,,true,2020-04-01,2025-06-20T09:00:00Z,yes,false,
admin,ad,,true,2020-04-01,2025-06-20T09:00:00Z,yes,false,
";

fn events() -> String {
    let mut lines = vec![
        // The last day itself is allowed; two days later is not.
        r#"{"time":"2025-03-31T17:00:00Z","kind":"logon","actor":{"user":"leaver1","host":"PC-1"},"outcome":"success"}"#.to_owned(),
        r#"{"time":"2025-04-02T09:00:00Z","kind":"logon","actor":{"user":"leaver1","host":"PC-1"},"outcome":"success"}"#.to_owned(),
        r#"{"time":"2025-04-02T09:30:00Z","kind":"file.copy","actor":{"user":"leaver1","host":"PC-1"},"object":{"name":"顧客名簿.xlsx"},"outcome":"success"}"#.to_owned(),
        // During notice, into a privileged group.
        r#"{"time":"2025-06-10T10:00:00Z","kind":"account.group_add","actor":{"user":"itops","host":"DC-01"},"object":{"name":"notice2","type":"account"},"destination":{"kind":"local","name":"Domain Admins"},"outcome":"success"}"#.to_owned(),
        r#"{"time":"2025-06-10T10:05:00Z","kind":"logon","actor":{"user":"notice2","host":"PC-2"},"outcome":"success"}"#.to_owned(),
        r#"{"time":"2025-06-20T09:00:00Z","kind":"logon","actor":{"user":"clean3","host":"PC-3"},"outcome":"success"}"#.to_owned(),
        r#"{"time":"2025-06-20T18:00:00Z","kind":"logon","actor":{"user":"clean3","host":"PC-3"},"outcome":"success"}"#.to_owned(),
    ];
    // One account on two hosts at once, on three days.
    for day in [16, 17, 18] {
        lines.push(format!(
            r#"{{"time":"2025-06-{day}T09:00:00Z","kind":"logon","actor":{{"user":"frontdesk","host":"PC-A"}},"outcome":"success"}}"#
        ));
        lines.push(format!(
            r#"{{"time":"2025-06-{day}T09:04:00Z","kind":"logon","actor":{{"user":"frontdesk","host":"PC-B"}},"outcome":"success"}}"#
        ));
    }
    lines.join("\n") + "\n"
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_str(stdout(out).trim())
        .unwrap_or_else(|e| panic!("{e}: {} / {}", stdout(out), stderr(out)))
}

fn prepared() -> Env {
    let env = Env::new();
    let hr = env.file("hr.csv", HR);
    let accounts = env.file("accounts.csv", ACCOUNTS);
    let events = env.file("events.ndjson", &events());
    for args in [
        ["import", "hr", hr.to_str().unwrap()],
        ["import", "accounts", accounts.to_str().unwrap()],
        ["import", "ndjson", events.to_str().unwrap()],
    ] {
        let out = env.run(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    env
}

#[test]
fn hygiene_finds_each_planted_problem_once_and_analyze_alerts_once() {
    let env = prepared();
    let out = env.run(&["--json", "hygiene", "--as-of", "2025-06-30"]);
    let report = json(&out);
    let findings = report["findings"].as_array().unwrap();
    let mut found: Vec<(String, String)> = findings
        .iter()
        .map(|f| {
            let subject = f["account"].as_str().or(f["person"].as_str()).unwrap();
            (f["check"].as_str().unwrap().to_owned(), subject.to_owned())
        })
        .collect();
    found.sort();
    let mut expected: Vec<(String, String)> = [
        ("account_used_after_termination", "leaver1"),
        ("leaver_account_enabled", "leaver1"),
        ("new_privileged_grant_during_notice", "notice2"),
        ("privileged_without_mfa", "priv5"),
        ("dormant_account", "dormant6"),
        ("shared_account", "frontdesk"),
        ("orphan_account", "ghost"),
        ("orphan_account", "admin"),
        ("generic_account_name", "admin"),
    ]
    .iter()
    .map(|(c, a)| ((*c).to_owned(), (*a).to_owned()))
    .collect();
    expected.sort();
    assert_eq!(found, expected, "{report:#}");
    for finding in findings {
        assert_ne!(finding["person"], "E3", "{finding}");
        assert!(!finding["title"]["ja"].as_str().unwrap().is_empty());
        assert!(!finding["action"]["en"].as_str().unwrap().is_empty());
    }

    let by = |check: &str| {
        findings
            .iter()
            .find(|f| f["check"] == check)
            .unwrap()
            .clone()
    };
    let after = by("account_used_after_termination");
    assert_eq!(after["severity"], "critical");
    assert_eq!(after["person"], "E1");
    assert_eq!(after["evidence"]["count"], 2, "{after}");
    assert_eq!(after["evidence"]["termination_date"], "2025-03-31");
    assert_eq!(after["evidence"]["first"], "2025-04-02T09:00:00Z");
    assert_eq!(after["evidence"]["kinds"]["file.copy"], 1);
    assert_eq!(after["evidence"]["hosts"], serde_json::json!(["PC-1"]));
    assert_eq!(after["events"], serde_json::json!([1, 2]), "leaves 1 and 2");
    let grant = by("new_privileged_grant_during_notice");
    assert_eq!(grant["evidence"]["group"], "Domain Admins");
    assert_eq!(grant["evidence"]["changed_on"], "2025-06-10");
    assert_eq!(
        grant["evidence"]["seen_in"],
        serde_json::json!(["account.group_add by itops"])
    );
    assert_eq!(grant["events"], serde_json::json!([3]));
    let shared = by("shared_account");
    assert_eq!(shared["evidence"]["occasions"], 3, "{shared}");
    assert_eq!(shared["events"].as_array().unwrap().len(), 3);
    assert_eq!(report["counts"]["critical"], 2);
    assert_eq!(report["counts"]["high"], 3);

    // Text in Japanese; the run is on the access log.
    let text = env.run(&["hygiene", "--as-of", "2025-06-30", "--lang", "ja"]);
    assert!(text.status.success(), "{}", stderr(&text));
    assert!(
        stdout(&text)
            .contains("退職者 E1 のアカウント leaver1 が最終日 2025-03-31 の後に 2 件使用された"),
        "{}",
        stdout(&text)
    );
    let logged: i64 = env
        .sqlite()
        .query_row(
            "SELECT COUNT(*) FROM access_log WHERE action = 'hygiene.run'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(logged, 2);

    // A day earlier the account used after termination is only what was known by then.
    let earlier = json(&env.run(&["--json", "hygiene", "--as-of", "2025-04-01"]));
    let early: Vec<&str> = earlier["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["account"] == "leaver1")
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert_eq!(early, ["leaver_account_enabled"], "{earlier:#}");

    // analyze turns the critical and high findings into alerts, once.
    let first = json(&env.run(&["--json", "analyze"]));
    assert_eq!(first["hygiene"]["alerts_added"], 5, "{first}");
    let second = json(&env.run(&["--json", "analyze"]));
    assert_eq!(second["hygiene"]["alerts_added"], 0, "{second}");
    let alerts: Vec<(String, String)> = {
        let db = env.sqlite();
        let mut stmt = db
            .prepare(
                "SELECT person_id, severity FROM alerts WHERE kind = 'hygiene' ORDER BY person_id",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(
        alerts,
        [
            ("E1".to_owned(), "critical".to_owned()),
            ("E1".to_owned(), "high".to_owned()),
            ("E2".to_owned(), "critical".to_owned()),
            ("E5".to_owned(), "high".to_owned()),
            ("frontdesk".to_owned(), "high".to_owned()),
        ]
    );
}

#[test]
fn bad_options_are_refused() {
    let env = Env::new();
    let out = env.run(&["hygiene", "--as-of", "2025-13-01"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = env.run(&["hygiene", "--dormant-days", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
