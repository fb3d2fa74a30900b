//! The read-only catalogue: sensor graphs (`/sg/`), device templates (`/dt/`) and variable
//! types (`/vartype/`) (spec 3.18–3.20). Any authenticated user may read them.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::pagination::{PageClass, PageRequest};
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::catalogue::{self, Kind};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sg", get(sg_list))
        .route("/sg/{slug}", get(sg_get))
        .route("/dt", get(dt_list))
        .route("/dt/{slug}", get(dt_get))
        .route("/vartype", get(vartype_list))
        .route("/vartype/{slug}", get(vartype_get))
}

/// A list and a detail handler for one kind.
macro_rules! handlers {
    ($list:ident, $get:ident, $kind:expr) => {
        async fn $list(
            state: State<AppState>,
            caller: Caller,
            page: PageRequest,
        ) -> ApiResult<axum::Json<Value>> {
            list(state, caller, page, $kind).await
        }

        async fn $get(
            state: State<AppState>,
            caller: Caller,
            slug: Path<String>,
        ) -> ApiResult<axum::Json<Value>> {
            retrieve(state, caller, slug, $kind).await
        }
    };
}

handlers!(sg_list, sg_get, Kind::SensorGraph);
handlers!(dt_list, dt_get, Kind::DeviceTemplate);
handlers!(vartype_list, vartype_get, Kind::VarType);

/// A stored record as the API shows it: without the internal `active` flag.
pub fn public(mut body: Value) -> Value {
    if let Some(map) = body.as_object_mut() {
        map.remove("active");
    }
    body
}

/// Active records only; staff asking with `?staff=1` also see inactive device templates.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageRequest,
    kind: Kind,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Standard)?;
    let all = lists_inactive(&caller, kind);
    let (count, bodies) = catalogue::list(&state.db.meta, kind, all, w.offset, w.size).await?;
    let results: Vec<Value> = bodies.into_iter().map(public).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

/// Whether a caller's lists of `kind` include inactive records.
pub(crate) fn lists_inactive(caller: &Caller, kind: Kind) -> bool {
    caller.staff_mode && matches!(kind, Kind::DeviceTemplate)
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    kind: Kind,
) -> ApiResult<axum::Json<Value>> {
    let (body, _) = find(&state, &caller, kind, &slug).await?;
    Ok(axum::Json(public(body)))
}

/// A record as stored, with whether it is active. Sensor graphs and var types are found
/// active or not; an inactive device template only by staff with `?staff=1`.
pub(crate) async fn find(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    slug: &str,
) -> ApiResult<(Value, bool)> {
    let (body, active) = catalogue::get(&state.db.meta, kind, slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    if matches!(kind, Kind::DeviceTemplate) && !active && !caller.staff_mode {
        return Err(ApiError::NotFound);
    }
    Ok((body, active))
}
