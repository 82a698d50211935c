"""Schema of the scenario section ``lifetime``: the lifetime-outcomes stage.

Frozen pydantic v2 models that reject unknown keys, in the style of the scenario tree: every
field carries its unit, default and source (``json_schema_extra``). This module imports only
pydantic and the standard library, so it can move with the scenario package.

The stage turns each patient's risk factors at the end of the agent-based stage, plus the
programme's HbA1c effect, into lifetime complications, deaths, costs and QALYs with the
published UKPDS 82 risk equations (Hayes 2013). See docs/lifetime.md.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

COST_SETS = ("ukpds84", "mount_hood_2020")
"""Names of the cost sets in ``sim.core.lifetime.costs_utilities``."""

UTILITY_SETS = ("om2_default", "advance", "mount_hood")
"""Names of the utility sets in ``sim.core.lifetime.costs_utilities``."""


def param(default: Any, unit: str, source: str, description: str, **constraints: Any) -> Any:
    """A documented field: default, unit and source ("Author Year", or "assumption")."""
    return Field(default, description=description,
                 json_schema_extra={"unit": unit, "source": source}, **constraints)


class LifetimeSection(BaseModel):
    """Base of every model here: unknown keys rejected, immutable, no nan or inf."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True,
                              allow_inf_nan=False)


class NormalDist(LifetimeSection):
    """A normal distribution clipped to [min, max] (clipping, not truncation)."""

    mean: float = Field(description="mean")
    sd: float = Field(ge=0, description="standard deviation")
    min: float = Field(description="lower clip (physically possible range)")
    max: float = Field(description="upper clip (physically possible range)")

    @model_validator(mode="after")
    def _ordered(self) -> NormalDist:
        if not self.min <= self.mean <= self.max:
            raise ValueError(f"need min <= mean <= max, got min={self.min:g}, "
                             f"mean={self.mean:g}, max={self.max:g}")
        return self


class LogNormalDist(LifetimeSection):
    """A log-normal distribution given by its arithmetic mean and SD, clipped to [min, max]."""

    mean: float = Field(gt=0, description="arithmetic mean")
    sd: float = Field(ge=0, description="arithmetic standard deviation")
    min: float = Field(ge=0, description="lower clip")
    max: float = Field(gt=0, description="upper clip")

    @model_validator(mode="after")
    def _ordered(self) -> LogNormalDist:
        if not self.min <= self.mean <= self.max:
            raise ValueError(f"need min <= mean <= max, got min={self.min:g}, "
                             f"mean={self.mean:g}, max={self.max:g}")
        return self


class EntryHistory(LifetimeSection):
    """Share of patients with each complication before the lifetime stage starts.

    Default none: the agent-based populations are drawn without complication histories, and
    LONGTERM.md section 4 found no UK joint prevalence table that fits them. Set these for a
    cohort with known histories (each drawn independently).
    """

    mi: float = param(0.0, "share", "assumption", "prior myocardial infarction", ge=0, le=1)
    ihd: float = param(0.0, "share", "assumption", "prior ischaemic heart disease", ge=0, le=1)
    chf: float = param(0.0, "share", "assumption", "prior congestive heart failure", ge=0, le=1)
    stroke: float = param(0.0, "share", "assumption", "prior stroke", ge=0, le=1)
    blindness: float = param(0.0, "share", "assumption", "prior blindness in one eye", ge=0,
                             le=1)
    ulcer: float = param(0.0, "share", "assumption", "prior diabetic foot ulcer", ge=0, le=1)
    amputation: float = param(0.0, "share", "assumption", "prior amputation", ge=0, le=1)
    renal: float = param(0.0, "share", "assumption", "prior renal failure (ESRD)", ge=0, le=1)


class RiskFactorPopulation(LifetimeSection):
    """Distributions of the risk factors the equations need, for a UK T2DM population.

    Age, sex, diabetes duration and HbA1c come from the agent-based model and are not drawn
    here. Every factor is drawn independently of the others and of age, sex and HbA1c:
    LONGTERM.md section 4 found no UK correlation matrix (an assumption; see docs/lifetime.md).
    """

    afro_caribbean_share: float = param(
        0.09, "share", "COMPAR-EU UK baseline vector (LONGTERM 4; source undocumented)",
        "Afro-Caribbean ethnicity (alternative: 0.021 Black, BMC Med 2021 table)", ge=0, le=1,
    )
    asian_indian_share: float = param(
        0.13, "share", "COMPAR-EU UK baseline vector (LONGTERM 4; source undocumented)",
        "Asian-Indian ethnicity (alternative: 0.057 Asian, BMC Med 2021 table)", ge=0, le=1,
    )
    smoker_share: float = param(
        0.146, "share", "COMPAR-EU UK vector; BMC Med 2021 UK cohort (both 14.6%)",
        "current smokers", ge=0, le=1,
    )
    sbp_mmhg: NormalDist = param(
        NormalDist(mean=134.0, sd=16.0, min=80.0, max=240.0), "mmHg",
        "THIN 2016 (Trials 17:402, Table 1)", "systolic blood pressure",
    )
    hdl_mmol_l: NormalDist = param(
        NormalDist(mean=1.19, sd=0.30, min=0.4, max=3.5), "mmol/L",
        "THIN 2016 median 1.19 [IQR 1.00-1.40]; SD = IQR/1.35 [I]", "HDL cholesterol",
    )
    ldl_mmol_l: NormalDist = param(
        NormalDist(mean=2.1, sd=0.8, min=0.5, max=7.0), "mmol/L",
        "THIN 2016 TC 4.1, HDL 1.19, Friedewald with assumed TG 1.7 [I]; SD assumption "
        "(UK Biobank 0.9)", "LDL cholesterol",
    )
    bmi_kg_m2: LogNormalDist = param(
        LogNormalDist(mean=31.5, sd=6.9, min=15.0, max=70.0), "kg/m2",
        "CPRD England, 2007-2018 (Zhang 2022)", "body-mass index (log-normal: right skew)",
    )
    egfr_ml_min: NormalDist = param(
        NormalDist(mean=70.0, sd=18.0, min=5.0, max=150.0), "mL/min/1.73m2 (MDRD)",
        "COMPAR-EU UK vector (mean); SD assumption", "estimated glomerular filtration rate",
    )
    heart_rate_bpm: NormalDist = param(
        NormalDist(mean=79.0, sd=12.0, min=40.0, max=140.0), "beats/min",
        "COMPAR-EU UK vector (mean); SD assumption", "resting heart rate",
    )
    wbc_1e9_l: NormalDist = param(
        NormalDist(mean=6.6, sd=1.8, min=2.0, max=20.0), "10^9 cells/L",
        "COMPAR-EU UK vector (mean); SD assumption", "white blood cell count",
    )
    haemoglobin_g_dl: NormalDist = param(
        NormalDist(mean=14.0, sd=1.5, min=7.0, max=19.0), "g/dL",
        "COMPAR-EU UK vector (mean); SD assumption", "haemoglobin (sex difference not modelled)",
    )
    albuminuria_share: float = param(
        0.19, "share", "COMPAR-EU UK vector", "micro- or macro-albuminuria (>= 50 mg/L)",
        ge=0, le=1,
    )
    pvd_share: float = param(0.037, "share", "COMPAR-EU UK vector",
                             "peripheral vascular disease", ge=0, le=1)
    atrial_fibrillation_share: float = param(0.089, "share", "COMPAR-EU UK vector",
                                             "atrial fibrillation", ge=0, le=1)
    history: EntryHistory = param(EntryHistory(), "-", "assumption",
                                  "complication history at entry (default none)")

    @model_validator(mode="after")
    def _ethnicity(self) -> RiskFactorPopulation:
        if self.afro_caribbean_share + self.asian_indian_share > 1:
            raise ValueError("afro_caribbean_share + asian_indian_share must be <= 1, got "
                             f"{self.afro_caribbean_share + self.asian_indian_share:g}")
        return self


DEFAULT_HALF_LIFE_YEARS = 1.0
"""Half-life of the default persistence (exponential; an assumption, see below)."""


class Persistence(LifetimeSection):
    """How the programme's end-of-stage HbA1c effect carries into later years.

    weight w(t) at t years after the programme stage ends, with r = retained_fraction:
    permanent: 1; none: r; linear_wane: r + (1 - r) * max(0, 1 - t / years);
    exponential: r + (1 - r) * 0.5 ** (t / half_life_years).
    """

    kind: Literal["permanent", "none", "linear_wane", "exponential"] = param(
        "exponential", "-", "assumption", "shape of the effect's persistence")
    years: float | None = param(None, "years", "-",
                                "linear_wane only: years until the waning part is gone",
                                gt=0, le=200)
    half_life_years: float | None = param(None, "years", "-",
                                          "exponential only: half-life of the waning part",
                                          gt=0, le=200)
    retained_fraction: float = param(
        0.0, "share of the effect", "Norris 2002 (DSMES keeps about 1/3) [I]",
        "part of the effect kept for life (0 for permanent)", ge=0, le=1,
    )

    @model_validator(mode="before")
    @classmethod
    def _default_half_life(cls, data: Any) -> Any:
        """Without a kind, the default kind (exponential) takes the default half-life.

        So ``persistence: {}`` or ``{retained_fraction: 0.2}`` is valid.
        """
        if isinstance(data, dict) and not {"kind", "years", "half_life_years"} & set(data):
            return {**data, "half_life_years": DEFAULT_HALF_LIFE_YEARS}
        return data

    @model_validator(mode="after")
    def _parameters_match_kind(self) -> Persistence:
        need = {"linear_wane": "years", "exponential": "half_life_years"}.get(self.kind)
        for name in ("years", "half_life_years"):
            value = getattr(self, name)
            if name == need and value is None:
                raise ValueError(f"persistence kind '{self.kind}' needs '{name}' (> 0)")
            if name != need and value is not None:
                hint = "linear_wane" if name == "years" else "exponential"
                raise ValueError(f"persistence kind '{self.kind}' takes no '{name}'; "
                                 f"did you mean kind '{hint}'?")
        if self.kind == "permanent" and self.retained_fraction not in (0.0, 1.0):
            raise ValueError("persistence kind 'permanent' keeps the whole effect; "
                             "retained_fraction has no meaning there (leave it at 0)")
        return self


DEFAULT_PERSISTENCE = Persistence(kind="exponential", half_life_years=DEFAULT_HALF_LIFE_YEARS,
                                  retained_fraction=0.0)
"""Default persistence: exponential wane, half-life 1 year, nothing kept for life.

An assumption for peer support: effects fade after support stops (Zhang thesis: about 0 at
> 6 months; Norris 2002: DSMES loses about 2/3 within 1-3 months). Each design file should
set its own."""


class Lifetime(LifetimeSection):
    """Lifetime outcomes after the agent-based stage (UKPDS 82 equations, Hayes 2013)."""

    enabled: bool = param(True, "-", "-", "run the lifetime stage after the agent-based stage "
                          "(lifetime costs and QALYs for planners; off: one-year figures only)")
    horizon_age_years: float = param(
        100.0, "years of age", "assumption (common lifetime horizon)",
        "simulate until death or this age (survivors are censored there)", gt=30, le=120,
    )
    discount_rate_costs: float = param(0.035, "per year", "NICE methods guide",
                                       "discount rate of lifetime costs", ge=0, le=0.5)
    discount_rate_effects: float = param(0.035, "per year", "NICE methods guide",
                                         "discount rate of life years and QALYs", ge=0, le=0.5)
    discount_start_years: float = param(
        0.0, "years", "-",
        "years between the analysis start and the lifetime stage (set to the agent-based "
        "stage length when both are reported together)", ge=0, le=100,
    )
    persistence: Persistence = param(DEFAULT_PERSISTENCE, "-", "assumption",
                                     "persistence of the programme's HbA1c effect")
    hba1c_progression: Literal["ukpds90", "constant"] = param(
        "ukpds90", "-", "Leal 2021 (UKPDS 90) coefficients as transcribed [unverified]",
        "natural HbA1c path: UKPDS 90 dynamic-panel equation or held constant",
    )
    cost_set: Literal["ukpds84", "mount_hood_2020"] = param(
        "ukpds84", "-", "Alva 2015 (UKPDS 84) as the OM2 v2.1 defaults, 2012 GBP",
        "complication and background cost set",
    )
    utility_set: Literal["om2_default", "advance", "mount_hood"] = param(
        "om2_default", "-", "OM2 v2.1 defaults (baseline 0.807)", "utility set",
    )
    utility_combination: Literal["additive", "grouped_minimum"] = param(
        "additive", "-", "assumption",
        "additive: every condition's decrement adds; grouped_minimum: largest decrement "
        "within CHD/stroke/neuropathy/retinopathy/renal groups, summed across groups",
    )
    risk_factors: RiskFactorPopulation = param(RiskFactorPopulation(), "-", "LONGTERM 4",
                                               "risk-factor distributions of the population")
    risk_multiplier: float = param(
        1.0, "x", "assumption (calibration)",
        "multiplies the hazard (odds for logistic equations) of every complication and death "
        "equation; below 1 for contemporary cohorts (OM2 overestimates CVD and mortality risk)",
        ge=0.01, le=10,
    )
