//! Signed notes: interoperability vectors from Go's golang.org/x/mod/sumdb/note tests, round
//! trips, and rejection of forged or malformed input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mamori_ledger::note::{self, NoteError, Signer, Verifier};
use proptest::prelude::*;

// From golang.org/x/mod/sumdb/note/note_test.go.
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn peter() -> Verifier {
    Verifier::from_vkey(PETER_VKEY).unwrap()
}

#[test]
fn go_keys_parse_and_round_trip() {
    let verifier = peter();
    assert_eq!(verifier.name(), "PeterNeumann");
    assert_eq!(verifier.key_id(), 0xc74f20a3);
    assert_eq!(verifier.to_vkey(), PETER_VKEY);
    let signer = Signer::from_skey(PETER_SKEY).unwrap();
    assert_eq!(signer.name(), "PeterNeumann");
    assert_eq!(signer.key_id(), 0xc74f20a3);
    assert_eq!(signer.to_skey(), PETER_SKEY);
    assert_eq!(signer.verifier(), verifier);
}

#[test]
fn signing_reproduces_go_signature() {
    // Ed25519 is deterministic, so our signature must be byte-identical to Go's.
    let signer = Signer::from_skey(PETER_SKEY).unwrap();
    let signed = signer.sign(TEXT).unwrap();
    assert_eq!(signed, format!("{TEXT}\n{PETER_SIG}"));
    assert_eq!(note::open(&signed, &peter()).unwrap(), TEXT);
}

#[test]
fn open_ignores_unknown_signers_and_needs_a_known_one() {
    let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    assert_eq!(note::open(&both, &peter()).unwrap(), TEXT);
    let enoch = Verifier::from_vkey(ENOCH_VKEY).unwrap();
    assert_eq!(note::open(&both, &enoch).unwrap(), TEXT);
    let parsed = note::parse(&both).unwrap();
    assert_eq!(parsed.text, TEXT);
    assert_eq!(parsed.signatures.len(), 2);
    assert_eq!(parsed.signatures[1].name, "EnochRoot");
    assert_eq!(parsed.signatures[1].key_id, 0xaf0cfe78);

    let only_enoch = format!("{TEXT}\n{ENOCH_SIG}");
    assert!(matches!(
        note::open(&only_enoch, &peter()),
        Err(NoteError::NotSigned { .. })
    ));
    // A signature line with the right name but another key ID is some other key: ignored.
    let other_id = PETER_SIG.replace("x08g", "xxxx");
    assert!(matches!(
        note::open(&format!("{TEXT}\n{other_id}"), &peter()),
        Err(NoteError::NotSigned { .. })
    ));
}

#[test]
fn altered_text_or_signature_is_rejected() {
    let signed = format!("{TEXT}\n{PETER_SIG}");
    let altered = signed.replace("cryptography", "cryptographY");
    assert!(matches!(
        note::open(&altered, &peter()),
        Err(NoteError::InvalidSignature { .. })
    ));
    // Go's "invalid signature" case: bytes inserted in the signature.
    let inserted = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert!(matches!(
        note::open(&inserted, &peter()),
        Err(NoteError::InvalidSignature { .. })
    ));
    // Every single-character change in the signature payload is rejected.
    let prefix = "— PeterNeumann ".len();
    let payload_end = PETER_SIG.len() - 2; // keep the padding and newline
    for i in prefix + 6..payload_end {
        let mut bytes = PETER_SIG.as_bytes().to_vec();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let sig = String::from_utf8(bytes).unwrap();
        assert!(
            note::open(&format!("{TEXT}\n{sig}"), &peter()).is_err(),
            "position {i}"
        );
    }
    // A valid signature of a known key among invalid ones still fails: the whole note is
    // rejected if a known key's signature does not verify.
    let bad_then_good = format!(
        "{TEXT}\n{}ABCD{}{PETER_SIG}",
        &PETER_SIG[..60],
        &PETER_SIG[60..]
    );
    assert!(note::open(&bad_then_good, &peter()).is_err());
}

#[test]
fn wrong_key_is_rejected() {
    let other = Signer::generate("PeterNeumann").unwrap();
    let signed = other.sign(TEXT).unwrap();
    // Same name, different key (and so different key ID): not Peter's signature.
    assert!(note::open(&signed, &peter()).is_err());
    assert_eq!(note::open(&signed, &other.verifier()).unwrap(), TEXT);
}

#[test]
fn malformed_notes_are_rejected() {
    let good = format!("{TEXT}\n{PETER_SIG}");
    let bad = [
        TEXT.to_owned(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{TEXT}\n{PETER_SIG}"),
        format!(
            "{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        ),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
        format!("{TEXT}\n{}", PETER_SIG.repeat(101)),
        format!("{TEXT}\n— PeterNeumann\n"),
        format!("{TEXT}\n— PeterNeumann AAAA\n"),
        format!("{TEXT}\n— PeterNeumann not*base64\n"),
        format!(
            "{TEXT}\n- PeterNeumann {}",
            &PETER_SIG["— PeterNeumann ".len()..]
        ),
        good.replace('\n', "\r\n"),
        String::new(),
        "\n\n".to_owned(),
    ];
    for note in &bad {
        assert!(
            matches!(note::open(note, &peter()), Err(NoteError::Malformed(_))),
            "accepted or wrong error for {note:?}"
        );
    }
    // Up to 100 signatures are accepted (the spec requires at least 16).
    let many = format!("{TEXT}\n{}", PETER_SIG.repeat(100));
    assert_eq!(note::open(&many, &peter()).unwrap(), TEXT);
}

#[test]
fn text_with_blank_lines_splits_at_the_last_one() {
    // The signed-note spec's own example has a blank line inside the text.
    let example = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    let parsed = note::parse(example).unwrap();
    assert_eq!(
        parsed.text,
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    );
    assert_eq!(parsed.signatures.len(), 1);
    assert_eq!(parsed.signatures[0].name, "quasimodo.example/salvatore");
    assert_eq!(parsed.signatures[0].signature.len(), 64);

    let signer = Signer::generate("quasimodo.example/salvatore").unwrap();
    let signed = signer.sign(&parsed.text).unwrap();
    assert_eq!(
        note::open(&signed, &signer.verifier()).unwrap(),
        parsed.text
    );
}

#[test]
fn sign_requires_well_formed_text() {
    let signer = Signer::from_skey(PETER_SKEY).unwrap();
    assert!(matches!(signer.sign("abc"), Err(NoteError::Malformed(_))));
    assert!(matches!(signer.sign(""), Err(NoteError::Malformed(_))));
    assert!(matches!(
        signer.sign("a\tb\n"),
        Err(NoteError::Malformed(_))
    ));
    assert!(signer.sign("multi\n\nline\n").is_ok());
}

#[test]
fn generated_keys_round_trip_through_text() {
    let signer = Signer::generate("example.com/log").unwrap();
    let restored = Signer::from_skey(&signer.to_skey()).unwrap();
    assert_eq!(restored.verifier(), signer.verifier());
    let verifier = Verifier::from_vkey(&signer.verifier().to_vkey()).unwrap();
    assert_eq!(verifier, signer.verifier());
    let signed = restored.sign("hello\n").unwrap();
    assert_eq!(note::open(&signed, &verifier).unwrap(), "hello\n");
    // Two generated keys differ.
    assert_ne!(
        Signer::generate("example.com/log").unwrap().verifier(),
        verifier
    );
}

#[test]
fn debug_output_hides_the_private_key() {
    let signer = Signer::from_skey(PETER_SKEY).unwrap();
    let debug = format!("{signer:?}");
    assert!(
        debug.contains("PeterNeumann") && debug.contains("c74f20a3"),
        "{debug}"
    );
    assert!(!debug.contains("AYEKFALV"), "{debug}");
    let seed_hex: String = [0x81u8, 0x0a, 0x14]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!debug.to_lowercase().contains(&seed_hex), "{debug}");
    assert!(!debug.contains("129"), "seed bytes in {debug}");
}

#[test]
fn invalid_names_are_rejected() {
    for name in ["", "a b", "a+b", "a\u{a0}b", "tab\there", "nl\n"] {
        assert!(Signer::generate(name).is_err(), "{name:?}");
    }
}

/// Go's TestNewVerifier / TestNewSigner: every proper substring and every single-byte
/// increment of a key text must be rejected.
#[test]
fn mangled_key_texts_are_rejected() {
    for (key, parse) in [
        (
            PETER_VKEY,
            (|t: &str| Verifier::from_vkey(t).is_ok()) as fn(&str) -> bool,
        ),
        (PETER_SKEY, |t: &str| Signer::from_skey(t).is_ok()),
    ] {
        let bytes = key.as_bytes();
        for i in 0..=bytes.len() {
            for j in i + 1..=bytes.len() {
                if (i, j) == (0, bytes.len()) {
                    continue;
                }
                let sub = std::str::from_utf8(&bytes[i..j]).unwrap();
                assert!(!parse(sub), "accepted substring {sub:?}");
            }
        }
        for i in 0..bytes.len() {
            let mut mangled = bytes.to_vec();
            mangled[i] += 1;
            if let Ok(text) = String::from_utf8(mangled) {
                assert!(!parse(&text), "accepted {text:?}");
            }
        }
    }
    // Wrong key length with an adjusted key ID, and an unknown algorithm (Go's cases).
    assert!(
        Verifier::from_vkey(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )
        .is_err()
    );
    assert!(matches!(
        Verifier::from_vkey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(NoteError::UnsupportedAlgorithm(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsers_never_panic(text in "\\PC*", raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        let verifier = peter();
        let _ = note::parse(&text);
        let _ = note::open(&text, &verifier);
        let _ = Verifier::from_vkey(&text);
        let _ = Signer::from_skey(&text);
        let lossy = String::from_utf8_lossy(&raw);
        let _ = note::open(&lossy, &verifier);
        let with_sig = format!("{lossy}\n\n{PETER_SIG}");
        let _ = note::open(&with_sig, &verifier);
    }

    #[test]
    fn structured_garbage_never_panics(
        name in "[a-zA-Z+ —]{0,12}",
        payload in "[A-Za-z0-9+/=]{0,100}",
        text in "[a-z\n]{0,30}",
    ) {
        let note = format!("{text}\n\n— {name} {payload}\n");
        let _ = note::open(&note, &peter());
        let _ = Verifier::from_vkey(&format!("{name}+c74f20a3+{payload}"));
        let _ = Signer::from_skey(&format!("PRIVATE+KEY+{name}+c74f20a3+{payload}"));
    }
}
