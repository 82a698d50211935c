"""Build hook: copy the ready files into the wheel as package data (``sim/_data``).

The top-level ``scenarios/`` and ``experiments/`` folders stay where they are; a built
wheel carries copies so ``sim.params.catalogue`` finds them by name outside a checkout.
Editable installs copy nothing: names resolve to the checkout's folders.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = (
    "scenarios/**/*.yaml",
    "experiments/validation/**/*.yaml",
    "experiments/validation/**/*.csv",
    "experiments/calibration/*.yaml",
    "experiments/calibration/*/near_best.csv",
)
"""The ready scenarios, lessons, validation studies with their data, calibration files
and the near-best sets a compare file's ``psa_empirical`` may draw from (not the other
outputs kept beside them in ``experiments/``)."""


class BuildWithData(build_py):
    """``build_py`` that also copies ``SHIPPED`` into ``sim/_data``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        here = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "sim" / "_data"
        for pattern in SHIPPED:
            for src in sorted(here.glob(pattern)):
                dest = target / src.relative_to(here)
                self.mkpath(str(dest.parent))
                self.copy_file(str(src), str(dest))


setup(cmdclass={"build_py": BuildWithData})
