//! The pages that manage orgs, projects and the whole site. Each runs the API's own lookups
//! (`org::visible`, `project::visible`, `variable::visible`) and the API's own changes
//! (`org::change`, `members::*`, `project::insert|change|remove`, `variable::*`,
//! `staff_accounts::set_flag`), so a page shows and does exactly what the API would.
//!
//! - `org`: the org page (name, about, counts, members), its edit form, adding a member;
//! - `aliases`: an org's stream aliases, an alias's taps and readings, adding either;
//! - `members`: a member's role change and removal;
//! - `projects`: the project list, creation, a project's page, edit and delete;
//! - `variables`: a project's variables: create, edit, delete;
//! - `staff`: the staff area: accounts (with their flags) and every org;
//! - `catalogue`: the staff area's sensor graphs, device templates and variable types;
//! - `config_names`: the staff area's configuration attribute names.

mod aliases;
mod catalogue;
mod config_names;
mod members;
mod org;
mod projects;
mod staff;
mod variables;

use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::state::AppState;
use crate::time::to_datetime;

/// Every route of these pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/org/{slug}", get(org::show))
        .route(
            "/org/{slug}/aliases",
            get(aliases::list).post(aliases::create),
        )
        .route("/org/{slug}/aliases/{alias}", get(aliases::show))
        .route(
            "/org/{slug}/aliases/{alias}/taps",
            axum::routing::post(aliases::add_tap),
        )
        .route("/org/{slug}/edit", get(org::edit_form).post(org::edit))
        .route("/org/{slug}/members", axum::routing::post(org::add_member))
        .route(
            "/org/{slug}/members/{user}/role",
            get(members::role_form).post(members::set_role),
        )
        .route(
            "/org/{slug}/members/{user}/remove",
            get(members::confirm_remove).post(members::remove),
        )
        .route("/projects", get(projects::list))
        .route(
            "/projects/new",
            get(projects::new_form).post(projects::create),
        )
        .route("/project/{id}", get(projects::show))
        .route(
            "/project/{id}/edit",
            get(projects::edit_form).post(projects::edit),
        )
        .route(
            "/project/{id}/delete",
            get(projects::confirm_delete).post(projects::delete),
        )
        .route(
            "/project/{id}/variables/new",
            get(variables::new_form).post(variables::create),
        )
        .route(
            "/project/{id}/variable/{slug}",
            get(variables::edit_form).post(variables::edit),
        )
        .route(
            "/project/{id}/variable/{slug}/delete",
            get(variables::confirm_delete).post(variables::delete),
        )
        .merge(staff::routes())
        .merge(catalogue::routes())
}

/// A select's option.
pub struct Choice {
    pub value: String,
    pub label: String,
}

impl Choice {
    pub fn new(value: impl Into<String>, label: impl Into<String>) -> Choice {
        Choice {
            value: value.into(),
            label: label.into(),
        }
    }

    /// Whether this option is the chosen `value`.
    pub fn is(&self, value: &str) -> bool {
        self.value == value
    }
}

/// A storage time as a calendar day (UTC), as lists show it.
pub fn day(micros: i64) -> String {
    to_datetime(micros).format("%Y-%m-%d").to_string()
}

/// A storage time to the minute (UTC), as detail pages show it.
pub fn minute(micros: i64) -> String {
    to_datetime(micros).format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A re-rendered form answers 400, so scripts and tests see that nothing was done.
pub fn refused(mut response: Response) -> Response {
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}
