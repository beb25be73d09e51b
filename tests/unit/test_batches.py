"""The outbox's partitioner gives every key the partition aiokafka's producer would."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from jamsos.adapters.batches import murmur2, partition_of


def test_murmur2_is_aiokafkas_for_keys_of_every_length() -> None:
    rnd = random.Random(5)
    keys = [rnd.randbytes(n) for n in range(300) for _ in range(20)]
    keys += [b"", b"\xff" * 7, b"3319014506900001", "KDS-é".encode(), bytes(range(256))]
    for key in keys:
        assert murmur2(key) == aiokafka_murmur2(key), key


def test_the_java_clients_reference_values() -> None:
    """Values from the Java client's own test (org.apache.kafka.common.utils.UtilsTest)."""
    cases = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
             b"a-little-bit-longer-string": -1486304829,
             b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971}  # fmt: skip
    for key, signed in cases.items():
        assert murmur2(key) == signed & 0xFFFFFFFF


def test_partition_of_is_the_default_partitioners_choice() -> None:
    rnd = random.Random(6)
    chooser = DefaultPartitioner()
    for count in (1, 3, 6, 7, 12):
        partitions = list(range(count))
        for _ in range(500):
            key = f"3319{rnd.randrange(10**12):012d}".encode()
            assert partition_of(key, partitions) == chooser(key, partitions, partitions)
