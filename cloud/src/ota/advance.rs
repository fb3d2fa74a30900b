//! Moves a stored deployment along its life: release (freezing its targets into waves),
//! evaluation (complete, halt, open the next wave) and resumption.
//!
//! There is no timer: [`evaluate`] runs whenever an action or a confirmation arrives and
//! whenever the deployment is read, and a device that did not come back within
//! `confirm_within` is noticed then. Every write is a compare-and-set on the state it was
//! decided from, so concurrent evaluations agree and a manual halt or resume is never undone
//! by a decision taken on older counts.

use sqlx::AnyConnection;
use sync_protocol::ota::Criteria;

use super::rollout::assign_waves;
use super::selection;
use super::tally::{decide, tally, Decision, Moment, Tally};
use super::State;
use crate::store::deployments::{self, Deployment};
use crate::store::{deployment_actions, deployment_targets, orgs};

/// Why a deployment completed by itself.
pub const ALL_CONFIRMED: &str = "every targeted device confirmed the update";

/// A deployment with its counts as of its evaluation.
#[derive(Debug, Clone)]
pub struct Evaluated {
    pub deployment: Deployment,
    pub tally: Tally,
}

/// Counts a deployment's targets and applies what they call for.
pub async fn evaluate(
    conn: &mut AnyConnection,
    mut d: Deployment,
    now: i64,
) -> Result<Evaluated, sqlx::Error> {
    if d.state == State::Draft {
        return Ok(Evaluated {
            deployment: d,
            tally: Tally::default(),
        });
    }
    let targets = deployment_targets::of_deployment(&mut *conn, d.id).await?;
    let attempts = deployment_actions::attempts(&mut *conn, d.id).await?;
    let at = Moment {
        now,
        resumed_on: d.resumed_on,
    };
    let counts = tally(&targets, &attempts, d.rollout.as_ref(), at);
    match decide(d.state, d.rollout.as_ref(), d.current_wave, &counts) {
        Decision::Stay => {
            return Ok(Evaluated {
                deployment: d,
                tally: counts,
            })
        }
        Decision::Complete => {
            if deployments::complete(&mut *conn, d.id, d.state, now, ALL_CONFIRMED).await? {
                tracing::info!(deployment = d.id, "deployment completed: {ALL_CONFIRMED}");
            }
        }
        Decision::Halt(reason) => {
            if deployments::halt(&mut *conn, d.id, &reason).await? {
                tracing::warn!(deployment = d.id, %reason, "deployment halted");
            }
        }
        Decision::Advance(to) => {
            if deployments::open_waves(&mut *conn, d.id, d.current_wave, to).await? {
                tracing::info!(
                    deployment = d.id,
                    wave = to,
                    "deployment opened its next wave"
                );
            }
        }
    }
    // Whether this evaluation or a concurrent one wrote, the stored row is the truth.
    if let Some(fresh) = deployments::by_id(&mut *conn, d.id).await? {
        d = fresh;
    }
    Ok(Evaluated {
        deployment: d,
        tally: counts,
    })
}

/// Evaluates the deployment with this id, if it exists.
pub async fn evaluate_id(
    conn: &mut AnyConnection,
    id: i64,
    now: i64,
) -> Result<Option<Evaluated>, sqlx::Error> {
    match deployments::by_id(&mut *conn, id).await? {
        Some(d) => Ok(Some(evaluate(conn, d, now).await?)),
        None => Ok(None),
    }
}

/// What releasing a draft did.
#[derive(Debug)]
pub enum Released {
    Done(Box<Evaluated>),
    /// It was not a draft (any more).
    NotDraft,
    /// No candidate meets the criteria: the caller must not commit, since a deployment
    /// whose frozen targets are none could never do anything.
    NoTargets {
        candidates: usize,
    },
}

/// Releases a draft: marks it running (first, so a transaction holds the write lock from
/// the start), then freezes its targets, the candidates whose recorded versions meet its
/// criteria, each in its wave.
pub async fn release(
    conn: &mut AnyConnection,
    d: &Deployment,
    released_on: i64,
    now: i64,
) -> Result<Released, sqlx::Error> {
    if !deployments::release(&mut *conn, d.id, released_on).await? {
        return Ok(Released::NotDraft);
    }
    let criteria = Criteria::parse(&d.criteria).ok();
    let candidates = deployment_targets::candidates(&mut *conn, &d.org_id, d.fleet_id).await?;
    let chosen: Vec<i64> = candidates
        .iter()
        .filter(|c| {
            criteria
                .as_ref()
                .is_some_and(|cr| selection::matches(cr, &c.known()))
        })
        .map(|c| c.device_id)
        .collect();
    // A vendor's deployment without a fleet is offered, by the original's rules, to devices
    // of every org (`ota/device/`), so it means something even with no target of its own.
    let reaches_others = d.fleet_id.is_none() && orgs::is_vendor(&mut *conn, &d.org_id).await?;
    if chosen.is_empty() && !reaches_others {
        return Ok(Released::NoTargets {
            candidates: candidates.len(),
        });
    }
    let waves = assign_waves(d.rollout.as_ref(), d.id, &chosen);
    deployment_targets::insert(&mut *conn, d.id, &waves).await?;
    tracing::info!(
        deployment = d.id,
        targets = waves.len(),
        "deployment released"
    );
    Ok(match evaluate_id(conn, d.id, now).await? {
        Some(evaluated) => Released::Done(Box::new(evaluated)),
        None => Released::NotDraft,
    })
}

impl Released {
    /// The refusal for a release that found no target.
    pub fn no_targets_message(candidates: usize) -> String {
        format!(
            "No device meets the selection criteria, so the deployment would update nothing \
             ({candidates} devices in its fleet or org; a device whose versions the cloud has \
             not yet seen meets no version or tag criterion). Nothing was released."
        )
    }
}

/// Resumes a halted deployment and evaluates it: the wave it halted in stays open, and the
/// next one opens if the halted one had already reached its `advance_at`. `None` when it
/// was not halted.
pub async fn resume(
    conn: &mut AnyConnection,
    d: &Deployment,
    now: i64,
) -> Result<Option<Evaluated>, sqlx::Error> {
    if !deployments::resume(&mut *conn, d.id, now).await? {
        return Ok(None);
    }
    tracing::info!(deployment = d.id, "deployment resumed");
    evaluate_id(conn, d.id, now).await
}
