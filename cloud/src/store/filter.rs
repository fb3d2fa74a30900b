//! `WHERE` clauses built from optional filters, with numbered placeholders so the same SQL
//! runs on SQLite and PostgreSQL.

/// A bind value for the dynamically built list queries.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

/// Builds a `WHERE` clause with numbered placeholders.
#[derive(Debug, Default)]
pub(crate) struct Where {
    clauses: Vec<String>,
    pub(crate) binds: Vec<Bind>,
}

impl Where {
    /// Adds a clause whose `?` marks are replaced, in order, by the next placeholders.
    pub(crate) fn add(&mut self, clause: &str, binds: Vec<Bind>) {
        let mut out = String::new();
        let mut binds = binds.into_iter();
        for ch in clause.chars() {
            if ch == '?' {
                if let Some(b) = binds.next() {
                    self.binds.push(b);
                    out.push_str(&format!("${}", self.binds.len()));
                }
            } else {
                out.push(ch);
            }
        }
        self.clauses.push(out);
    }

    /// `col IN (…)` over texts; an empty list matches nothing.
    pub(crate) fn any_of(&mut self, column: &str, values: &[String]) {
        if values.is_empty() {
            self.clauses.push("1 = 0".into());
            return;
        }
        let marks = vec!["?"; values.len()].join(", ");
        self.add(
            &format!("{column} IN ({marks})"),
            values.iter().cloned().map(Bind::Text).collect(),
        );
    }

    pub(crate) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            "1 = 1".into()
        } else {
            self.clauses.join(" AND ")
        }
    }

    pub(crate) fn next(&self) -> usize {
        self.binds.len() + 1
    }
}

pub(crate) fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &[Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        query = match b {
            Bind::Text(s) => query.bind(s.clone()),
            Bind::Int(i) => query.bind(*i),
        };
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut w = Where::default();
        assert_eq!(w.sql(), "1 = 1");
        w.add("a = ?", vec![Bind::Int(1)]);
        w.any_of("b", &["x".into(), "y".into()]);
        w.add("c IS NULL", vec![]);
        assert_eq!(w.sql(), "a = $1 AND b IN ($2, $3) AND c IS NULL");
        assert_eq!(w.next(), 4);
        let mut none = Where::default();
        none.any_of("b", &[]);
        assert_eq!(none.sql(), "1 = 0");
    }
}
