//! Stream aliases and their taps.

use super::operation::{op, q, Kind, Operation, Query};
use super::schema::{one, page};
use crate::http::alias;

const ALIAS_FILTERS: &[Query] = &[q("org", Kind::Text, "Aliases of the org with this slug")];
const TAP_FILTERS: &[Query] = &[q("target", Kind::Text, "Taps of the alias with this slug")];

pub(super) const OPERATIONS: &[Operation] = &[
    op(
        "GET",
        "/api/v1/alias/",
        "alias",
        "Stream aliases of your orgs",
        200,
    )
    .query(ALIAS_FILTERS)
    .paged()
    .reply(page::<alias::AliasView>),
    op(
        "POST",
        "/api/v1/alias/",
        "alias",
        "Create an empty stream alias",
        201,
    )
    .body(one::<alias::AliasBody>)
    .reply(one::<alias::AliasView>),
    op(
        "GET",
        "/api/v1/alias/{slug}/",
        "alias",
        "One stream alias",
        200,
    )
    .reply(one::<alias::AliasView>),
    op(
        "PATCH",
        "/api/v1/alias/{slug}/",
        "alias",
        "Rename an alias or move it to another org",
        200,
    )
    .body(one::<alias::AliasBody>)
    .reply(one::<alias::AliasView>),
    op("PUT", "/api/v1/alias/{slug}/", "alias", "As PATCH", 200)
        .body(one::<alias::AliasBody>)
        .reply(one::<alias::AliasView>),
    op(
        "DELETE",
        "/api/v1/alias/{slug}/",
        "alias",
        "Delete an alias and its taps",
        204,
    ),
    op(
        "GET",
        "/api/v1/tap/",
        "alias",
        "Alias taps (?target=a--…)",
        200,
    )
    .query(TAP_FILTERS)
    .paged()
    .reply(page::<alias::TapView>),
    op(
        "POST",
        "/api/v1/tap/",
        "alias",
        "Point an alias at a stream from a time on",
        201,
    )
    .body(one::<alias::TapBody>)
    .reply(one::<alias::TapView>),
    op("GET", "/api/v1/tap/{id}/", "alias", "One tap", 200).reply(one::<alias::TapView>),
    op("PATCH", "/api/v1/tap/{id}/", "alias", "Change a tap", 200)
        .body(one::<alias::TapBody>)
        .reply(one::<alias::TapView>),
    op("PUT", "/api/v1/tap/{id}/", "alias", "As PATCH", 200)
        .body(one::<alias::TapBody>)
        .reply(one::<alias::TapView>),
    op("DELETE", "/api/v1/tap/{id}/", "alias", "Delete a tap", 204),
];
