//! A device's page: what it is (label, org, project, sensor graph and template, versions,
//! location), its properties, configuration and notes, and a chart and the latest readings
//! of each stream.
//! Each part is shown only when the API would show it to the caller; each form runs the API
//! handler that does the same thing, with the form's fields as its body.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::device_config::{self, ConfigPanel};
use super::forms::FieldErrors;
use super::pages::{confirm, render, when, Page, PageResult, WebError};
use super::session::{clear_flash, redirect_with, Session};
use crate::auth::perms::perm;
use crate::http::error::{ApiError, ApiResult};
use crate::http::json::Json;
use crate::http::{claim, data, device, location, note, property, rows, target};
use crate::state::AppState;
use crate::store::annotations::{self, TimeQuery};
use crate::store::data::RowQuery;
use crate::store::devices::Device;
use crate::store::streams::{self, StreamFilter};
use crate::store::{device_versions, events, projects};
use crate::time::now_micros;

/// How many readings each stream's table shows.
const LATEST: i64 = 10;

pub struct StreamPanel {
    pub slug: String,
    pub label: String,
    /// The newest readings, newest first; `None` when the caller may not read them.
    pub readings: Option<Vec<ReadingRow>>,
}

pub struct ReadingRow {
    pub when: String,
    pub value: String,
}

pub struct EventRow {
    pub when: String,
    pub stream: String,
    pub summary: String,
}

pub struct Annotation {
    pub name: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "devices/device.html")]
struct DevicePage {
    page: Page,
    device: Device,
    project: Option<(String, String)>,
    claimed_on: String,
    versions: Vec<Annotation>,
    streams: Vec<StreamPanel>,
    /// The newest events, newest first; `None` when the caller may not read them.
    events: Option<Vec<EventRow>>,
    properties: Option<Vec<Annotation>>,
    /// The configuration attributes that apply; `None` when the caller may not read them.
    config: Option<ConfigPanel>,
    notes: Option<Vec<Annotation>>,
    may_modify: bool,
    may_unclaim: bool,
    /// Which form failed (`label`, `property`, `config`, `note`, `location`), and why.
    failed: &'static str,
    errors: FieldErrors,
    values: Map<String, Value>,
}

impl DevicePage {
    /// A field's value as the failed form sent it.
    fn sent(&self, form: &str, field: &str) -> String {
        if self.failed != form {
            return String::new();
        }
        self.values
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    /// The error of a field of `form`, if that form failed.
    fn error(&self, form: &str, field: &str) -> &str {
        if self.failed == form {
            self.errors.get(field)
        } else {
            ""
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
) -> PageResult {
    let page = build(&state, &session, &slug, "", FieldErrors::new(), Map::new()).await?;
    Ok(clear_flash(&session, page))
}

async fn build(
    state: &AppState,
    session: &Session,
    slug: &str,
    failed: &'static str,
    errors: FieldErrors,
    values: Map<String, Value>,
) -> PageResult {
    let caller = &session.caller;
    let device = device::load(state, caller, slug).await?;
    let pool = &state.db.meta;
    let project = match &device.project_id {
        Some(id) => projects::by_id(pool, id)
            .await?
            .map(|p| (p.id.clone(), p.name.clone())),
        None => None,
    };
    let versions = device_versions::latest(pool, device.id)
        .await?
        .into_iter()
        .map(|v| Annotation {
            name: v.kind.clone(),
            value: format!("{} (since {})", v.version_text(), when(v.updated_ts)),
        })
        .collect();
    let streams = stream_panels(state, session, &device).await?;
    let events = latest_events(state, session, &device).await?;
    let target = target::parse(&device.slug).ok_or(WebError::NotFound)?;
    let properties =
        match target::require(state, caller, target, perm::READ_DEVICE_PROPERTIES).await {
            Ok(t) => Some(
                annotations::properties(pool, &t.canonical, 0, 200)
                    .await?
                    .1
                    .into_iter()
                    .map(|p| Annotation {
                        name: p.name,
                        value: p.value,
                    })
                    .collect(),
            ),
            Err(_) => None,
        };
    let config = device_config::panel(state, caller, &device.slug).await?;
    let notes = match target::require(state, caller, target, perm::READ_NOTES).await {
        Ok(t) => {
            let q = TimeQuery {
                lastn: Some(20),
                ..TimeQuery::default()
            };
            let (_, found) = annotations::notes(pool, &t.canonical, &q, 0, 20).await?;
            Some(
                found
                    .into_iter()
                    .rev()
                    .map(|n| Annotation {
                        name: format!("{} · {}", when(n.timestamp), n.username.unwrap_or_default()),
                        value: n.note,
                    })
                    .collect(),
            )
        }
        Err(_) => None,
    };
    let in_org = |p: &str| {
        caller.is_staff()
            || device
                .org_id
                .as_deref()
                .is_some_and(|org| caller.can(org, p))
    };
    let mut page = Page::load(state, session, device.label.clone(), "devices").await?;
    if let Some(org) = &device.org_slug {
        page = page.in_org(org);
    }
    let status = if failed.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut response = render(&DevicePage {
        page,
        project,
        claimed_on: device.claimed_on.map(when).unwrap_or_default(),
        versions,
        streams,
        events,
        properties,
        config,
        notes,
        may_modify: in_org(perm::MODIFY_DEVICE),
        may_unclaim: in_org(perm::CLAIM_DEVICES) && device.project_id.is_some(),
        failed,
        errors,
        values,
        device,
    })?;
    *response.status_mut() = status;
    Ok(response)
}

/// The device's own streams, each with its newest readings when the caller may read them.
async fn stream_panels(
    state: &AppState,
    session: &Session,
    device: &Device,
) -> Result<Vec<StreamPanel>, WebError> {
    let filter = StreamFilter {
        device_id: Some(device.id),
        block: Some(0),
        ..StreamFilter::default()
    };
    let (_, found) = streams::list(&state.db.meta, &filter, 0, 100).await?;
    let mut panels = Vec::with_capacity(found.len());
    for s in found {
        let readings = match data::latest_readings(state, &session.caller, &s.slug, LATEST).await {
            Ok(rows) => Some(
                rows.into_iter()
                    .rev()
                    .map(|r| ReadingRow {
                        when: when(r.timestamp),
                        value: r.display,
                    })
                    .collect(),
            ),
            Err(ApiError::Internal(e)) => return Err(WebError::Internal(e)),
            Err(_) => None,
        };
        let label = if s.data_label.is_empty() {
            s.var_name.clone()
        } else {
            s.data_label.clone()
        };
        panels.push(StreamPanel {
            slug: s.slug,
            label,
            readings,
        });
    }
    Ok(panels)
}

/// The device's newest events, with the rule of `/event/?filter=<device>`.
async fn latest_events(
    state: &AppState,
    session: &Session,
    device: &Device,
) -> Result<Option<Vec<EventRow>>, WebError> {
    let scope = match rows::scope_of(state, &session.caller, &device.slug).await {
        Ok(Some(scope)) => scope,
        Ok(None) => return Ok(None),
        Err(ApiError::Internal(e)) => return Err(WebError::Internal(e)),
        Err(_) => return Ok(None),
    };
    let q = RowQuery {
        lastn: Some(LATEST),
        ..RowQuery::default()
    };
    let (_, found) = events::list(&state.db.data, &scope, &q, false, 0, LATEST).await?;
    Ok(Some(
        found
            .into_iter()
            .rev()
            .map(|e| {
                let mut summary: String = e.extra_data.chars().take(160).collect();
                if summary.len() < e.extra_data.len() {
                    summary.push('…');
                }
                EventRow {
                    when: when(e.timestamp),
                    stream: e.stream_slug,
                    summary,
                }
            })
            .collect(),
    ))
}

/// Runs an API handler for a form: on a refusal about the input, the page is shown again
/// with the messages beside the form's fields.
pub(super) async fn after<T>(
    state: &AppState,
    session: &Session,
    slug: &str,
    form: &'static str,
    values: Map<String, Value>,
    result: ApiResult<T>,
    done: &str,
) -> PageResult {
    match result {
        Ok(_) => Ok(redirect_with(&format!("/device/{slug}"), done)),
        Err(e) => {
            let errors = FieldErrors::from_api(e)?;
            build(state, session, slug, form, errors, values).await
        }
    }
}

#[derive(Deserialize)]
pub struct LabelForm {
    #[serde(default)]
    label: String,
}

pub async fn set_label(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    Form(form): Form<LabelForm>,
) -> PageResult {
    let body = object(json!({ "label": form.label.trim() }));
    let result = if form.label.trim().is_empty() {
        Err(ApiError::field("label", "Give the device a label."))
    } else {
        device::update(
            State(state.clone()),
            session.caller.clone(),
            Path(slug.clone()),
            Json(body.clone()),
        )
        .await
    };
    after(
        &state,
        &session,
        &slug,
        "label",
        body,
        result,
        "Label saved.",
    )
    .await
}

#[derive(Deserialize)]
pub struct PropertyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
}

pub async fn add_property(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    Form(form): Form<PropertyForm>,
) -> PageResult {
    let body = object(json!({ "name": form.name.trim(), "str_value": form.value }));
    let result = match serde_json::from_value(Value::Object(body.clone())) {
        Ok(parsed) => {
            property::device_new_property(
                State(state.clone()),
                session.caller.clone(),
                Path(slug.clone()),
                Json(parsed),
            )
            .await
        }
        Err(e) => Err(ApiError::field("name", e.to_string())),
    };
    let values = object(json!({ "name": form.name, "value": form.value }));
    after(
        &state,
        &session,
        &slug,
        "property",
        values,
        result,
        "Property saved.",
    )
    .await
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    note: String,
}

pub async fn add_note(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    Form(form): Form<NoteForm>,
) -> PageResult {
    let body = json!({ "target": slug, "note": form.note });
    let result = note::create(
        State(state.clone()),
        session.caller.clone(),
        Json(body.clone()),
    )
    .await;
    after(
        &state,
        &session,
        &slug,
        "note",
        object(body),
        result,
        "Note added.",
    )
    .await
}

#[derive(Deserialize)]
pub struct LocationForm {
    #[serde(default)]
    lat: String,
    #[serde(default)]
    lon: String,
}

pub async fn set_location(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    Form(form): Form<LocationForm>,
) -> PageResult {
    let body = json!({
        "target": slug,
        "timestamp": crate::time::format(now_micros()),
        "lat": form.lat.trim(),
        "lon": form.lon.trim(),
    });
    let result = location::create(
        State(state.clone()),
        session.caller.clone(),
        Json(body.clone()),
    )
    .await;
    after(
        &state,
        &session,
        &slug,
        "location",
        object(body),
        result,
        "Location saved.",
    )
    .await
}

pub async fn unclaim_confirm(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
) -> PageResult {
    let device = device::load(&state, &session.caller, &slug).await?;
    let page = Page::load(&state, &session, "Unclaim device", "devices").await?;
    confirm(
        page,
        &format!("Unclaim {}?", device.slug),
        &[
            "The device leaves its project and can be claimed again.".to_string(),
            "Its stored readings are not deleted.".to_string(),
        ],
        &format!("/device/{}/unclaim", device.slug),
        "Unclaim",
        &format!("/device/{}", device.slug),
    )
}

pub async fn unclaim(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
) -> Result<Response, WebError> {
    let device = claim::unclaim_device(&state, &session.caller, &slug, false, None).await?;
    Ok(redirect_with(
        &format!("/device/{}", device.slug),
        format!("{} was unclaimed.", device.slug),
    ))
}

pub(super) fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
