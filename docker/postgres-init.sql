-- Runs once, when the postgres service starts on an empty data volume (docker-entrypoint-initdb.d),
-- as POSTGRES_USER (airflow) in POSTGRES_DB (airflow, Airflow's metadata database).
-- Adds Biotracker's own role and database; Biotracker's schema is created by its Alembic migrations
-- (the airflow-init service runs them), not here.
-- Local-stack credentials: they must match BIOTRACKER_DATABASE_URL in docker-compose.yml.
CREATE ROLE biotracker LOGIN PASSWORD 'biotracker';
CREATE DATABASE biotracker OWNER biotracker ENCODING 'UTF8';
