//! `mamori mailguard` end to end: the real binary between Python's smtplib and an aiosmtpd
//! server (Debian's python3-aiosmtpd), killed with SIGKILL in the middle of a batch and
//! started again; its events reaching a real `mamori serve`; held messages released and
//! cancelled through the CLI; and `mailguard check` offline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// The system interpreter, where Debian's aiosmtpd is installed (.ci/run).
const PYTHON: &str = "/usr/bin/python3";

fn peer(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mamori-mailguard/tests/support")
        .join(name)
}

fn require_aiosmtpd() {
    let ok = Command::new(PYTHON)
        .args(["-c", "import aiosmtpd.smtp"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3-aiosmtpd is missing: apt-get install python3-aiosmtpd (.ci/run does)"
    );
}

struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// aiosmtpd storing every message it takes in `dir`; returns it and its port.
fn start_sink(dir: &Path) -> (Peer, u16) {
    require_aiosmtpd();
    std::fs::create_dir_all(dir).unwrap();
    let mut child = Command::new(PYTHON)
        .arg(peer("sink.py"))
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("sink: {line:?}"));
    (Peer(child), port)
}

/// Every message at the sink.
fn sink_messages(dir: &Path) -> Vec<String> {
    let mut messages = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "eml") {
            messages.push(String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned());
        }
    }
    messages
}

/// The `X-Key` of every message at the sink.
fn sink_keys(dir: &Path) -> Vec<String> {
    sink_messages(dir)
        .iter()
        .filter_map(|text| text.lines().find_map(|l| l.strip_prefix("X-Key: ")))
        .map(|key| key.trim().to_string())
        .collect()
}

fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Guard {
    child: Child,
    port: u16,
}

impl Guard {
    fn start(env: &Env, listen: &str, extra: &[&str]) -> Guard {
        let dir = env.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("guard.log"))
            .unwrap();
        let mut child = env
            .command(&["mailguard", "--listen", listen])
            .args(extra)
            .env("MAMORI_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("mailguard listening on ")
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                let log = std::fs::read_to_string(dir.join("guard.log")).unwrap_or_default();
                panic!("the guard did not start: {line:?}\n{log}")
            });
        Guard { child, port }
    }

    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn stop(mut self) {
        let sent = Command::new("kill")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the guard exited with {status}");
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn message(key: &str, to: &str) -> serde_json::Value {
    let data = format!(
        "From: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <taro@example.co.jp>\r\nTo: {to}\r\n\
         Subject: =?UTF-8?B?6KaL56mN5pu4?=\r\nX-Key: {key}\r\nMessage-ID: <{key}@example.co.jp>\r\n\
         \r\nお見積もりをお送りします。\r\nPlease find the quote below.\r\n"
    );
    serde_json::json!({"from": "taro@example.co.jp", "to": [to], "key": key,
        "data_hex": hex::encode(data.as_bytes()), "eight_bit": true})
}

/// Starts smtplib on `messages`, retrying each until it is acknowledged.
fn start_sender(port: u16, messages: Vec<serde_json::Value>) -> Child {
    start_sender_with(port, messages, None)
}

/// …over STARTTLS, verified with `cafile`, when one is given.
fn start_sender_with(port: u16, messages: Vec<serde_json::Value>, cafile: Option<&Path>) -> Child {
    let mut child = Command::new(PYTHON)
        .arg(peer("send.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let job = serde_json::json!({"host": "127.0.0.1", "port": port, "messages": messages,
        "until_acknowledged": true, "deadline_seconds": 60, "cafile": cafile});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    child
}

/// Key → queue id of every message answered 250 after its data, and how many messages
/// took more than one attempt.
fn acknowledged(sender: Child) -> (BTreeMap<String, String>, usize) {
    let out = sender.wait_with_output().unwrap();
    assert!(out.status.success());
    let mut ids = BTreeMap::new();
    let mut retried = 0;
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let result: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(result["code"], 250, "not acknowledged: {result}");
        let id = result["reply"]
            .as_str()
            .unwrap()
            .rsplit("queued as ")
            .next()
            .unwrap()
            .trim()
            .to_string();
        ids.insert(result["key"].as_str().unwrap().to_string(), id);
        retried += usize::from(result["attempts"].as_u64() > Some(1));
    }
    (ids, retried)
}

fn send_one(port: u16, key: &str, to: &str) -> String {
    let (ids, _) = acknowledged(start_sender(port, vec![message(key, to)]));
    ids[key].clone()
}

/// The events file's lines.
fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

const POLICY: &str = r#"
version = 1
[domains]
own = ["example.co.jp"]
partner = ["partner.co.jp"]
"#;

#[test]
fn mail_through_the_guard_survives_sigkill_and_every_decision_reaches_the_ledger() {
    let env = Env::new();
    let dir = env.dir.path();
    let enrolled = env.run(&["agents", "enroll", "mailguard"]);
    assert!(enrolled.status.success(), "{}", stderr(&enrolled));
    let token = env.file("token", &last_line_of(enrolled));
    let (server, url) = start_server(&env);
    let base = url.split("/tlog").next().unwrap().to_string();
    let policy = env.file("policy.toml", POLICY);
    let (_sink, sink_port) = start_sink(&dir.join("sink"));
    let events_file = dir.join("events.ndjson");
    let spool = dir.join("spool");
    let next_hop = format!("127.0.0.1:{sink_port}");
    let args = [
        "--next-hop",
        &next_hop,
        "--policy",
        policy.to_str().unwrap(),
        "--spool",
        spool.to_str().unwrap(),
        "--events",
        events_file.to_str().unwrap(),
        "--server",
        &base,
        "--token-file",
        token.to_str().unwrap(),
    ];
    let guard = Guard::start(&env, "127.0.0.1:0", &args);
    let port = guard.port;

    // A batch, and SIGKILL once part of it has gone through.
    let batch: Vec<_> = (0..400)
        .map(|n| message(&format!("m{n:03}"), "bob@partner.co.jp"))
        .collect();
    let sender = start_sender(port, batch);
    wait_for("20 messages at the sink", Duration::from_secs(60), || {
        (sink_keys(&dir.join("sink")).len() >= 20).then_some(())
    });
    guard.kill_9();
    let guard = Guard::start(&env, &format!("127.0.0.1:{port}"), &args);
    let (ids, retried) = acknowledged(sender);
    assert_eq!(ids.len(), 400, "every message was acknowledged in the end");
    assert!(
        retried > 0,
        "the guard was not killed in the middle of the batch"
    );

    // Nothing acknowledged is lost (at least once: a message may arrive twice).
    let delivered = wait_for(
        "every acknowledged message at the sink",
        Duration::from_secs(60),
        || {
            let keys: BTreeSet<String> = sink_keys(&dir.join("sink")).into_iter().collect();
            ids.keys().all(|key| keys.contains(key)).then_some(keys)
        },
    );
    assert_eq!(delivered.len(), 400);

    // A look-alike domain is held until released, or cancelled.
    let held = send_one(port, "held", "bob@examp1e.co.jp");
    let cancelled = send_one(port, "cancelled", "carol@partner-co.jp");

    // The sender is told, in the thread of the held message, with the queue id, why, and a
    // link to serve's page where they send or cancel it.
    let notice = wait_for(
        "the notice about the held message",
        Duration::from_secs(30),
        || {
            sink_messages(&dir.join("sink"))
                .into_iter()
                .find(|m| m.contains("In-Reply-To: <held@example.co.jp>"))
        },
    );
    assert!(notice.contains("To: <taro@example.co.jp>"), "{notice}");
    assert!(
        notice.contains("Auto-Submitted: auto-generated"),
        "{notice}"
    );
    let body = notice.split("\r\n\r\n").nth(1).unwrap().replace("\r\n", "");
    let body = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap(),
    )
    .unwrap();
    assert!(
        body.contains(&held) && body.contains("examp1e.co.jp"),
        "{body}"
    );
    assert!(
        body.contains("送信メールは、確認が済むまで送信されません"),
        "{body}"
    );
    let link = body
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with(&format!("{base}/mail/hold/")))
        .unwrap_or_else(|| panic!("no link in the notice: {body}"))
        .to_string();
    assert!(
        !sink_keys(&dir.join("sink")).contains(&"held".to_string()),
        "delivered while held"
    );

    // Opening the page does nothing; sending it from the page does.
    let (status, _, page) = http(&link, "GET", &[], &[]);
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("examp1e.co.jp"));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!sink_keys(&dir.join("sink")).contains(&"held".to_string()));
    let (status, _, page) = http(
        &link,
        "POST",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"action=release",
    );
    assert!(
        status == 200 || status == 303,
        "{status}: {}",
        String::from_utf8_lossy(&page)
    );
    wait_for(
        "the released message at the sink",
        Duration::from_secs(30),
        || {
            sink_keys(&dir.join("sink"))
                .contains(&"held".to_string())
                .then_some(())
        },
    );

    // An operator cancels the other one on the guard's host.
    let spool_arg = spool.to_str().unwrap();
    let out = env.run(&[
        "--json",
        "mailguard",
        "cancel",
        &cancelled,
        "--spool",
        spool_arg,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    let again = env.run(&["mailguard", "release", &cancelled, "--spool", spool_arg]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "a cancelled message cannot be released"
    );
    let unknown = env.run(&["mailguard", "cancel", "nosuchid", "--spool", spool_arg]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("nosuchid"),
        "{}",
        stderr(&unknown)
    );

    // Every acknowledged message has its decision in the events, with its reasons.
    wait_for("the last events written", Duration::from_secs(30), || {
        events(&events_file)
            .iter()
            .any(|e| e["raw"]["mailguard"]["event"] == "cancelled")
            .then_some(())
    });
    guard.stop();
    let lines = events(&events_file);
    let decided: BTreeMap<&str, &serde_json::Value> = lines
        .iter()
        .filter(|e| e["raw"]["mailguard"]["event"] == "decided")
        .map(|e| (e["source"]["ref"].as_str().unwrap(), e))
        .collect();
    for (key, id) in &ids {
        let event = decided
            .get(id.as_str())
            .unwrap_or_else(|| panic!("{key}: no decision"));
        assert_eq!(event["kind"], "email.send");
        assert_eq!(event["outcome"], "success");
        assert_eq!(event["destination"]["recipients"][0], "bob@partner.co.jp");
    }
    let hold = decided[held.as_str()];
    assert_eq!(hold["outcome"], "blocked");
    assert_eq!(
        hold["raw"]["mailguard"]["decision"]["action"],
        "hold_sender"
    );
    assert_eq!(
        hold["raw"]["mailguard"]["decision"]["reasons"][0]["check"],
        "lookalike_domain"
    );
    let text = std::fs::read_to_string(&events_file).unwrap();
    assert!(
        !text.contains("お見積もり") && !text.contains("quote below"),
        "a body in the events"
    );
    let count = |id: &str, event: &str| {
        lines
            .iter()
            .filter(|e| e["raw"]["mailguard"]["event"] == event && e["source"]["ref"] == id)
            .count()
    };
    assert_eq!(count(&held, "released"), 1);
    let released = lines
        .iter()
        .find(|e| e["raw"]["mailguard"]["event"] == "released")
        .unwrap();
    assert_eq!(released["actor"]["user"], "taro@example.co.jp (link)");
    assert_eq!(count(&cancelled, "cancelled"), 1);
    assert_eq!(count(&cancelled, "delivered"), 0);
    assert!(count(&held, "delivered") >= 1);

    // The server has them too, once each however often they were sent.
    server.stop();
    let distinct: BTreeSet<String> = lines.iter().map(|e| e.to_string()).collect();
    let stored: i64 = env
        .sqlite()
        .query_row(
            "SELECT count(*) FROM events e JOIN names k ON k.id = e.kind_id \
             WHERE k.name IN ('email.send', 'policy.decision', 'log.record')",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(stored as usize, distinct.len());
    let verify = env.run(&["verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
}

#[test]
fn clients_can_use_starttls_with_the_configured_certificate() {
    let env = Env::new();
    let dir = env.dir.path();
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert = env.file("cert.pem", &certified.cert.pem());
    let key = env.file("key.pem", &certified.signing_key.serialize_pem());
    let policy = env.file("policy.toml", POLICY);
    let (_sink, sink_port) = start_sink(&dir.join("sink"));
    let guard = Guard::start(
        &env,
        "127.0.0.1:0",
        &[
            "--next-hop",
            &format!("127.0.0.1:{sink_port}"),
            "--policy",
            policy.to_str().unwrap(),
            "--spool",
            dir.join("spool").to_str().unwrap(),
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let sender = start_sender_with(
        guard.port,
        vec![message("tls", "bob@partner.co.jp")],
        Some(&cert),
    );
    let (ids, _) = acknowledged(sender);
    assert_eq!(ids.len(), 1);
    let received = wait_for("the message at the sink", Duration::from_secs(30), || {
        sink_messages(&dir.join("sink"))
            .into_iter()
            .find(|m| m.contains("X-Key: tls"))
    });
    assert!(
        received.contains("with ESMTPS id"),
        "the guard's Received: line does not say TLS: {received}"
    );
    guard.stop();

    let out = env.run(&[
        "mailguard",
        "--listen",
        "127.0.0.1:0",
        "--next-hop",
        "127.0.0.1:25",
        "--policy",
        policy.to_str().unwrap(),
        "--spool",
        dir.join("spool2").to_str().unwrap(),
        "--tls-cert",
        key.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn check_prints_one_json_line_per_candidate() {
    let env = Env::new();
    let protected = env.file("protected.txt", "# own\nexample.co.jp\n\npartner.co.jp\n");
    let domains = env.file(
        "domains.txt",
        "examp1e.co.jp\nexample.jp\nxn--exmple-cua.co.jp\nexample.co.jp\nmail.example.co.jp\n\
         partner-co.jp\nwikipedia.org\n",
    );
    let out = env.run(&[
        "--json",
        "mailguard",
        "check",
        "--protected",
        protected.to_str().unwrap(),
        "--domains",
        domains.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let answers: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let summary: Vec<(&str, bool, Option<&str>, Option<&str>)> = answers
        .iter()
        .map(|a| {
            (
                a["domain"].as_str().unwrap(),
                a["flagged"].as_bool().unwrap(),
                a["matched"].as_str(),
                a["reason"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "examp1e.co.jp",
                true,
                Some("example.co.jp"),
                Some("homoglyph")
            ),
            ("example.jp", true, Some("example.co.jp"), Some("tld_swap")),
            (
                "xn--exmple-cua.co.jp",
                true,
                Some("example.co.jp"),
                Some("homoglyph")
            ),
            ("example.co.jp", false, None, None),
            ("mail.example.co.jp", false, None, None),
            (
                "partner-co.jp",
                true,
                Some("partner.co.jp"),
                Some("tld_swap")
            ),
            ("wikipedia.org", false, None, None),
        ]
    );
    assert!(answers[0]["ja"].as_str().unwrap().contains("保護ドメイン"));

    let bad = env.file("bad.txt", "example.co.jp\n# x\nexa mple.jp\n");
    let out = env.run(&[
        "mailguard",
        "check",
        "--protected",
        bad.to_str().unwrap(),
        "--domains",
        domains.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bad.txt:3") && stderr(&out).contains("exa mple.jp"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_guard_refuses_to_start_without_a_policy_or_with_a_broken_one() {
    let env = Env::new();
    let out = env.run(&[
        "mailguard",
        "--listen",
        "127.0.0.1:0",
        "--next-hop",
        "127.0.0.1:25",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--policy"), "{}", stderr(&out));
    let policy = env.file(
        "policy.toml",
        "version = 1\n[domains]\nown = [\"example.co.jp\"]\n[many_external]\nthreshold = \"ten\"\n",
    );
    let out = env.run(&[
        "mailguard",
        "--listen",
        "127.0.0.1:0",
        "--next-hop",
        "127.0.0.1:25",
        "--policy",
        policy.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("many_external.threshold"),
        "{}",
        stderr(&out)
    );
}

/// A personnel list of twelve valid My Numbers (check digits as the law defines them) from
/// taro to an outside address, as `send.py` takes a message.
fn personnel_list() -> serde_json::Value {
    let my_number = |n: u64| {
        let digits: Vec<u64> = format!("{n:011}")
            .bytes()
            .map(|b| u64::from(b - b'0'))
            .collect();
        let sum: u64 = digits
            .iter()
            .rev()
            .enumerate()
            .map(|(i, d)| d * if i < 6 { i as u64 + 2 } else { i as u64 - 4 })
            .sum();
        let check = match sum % 11 {
            0 | 1 => 0,
            r => 11 - r,
        };
        format!("{n:011}{check}")
    };
    let list: String = (0..12)
        .map(|i| {
            format!(
                "社員{i} 個人番号：{}\r\n",
                my_number(12_345_678_900 + i * 7_919)
            )
        })
        .collect();
    let data = format!(
        "From: taro@example.co.jp\r\nTo: someone@contoso.com\r\nSubject: list\r\n\
         Message-ID: <list@example.co.jp>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\r\n{list}"
    );
    serde_json::json!({"from": "taro@example.co.jp", "to": ["someone@contoso.com"],
        "key": "list", "data_hex": hex::encode(data.as_bytes()), "eight_bit": true})
}

/// Sends the personnel list through a guard started with `extra` and checks the example
/// policy's `mail-my-number` rule rejects it (550) while an ordinary quote arrives.
fn the_list_is_rejected_and_a_quote_passes(env: &Env, extra: &[&str]) -> Guard {
    require_aiosmtpd();
    let dir = env.dir.path();
    let (sink, sink_port) = start_sink(dir);
    let policy = env.file("mailguard.toml", POLICY);
    let next_hop = format!("127.0.0.1:{sink_port}");
    let spool = dir.join("spool");
    let mut args = vec![
        "--next-hop",
        next_hop.as_str(),
        "--policy",
        policy.to_str().unwrap(),
        "--spool",
        spool.to_str().unwrap(),
        "--no-notify",
    ];
    args.extend_from_slice(extra);
    let guard = Guard::start(env, "127.0.0.1:0", &args);
    let out = start_sender(guard.port, vec![personnel_list()])
        .wait_with_output()
        .unwrap();
    let result: serde_json::Value =
        serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert_eq!(result["code"], 550, "{result}");
    send_one(guard.port, "quote", "yamada@partner.co.jp");
    wait_for("the quote at the next hop", Duration::from_secs(30), || {
        sink_keys(dir).contains(&"quote".to_string()).then_some(())
    });
    drop(sink);
    guard
}

/// The shared prevention policy from a file, through the real relay: the rejection's event
/// names the rule.
#[test]
fn the_prevention_policy_rejects_mail_its_rules_block() {
    let env = Env::new();
    let events_file = env.dir.path().join("events.ndjson");
    let prevention = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/policy.toml");
    let guard = the_list_is_rejected_and_a_quote_passes(
        &env,
        &[
            "--prevention-policy",
            prevention,
            "--events",
            events_file.to_str().unwrap(),
        ],
    );
    guard.stop();
    let text = serde_json::to_string(&events(&events_file)).unwrap();
    assert!(text.contains("mail-my-number"), "{text}");
}

/// Without a file, the guard follows the server's prevention policy (installed by an
/// administrator, fetched with the guard's ingest token before the first message).
#[test]
fn the_guard_follows_the_servers_prevention_policy() {
    let env = Env::new();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/policy.toml");
    let out = env.run(&["policy", "install", example]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = last_line_of(env.run(&["agents", "enroll", "mailguard"]));
    let token_file = env.file("mailguard.token", &token);
    let (server, tlog) = start_server(&env);
    let url = tlog.strip_suffix("/tlog/events").unwrap().to_string();
    let guard = the_list_is_rejected_and_a_quote_passes(
        &env,
        &[
            "--server",
            &url,
            "--token-file",
            token_file.to_str().unwrap(),
        ],
    );
    guard.stop();
    let log = std::fs::read_to_string(env.dir.path().join("guard.log")).unwrap();
    assert!(log.contains("prevention policy"), "{log}");
    server.stop();
}
