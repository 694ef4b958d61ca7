"""The official Python SDK (openai-codex) over kelp's background terminals: a turn whose
command goes on running (the fake's `coding` scenario runs the prompt with `exec_command`),
then Codex 0.171's `thread/backgroundTerminals/list`, `terminate` and `clean` through the
SDK's own JSON-RPC client (its 0.163 types predate them, so the answers are read raw).
"""
import os, tempfile
from pathlib import Path

from openai_codex import Codex
from openai_codex.client import CodexConfig

HERE = Path(__file__).resolve().parent
FAKE = os.environ.get("KELP_FAKE", "http://127.0.0.1:8765")
home, project = tempfile.mkdtemp(), tempfile.mkdtemp()
env = {"HOME": home, "KELP_AUTH_ISSUER": FAKE, "KELP_CODEX_BASE_URL": FAKE + "/backend-api/codex",
       "OPENAI_BASE_URL": FAKE + "/v1"}
config = CodexConfig(codex_bin=str(HERE / "kelp-as-codex.sh"), env=env, cwd=project)
with Codex(config) as codex:
    client = codex._client
    codex.login_api_key("sk-test-kelp-0000000000000000abcd")
    thread = codex.thread_start()
    turn = thread.run("echo serving; exec sleep 45.2718")
    print("turn:", turn.status)
    listed = client._request_raw("thread/backgroundTerminals/list", {"threadId": thread.id})
    for terminal in listed["data"]:
        print("terminal:", terminal["processId"], terminal["command"], "pid", terminal["osPid"],
              "rss", terminal["rssKb"], "kB, item", terminal["itemId"])
    first = listed["data"][0]["processId"]
    print("terminate:", client._request_raw("thread/backgroundTerminals/terminate",
                                            {"threadId": thread.id, "processId": first}))
    print("terminate again:", client._request_raw("thread/backgroundTerminals/terminate",
                                                  {"threadId": thread.id, "processId": first}))
    print("clean:", client._request_raw("thread/backgroundTerminals/clean", {"threadId": thread.id}))
    print("left:", client._request_raw("thread/backgroundTerminals/list", {"threadId": thread.id})["data"])
