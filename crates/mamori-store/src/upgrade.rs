//! Upgrades of tables written by older builds, in place and without a schema version bump:
//! only columns are added, each with a default that keeps the old rows meaningful, so an old
//! build's reader of the same tables (the columns it knows) is unaffected.

use rusqlite::Connection;

use crate::Result;

/// Adds each `(name, declaration)` column that `table` lacks; returns the names added, so
/// that the caller can fill in values a constant default cannot express.
pub(crate) fn add_missing_columns<'c>(
    conn: &Connection,
    table: &str,
    columns: &[(&'c str, &str)],
) -> Result<Vec<&'c str>> {
    let mut present = Vec::new();
    {
        let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            present.push(row.get::<_, String>(1)?);
        }
    }
    let mut added = Vec::new();
    for &(name, declaration) in columns {
        if present.iter().any(|p| p.eq_ignore_ascii_case(name)) {
            continue;
        }
        conn.execute_batch(&format!(
            "ALTER TABLE {table} ADD COLUMN {name} {declaration}"
        ))?;
        added.push(name);
    }
    Ok(added)
}
