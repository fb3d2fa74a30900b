//! The running gateway: every configured radio scans and visits PODs that have data, while
//! one uploader drains the buffer to the cloud and prunes what the cloud confirmed long ago.
//! Everything stops when the shutdown token is cancelled; a visit cut short is harmless (the
//! POD frees nothing it was not told to) and so is an upload cut short (the cloud answers
//! "duplicate" for reports it already has). Collection stops first; then the uploader makes
//! one last pass, within a short deadline, so that what was collected last does not wait on
//! disk for the next start.

mod backlog;
mod collector;
pub mod status;
mod uploader;

pub use uploader::LAST_PASS;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::buffer::{Budget, Buffer, BufferError};
use crate::config::{Adapter, Config};
use crate::identity::IdentityError;
use crate::sync::{BatchLimits, SyncClient, SyncError};
use crate::transport::bled112::Bled112;
use crate::transport::bluez::Bluez;
use crate::transport::TransportError;

/// How long one request to the cloud may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("the buffer: {0}")]
    Buffer(#[from] BufferError),
    #[error("the gateway key (run `iotile-gateway register` first): {0}")]
    Identity(#[from] IdentityError),
    #[error("the adapter {adapter}: {source}")]
    Adapter {
        adapter: String,
        source: TransportError,
    },
    #[error("the sync client: {0}")]
    Sync(#[from] SyncError),
    #[error("the status API cannot listen on {bind}: {source}")]
    Status {
        bind: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("a gateway task failed: {0}")]
    Task(String),
}

/// State the collectors and the uploader share.
#[derive(Clone)]
pub(crate) struct Shared {
    pub buffer: Arc<Mutex<Buffer>>,
    /// Set while the buffer is past its budget: collectors do not start visits.
    pub over_budget: Arc<AtomicBool>,
    pub shutdown: CancellationToken,
    /// What the status API shows.
    pub board: status::SharedBoard,
    /// OTA state, unless `[ota] enabled = false`.
    pub updates: Option<Arc<crate::ota::Updates>>,
}

impl Shared {
    /// Stops or resumes collection as the buffer crosses its budget, saying so loudly once
    /// each time, whoever noticed first (the uploader's look at the figures, or a collector
    /// whose report was refused).
    pub(crate) fn set_over_budget(&self, over: bool, detail: &str) {
        let was = self
            .over_budget
            .swap(over, std::sync::atomic::Ordering::Relaxed);
        if over && !was {
            tracing::warn!(
                detail,
                "THE BUFFER IS OVER BUDGET: collection is stopped until reports are synced and pruned"
            );
        } else if was && !over {
            tracing::info!(detail, "the buffer has room again; collection resumes");
        }
    }
}

/// The gateway daemon.
pub struct Daemon;

impl Daemon {
    /// Opens the buffer, the key and every adapter, then collects and syncs until
    /// `shutdown` is cancelled. Fails only at start: afterwards every error is logged and
    /// retried.
    pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), DaemonError> {
        let secret = crate::identity::load(&config.paths.key)?;
        let budget = Budget {
            max_bytes: config.budget.max_bytes.0,
        };
        let (buffer, opened) = Buffer::open(&config.paths.buffer, budget)?;
        tracing::info!(buffer = %config.paths.buffer.display(), ?opened, "buffer open");
        // Known before the first advertisement, so that a full buffer is never visited into.
        let over_budget = buffer.stats()?.over_budget;
        if over_budget {
            tracing::warn!(
                "THE BUFFER IS OVER BUDGET: collection waits until reports are synced and pruned"
            );
        }
        let client = SyncClient::new(&config.cloud.url, secret.clone(), REQUEST_TIMEOUT)?;
        let updates = config.ota.enabled.then(|| {
            Arc::new(crate::ota::Updates::new(crate::ota::UpdateOptions {
                come_back_within: config.ota.come_back_within.0,
                script_limit: config.ota.script_limit.0,
                pinned_keys: config.ota.release_keys.clone(),
                ..Default::default()
            }))
        });
        if let Some(updates) = &updates {
            // Before the collectors start: an update cut short resumes at the first visit.
            updates.load(&buffer)?;
        }
        let shared = Shared {
            buffer: Arc::new(Mutex::new(buffer)),
            over_budget: Arc::new(AtomicBool::new(over_budget)),
            shutdown,
            board: Arc::new(Mutex::new(status::Board {
                started_us: status::now_us(),
                ..Default::default()
            })),
            updates,
        };
        let listener = tokio::net::TcpListener::bind(config.status.bind)
            .await
            .map_err(|source| DaemonError::Status {
                bind: config.status.bind,
                source,
            })?;
        tracing::info!(bind = %config.status.bind, "status API at /status and /metrics");

        let mut tasks = JoinSet::new();
        let mut collectors = JoinSet::new();
        for adapter in &config.adapters {
            let wanted = usize::from(adapter.max_connections());
            let name = adapter_name(adapter);
            let schedule = collector::Schedule {
                visits: config.visits,
                policy: config.ack.policy,
                updates: config.ota.updates_per_adapter(wanted),
            };
            let opened = match adapter {
                Adapter::Bled112 { port, .. } => Bled112::open(port).await.map(|t| {
                    collectors.spawn(collector::run(
                        Arc::new(t),
                        name.clone(),
                        wanted,
                        schedule,
                        shared.clone(),
                    ));
                }),
                Adapter::Bluez { .. } => Bluez::open(wanted).await.map(|t| {
                    collectors.spawn(collector::run(
                        Arc::new(t),
                        name.clone(),
                        wanted,
                        schedule,
                        shared.clone(),
                    ));
                }),
            };
            if let Err(source) = opened {
                shared.shutdown.cancel();
                while collectors.join_next().await.is_some() {}
                return Err(DaemonError::Adapter {
                    adapter: name,
                    source,
                });
            }
            tracing::info!(adapter = %name, "adapter open");
        }
        let limits = BatchLimits {
            reports: config.sync.batch_reports,
            bytes: usize::try_from(config.sync.batch_bytes.0).unwrap_or(usize::MAX),
        };
        let settings = uploader::Settings {
            limits,
            interval: config.sync.interval.0,
            backoff_max: Duration::from_secs(config.sync.backoff_max_secs),
            retention: Duration::from_secs(u64::from(config.retention.synced_days) * 86_400),
        };
        // The uploader's last pass waits for the collectors to end.
        let collected = CancellationToken::new();
        let ended = collected.clone();
        tasks.spawn(async move {
            while let Some(joined) = collectors.join_next().await {
                if let Err(error) = joined {
                    if error.is_panic() {
                        std::panic::resume_unwind(error.into_panic());
                    }
                }
            }
            ended.cancel();
        });
        tasks.spawn(uploader::run(client, settings, shared.clone(), collected));
        if let Some(updates) = &shared.updates {
            let client = SyncClient::new(&config.cloud.url, secret, REQUEST_TIMEOUT)?;
            tasks.spawn(crate::ota::poller::run(
                client,
                updates.clone(),
                shared.buffer.clone(),
                config.ota.poll.0,
                shared.shutdown.clone(),
            ));
        }
        tasks.spawn(status::serve(listener, shared.clone()));

        // A task that failed leaves the gateway half-working: stop everything and say so, so
        // that the service manager restarts it whole.
        let mut failed = None;
        while let Some(joined) = tasks.join_next().await {
            if let Err(error) = joined {
                tracing::error!(%error, "a gateway task failed; stopping");
                shared.shutdown.cancel();
                failed.get_or_insert(error.to_string());
            }
        }
        tracing::info!("gateway stopped");
        failed.map_or(Ok(()), |e| Err(DaemonError::Task(e)))
    }
}

fn adapter_name(adapter: &Adapter) -> String {
    match adapter {
        Adapter::Bled112 { port, .. } => format!("bled112 {}", port.display()),
        Adapter::Bluez { name, .. } => format!("bluez {name}"),
    }
}
