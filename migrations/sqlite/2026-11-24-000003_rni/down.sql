DROP TABLE postcodegebieden;
DROP TABLE rni_personen;
