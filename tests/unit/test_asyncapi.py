"""The committed AsyncAPI document is the one the code generates."""

from __future__ import annotations

from pathlib import Path

import yaml

from jamsos.docs import asyncapi_yaml
from jamsos_schemas import topics

DOCUMENT = Path(__file__).resolve().parents[2] / "schemas" / "asyncapi.yaml"


def test_committed_asyncapi_document_is_not_stale() -> None:
    assert DOCUMENT.read_text("utf-8") == asyncapi_yaml(), (
        "schemas/asyncapi.yaml is stale: run `jamsos asyncapi` (or `make asyncapi`)"
    )


def test_asyncapi_document_names_every_contract_topic() -> None:
    doc = yaml.safe_load(asyncapi_yaml())
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert set(topics.CONTRACT_TOPICS) <= addresses
