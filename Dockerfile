# One image for both services; the command picks which one runs.
FROM python:3.11-slim
# xmlsec1 makes and checks the XML signatures of SAML federation (pysaml2 runs it).
RUN apt-get update \
    && apt-get install -y --no-install-recommends xmlsec1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pdp ./pdp
COPY token_service ./token_service
COPY policies ./policies
COPY bundles ./bundles
COPY deploy ./deploy
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 app \
    && install -d -o app -m 700 /var/lib/token-service
USER app
