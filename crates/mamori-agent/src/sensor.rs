//! The file sensor and its enforcement: one fanotify group, one thread.
//!
//! **Marks.** Each removable mount gets a mount mark for `FAN_OPEN_PERM` and
//! `FAN_CLOSE_WRITE`; each watched path's mount gets `FAN_OPEN` and `FAN_CLOSE_WRITE`
//! notifications, filtered in user space to the paths under the watched directories. Both
//! kinds are in one group of class `FAN_CLASS_CONTENT`, so they arrive in the order they
//! happened: `cp`'s open of its source is read before its open of the destination.
//!
//! **Taint.** A watched open is classified through the event's descriptor (bounded, cached:
//! [`crate::classify`]) and remembered for its process ([`crate::taint`]). A permission event
//! on a removable mount from a process holding a source, opening for writing, asks the
//! policy (channel `removable_media`) and is denied when the verdict does not permit — unless
//! a `justify` rule decided and its person has given a reason since ([`crate::justify`]).
//!
//! **Never block for long, never leave an event unanswered.** Permission events are answered
//! from caches and `/proc` reads only (microseconds); classification happens on notification
//! events and is bounded in bytes and time ([`ClassifierConfig`]). The agent's own opens are
//! always allowed (it must never wait on itself), and any internal error allows (fail open)
//! and is reported as [`Record::Error`]. If the thread dies, the group's descriptor is closed
//! and the kernel allows whatever was pending.
//!
//! **Degrading.** When permission events are not allowed the group is of class
//! `FAN_CLASS_NOTIF`, removable mounts get `FAN_OPEN`/`FAN_CLOSE_WRITE`, and decisions are
//! made at `FAN_CLOSE_WRITE` (a write happened) and reported with `enforced: false`.
//!
//! **Program launches.** The mounts of [`SensorConfig::exec_mounts`] get `FAN_OPEN_EXEC`
//! (a process start, reported as [`ActivityKind::Exec`]) or, when
//! [`SensorConfig::exec_permission`] asks for it and permission events are allowed,
//! `FAN_OPEN_EXEC_PERM`: each exec then waits while the policy decides it (channel
//! `app_launch`, the process named by the executable's file name) and fails with `EPERM`
//! when a rule blocks it. A mark on `/` sees every exec on the machine, so the work per exec
//! is a `readlink`, three small `/proc` reads and one decision — no classification. Only
//! rules decide launches: a policy whose default action is `block` does not stop every
//! program. Whether permission marks are wanted depends on the policy
//! ([`Policy::enforces_channel`]); the marks are not changed when the policy is replaced —
//! the caller says so with [`Sensor::set_exec_permission`], which re-marks at once.
//!
//! **Entries created, deleted, renamed.** A second, observing group reports them
//! ([`crate::dirent`]: it names directories by handle, which permission groups cannot),
//! for the watched directories and every removable mount, read by the same thread.
//!
//! **Mounts come and go.** `/proc/self/mountinfo` is polled for changes (`POLLPRI`); a new
//! removable mount is marked at once, without a timer.

use std::collections::HashSet;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mamori_policy::{
    Channel, Decision, DestinationFacts, ObjectFacts, Policy, ProcessFacts, Request, UsbDevice,
    Verdict,
};
use nix::errno::Errno;
use nix::fcntl::AT_FDCWD;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::fanotify::{
    Fanotify, FanotifyEvent, FanotifyResponse, InitFlags, MarkFlags, MaskFlags, Response,
};

use crate::AgentError;
use crate::classify::{Classification, Classifier, ClassifierConfig, Lru};
use crate::dirent::{Change, ChangeKind, DirWatch};
use crate::justify::Justifications;
use crate::mounts::{Mount, RemovableRules, read_mounts};
use crate::probe::{Capability, event_flags, explain, init_flags};
use crate::process::{OpenIntent, ProcessCache, ProcessInfo, UserNames, open_intent};
use crate::taint::{Source, Taint, TaintConfig};

/// The policy in force, which the caller may replace at any time.
#[derive(Debug, Clone)]
pub struct PolicyHandle(Arc<RwLock<Arc<Policy>>>);

impl PolicyHandle {
    pub fn new(policy: Policy) -> PolicyHandle {
        PolicyHandle(Arc::new(RwLock::new(Arc::new(policy))))
    }

    /// The policy now in force.
    pub fn load(&self) -> Arc<Policy> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Puts `policy` in force for the next decision.
    pub fn store(&self, policy: Policy) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(policy);
    }
}

/// Maps a removable mount to the USB device behind it (vendor, product, serial).
pub type DeviceResolver = Arc<dyn Fn(&Mount) -> Option<UsbDevice> + Send + Sync>;

/// What the sensor watches and how.
#[derive(Clone)]
pub struct SensorConfig {
    /// Directories whose files are sources (`/home`): opens under them are classified.
    pub watched: Vec<PathBuf>,
    /// Which mounts are removable (sysfs root, declared mount points).
    pub removable: RemovableRules,
    /// The host name put in requests (default: the kernel's).
    pub host: Option<String>,
    /// Where user names come from.
    pub passwd: PathBuf,
    pub classifier: ClassifierConfig,
    pub taint: TaintConfig,
    /// Observe even where enforcing is possible.
    pub observe_only: bool,
    /// The USB device of a removable mount; default: sysfs ([`RemovableRules::usb_device`]).
    pub device_of: Option<DeviceResolver>,
    /// Paths whose mounts — each whole mount, not only the path — are watched for program
    /// launches (`FAN_OPEN_EXEC`, Linux 5.0+), reported as [`ActivityKind::Exec`]. Empty:
    /// launches are not watched.
    pub exec_mounts: Vec<PathBuf>,
    /// Ask permission for each launch on `exec_mounts` (`FAN_OPEN_EXEC_PERM`), so launches
    /// the policy blocks fail. Every exec there then waits on the sensor's answer: set it
    /// only when the policy has enforced `app_launch` rules ([`Policy::enforces_channel`]).
    /// Ignored when observing.
    pub exec_permission: bool,
    /// Directories marked for entries created, deleted and renamed, at most (each mark pins
    /// an inode in kernel memory); 0: not watched.
    pub max_watched_dirs: usize,
    /// Where copies a `justify` rule stopped wait for their person's reason, and the grants
    /// a reason made ([`crate::justify`]). None: a `justify` verdict without a reason blocks.
    pub justifications: Option<Justifications>,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            watched: Vec::new(),
            removable: RemovableRules::default(),
            host: None,
            passwd: PathBuf::from("/etc/passwd"),
            classifier: ClassifierConfig::default(),
            taint: TaintConfig::default(),
            observe_only: false,
            device_of: None,
            exec_mounts: Vec::new(),
            exec_permission: false,
            max_watched_dirs: 20_000,
            justifications: None,
        }
    }
}

impl std::fmt::Debug for SensorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SensorConfig")
            .field("watched", &self.watched)
            .field("removable", &self.removable)
            .field("host", &self.host)
            .field("observe_only", &self.observe_only)
            .field("exec_mounts", &self.exec_mounts)
            .field("exec_permission", &self.exec_permission)
            .field("max_watched_dirs", &self.max_watched_dirs)
            .field("justifications", &self.justifications.is_some())
            .finish_non_exhaustive()
    }
}

/// What the sensor reports.
#[derive(Debug, Clone)]
pub enum Record {
    Activity(FileActivity),
    Decision(Box<DecisionRecord>),
    /// Something failed inside the sensor; a permission event it concerned was allowed.
    Error(String),
}

/// What happened to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityKind {
    Open,
    CloseWrite,
    /// The file was executed: a process start on an exec mount. `path` is the executable;
    /// `process`/`exe` are what `/proc` shows of the executing process — the program that
    /// launched it while the exec waits on a permission event, possibly the new program
    /// when only notified.
    Exec,
    /// An entry was created (a file or, with [`FileActivity::dir`], a directory).
    Create,
    Delete,
    /// Renamed or moved from [`FileActivity::previous`].
    Rename,
}

/// A file event on a watched path, a removable mount or an exec mount.
#[derive(Debug, Clone)]
pub struct FileActivity {
    pub kind: ActivityKind,
    pub path: String,
    /// For a rename: the path before.
    pub previous: Option<String>,
    /// The entry is a directory (creations, deletions, renames).
    pub dir: bool,
    /// On a removable mount (else under a watched path).
    pub removable: bool,
    pub pid: u32,
    pub uid: Option<u32>,
    pub user: String,
    pub process: Option<String>,
    pub exe: Option<String>,
    /// For opens of watched files: what the file holds.
    pub classification: Option<Arc<Classification>>,
    pub time: jiff::Timestamp,
}

/// A decision on a write to removable media (channel `removable_media`) or on a program
/// launch (channel `app_launch`).
#[derive(Debug, Clone)]
pub struct DecisionRecord {
    pub request: Request,
    pub decision: Decision,
    pub verdict: Verdict,
    /// The policy that decided (the decision's rule indexes point into it): with the request
    /// and decision, enough for [`mamori_policy::decision_event`].
    pub policy: Arc<Policy>,
    /// The file written on the removable mount, or the executable launched.
    pub destination_path: String,
    /// Whether the verdict was carried out (a permission event), or only observed.
    pub enforced: bool,
    /// The open was denied.
    pub denied: bool,
    /// From reading the event to answering it.
    pub latency: Duration,
    pub time: jiff::Timestamp,
}

/// Counts of the sensor's work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SensorStats {
    pub events: u64,
    pub permission_events: u64,
    pub decisions: u64,
    pub denied: u64,
    pub errors: u64,
    /// Records the caller's channel had no room for.
    pub dropped: u64,
    pub overflows: u64,
    pub classified_files: u64,
    /// Program launches seen on exec mounts.
    pub execs: u64,
    pub cache_hits: u64,
    /// The longest a permission event waited for its answer inside the sensor.
    pub max_permission_latency: Duration,
}

/// A running sensor. Dropping it stops it (and answers nothing late: the group is closed).
pub struct Sensor {
    capability: Capability,
    stop: Option<std::io::PipeWriter>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<Mutex<SensorStats>>,
    removable: Arc<Mutex<Vec<Mount>>>,
    /// Whether launches should be decided (permission marks), as the caller last said.
    exec_wanted: Arc<AtomicBool>,
    /// Whether the exec mounts now carry permission marks.
    exec_enforcing: Arc<AtomicBool>,
}

impl Sensor {
    /// Starts watching: marks the removable mounts and the watched paths' mounts, then
    /// reports to `sink` (which is never waited on: a full channel drops the record and
    /// counts it). Fails only when fanotify is not usable at all or a watched path cannot be
    /// marked.
    pub fn start(
        config: SensorConfig,
        policy: PolicyHandle,
        sink: SyncSender<Record>,
    ) -> Result<Sensor, AgentError> {
        let mut config = config;
        config.removable.declared = config
            .removable
            .declared
            .iter()
            .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
            .collect();
        let watched: Vec<PathBuf> = config
            .watched
            .iter()
            .map(|p| {
                std::fs::canonicalize(p).map_err(|e| AgentError::io(&p.display().to_string(), e))
            })
            .collect::<Result<_, _>>()?;
        let exec_mounts: Vec<PathBuf> = config
            .exec_mounts
            .iter()
            .map(|p| {
                std::fs::canonicalize(p).map_err(|e| AgentError::io(&p.display().to_string(), e))
            })
            .collect::<Result<_, _>>()?;

        let (group, capability) = open_group(config.observe_only)?;
        let (dirs, dirs_problem) = match config.max_watched_dirs {
            0 => (None, None),
            max => match DirWatch::new(max) {
                Ok(dirs) => (Some(dirs), None),
                Err(e) => (
                    None,
                    Some(format!(
                        "{e}; files created, deleted and renamed are not reported"
                    )),
                ),
            },
        };
        let enforce = capability.enforces();
        for path in &watched {
            group
                .mark(
                    MarkFlags::FAN_MARK_ADD | MarkFlags::FAN_MARK_MOUNT,
                    MaskFlags::FAN_OPEN | MaskFlags::FAN_CLOSE_WRITE,
                    AT_FDCWD,
                    Some(path.as_path()),
                )
                .map_err(|e| {
                    AgentError::Unavailable(explain(
                        &format!("fanotify_mark({})", path.display()),
                        e,
                    ))
                })?;
        }
        tracing::info!(capability = %capability.describe(), watched = ?watched, "file sensor starting");
        let mountinfo = std::fs::File::open("/proc/self/mountinfo")
            .map_err(|e| AgentError::io("/proc/self/mountinfo", e))?;
        let (stop_reader, stop_writer) = std::io::pipe().map_err(|e| AgentError::io("pipe", e))?;
        let stats = Arc::new(Mutex::new(SensorStats::default()));
        let removable = Arc::new(Mutex::new(Vec::new()));
        let exec_wanted = Arc::new(AtomicBool::new(config.exec_permission));
        let exec_enforcing = Arc::new(AtomicBool::new(false));
        let host = config.host.clone().or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        });
        let mut worker = Worker {
            group,
            enforce,
            own_pid: std::process::id(),
            watched,
            rules: config.removable.clone(),
            device_of: config.device_of.clone(),
            removable: Vec::new(),
            shared_removable: removable.clone(),
            host,
            users: UserNames::new(&config.passwd),
            classifier: Classifier::new(config.classifier.clone()),
            taint: Taint::new(config.taint),
            processes: Lru::new(config.taint.processes),
            recent: ProcessCache::new(Duration::from_secs(1)),
            policy,
            sink,
            stats: SensorStats::default(),
            shared_stats: stats.clone(),
            exec_mounts,
            exec_marked: None,
            exec_wanted: exec_wanted.clone(),
            exec_enforcing: exec_enforcing.clone(),
            dirs,
            justifications: config.justifications.clone(),
        };
        if let Some(problem) = dirs_problem {
            worker.error(problem);
        }
        for path in worker.watched.clone() {
            worker.watch_dirs(&path);
        }
        worker.mark_exec()?;
        worker.rescan();
        let thread = std::thread::Builder::new()
            .name("mamori-file-sensor".into())
            .spawn(move || worker.run(&stop_reader, &mountinfo))
            .map_err(|e| AgentError::io("spawn", e))?;
        Ok(Sensor {
            capability,
            stop: Some(stop_writer),
            thread: Some(thread),
            stats,
            removable,
            exec_wanted,
            exec_enforcing,
        })
    }

    /// Asks for permission marks on the exec mounts (launches decided, blocked ones denied)
    /// or notification marks only. Call it when a new policy gains or loses enforced
    /// `app_launch` rules ([`Policy::enforces_channel`]); the sensor's thread re-marks at once.
    /// Without exec mounts, or when only observing, it changes nothing.
    pub fn set_exec_permission(&self, on: bool) {
        self.exec_wanted.store(on, Ordering::SeqCst);
        if let Some(stop) = &self.stop
            && let Err(e) = (&*stop).write_all(b"m")
        {
            tracing::warn!("asking the file sensor to re-mark exec mounts: {e}");
        }
    }

    /// Whether the exec mounts now carry permission marks (launches are enforced).
    pub fn exec_permission(&self) -> bool {
        self.exec_enforcing.load(Ordering::SeqCst)
    }

    /// What the sensor can do here (enforce or only observe, and why).
    pub fn capability(&self) -> &Capability {
        &self.capability
    }

    /// Counts so far.
    pub fn stats(&self) -> SensorStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The removable mounts now marked.
    pub fn removable_mounts(&self) -> Vec<Mount> {
        self.removable
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops the sensor and waits for its thread; the marks go with the group.
    pub fn stop(mut self) -> SensorStats {
        self.shutdown();
        self.stats()
    }

    fn shutdown(&mut self) {
        if let Some(mut stop) = self.stop.take() {
            let _ = stop.write_all(b"x");
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the file sensor's thread panicked");
        }
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A group of the strongest class allowed.
fn open_group(observe_only: bool) -> Result<(Fanotify, Capability), AgentError> {
    let why = if observe_only {
        "configured to observe only".to_string()
    } else {
        match Fanotify::init(init_flags(InitFlags::FAN_CLASS_CONTENT), event_flags()) {
            Ok(group) => return Ok((group, Capability::Enforce)),
            Err(e) => explain("fanotify_init(FAN_CLASS_CONTENT)", e),
        }
    };
    match Fanotify::init(init_flags(InitFlags::FAN_CLASS_NOTIF), event_flags()) {
        Ok(group) => {
            if !observe_only {
                tracing::warn!("{why}; running as observer");
            }
            Ok((group, Capability::ObserveOnly(why)))
        }
        Err(e) => Err(AgentError::Unavailable(format!(
            "{why}; {}",
            explain("fanotify_init(FAN_CLASS_NOTIF)", e)
        ))),
    }
}

struct Worker {
    group: Fanotify,
    enforce: bool,
    own_pid: u32,
    watched: Vec<PathBuf>,
    rules: RemovableRules,
    device_of: Option<DeviceResolver>,
    /// Removable mounts marked, with whether permission events were accepted on each.
    removable: Vec<(Mount, bool)>,
    shared_removable: Arc<Mutex<Vec<Mount>>>,
    host: Option<String>,
    users: UserNames,
    classifier: Classifier,
    taint: Taint,
    /// Processes seen opening watched files, by pid (they may exit before their write is
    /// seen when observing).
    processes: Lru<u32, ProcessInfo>,
    /// Processes named lately, for reporting (decisions read `/proc` afresh).
    recent: ProcessCache,
    policy: PolicyHandle,
    sink: SyncSender<Record>,
    stats: SensorStats,
    shared_stats: Arc<Mutex<SensorStats>>,
    /// Canonical paths whose mounts are marked for launches.
    exec_mounts: Vec<PathBuf>,
    /// Whether the exec mounts are marked, and with permission marks.
    exec_marked: Option<bool>,
    exec_wanted: Arc<AtomicBool>,
    exec_enforcing: Arc<AtomicBool>,
    /// Entries created, deleted and renamed (None: not available or not wanted).
    dirs: Option<DirWatch>,
    justifications: Option<Justifications>,
}

impl Worker {
    fn run(&mut self, stop: &std::io::PipeReader, mountinfo: &std::fs::File) {
        loop {
            let mut fds = vec![
                PollFd::new(self.group.as_fd(), PollFlags::POLLIN),
                PollFd::new(stop.as_fd(), PollFlags::POLLIN),
                PollFd::new(mountinfo.as_fd(), PollFlags::POLLPRI),
            ];
            if let Some(dirs) = &self.dirs {
                fds.push(PollFd::new(dirs.as_fd(), PollFlags::POLLIN));
            }
            // Directories left to mark: look again at once, after a step of them.
            let timeout = if self.dirs.as_ref().is_some_and(DirWatch::marking) {
                PollTimeout::ZERO
            } else {
                PollTimeout::NONE
            };
            match nix::poll::poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    self.error(format!("poll: {e}"));
                    return;
                }
            }
            let ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
            let (events, stopping, mounts) = (ready(&fds[0]), ready(&fds[1]), ready(&fds[2]));
            let entries =
                fds.get(3).is_some_and(ready) || self.dirs.as_ref().is_some_and(DirWatch::marking);
            if stopping {
                // `x`: stop (or the writer is gone); `m`: the exec marks are to change.
                let mut buf = [0u8; 64];
                match (&mut &*stop).read(&mut buf) {
                    Ok(n) if n > 0 && !buf[..n].contains(&b'x') => {
                        if let Err(e) = self.mark_exec() {
                            self.error(e.to_string());
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    _ => return,
                }
            }
            if mounts {
                self.rescan();
            }
            if events {
                self.drain();
            }
            if entries {
                self.drain_dirs();
            }
            self.publish();
        }
    }

    /// Reads and handles every queued event.
    fn drain(&mut self) {
        loop {
            let events = match self.group.read_events() {
                Ok(events) if events.is_empty() => return,
                Ok(events) => events,
                Err(Errno::EAGAIN) => return,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    self.error(format!("reading fanotify events: {e}"));
                    return;
                }
            };
            for event in events {
                self.handle(&event);
            }
        }
    }

    fn handle(&mut self, event: &FanotifyEvent) {
        let read_at = Instant::now();
        self.stats.events += 1;
        let mask = event.mask();
        if mask.contains(MaskFlags::FAN_Q_OVERFLOW) {
            self.stats.overflows += 1;
            self.error("fanotify queue overflow: events were lost".into());
        }
        let Some(fd) = event.fd() else { return };
        let pid = u32::try_from(event.pid()).unwrap_or(0);
        if mask.intersects(MaskFlags::FAN_OPEN_PERM | MaskFlags::FAN_OPEN_EXEC_PERM) {
            self.stats.permission_events += 1;
            let mut response = Response::FAN_ALLOW;
            if pid != self.own_pid && event.check_version() {
                if mask.contains(MaskFlags::FAN_OPEN_EXEC_PERM) {
                    response = match self.on_exec(fd, pid, true, read_at) {
                        Ok(response) => response,
                        Err(e) => {
                            self.error(format!("launch by pid {pid} (allowed): {e}"));
                            Response::FAN_ALLOW
                        }
                    };
                }
                if mask.contains(MaskFlags::FAN_OPEN_PERM) && response == Response::FAN_ALLOW {
                    response = match self.on_removable(fd, pid, ActivityKind::Open, read_at) {
                        Ok(response) => response,
                        Err(e) => {
                            self.error(format!("permission event of pid {pid} (allowed): {e}"));
                            Response::FAN_ALLOW
                        }
                    };
                }
            }
            if let Err(e) = self
                .group
                .write_response(FanotifyResponse::new(fd, response))
            {
                self.error(format!("answering the permission event of pid {pid}: {e}"));
            }
            let latency = read_at.elapsed();
            if latency > self.stats.max_permission_latency {
                self.stats.max_permission_latency = latency;
            }
        }
        if pid == self.own_pid || !event.check_version() {
            return;
        }
        if mask.contains(MaskFlags::FAN_OPEN_EXEC)
            && !mask.contains(MaskFlags::FAN_OPEN_EXEC_PERM)
            && let Err(e) = self.on_exec(fd, pid, false, read_at)
        {
            self.error(format!("launch by pid {pid}: {e}"));
        }
        let notified = mask & (MaskFlags::FAN_OPEN | MaskFlags::FAN_CLOSE_WRITE);
        if notified.is_empty() {
            return;
        }
        if let Err(e) = self.on_notification(fd, pid, mask, read_at) {
            self.error(format!("event of pid {pid}: {e}"));
        }
    }

    fn on_notification(
        &mut self,
        fd: BorrowedFd<'_>,
        pid: u32,
        mask: MaskFlags,
        read_at: Instant,
    ) -> Result<(), AgentError> {
        let path = fd_path(fd)?;
        if self.removable_mount(&path).is_some() {
            if mask.contains(MaskFlags::FAN_OPEN) && !mask.contains(MaskFlags::FAN_OPEN_PERM) {
                self.activity(ActivityKind::Open, &path, true, pid, None);
            }
            if mask.contains(MaskFlags::FAN_CLOSE_WRITE) {
                // Observing: a write happened, decide now (enforcing: decided at the open).
                if self.enforcing_on(&path) {
                    self.activity(ActivityKind::CloseWrite, &path, true, pid, None);
                } else {
                    self.on_removable(fd, pid, ActivityKind::CloseWrite, read_at)?;
                }
            }
            return Ok(());
        }
        if !self.watched.iter().any(|w| path.starts_with(w)) {
            return Ok(());
        }
        if mask.contains(MaskFlags::FAN_OPEN) {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let before = self.classifier.stats();
            let c = self.classifier.classify_fd(fd, &name)?;
            let after = self.classifier.stats();
            self.stats.classified_files += after.inspected - before.inspected;
            self.stats.cache_hits += after.cache_hits - before.cache_hits;
            self.taint.record(
                pid,
                Source {
                    path: path.to_string_lossy().into_owned(),
                    classification: c.clone(),
                    opened: read_at,
                },
            );
            let info = self.recent.get(pid, read_at);
            let user = self.user(&info);
            self.activity_of(ActivityKind::Open, &path, false, &info, &user, Some(c));
            // Kept for when the process is gone before its write is seen (observing).
            self.processes.insert(pid, info);
        }
        if mask.contains(MaskFlags::FAN_CLOSE_WRITE) {
            self.activity(ActivityKind::CloseWrite, &path, false, pid, None);
        }
        Ok(())
    }

    /// Reports the entries created, deleted and renamed since the last read.
    fn drain_dirs(&mut self) {
        let Some(dirs) = self.dirs.as_mut() else {
            return;
        };
        let drained = dirs.drain();
        for problem in drained.problems {
            self.error(problem);
        }
        for change in drained.changes {
            self.on_change(change);
        }
    }

    fn on_change(&mut self, change: Change) {
        if change.pid == self.own_pid {
            return;
        }
        let removable = self.removable_mount(&change.path).is_some();
        if !removable && !self.watched.iter().any(|w| change.path.starts_with(w)) {
            return;
        }
        self.stats.events += 1;
        let mut info = self.recent.get(change.pid, Instant::now());
        if info.name.is_none()
            && let Some(known) = self.processes.get(&change.pid)
        {
            info = known.clone();
        }
        let user = self.user(&info);
        let (kind, previous) = match change.kind {
            ChangeKind::Created => (ActivityKind::Create, None),
            ChangeKind::Deleted => (ActivityKind::Delete, None),
            ChangeKind::Renamed { from } => (
                ActivityKind::Rename,
                Some(from.to_string_lossy().into_owned()),
            ),
        };
        self.send(Record::Activity(FileActivity {
            kind,
            path: change.path.to_string_lossy().into_owned(),
            previous,
            dir: change.dir,
            removable,
            pid: info.pid,
            uid: info.uid,
            user,
            process: info.name.clone(),
            exe: info.exe.clone(),
            classification: None,
            time: jiff::Timestamp::now(),
        }));
    }

    /// Marks the directories under `root` for entry events.
    fn watch_dirs(&mut self, root: &Path) {
        let Some(dirs) = self.dirs.as_mut() else {
            return;
        };
        let problems = dirs.watch(root);
        tracing::info!(root = %root.display(), directories = dirs.marked(), "directories watched");
        for problem in problems {
            self.error(problem);
        }
    }

    /// An open (permission event) or a finished write (observing) on a removable mount:
    /// reports it and, when the process holds a source, decides.
    fn on_removable(
        &mut self,
        fd: BorrowedFd<'_>,
        pid: u32,
        kind: ActivityKind,
        read_at: Instant,
    ) -> Result<Response, AgentError> {
        let path = fd_path(fd)?;
        let Some(mount) = self.removable_mount(&path).cloned() else {
            return Ok(Response::FAN_ALLOW);
        };
        let mut info = ProcessInfo::read(pid);
        if info.name.is_none()
            && let Some(known) = self.processes.get(&pid)
        {
            info = known.clone();
        }
        let user = self.user(&info);
        self.activity_of(kind, &path, true, &info, &user, None);
        let dest_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(source) = self
            .taint
            .source_for(pid, dest_name.as_deref(), read_at)
            .cloned()
        else {
            return Ok(Response::FAN_ALLOW);
        };
        let enforced = kind == ActivityKind::Open;
        if enforced && open_intent(pid) == OpenIntent::Read {
            return Ok(Response::FAN_ALLOW);
        }
        let device = match &self.device_of {
            Some(resolve) => resolve(&mount),
            None => self.rules.usb_device(&mount),
        };
        let c = &source.classification;
        let mut request = Request {
            channel: Some(Channel::RemovableMedia),
            time: None,
            user,
            host: self.host.clone(),
            person: Default::default(),
            object: ObjectFacts {
                extension: Path::new(&source.path)
                    .extension()
                    .map(|e| clean(&e.to_string_lossy()).to_lowercase()),
                path: Some(clean(&source.path)),
                labels: c.labels.clone(),
                findings: c.findings,
                size: Some(c.size),
            },
            destination: DestinationFacts {
                device,
                name: Some(clean(&mount.mount_point.to_string_lossy())),
                ..Default::default()
            },
            process: Some(info.facts()).map(|mut p| {
                p.name = p.name.map(|n| clean(&n));
                p.path = p.path.map(|n| clean(&n));
                p
            }),
            justification: None,
        };
        let policy = self.policy.load();
        let now = jiff::Timestamp::now();
        let decision = policy.decide(&request, now);
        let mut verdict = decision.verdict(None);
        // A `justify` rule: the reason its person gave since (`mamori justify`) lets this copy
        // through, recorded as overridden with the reason; without one, the denial waits for
        // a reason. Only a denial carried out waits: an observed copy has happened already.
        if enforced
            && !verdict.permits()
            && let (Some(justifications), Some(uid)) = (&self.justifications, info.uid)
            && let Some(reason) = justifications.consult(uid, &policy, &decision, &request, now)
        {
            tracing::info!(uid, destination = %path.display(), "allowed with a justification");
            verdict = decision.verdict(Some(&reason));
            request.justification = Some(reason);
        }
        let denied = enforced && !verdict.permits();
        let record = DecisionRecord {
            request,
            decision,
            verdict,
            policy,
            destination_path: path.to_string_lossy().into_owned(),
            enforced,
            denied,
            latency: read_at.elapsed(),
            time: now,
        };
        Ok(self.conclude(record, true))
    }

    /// Counts a decision, reports it when `report`, and gives the kernel's answer.
    fn conclude(&mut self, record: DecisionRecord, report: bool) -> Response {
        self.stats.decisions += 1;
        let denied = record.denied;
        if denied {
            self.stats.denied += 1;
            tracing::info!(
                channel = record.request.channel.map_or("", |c| c.as_str()),
                source = record.request.object.path.as_deref().unwrap_or(""),
                destination = %record.destination_path,
                pid = record.request.process.as_ref().and_then(|p| p.pid).unwrap_or(0),
                "denied"
            );
        }
        if report {
            self.send(Record::Decision(Box::new(record)));
        }
        if denied {
            Response::FAN_DENY
        } else {
            Response::FAN_ALLOW
        }
    }

    /// A launch (a permission event when `enforced`, else a notification): reports it and,
    /// when an `app_launch` rule matches, decides it. Work kept to a `readlink`, the `/proc`
    /// reads of [`ProcessInfo::read`] and one decision: on `/` this runs for every exec.
    fn on_exec(
        &mut self,
        fd: BorrowedFd<'_>,
        pid: u32,
        enforced: bool,
        read_at: Instant,
    ) -> Result<Response, AgentError> {
        let path = fd_path(fd)?;
        self.stats.execs += 1;
        let info = ProcessInfo::read(pid);
        let user = self.user(&info);
        let removable = self.removable_mount(&path).is_some();
        self.activity_of(ActivityKind::Exec, &path, removable, &info, &user, None);
        let request = launch_request(&path, pid, user, self.host.clone());
        let policy = self.policy.load();
        let now = jiff::Timestamp::now();
        let decision = policy.decide(&request, now);
        let Some((verdict, denied)) = judge_launch(&decision, enforced) else {
            return Ok(Response::FAN_ALLOW);
        };
        let report = decision.is_recorded();
        let record = DecisionRecord {
            request,
            decision,
            verdict,
            policy,
            destination_path: path.to_string_lossy().into_owned(),
            enforced,
            denied,
            latency: read_at.elapsed(),
            time: now,
        };
        Ok(self.conclude(record, report))
    }

    /// Marks the exec mounts for permission events (when wanted and allowed) or for
    /// notifications, then takes off the marks of the other kind. Failing permission marks
    /// fall back to notifications (reported); failing notification marks are an error.
    fn mark_exec(&mut self) -> Result<(), AgentError> {
        if self.exec_mounts.is_empty() {
            return Ok(());
        }
        let want = self.enforce && self.exec_wanted.load(Ordering::SeqCst);
        if self.exec_marked == Some(want) {
            return Ok(());
        }
        let add = MarkFlags::FAN_MARK_ADD | MarkFlags::FAN_MARK_MOUNT;
        let remove = MarkFlags::FAN_MARK_REMOVE | MarkFlags::FAN_MARK_MOUNT;
        let mut perm = want;
        let mut failed = None;
        if perm {
            for (i, path) in self.exec_mounts.iter().enumerate() {
                if let Err(e) = self.group.mark(
                    add,
                    MaskFlags::FAN_OPEN_EXEC_PERM,
                    AT_FDCWD,
                    Some(path.as_path()),
                ) {
                    failed = Some(explain(
                        &format!("fanotify_mark({}, FAN_OPEN_EXEC_PERM)", path.display()),
                        e,
                    ));
                    for done in &self.exec_mounts[..i] {
                        let _ = self.group.mark(
                            remove,
                            MaskFlags::FAN_OPEN_EXEC_PERM,
                            AT_FDCWD,
                            Some(done.as_path()),
                        );
                    }
                    perm = false;
                    break;
                }
            }
        }
        if let Some(why) = failed {
            self.error(format!("{why}; launches are only observed"));
        }
        if !perm && self.exec_marked != Some(false) {
            for path in &self.exec_mounts {
                self.group
                    .mark(
                        add,
                        MaskFlags::FAN_OPEN_EXEC,
                        AT_FDCWD,
                        Some(path.as_path()),
                    )
                    .map_err(|e| {
                        AgentError::Unavailable(explain(
                            &format!("fanotify_mark({}, FAN_OPEN_EXEC)", path.display()),
                            e,
                        ))
                    })?;
            }
        }
        if let Some(old) = self.exec_marked
            && old != perm
        {
            let mask = if old {
                MaskFlags::FAN_OPEN_EXEC_PERM
            } else {
                MaskFlags::FAN_OPEN_EXEC
            };
            for path in &self.exec_mounts {
                // Several paths may share a mount: the second removal finds nothing.
                let _ = self
                    .group
                    .mark(remove, mask, AT_FDCWD, Some(path.as_path()));
            }
        }
        self.exec_marked = Some(perm);
        self.exec_enforcing.store(perm, Ordering::SeqCst);
        tracing::info!(mounts = ?self.exec_mounts, enforcing = perm, "exec mounts marked");
        Ok(())
    }

    fn removable_mount(&self, path: &Path) -> Option<&Mount> {
        self.removable
            .iter()
            .map(|(m, _)| m)
            .filter(|m| path.starts_with(&m.mount_point))
            .max_by_key(|m| m.mount_point.components().count())
    }

    fn enforcing_on(&self, path: &Path) -> bool {
        self.removable
            .iter()
            .filter(|(m, _)| path.starts_with(&m.mount_point))
            .max_by_key(|(m, _)| m.mount_point.components().count())
            .is_some_and(|(_, perm)| *perm)
    }

    /// Marks removable mounts that appeared and forgets those that went.
    fn rescan(&mut self) {
        let mounts = match read_mounts() {
            Ok(mounts) => mounts,
            Err(e) => {
                self.error(format!("reading /proc/self/mountinfo: {e}"));
                return;
            }
        };
        let present: HashSet<u64> = mounts.iter().map(|m| m.id).collect();
        let (kept, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut self.removable)
            .into_iter()
            .partition(|(m, _)| present.contains(&m.id));
        self.removable = kept;
        if let Some(dirs) = self.dirs.as_mut() {
            for (mount, _) in gone {
                dirs.forget(&mount.mount_point);
            }
        }
        for mount in mounts {
            if self.removable.iter().any(|(m, _)| m.id == mount.id)
                || !self.rules.is_removable(&mount)
            {
                continue;
            }
            let flags = MarkFlags::FAN_MARK_ADD | MarkFlags::FAN_MARK_MOUNT;
            let point = mount.mount_point.clone();
            let perm = self.enforce
                && match self.group.mark(
                    flags,
                    MaskFlags::FAN_OPEN_PERM | MaskFlags::FAN_CLOSE_WRITE,
                    AT_FDCWD,
                    Some(point.as_path()),
                ) {
                    Ok(()) => true,
                    Err(e) => {
                        self.error(format!(
                            "{}; observing only",
                            explain(&format!("fanotify_mark({})", point.display()), e)
                        ));
                        false
                    }
                };
            if !perm
                && let Err(e) = self.group.mark(
                    flags,
                    MaskFlags::FAN_OPEN | MaskFlags::FAN_CLOSE_WRITE,
                    AT_FDCWD,
                    Some(point.as_path()),
                )
            {
                self.error(explain(&format!("fanotify_mark({})", point.display()), e));
                continue;
            }
            tracing::info!(mount = %point.display(), enforcing = perm, "removable mount marked");
            self.removable.push((mount, perm));
            if let Some(dirs) = self.dirs.as_mut() {
                // A step at a time, between permission events.
                for problem in dirs.watch_later(&point) {
                    self.error(problem);
                }
            }
        }
        *self
            .shared_removable
            .lock()
            .unwrap_or_else(|e| e.into_inner()) =
            self.removable.iter().map(|(m, _)| m.clone()).collect();
    }

    fn user(&mut self, info: &ProcessInfo) -> String {
        match info.uid {
            Some(uid) => clean(&self.users.name(uid)),
            None => "unknown".into(),
        }
    }

    fn activity(
        &mut self,
        kind: ActivityKind,
        path: &Path,
        removable: bool,
        pid: u32,
        classification: Option<Arc<Classification>>,
    ) {
        let info = self.recent.get(pid, Instant::now());
        let user = self.user(&info);
        self.activity_of(kind, path, removable, &info, &user, classification);
    }

    fn activity_of(
        &mut self,
        kind: ActivityKind,
        path: &Path,
        removable: bool,
        info: &ProcessInfo,
        user: &str,
        classification: Option<Arc<Classification>>,
    ) {
        self.send(Record::Activity(FileActivity {
            kind,
            path: path.to_string_lossy().into_owned(),
            previous: None,
            dir: false,
            removable,
            pid: info.pid,
            uid: info.uid,
            user: user.to_string(),
            process: info.name.clone(),
            exe: info.exe.clone(),
            classification,
            time: jiff::Timestamp::now(),
        }));
    }

    fn error(&mut self, message: String) {
        self.stats.errors += 1;
        tracing::warn!("{message}");
        self.send(Record::Error(message));
    }

    fn send(&mut self, record: Record) {
        match self.sink.try_send(record) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => self.stats.dropped += 1,
        }
    }

    fn publish(&mut self) {
        *self.shared_stats.lock().unwrap_or_else(|e| e.into_inner()) = self.stats;
    }
}

/// The request for launching `executable`: channel `app_launch`, the process named by the
/// executable's file name (its `comm` is still the parent's until the exec completes).
fn launch_request(executable: &Path, pid: u32, user: String, host: Option<String>) -> Request {
    Request {
        channel: Some(Channel::AppLaunch),
        user,
        host,
        process: Some(ProcessFacts {
            name: executable.file_name().map(|n| clean(&n.to_string_lossy())),
            path: Some(clean(&executable.to_string_lossy())),
            pid: Some(pid),
        }),
        ..Request::default()
    }
}

/// The verdict on a launch and whether it is denied, or `None` when no rule matched (a
/// launch is only judged by rules: a default action of `block` must not stop every program
/// on the machine). Denied only when enforced and an enforced rule blocks.
fn judge_launch(decision: &Decision, enforced: bool) -> Option<(Verdict, bool)> {
    if decision.matched.is_empty() {
        return None;
    }
    let verdict = decision.verdict(None);
    Some((
        verdict,
        enforced && !verdict.permits() && decision.rule.is_some(),
    ))
}

/// The path of an event's file, from `/proc/self/fd` (` (deleted)` taken off).
fn fd_path(fd: BorrowedFd<'_>) -> Result<PathBuf, AgentError> {
    let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let path = std::fs::read_link(&link).map_err(|e| AgentError::io(&link, e))?;
    Ok(
        match path.to_str().and_then(|p| p.strip_suffix(" (deleted)")) {
            Some(p) => PathBuf::from(p),
            None => path,
        },
    )
}

/// Text as a request may carry it: control characters replaced.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_control_characters() {
        assert_eq!(clean("a\nb"), "a\u{FFFD}b");
        assert_eq!(clean("社外秘.txt"), "社外秘.txt");
    }

    #[test]
    fn policy_handle_swaps() {
        let text = |rev: u32| format!("format = 1\nname = \"p\"\nrevision = {rev}\n");
        let handle =
            PolicyHandle::new(Policy::from_toml(&text(1)).unwrap_or_else(|e| panic!("{e}")));
        let before = handle.load();
        handle.store(Policy::from_toml(&text(2)).unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(before.revision, 1);
        assert_eq!(handle.load().revision, 2);
    }

    const LAUNCH_POLICY: &str = r#"
format = 1
name = "p"
revision = 1
[[rules]]
id = "app-tor"
action = "block"
when.channels = ["app_launch"]
when.processes = ["torbrowser", "tor"]
[[rules]]
id = "usb"
action = "block"
when.channels = ["removable_media"]
"#;

    #[test]
    fn launches_are_judged_by_rules() {
        let policy = Policy::from_toml(LAUNCH_POLICY).unwrap_or_else(|e| panic!("{e}"));
        let now = jiff::Timestamp::now();
        let request = launch_request(Path::new("/opt/tor/torbrowser"), 42, "alice".into(), None);
        let process = request.process.clone().unwrap_or_default();
        assert_eq!(process.name.as_deref(), Some("torbrowser"));
        assert_eq!(process.path.as_deref(), Some("/opt/tor/torbrowser"));
        assert_eq!(process.pid, Some(42));
        assert!(request.check().is_ok());
        let decision = policy.decide(&request, now);
        assert_eq!(
            judge_launch(&decision, true),
            Some((Verdict::Blocked, true))
        );
        assert_eq!(
            judge_launch(&decision, false),
            Some((Verdict::Blocked, false))
        );
        // `tor.exe` is `tor` too; `true` matches nothing and is not judged at all.
        let exe = launch_request(Path::new("/tmp/tor.exe"), 1, "alice".into(), None);
        assert_eq!(
            judge_launch(&policy.decide(&exe, now), true),
            Some((Verdict::Blocked, true))
        );
        let plain = launch_request(Path::new("/usr/bin/true"), 1, "alice".into(), None);
        assert_eq!(judge_launch(&policy.decide(&plain, now), true), None);
        // A default action of block does not stop every program.
        let strict = Policy::from_toml(&format!("default_action = \"block\"\n{LAUNCH_POLICY}"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(judge_launch(&strict.decide(&plain, now), true), None);
        // Simulated: decided and recorded, never denied.
        let simulated = Policy::from_toml(&format!("mode = \"simulate\"\n{LAUNCH_POLICY}"))
            .unwrap_or_else(|e| panic!("{e}"));
        let decision = simulated.decide(&request, now);
        assert_eq!(
            judge_launch(&decision, true),
            Some((Verdict::Allowed, false))
        );
        assert!(decision.is_recorded());
    }

    #[test]
    fn launch_names_are_cleaned() {
        let request = launch_request(Path::new("/tmp/a\nb"), 1, "u".into(), None);
        let process = request.process.unwrap_or_default();
        assert_eq!(process.name.as_deref(), Some("a\u{FFFD}b"));
    }
}
