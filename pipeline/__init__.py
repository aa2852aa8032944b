"""natostance: stance, speaker-bloc and claim-type classification of news sentences."""

import os
from importlib.metadata import PackageNotFoundError, version

# Hugging Face `datasets` draws a progress bar for every small table it reads or writes; the
# stages print one line of their own instead.
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

try:
    __version__ = version("natostance")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
