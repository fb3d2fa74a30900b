//! The operations pages: what came in and what goes out.
//!
//! - `reports`: the streamer reports received and how their processing went;
//! - `jobs`: the job queue for staff, with dead jobs and their retry;
//! - `gateways`: an org's site gateways, what each still holds, and their registration
//!   codes (`backlog` words what a gateway holds);
//! - `ota`: an org's OTA overview, scripts with their signature state, and release keys;
//! - `fleets`: an org's fleets and their members;
//! - `deployments`: an org's deployments with per-device progress and state changes;
//! - `stamp`: times as the pages show them.
//!
//! Every rule (who sees, who may change, what is valid) is the API's own function, called
//! with the session's `Caller`.

pub mod backlog;
pub mod deployments;
pub mod fleets;
pub mod gateways;
pub mod jobs;
pub mod ota;
pub mod reports;
pub mod stamp;

use axum::Router;

use crate::state::AppState;

/// The operations pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(reports::routes())
        .merge(jobs::routes())
        .merge(gateways::routes())
        .merge(ota::routes())
        .merge(fleets::routes())
        .merge(deployments::routes())
}
