//! The configuration panel of a device's page: every configuration attribute that applies
//! to the device, with the level it comes from (the device, its project, its org or the
//! viewer), and a form that sets one on the device itself through the API's handler.

use axum::extract::{Path, State};
use axum::Form;
use serde::Deserialize;
use serde_json::{json, Value};

use super::device_page::{after, object};
use super::pages::{PageResult, WebError};
use super::session::Session;
use crate::auth::Caller;
use crate::http::config_attr::{self, AttrBody};
use crate::http::error::ApiError;
use crate::http::json::Json;
use crate::state::AppState;
use crate::store::config_attrs::{self, NameFilter};

/// One attribute as it applies to the device.
pub struct ConfigRow {
    pub name: String,
    /// The value as compact JSON.
    pub value: String,
    /// Where it is set, in words: "this device", "its project", "its org" or "your account".
    pub from: &'static str,
}

pub struct ConfigPanel {
    pub rows: Vec<ConfigRow>,
    /// The names a value may be set under, when the viewer may set one on the device.
    pub names: Option<Vec<String>>,
}

fn words(level: &str) -> &'static str {
    match level {
        "device" => "this device",
        "project" => "its project",
        "org" => "its org",
        _ => "your account",
    }
}

/// The panel for the device `slug`; `None` when the viewer may not read its attributes.
pub async fn panel(
    state: &AppState,
    caller: &Caller,
    slug: &str,
) -> Result<Option<ConfigPanel>, WebError> {
    let Ok(level) = config_attr::allowed_level(state, caller, slug, false).await else {
        return Ok(None);
    };
    let path = level.search_path(caller);
    let targets: Vec<String> = path.iter().map(|(t, _)| t.clone()).collect();
    let rows = config_attrs::effective(&state.db.meta, &targets)
        .await?
        .into_iter()
        .map(|a| ConfigRow {
            from: path
                .iter()
                .find(|(t, _)| *t == a.target)
                .map_or("your account", |(_, kind)| words(kind)),
            value: a.data.to_string(),
            name: a.name,
        })
        .collect();
    let names = if config_attr::allowed_level(state, caller, slug, true)
        .await
        .is_ok()
    {
        let (_, names) =
            config_attrs::names(&state.db.meta, &NameFilter::default(), 0, 500).await?;
        Some(names.into_iter().map(|n| n.name).collect())
    } else {
        None
    };
    Ok(Some(ConfigPanel { rows, names }))
}

#[derive(Deserialize)]
pub struct ConfigForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
}

/// Sets an attribute on the device; the value is JSON, or else taken as a string.
pub async fn set(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    Form(form): Form<ConfigForm>,
) -> PageResult {
    let text = form.value.trim();
    let data = serde_json::from_str::<Value>(text).unwrap_or_else(|_| json!(text));
    let result = if form.name.is_empty() {
        Err(ApiError::field("name", "Choose a name."))
    } else if text.is_empty() {
        Err(ApiError::field(
            "data",
            "Give a value: a number, text, or JSON.",
        ))
    } else {
        config_attr::set_attr(
            State(state.clone()),
            session.caller.clone(),
            Json(AttrBody {
                target: Some(slug.clone()),
                name: Some(form.name.clone()),
                data: Some(data),
                log_as_note: true,
            }),
        )
        .await
    };
    let values = object(json!({ "name": form.name, "value": form.value }));
    after(
        &state,
        &session,
        &slug,
        "config",
        values,
        result,
        "Configuration saved.",
    )
    .await
}
