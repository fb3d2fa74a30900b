//! The buffer's OTA tables: the feed as last fetched, downloaded scripts, each POD's update
//! progress and the outcomes still owed to the cloud.
//!
//! A job's state only moves forward, and each state is durable (`synchronous=FULL`) before
//! the step it guards runs: a crash leaves a job in the last state whose step may have
//! happened, and the updater resumes from there without repeating what could be unsafe.
//! Finishing a job and queueing its outcome for the cloud happen in one transaction.

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use sync_protocol::ids::DeviceId;

use super::{device_to_sql, Buffer, BufferError};

/// Where one POD's update stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// The script is being sent; nothing has run on the POD.
    Sending,
    /// The trigger (`0x2103`) may have been sent: the script must never be sent again.
    Triggered,
    /// The script ran; a controller reset is to be sent.
    Resetting,
    /// The reset was sent; waiting for the POD to come back with its new versions.
    Rebooting,
    Succeeded,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Sending => "sending",
            JobState::Triggered => "triggered",
            JobState::Resetting => "resetting",
            JobState::Rebooting => "rebooting",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<JobState> {
        Some(match text {
            "sending" => JobState::Sending,
            "triggered" => JobState::Triggered,
            "resetting" => JobState::Resetting,
            "rebooting" => JobState::Rebooting,
            "succeeded" => JobState::Succeeded,
            "failed" => JobState::Failed,
            _ => return None,
        })
    }

    pub fn is_final(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Failed)
    }
}

/// One update of one POD by one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub device: DeviceId,
    pub deployment: i64,
    pub script: String,
    pub state: JobState,
    /// Visits that worked on this job.
    pub attempts: u32,
    /// What happened, one line per step, for the action's log.
    pub log: String,
    pub started_us: i64,
    pub updated_us: i64,
}

/// An outcome not yet confirmed by the cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAction {
    pub id: i64,
    pub deployment: i64,
    pub device: DeviceId,
    pub successful: bool,
    pub attempt_us: i64,
    pub log: String,
}

const JOB_COLUMNS: &str =
    "device_id, deployment_id, script_slug, state, attempts, log, started_us, updated_us";

fn job(row: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    let state: String = row.get(3)?;
    Ok(Job {
        device: sql_device(row.get(0)?)?,
        deployment: row.get(1)?,
        script: row.get(2)?,
        // An unknown state can only come from a newer gateway: treat it as the most
        // careful one, never as permission to send the script again.
        state: JobState::parse(&state).unwrap_or(JobState::Triggered),
        attempts: row.get::<_, i64>(4)?.try_into().unwrap_or(u32::MAX),
        log: row.get(5)?,
        started_us: row.get(6)?,
        updated_us: row.get(7)?,
    })
}

impl Buffer {
    /// The feed as last fetched: its ETag and body.
    pub fn ota_feed(&self) -> Result<Option<(Option<String>, String)>, BufferError> {
        Ok(self
            .conn
            .query_row("SELECT etag, body FROM ota_feed WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
    }

    pub fn save_ota_feed(
        &mut self,
        etag: Option<&str>,
        body: &str,
        now_us: i64,
    ) -> Result<(), BufferError> {
        self.conn.execute(
            "INSERT INTO ota_feed (id, etag, body, fetched_us) VALUES (1, ?1, ?2, ?3) \
             ON CONFLICT (id) DO UPDATE SET etag = ?1, body = ?2, fetched_us = ?3",
            params![etag, body, now_us],
        )?;
        Ok(())
    }

    /// A downloaded script's bytes, if its SHA-256 is the one asked for.
    pub fn ota_script(&self, slug: &str, sha256: &str) -> Result<Option<Vec<u8>>, BufferError> {
        Ok(self
            .conn
            .query_row(
                "SELECT bytes FROM ota_scripts WHERE slug = ?1 AND sha256 = ?2",
                params![slug, sha256.to_ascii_lowercase()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// A downloaded script's bytes by slug alone: what an unfinished job resumes with.
    pub fn ota_script_bytes(&self, slug: &str) -> Result<Option<Vec<u8>>, BufferError> {
        Ok(self
            .conn
            .query_row(
                "SELECT bytes FROM ota_scripts WHERE slug = ?1",
                [slug],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn save_ota_script(
        &mut self,
        slug: &str,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<(), BufferError> {
        self.check_budget(bytes.len())?;
        self.conn.execute(
            "INSERT INTO ota_scripts (slug, sha256, bytes) VALUES (?1, ?2, ?3) \
             ON CONFLICT (slug) DO UPDATE SET sha256 = ?2, bytes = ?3",
            params![slug, sha256.to_ascii_lowercase(), bytes],
        )?;
        Ok(())
    }

    /// Drops scripts that neither a current deployment nor an unfinished job uses.
    pub fn prune_ota_scripts(&mut self, keep: &[String]) -> Result<usize, BufferError> {
        let tx = self.conn.transaction()?;
        let slugs: Vec<String> = {
            let mut stmt = tx.prepare(
                "SELECT slug FROM ota_scripts WHERE slug NOT IN (SELECT script_slug FROM ota_jobs \
                 WHERE state NOT IN ('succeeded', 'failed'))",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut dropped = 0;
        for slug in slugs.iter().filter(|s| !keep.contains(s)) {
            dropped += tx.execute("DELETE FROM ota_scripts WHERE slug = ?1", [slug])?;
        }
        tx.commit()?;
        Ok(dropped)
    }

    /// The POD's job for this deployment, finished or not.
    pub fn ota_job(&self, device: DeviceId, deployment: i64) -> Result<Option<Job>, BufferError> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM ota_jobs WHERE device_id = ?1 AND deployment_id = ?2"
                ),
                params![device_to_sql(device), deployment],
                job,
            )
            .optional()?)
    }

    /// Every job's device, deployment and state.
    pub fn ota_job_states(&self) -> Result<Vec<(DeviceId, i64, JobState)>, BufferError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {JOB_COLUMNS} FROM ota_jobs"))?;
        let rows = stmt.query_map([], job)?;
        rows.map(|r| {
            r.map(|j| (j.device, j.deployment, j.state))
                .map_err(BufferError::from)
        })
        .collect()
    }

    /// Every job not finished, oldest first.
    pub fn open_ota_jobs(&self) -> Result<Vec<Job>, BufferError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {JOB_COLUMNS} FROM ota_jobs \
             WHERE state NOT IN ('succeeded', 'failed') ORDER BY started_us"
        ))?;
        let rows = stmt.query_map([], job)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Starts a job in [`JobState::Sending`]; an existing job of the pair is returned as it
    /// is, so a deployment never starts twice on one POD.
    pub fn start_ota_job(
        &mut self,
        device: DeviceId,
        deployment: i64,
        script: &str,
        now_us: i64,
    ) -> Result<Job, BufferError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT OR IGNORE INTO ota_jobs (device_id, deployment_id, script_slug, state, \
             started_us, updated_us) VALUES (?1, ?2, ?3, 'sending', ?4, ?4)",
            params![device_to_sql(device), deployment, script, now_us],
        )?;
        let found = tx.query_row(
            &format!(
                "SELECT {JOB_COLUMNS} FROM ota_jobs WHERE device_id = ?1 AND deployment_id = ?2"
            ),
            params![device_to_sql(device), deployment],
            job,
        )?;
        tx.commit()?;
        Ok(found)
    }

    /// Moves an unfinished job on, adding a line to its log. Durable when it returns.
    pub fn advance_ota_job(
        &mut self,
        job: &mut Job,
        state: JobState,
        line: &str,
        now_us: i64,
    ) -> Result<(), BufferError> {
        let log = with_line(&job.log, line);
        self.conn.execute(
            "UPDATE ota_jobs SET state = ?3, log = ?4, updated_us = ?5 \
             WHERE device_id = ?1 AND deployment_id = ?2",
            params![
                device_to_sql(job.device),
                job.deployment,
                state.as_str(),
                log,
                now_us
            ],
        )?;
        job.state = state;
        job.log = log;
        job.updated_us = now_us;
        Ok(())
    }

    /// Counts a visit that worked on the job.
    pub fn count_ota_attempt(&mut self, job: &mut Job) -> Result<(), BufferError> {
        self.conn.execute(
            "UPDATE ota_jobs SET attempts = attempts + 1 WHERE device_id = ?1 AND deployment_id = ?2",
            params![device_to_sql(job.device), job.deployment],
        )?;
        job.attempts = job.attempts.saturating_add(1);
        Ok(())
    }

    /// Finishes a job and queues its outcome for the cloud, in one transaction.
    pub fn finish_ota_job(
        &mut self,
        job: &mut Job,
        successful: bool,
        line: &str,
        now_us: i64,
    ) -> Result<(), BufferError> {
        let state = if successful {
            JobState::Succeeded
        } else {
            JobState::Failed
        };
        let log = with_line(&job.log, line);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE ota_jobs SET state = ?3, log = ?4, updated_us = ?5 \
             WHERE device_id = ?1 AND deployment_id = ?2 AND state NOT IN ('succeeded', 'failed')",
            params![
                device_to_sql(job.device),
                job.deployment,
                state.as_str(),
                log,
                now_us
            ],
        )?;
        if changed == 1 {
            tx.execute(
                "INSERT INTO ota_actions (deployment_id, device_id, successful, attempt_us, log) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    job.deployment,
                    device_to_sql(job.device),
                    successful,
                    now_us,
                    log
                ],
            )?;
        }
        tx.commit()?;
        job.state = state;
        job.log = log;
        job.updated_us = now_us;
        Ok(())
    }

    /// Fails jobs whose POD was reset longer than `limit_us` ago and never came back.
    pub fn fail_lost_reboots(
        &mut self,
        limit_us: i64,
        now_us: i64,
    ) -> Result<Vec<Job>, BufferError> {
        let lost: Vec<Job> = self
            .open_ota_jobs()?
            .into_iter()
            .filter(|j| j.state == JobState::Rebooting && now_us - j.updated_us > limit_us)
            .collect();
        let mut failed = Vec::new();
        for mut job in lost {
            let line = format!(
                "the POD did not come back within {} s after its reset",
                limit_us / 1_000_000
            );
            self.finish_ota_job(&mut job, false, &line, now_us)?;
            failed.push(job);
        }
        Ok(failed)
    }

    /// Outcomes the cloud has not confirmed, oldest first.
    pub fn pending_ota_actions(&self, limit: usize) -> Result<Vec<PendingAction>, BufferError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, deployment_id, device_id, successful, attempt_us, log FROM ota_actions \
             WHERE posted_us IS NULL ORDER BY id LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(PendingAction {
                id: r.get(0)?,
                deployment: r.get(1)?,
                device: sql_device(r.get(2)?)?,
                successful: r.get(3)?,
                attempt_us: r.get(4)?,
                log: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many outcomes the cloud has not confirmed.
    pub fn unsent_ota_actions(&self) -> Result<u64, BufferError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM ota_actions WHERE posted_us IS NULL",
            [],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub fn mark_ota_action_posted(&mut self, id: i64, now_us: i64) -> Result<(), BufferError> {
        self.conn.execute(
            "UPDATE ota_actions SET posted_us = ?2 WHERE id = ?1",
            params![id, now_us],
        )?;
        Ok(())
    }
}

fn sql_device(raw: i64) -> rusqlite::Result<DeviceId> {
    u64::try_from(raw)
        .ok()
        .and_then(|d| DeviceId::new(d).ok())
        .ok_or(rusqlite::Error::IntegralValueOutOfRange(0, raw))
}

fn with_line(log: &str, line: &str) -> String {
    if log.is_empty() {
        line.to_string()
    } else {
        format!("{log}\n{line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffer::Budget;

    fn open(dir: &tempfile::TempDir) -> Buffer {
        let budget = Budget { max_bytes: 1 << 30 };
        Buffer::open(&dir.path().join("b.sqlite"), budget)
            .expect("opens")
            .0
    }

    #[test]
    fn a_job_moves_forward_and_queues_one_outcome_that_survives_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let device = DeviceId::from_u32(0x42);
        let mut b = open(&dir);
        let mut job = b
            .start_ota_job(device, 7, "z--0000-0001", 10)
            .expect("starts");
        assert_eq!((job.state, job.attempts), (JobState::Sending, 0));
        b.advance_ota_job(&mut job, JobState::Triggered, "sent", 11)
            .expect("advances");
        // Starting again finds the job as it is: a deployment never starts twice on a POD.
        let again = b
            .start_ota_job(device, 7, "z--0000-0001", 12)
            .expect("found");
        assert_eq!(again.state, JobState::Triggered);
        drop(b);

        let mut b = open(&dir);
        let mut job = b.ota_job(device, 7).expect("reads").expect("kept");
        assert_eq!(job.state, JobState::Triggered);
        assert_eq!(b.open_ota_jobs().expect("reads").len(), 1);
        b.finish_ota_job(&mut job, true, "back", 13)
            .expect("finishes");
        b.finish_ota_job(&mut job, false, "again", 14)
            .expect("no-op");
        let actions = b.pending_ota_actions(10).expect("reads");
        assert_eq!(actions.len(), 1, "one outcome per job");
        assert!(actions[0].successful);
        assert_eq!(actions[0].log, "sent\nback");
        b.mark_ota_action_posted(actions[0].id, 15).expect("marks");
        assert!(b.pending_ota_actions(10).expect("reads").is_empty());
        assert_eq!(b.unsent_ota_actions().expect("counts"), 0);
        assert!(b.open_ota_jobs().expect("reads").is_empty());
    }

    #[test]
    fn lost_reboots_fail_and_scripts_of_open_jobs_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut b = open(&dir);
        let (pod, other) = (DeviceId::from_u32(1), DeviceId::from_u32(2));
        let mut job = b.start_ota_job(pod, 1, "z--0000-0001", 0).expect("starts");
        b.advance_ota_job(&mut job, JobState::Rebooting, "reset", 100)
            .expect("advances");
        b.start_ota_job(other, 2, "z--0000-0002", 0)
            .expect("starts");
        b.save_ota_script("z--0000-0001", "AA", b"one")
            .expect("saved");
        b.save_ota_script("z--0000-0002", "bb", b"two")
            .expect("saved");
        b.save_ota_script("z--0000-0003", "cc", b"three")
            .expect("saved");
        assert_eq!(b.prune_ota_scripts(&[]).expect("prunes"), 1);
        assert_eq!(
            b.ota_script("z--0000-0001", "aa").expect("reads"),
            Some(b"one".to_vec())
        );

        assert!(b.fail_lost_reboots(1_000, 500).expect("sweeps").is_empty());
        let failed = b.fail_lost_reboots(1_000, 2_000).expect("sweeps");
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].state, JobState::Failed);
        assert!(failed[0].log.contains("did not come back"));
        let action = &b.pending_ota_actions(10).expect("reads")[0];
        assert!(!action.successful && action.device == pod);
    }
}
