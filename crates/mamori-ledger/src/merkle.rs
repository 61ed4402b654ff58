//! RFC 6962 (§2.1) / RFC 9162 (§2.1) Merkle tree hashing, streaming roots, and proof checking.
//!
//! A tree over `n` leaves is defined recursively: the root of one leaf is its leaf hash, and the
//! root of `n > 1` leaves is `node_hash(root(first k), root(rest))` where `k` is the largest power
//! of two smaller than `n`. Every subtree whose size is a power of two and whose first leaf is a
//! multiple of that size is *complete*: it is identified by its level (log2 of its leaf count) and
//! its index among the subtrees of that level. Proof generation here is written against "the hash
//! of complete subtree (level, index)" (the crate-private `SubtreeSource` trait), so the same code
//! serves an in-memory tree and the tiled log on disk.

use sha2::{Digest, Sha256};

use crate::Hash;

/// Domain-separation prefix of leaf hashes (RFC 6962 §2.1).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of interior node hashes (RFC 6962 §2.1).
const NODE_PREFIX: u8 = 0x01;

/// `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(entry);
    hasher.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    // One contiguous buffer: a single `update` is measurably faster than three for 65 bytes.
    let mut buffer = [0u8; 65];
    buffer[0] = NODE_PREFIX;
    buffer[1..33].copy_from_slice(left);
    buffer[33..].copy_from_slice(right);
    Sha256::digest(buffer).into()
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below tree size {tree_size}")]
    IndexOutOfRange { index: u64, tree_size: u64 },
    #[error("tree size {size1} is larger than tree size {size2}")]
    SizesOutOfOrder { size1: u64, size2: u64 },
    #[error("proof has {actual} hashes, expected {expected}")]
    WrongLength { expected: usize, actual: usize },
    #[error("recomputed root does not match the expected root")]
    RootMismatch,
    #[error("tlog-proof line {line}: {reason}")]
    Malformed { line: usize, reason: String },
    #[error("tlog-proof checkpoint origin is {found:?}, expected {expected:?}")]
    OriginMismatch { expected: String, found: String },
    #[error("tlog-proof checkpoint: {0}")]
    Note(#[from] crate::note::NoteError),
    #[error("tlog-proof checkpoint: {0}")]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
}

/// Streaming root computation over leaf hashes, keeping only the right edge of the tree
/// (one complete-subtree hash per set bit of the size): O(log n) memory, amortised one node
/// hash per leaf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeBuilder {
    size: u64,
    /// Roots of the complete subtrees that make up the tree, largest (leftmost) first; their
    /// levels are the set bits of `size`, from high to low.
    edge: Vec<Hash>,
}

impl TreeBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, leaf_hash: Hash) {
        let mut carry = leaf_hash;
        // Adding a leaf is binary increment: every trailing one bit of `size` is a complete
        // subtree that now merges with the new one.
        let mut bits = self.size;
        while bits & 1 == 1 {
            let Some(left) = self.edge.pop() else {
                break;
            };
            carry = node_hash(&left, &carry);
            bits >>= 1;
        }
        self.edge.push(carry);
        self.size += 1;
        debug_assert_eq!(self.edge.len(), self.size.count_ones() as usize);
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 6962 root of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        fold_right_edge(&self.edge)
    }
}

/// Root of a tree given its complete subtrees from left (largest) to right (smallest):
/// RFC 6962 nests them as `node(s1, node(s2, ... node(s_{k-1}, s_k)))`.
pub(crate) fn fold_right_edge(subtrees: &[Hash]) -> Hash {
    let mut iter = subtrees.iter().rev();
    let Some(last) = iter.next() else {
        return empty_root();
    };
    iter.fold(*last, |right, left| node_hash(left, &right))
}

/// Root of a complete subtree given its `2^k` consecutive hashes from one level (k <= 8 here).
pub(crate) fn perfect_root(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two(), "{} hashes", hashes.len());
    match hashes {
        [single] => *single,
        _ => {
            let (left, right) = hashes.split_at(hashes.len() / 2);
            node_hash(&perfect_root(left), &perfect_root(right))
        }
    }
}

/// The largest power of two strictly smaller than `n` (`n >= 2`): RFC 6962's split point `k`.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Check an RFC 6962 audit path (RFC 9162 §2.1.3.2) for `leaf_hash` at `index` in a tree of
/// `tree_size` leaves with root `root`.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= tree_size {
        return Err(ProofError::IndexOutOfRange { index, tree_size });
    }
    let expected = inclusion_proof_len(index, tree_size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            actual: proof.len(),
        });
    }
    let (mut node, mut last) = (index, tree_size - 1);
    let mut hash = *leaf_hash;
    for sibling in proof {
        debug_assert!(last != 0, "length was checked above");
        if node & 1 == 1 || node == last {
            hash = node_hash(sibling, &hash);
            // A right-edge node with no right sibling is promoted unchanged: skip those levels.
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        } else {
            hash = node_hash(&hash, sibling);
        }
        node >>= 1;
        last >>= 1;
    }
    debug_assert_eq!(last, 0);
    if hash == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Number of hashes in the audit path of `index` in a tree of `tree_size` leaves.
fn inclusion_proof_len(index: u64, tree_size: u64) -> usize {
    debug_assert!(index < tree_size);
    let (mut node, mut last, mut len) = (index, tree_size - 1, 0);
    while last != 0 {
        if node & 1 == 1 || node != last {
            len += 1;
        } else {
            // Promoted right-edge node: no sibling at this level.
        }
        node >>= 1;
        last >>= 1;
    }
    len
}

/// Check an RFC 6962 consistency proof (RFC 9162 §2.1.4.2) that the tree of `size1` leaves with
/// root `root1` is a prefix of the tree of `size2` leaves with root `root2`.
///
/// Stricter than some implementations on the degenerate cases: `size1 == size2` requires an
/// empty proof and equal roots, and `size1 == 0` requires an empty proof and `root1` to be
/// [`empty_root`].
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizesOutOfOrder { size1, size2 });
    }
    if size1 == 0 || size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                expected: 0,
                actual: proof.len(),
            });
        }
        let expected_root1 = if size1 == 0 { empty_root() } else { *root2 };
        return if *root1 == expected_root1 {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let expected = consistency_proof_len(size1, size2);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            actual: proof.len(),
        });
    }
    // When the old tree is itself a complete subtree of the new one, the proof omits its root
    // (the verifier has it); start from root1 in that case.
    let (first, rest) = if size1.is_power_of_two() {
        (root1, proof)
    } else {
        match proof.split_first() {
            Some(split) => split,
            None => {
                return Err(ProofError::WrongLength {
                    expected,
                    actual: 0,
                });
            }
        }
    };
    let (mut node, mut last) = (size1 - 1, size2 - 1);
    while node & 1 == 1 {
        node >>= 1;
        last >>= 1;
    }
    let (mut old_hash, mut new_hash) = (*first, *first);
    for sibling in rest {
        if last == 0 {
            return Err(ProofError::WrongLength {
                expected,
                actual: proof.len(),
            });
        }
        if node & 1 == 1 || node == last {
            old_hash = node_hash(sibling, &old_hash);
            new_hash = node_hash(sibling, &new_hash);
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        } else {
            new_hash = node_hash(&new_hash, sibling);
        }
        node >>= 1;
        last >>= 1;
    }
    if last == 0 && old_hash == *root1 && new_hash == *root2 {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Number of hashes in the consistency proof between sizes `0 < size1 < size2`.
fn consistency_proof_len(size1: u64, size2: u64) -> usize {
    debug_assert!(0 < size1 && size1 < size2);
    // Levels shared by both trees' right edges need no hashes: strip the common low bits of
    // the last leaf indices first (RFC 9162 §2.1.4.2's initial right shift).
    let (mut node, mut last) = (size1 - 1, size2 - 1);
    let shared = node.trailing_ones();
    node >>= shared;
    last >>= shared;
    let starts_with_root1 = size1.is_power_of_two();
    // One hash for the old subtree itself unless it is a complete subtree, then the audit path
    // of that node in the tree of (last + 1) nodes.
    let path = inclusion_proof_len(node, last + 1);
    path + usize::from(!starts_with_root1)
}

/// Source of complete-subtree hashes for proof generation.
pub(crate) trait SubtreeSource {
    type Error;
    /// Hash of the complete subtree at `level` (`2^level` leaves) whose first leaf is
    /// `index << level`. Only called for subtrees complete within the tree being proved.
    fn subtree(&mut self, level: u8, index: u64) -> Result<Hash, Self::Error>;

    /// `MTH(D[start:end])` if the source already knows it (e.g. a suffix of its right edge).
    fn known_range_root(&mut self, _start: u64, _end: u64) -> Option<Hash> {
        None
    }
}

/// `MTH(D[start:end])` where `start` is aligned to the largest power of two below `end - start`
/// (always true inside RFC 6962's recursion): the complete subtrees of the range, folded.
pub(crate) fn range_root<S: SubtreeSource>(
    source: &mut S,
    start: u64,
    end: u64,
) -> Result<Hash, S::Error> {
    debug_assert!(start < end);
    if let Some(root) = source.known_range_root(start, end) {
        return Ok(root);
    }
    let mut pieces = Vec::with_capacity(64);
    let mut first_leaf = start;
    while first_leaf < end {
        // Largest power of two that fits in the remaining range: the next complete subtree.
        let level = 63 - (end - first_leaf).leading_zeros();
        debug_assert_eq!(first_leaf % (1u64 << level), 0, "unaligned range start");
        pieces.push(source.subtree(level as u8, first_leaf >> level)?);
        first_leaf += 1u64 << level;
    }
    Ok(fold_right_edge(&pieces))
}

/// RFC 6962 `PATH(index, D[0:tree_size])`, leaf sibling first. Requires `index < tree_size`.
pub(crate) fn inclusion_path<S: SubtreeSource>(
    source: &mut S,
    index: u64,
    tree_size: u64,
) -> Result<Vec<Hash>, S::Error> {
    debug_assert!(index < tree_size);
    // Walk down from the root; siblings come out root-first and are reversed at the end.
    let mut path = Vec::with_capacity(64);
    let (mut start, mut end) = (0u64, tree_size);
    while end - start > 1 {
        let k = split_point(end - start);
        if index < start + k {
            path.push(range_root(source, start + k, end)?);
            end = start + k;
        } else {
            path.push(source.subtree(k.trailing_zeros() as u8, start / k)?);
            start += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// RFC 6962 `PROOF(size1, D[0:size2])` for `0 < size1 < size2`.
pub(crate) fn consistency_path<S: SubtreeSource>(
    source: &mut S,
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>, S::Error> {
    debug_assert!(0 < size1 && size1 < size2);
    // SUBPROOF(m, D[start:end], whole_old_tree) iteratively: each step appends one hash after
    // the sub-proof of a smaller range, so collect root-first and reverse.
    let mut proof = Vec::with_capacity(64);
    let (mut m, mut start, mut end) = (size1, 0u64, size2);
    let mut old_tree_is_left_edge = true;
    loop {
        let n = end - start;
        if m == n {
            if !old_tree_is_left_edge {
                proof.push(range_root(source, start, end)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            proof.push(range_root(source, start + k, end)?);
            end = start + k;
        } else {
            proof.push(source.subtree(k.trailing_zeros() as u8, start / k)?);
            m -= k;
            start += k;
            old_tree_is_left_edge = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// In-memory source over leaf hashes, computing subtrees naively.
    struct Leaves(Vec<Hash>);
    impl SubtreeSource for Leaves {
        type Error = std::convert::Infallible;
        fn subtree(&mut self, level: u8, index: u64) -> Result<Hash, Self::Error> {
            let start = (index << level) as usize;
            Ok(perfect_root(&self.0[start..start + (1usize << level)]))
        }
    }

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(1 << 40), 1 << 39);
        assert_eq!(split_point((1 << 40) + 1), 1 << 40);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn proof_lengths_match_generated_proofs() {
        for size in 1..70u64 {
            let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            let mut source = Leaves(leaves);
            for index in 0..size {
                let path = inclusion_path(&mut source, index, size).unwrap();
                assert_eq!(
                    path.len(),
                    inclusion_proof_len(index, size),
                    "{index}/{size}"
                );
            }
            for size1 in 1..size {
                let proof = consistency_path(&mut source, size1, size).unwrap();
                assert_eq!(
                    proof.len(),
                    consistency_proof_len(size1, size),
                    "{size1}/{size}"
                );
            }
        }
    }
}
