-- Creates the store's schema when missing.
CREATE SCHEMA IF NOT EXISTS {schema}
