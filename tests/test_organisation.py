"""Pages that gather from several domains: the home page's and the venue pages' member counts agree."""
from __future__ import annotations

import re
from datetime import timedelta

from lecturehub.accounts import services as accounts
from lecturehub.accounts.models import User
from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db


def _venue_list_size(client, name: str) -> int:
    html = client.get("/venues").get_data(as_text=True)
    row = next(row for row in html.split("<tr>") if f">{name}</a>" in row)
    return int(re.search(r"<td>(\d+)</td>", row).group(1))


def _sizes_everywhere(client, org) -> tuple[int, int, int, int]:
    detail = client.get(f"/venues/{org['branch_a']}").get_data(as_text=True)
    home = client.get("/home").get_data(as_text=True)
    members_page = client.get(f"/venues/{org['branch_a']}/members").get_data(as_text=True)
    return (_venue_list_size(client, "第1分会场"),
            int(re.search(r"党员（(\d+)）", detail).group(1)),
            int(re.search(r"第1分会场</strong>\s*<span class=\"meta\">· (\d+)\s*人", home).group(1)),
            int(re.search(r"当前成员.*?(\d+)\s*人", members_page, re.S).group(1)))


def test_a_disabled_member_leaves_every_count_of_their_venue(client, org):
    client.login("coord01")
    assert _sizes_everywhere(client, org) == (3, 3, 3, 3)  # 甲负责人 coord01, 张伟 m0001 and 李娜 m0002

    accounts.set_active(db.session.get(User, org["member_a2"]), False, db.session.get(User, org["admin"]))

    assert _sizes_everywhere(client, org) == (2, 2, 2, 2)
    assert "李娜" not in client.get(f"/venues/{org['branch_a']}").get_data(as_text=True)


def test_a_dated_transfer_counts_at_the_new_venue_only_from_its_date(client, org):
    admin = db.session.get(User, org["admin"])
    branch_b = db.session.get(User, org["member_b"]).home_venue
    accounts.transfer_member(db.session.get(User, org["member_a"]), branch_b, utcnow() + timedelta(days=7), admin,
                             "工作调动")
    db.session.commit()
    assert accounts.members_per_venue([org["branch_a"], org["branch_b"]]) == {org["branch_a"]: 3, org["branch_b"]: 2}
    later = utcnow() + timedelta(days=8)
    assert accounts.members_per_venue([org["branch_a"], org["branch_b"]], later) == {org["branch_a"]: 2,
                                                                                   org["branch_b"]: 3}
