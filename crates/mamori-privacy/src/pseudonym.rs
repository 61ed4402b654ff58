//! Pseudonyms: how persons appear in every API response and export until a reveal.
//!
//! Three types do the work:
//!
//! - [`PseudonymKey`]: 32 secret bytes, kept in a file of their own (by default
//!   `<data dir>/keys/pseudonym.key`), never in the store and never printed.
//! - [`Directory`]: what identifies each person, built from the HR records: person ids,
//!   accounts, e-mail addresses, the parts of names. It holds no key.
//! - [`Pseudonymiser`]: a key and a directory together. It turns single identifiers, free text
//!   and whole canonical events into their pseudonymous form, and answers a granted reveal
//!   ([`Pseudonymiser::reveal`]: pseudonym → person id).
//!
//! # What a pseudonym looks like
//!
//! `HMAC-SHA-256(key, tag ‖ 0x00 ‖ normalised value)`, truncated to 50 bits and written as 10
//! Crockford base32 characters after a prefix that says what was replaced:
//!
//! | Prefix | Replaces | Example |
//! | --- | --- | --- |
//! | `P-` | a person id | `P-7Q3M0K9ZXA` |
//! | `A-` | an account (`actor.user`, a home directory in a path) | `A-1B2C3D4E5F` |
//! | `U-` | the local part of an e-mail address; the domain is kept | `U-8J2K4M6P9R@example.co.jp` |
//! | `N-` | a name or part of a name found in free text | `見積_N-Q0W2E4R6T8様.xlsx` |
//! | `H-` | a host name (`actor.host`) | `H-4V6X8Z0B2D` |
//! | `I-` | an IP address (`actor.ip`) | `I-5C7E9G1J3K` |
//! | `S-` | a logon session id (`actor.session`) | `S-6D8F0H2K4M` |
//!
//! The tag (one per prefix) keeps the classes apart: the account `tanaka` and the name part
//! `Tanaka` are different pseudonyms. The same key and the same value always give the same
//! pseudonym, so analysts can still see that two events concern the same account; without the
//! key nobody can test a guessed name against a pseudonym.
//!
//! **Why 50 bits are enough.** A pseudonym stands for a value of one class (the prefix
//! separates the classes). Among `n` values of a class, the chance that any two share a
//! pseudonym is about `n² / 2⁵¹`: 4·10⁻⁸ for 10,000 persons, 4·10⁻⁴ for a million. A
//! collision can only make two values look alike on screen; [`Pseudonymiser::reveal`] notices
//! it and refuses to answer for an ambiguous pseudonym rather than name the wrong person. Ten
//! characters stay readable and quotable in a case note; secrecy comes from the key, not from
//! the length.
//!
//! **Normalisation.** Latin letters are case-folded and full-width ASCII (U+FF01–U+FF5E, as
//! Japanese input methods produce `ＴＡＮＡＫＡ`) is read as ASCII before hashing and matching,
//! so `ACM2278`, `acm2278` and `ＡＣＭ２２７８` are one account. Accounts also lose a Windows
//! domain qualifier: `DTAA/ACM2278`, `DTAA\ACM2278` and `ACM2278` are one account, because the
//! profile directory (`C:\Users\ACM2278`), `%USERNAME%` and most logs name the bare account
//! and an analyst should see that a path is the actor's own home. Other Unicode (half-width
//! katakana, accented Latin) is not normalised.
//!
//! # Free text
//!
//! [`Pseudonymiser::text`] replaces, in one pass:
//!
//! - every identifier of the directory (person ids, accounts, e-mail local parts, name parts,
//!   whole names), case-insensitively, found with one Aho-Corasick automaton. A Latin
//!   identifier must sit on token boundaries: the start or end of the text, any character that
//!   is not an ASCII letter or digit, a change between letters and digits (`tanaka2024`) or a
//!   lower-case letter followed by an upper-case one (`TanakaReport`). So `PC-TANAKA`,
//!   `C:\Users\tanaka\Desktop`, `tanaka.t@…` and `ACM2278_report.docx` are found, but the
//!   surname `Kimura` is not replaced inside `Kimuraya`. Japanese has no word boundaries, so names in
//!   Japanese script are replaced wherever they occur (`見積_田中様.xlsx`, but also
//!   `田中央` → `N-…央`): over-redaction is the safe side. Where identifiers overlap, the
//!   leftmost, then the longest, wins; a text that is several identifiers at once is
//!   replaced as the most specific (account, then person id, e-mail local part, name).
//! - the user directory in `/home/<x>/`, `/Users/<x>/`, `C:\Users\<x>\` (any drive, either
//!   slash, any case, also `\\server\users\<x>`), which becomes the account pseudonym of `<x>`
//!   even when `<x>` is nobody the directory knows. `Public`, `Default`, `Default User`,
//!   `All Users` and `Shared` are kept. The segment ends at the next slash; it may contain
//!   spaces only after a drive (`C:\Users\Taro Tanaka\`), elsewhere it ends at whitespace.
//! - the local part of every e-mail address (`U-…@domain`); the domain is kept, it is the
//!   risk signal. Anything of the form `local@host` counts as an address.
//!
//! Unknown names that fit none of these rules (a stranger's name in a subject) stay as they
//! are: the directory only knows the organisation's people.
//!
//! **Which name parts are matched.** An HR name is split on whitespace (the ideographic space
//! U+3000 included), commas and `・`; each part, each hyphen/apostrophe/dot-separated piece of
//! a part, the whole name without spaces and, for two-part names, the two parts the other way
//! round (`TaroTanaka`, `TanakaTaro`) are matched. Parts shorter than 2 characters are
//! ignored, Latin (ASCII) ones shorter than 3 and purely numeric ones shorter than 5 too:
//! replacing `Li`, `Wu`, a single kanji or `123` wherever it occurs would destroy most text.
//! The price is that such short parts stay visible when they appear alone. Common words that
//! are also names (`Mark`, `Grant`, `June`) are replaced everywhere, for the same reason in
//! reverse. Names from every HR version of a person are matched (a surname changed at
//! marriage still appears in older files), and supervisors named without an id too. The
//! `.`/`_`/`-`-separated pieces of accounts and e-mail local parts (`taro.tanaka`,
//! `t-tanaka`) count as name parts of their owner: they are usually the romanised name of a
//! person HR writes in Japanese, and that is how it appears in host names (`PC-TANAKA`).
//!
//! # Events
//!
//! [`Pseudonymiser::event`] walks a canonical event (`docs/events.md`) and pseudonymises every
//! string, by default through [`Pseudonymiser::text`]. Identity fields get their own class:
//!
//! | Field | Becomes |
//! | --- | --- |
//! | `actor.user` | [`Pseudonymiser::account`] |
//! | `actor.host` | [`Pseudonymiser::host`] |
//! | `actor.ip` | [`Pseudonymiser::ip`] |
//! | `actor.session` | [`Pseudonymiser::session`] |
//! | `destination.recipients[]` | [`Pseudonymiser::email`] |
//! | `object.name` of `account.*` kinds (the affected account) | [`Pseudonymiser::account`] |
//!
//! Kept as they are (the allow-list: no personal data, needed for analysis): `v`, `time`,
//! `kind`, `outcome`, `nonce`, `actor.process.pid`, `actor.process.sha256`, `object.extension`,
//! `object.type`, `object.size`, `object.sha256`, `destination.kind`, `destination.domain`,
//! `destination.external`, `source.name`. Numbers and booleans are never changed outside the
//! identity keys of `raw` below. Every other field, including fields this module does not know
//! yet, goes through [`Pseudonymiser::text`] (deny by default).
//!
//! Inside `raw`, keys are matched ignoring case, `_`, `-`, `.` and spaces (the function
//! `raw_rule` lists them all): user and account keys (`User`, `TargetUserName`, `SubjectUserName`, `UserID`,
//! `MemberName`, `MemberSid`, …) become account pseudonyms, `Computer` / `WorkstationName`
//! host pseudonyms, `IpAddress` / `ClientAddress` IP pseudonyms, `LogonId` session pseudonyms,
//! `employee_id` person pseudonyms, and `from` / `to` / `cc` / `bcc` e-mail pseudonyms (a
//! number under such a key becomes a pseudonym string). Every other `raw` string, and every
//! `raw` key, goes through [`Pseudonymiser::text`].
//!
//! A few non-person values are kept: the empty string and `-` (a source's "no value"), and the
//! built-in accounts `SYSTEM`, `LOCAL SERVICE`, `NETWORK SERVICE`, `ANONYMOUS LOGON` and
//! `root`, which belong to no one and which analysts need to read.
//!
//! ```
//! use mamori_event::PersonRecord;
//! use mamori_privacy::pseudonym::{Directory, PseudonymKey, Pseudonymiser};
//!
//! let mut tanaka = PersonRecord::new("E1001", jiff::civil::date(2024, 4, 1), "田中 太郎");
//! tanaka.accounts = vec!["tanaka.t".into()];
//! let directory = Directory::new(&[tanaka])?;
//! let pseudonymiser = Pseudonymiser::new(&PseudonymKey::from_bytes([7; 32]), &directory);
//!
//! let path = pseudonymiser.text(r"C:\Users\tanaka.t\Desktop\見積_田中様.xlsx");
//! assert!(!path.contains("tanaka") && !path.contains("田中"));
//! let account = pseudonymiser.account("TANAKA.T");
//! assert_eq!(pseudonymiser.reveal(&account), Some("E1001"));
//! # Ok::<(), mamori_privacy::PrivacyError>(())
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write as _};
use std::path::Path;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use hmac::{KeyInit, Mac};
use mamori_event::{PersonRecord, field};
use serde_json::{Map, Value};

use crate::PrivacyError;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Characters of a pseudonym after its prefix (10 × 5 = 50 bits).
pub const PSEUDONYM_CHARS: usize = 10;

/// Crockford's base32 alphabet: no `I`, `L`, `O`, `U`, so a pseudonym never reads as a word
/// and is hard to mistype.
const CROCKFORD_BASE32: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Accounts that belong to no person, kept readable (compared after [`account_key`]).
const BUILT_IN_ACCOUNTS: &[&str] = &[
    "system",
    "local service",
    "network service",
    "anonymous logon",
    "root",
];

/// Profile directories that belong to no person (compared after [`fold`]).
const SHARED_PROFILES: &[&str] = &["public", "default", "default user", "all users", "shared"];

/// Event kinds whose `object.name` is an account.
const ACCOUNT_KIND_PREFIX: &str = "account.";

// ---------------------------------------------------------------------------------------------
// The key

/// The secret key of pseudonyms: 32 random bytes.
///
/// Whoever holds it can test a guessed name against a pseudonym, so it lives in a file of its
/// own, apart from the data, and its `Debug` form does not show it. Losing it changes every
/// pseudonym (earlier exports and case notes no longer match): back it up with the other keys.
pub struct PseudonymKey([u8; 32]);

impl PseudonymKey {
    /// Length of the key in bytes.
    pub const LEN: usize = 32;

    /// A key from known bytes (tests, keys kept in a secret manager).
    pub fn from_bytes(bytes: [u8; 32]) -> PseudonymKey {
        PseudonymKey(bytes)
    }

    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<PseudonymKey, PrivacyError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| {
            PrivacyError::Config(format!(
                "cannot create a pseudonym key: random number generator failed: {e}"
            ))
        })?;
        Ok(PseudonymKey(bytes))
    }

    /// Reads the key at `path`, or creates it there when no file exists.
    ///
    /// The file holds 64 hexadecimal digits and a newline. A new file is created with mode
    /// 0600 (its directory, when missing, with 0700) on Unix. A file that exists but does not
    /// hold a key is an error naming the path: it is never replaced, since a new key would
    /// silently change every pseudonym.
    pub fn load_or_create(path: &Path) -> Result<PseudonymKey, PrivacyError> {
        match std::fs::read(path) {
            Ok(contents) => return PseudonymKey::parse(&contents, path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(io_error(path, source)),
        }
        let key = PseudonymKey::generate()?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_directory(parent).map_err(|source| io_error(parent, source))?;
        }
        let mut file = match create_private_file(path) {
            Ok(file) => file,
            // Another process created it between our read and our create: use theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let contents = std::fs::read(path).map_err(|source| io_error(path, source))?;
                return PseudonymKey::parse(&contents, path);
            }
            Err(source) => return Err(io_error(path, source)),
        };
        let mut line = hex::encode(key.0);
        line.push('\n');
        let written = file
            .write_all(line.as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(source) = written {
            // Never leave a half-written key behind: the next start would refuse it.
            let _ = std::fs::remove_file(path);
            return Err(io_error(path, source));
        }
        Ok(key)
    }

    /// Parses the contents of a key file.
    fn parse(contents: &[u8], path: &Path) -> Result<PseudonymKey, PrivacyError> {
        let malformed = || {
            PrivacyError::Config(format!(
                "{}: not a pseudonym key (expected 64 hexadecimal digits and a newline); \
                 restore the file from its backup: a new key would change every pseudonym",
                path.display()
            ))
        };
        let text = std::str::from_utf8(contents).map_err(|_| malformed())?;
        let digits = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(text);
        let mut bytes = [0u8; 32];
        if digits.len() != 64 || hex::decode_to_slice(digits, &mut bytes).is_err() {
            return Err(malformed());
        }
        Ok(PseudonymKey(bytes))
    }

    /// The HMAC state keyed with this key, cloned for each pseudonym.
    fn mac(&self) -> HmacSha256 {
        // HMAC pads keys shorter than the hash's block to the block with zeros (RFC 2104), so
        // keying with the zero-padded block is the same HMAC, without a fallible length check.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.0);
        <HmacSha256 as KeyInit>::new(&block.into())
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(..)")
    }
}

fn io_error(path: &Path, source: io::Error) -> PrivacyError {
    PrivacyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(unix)]
fn create_private_directory(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

#[cfg(not(unix))]
fn create_private_directory(path: &Path) -> io::Result<()> {
    std::fs::create_dir_all(path)
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

// ---------------------------------------------------------------------------------------------
// Classes of pseudonyms

/// What a pseudonym stands for: its prefix and its domain-separation tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Class {
    Person,
    Account,
    /// The local part of an e-mail address.
    EmailLocal,
    /// A whole e-mail address `local@domain` (rendered `U-<local>@domain`; reveals only).
    EmailAddress,
    Name,
    Host,
    Ip,
    Session,
}

impl Class {
    fn prefix(self) -> &'static str {
        match self {
            Class::Person => "P-",
            Class::Account => "A-",
            Class::EmailLocal | Class::EmailAddress => "U-",
            Class::Name => "N-",
            Class::Host => "H-",
            Class::Ip => "I-",
            Class::Session => "S-",
        }
    }

    /// Domain-separation tag hashed before the value (never changes: it would change every
    /// pseudonym).
    fn tag(self) -> &'static [u8] {
        match self {
            Class::Person => b"mamori/pseudonym/v1/person",
            Class::Account => b"mamori/pseudonym/v1/account",
            Class::EmailLocal | Class::EmailAddress => b"mamori/pseudonym/v1/email-local",
            Class::Name => b"mamori/pseudonym/v1/name",
            Class::Host => b"mamori/pseudonym/v1/host",
            Class::Ip => b"mamori/pseudonym/v1/ip",
            Class::Session => b"mamori/pseudonym/v1/session",
        }
    }

    /// Which class replaces a text that is several identifiers at once: the most specific.
    /// Accounts come first: systems write accounts into paths and file names, and CERT-style
    /// directories use the account as the person id (`ACM2278`), so `ACM2278_report.docx`
    /// shows the same `A-…` as the event's `actor.user`.
    fn priority(self) -> u8 {
        match self {
            Class::Account => 4,
            Class::Person => 3,
            Class::EmailLocal | Class::EmailAddress => 2,
            Class::Name => 1,
            Class::Host | Class::Ip | Class::Session => 0,
        }
    }
}

/// `prefix` + 10 Crockford base32 characters of `HMAC(key, tag ‖ 0 ‖ value)`; `value` must
/// already be normalised. An [`Class::EmailAddress`] value `local@domain` renders as
/// `U-<local>@domain`.
fn render(mac: &HmacSha256, class: Class, value: &str) -> String {
    if class == Class::EmailAddress
        && let Some((local, domain)) = value.rsplit_once('@')
    {
        let mut out = render(mac, Class::EmailLocal, local);
        out.push('@');
        out.push_str(domain);
        return out;
    }
    let mut mac = mac.clone();
    mac.update(class.tag());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut first_eight = [0u8; 8];
    first_eight.copy_from_slice(&digest[..8]);
    let bits = u64::from_be_bytes(first_eight) >> (64 - 5 * PSEUDONYM_CHARS);
    let mut out = String::with_capacity(2 + PSEUDONYM_CHARS);
    out.push_str(class.prefix());
    for char_index in (0..PSEUDONYM_CHARS).rev() {
        let five_bits = (bits >> (5 * char_index)) & 0x1f;
        out.push(char::from(CROCKFORD_BASE32[five_bits as usize]));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Normalisation

/// Whether `c` is full-width ASCII (U+FF01–U+FF5E).
fn is_full_width_ascii(c: char) -> bool {
    ('\u{FF01}'..='\u{FF5E}').contains(&c)
}

/// Full-width ASCII read as ASCII, case kept.
fn half_width(c: char) -> char {
    if is_full_width_ascii(c) {
        char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c)
    } else {
        c
    }
}

/// The form identifiers are hashed and matched in: full-width ASCII as ASCII, ASCII letters
/// in lower case, surrounding whitespace removed.
fn fold(value: &str) -> String {
    value
        .trim()
        .chars()
        .map(|c| half_width(c).to_ascii_lowercase())
        .collect()
}

/// An account without its Windows domain (`DTAA/ACM2278`, `DTAA\ACM2278` → `acm2278`),
/// folded.
fn account_key(account: &str) -> String {
    let folded = fold(account);
    match folded.rfind(['/', '\\']) {
        Some(separator) if separator + 1 < folded.len() => folded[separator + 1..].to_owned(),
        _ => folded,
    }
}

/// `""` and `-`: a source's way of saying "no value".
fn is_placeholder(value: &str) -> bool {
    matches!(value.trim(), "" | "-")
}

/// Bytes of an e-mail local part as this module recognises it.
fn is_local_part_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// Bytes of an e-mail domain.
fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// `local@domain` when `address` is exactly one plain e-mail address.
fn split_address(address: &str) -> Option<(&str, &str)> {
    let (local, domain) = address.split_once('@')?;
    let plain = !local.is_empty()
        && !domain.is_empty()
        && local.bytes().all(is_local_part_byte)
        && domain.bytes().all(is_domain_byte)
        && domain.as_bytes()[0].is_ascii_alphanumeric();
    plain.then_some((local, domain))
}

/// `(display name, local, domain)` when `address` is `Display Name <local@domain>` (the
/// display name unquoted, possibly empty).
fn split_named_address(address: &str) -> Option<(&str, &str, &str)> {
    let (display, angle_address) = address.strip_suffix('>')?.rsplit_once('<')?;
    let (local, domain) = split_address(angle_address.trim())?;
    Some((display.trim().trim_matches('"').trim(), local, domain))
}

/// Whether an identifier is long enough to be replaced wherever it occurs in text: at least
/// 2 characters, 3 when ASCII, 5 when only digits.
fn is_matchable(text: &str) -> bool {
    let chars = text.chars().count();
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return chars >= 5;
    }
    if text.is_ascii() {
        return chars >= 3;
    }
    chars >= 2
}

/// Whether a Latin token may end at byte `before` and another begin at byte `after`.
fn is_token_boundary(before: u8, after: u8) -> bool {
    if !before.is_ascii_alphanumeric() || !after.is_ascii_alphanumeric() {
        return true;
    }
    let letters_meet_digits = before.is_ascii_digit() != after.is_ascii_digit();
    let camel_case = before.is_ascii_lowercase() && after.is_ascii_uppercase();
    letters_meet_digits || camel_case
}

/// The pieces of an HR name that are matched in text (folded, matchable or not).
fn name_parts(name: &str) -> Vec<String> {
    let is_separator = |c: char| c.is_whitespace() || matches!(c, ',' | '、' | '・' | '･');
    let words: Vec<String> = name
        .split(is_separator)
        .filter(|w| !w.is_empty())
        .map(fold)
        .collect();
    let mut parts = Vec::new();
    for word in &words {
        parts.push(word.clone());
        let pieces: Vec<&str> = word
            .split(['-', '\'', '.', '_'])
            .filter(|p| !p.is_empty())
            .collect();
        if pieces.len() > 1 {
            parts.extend(pieces.into_iter().map(str::to_owned));
        }
    }
    if words.len() > 1 {
        parts.push(words.concat());
    }
    if words.len() == 2 {
        parts.push(format!("{}{}", words[1], words[0]));
    }
    parts
}

// ---------------------------------------------------------------------------------------------
// The directory

/// What identifies each person: person ids, accounts, e-mail addresses and name parts, and
/// the automaton that finds them in text. Holds no key; cheap to clone.
///
/// Its `Debug` form only counts (it is full of personal data).
#[derive(Clone)]
pub struct Directory {
    inner: Arc<DirectoryData>,
}

struct DirectoryData {
    /// Person index → person id as HR writes it.
    person_ids: Vec<String>,
    /// Every identifier of every person, short ones included (reveals need them all).
    identifiers: Vec<Identifier>,
    /// Identifiers matched in text; pattern id of the automaton → pattern.
    patterns: Vec<Pattern>,
    /// `None` when there is nothing to match.
    automaton: Option<AhoCorasick>,
}

/// One identifier: its class, its normalised value (what is hashed) and the persons it
/// belongs to (none for a supervisor's name, several for a shared surname).
struct Identifier {
    class: Class,
    value: String,
    owners: Vec<u32>,
}

/// A text matched by the automaton and the identifier it stands for.
struct Pattern {
    identifier: usize,
    /// The first / last byte is an ASCII letter or digit: that side needs a token boundary.
    latin_start: bool,
    latin_end: bool,
}

impl Directory {
    /// The directory of `records`: every version of every person (names change at marriage,
    /// accounts are renamed; older events still carry the old ones), one person per person
    /// id (compared case-insensitively).
    ///
    /// Fails only if the automaton cannot be built (far beyond any organisation's size).
    pub fn new(records: &[PersonRecord]) -> Result<Directory, PrivacyError> {
        let mut builder = DirectoryBuilder::default();
        for record in records {
            builder.add(record);
        }
        builder.build()
    }

    /// Number of persons.
    pub fn len(&self) -> usize {
        self.inner.person_ids.len()
    }

    /// Whether the directory knows no person.
    pub fn is_empty(&self) -> bool {
        self.inner.person_ids.is_empty()
    }

    /// Number of identifiers replaced in free text.
    pub fn matched_identifiers(&self) -> usize {
        self.inner.patterns.len()
    }
}

impl fmt::Debug for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Directory")
            .field("persons", &self.inner.person_ids.len())
            .field("identifiers", &self.inner.identifiers.len())
            .field("matched_identifiers", &self.inner.patterns.len())
            .finish()
    }
}

#[derive(Default)]
struct DirectoryBuilder {
    person_ids: Vec<String>,
    person_index: HashMap<String, u32>,
    identifiers: Vec<Identifier>,
    identifier_index: HashMap<(Class, String), usize>,
    pattern_texts: Vec<String>,
    patterns: Vec<Pattern>,
    pattern_index: HashMap<String, usize>,
}

impl DirectoryBuilder {
    fn add(&mut self, record: &PersonRecord) {
        let person_key = fold(&record.person_id);
        if person_key.is_empty() {
            return;
        }
        let next_index = u32::try_from(self.person_ids.len()).unwrap_or(u32::MAX);
        let owner = *self
            .person_index
            .entry(person_key.clone())
            .or_insert(next_index);
        if owner == next_index {
            self.person_ids.push(record.person_id.trim().to_owned());
        }
        let person = self.identifier(Class::Person, person_key.clone(), Some(owner));
        self.pattern(person_key, person);

        for account in &record.accounts {
            if is_placeholder(account) {
                continue;
            }
            let bare = account_key(account);
            let identifier = self.identifier(Class::Account, bare.clone(), Some(owner));
            self.pattern(fold(account), identifier);
            self.name_pieces(&bare, owner);
            self.pattern(bare, identifier);
        }

        if let Some(email) = &record.email {
            let email = fold(email);
            if let Some((local, domain)) = split_address(&email) {
                let local_identifier =
                    self.identifier(Class::EmailLocal, local.to_owned(), Some(owner));
                self.pattern(local.to_owned(), local_identifier);
                self.name_pieces(local, owner);
                let address = format!("{local}@{domain}");
                self.identifier(Class::EmailAddress, address, Some(owner));
            }
        }

        for part in name_parts(&record.name) {
            let identifier = self.identifier(Class::Name, part.clone(), Some(owner));
            self.pattern(part, identifier);
        }

        // A supervisor named without an id is somebody's name too (owner unknown).
        if let Some(supervisor) = &record.supervisor {
            for part in name_parts(supervisor) {
                let identifier = self.identifier(Class::Name, part.clone(), None);
                self.pattern(part, identifier);
            }
        }
    }

    /// The pieces of an account or e-mail local part (`taro.tanaka`, `t-tanaka`, `tanaka_t`)
    /// as names of `owner`: they are usually the romanised name of a person whom HR writes in
    /// Japanese, and they turn up alone (`PC-TANAKA`).
    fn name_pieces(&mut self, identifier: &str, owner: u32) {
        let pieces: Vec<&str> = identifier
            .split(['.', '_', '-'])
            .filter(|piece| !piece.is_empty())
            .collect();
        if pieces.len() < 2 {
            return;
        }
        for piece in pieces {
            let name = self.identifier(Class::Name, piece.to_owned(), Some(owner));
            self.pattern(piece.to_owned(), name);
        }
    }

    /// The index of identifier `(class, value)`, created if new, with `owner` added.
    fn identifier(&mut self, class: Class, value: String, owner: Option<u32>) -> usize {
        let next = self.identifiers.len();
        let index = *self
            .identifier_index
            .entry((class, value.clone()))
            .or_insert(next);
        if index == next {
            self.identifiers.push(Identifier {
                class,
                value,
                owners: Vec::new(),
            });
        }
        if let Some(owner) = owner {
            let owners = &mut self.identifiers[index].owners;
            if !owners.contains(&owner) {
                owners.push(owner);
            }
        }
        index
    }

    /// Matches `text` in free text as `identifier`, unless it is too short or a more specific
    /// identifier already claims the same text.
    fn pattern(&mut self, text: String, identifier: usize) {
        if !is_matchable(&text) {
            return;
        }
        let class = self.identifiers[identifier].class;
        if let Some(&existing) = self.pattern_index.get(&text) {
            let pattern = &mut self.patterns[existing];
            if class.priority() > self.identifiers[pattern.identifier].class.priority() {
                pattern.identifier = identifier;
            }
            return;
        }
        let bytes = text.as_bytes();
        let latin_start = bytes.first().is_some_and(u8::is_ascii_alphanumeric);
        let latin_end = bytes.last().is_some_and(u8::is_ascii_alphanumeric);
        self.pattern_index.insert(text.clone(), self.patterns.len());
        self.pattern_texts.push(text);
        self.patterns.push(Pattern {
            identifier,
            latin_start,
            latin_end,
        });
    }

    fn build(self) -> Result<Directory, PrivacyError> {
        let automaton = if self.pattern_texts.is_empty() {
            None
        } else {
            let built = AhoCorasick::builder()
                .ascii_case_insensitive(true)
                // Standard semantics report every match (overlapping ones too); `text` picks
                // the leftmost-longest among those that sit on token boundaries.
                .match_kind(MatchKind::Standard)
                .build(&self.pattern_texts)
                .map_err(|e| {
                    PrivacyError::Config(format!(
                        "pseudonym directory: cannot match {} identifiers: {e}",
                        self.pattern_texts.len()
                    ))
                })?;
            Some(built)
        };
        Ok(Directory {
            inner: Arc::new(DirectoryData {
                person_ids: self.person_ids,
                identifiers: self.identifiers,
                patterns: self.patterns,
                automaton,
            }),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The pseudonymiser

/// A key and a directory: turns identifiers, free text and events into pseudonyms, and
/// pseudonyms of known persons back into person ids. Cheap to clone, `Send + Sync`.
///
/// Its `Debug` form shows neither the key nor the directory.
#[derive(Clone)]
pub struct Pseudonymiser {
    /// HMAC state keyed with the [`PseudonymKey`] (as secret as the key).
    mac: HmacSha256,
    directory: Directory,
    /// Pattern id → its pseudonym.
    replacements: Arc<[String]>,
    /// Pseudonym → the one person behind it (`None`: several persons, so no answer).
    reveals: Arc<HashMap<String, Option<u32>>>,
}

impl fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pseudonymiser")
            .field("directory", &self.directory)
            .finish_non_exhaustive()
    }
}

/// One replacement in a text: byte range of the (half-width) haystack and what replaces it.
struct Edit<'r> {
    start: usize,
    end: usize,
    replacement: Cow<'r, str>,
}

/// A text prepared for matching: full-width ASCII read as ASCII, with the way back to the
/// original's byte offsets.
struct Haystack<'a> {
    text: Cow<'a, str>,
    /// Haystack byte offset → original byte offset (one entry more than the haystack's
    /// length); `None` when the haystack is the original.
    original_offsets: Option<Vec<usize>>,
}

impl<'a> Haystack<'a> {
    fn new(original: &'a str) -> Haystack<'a> {
        if original.is_ascii() || !original.chars().any(is_full_width_ascii) {
            return Haystack {
                text: Cow::Borrowed(original),
                original_offsets: None,
            };
        }
        let mut text = String::with_capacity(original.len());
        let mut offsets = Vec::with_capacity(original.len() + 1);
        for (offset, c) in original.char_indices() {
            let read_as = half_width(c);
            for byte_index in 0..read_as.len_utf8() {
                // A half-width character stands for the whole full-width one.
                let within = if read_as == c { byte_index } else { 0 };
                offsets.push(offset + within);
            }
            text.push(read_as);
        }
        offsets.push(original.len());
        Haystack {
            text: Cow::Owned(text),
            original_offsets: Some(offsets),
        }
    }

    fn original_offset(&self, offset: usize) -> usize {
        match &self.original_offsets {
            Some(offsets) => offsets.get(offset).copied().unwrap_or(offset),
            None => offset,
        }
    }
}

impl Pseudonymiser {
    /// A pseudonymiser for `directory` under `key`. Computes every known identifier's
    /// pseudonym once (about 0.5 µs each).
    pub fn new(key: &PseudonymKey, directory: &Directory) -> Pseudonymiser {
        let mac = key.mac();
        let data = &directory.inner;
        let pseudonyms: Vec<String> = data
            .identifiers
            .iter()
            .map(|identifier| render(&mac, identifier.class, &identifier.value))
            .collect();
        let replacements: Arc<[String]> = data
            .patterns
            .iter()
            .map(|pattern| pseudonyms[pattern.identifier].clone())
            .collect();
        let mut reveals: HashMap<String, Option<u32>> = HashMap::with_capacity(pseudonyms.len());
        for (identifier, pseudonym) in data.identifiers.iter().zip(pseudonyms) {
            let owner = match identifier.owners.as_slice() {
                [] => continue,
                [only] => Some(*only),
                _ => None,
            };
            reveals
                .entry(pseudonym)
                .and_modify(|known| {
                    if *known != owner {
                        // Two persons behind one pseudonym (a collision): answer for neither.
                        *known = None;
                    }
                })
                .or_insert(owner);
        }
        Pseudonymiser {
            mac,
            directory: directory.clone(),
            replacements,
            reveals: Arc::new(reveals),
        }
    }

    /// The directory this pseudonymiser matches.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// `P-…`: the pseudonym of a person id.
    pub fn person(&self, person_id: &str) -> String {
        render(&self.mac, Class::Person, &fold(person_id))
    }

    /// `A-…`: the pseudonym of an account (case-folded, Windows domain dropped). `""`, `-`
    /// and the built-in accounts (`SYSTEM`, `root`, …) are returned as they are.
    pub fn account(&self, account: &str) -> String {
        if is_placeholder(account) {
            return account.to_owned();
        }
        let key = account_key(account);
        if BUILT_IN_ACCOUNTS.contains(&key.as_str()) {
            return account.to_owned();
        }
        render(&self.mac, Class::Account, &key)
    }

    /// `H-…`: the pseudonym of a host name (case-folded; `PC-TANAKA` and
    /// `pc-tanaka.corp.example` are different hosts). `""` and `-` are kept.
    pub fn host(&self, host: &str) -> String {
        if is_placeholder(host) {
            return host.to_owned();
        }
        render(&self.mac, Class::Host, &fold(host))
    }

    /// `I-…`: the pseudonym of an IP address (a person's PC is as identifying as its name).
    /// `""` and `-` are kept.
    pub fn ip(&self, ip: &str) -> String {
        if is_placeholder(ip) {
            return ip.to_owned();
        }
        render(&self.mac, Class::Ip, &fold(ip))
    }

    /// `S-…`: the pseudonym of a logon session id (still equal across the logon and logoff
    /// of one session). `""` and `-` are kept.
    pub fn session(&self, session: &str) -> String {
        if is_placeholder(session) {
            return session.to_owned();
        }
        render(&self.mac, Class::Session, &fold(session))
    }

    /// `U-…@domain`: an e-mail address with its local part pseudonymised and its domain
    /// kept. `Display Name <address>` becomes `N-… <U-…@domain>`; anything else goes through
    /// [`Pseudonymiser::text`].
    pub fn email(&self, address: &str) -> String {
        let trimmed = address.trim();
        if let Some((local, domain)) = split_address(trimmed) {
            return format!(
                "{}@{domain}",
                render(&self.mac, Class::EmailLocal, &fold(local))
            );
        }
        if let Some((display, local, domain)) = split_named_address(trimmed) {
            let local = render(&self.mac, Class::EmailLocal, &fold(local));
            if display.is_empty() {
                return format!("<{local}@{domain}>");
            }
            let name = render(&self.mac, Class::Name, &fold(display));
            return format!("{name} <{local}@{domain}>");
        }
        self.text(address).into_owned()
    }

    /// Free text (paths, subjects, URLs, window titles, host names) with every identifier
    /// replaced: known identifiers, home directories and e-mail addresses (see the module
    /// documentation). Borrows `text` when nothing was replaced.
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if text.is_empty() {
            return Cow::Borrowed(text);
        }
        let haystack = Haystack::new(text);
        let hay = haystack.text.as_ref();

        let mut structural = Vec::new();
        self.find_email_addresses(hay, &mut structural);
        self.find_home_directories(hay, &mut structural);
        let known = self.find_known_identifiers(hay);
        if structural.is_empty() && known.is_empty() {
            return Cow::Borrowed(text);
        }
        let edits = self.choose_edits(structural, known);

        let mut out = String::with_capacity(text.len() + 8 * edits.len());
        let mut copied_to = 0;
        for edit in &edits {
            let start = haystack.original_offset(edit.start);
            let end = haystack.original_offset(edit.end);
            debug_assert!(copied_to <= start && start < end && end <= text.len());
            out.push_str(&text[copied_to..start]);
            out.push_str(&edit.replacement);
            copied_to = end;
        }
        out.push_str(&text[copied_to..]);
        Cow::Owned(out)
    }

    /// Every `local@domain` in `hay`: the local part becomes `U-…`, the domain stays.
    fn find_email_addresses(&self, hay: &str, edits: &mut Vec<Edit<'_>>) {
        let bytes = hay.as_bytes();
        let mut previous_end = 0;
        for (at, _) in hay.match_indices('@') {
            if at < previous_end {
                continue;
            }
            let mut local_start = at;
            while local_start > previous_end && is_local_part_byte(bytes[local_start - 1]) {
                local_start -= 1;
            }
            while local_start < at && bytes[local_start] == b'.' {
                local_start += 1;
            }
            let domain_start = at + 1;
            let mut domain_end = domain_start;
            while domain_end < bytes.len() && is_domain_byte(bytes[domain_end]) {
                domain_end += 1;
            }
            while domain_end > domain_start && matches!(bytes[domain_end - 1], b'.' | b'-') {
                domain_end -= 1;
            }
            let has_local = local_start < at;
            let has_domain =
                domain_end > domain_start && bytes[domain_start].is_ascii_alphanumeric();
            if !has_local || !has_domain {
                continue;
            }
            let local = render(&self.mac, Class::EmailLocal, &fold(&hay[local_start..at]));
            let replacement = format!("{local}@{}", &hay[domain_start..domain_end]);
            edits.push(Edit {
                start: local_start,
                end: domain_end,
                replacement: Cow::Owned(replacement),
            });
            previous_end = domain_end;
        }
    }

    /// Every user directory `/home/<x>`, `/Users/<x>`, `X:\Users\<x>`: `<x>` becomes an
    /// account pseudonym.
    fn find_home_directories(&self, hay: &str, edits: &mut Vec<Edit<'_>>) {
        let bytes = hay.as_bytes();
        let is_separator = |b: u8| b == b'/' || b == b'\\';
        for (separator, &b) in bytes.iter().enumerate() {
            if !is_separator(b) {
                continue;
            }
            let rest = &bytes[separator + 1..];
            let parent_len = if starts_with_ignore_ascii_case(rest, b"users") {
                5
            } else if starts_with_ignore_ascii_case(rest, b"home") {
                4
            } else {
                continue;
            };
            let after_parent = separator + 1 + parent_len;
            if after_parent >= bytes.len() || !is_separator(bytes[after_parent]) {
                continue;
            }
            let start = after_parent + 1;
            let mut end = start;
            while end < bytes.len() && !ends_path_segment(bytes[end]) {
                end += 1;
            }
            // Windows profile directories may contain spaces (`C:\Users\Taro Tanaka\`);
            // elsewhere a space ends the path (`ls /home/tanaka && …`).
            let after_drive = separator >= 2
                && bytes[separator - 1] == b':'
                && bytes[separator - 2].is_ascii_alphabetic();
            let ends_at_separator = end < bytes.len() && is_separator(bytes[end]);
            if !(after_drive && ends_at_separator)
                && let Some(space) = hay[start..end].find(char::is_whitespace)
            {
                end = start + space;
            }
            let segment = hay[start..end].trim_end();
            let names_nobody = segment.bytes().all(|b| b == b'.')
                || SHARED_PROFILES.contains(&fold(segment).as_str());
            if segment.is_empty() || names_nobody {
                continue;
            }
            let replacement = self.account(segment);
            if replacement == segment {
                continue;
            }
            edits.push(Edit {
                start,
                end: start + segment.len(),
                replacement: Cow::Owned(replacement),
            });
        }
    }

    /// Every occurrence of a directory identifier (on token boundaries when Latin), as
    /// `(start, end, pattern id)`, overlapping ones included.
    fn find_known_identifiers(&self, hay: &str) -> Vec<(usize, usize, usize)> {
        let data = &self.directory.inner;
        let Some(automaton) = &data.automaton else {
            return Vec::new();
        };
        let bytes = hay.as_bytes();
        let mut found = Vec::new();
        for matched in automaton.find_overlapping_iter(hay) {
            let pattern_id = matched.pattern().as_usize();
            let Some(pattern) = data.patterns.get(pattern_id) else {
                continue;
            };
            let (start, end) = (matched.start(), matched.end());
            let starts_token = !pattern.latin_start
                || start == 0
                || is_token_boundary(bytes[start - 1], bytes[start]);
            let ends_token = !pattern.latin_end
                || end == bytes.len()
                || is_token_boundary(bytes[end - 1], bytes[end]);
            if starts_token && ends_token {
                found.push((start, end, pattern_id));
            }
        }
        found
    }

    /// The edits to make, sorted and disjoint: home directories and e-mail addresses first,
    /// then the leftmost-longest known identifiers outside them.
    fn choose_edits<'r>(
        &'r self,
        mut structural: Vec<Edit<'r>>,
        mut known: Vec<(usize, usize, usize)>,
    ) -> Vec<Edit<'r>> {
        structural.sort_by_key(|edit| (edit.start, std::cmp::Reverse(edit.end)));
        let mut edits: Vec<Edit<'r>> = Vec::with_capacity(structural.len() + known.len());
        let mut structural_end = 0;
        for edit in structural {
            if edit.start >= structural_end {
                structural_end = edit.end;
                edits.push(edit);
            }
        }
        let structural_count = edits.len();

        known.sort_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
        let mut known_end = 0;
        for (start, end, pattern_id) in known {
            if start < known_end {
                continue;
            }
            let overlaps_structural = edits[..structural_count]
                .iter()
                .any(|edit| edit.start < end && start < edit.end);
            if overlaps_structural {
                continue;
            }
            let Some(replacement) = self.replacements.get(pattern_id) else {
                continue;
            };
            known_end = end;
            edits.push(Edit {
                start,
                end,
                replacement: Cow::Borrowed(replacement.as_str()),
            });
        }
        edits.sort_by_key(|edit| edit.start);
        edits
    }

    /// Pseudonymises a canonical event (`docs/events.md`) in place; see the module
    /// documentation for what happens to each field. A value that is not an object is
    /// treated as free text throughout.
    pub fn event(&self, event: &mut Value) {
        let Some(members) = event.as_object_mut() else {
            self.any(event);
            return;
        };
        let object_names_an_account = members
            .get(field::KIND)
            .and_then(Value::as_str)
            .is_some_and(|kind| kind.starts_with(ACCOUNT_KIND_PREFIX));
        for (name, value) in members.iter_mut() {
            match name.as_str() {
                field::V | field::TIME | field::KIND | field::OUTCOME | field::NONCE => {}
                field::ACTOR => self.actor(value),
                field::OBJECT => self.object(value, object_names_an_account),
                field::DESTINATION => self.destination(value),
                field::SOURCE => self.source(value),
                field::RAW => self.raw(value),
                _ => self.any(value),
            }
        }
    }

    fn actor(&self, actor: &mut Value) {
        let Some(members) = actor.as_object_mut() else {
            self.any(actor);
            return;
        };
        for (name, value) in members.iter_mut() {
            match name.as_str() {
                field::USER => self.identity(value, &|s| self.account(s)),
                field::HOST => self.identity(value, &|s| self.host(s)),
                field::IP => self.identity(value, &|s| self.ip(s)),
                field::SESSION => self.identity(value, &|s| self.session(s)),
                field::PROCESS => self.process(value),
                _ => self.any(value),
            }
        }
    }

    fn process(&self, process: &mut Value) {
        let Some(members) = process.as_object_mut() else {
            self.any(process);
            return;
        };
        for (name, value) in members.iter_mut() {
            match name.as_str() {
                field::PID | field::SHA256 => {}
                _ => self.any(value),
            }
        }
    }

    fn object(&self, object: &mut Value, names_an_account: bool) {
        let Some(members) = object.as_object_mut() else {
            self.any(object);
            return;
        };
        for (name, value) in members.iter_mut() {
            match name.as_str() {
                field::EXTENSION | field::TYPE | field::SIZE | field::SHA256 => {}
                field::NAME if names_an_account => self.identity(value, &|s| self.account(s)),
                _ => self.any(value),
            }
        }
    }

    fn destination(&self, destination: &mut Value) {
        let Some(members) = destination.as_object_mut() else {
            self.any(destination);
            return;
        };
        for (name, value) in members.iter_mut() {
            match name.as_str() {
                field::KIND | field::DOMAIN | field::EXTERNAL => {}
                field::RECIPIENTS => self.identity(value, &|s| self.email(s)),
                _ => self.any(value),
            }
        }
    }

    fn source(&self, source: &mut Value) {
        let Some(members) = source.as_object_mut() else {
            self.any(source);
            return;
        };
        for (name, value) in members.iter_mut() {
            match name.as_str() {
                field::NAME => {}
                _ => self.any(value),
            }
        }
    }

    /// `raw`: identity keys by name, everything else (keys included) as free text.
    fn raw(&self, raw: &mut Value) {
        match raw {
            Value::Object(members) => self.raw_object(members),
            Value::Array(items) => {
                for item in items {
                    self.raw(item);
                }
            }
            other => self.any(other),
        }
    }

    fn raw_object(&self, members: &mut Map<String, Value>) {
        let mut renamed_keys = Vec::new();
        for (key, value) in members.iter_mut() {
            match raw_rule(key) {
                RawRule::Text => self.raw(value),
                RawRule::Person => self.identity(value, &|s| self.person(s)),
                RawRule::Account => self.identity(value, &|s| self.account(s)),
                RawRule::Host => self.identity(value, &|s| self.host(s)),
                RawRule::Ip => self.identity(value, &|s| self.ip(s)),
                RawRule::Session => self.identity(value, &|s| self.session(s)),
                RawRule::Email => self.identity(value, &|s| self.email(s)),
            }
            if let Cow::Owned(new_key) = self.text(key) {
                renamed_keys.push((key.clone(), new_key));
            }
        }
        for (old_key, new_key) in renamed_keys {
            if let Some(value) = members.remove(&old_key) {
                members.insert(new_key, value);
            }
        }
    }

    /// An identity field: strings and numbers (also inside arrays) through `pseudonymise`;
    /// objects as `raw`.
    fn identity(&self, value: &mut Value, pseudonymise: &dyn Fn(&str) -> String) {
        match value {
            Value::String(s) => *s = pseudonymise(s),
            Value::Number(n) => *value = Value::String(pseudonymise(&n.to_string())),
            Value::Array(items) => {
                for item in items {
                    self.identity(item, pseudonymise);
                }
            }
            Value::Object(members) => self.raw_object(members),
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// Any value: every string through [`Pseudonymiser::text`].
    fn any(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                let replaced = match self.text(s) {
                    Cow::Owned(new) => Some(new),
                    Cow::Borrowed(_) => None,
                };
                if let Some(new) = replaced {
                    *s = new;
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.any(item);
                }
            }
            Value::Object(members) => {
                for (_, member) in members.iter_mut() {
                    self.any(member);
                }
            }
            Value::Number(_) | Value::Bool(_) | Value::Null => {}
        }
    }

    /// The person id behind a pseudonym, for a granted reveal: `P-` of a person in the
    /// directory, `A-` of a known account, `U-` of a known e-mail local part (with or without
    /// its `@domain`; with it, the domain must be the person's), `N-` of a name part that only
    /// one person has. `None` for anything else, including a pseudonym that several persons
    /// share (a shared surname, an account listed for two persons, a collision).
    ///
    /// An `N-` or bare `U-` answer names the person who carries that name in the directory;
    /// whether a text that contains it is about that person is for the investigator to judge.
    pub fn reveal(&self, pseudonym: &str) -> Option<&str> {
        let trimmed = pseudonym.trim();
        let normalised = match trimmed.split_once('@') {
            Some((local, domain)) => format!(
                "{}@{}",
                local.to_ascii_uppercase(),
                domain.to_ascii_lowercase()
            ),
            None => trimmed.to_ascii_uppercase(),
        };
        let owner = (*self.reveals.get(&normalised)?)?;
        let index = usize::try_from(owner).ok()?;
        self.directory
            .inner
            .person_ids
            .get(index)
            .map(String::as_str)
    }
}

fn starts_with_ignore_ascii_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Bytes that end a path segment: separators, characters Windows forbids in file names,
/// control characters.
fn ends_path_segment(b: u8) -> bool {
    matches!(
        b,
        b'/' | b'\\' | b':' | b'*' | b'?' | b'"' | b'<' | b'>' | b'|'
    ) || b < 0x20
}

// ---------------------------------------------------------------------------------------------
// raw

/// How a `raw` member is pseudonymised, by its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RawRule {
    Text,
    Person,
    Account,
    Host,
    Ip,
    Session,
    Email,
}

/// The rule for a `raw` key, compared without case, `_`, `-`, `.` and spaces:
///
/// - person: `person_id`, `employee_id`, `employee_number`, `employee_no`, `staff_id`;
/// - account: `user`, `user_id`, `account`, `account_name`, `sam_account_name`,
///   `member_name`, `member_sid`, `sid`, `target_sid`, `owner`, and every key ending in
///   `username` or `usersid` (`TargetUserName`, `SubjectUserSid`, …);
/// - host: `computer`, `computer_name`, `workstation`, `workstation_name`, `machine_name`,
///   `client_name` (not `host`: proxy logs use it for the destination);
/// - IP: `ip`, `ip_address`, `client_ip`, `client_address`, `source_ip`, `source_address`,
///   `src_ip`, `source_network_address`;
/// - session: `session`, `session_id`, `logon_id`, `subject_logon_id`, `target_logon_id`;
/// - e-mail: `from`, `to`, `cc`, `bcc`, `sender`, `recipient`, `recipients`, `reply_to`,
///   `email`, `mail`, `email_address`;
/// - everything else: free text.
fn raw_rule(key: &str) -> RawRule {
    let compact: String = key
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    match compact.as_str() {
        "personid" | "employeeid" | "employeenumber" | "employeeno" | "staffid" => RawRule::Person,
        "user" | "userid" | "account" | "accountname" | "samaccountname" | "membername"
        | "membersid" | "sid" | "targetsid" | "owner" => RawRule::Account,
        "computer" | "computername" | "workstation" | "workstationname" | "machinename"
        | "clientname" => RawRule::Host,
        "ip"
        | "ipaddress"
        | "clientip"
        | "clientaddress"
        | "sourceip"
        | "sourceaddress"
        | "srcip"
        | "sourcenetworkaddress" => RawRule::Ip,
        "session" | "sessionid" | "logonid" | "subjectlogonid" | "targetlogonid" => {
            RawRule::Session
        }
        "from" | "to" | "cc" | "bcc" | "sender" | "recipient" | "recipients" | "replyto"
        | "email" | "mail" | "emailaddress" => RawRule::Email,
        other if other.ends_with("username") || other.ends_with("usersid") => RawRule::Account,
        _ => RawRule::Text,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn key() -> PseudonymKey {
        PseudonymKey::from_bytes([42; 32])
    }

    fn tanaka() -> PersonRecord {
        let mut record = PersonRecord::new("E1001", jiff::civil::date(2024, 4, 1), "田中 太郎");
        record.accounts = vec!["DTAA/TNK0001".into(), "tanaka.t".into()];
        record.email = Some("taro.tanaka@example.co.jp".into());
        record
    }

    fn pseudonymiser(records: &[PersonRecord]) -> Pseudonymiser {
        Pseudonymiser::new(&key(), &Directory::new(records).unwrap())
    }

    #[test]
    fn pseudonyms_have_a_prefix_and_ten_crockford_characters() {
        let p = pseudonymiser(&[]);
        for (pseudonym, prefix) in [
            (p.person("E1"), "P-"),
            (p.account("x"), "A-"),
            (p.host("PC-1"), "H-"),
            (p.ip("10.0.0.1"), "I-"),
            (p.session("0x3e7"), "S-"),
        ] {
            assert!(pseudonym.starts_with(prefix), "{pseudonym}");
            let code = &pseudonym[2..];
            assert_eq!(code.len(), PSEUDONYM_CHARS);
            assert!(code.bytes().all(|b| CROCKFORD_BASE32.contains(&b)));
        }
    }

    #[test]
    fn hmac_with_the_padded_key_is_hmac_with_the_key() {
        let key = key();
        let mut padded = key.mac();
        padded.update(b"value");
        let mut sliced = <HmacSha256 as KeyInit>::new_from_slice(&key.0).unwrap();
        sliced.update(b"value");
        assert_eq!(
            padded.finalize().into_bytes(),
            sliced.finalize().into_bytes()
        );
    }

    #[test]
    fn classes_are_separated() {
        let p = pseudonymiser(&[]);
        assert_ne!(p.account("tanaka")[2..], p.host("tanaka")[2..]);
        assert_ne!(p.account("tanaka")[2..], p.person("tanaka")[2..]);
    }

    #[test]
    fn accounts_fold_case_full_width_and_domain() {
        let p = pseudonymiser(&[]);
        let expected = p.account("acm2278");
        assert_eq!(p.account("ACM2278"), expected);
        assert_eq!(p.account("ＡＣＭ２２７８"), expected);
        assert_eq!(p.account("DTAA/ACM2278"), expected);
        assert_eq!(p.account(r"dtaa\acm2278"), expected);
        assert_eq!(p.account("SYSTEM"), "SYSTEM");
        assert_eq!(p.account("-"), "-");
    }

    #[test]
    fn name_parts_cover_spaces_orders_and_pieces() {
        let parts = name_parts("Jean-Luc Picard");
        for expected in [
            "jean-luc",
            "jean",
            "luc",
            "picard",
            "jean-lucpicard",
            "picardjean-luc",
        ] {
            assert!(
                parts.iter().any(|p| p == expected),
                "{expected} in {parts:?}"
            );
        }
        let parts = name_parts("田中\u{3000}太郎");
        assert_eq!(parts, ["田中", "太郎", "田中太郎", "太郎田中"]);
    }

    #[test]
    fn matchable_lengths() {
        assert!(!is_matchable("li"));
        assert!(is_matchable("lee"));
        assert!(!is_matchable("翔"));
        assert!(is_matchable("田中"));
        assert!(!is_matchable("1234"));
        assert!(is_matchable("12345"));
    }

    #[test]
    fn token_boundaries() {
        assert!(is_token_boundary(b'-', b't'));
        assert!(is_token_boundary(b'a', b'2'));
        assert!(is_token_boundary(b'a', b'R'));
        assert!(!is_token_boundary(b'a', b'r'));
        assert!(!is_token_boundary(b'A', b'r'));
    }

    #[test]
    fn full_width_text_maps_back_to_original_offsets() {
        let p = pseudonymiser(&[tanaka()]);
        let out = p.text("ＰＣ－ＴＡＮＡＫＡ.T の資料");
        assert!(!out.to_ascii_lowercase().contains("tanaka"), "{out}");
        assert!(out.starts_with("ＰＣ－"), "{out}");
        assert!(out.ends_with(" の資料"), "{out}");
    }

    #[test]
    fn overlapping_identifiers_fall_back_to_a_shorter_one_on_a_boundary() {
        let mut record = PersonRecord::new("E2", jiff::civil::date(2024, 1, 1), "Kenji Sato");
        record.accounts = vec!["sato.k".into()];
        let p = pseudonymiser(&[record]);
        // `sato.k` is followed by a letter, so only `sato` is on a boundary.
        let out = p.text("sato.kyoto");
        assert!(!out.contains("sato"), "{out}");
        assert!(out.ends_with(".kyoto"), "{out}");
    }

    #[test]
    fn raw_rules() {
        assert_eq!(raw_rule("TargetUserName"), RawRule::Account);
        assert_eq!(raw_rule("user_name"), RawRule::Account);
        assert_eq!(raw_rule("IpAddress"), RawRule::Ip);
        assert_eq!(raw_rule("Computer"), RawRule::Host);
        assert_eq!(raw_rule("cc"), RawRule::Email);
        assert_eq!(raw_rule("EventID"), RawRule::Text);
    }

    #[test]
    fn debug_shows_no_secret() {
        let key = key();
        assert_eq!(format!("{key:?}"), "PseudonymKey(..)");
        let p = pseudonymiser(&[tanaka()]);
        let debug = format!("{p:?}");
        assert!(
            !debug.contains("田中") && !debug.contains("E1001"),
            "{debug}"
        );
    }
}
