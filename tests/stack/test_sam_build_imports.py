"""`sam build`, then every function's handler imports the way Lambda would import it.

Each import runs in a fresh CPython 3.12 whose sys.path is what Lambda gives it: the function's code, the
layer's python/ (/opt/python) and, last, the runtime's own boto3 (a stand-in: tools/lambda-runtime.txt),
with no site-packages. A dependency missing from layers/core/requirements.txt, a package at the wrong
depth of the layer, or a layer that bundles the runtime's SDK fails here instead of in the cloud.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from stack_tools import host_architecture, load_template

#: provided by the Lambda runtime; a layer copy would shadow it
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath")
#: ELF e_machine of each Lambda architecture
ELF_MACHINE = {"x86_64": 0x3E, "arm64": 0xB7}
FUNCTIONS = sorted(logical_id for logical_id, resource in load_template()["Resources"].items()
                   if resource["Type"] == "AWS::Serverless::Function")

IMPORT_HANDLER = """
import importlib, json, sys
function_dir, layer_dir, runtime_dir, module, attribute = sys.argv[1:]
sys.path[:0] = [function_dir, layer_dir]
sys.path.append(runtime_dir)
handler = getattr(importlib.import_module(module), attribute, None)
import boto3, botocore, orchestrator
print(json.dumps({"handler": callable(handler), "boto3": boto3.__file__, "botocore": botocore.__file__,
                  "orchestrator": orchestrator.__file__}))
"""


def _built_template(build_dir: Path) -> dict[str, Any]:
    return load_template(build_dir / "template.yaml")


def _layers_by_architecture(build_dir: Path) -> dict[str, Path]:
    """architecture -> the built layer's python/ directory (there is one layer per architecture)."""
    layers: dict[str, Path] = {}
    for resource in _built_template(build_dir)["Resources"].values():
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            [architecture] = resource["Properties"]["CompatibleArchitectures"]
            layers[architecture] = build_dir / resource["Properties"]["ContentUri"] / "python"
    return layers


def _environment(logical_id: str) -> dict[str, str]:
    """The literal variables template.yaml gives the function (ARNs and the like are left unset)."""
    template = load_template()
    variables = {**template["Globals"]["Function"]["Environment"]["Variables"],
                 **template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})}
    literal = {name: value for name, value in variables.items() if isinstance(value, str)}
    # what the Lambda service sets; no credentials are needed to import
    return {**literal, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_LAMBDA_FUNCTION_NAME": logical_id, "PATH": "/usr/bin:/bin"}


@pytest.mark.slow
@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_the_handler_imports_from_the_function_and_the_layer_alone(
    logical_id: str, sam_build: Path, python312: Path, lambda_runtime_site: Path,
) -> None:
    layer = _layers_by_architecture(sam_build)[host_architecture()]
    properties = _built_template(sam_build)["Resources"][logical_id]["Properties"]
    module, attribute = properties["Handler"].rsplit(".", 1)
    function_dir = sam_build / properties["CodeUri"]
    # -I: no user site, no PYTHON* variables; -S: no site-packages; sys.path is the stdlib plus the above
    result = subprocess.run(
        [str(python312), "-I", "-S", "-c", IMPORT_HANDLER, str(function_dir), str(layer), str(lambda_runtime_site),
         module, attribute],
        capture_output=True, text=True, timeout=120, env=_environment(logical_id), cwd=function_dir)
    traceback_tail = "\n".join(result.stderr.splitlines()[-25:])
    assert result.returncode == 0, f"{logical_id}: importing {properties['Handler']} failed:\n{traceback_tail}"
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["handler"], f"{logical_id}: {module}.py has no callable {attribute}"
    assert Path(found["orchestrator"]).parent.parent == layer, f"orchestrator came from {found['orchestrator']}"
    for sdk in ("boto3", "botocore"):
        assert Path(found[sdk]).is_relative_to(lambda_runtime_site), f"{sdk} came from {found[sdk]}, not the runtime"


@pytest.mark.slow
def test_the_layer_holds_the_core_package_at_its_top_and_no_runtime_sdk(sam_build: Path) -> None:
    layers = _layers_by_architecture(sam_build)
    assert set(layers) == set(ELF_MACHINE), f"one layer per architecture, found {sorted(layers)}"
    for architecture, layer in layers.items():
        # /opt/python/orchestrator, not /opt/python/python/orchestrator (where Lambda cannot import it)
        assert (layer / "orchestrator" / "__init__.py").is_file(), f"{architecture}: {sorted(p.name for p in layer.iterdir())}"
        bundled = sorted(path.name for path in layer.iterdir()
                         if path.name.split("-")[0].lower() in RUNTIME_PROVIDED)
        assert not bundled, f"{architecture} layer bundles what the Lambda runtime provides: {bundled}"


@pytest.mark.slow
def test_each_layer_holds_native_code_for_its_own_architecture(sam_build: Path) -> None:
    for architecture, layer in _layers_by_architecture(sam_build).items():
        libraries = sorted(layer.rglob("*.so*"))
        assert libraries, f"{architecture}: no compiled extension at all (pydantic-core has one)"
        wrong = [str(path.relative_to(layer)) for path in libraries
                 if int.from_bytes(path.read_bytes()[18:20], "little") != ELF_MACHINE[architecture]]
        assert not wrong, f"{architecture} layer holds libraries for another machine: {wrong[:5]}"

