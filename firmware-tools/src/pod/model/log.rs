//! The sensor log: the POD's flash store of readings.
//!
//! Two areas, as on a real POD: *storage* (buffered streams, type 0) and *streaming* (output
//! streams, type 5). Each area keeps its readings in push order, which is also reading-id
//! order since every stored reading takes the next value of the one counter.
//!
//! The counter lives here and only moves forward: a reset, a clear or a restart from a saved
//! state never lowers it (the `0x5C03` "data cleared" marker that real firmware writes to
//! keep the high-water mark is logged too, but the counter itself is what is persisted).
//!
//! When an area is full the caller (the model, which knows the streamers and their acks)
//! first frees readings every selecting streamer has acknowledged, then either fails the
//! push (fill-stop) or erases the oldest 256 readings (ring).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use sync_protocol::stream::{DataStream, StreamSelector, StreamType};
use sync_protocol::Reading;

/// How many readings a full ring erases at once.
pub const ERASE_CHUNK: usize = 256;

/// Which area a stored stream lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    Storage,
    Streaming,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SensorLog {
    storage: VecDeque<Reading>,
    streaming: VecDeque<Reading>,
    storage_capacity: usize,
    streaming_capacity: usize,
    /// The id the next stored reading (or report) gets.
    next_id: u32,
    /// Unacknowledged readings erased by the ring when it was full.
    erased_unacknowledged: u64,
}

impl Area {
    /// The area of a stream code, `None` for virtual (unstored) streams.
    pub fn of_stream(stream: u16) -> Option<Area> {
        match DataStream::from_code(stream).ok()?.kind {
            StreamType::Buffered => Some(Area::Storage),
            StreamType::Output => Some(Area::Streaming),
            _ => None,
        }
    }

    /// The area a selector reads, `None` for virtual selectors.
    pub fn of_selector(selector: StreamSelector) -> Option<Area> {
        match selector.kind().ok()? {
            StreamType::Buffered => Some(Area::Storage),
            StreamType::Output => Some(Area::Streaming),
            _ => None,
        }
    }
}

impl SensorLog {
    pub fn new(storage_capacity: usize, streaming_capacity: usize) -> Self {
        SensorLog {
            storage: VecDeque::new(),
            streaming: VecDeque::new(),
            storage_capacity,
            streaming_capacity,
            next_id: 1,
            erased_unacknowledged: 0,
        }
    }

    pub fn area(&self, area: Area) -> &VecDeque<Reading> {
        match area {
            Area::Storage => &self.storage,
            Area::Streaming => &self.streaming,
        }
    }

    fn area_mut(&mut self, area: Area) -> &mut VecDeque<Reading> {
        match area {
            Area::Storage => &mut self.storage,
            Area::Streaming => &mut self.streaming,
        }
    }

    pub fn capacity(&self, area: Area) -> usize {
        match area {
            Area::Storage => self.storage_capacity,
            Area::Streaming => self.streaming_capacity,
        }
    }

    pub fn is_full(&self, area: Area) -> bool {
        self.area(area).len() >= self.capacity(area)
    }

    /// Takes the next id (for a reading or a report). Saturates rather than wrapping: a
    /// counter that went back would break every receiver's deduplication.
    pub fn allocate_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        id
    }

    /// Moves the counter forward without using the ids.
    pub fn skip_ids(&mut self, count: u32) {
        self.next_id = self.next_id.saturating_add(count);
    }

    /// The highest id allocated so far (0 if none).
    pub fn last_allocated_id(&self) -> u32 {
        self.next_id - 1
    }

    /// The highest id still stored (0 if the log is empty).
    pub fn highest_stored_id(&self) -> u32 {
        let last = |a: &VecDeque<Reading>| a.back().map_or(0, |r| r.reading_id);
        last(&self.storage).max(last(&self.streaming))
    }

    /// Appends a reading whose id was just allocated. The caller made room.
    pub fn append(&mut self, area: Area, reading: Reading) {
        self.area_mut(area).push_back(reading);
    }

    /// Removes the readings `keep` refuses; returns how many went.
    pub fn retain(&mut self, area: Area, keep: impl FnMut(&Reading) -> bool) -> usize {
        let readings = self.area_mut(area);
        let before = readings.len();
        readings.retain(keep);
        before - readings.len()
    }

    /// Erases the oldest readings of a full ring; `unacknowledged` says which of them were
    /// never acknowledged (they are counted as lost).
    pub fn erase_oldest(&mut self, area: Area, unacknowledged: impl Fn(&Reading) -> bool) {
        let readings = self.area_mut(area);
        let count = ERASE_CHUNK.min(readings.len());
        let lost = readings
            .drain(..count)
            .filter(|r| unacknowledged(r))
            .count();
        self.erased_unacknowledged += lost as u64;
    }

    /// Drops every stored reading; the id counter is kept.
    pub fn clear(&mut self) {
        self.storage.clear();
        self.streaming.clear();
    }

    pub fn count(&self) -> (usize, usize) {
        (self.storage.len(), self.streaming.len())
    }

    pub fn erased_unacknowledged(&self) -> u64 {
        self.erased_unacknowledged
    }

    /// The readings of `area` with an id above `after`, oldest first.
    pub fn after(&self, area: Area, after: u32) -> impl Iterator<Item = &Reading> {
        let readings = self.area(area);
        let start = readings.partition_point(|r| r.reading_id <= after);
        readings.range(start..)
    }

    /// The stored reading with this id, in `area`.
    pub fn find(&self, area: Area, id: u32) -> Option<&Reading> {
        let readings = self.area(area);
        let at = readings.partition_point(|r| r.reading_id < id);
        readings.get(at).filter(|r| r.reading_id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(stream: u16, id: u32) -> Reading {
        Reading {
            stream,
            reading_id: id,
            raw_time: 0,
            value: id,
        }
    }

    #[test]
    fn ids_only_move_forward_and_survive_clear() {
        let mut log = SensorLog::new(300, 300);
        for _ in 0..3 {
            let id = log.allocate_id();
            log.append(Area::Streaming, reading(0x5001, id));
        }
        assert_eq!(log.highest_stored_id(), 3);
        log.clear();
        assert_eq!(log.highest_stored_id(), 0);
        assert_eq!(log.allocate_id(), 4);
        assert_eq!(log.last_allocated_id(), 4);
    }

    #[test]
    fn lookups_use_id_order() {
        let mut log = SensorLog::new(300, 300);
        for id in [2, 5, 9] {
            log.append(Area::Storage, reading(0x0001, id));
        }
        assert_eq!(log.find(Area::Storage, 5).map(|r| r.value), Some(5));
        assert!(log.find(Area::Storage, 4).is_none());
        let ids: Vec<u32> = log.after(Area::Storage, 2).map(|r| r.reading_id).collect();
        assert_eq!(ids, vec![5, 9]);
        log.erase_oldest(Area::Storage, |r| r.reading_id > 2);
        assert_eq!(log.count(), (0, 0));
        assert_eq!(log.erased_unacknowledged(), 2);
    }

    #[test]
    fn areas_follow_stream_types() {
        assert_eq!(Area::of_stream(0x5001), Some(Area::Streaming));
        assert_eq!(Area::of_stream(0x0E00), Some(Area::Storage));
        assert_eq!(Area::of_stream(0x1001), None);
        assert_eq!(
            Area::of_selector(StreamSelector::ALL_OUTPUTS),
            Some(Area::Streaming)
        );
    }
}
