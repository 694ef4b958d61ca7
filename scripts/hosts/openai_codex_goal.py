"""The official Python SDK (openai-codex) running a goal on kelp, as its client does: a thread
made persistent by one turn, then the SDK's goal operation (thread/goal/clear, thread/goal/set
active, the turns kelp starts itself routed as one logical turn) until the goal stops.

Run against the fake's `goal` scenario (`--scenario goal`: a step per turn, complete at the
third).
"""
import os, tempfile
from pathlib import Path

from openai_codex import Codex
from openai_codex.client import CodexConfig
from openai_codex.generated.v2_all import ThreadGoalGetResponse

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
    first = thread.run("say hello")
    print("first turn:", first.status)
    state, turn_id = client.start_goal_operation(thread.id, "make the tests pass")
    print("goal's first turn:", turn_id)
    seen = []
    while True:
        note = client.next_goal_notification(state)
        seen.append(note.method)
        if note.method == "thread/goal/updated":
            print("goal:", note.payload.goal.status, note.payload.goal.tokens_used, "tokens")
            if note.payload.goal.status.value != "active":
                break
    client.unregister_goal_operation(state)
    print("turns started:", seen.count("turn/started"))
    read = client.request("thread/goal/get", {"threadId": thread.id},
                          response_model=ThreadGoalGetResponse)
    print("thread/goal/get:", read.goal.status if read.goal else None)
