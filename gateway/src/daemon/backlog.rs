//! When the uploader tells the cloud its backlog with nothing to upload. Batches of reports
//! carry it anyway; with none pending, an empty batch goes only when the backlog differs
//! from what the cloud last took (reports kept aside after the cloud rejected them, update
//! outcomes sent or owed, the buffer filling or emptying) or [`REFRESH`] has passed, so an
//! idle gateway costs the cloud one small request per interval.

use std::time::Duration;

use sync_protocol::gateway::Backlog;
use tokio::time::Instant;

/// The longest an idle gateway leaves the cloud's view of its backlog unconfirmed.
pub const REFRESH: Duration = Duration::from_secs(15 * 60);

/// What the cloud last took, and when.
#[derive(Debug, Default)]
pub(crate) struct Told {
    last: Option<(Backlog, Instant)>,
}

impl Told {
    pub fn record(&mut self, backlog: Backlog, at: Instant) {
        self.last = Some((backlog, at));
    }

    /// Whether `current` should be told at `now`; always at first, so that a restarted
    /// gateway corrects what the cloud shows.
    pub fn due(&self, current: &Backlog, now: Instant) -> bool {
        match &self.last {
            None => true,
            Some((told, at)) => told != current || now.duration_since(*at) >= REFRESH,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn told_again_on_a_change_or_after_the_refresh() {
        let start = Instant::now();
        let mut told = Told::default();
        let clear = Backlog::default();
        assert!(told.due(&clear, start), "at first");
        told.record(clear, start);
        assert!(!told.due(&clear, start + Duration::from_secs(60)));
        let aside = Backlog {
            quarantined: 1,
            ..clear
        };
        assert!(told.due(&aside, start + Duration::from_secs(1)), "changed");
        assert!(told.due(&clear, start + REFRESH), "refreshed");
        told.record(clear, start + REFRESH);
        assert!(!told.due(&clear, start + REFRESH + Duration::from_secs(1)));
    }
}
