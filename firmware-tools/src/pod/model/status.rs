//! Streamer and sensor-graph status.

use super::{PodModel, StreamerStatus};

impl PodModel {
    // ----- streamers ----------------------------------------------------------------

    pub fn streamer_count(&self) -> usize {
        self.ram.streaming.streamers.len()
    }

    /// The stored acknowledgement of a streamer (0 if none).
    pub fn ack(&self, streamer: u8) -> u32 {
        self.flash.acks.get(&streamer).copied().unwrap_or(0)
    }

    pub fn streamer_status(&self, streamer: u8) -> Option<StreamerStatus> {
        self.ram
            .streaming
            .streamers
            .get(usize::from(streamer))
            .map(|s| s.status.clone())
    }

    pub fn node_count(&self) -> usize {
        self.ram.graph.nodes.len()
    }

    pub fn graph_online(&self) -> bool {
        self.ram.graph.online
    }

    /// Whether a persisted graph will be loaded at the next reset.
    pub fn has_persisted_graph(&self) -> bool {
        self.flash.graph.is_some()
    }

    /// The current max report size in bytes.
    pub fn max_report_size(&self) -> u32 {
        self.ram.max_report_size
    }
}
