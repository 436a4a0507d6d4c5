"""The web app in a real browser, as a person uses it: Debian's Chromium against ``docstore serve``."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from domain.plans import LIMIT_BYTES, Plan
from tests.client import PASSWORD, Api, User
from tests.serving import docstore
from tests.workers.files import pdf_file

PHONE = {"width": 390, "height": 844}


def sign_up(page: Page, url: str) -> User:
    email = f"web-{uuid.uuid4().hex[:12]}@example.com"
    page.goto(url)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    token = page.evaluate("localStorage.getItem('docstore.token')")
    me = Api(url).data("Me", token=token)["me"]
    assert me["email"] == email
    return User(token=token, id=me["id"], email=email)


def drop(page: Page, content: bytes, name: str, content_type: str) -> None:
    """Drop one file on the drop zone, as a file dragged from the desktop arrives."""
    transfer = page.evaluate_handle(
        """([bytes, name, type]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], name, { type }));
            return transfer;
        }""",
        [list(content), name, content_type],
    )
    page.get_by_test_id("drop-zone").dispatch_event("drop", {"dataTransfer": transfer})


def upload_row(page: Page, name: str) -> Any:
    return page.get_by_role("list", name="Uploads").get_by_role("listitem").filter(has_text=name)


def listed(page: Page) -> list[str]:
    return page.get_by_role("list", name="Documents").locator("li.document .name").all_inner_texts()


def test_a_person_uploads_a_pdf_finds_it_by_a_word_inside_downloads_and_deletes_it(
    server: tuple[str, Path], browser: Browser, shots: Any, tmp_path: Path
) -> None:
    url, _ = server
    pdf = pdf_file(tmp_path / "report.pdf", "Quarterly report", "The zebrafish colony grew by a third.").read_bytes()
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(url)
    shots(page, "sign-in")
    user = sign_up(page, url)

    drop(page, pdf, "quarterly-report.pdf", "application/pdf")

    # completeUpload answers PROCESSING; only the subscription's DocumentReady can say Ready here.
    row = upload_row(page, "quarterly-report.pdf")
    expect(row.locator(".status")).to_have_text("Ready")
    expect(row.get_by_role("progressbar", name="Upload of quarterly-report.pdf")).to_have_attribute("value", "1")
    document = page.get_by_role("listitem", name="quarterly-report.pdf")
    expect(document.locator(".status")).to_have_text("Ready")
    expect(document.locator(".meta")).to_contain_text(f"application/pdf · {len(pdf) / 1024:.1f} KB")
    # DocumentReady said it has a thumbnail: the list is read again and shows the small one, loaded.
    thumbnail = document.locator("img.thumbnail")
    expect(thumbnail).to_have_attribute("src", re.compile(r"/thumbnails/[0-9a-f]{64}/256\.webp\?"))
    page.wait_for_function("(image) => image.complete && image.naturalHeight === 256", arg=thumbnail.element_handle())
    document.get_by_role("button", name="Preview quarterly-report.pdf").click()
    preview = document.get_by_role("img", name="Preview of quarterly-report.pdf")
    expect(preview).to_have_attribute("src", re.compile(r"/thumbnails/[0-9a-f]{64}/1024\.webp\?"))
    page.wait_for_function("(image) => image.complete && image.naturalHeight === 1024", arg=preview.element_handle())
    document.get_by_role("button", name="Hide the preview of quarterly-report.pdf").click()
    expect(preview).to_have_count(0)
    expect(page.get_by_role("meter", name="Storage used")).to_have_attribute("aria-valuenow", "0")
    shots(page, "documents")

    page.get_by_role("button", name="Plan").click()
    page.get_by_role("button", name="Switch to PREMIUM").click()
    expect(page.get_by_role("status")).to_have_text(
        "You are on PREMIUM now. Your documents' text is being indexed for search."
    )
    expect(page.locator("header .who")).to_have_text(f"{user.email} · PREMIUM plan")
    shots(page, "plan")

    page.get_by_role("button", name="Search").click()
    page.get_by_label("Search query").fill("zebrafish")
    results = page.get_by_role("list", name="Search results")
    # The plan's backfill indexes the PDF's text after the switch: search again until it has.
    deadline = time.monotonic() + 60
    while True:
        page.get_by_role("button", name="Search", exact=True).last.click()
        page.wait_for_load_state("networkidle")
        if results.get_by_role("listitem", name="quarterly-report.pdf").count() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    hit = results.get_by_role("listitem", name="quarterly-report.pdf")
    # The snippet is cut from the extracted text, where a form feed parts the pages.
    snippet = "content: Quarterly report … The zebrafish colony grew by a third"
    expect(hit.locator(".highlights li")).to_have_text([snippet])
    expect(hit.locator(".snippet b")).to_have_text(["zebrafish"])
    shots(page, "search")

    with page.expect_download() as downloading:
        hit.get_by_role("button", name="Download quarterly-report.pdf").click()
    download = downloading.value
    assert download.suggested_filename == "quarterly-report.pdf"
    assert Path(download.path()).read_bytes() == pdf

    page.get_by_role("button", name="Documents").click()
    document.get_by_role("button", name="Edit quarterly-report.pdf").click()
    editing = page.get_by_role("form", name="Edit quarterly-report.pdf")
    editing.get_by_label("Name").fill("zebrafish-q3.pdf")
    editing.get_by_label("Tags (comma separated)").fill("reports, fish")
    editing.get_by_label("Description").fill("The third quarter's report.")
    editing.get_by_role("button", name="Save").click()
    document = page.get_by_role("listitem", name="zebrafish-q3.pdf")
    expect(document.locator(".tag")).to_have_text(["reports", "fish"])
    expect(document.locator(".description")).to_have_text("The third quarter's report.")
    document_id = Api(url).data("Documents", token=user.token)["documents"]["edges"][0]["node"]["id"]
    saved = Api(url).data("Document", {"id": document_id}, user.token)["document"]
    assert (saved["name"], saved["tags"], saved["description"]) == (
        "zebrafish-q3.pdf",
        ["reports", "fish"],
        "The third quarter's report.",
    )
    page.get_by_label("Tags", exact=True).fill("fish")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_load_state("networkidle")
    assert listed(page) == ["zebrafish-q3.pdf"]
    page.get_by_label("Tags", exact=True).fill("cats")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text("No documents match these filters.")).to_be_visible()
    page.get_by_role("button", name="Clear").click()

    document.get_by_role("button", name="Delete zebrafish-q3.pdf").click()
    confirm = page.get_by_role("alertdialog", name="Delete zebrafish-q3.pdf?")
    expect(confirm).to_contain_text("This cannot be undone.")
    confirm.get_by_role("button", name="Delete for good").click()

    expect(page.get_by_text("No documents here yet.")).to_be_visible()
    assert Api(url).data("Documents", token=user.token)["documents"]["edges"] == []
    context.close()


def test_an_upload_over_the_quota_says_so_and_stores_nothing(
    server: tuple[str, Path], browser: Browser, shots: Any
) -> None:
    url, _ = server
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    user = sign_up(page, url)
    limit = LIMIT_BYTES[Plan.FREE]
    # Another upload in progress holds all but 10 bytes of the plan.
    assert Api(url).request_upload(user, size=limit - 10)["__typename"] == "UploadForm"

    drop(page, b"x" * 100, "too-much.txt", "text/plain")

    expect(upload_row(page, "too-much.txt").get_by_role("alert")).to_have_text(
        f"Uploading 100 bytes would pass the plan's limit of {limit} bytes (0 used, {limit - 10} reserved by "
        "uploads in progress)."
    )
    expect(page.get_by_text("No documents here yet.")).to_be_visible()
    shots(page, "over-quota-phone")
    assert Api(url).data("Documents", token=user.token)["documents"]["edges"] == []
    assert Api(url).usage(user)["usedBytes"] == 0
    context.close()


def test_two_accounts_side_by_side_each_see_only_their_own_documents_and_events(
    server: tuple[str, Path], browser: Browser, tmp_path: Path
) -> None:
    url, _ = server
    pages = {}
    for name in ("alpha", "beta"):
        context = browser.new_context()
        pages[name] = context.new_page()
        sign_up(pages[name], url)
    contents = {"alpha": b"alpha's notes\n" * 100, "beta": b"beta's list\n"}
    for name, page in pages.items():
        path = tmp_path / f"{name}.txt"
        path.write_bytes(contents[name])
        page.get_by_label("Choose files").set_input_files(path)  # the file picker, this time

    for name, page in pages.items():
        expect(upload_row(page, f"{name}.txt").locator(".status")).to_have_text("Ready")
        expect(page.get_by_role("listitem", name=f"{name}.txt").locator(".status")).to_have_text("Ready")
    for name, page in pages.items():
        other = "beta" if name == "alpha" else "alpha"
        assert listed(page) == [f"{name}.txt"]
        assert f"{other}.txt" not in page.inner_text("body")
        # Each meter counts its own account's bytes only: beta's 12 bytes, alpha's 1,400.
        used = {"alpha": "1.4 KB", "beta": "12 bytes"}[name]
        expect(page.locator(".quota p")).to_have_text(f"{used} of 5.0 GB used (0 %)")
    for page in pages.values():
        page.context.close()


def run_in_graphiql(page: Page, query: str) -> None:
    editor = page.locator(".graphiql-query-editor .monaco-editor").first
    editor.click()
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(query)  # typed keys would get Monaco's closing brackets too
    page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()


def test_graphiql_works_from_the_servers_own_assets_with_the_token_entered_once(
    server: tuple[str, Path], browser: Browser, shots: Any
) -> None:
    url, _ = server
    context = browser.new_context()
    asked_elsewhere: list[str] = []
    context.on("request", lambda request: request.url.startswith(url) or asked_elsewhere.append(request.url))
    page = context.new_page()
    user = sign_up(page, url)  # the web app's session: GraphiQL's Headers tab starts with its token

    page.goto(f"{url}/graphql")
    run_in_graphiql(page, "{ me { email plan } }")
    response = page.locator(".graphiql-response")
    expect(response).to_contain_text(f'"email": "{user.email}"')

    run_in_graphiql(page, "subscription { documentEvents { __typename ... on Event { documentId } } }")
    page.wait_for_load_state("networkidle")
    document = Api(url).upload(user, b"for the subscription\n", filename="live.txt")
    # The same headers went with the subscription's connection_init: its events arrive.
    expect(response).to_contain_text('"__typename": "DocumentReady"')
    expect(response).to_contain_text(f'"documentId": "{document["id"]}"')
    shots(page, "graphiql", mask=[page.locator(".graphiql-editor-tool .monaco-editor")])
    assert asked_elsewhere == []
    context.close()


def test_an_administrator_sees_the_dashboard_with_its_charts(
    server: tuple[str, Path], browser: Browser, shots: Any
) -> None:
    url, data_dir = server
    context = browser.new_context()
    page = context.new_page()
    user = sign_up(page, url)
    expect(page.get_by_role("button", name="Plan")).to_be_visible()
    assert page.get_by_role("button", name="Dashboard").count() == 0
    granted = docstore("admin", "grant", user.email, "--data-dir", str(data_dir))
    assert granted.returncode == 0, granted.stderr

    page.reload()
    page.get_by_role("button", name="Dashboard").click()

    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    charts = page.get_by_role("img")
    expect(charts).to_have_count(5)
    expect(charts.first).to_have_attribute("aria-label", re.compile(r"^Accounts per plan: FREE \d+, PREMIUM \d+$"))
    expect(page.get_by_role("table", name="Queues")).to_be_visible()
    shots(page, "dashboard")
    context.close()


def test_the_quota_warning_arrives_live_when_an_upload_crosses_80_percent(
    live_url: str, browser: Browser, shots: Any
) -> None:
    # The session's in-process server, whose DynamoDB this test may write to: the account starts 50
    # bytes short of 80 % of its plan, as if it held that much already.
    from models.accounts import Account

    limit = LIMIT_BYTES[Plan.FREE]
    held = limit * 8 // 10 - 50
    context = browser.new_context()
    page = context.new_page()
    user = sign_up(page, live_url)
    Account(id=user.id).update(actions=[Account.used_bytes.set(held), Account.allocated_bytes.add(held)])
    page.reload()
    meter = page.get_by_role("meter", name="Storage used")
    expect(meter).to_have_attribute("aria-valuenow", "79")
    expect(page.locator(".quota")).to_have_class("quota ")
    expect(page.get_by_role("alert")).to_have_count(0)

    drop(page, b"one hundred bytes " * 5 + b"0123456789", "crossing.txt", "text/plain")

    expect(page.get_by_role("alert")).to_have_text("You have used 80 % of your storage.")
    expect(meter).to_have_attribute("aria-valuenow", "80")
    expect(page.locator(".quota")).to_have_class("quota warn")
    expect(page.locator(".quota p")).to_have_text("4.0 GB of 5.0 GB used (80 %)")
    shots(page, "quota-warning")
    page.get_by_role("button", name="Dismiss").click()
    expect(page.get_by_role("alert")).to_have_count(0)
    context.close()


UNNAMED_CONTROLS = """() => [...document.querySelectorAll(
    'button, input, select, textarea, a[href], progress, [role=meter], [role=alertdialog], [role=img]'
)].filter((control) => {
    const labelledBy = control.getAttribute('aria-labelledby');
    const name = control.getAttribute('aria-label')
        || (labelledBy && document.getElementById(labelledBy)?.textContent)
        || [...(control.labels || [])].map((label) => label.textContent).join('')
        || (['BUTTON', 'A'].includes(control.tagName) && control.textContent)
        || '';
    return !name.trim();
}).map((control) => control.outerHTML.slice(0, 120))"""


def unnamed_controls(page: Page) -> list[str]:
    """Every control on the screen that has no accessible name."""
    return page.evaluate(UNNAMED_CONTROLS)


def tab_to(page: Page, text: str) -> None:
    """Press Tab until the control whose text or name is ``text`` has the focus (if it has not)."""
    for _ in range(80):
        focused = page.evaluate(
            "(element => element.getAttribute('aria-label') || element.labels?.[0]?.innerText || element.innerText)"
            "(document.activeElement)"
        )
        if focused == text:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {text!r}")


def test_everything_works_from_the_keyboard_and_every_control_has_a_name(
    server: tuple[str, Path], browser: Browser, tmp_path: Path
) -> None:
    url, _ = server
    email = f"keys-{uuid.uuid4().hex[:12]}@example.com"
    page = browser.new_context().new_page()
    page.goto(url)
    assert unnamed_controls(page) == []

    page.keyboard.press("Tab")
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    tab_to(page, "Sign up")
    page.keyboard.press("Enter")
    expect(page.locator("header .who")).to_have_text(f"{email} · FREE plan")
    assert unnamed_controls(page) == []

    tab_to(page, "Sign out")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("alert")).to_have_text("The email or the password is wrong.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.locator("header .who")).to_have_text(f"{email} · FREE plan")

    notes = tmp_path / "keys.txt"
    notes.write_text("typed without a mouse\n")
    tab_to(page, "Choose files")
    with page.expect_file_chooser() as choosing:
        page.keyboard.press("Space")
    choosing.value.set_files(notes)
    expect(upload_row(page, "keys.txt").locator(".status")).to_have_text("Ready")

    # A program named and typed as a PDF: no type DocStore stores, so refused by the pipeline, live.
    fake = tmp_path / "not-really.pdf"
    fake.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(120))
    page.get_by_label("Choose files").set_input_files(fake)
    row = upload_row(page, "not-really.pdf")
    expect(row.locator(".status")).to_have_text("Failed: the file is not what its type says")
    page.reload()  # the reason now comes from the list (refused documents are not stored ones)
    page.get_by_label("Status").select_option(label="Refused")
    page.get_by_role("button", name="Apply filters").click()
    refused = page.get_by_role("listitem", name="not-really.pdf")
    expect(refused.locator(".status")).to_have_text("Refused: the file is not what its type says")
    assert refused.get_by_role("button").count() == 0  # nothing can be done with a refused upload
    tab_to(page, "Clear")
    page.keyboard.press("Enter")

    tab_to(page, "Edit keys.txt")
    page.keyboard.press("Enter")
    assert unnamed_controls(page) == []
    page.keyboard.press("Tab")
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("renamed.txt")
    tab_to(page, "Save")
    page.keyboard.press("Enter")
    expect(page.get_by_role("listitem", name="renamed.txt")).to_be_visible()
    for section in ("Search", "Plan"):
        tab_to(page, section)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name=section, exact=True)).to_be_visible()
        assert unnamed_controls(page) == []
    page.context.close()
