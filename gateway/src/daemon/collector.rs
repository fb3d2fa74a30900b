//! One radio's collector: it listens to advertisements, keeps the latest one per POD and
//! visits PODs, a few at a time. A POD is due when it advertises data, or when it has not
//! been visited for [`Visits::revisit`]; among due PODs the one visited longest ago goes
//! first. A POD is not visited again within [`Visits::min_interval`]; one whose visit failed
//! waits twice as long each time, up to [`Visits::backoff_max`], so a POD at the edge of
//! range does not hog a connection slot.
//!
//! Updates come first: a POD with update work ([`crate::ota::Updates::wanted`]) gets an update
//! visit ahead of collection, but at most [`Schedule::updates`] at once, so collection always
//! keeps a slot and no POD's data waits on another POD's update.
//!
//! Two guards keep a POD from going quietly unvisited: a visit that overruns its limit is
//! torn down (its link closes as the visit is dropped), and a POD heard but not visited for
//! [`Visits::starved_after`] is reported starved on the status board and in the log.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sync_protocol::bgapi::BdAddr;
use sync_protocol::ids::DeviceId;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::Shared;
use crate::buffer::ota::JobState;
use crate::collect::{into_buffer, known_acks, visit, CollectError, VisitOptions, VisitSummary};
use crate::config::{AckPolicy, Visits};
use crate::ota::{self, UpdateError, UpdateOutcome};
use crate::transport::{Seen, Transport};

/// The wait before scanning again when the radio stopped or failed.
const RESCAN: Duration = Duration::from_secs(5);
/// A POD not heard for this long has left: it is not visited until heard again.
const GONE_AFTER: Duration = Duration::from_secs(60);
/// How often due PODs are looked for between advertisements.
const TICK: Duration = Duration::from_secs(1);
/// Beyond a visit's own limit: connecting (a few attempts) and closing the link.
const VISIT_OVERHEAD: Duration = Duration::from_secs(60);

/// How the collector visits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    pub visits: Visits,
    pub policy: AckPolicy,
    /// The most update visits at once on this adapter.
    pub updates: usize,
}

/// What the collector knows of one POD.
struct Pod {
    latest: Seen,
    heard: Instant,
    first_heard: Instant,
    last_visit: Option<Instant>,
    /// The end of the last visit that collected.
    last_success: Option<Instant>,
    not_before: Option<Instant>,
    failures: u32,
    visiting: bool,
    updating: bool,
    starved: bool,
}

impl Pod {
    fn due(&self, now: Instant, visits: &Visits) -> bool {
        let wanted = self.latest.has_data
            || self
                .last_visit
                .is_none_or(|last| now >= last + visits.revisit.0);
        wanted && self.can_visit(now)
    }

    /// Free, heard lately, nobody else connected, and past any backoff.
    fn can_visit(&self, now: Instant) -> bool {
        !self.visiting
            && !self.latest.user_connected
            && now.duration_since(self.heard) < GONE_AFTER
            && self.not_before.is_none_or(|t| now >= t)
    }
}

impl Pod {
    /// Heard lately, yet not visited for longer than a healthy schedule allows.
    fn is_starved(&self, now: Instant, visits: &Visits) -> bool {
        let since = self.last_success.unwrap_or(self.first_heard);
        now.duration_since(self.heard) < GONE_AFTER
            && now.duration_since(since) > visits.starved_after()
    }
}

/// A finished visit: a collection or an update.
enum Visited {
    Collected(BdAddr, DeviceId, Result<VisitSummary, CollectError>),
    Updated(BdAddr, DeviceId, Result<UpdateOutcome, UpdateError>),
}

/// Scans and visits until shutdown; visits in progress are abandoned then.
pub(crate) async fn run<T: Transport + 'static>(
    transport: Arc<T>,
    name: String,
    max_connections: usize,
    schedule: Schedule,
    shared: Shared,
) {
    let slots = max_connections.min(transport.max_connections()).max(1);
    let mut pods: HashMap<BdAddr, Pod> = HashMap::new();
    let mut visits: JoinSet<Visited> = JoinSet::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                    Ok(Visited::Collected(address, device, outcome)) => finished(
                        &mut pods, &name, &schedule.visits, &shared, (address, device, outcome),
                    ),
                    Ok(Visited::Updated(address, device, outcome)) => updated(
                        &mut pods, &name, &schedule.visits, &shared, (address, device, outcome),
                    ),
                    Err(error) => tracing::error!(adapter = %name, %error, "a visit task failed"),
                },
                _ = tick.tick() => {}
                seen = scan.recv() => {
                    let Some(seen) = seen else {
                        tracing::warn!(adapter = %name, "the scan stopped; starting it again");
                        tokio::select! {
                            () = shared.shutdown.cancelled() => break 'scanning,
                            () = tokio::time::sleep(RESCAN) => continue 'scanning,
                        }
                    };
                    heard(&mut pods, &name, &shared, seen);
                }
            }
            dispatch(
                &transport,
                &name,
                &schedule,
                &shared,
                &mut pods,
                &mut visits,
                slots,
            );
            watch_starved(&mut pods, &name, &schedule.visits, &shared);
        }
    }
    visits.shutdown().await;
    tracing::info!(adapter = %name, "collector stopped");
}

/// Keeps the latest advertisement of a POD, and shows it on the status board.
fn heard(pods: &mut HashMap<BdAddr, Pod>, name: &str, shared: &Shared, seen: Seen) {
    let device = DeviceId::from_u32(seen.device_id);
    super::status::update(&shared.board, |b| {
        let p = b.pods.entry(device.to_string()).or_default();
        p.adapter = name.to_owned();
        p.address = seen.address.to_string();
        p.rssi = seen.rssi;
        p.last_seen_us = super::status::now_us();
    });
    let now = Instant::now();
    pods.entry(seen.address)
        .and_modify(|pod| {
            pod.latest = seen.clone();
            pod.heard = now;
        })
        .or_insert(Pod {
            latest: seen,
            heard: now,
            first_heard: now,
            last_visit: None,
            last_success: None,
            not_before: None,
            failures: 0,
            visiting: false,
            updating: false,
            starved: false,
        });
}

/// Starts visits of due PODs, longest unvisited first, while there are free slots and
/// the buffer has room.
fn dispatch<T: Transport + 'static>(
    transport: &Arc<T>,
    name: &str,
    schedule: &Schedule,
    shared: &Shared,
    pods: &mut HashMap<BdAddr, Pod>,
    visits: &mut JoinSet<Visited>,
    slots: usize,
) {
    dispatch_updates(transport, name, schedule, shared, pods, visits, slots);
    while visits.len() < slots && !shared.over_budget.load(Ordering::Relaxed) {
        let now = Instant::now();
        let next = pods
            .iter()
            .filter(|(_, pod)| pod.due(now, &schedule.visits))
            .min_by_key(|(_, pod)| pod.last_visit)
            .map(|(address, _)| *address);
        let Some(address) = next else { return };
        let Some(pod) = pods.get_mut(&address) else {
            return;
        };
        pod.visiting = true;
        let device = DeviceId::from_u32(pod.latest.device_id);
        tracing::debug!(adapter = %name, %address, %device, "visiting");
        let transport = transport.clone();
        let buffer = shared.buffer.clone();
        let policy = schedule.policy;
        visits.spawn(async move {
            let mut options = VisitOptions {
                policy,
                ..VisitOptions::default()
            };
            let streamers = options.streamers.clone();
            let lookup = buffer.clone();
            let known = tokio::task::spawn_blocking(move || {
                let buffer = lookup
                    .lock()
                    .map_err(|_| CollectError::Store("the buffer lock is poisoned".into()))?;
                known_acks(&buffer, device, policy, &streamers)
                    .map_err(|e| CollectError::Store(e.to_string()))
            })
            .await
            .map_err(|e| CollectError::Store(e.to_string()));
            let outcome = match known.and_then(|k| k) {
                Ok(known) => {
                    options.known_acks = known;
                    let limit = options.limit + VISIT_OVERHEAD;
                    let visiting = visit(&*transport, address, &options, into_buffer(buffer));
                    match tokio::time::timeout(limit, visiting).await {
                        Ok(outcome) => outcome,
                        Err(_) => {
                            tracing::error!(%address, %device, ?limit,
                                "a visit overran its limit; its link is torn down");
                            Err(CollectError::TooLong(limit))
                        }
                    }
                }
                Err(error) => Err(error),
            };
            Visited::Collected(address, device, outcome)
        });
    }
}

/// Starts update visits of PODs with update work, longest unvisited first, up to the
/// adapter's update limit.
fn dispatch_updates<T: Transport + 'static>(
    transport: &Arc<T>,
    name: &str,
    schedule: &Schedule,
    shared: &Shared,
    pods: &mut HashMap<BdAddr, Pod>,
    visits: &mut JoinSet<Visited>,
    slots: usize,
) {
    let Some(updates) = &shared.updates else {
        return;
    };
    loop {
        let running = pods.values().filter(|p| p.updating).count();
        if running >= schedule.updates || visits.len() >= slots {
            return;
        }
        let now = Instant::now();
        let next = pods
            .iter()
            .filter(|(_, pod)| pod.can_visit(now))
            .filter(|(_, pod)| updates.wanted(DeviceId::from_u32(pod.latest.device_id)))
            .min_by_key(|(_, pod)| pod.last_visit)
            .map(|(address, _)| *address);
        let Some(pod) = next.and_then(|address| pods.get_mut(&address)) else {
            return;
        };
        pod.visiting = true;
        pod.updating = true;
        let address = pod.latest.address;
        let device = DeviceId::from_u32(pod.latest.device_id);
        tracing::info!(adapter = %name, %address, %device, "update visit");
        let (transport, updates, buffer) =
            (transport.clone(), updates.clone(), shared.buffer.clone());
        visits.spawn(async move {
            let feed = updates.feed();
            let limit =
                updates.options.script_limit + updates.options.come_back_within + VISIT_OVERHEAD;
            let visiting = ota::update(
                &*transport,
                address,
                device,
                &feed,
                &buffer,
                &updates.options,
            );
            let outcome = match tokio::time::timeout(limit, visiting).await {
                Ok(outcome) => outcome,
                Err(_) => Err(UpdateError::Store(format!(
                    "the update visit overran {limit:?}"
                ))),
            };
            Visited::Updated(address, device, outcome)
        });
    }
}

/// Books a finished update visit.
fn updated(
    pods: &mut HashMap<BdAddr, Pod>,
    name: &str,
    visits: &Visits,
    shared: &Shared,
    visited: (BdAddr, DeviceId, Result<UpdateOutcome, UpdateError>),
) {
    let (address, device, outcome) = visited;
    let Some(pod) = pods.get_mut(&address) else {
        return;
    };
    pod.visiting = false;
    pod.updating = false;
    let Some(updates) = &shared.updates else {
        return;
    };
    match outcome {
        Ok(UpdateOutcome::NothingToDo) => updates.not_applicable(device),
        Ok(UpdateOutcome::Succeeded { deployment }) => {
            tracing::info!(adapter = %name, %device, deployment, "UPDATE SUCCEEDED");
            updates.job_state(device, deployment, JobState::Succeeded);
            updates.finished.notify_one();
        }
        Ok(UpdateOutcome::Failed { deployment, reason }) => {
            tracing::error!(adapter = %name, %device, deployment, %reason, "UPDATE FAILED");
            updates.job_state(device, deployment, JobState::Failed);
            updates.finished.notify_one();
        }
        Ok(UpdateOutcome::Later(reason)) => {
            pod.not_before = Some(Instant::now() + visits.min_interval.0);
            tracing::info!(adapter = %name, %device, %reason, "update postponed");
        }
        Err(error) => {
            pod.failures = pod.failures.saturating_add(1);
            let wait = retry_after(pod.failures, visits);
            pod.not_before = Some(Instant::now() + wait);
            tracing::warn!(adapter = %name, %address, %device, %error, ?wait,
                "update visit cut short; it resumes at the next visit");
        }
    }
    // The collectors' view of jobs follows the buffer at once, not at the next poll.
    let (updates, buffer) = (updates.clone(), shared.buffer.clone());
    tokio::spawn(async move {
        match crate::buffer::blocking(&buffer, |b| b.ota_job_states()).await {
            Ok(jobs) => updates.set_jobs(jobs),
            Err(error) => tracing::warn!(%error, "the update jobs could not be read"),
        }
    });
}

/// Books a finished visit: the next allowed visit, and the acknowledgements on record.
fn finished(
    pods: &mut HashMap<BdAddr, Pod>,
    name: &str,
    visits: &Visits,
    shared: &Shared,
    visited: (BdAddr, DeviceId, Result<VisitSummary, CollectError>),
) {
    let (address, device, outcome) = visited;
    let Some(pod) = pods.get_mut(&address) else {
        return;
    };
    pod.visiting = false;
    pod.last_visit = Some(Instant::now());
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
            pod.last_success = Some(Instant::now());
            pod.not_before = Some(Instant::now() + visits.min_interval.0);
            let rssi = pod.latest.rssi;
            tracing::info!(adapter = %name, %address, %device, ?rssi, reports = summary.stored,
                readings = summary.readings, rejected = summary.rejected, "visited");
            record_acks(shared, device, &summary);
        }
        Err(error) => {
            pod.failures = pod.failures.saturating_add(1);
            let wait = retry_after(pod.failures, visits);
            pod.not_before = Some(Instant::now() + wait);
            if matches!(error, CollectError::Store(_)) {
                // Most likely the budget: stop visiting until the uploader finds room.
                shared.set_over_budget(true, &format!("{device}: {error}"));
            } else {
                tracing::warn!(adapter = %name, %address, %device, %error, ?wait, "visit failed");
            }
        }
    }
}

/// Marks PODs that became starved, or stopped being, on the board and in the log.
fn watch_starved(pods: &mut HashMap<BdAddr, Pod>, name: &str, visits: &Visits, shared: &Shared) {
    let now = Instant::now();
    for (address, pod) in pods.iter_mut() {
        let starved = pod.is_starved(now, visits);
        if starved == pod.starved {
            continue;
        }
        pod.starved = starved;
        let device = DeviceId::from_u32(pod.latest.device_id);
        if starved {
            let since = now.duration_since(pod.last_success.unwrap_or(pod.first_heard));
            tracing::warn!(adapter = %name, %address, %device, ?since, failures = pod.failures,
                user_connected = pod.latest.user_connected,
                "POD STARVED: heard but not visited; its readings wait on the POD");
        } else {
            tracing::info!(adapter = %name, %address, %device, "the POD is no longer starved");
        }
        super::status::update(&shared.board, |b| {
            b.pods.entry(device.to_string()).or_default().starved = starved;
        });
    }
}

fn record_acks(shared: &Shared, device: DeviceId, summary: &VisitSummary) {
    let Ok(mut buffer) = shared.buffer.lock() else {
        tracing::error!("the buffer lock is poisoned");
        return;
    };
    if let Err(error) = summary.record_acks(&mut buffer, device) {
        tracing::warn!(%device, %error, "the acknowledgement was not recorded");
    }
}

/// The wait after `failures` failed visits in a row: doubling from the least interval.
pub fn retry_after(failures: u32, visits: &Visits) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    visits
        .min_interval
        .0
        .saturating_mul(1u32 << doublings)
        .min(visits.backoff_max.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_visits_wait_twice_as_long_up_to_the_cap() {
        let v = Visits::default();
        let min = v.min_interval.0;
        assert_eq!(retry_after(1, &v), min);
        assert_eq!(retry_after(2, &v), min * 2);
        assert_eq!(retry_after(4, &v), min * 8);
        assert_eq!(retry_after(5, &v), v.backoff_max.0);
        assert_eq!(retry_after(u32::MAX, &v), v.backoff_max.0);
    }
}
