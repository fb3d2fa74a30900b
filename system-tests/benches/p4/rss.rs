//! P4 memory: the real `iotile-gateway run` serving `pods` virtual PODs behind virtual
//! BLED112 dongles and syncing to a real cloud, sampled every 200 ms until every POD has been
//! visited and the cloud holds every reading the PODs had waiting, then stopped with SIGTERM.

use std::sync::Arc;
use std::time::{Duration, Instant};

use firmware_tools::pod::{PodConfig, VirtualPod};
use firmware_tools::radio::bled112::{DongleOptions, VirtualBled112};
use firmware_tools::radio::Peripheral;
use serde_json::Value;

use crate::process::{self, mib};
use crate::site::{self, FIRST_DEVICE, STREAM};

pub struct Shape {
    pub pods: usize,
    /// Readings each POD holds at start, besides the one it makes every 10 s.
    pub backlog: u32,
    pub dongles: usize,
    /// Connections on each dongle (a real BLED112 has 3).
    pub connections: u8,
    pub limit: Duration,
    /// How long memory is watched once everything is in the cloud.
    pub settle: Duration,
}

pub struct Figures {
    pub peak_kib: u64,
    pub steady_kib: u64,
    pub all_visited: Option<Duration>,
    pub all_in_cloud: Option<Duration>,
    pub readings: i64,
    pub exit: Option<i32>,
}

/// A POD with the default output (stream 5001 every 10 s) and `backlog` readings waiting.
fn pod(device: u32, backlog: u32) -> VirtualPod {
    let pod = VirtualPod::new(PodConfig::with_device_id(u64::from(device))).unwrap();
    pod.with_model(|model| {
        for n in 0..backlog {
            model.push_reading(STREAM, n).unwrap();
        }
    });
    pod
}

/// PODs visited at least once, per the gateway's `/status`.
async fn visited(client: &reqwest::Client, status: std::net::SocketAddr) -> usize {
    let Ok(response) = client.get(format!("http://{status}/status")).send().await else {
        return 0;
    };
    let Ok(body) = response.json::<Value>().await else {
        return 0;
    };
    body["gateway"]["pods"].as_object().map_or(0, |pods| {
        pods.values()
            .filter(|p| p["visits"].as_u64().unwrap_or(0) >= 1)
            .count()
    })
}

pub async fn run(shape: &Shape, workers: usize) -> Figures {
    let server = site::server(workers).await;
    // Kept after the run: the gateway's log is there.
    let dir = tempfile::tempdir().unwrap().keep();
    site::site_with_gateway(&server, shape.pods, &dir.join("gateway.key")).await;

    let pods: Vec<VirtualPod> = (0..shape.pods as u32)
        .map(|d| pod(FIRST_DEVICE + d, shape.backlog))
        .collect();
    // PODs spread evenly over the dongles, each in range of one.
    let dongles: Vec<VirtualBled112> = (0..shape.dongles)
        .map(|k| {
            let in_range: Vec<Arc<dyn Peripheral>> = pods
                .iter()
                .skip(k)
                .step_by(shape.dongles)
                .map(|p| Arc::new(p.clone()) as Arc<dyn Peripheral>)
                .collect();
            let options = DongleOptions {
                max_connections: shape.connections,
                ..DongleOptions::default()
            };
            VirtualBled112::start(in_range, options).unwrap()
        })
        .collect();
    let ports: Vec<_> = dongles
        .iter()
        .map(|d| (d.path().to_path_buf(), shape.connections))
        .collect();
    let status = site::free_port();
    let config = site::write_config(&site::GatewayToml {
        cloud: &site::origin(&server),
        dir: &dir,
        dongles: &ports,
        status,
    });

    let log = dir.join("gateway.log");
    let mut child = process::spawn(&config, "run", &log);
    let started = Instant::now();
    let pid = child.id().unwrap();
    let samples = process::sample(pid, Duration::from_millis(200));
    let expected = shape.pods as i64 * i64::from(shape.backlog);
    let client = reqwest::Client::new();
    let (mut all_visited, mut all_in_cloud) = (None, None);
    let mut readings = 0;
    while started.elapsed() < shape.limit {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if all_visited.is_none() && visited(&client, status).await >= shape.pods {
            all_visited = Some(started.elapsed());
        }
        readings = site::rows(&server).await.0;
        if all_in_cloud.is_none() && all_visited.is_some() && readings >= expected {
            all_in_cloud = Some(started.elapsed());
            break;
        }
        if let Ok(Some(exit)) = child.try_wait() {
            panic!(
                "the gateway exited early ({exit}); its log: {}",
                log.display()
            );
        }
    }
    let settled_from = started.elapsed();
    tokio::time::sleep(shape.settle).await;
    readings = readings.max(site::rows(&server).await.0);

    process::terminate(&child);
    let exit = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .ok()
        .and_then(Result::ok)
        .and_then(|s| s.code());
    let samples = samples.lock().unwrap().clone();
    let peak_kib = samples.iter().map(|s| s.hwm_kib).max().unwrap_or(0);
    let steady: Vec<u64> = samples
        .iter()
        .filter(|s| s.at >= settled_from)
        .map(|s| s.rss_kib)
        .collect();
    let steady_kib = steady.iter().sum::<u64>() / steady.len().max(1) as u64;
    println!(
        "P4 rss run: {} samples over {:.1}s, last {:.1} MiB; gateway log {}",
        samples.len(),
        started.elapsed().as_secs_f64(),
        samples.last().map_or(0.0, |s| mib(s.rss_kib)),
        log.display()
    );
    for d in dongles {
        d.stop().await;
    }
    Figures {
        peak_kib,
        steady_kib,
        all_visited,
        all_in_cloud,
        readings,
        exit,
    }
}
