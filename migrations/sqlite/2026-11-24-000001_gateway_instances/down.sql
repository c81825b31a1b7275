DROP TABLE gateway_instances;
