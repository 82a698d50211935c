"""Scenario files: validation errors name file, line, key path; extends; overrides."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim import ScenarioError, load_scenario
from sim.params.scenario import json_schema, parse_set

from .conftest import DESIGNS, ROOT, write


def error_of(path: Path, **kw) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, **kw)
    return info.value


def test_every_design_file_validates():
    files = sorted(DESIGNS.glob("*.yaml"))
    names = {load_scenario(f).program.name for f in files}
    assert names == {"usual_care", "dsmes_in_person", "im_peer_support", "hybrid_kickoff",
                     "hybrid_monthly", "dsmes_plus_im", "dsmes_then_im", "buddy_calls"}
    assert all(load_scenario(f).program.name == f.stem for f in files), "name = file name"


def test_matched_length_designs_end_where_they_say():
    """The 6-month versions close every channel by day 182; the 12-month ones run to 350."""
    six = ["matched/hybrid_kickoff_6m", "dsmes_plus_im"]
    twelve = ["matched/im_peer_support_12m", "matched/dsmes_plus_im_12m", "dsmes_then_im"]
    for name, last in [(n, 182) for n in six] + [(n, 350) for n in twelve]:
        program = load_scenario(DESIGNS / f"{name}.yaml").program
        ends = [program.im.end_day, program.education.end_day, program.in_person.end_day]
        assert max(ends) == last, f"{name}: channels end at {ends}"


def test_malformed_yaml_names_file_and_line(tmp_path):
    bad = write(tmp_path / "bad.yaml", "population:\n  size: 10\n  age_years: [1, 2\n")
    err = error_of(bad)
    assert err.file == str(bad) and err.line is not None
    assert "malformed YAML" in str(err)


def test_unknown_key_suggests_closest(tmp_path):
    bad = write(tmp_path / "typo.yaml", "population:\n  size: 10\nnetwork:\n  gruop_size: 9\n")
    err = error_of(bad)
    assert err.line == 4, str(err)
    assert err.path == "network.gruop_size"
    assert "did you mean 'group_size'" in str(err)


def test_wrong_type_names_path_and_value(tmp_path):
    bad = write(tmp_path / "type.yaml", "run:\n  days: many\n")
    err = error_of(bad)
    assert (err.path, err.line) == ("run.days", 2)
    assert "'many'" in str(err)


def test_out_of_range_states_bound(tmp_path):
    bad = write(tmp_path / "range.yaml", "program:\n  im:\n    posts_per_week: -2\n")
    err = error_of(bad)
    assert "program.im.posts_per_week must be >= 0, got -2" in str(err)
    assert err.line == 3


def test_missing_extends_file(tmp_path):
    bad = write(tmp_path / "child.yaml", "extends: nowhere.yaml\n")
    err = error_of(bad)
    assert "missing file" in str(err) and err.line == 1


def test_extends_cycle(tmp_path):
    write(tmp_path / "a.yaml", "extends: b.yaml\n")
    write(tmp_path / "b.yaml", "extends: a.yaml\n")
    err = error_of(tmp_path / "a.yaml")
    assert "cycle" in str(err)


def test_extends_merges_and_child_wins(tmp_path):
    write(tmp_path / "parent.yaml", "population:\n  size: 50\nrun:\n  days: 20\n")
    child = write(tmp_path / "child.yaml", "extends: parent.yaml\nrun:\n  days: 30\n")
    sc = load_scenario(child)
    assert (sc.population.size, sc.run.days) == (50, 30)


def test_error_in_parent_names_parent_file(tmp_path):
    parent = write(tmp_path / "parent.yaml", "population:\n  size: -5\n")
    child = write(tmp_path / "child.yaml", "extends: parent.yaml\n")
    err = error_of(child)
    assert err.file == str(parent) and err.line == 2


def test_edge_list_with_unknown_patient(tmp_path):
    write(tmp_path / "edges.csv", "source,target\n0,1\n2,99\n")
    bad = write(tmp_path / "el.yaml", "population:\n  size: 10\nnetwork:\n  background:\n"
                "    kind: edge_list\n    edge_list: edges.csv\n")
    err = error_of(bad)
    assert "unknown patient 99" in str(err) and err.line == 3
    assert err.file.endswith("edges.csv")


def test_overrides_by_dotted_path(tmp_path):
    sc = load_scenario(DESIGNS / "hybrid_kickoff.yaml",
                       parse_set(["population.size=123", "behaviour.contagion=complex"]))
    assert sc.population.size == 123 and sc.behaviour.contagion == "complex"
    with pytest.raises(ScenarioError, match="did you mean 'size'"):
        load_scenario(DESIGNS / "hybrid_kickoff.yaml", {"population.sise": 5})


def test_scenario_is_frozen():
    sc = load_scenario({})
    with pytest.raises(Exception, match="frozen"):
        sc.run.days = 3  # type: ignore[misc]


def test_json_schema_lists_sections():
    schema = json_schema()
    assert {"population", "network", "program", "run", "extends"} <= set(schema["properties"])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim.cli.main", *args], capture_output=True,
                          text=True, cwd=ROOT, check=False)


def test_cli_bad_input_exits_2_without_traceback(tmp_path):
    bad = write(tmp_path / "bad.yaml", "population:\n  sizee: 10\n")
    for cmd in (["check", str(bad)], ["run", str(bad)]):
        proc = _cli(*cmd)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert "did you mean 'size'" in proc.stderr and "line 2" in proc.stderr


def test_cli_check_and_schema():
    files = sorted(DESIGNS.rglob("*.yaml"))
    proc = _cli("check", *map(str, files))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("ok ") == len(files) >= 10
    schema = json.loads(_cli("schema").stdout)
    assert schema["title"] == "Scenario"
