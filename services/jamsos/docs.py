"""The AsyncAPI document of every jamsos service, generated from the FastStream app.

`jamsos asyncapi` writes it with sorted keys (so it is reproducible); a test fails when the
committed file is stale. `faststream docs gen --factory jamsos.docs:docs_app --yaml` gives the
same content in FastStream's own key order.
"""

from __future__ import annotations

from dataclasses import replace

import yaml
from faststream import FastStream
from faststream.specification import AsyncAPI

from jamsos import __doc__ as summary
from jamsos import bootstrap
from jamsos.settings import load_settings

VERSION = "1.0.0"


def docs_app() -> FastStream:
    """All services in one app, described for the production broker address."""
    settings = replace(
        load_settings(env={}), kafka_bootstrap="kafka:9092", database_url="postgresql://"
    )
    _, broker = bootstrap.build_app(settings, list(bootstrap.SERVICES))
    spec = AsyncAPI(
        broker, title="jamsos", version=VERSION, description=summary, schema_version="3.0.0"
    )
    return FastStream(broker, specification=spec)


def asyncapi_yaml() -> str:
    """The document as YAML."""
    spec = docs_app().schema
    # FastStream keeps publishers in a set: sort the keys so the document is reproducible.
    document = spec.to_specification().to_jsonable()
    return yaml.safe_dump(document, sort_keys=True, allow_unicode=True)
