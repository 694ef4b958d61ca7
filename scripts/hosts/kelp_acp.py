"""An ACP client (the agent-client-protocol SDK) driving `kelp acp` as an editor would.

Signs in by device code, opens a session, switches the mode, picks a model and an effort, sends
a prompt with an image, runs /compact and two reviews (one refused in words), then, reopened, lists the sessions and loads the one it
made. Against the fake server (`--scenario coding` or any other).
"""
import asyncio, base64, os, tempfile
from pathlib import Path

from acp import spawn_agent_process, text_block, image_block
from acp.schema import AllowedOutcome, ClientCapabilities, RequestPermissionResponse

HERE = Path(__file__).resolve().parent
FAKE = os.environ.get("KELP_FAKE", "http://127.0.0.1:8765")
KELP = os.environ.get("KELP_BIN", str(HERE / "../../target/debug/kelp"))
# A 1×1 PNG.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005050200"
    "5fc8f1d20000000049454e44ae426082")).decode()


class Client:
    def __init__(self):
        self.updates, self.permissions, self.closed = [], [], []

    async def request_permission(self, session_id, tool_call, options, **kw):
        self.permissions.append(tool_call.title)
        allow = next(o for o in options if o.kind == "allow_once")
        return RequestPermissionResponse(outcome=AllowedOutcome(option_id=allow.option_id, outcome="selected"))

    async def session_update(self, session_id, update, **kw):
        self.updates.append(update)

    async def create_elicitation(self, message, mode, **kw):
        print("shown to the person:", message)
        return {"action": "accept"}

    async def complete_elicitation(self, elicitation_id, **kw):
        self.closed.append(elicitation_id)
        print("the sign-in dialog closed:", elicitation_id)

    async def write_text_file(self, *a, **kw):
        raise RuntimeError("no editor buffers here")

    async def read_text_file(self, *a, **kw):
        raise RuntimeError("no editor buffers here")

    async def ext_method(self, method, params):
        return {}

    async def ext_notification(self, method, params):
        pass

    def on_connect(self, conn):
        pass


def kinds(updates):
    seen = {}
    for update in updates:
        seen[type(update).__name__] = seen.get(type(update).__name__, 0) + 1
    return seen


async def main():
    home, project = tempfile.mkdtemp(), tempfile.mkdtemp()
    env = {"HOME": home, "PATH": os.environ["PATH"], "SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22",
           "KELP_AUTH_ISSUER": FAKE, "KELP_CODEX_BASE_URL": FAKE + "/backend-api/codex",
           "OPENAI_BASE_URL": FAKE + "/v1"}
    client = Client()
    async with spawn_agent_process(client, KELP, "acp", env=env, cwd=project, use_unstable_protocol=True) as (conn, _):
        capabilities = ClientCapabilities.model_validate({"elicitation": {"url": {}}})
        init = await conn.initialize(protocol_version=1, client_capabilities=capabilities)
        print("sign-in methods:", [m.id for m in init.auth_methods or []])
        print("takes images:", init.agent_capabilities.prompt_capabilities.image)
        await conn.authenticate(method_id="chatgpt-device-code")
        session = await conn.new_session(cwd=project, mcp_servers=[])
        print("session:", session.session_id)
        print("modes:", [m.id for m in session.modes.available_modes], "now", session.modes.current_mode_id)
        print("options:", {o.id: o.current_value for o in session.config_options})
        await conn.set_session_mode(session_id=session.session_id, mode_id="full-auto")
        model = next(o for o in session.config_options if o.id == "model")
        other = next(v.value for v in model.options if v.value != model.current_value)
        await conn.set_config_option(session_id=session.session_id, config_id="model", value=other)
        await conn.set_config_option(session_id=session.session_id, config_id="reasoning_effort", value="high")
        answer = await conn.prompt(session_id=session.session_id,
                                   prompt=[text_block("what is in this picture?"), image_block(PNG, "image/png")])
        print("image prompt:", answer.stop_reason)
        answer = await conn.prompt(session_id=session.session_id, prompt=[text_block("/compact")])
        print("/compact:", answer.stop_reason)
        answer = await conn.prompt(session_id=session.session_id, prompt=[text_block("/review commit")])
        said = [getattr(u.content, "text", "") for u in client.updates if type(u).__name__ == "AgentMessageChunk"]
        print("/review commit (no SHA):", answer.stop_reason, "·", said[-1][:80])
        before = sorted(p.name for p in Path(project).iterdir())
        answer = await conn.prompt(session_id=session.session_id, prompt=[text_block("/review base main")])
        print("/review base main:", answer.stop_reason, "· files changed:", sorted(p.name for p in Path(project).iterdir()) != before)
        print("updates:", kinds(client.updates))
        print("approvals asked:", client.permissions)
    client2 = Client()
    async with spawn_agent_process(client2, KELP, "acp", env=env, cwd=project, use_unstable_protocol=True) as (conn, _):
        await conn.initialize(protocol_version=1, client_capabilities=ClientCapabilities())
        listed = await conn.list_sessions(cwd=project)
        print("session/list:", [(s.session_id, s.title) for s in listed.sessions])
        await conn.load_session(cwd=project, session_id=session.session_id, mcp_servers=[])
        print("session/load replayed:", kinds(client2.updates))


if __name__ == "__main__":
    asyncio.run(main())
