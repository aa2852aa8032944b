"""natostance: stance, speaker-bloc and claim-type classification of news sentences."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("natostance")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
