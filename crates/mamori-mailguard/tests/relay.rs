//! The relay between real peers on loopback: Python's `smtplib` sends (tests/support/send.py),
//! an `aiosmtpd` server receives (tests/support/sink.py), the relay in between runs with a
//! test guard that decides by subject (REJECT, HOLD, DELAY, BCC; anything else passes).
//!
//! Needs Debian's /usr/bin/python3 with `python3-aiosmtpd`; without it every test fails and
//! says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use mamori_mailguard::decision::{Action, Decision, Envelope, Guard, Reason};
use mamori_mailguard::relay::{Relay, RelayConfig, RelayEvent, Retry};
use mamori_mailguard::smtp::client::NextHopTls;
use mamori_mailguard::smtp::server::Network;
use mamori_mailguard::spool::State;

const PYTHON: &str = "/usr/bin/python3";

fn support(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(name)
}

/// Fails (never skips) when the sink cannot run.
fn require_aiosmtpd() {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    let checked = CHECKED.get_or_init(|| {
        let output = Command::new(PYTHON)
            .args(["-c", "import aiosmtpd.smtp"])
            .output()
            .map_err(|error| format!("cannot run {PYTHON}: {error}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    });
    if let Err(error) = checked {
        panic!(
            "{PYTHON} cannot import aiosmtpd, which these tests need as the receiving server: \
             apt-get install python3-aiosmtpd\n{error}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The guard

/// Decides by subject, and remembers what it was told was delivered.
#[derive(Default)]
struct SubjectGuard {
    delivered: Mutex<Vec<Vec<String>>>,
}

impl Guard for SubjectGuard {
    fn decide(&self, _envelope: &Envelope, message: &[u8]) -> Decision {
        let subject = header(message, "subject").unwrap_or_default();
        let action = match subject.as_str() {
            "REJECT" => Action::Reject,
            "HOLD" => Action::HoldForSender,
            "DELAY" => Action::Delay { minutes: 1 },
            _ => Action::Pass,
        };
        let reasons = if action == Action::Reject {
            vec![
                Reason {
                    check: "test",
                    en: "the subject asks to be rejected".to_string(),
                    ja: "件名が拒否を求めています".to_string(),
                },
                Reason {
                    check: "lookalike_domain",
                    en: "exаmple.co.jp looks like example.co.jp".to_string(),
                    ja: "exаmple.co.jp は example.co.jp に似ています".to_string(),
                },
            ]
        } else {
            Vec::new()
        };
        Decision {
            action,
            reasons,
            move_to_bcc: subject == "BCC",
        }
    }

    fn delivered(&self, envelope: &Envelope, _message: &[u8]) {
        self.delivered
            .lock()
            .unwrap()
            .push(envelope.rcpt_to.clone());
    }
}

fn header(message: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    for line in text.split("\r\n") {
        if line.is_empty() {
            break;
        }
        if let Some((field, value)) = line.split_once(':')
            && field.eq_ignore_ascii_case(name)
        {
            return Some(value.trim().to_string());
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// The relay, in its own runtime so the test thread may block on Python

struct TestRelay {
    runtime: tokio::runtime::Runtime,
    relay: Option<Relay>,
    guard: Arc<SubjectGuard>,
    port: u16,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn config(spool: &Path, next_hop: u16) -> RelayConfig {
    let mut config = RelayConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        SocketAddr::from(([127, 0, 0, 1], next_hop)),
        spool,
    );
    config.hostname = "guard.test".to_string();
    config.retry = Retry {
        first: Duration::from_millis(200),
        max: Duration::from_millis(500),
        expire_after: Duration::from_secs(60),
    };
    config.hold_expiry = Duration::from_secs(60);
    config.delay_minute = Duration::from_millis(400);
    config.shutdown_grace = Duration::from_secs(2);
    config.client_timeouts.connect = Duration::from_secs(2);
    config
}

impl TestRelay {
    fn start(config: RelayConfig) -> TestRelay {
        require_aiosmtpd();
        let runtime = runtime();
        let guard = Arc::new(SubjectGuard::default());
        let relay = runtime
            .block_on(Relay::start(config, guard.clone()))
            .unwrap();
        TestRelay {
            port: relay.local_addr().port(),
            runtime,
            relay: Some(relay),
            guard,
        }
    }

    fn relay(&self) -> &Relay {
        self.relay.as_ref().unwrap()
    }

    fn port(&self) -> u16 {
        self.relay().local_addr().port()
    }

    fn port_after_shutdown(&self) -> u16 {
        self.port
    }

    fn events(&self) -> Vec<RelayEvent> {
        let events = self
            .runtime
            .block_on(self.relay().outbox().take(1_000_000))
            .unwrap();
        events.into_iter().map(|(_, event)| event).collect()
    }

    fn events_of(&self, id: &str) -> Vec<RelayEvent> {
        self.events()
            .into_iter()
            .filter(|event| event.id() == id)
            .collect()
    }

    fn wait_for_event(&self, id: &str, kind: &str) -> RelayEvent {
        wait_for(
            &format!("a {kind} event for {id}"),
            Duration::from_secs(15),
            || {
                self.events_of(id)
                    .into_iter()
                    .find(|event| event.kind() == kind)
            },
        )
    }

    fn counts(&self) -> HashMap<State, u64> {
        self.runtime
            .block_on(self.relay().spool().counts())
            .unwrap()
            .into_iter()
            .collect()
    }

    /// Drops the relay as a crash would.
    fn crash(&mut self) {
        let relay = self.relay.take();
        self.runtime.block_on(async move { drop(relay) });
    }
}

fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------
// The sink

struct Sink {
    child: Child,
    port: u16,
    dir: PathBuf,
}

#[derive(Debug, Clone)]
struct Received {
    mail_from: String,
    rcpt_tos: Vec<String>,
    tls: bool,
    smtputf8: bool,
    content: Vec<u8>,
}

impl Received {
    /// Our `Received:` line and the rest, byte for byte.
    fn split_trace(&self) -> (String, Vec<u8>) {
        assert!(
            self.content.starts_with(b"Received: from "),
            "no Received line first: {:?}",
            String::from_utf8_lossy(&self.content[..self.content.len().min(200)])
        );
        let mut end = 0;
        for (index, line) in self.content.split_inclusive(|&b| b == b'\n').enumerate() {
            if index > 0 && !line.starts_with(b"\t") && !line.starts_with(b" ") {
                break;
            }
            end += line.len();
        }
        (
            String::from_utf8(self.content[..end].to_vec()).unwrap(),
            self.content[end..].to_vec(),
        )
    }

    fn queue_id(&self) -> String {
        let (trace, _) = self.split_trace();
        trace
            .split(" id ")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .unwrap()
            .to_string()
    }

    fn header(&self, name: &str) -> Option<String> {
        header(&self.content, name)
    }
}

impl Sink {
    fn start(dir: &Path, port: u16, options: &[&str]) -> Sink {
        require_aiosmtpd();
        std::fs::create_dir_all(dir).unwrap();
        let mut child = Command::new(PYTHON)
            .arg(support("sink.py"))
            .arg("--dir")
            .arg(dir)
            .arg("--port")
            .arg(port.to_string())
            .args(options)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the sink did not start: {line:?}"));
        Sink {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    fn messages(&self) -> Vec<Received> {
        read_sink(&self.dir)
    }

    fn wait_for_messages(&self, count: usize) -> Vec<Received> {
        wait_for(
            &format!("{count} messages at the sink"),
            Duration::from_secs(15),
            || {
                let messages = self.messages();
                (messages.len() >= count).then_some(messages)
            },
        )
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_sink(dir: &Path) -> Vec<Received> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".eml").map(str::to_string)
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let meta: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap())
                    .unwrap();
            // aiosmtpd keeps the null reverse path as "<>".
            let mail_from = meta["mail_from"].as_str().unwrap().trim_matches(['<', '>']);
            Received {
                mail_from: mail_from.to_string(),
                rcpt_tos: meta["rcpt_tos"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_string())
                    .collect(),
                tls: meta["tls"].as_bool().unwrap(),
                smtputf8: meta["smtputf8"].as_bool().unwrap(),
                content: std::fs::read(dir.join(format!("{name}.eml"))).unwrap(),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The sending client

#[derive(Debug, Clone)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
    smtputf8: bool,
    eight_bit: bool,
    declare_size: bool,
    key: String,
}

impl Mail {
    fn new(subject: &str, to: &[&str]) -> Mail {
        let id = format!("<{}.{}@client.test>", subject.to_lowercase(), unique());
        let data = format!(
            "From: Alice <alice@example.jp>\r\nTo: {}\r\nSubject: {subject}\r\nMessage-ID: {id}\r\n\
             Date: Mon, 1 Jun 2026 09:00:00 +0900\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=us-ascii\r\n\r\nHello.\r\n.a line with a dot\r\n.\r\nBye.\r\n",
            to.join(", ")
        );
        Mail {
            from: "alice@example.jp".to_string(),
            to: to.iter().map(|r| r.to_string()).collect(),
            data: data.into_bytes(),
            smtputf8: false,
            eight_bit: false,
            declare_size: true,
            key: id,
        }
    }

    fn with_data(mut self, data: Vec<u8>) -> Mail {
        self.data = data;
        self
    }
}

fn unique() -> u64 {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    u64::from(std::process::id()) * 1_000_000 + count
}

#[derive(Debug, Clone)]
struct Sent {
    key: String,
    stage: String,
    code: u64,
    reply: String,
    rcpt: Vec<u64>,
    attempts: u64,
}

impl Sent {
    fn queue_id(&self) -> String {
        assert_eq!(self.code, 250, "not accepted: {self:?}");
        self.reply
            .rsplit("queued as ")
            .next()
            .unwrap()
            .trim()
            .to_string()
    }
}

fn job(port: u16, mails: &[Mail], extra: serde_json::Value) -> String {
    let messages: Vec<serde_json::Value> = mails
        .iter()
        .map(|mail| {
            serde_json::json!({
                "from": mail.from,
                "to": mail.to,
                "data_hex": hex(&mail.data),
                "smtputf8": mail.smtputf8,
                "eight_bit": mail.eight_bit,
                "declare_size": mail.declare_size,
                "key": mail.key,
            })
        })
        .collect();
    let mut job = serde_json::json!({"host": "127.0.0.1", "port": port, "messages": messages});
    if let (Some(job), Some(extra)) = (job.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            job.insert(key.clone(), value.clone());
        }
    }
    job.to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn spawn_client(job: String) -> Child {
    let mut child = Command::new(PYTHON)
        .arg(support("send.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.as_bytes())
        .unwrap();
    child
}

fn parse_sent(line: &str) -> Sent {
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    Sent {
        key: value["key"].as_str().unwrap_or_default().to_string(),
        stage: value["stage"].as_str().unwrap_or_default().to_string(),
        code: value["code"].as_u64().unwrap_or_default(),
        reply: value["reply"].as_str().unwrap_or_default().to_string(),
        rcpt: value["rcpt"]
            .as_array()
            .map(|codes| codes.iter().filter_map(|c| c.as_u64()).collect())
            .unwrap_or_default(),
        attempts: value["attempts"].as_u64().unwrap_or_default(),
    }
}

/// Sends with smtplib and returns one result per mail.
fn send_with(port: u16, mails: &[Mail], extra: serde_json::Value) -> Vec<Sent> {
    let mut child = spawn_client(job(port, mails, extra));
    let mut output = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    assert!(child.wait().unwrap().success(), "send.py failed");
    let sent: Vec<Sent> = output.lines().map(parse_sent).collect();
    assert_eq!(sent.len(), mails.len(), "send.py output: {output}");
    sent
}

fn send(port: u16, mails: &[Mail]) -> Vec<Sent> {
    send_with(port, mails, serde_json::json!({}))
}

fn send_one(port: u16, mail: Mail) -> Sent {
    send(port, &[mail]).remove(0)
}

// ---------------------------------------------------------------------------------------
// Pass-through

#[test]
fn a_passed_message_arrives_byte_identical_after_one_received_line() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), 0, &[]);
    let relay = TestRelay::start(config(&dir.path().join("spool"), sink.port));

    let mail = Mail::new("hello", &["bob@remote.test", "carol@remote.test"]);
    let sent = send_one(relay.port(), mail.clone());
    assert_eq!(sent.rcpt, vec![250, 250]);
    let id = sent.queue_id();

    let received = sink.wait_for_messages(1).remove(0);
    assert_eq!(received.mail_from, "alice@example.jp");
    assert_eq!(received.rcpt_tos, mail.to);
    let (trace, rest) = received.split_trace();
    assert_eq!(rest, mail.data, "the message changed on the way");
    assert!(
        trace.starts_with("Received: from client.test ([127.0.0.1])\r\n\tby guard.test (Mamori mail guard) with ESMTP id "),
        "{trace:?}"
    );
    assert!(trace.contains(&format!(" id {id};")));
    assert!(!trace.contains("bob@") && !trace.contains("carol@"));

    let delivered = relay.wait_for_event(&id, "delivered");
    let RelayEvent::Delivered {
        recipients,
        attempts,
        ..
    } = delivered
    else {
        unreachable!()
    };
    assert_eq!(recipients, mail.to);
    assert_eq!(attempts, 1);
    let decided = relay
        .events_of(&id)
        .into_iter()
        .find(|event| event.kind() == "decided")
        .unwrap();
    let RelayEvent::Decided {
        decision,
        state,
        size,
        message_id,
        envelope,
        ..
    } = decided
    else {
        unreachable!()
    };
    assert_eq!(decision.action, "pass");
    assert_eq!(state, Some(State::Queued));
    assert_eq!(size, mail.data.len() as u64);
    assert_eq!(message_id.as_deref(), Some(mail.key.as_str()));
    assert_eq!(envelope.rcpt_to, mail.to);
    let json = serde_json::to_string(&relay.events()).unwrap();
    assert!(!json.contains("Hello."), "an event carries the body");

    wait_for(
        "the guard to hear of the delivery",
        Duration::from_secs(5),
        || (relay.guard.delivered.lock().unwrap().clone() == vec![mail.to.clone()]).then_some(()),
    );
    wait_for("the message to be final", Duration::from_secs(5), || {
        (relay.counts().get(&State::Delivered) == Some(&1)).then_some(())
    });
    assert!(
        !relay.relay().spool().message_path(&id).exists(),
        "file kept after delivery"
    );
}

#[test]
fn japanese_encodings_and_smtputf8_addresses_survive() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), 0, &[]);
    let relay = TestRelay::start(config(&dir.path().join("spool"), sink.port));

    // こんにちは in ISO-2022-JP (7 bit, with ESC sequences), in an encoded subject and body.
    let iso_2022_jp = b"From: alice@example.jp\r\nTo: bob@remote.test\r\n\
        Subject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=\r\nMessage-ID: <jis@client.test>\r\n\
        MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\n\
        \x1b$B$3$s$K$A$O\x1b(B\r\n"
        .to_vec();
    // 日本語 表 ソ in Shift_JIS, 8 bit, with the 0x5C second bytes that trip naive code.
    let shift_jis = b"From: alice@example.jp\r\nTo: bob@remote.test\r\nSubject: sjis\r\n\
        Message-ID: <sjis@client.test>\r\nMIME-Version: 1.0\r\n\
        Content-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
        \x93\xfa\x96\x7b\x8c\xea \x95\x5c \x83\x5c\r\n.\x93\xfa\r\n"
        .to_vec();
    // UTF-8 headers and addresses (RFC 6531/6532).
    let utf8 = "From: 山田 <山田@例え.jp>\r\nTo: ユーザー@例え.jp\r\nSubject: 日本語の件名\r\n\
        Message-ID: <utf8@client.test>\r\nMIME-Version: 1.0\r\n\
        Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
        日本語のメールです。\r\n"
        .as_bytes()
        .to_vec();

    let mut jis = Mail::new("jis", &["bob@remote.test"]).with_data(iso_2022_jp.clone());
    jis.key = "jis".into();
    let mut sjis = Mail::new("sjis", &["bob@remote.test"]).with_data(shift_jis.clone());
    sjis.eight_bit = true;
    let mut international = Mail::new("utf8", &["ユーザー@例え.jp"]).with_data(utf8.clone());
    international.from = "山田@例え.jp".to_string();
    international.smtputf8 = true;
    international.eight_bit = true;
    let sent = send(relay.port(), &[jis, sjis, international]);
    for result in &sent {
        assert_eq!(result.code, 250, "{result:?}");
    }

    let received = sink.wait_for_messages(3);
    let by_id = |message_id: &str| {
        received
            .iter()
            .find(|r| r.header("message-id").as_deref() == Some(message_id))
            .unwrap_or_else(|| panic!("{message_id} did not arrive"))
            .clone()
    };
    assert_eq!(by_id("<jis@client.test>").split_trace().1, iso_2022_jp);
    assert_eq!(by_id("<sjis@client.test>").split_trace().1, shift_jis);
    let international = by_id("<utf8@client.test>");
    assert_eq!(international.split_trace().1, utf8);
    assert_eq!(international.mail_from, "山田@例え.jp");
    assert_eq!(international.rcpt_tos, vec!["ユーザー@例え.jp".to_string()]);
    assert!(international.smtputf8, "SMTPUTF8 was not passed on");
    assert!(international.split_trace().0.contains("with UTF8SMTP id"));
}

#[test]
fn a_next_hop_without_smtputf8_fails_only_the_non_ascii_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), 0, &["--no-smtputf8"]);
    let relay = TestRelay::start(config(&dir.path().join("spool"), sink.port));

    let mut mail = Mail::new("utf8", &["ascii@remote.test", "ユーザー@例え.jp"]);
    mail.smtputf8 = true;
    let id = send_one(relay.port(), mail).queue_id();

    let received = sink.wait_for_messages(2);
    let original: Vec<_> = received
        .iter()
        .filter(|r| !r.mail_from.is_empty())
        .collect();
    assert_eq!(original.len(), 1, "{received:#?}");
    assert_eq!(original[0].rcpt_tos, vec!["ascii@remote.test".to_string()]);
    let bounce = received.iter().find(|r| r.mail_from.is_empty()).unwrap();
    assert_eq!(bounce.rcpt_tos, vec!["alice@example.jp".to_string()]);
    let text = String::from_utf8_lossy(&bounce.content);
    assert!(
        text.contains("Final-Recipient: utf-8; ユーザー@例え.jp"),
        "{text}"
    );
    assert!(text.contains("SMTPUTF8"), "{text}");
    assert!(!text.contains("Final-Recipient: rfc822; ascii@remote.test"));
    let RelayEvent::Bounced {
        recipients, dsn_id, ..
    } = relay.wait_for_event(&id, "bounced")
    else {
        unreachable!()
    };
    assert_eq!(recipients.len(), 1);
    assert!(recipients[0].reason.contains("SMTPUTF8"));
    assert!(dsn_id.is_some());
}

#[test]
fn a_bcc_decision_hides_the_recipients_and_keeps_the_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), 0, &[]);
    let relay = TestRelay::start(config(&dir.path().join("spool"), sink.port));

    let mut mail = Mail::new("BCC", &["bob@remote.test", "carol@other.test"]);
    mail.data = String::from_utf8(mail.data)
        .unwrap()
        .replacen("Subject:", "Cc: carol@other.test\r\nSubject:", 1)
        .into_bytes();
    send_one(relay.port(), mail.clone()).queue_id();
    let received = sink.wait_for_messages(1).remove(0);
    assert_eq!(received.rcpt_tos, mail.to);
    let (_, rest) = received.split_trace();
    let text = String::from_utf8(rest).unwrap();
    assert!(text.contains("To: undisclosed-recipients:;\r\n"), "{text}");
    assert!(!text.contains("carol@"), "{text}");
    assert!(text.ends_with("\r\n\r\nHello.\r\n.a line with a dot\r\n.\r\nBye.\r\n"));
}

// ---------------------------------------------------------------------------------------
// TLS, pipelining, limits, protocol errors

fn write_tls_files(
    dir: &Path,
    name: &str,
) -> (PathBuf, PathBuf, rcgen::CertifiedKey<rcgen::KeyPair>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert, key, certified)
}

#[test]
fn starttls_protects_both_hops() {
    let dir = tempfile::tempdir().unwrap();
    let (sink_cert, sink_key, _) = write_tls_files(dir.path(), "sink");
    let (relay_cert, relay_key, _) = write_tls_files(dir.path(), "relay");
    let sink = Sink::start(
        &dir.path().join("sink"),
        0,
        &[
            "--tls-cert",
            sink_cert.to_str().unwrap(),
            "--tls-key",
            sink_key.to_str().unwrap(),
        ],
    );
    let mut config = config(&dir.path().join("spool"), sink.port);
    config.tls =
        Some(mamori_mailguard::smtp::server::tls_from_pem_files(&relay_cert, &relay_key).unwrap());
    config.next_hop_tls = Some(NextHopTls::from_ca_file(&sink_cert, "localhost", true).unwrap());
    let relay = TestRelay::start(config);

    let mail = Mail::new("tls", &["bob@remote.test"]);
    let sent = send_with(
        relay.port(),
        std::slice::from_ref(&mail),
        serde_json::json!({"cafile": relay_cert}),
    );
    sent[0].queue_id();
    let received = sink.wait_for_messages(1).remove(0);
    assert!(received.tls, "the next hop was reached in clear text");
    let (trace, rest) = received.split_trace();
    assert!(trace.contains("with ESMTPS id"), "{trace}");
    assert_eq!(rest, mail.data);
}

#[test]
fn next_hop_tls_required_but_not_offered_keeps_the_message_queued() {
    let dir = tempfile::tempdir().unwrap();
    let (sink_cert, _, _) = write_tls_files(dir.path(), "sink");
    let sink = Sink::start(&dir.path().join("sink"), 0, &[]);
    let mut config = config(&dir.path().join("spool"), sink.port);
    config.next_hop_tls = Some(NextHopTls::from_ca_file(&sink_cert, "localhost", true).unwrap());
    let relay = TestRelay::start(config);
    let id = send_one(relay.port(), Mail::new("tls", &["bob@remote.test"])).queue_id();
    let RelayEvent::Deferred { recipients, .. } = relay.wait_for_event(&id, "deferred") else {
        unreachable!()
    };
    assert!(recipients[0].reason.contains("STARTTLS"), "{recipients:?}");
    assert!(sink.messages().is_empty());
}

/// A raw SMTP conversation: write, then read the replies (code and full text) that follow.
struct Raw {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Raw {
    fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Raw { stream, reader }
    }

    fn write(&mut self, text: &[u8]) {
        self.stream.write_all(text).unwrap();
    }

    fn replies(&mut self, count: usize) -> Vec<(u16, String)> {
        (0..count).map(|_| self.reply()).collect()
    }

    fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let read = self.reader.read_line(&mut line).unwrap();
            assert!(read > 0, "connection closed while waiting for a reply");
            text.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return (line[..3].parse().unwrap(), text);
            }
        }
    }

    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(self.reader.read_to_end(&mut rest), Ok(0))
    }
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), 0, &[]);
    let relay = TestRelay::start(config(&dir.path().join("spool"), sink.port));

    let mut raw = Raw::connect(relay.port());
    assert_eq!(raw.reply().0, 220);
    raw.write(
        "EHLO pipe.test\r\nMAIL FROM:<alice@example.jp>\r\nRCPT TO:<bob@remote.test>\r\n\
         RCPT TO:<ユーザー@例え.jp>\r\nRCPT TO:<carol@remote.test>\r\nDATA\r\n"
            .as_bytes(),
    );
    let replies = raw.replies(6);
    let codes: Vec<u16> = replies.iter().map(|(code, _)| *code).collect();
    assert_eq!(codes, vec![250, 250, 250, 553, 250, 354], "{replies:?}");
    let ehlo = &replies[0].1;
    for keyword in [
        "PIPELINING",
        "SIZE ",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
    ] {
        assert!(ehlo.contains(keyword), "EHLO lacks {keyword}: {ehlo}");
    }
    assert!(!ehlo.contains("STARTTLS"), "STARTTLS offered without TLS");
    assert!(replies[3].1.contains("5.6.7"));
    raw.write(
        b"Subject: pipelined\r\nMessage-ID: <pipe@client.test>\r\n\r\n..dot\r\nbody\r\n.\r\n\
          VRFY bob\r\nRSET\r\nNOOP\r\nQUIT\r\n",
    );
    let replies = raw.replies(5);
    let codes: Vec<u16> = replies.iter().map(|(code, _)| *code).collect();
    assert_eq!(codes, vec![250, 252, 250, 250, 221], "{replies:?}");
    assert!(replies[0].1.contains("queued as"));
    assert!(raw.closed());

    let received = sink.wait_for_messages(1).remove(0);
    assert_eq!(
        received.rcpt_tos,
        vec![
            "bob@remote.test".to_string(),
            "carol@remote.test".to_string()
        ]
    );
    assert!(
        received
            .split_trace()
            .1
            .ends_with(b"\r\n\r\n.dot\r\nbody\r\n")
    );
}

#[test]
fn bad_commands_are_answered_and_too_many_close_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let relay = TestRelay::start(config(&dir.path().join("spool"), free_port()));
    let mut raw = Raw::connect(relay.port());
    assert_eq!(raw.reply().0, 220);
    raw.write(b"MAIL FROM:<a@example.jp>\r\nHELO x\r\nRCPT TO:<b@remote.test>\r\nDATA\r\nFOO\r\nMAIL FROM:a\r\nMAIL FROM:<a@example.jp> BODY=BINARYMIME\r\nMAIL FROM:<a@example.jp>\r\n");
    let codes: Vec<u16> = raw.replies(8).iter().map(|(code, _)| *code).collect();
    assert_eq!(codes, vec![503, 250, 503, 503, 500, 501, 555, 250]);
    // Still usable: a recipient, then errors until the limit (10) closes it.
    raw.write(b"RCPT TO:<b@remote.test>\r\n");
    assert_eq!(raw.reply().0, 250);
    raw.write(&b"BOGUS\r\n".repeat(5));
    let replies = raw.replies(5);
    let codes: Vec<u16> = replies.iter().map(|(code, _)| *code).collect();
    assert_eq!(codes, vec![500, 500, 500, 500, 421], "{replies:?}");
    assert!(replies[4].1.contains("421 4.7.0"), "{replies:?}");
    assert!(raw.closed());
}

#[test]
fn clients_outside_the_allowed_networks_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir.path().join("spool"), free_port());
    config.allow = vec!["10.0.0.0/8".parse::<Network>().unwrap()];
    let relay = TestRelay::start(config);
    let mut raw = Raw::connect(relay.port());
    let (code, text) = raw.reply();
    assert_eq!(code, 554, "{text}");
    assert!(raw.closed());
}

#[test]
fn sizes_over_the_limit_are_refused_at_mail_and_after_data() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), 0, &[]);
    let mut config = config(&dir.path().join("spool"), sink.port);
    config.max_message_bytes = 10_000;
    let relay = TestRelay::start(config);

    let big = |subject: &str| {
        let mut mail = Mail::new(subject, &["bob@remote.test"]);
        let mut data = mail.data.clone();
        data.extend(b"0123456789012345678901234567890123456789\r\n".repeat(500));
        mail.data = data;
        mail
    };
    let declared = big("declared");
    let mut undeclared = big("undeclared");
    undeclared.declare_size = false;
    let small = Mail::new("small", &["bob@remote.test"]);
    let sent = send(relay.port(), &[declared, undeclared, small]);
    assert_eq!(
        (sent[0].stage.as_str(), sent[0].code),
        ("mail", 552),
        "{:?}",
        sent[0]
    );
    assert_eq!(
        (sent[1].stage.as_str(), sent[1].code),
        ("data", 552),
        "{:?}",
        sent[1]
    );
    // The same connection goes on.
    assert_eq!(sent[2].code, 250, "{:?}", sent[2]);
    assert_eq!(sent[2].attempts, 1);
    let received = sink.wait_for_messages(1);
    assert_eq!(received[0].header("subject").as_deref(), Some("small"));
}

// ---------------------------------------------------------------------------------------
// Decisions

#[test]
fn a_rejected_message_gets_550_with_its_reasons_and_is_never_stored() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), 0, &[]);
    let relay = TestRelay::start(config(&dir.path().join("spool"), sink.port));

    let sent = send_one(relay.port(), Mail::new("REJECT", &["bob@remote.test"]));
    assert_eq!((sent.stage.as_str(), sent.code), ("data", 550), "{sent:?}");
    assert!(sent.reply.contains("5.7.1"));
    assert!(
        sent.reply.contains("the subject asks to be rejected"),
        "{}",
        sent.reply
    );
    assert!(
        sent.reply
            .contains("xn--exmple-4nf.co.jp looks like example.co.jp"),
        "{}",
        sent.reply
    );
    assert!(sent.reply.is_ascii());

    let decided = wait_for("the rejection event", Duration::from_secs(5), || {
        relay
            .events()
            .into_iter()
            .find(|event| event.kind() == "decided")
    });
    let RelayEvent::Decided {
        decision, state, ..
    } = decided
    else {
        unreachable!()
    };
    assert_eq!(decision.action, "reject");
    assert_eq!(decision.reasons.len(), 2);
    assert_eq!(state, None);
    std::thread::sleep(Duration::from_millis(300));
    assert!(sink.messages().is_empty());
    assert!(relay.counts().is_empty(), "a rejected message was stored");
    let files = std::fs::read_dir(dir.path().join("spool/messages"))
        .unwrap()
        .count();
    assert_eq!(files, 0);
}

#[test]
fn a_held_message_waits_for_its_release() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), 0, &[]);
    let relay = TestRelay::start(config(&dir.path().join("spool"), sink.port));

    let id = send_one(relay.port(), Mail::new("HOLD", &["bob@remote.test"])).queue_id();
    std::thread::sleep(Duration::from_millis(600));
    assert!(sink.messages().is_empty(), "a held message left");
    assert_eq!(relay.counts().get(&State::Held), Some(&1));

    relay
        .runtime
        .block_on(relay.relay().release(&id, "supervisor@example.jp"))
        .unwrap();
    let received = sink.wait_for_messages(1).remove(0);
    assert_eq!(received.queue_id(), id);
    let RelayEvent::Released { by, .. } = relay.wait_for_event(&id, "released") else {
        unreachable!()
    };
    assert_eq!(by, "supervisor@example.jp");
    relay.wait_for_event(&id, "delivered");
}

#[test]
fn cancelled_messages_never_leave() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), 0, &[]);
    let relay = TestRelay::start(config(&dir.path().join("spool"), sink.port));

    let held = send_one(relay.port(), Mail::new("HOLD", &["bob@remote.test"])).queue_id();
    let delayed = send_one(relay.port(), Mail::new("DELAY", &["bob@remote.test"])).queue_id();
    for id in [&held, &delayed] {
        relay
            .runtime
            .block_on(relay.relay().cancel(id, "alice@example.jp"))
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(1200));
    assert!(sink.messages().is_empty(), "a cancelled message left");
    assert_eq!(relay.counts().get(&State::Cancelled), Some(&2));
    relay.wait_for_event(&held, "cancelled");
    // Cancelled is final: no release, no second cancel.
    assert!(
        relay
            .runtime
            .block_on(relay.relay().release(&held, "x"))
            .is_err()
    );
    assert!(
        relay
            .runtime
            .block_on(relay.relay().cancel(&delayed, "x"))
            .is_err()
    );
    assert!(
        relay
            .runtime
            .block_on(relay.relay().cancel("nosuchid", "x"))
            .is_err()
    );
}

#[test]
fn a_delayed_message_leaves_after_the_delay() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), 0, &[]);
    let relay = TestRelay::start(config(&dir.path().join("spool"), sink.port));

    let id = send_one(relay.port(), Mail::new("DELAY", &["bob@remote.test"])).queue_id();
    let accepted = Instant::now();
    std::thread::sleep(Duration::from_millis(200));
    assert!(sink.messages().is_empty(), "left before its delay");
    let received = sink.wait_for_messages(1).remove(0);
    // One "minute" is 400 ms here.
    assert!(accepted.elapsed() >= Duration::from_millis(350));
    assert_eq!(received.queue_id(), id);
}

// ---------------------------------------------------------------------------------------
// Failures at the next hop

#[test]
fn a_next_hop_that_is_down_is_retried_until_it_comes_up() {
    let dir = tempfile::tempdir().unwrap();
    let next_hop = free_port();
    let relay = TestRelay::start(config(&dir.path().join("spool"), next_hop));

    let mail = Mail::new("retry", &["bob@remote.test"]);
    let id = send_one(relay.port(), mail.clone()).queue_id();
    relay.wait_for_event(&id, "deferred");
    let sink = Sink::start(&dir.path().join("sink"), next_hop, &[]);
    let received = sink.wait_for_messages(1).remove(0);
    assert_eq!(received.split_trace().1, mail.data);
    let RelayEvent::Delivered { attempts, .. } = relay.wait_for_event(&id, "delivered") else {
        unreachable!()
    };
    assert!(attempts >= 2);
}

#[test]
fn a_refused_recipient_is_bounced_alone_and_a_deferred_one_retried_alone() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(
        &dir.path().join("sink"),
        0,
        &["--reject", "nobody", "--defer", "busy"],
    );
    let relay = TestRelay::start(config(&dir.path().join("spool"), sink.port));

    let mail = Mail::new(
        "partial",
        &["ok@remote.test", "nobody@remote.test", "busy@remote.test"],
    );
    let id = send_one(relay.port(), mail.clone()).queue_id();

    // The bounce for nobody, to the sender, and the message for ok.
    let received = sink.wait_for_messages(2);
    let original: Vec<_> = received
        .iter()
        .filter(|r| !r.mail_from.is_empty())
        .collect();
    assert_eq!(original.len(), 1);
    assert_eq!(original[0].rcpt_tos, vec!["ok@remote.test".to_string()]);
    let bounce = received.iter().find(|r| r.mail_from.is_empty()).unwrap();
    assert_eq!(bounce.rcpt_tos, vec!["alice@example.jp".to_string()]);
    let text = String::from_utf8_lossy(&bounce.content).into_owned();
    assert!(text.contains("Content-Type: multipart/report; report-type=delivery-status"));
    assert!(
        text.contains(
            "Final-Recipient: rfc822; nobody@remote.test\r\nAction: failed\r\nStatus: 5.1.1"
        ),
        "{text}"
    );
    assert!(text.contains("no such user here"));
    let (report, returned_headers) = text
        .split_once("Content-Type: text/rfc822-headers")
        .unwrap();
    assert!(
        !report.contains("ok@remote.test") && !report.contains("busy@remote.test"),
        "{text}"
    );
    assert!(returned_headers.contains("To: ok@remote.test, nobody@remote.test"));
    assert!(
        !text.contains(".a line with a dot"),
        "the bounce returned the body"
    );
    assert!(
        text.contains(&format!("Message-ID: {}", mail.key)),
        "headers not returned"
    );

    // busy is retried on its own: several attempts, and ok never gets a second copy.
    // Retries come every 0.2–0.5 s; the margin is for a loaded machine.
    wait_for("three deferrals of busy", Duration::from_secs(30), || {
        let deferred = relay
            .events_of(&id)
            .into_iter()
            .filter(|event| event.kind() == "deferred")
            .count();
        (deferred >= 3).then_some(())
    });
    let copies = sink
        .messages()
        .iter()
        .filter(|r| r.header("message-id").as_deref() == Some(mail.key.as_str()))
        .count();
    assert_eq!(
        copies, 1,
        "a recipient that accepted was sent the message again"
    );
    let events = relay.events_of(&id);
    let bounced: Vec<_> = events
        .iter()
        .filter(|event| event.kind() == "bounced")
        .collect();
    assert_eq!(bounced.len(), 1);
    let RelayEvent::Bounced { recipients, .. } = bounced[0] else {
        unreachable!()
    };
    assert_eq!(recipients.len(), 1);
    assert_eq!(recipients[0].address, "nobody@remote.test");
}

#[test]
fn a_message_not_delivered_in_time_is_bounced_to_its_sender() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), 0, &["--defer", "busy"]);
    let mut config = config(&dir.path().join("spool"), sink.port);
    config.retry.expire_after = Duration::from_millis(1500);
    let relay = TestRelay::start(config);

    let id = send_one(relay.port(), Mail::new("expiry", &["busy@remote.test"])).queue_id();
    let bounce = sink.wait_for_messages(1).remove(0);
    assert_eq!(bounce.mail_from, "");
    assert_eq!(bounce.rcpt_tos, vec!["alice@example.jp".to_string()]);
    let text = String::from_utf8_lossy(&bounce.content).into_owned();
    assert!(text.contains("Status: 4.4.7"), "{text}");
    assert!(text.contains("delivery time expired"), "{text}");
    relay.wait_for_event(&id, "expired");
    let RelayEvent::Bounced { dsn_id, .. } = relay.wait_for_event(&id, "bounced") else {
        unreachable!()
    };
    // The bounce is delivered like any message.
    let dsn_id = dsn_id.unwrap();
    relay.wait_for_event(&dsn_id, "delivered");
    assert_eq!(
        bounce.header("message-id"),
        Some(format!("<{id}.dsn@guard.test>"))
    );
}

#[test]
fn a_held_message_not_released_in_time_is_bounced() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), 0, &[]);
    let mut config = config(&dir.path().join("spool"), sink.port);
    config.hold_expiry = Duration::from_millis(800);
    let relay = TestRelay::start(config);

    let id = send_one(relay.port(), Mail::new("HOLD", &["bob@remote.test"])).queue_id();
    let bounce = sink.wait_for_messages(1).remove(0);
    assert_eq!(bounce.mail_from, "");
    let text = String::from_utf8_lossy(&bounce.content).into_owned();
    assert!(text.contains("held and not released"), "{text}");
    let RelayEvent::Expired { was, .. } = relay.wait_for_event(&id, "expired") else {
        unreachable!()
    };
    assert_eq!(was, State::Held);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sink.messages().len(), 1, "the held message itself left");
    assert!(
        relay
            .runtime
            .block_on(relay.relay().release(&id, "late"))
            .is_err()
    );
}

// ---------------------------------------------------------------------------------------
// Restart

/// 200 messages from smtplib while the sink goes down and comes back and the relay is
/// killed and started again on the same spool: every message answered 250 arrives.
#[test]
fn a_restart_in_the_middle_of_a_batch_loses_nothing() {
    const MESSAGES: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let sink_dir = dir.path().join("sink");
    let mut sink = Sink::start(&sink_dir, 0, &[]);
    let sink_port = sink.port;
    let relay_port = free_port();
    let relay_config = || {
        let mut config = config(&spool, sink_port);
        config.listen = SocketAddr::from(([127, 0, 0, 1], relay_port));
        config
    };
    let mut relay = TestRelay::start(relay_config());

    let mails: Vec<Mail> = (0..MESSAGES)
        .map(|index| Mail::new(&format!("batch{index}"), &["bob@remote.test"]))
        .collect();
    let mut client = spawn_client(job(
        relay_port,
        &mails,
        serde_json::json!({"until_acknowledged": true, "deadline_seconds": 40}),
    ));
    let lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let mut sent: Vec<Sent> = Vec::new();
    let mut sink_restarted = false;
    let mut relay_restarted = false;
    for line in lines {
        sent.push(parse_sent(&line.unwrap()));
        if sent.len() == 40 {
            sink.stop();
        }
        if sent.len() == 80 {
            relay.crash();
            std::thread::sleep(Duration::from_millis(100));
            let config = relay_config();
            relay = wait_for("the relay to start again", Duration::from_secs(5), || {
                let runtime = runtime();
                let guard = Arc::new(SubjectGuard::default());
                match runtime.block_on(Relay::start(config.clone(), guard.clone())) {
                    Ok(started) => Some(TestRelay {
                        port: started.local_addr().port(),
                        runtime,
                        relay: Some(started),
                        guard,
                    }),
                    Err(_) => None,
                }
            });
            relay_restarted = true;
        }
        if sent.len() == 120 {
            sink = Sink::start(&sink_dir, sink_port, &[]);
            sink_restarted = true;
        }
    }
    assert!(client.wait().unwrap().success());
    assert!(
        relay_restarted && sink_restarted,
        "the batch ended too early"
    );
    assert_eq!(sent.len(), MESSAGES);
    let retried: u64 = sent.iter().map(|s| s.attempts - 1).sum();
    for result in &sent {
        assert_eq!(result.code, 250, "not acknowledged in the end: {result:?}");
    }

    // Every acknowledged message arrives (duplicates allowed, counted).
    let acknowledged: BTreeMap<String, String> =
        sent.iter().map(|s| (s.key.clone(), s.queue_id())).collect();
    let received = wait_for(
        "every acknowledged message at the sink",
        Duration::from_secs(30),
        || {
            let received = read_sink(&sink_dir);
            let arrived: std::collections::HashSet<String> = received
                .iter()
                .filter_map(|r| r.header("message-id"))
                .collect();
            acknowledged
                .keys()
                .all(|key| arrived.contains(key))
                .then_some(received)
        },
    );
    let mut copies: HashMap<String, usize> = HashMap::new();
    for message in &received {
        *copies
            .entry(message.header("message-id").unwrap())
            .or_default() += 1;
    }
    let duplicates: usize = copies.values().map(|count| count - 1).sum();

    // The outbox kept every event across the crash: one decision per acknowledged message,
    // a delivery for every message the sink got.
    wait_for("the queue to drain", Duration::from_secs(15), || {
        let counts = relay.counts();
        (!counts.contains_key(&State::Queued)).then_some(())
    });
    let events = relay.events();
    let mut decided: HashMap<&str, usize> = HashMap::new();
    let mut delivered: HashMap<&str, usize> = HashMap::new();
    for event in &events {
        match event.kind() {
            "decided" => *decided.entry(event.id()).or_default() += 1,
            "delivered" => *delivered.entry(event.id()).or_default() += 1,
            _ => {}
        }
    }
    for id in acknowledged.values() {
        assert_eq!(
            decided.get(id.as_str()),
            Some(&1),
            "decision of {id} lost or doubled"
        );
    }
    for message in &received {
        let id = message.queue_id();
        assert!(
            delivered.contains_key(id.as_str()),
            "delivery of {id} not in the outbox"
        );
    }
    let delivered_twice = delivered.values().filter(|count| **count > 1).count();
    eprintln!(
        "restart mid-batch: {MESSAGES} acknowledged, {} arrivals, {duplicates} duplicates at the \
         sink, {delivered_twice} messages delivered twice by the relay, {retried} client retries, \
         0 lost",
        received.len()
    );
}

// ---------------------------------------------------------------------------------------
// Latency (run by hand: cargo test --release --test relay -- --ignored --nocapture latency)

/// A next hop that takes every message and keeps none, so delivery costs the relay as little
/// as possible while its accepting side is measured.
struct Discard;

impl mamori_mailguard::smtp::server::Handler for Discard {
    async fn message(
        &self,
        _received: mamori_mailguard::smtp::server::Received,
    ) -> mamori_mailguard::smtp::Reply {
        mamori_mailguard::smtp::Reply::new(250, [2, 0, 0], "OK")
    }
}

struct PassAll;

impl Guard for PassAll {
    fn decide(&self, _envelope: &Envelope, _message: &[u8]) -> Decision {
        Decision::pass()
    }
}

/// Sends `per_second` 100 kB messages for `seconds` from `clients` connections and returns
/// each message's time from MAIL FROM to the 250 after the data.
fn paced_load(port: u16, clients: usize, per_second: usize, seconds: u64) -> Vec<Duration> {
    let mut body = Vec::new();
    body.extend_from_slice(
        b"From: alice@example.jp\r\nTo: bob@remote.test\r\nSubject: load\r\n\r\n",
    );
    while body.len() < 100_000 {
        body.extend_from_slice(
            b"The quick brown fox jumps over the lazy dog 0123456789 0123456789\r\n",
        );
    }
    body.extend_from_slice(b".\r\n");
    let body = Arc::new(body);
    let interval = Duration::from_secs_f64(clients as f64 / per_second as f64);
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let body = body.clone();
            std::thread::spawn(move || {
                let mut raw = Raw::connect(port);
                assert_eq!(raw.reply().0, 220);
                raw.write(b"EHLO load.test\r\n");
                assert_eq!(raw.reply().0, 250);
                let start = Instant::now() + interval.mul_f64(client as f64 / clients as f64);
                let count = (seconds as f64 / interval.as_secs_f64()) as u32;
                let mut latencies = Vec::new();
                for index in 0..count {
                    let due = start + interval * index;
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let began = Instant::now();
                    raw.write(b"MAIL FROM:<alice@example.jp> SIZE=100100\r\nRCPT TO:<bob@remote.test>\r\nDATA\r\n");
                    let codes: Vec<u16> = raw.replies(3).iter().map(|(code, _)| *code).collect();
                    assert_eq!(codes, vec![250, 250, 354]);
                    raw.write(&body);
                    assert_eq!(raw.reply().0, 250);
                    latencies.push(began.elapsed());
                }
                raw.write(b"QUIT\r\n");
                latencies
            })
        })
        .collect();
    let mut all: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort();
    all
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * fraction).round() as usize]
}

#[test]
#[ignore = "a measurement, not a check: run by hand in release mode"]
fn latency_of_a_passing_100_kb_message() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let sink = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let sink_port = sink.local_addr().unwrap().port();
    let (_stop, stop) = tokio::sync::watch::channel(false);
    runtime.spawn(mamori_mailguard::smtp::server::serve(
        sink,
        Arc::new(mamori_mailguard::smtp::server::ServerConfig::new(
            "sink.test",
        )),
        Arc::new(Discard),
        stop,
    ));
    let relay = runtime
        .block_on(Relay::start(
            config(&dir.path().join("spool"), sink_port),
            Arc::new(PassAll),
        ))
        .unwrap();
    let relay_port = relay.local_addr().port();

    let seconds = 10;
    let direct = paced_load(sink_port, 4, 500, seconds);
    let through = paced_load(relay_port, 4, 500, seconds);
    for (name, latencies) in [
        ("direct to the sink", &direct),
        ("through the relay", &through),
    ] {
        eprintln!(
            "{name}: {} messages, p50 {:?}, p99 {:?}, max {:?}",
            latencies.len(),
            percentile(latencies, 0.5),
            percentile(latencies, 0.99),
            latencies.last().unwrap()
        );
    }
    eprintln!(
        "added: p50 {:?}, p99 {:?}",
        percentile(&through, 0.5).saturating_sub(percentile(&direct, 0.5)),
        percentile(&through, 0.99).saturating_sub(percentile(&direct, 0.99))
    );
    let wal = std::fs::metadata(dir.path().join("spool/queue.sqlite-wal")).map(|m| m.len());
    eprintln!("spool WAL after the run: {wal:?} bytes");
    runtime.block_on(relay.shutdown());
}

#[test]
fn shutdown_finishes_the_message_being_received_and_answers_421_to_idle_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(&dir.path().join("sink"), 0, &[]);
    let mut relay = TestRelay::start(config(&dir.path().join("spool"), sink.port));

    let mut idle = Raw::connect(relay.port());
    assert_eq!(idle.reply().0, 220);
    idle.write(b"EHLO idle.test\r\n");
    assert_eq!(idle.reply().0, 250);
    let mut busy = Raw::connect(relay.port());
    assert_eq!(busy.reply().0, 220);
    busy.write(
        b"EHLO busy.test\r\nMAIL FROM:<alice@example.jp>\r\nRCPT TO:<bob@remote.test>\r\nDATA\r\n",
    );
    let codes: Vec<u16> = busy.replies(4).iter().map(|(code, _)| *code).collect();
    assert_eq!(codes, vec![250, 250, 250, 354]);
    busy.write(b"Subject: in flight\r\nMessage-ID: <inflight@client.test>\r\n\r\nfirst half\r\n");

    let stopping = relay.relay.take().unwrap();
    let shutdown = relay.runtime.spawn(stopping.shutdown());
    let (code, text) = idle.reply();
    assert_eq!(code, 421, "{text}");
    assert!(idle.closed());

    busy.write(b"second half\r\n.\r\n");
    let (code, text) = busy.reply();
    assert_eq!(
        code, 250,
        "the message in progress was not finished: {text}"
    );
    assert_eq!(busy.reply().0, 421);
    relay.runtime.block_on(shutdown).unwrap();
    assert!(
        TcpStream::connect(("127.0.0.1", relay.port_after_shutdown())).is_err(),
        "still listening"
    );
}
