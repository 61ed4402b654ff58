//! YAML documents as trees whose every node knows its line, so that a rule error can name
//! `file:line` (`yaml-rust2`'s own tree forgets where things were).

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One YAML node and the line (1-based) it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: usize,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar's text and whether it was quoted (a quoted `4688` or `null` is a string).
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Keys in file order; duplicate keys are reported by [`parse_documents`].
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The scalar's text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The value under `key`, if this is a map that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A plain (unquoted) `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, quoted: false } if matches!(text.as_str(), "null" | "Null" | "NULL" | "~" | ""))
    }
}

impl Node {
    /// The node as JSON: plain scalars typed as YAML 1.2's core schema types them (integers,
    /// floats, booleans, null), quoted ones as strings.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as Json;
        match &self.value {
            Value::Scalar { text, quoted: true } => Json::String(text.clone()),
            Value::Scalar { text, .. } => {
                if self.is_null() {
                    Json::Null
                } else if let Ok(i) = text.parse::<i64>() {
                    Json::from(i)
                } else if let Some(b) = match text.as_str() {
                    "true" | "True" | "TRUE" => Some(true),
                    "false" | "False" | "FALSE" => Some(false),
                    _ => None,
                } {
                    Json::Bool(b)
                } else if let Some(n) = text
                    .parse::<f64>()
                    .ok()
                    .filter(|_| text.contains('.'))
                    .and_then(serde_json::Number::from_f64)
                {
                    Json::Number(n)
                } else {
                    Json::String(text.clone())
                }
            }
            Value::Seq(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Why a file is not YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub reason: String,
}

/// Every document of `text`.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| YamlError {
        line: e.marker().line(),
        reason: e.info().to_string(),
    })?;
    if let Some(error) = builder.error {
        return Err(error);
    }
    Ok(builder.documents)
}

/// Builds nodes from parser events: a stack of open collections.
#[derive(Default)]
struct Builder {
    documents: Vec<Node>,
    open: Vec<Node>,
    /// Map keys waiting for their value, one slot per open map.
    keys: Vec<Option<Node>>,
    error: Option<YamlError>,
}

impl Builder {
    fn fail(&mut self, line: usize, reason: &str) {
        if self.error.is_none() {
            self.error = Some(YamlError {
                line,
                reason: reason.to_string(),
            });
        }
    }

    /// Adds a finished node to the innermost open collection (or ends the document).
    fn push(&mut self, node: Node) {
        match self.open.last_mut() {
            None => self.documents.push(node),
            Some(Node {
                value: Value::Seq(items),
                ..
            }) => items.push(node),
            Some(Node {
                value: Value::Map(entries),
                ..
            }) => {
                let slot = self.keys.last_mut();
                match slot {
                    Some(slot @ None) => *slot = Some(node),
                    Some(slot) => {
                        if let Some(key) = slot.take() {
                            let duplicate = key.as_str().is_some()
                                && entries.iter().any(|(k, _)| k.as_str() == key.as_str());
                            if duplicate {
                                let line = key.line;
                                let reason =
                                    format!("duplicate key {:?}", key.as_str().unwrap_or_default());
                                self.fail(line, &reason);
                                return;
                            }
                            entries.push((key, node));
                        }
                    }
                    None => {}
                }
            }
            Some(_) => {}
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let line = mark.line();
        match event {
            Event::Scalar(text, style, _, _) => self.push(Node {
                line,
                value: Value::Scalar {
                    text,
                    quoted: style != TScalarStyle::Plain,
                },
            }),
            Event::SequenceStart(..) => self.open.push(Node {
                line,
                value: Value::Seq(Vec::new()),
            }),
            Event::MappingStart(..) => {
                self.open.push(Node {
                    line,
                    value: Value::Map(Vec::new()),
                });
                self.keys.push(None);
            }
            Event::SequenceEnd => {
                if let Some(node) = self.open.pop() {
                    self.push(node);
                }
            }
            Event::MappingEnd => {
                self.keys.pop();
                if let Some(node) = self.open.pop() {
                    self.push(node);
                }
            }
            Event::Alias(_) => self.fail(line, "YAML aliases are not allowed in rules"),
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn nodes_know_their_lines_and_quoting() {
        let docs = parse_documents("a: 1\nb:\n  - 'x'\n  - null\n---\nc: {d: e}\n").unwrap();
        assert_eq!(docs.len(), 2);
        let b = docs[0].get("b").unwrap();
        assert_eq!(b.line, 3);
        let Value::Seq(items) = &b.value else {
            panic!("not a sequence")
        };
        assert_eq!(
            items[0].value,
            Value::Scalar {
                text: "x".into(),
                quoted: true
            }
        );
        assert!(items[1].is_null());
        assert_eq!(items[1].line, 4);
        assert_eq!(
            docs[1].get("c").unwrap().get("d").unwrap().as_str(),
            Some("e")
        );
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_name_the_line() {
        let error = parse_documents("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(error.line, 3);
        assert!(error.reason.contains("duplicate key \"a\""));
        let error = parse_documents("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(error.line >= 1, "{error:?}");
    }
}
