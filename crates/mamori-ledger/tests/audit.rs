//! The auditor: a clean log passes; every kind of damage is found and names the right leaf.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::Path;

use common::*;
use mamori_ledger::TileLog;
use mamori_ledger::audit::{AuditError, AuditReport, Auditor};
use mamori_ledger::checkpoint::Checkpoint;
use mamori_ledger::note::Signer;

const ORIGIN: &str = "example.com/audited";

struct Fixture {
    dir: tempfile::TempDir,
    entries: Vec<Hash>,
    signer: Signer,
}

/// A log built by appending `batches`, signing a checkpoint after each.
fn fixture(seed: u64, batches: &[usize]) -> Fixture {
    let total: usize = batches.iter().sum();
    let entries = entries(seed, total);
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::generate(ORIGIN).unwrap();
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    log.sign_checkpoint(&signer).unwrap();
    let mut start = 0;
    for &len in batches {
        log.append(&entries[start..start + len]).unwrap();
        start += len;
        log.sign_checkpoint(&signer).unwrap();
    }
    Fixture {
        dir,
        entries,
        signer,
    }
}

impl Fixture {
    /// Audit a copy of the log after `damage`, pushing `entries`.
    fn audit_with(
        &self,
        damage: impl FnOnce(&Path),
        entries: &[Hash],
    ) -> Result<AuditReport, AuditError> {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(self.dir.path(), copy.path());
        damage(copy.path());
        audit(copy.path(), &self.signer, entries)
    }

    fn audit_damaged(&self, damage: impl FnOnce(&Path)) -> AuditError {
        self.audit_with(damage, &self.entries)
            .expect_err("damage not detected")
    }
}

fn audit(dir: &Path, signer: &Signer, entries: &[Hash]) -> Result<AuditReport, AuditError> {
    let mut auditor = Auditor::new(dir, &signer.verifier(), ORIGIN).unwrap();
    for entry in entries {
        auditor.push(entry)?;
    }
    auditor.finish()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn flip(path: &Path, offset: usize) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset] ^= 0x40;
    fs::write(path, bytes).unwrap();
}

fn truncate(path: &Path, len: usize) {
    let bytes = fs::read(path).unwrap();
    fs::write(path, &bytes[..len]).unwrap();
}

fn append_bytes(path: &Path, extra: &[u8]) {
    let mut bytes = fs::read(path).unwrap();
    bytes.extend_from_slice(extra);
    fs::write(path, bytes).unwrap();
}

#[test]
fn clean_logs_pass_with_full_coverage() {
    let f = fixture(1, &[300, 100, 4600]);
    let report = audit(f.dir.path(), &f.signer, &f.entries).unwrap();
    assert_eq!(report.leaves, 5000);
    // Level 0: 19 full tiles and 019.p/136. Level 1: 000.p/19.
    assert_eq!(report.tiles_checked, 19 + 1 + 1);
    assert_eq!(report.bundles_checked, 19 + 1);
    // Checkpoints at 0, 300, 400, 5000, plus the `checkpoint` file.
    assert_eq!(report.checkpoints_checked, 5);
    assert_eq!(report.latest_checkpoint_size, 5000);
}

#[test]
fn empty_and_unsigned_logs_pass() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::generate(ORIGIN).unwrap();
    TileLog::open(dir.path(), ORIGIN).unwrap();
    let report = audit(dir.path(), &signer, &[]).unwrap();
    assert_eq!(report, AuditReport::default());
    let mut log = TileLog::open(dir.path(), ORIGIN).unwrap();
    log.append(&entries(3, 10)).unwrap();
    let report = audit(dir.path(), &signer, &entries(3, 10)).unwrap();
    assert_eq!(
        (
            report.leaves,
            report.tiles_checked,
            report.bundles_checked,
            report.checkpoints_checked
        ),
        (10, 1, 1, 0)
    );
}

/// Byte `offset` of tile `tile` of tile level `tile_level`, in its packed file.
fn tile_byte(tile_level: u8, tile: usize, offset: usize) -> (String, usize) {
    (
        format!("hashes/{:02}", tile_level * 8),
        tile * 8192 + offset,
    )
}

#[test]
fn level0_tile_byte_flip_names_the_leaf() {
    let f = fixture(2, &[1000, 4000]);
    // Byte 1000 of tile/0/003 belongs to hash 31 of the tile: leaf 3 * 256 + 31.
    let (file, offset) = tile_byte(0, 3, 1000);
    let error = f.audit_damaged(|dir| flip(&dir.join(&file), offset));
    assert!(
        matches!(&error, AuditError::HashMismatch { leaf_index: 799, path, tile } if path == "hashes/00" && tile == "tile/0/003"),
        "{error}"
    );
    assert_eq!(error.leaf_index(), Some(799));
    assert_eq!(
        error.to_string(),
        "leaf 799: hashes/00 (served as tile/0/003) does not match the recomputed hashes"
    );
    // First and last byte of the first tile.
    let error = f.audit_damaged(|dir| flip(&dir.join("hashes/00"), 0));
    assert_eq!(error.leaf_index(), Some(0));
    let error = f.audit_damaged(|dir| flip(&dir.join("hashes/00"), 8191));
    assert_eq!(error.leaf_index(), Some(255));
}

#[test]
fn partial_tile_byte_flips_name_the_leaf() {
    let f = fixture(3, &[5000]);
    // Size 5000: tile/0/019.p/136 and tile/1/000.p/19.
    let (file, offset) = tile_byte(0, 19, 32 * 100 + 5);
    let error = f.audit_damaged(|dir| flip(&dir.join(&file), offset));
    assert!(
        matches!(&error, AuditError::HashMismatch { leaf_index: 4964, tile, .. } if tile == "tile/0/019"),
        "{error}"
    );
    // Level-1 hash 7 is the root of leaves 7*256 .. 8*256: the first leaf under it is 1792.
    let (file, offset) = tile_byte(1, 0, 7 * 32 + 31);
    let error = f.audit_damaged(|dir| flip(&dir.join(&file), offset));
    assert!(
        matches!(&error, AuditError::HashMismatch { leaf_index: 1792, tile, .. } if tile == "tile/1/000"),
        "{error}"
    );
}

#[test]
fn higher_level_tiles_and_large_trees() {
    let f = fixture(4, &[65_000, 5_000]);
    // Size 70,000: tile/1/000 is full; hash 200 covers leaves 51,200..51,456.
    let (file, offset) = tile_byte(1, 0, 200 * 32 + 3);
    let error = f.audit_damaged(|dir| flip(&dir.join(&file), offset));
    assert!(
        matches!(&error, AuditError::HashMismatch { leaf_index: 51_200, tile, .. } if tile == "tile/1/000"),
        "{error}"
    );
    // tile/2/000.p/1 holds the root of the first 65,536 leaves.
    let error = f.audit_damaged(|dir| flip(&dir.join("hashes/16"), 0));
    assert!(
        matches!(&error, AuditError::HashMismatch { leaf_index: 0, tile, .. } if tile == "tile/2/000"),
        "{error}"
    );
    // tile/1/001.p/17: hash 16 covers leaves (256 + 16) * 256.
    let (file, offset) = tile_byte(1, 1, 16 * 32);
    let error = f.audit_damaged(|dir| flip(&dir.join(&file), offset));
    assert_eq!(error.leaf_index(), Some(272 * 256));
    // The levels kept for proofs are checked too (level 12: one hash per 4096 leaves).
    let error = f.audit_damaged(|dir| flip(&dir.join("hashes/12"), 5 * 32 + 1));
    assert!(
        matches!(&error, AuditError::HashMismatch { leaf_index: 20_480, path, tile } if path == "hashes/12" && tile == "tile/1/000"),
        "{error}"
    );
    let error = f.audit_damaged(|dir| flip(&dir.join("hashes/04"), 1000 * 32));
    assert!(
        matches!(&error, AuditError::HashMismatch { leaf_index: 16_000, tile, .. } if tile == "tile/0/062"),
        "{error}"
    );
}

#[test]
fn entry_damage_names_the_leaf() {
    let f = fixture(5, &[1000]);
    let error = f.audit_damaged(|dir| flip(&dir.join("entries"), 522 * 32));
    assert!(
        matches!(&error, AuditError::EntryMismatch { leaf_index: 522, path, tile } if path == "entries" && tile == "tile/entries/002"),
        "{error}"
    );
    let error = f.audit_damaged(|dir| flip(&dir.join("entries"), 522 * 32 + 31));
    assert_eq!(error.leaf_index(), Some(522));
    let error = f.audit_damaged(|dir| flip(&dir.join("entries"), 999 * 32 + 2));
    assert!(
        matches!(
            &error,
            AuditError::EntryMismatch {
                leaf_index: 999,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn truncated_extended_or_missing_files_are_found() {
    let f = fixture(6, &[1000]);
    // Cut in the middle of hash 356: leaf 356 is the first one not present.
    let error = f.audit_damaged(|dir| truncate(&dir.join("hashes/00"), 356 * 32 + 10));
    assert!(
        matches!(
            &error,
            AuditError::FileLength {
                leaf_index: 356,
                expected: 32_000,
                actual: 11_402,
                ..
            }
        ),
        "{error}"
    );
    let error = f.audit_damaged(|dir| truncate(&dir.join("entries"), 32 * 7));
    assert!(
        matches!(&error, AuditError::FileLength { leaf_index: 7, .. }),
        "{error}"
    );
    let error = f.audit_damaged(|dir| truncate(&dir.join("hashes/04"), 0));
    assert!(
        matches!(&error, AuditError::FileLength { leaf_index: 0, .. }),
        "{error}"
    );
    // Trailing bytes.
    let error = f.audit_damaged(|dir| append_bytes(&dir.join("hashes/00"), &[0]));
    assert!(
        matches!(&error, AuditError::FileLength { actual: 32_001, .. }),
        "{error}"
    );
    let error = f.audit_damaged(|dir| append_bytes(&dir.join("entries"), &[0; 32]));
    assert!(matches!(&error, AuditError::FileLength { .. }), "{error}");
    // Missing files.
    let error = f.audit_damaged(|dir| fs::remove_file(dir.join("hashes/08")).unwrap());
    assert!(
        matches!(&error, AuditError::Io { path, .. } if path == "hashes/08"),
        "{error}"
    );
    let error = f.audit_damaged(|dir| fs::remove_file(dir.join("entries")).unwrap());
    assert!(
        matches!(&error, AuditError::Io { path, .. } if path == "entries"),
        "{error}"
    );
}

#[test]
fn entries_that_differ_from_the_log_name_the_first_difference() {
    let f = fixture(9, &[3000]);
    for k in [0usize, 1, 255, 256, 2047, 2999] {
        let mut pushed = f.entries.clone();
        pushed[k][17] ^= 1;
        let error = f
            .audit_with(|_| {}, &pushed)
            .expect_err("different entries accepted");
        assert_eq!(error.leaf_index(), Some(k as u64), "{error}");
        assert!(matches!(error, AuditError::EntryMismatch { .. }), "{error}");
    }
    // Two differences: the first is named.
    let mut pushed = f.entries.clone();
    pushed[1500][0] ^= 1;
    pushed[2500][0] ^= 1;
    assert_eq!(
        f.audit_with(|_| {}, &pushed).unwrap_err().leaf_index(),
        Some(1500)
    );
}

#[test]
fn missing_or_extra_leaves() {
    let f = fixture(10, &[700]);
    let error = f.audit_with(|_| {}, &f.entries[..650]).unwrap_err();
    assert!(
        matches!(
            error,
            AuditError::MissingLeaves {
                expected_size: 700,
                have: 650
            }
        ),
        "{error}"
    );
    assert_eq!(error.leaf_index(), Some(650));
    let mut more = f.entries.clone();
    more.push(entry(10, 700));
    let error = f.audit_with(|_| {}, &more).unwrap_err();
    assert!(
        matches!(
            error,
            AuditError::LeafNotInLog {
                leaf_index: 700,
                log_size: 700
            }
        ),
        "{error}"
    );
    // The state file is private bookkeeping, but rolling it back is found too.
    let mut short = f.entries.clone();
    short.truncate(600);
    let error = f.audit_with(
        |dir| {
            let mut log = TileLog::open(dir, ORIGIN).unwrap();
            // A log rebuilt from only 600 entries, keeping the old checkpoints (size 700).
            drop(log);
            fs::remove_dir_all(dir.join("hashes")).unwrap();
            fs::remove_file(dir.join("entries")).unwrap();
            fs::remove_file(dir.join("state")).unwrap();
            let checkpoints = dir.join("checkpoints");
            let kept = dir.join("kept");
            fs::rename(&checkpoints, &kept).unwrap();
            let latest = fs::read(dir.join("checkpoint")).unwrap();
            fs::remove_file(dir.join("checkpoint")).unwrap();
            log = TileLog::open(dir, ORIGIN).unwrap();
            log.append(&short).unwrap();
            fs::rename(&kept, &checkpoints).unwrap();
            fs::write(dir.join("checkpoint"), latest).unwrap();
        },
        &short,
    );
    let error = error.unwrap_err();
    assert!(
        matches!(
            error,
            AuditError::MissingLeaves {
                expected_size: 700,
                have: 600
            }
        ),
        "{error}"
    );
}

#[test]
fn checkpoint_damage_is_found() {
    let f = fixture(11, &[100, 156, 300]);
    // Checkpoints at 0, 100, 256, 556 and `checkpoint` (556).
    let history = |dir: &Path, size: u64| dir.join(format!("checkpoints/{size:020}"));
    // Change one base64 character of the signature to another valid one.
    let alter_signature = |path: &Path| {
        let mut bytes = fs::read(path).unwrap();
        let at = bytes.len() - 10;
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        fs::write(path, bytes).unwrap();
    };
    let error = f.audit_damaged(|dir| alter_signature(&history(dir, 256)));
    assert!(
        matches!(&error, AuditError::CheckpointSignature { size: 256, .. }),
        "{error}"
    );
    let error = f.audit_damaged(|dir| alter_signature(&dir.join("checkpoint")));
    assert!(
        matches!(&error, AuditError::CheckpointSignature { size: 556, path } if path == "checkpoint"),
        "{error}"
    );
    // A character that is not base64 makes the note malformed.
    let error = f.audit_damaged(|dir| {
        let path = history(dir, 256);
        let mut bytes = fs::read(&path).unwrap();
        let at = bytes.len() - 10;
        bytes[at] = b'*';
        fs::write(path, bytes).unwrap();
    });
    assert!(
        matches!(&error, AuditError::CheckpointMalformed { .. }),
        "{error}"
    );
    // Altered body (size line) under the original signature.
    let error = f.audit_damaged(|dir| {
        let path = history(dir, 100);
        let text = fs::read_to_string(&path)
            .unwrap()
            .replacen("\n100\n", "\n101\n", 1);
        fs::write(path, text).unwrap();
    });
    assert!(
        matches!(&error, AuditError::CheckpointSignature { size: 100, .. }),
        "{error}"
    );
    // A validly signed checkpoint whose root is wrong: the log signed a fork.
    let error = f.audit_damaged(|dir| {
        let forged = Checkpoint {
            origin: ORIGIN.into(),
            size: 256,
            root: [9; 32],
            extensions: vec![],
        };
        fs::write(history(dir, 256), f.signer.sign(&forged.to_text()).unwrap()).unwrap();
    });
    assert!(
        matches!(&error, AuditError::CheckpointRootMismatch { size: 256, .. }),
        "{error}"
    );
    assert_eq!(error.leaf_index(), None);
    // Signed by another key: the trusted key's signature is missing.
    let error = f.audit_damaged(|dir| {
        let other = Signer::generate(ORIGIN).unwrap();
        let body = fs::read_to_string(history(dir, 100)).unwrap();
        let text = body.split("\n\n").next().unwrap().to_owned() + "\n";
        fs::write(history(dir, 100), other.sign(&text).unwrap()).unwrap();
    });
    assert!(
        matches!(&error, AuditError::CheckpointSignature { size: 100, .. }),
        "{error}"
    );
    // A checkpoint stored under the wrong size, and a malformed latest checkpoint.
    let error = f.audit_damaged(|dir| {
        fs::copy(history(dir, 100), history(dir, 101))
            .map(drop)
            .unwrap()
    });
    assert!(
        matches!(&error, AuditError::CheckpointMalformed { .. }),
        "{error}"
    );
    let error = f.audit_damaged(|dir| fs::write(dir.join("checkpoint"), "garbage").unwrap());
    assert!(
        matches!(&error, AuditError::CheckpointMalformed { path, .. } if path == "checkpoint"),
        "{error}"
    );
    // A checkpoint beyond the log: the leaves it commits to are missing.
    let error = f.audit_damaged(|dir| {
        let beyond = Checkpoint {
            origin: ORIGIN.into(),
            size: 1000,
            root: [1; 32],
            extensions: vec![],
        };
        fs::write(
            history(dir, 1000),
            f.signer.sign(&beyond.to_text()).unwrap(),
        )
        .unwrap();
    });
    assert!(
        matches!(
            error,
            AuditError::MissingLeaves {
                expected_size: 1000,
                have: 556
            }
        ),
        "{error}"
    );
    // Another origin.
    let error = f.audit_damaged(|dir| {
        let other = Checkpoint {
            origin: "example.com/other".into(),
            size: 100,
            root: [1; 32],
            extensions: vec![],
        };
        fs::write(history(dir, 100), f.signer.sign(&other.to_text()).unwrap()).unwrap();
    });
    assert!(
        matches!(&error, AuditError::CheckpointMalformed { .. }),
        "{error}"
    );
}

#[test]
fn auditor_refuses_another_origin_or_a_missing_log() {
    let f = fixture(12, &[10]);
    assert!(Auditor::new(f.dir.path(), &f.signer.verifier(), "example.com/other").is_err());
    assert!(Auditor::new(&f.dir.path().join("nope"), &f.signer.verifier(), ORIGIN).is_err());
    // The wrong trusted key fails at the first checkpoint (size 0).
    let stranger = Signer::generate(ORIGIN).unwrap();
    let error = audit(f.dir.path(), &stranger, &f.entries).unwrap_err();
    assert!(
        matches!(error, AuditError::CheckpointSignature { size: 0, .. }),
        "{error}"
    );
}
