//! The OpenAPI 3 document, served at `GET /api/v1/openapi.json`.
//!
//! `OPERATIONS` is the list of every operation the API serves. The document is built from it,
//! and the authorization-matrix test walks the same list, so a documented operation that is
//! not routed, or a protected one that answers without credentials, fails the tests.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Required, ResponseBuilder,
};

use crate::state::AppState;

/// One operation: method, path (as clients write it, with the final slash), tag, summary,
/// whether it needs no credentials, and its success status.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub public: bool,
    pub status: u16,
}

const fn op(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    status: u16,
) -> Operation {
    Operation {
        method,
        path,
        tag,
        summary,
        public: false,
        status,
    }
}

const fn public(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    status: u16,
) -> Operation {
    Operation {
        method,
        path,
        tag,
        summary,
        public: true,
        status,
    }
}

pub const OPERATIONS: &[Operation] = &[
    public(
        "GET",
        "/api/v1/server/",
        "server",
        "Server clock and name",
        200,
    ),
    public(
        "GET",
        "/api/v1/openapi.json",
        "server",
        "This document",
        200,
    ),
    public(
        "POST",
        "/api/v1/auth/login/",
        "auth",
        "Log in with email and password",
        200,
    ),
    op(
        "POST",
        "/api/v1/auth/logout/",
        "auth",
        "Revoke the JWT of this request",
        204,
    ),
    public(
        "POST",
        "/api/v1/auth/api-jwt-refresh/",
        "auth",
        "Renew an unexpired JWT",
        200,
    ),
    public(
        "POST",
        "/api/v1/auth/api-jwt-auth/",
        "auth",
        "JWT for a username or email and password",
        200,
    ),
    public(
        "POST",
        "/api/v1/auth/api-jwt-verify/",
        "auth",
        "Check a JWT",
        200,
    ),
    op(
        "GET",
        "/api/v1/auth/token/",
        "auth",
        "The static token and a fresh JWT",
        200,
    ),
    public(
        "GET",
        "/api/v1/auth/user-info/",
        "auth",
        "The caller's account and a fresh JWT",
        200,
    ),
    op(
        "GET",
        "/api/v1/account/",
        "account",
        "The caller's account (all accounts for staff)",
        200,
    ),
    op(
        "GET",
        "/api/v1/account/{slug}/",
        "account",
        "One account",
        200,
    ),
    op(
        "PATCH",
        "/api/v1/account/{slug}/",
        "account",
        "Update name and tagline",
        200,
    ),
    op(
        "POST",
        "/api/v1/account/{slug}/set_password/",
        "account",
        "Change the password",
        201,
    ),
    op(
        "GET",
        "/api/v1/device/",
        "device",
        "Devices of the caller's orgs",
        200,
    ),
    op(
        "POST",
        "/api/v1/device/",
        "device",
        "Register a device (staff, ?staff=1)",
        201,
    ),
    op(
        "GET",
        "/api/v1/device/{slug}/",
        "device",
        "One device by any form of its slug",
        200,
    ),
    op(
        "PATCH",
        "/api/v1/device/{slug}/",
        "device",
        "Update a device (sg; template for staff)",
        200,
    ),
    op(
        "DELETE",
        "/api/v1/device/{slug}/",
        "device",
        "Delete a device (staff, ?staff=1)",
        204,
    ),
    op(
        "GET",
        "/api/v1/device/{slug}/key/",
        "device",
        "A device key; ?type=a-jwt gives a device token",
        200,
    ),
    op(
        "GET",
        "/api/v1/device/{slug}/extra/",
        "device",
        "The device with stream counts",
        200,
    ),
    op(
        "GET",
        "/api/v1/device/{slug}/streamers/",
        "device",
        "The device's streamers (plain array)",
        200,
    ),
    op(
        "GET",
        "/api/v1/device/{slug}/sg/",
        "device",
        "The device's sensor graph",
        200,
    ),
    op(
        "GET",
        "/api/v1/device/{slug}/template/",
        "device",
        "The device's template",
        200,
    ),
    op(
        "POST",
        "/api/v1/device/claim/",
        "device",
        "Claim a device into a project",
        202,
    ),
    op(
        "POST",
        "/api/v1/device/claimable/",
        "device",
        "Which devices can be claimed",
        202,
    ),
    op(
        "POST",
        "/api/v1/device/{slug}/unclaim/",
        "device",
        "Release a device from its project",
        202,
    ),
    op(
        "GET",
        "/api/v1/sg/",
        "catalogue",
        "Active sensor graphs",
        200,
    ),
    op(
        "GET",
        "/api/v1/sg/{slug}/",
        "catalogue",
        "One sensor graph",
        200,
    ),
    op(
        "GET",
        "/api/v1/dt/",
        "catalogue",
        "Active device templates",
        200,
    ),
    op(
        "GET",
        "/api/v1/dt/{slug}/",
        "catalogue",
        "One device template",
        200,
    ),
    op(
        "GET",
        "/api/v1/vartype/",
        "catalogue",
        "Variable types",
        200,
    ),
    op(
        "GET",
        "/api/v1/vartype/{slug}/",
        "catalogue",
        "One variable type",
        200,
    ),
    op(
        "GET",
        "/api/v1/streamer/",
        "streamer",
        "Streamers (?device=) with their acknowledged last_id",
        200,
    ),
    op(
        "GET",
        "/api/v1/streamer/{slug}/",
        "streamer",
        "One streamer",
        200,
    ),
    op(
        "GET",
        "/api/v1/stream/",
        "stream",
        "Streams (?project=, ?device=, ?variable=)",
        200,
    ),
    op(
        "POST",
        "/api/v1/stream/",
        "stream",
        "Create a stream for a variable",
        201,
    ),
    op("GET", "/api/v1/stream/{slug}/", "stream", "One stream", 200),
    op(
        "PATCH",
        "/api/v1/stream/{slug}/",
        "stream",
        "Update a stream",
        200,
    ),
    op(
        "PUT",
        "/api/v1/stream/{slug}/",
        "stream",
        "Replace a stream's settings",
        200,
    ),
    op(
        "DELETE",
        "/api/v1/stream/{slug}/",
        "stream",
        "Delete a stream and its data (staff)",
        204,
    ),
    op(
        "GET",
        "/api/v1/stream/{slug}/data/",
        "stream",
        "A stream's data with output values",
        200,
    ),
    op(
        "GET",
        "/api/v1/stream/{slug}/csv/",
        "stream",
        "A stream's data as CSV",
        200,
    ),
    op(
        "GET",
        "/api/v1/data/",
        "data",
        "Stream data (?filter=, lastn, start, end)",
        200,
    ),
    op(
        "POST",
        "/api/v1/data/",
        "data",
        "Write stream data (one row or an array)",
        201,
    ),
    op(
        "GET",
        "/api/v1/data/{id}/",
        "data",
        "One data row (staff)",
        200,
    ),
    op(
        "GET",
        "/api/v1/event/",
        "event",
        "Stream events (?filter=, lastn, start, end)",
        200,
    ),
    op(
        "POST",
        "/api/v1/event/",
        "event",
        "Write events (one or an array)",
        201,
    ),
    op(
        "POST",
        "/api/v1/event/upload/",
        "event",
        "Upload an event with its JSON document (multipart)",
        201,
    ),
    op("GET", "/api/v1/event/{id}/", "event", "One event", 200),
    op(
        "PATCH",
        "/api/v1/event/{id}/",
        "event",
        "Replace an event's document",
        200,
    ),
    op(
        "GET",
        "/api/v1/event/{id}/data/",
        "event",
        "An event's raw document",
        200,
    ),
    op(
        "GET",
        "/api/v1/property/",
        "property",
        "Properties of a target (?target=)",
        200,
    ),
    op(
        "POST",
        "/api/v1/property/",
        "property",
        "Create a property",
        201,
    ),
    op(
        "GET",
        "/api/v1/property/{id}/",
        "property",
        "One property",
        200,
    ),
    op(
        "PATCH",
        "/api/v1/property/{id}/",
        "property",
        "Update a property",
        200,
    ),
    op(
        "PUT",
        "/api/v1/property/{id}/",
        "property",
        "Replace a property",
        200,
    ),
    op(
        "DELETE",
        "/api/v1/property/{id}/",
        "property",
        "Delete a property",
        204,
    ),
    op(
        "GET",
        "/api/v1/device/{slug}/properties/",
        "property",
        "A device's properties (plain array)",
        200,
    ),
    op(
        "POST",
        "/api/v1/device/{slug}/new_property/",
        "property",
        "Create or replace a device property",
        201,
    ),
    op(
        "GET",
        "/api/v1/project/{id}/properties/",
        "property",
        "A project's properties (plain array)",
        200,
    ),
    op(
        "POST",
        "/api/v1/project/{id}/new_property/",
        "property",
        "Create or replace a project property",
        201,
    ),
    op(
        "GET",
        "/api/v1/note/",
        "note",
        "Notes of a target (?target=)",
        200,
    ),
    op(
        "POST",
        "/api/v1/note/",
        "note",
        "Write notes (one or an array)",
        201,
    ),
    op("GET", "/api/v1/note/{id}/", "note", "One note", 200),
    op(
        "GET",
        "/api/v1/location/",
        "location",
        "Locations of a target (?target=)",
        200,
    ),
    op(
        "POST",
        "/api/v1/location/",
        "location",
        "Write locations of one target",
        201,
    ),
];

/// Builds the document from `OPERATIONS`.
pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    for op in OPERATIONS {
        let mut builder = OperationBuilder::new()
            .tag(op.tag)
            .summary(Some(op.summary))
            .operation_id(Some(format!(
                "{}_{}",
                op.method.to_lowercase(),
                op.path
                    .trim_matches('/')
                    .replace(['/', '{', '}', '.', '-'], "_")
            )))
            .response(
                op.status.to_string(),
                ResponseBuilder::new().description(op.summary).build(),
            )
            .response(
                "400",
                ResponseBuilder::new()
                    .description("Invalid input (field errors or a message)")
                    .build(),
            )
            .response(
                "404",
                ResponseBuilder::new()
                    .description("{\"detail\":\"Not found.\"}")
                    .build(),
            );
        if !op.public {
            builder = builder
                .response(
                    "401",
                    ResponseBuilder::new()
                        .description("Missing or invalid credentials")
                        .build(),
                )
                .response(
                    "403",
                    ResponseBuilder::new()
                        .description("No permission in the object's org")
                        .build(),
                )
                .securities(Some(
                    ["jwt", "token", "a-jwt"]
                        .map(|s| SecurityRequirement::new(s, Vec::<String>::new())),
                ));
        }
        for name in path_parameters(op.path) {
            builder = builder.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True),
            );
        }
        paths.add_path_operation(op.path, vec![method(op.method)], builder.build());
    }
    let scheme = |description: &str| {
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "Authorization",
            description,
        )))
    };
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("IOTile Cloud API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Compatible with the original IOTile Cloud /api/v1/. Paths may be written with or without the final slash.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme("jwt", scheme("`jwt <token>` (any case): a user JWT from /auth/login/"))
                .security_scheme("token", scheme("`token <key>`: the static 40-hex key from /auth/login/"))
                .security_scheme("a-jwt", scheme("`a-jwt <token>`: a device token from /device/{slug}/key/?type=a-jwt"))
                .build(),
        ))
        .build()
}

fn method(name: &str) -> HttpMethod {
    match name {
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(document()) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_in_the_document_once() {
        let doc = serde_json::to_value(document()).unwrap();
        let mut seen = std::collections::HashSet::new();
        for op in OPERATIONS {
            assert!(
                seen.insert((op.method, op.path)),
                "{} {} listed twice",
                op.method,
                op.path
            );
            let item = &doc["paths"][op.path][op.method.to_lowercase()];
            assert!(item.is_object(), "{} {} missing", op.method, op.path);
            assert_eq!(
                item["security"].is_array(),
                !op.public,
                "{} {}",
                op.method,
                op.path
            );
        }
    }
}
