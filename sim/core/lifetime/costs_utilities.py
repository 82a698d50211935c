"""Cost and utility sets of the lifetime stage, selectable by name.

Costs (GBP per patient) for each complication type: a fatal cost (the event happened in the
year the patient died), a non-fatal event-year cost and a later-year cost (every later year
alive with that history), plus an annual background cost of diabetes care without
complications. OM2-style tables vary by sex and age band (<=50, 51-60, 61-70, 71-80, >80,
on the integer age at the start of the year).

Rules (stated once, applied by :mod:`sim.core.lifetime.simulate`):

* In a year with an event of a type, that type's event-year cost applies and its later-year
  cost does not; a second MI, stroke or amputation costs the event-year cost again.
* If the patient dies in a year with an event that counts for mortality (MI, IHD, CHF,
  stroke, amputation, renal failure), the fatal cost replaces the non-fatal event-year cost
  for those types. Blindness and ulcer never count as fatal events (they are excluded from
  "event this year" in UKPDS 82; OM2 lists no fatal cost for them).
* Background and later-year costs accrue for the part of the year alive (1, or 0.5 in the
  year of death: half-cycle); event costs accrue in full.

Utilities: baseline utility plus decrements; each type has an event-year decrement and a
later-year decrement. How decrements combine is ``additive`` (sum of every condition's
decrement; OM2-style) or ``grouped_minimum`` (the largest decrement within each group CHD =
{MI, IHD, CHF}, stroke, neuropathy = {ulcer, amputation}, retinopathy = {blindness}, renal,
summed across groups; as in COMPAR-EU). Utility is floored at -0.594 (the lowest EQ-5D-3L UK
value).

References:
    Alva 2015 (UKPDS 84), Diabet Med 32:459; OM2 v2.1 default parameter sheet (LONGTERM
    appendix); Hayes 2016 (ADVANCE), Value Health 19:36; Beaudet 2014, Value Health 17:462.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from sim.core.lifetime.equations import EVENT_TYPES

AGE_BAND_STARTS: tuple[int, ...] = (51, 61, 71, 81)
"""First integer age of bands 2-5 (bands <=50, 51-60, 61-70, 71-80, >80; OM2 v2.1 sheet)."""

EQ5D_MIN = -0.594
"""Lowest EQ-5D-3L UK tariff value (floor of annual utility)."""

NA = np.nan
"""'Not applicable' in a fatal-cost cell (the event is never fatal): the event-year cost
applies instead."""

UTILITY_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "chd": ("mi", "ihd", "chf"), "stroke": ("stroke",), "neuropathy": ("ulcer", "amputation"),
    "retinopathy": ("blindness",), "renal": ("renal",),
})
"""Groups of the ``grouped_minimum`` rule (COMPAR-EU, LONGTERM 2.2)."""


@dataclass(frozen=True)
class CostSet:
    """Costs per event type, GBP.

    Arrays indexed [event (EVENT_TYPES order), sex (0 male, 1 female), age band (5)].
    """

    name: str
    currency: str
    price_year: int
    fatal_gbp: np.ndarray
    event_year_gbp: np.ndarray
    later_year_gbp: np.ndarray
    background_gbp_per_year: np.ndarray   # [sex, age band]
    source: str


@dataclass(frozen=True)
class UtilitySet:
    """Baseline EQ-5D utility and per-type decrements (EVENT_TYPES order)."""

    name: str
    baseline: float
    event_year_decrement: np.ndarray
    later_year_decrement: np.ndarray
    source: str


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    a.setflags(write=False)
    return a


def _om2_cells(rows: Mapping[str, tuple[tuple[float, float, float, float, float], ...]],
               column: int) -> np.ndarray:
    """Stack one column (0 fatal, 1 event year, 3 later year) of the OM2 sheet, [event, band]."""
    return np.array([[cell[column] for cell in rows[e]] for e in EVENT_TYPES], dtype=float)


# OM2 v2.1 "Model Parameters" sheet (LONGTERM appendix), 2012 GBP; each cell is
# (fatal, non-fatal event year, event-year decrement, later-year cost, later-year decrement)
# for age bands <=50, 51-60, 61-70, 71-80, >80. NA = "-" in the sheet (never fatal).
# The 51-60 male column equals UKPDS 84 inpatient + non-inpatient totals (Alva 2015).
_RENAL = ((0, 19190, -0.330, 19190, -0.330),) * 5   # probably non-UKPDS (LONGTERM 2.1 [?])
_ULCER = ((NA, 6599, -0.210, 1000, -0.210),) * 5    # probably non-UKPDS (LONGTERM 2.1 [?])
OM2_MALE = {
    "ihd": ((4153, 9583, 0, 1423, 0), (4629, 10631, 0, 1869, 0), (5093, 11543, 0, 2449, 0),
            (5546, 12332, 0, 3163, 0), (5988, 13021, 0, 3987, 0)),
    "mi": ((2062, 6775, -0.065, 1397, 0), (2484, 7339, -0.065, 1825, 0),
           (2908, 7863, -0.065, 2378, 0), (3332, 8358, -0.065, 3052, 0),
           (3754, 8831, -0.065, 3820, 0)),
    "chf": ((0, 3550, -0.101, 1935, -0.101), (0, 4170, -0.101, 2446, -0.101),
            (0, 4776, -0.101, 3091, -0.101), (0, 5356, -0.101, 3854, -0.101),
            (0, 5905, -0.101, 4698, -0.101)),
    "stroke": ((4629, 6614, -0.165, 1461, -0.165), (5045, 7840, -0.165, 1881, -0.165),
               (5460, 9006, -0.165, 2438, -0.165), (5875, 10064, -0.165, 3140, -0.165),
               (6291, 10997, -0.165, 3971, -0.165)),
    "amputation": ((0, 11480, -0.172, 2827, -0.172), (0, 12245, -0.172, 3403, -0.172),
                   (0, 12920, -0.172, 4091, -0.172), (0, 13523, -0.172, 4855, -0.172),
                   (0, 14071, -0.172, 5651, -0.172)),
    "blindness": ((NA, 2665, 0, 967, 0), (NA, 3145, 0, 1191, 0), (NA, 3753, 0, 1501, 0),
                  (NA, 4476, 0, 1913, 0), (NA, 5279, 0, 2428, 0)),
    "renal": _RENAL,
    "ulcer": _ULCER,
}
# Female cells copied verbatim, including the odd ones (MI <=50: 7464 / 12218; blindness
# >80: 1830), as LONGTERM notes.
OM2_FEMALE = {
    "ihd": ((4546, 10135, 0, 1710, 0), (4478, 11150, 0, 2200, 0), (5482, 12031, 0, 2829, 0),
            (5933, 12793, 0, 3590, 0), (6658, 17518, 0, 4448, 0)),
    "mi": ((7464, 12218, -0.065, 1682, 0), (2288, 7748, -0.065, 2153, 0),
           (3289, 8265, -0.065, 2752, 0), (3713, 8754, -0.065, 3468, 0),
           (2280, 11706, -0.065, 4266, 0)),
    "chf": ((0, 3959, -0.101, 2244, -0.101), (0, 4585, -0.101, 2804, -0.101),
            (0, 5192, -0.101, 3496, -0.101), (0, 5768, -0.101, 4298, -0.101),
            (0, 5222, -0.101, 5165, -0.101)),
    "stroke": ((5010, 7183, -0.165, 1737, -0.165), (4824, 8409, -0.165, 2203, -0.165),
               (5841, 9557, -0.165, 2810, -0.165), (6256, 10587, -0.165, 3562, -0.165),
               (7156, 11126, -0.165, 4434, -0.165)),
    "amputation": ((0, 11958, -0.172, 3166, -0.172), (0, 12699, -0.172, 3787, -0.172),
                   (0, 13354, -0.172, 4512, -0.172), (0, 13942, -0.172, 5301, -0.172),
                   (0, 17642, -0.172, 6108, -0.172)),
    "blindness": ((NA, 2966, 0, 1191, 0), (NA, 3492, 0, 1445, 0), (NA, 4146, 0, 1791, 0),
                  (NA, 4908, 0, 2243, 0), (NA, 1830, 0, 2798, 0)),
    "renal": _RENAL,
    "ulcer": _ULCER,
}
OM2_BACKGROUND_GBP = ((771, 991, 1297, 1708, 2236),      # male, annual cost no complications
                      (991, 1239, 1580, 2034, 2604))     # female

# Mount Hood 2020 challenge set (COMPAR-EU input/cost_inputs_MH2020.csv; "sourced from the
# MH2020 diabetes challenge", Alva 2015 based; probably 2018 GBP [?]); not age or sex specific.
# (fatal, event year, later year). Renal failure is not in that file: GBP 43,359 a year in
# the event year and after, from the microsim_tutorial README (same set plus ESRD).
MOUNT_HOOD_2020 = {
    "ihd": (6070, 14001, 3550), "mi": (3318, 9518, 3424), "chf": (0, 5650, 4277),
    "stroke": (6463, 10755, 3534), "amputation": (0, 15153, 5328),
    "blindness": (NA, 4247, 2206), "ulcer": (NA, 7076, 1072), "renal": (0, 43359, 43359),
}
MOUNT_HOOD_2020_BACKGROUND_GBP = 1990.0


def _om2_cost_set() -> CostSet:
    def both(column: int) -> np.ndarray:
        return np.stack([_om2_cells(OM2_MALE, column), _om2_cells(OM2_FEMALE, column)], axis=1)

    return CostSet(
        name="ukpds84", currency="GBP", price_year=2012, fatal_gbp=_readonly(both(0)),
        event_year_gbp=_readonly(both(1)), later_year_gbp=_readonly(both(3)),
        background_gbp_per_year=_readonly(np.array(OM2_BACKGROUND_GBP, dtype=float)),
        source="Alva 2015 (UKPDS 84) as the OM2 v2.1 default parameter sheet (LONGTERM "
               "appendix); renal failure and ulcer probably non-UKPDS",
    )


def _mount_hood_cost_set() -> CostSet:
    shape = (len(EVENT_TYPES), 2, 5)

    def cells(i: int) -> np.ndarray:
        col = np.array([MOUNT_HOOD_2020[e][i] for e in EVENT_TYPES], dtype=float)
        return np.broadcast_to(col[:, None, None], shape).copy()

    return CostSet(
        name="mount_hood_2020", currency="GBP", price_year=2018, fatal_gbp=_readonly(cells(0)),
        event_year_gbp=_readonly(cells(1)), later_year_gbp=_readonly(cells(2)),
        background_gbp_per_year=_readonly(np.full((2, 5), MOUNT_HOOD_2020_BACKGROUND_GBP)),
        source="Mount Hood 2020 challenge set via COMPAR-EU cost_inputs_MH2020.csv (price "
               "year 2018 [?]); renal failure from microsim_tutorial README",
    )


def _utility_set(name: str, baseline: float, event_year: Mapping[str, float],
                 later: Mapping[str, float], source: str) -> UtilitySet:
    return UtilitySet(
        name=name, baseline=baseline,
        event_year_decrement=_readonly(np.array([event_year[e] for e in EVENT_TYPES])),
        later_year_decrement=_readonly(np.array([later[e] for e in EVENT_TYPES])),
        source=source,
    )


_OM2_EVENT = {"mi": -0.065, "ihd": 0.0, "chf": -0.101, "stroke": -0.165, "blindness": 0.0,
              "ulcer": -0.210, "amputation": -0.172, "renal": -0.330}
_OM2_LATER = _OM2_EVENT | {"mi": 0.0}     # MI decrement in the event year only (OM2 sheet)
# ADVANCE fixed-effects EQ-5D-3L decrements (Hayes 2016 abstract), applied in the event year
# and after. IHD: not significant -> 0. Ulcer: not reported -> 0. Baseline not reported:
# the OM2 0.807 is borrowed (assumption). Not modelled: -0.006 per year since the event.
_ADVANCE = {"mi": -0.026, "ihd": 0.0, "chf": -0.045, "stroke": -0.099, "blindness": -0.083,
            "ulcer": 0.0, "amputation": -0.122, "renal": -0.049}
# Mount Hood challenge "standard" set (Beaudet 2014; COMPAR-EU qol_inputs_MH2020.csv),
# event year and after. The BMI decrement (-0.006 per unit) is not applied: BMI is held
# constant and equal across arms here.
_MOUNT_HOOD = {"mi": -0.055, "ihd": -0.090, "chf": -0.108, "stroke": -0.164,
               "blindness": -0.074, "ulcer": -0.170, "amputation": -0.280, "renal": -0.164}

COST_SETS: Mapping[str, CostSet] = MappingProxyType({
    "ukpds84": _om2_cost_set(), "mount_hood_2020": _mount_hood_cost_set()})
"""Cost sets by name (the schema field ``lifetime.cost_set``)."""

UTILITY_SETS: Mapping[str, UtilitySet] = MappingProxyType({
    "om2_default": _utility_set("om2_default", 0.807, _OM2_EVENT, _OM2_LATER,
                                "OM2 v2.1 default parameter sheet (LONGTERM appendix); "
                                "decrements probably Alva 2014 [?]"),
    "advance": _utility_set("advance", 0.807, _ADVANCE, _ADVANCE,
                            "Hayes 2016 (ADVANCE) decrements; baseline 0.807 from OM2"),
    "mount_hood": _utility_set("mount_hood", 0.785, _MOUNT_HOOD, _MOUNT_HOOD,
                               "Beaudet 2014 as grouped for the Mount Hood challenge"),
})
"""Utility sets by name (the schema field ``lifetime.utility_set``)."""


def cost_set(name: str) -> CostSet:
    """The cost set called ``name`` (see :data:`COST_SETS`); ValueError if unknown."""
    try:
        return COST_SETS[name]
    except KeyError:
        raise ValueError(f"unknown cost set '{name}'; choose from {', '.join(COST_SETS)}"
                         ) from None


def utility_set(name: str) -> UtilitySet:
    """The utility set called ``name`` (see :data:`UTILITY_SETS`); ValueError if unknown."""
    try:
        return UTILITY_SETS[name]
    except KeyError:
        raise ValueError(f"unknown utility set '{name}'; choose from {', '.join(UTILITY_SETS)}"
                         ) from None


def age_band(age_years: np.ndarray) -> np.ndarray:
    """OM2 age band index 0-4 (<=50, 51-60, 61-70, 71-80, >80) of the integer age.

    References: OM2 v2.1 default parameter sheet (LONGTERM appendix).
    """
    return np.searchsorted(AGE_BAND_STARTS, np.floor(age_years), side="right")


def annual_costs_gbp(
    costs: CostSet,
    *,
    female: np.ndarray,
    age_years: np.ndarray,
    events: np.ndarray,
    history: np.ndarray,
    died: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Undiscounted complication and background costs of one year, per patient (GBP).

    Args:
        costs: A :class:`CostSet`.
        female: Bool per patient.
        age_years: Age at the start of the year.
        events: Bool (n, len(EVENT_TYPES)), event of each type this year.
        history: Bool (n, len(EVENT_TYPES)), event of each type before this year.
        died: Bool per patient, died this year (half a year of background and later-year
            costs; fatal costs for fatal-capable events this year).

    Returns:
        (complication_gbp, background_gbp), each of shape (n,).

    References:
        Alva 2015 (UKPDS 84); OM2 v2.1 default sheet; rules in the module docstring.
    """
    cell = female.astype(np.intp) * 5 + age_band(age_years)
    n_types = len(EVENT_TYPES)
    fatal = costs.fatal_gbp.reshape(n_types, 10)[:, cell].T        # (n, types)
    nonfatal = costs.event_year_gbp.reshape(n_types, 10)[:, cell].T
    later = costs.later_year_gbp.reshape(n_types, 10)[:, cell].T
    alive_share = np.where(died, 0.5, 1.0)
    event_cost = np.where(died[:, None] & ~np.isnan(fatal), np.nan_to_num(fatal), nonfatal)
    complication = (np.where(events, event_cost, 0.0).sum(axis=1)
                    + np.where(history & ~events, later, 0.0).sum(axis=1) * alive_share)
    background = costs.background_gbp_per_year.reshape(10)[cell] * alive_share
    return complication, background


def annual_utility(utilities: UtilitySet, *, events: np.ndarray, history: np.ndarray,
                   combination: str = "additive") -> np.ndarray:
    """EQ-5D utility of one year per patient: baseline plus decrements.

    Args:
        utilities: A :class:`UtilitySet`.
        events: Bool (n, types), event this year (event-year decrement).
        history: Bool (n, types), event before this year (later-year decrement unless an
            event of the same type happens this year).
        combination: ``additive`` or ``grouped_minimum`` (module docstring).

    Returns:
        Utility per patient, floored at -0.594.

    Raises:
        ValueError: On an unknown combination rule.

    References:
        OM2 v2.1 default sheet; Hayes 2016 (ADVANCE); Beaudet 2014.
    """
    dec = np.where(events, utilities.event_year_decrement,
                   np.where(history, utilities.later_year_decrement, 0.0))
    if combination == "additive":
        total = dec.sum(axis=1)
    elif combination == "grouped_minimum":
        index = {e: i for i, e in enumerate(EVENT_TYPES)}
        total = sum(dec[:, [index[e] for e in group]].min(axis=1)
                    for group in UTILITY_GROUPS.values())
    else:
        raise ValueError(f"unknown utility combination '{combination}'; "
                         "choose 'additive' or 'grouped_minimum'")
    return np.maximum(utilities.baseline + total, EQ5D_MIN)
