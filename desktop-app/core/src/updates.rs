//! Updating a POD on site, with no network: the gateway library's update visit, on the
//! org's feed from the offline copy and the scripts fetched with it. The script is checked
//! against the org's release keys before the first RPC, the criteria against the POD's
//! live versions; each step of the job is durable, so a crash or a lost link resumes
//! without sending a triggered script twice; the outcome waits in the buffer for the next
//! sync.

use gateway::buffer::blocking;
use gateway::buffer::ota::JobState;
use gateway::ota::{self, plan, Step, UpdateOptions, UpdateOutcome};
use gateway::transport::radio::Radio;
use serde::Serialize;
use sync_protocol::bgapi::BdAddr;
use sync_protocol::ids::DeviceId;
use sync_protocol::ota::OtaFeed;
use sync_protocol::script::UpdateScript;

use crate::collect::lock;
use crate::error::CoreError;
use crate::events::Events;
use crate::profile::Profile;
use crate::session::now;

/// A deployment the copy says this POD may take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UpdateOffer {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub deployment: i64,
    /// `z--0000-0001`.
    pub script: String,
    /// What the script says it is: name and version.
    pub name: String,
    pub version: String,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub records: usize,
    /// Whether the script is on this laptop (fetched with the copy).
    pub downloaded: bool,
    /// The criteria, checked on the live POD when the update starts.
    pub criteria: Vec<String>,
    /// Where this POD's job for it stands, if it has one.
    pub job: Option<String>,
}

/// How an update stands, sent as it moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UpdateProgress {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub device: u64,
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub deployment: Option<i64>,
    /// `checking`, then the job's states: `sending`, `triggered`, `resetting`,
    /// `rebooting`, `succeeded` or `failed`.
    pub step: String,
    /// The script's records, for a person to read the step against.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub records: usize,
    /// While sending: the records the POD has taken whole so far.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub records_sent: usize,
    /// While sending: the script's bytes the POD has taken so far, of `script_bytes`.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub bytes_sent: usize,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub script_bytes: usize,
}

impl UpdateProgress {
    fn apply(&mut self, step: Step) {
        match step {
            Step::Reached { deployment, state } => {
                self.deployment = Some(deployment);
                self.step = state.as_str().to_string();
            }
            Step::Sent {
                deployment,
                bytes,
                of,
                records,
                records_of,
            } => {
                self.deployment = Some(deployment);
                self.step = JobState::Sending.as_str().to_string();
                (self.bytes_sent, self.script_bytes) = (bytes, of);
                (self.records_sent, self.records) = (records, records_of);
            }
        }
    }
}

/// How an update ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum UpdateResult {
    NothingToDo {
        why: String,
    },
    Succeeded {
        #[cfg_attr(feature = "specta", specta(type = u32))]
        deployment: i64,
    },
    Failed {
        #[cfg_attr(feature = "specta", specta(type = u32))]
        deployment: i64,
        reason: String,
    },
    Later {
        why: String,
    },
}

/// The feed of the org the copy puts `device` in.
fn feed_of(profile: &Profile, device: u64) -> Result<Option<OtaFeed>, CoreError> {
    let store = profile.store()?;
    let Some(org) = store.device(device)?.and_then(|d| d.org) else {
        return Ok(None);
    };
    Ok(store.feed(&org)?)
}

/// The deployments that list `device`, as the copy has them.
pub fn offers(profile: &Profile, device: u64) -> Result<Vec<UpdateOffer>, CoreError> {
    let id = DeviceId::new(device).map_err(|e| CoreError::Invalid(e.to_string()))?;
    let Some(feed) = feed_of(profile, device)? else {
        return Ok(Vec::new());
    };
    let buffer = lock(&profile.buffer)?;
    plan::candidates(&feed, id)
        .into_iter()
        .map(|d| {
            let bytes = buffer.ota_script(&d.script.slug, &d.script.sha256)?;
            let records = bytes
                .as_deref()
                .and_then(|b| UpdateScript::decode(b).ok())
                .map_or(0, |s| s.records.len());
            Ok(UpdateOffer {
                deployment: d.id,
                script: d.script.slug.clone(),
                name: d.script.target.name.clone(),
                version: d.script.target.version.clone(),
                records,
                downloaded: bytes.is_some(),
                criteria: d.selection_criteria.clone(),
                job: buffer
                    .ota_job(id, d.id)?
                    .map(|j| j.state.as_str().to_string()),
            })
        })
        .collect()
}

/// Fetches the scripts of every deployment in the copy's feeds that this laptop lacks,
/// and drops those no deployment or unfinished job needs.
pub async fn fetch_scripts(profile: &Profile, feeds: &[OtaFeed]) -> Result<usize, CoreError> {
    let mut fetched = 0;
    let mut keep = Vec::new();
    for d in feeds.iter().flat_map(|f| &f.deployments) {
        keep.push(d.script.slug.clone());
        let (slug, sha) = (d.script.slug.clone(), d.script.sha256.clone());
        let have = blocking(&profile.buffer, move |b| b.ota_script(&slug, &sha)).await?;
        if have.is_some() {
            continue;
        }
        let bytes = profile
            .api
            .ota_script(&d.script.slug, &d.script.sha256)
            .await?;
        let (slug, sha) = (d.script.slug.clone(), d.script.sha256.clone());
        blocking(&profile.buffer, move |b| {
            b.save_ota_script(&slug, &sha, &bytes)
        })
        .await?;
        fetched += 1;
    }
    blocking(&profile.buffer, move |b| b.prune_ota_scripts(&keep)).await?;
    Ok(fetched)
}

/// Runs the update visit to `device` at `address`, telling `events` each step.
pub async fn update(
    profile: &Profile,
    radio: &Radio,
    device: u64,
    address: BdAddr,
    events: &dyn Events,
) -> Result<UpdateResult, CoreError> {
    let id = DeviceId::new(device).map_err(|e| CoreError::Invalid(e.to_string()))?;
    let Some(feed) = feed_of(profile, device)? else {
        return Ok(UpdateResult::NothingToDo {
            why: "the offline copy has no deployments for this POD's org".into(),
        });
    };
    let offered = offers(profile, device)?;
    let records = offered.first().map_or(0, |o| o.records);
    let mut shown = UpdateProgress {
        device,
        deployment: offered.first().map(|o| o.deployment),
        step: "checking".into(),
        records,
        records_sent: 0,
        bytes_sent: 0,
        script_bytes: 0,
    };
    events.update_progress(&shown);
    let (steps, mut told) = tokio::sync::mpsc::unbounded_channel();
    let options = UpdateOptions {
        steps: Some(steps),
        ..UpdateOptions::default()
    };
    let run = ota::update(radio, address, id, &feed, &profile.buffer, &options);
    tokio::pin!(run);
    let outcome = loop {
        tokio::select! {
            outcome = &mut run => break outcome,
            Some(step) = told.recv() => {
                shown.apply(step);
                events.update_progress(&shown);
            }
        }
    };
    // Steps told just before the visit ended.
    while let Ok(step) = told.try_recv() {
        shown.apply(step);
        events.update_progress(&shown);
    }
    let result = match outcome.map_err(|e| CoreError::Pod(e.to_string()))? {
        UpdateOutcome::NothingToDo => UpdateResult::NothingToDo {
            why: "no deployment applies to this POD now".into(),
        },
        UpdateOutcome::Succeeded { deployment } => UpdateResult::Succeeded { deployment },
        UpdateOutcome::Failed { deployment, reason } => UpdateResult::Failed { deployment, reason },
        UpdateOutcome::Later(why) => UpdateResult::Later { why },
    };
    shown.step = match &result {
        UpdateResult::Succeeded { .. } => "succeeded",
        UpdateResult::Failed { .. } => "failed",
        UpdateResult::NothingToDo { .. } => "nothing to do",
        UpdateResult::Later { .. } => "later",
    }
    .into();
    events.update_progress(&shown);
    let (ok, detail) = match &result {
        UpdateResult::Succeeded { deployment } => {
            (true, format!("deployment {deployment}: updated"))
        }
        UpdateResult::Failed { deployment, reason } => {
            (false, format!("deployment {deployment}: {reason}"))
        }
        UpdateResult::NothingToDo { why } | UpdateResult::Later { why } => (true, why.clone()),
    };
    profile
        .store()?
        .log("update", &id.to_string(), ok, &detail, now())?;
    events.sync_changed();
    Ok(result)
}
