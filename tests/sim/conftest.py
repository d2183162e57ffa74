"""The ``virtual_time`` marker and its loop-factory hook live in ``tests/conftest.py``."""
