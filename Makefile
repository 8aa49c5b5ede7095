# confide: the two commands that do everything on a fresh machine.
#
#   make demo   build a fictional setting's vault in ./demo-vault and show what
#               each key holder sees, and the audit trail
#   make test   lint (ruff), type-check (mypy), then run the test suite on
#               every core (pytest-xdist: -n auto)
#               (extra pytest arguments: make test PYTEST_ARGS="-k readme")
#   make docs   regenerate the README's command reference from --help (cog)
#
# Each creates .venv (python3 -m venv) and installs confide with its test
# dependencies into it when that has not been done yet (or pyproject.toml has
# changed since). Nothing is installed outside .venv.

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
STAMP  := $(VENV)/.confide-installed

.PHONY: test demo clean-demo docs

test: $(STAMP)
	$(VPY) -m ruff check vault_cli tests benchmarks scripts
	$(VPY) -m mypy
	$(VPY) -m pytest -q -n auto $(PYTEST_ARGS)

demo: $(STAMP)
	$(VPY) examples/demo.py

clean-demo:
	rm -rf demo-vault demo-keys

$(VPY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VPY)
	$(VPY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# The README's command reference, regenerated from --help (tests/test_readme.py checks it is current).
docs: $(STAMP)
	$(VPY) -m cogapp -r -I docs README.md
