"""Decision tools on a comparison's PSA sample: tornado, threshold, two-way, EVPPI, budget impact.

What TreeAge, heemod and dampack users expect, computed from the runs a comparison already
made (no reruns): each replication is one PSA draw, with the drawn parameters in the runs
table beside each design's cost and QALYs.

Method (a linear metamodel; Jalal 2013): the incremental net monetary benefit of a
design vs the comparator at threshold lambda, ``dNMB = lambda*dQALY - dCost``, is regressed
on the PSA parameters by ordinary least squares. One-way (tornado), two-way and threshold
analyses read the fitted line: a parameter at its low/high percentile with the others at
their mean. Simulation noise goes into the residual, so the slopes are averaged over it;
the metamodel's R^2 says how much of the spread the parameters explain.

EVPPI (Strong 2014) regresses each design's NMB on the parameter group
(here a full quadratic polynomial: linear, square and pairwise product terms) and takes
``E[max_d g_d(theta)] - max_d E[g_d(theta)]`` of the fitted values ``g_d``.

References:
    Jalal H, Dowd B, Sainfort F, Kuntz KM. Linear regression metamodeling as a tool to
    summarize and present simulation model results. Med Decis Making 2013;33:880-890.
    Strong M, Oakley JE, Brennan A. Estimating multiparameter partial expected value of
    perfect information from a probabilistic sensitivity analysis sample: a nonparametric
    regression approach. Med Decis Making 2014;34:311-326.
    Sullivan SD et al. Budget impact analysis - principles of good practice: report of
    the ISPOR Budget Impact Analysis Good Practice II Task Force. Value Health
    2014;17:5-14 (Sullivan 2014).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.core import economics as econ
from sim.params.errors import ScenarioError
from sim.uncertainty import NORMAL_95_Z

COST = "cost_per_patient_discounted"
QALYS = "qalys_per_patient"
BUDGET_COST = "cost_per_patient"
"""Budget impact counts undiscounted costs (ISPOR good practice)."""


@dataclass(frozen=True)
class Metamodel:
    """A linear regression ``y = intercept + sum_k slope_k * x_k`` fitted to a PSA sample.

    Attributes:
        parameters: names of the regressors, in order.
        intercept: fitted intercept.
        slopes: fitted slope per parameter (y units per parameter unit).
        means: sample mean of each parameter (the base case of one-way analyses).
        r_squared: share of the variance of y the parameters explain.
        slope_se: standard error of each slope (OLS), to tell an effect from the noise of
            a small PSA sample.
    """

    parameters: tuple[str, ...]
    intercept: float
    slopes: np.ndarray
    means: np.ndarray
    r_squared: float
    slope_se: np.ndarray

    def predict(self, values: pd.DataFrame | dict[str, float | np.ndarray]) -> np.ndarray:
        """Predicted y; parameters missing from ``values`` stay at their mean."""
        out = np.asarray(self.intercept, dtype=float)
        for name, slope, mean in zip(self.parameters, self.slopes, self.means, strict=True):
            x = np.asarray(values[name], dtype=float) if name in values else mean
            out = out + slope * x
        return out

    @property
    def base(self) -> float:
        """Prediction with every parameter at its mean."""
        return float(self.intercept + self.slopes @ self.means)

    def solve(self, parameter: str, target: float = 0.0) -> float:
        """Value of ``parameter`` (others at their mean) at which y equals ``target``.

        NaN when the slope is zero (y never reaches the target by this parameter).
        """
        k = self.parameters.index(parameter)
        if self.slopes[k] == 0:
            return float("nan")
        return float(self.means[k] + (target - self.base) / self.slopes[k])


def fit_metamodel(X: pd.DataFrame, y: np.ndarray | pd.Series) -> Metamodel:
    """Ordinary least squares of ``y`` on the columns of ``X`` (with an intercept).

    Raises:
        ScenarioError: fewer draws than parameters + 2, or a parameter that never varies.
    """
    x = X.to_numpy(dtype=float)
    yv = np.asarray(y, dtype=float)
    n, k = x.shape
    if n < k + 2:
        raise ScenarioError(f"the metamodel needs more PSA draws than parameters + 1; got "
                            f"{n} draws for {k} parameters: raise replications")
    constant = [c for c, s in zip(X.columns, x.std(axis=0), strict=True) if s == 0]
    if constant:
        raise ScenarioError(f"PSA parameter(s) {', '.join(constant)} never vary in the "
                            "runs; the metamodel cannot estimate their effect")
    design = np.column_stack([np.ones(n), x])
    coef, *_ = np.linalg.lstsq(design, yv, rcond=None)
    resid = yv - design @ coef
    total = float(((yv - yv.mean()) ** 2).sum())
    r2 = 1.0 - float(resid @ resid) / total if total > 0 else 1.0
    sigma2 = float(resid @ resid) / (n - k - 1)
    se = np.sqrt(np.clip(np.diag(np.linalg.pinv(design.T @ design)) * sigma2, 0.0, None))
    return Metamodel(tuple(X.columns), float(coef[0]), coef[1:], x.mean(axis=0), r2, se[1:])


# --------------------------------------------------------------------------- PSA sample


def psa_sample(runs: pd.DataFrame, parameters: Sequence[str], designs: Sequence[str],
               column: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parameters and one outcome per replication from a compare runs table.

    Returns:
        ``(X, Y)``: X has one row per replication and one column per parameter; Y one
        column per design (``column``'s value), same index.
    """
    missing = [p for p in parameters if p not in runs.columns]
    if missing:
        raise ScenarioError(f"the runs table has no PSA column {', '.join(missing)}")
    wide = runs.pivot(index="replication", columns="design", values=column)
    X = runs.groupby("replication")[list(parameters)].first().astype(float)
    return X.loc[wide.index], wide[list(designs)].astype(float)


def incremental_nmb(runs: pd.DataFrame, design: str, comparator: str,
                    threshold: float, keys: tuple[str, str] = (COST, QALYS)) -> pd.Series:
    """Incremental NMB of ``design`` vs ``comparator`` per replication (per patient).

    From the cost and QALY columns ``keys`` (the comparison's horizon).
    """
    names = [design, comparator]
    cost = runs.pivot(index="replication", columns="design", values=keys[0])[names]
    qaly = runs.pivot(index="replication", columns="design", values=keys[1])[names]
    nmb = econ.net_monetary_benefit(cost.to_numpy(), qaly.to_numpy(), threshold)
    return pd.Series(nmb[:, 0] - nmb[:, 1], index=cost.index, name="incremental_nmb")


# --------------------------------------------------------------------------- one- and two-way


def tornado(model: Metamodel, X: pd.DataFrame, *, low: float = 0.025,
            high: float = 0.975) -> pd.DataFrame:
    """One-way sensitivity: y at each parameter's ``low``/``high`` percentile, others at mean.

    Returns:
        Rows sorted by swing (largest first): ``parameter, low_value, high_value, base,
        y_at_low, y_at_high, swing, slope, distinguishable``; ``distinguishable`` is False
        where the slope's 95% interval includes 0 (a bar the PSA sample cannot tell from
        noise: with many parameters and few draws, a parameter the design never uses can
        get a wide bar by chance).
    """
    rows = []
    for name, slope, se in zip(model.parameters, model.slopes, model.slope_se, strict=True):
        lo, hi = (float(v) for v in X[name].quantile([low, high]))
        y_lo, y_hi = float(model.predict({name: lo})), float(model.predict({name: hi}))
        rows.append({"parameter": name, "low_value": lo, "high_value": hi,
                     "base": model.base, "y_at_low": y_lo, "y_at_high": y_hi,
                     "swing": abs(y_hi - y_lo), "slope": float(slope),
                     "distinguishable": bool(abs(slope) > NORMAL_95_Z * se)})
    frame = pd.DataFrame(rows)
    return frame.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)


def two_way(model: Metamodel, X: pd.DataFrame, first: str, second: str, *, points: int = 11,
            low: float = 0.025, high: float = 0.975) -> pd.DataFrame:
    """The metamodel's prediction on a grid of two parameters (``low`` to ``high`` percentile).

    Returns:
        Long frame ``first, second, value`` (column names are the parameter names).
    """
    a = np.linspace(*X[first].quantile([low, high]), points)
    b = np.linspace(*X[second].quantile([low, high]), points)
    ga, gb = np.meshgrid(a, b, indexing="ij")
    values = model.predict({first: ga.ravel(), second: gb.ravel()})
    return pd.DataFrame({first: ga.ravel(), second: gb.ravel(), "value": values})


def thresholds(model: Metamodel, X: pd.DataFrame) -> pd.DataFrame:
    """Threshold analysis: the value of each parameter at which y crosses zero.

    With y the incremental NMB, that is where the design becomes (or stops being)
    cost-effective at the threshold. ``within_sample`` says whether the value lies inside
    the parameter's PSA range; ``direction`` whether the design is cost-effective above or
    below it.
    """
    rows = []
    for name, slope in zip(model.parameters, model.slopes, strict=True):
        value = model.solve(name)
        rows.append({"parameter": name, "threshold_value": value,
                     "within_sample": bool(X[name].min() <= value <= X[name].max()),
                     "direction": "" if slope == 0 else ("above" if slope > 0 else "below")})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- EVPPI


def _quadratic_basis(x: np.ndarray) -> np.ndarray:
    """Intercept, linear, square and pairwise product terms of the (standardised) columns."""
    z = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    cols = [np.ones(len(z)), *z.T, *(z**2).T]
    cols += [z[:, i] * z[:, j] for i, j in itertools.combinations(range(z.shape[1]), 2)]
    return np.column_stack(cols)


def evppi(nmb: np.ndarray, X: np.ndarray) -> float:
    """Per-patient EVPPI of a parameter group by quadratic regression (Strong 2014).

    Args:
        nmb: NMB per draw and design, shape (n_draws, n_designs).
        X: the group's parameter values per draw, shape (n_draws, n_params).

    Returns:
        ``E[max_d g_d] - max_d E[g_d]`` with ``g_d`` the fitted NMB of design d (>= 0).
    """
    nmb = np.asarray(nmb, dtype=float)
    x = np.asarray(X, dtype=float).reshape(len(nmb), -1)
    basis = _quadratic_basis(x)
    if len(nmb) <= basis.shape[1]:
        raise ScenarioError(f"EVPPI of {x.shape[1]} parameters needs more than "
                            f"{basis.shape[1]} PSA draws; got {len(nmb)}")
    coef, *_ = np.linalg.lstsq(basis, nmb - nmb[:, :1], rcond=None)  # relative to design 0
    fitted = basis @ coef
    return max(0.0, float(fitted.max(axis=1).mean() - fitted.mean(axis=0).max()))


def evppi_table(runs: pd.DataFrame, designs: Sequence[str], groups: dict[str, list[str]],
                thresholds_: Sequence[float], keys: tuple[str, str] = (COST, QALYS)
                ) -> pd.DataFrame:
    """EVPPI per parameter group and threshold, beside the EVPI (per patient).

    From the cost and QALY columns ``keys``.
    """
    params = sorted({p for g in groups.values() for p in g})
    X, cost = psa_sample(runs, params, designs, keys[0])
    _, qaly = psa_sample(runs, params, designs, keys[1])
    rows = []
    for t in thresholds_:
        nmb = econ.net_monetary_benefit(cost.to_numpy(), qaly.to_numpy(), t)
        total = max(0.0, float(nmb.max(axis=1).mean() - nmb.mean(axis=0).max()))
        for name, group in groups.items():
            try:
                value, note = evppi(nmb, X[group].to_numpy()), ""
            except ScenarioError as exc:
                value, note = float("nan"), exc.message
            rows.append({"threshold": float(t), "group": name, "parameters": ", ".join(group),
                         "evppi": value, "evpi": total, "note": note})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- budget impact


def check_budget(population: int, uptake: Sequence[float]) -> None:
    """Refuse a population below 1 or uptake shares outside [0, 1] (or none)."""
    if population < 1:
        raise ScenarioError(f"--population must be at least 1, got {population}")
    if not uptake or any(not 0 <= u <= 1 for u in uptake):
        raise ScenarioError(f"--uptake takes shares between 0 and 1, one per year, got "
                            f"{list(uptake)}")


def budget_impact(runs: pd.DataFrame, design: str, comparator: str, population: int,
                  uptake: Sequence[float]) -> pd.DataFrame:
    """Budget impact per year for ``population`` eligible people and a yearly uptake.

    In year y a share ``uptake[y]`` of the population starts ``design`` instead of the
    comparator; each starter costs the mean undiscounted per-patient cost difference over
    the comparison's horizon, counted in the year they start (Sullivan 2014: undiscounted,
    payer perspective).
    """
    check_budget(population, uptake)
    mean = runs.groupby("design")[BUDGET_COST].mean()
    c_design, c_comp = float(mean[design]), float(mean[comparator])
    starters = np.rint(np.asarray(uptake, dtype=float) * population).astype(int)
    impact = starters * (c_design - c_comp)
    return pd.DataFrame({
        "design": design, "comparator": comparator,
        "year": np.arange(1, len(starters) + 1), "uptake": list(uptake), "patients": starters,
        "cost_per_patient_design": c_design, "cost_per_patient_comparator": c_comp,
        "incremental_cost_per_patient": c_design - c_comp, "budget_impact": impact,
        "cumulative_budget_impact": np.cumsum(impact)})


# --------------------------------------------------------------------------- all together


@dataclass(frozen=True)
class DecisionResult:
    """Every decision table of a comparison (per patient, at the primary threshold).

    Attributes:
        threshold: the willingness-to-pay of the one-way, two-way and threshold tables.
        comparator: the design every increment is taken against.
        metamodel: per design, fit quality (``design, r_squared, base_incremental_nmb``).
        tornado: per design and parameter, incremental NMB at low/high percentiles.
        thresholds: per design and parameter, the value where incremental NMB crosses 0.
        two_way: incremental NMB of the top design over its two widest-swing parameters.
        evppi: per threshold and parameter group, EVPPI beside EVPI.
        budget_impact: per year (empty without a population).
    """

    threshold: float
    comparator: str
    metamodel: pd.DataFrame
    tornado: pd.DataFrame
    thresholds: pd.DataFrame
    two_way: pd.DataFrame
    evppi: pd.DataFrame
    budget_impact: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every non-empty table, by export name."""
        tables = {"decision_metamodel": self.metamodel, "tornado": self.tornado,
                  "threshold_analysis": self.thresholds, "two_way": self.two_way,
                  "evppi_groups": self.evppi, "budget_impact": self.budget_impact}
        return {name: frame for name, frame in tables.items() if not frame.empty}


def decide(runs: pd.DataFrame, designs: Sequence[str], comparator: str,
           parameters: Sequence[str], thresholds_: Sequence[float], *,
           groups: dict[str, list[str]] | None = None, population: int | None = None,
           uptake: Sequence[float] = (), budget_design: str | None = None,
           keys: tuple[str, str] = (COST, QALYS)) -> DecisionResult:
    """Decision tables of a compare runs table (see the module docstring for the method).

    Args:
        runs: the compare runs table (one row per replication and design, with the PSA
            parameter columns).
        designs: design names.
        comparator: one of them, the reference of the incremental NMB.
        parameters: the PSA parameters (columns of ``runs``).
        thresholds_: willingness-to-pay values; the first is the primary one.
        groups: EVPPI parameter groups (default: each parameter alone, and all together).
        population: eligible population of the budget impact (skipped when None).
        uptake: uptake share per year, for the budget impact.
        budget_design: the design the budget impact is for (default: the design with the
            highest incremental NMB).
        keys: the cost and QALY columns (the comparison's horizon: lifetime or programme).
    """
    params = list(parameters)
    if not params:
        raise ScenarioError("decision analysis needs PSA parameters (a psa: section)")
    t = float(thresholds_[0])
    others = [d for d in designs if d != comparator]
    X = runs.groupby("replication")[params].first().astype(float)
    fits, torn, thr = [], [], []
    models = {}
    for design in others:
        y = incremental_nmb(runs, design, comparator, t, keys)
        model = fit_metamodel(X.loc[y.index], y)
        models[design] = model
        fits.append({"design": design, "r_squared": model.r_squared,
                     "base_incremental_nmb": model.base})
        torn.append(tornado(model, X).assign(design=design))
        thr.append(thresholds(model, X).assign(design=design))
    metamodel = pd.DataFrame(fits)
    best = str(metamodel.loc[metamodel["base_incremental_nmb"].idxmax(), "design"])
    tornado_all = pd.concat(torn, ignore_index=True)
    top = tornado_all[tornado_all["design"] == best]["parameter"].head(2).tolist()
    grid = (two_way(models[best], X, *top).assign(design=best) if len(top) == 2
            else pd.DataFrame())
    if groups is None:
        groups = {p: [p] for p in params}
        if len(params) > 1:
            groups["all parameters"] = params
    budget = (budget_impact(runs, budget_design or best, comparator, population, uptake)
              if population is not None else pd.DataFrame())
    return DecisionResult(
        threshold=t, comparator=comparator, metamodel=metamodel,
        tornado=tornado_all, thresholds=pd.concat(thr, ignore_index=True), two_way=grid,
        evppi=evppi_table(runs, designs, groups, thresholds_, keys), budget_impact=budget)
