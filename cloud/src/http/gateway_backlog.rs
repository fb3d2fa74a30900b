//! A gateway's backlog (`sync_protocol::gateway::Backlog`): kept from each sync batch and
//! shown in the gateway list as `backlog`, `null` when the gateway has not told it.

use serde::Serialize;
use sync_protocol::gateway;
use utoipa::ToSchema;

use super::error::ApiResult;
use crate::state::AppState;
use crate::store::gateways::{self, Backlog, Gateway};
use crate::time;

/// What a gateway still held after its last sync batch.
#[derive(Serialize, ToSchema)]
#[schema(as = GatewayBacklog)]
pub struct BacklogView {
    /// Reports not yet in the cloud.
    pub reports: i64,
    /// Their raw bytes.
    pub bytes: i64,
    pub readings: i64,
    /// When the oldest of them reached the gateway.
    pub oldest_received_on: Option<String>,
    /// Reports kept aside (failed verification or refused): never to be uploaded.
    pub quarantined: i64,
    /// OTA outcomes not yet sent.
    pub ota_outcomes: i64,
    /// The buffer is over its disk budget: collection has stopped.
    pub buffer_full: bool,
    /// When the batch that told this arrived.
    #[schema(format = DateTime)]
    pub reported_on: String,
}

/// The `backlog` field of a gateway in the API.
pub(crate) fn view(g: &Gateway) -> Option<BacklogView> {
    match (&g.backlog, g.backlog_at) {
        (Some(b), Some(at)) => Some(BacklogView {
            reports: b.reports,
            bytes: b.bytes,
            readings: b.readings,
            oldest_received_on: b.oldest.map(time::format),
            quarantined: b.quarantined,
            ota_outcomes: b.ota_outcomes,
            buffer_full: b.full,
            reported_on: time::format(at),
        }),
        _ => None,
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
