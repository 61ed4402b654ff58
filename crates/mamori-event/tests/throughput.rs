//! Throughput of the import hot path. Ignored by default; run with
//! `cargo test -p mamori-event --release --test throughput -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use mamori_event::{Event, entry_digest};

/// Number of events (`MAMORI_BENCH_EVENTS`, default 200,000).
fn n() -> usize {
    std::env::var("MAMORI_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

/// Typical ~350-byte lines (file copies to USB with process, labels, source and raw).
fn lines() -> Vec<String> {
    (0..n())
        .map(|i| {
            format!(
                r#"{{"time":"2026-01-05T09:{:02}:{:02}.{:03}+09:00","kind":"file.copy","actor":{{"user":"ACM{:04}","host":"PC-{:04}","ip":"10.0.{}.{}","process":{{"name":"explorer.exe","pid":{}}}}},"object":{{"path":"C:/design/engine/part-{}.dwg","size":{},"extension":"dwg","labels":["社外秘"]}},"destination":{{"kind":"removable","name":"KINGSTON DT","external":true}},"outcome":"success","source":{{"name":"ndjson","ref":"{{X1D9-S0ES98JV-{:08}}}"}},"raw":{{"EventID":4663}}}}"#,
                i / 60 % 60,
                i % 60,
                i % 1000,
                i % 5000,
                i % 3000,
                i / 256 % 256,
                i % 256,
                1000 + i % 60000,
                i,
                10_000 + i * 7,
                i
            )
        })
        .collect()
}

#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn import_hot_path() {
    let lines = lines();
    let n = lines.len();
    let avg = lines.iter().map(String::len).sum::<usize>() / lines.len();
    println!("{n} events, average line {avg} bytes");

    let report = |name: &str, f: &mut dyn FnMut(&[u8], &mut Vec<u8>)| {
        let mut out = Vec::with_capacity(1024);
        // Warm-up.
        for l in lines.iter().take(n / 20) {
            out.clear();
            f(l.as_bytes(), &mut out);
        }
        let start = Instant::now();
        for l in &lines {
            out.clear();
            f(l.as_bytes(), &mut out);
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name:<58} {:>9.0} events/s  {:>6.2} µs/event",
            n as f64 / secs,
            secs * 1e6 / n as f64
        );
    };

    report("baseline: serde_json::from_slice::<Value>", &mut |l, _| {
        black_box(serde_json::from_slice::<serde_json::Value>(l).unwrap());
    });
    let canonical = {
        let mut e = Event::from_json(lines[0].as_bytes()).unwrap();
        e.ensure_nonce();
        e.canonical_json()
    };
    report("baseline: 2 x SHA-256 of a canonical event", &mut |_, _| {
        black_box((entry_digest(&canonical), entry_digest(&canonical[1..])));
    });
    report("baseline: ensure_nonce (getrandom)", &mut |_, _| {
        let mut n = [0u8; 16];
        getrandom::fill(&mut n).unwrap();
        black_box(n);
    });
    let parsed: Vec<Event> = lines
        .iter()
        .map(|l| {
            let mut e = Event::from_json(l.as_bytes()).unwrap();
            e.ensure_nonce();
            e
        })
        .collect();
    let mut i = 0;
    report("write_canonical only (pre-parsed event)", &mut |_, out| {
        parsed[i % parsed.len()].write_canonical(out);
        i += 1;
        black_box(&out);
    });
    report("identity only (pre-parsed event)", &mut |_, _| {
        black_box(parsed[i % parsed.len()].identity());
        i += 1;
    });
    report("parse (Event::from_json)", &mut |l, _| {
        black_box(Event::from_json(l).unwrap());
    });
    report("parse + write_canonical", &mut |l, out| {
        Event::from_json(l).unwrap().write_canonical(out);
        black_box(&out);
    });
    report(
        "parse + ensure_nonce + write_canonical + identity + entry_digest",
        &mut |l, out| {
            let mut e = Event::from_json(l).unwrap();
            e.ensure_nonce();
            e.write_canonical(out);
            let identity = e.identity();
            let entry = entry_digest(out);
            black_box((identity, entry));
        },
    );
    report(
        "same, with write_canonical_with_digests (one serialisation, shared prefix hash)",
        &mut |l, out| {
            let mut e = Event::from_json(l).unwrap();
            e.ensure_nonce();
            black_box(e.write_canonical_with_digests(out));
        },
    );
    let mut sample = Event::from_json(lines[0].as_bytes()).unwrap();
    sample.ensure_nonce();
    println!("canonical size {} bytes", sample.canonical_json().len());
}
