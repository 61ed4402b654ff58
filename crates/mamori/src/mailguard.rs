//! `mamori mailguard`: the outbound mail guard (docs/mailguard.md).
//!
//! - `mamori mailguard --listen ADDR --next-hop ADDR --policy FILE …` runs the relay: every
//!   message is checked, then passed, delayed, held or rejected; every decision and delivery
//!   outcome becomes a Mamori event, appended to `--events FILE` and/or sent to
//!   `mamori serve` (`--server URL --token-file FILE`) before the relay's outbox forgets it.
//! - `mamori mailguard release|cancel ID` act on a delayed or held message through the running
//!   guard's control socket (`<spool>/control.sock`, owner only).
//! - `mamori mailguard check --protected FILE --domains FILE` runs the look-alike check
//!   offline, on the same code path as the relay.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::{Args, Subcommand};
use mamori_mailguard::checks::{History, SenderFacts, Senders};
use mamori_mailguard::lookalike::Protected;
use mamori_mailguard::notice;
use mamori_mailguard::policy::{MailGuard, Policy};
use mamori_mailguard::relay::{Relay, RelayConfig, RelayEvent};
use mamori_mailguard::smtp::client::NextHopTls;
use mamori_mailguard::smtp::server::{Network, tls_from_pem_files};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tracing::{info, warn};

use crate::BadInput;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MailguardArgs {
    #[command(subcommand)]
    command: Option<MailguardCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum MailguardCommand {
    /// The look-alike check offline: one protected domain per line in `--protected`, one
    /// candidate recipient domain per line in `--domains` (Unicode or punycode); one line per
    /// candidate (`--json`: `{"domain","flagged","matched","reason",…}`).
    Check {
        #[arg(long)]
        protected: PathBuf,
        #[arg(long)]
        domains: PathBuf,
    },
    /// Lets a delayed or held message go now (through the running guard).
    Release {
        /// The queue id (in the `Decided` event and the reply to the client).
        id: String,
        /// The guard's spool directory.
        #[arg(long, default_value = "mailguard-spool")]
        spool: PathBuf,
    },
    /// Cancels a delayed or held message: it is never delivered.
    Cancel {
        id: String,
        #[arg(long, default_value = "mailguard-spool")]
        spool: PathBuf,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Where to accept SMTP (e.g. `127.0.0.1:10025`, what Postfix's `relayhost` or
    /// `content_filter` points at).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Where accepted mail goes: the organisation's outbound MTA or smarthost.
    #[arg(long)]
    next_hop: Option<SocketAddr>,
    /// The policy (TOML, docs/mailguard.toml); its `[domains]` say what is internal.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The organisation's prevention policy (docs/policy.md): its `email` rules are asked
    /// about every message to outside recipients too (`block` rejects, `justify` holds for
    /// the sender, `warn` delays).
    #[arg(long)]
    prevention_policy: Option<PathBuf>,
    /// The queue, the sending history and the control socket.
    #[arg(long, default_value = "mailguard-spool")]
    spool: PathBuf,
    /// Facts about senders (JSON object: address → `{"departing", "risk", "supervisor",
    /// "user"}`); re-read when the file changes.
    #[arg(long)]
    senders: Option<PathBuf>,
    /// Append every event (Mamori NDJSON) to this file, synced before it is forgotten.
    #[arg(long)]
    events: Option<PathBuf>,
    /// Send every event to this `mamori serve` (`POST /api/v1/events`), e.g.
    /// `https://mamori.example.co.jp:8443`; plain HTTP only to a loopback address.
    #[arg(long, requires = "token_file")]
    server: Option<String>,
    /// The CA certificate(s) (PEM) an `https://` `--server` is verified against.
    #[arg(long)]
    server_ca: Option<PathBuf>,
    /// A file holding an `ingest` token for `--server` (never on the command line).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// The address senders open `mamori serve`'s release/cancel pages at, e.g.
    /// `https://mamori.example.co.jp` (default: `--server`). Without `--server`, notices
    /// carry no link.
    #[arg(long, requires = "server")]
    link_base: Option<String>,
    /// The sender of notices about delayed and held messages (default: `mail-guard@` the
    /// first own domain).
    #[arg(long)]
    notify_from: Option<String>,
    /// Send no notices (the sender learns of a hold only from the events).
    #[arg(long, conflicts_with = "notify_from")]
    no_notify: bool,
    /// Our name in greetings and `Received:` lines (default: the host name).
    #[arg(long)]
    hostname: Option<String>,
    /// Offer STARTTLS with this certificate chain (PEM)…
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// …and this private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require STARTTLS to the next hop, verified with these CA certificates (PEM).
    #[arg(long)]
    next_hop_ca: Option<PathBuf>,
    /// The name the next hop's certificate must carry (default: its IP address).
    #[arg(long, requires = "next_hop_ca")]
    next_hop_name: Option<String>,
    /// Networks allowed to send through the guard (CIDR, repeatable; default loopback only).
    #[arg(long = "allow")]
    allow: Vec<String>,
    /// Largest message accepted, in bytes.
    #[arg(long, default_value_t = 25 * 1024 * 1024)]
    max_message_bytes: usize,
    /// How long a held message waits for a release before it is bounced.
    #[arg(long, default_value_t = 72)]
    hold_expiry_hours: u64,
    /// Give up on (and bounce) a message not delivered after this long.
    #[arg(long, default_value_t = 120)]
    expire_hours: u64,
    /// Seconds one minute of a policy delay lasts (tests shorten it; 60 in production).
    #[arg(long, default_value_t = 60, hide = true)]
    delay_minute_seconds: u64,
}

pub fn run(args: MailguardArgs, json: bool) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(MailguardCommand::Check { protected, domains }) => check(&protected, &domains, json),
        Some(MailguardCommand::Release { id, spool }) => control(&spool, "release", &id, json),
        Some(MailguardCommand::Cancel { id, spool }) => control(&spool, "cancel", &id, json),
        None => serve(args.run),
    }
}

// ---------------------------------------------------------------------------------------------
// check

/// Non-empty lines that are not `#` comments, with their 1-based line numbers.
fn list_lines(path: &Path) -> anyhow::Result<Vec<(usize, String)>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
    Ok(text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(number, line)| (number, line.to_string()))
        .collect())
}

fn check(protected_path: &Path, domains_path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let protected_lines = list_lines(protected_path)?;
    let protected = Protected::new(protected_lines.iter().map(|(_, domain)| domain)).map_err(
        |mamori_mailguard::lookalike::LookalikeError::InvalidDomain {
             line,
             domain,
             reason,
         }| {
            let number = protected_lines.get(line - 1).map_or(line, |(n, _)| *n);
            BadInput(format!(
                "{}:{number}: protected domain {domain:?}: {reason}",
                protected_path.display()
            ))
        },
    )?;
    let file = std::fs::File::open(domains_path)
        .map_err(|e| BadInput(format!("{}: {e}", domains_path.display())))?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let (mut checked, mut flagged) = (0u64, 0u64);
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line =
            line.map_err(|e| BadInput(format!("{}:{}: {e}", domains_path.display(), index + 1)))?;
        let domain = line.trim();
        if domain.is_empty() || domain.starts_with('#') {
            continue;
        }
        checked += 1;
        let found = protected.check(domain);
        flagged += u64::from(found.is_some());
        if json {
            let answer = match &found {
                Some(m) => {
                    let reason = m.reason();
                    serde_json::json!({"domain": domain, "flagged": true, "matched": m.protected,
                        "reason": m.kind.as_str(), "en": reason.en, "ja": reason.ja})
                }
                None => serde_json::json!({"domain": domain, "flagged": false,
                    "matched": null, "reason": null}),
            };
            writeln!(out, "{answer}")?;
        } else if let Some(m) = &found {
            writeln!(out, "{domain}\tFLAGGED\t{}\t{}", m.protected, m.reason().en)?;
        } else {
            writeln!(out, "{domain}\tok")?;
        }
    }
    out.flush()?;
    if !json {
        eprintln!("{checked} domains checked, {flagged} flagged");
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// release / cancel through the control socket

const CONTROL_SOCKET: &str = "control.sock";

fn control(spool: &Path, verb: &str, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let path = spool.join(CONTROL_SOCKET);
    let mut stream = std::os::unix::net::UnixStream::connect(&path).map_err(|e| {
        BadInput(format!(
            "{}: {e} (is `mamori mailguard` running with --spool {}?)",
            path.display(),
            spool.display()
        ))
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    writeln!(stream, "{verb} {id}")?;
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer)?;
    let answer = answer.trim();
    let ok = answer == "ok";
    if json {
        println!(
            "{}",
            serde_json::json!({"id": id, "action": verb, "ok": ok,
                "error": (!ok).then_some(answer.strip_prefix("error ").unwrap_or(answer))})
        );
    } else if ok {
        println!("{id}: {verb}d");
    }
    if ok {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(BadInput(answer.strip_prefix("error ").unwrap_or(answer).to_string()).into())
    }
}

/// Answers `release ID` / `cancel ID` lines on the control socket. The socket is the
/// owner's only (mode 0600): whoever can use it can already read the spool. The acting
/// account is the peer's uid, recorded as `by` in the event.
async fn control_loop(listener: tokio::net::UnixListener, relay: std::sync::Weak<Relay>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let relay = relay.clone();
        tokio::spawn(async move {
            let by = match stream.peer_cred() {
                Ok(cred) => format!("local uid {}", cred.uid()),
                Err(_) => "local".to_string(),
            };
            let (read, mut write) = stream.into_split();
            let mut lines = tokio::io::BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let Some(relay) = relay.upgrade() else {
                    let _ = write.write_all(b"error the guard is stopping\n").await;
                    break;
                };
                let mut words = line.split_whitespace();
                let result = match (words.next(), words.next(), words.next()) {
                    (Some("release"), Some(id), None) => relay.release(id, &by).await,
                    (Some("cancel"), Some(id), None) => relay.cancel(id, &by).await,
                    _ => {
                        let _ = write
                            .write_all(b"error expected: release ID | cancel ID\n")
                            .await;
                        continue;
                    }
                };
                let answer = match result {
                    Ok(()) => "ok\n".to_string(),
                    Err(error) => format!("error {error}\n"),
                };
                if write.write_all(answer.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
    }
}

// ---------------------------------------------------------------------------------------------
// the relay

fn serve(args: RunArgs) -> anyhow::Result<ExitCode> {
    let (Some(listen), Some(next_hop), Some(policy_path)) =
        (args.listen, args.next_hop, args.policy.as_deref())
    else {
        return Err(BadInput(
            "mamori mailguard needs --listen ADDR, --next-hop ADDR and --policy FILE \
             (or a subcommand: check, release, cancel)"
                .into(),
        )
        .into());
    };
    let policy = Policy::load(policy_path).map_err(|e| BadInput(e.to_string()))?;
    if policy.domains.own.is_empty() {
        return Err(BadInput(format!(
            "{}: domains.own is empty: every recipient would be outside the organisation",
            policy_path.display()
        ))
        .into());
    }
    let notify_from = match (&args.notify_from, args.no_notify) {
        (_, true) => None,
        (Some(address), false) => Some(address.clone()),
        (None, false) => policy
            .domains
            .own
            .first()
            .map(|domain| format!("mail-guard@{}", domain.trim())),
    };
    std::fs::create_dir_all(&args.spool)
        .with_context(|| format!("creating {}", args.spool.display()))?;

    let config = relay_config(&args, listen, next_hop)?;

    let senders = Arc::new(Senders::new());
    let senders_file = args.senders.map(SendersFile::new);
    if let Some(file) = &senders_file {
        file.load(&senders)
            .map_err(|e| BadInput(format!("{e:#}")))?;
    }
    let history = History::open(args.spool.join("history.sqlite"))
        .with_context(|| format!("opening the history in {}", args.spool.display()))?;
    let mut guard = MailGuard::from_policy(policy, senders.clone(), history)
        .map_err(|e| BadInput(format!("{}: {e}", policy_path.display())))?;
    if let Some(file) = &args.prevention_policy {
        guard = guard.with_prevention(crate::policy::load(file)?);
    }
    let guard = Arc::new(guard);

    let mut sinks = Vec::new();
    if let Some(path) = &args.events {
        sinks.push(EventSink::File(path.clone()));
    }
    let server = match &args.server {
        Some(url) => {
            let token_file = args
                .token_file
                .as_deref()
                .context("--server needs --token-file")?;
            Some(Server::new(url, args.server_ca.as_deref(), token_file)?)
        }
        None => None,
    };
    if let Some(server) = &server {
        sinks.push(EventSink::Server(server.clone()));
    }
    let link_base = args
        .link_base
        .clone()
        .or_else(|| args.server.clone())
        .map(|base| base.trim_end_matches('/').to_string());
    if sinks.is_empty() {
        warn!("no --events file and no --server: decisions are only logged");
    }
    // Without a file, the server's prevention policy (when it has one), fetched before the
    // first message and followed afterwards.
    let follow_prevention = match (&server, &args.prevention_policy) {
        (Some(server), None) => {
            fetch_prevention(&guard, server);
            Some(server.clone())
        }
        _ => None,
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let hostname = config.hostname.clone();
    let hold_expiry = config.hold_expiry;
    runtime.block_on(async move {
        let relay = Arc::new(Relay::start(config, guard.clone()).await?);
        let socket_path = args.spool.join(CONTROL_SOCKET);
        let _ = std::fs::remove_file(&socket_path);
        let listener = tokio::net::UnixListener::bind(&socket_path)
            .with_context(|| format!("binding {}", socket_path.display()))?;
        std::fs::set_permissions(
            &socket_path,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )?;
        tokio::spawn(control_loop(listener, Arc::downgrade(&relay)));
        // The first line on stdout says where the guard listens (tests and scripts read it).
        println!("mailguard listening on {}", relay.local_addr());
        info!(listen = %relay.local_addr(), %next_hop, "mail guard started");

        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let links = match (&server, link_base) {
            (Some(server), Some(base)) => Some(Links {
                server: server.clone(),
                base,
                hold_expiry,
            }),
            _ => None,
        };
        let notices = notify_from.map(|from| Notices {
            relay: relay.clone(),
            from,
            hostname,
            links,
        });
        let actions = server.map(|server| {
            tokio::spawn(apply_actions(
                Arc::downgrade(&relay),
                server,
                args.spool.join(ACTIONS_CURSOR),
                stop_rx.clone(),
            ))
        });
        let forwarder = tokio::spawn(forward_events(
            relay.outbox().clone(),
            senders.clone(),
            sinks,
            notices,
            stop_rx.clone(),
        ));
        if let Some(file) = senders_file {
            tokio::spawn(reload_senders(file, senders, stop_rx.clone()));
        }
        if let Some(server) = follow_prevention {
            tokio::spawn(follow_prevention_policy(
                guard.clone(),
                server,
                stop_rx.clone(),
            ));
        }
        shutdown_signal().await;
        info!("stopping the mail guard");
        let _ = stop_tx.send(true);
        let _ = forwarder.await;
        if let Some(actions) = actions {
            let _ = actions.await;
        }
        let _ = std::fs::remove_file(&socket_path);
        // A control command in progress holds the relay for a moment.
        let mut relay = relay;
        for _ in 0..100 {
            match Arc::try_unwrap(relay) {
                Ok(owned) => {
                    owned.shutdown().await;
                    return anyhow::Ok(());
                }
                Err(shared) => relay = shared,
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        warn!("a control command did not finish; stopping without grace");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The relay's configuration from the command line; a bad certificate, CA file or network is
/// bad input.
fn relay_config(
    args: &RunArgs,
    listen: SocketAddr,
    next_hop: SocketAddr,
) -> anyhow::Result<RelayConfig> {
    let mut config = RelayConfig::new(listen, next_hop, &args.spool);
    if let Some(hostname) = &args.hostname {
        config.hostname = hostname.clone();
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(tls_from_pem_files(cert, key).map_err(|e| BadInput(e.to_string()))?);
    }
    if let Some(ca) = &args.next_hop_ca {
        let name = args
            .next_hop_name
            .clone()
            .unwrap_or_else(|| next_hop.ip().to_string());
        config.next_hop_tls =
            Some(NextHopTls::from_ca_file(ca, &name, true).map_err(|e| BadInput(e.to_string()))?);
    }
    if !args.allow.is_empty() {
        config.allow = args
            .allow
            .iter()
            .map(|text| {
                text.parse::<Network>()
                    .map_err(|e| BadInput(format!("--allow {text}: {e}")))
            })
            .collect::<Result<_, _>>()?;
    }
    config.max_message_bytes = args.max_message_bytes;
    config.hold_expiry = Duration::from_secs(args.hold_expiry_hours.saturating_mul(3600));
    config.retry.expire_after = Duration::from_secs(args.expire_hours.saturating_mul(3600));
    config.delay_minute = Duration::from_secs(args.delay_minute_seconds.max(1));
    Ok(config)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// senders

struct SendersFile {
    path: PathBuf,
    modified: std::sync::Mutex<Option<SystemTime>>,
}

impl SendersFile {
    fn new(path: PathBuf) -> SendersFile {
        SendersFile {
            path,
            modified: std::sync::Mutex::new(None),
        }
    }

    /// Reads the file into `senders` if it changed since the last read.
    fn load(&self, senders: &Senders) -> anyhow::Result<bool> {
        let shown = self.path.display();
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .with_context(|| format!("{shown}"))?;
        let mut last = self
            .modified
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *last == Some(modified) {
            return Ok(false);
        }
        let text = std::fs::read_to_string(&self.path).with_context(|| format!("{shown}"))?;
        let deserializer = &mut serde_json::Deserializer::from_str(&text);
        let map: HashMap<String, SenderFacts> = serde_path_to_error::deserialize(deserializer)
            .map_err(|e| anyhow::anyhow!("{shown}: {}: {}", e.path(), e.inner()))?;
        info!(senders = map.len(), file = %shown, "sender facts loaded");
        senders.replace(map);
        *last = Some(modified);
        Ok(true)
    }
}

/// Re-reads the senders file when it changes; a bad file keeps the facts in use.
async fn reload_senders(
    file: SendersFile,
    senders: Arc<Senders>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
            _ = stop.changed() => return,
        }
        if let Err(error) = file.load(&senders) {
            warn!("{error:#}; keeping the sender facts in use");
        }
    }
}

/// Asks the server for a newer prevention policy than the guard's and puts it in force.
/// Failures leave the policy in force (or none) and are logged.
fn fetch_prevention(guard: &MailGuard, server: &Server) {
    let etag = guard
        .prevention_revision()
        .map(|revision| format!("\"{revision}\""));
    let headers: Vec<(&str, &str)> = etag
        .as_deref()
        .map(|etag| ("If-None-Match", etag))
        .into_iter()
        .collect();
    let answer =
        match server
            .endpoint
            .request(&server.token, "GET", "/api/v1/policy", &headers, None)
        {
            Ok(answer) => answer,
            Err(error) => {
                info!("{error:#}: fetching the prevention policy");
                return;
            }
        };
    match answer.status {
        200 => {}
        304 | 404 => return,
        status => {
            warn!(status, "fetching the prevention policy");
            return;
        }
    }
    let text = serde_json::from_str::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| v["toml"].as_str().map(str::to_string));
    match text.as_deref().map(mamori_policy::Policy::from_toml) {
        Some(Ok(policy)) if Some(policy.revision) > guard.prevention_revision() => {
            info!(name = %policy.name, revision = policy.revision, "prevention policy");
            guard.set_prevention(policy);
        }
        Some(Ok(_)) => {}
        Some(Err(error)) => warn!("the server's prevention policy is not valid here: {error}"),
        None => warn!("the server's policy answer has no toml"),
    }
}

/// Fetches the server's prevention policy every minute until the guard stops.
async fn follow_prevention_policy(
    guard: Arc<MailGuard>,
    server: Server,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = stop.changed() => return,
        }
        let (guard, server) = (guard.clone(), server.clone());
        let _ = tokio::task::spawn_blocking(move || fetch_prevention(&guard, &server)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// events

/// The `mamori serve` the guard reports to, with its `ingest` token.
#[derive(Clone)]
struct Server {
    endpoint: crate::api_client::Endpoint,
    token: String,
}

impl Server {
    fn new(url: &str, ca: Option<&Path>, token_file: &Path) -> anyhow::Result<Server> {
        let endpoint = crate::api_client::Endpoint::parse(url, ca)
            .map_err(|e| BadInput(format!("--server {e}")))?;
        let token = std::fs::read_to_string(token_file)
            .map_err(|e| BadInput(format!("{}: {e}", token_file.display())))?
            .trim()
            .to_string();
        if token.is_empty() {
            return Err(BadInput(format!("{}: empty token", token_file.display())).into());
        }
        Ok(Server { endpoint, token })
    }

    /// One API call on the blocking pool: status and body.
    async fn call(
        &self,
        method: &'static str,
        path: String,
        json: Option<serde_json::Value>,
    ) -> anyhow::Result<(u16, String)> {
        let server = self.clone();
        tokio::task::spawn_blocking(move || {
            let body = json.map(|value| value.to_string());
            let body = body
                .as_deref()
                .map(|text| ("application/json", text.as_bytes()));
            server.endpoint.call(&server.token, method, &path, body)
        })
        .await?
    }
}

/// Where the relay's events go before they are acknowledged (forgotten by the outbox).
enum EventSink {
    /// Appended and synced.
    File(PathBuf),
    /// `POST /api/v1/events` on a `mamori serve`.
    Server(Server),
}

impl EventSink {
    /// Delivers a batch of NDJSON lines; an error means "not delivered, try again".
    fn deliver(&self, body: &[u8], lines: usize) -> anyhow::Result<()> {
        match self {
            EventSink::File(path) => {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("{}", path.display()))?;
                file.write_all(body)?;
                file.sync_data()?;
                Ok(())
            }
            EventSink::Server(server) => {
                let (status, answer) = server.endpoint.post_events(&server.token, body)?;
                anyhow::ensure!(status == 200, "server answered {status}: {answer}");
                let answer: serde_json::Value = serde_json::from_str(&answer)?;
                let accepted = answer["accepted"].as_array().map_or(0, Vec::len);
                if accepted != lines {
                    // Rejected lines are quarantined by the server; sending them again would
                    // not help, so they are reported, not retried.
                    warn!(accepted, sent = lines, answer = %answer, "server rejected events");
                }
                Ok(())
            }
        }
    }
}

/// Notices about delayed and held messages, queued through the relay itself.
struct Notices {
    relay: Arc<Relay>,
    from: String,
    /// For the notices' `Message-ID`s.
    hostname: String,
    links: Option<Links>,
}

impl Notices {
    /// Queues the notices `event` calls for. A notice that cannot be queued is logged, not
    /// retried: the event itself is what must not be lost.
    async fn send(&self, event: &RelayEvent) {
        let RelayEvent::Decided {
            id,
            at,
            envelope,
            decision,
            message_id,
            state: Some(_),
            ..
        } = event
        else {
            return;
        };
        let held = notice::Held {
            id,
            at: *at,
            mail_from: &envelope.mail_from,
            rcpt_to: &envelope.rcpt_to,
            message_id: message_id.as_deref(),
            decision,
        };
        for (reader, to) in notice::readers(&held) {
            let link = match &self.links {
                Some(links) => links.register(&held, reader, &to).await,
                None => None,
            };
            let message = notice::compose(
                &held,
                reader,
                &self.from,
                &to,
                &self.hostname,
                link.as_deref(),
            );
            match self
                .relay
                .inject(&self.from, std::slice::from_ref(&to), message)
                .await
            {
                Ok(notice) => info!(id, notice, to, "notice queued"),
                Err(error) => warn!(id, to, %error, "notice not queued"),
            }
        }
    }
}

/// Release/cancel pages on `mamori serve` for the readers of notices.
struct Links {
    server: Server,
    /// What the links start with.
    base: String,
    hold_expiry: Duration,
}

impl Links {
    /// A fresh link for `reader`, registered with the server (which keeps only the SHA-256 of
    /// its token: the token itself exists only in the notice). `None` when the server cannot
    /// take it now: the notice then says whom to ask instead.
    async fn register(
        &self,
        held: &notice::Held<'_>,
        reader: notice::Reader,
        to: &str,
    ) -> Option<String> {
        let mut secret = [0u8; 32];
        if let Err(error) = getrandom::fill(&mut secret) {
            warn!(%error, "no random bytes for a link");
            return None;
        }
        let token =
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, secret);
        let token_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()));
        let decision = held.decision;
        let send_at = decision.delay_minutes.and_then(|minutes| {
            held.at
                .checked_add(jiff::SignedDuration::from_mins(i64::from(minutes)))
                .ok()
        });
        let expires = match send_at {
            Some(at) => at,
            None => held.at.checked_add(self.hold_expiry).unwrap_or(held.at),
        };
        let link = serde_json::json!({
            "token_sha256": token_sha256,
            "id": held.id,
            "reader": match reader {
                notice::Reader::Sender => "sender",
                notice::Reader::Approver => "approver",
            },
            "reader_address": to,
            "sender": held.mail_from,
            "recipients": held.rcpt_to,
            "action": decision.action,
            "reasons": decision.reasons,
            "received": held.at.to_string(),
            "send_at": send_at.map(|at| at.to_string()),
            "expires": expires.to_string(),
        });
        let answer = self
            .server
            .call(
                "POST",
                "/api/v1/mail/links".into(),
                Some(serde_json::json!({"links": [link]})),
            )
            .await;
        match answer {
            Ok((200, _)) => Some(format!("{}/mail/hold/{token}", self.base)),
            Ok((status, body)) => {
                warn!(id = held.id, status, body, "link not registered");
                None
            }
            Err(error) => {
                warn!(id = held.id, "link not registered: {error:#}");
                None
            }
        }
    }
}

/// Where the last applied decision's sequence number is kept, in the spool directory.
const ACTIONS_CURSOR: &str = "link-actions.cursor";

/// Applies the decisions taken on the server's release/cancel pages: polls
/// `GET /api/v1/mail/actions`, releases or cancels, and remembers how far it got. At least
/// once: a decision applied twice is refused by the relay the second time, harmlessly.
async fn apply_actions(
    relay: std::sync::Weak<Relay>,
    server: Server,
    cursor_path: PathBuf,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut after: u64 = std::fs::read_to_string(&cursor_path)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
        let actions = match server
            .call("GET", format!("/api/v1/mail/actions?after={after}"), None)
            .await
        {
            Ok((200, body)) => match serde_json::from_str::<LinkActions>(&body) {
                Ok(answer) => answer.actions,
                Err(error) => {
                    warn!(%error, "unexpected answer from /api/v1/mail/actions");
                    continue;
                }
            },
            Ok((status, body)) => {
                warn!(status, body, "reading the decisions taken on links");
                continue;
            }
            Err(error) => {
                warn!("reading the decisions taken on links: {error:#}");
                continue;
            }
        };
        let Some(relay) = relay.upgrade() else {
            return;
        };
        for action in actions {
            let by = format!("{} (link)", action.by);
            let done = match action.action.as_str() {
                "release" => relay.release(&action.id, &by).await,
                "cancel" => relay.cancel(&action.id, &by).await,
                other => {
                    warn!(id = action.id, action = other, "unknown decision skipped");
                    Ok(())
                }
            };
            match done {
                Ok(()) => info!(
                    id = action.id,
                    action = action.action,
                    by,
                    "decision applied"
                ),
                // Tried again at the next poll.
                Err(mamori_mailguard::relay::RelayError::BeingDelivered { .. }) => break,
                Err(error) => warn!(id = action.id, %error, "decision not applied"),
            }
            after = action.seq;
            if let Err(error) = write_cursor(&cursor_path, after) {
                warn!(%error, "saving the decisions cursor");
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct LinkActions {
    actions: Vec<LinkAction>,
}

#[derive(serde::Deserialize)]
struct LinkAction {
    seq: u64,
    id: String,
    action: String,
    by: String,
}

/// Replaces the cursor file atomically (write, sync, rename).
fn write_cursor(path: &Path, seq: u64) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary)?;
    writeln!(file, "{seq}")?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Drains the relay's outbox into the sinks, acknowledging a batch only once every sink has
/// it (and the notices it calls for are queued): at least once, across restarts of the guard
/// and outages of the server.
async fn forward_events(
    outbox: mamori_mailguard::relay::Outbox,
    senders: Arc<Senders>,
    sinks: Vec<EventSink>,
    notices: Option<Notices>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let sinks = Arc::new(sinks);
    let mut backoff = Duration::from_millis(200);
    loop {
        let batch = match outbox.take(500).await {
            Ok(batch) => batch,
            Err(error) => {
                warn!(%error, "reading the outbox");
                Vec::new()
            }
        };
        if batch.is_empty() {
            if *stop.borrow() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let last = batch.last().map_or(0, |(seq, _)| *seq);
        let mut body = Vec::new();
        for (_, event) in &batch {
            let line = to_event(event, &senders);
            info!(target: "mamori::mailguard::event", "{line}");
            body.extend_from_slice(line.to_string().as_bytes());
            body.push(b'\n');
        }
        let lines = batch.len();
        let sinks_for_task = sinks.clone();
        let delivered = tokio::task::spawn_blocking(move || {
            sinks_for_task
                .iter()
                .try_for_each(|sink| sink.deliver(&body, lines))
        })
        .await;
        match delivered {
            Ok(Ok(())) => {
                backoff = Duration::from_millis(200);
                if let Some(notices) = &notices {
                    for (_, event) in &batch {
                        notices.send(event).await;
                    }
                }
                if let Err(error) = outbox.ack(last).await {
                    warn!(%error, "acknowledging events");
                }
            }
            Ok(Err(error)) => {
                warn!("events not delivered, retrying in {backoff:?}: {error:#}");
                if *stop.borrow() {
                    // Kept in the outbox; sent at the next start.
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
            Err(error) => {
                warn!(%error, "event delivery task failed");
                return;
            }
        }
    }
}

/// A relay event as a Mamori event (docs/mailguard.md, "Events"): the decision about a
/// message is `email.send` by its sender, with the action as the outcome; a release or cancel
/// is a `policy.decision` by whoever took it; delivery outcomes are `log.record`s of the
/// guard. The relay's own record is kept whole under `raw.mailguard` — metadata only, never
/// a body or subject.
fn to_event(event: &RelayEvent, senders: &Senders) -> serde_json::Value {
    let raw = serde_json::json!({ "mailguard": event });
    let source = serde_json::json!({"name": "mailguard", "ref": event.id()});
    let system = |at: &jiff::Timestamp, kind: &str, outcome: &str| {
        serde_json::json!({"v": 1, "time": at.to_string(), "kind": kind, "outcome": outcome,
            "actor": {"user": "mailguard"}, "source": source, "raw": raw})
    };
    match event {
        RelayEvent::Decided {
            at,
            envelope,
            decision,
            size,
            ..
        } => {
            let user = senders
                .get(&envelope.mail_from)
                .and_then(|facts| facts.user)
                .filter(|user| !user.is_empty())
                .unwrap_or_else(|| {
                    if envelope.mail_from.is_empty() {
                        "<>".to_string()
                    } else {
                        envelope.mail_from.to_lowercase()
                    }
                });
            let outcome = match decision.action.as_str() {
                "pass" => "success",
                "delay" => "warned",
                _ => "blocked",
            };
            let ip = envelope
                .client
                .parse::<SocketAddr>()
                .map(|a| a.ip().to_string())
                .ok();
            serde_json::json!({"v": 1, "time": at.to_string(), "kind": "email.send",
                "outcome": outcome,
                "actor": {"user": user, "host": envelope.helo, "ip": ip},
                "destination": {"kind": "email", "recipients": envelope.rcpt_to},
                "object": {"size": size},
                "source": source, "raw": raw})
        }
        RelayEvent::Released { at, by, .. } => serde_json::json!({"v": 1,
            "time": at.to_string(), "kind": "policy.decision", "outcome": "overridden",
            "actor": {"user": by}, "source": source, "raw": raw}),
        RelayEvent::Cancelled { at, by, .. } => serde_json::json!({"v": 1,
            "time": at.to_string(), "kind": "policy.decision", "outcome": "blocked",
            "actor": {"user": by}, "source": source, "raw": raw}),
        RelayEvent::Delivered { at, .. } | RelayEvent::Injected { at, .. } => {
            system(at, "log.record", "success")
        }
        RelayEvent::Deferred { at, .. }
        | RelayEvent::Bounced { at, .. }
        | RelayEvent::Expired { at, .. } => system(at, "log.record", "failure"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_relay_event_is_a_valid_mamori_event() {
        let at = jiff::Timestamp::from_second(1_764_547_200).unwrap();
        let decided: RelayEvent = serde_json::from_value(serde_json::json!({
            "event": "decided", "id": "q1", "at": at, "size": 1234, "message_id": "<m@x>",
            "state": "held",
            "envelope": {"mail_from": "Taro@Example.co.jp", "rcpt_to": ["a@examp1e.co.jp"],
                "helo": "pc1", "client": "127.0.0.1:50000", "smtputf8": false,
                "body_8bit": false},
            "decision": {"action": "hold_sender", "delay_minutes": null, "approver": null,
                "move_to_bcc": false, "reasons": [{"check": "lookalike_domain", "en": "e",
                "ja": "j"}]}
        }))
        .unwrap();
        let senders = Senders::new();
        let value = to_event(&decided, &senders);
        let event = mamori_event::Event::from_value(value.clone()).unwrap();
        assert_eq!(event.actor.user, "taro@example.co.jp");
        assert_eq!(value["outcome"], "blocked");
        assert_eq!(
            value["raw"]["mailguard"]["decision"]["reasons"][0]["check"],
            "lookalike_domain"
        );

        senders.replace(HashMap::from([(
            "taro@example.co.jp".to_string(),
            SenderFacts {
                user: Some("taro".into()),
                ..SenderFacts::default()
            },
        )]));
        assert_eq!(to_event(&decided, &senders)["actor"]["user"], "taro");

        for other in [
            serde_json::json!({"event": "released", "id": "q1", "at": at, "by": "local uid 0"}),
            serde_json::json!({"event": "cancelled", "id": "q1", "at": at, "by": "taro"}),
            serde_json::json!({"event": "delivered", "id": "q1", "at": at,
                "recipients": ["a@b.test"], "attempts": 1, "reply": "250 ok"}),
            serde_json::json!({"event": "expired", "id": "q1", "at": at, "was": "held"}),
        ] {
            let event: RelayEvent = serde_json::from_value(other.clone()).unwrap();
            let value = to_event(&event, &senders);
            mamori_event::Event::from_value(value.clone())
                .unwrap_or_else(|e| panic!("{other}: {e}: {value}"));
        }
    }
}
