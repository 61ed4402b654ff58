//! # mamori-content
//!
//! Content inspection, locally and fast (docs/inspect.md):
//!
//! - [`extract`]: what a file is by its bytes (and whether its name lies), its parts (archives,
//!   mail attachments) and their text, in any of the Japanese encodings, bounded against bombs.
//! - [`normalize`] and [`detect`]: Japanese personal data (My Number, corporate numbers, cards,
//!   phones, postal codes, e-mail, bank and passport cues), confidentiality labels, secrets,
//!   source code; each finding with a confidence and its reason.
//! - [`inspect`]: the two together for a file, and the summary an event keeps (counts and
//!   keyed hashes, never values).
//! - [`features`]: **data minimisation of content**: web pages, e-mail bodies and copied files
//!   are never stored as text; an importer or agent keeps a keyed HMAC of the bytes, the
//!   number of words and the keyword categories that occur, written into an event's `raw` map
//!   under the same keys by every producer ([`insert_features`]).

pub mod detect;
pub mod extract;
pub mod features;
pub mod inspect;
pub mod normalize;

pub use features::{CONTENT_CATEGORIES, ContentDigester, ContentFeatures, ContentKey};

use serde_json::{Map, Value};

/// The `raw` keys content features are written under.
pub mod raw_key {
    /// HMAC-SHA256 of the content, lower-case hex.
    pub const CONTENT_HMAC: &str = "content_hmac";
    /// Number of words.
    pub const CONTENT_WORDS: &str = "content_words";
    /// Matched keyword categories, sorted (absent when none).
    pub const CONTENT_CATEGORIES: &str = "content_categories";
}

/// Writes `features` into an event's `raw` map.
pub fn insert_features(raw: &mut Map<String, Value>, features: ContentFeatures) {
    raw.insert(raw_key::CONTENT_HMAC.into(), Value::from(features.hmac));
    raw.insert(raw_key::CONTENT_WORDS.into(), Value::from(features.words));
    if !features.categories.is_empty() {
        raw.insert(
            raw_key::CONTENT_CATEGORIES.into(),
            Value::Array(features.categories.into_iter().map(Value::from).collect()),
        );
    }
}
