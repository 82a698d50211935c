#!/bin/sh
# Regenerate the committed sensitivity results with the current defaults (about 35 minutes on
# an idle 2-core machine: 2,000 Morris runs, then 12,288 Sobol' runs). Run from the
# repository root:  sh experiments/sensitivity/regenerate.sh
# tests/test_derived_inputs.py checks that the committed manifests match today's defaults.
set -e
for name in qol_morris qol_sobol; do
    store="results/sensitivity/$name"
    dest="experiments/sensitivity/$name"
    rm -rf "$store"
    peersupport sensitivity "scenarios/sensitivity/$name.yaml" --out "$store" --no-progress
    rm -rf "$dest" && mkdir -p "$dest"
    cp -r "$store/summary.md" "$store/figures" "$store/indices.csv" "$store/indices.parquet" \
        "$store/noise.csv" "$store/convergence.csv" "$store/sensitivity_log.json" "$dest/"
    cp "$store/manifest.json" "$dest/store_manifest.json"
done
echo "regenerated; update experiments/sensitivity/README.md's numbers from the summaries"
