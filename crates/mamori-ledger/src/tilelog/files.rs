//! Durable, atomic file writes: every file is written under `tmp/`, fsynced, then renamed into
//! place, and the directories that gained entries are fsynced, so a crash leaves each path with
//! either its old content or its complete new content.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

use crate::LedgerError;

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

/// Write one file atomically and durably: a temporary file in `tmp_dir` (same file system),
/// fsynced, renamed to `root/relative`, then the directories whose entries changed fsynced. A
/// crash leaves the path with either its old content or all of the new.
pub(crate) fn write_atomic(
    root: &Path,
    tmp_dir: &Path,
    relative: &str,
    bytes: &[u8],
) -> Result<(), LedgerError> {
    let dest = root.join(relative);
    let parent = dest.parent().unwrap_or(root);
    let mut changed_dirs = vec![parent.to_path_buf()];
    if !parent.is_dir() {
        fs::create_dir_all(parent).map_err(LedgerError::io(parent))?;
        // A new directory's own entry lives in its parent.
        changed_dirs.extend(
            parent
                .ancestors()
                .skip(1)
                .take_while(|dir| dir.starts_with(root))
                .map(Path::to_path_buf),
        );
    }
    let tmp = tmp_dir.join(format!(
        "{}.{}.tmp",
        std::process::id(),
        relative.replace('/', "_")
    ));
    let mut file = File::create(&tmp).map_err(LedgerError::io(&tmp))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_data())
        .map_err(LedgerError::io(&tmp))?;
    drop(file);
    fs::rename(&tmp, &dest).map_err(LedgerError::io(&dest))?;
    for dir in changed_dirs {
        sync_dir(&dir)?;
    }
    Ok(())
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
