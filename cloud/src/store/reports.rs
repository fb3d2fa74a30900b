//! Streamer reports: the books of each upload, from the moment its file is stored to the end
//! of its processing, and the device heartbeat.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use super::jobs;

/// A report's record, as the API shows it.
#[derive(Debug, Clone)]
pub struct Report {
    pub id: String,
    pub streamer_id: i64,
    pub streamer_slug: String,
    pub original_first_id: Option<i64>,
    pub original_last_id: Option<i64>,
    pub actual_first_id: Option<i64>,
    pub actual_last_id: Option<i64>,
    pub sent_timestamp: i64,
    pub device_sent_timestamp: Option<i64>,
    pub incremental_id: Option<i64>,
    pub time_epsilon: f64,
    pub created_on: i64,
    pub created_by: Option<String>,
    pub raw_key: Option<String>,
    pub ext: String,
    pub reading_count: i64,
    pub status: String,
    pub new_count: Option<i64>,
    pub duplicate_count: Option<i64>,
    pub error: Option<String>,
    pub processed_on: Option<i64>,
}

const COLUMNS: &str = "r.id, r.streamer_id, t.slug AS streamer_slug, r.original_first_id, \
    r.original_last_id, r.actual_first_id, r.actual_last_id, r.sent_timestamp, \
    r.device_sent_timestamp, r.incremental_id, r.time_epsilon, r.created_on, u.slug AS created_by, \
    r.raw_key, r.ext, r.reading_count, r.status, r.new_count, r.duplicate_count, r.error, r.processed_on";
const FROM: &str = "streamer_reports r JOIN streamers t ON t.id = r.streamer_id \
    LEFT JOIN users u ON u.id = r.created_by";

fn from_row(r: &AnyRow) -> Result<Report, sqlx::Error> {
    Ok(Report {
        id: r.try_get("id")?,
        streamer_id: r.try_get("streamer_id")?,
        streamer_slug: r.try_get("streamer_slug")?,
        original_first_id: r.try_get("original_first_id")?,
        original_last_id: r.try_get("original_last_id")?,
        actual_first_id: r.try_get("actual_first_id")?,
        actual_last_id: r.try_get("actual_last_id")?,
        sent_timestamp: r.try_get("sent_timestamp")?,
        device_sent_timestamp: r.try_get("device_sent_timestamp")?,
        incremental_id: r.try_get("incremental_id")?,
        time_epsilon: r.try_get("time_epsilon")?,
        created_on: r.try_get("created_on")?,
        created_by: r.try_get("created_by")?,
        raw_key: r.try_get("raw_key")?,
        ext: r.try_get("ext")?,
        reading_count: r.try_get("reading_count")?,
        status: r.try_get("status")?,
        new_count: r.try_get("new_count")?,
        duplicate_count: r.try_get("duplicate_count")?,
        error: r.try_get("error")?,
        processed_on: r.try_get("processed_on")?,
    })
}

pub async fn by_id(pool: &AnyPool, id: &str) -> Result<Option<Report>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE r.id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// The streamer's report with the same file contents, if one was uploaded before.
pub async fn by_digest(
    pool: &AnyPool,
    streamer_id: i64,
    sha256: &str,
) -> Result<Option<Report>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE r.streamer_id = $1 AND r.sha256 = $2 ORDER BY r.created_on LIMIT 1");
    sqlx::query(&sql)
        .bind(streamer_id)
        .bind(sha256)
        .fetch_optional(pool)
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// A streamer's reports, oldest first.
pub async fn of_streamer(pool: &AnyPool, streamer_id: i64) -> Result<Vec<Report>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE r.streamer_id = $1 ORDER BY r.created_on, r.id"
    );
    let rows = sqlx::query(&sql).bind(streamer_id).fetch_all(pool).await?;
    rows.iter().map(from_row).collect()
}

/// A report in a list across streamers: with its device and the device's org.
#[derive(Debug, Clone)]
pub struct Listed {
    pub report: Report,
    pub device_slug: String,
    pub org_slug: Option<String>,
}

/// Which reports a list across streamers shows.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Whose streamers count, exactly as the streamer list scopes them.
    pub scope: super::streamers::Scope,
    pub org_slug: Option<String>,
    /// `scheduled`, `processed` or `failed`.
    pub status: Option<String>,
}

/// The orders a report list may be sorted in, by name.
pub const SORTS: &[(&str, &str)] = &[
    ("received", "r.created_on"),
    ("sent", "r.sent_timestamp"),
    ("readings", "r.reading_count"),
    ("status", "r.status"),
    ("device", "t.device_id"),
];

/// One page of reports across streamers (newest first unless `sort` says otherwise), and
/// the total.
pub async fn list(
    pool: &AnyPool,
    f: &Filter,
    sort: Option<(&str, bool)>,
    window: (i64, i64),
) -> Result<(i64, Vec<Listed>), sqlx::Error> {
    let mut w = super::streamers::where_of(&f.scope);
    if let Some(slug) = &f.org_slug {
        w.text("o.slug = ?", slug.clone());
    }
    if let Some(status) = &f.status {
        w.text("r.status = ?", status.clone());
    }
    let columns = format!("{COLUMNS}, d.slug AS device_slug, o.slug AS org_slug");
    let from =
        format!("{FROM} JOIN devices d ON d.id = t.device_id LEFT JOIN orgs o ON o.id = d.org_id");
    let order = super::filter::order_of(SORTS, sort, "r.created_on DESC, r.id", "r.id");
    let (count, rows) = super::filter::page(pool, &columns, &from, &w, &order, window).await?;
    let found = rows
        .iter()
        .map(|r| {
            Ok(Listed {
                report: from_row(r)?,
                device_slug: r.try_get("device_slug")?,
                org_slug: r.try_get("org_slug")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((count, found))
}

/// What an accepted upload records.
pub struct NewReport<'a> {
    pub id: &'a str,
    pub streamer_id: i64,
    pub streamer_slug: &'a str,
    pub device_id: i64,
    /// The upload's `?timestamp`: when the gateway received the report.
    pub sent_timestamp: i64,
    pub device_sent_timestamp: Option<i64>,
    pub incremental_id: Option<i64>,
    pub created_by: i64,
    pub raw_key: &'a str,
    pub sha256: &'a str,
    pub ext: &'a str,
    pub reading_count: i64,
}

/// Records an upload whose file is already stored, the device heartbeat and the processing
/// job, in one transaction. Returns the job id.
pub async fn accept(pool: &AnyPool, new: &NewReport<'_>, now: i64) -> Result<i64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO streamer_reports (id, streamer_id, sent_timestamp, device_sent_timestamp, \
         incremental_id, created_on, created_by, raw_key, sha256, ext, reading_count, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'scheduled')",
    )
    .bind(new.id)
    .bind(new.streamer_id)
    .bind(new.sent_timestamp)
    .bind(new.device_sent_timestamp)
    .bind(new.incremental_id)
    .bind(now)
    .bind(new.created_by)
    .bind(new.raw_key)
    .bind(new.sha256)
    .bind(new.ext)
    .bind(new.reading_count)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO device_status (device_id, last_report_ts, last_known_id) VALUES ($1, $2, 0) \
         ON CONFLICT (device_id) DO UPDATE SET last_report_ts = excluded.last_report_ts",
    )
    .bind(new.device_id)
    .bind(new.sent_timestamp)
    .execute(&mut *tx)
    .await?;
    let payload = serde_json::json!({"report": new.id}).to_string();
    let job = jobs::enqueue(
        &mut *tx,
        jobs::PROCESS_REPORT,
        new.streamer_slug,
        &payload,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(job)
}

/// The streamer's latest earlier report that stored readings (for the left-most segment
/// repair of the reboot fix-up): its upload time and its device uptime when sent.
pub async fn previous(
    pool: &AnyPool,
    streamer_id: i64,
    incremental_id: i64,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT sent_timestamp, device_sent_timestamp FROM streamer_reports \
         WHERE streamer_id = $1 AND incremental_id < $2 AND actual_last_id > 0 \
         AND device_sent_timestamp IS NOT NULL ORDER BY incremental_id DESC LIMIT 1",
    )
    .bind(streamer_id)
    .bind(incremental_id)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok((
            r.try_get("sent_timestamp")?,
            r.try_get("device_sent_timestamp")?,
        ))
    })
    .transpose()
}

/// How processing ended, to be written with the job's completion.
pub struct Processed {
    pub original_first_id: Option<i64>,
    pub original_last_id: Option<i64>,
    /// `None` when nothing was new: both actual ids are then written as 0.
    pub actual: Option<(i64, i64)>,
    pub new_count: i64,
    pub duplicate_count: i64,
    pub last_reboot_ts: Option<i64>,
}

/// Writes a processed report's books: its ids and counts, the streamer's acknowledgement
/// (`last_id`, which never goes down), its last reboot time unless the report is older than
/// what the streamer has (a late report fills a hole below `last_id`), and the device's
/// highest known reading id.
pub async fn record_processed(
    conn: &mut AnyConnection,
    id: &str,
    streamer_id: i64,
    device_id: i64,
    p: &Processed,
    now: i64,
) -> Result<(), sqlx::Error> {
    let (first, last) = p.actual.unwrap_or((0, 0));
    sqlx::query(
        "UPDATE streamer_reports SET original_first_id = $1, original_last_id = $2, actual_first_id = $3, \
         actual_last_id = $4, new_count = $5, duplicate_count = $6, status = 'processed', error = NULL, \
         processed_on = $7 WHERE id = $8",
    )
    .bind(p.original_first_id)
    .bind(p.original_last_id)
    .bind(first)
    .bind(last)
    .bind(p.new_count)
    .bind(p.duplicate_count)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if p.actual.is_some() {
        sqlx::query(
            "UPDATE streamers SET last_id = CASE WHEN last_id < $1 THEN $1 ELSE last_id END, \
             last_reboot_ts = CASE WHEN last_id <= $1 THEN COALESCE($2, last_reboot_ts) \
             ELSE last_reboot_ts END WHERE id = $3",
        )
        .bind(last)
        .bind(p.last_reboot_ts)
        .bind(streamer_id)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO device_status (device_id, last_known_id) VALUES ($1, $2) ON CONFLICT (device_id) \
             DO UPDATE SET last_known_id = CASE WHEN device_status.last_known_id < $2 THEN $2 \
             ELSE device_status.last_known_id END",
        )
        .bind(device_id)
        .bind(last)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Marks a report that cannot be processed (it does not verify, or its format is refused);
/// its file stays stored for staff.
pub async fn record_failed(
    conn: &mut AnyConnection,
    id: &str,
    reason: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE streamer_reports SET status = 'failed', error = $1, processed_on = $2 WHERE id = $3")
        .bind(reason)
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
