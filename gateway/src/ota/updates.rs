//! What the collectors ask before visiting: does this POD have an update to run?
//!
//! The answer must be cheap (asked every second for every POD heard), so it comes from
//! memory: the feed, the scripts downloaded, each POD's jobs as the buffer last said, and the
//! PODs already found not to meet a deployment's criteria under the current feed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use sync_protocol::ids::DeviceId;
use sync_protocol::ota::OtaFeed;

use super::runner::UpdateOptions;
use crate::buffer::ota::JobState;

/// OTA state shared by the poller and every collector.
pub struct Updates {
    pub options: UpdateOptions,
    /// Signalled when an update finishes, so its outcome is sent without waiting a poll.
    pub finished: tokio::sync::Notify,
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    feed: Arc<OtaFeed>,
    /// Bumped whenever the feed changes: a POD found not to apply is asked again then.
    generation: u64,
    downloaded: HashSet<String>,
    jobs: HashMap<(u64, i64), JobState>,
    not_applicable: HashMap<u64, u64>,
}

impl Updates {
    pub fn new(options: UpdateOptions) -> Updates {
        Updates {
            options,
            finished: tokio::sync::Notify::new(),
            inner: RwLock::new(Inner::default()),
        }
    }

    pub fn feed(&self) -> Arc<OtaFeed> {
        self.read().feed.clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a new feed and the scripts now downloaded.
    pub fn set_feed(&self, feed: OtaFeed, downloaded: HashSet<String>) {
        let mut inner = self.write();
        if *inner.feed != feed {
            inner.generation += 1;
            inner.not_applicable.clear();
        }
        inner.feed = Arc::new(feed);
        inner.downloaded = downloaded;
    }

    /// Takes every job's state, as the buffer holds them.
    pub fn set_jobs(&self, jobs: Vec<(DeviceId, i64, JobState)>) {
        self.write().jobs = jobs
            .into_iter()
            .map(|(device, deployment, state)| ((device.get(), deployment), state))
            .collect();
    }

    /// Whether a visit to `device` has update work: an unfinished job, or a deployment that
    /// lists it, whose script is here, that it has not started, and that it was not found
    /// to miss under the current feed.
    pub fn wanted(&self, device: DeviceId) -> bool {
        let inner = self.read();
        let id = device.get();
        if inner
            .jobs
            .iter()
            .any(|(&(d, _), state)| d == id && !state.is_final())
        {
            return true;
        }
        if inner.not_applicable.get(&id) == Some(&inner.generation) {
            return false;
        }
        inner.feed.deployments.iter().any(|d| {
            d.devices.contains(&id)
                && inner.downloaded.contains(&d.script.slug)
                && !inner.jobs.contains_key(&(id, d.id))
        })
    }

    /// Records a job's new state at once, so the collectors do not start another visit for
    /// it before the buffer is read again.
    pub fn job_state(&self, device: DeviceId, deployment: i64, state: JobState) {
        self.write().jobs.insert((device.get(), deployment), state);
    }

    /// Loads the saved feed, the scripts it names and every job from the buffer: done
    /// before collectors start, so an unfinished update resumes at the first visit.
    pub fn load(&self, buffer: &crate::buffer::Buffer) -> Result<(), crate::buffer::BufferError> {
        if let Some((_, body)) = buffer.ota_feed()? {
            if let Ok(feed) = serde_json::from_str::<OtaFeed>(&body) {
                let mut downloaded = std::collections::HashSet::new();
                for d in &feed.deployments {
                    if buffer
                        .ota_script(&d.script.slug, &d.script.sha256)?
                        .is_some()
                    {
                        downloaded.insert(d.script.slug.clone());
                    }
                }
                self.set_feed(feed, downloaded);
            }
        }
        self.set_jobs(buffer.ota_job_states()?);
        Ok(())
    }

    /// Remembers that no deployment of the current feed applies to the POD now.
    pub fn not_applicable(&self, device: DeviceId) {
        let mut inner = self.write();
        let generation = inner.generation;
        inner.not_applicable.insert(device.get(), generation);
    }

    /// Whether any update is unfinished (the status board shows it).
    pub fn open_jobs(&self) -> usize {
        self.read().jobs.values().filter(|s| !s.is_final()).count()
    }
}
