import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeInBrowser, launchChromium, type LaunchedBrowser } from '../support/chromium';

describeInBrowser('the browser test launcher', () => {
  it('renders a page served on loopback and reads what its script wrote', async () => {
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end('<p id="out"></p><script>document.getElementById("out").textContent = String(6 * 7)</script>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    let launched: LaunchedBrowser | undefined;
    try {
      launched = await launchChromium();
      const page = await launched.browser.newPage();
      await page.goto(`http://127.0.0.1:${port}/`);
      expect(await page.textContent('#out')).toBe('42');
    } finally {
      await launched?.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
