"""The local API Gateway answers as API Gateway's HTTP API does: every connection of a burst
taken, function failures as 500, integrations past the timeout as 503, bodies over 10 MB as
413 and events over Lambda's 6 MB as 500."""

import concurrent.futures
import json
import socket
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

from tests import support

TEMPLATE = """
Resources:
  OkFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: gw-ok}}
    Properties:
      Events:
        Api: {Type: HttpApi, Properties: {Method: GET, Path: /ok}}
        Post: {Type: HttpApi, Properties: {Method: POST, Path: /ok}}
  ThrottledFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: gw-one}}
    Properties:
      Events:
        Api: {Type: HttpApi, Properties: {Method: GET, Path: /one}}
"""


class Gateway(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        binary = support.runtime_binary(cls.dir.name)
        functions = {f["name"]: f for f in [support.function("gw-ok", binary, timeout=10),
                                              support.function("gw-one", binary, reserved=1)]}
        deployment = Path(cls.dir.name) / "deployment.json"
        deployment.write_text(json.dumps({"functions": functions}))
        template = Path(cls.dir.name) / "template.yaml"
        template.write_text(TEMPLATE)
        lambda_port, port = support.free_port(), support.free_port()
        lambda_url = f"http://127.0.0.1:{lambda_port}"
        cls.lambdas = support.Process(["lambda_service.py", "--port", str(lambda_port), "--deployment", str(deployment),
                                       "--logs", cls.dir.name], f"{lambda_url}/health")
        cls.url = f"http://127.0.0.1:{port}"
        cls.gateway = support.Process(["api_gateway.py", "--port", str(port), "--lambda-url", lambda_url,
                                       "--template", str(template)], f"{cls.url}/ok")
        # the same, with an integration timeout of 2 s rather than 30, to see it pass quickly
        impatient = support.free_port()
        cls.impatient_url = f"http://127.0.0.1:{impatient}"
        cls.impatient = support.Process(["api_gateway.py", "--port", str(impatient), "--lambda-url", lambda_url,
                                         "--template", str(template), "--integration-timeout", "2"],
                                        f"{cls.impatient_url}/ok")

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.impatient.stop()
        cls.lambdas.stop()
        cls.dir.cleanup()

    def get(self, path, method="GET", body=None, base=None):
        req = urllib.request.Request((base or self.url) + path, method=method, data=body,
                                     headers={"Content-Type": "application/octet-stream"} if body else {})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def test_a_burst_of_256_connections_is_taken_whole(self):
        # every connection opened before any is answered: the listen backlog holds them
        sockets = [socket.create_connection(("127.0.0.1", int(self.url.rsplit(":", 1)[1]))) for _ in range(256)]
        try:
            for s in sockets:
                s.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

            def answer(s):
                s.settimeout(120)
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
                return data.split(b" ", 2)[1]

            with concurrent.futures.ThreadPoolExecutor(64) as pool:
                statuses = list(pool.map(answer, sockets))
        finally:
            for s in sockets:
                s.close()
        self.assertEqual(statuses, [b"200"] * 256)

    def test_a_failing_function_is_a_500(self):
        for query in ("fail=boom", "exit=2"):
            status, body = self.get(f"/ok?{query}")
            self.assertEqual((status, json.loads(body)), (500, {"message": "Internal Server Error"}), query)

    def test_an_integration_past_the_timeout_is_a_503(self):
        status, body = self.get("/ok?sleep=4", base=self.impatient_url)
        self.assertEqual((status, json.loads(body)), (503, {"message": "Service Unavailable"}))

    def test_a_throttled_function_is_a_500(self):
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            slow = pool.submit(self.get, "/one?sleep=1.5")
            time.sleep(0.7)
            status, body = self.get("/one")
        self.assertEqual(slow.result()[0], 200)
        self.assertEqual((status, json.loads(body)), (500, {"message": "Internal Server Error"}))

    def test_payload_limits(self):
        status, body = self.get("/ok", "POST", b"x" * (10 * 1024 * 1024 + 1))
        self.assertEqual((status, json.loads(body)), (413, {"message": "Request Entity Too Large"}))
        # under API Gateway's 10 MB but over Lambda's 6 MB once in the event: Lambda refuses
        status, body = self.get("/ok", "POST", b"x" * (5 * 1024 * 1024))
        self.assertEqual((status, json.loads(body)), (500, {"message": "Internal Server Error"}))
        status, _ = self.get("/ok", "POST", b"x" * (1024 * 1024))
        self.assertEqual(status, 200)


if __name__ == "__main__":
    unittest.main()
