DROP TABLE rni_verblijfsadres_historie;
DROP FUNCTION rni_verblijfsadres_historie_no_update();
DROP INDEX rni_personen_geboortedatum;
