//! The gateway instances that share this database.

use diesel::prelude::*;

use super::schema::gateway_instances::dsl::*;
use super::{Database, StorageError};

/// Records that `id` started now: inserted the first time, its start time updated after.
pub async fn register(db: &Database, id: &str) -> Result<(), StorageError> {
    let id = id.to_owned();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let now = chrono::Utc::now().timestamp_millis();
    db.run(move |conn| {
        conn.transaction(|conn| {
            let updated = diesel::update(gateway_instances.find(&id))
                .set((
                    last_started_at_ms.eq(now),
                    hostname.eq(&host),
                    version.eq(env!("CARGO_PKG_VERSION")),
                ))
                .execute(conn)?;
            if updated == 0 {
                diesel::insert_into(gateway_instances)
                    .values((
                        instance_id.eq(&id),
                        hostname.eq(&host),
                        version.eq(env!("CARGO_PKG_VERSION")),
                        first_started_at_ms.eq(now),
                        last_started_at_ms.eq(now),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
    })
    .await
}

/// All instances, by id: (instance_id, hostname, first start ms, last start ms).
pub async fn list(db: &Database) -> Result<Vec<(String, String, i64, i64)>, StorageError> {
    db.run(|conn| {
        gateway_instances
            .select((
                instance_id,
                hostname,
                first_started_at_ms,
                last_started_at_ms,
            ))
            .order(instance_id)
            .load(conn)
    })
    .await
}
