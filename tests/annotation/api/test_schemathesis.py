"""Every API operation, fuzzed by schemathesis from the published OpenAPI schema against the live
test server, as an annotator and as an admin: no answer may be a 5xx, and every answer must match
what the schema says — its status, content type, headers and body — while data the schema forbids
must be refused. Runs in both passes of .ci/run (SQLite; PostgreSQL + Redis).

The project has a published rulebook, items, votes, ground truth, a finished import and a second
rulebook version, and path parameters name real rows of it, so operations get past their 404s.
The examples are bounded (``EXAMPLES`` per operation and mode) and derandomized: the same cases
every run, about a minute for both roles on a 2-core machine.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from annotation.imports import services as imports
from annotation.imports.models import ImportStatus
from annotation.items.models import Item
from annotation.labeling import services as labeling
from annotation.projects import services as projects_services
from annotation.projects.models import Role
from annotation.rulebook import services as rulebook_services
from tests.annotation.labeling.test_services import add_items
from tests.conftest import labels, publish
from tests.factories import UserFactory

EXAMPLES = 15  # per operation and generation mode
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def _world(team) -> dict[str, Any]:
    """A project in mid-life; the ids that path parameters take."""
    project = team.project
    publish(team, "cat", "dog", "fox")
    project.min_votes, project.max_votes, project.gold_rate = 2, 3, 0
    project.save()
    items = add_items(project, 8)
    others = [UserFactory(username=f"crowd{i}") for i in range(2)]
    for user in others:
        projects_services.member_add(actor=team.admin, project=project, username=user.username, role=Role.ANNOTATOR)
    for user in others:  # two agreeing votes each on three items: ground truth
        for _ in range(3):
            lease = labeling.item_lease_next(project=project, annotator=user)
            labeling.vote_cast(project=project, annotator=user, item_id=lease.item_id, client_id=f"seed-{user.pk}-{lease.item_id}", value="cat")
    upload = io.BytesIO(b'{"id": "imported-1", "text": "an imported text"}\n')
    upload.name = "rows.jsonl"
    job = imports.import_start(job=imports.import_create(actor=team.admin, project=project, name=upload.name, upload=upload), background=False)
    rulebook_services.rulebook_draft_save(actor=team.admin, project=project, guidelines="Second edition", unclear_instructions="",
                                 do_not_label="", labels=labels("cat", "dog", "fox", "owl"))  # fmt: skip
    assert job.status == ImportStatus.DONE, job.message
    return {
        "slug": project.slug,
        "item_id": items[-1].pk,
        "job_id": job.pk,
        "number": 1,
        "user_id": others[0].pk,
        "items": Item.objects.filter(project=project).count(),
    }


def _fuzz(base_url: str, token: Token, world: dict[str, Any]) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/?format=json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        fixed = {name: world[name] for name in names if name in world}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
            @hypothesis_settings(
                max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )  # fmt: skip
            def run(case: schemathesis.Case) -> None:
                try:
                    case.call_and_validate(base_url=base_url, headers={"Authorization": f"Token {token.key}"}, checks=CHECKS, timeout=30)
                finally:  # DELETE /api/auth/token/ revokes it: the next case logs in with it again
                    Token.objects.get_or_create(user=token.user, defaults={"key": token.key})

            try:
                run()
            except Unsatisfiable:  # nothing left to make invalid once the path parameters are fixed
                assert mode == GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as error:  # every operation is tried; all failures are reported
                failures.append(f"{operation.label} ({mode.value}):\n{error}\n")
    return failures


@pytest.mark.parametrize("role", ["annotator", "admin"])
def test_every_operation_answers_as_documented(team, live_server, role):
    world = _world(team)
    token = Token.objects.create(user=team.user(role))
    failures = _fuzz(live_server.url, token, world)
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n".join(failures)
