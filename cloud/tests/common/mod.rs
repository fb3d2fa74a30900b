//! Test harness: the real server on 127.0.0.1:0 with a fresh database (SQLite file or a
//! database on a throwaway PostgreSQL cluster), driven over HTTP.
//!
//! `backends!` writes a test once and runs it on both backends:
//! `backends!(name, |app| async move { ... });` gives `name::sqlite` and `name::postgres`;
//! `backends!(name, spawn_idle, …)` starts the server without job workers.

#![allow(dead_code)]

pub mod postgres;
pub mod s3;
pub mod venv;
pub mod web;

use std::net::SocketAddr;

use cloud::config::{Overrides, Settings};
use cloud::http::HttpOptions;
use cloud::state::AppState;
use cloud::store::users;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

pub const PASSWORD: &str = "correct horse battery";

#[macro_export]
macro_rules! backends {
    ($name:ident, $spawn:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::common::TestApp::$spawn($crate::common::Backend::Sqlite).await;
                ($body)(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = $crate::common::TestApp::$spawn($crate::common::Backend::Postgres).await;
                ($body)(app).await;
            }
        }
    };
    ($name:ident, $body:expr) => {
        $crate::backends!($name, spawn, $body);
    };
}

/// One worker that looks for work often, so tests wait little for processing.
pub fn worker_options() -> cloud::worker::WorkerOptions {
    cloud::worker::WorkerOptions {
        workers: 1,
        lease: std::time::Duration::from_secs(30),
        idle_poll: std::time::Duration::from_millis(50),
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::start(backend, false, 1).await
    }

    /// A server whose stream data lives in a database of its own.
    pub async fn spawn_split(backend: Backend) -> TestApp {
        TestApp::start(backend, true, 1).await
    }

    /// A server without job workers, for tests that drive the queue themselves.
    pub async fn spawn_idle(backend: Backend) -> TestApp {
        TestApp::start(backend, false, 0).await
    }

    async fn start(backend: Backend, split: bool, workers: usize) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(postgres::fresh_database_url().await),
        };
        let stream_database_url = match (split, backend) {
            (false, _) => None,
            (true, Backend::Sqlite) => Some(format!(
                "sqlite://{}",
                dir.path().join("streams.sqlite3").display()
            )),
            (true, Backend::Postgres) => Some(postgres::fresh_database_url().await),
        };
        let settings = Settings::resolve(Overrides {
            data_dir: Some(dir.path().to_path_buf()),
            database_url,
            stream_database_url,
            bind: Some("127.0.0.1:0".parse().expect("address")),
            ..Default::default()
        })
        .expect("settings");
        let state = cloud::server::build_state(&settings)
            .await
            .expect("server state");
        let listener = tokio::net::TcpListener::bind(settings.bind)
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = rx.await;
            };
            cloud::server::serve(
                listener,
                served,
                &HttpOptions::default(),
                cloud::worker::WorkerOptions {
                    workers,
                    ..worker_options()
                },
                shutdown,
            )
            .await
            .expect("server");
        });
        TestApp {
            addr,
            state,
            client: reqwest::Client::new(),
            dir,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!(
            "http://{}/api/v1/{}",
            self.addr,
            path.trim_start_matches('/')
        )
    }

    /// Creates an account directly in the store, as `iotile-cloud user create` does.
    pub async fn create_user(&self, email: &str, staff: bool) -> users::User {
        cloud::auth::password::create_account(&self.state.db.meta, email, None, PASSWORD, staff)
            .await
            .expect("create user")
    }

    /// Logs in over HTTP and returns the JWT.
    pub async fn login(&self, email: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "auth/login/",
                None,
                Some(json!({"email": email, "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login of {email}: {body}");
        body["jwt"]
            .as_str()
            .expect("jwt in login answer")
            .to_string()
    }

    /// A user who is logged in: their JWT.
    pub async fn user(&self, email: &str) -> String {
        self.create_user(email, false).await;
        self.login(email).await
    }

    pub async fn staff(&self, email: &str) -> String {
        self.create_user(email, true).await;
        self.login(email).await
    }

    /// One request with `Authorization: jwt <token>`; returns the status and the JSON body
    /// (`Value::Null` for an empty body, a string for a non-JSON body).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.header("Authorization", format!("jwt {token}"));
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// GET that must answer 200; returns the body.
    pub async fn ok(&self, path: &str, token: &str) -> Value {
        let (status, body) = self.get(path, token).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
