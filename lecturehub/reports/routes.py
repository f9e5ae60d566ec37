"""Report pages and their XLSX/CSV downloads.

Coordinators see their own venues, admins every venue, members only themselves; every route
checks on the server, including venue ids typed into the URL.
"""
from __future__ import annotations

from decimal import Decimal

from flask import (
    Blueprint,
    abort,
    g,
    get_template_attribute,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from markupsafe import Markup
from wtforms import SelectChoice

from lecturehub.accounts.models import Role
from lecturehub.attendance import filing as filing_services
from lecturehub.attendance.services import Phase, open_makeup_tasks, window_of
from lecturehub.core.forms import MAX_PAGE
from lecturehub.core.permissions import role_required
from lecturehub.core.timeutil import to_local, utcnow
from lecturehub.courses.models import Course
from lecturehub.courses.services import get_course_for, get_lecture_for
from lecturehub.extensions import db
from lecturehub.venues.services import get_venue_for, venues_for

from . import services
from .charts import bar_chart, line_chart
from .forms import OverviewFilterForm, YearForm
from .lecture_figures import lecture_figures
from .tables import FORMATS, Column, Table, download

bp = Blueprint("reports", __name__, template_folder="templates", url_prefix="/reports")

STATUS_HEADINGS = {"present": _l("Present"), "late": _l("Late"), "excused": _l("Excused"), "absent": _l("Absent"),
                   "pending": _l("Not checked in"), "made_up": _l("Made up")}


def status_heading(key: str) -> str:
    """The heading for a status key, translated once per request and language: a course matrix asks for it in
    every cell (10,000 for 200 members × 50 lectures), and each translation costs tens of microseconds."""
    cache = g.setdefault("status_headings", {})
    locale = str(get_locale())  # exports switch to Chinese inside the request (force_locale)
    if (locale, key) not in cache:
        cache[locale, key] = str(STATUS_HEADINGS[key])
    return cache[locale, key]


bp.add_app_template_global(status_heading)


def status_headings() -> dict[str, str]:
    """Every status heading in the current language, for pages and tables that show thousands of cells."""
    return {key: status_heading(key) for key in STATUS_HEADINGS}

SHORT_TITLE_LENGTH = 12


def short_title(lecture) -> str:
    """The lecture's title cut short for a column heading on screen (the full one is in its tooltip)."""
    title = lecture.title
    return title[:SHORT_TITLE_LENGTH] + "…" if len(title) > SHORT_TITLE_LENGTH else title


def lecture_label(lecture, short: bool = True) -> str:
    """A lecture as a column heading: its date with the year (several lectures may share a day, and a course
    spans years) and its title, cut short for the screen; exports and selectors keep the full title."""
    return to_local(lecture.starts_at).strftime("%Y-%m-%d") + " " + (short_title(lecture) if short else lecture.title)


bp.add_app_template_global(short_title)


def lecture_times(lecture) -> str:
    """Start and end in local time for a printout; a lecture that ends on another day shows both dates."""
    starts, ends = to_local(lecture.starts_at), to_local(lecture.ends_at)
    end_format = "%H:%M" if ends.date() == starts.date() else "%Y-%m-%d %H:%M"
    return f"{starts:%Y-%m-%d %H:%M} – {ends.strftime(end_format)}"


bp.add_app_template_global(lecture_times)
bp.add_app_template_global(lecture_label)


def export_format() -> str | None:
    fmt = request.args.get("format")
    if fmt is None:
        return None
    if fmt not in FORMATS:
        abort(400)
    return fmt


def exported(build_table, stem: str, *context: str):
    """Build the table in Chinese (exports are filed upward in Chinese) and send it; `context` (a venue, a
    lecture, a year) joins the table's title at the top of each printed page."""
    with force_locale("zh_CN"):
        table = build_table()
    table.heading = " · ".join([table.title, *(str(part) for part in context if part)])
    return download(table, stem, export_format())


def visible_venue_ids() -> list[int] | None:
    """None for admins (every venue); a coordinator's own venues; members have no venue reports."""
    if current_user.is_admin:
        return None
    if current_user.is_coordinator:
        return [v.id for v in current_user.coordinated_venues]
    abort(403)


def selected_year() -> int:
    form = YearForm(request.args)
    if not form.validate():
        abort(make_response(render_template("error.html", code=400, message=" ".join(map(str, form.year.errors))), 400))
    return form.year.data or to_local(utcnow()).year


@bp.get("/")
@login_required
def index():
    if current_user.is_admin:
        return redirect(url_for("reports.overview"))
    if not current_user.is_coordinator:
        return redirect(url_for("reports.me"))
    from lecturehub.courses.services import visible_courses

    return render_template("reports/index.html", venues=current_user.coordinated_venues,
                           courses=visible_courses(current_user))


# --- per lecture ----------------------------------------------------------------------------------

def _lecture_table(lecture, stats) -> Table:
    table = Table(_("Attendance"), [Column(_("Venue")), Column(_("Expected"), "int"), Column(_("Present"), "int"),
                                    Column(_("Late"), "int"), Column(_("Excused"), "int"), Column(_("Absent"), "int"),
                                    Column(_("Made up"), "int"), Column(_("Attendance rate"), "percent"),
                                    Column(_("Quiz taken"), "int"), Column(_("Average quiz score"), "number")])
    for s in stats:
        table.rows.append([s.venue.name, s.expected, s.count("present"), s.count("late"), s.count("excused"),
                           s.count("absent"), s.made_up, s.rate, s.quiz_done, s.quiz_average])
    return table


@bp.get("/lectures/<int:lecture_id>")
@role_required(Role.COORDINATOR, Role.ADMIN)
def lecture(lecture_id: int):
    lecture = get_lecture_for(current_user, lecture_id)
    stats = lecture_figures(lecture, visible_venue_ids())
    if export_format():
        return exported(lambda: _lecture_table(lecture, stats), f"attendance-lecture-{lecture.id}", lecture_label(lecture, short=False))
    ranked = sorted(stats, key=lambda s: (-s.rate, s.venue.position))
    chart = bar_chart([(s.venue.name, s.rate) for s in ranked], _("Attendance rate by venue")) if stats else None
    total_expected = sum(s.expected for s in stats)
    total_arrived = sum(s.arrived for s in stats)
    return render_template("reports/lecture.html", lecture=lecture, stats=stats, ranked=ranked, chart=chart,
                           filings=filing_services.filings(lecture.id, [s.venue.id for s in stats]),
                           total_rate=services.rate(total_arrived, total_expected), total_expected=total_expected,
                           total_arrived=total_arrived, phase=window_of(lecture).phase(utcnow()), Phase=Phase)


def _venue_lecture_stats(lecture_id: int, venue_id: int):
    lecture = get_lecture_for(current_user, lecture_id)
    venue = get_venue_for(current_user, venue_id)
    stats = services.lecture_report(lecture, [venue.id])
    if not stats:
        abort(404)  # the venue does not take part in this lecture
    return lecture, venue, stats[0]


def _names_table(stats) -> Table:
    table = Table(_("Members"), [Column(_("Member number")), Column(_("Name")), Column(_("Status")),
                                 Column(_("Made up"), "datetime"), Column(_("Check-in time"), "datetime"),
                                 Column(_("Reason")), Column(_("Best quiz score"), "number")])
    for m in stats.members:
        table.rows.append([m.user.member_no, m.user.name, status_heading(m.key),
                           m.record.made_up_at if m.record else None, m.record.checked_in_at if m.record else None,
                           m.record.reason if m.record else "", m.best_score])
    return table


@bp.get("/lectures/<int:lecture_id>/venues/<int:venue_id>")
@role_required(Role.COORDINATOR, Role.ADMIN)
def lecture_venue(lecture_id: int, venue_id: int):
    lecture, venue, stats = _venue_lecture_stats(lecture_id, venue_id)
    if export_format():
        return exported(lambda: _names_table(stats), f"attendance-lecture-{lecture.id}-{venue.code}", venue.name,
                        lecture_label(lecture, short=False))
    return render_template("reports/lecture_venue.html", lecture=lecture, venue=venue, stats=stats,
                           keys=["present", "late", "excused", "absent", "pending", "made_up"],
                           **_filing_context(lecture, venue, stats))


@bp.get("/lectures/<int:lecture_id>/venues/<int:venue_id>/record")
@role_required(Role.COORDINATOR, Role.ADMIN)
def branch_record(lecture_id: int, venue_id: int):
    lecture, venue, stats = _venue_lecture_stats(lecture_id, venue_id)
    missing = [m for m in stats.members if m.key in ("absent", "excused")]
    made_up = sorted(stats.names("made_up"), key=lambda m: m.record.made_up_at)
    return render_template("reports/branch_record.html", lecture=lecture, venue=venue, stats=stats, missing=missing,
                           made_up=made_up, **_filing_context(lecture, venue, stats))


@bp.get("/lectures/<int:lecture_id>/venues/<int:venue_id>/sheet")
@role_required(Role.COORDINATOR, Role.ADMIN)
def signin_sheet(lecture_id: int, venue_id: int):
    lecture, venue, stats = _venue_lecture_stats(lecture_id, venue_id)
    return render_template("reports/signin_sheet.html", lecture=lecture, venue=venue, stats=stats,
                           **_filing_context(lecture, venue, stats))


def _filing_context(lecture, venue, stats) -> dict:
    """Whether the printed record is a draft, its filing, and the corrections made after filing (two queries)."""
    filing = filing_services.filings(lecture.id, [venue.id]).get(venue.id)
    return {"filing": filing, "draft": filing_services.is_draft(lecture, filing),
            "corrections": filing_services.corrections(lecture.id, [m.user.id for m in stats.members])}


# --- across a course ------------------------------------------------------------------------------

def _matrix_table(matrix, held) -> Table:
    columns = [Column(_("Member number")), Column(_("Name"))]
    columns += [Column(lecture_label(lec, short=False)) for lec in matrix.lectures]
    columns += [Column(status_heading(k), "int") for k in ("present", "late", "excused", "absent", "made_up")]
    table = Table(_("Attendance matrix"), columns)
    not_held = _("not yet held")
    headings = status_headings()
    for member, cells, totals in matrix.rows:
        table.rows.append([member.member_no, member.name]
                          + [not_held if not held[lec.id] else "" if c is None else headings[c.shown]
                             for lec, c in zip(matrix.lectures, cells, strict=True)]
                          + [totals.get(k, 0) for k in ("present", "late", "excused", "absent", "made_up")])
    return table


@bp.get("/courses/<int:course_id>/venues/<int:venue_id>")
@role_required(Role.COORDINATOR, Role.ADMIN)
def course_venue(course_id: int, venue_id: int):
    course = get_course_for(current_user, course_id)
    venue = get_venue_for(current_user, venue_id)
    now = utcnow()
    fmt = export_format()
    page = None if fmt else request.args.get("page", 1, type=int)
    if page is not None and not 1 <= page <= MAX_PAGE:
        abort(400)
    matrix = services.course_matrix(course, venue, now=now, page=page)
    # A lecture whose check-in has not opened has no statuses yet: it reads as not held, not as a column of gaps.
    held = {lec.id: window_of(lec).phase(now) is not Phase.NOT_OPEN for lec in matrix.lectures}
    if fmt:
        return exported(lambda: _matrix_table(matrix, held), f"attendance-course-{course.id}-{venue.code}", venue.name,
                        course.title)
    return render_template("reports/course_venue.html", matrix=matrix, course=course, venue=venue,
                           rows=_matrix_rows(matrix, held))


def _matrix_rows(matrix, held) -> list[tuple]:
    """(member, the row's cells as HTML, totals) for each member. A cell is one of a handful of snippets (status
    shown, not held, not a member then); each is rendered once and reused, because rendering 10,000 cells one by
    one in the template was most of the page's time."""
    render_cell = get_template_attribute("reports/_matrix_cell.html", "matrix_cell")
    headings = status_headings()
    snippets: dict[tuple, Markup] = {}
    rows = []
    for member, cells, totals in matrix.rows:
        row_cells = []
        for lecture, cell in zip(matrix.lectures, cells, strict=True):
            if not held[lecture.id]:
                key = ("not_held", "")
            elif cell is None:
                key = ("gap", "")
            else:
                key = (cell.status.value if cell.status else "none", cell.shown)
            if key not in snippets:
                snippets[key] = render_cell(key[0], headings.get(key[1], ""))
            row_cells.append(snippets[key])
        rows.append((member, Markup("").join(row_cells), totals))
    return rows


# --- the whole organisation -----------------------------------------------------------------------

def _overview_tables(overview, ranking_rows, phases) -> dict[str, Table]:
    matrix = Table(_("Venues by lecture"), [Column(_("Venue"))] + [
        Column(lecture_label(lec, short=False), "percent") for lec in overview.lectures])
    for venue in overview.venues:
        matrix.rows.append([venue.name] + [_matrix_cell(overview.cells.get((lec.id, venue.id)), phases[lec.id])
                                           for lec in overview.lectures])
    trend = Table(_("Trend"), [Column(_("Date"), "date"), Column(_("Lecture")), Column(_("Attendance rate"), "percent")])
    trend.rows = [[lec.starts_at, lec.title, value] for lec, value in overview.trend]
    ranking = Table(_("Ranking"), [Column(_("Rank"), "int"), Column(_("Venue")), Column(_("Expected"), "int"),
                                   Column(_("Checked in"), "int"), Column(_("Excused"), "int"),
                                   Column(_("Absent"), "int"), Column(_("Attendance rate"), "percent")])
    ranking.rows = [[i, venue.name, cell["expected"], cell["arrived"], cell["excused"], cell["absent"], cell["rate"]]
                    for i, (venue, cell) in enumerate(ranking_rows, start=1)]
    return {"matrix": matrix, "trend": trend, "ranking": ranking}


def drill_down_url(lecture_id: int, venue_id: int) -> str:
    """`url_for("reports.lecture_venue", …)`, built once per request and filled in: the overview links each of
    its 1,250 cells, and building each URL through the router was a third of the page's time."""
    template = g.get("drill_down_url")
    if template is None:
        template = g.drill_down_url = url_for("reports.lecture_venue", lecture_id=1111111111,
                                              venue_id=2222222222).replace("1111111111", "{lecture_id}").replace(
                                                  "2222222222", "{venue_id}")
    return template.format(lecture_id=int(lecture_id), venue_id=int(venue_id))


bp.add_app_template_global(drill_down_url)


def _matrix_cell(cell, phase):
    """A venue's rate for a lecture, or what stands in for it: not taking part, not yet held, check-in open."""
    if cell is None:
        return None
    if phase is Phase.NOT_OPEN:
        return _("not yet held")
    if phase is not Phase.CLOSED:
        return _("check-in open")
    return cell["rate"]


@bp.get("/overview")
@role_required(Role.ADMIN)
def overview():
    form = OverviewFilterForm(request.args)
    courses = list(db.session.scalars(db.select(Course).order_by(Course.position, Course.id)))
    form.course.choices = [SelectChoice("", _("All courses"))] + [SelectChoice(str(c.id), c.title) for c in courses]
    if not form.validate():
        form.lecture.choices = []
        return render_template("reports/overview.html", form=form, overview=None), 422
    course_id = int(form.course.data) if form.course.data else None
    now = utcnow()
    result = services.organisation_overview(course_id, form.start.data, form.end.data, now=now)
    phases = {lec.id: window_of(lec).phase(now) for lec in result.lectures}
    form.lecture.choices = [SelectChoice(str(lec.id), lecture_label(lec, short=False)) for lec in reversed(result.lectures)]
    chosen = int(form.lecture.data) if form.lecture.data and form.lecture.data.isdecimal() else None
    closed = [lec for lec in result.lectures if phases[lec.id] is Phase.CLOSED] or result.lectures
    ranking_lecture = next((lec for lec in result.lectures if lec.id == chosen), closed[-1] if closed else None)
    # The selector shows the lecture actually ranked, so pressing the button untouched ranks the same one again.
    form.lecture.data = str(ranking_lecture.id) if ranking_lecture else None
    ranking_rows = services.ranking(result, ranking_lecture.id, by=form.rank_by.data) if ranking_lecture else []
    if export_format():
        table_name = request.args.get("table", "matrix")
        if table_name not in ("matrix", "trend", "ranking"):
            abort(400)
        context = lecture_label(ranking_lecture, short=False) if table_name == "ranking" and ranking_lecture else ""
        return exported(lambda: _overview_tables(result, ranking_rows, phases)[table_name], f"attendance-{table_name}",
                        context)
    trend_chart = line_chart([(to_local(lec.starts_at).strftime("%Y-%m-%d"), value) for lec, value in result.trend],
                             _("Attendance rate over the lectures")) if result.trend else None
    ranking_chart = bar_chart([(venue.name, cell["rate"]) for venue, cell in ranking_rows],
                              _("Attendance rate by venue")) if ranking_rows else None
    return render_template("reports/overview.html", form=form, overview=result, ranking_lecture=ranking_lecture,
                           ranking_rows=ranking_rows, trend_chart=trend_chart, ranking_chart=ranking_chart,
                           phases=phases, Phase=Phase)


# --- study hours ----------------------------------------------------------------------------------

@bp.get("/hours")
@role_required(Role.COORDINATOR, Role.ADMIN)
def hours():
    year = selected_year()
    venues = venues_for(current_user)
    rows_by_venue = services.hours_by_member([v.id for v in venues], year)
    summary = []
    for venue in venues:
        rows = rows_by_venue.get(venue.id, [])
        on_track = sum(1 for r in rows if r.on_track)
        summary.append((venue, len(rows), on_track, services.rate(on_track, len(rows))))

    def table() -> Table:
        t = Table(_("Study hours"), [Column(_("Venue")), Column(_("Members"), "int"), Column(_("On track"), "int"),
                                     Column(_("Share on track"), "percent")])
        t.rows = [[v.name, n, k, share] for v, n, k, share in summary]
        return t

    if export_format():
        return exported(table, f"study-hours-{year}", str(year))
    return render_template("reports/hours.html", year=year, summary=summary,
                           share=round(float(services.expected_share(year)) * 100, 1))


@bp.get("/hours/venues/<int:venue_id>")
@role_required(Role.COORDINATOR, Role.ADMIN)
def hours_venue(venue_id: int):
    venue = get_venue_for(current_user, venue_id)
    year = selected_year()
    rows = services.hours_by_member([venue.id], year).get(venue.id, [])

    def table() -> Table:
        t = Table(_("Study hours"), [Column(_("Member number")), Column(_("Name")), Column(_("Study hours"), "number"),
                                     Column(_("Target"), "number"), Column(_("On track"))])
        t.rows = [[r.user.member_no, r.user.name, r.hours, r.target, _("yes") if r.on_track else _("no")]
                  for r in rows]
        return t

    if export_format():
        return exported(table, f"study-hours-{year}-{venue.code}", venue.name, str(year))
    return render_template("reports/hours_venue.html", year=year, venue=venue, rows=rows)


# --- the member's own ----------------------------------------------------------------------------

@bp.get("/me")
@login_required
def me():
    year = selected_year()
    ledger = services.member_ledger(current_user, year)
    total = sum((line.hours for line in ledger), start=Decimal("0"))
    target = services.hours_target(current_user.role)

    quizzes = services.member_quiz_results(current_user)

    def attendance_table() -> Table:
        t = Table(_("My attendance"), [Column(_("Date"), "datetime"), Column(_("Lecture")), Column(_("Status")),
                                       Column(_("Study hours"), "number")])
        t.rows = [[line.lecture.starts_at, line.lecture.title,
                   status_heading("made_up" if line.made_up else (line.status.value if line.status else "pending")),
                   line.hours] for line in ledger]
        return t

    def quiz_table() -> Table:
        t = Table(_("My quiz results"), [Column(_("Date"), "date"), Column(_("Lecture")), Column(_("Attempts"), "int"),
                                         Column(_("Best quiz score"), "number"), Column(_("Passed"))])
        t.rows = [[lecture.starts_at, lecture.title, attempts, best, _("yes") if passed else _("no")]
                  for lecture, attempts, best, passed in quizzes]
        return t

    if export_format():
        tables = {"attendance": attendance_table, "quizzes": quiz_table}
        name = request.args.get("table", "attendance")
        if name not in tables:
            abort(400)
        return exported(tables[name], f"my-{name}-{year}", current_user.name, str(year))
    return render_template("reports/me.html", year=year, ledger=ledger, total=total, target=target,
                           quizzes=quizzes, tasks=open_makeup_tasks(current_user),
                           years=services.member_years(current_user))
