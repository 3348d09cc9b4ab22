"""Explorer under load: N concurrent browser sessions against one served archive.

Prints numbers; no timed asserts. Usage::

    python benchmarks/bench_explorer_load.py ARCHIVE [--sessions 20] [--rounds 2] [--url-path /]

``ARCHIVE`` is a converted archive with a catalog (the demo's: ``make demo DEMO_ARGS=--no-explore``, or
the tiny study's). The server is ``nwb-ketamine explore ARCHIVE`` in a subprocess, as a user starts it;
the pages are Chromium contexts driven by Playwright (``/usr/bin/chromium``), one browser, one context
per session, so they share no cookies or cache.

What is measured, in the same run:

- **Single session (the baseline):** time from ``goto`` to the first drawn canvas, alone, median of 3.
- **N concurrent sessions:** all pages started at once; each one's time to first canvas; median and p95,
  and p95 divided by the single session's median (the goal: within 3×).
- **Errors:** console errors and page errors of every page, and server log lines at ERROR level or with a
  traceback.
- **Resources from elsewhere:** every request a page makes to a host other than the server's is counted
  and refused (the benchmark runs offline, as the machine may): the goal is 0.
- **Server memory** (VmRSS of the server process): idle after one warm-up session closed, after the N
  sessions have drawn, and after they closed and the server discarded them (polled until the server's
  session count is back to 0 or 60 s pass, then 5 s more); the goal is within 20 % of the idle level.

The machine's load average is printed with each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' server helpers

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, start_server  # noqa: E402

SETTLE_S = 5.0


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_status(port: int) -> dict:
    """The server's ``/nwb-ketamine/sessions`` status: live sessions, and how many are connected, expiring
    or blocked from expiring."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{port}/nwb-ketamine/sessions", timeout=10) as response:
        return json.load(response)


def open_sessions(port: int) -> int:
    """The server's live session count."""
    return int(server_status(port)["sessions"])


class ServerLog:
    """Collects the server's output in a thread, counting error lines."""

    def __init__(self, proc):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc) -> None:
        for raw in proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())

    def errors(self, since: int = 0) -> list[str]:
        return [line for line in self.lines[since:] if "ERROR" in line or "Traceback" in line]


async def one_session(browser, url: str, host: str) -> tuple:
    """Open ``url`` in a new context: the context (still open), seconds to first canvas, errors, foreign URLs
    and ``{"browser_cpu": s}``, the page's main-thread task time (Chrome's ``TaskDuration``)."""
    results: dict = {}
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    errors: list[str] = []
    foreign: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    async def refuse_foreign(route):
        parts = urllib.parse.urlsplit(route.request.url)
        if parts.scheme in ("data", "blob") or parts.netloc == host:
            await route.continue_()
        else:
            foreign.append(route.request.url)
            await route.abort()

    await page.route("**/*", refuse_foreign)
    cdp = await context.new_cdp_session(page)
    await cdp.send("Performance.enable")
    start = time.perf_counter()
    await page.goto(url, timeout=300_000)
    await page.wait_for_selector("canvas", timeout=300_000)
    seconds = time.perf_counter() - start
    metrics = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
    results["browser_cpu"] = metrics.get("TaskDuration", float("nan"))
    return context, seconds, errors, foreign, results


async def run(archive: Path, sessions: int, rounds: int, url_path: str, server_log: Path | None = None) -> None:
    from playwright.async_api import async_playwright

    port = free_port()
    proc = start_server(archive, port)
    log = ServerLog(proc)
    host = f"127.0.0.1:{port}"
    url = f"http://{host}{url_path}"
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            context, *_ = await one_session(browser, url, host)
            await context.close()
            await wait_discarded(port)
            idle = rss_mb(proc.pid)
            print(f"server idle after one warm-up session: {idle:.0f} MB ({load()})")
            single = []
            single_errors = single_foreign = 0
            cpu_before = cpu_seconds(proc.pid)
            browser_cpu = []
            for _ in range(3):
                context, seconds, errors, foreign, results = await one_session(browser, url, host)
                single.append(seconds)
                browser_cpu.append(results["browser_cpu"])
                single_errors += len(errors)
                single_foreign += len(foreign)
                await context.close()
            base = statistics.median(single)
            single_cpu = (cpu_seconds(proc.pid) - cpu_before) / len(single)
            print(f"single session, time to first canvas: median {base:.2f} s of {len(single)} ({load()}); "
                  f"server CPU {single_cpu:.2f} s and page main thread {statistics.median(browser_cpu):.2f} s "
                  f"per session; errors {single_errors}, requests to other hosts {single_foreign}")  # fmt: skip
            for round_ in range(1, rounds + 1):
                await wait_discarded(port)
                before = len(log.lines)
                cpu_before = cpu_seconds(proc.pid)
                started = time.perf_counter()
                opened = await asyncio.gather(*(one_session(browser, url, host) for _ in range(sessions)))
                wall = time.perf_counter() - started
                server_cpu = cpu_seconds(proc.pid) - cpu_before
                times = sorted(seconds for _, seconds, *_ in opened)
                page_cpu = statistics.median(results["browser_cpu"] for *_, results in opened)
                p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
                n_errors = sum(len(errors) for _, _, errors, *_ in opened)
                n_foreign = sum(len(foreign) for _, _, _, foreign, _ in opened)
                busy = rss_mb(proc.pid)
                live = open_sessions(port)
                print(f"round {round_}: {sessions} concurrent sessions, all drawn in {wall:.1f} s, "
                      f"server CPU {server_cpu:.1f} s = {server_cpu / sessions:.2f} s/session, page main thread "
                      f"{page_cpu:.2f} s/session ({load()})")  # fmt: skip
                print(f"  time to first canvas: median {statistics.median(times):.2f} s, p95 {p95:.2f} s, "
                      f"p95 / single median {p95 / base:.2f}")  # fmt: skip
                print(f"  console and page errors: {n_errors}; requests to other hosts: {n_foreign}")
                for _, _, errors, foreign, _ in opened:
                    for line in (foreign + errors)[:3]:
                        print(f"    {line[:160]}")
                open_errors = log.errors(before)
                closing = len(log.lines)
                for context, *_ in opened:
                    await context.close()
                seconds = await wait_discarded(port)
                if open_sessions(port):
                    print(f"  sessions not discarded after {seconds:.0f} s: {server_status(port)}")
                await asyncio.sleep(SETTLE_S)  # the server releases memory a second after a batch of discards
                after = rss_mb(proc.pid)
                close_errors = log.errors(closing)
                print(f"  server: {live} live sessions while open, {busy:.0f} MB; closed and discarded in "
                      f"{seconds:.1f} s: {after:.0f} MB = {after / idle:.2f} × idle; "
                      f"server error lines while the pages were open: {len(open_errors)}, "
                      f"as they closed: {len(close_errors)}")  # fmt: skip
                for errors, since in ((open_errors, before), (close_errors, closing)):
                    if errors:  # the first one with its traceback
                        first = log.lines.index(errors[0], since)
                        print("\n".join(f"    {line[:160]}" for line in log.lines[first : first + 12]))
            await browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if server_log is not None:
            log.thread.join(timeout=10)
            server_log.write_text("\n".join(log.lines) + "\n")


async def wait_discarded(port: int, timeout: float = 60.0) -> float:
    """Seconds until the server holds no session (polled), or ``timeout``."""
    start = time.perf_counter()
    while open_sessions(port) and time.perf_counter() - start < timeout:
        await asyncio.sleep(0.25)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", type=Path, help="a converted archive with a catalog")
    parser.add_argument("--sessions", type=int, default=20, help="concurrent sessions per round (default 20)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of concurrent sessions (default 2)")
    parser.add_argument("--url-path", default="/", help="the page each session opens (default the landing view)")
    parser.add_argument("--server-log", type=Path, default=None, help="also write the server's whole output here")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit("needs Chromium at /usr/bin/chromium (make browser-deps)")
    asyncio.run(run(args.archive, args.sessions, args.rounds, args.url_path, args.server_log))


if __name__ == "__main__":
    main()
