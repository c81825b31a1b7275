// The tables as diesel sees them. The schema's history is in migrations/{sqlite,postgres};
// keep this file in step with both.

diesel::table! {
    gateway_instances (instance_id) {
        instance_id -> Text,
        hostname -> Text,
        version -> Text,
        first_started_at_ms -> BigInt,
        last_started_at_ms -> BigInt,
    }
}
