//! `TileReader` proofs: from the packed files alone, beside an open `TileLog`, for the tree of
//! any committed size, the same audit paths as the log's own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::*;
use mamori_ledger::checkpoint::Checkpoint;
use mamori_ledger::merkle::{leaf_hash, verify_inclusion};
use mamori_ledger::note::{self, Signer, Verifier};
use mamori_ledger::{LedgerError, TileLog, TileReader};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const ORIGIN: &str = "example.com/served";

/// A signed checkpoint's size and root, as a C2SP client trusts them.
fn open_checkpoint(signed: &str, verifier: &Verifier) -> (u64, Hash) {
    let checkpoint = Checkpoint::parse(&note::open(signed, verifier).unwrap()).unwrap();
    (checkpoint.size, checkpoint.root)
}

/// First, last and a spread of indices of a tree of `tree_size` leaves.
fn probe_indices(tree_size: u64) -> Vec<u64> {
    let mut indices = vec![0, tree_size / 2, tree_size - 1];
    indices.extend([1, 255, 256, 257, 65_535, 65_536].map(|i| i.min(tree_size - 1)));
    indices.extend((1..6).map(|k| u64::from(entry(7, tree_size * 8 + k)[0]) * tree_size / 256));
    indices.extend(tree_size.checked_sub(2));
    indices
}

/// For the first, last and other leaves of the tree of `tree_size` leaves with `root`, see
/// [`assert_reader_proves`].
fn assert_reader_proves_tree(
    reader: &TileReader,
    log: &TileLog,
    entries: &[Hash],
    (tree_size, root): (u64, Hash),
) {
    for index in probe_indices(tree_size) {
        assert_reader_proves(reader, log, entries, index, tree_size, &root);
    }
}

/// The reader's proof of `index` in the tree of `tree_size` leaves is the log's, and it
/// verifies against `root`.
fn assert_reader_proves(
    reader: &TileReader,
    log: &TileLog,
    entries: &[Hash],
    index: u64,
    tree_size: u64,
    root: &Hash,
) {
    let proof = reader.inclusion_proof(index, tree_size).unwrap();
    assert_eq!(
        proof,
        log.inclusion_proof(index, tree_size).unwrap(),
        "{index}/{tree_size}"
    );
    let entry = &entries[index as usize];
    assert_eq!(reader.entry(index, tree_size).unwrap(), *entry);
    verify_inclusion(&leaf_hash(entry), index, tree_size, &proof, root).unwrap();
}

#[test]
fn reader_proofs_match_the_log_at_signed_sizes_old_and_new() {
    let dir = tempfile::tempdir().unwrap();
    // The log stays open for appending, holding its lock, while the reader reads.
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    let reader = TileReader::new(dir.path());
    let signer = Signer::generate(ORIGIN).unwrap();
    let verifier = signer.verifier();
    let all = entries(3, 70_001);
    let mut signed = Vec::new();
    for target in [
        1u64, 2, 3, 255, 256, 257, 4095, 4096, 4097, 65_535, 65_536, 65_537, 70_001,
    ] {
        log.append(&all[log.size() as usize..target as usize])
            .unwrap();
        let checkpoint = open_checkpoint(&log.sign_checkpoint(&signer).unwrap(), &verifier);
        assert_eq!(checkpoint.0, target);
        assert_reader_proves_tree(&reader, &log, &all, checkpoint);
        signed.push(checkpoint);
    }
    // Every older checkpoint after the log has grown: proofs in the tree it names, which
    // C2SP clients holding it need.
    for checkpoint in signed {
        assert_reader_proves_tree(&reader, &log, &all, checkpoint);
    }
}

#[test]
fn reader_proofs_match_the_log_at_random_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    let all = entries(4, 70_000);
    // Odd batches, so hashes of one tile and one run come from several appends.
    for batch in all.chunks(9_973) {
        log.append(batch).unwrap();
    }
    let reader = TileReader::new(dir.path());
    let sizes = prop_oneof![
        4 => 1u64..=70_000,
        1 => 1u64..600,
        1 => (0u64..=1).prop_flat_map(|k| 65_536 * k..=65_536 * k + 300).prop_map(|s| s.max(1)),
    ];
    let cases = sizes.prop_flat_map(|tree_size| (Just(tree_size), 0..tree_size));
    let mut runner = TestRunner::new(Config {
        cases: 400,
        ..Config::default()
    });
    runner
        .run(&cases, |(tree_size, index)| {
            let root = log.root_at(tree_size).unwrap();
            assert_reader_proves(&reader, &log, &all, index, tree_size, &root);
            Ok(())
        })
        .unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Random batches, a checkpoint signed after each: every signed tree, old or new, gets
    /// the log's proofs from the reader.
    #[test]
    fn reader_proves_every_signed_checkpoint_of_random_appends(
        batches in proptest::collection::vec(1usize..700, 1..8),
        seed in any::<u64>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
        // Signing syncs: one `syncfs` per checkpoint instead of fsyncs per append too.
        log.defer_durability();
        let reader = TileReader::new(dir.path());
        let signer = Signer::generate(ORIGIN).unwrap();
        let all = entries(seed, batches.iter().sum());
        let mut signed = Vec::new();
        for len in batches {
            let start = log.size() as usize;
            log.append(&all[start..start + len]).unwrap();
            signed.push(open_checkpoint(&log.sign_checkpoint(&signer).unwrap(), &signer.verifier()));
        }
        for checkpoint in signed {
            assert_reader_proves_tree(&reader, &log, &all, checkpoint);
        }
    }
}

#[test]
fn reader_proves_the_latest_checkpoint_while_the_log_appends() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::generate(ORIGIN).unwrap();
    let verifier = signer.verifier();
    let all = entries(5, 20_000);
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    log.append(&all[..1]).unwrap();
    log.sign_checkpoint(&signer).unwrap();
    std::thread::scope(|scope| {
        let appender = scope.spawn(|| {
            for batch in all[1..].chunks(997) {
                log.append(batch).unwrap();
                log.sign_checkpoint(&signer).unwrap();
            }
        });
        // A tile server: prove entries in whatever tree the latest checkpoint names.
        let reader = TileReader::new(dir.path());
        let mut proved = 0u64;
        while proved == 0 || !appender.is_finished() {
            let (signed, _) = reader.latest_checkpoint().unwrap().unwrap();
            let (tree_size, root) = open_checkpoint(&signed, &verifier);
            let index = u64::from(entry(6, proved)[0]) * tree_size / 256;
            let proof = reader.inclusion_proof(index, tree_size).unwrap();
            let leaf = leaf_hash(&all[index as usize]);
            verify_inclusion(&leaf, index, tree_size, &proof, &root).unwrap();
            proved += 1;
        }
        appender.join().unwrap();
    });
}

#[test]
fn reader_refuses_trees_the_log_has_not_committed() {
    let dir = tempfile::tempdir().unwrap();
    let reader = TileReader::new(dir.path());
    // No log at all.
    assert!(matches!(
        reader.inclusion_proof(0, 1),
        Err(LedgerError::TreeSizeOutOfRange {
            tree_size: 1,
            size: 0
        })
    ));
    let all = entries(8, 300);
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    log.append(&all[..260]).unwrap();
    assert!(matches!(
        reader.inclusion_proof(0, 261),
        Err(LedgerError::TreeSizeOutOfRange {
            tree_size: 261,
            size: 260
        })
    ));
    assert!(matches!(
        reader.entry(0, 261),
        Err(LedgerError::TreeSizeOutOfRange { .. })
    ));
    for (index, tree_size) in [(260, 260), (0, 0), (300, 100)] {
        assert!(matches!(
            reader.inclusion_proof(index, tree_size),
            Err(LedgerError::IndexOutOfRange { .. })
        ));
        assert!(matches!(
            reader.entry(index, tree_size),
            Err(LedgerError::IndexOutOfRange { .. })
        ));
    }
    // Appended but not yet synced: the files may hold it, a crash could still take it back.
    log.defer_durability();
    log.append(&all[260..]).unwrap();
    assert_eq!(log.inclusion_proof(0, 300).unwrap().len(), 9);
    assert!(matches!(
        reader.inclusion_proof(0, 300),
        Err(LedgerError::TreeSizeOutOfRange {
            tree_size: 300,
            size: 260
        })
    ));
    log.sync().unwrap();
    assert_eq!(
        reader.inclusion_proof(299, 300).unwrap(),
        log.inclusion_proof(299, 300).unwrap()
    );
}

#[test]
fn reader_reports_files_shorter_than_the_committed_tree() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    log.append(&entries(9, 1000)).unwrap();
    drop(log);
    let reader = TileReader::new(dir.path());
    reader.inclusion_proof(999, 1000).unwrap();
    cut_file(&dir.path().join("hashes/04"), 32 * 40);
    // Proofs that need hashes past the cut fail; none is ever made up.
    let error = reader.inclusion_proof(999, 1000).unwrap_err();
    assert!(matches!(error, LedgerError::Io { .. }), "{error}");
    assert!(error.to_string().contains("hashes/04"), "{error}");
    std::fs::remove_file(dir.path().join("entries")).unwrap();
    assert!(matches!(reader.entry(0, 1000), Err(LedgerError::Io { .. })));
}

fn cut_file(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}
