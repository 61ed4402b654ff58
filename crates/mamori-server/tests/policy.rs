//! The policy routes on a real server over loopback (docs/api.md, "Policy and decisions"):
//! installing a policy, agents reading it with ETags, decisions recorded in the events ledger,
//! and the policy surviving a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use mamori_store::DataDir;
use mamori_store::auth::{Owner, Role, Scope};
use serde_json::{Value, json};

const POLICY: &str = r#"
format = 1
name = "test"
revision = 1
[[rules]]
id = "usb-confidential"
action = "block"
message.ja = "社外秘のファイルはUSBメモリにコピーできません。"
when.channels = ["removable_media"]
when.labels = ["社外秘"]
[[rules]]
id = "upload-justify"
action = "justify"
when.channels = ["web_upload"]
when.classified = true
when.domain_sanctioned = false
"#;

/// A data directory with an admin, an analyst, an auditor and an agent, and their tokens.
struct Env {
    dir: tempfile::TempDir,
    admin: String,
    analyst: String,
    auditor: String,
    agent: String,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let mut data = DataDir::init(dir.path(), "policy.mamori.invalid/events").unwrap();
        let store = data.store_mut();
        let now = jiff::Timestamp::now().as_microsecond();
        let mut user = |name: &str, role: Role| {
            store.add_user(name, role, now).unwrap();
            store
                .create_token(&Owner::User(name.into()), Scope::Api, None, now)
                .unwrap()
        };
        let admin = user("kanri", Role::Admin);
        let analyst = user("aoki", Role::Analyst);
        let auditor = user("kansa", Role::Auditor);
        let agent = store
            .create_token(&Owner::Agent("pc-1".into()), Scope::Ingest, None, now)
            .unwrap();
        drop(data);
        Env {
            dir,
            admin,
            analyst,
            auditor,
            agent,
        }
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }
}

/// A server running in this process on a loopback port the system chose.
struct Server {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), mamori_server::ServeError>>>,
}

impl Server {
    fn start(env: &Env) -> Server {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound, address) = std::sync::mpsc::channel::<SocketAddr>();
        let data = env.data().to_path_buf();
        let thread = std::thread::spawn(move || {
            mamori_server::run_until(
                mamori_server::Options {
                    data_dir: &data,
                    listen: "127.0.0.1:0".parse().unwrap(),
                    privacy: None,
                    tls: None,
                    pseudonym_key: None,
                },
                move |address| {
                    let _ = bound.send(address);
                },
                async move {
                    let _ = stopped.await;
                },
            )
        });
        let address = match address.recv_timeout(Duration::from_secs(30)) {
            Ok(address) => address,
            Err(_) => panic!("the server did not start: {:?}", thread.join()),
        };
        Server {
            url: format!("http://{address}"),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops the server as SIGTERM would and checks that it stopped cleanly.
    fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A minimal HTTP/1.1 request: status, head (lower-cased header names) and body.
fn http(url: &str, method: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String, Vec<u8>) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        match std::net::TcpStream::connect(host) {
            Ok(stream) => break stream,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("connect {host}: {e}"),
        }
    };
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, response[split + 4..].to_vec())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A call with a bearer token and a body of `content_type`: status, head and JSON answer
/// (`null` when the answer is not JSON).
fn call(
    server: &Server,
    token: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    extra: &[(&str, &str)],
) -> (u16, String, Value) {
    let bearer = format!("Bearer {token}");
    let mut headers = vec![
        ("Authorization", bearer.as_str()),
        ("Content-Type", content_type),
    ];
    headers.extend_from_slice(extra);
    let (status, head, answer) = http(&format!("{}{path}", server.url), method, &headers, body);
    (
        status,
        head,
        serde_json::from_slice(&answer).unwrap_or(Value::Null),
    )
}

fn put_policy(server: &Server, token: &str, text: &str) -> (u16, Value) {
    let (status, _, answer) = call(
        server,
        token,
        "PUT",
        "/api/v1/policy",
        "application/toml",
        text.as_bytes(),
        &[],
    );
    (status, answer)
}

fn get_policy(server: &Server, token: &str, extra: &[(&str, &str)]) -> (u16, String, Value) {
    call(
        server,
        token,
        "GET",
        "/api/v1/policy",
        "text/plain",
        &[],
        extra,
    )
}

fn decide(server: &Server, token: &str, request: &Value) -> (u16, Value) {
    let (status, _, answer) = call(
        server,
        token,
        "POST",
        "/api/v1/decisions",
        "application/json",
        request.to_string().as_bytes(),
        &[],
    );
    (status, answer)
}

fn error_of(answer: &Value) -> &str {
    answer["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
}

fn usb_copy() -> Value {
    json!({
        "channel": "removable_media",
        "user": "u1",
        "host": "pc-1",
        "object": {"path": "/home/u1/a.docx", "labels": ["社外秘"]},
        "destination": {"device": {"vendor": "0951", "product": "1666", "serial": "X1"}},
    })
}

#[test]
fn without_a_policy_reads_are_404_and_decisions_503() {
    let env = Env::new();
    let server = Server::start(&env);
    for token in [&env.agent, &env.admin] {
        let (status, _, answer) = get_policy(&server, token, &[]);
        assert_eq!(status, 404, "{answer}");
        assert!(error_of(&answer).contains("no policy"), "{answer}");
    }
    let (status, answer) = decide(&server, &env.agent, &usb_copy());
    assert_eq!(status, 503, "{answer}");
    assert!(error_of(&answer).contains("no policy"), "{answer}");
    server.stop();
}

#[test]
fn administrators_install_policies_and_agents_read_them_with_etags() {
    let env = Env::new();
    let server = Server::start(&env);

    // Only an administrator installs; only an agent or an administrator reads.
    let (status, answer) = put_policy(&server, &env.analyst, POLICY);
    assert_eq!(status, 403, "{answer}");
    let (status, answer) = put_policy(&server, &env.agent, POLICY);
    assert_eq!(status, 403, "{answer}");
    let (status, _, _) = http(
        &format!("{}/api/v1/policy", server.url),
        "PUT",
        &[("Content-Type", "text/plain")],
        POLICY.as_bytes(),
    );
    assert_eq!(status, 401);

    // A broken policy is refused with the key named, and nothing is installed.
    let broken = POLICY.replace("action = \"block\"", "action = \"shred\"");
    let (status, answer) = put_policy(&server, &env.admin, &broken);
    assert_eq!(status, 400, "{answer}");
    assert!(error_of(&answer).contains("action"), "{answer}");
    let (status, answer) = put_policy(&server, &env.admin, "format = 1\nname = \"x\"\n");
    assert_eq!(status, 400, "{answer}");
    assert!(error_of(&answer).contains("revision"), "{answer}");
    let (status, _, _) = call(
        &server,
        &env.admin,
        "PUT",
        "/api/v1/policy",
        "application/json",
        POLICY.as_bytes(),
        &[],
    );
    assert_eq!(status, 415);
    assert_eq!(get_policy(&server, &env.agent, &[]).0, 404);

    let (status, answer) = put_policy(&server, &env.admin, POLICY);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"name": "test", "revision": 1, "mode": "enforce"})
    );

    // Agents and administrators read it, with the revision as its ETag.
    for token in [&env.agent, &env.admin] {
        let (status, head, answer) = get_policy(&server, token, &[]);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(header(&head, "etag"), Some("\"1\""), "{head}");
        assert_eq!(answer["name"], "test");
        assert_eq!(answer["revision"], 1);
        assert_eq!(answer["mode"], "enforce");
        assert_eq!(answer["toml"], POLICY);
    }
    let (status, _, answer) = get_policy(&server, &env.analyst, &[]);
    assert_eq!(status, 403, "{answer}");
    let (status, head, _) = get_policy(&server, &env.agent, &[("If-None-Match", "\"1\"")]);
    assert_eq!(status, 304);
    assert_eq!(header(&head, "etag"), Some("\"1\""), "{head}");
    let (status, _, _) = get_policy(&server, &env.agent, &[("If-None-Match", "\"0\"")]);
    assert_eq!(status, 200);

    // The same revision again is a conflict; a higher one replaces it.
    let (status, answer) = put_policy(&server, &env.admin, POLICY);
    assert_eq!(status, 409, "{answer}");
    assert!(error_of(&answer).contains("revision"), "{answer}");
    let second = POLICY
        .replace("revision = 1", "revision = 2")
        .replace("name = \"test\"", "name = \"test\"\nmode = \"simulate\"");
    let (status, answer) = put_policy(&server, &env.admin, &second);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["mode"], "simulate");
    let (status, head, answer) = get_policy(&server, &env.agent, &[("If-None-Match", "\"1\"")]);
    assert_eq!(status, 200);
    assert_eq!(header(&head, "etag"), Some("\"2\""), "{head}");
    assert_eq!(answer["toml"], second);
    let (status, answer) = put_policy(&server, &env.admin, POLICY);
    assert_eq!(status, 409, "{answer}");

    // Each installation is in the access log, as the administrator.
    let (status, _, log) = call(
        &server,
        &env.auditor,
        "GET",
        "/api/v1/access-log?limit=100",
        "text/plain",
        &[],
        &[],
    );
    assert_eq!(status, 200, "{log}");
    let installs: Vec<&Value> = log["access"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "policy.install")
        .collect();
    assert_eq!(installs.len(), 2, "{log}");
    assert!(installs.iter().all(|r| r["actor"] == "kanri"), "{log}");
    assert!(
        installs[0]["target"]
            .as_str()
            .unwrap()
            .contains("revision 2"),
        "{log}"
    );
    server.stop();

    // The file is the policy as sent, and it is in force after a restart.
    let stored = std::fs::read_to_string(env.data().join("policy/policy.toml")).unwrap();
    assert_eq!(stored, second);
    let server = Server::start(&env);
    let (status, head, answer) = get_policy(&server, &env.agent, &[]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(header(&head, "etag"), Some("\"2\""), "{head}");
    assert_eq!(answer["revision"], 2);
    server.stop();
}

#[test]
fn decisions_are_answered_and_recorded_in_the_ledger() {
    let env = Env::new();
    let server = Server::start(&env);
    assert_eq!(put_policy(&server, &env.admin, POLICY).0, 200);

    // Only an agent's ingest token asks for decisions.
    let (status, answer) = decide(&server, &env.admin, &usb_copy());
    assert_eq!(status, 403, "{answer}");

    // A confidential file to a USB stick is blocked, and the decision is in the ledger.
    let (status, blocked) = decide(&server, &env.agent, &usb_copy());
    assert_eq!(status, 200, "{blocked}");
    assert_eq!(blocked["action"], "block");
    assert_eq!(blocked["verdict"], "blocked");
    assert_eq!(blocked["permitted"], false);
    assert_eq!(blocked["rule"], "usb-confidential");
    assert_eq!(blocked["matched"], json!(["usb-confidential"]));
    assert_eq!(
        blocked["message"]["ja"],
        "社外秘のファイルはUSBメモリにコピーできません。"
    );
    assert_eq!(
        blocked["policy"],
        json!({"name": "test", "revision": 1, "mode": "enforce"})
    );
    let leaf = blocked["leaf"]
        .as_u64()
        .unwrap_or_else(|| panic!("{blocked}"));

    // An unlabelled file is allowed by default, and a plain allow is not recorded.
    let mut plain = usb_copy();
    plain["object"]["labels"] = json!([]);
    let (status, allowed) = decide(&server, &env.agent, &plain);
    assert_eq!(status, 200, "{allowed}");
    assert_eq!(allowed["verdict"], "allowed");
    assert_eq!(allowed["permitted"], true);
    assert_eq!(allowed["leaf"], Value::Null);

    // An upload of classified data to an unsanctioned site needs a reason: without one it is
    // blocked, with one it goes ahead and the reason is recorded.
    let mut upload = json!({
        "channel": "web_upload",
        "user": "u1",
        "object": {"path": "/home/u1/b.xlsx", "labels": ["社外秘"]},
        "destination": {"domain": "files.example.com"},
        "time": "2026-03-02T01:00:00Z",
    });
    let (status, refused) = decide(&server, &env.agent, &upload);
    assert_eq!(status, 200, "{refused}");
    assert_eq!(
        (&refused["action"], &refused["verdict"]),
        (&json!("justify"), &json!("blocked"))
    );
    upload["justification"] = json!("取引先への見積書の送付（部長承認済み）");
    let (status, overridden) = decide(&server, &env.agent, &upload);
    assert_eq!(status, 200, "{overridden}");
    assert_eq!(overridden["verdict"], "overridden");
    assert_eq!(overridden["permitted"], true);
    let overridden_leaf = overridden["leaf"].as_u64().unwrap();
    assert_ne!(overridden_leaf, leaf);
    // The same request with its time again is the same event: stored once.
    let (_, again) = decide(&server, &env.agent, &upload);
    assert_eq!(again["leaf"], overridden_leaf);

    // Bad bodies are refused with the field named, and nothing is stored.
    for (body, field) in [
        (json!({"channel": "fax", "user": "u1"}), "channel"),
        (json!({"user": "u1", "colour": "red"}), "colour"),
        (
            json!({"channel": "print", "user": "u1", "object": {"labels": "社外秘"}}),
            "object.labels",
        ),
        (json!({"channel": "print", "user": " "}), "user"),
        (
            json!({"channel": "removable_media", "user": "u1",
                   "destination": {"device": {"vendor": "xyz", "product": "1666"}}}),
            "destination.device.vendor",
        ),
        (json!({"channel": "print"}), "user"),
    ] {
        let (status, answer) = decide(&server, &env.agent, &body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(error_of(&answer).contains(field), "{body}: {answer}");
    }
    let (status, _, answer) = call(
        &server,
        &env.agent,
        "POST",
        "/api/v1/decisions",
        "application/json",
        b"{\"user\": ",
        &[],
    );
    assert_eq!(status, 400, "{answer}");
    let big = json!({"channel": "print", "user": "u1", "object": {"path": "x".repeat(70_000)}});
    let (status, answer) = decide(&server, &env.agent, &big);
    assert_eq!(status, 413, "{answer}");

    // The decisions are events of the ledger: blocked with the rule, overridden with the reason.
    let (status, _, found) = call(
        &server,
        &env.analyst,
        "GET",
        "/api/v1/events?kind=policy.decision",
        "text/plain",
        &[],
        &[],
    );
    assert_eq!(status, 200, "{found}");
    let events = found["events"].as_array().unwrap();
    assert_eq!(events.len(), 3, "{found}");
    let event = |leaf: u64| {
        events
            .iter()
            .find(|e| e["leaf"] == leaf)
            .map(|e| &e["event"])
            .unwrap_or_else(|| panic!("leaf {leaf} not in {found}"))
    };
    let stored = event(leaf);
    assert_eq!(stored["kind"], "policy.decision");
    assert_eq!(stored["outcome"], "blocked");
    assert_eq!(stored["raw"]["rule"], "usb-confidential");
    assert_eq!(stored["raw"]["policy"], "test");
    assert_eq!(stored["raw"]["revision"], 1);
    assert_eq!(stored["raw"]["decider"], "pc-1");
    let stored = event(overridden_leaf);
    assert_eq!(stored["outcome"], "overridden");
    assert_eq!(stored["raw"]["rule"], "upload-justify");
    assert!(stored["raw"]["justification"].is_string(), "{stored}");
    server.stop();
}

#[test]
fn a_broken_policy_file_stops_the_server_naming_the_file() {
    let env = Env::new();
    std::fs::create_dir_all(env.data().join("policy")).unwrap();
    std::fs::write(
        env.data().join("policy/policy.toml"),
        POLICY.replace("revision = 1", "revision = \"one\""),
    )
    .unwrap();
    let error = mamori_server::run_until(
        mamori_server::Options {
            data_dir: env.data(),
            listen: "127.0.0.1:0".parse().unwrap(),
            privacy: None,
            tls: None,
            pseudonym_key: None,
        },
        |_| panic!("the server started"),
        async {},
    )
    .unwrap_err();
    assert!(error.is_config(), "{error}");
    let message = error.to_string();
    assert!(message.contains("policy.toml"), "{message}");
    assert!(message.contains("revision"), "{message}");
}
