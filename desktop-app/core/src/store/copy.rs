//! The offline copy: the user's orgs, their projects, the devices the user may see and
//! each org's OTA feed, as the cloud last listed them. A refresh replaces it whole, in one
//! transaction, so the copy is never half old and half new.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use sync_protocol::ota::OtaFeed;

use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CopyOrg {
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CopyProject {
    /// The project's UUID.
    pub id: String,
    /// `p--0000-0001`.
    pub slug: String,
    pub name: String,
    /// The org's slug.
    pub org: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CopyDevice {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub id: u64,
    pub slug: String,
    pub label: String,
    /// The project's UUID, when claimed.
    pub project: Option<String>,
    /// The org's slug, when claimed.
    pub org: Option<String>,
}

/// Everything a refresh brings.
#[derive(Debug, Clone, Default)]
pub struct Copy {
    pub orgs: Vec<CopyOrg>,
    pub projects: Vec<CopyProject>,
    pub devices: Vec<CopyDevice>,
    /// Per org slug, its OTA feed.
    pub feeds: Vec<(String, OtaFeed)>,
}

impl Store {
    pub fn replace_copy(&mut self, copy: &Copy, now: i64) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "DELETE FROM orgs; DELETE FROM projects; DELETE FROM devices; DELETE FROM feeds;",
        )?;
        for o in &copy.orgs {
            tx.execute(
                "INSERT INTO orgs (slug, name) VALUES (?1, ?2)",
                params![o.slug, o.name],
            )?;
        }
        for p in &copy.projects {
            tx.execute(
                "INSERT INTO projects (id, slug, name, org) VALUES (?1, ?2, ?3, ?4)",
                params![p.id, p.slug, p.name, p.org],
            )?;
        }
        for d in &copy.devices {
            tx.execute(
                "INSERT OR REPLACE INTO devices (id, slug, label, project, org) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    i64::try_from(d.id).unwrap_or(i64::MAX),
                    d.slug,
                    d.label,
                    d.project,
                    d.org
                ],
            )?;
        }
        for (org, feed) in &copy.feeds {
            let body = serde_json::to_string(feed)
                .map_err(|e| StoreError::Corrupt("OTA feed", e.to_string()))?;
            tx.execute(
                "INSERT INTO feeds (org, body) VALUES (?1, ?2)",
                params![org, body],
            )?;
        }
        tx.execute(
            "INSERT INTO copy (id, refreshed_at) VALUES (1, ?1) \
             ON CONFLICT (id) DO UPDATE SET refreshed_at = excluded.refreshed_at",
            [now],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// When the copy was last refreshed (Unix seconds); None before the first refresh.
    pub fn copy_refreshed_at(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT refreshed_at FROM copy WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn orgs(&self) -> Result<Vec<CopyOrg>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT slug, name FROM orgs ORDER BY name, slug")?;
        let rows = stmt.query_map([], |r| {
            Ok(CopyOrg {
                slug: r.get(0)?,
                name: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn projects(&self) -> Result<Vec<CopyProject>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, slug, name, org FROM projects ORDER BY org, name, slug")?;
        let rows = stmt.query_map([], |r| {
            Ok(CopyProject {
                id: r.get(0)?,
                slug: r.get(1)?,
                name: r.get(2)?,
                org: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn project(&self, id_or_slug: &str) -> Result<Option<CopyProject>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, slug, name, org FROM projects WHERE id = ?1 OR slug = ?1",
                [id_or_slug],
                |r| {
                    Ok(CopyProject {
                        id: r.get(0)?,
                        slug: r.get(1)?,
                        name: r.get(2)?,
                        org: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn device(&self, id: u64) -> Result<Option<CopyDevice>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, slug, label, project, org FROM devices WHERE id = ?1",
                [i64::try_from(id).unwrap_or(i64::MAX)],
                |r| {
                    Ok(CopyDevice {
                        id: u64::try_from(r.get::<_, i64>(0)?).unwrap_or_default(),
                        slug: r.get(1)?,
                        label: r.get(2)?,
                        project: r.get(3)?,
                        org: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn device_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM devices", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or_default())
    }

    /// The OTA feed of `org`, as last fetched.
    pub fn feed(&self, org: &str) -> Result<Option<OtaFeed>, StoreError> {
        let body: Option<String> = self
            .conn
            .query_row("SELECT body FROM feeds WHERE org = ?1", [org], |r| r.get(0))
            .optional()?;
        body.map(|b| {
            serde_json::from_str(&b).map_err(|e| StoreError::Corrupt("OTA feed", e.to_string()))
        })
        .transpose()
    }
}
