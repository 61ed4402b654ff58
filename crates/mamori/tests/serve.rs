//! End-to-end tests of `mamori serve`: they start the real binary on loopback and talk HTTP
//! to it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

#[test]
fn served_tiles_and_checkpoint_pass_an_independent_c2sp_implementation() {
    let env = with_events(70_000);
    let key = stdout(&env.run(&["keys", "show"]));
    let (_server, prefix) = start_server(&env);

    let (status, body) = http_get(&format!("{prefix}/checkpoint"));
    assert_eq!(status, 200);
    assert!(String::from_utf8(body).unwrap().contains("\n70000\n"));
    // Level-0 tile 256 holds leaves 65536..65792; level-1 tile 0 the first 65536 leaves.
    assert_eq!(http_get(&format!("{prefix}/tile/0/256")).1.len(), 256 * 32);
    assert_eq!(http_get(&format!("{prefix}/tile/1/000")).1.len(), 256 * 32);
    assert_eq!(
        http_get(&format!("{prefix}/tile/0/../../../../store.sqlite")).0,
        404
    );
    let origin = prefix.rsplit_once("/tlog/").unwrap().0;
    assert_eq!(http_get(&format!("{origin}/healthz")).0, 200);

    let checker = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/c2sp/check_log.py");
    let out = Command::new("python3")
        .arg(&checker)
        .args(["log", "--url", &prefix, "--key", key.trim(), "--all"])
        .args(["--indices", "0,255,256,65535,65536,69999"])
        .output()
        .expect("python3 is required for the independent checker");
    assert!(
        out.status.success(),
        "independent checker failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
}

/// An event line for the ingest tests: a file copy by `user` at second `second` of a day.
fn agent_event(user: &str, second: u32) -> String {
    format!(
        r#"{{"time":"2026-01-05T09:{:02}:{:02}Z","kind":"file.copy","actor":{{"user":"{user}","host":"PC-1"}},"object":{{"path":"C:/d/{second}.dwg"}},"destination":{{"kind":"removable"}},"outcome":"success"}}"#,
        second / 60,
        second % 60
    )
}

fn post_events(
    url: &str,
    token: &str,
    body: &[u8],
    gzip: bool,
) -> (u16, String, serde_json::Value) {
    let bearer = format!("Bearer {token}");
    let mut headers = vec![
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/x-ndjson"),
    ];
    if gzip {
        headers.push(("Content-Encoding", "gzip"));
    }
    let (status, head, body) = http(&format!("{url}/api/v1/events"), "POST", &headers, body);
    let value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (status, head, value)
}

#[test]
fn agents_send_events_over_http_and_retries_are_answered_with_the_stored_leaves() {
    let env = Env::new();
    let token = last_line_of(env.run(&["agents", "enroll", "pc-0042"]));
    let users = env.run(&["users", "add", "aoki", "--role", "analyst"]);
    assert!(users.status.success());
    let api_token = last_line_of(env.run(&["tokens", "create", "--user", "aoki"]));

    let (server, tlog) = start_server(&env);
    let url = tlog.strip_suffix("/tlog/events").unwrap().to_string();

    // Two good lines around a bad one and a blank one.
    let body = format!(
        "{}\n{{\"time\":\"x\"}}\n\n{}\n",
        agent_event("ACM2278", 1),
        agent_event("ACM2278", 2)
    );
    let (status, _, answer) = post_events(&url, &token, body.as_bytes(), false);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["accepted"],
        serde_json::json!([{"line": 1, "leaf": 0}, {"line": 4, "leaf": 1}])
    );
    assert_eq!(answer["rejected"][0]["line"], 2);
    assert!(
        answer["rejected"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("time"),
        "{answer}"
    );

    // A retry (the answer was lost): the same leaves, nothing stored twice; gzip is understood.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(
        format!(
            "{}\n{}\n{}",
            agent_event("ACM2278", 2),
            agent_event("ACM2278", 1),
            agent_event("BOB0001", 3)
        )
        .as_bytes(),
    )
    .unwrap();
    let (status, _, answer) = post_events(&url, &token, &gz.finish().unwrap(), true);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["accepted"],
        serde_json::json!([{"line": 1, "leaf": 1}, {"line": 2, "leaf": 0}, {"line": 3, "leaf": 2}])
    );

    // Refusals: no token, an unknown one, a user's API token, a bad encoding, a gzip bomb.
    let (status, head, _) = http(
        &format!("{url}/api/v1/events"),
        "POST",
        &[],
        body.as_bytes(),
    );
    assert_eq!(status, 401);
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{head}"
    );
    assert_eq!(
        post_events(&url, "mmr_000000000000_nope", body.as_bytes(), false).0,
        401
    );
    assert_eq!(post_events(&url, &api_token, body.as_bytes(), false).0, 403);
    let bearer = format!("Bearer {token}");
    let (status, _, _) = http(
        &format!("{url}/api/v1/events"),
        "POST",
        &[("Authorization", &bearer), ("Content-Encoding", "br")],
        body.as_bytes(),
    );
    assert_eq!(status, 415);
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..65 {
        bomb.write_all(&[b' '; 1 << 20]).unwrap();
    }
    assert_eq!(
        post_events(&url, &token, &bomb.finish().unwrap(), true).0,
        413
    );

    // Stopping the server (SIGTERM) signs a checkpoint over what it stored; the store verifies.
    let _ = http_get(&format!("{url}/no/such/thing"));
    server.stop();
    // The request log names routes and statuses, never paths, tokens or event contents.
    let log = std::fs::read_to_string(env.dir.path().join("serve.log")).unwrap();
    for expected in [
        "route=/api/v1/events status=200",
        "route=/api/v1/events status=401",
        "route=/api/v1/events status=403",
        "route=/api/v1/events status=413",
        "route=(no route) status=404",
    ] {
        assert!(log.contains(expected), "{expected} not in\n{log}");
    }
    let secret = token
        .strip_prefix("mmr_")
        .and_then(|rest| rest.split_once('_'))
        .unwrap()
        .1;
    for private in [secret, "ACM2278", "no/such/thing", "aoki"] {
        assert!(!log.contains(private), "{private} logged:\n{log}");
    }
    let checkpoint = std::fs::read_to_string(env.ledger_file("checkpoint")).unwrap();
    assert_eq!(checkpoint.lines().nth(1), Some("3"), "{checkpoint}");
    assert_eq!(verified_events(&env), 3);
}

/// `verify` passes; the number of stored events.
fn verified_events(env: &Env) -> i64 {
    let out = env.run(&["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    env.sqlite()
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn the_http_ingest_benchmark_has_every_event_acknowledged() {
    // Many senders and small batches: the server may answer 429, the senders come back.
    let env = Env::new();
    let out = env.run(&[
        "--json",
        "bench",
        "http-ingest",
        "--events",
        "3000",
        "--batch",
        "100",
        "--senders",
        "8",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let figures: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(figures["events"], 3000);
    assert_eq!(figures["requests"], 30);
    assert!(figures["events_per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_sender_retrying_through_a_killed_server_loses_and_duplicates_nothing() {
    let env = Env::new();
    let token = last_line_of(env.run(&["agents", "enroll", "forwarder"]));
    let spool: Vec<String> = (0..40).map(|i| agent_event("ACM2278", i)).collect();
    let first = &spool[..25];

    // The first 25 are acknowledged; then the server dies without warning (SIGKILL).
    let (server, tlog) = start_server(&env);
    let url = tlog.strip_suffix("/tlog/events").unwrap().to_string();
    let (status, _, answer) = post_events(&url, &token, first.join("\n").as_bytes(), false);
    assert_eq!(status, 200, "{answer}");
    let acknowledged = answer["accepted"].clone();
    // Once the server has been quiet for a moment, their postings are written too.
    let postings_through = || -> String {
        env.sqlite()
            .query_row(
                "SELECT value FROM meta WHERE key = 'postings_through'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while postings_through() != "25" {
        assert!(Instant::now() < deadline, "postings not written while idle");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(server);

    // The sender cannot know what the server kept, so it sends its whole spool again.
    let (server, tlog) = start_server(&env);
    let url = tlog.strip_suffix("/tlog/events").unwrap().to_string();
    let (status, _, answer) = post_events(&url, &token, spool.join("\n").as_bytes(), false);
    assert_eq!(status, 200, "{answer}");
    let accepted = answer["accepted"].as_array().unwrap();
    assert_eq!(accepted.len(), 40);
    assert_eq!(
        serde_json::Value::from(accepted[..25].to_vec()),
        acknowledged
    );
    let leaves: Vec<u64> = accepted
        .iter()
        .map(|a| a["leaf"].as_u64().unwrap())
        .collect();
    assert_eq!(leaves, (0..40).collect::<Vec<u64>>());

    server.stop();
    assert_eq!(verified_events(&env), 40);
}

#[test]
fn the_transparency_page_shows_the_declarations_in_japanese_and_english() {
    let env = Env::new();
    let (server, tlog) = start_server(&env);
    let url = tlog.strip_suffix("/tlog/events").unwrap().to_string();
    // Nothing declared yet: the page says so.
    let (_, body) = transparency(&url, &[("Accept-Language", "en")], "");
    assert!(
        body.contains("No purposes, data or retention periods have been declared"),
        "{body}"
    );
    server.stop();

    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/privacy.toml"),
        env.data().join("privacy.toml"),
    )
    .unwrap();
    let (server, tlog) = start_server(&env);
    let url = tlog.strip_suffix("/tlog/events").unwrap().to_string();
    let (head, body) = transparency(&url, &[("Accept-Language", "en-GB,ja;q=0.5")], "");
    assert!(
        head.to_ascii_lowercase().contains("content-language: en"),
        "{head}"
    );
    assert!(body.contains("Example Manufacturing Co., Ltd."), "{body}");
    assert!(body.contains("Preventing leaks of confidential and personal information"));
    assert!(body.contains("<td>180 days</td>"), "{body}");
    let (_, body) = transparency(&url, &[("Accept-Language", "ja-JP")], "");
    assert!(
        body.contains("株式会社サンプル製作所") && body.contains("365 日"),
        "{body}"
    );
    let (_, body) = transparency(&url, &[], "?lang=en");
    assert!(
        body.contains("privacy@example.co.jp") && body.contains("lang=ja"),
        "{body}"
    );
    server.stop();

    // A configuration with a mistake stops the server, naming the file and the field.
    let bad = env.file(
        "bad.toml",
        "contact = \"x\"\n[controller]\nen = \"A\"\nja = \"B\"\n\
         [responsible]\nen = \"C\"\nja = \"D\"\npurpose = 1\n",
    );
    let out = env.run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--privacy",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("bad.toml") && stderr(&out).contains("purpose"),
        "{}",
        stderr(&out)
    );
}

/// `GET /transparency` with these headers and query: the head and the page.
fn transparency(url: &str, headers: &[(&str, &str)], query: &str) -> (String, String) {
    let (status, head, body) = http(&format!("{url}/transparency{query}"), "GET", headers, &[]);
    assert_eq!(status, 200);
    (head, String::from_utf8(body).unwrap())
}

#[test]
fn serve_speaks_tls_with_a_configured_certificate() {
    use std::io::Read;
    let env = Env::new();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = env.file("cert.pem", &certified.cert.pem());
    let key = env.file("key.pem", &certified.signing_key.serialize_pem());
    let mut child = env
        .command(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let server = Server(child);
    let address = line
        .trim()
        .strip_prefix("serving https://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("unexpected serve output {line:?}"))
        .to_string();

    // Plain HTTP to the TLS port gets no page; the server carries on.
    let mut plain = std::net::TcpStream::connect(&address).unwrap();
    write!(
        plain,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    let _ = plain.read_to_end(&mut response);
    assert!(!String::from_utf8_lossy(&response).contains("200 OK"));

    // A client that trusts the certificate reads /healthz over TLS.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let mut tls =
        rustls::StreamOwned::new(connection, std::net::TcpStream::connect(&address).unwrap());
    write!(
        tls,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 200 OK") && response.ends_with("ok\n"),
        "{response}"
    );
    server.stop();

    // A key that does not parse: exit 2, naming the option.
    let bad = env.file("bad.pem", "not a key");
    let out = env.run(&[
        "serve",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--tls-key"), "{}", stderr(&out));
}

#[test]
fn the_openapi_document_lists_every_route_and_each_answers() {
    let env = Env::new();
    let (server, tlog) = start_server(&env);
    let url = tlog.strip_suffix("/tlog/events").unwrap().to_string();
    let (status, body) = http_get(&format!("{url}/api/v1/openapi.json"));
    assert_eq!(status, 200);
    let document: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/healthz",
        "/transparency",
        "/tlog/events/checkpoint",
        "/tlog/events/tile/{path}",
        "/api/v1/events",
        "/api/v1/openapi.json",
    ] {
        assert!(paths.contains_key(path), "{path} undescribed");
    }
    assert_eq!(
        paths["/api/v1/events"]["post"]["security"],
        serde_json::json!([{"ingest": []}])
    );
    // Every described route is served: nothing answers the fallback's 404 "not found".
    for (path, methods) in paths {
        let concrete = path.replace("{path}", "0/000");
        for method in methods.as_object().unwrap().keys() {
            let (_, _, body) = http(
                &format!("{url}{concrete}"),
                &method.to_uppercase(),
                &[],
                &[],
            );
            assert_ne!(body, b"not found\n", "{method} {path} is not served");
        }
    }
    server.stop();
}

#[test]
fn every_route_answers_every_role_as_its_description_says() {
    let env = Env::new();
    const ROLES: [&str; 6] = [
        "admin",
        "analyst",
        "investigator",
        "approver",
        "auditor",
        "employee",
    ];
    // (who, bearer token): every role's API token, an agent, a stranger, nobody.
    let mut callers: Vec<(String, Option<String>)> = Vec::new();
    for role in ROLES {
        let user = format!("user-{role}");
        last_line_of(env.run(&["users", "add", &user, "--role", role]));
        let token = last_line_of(env.run(&["tokens", "create", "--user", &user]));
        callers.push((role.to_string(), Some(token)));
    }
    callers.push((
        "agent".into(),
        Some(last_line_of(env.run(&["agents", "enroll", "pc-1"]))),
    ));
    callers.push(("stranger".into(), Some("mmr_000000000000_AAAA".into())));
    callers.push(("nobody".into(), None));

    let (server, tlog) = start_server(&env);
    let url = tlog.strip_suffix("/tlog/events").unwrap().to_string();
    let (_, body) = http_get(&format!("{url}/api/v1/openapi.json"));
    let document: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut checked = 0;
    for (path, methods) in document["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{path}", "0/000")
            .replace("{person}", "P-0000000000")
            .replace("{manager}", "P-0000000000")
            .replace("{id}", "1");
        for (method, operation) in methods.as_object().unwrap() {
            // Every scheme the route takes (GET /api/v1/policy: an agent's or an admin's).
            let schemes: Vec<String> = operation["security"]
                .as_array()
                .map(|s| {
                    s.iter()
                        .filter_map(|s| s.as_object()?.keys().next().cloned())
                        .collect()
                })
                .unwrap_or_default();
            let roles: Vec<&str> = operation["x-mamori-roles"]
                .as_array()
                .map(|r| r.iter().map(|v| v.as_str().unwrap()).collect())
                .unwrap_or_default();
            for (who, token) in &callers {
                let bearer = token.as_ref().map(|t| format!("Bearer {t}"));
                let headers: Vec<(&str, &str)> = bearer
                    .iter()
                    .map(|b| ("Authorization", b.as_str()))
                    .collect();
                let (status, _, _) = http(
                    &format!("{url}{concrete}"),
                    &method.to_uppercase(),
                    &headers,
                    &[],
                );
                // Admitted callers get past the checks of who they are (the empty body or
                // the made-up id may still be refused: 400, 404, 422); everyone else is
                // stopped there. Nobody gets a server error.
                let admitted = if schemes.is_empty() {
                    None
                } else if matches!(who.as_str(), "stranger" | "nobody") {
                    Some(false)
                } else {
                    Some(schemes.iter().any(|scheme| match scheme.as_str() {
                        "ingest" => who == "agent",
                        _ => roles.contains(&who.as_str()),
                    }))
                };
                let ok = match admitted {
                    // A tile or checkpoint may not exist yet; a sign-in needs a body.
                    None => [200, 400, 404].contains(&status),
                    // (An export bundle also needs a granted export request.)
                    Some(true) => {
                        status != 401
                            && (status != 403 || path.ends_with("/bundle"))
                            && status < 500
                    }
                    Some(false) if matches!(who.as_str(), "stranger" | "nobody") => status == 401,
                    Some(false) => status == 403,
                };
                assert!(
                    ok,
                    "{method} {path} as {who}: {status} (admitted: {admitted:?})"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 38 * callers.len(), "{checked}");
    // The auditor's reads are themselves in the log they read.
    let bearer = format!("Bearer {}", callers[4].1.as_ref().unwrap());
    let (status, _, body) = http(
        &format!("{url}/api/v1/access-log?limit=5"),
        "GET",
        &[("Authorization", &bearer)],
        &[],
    );
    assert_eq!(status, 200);
    let log: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(log["access"][0]["action"], "access_log.read");
    assert_eq!(log["access"][0]["actor"], "user-auditor");
    server.stop();
}

#[test]
fn the_server_applies_retention_when_it_starts() {
    let env = Env::new();
    let line = |time: &str, path: &str| {
        format!(
            r#"{{"time":"{time}","kind":"file.copy","actor":{{"user":"ACM2278"}},"object":{{"path":"{path}"}},"outcome":"success"}}"#
        )
    };
    let input = env.file(
        "events.ndjson",
        &format!(
            "{}\n{}\n",
            line("2020-01-06T09:00:00Z", "C:/ancient"),
            line("2099-01-06T09:00:00Z", "C:/future")
        ),
    );
    let out = env.run(&["import", "ndjson", input.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/privacy.toml"),
        env.data().join("privacy.toml"),
    )
    .unwrap();
    let (server, _) = start_server(&env);
    let bodies = || std::fs::read_to_string(env.data().join("store.ndjson")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while bodies().contains("ancient") {
        assert!(Instant::now() < deadline, "retention did not run");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(bodies().contains("future"));
    server.stop();
    assert_eq!(verified_events(&env), 2);
    let log = String::from_utf8(env.run(&["access-log"]).stdout).unwrap();
    assert!(
        log.lines().any(|l| l.contains("mamori serve")
            && l.contains("file.copy before")
            && l.contains("1 erased")),
        "{log}"
    );
}

/// A signed-in browser: the session cookie and the CSRF token from the login answer.
struct Browser {
    url: String,
    cookie: String,
    csrf: String,
}

impl Browser {
    fn login(
        url: &str,
        name: &str,
        password: &str,
    ) -> (u16, String, serde_json::Value, Option<Browser>) {
        let body = serde_json::json!({"name": name, "password": password}).to_string();
        let (status, head, body) = http(
            &format!("{url}/api/v1/login"),
            "POST",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let cookie = head
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .and_then(|c| c.split(';').next())
            .map(str::to_string);
        let browser = cookie.map(|cookie| Browser {
            url: url.to_string(),
            cookie,
            csrf: answer["csrf_token"].as_str().unwrap_or("").to_string(),
        });
        (status, head, answer, browser)
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
        csrf: bool,
    ) -> (u16, serde_json::Value) {
        let mut headers = vec![
            ("Cookie", self.cookie.as_str()),
            ("Content-Type", "application/json"),
        ];
        if csrf {
            headers.push(("X-CSRF-Token", self.csrf.as_str()));
        }
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let (status, _, answer) = http(&format!("{}{path}", self.url), method, &headers, &body);
        (
            status,
            serde_json::from_slice(&answer).unwrap_or(serde_json::Value::Null),
        )
    }
}

/// A user of `role` and their one-time password.
fn add_user(env: &Env, name: &str, role: &str) -> String {
    last_line_of(env.run(&["users", "add", name, "--role", role]))
}

fn base_url(env: &Env) -> (Server, String) {
    let (server, tlog) = start_server(env);
    (
        server,
        tlog.strip_suffix("/tlog/events").unwrap().to_string(),
    )
}

#[test]
fn a_browser_session_must_replace_its_one_time_password_and_send_its_csrf_token() {
    let env = Env::new();
    let password = add_user(&env, "mori", "analyst");
    let (server, url) = base_url(&env);

    let (status, _, answer, _) = Browser::login(&url, "mori", "wrong password!");
    assert_eq!((status, answer["error"].is_string()), (401, true));
    let (status, head, answer, browser) = Browser::login(&url, "mori", &password);
    assert_eq!(status, 200, "{answer}");
    let browser = browser.unwrap();
    let cookie_line = head.lines().find(|l| l.starts_with("set-cookie:")).unwrap();
    assert!(cookie_line.contains("HttpOnly") && cookie_line.contains("SameSite=Strict"));
    assert!(!cookie_line.contains("Secure"), "plain HTTP: {cookie_line}");
    assert_eq!(answer["must_change_password"], true);

    // Only who-am-I, the password change and sign-out until the one-time password is gone.
    let (status, me) = browser.request("GET", "/api/v1/me", &serde_json::Value::Null, false);
    assert_eq!(
        (status, me["must_change_password"].clone()),
        (200, true.into())
    );
    let (status, answer) =
        browser.request("GET", "/api/v1/alerts", &serde_json::Value::Null, false);
    assert_eq!(status, 403);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("one-time password")
    );
    let change =
        serde_json::json!({"current_password": password, "new_password": "a long new passphrase"});
    // A change without the CSRF token is refused, whatever the cookie.
    assert_eq!(
        browser
            .request("POST", "/api/v1/password", &change, false)
            .0,
        403
    );
    assert_eq!(
        browser.request("POST", "/api/v1/password", &change, true).0,
        204
    );
    assert_eq!(
        browser
            .request("GET", "/api/v1/alerts", &serde_json::Value::Null, false)
            .0,
        200
    );
    // The one-time password is gone; the new one works.
    assert_eq!(Browser::login(&url, "mori", &password).0, 401);
    let (status, _, answer, second) = Browser::login(&url, "mori", "a long new passphrase");
    assert_eq!(
        (status, answer["must_change_password"].clone()),
        (200, false.into())
    );

    // Signing out ends the session: its cookie no longer works.
    assert_eq!(
        browser
            .request("POST", "/api/v1/logout", &serde_json::Value::Null, true)
            .0,
        204
    );
    assert_eq!(
        browser
            .request("GET", "/api/v1/me", &serde_json::Value::Null, false)
            .0,
        401
    );
    assert_eq!(
        second
            .unwrap()
            .request("GET", "/api/v1/me", &serde_json::Value::Null, false)
            .0,
        200
    );

    // Sign-ins are rate-limited per address: ten a minute.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(Browser::login(&url, "nobody", "guess guess guess").0);
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    server.stop();

    let log = stdout(&env.run(&["--json", "access-log", "--limit", "100"]));
    for action in [
        "session.login_refused",
        "session.login",
        "users.password",
        "session.logout",
    ] {
        assert!(
            log.contains(&format!("\"{action}\"")),
            "{action} not logged: {log}"
        );
    }
}

/// A person (田中 太郎, account `tanaka.t` on `PC-TANAKA`) with events and an open alert, and
/// the privacy declarations with dual control.
fn with_person_and_alert() -> Env {
    let env = Env::new();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/privacy.toml"),
        env.data().join("privacy.toml"),
    )
    .unwrap();
    let events: String = (0..3)
        .map(|i| {
            format!(
                "{{\"time\":\"2026-01-05T09:0{i}:00Z\",\"kind\":\"file.copy\",\"actor\":{{\"user\":\"tanaka.t\",\"host\":\"PC-TANAKA\"}},\"object\":{{\"path\":\"C:\\\\Users\\\\tanaka.t\\\\Desktop\\\\見積_田中_{i}.xlsx\"}},\"destination\":{{\"kind\":\"removable\"}},\"outcome\":\"success\"}}\n"
            )
        })
        .collect();
    let input = env.file("events.ndjson", &events);
    let (out, _) = import_json(&env, &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let hr = env.file(
        "hr.csv",
        &format!(
            "{}\nE1001,2020-01-01,田中 太郎,taro.tanaka@example.co.jp,,,設計部,,,,employee,2020-01-01,,,false,tanaka.t\n",
            mamori_event::HR_CSV_COLUMNS.join(",")
        ),
    );
    let out = env.run(&["import", "hr", hr.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut data = mamori_store::DataDir::open(&env.data()).unwrap();
    data.store_mut()
        .add_alerts(&[mamori_store::NewAlert {
            person_id: "E1001".into(),
            time_us: 1_767_603_600_000_000,
            day: 20_458,
            severity: mamori_store::Level::High,
            kind: "rule".into(),
            title: "E1001 (tanaka.t) copied 3 files to USB on PC-TANAKA".into(),
            title_ja: "田中 太郎 が PC-TANAKA で USB に 3 ファイルをコピー".into(),
            details: serde_json::json!({"paths": ["C:\\Users\\tanaka.t\\Desktop\\見積_田中_0.xlsx"]}),
            dedup_key: "usb-1".into(),
            events: vec![0, 1, 2],
        }])
        .unwrap();
    env
}

/// Whether any way of naming 田中 太郎 appears in `text`.
fn names_tanaka(text: &str) -> bool {
    let lower = text.to_lowercase();
    ["tanaka", "田中", "太郎", "e1001"]
        .iter()
        .any(|n| lower.contains(n))
}

fn token_for(env: &Env, name: &str, role: &str) -> String {
    add_user(env, name, role);
    last_line_of(env.run(&["tokens", "create", "--user", name]))
}

#[test]
fn persons_appear_under_pseudonyms_until_an_approved_reveal_for_the_case() {
    let env = with_person_and_alert();
    let analyst = token_for(&env, "aoki", "analyst");
    let investigator = token_for(&env, "sato", "investigator");
    let other_investigator = token_for(&env, "kato", "investigator");
    let approver = token_for(&env, "ueda", "approver");
    let auditor = token_for(&env, "ito", "auditor");
    let (server, url) = base_url(&env);
    let null = serde_json::Value::Null;

    // The analyst's view names nobody: person, account, host, path and titles are pseudonyms.
    let (status, alerts) = api(&url, &analyst, "GET", "/api/v1/alerts", &null);
    assert_eq!(status, 200);
    let alert = &alerts["alerts"][0];
    let person = alert["person"].as_str().unwrap().to_string();
    assert!(person.starts_with("P-"), "{alert}");
    assert!(!names_tanaka(&alerts.to_string()), "{alerts}");
    let (status, events) = api(
        &url,
        &analyst,
        "GET",
        &format!("/api/v1/persons/{person}/events"),
        &null,
    );
    assert_eq!(status, 200);
    assert_eq!(events["events"].as_array().unwrap().len(), 3, "{events}");
    assert!(!names_tanaka(&events.to_string()), "{events}");
    assert_eq!(events["events"][0]["event"]["kind"], "file.copy");
    // Pages: two events, then the one after them.
    let (_, page) = api(
        &url,
        &analyst,
        "GET",
        &format!("/api/v1/persons/{person}/events?limit=2"),
        &null,
    );
    assert_eq!(
        (
            page["events"].as_array().unwrap().len(),
            page["more"].as_bool()
        ),
        (2, Some(true)),
        "{page}"
    );
    let next = page["next_after"].as_u64().unwrap();
    let (_, rest) = api(
        &url,
        &analyst,
        "GET",
        &format!("/api/v1/persons/{person}/events?limit=2&after={next}"),
        &null,
    );
    assert_eq!(
        (
            rest["events"].as_array().unwrap().len(),
            rest["more"].as_bool()
        ),
        (1, Some(false)),
        "{rest}"
    );
    assert!(rest["next_after"].is_null());
    assert_eq!(rest["events"][0]["leaf"], events["events"][2]["leaf"]);
    // The same person is the same pseudonym everywhere, and an unknown one is not found.
    let (_, again) = api(&url, &investigator, "GET", "/api/v1/alerts", &null);
    assert_eq!(again["alerts"][0]["person"], person.as_str());
    assert_eq!(
        api(
            &url,
            &analyst,
            "GET",
            "/api/v1/persons/P-0000000000/events",
            &null
        )
        .0,
        404
    );
    // Analysts do not work cases.
    assert_eq!(api(&url, &analyst, "GET", "/api/v1/cases", &null).0, 403);

    let (status, case) = api(
        &url,
        &investigator,
        "POST",
        "/api/v1/cases",
        &serde_json::json!({"title": "USB copies", "alerts": [alert["id"]]}),
    );
    assert_eq!(status, 201, "{case}");
    let case_path = format!("/api/v1/cases/{}", case["id"]);
    let (_, shown) = api(&url, &investigator, "GET", &case_path, &null);
    assert_eq!(
        (shown["person"].as_str(), shown["revealed"].as_bool()),
        (Some(person.as_str()), Some(false))
    );
    assert!(shown["person_name"].is_null(), "{shown}");
    assert!(!names_tanaka(&shown.to_string()), "{shown}");

    // A reveal needs a declared purpose and a real justification.
    let reveals = format!("{case_path}/reveals");
    let (status, refused) = api(
        &url,
        &investigator,
        "POST",
        &reveals,
        &serde_json::json!({"purpose": "incident-investigation", "justification": "why not"}),
    );
    assert_eq!(status, 422, "{refused}");
    let (status, _) = api(
        &url,
        &investigator,
        "POST",
        &reveals,
        &serde_json::json!({"purpose": "curiosity", "justification": "copies of design data to USB before leaving"}),
    );
    assert_eq!(status, 422);
    assert_eq!(
        api(
            &url,
            &investigator,
            "POST",
            &reveals,
            &serde_json::json!({"justification": "no purpose given at all here"})
        )
        .0,
        400
    );
    let (status, request) = api(
        &url,
        &investigator,
        "POST",
        &reveals,
        &serde_json::json!({"purpose": "incident-investigation", "justification": "copies of design data to USB before leaving"}),
    );
    assert_eq!(
        (status, request["status"].as_str()),
        (201, Some("pending")),
        "{request}"
    );
    // Pending: still pseudonymised. Investigators cannot decide; the approver can.
    assert_eq!(
        api(&url, &investigator, "GET", &case_path, &null).1["revealed"],
        false
    );
    let decision = format!("/api/v1/approvals/{}/decision", request["id"]);
    assert_eq!(
        api(
            &url,
            &investigator,
            "POST",
            &decision,
            &serde_json::json!({"grant": true})
        )
        .0,
        403
    );
    let (status, pending) = api(
        &url,
        &approver,
        "GET",
        "/api/v1/approvals?status=pending",
        &null,
    );
    assert_eq!(
        (status, pending["approvals"].as_array().unwrap().len()),
        (200, 1)
    );
    assert_eq!(pending["approvals"][0]["kind"], "reveal");
    let (status, granted) = api(
        &url,
        &approver,
        "POST",
        &decision,
        &serde_json::json!({"grant": true}),
    );
    assert_eq!(
        (status, granted["status"].as_str()),
        (200, Some("granted")),
        "{granted}"
    );
    assert!(granted["expires"].is_string());

    // Revealed for the requester, in this case only; everyone else still sees pseudonyms.
    let (_, shown) = api(&url, &investigator, "GET", &case_path, &null);
    assert_eq!(
        (shown["person"].as_str(), shown["revealed"].as_bool()),
        (Some("E1001"), Some(true))
    );
    assert_eq!(shown["person_name"], "田中 太郎");
    let (_, case_events) = api(
        &url,
        &investigator,
        "GET",
        &format!("{case_path}/events"),
        &null,
    );
    assert!(
        case_events.to_string().contains("tanaka.t"),
        "{case_events}"
    );
    let (_, other) = api(&url, &other_investigator, "GET", &case_path, &null);
    assert!(!names_tanaka(&other.to_string()), "{other}");
    let (_, alerts) = api(&url, &investigator, "GET", "/api/v1/alerts", &null);
    assert!(!names_tanaka(&alerts.to_string()), "{alerts}");

    // Exporting the case's evidence takes a granted export request of its own.
    let bundle_path = format!("{case_path}/bundle");
    let bearer = format!("Bearer {investigator}");
    let get_bundle = || {
        http(
            &format!("{url}{bundle_path}"),
            "GET",
            &[("Authorization", bearer.as_str())],
            &[],
        )
    };
    assert_eq!(get_bundle().0, 403, "a reveal is not an export");
    let (status, export) = api(
        &url,
        &investigator,
        "POST",
        &format!("{case_path}/exports"),
        &serde_json::json!({"purpose": "incident-investigation", "justification": "evidence for the disciplinary committee"}),
    );
    assert_eq!(
        (status, export["kind"].as_str()),
        (201, Some("export")),
        "{export}"
    );
    assert_eq!(get_bundle().0, 403, "pending");
    let decision = format!("/api/v1/approvals/{}/decision", export["id"]);
    assert_eq!(
        api(
            &url,
            &approver,
            "POST",
            &decision,
            &serde_json::json!({"grant": true})
        )
        .0,
        200
    );
    let (status, head, bundle) = get_bundle();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bundle));
    assert!(head.contains("application/zip"), "{head}");
    let file = env.dir.path().join("case.zip");
    std::fs::write(&file, &bundle).unwrap();
    let vkey = env.data().join("keys/events.vkey");
    let out = env.run(&[
        "--json",
        "evidence",
        "verify",
        file.to_str().unwrap(),
        "--key",
        vkey.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let verified: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(verified["events"], 3, "{verified}");
    assert_eq!(verified["statement"]["approval"]["granted_by"], "ueda");

    // Every read and decision is in the access log, read back by the auditor.
    let (_, log) = api(&url, &auditor, "GET", "/api/v1/access-log?limit=100", &null);
    let actions: Vec<&str> = log["access"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for action in [
        "alerts.list",
        "person.events",
        "cases.open",
        "cases.show",
        "reveals.request",
        "approvals.list",
        "reveals.grant",
        "exports.request",
        "exports.grant",
        "cases.export",
        "cases.events",
        "access_log.read",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    assert!(
        !names_tanaka(&log.to_string()),
        "the access log names pseudonyms: {log}"
    );

    // The access log is a signed ledger of its own, checked by the independent implementation.
    // A busy server signs it at most once a second: the last reads are covered within one.
    let signed_size = || -> usize {
        let (status, checkpoint) = http_get(&format!("{url}/tlog/access/checkpoint"));
        assert_eq!(status, 200);
        let text = String::from_utf8(checkpoint).unwrap();
        text.lines().nth(1).unwrap().parse().unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while signed_size() < actions.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let size = signed_size();
    assert!(size >= actions.len(), "{size}");
    let key = std::fs::read_to_string(env.data().join("keys/access.vkey")).unwrap();
    let checker = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/c2sp/check_log.py");
    let out = std::process::Command::new("python3")
        .arg(&checker)
        .args([
            "log",
            "--url",
            &format!("{url}/tlog/access"),
            "--key",
            key.trim(),
            "--all",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    server.stop();
    let out = env.run(&["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("access log"), "{}", stdout(&out));
}

/// Copies the insider rules into the data directory's `rules/` folder, where the server
/// reads them.
fn with_rules(env: &Env) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/insider");
    let target = env.data().join("rules");
    std::fs::create_dir_all(&target).unwrap();
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml") {
            std::fs::copy(&path, target.join(path.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn the_console_api_triages_searches_sums_up_and_records_each_use() {
    let env = with_person_and_alert();
    with_rules(&env);
    // One more copy, of an archive: what the archive rule is about.
    let archive = env.file(
        "archive.ndjson",
        "{\"time\":\"2026-01-05T09:05:00Z\",\"kind\":\"file.copy\",\"actor\":{\"user\":\"tanaka.t\",\"host\":\"PC-TANAKA\"},\"object\":{\"name\":\"backup.zip\",\"extension\":\"zip\"},\"destination\":{\"kind\":\"removable\"},\"outcome\":\"success\"}\n",
    );
    let (out, _) = import_json(&env, &archive);
    assert!(out.status.success(), "{}", stderr(&out));
    let analyst = token_for(&env, "aoki", "analyst");
    let investigator = token_for(&env, "sato", "investigator");
    let admin = token_for(&env, "root", "admin");
    let auditor = token_for(&env, "ito", "auditor");
    let (server, url) = base_url(&env);
    let null = serde_json::Value::Null;
    // The server is the data directory's one writer: an import waits for it to stop.
    let (out, _) = import_json(&env, &archive);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("in use by another Mamori process"),
        "{}",
        stderr(&out)
    );

    // The dashboard counts without naming anyone.
    let (status, board) = api(&url, &analyst, "GET", "/api/v1/dashboard", &null);
    assert_eq!(status, 200, "{board}");
    assert_eq!(board["alerts"]["by_severity"]["high"], 1, "{board}");
    // 設計部 has one person: too small to be named next to a risk.
    let row = &board["alerts"]["by_department"][0];
    assert_eq!(
        (&row["department"], &row["small"]),
        (&serde_json::Value::Null, &serde_json::json!(true)),
        "{board}"
    );
    assert_eq!(board["sources"][0]["kind"], "file.copy");
    assert_eq!(board["sources"][0]["events"], 4);
    assert!(!names_tanaka(&board.to_string()), "{board}");
    assert_eq!(
        api(&url, &analyst, "GET", "/api/v1/dashboard?days=0", &null).0,
        400
    );

    let person_path = format!(
        "/api/v1/persons/{}/risk",
        api(&url, &analyst, "GET", "/api/v1/alerts", &null).1["alerts"][0]["person"]
            .as_str()
            .unwrap()
    );
    let (_, risk) = api(&url, &analyst, "GET", &person_path, &null);
    assert!(risk["department"].is_null(), "{risk}");

    // Triage: a dismissal needs a reason; assign goes to an analyst only; all or nothing.
    let (_, alerts) = api(&url, &analyst, "GET", "/api/v1/alerts?sort=severity", &null);
    let id = alerts["alerts"][0]["id"].as_i64().unwrap();
    let person = alerts["alerts"][0]["person"].as_str().unwrap().to_string();
    let triage =
        |body: serde_json::Value| api(&url, &analyst, "POST", "/api/v1/alerts/triage", &body);
    assert_eq!(
        triage(serde_json::json!({"alerts": [id], "action": "dismiss"})).0,
        422
    );
    assert_eq!(
        triage(
            serde_json::json!({"alerts": [id, 999], "action": "dismiss", "reason": "known backup"})
        )
        .0,
        404
    );
    assert_eq!(
        triage(serde_json::json!({"alerts": [id], "action": "assign", "assignee": "root"})).0,
        422
    );
    assert_eq!(
        triage(serde_json::json!({"alerts": [id], "action": "assign", "assignee": "aoki"})).0,
        200
    );
    let (status, done) =
        triage(serde_json::json!({"alerts": [id], "action": "dismiss", "reason": "known backup"}));
    assert_eq!(
        (status, &done["updated"]),
        (200, &serde_json::json!(1)),
        "{done}"
    );
    let (_, dismissed) = api(
        &url,
        &analyst,
        "GET",
        &format!("/api/v1/alerts?person={person}"),
        &null,
    );
    assert_eq!(dismissed["alerts"][0]["status"], "dismissed");
    assert_eq!(dismissed["alerts"][0]["assignee"], "aoki");
    assert_eq!(
        triage(serde_json::json!({"alerts": [id], "action": "reopen"})).0,
        200
    );

    // A case moves along; closing needs an outcome.
    let (status, case) = api(
        &url,
        &investigator,
        "POST",
        "/api/v1/cases",
        &serde_json::json!({"title": "USB copies", "alerts": [id]}),
    );
    assert_eq!(status, 201, "{case}");
    let case_path = format!("/api/v1/cases/{}", case["id"]);
    assert_eq!(
        api(
            &url,
            &investigator,
            "PATCH",
            &case_path,
            &serde_json::json!({"status": "closed"})
        )
        .0,
        422
    );
    let (status, moved) = api(
        &url,
        &investigator,
        "PATCH",
        &case_path,
        &serde_json::json!({"status": "investigating", "assignee": "sato"}),
    );
    assert_eq!(status, 200, "{moved}");
    assert_eq!(
        (moved["status"].as_str(), moved["assignee"].as_str()),
        (Some("investigating"), Some("sato"))
    );
    assert_eq!(
        api(
            &url,
            &analyst,
            "PATCH",
            &case_path,
            &serde_json::json!({"status": "open"})
        )
        .0,
        403
    );

    // Search: by person, by label; a real name or address finds nothing.
    let (status, found) = api(
        &url,
        &analyst,
        "GET",
        &format!("/api/v1/events?person={person}&kind=file.copy&limit=2"),
        &null,
    );
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["events"].as_array().unwrap().len(), 2, "{found}");
    assert_eq!(found["events"][0]["person"], person.as_str(), "{found}");
    assert!(!names_tanaka(&found.to_string()), "{found}");
    let (_, rest) = api(
        &url,
        &analyst,
        "GET",
        &format!(
            "/api/v1/events?person={person}&after={}",
            found["next_after"]
        ),
        &null,
    );
    assert_eq!(
        (
            rest["events"].as_array().unwrap().len(),
            rest["more"].as_bool()
        ),
        (2, Some(false)),
        "{rest}"
    );
    let (_, by_name) = api(
        &url,
        &analyst,
        "GET",
        "/api/v1/events?destination=tanaka",
        &null,
    );
    assert_eq!(by_name["events"].as_array().unwrap().len(), 0, "{by_name}");
    let (_, all) = api(
        &url,
        &analyst,
        "GET",
        "/api/v1/events?from=2026-01-05T09:01:00Z",
        &null,
    );
    assert_eq!(all["events"].as_array().unwrap().len(), 3, "{all}");

    // Preferences are the caller's own and checked.
    let (status, saved) = api(
        &url,
        &analyst,
        "PUT",
        "/api/v1/me/preferences",
        &serde_json::json!({"lang": "en"}),
    );
    assert_eq!(
        (status, saved["lang"].as_str(), saved["tz"].as_str()),
        (200, Some("en"), Some("Asia/Tokyo"))
    );
    assert_eq!(
        api(
            &url,
            &analyst,
            "PUT",
            "/api/v1/me/preferences",
            &serde_json::json!({"tz": "Mars/Olympus"})
        )
        .0,
        422
    );
    let (_, me) = api(&url, &analyst, "GET", "/api/v1/me", &null);
    assert_eq!(
        (me["lang"].as_str(), me["csrf_token"].is_null()),
        (Some("en"), true),
        "{me}"
    );
    let (_, other) = api(&url, &investigator, "GET", "/api/v1/me", &null);
    assert!(other["lang"].is_null(), "{other}");
    let (_, purposes) = api(&url, &investigator, "GET", "/api/v1/purposes", &null);
    assert!(
        purposes["purposes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "incident-investigation"),
        "{purposes}"
    );

    // Users and rules are the administrator's.
    let (status, added) = api(
        &url,
        &admin,
        "POST",
        "/api/v1/users",
        &serde_json::json!({"name": "mori", "role": "approver"}),
    );
    assert_eq!(status, 201, "{added}");
    assert!(added["password"].as_str().unwrap().len() >= 12);
    let (_, users) = api(&url, &admin, "GET", "/api/v1/users", &null);
    assert!(
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["name"] == "mori" && u["must_change_password"] == true)
    );
    assert_eq!(api(&url, &analyst, "GET", "/api/v1/users", &null).0, 403);
    let (status, rules) = api(&url, &analyst, "GET", "/api/v1/rules", &null);
    assert_eq!(status, 200);
    let rule = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "84622edc-48ae-4719-b9f7-9d69026dfb66")
        .cloned()
        .unwrap();
    assert_eq!(rule["enabled"], true, "{rule}");
    let rule_path = format!("/api/v1/rules/{}", rule["id"].as_str().unwrap());
    assert_eq!(
        api(
            &url,
            &analyst,
            "PUT",
            &rule_path,
            &serde_json::json!({"enabled": false})
        )
        .0,
        403
    );
    assert_eq!(
        api(
            &url,
            &admin,
            "PUT",
            "/api/v1/rules/no-such-rule",
            &serde_json::json!({"enabled": false})
        )
        .0,
        404
    );
    let (status, _) = api(
        &url,
        &admin,
        "PUT",
        &rule_path,
        &serde_json::json!({"enabled": false, "severity": "low"}),
    );
    assert_eq!(status, 200);
    let (_, rules) = api(&url, &admin, "GET", "/api/v1/rules", &null);
    let changed = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == rule["id"])
        .unwrap();
    assert_eq!(
        (changed["enabled"].as_bool(), changed["severity"].as_str()),
        (Some(false), Some("low"))
    );

    // A back-test says what a rule would find without switching it on.
    let (status, tested) = api(
        &url,
        &admin,
        "POST",
        &format!("{rule_path}/backtest"),
        &null,
    );
    assert_eq!(status, 200, "{tested}");
    assert_eq!(
        (&tested["events"], &tested["hits"], &tested["persons"]),
        (
            &serde_json::json!(4),
            &serde_json::json!(1),
            &serde_json::json!(1)
        ),
        "{tested}"
    );
    assert_eq!(tested["first"], "2026-01-05T09:05:00Z");
    assert!(!names_tanaka(&tested.to_string()), "{tested}");
    assert_eq!(
        api(&url, &admin, "POST", "/api/v1/rules/nope/backtest", &null).0,
        404
    );
    // Correlations are rules too: listed, settable, back-tested.
    let correlation = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["correlation"] == true)
        .cloned()
        .unwrap();
    let (status, tested) = api(
        &url,
        &admin,
        "POST",
        &format!(
            "/api/v1/rules/{}/backtest",
            correlation["id"].as_str().unwrap()
        ),
        &null,
    );
    assert_eq!(
        (status, &tested["events"]),
        (200, &serde_json::json!(4)),
        "{tested}"
    );
    assert_eq!(
        api(
            &url,
            &analyst,
            "POST",
            &format!("{rule_path}/backtest"),
            &null
        )
        .0,
        403
    );

    // The console is served with a policy that runs only the server's own scripts.
    let (status, headers, page) = http(&format!("{url}/console/"), "GET", &[], &[]);
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("<"), "not a page");
    let csp = headers
        .lines()
        .find(|l| l.to_lowercase().starts_with("content-security-policy:"));
    assert!(
        csp.is_some_and(|l| l.contains("script-src 'self'")),
        "{headers}"
    );
    assert_eq!(
        http(&format!("{url}/console/../Cargo.toml"), "GET", &[], &[]).0,
        404
    );
    assert_eq!(
        http(&format!("{url}/console/secret.key"), "GET", &[], &[]).0,
        404
    );

    // Each of those uses is in the access log, the dismissal's free-text reason is not.
    let (_, log) = api(&url, &auditor, "GET", "/api/v1/access-log?limit=100", &null);
    let actions: Vec<&str> = log["access"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for action in [
        "dashboard.read",
        "alerts.dismiss",
        "alerts.assign",
        "alerts.reopen",
        "cases.status",
        "cases.assign",
        "events.search",
        "users.add",
        "users.list",
        "rules.set",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    assert!(!log.to_string().contains("known backup"), "{log}");
    server.stop();
}
