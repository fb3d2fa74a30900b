//! `/org/{slug}/ota`: an org's OTA overview (its policy and what it has), its scripts with
//! their signature and release state, and its release keys with revoking through a confirm
//! page. Fleets and deployments have their own modules.
//!
//! The org is shown to those the API shows its OTA policy to (`release_key::load_org`:
//! staff and members; others get the 404 page). Lists are scoped as the API scopes them
//! (`*::visible_orgs`), and the signature column is the release check itself
//! (`ota_script_release::release_check`). Scripts come in through the API and `iotile-fw`:
//! there is no upload form here.

use askama::Template;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;

use super::stamp::Stamp;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::http::{fleet, ota_request, ota_script, ota_script_release, release_key};
use crate::state::AppState;
use crate::store::orgs::Org;
use crate::store::release_keys::{self, ReleaseKey};
use crate::store::{deployments, fleets, ota_scripts};
use crate::time::now_micros;
use crate::web::listing::Listing;
use crate::web::pages::{confirm, render, Page, PageResult, WebError};
use crate::web::session::{clear_flash, redirect_with, Session};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/org/{slug}/ota", get(overview))
        .route("/org/{slug}/ota/scripts", get(scripts))
        .route("/org/{slug}/ota/keys", get(keys))
        .route(
            "/org/{slug}/ota/keys/{id}/revoke",
            get(revoke_key_form).post(revoke_key),
        )
}

/// The org an OTA page shows, when the caller may see its OTA side; the 404 page otherwise.
pub async fn ota_org(state: &AppState, session: &Session, slug: &str) -> Result<Org, WebError> {
    Ok(release_key::load_org(state, &session.caller, slug).await?)
}

/// Whether the caller may change the org's OTA objects (scripts, keys, fleets,
/// deployments), to offer the links; the API functions called on submit decide.
pub fn may_manage_ota(caller: &Caller, org_id: &str) -> bool {
    caller.can(org_id, perm::MANAGE_OTA)
}

/// The page context of an OTA page of `org`.
pub async fn ota_page(
    state: &AppState,
    session: &Session,
    title: String,
    org: &Org,
) -> Result<Page, WebError> {
    Ok(Page::load(state, session, title, "ota")
        .await?
        .in_org(&org.slug))
}

#[derive(Template)]
#[template(path = "ops/ota.html")]
struct OverviewPage {
    page: Page,
    org: Org,
    tab: &'static str,
    allow_unsigned: bool,
    scripts: i64,
    keys: i64,
    fleets: i64,
    deployments: i64,
}

async fn overview(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
) -> PageResult {
    let org = ota_org(&state, &session, &slug).await?;
    let caller = &session.caller;
    let pool = &state.db.meta;
    let one = (0, 1);
    let script_filter = ota_scripts::Filter {
        orgs: ota_script::visible_orgs(caller),
        org_slug: Some(org.slug.clone()),
        version: None,
    };
    let key_filter = release_keys::Filter {
        orgs: release_key::visible_orgs(caller),
        org_slug: Some(org.slug.clone()),
    };
    let fleet_filter = fleets::Filter {
        orgs: fleet::visible_orgs(caller),
        org_slug: Some(org.slug.clone()),
        ..Default::default()
    };
    let deployment_filter = deployments::Filter {
        visible: ota_request::visible_orgs(caller),
        org_slugs: Some(vec![org.slug.clone()]),
        everything: true,
        now: now_micros(),
        ..Default::default()
    };
    let settings = release_keys::settings(pool, &org.id).await?;
    let page = OverviewPage {
        scripts: ota_scripts::list(pool, &script_filter, one).await?.0,
        keys: release_keys::list(pool, &key_filter, one).await?.0,
        fleets: fleets::list(pool, &fleet_filter, one).await?.0,
        deployments: deployments::list(pool, &deployment_filter, one).await?.0,
        allow_unsigned: settings.allow_unsigned,
        page: ota_page(&state, &session, format!("OTA of {}", org.name), &org).await?,
        tab: "overview",
        org,
    };
    Ok(clear_flash(&session, render(&page)?))
}

/// A script's signature state for a badge: what releasing it would decide now.
pub struct Signature {
    pub label: &'static str,
    pub class: &'static str,
    /// The release check's reason code; empty when it passes.
    pub reason: &'static str,
    pub detail: String,
}

pub struct ScriptRow {
    pub slug: String,
    pub name: String,
    pub version: String,
    pub file: Option<(String, i64)>,
    pub signature: Signature,
    pub released: Option<Option<Stamp>>,
    pub created: Stamp,
}

fn signature_label(reason: &str) -> &'static str {
    match reason {
        "no_file" => "No file",
        "unsigned" => "Unsigned",
        "revoked_key" => "Revoked key",
        "unknown_key" => "Unknown key",
        "wrong_target" => "Wrong target",
        "script_changed" => "Bytes changed",
        "bad_signature_text" => "Unreadable",
        "bad_key" => "Bad key",
        _ => "Bad signature",
    }
}

async fn script_row(state: &AppState, s: ota_scripts::DeviceScript) -> Result<ScriptRow, WebError> {
    let signature = match ota_script_release::release_check(state, &s).await? {
        Ok(()) => match s.signature() {
            Some(sig) => Signature {
                label: "Verified",
                class: "ok",
                reason: "",
                detail: format!("signed by {}", sig.key.key_id()),
            },
            None => Signature {
                label: "Unsigned, allowed",
                class: "warn",
                reason: "",
                detail: "the org allows unsigned scripts".into(),
            },
        },
        Err(refusal) => Signature {
            label: signature_label(refusal.reason()),
            class: "bad",
            reason: refusal.reason(),
            detail: refusal.to_string(),
        },
    };
    Ok(ScriptRow {
        version: s.version(),
        file: s.file.as_ref().map(|f| (f.name.clone(), f.size)),
        signature,
        released: s.released.then(|| Stamp::of_opt(s.released_on)),
        created: Stamp::of(s.created_on),
        slug: s.slug,
        name: s.name,
    })
}

#[derive(Template)]
#[template(path = "ops/ota_scripts.html")]
struct ScriptsPage {
    page: Page,
    org: Org,
    tab: &'static str,
    list: Listing,
    rows: Vec<ScriptRow>,
}

async fn scripts(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    listing: Listing,
) -> PageResult {
    let org = ota_org(&state, &session, &slug).await?;
    let filter = ota_scripts::Filter {
        orgs: ota_script::visible_orgs(&session.caller),
        org_slug: Some(org.slug.clone()),
        version: None,
    };
    let names: Vec<&'static str> = ota_scripts::SORTS.iter().map(|(n, _)| *n).collect();
    let sort = listing.sort(&names, ("name", false));
    let (total, found) = ota_scripts::list_sorted(
        &state.db.meta,
        &filter,
        Some(sort),
        (listing.offset(), listing.limit()),
    )
    .await?;
    let mut rows = Vec::with_capacity(found.len());
    for s in found {
        rows.push(script_row(&state, s).await?);
    }
    let page = ScriptsPage {
        page: ota_page(&state, &session, format!("Scripts of {}", org.name), &org).await?,
        org,
        tab: "scripts",
        list: listing.with_total(total),
        rows,
    };
    Ok(clear_flash(&session, render(&page)?))
}

pub struct KeyRow {
    pub id: i64,
    pub key_id: String,
    pub label: String,
    pub created: Stamp,
    pub created_by: String,
    pub revoked: Option<Stamp>,
}

fn key_row(k: ReleaseKey) -> KeyRow {
    KeyRow {
        id: k.id,
        created: Stamp::of(k.created_on),
        created_by: k.created_by.unwrap_or_default(),
        revoked: Stamp::of_opt(k.revoked_on),
        key_id: k.key_id,
        label: k.label,
    }
}

#[derive(Template)]
#[template(path = "ops/ota_keys.html")]
struct KeysPage {
    page: Page,
    org: Org,
    tab: &'static str,
    list: Listing,
    rows: Vec<KeyRow>,
    manage: bool,
}

async fn keys(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    listing: Listing,
) -> PageResult {
    let org = ota_org(&state, &session, &slug).await?;
    let filter = release_keys::Filter {
        orgs: release_key::visible_orgs(&session.caller),
        org_slug: Some(org.slug.clone()),
    };
    let names: Vec<&'static str> = release_keys::SORTS.iter().map(|(n, _)| *n).collect();
    let sort = listing.sort(&names, ("created", false));
    let (total, found) = release_keys::list_sorted(
        &state.db.meta,
        &filter,
        Some(sort),
        (listing.offset(), listing.limit()),
    )
    .await?;
    let page = KeysPage {
        page: ota_page(
            &state,
            &session,
            format!("Release keys of {}", org.name),
            &org,
        )
        .await?,
        manage: may_manage_ota(&session.caller, &org.id),
        org,
        tab: "keys",
        list: listing.with_total(total),
        rows: found.into_iter().map(key_row).collect(),
    };
    Ok(clear_flash(&session, render(&page)?))
}

/// The key of the URL, when the caller may revoke it and it is the URL org's.
async fn revocable_key(
    state: &AppState,
    session: &Session,
    slug: &str,
    id: &str,
) -> Result<(Org, ReleaseKey), WebError> {
    let org = ota_org(state, session, slug).await?;
    let key = release_key::load_for_revoke(state, &session.caller, id).await?;
    if key.org_id != org.id {
        return Err(WebError::NotFound);
    }
    Ok((org, key))
}

async fn revoke_key_form(
    State(state): State<AppState>,
    session: Session,
    Path((slug, id)): Path<(String, String)>,
) -> PageResult {
    let (org, key) = revocable_key(&state, &session, &slug, &id).await?;
    let name = if key.label.is_empty() {
        key.key_id.clone()
    } else {
        format!("{} ({})", key.label, key.key_id)
    };
    let details = if key.revoked_on.is_some() {
        vec![format!(
            "{name} is already revoked; revoking it again changes nothing."
        )]
    } else {
        vec![
            format!("{name} will release nothing from now on, and gateways stop trusting it at their next OTA poll."),
            "Scripts it signed that are not released yet need a new signature; a revoked key is never trusted again (it cannot be added back).".into(),
        ]
    };
    let page = ota_page(&state, &session, "Revoke a release key".into(), &org).await?;
    let back = format!("/org/{}/ota/keys", org.slug);
    confirm(
        page,
        "Revoke this release key?",
        &details,
        &format!("{back}/{}/revoke", key.id),
        "Revoke the key",
        &back,
    )
}

async fn revoke_key(
    State(state): State<AppState>,
    session: Session,
    Path((slug, id)): Path<(String, String)>,
) -> PageResult {
    let (org, key) = revocable_key(&state, &session, &slug, &id).await?;
    let key = release_key::revoke_key(&state, &session.caller, &key.id.to_string()).await?;
    Ok(redirect_with(
        &format!("/org/{}/ota/keys", org.slug),
        format!("Release key {} is revoked.", key.key_id),
    ))
}
