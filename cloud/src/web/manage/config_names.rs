//! `/staff/config`: the configuration attribute names staff define (which org admins and
//! device pages then set values under), and a form to define one through the API's
//! handler (`config_attr::create_name`), which checks the name and refuses duplicates.

use askama::Template;
use axum::extract::State;
use axum::Form;
use serde::Deserialize;

use super::refused;
use super::staff::staff_only;
use crate::http::config_attr::{self, NameBody};
use crate::http::json::Json;
use crate::state::AppState;
use crate::store::config_attrs::{self, ConfigName, NameFilter};
use crate::web::forms::FieldErrors;
use crate::web::pages::{render, Page, PageResult};
use crate::web::session::{clear_flash, redirect_with, Session};

#[derive(Template)]
#[template(path = "manage/config_names.html")]
struct NamesPage {
    page: Page,
    names: Vec<ConfigName>,
    form: NewName,
    errors: FieldErrors,
}

#[derive(Default, Deserialize)]
pub struct NewName {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    /// Comma-separated.
    #[serde(default)]
    tags: String,
}

async fn names_page(
    state: &AppState,
    session: &Session,
    form: NewName,
    errors: FieldErrors,
) -> PageResult {
    let (_, names) = config_attrs::names(&state.db.meta, &NameFilter::default(), 0, 1000).await?;
    let page = Page::load(state, session, "Configuration names", "staff").await?;
    let refusal = !errors.is_empty();
    let response = render(&NamesPage {
        page,
        names,
        form,
        errors,
    })?;
    Ok(if refusal { refused(response) } else { response })
}

pub async fn list(State(state): State<AppState>, session: Session) -> PageResult {
    staff_only(&session)?;
    let page = names_page(&state, &session, NewName::default(), FieldErrors::new()).await?;
    Ok(clear_flash(&session, page))
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<NewName>,
) -> PageResult {
    staff_only(&session)?;
    let tags = form
        .tags
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let body = NameBody {
        name: Some(form.name.trim().to_string()),
        description: Some(form.description.trim().to_string()),
        tags: Some(tags),
    };
    match config_attr::create_name(State(state.clone()), session.caller.clone(), Json(body)).await {
        Ok((_, created)) => Ok(redirect_with(
            "/staff/config",
            format!("{} defined.", created.0.name),
        )),
        Err(e) => {
            let errors = FieldErrors::from_api(e)?;
            names_page(&state, &session, form, errors).await
        }
    }
}
