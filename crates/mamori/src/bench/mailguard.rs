//! `mamori bench mailguard`: the latency the mail guard adds to a passing 100 kB message at a
//! steady rate (issue 10's target: ≤ 5 ms at the 99th percentile at 500 messages/s).
//!
//! A next hop that takes every message and keeps none runs in this process; the same paced
//! load is sent first straight to it, then through the real relay with the real guard (a
//! policy, a sending history on disk, content inspection of every message). The difference
//! of the two percentiles is what the guard adds. Each message's time runs from `MAIL FROM`
//! to the `250` after its data, as a sending MTA sees it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use mamori_mailguard::checks::{History, Senders};
use mamori_mailguard::policy::{MailGuard, Policy};
use mamori_mailguard::relay::{Relay, RelayConfig};
use mamori_mailguard::smtp::Reply;
use mamori_mailguard::smtp::server::{self, Handler, Received, ServerConfig};

use super::round;

const POLICY: &str = r#"
version = 1
[domains]
own = ["example.co.jp"]
partner = ["partner.co.jp", "torihiki.co.jp"]
"#;

/// Counts and forgets every message.
struct Discard(AtomicU64);

impl Handler for Discard {
    async fn message(&self, _received: Received) -> Reply {
        self.0.fetch_add(1, Ordering::Relaxed);
        Reply::new(250, [2, 0, 0], "OK")
    }
}

pub fn run(
    rate: u32,
    seconds: u64,
    clients: usize,
    kilobytes: usize,
) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        rate > 0 && seconds > 0 && clients > 0,
        "--rate, --seconds and --clients must be positive"
    );
    let work = tempfile::tempdir().context("temporary directory")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let discard = Arc::new(Discard(AtomicU64::new(0)));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sink = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let sink_address = sink.local_addr()?;
    runtime.spawn(server::serve(
        sink,
        Arc::new(ServerConfig::new("sink.bench")),
        discard.clone(),
        stop_rx,
    ));

    let policy = Policy::from_toml(POLICY)?;
    let history = History::open(work.path().join("history.sqlite"))?;
    let guard = Arc::new(MailGuard::from_policy(
        policy,
        Arc::new(Senders::new()),
        history,
    )?);
    let config = RelayConfig::new(
        "127.0.0.1:0".parse()?,
        sink_address,
        work.path().join("spool"),
    );
    let relay = runtime.block_on(Relay::start(config, guard))?;
    let relay_port = relay.local_addr().port();

    let message = Arc::new(message(kilobytes * 1000));
    let direct = paced_load(sink_address.port(), clients, rate, seconds, &message)?;
    let before = discard.0.load(Ordering::Relaxed);
    let through = paced_load(relay_port, clients, rate, seconds, &message)?;
    // Every message through the guard must have passed: all of them reach the sink.
    let deadline = Instant::now() + Duration::from_secs(60);
    while discard.0.load(Ordering::Relaxed) - before < through.len() as u64 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} of {} messages through the guard were delivered (held or failed?)",
            discard.0.load(Ordering::Relaxed) - before,
            through.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    runtime.block_on(relay.shutdown());
    let _ = stop_tx.send(true);

    let ms = super::percentile_ms;
    Ok(serde_json::json!({
        "messages_per_second": rate,
        "seconds": seconds,
        "clients": clients,
        "message_bytes": message.len() - 3,
        "direct_messages": direct.len(),
        "direct_ms_p50": ms(&direct, 0.5),
        "direct_ms_p99": ms(&direct, 0.99),
        "guard_messages": through.len(),
        "guard_ms_p50": ms(&through, 0.5),
        "guard_ms_p99": ms(&through, 0.99),
        "guard_ms_max": ms(&through, 1.0),
        "added_ms_p50": round(ms(&through, 0.5) - ms(&direct, 0.5)),
        "added_ms_p99": round(ms(&through, 0.99) - ms(&direct, 0.99)),
        "peak_rss_megabytes": super::peak_rss_megabytes(),
    }))
}

/// A passing message of about `bytes` (Japanese and English business prose, no personal
/// data, to a partner), dot-terminated for `DATA`.
fn message(bytes: usize) -> Vec<u8> {
    const LINES: &[&str] = &[
        "来週の打ち合わせの資料を送付いたします。ご確認のほどよろしくお願いいたします。\r\n",
        "The revised schedule moves the design review to Thursday afternoon.\r\n",
        "試作品の評価は予定どおり進んでおり、結果は定例会で共有いたします。\r\n",
        "Please let us know if the delivery date in the attached plan works for you.\r\n",
    ];
    let mut body = b"From: =?UTF-8?B?5bGx55Sw5aSq6YOO?= <taro@example.co.jp>\r\n\
        To: =?UTF-8?B?5L2Q6Jek6Iqx5a2Q?= <sato@partner.co.jp>\r\n\
        Subject: =?UTF-8?B?5omT44Gh5ZCI44KP44Gb6LOH5paZ?=\r\n\
        MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\
        Content-Transfer-Encoding: 8bit\r\n\r\n"
        .to_vec();
    let mut n = 0;
    while body.len() < bytes {
        body.extend_from_slice(LINES[n % LINES.len()].as_bytes());
        n += 1;
    }
    body.extend_from_slice(b".\r\n");
    body
}

/// `rate` messages per second for `seconds`, spread over `clients` connections, each sent
/// at its due time; each message's time from `MAIL FROM` to the `250` after its data.
fn paced_load(
    port: u16,
    clients: usize,
    rate: u32,
    seconds: u64,
    message: &Arc<Vec<u8>>,
) -> anyhow::Result<Vec<Duration>> {
    let interval = Duration::from_secs_f64(clients as f64 / f64::from(rate));
    let count = (seconds as f64 / interval.as_secs_f64()) as u32;
    let envelope = format!(
        "MAIL FROM:<taro@example.co.jp> BODY=8BITMIME SIZE={}\r\nRCPT TO:<sato@partner.co.jp>\r\nDATA\r\n",
        message.len()
    );
    let all = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..clients)
            .map(|client| {
                let envelope = envelope.as_bytes();
                scope.spawn(move || -> anyhow::Result<Vec<Duration>> {
                    let mut smtp = Smtp::connect(port)?;
                    smtp.expect_replies(&[220])?;
                    smtp.send(b"EHLO bench.test\r\n")?;
                    smtp.expect_replies(&[250])?;
                    let start = Instant::now() + interval.mul_f64(client as f64 / clients as f64);
                    let mut latencies = Vec::with_capacity(count as usize);
                    for index in 0..count {
                        if let Some(wait) =
                            (start + interval * index).checked_duration_since(Instant::now())
                        {
                            std::thread::sleep(wait);
                        }
                        let began = Instant::now();
                        smtp.send(envelope)?;
                        smtp.expect_replies(&[250, 250, 354])?;
                        smtp.send(message)?;
                        smtp.expect_replies(&[250])?;
                        latencies.push(began.elapsed());
                    }
                    smtp.send(b"QUIT\r\n")?;
                    Ok(latencies)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|_| anyhow::bail!("a client panicked"))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let mut all: Vec<Duration> = all.into_iter().flatten().collect();
    all.sort_unstable();
    Ok(all)
}

/// A blocking SMTP client that pipelines (sends several commands, then reads the replies).
struct Smtp {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Smtp {
    fn connect(port: u16) -> anyhow::Result<Smtp> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        let reader = BufReader::new(stream.try_clone()?);
        Ok(Smtp { stream, reader })
    }

    fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        Ok(self.stream.write_all(bytes)?)
    }

    /// Reads one reply per expected code and fails on any other.
    fn expect_replies(&mut self, codes: &[u16]) -> anyhow::Result<()> {
        for expected in codes {
            let mut text = String::new();
            loop {
                let mut line = String::new();
                anyhow::ensure!(self.reader.read_line(&mut line)? > 0, "connection closed");
                text.push_str(&line);
                if line.as_bytes().get(3) != Some(&b'-') {
                    break;
                }
            }
            let code: u16 = text.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            anyhow::ensure!(
                code == *expected,
                "expected {expected}, got {}",
                text.trim_end()
            );
        }
        Ok(())
    }
}
