"""RunOptions: the one options object of every many-run analysis, validated on creation."""

from __future__ import annotations

import argparse
import sys

import pytest

from sim.cli.options import add_executor_arguments, add_output_arguments, run_options, show_progress
from sim.engine.options import RunOptions
from sim.params.errors import ScenarioError


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"executor": "threads"}, "executor must be one of serial, local, dask, got 'threads'"),
    ({"workers": 0}, "workers must be >= 1, got 0"),
    ({"chunk_size": 0}, "chunk_size must be >= 1, got 0"),
    ({"flush_every": -1}, "flush_every must be >= 1, got -1"),
    ({"flush_seconds": 0.0}, "flush_seconds must be > 0"),
    ({"scheduler": "tcp://h:8786"}, "a scheduler address needs the dask executor"),
])
def test_bad_options_are_refused_clearly(kwargs: dict, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        RunOptions(**kwargs)


def test_defaults_and_description() -> None:
    options = RunOptions()
    assert (options.executor, options.workers, options.resume, options.flush_every) == (
        "local", None, False, 200)
    assert options.where == "local (all workers)"
    assert RunOptions(executor="serial").where == "serial (this process)"
    assert RunOptions(executor="dask", scheduler="tcp://h:1").where == "dask (tcp://h:1)"


def test_cli_arguments_become_options() -> None:
    parser = argparse.ArgumentParser()
    add_executor_arguments(parser)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(["--workers", "3", "--scheduler", "tcp://h:1", "--no-progress"])
    options = run_options(args)
    assert options == RunOptions(executor="dask", workers=3, scheduler="tcp://h:1")
    assert not options.progress


def test_progress_bars_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    add_output_arguments(parser, progress=True)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert show_progress(parser.parse_args([]))
    assert not show_progress(parser.parse_args(["--no-progress"]))
    assert not show_progress(parser.parse_args(["--quiet"]))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert not show_progress(parser.parse_args([])), "redirected logs get no bars"
