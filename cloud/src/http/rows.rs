//! What the `/data/` and `/event/` endpoints share: their query filters, the `?filter=`
//! scope, and the checks on a posted row's stream and timestamp.

use sync_protocol::ids::{Slug, StreamSlug};

use super::alias;
use super::error::{ApiError, ApiResult};
use super::params::Params;
use super::stream::variable_pattern;
use super::target::{self, Target};
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::data::{RowQuery, Scope};
use crate::time;

fn int_param(params: &Params, key: &str) -> ApiResult<Option<i64>> {
    params
        .get(key)
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| ApiError::field(key, "Enter a number."))
        })
        .transpose()
}

/// The `/data/` and `/event/` filters; bad values give 400.
pub fn row_query(params: &Params) -> ApiResult<RowQuery> {
    // A bad `lastn` is reported before bad times.
    let lastn = params.lastn()?;
    Ok(RowQuery {
        start: params.time("start", false)?,
        end: params.time("end", false)?,
        streamer_min: int_param(params, "streamer_id_0")?.or(int_param(params, "streamer_id_min")?),
        streamer_max: int_param(params, "streamer_id_1")?.or(int_param(params, "streamer_id_max")?),
        id_min: int_param(params, "id_0")?,
        id_max: int_param(params, "id_1")?,
        lastn,
    })
}

/// The rows a `?filter=` names, with `can_read_stream_data` checked on the object's org.
/// `None`: the list is empty (no filter, a project, or a kind that has no rows here).
pub async fn filter_scope(
    state: &AppState,
    caller: &Caller,
    params: &Params,
) -> ApiResult<Option<Scope>> {
    match params.get("filter") {
        Some(raw) => scope_of(state, caller, raw).await,
        None => Ok(None),
    }
}

/// The rows a `filter` slug names (a stream, a device or block, a variable's streams, an
/// alias's slices of streams) for a caller who may read its data; `None` for slugs that
/// name no rows.
pub async fn scope_of(state: &AppState, caller: &Caller, raw: &str) -> ApiResult<Option<Scope>> {
    let Some(slug) = target::parse(raw) else {
        return Err(ApiError::NotFound);
    };
    let scope = match slug {
        Slug::Stream(s) => Scope::Stream(s.to_string()),
        Slug::Device(d) => Scope::Device(d.to_string()),
        Slug::Block(b) => Scope::Device(b.to_string()),
        Slug::Variable(v) => Scope::StreamPattern(variable_pattern(v)),
        Slug::Alias(a) => {
            return Ok(Some(Scope::Slices(
                alias::slices_for(state, caller, a).await?,
            )))
        }
        _ => return Ok(None),
    };
    target::require(state, caller, slug, perm::READ_STREAM_DATA).await?;
    Ok(Some(scope))
}

/// A posted row's stream slug and timestamp, parsed, with `can_create_stream_data`
/// checked on the stream.
pub async fn posted_to(
    state: &AppState,
    caller: &Caller,
    stream: &str,
    timestamp: &str,
) -> ApiResult<(StreamSlug, i64, Target)> {
    let slug = stream
        .trim()
        .parse::<StreamSlug>()
        .map_err(|_| ApiError::field("stream", "Not a valid stream slug."))?;
    let timestamp = time::parse(timestamp, false)
        .ok_or_else(|| ApiError::field("timestamp", "Enter a valid date/time."))?;
    let target =
        target::require(state, caller, Slug::Stream(slug), perm::CREATE_STREAM_DATA).await?;
    Ok((slug, timestamp, target))
}
