"""A fake Google OAuth token endpoint on a real local port.

allauth exchanges the authorization code here and receives an ID token whose claims the test chose. Because
the token comes straight from the token endpoint, allauth (per OpenID Connect Core) checks issuer, audience and
expiry but not the signature, so an HS256 token is enough.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt


class FakeGoogle:
    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.claims: dict[str, Any] = {}
        self.token_requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fake.token_requests.append(self.rfile.read(length).decode())
                body = json.dumps(
                    {
                        "access_token": "fake-access-token",
                        "token_type": "Bearer",
                        "expires_in": 3599,
                        "scope": "openid email profile",
                        "id_token": fake.id_token(),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def id_token(self) -> str:
        now = int(time.time())
        payload = {
            "iss": "https://accounts.google.com",
            "aud": self.client_id,
            "azp": self.client_id,
            "iat": now,
            "exp": now + 3600,
            **self.claims,
        }
        return jwt.encode(payload, "fake-google-signing-key-" + "z" * 32, algorithm="HS256")

    def start(self) -> FakeGoogle:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
