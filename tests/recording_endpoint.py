"""A local HTTP endpoint that records what it receives and answers from a script: SendGrid's stand-in
address for tests, while the real `sendgrid` client does the talking."""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Reply:
    status: int = 202
    body: dict[str, Any] | None = None
    delay: float = 0.0
    text: str | None = None  # a recorded answer served as it is (CSV, XML), instead of `body` as JSON
    content_type: str = "application/json"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class RecordingEndpoint:
    script: list[Reply] = field(default_factory=list)
    default: Reply = field(default_factory=Reply)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                kind = self.headers.get("Content-Type", "")
                if kind.startswith("application/x-www-form-urlencoded"):
                    body = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}  # Twilio
                elif kind.startswith("application/xml"):
                    body = {"xml": raw.decode()}  # an e-invoicing platform
                else:
                    body = json.loads(raw or b"{}")
                endpoint.requests.append(Recorded("POST", self.path, dict(self.headers.items()), body))
                self._answer()

            def do_GET(self) -> None:
                endpoint.requests.append(Recorded("GET", self.path, dict(self.headers.items()), {}))
                self._answer()

            def _answer(self) -> None:
                reply = endpoint.script.pop(0) if endpoint.script else endpoint.default
                time.sleep(reply.delay)
                payload = reply.text.encode() if reply.text is not None else json.dumps(reply.body or {}).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(payload)))
                if reply.status == 202:
                    self.send_header("X-Message-Id", f"msg-{len(endpoint.requests)}")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
