//! `GET /device/{slug}/chart?stream=&start=&end=&buckets=`: the data of the device page's
//! charts. It is the API's chart (`http::chart::series`: rollup tiers, at most one bucket
//! per pixel column, the data API's access rule) in the columns uPlot draws, with times in
//! Unix seconds and values in the stream's output unit, as the page's tables show them.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::session::Session;
use crate::http::error::ApiError;
use crate::http::{chart, data, device};
use crate::state::AppState;
use crate::store::streams;

#[derive(Deserialize)]
pub struct ChartQuery {
    stream: String,
    /// Unix seconds.
    start: i64,
    end: i64,
    #[serde(default = "default_buckets")]
    buckets: u32,
}

fn default_buckets() -> u32 {
    chart::DEFAULT_BUCKETS
}

/// Columns: bucket start times and each bucket's min, max, mean and count.
#[derive(Serialize)]
struct Columns {
    stream: String,
    bucket_secs: i64,
    t: Vec<i64>,
    min: Vec<f64>,
    max: Vec<f64>,
    mean: Vec<f64>,
    count: Vec<i64>,
}

pub async fn chart_data(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    Query(q): Query<ChartQuery>,
) -> Response {
    match columns(&state, &session, &slug, &q).await {
        Ok(columns) => ([(header::CACHE_CONTROL, "no-store")], axum::Json(columns)).into_response(),
        // The API's refusal, as the API words it (the page shows it under the chart).
        Err(e) => e.into_response(),
    }
}

async fn columns(
    state: &AppState,
    session: &Session,
    slug: &str,
    q: &ChartQuery,
) -> Result<Columns, ApiError> {
    let caller = &session.caller;
    let device = device::load(state, caller, slug).await?;
    let micros = |secs: i64| {
        secs.checked_mul(1_000_000)
            .ok_or(ApiError::field("start", "Out of range."))
    };
    let range = micros(q.start)?..micros(q.end)?;
    let series = chart::series(state, caller, &q.stream, range, q.buckets).await?;
    let stream = streams::by_slug(&state.db.meta, &series.stream)
        .await?
        .filter(|s| s.device_id == Some(device.id))
        .ok_or(ApiError::NotFound)?;
    let display = data::display_of(state, &stream).await?;
    let n = series.buckets.len();
    let mut out = Columns {
        stream: series.stream,
        bucket_secs: series.bucket_seconds,
        t: Vec::with_capacity(n),
        min: Vec::with_capacity(n),
        max: Vec::with_capacity(n),
        mean: Vec::with_capacity(n),
        count: Vec::with_capacity(n),
    };
    for b in &series.buckets {
        // The output unit's conversion is linear; a negative factor swaps min and max.
        let (lo, hi) = (display.convert(b.min), display.convert(b.max));
        out.t.push(b.at.div_euclid(1_000_000));
        out.min.push(lo.min(hi));
        out.max.push(lo.max(hi));
        out.mean
            .push(display.convert(b.sum / b.count.max(1) as f64));
        out.count.push(b.count);
    }
    Ok(out)
}
