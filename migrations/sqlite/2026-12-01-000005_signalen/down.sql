DROP TABLE signaal_statussen;
DROP TABLE signaal_betrokkenen;
DROP TABLE signalen;
