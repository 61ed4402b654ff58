//! RFC 6962 hashing, TreeBuilder and proof verification against known answers and the naive
//! reference.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use mamori_ledger::merkle::{
    ProofError, TreeBuilder, empty_root, leaf_hash, node_hash, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

/// Leaves of the certificate-transparency / transparency-dev test tree.
fn kat_leaves() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|h| unhex(h))
    .collect()
}

/// Roots of the first 1..=8 leaves.
const KAT_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index, tree size, audit path): the 1-based vectors of transparency-dev/merkle
/// (proof/verify_test.go), converted to 0-based indices.
fn kat_inclusion() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (0, 1, vec![]),
        (
            0,
            8,
            vec![
                unhex32("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                unhex32("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                unhex32("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            5,
            8,
            vec![
                unhex32("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                unhex32("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                unhex32("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (
            2,
            3,
            vec![unhex32(
                "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            )],
        ),
        (
            1,
            5,
            vec![
                unhex32("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                unhex32("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                unhex32("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
    ]
}

/// (size1, size2, proof) from the same source.
fn kat_consistency() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (1, 1, vec![]),
        (
            1,
            8,
            vec![
                unhex32("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                unhex32("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                unhex32("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            6,
            8,
            vec![
                unhex32("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                unhex32("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                unhex32("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (
            2,
            5,
            vec![
                unhex32("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                unhex32("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
        (
            6,
            7,
            vec![
                unhex32("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                unhex32("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
                unhex32("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
    ]
}

fn kat_leaf_hashes() -> Vec<Hash> {
    kat_leaves().iter().map(|l| leaf_hash(l)).collect()
}

#[test]
fn empty_root_is_sha256_of_nothing() {
    assert_eq!(
        hex(&empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(TreeBuilder::new().root(), empty_root());
    assert_eq!(ref_mth(&[]), empty_root());
}

#[test]
fn leaf_and_node_hashes_follow_rfc6962() {
    // The root of the one-leaf tree over the empty entry is SHA-256(0x00).
    assert_eq!(hex(&leaf_hash(b"")), KAT_ROOTS[0]);
    let (a, b) = (leaf_hash(b""), leaf_hash(&[0x00]));
    assert_eq!(hex(&node_hash(&a, &b)), KAT_ROOTS[1]);
    assert_eq!(node_hash(&a, &b), ref_node(&a, &b));
    assert_ne!(node_hash(&a, &b), node_hash(&b, &a));
}

#[test]
fn tree_builder_matches_known_roots() {
    let mut builder = TreeBuilder::new();
    for (i, leaf) in kat_leaf_hashes().into_iter().enumerate() {
        builder.push(leaf);
        assert_eq!(builder.size(), i as u64 + 1);
        assert_eq!(hex(&builder.root()), KAT_ROOTS[i], "size {}", i + 1);
    }
}

#[test]
fn reference_matches_known_answers() {
    // The naive reference is only trusted because it reproduces the published vectors.
    let leaves = kat_leaf_hashes();
    for size in 1..=8 {
        assert_eq!(hex(&ref_mth(&leaves[..size])), KAT_ROOTS[size - 1]);
    }
    for (index, size, path) in kat_inclusion() {
        assert_eq!(ref_path(index as usize, &leaves[..size as usize]), path);
    }
    for (size1, size2, proof) in kat_consistency() {
        assert_eq!(ref_proof(size1 as usize, &leaves[..size2 as usize]), proof);
    }
}

#[test]
fn known_inclusion_proofs_verify_and_corruptions_fail() {
    let leaves = kat_leaf_hashes();
    for (index, size, path) in kat_inclusion() {
        let root = unhex32(KAT_ROOTS[size as usize - 1]);
        let leaf = leaves[index as usize];
        verify_inclusion(&leaf, index, size, &path, &root).unwrap();
        for bad in corrupt_inclusion(index, size, &path, &root, &leaf) {
            assert!(
                verify_inclusion(&bad.leaf, bad.index, bad.size, &bad.path, &bad.root).is_err(),
                "{} accepted for leaf {index} of {size}",
                bad.what
            );
        }
    }
}

#[test]
fn known_consistency_proofs_verify_and_corruptions_fail() {
    for (size1, size2, proof) in kat_consistency() {
        let root1 = unhex32(KAT_ROOTS[size1 as usize - 1]);
        let root2 = unhex32(KAT_ROOTS[size2 as usize - 1]);
        verify_consistency(size1, size2, &proof, &root1, &root2).unwrap();
        if proof.is_empty() {
            continue;
        }
        for bad in corrupt_consistency(size1, size2, &proof, &root1, &root2) {
            assert!(
                verify_consistency(bad.size1, bad.size2, &bad.proof, &bad.root1, &bad.root2)
                    .is_err(),
                "{} accepted for {size1} -> {size2}",
                bad.what
            );
        }
    }
}

#[test]
fn degenerate_consistency_cases() {
    let (r1, r2) = (unhex32(KAT_ROOTS[0]), unhex32(KAT_ROOTS[1]));
    let empty = empty_root();
    verify_consistency(0, 0, &[], &empty, &empty).unwrap();
    verify_consistency(0, 5, &[], &empty, &r2).unwrap();
    verify_consistency(3, 3, &[], &r1, &r1).unwrap();
    assert_eq!(
        verify_consistency(3, 3, &[], &r1, &r2),
        Err(ProofError::RootMismatch)
    );
    assert!(verify_consistency(3, 3, &[r1], &r1, &r1).is_err());
    assert!(verify_consistency(0, 1, &[empty], &empty, &r1).is_err());
    assert_eq!(
        verify_consistency(0, 1, &[], &r1, &r1),
        Err(ProofError::RootMismatch)
    );
    assert_eq!(
        verify_consistency(2, 1, &[], &r1, &r2),
        Err(ProofError::SizesOutOfOrder { size1: 2, size2: 1 })
    );
    assert!(
        verify_consistency(1, 2, &[], &r1, &r2).is_err(),
        "empty proof for a real step"
    );
}

#[test]
fn inclusion_rejects_out_of_range_indices() {
    let leaf = leaf_hash(b"data");
    assert!(matches!(
        verify_inclusion(&leaf, 0, 0, &[], &leaf),
        Err(ProofError::IndexOutOfRange { .. })
    ));
    assert!(verify_inclusion(&leaf, 1, 1, &[], &leaf).is_err());
    assert!(verify_inclusion(&leaf, u64::MAX, u64::MAX, &[], &leaf).is_err());
    verify_inclusion(&leaf, 0, 1, &[], &leaf).unwrap();
    assert!(verify_inclusion(&leaf, 0, 1, &[leaf], &leaf).is_err());
}

struct BadInclusion {
    what: &'static str,
    index: u64,
    size: u64,
    path: Vec<Hash>,
    root: Hash,
    leaf: Hash,
}

/// The corruptions of transparency-dev's verifier tests, plus every single-bit flip.
fn corrupt_inclusion(
    index: u64,
    size: u64,
    path: &[Hash],
    root: &Hash,
    leaf: &Hash,
) -> Vec<BadInclusion> {
    let p = path.to_vec();
    let some = unhex32("abacaba000000000000000000000000000000000000000000060061e00123456");
    let case = |what, index, size, path: Vec<Hash>, root: Hash, leaf: Hash| BadInclusion {
        what,
        index,
        size,
        path,
        root,
        leaf,
    };
    let mut bad = vec![
        case(
            "index - 1",
            index.wrapping_sub(1),
            size,
            p.clone(),
            *root,
            *leaf,
        ),
        case("index + 1", index + 1, size, p.clone(), *root, *leaf),
        case("index ^ 2", index ^ 2, size, p.clone(), *root, *leaf),
        case("size * 2", index, size * 2, p.clone(), *root, *leaf),
        case("size / 2", index, size / 2, p.clone(), *root, *leaf),
        case(
            "wrong leaf",
            index,
            size,
            p.clone(),
            *root,
            leaf_hash(b"WrongLeaf"),
        ),
        case("empty root", index, size, p.clone(), empty_root(), *leaf),
        case("random root", index, size, p.clone(), some, *leaf),
        case(
            "trailing root",
            index,
            size,
            [p.clone(), vec![*root]].concat(),
            *root,
            *leaf,
        ),
        case(
            "preceding root",
            index,
            size,
            [vec![*root], p.clone()].concat(),
            *root,
            *leaf,
        ),
    ];
    for i in 0..p.len() {
        for bit in 0..8 {
            let mut q = p.clone();
            q[i][31 - bit] ^= 1 << bit;
            bad.push(case("flipped bit", index, size, q, *root, *leaf));
        }
    }
    if !p.is_empty() {
        bad.push(case(
            "removed hash",
            index,
            size,
            p[..p.len() - 1].to_vec(),
            *root,
            *leaf,
        ));
    }
    if p.len() > 1 {
        let inserted = [vec![p[0], some], p[1..].to_vec()].concat();
        bad.push(case("inserted hash", index, size, inserted, *root, *leaf));
    }
    // Only keep probes that really differ from the valid statement (e.g. index ^ 2 may equal
    // index + 1 in range checks but never the original).
    bad.retain(|b| (b.index, b.size, &b.path, b.root, b.leaf) != (index, size, &p, *root, *leaf));
    bad
}

struct BadConsistency {
    what: &'static str,
    size1: u64,
    size2: u64,
    proof: Vec<Hash>,
    root1: Hash,
    root2: Hash,
}

fn corrupt_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Vec<BadConsistency> {
    let p = proof.to_vec();
    let case = |what, size1, size2, proof: Vec<Hash>, root1: Hash, root2: Hash| BadConsistency {
        what,
        size1,
        size2,
        proof,
        root1,
        root2,
    };
    let wrong = leaf_hash(b"WrongRoot");
    let mut bad = vec![
        case("size1 - 1", size1 - 1, size2, p.clone(), *root1, *root2),
        case("size1 + 1", size1 + 1, size2, p.clone(), *root1, *root2),
        case("size1 ^ 2", size1 ^ 2, size2, p.clone(), *root1, *root2),
        case("size2 * 2", size1, size2 * 2, p.clone(), *root1, *root2),
        case("size2 / 2", size1, size2 / 2, p.clone(), *root1, *root2),
        case("wrong root1", size1, size2, p.clone(), wrong, *root2),
        case("wrong root2", size1, size2, p.clone(), *root1, wrong),
        case("swapped roots", size1, size2, p.clone(), *root2, *root1),
        case("empty proof", size1, size2, vec![], *root1, *root2),
        case(
            "trailing root1",
            size1,
            size2,
            [p.clone(), vec![*root1]].concat(),
            *root1,
            *root2,
        ),
        case(
            "trailing root2",
            size1,
            size2,
            [p.clone(), vec![*root2]].concat(),
            *root1,
            *root2,
        ),
        case(
            "preceding root1",
            size1,
            size2,
            [vec![*root1], p.clone()].concat(),
            *root1,
            *root2,
        ),
        case(
            "preceding proof[0]",
            size1,
            size2,
            [vec![p[0]], p.clone()].concat(),
            *root1,
            *root2,
        ),
        case(
            "truncated",
            size1,
            size2,
            p[..p.len() - 1].to_vec(),
            *root1,
            *root2,
        ),
    ];
    for i in 0..p.len() {
        let mut q = p.clone();
        q[i][0] ^= 16;
        bad.push(case("flipped bit", size1, size2, q, *root1, *root2));
    }
    bad
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn tree_builder_matches_reference(size in 0usize..1200, seed in any::<u64>()) {
        let leaves = leaf_hashes(&entries(seed, size));
        let mut builder = TreeBuilder::new();
        for (i, leaf) in leaves.iter().enumerate() {
            builder.push(*leaf);
            if i % 97 == 0 || i + 1 == size {
                prop_assert_eq!(builder.root(), ref_mth(&leaves[..=i]));
            }
        }
        prop_assert_eq!(builder.root(), ref_mth(&leaves));
    }

    #[test]
    fn reference_proofs_verify_and_mutations_fail(
        size in 1usize..600,
        index_seed in any::<u64>(),
        size1_seed in any::<u64>(),
        flip in any::<(usize, u8)>(),
    ) {
        let leaves = leaf_hashes(&entries(7, size));
        let root = ref_mth(&leaves);
        let index = (index_seed % size as u64) as usize;
        let path = ref_path(index, &leaves);
        verify_inclusion(&leaves[index], index as u64, size as u64, &path, &root).unwrap();
        if !path.is_empty() {
            let mut bad = path.clone();
            let i = flip.0 % bad.len();
            bad[i][usize::from(flip.1) % 32] ^= 1 << (flip.1 % 8);
            prop_assert!(verify_inclusion(&leaves[index], index as u64, size as u64, &bad, &root).is_err());
        }
        let mut other = index as u64 + 1 + index_seed % 3;
        if other < size as u64 {
            prop_assert!(verify_inclusion(&leaves[index], other, size as u64, &path, &root).is_err());
        }
        // A different tree depth (the size alone is not bound when the shape is unchanged:
        // leaf 0 of 3 and of 4 have the same audit path).
        other = size as u64 * 2;
        prop_assert!(verify_inclusion(&leaves[index], index as u64, other, &path, &root).is_err());

        let size1 = (size1_seed % size as u64) as usize + 1;
        let root1 = ref_mth(&leaves[..size1]);
        let proof = ref_proof(size1, &leaves);
        verify_consistency(size1 as u64, size as u64, &proof, &root1, &root).unwrap();
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let i = flip.0 % bad.len();
            bad[i][usize::from(flip.1) % 32] ^= 1 << (flip.1 % 8);
            prop_assert!(verify_consistency(size1 as u64, size as u64, &bad, &root1, &root).is_err());
            prop_assert!(verify_consistency(size1 as u64, size as u64, &proof, &root, &root1).is_err());
            if size1 > 1 {
                prop_assert!(verify_consistency(size1 as u64 - 1, size as u64, &proof, &root1, &root).is_err());
            }
        }
    }

    #[test]
    fn verifiers_never_panic(
        index in any::<u64>(),
        size in any::<u64>(),
        proof in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
        a in any::<[u8; 32]>(),
        b in any::<[u8; 32]>(),
    ) {
        let _ = verify_inclusion(&a, index, size, &proof, &b);
        let _ = verify_consistency(index, size, &proof, &a, &b);
        let _ = verify_consistency(index % 1000, size % 5000, &proof, &a, &b);
    }
}
