//! The server itself, logging in, accounts, orgs and projects.

use super::operation::{op, public, q, Kind, Operation, Query};
use super::schema::{any, one, page};
use crate::http::{account, auth, health, org, project, server};

const SEARCH: &[Query] = &[q("search", Kind::Text, "Orgs whose name contains this")];
const PROJECT_FILTERS: &[Query] = &[
    q("org", Kind::Text, "Projects of the org with this slug"),
    q("org__slug", Kind::Text, "As `org`"),
    q("name", Kind::Text, "Projects with this name"),
];
const MEMBER_FILTERS: &[Query] = &[q("all", Kind::Flag, "Inactive members too")];

pub const OPERATIONS: &[Operation] = &[
    public(
        "GET",
        "/api/v1/server/",
        "server",
        "Server clock and name",
        200,
    )
    .reply(one::<server::ServerInfo>),
    public(
        "GET",
        "/api/v1/health/",
        "server",
        "Liveness: 200 when the databases answer, 503 when not",
        200,
    )
    .reply(one::<health::Health>),
    public(
        "GET",
        "/api/v1/openapi.json",
        "server",
        "This document",
        200,
    )
    .reply(any),
    public(
        "POST",
        "/api/v1/auth/login/",
        "auth",
        "Log in with email and password",
        200,
    )
    .body(one::<auth::Login>)
    .reply(one::<auth::LoggedIn>),
    op(
        "POST",
        "/api/v1/auth/logout/",
        "auth",
        "Revoke the JWT of this request",
        204,
    ),
    public(
        "POST",
        "/api/v1/auth/api-jwt-refresh/",
        "auth",
        "Renew an unexpired JWT",
        200,
    )
    .body(one::<auth::TokenBody>)
    .reply(one::<auth::TokenReply>),
    public(
        "POST",
        "/api/v1/auth/api-jwt-auth/",
        "auth",
        "JWT for a username or email and password",
        200,
    )
    .body(one::<auth::JwtAuth>)
    .reply(one::<auth::TokenReply>),
    public(
        "POST",
        "/api/v1/auth/api-jwt-verify/",
        "auth",
        "Check a JWT",
        200,
    )
    .body(one::<auth::TokenBody>)
    .reply(one::<auth::TokenReply>),
    op(
        "GET",
        "/api/v1/auth/token/",
        "auth",
        "The static token and a fresh JWT",
        200,
    )
    .reply(one::<auth::Tokens>),
    public(
        "GET",
        "/api/v1/auth/user-info/",
        "auth",
        "The caller's account and a fresh JWT",
        200,
    )
    .reply(one::<auth::UserInfo>),
    op(
        "GET",
        "/api/v1/account/",
        "account",
        "The caller's account (all accounts for staff)",
        200,
    )
    .paged()
    .reply(page::<account::AccountView>),
    op(
        "GET",
        "/api/v1/account/{slug}/",
        "account",
        "One account",
        200,
    )
    .reply(one::<account::AccountView>),
    op(
        "PATCH",
        "/api/v1/account/{slug}/",
        "account",
        "Update name and tagline",
        200,
    )
    .body(one::<account::ProfileUpdate>)
    .reply(one::<account::AccountView>),
    op("PUT", "/api/v1/account/{slug}/", "account", "As PATCH", 200)
        .body(one::<account::ProfileUpdate>)
        .reply(one::<account::AccountView>),
    op(
        "POST",
        "/api/v1/account/{slug}/set_password/",
        "account",
        "Change the password",
        201,
    )
    .body(one::<account::NewPassword>)
    .reply(one::<account::PasswordSet>),
    op(
        "GET",
        "/api/v1/org/",
        "org",
        "The caller's orgs (all for staff with ?staff=1)",
        200,
    )
    .query(SEARCH)
    .paged()
    .reply(page::<org::OrgView>),
    op(
        "POST",
        "/api/v1/org/",
        "org",
        "Create an org; the caller owns it",
        201,
    )
    .body(one::<org::NewOrg>)
    .reply(one::<org::OrgView>),
    op("GET", "/api/v1/org/{slug}/", "org", "One org", 200).reply(one::<org::OrgView>),
    op(
        "PATCH",
        "/api/v1/org/{slug}/",
        "org",
        "Change name and about (can_manage_org_and_projects)",
        200,
    )
    .body(one::<org::OrgUpdate>)
    .reply(one::<org::OrgView>),
    op("PUT", "/api/v1/org/{slug}/", "org", "As PATCH", 200)
        .body(one::<org::OrgUpdate>)
        .reply(one::<org::OrgView>),
    op(
        "DELETE",
        "/api/v1/org/{slug}/",
        "org",
        "Delete an org without projects or devices (staff, ?staff=1)",
        204,
    ),
    op(
        "GET",
        "/api/v1/org/{slug}/projects/",
        "org",
        "The org's projects",
        200,
    )
    .paged()
    .reply(page::<project::ProjectView>),
    op(
        "GET",
        "/api/v1/org/{slug}/extra/",
        "org",
        "The org with its counts and the caller's membership",
        200,
    )
    .reply(one::<org::OrgExtra>),
    op(
        "GET",
        "/api/v1/org/{slug}/members/",
        "org",
        "The org's members (can_manage_users)",
        200,
    )
    .query(MEMBER_FILTERS)
    .paged()
    .reply(page::<org::MembershipView>),
    op(
        "GET",
        "/api/v1/org/{slug}/membership/",
        "org",
        "The caller's membership",
        200,
    )
    .reply(one::<org::MembershipView>),
    op(
        "POST",
        "/api/v1/org/{slug}/register/",
        "org",
        "Add a member with a role (can_manage_users)",
        201,
    )
    .body(one::<org::Registration>)
    .reply(one::<org::MembershipView>),
    op(
        "GET",
        "/api/v1/project/",
        "project",
        "Projects of the caller's orgs",
        200,
    )
    .query(PROJECT_FILTERS)
    .paged()
    .reply(page::<project::ProjectView>),
    op(
        "POST",
        "/api/v1/project/",
        "project",
        "Create a project (can_manage_org_and_projects)",
        201,
    )
    .body(one::<project::NewBody>)
    .reply(one::<project::ProjectView>),
    op(
        "POST",
        "/api/v1/project/new/",
        "project",
        "Create a project, answering its id only",
        201,
    )
    .body(one::<project::NewBody>)
    .reply(one::<project::NewProjectId>),
    op(
        "GET",
        "/api/v1/project/{id}/",
        "project",
        "One project",
        200,
    )
    .reply(one::<project::ProjectView>),
    op(
        "PATCH",
        "/api/v1/project/{id}/",
        "project",
        "Change name, about or template (can_manage_org_and_projects)",
        200,
    )
    .body(one::<project::ProjectUpdate>)
    .reply(one::<project::ProjectView>),
    op("PUT", "/api/v1/project/{id}/", "project", "As PATCH", 200)
        .body(one::<project::ProjectUpdate>)
        .reply(one::<project::ProjectView>),
    op(
        "DELETE",
        "/api/v1/project/{id}/",
        "project",
        "Delete a project without claimed devices (staff)",
        204,
    ),
    op(
        "GET",
        "/api/v1/project/{id}/extra/",
        "project",
        "The project with its counts",
        200,
    )
    .reply(one::<project::ProjectExtra>),
];
