"""GraphiQL in a real Chromium with no way out to the internet (issue: GraphiQL
was a blank "Loading…" page offline because its assets came from a CDN)."""

from __future__ import annotations

import json

from playwright.async_api import Page, expect

HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"


async def _set_editor(page: Page, selector: str, text: str) -> None:
    # GraphiQL's editors are CodeMirror instances; setting the value is what typing does.
    await page.locator(selector).first.evaluate("(el, text) => el.CodeMirror.setValue(text)", text)


async def test_graphiql_runs_a_query_and_shows_the_schema_offline(
    browser_page: Page, api_key, brand_a
):
    key = await api_key(brand_a, "read")
    page = browser_page
    await page.goto("/graphql")

    # The Headers tab is open and prefilled with the Authorization line to complete.
    await expect(page.locator(HEADERS_EDITOR)).to_contain_text("Authorization")
    await _set_editor(page, HEADERS_EDITOR, json.dumps({"Authorization": f"Bearer {key}"}))
    await _set_editor(page, ".graphiql-query-editor .CodeMirror", "{ brand { code } }")
    await page.locator(".graphiql-execute-button").click()
    await expect(page.locator(".graphiql-response")).to_contain_text('"code": "brand-a"')

    # The schema was first fetched with the placeholder key; fetch it again with the real one.
    await page.get_by_role("button", name="Re-fetch GraphQL schema").click()
    await page.get_by_role("button", name="Show Documentation Explorer").click()
    docs = page.locator(".graphiql-doc-explorer")
    await expect(docs).to_contain_text("Query")
    await docs.get_by_role("link", name="Query").first.click()
    await expect(docs).to_contain_text("brand")

    assert page.blocked == []  # type: ignore[attr-defined]
