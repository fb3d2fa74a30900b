//! The clock: uptime and device time, and everything scheduled on the way (configured
//! outputs and their generators, the normal, fast and user ticks).

use sync_protocol::time::RTC_FLAG;

use super::{streams, OutputState, PodModel};
use crate::pod::config::{Generator, OutputConfig};

impl PodModel {
    // ----- clock --------------------------------------------------------------------

    /// Seconds since the last boot.
    pub fn uptime(&self) -> u32 {
        self.ram.uptime
    }

    /// Device time (§1.6): `(uptime + offset) | RTC_FLAG` once the clock is set, else uptime.
    pub fn current_time(&self) -> u32 {
        if self.ram.is_utc {
            ((i64::from(self.ram.uptime) + self.ram.time_offset) as u32) | RTC_FLAG
        } else {
            self.ram.uptime
        }
    }

    /// Whether readings carry RTC-flagged time.
    pub fn time_synchronised(&self) -> bool {
        self.ram.is_utc
    }

    /// Moves the clock forward by `seconds`, running everything scheduled on the way.
    pub fn advance(&mut self, seconds: u32) {
        self.advance_to(self.ram.uptime.saturating_add(seconds));
    }

    /// Moves the clock to `uptime` (no-op if it is not ahead), running, at every scheduled
    /// second on the way, the configured outputs, the normal tick and battery sample (every
    /// 10 s), the fast and user ticks, then the automatic streamers.
    pub fn advance_to(&mut self, uptime: u32) {
        while self.ram.uptime < uptime {
            let next = self.next_event_after(self.ram.uptime).min(uptime);
            self.ram.uptime = next;
            self.fire_events(next);
        }
    }

    fn periods(&self) -> impl Iterator<Item = u32> + '_ {
        let ticks = self.ram.ticks.into_iter();
        self.flash
            .outputs
            .iter()
            .map(|o| o.period)
            .chain(ticks)
            .chain(std::iter::once(10))
            .filter(|p| *p > 0)
    }

    fn next_event_after(&self, now: u32) -> u32 {
        self.periods()
            .map(|p| (now / p).saturating_add(1).saturating_mul(p))
            .min()
            .unwrap_or(u32::MAX)
    }

    fn fire_events(&mut self, now: u32) {
        self.touch();
        for index in 0..self.flash.outputs.len() {
            let output = &self.flash.outputs[index];
            if now % output.period == 0 {
                let stream = output.stream;
                let value = self.generate(index, now);
                let time = self.current_time();
                // A full fill-stop area refuses the reading; the application carries on.
                let _ = self.store_reading(stream, time, value);
            }
        }
        if now % 10 == 0 {
            self.present_input(streams::BATTERY, self.flash.env.battery_mv);
            self.present_input(streams::NORMAL_TICK, now);
        }
        let tick_streams = [
            streams::FAST_TICK,
            streams::USER_TICK_1,
            streams::USER_TICK_2,
        ];
        for (period, stream) in self.ram.ticks.into_iter().zip(tick_streams) {
            if period > 0 && now % period == 0 {
                self.present_input(stream, now);
            }
        }
        self.process_streamers();
    }

    fn generate(&mut self, index: usize, now: u32) -> u32 {
        let output = &mut self.flash.outputs[index];
        let n = output.produced;
        output.produced += 1;
        match output.generator {
            Generator::Counter { start, step } => start.wrapping_add(step.wrapping_mul(n as u32)),
            Generator::Constant { value } => value,
            Generator::Sine {
                center,
                amplitude,
                period,
            } => {
                let phase = f64::from(now % period) / f64::from(period);
                let value =
                    center as f64 + amplitude as f64 * (phase * std::f64::consts::TAU).sin();
                (value.round() as i64) as u32
            }
            Generator::Random { min, max } => {
                let rng = &mut self.flash.env.rng;
                *rng ^= *rng << 13;
                *rng ^= *rng >> 7;
                *rng ^= *rng << 17;
                let span = u64::from(max - min) + 1;
                min + (*rng % span) as u32
            }
        }
    }

    /// Replaces the configured outputs (the application's schedule). An output that did not
    /// change keeps its count (a counter carries on).
    pub fn set_outputs(&mut self, outputs: &[OutputConfig]) {
        let old = std::mem::take(&mut self.flash.outputs);
        self.flash.outputs = outputs
            .iter()
            .map(|o| {
                let produced = old
                    .iter()
                    .find(|s| {
                        s.stream == o.stream.0 && s.period == o.period && s.generator == o.generator
                    })
                    .map_or(0, |s| s.produced);
                OutputState {
                    stream: o.stream.0,
                    period: o.period.max(1),
                    generator: o.generator.clone(),
                    produced,
                }
            })
            .collect();
    }
}
