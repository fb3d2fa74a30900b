//! A gateway's backlog (`sync_protocol::gateway::Backlog`): kept from each sync batch and
//! shown in the gateway list as `backlog`, `null` when the gateway has not told it.

use serde_json::{json, Value};
use sync_protocol::gateway;

use super::error::ApiResult;
use crate::state::AppState;
use crate::store::gateways::{self, Backlog, Gateway};
use crate::time;

/// The `backlog` field of a gateway in the API.
pub(crate) fn to_json(g: &Gateway) -> Value {
    match (&g.backlog, g.backlog_at) {
        (Some(b), Some(at)) => json!({
            "reports": b.reports,
            "bytes": b.bytes,
            "readings": b.readings,
            "oldest_received_on": b.oldest.map(time::format),
            "quarantined": b.quarantined,
            "ota_outcomes": b.ota_outcomes,
            "buffer_full": b.full,
            "reported_on": time::format(at),
        }),
        _ => Value::Null,
    }
}

/// Keeps what a batch that arrived at `at` told of the gateway's backlog; a batch without
/// one makes it unknown. The batch passed `check_limits`, so every count fits an i64.
pub(crate) async fn record(
    state: &AppState,
    gateway: &Gateway,
    at: i64,
    told: Option<&gateway::Backlog>,
) -> ApiResult<()> {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let backlog = told.map(|b| Backlog {
        reports: count(b.reports),
        bytes: count(b.raw_bytes),
        readings: count(b.readings),
        oldest: b.oldest_received_at_us,
        quarantined: count(b.quarantined),
        ota_outcomes: count(b.ota_outcomes),
        full: b.buffer_full,
    });
    gateways::record_backlog(&state.db.meta_writes, gateway.id, at, backlog.as_ref()).await?;
    Ok(())
}
