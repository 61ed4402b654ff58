//! What the sensor learns of the process behind an event, from `/proc`: its name (`comm`),
//! executable (`exe`), real user id and the user's name (from a `passwd` file), and — for a
//! process blocked in `open` waiting on a permission event — whether it opened for writing
//! (`/proc/PID/syscall`).
//!
//! Everything here is best effort: a process may be gone by the time it is read, and a field
//! that cannot be read is `None`, never an error that stops the sensor.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mamori_policy::ProcessFacts;

/// What is known of one process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    /// `/proc/PID/comm`.
    pub name: Option<String>,
    /// `/proc/PID/exe`.
    pub exe: Option<String>,
    /// The real user id (`Uid:` in `/proc/PID/status`).
    pub uid: Option<u32>,
}

impl ProcessInfo {
    /// Reads what `/proc` still holds of `pid`.
    pub fn read(pid: u32) -> ProcessInfo {
        let dir = PathBuf::from(format!("/proc/{pid}"));
        let name = std::fs::read_to_string(dir.join("comm"))
            .ok()
            .map(|s| s.trim_end_matches('\n').to_string())
            .filter(|s| !s.is_empty());
        let exe = std::fs::read_link(dir.join("exe"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned());
        let uid = std::fs::read_to_string(dir.join("status"))
            .ok()
            .and_then(|s| uid_of_status(&s));
        ProcessInfo {
            pid,
            name,
            exe,
            uid,
        }
    }

    /// The process as the policy sees it.
    pub fn facts(&self) -> ProcessFacts {
        ProcessFacts {
            name: self.name.clone(),
            path: self.exe.clone(),
            pid: Some(self.pid),
        }
    }
}

/// Processes read lately, for *reporting* activity: a process seen less than `max_age` ago
/// whose executable is unchanged (one `readlink`) is not read again — `comm` and above all
/// `status` were most of the sensor's cost at a steady load — and one that is gone by now
/// is still named. Decisions read `/proc` afresh ([`ProcessInfo::read`]).
#[derive(Debug)]
pub struct ProcessCache {
    max_age: Duration,
    entries: HashMap<u32, (Instant, ProcessInfo)>,
}

/// Most processes kept; older entries are dropped when it would grow past this.
const MAX_PROCESSES: usize = 4096;

impl ProcessCache {
    pub fn new(max_age: Duration) -> ProcessCache {
        ProcessCache {
            max_age,
            entries: HashMap::new(),
        }
    }

    /// What is known of `pid` at `now`.
    pub fn get(&mut self, pid: u32, now: Instant) -> ProcessInfo {
        if let Some((at, known)) = self.entries.get(&pid)
            && now.saturating_duration_since(*at) < self.max_age
        {
            match std::fs::read_link(format!("/proc/{pid}/exe")) {
                Ok(exe) if known.exe.as_deref() == Some(&*exe.to_string_lossy()) => {
                    return known.clone();
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return known.clone(),
                _ => {}
            }
        }
        let info = ProcessInfo::read(pid);
        if info.name.is_none() && info.uid.is_none() {
            // Gone: nothing worth keeping.
            return info;
        }
        if self.entries.len() >= MAX_PROCESSES {
            let max_age = self.max_age;
            self.entries
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < max_age);
            if self.entries.len() >= MAX_PROCESSES {
                self.entries.clear();
            }
        }
        self.entries.insert(pid, (now, info.clone()));
        info
    }
}

/// The real uid from the text of `/proc/PID/status`.
pub fn uid_of_status(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|uid| uid.parse().ok())
}

/// User names by uid, from a `passwd` file (`/etc/passwd`), cached.
#[derive(Debug)]
pub struct UserNames {
    passwd: PathBuf,
    cache: HashMap<u32, String>,
}

/// Most names kept; the cache is emptied when it would grow past this.
const MAX_NAMES: usize = 4096;

impl UserNames {
    pub fn new(passwd: impl Into<PathBuf>) -> UserNames {
        UserNames {
            passwd: passwd.into(),
            cache: HashMap::new(),
        }
    }

    /// The name of `uid`, or the number as text when the file does not name it.
    pub fn name(&mut self, uid: u32) -> String {
        if let Some(name) = self.cache.get(&uid) {
            return name.clone();
        }
        let name = std::fs::read_to_string(&self.passwd)
            .ok()
            .and_then(|text| name_in_passwd(&text, uid))
            .unwrap_or_else(|| uid.to_string());
        if self.cache.len() >= MAX_NAMES {
            self.cache.clear();
        }
        self.cache.insert(uid, name.clone());
        name
    }

    pub fn passwd(&self) -> &Path {
        &self.passwd
    }
}

/// The first name `passwd` text gives `uid`.
pub fn name_in_passwd(text: &str, uid: u32) -> Option<String> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        let id: u32 = fields.next()?.trim().parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_string())
    })
}

/// Whether a process blocked in `open` asked to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenIntent {
    Read,
    Write,
    /// Not known (`openat2`, another thread, no access to `/proc/PID/syscall`): treated as a
    /// write by the enforcer.
    Unknown,
}

/// How `pid` is opening a file, from `/proc/PID/syscall` (read while it waits on the
/// permission event).
pub fn open_intent(pid: u32) -> OpenIntent {
    std::fs::read_to_string(format!("/proc/{pid}/syscall"))
        .map(|s| intent_of_syscall(&s))
        .unwrap_or(OpenIntent::Unknown)
}

/// Syscall numbers of `open`, `openat`, `creat` on this architecture.
#[cfg(target_arch = "x86_64")]
const OPEN_SYSCALLS: (Option<u64>, Option<u64>, Option<u64>) = (Some(2), Some(257), Some(85));
#[cfg(target_arch = "aarch64")]
const OPEN_SYSCALLS: (Option<u64>, Option<u64>, Option<u64>) = (None, Some(56), None);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const OPEN_SYSCALLS: (Option<u64>, Option<u64>, Option<u64>) = (None, None, None);

const O_ACCMODE: u64 = 0o3;
const O_CREAT: u64 = 0o100;
const O_TRUNC: u64 = 0o1000;

/// The intent from the text of `/proc/PID/syscall`: `NR arg0 … arg5 sp pc`, hexadecimal.
pub fn intent_of_syscall(text: &str) -> OpenIntent {
    let mut fields = text.split_whitespace();
    let Some(nr) = fields.next().and_then(|n| n.parse::<u64>().ok()) else {
        return OpenIntent::Unknown;
    };
    let args: Vec<u64> = fields
        .take(6)
        .filter_map(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
        .collect();
    let (open, openat, creat) = OPEN_SYSCALLS;
    let flags = if Some(nr) == creat {
        return OpenIntent::Write;
    } else if Some(nr) == open {
        args.get(1)
    } else if Some(nr) == openat {
        args.get(2)
    } else {
        None
    };
    match flags {
        Some(flags) if flags & O_ACCMODE != 0 || flags & (O_CREAT | O_TRUNC) != 0 => {
            OpenIntent::Write
        }
        Some(_) => OpenIntent::Read,
        None => OpenIntent::Unknown,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn reads_itself() {
        let me = ProcessInfo::read(std::process::id());
        assert!(me.name.is_some());
        assert!(me.exe.is_some());
        assert!(me.uid.is_some());
        assert_eq!(me.facts().pid, Some(std::process::id()));
    }

    #[test]
    fn uid_and_names() {
        assert_eq!(
            uid_of_status("Name:\tcp\nUid:\t1000\t0\t0\t0\nGid:\t0\n"),
            Some(1000)
        );
        assert_eq!(uid_of_status("Name: x\n"), None);
        let passwd = "root:x:0:0:root:/root:/bin/bash\n# comment\nbad\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(name_in_passwd(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(name_in_passwd(passwd, 0).as_deref(), Some("root"));
        assert_eq!(name_in_passwd(passwd, 5), None);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("passwd"), passwd).unwrap();
        let mut names = UserNames::new(dir.path().join("passwd"));
        assert_eq!(names.name(1000), "alice");
        assert_eq!(names.name(4242), "4242");
    }

    #[test]
    fn recent_processes_are_not_read_again_while_their_executable_is_the_same() {
        let me = std::process::id();
        let now = Instant::now();
        let mut cache = ProcessCache::new(Duration::from_secs(1));
        let read = cache.get(me, now);
        assert_eq!(read, ProcessInfo::read(me));
        // A name /proc does not hold shows whether the entry was used or /proc read again.
        cache.entries.get_mut(&me).unwrap().1.name = Some("cached".into());
        assert_eq!(cache.get(me, now).name.as_deref(), Some("cached"));
        let later = now + Duration::from_secs(1);
        assert_eq!(cache.get(me, later), read, "too old: read again");
        cache.entries.get_mut(&me).unwrap().1.exe = Some("/usr/bin/other".into());
        assert_eq!(cache.get(me, later), read, "another executable: read again");

        // A process that is gone is named by what was read of it.
        let gone = u32::MAX - 1;
        let mut known = read.clone();
        known.pid = gone;
        cache.entries.insert(gone, (later, known.clone()));
        assert_eq!(cache.get(gone, later), known);
        assert_eq!(cache.get(gone, later + Duration::from_secs(2)).name, None);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn intents() {
        // openat(AT_FDCWD, path, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC)
        let write = "257 0xffffff9c 0x7ffd1 0x80241 0x1b6 0x0 0x0 0x7ffd0 0x7f00";
        assert_eq!(intent_of_syscall(write), OpenIntent::Write);
        let read = "257 0xffffff9c 0x7ffd1 0x80000 0x0 0x0 0x0 0x7ffd0 0x7f00";
        assert_eq!(intent_of_syscall(read), OpenIntent::Read);
        assert_eq!(
            intent_of_syscall("2 0x7ffd1 0x2 0x0 0x0 0x0 0x0 0x1 0x2"),
            OpenIntent::Write
        );
        assert_eq!(
            intent_of_syscall("85 0x1 0x1b6 0 0 0 0 1 2"),
            OpenIntent::Write
        );
        assert_eq!(
            intent_of_syscall("437 0x1 0x2 0x3 0x18 0 0 1 2"),
            OpenIntent::Unknown
        );
        assert_eq!(intent_of_syscall("running"), OpenIntent::Unknown);
        assert_eq!(intent_of_syscall(""), OpenIntent::Unknown);
    }
}
