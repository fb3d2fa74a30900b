//! Starting and stopping the server.

use std::future::Future;
use std::net::SocketAddr;

use std::os::unix::fs::DirBuilderExt;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::auth::secret::{self, Secret};
use crate::blobs::Blobs;
use crate::config::Settings;
use crate::db::Db;
use crate::http::{self, HttpOptions};
use crate::state::{AppState, SiteInfo};
use crate::worker::{self, WorkerOptions};
use tokio_util::sync::CancellationToken;

/// Opens and migrates the databases named by the settings, creating the data directory.
pub async fn open_db(settings: &Settings) -> anyhow::Result<Db> {
    // The directory holds password hashes, tokens and the signing secret: only its owner may
    // enter it when we create it.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    Ok(Db::open(
        &settings.database_url,
        settings.stream_database_url.as_deref(),
    )
    .await?)
}

/// The signing secret: from the environment, or the data directory's 0600 file.
pub fn load_secret(settings: &Settings) -> anyhow::Result<Secret> {
    match &settings.secret_key {
        Some(key) => {
            anyhow::ensure!(
                key.len() >= 32,
                "IOTILE_SECRET_KEY must be at least 32 characters"
            );
            Ok(Secret::new(key.as_bytes().to_vec()))
        }
        None => secret::load_or_create(&settings.data_dir.join("secret.key")),
    }
}

pub async fn build_state(settings: &Settings) -> anyhow::Result<AppState> {
    let db = open_db(settings).await?;
    let secret = load_secret(settings)?;
    crate::store::catalogue::seed(&db.meta)
        .await
        .context("seeding the catalogue")?;
    Ok(AppState::new(
        db,
        &secret,
        SiteInfo {
            name: settings.site_name.clone(),
            stage: "production".to_string(),
            company: "IOTile Edge".to_string(),
        },
        blobs(settings)?,
    ))
}

/// The object store named by the settings, logged (without credentials) at startup.
pub fn blobs(settings: &Settings) -> anyhow::Result<Blobs> {
    let blobs = Blobs::from_settings(settings).context("opening the object store")?;
    tracing::info!(store = blobs.describe(), "object store");
    Ok(blobs)
}

/// Serves HTTP and runs `workers` until `shutdown` resolves; then lets requests in flight and
/// jobs in hand finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    options: &HttpOptions,
    workers: WorkerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = state.db.clone();
    let stop_workers = CancellationToken::new();
    let running = tokio::spawn(worker::run(state.clone(), workers, stop_workers.clone()));
    let app = http::app(state, options);
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<SocketAddr>(app),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("serving HTTP")?;
    stop_workers.cancel();
    if let Err(e) = running.await {
        tracing::error!(error = %e, "a worker task ended abnormally");
    }
    db.close().await;
    Ok(())
}

/// Runs only workers (`iotile-cloud worker`) until `shutdown` resolves.
pub async fn work(
    state: AppState,
    workers: WorkerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = state.db.clone();
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker::run(state, workers, stop.clone()));
    shutdown.await;
    stop.cancel();
    running.await.context("worker task")?;
    db.close().await;
    Ok(())
}
