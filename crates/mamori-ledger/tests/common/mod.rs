//! Test helpers: a naive RFC 6962 reference written straight from the RFC text (with its own
//! SHA-256 calls, not the crate's hashing functions), and deterministic entries.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// RFC 6962 §2.1: MTH({d(0)}) = SHA-256(0x00 || d(0)).
pub fn ref_leaf(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])).
pub fn ref_node(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// "k is the largest power of two smaller than n (i.e., k < n <= 2k)".
pub fn ref_k(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH over already-hashed leaves. MTH({}) = SHA-256().
pub fn ref_mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = ref_k(n);
            ref_node(&ref_mth(&leaves[..k]), &ref_mth(&leaves[k..]))
        }
    }
}

/// RFC 6962 §2.1.1 PATH(m, D[n]), leaf sibling first.
pub fn ref_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = ref_k(n);
    if m < k {
        let mut p = ref_path(m, &leaves[..k]);
        p.push(ref_mth(&leaves[k..]));
        p
    } else {
        let mut p = ref_path(m - k, &leaves[k..]);
        p.push(ref_mth(&leaves[..k]));
        p
    }
}

/// RFC 6962 §2.1.2 PROOF(m, D[n]) = SUBPROOF(m, D[n], true).
pub fn ref_proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    fn subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if b { Vec::new() } else { vec![ref_mth(leaves)] };
        }
        let k = ref_k(n);
        if m <= k {
            let mut p = subproof(m, &leaves[..k], b);
            p.push(ref_mth(&leaves[k..]));
            p
        } else {
            let mut p = subproof(m - k, &leaves[k..], false);
            p.push(ref_mth(&leaves[..k]));
            p
        }
    }
    if m == 0 || m == leaves.len() {
        return Vec::new();
    }
    subproof(m, leaves, true)
}

/// Deterministic, distinct entries (SHA-256 of the index under a seed).
pub fn entries(seed: u64, count: usize) -> Vec<Hash> {
    (0..count as u64).map(|i| entry(seed, i)).collect()
}

pub fn entry(seed: u64, index: u64) -> Hash {
    let mut h = Sha256::new();
    h.update(seed.to_be_bytes());
    h.update(index.to_be_bytes());
    h.finalize().into()
}

pub fn leaf_hashes(entries: &[Hash]) -> Vec<Hash> {
    entries.iter().map(|e| ref_leaf(e)).collect()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2));
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

pub fn unhex32(text: &str) -> Hash {
    unhex(text).try_into().unwrap()
}

/// Every file under `dir` (relative path -> bytes), for byte-for-byte directory comparisons.
pub fn snapshot(dir: &std::path::Path, under: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let root = dir.join(under);
    if !root.exists() {
        return files;
    }
    let mut stack = vec![root];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// The same RFC 6962 recursions as `ref_mth`/`ref_path`/`ref_proof`, over ranges of one leaf
/// vector, memoising MTH of each (start, end) range so large trees stay fast in debug builds.
pub struct RefTree {
    leaves: Vec<Hash>,
    memo: std::cell::RefCell<std::collections::HashMap<(usize, usize), Hash>>,
}

impl RefTree {
    pub fn new(leaves: Vec<Hash>) -> Self {
        RefTree {
            leaves,
            memo: Default::default(),
        }
    }

    /// MTH(D[start:end]).
    pub fn mth(&self, start: usize, end: usize) -> Hash {
        if let Some(hash) = self.memo.borrow().get(&(start, end)) {
            return *hash;
        }
        let hash = match end - start {
            0 => Sha256::digest([]).into(),
            1 => self.leaves[start],
            n => {
                let k = ref_k(n);
                ref_node(&self.mth(start, start + k), &self.mth(start + k, end))
            }
        };
        self.memo.borrow_mut().insert((start, end), hash);
        hash
    }

    /// PATH(m, D[0:n]).
    pub fn path(&self, m: usize, n: usize) -> Vec<Hash> {
        fn go(tree: &RefTree, m: usize, start: usize, end: usize) -> Vec<Hash> {
            let n = end - start;
            if n <= 1 {
                return Vec::new();
            }
            let k = ref_k(n);
            if m < k {
                let mut p = go(tree, m, start, start + k);
                p.push(tree.mth(start + k, end));
                p
            } else {
                let mut p = go(tree, m - k, start + k, end);
                p.push(tree.mth(start, start + k));
                p
            }
        }
        go(self, m, 0, n)
    }

    /// PROOF(m, D[0:n]).
    pub fn proof(&self, m: usize, n: usize) -> Vec<Hash> {
        fn sub(tree: &RefTree, m: usize, start: usize, end: usize, b: bool) -> Vec<Hash> {
            let n = end - start;
            if m == n {
                return if b {
                    Vec::new()
                } else {
                    vec![tree.mth(start, end)]
                };
            }
            let k = ref_k(n);
            if m <= k {
                let mut p = sub(tree, m, start, start + k, b);
                p.push(tree.mth(start + k, end));
                p
            } else {
                let mut p = sub(tree, m - k, start + k, end, false);
                p.push(tree.mth(start, start + k));
                p
            }
        }
        if m == 0 || m == n {
            return Vec::new();
        }
        sub(self, m, 0, n, true)
    }
}
