//! Variables, streams, their data and events, properties, notes, locations and fleets.

use super::operation::{op, q, Kind, Operation, Query, MULTIPART};
use super::schema::{any, either, list, one, one_or_many, page, text, SchemaFn, Schemas};
use crate::http::json::Count;
use crate::http::{
    chart, data, event, event_upload, fleet, location, note, property, stream, variable,
};

const VARIABLE_FILTERS: &[Query] = &[
    q(
        "project",
        Kind::Text,
        "A project's id (with the variables of no project) or p-- slug",
    ),
    q("org", Kind::Text, "Variables of the org with this slug"),
    q("org__slug", Kind::Text, "As `org`"),
    q("search", Kind::Text, "Variables whose name contains this"),
];
const STREAM_FILTERS: &[Query] = &[
    q(
        "project",
        Kind::Text,
        "Streams of a project (id or p-- slug), data blocks' left out",
    ),
    q("device", Kind::Text, "Streams of a device"),
    q("block", Kind::Text, "Streams of a data block (b--…)"),
    q("variable", Kind::Text, "Streams of a variable (v--…)"),
    q("org", Kind::Text, "Streams of the org with this slug"),
    q("org__slug", Kind::Text, "As `org`"),
    q("enabled", Kind::Text, "`1`/`true` or `0`/`false`"),
    q("virtual", Kind::Flag, "Only streams of no device"),
    q("archived", Kind::Flag, "Only data blocks' streams"),
    q("all", Kind::Flag, "Inactive devices' streams too"),
];
const TIMES: [Query; 3] = [
    q("start", Kind::DateTime, "From this time on"),
    q("end", Kind::DateTime, "Before this time"),
    q("lastn", Kind::Integer, "Only the last n (1 to 100,000)"),
];
const STREAM_DATA: &[Query] = &TIMES;
const ROW_FILTERS: &[Query] = &[
    q("filter", Kind::Text, "The stream, device, data block, variable or alias slug whose rows to list; without it the list is empty"),
    TIMES[0],
    TIMES[1],
    TIMES[2],
    q("streamer_id_0", Kind::Integer, "Streamer ids from this one"),
    q("streamer_id_1", Kind::Integer, "Streamer ids up to this one"),
    q("streamer_id_min", Kind::Integer, "As `streamer_id_0`"),
    q("streamer_id_max", Kind::Integer, "As `streamer_id_1`"),
    q("id_0", Kind::Integer, "Row ids from this one"),
    q("id_1", Kind::Integer, "Row ids up to this one"),
];
const EVENT_FILTERS: &[Query] = &[
    ROW_FILTERS[0],
    TIMES[0],
    TIMES[1],
    TIMES[2],
    ROW_FILTERS[4],
    ROW_FILTERS[5],
    ROW_FILTERS[6],
    ROW_FILTERS[7],
    ROW_FILTERS[8],
    ROW_FILTERS[9],
    q(
        "with_errors",
        Kind::Flag,
        "Events whose processing failed too (staff)",
    ),
];
const CHART_RANGE: &[Query] = &[
    q(
        "start",
        Kind::DateTime,
        "The range's start (a date/time as `/data/` takes it, or a bare date)",
    )
    .required(),
    q(
        "end",
        Kind::DateTime,
        "The range's end, excluded; after `start`",
    )
    .required(),
    q(
        "buckets",
        Kind::Integer,
        "At most this many time buckets: 10 to 4000, 1000 by default",
    ),
];
const TARGET: Query = q(
    "target",
    Kind::Text,
    "The slug the records are on (required)",
);
const PROPERTY_FILTERS: &[Query] = &[TARGET];
const TARGET_TIMES: &[Query] = &[TARGET, TIMES[0], TIMES[1], TIMES[2]];
const FLEET_FILTERS: &[Query] = &[
    q("org", Kind::Text, "Fleets of the org with this slug"),
    q("org__slug", Kind::Text, "As `org`"),
    q("is_network", Kind::Text, "`1`/`true` or `0`/`false`"),
    q("device", Kind::Text, "Fleets holding this device"),
];

/// One row written, or how many.
fn row_or_count(s: &mut Schemas) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    either(one::<data::RowView>(s), one::<Count>(s))
}

fn event_or_count(s: &mut Schemas) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    either(one::<event::EventView>(s), one::<Count>(s))
}

fn note_or_count(s: &mut Schemas) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    either(one::<note::NoteView>(s), one::<Count>(s))
}

fn location_or_last(s: &mut Schemas) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    either(
        one::<location::LocationView>(s),
        one::<location::LocationsWritten>(s),
    )
}

const VARIABLE: SchemaFn = one::<variable::VariableView>;
const STREAM: SchemaFn = one::<stream::StreamView>;
const PROPERTY: SchemaFn = one::<property::PropertyView>;
const FLEET: SchemaFn = one::<fleet::FleetView>;

pub const OPERATIONS: &[Operation] = &[
    op(
        "GET",
        "/api/v1/variable/",
        "variable",
        "Variables of the orgs where the caller may read stream ids",
        200,
    )
    .query(VARIABLE_FILTERS)
    .paged()
    .reply(page::<variable::VariableView>),
    op(
        "POST",
        "/api/v1/variable/",
        "variable",
        "Create a variable",
        201,
    )
    .body(one::<variable::NewVariable>)
    .reply(VARIABLE),
    op(
        "GET",
        "/api/v1/variable/{slug}/",
        "variable",
        "One variable",
        200,
    )
    .reply(VARIABLE),
    op(
        "PATCH",
        "/api/v1/variable/{slug}/",
        "variable",
        "Update a variable (lid and project stay)",
        200,
    )
    .body(one::<variable::VariableChanges>)
    .reply(VARIABLE),
    op(
        "PUT",
        "/api/v1/variable/{slug}/",
        "variable",
        "As PATCH",
        200,
    )
    .body(one::<variable::VariableChanges>)
    .reply(VARIABLE),
    op(
        "DELETE",
        "/api/v1/variable/{slug}/",
        "variable",
        "Delete a variable without streams (staff)",
        204,
    ),
    op(
        "GET",
        "/api/v1/stream/",
        "stream",
        "Streams of the orgs where the caller may read stream ids",
        200,
    )
    .query(STREAM_FILTERS)
    .paged()
    .reply(page::<stream::StreamView>),
    op(
        "POST",
        "/api/v1/stream/",
        "stream",
        "Create a stream for a variable",
        201,
    )
    .body(one::<stream::NewStream>)
    .reply(STREAM),
    op("GET", "/api/v1/stream/{slug}/", "stream", "One stream", 200).reply(STREAM),
    op(
        "PATCH",
        "/api/v1/stream/{slug}/",
        "stream",
        "Update a stream",
        200,
    )
    .body(one::<stream::StreamChanges>)
    .reply(STREAM),
    op(
        "PUT",
        "/api/v1/stream/{slug}/",
        "stream",
        "Replace a stream's settings",
        200,
    )
    .body(one::<stream::StreamChanges>)
    .reply(STREAM),
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
    )
    .query(STREAM_DATA)
    .paged()
    .reply(page::<data::DisplayRow>),
    op(
        "GET",
        "/api/v1/stream/{slug}/csv/",
        "stream",
        "A stream's data as CSV (Timestamp,Value)",
        200,
    )
    .reply_as("text/csv", text),
    op(
        "GET",
        "/api/v1/stream/{slug}/chart/",
        "stream",
        "A stream's data over [start, end) summarized in time buckets (min, max, mean, first, last), read from the rollup tiers",
        200,
    )
    .query(CHART_RANGE)
    .reply(one::<chart::Answer>),
    op(
        "GET",
        "/api/v1/data/",
        "data",
        "Stream data (?filter=, lastn, start, end)",
        200,
    )
    .query(ROW_FILTERS)
    .paged()
    .reply(page::<data::RowView>),
    op(
        "POST",
        "/api/v1/data/",
        "data",
        "Write stream data: one row, or an array (answered with its count)",
        201,
    )
    .body(one_or_many::<data::PostedRow>)
    .reply(row_or_count),
    op(
        "GET",
        "/api/v1/data/{id}/",
        "data",
        "One data row (staff)",
        200,
    )
    .reply(one::<data::RowView>),
    op(
        "GET",
        "/api/v1/event/",
        "event",
        "Stream events (?filter=, lastn, start, end)",
        200,
    )
    .query(EVENT_FILTERS)
    .paged()
    .reply(page::<event::EventView>),
    op(
        "POST",
        "/api/v1/event/",
        "event",
        "Write events: one, or an array (answered with its count)",
        201,
    )
    .body(one_or_many::<event::PostedEvent>)
    .reply(event_or_count),
    op(
        "POST",
        "/api/v1/event/upload/",
        "event",
        "Upload an event with its JSON document (multipart)",
        201,
    )
    .body_as(MULTIPART, one::<event_upload::EventUploadForm>)
    .reply(one::<event_upload::UploadedEvent>),
    op("GET", "/api/v1/event/{id}/", "event", "One event", 200).reply(one::<event::EventView>),
    op(
        "PATCH",
        "/api/v1/event/{id}/",
        "event",
        "Replace an event's summary or document",
        200,
    )
    .body(one::<event::EventChanges>)
    .reply(one::<event::EventView>),
    op(
        "GET",
        "/api/v1/event/{id}/data/",
        "event",
        "An event's raw document, as it was posted",
        200,
    )
    .reply(any),
    op(
        "GET",
        "/api/v1/property/",
        "property",
        "Properties of a target (?target=; 406 without it)",
        200,
    )
    .query(PROPERTY_FILTERS)
    .paged()
    .reply(page::<property::PropertyView>),
    op(
        "POST",
        "/api/v1/property/",
        "property",
        "Create a property",
        201,
    )
    .body(one::<property::PropertyBody>)
    .reply(one::<property::PropertyCreated>),
    op(
        "GET",
        "/api/v1/property/{id}/",
        "property",
        "One property",
        200,
    )
    .reply(PROPERTY),
    op(
        "PATCH",
        "/api/v1/property/{id}/",
        "property",
        "Update a property",
        200,
    )
    .body(one::<property::PropertyBody>)
    .reply(PROPERTY),
    op(
        "PUT",
        "/api/v1/property/{id}/",
        "property",
        "Replace a property",
        200,
    )
    .body(one::<property::PropertyBody>)
    .reply(PROPERTY),
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
    )
    .reply(list::<property::PropertyItem>),
    op(
        "POST",
        "/api/v1/device/{slug}/new_property/",
        "property",
        "Create or replace a device property",
        201,
    )
    .body(one::<property::PropertyBody>)
    .reply(one::<property::PropertyCreated>),
    op(
        "GET",
        "/api/v1/project/{id}/properties/",
        "property",
        "A project's properties (plain array)",
        200,
    )
    .reply(list::<property::PropertyItem>),
    op(
        "POST",
        "/api/v1/project/{id}/new_property/",
        "property",
        "Create or replace a project property",
        201,
    )
    .body(one::<property::PropertyBody>)
    .reply(one::<property::PropertyCreated>),
    op(
        "GET",
        "/api/v1/note/",
        "note",
        "Notes of a target (?target=)",
        200,
    )
    .query(TARGET_TIMES)
    .paged()
    .reply(page::<note::NoteView>),
    op(
        "POST",
        "/api/v1/note/",
        "note",
        "Write notes: one, or an array (answered with its count)",
        201,
    )
    .body(one_or_many::<note::PostedNote>)
    .reply(note_or_count),
    op("GET", "/api/v1/note/{id}/", "note", "One note", 200).reply(one::<note::NoteView>),
    op(
        "GET",
        "/api/v1/location/",
        "location",
        "Locations of a target (?target=)",
        200,
    )
    .query(TARGET_TIMES)
    .paged()
    .reply(page::<location::LocationView>),
    op(
        "POST",
        "/api/v1/location/",
        "location",
        "Write locations of one target: one, or an array (answered with its count and newest)",
        201,
    )
    .body(one_or_many::<location::PostedLocation>)
    .reply(location_or_last),
    op(
        "GET",
        "/api/v1/fleet/",
        "fleet",
        "Fleets of the caller's orgs (?device= for a device's fleets)",
        200,
    )
    .query(FLEET_FILTERS)
    .paged()
    .reply(page::<fleet::FleetView>),
    op("POST", "/api/v1/fleet/", "fleet", "Create a fleet", 201)
        .body(one::<fleet::NewFleet>)
        .reply(FLEET),
    op("GET", "/api/v1/fleet/{slug}/", "fleet", "One fleet", 200).reply(FLEET),
    op(
        "PATCH",
        "/api/v1/fleet/{slug}/",
        "fleet",
        "Update a fleet",
        200,
    )
    .body(one::<fleet::FleetChanges>)
    .reply(FLEET),
    op(
        "PUT",
        "/api/v1/fleet/{slug}/",
        "fleet",
        "Replace a fleet's fields",
        200,
    )
    .body(one::<fleet::FleetChanges>)
    .reply(FLEET),
    op(
        "DELETE",
        "/api/v1/fleet/{slug}/",
        "fleet",
        "Delete a fleet",
        204,
    ),
    op(
        "GET",
        "/api/v1/fleet/{slug}/devices/",
        "fleet",
        "The fleet's members",
        200,
    )
    .paged()
    .reply(page::<fleet::MemberView>),
    op(
        "POST",
        "/api/v1/fleet/{slug}/register/",
        "fleet",
        "Add a device to the fleet",
        201,
    )
    .body(one::<fleet::Membership>)
    .reply(one::<fleet::MemberView>),
    op(
        "POST",
        "/api/v1/fleet/{slug}/deregister/",
        "fleet",
        "Remove a device from the fleet",
        202,
    )
    .body(one::<fleet::Departure>)
    .reply(one::<fleet::Deregistered>),
];
