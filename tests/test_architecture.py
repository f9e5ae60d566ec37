"""The package rules of DESIGN.md, written as import-linter contracts in .importlinter, hold, and catch a breach."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess:
    # The tree's own directory goes first on the path, so a copy is analysed instead of the installed package.
    return subprocess.run([str(LINT_IMPORTS), "--config", str(tree / ".importlinter"), "--no-cache"],
                          cwd=tree, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)})


def test_import_contracts_are_kept():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_a_wrong_way_import_breaks_the_contracts(tmp_path):
    shutil.copytree(ROOT / "lecturehub", tmp_path / "lecturehub",
                    ignore=shutil.ignore_patterns("__pycache__", "translations", "static", "templates"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    venue_services = tmp_path / "lecturehub" / "venues" / "services.py"
    # venues sits below accounts: a venue rule that reached for the user model would run the layers backwards.
    venue_services.write_text(venue_services.read_text() + "\n\ndef _breach():\n"
                              "    from lecturehub.accounts.models import User\n    return User\n")

    result = _lint_imports(tmp_path)

    assert result.returncode != 0
    assert "the domain packages' layers run one way BROKEN" in result.stdout
    assert "lecturehub.venues.services -> lecturehub.accounts.models" in result.stdout


def test_no_template_includes_a_template_that_may_be_missing():
    # A page's pieces are passed in by its view or a registered hook; "ignore missing" hid which package sent them.
    hidden = [str(path.relative_to(ROOT)) for path in (ROOT / "lecturehub").rglob("*.html")
              if "ignore missing" in path.read_text(encoding="utf-8")]
    assert hidden == []


def test_the_lecture_page_shows_the_panels_attendance_and_quizzes_register(client, open_lecture):
    client.login("m0001")
    page = client.get(f"/lectures/{open_lecture.id}").get_data(as_text=True)
    # attendance's check-in panel, with the code form while check-in is open
    assert 'class="card attendance-panel"' in page and 'name="code"' in page
    # quizzes' self-check section and its button in the section bar
    assert "共1题 · 及格线" in page
    assert page.count(f'href="/lectures/{open_lecture.id}/quiz"') == 2


def test_a_lecture_without_questions_says_so(client, open_lecture):
    from lecturehub.extensions import db
    from lecturehub.quizzes.models import Question

    with client.application.app_context():
        db.session.execute(db.delete(Question).where(Question.lecture_id == open_lecture.id))
        db.session.commit()
    client.login("m0001")
    page = client.get(f"/lectures/{open_lecture.id}").get_data(as_text=True)
    assert "本次党课暂无自测题。" in page
    assert f'href="/lectures/{open_lecture.id}/quiz"' not in page


def test_every_error_a_user_can_mend_shares_the_one_base():
    from lecturehub.accounts.services import AccountError, RosterError
    from lecturehub.attendance.filing import FilingError
    from lecturehub.attendance.services import CheckinError, CorrectionError, LeaveError, SheetError
    from lecturehub.core.errors import UserError
    from lecturehub.core.spreadsheets import TableError
    from lecturehub.courses.bundles import BundleError
    from lecturehub.courses.services import AuthoringError
    from lecturehub.courses.uploads import UploadError
    from lecturehub.quizzes.format import AnswerError
    from lecturehub.quizzes.services import QuestionError
    from lecturehub.venues.services import VenueError

    for error in (AccountError, RosterError, FilingError, CheckinError, CorrectionError, LeaveError, SheetError,
                  TableError, BundleError, AuthoringError, UploadError, AnswerError, QuestionError, VenueError):
        assert issubclass(error, UserError), error
    assert str(RosterError(["Row 2: a", "Row 3: b"])) == "Row 2: a\nRow 3: b"
    assert QuestionError("answer", "Choose one").field == "answer"


def test_a_domain_error_lands_on_its_form_field_with_422(client, org):
    client.login("admin")
    response = client.submit("/admin/venues/new", {"code": "B01", "name": "另一个名字", "kind": "branch",
                                                  "position": "9"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'<p class="error" id="code-error">已有会场使用简码\s*B01。</p>', html)


def test_signals_are_connected_at_app_creation_not_on_import():
    # Connected in create_app (_connect_packages), every seam between packages can be read in one place.
    on_import = [f"{path.relative_to(ROOT)}: {line}" for path in (ROOT / "lecturehub").rglob("*.py")
                 if path.name != "__init__.py" or path.parent.name != "lecturehub"
                 for line in path.read_text(encoding="utf-8").splitlines() if re.match(r"[\w.]+\.connect\(", line)]
    assert on_import == []
