-- The auth service owns this schema; only its own migrations create objects in it.
CREATE SCHEMA IF NOT EXISTS auth;
