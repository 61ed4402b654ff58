//! `mamori agent`: the Linux endpoint agent (docs/agent.md).
//!
//! One process, a few threads:
//!
//! - **the core** (this thread): turns the sensor's records, USB authorisation and heartbeats
//!   into events and commits them to the spool in small batches (every 200 ms or 500 events);
//! - **the file sensor** (`mamori_agent::Sensor`): fanotify activity, and writes to removable
//!   media decided by the policy — denied where the kernel allows enforcement;
//! - **the uplink**: sends the spool to `mamori serve` (`POST /api/v1/events`), forgets only
//!   what the server acknowledged, backs off (1 s doubling to 60 s) while it cannot;
//! - **the policy fetcher**: `GET /api/v1/policy` with `If-None-Match`; the last policy
//!   received is kept in the state directory, so the agent decides offline and after restarts;
//! - **the signal watcher**: SIGTERM/SIGINT record `agent.stop` before the agent exits. A
//!   stop without it (SIGKILL, a crash, power loss) is reported by the next start
//!   (`agent.start` with `previous = "unclean"`), and missing heartbeats show on the server.

pub mod justify;
mod spool;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{TryRecvError, sync_channel};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use mamori_agent::print::{PageLog, Position, PrintJob};
use mamori_agent::sessions::{Change, Sessions};
use mamori_agent::usb::{Authoriser, Judged};
use mamori_agent::{
    ActivityKind, DecisionRecord, FileActivity, PolicyHandle, Record, RemovableRules, Sensor,
    SensorConfig,
};
use mamori_event::{
    Actor, Destination, DestinationKind, EVENT_VERSION, Event, Kind, Object, Outcome, Process,
    Source,
};
use mamori_policy::{Action, Channel, Policy, Request};
use serde_json::{Map, Value, json};
use tracing::{info, warn};

use crate::BadInput;
use crate::api_client::Endpoint;
use spool::Spool;

/// Who agent events name as the actor of their own doings.
const AGENT_USER: &str = "mamori-agent";
/// The source name of the agent's events.
const SOURCE: &str = "mamori-agent";
/// Events held in memory while the spool cannot be written.
const MAX_PENDING: usize = 100_000;
/// The policy an agent without one uses: decide nothing, observe everything.
const OBSERVE_ONLY_POLICY: &str = "format = 1\nname = \"(none: observing)\"\nrevision = 0\n";

#[derive(Args)]
pub struct AgentArgs {
    /// The `mamori serve` to report to: `https://HOST:PORT` (with `--server-ca`), or
    /// `http://127.0.0.1:PORT` on the same machine.
    #[arg(long)]
    server: String,
    /// The CA certificate(s) (PEM) an `https://` server is verified against.
    #[arg(long)]
    server_ca: Option<PathBuf>,
    /// The agent's ingest token (`mamori agents enroll NAME`), kept in the state directory
    /// from then on (mode 0600). Prefer the environment or `--token-file` to the command line.
    #[arg(long, env = "MAMORI_AGENT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A file holding the ingest token (instead of `--token`).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Where the agent keeps its spool, its token and the last policy.
    #[arg(long, default_value = "/var/lib/mamori-agent")]
    state: PathBuf,
    /// Directories whose files are sources (opens classified, writes recorded).
    #[arg(long = "watch", default_value = "/home")]
    watch: Vec<PathBuf>,
    /// Record every program started from the file system this path is on, and deny the
    /// launches the policy's `app_launch` rules block (repeatable; e.g. `/`).
    #[arg(long = "exec-mount")]
    exec_mounts: Vec<PathBuf>,
    /// Directories marked for files created, deleted and renamed, at most (each mark holds
    /// its directory in kernel memory); 0 turns those events off.
    #[arg(long, default_value_t = 20_000)]
    max_watched_dirs: usize,
    /// Treat this mount point as removable media whatever sysfs says (repeatable).
    #[arg(long = "removable-mount")]
    removable_mounts: Vec<PathBuf>,
    /// The sysfs root (USB devices and block devices).
    #[arg(long, default_value = "/sys")]
    sysfs: PathBuf,
    /// Decide with this policy file instead of the server's (no fetching).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Observe and record only, even where enforcing is possible.
    #[arg(long)]
    observe_only: bool,
    #[arg(long, default_value_t = 60)]
    heartbeat_seconds: u64,
    #[arg(long, default_value_t = 60)]
    policy_seconds: u64,
    /// Events the spool may hold before new ones are dropped (and counted).
    #[arg(long, default_value_t = 2_000_000)]
    spool_max_events: u64,
    /// The host name events carry (default: the kernel's).
    #[arg(long)]
    host: Option<String>,
    /// The utmp file logon sessions are read from (default: `/run/utmp` or `/var/run/utmp`).
    #[arg(long)]
    utmp: Option<PathBuf>,
    /// CUPS's page log, followed for print jobs.
    #[arg(long, default_value = "/var/log/cups/page_log")]
    cups_page_log: PathBuf,
    /// Where people justify copies a `justify` rule stopped (`mamori justify`): a unix socket
    /// open to every local user, who is told apart by the kernel's credentials.
    #[arg(long, default_value = justify::DEFAULT_SOCKET)]
    justify_socket: PathBuf,
}

/// Why and how the last run ended, from the state directory's marker.
fn previous_run(state: &Path) -> &'static str {
    if state.join("running").exists() {
        "unclean"
    } else if state.join("stopped").exists() {
        "stopped"
    } else {
        "first"
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// The token: given now (and saved), or saved at an earlier start.
fn token(args: &AgentArgs) -> anyhow::Result<String> {
    let saved = args.state.join("token");
    let given = match (&args.token, &args.token_file) {
        (Some(token), _) => Some(token.trim().to_string()),
        (None, Some(file)) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| BadInput(format!("{}: {e}", file.display())))?
                .trim()
                .to_string(),
        ),
        (None, None) => None,
    };
    match given {
        Some(token) if token.is_empty() => Err(BadInput("the token is empty".into()).into()),
        Some(token) => {
            write_private(&saved, token.as_bytes())?;
            Ok(token)
        }
        None => match std::fs::read_to_string(&saved) {
            Ok(token) if !token.trim().is_empty() => Ok(token.trim().to_string()),
            _ => Err(BadInput(format!(
                "no token: give --token or --token-file once (from `mamori agents enroll NAME`); \
                 it is kept in {}",
                saved.display()
            ))
            .into()),
        },
    }
}

/// Writes a file only its owner can read, atomically.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn agent_event(kind: Kind, host: &str, raw: Map<String, Value>) -> Event {
    Event {
        actor: Actor {
            host: Some(host.to_string()),
            user: AGENT_USER.to_string(),
            ..Actor::default()
        },
        destination: None,
        kind,
        nonce: None,
        object: None,
        outcome: Outcome::Success,
        raw,
        source: Some(Source {
            name: Some(SOURCE.to_string()),
            reference: None,
        }),
        time: jiff::Timestamp::now(),
        v: EVENT_VERSION,
    }
}

fn raw(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

pub fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    if args.heartbeat_seconds == 0 || args.policy_seconds == 0 {
        return Err(
            BadInput("--heartbeat-seconds and --policy-seconds must be positive".into()).into(),
        );
    }
    let endpoint = Endpoint::parse(&args.server, args.server_ca.as_deref())
        .map_err(|e| BadInput(format!("--server {e}")))?;
    std::fs::create_dir_all(&args.state).with_context(|| format!("{}", args.state.display()))?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&args.state, std::fs::Permissions::from_mode(0o700))?;
    }
    let token = token(&args)?;
    let host = args.host.clone().unwrap_or_else(host_name);
    let previous = previous_run(&args.state);
    write_private(
        &args.state.join("running"),
        std::process::id().to_string().as_bytes(),
    )?;
    let _ = std::fs::remove_file(args.state.join("stopped"));

    // The policy: a local file, else the last one the server sent, else observe only.
    let (policy, mut policy_source) = match &args.policy {
        Some(file) => (crate::policy::load(file)?, "file"),
        None => match std::fs::read_to_string(args.state.join("policy.toml"))
            .ok()
            .and_then(|text| Policy::from_toml(&text).ok())
        {
            Some(policy) => (policy, "cache"),
            None => (Policy::from_toml(OBSERVE_ONLY_POLICY)?, "none"),
        },
    };
    info!(name = %policy.name, revision = policy.revision, source = policy_source, "policy");
    let handle = PolicyHandle::new(policy);

    let spool_path = args.state.join("spool.sqlite");
    let mut spool = Spool::open(&spool_path, args.spool_max_events)?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop_reason = Arc::new(std::sync::Mutex::new(String::new()));
    watch_signals(stop.clone(), stop_reason.clone())?;

    let uplink = {
        let (endpoint, token, stop) = (endpoint.clone(), token.clone(), stop.clone());
        let path = spool_path.clone();
        let max = args.spool_max_events;
        std::thread::Builder::new()
            .name("mamori-uplink".into())
            .spawn(move || uplink(&endpoint, &token, &path, max, &stop))?
    };
    if args.policy.is_none() {
        if policy_source == "none" {
            // First start: the server's policy, if it answers, before anything is decided.
            fetch_policy(&endpoint, &token, &args.state, &handle);
            if handle.load().revision > 0 {
                policy_source = "server";
            }
        }
        let (endpoint, token, stop, handle) = (
            endpoint.clone(),
            token.clone(),
            stop.clone(),
            handle.clone(),
        );
        let (state, every) = (args.state.clone(), Duration::from_secs(args.policy_seconds));
        std::thread::Builder::new()
            .name("mamori-policy".into())
            .spawn(move || fetch_policies(&endpoint, &token, &state, &handle, every, &stop))?;
    }

    // Justifications: without the socket, a `justify` verdict blocks as `block` does.
    let justifications = mamori_agent::Justifications::new();
    let justify = match justify::Listener::start(&args.justify_socket, justifications.clone()) {
        Ok(listener) => Some(listener),
        Err(error) => {
            warn!(
                "{error:#}: no justification socket; copies a `justify` rule stops cannot be \
                 justified on this machine"
            );
            None
        }
    };

    // The file sensor.
    let (records_tx, records) = sync_channel::<Record>(10_000);
    let sensor_config = SensorConfig {
        watched: args.watch.clone(),
        removable: RemovableRules {
            sysfs: args.sysfs.clone(),
            declared: args.removable_mounts.iter().cloned().collect(),
        },
        host: Some(host.clone()),
        observe_only: args.observe_only,
        exec_mounts: args.exec_mounts.clone(),
        max_watched_dirs: args.max_watched_dirs,
        // Every exec waits for the agent's answer only while the policy can stop a launch.
        exec_permission: handle.load().enforces_channel(Channel::AppLaunch),
        justifications: justify.as_ref().map(|_| justifications),
        ..SensorConfig::default()
    };
    let (sensor, file_mode) = match Sensor::start(sensor_config, handle.clone(), records_tx) {
        Ok(sensor) => {
            let mode = sensor.capability().describe();
            (Some(sensor), mode)
        }
        Err(error) => (None, format!("no file sensor: {error}")),
    };
    info!(files = %file_mode, "file sensor");
    if sensor.as_ref().is_none_or(|s| !s.capability().enforces()) {
        warn!("{file_mode}");
    }
    let enforces_devices = |policy: &Policy| {
        !args.observe_only && policy.device_control.removable_storage == Action::Block
    };
    let mut revision = handle.load().revision;
    let usb_saved = args.state.join("usb-defaults");
    let mut usb = Authoriser::new(&args.sysfs, enforces_devices(&handle.load()), &usb_saved);
    if let Some(reason) = &usb.not_permitted {
        info!(%reason, "USB authorisation not enforced");
    }
    // Kernel uevents say the moment a USB device comes or goes, so it is judged at once; sysfs
    // is still rescanned now and then in case one was missed. Where netlink is not to be had
    // (a container), sysfs is rescanned twice a second as before.
    let mut usb_uevents = match mamori_agent::uevent::UeventMonitor::open() {
        Ok(monitor) => Some(monitor),
        Err(error) => {
            warn!(%error, "no kernel uevents: USB devices are found by rescanning sysfs");
            None
        }
    };
    let usb_every = if usb_uevents.is_some() {
        Duration::from_secs(5)
    } else {
        Duration::from_millis(500)
    };

    let mut sessions = args
        .utmp
        .clone()
        .or_else(Sessions::system_file)
        .map(|path| Sessions::new(&path));
    // Sessions are read at once (no subtraction from `now`: shortly after boot the monotonic
    // clock is too close to zero for it).
    let mut last_sessions: Option<Instant> = None;
    let print_position = args.state.join("print-position");
    let mut page_log = PageLog::new(&args.cups_page_log, read_position(&print_position));
    let mut last_print = Instant::now();

    let mut pending: Vec<Event> = vec![agent_event(
        Kind::AgentStart,
        &host,
        raw(json!({
            "previous": previous,
            "version": env!("CARGO_PKG_VERSION"),
            "files": file_mode,
            "devices": usb.not_permitted.clone().unwrap_or_else(|| "enforcing".into()),
            "policy": {"name": handle.load().name, "revision": handle.load().revision, "from": policy_source},
        })),
    )];
    println!("mamori agent running on {host}: {file_mode}");

    let heartbeat_every = Duration::from_secs(args.heartbeat_seconds);
    let mut last_heartbeat = Instant::now();
    let mut last_flush = Instant::now();
    // None: devices present at start are judged on the first tick.
    let mut last_usb: Option<Instant> = None;
    let mut heartbeats = 0u64;
    let mut sensor_lost = false;
    loop {
        // Records are taken ten times a second, all at once: waking for each would cost more
        // CPU than handling it (measured: most of the agent's time went to wake-ups).
        std::thread::sleep(Duration::from_millis(100));
        let mut disconnected = false;
        loop {
            match records.try_recv() {
                Ok(record) => record_events(record, &host, &mut pending),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    disconnected = true;
                    break;
                }
            }
        }
        if disconnected && sensor.is_some() && !sensor_lost {
            sensor_lost = true;
            warn!("the file sensor stopped");
            pending.push(agent_event(
                Kind::AgentStop,
                &host,
                raw(json!({"reason": "the file sensor stopped", "collection": "files"})),
            ));
        }
        if let Some(sessions) = sessions.as_mut()
            && last_sessions.is_none_or(|at| at.elapsed() >= Duration::from_secs(2))
        {
            last_sessions = Some(Instant::now());
            for change in sessions.poll() {
                pending.push(session_event(&change, &host));
            }
        }
        if last_print.elapsed() >= Duration::from_secs(2) {
            last_print = Instant::now();
            let (jobs, bad) = page_log.poll();
            let policy = handle.load();
            for job in &jobs {
                print_events(job, &policy, &host, &mut pending);
            }
            for reason in bad {
                warn!(%reason, "CUPS page log");
            }
            if !jobs.is_empty()
                && let Some(position) = page_log.position()
                && let Err(error) = write_private(
                    &print_position,
                    format!("{} {}", position.inode, position.offset).as_bytes(),
                )
            {
                warn!("{error:#}: keeping the page log's position");
            }
        }
        let mut usb_changed = false;
        if let Some(monitor) = usb_uevents.as_mut() {
            use mamori_agent::uevent::Action as UeventAction;
            let drained = monitor.drain();
            if drained.malformed > 0 {
                let reasons: Vec<String> = drained.reasons.iter().map(|r| r.to_string()).collect();
                warn!(
                    count = drained.malformed,
                    ?reasons,
                    "kernel uevents refused"
                );
            }
            if drained.lost {
                warn!("kernel uevents were lost; rescanning USB devices");
            }
            usb_changed = drained.lost
                || drained.events.iter().any(|e| {
                    matches!(
                        e.action,
                        UeventAction::Add
                            | UeventAction::Remove
                            | UeventAction::Bind
                            | UeventAction::Change
                    )
                });
        }
        // A new policy is still taken up within a tick, however rarely sysfs is rescanned.
        if usb_changed
            || last_usb.is_none_or(|t| t.elapsed() >= usb_every)
            || handle.load().revision != revision
        {
            last_usb = Some(Instant::now());
            let policy = handle.load();
            if policy.revision != revision {
                // A new policy: every present device is judged again under it, and launches
                // wait for an answer only if it can stop one.
                revision = policy.revision;
                if let Some(sensor) = &sensor {
                    sensor.set_exec_permission(policy.enforces_channel(Channel::AppLaunch));
                }
                usb.release();
                usb = Authoriser::new(&args.sysfs, enforces_devices(&policy), &usb_saved);
            }
            let user = sessions
                .as_ref()
                .and_then(Sessions::console_user)
                .unwrap_or(AGENT_USER)
                .to_string();
            for judged in usb.poll(&policy) {
                device_events(&judged, &policy, &host, &user, &mut pending);
            }
        }
        let stopping = stop.load(Ordering::Acquire);
        if last_heartbeat.elapsed() >= heartbeat_every {
            last_heartbeat = Instant::now();
            heartbeats += 1;
            let policy = handle.load();
            let stats = sensor.as_ref().map(|s| s.stats());
            pending.push(agent_event(
                Kind::AgentHeartbeat,
                &host,
                raw(json!({
                    "n": heartbeats,
                    "spooled": spool.depth().unwrap_or(0),
                    "quarantined": spool.quarantined().unwrap_or(0),
                    "files": file_mode,
                    "policy": {"name": policy.name, "revision": policy.revision},
                    "sensor": stats.map(|s| json!({
                        "events": s.events, "decisions": s.decisions, "denied": s.denied,
                        "errors": s.errors, "dropped": s.dropped, "overflows": s.overflows,
                    })),
                })),
            ));
        }
        if stopping {
            let reason = stop_reason.lock().map(|r| r.clone()).unwrap_or_default();
            pending.push(agent_event(
                Kind::AgentStop,
                &host,
                raw(json!({"reason": reason})),
            ));
        }
        if !pending.is_empty()
            && (stopping
                || pending.len() >= 500
                || last_flush.elapsed() >= Duration::from_millis(200))
        {
            last_flush = Instant::now();
            let dropped = spool.take_dropped().unwrap_or(0);
            if dropped > 0 {
                pending.push(agent_event(
                    Kind::LogRecord,
                    &host,
                    raw(json!({"agent": "spool_full", "dropped": dropped})),
                ));
            }
            match spool.push(&mut pending) {
                Ok(dropped) => {
                    if dropped > 0 {
                        warn!(dropped, "the spool is full: events dropped");
                    }
                    pending.clear();
                }
                // Kept in memory and tried again at the next flush, within reason.
                Err(error) if pending.len() <= MAX_PENDING => {
                    warn!("{error:#}: events kept in memory until the spool works");
                }
                Err(error) => {
                    warn!(lost = pending.len(), "{error:#}: the spool does not work");
                    pending.clear();
                }
            }
        }
        if stopping {
            break;
        }
    }
    if let Some(sensor) = sensor {
        sensor.stop();
    }
    drop(justify);
    usb.release();
    // The uplink gets a moment to deliver the stop event and whatever is left.
    let _ = uplink.join();
    let _ = std::fs::remove_file(args.state.join("running"));
    let _ = std::fs::write(
        args.state.join("stopped"),
        jiff::Timestamp::now().to_string(),
    );
    println!(
        "mamori agent stopped; {} events left in the spool",
        spool.depth().unwrap_or(0)
    );
    Ok(ExitCode::SUCCESS)
}

/// Sets `stop` on SIGTERM or SIGINT (the reason names the signal).
fn watch_signals(
    stop: Arc<AtomicBool>,
    reason: Arc<std::sync::Mutex<String>>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    std::thread::Builder::new()
        .name("mamori-signals".into())
        .spawn(move || {
            runtime.block_on(async move {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut term), Ok(mut int)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::interrupt()),
                ) else {
                    warn!("signal handlers could not be installed");
                    return;
                };
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                if let Ok(mut reason) = reason.lock() {
                    *reason = name.to_string();
                }
                stop.store(true, Ordering::Release);
            });
        })?;
    Ok(())
}

/// Sends the spool until it is empty after a stop (at most 5 s more), backing off while the
/// server cannot take it.
fn uplink(endpoint: &Endpoint, token: &str, path: &Path, max: u64, stop: &AtomicBool) {
    let mut spool = match Spool::open(path, max) {
        Ok(spool) => spool,
        Err(error) => {
            warn!("{error:#}: the uplink cannot read the spool");
            return;
        }
    };
    let mut backoff = Duration::from_secs(1);
    let mut stopped_at: Option<Instant> = None;
    loop {
        if stop.load(Ordering::Acquire) && stopped_at.is_none() {
            stopped_at = Some(Instant::now());
        }
        if stopped_at.is_some_and(|t| t.elapsed() > Duration::from_secs(5)) {
            return;
        }
        let batch = match spool.peek(1000, 4 << 20) {
            Ok(batch) => batch,
            Err(error) => {
                warn!("{error:#}: reading the spool");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        if batch.is_empty() {
            if stopped_at.is_some() {
                // Let the core commit the stop event first.
                if stopped_at.is_some_and(|t| t.elapsed() > Duration::from_millis(500)) {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        let full = batch.len() == 1000;
        let mut body = Vec::with_capacity(batch.iter().map(|s| s.line.len() + 1).sum());
        for spooled in &batch {
            body.extend_from_slice(&spooled.line);
            body.push(b'\n');
        }
        match send(endpoint, token, &body, &batch) {
            Ok((acknowledged, rejected)) => {
                backoff = Duration::from_secs(1);
                if !rejected.is_empty() {
                    warn!(rejected = rejected.len(), first = %rejected[0].1, "the server rejected events: quarantined in the spool");
                }
                if let Err(error) = spool.settle(&acknowledged, &rejected) {
                    warn!("{error:#}: settling the spool (the batch will be sent again)");
                }
                // At a low rate, one request a second carries everything: fewer connections,
                // less CPU on both sides. A full batch goes on at once.
                if !full && stopped_at.is_none() {
                    let until = Instant::now() + Duration::from_secs(1);
                    while Instant::now() < until && !stop.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
            Err(error) => {
                warn!(retry_in = ?backoff, "{error:#}");
                let until = Instant::now() + backoff;
                while Instant::now() < until && !stop.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(100));
                }
                if stop.load(Ordering::Acquire) && stopped_at.is_none() {
                    stopped_at = Some(Instant::now());
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

type Settled = (Vec<i64>, Vec<(i64, String)>);

/// One batch to the server: the seqs acknowledged and the ones rejected (with the reason).
fn send(
    endpoint: &Endpoint,
    token: &str,
    body: &[u8],
    batch: &[spool::Spooled],
) -> anyhow::Result<Settled> {
    let (status, answer) = endpoint.post_events(token, body)?;
    anyhow::ensure!(
        status == 200,
        "the server answered {status}: {}",
        answer.trim()
    );
    let answer: Value = serde_json::from_str(&answer).context("the server's answer")?;
    let seq_of_line = |line: &Value| {
        line.as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| batch.get(i))
            .map(|s| s.seq)
    };
    let acknowledged = answer["accepted"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| seq_of_line(&a["line"]))
        .collect();
    let rejected = answer["rejected"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some((
                seq_of_line(&r["line"])?,
                r["reason"].as_str().unwrap_or("rejected").to_string(),
            ))
        })
        .collect();
    Ok((acknowledged, rejected))
}

/// Polls the server's policy every `every` until `stop`.
fn fetch_policies(
    endpoint: &Endpoint,
    token: &str,
    state: &Path,
    handle: &PolicyHandle,
    every: Duration,
    stop: &AtomicBool,
) {
    loop {
        fetch_policy(endpoint, token, state, handle);
        let until = Instant::now() + every;
        while Instant::now() < until {
            if stop.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Asks the server for a newer policy than the one in use; a newer revision is validated,
/// saved in the state directory and swapped in. Failures leave the policy in use.
fn fetch_policy(endpoint: &Endpoint, token: &str, state: &Path, handle: &PolicyHandle) {
    let current = handle.load().revision;
    let etag = format!("\"{current}\"");
    let answer = match endpoint.request(
        token,
        "GET",
        "/api/v1/policy",
        &[("If-None-Match", &etag)],
        None,
    ) {
        Ok(answer) => answer,
        Err(error) => {
            info!("{error:#}: fetching the policy (the one in use stays)");
            return;
        }
    };
    match answer.status {
        200 => {}
        304 | 404 => return,
        status => {
            warn!(status, "fetching the policy");
            return;
        }
    }
    let Some(text) = serde_json::from_str::<Value>(&answer.body)
        .ok()
        .and_then(|v| v["toml"].as_str().map(str::to_string))
    else {
        warn!("the server's policy answer has no toml");
        return;
    };
    match Policy::from_toml(&text) {
        Ok(policy) if policy.revision > current => {
            if let Err(error) = write_private(&state.join("policy.toml"), text.as_bytes()) {
                warn!("{error:#}: caching the policy");
            }
            info!(name = %policy.name, revision = policy.revision, "new policy");
            handle.store(policy);
        }
        Ok(_) => {}
        Err(error) => warn!("the server's policy is not valid here: {error}"),
    }
}

fn process_of(activity: &FileActivity) -> Option<Process> {
    Some(Process {
        name: activity.process.clone(),
        path: activity.exe.clone(),
        pid: Some(activity.pid),
        sha256: None,
    })
}

/// The events a sensor record becomes: writes (on removable media and under watched paths),
/// reads of classified files, every decision worth recording, and sensor errors.
fn record_events(record: Record, host: &str, pending: &mut Vec<Event>) {
    fn parent(path: &str) -> &str {
        path.rsplit_once('/').map_or("", |(dir, _)| dir)
    }
    fn file_name(path: &str) -> Option<String> {
        path.rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .map(str::to_string)
    }
    match record {
        Record::Activity(activity) => {
            let classification = activity.classification.as_deref();
            let kind = match activity.kind {
                ActivityKind::Exec => Kind::ProcessStart,
                ActivityKind::CloseWrite => Kind::FileWrite,
                ActivityKind::Create => Kind::FileCreate,
                ActivityKind::Delete => Kind::FileDelete,
                // Within one directory a rename, across directories a move.
                ActivityKind::Rename
                    if activity.previous.as_deref().map(parent) == Some(parent(&activity.path)) =>
                {
                    Kind::FileRename
                }
                ActivityKind::Rename => Kind::FileMove,
                ActivityKind::Open if classification.is_some_and(|c| c.classified()) => {
                    Kind::FileRead
                }
                // Plain opens are counted by the sensor, not recorded one by one.
                _ => return,
            };
            let mut raw = Map::new();
            if let Some(c) = classification
                && c.findings.total() > 0
            {
                raw.insert("findings".into(), json!(c.findings));
            }
            if let Some(uid) = activity.uid {
                raw.insert("uid".into(), json!(uid));
            }
            if activity.dir {
                raw.insert("directory".into(), json!(true));
            }
            // A rename's object is the path before; its destination is the new name (a
            // rename) or path (a move), as docs/events.md has it.
            let (path, destination) = match &activity.previous {
                Some(before) => (
                    before.clone(),
                    Some(Destination {
                        kind: Some(if activity.removable {
                            DestinationKind::Removable
                        } else {
                            DestinationKind::Local
                        }),
                        name: match kind {
                            Kind::FileRename => file_name(&activity.path),
                            _ => Some(activity.path.clone()),
                        },
                        ..Destination::default()
                    }),
                ),
                None => (
                    activity.path.clone(),
                    activity.removable.then(|| Destination {
                        kind: Some(DestinationKind::Removable),
                        ..Destination::default()
                    }),
                ),
            };
            let name = file_name(&path);
            pending.push(Event {
                actor: Actor {
                    host: Some(host.to_string()),
                    process: process_of(&activity),
                    user: activity.user.clone(),
                    ..Actor::default()
                },
                destination,
                kind,
                nonce: None,
                object: Some(Object {
                    labels: classification.map(|c| c.labels.clone()).unwrap_or_default(),
                    name,
                    path: Some(path),
                    size: classification.map(|c| c.size),
                    ..Object::default()
                }),
                outcome: Outcome::Success,
                raw,
                source: Some(Source {
                    name: Some(SOURCE.to_string()),
                    reference: None,
                }),
                time: activity.time,
                v: EVENT_VERSION,
            });
        }
        Record::Decision(record) => decision_events(&record, host, pending),
        Record::Error(error) => {
            warn!(%error, "file sensor");
            pending.push(agent_event(
                Kind::LogRecord,
                host,
                raw(json!({"agent": "sensor_error", "error": error})),
            ));
        }
    }
}

fn decision_events(record: &DecisionRecord, host: &str, pending: &mut Vec<Event>) {
    if !record.decision.is_recorded() {
        return;
    }
    let mut event = mamori_policy::decision_event(
        &record.policy,
        &record.request,
        &record.decision,
        host,
        record.time,
    );
    event.raw.insert("enforced".into(), json!(record.enforced));
    event
        .raw
        .insert("destination_path".into(), json!(record.destination_path));
    event
        .raw
        .insert("latency_us".into(), json!(record.latency.as_micros()));
    if !record.enforced && record.decision.action >= Action::Justify {
        // Observed, not carried out: the copy happened.
        event.outcome = Outcome::Success;
    }
    // A copy let through with the person's reason needs no notice; one stopped by a `justify`
    // rule says how to give the reason (when the agent takes them).
    let awaiting = (record.denied && record.decision.action == Action::Justify)
        .then(justify::hint)
        .flatten();
    let message = record.policy.message(&record.decision);
    if record.verdict != mamori_policy::Verdict::Overridden
        && (message.is_some() || awaiting.is_some())
    {
        notify(&record.request, message, awaiting);
    }
    pending.push(event);
}

/// A desktop notification for the person whose action was warned about or stopped, where
/// their session has a bus and `notify-send` exists (best effort, never waited for): the
/// rule's message and, for a copy that awaits a reason, how to give it.
fn notify(request: &Request, message: Option<&mamori_policy::Message>, how: Option<&str>) {
    let Some(uid) = request
        .process
        .as_ref()
        .and_then(|p| p.pid)
        .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().next().map(str::to_string))
        })
        // A denied `cp` has usually exited by now: its user's uid from the account name.
        .or_else(|| uid_of_user(&request.user))
    else {
        return;
    };
    let bus = format!("/run/user/{uid}/bus");
    if !Path::new(&bus).exists() || !Path::new("/usr/bin/notify-send").exists() {
        return;
    }
    let mut text = match message {
        Some(message) if message.ja.is_empty() => message.en.clone(),
        Some(message) => message.ja.clone(),
        None => String::new(),
    };
    if let Some(how) = how {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(how);
    }
    let spawned = std::process::Command::new("setpriv")
        .args(["--reuid", &uid, "--regid", &uid, "--clear-groups", "env"])
        .arg(format!("DBUS_SESSION_BUS_ADDRESS=unix:path={bus}"))
        .args(["/usr/bin/notify-send", "--app-name=Mamori", "Mamori", &text])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(error) = spawned {
        info!(%error, "desktop notification");
    }
}

/// The uid `/etc/passwd` gives an account name.
fn uid_of_user(user: &str) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let uid = fields.nth(1)?;
        (name == user && uid.parse::<u32>().is_ok()).then(|| uid.to_string())
    })
}

/// Where the page log was read to at the last run (`inode offset`).
fn read_position(path: &Path) -> Option<Position> {
    let text = std::fs::read_to_string(path).ok()?;
    let (inode, offset) = text.trim().split_once(' ')?;
    Some(Position {
        inode: inode.parse().ok()?,
        offset: offset.parse().ok()?,
    })
}

/// A print job's `print` event and, when the policy has something to say about printing
/// (it can only be recorded: the job has been printed), its decision.
fn print_events(job: &PrintJob, policy: &Policy, host: &str, pending: &mut Vec<Event>) {
    let extension = job
        .name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 8 && !e.contains(['/', ' ']));
    let mut raw = raw(json!({
        "job": job.job,
        "copies": job.copies,
        "media": job.media,
        "sides": job.sides,
        "from": job.host,
    }));
    if let Some(page) = job.page {
        raw.insert("page".into(), json!(page));
    }
    if let Some(billing) = &job.billing {
        raw.insert("billing".into(), json!(billing));
    }
    let mut event = agent_event(Kind::Print, host, raw);
    event.actor.user = job.user.clone();
    event.time = job.time;
    event.object = (!job.name.is_empty()).then(|| Object {
        name: Some(job.name.clone()),
        extension: extension.clone(),
        ..Object::default()
    });
    event.destination = Some(Destination {
        kind: Some(DestinationKind::Printer),
        name: Some(job.printer.clone()),
        ..Destination::default()
    });
    pending.push(event);
    let request = Request {
        channel: Some(Channel::Print),
        time: Some(job.time),
        user: job.user.clone(),
        host: Some(host.to_string()),
        object: mamori_policy::ObjectFacts {
            path: (!job.name.is_empty()).then(|| job.name.clone()),
            extension,
            ..Default::default()
        },
        destination: mamori_policy::DestinationFacts {
            name: Some(job.printer.clone()),
            ..Default::default()
        },
        ..Request::default()
    };
    if request.check().is_err() {
        return;
    }
    let decision = policy.decide(&request, job.time);
    if decision.is_recorded() {
        let mut event = mamori_policy::decision_event(policy, &request, &decision, host, job.time);
        // Printed already: what the policy says is recorded, not carried out.
        event.raw.insert("enforced".into(), json!(false));
        event.outcome = Outcome::Success;
        pending.push(event);
    }
}

/// A logon or logoff of a utmp session.
fn session_event(change: &Change, host: &str) -> Event {
    let (kind, session) = match change {
        Change::Logon(session) => (Kind::Logon, session),
        Change::Logoff(session) => (Kind::Logoff, session),
    };
    let mut event = agent_event(
        kind,
        host,
        raw(json!({
            "line": session.line,
            "remote": session.host,
            "local": session.is_local(),
            "since": session.since.to_string(),
        })),
    );
    event.actor.user = session.user.clone();
    event.actor.session = Some(format!("{}:{}", session.line, session.pid));
    // The network address of a remote session, where utmp has one.
    event.actor.ip = session
        .host
        .as_deref()
        .filter(|h| h.parse::<std::net::IpAddr>().is_ok())
        .map(str::to_string);
    if let Change::Logon(session) = change {
        event.time = session.since;
    }
    event
}

/// A USB device's `device.connect` event (the person at the machine as its actor) and, when
/// the policy acted, its decision.
fn device_events(
    judged: &Judged,
    policy: &Policy,
    host: &str,
    user: &str,
    pending: &mut Vec<Event>,
) {
    let device = &judged.device;
    let device_id = mamori_policy::record::device_id(&device.usb);
    let blocked = !judged.authorized && judged.not_enforced.is_none();
    let mut raw = raw(json!({
        "vendor": device.usb.vendor,
        "product": device.usb.product,
        "classes": device.classes.iter().map(|c| format!("{c:02x}")).collect::<Vec<_>>(),
        "storage": device.is_storage(),
        "action": judged.action.as_str(),
        "authorized": judged.authorized,
    }));
    if let Some(serial) = &device.usb.serial {
        raw.insert("serial".into(), json!(serial));
    }
    if let Some(reason) = &judged.not_enforced {
        raw.insert("not_enforced".into(), json!(reason));
    }
    let name = [device.manufacturer.as_deref(), device.product.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let mut event = agent_event(Kind::DeviceConnect, host, raw);
    event.actor.user = user.to_string();
    event.destination = Some(Destination {
        device_id: Some(device_id),
        kind: Some(DestinationKind::Removable),
        name: (!name.is_empty()).then_some(name),
        ..Destination::default()
    });
    if blocked {
        event.outcome = Outcome::Blocked;
    }
    pending.push(event);
    if judged.action != Action::Allow {
        let request = Request {
            channel: Some(Channel::RemovableMedia),
            user: user.to_string(),
            host: Some(host.to_string()),
            destination: mamori_policy::DestinationFacts {
                device: Some(device.usb.clone()),
                ..Default::default()
            },
            ..Request::default()
        };
        let decision = policy.decide_device(&device.usb);
        let mut event = mamori_policy::decision_event(
            policy,
            &request,
            &decision,
            host,
            jiff::Timestamp::now(),
        );
        event
            .raw
            .insert("enforced".into(), json!(judged.not_enforced.is_none()));
        event.raw.insert("device_control".into(), json!(true));
        if !blocked && event.outcome == Outcome::Blocked {
            event.outcome = Outcome::Success;
        }
        pending.push(event);
    }
}
