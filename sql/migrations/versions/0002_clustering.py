"""incident clustering: corroboration and reliability of incidents, link reasons, analyst overrides

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('report_count', sa.Integer(), nullable=True, comment='reports in the incident'))
        batch_op.add_column(sa.Column('corroboration', sa.Integer(), nullable=True, comment='distinct independent sources'))
        batch_op.add_column(sa.Column('reliability', sa.Float(), nullable=True,
                                      comment="noisy-OR of the independent sources' tier weights"))
        batch_op.add_column(sa.Column('source_tier', sa.String(length=32), nullable=True,
                                      comment='best source tier: official, law_enforcement, moderated, media, context'))

    with op.batch_alter_table('incident_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link', sa.String(length=32), nullable=True,
                                      comment='seed, same_url, same_content, near_duplicate, same_event, detached'))
        batch_op.add_column(sa.Column('linked_to', sa.String(length=300), nullable=True,
                                      comment='report_id at the other end of that link'))
        batch_op.add_column(sa.Column('reason', sa.Text(), nullable=True, comment='the link in words'))
        batch_op.add_column(sa.Column('duplicate_of', sa.String(length=300), nullable=True,
                                      comment='earliest report of its duplicate group; NULL if none'))

    op.create_table('incident_overrides',
    sa.Column('report_id', sa.String(length=300), nullable=False, comment='report an analyst keeps out of merges'),
    sa.Column('action', sa.String(length=16), nullable=False, comment='detach'),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('report_id')
    )


def downgrade() -> None:
    op.drop_table('incident_overrides')
    with op.batch_alter_table('incident_reports', schema=None) as batch_op:
        batch_op.drop_column('duplicate_of')
        batch_op.drop_column('reason')
        batch_op.drop_column('linked_to')
        batch_op.drop_column('link')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('source_tier')
        batch_op.drop_column('reliability')
        batch_op.drop_column('corroboration')
        batch_op.drop_column('report_count')
