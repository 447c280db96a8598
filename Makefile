# Two entry points (README): `make demo` (toy data → train → test → WAR/UAR) and `make test`.
# Both create/refresh the project-local virtualenv .venv/ first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TOY_DATA := data/toy_dfew
TOY_WORK := work_dirs/est_r18_toy

.PHONY: install demo test clean-venv

$(STAMP): requirements.txt requirements-nodeps.txt requirements-test.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --prefer-binary \
		-r requirements.txt -r requirements-test.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

install: $(STAMP)

# Generates the toy set once, trains (resuming a finished or interrupted run instead of
# overwriting it), then tests the last checkpoint and prints WAR/UAR.
demo: $(STAMP)
	test -f $(TOY_DATA)/toy_dataset.json || $(PY) tools/data/make_toy_dataset.py $(TOY_DATA)
	$(PY) tools/train.py configs/est_r18_toy.py --work-dir $(TOY_WORK) --resume
	$(PY) tools/test.py configs/est_r18_toy.py "$$(cat $(TOY_WORK)/last_checkpoint)" \
		--work-dir $(TOY_WORK)

test: $(STAMP)
	$(PY) -m pytest tests

clean-venv:
	rm -rf $(VENV)
