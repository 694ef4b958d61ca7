// Drives a Codex-compatible binary through the TypeScript Codex SDK (@openai/codex-sdk), as a
// host built on it does: run, runStreamed, a second turn on the thread, resumeThread, an output
// schema, an image, and an abort in the middle of a command. Each check is an assertion here,
// so the same script tells whether kelp and the real codex speak the protocol alike.
//
// The fake OpenAI server's `coding` scenario answers each prompt by running it as a command,
// then writing what it printed to kelp-notes.md with a patch, then saying it is done.
//
// A prompt `search …` is a web search when the thread allows one, as the SDK's options ask.
//
// Environment: SDK_CODEX_PATH (the binary), SDK_BASE_URL (the fake's /v1), SDK_API_KEY,
// SDK_WORKDIR (a git-less folder), SDK_IMAGE (a PNG), SDK_MODEL (optional). With
// SDK_PROVIDER=inline the fake is a custom model provider given inline, as the SDK's own tests
// give theirs, its key read from SDK_PROVIDER_KEY; otherwise it is OpenAI at SDK_BASE_URL
// with the key SDK_API_KEY.
// Prints one line per check passed, then `all passed`; exits 1 at the first failure.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Codex } from "@openai/codex-sdk";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set`);
  return value;
};
const workdir = env("SDK_WORKDIR");
const notes = path.join(workdir, "kelp-notes.md");
const inline = process.env.SDK_PROVIDER === "inline";
const codex = inline
  ? new Codex({
      codexPathOverride: env("SDK_CODEX_PATH"),
      config: {
        model_provider: "mock",
        model_providers: {
          mock: {
            name: "Mock provider for test",
            base_url: env("SDK_BASE_URL"),
            wire_api: "responses",
            env_key: "SDK_PROVIDER_KEY",
            supports_websockets: false,
          },
        },
      },
    })
  : new Codex({
      codexPathOverride: env("SDK_CODEX_PATH"),
      baseUrl: env("SDK_BASE_URL"),
      apiKey: env("SDK_API_KEY"),
    });
const threadOptions = {
  model: process.env.SDK_MODEL || undefined,
  workingDirectory: workdir,
  skipGitRepoCheck: true,
  sandboxMode: "workspace-write",
  approvalPolicy: "never",
};

const passed = (what) => console.log(`ok ${what}`);
// Codex's own warnings about its transport are not the turn's items.
const transportNoise = (message) => /WebSocket|Reconnecting/.test(message ?? "");
const kinds = (items) =>
  items.filter((item) => !(item.type === "error" && transportNoise(item.message))).map((i) => i.type);

/// A prompt's turn as the scenario plays it: a command that prints `word`, a patch, an answer.
function checkCodingTurn(turn, word) {
  assert.deepEqual(kinds(turn.items), [
    "agent_message",
    "command_execution",
    "agent_message",
    "file_change",
    "agent_message",
  ]);
  const command = turn.items.find((item) => item.type === "command_execution");
  assert.match(command.command, new RegExp(`echo ${word}`));
  assert.equal(command.aggregated_output, `${word}\n`);
  assert.equal(command.exit_code, 0);
  assert.equal(command.status, "completed");
  const change = turn.items.find((item) => item.type === "file_change");
  assert.equal(change.status, "completed");
  assert.deepEqual(change.changes, [{ path: notes, kind: "add" }]);
  assert.equal(fs.readFileSync(notes, "utf8"), `${word}\n`);
  fs.rmSync(notes);
  assert.equal(turn.finalResponse, "Done: the command ran, and what it printed is in kelp-notes.md.");
  for (const field of [
    "input_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
  ]) {
    assert.equal(typeof turn.usage[field], "number", field);
  }
  assert.ok(turn.usage.input_tokens > 0);
}

// run: one turn, whole.
const thread = codex.startThread(threadOptions);
checkCodingTurn(await thread.run("echo first-turn"), "first-turn");
assert.ok(thread.id, "the thread has an id after its first turn");
const threadId = thread.id;
passed("run");

// A second turn on the same thread continues it (the SDK passes `resume <id>`).
checkCodingTurn(await thread.run("echo second-turn"), "second-turn");
assert.equal(thread.id, threadId);
passed("second turn");

// runStreamed: the events in order.
const { events } = await thread.runStreamed("echo streamed");
const seen = [];
for await (const event of events) {
  if (event.type === "error" && transportNoise(event.message)) continue;
  if (event.type.startsWith("item.") && event.item.type === "error" && transportNoise(event.item.message)) continue;
  seen.push(event.type.startsWith("item.") ? `${event.type} ${event.item.type}` : event.type);
}
assert.deepEqual(seen, [
  "thread.started",
  "turn.started",
  "item.completed agent_message",
  "item.started command_execution",
  "item.completed command_execution",
  "item.completed agent_message",
  "item.started file_change",
  "item.completed file_change",
  "item.completed agent_message",
  "turn.completed",
]);
fs.rmSync(notes);
passed("runStreamed");

// resumeThread: a new Thread object on the saved conversation.
const resumed = codex.resumeThread(threadId, threadOptions);
checkCodingTurn(await resumed.run("echo resumed"), "resumed");
assert.equal(resumed.id, threadId);
passed("resumeThread");

// An output schema, on a new thread (the caller checks that the request carried it).
const schema = {
  type: "object",
  properties: { summary: { type: "string" } },
  required: ["summary"],
  additionalProperties: false,
};
const structured = codex.startThread(threadOptions);
checkCodingTurn(await structured.run("echo with-schema", { outputSchema: schema }), "with-schema");
passed("outputSchema");

// An image with the words (the caller checks that the request carried it).
const withImage = codex.startThread(threadOptions);
checkCodingTurn(
  await withImage.run([
    { type: "text", text: "echo with-image" },
    { type: "local_image", path: env("SDK_IMAGE") },
  ]),
  "with-image",
);
passed("image");

// Web search, live and then off, as the SDK's options ask for it.
const searching = codex.startThread({ ...threadOptions, webSearchMode: "live" });
const searched = await searching.run("search tokio release notes");
assert.deepEqual(kinds(searched.items), ["web_search", "agent_message"]);
const search = searched.items.find((item) => item.type === "web_search");
assert.equal(search.query, "search tokio release notes");
assert.deepEqual(search.action, { type: "search", query: "search tokio release notes" });
assert.equal(searched.finalResponse, "Searched the web (live) for: search tokio release notes");
const offline = codex.startThread({ ...threadOptions, webSearchEnabled: false });
const unsearched = await offline.run("search tokio release notes");
assert.deepEqual(kinds(unsearched.items), ["agent_message"]);
assert.equal(unsearched.finalResponse, "Web search is off: I answer from what I know.");
passed("webSearch");

// Abort while a command runs: the turn stops and the command does not outlive it.
const controller = new AbortController();
const marker = path.join(workdir, "late-marker");
const slow = codex.startThread(threadOptions);
const streamed = await slow.runStreamed(`sleep 3 && echo late > ${marker}`, { signal: controller.signal });
let aborted = false;
try {
  for await (const event of streamed.events) {
    if (event.type === "item.started" && event.item.type === "command_execution") {
      controller.abort();
    }
  }
} catch (error) {
  aborted = error.name === "AbortError" || /abort/i.test(String(error));
}
assert.ok(aborted, "the aborted turn ends in an AbortError");
await new Promise((resolve) => setTimeout(resolve, 4000));
assert.ok(!fs.existsSync(marker), "the aborted command did not finish");
passed("abort");

console.log("all passed");
