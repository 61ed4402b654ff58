//! `mamori verify`

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use mamori_store::DataDir;

use crate::progress::Reporter;

pub fn run(data_dir: &Path, key: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let mut data = DataDir::open(data_dir)?;
    let verifier = match key {
        Some(key) => crate::read_verifier(key)?,
        None => data.verifier(),
    };
    let started = Instant::now();
    let mut reporter = Reporter::new("verifying", Some(data.store().size()), "leaves");
    let result = data.verify(&verifier, |leaves| reporter.update(leaves, leaves));
    reporter.finish();
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(report) => {
            if json {
                let mut value = serde_json::to_value(&report)?;
                value["ok"] = true.into();
                value["seconds"] = seconds.into();
                println!("{value}");
            } else {
                println!(
                    "ok: {} leaves ({} purged by retention), {} tiles, {} signed checkpoints (latest at size {}) in {:.2}s ({:.0} leaves/s)",
                    report.leaves,
                    report.purged,
                    report.tiles_checked,
                    report.checkpoints_checked,
                    report.latest_checkpoint_size,
                    seconds,
                    report.leaves as f64 / seconds.max(1e-9),
                );
                println!(
                    "ok: access log: {} records, {} signed checkpoints",
                    report.access_records, report.access_checkpoints_checked
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            if json {
                let value = serde_json::json!({
                    "ok": false,
                    "error": error.to_string(),
                    "leaf_index": error.leaf_index(),
                    "access_record": error.access_record(),
                });
                println!("{value}");
            }
            eprintln!("mamori: verify failed: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}
