"""schemathesis against the app's own OpenAPI document: no server error, every answer as documented.

The API is called over real HTTP (the live server), with a valid device token. Half the generated cases
keep their random venue and lecture ids (401/403/404 paths), the other half are pointed at the token's
venue and an open lecture, so that generated bodies reach the check-in rules. Derandomised and small, so
a run takes seconds and fails the same way each time.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from lecturehub.accounts.models import User
from lecturehub.api import services as api
from lecturehub.api.routes import URL_PREFIX, registry
from lecturehub.core.timeutil import utcnow
from lecturehub.extensions import db
from lecturehub.venues.models import Venue

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def kiosk(org, make_lecture):
    lecture = make_lecture(utcnow() - timedelta(minutes=5))
    _device, token = api.create_device_token(db.session.get(Venue, org["branch_a"]), "schemathesis",
                                             by=db.session.get(User, org["coord_a"]))
    db.session.commit()
    return {"token": token, "venue_id": org["branch_a"], "lecture_id": lecture.id}


# The document the app serves at /api/v1/openapi.json (checked below), built from the code as the app builds it.
schema = schemathesis.openapi.from_dict(registry.document(URL_PREFIX))


@schema.parametrize()
@settings(max_examples=30, derandomize=True, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_api_matches_its_openapi_document(case, kiosk, live_server):
    venue_id = (case.path_parameters or {}).get("venue_id")
    if isinstance(venue_id, int) and venue_id % 2 == 0:
        case.path_parameters["venue_id"] = kiosk["venue_id"]
        if "lecture_id" in case.path_parameters:
            case.path_parameters["lecture_id"] = kiosk["lecture_id"]
    case.call_and_validate(base_url=live_server, headers={"Authorization": f"Bearer {kiosk['token']}"},
                           checks=CHECKS)


def test_document_describes_every_api_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document == registry.document(URL_PREFIX)  # what schemathesis tests is what a kiosk reads
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    routed = {(rule.rule.replace("<int:", "{").replace(">", "}"), method)
              for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api_v1.")
              and rule.endpoint != "api_v1.openapi_document"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["deviceToken"]["scheme"] == "bearer"
    checkin = document["paths"]["/api/v1/venues/{venue_id}/lectures/{lecture_id}/checkins"]["post"]
    assert {"200", "201", "401", "403", "404", "409", "422", "429"} <= set(checkin["responses"])
