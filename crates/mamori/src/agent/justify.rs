//! `mamori justify` and the agent's justification socket (docs/agent.md, "Justifying a copy").
//!
//! A copy to removable media that a `justify` rule stopped waits in the agent
//! ([`mamori_agent::justify`]). The person says why with `mamori justify "REASON"`, as
//! themselves: the command sends one JSON line over a unix socket the agent listens on, and
//! the agent takes the caller's uid from the kernel (`SO_PEERCRED`), never from the request —
//! so a person can only justify their own copies. The answer says what may now be copied
//! again, and until when.
//!
//! Requests: `{"reason": "...", "path": "..."}` (`path` optional: only the copies of that
//! file, directory or file name) or `{"list": true}`. Answers: `{"granted": N, "actions":
//! [{"source", "destination", "expires"}]}`, `{"granted": 0, "error": "nothing awaits ..."}`,
//! `{"pending": [...]}` or `{"error": "..."}`.
//!
//! The socket is open to every local user (0666), so it is defended: a request is at most
//! 8 KiB and must arrive within 2 s, and at most a few connections are served at once.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use mamori_agent::Justifications;
use mamori_agent::justify::{Denial, GRANT_LIFETIME, JustifyError, check_reason, peer_uid};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::BadInput;

/// Where the agent listens and `mamori justify` asks, unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/mamori-agent/justify.sock";
/// Largest request accepted.
const MAX_REQUEST: usize = 8 * 1024;
/// How long a client has to send its request (all of it, not per read).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections served at once; more are refused at once rather than queued.
const MAX_CONNECTIONS: usize = 8;
/// Longest path filter, in characters.
const MAX_PATH_CHARS: usize = 4096;
/// What the agent answers when a uid has nothing to justify.
const NOTHING: &str = "nothing awaits a justification: no copy of yours was stopped by a rule \
                       that asks for a reason in the last 15 minutes";

#[derive(Args)]
pub struct JustifyArgs {
    /// Why the copy is needed (recorded with it in the audit log; one line, at most 1000
    /// characters). Then copy again within 10 minutes.
    #[arg(required_unless_present = "list", conflicts_with = "list")]
    reason: Option<String>,
    /// Only the stopped copies of this file (a path, a directory, or a file name).
    #[arg(long, conflicts_with = "list")]
    path: Option<PathBuf>,
    /// Show your copies awaiting a justification; grant nothing.
    #[arg(long)]
    list: bool,
    /// The agent's justification socket.
    #[arg(long, default_value = DEFAULT_SOCKET)]
    socket: PathBuf,
}

/// What a request asks.
#[derive(Debug, PartialEq, Eq)]
enum Query {
    List,
    Justify {
        reason: String,
        path: Option<String>,
    },
}

/// A request as sent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    list: bool,
}

/// One request line (a trailing newline is allowed): checked as strictly as the reason will
/// be recorded.
fn parse_request(bytes: &[u8]) -> Result<Query, String> {
    if bytes.len() > MAX_REQUEST {
        return Err(format!(
            "the request is larger than {} KiB",
            MAX_REQUEST / 1024
        ));
    }
    let line = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if line.contains(&b'\n') {
        return Err("one request per connection, on one line".into());
    }
    let wire: Wire =
        serde_json::from_slice(line).map_err(|e| format!("not a justification request: {e}"))?;
    match (wire.list, wire.reason, wire.path) {
        (true, None, None) => Ok(Query::List),
        (true, _, _) => Err("`list` takes no reason or path".into()),
        (false, Some(reason), path) => {
            let reason = check_reason(&reason).map_err(|e| e.to_string())?;
            if let Some(path) = &path
                && (path.is_empty()
                    || path.chars().count() > MAX_PATH_CHARS
                    || path.chars().any(char::is_control))
            {
                return Err(format!(
                    "the path must be 1 to {MAX_PATH_CHARS} characters without control characters"
                ));
            }
            Ok(Query::Justify { reason, path })
        }
        (false, None, _) => Err("a request has a `reason` (or `\"list\": true`)".into()),
    }
}

/// The answer to `query` from `uid` at `now`.
fn answer(query: Query, uid: u32, justifications: &Justifications, now: jiff::Timestamp) -> Value {
    match query {
        Query::List => {
            let pending: Vec<Value> = justifications
                .pending(uid, now)
                .iter()
                .map(denial_json)
                .collect();
            json!({ "pending": pending })
        }
        Query::Justify { reason, path } => {
            match justifications.justify(uid, &reason, path.as_deref(), now) {
                Ok(grants) if grants.is_empty() => json!({"granted": 0, "error": NOTHING}),
                Ok(grants) => {
                    // The reason is the person's words: the decision event records it; the
                    // log only says that someone justified something.
                    info!(uid, granted = grants.len(), "justification accepted");
                    let actions: Vec<Value> = grants
                        .iter()
                        .map(|g| {
                            json!({
                                "source": g.source,
                                "destination": g.destination,
                                "expires": g.expires.to_string(),
                            })
                        })
                        .collect();
                    json!({"granted": grants.len(), "actions": actions})
                }
                Err(error) => json!({"error": error.to_string()}),
            }
        }
    }
}

fn denial_json(denial: &Denial) -> Value {
    let mut value = json!({
        "source": denial.source,
        "destination": denial.destination,
        "time": denial.time.to_string(),
    });
    if let Some(rule) = &denial.rule {
        value["rule"] = json!(rule);
    }
    if let Some(message) = &denial.message {
        value["message"] = json!({"en": message.en, "ja": message.ja});
    }
    value
}

/// Reads one request of at most [`MAX_REQUEST`] bytes, up to its newline or the end, all of
/// it within `timeout`: a client that sends slowly is cut off, not waited for.
fn read_request(stream: &mut UnixStream, timeout: Duration) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + timeout;
    let mut request = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("the request did not arrive in time".into());
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(request),
            Ok(n) => {
                request.extend_from_slice(&chunk[..n]);
                if request.len() > MAX_REQUEST {
                    return Err(format!(
                        "the request is larger than {} KiB",
                        MAX_REQUEST / 1024
                    ));
                }
                if chunk[..n].contains(&b'\n') {
                    return Ok(request);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err("the request did not arrive in time".into());
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Serves one connection: who asks (from the kernel), what, and the answer line.
fn serve_one(mut stream: UnixStream, justifications: &Justifications, timeout: Duration) {
    let answer = match peer_uid(&stream) {
        Err(error) => json!({"error": error.to_string()}),
        Ok(uid) => match read_request(&mut stream, timeout).and_then(|r| parse_request(&r)) {
            Ok(query) => answer(query, uid, justifications, jiff::Timestamp::now()),
            Err(error) => json!({"error": error}),
        },
    };
    reply(&mut stream, &answer);
}

fn reply(stream: &mut UnixStream, answer: &Value) {
    let _ = stream.set_write_timeout(Some(REQUEST_TIMEOUT));
    let _ = stream
        .write_all(format!("{answer}\n").as_bytes())
        .and_then(|()| stream.flush());
}

/// The hint shown with a stopped copy's notification, once the socket is listening.
static HINT: OnceLock<String> = OnceLock::new();

/// How to justify a copy, in Japanese and English — `None` when the agent takes no
/// justifications (the socket could not be made).
pub(super) fn hint() -> Option<&'static str> {
    HINT.get().map(String::as_str)
}

fn make_hint(socket: &Path) -> String {
    let command = if socket == Path::new(DEFAULT_SOCKET) {
        "mamori justify".to_string()
    } else {
        format!("mamori justify --socket {}", socket.display())
    };
    let minutes = GRANT_LIFETIME.as_secs() / 60;
    format!(
        "理由を記録すれば続行できます: {command} \"理由\" を実行し、{minutes}分以内にもう一度\
         コピーしてください。\nTo go ahead, record your reason: run {command} \"your reason\", \
         then copy again within {minutes} minutes."
    )
}

/// The agent's end: a unix socket served by a thread of its own, removed when dropped.
pub(super) struct Listener {
    path: PathBuf,
    /// Device and inode of the socket made, so only that one is removed.
    identity: (u64, u64),
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Listens on `path` (mode 0666: any local user may ask for their own copies), making its
    /// directory (0755) when missing. A socket left by an agent that was killed is replaced;
    /// a live one, or anything else at `path`, is an error.
    pub(super) fn start(path: &Path, justifications: Justifications) -> anyhow::Result<Listener> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.exists() {
            std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("{}", dir.display()))?;
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {
                if UnixStream::connect(path).is_ok() {
                    bail!("{} is in use (another agent?)", path.display());
                }
                std::fs::remove_file(path).with_context(|| format!("{}", path.display()))?;
            }
            Ok(_) => bail!("{} exists and is not a socket", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("{}", path.display())),
        }
        let listener = UnixListener::bind(path).with_context(|| format!("{}", path.display()))?;
        let made = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
        let identity = (made.dev(), made.ino());
        let mut this = Listener {
            path: path.to_path_buf(),
            identity,
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
        };
        // The agent's umask (0077 under systemd) would leave it to root alone.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
            .with_context(|| format!("{}", path.display()))?;
        let stop = this.stop.clone();
        this.thread = Some(
            std::thread::Builder::new()
                .name("mamori-justify".into())
                .spawn(move || accept(&listener, &justifications, &stop))?,
        );
        let _ = HINT.set(make_hint(path));
        Ok(this)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // A connection wakes the accepting thread, which then sees `stop`.
        if let Some(thread) = self.thread.take()
            && UnixStream::connect(&self.path).is_ok()
        {
            let _ = thread.join();
        }
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| (m.dev(), m.ino()) == self.identity);
        if ours && let Err(error) = std::fs::remove_file(&self.path) {
            warn!("{}: {error}", self.path.display());
        }
    }
}

fn accept(listener: &UnixListener, justifications: &Justifications, stop: &AtomicBool) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        if stop.load(Ordering::Acquire) {
            return;
        }
        let mut stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                // E.g. out of descriptors: a pause rather than a busy loop.
                warn!(%error, "justification socket");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if active.load(Ordering::Acquire) >= MAX_CONNECTIONS {
            reply(
                &mut stream,
                &json!({"error": "busy: try again in a moment"}),
            );
            continue;
        }
        active.fetch_add(1, Ordering::AcqRel);
        let (justifications, done) = (justifications.clone(), active.clone());
        let spawned = std::thread::Builder::new()
            .name("mamori-justify-client".into())
            .spawn(move || {
                serve_one(stream, &justifications, REQUEST_TIMEOUT);
                done.fetch_sub(1, Ordering::AcqRel);
            });
        if let Err(error) = spawned {
            active.fetch_sub(1, Ordering::AcqRel);
            warn!(%error, "justification socket");
        }
    }
}

/// `mamori justify`: asks the agent, prints its answer; exit 1 when nothing was granted.
pub fn run(args: &JustifyArgs, json: bool) -> anyhow::Result<ExitCode> {
    let request = if args.list {
        json!({"list": true})
    } else {
        let reason = check_reason(args.reason.as_deref().unwrap_or_default()).map_err(|e| {
            let ja = match e {
                JustifyError::Empty => "理由が空です",
                JustifyError::TooLong => "理由は1000文字以内で書いてください",
                _ => "理由は1行で、制御文字を含めずに書いてください",
            };
            BadInput(format!("{e} / {ja}"))
        })?;
        let mut request = json!({ "reason": reason });
        if let Some(path) = &args.path {
            // A path that exists here is sent as the agent names files: absolute, resolved.
            let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            request["path"] = json!(path.to_string_lossy());
        }
        request
    };
    let unreachable = |e: std::io::Error| {
        anyhow::anyhow!(
            "{}: {e}: the Mamori agent is not running here or does not take justifications \
             / Mamori エージェントが動作していないか、理由の受付をしていません",
            args.socket.display()
        )
    };
    let mut stream = UnixStream::connect(&args.socket).map_err(unreachable)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    stream
        .write_all(format!("{request}\n").as_bytes())
        .map_err(unreachable)?;
    let mut text = String::new();
    (&mut stream)
        .take(1 << 20)
        .read_to_string(&mut text)
        .context("the agent's answer")?;
    let answer: Value = serde_json::from_str(text.trim()).context("the agent's answer")?;
    if json {
        println!("{answer}");
    }
    if let Some(pending) = answer["pending"].as_array() {
        if !json {
            print_pending(pending);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let granted = answer["granted"].as_u64().unwrap_or(0);
    if granted == 0 {
        let error = answer["error"].as_str().unwrap_or("no answer");
        if answer.get("granted").is_some() {
            eprintln!(
                "mamori: 理由を待っている操作はありません（直近15分間に、理由が必要なルールで\
                 止められたあなたのコピーはありません）。\nmamori: {error}"
            );
        } else {
            eprintln!("mamori: the agent refused: {error} / エージェントが拒否しました");
        }
        return Ok(ExitCode::FAILURE);
    }
    if !json {
        let minutes = GRANT_LIFETIME.as_secs() / 60;
        println!(
            "理由を記録しました。{minutes}分以内にもう一度コピーしてください / Justification \
             recorded; copy again within {minutes} minutes:"
        );
        for action in answer["actions"].as_array().into_iter().flatten() {
            println!(
                "  {} → {} (until {})",
                action["source"].as_str().unwrap_or(""),
                action["destination"].as_str().unwrap_or(""),
                action["expires"].as_str().unwrap_or("")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_pending(pending: &[Value]) {
    if pending.is_empty() {
        println!("理由を待っている操作はありません / nothing awaits a justification");
        return;
    }
    println!("理由を待っている操作 / awaiting a justification:");
    for denial in pending {
        println!(
            "  {} → {} ({}{})",
            denial["source"].as_str().unwrap_or(""),
            denial["destination"].as_str().unwrap_or(""),
            denial["time"].as_str().unwrap_or(""),
            denial["rule"]
                .as_str()
                .map(|r| format!(", rule {r}"))
                .unwrap_or_default()
        );
        for language in ["ja", "en"] {
            if let Some(text) = denial["message"][language]
                .as_str()
                .filter(|t| !t.is_empty())
            {
                println!("    {text}");
            }
        }
    }
    println!("mamori justify \"理由 / reason\"");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn requests_are_parsed_strictly() {
        assert_eq!(parse_request(b"{\"list\": true}\n"), Ok(Query::List));
        assert_eq!(
            parse_request("{\"reason\": \" 納品のため \"}".as_bytes()),
            Ok(Query::Justify {
                reason: "納品のため".into(),
                path: None
            })
        );
        assert_eq!(
            parse_request(b"{\"reason\": \"r\", \"path\": \"/home/a/x.txt\"}\n"),
            Ok(Query::Justify {
                reason: "r".into(),
                path: Some("/home/a/x.txt".into())
            })
        );
        let refused = [
            &b"{}"[..],
            b"{\"reason\": \"   \"}",
            b"{\"reason\": \"a\\u0007b\"}",
            b"{\"reason\": \"a\\nb\"}",
            b"{\"reason\": \"r\", \"path\": \"\"}",
            b"{\"reason\": \"r\", \"path\": \"a\\u0000b\"}",
            b"{\"list\": true, \"reason\": \"r\"}",
            b"{\"reason\": \"r\", \"uid\": 0}",
            b"{\"reason\": \"r\"}\n{\"reason\": \"s\"}\n",
            b"reason",
            b"",
        ];
        for request in refused {
            assert!(
                parse_request(request).is_err(),
                "{}",
                String::from_utf8_lossy(request)
            );
        }
        let long = format!("{{\"reason\": \"{}\"}}", "あ".repeat(1001));
        assert!(
            parse_request(long.as_bytes()).is_err(),
            "over 1000 characters"
        );
        let huge = format!("{{\"reason\": \"r\", \"path\": \"{}\"}}", "a".repeat(9000));
        assert!(parse_request(huge.as_bytes()).is_err_and(|e| e.contains("larger than 8 KiB")));
    }

    #[test]
    fn nothing_to_justify_is_an_error_and_an_empty_list_is_not() {
        // What is granted is the library's (mamori_agent::justify) and the end-to-end test's.
        let j = Justifications::new();
        let now = jiff::Timestamp::now();
        let query = Query::Justify {
            reason: "r".into(),
            path: None,
        };
        let nothing = answer(query, 1000, &j, now);
        assert_eq!(nothing["granted"], 0);
        assert!(
            nothing["error"]
                .as_str()
                .unwrap()
                .starts_with("nothing awaits")
        );
        assert_eq!(answer(Query::List, 1000, &j, now), json!({"pending": []}));
    }

    #[test]
    fn a_connection_is_answered_for_the_kernels_uid_and_a_slow_one_is_cut_off() {
        let j = Justifications::new();
        let (mut client, server) = UnixStream::pair().unwrap();
        client.write_all(b"{\"list\": true}\n").unwrap();
        serve_one(server, &j, Duration::from_secs(2));
        let mut text = String::new();
        client.read_to_string(&mut text).unwrap();
        assert_eq!(text, "{\"pending\":[]}\n");

        // Sends nothing: answered with an error once the time is up.
        let (mut client, server) = UnixStream::pair().unwrap();
        let started = Instant::now();
        serve_one(server, &j, Duration::from_millis(100));
        assert!(started.elapsed() < Duration::from_secs(2));
        let mut text = String::new();
        client.read_to_string(&mut text).unwrap();
        assert!(text.contains("did not arrive in time"), "{text}");

        // Too much: refused without reading on.
        let (mut client, server) = UnixStream::pair().unwrap();
        let writer = std::thread::spawn(move || {
            let _ = client.write_all(&vec![b'x'; 64 * 1024]);
            let mut text = String::new();
            let _ = client.read_to_string(&mut text);
            text
        });
        serve_one(server, &j, Duration::from_secs(2));
        let text = writer.join().unwrap();
        assert!(text.contains("larger than 8 KiB"), "{text}");
    }

    #[test]
    fn the_socket_is_made_open_to_all_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/justify.sock");
        let listener = Listener::start(&path, Justifications::new()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o666);
        assert_eq!(mode(&dir.path().join("run")), 0o755);
        // Another agent cannot take it over while it listens.
        assert!(Listener::start(&path, Justifications::new()).is_err());
        let mut client = UnixStream::connect(&path).unwrap();
        client.write_all(b"{\"list\": true}\n").unwrap();
        let mut text = String::new();
        client.read_to_string(&mut text).unwrap();
        assert_eq!(text, "{\"pending\":[]}\n");
        drop(listener);
        assert!(!path.exists(), "removed on exit");
        // Anything but a socket is left alone.
        std::fs::write(&path, "not a socket").unwrap();
        assert!(Listener::start(&path, Justifications::new()).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
    }

    #[test]
    fn the_hint_says_how_in_both_languages() {
        let default = make_hint(Path::new(DEFAULT_SOCKET));
        assert!(default.contains("mamori justify \"理由\""), "{default}");
        assert!(
            default.contains("mamori justify \"your reason\""),
            "{default}"
        );
        assert!(default.contains("10"), "{default}");
        let other = make_hint(Path::new("/tmp/j.sock"));
        assert!(
            other.contains("mamori justify --socket /tmp/j.sock"),
            "{other}"
        );
    }
}
