//! End-to-end: the first administrator from `init`, users, tokens and agent enrolment through
//! the real binary; secrets printed once, stored only as hashes, every change in the access log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use mamori_store::DataDir;
use mamori_store::auth::{Login, Owner, Role, Scope};
use serde_json::Value;

const MAMORI: &str = env!("CARGO_BIN_EXE_mamori");

fn mamori(data: &Path, args: &[&str]) -> Output {
    Command::new(MAMORI)
        .env("USER", "admin1")
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

/// Standard output of a command that must succeed.
fn ok(data: &Path, args: &[&str]) -> String {
    let out = mamori(data, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mamori {args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn last_line(text: &str) -> &str {
    text.lines().last().unwrap()
}

fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

#[test]
fn users_tokens_and_agents_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // `init` creates the administrator and prints the one-time password last.
    let init = ok(&data, &["init", "--origin", "test.mamori.invalid/events"]);
    let admin_password = last_line(&init).to_string();
    assert_eq!(admin_password.len(), 20, "{init}");
    assert!(init.contains("one-time password"), "{init}");

    let added = ok(&data, &["users", "add", "aoki", "--role", "analyst"]);
    let aoki_password = last_line(&added).to_string();
    let bad = mamori(&data, &["users", "add", "boss", "--role", "boss"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected one of admin, analyst"));
    let again = mamori(&data, &["users", "add", "aoki", "--role", "admin"]);
    assert_eq!(again.status.code(), Some(2));

    let users: Value = serde_json::from_str(&ok(&data, &["--json", "users", "list"])).unwrap();
    let names: Vec<(&str, &str, bool)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["name"].as_str().unwrap(),
                u["role"].as_str().unwrap(),
                u["must_change_password"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("admin", "admin", true), ("aoki", "analyst", true)]);

    let api = last_line(&ok(
        &data,
        &["tokens", "create", "--user", "aoki", "--days", "30"],
    ))
    .to_string();
    let scim = last_line(&ok(
        &data,
        &["tokens", "create", "--user", "admin", "--scope", "scim"],
    ))
    .to_string();
    let agent = last_line(&ok(&data, &["agents", "enroll", "pc-0042"])).to_string();
    assert!(
        mamori(&data, &["tokens", "create", "--user", "ghost"])
            .status
            .code()
            == Some(2)
    );
    assert!(
        mamori(
            &data,
            &["tokens", "create", "--user", "aoki", "--scope", "ingest"]
        )
        .status
        .code()
            == Some(2)
    );

    // What the printed secrets open, checked through the store the server will use.
    let mut store_dir = DataDir::open(&data).unwrap();
    let store = store_dir.store_mut();
    let now = now_us();
    let api_info = store.authenticate_token(&api, now).unwrap().unwrap();
    assert_eq!(
        (api_info.owner, api_info.scope),
        (Owner::User("aoki".into()), Scope::Api)
    );
    let expires = api_info.expires_us.unwrap() - now;
    assert!((29 * 86_400_000_000..=30 * 86_400_000_000).contains(&expires));
    let scim_info = store.authenticate_token(&scim, now).unwrap().unwrap();
    assert_eq!(scim_info.scope, Scope::Scim);
    assert_eq!(scim_info.expires_us, None);
    let agent_info = store.authenticate_token(&agent, now).unwrap().unwrap();
    assert_eq!(
        (agent_info.owner.clone(), agent_info.scope),
        (Owner::Agent("pc-0042".into()), Scope::Ingest)
    );
    let Login::Accepted(aoki) = store.check_password("aoki", &aoki_password, now).unwrap() else {
        panic!("the one-time password was refused")
    };
    assert_eq!(aoki.role, Role::Analyst);
    assert!(matches!(
        store.check_password("admin", &admin_password, now).unwrap(),
        Login::Accepted(_)
    ));
    drop(store_dir);

    // Revoked: refused from then on; revoking twice is the caller's mistake.
    ok(&data, &["tokens", "revoke", &agent_info.id]);
    assert_eq!(
        mamori(&data, &["tokens", "revoke", &agent_info.id])
            .status
            .code(),
        Some(2)
    );
    let mut store_dir = DataDir::open(&data).unwrap();
    assert_eq!(
        store_dir
            .store_mut()
            .authenticate_token(&agent, now_us())
            .unwrap(),
        None
    );
    drop(store_dir);
    let listed = ok(&data, &["tokens", "list"]);
    assert!(
        listed.contains("agent pc-0042\tingest\trevoked"),
        "{listed}"
    );

    // Neither the secrets nor the passwords are anywhere in the data directory.
    let secrets = [&api, &scim, &agent, &aoki_password, &admin_password];
    for entry in walk(&data) {
        let bytes = std::fs::read(&entry).unwrap();
        for secret in secrets {
            let secret_part = secret
                .strip_prefix("mmr_")
                .and_then(|rest| rest.split_once('_'))
                .map_or(secret.as_str(), |(_, s)| s);
            assert!(
                !bytes
                    .windows(secret_part.len())
                    .any(|w| w == secret_part.as_bytes()),
                "{} holds a secret",
                entry.display()
            );
        }
    }

    let log = ok(&data, &["access-log"]);
    for action in ["users.add", "tokens.create", "tokens.revoke", "users.list"] {
        assert!(log.contains(action), "{action} not logged:\n{log}");
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
