"""The official Python SDK (openai-codex) with kelp as its codex binary."""
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
    codex.login_api_key("sk-test-kelp-0000000000000000abcd")
    print("models:", [m.id for m in codex.models().data])
    thread = codex.thread_start()
    print("thread:", thread.id)
    result = thread.run("echo hello")
    print("turn:", result.status, "—", (result.final_response or "")[:120].replace("\n", " | "))
    print("threads:", [(t.id, t.preview) for t in codex.thread_list().data])
