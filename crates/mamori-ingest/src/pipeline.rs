//! The one import path every source goes through.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use mamori_event::Event;
use mamori_store::{Appender, DataDir, NewEvent};

use crate::{IngestError, Quarantine, Rejected, ResumePoint, Source};

/// How often a long import signs a checkpoint of what it has appended so far.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(10);

/// Events per batch: one SQLite transaction and one ledger append each.
const BATCH_EVENTS: usize = 16_384;
/// Batches in flight between the parsing thread and the writer; bounds memory.
const BATCHES_IN_FLIGHT: usize = 2;

/// Progress of a running import, reported after every batch.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub records: u64,
    pub bytes_read: u64,
    pub total_bytes: Option<u64>,
}

/// The outcome of an import.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub source: &'static str,
    /// Records read (events and rejected records).
    pub records: u64,
    /// New events stored and appended to the ledger.
    pub imported: u64,
    /// Events already stored by an earlier import (idempotence).
    pub duplicates: u64,
    /// Records set aside in the quarantine file.
    pub quarantined: u64,
    pub quarantine_file: Option<std::path::PathBuf>,
    /// Input bytes read by this import (a resumed one starts where the last stopped).
    pub bytes: u64,
    /// Leaves in the ledger after the import.
    pub tree_size: u64,
    pub checkpoint: String,
    pub seconds: f64,
}

/// Records read in a row: parsed events (then prepared ones) and rejections.
struct Batch<E = NewEvent> {
    events: Vec<E>,
    rejected: Vec<Rejected>,
    records: u64,
    bytes_read: u64,
    /// Where the source could start again after this batch's last record.
    resume: Option<ResumePoint>,
}

impl<E> Batch<E> {
    fn new() -> Self {
        Batch {
            events: Vec::with_capacity(BATCH_EVENTS),
            rejected: Vec::new(),
            records: 0,
            bytes_read: 0,
            resume: None,
        }
    }
}

/// Imports everything `source` yields into `data_dir`. Bad records are quarantined, never fatal;
/// only an unreadable input or a failing store stops the import — and then everything appended
/// so far stays appended, so running the same import again completes it (imports are idempotent).
pub fn import(
    data_dir: &mut DataDir,
    source: Box<dyn Source>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary, IngestError> {
    import_resumable(data_dir, source, None, progress)
}

/// [`import`], recording after every committed batch where the source could start again (its
/// [`Source::resume_point`]) in the store's metadata under `resume_key`, so that an interrupted
/// import of a large file continues where it stopped instead of reading it again. (Reading it
/// again would also be correct — imports are idempotent — only slower.)
pub fn import_resumable(
    data_dir: &mut DataDir,
    mut source: Box<dyn Source>,
    resume_key: Option<&str>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary, IngestError> {
    let started = Instant::now();
    let source_name = source.name();
    let total_bytes = source.total_bytes();
    // A resumed source starts past the bytes an earlier import read: count only this one's.
    let first_byte = source.bytes_read();
    let mut quarantine = Quarantine::new(&data_dir.paths().quarantine(), source_name);
    let mut summary = Summary {
        source: source_name,
        records: 0,
        imported: 0,
        duplicates: 0,
        quarantined: 0,
        quarantine_file: None,
        bytes: 0,
        tree_size: 0,
        checkpoint: String::new(),
        seconds: 0.0,
    };
    let (parsed_sender, parsed_receiver) =
        sync_channel::<Result<Batch<Event>, IngestError>>(BATCHES_IN_FLIGHT);
    let (sender, receiver) = sync_channel::<Result<Batch, IngestError>>(BATCHES_IN_FLIGHT);
    let written = std::thread::scope(|scope| {
        let spawn = |name: &str| std::thread::Builder::new().name(format!("mamori-{name}"));
        let parser = spawn("parse")
            .spawn_scoped(scope, move || {
                parse_batches(source.as_mut(), &parsed_sender)
            })
            .map_err(IngestError::Thread)?;
        let preparer = spawn("prepare")
            .spawn_scoped(scope, move || prepare_batches(&parsed_receiver, &sender))
            .map_err(IngestError::Thread)?;
        let written = data_dir.append_pipelined(CHECKPOINT_INTERVAL, |appender| {
            let mut writer = Writer {
                first_byte,
                appender,
                quarantine: &mut quarantine,
                summary: &mut summary,
                resume_key,
            };
            writer.write_batches(&receiver, |p| progress(Progress { total_bytes, ..p }))
        });
        // Unblock the workers if the writer stopped early, then wait for them.
        drop(receiver);
        let (prepared, parsed) = (preparer.join(), parser.join());
        match (written, prepared, parsed) {
            (Err(e), _, _) => Err(e),
            (Ok(()), Err(_), _) | (Ok(()), _, Err(_)) => Err(IngestError::WorkerPanicked),
            (Ok(()), Ok(()), Ok(())) => Ok(()),
        }
    });
    // Whatever happened, keep what was quarantined and sign what was appended.
    quarantine.finish()?;
    let checkpoint = data_dir.checkpoint()?;
    written?;
    summary.quarantined = quarantine.count();
    summary.quarantine_file = (quarantine.count() > 0).then(|| quarantine.path().to_path_buf());
    summary.tree_size = data_dir.log().size();
    summary.checkpoint = checkpoint;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// The parsing thread: reads records and sends them in batches of events and rejections.
fn parse_batches(source: &mut dyn Source, sender: &SyncSender<Result<Batch<Event>, IngestError>>) {
    let mut batch = Batch::new();
    while let Some(record) = source.next_record() {
        batch.records += 1;
        match record {
            Ok(Ok(event)) => batch.events.push(event),
            Ok(Err(rejected)) => batch.rejected.push(rejected),
            Err(error) => {
                let _ = sender.send(Err(IngestError::Read {
                    file: source.input().to_string(),
                    source: error,
                }));
                return;
            }
        }
        if batch.events.len() + batch.rejected.len() >= BATCH_EVENTS {
            batch.bytes_read = source.bytes_read();
            batch.resume = source.resume_point();
            if sender.send(Ok(batch)).is_err() {
                return;
            }
            batch = Batch::new();
        }
    }
    batch.bytes_read = source.bytes_read();
    batch.resume = source.resume_point();
    let _ = sender.send(Ok(batch));
}

/// The preparing thread: canonicalises and hashes each batch's events (as much work as
/// parsing them, so it gets its own thread).
fn prepare_batches(
    parsed: &Receiver<Result<Batch<Event>, IngestError>>,
    sender: &SyncSender<Result<Batch, IngestError>>,
) {
    let mut canonical = Vec::with_capacity(1024);
    for batch in parsed {
        let prepared = batch.and_then(|batch| {
            let events = batch
                .events
                .into_iter()
                .map(|event| prepare(event, &mut canonical))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Batch {
                events,
                rejected: batch.rejected,
                records: batch.records,
                bytes_read: batch.bytes_read,
                resume: batch.resume,
            })
        });
        let failed = prepared.is_err();
        if sender.send(prepared).is_err() || failed {
            return;
        }
    }
}

/// Gives the event its nonce and computes everything the store and the ledger need (for
/// events that arrive other than through [`import`], e.g. over HTTP).
pub fn prepare_event(event: Event) -> Result<NewEvent, IngestError> {
    prepare(event, &mut Vec::with_capacity(1024))
}

/// [`prepare_event`] with a reused buffer.
fn prepare(mut event: Event, canonical: &mut Vec<u8>) -> Result<NewEvent, IngestError> {
    event
        .try_ensure_nonce()
        .map_err(|e| IngestError::Random(e.to_string()))?;
    canonical.clear();
    let (identity, entry) = event.write_canonical_with_digests(canonical);
    Ok(NewEvent {
        identity,
        entry,
        time_us: event.time.as_microsecond(),
        kind: event.kind.as_str(),
        account: event.account().to_string(),
        json: canonical.clone(),
    })
}

/// The writer (caller's thread): stores batches, quarantines rejections, records resume
/// points; the appender's own thread writes the ledger and the periodic checkpoints.
struct Writer<'w, 'a> {
    first_byte: u64,
    appender: &'w mut Appender<'a>,
    quarantine: &'w mut Quarantine,
    summary: &'w mut Summary,
    resume_key: Option<&'w str>,
}

impl Writer<'_, '_> {
    fn write_batches(
        &mut self,
        receiver: &Receiver<Result<Batch, IngestError>>,
        mut progress: impl FnMut(Progress),
    ) -> Result<(), IngestError> {
        for batch in receiver.iter() {
            let batch = batch?;
            let outcome = self.appender.append(&batch.events)?;
            for rejected in &batch.rejected {
                tracing::debug!(location = %rejected.location, reason = %rejected.reason, "record quarantined");
                self.quarantine.add(rejected)?;
            }
            if let (Some(key), Some(point)) = (self.resume_key, batch.resume) {
                // Rejections first: what is behind a resume point must never be read again.
                if !batch.rejected.is_empty() {
                    self.quarantine.finish()?;
                }
                self.appender
                    .set_meta(key, &format!("{} {}", point.offset, point.line))?;
            }
            let summary = &mut *self.summary;
            summary.records += batch.records;
            summary.imported += outcome.appended.len() as u64;
            summary.duplicates += outcome.duplicates.len() as u64;
            summary.bytes = batch.bytes_read.saturating_sub(self.first_byte);
            progress(Progress {
                records: summary.records,
                bytes_read: batch.bytes_read,
                total_bytes: None,
            });
        }
        Ok(())
    }
}
