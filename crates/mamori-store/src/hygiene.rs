//! The reads the identity hygiene checks need (`mamori_detect::hygiene`, docs/hygiene.md):
//! every person's HR history and account links, the inventory's group additions, the accounts
//! events name, and one account's or kind's event times from the posting lists.
//!
//! Nothing here reads every event: activity comes account by account (or kind by kind) through
//! the account and kind indexes, as `(time, leaf)` pairs without bodies; the caller fetches the
//! few bodies it needs with [`EventStore::events_at`], a page at a time.

use jiff::Timestamp;
use mamori_event::AccountSource;

use crate::events::postings_through;
use crate::postings::Dimension;
use crate::{EventStore, Result, StoreError};

/// A group an inventory snapshot saw added to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupAddition {
    pub source: AccountSource,
    pub account: String,
    pub group: String,
    /// The import that saw it.
    pub at: Timestamp,
}

impl EventStore {
    /// Every `(account, person_id)` link of the HR `accounts` table, by account.
    pub fn account_links(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT account, person_id FROM accounts ORDER BY account")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every group addition the inventory's snapshots recorded, oldest first.
    pub fn group_additions(&self) -> Result<Vec<GroupAddition>> {
        let mut stmt = self.conn.prepare(
            "SELECT source, account, group_name, at FROM account_group_history
             WHERE change = 'added' ORDER BY at, rowid",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
            ))
        })?;
        let mut additions = Vec::new();
        for row in rows {
            let (source, account, group, at) = row?;
            let corrupt = |what: &str, value: &str| {
                StoreError::Corrupt(format!(
                    "group history of {account}: stored {what} {value:?} is invalid"
                ))
            };
            let source = source
                .parse::<AccountSource>()
                .map_err(|_| corrupt("source", &source))?;
            let at = at.parse::<Timestamp>().map_err(|_| corrupt("time", &at))?;
            additions.push(GroupAddition {
                source,
                account,
                group,
                at,
            });
        }
        Ok(additions)
    }

    /// Every account some stored event names as its actor, by name.
    pub fn event_accounts(&self) -> Result<Vec<String>> {
        let unwritten_from = i64::try_from(postings_through(&self.conn)?).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare(
            "SELECT name FROM names WHERE id IN (
                 SELECT key_id FROM postings WHERE dimension = ?1
                 UNION
                 SELECT account_id FROM events WHERE leaf_index >= ?2)
             ORDER BY name",
        )?;
        let rows = stmt.query_map(
            rusqlite::params![Dimension::Account as i64, unwritten_from],
            |row| row.get(0),
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// `(time_us, leaf_index)` of `account`'s events within `[from_us, to_us)`, by time, from
    /// the account index alone (no body is read).
    pub fn account_event_times(
        &self,
        account: &str,
        from_us: i64,
        to_us: i64,
    ) -> Result<Vec<(i64, u64)>> {
        self.postings_by(Dimension::Account, account, from_us, to_us)
    }

    /// `(time_us, leaf_index)` of the events of `kind` within `[from_us, to_us)`, by time.
    pub fn kind_event_times(
        &self,
        kind: &str,
        from_us: i64,
        to_us: i64,
    ) -> Result<Vec<(i64, u64)>> {
        self.postings_by(Dimension::Kind, kind, from_us, to_us)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::{InventorySnapshot, NewEvent};
    use jiff::civil::date;
    use mamori_event::{AccountRecord, PersonRecord};

    fn snapshot<'a>(records: &'a [AccountRecord], at: &str) -> InventorySnapshot<'a> {
        InventorySnapshot {
            records,
            sources: &[],
            complete: true,
            imported_at: at.parse().unwrap(),
        }
    }

    fn event(n: u8, time_us: i64, kind: &'static str, account: &str) -> NewEvent {
        NewEvent {
            identity: [n; 32],
            entry: [n; 32],
            time_us,
            kind,
            account: account.into(),
            json: format!("{{\"n\":{n}}}").into_bytes(),
        }
    }

    #[test]
    fn hygiene_reads_histories_links_additions_and_account_times() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        let mut first = PersonRecord::new("E1", date(2020, 1, 1), "山田");
        first.accounts = vec!["yamada".into()];
        let mut leaving = first.clone();
        leaving.valid_from = date(2025, 3, 1);
        leaving.notice_date = Some(date(2025, 3, 1));
        let other = PersonRecord::new("E2", date(2021, 1, 1), "佐藤");
        store
            .store_people(&[leaving.clone(), other.clone(), first.clone()])
            .unwrap();
        let histories = store.person_histories().unwrap();
        assert_eq!(histories["E1"], [first, leaving]);
        assert_eq!(histories["E2"], [other]);
        assert_eq!(
            store.account_links().unwrap(),
            [("yamada".to_owned(), "E1".to_owned())]
        );

        let mut record = AccountRecord::new("yamada", AccountSource::Ad);
        record.groups = vec!["営業部".into()];
        store
            .store_account_inventory(&snapshot(&[record.clone()], "2025-02-01T00:00:00Z"))
            .unwrap();
        record.groups.push("Domain Admins".into());
        store
            .store_account_inventory(&snapshot(&[record.clone()], "2025-03-05T00:00:00Z"))
            .unwrap();
        assert_eq!(
            store.group_additions().unwrap(),
            [GroupAddition {
                source: AccountSource::Ad,
                account: "yamada".into(),
                group: "Domain Admins".into(),
                at: "2025-03-05T00:00:00Z".parse().unwrap(),
            }]
        );

        // Events out of time order; some in postings, some only in rows.
        store
            .insert_batch(&[
                event(1, 3_000, "logon", "yamada"),
                event(2, 1_000, "file.copy", "yamada"),
                event(3, 2_000, "logon", "admin"),
            ])
            .unwrap();
        store.flush_postings().unwrap();
        store
            .insert_batch(&[event(4, 500, "logon", "yamada")])
            .unwrap();
        assert_eq!(
            store.account_event_times("yamada", 0, i64::MAX).unwrap(),
            [(500, 3), (1_000, 1), (3_000, 0)]
        );
        assert_eq!(
            store.account_event_times("yamada", 600, 3_000).unwrap(),
            [(1_000, 1)]
        );
        assert_eq!(
            store.kind_event_times("logon", 0, i64::MAX).unwrap(),
            [(500, 3), (2_000, 2), (3_000, 0)]
        );
        assert_eq!(store.event_accounts().unwrap(), ["admin", "yamada"]);
        assert!(
            store
                .account_event_times("nobody", 0, i64::MAX)
                .unwrap()
                .is_empty()
        );
    }
}
