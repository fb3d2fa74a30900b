//! The OpenAPI 3 document, served at `GET /api/v1/openapi.json`.
//!
//! [`operations`] lists every operation the API serves, in groups by area. The document is built from it,
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

mod operations;
mod ota_deployments;
mod ota_scripts;

pub use operations::Operation;

/// Every operation the API serves.
pub fn operations() -> impl Iterator<Item = &'static Operation> {
    operations::OPERATIONS
        .iter()
        .chain(ota_scripts::OPERATIONS)
        .chain(ota_deployments::OPERATIONS)
}

/// Builds the document from [`operations`].
pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    for op in operations() {
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
        for op in operations() {
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
