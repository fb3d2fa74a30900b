//! Claiming a device into a project, and freeing it again.
//!
//! A claim sets the device's project and org and creates, in the same transaction, the
//! project variables and device streams its sensor graph names. An unclaim clears the
//! device and deletes what belonged to the claim; its stream data lives in the data
//! database, which may be another database, so it is deleted after the metadata commits.

use serde_json::Value;
use sqlx::{Any, AnyPool, Row, Transaction};
use sync_protocol::ids::{DeviceId, StreamSlug, VariableSlug};

use super::catalogue::{self, Kind};
use super::projects::Project;

/// One variable template of a sensor graph, with its units resolved from the var type.
#[derive(Debug, Clone)]
pub struct VarTemplate {
    pub lid: u16,
    pub label: String,
    pub var_type: Option<String>,
    pub input_unit: Option<Value>,
    pub output_unit: Option<Value>,
    pub m: i64,
    pub d: i64,
    pub o: f64,
    pub decimal_places: i64,
    pub app_only: bool,
    pub web_only: bool,
}

/// The variable templates of a sensor graph (none when it is unknown or has none).
pub async fn variable_templates(
    pool: &AnyPool,
    sg_slug: Option<&str>,
) -> Result<Vec<VarTemplate>, sqlx::Error> {
    let Some(slug) = sg_slug else {
        return Ok(vec![]);
    };
    let Some((sg, _)) = catalogue::get(pool, Kind::SensorGraph, slug).await? else {
        return Ok(vec![]);
    };
    let mut out = Vec::new();
    for t in sg["variable_templates"].as_array().into_iter().flatten() {
        let Some(lid) = t["lid_hex"]
            .as_str()
            .and_then(|h| u16::from_str_radix(h, 16).ok())
        else {
            continue;
        };
        let var_type = t["var_type"].as_str().map(String::from);
        let vt = match &var_type {
            Some(slug) => catalogue::get(pool, Kind::VarType, slug)
                .await?
                .map(|(v, _)| v),
            None => None,
        };
        let unit = |list: &str, key: &str| {
            let wanted = t[key].as_str()?;
            vt.as_ref()?[list]
                .as_array()?
                .iter()
                .find(|u| u["slug"] == wanted)
                .cloned()
        };
        let output_unit = unit("available_output_units", "default_output_unit");
        out.push(VarTemplate {
            lid,
            label: t["label"].as_str().unwrap_or_default().to_string(),
            input_unit: unit("available_input_units", "default_input_unit"),
            decimal_places: output_unit
                .as_ref()
                .and_then(|u| u["decimal_places"].as_i64())
                .unwrap_or(2),
            output_unit,
            var_type,
            m: t["m"].as_i64().unwrap_or(1),
            d: t["d"].as_i64().filter(|d| *d != 0).unwrap_or(1),
            o: t["o"].as_f64().unwrap_or(0.0),
            app_only: t["app_only"].as_bool().unwrap_or(false),
            web_only: t["web_only"].as_bool().unwrap_or(false),
        });
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("the device already has a project")]
    NotClaimable,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Claims a device for a project in one transaction; refused when it already has one.
pub async fn claim(
    pool: &AnyPool,
    device_id: i64,
    project: &Project,
    user_id: i64,
    templates: &[VarTemplate],
    now: i64,
) -> Result<(), ClaimError> {
    let mut tx = pool.begin().await?;
    let claimed = sqlx::query(
        "UPDATE devices SET project_id = $1, org_id = $2, claimed_by = $3, claimed_on = $4 \
         WHERE id = $5 AND project_id IS NULL",
    )
    .bind(&project.id)
    .bind(&project.org_id)
    .bind(user_id)
    .bind(now)
    .bind(device_id)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        return Err(ClaimError::NotClaimable);
    }
    for t in templates {
        let var = variable_for(&mut tx, project, t, user_id, now).await?;
        stream_for(&mut tx, project, device_id, &var, t, user_id, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn json_text(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(Value::to_string)
}

/// The project's variable with the template's lid, created when missing. Returns its id
/// and name.
async fn variable_for(
    tx: &mut Transaction<'_, Any>,
    project: &Project,
    t: &VarTemplate,
    user_id: i64,
    now: i64,
) -> Result<(String, String, String), sqlx::Error> {
    let slug = VariableSlug::new(project.slug(), t.lid).to_string();
    sqlx::query(
        "INSERT INTO variables (id, slug, project_id, org_id, lid, name, var_type, input_unit, \
         output_unit, multiplication_factor, division_factor, \"offset\", decimal_places, \
         web_only, app_only, created_on, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         ON CONFLICT (project_id, lid) DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&slug)
    .bind(&project.id)
    .bind(&project.org_id)
    .bind(i64::from(t.lid))
    .bind(&t.label)
    .bind(&t.var_type)
    .bind(json_text(&t.input_unit))
    .bind(json_text(&t.output_unit))
    .bind(t.m)
    .bind(t.d)
    .bind(t.o)
    .bind(t.decimal_places)
    .bind(t.web_only as i64)
    .bind(t.app_only as i64)
    .bind(now)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    let row: (String, String, String) = sqlx::query_as(
        "SELECT id, name, raw_value_format FROM variables WHERE project_id = $1 AND lid = $2",
    )
    .bind(&project.id)
    .bind(i64::from(t.lid))
    .fetch_one(&mut **tx)
    .await?;
    Ok(row)
}

/// The device's stream of a variable, created with the variable's settings when missing.
async fn stream_for(
    tx: &mut Transaction<'_, Any>,
    project: &Project,
    device_id: i64,
    var: &(String, String, String),
    t: &VarTemplate,
    user_id: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    let device = DeviceId::new(u64::try_from(device_id).unwrap_or_default()).unwrap_or_default();
    let slug = StreamSlug::new(project.slug(), device, t.lid).to_string();
    let (var_id, var_name, raw_value_format) = var;
    sqlx::query(
        "INSERT INTO streams (id, slug, project_id, org_id, device_id, variable_id, var_type, \
         data_type, var_name, var_lid, input_unit, output_unit, raw_value_format, mdo_type, \
         multiplication_factor, division_factor, \"offset\", created_on, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'D0', $8, $9, $10, $11, $12, 'S', $13, $14, $15, $16, $17) \
         ON CONFLICT (slug) DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&slug)
    .bind(&project.id)
    .bind(&project.org_id)
    .bind(device_id)
    .bind(var_id)
    .bind(&t.var_type)
    .bind(var_name)
    .bind(i64::from(t.lid))
    .bind(json_text(&t.input_unit))
    .bind(json_text(&t.output_unit))
    .bind(raw_value_format)
    .bind(t.m)
    .bind(t.d)
    .bind(t.o)
    .bind(now)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Frees a device: deletes its streamer reports, properties, user notes, locations and
/// `a-jwt` secret, clears its project, org, position and claim, and sets its label. With
/// `clean_streams` its streams (and their user notes), its streamers (so `last_id` starts
/// again from 0) and all its stream data and events go too; the object keys of the deleted
/// events' documents are returned for the caller to remove.
pub async fn unclaim(
    meta: &AnyPool,
    data: &AnyPool,
    device_id: i64,
    device_slug: &str,
    label: &str,
    clean_streams: bool,
) -> Result<Vec<String>, sqlx::Error> {
    let mut tx = meta.begin().await?;
    sqlx::query(
        "DELETE FROM streamer_reports WHERE streamer_id IN (SELECT id FROM streamers WHERE device_id = $1)",
    )
    .bind(device_id)
    .execute(&mut *tx)
    .await?;
    // A new secret on the next claim, so tokens issued for this claim never work again.
    sqlx::query("DELETE FROM device_keys WHERE device_id = $1 AND type = $2")
        .bind(device_id)
        .bind(super::device_keys::A_JWT_KEY)
        .execute(&mut *tx)
        .await?;
    for sql in [
        "DELETE FROM properties WHERE target = $1",
        "DELETE FROM notes WHERE target = $1 AND type = 'ui'",
        "DELETE FROM locations WHERE target = $1",
    ] {
        sqlx::query(sql).bind(device_slug).execute(&mut *tx).await?;
    }
    if clean_streams {
        sqlx::query(
            "DELETE FROM notes WHERE type = 'ui' AND target IN \
             (SELECT slug FROM streams WHERE device_id = $1 AND block IS NULL)",
        )
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
        for sql in [
            "DELETE FROM streams WHERE device_id = $1 AND block IS NULL",
            "DELETE FROM streamers WHERE device_id = $1",
        ] {
            sqlx::query(sql).bind(device_id).execute(&mut *tx).await?;
        }
    }
    sqlx::query(
        "UPDATE devices SET project_id = NULL, org_id = NULL, lat = NULL, lon = NULL, \
         claimed_by = NULL, claimed_on = NULL, label = $1 WHERE id = $2",
    )
    .bind(label)
    .bind(device_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut keys = Vec::new();
    if clean_streams {
        keys = sqlx::query(
            "DELETE FROM stream_events WHERE device_slug = $1 AND raw_key IS NOT NULL \
             RETURNING raw_key",
        )
        .bind(device_slug)
        .fetch_all(data)
        .await?
        .iter()
        .map(|r| r.try_get("raw_key"))
        .collect::<Result<Vec<String>, _>>()?;
        super::data::delete_device(data, device_slug).await?;
        sqlx::query("DELETE FROM stream_events WHERE device_slug = $1")
            .bind(device_slug)
            .execute(data)
            .await?;
        // The streamers are gone, so ingest starts again with no reading id held.
        let streamer_prefix = format!("t--{}--%", device_slug.trim_start_matches("d--"));
        for table in ["streamer_progress", "streamer_held"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE streamer_slug LIKE $1"))
                .bind(&streamer_prefix)
                .execute(data)
                .await?;
        }
    }
    Ok(keys)
}
