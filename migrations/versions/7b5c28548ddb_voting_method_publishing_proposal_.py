"""voting method, publishing, proposal answers

Revision ID: 7b5c28548ddb
Revises: ea8426d46857
Create Date: 2026-11-22 06:06:24.709767

"""
from alembic import op
import sqlalchemy as sa

import workshop.models


# revision identifiers, used by Alembic.
revision = '7b5c28548ddb'
down_revision = 'ea8426d46857'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('proposal_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workshop_id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('reasoning', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', workshop.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('under_consideration', 'adopted', 'partly_adopted', 'not_adopted')", name=op.f('ck_proposal_answer_answer_status')),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], name=op.f('fk_proposal_answer_proposal_id_proposal'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_proposal_answer_user_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshop.id'], name=op.f('fk_proposal_answer_workshop_id_workshop'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposal_answer'))
    )
    with op.batch_alter_table('proposal_answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposal_answer_proposal_id'), ['proposal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_proposal_answer_workshop_id'), ['workshop_id'], unique=False)

    with op.batch_alter_table('workshop', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voting_method', sa.String(length=20), server_default='dots', nullable=False))
        batch_op.add_column(sa.Column('published_at', workshop.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('outcome_note', sa.Text(), nullable=True))



def downgrade():
    with op.batch_alter_table('workshop', schema=None) as batch_op:
        batch_op.drop_column('outcome_note')
        batch_op.drop_column('published_at')
        batch_op.drop_column('voting_method')

    with op.batch_alter_table('proposal_answer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposal_answer_workshop_id'))
        batch_op.drop_index(batch_op.f('ix_proposal_answer_proposal_id'))

    op.drop_table('proposal_answer')
