//! The sync log: one line per thing that went up or failed to, for the sync screen.

use rusqlite::params;
use serde::Serialize;

use super::{Store, StoreError};

/// How many entries are kept.
const KEEP: i64 = 5_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LogEntry {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub id: i64,
    /// Unix seconds.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub at: i64,
    /// `claim`, `reports`, `update`, `copy` or `sign-in`.
    pub kind: String,
    /// What it was about (a device slug, a count).
    pub subject: String,
    pub ok: bool,
    pub detail: String,
}

impl Store {
    pub fn log(
        &self,
        kind: &str,
        subject: &str,
        ok: bool,
        detail: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO sync_log (at, kind, subject, ok, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![now, kind, subject, ok, detail],
        )?;
        self.conn.execute(
            "DELETE FROM sync_log WHERE id <= (SELECT max(id) FROM sync_log) - ?1",
            [KEEP],
        )?;
        Ok(())
    }

    /// The newest entries first.
    pub fn recent_log(&self, limit: u32) -> Result<Vec<LogEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, at, kind, subject, ok, detail FROM sync_log ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok(LogEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                kind: r.get(2)?,
                subject: r.get(3)?,
                ok: r.get(4)?,
                detail: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
