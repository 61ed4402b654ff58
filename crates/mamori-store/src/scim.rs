//! Resources provisioned over SCIM 2.0 (`/scim/v2`, docs/scim.md): Users and Groups as an
//! identity provider (Microsoft Entra ID, Okta) keeps them, stored as their canonical JSON.
//! The server derives HR person versions and ledger events from every change; this table is
//! what SCIM clients read back.
//!
//! Uniqueness (`userName` for Users, compared without case; `displayName` for Groups) is a
//! unique index, so two clients racing cannot create twins. `version` counts changes and is
//! the resource's weak ETag: an update names the version it read, and loses when another
//! change came first.

use rusqlite::{OptionalExtension, params};

use crate::{EventStore, Result, StoreError};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS scim_resources (
    kind        TEXT NOT NULL,    -- User | Group
    id          TEXT NOT NULL,    -- assigned by Mamori
    unique_key  TEXT NOT NULL,    -- userName lower-cased / displayName
    external_id TEXT,
    version     INTEGER NOT NULL, -- 1 at creation, +1 per change
    created_us  INTEGER NOT NULL,
    modified_us INTEGER NOT NULL,
    resource    TEXT NOT NULL,    -- canonical JSON, without id and meta
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS scim_unique ON scim_resources(kind, unique_key);
";

/// One stored resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimResource {
    pub kind: String,
    pub id: String,
    pub external_id: Option<String>,
    pub version: u64,
    pub created_us: i64,
    pub modified_us: i64,
    /// Canonical JSON without `id` and `meta`.
    pub resource: serde_json::Value,
}

/// What a write is keyed by.
#[derive(Debug, Clone, Copy)]
pub struct ScimWrite<'a> {
    pub kind: &'a str,
    pub id: &'a str,
    pub unique_key: &'a str,
    pub external_id: Option<&'a str>,
    pub resource: &'a serde_json::Value,
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimConflict {
    /// Another resource of the kind has this unique key.
    Taken,
    /// The resource changed since the version named (or is gone).
    Changed,
}

const COLUMNS: &str = "kind, id, external_id, version, created_us, modified_us, resource";

fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<(ScimResource, String)> {
    let version: i64 = row.get(3)?;
    Ok((
        ScimResource {
            kind: row.get(0)?,
            id: row.get(1)?,
            external_id: row.get(2)?,
            version: u64::try_from(version).unwrap_or(0),
            created_us: row.get(4)?,
            modified_us: row.get(5)?,
            resource: serde_json::Value::Null,
        },
        row.get(6)?,
    ))
}

fn parsed((mut stored, text): (ScimResource, String)) -> Result<ScimResource> {
    stored.resource = serde_json::from_str(&text)
        .map_err(|e| StoreError::Corrupt(format!("SCIM {} {}: {e}", stored.kind, stored.id)))?;
    Ok(stored)
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

impl EventStore {
    /// Stores a new resource at version 1.
    pub fn scim_insert(
        &mut self,
        write: ScimWrite<'_>,
        now_us: i64,
    ) -> Result<std::result::Result<ScimResource, ScimConflict>> {
        let inserted = self.conn.execute(
            "INSERT INTO scim_resources(kind, id, unique_key, external_id, version, created_us,
                 modified_us, resource)
             VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5, ?6)",
            params![
                write.kind,
                write.id,
                write.unique_key,
                write.external_id,
                now_us,
                write.resource.to_string()
            ],
        );
        match inserted {
            Ok(_) => Ok(Ok(ScimResource {
                kind: write.kind.to_owned(),
                id: write.id.to_owned(),
                external_id: write.external_id.map(str::to_owned),
                version: 1,
                created_us: now_us,
                modified_us: now_us,
                resource: write.resource.clone(),
            })),
            Err(e) if is_unique_violation(&e) => Ok(Err(ScimConflict::Taken)),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces a resource if it is still at `expected_version` (any version when `None`).
    pub fn scim_update(
        &mut self,
        write: ScimWrite<'_>,
        expected_version: Option<u64>,
        now_us: i64,
    ) -> Result<std::result::Result<ScimResource, ScimConflict>> {
        let Some(current) = self.scim_get(write.kind, write.id)? else {
            return Ok(Err(ScimConflict::Changed));
        };
        if expected_version.is_some_and(|v| v != current.version) {
            return Ok(Err(ScimConflict::Changed));
        }
        let version = current.version + 1;
        let updated = self.conn.execute(
            "UPDATE scim_resources SET unique_key = ?3, external_id = ?4, version = ?5,
                 modified_us = ?6, resource = ?7
             WHERE kind = ?1 AND id = ?2 AND version = ?8",
            params![
                write.kind,
                write.id,
                write.unique_key,
                write.external_id,
                i64::try_from(version).unwrap_or(i64::MAX),
                now_us,
                write.resource.to_string(),
                i64::try_from(current.version).unwrap_or(i64::MAX),
            ],
        );
        match updated {
            Ok(1) => Ok(Ok(ScimResource {
                version,
                modified_us: now_us,
                external_id: write.external_id.map(str::to_owned),
                resource: write.resource.clone(),
                ..current
            })),
            Ok(_) => Ok(Err(ScimConflict::Changed)),
            Err(e) if is_unique_violation(&e) => Ok(Err(ScimConflict::Taken)),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a resource; whether it existed.
    pub fn scim_delete(&mut self, kind: &str, id: &str) -> Result<bool> {
        Ok(self.conn.execute(
            "DELETE FROM scim_resources WHERE kind = ?1 AND id = ?2",
            params![kind, id],
        )? == 1)
    }

    /// One resource by id.
    pub fn scim_get(&self, kind: &str, id: &str) -> Result<Option<ScimResource>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM scim_resources WHERE kind = ?1 AND id = ?2"
            ))?
            .query_row(params![kind, id], read)
            .optional()?
            .map(parsed)
            .transpose()
    }

    /// One resource by its unique key (`userName` lower-cased, `displayName`).
    pub fn scim_by_key(&self, kind: &str, unique_key: &str) -> Result<Option<ScimResource>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM scim_resources WHERE kind = ?1 AND unique_key = ?2"
            ))?
            .query_row(params![kind, unique_key], read)
            .optional()?
            .map(parsed)
            .transpose()
    }

    /// Every resource of a kind, in order of creation (then id): the order list pages follow.
    pub fn scim_all(&self, kind: &str) -> Result<Vec<ScimResource>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM scim_resources WHERE kind = ?1 ORDER BY created_us, id"
        ))?;
        let rows = stmt.query_map(params![kind], read)?;
        rows.map(|row| parsed(row?)).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn write<'a>(id: &'a str, key: &'a str, resource: &'a serde_json::Value) -> ScimWrite<'a> {
        ScimWrite {
            kind: "User",
            id,
            unique_key: key,
            external_id: Some("ext-1"),
            resource,
        }
    }

    #[test]
    fn unique_keys_versions_and_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.db")).unwrap();
        let r = json!({"userName": "Taro@Example.jp"});
        let a = store
            .scim_insert(write("a", "taro@example.jp", &r), 10)
            .unwrap();
        assert_eq!(a.unwrap().version, 1);
        // The same key again is taken, whatever the id.
        let twin = store
            .scim_insert(write("b", "taro@example.jp", &r), 11)
            .unwrap();
        assert_eq!(twin, Err(ScimConflict::Taken));
        // Groups have keys of their own.
        let group = ScimWrite {
            kind: "Group",
            ..write("a", "taro@example.jp", &r)
        };
        assert!(store.scim_insert(group, 12).unwrap().is_ok());
        // Updates name the version they read.
        let r2 = json!({"userName": "taro@example.jp", "active": false});
        let stale = store.scim_update(write("a", "taro@example.jp", &r2), Some(7), 13);
        assert_eq!(stale.unwrap(), Err(ScimConflict::Changed));
        let updated = store
            .scim_update(write("a", "taro@example.jp", &r2), Some(1), 14)
            .unwrap()
            .unwrap();
        assert_eq!(
            (updated.version, updated.created_us, updated.modified_us),
            (2, 10, 14)
        );
        assert_eq!(store.scim_get("User", "a").unwrap().unwrap().resource, r2);
        assert!(
            store
                .scim_by_key("User", "taro@example.jp")
                .unwrap()
                .is_some()
        );
        assert_eq!(store.scim_all("User").unwrap().len(), 1);
        assert!(store.scim_delete("User", "a").unwrap());
        assert!(!store.scim_delete("User", "a").unwrap());
        assert!(store.scim_get("User", "a").unwrap().is_none());
        let gone = store.scim_update(write("a", "taro@example.jp", &r2), None, 15);
        assert_eq!(gone.unwrap(), Err(ScimConflict::Changed));
    }
}
