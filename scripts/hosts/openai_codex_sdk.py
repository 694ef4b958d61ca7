"""The official Python SDK (openai-codex) with kelp as its codex binary.

After a turn (a command and a patch, against the fake's `coding` scenario), the SDK's own client
and its generated response types drive what a host does around it: the thread read back with its
turns, `fs/readFile` of the file the patch wrote, `command/exec` fed through
`command/exec/write`, `thread/revert` to before the turn, and the thread list.
"""
import base64, os, tempfile, threading
from pathlib import Path

from openai_codex import Codex
from openai_codex.client import CodexConfig
from openai_codex.generated.v2_all import (
    CommandExecResponse, CommandExecWriteResponse, FsReadFileResponse, ThreadReadResponse,
    ThreadRevertResponse,
)

HERE = Path(__file__).resolve().parent
FAKE = os.environ.get("KELP_FAKE", "http://127.0.0.1:8765")
home, project = tempfile.mkdtemp(), tempfile.mkdtemp()
env = {"HOME": home, "KELP_AUTH_ISSUER": FAKE, "KELP_CODEX_BASE_URL": FAKE + "/backend-api/codex",
       "OPENAI_BASE_URL": FAKE + "/v1"}
config = CodexConfig(codex_bin=str(HERE / "kelp-as-codex.sh"), env=env, cwd=project)
with Codex(config) as codex:
    client = codex._client
    codex.login_api_key("sk-test-kelp-0000000000000000abcd")
    print("models:", [m.id for m in codex.models().data])
    thread = codex.thread_start()
    print("thread:", thread.id)
    result = thread.run("echo hello")
    print("turn:", result.status, "—", (result.final_response or "")[:120].replace("\n", " | "))

    read = client.request("thread/read", {"threadId": thread.id, "includeTurns": True},
                          response_model=ThreadReadResponse)
    turn_ids = [t.id for t in read.thread.turns]
    kinds = [i.root.type for t in read.thread.turns for i in t.items]
    print("thread/read:", len(turn_ids), "turn(s), items", kinds)

    notes = str(Path(project) / "kelp-notes.md")
    file = client.request("fs/readFile", {"path": notes}, response_model=FsReadFileResponse)
    print("fs/readFile kelp-notes.md:", base64.b64decode(file.data_base64).decode().strip())

    answer = {}
    def run():
        answer["exec"] = client.request(
            "command/exec",
            {"command": ["cat"], "cwd": project, "processId": "p1", "streamStdin": True},
            response_model=CommandExecResponse)
    runner = threading.Thread(target=run)
    runner.start()
    for _ in range(50):
        try:
            client.request("command/exec/write",
                           {"processId": "p1", "deltaBase64": base64.b64encode(b"fed through stdin\n").decode(),
                            "closeStdin": True},
                           response_model=CommandExecWriteResponse)
            break
        except Exception:  # the process is not started yet
            threading.Event().wait(0.1)
    runner.join(30)
    print("command/exec with stdin:", answer["exec"].exit_code, repr(answer["exec"].stdout))

    reverted = client.request("thread/revert", {"threadId": thread.id, "beforeTurnId": turn_ids[0]},
                              response_model=ThreadRevertResponse)
    print("thread/revert: turns left", len(reverted.thread.turns))
    print("threads:", [(t.id, t.preview) for t in codex.thread_list().data])
