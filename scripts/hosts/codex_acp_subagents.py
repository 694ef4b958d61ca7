"""codex-acp showing each agent of kelp's team as a session of its own: a bare ACP client (raw
JSON-RPC over stdio, as the Python SDK has no `subagents` capability yet) announces
`clientCapabilities.subagents`, prompts the fake's `team` scenario, and prints each session's
updates and words: the reader's and the builder's answers and the builder's command land in
their own sessions, the parent's waits and answer in the root one.

Usage: codex_acp_subagents.py   (the fake's `team` scenario on KELP_FAKE, default port 8765)
"""
import json, os, subprocess, sys, tempfile, threading, queue, time
from pathlib import Path

FAKE = os.environ.get("KELP_FAKE", "http://127.0.0.1:8765")
CODEX_ACP = os.environ.get("CODEX_ACP", "/tmp/hosts/node_modules/.bin/codex-acp")
HERE = Path(__file__).resolve().parent

home, project = tempfile.mkdtemp(), tempfile.mkdtemp()
(Path(project) / "README.md").write_text("# shop\n")
config = Path(home) / ".config/kelp"; config.mkdir(parents=True)
(config / "config.toml").write_text("[features]\nmulti_agent_v2 = true\n")
env = {"HOME": home, "PATH": os.environ["PATH"], "NO_BROWSER": "1",
       "CODEX_PATH": os.environ.get("CODEX_PATH", str(HERE / "kelp-as-codex.sh")),
       "KELP_AUTH_ISSUER": FAKE, "KELP_CODEX_BASE_URL": FAKE + "/backend-api/codex",
       "OPENAI_BASE_URL": FAKE + "/v1", "OPENAI_API_KEY": "sk-test-kelp-0000000000000000abcd"}
p = subprocess.Popen([CODEX_ACP], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=project, text=True, bufsize=1)
inbox = queue.Queue()
threading.Thread(target=lambda: [inbox.put(json.loads(l)) for l in p.stdout], daemon=True).start()
nid = 0
updates = []
def send(msg):
    p.stdin.write(json.dumps(msg) + "\n"); p.stdin.flush()
def call(method, params, timeout=60):
    global nid
    nid += 1; me = nid
    send({"jsonrpc": "2.0", "id": me, "method": method, "params": params})
    end = time.time() + timeout
    while time.time() < end:
        m = inbox.get(timeout=end - time.time())
        if m.get("id") == me and "method" not in m:
            return m
        handle(m)
    raise TimeoutError(method)
def handle(m):
    if m.get("method") == "session/update":
        updates.append(m["params"])
    elif m.get("method") == "session/request_permission":
        opts = m["params"]["options"]
        allow = next(o for o in opts if o["kind"] == "allow_once")
        print("PERMISSION", m["params"]["sessionId"][-6:], m["params"]["toolCall"].get("title"))
        send({"jsonrpc": "2.0", "id": m["id"], "result": {"outcome": {"outcome": "selected", "optionId": allow["optionId"]}}})
    elif "id" in m and "method" in m:
        send({"jsonrpc": "2.0", "id": m["id"], "result": {}})
print(call("initialize", {"protocolVersion": 1, "clientCapabilities": {"subagents": {}, "fs": {"readTextFile": False, "writeTextFile": False}}})["result"].get("agentCapabilities"))
call("authenticate", {"methodId": "api-key"})
sid = call("session/new", {"cwd": project, "mcpServers": []})["result"]["sessionId"]
print("root", sid[-6:])
print(call("session/prompt", {"sessionId": sid, "prompt": [{"type": "text", "text": "split the work"}]}, 90).get("result"))
time.sleep(1)
while not inbox.empty(): handle(inbox.get())
by = {}
for u in updates:
    s = u["sessionId"][-6:]; k = u["update"]["sessionUpdate"]
    if k == "agent_message_chunk":
        by.setdefault(s, []).append(u["update"]["content"].get("text", ""))
    elif k not in ("usage_update",):
        print(s, k, json.dumps({x: y for x, y in u["update"].items() if x in ("title", "name", "task", "subagentSessionId", "state", "status", "kind")})[:200])
for s, t in by.items():
    print("said in", s, ":", "".join(t)[:200])
p.kill()
