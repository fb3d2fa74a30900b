//! OTA operations on device scripts, their files and signatures, and release keys.

use super::operation::{op, public, q, Kind, Operation, Query, MULTIPART};
use super::schema::{any, bytes, one, page, SchemaFn};
use crate::http::{ota_script, ota_script_file, release_key};

const SCRIPT_FILTERS: &[Query] = &[
    q("org", Kind::Text, "Scripts of the org with this slug"),
    q("org__slug", Kind::Text, "As `org`"),
    q(
        "version",
        Kind::Text,
        "Scripts of this version or version prefix: M, M.m or M.m.p",
    ),
];
const KEY_FILTERS: &[Query] = &[
    q("org", Kind::Text, "Keys of the org with this slug"),
    q("org__slug", Kind::Text, "As `org`"),
];
const LINK: &[Query] = &[
    q(
        "expires",
        Kind::Integer,
        "The link's expiry, seconds since the epoch",
    ),
    q("sig", Kind::Text, "The link's signature"),
];

const SCRIPT: SchemaFn = one::<ota_script::ScriptView>;
const KEY: SchemaFn = one::<release_key::KeyView>;
const POLICY: SchemaFn = one::<release_key::OtaPolicy>;

pub const OPERATIONS: &[Operation] = &[
    op(
        "GET",
        "/api/v1/ota/script/",
        "ota",
        "Device scripts: staff see all, members their orgs' (?org=, ?version=M[.m[.p]])",
        200,
    )
    .query(SCRIPT_FILTERS)
    .paged()
    .reply(page::<ota_script::ScriptView>),
    op(
        "POST",
        "/api/v1/ota/script/",
        "ota",
        "Create a device script {name, org, version} (can_manage_ota)",
        201,
    )
    .body(one::<ota_script::NewScript>)
    .reply(SCRIPT),
    op(
        "GET",
        "/api/v1/ota/script/{slug}/",
        "ota",
        "One device script",
        200,
    )
    .reply(SCRIPT),
    op(
        "PATCH",
        "/api/v1/ota/script/{slug}/",
        "ota",
        "Rename, or release with {\"released\": true} (file and signature checked)",
        200,
    )
    .body(one::<ota_script::ScriptChanges>)
    .reply(SCRIPT),
    op(
        "DELETE",
        "/api/v1/ota/script/{slug}/",
        "ota",
        "Delete a script no deployment request uses",
        204,
    ),
    op(
        "POST",
        "/api/v1/ota/script/{slug}/upload/",
        "ota",
        "Upload the script's .trub file (multipart `file`)",
        201,
    )
    .body_as(MULTIPART, one::<ota_script_file::ScriptForm>)
    .reply(SCRIPT),
    op(
        "POST",
        "/api/v1/ota/script/{slug}/uploadurl/",
        "ota",
        "Start a two-step upload {name}: a URL and fields to post the file to",
        202,
    )
    .body(one::<ota_script_file::UploadUrl>)
    .reply(one::<ota_script_file::UploadTarget>),
    public(
        "POST",
        "/api/v1/ota/script/{slug}/presigned/",
        "ota",
        "Post the file with the fields uploadurl gave (multipart, no credentials)",
        204,
    )
    .body_as(MULTIPART, one::<ota_script_file::PresignedForm>),
    op(
        "POST",
        "/api/v1/ota/script/{slug}/uploadsuccess/",
        "ota",
        "Attach the file of a two-step upload {name, uuid}",
        202,
    )
    .body(one::<ota_script_file::UploadSuccess>)
    .reply(one::<ota_script_file::UploadedFile>),
    op(
        "POST",
        "/api/v1/ota/script/{slug}/signature/",
        "ota",
        "Store a release signature (sync_protocol::ota::release::ReleaseSignature), verified against the org's current keys",
        201,
    )
    .body(any)
    .reply(SCRIPT),
    op(
        "GET",
        "/api/v1/ota/script/{slug}/file/",
        "ota",
        "Where to download the file: {name, url, key, major_version, minor_version, patch_version}",
        200,
    )
    .reply(one::<ota_script_file::FileLocation>),
    public(
        "GET",
        "/api/v1/ota/script/{slug}/download/",
        "ota",
        "The file's bytes, with a signed link's ?expires=&sig= (no credentials)",
        200,
    )
    .query(LINK)
    .reply_as("application/octet-stream", bytes),
    op(
        "GET",
        "/api/v1/ota/key/",
        "ota",
        "Release keys of the caller's orgs (?org=)",
        200,
    )
    .query(KEY_FILTERS)
    .paged()
    .reply(page::<release_key::KeyView>),
    op(
        "POST",
        "/api/v1/ota/key/",
        "ota",
        "Add a release key {org, key: \"rk--…\", label} (can_manage_ota)",
        201,
    )
    .body(one::<release_key::NewKey>)
    .reply(KEY),
    op(
        "GET",
        "/api/v1/ota/key/{id}/",
        "ota",
        "One release key",
        200,
    )
    .reply(KEY),
    op(
        "POST",
        "/api/v1/ota/key/{id}/revoke/",
        "ota",
        "Revoke a release key (can_manage_ota)",
        200,
    )
    .reply(KEY),
    op(
        "GET",
        "/api/v1/org/{slug}/ota/",
        "ota",
        "The org's OTA policy {allow_unsigned}",
        200,
    )
    .reply(POLICY),
    op(
        "PATCH",
        "/api/v1/org/{slug}/ota/",
        "ota",
        "Change the org's OTA policy (can_manage_org_and_projects)",
        200,
    )
    .body(one::<release_key::PolicyChange>)
    .reply(POLICY),
];
