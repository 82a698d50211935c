"""Mappings between quality-of-life and distress instruments (SF-12, EQ-5D, PAID), stated once.

Trials report QoL and distress on different instruments; the model holds QoL as EQ-5D utility and
distress on the PAID scale (0-100). A published between-arm difference is compared with the
model's after :func:`map_change` has put it on the model's scale.
"""

from __future__ import annotations

from sim.params.errors import ScenarioError

INSTRUMENT_SD: dict[str, tuple[str, float]] = {
    "smd": ("any", 1.0),
    "eq5d": ("qol", 0.20),
    "sf12_pcs": ("qol", 10.0),
    "sf12_mcs": ("qol", 10.0),
    "paid": ("distress", 18.0),
}
"""Construct measured and the between-patient SD each instrument's changes are scaled by.

EQ-5D: 0.20, the model's baseline utility SD (EVIDENCE's 0.27 includes between-study spread)
[I]. SF-12 physical and mental component summaries: 10, their norm-based scoring (T-scores, mean
50, SD 10). PAID: 18, T2DM samples [M]. ``smd``: a standardised mean difference, on either
construct.
"""


def map_change(change: float, source: str, target: str) -> float:
    """A change (or between-arm difference) on ``source`` expressed on ``target``.

    Through the standardised mean difference: ``change / SD(source) x SD(target)``, the SDs of
    :data:`INSTRUMENT_SD`. Only within one construct (QoL: EQ-5D, SF-12 PCS/MCS; distress: PAID;
    an SMD maps to either), with the instruments' own directions (higher QoL is better, higher
    PAID is worse). A distress scale other than PAID (e.g. the DDS, 1-6) enters as its SMD.

    It is the SMD translation of docs/science_v2_design.md §5.5. Ara & Brazier 2008's
    SF-36/SF-12 to EQ-5D algorithm, which would map the eight dimension scores instead, is not
    transcribed (its coefficients were not read). EQ-5D responds less than disease-specific
    instruments, so an SMD from them translates to an upper-side EQ-5D change.

    Worked examples (tests/test_instruments.py): Cochran & Conn 2008's DSMES QoL SMD 0.28 is
    +0.056 EQ-5D; an SMD of -0.2 on the DDS is -3.6 PAID points; +1 point on the SF-12 mental
    component is +0.02 EQ-5D.

    Raises:
        ScenarioError: an unknown instrument, or a mapping across constructs (QoL to distress).
    """
    for name in (source, target):
        if name not in INSTRUMENT_SD:
            raise ScenarioError(f"unknown instrument {name!r}; expected one of "
                                f"{', '.join(INSTRUMENT_SD)}")
    (kind_from, sd_from), (kind_to, sd_to) = INSTRUMENT_SD[source], INSTRUMENT_SD[target]
    if "any" not in (kind_from, kind_to) and kind_from != kind_to:
        raise ScenarioError(f"{source} measures {kind_from} and {target} measures {kind_to}: "
                            "no mapping across constructs")
    return change / sd_from * sd_to
