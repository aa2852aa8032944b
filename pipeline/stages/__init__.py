"""DVC stages: each module is one stage of dvc.yaml, run as `python -m pipeline.stages.NAME`."""
