//! `/api/v1/note/`: notes on any target (spec 3.15). Listing checks access on the target too.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::account::avatar;
use super::error::{ApiError, ApiResult};
use super::json::one_or_many;
use super::json::{Count, Json, Reply, Written};
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use super::target::{self, Target};
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::annotations::{self, NewNote, Note, TimeQuery};
use crate::time::{self, now_micros};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/note", get(list).post(create))
        .route("/note/{id}", get(retrieve))
}

const TYPES: &[&str] = &["ui", "si", "sc", "fi"];

/// The note object.
#[derive(Serialize, ToSchema)]
#[schema(as = Note)]
pub struct NoteView {
    pub id: i64,
    /// The slug the note is on.
    pub target: String,
    #[schema(format = DateTime)]
    pub timestamp: String,
    pub note: String,
    /// `ui`, `si`, `sc` or `fi`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who wrote it; null when the account is gone.
    pub user_info: Option<NoteAuthor>,
    /// Always null.
    pub attachment: Option<Value>,
}

/// Who wrote a note.
#[derive(Serialize, ToSchema)]
pub struct NoteAuthor {
    /// `@username`.
    pub username: String,
    pub slug: String,
    pub tiny_avatar: String,
}

pub fn view(n: &Note) -> NoteView {
    let user_info = match (&n.username, &n.user_slug) {
        (Some(name), Some(slug)) => Some(NoteAuthor {
            username: format!("@{name}"),
            slug: slug.clone(),
            tiny_avatar: avatar(n.user_email.as_deref().unwrap_or(""), &["tiny"])
                .remove("tiny")
                .unwrap_or_default(),
        }),
        _ => None,
    };
    NoteView {
        id: n.id,
        target: n.target.clone(),
        timestamp: time::format(n.timestamp),
        note: n.note.clone(),
        kind: n.kind.clone(),
        user_info,
        attachment: None,
    }
}

/// The required `?target=` of note, location and similar lists, with `perm` checked.
pub async fn listed_target(
    state: &AppState,
    caller: &Caller,
    params: &Params,
    perm: &str,
) -> ApiResult<Target> {
    let raw = params
        .get("target")
        .ok_or_else(|| ApiError::field("target", "This field is required."))?;
    let slug = target::parse(raw).ok_or(ApiError::NotFound)?;
    target::require(state, caller, slug, perm).await
}

/// `start`, `end` (bad values give 400) and `lastn` of time-ordered lists.
pub fn time_query(params: &Params) -> ApiResult<TimeQuery> {
    // A bad `lastn` is reported before bad times.
    let lastn = params.lastn()?;
    Ok(TimeQuery {
        start: params.time("start", true)?,
        end: params.time("end", true)?,
        lastn,
    })
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Large)?;
    let t = listed_target(&state, &caller, &params, perm::READ_NOTES).await?;
    let q = time_query(&params)?;
    let (count, rows) =
        annotations::notes(&state.db.meta, &t.canonical, &q, w.offset, w.size).await?;
    let results: Vec<NoteView> = rows.iter().map(view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Reply<NoteView>> {
    let id = id.trim().parse::<i64>().map_err(|_| ApiError::NotFound)?;
    let n = annotations::note(&state.db.meta, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let slug = target::parse(&n.target).ok_or(ApiError::NotFound)?;
    target::require(&state, &caller, slug, perm::READ_NOTES).await?;
    Ok(Reply(view(&n)))
}

/// A note to write.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PostedNote {
    /// The slug to note on.
    target: String,
    note: String,
    #[serde(default)]
    timestamp: Option<String>,
    /// `ui` (the default), `si`, `sc` or `fi`.
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, Reply<Written<NoteView>>)> {
    let (many, posted) = one_or_many::<PostedNote>(body)?;
    let mut new = Vec::with_capacity(posted.len());
    for n in posted {
        let slug = target::parse(&n.target)
            .ok_or_else(|| ApiError::field("target", "Not a valid target slug."))?;
        let t = target::require(&state, &caller, slug, perm::READ_NOTES).await?;
        let timestamp = match n.timestamp.as_deref() {
            None => now_micros(),
            Some(s) => time::parse(s, false)
                .ok_or_else(|| ApiError::field("timestamp", "Enter a valid date/time."))?,
        };
        let kind = n.kind.unwrap_or_else(|| "ui".into());
        if !TYPES.contains(&kind.as_str()) {
            return Err(ApiError::field(
                "type",
                format!("\"{kind}\" is not a valid choice."),
            ));
        }
        if n.note.trim().is_empty() {
            return Err(ApiError::field("note", "This field may not be blank."));
        }
        new.push(NewNote {
            target: t.canonical,
            timestamp,
            note: n.note,
            kind,
        });
    }
    let ids = annotations::create_notes(&state.db.meta, &new, caller.user.id, now_micros()).await?;
    let body = match (many, ids.first()) {
        (false, Some(id)) => {
            let n = annotations::note(&state.db.meta, *id)
                .await?
                .ok_or(ApiError::NotFound)?;
            Written::One(view(&n))
        }
        _ => Written::Many(Count { count: ids.len() }),
    };
    Ok((StatusCode::CREATED, Reply(body)))
}
