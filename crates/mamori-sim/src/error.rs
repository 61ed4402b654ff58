//! The simulator's errors.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A setting the simulator cannot work with (the user's input: exit code 2 in the CLI).
    #[error("{0}")]
    Config(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
}

impl SimError {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SimError {
        let path = path.into();
        move |source| SimError::Io { path, source }
    }

    pub fn csv(path: impl Into<PathBuf>) -> impl FnOnce(csv::Error) -> SimError {
        let path = path.into();
        move |source| SimError::Csv { path, source }
    }
}
