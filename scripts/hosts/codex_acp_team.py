"""codex-acp driving kelp's app-server with a team of agents (`[features] multi_agent_v2`), as
an editor would show it.

Usage: codex_acp_team.py   (the fake's `team` scenario on KELP_FAKE, default port 8765)

The prompt makes the model spawn a reader and a builder; the builder's command asks for
permission, which the editor is asked naming the agent; the parent waits for both answers.
Prints the tool calls the editor was shown, the permissions it was asked, and the answer.
"""
import asyncio, os, tempfile
from pathlib import Path

from acp import spawn_agent_process, text_block
from acp.schema import AllowedOutcome, ClientCapabilities, RequestPermissionResponse

HERE = Path(__file__).resolve().parent
FAKE = os.environ.get("KELP_FAKE", "http://127.0.0.1:8765")
CODEX_ACP = os.environ.get("CODEX_ACP", "/tmp/hosts/node_modules/.bin/codex-acp")


class Client:
    def __init__(self):
        self.updates, self.permissions = [], []

    async def request_permission(self, session_id, tool_call, options, **kw):
        self.permissions.append(tool_call.title)
        allow = next(o for o in options if o.kind == "allow_once")
        return RequestPermissionResponse(outcome=AllowedOutcome(option_id=allow.option_id, outcome="selected"))

    async def session_update(self, session_id, update, **kw):
        self.updates.append(update)

    async def ext_method(self, method, params):
        return {}

    async def ext_notification(self, method, params):
        pass

    def on_connect(self, conn):
        pass


async def main():
    home, project = tempfile.mkdtemp(), tempfile.mkdtemp()
    (Path(project) / "README.md").write_text("# shop\n")
    config = Path(home) / ".config/kelp"
    config.mkdir(parents=True)
    (config / "config.toml").write_text("[features]\nmulti_agent_v2 = true\n")
    env = {
        "HOME": home, "PATH": os.environ["PATH"], "NO_BROWSER": "1",
        "CODEX_PATH": str(HERE / "kelp-as-codex.sh"),
        "KELP_AUTH_ISSUER": FAKE, "KELP_CODEX_BASE_URL": FAKE + "/backend-api/codex",
        "OPENAI_BASE_URL": FAKE + "/v1", "OPENAI_API_KEY": "sk-test-kelp-0000000000000000abcd",
    }
    client = Client()
    async with spawn_agent_process(client, CODEX_ACP, env=env, cwd=project, use_unstable_protocol=True) as (conn, _):
        await conn.initialize(protocol_version=1, client_capabilities=ClientCapabilities())
        await conn.authenticate(method_id="api-key")
        session = await conn.new_session(cwd=project)
        answer = await asyncio.wait_for(
            conn.prompt(session_id=session.session_id, prompt=[text_block("split the work")]), 60)
        text = "".join(getattr(u.content, "text", "") for u in client.updates if type(u).__name__ == "AgentMessageChunk")
        print("stop reason:", answer.stop_reason)
        print("answer:", text[:300].replace("\n", " | "))
        print("permissions asked:", client.permissions)
        for u in client.updates:
            if type(u).__name__ in ("ToolCallStart", "ToolCallProgress"):
                print(type(u).__name__, getattr(u, "kind", None), getattr(u, "status", None), "|", (getattr(u, "title", None) or "")[:90])
        print("team-notes.md written:", (Path(project) / "team-notes.md").exists())


asyncio.run(main())
