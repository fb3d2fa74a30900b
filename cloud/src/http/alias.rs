//! Stream aliases and taps (spec 3.22): `/api/v1/alias/` (lookup: `a--` slug) and
//! `/api/v1/tap/`. An alias is a virtual stream of an org; each tap points it at a physical
//! stream from the tap's time on, so `data/?filter=a--…` and `event/?filter=a--…` read one
//! series stitched from several streams (a meter swapped mid-year, a sensor moved).
//!
//! Lists show the aliases of the caller's orgs (every alias for staff with `?staff=1`);
//! everything else needs can_manage_stream_aliases in the alias's org, as in the original.
//! Reading the alias's data needs can_read_stream_data there.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sync_protocol::ids::{AliasSlug, StreamSlug};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::json::{Json, Reply};
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use super::target;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::aliases::{self, Alias, Slice, Tap};
use crate::store::{orgs, streams};
use crate::time::{self, now_micros};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/alias", get(list).post(create))
        .route(
            "/alias/{slug}",
            get(retrieve).patch(update).put(update).delete(remove),
        )
        .route("/tap", get(list_taps).post(create_tap))
        .route(
            "/tap/{id}",
            get(retrieve_tap)
                .patch(update_tap)
                .put(update_tap)
                .delete(remove_tap),
        )
}

/// A stream alias.
#[derive(Serialize, ToSchema)]
#[schema(as = StreamAlias)]
pub struct AliasView {
    pub id: i64,
    /// `a--0000-0000-0000-0001`.
    pub slug: String,
    /// The slug's number: `0000-0000-0000-0001`.
    pub gid: String,
    pub name: String,
    /// The org's slug.
    pub org: String,
    #[schema(format = DateTime)]
    pub created_on: String,
    /// Who created it (user slug).
    pub created_by: Option<String>,
}

fn alias_slug(id: i64) -> AliasSlug {
    AliasSlug::new(u64::try_from(id).unwrap_or_default())
}

fn view(a: &Alias) -> AliasView {
    let slug = alias_slug(a.id).to_string();
    AliasView {
        id: a.id,
        gid: slug.trim_start_matches("a--").to_string(),
        slug,
        name: a.name.clone(),
        org: a.org_slug.clone(),
        created_on: time::format(a.created_on),
        created_by: a.created_by.clone(),
    }
}

/// A tap: from `timestamp` on, the alias reads `stream`.
#[derive(Serialize, ToSchema)]
#[schema(as = StreamAliasTap)]
pub struct TapView {
    pub id: i64,
    /// The alias's slug.
    pub alias: String,
    #[schema(format = DateTime)]
    pub timestamp: String,
    /// The physical stream's slug.
    pub stream: String,
    #[schema(format = DateTime)]
    pub created_on: String,
    pub created_by: Option<String>,
}

fn tap_view(t: &Tap) -> TapView {
    TapView {
        id: t.id,
        alias: alias_slug(t.alias_id).to_string(),
        timestamp: time::format(t.timestamp),
        stream: t.stream_slug.clone(),
        created_on: time::format(t.created_on),
        created_by: t.created_by.clone(),
    }
}

/// An alias to create or change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AliasBody {
    pub name: Option<String>,
    /// The org's slug.
    pub org: Option<String>,
}

/// A tap to create or change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TapBody {
    /// The alias's slug.
    pub alias: Option<String>,
    #[schema(format = DateTime)]
    pub timestamp: Option<String>,
    /// A stream's slug.
    pub stream: Option<String>,
}

/// The alias a slug names, in any of its forms; `None` when there is none.
pub(crate) async fn by_slug(state: &AppState, raw: &str) -> ApiResult<Option<Alias>> {
    match raw.trim().parse::<AliasSlug>() {
        Ok(slug) => of(state, slug).await,
        Err(_) => Ok(None),
    }
}

async fn of(state: &AppState, slug: AliasSlug) -> ApiResult<Option<Alias>> {
    Ok(match i64::try_from(slug.get()) {
        Ok(id) => aliases::by_id(&state.db.meta, id).await?,
        Err(_) => None,
    })
}

/// The refusal of anything but reading to those without can_manage_stream_aliases.
fn may_not_manage() -> ApiError {
    ApiError::Forbidden("Access Denied due to lack of sufficient permissions".into())
}

/// The alias a slug names, when `caller` may manage it: 404 unknown, 403 not allowed.
async fn managed(state: &AppState, caller: &Caller, raw: &str) -> ApiResult<Alias> {
    let alias = by_slug(state, raw).await?.ok_or(ApiError::NotFound)?;
    if !caller.can(&alias.org_id, perm::MANAGE_STREAM_ALIASES) {
        return Err(may_not_manage());
    }
    Ok(alias)
}

/// The org a slug names, when `caller` may manage aliases in it.
async fn managed_org(state: &AppState, caller: &Caller, slug: &str) -> ApiResult<orgs::Org> {
    let org = orgs::by_slug(&state.db.meta, slug.trim())
        .await?
        .ok_or_else(|| {
            ApiError::field("org", format!("Object with slug={slug} does not exist."))
        })?;
    if !caller.can(&org.id, perm::MANAGE_STREAM_ALIASES) {
        return Err(may_not_manage());
    }
    Ok(org)
}

/// The time line an `a--` filter reads, for a caller who may read the alias's org's data:
/// 404 unknown, 403 not allowed.
pub async fn slices_for(
    state: &AppState,
    caller: &Caller,
    slug: AliasSlug,
) -> ApiResult<Vec<Slice>> {
    let alias = of(state, slug).await?.ok_or(ApiError::NotFound)?;
    if !target::allowed_in(caller, Some(&alias.org_id), None, perm::READ_STREAM_DATA) {
        return Err(ApiError::no_permission());
    }
    Ok(aliases::slices(&state.db.meta, alias.id).await?)
}

fn visible_orgs(caller: &Caller) -> Option<Vec<String>> {
    (!caller.staff_mode).then(|| caller.org_ids())
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Standard)?;
    let orgs = visible_orgs(&caller);
    let (count, found) = aliases::list(
        &state.db.meta,
        orgs.as_deref(),
        params.get("org"),
        (w.offset, w.size),
    )
    .await?;
    let results: Vec<AliasView> = found.iter().map(view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Reply<AliasView>> {
    Ok(Reply(view(&managed(&state, &caller, &slug).await?)))
}

fn name_of(name: Option<String>) -> ApiResult<String> {
    let name = name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::field("name", "This field is required."))?;
    if name.chars().count() > 100 {
        return Err(ApiError::field(
            "name",
            "Ensure this field has no more than 100 characters.",
        ));
    }
    Ok(name)
}

pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<AliasBody>,
) -> ApiResult<(StatusCode, Reply<AliasView>)> {
    let name = name_of(body.name)?;
    let org = body
        .org
        .ok_or_else(|| ApiError::field("org", "This field is required."))?;
    let org = managed_org(&state, &caller, &org).await?;
    let id = aliases::create(&state.db.meta, &name, &org.id, caller.user.id, now_micros()).await?;
    let alias = aliases::by_id(&state.db.meta, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((StatusCode::CREATED, Reply(view(&alias))))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<AliasBody>,
) -> ApiResult<Reply<AliasView>> {
    let alias = managed(&state, &caller, &slug).await?;
    let name = match body.name {
        Some(n) => name_of(Some(n))?,
        None => alias.name.clone(),
    };
    let org_id = match body.org {
        Some(org) => managed_org(&state, &caller, &org).await?.id,
        None => alias.org_id.clone(),
    };
    aliases::update(&state.db.meta, alias.id, &name, &org_id).await?;
    let alias = aliases::by_id(&state.db.meta, alias.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply(view(&alias)))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    let alias = managed(&state, &caller, &slug).await?;
    aliases::delete(&state.db.meta, alias.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_taps(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Standard)?;
    let orgs = visible_orgs(&caller);
    let alias = match params.get("target") {
        Some(raw) => {
            let alias = by_slug(&state, raw)
                .await?
                .filter(|a| orgs.as_ref().is_none_or(|ids| ids.contains(&a.org_id)))
                .ok_or(ApiError::NotFound)?;
            Some(alias.id)
        }
        None => None,
    };
    let (count, found) =
        aliases::taps(&state.db.meta, alias, orgs.as_deref(), (w.offset, w.size)).await?;
    let results: Vec<TapView> = found.iter().map(tap_view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

/// The tap with `id`, when `caller` may manage its alias.
async fn managed_tap(state: &AppState, caller: &Caller, id: &str) -> ApiResult<(Tap, Alias)> {
    let id = id.trim().parse::<i64>().map_err(|_| ApiError::NotFound)?;
    let tap = aliases::tap(&state.db.meta, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let alias = managed(state, caller, &alias_slug(tap.alias_id).to_string()).await?;
    Ok((tap, alias))
}

/// A tap's stream: it must exist and, when it has an org, be the alias's org's.
async fn tap_stream(state: &AppState, alias: &Alias, raw: &str) -> ApiResult<String> {
    let slug = raw
        .trim()
        .parse::<StreamSlug>()
        .map_err(|_| ApiError::field("stream", "Not a valid stream slug."))?
        .to_string();
    let stream = streams::by_slug(&state.db.meta, &slug)
        .await?
        .ok_or_else(|| {
            ApiError::field("stream", format!("Object with slug={slug} does not exist."))
        })?;
    if stream
        .org_id
        .as_ref()
        .is_some_and(|org| *org != alias.org_id)
    {
        return Err(ApiError::Plain("Stream is not in the Org of Alias".into()));
    }
    Ok(stream.slug)
}

fn tap_time(raw: &str) -> ApiResult<i64> {
    time::parse(raw, false).ok_or_else(|| ApiError::field("timestamp", "Enter a valid date/time."))
}

pub(crate) async fn create_tap(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<TapBody>,
) -> ApiResult<(StatusCode, Reply<TapView>)> {
    let required = |v: Option<String>, field: &str| {
        v.ok_or_else(|| ApiError::field(field, "This field is required."))
    };
    let (alias, timestamp, stream) = (
        required(body.alias, "alias")?,
        required(body.timestamp, "timestamp")?,
        required(body.stream, "stream")?,
    );
    let timestamp = tap_time(&timestamp)?;
    let alias = managed(&state, &caller, &alias).await?;
    let stream = tap_stream(&state, &alias, &stream).await?;
    let pool = &state.db.meta;
    let id = aliases::create_tap(
        pool,
        alias.id,
        timestamp,
        &stream,
        caller.user.id,
        now_micros(),
    )
    .await?;
    let tap = aliases::tap(pool, id).await?.ok_or(ApiError::NotFound)?;
    Ok((StatusCode::CREATED, Reply(tap_view(&tap))))
}

async fn retrieve_tap(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Reply<TapView>> {
    Ok(Reply(tap_view(&managed_tap(&state, &caller, &id).await?.0)))
}

async fn update_tap(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<TapBody>,
) -> ApiResult<Reply<TapView>> {
    let (tap, mut alias) = managed_tap(&state, &caller, &id).await?;
    if let Some(raw) = &body.alias {
        alias = managed(&state, &caller, raw).await?;
    }
    let timestamp = match &body.timestamp {
        Some(raw) => tap_time(raw)?,
        None => tap.timestamp,
    };
    let stream = tap_stream(
        &state,
        &alias,
        body.stream.as_deref().unwrap_or(&tap.stream_slug),
    )
    .await?;
    let pool = &state.db.meta;
    aliases::update_tap(pool, tap.id, alias.id, timestamp, &stream).await?;
    let tap = aliases::tap(pool, tap.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply(tap_view(&tap)))
}

async fn remove_tap(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let (tap, _) = managed_tap(&state, &caller, &id).await?;
    aliases::delete_tap(&state.db.meta, tap.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
