//! Who owns a slug: resolves `p--`, `d--`, `b--`, `s--` and `v--` slugs to the org whose
//! permissions govern them (spec 2.7), so every resource attached to a target can check
//! access the same way.
//!
//! - a project belongs to its org;
//! - a device to its org, or its project's org when it has none; a data block to the
//!   device it archives;
//! - a stream to its record's org; a stream with no record to the device named in its
//!   slug, or to the project for a virtual stream;
//! - a variable to its record's org, or to the project named in its slug.

use sync_protocol::ids::{parse_any, DeviceRef, ProjectSlug, Slug};

use super::error::{ApiError, ApiResult};
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::streams::{self, Stream};
use crate::store::{devices, projects, variables};

/// A resolved target.
#[derive(Debug, Clone)]
pub struct Target {
    pub slug: Slug,
    /// The canonical slug, as stored with attached records.
    pub canonical: String,
    pub org_id: Option<String>,
    /// The device the target is or belongs to.
    pub device_id: Option<i64>,
    /// The stream record, for a stream that has one.
    pub stream: Option<Stream>,
    /// For a device: its project's number (the `p--` slug's), when it is claimed.
    pub project_gid: Option<i64>,
}

impl Target {
    fn new(slug: Slug, org_id: Option<String>, device_id: Option<i64>) -> Target {
        Target {
            canonical: slug.to_string(),
            slug,
            org_id,
            device_id,
            stream: None,
            project_gid: None,
        }
    }
}

/// Parses a slug of any kind; `None` when it is not a slug.
pub fn parse(raw: &str) -> Option<Slug> {
    parse_any(raw.trim()).ok()
}

/// Finds the owner of a parsed slug; `None` when the object does not exist (or its kind
/// has no owner here).
pub async fn resolve(state: &AppState, slug: Slug) -> ApiResult<Option<Target>> {
    let pool = &state.db.meta;
    let device = |d: DeviceRef| async move {
        let id = i64::try_from(d.device().get()).unwrap_or(i64::MAX);
        devices::owner(pool, id).await
    };
    let project = |p: ProjectSlug| async move { projects::by_slug(pool, p).await };
    Ok(match slug {
        Slug::Project(p) => project(p)
            .await?
            .map(|p| Target::new(slug, Some(p.org_id), None)),
        Slug::Device(d) => device(d.into()).await?.map(|d| Target {
            project_gid: d.project_gid,
            ..Target::new(slug, d.org_id, Some(d.id))
        }),
        Slug::Block(b) => device(b.into())
            .await?
            .map(|d| Target::new(slug, d.org_id, Some(d.id))),
        Slug::Stream(s) => {
            if let Some(record) = streams::by_slug(pool, &s.to_string()).await? {
                let mut t = Target::new(slug, record.org_id.clone(), record.device_id);
                t.stream = Some(record);
                Some(t)
            } else if s.is_virtual() {
                project(s.project())
                    .await?
                    .map(|p| Target::new(slug, Some(p.org_id), None))
            } else {
                device(s.device_ref())
                    .await?
                    .map(|d| Target::new(slug, d.org_id, Some(d.id)))
            }
        }
        Slug::Variable(v) => match variables::by_slug(pool, &v.to_string()).await? {
            Some(var) => Some(Target::new(slug, var.org_id, None)),
            None => project(v.project())
                .await?
                .map(|p| Target::new(slug, Some(p.org_id), None)),
        },
        _ => None,
    })
}

/// Whether the caller holds `perm` in the target's org (and, with a device token, whether
/// the target is that device's).
pub fn allowed(caller: &Caller, target: &Target, perm: &str) -> bool {
    allowed_in(caller, target.org_id.as_deref(), target.device_id, perm)
}

/// The same check from an object's org and device.
pub fn allowed_in(
    caller: &Caller,
    org_id: Option<&str>,
    device_id: Option<i64>,
    perm: &str,
) -> bool {
    let in_org = match org_id {
        Some(org) => caller.can(org, perm),
        None => caller.is_staff(),
    };
    in_org
        && match (caller.device, device_id) {
            (Some(_), Some(id)) => caller.may_touch_device(id),
            (Some(_), None) => false,
            (None, _) => true,
        }
}

/// Resolves a slug and checks `perm`: 404 when unknown, 403 when not allowed.
pub async fn require(
    state: &AppState,
    caller: &Caller,
    slug: Slug,
    perm: &str,
) -> ApiResult<Target> {
    let target = resolve(state, slug).await?.ok_or(ApiError::NotFound)?;
    if !allowed(caller, &target, perm) {
        return Err(ApiError::no_permission());
    }
    Ok(target)
}
