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

/// The report's findings as sorted `(check, account or person)` pairs.
fn checks_and_subjects(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let subject = f["account"].as_str().or(f["person"].as_str()).unwrap();
            (f["check"].as_str().unwrap().to_owned(), subject.to_owned())
        })
        .collect();
    found.sort();
    found
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
    let found = checks_and_subjects(&report);
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

/// One case of the simulator's `answers/hygiene.csv`: the account, its owner's last day and the
/// times (UTC, as `YYYY-MM-DDTHH:MM:SSZ`) of the planted uses.
struct AfterExitCase {
    account: String,
    termination_date: jiff::civil::Date,
    times: Vec<String>,
}

fn after_exit_key(sim: &std::path::Path) -> Vec<AfterExitCase> {
    let mut key = csv::Reader::from_path(sim.join("answers/hygiene.csv")).unwrap();
    let header = key.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut cases = Vec::new();
    for row in key.records() {
        let row = row.unwrap();
        // The inventory's cases follow (docs/simulator.md).
        if &row[column("check")] != "account_used_after_termination" {
            continue;
        }
        let rows =
            std::fs::read_to_string(sim.join("answers/hygiene").join(&row[column("details")]))
                .unwrap();
        // Each line: file type, id, `MM/DD/YYYY HH:MM:SS`, user, … (the data row as written).
        let times: Vec<String> = rows
            .lines()
            .map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                assert_eq!(fields[3], &row[column("user")], "{line}");
                let stamp = fields[2];
                format!(
                    "{}-{}-{}T{}Z",
                    &stamp[6..10],
                    &stamp[0..2],
                    &stamp[3..5],
                    &stamp[11..]
                )
            })
            .collect();
        assert_eq!(times.len(), row[column("rows")].parse::<usize>().unwrap());
        cases.push(AfterExitCase {
            account: row[column("user")].to_owned(),
            termination_date: row[column("termination_date")].parse().unwrap(),
            times,
        });
    }
    cases
}

/// A data directory holding a dense simulated organisation (120 people, 100 days from 4 January
/// 2010, seed 3) in `format`'s layout — imported as its users would: `import cert DIR`, or
/// `import hr` and `import ndjson` — and the simulation's directory.
fn simulated(format: &str) -> (Env, std::path::PathBuf) {
    let env = Env::new();
    let sim = env.dir.path().join("sim");
    let sim_arg = sim.to_str().unwrap();
    let out = env.run(&[
        "simulate", "--format", format, "--users", "120", "--days", "100", "--seed", "3", "--out",
        sim_arg,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let imports: Vec<Vec<String>> = if format == "cert" {
        vec![vec!["import".into(), "cert".into(), sim_arg.into()]]
    } else {
        ["hr.csv", "events.ndjson"]
            .iter()
            .zip(["hr", "ndjson"])
            .map(|(file, kind)| {
                vec![
                    "import".into(),
                    kind.into(),
                    sim.join(file).to_str().unwrap().into(),
                ]
            })
            .collect()
    };
    for args in imports {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = env.run(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    (env, sim)
}

/// The simulator plants leavers whose account is used after their last day (by themselves or by
/// a colleague). From its HR file (exact dates) every planted row is such a use; from its
/// CERT-layout LDAP snapshots, which only say the month someone left, the rows after that
/// month's end are. Either way every case is found, with exactly those rows, and no other
/// account of the hundreds of people (leavers included) is reported.
#[test]
fn simulated_uses_after_the_last_day_are_found_in_both_layouts() {
    for format in ["ndjson", "cert"] {
        let (env, sim) = simulated(format);
        let cases = after_exit_key(&sim);
        assert!(
            cases.len() >= 2,
            "{format}: the dense profile plants at least two cases"
        );

        // 100 days from 4 January 2010: the last is 13 April.
        let report = json(&env.run(&["--json", "hygiene", "--as-of", "2010-04-13"]));
        let mut found: Vec<&serde_json::Value> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["check"] == "account_used_after_termination")
            .collect();
        found.sort_by_key(|f| f["account"].as_str().unwrap().to_owned());
        let mut expected: Vec<(&str, Vec<&String>)> = cases
            .iter()
            .map(|case| {
                let known_last_day = if format == "cert" {
                    case.termination_date.last_of_month()
                } else {
                    case.termination_date
                };
                let known_last_day = known_last_day.to_string();
                let times = case
                    .times
                    .iter()
                    .filter(|t| t[..10] > *known_last_day)
                    .collect();
                (case.account.as_str(), times)
            })
            .collect();
        expected.sort();
        assert_eq!(
            found
                .iter()
                .map(|f| f["account"].as_str().unwrap())
                .collect::<Vec<_>>(),
            expected
                .iter()
                .map(|(account, _)| *account)
                .collect::<Vec<_>>(),
            "{format}: exactly the planted accounts"
        );
        for (finding, (account, times)) in found.iter().zip(&expected) {
            let evidence = &finding["evidence"];
            assert!(
                !times.is_empty(),
                "{format} {account}: a use the data can date"
            );
            assert_eq!(finding["severity"], "critical");
            assert_eq!(
                evidence["count"],
                times.len(),
                "{format} {account}: {evidence}"
            );
            assert_eq!(
                evidence["first"],
                **times.first().unwrap(),
                "{format} {account}"
            );
            assert_eq!(
                evidence["last"],
                **times.last().unwrap(),
                "{format} {account}"
            );
            assert_eq!(
                finding["events"].as_array().unwrap().len(),
                times.len(),
                "{format} {account}: one ledger leaf per use"
            );
        }
    }
}

/// The simulator's directory export (`accounts.csv`) describes every account of the
/// organisation on the last day, with seeded problems: leavers' accounts left enabled, admins
/// without MFA, dormant admin accounts, orphan contractor accounts and a generic desk account
/// used on the PCs of two or three colleagues. With it imported beside the HR data and the
/// events, `mamori hygiene` reports exactly the answer key — every seeded case, the accounts
/// used after the last day, and nothing about the hundred-odd ordinary accounts — in both
/// layouts.
#[test]
fn simulated_inventory_cases_are_found_exactly_in_both_layouts() {
    for format in ["ndjson", "cert"] {
        let (env, sim) = simulated(format);
        let accounts = sim.join("accounts.csv");
        let imported =
            json(&env.run(&["--json", "import", "accounts", accounts.to_str().unwrap()]));
        assert_eq!(imported["quarantined"], 0, "{format}: {imported}");

        let mut key = csv::Reader::from_path(sim.join("answers/hygiene.csv")).unwrap();
        let mut expected: Vec<(String, String)> = Vec::new();
        let mut desks: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for row in key.records() {
            let row = row.unwrap();
            expected.push((row[0].to_owned(), row[2].to_owned()));
            if &row[0] == "shared_account" {
                desks.insert(
                    row[2].to_owned(),
                    row[3].split(';').map(str::to_owned).collect(),
                );
            }
        }
        expected.sort();
        let checks: std::collections::BTreeSet<&str> =
            expected.iter().map(|(check, _)| check.as_str()).collect();
        assert_eq!(
            checks.into_iter().collect::<Vec<_>>(),
            [
                "account_used_after_termination",
                "dormant_account",
                "generic_account_name",
                "leaver_account_enabled",
                "orphan_account",
                "privileged_without_mfa",
                "shared_account",
            ],
            "{format}: every kind of case is planted"
        );

        // 100 days from 4 January 2010: the last is 13 April.
        let report = json(&env.run(&["--json", "hygiene", "--as-of", "2010-04-13"]));
        let findings = report["findings"].as_array().unwrap();
        let found = checks_and_subjects(&report);
        assert_eq!(found, expected, "{format}: {report:#}");

        // The desk account's finding names the desk staff whose PCs it was used on. Their
        // person ids are their user ids in the CERT layout, `hr.csv`'s numbers otherwise.
        let person_of: std::collections::HashMap<String, String> = if format == "cert" {
            Default::default()
        } else {
            let mut hr = csv::Reader::from_path(sim.join("hr.csv")).unwrap();
            hr.records()
                .map(|row| {
                    let row = row.unwrap();
                    (row[15].to_owned(), row[0].to_owned())
                })
                .collect()
        };
        for finding in findings {
            let account = finding["account"].as_str().unwrap_or_default();
            match finding["check"].as_str().unwrap() {
                "shared_account" => {
                    let mut named: Vec<&str> = finding["evidence"]["usual_hosts_of"]
                        .as_object()
                        .unwrap()
                        .values()
                        .map(|person| person.as_str().unwrap())
                        .collect();
                    named.sort_unstable();
                    let mut staff: Vec<&str> = desks[account]
                        .iter()
                        .map(|user| person_of.get(user).unwrap_or(user).as_str())
                        .collect();
                    staff.sort_unstable();
                    assert_eq!(named, staff, "{format}: {finding}");
                }
                "orphan_account" => assert!(finding["person"].is_null(), "{finding}"),
                "dormant_account" => {
                    let idle = &finding["evidence"]["idle_days"];
                    assert!(idle.is_null() || idle.as_i64().unwrap() >= 90, "{finding}");
                }
                _ => {}
            }
        }
    }
}
