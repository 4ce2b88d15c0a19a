"""A minimal function for testing the local Lambda service itself (not product code): it
speaks Lambda's Runtime API like any runtime and does what each event asks, so the service's
handling of timeouts, crashes, oversized answers and concurrency can be driven exactly.

Event fields (from API Gateway: query parameters): `sleep` (seconds), `fail` (an error
message), `exit` (a status to exit with), `answer_bytes` (answer that many bytes); otherwise
it answers {"pid", "event", ...}, as an API Gateway response when called through one.
"""

import json
import os
import sys
import time
import urllib.request

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"


def post(path, body):
    req = urllib.request.Request(f"{API}{path}", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=30).read()
    except Exception as e:  # the service refusing an oversized answer, say
        print(f"post {path}: {e}", file=sys.stderr, flush=True)


def main():
    if os.environ.get("TEST_INIT_FAIL"):
        post("/init/error", json.dumps({"errorType": "Test.InitFailed", "errorMessage": "asked to"}).encode())
        sys.exit(1)
    while True:
        with urllib.request.urlopen(f"{API}/invocation/next", timeout=3600) as r:
            rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(r.read() or b"{}")
        http = "requestContext" in event
        if http:  # from API Gateway: what to do comes in the query string
            event = {**(event.get("queryStringParameters") or {}), "statusCode": 200,
                     "path": event["requestContext"]["http"]["path"]}
        time.sleep(float(event.get("sleep", 0)))
        if "exit" in event:
            sys.exit(int(event["exit"]))
        if "fail" in event:
            post(f"/invocation/{rid}/error", json.dumps({"errorType": "Test.Failed", "errorMessage": event["fail"]}).encode())
            continue
        if "answer_bytes" in event:
            post(f"/invocation/{rid}/response", json.dumps("x" * int(event["answer_bytes"])).encode())
            continue
        answer = {"pid": os.getpid(), "event": event, "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
                  "key": os.environ.get("AWS_ACCESS_KEY_ID")}
        if "statusCode" in event:  # an API Gateway answer
            answer = {"statusCode": event["statusCode"], "body": json.dumps(answer)}
        post(f"/invocation/{rid}/response", json.dumps(answer).encode())


if __name__ == "__main__":
    main()
