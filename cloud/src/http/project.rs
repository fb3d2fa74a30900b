//! `/api/v1/project/`: projects, looked up by UUID (spec 3.4). A project outside the caller's
//! orgs is 404; a detail id that is not a UUID is 400.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::json::{Json, Reply};
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::orgs;
use crate::store::projects::{self, NewProject, Project, Scope};
use crate::time::{format, now_micros};

/// The template a project gets when none is named.
pub const DEFAULT_TEMPLATE: &str = "default-template-v1-0-0";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/project", get(list).post(create))
        .route("/project/new", post(create_new))
        .route(
            "/project/{id}",
            get(retrieve).put(update).patch(update).delete(destroy),
        )
        .route("/project/{id}/extra", get(extra))
}

/// The project object.
#[derive(Serialize, ToSchema)]
#[schema(as = Project)]
pub struct ProjectView {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    /// `p--0000-0001`.
    pub slug: String,
    /// The slug without its `p--`.
    pub gid: String,
    /// The org's slug.
    pub org: String,
    pub about: String,
    pub project_template: Option<String>,
    #[schema(format = DateTime)]
    pub created_on: String,
    /// The creator's account slug.
    pub created_by: String,
}

pub fn view(p: &Project) -> ProjectView {
    let slug = p.slug().to_string();
    let gid = slug.trim_start_matches("p--").to_string();
    ProjectView {
        id: p.id.clone(),
        name: p.name.clone(),
        slug,
        gid,
        org: p.org_slug.clone(),
        about: p.about.clone(),
        project_template: p.project_template.clone(),
        created_on: format(p.created_on),
        created_by: p.created_by.clone(),
    }
}

/// The project with its counts.
#[derive(Serialize, ToSchema)]
pub struct ProjectExtra {
    #[serde(flatten)]
    pub project: ProjectView,
    /// `active_devices`, `inactive_devices`, `variables`, … by name.
    pub counts: BTreeMap<String, i64>,
}

/// `{"id": …}` of a new project.
#[derive(Serialize, ToSchema)]
pub struct NewProjectId {
    #[schema(format = Uuid)]
    pub id: String,
}

/// The orgs whose projects a caller sees in lists.
pub fn scope(caller: &Caller) -> Scope {
    if caller.staff_mode {
        Scope::All
    } else {
        Scope::Orgs(caller.org_ids())
    }
}

/// The project behind a URL id: 400 when the id is not a UUID, 404 when it is not visible.
pub async fn visible(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Project> {
    let id = uuid::Uuid::parse_str(id)
        .map_err(|_| ApiError::Plain("Project ID must be a UUID".into()))?
        .to_string();
    let project = projects::by_id(&state.db.meta, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if caller.sees_org(&project.org_id) {
        Ok(project)
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
    let filter = projects::Filter {
        org_slug: params.get("org").or(params.get("org__slug")),
        name: params.get("name"),
    };
    let (count, found) =
        projects::list(&state.db.meta, &scope(&caller), &filter, w.offset, w.size).await?;
    let results: Vec<ProjectView> = found.iter().map(view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Reply<ProjectView>> {
    Ok(Reply(view(&visible(&state, &caller, &id).await?)))
}

#[derive(Deserialize, ToSchema)]
#[schema(as = NewProject)]
pub struct NewBody {
    name: String,
    /// The org's slug.
    org: String,
    #[serde(default)]
    about: String,
    project_template: Option<String>,
}

/// Whether the caller may create projects in the org `org_id`.
pub(crate) fn may_create_in(caller: &Caller, org_id: &str) -> bool {
    caller.can(org_id, perm::MANAGE_ORG_AND_PROJECTS)
}

/// Validates and stores a new project (`name` in the org `org_slug`, with `about` and a
/// template, the default when `None` or blank) for a caller who may manage projects there.
pub(crate) async fn insert(
    state: &AppState,
    caller: &Caller,
    name: &str,
    org_slug: &str,
    about: &str,
    project_template: Option<&str>,
) -> ApiResult<Project> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::field("name", "This field may not be blank."));
    }
    let org = orgs::by_slug(&state.db.meta, org_slug)
        .await?
        .ok_or_else(|| {
            ApiError::field(
                "org",
                format!("Object with slug={org_slug} does not exist."),
            )
        })?;
    if !may_create_in(caller, &org.id) {
        return Err(ApiError::no_permission());
    }
    let template = project_template
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_TEMPLATE);
    let new = NewProject {
        name,
        org_id: &org.id,
        about,
        project_template: template,
        created_by: caller.user.id,
    };
    Ok(projects::create(&state.db.meta, &new, now_micros()).await?)
}

/// [`insert`] with a request body's fields.
async fn insert_body(state: &AppState, caller: &Caller, body: NewBody) -> ApiResult<Project> {
    let template = body.project_template.as_deref();
    insert(state, caller, &body.name, &body.org, &body.about, template).await
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewBody>,
) -> ApiResult<(StatusCode, Reply<ProjectView>)> {
    let project = insert_body(&state, &caller, body).await?;
    Ok((StatusCode::CREATED, Reply(view(&project))))
}

async fn create_new(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewBody>,
) -> ApiResult<(StatusCode, Reply<NewProjectId>)> {
    let project = insert_body(&state, &caller, body).await?;
    Ok((StatusCode::CREATED, Reply(NewProjectId { id: project.id })))
}

#[derive(Deserialize, ToSchema)]
pub struct ProjectUpdate {
    name: Option<String>,
    about: Option<String>,
    project_template: Option<String>,
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<ProjectUpdate>,
) -> ApiResult<Reply<ProjectView>> {
    let project = visible(&state, &caller, &id).await?;
    let changes = (body.name, body.about, body.project_template);
    let fresh = change(&state, &caller, &project, changes).await?;
    Ok(Reply(view(&fresh)))
}

/// Whether the caller may change the project.
pub(crate) fn may_change(caller: &Caller, project: &Project) -> ApiResult<()> {
    if caller.can(&project.org_id, perm::MANAGE_ORG_AND_PROJECTS) {
        Ok(())
    } else {
        Err(ApiError::no_permission())
    }
}

/// Changes a project's name, about and template (each kept when `None`) for a caller who
/// may manage projects in its org.
pub(crate) async fn change(
    state: &AppState,
    caller: &Caller,
    project: &Project,
    (name, about, template): (Option<String>, Option<String>, Option<String>),
) -> ApiResult<Project> {
    may_change(caller, project)?;
    let name = name.map_or(project.name.clone(), |n| n.trim().to_string());
    if name.is_empty() {
        return Err(ApiError::field("name", "This field may not be blank."));
    }
    let about = about.unwrap_or(project.about.clone());
    let template = template.or(project.project_template.clone());
    projects::update(
        &state.db.meta,
        &project.id,
        &name,
        &about,
        template.as_deref(),
    )
    .await?;
    projects::by_id(&state.db.meta, &project.id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Staff only (400 for others, as the original). A project that still holds devices is
/// refused: they must be unclaimed first so their data is not orphaned.
async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    remove(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the caller may delete projects at all (pages offer the action only then).
pub(crate) fn may_remove(caller: &Caller) -> bool {
    caller.is_staff()
}

/// Deletes the project with URL id `id`, by the rules `destroy` states.
pub(crate) async fn remove(state: &AppState, caller: &Caller, id: &str) -> ApiResult<()> {
    if !may_remove(caller) {
        return Err(ApiError::restricted(StatusCode::BAD_REQUEST));
    }
    let id = uuid::Uuid::parse_str(id)
        .map_err(|_| ApiError::Plain("Project ID must be a UUID".into()))?
        .to_string();
    let project = projects::by_id(&state.db.meta, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let claimed = projects::claimed_devices(&state.db.meta, &project.id).await?;
    if claimed > 0 {
        return Err(ApiError::error_body(
            StatusCode::BAD_REQUEST,
            format!("The project still has {claimed} claimed devices; unclaim them first"),
        ));
    }
    projects::delete(&state.db.meta, &project.id).await?;
    Ok(())
}

async fn extra(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Reply<ProjectExtra>> {
    let project = visible(&state, &caller, &id).await?;
    let counts = projects::counts(&state.db.meta, &project.id).await?;
    Ok(Reply(ProjectExtra {
        counts: counts
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect(),
        project: view(&project),
    }))
}
