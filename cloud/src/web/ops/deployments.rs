//! `/org/{slug}/ota/deployments`: an org's deployments with their progress, and one
//! deployment's page: its counts wave by wave, each target device's standing and last
//! action, and its state changes (release, halt, resume, complete) through confirm pages.
//!
//! Reading a deployment evaluates it, as the API's reads do (`ota_request::evaluated`), so
//! time-outs take effect. Visibility and every change are the API's functions
//! (`ota_request::load`, `ota_rollout::{release_draft, halt_by_hand, resume_halted,
//! complete_by_hand}`, which check `can_manage_ota`); device standings are the tally's own
//! rule (`ota::tally::standings`).

use askama::Template;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;

use super::ota::{may_manage_ota, ota_org, ota_page};
use super::stamp::Stamp;
use crate::http::{ota_request, ota_rollout};
use crate::ota::advance::Evaluated;
use crate::ota::tally::{standings, Moment, Standing};
use crate::ota::State as DeploymentState;
use crate::state::AppState;
use crate::store::deployments::{self, Deployment};
use crate::store::orgs::Org;
use crate::store::{deployment_actions, deployment_targets, devices};
use crate::time::now_micros;
use crate::web::forms::FieldErrors;
use crate::web::listing::{sort_rows, Listing};
use crate::web::pages::{confirm, render, Page, PageResult, WebError};
use crate::web::session::{clear_flash, redirect_with, Session};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/org/{slug}/ota/deployments", get(list))
        .route("/org/{slug}/ota/deployments/{id}", get(detail))
        .route(
            "/org/{slug}/ota/deployments/{id}/{action}",
            get(change_form).post(change),
        )
}

/// A deployment's state for a badge.
fn state_class(s: DeploymentState) -> &'static str {
    match s {
        DeploymentState::Running => "ok",
        DeploymentState::Halted => "bad",
        DeploymentState::Completed => "",
        DeploymentState::Draft => "warn",
    }
}

/// A deployment as a list row or a page header shows it.
pub struct Summary {
    pub id: i64,
    pub script: String,
    pub fleet: Option<String>,
    pub state: &'static str,
    pub state_class: &'static str,
    pub reason: String,
    pub criteria: String,
    pub released: Option<Stamp>,
    pub completed: Option<Stamp>,
    pub targeted: u64,
    pub confirmed: u64,
    pub failed: u64,
    pub waiting: u64,
    pub wave: i64,
    pub waves: i64,
}

fn summary(e: &Evaluated) -> Summary {
    let d = &e.deployment;
    Summary {
        id: d.id,
        script: d.script_slug.clone(),
        fleet: d.fleet_slug.clone(),
        state: d.state.as_str(),
        state_class: state_class(d.state),
        reason: d.state_reason.clone(),
        criteria: d.criteria.join(", "),
        released: Stamp::of_opt(d.released_on),
        completed: Stamp::of_opt(d.completed_on),
        targeted: e.tally.targeted(),
        confirmed: e.tally.confirmed(),
        failed: e.tally.failed(),
        waiting: e.tally.waiting(),
        wave: d.current_wave,
        waves: d.rollout.as_ref().map_or(1, |p| p.wave_count()),
    }
}

#[derive(Template)]
#[template(path = "ops/deployments.html")]
struct ListPage {
    page: Page,
    org: Org,
    tab: &'static str,
    list: Listing,
    rows: Vec<Summary>,
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    listing: Listing,
) -> PageResult {
    let org = ota_org(&state, &session, &slug).await?;
    let filter = deployments::Filter {
        visible: ota_request::visible_orgs(&session.caller),
        org_slugs: Some(vec![org.slug.clone()]),
        everything: true,
        now: now_micros(),
        ..Default::default()
    };
    let names: Vec<&'static str> = deployments::SORTS.iter().map(|(n, _)| *n).collect();
    let sort = listing.sort(&names, ("id", true));
    let (total, found) = deployments::list_sorted(
        &state.db.meta,
        &filter,
        Some(sort),
        (listing.offset(), listing.limit()),
    )
    .await?;
    let mut rows = Vec::with_capacity(found.len());
    for d in found {
        rows.push(summary(&ota_request::evaluated(&state, d).await?));
    }
    let page = ListPage {
        page: ota_page(
            &state,
            &session,
            format!("Deployments of {}", org.name),
            &org,
        )
        .await?,
        org,
        tab: "deployments",
        list: listing.with_total(total),
        rows,
    };
    Ok(clear_flash(&session, render(&page)?))
}

/// The deployment of the URL when the caller may read it and it is the URL org's; the 404
/// page otherwise.
async fn load(
    state: &AppState,
    session: &Session,
    slug: &str,
    id: &str,
) -> Result<(Org, Deployment), WebError> {
    let org = ota_org(state, session, slug).await?;
    let d = ota_request::load(state, &session.caller, id).await?;
    if d.org_id != org.id {
        return Err(WebError::NotFound);
    }
    Ok((org, d))
}

pub struct WaveRow {
    pub number: usize,
    pub size: u64,
    pub confirmed: u64,
    pub failed: u64,
    pub open: bool,
}

pub struct TargetRow {
    pub device: String,
    pub wave: i64,
    pub standing: &'static str,
    pub class: &'static str,
    pub tried: Option<Stamp>,
    pub successful: Option<bool>,
    pub log: Option<String>,
}

const STANDINGS: &[(&str, &str)] = &[
    ("waiting", "Waiting"),
    ("confirmed", "Confirmed"),
    ("failed", "Failed"),
];

#[derive(Template)]
#[template(path = "ops/deployment.html")]
struct DetailPage {
    page: Page,
    org: Org,
    tab: &'static str,
    d: Summary,
    draft: bool,
    waves: Vec<WaveRow>,
    list: Listing,
    targets: Vec<TargetRow>,
    errors: FieldErrors,
    standings: &'static [(&'static str, &'static str)],
    actions: Vec<(&'static str, &'static str)>,
}

async fn detail(
    State(state): State<AppState>,
    session: Session,
    Path((slug, id)): Path<(String, String)>,
    listing: Listing,
) -> PageResult {
    let (org, d) = load(&state, &session, &slug, &id).await?;
    let e = ota_request::evaluated(&state, d).await?;
    let pool = &state.db.meta;
    let mut errors = FieldErrors::new();
    let wanted = listing.filter("standing");
    if wanted.is_some_and(|w| !STANDINGS.iter().any(|(s, _)| *s == w)) {
        errors.add("standing", "Select a valid choice.");
    }
    let d = &e.deployment;
    let all_targets = deployment_targets::of_deployment(pool, d.id).await?;
    let attempts = deployment_actions::attempts(pool, d.id).await?;
    let at = Moment {
        now: now_micros(),
        resumed_on: d.resumed_on,
    };
    let mut found: Vec<_> = standings(&all_targets, &attempts, d.rollout.as_ref(), at)
        .into_iter()
        .filter(|(_, s, _)| wanted.is_none_or(|w| s.as_str() == w) || !errors.is_empty())
        .collect();
    let (column, desc) = listing.sort(&["device", "wave", "standing"], ("device", false));
    match column {
        "wave" => sort_rows(&mut found, desc, |(t, _, _)| (t.wave, t.device_id)),
        "standing" => sort_rows(&mut found, desc, |(t, s, _)| (s.as_str(), t.device_id)),
        _ => sort_rows(&mut found, desc, |(t, _, _)| t.device_id),
    }
    let total = i64::try_from(found.len()).unwrap_or(i64::MAX);
    let mut targets = Vec::new();
    let skip = usize::try_from(listing.offset()).unwrap_or(usize::MAX);
    let take = usize::try_from(listing.limit()).unwrap_or(0);
    for (t, standing, last) in found.into_iter().skip(skip).take(take) {
        let device = devices::by_id(pool, t.device_id)
            .await?
            .map_or_else(|| t.device_id.to_string(), |d| d.slug);
        let action = match last {
            Some(a) => deployment_actions::by_id(pool, a.id).await?,
            None => None,
        };
        targets.push(TargetRow {
            device,
            wave: t.wave,
            standing: standing.as_str(),
            class: match standing {
                Standing::Confirmed => "ok",
                Standing::Failed { .. } => "bad",
                Standing::Waiting => "",
            },
            tried: action
                .as_ref()
                .map(|a| Stamp::of(a.last_attempt_on.unwrap_or(a.created_on))),
            successful: action.as_ref().map(|a| a.attempt_successful),
            log: action.and_then(|a| a.log).filter(|l| !l.is_empty()),
        });
    }
    let waves = e
        .tally
        .waves
        .iter()
        .enumerate()
        .map(|(i, w)| WaveRow {
            number: i + 1,
            size: w.size,
            confirmed: w.confirmed,
            failed: w.failed,
            open: i64::try_from(i).unwrap_or(i64::MAX) < d.current_wave,
        })
        .collect();
    let actions = if may_manage_ota(&session.caller, &org.id) {
        available(d.state)
    } else {
        Vec::new()
    };
    let refused = !errors.is_empty();
    let page = DetailPage {
        page: ota_page(&state, &session, format!("Deployment {}", d.id), &org).await?,
        org,
        tab: "deployments",
        draft: d.state == DeploymentState::Draft,
        d: summary(&e),
        waves,
        list: listing.with_total(total),
        targets,
        errors,
        standings: STANDINGS,
        actions,
    };
    let mut response = render(&page)?;
    if refused {
        *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    Ok(clear_flash(&session, response))
}

/// The state changes a deployment in `state` can take: path segment and button label.
fn available(state: DeploymentState) -> Vec<(&'static str, &'static str)> {
    match state {
        DeploymentState::Draft => vec![("release", "Release")],
        DeploymentState::Running => vec![("halt", "Halt"), ("complete", "Complete")],
        DeploymentState::Halted => vec![("resume", "Resume"), ("complete", "Complete")],
        DeploymentState::Completed => Vec::new(),
    }
}

/// What a state change will do, in words, for its confirm page: the question, the lines
/// under it, the button.
fn described(action: &str, d: &Deployment) -> Option<(String, Vec<String>, &'static str)> {
    let scope = match &d.fleet_slug {
        Some(f) => format!("the fleet {f}"),
        None => "the whole org".to_string(),
    };
    let criteria = if d.criteria.is_empty() {
        "no criteria".to_string()
    } else {
        d.criteria.join(", ")
    };
    let id = d.id;
    Some(match action {
        "release" => (
            format!("Release deployment {id}?"),
            vec![
                format!("Its targets are chosen now and frozen: the active devices of {scope} whose versions meet {criteria}."),
                format!("Gateways offer the script {} to them from their next poll.", d.script_slug),
            ],
            "Release the deployment",
        ),
        "halt" => (
            format!("Halt deployment {id}?"),
            vec![
                "No device is offered the update until it is resumed; an update already under way on a device finishes.".into(),
            ],
            "Halt the deployment",
        ),
        "resume" => (
            format!("Resume deployment {id}?"),
            vec![
                "Its open waves are offered again; failures reported before now no longer count towards halting it.".into(),
            ],
            "Resume the deployment",
        ),
        "complete" => (
            format!("Complete deployment {id}?"),
            vec![
                "It is offered to no device any more, whatever its devices report. This cannot be undone.".into(),
            ],
            "Complete the deployment",
        ),
        _ => return None,
    })
}

async fn change_form(
    State(state): State<AppState>,
    session: Session,
    Path((slug, id, action)): Path<(String, String, String)>,
) -> PageResult {
    let (org, _) = load(&state, &session, &slug, &id).await?;
    let d = ota_request::load_for_change(&state, &session.caller, &id).await?;
    let (question, details, button) = described(&action, &d).ok_or(WebError::NotFound)?;
    let page = ota_page(&state, &session, question.clone(), &org).await?;
    let back = format!("/org/{}/ota/deployments/{}", org.slug, d.id);
    confirm(
        page,
        &question,
        &details,
        &format!("{back}/{action}"),
        button,
        &back,
    )
}

async fn change(
    State(state): State<AppState>,
    session: Session,
    Path((slug, id, action)): Path<(String, String, String)>,
) -> PageResult {
    let (org, d) = load(&state, &session, &slug, &id).await?;
    let caller = &session.caller;
    let id = d.id.to_string();
    let done = match action.as_str() {
        "release" => ota_rollout::release_draft(&state, caller, &id, None).await?,
        "halt" => ota_rollout::halt_by_hand(&state, caller, &id, None).await?,
        "resume" => ota_rollout::resume_halted(&state, caller, &id).await?,
        "complete" => ota_rollout::complete_by_hand(&state, caller, &id).await?,
        _ => return Err(WebError::NotFound),
    };
    let now = done.deployment.state;
    Ok(redirect_with(
        &format!("/org/{}/ota/deployments/{}", org.slug, d.id),
        format!("Deployment {} is {now}.", d.id),
    ))
}
