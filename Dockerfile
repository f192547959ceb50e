# syntax=docker/dockerfile:1
# Build stage: install exactly what uv.lock holds (runtime set, no extras) and the
# project itself into a venv at /opt/mlmeta. uv comes from PyPI, at the version ./run uses.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PROJECT_ENVIRONMENT=/opt/mlmeta UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_NO_CACHE=1
RUN python -m pip install "uv==0.13.9"
WORKDIR /src
# Dependencies first, from the lock alone, so this layer is reused while only code changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-install-project --no-editable --python /usr/local/bin/python3.11
COPY gateway ./gateway
COPY resolvers ./resolvers
COPY sources ./sources
RUN uv sync --locked --no-editable --python /usr/local/bin/python3.11

# Runtime stage: the same base without uv or any build tool, the venv only, run as an
# unprivileged user.
FROM python:3.11-slim
ENV PATH=/opt/mlmeta/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MLMETA_HOST=0.0.0.0 \
    MLMETA_PORT=8000 \
    MLMETA_DATA_DIR=/var/lib/mlmeta
COPY --from=build /opt/mlmeta /opt/mlmeta
RUN useradd --system --uid 10001 --home-dir /var/lib/mlmeta --create-home mlmeta
USER 10001:10001
WORKDIR /var/lib/mlmeta
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('MLMETA_PORT', '8000')}/healthz\", timeout=2)"]
ENTRYPOINT ["mlmeta"]
CMD ["serve"]
