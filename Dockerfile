# One image for every newsflow service, the init jobs and the demo site.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml constraints.txt README.md ./
COPY shared ./shared
COPY services ./services
COPY newsflow ./newsflow
COPY infra ./infra
RUN pip install -c constraints.txt . && useradd --system --uid 10001 newsflow
USER newsflow

CMD ["newsflow", "--help"]
