//! `mamori bench agent`: the endpoint agent's CPU and memory under a steady file load (issue
//! 11's budget: ≤ 2 % of a core and ≤ 50 MiB resident at 200 file events/s).
//!
//! A real `mamori serve` and a real `mamori agent` (this binary) run on a temporary data
//! directory; the agent watches a temporary directory with the example policy
//! (`docs/policy.toml`). A paced load creates a new file there, reads it back and deletes it —
//! five file events: the entry created, an open, a close-write, an open that the agent
//! classifies (one file in ten is labelled 社外秘) and the entry deleted — until `--rate`
//! events per second have run for `--seconds`. The agent's CPU time
//! (utime + stime of `/proc/PID/stat`) over the run and its resident memory (sampled every
//! second, and its peak `VmHWM`) are the figures; the events the server stored show the load
//! really reached it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use mamori_store::DataDir;
use mamori_store::auth::{Owner, Scope};

/// File events per cycle of the load: created, opened, written, opened again, deleted.
const EVENTS_PER_CYCLE: u64 = 5;

use super::round;

/// Clock ticks per second of `/proc/PID/stat` times (USER_HZ: 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the command.
    let ticks = |i: usize| -> anyhow::Result<u64> {
        Ok(fields.get(i).context("a short /proc stat line")?.parse()?)
    };
    Ok(ticks(11)? + ticks(12)?)
}

fn status_kilobytes(pid: u32, key: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(rate: u32, seconds: u64) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        u64::from(rate) >= EVENTS_PER_CYCLE && seconds > 0,
        "--rate at least {EVENTS_PER_CYCLE} and --seconds positive"
    );
    let work = tempfile::tempdir().context("temporary directory")?;
    let data_path = work.path().join("data");
    let mut data = DataDir::init(&data_path, "bench.mamori.invalid/events")?;
    let token = data.store_mut().create_token(
        &Owner::Agent("bench-agent".into()),
        Scope::Ingest,
        None,
        crate::cases::now_us(),
    )?;
    drop(data);
    let exe = std::env::current_exe().context("the running binary")?;
    let mut server = Command::new(&exe)
        .arg("--data-dir")
        .arg(&data_path)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting mamori serve")?;
    let mut line = String::new();
    BufReader::new(server.stdout.take().context("server stdout")?).read_line(&mut line)?;
    let server = Reaped(server);
    let url = line
        .trim()
        .strip_prefix("serving ")
        .and_then(|rest| rest.strip_suffix("/tlog/events/checkpoint"))
        .with_context(|| format!("unexpected serve output {line:?}"))?
        .to_string();

    let watched = work.path().join("home");
    std::fs::create_dir_all(&watched)?;
    let policy = work.path().join("policy.toml");
    std::fs::write(&policy, super::policy::EXAMPLE_POLICY)?;
    let token_file = work.path().join("token");
    std::fs::write(&token_file, &token)?;
    let mut agent = Command::new(&exe)
        .args(["agent", "--server", &url])
        .arg("--token-file")
        .arg(&token_file)
        .arg("--state")
        .arg(work.path().join("agent"))
        .arg("--watch")
        .arg(&watched)
        .arg("--policy")
        .arg(&policy)
        .arg("--sysfs")
        .arg(work.path().join("sys"))
        .arg("--justify-socket")
        .arg(work.path().join("justify.sock"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting mamori agent")?;
    let mut line = String::new();
    BufReader::new(agent.stdout.take().context("agent stdout")?).read_line(&mut line)?;
    let mode = line
        .trim()
        .split_once(": ")
        .map_or(line.trim(), |(_, mode)| mode)
        .to_string();
    let agent = Reaped(agent);
    let pid = agent.0.id();
    // Let the sensor mark its mounts and settle.
    std::thread::sleep(Duration::from_secs(1));

    let cycles_per_second = f64::from(rate) / EVENTS_PER_CYCLE as f64;
    let period = Duration::from_secs_f64(1.0 / cycles_per_second);
    let total = (cycles_per_second * seconds as f64).round() as u64;
    let ticks_before = cpu_ticks(pid)?;
    let started = Instant::now();
    let mut rss_samples = Vec::new();
    let mut next_sample = started;
    let mut buffer = Vec::new();
    for n in 0..total {
        let due = started + period.mul_f64(n as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let path = watched.join(format!("doc-{n}.txt"));
        let mut file = std::fs::File::create(&path)?;
        if n % 10 == 0 {
            writeln!(file, "社外秘 設計資料 {n}")?;
        } else {
            writeln!(file, "meeting notes {n}: nothing classified here")?;
        }
        drop(file);
        buffer.clear();
        std::io::Read::read_to_end(&mut std::fs::File::open(&path)?, &mut buffer)?;
        std::fs::remove_file(&path)?;
        if Instant::now() >= next_sample {
            next_sample += Duration::from_secs(1);
            if let Some(rss) = status_kilobytes(pid, "VmRSS:") {
                rss_samples.push(rss);
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ticks = cpu_ticks(pid)?.saturating_sub(ticks_before);
    let peak = status_kilobytes(pid, "VmHWM:");
    let cpu_percent = ticks as f64 / TICKS_PER_SECOND / elapsed * 100.0;
    drop(agent);
    drop(server);
    let rss_max = rss_samples.iter().copied().fold(0.0f64, f64::max);
    Ok(serde_json::json!({
        "agent_mode": mode,
        "target_events_per_second": rate,
        "file_events": total * EVENTS_PER_CYCLE,
        "events_per_second": round((total * EVENTS_PER_CYCLE) as f64 / elapsed),
        "seconds": round(elapsed),
        "agent_cpu_percent_of_one_core": round(cpu_percent),
        "agent_rss_mib_max_sampled": round(rss_max / 1024.0),
        "agent_rss_mib_peak": peak.map(|kb| round(kb / 1024.0)),
    }))
}
