// Open the mlmeta portal (a real Backstage with the mlmeta plugin) in Debian's chromium,
// sign in as a guest, visit each view of a plan, check what is on screen, save full-page
// screenshots, and print what happened as JSON.
//
//   node portal.mjs <plan.json>
//
// The plan (written by tests/portal_browser/test_portal.py):
//   { baseUrl, outDir, themes: ["light", "dark"],
//     views: [{ name, path, expect: [text, ...], watch?: {selector, timeoutMs},
//               readyWhen?: [selector, ...], hover?: selector, hoverRead?: selector,
//               settleMs? }] }
// A view reports the texts and selectors it did not find (`missing`), whether the watched
// element changed while looked at (`changed`), the page's text and its screenshot.
// playwright-core is the one tests/graphiql_browser installs (PLAYWRIGHT_CORE names its
// index.mjs); the browser is the machine's (MLMETA_CHROMIUM, default /usr/bin/chromium).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const { chromium } = await import(process.env.PLAYWRIGHT_CORE);
const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const TIMEOUT_MS = plan.timeoutMs ?? 45_000;
const VIEWPORT = { width: 1440, height: 900 };
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

const report = { themes: {}, blocked: [], failed: [], consoleErrors: [], pageErrors: [], websockets: [] };

async function signIn(page) {
  await page.goto(plan.baseUrl, { waitUntil: "load" });
  // Backstage's SignInPage with the guest provider: one card, one "Enter" button; once
  // signed in, the sidebar's Catalog link.
  const enter = page.getByRole("button", { name: "Enter" });
  const sidebar = page.getByRole("link", { name: "Catalog" });
  await enter.or(sidebar).first().waitFor();
  if (await enter.isVisible()) {
    await enter.click();
    await sidebar.first().waitFor();
  }
  report.signedIn = true;
}

async function visit(page, theme, view) {
  const started = Date.now();
  const result = { path: view.path, missing: [], changed: null };
  await page.goto(new URL(view.path, plan.baseUrl).href, { waitUntil: "load" });
  for (const text of view.expect ?? []) {
    try {
      await page.getByText(text, { exact: false }).first().waitFor({ timeout: TIMEOUT_MS });
    } catch {
      result.missing.push(text);
    }
  }
  if (view.watch) {
    // Something drawn from live data: its markup must change while we look (the run moves).
    const target = page.locator(view.watch.selector).first();
    try {
      await target.waitFor({ timeout: TIMEOUT_MS });
      const before = await target.evaluate((el) => el.outerHTML);
      const deadline = Date.now() + (view.watch.timeoutMs ?? 30_000);
      result.changed = false;
      while (Date.now() < deadline) {
        await page.waitForTimeout(500);
        if ((await target.evaluate((el) => el.outerHTML)) !== before) {
          result.changed = true;
          break;
        }
      }
    } catch (error) {
      result.watchError = String(error).split("\n")[0];
    }
  }
  // The whole page in the window: Backstage's sidebar is position:fixed, so a full-page
  // screenshot of a scrolled window draws it mid-page, and a hover needs the chart on screen.
  const fitWindow = async () => {
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    const size = { width: VIEWPORT.width, height: Math.min(Math.max(height, VIEWPORT.height), 8000) };
    if (size.height !== page.viewportSize().height) await page.setViewportSize(size);
    await page.evaluate(() => window.scrollTo(0, 0));
  };
  await fitWindow();
  for (const selector of view.readyWhen ?? []) {
    // Shown before the screenshot (e.g. a step drawn RUNNING: the live graph mid-run).
    try {
      const element = page.locator(selector).first();
      await element.waitFor({ timeout: TIMEOUT_MS });
      // In a scrolled box (a wide graph), brought into view for the screenshot.
      await element.scrollIntoViewIfNeeded();
    } catch {
      result.missing.push(selector);
    }
  }
  await fitWindow();
  if (view.hover) {
    // Charts animate when drawn and when resized, and cards loading above move them:
    // hover until the tooltip has text.
    for (let attempt = 0; attempt < 8 && !result.hoverText; attempt++) {
      try {
        await page.waitForTimeout(500);
        await fitWindow(); // cards loading above may have pushed the chart below the window
        await page.mouse.move(0, 0);
        const box = await page.locator(view.hover).first().boundingBox();
        if (box) await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 4 });
        await page.waitForTimeout(300);
        if (!view.hoverRead) break;
        result.hoverText = await page.locator(view.hoverRead).first().innerText();
      } catch (error) {
        result.hoverError = String(error).split("\n")[0];
      }
    }
  }
  if (view.settleMs) await page.waitForTimeout(view.settleMs);
  // The entity page's tabs (Backstage UI's header navigation).
  result.tabs = await page.locator(".bui-HeaderNavItem").allInnerTexts();
  result.text = await page.locator("main, #root").first().innerText();
  result.screenshot = join(plan.outDir, `${view.name}-${theme}.png`);
  await page.screenshot({ path: result.screenshot, fullPage: true });
  await page.setViewportSize(VIEWPORT);
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

for (const theme of plan.themes ?? ["light"]) {
  const profile = mkdtempSync(join(tmpdir(), "mlmeta-portal-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.MLMETA_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
    viewport: VIEWPORT,
    colorScheme: theme,
  });
  try {
    // Backstage keeps the chosen theme in localStorage under "theme".
    await context.addInitScript((t) => window.localStorage.setItem("theme", t), theme);
    // Offline: only loopback answers.
    await context.route("**/*", (route) => {
      const url = route.request().url();
      const host = new URL(url).hostname;
      if (host === "127.0.0.1" || host === "localhost" || url.startsWith("data:")) return route.continue();
      report.blocked.push(url);
      return route.abort("internetdisconnected");
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(TIMEOUT_MS);
    page.on("requestfailed", (r) => report.failed.push(`${r.url()} ${r.failure()?.errorText}`));
    page.on("console", (m) => {
      if (m.type() === "error") report.consoleErrors.push(`${theme}: ${m.text()}`);
    });
    page.on("pageerror", (e) => report.pageErrors.push(`${theme}: ${e}`));
    page.on("websocket", (ws) => report.websockets.push(ws.url()));
    await signIn(page);
    report.themes[theme] = {};
    for (const view of plan.views) {
      try {
        report.themes[theme][view.name] = await visit(page, theme, view);
      } catch (error) {
        const shot = join(plan.outDir, `${view.name}-${theme}.failed.png`);
        await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
        report.themes[theme][view.name] = { path: view.path, error: String(error), screenshot: shot };
      }
    }
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
process.stdout.write(JSON.stringify(report));
