//! Text formats: checkpoint bodies, tile paths and tlog-proof files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use mamori_ledger::checkpoint::{Checkpoint, CheckpointError};
use mamori_ledger::merkle::{ProofError, leaf_hash};
use mamori_ledger::note::{self, Signer};
use mamori_ledger::proof::TlogProof;
use mamori_ledger::tile::{TilePath, entries_path, parse_tile_path, tile_path};
use proptest::prelude::*;

// ---- checkpoints ----

/// The example of c2sp.org/tlog-checkpoint.
const SPEC_CHECKPOINT: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

#[test]
fn spec_checkpoint_example_parses() {
    let note = note::parse(SPEC_CHECKPOINT).unwrap();
    assert_eq!(note.signatures[0].name, "example.com/behind-the-sofa");
    let checkpoint = Checkpoint::parse(&note.text).unwrap();
    assert_eq!(checkpoint.origin, "example.com/behind-the-sofa");
    assert_eq!(checkpoint.size, 20_852_163);
    assert_eq!(
        hex(&checkpoint.root),
        "0ac5186a91863e8e1d90c808014aa89bf5da8e3ee1d9f07630f0378f68f1ab62"
    );
    assert!(checkpoint.extensions.is_empty());
    assert_eq!(checkpoint.to_text(), note.text);
}

#[test]
fn checkpoint_round_trips_with_extensions() {
    let checkpoint = Checkpoint {
        origin: "example.com/log".into(),
        size: 0,
        root: [7; 32],
        extensions: vec!["ext one".into(), "— two".into()],
    };
    let text = checkpoint.to_text();
    assert_eq!(
        text,
        "example.com/log\n0\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\next one\n— two\n"
    );
    assert_eq!(Checkpoint::parse(&text).unwrap(), checkpoint);
}

#[test]
fn malformed_checkpoints_are_rejected() {
    let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    // Expected error: the 1-based line of a Malformed error, or the other variants.
    let cases: Vec<(String, Result<usize, CheckpointError>)> = vec![
        (
            format!("o\n1\n{root}"),
            Err(CheckpointError::MissingFinalNewline),
        ),
        (String::new(), Err(CheckpointError::MissingFinalNewline)),
        ("o\n1\n".into(), Err(CheckpointError::TooFewLines(2))),
        (format!("\n1\n{root}\n"), Ok(1)),
        (format!("o\r\n1\n{root}\n"), Ok(1)),
        (format!("o\n01\n{root}\n"), Ok(2)),
        (format!("o\n+1\n{root}\n"), Ok(2)),
        (format!("o\n-1\n{root}\n"), Ok(2)),
        (format!("o\n1 \n{root}\n"), Ok(2)),
        (format!("o\n18446744073709551616\n{root}\n"), Ok(2)),
        (
            "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n".into(),
            Ok(3),
        ),
        // Non-zero padding bits: a second spelling of the same bytes.
        (
            "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n".into(),
            Ok(3),
        ),
        ("o\n1\nAAAA\n".into(), Ok(3)),
        (format!("o\n1\n{root}\n\n"), Ok(4)),
        (format!("o\n1\n{root}\next\n\n"), Ok(5)),
        (format!("o\n1\n{root}\nbad\x07\n"), Ok(4)),
    ];
    for (text, expected) in cases {
        let error = Checkpoint::parse(&text).expect_err(&text);
        match (expected, error) {
            (Ok(line), CheckpointError::Malformed { line: got, .. }) => {
                assert_eq!(got, line, "{text:?}");
            }
            (Err(expected), error) => assert_eq!(error, expected, "{text:?}"),
            (Ok(line), error) => panic!("{text:?}: {error:?}, expected line {line}"),
        }
    }
    assert_eq!(
        Checkpoint::parse(&format!("o\n18446744073709551615\n{root}\n"))
            .unwrap()
            .size,
        u64::MAX
    );
}

// ---- tile paths ----

#[test]
fn tile_path_encoding_follows_the_spec() {
    assert_eq!(tile_path(0, 1_234_067, 256), "tile/0/x001/x234/067");
    assert_eq!(tile_path(0, 1_234_067, 8), "tile/0/x001/x234/067.p/8");
    assert_eq!(tile_path(2, 0, 1), "tile/2/000.p/1");
    assert_eq!(tile_path(1, 999, 256), "tile/1/999");
    assert_eq!(tile_path(1, 1000, 255), "tile/1/x001/000.p/255");
    assert_eq!(tile_path(63, 5, 256), "tile/63/005");
    assert_eq!(entries_path(1_234_067, 256), "tile/entries/x001/x234/067");
    assert_eq!(entries_path(0, 112), "tile/entries/000.p/112");
    assert_eq!(
        tile_path(0, u64::MAX, 256),
        "tile/0/x018/x446/x744/x073/x709/x551/615"
    );
}

#[test]
fn canonical_tile_paths_parse_back() {
    let cases = [
        TilePath::Hashes {
            level: 0,
            index: 1_234_067,
            width: 256,
        },
        TilePath::Hashes {
            level: 0,
            index: 1_234_067,
            width: 8,
        },
        TilePath::Hashes {
            level: 63,
            index: 0,
            width: 1,
        },
        TilePath::Hashes {
            level: 3,
            index: u64::MAX,
            width: 255,
        },
        TilePath::Entries {
            index: 0,
            width: 256,
        },
        TilePath::Entries {
            index: 1_000_000,
            width: 17,
        },
    ];
    for tile in cases {
        assert_eq!(
            parse_tile_path(&tile.to_path()),
            Some(tile),
            "{}",
            tile.to_path()
        );
    }
}

#[test]
fn non_canonical_tile_paths_are_rejected() {
    for path in [
        "",
        "tile",
        "tile/",
        "tile/0",
        "tile/0/",
        "tile/0/1",
        "tile/0/01",
        "tile/0/0001",
        "tile/0/x01/067",
        "tile/0/x000/067",
        "tile/0/x000/x001/067",
        "tile/0/x001",
        "tile/0/x001/",
        "tile/0/067/",
        "tile/0/067.p",
        "tile/0/067.p/",
        "tile/0/067.p/0",
        "tile/0/067.p/08",
        "tile/0/067.p/256",
        "tile/0/067.p/1000",
        "tile/0/067.p/8/",
        "tile/0/067.p/8/x",
        "tile/0/067/068",
        "tile/0/067.P/8",
        "tile/0/x001.p/8",
        "tile/00/067",
        "tile/64/067",
        "tile/256/067",
        "tile/-1/067",
        "tile/+1/067",
        "tile/x/067",
        "tile/0/../067",
        "tile/0/./067",
        "tile/0//067",
        "tile/../tile/0/067",
        "/tile/0/067",
        "tile/0/067 ",
        "tile/0/06a",
        "tile/0/x019/x446/x744/x073/x709/x551/615",
        "tile/0/x018/x446/x744/x073/x709/x551/616",
        "tile/entries/x000/001",
        "tile/entries/001.p/256",
        "tile/entries",
        "tile/Entries/001",
        "tiles/0/001",
        "checkpoint",
    ] {
        assert_eq!(parse_tile_path(path), None, "{path:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn tile_paths_round_trip(level in 0u8..=63, index in any::<u64>(), width in 1u16..=256, entries in any::<bool>()) {
        let tile = if entries {
            TilePath::Entries { index, width }
        } else {
            TilePath::Hashes { level, index, width }
        };
        prop_assert_eq!(parse_tile_path(&tile.to_path()), Some(tile));
    }

    #[test]
    fn tile_path_parser_is_total_and_canonical(path in "(tile/)?[0-9x./pentris]{0,40}") {
        if let Some(tile) = parse_tile_path(&path) {
            // Accepted paths are exactly the canonical spelling of what they parse to.
            prop_assert_eq!(tile.to_path(), path);
        }
    }

    #[test]
    fn checkpoint_parser_is_total(text in "\\PC*") {
        if let Ok(checkpoint) = Checkpoint::parse(&text) {
            prop_assert_eq!(checkpoint.to_text(), text);
        }
    }
}

// ---- tlog-proof ----

/// The example of c2sp.org/tlog-proof (signatures elided with "[...]" by the spec).
const SPEC_PROOF: &str = "c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

— example.com/fancylog hI2DJw[...]1roloI=
— witness1.example mJirIklj[...]qY9v2B/5bg==
— witness2.example TnKKVHLX[...]xwYwrSjgow==
— witness3.example S4X82uH5[...]3oEcROGLFQ==
";

#[test]
fn spec_proof_example_parses_and_re_encodes() {
    let proof = TlogProof::parse(SPEC_PROOF).unwrap();
    assert!(
        proof
            .extra
            .as_ref()
            .unwrap()
            .starts_with(b"age-v1.2.1-darwin-arm64.tar.gz")
    );
    assert_eq!(proof.index, 73894);
    assert_eq!(proof.hashes.len(), 5);
    assert_eq!(
        hex(&proof.hashes[0]),
        "8122b25e861952067a8ddb9662b9033804629ce30626f7978e032405371d3e54"
    );
    assert!(
        proof
            .checkpoint
            .starts_with("example.com/fancylog\n109482\n")
    );
    assert!(proof.checkpoint.ends_with("3oEcROGLFQ==\n"));
    assert_eq!(proof.encode(), SPEC_PROOF);
    // Its signatures are placeholders, so it can never verify.
    let signer = Signer::generate("example.com/fancylog").unwrap();
    assert!(matches!(
        proof.verify(b"x", &signer.verifier(), "example.com/fancylog"),
        Err(ProofError::Note(_))
    ));
}

fn signed_log_proof() -> (TlogProof, Vec<Hash>, Signer) {
    let dir = tempfile::tempdir().unwrap();
    let origin = "example.com/proofs";
    let mut log = mamori_ledger::TileLog::open(dir.path(), origin).unwrap();
    let entries = entries(3, 1000);
    log.append(&entries).unwrap();
    let signer = Signer::generate(origin).unwrap();
    let checkpoint = log.sign_checkpoint(&signer).unwrap();
    let proof = TlogProof {
        extra: Some(b"context".to_vec()),
        index: 777,
        hashes: log.inclusion_proof(777, 1000).unwrap(),
        checkpoint,
    };
    (proof, entries, signer)
}

#[test]
fn proofs_round_trip_and_verify() {
    let (proof, entries, signer) = signed_log_proof();
    let text = proof.encode();
    let parsed = TlogProof::parse(&text).unwrap();
    assert_eq!(parsed, proof);
    let checkpoint = parsed
        .verify(&entries[777], &signer.verifier(), "example.com/proofs")
        .unwrap();
    assert_eq!(checkpoint.size, 1000);
    for extra in [None, Some(Vec::new())] {
        let proof = TlogProof {
            extra,
            ..proof.clone()
        };
        assert_eq!(TlogProof::parse(&proof.encode()).unwrap(), proof);
    }
}

#[test]
fn proofs_for_other_entries_origins_or_keys_fail() {
    let (proof, entries, signer) = signed_log_proof();
    let verifier = signer.verifier();
    assert_eq!(
        proof.verify(&entries[776], &verifier, "example.com/proofs"),
        Err(ProofError::RootMismatch)
    );
    assert!(matches!(
        proof.verify(&entries[777], &verifier, "example.com/other"),
        Err(ProofError::OriginMismatch { .. })
    ));
    let stranger = Signer::generate("example.com/proofs").unwrap();
    assert!(matches!(
        proof.verify(&entries[777], &stranger.verifier(), "example.com/proofs"),
        Err(ProofError::Note(_))
    ));
    let moved = TlogProof {
        index: 778,
        ..proof.clone()
    };
    assert!(
        moved
            .verify(&entries[777], &verifier, "example.com/proofs")
            .is_err()
    );
    for i in 0..proof.hashes.len() {
        let mut bad = proof.clone();
        bad.hashes[i][5] ^= 0x20;
        assert!(
            bad.verify(&entries[777], &verifier, "example.com/proofs")
                .is_err()
        );
    }
    let mut short = proof.clone();
    short.hashes.pop();
    assert!(
        short
            .verify(&entries[777], &verifier, "example.com/proofs")
            .is_err()
    );
    // The entry is hashed as a leaf: its leaf hash is not accepted as the entry.
    assert!(
        proof
            .verify(&leaf_hash(&entries[777]), &verifier, "example.com/proofs")
            .is_err()
    );
    // Changing the signed checkpoint text breaks the signature.
    let forged = TlogProof {
        checkpoint: proof.checkpoint.replacen("1000", "1001", 1),
        ..proof.clone()
    };
    assert!(matches!(
        forged.verify(&entries[777], &verifier, "example.com/proofs"),
        Err(ProofError::Note(_))
    ));
}

#[test]
fn malformed_proofs_are_rejected() {
    let (proof, _, _) = signed_log_proof();
    let good = proof.encode();
    let hash = "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=";
    let cases = [
        String::new(),
        "c2sp.org/tlog-proof@v1".to_owned(),
        good.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
        good.replacen("extra ", "extra: ", 1),
        good.replacen("extra Y29udGV4dA==", "extra !!notbase64!!", 1),
        good.replacen("index 777", "index 0777", 1),
        good.replacen("index 777", "index -5", 1),
        good.replacen("index 777", "index notanumber", 1),
        good.replacen("index 777", "index  777", 1),
        good.replacen("index 777\n", "", 1),
        "c2sp.org/tlog-proof@v1\nindex 0\n!!notbase64!!\n\ncheckpoint\n".to_owned(),
        format!("c2sp.org/tlog-proof@v1\nindex 0\n{hash}{hash}\n\ncheckpoint\n"),
        format!(
            "c2sp.org/tlog-proof@v1\nindex 0\n{}\n\ncheckpoint\n",
            &hash[..43]
        ),
        format!(
            "c2sp.org/tlog-proof@v1\nindex 0\n{}\n\ncheckpoint\n",
            (hash.to_owned() + "\n").repeat(65).trim_end()
        ),
        "c2sp.org/tlog-proof@v1\nindex 0\n\n".to_owned(),
        "c2sp.org/tlog-proof@v1\nindex 0\n\ncheckpoint".to_owned(),
        format!("c2sp.org/tlog-proof@v1\nindex 0\n{hash}"),
        good.replace('\n', "\r\n"),
    ];
    for text in &cases {
        assert!(
            matches!(TlogProof::parse(text), Err(ProofError::Malformed { .. })),
            "accepted {text:?}"
        );
    }
    // 64 hashes is the most a u64-sized tree needs, and is accepted.
    let max = format!(
        "c2sp.org/tlog-proof@v1\nindex 0\n{}\n\ncheckpoint\n",
        (hash.to_owned() + "\n").repeat(64).trim_end()
    );
    assert_eq!(TlogProof::parse(&max).unwrap().hashes.len(), 64);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn proofs_round_trip(
        extra in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        index in any::<u64>(),
        hashes in proptest::collection::vec(any::<[u8; 32]>(), 0..=64),
        checkpoint in "[a-z0-9/.]{1,20}\n[0-9]{1,5}\n[A-Za-z0-9+/]{43}=\n\n— [a-z.]{1,9} [A-Za-z0-9+/]{8}\n",
    ) {
        let proof = TlogProof { extra, index, hashes, checkpoint };
        prop_assert_eq!(TlogProof::parse(&proof.encode()), Ok(proof.clone()));
    }

    #[test]
    fn proof_parser_is_total(text in "\\PC*", tail in "[A-Za-z0-9+/=\n ]{0,200}") {
        let _ = TlogProof::parse(&text);
        let _ = TlogProof::parse(&format!("c2sp.org/tlog-proof@v1\n{tail}"));
        let _ = TlogProof::parse(&format!("c2sp.org/tlog-proof@v1\nindex 1\n{tail}"));
    }
}
