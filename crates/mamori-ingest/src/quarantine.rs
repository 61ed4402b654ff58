//! The quarantine: rejected records set aside, with where they came from and why.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{IngestError, Rejected};

/// An append-only NDJSON file of rejected records, created on the first rejection.
///
/// Each line is `{"source":…,"file":…,"line":…,"reason":…,"raw":…}`; `raw` holds the record as
/// text, or `raw_base64` when it was not valid UTF-8.
pub struct Quarantine {
    path: PathBuf,
    source: &'static str,
    writer: Option<BufWriter<File>>,
    count: u64,
}

impl Quarantine {
    /// A quarantine file in `dir` named after the time and the source.
    pub fn new(dir: &Path, source: &'static str) -> Quarantine {
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%S%.6fZ")
            .to_string();
        let path = dir.join(format!("{stamp}-{source}-{}.ndjson", std::process::id()));
        Quarantine {
            path,
            source,
            writer: None,
            count: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn add(&mut self, rejected: &Rejected) -> Result<(), IngestError> {
        let mut record = serde_json::json!({
            "source": self.source,
            "file": rejected.location.file,
            "line": rejected.location.line,
            "reason": rejected.reason,
        });
        match std::str::from_utf8(&rejected.raw) {
            Ok(text) => record["raw"] = text.into(),
            Err(_) => {
                use base64::Engine as _;
                record["raw_base64"] = base64::engine::general_purpose::STANDARD
                    .encode(&rejected.raw)
                    .into();
            }
        }
        let mut line = serde_json::to_vec(&record).map_err(|e| self.error(e.into()))?;
        line.push(b'\n');
        self.write(&line)?;
        self.count += 1;
        Ok(())
    }

    /// Flushes and syncs the file so set-aside records survive a crash.
    pub fn finish(&mut self) -> Result<(), IngestError> {
        let synced = match self.writer.as_mut() {
            Some(writer) => writer.flush().and_then(|()| writer.get_ref().sync_all()),
            None => Ok(()),
        };
        synced.map_err(|source| self.error(source))
    }

    fn write(&mut self, line: &[u8]) -> Result<(), IngestError> {
        if self.writer.is_none() {
            let opened = self
                .path
                .parent()
                .map_or(Ok(()), fs::create_dir_all)
                .and_then(|()| File::options().create(true).append(true).open(&self.path));
            let file = opened.map_err(|source| self.error(source))?;
            self.writer = Some(BufWriter::new(file));
        }
        let written = match self.writer.as_mut() {
            Some(writer) => writer.write_all(line),
            None => Ok(()),
        };
        written.map_err(|source| self.error(source))
    }

    fn error(&self, source: std::io::Error) -> IngestError {
        IngestError::Quarantine {
            path: self.path.clone(),
            source,
        }
    }
}
