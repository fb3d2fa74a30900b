//! `GET /api/v1/stream/{slug}/chart/?start=<iso>&end=<iso>&buckets=N`: a stream's data over
//! `[start, end)` summarized in at most `N` time buckets (10 to 4000, default 1000), read from
//! the rollup tiers (see [`crate::charts`]), so a year draws as fast as a day. Access is the
//! rule of `/data/?filter=<stream>`: can_read_stream_data on the stream's org, a device token
//! only for its own device; 404 for an unknown stream.
//!
//! Values are the rows' `value`, as `/data/` shows them (for integer readings, the stream's
//! m/d/o applied when stored); rows without a value are left out. The answer:
//!
//! ```json
//! {"stream": "s--0000-0077--0000-0000-0000-00d2--5001",
//!  "start": "2024-01-01T00:00:00Z", "end": "2025-01-01T00:00:00Z",
//!  "bucket_seconds": 43200, "tier_seconds": 14400,
//!  "buckets": [{"t": "2024-01-01T00:00:00Z", "count": 4320, "min": 0.5, "max": 9.0,
//!               "mean": 4.1, "first": {"t": "2024-01-01T00:00:00Z", "value": 3.0},
//!               "last": {"t": "2024-01-01T11:59:50Z", "value": 4.0}}]}
//! ```
//!
//! `t` is a bucket's start on a grid of `bucket_seconds` aligned to the Unix epoch; the first
//! and last buckets count only readings inside `[start, end)`. Only non-empty buckets are
//! listed, in time order. `tier_seconds` is the rollup tier read (`null`: raw rows). `start`
//! and `end` take the forms of the data API, or a bare date; a missing or bad value, `end`
//! not after `start`, or `buckets` out of range give 400 with field errors.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use sync_protocol::ids::Slug;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::params::Params;
use super::target;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::charts::{self, ChartError, Source, Summary, BUCKETS};
use crate::state::AppState;
use crate::store::rollups;
use crate::time;

/// Buckets when the request names no count.
pub const DEFAULT_BUCKETS: u32 = 1000;

pub fn routes() -> Router<AppState> {
    Router::new().route("/stream/{slug}/chart", get(chart))
}

/// A stream's chart: `buckets` are [`Summary`]s whose `at` is the bucket's start.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSeries {
    /// The stream's canonical slug.
    pub stream: String,
    /// The range asked for, microseconds since the epoch.
    pub start: i64,
    pub end: i64,
    pub bucket_seconds: i64,
    /// The rollup tier the range's middle was read from; `None`: raw rows.
    pub tier_seconds: Option<i64>,
    pub buckets: Vec<Summary>,
}

/// The chart of `stream_slug` over `range` (microseconds since the epoch, end excluded) in at
/// most `buckets` buckets ([`BUCKETS`]), for `caller`: 404 for an unknown stream, 403 without
/// can_read_stream_data on it, 400 for a bad range or bucket count.
pub async fn series(
    state: &AppState,
    caller: &Caller,
    stream_slug: &str,
    range: std::ops::Range<i64>,
    buckets: u32,
) -> Result<ChartSeries, ApiError> {
    let slug = match target::parse(stream_slug) {
        Some(slug @ Slug::Stream(_)) => slug,
        _ => return Err(ApiError::NotFound),
    };
    let stream = target::require(state, caller, slug, perm::READ_STREAM_DATA)
        .await?
        .canonical;
    let plan = charts::plan(range.start, range.end, buckets).map_err(refusal)?;
    let (bucket_seconds, tier_seconds) = (
        plan.width / 1_000_000,
        match plan.source {
            Source::Raw => None,
            Source::Tier(t) => Some(t),
        },
    );
    let chart = rollups::chart(&state.db, &stream, plan).await?;
    Ok(ChartSeries {
        stream,
        start: range.start,
        end: range.end,
        bucket_seconds,
        tier_seconds,
        buckets: chart.buckets(),
    })
}

fn refusal(err: ChartError) -> ApiError {
    let field = match err {
        ChartError::Buckets => "buckets",
        ChartError::StartOutOfRange => "start",
        ChartError::EmptyRange | ChartError::EndOutOfRange => "end",
    };
    ApiError::field(field, err.to_string())
}

fn required_time(params: &Params, key: &str) -> ApiResult<i64> {
    params
        .time(key, true)?
        .ok_or_else(|| ApiError::field(key, "This field is required."))
}

fn bucket_count(params: &Params) -> ApiResult<u32> {
    let Some(raw) = params.get("buckets") else {
        return Ok(DEFAULT_BUCKETS);
    };
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| BUCKETS.contains(n))
        .ok_or_else(|| refusal(ChartError::Buckets))
}

/// A stream's data over a range, summarized in time buckets.
#[derive(Serialize, ToSchema)]
#[schema(as = Chart)]
pub struct Answer {
    /// The stream's canonical slug.
    stream: String,
    /// The range asked for: from `start`, up to `end` excluded.
    #[schema(format = DateTime)]
    start: String,
    #[schema(format = DateTime)]
    end: String,
    /// The width of a bucket, on a grid aligned to the Unix epoch.
    bucket_seconds: i64,
    /// The rollup tier read; null: the raw rows.
    tier_seconds: Option<i64>,
    /// The non-empty buckets, in time order.
    buckets: Vec<BucketView>,
}

/// The readings of one time bucket (only those inside the range asked for).
#[derive(Serialize, ToSchema)]
#[schema(as = ChartBucket)]
pub struct BucketView {
    /// The bucket's start.
    #[schema(format = DateTime)]
    t: String,
    /// How many readings the bucket holds.
    count: i64,
    min: f64,
    max: f64,
    mean: f64,
    /// The earliest reading.
    first: Point,
    /// The latest reading.
    last: Point,
}

/// One reading: its time and value.
#[derive(Serialize, ToSchema)]
#[schema(as = ChartPoint)]
pub struct Point {
    #[schema(format = DateTime)]
    t: String,
    value: f64,
}

impl Point {
    fn of((t, value): (i64, f64)) -> Point {
        Point {
            t: time::format_seconds(t),
            value,
        }
    }
}

async fn chart(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    params: Params,
) -> ApiResult<axum::Json<Answer>> {
    let start = required_time(&params, "start")?;
    let end = required_time(&params, "end")?;
    let buckets = bucket_count(&params)?;
    let s = series(&state, &caller, &slug, start..end, buckets).await?;
    Ok(axum::Json(Answer {
        start: time::format(s.start),
        end: time::format(s.end),
        bucket_seconds: s.bucket_seconds,
        tier_seconds: s.tier_seconds,
        buckets: s
            .buckets
            .iter()
            .map(|b| BucketView {
                t: time::format_seconds(b.at),
                count: b.count,
                min: b.min,
                max: b.max,
                mean: b.mean(),
                first: Point::of(b.first),
                last: Point::of(b.last),
            })
            .collect(),
        stream: s.stream,
    }))
}
