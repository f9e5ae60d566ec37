"""A lecture's figures per venue, without its members: what the lecture report and its export show.

A finished lecture's figures come from its tally (attendance.tallies, written in the same commit as any change
to its records), so the report reads 25 rows instead of every member's record; the quiz figures come from the
attempts of the members it expected. A lecture without a tally (check-in still open, archived, or not tallied
since an upgrade) is counted member by member (`services.lecture_report`), as its drill-down pages are.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from lecturehub.accounts.models import Membership, User
from lecturehub.attendance.models import LectureTally
from lecturehub.attendance.services import Phase, expected_members_query, window_of
from lecturehub.core.numbers import best_percent
from lecturehub.core.timeutil import utcnow
from lecturehub.courses.models import Lecture
from lecturehub.extensions import db
from lecturehub.quizzes.models import QuizAttempt
from lecturehub.venues.models import Venue

from .services import VenueRates, VenueStats, lecture_report, lecture_venues


@dataclass
class VenueFigures(VenueRates):
    """The figures of `VenueStats` that a report table shows, from a tally."""

    venue: Venue
    expected: int
    counts: dict[str, int]
    made_up: int
    best_scores: list[float] = field(default_factory=list)

    def count(self, key: str) -> int:
        return self.counts.get(key, 0)


def lecture_figures(lecture: Lecture, venue_ids: list[int] | None,
                    now: datetime | None = None) -> list[VenueFigures] | list[VenueStats]:
    """Per venue of the lecture (limited to `venue_ids`; None: all), in the venues' order: expected, each
    status, made up, rate and quiz figures. Four queries for a tallied lecture."""
    now = now or utcnow()
    if window_of(lecture).phase(now) is not Phase.CLOSED:
        return lecture_report(lecture, venue_ids, now)
    venues = lecture_venues(lecture, venue_ids)
    tallies = {row.venue_id: row for row in db.session.execute(
        sa.select(*LectureTally.__table__.columns).where(LectureTally.lecture_id == lecture.id))}
    if not tallies or any(venue.id not in tallies for venue in venues):
        return lecture_report(lecture, venue_ids, now)
    expected = (expected_members_query(lecture.id, [v.id for v in venues])
                .with_only_columns(User.id.label("user_id"), Membership.venue_id.label("venue_id")).subquery())
    results: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for venue_id, user_id, right, asked in db.session.execute(
            sa.select(expected.c.venue_id, QuizAttempt.user_id, QuizAttempt.correct_count, QuizAttempt.question_count)
            .join(expected, expected.c.user_id == QuizAttempt.user_id)
            .where(QuizAttempt.lecture_id == lecture.id)):
        results.setdefault((venue_id, user_id), []).append((right, asked))
    scores: dict[int, list[float]] = {}
    for (venue_id, _user_id), member_results in results.items():
        best = best_percent(member_results)
        if best is not None:
            scores.setdefault(venue_id, []).append(best)
    figures = []
    for venue in venues:
        tally = tallies[venue.id]
        # Once the window has closed, an expected member without a record counts as absent (effective_status).
        counts = {"present": tally.present, "late": tally.late, "excused": tally.excused,
                  "absent": tally.expected - tally.present - tally.late - tally.excused}
        figures.append(VenueFigures(venue, tally.expected, counts, tally.made_up, scores.get(venue.id, [])))
    return figures
