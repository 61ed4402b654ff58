//! Data minimisation for the `content` columns: web pages, e-mails and copied files are never
//! stored as text. What is kept is an HMAC of the bytes (equal contents can be matched, nobody
//! without the key can test a guess against it), the number of words, and which categories of
//! [`CONTENT_CATEGORIES`] occur.

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
    pub fn digest_parts(&self, whole: &[u8], text: &[u8]) -> ContentFeatures {
        let mut mac = self.keyed.clone();
        mac.update(whole);
        let hmac = lower_hex(&mac.finalize().into_bytes());
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

/// `hex::encode`, without its per-character iterator (2 % of a CERT import's CPU).
fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cold]
fn unreachable_hmac_key() -> ! {
    // `Hmac::new_from_slice` accepts keys of every length; this branch cannot be taken.
    panic!("hmac refused a 32-byte key")
}

/// Longest keyword; longer words are not looked up. A word fits one `u128`.
const MAX_KEYWORD_LEN: usize = 16;

/// The keywords as an open-addressing table of words packed into `u128`s (lower case, zero
/// padded): looking a word up is one multiply and usually one compare. A general hash map
/// spent more time per row than the HMAC and the CSV parsing together (60 words a row).
struct KeywordTable {
    slots: Vec<(u128, u32)>,
    shift: u32,
    /// One bit per (first letter, second letter) pair that starts a keyword: most words of a
    /// text start otherwise and are turned away before hashing and probing.
    first_pairs: [u64; 16],
}

/// Index of a packed word's first two bytes in [`KeywordTable::first_pairs`] (5 bits each).
fn first_pair(key: u128) -> usize {
    let first = (key & 0x1f) as usize;
    let second = ((key >> 8) & 0x1f) as usize;
    (first << 5) | second
}

/// 256 slots of 32 bytes: 8 KiB, at most half full, small enough to stay in the L1 cache.
const KEYWORD_SLOTS_LOG2: u32 = 8;

impl KeywordTable {
    fn build() -> KeywordTable {
        let mut table = KeywordTable {
            slots: vec![(0, 0); 1 << KEYWORD_SLOTS_LOG2],
            shift: 64 - KEYWORD_SLOTS_LOG2,
            first_pairs: [0; 16],
        };
        for (index, (_, words)) in CONTENT_CATEGORIES.iter().enumerate() {
            for word in *words {
                debug_assert!(word.len() <= MAX_KEYWORD_LEN);
                let key = pack(word.as_bytes());
                let pair = first_pair(key);
                table.first_pairs[pair / 64] |= 1 << (pair % 64);
                let slot = table.slot_of(key);
                table.slots[slot].0 = key;
                table.slots[slot].1 |= 1 << index;
            }
        }
        table
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn slot_of(&self, key: u128) -> usize {
        let folded = (key as u64) ^ ((key >> 64) as u64);
        let mut slot = (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize;
        loop {
            let (stored, _) = self.slots[slot];
            if stored == key || stored == 0 {
                return slot;
            }
            slot = (slot + 1) & (self.slots.len() - 1);
        }
    }

    fn categories_of(&self, key: u128) -> u32 {
        let pair = first_pair(key);
        if self.first_pairs[pair / 64] & (1 << (pair % 64)) == 0 {
            return 0;
        }
        self.slots[self.slot_of(key)].1
    }
}

/// A word of 1 to [`MAX_KEYWORD_LEN`] bytes with bit 0x20 set in every byte, as a
/// little-endian `u128` padded with zeros. Setting 0x20 lower-cases ASCII letters and leaves
/// lower-case letters alone; it also maps a few other bytes onto each other (control bytes
/// onto digits and punctuation), which cannot make a false match because every keyword is
/// lower-case letters only (a test checks). Never 0 for a non-empty word (0 marks an empty
/// slot).
fn pack(word: &[u8]) -> u128 {
    let mut bytes = [0u8; MAX_KEYWORD_LEN];
    let length = word.len().min(MAX_KEYWORD_LEN);
    bytes[..length].copy_from_slice(&word[..length]);
    fold_case(u128::from_le_bytes(bytes), length)
}

/// [`pack`] for a word at `content[start..start + length]` with at least 16 bytes from
/// `start`: one unaligned load and a mask instead of a byte loop (this runs for every word).
fn pack_in_place(content: &[u8], start: usize, length: usize) -> u128 {
    match content.get(start..start + MAX_KEYWORD_LEN) {
        Some(window) => {
            let mut bytes = [0u8; MAX_KEYWORD_LEN];
            bytes.copy_from_slice(window);
            fold_case(u128::from_le_bytes(bytes), length)
        }
        None => pack(&content[start..start + length]),
    }
}

fn fold_case(loaded: u128, length: usize) -> u128 {
    const CASE_BITS: u128 = u128::from_le_bytes([0x20; MAX_KEYWORD_LEN]);
    let mask = if length >= MAX_KEYWORD_LEN {
        u128::MAX
    } else {
        (1u128 << (length * 8)) - 1
    };
    (loaded | CASE_BITS) & mask
}

fn keyword_table() -> &'static KeywordTable {
    static TABLE: OnceLock<KeywordTable> = OnceLock::new();
    TABLE.get_or_init(KeywordTable::build)
}

/// Counts words and ORs the category bits of those in the table. Words are separated by
/// spaces and other ASCII control bytes (tab, newline, …: every byte up to 0x20).
///
/// Separators are found 8 bytes at a time and words walked as bit transitions of a 64-byte
/// block: a byte-at-a-time loop spent more than the HMAC and the CSV parsing together on its
/// branch at every byte.
fn scan_words(content: &[u8]) -> (u64, u32) {
    let table = keyword_table();
    let mut words = 0u64;
    let mut mask = 0u32;
    let mut word_start = 0usize;
    let mut in_word = false;
    // Whether the byte before the current block is a separator (the start counts as one).
    let mut previous_is_separator = 1u64;
    for (block_index, block) in content.chunks(64).enumerate() {
        let base = block_index * 64;
        let separators = separator_bits(block);
        let shifted = (separators << 1) | previous_is_separator;
        let starts = !separators & shifted;
        let ends = separators & !shifted;
        words += u64::from(starts.count_ones());
        let mut transitions = starts | ends;
        while transitions != 0 {
            let position = transitions.trailing_zeros() as usize;
            transitions &= transitions - 1;
            if starts & (1 << position) != 0 {
                word_start = base + position;
                in_word = true;
            } else {
                mask |= word_categories(table, content, word_start, base + position);
                in_word = false;
            }
        }
        previous_is_separator = separators >> 63;
    }
    if in_word {
        mask |= word_categories(table, content, word_start, content.len());
    }
    (words, mask)
}

fn word_categories(table: &KeywordTable, content: &[u8], start: usize, end: usize) -> u32 {
    // Most words start with a letter: test their first two bytes against the table's first
    // pairs before trimming and packing. Same bytes, same folding as `pack`, so the answer is
    // the one the full lookup would give (a one-letter word, whose packed second byte would be
    // 0, is never a keyword anyway).
    if end - start >= 2 && content[start].is_ascii_alphanumeric() {
        let pair = ((usize::from(content[start] | 0x20) & 0x1f) << 5)
            | (usize::from(content[start + 1] | 0x20) & 0x1f);
        if table.first_pairs[pair / 64] & (1 << (pair % 64)) == 0 {
            return 0;
        }
    }
    let (core_start, core_length) = trim_punctuation(&content[start..end]);
    if core_length == 0 || core_length > MAX_KEYWORD_LEN {
        return 0;
    }
    table.categories_of(pack_in_place(content, start + core_start, core_length))
}

/// Bit `i` set when `block[i]` is a separator (at most 0x20); bits past the block's end are set,
/// so a word ends with the content.
fn separator_bits(block: &[u8]) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const BELOW: u64 = 0x2121_2121_2121_2121;
    let mut bits = if block.len() == 64 {
        0
    } else {
        u64::MAX << block.len()
    };
    let mut chunks = block.chunks_exact(8);
    for (chunk_index, chunk) in chunks.by_ref().enumerate() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let word = u64::from_le_bytes(bytes);
        // Per byte: high bit set when the byte is ASCII and below 0x21. Setting each byte's
        // high bit before subtracting keeps borrows inside the byte.
        let flags = !((word | HIGH) - BELOW) & !word & HIGH;
        // Gather the 8 high bits (at 7, 15, …, 63) into one byte.
        let gathered = ((flags >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
        bits |= gathered << (chunk_index * 8);
    }
    let done = block.len() - chunks.remainder().len();
    for (offset, byte) in chunks.remainder().iter().enumerate() {
        bits |= u64::from(*byte <= b' ') << (done + offset);
    }
    bits
}

/// Offset and length of `word` without the punctuation around it.
fn trim_punctuation(word: &[u8]) -> (usize, usize) {
    let start = word
        .iter()
        .position(u8::is_ascii_alphanumeric)
        .unwrap_or(word.len());
    let end = word
        .iter()
        .rposition(u8::is_ascii_alphanumeric)
        .map_or(start, |last| last + 1);
    (start, end - start)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn digester() -> ContentDigester {
        ContentDigester::new(&ContentKey([7; 32]))
    }

    #[test]
    fn hmacs_are_written_as_lower_case_hex() {
        let every_byte: Vec<u8> = (0..=255).collect();
        assert_eq!(lower_hex(&every_byte), hex::encode(&every_byte));
        assert_eq!(digester().digest(b"x").hmac.len(), 64);
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
                // `pack` relies on it (see there).
                assert!(word.bytes().all(|byte| byte.is_ascii_lowercase()), "{word}");
            }
        }
        let keywords: usize = CONTENT_CATEGORIES
            .iter()
            .map(|(_, words)| words.len())
            .sum();
        assert!(keywords * 2 <= 1 << KEYWORD_SLOTS_LOG2);
    }

    /// The plain byte-at-a-time definition [`scan_words`] must agree with.
    fn scan_words_reference(content: &[u8]) -> (u64, u32) {
        let table = keyword_table();
        let mut words = 0;
        let mut mask = 0;
        for word in content
            .split(|byte| *byte <= b' ')
            .filter(|word| !word.is_empty())
        {
            words += 1;
            let (start, length) = trim_punctuation(word);
            if length > 0 && length <= MAX_KEYWORD_LEN {
                mask |= table.categories_of(pack(&word[start..start + length]));
            }
        }
        (words, mask)
    }

    proptest::proptest! {
        #[test]
        fn the_block_scan_agrees_with_the_plain_definition(
            content in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b' '),
                    proptest::strategy::Just(b'\n'),
                    proptest::strategy::Just(b','),
                    proptest::strategy::Just(0xe3u8),
                    b'a'..=b'z',
                    proptest::arbitrary::any::<u8>(),
                ],
                0..300,
            ),
            keyword in proptest::sample::select(vec!["resume", "WikiLeaks", "dropbox", "fired"]),
            at in 0usize..300,
        ) {
            let mut content = content;
            let at = at.min(content.len());
            content.splice(at..at, format!(" {keyword} ").into_bytes());
            proptest::prop_assert_eq!(scan_words(&content), scan_words_reference(&content));
        }
    }

    #[test]
    fn separator_bits_mark_control_bytes_and_space_only() {
        let mut block = [b'a'; 64];
        block[0] = b' ';
        block[9] = b'\t';
        block[63] = b'\n';
        block[20] = 0x80;
        block[21] = 0xa0;
        assert_eq!(separator_bits(&block), 1 | (1 << 9) | (1 << 63));
        assert_eq!(separator_bits(b"ab c"), (u64::MAX << 4) | (1 << 2));
    }

    #[test]
    fn packing_in_place_equals_packing_a_copy_and_folds_case() {
        let content = b"x WikiLeaks, RESUME and a-very-long-word-indeed tail";
        for (start, length) in [(2, 9), (13, 6), (26, 16), (47, 4), (0, 1)] {
            assert_eq!(
                pack_in_place(content, start, length),
                pack(&content[start..start + length])
            );
        }
        assert_eq!(pack(b"WikiLeaks"), pack(b"wikileaks"));
        assert_ne!(pack(b"leak"), pack(b"leaks"));
        assert_ne!(pack(b"a"), 0);
    }
}
