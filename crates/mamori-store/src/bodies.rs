//! The event bodies: the canonical JSON of every stored event, one per line in leaf order, in an
//! append-only file beside the database (`store.ndjson` next to `store.sqlite`).
//!
//! Why not a SQLite column: a body written into the database is written twice (into the WAL,
//! then by the checkpoint into the database file) and formatted into B-tree pages on the
//! writer's thread, the ingest pipeline's slowest stage. Measured on 1 M events (2 vCPUs, ext4):
//! 165–179k events/s with the bodies in a column, over 200k with them here (`docs/benchmarks.md`).
//! The event rows keep each body's byte range; its SHA-256 is the row's ledger entry, so a
//! body that was changed in this file fails `verify` like an edited row would.
//!
//! Crash safety: a batch's bodies are written after the committed end and made durable
//! (`fdatasync`) *before* the transaction that references them commits, so a committed row
//! never points at bytes a power loss could take. Bytes after the last committed body (a batch
//! whose transaction did not commit, or was rewritten without its duplicates) are cut off
//! before the next write.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::{Result, StoreError};

/// Byte ranges of the bodies file; one open handle, read and written with positional I/O.
pub(crate) struct Bodies {
    file: File,
    path: PathBuf,
    /// The end of the last committed body (including its newline).
    end: u64,
    /// The end of what was written since: bytes of a batch that may not commit. `None` until
    /// the first write looks at the file (a crash may have left such bytes).
    written_end: Option<u64>,
}

/// Where one body lives in the file (without its trailing newline).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyRange {
    pub at: u64,
    pub len: u64,
}

impl BodyRange {
    pub fn from_row(leaf_index: u64, at: i64, len: i64) -> Result<BodyRange> {
        match (u64::try_from(at), u64::try_from(len)) {
            (Ok(at), Ok(len)) if at.checked_add(len).is_some() => Ok(BodyRange { at, len }),
            _ => Err(StoreError::Leaf {
                leaf_index,
                reason: format!("invalid body range {at}+{len}"),
            }),
        }
    }

    /// The first byte after the body's newline.
    fn line_end(self) -> u64 {
        self.at + self.len + 1
    }
}

impl Bodies {
    /// Opens (creating) the file; `end` is the end of the last body the database references.
    pub fn open(path: &Path, end: u64) -> Result<Bodies> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io_error(path, e))?;
        Ok(Bodies {
            file,
            path: path.to_path_buf(),
            end,
            written_end: None,
        })
    }

    pub fn end(&self) -> u64 {
        self.end
    }

    /// Writes `lines` (bodies, each followed by a newline) after the committed end, replacing
    /// whatever was written there before. Not durable until [`Bodies::sync`]; committed only
    /// after [`Bodies::committed`].
    pub fn write(&mut self, lines: &[u8]) -> Result<()> {
        let io = |e| io_error(&self.path, e);
        let written_end = match self.written_end {
            Some(written_end) => written_end,
            None => {
                let len = self.file.metadata().map_err(io)?.len();
                if len < self.end {
                    return Err(StoreError::Corrupt(format!(
                        "{}: {len} bytes, but the database references bodies up to byte {}: \
                         event bodies were lost",
                        self.path.display(),
                        self.end
                    )));
                }
                if len > self.end {
                    tracing::warn!(
                        path = %self.path.display(),
                        uncommitted = len - self.end,
                        "cutting off the bodies of a batch that was never committed"
                    );
                }
                len
            }
        };
        if written_end > self.end {
            self.file.set_len(self.end).map_err(io)?;
        }
        self.file.write_all_at(lines, self.end).map_err(io)?;
        self.written_end = Some(self.end + lines.len() as u64);
        Ok(())
    }

    /// Overwrites a committed body with spaces (retention), keeping every offset and the
    /// line's newline. Not durable until [`Bodies::sync`].
    pub fn erase(&self, range: BodyRange) -> Result<()> {
        if range.line_end() > self.end {
            return Err(StoreError::Corrupt(format!(
                "{}: erasing bytes {}..{} past the committed end {}",
                self.path.display(),
                range.at,
                range.at + range.len,
                self.end
            )));
        }
        const SPACES: [u8; 4096] = [b' '; 4096];
        let mut at = range.at;
        let end = range.at + range.len;
        while at < end {
            let n = (end - at).min(SPACES.len() as u64) as usize;
            self.file
                .write_all_at(&SPACES[..n], at)
                .map_err(|e| io_error(&self.path, e))?;
            at += n as u64;
        }
        Ok(())
    }

    /// Makes what was written durable (`fdatasync`).
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| io_error(&self.path, e))
    }

    /// Records that the transaction referencing the last `len` written bytes committed.
    pub fn committed(&mut self, len: u64) {
        self.end += len;
    }

    /// A reader for bodies in the order they were written; see [`BodyWindow`].
    pub fn window(&self, read_ahead: usize) -> BodyWindow<'_> {
        BodyWindow {
            bodies: self,
            start: 0,
            buf: Vec::new(),
            read_ahead,
            adaptive_max: 0,
            served_end: 0,
        }
    }

    /// A reader for bodies in an order that may or may not follow the file (a scan by time:
    /// input imported in time order is laid out in time order, interleaved sources are not).
    /// It reads exactly while requests jump around, and reads ahead, doubling up to
    /// `max_read_ahead`, while each body it must read starts where the last one it served
    /// ended; so a jumpy scan costs what exact reads cost and a sequential one a read per
    /// buffer.
    pub fn adaptive_window(&self, max_read_ahead: usize) -> BodyWindow<'_> {
        BodyWindow {
            adaptive_max: max_read_ahead,
            ..self.window(0)
        }
    }
}

/// The first read-ahead of an adaptive window once bodies come in file order: a few bodies'
/// worth, so that a scan that only sometimes continues sequentially reads little in vain.
const ADAPTIVE_FIRST_READ_AHEAD: usize = 8 * 1024;

/// Reads bodies through a buffer of at least `read_ahead` bytes, so a scan in leaf order costs
/// one read per buffer instead of one per event.
pub(crate) struct BodyWindow<'a> {
    bodies: &'a Bodies,
    start: u64,
    buf: Vec<u8>,
    read_ahead: usize,
    /// Non-zero for an [`Bodies::adaptive_window`]: the largest read-ahead it grows to.
    adaptive_max: usize,
    /// Where the line of the last body served ends.
    served_end: u64,
}

impl BodyWindow<'_> {
    /// The body at `range` of `leaf_index`, checked to end where its line ends.
    pub fn get(&mut self, leaf_index: u64, range: BodyRange) -> Result<&[u8]> {
        let line_end = range.line_end();
        let buffered_end = self.start + self.buf.len() as u64;
        if range.at < self.start || line_end > buffered_end {
            if self.adaptive_max > 0 {
                self.read_ahead = if range.at == self.served_end {
                    (self.read_ahead * 2).clamp(ADAPTIVE_FIRST_READ_AHEAD, self.adaptive_max)
                } else {
                    0
                };
            }
            self.fill(leaf_index, range)?;
        }
        self.served_end = line_end;
        let from = (range.at - self.start) as usize;
        let to = (line_end - self.start) as usize;
        match self.buf[from..to].split_last() {
            Some((b'\n', body)) => Ok(body),
            _ => Err(StoreError::Leaf {
                leaf_index,
                reason: format!(
                    "{} has no line end after the body at bytes {}..{}",
                    self.bodies.path.display(),
                    range.at,
                    range.at + range.len
                ),
            }),
        }
    }

    fn fill(&mut self, leaf_index: u64, range: BodyRange) -> Result<()> {
        let want = usize::try_from(range.len + 1)
            .map_err(|_| StoreError::Leaf {
                leaf_index,
                reason: "body too large".into(),
            })?
            .max(self.read_ahead);
        self.buf.resize(want, 0);
        let mut filled = 0;
        while filled < want {
            match self
                .bodies
                .file
                .read_at(&mut self.buf[filled..], range.at + filled as u64)
            {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(&self.bodies.path, e)),
            }
        }
        self.buf.truncate(filled);
        self.start = range.at;
        if (filled as u64) < range.len + 1 {
            return Err(StoreError::Leaf {
                leaf_index,
                reason: format!(
                    "the body at bytes {}..{} is beyond the end of {} (event bodies were lost)",
                    range.at,
                    range.at + range.len,
                    self.bodies.path.display()
                ),
            });
        }
        Ok(())
    }
}

fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn uncommitted_bytes_are_cut_before_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.ndjson");
        let mut bodies = Bodies::open(&path, 0).unwrap();
        bodies.write(b"{\"a\":1}\n").unwrap();
        bodies.committed(8);
        bodies.write(b"{\"never\":1}\n{\"x\":1}\n").unwrap(); // its transaction failed
        let mut reopened = Bodies::open(&path, 8).unwrap();
        reopened.write(b"{\"b\":2}\n").unwrap();
        reopened.committed(8);
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}\n{\"b\":2}\n");
        // The same within one handle: a rewrite shorter than the first write leaves no tail.
        reopened.write(b"{\"c\":3}\n{\"d\":4}\n").unwrap();
        reopened.write(b"{}\n").unwrap();
        reopened.committed(3);
        drop(bodies);
        let bodies = reopened;
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}\n{\"b\":2}\n{}\n");
        let mut window = bodies.window(4);
        assert_eq!(window.get(2, BodyRange { at: 16, len: 2 }).unwrap(), b"{}");
        assert_eq!(
            window.get(0, BodyRange { at: 0, len: 7 }).unwrap(),
            b"{\"a\":1}"
        );
    }

    #[test]
    fn an_adaptive_window_reads_ahead_only_while_bodies_follow_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.ndjson");
        let lines: Vec<String> = (0..4000).map(|i| format!("{{\"n\":{i:05}}}\n")).collect();
        std::fs::write(&path, lines.concat()).unwrap();
        let line_len = lines[0].len() as u64;
        let bodies = Bodies::open(&path, line_len * 4000).unwrap();
        let range = |i: u64| BodyRange {
            at: i * line_len,
            len: line_len - 1,
        };
        let mut window = bodies.adaptive_window(1 << 16);
        // Jumping around: exact reads.
        for i in [3000, 10, 2000, 5] {
            assert_eq!(
                window.get(i, range(i)).unwrap(),
                lines[i as usize].trim_end().as_bytes()
            );
            assert_eq!(window.buf.len() as u64, line_len, "exact read of {i}");
        }
        // Then in file order: the buffer grows, and every body is still the right one.
        for i in 6..4000 {
            assert_eq!(
                window.get(i, range(i)).unwrap(),
                lines[i as usize].trim_end().as_bytes()
            );
        }
        assert!(window.buf.len() > 8 * 1024, "{}", window.buf.len());
        assert!(window.buf.len() <= 1 << 16);
        // A jump back: exact again.
        window.get(7, range(7)).unwrap();
        assert_eq!(window.buf.len() as u64, line_len);
    }

    #[test]
    fn lost_and_misplaced_bodies_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.ndjson");
        std::fs::write(&path, b"{}\n").unwrap();
        let mut bodies = Bodies::open(&path, 10).unwrap();
        let error = bodies.write(b"{}\n").unwrap_err().to_string();
        assert!(error.contains("bodies were lost"), "{error}");
        let mut window = bodies.window(1 << 20);
        let beyond = window.get(7, BodyRange { at: 3, len: 2 }).unwrap_err();
        assert!(beyond.to_string().contains("leaf 7"), "{beyond}");
        let misplaced = window.get(0, BodyRange { at: 0, len: 1 }).unwrap_err();
        assert!(misplaced.to_string().contains("no line end"), "{misplaced}");
    }
}
