//! The org page: the org's name and about, its counts, and (for those who may manage users,
//! as the API's member list requires) its members with their roles; the edit form; adding a
//! member by email. An org the caller cannot see is the 404 page, by link or by form.

use askama::Template;
use axum::extract::{Path, State};
use axum::Form;
use serde::Deserialize;

use super::{day, minute, refused, Choice};
use crate::auth::perms;
use crate::http::{members, org};
use crate::state::AppState;
use crate::store::orgs::{self, MemberSort, Org};
use crate::web::forms::FieldErrors;
use crate::web::listing::Listing;
use crate::web::pages::{render, Page, PageResult, WebError};
use crate::web::session::{clear_flash, redirect_with, Session};

/// A member as the list shows it, with what the caller may do to them.
pub struct MemberRow {
    pub slug: String,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub since: String,
    pub is_you: bool,
    pub can_change: bool,
    pub can_remove: bool,
}

/// The add-a-member form's values.
#[derive(Deserialize)]
pub struct AddMember {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

#[derive(Template)]
#[template(path = "manage/org.html")]
struct OrgPage {
    page: Page,
    org: Org,
    created: String,
    projects: i64,
    devices: i64,
    member_count: i64,
    aliases: i64,
    your_role: &'static str,
    can_edit: bool,
    manages: bool,
    members: Vec<MemberRow>,
    list: Listing,
    add: AddMember,
    roles: Vec<Choice>,
    errors: FieldErrors,
}

/// The roles a new member can be given, as choices.
fn grantable() -> Vec<Choice> {
    members::GRANTABLE
        .iter()
        .map(|r| Choice::new(*r, perms::role_name(r).unwrap_or(r)))
        .collect()
}

/// The caller's role in the org, in words ("Staff" for staff who are not members).
fn role_of(session: &Session, org: &Org) -> &'static str {
    session
        .caller
        .membership(&org.id)
        .and_then(|m| perms::role_name(&m.role))
        .unwrap_or("Staff")
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    list: Listing,
) -> PageResult {
    let org = org::visible(&state, &session.caller, &slug).await?;
    let add = AddMember {
        email: String::new(),
        role: "m1".into(),
    };
    let response = org_page(&state, &session, org, list, add, None).await?;
    Ok(clear_flash(&session, response))
}

/// The org page, with the add-member form holding `add` and its `errors` when it was sent.
async fn org_page(
    state: &AppState,
    session: &Session,
    org: Org,
    list: Listing,
    add: AddMember,
    errors: Option<FieldErrors>,
) -> PageResult {
    let pool = &state.db.meta;
    let caller = &session.caller;
    let counts = orgs::counts(pool, &org.id).await?;
    let count = |k: &str| counts.get(k).copied().unwrap_or(0);
    let manages = members::manages(caller, &org.id);
    let (total, rows) = if manages {
        let (column, descending) = list.sort(&["name", "email", "role", "since"], ("name", false));
        let sort = match column {
            "email" => MemberSort::Email,
            "role" => MemberSort::Role,
            "since" => MemberSort::Since,
            _ => MemberSort::Name,
        };
        let order = (sort, descending);
        orgs::members_ordered(pool, &org.id, false, order, list.offset(), list.limit()).await?
    } else {
        (0, Vec::new())
    };
    let members = rows
        .into_iter()
        .map(|(m, u)| MemberRow {
            name: if u.name.is_empty() {
                u.username.clone()
            } else {
                u.name.clone()
            },
            is_you: u.id == caller.user.id,
            can_change: !members::roles_for(caller, &org.id, &m.role).is_empty(),
            can_remove: members::may_remove(caller, &org.id, &m.role),
            role: perms::role_name(&m.role).unwrap_or("Unknown"),
            since: day(m.created_on),
            slug: u.slug,
            email: u.email,
        })
        .collect();
    let page = Page::load(state, session, org.name.clone(), "org")
        .await?
        .in_org(&org.slug);
    let sent = errors.is_some();
    let response = render(&OrgPage {
        page,
        created: minute(org.created_on),
        projects: count("projects"),
        devices: count("devices"),
        member_count: count("members"),
        aliases: crate::store::aliases::list(pool, None, Some(&org.slug), (0, 1))
            .await?
            .0,
        your_role: role_of(session, &org),
        can_edit: org::may_change(caller, &org).is_ok(),
        manages,
        members,
        list: list.with_total(total),
        add,
        roles: grantable(),
        errors: errors.unwrap_or_default(),
        org,
    })?;
    Ok(if sent { refused(response) } else { response })
}

/// Adds a member by email with a role, by the API's register rule.
pub async fn add_member(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    list: Listing,
    Form(form): Form<AddMember>,
) -> PageResult {
    let org = org::visible(&state, &session.caller, &slug).await?;
    let who = members::Who::Email(&form.email);
    match members::register(&state, &session.caller, &org, who, &form.role).await {
        Ok((m, user)) => {
            let role = perms::role_name(&m.role).unwrap_or("a member");
            let message = format!("{} was added as {role}.", user.email);
            Ok(redirect_with(&format!("/org/{}", org.slug), message))
        }
        Err(e) => {
            let errors = FieldErrors::from_api(e)?;
            org_page(&state, &session, org, list, form, Some(errors)).await
        }
    }
}

#[derive(Template)]
#[template(path = "manage/org_edit.html")]
struct EditPage {
    page: Page,
    org: Org,
    form: OrgEdit,
    errors: FieldErrors,
}

/// The org the caller may edit, else the API's refusal (404 unseen, 403 not allowed).
async fn editable(state: &AppState, session: &Session, slug: &str) -> Result<Org, WebError> {
    let org = org::visible(state, &session.caller, slug).await?;
    org::may_change(&session.caller, &org)?;
    Ok(org)
}

pub async fn edit_form(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
) -> PageResult {
    let org = editable(&state, &session, &slug).await?;
    let page = Page::load(&state, &session, format!("Edit {}", org.name), "org")
        .await?
        .in_org(&org.slug);
    let form = OrgEdit {
        name: org.name.clone(),
        about: org.about.clone(),
    };
    render(&EditPage {
        page,
        org,
        form,
        errors: FieldErrors::new(),
    })
}

#[derive(Deserialize)]
pub struct OrgEdit {
    #[serde(default)]
    name: String,
    #[serde(default)]
    about: String,
}

pub async fn edit(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    Form(form): Form<OrgEdit>,
) -> PageResult {
    let org = org::visible(&state, &session.caller, &slug).await?;
    let changed = org::change(
        &state,
        &session.caller,
        &org,
        Some(form.name.clone()),
        Some(form.about.clone()),
    )
    .await;
    match changed {
        Ok(fresh) => Ok(redirect_with(
            &format!("/org/{}", fresh.slug),
            "The org was saved.",
        )),
        Err(e) => {
            let errors = FieldErrors::from_api(e)?;
            let page = Page::load(&state, &session, format!("Edit {}", org.name), "org")
                .await?
                .in_org(&org.slug);
            Ok(refused(render(&EditPage {
                page,
                org,
                form,
                errors,
            })?))
        }
    }
}
