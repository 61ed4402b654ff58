//! Validation errors that name the field path and the reason.

use std::fmt;

/// Why an event was rejected: the field path (dotted, e.g. `actor.user`, `object.labels[2]`;
/// empty for an error that concerns the whole line, such as malformed JSON) and the reason.
///
/// Display is `field: reason`, or just `reason` when `field` is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    /// Dotted path of the offending field; `""` when the error is not about one field.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl EventError {
    /// A new error.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> EventError {
        EventError {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Turns a `serde_path_to_error` failure into a path + reason, rewriting serde's
    /// ``missing field `x` `` into path `…x`, reason `missing field`.
    pub(crate) fn from_path_error<E: fmt::Display + Classify>(
        path: &serde_path_to_error::Path,
        inner: &E,
    ) -> EventError {
        let mut field = String::new();
        for segment in path.iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => {
                    field.push('[');
                    field.push_str(&index.to_string());
                    field.push(']');
                }
                serde_path_to_error::Segment::Map { key } => push_key(&mut field, key),
                serde_path_to_error::Segment::Enum { variant } => push_key(&mut field, variant),
                serde_path_to_error::Segment::Unknown => push_key(&mut field, "?"),
            }
        }
        let mut reason = inner.to_string();
        if inner.is_data() {
            // serde_json appends " at line L column C"; the field path says more.
            if let Some(pos) = reason.rfind(" at line ") {
                reason.truncate(pos);
            }
        }
        if let Some(name) = reason
            .strip_prefix("missing field `")
            .and_then(|r| r.strip_suffix('`'))
        {
            push_key(&mut field, name);
            reason = "missing field".to_owned();
        }
        EventError { field, reason }
    }
}

fn push_key(field: &mut String, key: &str) {
    if !field.is_empty() {
        field.push('.');
    }
    field.push_str(key);
}

/// Whether an inner serde error is about the data (rather than JSON syntax / I/O).
pub(crate) trait Classify {
    fn is_data(&self) -> bool;
}

impl Classify for serde_json::Error {
    fn is_data(&self) -> bool {
        self.classify() == serde_json::error::Category::Data
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.field, self.reason)
        }
    }
}

impl std::error::Error for EventError {}
