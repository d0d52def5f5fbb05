# syntax=docker/dockerfile:1
# One image for the worker (default command) and the Vultr emulator (`python -m emulator`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH

RUN pip install --no-cache-dir uv==0.13.8

WORKDIR /app

# Dependencies before code, so a code change reuses this layer. --frozen installs exactly
# what uv.lock pins and fails if it no longer matches pyproject.toml.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .

# The code stays owned by root: the process that holds the Vultr key cannot rewrite it.
RUN useradd --system --user-group --uid 10001 --create-home --home-dir /home/app app
USER app

# Prometheus metrics (METRICS_PORT); scraped inside the compose network, never published.
EXPOSE 9464

CMD ["python", "worker.py"]
