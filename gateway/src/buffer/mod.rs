//! The store-and-forward buffer: one SQLite file holding reports until the cloud has them.
//!
//! The file runs in WAL mode with `synchronous=FULL`: when [`Buffer::store`] returns, the
//! report survives a crash or power cut, so only then may the POD be acknowledged. The schema
//! is versioned with `PRAGMA user_version` and migrated by embedded SQL (`migrations/`). A disk
//! budget bounds the file: past it `store` refuses with [`BufferError::OverBudget`] (the
//! daemon stops collecting) and nothing unsent is ever deleted to make room; only
//! [`Buffer::prune_synced`] deletes, and only what the cloud confirmed. A corrupt file is
//! moved aside, never deleted, and its readable rows are copied to a fresh one ([`Recovery`]).
//!
//! The same file keeps OTA progress ([`ota`]): the feed, scripts, each POD's update job and
//! the outcomes owed to the cloud. [`backlog`] counts what the cloud does not have yet.
//!
//! The API is synchronous; async callers use `spawn_blocking`.

pub mod backlog;
mod history;
pub use history::DevicePending;
mod open;
pub mod ota;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};
use sync_protocol::ids::DeviceId;

pub use open::{OpenReport, Recovery};

/// Why a buffer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BufferError {
    #[error("the buffer holds {used} bytes and the budget is {budget}: collection must wait for the cloud and a prune")]
    OverBudget { used: u64, budget: u64 },
    #[error("buffer {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("buffer database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("buffer schema version {found} is not the version this gateway runs ({known})")]
    SchemaMismatch { found: u32, known: u32 },
    #[error("buffer file is corrupt: {0}")]
    Corrupt(String),
    #[error("buffer row {id}: {reason}")]
    BadRow { id: i64, reason: String },
    /// Its lock is poisoned or the blocking task failed; the file itself is fine.
    #[error("the buffer is unavailable: {0}")]
    Unavailable(String),
}

/// Runs `f` on a shared buffer on the blocking pool: rusqlite blocks on fsync, which must
/// not stall the async threads.
pub async fn blocking<T: Send + 'static>(
    buffer: &std::sync::Arc<std::sync::Mutex<Buffer>>,
    f: impl FnOnce(&mut Buffer) -> Result<T, BufferError> + Send + 'static,
) -> Result<T, BufferError> {
    let buffer = buffer.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = buffer
            .lock()
            .map_err(|_| BufferError::Unavailable("the buffer lock is poisoned".into()))?;
        f(&mut guard)
    })
    .await
    .map_err(|e| BufferError::Unavailable(e.to_string()))?
}

/// The disk budget of the buffer file, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub max_bytes: u64,
}

/// The report formats the buffer holds, stored by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    SignedList,
    Individual,
    Broadcast,
    Flexible,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::SignedList => "signed_list",
            ReportKind::Individual => "individual",
            ReportKind::Broadcast => "broadcast",
            ReportKind::Flexible => "flexible",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::SignedList,
            Self::Individual,
            Self::Broadcast,
            Self::Flexible,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

/// A verified report to keep: its raw bytes and what was read from its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    pub device: DeviceId,
    pub streamer: u16,
    pub report_id: u32,
    pub first_reading_id: u32,
    pub last_reading_id: u32,
    pub reading_count: u32,
    pub kind: ReportKind,
    pub raw: Vec<u8>,
    /// When the gateway received it: UTC unix microseconds.
    pub received_at_us: i64,
}

/// The outcome of [`Buffer::store`]: the same bytes stored twice are one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New(i64),
    Duplicate(i64),
}

impl Stored {
    pub fn id(self) -> i64 {
        match self {
            Stored::New(id) | Stored::Duplicate(id) => id,
        }
    }
}

/// A report waiting for the cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingReport {
    pub id: i64,
    pub report: NewReport,
}

/// What the buffer holds, for the status API and `iotile-gateway status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    pub pending_reports: u64,
    pub pending_bytes: u64,
    pub pending_readings: u64,
    /// When the oldest pending report was received (unix microseconds).
    pub oldest_pending: Option<i64>,
    pub synced_reports: u64,
    pub quarantined: u64,
    /// The database file plus its WAL on disk.
    pub file_bytes: u64,
    pub budget: u64,
    pub over_budget: bool,
}

/// The buffer: one SQLite connection on one file.
pub struct Buffer {
    conn: Connection,
    path: PathBuf,
    budget: Budget,
}

pub(super) const REPORT_COLUMNS: &str = "id, device_id, streamer, report_id, first_reading_id, \
     last_reading_id, reading_count, kind, received_at_us, length(raw)";

impl Buffer {
    /// Opens (or creates, mode 0600) the buffer at `path`, checks it, migrates its schema,
    /// and recovers a corrupt file by moving it aside and salvaging its readable rows.
    pub fn open(path: &Path, budget: Budget) -> Result<(Buffer, OpenReport), BufferError> {
        let (conn, report) = open::open(path)?;
        Ok((
            Buffer {
                conn,
                path: path.to_owned(),
                budget,
            },
            report,
        ))
    }

    /// Opens an existing buffer for reading only: no creation, recovery or migration, and
    /// writes disabled. Used to inspect a buffer a running daemon owns.
    pub fn open_read_only(path: &Path, budget: Budget) -> Result<Buffer, BufferError> {
        Ok(Buffer {
            conn: open::open_existing(path)?,
            path: path.to_owned(),
            budget,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in use: pages holding data (free pages are reused before the file grows).
    fn used_bytes(&self) -> Result<u64, BufferError> {
        used_bytes_of(&self.conn)
    }

    fn check_budget(&self, adding: usize) -> Result<(), BufferError> {
        let used = self.used_bytes()?;
        if used.saturating_add(adding as u64) > self.budget.max_bytes {
            return Err(BufferError::OverBudget {
                used,
                budget: self.budget.max_bytes,
            });
        }
        Ok(())
    }

    /// Stores a report durably, in one transaction. The same bytes again are a
    /// [`Stored::Duplicate`] of the first row, whatever the other fields say.
    pub fn store(&mut self, report: &NewReport) -> Result<Stored, BufferError> {
        let sha: [u8; 32] = Sha256::digest(&report.raw).into();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM reports WHERE sha256 = ?1",
                [&sha[..]],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = existing {
            return Ok(Stored::Duplicate(id));
        }
        // The transaction sees the same pages as the connection.
        let used = used_bytes_of(&tx)?;
        if used.saturating_add(report.raw.len() as u64) > self.budget.max_bytes {
            return Err(BufferError::OverBudget {
                used,
                budget: self.budget.max_bytes,
            });
        }
        tx.execute(
            "INSERT INTO reports (device_id, streamer, report_id, first_reading_id, \
             last_reading_id, reading_count, raw, kind, received_at_us, sha256) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                device_to_sql(report.device),
                report.streamer,
                report.report_id,
                report.first_reading_id,
                report.last_reading_id,
                report.reading_count,
                report.raw,
                report.kind.as_str(),
                report.received_at_us,
                &sha[..],
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(Stored::New(id))
    }

    /// Keeps bytes that did not verify or decode aside, never to be synced. Counts against
    /// the budget like reports.
    pub fn quarantine(
        &mut self,
        raw: &[u8],
        reason: &str,
        now_us: i64,
    ) -> Result<i64, BufferError> {
        self.check_budget(raw.len())?;
        self.conn.execute(
            "INSERT INTO quarantine (raw, reason, received_at_us) VALUES (?1, ?2, ?3)",
            params![raw, reason, now_us],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The oldest pending reports, in received order: at most `max_reports`, and no more
    /// than `max_bytes` of raw data, except that a single report larger than `max_bytes`
    /// is returned alone so it cannot block the queue.
    pub fn pending(
        &self,
        max_reports: usize,
        max_bytes: usize,
    ) -> Result<Vec<PendingReport>, BufferError> {
        self.pending_after(0, max_reports, max_bytes)
    }

    /// As [`Buffer::pending`], among the reports stored after the one with id `after`: a
    /// pass walks the queue once, past reports the cloud cannot take yet.
    pub fn pending_after(
        &self,
        after: i64,
        max_reports: usize,
        max_bytes: usize,
    ) -> Result<Vec<PendingReport>, BufferError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE state = 'pending' AND id > ?1 \
             ORDER BY id LIMIT ?2"
        ))?;
        let limit = i64::try_from(max_reports).unwrap_or(i64::MAX);
        let mut rows = stmt.query([after, limit])?;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        while let Some(row) = rows.next()? {
            let len = usize::try_from(row.get::<_, i64>(9)?).unwrap_or(usize::MAX);
            if !out.is_empty() && bytes.saturating_add(len) > max_bytes {
                break;
            }
            bytes = bytes.saturating_add(len);
            let id: i64 = row.get(0)?;
            // The blob is read only for rows that fit, so memory stays within the bound.
            let raw: Vec<u8> =
                self.conn
                    .query_row("SELECT raw FROM reports WHERE id = ?1", [id], |r| r.get(0))?;
            out.push(PendingReport {
                id,
                report: report_from_row(row, raw)?,
            });
            if bytes >= max_bytes {
                break;
            }
        }
        Ok(out)
    }

    /// Marks reports the cloud confirmed (accepted or duplicate). Returns how many changed;
    /// ids already synced or unknown are ignored, so a repeated call is harmless.
    pub fn mark_synced(&mut self, ids: &[i64], now_us: i64) -> Result<usize, BufferError> {
        let tx = self.conn.transaction()?;
        let mut changed = 0;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE reports SET state = 'synced', synced_at_us = ?2 \
                 WHERE id = ?1 AND state = 'pending'",
            )?;
            for id in ids {
                changed += stmt.execute(params![id, now_us])?;
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    /// Deletes reports synced before `older_than_us`. Pending reports are never deleted.
    pub fn prune_synced(&mut self, older_than_us: i64) -> Result<usize, BufferError> {
        Ok(self.conn.execute(
            "DELETE FROM reports WHERE state = 'synced' AND synced_at_us < ?1",
            [older_than_us],
        )?)
    }

    /// Records the highest reading id acknowledged to the POD's streamer. Reading ids only
    /// grow, so a lower value than the one on record is ignored.
    pub fn record_ack(
        &mut self,
        device: DeviceId,
        streamer: u16,
        last_id: u32,
    ) -> Result<(), BufferError> {
        self.upsert_progress("acked_to_pod", device, streamer, last_id)
    }

    pub fn acked(&self, device: DeviceId, streamer: u16) -> Result<Option<u32>, BufferError> {
        self.progress("acked_to_pod", device, streamer)
    }

    /// The highest reading id of the streamer held here or in the cloud: every reading the
    /// streamer sent up to it is in a stored report or confirmed by the cloud, because a
    /// streamer sends its readings in id order from its acknowledged cursor.
    pub fn holds_to(&self, device: DeviceId, streamer: u16) -> Result<Option<u32>, BufferError> {
        let stored: Option<u32> = self.conn.query_row(
            "SELECT max(last_reading_id) FROM reports WHERE device_id = ?1 AND streamer = ?2",
            params![device_to_sql(device), streamer],
            |r| r.get(0),
        )?;
        let cloud = self.cloud_has(device, streamer)?;
        Ok(stored.max(cloud))
    }

    /// Records the highest reading id the cloud says it has for the streamer (monotonic).
    pub fn record_cloud_has(
        &mut self,
        device: DeviceId,
        streamer: u16,
        last_id: u32,
    ) -> Result<(), BufferError> {
        self.upsert_progress("cloud_has", device, streamer, last_id)
    }

    pub fn cloud_has(&self, device: DeviceId, streamer: u16) -> Result<Option<u32>, BufferError> {
        self.progress("cloud_has", device, streamer)
    }

    fn upsert_progress(
        &mut self,
        column: &'static str,
        device: DeviceId,
        streamer: u16,
        last_id: u32,
    ) -> Result<(), BufferError> {
        self.conn.execute(
            &format!(
                "INSERT INTO streamers (device_id, streamer, {column}) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (device_id, streamer) DO UPDATE SET \
                 {column} = max(coalesce({column}, excluded.{column}), excluded.{column})"
            ),
            params![device_to_sql(device), streamer, last_id],
        )?;
        Ok(())
    }

    fn progress(
        &self,
        column: &'static str,
        device: DeviceId,
        streamer: u16,
    ) -> Result<Option<u32>, BufferError> {
        let value: Option<Option<u32>> = self
            .conn
            .query_row(
                &format!("SELECT {column} FROM streamers WHERE device_id = ?1 AND streamer = ?2"),
                params![device_to_sql(device), streamer],
                |r| r.get(0),
            )
            .optional()?;
        Ok(value.flatten())
    }

    pub fn stats(&self) -> Result<Stats, BufferError> {
        let pending = self.pending_totals(0)?;
        let count = |sql: &str| -> Result<u64, BufferError> {
            let n: i64 = self.conn.query_row(sql, [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        let file_bytes = [self.path.clone(), open::sibling(&self.path, "-wal")]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        let used = self.used_bytes()?;
        Ok(Stats {
            pending_reports: pending.reports,
            pending_bytes: pending.bytes,
            pending_readings: pending.readings,
            oldest_pending: pending.oldest,
            synced_reports: count("SELECT count(*) FROM reports WHERE state = 'synced'")?,
            quarantined: count("SELECT count(*) FROM quarantine")?,
            file_bytes,
            budget: self.budget.max_bytes,
            over_budget: used >= self.budget.max_bytes,
        })
    }
}

fn used_bytes_of(conn: &Connection) -> Result<u64, BufferError> {
    let q = |pragma: &str| -> Result<u64, BufferError> {
        let v: i64 = conn.query_row(pragma, [], |r| r.get(0))?;
        Ok(u64::try_from(v).unwrap_or(0))
    };
    Ok(
        q("PRAGMA page_count")?.saturating_sub(q("PRAGMA freelist_count")?)
            * q("PRAGMA page_size")?,
    )
}

/// Device ids are 48 bits, so they fit an SQLite integer.
fn device_to_sql(device: DeviceId) -> i64 {
    i64::try_from(device.get()).unwrap_or(i64::MAX)
}

/// A report from a row of `REPORT_COLUMNS` and its raw bytes.
pub(super) fn report_from_row(
    row: &rusqlite::Row<'_>,
    raw: Vec<u8>,
) -> Result<NewReport, BufferError> {
    let id: i64 = row.get(0)?;
    let bad = |reason: String| BufferError::BadRow { id, reason };
    let device_raw: i64 = row.get(1)?;
    let device = u64::try_from(device_raw)
        .ok()
        .and_then(|d| DeviceId::new(d).ok())
        .ok_or_else(|| bad(format!("device id {device_raw} out of range")))?;
    let kind_name: String = row.get(7)?;
    let kind =
        ReportKind::parse(&kind_name).ok_or_else(|| bad(format!("unknown kind {kind_name:?}")))?;
    Ok(NewReport {
        device,
        streamer: row.get(2)?,
        report_id: row.get(3)?,
        first_reading_id: row.get(4)?,
        last_reading_id: row.get(5)?,
        reading_count: row.get(6)?,
        kind,
        raw,
        received_at_us: row.get(8)?,
    })
}
