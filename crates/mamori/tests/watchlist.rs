//! End-to-end: HR records and events → `mamori watchlist` and `mamori report departing` on the
//! real binary (docs/watchlist.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MAMORI: &str = env!("CARGO_BIN_EXE_mamori");

fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(MAMORI)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

/// Runs `mamori --data-dir DATA ARGS…`, failing the test on a non-zero exit.
fn mamori(data: &Path, args: &[&str]) -> Output {
    let out = run(data, args);
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

/// One person with a notice date, one leaving without one, one who left long ago, one staying.
const HR: &str = "\
person_id,valid_from,name,email,department,employment_type,hire_date,notice_date,termination_date,accounts
E1001,2015-04-01,山田 太郎,taro.yamada@example.co.jp,設計部,employee,2015-04-01,,,ACM2278
E1001,2025-02-14,山田 太郎,taro.yamada@example.co.jp,設計部,employee,2015-04-01,2025-02-14,2025-03-31,ACM2278;yamada-t
E2002,2020-10-01,Sato Hanako,hanako.sato@example.co.jp,営業部,contract,2020-10-01,,2025-03-20,sato-h
E3003,2019-04-01,Suzuki Ichiro,ichiro.suzuki@example.co.jp,経理部,employee,2019-04-01,2023-01-10,2023-02-28,suzuki-i
E4004,2018-04-01,Tanaka Jiro,jiro.tanaka@example.co.jp,設計部,employee,2018-04-01,,,tanaka-j
";

fn event(time: &str, kind: &str, user: &str, rest: &str) -> String {
    format!(
        r#"{{"time":"{time}","kind":"{kind}","actor":{{"user":"{user}","host":"PC-1234"}},"outcome":"success"{rest}}}"#
    )
}

/// E1001's history: a quiet baseline (Aug–Nov 2024), a busy look-back (Nov 2024 – 13 Feb
/// 2025) and more copies since notice; plus other people's events and one too old to count.
/// Returns the lines and how many of them are E1001's inside the report's windows.
fn events() -> (String, usize) {
    let mut lines = Vec::new();
    let mut counted = 0;
    let mut push = |line: String, is_counted: bool| {
        lines.push(line);
        counted += usize::from(is_counted);
    };
    // Baseline: 2024-08-18 .. 2024-11-15.
    push(
        event(
            "2024-09-02T10:00:00Z",
            "file.copy",
            "ACM2278",
            r#","object":{"path":"C:/share/minutes.docx"},"destination":{"kind":"removable"}"#,
        ),
        true,
    );
    push(
        event(
            "2024-09-03T10:00:00Z",
            "print",
            "ACM2278",
            r#","object":{"name":"minutes.docx"},"raw":{"pages":2}"#,
        ),
        true,
    );
    push(
        event(
            "2024-09-04T10:00:00Z",
            "email.send",
            "ACM2278",
            r#","destination":{"kind":"email","recipients":["boss@example.co.jp"]}"#,
        ),
        true,
    );
    for day in 10..15 {
        push(
            event(
                &format!("2024-10-{day}T10:00:00Z"),
                "file.read",
                "ACM2278",
                r#","object":{"path":"C:/design/spec.docx"}"#,
            ),
            true,
        );
    }
    // Look-back: 2024-11-16 .. 2025-02-13.
    for i in 0..12 {
        let labels = if i < 6 {
            r#","labels":["社外秘"]"#
        } else {
            ""
        };
        let findings = if i < 2 {
            r#","raw":{"content_findings":{"my_number":{"count":3,"hashes":[]}}}"#
        } else {
            ""
        };
        push(
            event(
                &format!("2025-01-{:02}T10:00:00Z", i + 6),
                "file.copy",
                "ACM2278",
                &format!(
                    r#","object":{{"path":"C:/design/drawing-{i}.dwg"{labels}}},"destination":{{"kind":"removable","name":"KINGSTON DT"}}{findings}"#
                ),
            ),
            true,
        );
    }
    for i in 0..4 {
        push(
            event(
                &format!("2025-01-2{i}T11:00:00Z"),
                "print",
                "ACM2278",
                r#","object":{"name":"原価表.xlsx","labels":["社外秘"]},"raw":{"pages":10}"#,
            ),
            true,
        );
    }
    for i in 0..3 {
        push(
            event(
                &format!("2025-02-0{}T12:00:00Z", i + 3),
                "email.send",
                "yamada-t",
                r#","destination":{"kind":"email","recipients":["taro.private@gmail.com"]},"raw":{"attachment_count":2}"#,
            ),
            true,
        );
    }
    push(
        event(
            "2025-02-06T12:00:00Z",
            "email.send",
            "ACM2278",
            r#","destination":{"kind":"email","recipients":["team@example.co.jp"]}"#,
        ),
        true,
    );
    for i in 0..2 {
        push(
            event(
                &format!("2025-02-1{i}T09:00:00Z"),
                "http.upload",
                "ACM2278",
                r#","object":{"url":"https://www.dropbox.com/upload","name":"drawings.zip"},"destination":{"kind":"cloud","domain":"dropbox.com"}"#,
            ),
            true,
        );
    }
    push(
        event(
            "2025-02-12T09:00:00Z",
            "file.copy",
            "yamada-t",
            r#","object":{"path":"C:/design/all.zip"},"destination":{"kind":"cloud","name":"OneDrive personal"}"#,
        ),
        true,
    );
    push(
        event(
            "2024-12-02T09:00:00Z",
            "file.read",
            "ACM2278",
            r#","object":{"path":"C:/design/spec.docx"}"#,
        ),
        true,
    );
    push(
        event(
            "2024-12-02T09:05:00Z",
            "file.open",
            "ACM2278",
            r#","object":{"path":"C:/design/cost.xlsx"}"#,
        ),
        true,
    );
    push(event("2024-12-04T22:00:00Z", "logon", "ACM2278", ""), true);
    push(event("2024-12-05T09:00:00Z", "logon", "ACM2278", ""), true);
    push(
        event(
            "2024-12-05T09:10:00Z",
            "account.group_add",
            "ACM2278",
            r#","object":{"name":"ACM2278"},"destination":{"kind":"local","name":"Design-Admins"}"#,
        ),
        true,
    );
    // Since notice: 2025-02-14 .. 2025-03-01.
    for i in 0..6 {
        push(
            event(
                &format!("2025-02-{}T10:00:00Z", 17 + i),
                "file.copy",
                "ACM2278",
                &format!(
                    r#","object":{{"path":"C:/design/late-{i}.dwg"}},"destination":{{"kind":"removable"}}"#
                ),
            ),
            true,
        );
    }
    push(
        event(
            "2025-02-25T10:00:00Z",
            "http.upload",
            "yamada-t",
            r#","object":{"url":"https://wetransfer.com/x"},"destination":{"kind":"web","domain":"wetransfer.com"}"#,
        ),
        true,
    );
    // Not in the report: too old, after the as-of day, or someone else's.
    push(
        event(
            "2024-01-05T10:00:00Z",
            "file.copy",
            "ACM2278",
            r#","destination":{"kind":"removable"}"#,
        ),
        false,
    );
    push(
        event(
            "2025-03-05T10:00:00Z",
            "file.copy",
            "ACM2278",
            r#","destination":{"kind":"removable"}"#,
        ),
        false,
    );
    // After the last day (31 March): the account is still used.
    push(event("2025-04-03T21:00:00Z", "logon", "ACM2278", ""), false);
    push(
        event(
            "2025-04-03T21:10:00Z",
            "file.copy",
            "yamada-t",
            r#","destination":{"kind":"removable"}"#,
        ),
        false,
    );
    push(
        event(
            "2025-01-10T10:00:00Z",
            "file.copy",
            "sato-h",
            r#","destination":{"kind":"removable"}"#,
        ),
        false,
    );
    push(
        event("2025-01-10T10:00:00Z", "print", "tanaka-j", ""),
        false,
    );
    let mut text = String::new();
    for line in lines {
        writeln!(text, "{line}").unwrap();
    }
    (text, counted)
}

const PRIVACY: &str = r#"
contact = "privacy@example.co.jp"
[controller]
en = "Example Co."
ja = "株式会社サンプル"
[responsible]
en = "CISO"
ja = "CISO"
[[purposes]]
id = "leak-prevention"
en = "Preventing leaks of confidential information"
ja = "機密情報の漏えい防止"
"#;

const JUSTIFICATION: &str = "E1001 resigned; HR asked for the standard leaver review";

fn report(data: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "report",
        "departing",
        "--person",
        "E1001",
        "--as-of",
        "2025-03-01",
        "--purpose",
        "leak-prevention",
        "--justification",
        JUSTIFICATION,
    ];
    args.extend_from_slice(extra);
    run(data, &args)
}

fn setup() -> (tempfile::TempDir, PathBuf, usize) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    mamori(&data, &["init", "--origin", "test.mamori.invalid/events"]);
    let hr = dir.path().join("hr.csv");
    std::fs::write(&hr, HR).unwrap();
    mamori(&data, &["import", "hr", &path(&hr)]);
    let (lines, counted) = events();
    let events = dir.path().join("events.ndjson");
    std::fs::write(&events, lines).unwrap();
    let imported = json(&mamori(
        &data,
        &["--json", "import", "ndjson", &path(&events)],
    ));
    assert_eq!(imported["quarantined"], 0, "{imported}");
    (dir, data, counted)
}

#[test]
fn the_watch_list_and_the_departing_report_end_to_end() {
    let (dir, data, counted) = setup();

    // The watch list: E1001 from notice, E2002 30 days before the last day; E3003 left the list
    // long ago and E4004 is staying.
    let list = json(&mamori(
        &data,
        &["--json", "watchlist", "--as-of", "2025-03-01"],
    ));
    let persons = list["persons"].as_array().unwrap();
    let ids: Vec<&str> = persons
        .iter()
        .map(|p| p["person_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["E1001", "E2002"], "{list}");
    assert_eq!(persons[0]["reason"], "notice");
    assert_eq!(persons[0]["since"], "2025-02-14");
    assert_eq!(persons[0]["until"], "2025-04-30");
    assert_eq!(persons[0]["days_left"], 60);
    assert_eq!(persons[1]["reason"], "before_termination");
    assert_eq!(persons[1]["since"], "2025-02-18");
    let text =
        String::from_utf8(mamori(&data, &["watchlist", "--as-of", "2025-03-01"]).stdout).unwrap();
    assert!(
        text.contains("E1001\t山田 太郎\t2025-02-14\tnotice\t2025-03-31\t2025-04-30\t60"),
        "{text}"
    );
    let earlier = json(&mamori(
        &data,
        &["--json", "watchlist", "--as-of", "2023-02-01"],
    ));
    assert_eq!(earlier["persons"][0]["person_id"], "E3003", "{earlier}");

    // Without privacy.toml no purpose can be named: refused, and not logged.
    let refused = report(&data, &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("privacy.toml"));
    std::fs::write(data.join("privacy.toml"), PRIVACY).unwrap();
    let undeclared = run(
        &data,
        &[
            "report",
            "departing",
            "--person",
            "E1001",
            "--as-of",
            "2025-03-01",
            "--purpose",
            "curiosity",
            "--justification",
            JUSTIFICATION,
        ],
    );
    assert_eq!(undeclared.status.code(), Some(2));
    let short = run(
        &data,
        &[
            "report",
            "departing",
            "--person",
            "E1001",
            "--as-of",
            "2025-03-01",
            "--purpose",
            "leak-prevention",
            "--justification",
            "because",
        ],
    );
    assert_eq!(short.status.code(), Some(2));
    let staying = run(
        &data,
        &[
            "report",
            "departing",
            "--person",
            "E4004",
            "--as-of",
            "2025-03-01",
            "--purpose",
            "leak-prevention",
            "--justification",
            JUSTIFICATION,
        ],
    );
    assert_eq!(staying.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&staying.stderr).contains("not a leaver"));

    // JSON: the category counts per period.
    let out = dir.path().join("report.json");
    let written = report(
        &data,
        &["--format", "json", "--out", out.to_str().unwrap(), "--json"],
    );
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    let written = json(&written);
    assert_eq!(written["events"], counted as u64, "{written}");
    let report_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let periods = &report_json["periods"];
    let lookback = &periods["lookback"]["counts"];
    assert_eq!(lookback["copied"], 12, "{lookback}");
    assert_eq!(lookback["printed"], 4);
    assert_eq!(lookback["mailed"], 4);
    assert_eq!(lookback["uploaded"], 3);
    assert_eq!(lookback["accessed"], 2);
    assert_eq!(lookback["account_changes"], 1);
    assert_eq!(lookback["off_hours_logons"], 1);
    assert_eq!(periods["lookback"]["events"], 28);
    assert_eq!(periods["lookback"]["details"]["external_mails"], 3);
    assert_eq!(periods["lookback"]["details"]["removable_copies"], 12);
    assert_eq!(periods["lookback"]["details"]["print_pages"], 40);
    assert_eq!(periods["lookback"]["labels"]["社外秘"]["copied"], 6);
    assert_eq!(periods["lookback"]["labels"]["社外秘"]["printed"], 4);
    assert_eq!(periods["lookback"]["findings"]["my_number"], 6);
    assert_eq!(periods["baseline"]["counts"]["copied"], 1);
    assert_eq!(periods["baseline"]["counts"]["accessed"], 5);
    assert_eq!(periods["since_entry"]["counts"]["copied"], 6);
    assert_eq!(periods["since_entry"]["counts"]["uploaded"], 1);
    assert_eq!(report_json["windows"]["lookback_from"], "2024-11-16");
    assert_eq!(report_json["windows"]["baseline_from"], "2024-08-18");
    assert_eq!(report_json["justification"], JUSTIFICATION);
    let news: Vec<&str> = report_json["new_destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d[0].as_str().unwrap())
        .collect();
    assert!(
        news.contains(&"gmail.com") && news.contains(&"dropbox.com"),
        "{news:?}"
    );
    assert!(!news.contains(&"example.co.jp"), "{news:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the report is readable by its owner only");
    }

    // Markdown in English and Japanese: headings and the sentences that say what changed.
    let en = String::from_utf8(
        mamori(
            &data,
            &[
                "report",
                "departing",
                "--person",
                "E1001",
                "--as-of",
                "2025-03-01",
                "--purpose",
                "leak-prevention",
                "--justification",
                JUSTIFICATION,
            ],
        )
        .stdout,
    )
    .unwrap();
    for expected in [
        "# Departing-employee look-back report: E1001",
        "## Summary",
        "## Activity by category",
        "## Week by week",
        "## Top files and destinations",
        "## Labels and content findings",
        "E1001 (山田 太郎) entered the departing-employee watch list on 2025-02-14 (notice given; last day 2025-03-31) and stays on it until 2025-04-30.",
        "copied 12 files to removable media",
        "sent 3 mails to outside addresses (3 outside recipients)",
        "printed 4 documents (40 pages)",
        "made 1 account or rights change and logged on 1 time outside working hours.",
        "Copied: 12 events in the look-back against 1 in the 90 days before (×12.0).",
        "Copied since entering the list: 6 events in 16 days",
        "| Copied | 1 | 12 **!** | ×12.0 | 6 **!** |",
        "| C:/design/drawing-0.dwg | 1 | 0 |",
    ] {
        assert!(en.contains(expected), "missing {expected:?} in\n{en}");
    }
    let ja = String::from_utf8(
        mamori(
            &data,
            &[
                "report",
                "departing",
                "--person",
                "E1001",
                "--as-of",
                "2025-03-01",
                "--lang",
                "ja",
                "--purpose",
                "leak-prevention",
                "--justification",
                JUSTIFICATION,
            ],
        )
        .stdout,
    )
    .unwrap();
    for expected in [
        "# 退職予定者ルックバックレポート：E1001",
        "## 概要",
        "## カテゴリ別の件数",
        "## 週ごとの推移",
        "E1001（山田 太郎）は 2025-02-14 に退職者ウォッチリストに入りました（退職の申出、最終日 2025-03-31）。2025-04-30 まで掲載されます。",
        "USB 等へ 12 ファイルをコピー",
        "コピー：ルックバック期間に 12 件（その前の 90 日間は 1 件、12.0 倍）。",
        "| 利用目的 | 機密情報の漏えい防止 (leak-prevention): ",
    ] {
        assert!(ja.contains(expected), "missing {expected:?} in\n{ja}");
    }

    // CSV: one row per event, with its period and category.
    let csv = String::from_utf8(report(&data, &["--format", "csv"]).stdout).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(
        rows[0].starts_with("leaf_index,time,day,period,category,kind"),
        "{}",
        rows[0]
    );
    assert_eq!(rows.len() - 1, counted, "{csv}");
    let copied_lookback = rows
        .iter()
        .filter(|r| r.contains(",lookback,copied,file.copy,"))
        .count();
    assert_eq!(copied_lookback, 12);
    assert_eq!(
        rows.iter()
            .filter(|r| r.contains(",lookback,other,logon,"))
            .count(),
        1
    );
    assert!(
        rows.iter().any(|r| r.contains(",社外秘,my_number:3,")),
        "{csv}"
    );

    // After the last day: the use of the accounts is said first, with its figures.
    let later = |lang: &str, format: &str| {
        let out = mamori(
            &data,
            &[
                "report",
                "departing",
                "--person",
                "E1001",
                "--as-of",
                "2025-04-10",
                "--lang",
                lang,
                "--format",
                format,
                "--purpose",
                "leak-prevention",
                "--justification",
                JUSTIFICATION,
            ],
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let after: serde_json::Value = serde_json::from_str(&later("en", "json")).unwrap();
    let after = &after["after_last_day"];
    assert_eq!(after["last_day"], "2025-03-31", "{after}");
    assert_eq!(
        (after["events"].as_u64(), after["days"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(after["first"], "2025-04-03T21:00:00Z");
    assert_eq!(after["hosts"][0][0], "PC-1234");
    let en_after = later("en", "md");
    for expected in [
        "| Used after the last day | 2 events on 1 day, 2025-04-03 21:00 UTC – 2025-04-03 21:10 UTC (PC-1234) **!** |",
        "Their accounts were used after the last day 2025-03-31: 2 events on 1 day",
        "| On the list until | 2025-04-30 (20 days left) |",
    ] {
        assert!(
            en_after.contains(expected),
            "missing {expected:?} in\n{en_after}"
        );
    }
    let ja = later("ja", "md");
    assert!(ja.contains("| 最終日後の使用 | 1 日間に 2 件（2025-04-03 21:00 UTC – 2025-04-03 21:10 UTC、PC-1234） **!** |"), "{ja}");
    // A report made before the last day says nothing of it.
    assert!(!en.contains("Used after the last day"), "{en}");

    // Every report is in the access log with its purpose and justification; refusals are not.
    let log = json(&mamori(&data, &["--json", "access-log", "--limit", "100"]));
    let records = log["access"].as_array().unwrap();
    let reports: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["action"] == "report.departing")
        .collect();
    assert_eq!(reports.len(), 7, "{log}");
    let target = reports.last().unwrap()["target"].as_str().unwrap();
    assert!(target.starts_with("person E1001 2024-11-16..2025-02-14 as of 2025-03-01, json file, purpose leak-prevention: "), "{target}");
    assert!(target.ends_with(JUSTIFICATION), "{target}");
    assert!(
        records.iter().any(
            |r| r["action"] == "watchlist.list" && r["target"] == "as of 2025-03-01: 2 persons"
        ),
        "{log}"
    );
    mamori(&data, &["verify"]);
}
