"""The sandbox in a real headless Chromium: an employee answers and comments in Swedish and
switches his Slack to English, the owner
checks the status and advances past a failing gate with a reason, the champions are told, and
the digest arrives in #leads with its chart."""

from __future__ import annotations

import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from sandbox import seed
from sandbox.app import Sandbox, running

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
INSTALLED = Path(CHROMIUM).exists()
# Without the background-networking flags Chromium keeps reaching for Google's hosts, which this
# closed network refuses.
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
EMPLOYEE = "U0GUSTAV07"  # in the beta cohort (early-adopters), so today's NPS survey reached him
TIMEOUT = 15_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[tuple[Sandbox, str]]:
    async with running(tmp_path / "sandbox.db", "127.0.0.1", free_port()) as started:
        yield started


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not INSTALLED:
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: .ci/run installs Debian's chromium package")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        await launched.close()


async def be(page: Page, user: str) -> None:
    # Choosing who to be opens their Home: wait for that, not for the title (the page starts on the
    # Home already), or a click made meanwhile is undone when the Home opens after it.
    async with page.expect_response(lambda r: "/api/open-home" in r.url, timeout=TIMEOUT):
        await page.select_option("[data-testid=viewer]", user)
    await expect(page.locator("[data-testid=title]")).to_have_text("Home — Rollout Pulse", timeout=TIMEOUT)


async def test_the_whole_product_in_a_browser(sandbox: tuple[Sandbox, str], browser: Browser) -> None:
    box, address = sandbox
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(address)

    # An employee whose Slack is set to Swedish answers today's NPS survey in the DM, in Swedish,
    # then adds a comment in the modal.
    await be(page, EMPLOYEE)
    await expect(page.locator("[data-testid=locale]")).to_have_value("sv-SE")
    await page.click("[data-testid=dm-bot]")
    messages = page.locator("[data-testid=messages]")
    await expect(messages).to_contain_text(
        "Hur troligt är det att du skulle rekommendera Expense tool", timeout=TIMEOUT
    )
    await messages.locator("button[data-action=survey_answer_8]").last.click()
    await expect(messages).to_contain_text("Tack – du svarade 8", timeout=TIMEOUT)
    await messages.get_by_role("button", name="Lägg till en kommentar").last.click()
    modal = page.locator("[data-testid=modal]")
    await expect(modal).to_be_visible(timeout=TIMEOUT)
    await expect(modal).to_contain_text("Din kommentar", timeout=TIMEOUT)
    await page.fill("[data-testid=input-comment]", "The receipt scanner <b>rocks</b> & saves me time")
    await page.click("[data-testid=modal-submit]")
    await expect(modal).to_be_hidden(timeout=TIMEOUT)
    await expect(messages).to_contain_text("Kommentaren är sparad", timeout=TIMEOUT)
    assert await box.store.fetch_value("SELECT count(*) FROM comments WHERE body LIKE 'The receipt scanner%'") == 1

    # He sets his Slack to English on the page: the bot answers him in English from then on.
    await page.fill("[data-testid=composer]", "/pulse help")
    await page.keyboard.press("Enter")
    await expect(messages).to_contain_text("Mät ett införande", timeout=TIMEOUT)
    await page.select_option("[data-testid=locale]", "en-US")
    await expect(page.locator("[data-testid=locale]")).to_have_value("en-US", timeout=TIMEOUT)
    await page.fill("[data-testid=composer]", "/pulse help")
    await page.keyboard.press("Enter")
    await expect(messages).to_contain_text("Measure a rollout with NPS", timeout=TIMEOUT)

    # The owner asks for the status, then advances past a failing gate with a reason.
    await be(page, seed.OWNER)
    await page.click("[data-testid=dm-bot]")
    await page.fill("[data-testid=composer]", "/rollout status expense-tool")
    await page.keyboard.press("Enter")
    await expect(messages).to_contain_text("alpha ✓ → beta → ga", timeout=TIMEOUT)
    await expect(messages).to_contain_text("Only visible to you", timeout=TIMEOUT)
    await page.fill("[data-testid=composer]", "/rollout advance expense-tool")
    await page.keyboard.press("Enter")
    await expect(messages).to_contain_text("cannot move into ga yet", timeout=TIMEOUT)
    await messages.get_by_role("button", name="Advance anyway").last.click()
    await expect(modal).to_contain_text("Advance anyway", timeout=TIMEOUT)
    await page.click("[data-testid=modal-submit]")  # no reason yet
    await expect(page.locator("[data-testid=error-reason]")).to_contain_text("Give a reason", timeout=TIMEOUT)
    await page.fill("[data-testid=input-reason]", "Finance signed off; CSAT dip is the known onboarding gap")
    await page.click("[data-testid=modal-submit]")
    await expect(modal).to_be_hidden(timeout=TIMEOUT)
    await expect(messages).to_contain_text("moved beta → ga", timeout=TIMEOUT)

    # A champion has been told, by DM.
    await be(page, seed.CHAMPIONS[0])
    await page.click("[data-testid=dm-bot]")
    await expect(messages).to_contain_text("Expense tool: beta → ga", timeout=TIMEOUT)
    await expect(messages).to_contain_text("Finance signed off", timeout=TIMEOUT)

    # The admin posts the digest and sees it, with its chart, in #leads.
    await be(page, seed.ADMIN)
    await page.click("[data-testid=post-digest]")
    await page.click("[data-testid=channel-leads]")
    await expect(messages).to_contain_text("Rollout Pulse digest", timeout=TIMEOUT)
    chart = messages.locator("[data-testid=file-image]").last
    await expect(chart).to_be_visible(timeout=TIMEOUT)
    assert await chart.evaluate("img => img.naturalWidth") > 300
    assert errors == []


async def test_message_text_cannot_inject_markup(sandbox: tuple[Sandbox, str], browser: Browser) -> None:
    _box, address = sandbox
    page = await browser.new_page()
    await page.goto(address)
    await be(page, EMPLOYEE)
    await page.click("[data-testid=channel-general]")
    await page.fill(
        "[data-testid=composer]", '<img src=x onerror="window.pwned=1"> *bold* <script>window.pwned=2</script>'
    )
    await page.keyboard.press("Enter")
    messages = page.locator("[data-testid=messages]")
    await expect(messages).to_contain_text("<img src=x", timeout=TIMEOUT)
    assert await page.evaluate("window.pwned") is None
    assert await messages.locator("img").count() == 0
    await expect(messages.locator("b").last).to_have_text("bold")
