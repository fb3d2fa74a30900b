//! A project's variables: creating one, editing it, deleting it. The form is turned into
//! the body the API takes and run through the API's own create and update, so every check
//! (catalogue var types and units, raw formats, factors, decimal places, a unique stream id
//! in the project) answers here exactly as it does there, beside its field.

use askama::Template;
use axum::extract::{Path, State};
use axum::Form;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{refused, Choice};
use crate::http::{project, variable};
use crate::state::AppState;
use crate::store::catalogue::{self, Kind};
use crate::store::projects::Project;
use crate::store::variables::Variable;
use crate::web::forms::FieldErrors;
use crate::web::pages::{confirm, render, Page, PageResult, WebError};
use crate::web::session::{redirect_with, Session};

/// The form's fields, as typed.
#[derive(Deserialize, Default)]
pub struct VariableForm {
    #[serde(default)]
    name: String,
    /// The 16-bit stream id in hex, as devices and slugs show it (`5001`).
    #[serde(default)]
    lid: String,
    #[serde(default)]
    about: String,
    #[serde(default)]
    var_type: String,
    #[serde(default)]
    input_unit: String,
    #[serde(default)]
    output_unit: String,
    #[serde(default)]
    units: String,
    #[serde(default)]
    raw_value_format: String,
    #[serde(default)]
    multiplication_factor: String,
    #[serde(default)]
    division_factor: String,
    #[serde(default)]
    offset: String,
    #[serde(default)]
    decimal_places: String,
    #[serde(default)]
    mdo_label: String,
    web_only: Option<String>,
    app_only: Option<String>,
}

/// A typed number as JSON, or the text as typed so the API names the field it refuses.
fn number<T: std::str::FromStr + Into<Value>>(text: &str) -> Value {
    text.trim()
        .parse::<T>()
        .map(Into::into)
        .unwrap_or_else(|_| Value::String(text.to_string()))
}

/// A unit choice: blank clears it.
fn unit(slug: &str) -> Value {
    if slug.is_empty() {
        Value::Null
    } else {
        Value::String(slug.to_string())
    }
}

impl VariableForm {
    /// The form a new variable starts with: the API's defaults.
    fn fresh() -> VariableForm {
        VariableForm {
            raw_value_format: "<L".into(),
            multiplication_factor: "1".into(),
            division_factor: "1".into(),
            offset: "0".into(),
            decimal_places: "2".into(),
            ..VariableForm::default()
        }
    }

    /// The form showing a variable as it is.
    fn of(v: &Variable) -> VariableForm {
        let slug = |u: &Option<Value>| {
            u.as_ref()
                .and_then(|u| u["slug"].as_str())
                .unwrap_or("")
                .to_string()
        };
        VariableForm {
            name: v.name.clone(),
            lid: format!("{:04x}", v.lid),
            about: v.about.clone(),
            var_type: v.var_type.clone().unwrap_or_default(),
            input_unit: slug(&v.input_unit),
            output_unit: slug(&v.output_unit),
            units: v.units.clone(),
            raw_value_format: v.raw_value_format.clone(),
            multiplication_factor: v.multiplication_factor.to_string(),
            division_factor: v.division_factor.to_string(),
            offset: v.offset.to_string(),
            decimal_places: v.decimal_places.to_string(),
            mdo_label: v.mdo_label.clone(),
            web_only: v.web_only.then(|| "true".into()),
            app_only: v.app_only.then(|| "true".into()),
        }
    }

    /// The settable fields as an API body.
    fn body(&self) -> Map<String, Value> {
        let mut body = Map::new();
        let text = |s: &str| Value::String(s.to_string());
        body.insert("name".into(), text(&self.name));
        body.insert("about".into(), text(&self.about));
        body.insert("units".into(), text(&self.units));
        body.insert("mdo_label".into(), text(&self.mdo_label));
        if !self.var_type.is_empty() {
            body.insert("var_type".into(), text(&self.var_type));
        }
        body.insert("input_unit".into(), unit(&self.input_unit));
        body.insert("output_unit".into(), unit(&self.output_unit));
        body.insert("raw_value_format".into(), text(&self.raw_value_format));
        for (key, value) in [
            ("multiplication_factor", &self.multiplication_factor),
            ("division_factor", &self.division_factor),
            ("decimal_places", &self.decimal_places),
        ] {
            body.insert(key.into(), number::<i64>(value));
        }
        body.insert("offset".into(), number::<f64>(&self.offset));
        body.insert("web_only".into(), Value::Bool(self.web_only.is_some()));
        body.insert("app_only".into(), Value::Bool(self.app_only.is_some()));
        body
    }

    /// A create body: the settable fields, the project and the stream id read as hex.
    fn create_body(&self, project: &Project) -> Result<Map<String, Value>, FieldErrors> {
        let mut body = self.body();
        body.insert("project".into(), Value::String(project.id.clone()));
        let lid = self.lid.trim().trim_start_matches("0x");
        if !lid.is_empty() {
            let Ok(lid) = u32::from_str_radix(lid, 16) else {
                let mut errors = FieldErrors::new();
                errors.add("lid", "Enter the stream id in hex, such as 5001.");
                return Err(errors);
            };
            body.insert("lid".into(), Value::from(lid));
        }
        Ok(body)
    }
}

/// The catalogue's var types, and the units of each as choices.
async fn catalogue_choices(
    state: &AppState,
    current_type: &str,
) -> Result<(Vec<Choice>, Vec<Choice>, Vec<Choice>), WebError> {
    let (_, types) = catalogue::list(&state.db.meta, Kind::VarType, false, 0, 500).await?;
    let mut var_types = Vec::new();
    if current_type.is_empty() {
        var_types.push(Choice::new("", "None"));
    }
    let mut inputs = vec![Choice::new("", "None")];
    let mut outputs = vec![Choice::new("", "None")];
    for vt in &types {
        let name = vt["name"].as_str().unwrap_or_default();
        var_types.push(Choice::new(vt["slug"].as_str().unwrap_or_default(), name));
        for (list, out) in [
            ("available_input_units", &mut inputs),
            ("available_output_units", &mut outputs),
        ] {
            for u in vt[list].as_array().into_iter().flatten() {
                let label = format!(
                    "{name}: {} ({})",
                    u["unit_full"].as_str().unwrap_or_default(),
                    u["unit_short"].as_str().unwrap_or_default()
                );
                out.push(Choice::new(u["slug"].as_str().unwrap_or_default(), label));
            }
        }
    }
    Ok((var_types, inputs, outputs))
}

/// What a raw value format code means (little-endian, as devices send them).
fn raw_format_name(code: &str) -> &'static str {
    match code {
        "<L" => "unsigned 32-bit",
        "<l" => "signed 32-bit",
        "<H" => "unsigned 16-bit",
        "<h" => "signed 16-bit",
        "<B" => "unsigned 8-bit",
        "<b" => "signed 8-bit",
        "<Q" => "unsigned 64-bit",
        "<q" => "signed 64-bit",
        "<f" => "32-bit float",
        "<d" => "64-bit float",
        _ => "as the variable type decodes it",
    }
}

#[derive(Template)]
#[template(path = "manage/variable_form.html")]
struct FormPage {
    page: Page,
    project: Project,
    /// `None` while creating; the variable's slug when editing.
    slug: Option<String>,
    can_delete: bool,
    form: VariableForm,
    var_types: Vec<Choice>,
    input_units: Vec<Choice>,
    output_units: Vec<Choice>,
    raw_formats: Vec<Choice>,
    errors: FieldErrors,
}

async fn form_page(
    state: &AppState,
    session: &Session,
    project: Project,
    slug: Option<String>,
    form: VariableForm,
    errors: FieldErrors,
) -> PageResult {
    let (var_types, input_units, output_units) = catalogue_choices(state, &form.var_type).await?;
    let title = match &slug {
        Some(slug) => format!("Variable {slug}"),
        None => "New variable".to_string(),
    };
    let page = Page::load(state, session, title, "projects")
        .await?
        .in_org(&project.org_slug);
    render(&FormPage {
        page,
        project,
        can_delete: slug.is_some() && variable::may_remove(&session.caller),
        slug,
        form,
        var_types,
        input_units,
        output_units,
        raw_formats: variable::RAW_FORMATS
            .iter()
            .map(|f| Choice::new(*f, format!("{f} ({})", raw_format_name(f))))
            .collect(),
        errors,
    })
}

pub async fn new_form(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> PageResult {
    let project = project::visible(&state, &session.caller, &id).await?;
    variable::may_modify(&session.caller, &project.org_id)?;
    let form = VariableForm::fresh();
    form_page(&state, &session, project, None, form, FieldErrors::new()).await
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<VariableForm>,
) -> PageResult {
    let project = project::visible(&state, &session.caller, &id).await?;
    let created = match form.create_body(&project) {
        Ok(body) => variable::insert(&state, &session.caller, &body)
            .await
            .map_err(FieldErrors::from_api),
        Err(errors) => Err(Ok(errors)),
    };
    match created {
        Ok(v) => Ok(redirect_with(
            &format!("/project/{}", project.id),
            format!("Variable {} created.", v.slug),
        )),
        Err(refusal) => {
            let errors = refusal?;
            let page = form_page(&state, &session, project, None, form, errors);
            Ok(refused(page.await?))
        }
    }
}

/// The project and one of its variables, as the caller may see them (404 otherwise).
async fn target(
    state: &AppState,
    session: &Session,
    id: &str,
    slug: &str,
) -> Result<(Project, Variable), WebError> {
    let project = project::visible(state, &session.caller, id).await?;
    let v = variable::visible(state, &session.caller, slug).await?;
    if v.project_id.as_deref() != Some(project.id.as_str()) {
        return Err(WebError::NotFound);
    }
    Ok((project, v))
}

pub async fn edit_form(
    State(state): State<AppState>,
    session: Session,
    Path((id, slug)): Path<(String, String)>,
) -> PageResult {
    let (project, v) = target(&state, &session, &id, &slug).await?;
    let form = VariableForm::of(&v);
    let page = form_page(
        &state,
        &session,
        project,
        Some(v.slug),
        form,
        FieldErrors::new(),
    );
    Ok(crate::web::session::clear_flash(&session, page.await?))
}

pub async fn edit(
    State(state): State<AppState>,
    session: Session,
    Path((id, slug)): Path<(String, String)>,
    Form(mut form): Form<VariableForm>,
) -> PageResult {
    let (project, v) = target(&state, &session, &id, &slug).await?;
    match variable::change(&state, &session.caller, &v, &form.body()).await {
        Ok(fresh) => Ok(redirect_with(
            &format!("/project/{}", project.id),
            format!("Variable {} saved.", fresh.slug),
        )),
        Err(e) => {
            let errors = FieldErrors::from_api(e)?;
            // The stream id is fixed once created: show it as it is.
            form.lid = format!("{:04x}", v.lid);
            let page = form_page(&state, &session, project, Some(v.slug), form, errors);
            Ok(refused(page.await?))
        }
    }
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    session: Session,
    Path((id, slug)): Path<(String, String)>,
) -> PageResult {
    let (project, v) = target(&state, &session, &id, &slug).await?;
    if !variable::may_remove(&session.caller) {
        return Err(WebError::Forbidden(
            "Only staff can delete variables.".into(),
        ));
    }
    let question = format!("Delete the variable {} ({})?", v.name, v.slug);
    let details = vec![
        "A variable that devices already have streams for is kept: delete the streams first."
            .to_string(),
    ];
    let action = format!("/project/{}/variable/{}/delete", project.id, v.slug);
    let back = format!("/project/{}/variable/{}", project.id, v.slug);
    let page = Page::load(&state, &session, question.clone(), "projects")
        .await?
        .in_org(&project.org_slug);
    confirm(page, &question, &details, &action, "Delete variable", &back)
}

pub async fn delete(
    State(state): State<AppState>,
    session: Session,
    Path((id, slug)): Path<(String, String)>,
) -> PageResult {
    let (project, v) = target(&state, &session, &id, &slug).await?;
    variable::remove(&state, &session.caller, &v.slug).await?;
    Ok(redirect_with(
        &format!("/project/{}", project.id),
        format!("Variable {} deleted.", v.slug),
    ))
}
