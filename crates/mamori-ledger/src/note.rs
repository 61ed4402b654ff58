//! C2SP signed notes (<https://c2sp.org/signed-note>), Ed25519 signatures only (type `0x01`).
//!
//! A signed note is a text ending in a newline, a blank line, then one or more lines
//! `— <key name> base64(key ID (4 bytes, big-endian) || signature)`. The key ID is the first four
//! bytes of `SHA-256(name || "\n" || 0x01 || public key)`. Key texts use the formats of Go's
//! `golang.org/x/mod/sumdb/note`, so keys and notes interoperate with Go tooling:
//!
//! - verifier key: `<name>+<key ID as 8 hex digits>+base64(0x01 || public key)`
//! - signer key:   `PRIVATE+KEY+<name>+<key ID>+base64(0x01 || 32-byte seed)`

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Signature type byte of Ed25519 in key IDs and key texts.
const ALG_ED25519: u8 = 0x01;
/// Start of every signature line: em dash (U+2014) and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// The spec requires accepting at least 16; Go's implementation accepts 100.
const MAX_SIGNATURES: usize = 100;
const ED25519_SIGNATURE_LEN: usize = 64;
const KEY_ID_LEN: usize = 4;

/// Why a key or note was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    #[error(
        "invalid key name {0:?} (must be non-empty, without spaces, '+' or control characters)"
    )]
    InvalidName(String),
    #[error("unsupported key algorithm {0:#04x} (only Ed25519, 0x01)")]
    UnsupportedAlgorithm(u8),
    #[error("key ID {found:08x} does not match the key (expected {expected:08x})")]
    KeyIdMismatch { expected: u32, found: u32 },
    #[error("invalid signature by key {name}+{key_id:08x}")]
    InvalidSignature { name: String, key_id: u32 },
    #[error("note has no signature by key {name}+{key_id:08x}")]
    NotSigned { name: String, key_id: u32 },
    #[error("random number generator failed: {0}")]
    Random(String),
}

/// One signature line of a note, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: u32,
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

/// A note split into its text and signature lines, without any verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, including its final newline.
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

/// A named Ed25519 signing key. `Debug` shows the name and key ID only.
#[derive(Clone)]
pub struct Signer {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A new key from the operating system's random number generator.
    pub fn generate(name: &str) -> Result<Signer, NoteError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| NoteError::Random(e.to_string()))?;
        let signer = Signer::from_seed(name, &seed);
        seed.fill(0);
        Ok(signer)
    }

    fn from_seed(name: &str, seed: &[u8; 32]) -> Signer {
        let key = SigningKey::from_bytes(seed);
        let key_id = key_id(name, &key.verifying_key());
        Signer {
            name: name.to_owned(),
            key_id,
            key,
        }
    }

    /// Parse `PRIVATE+KEY+<name>+<hex8 key ID>+base64(0x01 || seed)`.
    pub fn from_skey(text: &str) -> Result<Signer, NoteError> {
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::MalformedKey("missing PRIVATE+KEY+ prefix"))?;
        let (name, claimed_id, mut key) = split_key_text(rest)?;
        let seed = ed25519_key_bytes(&key);
        key.fill(0);
        let mut seed = seed?;
        let signer = Signer::from_seed(name, &seed);
        seed.fill(0);
        if signer.key_id != claimed_id {
            return Err(NoteError::KeyIdMismatch {
                expected: signer.key_id,
                found: claimed_id,
            });
        }
        Ok(signer)
    }

    /// The signer key text (secret: store it with care).
    pub fn to_skey(&self) -> String {
        let mut key = Vec::with_capacity(33);
        key.push(ALG_ED25519);
        key.extend_from_slice(self.key.as_bytes());
        let text = format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(&key)
        );
        key.fill(0);
        text
    }

    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Sign `text` (which must end in a newline and contain no control characters other than
    /// newline) and return the whole signed note: `text`, a blank line, one signature line.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let signature = self.key.sign(text.as_bytes());
        let mut payload = Vec::with_capacity(KEY_ID_LEN + ED25519_SIGNATURE_LEN);
        payload.extend_from_slice(&self.key_id.to_be_bytes());
        payload.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(payload)
        ))
    }
}

/// A named Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl Verifier {
    /// Parse `<name>+<hex8 key ID>+base64(0x01 || public key)`.
    pub fn from_vkey(text: &str) -> Result<Verifier, NoteError> {
        let (name, claimed_id, key) = split_key_text(text)?;
        let public: [u8; 32] = ed25519_key_bytes(&key)?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::MalformedKey("not an Ed25519 public key"))?;
        let expected = key_id(name, &key);
        if expected != claimed_id {
            return Err(NoteError::KeyIdMismatch {
                expected,
                found: claimed_id,
            });
        }
        Ok(Verifier {
            name: name.to_owned(),
            key_id: claimed_id,
            key,
        })
    }

    pub fn to_vkey(&self) -> String {
        let mut key = Vec::with_capacity(33);
        key.push(ALG_ED25519);
        key.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, BASE64.encode(key))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Whether `signature` (without the key ID) is this key's signature of `text`.
    pub fn verify(&self, text: &str, signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; ED25519_SIGNATURE_LEN]>::try_from(signature) else {
            return false;
        };
        self.key
            .verify_strict(text.as_bytes(), &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

/// Check that `note` carries a valid signature by `verifier` and return its text. Signatures by
/// other keys are ignored (as the spec requires); a signature line with the verifier's name
/// and key ID that does not verify rejects the whole note.
pub fn open(note: &str, verifier: &Verifier) -> Result<String, NoteError> {
    let parsed = parse(note)?;
    let mut verified = false;
    for signature in &parsed.signatures {
        if signature.name != verifier.name || signature.key_id != verifier.key_id {
            continue;
        }
        if !verifier.verify(&parsed.text, &signature.signature) {
            return Err(NoteError::InvalidSignature {
                name: verifier.name.clone(),
                key_id: verifier.key_id,
            });
        }
        verified = true;
    }
    if verified {
        Ok(parsed.text)
    } else {
        Err(NoteError::NotSigned {
            name: verifier.name.clone(),
            key_id: verifier.key_id,
        })
    }
}

/// Split a signed note into text and signature lines without verifying anything.
pub fn parse(note: &str) -> Result<Note, NoteError> {
    if note.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed("control character"));
    }
    // The text is separated from the signatures by the last blank line.
    let split = note
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let (text, signature_block) = (&note[..split + 1], &note[split + 2..]);
    let signature_lines = signature_block
        .strip_suffix('\n')
        .ok_or(NoteError::Malformed("signatures do not end in a newline"))?;
    if signature_lines.is_empty() {
        return Err(NoteError::Malformed("no signature lines"));
    }
    let signatures = signature_lines
        .split('\n')
        .map(parse_signature_line)
        .collect::<Result<Vec<_>, _>>()?;
    if signatures.len() > MAX_SIGNATURES {
        return Err(NoteError::Malformed("too many signatures"));
    }
    Ok(Note {
        text: text.to_owned(),
        signatures,
    })
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, NoteError> {
    let rest = line
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(NoteError::Malformed(
            "signature line does not start with \"— \"",
        ))?;
    let (name, encoded) = rest
        .split_once(' ')
        .ok_or(NoteError::Malformed("signature line has no signature"))?;
    if !is_valid_name(name) {
        return Err(NoteError::Malformed("invalid key name in signature line"));
    }
    let bytes = BASE64
        .decode(encoded)
        .map_err(|_| NoteError::Malformed("signature is not base64"))?;
    let Some((id, signature)) = bytes.split_first_chunk::<KEY_ID_LEN>() else {
        return Err(NoteError::Malformed("signature shorter than a key ID"));
    };
    if signature.is_empty() {
        return Err(NoteError::Malformed("empty signature"));
    }
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: u32::from_be_bytes(*id),
        signature: signature.to_vec(),
    })
}

/// `SHA-256(name || "\n" || 0x01 || public key)[..4]`, big-endian.
fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update(b"\n")
        .chain_update([ALG_ED25519])
        .chain_update(key.as_bytes())
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Key names are non-empty and contain no Unicode spaces and no `+` (they delimit key texts).
/// Control characters are refused too: a note containing them is malformed anyway.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(NoteError::InvalidName(name.to_owned()))
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("text does not end in a newline"));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed("control character"));
    }
    Ok(())
}

/// `<name>+<hex8>+<base64>` -> (name, key ID, decoded key bytes).
fn split_key_text(text: &str) -> Result<(&str, u32, Vec<u8>), NoteError> {
    let (name, rest) = text
        .split_once('+')
        .ok_or(NoteError::MalformedKey("expected <name>+<key ID>+<key>"))?;
    let (id_hex, encoded) = rest
        .split_once('+')
        .ok_or(NoteError::MalformedKey("expected <name>+<key ID>+<key>"))?;
    check_name(name)?;
    if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NoteError::MalformedKey("key ID is not 8 hex digits"));
    }
    let key_id = u32::from_str_radix(id_hex, 16)
        .map_err(|_| NoteError::MalformedKey("key ID is not 8 hex digits"))?;
    let key = BASE64
        .decode(encoded)
        .map_err(|_| NoteError::MalformedKey("key is not base64"))?;
    Ok((name, key_id, key))
}

/// `0x01 || 32 bytes` -> the 32 bytes.
fn ed25519_key_bytes(key: &[u8]) -> Result<[u8; 32], NoteError> {
    let (&algorithm, bytes) = key
        .split_first()
        .ok_or(NoteError::MalformedKey("empty key"))?;
    if algorithm != ALG_ED25519 {
        return Err(NoteError::UnsupportedAlgorithm(algorithm));
    }
    <[u8; 32]>::try_from(bytes).map_err(|_| NoteError::MalformedKey("Ed25519 key is not 32 bytes"))
}
