"""The local Lambda service plays Lambda's limits: timeouts, payload sizes, crashes, reserved
concurrency, asynchronous retries and dead-letter queues."""

import concurrent.futures
import json
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

from tests import support


def start_service(cls, functions, env):
    """The service on `cls` (`port`, `url`, `service`) with these functions, its roles loaded
    into `cls.moto` (which checks the destinations' senders against them)."""
    deployment = Path(cls.dir.name) / "deployment.json"
    deployment.write_text(json.dumps({"functions": functions}))
    support.post_json(f"{cls.moto.url}/_local/iam/load", {"deployment": str(deployment)})
    cls.port = support.free_port()
    cls.url = f"http://127.0.0.1:{cls.port}"
    cls.service = support.Process(
        ["lambda_service.py", "--port", str(cls.port), "--deployment", str(deployment), "--logs", cls.dir.name],
        f"{cls.url}/health",
        env={"LINKGATE_MOTO_PORT": cls.moto.url.rsplit(":", 1)[1], **env},
    )


class LambdaService(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.moto = support.moto()
        sqs = support.client("sqs", cls.moto.url)
        cls.dlq_url = sqs.create_queue(QueueName="test-dlq")["QueueUrl"]
        dlq_arn = f"arn:aws:sqs:{support.REGION}:{support.ACCOUNT}:test-dlq"
        binary = support.runtime_binary(cls.dir.name)
        failing = support.function("failing-async", binary, dead_letter=dlq_arn, retries=2)
        failing["statements"] = [{"effect": "Allow", "actions": ["sqs:SendMessage"], "resources": [dlq_arn]}]
        unpermitted = support.function("dlq-not-allowed", binary, dead_letter=dlq_arn, retries=0)
        functions = {f["name"]: f for f in [
            support.function("plain", binary, timeout=5),
            support.function("quick", binary, timeout=1),
            support.function("one-at-a-time", binary, reserved=1),
            failing, unpermitted,
        ]}
        start_service(cls, functions, {"LINKGATE_ASYNC_RETRY_DELAYS": "0.1"})

    @classmethod
    def tearDownClass(cls):
        cls.service.stop()
        cls.moto.stop()
        cls.dir.cleanup()

    def invoke(self, name, event, kind="RequestResponse", raw=None):
        body = raw if raw is not None else json.dumps(event).encode()
        req = urllib.request.Request(f"{self.url}/2015-03-31/functions/{name}/invocations", data=body, method="POST",
                                     headers={"X-Amz-Invocation-Type": kind})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def test_an_invocation_runs_the_binary_with_its_role_and_answers_its_payload(self):
        status, headers, body = self.invoke("plain", {"hello": "world"})
        self.assertEqual(status, 200)
        self.assertNotIn("X-Amz-Function-Error", headers)
        answer = json.loads(body)
        self.assertEqual(answer["event"], {"hello": "world"})
        self.assertEqual(answer["function"], "plain")
        self.assertEqual(answer["key"], "ASIATESTPLAIN")

    def test_a_warm_environment_is_reused_and_concurrent_ones_run_side_by_side(self):
        first = json.loads(self.invoke("plain", {})[2])["pid"]
        self.assertEqual(json.loads(self.invoke("plain", {})[2])["pid"], first, "warm: same process")
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: self.invoke("plain", {"sleep": 1}), range(4)))
        pids = {json.loads(body)["pid"] for _, _, body in answers}
        self.assertEqual(len(pids), 4, "four concurrent invocations, four environments")

    def test_an_invocation_past_the_timeout_is_ended_as_lambda_ends_it(self):
        warm = json.loads(self.invoke("quick", {})[2])["pid"]
        status, headers, body = self.invoke("quick", {"sleep": 3})
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("X-Amz-Function-Error"), "Unhandled")
        error = json.loads(body)
        self.assertEqual(error["errorType"], "Sandbox.Timedout")
        self.assertIn("Task timed out after 1.00 seconds", error["errorMessage"])
        # the environment (the warm one, reused) was reset: the next invocation gets a new one
        after = json.loads(self.invoke("quick", {})[2])["pid"]
        self.assertNotEqual(after, warm)

    def test_a_function_error_and_a_crash_are_function_errors(self):
        status, headers, body = self.invoke("plain", {"fail": "no luck"})
        self.assertEqual((status, headers.get("X-Amz-Function-Error")), (200, "Unhandled"))
        self.assertEqual(json.loads(body), {"errorType": "Test.Failed", "errorMessage": "no luck"})
        status, headers, body = self.invoke("plain", {"exit": 3})
        self.assertEqual(headers.get("X-Amz-Function-Error"), "Unhandled")
        error = json.loads(body)
        self.assertEqual(error["errorType"], "Runtime.ExitError")
        self.assertIn("exit status 3", error["errorMessage"])

    def test_payloads_over_lambdas_limits_are_refused(self):
        status, headers, body = self.invoke("plain", None, raw=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
        self.assertEqual(status, 413)
        self.assertEqual(headers.get("x-amzn-ErrorType"), "RequestTooLargeException")
        self.assertIn("6291456 bytes", json.loads(body)["message"])
        status, headers, _ = self.invoke("plain", None, kind="Event", raw=b'"' + b"x" * (256 * 1024) + b'"')
        self.assertEqual((status, headers.get("x-amzn-ErrorType")), (413, "RequestTooLargeException"))
        # a response over 6 MB: the function's invocation fails
        status, headers, body = self.invoke("plain", {"answer_bytes": 6291556})
        self.assertEqual(headers.get("X-Amz-Function-Error"), "Unhandled")
        self.assertEqual(json.loads(body)["errorType"], "Function.ResponseSizeTooLarge")
        # just under passes
        status, headers, body = self.invoke("plain", {"answer_bytes": 6291556 - 100})
        self.assertNotIn("X-Amz-Function-Error", headers)

    def test_reserved_concurrency_throttles_what_exceeds_it(self):
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            slow = pool.submit(self.invoke, "one-at-a-time", {"sleep": 2})
            time.sleep(0.8)  # the first holds the only environment
            status, headers, body = self.invoke("one-at-a-time", {})
            self.assertEqual(slow.result()[0], 200)
        self.assertEqual(status, 429)
        self.assertEqual(headers.get("x-amzn-ErrorType"), "TooManyRequestsException")
        self.assertEqual(json.loads(body)["Reason"], "ReservedFunctionConcurrentInvocationLimitExceeded")

    def test_an_unknown_function_is_not_found(self):
        status, headers, _ = self.invoke("nobody", {})
        self.assertEqual((status, headers.get("x-amzn-ErrorType")), (404, "ResourceNotFoundException"))

    def test_a_failing_asynchronous_event_is_retried_then_dead_lettered_with_the_functions_role(self):
        marker = f"async-{time.time()}"
        status, _, _ = self.invoke("failing-async", {"fail": marker}, kind="Event")
        self.assertEqual(status, 202)
        sqs = support.client("sqs", self.moto.url)
        got = []
        for _ in range(100):
            got += sqs.receive_message(QueueUrl=self.dlq_url, WaitTimeSeconds=1,
                                       MessageAttributeNames=["All"]).get("Messages", [])
            if got:
                break
        self.assertEqual(len(got), 1)
        self.assertEqual(json.loads(got[0]["Body"]), {"fail": marker})
        self.assertEqual(got[0]["MessageAttributes"]["ErrorMessage"]["StringValue"], marker)
        seen = json.loads(urllib.request.urlopen(f"{self.url}/_local/functions/failing-async/invocations").read())
        self.assertEqual(sum(1 for i in seen if i.get("event") == {"fail": marker}), 3, "once and two retries")

    def test_a_dead_letter_queue_the_role_may_not_send_to_loses_the_event(self):
        marker = f"lost-{time.time()}"
        self.assertEqual(self.invoke("dlq-not-allowed", {"fail": marker}, kind="Event")[0], 202)
        for _ in range(100):
            if "could not send a failed event" in self.service.output():
                break
            time.sleep(0.1)
        self.assertIn("AccessDenied", self.service.output())


class Reaping(unittest.TestCase):
    """Idle environments end after a while, as Lambda's do; never one an invocation took."""

    IDLE = 0.3

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.moto = support.moto()
        binary = support.runtime_binary(cls.dir.name)
        start_service(cls, {"plain": support.function("plain", binary)},
                      {"LINKGATE_LOCAL_IDLE_SECONDS": str(cls.IDLE), "LINKGATE_LOCAL_REAP_SECONDS": "0.005"})

    @classmethod
    def tearDownClass(cls):
        cls.service.stop()
        cls.moto.stop()
        cls.dir.cleanup()

    invoke = LambdaService.invoke

    def test_an_idle_environment_is_ended(self):
        first = json.loads(self.invoke("plain", {})[2])["pid"]
        time.sleep(self.IDLE + 0.3)
        self.assertNotEqual(json.loads(self.invoke("plain", {})[2])["pid"], first)

    def test_an_environment_taken_as_the_reaper_runs_finishes_its_invocation(self):
        # Rounds of eight at once, each arriving as the last round's environments turn
        # idle-expired: the reaper is ending some while the round takes others.
        failed, pids = [], set()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for n in range(20):
                for status, headers, body in pool.map(lambda _: self.invoke("plain", {"sleep": 0.05}), range(8)):
                    if status != 200 or "X-Amz-Function-Error" in headers:
                        failed.append(body)
                    else:
                        pids.add(json.loads(body)["pid"])
                time.sleep(self.IDLE + (n % 5) * 0.003)
        self.assertEqual(failed, [])
        self.assertGreater(len(pids), 8, "the reaper ended environments between rounds")


if __name__ == "__main__":
    unittest.main()
