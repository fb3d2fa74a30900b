//! Schemas for the document. A body's schema is a [`SchemaFn`]: it names a type whose schema
//! is derived (`ToSchema`) from what the handler reads or sends, registers that type and the
//! types it refers to as components, and answers a reference to it. The shapes the API wraps
//! every type in (a page, a plain array, one or an array) are built here once.

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::ToSchema;

/// Component schemas collected while the document is built, by name.
pub type Schemas = Vec<(String, RefOr<Schema>)>;

/// Registers what a body needs among `Schemas` and answers the body's schema.
pub type SchemaFn = fn(&mut Schemas) -> RefOr<Schema>;

/// One `T`, by reference.
pub fn one<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    let name: Cow<'static, str> = T::name();
    schemas.push((name.to_string(), T::schema()));
    T::schemas(schemas);
    Ref::from_schema_name(name).into()
}

/// A plain JSON array of `T`.
pub fn list<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    ArrayBuilder::new().items(one::<T>(schemas)).into()
}

/// The DRF page envelope around `T` (see `http::pagination`).
pub fn page<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    page_of(one::<T>(schemas))
}

/// The page envelope around results of this schema.
pub fn page_of(result: RefOr<Schema>) -> RefOr<Schema> {
    let link = |about: &str| {
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::String,
                Type::Null,
            ]))
            .description(Some(about))
    };
    ObjectBuilder::new()
        .property(
            "count",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .description(Some("How many results all pages hold")),
        )
        .property("next", link("The next page's URL; null on the last page"))
        .property(
            "previous",
            link("The previous page's URL; null on the first page"),
        )
        .property("results", ArrayBuilder::new().items(result))
        .required("count")
        .required("next")
        .required("previous")
        .required("results")
        .into()
}

/// One `T` or a JSON array of them (bodies that take either).
pub fn one_or_many<T: ToSchema>(schemas: &mut Schemas) -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(one::<T>(schemas))
        .item(list::<T>(schemas))
        .into()
}

/// Either of two schemas.
pub fn either(a: RefOr<Schema>, b: RefOr<Schema>) -> RefOr<Schema> {
    OneOfBuilder::new().item(a).item(b).into()
}

/// Any JSON value (documents stored as given).
pub fn any(_: &mut Schemas) -> RefOr<Schema> {
    Schema::default().into()
}

/// A text body (CSV).
pub fn text(_: &mut Schemas) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).into()
}

/// Raw bytes (a script file).
pub fn bytes(_: &mut Schemas) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/octet-stream")
        .into()
}

/// The name of the component every error answer refers to.
pub const ERROR: &str = "Error";

/// The error bodies (spec 2.6; `http::error::ApiError`): `{"detail": msg}`, field errors
/// `{"field": ["msg"]}` (`non_field_errors` for the body as a whole), `{"error": msg}`,
/// `{"msg": msg}`, a bare array `["msg"]` or a bare string.
pub fn error() -> RefOr<Schema> {
    let message = |key: &str, about: &str| {
        ObjectBuilder::new()
            .title(Some(key))
            .description(Some(about))
            .property(key, ObjectBuilder::new().schema_type(Type::String))
            .required(key)
    };
    let strings = || ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String));
    AnyOfBuilder::new()
        .description(Some("An error: which shape depends on the operation and the error"))
        .item(message("detail", "`{\"detail\": \"Not found.\"}` and most refusals"))
        .item(
            ObjectBuilder::new()
                .title(Some("fields"))
                .description(Some(
                    "Field errors: `{\"field\": [\"message\"]}`; `non_field_errors` for the body as a whole",
                ))
                .additional_properties(Some(AdditionalProperties::RefOr(strings().into()))),
        )
        .item(message("error", "`{\"error\": \"...\"}`: staff-only writes, uploads, fleet membership"))
        .item(message("msg", "`{\"msg\": \"...\"}`: device keys"))
        .item(strings().description(Some("`[\"message\"]`")))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("A bare message (login refusals)")),
        )
        .into()
}
