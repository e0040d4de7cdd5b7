//! Multi-row INSERTs in fixed chunk sizes: few statements per batch, and few
//! distinct statement texts, so prepared statements stay cached.

use sqlx::any::AnyArguments;
use sqlx::{Any, AssertSqlSafe};

use super::{Dialect, Tx};

#[derive(Debug, Clone)]
pub enum SqlValue {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Bytes(Vec<u8>),
}

impl SqlValue {
    fn bind_to<'q>(
        self,
        q: sqlx::query::Query<'q, Any, AnyArguments>,
    ) -> sqlx::query::Query<'q, Any, AnyArguments> {
        match self {
            SqlValue::Int(i) => q.bind(i),
            SqlValue::OptInt(i) => q.bind(i),
            SqlValue::Text(s) => q.bind(s),
            SqlValue::OptText(s) => q.bind(s),
            SqlValue::Bytes(b) => q.bind(b),
        }
    }

    fn bind_as<'q, T>(
        self,
        q: sqlx::query::QueryAs<'q, Any, T, AnyArguments>,
    ) -> sqlx::query::QueryAs<'q, Any, T, AnyArguments> {
        match self {
            SqlValue::Int(i) => q.bind(i),
            SqlValue::OptInt(i) => q.bind(i),
            SqlValue::Text(s) => q.bind(s),
            SqlValue::OptText(s) => q.bind(s),
            SqlValue::Bytes(b) => q.bind(b),
        }
    }
}

/// Chunk sizes, largest first; any count decomposes into them.
const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// The `n`-th (1-based) placeholder. SQLite gets anonymous `?`: it resolves a
/// numbered parameter's name by a linear scan, which makes wide multi-row
/// statements quadratic (it was 40% of intake time).
fn placeholder(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => "?".to_owned(),
        Dialect::Postgres => format!("${n}"),
    }
}

/// Inserts `rows` (each with one value per column) into `table`.
pub async fn insert(
    tx: &mut Tx,
    dialect: Dialect,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<SqlValue>>,
) -> Result<(), sqlx::Error> {
    insert_with(tx, dialect, table, columns, rows, "").await
}

/// Like [`insert`], skipping rows whose key is already present.
pub async fn insert_new(
    tx: &mut Tx,
    dialect: Dialect,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<SqlValue>>,
) -> Result<(), sqlx::Error> {
    insert_with(tx, dialect, table, columns, rows, " ON CONFLICT DO NOTHING").await
}

/// Like [`insert`], adding the last `columns.len() - key_columns` columns to those of
/// the row already present with the same first `key_columns` columns (counters). Keys
/// must be unique within `rows`: PostgreSQL refuses to update one row twice in a statement.
pub async fn insert_or_add(
    tx: &mut Tx,
    dialect: Dialect,
    table: &str,
    columns: &[&str],
    key_columns: usize,
    rows: Vec<Vec<SqlValue>>,
) -> Result<(), sqlx::Error> {
    let (keys, added) = columns.split_at(key_columns);
    let suffix = format!(
        " ON CONFLICT ({}) DO UPDATE SET {}",
        keys.join(", "),
        added
            .iter()
            .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    insert_with(tx, dialect, table, columns, rows, &suffix).await
}

async fn insert_with(
    tx: &mut Tx,
    dialect: Dialect,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<SqlValue>>,
    suffix: &str,
) -> Result<(), sqlx::Error> {
    let mut rest = rows.into_iter().peekable();
    let mut remaining = rest.len();
    while remaining > 0 {
        let size = CHUNKS.into_iter().find(|c| *c <= remaining).unwrap_or(1);
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut n = 0;
        for r in 0..size {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..columns.len() {
                if c > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                sql.push_str(&placeholder(dialect, n));
            }
            sql.push(')');
        }
        sql.push_str(suffix);
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for row in rest.by_ref().take(size) {
            debug_assert_eq!(row.len(), columns.len());
            for v in row {
                q = v.bind_to(q);
            }
        }
        q.execute(&mut **tx).await?;
        remaining -= size;
    }
    Ok(())
}

/// A statement assembled piece by piece, with the dialect's placeholders
/// (binds in the order they appear in the text).
#[derive(Debug)]
pub struct Statement {
    pub sql: String,
    pub binds: Vec<SqlValue>,
    dialect: Dialect,
}

impl Statement {
    pub fn new(dialect: Dialect, sql: &str) -> Self {
        Statement {
            sql: sql.to_owned(),
            binds: Vec::new(),
            dialect,
        }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder bound to `v`.
    pub fn bind(&mut self, v: SqlValue) -> &mut Self {
        self.binds.push(v);
        self.sql
            .push_str(&placeholder(self.dialect, self.binds.len()));
        self
    }

    pub fn bind_list(&mut self, values: impl IntoIterator<Item = SqlValue>) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.bind(v);
        }
        self
    }

    /// Runs the statement in `tx`; returns the rows it changed.
    pub async fn execute(self, tx: &mut Tx) -> Result<u64, sqlx::Error> {
        let mut q = sqlx::query(AssertSqlSafe(self.sql));
        for v in self.binds {
            q = v.bind_to(q);
        }
        Ok(q.execute(&mut **tx).await?.rows_affected())
    }

    pub fn query_as<'q, T>(self) -> sqlx::query::QueryAs<'q, sqlx::Any, T, sqlx::any::AnyArguments>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        let mut q = sqlx::query_as::<_, T>(AssertSqlSafe(self.sql));
        for v in self.binds {
            q = v.bind_as(q);
        }
        q
    }
}
