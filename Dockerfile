# Airflow 3.3.2 with Biotracker installed: the image every Airflow service in docker-compose.yml runs.
FROM apache/airflow:3.3.2-python3.11

# The project lives at /opt/biotracker/src and is installed in editable mode on purpose: biotracker
# finds its Alembic migrations (sql/migrations) and bundled recordings (tests/fixtures/feeds)
# relative to the package's own folder, which a plain `pip install .` into site-packages would lose.
# /opt/biotracker/var is BIOTRACKER_HOME; owning it here lets the named volume mounted over it
# start out writable by the airflow user.
USER root
RUN mkdir -p /opt/biotracker/src /opt/biotracker/var \
    && chown -R airflow:0 /opt/biotracker
USER airflow
WORKDIR /opt/biotracker/src

COPY --chown=airflow:0 pyproject.toml ./
COPY --chown=airflow:0 biotracker ./biotracker
COPY --chown=airflow:0 connectors ./connectors
COPY --chown=airflow:0 sql ./sql
COPY --chown=airflow:0 tests/fixtures/feeds ./tests/fixtures/feeds

# pyproject.toml pins apache-airflow==3.3.2, the version already in the image, so pip keeps it.
RUN pip install --no-cache-dir -e .

WORKDIR /opt/airflow
