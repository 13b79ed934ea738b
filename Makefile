# Two commands for a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The stack checks' tools (tests/stack looks for them at these paths): SAM CLI and uv in a venv of their
# own, a stand-in for the Lambda runtime's boto3, and the npm asl-validator. `make run` needs none of them.
TOOLS_VENV    := .venv-tools
TOOLS_STAMP   := $(TOOLS_VENV)/.installed
RUNTIME_STAMP := $(TOOLS_VENV)/lambda-runtime/.installed
ASL_DIR       := tools/asl-validator
ASL_STAMP     := $(ASL_DIR)/node_modules/.installed

.PHONY: install tools lock-layer run serve test lint bench bench-peers clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

$(TOOLS_STAMP): tools/requirements.txt
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS_VENV)/bin/python -m pip install --quiet -r tools/requirements.txt
	@touch $@

$(RUNTIME_STAMP): tools/lambda-runtime.txt $(TOOLS_STAMP)
	rm -rf $(TOOLS_VENV)/lambda-runtime
	$(TOOLS_VENV)/bin/python -m pip install --quiet --no-warn-conflicts --target $(TOOLS_VENV)/lambda-runtime -r tools/lambda-runtime.txt
	@touch $@

$(ASL_STAMP): $(ASL_DIR)/package.json $(ASL_DIR)/package-lock.json
	cd $(ASL_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

tools: $(TOOLS_STAMP) $(RUNTIME_STAMP) $(ASL_STAMP)

# Re-pins the CoreLayer's dependencies (layers/core/requirements.txt) after pyproject.toml changes.
lock-layer: $(TOOLS_STAMP)
	$(TOOLS_VENV)/bin/python tools/lock_layer.py

run: $(STAMP)
	$(BIN)/orchestrator run examples/quickstart/workflow.yaml --input '{"orders": [3, 8, 15, 4]}'
	@echo
	@echo "That was one workflow, run once. Next, in another terminal:"
	@echo "  $(BIN)/orchestrator plan examples/fan-out/workflow.yaml --mermaid"
	@echo "  $(BIN)/orchestrator run examples/flaky-retry/workflow.yaml"
	@echo "  $(BIN)/orchestrator asl run statemachines/examples/hello.asl.json --input '{\"name\": \"you\"}'"
	@echo "  ORCHESTRATOR_API_KEY=<the admin key below> $(BIN)/orchestrator deploy examples/fan-out/workflow.yaml --activate"
	@echo "  (then the API walk-through in README.md)"
	@echo "Now serving the API (workflows, triggers, executions, live events); the admin key is printed once."
	@echo
	$(BIN)/orchestrator serve

serve: $(STAMP)
	$(BIN)/orchestrator serve

test: $(STAMP) tools
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check layers functions tests benchmarks tools

bench: $(STAMP)
	$(BIN)/python benchmarks/planner.py
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/cli.py
	$(BIN)/python benchmarks/aws_costs.py
	-$(BIN)/python benchmarks/api.py  # prints FAIL while under its goal; informational

# Prefect 3 and Dagster in a venv of their own (.venv-peers), then the same DAG on all three
bench-peers: $(STAMP)
	PYTHON=$(PYTHON) bash benchmarks/peers/install.sh
	$(BIN)/python benchmarks/peers.py

clean:
	rm -rf $(VENV) $(TOOLS_VENV) .venv-peers $(ASL_DIR)/node_modules .pytest_cache .ruff_cache
