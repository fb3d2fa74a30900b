//! Storing and reading the sensor log.

use sync_protocol::Reading;

use super::{log, PodModel};

impl PodModel {
    // ----- readings -----------------------------------------------------------------

    /// Stores a reading as RPC `0x2000` does (stored streams get the next id; virtual streams
    /// keep their latest value; constants change), then lets automatic streamers fire.
    pub fn push_reading(&mut self, stream: u16, value: u32) -> Result<Option<Reading>, u32> {
        let time = self.current_time();
        let result = self.store_reading(stream, time, value);
        self.process_streamers();
        result
    }

    /// Presents a graph input as RPC `0x2004` does (dropped while the graph is offline).
    pub fn graph_input(&mut self, stream: u16, value: u32) {
        self.present_input(stream, value);
    }

    /// Stored readings: the storage area, then the streaming area, each oldest first.
    pub fn readings(&self) -> impl Iterator<Item = &Reading> {
        self.flash
            .log
            .area(log::Area::Storage)
            .iter()
            .chain(self.flash.log.area(log::Area::Streaming).iter())
    }

    /// Readings stored in `stream`, oldest first.
    pub fn stream_readings(&self, stream: u16) -> Vec<Reading> {
        let Some(area) = log::Area::of_stream(stream) else {
            return Vec::new();
        };
        self.flash
            .log
            .area(area)
            .iter()
            .filter(|r| r.stream == stream)
            .copied()
            .collect()
    }

    /// `(storage, streaming)` reading counts.
    pub fn reading_counts(&self) -> (usize, usize) {
        self.flash.log.count()
    }

    /// The highest id ever allocated (readings and reports).
    pub fn last_allocated_id(&self) -> u32 {
        self.flash.log.last_allocated_id()
    }

    /// Skips `count` reading ids (a POD restarted from a state file that may be older than
    /// the last ids it handed out must not hand them out again).
    pub fn skip_ids(&mut self, count: u32) {
        self.flash.log.skip_ids(count);
        self.touch();
    }

    /// Unacknowledged readings the ring erased because an area was full.
    pub fn lost_readings(&self) -> u64 {
        self.flash.log.erased_unacknowledged()
    }

    /// The latest value of a stream (stored or virtual), if it ever had one since boot.
    pub fn latest(&self, stream: u16) -> Option<Reading> {
        self.ram.graph.last_values.get(&stream).copied()
    }
}
