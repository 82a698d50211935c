# Container for cluster workers (Dask / SLURM): the peersupport wheel with its [cluster] extra.
#
#   python -m pip wheel . --no-deps -w dist          # build the wheel from the checkout
#   docker build -t peersupport .                    # or: apptainer build peersupport.sif docker-daemon://peersupport:latest
#   docker run --rm peersupport run designs/hybrid_kickoff --set population.size=500
#
# docs/sweeps.md shows how dask-jobqueue starts workers from this image on SLURM.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    MPLCONFIGDIR=/tmp/matplotlib

COPY dist/peersupport-*.whl /tmp/wheels/
RUN pip install --no-cache-dir "$(ls /tmp/wheels/peersupport-*.whl)[cluster]" \
    && rm -rf /tmp/wheels \
    && useradd --create-home --uid 1000 worker

USER worker
WORKDIR /home/worker
ENTRYPOINT ["peersupport"]
CMD ["--help"]
