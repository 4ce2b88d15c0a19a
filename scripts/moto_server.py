#!/usr/bin/env python3
"""moto's server with one DynamoDB request at a time.

moto applies a DynamoDB transaction to a deep copy of the table and, when any condition
fails, puts the whole copy back. With requests served in parallel, a cancelled transaction
therefore erases writes that other requests made meanwhile; real DynamoDB isolates
transactions and never does. Serialising DynamoDB requests gives the local stack the
isolation the service promises (and our tests rely on). Other services run in parallel:
an SQS long poll must not hold up the table.

moto also backs every transaction up by deep-copying the whole table (its stream records
included) once per operation in it: the cost grows with the table, until a benchmark's few
thousand items make each transaction take a third of a second and moto's memory reach
gigabytes. `cheap_transaction_rollback` keeps moto's logic but snapshots only the items the
transaction names and the stream's length, and restores exactly those when it is cancelled.
"""

import argparse
import copy
import signal
import sys
import threading

from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def serialised(app):
    lock = threading.Lock()

    def handle(environ, start_response):
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return list(app(environ, start_response))
        with lock:
            # materialise the body inside the lock: moto's responses are built eagerly,
            # but a lazy iterable must not escape it
            return list(app(environ, start_response))

    return handle


def cheap_transaction_rollback():
    import moto.dynamodb.models as models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    class NoTableCopy:
        """`copy` for moto's module, except that a whole table is not copied."""

        def __getattr__(self, name):
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value, memo=None):
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    models.copy = NoTableCopy()
    original = models.DynamoDBBackend.transact_write_items

    def keys_of(backend, transact_items):
        for entry in transact_items:
            op = next(iter(entry.values()), {})
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                continue
            key = op.get("Item") if "Item" in op else op.get("Key") or {}
            if table.hash_key_attr not in key:
                continue
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = None
            if table.has_range_key:
                if table.range_key_attr not in key:
                    continue
                range_key = DynamoType(key[table.range_key_attr])
            yield table, hash_key, range_key

    def transact_write_items(self, transact_items):
        saved = []
        streams = {}
        for table, hash_key, range_key in keys_of(self, transact_items):
            current = table.get_item(hash_key, range_key)
            saved.append((table, hash_key, range_key, copy.deepcopy(current)))
            if table.stream_shard is not None:
                streams.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(saved):
                if table.has_range_key:
                    if item is None:
                        table.items[hash_key].pop(range_key, None)
                    else:
                        table.items[hash_key][range_key] = item
                elif item is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = item
            for shard, length in streams.values():
                del shard.items[length:]
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5055)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    cheap_transaction_rollback()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, serialised(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
