//! End-to-end tests: they drive the real `mamori` binary on a temporary data directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod support;

use support::*;

#[test]
fn imports_verify_and_a_second_import_of_the_same_file_adds_nothing() {
    let env = Env::new();
    let input = env.file("events.ndjson", &events(20_000));
    let (out, summary) = import_json(&env, &input);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(summary["imported"], 20_000);
    assert_eq!(summary["tree_size"], 20_000);
    assert!(
        summary["checkpoint"]
            .as_str()
            .unwrap()
            .contains("\n20000\n")
    );

    let (again, summary) = import_json(&env, &input);
    assert!(again.status.success());
    assert_eq!(summary["imported"], 0);
    assert_eq!(summary["duplicates"], 20_000);
    assert_eq!(summary["tree_size"], 20_000);

    let verify = env.run(&["--json", "verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    let report: serde_json::Value = serde_json::from_str(stdout(&verify).trim()).unwrap();
    assert_eq!(report["leaves"], 20_000);
    assert_eq!(report["ok"], true);
}

#[test]
fn bad_lines_are_quarantined_with_line_and_reason_and_the_rest_is_imported() {
    let env = Env::new();
    let good = events(3);
    let lines: Vec<&str> = good.lines().collect();
    let input = env.file(
        "mixed.ndjson",
        &format!(
            "{}\n{{not json\n{}\n{}\n{}\n",
            lines[0],
            r#"{"time":"2026-01-05T09:12:00Z","kind":"file.cpy","actor":{"user":"A"},"outcome":"success"}"#,
            lines[1],
            lines[2]
        ),
    );
    let (out, summary) = import_json(&env, &input);
    assert_eq!(out.status.code(), Some(2), "bad input exits 2");
    assert_eq!(summary["imported"], 3);
    assert_eq!(summary["quarantined"], 2);
    let quarantine = std::fs::read_to_string(summary["quarantine_file"].as_str().unwrap()).unwrap();
    let records: Vec<serde_json::Value> = quarantine
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records[0]["line"], 2);
    assert_eq!(records[0]["raw"], "{not json");
    assert_eq!(records[1]["line"], 3);
    assert!(
        records[1]["reason"].as_str().unwrap().contains("kind"),
        "{}",
        records[1]["reason"]
    );
}

#[test]
fn verify_names_the_first_edited_event() {
    // More events than the verifier reads ahead, so failing early must stop the reader too.
    let env = with_events(60_000);
    // The bodies file holds event n on line n: edit one, keeping its length.
    let bodies = env.data().join("store.ndjson");
    let text = std::fs::read_to_string(&bodies).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(lines[1234].contains("part-1234."), "{}", lines[1234]);
    lines[1234] = lines[1234].replace("part-1234.", "part-9999.");
    std::fs::write(&bodies, lines.join("\n") + "\n").unwrap();
    let out = run_with_deadline(env.command(&["verify"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("leaf 1234"), "{}", stderr(&out));
}

#[test]
fn verify_names_a_deleted_event() {
    let env = with_events(2_000);
    env.sqlite()
        .execute("DELETE FROM events WHERE leaf_index = 777", [])
        .unwrap();
    let out = env.run(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("777"), "{}", stderr(&out));
}

#[test]
fn verify_names_the_leaf_under_an_edited_tile_byte() {
    let env = with_events(2_000);
    // Leaf 1234 is hash 210 of level-0 tile 4: byte 7 of it in the packed level-0 hashes.
    let level0 = env.ledger_file("hashes/00");
    let mut bytes = std::fs::read(&level0).unwrap();
    bytes[(4 * 256 + 210) * 32 + 7] ^= 0x01;
    std::fs::write(&level0, bytes).unwrap();
    let out = env.run(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("leaf 1234"), "{}", stderr(&out));
    assert!(stderr(&out).contains("tile/0/004"), "{}", stderr(&out));
}

#[test]
fn verify_rejects_an_untrusted_key() {
    let env = with_events(10);
    let other = Env::new();
    let other_key = stdout(&other.run(&["keys", "show"]));
    let out = env.run(&["verify", "--key", other_key.trim()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn evidence_bundle_verifies_offline_and_any_changed_byte_is_rejected() {
    let env = with_events(500);
    let bundle = env.dir.path().join("evidence.zip");
    // ACM0002 has events 100..150, one minute apart from 01:40.
    let out = env.run(&[
        "--json",
        "evidence",
        "export",
        "--person",
        "ACM0002",
        "--from",
        "2026-01-05T01:50:00Z",
        "--to",
        "2026-01-05T02:00:00Z",
        "--out",
        bundle.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(summary["events"], 10);

    // The verifier needs no data directory.
    let key = stdout(&env.run(&["keys", "show"]));
    let elsewhere = tempfile::tempdir().unwrap();
    let verify = |file: &Path| {
        Command::new(MAMORI)
            .current_dir(elsewhere.path())
            .args(["--data-dir", "/nonexistent", "--json", "evidence", "verify"])
            .arg(file)
            .args(["--key", key.trim()])
            .output()
            .unwrap()
    };
    let ok = verify(&bundle);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let report: serde_json::Value = serde_json::from_str(stdout(&ok).trim()).unwrap();
    assert_eq!(report["events"], 10);
    assert_eq!(report["key_trusted"], true);

    let original = std::fs::read(&bundle).unwrap();
    let step = (original.len() / 97).max(1);
    for position in (0..original.len()).step_by(step) {
        let mut altered = original.clone();
        altered[position] ^= 0x20;
        let path = elsewhere.path().join("altered.zip");
        std::fs::write(&path, &altered).unwrap();
        let out = verify(&path);
        assert_eq!(
            out.status.code(),
            Some(1),
            "byte {position} changed but accepted"
        );
    }
}

#[test]
fn killing_an_import_midway_leaves_store_and_ledger_in_agreement() {
    let env = Env::new();
    let input = env.file("events.ndjson", &events(150_000));
    for delay_ms in [150u64, 600] {
        let mut child = env
            .command(&["import", "ndjson", input.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        let out = env.run(&["verify"]);
        assert!(
            out.status.success(),
            "after kill at {delay_ms} ms: {}",
            stderr(&out)
        );
    }
    let (out, summary) = import_json(&env, &input);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        summary["tree_size"], 150_000,
        "re-running the import completes it"
    );
    let out = env.run(&["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn simulated_events_import_without_rejections_and_bad_options_exit_2() {
    let env = Env::new();
    let out_dir = env.dir.path().join("sim");
    let out = run_with_deadline(env.command(&[
        "--json",
        "simulate",
        "--out",
        out_dir.to_str().unwrap(),
        "--format",
        "ndjson",
        "--users",
        "40",
        "--days",
        "7",
    ]));
    assert!(out.status.success(), "simulate: {}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["people"], 40);
    let rows = summary["rows"].as_u64().unwrap();
    assert!(rows > 1000, "{summary}");
    let (out, imported) = import_json(&env, &out_dir.join("events.ndjson"));
    assert!(out.status.success(), "import: {}", stderr(&out));
    assert_eq!(imported["imported"].as_u64(), Some(rows), "{imported}");
    assert_eq!(imported["quarantined"].as_u64(), Some(0), "{imported}");

    let bad = env.run(&[
        "simulate",
        "--out",
        out_dir.to_str().unwrap(),
        "--format",
        "xml",
    ]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    let too_small = env.run(&[
        "simulate",
        "--out",
        out_dir.to_str().unwrap(),
        "--users",
        "3",
    ]);
    assert_eq!(too_small.status.code(), Some(2), "{}", stderr(&too_small));
}

#[test]
fn eval_reads_the_simulators_answer_key_and_says_when_scores_are_all_zero() {
    let env = Env::new();
    let out_dir = env.dir.path().join("sim");
    let out = run_with_deadline(env.command(&[
        "simulate",
        "--out",
        out_dir.to_str().unwrap(),
        "--format",
        "ndjson",
        "--users",
        "200",
        "--days",
        "28",
        "--profile",
        "dense",
        "--seed",
        "3",
    ]));
    assert!(out.status.success(), "simulate: {}", stderr(&out));
    let (out, _) = import_json(&env, &out_dir.join("events.ndjson"));
    assert!(out.status.success(), "import: {}", stderr(&out));
    let answers = out_dir.join("answers");
    let incidents = std::fs::read_to_string(answers.join("insiders.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert!(incidents > 0);

    let out = env.run(&["--json", "eval", "--answers", answers.to_str().unwrap()]);
    assert!(out.status.success(), "eval: {}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["all_scores_zero"], true, "{report}");
    assert_eq!(
        report["overall"]["incidents"].as_u64(),
        Some(incidents as u64)
    );
    assert_eq!(report["incidents_without_activity"], 0, "{report}");
    assert!(report["malicious_person_days"].as_u64().unwrap() >= incidents as u64);
    // Constant scores: AUC exactly one half; the random baseline is there to compare with.
    assert_eq!(report["overall"]["model"]["auc"], 0.5);
    assert!(report["overall"]["random"]["budgets"][1]["recall"].is_number());
    let text = env.run(&["eval", "--answers", answers.to_str().unwrap()]);
    assert!(
        stdout(&text).contains("every stored score is 0"),
        "{}",
        stdout(&text)
    );

    // An answer key that names an unknown column is bad input.
    let broken = env.dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(
        broken.join("insiders.csv"),
        "dataset,scenario,who\n4.2,1,X\n",
    )
    .unwrap();
    let out = env.run(&["eval", "--answers", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("insiders.csv"), "{}", stderr(&out));
}

/// `--json` output lines of a command, parsed.
fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    stdout(out)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn cert_layout_imports_with_persons_resumes_and_quarantines_a_cut_last_line() {
    let env = Env::new();
    let set = env.dir.path().join("cert");
    let out = run_with_deadline(env.command(&[
        "--json",
        "simulate",
        "--out",
        set.to_str().unwrap(),
        "--format",
        "cert",
        "--users",
        "60",
        "--days",
        "35",
        "--seed",
        "11",
    ]));
    assert!(out.status.success(), "simulate: {}", stderr(&out));
    let simulated: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = |file: &str| -> u64 {
        simulated["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["file"] == file)
            .map(|f| f["rows"].as_u64().unwrap())
            .unwrap()
    };
    // Cut http.csv in the middle of its last row, as an interrupted download would.
    let http = set.join("http.csv");
    let bytes = std::fs::read(&http).unwrap();
    std::fs::write(&http, &bytes[..bytes.len() - 20]).unwrap();

    let out = run_with_deadline(env.command(&["--json", "import", "cert", set.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let lines = json_lines(&out);
    let ldap = &lines[0];
    // The snapshots are taken at the end of January and on the last day, 7 February: a person
    // who left during January is in neither.
    let truth = std::fs::read_to_string(set.join("answers/truth.ndjson")).unwrap();
    let in_a_snapshot = truth
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|person| {
            let hired = person["hire_date"].as_str().unwrap();
            let left = person["termination_date"].as_str();
            ["2010-01-31", "2010-02-07"]
                .iter()
                .any(|day| hired <= *day && left.is_none_or(|last| *day <= last))
        })
        .count();
    assert!(in_a_snapshot < 60, "someone left in January");
    assert_eq!(ldap["persons"], in_a_snapshot, "{ldap}");
    let summary = |name: &str| {
        lines
            .iter()
            .find(|l| l["input"].as_str().is_some_and(|i| i.ends_with(name)))
            .unwrap_or_else(|| panic!("no summary for {name}: {lines:?}"))
            .clone()
    };
    for file in ["logon.csv", "device.csv", "file.csv", "email.csv"] {
        assert_eq!(
            summary(file)["imported"].as_u64(),
            Some(rows(file)),
            "{file}"
        );
        assert_eq!(summary(file)["quarantined"], 0, "{file}");
    }
    let http_summary = summary("http.csv");
    assert_eq!(
        http_summary["imported"].as_u64(),
        Some(rows("http.csv") - 1)
    );
    assert_eq!(http_summary["quarantined"], 1);
    let quarantine_file = http_summary["quarantine_file"].as_str().unwrap();
    let quarantined = std::fs::read_to_string(quarantine_file).unwrap();
    assert!(quarantined.contains("http.csv"), "{quarantined}");
    // Web content is never stored as text, not even in the quarantine.
    let content_word = "wikileaks";
    assert!(!quarantined.contains(content_word));

    // Accounts are linked to the LDAP persons: evidence by person.
    let answers = set.join("answers");
    let out = env.run(&["--json", "eval", "--answers", answers.to_str().unwrap()]);
    assert!(out.status.success(), "eval: {}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["persons"], 60, "{report}");

    // A second run resumes every file at its end: nothing read again.
    let out = run_with_deadline(env.command(&["--json", "import", "cert", set.to_str().unwrap()]));
    assert!(out.status.code().is_some(), "{}", stderr(&out));
    for line in json_lines(&out)
        .iter()
        .filter(|l| l.get("records").is_some())
    {
        assert_eq!(line["records"], 0, "{line}");
    }
    // A changed file is read again from the start; what is already stored is not stored twice.
    let mut logon = std::fs::read(set.join("logon.csv")).unwrap();
    logon
        .extend_from_slice(b"{Z9Z9-Z9ZZ99ZZ-9999ZZZZ},01/05/2010 07:00:00,XYZ0001,PC-0001,Logon\n");
    std::fs::write(set.join("logon.csv"), logon).unwrap();
    let out = run_with_deadline(env.command(&["--json", "import", "cert", set.to_str().unwrap()]));
    let lines = json_lines(&out);
    let logon = lines
        .iter()
        .find(|l| {
            l["input"]
                .as_str()
                .is_some_and(|i| i.ends_with("logon.csv"))
        })
        .unwrap();
    assert_eq!(
        logon["records"].as_u64(),
        Some(rows("logon.csv") + 1),
        "{logon}"
    );
    assert_eq!(logon["imported"], 1, "{logon}");
    assert!(env.run(&["verify"]).status.success());
}

#[test]
fn hr_csv_links_accounts_to_persons_for_evidence() {
    let env = Env::new();
    let hr = env.file(
        "hr.csv",
        "person_id,valid_from,name,department,accounts,termination_date\n\
         E100,2026-01-01,山田 花子,設計部,ACM0001;ACM0002,\n\
         E100,2026-03-01,山田 花子,営業部,ACM0001;ACM0002,2026-03-31\n\
         E200,2026-01-01,,設計部,ACM0003,\n",
    );
    let out = env.run(&["--json", "import", "hr", hr.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an empty name is bad input: {}",
        stderr(&out)
    );
    let summary: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(summary["versions"]["added"], 2, "{summary}");
    assert_eq!(summary["quarantined"], 1, "{summary}");
    let again = env.run(&["--json", "import", "hr", hr.to_str().unwrap()]);
    let summary: serde_json::Value = serde_json::from_str(stdout(&again).trim()).unwrap();
    assert_eq!(summary["versions"]["unchanged"], 2, "{summary}");

    // Events of both accounts, exported by the person.
    let (out, _) = import_json(&env, &env.file("events.ndjson", &events(300)));
    assert!(out.status.success(), "{}", stderr(&out));
    let bundle = env.dir.path().join("e100.zip");
    let out = env.run(&[
        "--json",
        "evidence",
        "export",
        "--person",
        "E100",
        "--from",
        "2000-01-01",
        "--to",
        "2100-01-01",
        "--out",
        bundle.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let exported: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let by_account = |account: &str| {
        let out = env.run(&[
            "--json",
            "evidence",
            "export",
            "--person",
            account,
            "--from",
            "2000-01-01",
            "--to",
            "2100-01-01",
            "--out",
            env.dir
                .path()
                .join(format!("{account}.zip"))
                .to_str()
                .unwrap(),
        ]);
        let value: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        value["events"].as_u64().unwrap()
    };
    let (one, two) = (by_account("ACM0001"), by_account("ACM0002"));
    assert!(one > 0 && two > 0);
    assert_eq!(exported["events"].as_u64(), Some(one + two));
}

/// SigmaHQ's regression logs, read in place (not in the repository: see
/// `crates/mamori-ingest/tests/evtx.rs`).
const SIGMA_REGRESSION_DATA: &str = "/work/shared/testdata/sigma/regression_data";

#[test]
fn evtx_directories_import_recursively_and_verify() {
    if !Path::new(SIGMA_REGRESSION_DATA).is_dir() {
        eprintln!("note: {SIGMA_REGRESSION_DATA} is missing; skipping");
        return;
    }
    let env = Env::new();
    let out = env.run(&["--json", "import", "evtx", SIGMA_REGRESSION_DATA]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summaries = json_lines(&out);
    assert!(summaries.len() > 100, "{} files", summaries.len());
    let records: u64 = summaries
        .iter()
        .map(|s| s["records"].as_u64().unwrap())
        .sum();
    let imported: u64 = summaries
        .iter()
        .map(|s| s["imported"].as_u64().unwrap())
        .sum();
    let duplicates: u64 = summaries
        .iter()
        .map(|s| s["duplicates"].as_u64().unwrap())
        .sum();
    assert_eq!(imported + duplicates, records);
    assert!(summaries.iter().all(|s| s["quarantined"] == 0));

    let verify = env.run(&["--json", "verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    let report: serde_json::Value = serde_json::from_str(stdout(&verify).trim()).unwrap();
    assert_eq!(report["leaves"], imported);
    assert_eq!(report["ok"], true);
}

#[test]
fn a_file_that_is_not_evtx_is_quarantined_and_exits_2() {
    let env = Env::new();
    let input = env.file("Security.evtx", "not an event log\n");
    let out = env.run(&["--json", "import", "evtx", input.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let summary = &json_lines(&out)[0];
    assert_eq!(summary["quarantined"], 1);
    assert_eq!(summary["imported"], 0);
    let quarantine = std::fs::read_to_string(summary["quarantine_file"].as_str().unwrap()).unwrap();
    assert!(quarantine.contains("not an EVTX file"), "{quarantine}");

    let empty = env.dir.path().join("no-logs");
    std::fs::create_dir(&empty).unwrap();
    let out = env.run(&["import", "evtx", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no .evtx files"), "{}", stderr(&out));
}

/// `../shared/testdata/sigma` beside the repository (where CI has it), else the developer
/// machines' `/work/shared`; `None` (the test prints a note and passes) when neither exists.
fn sigma_testdata() -> Option<PathBuf> {
    [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/sigma"),
        PathBuf::from("/work/shared/testdata/sigma"),
    ]
    .into_iter()
    .find(|p| p.join("regression_data").is_dir())
    .or_else(|| {
        eprintln!("note: ../shared/testdata/sigma is missing; skipping");
        None
    })
}

#[test]
fn the_sigmahq_regression_suite_passes_but_for_four_miscounted_cases() {
    let Some(root) = sigma_testdata() else { return };
    let mut args = vec!["--json".to_string(), "rules".into(), "conformance".into()];
    for dir in ["rules", "rules-emerging-threats", "rules-threat-hunting"] {
        args.push("--rules".into());
        args.push(root.join(dir).display().to_string());
    }
    args.push("--regression".into());
    args.push(root.join("regression_data").display().to_string());
    let out = Command::new(MAMORI).args(&args).output().unwrap();
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(report["summary"]["total"], 202, "{}", stderr(&out));
    // These four name fewer matches than their logs hold events the rule plainly matches
    // (docs/rules.md, "Conformance"); every other case must pass.
    let miscounted = [
        "0b9ad457-2554-44c1-82c2-d56a99c42377",
        "8fbf3271-1ef6-4e94-8210-03c2317947f6",
        "45e112d0-7759-4c2a-aa36-9f8fb79d3393",
        "c7dcacd0-cc59-4004-b0a4-1d6cdebe6f3e",
    ];
    let failed: Vec<&str> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(failed, miscounted);
    for case in report["cases"].as_array().unwrap() {
        if miscounted.contains(&case["rule_id"].as_str().unwrap()) {
            assert!(case["matches"].as_u64().unwrap() > case["expected"].as_u64().unwrap());
        }
    }
    assert!(report["rules_loaded"].as_u64().unwrap() >= 3_750);
}

#[test]
fn rules_lint_names_the_file_line_and_reason() {
    let env = Env::new();
    let rule = env.file(
        "bad.yml",
        "title: Bad\nlogsource:\n    product: mamori\ndetection:\n    sel:\n        object.path|sometimes: x\n    condition: sel\n",
    );
    let out = env.run(&["rules", "lint", rule.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("bad.yml:6: detection.sel: unknown value modifier \"sometimes\""),
        "{text}"
    );
    let admins = env.file(
        "admins.yml",
        "title: Admin logon\nlogsource:\n    product: mamori\ndetection:\n    sel:\n        actor.user|expand: '%Administrators%'\n    condition: sel\n",
    );
    let out = env.run(&["rules", "lint", admins.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("%Administrators% has no values"),
        "{}",
        stdout(&out)
    );
    let table = env.file("placeholders.yml", "Administrators: [adm1, adm2]\n");
    let out = env.run(&[
        "rules",
        "lint",
        "--placeholders",
        table.to_str().unwrap(),
        admins.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn rules_run_stores_each_finding_once_and_backtest_stores_none() {
    let env = with_events(120);
    let rule = env.file(
        "usb.yml",
        "title: Design Data to USB\nid: 0d7f3a52-3f58-4c8e-9a51-6a4d1b2c9e10\nauthor: Mamori tests\nlevel: high\nlogsource:\n    product: mamori\n    category: file.copy\ndetection:\n    sel:\n        destination.kind: removable\n        object.path|endswith: '.dwg'\n        actor.user: ACM0001\n    condition: sel\n",
    );
    let rules = rule.to_str().unwrap();
    let backtest = env.run(&["--json", "rules", "backtest", rules]);
    let report: serde_json::Value = serde_json::from_str(stdout(&backtest).trim()).unwrap();
    assert_eq!(report["events"], 120, "{}", stderr(&backtest));
    assert_eq!(report["hits"][0]["hits"], 50);
    assert_eq!(report["hits"][0]["persons"], 1);
    assert_eq!(report["hits"][0]["first"], "2026-01-05T00:50:00Z");
    assert!(report["findings_added"].is_null());
    let first = env.run(&["--json", "rules", "run", rules]);
    let report: serde_json::Value = serde_json::from_str(stdout(&first).trim()).unwrap();
    assert_eq!(report["findings_added"], 50, "{}", stderr(&first));
    let again = env.run(&["--json", "rules", "run", rules]);
    let report: serde_json::Value = serde_json::from_str(stdout(&again).trim()).unwrap();
    assert_eq!(report["findings_added"], 0);
    let within = env.run(&[
        "--json",
        "rules",
        "backtest",
        rules,
        "--since",
        "2026-01-05T01:00:00Z",
        "--until",
        "2026-01-05T01:10:00Z",
    ]);
    let report: serde_json::Value = serde_json::from_str(stdout(&within).trim()).unwrap();
    assert_eq!(report["hits"][0]["hits"], 10);
}

/// Sets a rule's setting as the console does.
fn set_rule(env: &Env, id: &str, enabled: bool, severity: Option<mamori_store::Level>) {
    let mut data = mamori_store::DataDir::open(&env.data()).unwrap();
    data.store_mut()
        .set_rule_setting(
            id,
            &mamori_store::RuleSetting { enabled, severity },
            "admin",
            1,
        )
        .unwrap();
}

/// `rules run RULE`: the findings it added.
fn run_rules(env: &Env, rule: &Path) -> serde_json::Value {
    let out = env.run(&["--json", "rules", "run", rule.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    report["findings_added"].clone()
}

#[test]
fn rules_run_follows_the_consoles_rule_settings() {
    let env = with_events(120);
    let rule = env.file(
        "usb.yml",
        "title: Design Data to USB\nid: 0d7f3a52-3f58-4c8e-9a51-6a4d1b2c9e10\nauthor: Mamori tests\nlevel: high\nlogsource:\n    product: mamori\n    category: file.copy\ndetection:\n    sel:\n        destination.kind: removable\n        object.path|endswith: '.dwg'\n        actor.user: ACM0001\n    condition: sel\n",
    );
    let set = |enabled, severity| {
        set_rule(
            &env,
            "0d7f3a52-3f58-4c8e-9a51-6a4d1b2c9e10",
            enabled,
            severity,
        )
    };
    let run = || run_rules(&env, &rule);
    set(false, None);
    assert_eq!(run(), 0, "a rule switched off finds nothing");
    set(true, Some(mamori_store::Level::Low));
    assert_eq!(run(), 50);
    let data = mamori_store::DataDir::open(&env.data()).unwrap();
    let findings = data.store().rule_findings().unwrap();
    assert!(
        findings.iter().all(|f| f.level.as_deref() == Some("low")),
        "{findings:?}"
    );
}

#[test]
fn the_insider_rule_pack_passes_its_own_cases() {
    let pack = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/insider");
    let out = Command::new(MAMORI)
        .args(["--json", "rules", "test"])
        .arg(&pack)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let failed: Vec<_> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(out.status.success());
    // At least 30 rules, each with a match and a no_match case.
    assert!(report["summary"]["total"].as_u64().unwrap() >= 60);
    let lint = Command::new(MAMORI)
        .args(["rules", "lint"])
        .arg(&pack)
        .output()
        .unwrap();
    assert!(lint.status.success(), "{}", stdout(&lint));
}

#[test]
fn sigmahq_rules_run_on_imported_event_logs() {
    let Some(root) = sigma_testdata() else { return };
    let env = Env::new();
    let case = "rules/windows/registry/registry_set/registry_set_disable_administrative_share";
    let evtx = root
        .join("regression_data")
        .join(case)
        .join("c7dcacd0-cc59-4004-b0a4-1d6cdebe6f3e.evtx");
    let out = env.run(&["import", "evtx", evtx.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rule = root
        .join(case.replace("regression_data/", ""))
        .with_extension("yml");
    let out = env.run(&["--json", "rules", "run", rule.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(report["events"], 2, "{}", stderr(&out));
    assert_eq!(
        report["hits"][0]["rule_id"],
        "c7dcacd0-cc59-4004-b0a4-1d6cdebe6f3e"
    );
    assert_eq!(report["hits"][0]["hits"], 2);
    assert_eq!(report["findings_added"], 2);
}

#[test]
fn a_correlation_finding_names_every_event_of_its_window() {
    // 50 copies to USB per account, one a minute: the pack's mass-copy rule (50 in an hour)
    // fires for the two accounts with 50, not for the third with 20.
    let env = with_events(120);
    let rule = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../rules/insider/mamori_file_copy_mass_to_removable.yml");
    let out = env.run(&["--json", "rules", "run", rule.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(report["findings_added"], 2, "{}", stderr(&out));
    let findings: Vec<(String, String, String)> = env
        .sqlite()
        .prepare("SELECT account, rule_kind, events FROM rule_findings ORDER BY account")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(findings.len(), 2);
    for (n, (account, kind, events)) in findings.iter().enumerate() {
        assert_eq!(account, &format!("ACM{n:04}"));
        assert_eq!(kind, "event_count");
        let leaves: Vec<u64> = serde_json::from_str(events).unwrap();
        let first = 50 * n as u64;
        assert_eq!(leaves, (first..first + 50).collect::<Vec<_>>());
    }
}

#[test]
fn a_correlation_switched_off_finds_nothing_and_its_severity_can_be_set() {
    let env = with_events(120);
    let rule = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../rules/insider/mamori_file_copy_mass_to_removable.yml");
    let set = |enabled, severity| {
        set_rule(
            &env,
            "1e6185d8-1efb-4b41-bdb8-e4753f506e11",
            enabled,
            severity,
        )
    };
    let run = || run_rules(&env, &rule);
    set(false, None);
    assert_eq!(run(), 0);
    set(true, Some(mamori_store::Level::Medium));
    assert_eq!(run(), 2);
    let levels: Vec<String> = env
        .sqlite()
        .prepare("SELECT level FROM rule_findings")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(levels, ["medium", "medium"]);
}

#[test]
fn retention_erases_expired_bodies_keeps_held_ones_and_verify_still_passes() {
    let env = Env::new();
    let line = |time: &str, kind: &str, path: &str| {
        format!(
            r#"{{"time":"{time}","kind":"{kind}","actor":{{"user":"ACM2278","host":"PC-1"}},"object":{{"path":"{path}"}},"outcome":"success"}}"#
        )
    };
    let events = [
        line("2025-01-06T09:00:00Z", "logon", "C:/old-logon-1"),
        line("2025-01-07T09:00:00Z", "logon", "C:/old-logon-held"),
        line("2025-01-08T09:00:00Z", "file.copy", "C:/old-copy"),
        line("2025-06-01T09:00:00Z", "email.send", "C:/old-mail"),
        line("2026-11-01T09:00:00Z", "logon", "C:/recent-logon"),
        line("2026-11-20T09:00:00Z", "email.send", "C:/recent-mail"),
        line("2024-01-01T09:00:00Z", "print", "C:/undeclared-print"),
    ];
    let input = env.file("events.ndjson", &(events.join("\n") + "\n"));
    let out = env.run(&["import", "ndjson", input.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Leaf 1 belongs to a case under legal hold.
    env.sqlite()
        .execute_batch(
            "INSERT INTO cases(id, title, person_id, status, created_us, updated_us, legal_hold)
             VALUES (1, 'hold', 'ACM2278', 'open', 0, 0, 1);
             INSERT INTO case_events(case_id, leaf_index) VALUES (1, 1);",
        )
        .unwrap();
    let missing = env.run(&["retention", "run"]);
    assert_eq!(
        missing.status.code(),
        Some(2),
        "no privacy.toml: {}",
        stderr(&missing)
    );
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/privacy.toml"),
        env.data().join("privacy.toml"),
    )
    .unwrap();

    let out = env.run(&[
        "--json",
        "retention",
        "run",
        "--now",
        "2026-11-30T00:00:00Z",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (summary["purged"].as_u64(), summary["held"].as_u64()),
        (Some(3), Some(1))
    );
    let of = |kind: &str| {
        let kinds = summary["kinds"].as_array().unwrap();
        let found = kinds.iter().find(|k| k["kind"] == kind).unwrap();
        (
            found["purged"].as_u64().unwrap(),
            found["held"].as_u64().unwrap(),
        )
    };
    assert_eq!(of("logon"), (1, 1));
    assert_eq!(of("file.copy"), (1, 0));
    assert_eq!(of("email.send"), (1, 0));
    assert_eq!(summary["kinds"][0]["before"], "2025-11-30T00:00:00Z");

    let bodies = std::fs::read_to_string(env.data().join("store.ndjson")).unwrap();
    for gone in ["old-logon-1", "old-copy", "old-mail"] {
        assert!(!bodies.contains(gone), "{gone} still stored");
    }
    for kept in [
        "old-logon-held",
        "recent-logon",
        "recent-mail",
        "undeclared-print",
    ] {
        assert!(bodies.contains(kept), "{kept} erased");
    }
    let out = env.run(&["--json", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["leaves"].as_u64(), report["purged"].as_u64()),
        (Some(7), Some(3))
    );
    // Nothing more the second time; the runs are in the access log.
    let again = env.run(&[
        "--json",
        "retention",
        "run",
        "--now",
        "2026-11-30T00:00:00Z",
    ]);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["purged"], 0);
    let log = String::from_utf8(env.run(&["access-log"]).stdout).unwrap();
    assert!(
        log.contains("retention.purge")
            && log.contains("logon before 2025-11-30T00:00:00Z: 1 erased, 1 held"),
        "{log}"
    );
}
