"""The committed AsyncAPI document is the one the code generates."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jamsos.docs import asyncapi_yaml
from jamsos_schemas import topics

DOCUMENT = Path(__file__).resolve().parents[2] / "schemas" / "asyncapi.yaml"


@pytest.fixture(scope="module")
def generated() -> str:
    """The document the code generates, once for this module (it builds every service)."""
    return asyncapi_yaml()


def test_committed_asyncapi_document_is_not_stale(generated: str) -> None:
    assert DOCUMENT.read_text("utf-8") == generated, (
        "schemas/asyncapi.yaml is stale: run `jamsos asyncapi` (or `make asyncapi`)"
    )


def test_asyncapi_document_names_every_contract_topic(generated: str) -> None:
    doc = yaml.load(generated, Loader=yaml.CSafeLoader)  # libyaml: 10x the pure-Python loader
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert set(topics.CONTRACT_TOPICS) <= addresses
