"""An ACP client (the agent-client-protocol SDK) watching a background terminal in `kelp acp`:
the fake's `coding` scenario runs the prompt with `exec_command`, which goes on past its call;
prints each status the editor is sent for that tool call (it stays in progress: no poll of the
terminal has seen it end).
"""
import asyncio, os, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kelp_acp import Client, FAKE, KELP  # noqa: E402
from acp import spawn_agent_process, text_block  # noqa: E402
from acp.schema import ClientCapabilities  # noqa: E402


async def main():
    home, project = tempfile.mkdtemp(), tempfile.mkdtemp()
    env = {"HOME": home, "PATH": os.environ["PATH"], "OPENAI_API_KEY": "sk-test-kelp-0000000000000000abcd",
           "KELP_AUTH_ISSUER": FAKE, "KELP_CODEX_BASE_URL": FAKE + "/backend-api/codex",
           "OPENAI_BASE_URL": FAKE + "/v1"}
    client = Client()
    async with spawn_agent_process(client, KELP, "acp", env=env, cwd=project, use_unstable_protocol=True) as (conn, _):
        await conn.initialize(protocol_version=1, client_capabilities=ClientCapabilities())
        session = await conn.new_session(cwd=project, mcp_servers=[])
        await conn.set_session_mode(session_id=session.session_id, mode_id="full-auto")
        answer = await conn.prompt(session_id=session.session_id,
                                   prompt=[text_block("echo dev server ready; exec sleep 40.1234")])
        print("prompt:", answer.stop_reason)
        for update in client.updates:
            name = type(update).__name__
            if name in ("ToolCallStart", "ToolCall", "ToolCallProgress", "ToolCallUpdate"):
                status = getattr(update, "status", None)
                title = getattr(update, "title", None)
                print(name, update.tool_call_id, getattr(status, "value", status), title or "")


asyncio.run(main())
