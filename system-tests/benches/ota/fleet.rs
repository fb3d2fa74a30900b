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
/// Visits per POD: a visit cut short is resumed by a later one, as the daemon would.
const ATTEMPTS: usize = 3;
/// How long a POD whose visit was cut short waits before the next.
const RETRY_AFTER: Duration = Duration::from_secs(1);

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
    /// Per POD, from its first visit's start to its last visit's end (a POD visited again
    /// waits in the queue in between).
    pub per_pod: Vec<Duration>,
    /// PODs whose work ended as it should (updated and proven, or collected).
    pub ok: usize,
    /// Visits cut short and made again, with what each said.
    pub retried: Vec<String>,
    /// PODs whose work did not end as it should, with why.
    pub failures: Vec<String>,
    pub sent: u64,
    pub rpcs: u64,
    pub received: u64,
    /// Readings collected (collection only).
    pub readings: usize,
    /// Per script upload, `0x2100` to `0x2102`.
    pub transfers: Vec<Duration>,
    /// PODs that still held a link a while after the pass (a link the stack lost track of).
    pub links_left: usize,
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

/// A POD waiting for its (next) visit.
#[derive(Clone, Copy)]
struct Pending {
    address: BdAddr,
    device: DeviceId,
    visits: usize,
    first: Option<Instant>,
    not_before: Instant,
}

/// How one POD's work ended.
struct Done {
    took: Duration,
    readings: usize,
    error: Option<String>,
}

/// How one visit ended.
enum Visit {
    Done(usize),
    /// Another visit would not change it.
    Final(String),
    /// Cut short: the POD goes back to the end of the queue, as the daemon would visit it
    /// again later.
    Again(String),
}

/// Visits every POD of the rig once (more only to finish a visit cut short).
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
        let queue: VecDeque<Pending> = targets
            .iter()
            .map(|&(address, device)| Pending {
                address,
                device,
                visits: 0,
                first: None,
                not_before: started,
            })
            .collect();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..transport.max_connections() {
            let (transport, queue, shared) = (transport.clone(), queue.clone(), shared.clone());
            tasks.spawn(async move {
                let (mut done, mut again) = (Vec::new(), Vec::new());
                loop {
                    let next = queue.lock().unwrap().pop_front();
                    let Some(mut pod) = next else { break };
                    tokio::time::sleep_until(pod.not_before.into()).await;
                    let first = *pod.first.get_or_insert_with(Instant::now);
                    pod.visits += 1;
                    let outcome = one_visit(&*transport, pod.address, pod.device, &shared).await;
                    let end = |readings, error| Done {
                        took: first.elapsed(),
                        readings,
                        error,
                    };
                    match outcome {
                        Visit::Done(readings) => done.push(end(readings, None)),
                        Visit::Again(error) if pod.visits < ATTEMPTS => {
                            again.push(format!("{}: {error}", pod.device));
                            pod.not_before = Instant::now() + RETRY_AFTER;
                            queue.lock().unwrap().push_back(pod);
                        }
                        Visit::Again(error) | Visit::Final(error) => {
                            done.push(end(0, Some(format!("{}: {error}", pod.device))));
                        }
                    }
                }
                (done, again)
            });
        }
    }
    let (mut all, mut again) = (Vec::new(), Vec::new());
    while let Some(finished) = tasks.join_next().await {
        let (done, retried) = finished.unwrap();
        all.extend(done);
        again.extend(retried);
    }
    let wall = started.elapsed();
    let transfers = meter.transfers.lock().unwrap().clone();
    let links_left = rig.links_left(Duration::from_secs(5)).await;
    Figures {
        wall,
        per_pod: all.iter().map(|d| d.took).collect(),
        ok: all.iter().filter(|d| d.error.is_none()).count(),
        retried: again,
        failures: all.iter().filter_map(|d| d.error.clone()).collect(),
        sent: meter.sent.load(Ordering::Relaxed),
        rpcs: meter.rpcs.load(Ordering::Relaxed),
        received: meter.received.load(Ordering::Relaxed),
        readings: all.iter().map(|d| d.readings).sum(),
        transfers,
        links_left,
    }
}

async fn one_visit<T: Transport>(
    transport: &T,
    address: BdAddr,
    device: DeviceId,
    shared: &Shared,
) -> Visit {
    match shared.work {
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
                Ok(UpdateOutcome::Succeeded { .. }) => Visit::Done(0),
                Ok(other @ (UpdateOutcome::Failed { .. } | UpdateOutcome::NothingToDo)) => {
                    Visit::Final(format!("{other:?}"))
                }
                Ok(later) => Visit::Again(format!("{later:?}")),
                Err(error) => Visit::Again(error.to_string()),
            }
        }
        Work::Collect => {
            let store = into_buffer(shared.buffer.clone());
            match visit(transport, address, &VisitOptions::default(), store).await {
                Ok(summary) => Visit::Done(summary.readings),
                Err(error) => Visit::Again(error.to_string()),
            }
        }
    }
}
