//! The OpenAPI 3.1 document, served at `GET /api/v1/openapi.json` and browsable at
//! `/api/docs/`.
//!
//! [`operations`] lists every operation the API serves, in groups by area, with the types its
//! handler reads and answers. The document is built from that list alone; the
//! authorization-matrix and bad-input tests walk the same list, and a test here compares it
//! with the routes the handler modules register, so an operation that is documented but not
//! routed, or routed but not documented, fails the tests.

use std::collections::BTreeMap;

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths};

use crate::state::AppState;

mod aliases;
mod build;
mod config;
pub mod docs;
mod operation;
mod ota_deployments;
mod ota_scripts;
mod people;
mod resources;
#[cfg(test)]
mod routed;
pub mod schema;
mod streams;

pub use operation::{Kind, Operation, Query, Reply};

/// Every operation the API serves.
pub fn operations() -> impl Iterator<Item = &'static Operation> {
    people::OPERATIONS
        .iter()
        .chain(resources::OPERATIONS)
        .chain(streams::OPERATIONS)
        .chain(ota_scripts::OPERATIONS)
        .chain(ota_deployments::OPERATIONS)
        .chain(config::OPERATIONS)
        .chain(aliases::OPERATIONS)
}

/// Builds the document from [`operations`].
pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    let mut schemas = schema::Schemas::new();
    for op in operations() {
        let operation = build::operation(op, &mut schemas);
        paths.add_path_operation(op.path, vec![build::method(op.method)], operation);
    }
    // A type is registered once per use; by name, the last registration stands (all equal).
    let schemas: BTreeMap<String, _> = schemas.into_iter().collect();
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
                .schemas_from_iter(schemas)
                .schema(schema::ERROR, schema::error())
                .security_scheme("jwt", scheme("`jwt <token>` (any case): a user JWT from /auth/login/"))
                .security_scheme("token", scheme("`token <key>`: the static 40-hex key from /auth/login/"))
                .security_scheme("a-jwt", scheme("`a-jwt <token>`: a device token from /device/{slug}/key/?type=a-jwt"))
                .build(),
        ))
        .build()
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

    #[test]
    fn every_answer_is_described() {
        let unset: Vec<_> = operations()
            .filter(|op| matches!(op.reply, Reply::Unset))
            .map(|op| format!("{} {}", op.method, op.path))
            .collect();
        assert!(unset.is_empty(), "answers not described: {unset:?}");
        for op in operations().filter(|op| matches!(op.reply, Reply::Empty)) {
            assert!(
                op.status == 204,
                "{} {} answers {} with no body",
                op.method,
                op.path,
                op.status
            );
        }
    }

    #[test]
    fn a_schema_name_means_one_schema() {
        let mut schemas = schema::Schemas::new();
        for op in operations() {
            build::operation(op, &mut schemas);
        }
        let mut by_name = BTreeMap::new();
        for (name, schema) in schemas {
            let schema = serde_json::to_value(schema).unwrap();
            if let Some(before) = by_name.insert(name.clone(), schema.clone()) {
                assert_eq!(before, schema, "two types are both named {name}");
            }
        }
    }
}
