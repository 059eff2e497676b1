# syntax=docker/dockerfile:1
# Build stage: resolve the pinned dependencies into a virtualenv (compilers stay here).
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml ./
COPY service ./service
# Install the runtime dependencies only (no extras unless INKWELL_EXTRAS names some, e.g.
# --build-arg INKWELL_EXTRAS='[tracing]'); the application itself runs from /app, not
# site-packages. pip and setuptools are not needed at runtime: dropping them saves ~23 MB.
ARG INKWELL_EXTRAS=""
# The pins are pyproject.toml's (hadolint cannot see through the build argument).
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".${INKWELL_EXTRAS}" && pip uninstall --yes inkwell setuptools pip

# Runtime stage: slim base, no build tools, non-root user.
FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    PROXY_HEADERS=true
RUN groupadd --system --gid 10001 inkwell \
    && useradd --system --uid 10001 --gid inkwell --no-create-home --home-dir /app inkwell
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY alembic.ini ./
COPY migrations ./migrations
COPY service ./service
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"]
# Migrations are a separate step: `docker run --rm IMAGE alembic upgrade head`.
# service/serve.py: uvicorn (uvloop + httptools) with bounded header size, header time, send time.
# Client addresses: X-Forwarded-For is trusted from FORWARDED_ALLOW_IPS (default 127.0.0.1 and
# ::1, a proxy in the same network namespace); set it to your proxy's address (docs/security.md).
CMD ["python", "-m", "service.serve", "--host", "0.0.0.0", "--port", "8000", "--timeout-graceful-shutdown", "20"]
