//! Update confirmation from a device's own version streams (spec 6.4 steps 4–7), in the
//! ingest worker's metadata transaction, right after the report's new version records.
//!
//! For the records a report added (none when the same report is processed again, so a
//! crash-retry changes nothing twice):
//! 4. point the device at the active catalogue entry of its new version: the device
//!    template with that OS tag and version, the sensor graph with that app tag and version
//!    (the highest entry version when several match), else the entry with the tag alone;
//! 5. confirm the device's latest successful, unconfirmed action, appending a summary to its
//!    log;
//! 6. or else record a confirmed action "auto created" on the first released, open
//!    deployment concerning the device (one that targets it before any other);
//! 7. add a system note on the device saying what it was updated to.
//!
//! The deployment of the confirmed action is then evaluated: it completes once every target
//! has confirmed, and a staged rollout opens its next wave.
//!
//! One report with both an OS and an app record confirms one action, with both in its
//! summary. The original confirmed once per reading.

use serde_json::Value;
use sqlx::AnyConnection;

use crate::ota::advance;
use crate::store::deployment_actions::{self, NewAction};
use crate::store::device_versions::{self, DeviceVersion};
use crate::store::ota_confirm::{self, Catalogue};
use crate::store::{deployment_targets, deployments};

/// The log of an action the worker creates because no agent reported one.
pub const AUTO_CREATED: &str = "auto created";

/// Steps 4–7 for the version records a report added to a device.
pub async fn apply(
    conn: &mut AnyConnection,
    device_id: i64,
    added: &[DeviceVersion],
    now: i64,
) -> Result<(), sqlx::Error> {
    if added.is_empty() {
        return Ok(());
    }
    let Some((slug, org)) = ota_confirm::device_slug_and_org(&mut *conn, device_id).await? else {
        return Ok(());
    };
    let mut updates = Vec::with_capacity(added.len());
    for record in added {
        updates.push(point_at_catalogue(conn, device_id, &slug, record).await?);
    }
    let summary = updates.join(", ");
    let deployment = match deployment_actions::latest_unconfirmed_success(conn, device_id).await? {
        Some(action) => {
            let line = format!("Confirmed by the device's version streams: {summary}");
            let log = match action.log.as_deref() {
                Some(old) if !old.is_empty() => format!("{old}\n{line}"),
                _ => line,
            };
            deployment_actions::confirm(conn, action.id, &log).await?;
            Some(action.deployment_id)
        }
        None => auto_create(conn, device_id, org.as_deref(), now).await?,
    };
    let note = format!("Device {slug} has been updated: {summary}");
    ota_confirm::add_system_note(conn, &slug, &note, now).await?;
    if let Some(id) = deployment {
        advance::evaluate_id(conn, id, now).await?;
    }
    Ok(())
}

/// Step 6: a confirmed action on the first deployment concerning the device, preferring one
/// that targets it; returns that deployment.
async fn auto_create(
    conn: &mut AnyConnection,
    device_id: i64,
    org: Option<&str>,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let concerning = deployments::concerning_device(&mut *conn, device_id, org, now).await?;
    let mut chosen = concerning.first().map(|d| d.id);
    for d in &concerning {
        if deployment_targets::wave_of(&mut *conn, d.id, device_id)
            .await?
            .is_some()
        {
            chosen = Some(d.id);
            break;
        }
    }
    let Some(deployment_id) = chosen else {
        return Ok(None);
    };
    let action = NewAction {
        deployment_id,
        device_id,
        last_attempt_on: Some(now),
        attempt_successful: true,
        device_confirmation: true,
        log: Some(AUTO_CREATED),
    };
    deployment_actions::create(conn, &action, now).await?;
    Ok(Some(deployment_id))
}

/// Step 4 for one record; returns its summary (`os tag 2050 v1.0, template pod-1m-v1-0-0`).
async fn point_at_catalogue(
    conn: &mut AnyConnection,
    device_id: i64,
    slug: &str,
    record: &DeviceVersion,
) -> Result<String, sqlx::Error> {
    let v = record.version;
    let (catalogue, field, what) = match record.kind.as_str() {
        "os" => (Catalogue::Templates, "os_version", "template"),
        _ => (Catalogue::SensorGraphs, "app_version", "sensor graph"),
    };
    let text = format!("{} tag {} {}", record.kind, v.tag, record.version_text());
    let entries = ota_confirm::entries_with_tag(conn, catalogue, v.tag).await?;
    match choose(&entries, field, v.major, v.minor) {
        Some((entry, exact)) => {
            if !exact {
                tracing::warn!(
                    device = slug, %text, entry,
                    "no {what} has this exact version; chose one by tag alone"
                );
            }
            ota_confirm::set_device_entry(conn, catalogue, device_id, entry).await?;
            Ok(format!("{text}, {what} {entry}"))
        }
        None => {
            // The original fails the whole report job here. Failing would hold back the
            // report's readings and retry a job that cannot succeed until someone adds a
            // catalogue entry; the version record is kept, so the device's own versions
            // stay right and only its template or sensor graph is left as it was. A device's
            // first report of its version changes nothing, so it is only worth a warning
            // when the version did change.
            if device_versions::count(conn, device_id, &record.kind).await? > 1 {
                tracing::warn!(
                    device = slug, %text,
                    "no active {what} has this tag; the device keeps its {what}"
                );
            } else {
                tracing::info!(
                    device = slug, %text,
                    "first version report; no active {what} has this tag"
                );
            }
            Ok(text)
        }
    }
}

/// The entry for a version: among those with its tag, the highest entry version whose
/// `field` (`os_version`, `app_version`: `vM.m`) is the version, else the highest of all;
/// and whether the version matched exactly.
fn choose<'a>(
    entries: &'a [(String, Value)],
    field: &str,
    major: u8,
    minor: u8,
) -> Option<(&'a str, bool)> {
    let wanted = [u32::from(major), u32::from(minor)];
    let highest = |exact: bool| {
        entries
            .iter()
            .filter(|(_, body)| {
                !exact || dotted(body[field].as_str().unwrap_or_default()).starts_with(&wanted)
            })
            .max_by_key(|(_, body)| dotted(body["version"].as_str().unwrap_or_default()))
            .map(|(slug, _)| slug.as_str())
    };
    highest(true)
        .map(|s| (s, true))
        .or_else(|| highest(false).map(|s| (s, false)))
}

/// `v1.2.3` → `[1, 2, 3]`; anything unreadable → `[]`.
fn dotted(text: &str) -> Vec<u32> {
    let body = text.trim().trim_start_matches(['v', 'V']);
    body.split('.')
        .map(|p| p.parse::<u32>())
        .collect::<Result<_, _>>()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exact_version_first_then_tag_alone() {
        let entries = vec![
            (
                "wm-1-1-0".to_string(),
                json!({"app_version": "v1.0", "version": "v1.1.0"}),
            ),
            (
                "wm-1-1-1".to_string(),
                json!({"app_version": "v1.1", "version": "v1.1.1"}),
            ),
            (
                "wm-1-2-0".to_string(),
                json!({"app_version": "v1.1", "version": "v1.2.0"}),
            ),
        ];
        assert_eq!(
            choose(&entries, "app_version", 1, 0),
            Some(("wm-1-1-0", true))
        );
        assert_eq!(
            choose(&entries, "app_version", 1, 1),
            Some(("wm-1-2-0", true))
        );
        assert_eq!(
            choose(&entries, "app_version", 3, 0),
            Some(("wm-1-2-0", false))
        );
        assert_eq!(choose(&[], "app_version", 1, 0), None);
        // "v1.10" is not v1.1.
        let ten = vec![(
            "x".to_string(),
            json!({"app_version": "v1.10", "version": "v1.0.0"}),
        )];
        assert_eq!(choose(&ten, "app_version", 1, 1), Some(("x", false)));
        assert_eq!(dotted("garbage"), Vec::<u32>::new());
    }
}
