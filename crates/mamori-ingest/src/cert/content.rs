//! Data minimisation for the `content` columns: web pages, e-mails and copied files are never
//! stored as text. What is kept is an HMAC of the bytes (equal contents can be matched, nobody
//! without the key can test a guess against it), the number of words, and which categories of
//! [`CONTENT_CATEGORIES`] occur.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The secret key of content HMACs (32 bytes). Its `Debug` form does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentKey(pub [u8; 32]);

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentKey(…)")
    }
}

/// The keyword table: category name → the words that put a text in it. Matching is on whole
/// words, ASCII case-insensitive, after trimming punctuation around the word (so r6.2's
/// sentences match like r4.2's bags of words). Categories are written sorted by name.
///
/// The words are chosen from the CERT scenarios (job search before leaving, WikiLeaks, keylogger,
/// cloud upload after a layoff) and the common vocabulary of each theme; they are signals for
/// analysts, not a classifier. Single words only.
pub const CONTENT_CATEGORIES: &[(&str, &[&str])] = &[
    (
        "cloud_storage",
        &[
            "dropbox",
            "upload",
            "uploaded",
            "uploading",
            "share",
            "shared",
            "sharing",
            "onedrive",
            "gdrive",
            "mega",
            "wetransfer",
            "sync",
            "cloud",
        ],
    ),
    (
        "complaint",
        &[
            "unfair",
            "complaint",
            "complain",
            "grievance",
            "angry",
            "frustrated",
            "frustration",
            "disgruntled",
            "hate",
            "quit",
            "underpaid",
            "overworked",
            "revenge",
            "unappreciated",
        ],
    ),
    (
        "hacking",
        &[
            "keylogger",
            "keylogging",
            "password",
            "passwords",
            "exploit",
            "exploits",
            "crack",
            "cracked",
            "cracking",
            "hack",
            "hacker",
            "hacking",
            "malware",
            "rootkit",
            "backdoor",
            "trojan",
            "spyware",
            "phishing",
            "bypass",
            "stealth",
            "surveillance",
        ],
    ),
    (
        "job_search",
        &[
            "resume",
            "cv",
            "interview",
            "interviews",
            "job",
            "jobs",
            "career",
            "careers",
            "salary",
            "recruiter",
            "recruiting",
            "hiring",
            "hire",
            "applicant",
            "application",
            "vacancy",
            "opening",
            "headhunter",
            "offer",
            "linkedin",
        ],
    ),
    (
        "layoff",
        &[
            "layoff",
            "layoffs",
            "laid",
            "downsizing",
            "redundancy",
            "redundant",
            "severance",
            "termination",
            "terminated",
            "fired",
            "dismissal",
            "restructuring",
        ],
    ),
    (
        "leak",
        &[
            "wikileaks",
            "leak",
            "leaks",
            "leaked",
            "whistleblower",
            "whistleblowing",
            "disclose",
            "disclosure",
            "journalist",
            "press",
            "classified",
            "confidential",
            "secret",
        ],
    ),
];

/// What is kept of one `content` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentFeatures {
    /// HMAC-SHA256 of the field's bytes, lower-case hex.
    pub hmac: String,
    /// Whitespace-separated words.
    pub words: u64,
    /// Names of the matched categories, sorted.
    pub categories: Vec<&'static str>,
}

/// Computes [`ContentFeatures`] (e.g. to find events whose content equals a known text). Keyed
/// once, cloned per field (cheaper than re-keying).
#[derive(Clone)]
pub struct ContentDigester {
    keyed: HmacSha256,
}

impl ContentDigester {
    pub fn new(key: &ContentKey) -> ContentDigester {
        // A 32-byte key is always accepted by HMAC (any length is).
        let keyed = match <HmacSha256 as KeyInit>::new_from_slice(&key.0) {
            Ok(mac) => mac,
            Err(_) => unreachable_hmac_key(),
        };
        ContentDigester { keyed }
    }

    pub fn digest(&self, content: &[u8]) -> ContentFeatures {
        self.digest_parts(content, content)
    }

    /// HMAC over `whole`; words and categories over `text` (the field less any part kept
    /// apart, like a copied file's magic bytes).
    pub(crate) fn digest_parts(&self, whole: &[u8], text: &[u8]) -> ContentFeatures {
        let mut mac = self.keyed.clone();
        mac.update(whole);
        let hmac = mamori_event::to_hex(&mac.finalize().into_bytes());
        let (words, mask) = scan_words(text);
        let categories = CONTENT_CATEGORIES
            .iter()
            .enumerate()
            .filter(|(index, _)| mask & (1 << index) != 0)
            .map(|(_, (name, _))| *name)
            .collect();
        ContentFeatures {
            hmac,
            words,
            categories,
        }
    }
}

#[cold]
fn unreachable_hmac_key() -> ! {
    // `Hmac::new_from_slice` accepts keys of every length; this branch cannot be taken.
    panic!("hmac refused a 32-byte key")
}

/// FNV-1a: the keys are short words, where it beats SipHash several times over, and the table
/// is fixed, so there is no flooding to defend against.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

/// Longest keyword; longer words are not looked up.
const MAX_KEYWORD_LEN: usize = 24;

fn keyword_table() -> &'static HashMap<&'static [u8], u32, BuildHasherDefault<Fnv>> {
    static TABLE: OnceLock<HashMap<&'static [u8], u32, BuildHasherDefault<Fnv>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = HashMap::default();
        for (index, (_, words)) in CONTENT_CATEGORIES.iter().enumerate() {
            for word in *words {
                debug_assert!(word.len() <= MAX_KEYWORD_LEN);
                *table.entry(word.as_bytes()).or_insert(0) |= 1 << index;
            }
        }
        table
    })
}

/// Counts whitespace-separated words and ORs the category bits of those in the table.
fn scan_words(content: &[u8]) -> (u64, u32) {
    let table = keyword_table();
    let mut words = 0u64;
    let mut mask = 0u32;
    let mut lowered = [0u8; MAX_KEYWORD_LEN];
    for word in content
        .split(|byte| byte.is_ascii_whitespace())
        .filter(|word| !word.is_empty())
    {
        words += 1;
        let core = trim_punctuation(word);
        if core.is_empty() || core.len() > MAX_KEYWORD_LEN {
            continue;
        }
        let lowered = &mut lowered[..core.len()];
        for (out, byte) in lowered.iter_mut().zip(core) {
            *out = byte.to_ascii_lowercase();
        }
        if let Some(bits) = table.get(&*lowered) {
            mask |= bits;
        }
    }
    (words, mask)
}

fn trim_punctuation(word: &[u8]) -> &[u8] {
    let start = word
        .iter()
        .position(u8::is_ascii_alphanumeric)
        .unwrap_or(word.len());
    let end = word
        .iter()
        .rposition(u8::is_ascii_alphanumeric)
        .map_or(start, |last| last + 1);
    &word[start..end]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn digester() -> ContentDigester {
        ContentDigester::new(&ContentKey([7; 32]))
    }

    #[test]
    fn the_hmac_is_hmac_sha256_of_the_bytes() {
        // Reference value from Python's `hmac.new(bytes([0x0b] * 32), b"Hi There", sha256)`.
        let features = ContentDigester::new(&ContentKey([0x0b; 32])).digest(b"Hi There");
        assert_eq!(
            features.hmac,
            "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"
        );
    }

    #[test]
    fn different_keys_give_unrelated_digests() {
        let a = ContentDigester::new(&ContentKey([1; 32])).digest(b"same text");
        let b = ContentDigester::new(&ContentKey([2; 32])).digest(b"same text");
        assert_ne!(a.hmac, b.hmac);
    }

    #[test]
    fn words_are_counted_and_categories_found_case_and_punctuation_blind() {
        let features = digester().digest(b"  My Resume, sent to a RECRUITER; then wikileaks.  ");
        assert_eq!(features.words, 8);
        assert_eq!(features.categories, vec!["job_search", "leak"]);
    }

    #[test]
    fn no_keyword_means_no_category() {
        let features = digester().digest(b"lunch menu monday");
        assert!(features.categories.is_empty());
        assert_eq!(digester().digest(b"").words, 0);
    }

    #[test]
    fn every_category_has_a_distinct_sorted_name_and_fits_the_mask() {
        assert!(CONTENT_CATEGORIES.len() <= 32);
        for pair in CONTENT_CATEGORIES.windows(2) {
            assert!(pair[0].0 < pair[1].0);
        }
        for (_, words) in CONTENT_CATEGORIES {
            for word in *words {
                assert!(word.len() <= MAX_KEYWORD_LEN);
                assert_eq!(*word, word.to_ascii_lowercase());
            }
        }
    }
}
