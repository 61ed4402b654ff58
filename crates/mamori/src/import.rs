//! `mamori import …`

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use mamori_ingest::{NdjsonSource, Source, Summary};
use mamori_store::DataDir;

use crate::BadInput;
use crate::progress::Reporter;

pub fn ndjson(data_dir: &Path, paths: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let mut data = DataDir::open(data_dir).map_err(|e| BadInput(e.to_string()))?;
    let mut any_quarantined = false;
    for path in paths {
        let source = open_ndjson(path)?;
        let summary = import_with_progress(&mut data, source)?;
        any_quarantined |= summary.quarantined > 0;
        print_summary(path, &summary, json)?;
    }
    // Bad records are bad input: the rest was imported, but the caller should look.
    Ok(if any_quarantined {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn open_ndjson(path: &Path) -> anyhow::Result<Box<dyn Source>> {
    const BUFFER: usize = 256 * 1024;
    if path == Path::new("-") {
        let stdin: Box<dyn Read + Send> = Box::new(std::io::stdin());
        return Ok(Box::new(NdjsonSource::new(
            BufReader::with_capacity(BUFFER, stdin),
            "-",
            None,
        )));
    }
    let file = File::open(path).map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
    let total = file.metadata().ok().map(|m| m.len());
    Ok(Box::new(NdjsonSource::new(
        BufReader::with_capacity(BUFFER, file),
        &path.display().to_string(),
        total,
    )))
}

pub fn import_with_progress(
    data: &mut DataDir,
    source: Box<dyn Source>,
) -> anyhow::Result<Summary> {
    let mut reporter = Reporter::new("importing", source.total_bytes(), "bytes");
    let summary = mamori_ingest::import(data, source, &mut |p| {
        reporter.update(p.bytes_read, p.records);
    })
    .context("import stopped")?;
    reporter.finish();
    Ok(summary)
}

fn print_summary(path: &Path, summary: &Summary, json: bool) -> anyhow::Result<()> {
    if json {
        let mut value = serde_json::to_value(summary)?;
        value["input"] = path.display().to_string().into();
        println!("{value}");
        return Ok(());
    }
    let seconds = summary.seconds.max(1e-9);
    println!(
        "{}: {} records: {} imported, {} duplicates, {} quarantined ({:.0} records/s, {:.1} MB/s)",
        path.display(),
        summary.records,
        summary.imported,
        summary.duplicates,
        summary.quarantined,
        summary.records as f64 / seconds,
        summary.bytes as f64 / seconds / 1e6,
    );
    if let Some(file) = &summary.quarantine_file {
        println!("quarantined records with reasons: {}", file.display());
    }
    println!("ledger size {}; signed checkpoint:", summary.tree_size);
    print!("{}", summary.checkpoint);
    Ok(())
}
