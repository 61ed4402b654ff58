//! The privacy declarations (`privacy.toml`, docs/privacy.md): who is responsible, why data is
//! collected, what is collected and how long it is kept. The transparency page shows them and
//! `mamori retention run` enforces the retention periods, so what employees are told is what
//! the system does.

use std::path::Path;

/// The privacy configuration: the declarations shown to employees.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Privacy {
    /// The organisation responsible for the monitoring.
    pub controller: Text,
    /// The person or office responsible, and how to reach them.
    pub responsible: Text,
    pub contact: String,
    /// Why data is collected; every reveal of a person will have to name one of these ids.
    #[serde(default)]
    pub purposes: Vec<Purpose>,
    /// What is collected, with how long it is kept.
    #[serde(default)]
    pub collected: Vec<Collected>,
}

/// A text in both languages.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub en: String,
    pub ja: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    pub id: String,
    #[serde(flatten)]
    pub text: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collected {
    #[serde(flatten)]
    pub text: Text,
    /// Days the data is kept.
    pub retention_days: u32,
    /// The event kinds this item covers: `mamori retention run` erases their bodies after
    /// `retention_days`. Events of kinds no item lists are kept.
    #[serde(default)]
    pub kinds: Vec<mamori_event::Kind>,
}

impl Privacy {
    /// Reads the configuration; `None` when `path` does not exist. Errors name the file and
    /// the field.
    pub fn load(path: &Path) -> anyhow::Result<Option<Privacy>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => anyhow::bail!("{}: {e}", path.display()),
        };
        let privacy: Privacy = toml::from_str(&text)
            .map_err(|e| crate::BadInput(format!("{}: {e}", path.display())))?;
        let mut ids = std::collections::HashSet::new();
        for purpose in &privacy.purposes {
            if purpose.id.is_empty() || !ids.insert(purpose.id.as_str()) {
                return Err(crate::BadInput(format!(
                    "{}: purpose id {:?} is empty or given twice",
                    path.display(),
                    purpose.id
                ))
                .into());
            }
        }
        let mut kinds = std::collections::HashSet::new();
        for kind in privacy.collected.iter().flat_map(|c| &c.kinds) {
            if !kinds.insert(*kind) {
                return Err(crate::BadInput(format!(
                    "{}: event kind {kind} is listed under two [[collected]] items",
                    path.display()
                ))
                .into());
            }
        }
        Ok(Some(privacy))
    }

    /// The configuration of a data directory (`privacy.toml` in it) or the file given.
    pub fn of(data_dir: &Path, file: Option<&Path>) -> anyhow::Result<Option<Privacy>> {
        match file {
            Some(path) => Ok(Some(Privacy::load(path)?.ok_or_else(|| {
                crate::BadInput(format!("{}: no such file", path.display()))
            })?)),
            None => Privacy::load(&data_dir.join("privacy.toml")),
        }
    }
}
