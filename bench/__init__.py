"""Benchmarks (run as scripts: `.venv/bin/python bench/<name>.py`); a package only so that type checkers
tell bench/containers.py from the containers app."""
