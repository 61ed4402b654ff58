//! Which detection rules are switched on, and at what severity, as set in the console: rules
//! stay files (reviewed, versioned), their use is a setting. A rule without a row is on at its
//! own level.

use std::collections::HashMap;

use rusqlite::params;

use crate::{EventStore, Level, Result, StoreError};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rule_settings (
    rule_id    TEXT PRIMARY KEY,
    enabled    INTEGER NOT NULL,
    severity   TEXT,            -- NULL: the rule's own level
    changed_by TEXT NOT NULL,
    changed_us INTEGER NOT NULL
) WITHOUT ROWID;
";

/// How a rule is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSetting {
    pub enabled: bool,
    /// Replaces the rule's own level when set.
    pub severity: Option<Level>,
}

impl EventStore {
    /// Every rule's setting, by rule id.
    pub fn rule_settings(&self) -> Result<HashMap<String, RuleSetting>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rule_id, enabled, severity FROM rule_settings")?;
        let mut rows = stmt.query([])?;
        let mut out = HashMap::new();
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            let severity = match row.get::<_, Option<String>>(2)? {
                None => None,
                Some(text) => Some(Level::parse(&text).ok_or_else(|| {
                    StoreError::Corrupt(format!("rule {id}: unknown severity {text:?}"))
                })?),
            };
            out.insert(
                id,
                RuleSetting {
                    enabled: row.get(1)?,
                    severity,
                },
            );
        }
        Ok(out)
    }

    /// Sets how a rule is used.
    pub fn set_rule_setting(
        &mut self,
        rule_id: &str,
        setting: &RuleSetting,
        changed_by: &str,
        now_us: i64,
    ) -> Result<()> {
        if setting.severity == Some(Level::None) {
            return Err(StoreError::Invalid(
                "a rule's severity is low, medium, high or critical".into(),
            ));
        }
        self.conn.execute(
            "INSERT OR REPLACE INTO rule_settings(rule_id, enabled, severity, changed_by, changed_us)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                rule_id,
                setting.enabled,
                setting.severity.map(Level::as_str),
                changed_by,
                now_us
            ],
        )?;
        Ok(())
    }

    /// How many findings each rule has stored, by rule id.
    pub fn findings_per_rule(&self) -> Result<HashMap<String, u64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rule_id, COUNT(*) FROM rule_findings GROUP BY rule_id")?;
        let mut rows = stmt.query([])?;
        let mut out = HashMap::new();
        while let Some(row) = rows.next()? {
            out.insert(row.get(0)?, crate::overview::count(row.get(1)?));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn settings_replace_each_other_and_refuse_level_none() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.db")).unwrap();
        assert!(store.rule_settings().unwrap().is_empty());
        let off = RuleSetting {
            enabled: false,
            severity: Some(Level::Low),
        };
        store.set_rule_setting("r1", &off, "admin", 1).unwrap();
        let on = RuleSetting {
            enabled: true,
            severity: None,
        };
        store.set_rule_setting("r1", &on, "admin", 2).unwrap();
        assert_eq!(store.rule_settings().unwrap()["r1"], on);
        let none = RuleSetting {
            enabled: true,
            severity: Some(Level::None),
        };
        assert!(store.set_rule_setting("r1", &none, "admin", 3).is_err());
    }
}
