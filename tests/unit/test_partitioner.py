"""The relay's partitioner: the Kafka default partitioner's choice, so a stream keeps its
partition across relay versions and other Kafka clients."""

import random
import uuid

from aiokafka.partitioner import DefaultPartitioner, murmur2

from services.write.adapters.kafka import partition_for
from services.write.adapters.kafka_batches import fast_murmur2


def test_the_relay_picks_the_partition_of_the_default_partitioner() -> None:
    default = DefaultPartitioner()
    keys = [str(uuid.UUID(int=random.Random(n).getrandbits(128))).encode() for n in range(2000)]
    for count in (1, 3, 6, 12):
        partitions = list(range(count))
        for key in keys + keys[:100]:  # the second time from the cache
            expected = default(key, partitions, partitions)
            assert partition_for(key, partitions, partitions) == expected
    assert partition_for(None, [0, 1, 2], [2]) == 2


def test_the_relays_murmur2_is_kafkas_for_keys_of_any_length() -> None:
    draw = random.Random(7)
    for length in range(80):
        for _ in range(50):
            key = bytes(draw.getrandbits(8) for _ in range(length))
            assert fast_murmur2(key) == murmur2(key), key
