#!/usr/bin/env python3
"""moto's server with one DynamoDB request at a time.

moto applies a DynamoDB transaction to a deep copy of the table and, when any condition
fails, puts the whole copy back. With requests served in parallel, a cancelled transaction
therefore erases writes that other requests made meanwhile; real DynamoDB isolates
transactions and never does. Serialising DynamoDB requests gives the local stack the
isolation the service promises (and our tests rely on). Other services run in parallel:
an SQS long poll must not hold up the table.
"""

import argparse
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


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5055)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, serialised(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
