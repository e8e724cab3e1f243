# The two commands: `make demo` trains the demo GANs on embedded data, `make test` runs the tests.
# Both create the virtual environment .venv on first use (torch 2.13.0 CPU build, see constraints.txt).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install lint clean browser

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt torch   # first: the pinned CPU build
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/gankit train --preset ring8-ns
	$(BIN)/gankit train --preset classic-mlp-mnist --data.name=mnist-5k --name=classic-mlp-mnist5k --train.time_limit=120
	$(BIN)/gankit train --preset mnist-recommended --data.name=mnist-5k --name=mnist-recommended5k --train.time_limit=120
	@echo
	@echo "Done: each run directory named above holds samples.png or scatter.png, losses.png, stats.jsonl, checkpoint.pt"

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) runs

# Debian's Chromium, which the lab's browser test drives through Playwright (never a browser download).
# Idempotent; CI runs it as root (.ci/run), elsewhere it uses sudo when there is one.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
