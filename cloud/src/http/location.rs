//! `/api/v1/location/`: where a device was (spec 3.16). The newest posted location becomes
//! the device's own `lat`/`lon`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sync_protocol::ids::Slug;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::json::one_or_many;
use super::json::{Json, Reply};
use super::note::{listed_target, time_query};
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use super::target;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::annotations::{self, Location, NewLocation};
use crate::store::devices;
use crate::time;

pub fn routes() -> Router<AppState> {
    Router::new().route("/location", get(list).post(create))
}

/// The location object.
#[derive(Serialize, ToSchema)]
#[schema(as = Location)]
pub struct LocationView {
    pub id: i64,
    #[schema(format = DateTime)]
    pub timestamp: String,
    pub target: String,
    /// Degrees, as a decimal string.
    pub lat: String,
    pub lon: String,
    /// The account slug of who posted it.
    pub user: Option<String>,
}

pub fn view(l: &Location) -> LocationView {
    LocationView {
        id: l.id,
        timestamp: time::format(l.timestamp),
        target: l.target.clone(),
        lat: l.lat.clone(),
        lon: l.lon.clone(),
        user: l.user_slug.clone(),
    }
}

/// What posting an array answers: how many were written and the newest of them.
#[derive(Serialize, ToSchema)]
pub struct LocationsWritten {
    pub count: usize,
    pub last: Option<LocationView>,
}

/// One location written, or for an array how many and the newest.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Posted {
    One(LocationView),
    Many(LocationsWritten),
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Large)?;
    let t = listed_target(&state, &caller, &params, perm::READ_DEVICE_LOCATIONS).await?;
    let q = time_query(&params)?;
    let (count, rows) =
        annotations::locations(&state.db.meta, &t.canonical, &q, w.offset, w.size).await?;
    let results: Vec<LocationView> = rows.iter().map(view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

/// A location to write; every one of a POST is for the same target.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PostedLocation {
    target: String,
    timestamp: String,
    /// Degrees, a number or a decimal string.
    lat: Value,
    lon: Value,
}

/// A coordinate given as a number or a decimal string, within `limit` degrees.
fn coordinate(field: &str, v: &Value, limit: f64) -> ApiResult<String> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return Err(ApiError::field(field, "A valid number is required.")),
    };
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x.abs() <= limit => Ok(text),
        _ => Err(ApiError::field(field, "A valid number is required.")),
    }
}

pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, Reply<Posted>)> {
    let (many, posted) = one_or_many::<PostedLocation>(body)?;
    let first = posted
        .first()
        .ok_or_else(|| ApiError::field("non_field_errors", "No locations given."))?;
    let slug = target::parse(&first.target)
        .ok_or_else(|| ApiError::field("target", "Not a valid target slug."))?;
    if posted
        .iter()
        .any(|l| target::parse(&l.target) != Some(slug))
    {
        return Err(ApiError::field(
            "non_field_errors",
            "All locations must be for the same target.",
        ));
    }
    let t = target::require(&state, &caller, slug, perm::MODIFY_DEVICE).await?;
    let mut new = Vec::with_capacity(posted.len());
    for l in &posted {
        new.push(NewLocation {
            timestamp: time::parse(&l.timestamp, false)
                .ok_or_else(|| ApiError::field("timestamp", "Enter a valid date/time."))?,
            lat: coordinate("lat", &l.lat, 90.0)?,
            lon: coordinate("lon", &l.lon, 180.0)?,
        });
    }
    let stored =
        annotations::create_locations(&state.db.meta, &t.canonical, &new, caller.user.id).await?;
    let newest = annotations::newest_location(&state.db.meta, &t.canonical).await?;
    if let (Slug::Device(_), Some(id), Some(l)) = (t.slug, t.device_id, &newest) {
        devices::set_location(&state.db.meta, id, &l.lat, &l.lon).await?;
    }
    let last = stored.iter().max_by_key(|l| (l.timestamp, l.id));
    let body = match (many, last) {
        (false, Some(l)) => Posted::One(view(l)),
        _ => Posted::Many(LocationsWritten {
            count: stored.len(),
            last: last.map(view),
        }),
    };
    Ok((StatusCode::CREATED, Reply(body)))
}
