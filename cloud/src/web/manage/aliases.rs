//! `/org/{slug}/aliases`: an org's stream aliases, and an alias's page: its taps as a time
//! line (which stream from when until when) and its newest readings, read through the
//! alias as the API's `data/?filter=a--…` reads them. Creating an alias and adding a tap
//! run the API's handlers (`alias::create`, `alias::create_tap`), which check
//! can_manage_stream_aliases; readings need can_read_stream_data.

use askama::Template;
use axum::extract::{Path, State};
use axum::Form;
use serde::Deserialize;
use sync_protocol::ids::AliasSlug;

use super::{refused, Choice};
use crate::auth::perms::perm;
use crate::http::alias::{self, AliasBody, TapBody};
use crate::http::json::Json;
use crate::http::org;
use crate::state::AppState;
use crate::store::aliases::{self, Alias};
use crate::store::data::{self, RowQuery, Scope};
use crate::store::orgs::Org;
use crate::store::streams::{self, StreamFilter};
use crate::time::now_micros;
use crate::web::forms::FieldErrors;
use crate::web::pages::{render, when, Page, PageResult, WebError};
use crate::web::session::{clear_flash, redirect_with, Session};

pub struct AliasRow {
    pub slug: String,
    pub name: String,
    pub taps: i64,
    /// The stream the alias reads now, if a tap is in force.
    pub now: Option<String>,
}

#[derive(Template)]
#[template(path = "manage/aliases.html")]
struct ListPage {
    page: Page,
    org: Org,
    rows: Vec<AliasRow>,
    may_manage: bool,
    /// The name the refused form sent.
    sent_name: String,
    errors: FieldErrors,
}

/// The org, when the caller is in it (or staff); another org's is the 404 page.
async fn visible_org(state: &AppState, session: &Session, slug: &str) -> Result<Org, WebError> {
    Ok(org::visible(state, &session.caller, slug).await?)
}

async fn list_page(
    state: &AppState,
    session: &Session,
    org: Org,
    name: String,
    errors: FieldErrors,
) -> PageResult {
    let pool = &state.db.meta;
    let (_, found) = aliases::list(pool, None, Some(&org.slug), (0, 500)).await?;
    let now = now_micros();
    let mut rows = Vec::with_capacity(found.len());
    for a in found {
        let slices = aliases::slices(pool, a.id).await?;
        let in_force = slices
            .iter()
            .find(|s| s.from <= now && s.until.is_none_or(|u| now < u))
            .map(|s| s.stream.clone());
        rows.push(AliasRow {
            slug: AliasSlug::new(u64::try_from(a.id).unwrap_or_default()).to_string(),
            name: a.name,
            taps: aliases::taps(pool, Some(a.id), None, (0, 1)).await?.0,
            now: in_force,
        });
    }
    let page = Page::load(
        state,
        session,
        format!("Stream aliases of {}", org.name),
        "org",
    )
    .await?
    .in_org(&org.slug);
    let refusal = !errors.is_empty();
    let response = render(&ListPage {
        page,
        may_manage: session.caller.can(&org.id, perm::MANAGE_STREAM_ALIASES),
        org,
        rows,
        sent_name: name,
        errors,
    })?;
    Ok(if refusal { refused(response) } else { response })
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
) -> PageResult {
    let org = visible_org(&state, &session, &slug).await?;
    let page = list_page(&state, &session, org, String::new(), FieldErrors::new()).await?;
    Ok(clear_flash(&session, page))
}

#[derive(Deserialize)]
pub struct NewAlias {
    #[serde(default)]
    name: String,
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    Form(form): Form<NewAlias>,
) -> PageResult {
    let org = visible_org(&state, &session, &slug).await?;
    let body = AliasBody {
        name: Some(form.name.clone()),
        org: Some(org.slug.clone()),
    };
    match alias::create(State(state.clone()), session.caller.clone(), Json(body)).await {
        Ok((_, created)) => Ok(redirect_with(
            &format!("/org/{}/aliases/{}", org.slug, created.0.slug),
            "Alias created. Point it at a stream below.",
        )),
        Err(e) => {
            let errors = FieldErrors::from_api(e)?;
            list_page(&state, &session, org, form.name, errors).await
        }
    }
}

pub struct TapRow {
    pub from: String,
    pub until: String,
    pub stream: String,
}

pub struct ReadingRow {
    pub when: String,
    pub value: String,
    pub stream: String,
}

#[derive(Template)]
#[template(path = "manage/alias.html")]
struct AliasPage {
    page: Page,
    org: Org,
    alias: Alias,
    slug: String,
    taps: Vec<TapRow>,
    /// Newest first; `None` when the caller may not read the org's data.
    readings: Option<Vec<ReadingRow>>,
    may_manage: bool,
    streams: Vec<Choice>,
    sent_stream: String,
    sent_from: String,
    errors: FieldErrors,
}

/// The alias `raw` names, in `org`; anything else is the 404 page.
async fn alias_in(state: &AppState, org: &Org, raw: &str) -> Result<Alias, WebError> {
    alias::by_slug(state, raw)
        .await?
        .filter(|a| a.org_id == org.id)
        .ok_or(WebError::NotFound)
}

#[allow(clippy::too_many_arguments)]
async fn alias_page(
    state: &AppState,
    session: &Session,
    org: Org,
    found: Alias,
    sent_stream: String,
    sent_from: String,
    errors: FieldErrors,
) -> PageResult {
    let pool = &state.db.meta;
    let caller = &session.caller;
    let slices = aliases::slices(pool, found.id).await?;
    let taps = slices
        .iter()
        .map(|s| TapRow {
            from: when(s.from),
            until: s.until.map_or_else(|| "now".to_string(), when),
            stream: s.stream.clone(),
        })
        .collect();
    let readings = if caller.can(&org.id, perm::READ_STREAM_DATA) {
        let q = RowQuery {
            lastn: Some(20),
            ..RowQuery::default()
        };
        let (_, rows) = data::list(&state.db, &Scope::Slices(slices), &q, 0, 20).await?;
        Some(
            rows.into_iter()
                .rev()
                .map(|r| ReadingRow {
                    when: when(r.timestamp),
                    value: r
                        .int_value
                        .map(|v| v.to_string())
                        .or_else(|| r.value.map(|v| v.to_string()))
                        .unwrap_or_default(),
                    stream: r.stream_slug,
                })
                .collect(),
        )
    } else {
        None
    };
    let may_manage = caller.can(&org.id, perm::MANAGE_STREAM_ALIASES);
    let streams = if may_manage {
        let filter = StreamFilter {
            orgs: Some(vec![org.id.clone()]),
            ..StreamFilter::default()
        };
        streams::list(pool, &filter, 0, 500)
            .await?
            .1
            .into_iter()
            .map(|s| Choice::new(s.slug.clone(), s.slug))
            .collect()
    } else {
        Vec::new()
    };
    let page = Page::load(state, session, format!("Alias {}", found.name), "org")
        .await?
        .in_org(&org.slug);
    let refusal = !errors.is_empty();
    let response = render(&AliasPage {
        page,
        slug: AliasSlug::new(u64::try_from(found.id).unwrap_or_default()).to_string(),
        org,
        alias: found,
        taps,
        readings,
        may_manage,
        streams,
        sent_stream,
        sent_from,
        errors,
    })?;
    Ok(if refusal { refused(response) } else { response })
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path((slug, raw)): Path<(String, String)>,
) -> PageResult {
    let org = visible_org(&state, &session, &slug).await?;
    let found = alias_in(&state, &org, &raw).await?;
    let page = alias_page(
        &state,
        &session,
        org,
        found,
        String::new(),
        String::new(),
        FieldErrors::new(),
    )
    .await?;
    Ok(clear_flash(&session, page))
}

#[derive(Deserialize)]
pub struct NewTap {
    #[serde(default)]
    stream: String,
    /// `datetime-local`: UTC, to the minute.
    #[serde(default)]
    from: String,
}

pub async fn add_tap(
    State(state): State<AppState>,
    session: Session,
    Path((slug, raw)): Path<(String, String)>,
    Form(form): Form<NewTap>,
) -> PageResult {
    let org = visible_org(&state, &session, &slug).await?;
    let found = alias_in(&state, &org, &raw).await?;
    let alias_slug = AliasSlug::new(u64::try_from(found.id).unwrap_or_default()).to_string();
    let body = TapBody {
        alias: Some(alias_slug.clone()),
        timestamp: Some(form.from.clone()).filter(|f| !f.trim().is_empty()),
        stream: Some(form.stream.clone()).filter(|s| !s.is_empty()),
    };
    match alias::create_tap(State(state.clone()), session.caller.clone(), Json(body)).await {
        Ok(_) => Ok(redirect_with(
            &format!("/org/{}/aliases/{alias_slug}", org.slug),
            "Tap added.",
        )),
        Err(e) => {
            let errors = FieldErrors::from_api(e)?;
            alias_page(&state, &session, org, found, form.stream, form.from, errors).await
        }
    }
}
