//! `/api/v1/org/`: orgs, their members and their projects (spec 3.3). An org outside the
//! caller's memberships is 404, as if it did not exist.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::account::{avatar, Avatar};
use super::error::{ApiError, ApiResult};
use super::json::{Json, Reply};
use super::members;
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use super::project::{self, ProjectView};
use crate::auth::perms::{self, perm};
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::is_unique_violation;
use crate::store::orgs::{self, Membership, Org};
use crate::store::projects::{self, Scope};
use crate::store::users::{slugify, User};
use crate::time::{format, now_micros};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/org", get(list).post(create))
        .route(
            "/org/{slug}",
            get(retrieve).put(update).patch(update).delete(destroy),
        )
        .route("/org/{slug}/projects", get(org_projects))
        .route("/org/{slug}/extra", get(extra))
        .route("/org/{slug}/members", get(members))
        .route("/org/{slug}/membership", get(membership))
        .route("/org/{slug}/register", post(register))
}

/// The org object.
#[derive(Serialize, ToSchema)]
#[schema(as = Org)]
pub struct OrgView {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub ot: Option<String>,
    pub about: String,
    #[schema(format = DateTime)]
    pub created_on: String,
    /// The creator's account slug.
    pub created_by: String,
    /// Image links by size: `tiny`, `thumbnail`.
    pub avatar: Avatar,
    /// Always empty.
    pub domain_names: Vec<String>,
}

pub fn view(org: &Org) -> OrgView {
    OrgView {
        id: org.id.clone(),
        name: org.name.clone(),
        slug: org.slug.clone(),
        ot: org.ot.clone(),
        about: org.about.clone(),
        created_on: format(org.created_on),
        created_by: org.created_by.clone(),
        avatar: avatar(&org.slug, &["tiny", "thumbnail"]),
        domain_names: Vec::new(),
    }
}

/// The membership object.
#[derive(Serialize, ToSchema)]
#[schema(as = Membership)]
pub struct MembershipView {
    /// The member's account slug.
    pub user: String,
    pub user_details: MemberDetails,
    #[schema(format = DateTime)]
    pub created_on: String,
    pub is_active: bool,
    pub is_org_admin: bool,
    /// Each permission of the role, by name.
    pub permissions: BTreeMap<String, bool>,
    /// The role code: `a0` (owner), `a1`, `m1`, `r1`, `d1`.
    pub role: String,
    pub role_name: &'static str,
}

/// Who a member is.
#[derive(Serialize, ToSchema)]
pub struct MemberDetails {
    pub email: String,
    pub username: String,
    pub slug: String,
    pub name: String,
    pub tagline: String,
    pub avatar: Avatar,
}

pub fn membership_view(m: &Membership, user: &User) -> MembershipView {
    MembershipView {
        user: user.slug.clone(),
        user_details: MemberDetails {
            email: user.email.clone(),
            username: user.username.clone(),
            slug: user.slug.clone(),
            name: user.name.clone(),
            tagline: user.tagline.clone(),
            avatar: avatar(&user.email, &["tiny", "thumbnail"]),
        },
        created_on: format(m.created_on),
        is_active: m.is_active,
        is_org_admin: m.is_org_admin,
        permissions: m.permissions.clone(),
        role: m.role.clone(),
        role_name: perms::role_name(&m.role).unwrap_or(""),
    }
}

/// The org with its counts and the caller's membership.
#[derive(Serialize, ToSchema)]
pub struct OrgExtra {
    #[serde(flatten)]
    pub org: OrgView,
    /// `projects`, `members`, … by name.
    pub counts: BTreeMap<String, i64>,
    /// Null for staff who are not members.
    pub current_member: Option<MembershipView>,
}

/// The org a body's `org` field names; a 400 on that field when there is none. Callers
/// check what the caller may do in it.
pub async fn named_in_body(state: &AppState, slug: &str) -> ApiResult<Org> {
    orgs::by_slug(&state.db.meta, slug)
        .await?
        .ok_or_else(|| ApiError::field("org", format!("Object with slug={slug} does not exist.")))
}

/// An org the caller may see: a member's, or any for staff with `?staff=1`.
pub(crate) async fn visible(state: &AppState, caller: &Caller, slug: &str) -> ApiResult<Org> {
    let org = orgs::by_slug(&state.db.meta, slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    if caller.sees_org(&org.id) {
        Ok(org)
    } else {
        Err(ApiError::NotFound)
    }
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Standard)?;
    let (count, found) = orgs::list(
        &state.db.meta,
        caller.user.id,
        caller.staff_mode,
        params.get("search"),
        w.offset,
        w.size,
    )
    .await?;
    let results: Vec<OrgView> = found.iter().map(view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Reply<OrgView>> {
    Ok(Reply(view(&visible(&state, &caller, &slug).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct NewOrg {
    name: String,
    #[serde(default)]
    about: String,
}

const DUPLICATE_SLUG: &str = "Organization with this Name produces duplicate slug.";

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewOrg>,
) -> ApiResult<(StatusCode, Reply<OrgView>)> {
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::field("name", "This field may not be blank."));
    }
    let slug = slugify(name);
    if slug.is_empty() {
        return Err(ApiError::field(
            "name",
            "The name needs at least one letter or digit.",
        ));
    }
    let pool = &state.db.meta;
    if orgs::by_slug(pool, &slug).await?.is_some() {
        return Err(ApiError::Plain(DUPLICATE_SLUG.into()));
    }
    let id = match orgs::create(pool, name, &slug, &body.about, caller.user.id, now_micros()).await
    {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => return Err(ApiError::Plain(DUPLICATE_SLUG.into())),
        Err(e) => return Err(e.into()),
    };
    let org = orgs::by_id(pool, &id).await?.ok_or(ApiError::NotFound)?;
    Ok((StatusCode::CREATED, Reply(view(&org))))
}

#[derive(Deserialize, ToSchema)]
pub struct OrgUpdate {
    name: Option<String>,
    about: Option<String>,
}

/// Name and about can change; the slug stays what it was, so links keep working.
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<OrgUpdate>,
) -> ApiResult<Reply<OrgView>> {
    let org = visible(&state, &caller, &slug).await?;
    let fresh = change(&state, &caller, &org, body.name, body.about).await?;
    Ok(Reply(view(&fresh)))
}

/// Whether the caller may change the org's name and about.
pub(crate) fn may_change(caller: &Caller, org: &Org) -> ApiResult<()> {
    if caller.can(&org.id, perm::MANAGE_ORG_AND_PROJECTS) {
        Ok(())
    } else {
        Err(ApiError::no_permission())
    }
}

/// Changes an org's name and about (each kept when `None`) for a caller who may manage it.
pub(crate) async fn change(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    name: Option<String>,
    about: Option<String>,
) -> ApiResult<Org> {
    may_change(caller, org)?;
    let name = name.map_or(org.name.clone(), |n| n.trim().to_string());
    if name.is_empty() {
        return Err(ApiError::field("name", "This field may not be blank."));
    }
    let about = about.unwrap_or(org.about.clone());
    orgs::update(&state.db.meta, &org.id, &name, &about).await?;
    orgs::by_id(&state.db.meta, &org.id)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    if !caller.staff_mode {
        return Err(ApiError::restricted(StatusCode::FORBIDDEN));
    }
    let org = visible(&state, &caller, &slug).await?;
    let left = orgs::dependents(&state.db.meta, &org.id).await?;
    if left > 0 {
        return Err(ApiError::error_body(
            StatusCode::BAD_REQUEST,
            format!("The org still has {left} projects or devices; move or delete them first"),
        ));
    }
    orgs::delete(&state.db.meta, &org.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn org_projects(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let org = visible(&state, &caller, &slug).await?;
    let w = page.window(PageClass::Standard)?;
    let filter = projects::Filter {
        org_slug: Some(&org.slug),
        name: None,
    };
    let (count, found) =
        projects::list(&state.db.meta, &Scope::All, &filter, w.offset, w.size).await?;
    let results: Vec<ProjectView> = found.iter().map(project::view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

async fn extra(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Reply<OrgExtra>> {
    let org = visible(&state, &caller, &slug).await?;
    let counts = orgs::counts(&state.db.meta, &org.id).await?;
    Ok(Reply(OrgExtra {
        current_member: caller
            .membership(&org.id)
            .map(|m| membership_view(m, &caller.user)),
        counts: counts
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect(),
        org: view(&org),
    }))
}

async fn members(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    params: Params,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let org = visible(&state, &caller, &slug).await?;
    if !caller.can(&org.id, perm::MANAGE_USERS) {
        return Err(ApiError::no_permission());
    }
    let w = page.window(PageClass::Standard)?;
    let (count, found) = orgs::members(
        &state.db.meta,
        &org.id,
        params.flag("all"),
        w.offset,
        w.size,
    )
    .await?;
    let results: Vec<MembershipView> = found.iter().map(|(m, u)| membership_view(m, u)).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

async fn membership(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Reply<MembershipView>> {
    let org = visible(&state, &caller, &slug).await?;
    let m = caller.membership(&org.id).ok_or(ApiError::NotFound)?;
    Ok(Reply(membership_view(m, &caller.user)))
}

#[derive(Deserialize, ToSchema)]
pub struct Registration {
    /// The account's slug.
    user: String,
    /// `a1`, `m1`, `r1` or `d1`.
    role: String,
}

async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<Registration>,
) -> ApiResult<(StatusCode, Reply<MembershipView>)> {
    let org = visible(&state, &caller, &slug).await?;
    let who = members::Who::Slug(&body.user);
    let (m, user) = members::register(&state, &caller, &org, who, &body.role).await?;
    Ok((StatusCode::CREATED, Reply(membership_view(&m, &user))))
}
