"""device tokens and kiosk scans

Revision ID: r16_devices
Revises: 8fdfd9f5bf65
Create Date: 2026-11-30 15:44:13.796377

"""
import sqlalchemy as sa
from alembic import op

import lecturehub.core.types

# revision identifiers, used by Alembic.
revision = 'r16_devices'
down_revision = 'r17_security'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('device_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', lecturehub.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', lecturehub.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', lecturehub.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_device_token_created_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_device_token_venue_id_venue'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_device_token_token_hash'))
    )
    with op.batch_alter_table('device_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_token_venue_id'), ['venue_id'], unique=False)

    op.create_table('checkin_scan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('lecture_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('member', sa.String(length=64), nullable=False),
    sa.Column('scanned_at', lecturehub.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', lecturehub.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('answer', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device_token.id'], name=op.f('fk_checkin_scan_device_id_device_token'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lecture_id'], ['lecture.id'], name=op.f('fk_checkin_scan_lecture_id_lecture'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sent_by_id'], ['user.id'], name=op.f('fk_checkin_scan_sent_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_checkin_scan_venue_id_venue'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkin_scan')),
    sa.UniqueConstraint('venue_id', 'nonce', name=op.f('uq_checkin_scan_venue_id'))
    )
    with op.batch_alter_table('checkin_scan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkin_scan_lecture_id'), ['lecture_id'], unique=False)

    with op.batch_alter_table('attendance_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_attendance_record_device_id_device_token'), 'device_token', ['device_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('attendance_record', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_attendance_record_device_id_device_token'), type_='foreignkey')
        batch_op.drop_column('device_id')

    with op.batch_alter_table('checkin_scan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkin_scan_lecture_id'))

    op.drop_table('checkin_scan')
    with op.batch_alter_table('device_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_token_venue_id'))

    op.drop_table('device_token')
