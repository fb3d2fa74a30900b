//! Projects: the list across the caller's orgs (as the API scopes it), creating one in an
//! org where the caller may manage projects, a project's page with its counts and
//! variables, editing its name and about, and deleting it (staff, as the API allows).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::Form;
use serde::Deserialize;

use super::{day, minute, refused, Choice};
use crate::http::{project, variable};
use crate::state::AppState;
use crate::store::orgs;
use crate::store::projects::{self, Project, ProjectSort, Search};
use crate::store::variables::{self, VariableSort};
use crate::web::forms::FieldErrors;
use crate::web::listing::Listing;
use crate::web::pages::{confirm, render, Page, PageResult, WebError};
use crate::web::session::{clear_flash, redirect_with, Session};

/// The orgs the caller sees, as choices (staff see every org, as on the API with `?staff=1`).
async fn visible_orgs(state: &AppState, session: &Session) -> Result<Vec<orgs::Org>, WebError> {
    let caller = &session.caller;
    let (_, found) = orgs::list(
        &state.db.meta,
        caller.user.id,
        caller.staff_mode,
        None,
        0,
        500,
    )
    .await?;
    Ok(found)
}

pub struct ProjectRow {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub org_slug: String,
    pub org_name: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "manage/projects.html")]
struct ListPage {
    page: Page,
    rows: Vec<ProjectRow>,
    list: Listing,
    orgs: Vec<Choice>,
    org: String,
    q: String,
    can_create: bool,
    /// The filter form never has errors; its fields share the forms' macros.
    filter_errors: FieldErrors,
}

pub async fn list(State(state): State<AppState>, session: Session, list: Listing) -> PageResult {
    let caller = &session.caller;
    let (column, descending) = list.sort(&["name", "created", "org"], ("org", false));
    let sort = match column {
        "name" => ProjectSort::Name,
        "created" => ProjectSort::Created,
        _ => ProjectSort::Org,
    };
    let search = Search {
        org_slug: list.filter("org"),
        name_contains: list.filter("q"),
        sort,
        descending,
    };
    let scope = project::scope(caller);
    let (total, found) =
        projects::search(&state.db.meta, &scope, &search, list.offset(), list.limit()).await?;
    let orgs = visible_orgs(&state, &session).await?;
    let names: HashMap<&str, &str> = orgs
        .iter()
        .map(|o| (o.id.as_str(), o.name.as_str()))
        .collect();
    let rows = found
        .into_iter()
        .map(|p| ProjectRow {
            org_name: names.get(p.org_id.as_str()).unwrap_or(&"").to_string(),
            slug: p.slug().to_string(),
            created: day(p.created_on),
            id: p.id,
            name: p.name,
            org_slug: p.org_slug,
        })
        .collect();
    let can_create = orgs.iter().any(|o| project::may_create_in(caller, &o.id));
    let mut choices = vec![Choice::new("", "All orgs")];
    choices.extend(orgs.iter().map(|o| Choice::new(&o.slug, &o.name)));
    let page = Page::load(&state, &session, "Projects", "projects").await?;
    let response = render(&ListPage {
        page,
        rows,
        org: list.value("org").to_string(),
        q: list.value("q").to_string(),
        list: list.with_total(total),
        orgs: choices,
        can_create,
        filter_errors: FieldErrors::new(),
    })?;
    Ok(clear_flash(&session, response))
}

#[derive(Template)]
#[template(path = "manage/project_new.html")]
struct NewPage {
    page: Page,
    orgs: Vec<Choice>,
    form: NewProject,
    errors: FieldErrors,
}

#[derive(Deserialize, Default)]
pub struct NewProject {
    #[serde(default)]
    name: String,
    #[serde(default)]
    org: String,
    #[serde(default)]
    about: String,
}

/// The orgs where the caller may create projects.
async fn creatable(state: &AppState, session: &Session) -> Result<Vec<Choice>, WebError> {
    Ok(visible_orgs(state, session)
        .await?
        .into_iter()
        .filter(|o| project::may_create_in(&session.caller, &o.id))
        .map(|o| Choice::new(o.slug, o.name))
        .collect())
}

async fn new_page(
    state: &AppState,
    session: &Session,
    form: NewProject,
    errors: FieldErrors,
) -> PageResult {
    let orgs = creatable(state, session).await?;
    let page = Page::load(state, session, "New project", "projects").await?;
    render(&NewPage {
        page,
        orgs,
        form,
        errors,
    })
}

#[derive(Deserialize)]
pub struct NewQuery {
    org: Option<String>,
}

pub async fn new_form(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<NewQuery>,
) -> PageResult {
    let form = NewProject {
        org: query.org.unwrap_or_default(),
        ..NewProject::default()
    };
    new_page(&state, &session, form, FieldErrors::new()).await
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<NewProject>,
) -> PageResult {
    let created = project::insert(
        &state,
        &session.caller,
        &form.name,
        &form.org,
        &form.about,
        None,
    )
    .await;
    match created {
        Ok(p) => Ok(redirect_with(
            &format!("/project/{}", p.id),
            "Project created.",
        )),
        Err(e) => {
            let errors = FieldErrors::from_api(e)?;
            Ok(refused(new_page(&state, &session, form, errors).await?))
        }
    }
}

pub struct VariableRow {
    pub slug: String,
    pub name: String,
    pub lid: String,
    pub var_type: String,
    pub units: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "manage/project.html")]
struct ProjectPage {
    page: Page,
    project: Project,
    slug: String,
    org_name: String,
    created: String,
    active_devices: i64,
    inactive_devices: i64,
    streams: i64,
    variable_count: i64,
    can_edit: bool,
    can_delete: bool,
    can_add_variables: bool,
    variables: Vec<VariableRow>,
    list: Listing,
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    list: Listing,
) -> PageResult {
    let caller = &session.caller;
    let project = project::visible(&state, caller, &id).await?;
    let pool = &state.db.meta;
    let counts = projects::counts(pool, &project.id).await?;
    let count = |k: &str| counts.get(k).copied().unwrap_or(0);
    let (column, descending) = list.sort(&["slug", "name", "created"], ("slug", false));
    let sort = match column {
        "name" => VariableSort::Name,
        "created" => VariableSort::Created,
        _ => VariableSort::Slug,
    };
    let filter = variables::Filter {
        project_id: Some(&project.id),
        ..Default::default()
    };
    let scope = variable::scope(caller);
    let (total, found) = variables::list_ordered(
        pool,
        &scope,
        &filter,
        (sort, descending),
        list.offset(),
        list.limit(),
    )
    .await?;
    let variables = found
        .into_iter()
        .map(|v| VariableRow {
            lid: format!("{:04x}", v.lid),
            var_type: v.var_type.unwrap_or_default(),
            created: day(v.created_on),
            slug: v.slug,
            name: v.name,
            units: v.units,
        })
        .collect();
    let org_name = orgs::by_id(pool, &project.org_id)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    let page = Page::load(&state, &session, project.name.clone(), "projects")
        .await?
        .in_org(&project.org_slug);
    let response = render(&ProjectPage {
        page,
        slug: project.slug().to_string(),
        org_name,
        created: minute(project.created_on),
        active_devices: count("active_devices"),
        inactive_devices: count("inactive_devices"),
        streams: count("streams"),
        variable_count: count("variables"),
        can_edit: project::may_change(caller, &project).is_ok(),
        can_delete: project::may_remove(caller),
        can_add_variables: variable::may_modify(caller, &project.org_id).is_ok(),
        variables,
        list: list.with_total(total),
        project,
    })?;
    Ok(clear_flash(&session, response))
}

#[derive(Template)]
#[template(path = "manage/project_edit.html")]
struct EditPage {
    page: Page,
    project: Project,
    form: ProjectEdit,
    errors: FieldErrors,
}

async fn edit_page(
    state: &AppState,
    session: &Session,
    project: Project,
    form: ProjectEdit,
    errors: FieldErrors,
) -> PageResult {
    let page = Page::load(state, session, format!("Edit {}", project.name), "projects")
        .await?
        .in_org(&project.org_slug);
    render(&EditPage {
        page,
        project,
        form,
        errors,
    })
}

pub async fn edit_form(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> PageResult {
    let project = project::visible(&state, &session.caller, &id).await?;
    project::may_change(&session.caller, &project)?;
    let form = ProjectEdit {
        name: project.name.clone(),
        about: project.about.clone(),
    };
    edit_page(&state, &session, project, form, FieldErrors::new()).await
}

#[derive(Deserialize)]
pub struct ProjectEdit {
    #[serde(default)]
    name: String,
    #[serde(default)]
    about: String,
}

pub async fn edit(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<ProjectEdit>,
) -> PageResult {
    let project = project::visible(&state, &session.caller, &id).await?;
    let changes = (Some(form.name.clone()), Some(form.about.clone()), None);
    match project::change(&state, &session.caller, &project, changes).await {
        Ok(fresh) => Ok(redirect_with(
            &format!("/project/{}", fresh.id),
            "The project was saved.",
        )),
        Err(e) => {
            let errors = FieldErrors::from_api(e)?;
            let page = edit_page(&state, &session, project, form, errors);
            Ok(refused(page.await?))
        }
    }
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> PageResult {
    let project = project::visible(&state, &session.caller, &id).await?;
    if !project::may_remove(&session.caller) {
        return Err(WebError::Forbidden(
            "Only staff can delete projects.".into(),
        ));
    }
    let counts = projects::counts(&state.db.meta, &project.id).await?;
    let count = |k: &str| counts.get(k).copied().unwrap_or(0);
    let devices = count("active_devices") + count("inactive_devices");
    let question = format!("Delete the project {}?", project.name);
    let mut details = vec![format!(
        "Its {} and {} are deleted with it. This cannot be undone.",
        plural(count("variables"), "variable"),
        plural(count("streams"), "stream")
    )];
    if devices > 0 {
        details.push(format!(
            "It still has {}: unclaim them first, or the deletion is refused.",
            plural(devices, "claimed device")
        ));
    }
    let action = format!("/project/{}/delete", project.id);
    let back = format!("/project/{}", project.id);
    let page = Page::load(&state, &session, question.clone(), "projects")
        .await?
        .in_org(&project.org_slug);
    confirm(page, &question, &details, &action, "Delete project", &back)
}

pub async fn delete(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> PageResult {
    let project = project::visible(&state, &session.caller, &id).await?;
    project::remove(&state, &session.caller, &project.id).await?;
    Ok(redirect_with(
        "/projects",
        format!("The project {} was deleted.", project.name),
    ))
}

/// `1 variable`, `2 variables`.
fn plural(n: i64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
