//! Turns an [`Operation`] into the document's operation object: its parameters, request
//! body, answers and security.

use utoipa::openapi::path::{
    HttpMethod, Operation as PathOperation, OperationBuilder, Parameter, ParameterBuilder,
    ParameterIn,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{
    ContentBuilder, KnownFormat, Ref, RefOr, Required, Response, ResponseBuilder,
};

use super::operation::{Kind, Operation, Reply};
use super::schema::{Schemas, ERROR};

pub fn method(name: &str) -> HttpMethod {
    match name {
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

/// The names of a path's `{parameters}`, each with the segment before it.
pub fn path_parameters(path: &str) -> impl Iterator<Item = (&str, &str)> {
    let segments: Vec<&str> = path.split('/').collect();
    segments
        .iter()
        .enumerate()
        .filter_map(|(i, seg)| {
            let name = seg.strip_prefix('{')?.strip_suffix('}')?;
            Some((if i == 0 { "" } else { segments[i - 1] }, name))
        })
        .collect::<Vec<_>>()
        .into_iter()
}

/// What a path parameter names, from the resource it follows.
fn path_parameter(resource: &str) -> (Type, Option<KnownFormat>, &'static str) {
    let text = |about| (Type::String, None, about);
    match resource {
        "account" => text("The account's slug"),
        "device" => text(
            "A device slug: d--0000-0000-0000-000a, a shorter form (d--000a) or a data block's b--0001-0000-0000-000a",
        ),
        "sg" | "dt" | "vartype" => text("The catalogue entry's slug"),
        "streamer" => text("A streamer slug: t--0000-0000-0000-000a--0000"),
        "stream" => text("A stream slug: s--<project>--<device>--<variable>, such as s--0000-0001--0000-0000-0000-000a--5001"),
        "fleet" => text("A fleet slug: g--0000-0000-0001"),
        "gateway" => text("The gateway's public key (its key id)"),
        "script" => text("A device script slug: z--0000-0001"),
        "org" => text("An org slug"),
        "variable" => text("A variable slug: v--0000-0001--5001"),
        "project" => (
            Type::String,
            Some(KnownFormat::Uuid),
            "The project's id (a UUID)",
        ),
        "report" => (
            Type::String,
            Some(KnownFormat::Uuid),
            "The report's id (a UUID)",
        ),
        _ => (Type::Integer, None, "The record's id"),
    }
}

fn parameter(
    name: &str,
    place: ParameterIn,
    required: bool,
    schema: impl Into<RefOr<Schema>>,
    about: &str,
) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(place)
        .required(if required {
            Required::True
        } else {
            Required::False
        })
        .description(Some(about))
        .schema(Some(schema))
        .build()
}

fn typed(ty: Type, format: Option<KnownFormat>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(ty)
        .format(format.map(SchemaFormat::KnownFormat))
}

fn parameters(op: &Operation) -> Vec<Parameter> {
    let mut out = Vec::new();
    for (resource, name) in path_parameters(op.path) {
        let (ty, format, about) = path_parameter(resource);
        out.push(parameter(
            name,
            ParameterIn::Path,
            true,
            typed(ty, format),
            about,
        ));
    }
    for query in op.query {
        let schema = match query.kind {
            Kind::Text => typed(Type::String, None),
            Kind::Integer => typed(Type::Integer, None),
            Kind::Flag => typed(Type::String, None).enum_values(Some(["1", "true", "True"])),
            Kind::DateTime => typed(Type::String, Some(KnownFormat::DateTime)),
        };
        out.push(parameter(
            query.name,
            ParameterIn::Query,
            query.required,
            schema,
            query.about,
        ));
    }
    if !op.public {
        out.push(parameter(
            "staff",
            ParameterIn::Query,
            false,
            typed(Type::String, None).enum_values(Some(["1", "true", "True"])),
            "Staff only: act as staff, on every org's objects",
        ));
    }
    if op.paged {
        out.push(parameter(
            "page",
            ParameterIn::Query,
            false,
            typed(Type::String, None),
            "The page, from 1, or `last`; a page past the end is 404 {\"detail\": \"Invalid page.\"}",
        ));
        out.push(parameter(
            "page_size",
            ParameterIn::Query,
            false,
            typed(Type::Integer, None).minimum(Some(1)),
            "Results per page (each list has its default and cap)",
        ));
    }
    out
}

fn error(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ERROR)))
                .build(),
        )
        .build()
}

/// The document's operation object for `op`, registering the schemas it uses.
pub fn operation(op: &Operation, schemas: &mut Schemas) -> PathOperation {
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
        .parameters(Some(parameters(op)));
    if let Some(body) = op.body {
        builder = builder.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    body.media,
                    ContentBuilder::new()
                        .schema(Some((body.schema)(schemas)))
                        .build(),
                )
                .build(),
        ));
    }
    let success = ResponseBuilder::new().description(op.summary);
    let success = match op.reply {
        Reply::Body(media, schema) => success.content(
            media,
            ContentBuilder::new().schema(Some(schema(schemas))).build(),
        ),
        Reply::Empty | Reply::Unset => success,
    };
    builder = builder
        .response(op.status.to_string(), success.build())
        .response("400", error("Invalid input: field errors, or a message"))
        .response("404", error("Not found: {\"detail\": \"Not found.\"}"))
        .response(
            "default",
            error("Other refusals: 405, 413, 429, 503, … with {\"detail\": \"…\"}"),
        );
    if !op.public {
        builder = builder
            .response("401", error("Missing or invalid credentials"))
            .response("403", error("No permission in the object's org"))
            .securities(Some(
                ["jwt", "token", "a-jwt"]
                    .map(|s| SecurityRequirement::new(s, Vec::<String>::new())),
            ));
    }
    builder.build()
}
