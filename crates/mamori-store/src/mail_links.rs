//! Release and cancel links of held mail (docs/api.md, "Mail links").
//!
//! The mail guard (`mamori mailguard`) delays or holds risky outgoing mail and e-mails the
//! sender, and for a hold for approval the approver, a link to a page of `mamori serve` where
//! they send (release) or cancel the message. The link carries a random token; the guard
//! registers only its SHA-256 here ([`EventStore::register_mail_links`]), so neither the
//! store nor its backups can open a link. Each link belongs to the agent (the guard's
//! `ingest` token) that registered it.
//!
//! A decision is taken once per message — `(agent, queue id)`, across the sender's and the
//! approver's links — and never changed: `mail_actions` has one row per message
//! (`UNIQUE(agent, queue_id)`) and nothing updates it. Its `seq` (AUTOINCREMENT, so never
//! reused even after a purge) orders the decisions store-wide; each guard reads its own after
//! the last one it applied ([`EventStore::mail_actions`]).
//!
//! Links are deleted 30 days after they expire, with the decisions on messages that no longer
//! have a link ([`EventStore::purge_mail_links`], run daily by the server).

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::{EventStore, Result, StoreError};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mail_links (
    token_sha256   BLOB PRIMARY KEY, -- SHA-256 of the link's token (the token is never stored)
    agent          TEXT NOT NULL,    -- the agent whose ingest token registered it
    queue_id       TEXT NOT NULL,    -- the message in the guard's queue
    reader         TEXT NOT NULL,    -- sender, approver
    reader_address TEXT NOT NULL,
    sender         TEXT NOT NULL,
    recipients     TEXT NOT NULL,    -- JSON array of addresses
    action         TEXT NOT NULL,    -- delay, hold_sender, hold_approval
    reasons        TEXT NOT NULL,    -- JSON array of {check, en, ja}
    received_us    INTEGER NOT NULL,
    send_at_us     INTEGER,          -- when a delayed message goes out by itself
    expires_us     INTEGER NOT NULL,
    registered_us  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mail_links_message ON mail_links(agent, queue_id);
CREATE INDEX IF NOT EXISTS mail_links_expires ON mail_links(expires_us);
CREATE TABLE IF NOT EXISTS mail_actions (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT, -- store-wide order; never reused
    agent      TEXT NOT NULL,
    queue_id   TEXT NOT NULL,
    action     TEXT NOT NULL, -- release, cancel
    by_address TEXT NOT NULL, -- the reader address of the link used
    reader     TEXT NOT NULL, -- sender, approver: whose link it was
    at_us      INTEGER NOT NULL,
    UNIQUE (agent, queue_id)
);
";

/// How long after its expiry a link (and the decision on its message) is kept.
pub const MAIL_LINK_KEEP_US: i64 = 30 * 24 * 3_600_000_000;

/// The SHA-256 of a link token, if `token` has the shape of one: 43 characters of unpadded
/// base64url encoding 32 bytes (the last character's unused bits zero). Anything else names
/// no link.
pub fn mail_link_token_hash(token: &str) -> Option<[u8; 32]> {
    const LAST: &[u8] = b"AEIMQUYcgkosw048";
    let bytes = token.as_bytes();
    if bytes.len() != 43
        || !bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        || !LAST.contains(&bytes[42])
    {
        return None;
    }
    Some(Sha256::digest(bytes).into())
}

/// Whose link it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailReader {
    Sender,
    Approver,
}

impl MailReader {
    pub fn as_str(self) -> &'static str {
        match self {
            MailReader::Sender => "sender",
            MailReader::Approver => "approver",
        }
    }

    pub fn parse(s: &str) -> Option<MailReader> {
        [MailReader::Sender, MailReader::Approver]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// What the guard did with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailHold {
    /// Sent at `send_at` unless cancelled (or released earlier).
    Delay,
    /// Held until the sender releases or cancels it.
    HoldSender,
    /// Held until an approver releases it; the sender may only cancel it.
    HoldApproval,
}

impl MailHold {
    pub fn as_str(self) -> &'static str {
        match self {
            MailHold::Delay => "delay",
            MailHold::HoldSender => "hold_sender",
            MailHold::HoldApproval => "hold_approval",
        }
    }

    pub fn parse(s: &str) -> Option<MailHold> {
        [
            MailHold::Delay,
            MailHold::HoldSender,
            MailHold::HoldApproval,
        ]
        .into_iter()
        .find(|h| h.as_str() == s)
    }
}

/// What a reader decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailDecision {
    /// Send the message (now).
    Release,
    /// Never send it.
    Cancel,
}

impl MailDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            MailDecision::Release => "release",
            MailDecision::Cancel => "cancel",
        }
    }

    pub fn parse(s: &str) -> Option<MailDecision> {
        [MailDecision::Release, MailDecision::Cancel]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// One reason the guard gave, in both languages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MailReason {
    pub check: String,
    pub en: String,
    pub ja: String,
}

/// A registered link (without its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailLink {
    pub token_sha256: [u8; 32],
    /// The agent that registered it.
    pub agent: String,
    /// The message's queue id in the guard.
    pub id: String,
    pub reader: MailReader,
    pub reader_address: String,
    pub sender: String,
    pub recipients: Vec<String>,
    pub action: MailHold,
    pub reasons: Vec<MailReason>,
    pub received_us: i64,
    pub send_at_us: Option<i64>,
    pub expires_us: i64,
}

/// A decision taken through a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAction {
    pub seq: i64,
    pub agent: String,
    /// The message's queue id.
    pub id: String,
    pub action: MailDecision,
    /// The reader address of the link it was taken through.
    pub by: String,
    /// Whose link that was.
    pub reader: MailReader,
    pub at_us: i64,
}

/// What became of a decision asked for through a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailDecided {
    /// Recorded: the first decision on the message.
    Taken(MailAction),
    /// The message was decided before (through this link or another): that decision stands.
    Already(MailAction),
    /// The link has expired undecided.
    Expired,
    /// A sender's link may not release a message held for approval.
    NotAllowed,
}

const LINK_COLUMNS: &str = "token_sha256, agent, queue_id, reader, reader_address, sender, \
                            recipients, action, reasons, received_us, send_at_us, expires_us";
const ACTION_COLUMNS: &str = "seq, agent, queue_id, action, by_address, reader, at_us";

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("mail link {what}: {detail}"))
}

fn read_link(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<MailLink>> {
    let hash: Vec<u8> = row.get(0)?;
    let reader: String = row.get(3)?;
    let recipients: String = row.get(6)?;
    let action: String = row.get(7)?;
    let reasons: String = row.get(8)?;
    let parsed = (|| {
        Ok(MailLink {
            token_sha256: hash
                .as_slice()
                .try_into()
                .map_err(|_| corrupt("hash", format!("{} bytes", hash.len())))?,
            agent: row.get(1)?,
            id: row.get(2)?,
            reader: MailReader::parse(&reader).ok_or_else(|| corrupt("reader", &reader))?,
            reader_address: row.get(4)?,
            sender: row.get(5)?,
            recipients: serde_json::from_str(&recipients).map_err(|e| corrupt("recipients", e))?,
            action: MailHold::parse(&action).ok_or_else(|| corrupt("action", &action))?,
            reasons: serde_json::from_str(&reasons).map_err(|e| corrupt("reasons", e))?,
            received_us: row.get(9)?,
            send_at_us: row.get(10)?,
            expires_us: row.get(11)?,
        })
    })();
    Ok(parsed)
}

fn read_action(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<MailAction>> {
    let action: String = row.get(3)?;
    let reader: String = row.get(5)?;
    let (Some(decision), Some(reader)) = (MailDecision::parse(&action), MailReader::parse(&reader))
    else {
        return Ok(Err(corrupt(
            "decision",
            format!("{action:?} by {reader:?}"),
        )));
    };
    Ok(Ok(MailAction {
        seq: row.get(0)?,
        agent: row.get(1)?,
        id: row.get(2)?,
        action: decision,
        by: row.get(4)?,
        reader,
        at_us: row.get(6)?,
    }))
}

fn action_of(conn: &rusqlite::Connection, agent: &str, id: &str) -> Result<Option<MailAction>> {
    conn.query_row(
        &format!("SELECT {ACTION_COLUMNS} FROM mail_actions WHERE agent = ?1 AND queue_id = ?2"),
        params![agent, id],
        read_action,
    )
    .optional()?
    .transpose()
}

fn link_of(conn: &rusqlite::Connection, token_sha256: &[u8; 32]) -> Result<Option<MailLink>> {
    conn.query_row(
        &format!("SELECT {LINK_COLUMNS} FROM mail_links WHERE token_sha256 = ?1"),
        [&token_sha256[..]],
        read_link,
    )
    .optional()?
    .transpose()
}

impl EventStore {
    /// Registers links for `agent`; a link whose hash is registered already is left as it is
    /// (a retry), and counted. Returns how many links the request named.
    pub fn register_mail_links(&mut self, links: &[MailLink], now_us: i64) -> Result<usize> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO mail_links(token_sha256, agent, queue_id, reader, reader_address,
                     sender, recipients, action, reasons, received_us, send_at_us, expires_us,
                     registered_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT(token_sha256) DO NOTHING",
            )?;
            for link in links {
                let recipients = serde_json::to_string(&link.recipients)
                    .map_err(|e| corrupt("recipients", e))?;
                let reasons =
                    serde_json::to_string(&link.reasons).map_err(|e| corrupt("reasons", e))?;
                insert.execute(params![
                    &link.token_sha256[..],
                    link.agent,
                    link.id,
                    link.reader.as_str(),
                    link.reader_address,
                    link.sender,
                    recipients,
                    link.action.as_str(),
                    reasons,
                    link.received_us,
                    link.send_at_us,
                    link.expires_us,
                    now_us,
                ])?;
            }
        }
        tx.commit()?;
        Ok(links.len())
    }

    /// The link with this token hash, and the decision on its message if there is one.
    pub fn mail_link(
        &self,
        token_sha256: &[u8; 32],
    ) -> Result<Option<(MailLink, Option<MailAction>)>> {
        let Some(link) = link_of(&self.conn, token_sha256)? else {
            return Ok(None);
        };
        let action = action_of(&self.conn, &link.agent, &link.id)?;
        Ok(Some((link, action)))
    }

    /// Takes `decision` on the message of the link with this hash at `now_us`, unless the
    /// message is decided already, the link has expired, or a sender's link asks to release a
    /// hold for approval. `None`: no such link.
    pub fn decide_mail_link(
        &mut self,
        token_sha256: &[u8; 32],
        decision: MailDecision,
        now_us: i64,
    ) -> Result<Option<(MailLink, MailDecided)>> {
        let tx = self.conn.transaction()?;
        let Some(link) = link_of(&tx, token_sha256)? else {
            return Ok(None);
        };
        if let Some(earlier) = action_of(&tx, &link.agent, &link.id)? {
            return Ok(Some((link, MailDecided::Already(earlier))));
        }
        if now_us >= link.expires_us {
            return Ok(Some((link, MailDecided::Expired)));
        }
        if decision == MailDecision::Release
            && link.action == MailHold::HoldApproval
            && link.reader == MailReader::Sender
        {
            return Ok(Some((link, MailDecided::NotAllowed)));
        }
        tx.execute(
            "INSERT INTO mail_actions(agent, queue_id, action, by_address, reader, at_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                link.agent,
                link.id,
                decision.as_str(),
                link.reader_address,
                link.reader.as_str(),
                now_us
            ],
        )?;
        let taken = action_of(&tx, &link.agent, &link.id)?
            .ok_or_else(|| corrupt("decision", "not found after it was stored"))?;
        tx.commit()?;
        Ok(Some((link, MailDecided::Taken(taken))))
    }

    /// The decisions on `agent`'s messages with `seq` above `after`, oldest first, at most
    /// `limit`.
    pub fn mail_actions(&self, agent: &str, after: i64, limit: usize) -> Result<Vec<MailAction>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {ACTION_COLUMNS} FROM mail_actions WHERE agent = ?1 AND seq > ?2
             ORDER BY seq LIMIT ?3"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![agent, after, limit], read_action)?;
        rows.map(|row| row?).collect()
    }

    /// Deletes the links that expired before `before_us`, and the decisions on messages left
    /// without a link. Returns `(links, decisions)` deleted.
    pub fn purge_mail_links(&mut self, before_us: i64) -> Result<(usize, usize)> {
        let tx = self.conn.transaction()?;
        let links = tx.execute("DELETE FROM mail_links WHERE expires_us < ?1", [before_us])?;
        let actions = if links > 0 {
            tx.execute(
                "DELETE FROM mail_actions WHERE NOT EXISTS (
                     SELECT 1 FROM mail_links AS l
                     WHERE l.agent = mail_actions.agent AND l.queue_id = mail_actions.queue_id)",
                [],
            )?
        } else {
            0
        };
        tx.commit()?;
        Ok((links, actions))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const TOKEN_SENDER: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const TOKEN_APPROVER: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA";

    fn link(token: &str, agent: &str, id: &str, reader: MailReader, hold: MailHold) -> MailLink {
        MailLink {
            token_sha256: mail_link_token_hash(token).unwrap(),
            agent: agent.into(),
            id: id.into(),
            reader,
            reader_address: match reader {
                MailReader::Sender => "taro@example.co.jp".into(),
                MailReader::Approver => "boss@example.co.jp".into(),
            },
            sender: "taro@example.co.jp".into(),
            recipients: vec!["bob@examp1e.co.jp".into()],
            action: hold,
            reasons: vec![MailReason {
                check: "lookalike_domain".into(),
                en: "look-alike".into(),
                ja: "類似ドメイン".into(),
            }],
            received_us: 100,
            send_at_us: None,
            expires_us: 1_000,
        }
    }

    #[test]
    fn only_tokens_of_the_link_shape_hash() {
        assert!(mail_link_token_hash(TOKEN_SENDER).is_some());
        assert_eq!(
            mail_link_token_hash(TOKEN_SENDER).unwrap(),
            <[u8; 32]>::from(Sha256::digest(TOKEN_SENDER.as_bytes()))
        );
        for bad in [
            "",
            "short",
            &TOKEN_SENDER[..42],
            &format!("{TOKEN_SENDER}A"),
            // The last character would carry bits beyond the 32 bytes.
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+A",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAあ",
        ] {
            assert!(mail_link_token_hash(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_first_decision_on_a_message_wins_and_each_agent_reads_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        let sender = link(
            TOKEN_SENDER,
            "guard-1",
            "Q1",
            MailReader::Sender,
            MailHold::HoldApproval,
        );
        let approver = link(
            TOKEN_APPROVER,
            "guard-1",
            "Q1",
            MailReader::Approver,
            MailHold::HoldApproval,
        );
        assert_eq!(
            store
                .register_mail_links(&[sender.clone(), approver.clone()], 50)
                .unwrap(),
            2
        );
        // A retry changes nothing.
        assert_eq!(
            store
                .register_mail_links(std::slice::from_ref(&sender), 60)
                .unwrap(),
            1
        );
        let (found, decided) = store.mail_link(&sender.token_sha256).unwrap().unwrap();
        assert_eq!(found, sender);
        assert_eq!(decided, None);
        assert!(store.mail_link(&[0; 32]).unwrap().is_none());
        assert!(
            store
                .decide_mail_link(&[0; 32], MailDecision::Cancel, 200)
                .unwrap()
                .is_none()
        );

        // The sender may not release a hold for approval; the approver may.
        let (_, refused) = store
            .decide_mail_link(&sender.token_sha256, MailDecision::Release, 200)
            .unwrap()
            .unwrap();
        assert_eq!(refused, MailDecided::NotAllowed);
        let (_, taken) = store
            .decide_mail_link(&approver.token_sha256, MailDecision::Release, 300)
            .unwrap()
            .unwrap();
        let MailDecided::Taken(action) = taken else {
            panic!("{taken:?}")
        };
        assert_eq!(
            (action.id.as_str(), action.action, action.by.as_str()),
            ("Q1", MailDecision::Release, "boss@example.co.jp")
        );
        assert_eq!(action.reader, MailReader::Approver);
        // Later decisions through either link find the first.
        let (_, again) = store
            .decide_mail_link(&sender.token_sha256, MailDecision::Cancel, 400)
            .unwrap()
            .unwrap();
        assert_eq!(again, MailDecided::Already(action.clone()));
        assert_eq!(
            store.mail_link(&sender.token_sha256).unwrap().unwrap().1,
            Some(action.clone())
        );

        // Another agent's message of the same id is its own; expiry is checked.
        let other = link(
            "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCA",
            "guard-2",
            "Q1",
            MailReader::Sender,
            MailHold::Delay,
        );
        store
            .register_mail_links(std::slice::from_ref(&other), 50)
            .unwrap();
        let (_, expired) = store
            .decide_mail_link(&other.token_sha256, MailDecision::Cancel, 1_000)
            .unwrap()
            .unwrap();
        assert_eq!(expired, MailDecided::Expired);
        let (_, cancelled) = store
            .decide_mail_link(&other.token_sha256, MailDecision::Cancel, 999)
            .unwrap()
            .unwrap();
        assert!(matches!(cancelled, MailDecided::Taken(_)), "{cancelled:?}");

        let mine = store.mail_actions("guard-1", 0, 500).unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0], action);
        assert!(
            store
                .mail_actions("guard-1", action.seq, 500)
                .unwrap()
                .is_empty()
        );
        let theirs = store.mail_actions("guard-2", 0, 500).unwrap();
        assert_eq!(theirs.len(), 1);
        assert!(theirs[0].seq > action.seq);
        assert!(store.mail_actions("nobody", 0, 500).unwrap().is_empty());

        // Purging: links expired before the time go, with decisions left without a link; a
        // later decision never reuses a purged seq.
        assert_eq!(store.purge_mail_links(1_000).unwrap(), (0, 0));
        assert_eq!(store.purge_mail_links(1_001).unwrap(), (3, 2));
        assert!(store.mail_link(&sender.token_sha256).unwrap().is_none());
        let fresh = link(
            TOKEN_SENDER,
            "guard-2",
            "Q2",
            MailReader::Sender,
            MailHold::HoldSender,
        );
        store
            .register_mail_links(std::slice::from_ref(&fresh), 1_100)
            .unwrap();
        let (_, taken) = store
            .decide_mail_link(&fresh.token_sha256, MailDecision::Release, 500)
            .unwrap()
            .unwrap();
        let MailDecided::Taken(fresh_action) = taken else {
            panic!("{taken:?}")
        };
        assert!(fresh_action.seq > theirs[0].seq);
    }
}
