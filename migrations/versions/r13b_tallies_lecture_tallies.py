"""lecture tallies and members' study hours per year, for the reports

Revision ID: r13b_tallies
Revises: r12_venues
Create Date: 2026-11-30 19:00:00

Empty after the upgrade: the reports count lectures without a tally from their records, as before, until
`flask attendance tally` (or any later change to a lecture) fills it.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'r13b_tallies'
down_revision = 'r12_venues'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'lecture_tally',
        sa.Column('lecture_id', sa.Integer(), nullable=False),
        sa.Column('venue_id', sa.Integer(), nullable=False),
        sa.Column('expected', sa.Integer(), nullable=False),
        sa.Column('present', sa.Integer(), nullable=False),
        sa.Column('late', sa.Integer(), nullable=False),
        sa.Column('excused', sa.Integer(), nullable=False),
        sa.Column('absent', sa.Integer(), nullable=False),
        sa.Column('made_up', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['lecture_id'], ['lecture.id'], name=op.f('fk_lecture_tally_lecture_id_lecture'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_lecture_tally_venue_id_venue'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('lecture_id', 'venue_id', name=op.f('pk_lecture_tally')),
    )
    op.create_table(
        'member_hours',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('credited', sa.Numeric(precision=8, scale=1), nullable=False),
        sa.Column('late', sa.Numeric(precision=8, scale=1), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_member_hours_user_id_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'year', name=op.f('pk_member_hours')),
    )


def downgrade():
    op.drop_table('member_hours')
    op.drop_table('lecture_tally')
