# The Relance image: the worker, the `relance` commands and the codec server (one image, several services).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY relance ./relance
COPY workflows ./workflows
COPY activities ./activities
COPY starter ./starter
COPY policies ./policies
COPY rates ./rates
RUN pip install . && useradd --system --uid 10001 --home /app relance && mkdir -p /data && chown relance /data
USER relance
# the defaults of a container: policies and rates from the image, files under /data (a volume)
ENV RELANCE_POLICY_DIR=/app/policies RELANCE_RATES_FILE=/app/rates/france.yaml \
    RELANCE_OUTBOX_DIR=/data/outbox RELANCE_LETTER_OUTBOX_DIR=/data/letters RELANCE_DOCUMENTS_DIR=/data/documents
ENTRYPOINT []
CMD ["relance", "worker"]
