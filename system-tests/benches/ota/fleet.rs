//! One pass over every POD of a [`Rig`], as the gateway would make it: per dongle, one task
//! per connection slot pulling PODs from that dongle's queue, each running the gateway
//! library's own visit, an update (`gateway::ota::update`) or a collection
//! (`gateway::collect::visit`), with a real buffer file behind it.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gateway::buffer::{Budget, Buffer};
use gateway::collect::{into_buffer, visit, VisitOptions};
use gateway::ota::{UpdateOptions, UpdateOutcome};
use gateway::transport::Transport;
use sha2::{Digest, Sha256};
use sync_protocol::bgapi::BdAddr;
use sync_protocol::ids::DeviceId;
use sync_protocol::ota::{FeedDeployment, FeedScript, OtaFeed, ScriptTarget};

use crate::rig::{Meter, Metered, Rig};
use crate::site::ota::{release_key, SCRIPT_NAME, SCRIPT_VERSION};

const DEPLOYMENT: i64 = 7;
const SLUG: &str = "z--0000-0007";
/// Attempts per POD: a visit cut short is resumed by the next one, as the daemon would.
const ATTEMPTS: usize = 3;

/// What each visit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// An update visit; `script_channel: false` hides the high-speed channel, so the script
    /// goes as `0x2101` RPC chunks.
    Update { script_channel: bool },
    /// One collection visit with the daemon's options.
    Collect,
}

/// What a pass measured.
pub struct Figures {
    pub wall: Duration,
    /// Per POD, from its first connect to its last visit's end (retries included).
    pub per_pod: Vec<Duration>,
    /// PODs whose work ended as it should (updated and proven, or collected).
    pub ok: usize,
    /// Visits beyond the first, and what the failed ones said.
    pub retries: usize,
    pub failures: Vec<String>,
    pub sent: u64,
    pub rpcs: u64,
    pub received: u64,
    /// Readings collected (collection only).
    pub readings: usize,
    /// Per script upload, `0x2100` to `0x2102`.
    pub transfers: Vec<Duration>,
}

/// A feed offering `script` to `devices`, signed with the site's release key; the criteria
/// are those `site::ota::deploy` releases with, as the cloud normalises them.
pub fn feed(org: &str, script: &[u8], devices: &[u64]) -> OtaFeed {
    let target = ScriptTarget::new(org, SCRIPT_NAME, SCRIPT_VERSION).unwrap();
    OtaFeed {
        release_keys: vec![release_key().public()],
        allow_unsigned: false,
        deployments: vec![FeedDeployment {
            id: DEPLOYMENT,
            script: FeedScript {
                slug: SLUG.into(),
                target: target.clone(),
                size: script.len() as u64,
                sha256: hex::encode(Sha256::digest(script)),
                signature: Some(release_key().sign(&target, script)),
            },
            selection_criteria: vec!["app_tag:eq:2049".into(), "app_version:lteq:1.9".into()],
            released_on: "2026-12-07T10:00:00Z".into(),
            devices: devices.to_vec(),
        }],
    }
}

/// A fresh buffer file in `dir` holding the feed's scripts, as the OTA poller leaves it.
fn buffer(dir: &std::path::Path, feed: &OtaFeed, script: &[u8]) -> Arc<Mutex<Buffer>> {
    let budget = Budget { max_bytes: 1 << 30 };
    let (mut buffer, _) = Buffer::open(&dir.join("buffer.sqlite"), budget).unwrap();
    for d in &feed.deployments {
        buffer
            .save_ota_script(&d.script.slug, &d.script.sha256, script)
            .unwrap();
    }
    Arc::new(Mutex::new(buffer))
}

struct Shared {
    feed: OtaFeed,
    buffer: Arc<Mutex<Buffer>>,
    options: UpdateOptions,
    work: Work,
}

/// How one POD's work ended.
struct Done {
    took: Duration,
    visits: usize,
    readings: usize,
    error: Option<String>,
}

/// Visits every POD of the rig once (more only to finish an update cut short).
pub async fn pass(rig: &Rig, work: Work, feed: OtaFeed, script: &[u8]) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let shared = Arc::new(Shared {
        buffer: buffer(dir.path(), &feed, script),
        feed,
        options: UpdateOptions::default(),
        work,
    });
    let meter = Arc::new(Meter::default());
    let script_channel = !matches!(
        work,
        Work::Update {
            script_channel: false
        }
    );
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (transport, targets) in &rig.dongles {
        let transport = Arc::new(Metered::new(
            transport.clone(),
            script_channel,
            meter.clone(),
        ));
        let queue = Arc::new(Mutex::new(targets.iter().copied().collect::<VecDeque<_>>()));
        for _ in 0..transport.max_connections() {
            let (transport, queue, shared) = (transport.clone(), queue.clone(), shared.clone());
            tasks.spawn(async move {
                let mut done = Vec::new();
                loop {
                    let next = queue.lock().unwrap().pop_front();
                    let Some((address, device)) = next else { break };
                    done.push(one_pod(&*transport, address, device, &shared).await);
                }
                done
            });
        }
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done.unwrap());
    }
    let wall = started.elapsed();
    let transfers = meter.transfers.lock().unwrap().clone();
    Figures {
        wall,
        per_pod: all.iter().map(|d| d.took).collect(),
        ok: all.iter().filter(|d| d.error.is_none()).count(),
        retries: all.iter().map(|d| d.visits.saturating_sub(1)).sum(),
        failures: all.iter().filter_map(|d| d.error.clone()).collect(),
        sent: meter.sent.load(Ordering::Relaxed),
        rpcs: meter.rpcs.load(Ordering::Relaxed),
        received: meter.received.load(Ordering::Relaxed),
        readings: all.iter().map(|d| d.readings).sum(),
        transfers,
    }
}

async fn one_pod<T: Transport>(
    transport: &T,
    address: BdAddr,
    device: DeviceId,
    shared: &Shared,
) -> Done {
    let started = Instant::now();
    let mut last = String::new();
    for visits in 1..=ATTEMPTS {
        let result = match shared.work {
            Work::Update { .. } => {
                let outcome = gateway::ota::update(
                    transport,
                    address,
                    device,
                    &shared.feed,
                    &shared.buffer,
                    &shared.options,
                )
                .await;
                match outcome {
                    Ok(UpdateOutcome::Succeeded { .. }) => Ok(0),
                    // Final: another visit would not change it.
                    Ok(other @ (UpdateOutcome::Failed { .. } | UpdateOutcome::NothingToDo)) => {
                        return Done {
                            took: started.elapsed(),
                            visits,
                            readings: 0,
                            error: Some(format!("{device}: {other:?}")),
                        };
                    }
                    Ok(later) => Err(format!("{later:?}")),
                    Err(error) => Err(error.to_string()),
                }
            }
            Work::Collect => {
                let store = into_buffer(shared.buffer.clone());
                visit(transport, address, &VisitOptions::default(), store)
                    .await
                    .map(|summary| summary.readings)
                    .map_err(|e| e.to_string())
            }
        };
        match result {
            Ok(readings) => {
                return Done {
                    took: started.elapsed(),
                    visits,
                    readings,
                    error: None,
                }
            }
            Err(error) => last = format!("{device}: {error}"),
        }
    }
    Done {
        took: started.elapsed(),
        visits: ATTEMPTS,
        readings: 0,
        error: Some(last),
    }
}
