"""An ACP client driving codex-acp in its "Auto review" mode, which runs kelp as its codex with
`approvalsReviewer: "auto_review"`: the fake's reviewer (in every scenario) allows a command
that asks to leave the sandbox and denies one that deletes, and neither reaches the person.

Usage: codex_acp_auto_review.py   (the fake on KELP_FAKE, scenario `shell`)
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


def reviews(updates):
    """Each guardian tool call as codex-acp last showed it: its title and status."""
    seen = {}
    for u in updates:
        call_id = getattr(u, "tool_call_id", "") or ""
        if call_id.startswith("guardian_assessment:"):
            last = seen.setdefault(call_id, {})
            for field in ("title", "status"):
                if getattr(u, field, None):
                    last[field] = getattr(u, field)
    return list(seen.values())


def said(updates):
    return "".join(getattr(u.content, "text", "") for u in updates if type(u).__name__ == "AgentMessageChunk")


async def main():
    home, project = tempfile.mkdtemp(), tempfile.mkdtemp()
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
        modes = session.modes
        print("modes:", [(m.id, m.name) for m in modes.available_modes], "current:", modes.current_mode_id)
        auto = next(m.id for m in modes.available_modes if m.name == "Auto review")
        if modes.current_mode_id != auto:
            await conn.set_session_mode(mode_id=auto, session_id=session.session_id)
        for prompt in ["outside it needs the network -- echo reached > fetched.txt",
                       "outside cleanup -- rm -rf build"]:
            client.updates.clear()
            client.permissions.clear()
            answer = await conn.prompt(session_id=session.session_id, prompt=[text_block(prompt)])
            print("prompt:", prompt)
            print("  stop reason:", answer.stop_reason)
            print("  asked the person:", client.permissions)
            print("  reviews shown:", reviews(client.updates))
            print("  answer:", said(client.updates)[:240].replace("\n", " | "))
        fetched = Path(project) / "fetched.txt"
        print("fetched.txt:", fetched.read_text().strip() if fetched.exists() else "(not written)")


asyncio.run(main())
