//! C2SP tlog-checkpoint note bodies (<https://c2sp.org/tlog-checkpoint>).
//!
//! ```text
//! <origin>
//! <tree size, decimal, no leading zeros>
//! <base64 of the 32-byte RFC 6962 root>
//! [extension lines, each non-empty]
//! ```
//!
//! Each line ends in a newline. The body is the text of a [signed note](crate::note).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::Hash;
use crate::tile::parse_canonical_decimal;

/// Why a checkpoint body was rejected. `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint does not end in a newline")]
    MissingFinalNewline,
    #[error("checkpoint has {0} lines, expected at least 3")]
    TooFewLines(usize),
    #[error("checkpoint line {line}: {reason}")]
    Malformed { line: usize, reason: &'static str },
}

/// The body of a checkpoint: a log's origin, tree size, root hash and optional extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text of this checkpoint, each line ending in a newline.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        for extension in &self.extensions {
            text.push_str(extension);
            text.push('\n');
        }
        text
    }

    /// Parse a checkpoint body (the text of the note, not the signed note). Strict: canonical
    /// size, base64 of exactly 32 bytes, no empty or control characters in lines.
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingFinalNewline)?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(CheckpointError::TooFewLines(lines.len()));
        };
        for (number, line) in lines.iter().enumerate() {
            check_line(number + 1, line)?;
        }
        let size = parse_canonical_decimal(size).ok_or(CheckpointError::Malformed {
            line: 2,
            reason: "tree size is not a canonical decimal number",
        })?;
        let root = decode_hash(root).ok_or(CheckpointError::Malformed {
            line: 3,
            reason: "root is not the base64 of 32 bytes",
        })?;
        Ok(Checkpoint {
            origin: (*origin).to_owned(),
            size,
            root,
            extensions: extensions.iter().map(|e| (*e).to_owned()).collect(),
        })
    }
}

fn check_line(line: usize, text: &str) -> Result<(), CheckpointError> {
    if text.is_empty() {
        return Err(CheckpointError::Malformed {
            line,
            reason: "empty line",
        });
    }
    // The signed-note rule: no ASCII control characters (newline only separates lines here).
    if text.chars().any(|c| c < ' ') {
        return Err(CheckpointError::Malformed {
            line,
            reason: "control character",
        });
    }
    Ok(())
}

/// Standard padded base64 of exactly 32 bytes (canonical: non-zero padding bits are refused).
pub(crate) fn decode_hash(text: &str) -> Option<Hash> {
    // 32 bytes encode to 44 characters; checking first bounds the allocation.
    if text.len() != 44 {
        return None;
    }
    BASE64.decode(text).ok()?.try_into().ok()
}
