//! Output. Both formats receive the same rows day by day (already sorted by time) and write
//! them through buffered writers as they come, so memory does not grow with the number of
//! days. [`answers`] writes the official answer key and our truth file in both formats, and
//! [`accounts`] the directory's account inventory.

pub mod accounts;
pub mod answers;
pub mod cert;
pub mod ndjson;

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use crate::calendar::DayStamp;
use crate::error::SimError;
use crate::org::Organisation;
use crate::record::{Body, Record};

/// Where a day's rows go.
pub trait Sink {
    fn write_day(
        &mut self,
        org: &Organisation,
        stamp: &DayStamp,
        records: &[Record],
    ) -> Result<(), SimError>;
    /// Flushes everything and returns `(file name, rows, bytes)` for each file written.
    fn finish(self: Box<Self>) -> Result<Vec<FileStats>, SimError>;
}

/// What one output file holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileStats {
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
}

pub(crate) fn create(path: &Path) -> Result<BufWriter<File>, SimError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(SimError::io(parent))?;
    }
    let file = File::create(path).map_err(SimError::io(path))?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

/// A CSV writer with the CERT files' conventions: `\n` line ends, quotes only when a field
/// needs them (CERT r4.2 fields never do).
pub(crate) fn csv_writer<W: std::io::Write>(inner: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .flexible(true)
        .from_writer(inner)
}

pub(crate) fn file_size(path: &Path) -> Result<u64, SimError> {
    Ok(std::fs::metadata(path).map_err(SimError::io(path))?.len())
}

/// `PC-0042`
pub fn pc_name(pc: u16) -> String {
    format!("PC-{pc:04}")
}

/// Writes one row's CERT fields (without the answer files' leading type column).
pub fn write_cert_fields<W: std::io::Write>(
    writer: &mut csv::Writer<W>,
    org: &Organisation,
    stamp: &DayStamp,
    record: &Record,
) -> csv::Result<()> {
    writer.write_field(record.id.as_str())?;
    writer.write_field(stamp.cert_time(record.second))?;
    writer.write_field(org.account_name(record.user))?;
    writer.write_field(pc_name(record.pc))?;
    match &record.body {
        Body::Logon => writer.write_field("Logon")?,
        Body::Logoff => writer.write_field("Logoff")?,
        Body::Connect => writer.write_field("Connect")?,
        Body::Disconnect => writer.write_field("Disconnect")?,
        Body::File { filename, content } => {
            writer.write_field(filename)?;
            writer.write_field(content)?;
        }
        Body::Http { url, content, .. } => {
            writer.write_field(url)?;
            writer.write_field(content)?;
        }
        Body::Email {
            to,
            cc,
            bcc,
            from,
            size,
            attachments,
            content,
        } => {
            writer.write_field(to.join(";"))?;
            writer.write_field(cc.join(";"))?;
            writer.write_field(bcc.join(";"))?;
            writer.write_field(from)?;
            writer.write_field(size.to_string())?;
            writer.write_field(attachments.to_string())?;
            writer.write_field(content)?;
        }
    }
    writer.write_record(None::<&[u8]>)
}
