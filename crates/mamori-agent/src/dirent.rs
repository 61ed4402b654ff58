//! Directory entries created, deleted and renamed, with the process that did it.
//!
//! fanotify reports these only to a group that names files by *handle*
//! (`FAN_REPORT_DFID_NAME`): an event carries the directory's file handle and the entry's
//! name, not a descriptor. Such a group cannot take permission events, so this is a second,
//! observing group beside the sensor's ([`crate::sensor`]), read by the same thread.
//!
//! **Handles to paths, without `open_by_handle_at`.** Each directory under a watched root
//! gets an inode mark (`FAN_CREATE | FAN_DELETE | FAN_RENAME | FAN_ONDIR`). The kernel lists
//! every inode mark of a group — inode number, device and file handle — in
//! `/proc/self/fdinfo/<group>`; `stat` gave us inode → path while marking. Together they map
//! handle → path in safe code (the workspace forbids `unsafe`, and no maintained crate wraps
//! the handle syscalls safely). Directories that appear later (created, or moved in) are
//! marked when their event is read; a handle not yet known costs one re-read of fdinfo.
//! Directory renames and deletions update the map.
//!
//! **Bounded.** At most [`DirWatch::new`]'s `max_dirs` directories are marked: a mark pins
//! its inode in kernel memory. Past the limit deeper directories are not watched, and the
//! caller is told once. A tree can also be marked a step at a time
//! ([`DirWatch::watch_later`]), so the thread that does it keeps answering other events.
//!
//! **Limits.** A rename needs Linux 5.17 (`FAN_RENAME`); on older kernels a rename shows as
//! the name going and the new one coming. Entries a new directory already holds when it is
//! marked (`cp -r`, `mkdir -p`) are reported as created by the process that created the
//! directory. The process is read from `/proc` when the event is read: a short-lived `rm`
//! may be gone by then, and is then named only by its pid.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::AT_FDCWD;
use nix::sys::fanotify::{EventFFlags, Fanotify, InitFlags, MarkFlags, MaskFlags};

use crate::AgentError;
use crate::probe::explain;

/// `FAN_EVENT_INFO_TYPE_DFID_NAME`: the directory and the entry's name.
const INFO_DFID_NAME: u8 = 2;
/// `FAN_EVENT_INFO_TYPE_OLD_DFID_NAME`: where a renamed entry was.
const INFO_OLD_DFID_NAME: u8 = 10;
/// `FAN_EVENT_INFO_TYPE_NEW_DFID_NAME`: where a renamed entry is now.
const INFO_NEW_DFID_NAME: u8 = 12;
/// `FANOTIFY_METADATA_VERSION`.
const METADATA_VERSION: u8 = 3;
/// `struct fanotify_event_metadata`.
const METADATA_LEN: usize = 24;
/// Names longer than `NAME_MAX` cannot come from the kernel.
const NAME_MAX: usize = 255;
/// `MAX_HANDLE_SZ`.
const HANDLE_MAX: usize = 128;
/// Entries of a new directory reported as created with it, at most.
const NEW_TREE_ENTRIES: usize = 1000;
/// Directories marked per [`DirWatch::drain`]: the sensor's thread marks a new tree a little
/// at a time, so the permission events it also answers never wait long (about 50 µs each).
const DIRS_PER_STEP: usize = 128;
/// Reads of the group per [`DirWatch::drain`] (each up to 64 KiB of events).
const READS_PER_DRAIN: usize = 16;

const FAN_MOVED_FROM: u64 = 0x0000_0040;
const FAN_MOVED_TO: u64 = 0x0000_0080;
const FAN_CREATE: u64 = 0x0000_0100;
const FAN_DELETE: u64 = 0x0000_0200;
const FAN_Q_OVERFLOW: u64 = 0x0000_4000;
const FAN_ONDIR: u64 = 0x4000_0000;

/// A file handle as fanotify reports it: the file system's id and the handle proper.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Handle {
    pub fsid: u64,
    pub kind: i32,
    pub bytes: Vec<u8>,
}

/// An entry of a directory: the directory's handle and the entry's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRef {
    pub dir: Handle,
    pub name: Vec<u8>,
}

/// One event of a `FAN_REPORT_DFID_NAME` group, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    pub mask: u64,
    pub pid: i32,
    /// The entry created or deleted.
    pub entry: Option<EntryRef>,
    /// A renamed entry, before and after.
    pub old: Option<EntryRef>,
    pub new: Option<EntryRef>,
}

/// Why a buffer read from the group could not be parsed past some point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("event at byte {at}: {len} bytes left, an event needs {METADATA_LEN}")]
    Truncated { at: usize, len: usize },
    #[error("event at byte {at}: metadata version {version}, expected {METADATA_VERSION}")]
    Version { at: usize, version: u8 },
    #[error("event at byte {at}: length {event_len} (metadata {metadata_len}) does not fit")]
    Length {
        at: usize,
        event_len: usize,
        metadata_len: usize,
    },
    #[error("event at byte {at}: information record at +{offset}: {reason}")]
    Info {
        at: usize,
        offset: usize,
        reason: &'static str,
    },
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(buf.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(buf.get(at..at + 8)?.try_into().ok()?))
}

/// Parses what one `read` of the group returned: the events up to the first malformed one,
/// and why parsing stopped there (lengths past a bad record cannot be trusted).
pub fn parse_events(buf: &[u8]) -> (Vec<RawEvent>, Option<ParseError>) {
    let mut events = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        match parse_event(&buf[at..], at) {
            Ok((event, len)) => {
                events.push(event);
                at += len;
            }
            Err(e) => return (events, Some(e)),
        }
    }
    (events, None)
}

fn parse_event(buf: &[u8], at: usize) -> Result<(RawEvent, usize), ParseError> {
    let truncated = ParseError::Truncated { at, len: buf.len() };
    if buf.len() < METADATA_LEN {
        return Err(truncated);
    }
    let event_len = u32_at(buf, 0).ok_or(truncated.clone())? as usize;
    let version = buf[4];
    let metadata_len = u16_at(buf, 6).ok_or(truncated.clone())? as usize;
    if version != METADATA_VERSION {
        return Err(ParseError::Version { at, version });
    }
    if metadata_len < METADATA_LEN || event_len < metadata_len || event_len > buf.len() {
        return Err(ParseError::Length {
            at,
            event_len,
            metadata_len,
        });
    }
    let mask = u64_at(buf, 8).ok_or(truncated.clone())?;
    let pid = u32_at(buf, 20).ok_or(truncated)? as i32;
    let mut event = RawEvent {
        mask,
        pid,
        entry: None,
        old: None,
        new: None,
    };
    let mut offset = metadata_len;
    while offset < event_len {
        let bad = |reason| ParseError::Info { at, offset, reason };
        let info = &buf[offset..event_len];
        let (Some(&kind), Some(len)) = (info.first(), u16_at(info, 2)) else {
            return Err(bad("shorter than its header"));
        };
        let len = len as usize;
        if len < 4 || len > info.len() {
            return Err(bad("length out of bounds"));
        }
        let record = &info[..len];
        let slot = match kind {
            INFO_DFID_NAME => &mut event.entry,
            INFO_OLD_DFID_NAME => &mut event.old,
            INFO_NEW_DFID_NAME => &mut event.new,
            // Other records (a pid fd, an error count) say nothing this module needs.
            _ => {
                offset += len;
                continue;
            }
        };
        *slot = Some(parse_entry(record).map_err(bad)?);
        offset += len;
    }
    Ok((event, event_len))
}

/// `struct fanotify_event_info_fid` with a name: header (4), fsid (8), `struct file_handle`
/// (`handle_bytes`, `handle_type`, the handle), then the name, NUL-terminated and padded.
fn parse_entry(record: &[u8]) -> Result<EntryRef, &'static str> {
    let fsid = u64_at(record, 4).ok_or("no file system id")?;
    let handle_len = u32_at(record, 12).ok_or("no handle length")? as usize;
    let kind = u32_at(record, 16).ok_or("no handle type")? as i32;
    if handle_len > HANDLE_MAX {
        return Err("handle longer than MAX_HANDLE_SZ");
    }
    let bytes = record
        .get(20..20 + handle_len)
        .ok_or("handle past the record")?;
    let rest = &record[20 + handle_len..];
    let end = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or("name not terminated")?;
    if end == 0 || end > NAME_MAX || rest[..end].contains(&b'/') {
        return Err("not a file name");
    }
    Ok(EntryRef {
        dir: Handle {
            fsid,
            kind,
            bytes: bytes.to_vec(),
        },
        name: rest[..end].to_vec(),
    })
}

/// An inode mark as `/proc/self/fdinfo` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkedInode {
    pub ino: u64,
    /// The kernel's device number (`MAJOR << 20 | MINOR`).
    pub sdev: u64,
    pub kind: i32,
    pub bytes: Vec<u8>,
}

/// The inode marks of a fanotify group's fdinfo: lines like
/// `fanotify ino:98c10b sdev:fe00000 mflags:0 mask:500003c0 ignored_mask:0 fhandle-bytes:8
/// fhandle-type:1 f_handle:0bc1980072015cde` (all hexadecimal). Other lines (mount and
/// file system marks, the group's flags) are skipped, as are lines that do not parse.
pub fn parse_fdinfo(text: &str) -> Vec<MarkedInode> {
    text.lines().filter_map(parse_mark_line).collect()
}

fn parse_mark_line(line: &str) -> Option<MarkedInode> {
    let fields = line.strip_prefix("fanotify ")?;
    let (mut ino, mut sdev, mut kind, mut len, mut bytes) = (None, None, None, None, None);
    for field in fields.split_ascii_whitespace() {
        let (key, value) = field.split_once(':')?;
        match key {
            "ino" => ino = u64::from_str_radix(value, 16).ok(),
            "sdev" => sdev = u64::from_str_radix(value, 16).ok(),
            "fhandle-type" => kind = u32::from_str_radix(value, 16).ok().map(|k| k as i32),
            "fhandle-bytes" => len = usize::from_str_radix(value, 16).ok(),
            "f_handle" => bytes = hex_bytes(value),
            _ => {}
        }
    }
    let bytes = bytes?;
    (len? == bytes.len()).then_some(MarkedInode {
        ino: ino?,
        sdev: sdev?,
        kind: kind?,
        bytes,
    })
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 2 * HANDLE_MAX {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The device number `stat` gives for the kernel's `MAJOR << 20 | MINOR` (glibc's
/// `makedev`).
fn user_dev(sdev: u64) -> u64 {
    let (major, minor) = (sdev >> 20, sdev & 0xf_ffff);
    ((major & 0xffff_f000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0xff)
}

/// What happened to an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Deleted,
    /// Renamed or moved from this path (both directories watched).
    Renamed {
        from: PathBuf,
    },
}

/// An entry created, deleted or renamed under a watched directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub path: PathBuf,
    pub dir: bool,
    pub pid: u32,
}

/// What a read of the group gave.
#[derive(Debug, Default)]
pub struct Drained {
    pub changes: Vec<Change>,
    /// Things the caller should report (lost events, malformed records, limits).
    pub problems: Vec<String>,
}

/// The directory-entry group and the map from directory handles to paths.
pub struct DirWatch {
    group: Fanotify,
    mask: MaskFlags,
    max_dirs: usize,
    /// Marked directories by (device, inode).
    dirs: HashMap<(u64, u64), PathBuf>,
    /// File system ids by device, from `statvfs`.
    fsids: HashMap<u64, u64>,
    handles: HashMap<Handle, (u64, u64)>,
    limit_reported: bool,
    /// Marks were added since fdinfo was last read (their handles are not known yet).
    unread_marks: bool,
    /// Directories still to be marked.
    queue: VecDeque<Queued>,
    /// Entries each new tree may still report as created, by tree.
    budgets: HashMap<u64, usize>,
    trees: u64,
    buf: Vec<u8>,
}

/// A directory waiting to be marked, on device `dev`; in a tree just created by `pid`, its
/// entries are reported as created too.
struct Queued {
    dir: PathBuf,
    dev: u64,
    created: Option<(u32, u64)>,
}

impl DirWatch {
    /// A group for directory-entry events; fails where fanotify or handle reporting
    /// (Linux 5.9) is not available. `max_dirs` bounds the directories marked.
    pub fn new(max_dirs: usize) -> Result<DirWatch, AgentError> {
        let flags = InitFlags::FAN_CLASS_NOTIF
            | InitFlags::FAN_CLOEXEC
            | InitFlags::FAN_NONBLOCK
            | InitFlags::from_bits_retain(nix::libc::FAN_REPORT_DFID_NAME);
        let group = Fanotify::init(flags, EventFFlags::O_RDONLY).map_err(|e| {
            AgentError::Unavailable(explain("fanotify_init(FAN_REPORT_DFID_NAME)", e))
        })?;
        let mut watch = DirWatch {
            group,
            mask: MaskFlags::FAN_CREATE
                | MaskFlags::FAN_DELETE
                | MaskFlags::FAN_RENAME
                | MaskFlags::FAN_ONDIR,
            max_dirs,
            dirs: HashMap::new(),
            fsids: HashMap::new(),
            handles: HashMap::new(),
            limit_reported: false,
            unread_marks: false,
            queue: VecDeque::new(),
            budgets: HashMap::new(),
            trees: 0,
            buf: vec![0; 64 * 1024],
        };
        // FAN_RENAME (both names in one event) is Linux 5.17; older kernels report the two
        // halves of a move separately (FAN_MOVED_FROM/TO).
        if let Err(e) = watch.probe_rename() {
            tracing::info!("{e}; renames show as a deletion and a creation");
            watch.mask = MaskFlags::FAN_CREATE
                | MaskFlags::FAN_DELETE
                | MaskFlags::FAN_MOVED_FROM
                | MaskFlags::FAN_MOVED_TO
                | MaskFlags::FAN_ONDIR;
        }
        Ok(watch)
    }

    fn probe_rename(&self) -> Result<(), String> {
        let root = Path::new("/");
        self.group
            .mark(
                MarkFlags::FAN_MARK_ADD,
                MaskFlags::FAN_RENAME,
                AT_FDCWD,
                Some(root),
            )
            .map_err(|e| explain("fanotify_mark(FAN_RENAME)", e))?;
        let _ = self.group.mark(
            MarkFlags::FAN_MARK_REMOVE,
            MaskFlags::FAN_RENAME,
            AT_FDCWD,
            Some(root),
        );
        Ok(())
    }

    /// Directories marked now.
    pub fn marked(&self) -> usize {
        self.dirs.len()
    }

    /// Marks `root` and every directory below it on the same file system now (breadth
    /// first, up to the limit). Returns the problems met (unreadable directories, the limit).
    pub fn watch(&mut self, root: &Path) -> Vec<String> {
        let mut out = Drained::default();
        self.enqueue(root, None, &mut out.problems);
        while !self.queue.is_empty() {
            self.step(usize::MAX, &mut out);
        }
        self.refresh_handles(&mut out.problems);
        out.problems
    }

    /// Marks `root` and the directories below it a step at a time, in the coming
    /// [`DirWatch::drain`]s (for a mount that just appeared, while permission events wait).
    pub fn watch_later(&mut self, root: &Path) -> Vec<String> {
        let mut problems = Vec::new();
        self.enqueue(root, None, &mut problems);
        problems
    }

    /// Whether directories wait to be marked: call [`DirWatch::drain`] again soon.
    pub fn marking(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Forgets `root` and everything below it (the mount went away; the kernel dropped
    /// the marks with it).
    pub fn forget(&mut self, root: &Path) {
        self.dirs.retain(|_, path| !path.starts_with(root));
        self.queue.retain(|q| !q.dir.starts_with(root));
        let dirs = &self.dirs;
        self.handles.retain(|_, key| dirs.contains_key(key));
    }

    /// Reads every queued event and turns them into changes, then marks a step of the
    /// directories waiting.
    pub fn drain(&mut self) -> Drained {
        let mut out = Drained::default();
        // A bounded number of reads, so a flood of entries (an archive unpacked) cannot keep
        // the thread from the permission events it also answers; poll wakes it for the rest.
        for _ in 0..READS_PER_DRAIN {
            let n = match nix::unistd::read(&self.group, &mut self.buf) {
                Ok(0) | Err(Errno::EAGAIN) => break,
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    out.problems.push(format!("reading directory events: {e}"));
                    break;
                }
            };
            let (events, error) = parse_events(&self.buf[..n]);
            if let Some(e) = error {
                out.problems.push(format!("directory events: {e}"));
            }
            for event in events {
                self.apply(&event, &mut out);
            }
        }
        if !self.queue.is_empty() {
            self.step(DIRS_PER_STEP, &mut out);
        }
        out
    }

    fn apply(&mut self, event: &RawEvent, out: &mut Drained) {
        if event.mask & FAN_Q_OVERFLOW != 0 {
            out.problems
                .push("directory events lost (fanotify queue overflow)".into());
            return;
        }
        let pid = u32::try_from(event.pid).unwrap_or(0);
        let dir = event.mask & FAN_ONDIR != 0;
        let old = event.old.as_ref().and_then(|e| self.path_of(e, out));
        let new = event.new.as_ref().and_then(|e| self.path_of(e, out));
        if event.old.is_some() || event.new.is_some() {
            match (old, new) {
                (Some(from), Some(to)) => {
                    if dir {
                        self.moved(&from, &to);
                    }
                    out.changes.push(Change {
                        kind: ChangeKind::Renamed { from },
                        path: to,
                        dir,
                        pid,
                    });
                }
                (Some(from), None) => self.deleted(from, dir, pid, out),
                (None, Some(to)) => self.created(to, dir, pid, out),
                (None, None) => {}
            }
            return;
        }
        let Some(path) = event.entry.as_ref().and_then(|e| self.path_of(e, out)) else {
            return;
        };
        // Events on one name may be merged: both happened, creation (most likely) first.
        if event.mask & (FAN_CREATE | FAN_MOVED_TO) != 0 {
            self.created(path.clone(), dir, pid, out);
        }
        if event.mask & (FAN_DELETE | FAN_MOVED_FROM) != 0 {
            self.deleted(path, dir, pid, out);
        }
    }

    fn created(&mut self, path: PathBuf, dir: bool, pid: u32, out: &mut Drained) {
        out.changes.push(Change {
            kind: ChangeKind::Created,
            path: path.clone(),
            dir,
            pid,
        });
        if dir {
            // Whatever the new directory holds by the time it is marked was made with it (and
            // no event of ours saw it).
            self.trees += 1;
            self.budgets.insert(self.trees, NEW_TREE_ENTRIES);
            self.enqueue(&path, Some((pid, self.trees)), &mut out.problems);
        }
    }

    fn deleted(&mut self, path: PathBuf, dir: bool, pid: u32, out: &mut Drained) {
        if dir {
            self.forget(&path);
        }
        out.changes.push(Change {
            kind: ChangeKind::Deleted,
            path,
            dir,
            pid,
        });
    }

    /// A directory was renamed: the paths of it and all below it change.
    fn moved(&mut self, from: &Path, to: &Path) {
        for path in self.dirs.values_mut() {
            if let Ok(rest) = path.strip_prefix(from) {
                *path = if rest.as_os_str().is_empty() {
                    to.to_path_buf()
                } else {
                    to.join(rest)
                };
            }
        }
    }

    fn path_of(&mut self, entry: &EntryRef, out: &mut Drained) -> Option<PathBuf> {
        let dir = match self.dir_of(&entry.dir) {
            Some(dir) => dir,
            None if self.unread_marks => {
                // Marked since fdinfo was last read: read it again.
                self.refresh_handles(&mut out.problems);
                self.dir_of(&entry.dir)?
            }
            // Not ours (any more): a directory moved out of the watched trees keeps its mark.
            None => return None,
        };
        Some(dir.join(OsStr::from_bytes(&entry.name)))
    }

    fn dir_of(&self, handle: &Handle) -> Option<PathBuf> {
        self.dirs.get(self.handles.get(handle)?).cloned()
    }

    /// Puts `root` in the queue of directories to mark.
    fn enqueue(&mut self, root: &Path, created: Option<(u32, u64)>, problems: &mut Vec<String>) {
        let Ok(top) = std::fs::symlink_metadata(root) else {
            return;
        };
        if !top.is_dir() {
            return;
        }
        let dev = top.dev();
        if let std::collections::hash_map::Entry::Vacant(slot) = self.fsids.entry(dev) {
            match nix::sys::statvfs::statvfs(root) {
                Ok(stat) => {
                    slot.insert(stat.filesystem_id());
                }
                Err(e) => {
                    problems.push(format!("statvfs({}): {e}", root.display()));
                    return;
                }
            }
        }
        self.queue.push_back(Queued {
            dir: root.to_path_buf(),
            dev,
            created,
        });
    }

    /// Marks up to `max` queued directories and queues their subdirectories (same file
    /// system only); in a new tree, reports their entries as created.
    fn step(&mut self, max: usize, out: &mut Drained) {
        for _ in 0..max {
            let Some(Queued { dir, dev, created }) = self.queue.pop_front() else {
                break;
            };
            let Ok(meta) = std::fs::symlink_metadata(&dir) else {
                continue;
            };
            if !meta.is_dir() || meta.dev() != dev {
                continue;
            }
            let key = (meta.dev(), meta.ino());
            if !self.dirs.contains_key(&key) {
                if self.dirs.len() >= self.max_dirs {
                    if !self.limit_reported {
                        self.limit_reported = true;
                        out.problems.push(format!(
                            "directory events: {} directories watched, the limit; {} and \
                             directories found after it are not",
                            self.max_dirs,
                            dir.display()
                        ));
                    }
                    self.queue.clear();
                    break;
                }
                if let Err(e) = self.group.mark(
                    MarkFlags::FAN_MARK_ADD | MarkFlags::FAN_MARK_ONLYDIR,
                    self.mask,
                    AT_FDCWD,
                    Some(dir.as_path()),
                ) {
                    if e != Errno::ENOENT {
                        out.problems
                            .push(explain(&format!("fanotify_mark({})", dir.display()), e));
                    }
                    continue;
                }
                self.dirs.insert(key, dir.clone());
                self.unread_marks = true;
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                if let Some((pid, tree)) = created
                    && let Some(left) = self.budgets.get_mut(&tree)
                    && *left > 0
                {
                    *left -= 1;
                    out.changes.push(Change {
                        kind: ChangeKind::Created,
                        path: path.clone(),
                        dir: is_dir,
                        pid,
                    });
                }
                if is_dir {
                    self.queue.push_back(Queued {
                        dir: path,
                        dev,
                        created,
                    });
                }
            }
        }
        if self.queue.is_empty() {
            self.budgets.clear();
        }
    }

    /// Learns the handles of the marked directories from the group's fdinfo.
    fn refresh_handles(&mut self, problems: &mut Vec<String>) {
        self.unread_marks = false;
        let fdinfo = format!("/proc/self/fdinfo/{}", {
            use std::os::fd::AsRawFd as _;
            self.group.as_raw_fd()
        });
        let text = match std::fs::read_to_string(&fdinfo) {
            Ok(text) => text,
            Err(e) => {
                problems.push(format!("{fdinfo}: {e}"));
                return;
            }
        };
        for mark in parse_fdinfo(&text) {
            let dev = user_dev(mark.sdev);
            let key = (dev, mark.ino);
            if let (true, Some(&fsid)) = (self.dirs.contains_key(&key), self.fsids.get(&dev)) {
                let handle = Handle {
                    fsid,
                    kind: mark.kind,
                    bytes: mark.bytes,
                };
                self.handles.insert(handle, key);
            }
        }
    }
}

impl AsFd for DirWatch {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.group.as_fd()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    const FAN_RENAME: u64 = 0x1000_0000;

    fn info(kind: u8, fsid: u64, handle_type: i32, handle: &[u8], name: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&fsid.to_ne_bytes());
        body.extend_from_slice(&(handle.len() as u32).to_ne_bytes());
        body.extend_from_slice(&handle_type.to_ne_bytes());
        body.extend_from_slice(handle);
        body.extend_from_slice(name);
        body.push(0);
        while (body.len() + 4) % 4 != 0 {
            body.push(0);
        }
        let mut record = vec![kind, 0];
        record.extend_from_slice(&((body.len() + 4) as u16).to_ne_bytes());
        record.extend(body);
        record
    }

    fn event(mask: u64, pid: i32, infos: &[Vec<u8>]) -> Vec<u8> {
        let len = METADATA_LEN + infos.iter().map(Vec::len).sum::<usize>();
        let mut out = Vec::new();
        out.extend_from_slice(&(len as u32).to_ne_bytes());
        out.extend_from_slice(&[METADATA_VERSION, 0]);
        out.extend_from_slice(&(METADATA_LEN as u16).to_ne_bytes());
        out.extend_from_slice(&mask.to_ne_bytes());
        out.extend_from_slice(&(-1i32).to_ne_bytes());
        out.extend_from_slice(&pid.to_ne_bytes());
        for i in infos {
            out.extend_from_slice(i);
        }
        out
    }

    const DIR_A: [u8; 8] = [0x0a, 0xc1, 0x98, 0, 0x15, 0x11, 0x8c, 0x8f];
    const DIR_B: [u8; 8] = [0x0b, 0xc1, 0x98, 0, 0x72, 0x01, 0x5c, 0xde];

    #[test]
    fn a_creation_and_a_rename_as_the_kernel_writes_them() {
        let mut buf = event(FAN_CREATE, 5272, &[info(2, 7, 1, &DIR_A, b"a.txt")]);
        buf.extend(event(
            FAN_RENAME,
            5272,
            &[
                info(10, 7, 1, &DIR_A, b"a.txt"),
                info(12, 7, 1, &DIR_B, b"b.txt"),
            ],
        ));
        let (events, error) = parse_events(&buf);
        assert_eq!(error, None);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].pid, 5272);
        assert_eq!(events[0].mask, FAN_CREATE);
        let entry = events[0].entry.as_ref().unwrap();
        assert_eq!(entry.name, b"a.txt");
        assert_eq!(
            entry.dir,
            Handle {
                fsid: 7,
                kind: 1,
                bytes: DIR_A.to_vec()
            }
        );
        assert_eq!(events[1].old.as_ref().unwrap().dir.bytes, DIR_A);
        assert_eq!(events[1].new.as_ref().unwrap().name, b"b.txt");
        assert_eq!(events[1].new.as_ref().unwrap().dir.bytes, DIR_B);
    }

    #[test]
    fn an_overflow_has_no_records() {
        let (events, error) = parse_events(&event(FAN_Q_OVERFLOW, 0, &[]));
        assert_eq!(error, None);
        assert_eq!(events[0].entry, None);
    }

    #[test]
    fn bad_events_stop_parsing_with_a_reason() {
        let good = event(FAN_DELETE, 1, &[info(2, 7, 1, &DIR_A, b"x")]);
        let mut bad_version = good.clone();
        bad_version[4] = 2;
        assert!(matches!(
            parse_events(&bad_version).1,
            Some(ParseError::Version { version: 2, .. })
        ));

        let mut both = good.clone();
        both.extend_from_slice(&good[..10]);
        let (events, error) = parse_events(&both);
        assert_eq!(events.len(), 1);
        assert_eq!(
            error,
            Some(ParseError::Truncated {
                at: good.len(),
                len: 10
            })
        );

        let mut long = good.clone();
        long[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(matches!(
            parse_events(&long).1,
            Some(ParseError::Length { .. })
        ));

        for (name, reason) in [(&b"a/b"[..], "not a file name"), (b"", "not a file name")] {
            let (_, error) = parse_events(&event(FAN_DELETE, 1, &[info(2, 7, 1, &DIR_A, name)]));
            assert_eq!(
                error,
                Some(ParseError::Info {
                    at: 0,
                    offset: 24,
                    reason
                })
            );
        }

        let mut unterminated = event(FAN_DELETE, 1, &[info(2, 7, 1, &DIR_A, b"abc")]);
        let n = unterminated.len();
        unterminated[n - 4..].copy_from_slice(b"abcd");
        assert_eq!(
            parse_events(&unterminated).1,
            Some(ParseError::Info {
                at: 0,
                offset: 24,
                reason: "name not terminated"
            })
        );
    }

    #[test]
    fn fdinfo_inode_marks_with_their_handles() {
        let text = "pos:\t0\nflags:\t04002\nmnt_id:\t17\nino:\t20\n\
            fanotify flags:e02 event-flags:8000\n\
            fanotify sdev:fe00000 mflags:0 mask:580003c0 ignored_mask:0\n\
            fanotify ino:98c10b sdev:fe00000 mflags:0 mask:500003c0 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:0bc1980072015cde\n\
            fanotify ino:98c10a sdev:fe00001 mflags:0 mask:500003c0 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:0ac1980015118c8f\n\
            fanotify ino:1 sdev:1 mflags:0 mask:0 ignored_mask:0 fhandle-bytes:4 fhandle-type:1 f_handle:0a\n";
        let marks = parse_fdinfo(text);
        assert_eq!(marks.len(), 2, "the short handle is refused: {marks:?}");
        assert_eq!(marks[0].ino, 0x98c10b);
        assert_eq!(marks[0].bytes, DIR_B);
        assert_eq!(marks[1].sdev, 0xfe00001);
        assert_eq!(marks[1].kind, 1);
    }

    #[test]
    fn kernel_device_numbers_as_stat_gives_them() {
        assert_eq!(user_dev(0xfe0_0000), 0xfe00); // 254:0
        assert_eq!(user_dev((8 << 20) | 17), 0x811); // 8:17
        assert_eq!(
            user_dev((259 << 20) | 300),
            nix::sys::stat::makedev(259, 300)
        );
    }

    proptest! {
        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_events(&bytes);
            let _ = parse_fdinfo(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn well_formed_events_parse_back(
            mask in any::<u64>(),
            pid in any::<i32>(),
            handle in proptest::collection::vec(any::<u8>(), 0..=HANDLE_MAX),
            name in "[^/\u{0}]{1,60}",
        ) {
            let name = name.as_bytes();
            prop_assume!(name.len() <= NAME_MAX);
            let buf = event(mask, pid, &[info(2, 9, 0x81, &handle, name)]);
            let (events, error) = parse_events(&buf);
            prop_assert_eq!(error, None);
            prop_assert_eq!(events.len(), 1);
            let entry = events[0].entry.clone().unwrap();
            prop_assert_eq!(entry.dir.bytes, handle);
            prop_assert_eq!(entry.name, name);
            prop_assert_eq!(events[0].pid, pid);
        }
    }
}
