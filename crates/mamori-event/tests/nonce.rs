//! Nonces come from blocks of OS randomness: each must be handed out once, across blocks and
//! threads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use mamori_event::Nonce;

#[test]
fn nonces_are_distinct_across_blocks_and_threads() {
    let per_thread = 5_000; // several blocks of 256 per thread
    let handles: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                (0..per_thread)
                    .map(|_| Nonce::generate().unwrap().0)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for handle in handles {
        for nonce in handle.join().unwrap() {
            assert_ne!(nonce, [0u8; 16], "a consumed slot was handed out");
            assert!(seen.insert(nonce), "nonce handed out twice");
        }
    }
    assert_eq!(seen.len(), 4 * per_thread);
}
