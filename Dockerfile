# The Tessera API and worker image: `tessera serve` by default, `tessera worker`
# or `tessera migrate` as the command for the other roles (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TESSERA_ENVIRONMENT=production \
    TESSERA_HOST=0.0.0.0 \
    TESSERA_PORT=8000 \
    TESSERA_VAR_DIR=/var/lib/tessera

WORKDIR /src
COPY pyproject.toml README.md ./
COPY platform platform
COPY schema schema
COPY plugins plugins
COPY admin_ui admin_ui
RUN pip install . && rm -rf /src

RUN useradd --system --uid 10001 --home-dir /var/lib/tessera --create-home tessera
USER tessera
WORKDIR /var/lib/tessera

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["tessera", "serve"]
