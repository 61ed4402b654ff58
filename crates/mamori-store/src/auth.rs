//! Who may use Mamori: local users with roles and argon2id passwords, and bearer tokens for
//! users (API, SCIM) and enrolled agents (ingest).
//!
//! Passwords are stored as argon2id PHC strings (OWASP's parameters: 19 MiB, 2 passes). A new
//! user gets a one-time password that must be changed at first login. Five failed logins in a
//! row lock the account for 15 minutes; an unknown name costs the same argon2 work as a known
//! one, so timing does not tell which names exist.
//!
//! A browser signs in to a **session**: a random 256-bit cookie value whose SHA-256 is kept
//! (like tokens), ending after [`SESSION_IDLE_US`] without use or [`SESSION_MAX_US`] after
//! sign-in, and when the user changes their password. Its CSRF token is derived from the
//! cookie value (SHA-256 under a fixed label), so it needs no storage and cannot be computed
//! by a page that cannot read the cookie. Passwords are only ever checked here; an OIDC
//! sign-in would start the same sessions with [`EventStore::start_session`].
//!
//! A token is `mmr_<id>_<secret>`: `id` (12 hex digits) finds the row, `secret` (32 random
//! bytes, base64url) is checked against its SHA-256 in constant time. Tokens carry 256 bits of
//! randomness, so a fast hash is enough: argon2 protects guessable secrets. Only the hash is
//! stored; the token itself is shown once.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{EventStore, Result, StoreError};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL,
    password_hash   TEXT NOT NULL, -- argon2id PHC string
    must_change     INTEGER NOT NULL, -- the password is a one-time password
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until_us INTEGER,
    created_us      INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash      BLOB PRIMARY KEY, -- SHA-256 of the cookie value
    user         TEXT NOT NULL,
    created_us   INTEGER NOT NULL,
    last_seen_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (
    id          TEXT PRIMARY KEY, -- the token's public part
    owner_kind  TEXT NOT NULL,    -- user, agent
    owner       TEXT NOT NULL,    -- user or agent name
    scope       TEXT NOT NULL,    -- api, scim, ingest
    secret_hash BLOB NOT NULL,    -- SHA-256 of the secret part
    created_us  INTEGER NOT NULL,
    expires_us  INTEGER,
    revoked_us  INTEGER
) WITHOUT ROWID;
-- What a user chose in the console: language and time zone (NULL: not chosen).
CREATE TABLE IF NOT EXISTS user_preferences (
    name TEXT PRIMARY KEY,
    lang TEXT,
    tz   TEXT
) WITHOUT ROWID;
";

/// Failed logins in a row that lock an account.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// How long a locked account stays locked.
pub const LOCKOUT_US: i64 = 15 * 60 * 1_000_000;
/// A session ends after this long without a request.
pub const SESSION_IDLE_US: i64 = 30 * 60 * 1_000_000;
/// A session ends this long after sign-in, used or not.
pub const SESSION_MAX_US: i64 = 12 * 60 * 60 * 1_000_000;
/// Shortest password a user may choose.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// What a user may do; every API route names the roles it admits (default deny).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Configuration; no case content.
    Admin,
    /// The pseudonymised view.
    Analyst,
    /// May request a reveal inside a case.
    Investigator,
    /// The second person for reveals and exports under dual control.
    Approver,
    /// The access log only.
    Auditor,
    /// Their own transparency page.
    Employee,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Analyst,
        Role::Investigator,
        Role::Approver,
        Role::Auditor,
        Role::Employee,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Investigator => "investigator",
            Role::Approver => "approver",
            Role::Auditor => "auditor",
            Role::Employee => "employee",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The JSON API, with the owner's role.
    Api,
    /// The SCIM provisioning endpoint.
    Scim,
    /// Sending events (agents and forwarders).
    Ingest,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Api => "api",
            Scope::Scim => "scim",
            Scope::Ingest => "ingest",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        [Scope::Api, Scope::Scim, Scope::Ingest]
            .into_iter()
            .find(|scope| scope.as_str() == text)
    }
}

/// Who holds a token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum Owner {
    User(String),
    Agent(String),
}

impl Owner {
    fn columns(&self) -> (&'static str, &str) {
        match self {
            Owner::User(name) => ("user", name),
            Owner::Agent(name) => ("agent", name),
        }
    }

    fn from_columns(kind: &str, name: String) -> Result<Owner> {
        match kind {
            "user" => Ok(Owner::User(name)),
            "agent" => Ok(Owner::Agent(name)),
            other => Err(StoreError::Corrupt(format!("token owner kind {other:?}"))),
        }
    }
}

/// A user as listed (never with the password hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// The password is a one-time password: it must be changed before anything else.
    pub must_change_password: bool,
    pub locked_until_us: Option<i64>,
    pub created_us: i64,
}

/// A user's console preferences.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Preferences {
    /// `ja` or `en`.
    pub lang: Option<String>,
    /// An IANA time zone name such as `Asia/Tokyo`.
    pub tz: Option<String>,
}

/// The outcome of a login attempt. The reasons are for logs and the audit trail; a login form
/// shows every refusal alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    Accepted(User),
    /// Unknown name or wrong password.
    Refused,
    /// Too many failures: no password is checked until then.
    Locked {
        until_us: i64,
    },
}

/// What a login attempt is checked against (from [`EventStore::login_check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginCheck {
    Locked { until_us: i64 },
    Verify(PasswordHash),
}

/// An argon2id PHC string (never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

/// Whether `password` matches `hash`: the slow argon2 work, free of the store so it can run
/// off the thread that owns it.
pub fn verify_password(hash: &PasswordHash, password: &str) -> bool {
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), hash.0.as_str())
        .is_ok()
}

/// The CSRF token of a session: state-changing requests made with the session's cookie must
/// send it in `X-CSRF-Token`. Derived, not stored: only someone who knows the cookie value
/// (the browser, which got both at sign-in) can know it.
pub fn csrf_token(cookie: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"mamori csrf v1\0");
    hasher.update(cookie.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hasher.finalize())
}

/// Whether `sent` is the CSRF token of the session `cookie`, compared in constant time.
pub fn csrf_matches(cookie: &str, sent: &str) -> bool {
    csrf_token(cookie).as_bytes().ct_eq(sent.as_bytes()).into()
}

/// A token as listed (never with its secret or hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub owner: Owner,
    pub scope: Scope,
    pub created_us: i64,
    pub expires_us: Option<i64>,
    pub revoked_us: Option<i64>,
}

impl EventStore {
    /// Adds a user and returns their one-time password (shown once, changed at first login).
    pub fn add_user(&mut self, name: &str, role: Role, now_us: i64) -> Result<String> {
        let name = valid_name(name)?;
        let password = random_text(15)?;
        let hash = hash_password(&password)?;
        let inserted = self.conn.execute(
            "INSERT OR IGNORE INTO users(name, role, password_hash, must_change, created_us)
             VALUES (?1, ?2, ?3, 1, ?4)",
            params![name, role.as_str(), hash, now_us],
        )?;
        if inserted == 0 {
            return Err(StoreError::Invalid(format!("user {name:?} exists already")));
        }
        Ok(password)
    }

    /// One user by name.
    pub fn user(&self, name: &str) -> Result<Option<User>> {
        self.conn
            .query_row(
                "SELECT name, role, must_change, locked_until_us, created_us FROM users
                 WHERE name = ?1",
                [name],
                |row| Ok(user_of(row)),
            )
            .optional()?
            .transpose()
    }

    pub fn users(&self) -> Result<Vec<User>> {
        let mut stmt = self.conn.prepare(
            "SELECT name, role, must_change, locked_until_us, created_us FROM users ORDER BY name",
        )?;
        let mut rows = stmt.query([])?;
        let mut users = Vec::new();
        while let Some(row) = rows.next()? {
            users.push(user_of(row)?);
        }
        Ok(users)
    }

    /// Checks a password, counting failures towards the lockout and resetting them on success.
    /// The argon2 work runs on this thread; a server holding the store on one thread uses
    /// [`EventStore::login_check`], [`verify_password`] elsewhere, then
    /// [`EventStore::record_login`].
    pub fn check_password(&mut self, name: &str, password: &str, now_us: i64) -> Result<Login> {
        let hash = match self.login_check(name, now_us)? {
            LoginCheck::Locked { until_us } => return Ok(Login::Locked { until_us }),
            LoginCheck::Verify(hash) => hash,
        };
        let matches = verify_password(&hash, password);
        self.record_login(name, matches, now_us)
    }

    /// What a password must be verified against: the user's hash, or a decoy for an unknown
    /// name (the same work, so timing does not tell which names exist); nothing while locked.
    pub fn login_check(&self, name: &str, now_us: i64) -> Result<LoginCheck> {
        let found: Option<(String, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT password_hash, locked_until_us FROM users WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(match found {
            None => LoginCheck::Verify(PasswordHash(decoy_hash().to_string())),
            Some((_, Some(until_us))) if until_us > now_us => LoginCheck::Locked { until_us },
            Some((hash, _)) => LoginCheck::Verify(PasswordHash(hash)),
        })
    }

    /// Records a verified attempt: a success resets the failure count, a failure counts
    /// towards the lockout. An unknown name is refused whatever `matched` says.
    pub fn record_login(&mut self, name: &str, matched: bool, now_us: i64) -> Result<Login> {
        let Some(user) = self.user(name)? else {
            return Ok(Login::Refused);
        };
        if let Some(until_us) = user.locked_until_us.filter(|&until| until > now_us) {
            return Ok(Login::Locked { until_us });
        }
        if matched {
            self.conn.execute(
                "UPDATE users SET failed_logins = 0, locked_until_us = NULL WHERE name = ?1",
                [name],
            )?;
            return Ok(Login::Accepted(User {
                locked_until_us: None,
                ..user
            }));
        }
        self.conn.execute(
            "UPDATE users SET failed_logins = failed_logins + 1,
                 locked_until_us = CASE WHEN failed_logins + 1 >= ?2 THEN ?3 END
             WHERE name = ?1",
            params![name, MAX_FAILED_LOGINS, now_us.saturating_add(LOCKOUT_US)],
        )?;
        Ok(Login::Refused)
    }

    /// Starts a session for `user` (after a verified login): returns the cookie value, shown
    /// once; only its hash is kept.
    pub fn start_session(&mut self, user: &str, now_us: i64) -> Result<String> {
        let mut secret = [0u8; 32];
        random(&mut secret)?;
        let cookie = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        self.conn.execute(
            "DELETE FROM sessions WHERE last_seen_us < ?1 OR created_us < ?2",
            params![
                now_us.saturating_sub(SESSION_IDLE_US),
                now_us.saturating_sub(SESSION_MAX_US)
            ],
        )?;
        self.conn.execute(
            "INSERT INTO sessions(id_hash, user, created_us, last_seen_us) VALUES (?1, ?2, ?3, ?3)",
            params![&Sha256::digest(cookie.as_bytes())[..], user, now_us],
        )?;
        Ok(cookie)
    }

    /// The user of a live session, marking it used; `None` for an unknown, idle or expired
    /// session (which is then deleted).
    pub fn session_user(&mut self, cookie: &str, now_us: i64) -> Result<Option<User>> {
        let id_hash = Sha256::digest(cookie.as_bytes());
        let found: Option<(String, i64, i64)> = self
            .conn
            .query_row(
                "SELECT user, created_us, last_seen_us FROM sessions WHERE id_hash = ?1",
                [&id_hash[..]],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((name, created_us, last_seen_us)) = found else {
            return Ok(None);
        };
        if now_us.saturating_sub(last_seen_us) >= SESSION_IDLE_US
            || now_us.saturating_sub(created_us) >= SESSION_MAX_US
        {
            self.conn
                .execute("DELETE FROM sessions WHERE id_hash = ?1", [&id_hash[..]])?;
            return Ok(None);
        }
        // A write per request is wasted work; a minute's precision is plenty for 30 minutes.
        if now_us.saturating_sub(last_seen_us) > 60_000_000 {
            self.conn.execute(
                "UPDATE sessions SET last_seen_us = ?2 WHERE id_hash = ?1",
                params![&id_hash[..], now_us],
            )?;
        }
        self.user(&name)
    }

    /// Ends a session (sign-out); `false` if there was none.
    pub fn end_session(&mut self, cookie: &str) -> Result<bool> {
        let id_hash = Sha256::digest(cookie.as_bytes());
        Ok(self
            .conn
            .execute("DELETE FROM sessions WHERE id_hash = ?1", [&id_hash[..]])?
            == 1)
    }

    /// Ends every session of `user` but the one whose cookie is `keep`.
    pub fn end_sessions_of(&mut self, user: &str, keep: Option<&str>) -> Result<usize> {
        let keep = keep.map(|cookie| Sha256::digest(cookie.as_bytes()).to_vec());
        Ok(self.conn.execute(
            "DELETE FROM sessions WHERE user = ?1 AND id_hash IS NOT ?2",
            params![user, keep],
        )?)
    }

    /// The language and time zone `name` chose, where they chose one.
    pub fn preferences(&self, name: &str) -> Result<Preferences> {
        Ok(self
            .conn
            .query_row(
                "SELECT lang, tz FROM user_preferences WHERE name = ?1",
                [name],
                |r| {
                    Ok(Preferences {
                        lang: r.get(0)?,
                        tz: r.get(1)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Changes the preferences given (`Some`), keeping the others; the caller checks values.
    pub fn set_preferences(&mut self, name: &str, changes: &Preferences) -> Result<Preferences> {
        let mut preferences = self.preferences(name)?;
        if let Some(lang) = &changes.lang {
            preferences.lang = Some(lang.clone());
        }
        if let Some(tz) = &changes.tz {
            preferences.tz = Some(tz.clone());
        }
        self.conn.execute(
            "INSERT OR REPLACE INTO user_preferences(name, lang, tz) VALUES (?1, ?2, ?3)",
            params![name, preferences.lang, preferences.tz],
        )?;
        Ok(preferences)
    }

    /// Sets a user's own password (which also ends a one-time password's validity). The
    /// caller ends the user's other sessions ([`EventStore::end_sessions_of`]).
    pub fn set_password(&mut self, name: &str, password: &str) -> Result<()> {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(StoreError::Invalid(format!(
                "a password needs at least {MIN_PASSWORD_CHARS} characters"
            )));
        }
        let hash = hash_password(password)?;
        let updated = self.conn.execute(
            "UPDATE users SET password_hash = ?2, must_change = 0 WHERE name = ?1",
            params![name, hash],
        )?;
        if updated == 0 {
            return Err(StoreError::Invalid(format!("no user {name:?}")));
        }
        Ok(())
    }

    /// Creates a token for `owner` and returns it (shown once; only its hash is kept). A user
    /// must exist; an agent is enrolled by its first token.
    pub fn create_token(
        &mut self,
        owner: &Owner,
        scope: Scope,
        expires_us: Option<i64>,
        now_us: i64,
    ) -> Result<String> {
        let (kind, name) = owner.columns();
        let name = valid_name(name)?;
        if let Owner::User(user) = owner {
            let exists: bool = self.conn.query_row(
                "SELECT EXISTS(SELECT 1 FROM users WHERE name = ?1)",
                [user],
                |r| r.get(0),
            )?;
            if !exists {
                return Err(StoreError::Invalid(format!("no user {user:?}")));
            }
        }
        let mut id = [0u8; 6];
        let mut secret = [0u8; 32];
        random(&mut id)?;
        random(&mut secret)?;
        let (id, secret) = (
            hex::encode(id),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
        );
        self.conn.execute(
            "INSERT INTO tokens(id, owner_kind, owner, scope, secret_hash, created_us, expires_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                kind,
                name,
                scope.as_str(),
                &Sha256::digest(secret.as_bytes())[..],
                now_us,
                expires_us
            ],
        )?;
        Ok(format!("mmr_{id}_{secret}"))
    }

    /// The token's owner and scope if the token is known, unexpired and not revoked.
    pub fn authenticate_token(&self, token: &str, now_us: i64) -> Result<Option<TokenInfo>> {
        let Some((id, secret)) = token
            .strip_prefix("mmr_")
            .and_then(|rest| rest.split_once('_'))
        else {
            return Ok(None);
        };
        let found = self
            .conn
            .query_row(
                &format!("SELECT {TOKEN_COLUMNS}, secret_hash FROM tokens WHERE id = ?1"),
                [id],
                |row| Ok((token_of(row), row.get::<_, Vec<u8>>(7)?)),
            )
            .optional()?;
        let Some((info, stored)) = found else {
            return Ok(None);
        };
        let info = info?;
        let matches: bool = Sha256::digest(secret.as_bytes())[..].ct_eq(&stored).into();
        let live = info.revoked_us.is_none() && info.expires_us.is_none_or(|end| end > now_us);
        Ok((matches && live).then_some(info))
    }

    pub fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_us, id"
        ))?;
        let mut rows = stmt.query([])?;
        let mut tokens = Vec::new();
        while let Some(row) = rows.next()? {
            tokens.push(token_of(row)?);
        }
        Ok(tokens)
    }

    /// Revokes a token by id; `false` when there is no such live token.
    pub fn revoke_token(&mut self, id: &str, now_us: i64) -> Result<bool> {
        let updated = self.conn.execute(
            "UPDATE tokens SET revoked_us = ?2 WHERE id = ?1 AND revoked_us IS NULL",
            params![id, now_us],
        )?;
        Ok(updated == 1)
    }
}

/// The hash of a random password nobody knows, verified against for unknown names.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        random_text(15)
            .and_then(|password| hash_password(&password))
            .unwrap_or_default()
    })
}

const TOKEN_COLUMNS: &str = "id, owner_kind, owner, scope, created_us, expires_us, revoked_us";

fn token_of(row: &rusqlite::Row<'_>) -> Result<TokenInfo> {
    let scope: String = row.get(3)?;
    Ok(TokenInfo {
        id: row.get(0)?,
        owner: Owner::from_columns(&row.get::<_, String>(1)?, row.get(2)?)?,
        scope: Scope::parse(&scope)
            .ok_or_else(|| StoreError::Corrupt(format!("token scope {scope:?}")))?,
        created_us: row.get(4)?,
        expires_us: row.get(5)?,
        revoked_us: row.get(6)?,
    })
}

fn user_of(row: &rusqlite::Row<'_>) -> Result<User> {
    let role: String = row.get(1)?;
    Ok(User {
        name: row.get(0)?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
        must_change_password: row.get(2)?,
        locked_until_us: row.get(3)?,
        created_us: row.get(4)?,
    })
}

/// User and agent names: 1–64 characters of letters, digits, `.`, `_`, `-` and `@` (they
/// appear in logs and the access trail, so nothing that could pass for structure there).
fn valid_name(name: &str) -> Result<&str> {
    let ok = (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(name)
    } else {
        Err(StoreError::Invalid(format!(
            "{name:?} is not a valid name (1-64 letters, digits, '.', '_', '-', '@')"
        )))
    }
}

fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    random(&mut salt)?;
    argon2::Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| StoreError::Corrupt(format!("argon2: {e}")))
}

/// `bytes` random bytes as base64url text (a one-time password of 8·`bytes` bits).
fn random_text(bytes: usize) -> Result<String> {
    let mut raw = vec![0u8; bytes];
    random(&mut raw)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}

fn random(bytes: &mut [u8]) -> Result<()> {
    getrandom::fill(bytes).map_err(|e| StoreError::Corrupt(format!("random number generator: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn store() -> (tempfile::TempDir, EventStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = EventStore::open(&dir.path().join("s.sqlite")).unwrap();
        (dir, store)
    }

    #[test]
    fn a_new_user_logs_in_once_with_the_one_time_password_then_must_change_it() {
        let (_dir, mut store) = store();
        let password = store.add_user("aoki", Role::Analyst, 1).unwrap();
        assert_eq!(password.len(), 20);
        let Login::Accepted(user) = store.check_password("aoki", &password, 2).unwrap() else {
            panic!("refused")
        };
        assert_eq!(user.role, Role::Analyst);
        assert!(user.must_change_password);
        assert!(store.set_password("aoki", "short").is_err());
        store.set_password("aoki", "correct horse battery").unwrap();
        assert_eq!(
            store.check_password("aoki", &password, 3).unwrap(),
            Login::Refused
        );
        let Login::Accepted(user) = store
            .check_password("aoki", "correct horse battery", 4)
            .unwrap()
        else {
            panic!("refused")
        };
        assert!(!user.must_change_password);
        // Stored as argon2id, never as given.
        let hash: String = store
            .conn
            .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(store.add_user("aoki", Role::Admin, 5).is_err());
        assert!(store.add_user("bad name", Role::Admin, 5).is_err());
    }

    #[test]
    fn five_failures_lock_the_account_for_fifteen_minutes() {
        let (_dir, mut store) = store();
        let password = store.add_user("ito", Role::Auditor, 0).unwrap();
        for attempt in 0..MAX_FAILED_LOGINS {
            assert_eq!(
                store.check_password("ito", "guess", attempt).unwrap(),
                Login::Refused
            );
        }
        let until_us = MAX_FAILED_LOGINS - 1 + LOCKOUT_US;
        // Even the right password is not checked while locked.
        assert_eq!(
            store.check_password("ito", &password, 100).unwrap(),
            Login::Locked { until_us }
        );
        assert!(matches!(
            store.check_password("ito", &password, until_us).unwrap(),
            Login::Accepted(_)
        ));
        assert_eq!(store.users().unwrap()[0].locked_until_us, None);
        assert_eq!(
            store.check_password("nobody", "guess", 0).unwrap(),
            Login::Refused
        );
    }

    #[test]
    fn tokens_authenticate_until_they_expire_or_are_revoked() {
        let (_dir, mut store) = store();
        let agent = Owner::Agent("pc-0042".into());
        let token = store
            .create_token(&agent, Scope::Ingest, Some(100), 1)
            .unwrap();
        let info = store.authenticate_token(&token, 50).unwrap().unwrap();
        assert_eq!((info.owner, info.scope), (agent, Scope::Ingest));
        assert_eq!(store.authenticate_token(&token, 100).unwrap(), None);
        // A changed secret, a wrong shape, an unknown id.
        let mut forged = token.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(store.authenticate_token(&forged, 50).unwrap(), None);
        assert_eq!(store.authenticate_token("Bearer x", 50).unwrap(), None);
        assert_eq!(
            store
                .authenticate_token("mmr_000000000000_abc", 50)
                .unwrap(),
            None
        );
        // Users' tokens need the user; none expires unless asked.
        assert!(
            store
                .create_token(&Owner::User("ghost".into()), Scope::Api, None, 1)
                .is_err()
        );
        store.add_user("sato", Role::Investigator, 1).unwrap();
        let user = Owner::User("sato".into());
        let api = store.create_token(&user, Scope::Api, None, 2).unwrap();
        assert!(store.authenticate_token(&api, i64::MAX).unwrap().is_some());
        let id = &store.tokens().unwrap()[1].id;
        assert!(api.contains(id.as_str()));
        assert!(store.revoke_token(id, 3).unwrap());
        assert!(!store.revoke_token(id, 4).unwrap());
        assert_eq!(store.authenticate_token(&api, 5).unwrap(), None);
        // Only the hash is stored.
        let secret = api.strip_prefix("mmr_").unwrap().split_once('_').unwrap().1;
        let stored: Vec<u8> = store
            .conn
            .query_row("SELECT secret_hash FROM tokens WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(stored, Sha256::digest(secret.as_bytes()).to_vec());
    }

    #[test]
    fn sessions_end_when_idle_too_long_old_or_signed_out() {
        let (_dir, mut store) = store();
        store.add_user("mori", Role::Analyst, 0).unwrap();
        let cookie = store.start_session("mori", 0).unwrap();
        assert_eq!(
            store.session_user(&cookie, 1).unwrap().unwrap().name,
            "mori"
        );
        // Used every 20 minutes it lives until its 12 hours are up.
        let mut now = 0;
        while now + 20 * 60 * 1_000_000 < SESSION_MAX_US {
            now += 20 * 60 * 1_000_000;
            assert!(store.session_user(&cookie, now).unwrap().is_some(), "{now}");
        }
        assert!(
            store
                .session_user(&cookie, SESSION_MAX_US)
                .unwrap()
                .is_none()
        );
        // Idle for 30 minutes: gone, and stays gone.
        let idle = store.start_session("mori", 0).unwrap();
        assert!(
            store
                .session_user(&idle, SESSION_IDLE_US)
                .unwrap()
                .is_none()
        );
        assert!(store.session_user(&idle, 1).unwrap().is_none());
        // Signed out; other sessions ended by a password change.
        let a = store.start_session("mori", 0).unwrap();
        let b = store.start_session("mori", 0).unwrap();
        assert_eq!(store.end_sessions_of("mori", Some(&a)).unwrap(), 1);
        assert!(store.session_user(&b, 1).unwrap().is_none());
        assert!(store.end_session(&a).unwrap());
        assert!(store.session_user(&a, 1).unwrap().is_none());
        assert!(store.session_user("forged", 1).unwrap().is_none());
        // Only the hash of the cookie is stored.
        let stored: i64 = store
            .conn
            .query_row(
                "SELECT count(*) FROM sessions WHERE id_hash = ?1",
                [&Sha256::digest(a.as_bytes())[..]],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, 0);
    }

    #[test]
    fn the_csrf_token_belongs_to_its_session() {
        let token = csrf_token("cookie-a");
        assert!(csrf_matches("cookie-a", &token));
        assert!(!csrf_matches("cookie-b", &token));
        assert!(!csrf_matches("cookie-a", ""));
        assert_ne!(token, "cookie-a");
    }

    #[test]
    fn a_login_checked_off_the_store_counts_like_one_checked_in_it() {
        let (_dir, mut store) = store();
        let password = store.add_user("ueda", Role::Approver, 0).unwrap();
        let LoginCheck::Verify(hash) = store.login_check("ueda", 1).unwrap() else {
            panic!("locked")
        };
        assert!(verify_password(&hash, &password));
        assert!(!verify_password(&hash, "guess"));
        assert!(matches!(
            store.record_login("ueda", true, 1).unwrap(),
            Login::Accepted(_)
        ));
        // An unknown name verifies against a decoy and is refused.
        let LoginCheck::Verify(decoy) = store.login_check("nobody", 1).unwrap() else {
            panic!("locked")
        };
        assert!(!verify_password(&decoy, &password));
        assert_eq!(
            store.record_login("nobody", true, 1).unwrap(),
            Login::Refused
        );
        for _ in 0..MAX_FAILED_LOGINS {
            store.record_login("ueda", false, 2).unwrap();
        }
        assert!(matches!(
            store.login_check("ueda", 3).unwrap(),
            LoginCheck::Locked { .. }
        ));
        assert!(format!("{hash:?}").ends_with("(..)"));
    }
}
