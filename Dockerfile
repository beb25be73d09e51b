# One image for every jamsos container: `docker compose` picks the command (run, topics, db …).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    JAMSOS_STATE_DIR=/var/lib/jamsos

WORKDIR /app
COPY . /app

# A regular install: the migrations ship in the package (jamsos/migrations), read as package data.
RUN pip install . \
    && useradd --system --uid 10001 --create-home --home-dir /home/jamsos jamsos \
    && mkdir -p /var/lib/jamsos \
    && chown jamsos:jamsos /var/lib/jamsos

USER jamsos
ENTRYPOINT ["jamsos"]
CMD ["--help"]
