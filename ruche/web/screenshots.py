"""Screenshots of the main pages at desktop and phone widths, for the README.

    python -m ruche.web.screenshots [--out docs/screenshots] [--base-url URL] [--email E]

Run it on a database with data (after `ruche demo`). Without --base-url it serves the app
itself, in this process, on a free local port (static files included, no collectstatic). It
signs in as the first admin by writing a session directly (no password needed), opens the
board of the first pipeline, the open deal with the most lines, the deals list, the dashboard
and the settings, and saves
<page>-desktop.png and <page>-phone.png for each. Chromium is Debian's /usr/bin/chromium."""

import argparse
import os
from pathlib import Path

WIDTHS = {"desktop": (1440, 900), "phone": (390, 844)}
CHROMIUM = "/usr/bin/chromium"


def _session_cookie(email: str | None) -> tuple[str, str]:
    from django.conf import settings
    from django.test import Client

    from ruche.accounts.models import User

    users = User.objects.filter(is_active=True)
    user = users.get(email=email) if email else users.filter(role=User.Role.ADMIN).first()
    if user is None:
        raise SystemExit("No admin user: run `ruche demo` first or pass --email.")
    client = Client()
    client.force_login(user)
    return settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value


def _pages() -> dict[str, str]:
    from django.db.models import Count

    from ruche.pipelines.models import Deal
    from ruche.pipelines.selectors import pipeline_list

    pipeline = pipeline_list().first()
    deal = (
        Deal.objects.filter(is_deleted=False, status="open")
        .annotate(line_count=Count("lines"))
        .order_by("-line_count", "id")
        .first()
    )
    pages = {"board": f"/pipelines/{pipeline.pk}/board/" if pipeline else "/"}
    if deal is not None:
        pages["deal"] = f"/deals/{deal.pk}/"
    pages["deals"] = "/deals/"
    pages["dashboard"] = "/dashboard/"
    pages["settings"] = "/settings/pipelines/"
    return pages


def _serve_in_background() -> str:
    """The app on 127.0.0.1 and a free port, in a daemon thread; its base URL."""
    import socket
    import threading

    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedWSGIServer(("127.0.0.1", port), QuietHandler, allow_reuse_address=True)
    server.set_app(StaticFilesHandler(get_wsgi_application()))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="a running Ruche (default: serve one in-process)")
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--email", help="sign in as this user (default: the first admin)")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from playwright.sync_api import sync_playwright

    name, value = _session_cookie(args.email)
    pages = _pages()
    base_url = args.base_url or _serve_in_background()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
        )
        for width_name, (width, height) in WIDTHS.items():
            context = browser.new_context(
                base_url=base_url,
                viewport={"width": width, "height": height},
                device_scale_factor=1,
                locale="fr-FR",
            )
            context.add_cookies([{"name": name, "value": value, "url": base_url}])
            page = context.new_page()
            for page_name, path in pages.items():
                page.goto(path)
                page.wait_for_load_state("networkidle")
                target = out / f"{page_name}-{width_name}.png"
                page.screenshot(path=str(target), full_page=page_name != "board")
                print(target)
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
