//! Storage: every SQL statement of the server lives here, one module per table family.
//! Functions take a pool or a connection and return plain records; the HTTP layer decides
//! what a missing row means.

pub mod aliases;
pub mod annotations;
pub mod catalogue;
pub mod claims;
pub mod config_attrs;
pub mod data;
pub mod deployment_actions;
pub mod deployment_targets;
pub mod deployments;
pub mod device_keys;
pub mod device_versions;
pub mod devices;
pub mod events;
mod filter;
pub mod fleets;
pub mod gateways;
pub mod held;
pub mod ingest_log;
pub mod jobs;
pub mod orgs;
pub mod ota_confirm;
pub mod ota_scripts;
pub mod projects;
pub mod release_keys;
pub mod reports;
pub mod rollups;
pub mod script_uploads;
pub mod streamers;
pub mod streams;
pub mod users;
pub mod variables;
pub mod version_records;

use sqlx::any::AnyRow;
use sqlx::Row;

/// Reads a 0/1 flag column.
pub(crate) fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

/// Whether an error is a unique-constraint violation (both backends).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.kind() == sqlx::error::ErrorKind::UniqueViolation
                || db
                    .code()
                    .is_some_and(|c| c == "23505" || c == "2067" || c == "1555")
        }
        _ => false,
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
