//! Properties of the canonical form over arbitrary events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use mamori_event::{Event, canonical, entry_digest, ocsf};
use proptest::prelude::*;
use serde_json::Value;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// The fast path writes exactly the bytes of the generic RFC 8785 reference applied to the
    /// event's JSON value, even for raw data with unnormalised numbers and unicode keys.
    #[test]
    fn fast_path_equals_reference(e in common::event(false)) {
        let fast = e.canonical_json();
        let reference = canonical::to_vec(&serde_json::to_value(&e).unwrap());
        prop_assert_eq!(
            String::from_utf8(fast).unwrap(),
            String::from_utf8(reference).unwrap()
        );
    }

    /// Canonicalising canonical JSON again (through the generic reference) changes nothing.
    #[test]
    fn canonical_is_a_fixed_point(e in common::event(false)) {
        let bytes = e.canonical_json();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(canonical::to_vec(&value), bytes.clone());
        // ... and through the event parser.
        let back = Event::from_json(&bytes).unwrap();
        prop_assert_eq!(back.canonical_json(), bytes);
    }

    /// Canonical JSON parses back to an equal event.
    #[test]
    fn canonical_round_trips(e in common::event(true)) {
        let bytes = e.canonical_json();
        let back = Event::from_json(&bytes).unwrap();
        prop_assert_eq!(&back, &e);
        prop_assert_eq!(back.identity(), e.identity());
    }

    /// The identity ignores the nonce; the single-pass variant agrees with the two-pass one.
    #[test]
    fn identity_ignores_nonce(e in common::event(false), other in any::<[u8; 16]>()) {
        let mut with_nonce = e.clone();
        with_nonce.nonce = Some(mamori_event::Nonce(other));
        let mut without = e.clone();
        without.nonce = None;
        prop_assert_eq!(with_nonce.identity(), without.identity());
        prop_assert_eq!(entry_digest(&without.canonical_json()), without.identity());
        let mut out = b"prefix".to_vec();
        let (id, entry) = with_nonce.write_canonical_with_digests(&mut out);
        prop_assert_eq!(id, with_nonce.identity());
        let expected = with_nonce.canonical_json();
        prop_assert_eq!(&out[6..], expected.as_slice());
        prop_assert_eq!(entry, entry_digest(&expected));
        // Without a nonce both digests are of the same bytes.
        let mut out = Vec::new();
        prop_assert_eq!(without.write_canonical_with_digests(&mut out), (without.identity(), without.identity()));
    }

    /// OCSF mapping is lossless, also through JSON text.
    #[test]
    fn ocsf_round_trips(e in common::event(true)) {
        let o = ocsf::to_ocsf(&e);
        prop_assert_eq!(&ocsf::from_ocsf(&o).unwrap(), &e);
        let text = serde_json::to_string(&o).unwrap();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(ocsf::from_ocsf(&parsed).unwrap(), e);
    }
}
