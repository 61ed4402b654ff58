//! The ledger's text parsers (signed notes, checkpoints, tlog-proofs, tile paths, keys) are total.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_ledger::{checkpoint::Checkpoint, note, proof::TlogProof, tile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Checkpoint::parse(text);
    if let Ok(proof) = TlogProof::parse(text) {
        assert_eq!(TlogProof::parse(&proof.encode()).ok().map(|p| p.index), Some(proof.index));
    }
    let _ = tile::parse_tile_path(text);
    let _ = note::Verifier::from_vkey(text);
    if let Ok(verifier) = note::Verifier::from_vkey("example.com/log+6e1a9f0d+AQ5Cq8fpZGNN7mwoS2YOP0tMcp4pdVHmeJpFGFqR9tgX") {
        let _ = note::open(text, &verifier);
    }
});
