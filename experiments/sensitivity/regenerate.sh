#!/bin/sh
# Regenerate the committed sensitivity results with the current defaults: the programme levers
# (qol_levers, 2,048 runs), the Morris screen of uncertain inputs (qol_morris, 4,320 runs) and
# its Sobol' follow-up (qol_sobol, 6,144 runs); every run is paired with usual care. About
# 25-40 minutes on an idle 2-core machine. Run from the repository root:
#   sh experiments/sensitivity/regenerate.sh
# tests/test_derived_inputs.py checks that the committed manifests match today's defaults.
set -e
names="qol_levers qol_morris qol_sobol"
total=$(echo $names | wc -w)
i=0
for name in $names; do
    i=$((i + 1))
    store="results/sensitivity/$name"
    dest="experiments/sensitivity/$name"
    echo "[$i/$total] $(date -u +%H:%M:%S) $name: scenarios/sensitivity/$name.yaml -> $store"
    rm -rf "$store"
    peersupport sensitivity "scenarios/sensitivity/$name.yaml" --out "$store"
    rm -rf "$dest" && mkdir -p "$dest"
    cp -r "$store/summary.md" "$store/figures" "$store/indices.csv" "$store/indices.parquet" \
        "$store/noise.csv" "$store/sensitivity_log.json" "$dest/"
    if [ -f "$store/convergence.csv" ]; then cp "$store/convergence.csv" "$dest/"; fi
    cp "$store/manifest.json" "$dest/store_manifest.json"
    echo "[$i/$total] $(date -u +%H:%M:%S) $name: copied to $dest"
done
echo "regenerated; update experiments/sensitivity/README.md's numbers from the summaries (and,"
echo "if Morris ranks other inputs first, qol_sobol.yaml's inputs before its run)"
