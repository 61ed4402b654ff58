//! Print jobs from CUPS's page log (`/var/log/cups/page_log`).
//!
//! CUPS writes a line there for every page or group of pages it sends to a printer, in its
//! default `PageLogFormat`:
//!
//! ```text
//! printer user job-id [date-time] page-number num-copies job-billing job-originating-host-name job-name media sides
//! ```
//!
//! e.g. `Office-MFP yamada 42 [02/Dec/2026:10:15:07 +0900] total 3 - 192.0.2.7 設計レビュー資料.pdf iso_a4_210x297mm one-sided`.
//! The job name may hold spaces (CUPS does not quote it), so it is everything between the host
//! and the last two fields. The agent follows the file like `tail -F` — from its end at the
//! first start, from where it stopped after that, from the beginning again when it is rotated
//! or truncated — and reports each job once, at its first line (later lines of the same job
//! add pages, not jobs).
//!
//! Only what CUPS logs is known: the job's name, not its content. Stopping a print of a
//! classified document needs a CUPS filter; this module observes.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// Most bytes read from the log in one poll (a burst is read over several polls).
const MAX_READ: u64 = 1 << 20;
/// How many recent job ids are remembered so that a job's later lines are not new jobs.
const RECENT_JOBS: usize = 4096;

/// One print job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintJob {
    pub printer: String,
    pub user: String,
    pub job: u64,
    pub time: jiff::Timestamp,
    /// The page number, or `None` for a `total` line.
    pub page: Option<u64>,
    /// Copies (or, on a `total` line, the job's total pages).
    pub copies: u64,
    pub billing: Option<String>,
    /// Where the job came from (`localhost`, an address).
    pub host: Option<String>,
    pub name: String,
    pub media: Option<String>,
    pub sides: Option<String>,
}

/// `-` is CUPS's "no value".
fn value(field: &str) -> Option<String> {
    (field != "-" && !field.is_empty()).then(|| field.chars().filter(|c| !c.is_control()).collect())
}

/// `02/Dec/2026:10:15:07 +0900` (CUPS's log time) as a timestamp.
fn log_time(text: &str) -> Option<jiff::Timestamp> {
    jiff::fmt::strtime::parse("%d/%b/%Y:%H:%M:%S %z", text)
        .ok()?
        .to_timestamp()
        .ok()
}

/// One line of the page log, or `None` when it is not in the default format.
pub fn parse_line(line: &str) -> Option<PrintJob> {
    let (head, rest) = line.split_once(" [")?;
    let (time, tail) = rest.split_once("] ")?;
    let mut head = head.split(' ');
    let printer = value(head.next()?)?;
    let user = value(head.next()?)?;
    let job = head.next()?.parse().ok()?;
    if head.next().is_some() {
        return None;
    }
    let fields: Vec<&str> = tail.split(' ').collect();
    // page copies billing host name… media sides: at least seven fields.
    if fields.len() < 7 {
        return None;
    }
    let page = match fields[0] {
        "total" => None,
        n => Some(n.parse().ok()?),
    };
    let copies = fields[1].parse().ok()?;
    let name_fields = &fields[4..fields.len() - 2];
    Some(PrintJob {
        printer,
        user,
        job,
        time: log_time(time)?,
        page,
        copies,
        billing: value(fields[2]),
        host: value(fields[3]),
        name: value(&name_fields.join(" ")).unwrap_or_default(),
        media: value(fields[fields.len() - 2]),
        sides: value(fields[fields.len() - 1]),
    })
}

/// Where the follower stopped: the file's identity and the offset read to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub inode: u64,
    pub offset: u64,
}

/// Follows a page log.
pub struct PageLog {
    path: PathBuf,
    position: Option<Position>,
    /// A line not yet ended by a newline.
    partial: Vec<u8>,
    recent: VecDeque<(String, u64)>,
}

impl PageLog {
    /// Follows `path` from `position` (where an earlier run stopped), or from the file's end.
    pub fn new(path: &Path, position: Option<Position>) -> PageLog {
        let position = position.or_else(|| {
            let meta = std::fs::metadata(path).ok()?;
            Some(Position {
                inode: meta.ino(),
                offset: meta.len(),
            })
        });
        PageLog {
            path: path.to_path_buf(),
            position,
            partial: Vec::new(),
            recent: VecDeque::new(),
        }
    }

    /// Where it has read to (to be kept for the next start).
    pub fn position(&self) -> Option<Position> {
        self.position
    }

    /// New jobs since the last poll, and lines that could not be read (with the reason).
    pub fn poll(&mut self) -> (Vec<PrintJob>, Vec<String>) {
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return (Vec::new(), Vec::new());
        };
        let Ok(meta) = file.metadata() else {
            return (Vec::new(), Vec::new());
        };
        let start = match self.position {
            // Rotated (a new file) or truncated: from its beginning.
            Some(p) if p.inode == meta.ino() && p.offset <= meta.len() => p.offset,
            _ => {
                self.partial.clear();
                0
            }
        };
        let mut bytes = Vec::new();
        let read = file
            .seek(SeekFrom::Start(start))
            .and_then(|_| file.take(MAX_READ).read_to_end(&mut bytes));
        if read.is_err() {
            return (Vec::new(), Vec::new());
        }
        self.position = Some(Position {
            inode: meta.ino(),
            offset: start + bytes.len() as u64,
        });
        self.partial.extend_from_slice(&bytes);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return (Vec::new(), Vec::new());
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        let mut jobs = Vec::new();
        let mut bad = Vec::new();
        for line in String::from_utf8_lossy(&complete).lines() {
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(line) {
                Some(job) => {
                    let key = (job.printer.clone(), job.job);
                    if self.recent.contains(&key) {
                        continue;
                    }
                    if self.recent.len() == RECENT_JOBS {
                        self.recent.pop_front();
                    }
                    self.recent.push_back(key);
                    jobs.push(job);
                }
                None => bad.push(format!("not a CUPS page_log line: {line:?}")),
            }
        }
        (jobs, bad)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Write as _;

    use super::*;
    use proptest::prelude::*;

    const LINE: &str = "Office-MFP yamada 42 [02/Dec/2026:10:15:07 +0900] total 3 - 192.0.2.7 \
                        設計 レビュー 資料.pdf iso_a4_210x297mm one-sided";

    #[test]
    fn default_format_lines_are_jobs() {
        let job = parse_line(LINE).unwrap();
        assert_eq!(job.printer, "Office-MFP");
        assert_eq!(job.user, "yamada");
        assert_eq!(job.job, 42);
        assert_eq!(job.time.to_string(), "2026-12-02T01:15:07Z");
        assert_eq!((job.page, job.copies), (None, 3));
        assert_eq!(job.billing, None);
        assert_eq!(job.host.as_deref(), Some("192.0.2.7"));
        assert_eq!(job.name, "設計 レビュー 資料.pdf");
        assert_eq!(job.media.as_deref(), Some("iso_a4_210x297mm"));
        let page = parse_line(
            "lp root 7 [01/Dec/2026:23:59:59 +0000] 2 1 acme-123 localhost memo na_letter_8.5x11in two-sided-long-edge",
        )
        .unwrap();
        assert_eq!(
            (page.page, page.billing.as_deref()),
            (Some(2), Some("acme-123"))
        );
        for bad in [
            "",
            "lp root x [01/Dec/2026:23:59:59 +0000] 1 1 - localhost a b c",
            "lp root 7 01/Dec/2026 1 1 - localhost a b c",
            "lp root 7 [not a time] 1 1 - localhost a b c",
            "lp root 7 [01/Dec/2026:23:59:59 +0000] 1 1 - localhost",
        ] {
            assert_eq!(parse_line(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_log_is_followed_across_partial_lines_rotation_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("page_log");
        std::fs::write(&path, format!("{LINE}\n")).unwrap();
        // A first start reads from the end: old jobs are not reported again.
        let mut log = PageLog::new(&path, None);
        assert!(log.poll().0.is_empty());
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let second = LINE.replace(" 42 ", " 43 ");
        write!(file, "{}", &second[..20]).unwrap();
        assert!(log.poll().0.is_empty(), "half a line waits");
        writeln!(file, "{}", &second[20..]).unwrap();
        // The same job's next line is not a new job; garbage is reported.
        writeln!(file, "{}", second.replace("total 3", "total 4")).unwrap();
        writeln!(file, "garbage").unwrap();
        let (jobs, bad) = log.poll();
        assert_eq!(jobs.iter().map(|j| j.job).collect::<Vec<_>>(), [43]);
        assert_eq!(bad.len(), 1);
        // A restart resumes where the last run stopped.
        let position = log.position();
        writeln!(file, "{}", LINE.replace(" 42 ", " 44 ")).unwrap();
        let mut log = PageLog::new(&path, position);
        assert_eq!(log.poll().0[0].job, 44);
        // Rotated: the new file is read from its beginning.
        std::fs::rename(&path, dir.path().join("page_log.1")).unwrap();
        std::fs::write(&path, format!("{}\n", LINE.replace(" 42 ", " 45 "))).unwrap();
        assert_eq!(log.poll().0[0].job, 45);
    }

    proptest! {
        #[test]
        fn any_line_parses_without_panicking(line in "\\PC{0,200}") {
            let _ = parse_line(&line);
        }
    }
}
