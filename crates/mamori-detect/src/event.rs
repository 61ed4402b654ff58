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
        let mut record = EventRecord::default();
        if let Ok(Value::Object(members)) = serde_json::to_value(event) {
            for (name, value) in &members {
                if name != "nonce" && name != "v" {
                    record.flatten(name.clone(), value);
                }
            }
        }
        for (name, value) in context {
            record.flatten(format!("context.{name}"), value);
        }
        record
    }

    fn flatten(&mut self, name: String, value: &Value) {
        match value {
            Value::Object(members) => {
                for (key, inner) in members {
                    self.flatten(format!("{name}.{key}"), inner);
                }
            }
            Value::Array(items) => {
                for item in items {
                    // Lists of objects (attachments) give their members under the list's name.
                    self.flatten(name.clone(), item);
                }
            }
            Value::String(s) => self.fields.push((name, Owned::Str(s.clone()))),
            Value::Number(n) => {
                let owned = match n.as_i64() {
                    Some(i) => Owned::Int(i),
                    None => Owned::Float(n.as_f64().unwrap_or(f64::NAN)),
                };
                self.fields.push((name, owned));
            }
            Value::Bool(b) => self.fields.push((name, Owned::Bool(*b))),
            Value::Null => self.fields.push((name, Owned::Null)),
        }
    }
}

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
