//! A member's role change and removal, run by the same rules an API endpoint would call
//! (`http::members`): `can_manage_users`, ownership only from an owner, at least one owner.

use askama::Template;
use axum::extract::{Path, State};
use axum::Form;
use serde::Deserialize;

use super::{refused, Choice};
use crate::auth::perms;
use crate::http::error::ApiError;
use crate::http::{members, org};
use crate::state::AppState;
use crate::store::orgs::{Membership, Org};
use crate::store::users::User;
use crate::web::forms::FieldErrors;
use crate::web::pages::{confirm, render, Page, PageResult, WebError};
use crate::web::session::{redirect_with, Session};

/// How a member is named on these pages.
fn label(user: &User) -> String {
    if user.name.is_empty() {
        user.email.clone()
    } else {
        format!("{} ({})", user.name, user.email)
    }
}

/// The org and the member the URL names, as the caller may see them (404 otherwise).
async fn target(
    state: &AppState,
    session: &Session,
    slug: &str,
    user: &str,
) -> Result<(Org, Membership, User), WebError> {
    let org = org::visible(state, &session.caller, slug).await?;
    if !members::manages(&session.caller, &org.id) {
        // Members are listed only to those who manage them: to others they are not there.
        return Err(ApiError::no_permission().into());
    }
    let (m, u) = members::member(state, &org, user).await?;
    Ok((org, m, u))
}

#[derive(Template)]
#[template(path = "manage/member_role.html")]
struct RolePage {
    page: Page,
    org: Org,
    member: String,
    user_slug: String,
    roles: Vec<Choice>,
    role: String,
    errors: FieldErrors,
}

/// The role choices the caller may give a member who has `current`.
fn choices(session: &Session, org: &Org, current: &str) -> Vec<Choice> {
    members::roles_for(&session.caller, &org.id, current)
        .into_iter()
        .map(|r| Choice::new(r, perms::role_name(r).unwrap_or(r)))
        .collect()
}

async fn role_page(
    state: &AppState,
    session: &Session,
    org: Org,
    user: &User,
    roles: Vec<Choice>,
    role: String,
    errors: FieldErrors,
) -> PageResult {
    let page = Page::load(state, session, "Change a member's role", "org")
        .await?
        .in_org(&org.slug);
    render(&RolePage {
        page,
        org,
        member: label(user),
        user_slug: user.slug.clone(),
        roles,
        role,
        errors,
    })
}

pub async fn role_form(
    State(state): State<AppState>,
    session: Session,
    Path((slug, user)): Path<(String, String)>,
) -> PageResult {
    let (org, m, user) = target(&state, &session, &slug, &user).await?;
    let roles = choices(&session, &org, &m.role);
    if roles.is_empty() {
        return Err(WebError::Forbidden(
            "Only an owner can grant or take away ownership.".into(),
        ));
    }
    role_page(
        &state,
        &session,
        org,
        &user,
        roles,
        m.role,
        FieldErrors::new(),
    )
    .await
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

pub async fn set_role(
    State(state): State<AppState>,
    session: Session,
    Path((slug, user)): Path<(String, String)>,
    Form(form): Form<RoleForm>,
) -> PageResult {
    let (org, m, user) = target(&state, &session, &slug, &user).await?;
    match members::set_role(&state, &session.caller, &org, &user.slug, &form.role).await {
        Ok(changed) => {
            let role = perms::role_name(&changed.role).unwrap_or("a member");
            let message = format!("{} is now {role}.", user.email);
            Ok(redirect_with(&format!("/org/{}", org.slug), message))
        }
        Err(e) => {
            let errors = FieldErrors::from_api(e)?;
            let roles = choices(&session, &org, &m.role);
            let page = role_page(&state, &session, org, &user, roles, form.role, errors);
            Ok(refused(page.await?))
        }
    }
}

pub async fn confirm_remove(
    State(state): State<AppState>,
    session: Session,
    Path((slug, user)): Path<(String, String)>,
) -> PageResult {
    let (org, m, user) = target(&state, &session, &slug, &user).await?;
    if !members::may_remove(&session.caller, &org.id, &m.role) {
        return Err(WebError::Forbidden(
            "Only an owner can grant or take away ownership.".into(),
        ));
    }
    let yourself = user.id == session.user().id;
    let question = if yourself {
        format!("Leave {}?", org.name)
    } else {
        format!("Remove {} from {}?", label(&user), org.name)
    };
    let details = if yourself {
        vec![
            "You will no longer see this org's projects, devices or data.".to_string(),
            "Only someone who manages its members can add you again.".to_string(),
        ]
    } else {
        vec![
            "They will no longer see this org's projects, devices or data. Their account \
              stays, and they can be added again later."
                .to_string(),
        ]
    };
    let back = format!("/org/{}", org.slug);
    let action = format!("/org/{}/members/{}/remove", org.slug, user.slug);
    let button = if yourself {
        "Leave the org"
    } else {
        "Remove member"
    };
    let page = Page::load(&state, &session, question.clone(), "org")
        .await?
        .in_org(&org.slug);
    confirm(page, &question, &details, &action, button, &back)
}

pub async fn remove(
    State(state): State<AppState>,
    session: Session,
    Path((slug, user)): Path<(String, String)>,
) -> PageResult {
    let (org, _, user) = target(&state, &session, &slug, &user).await?;
    let gone = members::remove(&state, &session.caller, &org, &user.slug).await?;
    if gone.id == session.user().id && !session.caller.staff_mode {
        return Ok(redirect_with("/", format!("You left {}.", org.name)));
    }
    let message = format!("{} was removed from {}.", gone.email, org.name);
    Ok(redirect_with(&format!("/org/{}", org.slug), message))
}
