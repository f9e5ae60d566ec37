"""Turn benchmark results into docs/performance.md, with each target marked met or missed."""
from __future__ import annotations

from datetime import datetime, timezone

TARGETS = {
    "ratio_to_insert": 0.5,
    "p99_ms": 100.0,
    "page_ms": 150.0,
    "worker_mb": 150.0,
}


def mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(results: list[dict], machine: str) -> str:
    lines = [
        "# Performance",
        "",
        "Measured by `make bench` (`bench/run.py`); raw figures in `bench/results/<database>.json`.",
        f"Machine: {machine}. Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        "",
        "Server: gunicorn with `bench/gunicorn.conf.py` (gthread, 2 workers per core, 4 threads each), production",
        "configuration (rate limits on, in-memory storage). Load: wrk, 2 threads, 32 connections, on the same machine,",
        "so wrk and the server share the 2 cores. Every member's session cookie and CSRF token is minted with the",
        "app's own session serializer (the same bytes a sign-in sets); each member then posts the check-in form",
        "(`POST /lectures/<id>/checkin` with `csrf_token` and `code`) exactly as a phone does.",
        "",
    ]
    for result in results:
        data, burst = result["data"], result["checkin"]
        const, insert = result["reference_constant"], result["reference_insert"]
        lines += [
            f"## {result['database']}",
            "",
            f"Data: {data['venues']} venues, {data['members']} members, {data['lectures']} lectures, "
            f"{data['records']} attendance records, {data['quiz_attempts']} quiz attempts "
            f"(built in {data['seconds']} s).",
            "",
            "| endpoint | requests/s | p50 ms | p95 ms | p99 ms | errors |",
            "|---|---|---|---|---|---|",
        ]
        for label, figures in (("bare handler, constant (reference)", const),
                               ("bare handler, one raw INSERT (reference)", insert),
                               ("check-in burst, every member once", burst)):
            errors = figures["errors_status"] + figures["errors_connect"] + figures["errors_timeout"]
            lines.append(f"| {label} | {figures['rps']} | {figures['p50_ms']} | {figures['p95_ms']} | "
                         f"{figures['p99_ms']} | {errors} |")
        burst_errors = burst["errors_status"] + burst["errors_connect"] + burst["errors_timeout"]
        peak = max(result["worker_peak_mb"] or [0])
        lines += [
            "",
            f"- Check-in throughput / raw INSERT reference: **{result['ratio_to_insert']:.0%}** "
            f"(target ≥ 50%: {mark(result['ratio_to_insert'] >= TARGETS['ratio_to_insert'])}); "
            f"/ constant reference: {result['ratio_to_constant']:.0%}.",
            f"- p99 at {result['connections']} connections: {burst['p99_ms']} ms "
            f"(target < 100 ms: {mark(burst['p99_ms'] < TARGETS['p99_ms'])}).",
            f"- Records after the burst: {result['checkin_records']} of {data['members']}, errors: {burst_errors} "
            f"(target exactly {data['members']} and 0: "
            f"{mark(result['checkin_records'] == data['members'] and burst_errors == 0)}). "
            f"{burst['requests'] - data['members']} requests past the last member repeat a member (a double tap).",
            f"- Peak memory per worker: {', '.join(str(m) for m in result['worker_peak_mb'])} MB "
            f"(target < 150 MB: {mark(peak < TARGETS['worker_mb'])}).",
            "",
            "| report page | median ms | SQL queries | bytes | < 150 ms |",
            "|---|---|---|---|---|",
        ]
        for page in result["reports"]:
            lines.append(f"| {page['page']} (`{page['path']}`) | {page['median_ms']} | {page['queries']} | "
                         f"{page['bytes']} | {mark(page['median_ms'] < TARGETS['page_ms'])} |")
        lines.append("")
    return "\n".join(lines) + "\n"
