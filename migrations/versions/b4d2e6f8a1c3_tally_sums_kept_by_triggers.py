"""the live tally's sums, kept by triggers as votes are written (tally_cell, tally_group)

Revision ID: b4d2e6f8a1c3
Revises: a3f1c2d4e5b6
Create Date: 2026-11-23 01:40:00

"""
from alembic import op
import sqlalchemy as sa

from workshop import sums


# revision identifiers, used by Alembic.
revision = 'b4d2e6f8a1c3'
down_revision = 'a3f1c2d4e5b6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tally_cell',
    sa.Column('workshop_id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('group_key', sa.String(length=120), nullable=False),
    sa.Column('ballots', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('high', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], name=op.f('fk_tally_cell_proposal_id_proposal'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshop.id'], name=op.f('fk_tally_cell_workshop_id_workshop'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workshop_id', 'proposal_id', 'group_key', name=op.f('pk_tally_cell'))
    )
    with op.batch_alter_table('tally_cell', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tally_cell_proposal_id'), ['proposal_id'], unique=False)

    op.create_table('tally_group',
    sa.Column('workshop_id', sa.Integer(), nullable=False),
    sa.Column('group_key', sa.String(length=120), nullable=False),
    sa.Column('voters', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshop.id'], name=op.f('fk_tally_group_workshop_id_workshop'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workshop_id', 'group_key', name=op.f('pk_tally_group'))
    )
    # The votes already cast, summed; then the triggers keep the sums from here on (both in
    # this migration's transaction, so no vote falls between them).
    connection = op.get_bind()
    for statement in sums.BACKFILL:
        connection.exec_driver_sql(statement)
    sums.create_triggers(connection)


def downgrade():
    connection = op.get_bind()
    for statement in sums.DROP[connection.dialect.name]:
        connection.exec_driver_sql(statement)
    op.drop_table('tally_group')
    with op.batch_alter_table('tally_cell', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tally_cell_proposal_id'))
    op.drop_table('tally_cell')
