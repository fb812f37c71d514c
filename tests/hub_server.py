"""A test fixture that serves files the way the Hugging Face Hub's `resolve` endpoint does, on 127.0.0.1.

It implements only what `huggingface_hub.hf_hub_download` calls: HEAD and GET
`/{repo_id}/resolve/{revision}/{filename}`, answering with `X-Repo-Commit`, `ETag` and
`Content-Length`. No self-hostable Hub server is on PyPI, hence this.
"""

import hashlib
import http.server
import threading


class HubServer:
    """Serves `files[(repo_id, revision, filename)] = bytes`; `endpoint` is its base URL."""

    def __init__(self):
        self.files = {}
        self.truncate = set()  # keys whose GET stops half-way, as a dropped connection does
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _find(self):
                server.requests.append((self.command, self.path))
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    return None
                key = ("/".join(parts[:2]), parts[3], "/".join(parts[4:]))
                return key, server.files.get(key)

            def _headers(self, key, body):
                self.send_response(200)
                self.send_header("X-Repo-Commit", key[1])
                self.send_header("ETag", '"' + hashlib.sha256(body).hexdigest() + '"')
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()

            def do_HEAD(self):  # noqa: N802
                found = self._find()
                if not found or found[1] is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.end_headers()
                    return
                self._headers(found[0], found[1])

            def do_GET(self):  # noqa: N802
                found = self._find()
                if not found or found[1] is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self._headers(found[0], found[1])
                body = found[1]
                if found[0] in server.truncate:
                    body = body[: len(body) // 2]
                    self.close_connection = True
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
