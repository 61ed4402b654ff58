//! Sigma rules (specification v2.1, `../shared/testdata/sigma-specification/`): loading with
//! `file:line` errors, every value modifier, conditions, and an engine that evaluates many
//! rules per event cheaply (see [`engine`]).

mod condition;
pub mod engine;
mod matcher;
pub mod regression;
mod rule;
mod value;
mod yaml;

pub use engine::{Engine, EngineBuilder, Evaluator, EventSource, FieldValue, Record};
pub use rule::{LoadError, LogSource, Origin, RuleInfo};
