//! `mamori import …`

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use mamori_event::AccountSource;
use mamori_ingest::accounts::AccountCsvReader;
use mamori_ingest::cert::{self, CertFileSource, CertOptions, ContentKey};
use mamori_ingest::hr::HrCsvReader;
use mamori_ingest::{EvtxSource, NdjsonSource, Quarantine, ResumePoint, Source, Summary};
use mamori_store::{DataDir, InventorySnapshot};

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

/// `import evtx PATH...`: each `.evtx` file, directories searched recursively (in name order).
pub fn evtx(data_dir: &Path, paths: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            find_evtx_files(path, &mut files)
                .map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
        } else {
            files.push(path.clone());
        }
    }
    if files.is_empty() {
        return Err(BadInput("no .evtx files found".into()).into());
    }
    let mut data = DataDir::open(data_dir).map_err(|e| BadInput(e.to_string()))?;
    let mut any_quarantined = false;
    for path in &files {
        let source =
            EvtxSource::open(path).map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
        let summary = import_with_progress(&mut data, Box::new(source))?;
        any_quarantined |= summary.quarantined > 0;
        print_summary(path, &summary, json)?;
    }
    Ok(if any_quarantined {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// `import files PATH… --user ACCOUNT`: each file inspected and imported as one event.
pub fn files(
    data_dir: &Path,
    paths: &[PathBuf],
    how: &crate::inspect::FileEvents<'_>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for path in paths {
        crate::inspect::collect(path, &mut files)
            .map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
    }
    if files.is_empty() {
        return Err(BadInput("no files found".into()).into());
    }
    let mut data = DataDir::open(data_dir).map_err(|e| BadInput(e.to_string()))?;
    let key = mamori_content::ContentKey(data.content_key()?);
    let batch = crate::inspect::file_events(&files, how, &key)?;
    for problem in &batch.problems {
        eprintln!("mamori: {problem}");
    }
    let source = NdjsonSource::new(std::io::Cursor::new(batch.lines), "files", None);
    let summary = import_with_progress(&mut data, Box::new(source))?;
    print_summary(Path::new("files"), &summary, json)?;
    // Files left out are bad input: the rest was imported, but the caller should look.
    Ok(if summary.quarantined > 0 || batch.skipped > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn find_evtx_files(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        entries.push(entry?.path());
    }
    entries.sort();
    for path in entries {
        if path.is_dir() {
            find_evtx_files(&path, files)?;
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("evtx"))
        {
            files.push(path);
        }
    }
    Ok(())
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

/// `import cert DIR`: the LDAP snapshots (→ persons), psychometric scores, then each activity
/// file, resuming a file where an earlier, interrupted import of the same file stopped.
pub fn cert(
    data_dir: &Path,
    dir: &Path,
    options: &CertImportOptions,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let layout = cert::discover(dir).map_err(|e| BadInput(e.to_string()))?;
    let mut data = DataDir::open(data_dir).map_err(|e| BadInput(e.to_string()))?;
    let mut quarantined = 0u64;
    if let Some(ldap_dir) = &layout.ldap_dir {
        let history = cert::read_ldap(ldap_dir).map_err(|e| BadInput(e.to_string()))?;
        let outcome = data.store_mut().store_people(&history.records)?;
        let file = quarantine_all(&data, "cert-ldap", &history.rejected)?;
        quarantined += history.rejected.len() as u64;
        let persons: std::collections::BTreeSet<&str> = history
            .records
            .iter()
            .map(|r| r.person_id.as_str())
            .collect();
        report(
            json,
            || {
                serde_json::json!({
                    "input": ldap_dir, "months": history.months.len(), "persons": persons.len(),
                    "versions": outcome, "quarantined": history.rejected.len(), "quarantine_file": file,
                })
            },
            || {
                format!(
                    "{}: {} monthly snapshots, {} persons, {} versions added, {} unchanged, {} replaced, {} quarantined",
                    ldap_dir.display(),
                    history.months.len(),
                    persons.len(),
                    outcome.added,
                    outcome.unchanged,
                    outcome.replaced,
                    history.rejected.len(),
                )
            },
        );
    }
    if let Some(path) = &layout.psychometric {
        let table = cert::read_psychometric(path).map_err(|e| BadInput(e.to_string()))?;
        let scores: Vec<(String, [u16; 5])> = table
            .scores
            .iter()
            .map(|p| (p.user_id.clone(), [p.o, p.c, p.e, p.a, p.n]))
            .collect();
        data.store_mut().store_psychometric(&scores)?;
        quarantine_all(&data, "cert-psychometric", &table.rejected)?;
        quarantined += table.rejected.len() as u64;
        report(
            json,
            || serde_json::json!({"input": path, "persons": scores.len(), "quarantined": table.rejected.len()}),
            || {
                format!(
                    "{}: {} persons' scores, {} quarantined",
                    path.display(),
                    scores.len(),
                    table.rejected.len()
                )
            },
        );
    }
    let mut cert_options = CertOptions::new(ContentKey(data.content_key()?));
    cert_options.utc_offset = options.utc_offset;
    if !options.organisation_domains.is_empty() {
        cert_options.organisation_domains = options.organisation_domains.clone();
    }
    for file in &layout.files {
        let key = resume_key(&file.path)?;
        let resume = data
            .store()
            .meta(&key)?
            .and_then(|value| parse_resume_point(&value));
        let source = match resume {
            Some(point) => {
                tracing::info!(file = %file.path.display(), offset = point.offset, "resuming");
                CertFileSource::open_at(&file.path, point, &cert_options)
            }
            None => CertFileSource::open(&file.path, &cert_options),
        }
        .map_err(|e| BadInput(e.to_string()))?;
        let mut reporter = Reporter::new("importing", Some(file.bytes), "bytes");
        let summary =
            mamori_ingest::import_resumable(&mut data, Box::new(source), Some(&key), &mut |p| {
                reporter.update(p.bytes_read, p.records)
            })
            .context("import stopped")?;
        reporter.finish();
        quarantined += summary.quarantined;
        print_summary(&file.path, &summary, json)?;
    }
    Ok(if quarantined > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Options of `import cert`.
pub struct CertImportOptions {
    /// The data set's times are local; this offset turns them into UTC.
    pub utc_offset: jiff::tz::Offset,
    /// E-mail domains inside the organisation (default: the CERT data set's).
    pub organisation_domains: Vec<String>,
}

/// `import hr FILE.csv`: person versions and account links (docs/hr.md).
pub fn hr(data_dir: &Path, path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let mut data = DataDir::open(data_dir).map_err(|e| BadInput(e.to_string()))?;
    let (outcome, rejected) = store_hr(&mut data, path)?;
    let quarantine_file = quarantine_all(&data, "hr", &rejected)?;
    report(
        json,
        || {
            serde_json::json!({
                "input": path, "versions": outcome, "quarantined": rejected.len(), "quarantine_file": quarantine_file,
            })
        },
        || {
            let mut text = format!(
                "{}: {} versions added, {} unchanged, {} replaced, {} quarantined",
                path.display(),
                outcome.added,
                outcome.unchanged,
                outcome.replaced,
                rejected.len()
            );
            if let Some(file) = &quarantine_file {
                text.push_str(&format!(
                    "\nquarantined rows with reasons: {}",
                    file.display()
                ));
            }
            text
        },
    );
    Ok(if rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Stores the person versions of an HR file; the outcome and the rows it could not read.
pub(crate) fn store_hr(
    data: &mut DataDir,
    path: &Path,
) -> anyhow::Result<(mamori_store::PeopleOutcome, Vec<mamori_ingest::Rejected>)> {
    let file = File::open(path).map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
    let name = path.display().to_string();
    let reader =
        HrCsvReader::new(BufReader::new(file), &name).map_err(|e| BadInput(e.to_string()))?;
    let (mut records, mut rejected) = (Vec::new(), Vec::new());
    let mut outcome = mamori_store::PeopleOutcome::default();
    for row in reader {
        match row.with_context(|| format!("reading {name}"))? {
            Ok(record) => records.push(record),
            Err(bad) => rejected.push(bad),
        }
        if records.len() == 10_000 {
            add_outcome(&mut outcome, data.store_mut().store_people(&records)?);
            records.clear();
        }
    }
    add_outcome(&mut outcome, data.store_mut().store_people(&records)?);
    Ok((outcome, rejected))
}

fn add_outcome(total: &mut mamori_store::PeopleOutcome, more: mamori_store::PeopleOutcome) {
    total.added += more.added;
    total.unchanged += more.unchanged;
    total.replaced += more.replaced;
}

/// Rejected rows printed on stderr before the rest are left to the quarantine file.
const REJECTIONS_SHOWN: usize = 20;

/// `import accounts FILE.csv [--source S]`: one directory's account snapshot
/// (docs/accounts.md).
pub fn accounts(
    data_dir: &Path,
    path: &Path,
    source: Option<AccountSource>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut data = DataDir::open(data_dir).map_err(|e| BadInput(e.to_string()))?;
    let file = File::open(path).map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
    let name = path.display().to_string();
    let mut reader = AccountCsvReader::new(BufReader::new(file), &name, source)
        .map_err(|e| BadInput(e.to_string()))?;
    let ignored_columns = reader.ignored_columns().to_vec();
    let default_source = reader.default_source();
    let (mut records, mut rejected) = (Vec::new(), Vec::new());
    for row in reader.by_ref() {
        match row.with_context(|| format!("reading {name}"))? {
            Ok(record) => records.push(record),
            Err(bad) => rejected.push(bad),
        }
    }
    for bad in rejected.iter().take(REJECTIONS_SHOWN) {
        eprintln!("mamori: {} {}", bad.location, bad.reason);
    }
    if rejected.len() > REJECTIONS_SHOWN {
        eprintln!(
            "mamori: {} more rejected rows in the quarantine file",
            rejected.len() - REJECTIONS_SHOWN
        );
    }
    let sources: Vec<AccountSource> = default_source.map(|(s, _)| s).into_iter().collect();
    let outcome = data
        .store_mut()
        .store_account_inventory(&InventorySnapshot {
            records: &records,
            sources: &sources,
            complete: rejected.is_empty(),
            imported_at: jiff::Timestamp::now(),
        })?;
    let quarantine_file = quarantine_all(&data, "accounts", &rejected)?;
    for conflict in &outcome.link_conflicts {
        eprintln!(
            "mamori: {} ({}): linked to person {}, the export names {}; the link is kept",
            conflict.account, conflict.source, conflict.linked_to, conflict.inventory_person
        );
    }
    if !ignored_columns.is_empty() && !json {
        eprintln!("mamori: columns not used: {}", ignored_columns.join(", "));
    }
    report(
        json,
        || {
            serde_json::json!({
                "input": path,
                "source": default_source.map(|(s, _)| s),
                "source_inferred": default_source.is_some_and(|(_, inferred)| inferred),
                "records": records.len(),
                "accounts": outcome,
                "quarantined": rejected.len(),
                "quarantine_file": quarantine_file,
                "ignored_columns": ignored_columns,
            })
        },
        || {
            let source = match default_source {
                Some((s, true)) => format!(" ({s}, told from the header)"),
                Some((s, false)) => format!(" ({s})"),
                None => String::new(),
            };
            let mut text = format!(
                "{}{source}: {} accounts: {} added, {} unchanged, {} changed, {} removed, {} quarantined; \
                 {} group changes, {} linked to persons, {} link conflicts",
                path.display(),
                records.len(),
                outcome.added,
                outcome.unchanged,
                outcome.changed,
                outcome.removed,
                rejected.len(),
                outcome.group_changes,
                outcome.linked,
                outcome.link_conflicts.len(),
            );
            if outcome.kept_missing > 0 {
                text.push_str(&format!(
                    "\n{} accounts missing from this file were kept: rows were rejected, so it is \
                     not a complete snapshot",
                    outcome.kept_missing
                ));
            }
            if let Some(file) = &quarantine_file {
                text.push_str(&format!(
                    "\nquarantined rows with reasons: {}",
                    file.display()
                ));
            }
            text
        },
    );
    Ok(if rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Writes `rejected` to a quarantine file of the data directory; its path, if any.
fn quarantine_all(
    data: &DataDir,
    source: &'static str,
    rejected: &[mamori_ingest::Rejected],
) -> anyhow::Result<Option<PathBuf>> {
    if rejected.is_empty() {
        return Ok(None);
    }
    let mut quarantine = Quarantine::new(&data.paths().quarantine(), source);
    for record in rejected {
        quarantine.add(record)?;
    }
    quarantine.finish()?;
    Ok(Some(quarantine.path().to_path_buf()))
}

fn report(json: bool, value: impl FnOnce() -> serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!("{}", value());
    } else {
        println!("{}", text());
    }
}

/// Metadata key of a file's resume point: the file's path, size and modification time, so a
/// changed file is read from the start again.
fn resume_key(path: &Path) -> anyhow::Result<String> {
    let metadata = std::fs::metadata(path).with_context(|| path.display().to_string())?;
    let modified = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    Ok(format!(
        "import.resume.cert:{}:{}:{modified}",
        canonical.display(),
        metadata.len()
    ))
}

fn parse_resume_point(value: &str) -> Option<ResumePoint> {
    let (offset, line) = value.split_once(' ')?;
    Some(ResumePoint {
        offset: offset.parse().ok()?,
        line: line.parse().ok()?,
    })
}
