//! Opening the buffer file: permissions, pragmas, the integrity check, schema migrations,
//! and recovery of a corrupt file.
//!
//! Recovery never deletes: the damaged file (and its WAL) is renamed to
//! `<name>.corrupt-<unix seconds>`, a fresh file is created, and every row that can still be
//! read is copied over. Rows are read in rowid order from both ends and then one by one
//! across the damaged range, so one bad page costs only the rows on it. A salvaged report
//! whose bytes no longer match their SHA-256 goes to quarantine, not back to the queue.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use sha2::{Digest, Sha256};

use super::BufferError;

/// Schema migrations; migration `i` takes `user_version` from `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_reports_by_streamer.sql"),
    include_str!("migrations/0003_ota.sql"),
];

/// A damaged range wider than this many rowids is not probed row by row.
const MAX_PROBES: i64 = 1_000_000;

/// What [`super::Buffer::open`] found and did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpenReport {
    /// The file did not exist and was created.
    pub created: bool,
    /// `user_version` before migrations ran (0 for a new file).
    pub schema_from: u32,
    pub schema_to: u32,
    /// Set when the file was corrupt and has been replaced.
    pub recovery: Option<Recovery>,
}

/// How a corrupt buffer was recovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// What the integrity check or SQLite said.
    pub reason: String,
    /// Where the damaged file now is.
    pub moved_to: PathBuf,
    /// Rows copied into the fresh file (reports, quarantine and streamer rows).
    pub rows_salvaged: u64,
    /// Reports salvaged whose bytes were damaged: moved to quarantine, not synced.
    pub reports_quarantined: u64,
    /// Rows not restored to their table (quarantined ones included): the damaged file's own
    /// count minus those restored when it can still count, otherwise the rowids that failed
    /// to read when the damaged range was probed row by row (an upper bound). `None` when it
    /// cannot be known: the schema is unreadable or the damaged range too wide to probe.
    pub rows_lost: Option<u64>,
}

pub(super) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BufferError + '_ {
    move |source| BufferError::Io {
        path: path.to_owned(),
        source,
    }
}

pub(super) fn open(path: &Path) -> Result<(Connection, OpenReport), BufferError> {
    let created = !path.exists();
    if created {
        // Created here with 0600 so SQLite's WAL and shm files inherit the same mode.
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io(path))?;
    }
    let mut recovery = None;
    let conn = match check(path) {
        Ok(conn) => conn,
        Err(reason) => {
            let (conn, rec) = recover(path, reason)?;
            recovery = Some(rec);
            conn
        }
    };
    let (schema_from, schema_to) = migrate(&conn)?;
    Ok((
        conn,
        OpenReport {
            created,
            schema_from,
            schema_to,
            recovery,
        },
    ))
}

/// Opens an existing, sound, current file without creating, recovering or migrating it,
/// and with writes disabled: for inspection next to a running daemon.
pub(super) fn open_existing(path: &Path) -> Result<Connection, BufferError> {
    if !path.is_file() {
        return Err(BufferError::Io {
            path: path.to_owned(),
            source: std::io::ErrorKind::NotFound.into(),
        });
    }
    let conn = check(path).map_err(BufferError::Corrupt)?;
    let found: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as u32;
    if found != known {
        return Err(BufferError::SchemaMismatch { found, known });
    }
    conn.pragma_update(None, "query_only", "ON")?;
    Ok(conn)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // The WAL is reused, not shrunk, after each checkpoint: cap what it keeps on disk, since
    // the budget counts the database's pages.
    conn.pragma_update(None, "journal_size_limit", 1 << 20)?;
    Ok(())
}

/// Opens and checks the file; `Err` carries why it is unusable.
fn check(path: &Path) -> Result<Connection, String> {
    let conn = Connection::open(path).map_err(|e| e.to_string())?;
    configure(&conn).map_err(|e| e.to_string())?;
    let failed = |e: rusqlite::Error| format!("quick_check: {e}");
    let mut stmt = conn.prepare("PRAGMA quick_check").map_err(failed)?;
    let lines: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(failed)?;
    drop(stmt);
    if lines.len() == 1 && lines[0] == "ok" {
        Ok(conn)
    } else {
        let mut reason = lines.into_iter().take(3).collect::<Vec<_>>().join("; ");
        reason.truncate(500);
        Err(format!("quick_check: {reason}"))
    }
}

fn migrate(conn: &Connection) -> Result<(u32, u32), BufferError> {
    let from: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as u32;
    if from > known {
        return Err(BufferError::SchemaMismatch { found: from, known });
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version as u32 + 1)?;
        tx.commit()?;
    }
    Ok((from, known))
}

fn recover(path: &Path, reason: String) -> Result<(Connection, Recovery), BufferError> {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Never overwrite an earlier damaged file, even one moved aside in the same second.
    let moved_to = (0..)
        .map(|n| match n {
            0 => sibling(path, &format!(".corrupt-{unix}")),
            n => sibling(path, &format!(".corrupt-{unix}-{n}")),
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| sibling(path, ".corrupt"));
    std::fs::rename(path, &moved_to).map_err(io(path))?;
    for suffix in ["-wal", "-shm"] {
        let from = sibling(path, suffix);
        if from.exists() {
            std::fs::rename(&from, sibling(&moved_to, suffix)).map_err(io(&from))?;
        }
    }
    tracing::error!(path = %path.display(), moved_to = %moved_to.display(), %reason,
        "buffer file is corrupt; moved aside, salvaging readable rows");
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    let fresh = Connection::open(path)?;
    configure(&fresh)?;
    migrate(&fresh)?;
    let mut recovery = Recovery {
        reason,
        moved_to: moved_to.clone(),
        rows_salvaged: 0,
        reports_quarantined: 0,
        rows_lost: None,
    };
    if let Ok(damaged) = Connection::open_with_flags(&moved_to, OpenFlags::SQLITE_OPEN_READ_WRITE) {
        salvage(&damaged, &fresh, &mut recovery);
    }
    tracing::warn!(salvaged = recovery.rows_salvaged, lost = ?recovery.rows_lost,
        "buffer salvage finished");
    Ok((fresh, recovery))
}

/// One table to salvage: its columns, and how to copy one row into the fresh file.
struct Table {
    name: &'static str,
    columns: &'static str,
    insert: &'static str,
}

const TABLES: &[Table] = &[
    Table {
        name: "reports",
        columns: "id, device_id, streamer, report_id, first_reading_id, last_reading_id, \
                  reading_count, raw, kind, received_at_us, sha256, state, synced_at_us",
        insert: "INSERT OR IGNORE INTO reports (id, device_id, streamer, report_id, \
                 first_reading_id, last_reading_id, reading_count, raw, kind, received_at_us, \
                 sha256, state, synced_at_us) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    },
    Table {
        name: "quarantine",
        columns: "id, raw, reason, received_at_us",
        insert: "INSERT OR IGNORE INTO quarantine (id, raw, reason, received_at_us) \
                 VALUES (?1, ?2, ?3, ?4)",
    },
    Table {
        name: "streamers",
        columns: "rowid, device_id, streamer, acked_to_pod, cloud_has",
        insert: "INSERT OR IGNORE INTO streamers (device_id, streamer, acked_to_pod, cloud_has) \
                 VALUES (?2, ?3, ?4, ?5)",
    },
    // An update's progress says whether its script may be sent again: losing it could run
    // a script twice.
    Table {
        name: "ota_jobs",
        columns: "rowid, device_id, deployment_id, script_slug, state, attempts, log, \
                  started_us, updated_us",
        insert: "INSERT OR IGNORE INTO ota_jobs (device_id, deployment_id, script_slug, state, \
                 attempts, log, started_us, updated_us) VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    },
    Table {
        name: "ota_actions",
        columns: "id, deployment_id, device_id, successful, attempt_us, log, posted_us",
        insert: "INSERT OR IGNORE INTO ota_actions (id, deployment_id, device_id, successful, \
                 attempt_us, log, posted_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    },
];

fn salvage(damaged: &Connection, fresh: &Connection, recovery: &mut Recovery) {
    // Known only if some table could be read and every readable table could be counted.
    let mut lost_total: Option<u64> = None;
    let mut unknown = false;
    for table in TABLES {
        let Some((copied, lost)) = salvage_table(damaged, fresh, table, recovery) else {
            continue;
        };
        recovery.rows_salvaged += copied;
        match lost {
            Some(lost) => lost_total = Some(lost_total.unwrap_or(0) + lost),
            None => unknown = true,
        }
    }
    recovery.rows_lost = if unknown { None } else { lost_total };
}

type Values = Vec<rusqlite::types::Value>;

/// A column's value, owned. Damaged pages can hold text that is not UTF-8, on which
/// rusqlite's own conversion panics: such text is kept as the bytes it is.
fn owned(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::Value {
    use rusqlite::types::{Value, ValueRef};
    match value {
        ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => Value::Text(text.to_owned()),
            Err(_) => Value::Blob(bytes.to_vec()),
        },
        other => other.into(),
    }
}

/// Copies what can be read of one table; `None` when the table cannot be read at all.
fn salvage_table(
    damaged: &Connection,
    fresh: &Connection,
    table: &Table,
    recovery: &mut Recovery,
) -> Option<(u64, Option<u64>)> {
    let width = table.columns.split(',').count();
    let read_row = |row: &rusqlite::Row<'_>| -> rusqlite::Result<Values> {
        (0..width).map(|i| row.get_ref(i).map(owned)).collect()
    };
    let select = format!("SELECT {} FROM {}", table.columns, table.name);
    let mut rows: std::collections::BTreeMap<i64, Values> = Default::default();
    // Reads rows in the given order until the end or an error; returns whether it reached
    // the end and the last rowid it read.
    let mut scan = |order: &str| -> (bool, Option<i64>) {
        let Ok(mut stmt) = damaged.prepare(&format!("{select} ORDER BY rowid {order}")) else {
            return (false, None);
        };
        let Ok(mut cursor) = stmt.query([]) else {
            return (false, None);
        };
        let mut last = None;
        loop {
            match cursor.next() {
                Ok(Some(row)) => {
                    if let Ok(values) = read_row(row) {
                        if let rusqlite::types::Value::Integer(id) = values[0] {
                            last = Some(id);
                            rows.insert(id, values);
                        }
                    }
                }
                Ok(None) => return (true, last),
                Err(_) => return (false, last),
            }
        }
    };
    let (readable, ascending_last) = scan("ASC");
    let mut probed_lost = Some(0u64);
    if !readable {
        let (_, descending_last) = scan("DESC");
        // Probe the damaged range between the two scans row by row.
        let bound = |f: &str| -> Option<i64> {
            damaged
                .query_row(&format!("SELECT {f}(rowid) FROM {}", table.name), [], |r| {
                    r.get(0)
                })
                .ok()
                .flatten()
        };
        let from = ascending_last
            .map(|id| id.saturating_add(1))
            .or_else(|| bound("min"))
            .unwrap_or(1);
        let to = descending_last
            .map(|id| id.saturating_sub(1))
            .or_else(|| bound("max"))
            .unwrap_or(0);
        if to.saturating_sub(from) >= MAX_PROBES {
            // Too wide to probe (or a damaged bound): how much is lost cannot be known.
            probed_lost = None;
        } else {
            let one = format!("{select} WHERE rowid = ?1");
            let mut lost = 0;
            for rowid in from..=to {
                match damaged.query_row(&one, [rowid], read_row).optional() {
                    Ok(Some(values)) => {
                        rows.insert(rowid, values);
                    }
                    Ok(None) => {}
                    Err(_) => lost += 1,
                }
            }
            probed_lost = Some(lost);
        }
    }
    if rows.is_empty() && !readable && probed_lost == Some(0) {
        return None;
    }
    let mut copied = 0u64;
    let mut unusable = 0u64;
    for (_, mut values) in rows {
        if table.name == "reports" && !report_bytes_intact(&values) {
            recovery.reports_quarantined += 1;
            let raw = std::mem::replace(&mut values[7], rusqlite::types::Value::Null);
            let received = values[9].clone();
            let _ = fresh.execute(
                "INSERT INTO quarantine (raw, reason, received_at_us) VALUES (?1, ?2, ?3)",
                rusqlite::params![
                    raw,
                    "salvaged from a corrupt buffer with damaged bytes",
                    received
                ],
            );
            unusable += 1;
            continue;
        }
        match fresh.execute(table.insert, rusqlite::params_from_iter(values)) {
            Ok(_) => copied += 1,
            Err(_) => unusable += 1,
        }
    }
    let counted: Option<i64> = damaged
        .query_row(&format!("SELECT count(*) FROM {}", table.name), [], |r| {
            r.get(0)
        })
        .ok();
    let lost = match counted {
        Some(n) => Some(u64::try_from(n).unwrap_or(0).saturating_sub(copied)),
        None => probed_lost.map(|p| p + unusable),
    };
    Some((copied, lost))
}

/// A salvaged report row is usable only if its raw bytes still hash to its recorded SHA-256.
fn report_bytes_intact(values: &Values) -> bool {
    use rusqlite::types::Value;
    match (&values[7], &values[10]) {
        (Value::Blob(raw), Value::Blob(sha)) => Sha256::digest(raw).as_slice() == sha.as_slice(),
        _ => false,
    }
}
