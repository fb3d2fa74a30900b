//! Health probes the `iotile-cloud health` command runs, so a container image can check
//! itself without curl: an HTTP GET of the health endpoint, or a trivial database query (for
//! `iotile-cloud worker`, which serves no HTTP).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(
        "{0:?} is not an http://host:port/path URL (probes speak plain HTTP to a local server)"
    )]
    Url(String),
    #[error("cannot reach {url}: {source}")]
    Io { url: String, source: std::io::Error },
    #[error("{url} answered {status_line:?}")]
    Status { url: String, status_line: String },
    #[error("no answer from {0} in time")]
    Timeout(String),
    #[error("database {url}: {source}")]
    Database { url: String, source: sqlx::Error },
}

/// GETs `url` (plain HTTP/1.0) and succeeds on a 200 answer.
pub async fn http(url: &str, timeout: Duration) -> Result<(), ProbeError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| ProbeError::Url(url.to_string()))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(ProbeError::Url(url.to_string()));
    }
    // Without a port, HTTP's own; an IPv6 literal always names one here ("[::1]:8000").
    let address = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let io = |source| ProbeError::Io {
        url: url.to_string(),
        source,
    };
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(&address).await.map_err(io)?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.map_err(io)?;
        // The status line is all we need; bound what is read.
        let mut head = Vec::with_capacity(256);
        stream.take(4096).read_to_end(&mut head).await.map_err(io)?;
        let text = String::from_utf8_lossy(&head);
        let status_line = text.lines().next().unwrap_or_default().to_string();
        match status_line.split_whitespace().nth(1) {
            Some("200") => Ok(()),
            _ => Err(ProbeError::Status {
                url: url.to_string(),
                status_line,
            }),
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| ProbeError::Timeout(url.to_string()))?
}

/// Connects to the database at `url` (without migrating it) and runs `SELECT 1`.
pub async fn database(url: &str, timeout: Duration) -> Result<(), ProbeError> {
    sqlx::any::install_default_drivers();
    let shown = crate::db::redact(url);
    let query = async {
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(timeout)
            .connect(url)
            .await?;
        sqlx::query("SELECT 1").execute(&pool).await?;
        pool.close().await;
        Ok::<(), sqlx::Error>(())
    };
    tokio::time::timeout(timeout, query)
        .await
        .map_err(|_| ProbeError::Timeout(shown.clone()))?
        .map_err(|source| ProbeError::Database { url: shown, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-shot server that answers every connection with `answer`.
    async fn server(answer: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf).await;
                let _ = conn.write_all(answer.as_bytes()).await;
            }
        });
        format!("http://{addr}/api/v1/health/")
    }

    #[tokio::test]
    async fn http_probe_passes_only_on_200() {
        let ok = server("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await;
        http(&ok, Duration::from_secs(5)).await.unwrap();
        let down = server("HTTP/1.1 503 Service Unavailable\r\n\r\n").await;
        let err = http(&down, Duration::from_secs(5)).await.unwrap_err();
        assert!(err.to_string().contains("503"), "{err}");
    }

    #[tokio::test]
    async fn http_probe_reports_refused_connections_and_bad_urls() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/api/v1/health/");
        assert!(matches!(
            http(&url, Duration::from_secs(5)).await,
            Err(ProbeError::Io { .. })
        ));
        for bad in ["https://x/", "127.0.0.1:8000/", "http:///x"] {
            assert!(
                matches!(
                    http(bad, Duration::from_secs(1)).await,
                    Err(ProbeError::Url(_))
                ),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn database_probe_needs_an_existing_database() {
        let dir = tempfile::tempdir().unwrap();
        let missing = format!("sqlite://{}", dir.path().join("none.sqlite3").display());
        assert!(database(&missing, Duration::from_secs(5)).await.is_err());
        let path = dir.path().join("db.sqlite3");
        rusqlite::Connection::open(&path).unwrap();
        let present = format!("sqlite://{}", path.display());
        database(&present, Duration::from_secs(5)).await.unwrap();
    }
}
