-- The gateway instances that have used this database. Each instance keeps its own disclosure
-- log chain and signing key (a later migration), so the fleet must know its members.
CREATE TABLE gateway_instances (
    instance_id         TEXT PRIMARY KEY NOT NULL CHECK (length(instance_id) BETWEEN 1 AND 64),
    hostname            TEXT NOT NULL,
    version             TEXT NOT NULL,
    first_started_at_ms BIGINT NOT NULL,
    last_started_at_ms  BIGINT NOT NULL
);
