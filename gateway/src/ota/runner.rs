//! One update visit: pick the POD's deployment, check its script before the first RPC, and
//! drive the job's states over the link, durably, so that a crash or a lost link resumes
//! without ever sending a triggered script again or claiming a success not seen.
//!
//! ```text
//! sending ──0x2102, then durable──▶ triggered ──0x2103 … bridge idle, error 0, versions
//! as the script sets them──▶ resetting ──0x0001──▶ rebooting ──POD back with those
//! versions──▶ succeeded            (any refusal or contradiction) ──▶ failed
//! ```
//!
//! Resuming `triggered` reads the bridge: `received` means the trigger never arrived (it is
//! sent again: nothing has run), `validated`/`executing` means wait, `idle` means the script
//! ended; only then do its error code and the POD's versions decide. A POD that does not
//! come back from its reset within the limit fails the job with that reason; the limit only
//! runs while the gateway does (a gateway down past it has not seen whether the POD came
//! back, so it resumes and looks).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sync_protocol::bgapi::BdAddr;
use sync_protocol::ids::DeviceId;
use sync_protocol::ota::{LiveVersions, OtaFeed, ReleasePublicKey};
use tokio::time::Instant;

use super::bridge::{self, BridgeError, BridgeState};
use super::plan::{self, Expected};
use crate::buffer::ota::{Job, JobState};
use crate::buffer::{blocking, Buffer, BufferError};
use crate::transport::{Connection, Transport, TransportError};

/// How an update visit runs.
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    pub rpc_timeout: Duration,
    /// How often the bridge is asked whether the script is done.
    pub poll: Duration,
    /// How long a triggered script may run.
    pub script_limit: Duration,
    /// How long a POD may take to come back after its reset.
    pub come_back_within: Duration,
    /// Keys pinned in the gateway's configuration; when set, the feed's keys are ignored.
    pub pinned_keys: Vec<ReleasePublicKey>,
    /// Told each state a job reaches once it is durable, and how the script's sending
    /// goes: for a person watching the update.
    pub steps: Option<Steps>,
}

/// Where an update visit tells the steps it takes.
pub type Steps = tokio::sync::mpsc::UnboundedSender<Step>;

/// What an update visit tells whoever watches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The job for `deployment` durably reached `state`.
    Reached { deployment: i64, state: JobState },
    /// The POD has taken `bytes` of the script's `of`, which hold the first `records` of
    /// its `records_of` records whole.
    Sent {
        deployment: i64,
        bytes: usize,
        of: usize,
        records: usize,
        records_of: usize,
    },
}

impl Default for UpdateOptions {
    fn default() -> Self {
        UpdateOptions {
            rpc_timeout: crate::transport::DEFAULT_RPC_TIMEOUT,
            poll: Duration::from_millis(100),
            script_limit: Duration::from_secs(600),
            come_back_within: Duration::from_secs(120),
            pinned_keys: Vec::new(),
            steps: None,
        }
    }
}

/// How a visit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// No deployment applies to the POD now.
    NothingToDo,
    Succeeded {
        deployment: i64,
    },
    Failed {
        deployment: i64,
        reason: String,
    },
    /// The update cannot go on now (script not downloaded, another script running on the
    /// POD); the job, if any, stays as it is.
    Later(String),
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    #[error("buffer: {0}")]
    Store(String),
}

impl From<BufferError> for UpdateError {
    fn from(error: BufferError) -> Self {
        UpdateError::Store(error.to_string())
    }
}

pub(crate) fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// A script checked and ready to run for one deployment.
struct Ready {
    deployment: i64,
    slug: String,
    bytes: Vec<u8>,
    /// Where each of the script's records ends in `bytes`.
    record_ends: Vec<usize>,
    expected: Expected,
    criteria_met: Option<bool>,
}

/// One update visit to the POD at `address`.
pub async fn update<T: Transport>(
    transport: &T,
    address: BdAddr,
    device: DeviceId,
    feed: &OtaFeed,
    buffer: &Arc<Mutex<Buffer>>,
    options: &UpdateOptions,
) -> Result<UpdateOutcome, UpdateError> {
    let open = blocking(buffer, move |b| {
        Ok(b.open_ota_jobs()?.into_iter().find(|j| j.device == device))
    })
    .await?;
    if let Some(job) = open {
        return resume(transport, address, job, feed, buffer, options).await;
    }
    let mut ready = prepare(device, feed, buffer, options).await?;
    if ready.is_empty() {
        return Ok(UpdateOutcome::NothingToDo);
    }
    let mut link = Link::connect(transport, address).await?;
    let live = bridge::versions(link.get()?, options.rpc_timeout).await?;
    for r in &mut ready {
        let found = feed.deployments.iter().find(|d| d.id == r.deployment);
        r.criteria_met = found.map(|d| plan::applies(d, &live).unwrap_or(false));
    }
    let Some(chosen) = ready.into_iter().find(|r| r.criteria_met == Some(true)) else {
        link.close().await;
        return Ok(UpdateOutcome::NothingToDo);
    };
    let (deployment, slug) = (chosen.deployment, chosen.slug.clone());
    let mut job = blocking(buffer, move |b| {
        b.start_ota_job(device, deployment, &slug, now_us())
    })
    .await?;
    tell(options, &job);
    let outcome = drive(&mut link, &mut job, &chosen, &live, buffer, options).await;
    link.close().await;
    outcome
}

/// The deployments listing the POD that it has not finished, each with its script checked
/// before any RPC. A script that fails the check finishes its job as failed at once.
async fn prepare(
    device: DeviceId,
    feed: &OtaFeed,
    buffer: &Arc<Mutex<Buffer>>,
    options: &UpdateOptions,
) -> Result<Vec<Ready>, UpdateError> {
    let mut ready = Vec::new();
    for deployment in plan::candidates(feed, device) {
        let (id, slug, sha) = (
            deployment.id,
            deployment.script.slug.clone(),
            deployment.script.sha256.clone(),
        );
        let lookup = slug.clone();
        let (done, bytes) = blocking(buffer, move |b| {
            Ok((
                b.ota_job(device, id)?.is_some(),
                b.ota_script(&lookup, &sha)?,
            ))
        })
        .await?;
        if done {
            continue;
        }
        let Some(bytes) = bytes else {
            tracing::debug!(%device, deployment = id, "the script is not downloaded yet");
            continue;
        };
        match plan::verify(feed, deployment, &bytes, &options.pinned_keys) {
            Ok(script) => ready.push(Ready {
                deployment: id,
                slug,
                bytes,
                record_ends: script.record_ends(),
                expected: Expected::of(&script),
                criteria_met: None,
            }),
            Err(refusal) => {
                let line = format!("refused before any RPC: {refusal}");
                tracing::error!(%device, deployment = id, script = %slug, %refusal,
                    "OTA script refused");
                blocking(buffer, move |b| {
                    let mut job = b.start_ota_job(device, id, &slug, now_us())?;
                    b.finish_ota_job(&mut job, false, &line, now_us())
                })
                .await?;
            }
        }
    }
    Ok(ready)
}

/// Continues an unfinished job from its recorded state.
async fn resume<T: Transport>(
    transport: &T,
    address: BdAddr,
    mut job: Job,
    feed: &OtaFeed,
    buffer: &Arc<Mutex<Buffer>>,
    options: &UpdateOptions,
) -> Result<UpdateOutcome, UpdateError> {
    let slug = job.script.clone();
    let bytes = blocking(buffer, move |b| b.ota_script_bytes(&slug)).await?;
    let deployment = feed.deployments.iter().find(|d| d.id == job.deployment);
    // Sending again is only safe with a script that still passes every check.
    let checked = match (&bytes, deployment) {
        (Some(bytes), Some(d)) => plan::verify(feed, d, bytes, &options.pinned_keys).ok(),
        _ => None,
    };
    if job.state == JobState::Sending && checked.is_none() {
        let line = "the deployment was withdrawn or its script no longer passes the checks; \
                    nothing had run on the POD";
        finish(buffer, options, &mut job, false, line).await?;
        return Ok(outcome(&job));
    }
    // Past the trigger the script is never sent again; its records only say what it sets.
    let script = checked.or_else(|| {
        bytes
            .as_deref()
            .and_then(|b| sync_protocol::script::UpdateScript::decode(b).ok())
    });
    let expected = script.as_ref().map(Expected::of).unwrap_or_default();
    // A rebooting job is not failed here however old its reset: this visit found the POD
    // advertising, so it did come back (while the gateway was down, perhaps), and the
    // versions it answers with decide. A POD never heard again is the poller's to fail.
    let ready = Ready {
        deployment: job.deployment,
        slug: job.script.clone(),
        bytes: bytes.unwrap_or_default(),
        record_ends: script.map(|s| s.record_ends()).unwrap_or_default(),
        expected,
        criteria_met: Some(true),
    };
    let mut link = Link::connect(transport, address).await?;
    let live = bridge::versions(link.get()?, options.rpc_timeout).await?;
    let result = drive(&mut link, &mut job, &ready, &live, buffer, options).await;
    link.close().await;
    result
}

async fn finish(
    buffer: &Arc<Mutex<Buffer>>,
    options: &UpdateOptions,
    job: &mut Job,
    successful: bool,
    line: &str,
) -> Result<(), UpdateError> {
    let (mut copy, line) = (job.clone(), line.to_string());
    *job = blocking(buffer, move |b| {
        b.finish_ota_job(&mut copy, successful, &line, now_us())?;
        Ok(copy)
    })
    .await?;
    tell(options, job);
    Ok(())
}

/// Tells whoever watches the step the job has durably reached.
fn tell(options: &UpdateOptions, job: &Job) {
    tell_step(
        options,
        Step::Reached {
            deployment: job.deployment,
            state: job.state,
        },
    );
}

/// Tells whoever watches how far the script's sending has come.
fn tell_sent(options: &UpdateOptions, ready: &Ready, bytes: usize) {
    tell_step(
        options,
        Step::Sent {
            deployment: ready.deployment,
            bytes,
            of: ready.bytes.len(),
            records: ready
                .record_ends
                .iter()
                .filter(|&&end| end <= bytes)
                .count(),
            records_of: ready.record_ends.len(),
        },
    );
}

fn tell_step(options: &UpdateOptions, step: Step) {
    if let Some(steps) = &options.steps {
        // A watcher that left does not stop the update.
        let _ = steps.send(step);
    }
}

async fn advance(
    buffer: &Arc<Mutex<Buffer>>,
    options: &UpdateOptions,
    job: &mut Job,
    state: JobState,
    line: &str,
) -> Result<(), UpdateError> {
    let (mut copy, line) = (job.clone(), line.to_string());
    *job = blocking(buffer, move |b| {
        b.advance_ota_job(&mut copy, state, &line, now_us())?;
        Ok(copy)
    })
    .await?;
    tell(options, job);
    Ok(())
}

fn outcome(job: &Job) -> UpdateOutcome {
    match job.state {
        JobState::Succeeded => UpdateOutcome::Succeeded {
            deployment: job.deployment,
        },
        JobState::Failed => UpdateOutcome::Failed {
            deployment: job.deployment,
            reason: job.log.lines().last().unwrap_or_default().to_string(),
        },
        state => UpdateOutcome::Later(format!("the update is {}", state.as_str())),
    }
}

/// Drives the job until it finishes or the link is lost for good.
async fn drive<T: Transport>(
    link: &mut Link<'_, T>,
    job: &mut Job,
    ready: &Ready,
    live: &LiveVersions,
    buffer: &Arc<Mutex<Buffer>>,
    options: &UpdateOptions,
) -> Result<UpdateOutcome, UpdateError> {
    blocking(buffer, {
        let mut copy = job.clone();
        move |b| {
            b.count_ota_attempt(&mut copy)?;
            Ok(())
        }
    })
    .await?;
    let mut live = *live;
    // Whether this visit saw the script run: then an idle bridge with error 0 is a success
    // even for a script that sets no version.
    let mut seen_running = false;
    loop {
        match job.state {
            JobState::Sending => {
                let c = link.get()?;
                match bridge::status(c, options.rpc_timeout).await?.0 {
                    BridgeState::Validated | BridgeState::Executing => {
                        return Ok(UpdateOutcome::Later(
                            "another script is running on the POD".into(),
                        ));
                    }
                    BridgeState::Idle => {}
                    // A partial upload (ours, cut short) is dropped: nothing of it ran.
                    _ => bridge::clear(c, options.rpc_timeout).await?,
                }
                let mut sent = |bytes| tell_sent(options, ready, bytes);
                let how = bridge::send(c, &ready.bytes, options.rpc_timeout, &mut sent).await?;
                let line = format!(
                    "sent {} bytes over {how}; POD was {}",
                    ready.bytes.len(),
                    versions_text(&live)
                );
                // Durable before the trigger: from here the script is never sent again.
                advance(buffer, options, job, JobState::Triggered, &line).await?;
                bridge::trigger(link.get()?, options.rpc_timeout).await?;
            }
            JobState::Triggered => {
                let (error, running) = wait_for_script(link, options).await?;
                seen_running |= running;
                if error != 0 {
                    let line = format!("the script stopped with error {}", bridge::describe(error));
                    finish(buffer, options, job, false, &line).await?;
                    return Ok(outcome(job));
                }
                live = bridge::versions(link.get()?, options.rpc_timeout).await?;
                let proven = if ready.expected.is_known() {
                    ready.expected.met_by(&live)
                } else {
                    seen_running
                };
                if !proven {
                    let line = if ready.expected.is_known() {
                        format!(
                            "the script ended but the POD reports {}; not sent again",
                            versions_text(&live)
                        )
                    } else {
                        "the bridge is idle and the script sets no version, so whether it \
                         ran cannot be known; not sent again"
                            .to_string()
                    };
                    finish(buffer, options, job, false, &line).await?;
                    return Ok(outcome(job));
                }
                advance(
                    buffer,
                    options,
                    job,
                    JobState::Resetting,
                    "the script ran without error",
                )
                .await?;
            }
            JobState::Resetting => {
                bridge::reset(link.get()?, options.rpc_timeout).await?;
                advance(
                    buffer,
                    options,
                    job,
                    JobState::Rebooting,
                    "controller reset sent",
                )
                .await?;
                link.close().await;
            }
            JobState::Rebooting => {
                let started = Instant::now();
                let deadline = started + options.come_back_within;
                // A resumed job arrives connected; after our own reset the link is closed.
                let resumed = link.connection.is_some();
                let back = if resumed {
                    Ok(())
                } else {
                    link.reconnect(deadline).await.map(|_| ())
                };
                match back {
                    Ok(()) => {}
                    Err(_) if Instant::now() >= deadline => {
                        let line = format!(
                            "the POD did not come back within {:?} after its reset",
                            options.come_back_within
                        );
                        finish(buffer, options, job, false, &line).await?;
                        return Ok(outcome(job));
                    }
                    Err(error) => return Err(error),
                }
                live = bridge::versions(link.get()?, options.rpc_timeout).await?;
                let (ok, line) = if ready.expected.met_by(&live) {
                    (
                        true,
                        if resumed {
                            format!("back after its reset as {}", versions_text(&live))
                        } else {
                            format!(
                                "back after {:.1} s as {}",
                                started.elapsed().as_secs_f64(),
                                versions_text(&live)
                            )
                        },
                    )
                } else {
                    (
                        false,
                        format!(
                            "came back as {}, not the script's versions",
                            versions_text(&live)
                        ),
                    )
                };
                finish(buffer, options, job, ok, &line).await?;
                return Ok(outcome(job));
            }
            JobState::Succeeded | JobState::Failed => return Ok(outcome(job)),
        }
    }
}

/// Polls the bridge until the script ends; returns its error code and whether it was seen
/// running. A link lost meanwhile (a ResetDevice record resets the POD) is reconnected.
async fn wait_for_script<T: Transport>(
    link: &mut Link<'_, T>,
    options: &UpdateOptions,
) -> Result<(u32, bool), UpdateError> {
    let deadline = Instant::now() + options.script_limit;
    let mut running = false;
    loop {
        if Instant::now() >= deadline {
            return Err(UpdateError::Store(format!(
                "the script still runs after {:?}",
                options.script_limit
            )));
        }
        if link.connection.is_none() {
            link.reconnect(deadline).await?;
        }
        let (state, error) = match bridge::status(link.get()?, options.rpc_timeout).await {
            Ok(status) => status,
            Err(e) if e.is_link_lost() => {
                link.lost();
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        match state {
            BridgeState::Idle => return Ok((error, running)),
            // The trigger never arrived: nothing has run, so it may be sent again.
            BridgeState::Received => bridge::trigger(link.get()?, options.rpc_timeout).await?,
            BridgeState::Validated | BridgeState::Executing => {
                running = true;
                tokio::time::sleep(options.poll).await;
            }
            other => {
                return Err(UpdateError::Store(format!(
                    "the bridge is {other:?} after the trigger; the script is not sent again"
                )))
            }
        }
    }
}

fn versions_text(live: &LiveVersions) -> String {
    format!(
        "os {} v{}.{}, app {} v{}.{}",
        live.os_tag, live.os_major, live.os_minor, live.app_tag, live.app_major, live.app_minor
    )
}

/// The link of an update visit, reopened after the POD resets.
struct Link<'t, T: Transport> {
    transport: &'t T,
    address: BdAddr,
    connection: Option<T::Connection>,
}

impl<'t, T: Transport> Link<'t, T> {
    async fn connect(transport: &'t T, address: BdAddr) -> Result<Self, UpdateError> {
        let connection = transport.connect(address).await?;
        Ok(Link {
            transport,
            address,
            connection: Some(connection),
        })
    }

    fn get(&mut self) -> Result<&mut T::Connection, UpdateError> {
        self.connection
            .as_mut()
            .ok_or(UpdateError::Transport(TransportError::Disconnected))
    }

    fn lost(&mut self) {
        // Dropping closes whatever is left of the link in the background.
        self.connection = None;
    }

    /// Connects again until `deadline`, waiting between attempts while the POD boots.
    async fn reconnect(&mut self, deadline: Instant) -> Result<&mut T::Connection, UpdateError> {
        self.close().await;
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            match self.transport.connect(self.address).await {
                Ok(c) => return Ok(self.connection.insert(c)),
                Err(error) if Instant::now() >= deadline => return Err(error.into()),
                Err(error) => tracing::debug!(address = %self.address, %error, "not back yet"),
            }
        }
    }

    async fn close(&mut self) {
        if let Some(c) = self.connection.take() {
            let _ = c.disconnect().await;
        }
    }
}
