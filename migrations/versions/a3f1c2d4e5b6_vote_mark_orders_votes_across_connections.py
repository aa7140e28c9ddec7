"""votes: a per-participant sequence mark, so that an old resend never overwrites a newer vote

Revision ID: a3f1c2d4e5b6
Revises: 315739667acf
Create Date: 2026-11-22 08:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a3f1c2d4e5b6'
down_revision = '315739667acf'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vote_mark', sa.BigInteger(), server_default='0',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_column('vote_mark')
