//! Which files each process recently read from the watched paths ("taint").
//!
//! fanotify tells the sensor that `cp` opens `/media/usb/plan.txt`, not where the bytes come
//! from. Because the watched opens and the removable opens arrive in one queue in the order
//! they happened, the files a process opened on a watched path shortly before are the likely
//! sources. This module owns that memory: per process, the last few sources with their
//! classification, forgotten after a while, with a bound on processes kept.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::classify::Classification;

/// A file a process opened on a watched path.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: String,
    pub classification: Arc<Classification>,
    pub opened: Instant,
}

/// Bounds of the taint table.
#[derive(Debug, Clone, Copy)]
pub struct TaintConfig {
    /// How long a source is remembered.
    pub ttl: Duration,
    /// Sources kept per process (the most recent).
    pub per_process: usize,
    /// Processes kept; past this the stalest process is forgotten.
    pub processes: usize,
}

impl Default for TaintConfig {
    fn default() -> Self {
        TaintConfig {
            ttl: Duration::from_secs(60),
            per_process: 16,
            processes: 4096,
        }
    }
}

/// Sources by process id.
#[derive(Debug)]
pub struct Taint {
    config: TaintConfig,
    by_pid: HashMap<u32, VecDeque<Source>>,
    last_sweep: Option<Instant>,
}

impl Taint {
    pub fn new(config: TaintConfig) -> Taint {
        Taint {
            config,
            by_pid: HashMap::new(),
            last_sweep: None,
        }
    }

    /// Remembers that `pid` opened `source` (at `source.opened`).
    pub fn record(&mut self, pid: u32, source: Source) {
        let now = source.opened;
        self.sweep(now);
        if !self.by_pid.contains_key(&pid)
            && self.by_pid.len() >= self.config.processes
            && let Some(stalest) = self
                .by_pid
                .iter()
                .min_by_key(|(_, s)| s.back().map(|s| s.opened))
                .map(|(pid, _)| *pid)
        {
            self.by_pid.remove(&stalest);
        }
        let sources = self.by_pid.entry(pid).or_default();
        // The same file opened again moves to the front.
        sources.retain(|s| s.path != source.path);
        sources.push_back(source);
        while sources.len() > self.config.per_process.max(1) {
            sources.pop_front();
        }
    }

    /// The source of what `pid` writes to a file named `dest_name`, as of `now`: among the
    /// live sources, the most recent one with the same file name, else the most recent
    /// classified one, else the most recent.
    pub fn source_for(&self, pid: u32, dest_name: Option<&str>, now: Instant) -> Option<&Source> {
        let live = |s: &&Source| now.saturating_duration_since(s.opened) <= self.config.ttl;
        let sources = self.by_pid.get(&pid)?;
        let name_of = |p: &str| p.rsplit('/').next().map(str::to_string);
        sources
            .iter()
            .rev()
            .filter(live)
            .find(|s| dest_name.is_some_and(|d| name_of(&s.path).as_deref() == Some(d)))
            .or_else(|| {
                sources
                    .iter()
                    .rev()
                    .filter(live)
                    .find(|s| s.classification.classified())
            })
            .or_else(|| sources.iter().rev().find(live))
    }

    /// Forgets a process (it exited, or its pid is reused).
    pub fn forget(&mut self, pid: u32) {
        self.by_pid.remove(&pid);
    }

    /// Drops expired sources, at most once a second.
    pub fn sweep(&mut self, now: Instant) {
        if self
            .last_sweep
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.last_sweep = Some(now);
        let ttl = self.config.ttl;
        self.by_pid.retain(|_, sources| {
            sources.retain(|s| now.saturating_duration_since(s.opened) <= ttl);
            !sources.is_empty()
        });
    }

    /// Processes with live or not yet swept sources.
    pub fn processes(&self) -> usize {
        self.by_pid.len()
    }

    /// Sources held in all.
    pub fn sources(&self) -> usize {
        self.by_pid.values().map(VecDeque::len).sum()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn source(path: &str, classified: bool, opened: Instant) -> Source {
        let mut c = Classification::default();
        if classified {
            c.labels.push("社外秘".into());
        }
        Source {
            path: path.into(),
            classification: Arc::new(c),
            opened,
        }
    }

    #[test]
    fn expires_after_ttl() {
        let t0 = Instant::now();
        let mut taint = Taint::new(TaintConfig {
            ttl: Duration::from_secs(60),
            ..TaintConfig::default()
        });
        taint.record(7, source("/home/a/plan.txt", true, t0));
        assert!(
            taint
                .source_for(7, None, t0 + Duration::from_secs(59))
                .is_some()
        );
        assert!(
            taint
                .source_for(7, None, t0 + Duration::from_secs(61))
                .is_none()
        );
        assert!(taint.source_for(8, None, t0).is_none());
        taint.sweep(t0 + Duration::from_secs(61));
        assert_eq!(taint.processes(), 0);
    }

    #[test]
    fn picks_the_matching_source() {
        let t0 = Instant::now();
        let mut taint = Taint::new(TaintConfig::default());
        taint.record(1, source("/home/a/secret.txt", true, t0));
        taint.record(1, source("/home/a/plain.txt", false, t0));
        let at = t0 + Duration::from_secs(1);
        assert_eq!(
            taint.source_for(1, Some("plain.txt"), at).unwrap().path,
            "/home/a/plain.txt"
        );
        assert_eq!(
            taint.source_for(1, Some("renamed.txt"), at).unwrap().path,
            "/home/a/secret.txt"
        );
        taint.forget(1);
        assert!(taint.source_for(1, None, at).is_none());
    }

    #[test]
    fn bounded() {
        let t0 = Instant::now();
        let mut taint = Taint::new(TaintConfig {
            ttl: Duration::from_secs(60),
            per_process: 4,
            processes: 10,
        });
        for pid in 0..100u32 {
            for n in 0..10 {
                let at = t0 + Duration::from_millis(u64::from(pid) * 10 + n);
                taint.record(pid, source(&format!("/h/{pid}/{n}"), false, at));
            }
        }
        assert_eq!(taint.processes(), 10);
        assert_eq!(taint.sources(), 40);
        // The newest processes are the ones kept.
        assert!(
            taint
                .source_for(99, None, t0 + Duration::from_secs(2))
                .is_some()
        );
        assert!(
            taint
                .source_for(0, None, t0 + Duration::from_secs(2))
                .is_none()
        );
        // Re-opening a file does not duplicate it.
        taint.record(99, source("/h/99/9", false, t0 + Duration::from_secs(2)));
        assert_eq!(taint.sources(), 40);
    }
}
