"""The JSON Schema of workflow files, for editors (``orchestrator schema > workflow.schema.json``).

It describes the shape only; ``orchestrator validate`` also checks what a schema cannot (dependencies,
cycles, template references, executor configs, cron syntax).
"""

from __future__ import annotations

from typing import Any

from orchestrator.domain.workflow import WorkflowDefinition

SCHEMA_ID = "https://orchestrator.dev/schemas/workflow-1.json"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def workflow_json_schema() -> dict[str, Any]:
    """pydantic's JSON Schema of WorkflowDefinition (input mode: durations as text or seconds)."""
    schema = WorkflowDefinition.model_json_schema(mode="validation")
    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, **schema, "title": "Orchestrator workflow"}
