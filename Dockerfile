# One image for both services; CMD selects which one. Build: docker build -t captem .
# Run:   docker run -e CAPTEM_ENV=production -e CAPTEM_SAFETY_DATABASE_URL=... captem safety_api
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
COPY migrations ./migrations
RUN pip install --no-cache-dir --upgrade pip \
 && pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CAPTEM_DATA_DIR=/var/lib/captem CAPTEM_PORT=8080
RUN useradd --system --uid 10001 --home-dir /var/lib/captem --create-home captem
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER captem
WORKDIR /var/lib/captem
EXPOSE 8080
# SIGTERM drains requests (CAPTEM_SHUTDOWN_DRAIN_S, 6 s) and then webhook deliveries
# (CAPTEM_DISPATCHER_STOP_GRACE_S, 3 s): inside `docker stop`'s default 10 s.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"CAPTEM_PORT\"]}/healthz', timeout=2)"
ENTRYPOINT ["captem", "serve", "--host", "0.0.0.0"]
CMD ["pro_api"]
