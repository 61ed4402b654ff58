//! End-to-end tests of `mamori demo` on the real binary: a small organisation is prepared,
//! verified, reused, refused when asked for something else, and served.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::{MAMORI, Server, http, stderr, stdout};

/// A small organisation: the simulator's smallest (20 people) over ten days.
const SMALL: [&str; 4] = ["--users", "20", "--days", "10"];

const ROLES: [&str; 5] = ["admin", "analyst", "investigator", "approver", "auditor"];

fn demo(data: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(MAMORI);
    command
        .args(["demo", "--data-dir"])
        .arg(data)
        .args(SMALL)
        .args(extra);
    command
}

fn mamori(data: &Path, args: &[&str]) -> Output {
    let out = Command::new(MAMORI)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "mamori {args:?}: {}", stderr(&out));
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(stdout(out).lines().last().unwrap()).unwrap()
}

/// The name → password table the demo prints.
fn passwords(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields[..] {
                [name, role, password] if ROLES.contains(&name) && name == role => {
                    Some((name.to_string(), password.to_string()))
                }
                _ => None,
            }
        })
        .collect()
}

fn ledger_size(data: &Path) -> u64 {
    let verified = json(&mamori(data, &["--json", "verify"]));
    assert_eq!(verified["ok"], true, "{verified}");
    verified["leaves"].as_u64().unwrap()
}

fn rule_files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yml"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_prepared_demo_verifies_has_alerts_is_reused_and_serves_its_logins() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");

    // First run: prepares and prints one login per role.
    let first = demo(&data, &["--no-serve"]).output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let logins = passwords(&stdout(&first));
    assert_eq!(
        logins.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ROLES,
        "{}",
        stdout(&first)
    );
    for (_, password) in &logins {
        assert_eq!(password.chars().count(), 16);
        assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(!password.contains(['0', 'O', '1', 'l', 'I']), "{password}");
    }
    assert!(
        stderr(&first).contains("demo: prepared in"),
        "{}",
        stderr(&first)
    );

    // The data directory verifies and holds the analysis' alerts.
    let leaves = ledger_size(&data);
    assert!(leaves > 1000, "{leaves} events");
    let alerts = json(&mamori(&data, &["--json", "alerts", "list"]));
    assert!(
        !alerts["alerts"].as_array().unwrap().is_empty(),
        "no alerts: {alerts}"
    );
    // …the whole insider rule pack, the example declarations with dual control, the users.
    let repository_rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/insider");
    assert_eq!(
        rule_files(&data.join("rules/insider")),
        rule_files(&repository_rules),
        "the embedded rule pack differs from rules/insider: update INSIDER_RULES in demo.rs"
    );
    let privacy = std::fs::read_to_string(data.join("privacy.toml")).unwrap();
    assert!(privacy.contains("dual_control = true"), "{privacy}");
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("demo.json")).unwrap()).unwrap();
    assert_eq!(
        (&marker["users"], &marker["days"], &marker["complete"]),
        (&20.into(), &10.into(), &true.into())
    );
    let users = json(&mamori(&data, &["--json", "users", "list"]));
    for user in users.as_array().unwrap() {
        assert_eq!(user["must_change_password"], false, "{user}");
    }
    // Passwords are stored as hashes only: no file of the directory holds one.
    for file in files_under(&data) {
        let bytes = std::fs::read(&file).unwrap();
        for (_, password) in &logins {
            assert!(
                !bytes.windows(16).any(|w| w == password.as_bytes()),
                "{} holds a password",
                file.display()
            );
        }
    }

    // Second run: reuses the directory (nothing imported again), with new passwords.
    let second = demo(&data, &["--no-serve"]).output().unwrap();
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(stderr(&second).contains("reusing"), "{}", stderr(&second));
    assert_eq!(ledger_size(&data), leaves);
    let again = passwords(&stdout(&second));
    assert_eq!(again.len(), ROLES.len());
    for ((_, old), (_, new)) in logins.iter().zip(&again) {
        assert_ne!(old, new);
    }

    // Other parameters on the same directory: refused, nothing touched.
    let other = Command::new(MAMORI)
        .args([
            "demo",
            "--no-serve",
            "--users",
            "25",
            "--days",
            "10",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(2), "{}", stderr(&other));
    assert!(
        stderr(&other).contains("20 people × 10 days") && stderr(&other).contains("remove it"),
        "{}",
        stderr(&other)
    );
    assert_eq!(ledger_size(&data), leaves);

    // Serving: a printed password signs in, without a password change.
    let mut child = demo(&data, &["--json", "--listen", "127.0.0.1:0"])
        .env("MAMORI_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let server = Server(child);
    let summary: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(summary["serving"], true, "{summary}");
    let serving = lines.next().unwrap().unwrap();
    let url = serving
        .strip_prefix("serving ")
        .and_then(|u| u.strip_suffix("/tlog/events/checkpoint"))
        .unwrap_or_else(|| panic!("unexpected serve output {serving:?}"))
        .to_string();
    let approver = summary["logins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "approver")
        .unwrap();
    assert_eq!(approver["role"], "approver");
    let login = |password: &str| {
        let body = serde_json::json!({"name": "approver", "password": password}).to_string();
        let (status, _, answer) = http(
            &format!("{url}/api/v1/login"),
            "POST",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        (status, String::from_utf8_lossy(&answer).into_owned())
    };
    let (status, answer) = login(approver["password"].as_str().unwrap());
    assert_eq!(status, 200, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["must_change_password"], false, "{answer}");
    // The password of the run before no longer works.
    let (status, _) = login(&again[3].1);
    assert_eq!(status, 401);
    server.stop();
}

#[test]
fn directories_the_demo_did_not_finish_or_did_not_make_are_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();

    // Parameters the simulator refuses: refused before any directory is made.
    let small = dir.path().join("small");
    let out = Command::new(MAMORI)
        .args(["demo", "--no-serve", "--users", "15", "--data-dir"])
        .arg(&small)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--users must be at least 20"),
        "{}",
        stderr(&out)
    );
    assert!(!small.exists());

    // Someone's own directory.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let out = demo(&foreign, &["--no-serve"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not made by `mamori demo`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_dir(&foreign).unwrap().count(),
        1,
        "something was written into it"
    );

    // A preparation that was interrupted.
    let interrupted = dir.path().join("interrupted");
    std::fs::create_dir(&interrupted).unwrap();
    let marker = r#"{"users":20,"days":10,"seed":1,"start":"2026-01-05","complete":false}"#;
    std::fs::write(interrupted.join("demo.json"), marker).unwrap();
    let out = demo(&interrupted, &["--no-serve"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("did not finish"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(interrupted.join("demo.json")).unwrap(),
        marker
    );
}

#[test]
fn the_default_data_directory_is_mamori_demo_whatever_mamori_data_dir_says() {
    let dir = tempfile::tempdir().unwrap();
    // A directory of its own there: refused, so nothing is prepared, but the message names it.
    let default: PathBuf = dir.path().join("mamori-demo");
    std::fs::create_dir(&default).unwrap();
    std::fs::write(default.join("notes.txt"), "mine").unwrap();
    let out = Command::new(MAMORI)
        .args(["demo", "--no-serve"])
        .current_dir(dir.path())
        .env("MAMORI_DATA_DIR", dir.path().join("real-data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("mamori-demo exists and was not made by `mamori demo`"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("real-data").exists());
}
