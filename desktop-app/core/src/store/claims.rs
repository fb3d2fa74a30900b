//! The claims queue: a claim made on site waits here, `pending`, until the cloud accepts
//! or refuses it; then it stays, settled, so the technician sees what became of it.

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ClaimState {
    Pending,
    Accepted,
    Refused,
}

impl ClaimState {
    fn as_str(self) -> &'static str {
        match self {
            ClaimState::Pending => "pending",
            ClaimState::Accepted => "accepted",
            ClaimState::Refused => "refused",
        }
    }

    fn parse(text: &str) -> ClaimState {
        match text {
            "accepted" => ClaimState::Accepted,
            "refused" => ClaimState::Refused,
            _ => ClaimState::Pending,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Claim {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub id: i64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub device: u64,
    /// The project's UUID.
    pub project: String,
    pub state: ClaimState,
    /// Why the cloud refused, or why the last attempt did not reach it.
    pub reason: Option<String>,
    /// Unix seconds.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub queued_at: i64,
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub settled_at: Option<i64>,
    pub attempts: u32,
}

const COLUMNS: &str =
    "id, device, project, state, reason, queued_at, settled_at, attempts FROM claims";

fn claim(r: &Row<'_>) -> rusqlite::Result<Claim> {
    Ok(Claim {
        id: r.get(0)?,
        device: u64::try_from(r.get::<_, i64>(1)?).unwrap_or_default(),
        project: r.get(2)?,
        state: ClaimState::parse(&r.get::<_, String>(3)?),
        reason: r.get(4)?,
        queued_at: r.get(5)?,
        settled_at: r.get(6)?,
        attempts: r.get(7)?,
    })
}

fn device_sql(device: u64) -> i64 {
    i64::try_from(device).unwrap_or(i64::MAX)
}

impl Store {
    /// Queues a claim of `device` into `project`; a pending claim of the same device is
    /// replaced (the technician changed their mind before it went up).
    pub fn queue_claim(
        &mut self,
        device: u64,
        project: &str,
        now: i64,
    ) -> Result<Claim, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM claims WHERE device = ?1 AND state = 'pending'",
            [device_sql(device)],
        )?;
        tx.execute(
            "INSERT INTO claims (device, project, state, queued_at) VALUES (?1, ?2, 'pending', ?3)",
            params![device_sql(device), project, now],
        )?;
        let id = tx.last_insert_rowid();
        let queued = tx.query_row(&format!("SELECT {COLUMNS} WHERE id = ?1"), [id], claim)?;
        tx.commit()?;
        Ok(queued)
    }

    pub fn pending_claims(&self) -> Result<Vec<Claim>, StoreError> {
        self.claims_where("state = 'pending' ORDER BY id")
    }

    /// Every claim, newest first, at most `limit`.
    pub fn claims(&self, limit: u32) -> Result<Vec<Claim>, StoreError> {
        self.claims_where(&format!("1 ORDER BY id DESC LIMIT {limit}"))
    }

    /// The newest claim of `device`, settled or not.
    pub fn last_claim(&self, device: u64) -> Result<Option<Claim>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} WHERE device = ?1 ORDER BY id DESC LIMIT 1"),
                [device_sql(device)],
                claim,
            )
            .optional()?)
    }

    fn claims_where(&self, clause: &str) -> Result<Vec<Claim>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} WHERE {clause}"))?;
        let rows = stmt.query_map([], claim)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The cloud's answer: accepted, or refused with its reason.
    pub fn settle_claim(
        &self,
        id: i64,
        state: ClaimState,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE claims SET state = ?2, reason = ?3, settled_at = ?4, attempts = attempts + 1 \
             WHERE id = ?1 AND state = 'pending'",
            params![id, state.as_str(), reason, now],
        )?;
        Ok(())
    }

    /// An attempt that did not reach a verdict (no network, the cloud failing).
    pub fn claim_attempt_failed(&self, id: i64, why: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE claims SET reason = ?2, attempts = attempts + 1 WHERE id = ?1 AND state = 'pending'",
            params![id, why],
        )?;
        Ok(())
    }
}
