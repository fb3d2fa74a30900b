//! The clock task: the model's uptime follows real time × `clock_speed`, the script runner
//! runs a few records per tick, and the state file is saved when it changed.

use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{lock, store, Inner};
use crate::pod::model::{PodModel, StateError};

/// How often the clock task runs.
const TICK: Duration = Duration::from_millis(25);
/// Script runner steps per tick (a step is one record).
const SCRIPT_STEPS_PER_TICK: usize = 2;
/// Minimum time between two saves of the state file...
const SAVE_EVERY: Duration = Duration::from_secs(5);
/// ...unless this many ids were allocated since the last one.
const SAVE_AFTER_IDS: u32 = 1024;

/// Real time ↔ uptime: at `instant` the model's uptime was `uptime` (since boot `boot`).
pub(super) struct Anchor {
    pub(super) instant: Instant,
    pub(super) uptime: u32,
    pub(super) boot: u32,
}

impl Inner {
    /// Moves the model's clock to real time × speed since the anchor. A reset since the last
    /// look re-anchors (uptime restarted at 0).
    pub(super) fn sync_clock(&self, model: &mut PodModel) {
        if self.stop.is_cancelled() {
            // A stopped POD's clock stands still.
            return;
        }
        let mut anchor = lock(&self.clock);
        let now = Instant::now();
        if model.reboot_count() != anchor.boot || model.uptime() < anchor.uptime {
            *anchor = Anchor {
                instant: now,
                uptime: model.uptime(),
                boot: model.reboot_count(),
            };
        }
        let elapsed = now.duration_since(anchor.instant).as_secs_f64() * self.speed;
        let target = f64::from(anchor.uptime) + elapsed;
        let target = if target >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            target as u32
        };
        model.advance_to(target);
    }

    pub(super) fn save(&self) -> Result<(), StateError> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let _one_at_a_time = lock(&self.saving);
        let (bytes, generation, id) = {
            let model = lock(&self.model);
            (
                model.to_bytes(),
                model.generation(),
                model.last_allocated_id(),
            )
        };
        store::write_bytes(path, &bytes)?;
        self.saved_generation.store(generation, Ordering::Relaxed);
        self.saved_id.store(u64::from(id), Ordering::Relaxed);
        Ok(())
    }

    /// One clock tick: time, script steps, resets, wake-up.
    pub(super) fn tick(&self) {
        {
            let mut model = lock(&self.model);
            self.sync_clock(&mut model);
            for _ in 0..SCRIPT_STEPS_PER_TICK {
                if !model.service() {
                    break;
                }
            }
        }
        self.after_model_change();
    }
}

pub(super) async fn clock_task(inner: Weak<Inner>, stop: CancellationToken) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_save = Instant::now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = interval.tick() => {}
        }
        let Some(inner) = inner.upgrade() else {
            break;
        };
        inner.tick();
        if inner.state_file.is_none() {
            continue;
        }
        let (generation, id) = {
            let model = lock(&inner.model);
            (model.generation(), model.last_allocated_id())
        };
        let changed = generation != inner.saved_generation.load(Ordering::Relaxed);
        let ids = u64::from(id).saturating_sub(inner.saved_id.load(Ordering::Relaxed));
        // A stopped POD saves once more in `stop`; its state directory may be going away.
        let due = last_save.elapsed() >= SAVE_EVERY || ids >= u64::from(SAVE_AFTER_IDS);
        if changed && due && !inner.stop.is_cancelled() {
            if let Err(error) = inner.save() {
                // The alternate form shows the I/O error the state error wraps.
                let error = anyhow::Error::new(error);
                tracing::warn!(error = %format_args!("{error:#}"), "virtual POD could not save its state");
            }
            last_save = Instant::now();
        }
    }
}
