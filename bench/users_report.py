"""What the users benchmark measured, and its section of docs/BENCHMARKS.md: the wanted figures
beside the measured ones first, then the detail."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.docstore_serve import ROLES
from bench.load import percentile
from bench.simulated_user import ACTIONS, Recorder

if TYPE_CHECKING:
    from datetime import datetime

    from bench.docstore_serve import TreeSample
    from bench.users import Outcome

#: What issue 9 wants.
P99_WANTED = 1.0
READY_WANTED = 30.0
MEMORY_WANTED = 1.2
#: The load generator's event-loop lag is sampled with sleeps of this many seconds.
LAG_TICK = 0.05
MiB = 2**20


@dataclass
class Phase:
    name: str
    seconds: float
    think: float
    recorder: Recorder
    #: CPU seconds of this (the load generator's) process over the phase.
    client_cpu: float
    server_before: TreeSample
    server_after: TreeSample
    #: Seconds from completeUpload's answer to DocumentReady on the owner's subscription, per upload.
    ready: list[float] = field(default_factory=list)
    #: The reasons of the uploads that ended DocumentFailed.
    failed: list[str] = field(default_factory=list)
    #: Uploads whose event had not come when the benchmark stopped waiting after the phase.
    never: int = 0
    #: Uploads whose event had not come at the very end of the run.
    missing_at_end: int = 0
    #: How late the load generator's own event loop woke from a 50 ms sleep, sampled through the
    #: phase (seconds): every latency measured includes up to that much of the client's own delay.
    client_lag: list[float] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(self.recorder.errors.values())

    @property
    def worst_p99(self) -> tuple[str, float]:
        return max(
            ((name, percentile(values, 99)) for name, values in self.recorder.latencies.items()),
            key=lambda item: item[1],
            default=("none", 0.0),
        )


@dataclass
class Memory:
    """Samples of the server's whole process tree: (seconds since the server answered, phase, sample)."""

    samples: list[tuple[float, str, TreeSample]] = field(default_factory=list)
    phase: str = "setup"
    #: The tree one minute into each phase that lasted that long.
    first_minute: dict[str, TreeSample] = field(default_factory=dict)

    def last(self) -> TreeSample | None:
        return self.samples[-1][2] if self.samples else None

    def peak(self) -> TreeSample | None:
        return max((sample for _, _, sample in self.samples), key=lambda sample: sample.rss, default=None)


@dataclass
class Checks:
    recorder: Recorder = field(default_factory=Recorder)
    exact: int = 0
    mismatches: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    expected_bytes: int = 0
    expected_documents: int = 0
    recount: dict[str, Any] = field(default_factory=dict)


def ms(seconds: float) -> str:
    return f"{1000 * seconds:,.0f}"


def mib(sample: TreeSample | None) -> str:
    return "?" if sample is None else f"{sample.rss / MiB:,.0f}"


def met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def operations_table(recorder: Recorder, seconds: float | None) -> list[str]:
    """Count, rate (when ``seconds`` is given), errors and latency percentiles of each operation."""
    rate = " per s |" if seconds else ""
    rows = [
        f"| operation | count |{rate} errors | p50 ms | p95 ms | p99 ms | max ms |",
        f"| --- | ---: |{' ---: |' if seconds else ''} ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in sorted(recorder.latencies):
        values = recorder.latencies[name]
        per_second = f" {len(values) / seconds:.1f} |" if seconds else ""
        rows.append(
            f"| {name} | {len(values):,} |{per_second} {recorder.errors[name]:,} | "
            f"{ms(percentile(values, 50))} | {ms(percentile(values, 95))} | {ms(percentile(values, 99))} | "
            f"{ms(max(values))} |"
        )
    return rows


def ready_line(phase: Phase) -> str:
    uploads = len(phase.ready) + len(phase.failed) + phase.never
    if not phase.ready:
        return (
            f"| {phase.name} | {uploads:,} | 0 | {len(phase.failed)} | {phase.never:,} | "
            f"{phase.missing_at_end:,} | | | | |"
        )
    within = sum(seconds <= READY_WANTED for seconds in phase.ready)
    return (
        f"| {phase.name} | {uploads:,} | {within:,} | {len(phase.failed)} | {phase.never:,} | "
        f"{phase.missing_at_end:,} | "
        f"{ms(percentile(phase.ready, 50))} | {ms(percentile(phase.ready, 95))} | "
        f"{ms(percentile(phase.ready, 99))} | {ms(max(phase.ready))} |"
    )


def section(
    outcome: Outcome,
    *,
    started: datetime,
    command: str,
    users: int,
    think: float,
    minutes: float,
    capacity_seconds: float,
    drain: float,
    at_once: int,
    versions: str,
    machine: str,
) -> str:
    human, capacity = outcome.phases
    checks, memory = outcome.checks, outcome.memory
    first, end = memory.first_minute.get(human.name), human.server_after
    ratio = end.rss / first.rss if first is not None else float("nan")
    pss_ratio = end.pss / first.pss if first is not None and first.pss else float("nan")
    worst_name, worst_p99 = human.worst_p99
    uploads = len(human.ready) + len(human.failed) + human.never
    on_time = sum(seconds <= READY_WANTED for seconds in human.ready)
    recounted = checks.recount.get("recount", {})
    # The dashboard counts a document once the pipeline has counted it: while uploads are still
    # unprocessed, the recount can only match the counters, not everything uploaded.
    unprocessed = sum(phase.missing_at_end for phase in outcome.phases)
    recount_ok = checks.recount.get("drift") is False and (
        unprocessed > 0
        or (
            recounted.get("totalStorageBytes") == checks.expected_bytes
            and recounted.get("documentCount") == checks.expected_documents
        )
    )
    still = f"; {unprocessed:,} of them still unprocessed, so not counted yet" if unprocessed else ""
    client_cores = human.client_cpu / human.seconds
    server_cores = (human.server_after.cpu - human.server_before.cpu) / human.seconds
    sat_server_cores = (capacity.server_after.cpu - capacity.server_before.cpu) / capacity.seconds
    log_count, log_first = outcome.log_errors
    lines = [
        f"## {users} people on one `docstore serve`: human pace, then saturation",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC: `{command}`, on {machine}; {versions}.",
        "",
        f"`docstore serve --port P --data-dir DIR` in a fresh temporary data folder (the embedded default: no "
        f"`AWS_*` variable, and no `DOCSTORE_*` one but the sign-in attempt limits, "
        f"`DOCSTORE_AUTH_ATTEMPTS_PER_IP` and `_PER_EMAIL`, raised since every simulated person signs in from "
        f"127.0.0.1), started as a user starts it. {users} simulated people "
        "(`bench/simulated_user.py`, httpx and websockets on asyncio, in four processes of 25 people, "
        "each with its own uvloop event loop) each sign up, open one "
        "`documentEvents` subscription (graphql-transport-ws, token in `connection_init`) held for the whole "
        f"run, then act once every {think:g} s on average (exponential think time between one action's end "
        f"and the next one's start), for {minutes:g} min: list (`Documents`, first 20), search a word of "
        "the file names (`Search`; every account is FREE, so names, tags and descriptions), upload "
        "(`RequestUpload`, the file posted to the signed S3 form, `CompleteUpload`) of a text file, a "
        "one-page fpdf2 PDF or a Pillow PNG of a few KB, download (`Document`, then the `downloadUrl`'s "
        "bytes, compared with what was uploaded) and rename (`UpdateDocument`), each equally likely. "
        f"Then the same people act with no think time for {capacity_seconds:g} s: the closed-loop capacity. "
        "Latency is every request's, answered well or not (a request past 60 s is an error); an error is "
        "any answer that is not the expected one. Memory is the resident set summed over the server "
        "process and every process under it, read from `/proc` every 5 s (PSS, which splits shared pages "
        "among their sharers, beside it).",
        "",
        "| figure | wanted | measured | met |",
        "| --- | --- | --- | --- |",
        f"| errors at human pace | 0 | {human.errors:,} of {human.recorder.requests:,} requests | "
        f"{met(human.errors == 0)} |",
        f"| worst p99 at human pace | ≤ {ms(P99_WANTED)} ms for every operation | {ms(worst_p99)} ms "
        f"({worst_name}) | {met(worst_p99 <= P99_WANTED)} |",
        f"| uploads READY within {READY_WANTED:g} s of completeUpload's answer | all | {on_time:,} of "
        f"{uploads:,} ({len(human.failed)} failed; {human.never:,} with no event {drain:g} s after the phase, "
        f"{human.missing_at_end:,} at the end of the run) | {met(on_time == uploads)} |",
        f"| `me {{ usage }}` exact at the end | all {users} people | {checks.exact} | {met(checks.exact == users)} |",
        f"| `docstore stats --recount` | no drift; once processed, the bytes and documents uploaded | "
        f"{checks.recount.get('summary', 'not run')}; uploaded {checks.expected_documents:,} documents, "
        f"{checks.expected_bytes:,} bytes{still} | {met(recount_ok)} |",
        f"| memory at the end / after the first minute | ≤ {MEMORY_WANTED} | {ratio:.2f} "
        f"({mib(end)} / {mib(first)} MiB RSS; PSS {pss_ratio:.2f}) | {met(ratio <= MEMORY_WANTED)} |",
        f"| capacity, closed loop | as high as it goes | {capacity.recorder.actions / capacity.seconds:.1f} "
        f"actions/s, {capacity.recorder.requests / capacity.seconds:.1f} requests/s, "
        f"{capacity.errors:,} errors | |",
        "",
        f"### At human pace ({human.seconds / 60:.1f} minutes)",
        "",
        f"Offered: {users} people × one action per {think:g} s = {users / think:.0f} actions/s; got "
        f"{human.recorder.actions / human.seconds:.1f} actions/s (an action that takes long delays its "
        f"person's next one). {human.recorder.requests:,} requests. The server's process tree used "
        f"{server_cores:.2f} cores on average, the load generator {client_cores:.2f}. "
        f"{cpu_by_role(human)} {lag_sentence(human)}",
        "",
        *operations_table(human.recorder, human.seconds),
        "",
        "From completeUpload's answer to the DocumentReady event on the owner's subscription (ms):",
        "",
        f"| phase | uploads | READY within {READY_WANTED:g} s | DocumentFailed | no event {drain:g} s after "
        "the phase | no event at the end of the run | p50 | p95 | p99 | max |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ready_line(human),
        ready_line(capacity),
        "",
        "### Memory of the server's process tree",
        "",
        "| when | processes | RSS MiB | PSS MiB | " + " | ".join(f"RSS of {name}, MiB" for name in ROLES) + " |",
        "| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in ROLES) + " |",
    ]
    marks = [
        ("server started, before sign-ups", memory.samples[0][2] if memory.samples else None),
        ("human pace begins", human.server_before),
        ("after its first minute", first),
        (f"its end ({human.seconds / 60:.1f} min)", end),
        ("saturation ends", capacity.server_after),
        ("peak of the 5-s samples", memory.peak()),
    ]
    for label, sample in marks:
        if sample is not None:
            by_role = " | ".join(f"{sample.rss_by_role.get(name, 0) / MiB:,.0f}" for name in ROLES)
            lines.append(f"| {label} | {sample.processes} | {mib(sample)} | {sample.pss / MiB:,.0f} | {by_role} |")
    lines += [
        "",
        f"### Capacity: no think time, {capacity.seconds:.0f} s",
        "",
        f"{capacity.recorder.actions:,} actions ({capacity.recorder.actions / capacity.seconds:.1f}/s), "
        f"{capacity.recorder.requests:,} requests ({capacity.recorder.requests / capacity.seconds:.1f}/s); "
        f"the server's process tree used {sat_server_cores:.2f} cores, the load generator "
        f"{capacity.client_cpu / capacity.seconds:.2f}. {cpu_by_role(capacity)} {lag_sentence(capacity)}",
        "",
        *operations_table(capacity.recorder, capacity.seconds),
        "",
        "### Setting up",
        "",
        f"Before the phases, {users} sign-ups ({at_once} at a time) and subscriptions (the time to `connection_ack`):",
        "",
        *operations_table(outcome.setup, None),
    ]
    problems = _problems(outcome, checks)
    if problems:
        lines += ["", "### What went wrong", "", *problems]
    lines += [
        "",
        f"The server logged {log_count:,} ERROR records"
        + (f", the first: {'; '.join(log_first)}" if log_first else "")
        + (
            f"; it stopped with exit code {outcome.stopped_with} after SIGINT."
            if outcome.stopped_with is not None
            else "; it had not stopped 60 s after SIGINT and was killed (SIGKILL)."
        ),
        "",
        f"Actions are equally likely: {', '.join(ACTIONS)} (download and rename become an upload while the "
        "person has nothing stored).",
    ]
    return "\n".join(lines)


def _problems(outcome: Outcome, checks: Checks) -> list[str]:
    lines = []
    for phase in outcome.phases:
        for name, examples in sorted(phase.recorder.examples.items()):
            for example in examples:
                lines.append(f"- {phase.name}, {name}: `{_quote(example)}`")
        for reason in sorted(set(phase.failed)):
            lines.append(f"- {phase.name}: DocumentFailed {reason} ×{phase.failed.count(reason)}")
    for name, examples in sorted(outcome.setup.examples.items()):
        lines += [f"- setting up, {name}: `{_quote(example)}`" for example in examples]
    lines += [f"- usage: {line}" for line in checks.mismatches[:10]]
    if len(checks.mismatches) > 10:
        lines.append(f"- usage: {len(checks.mismatches) - 10} more people")
    lines += [f"- usage not checked: {line}" for line in checks.unchecked[:5]]
    lines += [f"- subscription: {line}" for line in outcome.subscription_problems[:5]]
    if len(outcome.subscription_problems) > 5:
        lines.append(f"- subscription: {len(outcome.subscription_problems) - 5} more")
    return lines


def _quote(text: str) -> str:
    return text.replace("`", "'").replace("|", "/").replace("\n", " ")


def cpu_by_role(phase: Phase) -> str:
    """The server's CPU over a phase by process role: cores, and milliseconds of CPU per action."""
    actions = max(phase.recorder.actions, 1)
    parts = []
    for name, after in phase.server_after.cpu_by_role.items():
        spent = after - phase.server_before.cpu_by_role.get(name, 0.0)
        parts.append(f"{name} {spent / phase.seconds:.2f} cores ({1000 * spent / actions:.1f} ms of CPU per action)")
    return "By process: " + "; ".join(parts) + "." if parts else ""


def lag_sentence(phase: Phase) -> str:
    """How late the load generator's event loop ran: the part of each latency that is the client's."""
    if not phase.client_lag:
        return ""
    ms = [value * 1000 for value in phase.client_lag]
    return (
        f"The load generator's event loop woke late from a {LAG_TICK * 1000:.0f} ms sleep by "
        f"{percentile(ms, 50):,.1f} ms at the median, {percentile(ms, 99):,.0f} ms at p99 and "
        f"{max(ms):,.0f} ms at most ({len(ms):,} samples): a latency above includes up to that much "
        "of the client's own delay."
    )
