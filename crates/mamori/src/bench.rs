//! `mamori bench …`: whole-pipeline throughput figures on this machine.

use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;
use mamori_ledger::TileLog;
use mamori_ledger::merkle::{leaf_hash, verify_inclusion};
use mamori_store::DataDir;

mod agent;
mod http_ingest;
mod mailguard;
mod policy;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Parse + canonicalise + hash + store + ledger append, then `verify`: of `--events`
    /// generated NDJSON events, or (`--source cert DIR`) of a CERT-layout data set.
    Ingest {
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[arg(long, value_enum, default_value_t = IngestSource::Ndjson)]
        source: IngestSource,
        /// The data set directory, with `--source cert`.
        dir: Option<std::path::PathBuf>,
    },
    /// `--events` generated events sent to a real `mamori serve` over loopback HTTP
    /// (`POST /api/v1/events`) in NDJSON batches of `--batch` lines by `--senders` threads;
    /// every batch is sent until acknowledged.
    HttpIngest {
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        #[arg(long, default_value_t = 4)]
        senders: usize,
    },
    /// Sigma rules over EVTX files and/or Mamori NDJSON events: parsing alone, parsing and
    /// evaluation, evaluation alone (one thread and every core), each pass over the input
    /// repeated `--repeat` times.
    Rules {
        /// Rule files or directories.
        #[arg(long = "rules", required = true)]
        rules: Vec<std::path::PathBuf>,
        /// EVTX files or directories.
        #[arg(long = "evtx")]
        evtx: Vec<std::path::PathBuf>,
        /// NDJSON files of Mamori events (e.g. `mamori simulate --format ndjson`).
        #[arg(long = "ndjson")]
        ndjson: Vec<std::path::PathBuf>,
        #[arg(long, default_value_t = 50)]
        repeat: u32,
    },
    /// `mamori analyze` over a simulated organisation (dense profile, NDJSON): simulate and
    /// import into a temporary data directory, then time the real binary's full history pass
    /// and its peak memory, and an incremental run over the last day.
    Analyze {
        #[arg(long, default_value_t = 1000)]
        users: u32,
        /// Days simulated; the default gives about 10 million events with 1000 users (the
        /// dense profile averages about 25 events per person and calendar day).
        #[arg(long, default_value_t = 394)]
        days: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Sigma rule files or directories, passed to `analyze --rules`.
        #[arg(long = "rules")]
        rules: Vec<std::path::PathBuf>,
        /// Prepare the data directory here and keep it; a directory an earlier run prepared
        /// with the same `--users`, `--days` and `--seed` is reused without simulating again.
        #[arg(long)]
        keep: Option<std::path::PathBuf>,
    },
    /// Content inspection over generated plain text (Japanese and English prose with
    /// personal data every few lines): the detectors alone and the whole inspection, one
    /// thread (docs/inspect.md).
    Inspect {
        #[arg(long, default_value_t = 256)]
        megabytes: u64,
    },
    /// The latency the mail guard adds to a passing message: a paced load of `--rate`
    /// messages/s of `--kilobytes` each for `--seconds`, first straight to a discarding next
    /// hop, then through the relay and the real guard (docs/mailguard.md).
    Mailguard {
        #[arg(long, default_value_t = 500)]
        rate: u32,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 4)]
        clients: usize,
        #[arg(long, default_value_t = 100)]
        kilobytes: usize,
    },
    /// The endpoint agent's CPU and memory at a steady file load: a real `serve` and `agent`
    /// on temporary directories, files written and read back in the watched directory at
    /// `--rate` file events/s for `--seconds` (docs/agent.md).
    Agent {
        #[arg(long, default_value_t = 200)]
        rate: u32,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Policy decisions on one core over a generated mix of requests against the example
    /// policy (docs/policy.toml): decisions per second, latency percentiles, and the rate
    /// with each recorded decision turned into its ledger event (docs/policy.md).
    Policy {
        #[arg(long, default_value_t = 2_000_000)]
        decisions: usize,
    },
    /// Inclusion proofs from the on-disk tiles of a log of `--leaves` entries, and the audit rate.
    Proofs {
        #[arg(long, default_value_t = 10_000_000)]
        leaves: u64,
        #[arg(long, default_value_t = 20_000)]
        proofs: u64,
    },
}

/// What `bench ingest` imports.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum IngestSource {
    Ndjson,
    Cert,
}

pub fn run(command: BenchCommand, json: bool) -> anyhow::Result<ExitCode> {
    let figures = match command {
        BenchCommand::Ingest {
            source: IngestSource::Ndjson,
            events,
            ..
        } => ingest(events)?,
        BenchCommand::Ingest {
            source: IngestSource::Cert,
            dir,
            ..
        } => {
            let dir = dir.ok_or_else(|| {
                crate::BadInput("--source cert needs the data set directory".into())
            })?;
            ingest_cert(&dir)?
        }
        BenchCommand::Proofs { leaves, proofs } => proofs_bench(leaves, proofs)?,
        BenchCommand::Inspect { megabytes } => inspect_bench(megabytes)?,
        BenchCommand::Policy { decisions } => policy::run(decisions)?,
        BenchCommand::Agent { rate, seconds } => agent::run(rate, seconds)?,
        BenchCommand::Mailguard {
            rate,
            seconds,
            clients,
            kilobytes,
        } => mailguard::run(rate, seconds, clients, kilobytes)?,
        BenchCommand::HttpIngest {
            events,
            batch,
            senders,
        } => http_ingest::run(events, batch, senders)?,
        BenchCommand::Analyze {
            users,
            days,
            seed,
            rules,
            keep,
        } => {
            let config = mamori_sim::Config {
                format: mamori_sim::Format::Ndjson,
                profile: mamori_sim::Profile::Dense,
                seed,
                users,
                days,
                ..mamori_sim::Config::default()
            };
            analyze_bench(&config, &rules, keep.as_deref())?
        }
        BenchCommand::Rules {
            rules,
            evtx,
            ndjson,
            repeat,
        } => crate::rules::bench(&rules, &evtx, &ndjson, repeat)?,
    };
    if json {
        println!("{figures}");
    } else if let Some(map) = figures.as_object() {
        for (name, value) in map {
            println!("{name}: {value}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The `fraction` percentile of sorted latencies, in milliseconds (0 when there are none).
fn percentile_ms(sorted: &[std::time::Duration], fraction: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted
        .get(index)
        .map_or(0.0, |d| round(d.as_secs_f64() * 1000.0))
}

/// `bench inspect`: the whole detector set over `megabytes` of generated plain text on one
/// thread, for two kinds of document: office prose (Japanese and English paragraphs, a
/// paragraph with personal data or a label in ten) and a personnel list (every line holds a
/// My Number, a phone number and an address: the worst case, a finding every 40 bytes). For
/// each: the detectors alone, and the whole inspection (decoding, extraction, detection).
fn inspect_bench(megabytes: u64) -> anyhow::Result<serde_json::Value> {
    const PROSE: &[&str] = &[
        "本日の会議では、来期の販売計画と設計部の人員配置について議論した。資料は共有フォルダに保存済みです。\n",
        "The quarterly review covered revenue of 12,345,678 yen, a 4.5% increase, and the new supplier contract.\n",
        "新製品の試作は予定どおり進んでおり、評価結果は来週の定例会で共有する。課題は量産時の歩留まりである。\n",
        "Please send the revised drawings by Friday; the customer asked for the tolerance table in the appendix.\n",
        "出張旅費の精算は月末までに申請してください。領収書の原本は経理部に提出をお願いします。\n",
        "注文番号 202611300001 の出荷は 2026-12-01 の予定です。納品書は別途お送りします。\n",
        "The migration plan moves three services to the new cluster; rollback takes about twenty minutes.\n",
        "来月の研修は第二会議室で行う。参加者は事前に資料を読み、質問をまとめておくこと。\n",
        "お問い合わせは taro.yamada@example.co.jp まで。〒100-0001 東京都千代田区千代田1-1 社外秘\n",
        "Budget figures for FY2026 are attached; the headcount line assumes two hires in Q3 and one in Q4.\n",
    ];
    const LIST: &[&str] = &[
        "氏名\t個人番号\t電話番号\t住所\n",
        "山田 太郎\t1234 5678 9018\t03-1234-5678\t〒100-0001 東京都千代田区\n",
        "佐藤 花子\t1234 5678 9018\t090-1234-5678\t〒530-0001 大阪府大阪市\n",
    ];
    let prose = filled(PROSE, megabytes, 0);
    let list = filled(LIST, megabytes, 1);
    Ok(serde_json::json!({
        "prose": inspect_figures(&prose)?,
        "personnel_list": inspect_figures(&list)?,
        "peak_rss_megabytes": peak_rss_megabytes(),
    }))
}

/// `megabytes` of text: `paragraphs` repeated in order, from `first` on after the first pass
/// (a header line is written once).
fn filled(paragraphs: &[&str], megabytes: u64, first: usize) -> String {
    let target = usize::try_from(megabytes.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    let mut text = String::with_capacity(target + 256);
    let mut n = 0;
    while text.len() < target {
        let index = if n < paragraphs.len() {
            n
        } else {
            first + (n - first) % (paragraphs.len() - first)
        };
        text.push_str(paragraphs[index]);
        n += 1;
    }
    text
}

/// The median of three runs of the detectors alone and of the whole inspection over `text`,
/// findings counted as they come (as `mamori inspect` and `import files` use them).
fn inspect_figures(text: &str) -> anyhow::Result<serde_json::Value> {
    use mamori_content::detect::{Detector, DetectorConfig};
    use mamori_content::extract::Limits;
    use mamori_content::inspect::{DEFAULT_MIN_CONFIDENCE, Inspector};
    let bytes = text.len() as f64;
    fn median(mut run: impl FnMut() -> u64) -> (u64, f64) {
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..3 {
            let started = Instant::now();
            count = run();
            times.push(started.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        (count, times.get(1).copied().unwrap_or(f64::NAN))
    }
    let detector = Detector::new(&DetectorConfig::default());
    let (findings, scan_seconds) = median(|| {
        let mut n = 0;
        detector.scan_each(text, |_| n += 1);
        n
    });
    let limits = Limits {
        max_input_bytes: text.len() as u64 + 1,
        max_text_chars: text.len() + 1,
        ..Limits::default()
    };
    let inspector = Inspector::new(&DetectorConfig::default(), limits, DEFAULT_MIN_CONFIDENCE);
    let mut problems = 0;
    let (inspect_findings, inspect_seconds) = median(|| {
        let mut n = 0;
        problems = inspector
            .inspect_each("bench.txt", text.as_bytes(), |_, _| n += 1)
            .problems
            .len();
        n
    });
    Ok(serde_json::json!({
        "megabytes": round(bytes / 1e6),
        "findings": findings,
        "scan_megabytes_per_second": round(bytes / scan_seconds / 1e6),
        "inspect_megabytes_per_second": round(bytes / inspect_seconds / 1e6),
        "inspect_findings": inspect_findings,
        "problems": problems,
    }))
}

fn ingest(events: u64) -> anyhow::Result<serde_json::Value> {
    let work = tempfile::tempdir().context("temporary directory")?;
    let input = work.path().join("events.ndjson");
    let mut writer = BufWriter::new(std::fs::File::create(&input)?);
    let mut generator = SyntheticEvents::new(0x6d61_6d6f_7269);
    for _ in 0..events {
        writer.write_all(generator.next_line().as_bytes())?;
    }
    // Flushed to disk before timing: otherwise the import's first `syncfs` would also write
    // out the input the benchmark just generated.
    writer.into_inner()?.sync_all()?;
    let bytes = std::fs::metadata(&input)?.len();

    let data_path = work.path().join("data");
    let mut data = DataDir::init(&data_path, "bench.mamori.invalid/events")?;
    let source = crate::import::open_ndjson(&input)?;
    let started = Instant::now();
    let summary = mamori_ingest::import(&mut data, source, &mut |_| {})?;
    let ingest_seconds = started.elapsed().as_secs_f64();
    let ingest_peak_rss = peak_rss_megabytes();
    anyhow::ensure!(
        summary.imported == events,
        "imported {} of {events} events",
        summary.imported
    );

    let started = Instant::now();
    let verifier = data.verifier();
    let report = data.verify(&verifier, |_| {})?;
    let verify_seconds = started.elapsed().as_secs_f64();
    Ok(serde_json::json!({
        "events": events,
        "input_bytes": bytes,
        "ingest_seconds": round(ingest_seconds),
        "ingest_events_per_second": round(events as f64 / ingest_seconds),
        "ingest_megabytes_per_second": round(bytes as f64 / ingest_seconds / 1e6),
        "verify_seconds": round(verify_seconds),
        "verify_leaves_per_second": round(report.leaves as f64 / verify_seconds),
        "ingest_peak_rss_megabytes": ingest_peak_rss,
        // verify maps the store into memory (page cache, reclaimable), so this grows with it.
        "peak_rss_megabytes_after_verify": peak_rss_megabytes(),
    }))
}

/// Imports a CERT data set into a temporary data directory as `import cert` does (LDAP,
/// then every activity file), then verifies it.
fn ingest_cert(dir: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    use mamori_ingest::cert::{self, CertFileSource, CertOptions, ContentKey};
    let layout = cert::discover(dir).map_err(|e| crate::BadInput(e.to_string()))?;
    let work = tempfile::tempdir().context("temporary directory")?;
    let mut data = DataDir::init(&work.path().join("data"), "bench.mamori.invalid/events")?;
    let started = Instant::now();
    let mut persons = 0;
    if let Some(ldap) = &layout.ldap_dir {
        let history = cert::read_ldap(ldap)?;
        persons = data.store_mut().store_people(&history.records)?.added;
    }
    let options = CertOptions::new(ContentKey(data.content_key()?));
    let (mut rows, mut bytes, mut quarantined) = (0u64, 0u64, 0u64);
    let mut files = Vec::new();
    for file in &layout.files {
        let file_started = Instant::now();
        let source = CertFileSource::open(&file.path, &options)?;
        let summary = mamori_ingest::import(&mut data, Box::new(source), &mut |_| {})?;
        rows += summary.records;
        bytes += file.bytes;
        quarantined += summary.quarantined;
        files.push(serde_json::json!({
            "file": file.path.file_name().map(|n| n.to_string_lossy().into_owned()),
            "rows": summary.records,
            "rows_per_second": round(summary.records as f64 / file_started.elapsed().as_secs_f64()),
        }));
    }
    let seconds = started.elapsed().as_secs_f64();
    let ingest_peak_rss = peak_rss_megabytes();
    let started = Instant::now();
    let verifier = data.verifier();
    let report = data.verify(&verifier, |_| {})?;
    let verify_seconds = started.elapsed().as_secs_f64();
    Ok(serde_json::json!({
        "source": "cert",
        "dir": dir,
        "persons": persons,
        "rows": rows,
        "quarantined": quarantined,
        "input_bytes": bytes,
        "ingest_seconds": round(seconds),
        "ingest_rows_per_second": round(rows as f64 / seconds),
        "ingest_megabytes_per_second": round(bytes as f64 / seconds / 1e6),
        "ingest_peak_rss_megabytes": ingest_peak_rss,
        "files": files,
        "verify_leaves_per_second": round(report.leaves as f64 / verify_seconds),
    }))
}

fn proofs_bench(leaves: u64, proofs: u64) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        leaves > 0 && proofs > 0,
        "--leaves and --proofs must be positive"
    );
    let work = tempfile::tempdir().context("temporary directory")?;
    let origin = "bench.mamori.invalid/proofs";
    let mut log = TileLog::open(work.path(), origin)?;
    log.defer_durability(); // as the data directory does; the checkpoint below syncs
    let mut random = SplitMix(42);
    let started = Instant::now();
    let mut batch = Vec::with_capacity(65_536);
    for _ in 0..leaves {
        batch.push(random.hash());
        if batch.len() == batch.capacity() {
            log.append(&batch)?;
            batch.clear();
        }
    }
    log.append(&batch)?;
    let append_seconds = started.elapsed().as_secs_f64();
    let root = log.root()?;

    let indices: Vec<u64> = (0..proofs).map(|_| random.next() % leaves).collect();
    let mut micros = Vec::with_capacity(indices.len());
    let mut generated = Vec::with_capacity(indices.len());
    for &index in &indices {
        let started = Instant::now();
        let proof = log.inclusion_proof(index, leaves)?;
        micros.push(started.elapsed().as_secs_f64() * 1e6);
        generated.push(proof);
    }
    for (&index, proof) in indices.iter().zip(&generated) {
        let entry = log.entry(index)?;
        verify_inclusion(&leaf_hash(&entry), index, leaves, proof, &root)
            .with_context(|| format!("proof for leaf {index} does not verify"))?;
    }
    micros.sort_by(f64::total_cmp);
    let percentile = |p: f64| micros[((micros.len() - 1) as f64 * p) as usize];
    let mean = micros.iter().sum::<f64>() / micros.len() as f64;

    let signer = mamori_ledger::note::Signer::generate(origin)?;
    log.sign_checkpoint(&signer)?;
    let mut auditor = mamori_ledger::audit::Auditor::new(work.path(), &signer.verifier(), origin)?;
    // The same generator from the same seed yields the same entries, without holding them.
    let mut entries = SplitMix(42);
    let started = Instant::now();
    for _ in 0..leaves {
        auditor.push(&entries.hash())?;
    }
    auditor.finish()?;
    let audit_seconds = started.elapsed().as_secs_f64();
    Ok(serde_json::json!({
        "leaves": leaves,
        "append_seconds": round(append_seconds),
        "append_leaves_per_second": round(leaves as f64 / append_seconds),
        "proofs": proofs,
        "inclusion_proof_mean_us": round(mean),
        "inclusion_proof_p50_us": round(percentile(0.50)),
        "inclusion_proof_p99_us": round(percentile(0.99)),
        "audit_leaves_per_second": round(leaves as f64 / audit_seconds),
    }))
}

/// The file in a `--keep` directory that says what was prepared there (written last, so a
/// directory without it was not completely prepared).
const PREPARED_FILE: &str = "bench-analyze.json";

fn analyze_bench(
    config: &mamori_sim::Config,
    rules: &[std::path::PathBuf],
    keep: Option<&std::path::Path>,
) -> anyhow::Result<serde_json::Value> {
    let work = tempfile::tempdir().context("temporary directory")?;
    let data_path = keep.map_or_else(|| work.path().join("data"), std::path::Path::to_path_buf);
    let prepared_as = serde_json::json!({
        "users": config.users, "days": config.days, "seed": config.seed, "profile": "dense",
    });
    let started = Instant::now();
    let events = match read_prepared(&data_path)? {
        Some((as_before, events)) if as_before == prepared_as => events,
        Some(_) => {
            return Err(crate::BadInput(format!(
                "{}: prepared with other options ({PREPARED_FILE}); use another --keep directory",
                data_path.display()
            ))
            .into());
        }
        None if data_path.exists() => {
            return Err(crate::BadInput(format!(
                "{}: exists but was not prepared by `bench analyze`; use another --keep directory",
                data_path.display()
            ))
            .into());
        }
        None => prepare(config, work.path(), &data_path, &prepared_as)?,
    };
    let prepare_seconds = started.elapsed().as_secs_f64();

    let mut full = vec!["analyze".to_string(), "--json".to_string()];
    for rules in rules {
        full.push("--rules".into());
        full.push(rules.display().to_string());
    }
    let analyzed = run_child(&data_path, &full)?;
    // The last simulated day, from its start in UTC (the simulator writes UTC times).
    let last_day = config
        .start
        .checked_add(jiff::Span::new().days(i64::from(config.days.saturating_sub(1))))?;
    let mut incremental = full.clone();
    incremental.extend(["--since".to_string(), last_day.to_string()]);
    let daily = run_child(&data_path, &incremental)?;
    let analyzed_events = analyzed.summary["events"].as_u64().unwrap_or(0);
    anyhow::ensure!(
        analyzed_events == events,
        "analyze read {analyzed_events} of {events} events"
    );
    Ok(serde_json::json!({
        "users": config.users,
        "days": config.days,
        "events": events,
        "rules": !rules.is_empty(),
        "prepare_seconds": round(prepare_seconds),
        "analyze_seconds": round(analyzed.seconds),
        "analyze_events_per_second": round(events as f64 / analyzed.seconds),
        "analyze_reported_seconds": analyzed.summary["seconds"],
        "analyze_peak_rss_megabytes": analyzed.peak_rss_megabytes,
        "incremental_since": last_day.to_string(),
        "incremental_seconds": round(daily.seconds),
        "incremental_events": daily.summary["events"],
        "incremental_persons": daily.summary["persons"],
        "incremental_peak_rss_megabytes": daily.peak_rss_megabytes,
    }))
}

/// What an earlier run prepared in `data_path`, and its number of events.
fn read_prepared(data_path: &std::path::Path) -> anyhow::Result<Option<(serde_json::Value, u64)>> {
    let file = data_path.join(PREPARED_FILE);
    if !file.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&file).with_context(|| file.display().to_string())?;
    let mut value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| file.display().to_string())?;
    let events = value
        .as_object_mut()
        .and_then(|o| o.remove("events"))
        .and_then(|e| e.as_u64())
        .with_context(|| format!("{}: no event count", file.display()))?;
    Ok(Some((value, events)))
}

/// Simulates into `work`, imports HR and events into a new data directory at `data_path` as
/// `mamori import hr` / `import ndjson` do, and records what was prepared; the event count.
fn prepare(
    config: &mamori_sim::Config,
    work: &std::path::Path,
    data_path: &std::path::Path,
    prepared_as: &serde_json::Value,
) -> anyhow::Result<u64> {
    let simulated = work.join("simulated");
    mamori_sim::simulate(config, &simulated)?;
    let mut data = DataDir::init(data_path, "bench.mamori.invalid/events")?;
    let (_, rejected) = crate::import::store_hr(&mut data, &simulated.join("hr.csv"))?;
    anyhow::ensure!(rejected.is_empty(), "{} HR rows rejected", rejected.len());
    let source = crate::import::open_ndjson(&simulated.join("events.ndjson"))?;
    let summary = mamori_ingest::import(&mut data, source, &mut |_| {})?;
    anyhow::ensure!(
        summary.quarantined == 0,
        "{} events quarantined",
        summary.quarantined
    );
    // The simulated files are only input: gone before timing, so the page cache holds the
    // store rather than them.
    std::fs::remove_dir_all(&simulated)?;
    let mut prepared = prepared_as.clone();
    prepared["events"] = summary.imported.into();
    std::fs::write(data_path.join(PREPARED_FILE), prepared.to_string())?;
    Ok(summary.imported)
}

/// One run of this binary as a child process.
struct ChildRun {
    /// Wall time from spawn to exit.
    seconds: f64,
    /// The child's highest VmHWM seen (sampled while it runs).
    peak_rss_megabytes: Option<f64>,
    /// Its `--json` summary.
    summary: serde_json::Value,
}

/// How often the child's peak memory is read. VmHWM is a high-water mark, so sampling only
/// misses growth in the child's last interval before it exits.
const RSS_SAMPLE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);

/// Runs `mamori --data-dir DATA ARGS…` (the binary running now: the code being measured, not
/// whatever `mamori` is on the path) and follows its peak memory in /proc while it runs.
/// Without unsafe code there is no `wait4`, and a process's /proc entry loses its memory
/// figures the moment it exits, so the peak is sampled.
fn run_child(data_path: &std::path::Path, args: &[String]) -> anyhow::Result<ChildRun> {
    use std::io::Read;
    let binary = std::env::current_exe().context("the running binary")?;
    let started = Instant::now();
    let mut child = std::process::Command::new(&binary)
        .arg("--data-dir")
        .arg(data_path)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("running {}", binary.display()))?;
    let status_file = format!("/proc/{}/status", child.id());
    // Read on another thread, so a chatty child can never block on a full pipe.
    let mut stdout = child.stdout.take().context("child stdout")?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let mut peak_kilobytes: Option<f64> = None;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if let Some(kilobytes) = std::fs::read_to_string(&status_file)
            .ok()
            .as_deref()
            .and_then(vm_hwm_kilobytes)
        {
            peak_kilobytes = Some(peak_kilobytes.map_or(kilobytes, |p| p.max(kilobytes)));
        }
        std::thread::sleep(RSS_SAMPLE_INTERVAL);
    };
    let seconds = started.elapsed().as_secs_f64();
    let output = match reader.join() {
        Ok(output) => output?,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    anyhow::ensure!(
        status.success(),
        "mamori {} failed: {status}",
        args.join(" ")
    );
    let summary = serde_json::from_str(output.trim())
        .with_context(|| format!("mamori {}: unexpected output {output:?}", args.join(" ")))?;
    Ok(ChildRun {
        seconds,
        peak_rss_megabytes: peak_kilobytes.map(|k| round(k / 1024.0)),
        summary,
    })
}

/// The `VmHWM:` figure (kilobytes) of a /proc status file.
fn vm_hwm_kilobytes(status: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub(crate) fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// The process's peak resident memory, from /proc (Linux); `null` elsewhere.
fn peak_rss_megabytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    Some(round(vm_hwm_kilobytes(&status)? / 1024.0))
}

/// A small deterministic generator (SplitMix64); benchmarks need repeatable input, not crypto.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn hash(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        out
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Plausible office activity: a few hundred people, their PCs, files, sites and mail.
struct SyntheticEvents {
    random: SplitMix,
    second: u64,
}

impl SyntheticEvents {
    fn new(seed: u64) -> Self {
        SyntheticEvents {
            random: SplitMix(seed),
            second: 1_767_225_600, // 2026-01-01T00:00:00Z
        }
    }

    fn next_line(&mut self) -> String {
        self.second += 1 + self.random.below(2);
        let time = jiff::Timestamp::from_second(self.second as i64)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let user = self.random.below(300);
        let host = format!("PC-{:04}", 1000 + user);
        let file = self.random.below(5000);
        let size = 1000 + self.random.below(5_000_000);
        let body = match self.random.below(6) {
            0 => format!(
                r#""kind":"logon","actor":{{"user":"ACM{user:04}","host":"{host}","ip":"10.1.{}.{}"}},"outcome":"success","raw":{{"LogonType":2}}"#,
                user / 250,
                user % 250
            ),
            1 => format!(
                r#""kind":"file.copy","actor":{{"user":"ACM{user:04}","host":"{host}","process":{{"name":"explorer.exe","pid":{}}}}},"object":{{"path":"C:/Users/ACM{user:04}/Documents/design/drawing-{file}.dwg","size":{size},"extension":"dwg","labels":["社外秘"]}},"destination":{{"kind":"removable","name":"KINGSTON DT","device_id":"USB\\VID_0951&PID_1666\\{file:08}","external":true}},"outcome":"success""#,
                self.random.below(60_000)
            ),
            2 => format!(
                r#""kind":"http.upload","actor":{{"user":"ACM{user:04}","host":"{host}"}},"object":{{"url":"https://storage.example.com/upload/{file}","size":{size}}},"destination":{{"kind":"cloud","domain":"storage.example.com","external":true}},"outcome":"success""#
            ),
            3 => format!(
                r#""kind":"email.send","actor":{{"user":"ACM{user:04}","host":"{host}"}},"object":{{"subject":"見積書 {file}","size":{size}}},"destination":{{"kind":"email","domain":"partner.example.co.jp","external":true,"recipients":["sales{file}@partner.example.co.jp"]}},"outcome":"success""#
            ),
            4 => format!(
                r#""kind":"print","actor":{{"user":"ACM{user:04}","host":"{host}"}},"object":{{"name":"report-{file}.pdf","size":{size}}},"destination":{{"kind":"printer","name":"PRN-3F-01"}},"outcome":"success","raw":{{"pages":{}}}"#,
                1 + self.random.below(40)
            ),
            _ => format!(
                r#""kind":"file.open","actor":{{"user":"ACM{user:04}","host":"{host}"}},"object":{{"path":"//fileserver/share/projects/p{}/spec-{file}.docx","size":{size}}},"destination":{{"kind":"network_share","name":"fileserver"}},"outcome":"success""#,
                file % 40
            ),
        };
        format!("{{\"time\":\"{time}\",{body}}}\n")
    }
}
