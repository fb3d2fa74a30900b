//! `iotile-demo`: the whole system in one process, wired as in the field. A cloud on SQLite,
//! a demo site in it (user, org, project, three claimed PODs, a registered gateway), three
//! virtual PODs producing readings behind virtual radios, and the gateway daemon collecting
//! them and syncing them to the cloud; until Ctrl-C or SIGTERM.
//!
//! - `api`: the cloud's REST API over HTTP, as the demo user calls it.
//! - `cloud`: the cloud served in this process, and accounts made in its store.
//! - `site`: the demo site, made once per data directory (`demo.json`).
//! - `pods`: the virtual PODs and radios; BLED112 only when no D-Bus daemon can start.
//! - `progress`: a line whenever the PODs' readings in the cloud change.
//! - `banner`: what is printed at start: addresses, login, PODs, things to try.

mod api;
mod banner;
mod cloud;
pub mod pods;
mod progress;
mod site;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use gateway::config::{Cloud as CloudConfig, Config, Paths};
use gateway::daemon::Daemon;
use tokio_util::sync::CancellationToken;

pub use pods::Radio;

/// How long the gateway daemon may take to stop.
const DAEMON_STOP: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the cloud listens.
    pub bind: SocketAddr,
    /// Keep everything here; `None`: a fresh temporary directory removed at exit.
    pub data_dir: Option<PathBuf>,
    /// Serve two PODs through a virtual BlueZ on a private D-Bus (else all on the BLED112).
    pub bluez: bool,
}

/// Where the demo keeps its files: a kept directory or a temporary one.
enum DataDir {
    Kept(PathBuf),
    Temporary(tempfile::TempDir),
}

impl DataDir {
    fn path(&self) -> &std::path::Path {
        match self {
            DataDir::Kept(path) => path,
            DataDir::Temporary(dir) => dir.path(),
        }
    }
}

/// Runs the demo until `shutdown` resolves, then stops the gateway, the PODs, the radios
/// and the cloud, in that order, and removes a temporary data directory. What it returns
/// is to be dropped once the runtime is gone (see [`pods::Remains`]).
pub async fn run(
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<pods::Remains> {
    let data = match &options.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            DataDir::Kept(dir.clone())
        }
        None => DataDir::Temporary(
            tempfile::Builder::new()
                .prefix("iotile-demo-")
                .tempdir()
                .context("creating a temporary directory")?,
        ),
    };
    let root = data.path().to_owned();
    let cloud = cloud::Cloud::start(&root.join("cloud"), options.bind).await?;
    let base = format!("http://{}", cloud.addr);
    let api = api::Api::new(&base)?;
    let key = root.join("gateway").join("gateway.key");
    let site = match site::load(&root)? {
        Some(site) => site,
        None => site::create(&cloud, &api, &root, &key).await?,
    };

    let ids: Vec<u64> = site.devices.iter().map(|d| d.id).collect();
    let pods = pods::Pods::start(&ids, &root.join("pods"), options.bluez).await?;
    let status = free_loopback_port()?;
    let mut config = Config {
        cloud: CloudConfig { url: base.clone() },
        paths: Paths {
            buffer: root.join("gateway").join("buffer.sqlite"),
            key,
        },
        adapters: pods.adapters(),
        ..Config::default()
    };
    config.status.bind = status;
    let stop_gateway = CancellationToken::new();
    let mut daemon = tokio::spawn(Daemon::run(config, stop_gateway.clone()));

    banner::print(&banner::Banner {
        cloud: cloud.addr,
        status,
        data_dir: &root,
        kept: matches!(data, DataDir::Kept(_)),
        site: &site,
        pods: &pods,
    });
    let stop_progress = CancellationToken::new();
    let progress = tokio::spawn(progress::report(api, site.clone(), stop_progress.clone()));

    // The daemon ends early only when it cannot start (a radio or the key).
    let early = tokio::select! {
        () = shutdown => None,
        ended = &mut daemon => Some(ended),
    };
    println!("stopping: gateway, PODs, radios, cloud");
    stop_progress.cancel();
    let _ = progress.await;
    stop_gateway.cancel();
    let daemon_result = match early {
        Some(ended) => ended,
        None => tokio::time::timeout(DAEMON_STOP, daemon)
            .await
            .context("the gateway did not stop in time")?,
    };
    let pods_result = pods.stop().await;
    let cloud_result = cloud.stop().await;
    daemon_result
        .context("the gateway task")?
        .context("the gateway")?;
    let remains = pods_result?;
    cloud_result?;
    if let DataDir::Temporary(dir) = data {
        dir.close().context("removing the temporary directory")?;
    }
    Ok(remains)
}

/// A loopback address nothing listens on right now.
fn free_loopback_port() -> anyhow::Result<SocketAddr> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(probe.local_addr()?)
}
