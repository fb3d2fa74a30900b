//! Variables: a project's named 16-bit stream ids (`v--pppp-pppp--vvvv`), from which claimed
//! devices get their streams.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::filter::{page, Where};
use super::flag;
use super::projects::Scope;

#[derive(Debug, Clone)]
pub struct Variable {
    pub id: String,
    pub slug: String,
    pub project_id: Option<String>,
    pub org_id: Option<String>,
    pub org_slug: Option<String>,
    pub lid: i64,
    pub name: String,
    pub about: String,
    pub var_type: Option<String>,
    pub input_unit: Option<Value>,
    pub output_unit: Option<Value>,
    pub derived_variable: Option<String>,
    pub units: String,
    pub raw_value_format: String,
    pub multiplication_factor: i64,
    pub division_factor: i64,
    pub offset: f64,
    pub decimal_places: i64,
    pub mdo_label: String,
    pub web_only: bool,
    pub app_only: bool,
    pub created_on: i64,
}

/// The columns a caller can set, on create and on update.
#[derive(Debug, Clone)]
pub struct Fields {
    pub name: String,
    pub about: String,
    pub var_type: Option<String>,
    pub input_unit: Option<Value>,
    pub output_unit: Option<Value>,
    pub units: String,
    pub raw_value_format: String,
    pub multiplication_factor: i64,
    pub division_factor: i64,
    pub offset: f64,
    pub decimal_places: i64,
    pub mdo_label: String,
    pub web_only: bool,
    pub app_only: bool,
}

impl Fields {
    pub fn of(v: &Variable) -> Fields {
        Fields {
            name: v.name.clone(),
            about: v.about.clone(),
            var_type: v.var_type.clone(),
            input_unit: v.input_unit.clone(),
            output_unit: v.output_unit.clone(),
            units: v.units.clone(),
            raw_value_format: v.raw_value_format.clone(),
            multiplication_factor: v.multiplication_factor,
            division_factor: v.division_factor,
            offset: v.offset,
            decimal_places: v.decimal_places,
            mdo_label: v.mdo_label.clone(),
            web_only: v.web_only,
            app_only: v.app_only,
        }
    }
}

const COLUMNS: &str = "v.id, v.slug, v.project_id, v.org_id, o.slug AS org_slug, v.lid, v.name, \
    v.about, v.var_type, v.input_unit, v.output_unit, v.derived_variable, v.units, \
    v.raw_value_format, v.multiplication_factor, v.division_factor, v.\"offset\", \
    v.decimal_places, v.mdo_label, v.web_only, v.app_only, v.created_on";
const FROM: &str = "variables v LEFT JOIN orgs o ON o.id = v.org_id";

fn json_column(row: &AnyRow, column: &str) -> Result<Option<Value>, sqlx::Error> {
    let text: Option<String> = row.try_get(column)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

fn from_row(row: &AnyRow) -> Result<Variable, sqlx::Error> {
    Ok(Variable {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        project_id: row.try_get("project_id")?,
        org_id: row.try_get("org_id")?,
        org_slug: row.try_get("org_slug")?,
        lid: row.try_get("lid")?,
        name: row.try_get("name")?,
        about: row.try_get("about")?,
        var_type: row.try_get("var_type")?,
        input_unit: json_column(row, "input_unit")?,
        output_unit: json_column(row, "output_unit")?,
        derived_variable: row.try_get("derived_variable")?,
        units: row.try_get("units")?,
        raw_value_format: row.try_get("raw_value_format")?,
        multiplication_factor: row.try_get("multiplication_factor")?,
        division_factor: row.try_get("division_factor")?,
        offset: row.try_get("offset")?,
        decimal_places: row.try_get("decimal_places")?,
        mdo_label: row.try_get("mdo_label")?,
        web_only: flag(row, "web_only")?,
        app_only: flag(row, "app_only")?,
        created_on: row.try_get("created_on")?,
    })
}

pub async fn by_slug(pool: &AnyPool, slug: &str) -> Result<Option<Variable>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE v.slug = $1");
    sqlx::query(&sql)
        .bind(slug)
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// A project's variables, by lid (what a claim turns into streams).
pub async fn of_project(pool: &AnyPool, project_id: &str) -> Result<Vec<Variable>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE v.project_id = $1 ORDER BY v.lid");
    let rows = sqlx::query(&sql).bind(project_id).fetch_all(pool).await?;
    rows.iter().map(from_row).collect()
}

/// List filters.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    /// Variables of this project.
    pub project_id: Option<&'a str>,
    /// With `project_id`: also the variables that belong to no project.
    pub include_unassigned: bool,
    pub org_slug: Option<&'a str>,
    /// A name substring.
    pub search: Option<&'a str>,
}

/// One page of the variables in scope, by slug, and the total.
pub async fn list(
    pool: &AnyPool,
    scope: &Scope,
    filter: &Filter<'_>,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Variable>), sqlx::Error> {
    let order = (VariableSort::Slug, false);
    list_ordered(pool, scope, filter, order, offset, limit).await
}

/// The columns a variable list can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariableSort {
    Slug,
    Name,
    Created,
}

/// [`list`] in a chosen order (`(column, descending)`).
pub async fn list_ordered(
    pool: &AnyPool,
    scope: &Scope,
    filter: &Filter<'_>,
    (sort, descending): (VariableSort, bool),
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Variable>), sqlx::Error> {
    let mut w = Where::default();
    if let Some(project) = filter.project_id.filter(|s| !s.is_empty()) {
        if filter.include_unassigned {
            w.text("(v.project_id = ? OR v.project_id IS NULL)", project);
        } else {
            w.text("v.project_id = ?", project);
        }
    }
    if let Some(org) = filter.org_slug.filter(|s| !s.is_empty()) {
        w.text("o.slug = ?", org);
    }
    if let Some(search) = filter.search.filter(|s| !s.is_empty()) {
        let pattern = format!("%{}%", super::like_escape(&search.to_lowercase()));
        w.text("LOWER(v.name) LIKE ? ESCAPE '\\'", pattern);
    }
    scope.restrict(&mut w, "v.org_id");
    let dir = if descending { " DESC" } else { "" };
    let order = match sort {
        VariableSort::Slug => format!("v.slug{dir}"),
        VariableSort::Name => format!("v.name{dir}, v.slug{dir}"),
        VariableSort::Created => format!("v.created_on{dir}, v.slug{dir}"),
    };
    let (count, rows) = page(pool, COLUMNS, FROM, &w, &order, (offset, limit)).await?;
    Ok((count, rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

fn json_text(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(Value::to_string)
}

/// Creates a variable; a second one with the same `(project, lid)` or slug is a unique
/// violation.
#[allow(clippy::too_many_arguments)]
pub async fn create(
    pool: &AnyPool,
    slug: &str,
    project_id: &str,
    org_id: &str,
    lid: i64,
    fields: &Fields,
    created_by: i64,
    now: i64,
) -> Result<Variable, sqlx::Error> {
    const SQL: &str = "INSERT INTO variables (id, slug, project_id, org_id, lid, name, about, \
        var_type, input_unit, output_unit, units, raw_value_format, multiplication_factor, \
        division_factor, \"offset\", decimal_places, mdo_label, web_only, app_only, created_on, \
        created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
        $16, $17, $18, $19, $20, $21)";
    let keys = sqlx::query(SQL)
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(slug)
        .bind(project_id)
        .bind(org_id)
        .bind(lid);
    bind_fields(keys, fields)
        .bind(now)
        .bind(created_by)
        .execute(pool)
        .await?;
    by_slug(pool, slug).await?.ok_or(sqlx::Error::RowNotFound)
}

pub async fn update(pool: &AnyPool, id: &str, fields: &Fields) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE variables SET name = $1, about = $2, var_type = $3, \
        input_unit = $4, output_unit = $5, units = $6, raw_value_format = $7, \
        multiplication_factor = $8, division_factor = $9, \"offset\" = $10, decimal_places = $11, \
        mdo_label = $12, web_only = $13, app_only = $14 WHERE id = $15";
    bind_fields(sqlx::query(SQL), fields)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Binds the caller-settable columns, in the order both statements above list them.
fn bind_fields<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    fields: &'q Fields,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(&fields.name)
        .bind(&fields.about)
        .bind(&fields.var_type)
        .bind(json_text(&fields.input_unit))
        .bind(json_text(&fields.output_unit))
        .bind(&fields.units)
        .bind(&fields.raw_value_format)
        .bind(fields.multiplication_factor)
        .bind(fields.division_factor)
        .bind(fields.offset)
        .bind(fields.decimal_places)
        .bind(&fields.mdo_label)
        .bind(fields.web_only as i64)
        .bind(fields.app_only as i64)
}

pub async fn delete(pool: &AnyPool, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM variables WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Streams made from a variable (a variable with any cannot be deleted).
pub async fn stream_count(pool: &AnyPool, id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM streams WHERE variable_id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
}
