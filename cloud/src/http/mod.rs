//! The HTTP edge: one module per resource, each owning its routes under `/api/v1/`.
//!
//! Paths are routed without their final slash; `NormalizePath` trims it from requests, so
//! `/api/v1/device/` and `/api/v1/device` are the same route and a POST body is never lost
//! to a redirect. Only this layer knows JSON shapes.

pub mod account;
pub mod alias;
pub mod auth;
pub mod catalogue;
pub mod chart;
pub mod claim;
pub mod config_attr;
pub mod data;
pub mod device;
pub mod device_key;
pub mod device_versions;
pub mod error;
pub mod event;
pub mod event_upload;
pub mod fleet;
pub mod gateway;
pub mod gateway_backlog;
pub mod gateway_ota;
pub mod health;
pub mod json;
pub mod location;
pub mod members;
pub mod note;
pub mod openapi;
pub mod org;
pub mod origin;
pub mod ota_action;
pub mod ota_device;
pub mod ota_feed;
pub mod ota_request;
pub mod ota_rollout;
pub mod ota_script;
pub mod ota_script_file;
pub mod ota_script_release;
pub mod pagination;
pub mod params;
pub mod project;
pub mod property;
pub mod release_key;
pub mod report;
pub mod report_upload;
pub mod rows;
pub mod server;
pub mod staff_accounts;
pub mod stream;
pub mod streamer;
pub mod target;
pub mod variable;

use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderName, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;
use tower::Layer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::normalize_path::{NormalizePath, NormalizePathLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::state::AppState;

/// Largest request body accepted (report uploads are the largest legitimate ones).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// HTTP settings that are not the state's business.
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// Origins allowed to call the API from a browser; none by default.
    pub cors_origins: Vec<String>,
}

/// The whole application, ready to serve.
pub fn app(state: AppState, options: &HttpOptions) -> NormalizePath<Router> {
    let api = Router::new()
        .merge(server::routes())
        .merge(health::routes())
        .merge(auth::routes())
        .merge(account::routes())
        .merge(openapi::routes())
        .merge(org::routes())
        .merge(project::routes())
        .merge(variable::routes())
        .merge(device::routes())
        .merge(device_key::routes())
        .merge(device_versions::routes())
        .merge(claim::routes())
        .merge(catalogue::routes())
        .merge(streamer::routes())
        .merge(report::routes())
        .merge(fleet::routes())
        .merge(ota_script::routes())
        .merge(release_key::routes())
        .merge(gateway::routes())
        .merge(gateway_ota::routes())
        .merge(ota_request::routes())
        .merge(ota_rollout::routes())
        .merge(ota_action::routes())
        .merge(ota_device::routes())
        .merge(ota_feed::routes())
        .merge(stream::routes())
        .merge(data::routes())
        .merge(chart::routes())
        .merge(event::routes())
        .merge(property::routes())
        .merge(note::routes())
        .merge(location::routes())
        .merge(config_attr::routes())
        .merge(alias::routes());
    let request_id = HeaderName::from_static("x-request-id");
    let mut router = Router::new()
        .nest("/api/v1", api)
        .merge(openapi::docs::routes())
        .merge(crate::web::routes(state.clone()))
        .fallback(not_found)
        .with_state(state)
        .layer(middleware::from_fn(json_errors))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(CompressionLayer::new())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
                .make_span_with(|req: &Request<Body>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), id)
            }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]));
    if !options.cors_origins.is_empty() {
        let origins = options
            .cors_origins
            .iter()
            .filter_map(|o| o.parse().ok())
            .collect::<Vec<_>>();
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([
                    Method::GET,
                    Method::POST,
                    Method::PATCH,
                    Method::PUT,
                    Method::DELETE,
                ])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        );
    }
    NormalizePathLayer::trim_trailing_slash().layer(router)
}

/// Unknown paths: the API's JSON 404 under `/api/`, a page elsewhere.
async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        error::ApiError::NotFound.into_response()
    } else {
        crate::web::pages::error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no page at this address.",
        )
    }
}

/// Gives the framework's own refusals (wrong method, body too large, timeout) the JSON bodies
/// clients expect instead of plain text.
async fn json_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let api = req.uri().path().starts_with("/api/");
    let response = next.run(req).await;
    if !api {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return response;
    }
    let detail = match response.status() {
        StatusCode::METHOD_NOT_ALLOWED => format!("Method \"{method}\" not allowed."),
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("Request body too large: the limit is {MAX_BODY_BYTES} bytes.")
        }
        StatusCode::REQUEST_TIMEOUT => "Request timed out.".to_string(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported media type in request.".to_string(),
        _ => return response,
    };
    (response.status(), axum::Json(json!({"detail": detail}))).into_response()
}
