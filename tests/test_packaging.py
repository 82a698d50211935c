"""Ready files by name (sim.params.catalogue) and the wheel working outside the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from sim import ScenarioError, load_scenario
from sim.params import catalogue

from .conftest import ROOT


def test_names_resolve_to_the_checkout_files():
    assert catalogue.data_root() == ROOT
    expected = ROOT / "scenarios" / "designs" / "hybrid_kickoff.yaml"
    for ref in ("designs/hybrid_kickoff", "designs/hybrid_kickoff.yaml",
                "scenarios/designs/hybrid_kickoff.yaml"):
        assert catalogue.resolve(ref).resolve() == expected
    assert catalogue.resolve("kickoff_rapport", "scenarios/classroom").name == \
        "kickoff_rapport.yaml"
    assert catalogue.resolve("centola2010", "experiments/validation").parent.name == "validation"
    assert "designs/hybrid_kickoff" in catalogue.names()
    assert load_scenario("designs/usual_care").program.name == \
        load_scenario(ROOT / "scenarios/designs/usual_care.yaml").program.name


def test_an_existing_path_wins_over_a_name(tmp_path, monkeypatch):
    (tmp_path / "designs").mkdir()
    own = tmp_path / "designs" / "hybrid_kickoff.yaml"
    own.write_text("name: mine\n")
    monkeypatch.chdir(tmp_path)
    assert catalogue.resolve("designs/hybrid_kickoff.yaml") == Path("designs/hybrid_kickoff.yaml")
    assert load_scenario("designs/hybrid_kickoff.yaml").name == "mine"


def test_unknown_name_suggests_close_names():
    with pytest.raises(ScenarioError, match=r"file not found: designs/hybrid_kickof .*did you "
                                            r"mean designs/hybrid_kickoff"):
        load_scenario("designs/hybrid_kickof")


def _copy_sources(dest: Path) -> Path:
    """The checkout's tracked and new files (no .git: the fallback version is used)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.mark.slow
def test_wheel_works_outside_the_checkout(tmp_path):
    pytest.importorskip("setuptools_scm")
    src = _copy_sources(tmp_path / "src")
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
                    "--no-build-isolation", "-w", str(wheels), "-q"], check=True)
    (wheel,) = wheels.glob("peersupport-*.whl")
    # A fresh venv from the base interpreter; the dependencies come from this environment's
    # site-packages through a .pth path (no network, and not this checkout's editable install).
    venv = tmp_path / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", str(venv)], check=True)
    site = Path(subprocess.run([venv / "bin" / "python", "-c",
                                "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "--no-index",
                    "-q", str(wheel)], check=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
           "NUMBA_CACHE_DIR": str(tmp_path / "numba")}

    def peersupport(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([venv / "bin" / "peersupport", *args], cwd=outside, env=env,
                              capture_output=True, text=True, timeout=600, check=False)

    where = subprocess.run([venv / "bin" / "python", "-c", "import sim; print(sim.__file__)"],
                           cwd=outside, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(site)), where.stdout
    out = {}
    for args in (["run", "designs/hybrid_kickoff", "--set", "population.size=200",
                  "--set", "run.days=30"],
                 ["lesson", "kickoff_rapport", "--replications", "2"],
                 ["lesson"],
                 ["validate", "--check"],
                 ["--version"]):
        proc = peersupport(*args)
        assert proc.returncode == 0, (args, proc.stderr[-2000:])
        out[args[0]] = proc.stdout
    assert "QALYs per patient" in out["run"]
    assert "peersupport lesson kickoff_rapport" in out["lesson"]
    assert "sim/_data/experiments/validation/centola2010.yaml" in out["validate"]
    assert out["--version"].startswith("peersupport ")
