"""`/docs` and `/redoc` render and work in a real headless Chromium, with no network at all.

The service runs as a real uvicorn process; the browser gets no route to anything but
127.0.0.1, so a page that needed a CDN would stay blank. The Swagger UI test logs in through
"Authorize" (the OAuth2 password form) and runs "Try it out" on `GET /users/me`.
"""

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver import Chrome as WebDriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from tests.support import databases
from tests.support.accounts import PASSWORD
from tests.support.api import register
from tests.support.migrations import migrated_database
from tests.support.servers import running_service

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WAIT_SECONDS = 30


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        databases.unavailable("chromium and chromedriver are not installed (apt: chromium-driver)")
    with tempfile.TemporaryDirectory(prefix="inkwell-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1400,1100",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(options=options, service=ChromeService(CHROMEDRIVER))
        try:
            yield driver
        finally:
            driver.quit()


REDOC_POWERED_BY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
"""ReDoc's "powered by" footer always tries this remote image (it hides itself when the image
fails): the docs CSP blocks it, which is the one console error the page may show."""


def _console_errors(driver: WebDriver) -> list[str]:
    entries = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [
        e["message"]
        for e in entries
        if e["level"] == "SEVERE" and REDOC_POWERED_BY_LOGO not in e["message"]
    ]


def _click(driver: WebDriver, element: WebElement) -> None:
    """Scrolled into view and clicked like a user would (a real click, not a JS call)."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    WebDriverWait(driver, WAIT_SECONDS).until(lambda _: element.is_displayed())
    element.click()


def _swagger_login_and_try_me(driver: WebDriver, url: str, username: str) -> str:
    wait = WebDriverWait(driver, WAIT_SECONDS)
    driver.get(f"{url}/docs")
    path = "//span[@data-path='/api/v1/users/me']/ancestor::div[contains(@class,'opblock-get')]"
    operation = wait.until(ready.presence_of_element_located((By.XPATH, path)))
    assert len(driver.find_elements(By.CSS_SELECTOR, ".opblock")) > 20
    _click(driver, driver.find_element(By.CSS_SELECTOR, "button.authorize"))
    wait.until(ready.visibility_of_element_located((By.ID, "oauth_username"))).send_keys(username)
    driver.find_element(By.ID, "oauth_password").send_keys(PASSWORD)
    _click(driver, driver.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper button.authorize"))
    # Logged in once the form shows "Logout" (the token request ran argon2); then close it.
    logout = "//div[contains(@class,'auth-btn-wrapper')]/button[normalize-space()='Logout']"
    wait.until(ready.presence_of_element_located((By.XPATH, logout)))
    done = (By.CSS_SELECTOR, ".auth-btn-wrapper .btn-done")
    _click(driver, wait.until(ready.element_to_be_clickable(done)))
    wait.until(ready.invisibility_of_element_located((By.CSS_SELECTOR, ".dialog-ux")))
    _click(driver, operation.find_element(By.CSS_SELECTOR, ".opblock-summary-control"))
    _click(driver, wait.until(lambda _: operation.find_element(By.CSS_SELECTOR, ".try-out__btn")))
    _click(driver, wait.until(lambda _: operation.find_element(By.CSS_SELECTOR, "button.execute")))
    status = wait.until(
        lambda _: operation.find_element(
            By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"
        )
    )
    body = operation.find_element(By.CSS_SELECTOR, ".live-responses-table .microlight").text
    return f"{status.text.strip()} {body}"


async def test_swagger_ui_renders_offline_and_try_it_out_works(
    browser: WebDriver, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'docs.db'}"
    await migrated_database(url)
    async with running_service(url, tmp_path / "service.log") as service:
        async with httpx.AsyncClient(base_url=service.url) as client:
            await register(client, "docs_reader")
        result = await asyncio.to_thread(
            _swagger_login_and_try_me, browser, service.url, "docs_reader"
        )
        errors = _console_errors(browser)
    assert result.startswith("200"), result
    assert '"username": "docs_reader"' in result
    assert errors == []


def _redoc_titles(driver: WebDriver, url: str) -> list[str]:
    driver.get(f"{url}/redoc")
    wait = WebDriverWait(driver, WAIT_SECONDS)
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "h1")))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "[role=menuitem]")) > 20)
    return [h.text for h in driver.find_elements(By.CSS_SELECTOR, "h1")]


async def test_redoc_renders_offline(browser: WebDriver, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'redoc.db'}"
    await migrated_database(url)
    async with running_service(url, tmp_path / "service.log") as service:
        titles = await asyncio.to_thread(_redoc_titles, browser, service.url)
        errors = _console_errors(browser)
    assert any(t.startswith("Inkwell") for t in titles), titles
    assert errors == []
