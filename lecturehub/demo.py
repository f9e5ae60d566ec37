"""`flask demo`: the seed organisation (1 main + 24 branch venues), its accounts and the seed lecture.

Safe to run again: venues and accounts are matched by code and user name, and
content is imported in place.
"""
from __future__ import annotations

import os
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from werkzeug.security import generate_password_hash

from lecturehub.accounts.models import Role, User
from lecturehub.accounts.services import check_password_policy, generate_password
from lecturehub.courses.content import ContentError, import_content
from lecturehub.extensions import db
from lecturehub.venues.models import Venue, VenueKind

BRANCH_VENUES = 24
MEMBERS_PER_VENUE = 20
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英",
         "霞", "平", "刚", "桂英", "建华", "文", "华", "红", "建国", "志强", "晓东", "海燕", "丹", "玉兰", "浩", "宇",
         "欣怡", "子涵", "思远", "嘉怡", "俊杰", "雨萱", "立新", "春梅", "国庆", "卫东", "晓燕", "亚楠", "振华"]


def demo_venues() -> list[tuple[str, str, VenueKind]]:
    venues = [("main", "主会场", VenueKind.MAIN)]
    venues += [(f"b{n:02d}", f"第{n}分会场", VenueKind.BRANCH) for n in range(1, BRANCH_VENUES + 1)]
    return venues


def demo_member_name(number: int) -> str:
    # Deterministic, varied names so the same member keeps the same name on every run.
    return SURNAMES[(number * 7) % len(SURNAMES)] + GIVEN[(number * 13) % len(GIVEN)]


def _demo_password(instance_path: Path, given: str | None) -> str:
    """The password given, else the one kept from an earlier run, else a new one (kept for next time)."""
    keep = instance_path / "demo_password"
    if given:
        return given
    if keep.exists():
        return keep.read_text().strip()
    password = generate_password()
    keep.write_text(password)
    os.chmod(keep, 0o600)
    return password


def seed_venues() -> list[Venue]:
    existing = {v.code: v for v in db.session.scalars(sa.select(Venue))}
    venues = []
    for position, (code, name, kind) in enumerate(demo_venues()):
        venue = existing.get(code) or Venue(code=code)
        venue.name, venue.kind, venue.position = name, kind, position
        db.session.add(venue)
        venues.append(venue)
    db.session.flush()
    return venues


def seed_accounts(venues: list[Venue], password_hash: str) -> dict[str, int]:
    existing = {u.username: u for u in db.session.scalars(sa.select(User))}
    counts = {"admin": 0, "coordinator": 0, "member": 0}

    def upsert(username: str, name: str, role: Role, home: Venue | None) -> User:
        user = existing.get(username) or User(username=username)
        user.name, user.role, user.home_venue = name, role, home
        user.member_no = username if role is not Role.ADMIN else None
        user.password_hash, user.active, user.must_change_password = password_hash, True, False
        db.session.add(user)
        counts[role.value] += 1
        return user

    upsert("admin", "系统管理员", Role.ADMIN, None)
    number = 0
    for index, venue in enumerate(venues):
        coordinator = upsert(f"coord{index:02d}", f"{venue.name}负责人", Role.COORDINATOR, venue)
        coordinator.coordinated_venues = [venue]
        for _ in range(MEMBERS_PER_VENUE):
            number += 1
            upsert(f"m{number:04d}", demo_member_name(number), Role.MEMBER, venue)
    return counts


@click.command("demo")
@click.option("--password", default=None, help="One password for every demo account (default: generated once and kept).")
@click.option("--content", "content_path", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Content folder to import (default: the project's content/).")
@with_appcontext
def demo_command(password: str | None, content_path: Path | None):
    """Build the demo organisation and seed lecture on this database, then print the logins."""
    if password is not None and check_password_policy(password):
        raise click.ClickException(check_password_policy(password))
    upgrade()
    password = _demo_password(Path(current_app.instance_path), password)
    venues = seed_venues()
    counts = seed_accounts(venues, generate_password_hash(password))
    db.session.commit()
    content_path = content_path or Path(current_app.root_path).parent / "content"
    try:
        summary = import_content(content_path)
    except ContentError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException("the demo content has problems; nothing was imported") from exc

    last_member = f"m{len(venues) * MEMBERS_PER_VENUE:04d}"
    click.echo(f"Demo organisation ready: {len(venues)} venues, {counts['coordinator']} coordinators, "
               f"{counts['member']} members; {summary.lectures} lecture(s), {summary.questions} quiz questions.")
    click.echo("")
    click.echo("Demo logins (all share one password):")
    click.echo("  admin              administrator (all venues and users)")
    click.echo("  coord00            coordinator of 主会场 (main venue)")
    click.echo(f"  coord01 … coord{len(venues) - 1:02d}  coordinators of 第1 … 第{len(venues) - 1}分会场")
    click.echo(f"  m0001 … {last_member}      party members, {MEMBERS_PER_VENUE} per venue (m0001 at 主会场)")
    click.echo(f"  password: {password}")
