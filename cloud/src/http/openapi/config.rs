//! Configuration attribute names and attributes.

use super::operation::{op, q, Kind, Operation, Query};
use super::schema::{one, page};
use crate::http::config_attr;

const NAME_FILTERS: &[Query] = &[
    q("name_q", Kind::Text, "Names containing this, in any case"),
    q("tag", Kind::Text, "Names carrying this tag"),
];
const ATTR_FILTERS: &[Query] = &[
    q(
        "target",
        Kind::Text,
        "`^org-slug`, `@user-slug`, `p--…`, `d--…` or `b--…`",
    )
    .required(),
    q("name_q", Kind::Text, "Attributes whose name contains this"),
];
const SEARCH: &[Query] = &[
    q(
        "target",
        Kind::Text,
        "Where the search starts: a device, data block, project, org or user",
    )
    .required(),
    q("name", Kind::Text, "The attribute's name").required(),
];

pub(super) const OPERATIONS: &[Operation] = &[
    op(
        "GET",
        "/api/v1/config/name/",
        "config",
        "Configuration attribute names",
        200,
    )
    .query(NAME_FILTERS)
    .paged()
    .reply(page::<config_attr::NameView>),
    op(
        "POST",
        "/api/v1/config/name/",
        "config",
        "Define a configuration attribute name (staff)",
        201,
    )
    .body(one::<config_attr::NameBody>)
    .reply(one::<config_attr::NameView>),
    op(
        "GET",
        "/api/v1/config/name/{id}/",
        "config",
        "One configuration attribute name",
        200,
    )
    .reply(one::<config_attr::NameView>),
    op(
        "PATCH",
        "/api/v1/config/name/{id}/",
        "config",
        "Change a name's description or tags (staff)",
        200,
    )
    .body(one::<config_attr::NameBody>)
    .reply(one::<config_attr::NameView>),
    op(
        "PUT",
        "/api/v1/config/name/{id}/",
        "config",
        "As PATCH (staff)",
        200,
    )
    .body(one::<config_attr::NameBody>)
    .reply(one::<config_attr::NameView>),
    op(
        "DELETE",
        "/api/v1/config/name/{id}/",
        "config",
        "Delete a name and every attribute set under it (staff)",
        204,
    ),
    op(
        "GET",
        "/api/v1/config/attr/",
        "config",
        "The attributes set on a target (?target=)",
        200,
    )
    .query(ATTR_FILTERS)
    .paged()
    .reply(page::<config_attr::AttrView>),
    op(
        "POST",
        "/api/v1/config/attr/",
        "config",
        "Set an attribute on a target: created, or its data replaced",
        201,
    )
    .body(one::<config_attr::AttrBody>)
    .reply(one::<config_attr::AttrView>),
    op(
        "GET",
        "/api/v1/config/attr/search/",
        "config",
        "An attribute by priority: the target, then its project, its org and the caller; with the level that has it",
        200,
    )
    .query(SEARCH)
    .reply(one::<config_attr::Resolved>),
    op(
        "GET",
        "/api/v1/config/attr/{id}/",
        "config",
        "One attribute",
        200,
    )
    .reply(one::<config_attr::AttrView>),
    op(
        "DELETE",
        "/api/v1/config/attr/{id}/",
        "config",
        "Delete an attribute",
        204,
    ),
];
