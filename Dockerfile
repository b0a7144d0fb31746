# One image for every outboxflow process: web (gunicorn), worker, beat and Flower.
# Built by docker-compose.yml; the command of each service picks the process.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    INSTANCE_DIR=/var/lib/outboxflow

RUN useradd --system --create-home outboxflow \
    && mkdir -p /var/lib/outboxflow \
    && chown outboxflow /var/lib/outboxflow

WORKDIR /srv/outboxflow

# Dependencies first (read from pyproject.toml), so a code change reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# The code, installed in place: app/__init__.py finds migrations/ beside app/.
COPY README.md celeryconfig.py ./
COPY app ./app
COPY tasks ./tasks
COPY migrations ./migrations
RUN pip install --no-deps -e .

USER outboxflow
EXPOSE 5000 5555
CMD ["gunicorn", "--bind", "0.0.0.0:5000", "app:create_app()"]
