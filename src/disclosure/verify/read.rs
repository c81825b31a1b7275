//! Reading a stretch of a chain from the database into the chain check, straight from the
//! bytes the database hands out (PostgreSQL: a binary COPY; SQLite: its rows as diesel reads
//! them), each record hashed by `Columns::hash` without first being copied into a
//! `StoredRecord`: per record nothing is allocated.

use diesel::connection::DefaultLoadingMode;
use diesel::deserialize::{self, FromSqlRow};
use diesel::pg::{CopyFormat, CopyTarget, Pg};
use diesel::prelude::*;
use diesel::query_builder::AstPass;
use diesel::row::{Field, Row};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;

use super::copy_binary::CopyReader;
use super::stretch::{digest, Link, StretchCheck};
use crate::disclosure::record::Columns;
use crate::storage::schema::disclosure_records;
use crate::storage::StorageError;

/// The table's columns in the order both readers ask for them: the table's own order (the
/// SQLite reader selects `all_columns`; a test holds the two together).
pub const COLUMNS: [&str; 24] = [
    "instance_id",
    "seq",
    "trace_id",
    "operation_id",
    "parent_operation_id",
    "foreign_trace_id",
    "foreign_operation_id",
    "foreign_entity",
    "name",
    "start_time_ms",
    "end_time_ms",
    "status",
    "refusal_code",
    "processing_activity_id",
    "register_version",
    "requester_oin",
    "provider_oin",
    "case_reference",
    "fields",
    "record_count",
    "subject_pseudonym",
    "retain_until_ms",
    "prev_hash",
    "hash",
];

/// Records between two calls of the reader's `tick`.
pub const TICK: u64 = 10_000;

/// One column's value as read.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Null,
    /// Text (its UTF-8 bytes), binary, or (from PostgreSQL) a big-endian integer.
    Bytes(&'a [u8]),
    Int(i64),
}

/// A record's place in the chain, from its columns in `COLUMNS` order. An error when the
/// database sent something no column of the table can hold.
fn link(v: &[Value<'_>; 24]) -> Result<Link, &'static str> {
    let bytes = |i: usize| match v[i] {
        Value::Null => Ok(None),
        Value::Bytes(b) => Ok(Some(b)),
        Value::Int(_) => Err("an integer where bytes were expected"),
    };
    let int = |i: usize| match v[i] {
        Value::Null => Ok(None),
        Value::Int(n) => Ok(Some(n)),
        Value::Bytes(b) => match b.len() {
            8 => Ok(Some(i64::from_be_bytes(b.try_into().expect("8 bytes")))),
            4 => Ok(Some(
                i32::from_be_bytes(b.try_into().expect("4 bytes")).into(),
            )),
            _ => Err("an integer column of an unexpected width"),
        },
    };
    let seq = int(1)?.ok_or("a record without a sequence number")?;
    let record_count = match int(19)? {
        Some(n) => Some(i32::try_from(n).map_err(|_| "record_count beyond 32 bits")?),
        None => None,
    };
    let (prev_hash, hash) = (bytes(22)?, bytes(23)?);
    // A column that cannot be absent but is: the record was changed (it cannot hash right).
    let required = (
        (
            bytes(0)?,
            bytes(2)?,
            bytes(3)?,
            bytes(8)?,
            int(9)?,
            int(10)?,
        ),
        (bytes(11)?, bytes(18)?, record_count, int(21)?, prev_hash),
    );
    let computed = match required {
        (
            (
                Some(instance_id),
                Some(trace_id),
                Some(operation_id),
                Some(name),
                Some(start),
                Some(end),
            ),
            (Some(status), Some(fields), Some(record_count), Some(retain), Some(prev)),
        ) => Some(
            Columns {
                prev_hash: prev,
                instance_id,
                seq,
                trace_id,
                operation_id,
                parent_operation_id: bytes(4)?,
                foreign_trace_id: bytes(5)?,
                foreign_operation_id: bytes(6)?,
                foreign_entity: bytes(7)?,
                name,
                start_time_ms: start,
                end_time_ms: end,
                status,
                refusal_code: bytes(12)?,
                processing_activity_id: bytes(13)?,
                register_version: bytes(14)?,
                requester_oin: bytes(15)?,
                provider_oin: bytes(16)?,
                case_reference: bytes(17)?,
                fields,
                record_count,
                subject_pseudonym: bytes(20)?,
                retain_until_ms: retain,
            }
            .hash(),
        ),
        _ => None,
    };
    Ok(Link {
        seq,
        prev_hash: prev_hash.and_then(digest),
        hash: hash.and_then(digest),
        intact: matches!((computed, hash), (Some(c), Some(h)) if c[..] == *h),
    })
}

/// Feeds `link` to `check`, and calls `tick` every `TICK` records; false when reading may stop.
fn feed(
    check: &mut StretchCheck<'_>,
    link: Link,
    pending: &mut u64,
    tick: &mut dyn FnMut(u64) -> bool,
) -> bool {
    if !check.push(link) {
        return false;
    }
    *pending += 1;
    if *pending == TICK {
        *pending = 0;
        return tick(TICK);
    }
    true
}

/// The COPY source: this instance's records in `[from, to]`, in order, every column but
/// `instance_id` (which the WHERE fixes; one column fewer for the server to send). COPY takes
/// no bind parameters and diesel's COPY target is a fixed text, so the instance and the
/// bounds are settings of the reader's own session (`set_config` binds them).
struct ChainStretch;

impl CopyTarget for ChainStretch {
    type Table = disclosure_records::table;
    type SqlType = disclosure_records::SqlType;

    fn walk_target(mut pass: AstPass<'_, '_, Pg>) -> QueryResult<()> {
        pass.push_sql(&format!(
            "(SELECT {} FROM disclosure_records \
             WHERE instance_id = current_setting('doelpoort.verify_instance') \
             AND seq BETWEEN current_setting('doelpoort.verify_from')::bigint \
             AND current_setting('doelpoort.verify_to')::bigint ORDER BY seq)",
            COLUMNS[1..].join(", ")
        ));
        Ok(())
    }
}

/// Reads `instance`'s records in `[from, to]` from PostgreSQL, on a connection of the
/// reader's own (to be dropped after a stop: the COPY is left unfinished). True when it read
/// to the end, false when `check` or `tick` stopped it.
pub fn postgres(
    conn: &mut PgConnection,
    instance: &str,
    (from, to): (i64, i64),
    check: &mut StretchCheck<'_>,
    tick: &mut dyn FnMut(u64) -> bool,
) -> Result<bool, StorageError> {
    // The stretch in key order through the primary key, never a (parallel) scan of the whole
    // table and a sort: on a large table the planner estimates those close and may take
    // them (measured at 10 M records: 2.9 µs of server time per record instead of 1.5).
    // JIT compiling pays off for no COPY of this kind.
    diesel::sql_query(
        "SELECT set_config('doelpoort.verify_instance', $1, false), \
         set_config('doelpoort.verify_from', $2, false), \
         set_config('doelpoort.verify_to', $3, false), \
         set_config('enable_seqscan', 'off', false), \
         set_config('enable_bitmapscan', 'off', false), \
         set_config('enable_sort', 'off', false), \
         set_config('max_parallel_workers_per_gather', '0', false), \
         set_config('jit', 'off', false)",
    )
    .bind::<Text, _>(instance)
    .bind::<Text, _>(from.to_string())
    .bind::<Text, _>(to.to_string())
    .execute(conn)?;
    let copy = diesel::copy_to(ChainStretch)
        .with_format(CopyFormat::Binary)
        .load_raw(conn)?;
    let mut pending = 0;
    // Every row is `instance`'s (the COPY asks for no other), so its instance_id is not sent.
    let read = CopyReader::new(copy).for_each::<23, &'static str>(|fields| {
        let values: [Value<'_>; 24] = std::array::from_fn(|i| match i {
            0 => Value::Bytes(instance.as_bytes()),
            i => fields[i - 1].map_or(Value::Null, Value::Bytes),
        });
        Ok(feed(check, link(&values)?, &mut pending, tick))
    });
    let done = read.map_err(|e| StorageError::Unavailable(format!("log verify: {e}")))?;
    if done && pending > 0 {
        tick(pending);
    }
    Ok(done)
}

/// How diesel reads each column of `COLUMNS` from SQLite (as the typed `StoredRecord` did).
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Blob,
    BigInt,
    Int,
}

const SQLITE_KINDS: [Kind; 24] = {
    use Kind::*;
    [
        Text, BigInt, Blob, Blob, Blob, Blob, Blob, Text, Text, BigInt, BigInt, Text, Text, Text,
        Text, Text, Text, Text, Text, Int, Blob, BigInt, Blob, Blob,
    ]
};

/// A row of `all_columns` read in place: the record's link, hashed while the row is current.
struct SqliteLink(Link);

impl FromSqlRow<disclosure_records::SqlType, Sqlite> for SqliteLink {
    fn build_from_row<'a>(row: &impl Row<'a, Sqlite>) -> deserialize::Result<Self> {
        let fields: [_; 24] = std::array::from_fn(|i| row.get(i));
        let mut raw: [_; 24] = std::array::from_fn(|i| fields[i].as_ref().and_then(|f| f.value()));
        let mut values = [Value::Null; 24];
        for ((value, raw), kind) in values.iter_mut().zip(raw.iter_mut()).zip(SQLITE_KINDS) {
            if let Some(raw) = raw {
                *value = match kind {
                    Kind::Text => Value::Bytes(raw.read_text().as_bytes()),
                    Kind::Blob => Value::Bytes(raw.read_blob()),
                    Kind::BigInt => Value::Int(raw.read_long()),
                    Kind::Int => Value::Int(raw.read_integer().into()),
                };
            }
        }
        Ok(SqliteLink(link(&values)?))
    }
}

/// Rows per query on SQLite (each page a short read transaction, so that a long verify does
/// not hold the WAL back).
const PAGE: i64 = 50_000;

/// Reads `instance`'s records in `[from, to]` from SQLite. True when it read to the end,
/// false when `check` or `tick` stopped it.
pub fn sqlite(
    conn: &mut SqliteConnection,
    instance: &str,
    (from, to): (i64, i64),
    check: &mut StretchCheck<'_>,
    tick: &mut dyn FnMut(u64) -> bool,
) -> Result<bool, StorageError> {
    use disclosure_records::dsl as r;
    let mut after = from - 1;
    let mut pending = 0;
    loop {
        let page = r::disclosure_records
            .filter(r::instance_id.eq(instance))
            .filter(r::seq.gt(after))
            .filter(r::seq.le(to))
            .order(r::seq.asc())
            .limit(PAGE)
            .select(disclosure_records::all_columns)
            .load_iter::<SqliteLink, DefaultLoadingMode>(conn)?;
        let mut rows = 0;
        for link in page {
            let SqliteLink(link) = link?;
            rows += 1;
            after = link.seq;
            if !feed(check, link, &mut pending, tick) {
                return Ok(false);
            }
        }
        if rows < PAGE {
            if pending > 0 {
                tick(pending);
            }
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_readers_ask_for_the_columns_in_the_same_order() {
        let sql = diesel::debug_query::<Sqlite, _>(
            &disclosure_records::table.select(disclosure_records::all_columns),
        )
        .to_string();
        let select = sql.split(" FROM ").next().unwrap();
        let names: Vec<&str> = select
            .trim_start_matches("SELECT ")
            .split(", ")
            .map(|c| c.rsplit('.').next().unwrap().trim_matches('`'))
            .collect();
        assert_eq!(names, COLUMNS);
    }

    #[test]
    fn a_null_where_a_value_must_be_is_a_changed_record() {
        let r = crate::disclosure::record::StoredRecord::chain(
            crate::disclosure::record::tests::sample(),
            "gw",
            1,
            [0; 32],
        );
        let c = r.columns();
        let seq = r.seq.to_be_bytes();
        let count = r.record_count.to_be_bytes();
        let (start, end, retain) = (
            r.start_time_ms.to_be_bytes(),
            r.end_time_ms.to_be_bytes(),
            r.retain_until_ms.to_be_bytes(),
        );
        fn opt(v: Option<&[u8]>) -> Value<'_> {
            v.map_or(Value::Null, Value::Bytes)
        }
        let b = Value::Bytes;
        let values = [
            b(c.instance_id),
            b(&seq),
            b(c.trace_id),
            b(c.operation_id),
            opt(c.parent_operation_id),
            opt(c.foreign_trace_id),
            opt(c.foreign_operation_id),
            opt(c.foreign_entity),
            b(c.name),
            b(&start),
            b(&end),
            b(c.status),
            opt(c.refusal_code),
            opt(c.processing_activity_id),
            opt(c.register_version),
            opt(c.requester_oin),
            opt(c.provider_oin),
            opt(c.case_reference),
            b(c.fields),
            b(&count),
            opt(c.subject_pseudonym),
            b(&retain),
            b(&r.prev_hash),
            b(&r.hash),
        ];
        let l = link(&values).unwrap();
        assert!(l.intact, "the record as stored hashes right");
        assert_eq!((l.seq, l.hash), (1, digest(&r.hash)));
        for i in [0, 2, 3, 8, 9, 10, 11, 18, 19, 21, 22] {
            let mut changed = values;
            changed[i] = Value::Null;
            assert!(
                !link(&changed).unwrap().intact,
                "column {} NULL",
                COLUMNS[i]
            );
        }
        let mut changed = values;
        changed[4] = b(&[2; 8]); // a parent operation added
        assert!(!link(&changed).unwrap().intact);
        let mut wide = values;
        wide[1] = b(&[0; 3]);
        assert!(link(&wide).is_err());
    }
}
