//! `/org/{slug}/ota/fleets`: an org's fleets, and a fleet's members. Scoped as the API's
//! `fleet/` (`fleet::visible_orgs`, `fleet::load`): a fleet of another org is the 404 page.
//! Fleets are made and filled through the API (`POST /api/v1/fleet/`, `…/register/`).

use askama::Template;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;

use super::ota::{ota_org, ota_page};
use super::stamp::Stamp;
use crate::http::fleet;
use crate::state::AppState;
use crate::store::fleets::{self, Fleet, Member};
use crate::store::orgs::Org;
use crate::web::listing::Listing;
use crate::web::pages::{render, Page, PageResult, WebError};
use crate::web::session::{clear_flash, Session};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/org/{slug}/ota/fleets", get(list))
        .route("/org/{slug}/ota/fleets/{fleet}", get(detail))
}

pub struct Row {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub is_network: bool,
    pub members: i64,
    pub created: Stamp,
}

#[derive(Template)]
#[template(path = "ops/fleets.html")]
struct ListPage {
    page: Page,
    org: Org,
    tab: &'static str,
    list: Listing,
    rows: Vec<Row>,
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    listing: Listing,
) -> PageResult {
    let org = ota_org(&state, &session, &slug).await?;
    let filter = fleets::Filter {
        orgs: fleet::visible_orgs(&session.caller),
        org_slug: Some(org.slug.clone()),
        ..Default::default()
    };
    let names: Vec<&'static str> = fleets::SORTS.iter().map(|(n, _)| *n).collect();
    let sort = listing.sort(&names, ("name", false));
    let pool = &state.db.meta;
    let (total, found) = fleets::list_sorted(
        pool,
        &filter,
        Some(sort),
        (listing.offset(), listing.limit()),
    )
    .await?;
    let mut rows = Vec::with_capacity(found.len());
    for f in found {
        rows.push(Row {
            members: fleets::members(pool, f.id, (0, 1)).await?.0,
            created: Stamp::of(f.created_on),
            slug: f.slug,
            name: f.name,
            description: f.description,
            is_network: f.is_network,
        });
    }
    let page = ListPage {
        page: ota_page(&state, &session, format!("Fleets of {}", org.name), &org).await?,
        org,
        tab: "fleets",
        list: listing.with_total(total),
        rows,
    };
    Ok(clear_flash(&session, render(&page)?))
}

#[derive(Template)]
#[template(path = "ops/fleet.html")]
struct DetailPage {
    page: Page,
    org: Org,
    tab: &'static str,
    fleet: Fleet,
    list: Listing,
    members: Vec<Member>,
}

async fn detail(
    State(state): State<AppState>,
    session: Session,
    Path((slug, fleet_slug)): Path<(String, String)>,
    listing: Listing,
) -> PageResult {
    let org = ota_org(&state, &session, &slug).await?;
    let found = fleet::load(&state, &session.caller, &fleet_slug).await?;
    if found.org_id != org.id {
        return Err(WebError::NotFound);
    }
    let names: Vec<&'static str> = fleets::MEMBER_SORTS.iter().map(|(n, _)| *n).collect();
    let sort = listing.sort(&names, ("device", false));
    let (total, members) = fleets::members_sorted(
        &state.db.meta,
        found.id,
        Some(sort),
        (listing.offset(), listing.limit()),
    )
    .await?;
    let page = DetailPage {
        page: ota_page(&state, &session, format!("Fleet {}", found.name), &org).await?,
        org,
        tab: "fleets",
        fleet: found,
        list: listing.with_total(total),
        members,
    };
    Ok(clear_flash(&session, render(&page)?))
}
