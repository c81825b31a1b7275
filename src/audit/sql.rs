//! The audit queries as SQL text with bound values, run on SQLite or PostgreSQL alike.
//!
//! The audit API filters, unions and groups in ways diesel's query builder does not express
//! for both backends at once; the text here is the portable subset of SQL both understand.
//! Every value from a request or a token is a bound parameter, never part of the text.

use diesel::pg::Pg;
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::{BigInt, Binary, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

use crate::storage::DbConnection;

#[derive(Debug, Clone)]
pub enum Value {
    Text(String),
    BigInt(i64),
    Binary(Vec<u8>),
}

/// SQL text with `?` where each value goes, and the values in order.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql {
            text: text.to_owned(),
            values: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    pub fn text(&mut self, v: impl Into<String>) -> &mut Sql {
        self.value(Value::Text(v.into()))
    }

    pub fn int(&mut self, v: i64) -> &mut Sql {
        self.value(Value::BigInt(v))
    }

    pub fn bytes(&mut self, v: Vec<u8>) -> &mut Sql {
        self.value(Value::Binary(v))
    }

    fn value(&mut self, v: Value) -> &mut Sql {
        self.text.push('?');
        self.values.push(v);
        self
    }

    /// Appends `other`, text and values.
    pub fn append(&mut self, other: &Sql) -> &mut Sql {
        self.text.push_str(&other.text);
        self.values.extend(other.values.iter().cloned());
        self
    }

    /// PostgreSQL numbers its parameters: `$1`, `$2`, …
    fn numbered(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 8);
        let mut n = 0;
        for c in self.text.chars() {
            if c == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Runs the query and reads its rows.
    pub fn load<R>(&self, conn: &mut DbConnection) -> QueryResult<Vec<R>>
    where
        R: QueryableByName<Pg> + QueryableByName<Sqlite> + 'static,
    {
        match conn {
            DbConnection::Postgresql(c) => bind_all(
                diesel::sql_query(self.numbered()).into_boxed::<Pg>(),
                &self.values,
            )
            .load(c),
            DbConnection::Sqlite(c) => bind_all(
                diesel::sql_query(self.text.clone()).into_boxed::<Sqlite>(),
                &self.values,
            )
            .load(c),
        }
    }
}

fn bind_all<'f, DB>(
    mut q: BoxedSqlQuery<'f, DB, diesel::query_builder::SqlQuery>,
    values: &[Value],
) -> BoxedSqlQuery<'f, DB, diesel::query_builder::SqlQuery>
where
    DB: diesel::backend::Backend
        + diesel::sql_types::HasSqlType<Text>
        + diesel::sql_types::HasSqlType<BigInt>
        + diesel::sql_types::HasSqlType<Binary>,
    String: diesel::serialize::ToSql<Text, DB>,
    i64: diesel::serialize::ToSql<BigInt, DB>,
    Vec<u8>: diesel::serialize::ToSql<Binary, DB>,
{
    for v in values {
        q = match v.clone() {
            Value::Text(s) => q.bind::<Text, _>(s),
            Value::BigInt(i) => q.bind::<BigInt, _>(i),
            Value::Binary(b) => q.bind::<Binary, _>(b),
        };
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        let mut q = Sql::new("SELECT 1 WHERE a = ");
        q.text("x").push(" AND b = ").int(2);
        assert_eq!(q.numbered(), "SELECT 1 WHERE a = $1 AND b = $2");
        assert_eq!(q.text, "SELECT 1 WHERE a = ? AND b = ?");
        assert_eq!(q.values.len(), 2);
    }
}
