//! The overview: the caller's orgs with what each holds, and where to go next.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;

use super::pages::{render, Page, PageResult, WebError};
use super::session::{clear_flash, Session, ORG_COOKIE};
use crate::http::device;
use crate::state::AppState;
use crate::store::{devices, orgs};

pub struct OrgSummary {
    pub slug: String,
    pub name: String,
    pub role: String,
    pub projects: i64,
    pub devices: i64,
    pub members: i64,
    /// The first few devices (slug, label), a click away from their charts.
    pub first_devices: Vec<(String, String)>,
}

/// How many devices an org's card lists.
const CARD_DEVICES: i64 = 5;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    page: Page,
    orgs: Vec<OrgSummary>,
}

pub async fn home(State(state): State<AppState>, session: Session) -> PageResult {
    let page = Page::load(&state, &session, "Overview", "home").await?;
    let pool = &state.db.meta;
    let mut summaries = Vec::new();
    for choice in &page.orgs {
        let Some(org) = orgs::by_slug(pool, &choice.slug).await? else {
            continue;
        };
        let counts = orgs::counts(pool, &org.id).await?;
        let filter = devices::Filter {
            org_slug: Some(org.slug.clone()),
            ..device::scoped(&session.caller)
        };
        let (_, first) = devices::list(pool, &filter, 0, CARD_DEVICES).await?;
        let role = session
            .caller
            .membership(&org.id)
            .and_then(|m| crate::auth::perms::role_name(&m.role))
            .unwrap_or("Staff")
            .to_string();
        summaries.push(OrgSummary {
            slug: org.slug,
            name: org.name,
            role,
            projects: counts.get("projects").copied().unwrap_or(0),
            devices: counts.get("devices").copied().unwrap_or(0),
            members: counts.get("members").copied().unwrap_or(0),
            first_devices: first.into_iter().map(|d| (d.slug, d.label)).collect(),
        });
    }
    let response = render(&HomePage {
        page,
        orgs: summaries,
    })?;
    Ok(clear_flash(&session, response))
}

#[derive(Deserialize)]
pub struct Switch {
    slug: String,
}

/// The org switcher: remembers the choice and opens the org.
pub async fn switch_org(
    State(state): State<AppState>,
    session: Session,
    Query(switch): Query<Switch>,
) -> PageResult {
    let org = orgs::by_slug(&state.db.meta, &switch.slug)
        .await?
        .filter(|o| session.caller.sees_org(&o.id))
        .ok_or(WebError::NotFound)?;
    let cookie = Cookie::build((ORG_COOKIE, org.slug.clone()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .build();
    Ok((
        CookieJar::new().add(cookie),
        Redirect::to(&format!("/org/{}", org.slug)),
    )
        .into_response())
}
