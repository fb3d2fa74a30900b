//! The device list (search, filters, sorting) and claiming a device into a project. The list
//! is the API's device list (`device::scoped` decides what a caller sees); claiming runs the
//! API's claim.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Form;
use serde::Deserialize;

use super::forms::FieldErrors;
use super::listing::Listing;
use super::pages::{render, when, Page, PageResult};
use super::session::{clear_flash, redirect_with, Session};
use crate::auth::perms::perm;
use crate::http::{claim, device, project};
use crate::state::AppState;
use crate::store::devices;
use crate::store::projects::{self, Project};

/// A row of the list.
pub struct DeviceRow {
    pub slug: String,
    pub label: String,
    pub org: String,
    pub project: Option<(String, String)>,
    pub claimed_on: String,
    pub template: String,
}

#[derive(Template)]
#[template(path = "devices/list.html")]
struct ListPage {
    page: Page,
    list: Listing,
    rows: Vec<DeviceRow>,
    projects: Vec<Project>,
}

const SORTS: &[&str] = &["id", "label", "org", "claimed"];

pub async fn list(State(state): State<AppState>, session: Session, list: Listing) -> PageResult {
    let caller = &session.caller;
    let (column, descending) = list.sort(SORTS, ("id", false));
    let mut filter = devices::Filter {
        org_slug: list.filter("org").map(String::from),
        search: list.filter("q").map(String::from),
        claimed: match list.filter("claimed") {
            Some("yes") => Some(true),
            Some("no") => Some(false),
            _ => None,
        },
        order: devices::order(column, descending),
        ..device::scoped(caller)
    };
    if let Some(p) = list.filter("project") {
        filter.project_id = Some(p.to_string());
    }
    let pool = &state.db.meta;
    let (total, found) = devices::list(pool, &filter, list.offset(), list.limit()).await?;
    let visible = visible_projects(&state, &session).await?;
    let names: BTreeMap<&str, &str> = visible
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    let rows = found
        .into_iter()
        .map(|d| DeviceRow {
            project: d.project_id.as_deref().map(|id| {
                let name = names.get(id).copied().unwrap_or("(project)");
                (id.to_string(), name.to_string())
            }),
            slug: d.slug,
            label: d.label,
            org: d.org_slug.unwrap_or_default(),
            claimed_on: d.claimed_on.map(when).unwrap_or_default(),
            template: d.template.unwrap_or_default(),
        })
        .collect();
    let page = Page::load(&state, &session, "Devices", "devices").await?;
    let response = render(&ListPage {
        page,
        list: list.with_total(total),
        rows,
        projects: visible,
    })?;
    Ok(clear_flash(&session, response))
}

/// The projects the caller sees (the API's project scope), by name.
async fn visible_projects(
    state: &AppState,
    session: &Session,
) -> Result<Vec<Project>, sqlx::Error> {
    let filter = projects::Filter::default();
    let scope = project::scope(&session.caller);
    let (_, found) = projects::list(&state.db.meta, &scope, &filter, 0, 500).await?;
    Ok(found)
}

#[derive(Template)]
#[template(path = "devices/claim.html")]
struct ClaimPage {
    page: Page,
    device: String,
    project: String,
    projects: Vec<Project>,
    errors: FieldErrors,
}

/// The projects the caller may claim devices into.
async fn claim_targets(state: &AppState, session: &Session) -> Result<Vec<Project>, sqlx::Error> {
    Ok(visible_projects(state, session)
        .await?
        .into_iter()
        .filter(|p| session.caller.can(&p.org_id, perm::CLAIM_DEVICES))
        .collect())
}

pub async fn claim_form(
    State(state): State<AppState>,
    session: Session,
    list: Listing,
) -> PageResult {
    let projects = claim_targets(&state, &session).await?;
    let page = Page::load(&state, &session, "Claim a device", "devices").await?;
    render(&ClaimPage {
        page,
        device: list.value("device").to_string(),
        project: list.value("project").to_string(),
        projects,
        errors: FieldErrors::new(),
    })
}

#[derive(Deserialize)]
pub struct ClaimForm {
    #[serde(default)]
    device: String,
    #[serde(default)]
    project: String,
}

pub async fn claim(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<ClaimForm>,
) -> PageResult {
    let typed = form.device.trim().to_lowercase();
    let slug = if typed.starts_with("d--") {
        typed.clone()
    } else {
        format!("d--{typed}")
    };
    let mut errors = FieldErrors::new();
    if typed.is_empty() {
        errors.add(
            "device",
            "Enter the device's id, e.g. d--0000-0000-0000-0a0b or 0a0b.",
        );
    }
    if form.project.is_empty() {
        errors.add("project", "Choose a project.");
    }
    if errors.is_empty() {
        match claim::claim_device(&state, &session.caller, &slug, &form.project).await {
            Ok((device, project)) => {
                return Ok(redirect_with(
                    &format!("/device/{}", device.slug),
                    format!("{} was claimed into {}.", device.slug, project.name),
                ))
            }
            Err(crate::http::error::ApiError::NotFound) => errors.add(
                "device",
                "No device has this id. Check the label on the POD.",
            ),
            Err(e) => {
                let e = FieldErrors::from_api(e)?;
                errors.add("device", e.general(&[]).join(" "));
            }
        }
    }
    let projects = claim_targets(&state, &session).await?;
    let page = Page::load(&state, &session, "Claim a device", "devices").await?;
    let mut response = render(&ClaimPage {
        page,
        device: form.device,
        project: form.project,
        projects,
        errors,
    })?;
    *response.status_mut() = StatusCode::BAD_REQUEST;
    Ok(response)
}
