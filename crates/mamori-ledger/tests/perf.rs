//! Performance figures (ignored by default; run in release):
//!
//! ```text
//! cargo test --release -p mamori-ledger --test perf -- --ignored --nocapture
//! MAMORI_PERF_LEAVES=1000000 cargo test --release -p mamori-ledger --test perf -- --ignored --nocapture
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use mamori_ledger::audit::Auditor;
use mamori_ledger::merkle::{leaf_hash, verify_inclusion};
use mamori_ledger::note::Signer;
use mamori_ledger::{Hash, TileLog, TileReader};

const ORIGIN: &str = "perf.mamori.invalid/log";
const BATCH: usize = 10_000;

/// Cheap distinct entries (SplitMix64), so generation does not dominate the figures.
fn entry(index: u64) -> [u8; 32] {
    let mut state = index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}

#[test]
#[ignore = "performance figures; run in release with --ignored --nocapture"]
fn append_prove_audit() {
    let leaves: u64 = std::env::var("MAMORI_PERF_LEAVES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let dir = tempfile::tempdir_in(std::env::var("MAMORI_PERF_DIR").unwrap_or_else(|_| ".".into()))
        .unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();

    let started = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    for index in 0..leaves {
        batch.push(entry(index));
        if batch.len() == BATCH {
            log.append(&batch).unwrap();
            batch.clear();
        }
    }
    log.append(&batch).unwrap();
    let append_seconds = started.elapsed().as_secs_f64();
    println!(
        "append: {leaves} leaves in batches of {BATCH}: {append_seconds:.2} s ({:.0} leaves/s)",
        leaves as f64 / append_seconds
    );
    let signer = Signer::generate(ORIGIN).unwrap();
    log.sign_checkpoint(&signer).unwrap();
    let root = log.root().unwrap();
    drop(log);

    // Reopen, as a server would, so nothing is warm in the process.
    let log = TileLog::open(dir.path(), ORIGIN).unwrap();
    let probes = 20_000u64;
    let mut state = 42u64;
    let indices: Vec<u64> = (0..probes)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) % leaves
        })
        .collect();
    let prove_with_log = |index| log.inclusion_proof(index, leaves).unwrap();
    let proofs = time_proofs("inclusion_proof", leaves, &indices, prove_with_log);
    for (&index, proof) in indices.iter().zip(&proofs) {
        verify_inclusion(&leaf_hash(&entry(index)), index, leaves, proof, &root).unwrap();
    }
    // The same proofs from the files alone, as a tile server beside the appender makes them
    // (each also reads `state` to check the size is committed).
    let reader = TileReader::new(dir.path());
    let prove_with_reader = |index| reader.inclusion_proof(index, leaves).unwrap();
    let reader_proofs = time_proofs(
        "TileReader::inclusion_proof",
        leaves,
        &indices,
        prove_with_reader,
    );
    assert_eq!(reader_proofs, proofs);
    let started = Instant::now();
    for &index in indices.iter().take(2000) {
        let size1 = index + 1;
        log.consistency_proof(size1, leaves).unwrap();
    }
    println!(
        "consistency_proof to size {leaves}: mean {:.1} µs",
        started.elapsed().as_secs_f64() * 1e6 / 2000.0
    );

    let mut auditor = Auditor::new(dir.path(), &signer.verifier(), ORIGIN).unwrap();
    let started = Instant::now();
    for index in 0..leaves {
        auditor.push(&entry(index)).unwrap();
    }
    let report = auditor.finish().unwrap();
    let audit_seconds = started.elapsed().as_secs_f64();
    println!(
        "audit: {} leaves, {} tiles, {} bundles, {} checkpoints in {audit_seconds:.2} s ({:.0} leaves/s)",
        report.leaves,
        report.tiles_checked,
        report.bundles_checked,
        report.checkpoints_checked,
        leaves as f64 / audit_seconds
    );
}

/// Make one proof per index with `prove`, print the distribution of times, return the proofs.
fn time_proofs(
    label: &str,
    leaves: u64,
    indices: &[u64],
    mut prove: impl FnMut(u64) -> Vec<Hash>,
) -> Vec<Vec<Hash>> {
    let mut micros = Vec::with_capacity(indices.len());
    let mut proofs = Vec::with_capacity(indices.len());
    for &index in indices {
        let started = Instant::now();
        proofs.push(prove(index));
        micros.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let mean = micros.iter().sum::<f64>() / micros.len() as f64;
    micros.sort_by(f64::total_cmp);
    let percentile = |p: f64| micros[((micros.len() - 1) as f64 * p) as usize];
    println!(
        "{label} at size {leaves}: mean {mean:.1} µs, p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs ({} random leaves, first is cold)",
        percentile(0.5),
        percentile(0.99),
        micros[micros.len() - 1],
        indices.len()
    );
    proofs
}
