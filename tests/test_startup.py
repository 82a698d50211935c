"""Start-up stays light: ``import sim`` and the CLI's help load no heavy dependency.

(Times are measured by benchmarks/bench_startup.py, not asserted here.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import sim

from .conftest import ROOT

HEAVY = ("mesa", "numba", "pandas", "scipy", "SALib", "numpy", "pydantic", "pyarrow")


def loaded_after(code: str) -> set[str]:
    """The heavy modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, check=False)
    modules = set(json.loads(out.stdout.strip().splitlines()[-1]))
    return {name for name in HEAVY if name in modules}


def test_import_sim_loads_no_heavy_module():
    assert loaded_after("import sim") == set()


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["sweep", "--help"],
                                  ["lesson", "--help"], ["validate", "--help"]])
def test_help_loads_no_heavy_module(argv):
    code = ("import contextlib, io, sim.cli.main as m\n"
            f"with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):"
            f" m.main({argv!r})")
    assert loaded_after(code) == set()


def test_a_named_command_registers_only_its_own_module():
    code = ("import contextlib, io, sys, sim.cli.main as m\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):"
            " m.main(['run', '--help'])\n"
            "import json; print(json.dumps(sorted(k for k in sys.modules if k.startswith("
            "('sim.cli.', 'importlib.metadata')))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "sim.cli.single" in loaded
    assert not loaded & {f"sim.cli.{name}" for name in ("sweep", "compare", "dashboard")}
    assert "importlib.metadata" not in loaded  # the version is looked up only for --version


@pytest.mark.parametrize("as_program", [True, False])
def test_run_as_the_program_ends_without_the_interpreter_teardown(tmp_path, as_program):
    argv = ["run", "designs/usual_care", "--set", "population.size=30", "--set", "run.days=3",
            "--out", str(tmp_path)]
    call = "sys.argv = ['peersupport', *ARGV]; m.main()" if as_program else "m.main(ARGV)"
    code = (f"import atexit, sys, sim.cli.main as m\nARGV = {argv!r}\n"
            f"atexit.register(print, 'teardown ran')\n{call}\nprint('returned')")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "usual_care - 30 patients, 3 days" in done.stdout  # flushed before the exit
    assert ("teardown ran" in done.stdout) is (not as_program)  # in-process callers return
    assert ("returned" in done.stdout) is (not as_program)
    assert json.loads((tmp_path / "summary.json").read_text())["days"] == 3.0
    import pandas as pd

    assert len(pd.read_parquet(tmp_path / "timeseries.parquet")) > 0


def test_a_run_saved_to_files_loads_neither_mesa_nor_pandas(tmp_path):
    """``peersupport run`` drives ``Simulation`` (no Mesa) and writes its tables with Arrow
    (no pandas): both imports were two fifths of its start-up (benchmarks/results.md)."""
    code = ("import contextlib, io, sim.cli.main as m\n"
            "with contextlib.redirect_stdout(io.StringIO()):"
            f" m.main(['run', 'designs/hybrid_kickoff', '--set', 'population.size=40', '--set',"
            f" 'run.days=5', '--no-progress', '--out', {str(tmp_path)!r}])")
    loaded = loaded_after(code)
    assert {"numba", "numpy", "pyarrow"} <= loaded, "the probe must have run the model"
    assert not loaded & {"mesa", "pandas"}
    assert (tmp_path / "lifetime.parquet").is_file()


def test_public_names_resolve_lazily():
    for name in sim.__all__:
        assert getattr(sim, name).__name__ == name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sim.nope  # noqa: B018
    assert set(sim.__all__) <= set(dir(sim))


def test_bare_command_prints_help_and_version_prints_version():
    bare = subprocess.run([sys.executable, "-m", "sim.cli.main"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert bare.returncode == 2
    assert "usage: peersupport" in bare.stderr and "COMMAND" in bare.stderr
    assert "error" not in bare.stderr
    version = subprocess.run([sys.executable, "-m", "sim.cli.main", "--version"], cwd=ROOT,
                             capture_output=True, text=True, check=True)
    assert version.stdout.startswith("peersupport ")


def test_lazy_choices_still_reject_a_bad_value():
    bad = subprocess.run([sys.executable, "-m", "sim.cli.main", "sweep", "x.yaml",
                          "--executor", "nope"], cwd=ROOT, capture_output=True, text=True,
                         check=False)
    assert bad.returncode == 2
    assert "invalid choice: 'nope'" in bad.stderr and "'serial'" in bad.stderr


@pytest.mark.parametrize("preset", [None, "some_plugin"])
def test_the_program_runs_no_third_party_pydantic_plugin_unless_asked(preset):
    """As the program, validation runs without the environment's pydantic plugins (and skips
    pydantic's scan of every installed distribution); a variable the user set is kept."""
    code = ("import contextlib, io, os, sys, sim.cli.main as m\n"
            "sys.argv = ['peersupport', 'schema']\n"
            "with contextlib.redirect_stdout(io.StringIO()): m.main()\n"
            "import pydantic.plugin._loader as loader\n"
            "print(os.environ.get('PYDANTIC_DISABLE_PLUGINS'), loader._plugins is None)")
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if preset:
        env["PYDANTIC_DISABLE_PLUGINS"] = preset
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, env=env)
    value, never_scanned = out.stdout.split()
    assert value == (preset or "__all__")
    assert never_scanned == str(preset is None), "pydantic scanned for plugins"


def test_the_program_collects_young_objects_less_often_and_a_library_caller_keeps_its_own():
    """As the program, start-up's long-lived objects do not trigger hundreds of collections
    (``GC_YOUNG_THRESHOLD``); called with arguments (as a library), Python's thresholds stay."""
    code = ("import contextlib, gc, io, sys, sim.cli.main as m\n"
            "before = gc.get_threshold()\n"
            "with contextlib.redirect_stdout(io.StringIO()): m.main(['schema'])\n"
            "print(gc.get_threshold() == before)\n"
            "sys.argv = ['peersupport', 'schema']\n"
            "with contextlib.redirect_stdout(io.StringIO()): m.main()\n"
            "print(gc.get_threshold() == (m.GC_YOUNG_THRESHOLD, *before[1:]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["True", "True"]
