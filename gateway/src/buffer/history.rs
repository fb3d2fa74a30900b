//! What the buffer still holds of one POD, pending or synced (until pruned): for a
//! technician's screen, which shows a POD's recent readings with no network.

use sync_protocol::ids::DeviceId;

use super::{device_to_sql, report_from_row, Buffer, BufferError, NewReport, REPORT_COLUMNS};

/// How much of one POD's data waits for the cloud.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DevicePending {
    pub reports: u64,
    pub readings: u64,
}

impl Buffer {
    /// The newest `limit` reports of `device`, newest first.
    pub fn reports_of(
        &self,
        device: DeviceId,
        limit: usize,
    ) -> Result<Vec<NewReport>, BufferError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {REPORT_COLUMNS}, raw FROM reports WHERE device_id = ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = stmt.query(rusqlite::params![device_to_sql(device), limit])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let raw: Vec<u8> = row.get(10)?;
            out.push(report_from_row(row, raw)?);
        }
        Ok(out)
    }

    /// What of `device` waits for the cloud.
    pub fn pending_of(&self, device: DeviceId) -> Result<DevicePending, BufferError> {
        let (reports, readings): (i64, i64) = self.conn.query_row(
            "SELECT count(*), coalesce(sum(reading_count), 0) FROM reports \
             WHERE device_id = ?1 AND state = 'pending'",
            [device_to_sql(device)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(DevicePending {
            reports: u64::try_from(reports).unwrap_or_default(),
            readings: u64::try_from(readings).unwrap_or_default(),
        })
    }
}
