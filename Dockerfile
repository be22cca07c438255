# Trainyard image for the web server and the GPU workers (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TRAINYARD_NO_BOOTSTRAP=1 \
    TRAINYARD_DATA_DIR=/data \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app
# Dependencies first, so code changes do not reinstall PyTorch (the CUDA build from PyPI on x86_64).
COPY pyproject.toml README.md ./
COPY training ./training
COPY webapp ./webapp
RUN pip install . && useradd --create-home --uid 1000 trainyard && mkdir -p /data /static /cache \
    && chown trainyard /data /static /cache
COPY . .
RUN TRAINYARD_DATA_DIR=/tmp/build SECRET_KEY=build-only python manage.py collectstatic --noinput \
    && rm -rf /tmp/build && chown -R trainyard /app/staticfiles

USER trainyard
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "webapp.asgi:application"]
