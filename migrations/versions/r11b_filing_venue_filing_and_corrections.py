"""filing (报送) of venue records, and corrections made after filing

Revision ID: r11b_filing
Revises: 8fdfd9f5bf65
Create Date: 2026-11-30 15:44:48.901063

"""
import sqlalchemy as sa
from alembic import op

import lecturehub.core.types

# revision identifiers, used by Alembic.
revision = 'r11b_filing'
down_revision = 'r11a_membership'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('venue_filing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lecture_id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('filed', 'acknowledged', 'returned', name='filingstate', native_enum=False, length=16), nullable=False),
    sa.Column('filed_by_id', sa.Integer(), nullable=True),
    sa.Column('filed_at', lecturehub.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', lecturehub.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('comment', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['filed_by_id'], ['user.id'], name=op.f('fk_venue_filing_filed_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lecture_id'], ['lecture.id'], name=op.f('fk_venue_filing_lecture_id_lecture'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['user.id'], name=op.f('fk_venue_filing_reviewed_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_venue_filing_venue_id_venue'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venue_filing')),
    sa.UniqueConstraint('lecture_id', 'venue_id', name=op.f('uq_venue_filing_lecture_id'))
    )
    with op.batch_alter_table('venue_filing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_venue_filing_lecture_id'), ['lecture_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_venue_filing_venue_id'), ['venue_id'], unique=False)

    # Changes before this release were all made before any filing, so none is a correction.
    with op.batch_alter_table('attendance_change', schema=None) as batch_op:
        batch_op.add_column(sa.Column('correction', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade():
    with op.batch_alter_table('attendance_change', schema=None) as batch_op:
        batch_op.drop_column('correction')

    with op.batch_alter_table('venue_filing', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_venue_filing_venue_id'))
        batch_op.drop_index(batch_op.f('ix_venue_filing_lecture_id'))

    op.drop_table('venue_filing')
