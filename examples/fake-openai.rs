//! The fake OpenAI server, standalone: try every kelp login and a streamed answer offline.
//!
//! `cargo run --example fake-openai -- --port 8765 [--scenario echo|reasoning|large|tool|shell|coding|mcp|search|goal|team]
//! [--manual-approve]`

// Test, bench and fixture code: a failed unwrap is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/fake_openai/mod.rs"]
mod fake_openai;

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use fake_openai::{Config, DeviceApproval, FakeOpenAi, Scenario};

#[derive(Parser)]
#[command(about = "A fake OpenAI (issuer, Codex backend, API) on 127.0.0.1")]
struct Args {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// What `/responses` answers: echo, reasoning, large (1 MiB of 16-byte deltas), tool
    /// (calls read_file once, then answers), shell, coding (the prompt as a command, then a
    /// patch writing its output to kelp-notes.md), mcp (calls `tests__echo`), search (a web
    /// search for the prompt when the request offers the tool) or goal (a step per turn toward
    /// a goal, complete at the third) or team (two agents spawned with Codex's collaboration
    /// tools, one running a command to approve, both waited for).
    #[arg(long, env = "KELP_FAKE_SCENARIO", default_value = "echo", value_parser = parse_scenario)]
    scenario: Scenario,
    /// Approve device codes only when their page is opened, not after 3 s.
    #[arg(long)]
    manual_approve: bool,
    /// Milliseconds between streamed events (default: 15, and 0 for the large scenario).
    #[arg(long)]
    delay_ms: Option<u64>,
}

fn parse_scenario(name: &str) -> Result<Scenario, String> {
    Scenario::from_name(name).ok_or_else(|| {
        format!("unknown scenario {name:?}: use echo, reasoning, large, tool, shell, coding, mcp, search, goal or team")
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let scenario = args.scenario;
    let config = Config {
        port: args.port,
        device_approval: if args.manual_approve {
            DeviceApproval::Manual
        } else {
            DeviceApproval::AfterDelay(Duration::from_secs(3))
        },
        verbose: true,
        ..Config::default()
    };
    let fake = FakeOpenAi::try_start_with(config)
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let default_delay_ms = if scenario == Scenario::Large { 0 } else { 15 };
    let delay = Duration::from_millis(args.delay_ms.unwrap_or(default_delay_ms));
    fake.set_fallback(move |request| scenario.reply(request).delay(delay));

    let exports = fake
        .env()
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(" ");
    println!("fake OpenAI listening on {}", fake.url());
    println!("export {exports}");
    println!("API key: {}", fake.api_key());
    println!("device page: {}/codex/device", fake.url());
    println!("scenario: {scenario:?}; press Ctrl+C to stop");

    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl+C")?;
    fake.shutdown().await;
    Ok(())
}
