//! The app's own SQLite file, one per signed-in user beside their report buffer: the
//! session, the offline copy of what the user may see, the claims queue and the sync log.
//! Opened 0600 (it holds the user's token), WAL, `synchronous=FULL`.

mod claims;
mod copy;
mod log;

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

pub use claims::{Claim, ClaimState};
pub use copy::{Copy, CopyDevice, CopyOrg, CopyProject};
pub use log::LogEntry;

/// Migration `i` takes `user_version` from `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_init.sql")];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the app's database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the app's database file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the app's database is newer ({0}) than this app knows; update the app")]
    TooNew(u32),
    #[error("the stored {0} does not read back: {1}")]
    Corrupt(&'static str, String),
}

/// Who is signed in, and with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub cloud: String,
    pub email: String,
    pub username: String,
    pub token: Option<String>,
    /// Unix seconds.
    pub token_expires: Option<i64>,
    pub signed_in_at: i64,
}

pub struct Store {
    conn: Connection,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        // Created 0600 before SQLite opens it: the file holds the user's token.
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX);
        if version > known {
            return Err(StoreError::TooNew(version));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tx.commit()?;
        }
        Ok(Store { conn })
    }

    pub fn session(&self) -> Result<Option<Session>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT cloud, email, username, token, token_expires, signed_in_at \
                 FROM session WHERE id = 1",
                [],
                |r| {
                    Ok(Session {
                        cloud: r.get(0)?,
                        email: r.get(1)?,
                        username: r.get(2)?,
                        token: r.get(3)?,
                        token_expires: r.get(4)?,
                        signed_in_at: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn save_session(&self, session: &Session) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO session (id, cloud, email, username, token, token_expires, signed_in_at) \
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (id) DO UPDATE SET cloud = excluded.cloud, email = excluded.email, \
             username = excluded.username, token = excluded.token, \
             token_expires = excluded.token_expires, signed_in_at = excluded.signed_in_at",
            params![
                session.cloud,
                session.email,
                session.username,
                session.token,
                session.token_expires,
                session.signed_in_at
            ],
        )?;
        Ok(())
    }

    /// A refreshed token (same sign-in).
    pub fn set_token(&self, token: &str, expires: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE session SET token = ?1, token_expires = ?2 WHERE id = 1",
            params![token, expires],
        )?;
        Ok(())
    }

    /// Signing out forgets the token; the copy, the queue and the buffer stay.
    pub fn forget_token(&self) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE session SET token = NULL, token_expires = NULL WHERE id = 1",
            [],
        )?;
        Ok(())
    }
}
