//! Collecting one POD while the technician watches: the gateway library's visit, into this
//! user's buffer, under the `custody` policy: each report is verified and stored durably
//! before the POD is told it may free those readings, exactly as a site gateway does.

use gateway::buffer::Buffer;
use gateway::collect::{self, known_acks, Progress, VisitOptions};
use gateway::config::AckPolicy;
use gateway::transport::radio::Radio;
use serde::Serialize;
use sync_protocol::bgapi::BdAddr;
use sync_protocol::ids::DeviceId;
use sync_protocol::reading::Reading;

use crate::error::CoreError;
use crate::events::Events;
use crate::profile::Profile;

/// How a collection stands, sent as it moves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CollectProgress {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub device: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub readings: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub bytes: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub reports: u64,
    /// Every report byte received so far, stored or still arriving.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub received_bytes: u64,
    /// The readings in the report still arriving, reckoned from its bytes so far.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub readings_arriving: u64,
    /// What the POD said its streaming log holds at the start: an estimate (it counts
    /// readings acknowledged earlier and not yet overwritten); None if it did not say.
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub holding: Option<u64>,
    pub done: bool,
}

/// What a collection brought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Collected {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub device: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub reports: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub readings: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub bytes: u64,
    /// Reports that failed their check: kept aside, not acknowledged.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub rejected: u64,
}

struct Watch<'a> {
    events: &'a dyn Events,
    now: CollectProgress,
}

impl Progress for Watch<'_> {
    fn holding(&mut self, readings: u32) {
        self.now.holding = Some(u64::from(readings));
        self.events.collect_progress(&self.now);
    }

    fn arriving(&mut self, received: u64) {
        self.now.received_bytes = received;
        let partial = received.saturating_sub(self.now.bytes);
        // A signed-list report: a 20-byte header, then 16 bytes a reading.
        self.now.readings_arriving = partial.saturating_sub(20) / Reading::RECORD_LEN as u64;
        self.events.collect_progress(&self.now);
    }

    fn stored(&mut self, readings: usize, bytes: usize) {
        self.now.readings += readings as u64;
        self.now.bytes += bytes as u64;
        self.now.reports += 1;
        self.now.received_bytes = self.now.received_bytes.max(self.now.bytes);
        self.now.readings_arriving = 0;
        self.events.collect_progress(&self.now);
    }
}

/// Collects the POD `device` at `address`.
pub async fn collect(
    profile: &Profile,
    radio: &Radio,
    device: u64,
    address: BdAddr,
    events: &dyn Events,
) -> Result<Collected, CoreError> {
    let id = DeviceId::new(device).map_err(|e| CoreError::Invalid(e.to_string()))?;
    let options = {
        let buffer = lock(&profile.buffer)?;
        let mut options = VisitOptions {
            policy: AckPolicy::Custody,
            ..VisitOptions::default()
        };
        options.known_acks = known_acks(&buffer, id, options.policy, &options.streamers)?;
        options
    };
    let mut watch = Watch {
        events,
        now: CollectProgress {
            device,
            ..CollectProgress::default()
        },
    };
    let store = collect::into_buffer(profile.buffer.clone());
    let visited = collect::visit_watched(radio, address, &options, store, &mut watch).await;
    watch.now.done = true;
    events.collect_progress(&watch.now);
    let summary = visited?;
    summary.record_acks(&mut *lock(&profile.buffer)?, id)?;
    let collected = Collected {
        device,
        reports: summary.stored as u64,
        readings: summary.readings as u64,
        bytes: watch.now.bytes,
        rejected: summary.rejected as u64,
    };
    let detail = format!(
        "{} readings in {} reports{}",
        collected.readings,
        collected.reports,
        if collected.rejected > 0 {
            format!(
                "; {} failed their check and were kept aside",
                collected.rejected
            )
        } else {
            String::new()
        }
    );
    profile.store()?.log(
        "collect",
        &crate::nearby::slug(device),
        collected.rejected == 0,
        &detail,
        crate::session::now(),
    )?;
    events.sync_changed();
    Ok(collected)
}

pub(crate) fn lock(
    buffer: &std::sync::Mutex<Buffer>,
) -> Result<std::sync::MutexGuard<'_, Buffer>, CoreError> {
    buffer
        .lock()
        .map_err(|_| CoreError::Invalid("the report buffer's lock is poisoned".into()))
}
