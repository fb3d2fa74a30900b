//! OTA operations on deployment requests, actions, versions and the device view, and the
//! gateway's signed OTA feed.

use super::operation::{op, q, Kind, Operation, Query};
use super::schema::{any, bytes, one, page, SchemaFn};
use crate::http::{ota_action, ota_device, ota_request, ota_rollout};

const REQUEST_FILTERS: &[Query] = &[
    q(
        "fleet",
        Kind::Text,
        "Requests for these fleets (comma-separated)",
    ),
    q(
        "org",
        Kind::Text,
        "Requests of these orgs (comma-separated slugs)",
    ),
    q("org__slug", Kind::Text, "As `org`"),
    q(
        "scope",
        Kind::Text,
        "`global`, a fleet slug or an org slug: requests of that scope",
    ),
    q(
        "all",
        Kind::Flag,
        "Drafts, completed and halted requests too",
    ),
];
const ACTION_FILTERS: &[Query] = &[
    q("device", Kind::Text, "Actions of a device"),
    q("request", Kind::Integer, "Actions of a deployment request"),
    q("deployment", Kind::Integer, "As `request`"),
];
const FEED_FILTERS: &[Query] = &[q("org", Kind::Text, "The org's slug (required)")];

const VERSION_FILTERS: &[Query] = &[
    q("device", Kind::Text, "Records of a device"),
    q("type", Kind::Text, "`os` or `app`"),
    q(
        "latest",
        Kind::Flag,
        "Only each device's latest record of each type",
    ),
];

const REQUEST: SchemaFn = one::<ota_request::RequestView>;
const ACTION: SchemaFn = one::<ota_action::ActionView>;

const TAG: &str = "ota";

pub const OPERATIONS: &[Operation] = &[
    op(
        "GET",
        "/api/v1/ota/request/",
        TAG,
        "Released, open deployment requests (?fleet=, ?org=, ?scope=; ?all=1 for every one)",
        200,
    )
    .query(REQUEST_FILTERS)
    .paged()
    .reply(page::<ota_request::RequestView>),
    op(
        "POST",
        "/api/v1/ota/request/",
        TAG,
        "Create a deployment request {script, org, fleet?, selection_criteria, released_on?, rollout?}",
        201,
    )
    .body(one::<ota_request::NewRequest>)
    .reply(REQUEST),
    op(
        "GET",
        "/api/v1/ota/request/{id}/",
        TAG,
        "A deployment request with its state and progress",
        200,
    )
    .reply(REQUEST),
    op(
        "PATCH",
        "/api/v1/ota/request/{id}/",
        TAG,
        "Change a request's criteria or fleet (drafts only) or its release time",
        200,
    )
    .body(one::<ota_request::Changes>)
    .reply(REQUEST),
    op(
        "PUT",
        "/api/v1/ota/request/{id}/",
        TAG,
        "As PATCH",
        200,
    )
    .body(one::<ota_request::Changes>)
    .reply(REQUEST),
    op(
        "DELETE",
        "/api/v1/ota/request/{id}/",
        TAG,
        "Delete a deployment request",
        204,
    ),
    op(
        "GET",
        "/api/v1/ota/request/{id}/devices/",
        TAG,
        "The devices a request reaches: a draft's preview, a released one's frozen targets",
        200,
    )
    .paged()
    .reply(page::<ota_device::TargetDevice>),
    op(
        "POST",
        "/api/v1/ota/request/{id}/release/",
        TAG,
        "Release a draft {released_on?}: its targets are frozen into rollout waves",
        200,
    )
    .body(one::<ota_rollout::Release>)
    .reply(REQUEST),
    op(
        "POST",
        "/api/v1/ota/request/{id}/complete/",
        TAG,
        "Complete a deployment by hand",
        200,
    )
    .reply(REQUEST),
    op(
        "POST",
        "/api/v1/ota/request/{id}/halt/",
        TAG,
        "Halt a running deployment {reason?}",
        200,
    )
    .body(one::<ota_rollout::Halt>)
    .reply(REQUEST),
    op(
        "POST",
        "/api/v1/ota/request/{id}/resume/",
        TAG,
        "Resume a halted deployment",
        200,
    )
    .reply(REQUEST),
    op(
        "GET",
        "/api/v1/ota/action/",
        TAG,
        "Deployment actions (?device=, ?request=)",
        200,
    )
    .query(ACTION_FILTERS)
    .paged()
    .reply(page::<ota_action::ActionView>),
    op(
        "POST",
        "/api/v1/ota/action/",
        TAG,
        "Report an attempt {deployment, device, attempt_successful, last_attempt_on, log?}",
        201,
    )
    .body(one::<ota_action::NewBody>)
    .reply(ACTION),
    op(
        "GET",
        "/api/v1/ota/action/{id}/",
        TAG,
        "A deployment action",
        200,
    )
    .reply(ACTION),
    op(
        "PATCH",
        "/api/v1/ota/action/{id}/",
        TAG,
        "Change an action (staff only)",
        200,
    )
    .body(one::<ota_action::ActionChanges>)
    .reply(ACTION),
    op(
        "PUT",
        "/api/v1/ota/action/{id}/",
        TAG,
        "As PATCH (staff only)",
        200,
    )
    .body(one::<ota_action::ActionChanges>)
    .reply(ACTION),
    op(
        "DELETE",
        "/api/v1/ota/action/{id}/",
        TAG,
        "Delete an action (staff only)",
        204,
    ),
    op(
        "GET",
        "/api/v1/ota/device/{slug}/",
        TAG,
        "What an agent needs to update a device: open deployments, actions, versions",
        200,
    )
    .reply(one::<ota_device::DeviceOta>),
    op(
        "GET",
        "/api/v1/ota/version/",
        TAG,
        "Device version records (?device=, ?type=, ?latest=1)",
        200,
    )
    .query(VERSION_FILTERS)
    .paged()
    .reply(page::<ota_device::VersionRecordView>),
    op(
        "GET",
        "/api/v1/ota/feed/",
        TAG,
        "An org's OTA feed for a person's agent (?org=, required; can_access_companion): the gateway feed's shape (sync_protocol::ota::OtaFeed); ETag, If-None-Match",
        200,
    )
    .query(FEED_FILTERS)
    .reply(any),
    op(
        "GET",
        "/api/v1/gateway/ota/",
        "gateway",
        "The gateway's OTA feed (sync_protocol::ota::OtaFeed), signed by the gateway (X-Iotile-* headers); ETag, If-None-Match",
        200,
    )
    .reply(any),
    op(
        "GET",
        "/api/v1/gateway/ota/script/{slug}/",
        "gateway",
        "A deployed script's bytes, signed by the gateway",
        200,
    )
    .reply_as("application/octet-stream", bytes),
    op(
        "POST",
        "/api/v1/gateway/ota/action/",
        "gateway",
        "Report an attempt, signed by the gateway",
        201,
    )
    .body(one::<ota_action::NewBody>)
    .reply(ACTION),
];
