//! Pages of stream data read from a SQLite data database on blocking threads, through
//! SQLite's own API (rusqlite) rather than sqlx.
//!
//! sqlx's SQLite driver runs each connection on a thread of its own and hands every row to
//! the caller as a copy of each of its values, so a page of 1,000 rows cost some 10,000
//! allocations, their frees and a few thread switches before the handler saw a field. Here
//! a query runs on a tokio blocking thread with a connection taken from a small idle list,
//! and rows are decoded where SQLite steps them.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use super::{redact, DbError};

/// Queries reading at once; more wait for a turn.
const READERS: usize = 4;

/// Read-only connections on one SQLite database file.
#[derive(Clone)]
pub struct RowReader {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    turns: Semaphore,
}

impl std::fmt::Debug for RowReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowReader")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl RowReader {
    /// A reader on the file of a `sqlite:` URL; one connection is opened now, so a file
    /// that cannot be read is reported at start.
    pub fn open(url: &str) -> Result<RowReader, DbError> {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(|source| {
            DbError::Connect {
                url: redact(url),
                source,
            }
        })?;
        let path = options.get_filename().to_path_buf();
        let first = connect(&path).map_err(|e| DbError::Connect {
            url: redact(url),
            source: driver(e),
        })?;
        Ok(RowReader {
            inner: Arc::new(Inner {
                path,
                idle: Mutex::new(vec![first]),
                turns: Semaphore::new(READERS),
            }),
        })
    }

    /// Runs `read` with a connection on a blocking thread.
    pub async fn read<T, F>(&self, read: F) -> Result<T, sqlx::Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let _turn = self
            .inner
            .turns
            .acquire()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let taken = inner.idle.lock().ok().and_then(|mut idle| idle.pop());
            let conn = match taken {
                Some(conn) => conn,
                None => connect(&inner.path).map_err(driver)?,
            };
            let out = read(&conn).map_err(driver);
            if let Ok(mut idle) = inner.idle.lock() {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(|_| sqlx::Error::WorkerCrashed)?
    }

    /// Drops the idle connections.
    pub fn close(&self) {
        if let Ok(mut idle) = self.inner.idle.lock() {
            idle.clear();
        }
    }
}

fn driver(e: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::AnyDriverError(Box::new(e))
}

/// A connection that only reads, with the pragmas of the sqlx pools: pages through a
/// memory map, temporary tables in memory, waiting rather than failing on a lock.
fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA query_only = ON; PRAGMA mmap_size = 1073741824; \
         PRAGMA temp_store = MEMORY; PRAGMA cache_size = -8192;",
    )?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}
