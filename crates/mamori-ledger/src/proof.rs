//! C2SP tlog-proof files (<https://c2sp.org/tlog-proof>): an offline-verifiable proof that an
//! entry is in a log, made of an inclusion proof and the signed checkpoint it leads to.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64 opaque data>]
//! index <leaf index>
//! <base64 hash>            (zero or more: the RFC 6962 audit path, leaf sibling first)
//!
//! <signed checkpoint note, verbatim>
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::Hash;
use crate::checkpoint::{Checkpoint, decode_hash};
pub use crate::merkle::ProofError;
use crate::merkle::{leaf_hash, verify_inclusion};
use crate::note::{self, Verifier};
use crate::tile::parse_canonical_decimal;

const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// An audit path in a tree of at most 2^64 - 1 leaves has at most 64 hashes.
const MAX_PROOF_HASHES: usize = 64;

/// A parsed tlog-proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque, unauthenticated application data.
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    /// The audit path from the leaf's sibling up to the root's child.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint note, verbatim (ends in a newline).
    pub checkpoint: String,
}

impl TlogProof {
    pub fn encode(&self) -> String {
        let mut text = format!("{HEADER}\n");
        if let Some(extra) = &self.extra {
            text.push_str(&format!("extra {}\n", BASE64.encode(extra)));
        }
        text.push_str(&format!("index {}\n", self.index));
        for hash in &self.hashes {
            text.push_str(&BASE64.encode(hash));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.checkpoint);
        text
    }

    /// Parse the proof structure. The checkpoint is kept verbatim and only checked to be a
    /// non-empty text ending in a newline: its signatures and body are checked by
    /// [`TlogProof::verify`], which is the only way to trust anything in a proof.
    pub fn parse(text: &str) -> Result<TlogProof, ProofError> {
        let mut lines = Lines::new(text);
        if lines.next()? != HEADER {
            return Err(lines.error("missing c2sp.org/tlog-proof@v1 header"));
        }
        let mut line = lines.next()?;
        let mut extra = None;
        if let Some(encoded) = line.strip_prefix("extra ") {
            extra = Some(
                BASE64
                    .decode(encoded)
                    .map_err(|_| lines.error("extra data is not base64"))?,
            );
            line = lines.next()?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_canonical_decimal)
            .ok_or_else(|| lines.error("expected \"index <decimal>\""))?;
        let mut hashes = Vec::new();
        loop {
            let line = lines.next()?;
            if line.is_empty() {
                break;
            }
            if hashes.len() == MAX_PROOF_HASHES {
                return Err(lines.error("more than 64 proof hashes"));
            }
            hashes.push(decode_hash(line).ok_or_else(|| lines.error("not a base64 hash"))?);
        }
        let checkpoint = lines.rest();
        if checkpoint.is_empty() || !checkpoint.ends_with('\n') {
            return Err(lines.error("missing checkpoint after the blank line"));
        }
        Ok(TlogProof {
            extra,
            index,
            hashes,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// Verify the proof for `entry` (the log entry, whose leaf hash is `leaf_hash(entry)`): the
    /// checkpoint must be signed by `verifier`, name `origin`, and the audit path must lead from
    /// the entry at `index` to its root. Returns the verified checkpoint.
    pub fn verify(
        &self,
        entry: &[u8],
        verifier: &Verifier,
        origin: &str,
    ) -> Result<Checkpoint, ProofError> {
        let body = note::open(&self.checkpoint, verifier)?;
        let checkpoint = Checkpoint::parse(&body)?;
        if checkpoint.origin != origin {
            return Err(ProofError::OriginMismatch {
                expected: origin.to_owned(),
                found: checkpoint.origin,
            });
        }
        verify_inclusion(
            &leaf_hash(entry),
            self.index,
            checkpoint.size,
            &self.hashes,
            &checkpoint.root,
        )?;
        Ok(checkpoint)
    }
}

/// Newline-terminated lines with their 1-based numbers, for error messages.
struct Lines<'a> {
    rest: &'a str,
    number: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            rest: text,
            number: 0,
        }
    }

    fn next(&mut self) -> Result<&'a str, ProofError> {
        self.number += 1;
        let (line, rest) = self
            .rest
            .split_once('\n')
            .ok_or_else(|| self.error("unexpected end of proof"))?;
        self.rest = rest;
        Ok(line)
    }

    fn rest(&self) -> &'a str {
        self.rest
    }

    fn error(&self, reason: &str) -> ProofError {
        ProofError::Malformed {
            line: self.number,
            reason: reason.to_owned(),
        }
    }
}
