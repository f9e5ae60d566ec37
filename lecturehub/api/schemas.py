"""The API's request and response bodies. The OpenAPI document is generated from these models."""
from __future__ import annotations

from datetime import datetime
from enum import Enum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Error(BaseModel):
    """Every error under /api."""

    code: str = Field(description="Machine-readable reason, e.g. `invalid_token`, `wrong_venue`, `rate_limited`.")
    message: str = Field(description="For people, in the request's language (Accept-Language; Chinese default).")
    details: list[dict] | None = Field(None, description="For `invalid_request`: which values were wrong.")


class Caller(BaseModel):
    kind: str = Field(description="`device` (a device token) or `user` (a signed-in coordinator's desk).")
    name: str
    venue_ids: list[int] = Field(description="The venues this caller may check members in at.")


class Phase(str, Enum):
    not_open = "not_open"
    on_time = "on_time"
    late = "late"
    closed = "closed"


class LectureOut(BaseModel):
    id: int
    title: str
    speaker: str
    starts_at: datetime
    ends_at: datetime
    checkin_opens_at: datetime
    on_time_until: datetime
    checkin_closes_at: datetime
    phase: Phase


class LectureList(BaseModel):
    venue_id: int
    lectures: list[LectureOut]


class MemberStatus(str, Enum):
    present = "present"
    late = "late"
    excused = "excused"
    absent = "absent"


class RosterMember(BaseModel):
    member_no: str
    name: str
    expected_here: bool = Field(description="False for a visitor from another venue who checked in here.")
    status: MemberStatus | None = Field(description="None: not checked in yet (and the window still open).")
    checked_in_at: datetime | None
    checked_in_venue_id: int | None = Field(description="Where the member checked in (may be another venue).")


class Roster(BaseModel):
    venue_id: int
    lecture_id: int
    version: int = Field(description="Pass as `since` to fetch only what changed after this snapshot.")
    complete: bool = Field(description="True: every expected member is listed; False: only changes since `since`.")
    members: list[RosterMember]


class Scan(Strict):
    member: str = Field(min_length=1, max_length=64, description="A member number as typed, or the member card's "
                        "QR payload (`LH-MEMBER:<number>`).")
    scanned_at: AwareDatetime = Field(description="When the device scanned, with its UTC offset. Decides on time "
                                      "or late, however much later the scan is sent.")
    nonce: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$", description="Chosen by the device, unique per scan "
                       "(e.g. a UUID). Sending the same nonce again gives the same answer and changes nothing.")


class ScanBatch(Strict):
    scans: list[Scan] = Field(min_length=1, max_length=200)


class Outcome(str, Enum):
    checked_in = "checked_in"
    already_checked_in = "already_checked_in"
    checked_in_elsewhere = "checked_in_elsewhere"
    refused = "refused"


class ScanResult(BaseModel):
    nonce: str
    outcome: Outcome = Field(description="`checked_in_elsewhere` is a conflict: the member's record stays where "
                             "it is. `refused`: see `code`.")
    code: str | None = Field(description="Why a scan was refused: `unknown_member`, `not_open`, `closed`, "
                             "`scanned_in_future`, `too_late_to_send`, `filed`.")
    message: str = Field(description="For the person at the desk, in the request's language.")
    member_no: str | None
    name: str | None
    status: MemberStatus | None
    checked_in_at: datetime | None
    checked_in_venue_id: int | None
    replayed: bool = Field(description="True when this nonce had been sent before: the first answer, again.")


class BatchResult(BaseModel):
    results: list[ScanResult] = Field(description="One per scan, in the order sent.")


class ScreenState(BaseModel):
    venue_id: int
    lecture_id: int
    phase: Phase
    phase_label: str
    code: str | None = Field(description="The 6-digit check-in code on the venue screen now (None when closed).")
    seconds_left: int
    arrived: int = Field(description="Members checked in in this room (visitors included).")
    expected: int = Field(description="Members whose home venue this is.")
