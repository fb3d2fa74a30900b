//! One radio's collector: it listens to advertisements, keeps the latest one per POD and
//! visits PODs that say they have data, a few at a time. A POD is not visited again within
//! [`MIN_INTERVAL`]; one whose visit failed waits twice as long each time, up to
//! [`MAX_BACKOFF`], so a POD at the edge of range does not hog a connection slot.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sync_protocol::bgapi::BdAddr;
use sync_protocol::ids::DeviceId;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::Shared;
use crate::collect::{into_buffer, visit, CollectError, VisitOptions, VisitSummary};
use crate::transport::{Seen, Transport};

/// The least time between two visits of the same POD. A POD logs its connect and
/// disconnect events as system readings, so it advertises data again right after every
/// visit: this interval, not the flag, is what bounds how often a POD is woken.
pub const MIN_INTERVAL: Duration = Duration::from_secs(60);
/// The longest wait after failed visits.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// The wait before scanning again when the radio stopped or failed.
const RESCAN: Duration = Duration::from_secs(5);

/// What the collector knows of one POD.
#[derive(Default)]
struct Pod {
    latest: Option<Seen>,
    not_before: Option<Instant>,
    failures: u32,
    visiting: bool,
}

type Visited = (BdAddr, DeviceId, Result<VisitSummary, CollectError>);

/// Scans and visits until shutdown; visits in progress are abandoned then.
pub(crate) async fn run<T: Transport + 'static>(
    transport: Arc<T>,
    name: String,
    max_connections: usize,
    shared: Shared,
) {
    let slots = max_connections.min(transport.max_connections()).max(1);
    let mut pods: HashMap<BdAddr, Pod> = HashMap::new();
    let mut visits: JoinSet<Visited> = JoinSet::new();
    'scanning: while !shared.shutdown.is_cancelled() {
        let mut scan = match transport.scan().await {
            Ok(scan) => scan,
            Err(error) => {
                tracing::error!(adapter = %name, %error, "scanning failed; trying again");
                tokio::select! {
                    () = shared.shutdown.cancelled() => break 'scanning,
                    () = tokio::time::sleep(RESCAN) => continue 'scanning,
                }
            }
        };
        loop {
            tokio::select! {
                () = shared.shutdown.cancelled() => break 'scanning,
                Some(joined) = visits.join_next() => match joined {
                    Ok(visited) => finished(&mut pods, &name, &shared, visited),
                    Err(error) => tracing::error!(adapter = %name, %error, "a visit task failed"),
                },
                seen = scan.recv() => {
                    let Some(seen) = seen else {
                        tracing::warn!(adapter = %name, "the scan stopped; starting it again");
                        tokio::select! {
                            () = shared.shutdown.cancelled() => break 'scanning,
                            () = tokio::time::sleep(RESCAN) => continue 'scanning,
                        }
                    };
                    let address = seen.address;
                    let pod = pods.entry(address).or_default();
                    let due = seen.has_data
                        && !seen.user_connected
                        && !pod.visiting
                        && pod.not_before.is_none_or(|t| Instant::now() >= t);
                    let device = DeviceId::from_u32(seen.device_id);
                    let rssi = seen.rssi;
                    super::status::update(&shared.board, |b| {
                        let p = b.pods.entry(device.to_string()).or_default();
                        p.adapter.clone_from(&name);
                        p.address = address.to_string();
                        p.rssi = rssi;
                        p.last_seen_us = super::status::now_us();
                    });
                    pod.latest = Some(seen);
                    if !due || visits.len() >= slots {
                        continue;
                    }
                    if shared.over_budget.load(Ordering::Relaxed) {
                        continue;
                    }
                    pod.visiting = true;
                    tracing::debug!(adapter = %name, %address, %device, "visiting");
                    let transport = transport.clone();
                    let store = into_buffer(shared.buffer.clone());
                    visits.spawn(async move {
                        let outcome =
                            visit(&*transport, address, &VisitOptions::default(), store).await;
                        (address, device, outcome)
                    });
                }
            }
        }
    }
    visits.shutdown().await;
    tracing::info!(adapter = %name, "collector stopped");
}

/// Books a finished visit: the next allowed visit, and the acknowledgements on record.
fn finished(pods: &mut HashMap<BdAddr, Pod>, name: &str, shared: &Shared, visited: Visited) {
    let (address, device, outcome) = visited;
    let pod = pods.entry(address).or_default();
    pod.visiting = false;
    super::status::update(&shared.board, |b| {
        let p = b.pods.entry(device.to_string()).or_default();
        p.last_visit_us = Some(super::status::now_us());
        match &outcome {
            Ok(_) => {
                p.visits += 1;
                p.last_error = None;
            }
            Err(error) => {
                p.failed_visits += 1;
                p.last_error = Some(error.to_string());
            }
        }
    });
    match outcome {
        Ok(summary) => {
            pod.failures = 0;
            pod.not_before = Some(Instant::now() + MIN_INTERVAL);
            let rssi = pod.latest.as_ref().map(|seen| seen.rssi);
            tracing::info!(adapter = %name, %address, %device, ?rssi, reports = summary.stored,
                readings = summary.readings, rejected = summary.rejected, "visited");
            record_acks(shared, device, &summary);
        }
        Err(error) => {
            pod.failures = pod.failures.saturating_add(1);
            let wait = retry_after(pod.failures);
            pod.not_before = Some(Instant::now() + wait);
            if matches!(error, CollectError::Store(_)) {
                // Most likely the budget: stop visiting until the uploader finds room.
                shared.over_budget.store(true, Ordering::Relaxed);
                tracing::warn!(adapter = %name, %address, %device, %error,
                    "the buffer refused a report: collection stops until there is room");
            } else {
                tracing::warn!(adapter = %name, %address, %device, %error, ?wait, "visit failed");
            }
        }
    }
}

fn record_acks(shared: &Shared, device: DeviceId, summary: &VisitSummary) {
    let Ok(mut buffer) = shared.buffer.lock() else {
        tracing::error!("the buffer lock is poisoned");
        return;
    };
    for (&streamer, &id) in &summary.acknowledged {
        if let Err(error) = buffer.record_ack(device, streamer, id) {
            tracing::warn!(%device, streamer, %error, "the acknowledgement was not recorded");
        }
    }
}

/// The wait after `failures` failed visits in a row: doubling from [`MIN_INTERVAL`].
pub fn retry_after(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    MIN_INTERVAL
        .saturating_mul(1u32 << doublings)
        .min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_visits_wait_twice_as_long_up_to_the_cap() {
        assert_eq!(retry_after(1), MIN_INTERVAL);
        assert_eq!(retry_after(2), MIN_INTERVAL * 2);
        assert_eq!(retry_after(4), MIN_INTERVAL * 8);
        assert_eq!(retry_after(5), MAX_BACKOFF);
        assert_eq!(retry_after(u32::MAX), MAX_BACKOFF);
    }
}
