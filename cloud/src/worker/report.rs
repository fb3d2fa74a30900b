//! The `process_report` job: turns a stored report into stream data, exactly once.
//!
//! 1. Load the report's books, its streamer, device and project, and the raw file.
//! 2. In one transaction on the stream-data database: lock the streamer's progress row, and
//!    unless the ingest log already has this report, run the engine against the stored
//!    `last_id`, insert the new rows, move the progress up and log the outcome.
//! 3. In one transaction on the metadata database: write the report's ids and counts, the
//!    streamer's acknowledgement and the job's completion.
//!
//! A crash after 2 and before 3 leaves the log behind: the next attempt finds it, inserts
//! nothing and finishes the books with the logged numbers. A report that does not verify is
//! marked failed and produces no data.

use std::collections::HashMap;

use serde_json::Value;
use sync_protocol::report::Verification;

use super::JobError;
use crate::http::report_upload::{self, Decoded, FileKind};
use crate::ingest::{self, Context, Outcome, PreviousReport, StreamSettings};
use crate::state::AppState;
use crate::store::ingest_log::{self, Logged};
use crate::store::reports::{self, Processed, Report};
use crate::store::{data, devices, events, jobs, projects, streamers, streams, variables};
use crate::time::now_micros;

pub async fn process(state: &AppState, job: &jobs::Job, worker: &str) -> Result<(), JobError> {
    let payload: Value = serde_json::from_str(&job.payload)
        .map_err(|e| JobError::Permanent(format!("payload is not JSON: {e}")))?;
    let id = payload["report"]
        .as_str()
        .ok_or_else(|| JobError::Permanent("payload names no report".into()))?;
    let meta = &state.db.meta;
    let Some(report) = reports::by_id(meta, id).await? else {
        // Deleted with its device's books (unclaim): nothing left to do.
        return finish(state, job, worker, None).await;
    };
    if report.status != "scheduled" {
        return finish(state, job, worker, None).await;
    }
    match prepare(state, &report).await? {
        Ok(work) => {
            let stored = store_rows(state, &report, &work).await?;
            finish(state, job, worker, Some((&report, Ok((work, stored))))).await
        }
        Err(reason) => finish(state, job, worker, Some((&report, Err(reason)))).await,
    }
}

/// Everything the engine needs, or why the report cannot be processed.
struct Work {
    decoded: Decoded,
    readings: Vec<sync_protocol::Reading>,
    streamer_slug: String,
    streamer_id: i64,
    device_id: i64,
    project_gid: u32,
    index: u16,
    selector: u16,
    previous: Option<PreviousReport>,
    streams: HashMap<String, StreamSettings>,
}

async fn prepare(state: &AppState, report: &Report) -> Result<Result<Work, String>, JobError> {
    let meta = &state.db.meta;
    let streamer = streamers::by_id(meta, report.streamer_id)
        .await?
        .ok_or_else(|| JobError::Permanent("the report's streamer is gone".into()))?;
    let Some(device) = devices::by_id(meta, streamer.device_id).await? else {
        return Ok(Err("the device no longer exists".into()));
    };
    let Some(project) = (match &device.project_id {
        Some(p) => projects::by_id(meta, p).await?,
        None => None,
    }) else {
        return Ok(Err(format!("device {} is no longer claimed", device.slug)));
    };
    let key = report.raw_key.as_deref().unwrap_or_default();
    let bytes = match state.blobs.get(key).await {
        Ok(b) => b,
        Err(crate::blobs::BlobError::NotFound(_)) => {
            return Ok(Err(format!("raw file {key} is missing")))
        }
        Err(e) => return Err(JobError::Retry(format!("reading {key}: {e}"))),
    };
    let kind = FileKind::of(&format!("r.{}", report.ext)).unwrap_or(FileKind::SignedList);
    let decoded = match report_upload::decode(kind, &bytes) {
        Ok(d) => d,
        Err(e) => return Ok(Err(format!("the file does not decode: {e}"))),
    };
    let readings = match &decoded {
        Decoded::SignedList(r) => {
            let key = report_upload::signing_key(state, device.id, r.flags)
                .await
                .map_err(|e| JobError::Retry(e.to_string()))?;
            match r.readings(key.as_ref()) {
                Ok(readings) => readings,
                Err(Verification::NoKey) => return Ok(Err("no key to verify the report".into())),
                Err(v) => return Ok(Err(format!("the report does not verify ({v:?})"))),
            }
        }
        Decoded::Flexible(_) => Vec::new(),
    };
    let previous = match report.incremental_id {
        Some(incremental) => reports::previous(meta, streamer.id, incremental)
            .await?
            .map(|(sent, device_sent)| PreviousReport {
                sent_timestamp: sent,
                device_sent_timestamp: u32::try_from(device_sent).unwrap_or(0),
            }),
        None => None,
    };
    Ok(Ok(Work {
        decoded,
        readings,
        streamer_slug: streamer.slug.clone(),
        streamer_id: streamer.id,
        device_id: device.id,
        project_gid: u32::try_from(project.gid).unwrap_or(0),
        index: u16::try_from(streamer.index).unwrap_or(0),
        selector: streamer
            .selector
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(0xFFFF),
        previous,
        streams: stream_settings(state, &project.id, device.id).await?,
    }))
}

/// The processing settings of the device's stream records.
async fn stream_settings(
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

/// Step 2: the rows and the ingest log, in one stream-data transaction.
/// What step 2 stored: the logged outcome, and the time of the last reboot when this attempt
/// ran the engine (a report found in the log leaves the streamer's reboot time as it is).
struct Stored {
    logged: Logged,
    last_reboot_ts: Option<i64>,
}

async fn store_rows(state: &AppState, report: &Report, work: &Work) -> Result<Stored, JobError> {
    let mut tx = state.db.data.begin().await?;
    let last_id = ingest_log::lock_progress(&mut tx, &work.streamer_slug).await?;
    if let Some(logged) = ingest_log::logged(&mut tx, &report.id).await? {
        tx.rollback().await?;
        return Ok(Stored {
            logged,
            last_reboot_ts: None,
        });
    }
    let ctx = Context {
        project_gid: work.project_gid,
        device_id: u64::try_from(work.device_id).unwrap_or_default(),
        streamer_index: work.index,
        selector: work.selector,
        last_id: u64::try_from(last_id).unwrap_or_default(),
        received: report.sent_timestamp,
        previous: work.previous,
        streams: &work.streams,
    };
    let outcome: Outcome = match &work.decoded {
        Decoded::SignedList(r) => ingest::process_signed_readings(r, &work.readings, &ctx),
        Decoded::Flexible(r) => ingest::process_flexible(r, &ctx),
    }
    .map_err(|e| JobError::Permanent(e.to_string()))?;
    data::insert_batch(&mut tx, &outcome.data).await?;
    events::insert_batch(&mut tx, &outcome.events).await?;
    let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let logged = Logged {
        first_id: outcome.actual_first_id.map_or(0, as_i64),
        last_id: outcome.actual_last_id.map_or(0, as_i64),
        new_count: i64::try_from(outcome.new_count).unwrap_or(i64::MAX),
        dup_count: i64::try_from(outcome.duplicate_count).unwrap_or(i64::MAX),
    };
    ingest_log::record(
        &mut tx,
        &report.id,
        &work.streamer_slug,
        logged,
        now_micros(),
    )
    .await?;
    tx.commit().await?;
    Ok(Stored {
        logged,
        last_reboot_ts: outcome.last_reboot_ts,
    })
}

/// What an attempt came to: the stored outcome, or why the report cannot be processed.
type Attempt = Result<(Work, Stored), String>;

/// Step 3: the books and the job's completion, in one metadata transaction. When the lease
/// was lost meanwhile, nothing is written: the job's new holder finishes it.
async fn finish(
    state: &AppState,
    job: &jobs::Job,
    worker: &str,
    result: Option<(&Report, Attempt)>,
) -> Result<(), JobError> {
    let now = now_micros();
    let mut tx = state.db.meta.begin().await?;
    match &result {
        None => {}
        Some((
            report,
            Ok((
                work,
                Stored {
                    logged,
                    last_reboot_ts,
                },
            )),
        )) => {
            let original = match &work.decoded {
                Decoded::SignedList(r) => {
                    (Some(i64::from(r.lowest_id)), Some(i64::from(r.highest_id)))
                }
                Decoded::Flexible(r) => (
                    r.lowest_id().and_then(|v| i64::try_from(v).ok()),
                    r.highest_id().and_then(|v| i64::try_from(v).ok()),
                ),
            };
            let processed = Processed {
                original_first_id: original.0,
                original_last_id: original.1,
                actual: (logged.new_count > 0).then_some((logged.first_id, logged.last_id)),
                new_count: logged.new_count,
                duplicate_count: logged.dup_count,
                last_reboot_ts: *last_reboot_ts,
            };
            reports::record_processed(
                &mut tx,
                &report.id,
                work.streamer_id,
                work.device_id,
                &processed,
                now,
            )
            .await?;
        }
        Some((report, Err(reason))) => {
            tracing::warn!(report = %report.id, reason = %reason, "report not processed");
            reports::record_failed(&mut tx, &report.id, reason, now).await?;
        }
    }
    if !jobs::complete(&mut *tx, job.id, worker, now).await? {
        tx.rollback().await?;
        return Err(JobError::Retry(
            "the job's lease passed to another worker".into(),
        ));
    }
    tx.commit().await?;
    Ok(())
}
