//! `process/*` (Codex 0.171's experimental API): what a process a host spawned outside the
//! sandbox says as it runs and when it ends.

use serde::Serialize;

use super::{ExecStream, Notification};

notification!(
    /// A piece of a spawned process's output, for a host that streams it.
    ProcessOutputDelta = "process/outputDelta" {
        process_handle: String,
        stream: ExecStream,
        delta_base64: String,
        cap_reached: bool,
    }
);

notification!(
    /// A spawned process's end: its exit code and what was kept of each stream (nothing of a
    /// streamed one).
    ProcessExited = "process/exited" {
        process_handle: String,
        exit_code: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output_drain_timed_out: Option<bool>,
        stdout: String,
        stdout_cap_reached: bool,
        stderr: String,
        stderr_cap_reached: bool,
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Empty, answer_fits_in};

    const PROCESSES: &str = "0.171.0/v2";

    /// A client on a server reads the notification back as it was sent.
    fn reads_back((method, params): (&'static str, serde_json::Value)) {
        let read = crate::wire::ServerNotification::read(method, params.clone()).unwrap();
        assert_eq!(read.into_message(), (method, params));
    }

    #[test]
    fn process_shapes_fit_codex_0_171() {
        for stream in [ExecStream::Stdout, ExecStream::Stderr] {
            let delta = ProcessOutputDelta {
                process_handle: "dev".into(),
                stream,
                delta_base64: "aGk=".into(),
                cap_reached: false,
            };
            answer_fits_in(PROCESSES, "ProcessOutputDeltaNotification.json", &delta);
            reads_back(delta.into_message());
        }
        let exited = ProcessExited {
            process_handle: "dev".into(),
            exit_code: 0,
            output_drain_timed_out: Some(false),
            stdout: "hi\n".into(),
            stdout_cap_reached: false,
            stderr: String::new(),
            stderr_cap_reached: false,
        };
        answer_fits_in(PROCESSES, "ProcessExitedNotification.json", &exited);
        reads_back(exited.into_message());
        for empty in [
            "ProcessSpawnResponse.json",
            "ProcessKillResponse.json",
            "ProcessResizePtyResponse.json",
            "ProcessWriteStdinResponse.json",
            "CommandExecResizeResponse.json",
        ] {
            answer_fits_in(PROCESSES, empty, &Empty {});
        }
    }
}
