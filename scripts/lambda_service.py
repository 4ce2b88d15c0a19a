#!/usr/bin/env python3
"""The local Lambda service: each function's real binary run the way Lambda runs it.

- The Invoke API (`POST /2015-03-31/functions/{name}/invocations`), synchronous
  (`RequestResponse`) or asynchronous (`Event`), answered as Lambda answers it: the payload,
  or `X-Amz-Function-Error: Unhandled` with the error; 404 for an unknown function, 413 for
  a request over the payload limit (6 MB synchronous, 256 KB asynchronous), 429 when the
  function's reserved concurrency is used up.
- Execution environments: a process of the binary per concurrent invocation, each with its
  own Runtime API (`AWS_LAMBDA_RUNTIME_API`), its role's credentials and the environment the
  template gives it (deployment.py), reused while warm. An invocation that outlives the
  function's `Timeout` is ended (the process killed, as Lambda resets the environment) and
  reported as `Sandbox.Timedout`; a response over 6 MB is `Function.ResponseSizeTooLarge`;
  a process that dies mid-invocation is `Runtime.ExitError`.
- Asynchronous invocations are retried as Lambda retries them (the function's
  `EventInvokeConfig`, default two retries), then sent to its on-failure destination or
  dead-letter queue, with the function's role.

Local additions, under `/_local/`: the payloads each function was invoked with (recent ones,
so tests can prove what did *not* reach a function), and registering a function at run time
(tests of the service itself).

    lambda_service.py --port 9010 --deployment target/dev/deployment.json --bins target/debug
"""

import argparse
import asyncio
import collections
import json
import os
import signal
import socket
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from aiohttp import web

import deployment as dep

SYNC_REQUEST_LIMIT = 6 * 1024 * 1024  # 6,291,456 bytes, RequestResponse
ASYNC_REQUEST_LIMIT = 256 * 1024  # Event
RESPONSE_LIMIT = 6291556  # what Lambda's Runtime API takes for a response
INIT_TIMEOUT = 10  # seconds Lambda gives an on-demand function's init phase
# Unreserved functions share the account's concurrency (1,000 by default); a laptop has less.
# Beyond this many environments per function, invocations wait rather than spawn.
LOCAL_MAX_ENVIRONMENTS = int(os.environ.get("LINKGATE_LOCAL_MAX_ENVIRONMENTS", "64"))
IDLE_SECONDS = float(os.environ.get("LINKGATE_LOCAL_IDLE_SECONDS", "300"))
REAP_EVERY = float(os.environ.get("LINKGATE_LOCAL_REAP_SECONDS", "10"))
# Lambda waits about a minute, then two, between asynchronous retries; locally seconds.
ASYNC_RETRY_DELAYS = [float(s) for s in os.environ.get("LINKGATE_ASYNC_RETRY_DELAYS", "1,2").split(",")]
JOURNAL = 400  # recent payloads kept per function


def log(msg):
    print(f"[lambda] {msg}", file=sys.stderr, flush=True)


def error_body(kind, message):
    return json.dumps({"errorType": kind, "errorMessage": message}).encode()


async def read_capped(request, limit):
    """The body, or its first `limit + 1` bytes when it is longer (enough to refuse it)."""
    chunks, size = [], 0
    while size <= limit:
        chunk = await request.content.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class Outcome:
    """What an invocation came to: a payload, or a function error."""

    def __init__(self, payload, error=None):
        self.payload = payload
        self.error = error  # errorType when the function failed

    @classmethod
    def failed(cls, kind, message):
        return cls(error_body(kind, message), kind)


class Throttled(Exception):
    pass


class Function:
    def __init__(self, spec, bins, logs, local_env):
        self.spec = spec
        self.name = spec["name"]
        self.binary = Path(spec.get("binary_path") or Path(bins) / self.name)
        self.timeout = spec["timeout"]
        self.reserved = spec.get("reserved_concurrency")
        self.idle = []
        self.busy = 0
        self.capacity = asyncio.Semaphore(self.reserved or LOCAL_MAX_ENVIRONMENTS)
        self.journal = collections.deque(maxlen=JOURNAL)
        self.log_path = Path(logs) / f"{self.name}.log"
        self.env = dep.lambda_environment(spec, local_env)

    def binary_mtime(self):
        try:
            return self.binary.stat().st_mtime
        except OSError:
            return 0.0


class Environment:
    """One execution environment: a process of the function's binary and its Runtime API."""

    def __init__(self, service, fn):
        self.service = service
        self.fn = fn
        self.events = asyncio.Queue()
        self.pending = {}  # request id → future of Outcome
        self.ready = asyncio.Event()
        self.init_error = None
        self.proc = None
        self.exited = None
        self.port = None
        self.site = None
        self.mtime = fn.binary_mtime()
        self.last_used = time.monotonic()

    async def start(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((dep.HOST, 0))
        port = self.port = sock.getsockname()[1]
        self.service.by_port[port] = self
        self.site = web.SockSite(self.service.runtime_runner, sock)
        await self.site.start()
        env = {**self.fn.env, "AWS_LAMBDA_RUNTIME_API": f"{dep.HOST}:{port}",
               "AWS_LAMBDA_LOG_STREAM_NAME": f"{datetime.now(timezone.utc):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"}
        out = open(self.fn.log_path, "ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                str(self.fn.binary), env=env, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            )
        finally:
            out.close()
        self.exited = asyncio.ensure_future(self.proc.wait())
        self.exited.add_done_callback(lambda _: self.on_exit())

    def on_exit(self):
        code = self.proc.returncode
        reason = f"signal: {signal.Signals(-code).name.lower().removeprefix('sig')}" if code < 0 else f"exit status {code}"
        for rid, fut in list(self.pending.items()):
            if not fut.done():
                fut.set_result(Outcome.failed("Runtime.ExitError", f"RequestId: {rid} Error: Runtime exited with error: {reason}"))
        self.service.forget(self)

    def alive(self):
        return self.proc is not None and self.proc.returncode is None

    async def kill(self):
        if self.alive():
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            await self.exited
        self.service.forget(self)

    async def invoke(self, payload):
        rid = str(uuid.uuid4())
        fut = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        try:
            if not self.ready.is_set():
                init = asyncio.ensure_future(self.ready.wait())
                await asyncio.wait([init, self.exited], timeout=INIT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
                if not init.done():
                    init.cancel()
                    if self.alive():
                        await self.kill()
                        return Outcome.failed("Runtime.InitTimeout", f"RequestId: {rid} Error: init did not finish within {INIT_TIMEOUT} s")
                    return fut.result() if fut.done() else Outcome.failed("Runtime.ExitError", f"RequestId: {rid} Error: Runtime exited during init")
            if self.init_error is not None:
                await self.kill()
                return Outcome(self.init_error, "Runtime.InitError")
            deadline = time.time() + self.fn.timeout
            self.events.put_nowait((rid, payload, deadline))
            done, _ = await asyncio.wait([fut], timeout=self.fn.timeout)
            if fut.done():
                return fut.result()
            # Lambda ends the invocation and resets the environment
            await self.kill()
            return Outcome.failed("Sandbox.Timedout", f"RequestId: {rid} Error: Task timed out after {self.fn.timeout:.2f} seconds")
        finally:
            self.pending.pop(rid, None)
            self.last_used = time.monotonic()


class Service:
    def __init__(self, deployment, bins, logs, local_env):
        self.bins = bins
        self.logs = Path(logs)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.local_env = local_env
        self.functions = {name: Function(spec, bins, logs, local_env) for name, spec in deployment["functions"].items()}
        self.deployment = deployment
        self.by_port = {}
        self.runtime_runner = None
        self.everything = set()
        self.async_tasks = set()

    def forget(self, env):
        self.everything.discard(env)
        if env in env.fn.idle:
            env.fn.idle.remove(env)
        self.by_port.pop(env.port, None)
        if env.site is not None:
            site, env.site = env.site, None
            asyncio.ensure_future(site.stop())

    # --- Runtime API -------------------------------------------------------------------

    def env_of(self, request):
        port = request.transport.get_extra_info("sockname")[1]
        env = self.by_port.get(port)
        if env is None:
            raise web.HTTPGone()
        return env

    async def next(self, request):
        env = self.env_of(request)
        env.ready.set()
        rid, payload, deadline = await env.events.get()
        return web.Response(body=payload, headers={
            "Lambda-Runtime-Aws-Request-Id": rid,
            "Lambda-Runtime-Deadline-Ms": str(int(deadline * 1000)),
            "Lambda-Runtime-Invoked-Function-Arn": env.fn.spec["arn"],
            "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
            "Content-Type": "application/json",
        })

    async def response(self, request):
        env = self.env_of(request)
        rid = request.match_info["id"]
        body = await read_capped(request, RESPONSE_LIMIT)
        fut = env.pending.get(rid)
        if len(body) > RESPONSE_LIMIT:
            if fut and not fut.done():
                fut.set_result(Outcome.failed(
                    "Function.ResponseSizeTooLarge",
                    f"Response payload size exceeded maximum allowed payload size ({RESPONSE_LIMIT} bytes).",
                ))
            return web.json_response(
                {"errorMessage": f"Exceeded maximum allowed payload size ({RESPONSE_LIMIT} bytes).",
                 "errorType": "RequestEntityTooLarge"}, status=413)
        if fut and not fut.done():
            fut.set_result(Outcome(body))
        return web.json_response({"status": "OK"}, status=202)

    async def invocation_error(self, request):
        env = self.env_of(request)
        body = await request.read()
        fut = env.pending.get(request.match_info["id"])
        kind = request.headers.get("Lambda-Runtime-Function-Error-Type")
        try:
            kind = json.loads(body).get("errorType") or kind
        except (ValueError, AttributeError):
            body = error_body(kind or "Unhandled", body.decode("utf-8", "replace"))
        if fut and not fut.done():
            fut.set_result(Outcome(body, kind or "Unhandled"))
        return web.json_response({"status": "OK"}, status=202)

    async def init_error(self, request):
        env = self.env_of(request)
        env.init_error = await request.read() or error_body("Runtime.InitError", "init failed")
        env.ready.set()
        return web.json_response({"status": "OK"}, status=202)

    # --- environments --------------------------------------------------------------------

    async def acquire(self, fn, wait):
        if fn.reserved is not None and fn.capacity.locked() and not wait:
            raise Throttled()
        await fn.capacity.acquire()
        fn.busy += 1
        try:
            current = fn.binary_mtime()
            while fn.idle:
                env = fn.idle.pop()
                if env.alive() and env.mtime >= current:
                    return env
                await env.kill()  # rebuilt since it started (make dev), or gone
            env = Environment(self, fn)
            self.everything.add(env)
            await env.start()
            return env
        except BaseException:
            fn.busy -= 1
            fn.capacity.release()
            raise

    def release(self, fn, env):
        fn.busy -= 1
        fn.capacity.release()
        if env.alive():
            fn.idle.append(env)

    async def run(self, fn, payload, wait=False):
        fn.journal.append((time.time(), payload))
        env = await self.acquire(fn, wait)
        try:
            return await env.invoke(payload)
        finally:
            self.release(fn, env)

    async def reap(self):
        while True:
            await asyncio.sleep(REAP_EVERY)
            now = time.monotonic()
            for fn in self.functions.values():
                # Out of the idle list before the first await, so no invocation can take one
                # of them while another is being ended.
                expired = [env for env in fn.idle if now - env.last_used > IDLE_SECONDS]
                for env in expired:
                    fn.idle.remove(env)
                for env in expired:
                    await env.kill()

    # --- Invoke API ----------------------------------------------------------------------

    @staticmethod
    def lambda_error(status, kind, message, **extra):
        return web.json_response({"Type": "User", "message": message, **extra}, status=status,
                                 headers={"x-amzn-ErrorType": kind, "x-amzn-RequestId": str(uuid.uuid4())})

    async def invoke(self, request):
        name = request.match_info["name"].rsplit(":", 1)[-1]
        fn = self.functions.get(name)
        if fn is None:
            return self.lambda_error(404, "ResourceNotFoundException",
                                     f"Function not found: arn:aws:lambda:{dep.REGION}:{dep.ACCOUNT}:function:{name}")
        kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        limit = ASYNC_REQUEST_LIMIT if kind == "Event" else SYNC_REQUEST_LIMIT
        payload = await read_capped(request, limit)
        if len(payload) > limit:
            operation = "InvokeAsync" if kind == "Event" else "InvokeFunction"
            return self.lambda_error(413, "RequestTooLargeException",
                                     f"Request must be smaller than {limit} bytes for the {operation} operation")
        try:
            json.loads(payload or b"{}")
        except ValueError:
            return self.lambda_error(400, "InvalidRequestContentException", "Could not parse request body into json")
        if kind == "DryRun":
            return web.Response(status=204)
        if kind == "Event":
            task = asyncio.ensure_future(self.run_async(fn, payload))
            self.async_tasks.add(task)
            task.add_done_callback(self.async_tasks.discard)
            return web.Response(status=202, headers={"x-amzn-RequestId": str(uuid.uuid4())})
        try:
            outcome = await self.run(fn, payload)
        except Throttled:
            return self.lambda_error(429, "TooManyRequestsException", "Rate Exceeded.",
                                     Reason="ReservedFunctionConcurrentInvocationLimitExceeded")
        headers = {"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": str(uuid.uuid4())}
        if outcome.error:
            headers["X-Amz-Function-Error"] = "Unhandled"
        return web.Response(status=200, body=outcome.payload, headers=headers,
                            content_type="application/json")

    async def run_async(self, fn, payload):
        """Lambda's asynchronous invocation: retried on error, then the on-failure destination."""
        config = fn.spec.get("async") or {}
        attempts = 1 + int(config.get("maximum_retry_attempts", 2))
        outcome = None
        for attempt in range(attempts):
            outcome = await self.run(fn, payload, wait=True)
            if not outcome.error:
                return
            if attempt + 1 < attempts:
                await asyncio.sleep(ASYNC_RETRY_DELAYS[min(attempt, len(ASYNC_RETRY_DELAYS) - 1)])
        loop = asyncio.get_running_loop()
        destination = config.get("on_failure")
        if not destination and config.get("dead_letter"):
            # the function's dead-letter queue: the event itself, the error as attributes
            error = json.loads(outcome.payload)
            attributes = {
                "RequestID": {"DataType": "String", "StringValue": str(uuid.uuid4())},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                "ErrorMessage": {"DataType": "String", "StringValue": str(error.get("errorMessage", ""))[:1000] or "-"},
            }
            await loop.run_in_executor(None, self.send_to_destination, fn, config["dead_letter"],
                                       payload.decode("utf-8", "replace"), attributes)
            return
        if not destination:
            log(f"{fn.name}: asynchronous event discarded after {attempts} attempts ({outcome.error})")
            return
        record = {
            "version": "1.0",
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": f"{fn.spec['arn']}:$LATEST",
                               "condition": "RetriesExhausted", "approximateInvokeCount": attempts},
            "requestPayload": json.loads(payload or b"{}"),
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": json.loads(outcome.payload),
        }
        await loop.run_in_executor(None, self.send_to_destination, fn, destination, json.dumps(record), {})

    def send_to_destination(self, fn, arn, body, attributes):
        # Lambda sends with the function's role: its policy must allow it (SAM adds that).
        sqs = dep.aws_client("sqs", fn.spec["access_key"], "local-secret")
        try:
            sqs.send_message(QueueUrl=dep.queue_url(arn), MessageBody=body, MessageAttributes=attributes)
            log(f"{fn.name}: asynchronous event sent to {arn} after its retries")
        except Exception as e:  # what Lambda would show in its metrics: the event is lost
            log(f"{fn.name}: could not send a failed event to {arn}: {e}")

    # --- local additions -----------------------------------------------------------------

    async def invocations(self, request):
        fn = self.functions.get(request.match_info["name"])
        if fn is None:
            raise web.HTTPNotFound()
        since = float(request.query.get("since", "0"))
        out = []
        for at, payload in fn.journal:
            if at >= since:
                try:
                    out.append({"at": at, "event": json.loads(payload or b"{}")})
                except ValueError:
                    out.append({"at": at, "raw": payload.decode("utf-8", "replace")})
        return web.json_response(out)

    async def register(self, request):
        spec = await request.json()
        name = request.match_info["name"]
        spec.setdefault("name", name)
        old = self.functions.get(name)
        self.functions[name] = Function(spec, self.bins, self.logs, self.local_env)
        if old is not None:
            for env in list(old.idle):
                await env.kill()
        return web.json_response({"registered": name}, status=201)

    async def health(self, request):
        return web.json_response({"functions": sorted(self.functions)})


async def main_async(args):
    deployment = dep.load(args.deployment)
    local_env = json.loads(Path(args.local_env).read_text()) if args.local_env else {}
    service = Service(deployment, args.bins, args.logs, local_env)

    runtime = web.Application(client_max_size=RESPONSE_LIMIT + 1024)
    runtime.add_routes([
        web.get("/2018-06-01/runtime/invocation/next", service.next),
        web.post("/2018-06-01/runtime/invocation/{id}/response", service.response),
        web.post("/2018-06-01/runtime/invocation/{id}/error", service.invocation_error),
        web.post("/2018-06-01/runtime/init/error", service.init_error),
    ])
    service.runtime_runner = web.AppRunner(runtime, access_log=None, handle_signals=False)
    await service.runtime_runner.setup()

    api = web.Application(client_max_size=SYNC_REQUEST_LIMIT + 1024)
    api.add_routes([
        web.post("/2015-03-31/functions/{name}/invocations", service.invoke),
        web.get("/_local/functions/{name}/invocations", service.invocations),
        web.put("/_local/functions/{name}", service.register),
        web.get("/health", service.health),
    ])
    api_runner = web.AppRunner(api, access_log=None, handle_signals=False)
    await api_runner.setup()
    await web.TCPSite(api_runner, args.host, args.port, backlog=1024).start()
    log(f"{len(service.functions)} functions on http://{args.host}:{args.port}")
    reaper = asyncio.ensure_future(service.reap())

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    reaper.cancel()
    for env in list(service.everything):
        await env.kill()
    await api_runner.cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=dep.HOST)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--deployment", default=str(dep.DEPLOYMENT_FILE))
    parser.add_argument("--local-env", help="JSON file of settings every function gets on this machine")
    parser.add_argument("--bins", default=str(dep.ROOT / "target" / "debug"))
    parser.add_argument("--logs", default=str(dep.ROOT / "target" / "dev" / "lambda"))
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
