//! What the end-to-end tests share: a data directory driven through the real binary, a
//! served data directory, and a minimal HTTP client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const MAMORI: &str = env!("CARGO_BIN_EXE_mamori");

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        let out = env.run(&["init", "--origin", "test.mamori.invalid/events"]);
        assert!(out.status.success(), "init: {}", stderr(&out));
        env
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(MAMORI);
        command.arg("--data-dir").arg(self.data()).args(args);
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    pub fn sqlite(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data().join("store.sqlite")).unwrap()
    }

    pub fn ledger_file(&self, relative: &str) -> PathBuf {
        self.data().join("ledger/events").join(relative)
    }
}

/// Runs the command, failing the test instead of hanging if it takes longer than a minute.
pub fn run_with_deadline(mut command: Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("command still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `count` distinct events: a user per 50 events, one minute apart from 2026-01-05.
pub fn events(count: usize) -> String {
    let mut out = String::with_capacity(count * 220);
    let start = 1_767_571_200i64; // 2026-01-05T00:00:00Z
    for i in 0..count {
        let time = jiff::Timestamp::from_second(start + 60 * i as i64).unwrap();
        let user = i / 50;
        out.push_str(&format!(
            r#"{{"time":"{time}","kind":"file.copy","actor":{{"user":"ACM{user:04}","host":"PC-{user:04}"}},"object":{{"path":"C:/design/part-{i}.dwg","size":{}}},"destination":{{"kind":"removable"}},"outcome":"success"}}"#,
            1000 + i
        ));
        out.push('\n');
    }
    out
}

/// A data directory holding `count` events from [`events`].
pub fn with_events(count: usize) -> Env {
    let env = Env::new();
    let input = env.file("events.ndjson", &events(count));
    let (out, _) = import_json(&env, &input);
    assert!(out.status.success(), "{}", stderr(&out));
    env
}

pub fn import_json(env: &Env, path: &Path) -> (Output, serde_json::Value) {
    let out = env.run(&["--json", "import", "ndjson", path.to_str().unwrap()]);
    let summary = serde_json::from_str(stdout(&out).trim()).unwrap_or(serde_json::Value::Null);
    (out, summary)
}

pub struct Server(pub Child);

impl Server {
    /// Stops the server as an operator would (SIGTERM) and checks that it exits cleanly.
    pub fn stop(mut self) {
        let signalled = Command::new("kill")
            .arg(self.0.id().to_string())
            .status()
            .unwrap();
        assert!(signalled.success());
        assert!(self.0.wait().unwrap().success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mamori serve` on a free loopback port, its request log appended to `serve.log` in
/// the test's directory; returns the tile API's URL.
pub fn start_server(env: &Env) -> (Server, String) {
    start_server_on(env, "127.0.0.1:0")
}

/// [`start_server`] on a given address (a server restarted on the same port).
pub fn start_server_on(env: &Env, listen: &str) -> (Server, String) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(env.dir.path().join("serve.log"))
        .unwrap();
    let mut child = env
        .command(&["serve", "--listen", listen])
        .env("MAMORI_LOG", "warn,mamori::request=info")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("serving ")
        .and_then(|u| u.strip_suffix("/checkpoint"))
        .unwrap_or_else(|| panic!("unexpected serve output {line:?}"))
        .to_string();
    (Server(child), url)
}

/// A minimal HTTP/1.1 GET over loopback: status and body.
pub fn http_get(url: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = http(url, "GET", &[], &[]);
    (status, body)
}

/// A minimal HTTP/1.1 request over loopback: status, head and body.
pub fn http(
    url: &str,
    method: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    use std::io::Read;
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        match std::net::TcpStream::connect(host) {
            Ok(stream) => break stream,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
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

/// The last line a successful command printed (where secrets go).
pub fn last_line_of(out: Output) -> String {
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().last().unwrap().to_string()
}

/// A JSON API call with a bearer token: status and body (`null` when the body is not JSON).
pub fn api(
    url: &str,
    token: &str,
    method: &str,
    path: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let bearer = format!("Bearer {token}");
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let (status, _, answer) = http(
        &format!("{url}{path}"),
        method,
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/json"),
        ],
        &body,
    );
    (
        status,
        serde_json::from_slice(&answer).unwrap_or(serde_json::Value::Null),
    )
}
