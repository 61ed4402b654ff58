//! The private `state` file: the log's origin and committed size (the packed files are cut
//! back to it when the log is opened).
//!
//! ```text
//! mamori-ledger state v2
//! origin <origin>
//! size <committed tree size>
//! crc32 <8 hex digits over the lines above>
//! ```

use std::path::Path;

use crate::LedgerError;
use crate::tile::parse_canonical_decimal;

const MAGIC: &str = "mamori-ledger state v2";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct State {
    pub origin: String,
    pub size: u64,
}

impl State {
    pub fn encode(&self) -> String {
        let body = format!("{MAGIC}\norigin {}\nsize {}\n", self.origin, self.size);
        let crc = crc32fast::hash(body.as_bytes());
        format!("{body}crc32 {crc:08x}\n")
    }

    pub fn decode(bytes: &[u8], path: &Path) -> Result<State, LedgerError> {
        let corrupt = |reason: &str| LedgerError::corrupt(path, format!("state file: {reason}"));
        let text = std::str::from_utf8(bytes).map_err(|_| corrupt("not UTF-8"))?;
        let crc_at = text.rfind("crc32 ").ok_or_else(|| corrupt("no checksum"))?;
        let (body, crc_line) = text.split_at(crc_at);
        let claimed = crc_line
            .strip_prefix("crc32 ")
            .and_then(|rest| rest.strip_suffix('\n'))
            .filter(|hex| hex.len() == 8)
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .ok_or_else(|| corrupt("malformed checksum line"))?;
        if claimed != crc32fast::hash(body.as_bytes()) {
            return Err(corrupt("checksum mismatch"));
        }
        let mut lines = body.lines();
        if lines.next() != Some(MAGIC) {
            return Err(corrupt("unknown format"));
        }
        let mut field = |name: &str| {
            lines
                .next()
                .and_then(|line| line.strip_prefix(name))
                .and_then(|rest| rest.strip_prefix(' '))
                .ok_or_else(|| corrupt(&format!("missing {name} line")))
        };
        let origin = field("origin")?.to_owned();
        let size = field("size")?;
        let number =
            |text: &str| parse_canonical_decimal(text).ok_or_else(|| corrupt("bad number"));
        let state = State {
            origin,
            size: number(size)?,
        };
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn round_trips_and_rejects_corruption() {
        let state = State {
            origin: "example.com/log".into(),
            size: 70_000,
        };
        let text = state.encode();
        let path = Path::new("state");
        assert_eq!(State::decode(text.as_bytes(), path).unwrap(), state);
        for i in 0..text.len() {
            let mut bytes = text.clone().into_bytes();
            bytes[i] ^= 0x01;
            assert!(State::decode(&bytes, path).is_err(), "flipped byte {i}");
        }
        assert!(State::decode(&text.as_bytes()[..text.len() - 1], path).is_err());
    }
}
