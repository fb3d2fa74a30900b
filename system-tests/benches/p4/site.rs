//! The cloud side of the P4 bench: a real server in-process, an org with claimed devices, a
//! gateway key registered to it, the gateway's TOML configuration, and what the cloud holds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{account, claimed_site, Server, ServerOptions};

pub use crate::common::FIRST_DEVICE;
/// The output stream every bench POD writes.
pub const STREAM: u16 = 0x5001;

/// A real cloud server (SQLite in a temporary directory) with `workers` job workers.
pub async fn server(workers: usize) -> Server {
    Server::start(ServerOptions {
        workers,
        idle_poll: Duration::from_millis(20),
        database_url: None,
        keep: None,
    })
    .await
}

/// An admin's org and project with `devices` devices claimed into it; a one-time gateway
/// code for the org, redeemed with a fresh key at `key`.
pub async fn site_with_gateway(server: &Server, devices: usize, key: &Path) {
    let jwt = account(server, "bench@arch.io", true).await;
    let org = claimed_site(server, &jwt, &jwt, devices).await.org;
    let (status, code) = server
        .call("gateway/code/", Some(&jwt), json!({"org": org}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{code}");
    let identity = gateway::identity::load_or_create(key).unwrap();
    let client =
        gateway::sync::SyncClient::new(&origin(server), identity.secret, Duration::from_secs(30))
            .unwrap();
    let registered = client
        .register(code["code"].as_str().unwrap(), Some("bench".into()))
        .await
        .unwrap();
    assert_eq!(registered.org, org);
}

/// The server's origin, `http://127.0.0.1:PORT`, as a gateway's `cloud.url`.
pub fn origin(server: &Server) -> String {
    server.base.trim_end_matches("/api/v1/").to_string()
}

/// What the gateway's configuration file holds in a bench run.
pub struct GatewayToml<'a> {
    pub cloud: &'a str,
    pub dir: &'a Path,
    /// BLED112 serial ports and the connections to use on each.
    pub dongles: &'a [(PathBuf, u8)],
    pub status: std::net::SocketAddr,
}

/// Writes the configuration as `gateway.toml` in `dir` and returns its path.
pub fn write_config(c: &GatewayToml<'_>) -> PathBuf {
    let mut text = format!(
        "[cloud]\nurl = \"{}\"\n\n[paths]\nbuffer = \"{}\"\nkey = \"{}\"\n\n\
         [budget]\nmax_bytes = \"4 GiB\"\n\n[status]\nbind = \"{}\"\n",
        c.cloud,
        c.dir.join("buffer.sqlite").display(),
        c.dir.join("gateway.key").display(),
        c.status,
    );
    for (port, connections) in c.dongles {
        text.push_str(&format!(
            "\n[[adapters]]\nkind = \"bled112\"\nport = \"{}\"\nmax_connections = {connections}\n",
            port.display()
        ));
    }
    let path = c.dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A free loopback port for the gateway's status API.
pub fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Rows of the bench stream in the cloud, and all rows (readings plus one marker per report).
pub async fn rows(server: &Server) -> (i64, i64) {
    let db = &server.state.db.data;
    let stream: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM stream_data WHERE stream_slug LIKE '%--{STREAM:04x}'"
    ))
    .fetch_one(db)
    .await
    .unwrap();
    let all: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stream_data")
        .fetch_one(db)
        .await
        .unwrap();
    (stream, all)
}

/// Jobs in the cloud's queue: (all, not yet done).
pub async fn jobs(server: &Server) -> (i64, i64) {
    let counts = cloud::store::jobs::counts(&server.state.db.meta)
        .await
        .unwrap();
    let all = counts.iter().map(|(_, n)| n).sum();
    let open = counts
        .iter()
        .filter(|(state, _)| state != "done")
        .map(|(_, n)| n)
        .sum();
    (all, open)
}
