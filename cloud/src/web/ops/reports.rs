//! `/reports`: the streamer reports received for the devices the caller sees, with how
//! their processing went, and one report's page. The list is scoped exactly as the API's
//! streamer list (`streamer::scope_of`), a report's page as `GET streamer/report/{id}/`
//! (`report::visible`): a report of another org is the 404 page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use sync_protocol::ids::DeviceId;

use super::stamp::Stamp;
use crate::http::{report, streamer};
use crate::state::AppState;
use crate::store::reports::{self, Listed, Report};
use crate::store::{devices, orgs, streamers};
use crate::web::forms::FieldErrors;
use crate::web::listing::Listing;
use crate::web::pages::{render, Page, PageResult, WebError};
use crate::web::session::{clear_flash, Session};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/reports", get(list))
        .route("/reports/{id}", get(detail))
}

/// The processing states a report can be in, as stored and as shown.
const STATUSES: &[(&str, &str)] = &[
    ("scheduled", "Queued"),
    ("processed", "Processed"),
    ("failed", "Failed"),
];

/// A report's processing state for a badge: its label and the badge's class.
pub struct Status {
    pub label: &'static str,
    pub class: &'static str,
}

fn status_of(r: &Report) -> Status {
    let label = STATUSES
        .iter()
        .find(|(s, _)| *s == r.status)
        .map_or("Unknown", |(_, l)| *l);
    let class = match r.status.as_str() {
        "processed" => "ok",
        "failed" => "bad",
        _ => "warn",
    };
    Status { label, class }
}

/// `first–last`, or a dash when unknown.
fn range(first: Option<i64>, last: Option<i64>) -> String {
    match (first, last) {
        (Some(0), Some(0)) => "none new".into(),
        (Some(a), Some(b)) => format!("{a}–{b}"),
        _ => "—".into(),
    }
}

pub struct Row {
    pub id: String,
    pub device: String,
    pub org: Option<String>,
    pub streamer: String,
    pub status: Status,
    pub error: Option<String>,
    pub readings: i64,
    pub new_count: Option<i64>,
    pub ids: String,
    pub received: Stamp,
}

fn row(l: Listed) -> Row {
    let r = &l.report;
    Row {
        status: status_of(r),
        ids: range(r.original_first_id, r.original_last_id),
        received: Stamp::of(r.created_on),
        id: r.id.clone(),
        streamer: r.streamer_slug.clone(),
        error: r.error.clone(),
        readings: r.reading_count,
        new_count: r.new_count,
        device: l.device_slug,
        org: l.org_slug,
    }
}

#[derive(Template)]
#[template(path = "ops/reports.html")]
struct ListPage {
    page: Page,
    list: Listing,
    rows: Vec<Row>,
    errors: FieldErrors,
    statuses: &'static [(&'static str, &'static str)],
}

async fn list(State(state): State<AppState>, session: Session, listing: Listing) -> PageResult {
    let caller = &session.caller;
    let mut errors = FieldErrors::new();
    let mut filter = reports::Filter {
        scope: streamer::scope_of(caller),
        org_slug: listing.filter("org").map(String::from),
        status: None,
    };
    if let Some(raw) = listing.filter("device") {
        match raw.parse::<DeviceId>() {
            Ok(id) => filter.scope.device_id = i64::try_from(id.get()).ok().or(Some(-1)),
            Err(e) => errors.add("device", format!("Illegal device format. {e}")),
        }
    }
    if let Some(status) = listing.filter("status") {
        if STATUSES.iter().any(|(s, _)| *s == status) {
            filter.status = Some(status.to_string());
        } else {
            errors.add("status", "Select a valid choice.");
        }
    }
    let names: Vec<&'static str> = reports::SORTS.iter().map(|(n, _)| *n).collect();
    let sort = listing.sort(&names, ("received", true));
    let (total, found) = if errors.is_empty() {
        reports::list(
            &state.db.meta,
            &filter,
            Some(sort),
            (listing.offset(), listing.limit()),
        )
        .await?
    } else {
        (0, Vec::new())
    };
    let mut page = Page::load(&state, &session, "Reports", "reports").await?;
    if let Some(org) = &filter.org_slug {
        if page.orgs.iter().any(|o| &o.slug == org) {
            page = page.in_org(org);
        }
    }
    let failed = !errors.is_empty();
    let mut response = render(&ListPage {
        page,
        list: listing.with_total(total),
        rows: found.into_iter().map(row).collect(),
        errors,
        statuses: STATUSES,
    })?;
    if failed {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(clear_flash(&session, response))
}

#[derive(Template)]
#[template(path = "ops/report.html")]
struct DetailPage {
    page: Page,
    r: Report,
    status: Status,
    device: String,
    org: Option<String>,
    original: String,
    actual: String,
    received: Stamp,
    sent: Stamp,
    processed: Option<Stamp>,
}

async fn detail(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> PageResult {
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(WebError::NotFound);
    }
    let pool = &state.db.meta;
    let r = reports::by_id(pool, &id).await?.ok_or(WebError::NotFound)?;
    if !report::visible(&state, &session.caller, r.streamer_id).await? {
        return Err(WebError::NotFound);
    }
    let streamer = streamers::by_id(pool, r.streamer_id)
        .await?
        .ok_or(WebError::NotFound)?;
    let org = match devices::by_id(pool, streamer.device_id)
        .await?
        .and_then(|d| d.org_id)
    {
        Some(org_id) => orgs::by_id(pool, &org_id).await?.map(|o| o.slug),
        None => None,
    };
    let mut page = Page::load(&state, &session, format!("Report {}", r.id), "reports").await?;
    if let Some(org) = &org {
        if page.orgs.iter().any(|o| &o.slug == org) {
            page = page.in_org(org);
        }
    }
    let response = render(&DetailPage {
        page,
        status: status_of(&r),
        device: streamer.device_slug,
        org,
        original: range(r.original_first_id, r.original_last_id),
        actual: range(r.actual_first_id, r.actual_last_id),
        received: Stamp::of(r.created_on),
        sent: Stamp::of(r.sent_timestamp),
        processed: Stamp::of_opt(r.processed_on),
        r,
    })?;
    Ok(clear_flash(&session, response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_read_as_people_write_them() {
        assert_eq!(range(Some(1), Some(40)), "1–40");
        assert_eq!(range(Some(0), Some(0)), "none new");
        assert_eq!(range(None, None), "—");
    }
}
