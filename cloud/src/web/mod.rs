//! The admins' web pages, served by the same process as the API: server-rendered HTML
//! (askama templates in `cloud/templates/`), a little plain JavaScript, and assets built
//! into the binary. Pages run the API's own store queries and permission checks through a
//! `Caller` made from the session, so a page can never show what the API would refuse.
//!
//! - `session`: the session cookie, the `Session` extractor, one-shot messages;
//! - `csrf`: the token every form carries, checked by one layer in front of all pages;
//! - `pages`: the layout's context, rendering, error pages;
//! - `forms`: the API's refusals as messages next to form fields;
//! - `listing`: paging, sorting and filters of every list;
//! - `assets`: CSS, JS and the vendored chart library;
//! - `account`: sign in, sign out, password change;
//! - `home`: the overview and the org switcher;
//! - `devices`: the device list and claiming;
//! - `device_page`: a device, its annotations, and its streams' charts and readings;
//! - `device_chart`: the charts' data, downsampled on the server;
//! - `manage`: the org page and its members, projects and their variables, the staff area;
//! - `ops`: reports, the job queue, gateways and OTA (scripts, keys, fleets, deployments).

pub mod account;
pub mod assets;
pub mod csrf;
pub mod device_chart;
pub mod device_config;
pub mod device_page;
pub mod devices;
pub mod forms;
pub mod home;
pub mod listing;
pub mod manage;
pub mod ops;
pub mod pages;
pub mod session;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

/// Every page, behind the CSRF guard and the pages' security headers.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/login", get(account::login_form).post(account::login))
        .route("/logout", post(account::logout))
        .route(
            "/account/password",
            get(account::password_form).post(account::change_password),
        )
        .route("/org/switch", get(home::switch_org))
        .route("/devices", get(devices::list))
        .route(
            "/devices/claim",
            get(devices::claim_form).post(devices::claim),
        )
        .route("/device/{slug}", get(device_page::show))
        .route("/device/{slug}/chart", get(device_chart::chart_data))
        .route("/device/{slug}/label", post(device_page::set_label))
        .route("/device/{slug}/property", post(device_page::add_property))
        .route("/device/{slug}/config", post(device_config::set))
        .route("/device/{slug}/note", post(device_page::add_note))
        .route("/device/{slug}/location", post(device_page::set_location))
        .route(
            "/device/{slug}/unclaim",
            get(device_page::unclaim_confirm).post(device_page::unclaim),
        )
        .route("/static/{*path}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon))
        .merge(manage::routes())
        .merge(ops::routes())
        .layer(middleware::from_fn_with_state(state, csrf::guard))
        .layer(middleware::from_fn(security_headers))
}

/// Pages load only this site's scripts and styles, are never framed, and leak no URL to
/// other sites.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        // Pages hold private data: never kept by shared caches, never shown from history
        // after signing out.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
