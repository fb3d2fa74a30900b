//! Streams. A stream's org is its own, or its project's when it has none.

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::filter::{page, Where};
use super::flag;

#[derive(Debug, Clone)]
pub struct Stream {
    pub id: String,
    pub slug: String,
    pub project_id: Option<String>,
    pub org_id: Option<String>,
    pub org_slug: Option<String>,
    pub device_id: Option<i64>,
    pub block: Option<i64>,
    pub variable_id: Option<String>,
    pub data_label: String,
    pub var_type: Option<String>,
    pub data_type: String,
    pub var_name: String,
    pub var_lid: i64,
    pub input_unit: Option<String>,
    pub output_unit: Option<String>,
    pub derived_stream: Option<String>,
    pub raw_value_format: String,
    pub mdo_type: String,
    pub mdo_label: String,
    pub multiplication_factor: Option<i64>,
    pub division_factor: Option<i64>,
    pub offset: Option<f64>,
    pub enabled: bool,
    pub created_on: i64,
}

const COLUMNS: &str = "s.id, s.slug, s.project_id, COALESCE(s.org_id, p.org_id) AS org_id, \
    o.slug AS org_slug, s.device_id, s.block, s.variable_id, s.data_label, s.var_type, \
    s.data_type, s.var_name, s.var_lid, s.input_unit, s.output_unit, s.derived_stream, \
    s.raw_value_format, s.mdo_type, s.mdo_label, s.multiplication_factor, s.division_factor, \
    s.\"offset\" AS mdo_offset, s.enabled, s.created_on";
const FROM: &str = "streams s LEFT JOIN projects p ON p.id = s.project_id \
    LEFT JOIN orgs o ON o.id = COALESCE(s.org_id, p.org_id) \
    LEFT JOIN devices d ON d.id = s.device_id";

fn from_row(row: &AnyRow) -> Result<Stream, sqlx::Error> {
    Ok(Stream {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        project_id: row.try_get("project_id")?,
        org_id: row.try_get("org_id")?,
        org_slug: row.try_get("org_slug")?,
        device_id: row.try_get("device_id")?,
        block: row.try_get("block")?,
        variable_id: row.try_get("variable_id")?,
        data_label: row.try_get("data_label")?,
        var_type: row.try_get("var_type")?,
        data_type: row.try_get("data_type")?,
        var_name: row.try_get("var_name")?,
        var_lid: row.try_get("var_lid")?,
        input_unit: row.try_get("input_unit")?,
        output_unit: row.try_get("output_unit")?,
        derived_stream: row.try_get("derived_stream")?,
        raw_value_format: row.try_get("raw_value_format")?,
        mdo_type: row.try_get("mdo_type")?,
        mdo_label: row.try_get("mdo_label")?,
        multiplication_factor: row.try_get("multiplication_factor")?,
        division_factor: row.try_get("division_factor")?,
        offset: row.try_get("mdo_offset")?,
        enabled: flag(row, "enabled")?,
        created_on: row.try_get("created_on")?,
    })
}

pub async fn by_slug(pool: &AnyPool, slug: &str) -> Result<Option<Stream>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE s.slug = $1");
    let row = sqlx::query(&sql).bind(slug).fetch_optional(pool).await?;
    row.as_ref().map(from_row).transpose()
}

/// The filters of `GET /stream/`; columns are those of [`FROM`] (`s`, `p`, `d`).
#[derive(Debug, Clone, Default)]
pub struct StreamFilter {
    /// `None`: every org (staff); otherwise only these orgs.
    pub orgs: Option<Vec<String>>,
    pub project_id: Option<String>,
    pub device_id: Option<i64>,
    /// With `device_id`: the block (0 for the device's own streams).
    pub block: Option<i64>,
    /// A `LIKE` pattern over stream slugs (the variable filter).
    pub slug_pattern: Option<String>,
    pub org_id: Option<String>,
    pub enabled: Option<bool>,
    /// Only streams of active devices that are not data blocks.
    pub active_devices_only: bool,
    /// Only data blocks' streams.
    pub blocks_only: bool,
    /// Only streams with neither device nor block.
    pub virtual_only: bool,
    pub exclude_blocks: bool,
    /// Something in the query named an object that does not exist.
    pub nothing: bool,
}

impl StreamFilter {
    fn conditions(&self) -> Where {
        let mut w = Where::default();
        if self.nothing {
            w.never();
        }
        if let Some(orgs) = &self.orgs {
            w.any_of("COALESCE(s.org_id, p.org_id)", orgs);
        }
        if let Some(id) = &self.project_id {
            w.text("s.project_id = ?", id.clone());
        }
        if let Some(id) = self.device_id {
            w.int("s.device_id = ?", id);
            w.int("COALESCE(s.block, 0) = ?", self.block.unwrap_or(0));
        }
        if let Some(p) = &self.slug_pattern {
            w.text("s.slug LIKE ? ESCAPE '\\'", p.clone());
        }
        if let Some(org) = &self.org_id {
            w.text("COALESCE(s.org_id, p.org_id) = ?", org.clone());
        }
        if let Some(enabled) = self.enabled {
            w.int("s.enabled = ?", enabled as i64);
        }
        if self.active_devices_only {
            w.int("d.active = ?", 1);
            w.int("COALESCE(s.block, 0) = ?", 0);
        }
        if self.blocks_only {
            w.int("COALESCE(s.block, 0) <> ?", 0);
        }
        if self.virtual_only {
            w.push("s.device_id IS NULL", []);
            w.int("COALESCE(s.block, 0) = ?", 0);
        }
        if self.exclude_blocks {
            w.int("COALESCE(s.block, 0) = ?", 0);
        }
        w
    }
}

/// A page of streams ordered by slug, and the total.
pub async fn list(
    pool: &AnyPool,
    filter: &StreamFilter,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Stream>), sqlx::Error> {
    let w = filter.conditions();
    let (count, rows) = page(pool, COLUMNS, FROM, &w, "s.slug", (offset, limit)).await?;
    Ok((count, rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

/// Inserts a stream (its `id`, `slug` and settings as given).
pub async fn create(pool: &AnyPool, s: &Stream, created_by: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO streams (id, slug, project_id, org_id, device_id, block, variable_id, \
         data_label, var_type, data_type, var_name, var_lid, input_unit, output_unit, \
         derived_stream, raw_value_format, mdo_type, mdo_label, multiplication_factor, \
         division_factor, \"offset\", enabled, created_on, created_by) VALUES ($1, $2, $3, $4, \
         $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
         $23, $24)",
    )
    .bind(&s.id)
    .bind(&s.slug)
    .bind(&s.project_id)
    .bind(&s.org_id)
    .bind(s.device_id)
    .bind(s.block)
    .bind(&s.variable_id)
    .bind(&s.data_label)
    .bind(&s.var_type)
    .bind(&s.data_type)
    .bind(&s.var_name)
    .bind(s.var_lid)
    .bind(&s.input_unit)
    .bind(&s.output_unit)
    .bind(&s.derived_stream)
    .bind(&s.raw_value_format)
    .bind(&s.mdo_type)
    .bind(&s.mdo_label)
    .bind(s.multiplication_factor)
    .bind(s.division_factor)
    .bind(s.offset)
    .bind(s.enabled as i64)
    .bind(s.created_on)
    .bind(created_by)
    .execute(pool)
    .await?;
    Ok(())
}

/// Writes back the user-editable settings of a stream.
pub async fn update(pool: &AnyPool, s: &Stream) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE streams SET data_label = $2, input_unit = $3, output_unit = $4, \
         derived_stream = $5, mdo_type = $6, mdo_label = $7, multiplication_factor = $8, \
         division_factor = $9, \"offset\" = $10, enabled = $11 WHERE id = $1",
    )
    .bind(&s.id)
    .bind(&s.data_label)
    .bind(&s.input_unit)
    .bind(&s.output_unit)
    .bind(&s.derived_stream)
    .bind(&s.mdo_type)
    .bind(&s.mdo_label)
    .bind(s.multiplication_factor)
    .bind(s.division_factor)
    .bind(s.offset)
    .bind(s.enabled as i64)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn delete(pool: &AnyPool, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM streams WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}
