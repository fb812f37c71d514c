"""A test fixture that serves files the way the Hugging Face Hub's `resolve` endpoint does, on 127.0.0.1.

It implements only what kssl's calls into `huggingface_hub` use:
- downloads (`hf_hub_download`): HEAD and GET `/{repo_id}/resolve/{revision}/{filename}`, answering
  with `X-Repo-Commit`, `ETag` and `Content-Length`;
- publishing (`HfApi`): `POST /api/repos/create`, `GET /api/models/{repo}/refs`,
  `POST /api/models/{repo}/preupload/{rev}` (every file "regular", so no LFS/Xet),
  `POST /api/models/{repo}/commit/{rev}` (NDJSON, base64 contents), `POST|DELETE .../tag/{name}`,
  `POST /api/validate-yaml`.
  Writes need `Authorization: Bearer <token>` equal to `token`.
No self-hostable Hub server is on PyPI, hence this.
"""

import base64
import hashlib
import http.server
import json
import threading
import time


class HubServer:
    """Serves `files[(repo_id, revision, filename)] = bytes`; `endpoint` is its base URL."""

    def __init__(self):
        self.files = {}
        self.tags = {}  # (repo_id, tag) -> commit
        self.heads = {}  # repo_id -> latest commit
        self.token = "hf_test_token_do_not_print"
        self.truncate = set()  # keys whose GET stops half-way, as a dropped connection does
        self.requests = []
        self.get_delay = 0.0  # seconds each file GET waits, so concurrent downloads overlap
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

            def _json(self, status, payload):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _api(self):
                """Handles /api/...; returns False for other paths."""
                path = self.path.split("?")[0]
                if not path.startswith("/api/"):
                    return False
                server.requests.append((self.command, path))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.command != "GET" and self.headers.get("Authorization") != f"Bearer {server.token}":
                    self._json(401, {"error": "Invalid credentials"})
                    return True
                parts = path.strip("/").split("/")
                if parts[1:] == ["validate-yaml"]:  # model-card front matter check before a commit
                    self._json(200, {"errors": [], "warnings": []})
                    return True
                if parts[1:] == ["repos", "create"]:
                    data = json.loads(body)
                    repo = f"{data.get('organization') or 'user'}/{data['name']}" if "/" not in data["name"] else data["name"]
                    server.heads.setdefault(repo, "0" * 40)
                    self._json(200, {"url": f"{server.endpoint}/{repo}"})
                    return True
                repo, action = "/".join(parts[2:4]), parts[4] if len(parts) > 4 else ""
                if action == "refs":
                    tags = [{"name": t, "ref": f"refs/tags/{t}", "targetCommit": c}
                            for (r, t), c in server.tags.items() if r == repo]
                    head = server.heads.get(repo, "0" * 40)
                    self._json(200, {"branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": head}],
                                     "converts": [], "tags": tags, "pullRequests": []})
                elif action == "preupload":
                    files = json.loads(body)["files"]
                    self._json(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                               for f in files]})
                elif action == "commit":
                    added = {}
                    for line in body.splitlines():
                        item = json.loads(line)
                        if item["key"] == "file":
                            added[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    commit = hashlib.sha1(repr(sorted(added.items())).encode()).hexdigest()
                    for filename, content in added.items():
                        server.files[(repo, commit, filename)] = content
                        server.files[(repo, "main", filename)] = content
                    server.heads[repo] = commit
                    self._json(200, {"commitUrl": f"{server.endpoint}/{repo}/commit/{commit}", "commitOid": commit})
                elif action == "tag" and self.command == "DELETE":
                    server.tags.pop((repo, parts[5]), None)
                    self._json(200, {})
                elif action == "tag":
                    tag = json.loads(body)["tag"]
                    if (repo, tag) in server.tags:
                        self._json(409, {"error": f"tag {tag} exists"})
                    else:
                        server.tags[(repo, tag)] = parts[5]
                        self._json(200, {})
                else:
                    self._json(404, {"error": f"not implemented in the test Hub: {self.command} {path}"})
                return True

            def do_POST(self):  # noqa: N802
                self._api() or self._json(404, {"error": "unknown"})

            def do_DELETE(self):  # noqa: N802
                self._api() or self._json(404, {"error": "unknown"})

            def do_HEAD(self):  # noqa: N802
                found = self._find()
                if not found or found[1] is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.end_headers()
                    return
                self._headers(found[0], found[1])

            def do_GET(self):  # noqa: N802
                if self._api():
                    return
                found = self._find()
                if not found or found[1] is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                time.sleep(server.get_delay)
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
