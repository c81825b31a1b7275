DROP TABLE signaal_statussen;
DROP TABLE signaal_betrokkenen;
DROP TABLE signalen;
DROP FUNCTION signaal_statussen_append_only();
DROP FUNCTION signaal_statussen_no_truncate();
DROP FUNCTION signaal_betrokkenen_no_update();
DROP FUNCTION signalen_only_status_changes();
