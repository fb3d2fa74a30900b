//! The staff area: what the whole site holds, every account (searchable, with its active
//! and staff flags, changed through `http::staff_accounts`), and every org with its counts.
//! To anyone but staff these pages are not there (404), as other people's accounts are not
//! on the API.

use askama::Template;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;

use super::day;
use crate::http::staff_accounts::{self, Flag};
use crate::state::AppState;
use crate::store::catalogue::{self, Kind};
use crate::store::orgs::{self, OrgSort};
use crate::store::users::{self, User, UserSort};
use crate::web::forms::FieldErrors;
use crate::web::listing::Listing;
use crate::web::pages::{confirm, render, Page, PageResult, WebError};
use crate::web::session::{clear_flash, redirect_with, Session};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff", get(index))
        .route("/staff/users", get(users_list))
        .route(
            "/staff/users/{slug}/{action}",
            get(confirm_flag).post(set_flag),
        )
        .route("/staff/orgs", get(orgs_list))
        .route(
            "/staff/config",
            get(super::config_names::list).post(super::config_names::create),
        )
}

/// Staff pages are not there for anyone else.
pub(super) fn staff_only(session: &Session) -> Result<(), WebError> {
    if session.caller.is_staff() {
        Ok(())
    } else {
        Err(WebError::NotFound)
    }
}

#[derive(Template)]
#[template(path = "manage/staff.html")]
struct IndexPage {
    page: Page,
    users: i64,
    orgs: i64,
    sensor_graphs: i64,
    device_templates: i64,
    var_types: i64,
    config_names: i64,
}

pub async fn index(State(state): State<AppState>, session: Session) -> PageResult {
    staff_only(&session)?;
    let pool = &state.db.meta;
    let (users, _) = users::find(pool, None, (UserSort::Username, false), 0, 1).await?;
    let (orgs, _) = orgs::list(pool, session.user().id, true, None, 0, 1).await?;
    let count = |kind| catalogue::list(pool, kind, true, 0, 1);
    let page = Page::load(&state, &session, "Staff", "staff").await?;
    let response = render(&IndexPage {
        page,
        users,
        orgs,
        sensor_graphs: count(Kind::SensorGraph).await?.0,
        device_templates: count(Kind::DeviceTemplate).await?.0,
        var_types: count(Kind::VarType).await?.0,
        config_names: crate::store::config_attrs::names(
            pool,
            &crate::store::config_attrs::NameFilter::default(),
            0,
            1,
        )
        .await?
        .0,
    })?;
    Ok(clear_flash(&session, response))
}

pub struct UserRow {
    pub slug: String,
    pub username: String,
    pub email: String,
    pub name: String,
    pub joined: String,
    pub active: bool,
    pub staff: bool,
    pub is_you: bool,
}

#[derive(Template)]
#[template(path = "manage/staff_users.html")]
struct UsersPage {
    page: Page,
    rows: Vec<UserRow>,
    list: Listing,
    q: String,
    filter_errors: FieldErrors,
}

pub async fn users_list(
    State(state): State<AppState>,
    session: Session,
    list: Listing,
) -> PageResult {
    staff_only(&session)?;
    let (column, descending) = list.sort(
        &["username", "email", "name", "joined"],
        ("username", false),
    );
    let sort = match column {
        "email" => UserSort::Email,
        "name" => UserSort::Name,
        "joined" => UserSort::Joined,
        _ => UserSort::Username,
    };
    let (total, found) = users::find(
        &state.db.meta,
        list.filter("q"),
        (sort, descending),
        list.offset(),
        list.limit(),
    )
    .await?;
    let me = session.user().id;
    let rows = found
        .into_iter()
        .map(|u| UserRow {
            joined: day(u.created_at),
            active: u.is_active,
            staff: u.is_staff,
            is_you: u.id == me,
            slug: u.slug,
            username: u.username,
            email: u.email,
            name: u.name,
        })
        .collect();
    let page = Page::load(&state, &session, "Accounts", "staff").await?;
    let response = render(&UsersPage {
        page,
        rows,
        q: list.value("q").to_string(),
        list: list.with_total(total),
        filter_errors: FieldErrors::new(),
    })?;
    Ok(clear_flash(&session, response))
}

/// A flag change named in a URL: `activate`, `deactivate`, `make-staff`, `remove-staff`.
fn flag_change(action: &str) -> Option<(Flag, bool)> {
    match action {
        "activate" => Some((Flag::Active, true)),
        "deactivate" => Some((Flag::Active, false)),
        "make-staff" => Some((Flag::Staff, true)),
        "remove-staff" => Some((Flag::Staff, false)),
        _ => None,
    }
}

/// What a flag change is called, what it does, and its button.
fn describe(user: &User, flag: Flag, on: bool) -> (String, String, &'static str) {
    let who = &user.email;
    match (flag, on) {
        (Flag::Active, false) => (
            format!("Deactivate the account of {who}?"),
            "They are signed out at once, and cannot sign in or use their API tokens until \
             the account is activated again. Their data and memberships stay."
                .to_string(),
            "Deactivate account",
        ),
        (Flag::Active, true) => (
            format!("Activate the account of {who}?"),
            "They can sign in and use their API tokens again.".to_string(),
            "Activate account",
        ),
        (Flag::Staff, true) => (
            format!("Make {who} staff?"),
            "Staff see and change every org, project and device, and reach these staff pages."
                .to_string(),
            "Make staff",
        ),
        (Flag::Staff, false) => (
            format!("Remove {who} from staff?"),
            "They keep their own orgs' access, and lose access to every other org and to \
             these staff pages."
                .to_string(),
            "Remove from staff",
        ),
    }
}

pub async fn confirm_flag(
    State(state): State<AppState>,
    session: Session,
    Path((slug, action)): Path<(String, String)>,
) -> PageResult {
    let user = staff_accounts::account(&state, &session.caller, &slug).await?;
    let (flag, on) = flag_change(&action).ok_or(WebError::NotFound)?;
    if !staff_accounts::may_change(&session.caller, &user) {
        return Err(WebError::Forbidden(
            "Staff cannot change these flags on their own account.".into(),
        ));
    }
    let (question, detail, button) = describe(&user, flag, on);
    let page = Page::load(&state, &session, question.clone(), "staff").await?;
    let action = format!("/staff/users/{}/{action}", user.slug);
    confirm(page, &question, &[detail], &action, button, "/staff/users")
}

pub async fn set_flag(
    State(state): State<AppState>,
    session: Session,
    Path((slug, action)): Path<(String, String)>,
) -> PageResult {
    staff_only(&session)?;
    let (flag, on) = flag_change(&action).ok_or(WebError::NotFound)?;
    let user = staff_accounts::set_flag(&state, &session.caller, &slug, flag, on).await?;
    let message = match (flag, on) {
        (Flag::Active, true) => format!("{} was activated.", user.email),
        (Flag::Active, false) => format!("{} was deactivated.", user.email),
        (Flag::Staff, true) => format!("{} is now staff.", user.email),
        (Flag::Staff, false) => format!("{} is no longer staff.", user.email),
    };
    Ok(redirect_with("/staff/users", message))
}

pub struct OrgRow {
    pub slug: String,
    pub name: String,
    pub created: String,
    pub projects: i64,
    pub devices: i64,
    pub members: i64,
}

#[derive(Template)]
#[template(path = "manage/staff_orgs.html")]
struct OrgsPage {
    page: Page,
    rows: Vec<OrgRow>,
    list: Listing,
    q: String,
    filter_errors: FieldErrors,
}

pub async fn orgs_list(
    State(state): State<AppState>,
    session: Session,
    list: Listing,
) -> PageResult {
    staff_only(&session)?;
    let (column, descending) = list.sort(&["name", "slug", "created"], ("name", false));
    let sort = match column {
        "slug" => OrgSort::Slug,
        "created" => OrgSort::Created,
        _ => OrgSort::Name,
    };
    let pool = &state.db.meta;
    let (total, found) = orgs::list_ordered(
        pool,
        session.user().id,
        true,
        list.filter("q"),
        (sort, descending),
        list.offset(),
        list.limit(),
    )
    .await?;
    let mut rows = Vec::with_capacity(found.len());
    for o in found {
        let counts = orgs::counts(pool, &o.id).await?;
        let count = |k: &str| counts.get(k).copied().unwrap_or(0);
        rows.push(OrgRow {
            created: day(o.created_on),
            projects: count("projects"),
            devices: count("devices"),
            members: count("members"),
            slug: o.slug,
            name: o.name,
        });
    }
    let page = Page::load(&state, &session, "All orgs", "staff").await?;
    let response = render(&OrgsPage {
        page,
        rows,
        q: list.value("q").to_string(),
        list: list.with_total(total),
        filter_errors: FieldErrors::new(),
    })?;
    Ok(clear_flash(&session, response))
}
