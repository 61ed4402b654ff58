//! Logon sessions from the utmp file (`/run/utmp`): who is logged on, where from, since when.
//!
//! utmp is what `who` and `w` read: one fixed-size record per terminal line, written by
//! `login`, `sshd`, display managers and `systemd-logind`'s utmp support. The agent polls it
//! (cheap: a few kilobytes) and reports sessions that appear (`logon`) and disappear
//! (`logoff`); the user of the newest local session is the one a USB device or a desktop
//! notification is for.
//!
//! The record layout is glibc's on 64-bit Linux (384 bytes; the time as two 32-bit fields).
//! Records of any other type than a user process, and malformed ones, are skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Size of one glibc utmp record on 64-bit Linux.
pub const RECORD: usize = 384;
/// `ut_type` of a user's session.
const USER_PROCESS: i16 = 7;

/// One session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    /// The terminal line: `pts/0`, `tty1`, `:0`, `seat0`…
    pub line: String,
    /// Where from (the remote host or display); `None` for a local console.
    pub host: Option<String>,
    pub pid: i32,
    pub since: jiff::Timestamp,
}

impl Session {
    /// A session at the machine itself (a console or a local display), not over the network.
    pub fn is_local(&self) -> bool {
        match self.host.as_deref() {
            None => true,
            Some(host) => host.starts_with(':'),
        }
    }
}

/// What changed between two polls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Logon(Session),
    Logoff(Session),
}

/// A NUL-terminated field as text, without control characters.
fn text(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end])
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

fn i32_at(bytes: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The user sessions in the bytes of a utmp file.
pub fn parse_utmp(bytes: &[u8]) -> Vec<Session> {
    bytes
        .chunks_exact(RECORD)
        .filter_map(|record| {
            let kind = i16::from_le_bytes([record[0], record[1]]);
            if kind != USER_PROCESS {
                return None;
            }
            let pid = i32_at(record, 4)?;
            let line = text(&record[8..40]);
            let user = text(&record[44..76]);
            let host = text(&record[76..332]);
            let seconds = i32_at(record, 340)?;
            let micros = i32_at(record, 344)?;
            if user.is_empty() || line.is_empty() {
                return None;
            }
            let since = jiff::Timestamp::new(
                i64::from(seconds),
                micros.clamp(0, 999_999).saturating_mul(1000),
            )
            .ok()?;
            Some(Session {
                user,
                line,
                host: (!host.is_empty()).then_some(host),
                pid,
                since,
            })
        })
        .collect()
}

/// The sessions of a utmp file, followed from poll to poll.
pub struct Sessions {
    path: PathBuf,
    known: BTreeMap<(String, i32), Session>,
}

impl Sessions {
    /// Follows `path` (the first of `/run/utmp` and `/var/run/utmp` that exists, normally).
    pub fn new(path: &Path) -> Sessions {
        Sessions {
            path: path.to_path_buf(),
            known: BTreeMap::new(),
        }
    }

    /// The system's utmp file, if there is one.
    pub fn system_file() -> Option<PathBuf> {
        ["/run/utmp", "/var/run/utmp"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    }

    /// Sessions that appeared or ended since the last poll (every session now, at the first).
    /// An unreadable file changes nothing.
    pub fn poll(&mut self) -> Vec<Change> {
        let Ok(bytes) = std::fs::read(&self.path) else {
            return Vec::new();
        };
        let now: BTreeMap<(String, i32), Session> = parse_utmp(&bytes)
            .into_iter()
            .map(|s| ((s.line.clone(), s.pid), s))
            .collect();
        let mut changes: Vec<Change> = self
            .known
            .iter()
            .filter(|(key, _)| !now.contains_key(*key))
            .map(|(_, s)| Change::Logoff(s.clone()))
            .collect();
        changes.extend(
            now.iter()
                .filter(|(key, _)| !self.known.contains_key(*key))
                .map(|(_, s)| Change::Logon(s.clone())),
        );
        self.known = now;
        changes
    }

    /// The user of the newest local session (who is at the machine), if any.
    pub fn console_user(&self) -> Option<&str> {
        self.known
            .values()
            .filter(|s| s.is_local())
            .max_by_key(|s| s.since)
            .map(|s| s.user.as_str())
    }
}

/// One utmp record, for tests.
#[cfg(test)]
fn record(kind: i16, pid: i32, line: &str, user: &str, host: &str, seconds: i32) -> Vec<u8> {
    let mut bytes = vec![0u8; RECORD];
    bytes[0..2].copy_from_slice(&kind.to_le_bytes());
    bytes[4..8].copy_from_slice(&pid.to_le_bytes());
    let mut put = |at: usize, max: usize, text: &str| {
        let text = text.as_bytes();
        let n = text.len().min(max);
        bytes[at..at + n].copy_from_slice(&text[..n]);
    };
    put(8, 32, line);
    put(44, 32, user);
    put(76, 256, host);
    bytes[340..344].copy_from_slice(&seconds.to_le_bytes());
    bytes
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn user_processes_are_sessions_others_are_not() {
        let mut bytes = record(2, 0, "~", "reboot", "6.1.0", 1_700_000_000);
        bytes.extend(record(
            USER_PROCESS,
            812,
            "tty1",
            "yamada",
            "",
            1_700_000_100,
        ));
        bytes.extend(record(
            USER_PROCESS,
            913,
            "pts/0",
            "sato",
            "10.0.0.5",
            1_700_000_200,
        ));
        bytes.extend(record(8, 913, "pts/1", "", "", 1_700_000_300));
        let sessions = parse_utmp(&bytes);
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions[0].user, "yamada");
        assert!(sessions[0].is_local());
        assert_eq!(sessions[1].host.as_deref(), Some("10.0.0.5"));
        assert!(!sessions[1].is_local());
        assert_eq!(sessions[1].since.as_second(), 1_700_000_200);
    }

    #[test]
    fn polls_report_logons_and_logoffs_and_the_console_user() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("utmp");
        let tty = record(USER_PROCESS, 812, "tty1", "yamada", "", 1_700_000_100);
        let ssh = record(
            USER_PROCESS,
            913,
            "pts/0",
            "sato",
            "10.0.0.5",
            1_700_000_200,
        );
        std::fs::write(&path, [tty.clone(), ssh.clone()].concat()).unwrap();
        let mut sessions = Sessions::new(&path);
        let first = sessions.poll();
        assert_eq!(first.len(), 2);
        assert!(first.iter().all(|c| matches!(c, Change::Logon(_))));
        assert_eq!(sessions.console_user(), Some("yamada"));
        assert!(sessions.poll().is_empty());
        // sato logs off; suzuki logs on at the display.
        let display = record(USER_PROCESS, 1001, ":0", "suzuki", ":0", 1_700_000_300);
        std::fs::write(&path, [tty, display].concat()).unwrap();
        let changes = sessions.poll();
        assert_eq!(changes.len(), 2);
        assert!(matches!(&changes[0], Change::Logoff(s) if s.user == "sato"));
        assert!(matches!(&changes[1], Change::Logon(s) if s.user == "suzuki"));
        assert_eq!(sessions.console_user(), Some("suzuki"));
        // A missing file changes nothing.
        std::fs::remove_file(&path).unwrap();
        assert!(sessions.poll().is_empty());
    }

    proptest! {
        #[test]
        fn any_bytes_parse_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let _ = parse_utmp(&bytes);
        }
    }
}
