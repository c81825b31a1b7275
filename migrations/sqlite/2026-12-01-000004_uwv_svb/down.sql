DROP TABLE ingezetenen;
DROP TABLE svb_a1_verklaringen;
DROP TABLE svb_uitkeringen;
DROP TABLE uwv_uitkeringen;
DROP TABLE uwv_dienstverbanden;
DROP TABLE uwv_werkgevers;
