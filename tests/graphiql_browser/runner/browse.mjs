// Open mlmeta's GraphiQL in Debian's chromium with every non-loopback request blocked,
// run a query the way a user does, save a screenshot, and print what happened as JSON.
//
//   node browse.mjs <page url> <screenshot.png>
//
// Environment: MLMETA_CHROMIUM (default /usr/bin/chromium).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [pageUrl, screenshotPath] = process.argv.slice(2);
const QUERY = "query Viewer { viewer { kind } }";
const TIMEOUT_MS = 30_000;

// The flags Chromium needs on these machines: root without a sandbox, no GPU, and no
// background calls home (the closed network refuses them, many at a time).
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

const report = {
  requests: [],
  blocked: [],
  failed: [],
  consoleErrors: [],
  pageErrors: [],
};

const profile = mkdtempSync(join(tmpdir(), "mlmeta-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.MLMETA_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: FLAGS,
  viewport: { width: 1440, height: 900 },
});
try {
  // Offline: only the gateway on loopback answers; anything else is aborted and recorded.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (new URL(url).hostname === "127.0.0.1") return route.continue();
    report.blocked.push(url);
    return route.abort("internetdisconnected");
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(TIMEOUT_MS);
  page.on("request", (request) => report.requests.push(request.url()));
  page.on("requestfailed", (request) => report.failed.push(request.url()));
  page.on("console", (message) => {
    if (message.type() === "error") report.consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => report.pageErrors.push(String(error)));

  const response = await page.goto(pageUrl, { waitUntil: "load" });
  report.status = response.status();
  report.csp = response.headers()["content-security-policy"] ?? null;
  const editor = page.locator(".graphiql-query-editor .CodeMirror");
  await editor.waitFor();
  // The docs and schema are fetched by introspection; wait until the explorer has them.
  await page.getByRole("button", { name: "Show GraphiQL Explorer" }).click();
  await page.locator(".graphiql-explorer-root").getByText("viewer").first().waitFor();

  report.tabs = await page.locator(".graphiql-tab").allInnerTexts();
  report.headersEditor = await page.locator(".graphiql-editor-tool").innerText();
  report.footer = await page.locator(".graphiql-footer").innerText();

  // A new tab, a query typed in, Ctrl-Enter: as a user runs it.
  await page.getByRole("button", { name: "Add tab" }).click();
  await editor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(QUERY);
  // GraphiQL reads the edit after a debounce; the tab takes the operation's name then.
  await page.locator(".graphiql-tab").getByText("Viewer", { exact: true }).waitFor();
  await page.keyboard.press("Control+Enter");
  const result = page.locator(".graphiql-response");
  await result.getByText('"ANONYMOUS"').waitFor();
  report.resultText = await result.innerText();
  report.tabsAfter = await page.locator(".graphiql-tab").allInnerTexts();

  await page.screenshot({ path: screenshotPath, fullPage: true });
} catch (error) {
  // What the page looked like, and what happened until then, for the failure message.
  const page = context.pages()[0];
  if (page) await page.screenshot({ path: `${screenshotPath}.failed.png` }).catch(() => {});
  process.stderr.write(`${JSON.stringify(report, null, 1)}\n`);
  throw error;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(report));
