"""Build hook for the cffi (API mode) wire codec; everything else lives in pyproject.toml."""

from setuptools import setup

setup(cffi_modules=["src/twinbeat/wire/_build.py:ffibuilder"])
