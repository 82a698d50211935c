"""Many-run analyses: designs compared, sweeps, sensitivity, calibration, decisions."""
