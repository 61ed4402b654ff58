//! TileLog against the naive RFC 6962 reference and the tlog-tiles definition of tile contents.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use mamori_ledger::merkle::{empty_root, leaf_hash, verify_consistency, verify_inclusion};
use mamori_ledger::note::{self, Signer};
use mamori_ledger::tile::{TilePath, entries_path, parse_tile_path, tile_path};
use mamori_ledger::{LedgerError, TileLog, TileReader};
use proptest::prelude::*;

const ORIGIN: &str = "example.com/tiles";

/// Append `entries` in batches of the given sizes (the last batch takes the rest).
fn append_in_batches(log: &mut TileLog, entries: &[Hash], batches: &[usize]) {
    let mut start = 0;
    for &len in batches {
        let end = (start + len).min(entries.len());
        log.append(&entries[start..end]).unwrap();
        start = end;
    }
    log.append(&entries[start..]).unwrap();
    assert_eq!(log.size(), entries.len() as u64);
}

/// The files a log of `leaves` must hold for its size, straight from the tlog-tiles text:
/// tile n of level l holds MTH(D[(n*256+i)*256^l : (n*256+i+1)*256^l]) for i in 0..256 (fewer
/// for the partial tile, which has floor(s / 256^l) mod 256 hashes).
fn expected_files(entries: &[Hash]) -> BTreeMap<String, Vec<u8>> {
    let reference = RefTree::new(leaf_hashes(entries));
    let size = entries.len() as u64;
    let mut files = BTreeMap::new();
    for level in 0u8..8 {
        let span = 256u64.pow(u32::from(level));
        let hashes = size / span;
        if hashes == 0 {
            break;
        }
        for tile in 0..hashes.div_ceil(256) {
            let width = (hashes - tile * 256).min(256);
            let mut bytes = Vec::new();
            for i in 0..width {
                let start = ((tile * 256 + i) * span) as usize;
                bytes.extend_from_slice(&reference.mth(start, start + span as usize));
            }
            files.insert(tile_path(level, tile, width as u16), bytes);
        }
    }
    for bundle in 0..size.div_ceil(256) {
        let width = (size - bundle * 256).min(256);
        let mut bytes = Vec::new();
        for entry in &entries[(bundle * 256) as usize..(bundle * 256 + width) as usize] {
            bytes.extend_from_slice(&[0, 32]);
            bytes.extend_from_slice(entry);
        }
        files.insert(entries_path(bundle, width as u16), bytes);
    }
    files
}

/// Every resource the log serves for its size equals the expected bytes, the next ones do not
/// exist, and the packed files hold exactly what the tiles need.
fn assert_tiles_match(dir: &Path, entries: &[Hash]) {
    let size = entries.len() as u64;
    let reader = TileReader::new(dir);
    let expected = expected_files(entries);
    for (path, bytes) in &expected {
        let tile = parse_tile_path(path).unwrap();
        assert_eq!(
            reader.read(&tile, size).unwrap().as_ref(),
            Some(bytes),
            "{path} for size {size}"
        );
        // Every shorter prefix is served too (partial tiles named by older checkpoints).
        if let TilePath::Hashes {
            level,
            index,
            width,
        } = tile
        {
            let prefix = TilePath::Hashes {
                level,
                index,
                width: width - 1,
            };
            if width > 1 {
                assert_eq!(
                    reader.read(&prefix, size).unwrap().as_deref(),
                    Some(&bytes[..bytes.len() - 32])
                );
            }
            // Nothing past the tree: one more hash in a partial tile, or a tile after the last.
            let beyond = if width < 256 {
                TilePath::Hashes {
                    level,
                    index,
                    width: width + 1,
                }
            } else {
                TilePath::Hashes {
                    level,
                    index: index + 1,
                    width: 1,
                }
            };
            let next_full = tile_path(level, index + 1, 256);
            if width < 256 || !expected.keys().any(|p| p.starts_with(&next_full)) {
                assert_eq!(reader.read(&beyond, size).unwrap(), None, "{beyond:?}");
            }
        }
    }
    assert_eq!(
        std::fs::metadata(dir.join("entries")).unwrap().len(),
        size * 32
    );
    assert_eq!(
        std::fs::metadata(dir.join("hashes/08")).unwrap().len(),
        (size >> 8) * 32
    );
}

fn check_against_reference(log: &TileLog, entries: &[Hash], probes: &[u64]) {
    let reference = RefTree::new(leaf_hashes(entries));
    let size = entries.len();
    let root = reference.mth(0, size);
    assert_eq!(log.root().unwrap(), root, "root at {size}");
    if size == 0 {
        return;
    }
    for (n, &probe) in probes.iter().enumerate() {
        let tree_size = (probe % size as u64 + 1) as usize;
        let index = (probe.rotate_left(17) % tree_size as u64) as usize;
        let old_root = reference.mth(0, tree_size);
        assert_eq!(
            log.root_at(tree_size as u64).unwrap(),
            old_root,
            "root_at {tree_size}"
        );
        assert_eq!(log.entry(index as u64).unwrap(), entries[index]);
        let leaf = leaf_hash(&entries[index]);
        let path = log.inclusion_proof(index as u64, tree_size as u64).unwrap();
        assert_eq!(
            path,
            reference.path(index, tree_size),
            "path {index}/{tree_size}"
        );
        verify_inclusion(&leaf, index as u64, tree_size as u64, &path, &old_root).unwrap();
        // And at the full size, which takes the right edge from memory.
        let full_path = log.inclusion_proof(index as u64, size as u64).unwrap();
        assert_eq!(
            full_path,
            reference.path(index, size),
            "path {index}/{size}"
        );
        let size1 = if n % 2 == 0 { index + 1 } else { tree_size };
        let proof = log.consistency_proof(size1 as u64, size as u64).unwrap();
        assert_eq!(
            proof,
            reference.proof(size1, size),
            "consistency {size1}->{size}"
        );
        let root1 = reference.mth(0, size1);
        verify_consistency(size1 as u64, size as u64, &proof, &root1, &root).unwrap();
        let partial = log
            .consistency_proof(size1 as u64, tree_size as u64)
            .unwrap();
        assert_eq!(
            partial,
            reference.proof(size1, tree_size),
            "consistency {size1}->{tree_size}"
        );
    }
}

#[test]
fn boundary_sizes_match_reference_and_tile_definition() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    let all = entries(1, 70_000);
    let mut size = 0;
    for target in [
        1usize, 2, 3, 255, 256, 257, 511, 512, 4096, 4097, 65_535, 65_536, 65_537, 70_000,
    ] {
        log.append(&all[size..target]).unwrap();
        size = target;
        assert_tiles_match(dir.path(), &all[..size]);
        let probes: Vec<u64> = (0..6u64)
            .map(|i| u64::from(entry(9, i * 31 + size as u64)[0]) * 1_000_003 + i)
            .collect();
        check_against_reference(&log, &all[..size], &probes);
    }
    // The spec's example: 70,000 leaves = 273 full level-0 tiles + a partial of 112, one full
    // level-1 tile + a partial of 17, and a partial level-2 tile of width 1.
    for path in [
        "tile/0/272",
        "tile/0/273.p/112",
        "tile/1/000",
        "tile/1/001.p/17",
        "tile/2/000.p/1",
        "tile/entries/273.p/112",
    ] {
        let tile = parse_tile_path(path).unwrap();
        assert!(log.read_file(&tile).unwrap().is_some(), "{path}");
    }
    for absent in [
        "tile/0/273",
        "tile/0/273.p/113",
        "tile/1/001",
        "tile/2/000",
        "tile/3/000.p/1",
    ] {
        let tile = parse_tile_path(absent).unwrap();
        assert_eq!(log.read_file(&tile).unwrap(), None, "{absent}");
    }
}

#[test]
fn every_small_size_matches_reference_exhaustively() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    let all = entries(2, 300);
    let leaves = leaf_hashes(&all);
    for size in 1..=all.len() {
        log.append(&all[size - 1..size]).unwrap();
        if size > 40 && size % 37 != 0 && size != 256 && size != 257 {
            continue;
        }
        for tree_size in 1..=size {
            for index in 0..tree_size {
                if tree_size > 40 && index % 29 != 0 && index + 1 != tree_size {
                    continue;
                }
                let path = log.inclusion_proof(index as u64, tree_size as u64).unwrap();
                assert_eq!(
                    path,
                    ref_path(index, &leaves[..tree_size]),
                    "{index}/{tree_size}"
                );
            }
            let proof = log
                .consistency_proof(tree_size as u64, size as u64)
                .unwrap();
            assert_eq!(
                proof,
                ref_proof(tree_size, &leaves[..size]),
                "{tree_size}->{size}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// Random sizes and random batch splits: same tiles, roots and proofs as the reference.
    #[test]
    fn random_appends_match_reference(
        size in prop_oneof![4 => 0usize..800, 1 => 250usize..270, 1 => 4090usize..4100],
        batches in proptest::collection::vec(0usize..300, 0..6),
        seed in any::<u64>(),
        probes in proptest::collection::vec(any::<u64>(), 4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
        let all = entries(seed, size);
        append_in_batches(&mut log, &all, &batches);
        assert_tiles_match(dir.path(), &all);
        check_against_reference(&log, &all, &probes);
        // Reopening reads the same state back from disk.
        drop(log);
        let log = TileLog::open(dir.path(), ORIGIN).unwrap();
        check_against_reference(&log, &all, &probes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, ..ProptestConfig::default() })]

    /// Large trees crossing the level-1 and level-2 tile boundaries, in random batches.
    #[test]
    fn large_random_appends_match_reference(
        size in 65_000usize..70_000,
        batches in proptest::collection::vec(1usize..30_000, 1..5),
        probes in proptest::collection::vec(any::<u64>(), 3),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
        let all = entries(5, size);
        append_in_batches(&mut log, &all, &batches);
        assert_tiles_match(dir.path(), &all);
        check_against_reference(&log, &all, &probes);
    }
}

#[test]
fn tile_bytes_do_not_depend_on_batch_split() {
    let all = entries(4, 5000);
    let splits: [&[usize]; 4] = [&[5000], &[1; 300], &[255, 1, 256, 3000], &[17, 4000, 900]];
    let mut reference: Option<BTreeMap<String, Vec<u8>>> = None;
    for split in splits {
        let dir = tempfile::tempdir().unwrap();
        let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
        append_in_batches(&mut log, &all, split);
        let mut files = snapshot(dir.path(), "hashes");
        files.insert(
            "entries".into(),
            std::fs::read(dir.path().join("entries")).unwrap(),
        );
        match &reference {
            None => reference = Some(files),
            Some(reference) => assert_eq!(&files, reference, "split {split:?}"),
        }
    }
}

#[test]
fn empty_log_and_empty_appends() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(&dir.path().join("new/nested"), ORIGIN).unwrap();
    assert_eq!(log.size(), 0);
    assert_eq!(log.root().unwrap(), empty_root());
    assert_eq!(log.root_at(0).unwrap(), empty_root());
    log.append(&[]).unwrap();
    assert_eq!(log.size(), 0);
    assert!(matches!(
        log.entry(0),
        Err(LedgerError::IndexOutOfRange { .. })
    ));
    assert!(log.inclusion_proof(0, 0).is_err());
    assert_eq!(log.consistency_proof(0, 0).unwrap(), Vec::<Hash>::new());
    assert_eq!(log.latest_checkpoint().unwrap(), None);
    assert!(log.checkpoint_history().unwrap().is_empty());
    assert_eq!(log.origin(), ORIGIN);
    assert!(log.dir().ends_with("new/nested"));
}

#[test]
fn range_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    log.append(&entries(0, 10)).unwrap();
    assert!(matches!(
        log.entry(10),
        Err(LedgerError::IndexOutOfRange {
            index: 10,
            tree_size: 10
        })
    ));
    assert!(matches!(
        log.inclusion_proof(5, 5),
        Err(LedgerError::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        log.inclusion_proof(0, 11),
        Err(LedgerError::TreeSizeOutOfRange { .. })
    ));
    assert!(matches!(
        log.root_at(11),
        Err(LedgerError::TreeSizeOutOfRange { .. })
    ));
    assert!(matches!(
        log.consistency_proof(6, 5),
        Err(LedgerError::SizesOutOfOrder { .. })
    ));
    assert!(matches!(
        log.consistency_proof(5, 11),
        Err(LedgerError::TreeSizeOutOfRange { .. })
    ));
    assert!(log.consistency_proof(0, 10).unwrap().is_empty());
    assert!(log.consistency_proof(10, 10).unwrap().is_empty());
}

#[test]
fn origin_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["", "with space", "a+b", "tab\t"] {
        assert!(matches!(
            TileLog::open(dir.path(), bad),
            Err(LedgerError::InvalidOrigin(_))
        ));
    }
    TileLog::open(dir.path(), ORIGIN).unwrap();
    assert!(matches!(
        TileLog::open(dir.path(), "example.com/other"),
        Err(LedgerError::OriginMismatch { .. })
    ));
}

#[test]
fn missing_state_next_to_tiles_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    log.append(&entries(0, 10)).unwrap();
    drop(log);
    std::fs::remove_file(dir.path().join("state")).unwrap();
    assert!(matches!(
        TileLog::open(dir.path(), ORIGIN),
        Err(LedgerError::MissingState { .. })
    ));
    std::fs::write(dir.path().join("state"), "garbage").unwrap();
    assert!(matches!(
        TileLog::open(dir.path(), ORIGIN),
        Err(LedgerError::Corrupt { .. })
    ));
}

#[test]
fn read_file_serves_only_resources_of_the_durable_tree() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    let all = entries(6, 600);
    log.append(&all[..300]).unwrap();
    log.append(&all[300..400]).unwrap();
    // Size 400: tile/0/000 full, tile/0/001.p/44 (older) and .p/144 (current).
    let full = TilePath::Hashes {
        level: 0,
        index: 0,
        width: 256,
    };
    let expected: Vec<u8> = leaf_hashes(&all[..256]).concat();
    assert_eq!(log.read_file(&full).unwrap(), Some(expected));
    let current = TilePath::Hashes {
        level: 0,
        index: 1,
        width: 144,
    };
    assert_eq!(log.read_file(&current).unwrap().unwrap().len(), 144 * 32);
    let older = TilePath::Hashes {
        level: 0,
        index: 1,
        width: 44,
    };
    assert_eq!(log.read_file(&older).unwrap().unwrap().len(), 44 * 32);
    let level1 = TilePath::Hashes {
        level: 1,
        index: 0,
        width: 1,
    };
    assert_eq!(
        log.read_file(&level1).unwrap(),
        Some(ref_mth(&leaf_hashes(&all[..256])).to_vec())
    );
    let bundle = TilePath::Entries {
        index: 0,
        width: 256,
    };
    assert_eq!(log.read_file(&bundle).unwrap().unwrap().len(), 256 * 34);
    for absent in [
        TilePath::Hashes {
            level: 0,
            index: 1,
            width: 256,
        },
        TilePath::Hashes {
            level: 0,
            index: 1,
            width: 145,
        },
        TilePath::Hashes {
            level: 0,
            index: u64::MAX,
            width: 1,
        },
        TilePath::Hashes {
            level: 0,
            index: 2,
            width: 1,
        },
        TilePath::Hashes {
            level: 1,
            index: 0,
            width: 256,
        },
        TilePath::Hashes {
            level: 2,
            index: 0,
            width: 1,
        },
        TilePath::Hashes {
            level: 9,
            index: 0,
            width: 1,
        },
        TilePath::Entries {
            index: 1,
            width: 256,
        },
        TilePath::Entries {
            index: 1,
            width: 200,
        },
    ] {
        assert_eq!(log.read_file(&absent).unwrap(), None, "{absent:?}");
    }
}

#[test]
fn checkpoints_are_signed_stored_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    let signer = Signer::generate(ORIGIN).unwrap();
    let empty = log.sign_checkpoint(&signer).unwrap();
    let all = entries(8, 1000);
    log.append(&all[..10]).unwrap();
    let first = log.sign_checkpoint(&signer).unwrap();
    log.append(&all[10..]).unwrap();
    let second = log.sign_checkpoint(&signer).unwrap();
    // Signing again at the same size with the same key is idempotent.
    assert_eq!(log.sign_checkpoint(&signer).unwrap(), second);
    assert_eq!(
        log.latest_checkpoint().unwrap().as_deref(),
        Some(second.as_str())
    );
    assert_eq!(
        log.checkpoint_history().unwrap(),
        vec![empty.clone(), first.clone(), second.clone()]
    );
    assert!(
        dir.path()
            .join("checkpoints/00000000000000000010")
            .is_file()
    );
    assert!(
        dir.path()
            .join("checkpoints/00000000000000001000")
            .is_file()
    );

    let body = note::open(&first, &signer.verifier()).unwrap();
    let checkpoint = mamori_ledger::checkpoint::Checkpoint::parse(&body).unwrap();
    assert_eq!((checkpoint.origin.as_str(), checkpoint.size), (ORIGIN, 10));
    assert_eq!(checkpoint.root, ref_mth(&leaf_hashes(&all[..10])));
    let body = note::open(&empty, &signer.verifier()).unwrap();
    assert_eq!(
        mamori_ledger::checkpoint::Checkpoint::parse(&body)
            .unwrap()
            .root,
        empty_root()
    );

    // A different key under the same name would rewrite history: refused.
    let other = Signer::generate(ORIGIN).unwrap();
    assert!(matches!(
        log.sign_checkpoint(&other),
        Err(LedgerError::CheckpointConflict { size: 1000, .. })
    ));
    let stranger = Signer::generate("example.com/elsewhere").unwrap();
    assert!(matches!(
        log.sign_checkpoint(&stranger),
        Err(LedgerError::SignerMismatch { .. })
    ));
    assert_eq!(
        log.latest_checkpoint().unwrap().as_deref(),
        Some(second.as_str())
    );
}

#[test]
fn stored_levels_hold_complete_subtrees() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    let all = entries(10, 70_000);
    log.append(&all).unwrap();
    let stored = snapshot(dir.path(), "hashes");
    assert_eq!(stored["hashes/04"].len(), 70_000 / 16 * 32);
    assert_eq!(stored["hashes/12"].len(), 70_000 / 4096 * 32);
    assert!(
        stored["hashes/20"].is_empty(),
        "no complete 2^20 subtree yet"
    );
    let leaves = leaf_hashes(&all);
    for (i, chunk) in stored["hashes/12"].chunks(32).enumerate() {
        assert_eq!(chunk, ref_mth(&leaves[i * 4096..(i + 1) * 4096]));
    }
    let proof = log.inclusion_proof(12_345, 70_000).unwrap();
    drop(log);
    let log = TileLog::open(dir.path(), ORIGIN).unwrap();
    assert_eq!(log.inclusion_proof(12_345, 70_000).unwrap(), proof);
    verify_inclusion(
        &leaf_hash(&all[12_345]),
        12_345,
        70_000,
        &proof,
        &log.root().unwrap(),
    )
    .unwrap();
}

#[test]
fn reopened_log_continues_identically() {
    let all = entries(11, 3000);
    let straight = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(straight.path(), ORIGIN).unwrap();
    log.append(&all[..1000]).unwrap();
    log.append(&all[1000..]).unwrap();
    let interrupted = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(interrupted.path(), ORIGIN).unwrap();
    log.append(&all[..1000]).unwrap();
    drop(log);
    let mut log = TileLog::open(interrupted.path(), ORIGIN).unwrap();
    assert_eq!(log.size(), 1000);
    log.append(&all[1000..]).unwrap();
    assert_eq!(
        snapshot(straight.path(), "hashes"),
        snapshot(interrupted.path(), "hashes")
    );
    assert_eq!(
        std::fs::read(straight.path().join("entries")).unwrap(),
        std::fs::read(interrupted.path().join("entries")).unwrap()
    );
}

#[test]
fn one_open_log_per_directory() {
    let dir = tempfile::tempdir().unwrap();
    let log = TileLog::open(dir.path(), ORIGIN).unwrap();
    assert!(matches!(
        TileLog::open(dir.path(), ORIGIN),
        Err(LedgerError::Locked { .. })
    ));
    drop(log);
    TileLog::open(dir.path(), ORIGIN).unwrap();
}

#[test]
fn deferred_appends_roll_back_to_the_last_sync_and_replay_identically() {
    let all = entries(12, 2000);
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    log.defer_durability();
    log.append(&all[..700]).unwrap();
    log.sync().unwrap();
    log.append(&all[700..1300]).unwrap();
    log.append(&all[1300..1500]).unwrap();
    assert_eq!(log.size(), 1500);
    // Dropped without a sync, as if the process died: the unsynced appends are rolled back.
    drop(log);
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    assert_eq!(log.size(), 700);
    log.defer_durability();
    log.append(&all[700..]).unwrap();
    let signer = mamori_ledger::note::Signer::generate(ORIGIN).unwrap();
    // Signing makes the tree durable first: a reopened log keeps everything it covers.
    log.sign_checkpoint(&signer).unwrap();
    drop(log);
    let log = TileLog::open(dir.path(), ORIGIN).unwrap();
    assert_eq!(log.size(), 2000);
    assert_tiles_match(dir.path(), &all);
    check_against_reference(&log, &all, &[0, 699, 700, 1499, 1999]);
}
