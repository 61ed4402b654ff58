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

/// The rule files under `path` (itself if it is a file), sorted: `.yml` and `.yaml`, leaving
/// out `tests/` folders, which hold rule tests.
pub fn rule_files(path: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    fn collect(path: &std::path::Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "tests") {
                return Ok(());
            }
            for entry in std::fs::read_dir(path)? {
                collect(&entry?.path(), out)?;
            }
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path.to_path_buf());
        }
        Ok(())
    }
    let mut files = Vec::new();
    collect(path, &mut files)?;
    files.sort();
    Ok(files)
}
