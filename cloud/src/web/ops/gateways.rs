//! `/org/{slug}/gateways`: an org's site gateways (key id, last sync, what each still holds
//! for the cloud, state) and revoking one through a confirm page; `/org/{slug}/gateways/codes`: the one-time registration codes,
//! making one (shown once, in the answer to the form, then only its expiry and use).
//!
//! The rules are the API's (`http::gateway`): the org must be one the caller sees
//! (`visible_org`, else the 404 page), and making codes and revoking need
//! `can_manage_org_and_projects` (`may_manage`, `make_code`, `revocable`, `revoke_gateway`).
//! The API lists no codes, so only those who may make them see them.
//!
//! What a gateway holds is what its latest sync batch told (`backlog`); gateways whose
//! version does not tell it say so.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::backlog::{waiting, Waiting};
use super::stamp::Stamp;
use crate::http::gateway::{make_code, may_manage, revocable, revoke_gateway, visible_org};
use crate::state::AppState;
use crate::store::gateways::{self, Code, Gateway};
use crate::store::orgs::Org;
use crate::time::now_micros;
use crate::web::forms::FieldErrors;
use crate::web::listing::{sort_rows, Listing};
use crate::web::pages::{confirm, render, Page, PageResult, WebError};
use crate::web::session::{clear_flash, redirect_with, Session};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/org/{slug}/gateways", get(list))
        .route("/org/{slug}/gateways/codes", get(codes).post(create_code))
        .route(
            "/org/{slug}/gateways/{key}/revoke",
            get(revoke_form).post(revoke),
        )
}

pub struct Row {
    pub name: String,
    pub key_id: String,
    pub registered: Stamp,
    pub last_seen: Option<Stamp>,
    pub waiting: Waiting,
    pub revoked: Option<Stamp>,
}

fn row(g: &Gateway, now: i64) -> Row {
    Row {
        name: g.name.clone(),
        key_id: g.key_id.clone(),
        registered: Stamp::of(g.created_on),
        last_seen: Stamp::of_opt(g.last_seen),
        waiting: waiting(g, now),
        revoked: Stamp::of_opt(g.revoked_on),
    }
}

#[derive(Template)]
#[template(path = "ops/gateways.html")]
struct ListPage {
    page: Page,
    org: Org,
    list: Listing,
    rows: Vec<Row>,
    manage: bool,
}

const SORTS: &[&str] = &["name", "registered", "synced", "waiting"];

async fn list(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    listing: Listing,
) -> PageResult {
    let org = visible_org(&state, &session.caller, &slug).await?;
    let mut found = gateways::of_orgs(&state.db.meta, std::slice::from_ref(&org.id)).await?;
    let (column, desc) = listing.sort(SORTS, ("registered", false));
    match column {
        "name" => sort_rows(&mut found, desc, |g| g.name.to_lowercase()),
        "synced" => sort_rows(&mut found, desc, |g| g.last_seen),
        "waiting" => sort_rows(&mut found, desc, |g| {
            g.backlog.map(|b| (b.reports, b.bytes))
        }),
        _ => sort_rows(&mut found, desc, |g| (g.created_on, g.id)),
    }
    let total = i64::try_from(found.len()).unwrap_or(i64::MAX);
    let now = now_micros();
    let rows = found
        .iter()
        .skip(usize::try_from(listing.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(listing.limit()).unwrap_or(0))
        .map(|g| row(g, now))
        .collect();
    let page = Page::load(
        &state,
        &session,
        format!("Gateways of {}", org.name),
        "gateways",
    )
    .await?
    .in_org(&org.slug);
    let response = render(&ListPage {
        page,
        manage: may_manage(&session.caller, &org.id),
        org,
        list: listing.with_total(total),
        rows,
    })?;
    Ok(clear_flash(&session, response))
}

pub struct CodeRow {
    pub created: Stamp,
    pub created_by: String,
    pub expires: Stamp,
    pub used: Option<Stamp>,
    pub expired: bool,
}

fn code_row(c: Code, now: i64) -> CodeRow {
    CodeRow {
        created: Stamp::of(c.created_on),
        created_by: c.created_by.unwrap_or_default(),
        expires: Stamp::of(c.expires_on),
        used: Stamp::of_opt(c.used_on),
        expired: c.used_on.is_none() && c.expires_on <= now,
    }
}

/// A code just made, shown in the answer to the form and never again.
pub struct Fresh {
    pub code: String,
    pub expires: Stamp,
}

#[derive(Template)]
#[template(path = "ops/gateway_codes.html")]
struct CodesPage {
    page: Page,
    org: Org,
    list: Listing,
    rows: Vec<CodeRow>,
    hours: String,
    errors: FieldErrors,
    fresh: Option<Fresh>,
}

/// The org of a codes page, when the caller may make codes for it: 404 when they do not
/// see it, 403 when they may not manage it (as `POST gateway/code/` answers).
async fn managed_org(state: &AppState, session: &Session, slug: &str) -> Result<Org, WebError> {
    let org = visible_org(state, &session.caller, slug).await?;
    if !may_manage(&session.caller, &org.id) {
        return Err(WebError::Forbidden(
            "Only those who may manage the org make and see gateway registration codes.".into(),
        ));
    }
    Ok(org)
}

/// The codes page, with the form's state.
async fn codes_page(
    state: &AppState,
    session: &Session,
    org: Org,
    listing: Listing,
    form: (String, FieldErrors, Option<Fresh>),
) -> PageResult {
    let (total, found) =
        gateways::codes_of_org(&state.db.meta, &org.id, (listing.offset(), listing.limit()))
            .await?;
    let now = now_micros();
    let page = Page::load(state, session, "Gateway registration codes", "gateways")
        .await?
        .in_org(&org.slug);
    let (hours, errors, fresh) = form;
    render(&CodesPage {
        page,
        org,
        list: listing.with_total(total),
        rows: found.into_iter().map(|c| code_row(c, now)).collect(),
        hours,
        errors,
        fresh,
    })
}

async fn codes(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    listing: Listing,
) -> PageResult {
    let org = managed_org(&state, &session, &slug).await?;
    let response = codes_page(
        &state,
        &session,
        org,
        listing,
        (String::new(), FieldErrors::new(), None),
    )
    .await?;
    Ok(clear_flash(&session, response))
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    hours: String,
}

async fn create_code(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    listing: Listing,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let org = visible_org(&state, &session.caller, &slug).await?;
    let hours = match form.hours.trim() {
        "" => Ok(None),
        text => text.parse::<i64>().map(Some),
    };
    let made = match hours {
        Ok(hours) => make_code(&state, &session.caller, &org, hours).await,
        Err(_) => Err(crate::http::error::ApiError::field(
            "hours",
            "A valid integer is required.",
        )),
    };
    let (status, form_state) = match made {
        Ok(made) => {
            tracing::info!(org = %org.slug, by = %session.user().email, "gateway code made on the web");
            let fresh = Fresh {
                code: made.code,
                expires: Stamp::of(made.expires),
            };
            (
                StatusCode::CREATED,
                (String::new(), FieldErrors::new(), Some(fresh)),
            )
        }
        Err(e) => {
            let errors = FieldErrors::from_api(e)?;
            (StatusCode::BAD_REQUEST, (form.hours, errors, None))
        }
    };
    let mut response = codes_page(&state, &session, org, listing, form_state).await?;
    *response.status_mut() = status;
    Ok(response)
}

async fn revoke_form(
    State(state): State<AppState>,
    session: Session,
    Path((slug, key)): Path<(String, String)>,
) -> PageResult {
    let gateway = revocable(&state, &session.caller, &key).await?;
    let org = visible_org(&state, &session.caller, &slug).await?;
    if org.id != gateway.org_id {
        return Err(WebError::NotFound);
    }
    let name = if gateway.name.is_empty() {
        gateway.key_id.clone()
    } else {
        format!("{} ({})", gateway.name, gateway.key_id)
    };
    let details = if gateway.revoked_on.is_some() {
        vec![format!(
            "{name} is already revoked; revoking it again changes nothing."
        )]
    } else {
        vec![
            format!("{name} will be refused at its next request: it can no longer sync reports or read OTA updates."),
            "Reports it still holds stay on it. To use it again, register it with a new code.".into(),
        ]
    };
    let page = Page::load(&state, &session, "Revoke a gateway", "gateways")
        .await?
        .in_org(&org.slug);
    let back = format!("/org/{}/gateways", org.slug);
    confirm(
        page,
        "Revoke this gateway?",
        &details,
        &format!("{back}/{}/revoke", gateway.key_id),
        "Revoke the gateway",
        &back,
    )
}

async fn revoke(
    State(state): State<AppState>,
    session: Session,
    Path((slug, key)): Path<(String, String)>,
) -> PageResult {
    let org = visible_org(&state, &session.caller, &slug).await?;
    // The gateway must be the org's of the URL before anything changes.
    let gateway = revocable(&state, &session.caller, &key).await?;
    if org.id != gateway.org_id {
        return Err(WebError::NotFound);
    }
    let gateway = revoke_gateway(&state, &session.caller, &key).await?;
    Ok(redirect_with(
        &format!("/org/{}/gateways", org.slug),
        format!("Gateway {} is revoked.", gateway.key_id),
    ))
}
