//! Mamori's own events as Sigma sees them (`product: mamori`; mapping in `docs/rules.md`).
//!
//! - Log source: `product: mamori`, `service:` the source name (`cert`, `evtx`, …), and two
//!   categories: the kind (`file.copy`) and its family (`file`), so a rule can name either.
//! - Fields: the dotted paths of the event's canonical JSON (`actor.user`, `object.labels`,
//!   `raw.content_categories`, …; a list gives one value per element), and the detection-time
//!   context under `context.` (see [`crate::context`]).

use mamori_event::Event;
use serde_json::{Map, Value};

use crate::sigma::{EventSource, FieldValue, Record};

/// `logsource.product` of Mamori's events.
pub const PRODUCT: &str = "mamori";

/// A field value owned by the record.
#[derive(Debug, Clone, PartialEq)]
enum Owned {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

/// One event's fields, flattened once.
#[derive(Debug, Clone, Default)]
pub struct EventRecord {
    fields: Vec<(String, Owned)>,
}

impl EventRecord {
    /// The event's fields and `context` (added under `context.`).
    pub fn new(event: &Event, context: &Map<String, Value>) -> EventRecord {
        let mut record = EventRecord {
            fields: Vec::with_capacity(FIELDS_CAPACITY),
        };
        // One buffer holds the dotted path being visited; only leaves copy it.
        let mut name = String::with_capacity(64);
        if let Ok(Value::Object(members)) = serde_json::to_value(event) {
            for (key, value) in members {
                if key != "nonce" && key != "v" {
                    name.clear();
                    name.push_str(&key);
                    // The value is ours: its strings move into the record uncopied.
                    record.flatten(&mut name, value);
                }
            }
        }
        for (key, value) in context {
            name.clear();
            name.push_str("context.");
            name.push_str(key);
            record.flatten(&mut name, value.clone());
        }
        record
    }

    /// Adds the leaves of `value` under the path `name` (restored before returning).
    fn flatten(&mut self, name: &mut String, value: Value) {
        match value {
            Value::Object(members) => {
                let path_len = name.len();
                for (key, inner) in members {
                    name.push('.');
                    name.push_str(&key);
                    self.flatten(name, inner);
                    name.truncate(path_len);
                }
            }
            Value::Array(items) => {
                for item in items {
                    // Lists of objects (attachments) give their members under the list's name.
                    self.flatten(name, item);
                }
            }
            Value::String(s) => self.fields.push((name.clone(), Owned::Str(s))),
            Value::Number(n) => {
                let owned = match n.as_i64() {
                    Some(i) => Owned::Int(i),
                    None => Owned::Float(n.as_f64().unwrap_or(f64::NAN)),
                };
                self.fields.push((name.clone(), owned));
            }
            Value::Bool(b) => self.fields.push((name.clone(), Owned::Bool(b))),
            Value::Null => self.fields.push((name.clone(), Owned::Null)),
        }
    }
}

/// Fields of a typical event and its context: the record's one allocation for them.
const FIELDS_CAPACITY: usize = 32;

impl Record for EventRecord {
    fn fields(&self) -> impl Iterator<Item = (&str, FieldValue<'_>)> {
        self.fields.iter().map(|(name, value)| {
            let value = match value {
                Owned::Str(s) => FieldValue::Str(s),
                Owned::Int(i) => FieldValue::Int(*i),
                Owned::Float(x) => FieldValue::Float(*x),
                Owned::Bool(b) => FieldValue::Bool(*b),
                Owned::Null => FieldValue::Null,
            };
            (name.as_str(), value)
        })
    }
}

/// The log source of a Mamori event.
pub fn event_source(event: &Event) -> EventSource {
    let kind = event.kind.as_str();
    let mut categories = vec![kind.to_string()];
    if let Some((family, _)) = kind.split_once('.') {
        categories.push(family.to_string());
    }
    EventSource {
        product: Some(PRODUCT.to_string()),
        service: event
            .source
            .as_ref()
            .and_then(|s| s.name.clone())
            .map(|n| n.to_ascii_lowercase()),
        categories,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_dotted_paths_and_lists_repeat() {
        let event = Event::from_json(
            r#"{"time":"2024-03-05T21:10:00Z","kind":"file.copy","actor":{"user":"ACM2278","host":"PC-1"},"object":{"path":"C:\\p\\a.zip","labels":["社外秘","x"]},"destination":{"kind":"removable"},"outcome":"success","source":{"name":"agent"}}"#
                .as_bytes(),
        )
        .unwrap();
        let context = json!({"employment": "notice", "after_hours": true});
        let record = EventRecord::new(&event, context.as_object().unwrap());
        let fields: Vec<_> = record.fields().collect();
        assert!(fields.contains(&("actor.user", FieldValue::Str("ACM2278"))));
        assert!(fields.contains(&("object.labels", FieldValue::Str("社外秘"))));
        assert!(fields.contains(&("object.labels", FieldValue::Str("x"))));
        assert!(fields.contains(&("context.after_hours", FieldValue::Bool(true))));
        assert!(fields.contains(&("kind", FieldValue::Str("file.copy"))));
        assert!(!fields.iter().any(|(n, _)| *n == "nonce"));
        let source = event_source(&event);
        assert_eq!(source.product.as_deref(), Some("mamori"));
        assert_eq!(source.service.as_deref(), Some("agent"));
        assert_eq!(source.categories, vec!["file.copy", "file"]);
    }
}
