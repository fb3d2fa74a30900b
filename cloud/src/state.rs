//! What every handler shares.

use std::sync::Arc;

use crate::auth::limiter::LoginLimiter;
use crate::auth::links::LinkSigner;
use crate::auth::secret::Secret;
use crate::auth::tokens::UserTokens;
use crate::blobs::Blobs;
use crate::db::Db;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub db: Db,
    pub tokens: UserTokens,
    /// Signs the links that work without an `Authorization` header (script downloads).
    pub links: LinkSigner,
    pub login_limiter: LoginLimiter,
    pub site: SiteInfo,
    /// Wakes this process's idle workers when a job is queued here.
    pub jobs_ready: tokio::sync::Notify,
    /// Raw report files, event documents and scripts.
    pub blobs: Blobs,
}

/// What `GET /api/v1/server/` tells about this deployment.
#[derive(Debug, Clone)]
pub struct SiteInfo {
    pub name: String,
    pub stage: String,
    pub company: String,
}

impl AppState {
    /// The state of a server whose tokens and links are signed with `secret`.
    pub fn new(db: Db, secret: &Secret, site: SiteInfo, blobs: Blobs) -> AppState {
        AppState(Arc::new(Inner {
            db,
            tokens: UserTokens::new(secret),
            links: LinkSigner::new(secret),
            login_limiter: LoginLimiter::default(),
            site,
            jobs_ready: tokio::sync::Notify::new(),
            blobs,
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
