//! The local status API (`status.bind`, loopback by default): `GET /status` as JSON for
//! people and scripts, `GET /metrics` in Prometheus' text format. It shows the PODs seen and
//! their last contact, what the buffer holds and whether it is over budget, how the last
//! sync went, and where OTA updates stand (jobs by state, outcomes not yet sent).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::json;

use super::Shared;
use crate::buffer::Stats;

/// What the collectors and the uploader report as they go.
#[derive(Debug, Default, Serialize)]
pub struct Board {
    pub started_us: i64,
    /// By device slug.
    pub pods: BTreeMap<String, PodStatus>,
    pub last_sync_us: Option<i64>,
    pub last_sync_error: Option<String>,
    pub synced_reports: u64,
    pub rejected_reports: u64,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct PodStatus {
    pub adapter: String,
    pub address: String,
    pub rssi: i16,
    pub last_seen_us: i64,
    pub last_visit_us: Option<i64>,
    pub visits: u64,
    pub failed_visits: u64,
    pub last_error: Option<String>,
    /// Heard, but not visited for longer than `visits.starved_after`.
    pub starved: bool,
}

pub type SharedBoard = Arc<Mutex<Board>>;

/// Applies `f` to the board; a poisoned lock only loses status, never data.
pub fn update(board: &SharedBoard, f: impl FnOnce(&mut Board)) {
    if let Ok(mut b) = board.lock() {
        f(&mut b);
    }
}

pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Serves until shutdown.
pub(crate) async fn serve(listener: tokio::net::TcpListener, shared: Shared) {
    let shutdown = shared.shutdown.clone();
    let app = Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(shared);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(error) = served {
        tracing::error!(%error, "the status API stopped");
    }
}

async fn buffer_stats(shared: &Shared) -> Option<Stats> {
    let buffer = shared.buffer.clone();
    tokio::task::spawn_blocking(move || buffer.lock().ok()?.stats().ok())
        .await
        .ok()
        .flatten()
}

/// OTA jobs by state, and outcomes the cloud does not have yet.
#[derive(Debug, Default, Serialize)]
struct OtaFigures {
    jobs: BTreeMap<&'static str, u64>,
    unsent_outcomes: u64,
    /// Deployments in the feed as last fetched.
    deployments: u64,
}

async fn ota_figures(shared: &Shared) -> Option<OtaFigures> {
    let deployments = shared.updates.as_ref()?.feed().deployments.len() as u64;
    crate::buffer::blocking(&shared.buffer, move |b| {
        let mut figures = OtaFigures {
            deployments,
            ..OtaFigures::default()
        };
        for (_, _, state) in b.ota_job_states()? {
            *figures.jobs.entry(state.as_str()).or_default() += 1;
        }
        figures.unsent_outcomes = b.unsent_ota_actions()?;
        Ok(figures)
    })
    .await
    .ok()
}

async fn status(State(shared): State<Shared>) -> impl IntoResponse {
    let stats = buffer_stats(&shared).await;
    let ota = ota_figures(&shared).await;
    let buffer = stats.map(|s| {
        json!({
            "pending_reports": s.pending_reports,
            "pending_bytes": s.pending_bytes,
            "pending_readings": s.pending_readings,
            "oldest_pending_us": s.oldest_pending,
            "synced_reports": s.synced_reports,
            "quarantined": s.quarantined,
            "file_bytes": s.file_bytes,
            "budget": s.budget,
            "over_budget": s.over_budget,
        })
    });
    let board = shared.board.lock().map(|b| json!(*b)).unwrap_or_default();
    axum::Json(json!({"buffer": buffer, "gateway": board, "ota": ota}))
}

async fn metrics(State(shared): State<Shared>) -> impl IntoResponse {
    let stats = buffer_stats(&shared).await;
    let ota = ota_figures(&shared).await;
    let mut out = String::new();
    if let Some(ota) = &ota {
        let _ = writeln!(
            out,
            "# HELP iotile_gateway_ota_jobs POD updates by state.\n\
             # TYPE iotile_gateway_ota_jobs gauge"
        );
        for state in [
            "sending",
            "triggered",
            "resetting",
            "rebooting",
            "succeeded",
            "failed",
        ] {
            let n = ota.jobs.get(state).copied().unwrap_or(0);
            let _ = writeln!(out, "iotile_gateway_ota_jobs{{state=\"{state}\"}} {n}");
        }
    }
    let mut gauge = |name: &str, help: &str, value: f64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    if let Some(s) = &stats {
        gauge(
            "iotile_gateway_buffer_pending_reports",
            "Reports not yet in the cloud.",
            s.pending_reports as f64,
        );
        gauge(
            "iotile_gateway_buffer_pending_readings",
            "Readings not yet in the cloud.",
            s.pending_readings as f64,
        );
        gauge(
            "iotile_gateway_buffer_pending_bytes",
            "Raw bytes not yet in the cloud.",
            s.pending_bytes as f64,
        );
        gauge(
            "iotile_gateway_buffer_file_bytes",
            "Size of the buffer file and its WAL.",
            s.file_bytes as f64,
        );
        gauge(
            "iotile_gateway_buffer_budget_bytes",
            "Disk budget of the buffer.",
            s.budget as f64,
        );
        gauge(
            "iotile_gateway_buffer_over_budget",
            "1 while collection is stopped for lack of room.",
            f64::from(u8::from(s.over_budget)),
        );
        gauge(
            "iotile_gateway_buffer_quarantined_reports",
            "Reports kept aside, never synced.",
            s.quarantined as f64,
        );
    }
    if let Some(ota) = &ota {
        gauge(
            "iotile_gateway_ota_unsent_outcomes",
            "Update outcomes the cloud does not have yet.",
            ota.unsent_outcomes as f64,
        );
        gauge(
            "iotile_gateway_ota_deployments",
            "Deployments in the OTA feed as last fetched.",
            ota.deployments as f64,
        );
    }
    if let Ok(b) = shared.board.lock() {
        let visits: u64 = b.pods.values().map(|p| p.visits).sum();
        let failed: u64 = b.pods.values().map(|p| p.failed_visits).sum();
        gauge(
            "iotile_gateway_pods_seen",
            "PODs heard since start.",
            b.pods.len() as f64,
        );
        gauge(
            "iotile_gateway_pods_starved",
            "PODs heard but not visited for longer than visits.starved_after.",
            b.pods.values().filter(|p| p.starved).count() as f64,
        );
        gauge(
            "iotile_gateway_visits",
            "Visits that collected, since start.",
            visits as f64,
        );
        gauge(
            "iotile_gateway_failed_visits",
            "Visits that failed, since start.",
            failed as f64,
        );
        gauge(
            "iotile_gateway_synced_reports",
            "Reports the cloud confirmed, since start.",
            b.synced_reports as f64,
        );
        gauge(
            "iotile_gateway_rejected_reports",
            "Reports the cloud rejected, since start.",
            b.rejected_reports as f64,
        );
        if let Some(t) = b.last_sync_us {
            gauge(
                "iotile_gateway_last_sync_seconds",
                "Unix time of the last successful sync.",
                t as f64 / 1e6,
            );
        }
        gauge(
            "iotile_gateway_sync_failing",
            "1 while the last sync attempt failed.",
            f64::from(u8::from(b.last_sync_error.is_some())),
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
