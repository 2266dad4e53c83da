# Each target makes .venv (if missing), installs the project and what it needs, and runs.
# One venv holds the beam extra too: apache-beam 2.77 pins protobuf < 7, pillow < 13,
# pyarrow < 26, and TensorFlow 2.21, tensorflow-datasets 4.9.10 and the suite work with those.
# The backends extra (jax, torch 2.13.0 CPU: about 1.2 GB, a minute) is for the Keras
# backend tests (tests/test_keras_backends.py).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[cpu,test,beam,backends]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/eo-tfds demo

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadgroup tests

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
