//! Parse throughput of the CERT importer on generated `http.csv`-like rows (r4.2 and r6.2
//! style: about 560 bytes a row, 60 content words; r4.2's http.csv averages about 500 bytes). Ignored by default; run with
//! `cargo test -p mamori-ingest --release --test cert_throughput -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::time::Instant;

use mamori_ingest::Source;
use mamori_ingest::cert::{CertFileSource, CertOptions, ContentKey};

const ROWS: usize = 400_000;

/// Keywords sprinkled into the content (one word in 30), so the category lookup finds some.
const KEYWORDS: &[&str] = &[
    "resume",
    "job",
    "wikileaks",
    "dropbox",
    "password",
    "layoff",
];

fn generate(path: &std::path::Path, r6: bool) -> u64 {
    let file = std::fs::File::create(path).unwrap();
    let mut out = std::io::BufWriter::new(file);
    if r6 {
        writeln!(out, "id,date,user,pc,url,activity,content").unwrap();
    } else {
        writeln!(out, "id,date,user,pc,url,content").unwrap();
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for row in 0..ROWS {
        let id = format!(
            "{{V{:03}-S2IR{:02}QU-{:04}HFXJ}}",
            row % 1000,
            row % 97,
            row % 9973
        );
        let minute = row % 60;
        let user = format!("LRR{:04}", next() % 1000);
        let pc = format!("PC-{:04}", next() % 10_000);
        let url = format!(
            "http://site{}.com/The_Human_Centipede/katsuro/arjf{}.htm",
            next() % 5000,
            next() % 1_000_000_000
        );
        let mut content = String::new();
        // Pseudo-random lower-case words of 3 to 10 letters: a large vocabulary, like the
        // real files' (a handful of repeated words would make every lookup look alike).
        for index in 0..60 {
            if index > 0 {
                content.push(' ');
            }
            let draw = next();
            if draw % 30 == 0 {
                content.push_str(KEYWORDS[((draw >> 8) % KEYWORDS.len() as u64) as usize]);
                continue;
            }
            let length = 3 + (draw >> 8) % 8;
            for letter in 0..length {
                content.push(char::from(b'a' + ((draw >> (16 + 3 * letter)) % 26) as u8));
            }
        }
        if r6 {
            writeln!(
                out,
                "{id},01/02/2010 06:{minute:02}:16,{user},{pc},{url},WWW Visit,\"{content}, end.\""
            )
            .unwrap();
        } else {
            writeln!(
                out,
                "{id},01/02/2010 06:{minute:02}:16,{user},{pc},{url},{content}"
            )
            .unwrap();
        }
    }
    out.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

fn measure(r6: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("http.csv");
    let bytes = generate(&path, r6);
    let options = CertOptions::new(ContentKey([9; 32]));
    // Best of three, wall clock and on-CPU time: the machine is shared, and other processes'
    // work only inflates the wall clock.
    let mut best = f64::MAX;
    let mut best_cpu = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let cpu_start = thread_cpu_seconds();
        let mut source = CertFileSource::open(&path, &options).unwrap();
        let mut events = 0usize;
        while let Some(record) = source.next_record() {
            if record.unwrap().is_ok() {
                events += 1;
            }
        }
        assert_eq!(events, ROWS);
        best = best.min(start.elapsed().as_secs_f64());
        if let (Some(end), Some(begin)) = (thread_cpu_seconds(), cpu_start) {
            best_cpu = best_cpu.min(end - begin);
        }
    }
    let style = if r6 { "r6.2" } else { "r4.2" };
    println!(
        "{style} http.csv: {ROWS} rows, {:.1} MB: {:.0} rows/s, {:.0} MB/s wall clock; \
         {:.0} rows/s, {:.0} MB/s of CPU time (best of 3, one thread)",
        bytes as f64 / 1e6,
        ROWS as f64 / best,
        bytes as f64 / 1e6 / best,
        ROWS as f64 / best_cpu,
        bytes as f64 / 1e6 / best_cpu,
    );
}

/// Time this thread has spent on a CPU (Linux `schedstat`), if known.
fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanoseconds: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(nanoseconds / 1e9)
}

#[test]
#[ignore]
fn http_rows_per_second() {
    measure(false);
    measure(true);
}
