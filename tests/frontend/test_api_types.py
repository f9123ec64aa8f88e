"""The dashboard's API types (frontend/src/api/schema.d.ts) are generated from the OpenAPI schema: this
fails when the API changed and they were not regenerated (`cd frontend && npm run api:types`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from tests.frontend.conftest import FRONTEND, unavailable

TYPES = FRONTEND / "src" / "api" / "schema.d.ts"


def test_generated_api_types_match_the_schema(tmp_path: Path) -> None:
    generator = FRONTEND / "node_modules" / ".bin" / "openapi-typescript"
    if shutil.which("node") is None:
        unavailable("Node.js is not installed: the API types cannot be regenerated to compare")
    if not generator.exists():
        unavailable("frontend/node_modules is missing: run `npm ci` in frontend/ (make test does)")
    schema = tmp_path / "openapi.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(schema))
    fresh = tmp_path / "schema.d.ts"
    subprocess.run(
        [str(generator), str(schema), "-o", str(fresh)],
        cwd=settings.BASE_DIR,
        check=True,
        capture_output=True,
    )
    assert fresh.read_text() == TYPES.read_text(), (
        "frontend/src/api/schema.d.ts is stale: the REST API changed. Regenerate it with "
        "`cd frontend && npm run api:types` (or `make api-types`) and fix what the type check then reports."
    )
