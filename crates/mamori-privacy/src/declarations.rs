//! The privacy declarations (`privacy.toml`, docs/privacy.md): who is responsible, why data is
//! collected, what is collected and how long it is kept. The transparency page shows them and
//! `mamori retention run` enforces the retention periods, so what employees are told is what
//! the system does.

use std::path::Path;

use crate::PrivacyError;

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
    /// Who must agree before a person is revealed or evidence exported.
    #[serde(default)]
    pub approvals: ApprovalRules,
}

/// The rules for reveals and exports, set in advance.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalRules {
    /// A second person (role `approver`) must grant each reveal and export.
    pub dual_control: bool,
    /// How long a grant lasts.
    pub hours: u32,
}

impl Default for ApprovalRules {
    fn default() -> ApprovalRules {
        ApprovalRules {
            dual_control: true,
            hours: 8,
        }
    }
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
    pub fn load(path: &Path) -> Result<Option<Privacy>, PrivacyError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(PrivacyError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let privacy: Privacy = toml::from_str(&text)
            .map_err(|e| PrivacyError::Config(format!("{}: {e}", path.display())))?;
        let mut ids = std::collections::HashSet::new();
        for purpose in &privacy.purposes {
            if purpose.id.is_empty() || !ids.insert(purpose.id.as_str()) {
                return Err(PrivacyError::Config(format!(
                    "{}: purpose id {:?} is empty or given twice",
                    path.display(),
                    purpose.id
                )));
            }
        }
        if !(1..=24 * 30).contains(&privacy.approvals.hours) {
            return Err(PrivacyError::Config(format!(
                "{}: approvals.hours must be 1 to 720",
                path.display()
            )));
        }
        let mut kinds = std::collections::HashSet::new();
        for kind in privacy.collected.iter().flat_map(|c| &c.kinds) {
            if !kinds.insert(*kind) {
                return Err(PrivacyError::Config(format!(
                    "{}: event kind {kind} is listed under two [[collected]] items",
                    path.display()
                )));
            }
        }
        Ok(Some(privacy))
    }

    /// The configuration of a data directory (`privacy.toml` in it) or the file given.
    pub fn of(data_dir: &Path, file: Option<&Path>) -> Result<Option<Privacy>, PrivacyError> {
        match file {
            Some(path) => Ok(Some(Privacy::load(path)?.ok_or_else(|| {
                PrivacyError::Config(format!("{}: no such file", path.display()))
            })?)),
            None => Privacy::load(&data_dir.join("privacy.toml")),
        }
    }
}
