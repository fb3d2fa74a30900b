//! The processing settings of a device's stream records, as the engine wants them: enabled,
//! raw value format, and the multiply-divide-offset of the stream or its variable and of its
//! input unit.

use std::collections::HashMap;

use serde_json::Value;

use super::JobError;
use crate::ingest::StreamSettings;
use crate::state::AppState;
use crate::store::{streams, variables};

/// The processing settings of the device's stream records.
pub(super) async fn of_device(
    state: &AppState,
    project_id: &str,
    device_id: i64,
) -> Result<HashMap<String, StreamSettings>, JobError> {
    let meta = &state.db.meta;
    let vars: HashMap<String, variables::Variable> = variables::of_project(meta, project_id)
        .await?
        .into_iter()
        .map(|v| (v.id.clone(), v))
        .collect();
    let filter = streams::StreamFilter {
        device_id: Some(device_id),
        ..Default::default()
    };
    let (_, records) = streams::list(meta, &filter, 0, 100_000).await?;
    let unit_mdo = |unit: Option<&Value>| {
        unit.filter(|u| u.is_object()).map(|u| {
            let num = |k: &str, default: f64| u[k].as_f64().unwrap_or(default);
            (
                num("m", 1.0),
                num("d", 1.0),
                u["o"].as_f64().filter(|o| *o != 0.0),
            )
        })
    };
    Ok(records
        .into_iter()
        .map(|s| {
            let var = s.variable_id.as_ref().and_then(|id| vars.get(id));
            let mdo = match (s.mdo_type.as_str(), var) {
                ("V", Some(v)) => Some((
                    v.multiplication_factor as f64,
                    v.division_factor as f64,
                    Some(v.offset).filter(|o| *o != 0.0),
                )),
                _ if s.multiplication_factor.is_some()
                    || s.division_factor.is_some()
                    || s.offset.is_some() =>
                {
                    Some((
                        s.multiplication_factor.unwrap_or(1) as f64,
                        s.division_factor.unwrap_or(1) as f64,
                        s.offset.filter(|o| *o != 0.0),
                    ))
                }
                _ => None,
            };
            let stream_unit = s
                .input_unit
                .as_deref()
                .and_then(|u| serde_json::from_str::<Value>(u).ok());
            let input_unit_mdo = unit_mdo(stream_unit.as_ref())
                .or_else(|| unit_mdo(var.and_then(|v| v.input_unit.as_ref())));
            let settings = StreamSettings {
                enabled: s.enabled,
                raw_value_format: s.raw_value_format.clone(),
                mdo,
                input_unit_mdo,
                encoded: false,
            };
            (s.slug, settings)
        })
        .collect())
}
