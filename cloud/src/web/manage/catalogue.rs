//! The staff area's catalogue: sensor graphs, device templates and variable types, listed
//! and shown one by one. Records are found as the API finds them (`catalogue::find`, the
//! inactive ones as the API shows them to staff).

use askama::Template;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use crate::http::catalogue as api;
use crate::state::AppState;
use crate::store::catalogue::{self, CatalogueSort, Kind};
use crate::web::listing::Listing;
use crate::web::pages::{render, Page, PageResult, WebError};
use crate::web::session::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/catalogue/{kind}", get(list))
        .route("/staff/catalogue/{kind}/{slug}", get(show))
}

/// A catalogue kind as its URL segment names it, with its titles.
struct Section {
    kind: Kind,
    path: &'static str,
    title: &'static str,
    one: &'static str,
}

const SECTIONS: &[Section] = &[
    Section {
        kind: Kind::SensorGraph,
        path: "sensor-graphs",
        title: "Sensor graphs",
        one: "Sensor graph",
    },
    Section {
        kind: Kind::DeviceTemplate,
        path: "device-templates",
        title: "Device templates",
        one: "Device template",
    },
    Section {
        kind: Kind::VarType,
        path: "var-types",
        title: "Variable types",
        one: "Variable type",
    },
];

/// The section a URL names, for staff; 404 otherwise.
fn section(session: &Session, path: &str) -> Result<&'static Section, WebError> {
    if !session.caller.is_staff() {
        return Err(WebError::NotFound);
    }
    SECTIONS
        .iter()
        .find(|s| s.path == path)
        .ok_or(WebError::NotFound)
}

/// A JSON value as one line of text.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        other => other.to_string(),
    }
}

/// A list column: its header and, when it sorts, its sort key.
pub struct Column {
    pub label: &'static str,
    pub sort: Option<&'static str>,
}

/// The columns a kind's list shows, and the record fields they come from.
fn columns(kind: Kind) -> (Vec<Column>, &'static [&'static str]) {
    let col = |label, sort| Column { label, sort };
    match kind {
        Kind::SensorGraph => (
            vec![
                col("Name", Some("name")),
                col("Slug", Some("slug")),
                col("Version", None),
                col("App tag", None),
            ],
            &["name", "slug", "version", "app_tag"],
        ),
        Kind::DeviceTemplate => (
            vec![
                col("Slug", Some("slug")),
                col("Family", None),
                col("Version", None),
                col("OS tag", None),
                col("Active", None),
            ],
            &["slug", "family", "version", "os_tag", "active"],
        ),
        Kind::VarType => (
            vec![
                col("Name", Some("name")),
                col("Slug", Some("slug")),
                col("Storage units", None),
                col("Data type", None),
            ],
            &["name", "slug", "storage_units_full", "stream_data_type"],
        ),
    }
}

pub struct Row {
    pub slug: String,
    pub cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "manage/catalogue_list.html")]
struct ListPage {
    page: Page,
    title: &'static str,
    path: &'static str,
    columns: Vec<Column>,
    rows: Vec<Row>,
    list: Listing,
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Path(kind): Path<String>,
    list: Listing,
) -> PageResult {
    let section = section(&session, &kind)?;
    let (columns, fields) = columns(section.kind);
    let allowed: Vec<&'static str> = columns.iter().filter_map(|c| c.sort).collect();
    let (column, descending) = list.sort(&allowed, ("slug", false));
    let sort = if column == "name" {
        CatalogueSort::Name
    } else {
        CatalogueSort::Slug
    };
    let all = api::lists_inactive(&session.caller, section.kind);
    let (total, bodies) = catalogue::list_ordered(
        &state.db.meta,
        section.kind,
        all,
        (sort, descending),
        list.offset(),
        list.limit(),
    )
    .await?;
    let rows = bodies
        .iter()
        .map(|b| Row {
            slug: text(&b["slug"]),
            cells: fields.iter().map(|f| text(&b[*f])).collect(),
        })
        .collect();
    let page = Page::load(&state, &session, section.title, "staff").await?;
    render(&ListPage {
        page,
        title: section.title,
        path: section.path,
        columns,
        rows,
        list: list.with_total(total),
    })
}

/// A table on a record's page.
pub struct Table {
    pub title: &'static str,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// The rows of the array `key` of `body`, one cell per field.
fn table(body: &Value, key: &str, title: &'static str, fields: &[(&'static str, &str)]) -> Table {
    Table {
        title,
        headers: fields.iter().map(|(h, _)| *h).collect(),
        rows: body[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| fields.iter().map(|(_, f)| text(&item[*f])).collect())
            .collect(),
    }
}

/// The properties and tables a kind's page shows.
fn details(kind: Kind, body: &Value) -> (Vec<(&'static str, String)>, Vec<Table>) {
    let props = |pairs: &[(&'static str, &str)]| {
        pairs
            .iter()
            .map(|(label, key)| (*label, text(&body[*key])))
            .collect::<Vec<_>>()
    };
    match kind {
        Kind::SensorGraph => (
            props(&[
                ("Slug", "slug"),
                ("Version", "version"),
                ("App tag", "app_tag"),
                ("App version", "app_version"),
                ("Org", "org"),
                ("Project template", "project_template"),
                ("Created", "created_on"),
            ]),
            vec![table(
                body,
                "variable_templates",
                "Variable templates",
                &[
                    ("Label", "label"),
                    ("Stream id", "lid_hex"),
                    ("Variable type", "var_type"),
                    ("Input unit", "default_input_unit"),
                    ("Output unit", "default_output_unit"),
                    ("m", "m"),
                    ("d", "d"),
                    ("o", "o"),
                ],
            )],
        ),
        Kind::DeviceTemplate => (
            props(&[
                ("Slug", "slug"),
                ("External SKU", "external_sku"),
                ("Internal SKU", "internal_sku"),
                ("Family", "family"),
                ("Version", "version"),
                ("OS tag", "os_tag"),
                ("OS version", "os_version"),
                ("Hardware tag", "hw_tag"),
                ("Hardware version", "hw_version"),
                ("Org", "org"),
                ("Released", "released_on"),
            ]),
            Vec::new(),
        ),
        Kind::VarType => {
            let units = [
                ("Slug", "slug"),
                ("Unit", "unit_full"),
                ("Short", "unit_short"),
                ("m", "m"),
                ("d", "d"),
                ("o", "o"),
            ];
            (
                props(&[
                    ("Slug", "slug"),
                    ("Storage units", "storage_units_full"),
                    ("Data type", "stream_data_type"),
                ]),
                vec![
                    table(body, "available_input_units", "Input units", &units),
                    table(body, "available_output_units", "Output units", &units),
                ],
            )
        }
    }
}

#[derive(Template)]
#[template(path = "manage/catalogue_item.html")]
struct ItemPage {
    page: Page,
    section_title: &'static str,
    section_path: &'static str,
    name: String,
    active: bool,
    props: Vec<(&'static str, String)>,
    tables: Vec<Table>,
    raw: String,
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path((kind, slug)): Path<(String, String)>,
) -> PageResult {
    let section = section(&session, &kind)?;
    let (body, active) = api::find(&state, &session.caller, section.kind, &slug).await?;
    let name = match body["name"].as_str() {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => slug.clone(),
    };
    let (props, tables) = details(section.kind, &body);
    let raw = serde_json::to_string_pretty(&api::public(body.clone())).unwrap_or_default();
    let page = Page::load(
        &state,
        &session,
        format!("{}: {name}", section.one),
        "staff",
    )
    .await?;
    render(&ItemPage {
        page,
        section_title: section.title,
        section_path: section.path,
        name,
        active,
        props,
        tables,
        raw,
    })
}
