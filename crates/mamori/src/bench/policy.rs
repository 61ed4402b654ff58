//! `mamori bench policy`: decisions per second on one core, and each decision's latency
//! (issue 11's targets: ≥ 200,000 decisions/s per core, p99 ≤ 100 µs).
//!
//! The policy is the documented example (`docs/policy.toml`: nine rules over every channel,
//! an allow-list, sanctioned domains, a time window, a simulated rule). The requests are a
//! generated mix an endpoint fleet sends — every channel, about a third of them labelled or
//! with findings, some departing or high-risk persons, allow-listed and unknown devices,
//! sanctioned and unknown domains, times around the clock — built before the clock starts.
//! Throughput is timed over the whole batch; latency per decision, in a second pass.

use std::time::{Duration, Instant};

use mamori_content::detect::FindingKind;
use mamori_event::Level;
use mamori_policy::{Action, Channel, Policy, Request, UsbDevice};

use super::{SplitMix, round};

/// The documented example policy, compiled in so the benchmark needs no files.
pub const EXAMPLE_POLICY: &str = include_str!("../../../../docs/policy.toml");

fn requests(count: usize) -> Vec<Request> {
    let mut random = SplitMix(11);
    let base: jiff::Timestamp = "2026-12-01T00:00:00Z"
        .parse()
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let domains = [
        "box.com",
        "acme.sharepoint.com",
        "drive.google.com",
        "wetransfer.com",
        "files.example.net",
    ];
    let labels = ["社外秘", "極秘", "Confidential", "公開"];
    let departments = ["設計部", "営業部", "人事部", "経理部"];
    (0..count)
        .map(|_| {
            let mut pick = |n: u64| (random.next() % n) as usize;
            let channel = Channel::ALL[pick(Channel::ALL.len() as u64)];
            let mut request = Request {
                channel: Some(channel),
                time: Some(
                    base.checked_add(jiff::SignedDuration::from_secs(pick(7 * 86_400) as i64))
                        .unwrap_or(base),
                ),
                user: format!("U{:05}", pick(5000)),
                host: Some(format!("PC-{:04}", pick(5000))),
                ..Request::default()
            };
            request.object.path = Some(format!("/home/u/doc-{}.docx", pick(1000)));
            request.object.extension = Some("docx".into());
            match pick(6) {
                0 => request.object.labels.push(labels[pick(4)].into()),
                1 => request
                    .object
                    .findings
                    .add(FindingKind::MyNumber, pick(20) as u32 + 1),
                2 => request.object.findings.add(FindingKind::SourceCode, 1),
                _ => {}
            }
            request.person.department = Some(departments[pick(4)].into());
            request.person.departing = pick(20) == 0;
            request.person.risk = Some(Level::ALL[pick(5)]);
            request.person.groups = vec!["all-staff".into()];
            match channel {
                Channel::RemovableMedia => {
                    request.destination.device = Some(if pick(3) == 0 {
                        UsbDevice {
                            vendor: "0951".into(),
                            product: "1666".into(),
                            serial: Some("60A44C3FAE5AB1".into()),
                        }
                    } else {
                        UsbDevice {
                            vendor: "abcd".into(),
                            product: "1234".into(),
                            serial: Some(format!("S{}", pick(100_000))),
                        }
                    });
                }
                Channel::WebUpload | Channel::CloudSync => {
                    request.destination.domain = Some(domains[pick(5)].into());
                }
                Channel::AppLaunch => {
                    request.process = Some(mamori_policy::ProcessFacts {
                        name: Some(["explorer.exe", "chrome", "torbrowser.exe"][pick(3)].into()),
                        path: None,
                        pid: Some(4242),
                    });
                }
                _ => {}
            }
            request
        })
        .collect()
}

pub fn run(decisions: usize) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(decisions > 0, "--decisions must be positive");
    let policy = Policy::from_toml(EXAMPLE_POLICY)?;
    let requests = requests(decisions.min(1_000_000));
    let now = jiff::Timestamp::now();

    // Warm up (caches, branch predictors, the time zone's transitions).
    for request in requests.iter().take(10_000) {
        std::hint::black_box(policy.decide(request, now));
    }

    let mut counts = [0u64; Action::ALL.len()];
    let started = Instant::now();
    for request in requests.iter().cycle().take(decisions) {
        let decision = policy.decide(std::hint::black_box(request), now);
        counts[decision.action as usize] += 1;
    }
    let elapsed = started.elapsed();
    let per_second = decisions as f64 / elapsed.as_secs_f64();

    let mut latencies: Vec<Duration> = Vec::with_capacity(decisions);
    for request in requests.iter().cycle().take(decisions) {
        let start = Instant::now();
        std::hint::black_box(policy.decide(std::hint::black_box(request), now));
        latencies.push(start.elapsed());
    }
    latencies.sort_unstable();
    let micros = |fraction: f64| {
        let index = ((latencies.len() as f64 - 1.0) * fraction).round() as usize;
        latencies
            .get(index)
            .map_or(0.0, |d| round(d.as_secs_f64() * 1e6))
    };

    // With the event each recorded decision becomes (what the agent spools).
    let started = Instant::now();
    let mut recorded = 0u64;
    for request in requests.iter().cycle().take(decisions) {
        let decision = policy.decide(request, now);
        if decision.is_recorded() {
            let mut event =
                mamori_policy::decision_event(&policy, request, &decision, "bench", now);
            event.ensure_nonce();
            std::hint::black_box(event.canonical_json());
            recorded += 1;
        }
    }
    let with_events = decisions as f64 / started.elapsed().as_secs_f64();

    let mut by_action = serde_json::Map::new();
    for action in Action::ALL {
        by_action.insert(action.as_str().into(), counts[action as usize].into());
    }
    Ok(serde_json::json!({
        "policy_rules": policy.rules().len(),
        "decisions": decisions,
        "threads": 1,
        "decisions_per_second": per_second.round(),
        "latency_p50_us": micros(0.50),
        "latency_p99_us": micros(0.99),
        "latency_p999_us": micros(0.999),
        "latency_max_us": micros(1.0),
        "actions": by_action,
        "recorded": recorded,
        "decisions_with_events_per_second": with_events.round(),
    }))
}
