"""schema v1

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('incidents',
    sa.Column('incident_id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('disease', sa.String(length=200), nullable=True),
    sa.Column('pathogen', sa.String(length=200), nullable=True),
    sa.Column('host', sa.String(length=100), nullable=True),
    sa.Column('country_iso3', sa.String(length=3), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cases', sa.Integer(), nullable=True),
    sa.Column('deaths', sa.Integer(), nullable=True),
    sa.Column('tlp', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('incident_id')
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_first_seen_at'), ['first_seen_at'], unique=False)

    op.create_table('quarantine',
    sa.Column('quarantine_id', sa.String(length=64), nullable=False, comment='sha256 of source|stage|what|raw_sha256'),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('what', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raw_sha256', sa.String(length=64), nullable=True),
    sa.Column('excerpt', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('quarantine_id')
    )
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantine_source'), ['source'], unique=False)

    op.create_table('raw_payloads',
    sa.Column('sha256', sa.String(length=64), nullable=False, comment='content address of the bytes under var/raw/'),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=200), nullable=True),
    sa.Column('normalised_version', sa.Integer(), nullable=True, comment='parser version that last normalised it; NULL = pending'),
    sa.PrimaryKeyConstraint('sha256', 'source')
    )
    with op.batch_alter_table('raw_payloads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_raw_payloads_source'), ['source'], unique=False)

    op.create_table('reports',
    sa.Column('report_id', sa.String(length=300), nullable=False, comment='<source>:<source_id>'),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=255), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disease', sa.String(length=200), nullable=True),
    sa.Column('pathogen', sa.String(length=200), nullable=True),
    sa.Column('host', sa.String(length=100), nullable=True),
    sa.Column('country_iso3', sa.String(length=3), nullable=True),
    sa.Column('admin_area', sa.String(length=200), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('cases', sa.Integer(), nullable=True),
    sa.Column('deaths', sa.Integer(), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('tlp', sa.String(length=16), nullable=False),
    sa.Column('raw_sha256', sa.String(length=64), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('report_id')
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_published_at'), ['published_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reports_source'), ['source'], unique=False)

    op.create_table('signals',
    sa.Column('signal_id', sa.String(length=400), nullable=False, comment='<method>:<series_key>:<period_start>'),
    sa.Column('series_key', sa.String(length=300), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('observed', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Float(), nullable=True),
    sa.Column('upperbound', sa.Float(), nullable=True),
    sa.Column('alarm', sa.Boolean(), nullable=True),
    sa.Column('method', sa.String(length=64), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('signal_id')
    )
    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.create_index('ix_signals_series_period', ['series_key', 'period_start'], unique=False)

    op.create_table('source_health',
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('last_fetch_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('payloads', sa.Integer(), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('quarantined', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('source')
    )
    op.create_table('alerts',
    sa.Column('alert_id', sa.String(length=64), nullable=False),
    sa.Column('incident_id', sa.String(length=64), nullable=True),
    sa.Column('signal_id', sa.String(length=400), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('headline', sa.Text(), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('tlp', sa.String(length=16), nullable=False),
    sa.Column('country_iso3', sa.String(length=3), nullable=True),
    sa.Column('disease', sa.String(length=200), nullable=True),
    sa.Column('source_urls', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.incident_id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('alert_id')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_period_start'), ['period_start'], unique=False)

    op.create_table('incident_reports',
    sa.Column('incident_id', sa.String(length=64), nullable=False),
    sa.Column('report_id', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.incident_id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['report_id'], ['reports.report_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('incident_id', 'report_id')
    )



def downgrade() -> None:

    op.drop_table('incident_reports')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_period_start'))

    op.drop_table('alerts')
    op.drop_table('source_health')
    with op.batch_alter_table('signals', schema=None) as batch_op:
        batch_op.drop_index('ix_signals_series_period')

    op.drop_table('signals')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_source'))
        batch_op.drop_index(batch_op.f('ix_reports_published_at'))

    op.drop_table('reports')
    with op.batch_alter_table('raw_payloads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_raw_payloads_source'))

    op.drop_table('raw_payloads')
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantine_source'))

    op.drop_table('quarantine')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_first_seen_at'))

    op.drop_table('incidents')

