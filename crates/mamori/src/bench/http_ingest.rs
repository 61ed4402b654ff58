//! `mamori bench http-ingest`: events sent to a real `mamori serve` over loopback HTTP, the
//! way agents send them (`POST /api/v1/events`, NDJSON batches, an `ingest` token), by
//! several sender threads at once.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use mamori_store::DataDir;
use mamori_store::auth::{Owner, Scope};

use super::{SyntheticEvents, round};

pub fn run(events: u64, batch: usize, senders: usize) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        batch > 0 && senders > 0,
        "--batch and --senders must be positive"
    );
    let work = tempfile::tempdir().context("temporary directory")?;
    let data_path = work.path().join("data");
    let mut data = DataDir::init(&data_path, "bench.mamori.invalid/events")?;
    let token = data.store_mut().create_token(
        &Owner::Agent("bench".into()),
        Scope::Ingest,
        None,
        crate::cases::now_us(),
    )?;
    drop(data);

    // The request bodies are made before the clock starts: only the server is measured.
    let mut generator = SyntheticEvents::new(0x6874_7470);
    let mut bodies = Vec::new();
    let mut remaining = events;
    while remaining > 0 {
        let lines = remaining.min(batch as u64);
        let mut body = Vec::with_capacity(lines as usize * 320);
        for _ in 0..lines {
            body.extend_from_slice(generator.next_line().as_bytes());
        }
        bodies.push((lines, body));
        remaining -= lines;
    }
    let bytes: usize = bodies.iter().map(|(_, body)| body.len()).sum();

    let mut server = Command::new(std::env::current_exe().context("the running binary")?)
        .arg("--data-dir")
        .arg(&data_path)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting mamori serve")?;
    let mut line = String::new();
    BufReader::new(server.stdout.take().context("server stdout")?).read_line(&mut line)?;
    let address = line
        .trim()
        .strip_prefix("serving http://")
        .and_then(|rest| rest.split('/').next())
        .with_context(|| format!("unexpected serve output {line:?}"))?
        .to_string();

    let started = Instant::now();
    let shares: Vec<Vec<(u64, Vec<u8>)>> = {
        let mut shares: Vec<Vec<_>> = (0..senders).map(|_| Vec::new()).collect();
        for (index, body) in bodies.into_iter().enumerate() {
            shares[index % senders].push(body);
        }
        shares
    };
    let results: Vec<anyhow::Result<Sent>> = std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|share| {
                let (address, token) = (&address, &token);
                scope.spawn(move || send_all(address, token, &share))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| anyhow::bail!("a sender panicked"))
            })
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    // The server's peak memory, read before it exits (its /proc entry goes with it).
    let server_peak_rss = std::fs::read_to_string(format!("/proc/{}/status", server.id()))
        .ok()
        .as_deref()
        .and_then(super::vm_hwm_kilobytes)
        .map(|kilobytes| round(kilobytes / 1024.0));
    let stopped = Command::new("kill").arg(server.id().to_string()).status();
    let exit = server.wait()?;
    anyhow::ensure!(
        stopped.is_ok_and(|s| s.success()) && exit.success(),
        "mamori serve did not stop cleanly: {exit}"
    );

    let mut total = Sent::default();
    for sent in results {
        let sent = sent?;
        total.accepted += sent.accepted;
        total.busy += sent.busy;
        total.latencies.extend(sent.latencies);
    }
    anyhow::ensure!(
        total.accepted == events,
        "{} of {events} events acknowledged",
        total.accepted
    );
    total.latencies.sort_unstable();
    let percentile = |p: f64| super::percentile_ms(&total.latencies, p);
    Ok(serde_json::json!({
        "events": events,
        "batch": batch,
        "senders": senders,
        "requests": total.latencies.len(),
        "busy_responses": total.busy,
        "bytes": bytes,
        "seconds": round(seconds),
        "events_per_second": round(events as f64 / seconds),
        "megabytes_per_second": round(bytes as f64 / seconds / 1e6),
        "request_ms_p50": percentile(0.5),
        "request_ms_p99": percentile(0.99),
        "server_peak_rss_megabytes": server_peak_rss,
    }))
}

#[derive(Default)]
struct Sent {
    accepted: u64,
    /// `429` answers (each retried after the time asked).
    busy: u64,
    latencies: Vec<Duration>,
}

/// Sends every body, each until it is acknowledged.
fn send_all(address: &str, token: &str, bodies: &[(u64, Vec<u8>)]) -> anyhow::Result<Sent> {
    let mut sent = Sent::default();
    for (lines, body) in bodies {
        loop {
            let started = Instant::now();
            let (status, answer) =
                crate::api_client::Endpoint::parse(&format!("http://{address}"), None)?
                    .post_events(token, body)?;
            if status == 429 {
                sent.busy += 1;
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            anyhow::ensure!(status == 200, "status {status}: {answer}");
            sent.latencies.push(started.elapsed());
            let answer: serde_json::Value = serde_json::from_str(&answer)?;
            let accepted = answer["accepted"].as_array().map_or(0, Vec::len) as u64;
            anyhow::ensure!(accepted == *lines, "{accepted} of {lines} lines accepted");
            sent.accepted += accepted;
            break;
        }
    }
    Ok(sent)
}
