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

/// Like [`page`] over time-stamped rows, except that with `lastn` only the newest N rows
/// (by `newest_first`) count, and they come by timestamp then id.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn page_or_lastn(
    pool: &AnyPool,
    columns: &str,
    from: &str,
    w: &Where,
    lastn: Option<i64>,
    newest_first: &str,
    order: &str,
    (offset, limit): (i64, i64),
) -> Result<(i64, Vec<AnyRow>), sqlx::Error> {
    let filtered = format!("SELECT {columns} FROM {from}{}", w.sql());
    let (source, order) = match lastn {
        Some(n) => (
            format!("({filtered} ORDER BY {newest_first} LIMIT {n}) t"),
            "timestamp, id",
        ),
        None => (format!("({filtered}) t"), order),
    };
    let count_sql = format!("SELECT COUNT(*) FROM {source}");
    let count: i64 = w
        .bind(sqlx::query(&count_sql))
        .fetch_one(pool)
        .await?
        .try_get(0)?;
    let page_sql = format!("SELECT * FROM {source} ORDER BY {order} LIMIT {limit} OFFSET {offset}");
    let rows = w.bind(sqlx::query(&page_sql)).fetch_all(pool).await?;
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
}
