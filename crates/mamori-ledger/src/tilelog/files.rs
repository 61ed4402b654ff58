//! Durable, atomic file writes: every file is written under `tmp/`, fsynced, then renamed into
//! place, and the directories that gained entries are fsynced, so a crash leaves each path with
//! either its old content or its complete new content.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::LedgerError;

/// Temporary files are opened for fsync at most this many at a time.
const MAX_PENDING_FILES: usize = 128;

/// Read a whole file, `None` if it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, LedgerError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LedgerError::io(path)(e)),
    }
}

/// Read at most `limit` bytes of a file (a planted huge file must not exhaust memory), `None`
/// if it does not exist.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

pub(crate) fn remove_file_if_exists(path: &Path) -> Result<(), LedgerError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(LedgerError::io(path)(e)),
        _ => Ok(()),
    }
}

pub(crate) fn sync_dir(path: &Path) -> Result<(), LedgerError> {
    // Directories can be opened read-only and fsynced on Unix; elsewhere this is a no-op.
    #[cfg(unix)]
    {
        File::open(path)
            .and_then(|dir| dir.sync_all())
            .map_err(LedgerError::io(path))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// `pread`-style read that does not move a shared cursor, so `&TileLog` can serve proofs from
/// several threads.
#[cfg(unix)]
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
pub(crate) fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let read = file.seek_read(buf, offset)?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[read..];
        offset += read as u64;
    }
    Ok(())
}

/// A set of files written atomically and durably together. Nothing is visible at the final
/// paths before [`FileBatch::commit`] (or an intermediate flush when many files are pending),
/// and after `commit` returns every file and directory entry is on stable storage.
pub(crate) struct FileBatch {
    root: PathBuf,
    tmp_dir: PathBuf,
    pending: Vec<PendingFile>,
    dirs: BTreeSet<PathBuf>,
    counter: u64,
    /// Whether `commit` makes the files durable (fsync) or only puts them in place.
    durable: bool,
}

struct PendingFile {
    file: File,
    tmp: PathBuf,
    dest: PathBuf,
}

impl FileBatch {
    /// `root` is the log directory; temporary files go to `tmp_dir` (same file system).
    /// Without `durable`, files are put in place atomically but not fsynced: a later
    /// `syncfs` (see `TileLog::sync`) makes them durable.
    pub fn new(root: &Path, tmp_dir: &Path, durable: bool) -> Self {
        FileBatch {
            root: root.to_path_buf(),
            tmp_dir: tmp_dir.to_path_buf(),
            pending: Vec::new(),
            dirs: BTreeSet::new(),
            counter: 0,
            durable,
        }
    }

    /// Stage `bytes` for `relative` (a path under the root).
    pub fn put(&mut self, relative: &str, bytes: &[u8]) -> Result<(), LedgerError> {
        let dest = self.root.join(relative);
        self.create_parent(&dest)?;
        self.counter += 1;
        let tmp = self
            .tmp_dir
            .join(format!("{}.{}.tmp", std::process::id(), self.counter));
        let mut file = File::create(&tmp).map_err(LedgerError::io(&tmp))?;
        file.write_all(bytes).map_err(LedgerError::io(&tmp))?;
        self.pending.push(PendingFile { file, tmp, dest });
        if self.pending.len() >= MAX_PENDING_FILES {
            self.flush_files()?;
        }
        Ok(())
    }

    /// Make `dest`'s directory exist, remembering every directory whose entries changed.
    fn create_parent(&mut self, dest: &Path) -> Result<(), LedgerError> {
        let Some(parent) = dest.parent() else {
            return Ok(());
        };
        self.dirs.insert(parent.to_path_buf());
        if parent.is_dir() {
            return Ok(());
        }
        fs::create_dir_all(parent).map_err(LedgerError::io(parent))?;
        // Every new directory's own entry lives in its parent: fsync those too.
        let mut ancestor = parent.parent();
        while let Some(dir) = ancestor {
            if !dir.starts_with(&self.root) {
                break;
            }
            self.dirs.insert(dir.to_path_buf());
            if dir == self.root {
                break;
            }
            ancestor = dir.parent();
        }
        Ok(())
    }

    /// fsync the staged files and rename them into place.
    fn flush_files(&mut self) -> Result<(), LedgerError> {
        // fsync all first, then rename: one journal commit can cover many files.
        for pending in self.pending.iter().filter(|_| self.durable) {
            pending
                .file
                .sync_data()
                .map_err(LedgerError::io(&pending.tmp))?;
        }
        for pending in self.pending.drain(..) {
            drop(pending.file);
            fs::rename(&pending.tmp, &pending.dest).map_err(LedgerError::io(&pending.dest))?;
        }
        Ok(())
    }

    /// Put every staged file in place and make it durable.
    pub fn commit(&mut self) -> Result<(), LedgerError> {
        self.flush_files()?;
        let dirs = std::mem::take(&mut self.dirs);
        if self.durable {
            for dir in dirs {
                sync_dir(&dir)?;
            }
        }
        Ok(())
    }
}

/// Write one file atomically and durably (temp file, fsync, rename, fsync directory).
pub(crate) fn write_atomic(
    root: &Path,
    tmp_dir: &Path,
    relative: &str,
    bytes: &[u8],
) -> Result<(), LedgerError> {
    let mut batch = FileBatch::new(root, tmp_dir, true);
    batch.put(relative, bytes)?;
    batch.commit()
}

/// Remove everything in the temporary directory (left by an interrupted write).
pub(crate) fn clear_dir(dir: &Path) -> Result<(), LedgerError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(LedgerError::io(dir)(e)),
    };
    for entry in entries {
        let path = entry.map_err(LedgerError::io(dir))?.path();
        if path.is_dir() {
            fs::remove_dir_all(&path).map_err(LedgerError::io(&path))?;
        } else {
            remove_file_if_exists(&path)?;
        }
    }
    Ok(())
}
