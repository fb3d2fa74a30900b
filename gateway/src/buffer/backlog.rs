//! What the buffer holds that the cloud does not have, as a sync batch tells it
//! ([`sync_protocol::gateway::Backlog`]). Counted by aggregate queries on indexes, never by
//! loading rows, so it is cheap enough for every batch.

use sync_protocol::gateway::Backlog;

use super::{used_bytes_of, Buffer, BufferError};

/// Pending reports: how many, their raw bytes and readings, and the oldest receive time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct PendingTotals {
    pub reports: u64,
    pub bytes: u64,
    pub readings: u64,
    pub oldest: Option<i64>,
}

impl Buffer {
    /// Totals of the pending reports whose row id is above `after_id`.
    pub(super) fn pending_totals(&self, after_id: i64) -> Result<PendingTotals, BufferError> {
        let (reports, bytes, readings, oldest): (i64, i64, i64, Option<i64>) =
            self.conn.query_row(
                "SELECT count(*), coalesce(sum(length(raw)), 0), coalesce(sum(reading_count), 0), \
                 min(received_at_us) FROM reports WHERE state = 'pending' AND id > ?1",
                [after_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(PendingTotals {
            reports: n(reports),
            bytes: n(bytes),
            readings: n(readings),
            oldest,
        })
    }

    /// The backlog once a batch of the pending reports up to row `after_id` is accepted
    /// (0: no batch, everything pending counts). Reports go to a batch in id order, so the
    /// rest of the pending ones are those above it.
    pub fn backlog(&self, after_id: i64) -> Result<Backlog, BufferError> {
        let pending = self.pending_totals(after_id)?;
        let quarantined: i64 = self
            .conn
            .query_row("SELECT count(*) FROM quarantine", [], |r| r.get(0))?;
        Ok(Backlog {
            reports: pending.reports,
            raw_bytes: pending.bytes,
            readings: pending.readings,
            oldest_received_at_us: pending.oldest,
            quarantined: u64::try_from(quarantined).unwrap_or(0),
            ota_outcomes: self.unsent_ota_actions()?,
            buffer_full: used_bytes_of(&self.conn)? >= self.budget.max_bytes,
        })
    }
}
