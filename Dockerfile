# syntax=docker/dockerfile:1
# Build stage: build a wheel and install it with its dependencies into a venv.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY resolvers ./resolvers
COPY sources ./sources
RUN python -m venv /opt/mlmeta \
 && /opt/mlmeta/bin/pip install --upgrade pip \
 && /opt/mlmeta/bin/pip install .

# Runtime stage: the venv only, run as an unprivileged user.
FROM python:3.11-slim
ENV PATH=/opt/mlmeta/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MLMETA_HOST=0.0.0.0 \
    MLMETA_PORT=8000 \
    MLMETA_DATA_DIR=/var/lib/mlmeta
COPY --from=build /opt/mlmeta /opt/mlmeta
RUN useradd --system --uid 10001 --home-dir /var/lib/mlmeta --create-home mlmeta
USER mlmeta
WORKDIR /var/lib/mlmeta
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('MLMETA_PORT', '8000')}/healthz\", timeout=2)"]
ENTRYPOINT ["mlmeta"]
CMD ["serve"]
