"""dated membership of venues; archive lectures

Revision ID: r11a_membership
Revises: 8fdfd9f5bf65
Create Date: 2026-11-30 16:00:00

Every active account with a venue gets a first membership there. It starts at the account's creation or,
when earlier, at the first lecture its venue took part in: the roster was not versioned before, so each
existing lecture expected today's members, and the reports of those lectures keep reading as they did.
Disabled accounts were expected nowhere, so they get no membership; re-enabling one opens it.
"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op

import lecturehub.core.types

revision = 'r11a_membership'
down_revision = '8fdfd9f5bf65'
branch_labels = None
depends_on = None


def upgrade():
    membership = op.create_table('membership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', lecturehub.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', lecturehub.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('began_how', sa.Enum('joined', 'imported', 'transferred', 're_enabled', 'disabled', 'left',
                                   name='membershipchange', native_enum=False, length=16), nullable=False),
    sa.Column('ended_how', sa.Enum('joined', 'imported', 'transferred', 're_enabled', 'disabled', 'left',
                                   name='membershipchange', native_enum=False, length=16), nullable=True),
    sa.Column('began_by_id', sa.Integer(), nullable=True),
    sa.Column('ended_by_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['began_by_id'], ['user.id'], name=op.f('fk_membership_began_by_id_user'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ended_by_id'], ['user.id'], name=op.f('fk_membership_ended_by_id_user'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_membership_user_id_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_membership_venue_id_venue')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_membership'))
    )
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.create_index('ix_membership_venue_id_starts_at', ['venue_id', 'starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_membership_user_id'), ['user_id'], unique=False)

    _first_memberships(membership)

    # A plain ADD COLUMN, not batch mode: on SQLite batch mode would copy and drop `lecture`, and with foreign
    # keys on, dropping it would cascade to every lecture's venues, key points and attendance records.
    op.add_column('lecture', sa.Column('archive', sa.Boolean(), server_default=sa.false(), nullable=False))


def _first_memberships(membership: sa.Table) -> None:
    bind = op.get_bind()
    user = sa.table('user', sa.column('id', sa.Integer()), sa.column('home_venue_id', sa.Integer()),
                    sa.column('active', sa.Boolean()),
                    sa.column('created_at', lecturehub.core.types.UTCDateTime(timezone=True)))
    lecture = sa.table('lecture', sa.column('id', sa.Integer()),
                       sa.column('starts_at', lecturehub.core.types.UTCDateTime(timezone=True)))
    lecture_venue = sa.table('lecture_venue', sa.column('lecture_id', sa.Integer()), sa.column('venue_id', sa.Integer()))
    first_lecture = dict(bind.execute(
        sa.select(lecture_venue.c.venue_id, sa.func.min(lecture.c.starts_at))
        .join(lecture, lecture.c.id == lecture_venue.c.lecture_id).group_by(lecture_venue.c.venue_id)).all())
    # min() comes back untyped on SQLite (a string); read it through the column type for both backends.
    first_lecture = {venue_id: _as_utc(bind, value) for venue_id, value in first_lecture.items()}
    rows = []
    for user_id, venue_id, created_at in bind.execute(
            sa.select(user.c.id, user.c.home_venue_id, user.c.created_at)
            .where(user.c.home_venue_id.is_not(None), user.c.active.is_(True))):
        starts_at = min(filter(None, [created_at, first_lecture.get(venue_id)]))
        rows.append({'user_id': user_id, 'venue_id': venue_id, 'starts_at': starts_at, 'ends_at': None,
                     'began_how': 'joined', 'ended_how': None, 'began_by_id': None, 'ended_by_id': None,
                     'reason': ''})
    if rows:
        op.bulk_insert(membership, rows)


def _as_utc(bind, value):
    if value is None or isinstance(value, datetime):
        return lecturehub.core.types.UTCDateTime().process_result_value(value, bind.dialect)
    return lecturehub.core.types.UTCDateTime().process_result_value(datetime.fromisoformat(value), bind.dialect)


def downgrade():
    # SQLite 3.35+ drops a column in place (batch mode would recreate `lecture` and cascade, see upgrade()).
    op.drop_column('lecture', 'archive')
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_membership_user_id'))
        batch_op.drop_index('ix_membership_venue_id_starts_at')
    op.drop_table('membership')
