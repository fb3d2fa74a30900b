//! The cloud, served in this process as `iotile-cloud serve` serves it: SQLite and local
//! objects in the data directory, one job worker.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use cloud::config::{ObjectStoreSettings, Settings};
use cloud::http::HttpOptions;
use cloud::state::AppState;
use cloud::store::users;
use cloud::worker::WorkerOptions;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A cloud serving HTTP until [`Cloud::stop`].
pub struct Cloud {
    pub addr: SocketAddr,
    state: AppState,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Cloud {
    /// Opens (or creates) the cloud's database in `dir` and serves it on `bind`.
    pub async fn start(dir: &Path, bind: SocketAddr) -> anyhow::Result<Cloud> {
        // Built here rather than resolved from the environment: the demo must not pick up a
        // DATABASE_URL or object store meant for a real deployment.
        let settings = Settings {
            bind,
            data_dir: dir.to_owned(),
            database_url: cloud::db::default_sqlite_url(dir),
            stream_database_url: None,
            secret_key: None,
            site_name: "IOTile Demo".to_string(),
            cors_origins: Vec::new(),
            object_store: ObjectStoreSettings::Local,
        };
        let listener = match TcpListener::bind(bind).await {
            Ok(listener) => listener,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => anyhow::bail!(
                "{bind} is already in use (another cloud or demo?); \
                 choose a free port with --bind 127.0.0.1:0"
            ),
            Err(e) => return Err(e).with_context(|| format!("listening on {bind}")),
        };
        let addr = listener.local_addr()?;
        let state = cloud::server::build_state(&settings).await?;
        let options = HttpOptions {
            cors_origins: settings.cors_origins.clone(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = state.clone();
        let task = tokio::spawn(async move {
            cloud::server::serve(
                listener,
                serving,
                &options,
                WorkerOptions::default(),
                async move {
                    let _ = stopped.await;
                },
            )
            .await
        });
        Ok(Cloud {
            addr,
            state,
            stop,
            task,
        })
    }

    /// Creates an active account directly in the store, as `iotile-cloud user create` does;
    /// false when the email is already taken.
    pub async fn create_account(
        &self,
        email: &str,
        password: &str,
        staff: bool,
    ) -> anyhow::Result<bool> {
        let meta = &self.state.db.meta;
        if users::by_email(meta, email).await?.is_some() {
            return Ok(false);
        }
        cloud::auth::password::create_account(meta, email, None, password, staff)
            .await
            .with_context(|| format!("creating {email}"))?;
        Ok(true)
    }

    /// Stops serving, lets requests and jobs in hand finish, closes the database.
    pub async fn stop(self) -> anyhow::Result<()> {
        drop(self.state);
        let _ = self.stop.send(());
        self.task.await.context("the cloud task")?
    }
}
