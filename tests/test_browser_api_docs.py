"""The API's documentation pages in real Chromium, under the site's Content Security Policy: Swagger UI
lists the operations and Redoc renders the reference, from local files (no CDN, no inline script)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.browser import BrowserTestCase, chromium_page, sign_in
from tests.conftest import PASSWORD


@pytest.mark.browser
class ApiDocsInTheBrowser(BrowserTestCase):
    def setUp(self) -> None:
        get_user_model().objects.create_user("scripter", password=PASSWORD)

    def test_swagger_ui_and_redoc_render_the_operations(self) -> None:
        with chromium_page(self.live_server_url) as page:
            sign_in(page, "scripter", PASSWORD)
            page.goto("/api/docs/")
            page.wait_for_selector(".opblock-summary-path >> text=/api/experiments/", timeout=60_000)
            assert page.locator(".opblock").count() > 10
            page.goto("/api/redoc/")
            page.wait_for_selector("text=/api/experiments/", timeout=60_000)
            # Redoc's bundle always draws a "powered by" logo from its CDN; the policy blocks it (nothing is
            # fetched, the page works offline). Anything else from outside, or blocked, fails the test.
            logo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
            assert [url for url in page.external_requests if url != logo] == []
            page.csp_violations[:] = [v for v in page.csp_violations if logo not in v]
