"""Item analysis of a lecture's quiz: which questions and key points members did not understand.

Each member counts once, with their first submitted attempt: later attempts measure what the first
one's feedback taught, not what the lecture did.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa

from lecturehub.accounts.models import Membership, User
from lecturehub.core.numbers import percent
from lecturehub.courses.models import KeyPoint, Lecture
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from .models import AttemptAnswer, Question, QuizAttempt

GROUP_SHARE = 0.27  # upper and lower groups for the discrimination index (Kelley's 27%)
MIN_FOR_DISCRIMINATION = 4
FLAG_MIN_ANSWERS = 4
EASY, HARD = 90.0, 10.0


@dataclass
class Tally:
    answered: int = 0
    correct: int = 0

    @property
    def share(self) -> float | None:
        return percent(self.correct, self.answered)


@dataclass
class QuestionStats:
    question: Question
    overall: Tally = field(default_factory=Tally)
    by_venue: dict[int, Tally] = field(default_factory=lambda: defaultdict(Tally))
    discrimination: float | None = None

    @property
    def flag(self) -> str | None:
        if self.overall.answered < FLAG_MIN_ANSWERS:
            return None
        if self.overall.share >= EASY:
            return "easy"
        if self.overall.share <= HARD:
            return "hard"
        return None


@dataclass
class Analysis:
    members: int
    questions: list[QuestionStats]
    key_points: list[tuple[KeyPoint, Tally]]
    venues: list[Venue]


def analyse(lecture_id: int, venue_ids: list[int] | None) -> Analysis:
    """Per question: answers, share right overall and per venue, discrimination; per key point: share right.

    Four queries whatever the number of members; `venue_ids` None means the whole organisation.
    """
    first = (sa.select(sa.func.min(QuizAttempt.id)).where(QuizAttempt.lecture_id == lecture_id)
             .group_by(QuizAttempt.user_id))
    # A member counts at the venue they belonged to when the lecture began, as every report of it counts them, so
    # a later transfer moves nothing; one who belonged nowhere then (joined later) at their venue now.
    venue_then = sa.func.coalesce(Membership.venue_id, User.home_venue_id)
    query = (sa.select(QuizAttempt.user_id, venue_then, AttemptAnswer.question_id, AttemptAnswer.correct)
             .join(QuizAttempt, QuizAttempt.id == AttemptAnswer.attempt_id)
             .join(User, User.id == QuizAttempt.user_id)
             .join(Lecture, Lecture.id == QuizAttempt.lecture_id)
             .outerjoin(Membership, sa.and_(Membership.user_id == User.id, Membership.covers(Lecture.starts_at)))
             .where(QuizAttempt.id.in_(first), AttemptAnswer.question_id.is_not(None)))
    if venue_ids is not None:
        query = query.where(venue_then.in_(venue_ids))
    rows = db.session.execute(query).all()
    questions = list(db.session.scalars(sa.select(Question).where(Question.lecture_id == lecture_id)
                                        .order_by(Question.position)))
    key_points = list(db.session.scalars(sa.select(KeyPoint).where(KeyPoint.lecture_id == lecture_id)
                                         .order_by(KeyPoint.position)))
    venue_query = sa.select(Venue).order_by(Venue.position)
    if venue_ids is not None:
        venue_query = venue_query.where(Venue.id.in_(venue_ids))
    venues = [v for v in db.session.scalars(venue_query)]

    stats = {q.id: QuestionStats(q) for q in questions}
    totals: dict[int, int] = defaultdict(int)
    answers: dict[int, dict[int, bool]] = defaultdict(dict)  # user -> question -> correct
    for user_id, venue_id, question_id, correct in rows:
        item = stats.get(question_id)
        if item is None:
            continue
        item.overall.answered += 1
        item.overall.correct += int(correct)
        item.by_venue[venue_id].answered += 1
        item.by_venue[venue_id].correct += int(correct)
        totals[user_id] += int(correct)
        answers[user_id][question_id] = bool(correct)
    _discrimination(stats, totals, answers)
    used_venues = {vid for s in stats.values() for vid in s.by_venue}
    key_point_tallies = []
    for key_point in key_points:
        tally = Tally()
        for item in stats.values():
            if item.question.key_point_id == key_point.id:
                tally.answered += item.overall.answered
                tally.correct += item.overall.correct
        key_point_tallies.append((key_point, tally))
    return Analysis(len(totals), list(stats.values()), key_point_tallies,
                    [v for v in venues if v.id in used_venues])


def _discrimination(stats: dict[int, QuestionStats], totals: dict[int, int],
                    answers: dict[int, dict[int, bool]]) -> None:
    """Upper-minus-lower index: share right in the top 27% of members by total minus the bottom 27%."""
    if len(totals) < MIN_FOR_DISCRIMINATION:
        return
    ranked = sorted(totals, key=lambda user_id: (-totals[user_id], user_id))
    size = max(1, math.ceil(len(ranked) * GROUP_SHARE))
    upper, lower = ranked[:size], ranked[-size:]
    for question_id, item in stats.items():
        up = [answers[u][question_id] for u in upper if question_id in answers[u]]
        low = [answers[u][question_id] for u in lower if question_id in answers[u]]
        if up and low:
            item.discrimination = round(sum(up) / len(up) - sum(low) / len(low), 2)
