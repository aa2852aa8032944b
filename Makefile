# `make demo`: set up, retrain with DVC, predict on a seed document.  `make test`: set up, run tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEMO_DOC ?= seeds/004_1a28b8d5617e04ee.txt
# dvc.yaml's stages run `python`: the project's interpreter must come first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: demo test bench clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,encoder,parser,spark]"
	touch $@

demo: $(INSTALLED)
	$(BIN)/dvc repro
	$(BIN)/stance predict $(DEMO_DOC) -o data/demo-predictions.csv
	$(BIN)/python -c "import pandas as pd; t = pd.read_csv('data/demo-predictions.csv'); t['text'] = t['text'].str.slice(0, 70).str.ljust(70); print(t[['index', 'text', 'stance', 'stance_p', 'bloc', 'bloc_p', 'claim', 'claim_p']].round(2).to_string(index=False))"
	@echo "(a seed article: these sentences were in the training data; see README for held-out figures)"

test: $(INSTALLED)
	$(BIN)/python -m pytest

bench: $(INSTALLED)  # about an hour: the benchmarks read the data and models of `dvc repro`
	$(BIN)/dvc repro
	$(BIN)/python bench/train_time.py --scales 1 20 100
	$(BIN)/python bench/predict_throughput.py --rows 20000 --distinct
	$(BIN)/python bench/predict_throughput.py --rows 100000 --distinct --models models/fast
	$(BIN)/python bench/speaker_attribution.py
	$(BIN)/python bench/spark_predict.py --rows 200000 --models models/fast

clean:
	rm -rf $(VENV) data mlruns mlartifacts mlflow.db
