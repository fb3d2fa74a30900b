//! What a gateway does with a broadcast reading it saw: turn it into a one-reading
//! [`BroadcastReport`], and drop repeats of a v2 broadcast it already passed on.

use std::collections::{HashMap, VecDeque};

use super::{AdvertisementV1, AdvertisementV2, DecodedV2};
use crate::reading::Reading;
use crate::report::BroadcastReport;

/// A report with one reading: reading id 0, `raw_time = sent_timestamp = time`.
fn one_reading(device_id: u32, stream: u16, value: u32, time: u32) -> Option<BroadcastReport> {
    let reading = Reading {
        stream,
        reading_id: 0,
        raw_time: time,
        value,
    };
    // One reading always fits; `ok()` only avoids an unwrap.
    BroadcastReport::new(device_id, time, &[reading]).ok()
}

impl AdvertisementV1 {
    /// The broadcast reading as a report. Its time is the reading's own `raw_time` from the
    /// scan response, which is what coretools stamps v1 broadcast reports with.
    pub fn broadcast_report(&self) -> Option<BroadcastReport> {
        let (stream, value, raw_time) = self.broadcast?;
        one_reading(self.device_id, stream, value, raw_time)
    }
}

impl AdvertisementV2 {
    /// The broadcast reading as a report, stamped with the advertised device time.
    pub fn broadcast_report(&self) -> Option<BroadcastReport> {
        let (stream, value) = self.broadcast?;
        one_reading(self.device_id, stream, value, self.current_time)
    }
}

/// Remembers the last `(toggle, counter)` per `(address, broadcast id)`, as the BLED112
/// driver does, to tell a repeated v2 broadcast from a new one. The device flips the toggle
/// or bumps the counter whenever the reading changes, so an unchanged pair is a repeat.
///
/// Holds at most [`BroadcastDedup::CAPACITY`] entries; the oldest is forgotten first (it
/// then counts as new once more, which only costs a duplicate report).
#[derive(Debug, Default, Clone)]
pub struct BroadcastDedup {
    last: HashMap<([u8; 6], u8), (bool, u8)>,
    order: VecDeque<([u8; 6], u8)>,
}

impl BroadcastDedup {
    pub const CAPACITY: usize = 4096;

    pub fn new() -> Self {
        Self::default()
    }

    /// Records a decoded v2 advertisement from `address` (the sender's 6 address bytes, any
    /// fixed order) and says whether it repeats the last one on its channel. Advertisements
    /// whose broadcast could not be opened are never repeats and are not recorded, since
    /// their toggle is unknown.
    pub fn is_repeat(&mut self, address: [u8; 6], decoded: &DecodedV2) -> bool {
        if !decoded.auth.readable() {
            return false;
        }
        let adv = &decoded.advertisement;
        let key = (address, adv.broadcast_info.id);
        let state = (adv.toggle, adv.broadcast_info.counter);
        match self.last.insert(key, state) {
            Some(previous) => previous == state,
            None => {
                self.order.push_back(key);
                if self.order.len() > Self::CAPACITY {
                    if let Some(oldest) = self.order.pop_front() {
                        self.last.remove(&oldest);
                    }
                }
                false
            }
        }
    }

    /// Forgets everything, e.g. when scanning restarts.
    pub fn clear(&mut self) {
        self.last.clear();
        self.order.clear();
    }

    pub fn len(&self) -> usize {
        self.last.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}
