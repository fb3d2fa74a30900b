//! `/jobs`: the job queue, for staff only as the API's `/job/` is (`report::staff_only`):
//! jobs by state with the count of each, the reason each dead job gave up, and retrying a
//! dead job through a confirm page (`report::retry_job`, the API's rule and store call).

use askama::Template;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use super::stamp::Stamp;
use crate::http::report::{retry_job, staff_only};
use crate::state::AppState;
use crate::store::jobs::{self, JobRecord};
use crate::web::listing::Listing;
use crate::web::pages::{confirm, render, Page, PageResult, WebError};
use crate::web::session::{clear_flash, redirect_with, Session};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/jobs", get(list))
        .route("/jobs/{id}", get(detail))
        .route("/jobs/{id}/retry", get(retry_form).post(retry))
}

/// The states a job goes through, in queue order, with their labels.
const STATES: &[(&str, &str)] = &[
    ("queued", "Queued"),
    ("running", "Running"),
    ("done", "Done"),
    ("dead", "Dead"),
];

/// A state tab: its name, label, count and whether it is the one shown.
pub struct Tab {
    pub state: &'static str,
    pub label: &'static str,
    pub count: i64,
    pub current: bool,
}

pub struct Row {
    pub id: i64,
    pub kind: String,
    pub key: String,
    pub state: String,
    pub badge: &'static str,
    pub attempts: i64,
    pub max_attempts: i64,
    pub error: Option<String>,
    pub created: Stamp,
    pub finished: Option<Stamp>,
    pub run_after: Stamp,
}

fn badge(state: &str) -> &'static str {
    match state {
        "done" => "ok",
        "dead" => "bad",
        "running" => "warn",
        _ => "",
    }
}

fn row(j: JobRecord) -> Row {
    Row {
        badge: badge(&j.state),
        created: Stamp::of(j.created_on),
        finished: Stamp::of_opt(j.finished_on),
        run_after: Stamp::of(j.run_after),
        id: j.id,
        kind: j.kind,
        key: j.key,
        state: j.state,
        attempts: j.attempts,
        max_attempts: j.max_attempts,
        error: j.last_error,
    }
}

#[derive(Template)]
#[template(path = "ops/jobs.html")]
struct ListPage {
    page: Page,
    list: Listing,
    tabs: Vec<Tab>,
    all: i64,
    shown: Option<&'static str>,
    rows: Vec<Row>,
}

async fn list(State(state): State<AppState>, session: Session, listing: Listing) -> PageResult {
    staff_only(&session.caller)?;
    let pool = &state.db.meta;
    // Only a known state filters; anything else shows every job.
    let shown = listing
        .filter("state")
        .and_then(|s| STATES.iter().find(|(n, _)| *n == s))
        .map(|(n, _)| *n);
    let names: Vec<&'static str> = jobs::SORTS.iter().map(|(n, _)| *n).collect();
    let sort = listing.sort(&names, ("id", true));
    let (total, found) =
        jobs::list_sorted(pool, shown, Some(sort), (listing.offset(), listing.limit())).await?;
    let counts = jobs::counts(pool).await?;
    let count_of = |s: &str| counts.iter().find(|(n, _)| n == s).map_or(0, |(_, c)| *c);
    let tabs = STATES
        .iter()
        .map(|(s, label)| Tab {
            state: s,
            label,
            count: count_of(s),
            current: shown == Some(*s),
        })
        .collect();
    let page = Page::load(&state, &session, "Job queue", "staff").await?;
    let response = render(&ListPage {
        page,
        list: listing.with_total(total),
        tabs,
        all: counts.iter().map(|(_, n)| n).sum(),
        shown,
        rows: found.into_iter().map(row).collect(),
    })?;
    Ok(clear_flash(&session, response))
}

/// The job a route id names, for staff; 404 when there is none.
async fn load(state: &AppState, session: &Session, id: &str) -> Result<JobRecord, WebError> {
    staff_only(&session.caller)?;
    let id: i64 = id.parse().map_err(|_| WebError::NotFound)?;
    jobs::by_id(&state.db.meta, id)
        .await?
        .ok_or(WebError::NotFound)
}

#[derive(Template)]
#[template(path = "ops/job.html")]
struct DetailPage {
    page: Page,
    job: Row,
    payload: String,
    lease_until: Option<Stamp>,
}

async fn detail(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> PageResult {
    let job = load(&state, &session, &id).await?;
    let payload = serde_json::from_str::<Value>(&job.payload)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| job.payload.clone());
    let page = Page::load(&state, &session, format!("Job {}", job.id), "staff").await?;
    let response = render(&DetailPage {
        page,
        payload,
        lease_until: Stamp::of_opt(job.lease_until),
        job: row(job),
    })?;
    Ok(clear_flash(&session, response))
}

async fn retry_form(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> PageResult {
    let job = load(&state, &session, &id).await?;
    let page = Page::load(&state, &session, "Retry a job", "staff").await?;
    let mut details = vec![format!(
        "Job {} ({} for {}) gave up after {} attempts.",
        job.id, job.kind, job.key, job.attempts
    )];
    if let Some(e) = &job.last_error {
        details.push(format!("Its last error: {e}"));
    }
    details.push(
        "It goes back to the queue with fresh attempts; if the cause is still there it will \
         fail again."
            .into(),
    );
    confirm(
        page,
        &format!("Retry job {}?", job.id),
        &details,
        &format!("/jobs/{}/retry", job.id),
        "Retry the job",
        &format!("/jobs/{}", job.id),
    )
}

async fn retry(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> PageResult {
    staff_only(&session.caller)?;
    let id: i64 = id.parse().map_err(|_| WebError::NotFound)?;
    let job = retry_job(&state, &session.caller, id).await?;
    tracing::info!(job = job.id, by = %session.user().email, "dead job retried from the web");
    Ok(redirect_with(
        &format!("/jobs/{}", job.id),
        format!("Job {} is queued again.", job.id),
    ))
}
