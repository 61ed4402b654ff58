//! The per-manager access review end to end: HR data, a directory export and events through
//! the real binary; the report in Markdown, JSON and CSV; then the attest/revoke API of
//! `mamori serve` as an approver, an analyst refused, and every use in the access log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::*;

/// M1 manages E1 and E2; E9 reports to someone else.
const HR: &str = "person_id,valid_from,name,supervisor,accounts
M1,2020-01-01,鈴木 一郎,,suzuki
E1,2020-01-01,山田 太郎,M1,yamada
E2,2020-01-01,佐藤 花子,M1,sato
E9,2020-01-01,高橋 次郎,M2,takahashi
";

const ACCOUNTS: &str = "account,source,person_id,enabled,created,last_logon,mfa,privileged,groups
yamada,ad,E1,true,2020-04-01,2025-06-20T09:00:00Z,yes,false,Domain Admins;営業部
sato,ad,E2,true,2020-04-01,2025-01-10T09:00:00Z,yes,false,営業部
takahashi,ad,E9,true,2020-04-01,2025-06-20T09:00:00Z,yes,false,Domain Admins
";

fn event(user: &str, time: &str) -> String {
    format!(
        "{{\"time\":\"{time}\",\"kind\":\"logon\",\"actor\":{{\"user\":\"{user}\",\"host\":\"PC-1\"}},\"outcome\":\"success\"}}\n"
    )
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_str(stdout(out).trim())
        .unwrap_or_else(|e| panic!("{e}: {} / {}", stdout(out), stderr(out)))
}

fn setup() -> Env {
    let env = Env::new();
    let hr = env.file("hr.csv", HR);
    let out = env.run(&["import", "hr", hr.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let accounts = env.file("accounts.csv", ACCOUNTS);
    let out = env.run(&["import", "accounts", accounts.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events = [
        event("yamada", "2025-06-25T10:00:00Z"),
        event("yamada", "2025-06-28T10:00:00Z"),
        // After the as-of day: not counted.
        event("yamada", "2025-07-05T10:00:00Z"),
        event("takahashi", "2025-06-28T10:00:00Z"),
    ]
    .concat();
    let input = env.file("events.ndjson", &events);
    let (out, _) = import_json(&env, &input);
    assert!(out.status.success(), "{}", stderr(&out));
    env
}

fn token_for(env: &Env, name: &str, role: &str) -> String {
    let out = env.run(&["users", "add", name, "--role", role]);
    assert!(out.status.success(), "{}", stderr(&out));
    last_line_of(env.run(&["tokens", "create", "--user", name]))
}

#[test]
fn a_manager_reviews_their_peoples_accounts_and_approvers_attest_them_over_the_api() {
    let env = setup();
    let report = |format: &str, lang: &str| {
        let out = env.run(&[
            "report",
            "access-review",
            "--manager",
            "M1",
            "--as-of",
            "2025-06-30",
            "--format",
            format,
            "--lang",
            lang,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        out
    };

    let review = json_of(&report("json", "en"));
    let persons: Vec<&str> = review["persons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["person_id"].as_str().unwrap())
        .collect();
    assert_eq!(persons, ["E1", "E2"], "{review}");
    let yamada = &review["persons"][0]["accounts"][0];
    assert_eq!(yamada["account"], "yamada");
    assert_eq!(yamada["directory"], "ad");
    assert_eq!(yamada["last_activity"], "2025-06-28T10:00:00Z");
    assert_eq!(yamada["unused"], false);
    assert_eq!(yamada["groups"][0]["group"], "Domain Admins");
    assert_eq!(yamada["groups"][0]["privileged"], true);
    assert_eq!(yamada["groups"][0]["decision"]["state"], "pending");
    let sato = &review["persons"][1]["accounts"][0];
    assert_eq!(sato["unused"], true, "last sign-in in January");
    assert_eq!(review["summary"]["persons"], 2);
    assert_eq!(review["summary"]["accounts"], 2);
    assert_eq!(review["summary"]["privileged_grants"], 1);
    assert_eq!(review["summary"]["unused_accounts"], 1);
    assert_eq!(review["summary"]["pending"], 5);

    let markdown = stdout(&report("md", "en"));
    assert!(
        markdown.contains("# Access review for manager M1"),
        "{markdown}"
    );
    assert!(markdown.contains("suggested: revoke"), "{markdown}");
    assert!(!markdown.contains("takahashi"), "{markdown}");
    let japanese = stdout(&report("md", "ja"));
    assert!(japanese.contains("アクセスレビュー"), "{japanese}");
    assert!(japanese.contains("特権"), "{japanese}");

    let csv = stdout(&report("csv", "en"));
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("person,name,supervisor,account"));
    // yamada: the account and two groups; sato: the account and one group.
    assert_eq!(lines.len(), 1 + 3 + 2, "{csv}");

    // To a private file.
    let out_path = env.data().join("review.md");
    let out = env.run(&[
        "report",
        "access-review",
        "--manager",
        "M1",
        "--as-of",
        "2025-06-30",
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(&out_path)
            .unwrap()
            .contains("yamada")
    );
    let unknown = env.run(&["report", "access-review", "--manager", "NOBODY"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));

    let approver = token_for(&env, "approver-1", "approver");
    let analyst = token_for(&env, "analyst-1", "analyst");
    let (server, tlog) = start_server(&env);
    let url = tlog.strip_suffix("/tlog/events").unwrap().to_string();
    let path = "/api/v1/access-reviews/M1?as_of=2025-06-30";
    let (status, answer) = api(&url, &approver, "GET", path, &Value::Null);
    assert_eq!(status, 200, "{answer}");
    let text = answer.to_string();
    for name in ["山田", "佐藤", "鈴木", "\"E1\"", "\"M1\""] {
        assert!(!text.contains(name), "{name} in {text}");
    }
    assert!(
        answer["manager"].as_str().unwrap().starts_with("P-"),
        "{answer}"
    );
    assert!(
        answer["persons"][0]["person"]
            .as_str()
            .unwrap()
            .starts_with("P-")
    );
    assert_eq!(answer["persons"][0]["accounts"][0]["account"], "yamada");
    // The manager's pseudonym names them as well as their id.
    let pseudonym = answer["manager"].as_str().unwrap().to_owned();
    let (status, again) = api(
        &url,
        &approver,
        "GET",
        &format!("/api/v1/access-reviews/{pseudonym}?as_of=2025-06-30"),
        &Value::Null,
    );
    assert_eq!(status, 200);
    assert_eq!(again["persons"], answer["persons"]);

    let decisions = "/api/v1/access-reviews/M1/decisions";
    let (status, kept) = api(
        &url,
        &approver,
        "POST",
        decisions,
        &json!({"account": "yamada", "decision": "keep"}),
    );
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["decision"], "keep");
    assert_eq!(kept["grant"], "");
    assert_eq!(kept["decided_by"], "approver-1");
    let revoke = json!({"account": "yamada", "grant": "Domain Admins", "decision": "revoke", "comment": "no"});
    let (status, refused) = api(&url, &approver, "POST", decisions, &revoke);
    assert_eq!(status, 422, "{refused}");
    let revoke = json!({"account": "yamada", "grant": "Domain Admins", "decision": "revoke", "comment": "does not administer the domain any more"});
    let (status, revoked) = api(&url, &approver, "POST", decisions, &revoke);
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["decision"], "revoke");
    // Another manager's person's account is not this review's.
    let (status, _) = api(
        &url,
        &approver,
        "POST",
        decisions,
        &json!({"account": "takahashi", "decision": "keep"}),
    );
    assert_eq!(status, 404);

    let (_, after) = api(&url, &approver, "GET", path, &Value::Null);
    let yamada = &after["persons"][0]["accounts"][0];
    assert_eq!(yamada["decision"]["state"], "keep", "{after}");
    assert_eq!(yamada["decision"]["decided_by"], "approver-1");
    assert_eq!(yamada["groups"][0]["decision"]["state"], "revoke");
    assert_eq!(after["summary"]["keep"], 1);
    assert_eq!(after["summary"]["revoke"], 1);

    let (status, _) = api(&url, &analyst, "GET", path, &Value::Null);
    assert_eq!(status, 403);
    let (status, _) = api(
        &url,
        &analyst,
        "POST",
        decisions,
        &json!({"account": "yamada", "decision": "keep"}),
    );
    assert_eq!(status, 403);
    server.stop();

    let out = env.run(&["--json", "access-log", "--limit", "50"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stdout(&out);
    for action in [
        "report.access_review",
        "access_reviews.show",
        "access_reviews.decide",
    ] {
        assert!(log.contains(action), "{action} not in {log}");
    }
    assert!(log.contains("manager M1 as of 2025-06-30"), "{log}");
}
