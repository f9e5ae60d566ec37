"""venues can be retired; member numbers trimmed and unique without regard to case

Revision ID: r12_venues
Revises: 8fdfd9f5bf65
Create Date: 2026-11-30 16:00:00

"""
import sqlalchemy as sa
from alembic import op

import lecturehub.core.types

# revision identifiers, used by Alembic.
revision = 'r12_venues'
down_revision = 'r13_signins'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('venue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_at', lecturehub.core.types.UTCDateTime(timezone=True), nullable=True))
    # Numbers are now stored trimmed; earlier imports kept surrounding spaces that made lookups miss.
    op.execute(sa.text('UPDATE "user" SET member_no = TRIM(member_no) WHERE member_no IS NOT NULL'))
    # Fails (and changes nothing) if two accounts hold the same number in different case: merge them first.
    op.create_index('uq_user_member_no_lower', 'user', [sa.text('lower(member_no)')], unique=True)


def downgrade():
    op.drop_index('uq_user_member_no_lower', table_name='user')
    with op.batch_alter_table('venue', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
