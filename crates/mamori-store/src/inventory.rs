//! The account inventory: every directory's accounts as its latest export lists them, and how
//! their groups changed from one export to the next.
//!
//! `account_inventory` holds one row per `(source, account)`. An import is a snapshot of the
//! sources it covers: each row is compared with the stored one and replaced only when it
//! differs, so importing the same export twice changes nothing (and the outcome says so).
//! Accounts of those sources that a complete snapshot no longer lists are not deleted but
//! marked `removed_at`, because a directory export filtered by mistake must not erase what
//! checks and investigations rely on; the next snapshot that lists them again clears the mark.
//!
//! `account_group_history` records each group added to or removed from an account between two
//! snapshots, with the time of the import that saw it, so that a later check can ask "which
//! rights did this person gain after giving notice". An account's first snapshot is the
//! baseline: its groups are not recorded as added (nobody knows when they were).
//!
//! An inventory row that names a `person_id` links the account to that person in `accounts`
//! (the HR table events are joined through) unless it is linked already; an account linked to
//! another person is never relinked silently: the outcome lists the conflict.

use jiff::Timestamp;
use jiff::civil::DateTime;
use mamori_event::{AccountRecord, AccountSource};
use rusqlite::{OptionalExtension, Row, Transaction, params};

use crate::{EventStore, Result, StoreError};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS account_inventory (
    source          TEXT NOT NULL,    -- ad, entra, google, other
    account         TEXT NOT NULL,
    person_id       TEXT,
    display_name    TEXT,
    enabled         INTEGER,          -- NULL: the export did not say
    created         TEXT,             -- YYYY-MM-DDTHH:MM:SS as the export wrote it (UTC if it had a zone)
    last_logon      TEXT,
    mfa             INTEGER,
    privileged_flag INTEGER,          -- as the export says
    privileged      INTEGER NOT NULL, -- derived: the flag, or a member of a privileged group
    groups          TEXT NOT NULL,    -- JSON array of names, sorted
    first_seen      TEXT NOT NULL,    -- RFC 3339: the import that first listed it
    imported_at     TEXT NOT NULL,    -- RFC 3339: the import that last changed the row
    removed_at      TEXT,             -- RFC 3339: the first complete snapshot without it
    PRIMARY KEY (source, account)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS account_inventory_person ON account_inventory(person_id);
CREATE TABLE IF NOT EXISTS account_group_history (
    source     TEXT NOT NULL,
    account    TEXT NOT NULL,
    group_name TEXT NOT NULL,
    change     TEXT NOT NULL,         -- added, removed
    at         TEXT NOT NULL          -- RFC 3339: the import that saw the change
);
CREATE INDEX IF NOT EXISTS account_group_history_account
    ON account_group_history(source, account, at);
";

/// One import of account inventory rows.
#[derive(Debug, Clone, Copy)]
pub struct InventorySnapshot<'a> {
    pub records: &'a [AccountRecord],
    /// The sources the snapshot covers: their accounts not in `records` are marked removed
    /// (when `complete`). The sources of `records` are covered whether listed or not.
    pub sources: &'a [AccountSource],
    /// False when rows of the export were rejected: an account missing from `records` may be
    /// one of them, so none is marked removed.
    pub complete: bool,
    pub imported_at: Timestamp,
}

/// What storing a snapshot changed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InventoryOutcome {
    /// Accounts not stored before.
    pub added: u64,
    /// Accounts stored exactly so.
    pub unchanged: u64,
    /// Accounts whose stored row differed (or that had been marked removed).
    pub changed: u64,
    /// Accounts of the covered sources that this snapshot no longer lists, now marked removed.
    pub removed: u64,
    /// Accounts missing from an incomplete snapshot, left as they were.
    pub kept_missing: u64,
    /// Group additions and removals recorded in the history.
    pub group_changes: u64,
    /// Accounts newly linked to the person the export names.
    pub linked: u64,
    /// Accounts the export assigns to a person other than the one they are linked to.
    pub link_conflicts: Vec<LinkConflict>,
}

/// An account whose inventory row names a person other than the one `accounts` links it to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LinkConflict {
    pub account: String,
    pub source: AccountSource,
    /// The person the account is linked to (kept).
    pub linked_to: String,
    /// The person the inventory row names (not applied).
    pub inventory_person: String,
}

/// A stored inventory row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryAccount {
    pub record: AccountRecord,
    /// [`AccountRecord::privileged`] when stored.
    pub privileged: bool,
    pub first_seen: Timestamp,
    pub imported_at: Timestamp,
}

/// Whether a group was added to or removed from an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupChangeKind {
    Added,
    Removed,
}

impl GroupChangeKind {
    fn as_str(self) -> &'static str {
        match self {
            GroupChangeKind::Added => "added",
            GroupChangeKind::Removed => "removed",
        }
    }
}

/// One entry of an account's group history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupChange {
    pub group: String,
    pub change: GroupChangeKind,
    /// The import that saw the change (the change itself happened since the snapshot before).
    pub at: Timestamp,
}

const COLUMNS: &str = "source, account, person_id, display_name, enabled, created, last_logon, \
    mfa, privileged_flag, privileged, groups, first_seen, imported_at";

/// A stored row before the comparison: the record and whether it was marked removed.
struct Stored {
    record: AccountRecord,
    /// The derived flag as stored: it changes when [`mamori_event::PRIVILEGED_GROUPS`] does.
    privileged: bool,
    removed: bool,
}

impl EventStore {
    /// Stores a snapshot in one transaction: rows added or replaced, group changes recorded,
    /// missing accounts marked removed, person links added.
    pub fn store_account_inventory(
        &mut self,
        snapshot: &InventorySnapshot<'_>,
    ) -> Result<InventoryOutcome> {
        let at = snapshot.imported_at.to_string();
        let mut outcome = InventoryOutcome::default();
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS inventory_listed (
                 source TEXT NOT NULL, account TEXT NOT NULL, PRIMARY KEY (source, account)
             ) WITHOUT ROWID;
             DELETE FROM temp.inventory_listed;",
        )?;
        for record in snapshot.records {
            store_one(&tx, record, &at, &mut outcome)?;
            link_person(&tx, record, &mut outcome)?;
        }
        let mut sources: Vec<AccountSource> = snapshot.sources.to_vec();
        sources.extend(snapshot.records.iter().map(|record| record.source));
        sources.sort();
        sources.dedup();
        for source in sources {
            let missing: i64 = tx.query_row(
                "SELECT COUNT(*) FROM account_inventory AS a
                 WHERE a.source = ?1 AND a.removed_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM temp.inventory_listed AS l
                                   WHERE l.source = a.source AND l.account = a.account)",
                [source.as_str()],
                |row| row.get(0),
            )?;
            let missing = u64::try_from(missing).unwrap_or_default();
            if !snapshot.complete {
                outcome.kept_missing += missing;
                continue;
            }
            tx.execute(
                "UPDATE account_inventory SET removed_at = ?2
                 WHERE source = ?1 AND removed_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM temp.inventory_listed AS l
                                   WHERE l.source = account_inventory.source
                                     AND l.account = account_inventory.account)",
                params![source.as_str(), at],
            )?;
            outcome.removed += missing;
        }
        tx.execute_batch("DELETE FROM temp.inventory_listed;")?;
        tx.commit()?;
        Ok(outcome)
    }

    /// Every account the latest snapshots list (not those marked removed), by source and
    /// account.
    pub fn inventory_accounts(&self) -> Result<Vec<InventoryAccount>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM account_inventory WHERE removed_at IS NULL
             ORDER BY source, account"
        ))?;
        let rows = stmt.query_map([], read_account)?;
        rows.map(|row| row?).collect()
    }

    /// The listed accounts of `person_id`: those whose row names the person and those the
    /// `accounts` table links to them (HR data or an earlier inventory import).
    pub fn inventory_accounts_of(&self, person_id: &str) -> Result<Vec<InventoryAccount>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM account_inventory
             WHERE removed_at IS NULL
               AND (person_id = ?1
                    OR account IN (SELECT account FROM accounts WHERE person_id = ?1))
             ORDER BY source, account"
        ))?;
        let rows = stmt.query_map([person_id], read_account)?;
        rows.map(|row| row?).collect()
    }

    /// The group additions and removals of one account, oldest first.
    pub fn account_group_history(
        &self,
        source: AccountSource,
        account: &str,
    ) -> Result<Vec<GroupChange>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT group_name, change, at FROM account_group_history
             WHERE source = ?1 AND account = ?2 ORDER BY at, rowid",
        )?;
        let rows = stmt.query_map(params![source.as_str(), account], |row| {
            let group: String = row.get(0)?;
            let change: String = row.get(1)?;
            let at: String = row.get(2)?;
            Ok((group, change, at))
        })?;
        let mut history = Vec::new();
        for row in rows {
            let (group, change, at) = row?;
            let change = match change.as_str() {
                "added" => GroupChangeKind::Added,
                "removed" => GroupChangeKind::Removed,
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "group history of {account}: stored change {other:?} is invalid"
                    )));
                }
            };
            history.push(GroupChange {
                group,
                change,
                at: parse_timestamp(&at, account)?,
            });
        }
        Ok(history)
    }
}

/// Compares one record with its stored row and writes what changed.
fn store_one(
    tx: &Transaction<'_>,
    record: &AccountRecord,
    at: &str,
    outcome: &mut InventoryOutcome,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO temp.inventory_listed(source, account) VALUES (?1, ?2)",
    )?
    .execute(params![record.source.as_str(), record.account])?;
    let stored = tx
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, removed_at IS NOT NULL FROM account_inventory
             WHERE source = ?1 AND account = ?2"
        ))?
        .query_row(params![record.source.as_str(), record.account], |row| {
            let removed: bool = row.get(13)?;
            Ok(read_account(row)?.map(|account| Stored {
                record: account.record,
                privileged: account.privileged,
                removed,
            }))
        })
        .optional()?
        .transpose()?;
    let groups = serde_json::to_string(&record.groups)
        .map_err(|error| StoreError::Invalid(format!("groups of {}: {error}", record.account)))?;
    let time = |value: Option<DateTime>| value.map(|value| value.to_string());
    let values = params![
        record.source.as_str(),
        record.account,
        record.person_id,
        record.display_name,
        record.enabled,
        time(record.created),
        time(record.last_logon),
        record.mfa,
        record.privileged_flag,
        record.privileged(),
        groups,
        at,
    ];
    let Some(stored) = stored else {
        tx.prepare_cached(
            "INSERT INTO account_inventory(source, account, person_id, display_name, enabled,
                 created, last_logon, mfa, privileged_flag, privileged, groups, first_seen,
                 imported_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
        )?
        .execute(values)?;
        outcome.added += 1;
        return Ok(());
    };
    if stored.record == *record && stored.privileged == record.privileged() && !stored.removed {
        outcome.unchanged += 1;
        return Ok(());
    }
    tx.prepare_cached(
        "UPDATE account_inventory SET person_id = ?3, display_name = ?4, enabled = ?5,
             created = ?6, last_logon = ?7, mfa = ?8, privileged_flag = ?9, privileged = ?10,
             groups = ?11, imported_at = ?12, removed_at = NULL
         WHERE source = ?1 AND account = ?2",
    )?
    .execute(values)?;
    outcome.changed += 1;
    let mut record_change = |group: &str, change: GroupChangeKind| -> Result<()> {
        tx.prepare_cached(
            "INSERT INTO account_group_history(source, account, group_name, change, at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            record.source.as_str(),
            record.account,
            group,
            change.as_str(),
            at
        ])?;
        outcome.group_changes += 1;
        Ok(())
    };
    for group in &record.groups {
        if !stored.record.groups.contains(group) {
            record_change(group, GroupChangeKind::Added)?;
        }
    }
    for group in &stored.record.groups {
        if !record.groups.contains(group) {
            record_change(group, GroupChangeKind::Removed)?;
        }
    }
    Ok(())
}

/// Links the record's account to its person unless it is linked already.
fn link_person(
    tx: &Transaction<'_>,
    record: &AccountRecord,
    outcome: &mut InventoryOutcome,
) -> Result<()> {
    let Some(person_id) = &record.person_id else {
        return Ok(());
    };
    let linked: Option<String> = tx
        .prepare_cached("SELECT person_id FROM accounts WHERE account = ?1")?
        .query_row([&record.account], |row| row.get(0))
        .optional()?;
    match linked {
        None => {
            tx.prepare_cached("INSERT INTO accounts(account, person_id) VALUES (?1, ?2)")?
                .execute(params![record.account, person_id])?;
            outcome.linked += 1;
        }
        Some(linked) if linked == *person_id => {}
        Some(linked) => outcome.link_conflicts.push(LinkConflict {
            account: record.account.clone(),
            source: record.source,
            linked_to: linked,
            inventory_person: person_id.clone(),
        }),
    }
    Ok(())
}

/// A row in `COLUMNS` order; a malformed stored value is a corruption error (the outer
/// `Result` is SQLite's).
fn read_account(row: &Row<'_>) -> rusqlite::Result<Result<InventoryAccount>> {
    let source: String = row.get(0)?;
    let account: String = row.get(1)?;
    let corrupt = |what: &str, value: &str| {
        StoreError::Corrupt(format!(
            "inventory account {source}/{account}: stored {what} {value:?} is invalid"
        ))
    };
    let Ok(parsed_source) = source.parse::<AccountSource>() else {
        return Ok(Err(corrupt("source", &source)));
    };
    let mut times = [None, None];
    for (slot, index) in times.iter_mut().zip([5, 6]) {
        let text: Option<String> = row.get(index)?;
        if let Some(text) = text {
            match text.parse::<DateTime>() {
                Ok(time) => *slot = Some(time),
                Err(_) => return Ok(Err(corrupt("time", &text))),
            }
        }
    }
    let groups: String = row.get(10)?;
    let Ok(groups) = serde_json::from_str::<Vec<String>>(&groups) else {
        return Ok(Err(corrupt("groups", &groups)));
    };
    let first_seen: String = row.get(11)?;
    let imported_at: String = row.get(12)?;
    let (first_seen, imported_at) = match (
        parse_timestamp(&first_seen, &account),
        parse_timestamp(&imported_at, &account),
    ) {
        (Ok(first_seen), Ok(imported_at)) => (first_seen, imported_at),
        (Err(error), _) | (_, Err(error)) => return Ok(Err(error)),
    };
    let [created, last_logon] = times;
    let record = AccountRecord {
        account: account.clone(),
        source: parsed_source,
        person_id: row.get(2)?,
        display_name: row.get(3)?,
        enabled: row.get(4)?,
        created,
        last_logon,
        mfa: row.get(7)?,
        privileged_flag: row.get(8)?,
        groups,
    };
    Ok(Ok(InventoryAccount {
        record,
        privileged: row.get(9)?,
        first_seen,
        imported_at,
    }))
}

fn parse_timestamp(text: &str, account: &str) -> Result<Timestamp> {
    text.parse().map_err(|_| {
        StoreError::Corrupt(format!(
            "inventory account {account}: stored time {text:?} is invalid"
        ))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use jiff::civil::datetime;
    use mamori_event::PersonRecord;

    fn account(name: &str, person: Option<&str>, groups: &[&str]) -> AccountRecord {
        let mut record = AccountRecord::new(name, AccountSource::Ad);
        record.person_id = person.map(str::to_string);
        record.enabled = Some(true);
        record.created = Some(datetime(2023, 4, 1, 9, 0, 0, 0));
        record.groups = groups.iter().map(|group| group.to_string()).collect();
        record
    }

    fn import(
        store: &mut EventStore,
        records: &[AccountRecord],
        complete: bool,
        at: &str,
    ) -> InventoryOutcome {
        store
            .store_account_inventory(&InventorySnapshot {
                records,
                sources: &[AccountSource::Ad],
                complete,
                imported_at: at.parse().unwrap(),
            })
            .unwrap()
    }

    #[test]
    fn a_second_import_of_the_same_snapshot_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        let snapshot = [
            account("yamada", Some("E1"), &["Domain Admins", "Sales"]),
            account("svc-backup", None, &[]),
        ];
        let first = import(&mut store, &snapshot, true, "2025-01-10T00:00:00Z");
        assert_eq!((first.added, first.unchanged, first.linked), (2, 0, 1));
        let again = import(&mut store, &snapshot, true, "2025-01-11T00:00:00Z");
        assert_eq!(
            again,
            InventoryOutcome {
                unchanged: 2,
                ..InventoryOutcome::default()
            }
        );
        let stored = store.inventory_accounts().unwrap();
        assert_eq!(stored.len(), 2);
        assert_eq!(stored[1].record, snapshot[0]);
        assert!(stored[1].privileged, "Domain Admins is a privileged group");
        assert!(!stored[0].privileged);
        assert_eq!(
            stored[1].imported_at,
            "2025-01-10T00:00:00Z".parse::<Timestamp>().unwrap(),
            "an unchanged row keeps the time of the import that wrote it"
        );
        assert!(
            store
                .account_group_history(AccountSource::Ad, "yamada")
                .unwrap()
                .is_empty(),
            "the first snapshot is the baseline"
        );
    }

    #[test]
    fn snapshot_changes_become_group_history_and_missing_accounts_are_marked_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        import(
            &mut store,
            &[
                account("yamada", Some("E1"), &["Sales", "VPN"]),
                account("sato", None, &[]),
            ],
            true,
            "2025-01-10T00:00:00Z",
        );
        // Yamada gains Domain Admins and loses VPN; sato is missing but a row was rejected.
        let later = [account("yamada", Some("E1"), &["Domain Admins", "Sales"])];
        let partial = import(&mut store, &later, false, "2025-02-01T00:00:00Z");
        assert_eq!(
            (
                partial.changed,
                partial.group_changes,
                partial.kept_missing,
                partial.removed
            ),
            (1, 2, 1, 0)
        );
        assert_eq!(store.inventory_accounts().unwrap().len(), 2);
        let history = store
            .account_group_history(AccountSource::Ad, "yamada")
            .unwrap();
        let at: Timestamp = "2025-02-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            history,
            [
                GroupChange {
                    group: "Domain Admins".into(),
                    change: GroupChangeKind::Added,
                    at
                },
                GroupChange {
                    group: "VPN".into(),
                    change: GroupChangeKind::Removed,
                    at
                },
            ]
        );
        // A complete snapshot without sato marks it removed; listing it again restores it.
        let complete = import(&mut store, &later, true, "2025-02-02T00:00:00Z");
        assert_eq!((complete.unchanged, complete.removed), (1, 1));
        let listed: Vec<String> = store
            .inventory_accounts()
            .unwrap()
            .into_iter()
            .map(|account| account.record.account)
            .collect();
        assert_eq!(listed, ["yamada"]);
        let back = import(
            &mut store,
            &[later[0].clone(), account("sato", None, &[])],
            true,
            "2025-02-03T00:00:00Z",
        );
        assert_eq!((back.unchanged, back.changed, back.removed), (1, 1, 0));
        assert_eq!(store.inventory_accounts().unwrap().len(), 2);
        // Another source's snapshot leaves the AD accounts alone.
        let mut google = AccountRecord::new("yamada@example.jp", AccountSource::Google);
        google.person_id = Some("E1".into());
        let other = store
            .store_account_inventory(&InventorySnapshot {
                records: &[google],
                sources: &[AccountSource::Google],
                complete: true,
                imported_at: "2025-02-04T00:00:00Z".parse().unwrap(),
            })
            .unwrap();
        assert_eq!((other.added, other.removed), (1, 0));
        assert_eq!(store.inventory_accounts().unwrap().len(), 3);
        let of_e1: Vec<String> = store
            .inventory_accounts_of("E1")
            .unwrap()
            .into_iter()
            .map(|account| account.record.account)
            .collect();
        assert_eq!(of_e1, ["yamada", "yamada@example.jp"]);
    }

    #[test]
    fn links_are_added_but_never_silently_moved_to_another_person() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        let mut hr = PersonRecord::new("E1", jiff::civil::date(2020, 1, 1), "山田 太郎");
        hr.accounts = vec!["yamada".into()];
        store.store_people(&[hr]).unwrap();
        let outcome = import(
            &mut store,
            &[
                account("yamada", Some("E2"), &[]),
                account("sato", Some("E3"), &[]),
                account("suzuki", None, &[]),
            ],
            true,
            "2025-01-10T00:00:00Z",
        );
        assert_eq!(outcome.linked, 1);
        assert_eq!(
            outcome.link_conflicts,
            [LinkConflict {
                account: "yamada".into(),
                source: AccountSource::Ad,
                linked_to: "E1".into(),
                inventory_person: "E2".into(),
            }]
        );
        assert_eq!(
            store.person_of_account("yamada").unwrap().as_deref(),
            Some("E1")
        );
        assert_eq!(
            store.person_of_account("sato").unwrap().as_deref(),
            Some("E3")
        );
        assert_eq!(store.person_of_account("suzuki").unwrap(), None);
        // The HR link makes yamada one of E1's accounts, whatever its row says.
        let of_e1 = store.inventory_accounts_of("E1").unwrap();
        assert_eq!(of_e1.len(), 1);
        assert_eq!(of_e1[0].record.account, "yamada");
    }
}
