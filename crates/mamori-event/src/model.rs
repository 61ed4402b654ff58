//! The event model.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sha2::Digest as _;

use crate::error::EventError;
use crate::kinds::{DestinationKind, Kind, Outcome};

/// The only event schema version this crate reads and writes (`"v":1`).
pub const EVENT_VERSION: u32 = 1;

/// Largest integer accepted in typed numeric fields (`object.size`): 2^53 − 1, the largest
/// integer every I-JSON / RFC 8785 implementation represents exactly.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// One observed action of one account. See `docs/events.md` for every field.
///
/// Field order here is the canonical (RFC 8785) key order.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Who performed the action.
    pub actor: Actor,
    /// Where data went, if anywhere.
    pub destination: Option<Destination>,
    /// What kind of action.
    pub kind: Kind,
    /// 128 random bits that make the ledger entry unguessable; see [`Event::ensure_nonce`].
    pub nonce: Option<Nonce>,
    /// What the action was performed on.
    pub object: Option<Object>,
    /// How the action ended.
    pub outcome: Outcome,
    /// Original source fields (any JSON object; empty when absent).
    pub raw: Map<String, Value>,
    /// Where the record came from.
    pub source: Option<Source>,
    /// When the action happened (nanosecond precision, rendered in UTC).
    pub time: jiff::Timestamp,
    /// Schema version; always [`EVENT_VERSION`] for parsed events.
    pub v: u32,
}

/// Who performed the action.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actor {
    /// Host name the action happened on.
    pub host: Option<String>,
    /// IP address of that host (as the source wrote it).
    pub ip: Option<String>,
    /// The process that performed the action.
    pub process: Option<Process>,
    /// Logon / session identifier.
    pub session: Option<String>,
    /// The account (user id) that performed the action; never empty.
    pub user: String,
}

/// A process.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Process {
    /// Image name, e.g. `explorer.exe`.
    pub name: Option<String>,
    /// Image path.
    pub path: Option<String>,
    /// Process id.
    pub pid: Option<u32>,
    /// SHA-256 of the image.
    pub sha256: Option<Sha256Digest>,
}

/// What the action was performed on: a file, a document, a URL, an e-mail, an account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Object {
    /// File name extension without the dot, e.g. `dwg`.
    pub extension: Option<String>,
    /// Classification labels, e.g. `社外秘`; empty when none.
    pub labels: Vec<String>,
    /// Name (file name, document name, account name for `account.*` kinds).
    pub name: Option<String>,
    /// File system path.
    pub path: Option<String>,
    /// SHA-256 of the content.
    pub sha256: Option<Sha256Digest>,
    /// Size in bytes, at most [`MAX_SAFE_INTEGER`].
    pub size: Option<u64>,
    /// Subject (e-mail subject, document title).
    pub subject: Option<String>,
    /// Content type as the source names it, e.g. `dwg` or `application/pdf`.
    pub r#type: Option<String>,
    /// URL.
    pub url: Option<String>,
}

/// Where data went.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Destination {
    /// Device instance id, e.g. `USB\VID_0951&PID_1666\60A44C3FAE5A`.
    pub device_id: Option<String>,
    /// DNS domain, e.g. `example.com`.
    pub domain: Option<String>,
    /// Whether the destination is outside the organisation.
    pub external: Option<bool>,
    /// What sort of destination.
    pub kind: Option<DestinationKind>,
    /// Name: device name, share, service, printer, group.
    pub name: Option<String>,
    /// E-mail recipients; empty when none.
    pub recipients: Vec<String>,
}

/// Where the record came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Source {
    /// Source (adapter / log) name, e.g. `ndjson`, `evtx`.
    pub name: Option<String>,
    /// The source's own record reference (JSON field `ref`).
    pub reference: Option<String>,
}

impl Process {
    /// Whether no field is set (an empty process is omitted from canonical JSON).
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.path.is_none() && self.pid.is_none() && self.sha256.is_none()
    }
}

impl Object {
    /// Whether no field is set (an empty object is omitted from canonical JSON).
    pub fn is_empty(&self) -> bool {
        self.extension.is_none()
            && self.labels.is_empty()
            && self.name.is_none()
            && self.path.is_none()
            && self.sha256.is_none()
            && self.size.is_none()
            && self.subject.is_none()
            && self.r#type.is_none()
            && self.url.is_none()
    }
}

impl Destination {
    /// Whether no field is set (an empty destination is omitted from canonical JSON).
    pub fn is_empty(&self) -> bool {
        self.device_id.is_none()
            && self.domain.is_none()
            && self.external.is_none()
            && self.kind.is_none()
            && self.name.is_none()
            && self.recipients.is_empty()
    }
}

impl Source {
    /// Whether no field is set (an empty source is omitted from canonical JSON).
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.reference.is_none()
    }
}

/// 16 random bytes; JSON form: 22 characters of unpadded base64url.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce(pub [u8; 16]);

/// Nonces drawn from the OS per system call.
const NONCE_BLOCK: usize = 256;

/// A thread's block of OS random bytes, consumed 16 bytes at a time.
struct NoncePool {
    bytes: [u8; NONCE_BLOCK * 16],
    next: usize,
}

thread_local! {
    static NONCE_POOL: std::cell::RefCell<NoncePool> = const {
        std::cell::RefCell::new(NoncePool {
            bytes: [0u8; NONCE_BLOCK * 16],
            next: NONCE_BLOCK,
        })
    };
}

/// Length of a nonce's text form.
pub(crate) const NONCE_TEXT_LEN: usize = 22;

impl Nonce {
    /// A fresh nonce from the operating system's random number generator.
    ///
    /// Random bytes are drawn from the OS in blocks of [`NONCE_BLOCK`] nonces per thread and
    /// handed out once each: one system call per block instead of per event (measured at about
    /// 0.6 µs per call, an eighth of an event's whole preparation). The bytes are the OS's own,
    /// so this is exactly as unpredictable; a block is never reused, and Mamori never forks, so
    /// no two processes can share a block.
    pub fn generate() -> Result<Nonce, EventError> {
        NONCE_POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.next == NONCE_BLOCK {
                getrandom::fill(&mut pool.bytes).map_err(|e| {
                    EventError::new(
                        crate::field::NONCE,
                        format!("random number generator failed: {e}"),
                    )
                })?;
                pool.next = 0;
            }
            let start = pool.next * 16;
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&pool.bytes[start..start + 16]);
            // Never hand the same bytes out twice.
            pool.bytes[start..start + 16].fill(0);
            pool.next += 1;
            Ok(Nonce(bytes))
        })
    }

    /// The 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Text form without allocating.
    pub(crate) fn encode(&self) -> [u8; NONCE_TEXT_LEN] {
        let mut out = [0u8; NONCE_TEXT_LEN];
        // 16 bytes always encode to exactly 22 characters.
        let _ = URL_SAFE_NO_PAD.encode_slice(self.0, &mut out);
        out
    }
}

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.encode();
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({self})")
    }
}

impl FromStr for Nonce {
    type Err = EventError;

    /// Exactly 22 characters of unpadded base64url that decode to 16 bytes (the unused low
    /// bits of the last character must be zero, so every nonce has one text form).
    fn from_str(s: &str) -> Result<Nonce, EventError> {
        let invalid = || {
            EventError::new(
                crate::field::NONCE,
                "expected 22 characters of unpadded base64url (16 bytes)",
            )
        };
        if s.len() != NONCE_TEXT_LEN {
            return Err(invalid());
        }
        let mut bytes = [0u8; 16];
        match URL_SAFE_NO_PAD.decode_slice(s, &mut bytes) {
            Ok(16) => Ok(Nonce(bytes)),
            _ => Err(invalid()),
        }
    }
}

/// A SHA-256 digest; JSON form: 64 hexadecimal characters (lower case in canonical form,
/// either case accepted on input).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn encode(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = crate::HEX[usize::from(b >> 4)];
            out[2 * i + 1] = crate::HEX[usize::from(b & 0x0f)];
        }
        out
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.encode();
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

impl FromStr for Sha256Digest {
    type Err = EventError;

    fn from_str(s: &str) -> Result<Sha256Digest, EventError> {
        let invalid = || EventError::new(crate::field::SHA256, "expected 64 hex characters");
        let b = s.as_bytes();
        if b.len() != 64 {
            return Err(invalid());
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        };
        let mut out = [0u8; 32];
        for (i, pair) in b.chunks_exact(2).enumerate() {
            out[i] = (nibble(pair[0]).ok_or_else(invalid)? << 4)
                | nibble(pair[1]).ok_or_else(invalid)?;
        }
        Ok(Sha256Digest(out))
    }
}

impl Event {
    /// Parses and validates one JSON event (one NDJSON line, surrounding whitespace allowed).
    ///
    /// Required: `time`, `kind`, `actor.user` (non-empty), `outcome`; `v` defaults to 1 and any
    /// other version is rejected. Unknown fields are rejected everywhere except inside `raw`.
    /// The error names the field path and the reason, e.g. `actor.user: missing field` or
    /// `kind: unknown kind "file.cpy"`.
    pub fn from_json(line: &[u8]) -> Result<Event, EventError> {
        // Hot path: no path tracking. Only a failure pays for the second, tracked parse.
        // Validating UTF-8 once for the whole line lets serde_json skip it per string.
        let parsed = match std::str::from_utf8(line) {
            Ok(text) => serde_json::from_str::<Event>(text),
            Err(_) => serde_json::from_slice::<Event>(line),
        };
        parsed.map_err(|fast| explain_json(line, &fast))
    }

    /// Validates an already parsed JSON value with the same rules as [`Event::from_json`].
    pub fn from_value(value: Value) -> Result<Event, EventError> {
        serde_path_to_error::deserialize::<_, Event>(value)
            .map_err(|e| EventError::from_path_error(e.path(), e.inner()))
    }

    /// Sets a fresh random [`Nonce`] if the event has none.
    ///
    /// # Panics
    ///
    /// Only if the operating system's random number generator fails (see
    /// [`Event::try_ensure_nonce`] for the fallible form).
    pub fn ensure_nonce(&mut self) {
        if let Err(e) = self.try_ensure_nonce() {
            panic!("{e}");
        }
    }

    /// [`Event::ensure_nonce`], reporting a random number generator failure instead of
    /// panicking.
    pub fn try_ensure_nonce(&mut self) -> Result<(), EventError> {
        if self.nonce.is_none() {
            self.nonce = Some(Nonce::generate()?);
        }
        Ok(())
    }

    /// Appends the RFC 8785 canonical JSON of the whole event (nonce included, if set) to
    /// `out`.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        crate::ser::write_event(self, true, out);
    }

    /// The RFC 8785 canonical JSON of the whole event (nonce included, if set).
    pub fn canonical_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        self.write_canonical(&mut out);
        out
    }

    /// SHA-256 of the canonical JSON with the nonce omitted: the same for every import of the
    /// same event, whatever nonce each import drew (the de-duplication key).
    pub fn identity(&self) -> [u8; 32] {
        let mut out = Vec::with_capacity(512);
        crate::ser::write_event(self, false, &mut out);
        sha2::Sha256::digest(&out).into()
    }

    /// Writes the canonical JSON (nonce included) to `out` and returns the event's
    /// [`identity`](Event::identity) and its [`entry_digest`](crate::entry_digest), serialising
    /// once and hashing the bytes before the nonce member once for both. Equivalent to
    /// `{ e.write_canonical(out); (e.identity(), entry_digest(out)) }`.
    pub fn write_canonical_with_digests(&self, out: &mut Vec<u8>) -> ([u8; 32], [u8; 32]) {
        let start = out.len();
        let span = crate::ser::write_event(self, true, out);
        let mut identity = sha2::Sha256::new();
        let (from, to) = span.unwrap_or((out.len(), out.len()));
        identity.update(&out[start..from]);
        let mut entry = identity.clone();
        entry.update(&out[from..]);
        identity.update(&out[to..]);
        (identity.finalize().into(), entry.finalize().into())
    }

    /// The account the event belongs to: `actor.user`.
    pub fn account(&self) -> &str {
        &self.actor.user
    }
}

/// Second, path-tracking parse of a line that failed the fast parse.
fn explain_json(line: &[u8], fast: &serde_json::Error) -> EventError {
    let mut de = serde_json::Deserializer::from_slice(line);
    match serde_path_to_error::deserialize::<_, Event>(&mut de) {
        Err(e) => EventError::from_path_error(e.path(), e.inner()),
        Ok(_) => match de.end() {
            Err(e) => EventError::new("", e.to_string()),
            Ok(()) => EventError::new("", fast.to_string()),
        },
    }
}
