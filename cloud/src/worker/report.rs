//! The `process_report` job: turns stored reports into stream data, exactly once. Jobs come
//! in batches (at most one per streamer, see `jobs::claim_many`), so the writes of many
//! reports share a transaction:
//!
//! 1. For each report: load its books, streamer, device and project, and the raw file.
//! 2. Before that transaction, the documents of the reports' new events go to object storage
//!    under keys derived from the report id and the event's place in the file, so that an
//!    attempt after a crash rewrites the same objects and the rows of 3 name only stored ones.
//! 3. In one transaction on the stream-data database, for each report: lock the streamer's
//!    progress row, and unless the ingest log already has this report, read the ids the
//!    streamer holds around the report's, run the engine against them, insert the new rows,
//!    add the ids the report covers to the held ones, move the progress up and log the
//!    outcome (with the version readings it stored).
//! 4. In one transaction on the metadata database: write each report's ids and counts, the
//!    device's new OS and app versions with the OTA updates they confirm (`ota_confirm`),
//!    the streamer's acknowledgement and the job's completion.
//!
//! A crash after 3 and before 4 leaves the log behind: the next attempt finds it, inserts
//! nothing and finishes the books with the logged numbers. A report that does not verify is
//! marked failed and produces no data.

use std::collections::HashMap;

use serde_json::Value;
use sync_protocol::report::Verification;

use super::{ota_confirm, stream_settings, JobError};
use crate::event_documents;
use crate::http::report_upload::{self, Decoded, FileKind};
use crate::ingest::{self, Context, IdRanges, Outcome, PreviousReport, StreamSettings};
use crate::state::AppState;
use crate::store::device_versions::{self, VersionReading};
use crate::store::held::{self, Window};
use crate::store::ingest_log::{self, Logged};
use crate::store::reports::{self, Processed, Report};
use crate::store::{data, devices, events, jobs, projects, streamers};
use crate::time::now_micros;

/// Readings per stream-data transaction: a batch of large reports is split so that one
/// transaction never holds an unbounded number of rows.
const ROWS_PER_TRANSACTION: usize = 20_000;

/// One job's way through a batch.
struct Entry<'a> {
    job: &'a jobs::Job,
    step: Step,
    /// How the attempt ended, once it has.
    result: Option<Result<(), JobError>>,
}

enum Step {
    /// Only the job's completion is left (the report is gone, or was processed before).
    Nothing,
    /// The report cannot be processed: it is recorded as failed.
    Refused(Report, String),
    /// Ready for the engine; `stored` is filled by step 3.
    Ready(Report, Box<Work>, Option<Stored>),
}

/// Processes a batch of `process_report` jobs; the results follow the order of `batch`.
pub async fn process(
    state: &AppState,
    batch: &[jobs::Job],
    worker: &str,
) -> Vec<Result<(), JobError>> {
    // The reads of step 1 overlap; they use the read pool.
    let loaded = futures::future::join_all(batch.iter().map(|job| load(state, job))).await;
    let mut entries: Vec<Entry> = batch
        .iter()
        .zip(loaded)
        .map(|(job, loaded)| match loaded {
            Ok(step) => Entry {
                job,
                step,
                result: None,
            },
            Err(e) => Entry {
                job,
                step: Step::Nothing,
                result: Some(Err(e)),
            },
        })
        .collect();
    let mut start = 0;
    while start < entries.len() {
        // A group: bounded in rows, and each streamer at most once (its progress is read
        // once per transaction).
        let mut end = start;
        let mut rows = 0;
        let mut streamers = std::collections::HashSet::new();
        while end < entries.len() && (end == start || rows < ROWS_PER_TRANSACTION) {
            if let Step::Ready(_, work, _) = &entries[end].step {
                if !streamers.insert(work.streamer_slug.clone()) {
                    break;
                }
                rows += work.readings.len();
            }
            end += 1;
        }
        let group = &mut entries[start..end];
        put_documents(state, group).await;
        match store_rows(state, group).await {
            Ok(()) => finish(state, group, worker).await,
            // One report's failure must not hold the others back: each is tried alone.
            Err(_) if group.len() > 1 => {
                for one in group.chunks_mut(1) {
                    match store_rows(state, one).await {
                        Ok(()) => finish(state, one, worker).await,
                        Err(e) => fail_all(one, &e),
                    }
                }
            }
            Err(e) => fail_all(group, &e),
        }
        start = end;
    }
    entries
        .into_iter()
        .map(|e| e.result.unwrap_or(Ok(())))
        .collect()
}

/// Marks a group's unfinished jobs for another attempt after a database error.
fn fail_all(group: &mut [Entry<'_>], error: &sqlx::Error) {
    for entry in group.iter_mut().filter(|e| e.result.is_none()) {
        entry.result = Some(Err(JobError::Retry(error.to_string())));
    }
}

/// Step 1 for one job.
async fn load(state: &AppState, job: &jobs::Job) -> Result<Step, JobError> {
    let payload: Value = serde_json::from_str(&job.payload)
        .map_err(|e| JobError::Permanent(format!("payload is not JSON: {e}")))?;
    let id = payload["report"]
        .as_str()
        .ok_or_else(|| JobError::Permanent("payload names no report".into()))?;
    let Some(report) = reports::by_id(&state.db.meta, id).await? else {
        // Deleted with its device's books (unclaim): nothing left to do.
        return Ok(Step::Nothing);
    };
    if report.status != "scheduled" {
        return Ok(Step::Nothing);
    }
    Ok(match prepare(state, &report).await? {
        Ok(work) => Step::Ready(report, Box::new(work), None),
        Err(reason) => Step::Refused(report, reason),
    })
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
    /// The ids the report covers: the engine's and the held intervals' window.
    covers: IdRanges,
}

impl Work {
    /// The ids of its streamer the report may touch; `None` when it has no reading id.
    fn window(&self) -> Option<Window<'_>> {
        Some(Window {
            streamer: &self.streamer_slug,
            first: self.covers.min()?,
            last: self.covers.max()?,
        })
    }
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
    let covers = match &decoded {
        Decoded::SignedList(_) => ingest::signed_covers(&readings),
        Decoded::Flexible(r) => ingest::flexible_covers(r),
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
        streams: stream_settings::of_device(state, &project.id, device.id).await?,
        covers,
    }))
}

/// What step 3 stored: the logged outcome, the version readings, and the time of the last
/// reboot when this attempt ran the engine (a report found in the log leaves the streamer's
/// reboot time as it is).
struct Stored {
    logged: Logged,
    versions: Vec<VersionReading>,
    last_reboot_ts: Option<i64>,
}

/// Step 2: the event documents of a group's flexible reports. Only events whose id is not held
/// as read now are stored: the held ids only grow, so the engine in step 3 finds no new event
/// outside this set. A report whose documents cannot be stored is retried later.
async fn put_documents(state: &AppState, group: &mut [Entry<'_>]) {
    for entry in group.iter_mut().filter(|e| e.result.is_none()) {
        let Step::Ready(report, work, _) = &entry.step else {
            continue;
        };
        let Decoded::Flexible(flexible) = &work.decoded else {
            continue;
        };
        let held = match held_now(state, work).await {
            Ok(held) => held,
            Err(e) => {
                entry.result = Some(Err(JobError::Retry(e.to_string())));
                continue;
            }
        };
        let docs = ingest::event_documents(flexible, &context(report, work, &held));
        if let Err(e) = event_documents::put_all(&state.blobs, docs).await {
            tracing::warn!(report = %report.id, error = %e, "storing event documents failed");
            entry.result = Some(Err(JobError::Retry(format!(
                "storing event documents: {e}"
            ))));
        }
    }
}

/// The streamer's held ids around the report's, as committed now (read without its lock:
/// they only grow).
async fn held_now(state: &AppState, work: &Work) -> Result<IdRanges, sqlx::Error> {
    let Some(window) = work.window() else {
        return Ok(IdRanges::new());
    };
    let mut conn = state.db.data.acquire().await?;
    let mut held = held::around(&mut conn, &[window]).await?;
    Ok(held.remove(&work.streamer_slug).unwrap_or_default())
}

/// Step 3: the rows and the ingest log of a group, in one stream-data transaction. A report
/// the engine refuses is left out (its job fails for good); a database error fails the group.
async fn store_rows(state: &AppState, group: &mut [Entry<'_>]) -> Result<(), sqlx::Error> {
    let ready: Vec<(&Report, &Work)> = group
        .iter()
        .filter(|e| e.result.is_none())
        .filter_map(|e| match &e.step {
            Step::Ready(report, work, _) => Some((report, work.as_ref())),
            _ => None,
        })
        .collect();
    if ready.is_empty() {
        return Ok(());
    }
    let streamers: Vec<&str> = ready
        .iter()
        .map(|(_, w)| w.streamer_slug.as_str())
        .collect();
    let ids: Vec<&str> = ready.iter().map(|(r, _)| r.id.as_str()).collect();
    let mut tx = state.db.data_writes.begin().await?;
    let progress = ingest_log::lock_progress(&mut tx, &streamers).await?;
    let logged = ingest_log::logged(&mut tx, &ids).await?;
    let windows: Vec<Window> = ready
        .iter()
        .filter(|(r, _)| !logged.contains_key(&r.id))
        .filter_map(|(_, w)| w.window())
        .collect();
    let before = held::around(&mut tx, &windows).await?;
    let nothing = IdRanges::new();
    let held_before = |streamer: &str| before.get(streamer).unwrap_or(&nothing);
    // A report found in the log keeps its logged numbers; the engine runs on the others and
    // their rows go in together.
    let mut results: HashMap<String, Result<(Stored, Outcome), String>> = HashMap::new();
    for (report, work) in &ready {
        let result = match logged.get(&report.id) {
            Some((logged, versions)) => Ok((
                Stored {
                    logged: *logged,
                    versions: device_versions::from_log(versions),
                    last_reboot_ts: None,
                },
                Outcome::default(),
            )),
            None => run_engine(report, work, held_before(&work.streamer_slug)),
        };
        results.insert(report.id.clone(), result);
    }
    let fresh: Vec<(&str, &str, &Stored, &Outcome)> = ready
        .iter()
        .filter(|(r, _)| !logged.contains_key(&r.id))
        .filter_map(|(r, w)| match results.get(&r.id) {
            Some(Ok((stored, outcome))) => {
                Some((r.id.as_str(), w.streamer_slug.as_str(), stored, outcome))
            }
            _ => None,
        })
        .collect();
    let rows: Vec<data::NewDataRow> = fresh
        .iter()
        .flat_map(|(.., o)| o.data.iter().cloned())
        .collect();
    data::insert_batch(&mut tx, &rows).await?;
    let events: Vec<events::NewEvent> = fresh
        .iter()
        .flat_map(|(.., o)| o.events.iter().cloned())
        .collect();
    events::insert_batch(&mut tx, &events).await?;
    let versions: Vec<String> = fresh
        .iter()
        .map(|(.., stored, _)| device_versions::to_log(&stored.versions))
        .collect();
    // Each streamer is in the group once, so its intervals change by one report here.
    let after: Vec<IdRanges> = fresh
        .iter()
        .map(|(_, streamer, _, outcome)| {
            let mut after = held_before(streamer).clone();
            after.extend(&outcome.covers);
            after
        })
        .collect();
    let changes: Vec<held::Change> = fresh
        .iter()
        .zip(&after)
        .map(|((_, streamer, ..), after)| held::Change {
            streamer,
            before: held_before(streamer),
            after,
        })
        .collect();
    held::write(&mut tx, &changes).await?;
    let log: Vec<ingest_log::Entry> = fresh
        .iter()
        .zip(&versions)
        .zip(&after)
        .map(
            |(((report, streamer, stored, _), versions), after)| ingest_log::Entry {
                report,
                streamer,
                outcome: stored.logged,
                versions,
                held_to: progress.get(*streamer).copied().unwrap_or(0).max(
                    after
                        .max()
                        .map_or(0, |id| i64::try_from(id).unwrap_or(i64::MAX)),
                ),
            },
        )
        .collect();
    ingest_log::record(&mut tx, &log, now_micros()).await?;
    tx.commit().await?;
    for entry in group.iter_mut().filter(|e| e.result.is_none()) {
        let Step::Ready(report, _, stored) = &mut entry.step else {
            continue;
        };
        match results.remove(&report.id) {
            Some(Ok((s, _))) => *stored = Some(s),
            Some(Err(reason)) => entry.result = Some(Err(JobError::Permanent(reason))),
            None => {}
        }
    }
    Ok(())
}

/// The engine on one report against the ids its streamer holds: what it stores, or why the
/// report is refused.
fn run_engine(report: &Report, work: &Work, held: &IdRanges) -> Result<(Stored, Outcome), String> {
    let ctx = context(report, work, held);
    let outcome = match &work.decoded {
        Decoded::SignedList(r) => ingest::process_signed_readings(r, &work.readings, &ctx),
        Decoded::Flexible(r) => ingest::process_flexible(r, &ctx),
    }
    .map_err(|e| e.to_string())?;
    let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let logged = Logged {
        first_id: outcome.actual_first_id.map_or(0, as_i64),
        last_id: outcome.actual_last_id.map_or(0, as_i64),
        new_count: i64::try_from(outcome.new_count).unwrap_or(i64::MAX),
        dup_count: i64::try_from(outcome.duplicate_count).unwrap_or(i64::MAX),
    };
    let stored = Stored {
        logged,
        versions: outcome.os_app_versions.clone(),
        last_reboot_ts: outcome.last_reboot_ts,
    };
    Ok((stored, outcome))
}

/// What the engine is told about `report` when its streamer holds `held`.
fn context<'a>(report: &'a Report, work: &'a Work, held: &'a IdRanges) -> Context<'a> {
    Context {
        project_gid: work.project_gid,
        device_id: u64::try_from(work.device_id).unwrap_or_default(),
        streamer_index: work.index,
        selector: work.selector,
        held,
        received: report.sent_timestamp,
        previous: work.previous,
        streams: &work.streams,
        report_id: &report.id,
    }
}

/// Step 4: the books and the completions of a group's unfinished jobs, in one metadata
/// transaction. A job whose lease passed to another worker meanwhile is left to its new
/// holder (who finds the log) and the others are finished without it.
async fn finish(state: &AppState, group: &mut [Entry<'_>], worker: &str) {
    loop {
        let open: Vec<usize> = (0..group.len())
            .filter(|i| group[*i].result.is_none())
            .collect();
        if open.is_empty() {
            return;
        }
        match finish_once(state, group, &open, worker).await {
            Ok(lost) if lost.is_empty() => {
                for i in open {
                    group[i].result = Some(Ok(()));
                }
                return;
            }
            Ok(lost) => {
                for i in lost {
                    group[i].result = Some(Err(JobError::Retry(
                        "the job's lease passed to another worker".into(),
                    )));
                }
            }
            Err(e) => {
                for i in open {
                    group[i].result = Some(Err(JobError::Retry(e.to_string())));
                }
                return;
            }
        }
    }
}

/// One try at step 4 for the entries `open`; returns those whose lease was lost, in which
/// case nothing was written.
async fn finish_once(
    state: &AppState,
    group: &[Entry<'_>],
    open: &[usize],
    worker: &str,
) -> Result<Vec<usize>, sqlx::Error> {
    let now = now_micros();
    let mut tx = state.db.meta_writes.begin().await?;
    let mut lost = Vec::new();
    for &i in open {
        let entry = &group[i];
        match &entry.step {
            Step::Nothing => {}
            Step::Ready(report, work, Some(stored)) => {
                let processed = processed(work, stored);
                reports::record_processed(
                    &mut tx,
                    &report.id,
                    work.streamer_id,
                    work.device_id,
                    &processed,
                    now,
                )
                .await?;
                // Idempotent: an attempt after a crash records the logged readings again,
                // and only records it adds go on to confirm OTA updates (spec 6.4 4–7).
                let added =
                    device_versions::record(&mut tx, work.device_id, &stored.versions, now).await?;
                ota_confirm::apply(&mut tx, work.device_id, &added, now).await?;
            }
            // Not stored: the engine refused it, and its result is already set.
            Step::Ready(_, _, None) => continue,
            Step::Refused(report, reason) => {
                tracing::warn!(report = %report.id, reason = %reason, "report not processed");
                reports::record_failed(&mut tx, &report.id, reason, now).await?;
            }
        }
        if !jobs::complete(&mut *tx, entry.job.id, worker, now).await? {
            lost.push(i);
        }
    }
    if lost.is_empty() {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(lost)
}

/// The report's books as step 3 left them.
fn processed(work: &Work, stored: &Stored) -> Processed {
    let original = match &work.decoded {
        Decoded::SignedList(r) => (Some(i64::from(r.lowest_id)), Some(i64::from(r.highest_id))),
        Decoded::Flexible(r) => (
            r.lowest_id().and_then(|v| i64::try_from(v).ok()),
            r.highest_id().and_then(|v| i64::try_from(v).ok()),
        ),
    };
    let logged = &stored.logged;
    Processed {
        original_first_id: original.0,
        original_last_id: original.1,
        actual: (logged.new_count > 0).then_some((logged.first_id, logged.last_id)),
        new_count: logged.new_count,
        duplicate_count: logged.dup_count,
        last_reboot_ts: stored.last_reboot_ts,
    }
}
