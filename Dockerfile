# The service and the simulator in one image: `oxiward api`, `oxiward simulate` (docker-compose.yml).
# Build: docker build -t oxiward:local .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY alerting alerting
COPY api api
COPY emulator emulator
COPY gateway gateway
COPY oxiward oxiward
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[api,sim]'

FROM python:3.11-slim
# An unprivileged user with a writable home for the simulator's outboxes.
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/oxiward oxiward
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels 'oxiward[api,sim]' && rm -rf /wheels
USER oxiward
WORKDIR /var/lib/oxiward
ENV PYTHONUNBUFFERED=1
EXPOSE 8000
ENTRYPOINT ["oxiward"]
CMD ["--help"]
