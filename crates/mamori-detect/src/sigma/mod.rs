//! Sigma rules (specification v2.1, `../shared/testdata/sigma-specification/`): loading with
//! `file:line` errors, every value modifier, conditions, and an engine that evaluates many
//! rules per event cheaply (see [`engine`]); correlation rules over event streams (see
//! [`correlation`]) and filter documents.

mod condition;
pub mod correlation;
pub mod engine;
mod filter;
mod matcher;
pub mod regression;
mod rule;
mod value;
mod yaml;

pub use correlation::{CorrelationHit, CorrelationInfo, Correlator};
pub use engine::{Engine, EngineBuilder, Evaluator, EventSource, FieldValue, Record};
pub use rule::{LoadError, LogSource, Origin, RuleInfo};

/// The documents of a YAML text as JSON (rule test files hold events written in YAML).
pub fn yaml_documents(file: &str, text: &str) -> Result<Vec<serde_json::Value>, LoadError> {
    yaml::parse_documents(text)
        .map(|docs| docs.iter().map(yaml::Node::to_json).collect())
        .map_err(|e| LoadError {
            file: file.to_string(),
            line: e.line,
            reason: format!("not valid YAML: {}", e.reason),
        })
}
