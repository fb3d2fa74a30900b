//! Devices, claims, the catalogue, streamers and their reports, the job queue and gateways.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

use super::operation::{op, public, q, Kind, Operation, Query, MULTIPART};
use super::schema::{any, list, one, page, page_of, SchemaFn, Schemas};
use crate::http::{
    claim, device, device_key, device_versions, gateway, report, report_upload, streamer,
};

const DEVICE_FILTERS: &[Query] = &[
    q(
        "project",
        Kind::Text,
        "Devices of a project (id or p-- slug)",
    ),
    q("org__slug", Kind::Text, "Devices of the org with this slug"),
    q("sg", Kind::Text, "Devices with this sensor graph"),
    q("dt", Kind::Text, "Devices with this device template"),
    q("external_id", Kind::Text, "Devices with this external id"),
    q(
        "claimed",
        Kind::Text,
        "`1`/`true` for claimed devices, anything else for unclaimed",
    ),
    q("all", Kind::Flag, "Inactive devices too"),
];
const KEY_TYPE: &[Query] = &[q(
    "type",
    Kind::Text,
    "`a-jwt` for a device token, or a stored key's type (required)",
)];
const STREAMER_FILTERS: &[Query] = &[
    q("device", Kind::Text, "Streamers of a device"),
    q(
        "selector",
        Kind::Text,
        "Streamers with this selector (decimal or 0x hex)",
    ),
    q("slug", Kind::Text, "The streamer with this slug"),
];
const REPORT_FILTERS: &[Query] = &[q(
    "streamer__slug",
    Kind::Text,
    "Reports of this streamer; without it the list is empty",
)];
const UPLOAD: &[Query] = &[q(
    "timestamp",
    Kind::DateTime,
    "When the report was received, in UTC (required)",
)];
const JOB_FILTERS: &[Query] = &[q(
    "state",
    Kind::Text,
    "Jobs in this state (`dead`: gave up)",
)];

/// A catalogue record as stored (the seed's JSON), without its internal `active` flag.
fn catalogue_entry(_: &mut Schemas) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "A catalogue record: slug, name and the kind's own fields",
        ))
        .into()
}

fn catalogue_page(s: &mut Schemas) -> RefOr<Schema> {
    page_of(catalogue_entry(s))
}

const DEVICE: SchemaFn = one::<device::DeviceView>;

pub const OPERATIONS: &[Operation] = &[
    op(
        "GET",
        "/api/v1/device/",
        "device",
        "Devices of the caller's orgs",
        200,
    )
    .query(DEVICE_FILTERS)
    .paged()
    .reply(page::<device::DeviceView>),
    op(
        "POST",
        "/api/v1/device/",
        "device",
        "Register a device (staff, ?staff=1)",
        201,
    )
    .body(one::<device::NewDevice>)
    .reply(DEVICE),
    op(
        "GET",
        "/api/v1/device/{slug}/",
        "device",
        "One device by any form of its slug",
        200,
    )
    .reply(DEVICE),
    op(
        "PATCH",
        "/api/v1/device/{slug}/",
        "device",
        "Update a device (sg; template for staff)",
        200,
    )
    .body(one::<device::DeviceChanges>)
    .reply(DEVICE),
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
    )
    .query(KEY_TYPE)
    .reply(one::<device_key::DeviceKey>),
    op(
        "GET",
        "/api/v1/device/{slug}/extra/",
        "device",
        "The device with stream counts",
        200,
    )
    .reply(one::<device::DeviceExtra>),
    op(
        "GET",
        "/api/v1/device/{slug}/streamers/",
        "device",
        "The device's streamers (plain array)",
        200,
    )
    .reply(list::<streamer::StreamerView>),
    op(
        "GET",
        "/api/v1/device/{slug}/sg/",
        "device",
        "The device's sensor graph",
        200,
    )
    .reply(catalogue_entry),
    op(
        "GET",
        "/api/v1/device/{slug}/template/",
        "device",
        "The device's template",
        200,
    )
    .reply(catalogue_entry),
    op(
        "GET",
        "/api/v1/device/{slug}/versions/",
        "device",
        "The device's latest OS and app versions",
        200,
    )
    .reply(list::<device_versions::VersionView>),
    op(
        "POST",
        "/api/v1/device/claim/",
        "device",
        "Claim a device into a project",
        202,
    )
    .body(one::<claim::ClaimRequest>)
    .reply(one::<claim::Claimed>),
    op(
        "POST",
        "/api/v1/device/claimable/",
        "device",
        "Which devices can be claimed",
        202,
    )
    .body(one::<claim::ClaimableRequest>)
    .reply(one::<claim::ClaimableDevices>),
    op(
        "POST",
        "/api/v1/device/{slug}/unclaim/",
        "device",
        "Release a device from its project",
        202,
    )
    .body(one::<claim::UnclaimRequest>)
    .reply(one::<claim::Unclaimed>),
    op("GET", "/api/v1/sg/", "catalogue", "Active sensor graphs", 200)
        .paged()
        .reply(catalogue_page),
    op("GET", "/api/v1/sg/{slug}/", "catalogue", "One sensor graph", 200).reply(catalogue_entry),
    op(
        "GET",
        "/api/v1/dt/",
        "catalogue",
        "Active device templates (inactive too for staff, ?staff=1)",
        200,
    )
    .paged()
    .reply(catalogue_page),
    op("GET", "/api/v1/dt/{slug}/", "catalogue", "One device template", 200)
        .reply(catalogue_entry),
    op("GET", "/api/v1/vartype/", "catalogue", "Variable types", 200)
        .paged()
        .reply(catalogue_page),
    op(
        "GET",
        "/api/v1/vartype/{slug}/",
        "catalogue",
        "One variable type",
        200,
    )
    .reply(catalogue_entry),
    op(
        "GET",
        "/api/v1/streamer/",
        "streamer",
        "Streamers with their acknowledged last_id",
        200,
    )
    .query(STREAMER_FILTERS)
    .paged()
    .reply(page::<streamer::StreamerView>),
    op(
        "GET",
        "/api/v1/streamer/{slug}/",
        "streamer",
        "One streamer",
        200,
    )
    .reply(one::<streamer::StreamerView>),
    op(
        "GET",
        "/api/v1/gateway/",
        "gateway",
        "The gateways of the caller's orgs (one page)",
        200,
    )
    .reply(page::<gateway::GatewayView>),
    op(
        "POST",
        "/api/v1/gateway/code/",
        "gateway",
        "A one-time code that binds a gateway to an org",
        201,
    )
    .body(one::<gateway::CodeRequest>)
    .reply(one::<gateway::GatewayCode>),
    public(
        "POST",
        "/api/v1/gateway/register/",
        "gateway",
        "Bind a gateway's ed25519 key to an org with a code (sync_protocol::gateway::Registration)",
        201,
    )
    .body(any)
    .reply(one::<gateway::GatewayView>),
    op(
        "POST",
        "/api/v1/gateway/sync/",
        "gateway",
        "Upload a batch of raw reports, signed by the gateway (X-Iotile-* headers; sync_protocol::gateway::SyncBatch, answered with a SyncAnswer)",
        200,
    )
    .body(any)
    .reply(any),
    op(
        "POST",
        "/api/v1/gateway/{slug}/revoke/",
        "gateway",
        "Revoke a gateway",
        200,
    )
    .reply(one::<gateway::GatewayView>),
    op(
        "POST",
        "/api/v1/streamer/report/",
        "streamer",
        "Upload a streamer report (multipart `file`, ?timestamp=)",
        201,
    )
    .query(UPLOAD)
    .body_as(MULTIPART, one::<report_upload::ReportForm>)
    .reply(one::<report_upload::ReportStored>),
    op(
        "GET",
        "/api/v1/streamer/report/",
        "streamer",
        "Reports of one streamer (?streamer__slug=)",
        200,
    )
    .query(REPORT_FILTERS)
    .paged()
    .reply(page::<report::ReportView>),
    op(
        "GET",
        "/api/v1/streamer/report/{id}/",
        "streamer",
        "One report with its processing status",
        200,
    )
    .reply(one::<report::ReportView>),
    op(
        "GET",
        "/api/v1/streamer/{slug}/report/",
        "streamer",
        "A streamer's reports (plain array)",
        200,
    )
    .reply(list::<report::ReportView>),
    op(
        "GET",
        "/api/v1/job/",
        "job",
        "The job queue (staff), with how many jobs are in each state",
        200,
    )
    .query(JOB_FILTERS)
    .paged()
    .reply(one::<report::JobPage>),
    op("GET", "/api/v1/job/{id}/", "job", "One job (staff)", 200).reply(one::<report::Job>),
    op(
        "POST",
        "/api/v1/job/{id}/retry/",
        "job",
        "Queue a dead job again (staff)",
        202,
    )
    .reply(one::<report::Job>),
];
