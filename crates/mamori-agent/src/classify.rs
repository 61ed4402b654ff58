//! Classification of the files a process opens on a watched path: their bytes, read through
//! the fanotify event's descriptor (so reading raises no event of its own), inspected by
//! `mamori-content` for confidentiality labels (社外秘…) and personal data.
//!
//! This module owns the read bound (at most [`ClassifierConfig::max_bytes`] of a file: a
//! bigger file is judged by its beginning) and the cache: a file is inspected again only when
//! its device, inode, modification time or size changed, so a file opened a hundred times
//! costs one inspection. The cache is a bounded least-recently-used map.

use std::collections::HashMap;
use std::hash::Hash;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::time::Duration;

use mamori_content::detect::{DetectorConfig, FindingKind};
use mamori_content::extract::Limits;
use mamori_content::inspect::{DEFAULT_MIN_CONFIDENCE, Inspector};
use mamori_policy::Findings;

use crate::AgentError;

/// What one file holds, as the policy needs it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Classification {
    /// Confidentiality labels found (the labels' text: `社外秘`, `Confidential`).
    pub labels: Vec<String>,
    /// Findings by kind (labels included).
    pub findings: Findings,
    /// The file's size.
    pub size: u64,
    /// Only the first `max_bytes` were inspected.
    pub truncated: bool,
}

impl Classification {
    /// Whether the policy's `classified` condition holds.
    pub fn classified(&self) -> bool {
        !self.labels.is_empty() || self.findings.total() > 0
    }
}

/// Bounds of classification.
#[derive(Debug, Clone)]
pub struct ClassifierConfig {
    /// Most bytes read of one file.
    pub max_bytes: usize,
    /// Most time extraction spends on one file (archives, PDF).
    pub max_time: Duration,
    /// Files whose classification is remembered.
    pub cache_entries: usize,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            max_bytes: 8 << 20,
            max_time: Duration::from_millis(500),
            cache_entries: 4096,
        }
    }
}

/// The identity of a file's content as far as the cache is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileKey {
    pub dev: u64,
    pub ino: u64,
    pub mtime: (i64, i64),
    pub size: u64,
}

/// Counts of the classifier's work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassifierStats {
    pub inspected: u64,
    pub cache_hits: u64,
    pub bytes_read: u64,
}

/// Inspects files through descriptors and remembers the answers.
pub struct Classifier {
    inspector: Inspector,
    config: ClassifierConfig,
    cache: Lru<FileKey, Arc<Classification>>,
    stats: ClassifierStats,
}

impl Classifier {
    pub fn new(config: ClassifierConfig) -> Classifier {
        let limits = Limits {
            max_input_bytes: u64::try_from(config.max_bytes.max(1)).unwrap_or(u64::MAX),
            max_time: config.max_time,
            ..Limits::default()
        };
        Classifier {
            inspector: Inspector::new(&DetectorConfig::default(), limits, DEFAULT_MIN_CONFIDENCE),
            cache: Lru::new(config.cache_entries),
            config,
            stats: ClassifierStats::default(),
        }
    }

    pub fn stats(&self) -> ClassifierStats {
        self.stats
    }

    /// Classifies the open file `fd`, named `name` (its extension is compared with its
    /// bytes). Anything but a regular file is unclassified.
    pub fn classify_fd(
        &mut self,
        fd: BorrowedFd<'_>,
        name: &str,
    ) -> Result<Arc<Classification>, AgentError> {
        let stat = nix::sys::stat::fstat(fd).map_err(|e| AgentError::io("fstat", e))?;
        let regular = (stat.st_mode & nix::libc::S_IFMT) == nix::libc::S_IFREG;
        let size = u64::try_from(stat.st_size).unwrap_or(0);
        if !regular {
            return Ok(Arc::new(Classification {
                size,
                ..Classification::default()
            }));
        }
        let key = FileKey {
            dev: stat.st_dev,
            ino: stat.st_ino,
            mtime: (stat.st_mtime, stat.st_mtime_nsec),
            size,
        };
        if let Some(hit) = self.cache.get(&key) {
            self.stats.cache_hits += 1;
            return Ok(hit.clone());
        }
        let want = usize::try_from(size)
            .unwrap_or(usize::MAX)
            .min(self.config.max_bytes);
        let mut bytes = vec![0u8; want];
        let mut filled = 0;
        while filled < want {
            let offset = i64::try_from(filled).unwrap_or(i64::MAX);
            match nix::sys::uio::pread(fd, &mut bytes[filled..], offset) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(AgentError::io("pread", e)),
            }
        }
        bytes.truncate(filled);
        self.stats.bytes_read += filled as u64;
        let classification = Arc::new(self.classify_bytes(name, &bytes, size));
        self.stats.inspected += 1;
        self.cache.insert(key, classification.clone());
        Ok(classification)
    }

    /// Classifies bytes already read (`size`: the whole file's).
    pub fn classify_bytes(&self, name: &str, bytes: &[u8], size: u64) -> Classification {
        let mut labels: Vec<String> = Vec::new();
        let mut findings = Findings::default();
        self.inspector.inspect_each(name, bytes, |_, finding| {
            if finding.kind == FindingKind::Label && !labels.contains(&finding.value) {
                labels.push(finding.value.clone());
            }
            findings.add(finding.kind, 1);
        });
        labels.sort();
        Classification {
            labels,
            findings,
            size,
            truncated: (bytes.len() as u64) < size,
        }
    }

    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}

/// A bounded least-recently-used map. Eviction scans for the oldest entry: O(capacity) when
/// full, which at a few thousand entries and a few hundred inserts a second costs nothing
/// measurable, and needs no linked list.
#[derive(Debug)]
pub struct Lru<K, V> {
    map: HashMap<K, (V, u64)>,
    tick: u64,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    pub fn new(capacity: usize) -> Lru<K, V> {
        Lru {
            map: HashMap::new(),
            tick: 0,
            capacity: capacity.max(1),
        }
    }

    pub fn get(&mut self, key: &K) -> Option<&V> {
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(key).map(|(value, used)| {
            *used = tick;
            &*value
        })
    }

    pub fn insert(&mut self, key: K, value: V) {
        self.tick += 1;
        if !self.map.contains_key(&key)
            && self.map.len() >= self.capacity
            && let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
        {
            self.map.remove(&oldest);
        }
        self.map.insert(key, (value, self.tick));
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn lru_is_bounded_and_keeps_recent() {
        let mut lru = Lru::new(3);
        for i in 0..3 {
            lru.insert(i, i * 10);
        }
        assert_eq!(lru.get(&0), Some(&0));
        lru.insert(3, 30); // evicts 1, the least recently used
        assert_eq!(lru.len(), 3);
        assert_eq!(lru.get(&1), None);
        assert_eq!(lru.get(&0), Some(&0));
        for i in 10..1000 {
            lru.insert(i, i);
        }
        assert_eq!(lru.len(), 3);
        lru.insert(999, 1);
        assert_eq!(lru.get(&999), Some(&1));
        assert_eq!(lru.len(), 3);
    }

    #[test]
    fn classifies_labels_and_caches() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("plan.txt");
        std::fs::write(&secret, "社外秘\n来期の計画です。\n").unwrap();
        let plain = dir.path().join("memo.txt");
        std::fs::write(&plain, "お昼は何にしますか。\n").unwrap();
        let mut classifier = Classifier::new(ClassifierConfig {
            cache_entries: 1,
            ..ClassifierConfig::default()
        });
        let file = std::fs::File::open(&secret).unwrap();
        let c = classifier.classify_fd(file.as_fd(), "plan.txt").unwrap();
        assert!(c.classified(), "{c:?}");
        assert_eq!(c.labels, ["社外秘"]);
        assert!(c.findings.get(FindingKind::Label) >= 1);
        let again = classifier.classify_fd(file.as_fd(), "plan.txt").unwrap();
        assert_eq!(again, c);
        assert_eq!(classifier.stats().inspected, 1);
        assert_eq!(classifier.stats().cache_hits, 1);
        let file = std::fs::File::open(&plain).unwrap();
        let p = classifier.classify_fd(file.as_fd(), "memo.txt").unwrap();
        assert!(!p.classified(), "{p:?}");
        assert_eq!(classifier.cached(), 1);
        // A changed file is inspected again.
        std::fs::write(&plain, "社外秘: お昼は何にしますか。\n").unwrap();
        let file = std::fs::File::open(&plain).unwrap();
        assert!(
            classifier
                .classify_fd(file.as_fd(), "memo.txt")
                .unwrap()
                .classified()
        );
        assert_eq!(classifier.stats().inspected, 3);
    }

    #[test]
    fn reads_at_most_max_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.txt");
        let mut text = "a".repeat(100_000);
        text.push_str("\n社外秘\n");
        std::fs::write(&big, &text).unwrap();
        let mut classifier = Classifier::new(ClassifierConfig {
            max_bytes: 1000,
            ..ClassifierConfig::default()
        });
        let file = std::fs::File::open(&big).unwrap();
        let c = classifier.classify_fd(file.as_fd(), "big.txt").unwrap();
        assert!(c.truncated);
        assert!(!c.classified(), "the label is past the bound");
        assert_eq!(classifier.stats().bytes_read, 1000);
        assert_eq!(c.size, text.len() as u64);
    }
}
