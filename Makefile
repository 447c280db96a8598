# Two entry points (README): `make demo` (toy data → train → test → WAR/UAR) and `make test`.
# Both create/refresh the project-local virtualenv .venv/ first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TOY_DATA := data/toy_dfew
# not work_dirs/est_r18_toy: `mim train` and tools/train.py put that config's runs there by default
TOY_WORK := work_dirs/make_demo

PIP := $(PY) -m pip install -q --disable-pip-version-check
# The pinned versions (also what restores them when something else changed them).
INSTALL_PINS := $(PIP) --prefer-binary -r requirements.txt -r requirements-test.txt && \
	$(PIP) --no-deps -r requirements-nodeps.txt

.PHONY: install check-env demo test clean-venv

$(STAMP): requirements.txt requirements-nodeps.txt requirements-test.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(INSTALL_PINS)
	$(PIP) --no-deps --no-build-isolation -e .
	touch $@

install: $(STAMP)

# .venv still has the pinned versions? (`pip install openmim`, for one, downgrades several.)
# If not, reinstall the pins and check again. pip's output goes to RESTORE_LOG, shown only if the
# restore fails: pip exits 0 after a good restore but prints ERROR lines about the requirements
# of what else is installed (openmim's own pins).
RESTORE_LOG := $(VENV)/restore-pins.log
check-env: $(STAMP)
	@$(PY) tools/check_env.py || { echo 'restoring the pinned versions in $(VENV)' >&2; \
		{ $(INSTALL_PINS); } >$(RESTORE_LOG) 2>&1 || { cat $(RESTORE_LOG) >&2; \
			echo 'restoring the pinned versions failed: pip output above' >&2; exit 1; }; \
		$(PY) tools/check_env.py || { \
			echo 'pins still not met after the restore; pip output in $(RESTORE_LOG)' >&2; exit 1; }; }

# Generates the toy set once, trains (resuming a finished or interrupted run instead of
# overwriting it), then tests the last checkpoint and prints WAR/UAR. torch's thread count (by
# default the number of cores) is fixed here, so one machine gives the same figure every time;
# another CPU model can still give another (the kernels oneDNN picks depend on the CPU).
# PASSIVE: waiting OpenMP threads sleep, not spin (other jobs on the cores: 2-3x faster steps).
DEMO_THREADS := OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE
demo: check-env
	test -f $(TOY_DATA)/toy_dataset.json || $(PY) tools/data/make_toy_dataset.py $(TOY_DATA)
	$(DEMO_THREADS) $(PY) tools/train.py configs/est_r18_toy.py --work-dir $(TOY_WORK) --resume
	$(DEMO_THREADS) $(PY) tools/test.py configs/est_r18_toy.py \
		"$$(cat $(TOY_WORK)/last_checkpoint)" --work-dir $(TOY_WORK)

test: check-env
	$(PY) -m pytest tests

clean-venv:
	rm -rf $(VENV)
