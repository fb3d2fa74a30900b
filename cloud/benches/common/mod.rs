//! What the benches share: the real server started in-process on 127.0.0.1 (HTTP, job
//! workers, a database and object store in a temporary or kept directory), a JSON client for
//! it, and accounts made straight in the store and logged in over HTTP.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use cloud::config::{Overrides, Settings};
use cloud::http::HttpOptions;
use reqwest::StatusCode;
use serde_json::{json, Value};

pub const PASSWORD: &str = "correct horse battery";
/// Device ids of bench PODs: `FIRST_DEVICE`, `FIRST_DEVICE + 1`, …
pub const FIRST_DEVICE: u32 = 0x100;

pub struct Server {
    pub base: String,
    pub state: cloud::state::AppState,
    pub client: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// How a bench server runs.
pub struct ServerOptions {
    pub workers: usize,
    /// How long an idle worker waits before looking for jobs again.
    pub idle_poll: Duration,
    /// `None`: SQLite in the data directory.
    pub database_url: Option<String>,
    /// A data directory to keep; `None`: a temporary one.
    pub keep: Option<PathBuf>,
}

impl Server {
    pub async fn start(options: ServerOptions) -> Server {
        let dir = match options.keep {
            Some(_) => None,
            None => Some(tempfile::tempdir().unwrap()),
        };
        let data_dir = options
            .keep
            .unwrap_or_else(|| dir.as_ref().unwrap().path().to_path_buf());
        let settings = Settings::resolve(Overrides {
            data_dir: Some(data_dir),
            database_url: options.database_url,
            bind: Some("127.0.0.1:0".parse().unwrap()),
            ..Default::default()
        })
        .unwrap();
        let state = cloud::server::build_state(&settings).await.unwrap();
        let listener = tokio::net::TcpListener::bind(settings.bind).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let workers = cloud::worker::WorkerOptions {
            workers: options.workers,
            lease: Duration::from_secs(60),
            idle_poll: options.idle_poll,
        };
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            cloud::server::serve(listener, served, &HttpOptions::default(), workers, shutdown)
                .await
                .unwrap();
        });
        Server {
            base: format!("http://{addr}/api/v1/"),
            state,
            client: reqwest::Client::new(),
            _dir: dir,
            _stop: stop,
        }
    }

    pub async fn call(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut req = self.client.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            req = req.header("Authorization", format!("jwt {token}"));
        }
        let response = req.send().await.unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("jwt {token}"))
            .send()
            .await
            .unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }
}

/// An account made in the store; returns its JWT.
pub async fn account(server: &Server, email: &str, staff: bool) -> String {
    cloud::auth::password::create_account(&server.state.db.meta, email, None, PASSWORD, staff)
        .await
        .unwrap();
    login(server, email).await
}

pub async fn login(server: &Server, email: &str) -> String {
    let (status, login) = server
        .call(
            "auth/login/",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    login["jwt"].as_str().unwrap().to_string()
}

/// What [`claimed_site`] made.
pub struct BenchSite {
    pub org: String,
    pub project: Value,
    /// Device slugs, in id order from [`FIRST_DEVICE`].
    pub devices: Vec<String>,
}

/// An org and a project of `owner` (a JWT), with `devices` devices registered by `staff` and
/// claimed into the project.
pub async fn claimed_site(server: &Server, staff: &str, owner: &str, devices: usize) -> BenchSite {
    let (status, org) = server
        .call("org/", Some(owner), json!({"name": "Bench"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let (status, project) = server
        .call(
            "project/",
            Some(owner),
            json!({"name": "P", "org": org["slug"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    let mut slugs = Vec::with_capacity(devices);
    for d in 0..devices as u32 {
        let body = json!({"id": FIRST_DEVICE + d, "template": "pod-1gg1-v3-0-0", "sg": "water-meter-v1-1-0"});
        let (status, created) = server.call("device/?staff=1", Some(staff), body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let (status, claimed) = server
            .call(
                "device/claim/",
                Some(owner),
                json!({"device": created["slug"], "project": project["id"]}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{claimed}");
        slugs.push(created["slug"].as_str().unwrap().to_string());
    }
    BenchSite {
        org: org["slug"].as_str().unwrap().to_string(),
        project,
        devices: slugs,
    }
}
