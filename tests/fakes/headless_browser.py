"""A stand-in for a browser, for $BROWSER: follows the authorization URL with an HTTP client.

    BROWSER="python headless_browser.py %s"   (the log file is $HEADLESS_BROWSER_LOG)

Appends URL to the log file, then GETs it and follows the redirects, as a browser does once the
person has approved: the authorization server's redirect lands on the agent's 127.0.0.1 listener.
Only loopback URLs (127.0.0.1, localhost) are followed.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit


def main() -> int:
    log, url = os.environ["HEADLESS_BROWSER_LOG"], sys.argv[1]
    with open(log, "a", encoding="utf-8") as f:
        f.write(url + "\n")
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
        return 2
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
    except urllib.error.HTTPError as e:
        print(f"headless browser: HTTP {e.code} for {url}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
