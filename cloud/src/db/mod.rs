//! Database connections: one pool for metadata and one for stream data (the same database
//! unless `STREAM_DATABASE_URL` says otherwise), on SQLite or PostgreSQL through sqlx's `Any`
//! driver. SQL is written once with `$N` placeholders, which both backends accept.

mod migrate;
mod reader;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::AnyPool;

pub use migrate::{migrate, migrate_until, MigrationSet};
pub use reader::RowReader;

/// Which engine a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Backend, DbError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(DbError::UnsupportedUrl(redact(url)))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL {0}: expected sqlite:… or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot open database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("migrating {url} failed: {source}")]
    Migrate {
        url: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// The pools the server works with.
///
/// SQLite has one writer at a time; a writer that finds the lock taken sleeps in SQLite's
/// busy handler (1, 2, 5, 10… ms) rather than being woken when it frees. The hot write paths
/// (report upload, the job queue, ingest) therefore take their connection from a pool of one
/// per SQLite database (`meta_writes`, `data_writes`), where waiting is a queue, while reads
/// use the larger pools beside them (WAL). On PostgreSQL the write pools are the read pools.
/// A transaction on a write pool must not wait on the same write pool.
#[derive(Clone, Debug)]
pub struct Db {
    pub meta: AnyPool,
    pub data: AnyPool,
    pub meta_writes: AnyPool,
    pub data_writes: AnyPool,
    pub backend: Backend,
    pub data_backend: Backend,
    /// On SQLite, connections on the data database outside sqlx, for reading pages of
    /// stream data (see [`RowReader`]).
    pub data_rows: Option<RowReader>,
}

impl Db {
    /// Opens (creating a SQLite file when needed) and migrates both databases.
    pub async fn open(meta_url: &str, data_url: Option<&str>) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(meta_url)?;
        let meta = connect(meta_url, backend, false).await?;
        let meta_writes = writer(&meta, meta_url, backend).await?;
        let (data, data_writes, data_backend) = match data_url {
            Some(url) if url != meta_url => {
                let b = Backend::of_url(url)?;
                let data = connect(url, b, false).await?;
                let writes = writer(&data, url, b).await?;
                (data, writes, b)
            }
            _ => (meta.clone(), meta_writes.clone(), backend),
        };
        migrate(&meta, MigrationSet::Meta, backend, meta_url).await?;
        let data_url = data_url.unwrap_or(meta_url);
        migrate(&data, MigrationSet::Data, data_backend, data_url).await?;
        let data_rows = match data_backend {
            // A second pool on an in-memory database would open another database.
            Backend::Sqlite
                if !data_url.contains(":memory:") && !data_url.contains("mode=memory") =>
            {
                Some(RowReader::open(data_url)?)
            }
            _ => None,
        };
        Ok(Db {
            meta,
            data,
            meta_writes,
            data_writes,
            backend,
            data_backend,
            data_rows,
        })
    }

    pub async fn close(&self) {
        for pool in [&self.meta, &self.data, &self.meta_writes, &self.data_writes] {
            pool.close().await;
        }
        if let Some(rows) = &self.data_rows {
            rows.close();
        }
    }
}

/// The SQLite URL of the default database file in a data directory.
pub fn default_sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}",
        data_dir.join("iotile-cloud.sqlite3").display()
    )
}

/// A URL fit for logs: the password, if any, is replaced.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The write pool beside `pool`: its own single connection on SQLite, `pool` itself elsewhere.
async fn writer(pool: &AnyPool, url: &str, backend: Backend) -> Result<AnyPool, DbError> {
    match backend {
        Backend::Sqlite => connect(url, backend, true).await,
        Backend::Postgres => Ok(pool.clone()),
    }
}

async fn connect(url: &str, backend: Backend, single: bool) -> Result<AnyPool, DbError> {
    let connect_err = |source| DbError::Connect {
        url: redact(url),
        source,
    };
    let options = match backend {
        // `mode=rwc` creates the file when it is missing.
        Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
            let sep = if url.contains('?') { '&' } else { '?' };
            AnyConnectOptions::from_str(&format!("{url}{sep}mode=rwc")).map_err(connect_err)?
        }
        _ => AnyConnectOptions::from_str(url).map_err(connect_err)?,
    };
    let max = match backend {
        _ if single => 1,
        Backend::Sqlite => 8,
        Backend::Postgres => 16,
    };
    AnyPoolOptions::new()
        .max_connections(max)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets readers run beside the writer; foreign keys are off by default in
                    // SQLite; the busy timeout turns lock contention into waiting, not errors.
                    // Pages are read through a memory map rather than a read call each, and
                    // the writer keeps the indexes it updates in a larger page cache.
                    let cache = if single {
                        "PRAGMA cache_size = -65536"
                    } else {
                        "PRAGMA cache_size = -8192"
                    };
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = NORMAL",
                        "PRAGMA foreign_keys = ON",
                        "PRAGMA busy_timeout = 10000",
                        "PRAGMA mmap_size = 1073741824",
                        "PRAGMA temp_store = MEMORY",
                        cache,
                    ] {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                }
                Ok(())
            })
        })
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
        .map_err(connect_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("postgres://u:secret@h:5/db"),
            "postgres://u:***@h:5/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn backend_from_url() {
        assert_eq!(
            Backend::of_url("sqlite::memory:").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::of_url("postgresql://h/db").ok(),
            Some(Backend::Postgres)
        );
        assert!(Backend::of_url("mysql://h/db").is_err());
    }
}
