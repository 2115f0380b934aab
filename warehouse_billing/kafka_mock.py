"""librdkafka's mock Kafka cluster: a broker on 127.0.0.1 for the tests, the benchmark and a try-out.

    python -m warehouse_billing.kafka_mock [--topic usage-events] [--partitions 3]

The confluent-kafka wheel bundles librdkafka, which contains a mock cluster: a Kafka protocol server in
the process (produce, fetch, consumer groups, offset commits) listening on loopback ports. The Python
binding exposes only the `test.mock.num.brokers` client setting, and a cluster made that way is awkward
to test against (measured with confluent-kafka 2.16.2): its address shows only in a log line or the
owner's metadata, AdminClient.create_topics times out (the mock has no CreateTopics handler), every
auto-created topic gets 4 partitions, and each first join of a consumer group waits 3 s. So this module
calls the library's public mock API (rdkafka_mock.h) through ctypes: create a cluster, read its
bootstrap address, create topics with a chosen number of partitions, and turn that 3 s delay off.

A mock partition keeps at most 5 MB of messages (older message sets are dropped, as retention would):
produce compressed batches, or consume while producing, for more.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import glob
import os
import signal
import sys
from pathlib import Path
from types import TracebackType
from typing import Self

_RD_KAFKA_PRODUCER = 0


def _library_path() -> str:
    """The librdkafka that confluent-kafka's wheel ships (Linux: confluent_kafka.libs/, macOS:
    confluent_kafka/.dylibs/), or a system one."""
    import confluent_kafka

    package = Path(confluent_kafka.__file__).resolve().parent
    for pattern in (
        str(package.parent / "confluent_kafka.libs" / "librdkafka*.so*"),
        str(package / ".dylibs" / "librdkafka*.dylib"),
    ):
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    system = ctypes.util.find_library("rdkafka")
    if system:
        return system
    raise RuntimeError("librdkafka was not found next to confluent_kafka nor on the system")


def _load_library() -> ctypes.CDLL:
    library = ctypes.CDLL(_library_path())
    pointer, text, integer = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    signatures = {
        "rd_kafka_conf_new": (pointer, []),
        "rd_kafka_conf_set": (integer, [pointer, text, text, text, ctypes.c_size_t]),
        "rd_kafka_new": (pointer, [integer, pointer, text, ctypes.c_size_t]),
        "rd_kafka_destroy": (None, [pointer]),
        "rd_kafka_mock_cluster_new": (pointer, [pointer, integer]),
        "rd_kafka_mock_cluster_bootstraps": (text, [pointer]),
        "rd_kafka_mock_cluster_destroy": (None, [pointer]),
        "rd_kafka_mock_topic_create": (integer, [pointer, text, integer, integer]),
        "rd_kafka_mock_group_initial_rebalance_delay_ms": (None, [pointer, ctypes.c_int32]),
        "rd_kafka_err2str": (text, [integer]),
    }
    for name, (result, arguments) in signatures.items():
        function = getattr(library, name)
        function.restype = result
        function.argtypes = arguments
    return library


class MockKafkaCluster:
    """A mock Kafka cluster in this process; use as a context manager, or call close()."""

    def __init__(self, brokers: int = 1, *, initial_rebalance_delay_ms: int = 0) -> None:
        self._library = _load_library()
        errors = ctypes.create_string_buffer(512)
        conf = self._library.rd_kafka_conf_new()
        # The handle only owns the cluster; keep its own log lines (connection chatter) to errors.
        self._library.rd_kafka_conf_set(conf, b"log_level", b"3", errors, len(errors))
        self._handle = self._library.rd_kafka_new(_RD_KAFKA_PRODUCER, conf, errors, len(errors))
        if not self._handle:
            raise RuntimeError(f"cannot create the mock cluster's client handle: {errors.value.decode()}")
        self._cluster = self._library.rd_kafka_mock_cluster_new(self._handle, brokers)
        if not self._cluster:
            self._library.rd_kafka_destroy(self._handle)
            raise RuntimeError("librdkafka could not create a mock cluster")
        delay = self._library.rd_kafka_mock_group_initial_rebalance_delay_ms
        delay(self._cluster, initial_rebalance_delay_ms)
        self.bootstrap_servers: str = self._library.rd_kafka_mock_cluster_bootstraps(self._cluster).decode()

    def create_topic(self, name: str, partitions: int, replication_factor: int = 1) -> None:
        """Create topic `name` with `partitions` partitions (an error if it exists already)."""
        code = self._library.rd_kafka_mock_topic_create(
            self._cluster, name.encode(), partitions, replication_factor
        )
        if code:
            reason = self._library.rd_kafka_err2str(code).decode()
            raise RuntimeError(f"cannot create topic {name!r}: {reason}")

    def close(self) -> None:
        """Stop the brokers (connected clients see their connections close)."""
        if self._cluster:
            self._library.rd_kafka_mock_cluster_destroy(self._cluster)
            self._cluster = None
        if self._handle:
            self._library.rd_kafka_destroy(self._handle)
            self._handle = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m warehouse_billing.kafka_mock",
        description="Run librdkafka's mock Kafka cluster on 127.0.0.1 until interrupted (for trying the "
        "consumer without a broker; messages live in memory, at most 5 MB per partition).",
    )
    parser.add_argument("--topic", default=os.environ.get("BILLING_KAFKA_TOPIC") or "usage-events")
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--brokers", type=int, default=1)
    args = parser.parse_args(argv)
    with MockKafkaCluster(args.brokers) as cluster:
        cluster.create_topic(args.topic, args.partitions)
        print(f"export BILLING_KAFKA_BOOTSTRAP_SERVERS={cluster.bootstrap_servers} "
              f"BILLING_KAFKA_TOPIC={args.topic}")
        print("mock cluster running; Ctrl-C stops it", file=sys.stderr, flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
