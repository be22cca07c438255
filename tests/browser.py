"""Real Chromium (Debian's package) driven by Playwright."""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path

from channels.testing import ChannelsLiveServerTestCase
from daphne.testing import DaphneProcess

CHROMIUM = os.environ.get("TRAINYARD_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def chromium_page(base_url: str):
    if not Path(CHROMIUM).exists():
        raise AssertionError(f"Chromium is missing at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(30_000)
            external = []
            page.on(
                "request",
                lambda r: (
                    external.append(r.url)
                    if not r.url.startswith((base_url, "ws://", "data:", "blob:" + base_url))
                    else None
                ),
            )
            page.external_requests = external
            # What the Content Security Policy blocked (Chromium says so on the console): must stay empty.
            violations = []
            page.on(
                "console",
                lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
            )
            page.csp_violations = violations
            _without_eval(page)
            yield page
            assert not violations, f"blocked by the Content Security Policy: {violations}"
        finally:
            browser.close()


FUNCTION = re.compile(r"\s*(async\s+)?(function\b|\([^)]*\)\s*=>|\w+\s*=>)")


def _without_eval(page) -> None:
    """Playwright evaluates a string predicate with eval() in the page, which the Content Security Policy
    forbids (as it should); given as a function it is compiled by the debugger protocol instead."""
    wait_for_function = page.wait_for_function

    def wait(expression: str, *args, **kwargs):
        if not FUNCTION.match(expression):
            expression = f"() => ({expression})"
        return wait_for_function(expression, *args, **kwargs)

    page.wait_for_function = wait


def sign_in(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    # A failed sign-in stays on /login/ with an error; a good one lands on the dashboard.
    assert not page.url.rstrip("/").endswith("/login"), page.inner_text("main")
    page.wait_for_selector("text=Sign out")


def member_with_digits(username: str, password: str):
    """A team member and the demo digits dataset of their team, for browser scenarios."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from webapp.datasets import intake
    from webapp.datasets.demo import DEMO_NAME, write_digits_folder
    from webapp.datasets.models import Dataset
    from webapp.teams.models import Role, Team

    team = Team.objects.create(name="Demo team")
    user = get_user_model().objects.create_user(username, password=password)
    team.add_member(user, Role.MEMBER)
    root = "datasets/builtin/digits-browser-test"
    if not (Path(settings.MEDIA_ROOT) / root).exists():
        write_digits_folder(Path(settings.MEDIA_ROOT) / root)
    return user, intake.add_in_place(Dataset(team=team, name=DEMO_NAME, root=root))


class FreshDaphneProcess(DaphneProcess):
    """The live server, forked from the test process. Threads do not survive a fork: asgiref's
    single-thread executor (which consumers' database calls use) would keep a dead thread and hang
    every websocket, and a channel layer built before the fork holds the parent's connections."""

    def run(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from asgiref.sync import SyncToAsync
        from channels.layers import channel_layers

        SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
        channel_layers.backends.clear()
        super().run()


class BrowserTestCase(ChannelsLiveServerTestCase):
    """A live ASGI server (HTTP and websockets) on the test database, for Chromium to talk to."""

    ProtocolServerProcess = FreshDaphneProcess
