"""An ACP client (the agent-client-protocol SDK) driving codex-acp, which runs kelp as its codex.

Usage: codex_acp.py [METHOD]   (api-key, or chat-gpt-device-code)

Against the fake's `coding` scenario the prompt is a command to approve, then a patch to approve
that writes what it printed to kelp-notes.md; then `/review-branch main`, whose reviewer tries
the same and must write nothing.
"""
import asyncio, os, sys, tempfile
from pathlib import Path

from acp import spawn_agent_process, text_block
from acp.schema import AllowedOutcome, ClientCapabilities, RequestPermissionResponse

HERE = Path(__file__).resolve().parent
FAKE = os.environ.get("KELP_FAKE", "http://127.0.0.1:8765")
CODEX_ACP = os.environ.get("CODEX_ACP", "/tmp/hosts/node_modules/.bin/codex-acp")


def diffs_shown(updates):
    """The paths whose diff a tool call (its start or an update) carried."""
    return [c.path for u in updates for c in (getattr(u, "content", None) or [])
            if getattr(c, "type", "") == "diff"]


def edits_started_with_diffs(updates):
    """For each edit tool call as it started: its title and the paths of its diffs."""
    return [(u.title, [c.path for c in (u.content or []) if getattr(c, "type", "") == "diff"])
            for u in updates if type(u).__name__ == "ToolCallStart" and u.kind == "edit"]


class Client:
    def __init__(self):
        self.updates, self.permissions = [], []

    async def request_permission(self, session_id, tool_call, options, **kw):
        diffs = [c.path for c in (tool_call.content or []) if getattr(c, "type", "") == "diff"]
        self.permissions.append((tool_call.title, diffs, [o.option_id for o in options]))
        allow = next(o for o in options if o.kind == "allow_once")
        return RequestPermissionResponse(outcome=AllowedOutcome(option_id=allow.option_id, outcome="selected"))

    async def session_update(self, session_id, update, **kw):
        self.updates.append(update)

    async def create_elicitation(self, message, mode, **kw):
        print("shown to the person:", message)
        return {"action": "accept"}

    async def complete_elicitation(self, elicitation_id, **kw):
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


async def main(method):
    home, project = tempfile.mkdtemp(), tempfile.mkdtemp()
    env = {
        "HOME": home, "PATH": os.environ["PATH"], "NO_BROWSER": "1",
        "CODEX_PATH": str(HERE / "kelp-as-codex.sh"),
        "KELP_AUTH_ISSUER": FAKE, "KELP_CODEX_BASE_URL": FAKE + "/backend-api/codex",
        "OPENAI_BASE_URL": FAKE + "/v1",
    }
    if method == "api-key":
        env["OPENAI_API_KEY"] = "sk-test-kelp-0000000000000000abcd"
    client = Client()
    async with spawn_agent_process(client, CODEX_ACP, env=env, cwd=project, use_unstable_protocol=True) as (conn, _):
        capabilities = ClientCapabilities.model_validate({"elicitation": {"url": {}}})
        init = await conn.initialize(protocol_version=1, client_capabilities=capabilities)
        print("sign-in methods:", [m.id for m in init.auth_methods or []])
        await conn.authenticate(method_id=method)
        session = await conn.new_session(cwd=project)
        print("session:", session.session_id)
        answer = await conn.prompt(session_id=session.session_id, prompt=[text_block("echo hello")])
        text = "".join(getattr(u.content, "text", "") for u in client.updates if type(u).__name__ == "AgentMessageChunk")
        print("stop reason:", answer.stop_reason)
        print("answer:", text[:200].replace("\n", " | "))
        kinds = {}
        for update in client.updates:
            kinds[type(update).__name__] = kinds.get(type(update).__name__, 0) + 1
        print("updates:", kinds)
        print("approvals asked:", client.permissions)
        print("edits as they started:", edits_started_with_diffs(client.updates))
        notes = Path(project) / "kelp-notes.md"
        print("kelp-notes.md:", notes.read_text().strip() if notes.exists() else "(not written)")
        # Plan mode, as codex-acp switches it (its `collaboration_mode` option, sent as
        # thread/settings/update): the plan turn writes nothing, then back to the default.
        options = [o.id for o in (session.config_options or [])]
        print("config options:", options)
        if "collaboration_mode" in options:
            notes.unlink(missing_ok=True)
            client.updates.clear()
            client.permissions.clear()
            await conn.set_config_option(config_id="collaboration_mode", session_id=session.session_id, value="plan")
            planned = await conn.prompt(session_id=session.session_id, prompt=[text_block("echo planned")])
            said = "".join(getattr(u.content, "text", "") for u in client.updates if type(u).__name__ == "AgentMessageChunk")
            print("plan stop reason:", planned.stop_reason)
            print("plan said:", said[:300].replace("\n", " | "))
            print("plan updates:", sorted({type(u).__name__ for u in client.updates}))
            print("plan wrote kelp-notes.md:", notes.exists())
            await conn.set_config_option(config_id="collaboration_mode", session_id=session.session_id, value="default")
        # A review (codex-acp's /review-branch → review/start): the reviewer's patch must not run.
        notes.unlink(missing_ok=True)
        client.updates.clear()
        client.permissions.clear()
        review = await conn.prompt(session_id=session.session_id, prompt=[text_block("/review-branch main")])
        said = "".join(getattr(u.content, "text", "") for u in client.updates if type(u).__name__ == "AgentMessageChunk")
        print("review stop reason:", review.stop_reason)
        print("review said:", said[:300].replace("\n", " | "))
        print("review approvals asked:", [(title[:40], options) for title, _, options in client.permissions])
        print("review wrote kelp-notes.md:", notes.exists())
    # A second connection, as an editor reopened: list the sessions and load this one.
    client2 = Client()
    async with spawn_agent_process(client2, CODEX_ACP, env=env, cwd=project, use_unstable_protocol=True) as (conn, _):
        await conn.initialize(protocol_version=1, client_capabilities=ClientCapabilities())
        if method == "api-key":
            await conn.authenticate(method_id="api-key")
        try:
            listed = await conn.list_sessions(cwd=project)
            print("session/list:", [(s.session_id, s.title) for s in listed.sessions])
        except Exception as e:
            print("session/list failed:", e)
        try:
            await conn.load_session(cwd=project, session_id=session.session_id)
            kinds = {}
            for update in client2.updates:
                kinds[type(update).__name__] = kinds.get(type(update).__name__, 0) + 1
            print("session/load replayed:", kinds)
            print("session/load diffs:", diffs_shown(client2.updates))
        except Exception as e:
            print("session/load failed:", e)


asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "api-key"))
