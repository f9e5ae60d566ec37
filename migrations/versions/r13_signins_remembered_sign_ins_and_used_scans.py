"""remembered sign-ins (device, last use) and used scan proofs

Revision ID: r13_signins
Revises: 8fdfd9f5bf65

"""
import sqlalchemy as sa
from alembic import op

import lecturehub.core.types

revision = 'r13_signins'
down_revision = 'r16_devices'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('remembered', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('last_used_at', lecturehub.core.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('device', sa.String(length=120), server_default='', nullable=False))

    op.create_table('used_scan',
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('used_at', lecturehub.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('nonce', name=op.f('pk_used_scan'))
    )
    with op.batch_alter_table('used_scan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_scan_used_at'), ['used_at'], unique=False)


def downgrade():
    with op.batch_alter_table('used_scan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_scan_used_at'))
    op.drop_table('used_scan')

    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.drop_column('device')
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('remembered')
