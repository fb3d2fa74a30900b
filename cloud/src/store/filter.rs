//! `WHERE` clauses built from optional filters, with numbered placeholders so the same SQL
//! runs on SQLite and PostgreSQL, and the count-plus-page queries of the list endpoints.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Row};

/// A value bound into a dynamically built `WHERE`.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(String),
    Int(i64),
}

/// `AND`-joined conditions with `$n` placeholders numbered as they are added.
#[derive(Debug, Clone, Default)]
pub struct Where {
    clauses: Vec<String>,
    args: Vec<Arg>,
}

impl Where {
    /// Adds a condition; each `?` in it becomes the next `$n`, bound to `args` in order.
    pub fn push(&mut self, condition: &str, args: impl IntoIterator<Item = Arg>) {
        let mut sql = String::new();
        for (i, piece) in condition.split('?').enumerate() {
            if i > 0 {
                sql.push_str(&format!("${}", self.args.len() + i));
            }
            sql.push_str(piece);
        }
        self.args.extend(args);
        self.clauses.push(sql);
    }

    pub fn text(&mut self, condition: &str, value: impl Into<String>) {
        self.push(condition, [Arg::Text(value.into())]);
    }

    pub fn int(&mut self, condition: &str, value: i64) {
        self.push(condition, [Arg::Int(value)]);
    }

    /// A condition that matches nothing (an empty `IN` list, an unknown object).
    pub fn never(&mut self) {
        self.clauses.push("1 = 0".to_string());
    }

    /// `column IN (…)`, or nothing matches when the list is empty.
    pub fn any_of(&mut self, column: &str, values: &[String]) {
        if values.is_empty() {
            return self.never();
        }
        let marks = vec!["?"; values.len()].join(", ");
        self.push(
            &format!("{column} IN ({marks})"),
            values.iter().cloned().map(Arg::Text),
        );
    }

    /// ` WHERE …`, or nothing when there are no conditions.
    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    pub fn bind<'q>(
        &'q self,
        mut query: Query<'q, Any, AnyArguments<'q>>,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        for arg in &self.args {
            query = match arg {
                Arg::Text(s) => query.bind(s.as_str()),
                Arg::Int(n) => query.bind(*n),
            };
        }
        query
    }

    /// The bound values, in order, for rusqlite (`$n` placeholders bind by position).
    pub fn sqlite_params(&self) -> Vec<rusqlite::types::Value> {
        self.args
            .iter()
            .map(|arg| match arg {
                Arg::Text(s) => rusqlite::types::Value::Text(s.clone()),
                Arg::Int(n) => rusqlite::types::Value::Integer(*n),
            })
            .collect()
    }
}

/// A list's order chosen by name: one of `sorts` (a name and its SQL, one or more
/// comma-separated expressions), ascending or descending, then `tie` so that pages never overlap. `default` when no sort
/// is asked or the name is not one of `sorts` (names only, never SQL, come from outside).
pub(crate) fn order_of(
    sorts: &[(&str, &str)],
    sort: Option<(&str, bool)>,
    default: &str,
    tie: &str,
) -> String {
    let chosen = sort.and_then(|(name, desc)| {
        sorts
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, sql)| (*sql, desc))
    });
    match chosen {
        Some((sql, true)) => {
            let desc: Vec<String> = sql
                .split(',')
                .map(|e| format!("{} DESC", e.trim()))
                .collect();
            format!("{}, {tie}", desc.join(", "))
        }
        Some((sql, false)) => format!("{sql}, {tie}"),
        None => default.to_string(),
    }
}

/// The total of `from` under `w`, and one page of `columns` in `order`.
pub(crate) async fn page(
    pool: &AnyPool,
    columns: &str,
    from: &str,
    w: &Where,
    order: &str,
    (offset, limit): (i64, i64),
) -> Result<(i64, Vec<AnyRow>), sqlx::Error> {
    let count_sql = format!("SELECT COUNT(*) FROM {from}{}", w.sql());
    let count: i64 = w
        .bind(sqlx::query(&count_sql))
        .fetch_one(pool)
        .await?
        .try_get(0)?;
    let sql = format!(
        "SELECT {columns} FROM {from}{} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
        w.sql()
    );
    let rows = w.bind(sqlx::query(&sql)).fetch_all(pool).await?;
    Ok((count, rows))
}

/// The SQL of [`page_or_lastn`]: the total of the rows (only the newest N of them with
/// `lastn`) and one page of them.
#[allow(clippy::too_many_arguments)]
fn lastn_sql(
    columns: &str,
    from: &str,
    w: &Where,
    lastn: Option<i64>,
    newest_first: &str,
    order: &str,
    (offset, limit): (i64, i64),
) -> (String, String) {
    let filtered = format!("SELECT {columns} FROM {from}{}", w.sql());
    let (source, order) = match lastn {
        Some(n) => (
            format!("({filtered} ORDER BY {newest_first} LIMIT {n}) t"),
            "timestamp, id",
        ),
        None => (format!("({filtered}) t"), order),
    };
    (
        format!("SELECT COUNT(*) FROM {source}"),
        format!("SELECT * FROM {source} ORDER BY {order} LIMIT {limit} OFFSET {offset}"),
    )
}

/// The total that a page of `got` rows at `offset` (of at most `limit`) implies, when it
/// implies one: a page that is not full ends the rows (unless it is empty past the first
/// page: the total may be below the offset), and a full page that reaches `lastn` means
/// there are `lastn`. Otherwise the total must be counted.
fn implied_count(offset: i64, limit: i64, lastn: Option<i64>, got: usize) -> Option<i64> {
    let got = i64::try_from(got).ok()?;
    if got < limit && (got > 0 || offset == 0) {
        return Some(offset + got);
    }
    match lastn {
        Some(n) if got == limit && offset.saturating_add(limit) >= n => Some(n),
        _ => None,
    }
}

/// Like [`page`] over time-stamped rows, except that with `lastn` only the newest N rows
/// (by `newest_first`) count, and they come by timestamp then id. The total is counted
/// only when the page does not imply it ([`implied_count`]).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn page_or_lastn(
    pool: &AnyPool,
    columns: &str,
    from: &str,
    w: &Where,
    lastn: Option<i64>,
    newest_first: &str,
    order: &str,
    window: (i64, i64),
) -> Result<(i64, Vec<AnyRow>), sqlx::Error> {
    let (count_sql, page_sql) = lastn_sql(columns, from, w, lastn, newest_first, order, window);
    let rows = w.bind(sqlx::query(&page_sql)).fetch_all(pool).await?;
    let count = match implied_count(window.0, window.1, lastn, rows.len()) {
        Some(n) => n,
        None => w
            .bind(sqlx::query(&count_sql))
            .fetch_one(pool)
            .await?
            .try_get(0)?,
    };
    Ok((count, rows))
}

/// [`page_or_lastn`] on a rusqlite connection (see `Db::data_rows`), rows decoded by `decode`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn page_or_lastn_blocking<T>(
    conn: &rusqlite::Connection,
    columns: &str,
    from: &str,
    w: &Where,
    lastn: Option<i64>,
    newest_first: &str,
    order: &str,
    window: (i64, i64),
    decode: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<(i64, Vec<T>)> {
    let params = rusqlite::params_from_iter(w.sqlite_params());
    if let Some(n) = lastn.filter(|n| window.0.saturating_add(window.1) >= *n) {
        // The page reaches the oldest of the newest N: read those N newest first, straight
        // off the index, and turn them around here rather than have SQLite materialize and
        // re-sort them. Their number is the total.
        let sql = format!(
            "SELECT {columns} FROM {from}{} ORDER BY {newest_first} LIMIT {n}",
            w.sql()
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt
            .query_map(params, |r| decode(r))?
            .collect::<Result<Vec<T>, _>>()?;
        let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        rows.reverse();
        let skip = usize::try_from(window.0).unwrap_or(usize::MAX);
        let take = usize::try_from(window.1).unwrap_or(usize::MAX);
        return Ok((count, rows.into_iter().skip(skip).take(take).collect()));
    }
    let (count_sql, page_sql) = lastn_sql(columns, from, w, lastn, newest_first, order, window);
    let rows = conn
        .prepare_cached(&page_sql)?
        .query_map(params, |r| decode(r))?
        .collect::<Result<Vec<T>, _>>()?;
    let count = match implied_count(window.0, window.1, lastn, rows.len()) {
        Some(n) => n,
        None => conn
            .prepare_cached(&count_sql)?
            .query_row(rusqlite::params_from_iter(w.sqlite_params()), |r| r.get(0))?,
    };
    Ok((count, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut w = Where::default();
        assert_eq!(w.sql(), "");
        w.int("a = ?", 1);
        w.any_of("b", &["x".into(), "y".into()]);
        w.push("c IS NULL", []);
        assert_eq!(w.sql(), " WHERE a = $1 AND b IN ($2, $3) AND c IS NULL");
        let mut none = Where::default();
        none.any_of("b", &[]);
        assert_eq!(none.sql(), " WHERE 1 = 0");
    }

    #[test]
    fn orders_are_chosen_by_name_only() {
        let sorts = [("name", "s.name"), ("created", "s.created_on")];
        assert_eq!(
            order_of(&sorts, Some(("created", true)), "s.id", "s.id"),
            "s.created_on DESC, s.id"
        );
        assert_eq!(
            order_of(&sorts, Some(("name", false)), "s.id", "s.id"),
            "s.name, s.id"
        );
        let version = [("version", "s.major, s.minor")];
        assert_eq!(
            order_of(&version, Some(("version", true)), "s.id", "s.id"),
            "s.major DESC, s.minor DESC, s.id"
        );
        assert_eq!(
            order_of(&sorts, Some(("s.id; --", false)), "o.x", "s.id"),
            "o.x"
        );
        assert_eq!(order_of(&sorts, None, "o.x", "s.id"), "o.x");
    }

    #[test]
    fn totals_implied_by_a_page() {
        // Not full: the rows end here.
        assert_eq!(implied_count(0, 1000, None, 7), Some(7));
        assert_eq!(implied_count(0, 1000, None, 0), Some(0));
        assert_eq!(implied_count(2000, 1000, None, 5), Some(2005));
        // Empty past the first page, or full without lastn: unknown.
        assert_eq!(implied_count(2000, 1000, None, 0), None);
        assert_eq!(implied_count(0, 1000, None, 1000), None);
        // Full and reaching lastn: lastn.
        assert_eq!(implied_count(0, 1000, Some(1000), 1000), Some(1000));
        assert_eq!(implied_count(0, 100, Some(1000), 100), None);
        assert_eq!(implied_count(900, 100, Some(1000), 100), Some(1000));
    }
}
